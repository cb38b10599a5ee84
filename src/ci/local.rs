//! No CI: a developer's shell. Branch and revision come from the git checkout, if any. This
//! module also owns every read of the workspace's git for the other CIs (the remote's
//! default branch, a Jenkins pull request's head), through one bounded runner.
//!
//! Asks `git` itself rather than reading `.git/` by hand: worktrees, packed refs and
//! submodules all have their own layouts, and git knows them. git runs as a child process,
//! never through a shell, with no stdin, a time limit and a cap on what is read back; every
//! name handed to it from the environment is checked first (see [`remote_branch`]).

use super::{CiKind, Context};
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub fn read(cwd: &Path) -> Context {
    let mut ctx = Context::new(CiKind::Local);
    let Some(revision) = git(cwd, &["rev-parse", "--verify", "-q", "HEAD"]) else {
        return ctx;
    };
    ctx.revision = Some(revision);
    match git(cwd, &["symbolic-ref", "-q", "--short", "HEAD"]) {
        Some(branch) => ctx.set_branch(branch),
        None => ctx.notes.push("detached HEAD: no branch to report".into()),
    }
    if let Some(d) = origin_head(cwd) {
        ctx.default_branch = Some(d);
        ctx.default_branch_source = Some("git (refs/remotes/origin/HEAD)".into());
    }
    ctx
}

/// The remote's default branch as the checkout recorded it (`git clone` sets
/// `refs/remotes/origin/HEAD`; a fetch into an empty repository does not).
pub fn origin_head(cwd: &Path) -> Option<String> {
    let r = git(
        cwd,
        &["symbolic-ref", "-q", "--short", "refs/remotes/origin/HEAD"],
    )?;
    Some(r.strip_prefix("origin/").unwrap_or(&r).to_owned())
}

/// The commit `refs/remotes/origin/<branch>` points at, if the checkout has that ref.
/// `branch` comes from the environment: a name git would not accept as a branch is not
/// looked up at all.
pub fn remote_branch(cwd: &Path, branch: &str) -> Option<String> {
    if !plausible_ref_name(branch) {
        return None;
    }
    let sha = git(
        cwd,
        &[
            "rev-parse",
            "--verify",
            "-q",
            &format!("refs/remotes/origin/{branch}^{{commit}}"),
        ],
    )?;
    is_commit_id(&sha).then_some(sha)
}

/// How many parents a commit has, if the checkout has it. `None` for anything that is not
/// a full commit id.
pub fn parent_count(cwd: &Path, commit: &str) -> Option<usize> {
    if !is_commit_id(commit) {
        return None;
    }
    let line = git(cwd, &["rev-list", "--parents", "-n", "1", commit, "--"])?;
    Some(line.split_whitespace().count().saturating_sub(1))
}

/// A full SHA-1 or SHA-256 commit id in hex.
pub fn is_commit_id(s: &str) -> bool {
    matches!(s.len(), 40 | 64) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The rules of `git check-ref-format` that matter here, and stricter: no control
/// characters or spaces, none of `~^:?*[\`, no `..` or `@{`, no leading `-` or `/`.
fn plausible_ref_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && !name.starts_with(['-', '/', '.'])
        && !name.ends_with(['/', '.'])
        && !name.ends_with(".lock")
        && !name.contains("..")
        && !name.contains("@{")
        && !name.contains("//")
        && !name
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || "~^:?*[\\".contains(c))
}

/// How long one git command may take, and how much of its output is read: a ref lookup
/// answers in milliseconds with one line.
const GIT_TIMEOUT: Duration = Duration::from_secs(5);
const GIT_MAX_OUTPUT: u64 = 64 * 1024;

/// One git command's trimmed output, or `None` if git is missing, says no, or takes too
/// long (then it is killed).
fn git(cwd: &Path, args: &[&str]) -> Option<String> {
    let answer = git_run(cwd, args, GIT_MAX_OUTPUT, GIT_TIMEOUT)?;
    let text = String::from_utf8(answer.stdout).ok()?.trim().to_owned();
    (answer.code == Some(0) && !text.is_empty()).then_some(text)
}

/// What a git command answered: its exit code, and its standard output up to the cap.
pub struct GitAnswer {
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    /// The output went past the cap: what is here is only its start.
    pub truncated: bool,
}

/// Runs git in `cwd` with `args`, through the same guards as every other read of the
/// workspace's git (no shell, no stdin, no pager or prompt, no fsmonitor program, no lock
/// on the index), reading at most `cap` bytes of its output and killing it after `limit`.
/// `None` when git cannot be started or took too long.
pub fn git_run(cwd: &Path, args: &[&str], cap: u64, limit: Duration) -> Option<GitAnswer> {
    let mut child = Command::new("git")
        .arg("-C")
        .arg(cwd)
        // A workspace's configuration may name a program to run on index reads.
        .args(["-c", "core.fsmonitor=false"])
        .args(args)
        // No pager, no prompt, no lock taken on the user's index.
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_OPTIONAL_LOCKS", "0")
        .env("GIT_PAGER", "cat")
        // A partial clone would fetch a missing object from its remote: never over the network.
        .env("GIT_NO_LAZY_FETCH", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let stdout = child.stdout.take()?;
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        // One byte past the cap tells a full answer from a cut one.
        let _ = stdout.take(cap + 1).read_to_end(&mut buf);
        buf
    });
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() < limit => std::thread::sleep(Duration::from_millis(5)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    };
    let mut stdout = reader.join().ok()?;
    let truncated = stdout.len() as u64 > cap;
    stdout.truncate(cap as usize);
    Some(GitAnswer {
        code: status.code(),
        stdout,
        truncated,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ref_names_from_the_environment_are_checked_before_git_sees_them() {
        for ok in [
            "PR-42",
            "feature/login",
            "release/2.0",
            "dependabot/npm/x-1.2",
        ] {
            assert!(plausible_ref_name(ok), "{ok}");
        }
        for bad in [
            "",
            "-c",
            "--upload-pack=x",
            "a..b",
            "a b",
            "x^{tree}",
            "HEAD@{1}",
            "a:b",
            "/abs",
            "x.lock",
            "a\nb",
        ] {
            assert!(!plausible_ref_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn commit_ids_are_full_hex() {
        assert!(is_commit_id("a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0"));
        assert!(!is_commit_id("a1b2c3d"));
        assert!(!is_commit_id("--all-a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8"));
    }

    #[test]
    fn every_rule_of_the_ref_name_check_refuses_its_own_case() {
        let long = "a".repeat(256);
        for bad in [
            long.as_str(),
            ".hidden",
            "branch/",
            "branch.",
            "a//b",
            "a\u{1}b",
            "a\tb",
            "a~1",
            "a?",
            "a*",
            "a[b",
            "a\\b",
            "a@{b",
        ] {
            assert!(!plausible_ref_name(bad), "{bad:?}");
        }
        assert!(plausible_ref_name(&"a".repeat(255)));
        assert!(plausible_ref_name("v1.2/rc"));
    }

    #[test]
    fn commit_ids_are_forty_or_sixty_four_hex_digits() {
        assert!(is_commit_id(&"ab12".repeat(16)));
        assert!(!is_commit_id(&"ab12".repeat(15)));
        assert!(!is_commit_id(&"g".repeat(40)));
        assert!(!is_commit_id(&"a".repeat(41)));
    }
}
