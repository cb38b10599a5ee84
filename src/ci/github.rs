//! GitHub Actions: variables plus the event payload at `GITHUB_EVENT_PATH` (FACTS §5).
//!
//! On pull requests `GITHUB_SHA` is the runner's test merge commit; the commit the user
//! pushed, which Sonar must be told about, is `pull_request.head.sha` in the payload.

use super::{classify_ref, CiKind, Context, GitRef, DEPENDABOT};
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
/// and GitHub adds fields freely.
#[derive(Deserialize, Default)]
struct Payload {
    number: Option<u64>,
    pull_request: Option<PullRequestPayload>,
    repository: Option<Repo>,
    merge_group: Option<MergeGroup>,
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

#[derive(Deserialize)]
struct MergeGroup {
    head_sha: String,
    head_ref: String,
}

/// Event payloads can be large (a push with many commits), but GitHub caps webhook payloads
/// at 25 MB (docs.github.com, "Webhook events and payloads"). Streamed, so the cap bounds
/// the time spent, not memory.
const MAX_PAYLOAD_BYTES: usize = 25 << 20;

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

    let mut ctx = Context::new(CiKind::Github);
    ctx.repository = vars.github_repository.clone();
    ctx.trigger = vars.github_event_name.clone();
    ctx.default_branch = payload
        .repository
        .as_ref()
        .and_then(|r| r.default_branch.clone());

    if is_pr_event {
        let Some(pr) = &payload.pull_request else {
            return Err(payload_error(
                vars.github_event_path.as_deref().unwrap_or_default(),
                &format!("has no \"pull_request\" object, but the event is {event_name}"),
            ));
        };
        let number = pr.number.or(payload.number).ok_or_else(|| {
            payload_error(
                vars.github_event_path.as_deref().unwrap_or_default(),
                "has no pull request number (\"number\" or \"pull_request.number\")",
            )
        })?;
        ctx.set_pull_request(number.to_string(), &pr.head.name, &pr.base.name);
        ctx.revision = Some(pr.head.sha.clone());
        let head_repo = pr.head.repo.as_ref().and_then(|r| r.full_name.as_deref());
        let base_repo = pr.base.repo.as_ref().and_then(|r| r.full_name.as_deref());
        ctx.fork = head_repo.is_none() || head_repo != base_repo;
        ctx.dependabot = pr.user.as_ref().and_then(|u| u.login.as_deref()) == Some(DEPENDABOT)
            || vars.github_actor.as_deref() == Some(DEPENDABOT);
        if event_name == "pull_request_target" {
            ctx.notes.push(
                "pull_request_target runs in the base repository with its secrets; the workflow must check out the pull request's head commit for the scan to analyse it"
                    .into(),
            );
        } else if ctx.fork {
            ctx.secrets_withheld = Some("pull request from a fork: GitHub gives workflows triggered by pull_request from forks no secrets".into());
        } else if ctx.dependabot {
            ctx.secrets_withheld = Some(format!("Dependabot pull request: {DEPENDABOT_SECRETS}"));
        }
    } else if event_name == "merge_group" {
        let Some(group) = &payload.merge_group else {
            return Err(payload_error(
                vars.github_event_path.as_deref().unwrap_or_default(),
                "has no \"merge_group\" object, but the event is merge_group",
            ));
        };
        let branch = super::strip_heads(&group.head_ref);
        ctx.set_branch(branch);
        ctx.revision = Some(group.head_sha.clone());
        ctx.notes.push(format!(
            "merge_group: analysed as a branch build of the merge queue's temporary branch {branch}"
        ));
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
    }
    // Not only pull requests: a push to a dependabot/** branch, a comment or a review that
    // Dependabot triggers runs with Dependabot secrets only as well. pull_request_target is
    // the documented exception (secrets are withheld only when Dependabot created the base
    // branch), and keeps its note.
    if vars.github_actor.as_deref() == Some(DEPENDABOT) {
        ctx.dependabot = true;
        if ctx.secrets_withheld.is_none() && event_name != "pull_request_target" {
            ctx.secrets_withheld = Some(format!(
                "build triggered by Dependabot ({event_name}): {DEPENDABOT_SECRETS}"
            ));
        }
    }
    Ok(ctx)
}

/// Why a Dependabot-triggered build has no token, and where to put one.
const DEPENDABOT_SECRETS: &str = "GitHub gives workflows that Dependabot triggers only Dependabot secrets (add the token under Settings → Secrets → Dependabot)";

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
