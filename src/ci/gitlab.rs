//! GitLab CI (docs/sonar-facts.md §5). `GITLAB_CI=true` marks it.
//!
//! Merge request pipelines carry `CI_MERGE_REQUEST_*` and no `CI_COMMIT_BRANCH`. In merged
//! results pipelines `CI_COMMIT_SHA` is the merge commit and the source branch's commit is
//! `CI_MERGE_REQUEST_SOURCE_BRANCH_SHA`. Pipelines for external pull requests (a GitHub
//! repository mirrored into GitLab, `CI_PIPELINE_SOURCE=external_pull_request_event`) carry
//! `CI_EXTERNAL_PULL_REQUEST_*` instead, with `CI_COMMIT_BRANCH` set to the source branch.
//!
//! Secrets follow the project the pipeline runs in: a merge request from a fork runs in the
//! fork (`CI_PROJECT_ID` = the source project), without the parent's CI/CD variables, unless
//! a member of the parent runs it in the parent (`CI_PROJECT_ID` = the merge request's
//! project), where it has them ("Merge request pipelines", "Run pipelines in the parent
//! project", docs.gitlab.com).

use super::{BaseRef, CiKind, Context};
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
    ci_merge_request_diff_base_sha: Option<String>,
    ci_external_pull_request_target_branch_sha: Option<String>,
    ci_merge_request_project_id: Option<String>,
    ci_merge_request_source_project_id: Option<String>,
    ci_merge_request_project_path: Option<String>,
    ci_merge_request_source_project_path: Option<String>,
    ci_project_id: Option<String>,
    ci_external_pull_request_iid: Option<String>,
    ci_external_pull_request_source_branch_name: Option<String>,
    ci_external_pull_request_target_branch_name: Option<String>,
    ci_external_pull_request_source_branch_sha: Option<String>,
    ci_external_pull_request_source_repository: Option<String>,
    ci_external_pull_request_target_repository: Option<String>,
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
        ctx.base = Some(match &v.ci_merge_request_diff_base_sha {
            Some(sha) => BaseRef::Commit {
                sha: sha.clone(),
                source: "CI_MERGE_REQUEST_DIFF_BASE_SHA".into(),
            },
            None => ctx.target_branch_base("CI_MERGE_REQUEST_TARGET_BRANCH_NAME"),
        });
        let ids = (
            &v.ci_merge_request_project_id,
            &v.ci_merge_request_source_project_id,
        );
        let paths = (
            &v.ci_merge_request_project_path,
            &v.ci_merge_request_source_project_path,
        );
        let (target, source, here) = match ids {
            (Some(t), Some(s)) => (t, s, v.ci_project_id.as_ref()),
            _ => match paths {
                (Some(t), Some(s)) => (t, s, v.ci_project_path.as_ref()),
                _ => return Ok(ctx),
            },
        };
        ctx.fork = target != source;
        if ctx.fork {
            if here == Some(target) {
                ctx.notes.push("merge request from a fork, run in the parent project (as its members can): it has the parent's CI/CD variables".into());
            } else {
                ctx.secrets_withheld = Some(
                    "merge request from a fork: its pipeline runs in the fork's project (CI_PROJECT_ID is the source project), without this project's CI/CD variables; a member of this project can run it here instead"
                        .into(),
                );
            }
        }
    } else if v.ci_pipeline_source.as_deref() == Some("external_pull_request_event")
        || v.ci_external_pull_request_iid.is_some()
    {
        let missing = |name: &str| {
            ConfigError::new(name.to_owned(), "is not set, but this is an external pull request pipeline (CI_PIPELINE_SOURCE=external_pull_request_event)")
                .hint("GitLab sets CI_EXTERNAL_PULL_REQUEST_IID, _SOURCE_BRANCH_NAME and _TARGET_BRANCH_NAME in pipelines for GitHub pull requests")
        };
        let iid = v
            .ci_external_pull_request_iid
            .clone()
            .ok_or_else(|| missing("CI_EXTERNAL_PULL_REQUEST_IID"))?;
        let source = v
            .ci_external_pull_request_source_branch_name
            .clone()
            .ok_or_else(|| missing("CI_EXTERNAL_PULL_REQUEST_SOURCE_BRANCH_NAME"))?;
        let target = v
            .ci_external_pull_request_target_branch_name
            .clone()
            .ok_or_else(|| missing("CI_EXTERNAL_PULL_REQUEST_TARGET_BRANCH_NAME"))?;
        ctx.set_pull_request(iid, source, target);
        if let Some(sha) = &v.ci_external_pull_request_source_branch_sha {
            ctx.revision = Some(sha.clone());
        }
        ctx.base = Some(match &v.ci_external_pull_request_target_branch_sha {
            Some(sha) => BaseRef::Commit {
                sha: sha.clone(),
                source: "CI_EXTERNAL_PULL_REQUEST_TARGET_BRANCH_SHA".into(),
            },
            None => ctx.target_branch_base("CI_EXTERNAL_PULL_REQUEST_TARGET_BRANCH_NAME"),
        });
        ctx.fork = match (
            &v.ci_external_pull_request_source_repository,
            &v.ci_external_pull_request_target_repository,
        ) {
            (Some(s), Some(t)) => !s.eq_ignore_ascii_case(t),
            _ => false,
        };
    } else if let Some(tag) = &v.ci_commit_tag {
        ctx.set_tag(tag);
    } else if let Some(branch) = &v.ci_commit_branch {
        ctx.set_branch(branch);
    }
    Ok(ctx)
}
