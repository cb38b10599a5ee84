//! The flow of each command, on the resolved [`Settings`](crate::settings::Settings): what
//! each command checks and prints. `cli` parses the arguments and maps the result to an exit
//! code; everything between is here, one module per command over one shared unit.
//!
//! How data moves, one way: [`project`] takes the settings and the environment through the
//! stages up to the target (context → scanner configuration → target → trust check), then
//! [`credential`] obtains the token and `project::check` proves it (credential → verdict). A
//! project is that unit: a base directory, its target, its credential and verdict. The
//! commands are thin: [`context`] stops after the target; [`verify`] reports the verdict;
//! [`export`] renders the exports for the steps that follow; [`run`] hands them to the scan it
//! starts, and [`run_set`] starts it once per project of a `--projects` run; [`plan`] is
//! `export --projects`, the plan of a CI's own fan-out. None of them reads
//! an option from the environment again.

pub mod context;
pub mod credential;
pub mod edition;
pub mod export;
pub mod plan;
pub mod project;
pub mod run;
pub mod run_set;
pub mod verify;

pub use context::context;
pub use export::export;
pub use run::run;
pub use verify::verify;

use crate::ci::Context;
use crate::env::Env;
use crate::error::{ConfigError, Exit};
use crate::export::Format;
use crate::inputs::{Inputs, Origin};
use crate::settings::{Settings, SkipPolicy, UnreachablePolicy};
use crate::sonar::client::{CaSource, ClientOptions};
use crate::sonar::{Verdict, VerdictKind};
use std::path::PathBuf;
use std::time::Duration;

/// Variables that hold a credential: the token sources (inputs, the scanners' own, Jenkins'),
/// an Azure service connection's token, and what the OIDC and Vault exchanges use.
pub fn is_secret_variable(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    Inputs::variable_names("token").contains(&upper)
        || matches!(
            upper.as_str(),
            "SONAR_TOKEN"
                | "SONAR_AUTH_TOKEN"
                | "SONAR_LOGIN"
                | "SONAR_PASSWORD"
                | "ACTIONS_ID_TOKEN_REQUEST_TOKEN"
                | "SYSTEM_ACCESSTOKEN"
                | "VAULT_TOKEN"
        )
        || (upper.starts_with("ENDPOINT_AUTH_PARAMETER_") && upper.ends_with("_APITOKEN"))
        || (upper.starts_with("SONAR_TOKEN_"))
}

/// Why a command ended without an outcome of its own: a configuration error (exit 2) or a
/// failure to write (exit 4).
pub enum Failure {
    Config(ConfigError),
    Io(std::io::Error),
}

impl From<ConfigError> for Failure {
    fn from(e: ConfigError) -> Self {
        Failure::Config(e)
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure::Io(e)
    }
}

impl From<crate::export::WriteError> for Failure {
    fn from(e: crate::export::WriteError) -> Self {
        Failure::Config(
            ConfigError::new(e.name.clone(), e.to_string())
                .hint("nothing was written; choose another --format, or fix the value"),
        )
    }
}

/// The HTTP client's settings: the extra CAs (the option, then the scanners' own
/// `SONAR_ROOT_CERT` and the platform's `SSL_CERT_FILE`), the timeout and the retries.
pub fn client_options(settings: &Settings, env: &Env) -> ClientOptions {
    let mut options = ClientOptions::default();
    if let Some(ca) = &settings.ca_file {
        options
            .extra_roots
            .push((ca.source.clone(), CaSource::File(PathBuf::from(&ca.value))));
    }
    if let Some(pem) = env.non_empty("SONAR_ROOT_CERT") {
        let source = if pem.trim_start().starts_with("-----BEGIN") {
            CaSource::Pem(pem.to_owned())
        } else {
            CaSource::File(PathBuf::from(pem.trim()))
        };
        options
            .extra_roots
            .push((Origin::Variable("SONAR_ROOT_CERT".into()), source));
    }
    if let Some(file) = env.non_empty("SSL_CERT_FILE") {
        options.extra_roots.push((
            Origin::Variable("SSL_CERT_FILE".into()),
            CaSource::File(PathBuf::from(file.trim())),
        ));
    }
    options.timeout = Duration::from_secs(settings.timeout_secs);
    options.connect_timeout = options.connect_timeout.min(options.timeout);
    options.max_attempts = settings.retries as u32 + 1;
    options.allow_insecure_http = settings.allow_insecure_http;
    options
}

