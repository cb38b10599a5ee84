//! `scantoken verify`: check the project and report the verdict; nothing is exported.

use super::project::{check_logged, context_and_target, Resolved, Stages};
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
    let Stages {
        ctx,
        scanner,
        target,
        trust,
    } = context_and_target(settings, env, cwd, None)?;
    let resolved = Resolved {
        settings,
        ctx: &ctx,
        scanner: &scanner,
        target: &target,
        trust: &trust,
    };
    let checked = check_logged(&resolved, env, cwd, false, out)?;
    let target = checked.target.clone();
    let mut verdict = checked.verdict.expect("verify always verifies");
    if verdict.verdict == VerdictKind::Ok {
        // verify exports nothing: say how the scan gets the token.
        verdict.next_step = "hand the scan its token: scantoken run -- <scan command> verifies and runs it, or scantoken export writes the variables for the steps that follow".into();
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
