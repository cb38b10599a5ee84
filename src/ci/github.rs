//! GitHub Actions: variables plus the event payload at `GITHUB_EVENT_PATH` (docs/sonar-facts.md §5).
//!
//! On pull requests `GITHUB_SHA` is the runner's test merge commit; the commit the user
//! pushed, which Sonar must be told about, is `pull_request.head.sha` in the payload.
//!
//! Two events build something other than `GITHUB_REF`:
//! - `merge_group`: a merge queue entry, a temporary `gh-readonly-queue/...` branch. Each
//!   would become a Sonar branch of its own, analysing code already analysed as its pull
//!   requests and analysed again on the target branch once merged: the scan is skipped, with a
//!   note (`Context::skip`).
//! - `workflow_run`: `GITHUB_REF` is the default branch, but the run follows another run whose
//!   code is `workflow_run.head_sha`: a pull request (`workflow_run.pull_requests`) or a branch
//!   (`workflow_run.head_branch`). A fork's pull request is not listed there, so its number is
//!   unknown: skipped unless the pull request properties are given by hand.
//!
//! Secrets (docs.github.com, "Using secrets in GitHub Actions", "Troubleshooting Dependabot on
//! GitHub Actions"): `pull_request` and its review events from a fork get none. Events that
//! Dependabot starts (`github.actor` is `dependabot[bot]`) get only Dependabot secrets for
//! `pull_request`, `pull_request_review`, `pull_request_review_comment`, `push`, `create`,
//! `deployment` and `deployment_status`, and none at all for `pull_request_target` when the
//! pull request's author is Dependabot. Every other event, and any event a person starts on a
//! Dependabot pull request, gets the repository's secrets.

use super::{classify_ref, BaseRef, CiKind, Context, GitRef, DEPENDABOT};
use crate::env::Env;
use crate::error::ConfigError;
use serde::Deserialize;

#[derive(Deserialize)]
struct Vars {
    github_event_name: Option<String>,
    github_event_path: Option<String>,
    github_ref: Option<String>,
    github_sha: Option<String>,
    github_repository: Option<String>,
    github_actor: Option<String>,
}

