//! Probing every (project, token) pair with `verify`'s probes and decision table.
//!
//! The probes whose answer does not depend on the project are asked once: the server's
//! version (Server) once per audit, the token's validity once per token. A token the server
//! rejects (or a server that is not Sonar, or cannot be reached) decides all of its pairs
//! from those answers, so no request is spent on them. Every other pair gets its own
//! project and scan probes, concurrently, through the client's shared [`super::budget`];
//! [`crate::sonar::conclude`] decides each pair from its own answers and the shared ones,
//! exactly as `verify` would. One deadline bounds the whole run: a pair not decided by then
//! is reported as `not-checked`.

use super::spill::{PairRecord, Spill};
use super::{NoToken, Plan, Progress};
use crate::output::Output;
use crate::secret::Token;
use crate::sonar::client::{Client, Exchange};
use crate::sonar::plan::{self, Probe, Role};
use crate::sonar::{self, ProbeReport, Scan, Verdict};
use std::time::{Duration, Instant, SystemTime};
use tokio::task::JoinSet;
use url::Url;

/// The verdict name for a pair the deadline cut short.
pub const NOT_CHECKED: &str = "not-checked";

/// One pair's result: the verdict, its evidence (limited to the pair's own probes; the shared
/// probes are in [`Outcome`]) stored in the spill file, or `None` when the deadline came first.
pub type PairResult = Option<PairRecord>;

pub struct Outcome {
    pub started_at: SystemTime,
    pub elapsed: Duration,
    /// The Server flavor's `api/server/version`, asked once.
    pub server_probe: Option<ProbeReport>,
    /// Each token's `api/authentication/validate`, by token index.
    pub token_probes: Vec<Option<ProbeReport>>,
    /// Whether the server called each token valid (`None`: not known).
    pub token_valid: Vec<Option<bool>>,
    /// `SonarQube-Authentication-Token-Expiration`, by token index, when the server sent it.
    pub token_expiration: Vec<Option<String>>,
    /// By `project × tokens + token`.
    pub pairs: Vec<PairResult>,
    pub deadline_reached: bool,
}

type Answered = (Probe, Url, Exchange);

fn scan<'a>(plan: &'a Plan, project: Option<usize>, token: usize) -> Scan<'a> {
    let p = project.map(|p| &plan.projects[p]);
    Scan {
        target: &plan.target,
        project_key: p.map(|p| p.key.as_str()).unwrap_or_default(),
        organization: p.and_then(|p| p.organization.as_deref()),
        token: &plan.tokens[token].credential.token,
        token_source: &plan.tokens[token].credential.source,
        expiry_warning_days: plan.expiry_warning_days,
    }
}

/// Whether the shared answers leave the pair's own probes something to tell: the server is
/// Sonar and answered, and the token is not rejected.
fn usable(shared: &[Answered]) -> bool {
    shared.iter().all(|(p, _, e)| match &e.result {
        Err(_) => false,
        Ok(a) => {
            let bad_status = a.status == 429 || a.status >= 500 || a.status == 401;
            let not_sonar = p.role == Role::Server
                && (a.status != 200
                    || a.content_type
                        .as_deref()
                        .is_some_and(|c| c.contains("html")));
            let invalid = p.role == Role::Token
                && a.json
                    .as_ref()
                    .and_then(|j| j.get("valid"))
                    .and_then(|v| v.as_bool())
                    == Some(false);
            !(bad_status || not_sonar || invalid)
        }
    })
}

/// The deadline's verdict for a pair.
pub fn not_checked(deadline: Duration) -> Verdict {
    Verdict {
        verdict: sonar::VerdictKind::Unreachable,
        cause: format!(
            "the audit's deadline ({} s) passed before this pair was decided",
            deadline.as_secs()
        ),
        next_step: "run the audit again with a longer --deadline, a higher --concurrency, or fewer projects".into(),
        probes: Vec::new(),
        warnings: Vec::new(),
        server_version: None,
    }
}

/// A decided pair: redacted, its evidence stored, its cause kept when a report line prints
/// it (a failing pair of the token CI uses).
fn record(
    spill: &mut Spill,
    out: &Output,
    plan: &Plan,
    p: usize,
    t: usize,
    mut v: Verdict,
) -> PairRecord {
    out.redact_verdict(&mut v);
    let ci_pair = match &plan.projects[p].token {
        Ok(ci) => *ci == t,
        Err(NoToken::NoDefault) => true,
        Err(_) => false,
    };
    PairRecord::store(spill, v, ci_pair)
}

