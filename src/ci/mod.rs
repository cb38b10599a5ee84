//! Where we run: which CI, and what it says about the build.
//!
//! One file per CI. Each reads its own variables (with `envy`, into a typed struct) and,
//! for GitHub, the event payload, and yields the common [`Context`]. This module owns
//! detection: each CI is recognised only by the whole set of markers its own documentation
//! guarantees (one stray `JENKINS_URL` in a Bitbucket pipeline must not make it Jenkins),
//! and the context records which markers decided. It also owns the default branch, which
//! decides whether a branch build gets `sonar.branch.name` (see `export`). It reads no
//! options except the default branch, and never the token.

pub mod azure;
pub mod bitbucket;
pub mod github;
pub mod gitlab;
pub mod jenkins;
pub mod local;

use crate::env::Env;
use crate::error::ConfigError;
use crate::inputs::Sourced;
use serde::{de::DeserializeOwned, Serialize};
use std::collections::BTreeMap;
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
    /// The marker variables that identified the CI (`TF_BUILD=True`, or `JENKINS_URL`,
    /// `EXECUTOR_NUMBER`, `BUILD_NUMBER`), so a user can see why this CI was chosen.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub detected_by: Vec<String>,
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
    /// Where the default branch's name came from (the CI, the `default-branch` option, the
    /// workspace's `origin/HEAD`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_branch_source: Option<String>,
    pub is_default_branch: Option<bool>,
    /// Why this build should not be analysed at all (a merge queue entry): `export` then
    /// exits 0 and exports nothing, saying so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip: Option<String>,
    /// Facts worth telling the user (a trap this trigger is known for).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Where a pull request's base is, as this CI names it: the commit whose files the
    /// pull request changes, read by the trust check (`trust`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base: Option<BaseRef>,
}

/// A pull request's base, as the CI gives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum BaseRef {
    /// A commit the CI names: GitHub's `pull_request.base.sha`, GitLab's
    /// `CI_MERGE_REQUEST_DIFF_BASE_SHA`.
    Commit { sha: String, source: String },
    /// The target branch, as the checkout fetched it (`refs/remotes/origin/<branch>`); else,
    /// when the checkout is the CI's merge commit, that commit's first parent (Azure
    /// Pipelines and Jenkins build the merge of the pull request into its target).
    TargetBranch { branch: String, source: String },
}

