//! `scantoken verify`: check the project and report the verdict; nothing is exported.

use super::edition::{edition_policy, EditionOutcome};
use super::project::{check_logged, check_projects, context_and_target, projects, Stages};
use super::{Failure, Policies};
use crate::credential::Credential;
use crate::env::Env;
use crate::error::Exit;
use crate::output::Output;
use crate::report::{self, safe};
use crate::settings::Settings;
use crate::sonar::VerdictKind;
use std::path::Path;

pub fn verify(
    settings: &Settings,
    json: bool,
    env: &Env,
    cwd: &Path,
    out: &mut Output,
) -> Result<Exit, Failure> {
    if settings.projects.is_some() {
        return verify_projects(settings, json, env, cwd, out);
    }
    let stages = context_and_target(settings, env, cwd, None)?;
    let checked = check_logged(&stages.resolved(settings), env, cwd, false, out)?;
    let Stages {
        ctx,
        scanner,
        trust,
        ..
    } = stages;
    let target = checked.target.clone();
    let mut verdict = checked.verdict.expect("verify always verifies");
    if verdict.verdict == VerdictKind::Ok {
        // verify exports nothing: say how the scan gets the token.
        verdict.next_step = OK_NEXT_STEP.into();
    }
    if verdict.verdict == VerdictKind::Ok {
        match edition_policy(&ctx, &target, &scanner, &verdict) {
            Some(EditionOutcome::Warn(w)) => verdict.warnings.push(w),
            Some(EditionOutcome::Skip(why)) => {
                verdict.next_step = format!("nothing for this build: export and run skip its scan (exit 0, nothing exported): {why}");
            }
            Some(EditionOutcome::Refuse(e)) => {
                verdict.next_step =
                    format!("export and run will stop with exit 2 until this is fixed: {e}");
            }
            None => {}
        }
    }
    let policies = Policies::of(settings, &ctx);
    let exit = policies.exit(&verdict);
    if json {
        let json = serde_json::json!({
            "verdict": verdict.verdict.name(),
            "exit_code": exit.code(),
            "cause": verdict.cause,
            "next_step": verdict.next_step,
            "warnings": verdict.warnings,
            "probes": verdict.probes,
            "token": checked.credential.as_ref().map(token_json),
            "context": ctx,
            "target": target,
            "trust": trust,
        });
        out.json(&json)?;
    } else {
        out.say(&report::context_text(&ctx, &trust.decision));
        out.say(&report::target_text(&target));
        if let Some(c) = &checked.credential {
            out.say(&format!("Token: {}", safe(&c.describe())));
        }
        out.report(&format!("{}\n", report::verdict_text(&verdict)))?;
    }
    // With --json, stdout is one JSON document (the verdict is in it): no annotation.
    if exit != Exit::Ok && !json {
        out.annotate(
            "error",
            &format!("{}: {}", verdict.verdict.name(), verdict.cause),
        );
    }
    Ok(exit)
}

pub(super) fn token_json(c: &Credential) -> serde_json::Value {
    serde_json::json!({
        "source": c.source.to_string(),
        "kind": c.token.kind(),
        "fingerprint": c.token.fingerprint(),
    })
}

/// What verify says of an `ok`: verify exports nothing, so how the scan gets the token.
const OK_NEXT_STEP: &str = "hand the scan its token: scantoken run -- <scan command> verifies and runs it, or scantoken export writes the variables for the steps that follow";

/// `verify --projects`: every project's probes in one wave; a row per project (directory,
/// key, token, verdict, cause), in the CI's summary too; the worst verdict's exit code.
fn verify_projects(
    settings: &Settings,
    json: bool,
    env: &Env,
    cwd: &Path,
    out: &mut Output,
) -> Result<Exit, Failure> {
    let projects = projects(settings, env, cwd, None)?;
    let checked = check_projects(settings, &projects, env, cwd, false, out)?;
    let ctx = &projects[0].stages.ctx;
    let policies = Policies::of(settings, ctx);
    let mut rows = Vec::new();
    let mut exit = Exit::Ok;
    for (project, checked) in projects.iter().zip(&checked) {
        let mut verdict = checked.verdict.clone().expect("verify always verifies");
        if verdict.verdict == VerdictKind::Ok {
            verdict.next_step = OK_NEXT_STEP.into();
        }
        let code = policies.exit(&verdict);
        exit = exit.worse(code);
        rows.push((project, checked, verdict, code));
    }
    let table: Vec<[String; 5]> = rows
        .iter()
        .map(|(p, c, v, _)| project_row(p, c, v))
        .collect();
    if json {
        let list: Vec<serde_json::Value> = rows
            .iter()
            .map(|(p, c, v, code)| {
                serde_json::json!({
                    "directory": p.dir.as_ref().map(|d| d.dir.as_str()),
                    "project_key": c.target.project_key.as_ref().map(|k| k.value.as_str()),
                    "verdict": v.verdict.name(),
                    "exit_code": code.code(),
                    "cause": v.cause,
                    "next_step": v.next_step,
                    "warnings": v.warnings,
                    "probes": v.probes,
                    "token": c.credential.as_ref().map(token_json),
                    "target": c.target,
                    "trust": p.stages.trust,
                })
            })
            .collect();
        out.json(&serde_json::json!({
            "exit_code": exit.code(),
            "context": ctx,
            "projects": list,
        }))?;
    } else {
        out.say(&report::context_text(
            ctx,
            &projects[0].stages.trust.decision,
        ));
        out.report(&report::projects_table(&table))?;
        for ((_, c, v, code), row) in rows.iter().zip(&table) {
            if *code != Exit::Ok || v.verdict != VerdictKind::Ok {
                out.report(&format!(
                    "{} ({}): {}\n",
                    row[0],
                    c.target
                        .project_key
                        .as_ref()
                        .map(|k| safe(&k.value))
                        .unwrap_or_default(),
                    report::verdict_text(v)
                ))?;
            }
        }
    }
    super::publish_summary(env, ctx.ci, &report::projects_markdown(&table), json, out);
    if !json {
        for (p, _, v, code) in &rows {
            if *code != Exit::Ok {
                out.annotate(
                    "error",
                    &format!(
                        "{}: {}: {}",
                        p.dir.as_ref().map(|d| d.dir.as_str()).unwrap_or("."),
                        v.verdict.name(),
                        v.cause
                    ),
                );
            }
        }
    }
    Ok(exit)
}

/// A project's row: directory, project key, token (source and fingerprint), verdict, cause.
pub(super) fn project_row(
    p: &super::project::Project,
    c: &super::project::Checked,
    v: &crate::sonar::Verdict,
) -> [String; 5] {
    [
        p.dir
            .as_ref()
            .map(|d| d.dir.clone())
            .unwrap_or_else(|| ".".into()),
        c.target
            .project_key
            .as_ref()
            .map(|k| k.value.clone())
            .unwrap_or_else(|| "(not set)".into()),
        c.credential
            .as_ref()
            .map(|t| format!("{} {}", t.source, t.token.fingerprint()))
            .unwrap_or_else(|| "(none)".into()),
        v.verdict.name().to_owned(),
        v.cause.clone(),
    ]
}
