//! Starting the scan for `scantoken run`: the scanner's variables set for the child process
//! alone, the secrets masked in everything it prints, signals passed on, its exit code kept.
//!
//! The token never enters the job's environment, a CI variable file or a shell trace: it
//! exists only in this process and the child's environment. What the child prints is read
//! from pipes and every secret is replaced by `***` before it reaches the log, as 1Password's
//! `op run` does, because a scanner's debug output or a stack trace can echo its
//! configuration. The scan runs in its own process group (as dumb-init runs its child): a
//! cancelled job sends SIGINT, SIGTERM or SIGHUP to scantoken, and the whole group gets the
//! same signal, so the Java engine a bootstrapper started stops with it; whatever is left of
//! the group after [`KILL_GRACE`] is killed (SIGKILL), and scantoken says so. The scan's exit
//! code comes back as scantoken's.

use std::ffi::OsString;
use std::io::Write;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncReadExt;

/// How long the child's output pipes may stay open after it exits (a daemon it started may
/// hold them): then scantoken stops reading and exits with the child's code.
const PIPE_GRACE: Duration = Duration::from_secs(2);

/// How long the scan's process group has to stop after a signal was passed on: then what is
/// left of it is killed. Short enough to act before a CI's own kill (GitHub's runner sends
/// SIGTERM 7.5 s after SIGINT, and kills 2.5 s later).
pub const KILL_GRACE: Duration = Duration::from_secs(5);

/// Replaces every occurrence of a secret in a byte stream by `***`, across chunk
/// boundaries: bytes that could still be the start of a secret are held back until the next
/// chunk (or the end) says what they are. Secrets are masked line by line (as GitHub does
/// for multi-line secrets), so a line ending always flushes what came before it.
///
/// A bootstrapper may also cut a secret in pieces and print each on a line of its own
/// (@sonar/scan re-logs the engine's stderr chunk by chunk behind its own prefix): so every
/// run of [`MIN_RUN`] or more characters of a secret after its public prefix (`sqco_`, `sqp_`,
/// ...) of a token-like secret is masked too, wherever it appears.
pub struct Masker {
    secrets: Vec<Vec<u8>>,
    /// Every [`MIN_RUN`]-byte window of every secret's body (the secret after its public
    /// prefix): a run of output whose every window is here is a piece of a secret.
    windows: std::collections::HashSet<[u8; MIN_RUN]>,
    held: Vec<u8>,
}

/// The shortest piece of a secret that is masked on its own.
pub const MIN_RUN: usize = 8;

/// Public token prefixes (docs/sonar-facts.md §1): not secret, and in every token.
const PUBLIC_PREFIXES: [&[u8]; 4] = [b"sqco_", b"sqp_", b"sqa_", b"squ_"];

