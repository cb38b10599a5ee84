//! Where we run: which CI, and what it says about the build.
//!
//! One file per CI. Each reads its own variables (with `envy`, into a typed struct) and,
//! for GitHub, the event payload, and yields the common [`Context`]. Detection is by each
//! CI's documented marker variable (FACTS §5).

pub mod azure;
pub mod bitbucket;
pub mod github;
pub mod gitlab;
pub mod jenkins;
pub mod local;

use crate::env::Env;
use crate::error::ConfigError;
use serde::{de::DeserializeOwned, Serialize};
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CiKind {
    Github,
    Azure,
    Jenkins,
    Gitlab,
    Bitbucket,
    Local,
}

impl CiKind {
    pub fn describe(self) -> &'static str {
        match self {
            CiKind::Github => "GitHub Actions",
            CiKind::Azure => "Azure Pipelines",
            CiKind::Jenkins => "Jenkins",
            CiKind::Gitlab => "GitLab CI",
            CiKind::Bitbucket => "Bitbucket Pipelines",
            CiKind::Local => "local shell (no CI detected)",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    Branch,
    PullRequest,
    Tag,
    /// Nothing to tell: a detached checkout, or no git at all.
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PullRequest {
    /// The key Sonar knows the pull request by: its number (or Azure Repos id).
    pub key: String,
    pub source_branch: String,
    pub target_branch: String,
}

/// Everything scantoken needs to know about the build, from whichever CI runs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Context {
    pub ci: CiKind,
    /// `owner/name` or the CI's equivalent.
    pub repository: Option<String>,
    pub event: EventKind,
    /// The CI's own name for what triggered the build (`pull_request_target`, `PullRequest`,
    /// `merge_request_event`, ...), for messages.
    pub trigger: Option<String>,
    /// The branch built, for branch builds.
    pub branch: Option<String>,
    pub pull_request: Option<PullRequest>,
    pub tag: Option<String>,
    /// The commit the scan analyses (a PR's head commit, not a CI-made merge commit).
    pub revision: Option<String>,
    pub fork: bool,
    pub dependabot: bool,
    /// Why this CI withholds secrets from this build, if it does: the token will be empty
    /// and that is expected, not an error of configuration.
    pub secrets_withheld: Option<String>,
    pub default_branch: Option<String>,
    pub is_default_branch: Option<bool>,
    /// Facts worth telling the user (a trap this trigger is known for).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Context {
    /// A context with nothing known yet, for a CI reader to fill in.
    pub fn new(ci: CiKind) -> Self {
        Context {
            ci,
            repository: None,
            event: EventKind::Unknown,
            trigger: None,
            branch: None,
            pull_request: None,
            tag: None,
            revision: None,
            fork: false,
            dependabot: false,
            secrets_withheld: None,
            default_branch: None,
            is_default_branch: None,
            notes: Vec::new(),
        }
    }

    pub fn set_branch(&mut self, name: impl Into<String>) {
        self.event = EventKind::Branch;
        self.branch = Some(name.into());
    }

    pub fn set_tag(&mut self, name: impl Into<String>) {
        self.event = EventKind::Tag;
        self.tag = Some(name.into());
    }

    pub fn set_pull_request(
        &mut self,
        key: impl Into<String>,
        source: impl Into<String>,
        target: impl Into<String>,
    ) {
        self.event = EventKind::PullRequest;
        self.pull_request = Some(PullRequest {
            key: key.into(),
            source_branch: strip_heads(&source.into()).to_owned(),
            target_branch: strip_heads(&target.into()).to_owned(),
        });
    }

    /// Fills `is_default_branch` from what is known; call last.
    fn finish(mut self) -> Self {
        self.is_default_branch = match (self.event, &self.branch, &self.default_branch) {
            (EventKind::Branch, Some(b), Some(d)) => Some(b == d),
            (EventKind::PullRequest | EventKind::Tag, _, _) => Some(false),
            _ => None,
        };
        self
    }
}

/// Detects the CI by its marker variable and reads its context.
pub fn detect(env: &Env, cwd: &Path) -> Result<Context, ConfigError> {
    let ctx = if env.is("GITHUB_ACTIONS", "true") {
        github::read(env)?
    } else if env.is("TF_BUILD", "true") {
        azure::read(env)?
    } else if env.is("GITLAB_CI", "true") {
        gitlab::read(env)?
    } else if env.non_empty("JENKINS_URL").is_some() {
        jenkins::read(env)?
    } else if env.non_empty("BITBUCKET_COMMIT").is_some() {
        bitbucket::read(env)?
    } else {
        local::read(cwd)
    };
    Ok(ctx.finish())
}

/// Reads a CI's variables into its typed struct. Blank variables count as unset, as CIs set
/// many variables to the empty string when they do not apply.
fn read_vars<T: DeserializeOwned>(env: &Env, ci: &str) -> Result<T, ConfigError> {
    let set = env
        .iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| (k.clone(), v.trim().to_owned()));
    envy::from_iter(set).map_err(|e| ConfigError::new(format!("{ci} variables"), e.to_string()))
}

/// `refs/heads/main` → `main`; a short name stays as it is.
pub fn strip_heads(r: &str) -> &str {
    r.strip_prefix("refs/heads/").unwrap_or(r)
}

/// What a git ref names: a branch, a tag, or something else (`refs/pull/N/merge`).
pub enum GitRef<'a> {
    Branch(&'a str),
    Tag(&'a str),
    Other(&'a str),
}

pub fn classify_ref(r: &str) -> GitRef<'_> {
    if let Some(b) = r.strip_prefix("refs/heads/") {
        GitRef::Branch(b)
    } else if let Some(t) = r.strip_prefix("refs/tags/") {
        GitRef::Tag(t)
    } else if r.starts_with("refs/") {
        GitRef::Other(r)
    } else {
        GitRef::Branch(r)
    }
}

pub const DEPENDABOT: &str = "dependabot[bot]";