/// The parts of a webhook payload we read. Unknown fields are ignored: payloads are large
/// and GitHub adds fields freely. The event's own object is read only for its event (see
/// [`part`]): another event may carry a field of the same name with another shape (a
/// `deployment` has a `workflow_run`, often `null`).
#[derive(Deserialize, Default)]
struct Payload {
    number: Option<u64>,
    pull_request: Option<serde_json::Value>,
    repository: Option<Repo>,
    merge_group: Option<serde_json::Value>,
    workflow_run: Option<serde_json::Value>,
    issue: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct WorkflowRun {
    /// The event that started the run this one follows.
    event: Option<String>,
    head_branch: Option<String>,
    head_sha: String,
    #[serde(default)]
    pull_requests: Vec<RunPullRequest>,
    head_repository: Option<Repo>,
    repository: Option<Repo>,
}

/// A pull request as `workflow_run.pull_requests` lists it: no author, no repository names.
#[derive(Deserialize)]
struct RunPullRequest {
    number: u64,
    head: RunRef,
    base: RunRef,
}

#[derive(Deserialize)]
struct RunRef {
    #[serde(rename = "ref")]
    name: String,
    sha: Option<String>,
    repo: Option<RunRepo>,
}

/// A repository as `workflow_run.pull_requests` names it: by API URL only.
#[derive(Deserialize)]
struct RunRepo {
    url: Option<String>,
}

#[derive(Deserialize)]
struct PullRequestPayload {
    number: Option<u64>,
    head: Head,
    base: Head,
    user: Option<User>,
}

#[derive(Deserialize)]
struct Head {
    #[serde(rename = "ref")]
    name: String,
    sha: String,
    /// `null` when the fork was deleted.
    repo: Option<Repo>,
}

#[derive(Deserialize)]
struct Repo {
    full_name: Option<String>,
    default_branch: Option<String>,
}

#[derive(Deserialize)]
struct User {
    login: Option<String>,
}

impl Payload {
    fn issue_is_pull_request(&self) -> bool {
        self.issue
            .as_ref()
            .is_some_and(|i| i.get("pull_request").is_some_and(|p| !p.is_null()))
    }
}

#[derive(Deserialize)]
struct MergeGroup {
    head_sha: String,
    head_ref: String,
}

/// Event payloads can be large (a push with many commits), but GitHub caps webhook payloads
/// at 25 MB (docs.github.com, "Webhook events and payloads"). Streamed, so the cap bounds
/// the time spent, not memory.
const MAX_PAYLOAD_BYTES: usize = 25 << 20;

/// Events that, when Dependabot starts them, get only Dependabot secrets.
const DEPENDABOT_SECRETS_ONLY: [&str; 7] = [
    "pull_request",
    "pull_request_review",
    "pull_request_review_comment",
    "push",
    "create",
    "deployment",
    "deployment_status",
];

/// Events whose `GITHUB_REF` is always the default branch ("Events that trigger workflows").
const ON_DEFAULT_BRANCH: [&str; 18] = [
    "branch_protection_rule",
    "check_run",
    "check_suite",
    "discussion",
    "discussion_comment",
    "fork",
    "gollum",
    "issue_comment",
    "issues",
    "label",
    "milestone",
    "page_build",
    "public",
    "repository_dispatch",
    "schedule",
    "status",
    "watch",
    "workflow_run",
];

/// Events whose payload is a pull request.
const PULL_REQUEST_EVENTS: [&str; 4] = [
    "pull_request",
    "pull_request_target",
    "pull_request_review",
    "pull_request_review_comment",
];

pub fn read(env: &Env) -> Result<Context, ConfigError> {
    let vars: Vars = super::read_vars(env, "GitHub Actions")?;
    let event_name = vars.github_event_name.clone().unwrap_or_default();
    let is_pr_event = PULL_REQUEST_EVENTS.contains(&event_name.as_str());
    let payload = match &vars.github_event_path {
        Some(path) => load_payload(path, &event_name)?,
        None if is_pr_event => {
            return Err(ConfigError::new(
                "GITHUB_EVENT_PATH",
                format!("is not set, but the {event_name} event needs its payload (the pull request's number and head commit)"),
            )
            .hint("run inside a GitHub Actions job, or set GITHUB_EVENT_PATH to the event's JSON file"))
        }
        None => Payload::default(),
    };

    let actor_is_dependabot = vars.github_actor.as_deref() == Some(DEPENDABOT);
    let mut ctx = Context::new(CiKind::Github);
    ctx.repository = vars.github_repository.clone();
    ctx.trigger = vars.github_event_name.clone();
    ctx.default_branch = payload
        .repository
        .as_ref()
        .and_then(|r| r.default_branch.clone());
    if ctx.default_branch.is_none() && ON_DEFAULT_BRANCH.contains(&event_name.as_str()) {
        // The payload of a scheduled run names no repository, but GitHub documents that
        // these events run on the default branch: GITHUB_REF names it.
        if let Some(GitRef::Branch(b)) = vars.github_ref.as_deref().map(classify_ref) {
            ctx.default_branch = Some(b.to_owned());
        }
    }

    if is_pr_event {
        let pr: PullRequestPayload =
            part(&payload.pull_request, "pull_request", &vars, &event_name)?;
        let number = pr.number.or(payload.number).ok_or_else(|| {
            payload_error(
                vars.github_event_path.as_deref().unwrap_or_default(),
                "has no pull request number (\"number\" or \"pull_request.number\")",
            )
        })?;
        ctx.set_pull_request(number.to_string(), &pr.head.name, &pr.base.name);
        ctx.revision = Some(pr.head.sha.clone());
        ctx.base = Some(BaseRef::Commit {
            sha: pr.base.sha.clone(),
            source: "pull_request.base.sha in the event".into(),
        });
        let head_repo = pr.head.repo.as_ref().and_then(|r| r.full_name.as_deref());
        let base_repo = pr.base.repo.as_ref().and_then(|r| r.full_name.as_deref());
        ctx.fork = head_repo.is_none() || head_repo != base_repo;
        let author = pr.user.as_ref().and_then(|u| u.login.as_deref());
        ctx.dependabot = author == Some(DEPENDABOT) || actor_is_dependabot;
        if event_name == "pull_request_target" {
            ctx.notes.push(
                "pull_request_target runs in the base repository with its secrets; the workflow must check out the pull request's head commit for the scan to analyse it"
                    .into(),
            );
            if actor_is_dependabot && author == Some(DEPENDABOT) {
                ctx.secrets_withheld = Some("pull_request_target started by Dependabot on its own pull request: GitHub gives such runs a read-only GITHUB_TOKEN and no secrets at all (not even Dependabot secrets)".into());
            }
        } else if ctx.fork {
            ctx.secrets_withheld = Some(format!("pull request from a fork: GitHub gives {event_name} workflows from forks no secrets"));
        }
    } else if event_name == "merge_group" {
        let group: MergeGroup = part(&payload.merge_group, "merge_group", &vars, &event_name)?;
        // No branch is derived: a queue entry is no Sonar branch. A user who analyses it
        // anyway names the branch in the scanner's JSON parameters, and keeps that name.
        let branch = super::strip_heads(&group.head_ref);
        ctx.revision = Some(group.head_sha.clone());
        ctx.skip = Some(format!(
            "merge_group builds the merge queue's temporary branch {branch}: analysed, each entry would become a Sonar branch of its own, though its pull requests were analysed already and the target branch is analysed once they merge (set sonar.branch.name in SONAR_SCANNER_JSON_PARAMS to analyse it anyway)"
        ));
    } else if event_name == "workflow_run" {
        let run: WorkflowRun = part(&payload.workflow_run, "workflow_run", &vars, &event_name)?;
        read_workflow_run(&mut ctx, &run);
    } else {
        // push, workflow_dispatch, schedule, release, ...: the ref tells what was built.
        match vars.github_ref.as_deref().map(classify_ref) {
            Some(GitRef::Branch(b)) => ctx.set_branch(b),
            Some(GitRef::Tag(t)) => ctx.set_tag(t),
            Some(GitRef::Other(r)) => ctx
                .notes
                .push(format!("GITHUB_REF {r} is neither a branch nor a tag")),
            None => {}
        }
        ctx.revision = vars.github_sha.clone();
        if event_name == "issue_comment" && payload.issue_is_pull_request() {
            ctx.notes.push("issue_comment on a pull request: GITHUB_REF is the default branch, and that is what is analysed; a workflow that checks out the pull request must pass its sonar.pullrequest.* properties itself".into());
        }
    }
    if actor_is_dependabot {
        ctx.dependabot = true;
        if ctx.secrets_withheld.is_none() && DEPENDABOT_SECRETS_ONLY.contains(&event_name.as_str())
        {
            ctx.secrets_withheld = Some(format!(
                "{event_name} started by Dependabot: {DEPENDABOT_SECRETS}"
            ));
        }
    }
    Ok(ctx)
}

/// A `workflow_run` analyses what the run it follows built: that run's pull request, or its
/// branch, at `workflow_run.head_sha`.
fn read_workflow_run(ctx: &mut Context, run: &WorkflowRun) {
    ctx.revision = Some(run.head_sha.clone());
    let head_repo = run
        .head_repository
        .as_ref()
        .and_then(|r| r.full_name.as_deref());
    let repo = run.repository.as_ref().and_then(|r| r.full_name.as_deref());
    ctx.fork = head_repo.is_some() && head_repo != repo;
    let after = run.event.as_deref().unwrap_or("an unknown event");
    ctx.trigger = Some(format!("workflow_run after {after}"));
    if PULL_REQUEST_EVENTS.contains(&after) {
        // The list holds the open pull requests whose head is this branch, including ones
        // into other repositories (a fork's pull request upstream): only those into this
        // repository count, and of those the one whose head is the commit built.
        let ours: Vec<&RunPullRequest> = run
            .pull_requests
            .iter()
            .filter(|p| into_repository(p, repo))
            .collect();
        let pr = ours
            .iter()
            .find(|p| p.head.sha.as_deref() == Some(run.head_sha.as_str()))
            .or(ours.first());
        match pr {
            Some(pr) => {
                ctx.set_pull_request(pr.number.to_string(), &pr.head.name, &pr.base.name);
                ctx.base = Some(match &pr.base.sha {
                    Some(sha) => BaseRef::Commit {
                        sha: sha.clone(),
                        source: "workflow_run.pull_requests[].base.sha in the event".into(),
                    },
                    None => ctx.target_branch_base("workflow_run.pull_requests[].base.ref"),
                });
            }
            None => {
                ctx.skip = Some(format!(
                    "workflow_run after a {after} run{}: GitHub lists no pull request in the payload (it never does for forks), so its number is unknown; pass sonar.pullrequest.key, .branch and .base in SONAR_SCANNER_JSON_PARAMS (from an artifact of the run it follows) to analyse it",
                    head_repo.map(|r| format!(" from {r}")).unwrap_or_default()
                ));
            }
        }
    } else if let Some(branch) = &run.head_branch {
        if ctx.fork {
            ctx.skip = Some(format!("workflow_run after a {after} run in the fork {}: its branch {branch} is not a branch of this repository", head_repo.unwrap_or_default()));
        } else {
            ctx.set_branch(branch);
        }
    }
}

/// Whether a listed pull request goes into `repo` (`owner/name`), judged by its base's API
/// URL (`.../repos/owner/name`); one that names no URL is taken at its word.
fn into_repository(pr: &RunPullRequest, repo: Option<&str>) -> bool {
    match (pr.base.repo.as_ref().and_then(|r| r.url.as_deref()), repo) {
        (Some(url), Some(repo)) => url
            .to_ascii_lowercase()
            .ends_with(&format!("/repos/{}", repo.to_ascii_lowercase())),
        _ => true,
    }
}

/// Why a Dependabot-triggered build has no token, and where to put one.
const DEPENDABOT_SECRETS: &str = "GitHub gives such runs only Dependabot secrets (add the token under Settings → Secrets and variables → Dependabot)";

/// The event's own object in the payload, in the shape GitHub documents for the event.
fn part<T: serde::de::DeserializeOwned>(
    value: &Option<serde_json::Value>,
    name: &str,
    vars: &Vars,
    event_name: &str,
) -> Result<T, ConfigError> {
    let path = vars.github_event_path.as_deref().unwrap_or_default();
    let value = value.as_ref().filter(|v| v.is_object()).ok_or_else(|| {
        payload_error(
            path,
            &format!("has no \"{name}\" object, but the event is {event_name}"),
        )
    })?;
    T::deserialize(value).map_err(|e| {
        payload_error(
            path,
            &format!("has a \"{name}\" object not in the shape of a {event_name} event: {e}"),
        )
    })
}

fn payload_error(path: &str, problem: &str) -> ConfigError {
    ConfigError::new(format!("GITHUB_EVENT_PATH ({path})"), problem.to_owned())
        .hint("this file is written by the runner: make sure the job's event matches the workflow trigger and the file was not replaced")
}

fn load_payload(path: &str, event_name: &str) -> Result<Payload, ConfigError> {
    use std::io::BufRead;
    let source = format!("GITHUB_EVENT_PATH ({path})");
    // Streamed through the bounded reader into the few fields we keep, so a large payload
    // costs no memory, and a FIFO or a device is refused without blocking.
    let file = crate::read::stream(
        std::path::Path::new(path),
        &source,
        "the event payload",
        MAX_PAYLOAD_BYTES,
    )
    .map_err(|e| {
        ConfigError::from(e).hint("GITHUB_EVENT_PATH must name the event's JSON file, which the runner writes for every job")
    })?;
    let mut reader = std::io::BufReader::new(file);
    let first = loop {
        let buf = reader
            .fill_buf()
            .map_err(|e| ConfigError::new(&source, format!("cannot be read: {e}")))?;
        match buf.iter().position(|b| !b.is_ascii_whitespace()) {
            Some(i) => break Some(buf[i]),
            None if buf.is_empty() => break None,
            None => {
                let n = buf.len();
                reader.consume(n);
            }
        }
    };
    if first.is_some_and(|b| b != b'{') {
        return Err(ConfigError::new(&source, "is JSON but not an object"));
    }
    let mut de = serde_json::Deserializer::from_reader(reader);
    let payload = serde::Deserialize::deserialize(&mut de).and_then(|p| de.end().map(|()| p));
    payload.map_err(|e| {
        if e.is_io() {
            ConfigError::new(&source, format!("cannot be read: {e}"))
        } else if e.is_data() {
            ConfigError::new(
                &source,
                format!("does not have the shape of a {event_name} event: {e}"),
            )
            .hint("compare it with GitHub's documented webhook payload for this event")
        } else {
            ConfigError::new(&source, format!("is not valid JSON ({e})")).hint(
                "the runner writes this file as JSON; if you made it by hand, check its syntax",
            )
        }
    })
}