pub async fn probe_all(
    plan: &Plan,
    client: &Client,
    progress: Progress,
    out: &mut Output<'_>,
    spill: &mut Spill,
) -> Outcome {
    let started_at = SystemTime::now();
    let start = Instant::now();
    let deadline = tokio::time::Instant::now() + plan.deadline;
    let probes = plan::for_flavor(plan.target.flavor);
    let shared_roles = |p: &&Probe| matches!(p.role, Role::Server | Role::Token);
    let own: Vec<Probe> = probes
        .iter()
        .filter(|p| !shared_roles(p))
        .copied()
        .collect();
    let n_tokens = plan.tokens.len();
    let mut outcome = Outcome {
        started_at,
        elapsed: Duration::ZERO,
        server_probe: None,
        token_probes: vec![None; n_tokens],
        token_valid: vec![None; n_tokens],
        token_expiration: vec![None; n_tokens],
        pairs: vec![None; plan.projects.len() * n_tokens],
        deadline_reached: false,
    };
    if n_tokens == 0 {
        outcome.elapsed = start.elapsed();
        return outcome;
    }

    // 1. The shared probes: the server once, each token once.
    let mut first = JoinSet::new();
    for probe in probes.iter().filter(shared_roles) {
        let targets: Vec<Option<usize>> = match probe.role {
            Role::Server => vec![None],
            _ => (0..n_tokens).map(Some).collect(),
        };
        for t in targets {
            let url = sonar::probe_url(&scan(plan, None, t.unwrap_or(0)), probe);
            let token = t
                .filter(|_| probe.authenticated)
                .map(|t| plan.tokens[t].credential.token.clone());
            let (client, probe) = (client.clone(), *probe);
            first.spawn(async move {
                let e = client
                    .get(&url, token.as_ref(), probe.status_only_on_success)
                    .await;
                (t, (probe, url, e))
            });
        }
    }
    let mut server: Option<Answered> = None;
    let mut per_token: Vec<Option<Answered>> = vec![None; n_tokens];
    loop {
        match tokio::time::timeout_at(deadline, first.join_next()).await {
            Ok(Some(Ok((t, answered)))) => match t {
                None => server = Some(answered),
                Some(t) => per_token[t] = Some(answered),
            },
            Ok(Some(Err(_))) => {}
            Ok(None) => break,
            Err(_) => {
                outcome.deadline_reached = true;
                first.abort_all();
                break;
            }
        }
    }
    let shared_for = |t: usize| -> Option<Vec<Answered>> {
        let mut v: Vec<Answered> = server.iter().cloned().collect();
        v.push(per_token[t].clone()?);
        if probes.iter().any(|p| p.role == Role::Server) && server.is_none() {
            return None;
        }
        Some(v)
    };
    for t in 0..n_tokens {
        let Some(shared) = shared_for(t) else {
            continue;
        };
        // The shared probes' evidence, once: from a verdict on them alone.
        let v = sonar::conclude(&scan(plan, None, t), &shared, client.proxy());
        for report in v.probes {
            match report.role {
                Role::Server => outcome.server_probe = Some(report),
                _ => outcome.token_probes[t] = Some(report),
            }
        }
        let (_, _, e) = shared.last().expect("the token probe");
        if let Ok(a) = &e.result {
            outcome.token_expiration[t] = a.token_expiration.clone();
            outcome.token_valid[t] = match a.json.as_ref().and_then(|j| j.get("valid")) {
                Some(v) => v.as_bool(),
                None if a.status == 401 => Some(false),
                None => None,
            };
        }
    }

    // 2. The pairs: decided from the shared answers alone, or probed.
    let total = plan.projects.len() * n_tokens;
    let mut done = 0usize;
    let mut jobs: Vec<(usize, usize)> = Vec::new();
    for (p, project) in plan.projects.iter().enumerate() {
        for t in 0..n_tokens {
            let Some(shared) = shared_for(t) else {
                outcome.pairs[p * n_tokens + t] =
                    Some(record(spill, out, plan, p, t, not_checked(plan.deadline)));
                done += 1;
                continue;
            };
            let s = scan(plan, Some(p), t);
            if plan.target.flavor.is_cloud() && project.organization.is_none() {
                let v = Verdict::new(
                    sonar::VerdictKind::OrganizationMismatch,
                    format!(
                        "no organization is set for {}, and {} needs one",
                        project.key,
                        plan.target.flavor.describe()
                    ),
                    "pass --organization, set SONAR_ORGANIZATION, or give the token map rule an organization",
                );
                outcome.pairs[p * n_tokens + t] = Some(record(spill, out, plan, p, t, v));
                done += 1;
            } else if !usable(&shared) {
                let mut v = sonar::conclude(&s, &shared, client.proxy());
                v.probes.clear();
                v.warnings.clear();
                outcome.pairs[p * n_tokens + t] = Some(record(spill, out, plan, p, t, v));
                done += 1;
            } else {
                jobs.push((p, t));
            }
        }
    }
    let cap = plan.concurrency * 2;
    let mut running = JoinSet::new();
    let mut jobs = jobs.into_iter();
    let mut ticker = tokio::time::interval(match progress {
        Progress::Bar => Duration::from_millis(200),
        _ => Duration::from_secs(5),
    });
    ticker.tick().await;
    let mut drawn = false;
    loop {
        while running.len() < cap {
            let Some((p, t)) = jobs.next() else {
                break;
            };
            let shared = shared_for(t).expect("a job's token has its shared answers");
            let urls: Vec<(Probe, Url)> = {
                let s = scan(plan, Some(p), t);
                own.iter()
                    .map(|probe| (*probe, sonar::probe_url(&s, probe)))
                    .collect()
            };
            let token = plan.tokens[t].credential.token.clone();
            let client = client.clone();
            running.spawn(async move {
                let probed = tokio::time::timeout_at(deadline, get_all(&client, &token, &urls))
                    .await
                    .ok();
                let answered = probed.map(|exchanges| {
                    let mut all = shared;
                    all.extend(urls.into_iter().zip(exchanges).map(|((p, u), e)| (p, u, e)));
                    all
                });
                (p, t, answered)
            });
        }
        tokio::select! {
            joined = running.join_next() => {
                let Some(joined) = joined else { break };
                let Ok((p, t, answered)) = joined else { continue };
                let verdict = match answered {
                    Some(answered) => {
                        let mut v = sonar::conclude(&scan(plan, Some(p), t), &answered, client.proxy());
                        v.probes.retain(|r| !matches!(r.role, Role::Server | Role::Token));
                        v.warnings.clear();
                        v
                    }
                    None => {
                        outcome.deadline_reached = true;
                        not_checked(plan.deadline)
                    }
                };
                outcome.pairs[p * n_tokens + t] = Some(record(spill, out, plan, p, t, verdict));
                done += 1;
            }
            _ = ticker.tick() => {
                show_progress(out, progress, done, total, start.elapsed(), &mut drawn);
            }
        }
    }
    if drawn {
        // End the bar's line.
        let _ = out.raw_streams().1.write_all(b"\n");
    }
    if outcome.deadline_reached {
        for (i, pair) in outcome.pairs.iter_mut().enumerate() {
            if pair.is_none() {
                let (p, t) = (i / n_tokens, i % n_tokens);
                *pair = Some(record(spill, out, plan, p, t, not_checked(plan.deadline)));
            }
        }
    }
    outcome.elapsed = start.elapsed();
    if progress != Progress::Off && outcome.elapsed >= Duration::from_secs(5) {
        out.say(&format!(
            "audit: {total} pair(s) decided in {:.1} s",
            outcome.elapsed.as_secs_f64()
        ));
    }
    outcome
}

