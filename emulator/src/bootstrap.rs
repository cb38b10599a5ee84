//! What the scanner bootstrappers download before they start the scanner engine: a JRE
//! archive and the engine jar, with their real SHA-256 values.
//!
//! SonarSource's bootstrappers (npm `@sonar/scan`, PyPI `pysonar`, the Java scanner library)
//! ask the server which JRE and engine to use (`analysis/jres`, `analysis/engine`), download
//! both, check each file's SHA-256 against the answer, unpack the JRE and run
//! `<jre>/<javaPath> [jvm options] -jar <engine.jar>` with the scanner properties on stdin as
//! `{"scannerProperties":[{"key":..,"value":..},..]}`. The emulator cannot ship a JRE, so the
//! "JRE" here is a tar.gz holding one file, `jre/bin/java`: a POSIX shell script, the
//! **stand-in `java`**, that records what the engine would have received and exits:
//!
//! - `SONAR_EMULATOR_ENGINE_INPUT=/path/file`: the stand-in writes its stdin (the properties
//!   JSON) to that file and its arguments, each followed by a NUL byte, to `/path/file.argv`.
//!   Unset: it reads and discards stdin.
//! - `SONAR_EMULATOR_ENGINE_EXIT=N`: it exits with N (default 0), for tests of what a caller
//!   does with a failed scan.
//! - It prints one JSON log line, the engine's log format, that both bootstrappers show.
//!
//! The engine "jar" is a short text (the stand-in never opens it): only its name and SHA-256
//! matter to the bootstrappers. Both files are built once, byte for byte the same on every run
//! (fixed times, no compression), so their SHA-256 values are stable. The archive is tar.gz for
//! every `os` asked for: the bootstrappers choose how to unpack by the file name's extension,
//! and the stand-in is a shell script, so it runs on Linux and macOS only.

use sha2::{Digest, Sha256};
use std::sync::OnceLock;

/// The variable naming the file the stand-in `java` writes the engine's input to.
pub const ENGINE_INPUT_VAR: &str = "SONAR_EMULATOR_ENGINE_INPUT";
/// The variable holding the stand-in's exit code.
pub const ENGINE_EXIT_VAR: &str = "SONAR_EMULATOR_ENGINE_EXIT";

/// The variable naming the file a long-running stand-in writes its pid to (see the script).
pub const ENGINE_PIDFILE_VAR: &str = "SONAR_EMULATOR_ENGINE_PIDFILE";
/// With `1`, the long-running stand-in ignores SIGTERM, SIGINT and SIGHUP.
pub const ENGINE_IGNORE_SIGNALS_VAR: &str = "SONAR_EMULATOR_ENGINE_IGNORE_SIGNALS";

/// Where `java` is inside the unpacked archive (the `javaPath` of the JRE answer).
pub const JAVA_PATH: &str = "jre/bin/java";
/// The engine jar's file name (the `filename` of the engine answer).
pub const ENGINE_FILENAME: &str = "sonar-scanner-engine-emulated.jar";

/// The stand-in `java`. POSIX sh (dash, bash), so `printf '%s\0'` ends each argument with NUL.
pub const STAND_IN_JAVA: &str = r#"#!/bin/sh
# sonar-emulator's stand-in for `java`: the scanner bootstrappers run
#   java [jvm options] -jar <engine.jar>
# with the scanner properties on stdin. This records them and exits; it analyses nothing.
if [ -n "${SONAR_EMULATOR_ENGINE_INPUT:-}" ]; then
  printf '%s\0' "$@" > "$SONAR_EMULATOR_ENGINE_INPUT.argv" || exit 90
  cat > "$SONAR_EMULATOR_ENGINE_INPUT" || exit 91
else
  cat > /dev/null
fi
printf '%s\n' '{"level":"INFO","message":"sonar-emulator stand-in engine: properties recorded, nothing analysed"}'
# A long scan, for tests of cancelling one: it writes its pid to the file this names and runs
# until killed; with SONAR_EMULATOR_ENGINE_IGNORE_SIGNALS=1 it ignores SIGTERM, SIGINT and
# SIGHUP, as an engine busy in a shutdown hook may.
if [ -n "${SONAR_EMULATOR_ENGINE_PIDFILE:-}" ]; then
  if [ "${SONAR_EMULATOR_ENGINE_IGNORE_SIGNALS:-}" = 1 ]; then trap '' TERM INT HUP; fi
  echo $$ > "$SONAR_EMULATOR_ENGINE_PIDFILE.tmp" && mv "$SONAR_EMULATOR_ENGINE_PIDFILE.tmp" "$SONAR_EMULATOR_ENGINE_PIDFILE"
  while :; do sleep 0.1; done
fi
exit "${SONAR_EMULATOR_ENGINE_EXIT:-0}"
"#;

const ENGINE_JAR: &[u8] = b"sonar-emulator stand-in scanner engine: not a real jar. The stand-in \
`java` in the emulator's JRE archive records the properties it is given and never opens this file.\n";

/// A file the emulator serves for download.
pub struct Artifact {
    pub filename: String,
    pub bytes: Vec<u8>,
    /// Lower-case hex, as Sonar's answers carry it.
    pub sha256: String,
}

impl Artifact {
    fn new(filename: &str, bytes: Vec<u8>) -> Artifact {
        let sha256 = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Artifact {
            filename: filename.to_owned(),
            bytes,
            sha256,
        }
    }
}

/// The JRE archive (the same bytes for every os and arch).
pub fn jre() -> &'static Artifact {
    static JRE: OnceLock<Artifact> = OnceLock::new();
    JRE.get_or_init(|| {
        let tar = tar_one_file(JAVA_PATH, 0o755, STAND_IN_JAVA.as_bytes());
        Artifact::new("sonar-emulator-jre.tar.gz", gzip_stored(&tar))
    })
}

