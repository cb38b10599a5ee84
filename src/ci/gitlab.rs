//! GitLab CI (FACTS §5). `GITLAB_CI=true` marks it.
//!
//! Merge request pipelines carry `CI_MERGE_REQUEST_*` and no `CI_COMMIT_BRANCH`. In merged
//! results pipelines `CI_COMMIT_SHA` is the merge commit and the source branch's commit is
//! `CI_MERGE_REQUEST_SOURCE_BRANCH_SHA`.

use super::{CiKind, Context};
use crate::env::Env;
use crate::error::ConfigError;
use serde::Deserialize;

#[derive(Deserialize)]
struct Vars {
    ci_pipeline_source: Option<String>,
    ci_merge_request_iid: Option<String>,
    ci_merge_request_source_branch_name: Option<String>,
    ci_merge_request_target_branch_name: Option<String>,
    ci_merge_request_source_branch_sha: Option<String>,
    ci_merge_request_project_id: Option<String>,
    ci_merge_request_source_project_id: Option<String>,
    ci_commit_branch: Option<String>,
    ci_commit_tag: Option<String>,
    ci_commit_sha: Option<String>,
    ci_default_branch: Option<String>,
    ci_project_path: Option<String>,
}

pub fn read(env: &Env) -> Result<Context, ConfigError> {
    let v: Vars = super::read_vars(env, "GitLab CI")?;
    let mut ctx = Context::new(CiKind::Gitlab);
    ctx.repository = v.ci_project_path.clone();
    ctx.trigger = v.ci_pipeline_source.clone();
    ctx.default_branch = v.ci_default_branch.clone();
    ctx.revision = v.ci_commit_sha.clone();

    if let Some(iid) = &v.ci_merge_request_iid {
        let missing = |name: &str| {
            ConfigError::new(name.to_owned(), "is not set, but CI_MERGE_REQUEST_IID says this is a merge request pipeline")
                .hint("GitLab sets it in merge request pipelines (rules: if: $CI_PIPELINE_SOURCE == \"merge_request_event\")")
        };
        let source = v
            .ci_merge_request_source_branch_name
            .clone()
            .ok_or_else(|| missing("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME"))?;
        let target = v
            .ci_merge_request_target_branch_name
            .clone()
            .ok_or_else(|| missing("CI_MERGE_REQUEST_TARGET_BRANCH_NAME"))?;
        ctx.set_pull_request(iid, source, target);
        if let Some(sha) = &v.ci_merge_request_source_branch_sha {
            ctx.revision = Some(sha.clone());
        }
        ctx.fork = match (
            &v.ci_merge_request_project_id,
            &v.ci_merge_request_source_project_id,
        ) {
            (Some(target), Some(source)) => target != source,
            _ => false,
        };
        if ctx.fork {
            ctx.secrets_withheld = Some(
                "merge request from a fork: its pipeline runs in the fork's project, without this project's CI/CD variables, unless a maintainer runs it in the parent project"
                    .into(),
            );
        }
    } else if let Some(tag) = &v.ci_commit_tag {
        ctx.set_tag(tag);
    } else if let Some(branch) = &v.ci_commit_branch {
        ctx.set_branch(branch);
    }
    Ok(ctx)
}
