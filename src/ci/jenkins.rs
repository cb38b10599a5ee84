//! Jenkins (docs/sonar-facts.md §5): detected by `JENKINS_URL` (or `JENKINS_HOME`), `EXECUTOR_NUMBER` and
//! `BUILD_NUMBER` together (see `ci::MARKERS`).
//!
//! Multibranch pipelines set `CHANGE_*` for pull requests (then `BRANCH_NAME` is `PR-N`),
//! `TAG_NAME` for tags and `BRANCH_NAME` for branches. The GitHub Pull Request Builder
//! plugin sets `ghprb*` instead. A freestyle job with the git plugin has only `GIT_BRANCH`,
//! usually as `origin/x`.
//!
//! A multibranch pull request is by default built as the merge of the pull request into its
//! target, and `GIT_COMMIT` is then that merge: a commit no repository has. The head is the
//! ref the branch source fetched the pull request into, `refs/remotes/origin/PR-N` in the
//! workspace (SonarSource's scanner engine reads the same ref). When it cannot be found, the
//! revision is left unset and a note says why: the scanner then decides, never we with a
//! commit Sonar cannot match.

use super::{local, CiKind, Context};
use crate::env::Env;
use crate::error::ConfigError;
use serde::Deserialize;
use std::path::Path;

#[derive(Deserialize)]
struct Vars {
    change_id: Option<String>,
    change_branch: Option<String>,
    change_target: Option<String>,
    change_fork: Option<String>,
    branch_name: Option<String>,
    tag_name: Option<String>,
    git_branch: Option<String>,
    git_local_branch: Option<String>,
    git_commit: Option<String>,
    git_url: Option<String>,
    job_name: Option<String>,
    // The GitHub Pull Request Builder plugin's camelCase names (envy lower-cases names).
    ghprbpullid: Option<String>,
    ghprbsourcebranch: Option<String>,
    ghprbtargetbranch: Option<String>,
    ghprbactualcommit: Option<String>,
    ghprbghrepository: Option<String>,
    ghprbauthorrepogiturl: Option<String>,
    ghprbpullauthorlogin: Option<String>,
}

pub fn read(env: &Env, cwd: &Path) -> Result<Context, ConfigError> {
    let v: Vars = super::read_vars(env, "Jenkins")?;
    let mut ctx = Context::new(CiKind::Jenkins);
    ctx.repository = v
        .git_url
        .as_deref()
        .and_then(repository_from_url)
        .or(v.job_name.clone());
    ctx.revision = v.git_commit.clone();

    if let Some(id) = &v.change_id {
        ctx.trigger = Some("pull request (CHANGE_ID)".into());
        let source = v
            .change_branch
            .clone()
            .or(v.branch_name.clone())
            .ok_or_else(|| {
                ConfigError::new(
                    "CHANGE_BRANCH",
                    "is not set, but CHANGE_ID says this is a pull request build",
                )
                .hint("multibranch pipelines set CHANGE_BRANCH with CHANGE_ID; set both or neither")
            })?;
        let target = v.change_target.clone().ok_or_else(|| {
            ConfigError::new(
                "CHANGE_TARGET",
                "is not set, but CHANGE_ID says this is a pull request build",
            )
            .hint("multibranch pipelines set CHANGE_TARGET with CHANGE_ID; set both or neither")
        })?;
        ctx.set_pull_request(id, source, target);
        ctx.base = Some(ctx.target_branch_base("CHANGE_TARGET"));
        ctx.fork = v.change_fork.is_some();
        ctx.revision = pull_request_head(&v, cwd, &mut ctx.notes);
    } else if let Some(id) = &v.ghprbpullid {
        ctx.trigger = Some("GitHub Pull Request Builder (ghprbPullId)".into());
        let missing = |name: &str| {
            ConfigError::new(
                name.to_owned(),
                "is not set, but ghprbPullId says this is a GitHub Pull Request Builder build",
            )
            .hint("the plugin sets ghprbSourceBranch and ghprbTargetBranch with ghprbPullId; set all or none")
        };
        let source = v
            .ghprbsourcebranch
            .clone()
            .ok_or_else(|| missing("ghprbSourceBranch"))?;
        let target = v
            .ghprbtargetbranch
            .clone()
            .ok_or_else(|| missing("ghprbTargetBranch"))?;
        ctx.set_pull_request(id, source, target);
        ctx.base = Some(ctx.target_branch_base("ghprbTargetBranch"));
        // ghprbActualCommit is the pull request's head; GIT_COMMIT is the merge when the
        // job's refspec fetches refs/pull/N/merge, as the plugin's documentation suggests.
        ctx.revision = v.ghprbactualcommit.clone().or_else(|| {
            ctx.notes.push("ghprbActualCommit is not set: the revision is left to the scanner, as GIT_COMMIT may be the merge commit".into());
            None
        });
        if let Some(repo) = &v.ghprbghrepository {
            ctx.repository = Some(repo.clone());
            let author_repo = v
                .ghprbauthorrepogiturl
                .as_deref()
                .and_then(repository_from_url);
            ctx.fork = author_repo.is_some_and(|a| !a.eq_ignore_ascii_case(repo));
        }
        if v.ghprbpullauthorlogin.as_deref() == Some(super::DEPENDABOT) {
            ctx.dependabot = true;
        }
    } else if let Some(tag) = &v.tag_name {
        ctx.trigger = Some("tag (TAG_NAME)".into());
        ctx.set_tag(tag);
    } else if let Some(branch) = &v.branch_name {
        ctx.trigger = Some("branch (BRANCH_NAME)".into());
        ctx.set_branch(branch);
    } else if let Some(branch) = v.git_local_branch.as_deref().or(v.git_branch.as_deref()) {
        ctx.trigger = Some("git plugin (GIT_BRANCH)".into());
        ctx.set_branch(strip_remote(branch));
    }
    Ok(ctx)
}

