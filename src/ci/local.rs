//! No CI: a developer's shell. Branch and revision come from the git checkout, if any.
//!
//! Asks `git` itself rather than reading `.git/` by hand: worktrees, packed refs and
//! submodules all have their own layouts, and git knows them.

use super::{CiKind, Context};
use std::path::Path;
use std::process::{Command, Stdio};

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
    ctx.default_branch = git(
        cwd,
        &["symbolic-ref", "-q", "--short", "refs/remotes/origin/HEAD"],
    )
    .map(|r| r.strip_prefix("origin/").unwrap_or(&r).to_owned());
    ctx
}

/// One git command's trimmed output, or `None` if git is missing or says no.
fn git(cwd: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(cwd)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (out.status.success() && !text.is_empty()).then_some(text)
}
