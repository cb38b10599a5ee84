//! The pull request's base, read with git: which commit it is, what a file held there, and
//! whether a path of the workspace is as it was there. Every git call goes through
//! `ci::local::git_run` (no shell, bounded time and output). What cannot be read with
//! certainty is an error naming it, with how to fetch what is missing: never a guess.

use crate::ci::local::{git_run, is_commit_id, remote_branch, GitAnswer};
use crate::ci::BaseRef;
use crate::error::{quote, ConfigError};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Generous for one object or one path's diff, even on a large repository.
const LIMIT: Duration = Duration::from_secs(20);
/// A file read back from the base: the same cap as the properties files themselves.
const MAX_FILE: u64 = 1 << 20;

/// A resolved base: the commit and how it was found, for messages.
#[derive(Debug, Clone)]
pub struct Base {
    pub commit: String,
    pub how: String,
}

impl Base {
    pub fn short(&self) -> &str {
        &self.commit[..12.min(self.commit.len())]
    }
}

fn git(root: &Path, args: &[&str], cap: u64, what: &str) -> Result<GitAnswer, ConfigError> {
    git_run(root, args, cap, LIMIT).ok_or_else(|| {
        ConfigError::new(
            "pull-request-trust",
            format!("git did not answer while {what} (is git installed, and is the workspace a git checkout?)"),
        )
        .hint("the base branch's files are read with git in an untrusted build: install git, or check out the repository with git")
    })
}

/// The work tree's root, canonical; an error when the workspace is no git checkout.
pub fn worktree_root(cwd: &Path) -> Result<PathBuf, ConfigError> {
    let answer = git(
        cwd,
        &["rev-parse", "--show-toplevel"],
        4096,
        "finding the work tree",
    )?;
    let text = String::from_utf8(answer.stdout).unwrap_or_default();
    let root = text.trim();
    if answer.code != Some(0) || root.is_empty() {
        return Err(ConfigError::new(
            "pull-request-trust",
            "this untrusted build's workspace is not a git checkout, so the base branch's files cannot be compared with the pull request's",
        )
        .hint("check out the repository with git (with the base commit), or set every token-steering value in the pipeline"));
    }
    std::fs::canonicalize(root).map_err(|e| {
        ConfigError::new(
            "pull-request-trust",
            format!("the work tree {} cannot be read: {e}", quote(root)),
        )
    })
}

/// Finds the base commit the CI named, in this clone.
pub fn resolve(root: &Path, base: Option<&BaseRef>) -> Result<Base, ConfigError> {
    let fetch_hint = |what: &str| {
        format!("fetch it before scantoken runs, e.g. `git fetch --no-tags --depth=1 origin {what}` (GitHub: actions/checkout with fetch-depth: 0 fetches every commit); a shallow clone of the pull request alone does not hold its base")
    };
    match base {
        None => Err(ConfigError::new(
            "pull-request-trust",
            "this untrusted build names no base commit for its pull request, so the base branch's files cannot be read",
        )
        .hint("set every token-steering value in the pipeline, or pass the pull request's properties from a trusted build")),
        Some(BaseRef::Commit { sha, source }) => {
            if !is_commit_id(sha) {
                return Err(ConfigError::new(
                    source.clone(),
                    format!("{} is not a full commit id", quote(sha)),
                ));
            }
            let object = format!("{sha}^{{commit}}");
            let answer = git(
                root,
                &["cat-file", "-e", &object],
                0,
                "looking up the base commit",
            )?;
            if answer.code != Some(0) {
                return Err(ConfigError::new(
                    source.clone(),
                    format!("the pull request's base commit {sha} is not in this clone (a shallow checkout?)"),
                )
                .hint(fetch_hint(sha)));
            }
            Ok(Base {
                commit: sha.clone(),
                how: source.clone(),
            })
        }
        Some(BaseRef::TargetBranch { branch, source }) => {
            if let Some(sha) = remote_branch(root, branch) {
                return Ok(Base {
                    commit: sha,
                    how: format!("refs/remotes/origin/{branch} (the target branch, {source})"),
                });
            }
            // A merge of the pull request into its target: the first parent is the target.
            let parent = |spec: &str| -> Result<Option<String>, ConfigError> {
                let answer = git(
                    root,
                    &["rev-parse", "--verify", "-q", spec],
                    4096,
                    "looking up the merge commit's parents",
                )?;
                let text = String::from_utf8(answer.stdout).unwrap_or_default();
                let sha = text.trim();
                Ok((answer.code == Some(0) && is_commit_id(sha)).then(|| sha.to_owned()))
            };
            if parent("HEAD^2^{commit}")?.is_some() {
                if let Some(first) = parent("HEAD^1^{commit}")? {
                    return Ok(Base {
                        commit: first,
                        how: format!("the first parent of the merge commit checked out (the target branch {branch}, {source})"),
                    });
                }
            }
            Err(ConfigError::new(
                source.clone(),
                format!(
                    "the pull request's base cannot be found: this clone has no refs/remotes/origin/{} and HEAD is no merge commit",
                    quote(branch)
                ),
            )
            .hint(fetch_hint(&format!("{branch}:refs/remotes/origin/{branch}"))))
        }
    }
}