/// The pull request's head commit: `refs/remotes/origin/<GIT_BRANCH>` (then `<BRANCH_NAME>`,
/// both `PR-N` in a multibranch pull request) in the workspace's git. Without it,
/// `GIT_COMMIT` only when git shows it is no merge (the "current pull request revision"
/// strategy builds the head itself); otherwise nothing, with a note.
fn pull_request_head(v: &Vars, cwd: &Path, notes: &mut Vec<String>) -> Option<String> {
    let names: Vec<&str> = [v.git_branch.as_deref(), v.branch_name.as_deref()]
        .into_iter()
        .flatten()
        .map(strip_remote)
        .fold(Vec::new(), |mut names, n| {
            if !names.contains(&n) {
                names.push(n);
            }
            names
        });
    for name in &names {
        if let Some(head) = local::remote_branch(cwd, name) {
            if v.git_commit.as_deref() != Some(head.as_str()) {
                notes.push(format!("the revision is the pull request's head, refs/remotes/origin/{name} in the workspace's git: GIT_COMMIT is the merge Jenkins built, which no repository has"));
            }
            return Some(head);
        }
    }
    let commit = v.git_commit.as_deref()?;
    if local::parent_count(cwd, commit) == Some(1) {
        return Some(commit.to_owned());
    }
    let refs = names
        .iter()
        .map(|n| format!("refs/remotes/origin/{n}"))
        .collect::<Vec<_>>()
        .join(" or ");
    let refs = if refs.is_empty() {
        "no GIT_BRANCH or BRANCH_NAME to look for".to_owned()
    } else {
        format!("{refs} is not in the workspace's git")
    };
    notes.push(format!(
        "the pull request's head commit cannot be determined ({refs}, and GIT_COMMIT may be the merge Jenkins built): no revision is exported rather than that merge; run scantoken in the workspace Jenkins checked out, where the branch source fetched the pull request's head"
    ));
    None
}

/// `origin/feature/x`, `refs/remotes/origin/feature/x` and `refs/heads/feature/x` all name
/// `feature/x`. Only the conventional remote name `origin` is stripped: a branch may
/// legitimately start with another word and a slash.
fn strip_remote(branch: &str) -> &str {
    let b = branch.strip_prefix("refs/remotes/").unwrap_or(branch);
    let b = b.strip_prefix("refs/heads/").unwrap_or(b);
    b.strip_prefix("origin/").unwrap_or(b)
}

/// `https://host/acme/payments.git` or `git@host:acme/payments.git` → `acme/payments`.
fn repository_from_url(url: &str) -> Option<String> {
    let path = match url.split_once("://") {
        Some((_, rest)) => rest.split_once('/')?.1,
        None => url.split_once(':')?.1,
    };
    let path = path.trim_end_matches('/').trim_end_matches(".git");
    (!path.is_empty()).then(|| path.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_origin_only() {
        assert_eq!(strip_remote("origin/feature/x"), "feature/x");
        assert_eq!(strip_remote("refs/remotes/origin/main"), "main");
        assert_eq!(strip_remote("main"), "main");
        assert_eq!(strip_remote("fix/origin/x"), "fix/origin/x");
    }

    #[test]
    fn repository_from_git_urls() {
        assert_eq!(
            repository_from_url("https://github.com/acme/payments.git").unwrap(),
            "acme/payments"
        );
        assert_eq!(
            repository_from_url("git@github.com:acme/payments.git").unwrap(),
            "acme/payments"
        );
    }
}
