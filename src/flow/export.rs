//! `scantoken export`: check the project, then write the scanner's environment for the steps
//! that follow, in the CI's format or the one chosen. The preparation (everything up to the
//! export set) is shared with `run`.

use super::edition::{edition_policy, EditionOutcome};
use super::project::{check_logged, context_and_target, Stages};
use super::{format_name, probe_rows, Failure, Policies};
use crate::ci::{self, CiKind, Context};
use crate::credential::Credential;
use crate::env::Env;
use crate::error::{ConfigError, Exit};
use crate::export::{self, Destinations, ExportOptions, ExportSet, Format, Summary};
use crate::output::Output;
use crate::report::{self, safe};
use crate::scanner_command::ScannerCommand;
use crate::settings::Settings;
use crate::sonar::{Verdict, VerdictKind};
use crate::target::Target;
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};

/// What `export` and `run` ask of the shared stages.
pub(super) struct Plan<'a> {
    /// `export` writes with the chosen format; `run` only sees the CI's own (for outputs).
    pub(super) format: Format,
    pub(super) token_in_json: bool,
    pub(super) no_verify: bool,
    pub(super) include_secrets: bool,
    pub(super) output: Option<&'a Path>,
    /// `run`: the scanner command, whose arguments count as the scanner's configuration.
    pub(super) command: Option<&'a ScannerCommand>,
    /// `run`: the command's words as written, for the trust check (which program runs).
    pub(super) argv: Option<&'a [OsString]>,
}

/// An export set that may be handed over, with what the writers need beside it.
pub(super) struct Ready {
    pub(super) set: ExportSet,
    pub(super) summary: Summary,
    pub(super) format: Format,
    pub(super) dest: Destinations,
    /// Warnings already printed in the verdict's block: not printed again as text (the CI's
    /// annotation for each still comes from the writer).
    pub(super) shown: Vec<String>,
}