/// A pair's own probes, all at once.
async fn get_all(client: &Client, token: &Token, urls: &[(Probe, Url)]) -> Vec<Exchange> {
    let get = |i: usize| {
        let (probe, url) = &urls[i];
        client.get(url, Some(token), probe.status_only_on_success)
    };
    match urls.len() {
        2 => {
            let (x, y) = tokio::join!(get(0), get(1));
            vec![x, y]
        }
        n => {
            let mut v = Vec::with_capacity(n);
            for i in 0..n {
                v.push(get(i).await);
            }
            v
        }
    }
}

/// The progress indicator: a bar redrawn in place on a terminal (our own counts only, so it
/// goes past the line filter, which would escape the carriage return), a line otherwise.
fn show_progress(
    out: &mut Output,
    progress: Progress,
    done: usize,
    total: usize,
    elapsed: Duration,
    drawn: &mut bool,
) {
    let share = if total == 0 {
        1.0
    } else {
        done as f64 / total as f64
    };
    match progress {
        Progress::Off | Progress::Auto => {}
        Progress::Lines => out.say(&format!(
            "audit: {done} of {total} pair(s) decided ({:.0} %), {:.0} s elapsed",
            share * 100.0,
            elapsed.as_secs_f64()
        )),
        Progress::Bar => {
            let width = 30;
            let filled = (share * width as f64) as usize;
            let bar = format!(
                "\r\x1b[K[{}{}] {done}/{total} pairs, {:.1} s",
                "#".repeat(filled),
                "-".repeat(width - filled),
                elapsed.as_secs_f64()
            );
            let _ = out.raw_streams().1.write_all(bar.as_bytes());
            *drawn = true;
        }
    }
}
