//! Bounded reads: every file scantoken reads and every HTTP body it receives goes through
//! this module, so no input can make it allocate past a known cap or wait forever.
//!
//! Files: a path is followed through its symlinks and must end at a regular file (a FIFO, a
//! device such as `/dev/zero`, a socket or a directory is refused before it is read); it is
//! opened without blocking (`O_NONBLOCK` on Unix, so even a FIFO swapped in after the check
//! cannot hold the open), checked again on the open handle, and read to at most cap + 1
//! bytes, the extra byte telling "exactly the cap" from "more". Every error names the file
//! and where its path came from, and is a configuration error (exit 2).
//!
//! HTTP bodies: read chunk by chunk up to a cap; a body past it (or a `Content-Length` past
//! it) is a [`BodyError::TooLarge`], which the callers turn into a verdict that says so.

use crate::error::ConfigError;
use std::io::Read;
use std::path::Path;

/// The largest body any answer scantoken reads may have: Sonar's and Vault's answers, and a
/// CI's OIDC token answer, are a few kilobytes.
pub const BODY_CAP: usize = 64 * 1024;

/// `64 KiB`, `1 MiB`: caps as a person reads them.
pub fn size(bytes: usize) -> String {
    if bytes >= 1 << 20 && bytes % (1 << 20) == 0 {
        format!("{} MiB", bytes >> 20)
    } else if bytes >= 1 << 10 && bytes % (1 << 10) == 0 {
        format!("{} KiB", bytes >> 10)
    } else {
        format!("{bytes} bytes")
    }
}

/// A file that could not be read within its limits.
#[derive(Debug, Clone)]
pub struct FileError {
    /// Nothing exists at the path (for optional files such as `sonar-project.properties`).
    pub missing: bool,
    pub error: ConfigError,
}

impl From<FileError> for ConfigError {
    fn from(e: FileError) -> Self {
        e.error
    }
}

/// What a path leads to, in words, for a file that is not a regular one.
fn kind_of(meta: &std::fs::Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    "not a regular file"
}

/// Opens without blocking: a FIFO's open would wait for a writer.
fn open_nonblocking(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    options.open(path)
}

/// A regular file, opened, and its size. `source` says where the path came from
/// (`variable SSL_CERT_FILE`, `input token-map`), `what` what the file is (`the CA file`).
fn open_regular(path: &Path, source: &str, what: &str) -> Result<(std::fs::File, u64), FileError> {
    let shown = path.display();
    let fail = |missing: bool, problem: String, hint: &str| FileError {
        missing,
        error: ConfigError::new(source, problem).hint(hint),
    };
    // `metadata` follows symlinks and never opens the file, so it cannot block.
    let meta = std::fs::metadata(path).map_err(|e| {
        fail(
            e.kind() == std::io::ErrorKind::NotFound,
            format!("cannot read {what} {shown}: {e}"),
            "check the path and the file's permissions",
        )
    })?;
    let not_regular = |meta: &std::fs::Metadata| {
        fail(
            false,
            format!(
                "{what} {shown} is {} (after following symlinks), not a regular file",
                kind_of(meta)
            ),
            "point it at a regular file; scantoken reads no pipes, devices or directories",
        )
    };
    if !meta.is_file() {
        return Err(not_regular(&meta));
    }
    let file = open_nonblocking(path).map_err(|e| {
        fail(
            false,
            format!("cannot open {what} {shown}: {e}"),
            "check the file's permissions",
        )
    })?;
    // The path may have been replaced between the check and the open.
    let opened = file.metadata().map_err(|e| {
        fail(
            false,
            format!("cannot read {what} {shown}: {e}"),
            "check the file",
        )
    })?;
    if !opened.is_file() {
        return Err(not_regular(&opened));
    }
    Ok((file, opened.len()))
}

fn too_large(path: &Path, source: &str, what: &str, cap: usize) -> FileError {
    FileError {
        missing: false,
        error: ConfigError::new(
            source,
            format!(
                "{what} {} is larger than the {} scantoken reads",
                path.display(),
                size(cap)
            ),
        )
        .hint("point it at the right file; real ones are far smaller"),
    }
}