/// The stages up to the export set, and the decision to export at all: `Err(exit)` when
/// nothing is to be exported (a failed verdict, a skip by policy).
pub(super) fn prepare(
    plan: &Plan,
    settings: &Settings,
    env: &Env,
    cwd: &Path,
    out: &mut Output,
) -> Result<Result<Ready, Exit>, Failure> {
    let stages = context_and_target(settings, env, cwd, plan.command.zip(plan.argv))?;
    let Stages {
        ctx,
        scanner,
        target,
        trust,
    } = &stages;
    let format = plan.format.resolve(ctx.ci);
    // Azure's logging commands carry the token in clear on stdout: only the agent masks
    // them. Elsewhere they would print it on a terminal or a log (as --format github refuses
    // without GITHUB_ENV).
    if format == Format::Azure && ctx.ci != CiKind::Azure && plan.command.is_none() {
        return Err(Failure::Config(
            ConfigError::new(
                "format azure",
                "writes the token in Azure logging commands on stdout, which only the Azure Pipelines agent masks, and this is not an Azure Pipelines job (TF_BUILD is not True)",
            )
            .hint("outside Azure Pipelines use --format shell, dotenv, properties or json (with --output for a file)"),
        ));
    }
    let data_on_stdout = plan.output.is_none()
        && matches!(
            format,
            Format::Shell | Format::Dotenv | Format::Properties | Format::Json
        );
    if data_on_stdout && plan.command.is_none() {
        out.stdout_is_data();
    }
    let policies = Policies::of(settings, ctx);
    let options = ExportOptions {
        token_in_json: plan.token_in_json,
    };
    let no_verify = plan.no_verify;
    let dest = Destinations {
        github_env: env.non_empty("GITHUB_ENV").map(PathBuf::from),
        github_output: env.non_empty("GITHUB_OUTPUT").map(PathBuf::from),
        github_step_summary: env.non_empty("GITHUB_STEP_SUMMARY").map(PathBuf::from),
        output: plan.output.map(|p| cwd.join(p)),
        include_secrets: plan.include_secrets,
    };

    out.say(&report::context_text(ctx, &trust.decision));
    out.say(&report::target_text(target));
    if let Some(why) = ci::skip_reason(ctx, scanner.existing_json_params()) {
        out.notice(&format!(
            "scan skipped: {}. Nothing exported; the scan steps that follow must be skipped too",
            report::safe_text(&why)
        ));
        write_outputs_only(&dest, format, SKIPPED, target, out)?;
        return Ok(Err(Exit::Ok));
    }
    let mut checked = check_logged(&stages.resolved(settings), env, cwd, no_verify, out)?;
    if let (Some(v), Some(c)) = (&mut checked.verdict, plan.command) {
        if v.verdict == VerdictKind::Ok {
            v.next_step = format!(
                "{} starts now, with the token in its environment alone",
                safe(&c.name)
            );
        }
    }
    let target = checked.target.clone();
    // A server without branch analysis: what will happen to this build's branch or pull
    // request properties (docs/design.md).
    let edition = match checked.verdict.as_mut() {
        Some(v) if v.verdict == VerdictKind::Ok => match edition_policy(ctx, &target, scanner, v) {
            Some(EditionOutcome::Warn(w)) => {
                v.warnings.push(w);
                None
            }
            Some(EditionOutcome::Skip(why)) => {
                v.next_step = "nothing: this build's scan is skipped, as the notice says".into();
                Some(Ok(why))
            }
            Some(EditionOutcome::Refuse(e)) => Some(Err(e)),
            None => None,
        },
        _ => None,
    };
    if let Some(c) = &checked.credential {
        out.say(&format!("Token: {}", safe(&c.describe())));
    }
    if let Some(v) = &checked.verdict {
        out.say(&report::verdict_text(v));
    }
    match edition {
        Some(Ok(why)) => {
            out.notice(&format!(
                "scan skipped: {}. Nothing exported; the scan steps that follow must be skipped too",
                report::safe_text(&why)
            ));
            write_outputs_only(&dest, format, SKIPPED, &target, out)?;
            return Ok(Err(Exit::Ok));
        }
        Some(Err(e)) => return Err(Failure::Config(e)),
        None => {}
    }

    // Decide whether to export at all.
    let (verdict_name, message) = match &checked.verdict {
        None => (
            "not-verified".to_owned(),
            format!(
                "Exports written without verification (--no-verify): nothing proves the token can scan {}.",
                target.project_key.as_ref().map(|k| k.value.as_str()).unwrap_or_default()
            ),
        ),
        Some(v) if v.verdict == VerdictKind::Ok => ("ok".to_owned(), v.cause.clone()),
        Some(v) if policies.skip(v) => {
            out.notice(&format!(
                "{}: {}. Nothing exported ({}): the scan steps that follow must be skipped too",
                v.verdict.name(),
                v.cause.trim_end_matches('.'),
                policies.skipped_by(v).unwrap_or_default()
            ));
            write_failure_summary(&dest, format, v, ctx, &target, checked.credential.as_ref(), false, out)?;
            write_outputs_only(&dest, format, v.verdict.name(), &target, out)?;
            return Ok(Err(Exit::Ok));
        }
        // Exporting anyway needs a token: when Vault itself was unreachable there is none.
        Some(v) if policies.warn_only(v) && checked.credential.is_some() => (
            v.verdict.name().to_owned(),
            format!("{}: {}. Exported anyway (--on-unreachable warn): the scan will find out.", v.verdict.name(), v.cause),
        ),
        Some(v) => {
            out.annotate("error", &format!("{}: {}. Next: {}", v.verdict.name(), v.cause.trim_end_matches('.'), v.next_step));
            write_failure_summary(&dest, format, v, ctx, &target, checked.credential.as_ref(), v.verdict != VerdictKind::TokenMissing, out)?;
            write_outputs_only(&dest, format, v.verdict.name(), &target, out)?;
            return Ok(Err(v.verdict.exit()));
        }
    };
    let Some(credential) = &checked.credential else {
        out.error("internal error: a verdict that exports has no token");
        return Ok(Err(Exit::Internal));
    };
    // Secrets among the user's scanner parameters (a proxy or keystore password) are masked
    // each on its own, before anything could print them.
    for (key, value) in scanner.existing_json_params().into_iter().flatten() {
        if export::is_secret_property(key) {
            out.mask(value);
        }
    }
    let mut set = export::build(ctx, &target, Some(&credential.token), scanner, options)?;
    set.warnings.extend(checked.warnings().iter().cloned());
    let shown = match &checked.verdict {
        Some(v) => v.warnings.clone(),
        None => Vec::new(),
    };
    if verdict_name != "ok" {
        set.warnings.push(message.clone());
    }
    let summary = Summary {
        verdict: verdict_name,
        message,
        context: ctx.clone(),
        target: target.clone(),
        token: Some(credential.describe()),
        probes: checked.verdict.as_ref().map(probe_rows).unwrap_or_default(),
        failed: false,
    };
    out.debug("export set", &set);
    Ok(Ok(Ready {
        set,
        summary,
        format,
        dest,
        shown,
    }))
}