/// What to do when verification cannot say yes.
pub(super) struct Policies {
    pub(super) missing: SkipPolicy,
    pub(super) project_not_found: SkipPolicy,
    pub(super) unreachable: UnreachablePolicy,
    /// The context says the CI withholds secrets from this build (a fork or Dependabot pull
    /// request): the only builds `--on-missing-token skip` skips. Elsewhere a missing token
    /// is a mistake (a mistyped, deleted or unmapped secret) that a green job would hide.
    pub(super) secrets_withheld: bool,
}

impl Policies {
    pub(super) fn of(settings: &Settings, ctx: &Context) -> Policies {
        Policies {
            missing: settings.on_missing_token,
            project_not_found: settings.on_project_not_found,
            unreachable: settings.on_unreachable,
            secrets_withheld: ctx.secrets_withheld.is_some(),
        }
    }

    pub(super) fn skip(&self, v: &Verdict) -> bool {
        self.skipped_by(v).is_some()
    }

    /// The policy that skips this verdict, if one does.
    pub(super) fn skipped_by(&self, v: &Verdict) -> Option<&'static str> {
        match v.verdict {
            VerdictKind::TokenMissing
                if self.missing == SkipPolicy::Skip && self.secrets_withheld =>
            {
                Some("--on-missing-token skip")
            }
            VerdictKind::ProjectNotFound if self.project_not_found == SkipPolicy::Skip => {
                Some("--on-project-not-found skip")
            }
            _ => None,
        }
    }

    pub(super) fn warn_only(&self, v: &Verdict) -> bool {
        v.verdict.is_reach_failure() && self.unreachable == UnreachablePolicy::Warn
    }

    pub(super) fn exit(&self, v: &Verdict) -> Exit {
        if self.skip(v) || self.warn_only(v) {
            Exit::Ok
        } else {
            v.verdict.exit()
        }
    }
}

pub(super) fn probe_rows(v: &Verdict) -> Vec<(String, String)> {
    v.probes
        .iter()
        .map(|p| (format!("{} {}", p.method, p.url), p.answer()))
        .collect()
}

pub(super) fn format_name(f: Format) -> String {
    use clap::ValueEnum;
    f.to_possible_value()
        .map(|p| p.get_name().to_owned())
        .unwrap_or_default()
}

/// Puts a Markdown report on the CI's summary page: GitHub reads the file
/// `GITHUB_STEP_SUMMARY` names; Azure uploads the file a logging command names. Elsewhere
/// nothing. A summary is for reading: failing to write it is a warning.
pub(super) fn publish_summary(
    env: &Env,
    ci: crate::ci::CiKind,
    markdown: &str,
    stdout_is_data: bool,
    out: &mut crate::output::Output,
) {
    use std::io::Write;
    match ci {
        crate::ci::CiKind::Github => {
            let Some(path) = env.non_empty("GITHUB_STEP_SUMMARY") else {
                return;
            };
            let written = std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(path)
                .and_then(|mut f| f.write_all(markdown.as_bytes()));
            if let Err(e) = written {
                out.say(&format!(
                    "warning: the step summary (GITHUB_STEP_SUMMARY) cannot be written: {e}"
                ));
            }
        }
        crate::ci::CiKind::Azure => {
            let dir = env
                .non_empty("AGENT_TEMPDIRECTORY")
                .map(PathBuf::from)
                .unwrap_or_else(std::env::temp_dir);
            let path = dir.join(format!("scantoken-{}.md", uuid::Uuid::new_v4()));
            if let Err(e) = std::fs::write(&path, markdown) {
                out.say(&format!(
                    "warning: the summary {} cannot be written: {e}",
                    path.display()
                ));
                return;
            }
            let line = format!(
                "##vso[task.uploadsummary]{}\n",
                crate::export::azure::escape_data(&path.display().to_string())
            );
            // A logging command: written past the line filter, escaped as the agent reads it;
            // on stderr when stdout carries data.
            let (stdout, stderr) = out.raw_streams();
            let sink = if stdout_is_data { stderr } else { stdout };
            let _ = sink.write_all(line.as_bytes());
        }
        _ => {}
    }
}