/// The whole file, at most `cap` bytes, or an error naming it and its source.
pub fn file(path: &Path, source: &str, what: &str, cap: usize) -> Result<Vec<u8>, FileError> {
    let (file, len) = open_regular(path, source, what)?;
    if len > cap as u64 {
        return Err(too_large(path, source, what, cap));
    }
    // The size may change under us (a file still being written, /proc): read cap + 1 bytes
    // at most, whatever it said.
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(cap as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| FileError {
            missing: false,
            error: ConfigError::new(
                source,
                format!("cannot read {what} {}: {e}", path.display()),
            ),
        })?;
    if bytes.len() > cap {
        return Err(too_large(path, source, what, cap));
    }
    Ok(bytes)
}

/// [`file`], with a file that does not exist as `None`.
pub fn optional_file(
    path: &Path,
    source: &str,
    what: &str,
    cap: usize,
) -> Result<Option<Vec<u8>>, ConfigError> {
    match file(path, source, what, cap) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.missing => Ok(None),
        Err(e) => Err(e.error),
    }
}

/// A file read as a stream (a large JSON document parsed as it is read): a read fails with
/// `InvalidData` once more than `cap` bytes came, so the parser stops there.
pub struct Bounded {
    inner: std::io::Take<std::fs::File>,
    cap: usize,
    read: usize,
}

impl Read for Bounded {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n;
        if self.read > self.cap {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("larger than the {} scantoken reads", size(self.cap)),
            ));
        }
        Ok(n)
    }
}

/// Opens a file to stream it, with the same checks as [`file`].
pub fn stream(path: &Path, source: &str, what: &str, cap: usize) -> Result<Bounded, FileError> {
    let (file, len) = open_regular(path, source, what)?;
    if len > cap as u64 {
        return Err(too_large(path, source, what, cap));
    }
    Ok(Bounded {
        inner: file.take(cap as u64 + 1),
        cap,
        read: 0,
    })
}

/// Why an HTTP body was not read whole.
#[derive(Debug)]
pub enum BodyError {
    /// The body (or its announced `Content-Length`) is past the cap: reading stopped there.
    TooLarge { cap: usize },
    /// The connection failed while reading.
    Transport(reqwest::Error),
}

impl BodyError {
    /// `the answer is larger than 64 KiB`, for messages; a transport error is described by
    /// its caller, who knows how to classify it.
    pub fn too_large_text(cap: usize) -> String {
        format!(
            "its body is larger than the {} scantoken reads (reading stopped there)",
            size(cap)
        )
    }
}

/// Reads a response body to at most `cap` bytes: the one function every HTTP body goes
/// through (the Sonar probes, the Vault login and read, the CI's OIDC token answer).
pub async fn body(response: &mut reqwest::Response, cap: usize) -> Result<Vec<u8>, BodyError> {
    if response.content_length().is_some_and(|n| n > cap as u64) {
        return Err(BodyError::TooLarge { cap });
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Transport)? {
        if body.len() + chunk.len() > cap {
            return Err(BodyError::TooLarge { cap });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_at_the_cap_is_read_and_one_byte_more_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"12345678").unwrap();
        assert_eq!(file(&path, "test", "the file", 8).unwrap(), b"12345678");
        let e = file(&path, "test", "the file", 7).unwrap_err();
        assert!(!e.missing && e.error.problem.contains("larger than the 7 bytes"));
    }

    #[test]
    fn a_missing_file_is_none_and_a_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(optional_file(&dir.path().join("nope"), "t", "the file", 8)
            .unwrap()
            .is_none());
        let e = file(dir.path(), "input x", "the file", 8).unwrap_err();
        assert!(e.error.problem.contains("a directory"), "{}", e.error);
        assert_eq!(e.error.source, "input x");
    }

    #[cfg(unix)]
    #[test]
    fn devices_and_symlinks_to_them_are_refused_without_reading() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("zero");
        std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
        let e = file(&link, "t", "the file", 1 << 20).unwrap_err();
        assert!(e.error.problem.contains("character device"), "{}", e.error);
    }

    #[test]
    fn a_stream_stops_past_its_cap() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"0123456789").unwrap();
        let mut out = Vec::new();
        stream(&path, "t", "the file", 10)
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, b"0123456789");
        assert!(
            stream(&path, "t", "the file", 9).is_err(),
            "its size says so at once"
        );
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(size(64 * 1024), "64 KiB");
        assert_eq!(size(1 << 20), "1 MiB");
        assert_eq!(size(100), "100 bytes");
    }
}