pub fn export(
    settings: &Settings,
    env: &Env,
    cwd: &Path,
    out: &mut Output,
) -> Result<Exit, Failure> {
    if settings.projects.is_some() {
        return super::plan::export_plan(settings, env, cwd, out);
    }
    let plan = Plan {
        format: settings.format,
        token_in_json: settings.token_in_json,
        no_verify: settings.no_verify,
        include_secrets: settings.include_secrets,
        output: settings.output.as_deref(),
        command: None,
        argv: None,
    };
    let Ready {
        set,
        summary,
        format,
        dest,
        shown,
    } = match prepare(&plan, settings, env, cwd, out)? {
        Ok(ready) => ready,
        Err(exit) => return Ok(exit),
    };
    let mut rendered = export::render(format, &set, &summary, &dest)?;
    rendered.stdout = out.without_repeated_masks(&rendered.stdout);
    // A destination that cannot be written (a GITHUB_OUTPUT in a missing folder, a
    // read-only --output) is the environment's to fix, and nothing was written.
    export::commit(&rendered, out.raw_stdout()).map_err(|e| {
        ConfigError::new("exports", e.to_string())
            .hint("nothing was written: check that the files GITHUB_ENV, GITHUB_OUTPUT or --output name can be written")
    })?;
    for w in set.warnings.iter().filter(|w| !shown.contains(w)) {
        out.say(&format!("warning: {}", report::safe_text(w)));
    }
    for n in &rendered.notes {
        out.say(&format!("note: {}", report::safe_text(n)));
    }
    // Only what was written: the unmasked formats leave secrets out unless asked.
    let unmasked = matches!(format, Format::Dotenv | Format::Properties | Format::Json);
    let names: Vec<String> = set
        .variables
        .iter()
        .filter(|v| !(unmasked && v.value.is_secret() && !dest.include_secrets))
        .map(|v| match v.value.is_secret() {
            true => format!("{} (secret)", v.name),
            false => v.name.to_string(),
        })
        .collect();
    out.say(&format!(
        "Exported ({}): {}",
        format_name(format),
        names.join(", ")
    ));
    Ok(Exit::Ok)
}

/// On GitHub, a failed verdict still gets its step summary (context, target, verdict,
/// probes), so the reason is on the run's page.
/// `failed` is false for a verdict a policy skipped: the step passed.
#[allow(clippy::too_many_arguments)]
pub(super) fn write_failure_summary(
    dest: &Destinations,
    format: Format,
    v: &Verdict,
    ctx: &Context,
    target: &Target,
    credential: Option<&Credential>,
    failed: bool,
    out: &mut Output,
) -> Result<(), Failure> {
    if format != Format::Github {
        return Ok(());
    }
    let Some(path) = &dest.github_step_summary else {
        return Ok(());
    };
    let summary = Summary {
        verdict: v.verdict.name().to_owned(),
        message: format!("{}. Next: {}", v.cause.trim_end_matches('.'), v.next_step),
        context: ctx.clone(),
        target: target.clone(),
        token: credential.map(Credential::describe),
        probes: probe_rows(v),
        failed,
    };
    let text = export::github::step_summary(&ExportSet::empty(), &summary);
    // The summary is for reading; the verdict and its exit code stand without it.
    let written = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()));
    if let Err(e) = written {
        out.say(&format!(
            "warning: the step summary {} (GITHUB_STEP_SUMMARY) cannot be written: {e}",
            safe(&path.display().to_string())
        ));
    }
    Ok(())
}

/// The `verdict` output of a build the context says not to scan (a merge queue's branch, a
/// `workflow_run` whose pull request is unknown).
pub(super) const SKIPPED: &str = "skipped";

/// The step's outputs (`verdict`, `project-key`, `host-url`) when nothing is exported: a
/// failed verdict or a skip still tells the workflow what happened, never with a secret.
pub(super) fn write_outputs_only(
    dest: &Destinations,
    format: Format,
    verdict: &str,
    target: &Target,
    out: &mut Output,
) -> Result<(), Failure> {
    let rendered = export::render_outputs(format, verdict, target, dest)?;
    export::commit(&rendered, out.raw_stdout()).map_err(|e| {
        Failure::Config(
            ConfigError::new("outputs", e.to_string())
                .hint("check that the file GITHUB_OUTPUT names can be written"),
        )
    })
}