impl Masker {
    pub fn new<'a>(secrets: impl IntoIterator<Item = &'a str>) -> Masker {
        let mut lines: Vec<Vec<u8>> = secrets
            .into_iter()
            .flat_map(|s| s.lines())
            .map(|l| l.trim_end_matches('\r'))
            .filter(|l| !l.is_empty())
            .map(|l| l.as_bytes().to_vec())
            .collect();
        // The longest first, so a secret that contains another is masked whole.
        lines.sort_by_key(|l| std::cmp::Reverse(l.len()));
        lines.dedup();
        let mut windows = std::collections::HashSet::new();
        // Only token-like secrets (one word of letters, digits, `_` and `-`, 16 characters or
        // more): a JSON parameter variable that is secret as a whole shares its keys with
        // ordinary output.
        let token_like = |l: &&Vec<u8>| {
            l.len() >= 16
                && l.iter()
                    .all(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-')
        };
        for line in lines.iter().filter(token_like) {
            let body = PUBLIC_PREFIXES
                .iter()
                .find_map(|p| line.strip_prefix(*p))
                .unwrap_or(line);
            for w in body.windows(MIN_RUN) {
                windows.insert(<[u8; MIN_RUN]>::try_from(w).expect("a window of MIN_RUN bytes"));
            }
        }
        Masker {
            secrets: lines,
            windows,
            held: Vec::new(),
        }
    }

    /// Takes the next chunk; returns what can be printed now.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<u8> {
        self.held.extend_from_slice(chunk);
        let (out, keep) = self.scan(false);
        self.held.drain(..keep);
        out
    }

    /// The end of the stream: everything still held, masked.
    pub fn finish(&mut self) -> Vec<u8> {
        let (out, _) = self.scan(true);
        self.held.clear();
        out
    }

    /// Masks `held`; returns the output and how many bytes of `held` it accounts for.
    fn scan(&self, at_end: bool) -> (Vec<u8>, usize) {
        let held = &self.held;
        let mut out = Vec::with_capacity(held.len());
        let mut i = 0;
        'outer: while i < held.len() {
            let rest = &held[i..];
            // A secret longer than what is held could still start here: wait for more, so
            // a secret that contains a shorter one is masked whole.
            if !at_end
                && self
                    .secrets
                    .iter()
                    .any(|s| s.len() > rest.len() && s.starts_with(rest))
            {
                break;
            }
            for s in &self.secrets {
                if rest.starts_with(s) {
                    out.extend_from_slice(b"***");
                    i += s.len();
                    continue 'outer;
                }
            }
            // A piece of a secret: a run whose every window is a window of a secret's body.
            let piece = |at: usize| {
                held.get(at..at + MIN_RUN).is_some_and(|w| {
                    self.windows
                        .contains(<&[u8; MIN_RUN]>::try_from(w).expect("MIN_RUN bytes"))
                })
            };
            if piece(i) {
                let mut end = i + MIN_RUN;
                while piece(end + 1 - MIN_RUN) {
                    end += 1;
                }
                if end == held.len() && !at_end {
                    // The piece may go on in the next chunk: mask it whole then.
                    break;
                }
                out.extend_from_slice(b"***");
                i = end;
                continue;
            }
            // Fewer than MIN_RUN bytes left that may begin a piece: wait for more.
            if !at_end && rest.len() < MIN_RUN && self.windows.iter().any(|w| w.starts_with(rest)) {
                break;
            }
            out.push(held[i]);
            i += 1;
        }
        (out, i)
    }
}

/// What to start.
pub struct Launch<'a> {
    pub argv: &'a [OsString],
    /// The child's whole environment.
    pub env: Vec<(String, String)>,
    /// Values to mask in its output.
    pub secrets: Vec<&'a str>,
    /// Where it starts (`run --projects`: the project's directory); else where scantoken runs.
    pub cwd: Option<&'a std::path::Path>,
}

/// Whether `program` can be started: a name with a path separator must name an existing
/// file (from `cwd`); a bare name must be found in `path` (the child's `PATH`), as the
/// system looks it up. On Unix the file must be executable. Checked before anything is
/// verified, so a scanner that is not installed costs no request and carries no token.
pub fn program_exists(
    program: &std::ffi::OsStr,
    path: Option<&str>,
    cwd: &std::path::Path,
) -> bool {
    let name = std::path::Path::new(program);
    if name.as_os_str().is_empty() {
        return false;
    }
    if name.components().count() > 1 || name.is_absolute() {
        return runnable(&cwd.join(name));
    }
    let Some(path) = path else {
        return false;
    };
    std::env::split_paths(path).any(|dir| {
        let dir = cwd.join(dir);
        let candidates: Vec<std::path::PathBuf> = if cfg!(windows) {
            ["", ".exe", ".cmd", ".bat", ".com"]
                .iter()
                .map(|ext| {
                    let mut file = name.as_os_str().to_owned();
                    file.push(ext);
                    dir.join(file)
                })
                .collect()
        } else {
            vec![dir.join(name)]
        };
        candidates.iter().any(|c| runnable(c))
    })
}

fn runnable(file: &std::path::Path) -> bool {
    let Ok(meta) = std::fs::metadata(file) else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.is_file() && meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        meta.is_file()
    }
}

/// Why the child could not be started.
#[derive(Debug)]
pub struct SpawnError {
    pub program: String,
    pub error: std::io::Error,
}