/// A path of the work tree as git names it: relative, with `/`, UTF-8.
fn git_path(rel: &Path) -> Result<String, ConfigError> {
    let text = rel.to_str().ok_or_else(|| {
        ConfigError::new(
            rel.display().to_string(),
            "is not UTF-8, so it cannot be compared with the base branch",
        )
    })?;
    Ok(text.replace('\\', "/"))
}

/// The file at `rel` as the base commit holds it, or `None` where the base has no such file.
pub fn file_at(root: &Path, base: &Base, rel: &Path) -> Result<Option<Vec<u8>>, ConfigError> {
    let spec = format!("{}:{}", base.commit, git_path(rel)?);
    let exists = git(
        root,
        &["cat-file", "-e", &spec],
        0,
        "reading the base branch",
    )?;
    if exists.code != Some(0) {
        return Ok(None);
    }
    let answer = git(
        root,
        &["cat-file", "blob", &spec],
        MAX_FILE,
        "reading the base branch",
    )?;
    if answer.code != Some(0) || answer.truncated {
        return Err(ConfigError::new(
            rel.display().to_string(),
            format!(
                "cannot be read at the base commit {} (larger than 1 MiB, or not a file)",
                base.short()
            ),
        ));
    }
    Ok(Some(answer.stdout))
}

/// Whether the path (a file or a directory) is exactly as the base commit has it: no
/// tracked change, and nothing untracked or ignored beneath it.
pub fn unchanged(root: &Path, base: &Base, rel: &Path) -> Result<bool, ConfigError> {
    // The work tree itself (a directory option naming it) is judged whole.
    let spec = match git_path(rel)?.as_str() {
        "" => ".".to_owned(),
        p => format!(":(literal){p}"),
    };
    let diff = git(
        root,
        &[
            "diff",
            "--quiet",
            "--no-ext-diff",
            "--no-textconv",
            &base.commit,
            "--",
            &spec,
        ],
        0,
        "comparing with the base branch",
    )?;
    match diff.code {
        Some(0) => {}
        Some(1) => return Ok(false),
        _ => {
            return Err(ConfigError::new(
                rel.display().to_string(),
                format!(
                    "git cannot compare it with the base commit {}",
                    base.short()
                ),
            ))
        }
    }
    let others = git(
        root,
        &["ls-files", "--others", "-z", "--", &spec],
        4096,
        "listing files that are not tracked",
    )?;
    if others.code != Some(0) {
        return Err(ConfigError::new(
            rel.display().to_string(),
            "git cannot list the files beneath it",
        ));
    }
    Ok(others.stdout.is_empty())
}
