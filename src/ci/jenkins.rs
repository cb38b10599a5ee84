//! Jenkins (FACTS §5). `JENKINS_URL` marks it.
//!
//! Multibranch pipelines set `CHANGE_*` for pull requests (then `BRANCH_NAME` is `PR-N`),
//! `TAG_NAME` for tags and `BRANCH_NAME` for branches. A freestyle job with the git plugin
//! has only `GIT_BRANCH`, usually as `origin/x`.

use super::{CiKind, Context};
use crate::env::Env;
use crate::error::ConfigError;
use serde::Deserialize;

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
}

pub fn read(env: &Env) -> Result<Context, ConfigError> {
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
        ctx.fork = v.change_fork.is_some();
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
