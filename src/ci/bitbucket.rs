//! Bitbucket Pipelines (docs/sonar-facts.md §5). Detected by `CI=true`, `BITBUCKET_BUILD_NUMBER` and
//! `BITBUCKET_COMMIT` together (see `ci::MARKERS`): a variable named like another CI's
//! (`JENKINS_URL` in a repository variable) does not change that.
//!
//! Bitbucket names no default branch: the `default-branch` option (or the clone's
//! `origin/HEAD`) tells it; without, every branch build gets `sonar.branch.name`.

use super::{CiKind, Context};
use crate::env::Env;
use crate::error::ConfigError;
use serde::Deserialize;

#[derive(Deserialize)]
struct Vars {
    bitbucket_pr_id: Option<String>,
    bitbucket_pr_destination_branch: Option<String>,
    bitbucket_branch: Option<String>,
    bitbucket_tag: Option<String>,
    bitbucket_commit: Option<String>,
    bitbucket_repo_full_name: Option<String>,
}

pub fn read(env: &Env) -> Result<Context, ConfigError> {
    let v: Vars = super::read_vars(env, "Bitbucket Pipelines")?;
    let mut ctx = Context::new(CiKind::Bitbucket);
    ctx.repository = v.bitbucket_repo_full_name.clone();
    ctx.revision = v.bitbucket_commit.clone();
    if let Some(id) = &v.bitbucket_pr_id {
        ctx.trigger = Some("pull-requests pipeline".into());
        let missing = |name: &str| {
            ConfigError::new(
                name.to_owned(),
                "is not set, but BITBUCKET_PR_ID says this is a pull request pipeline",
            )
            .hint("Bitbucket sets it in pull-requests pipelines; set both or neither")
        };
        let source = v
            .bitbucket_branch
            .clone()
            .ok_or_else(|| missing("BITBUCKET_BRANCH"))?;
        let target = v
            .bitbucket_pr_destination_branch
            .clone()
            .ok_or_else(|| missing("BITBUCKET_PR_DESTINATION_BRANCH"))?;
        ctx.set_pull_request(id, source, target);
        ctx.base = Some(ctx.target_branch_base("BITBUCKET_PR_DESTINATION_BRANCH"));
    } else if let Some(tag) = &v.bitbucket_tag {
        ctx.trigger = Some("tags pipeline".into());
        ctx.set_tag(tag);
    } else if let Some(branch) = &v.bitbucket_branch {
        ctx.trigger = Some("branches pipeline".into());
        ctx.set_branch(branch);
    }
    Ok(ctx)
}
