//! Azure Pipelines (docs/sonar-facts.md §5). `TF_BUILD=True` marks it.
//!
//! A pull request's key is its number for GitHub repositories (`..._PULLREQUESTNUMBER`;
//! the `..._PULLREQUESTID` there is an internal id) and its id for Azure Repos.
//!
//! No predefined variable names the repository's default branch: the `default-branch`
//! option tells it (SonarSource's extension asks the Azure DevOps API for Azure Repos and
//! assumes `master` for other providers; we neither call that API nor guess).

use super::{classify_ref, CiKind, Context, GitRef};
use crate::env::Env;
use crate::error::ConfigError;
use serde::Deserialize;

#[derive(Deserialize)]
struct Vars {
    build_reason: Option<String>,
    build_sourcebranch: Option<String>,
    build_sourceversion: Option<String>,
    build_repository_name: Option<String>,
    build_repository_provider: Option<String>,
    system_pullrequest_pullrequestid: Option<String>,
    system_pullrequest_pullrequestnumber: Option<String>,
    system_pullrequest_sourcebranch: Option<String>,
    system_pullrequest_targetbranch: Option<String>,
    system_pullrequest_sourcecommitid: Option<String>,
    system_pullrequest_isfork: Option<String>,
}

pub fn read(env: &Env) -> Result<Context, ConfigError> {
    let v: Vars = super::read_vars(env, "Azure Pipelines")?;
    let mut ctx = Context::new(CiKind::Azure);
    ctx.repository = v.build_repository_name.clone();
    ctx.trigger = v.build_reason.clone();
    let provider = v.build_repository_provider.as_deref().unwrap_or_default();
    let is_github = provider.eq_ignore_ascii_case("GitHub")
        || provider.eq_ignore_ascii_case("GitHubEnterprise");
    let pr_key = if is_github {
        v.system_pullrequest_pullrequestnumber
            .clone()
            .or(v.system_pullrequest_pullrequestid.clone())
    } else {
        v.system_pullrequest_pullrequestid
            .clone()
            .or(v.system_pullrequest_pullrequestnumber.clone())
    };
    let is_pr = v
        .build_reason
        .as_deref()
        .is_some_and(|r| r.eq_ignore_ascii_case("PullRequest"))
        || pr_key.is_some();

    if is_pr {
        let missing = |name: &str| {
            ConfigError::new(
                name.to_owned(),
                "is not set, but this is a pull request build (BUILD_REASON=PullRequest)",
            )
            .hint("Azure Pipelines sets it on pull request validation builds; if you set BUILD_REASON yourself, set the SYSTEM_PULLREQUEST_* variables too")
        };
        let key = pr_key.ok_or_else(|| missing("SYSTEM_PULLREQUEST_PULLREQUESTID"))?;
        let source = v
            .system_pullrequest_sourcebranch
            .clone()
            .ok_or_else(|| missing("SYSTEM_PULLREQUEST_SOURCEBRANCH"))?;
        let target = v
            .system_pullrequest_targetbranch
            .clone()
            .ok_or_else(|| missing("SYSTEM_PULLREQUEST_TARGETBRANCH"))?;
        ctx.set_pull_request(key, source, target);
        ctx.revision = v
            .system_pullrequest_sourcecommitid
            .clone()
            .or(v.build_sourceversion.clone());
        if v.system_pullrequest_sourcecommitid.is_none() {
            ctx.notes.push("SYSTEM_PULLREQUEST_SOURCECOMMITID is not set: the revision is BUILD_SOURCEVERSION, which may be the merge commit".into());
        }
        ctx.base = Some(ctx.target_branch_base("SYSTEM_PULLREQUEST_TARGETBRANCH"));
        ctx.fork = v
            .system_pullrequest_isfork
            .as_deref()
            .is_some_and(|f| f.eq_ignore_ascii_case("true"));
        if ctx.fork {
            ctx.secrets_withheld = Some(
                "pull request from a fork: Azure Pipelines withholds secrets from fork builds unless the pipeline's \"Make secrets available to builds of forks\" is on"
                    .into(),
            );
        }
    } else {
        match v.build_sourcebranch.as_deref().map(classify_ref) {
            Some(GitRef::Branch(b)) => ctx.set_branch(b),
            Some(GitRef::Tag(t)) => ctx.set_tag(t),
            Some(GitRef::Other(r)) => ctx.notes.push(format!(
                "BUILD_SOURCEBRANCH {r} is neither a branch nor a tag"
            )),
            None => {}
        }
        ctx.revision = v.build_sourceversion.clone();
    }
    Ok(ctx)
}

/// A variable the agent sets for a service connection (a `connectedService:` input, whose
/// value is the endpoint id): `ENDPOINT_URL_<id>`, `ENDPOINT_AUTH_PARAMETER_<id>_APITOKEN`,
/// ... (docs/sonar-facts.md §6). `name` builds the variable's name from an id; the id is tried as given,
/// upper-cased, and upper-cased with `-` → `_`, the spellings agents are seen to use. The
/// first non-blank one found, with its name.
pub fn endpoint_variable(
    env: &Env,
    id: &str,
    name: impl Fn(&str) -> String,
) -> Option<(String, String)> {
    let id = id.trim();
    let upper = id.to_ascii_uppercase();
    [id.to_owned(), upper.clone(), upper.replace('-', "_")]
        .iter()
        .find_map(|spelling| {
            let var = name(spelling);
            let value = env.non_empty(&var)?.trim().to_owned();
            Some((var, value))
        })
}