/// Starts the child, relays its output masked, forwards signals, and returns the exit code
/// a shell would give (128 + N for a child killed by signal N).
pub fn run(
    launch: Launch<'_>,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> Result<i32, SpawnError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| SpawnError {
            program: String::new(),
            error,
        })?;
    runtime.block_on(supervise(launch, stdout, stderr))
}

async fn supervise(
    launch: Launch<'_>,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> Result<i32, SpawnError> {
    let program = launch.argv[0].to_string_lossy().into_owned();
    let mut command = tokio::process::Command::new(&launch.argv[0]);
    command
        .args(&launch.argv[1..])
        .env_clear()
        .envs(launch.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::inherit())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(dir) = launch.cwd {
        command.current_dir(dir);
    }
    // Its own process group (the child's pid), so a signal reaches every process of the scan.
    #[cfg(unix)]
    command.process_group(0);
    let mut child = command.spawn().map_err(|error| SpawnError {
        program: program.clone(),
        error,
    })?;
    let mut child_out = child.stdout.take().expect("stdout is piped");
    let mut child_err = child.stderr.take().expect("stderr is piped");
    let mut mask_out = Masker::new(launch.secrets.iter().copied());
    let mut mask_err = Masker::new(launch.secrets.iter().copied());
    let mut signals = Signals::new();
    let pid = child.id();

    let mut out_buf = vec![0u8; 16 * 1024];
    let mut err_buf = vec![0u8; 16 * 1024];
    let (mut out_open, mut err_open) = (true, true);
    let mut status = None;
    let grace = tokio::time::sleep(Duration::MAX);
    tokio::pin!(grace);
    // Set when a signal was passed on: past it, what is left of the group is killed.
    let mut kill_at: Option<tokio::time::Instant> = None;
    let mut killed = false;
    let kill = tokio::time::sleep(Duration::MAX);
    tokio::pin!(kill);
    while out_open || err_open || status.is_none() {
        tokio::select! {
            read = child_out.read(&mut out_buf), if out_open => match read {
                Ok(n) if n > 0 => relay(stdout, &mask_out.push(&out_buf[..n])),
                _ => {
                    relay(stdout, &mask_out.finish());
                    out_open = false;
                }
            },
            read = child_err.read(&mut err_buf), if err_open => match read {
                Ok(n) if n > 0 => relay(stderr, &mask_err.push(&err_buf[..n])),
                _ => {
                    relay(stderr, &mask_err.finish());
                    err_open = false;
                }
            },
            waited = child.wait(), if status.is_none() => {
                status = Some(waited);
                grace.as_mut().reset(tokio::time::Instant::now() + PIPE_GRACE);
            },
            () = &mut grace, if status.is_some() => {
                relay(stdout, &mask_out.finish());
                relay(stderr, &mask_err.finish());
                break;
            },
            signal = signals.next() => {
                forward(pid, signal);
                if kill_at.is_none() {
                    let at = tokio::time::Instant::now() + KILL_GRACE;
                    kill_at = Some(at);
                    kill.as_mut().reset(at);
                }
            },
            () = &mut kill, if kill_at.is_some() && !killed => {
                killed = true;
                kill_group(pid, stderr);
            },
        }
    }
    // A signal was passed on: the group (an engine that outlived its bootstrapper) gets the
    // rest of its grace to stop, then is killed.
    if let (Some(at), false) = (kill_at, killed) {
        while group_alive(pid) && tokio::time::Instant::now() < at {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        kill_group(pid, stderr);
    }
    let status = status
        .expect("the loop ends only after the child was waited for")
        .map_err(|error| SpawnError { program, error })?;
    Ok(exit_code(&status))
}

fn relay(to: &mut dyn Write, bytes: &[u8]) {
    if !bytes.is_empty() {
        let _ = to.write_all(bytes);
        let _ = to.flush();
    }
}

fn exit_code(status: &std::process::ExitStatus) -> i32 {
    if let Some(code) = status.code() {
        return code;
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return 128 + signal;
        }
    }
    1
}