impl Context {
    /// A context with nothing known yet, for a CI reader to fill in.
    pub fn new(ci: CiKind) -> Self {
        Context {
            ci,
            detected_by: Vec::new(),
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
            default_branch_source: None,
            is_default_branch: None,
            skip: None,
            notes: Vec::new(),
            base: None,
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

    /// The pull request's target branch as its base (`source` names the variable that
    /// gave it), for CIs that name no base commit.
    pub fn target_branch_base(&self, source: &str) -> BaseRef {
        BaseRef::TargetBranch {
            branch: self
                .pull_request
                .as_ref()
                .map(|pr| pr.target_branch.clone())
                .unwrap_or_default(),
            source: source.to_owned(),
        }
    }

    /// Settles the default branch (the `default-branch` option wins over the CI, which wins
    /// over the workspace's `origin/HEAD`) and fills `is_default_branch`; call last.
    fn finish(mut self, option: Option<&Sourced<String>>, cwd: &Path) -> Self {
        if self.default_branch.is_some() && self.default_branch_source.is_none() {
            self.default_branch_source = Some(format!("{} variables", self.ci.describe()));
        }
        if let Some(option) = option {
            let named = strip_heads(&option.value).to_owned();
            if let Some(ci) = self.default_branch.as_ref().filter(|ci| **ci != named) {
                self.notes.push(format!(
                    "the default branch is {named} ({}), though {} says {ci}: builds of {named} are analysed as the Sonar project's main branch",
                    option.source,
                    self.ci.describe()
                ));
            }
            self.default_branch = Some(named);
            self.default_branch_source = Some(option.source.to_string());
        } else if self.default_branch.is_none() && self.ci != CiKind::Local {
            // Checkouts made by `git clone` know the remote's default branch; the fetch-only
            // checkouts of Azure Pipelines and the Jenkins git plugin usually do not.
            if let Some(d) = local::origin_head(cwd) {
                self.default_branch = Some(d);
                self.default_branch_source =
                    Some("the workspace's git (refs/remotes/origin/HEAD)".into());
            }
        }
        self.is_default_branch = match (self.event, &self.branch, &self.default_branch) {
            (EventKind::Branch, Some(b), Some(d)) => Some(b == d),
            (EventKind::PullRequest | EventKind::Tag, _, _) => Some(false),
            _ => None,
        };
        if self.event == EventKind::Branch && self.default_branch.is_none() {
            self.notes.push(format!(
                "{} does not say which branch is the default: this branch build gets sonar.branch.name, which Sonar matches by name to the project's main branch; name it with default-branch (--default-branch, SCANTOKEN_DEFAULT_BRANCH) so its builds carry no branch property, as SonarQube Community Build needs",
                self.ci.describe()
            ));
        }
        self
    }
}

/// A marker: a variable that must be set, or set to a value (ignoring ASCII case).
#[derive(Clone, Copy)]
enum Marker {
    Set(&'static str),
    Is(&'static str, &'static str),
}

impl Marker {
    fn holds(self, env: &Env) -> bool {
        match self {
            Marker::Set(name) => env.non_empty(name).is_some(),
            Marker::Is(name, value) => env.is(name, value),
        }
    }

    fn name(self) -> String {
        match self {
            Marker::Set(name) => name.to_owned(),
            Marker::Is(name, value) => format!("{name}={value}"),
        }
    }

    /// `CI=true` is set by every CI: alone it hints at none.
    fn is_generic(self) -> bool {
        matches!(self, Marker::Is("CI", _))
    }
}

/// Each CI's markers, in the order tried: every group must hold, a group by any of its
/// alternatives. The variables each CI's documentation says it always sets:
/// - GitHub Actions, "Variables reference": `GITHUB_ACTIONS` "always set to true".
/// - Azure Pipelines, "Use predefined variables": `TF_BUILD` "set to True" by the agent.
/// - GitLab CI, "Predefined CI/CD variables": `GITLAB_CI` "true" in every job.
/// - Bitbucket Pipelines, "Variables and secrets": `CI` "true", `BITBUCKET_BUILD_NUMBER`,
///   `BITBUCKET_COMMIT`, all default variables of every step.
/// - Jenkins, "Building a software project": `BUILD_NUMBER`, `EXECUTOR_NUMBER` and
///   `JENKINS_URL` (only when the root URL is configured, so `JENKINS_HOME` too). SonarSource's
///   scanner engine also wants `EXECUTOR_NUMBER` beside `JENKINS_URL`, which "can easily be
///   used on a non-Jenkins job". Jenkins comes last: its variable names are the most generic.
const MARKERS: [(CiKind, &[&[Marker]]); 5] = [
    (CiKind::Github, &[&[Marker::Is("GITHUB_ACTIONS", "true")]]),
    (CiKind::Azure, &[&[Marker::Is("TF_BUILD", "true")]]),
    (CiKind::Gitlab, &[&[Marker::Is("GITLAB_CI", "true")]]),
    (
        CiKind::Bitbucket,
        &[
            &[Marker::Set("BITBUCKET_BUILD_NUMBER")],
            &[Marker::Set("BITBUCKET_COMMIT")],
            &[Marker::Is("CI", "true")],
        ],
    ),
    (
        CiKind::Jenkins,
        &[
            &[Marker::Set("JENKINS_URL"), Marker::Set("JENKINS_HOME")],
            &[Marker::Set("EXECUTOR_NUMBER")],
            &[Marker::Set("BUILD_NUMBER")],
        ],
    ),
];

/// How one CI's markers fare in this environment.
struct Match {
    ci: CiKind,
    present: Vec<String>,
    missing: Vec<String>,
    hinted: bool,
}

fn match_markers(env: &Env) -> Vec<Match> {
    MARKERS
        .iter()
        .map(|(ci, groups)| {
            let mut m = Match {
                ci: *ci,
                present: Vec::new(),
                missing: Vec::new(),
                hinted: false,
            };
            for group in *groups {
                match group.iter().find(|marker| marker.holds(env)) {
                    Some(marker) => {
                        m.hinted |= !marker.is_generic();
                        m.present.push(marker.name());
                    }
                    None => m.missing.push(
                        group
                            .iter()
                            .map(|marker| marker.name())
                            .collect::<Vec<_>>()
                            .join(" or "),
                    ),
                }
            }
            m
        })
        .collect()
}

/// Detects the CI by its guaranteed markers and reads its context. `default_branch` is the
/// `default-branch` option, if given.
pub fn detect(
    env: &Env,
    cwd: &Path,
    default_branch: Option<&Sourced<String>>,
) -> Result<Context, ConfigError> {
    let matches = match_markers(env);
    let mut found = matches.iter().filter(|m| m.missing.is_empty());
    let chosen = found.next();
    let others: Vec<String> = found
        .map(|m| format!("{} ({})", m.ci.describe(), m.present.join(", ")))
        .collect();
    let mut ctx = match chosen.map(|m| m.ci) {
        Some(CiKind::Github) => github::read(env)?,
        Some(CiKind::Azure) => azure::read(env)?,
        Some(CiKind::Gitlab) => gitlab::read(env)?,
        Some(CiKind::Bitbucket) => bitbucket::read(env)?,
        Some(CiKind::Jenkins) => jenkins::read(env, cwd)?,
        Some(CiKind::Local) | None => local::read(cwd),
    };
    if let Some(m) = chosen {
        ctx.detected_by = m.present.clone();
        let missing: Vec<&str> = standard_variables(m.ci)
            .iter()
            .copied()
            .filter(|v| env.non_empty(v).is_none())
            .collect();
        if !missing.is_empty() {
            ctx.notes.push(format!(
                "{} sets {} in every job, but here they are not set: the branch, pull request or revision may be unknown (is this a real {} job, or a copied environment?)",
                m.ci.describe(),
                missing.join(", "),
                m.ci.describe()
            ));
        }
    }
    if !others.is_empty() {
        ctx.notes.push(format!(
            "the markers of {} are set too: {} was chosen, being tried first",
            others.join(", "),
            ctx.ci.describe()
        ));
    }
    for near in matches
        .iter()
        .filter(|m| !m.missing.is_empty() && m.hinted && Some(m.ci) != chosen.map(|c| c.ci))
    {
        ctx.notes.push(format!(
            "{} is set but {} is not: not {} (it sets all of them)",
            near.present.join(", "),
            near.missing.join(", "),
            near.ci.describe()
        ));
    }
    Ok(ctx.finish(default_branch, cwd))
}

/// The variables each CI documents for every job (docs/sonar-facts.md §5): with a CI's markers but without
/// these, the context is mostly guesswork, and the user is told.
fn standard_variables(ci: CiKind) -> &'static [&'static str] {
    match ci {
        CiKind::Github => &[
            "GITHUB_EVENT_NAME",
            "GITHUB_EVENT_PATH",
            "GITHUB_REF",
            "GITHUB_SHA",
            "GITHUB_REPOSITORY",
        ],
        CiKind::Azure => &[
            "BUILD_SOURCEBRANCH",
            "BUILD_SOURCEVERSION",
            "BUILD_REPOSITORY_PROVIDER",
        ],
        CiKind::Gitlab => &["CI_PIPELINE_SOURCE", "CI_COMMIT_SHA", "CI_PROJECT_PATH"],
        CiKind::Bitbucket => &["BITBUCKET_REPO_FULL_NAME"],
        CiKind::Jenkins | CiKind::Local => &[],
    }
}

/// Why the build should not be analysed, unless the user already set the branch or pull
/// request properties by hand in the scanner's JSON parameters (then they know better).
pub fn skip_reason(
    ctx: &Context,
    json_params: Option<&BTreeMap<String, String>>,
) -> Option<String> {
    let by_hand = json_params.is_some_and(|p| {
        p.contains_key("sonar.pullrequest.key") || p.contains_key("sonar.branch.name")
    });
    ctx.skip.clone().filter(|_| !by_hand)
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
