//! `scantoken context`: the stages up to the target, and what the trust check found; nothing
//! is sent.

use super::project::{context_and_target, Stages};
use super::Failure;
use crate::env::Env;
use crate::error::Exit;
use crate::output::Output;
use crate::report;
use crate::settings::Settings;
use std::path::Path;

pub fn context(
    settings: &Settings,
    json: bool,
    env: &Env,
    cwd: &Path,
    out: &mut Output,
) -> Result<Exit, Failure> {
    // With --json, cli has made stdout data-only before the settings were resolved.
    let Stages {
        ctx, target, trust, ..
    } = context_and_target(settings, env, cwd, None)?;
    if json {
        out.json(&serde_json::json!({ "context": ctx, "target": target, "trust": trust }))?;
    } else {
        out.report(&format!(
            "{}\n{}\n{}",
            report::context_text(&ctx, &trust.decision),
            report::target_text(&target),
            report::trust_text(&trust)
        ))?;
    }
    Ok(Exit::Ok)
}