/// The signals a CI sends to cancel a step (GitHub's runner SIGINT then SIGTERM, Azure's
/// agent and Jenkins SIGTERM, a closed terminal SIGHUP), passed on to the child.
#[cfg(unix)]
struct Signals {
    interrupt: Option<tokio::signal::unix::Signal>,
    terminate: Option<tokio::signal::unix::Signal>,
    hangup: Option<tokio::signal::unix::Signal>,
}

#[cfg(unix)]
impl Signals {
    fn new() -> Signals {
        use tokio::signal::unix::{signal, SignalKind};
        Signals {
            interrupt: signal(SignalKind::interrupt()).ok(),
            terminate: signal(SignalKind::terminate()).ok(),
            hangup: signal(SignalKind::hangup()).ok(),
        }
    }

    /// The next signal received (pending forever without any).
    async fn next(&mut self) -> i32 {
        async fn recv(s: &mut Option<tokio::signal::unix::Signal>) {
            match s {
                Some(s) => {
                    if s.recv().await.is_none() {
                        std::future::pending::<()>().await
                    }
                }
                None => std::future::pending().await,
            }
        }
        tokio::select! {
            () = recv(&mut self.interrupt) => libc::SIGINT,
            () = recv(&mut self.terminate) => libc::SIGTERM,
            () = recv(&mut self.hangup) => libc::SIGHUP,
        }
    }
}

/// Sends `signal` to the scan's process group (its id is the child's pid).
#[cfg(unix)]
fn forward(pid: Option<u32>, signal: i32) {
    if let Some(pgid) = pid.and_then(|p| i32::try_from(p).ok()) {
        // SAFETY: kill(2) on the process group we created for the child, with a valid signal
        // number; it touches no memory of ours.
        unsafe {
            libc::kill(-pgid, signal);
        }
    }
}

/// Whether any process of the scan's group is still there.
#[cfg(unix)]
fn group_alive(pid: Option<u32>) -> bool {
    pid.and_then(|p| i32::try_from(p).ok()).is_some_and(|pgid| {
        // SAFETY: kill(2) with signal 0 only checks that the group exists.
        unsafe { libc::kill(-pgid, 0) == 0 }
    })
}

/// Kills what is left of the scan's group, and says so.
#[cfg(unix)]
fn kill_group(pid: Option<u32>, stderr: &mut dyn Write) {
    if !group_alive(pid) {
        return;
    }
    forward(pid, libc::SIGKILL);
    // SIGKILL is delivered, not waited for: give the kernel a moment to end the group, so
    // that when scantoken exits nothing of the scan still runs (a zombie left for its
    // reaper still answers kill(2), hence the bound).
    let until = std::time::Instant::now() + Duration::from_secs(1);
    while group_alive(pid) && std::time::Instant::now() < until {
        std::thread::sleep(Duration::from_millis(10));
    }
    relay(
        stderr,
        format!(
            "scantoken: the scan was still running {} s after the signal was passed on: killed what was left of it (process group {}) with SIGKILL\n",
            KILL_GRACE.as_secs(),
            pid.unwrap_or_default()
        )
        .as_bytes(),
    );
}

