//! Where each pair's evidence waits between its verdict and the report: a temporary file,
//! written as pairs are decided and read back one pair at a time when the JSON evidence is
//! written, so that memory holds a few bytes per pair instead of its probes (a fleet of
//! 100,000 projects has 100,000 pairs per token).
//!
//! What is written here is already redacted (the caller redacts the verdict first). The file
//! is removed as soon as it is open (on Unix; elsewhere when the audit ends).

use crate::sonar::{Verdict, VerdictKind};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::Mutex;

/// Where one pair's evidence is in the file.
#[derive(Debug, Clone, Copy)]
pub struct SpillRef {
    offset: u64,
    len: u32,
}

/// A pair's evidence as stored: what the JSON evidence prints of it.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct Stored {
    pub cause: String,
    pub next_step: String,
    /// The pair's own probes, as the evidence prints them.
    pub probes: serde_json::Value,
}

pub struct Spill {
    writer: BufWriter<File>,
    reader: Mutex<File>,
    at: u64,
    path: PathBuf,
    failed: Option<std::io::Error>,
}

impl Spill {
    pub fn new() -> std::io::Result<Spill> {
        let path = std::env::temp_dir().join(format!(
            "scantoken-audit-{}-{}.spill",
            std::process::id(),
            uuid::Uuid::new_v4()
        ));
        let writer = std::fs::OpenOptions::new()
            .create_new(true)
            .write(true)
            .open(&path)?;
        let reader = File::open(&path)?;
        // Unix keeps an open file readable after its name is gone.
        #[cfg(unix)]
        let _ = std::fs::remove_file(&path);
        Ok(Spill {
            writer: BufWriter::with_capacity(256 * 1024, writer),
            reader: Mutex::new(reader),
            at: 0,
            path,
            failed: None,
        })
    }

    /// Stores a pair's evidence; an error is kept for [`Spill::check`].
    pub fn put(&mut self, v: &Verdict) -> Option<SpillRef> {
        let stored = Stored {
            cause: v.cause.clone(),
            next_step: v.next_step.clone(),
            probes: serde_json::to_value(&v.probes).unwrap_or_default(),
        };
        let bytes = serde_json::to_vec(&stored).ok()?;
        if let Err(e) = self.writer.write_all(&bytes) {
            self.failed.get_or_insert(e);
            return None;
        }
        let r = SpillRef {
            offset: self.at,
            len: bytes.len() as u32,
        };
        self.at += bytes.len() as u64;
        Some(r)
    }

    /// Flushes what was stored; the first error while storing, if any.
    pub fn check(&mut self) -> std::io::Result<()> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        self.writer.flush()
    }

    /// A stored pair's evidence (after [`Spill::check`]).
    pub fn get(&self, r: SpillRef) -> std::io::Result<Stored> {
        let mut bytes = vec![0; r.len as usize];
        #[cfg_attr(unix, allow(unused_mut))]
        let mut file = self.reader.lock().expect("spill reader lock");
        // One read at the offset (pread) where the platform has it: a fleet's report reads
        // this file once per pair and project.
        #[cfg(unix)]
        std::os::unix::fs::FileExt::read_exact_at(&*file, &mut bytes, r.offset)?;
        #[cfg(not(unix))]
        {
            use std::io::{Read, Seek, SeekFrom};
            file.seek(SeekFrom::Start(r.offset))?;
            file.read_exact(&mut bytes)?;
        }
        serde_json::from_slice(&bytes).map_err(std::io::Error::other)
    }
}

impl Drop for Spill {
    fn drop(&mut self) {
        // Already gone on Unix; elsewhere the file goes now.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// One pair in memory: its verdict, where its evidence is, and, for a pair CI uses that
/// fails, the cause and next step the table, the Markdown and the findings print.
#[derive(Debug, Clone)]
pub struct PairRecord {
    pub kind: VerdictKind,
    /// The deadline came first (`not-checked`).
    pub not_checked: bool,
    pub stored: Option<SpillRef>,
    /// The cause and the next step, kept for a failing pair CI uses (boxed: most pairs have
    /// none, and a fleet has a pair per project and token).
    pub text: Option<Box<(String, String)>>,
}

impl PairRecord {
    /// Stores `v` (already redacted) and keeps what memory needs; `keep_text` for a pair
    /// whose cause a report line prints.
    pub fn store(spill: &mut Spill, v: Verdict, keep_text: bool) -> PairRecord {
        let not_checked =
            v.verdict == VerdictKind::Unreachable && v.cause.starts_with("the audit's deadline");
        let keep = keep_text && v.verdict != VerdictKind::Ok;
        PairRecord {
            kind: v.verdict,
            not_checked,
            stored: spill.put(&v),
            text: keep.then(|| Box::new((v.cause.clone(), v.next_step.clone()))),
        }
    }

    /// The verdict's name in the report (`not-checked` for the deadline's).
    pub fn name(&self) -> &'static str {
        if self.not_checked {
            super::probe::NOT_CHECKED
        } else {
            self.kind.name()
        }
    }

    pub fn cause(&self) -> &str {
        self.text.as_ref().map_or("", |t| t.0.as_str())
    }

    pub fn next_step(&self) -> &str {
        self.text.as_ref().map_or("", |t| t.1.as_str())
    }

    /// The server could not be asked: nothing is known.
    pub fn undecided(&self) -> bool {
        self.kind.exit() == crate::error::Exit::Unreachable
    }
}