/// The engine jar.
pub fn engine() -> &'static Artifact {
    static ENGINE: OnceLock<Artifact> = OnceLock::new();
    ENGINE.get_or_init(|| Artifact::new(ENGINE_FILENAME, ENGINE_JAR.to_vec()))
}

/// The id of the JRE for an os and arch (Server downloads it at `analysis/jres/{id}`).
pub fn jre_id(os: &str, arch: &str) -> String {
    format!("emulated-jre-{os}-{arch}")
}

/// The os and arch an id names, if it is one of ours.
pub fn parse_jre_id(id: &str) -> Option<(&str, &str)> {
    let rest = id.strip_prefix("emulated-jre-")?;
    let (os, arch) = rest.split_once('-')?;
    let plain = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric());
    (plain(os) && plain(arch)).then_some((os, arch))
}

/// A ustar archive with one regular file (and no directory entries: both bootstrappers create
/// the parent directories themselves).
fn tar_one_file(path: &str, mode: u32, data: &[u8]) -> Vec<u8> {
    assert!(path.len() < 100, "a short name fits the header");
    let mut header = [0u8; 512];
    let field = |h: &mut [u8; 512], at: usize, value: &[u8]| {
        h[at..at + value.len()].copy_from_slice(value);
    };
    let octal = |width: usize, n: u64| format!("{n:0w$o}\0", w = width - 1).into_bytes();
    field(&mut header, 0, path.as_bytes());
    field(&mut header, 100, &octal(8, mode.into()));
    field(&mut header, 108, &octal(8, 0)); // uid
    field(&mut header, 116, &octal(8, 0)); // gid
    field(&mut header, 124, &octal(12, data.len() as u64));
    field(&mut header, 136, &octal(12, 0)); // mtime: fixed, so the bytes never change
    header[156] = b'0'; // a regular file
    field(&mut header, 257, b"ustar\0");
    field(&mut header, 263, b"00");
    // The checksum is computed with its own field as eight spaces.
    field(&mut header, 148, b"        ");
    let sum: u32 = header.iter().map(|&b| u32::from(b)).sum();
    field(&mut header, 148, format!("{sum:06o}\0 ").as_bytes());

    let mut out = header.to_vec();
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
    // The end of the archive: two zero blocks.
    out.extend_from_slice(&[0u8; 1024]);
    out
}

/// gzip (RFC 1952) of `data` in stored (uncompressed) deflate blocks (RFC 1951 §3.2.4):
/// valid for every gzip reader, and needs no compression library.
fn gzip_stored(data: &[u8]) -> Vec<u8> {
    // Magic, deflate, no flags, mtime 0, no extra flags, OS unknown.
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];
    let mut blocks = data.chunks(65_535).peekable();
    if blocks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(block) = blocks.next() {
        let last = u8::from(blocks.peek().is_none());
        let len = block.len() as u16;
        out.push(last); // BFINAL, BTYPE 00 (stored)
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    out.extend_from_slice(&crc32(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

/// CRC-32 (IEEE 802.3, reflected), bit by bit: the files are a few KiB.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::process::{Command, Stdio};

    #[test]
    fn crc32_of_a_known_string() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn sha256_values_are_those_of_the_bytes_and_stable() {
        for a in [jre(), engine()] {
            let again: String = Sha256::digest(&a.bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            assert_eq!(a.sha256, again);
            assert_eq!(a.sha256.len(), 64);
        }
        let tar = tar_one_file(JAVA_PATH, 0o755, STAND_IN_JAVA.as_bytes());
        assert_eq!(gzip_stored(&tar), jre().bytes, "the same bytes every time");
    }

    #[test]
    fn jre_ids_round_trip_and_refuse_anything_else() {
        assert_eq!(
            parse_jre_id(&jre_id("linux", "x64")),
            Some(("linux", "x64"))
        );
        for bad in [
            "",
            "emulated-jre-",
            "emulated-jre-linux",
            "jre-linux-x64",
            "emulated-jre-../x-y",
            "emulated-jre-linux-x64-z",
        ] {
            assert_eq!(parse_jre_id(bad), None, "{bad}");
        }
    }

    /// The system's own tar and gzip read the archive, and the unpacked stand-in records its
    /// input and exits as told.
    #[test]
    fn the_archive_unpacks_with_tar_and_the_stand_in_records_its_input() {
        let dir = std::env::temp_dir().join(format!("emulator-jre-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let archive = dir.join(&jre().filename);
        std::fs::write(&archive, &jre().bytes).unwrap();
        let status = Command::new("tar")
            .args([
                "-xzf",
                archive.to_str().unwrap(),
                "-C",
                dir.to_str().unwrap(),
            ])
            .status()
            .unwrap();
        assert!(status.success());
        let java = dir.join(JAVA_PATH);
        assert_eq!(std::fs::read_to_string(&java).unwrap(), STAND_IN_JAVA);

        let input = dir.join("engine-input.json");
        let mut child = Command::new(&java)
            .args(["-Dhttps.proxyHost=p", "-jar", "/x/engine.jar"])
            .env(ENGINE_INPUT_VAR, &input)
            .env(ENGINE_EXIT_VAR, "7")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(br#"{"scannerProperties":[]}"#)
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(7));
        assert!(String::from_utf8_lossy(&out.stdout).contains(r#""level":"INFO""#));
        assert_eq!(
            std::fs::read_to_string(&input).unwrap(),
            r#"{"scannerProperties":[]}"#
        );
        assert_eq!(
            std::fs::read(dir.join("engine-input.json.argv")).unwrap(),
            b"-Dhttps.proxyHost=p\0-jar\0/x/engine.jar\0"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