/// Elsewhere (Windows): its own module, so that the mutation tests, which run on unix,
/// leave out code they never compile (`.cargo/mutants.toml`).
#[cfg(not(unix))]
mod not_unix;
#[cfg(not(unix))]
use not_unix::{forward, group_alive, kill_group, Signals};

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_program_is_found_as_the_system_would_start_it() {
        use std::ffi::OsStr;
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let write = |name: &str, mode: u32| {
            let path = bin.join(name);
            std::fs::write(&path, "#!/bin/sh\n").unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        };
        write("scanner", 0o755);
        write("not-executable", 0o644);
        let path = bin.to_str().unwrap();
        let here = dir.path();
        assert!(program_exists(OsStr::new("scanner"), Some(path), here));
        assert!(!program_exists(
            OsStr::new("not-executable"),
            Some(path),
            here
        ));
        assert!(!program_exists(OsStr::new("missing"), Some(path), here));
        assert!(!program_exists(OsStr::new("scanner"), None, here));
        assert!(!program_exists(OsStr::new(""), Some(path), here));
        // A name with a separator is a path from the current directory, never looked up.
        assert!(program_exists(OsStr::new("bin/scanner"), None, here));
        assert!(program_exists(
            OsStr::new("./bin/scanner"),
            Some("/nonexistent"),
            here
        ));
        assert!(!program_exists(OsStr::new("./scanner"), Some(path), here));
        assert!(!program_exists(
            OsStr::new("bin/not-executable"),
            None,
            here
        ));
        assert!(program_exists(
            bin.join("scanner").as_os_str(),
            None,
            std::path::Path::new("/")
        ));
        // A directory is not a program.
        assert!(!program_exists(
            OsStr::new("bin"),
            Some(here.to_str().unwrap()),
            here
        ));
    }

    fn mask_in_chunks(secrets: &[&str], input: &[u8], size: usize) -> Vec<u8> {
        let mut m = Masker::new(secrets.iter().copied());
        let mut out = Vec::new();
        for chunk in input.chunks(size) {
            out.extend(m.push(chunk));
        }
        out.extend(m.finish());
        out
    }

    #[test]
    fn secrets_are_masked_across_every_chunk_boundary() {
        let input =
            b"token=sqp_SECRET1234, again sqp_SECRET1234\nsqp_SECRET1 is not it; ss".to_vec();
        for size in 1..=input.len() {
            let out = mask_in_chunks(&["sqp_SECRET1234"], &input, size);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                "token=***, again ***\nsqp_SECRET1 is not it; ss",
                "chunk size {size}"
            );
        }
    }

    #[test]
    fn multi_line_secrets_are_masked_line_by_line_and_the_longest_first() {
        let out = mask_in_chunks(
            &["pass\nword", "abc", "abcdef"],
            b"pass word\nabcdefg abc",
            3,
        );
        assert_eq!(String::from_utf8(out).unwrap(), "*** ***\n***g ***");
    }

    /// A secret that ends what the child wrote so far (a prompt, a progress line without
    /// its line break yet) is masked and shown at once, not held until more output comes.
    #[test]
    fn a_secret_that_ends_a_chunk_is_masked_at_once() {
        let mut m = Masker::new(["sqp_X"]);
        assert_eq!(m.push(b"token: sqp_X"), b"token: ***");
        assert_eq!(m.push(b"sqp_"), b"");
        assert_eq!(m.push(b"X"), b"***");
        assert_eq!(m.finish(), b"");
    }

    /// @sonar/scan re-logs the engine's stderr in chunks behind its own prefix: a token cut
    /// across two of them shows no run of MIN_RUN of its characters after `sqco_`, at any
    /// chunk size.
    #[test]
    fn a_secret_cut_across_prefixed_lines_shows_no_piece_of_itself() {
        let token = "sqco_PIECEpieceA1PIECEpieceA2PIECEpieceA3PIECEpieceA4PIECEpiece";
        for cut in [5, 9, 12, 13, 30, 56, 60] {
            let input = format!(
                "[ERROR] Bootstrapper: token={}\n[ERROR] Bootstrapper: {} done\n",
                &token[..cut],
                &token[cut..]
            );
            for size in [1, 3, 7, 64, input.len()] {
                let out =
                    String::from_utf8(mask_in_chunks(&[token], input.as_bytes(), size)).unwrap();
                let body = &token[5..];
                for start in 0..=body.len() - MIN_RUN {
                    let run = &body[start..start + MIN_RUN];
                    assert!(
                        !out.contains(run),
                        "cut {cut}, chunks of {size}: {run} in {out}"
                    );
                }
                assert!(
                    out.contains("[ERROR] Bootstrapper: ") && out.contains(" done\n"),
                    "{out}"
                );
            }
        }
        // Short pieces and unrelated text stay as they are.
        let out = mask_in_chunks(&[token], b"PIECEpi and sqco_ and hello world\n", 4);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "PIECEpi and sqco_ and hello world\n"
        );
    }

    #[test]
    fn a_line_ending_flushes_at_once() {
        let mut m = Masker::new(["sqp_X"]);
        assert_eq!(m.push(b"done\n"), b"done\n");
        assert_eq!(m.push(b"sq"), b"");
        assert_eq!(m.push(b"l\n"), b"sql\n");
    }
}
