//! The unit every command checks: one project (a base directory, its target, its credential
//! and verdict). The stages up to the target ([`context_and_target`], with the trust check
//! between the target and the credential), then [`check`]: the credential, the local checks,
//! the probes.

use super::client_options;
use super::credential::{obtain_credential, Obtained, Sources};
use crate::ci::{self, Context};
use crate::credential::Credential;
use crate::env::Env;
use crate::error::ConfigError;
use crate::export;
use crate::inputs::{Origin, Sourced};
use crate::output::Output;
use crate::report::safe;
use crate::scanner_command::ScannerCommand;
use crate::scanner_config::ScannerConfig;
use crate::settings::Settings;
use crate::sonar::{self, Scan, Verdict, VerdictKind};
use crate::target::{self, Target};
use crate::trust;
use std::ffi::OsString;
use std::path::Path;

/// What the stages up to the target produced, shared by every command.
pub(super) struct Stages {
    pub(super) ctx: Context,
    pub(super) scanner: ScannerConfig,
    pub(super) target: Target,
    /// Whose files were believed, and what the trust check found in them: asked at the
    /// moment a token is at hand (`Report::gate`).
    pub(super) trust: trust::check::Report,
}

/// The stages up to the target, shared by every command, and the trust check between the
/// target and the credential. `command` is the scan command `run` starts, as read and as
/// written.
pub(super) fn context_and_target(
    settings: &Settings,
    env: &Env,
    cwd: &Path,
    command: Option<(&ScannerCommand, &[OsString])>,
) -> Result<Stages, ConfigError> {
    let argv = command.map(|(_, argv)| argv);
    let command = command.map(|(c, _)| c);
    let ctx = ci::detect(env, cwd, settings.default_branch.as_ref())?;
    let decision = trust::decide(&ctx, settings.pull_request_trust);
    // The scanner reads its properties file from the base directory its command line names.
    let command_base_dir = command.and_then(|c| {
        c.properties
            .iter()
            .rev()
            .find(|(k, _)| k == "sonar.projectBaseDir")
            .map(|(_, v)| {
                Sourced::new(
                    v.clone(),
                    Origin::CommandLine {
                        command: c.name.clone(),
                        key: "sonar.projectBaseDir".into(),
                    },
                )
            })
    });
    let base_dir = match settings.project_base_dir.clone().or(command_base_dir) {
        Some(dir) => {
            let path = cwd.join(&dir.value);
            if !path.is_dir() {
                return Err(ConfigError::new(
                    dir.source.to_string(),
                    format!("{} is not a directory", safe(&dir.value)),
                ));
            }
            path
        }
        None => cwd.to_path_buf(),
    };
    let mut scanner = ScannerConfig::load(env, &base_dir)?;
    if let Some(c) = command {
        if let Some(family) = c.scanner {
            scanner = scanner.for_command(family, &c.name, &c.properties);
        }
    }
    scanner.check_env_references()?;
    let target = target::resolve(&settings.target, env, &scanner)?;
    export::check_scanner_agreement(&ctx, &target, &scanner)?;
    let trust = trust::check::check(
        &trust::check::Inputs {
            ctx: &ctx,
            settings,
            env,
            scanner: &scanner,
            cwd,
            base_dir: &base_dir,
            command: argv,
        },
        decision,
    );
    Ok(Stages {
        ctx,
        scanner,
        target,
        trust,
    })
}

/// The verification stages shared by `verify` and `export`: credential, local checks, then
/// the probes. `None` as verdict means `--no-verify`.
pub(super) struct Checked {
    /// The target, with the organization a token map rule gave when none was set.
    pub(super) target: Target,
    pub(super) credential: Option<Credential>,
    pub(super) verdict: Option<Verdict>,
    /// Warnings found without a verdict to hold them (`--no-verify`): configuration, token
    /// expiry, revocation. With a verdict they are among the verdict's warnings instead.
    pub(super) unverified_warnings: Vec<String>,
}

impl Checked {
    /// A check that reached a verdict.
    pub(super) fn ended(
        target: Target,
        credential: Option<Credential>,
        verdict: Verdict,
    ) -> Checked {
        Checked {
            target,
            credential,
            verdict: Some(verdict),
            unverified_warnings: Vec::new(),
        }
    }

    pub(super) fn warn(&mut self, warning: String) {
        match &mut self.verdict {
            Some(v) => v.warnings.push(warning),
            None => self.unverified_warnings.push(warning),
        }
    }

    /// Every warning: the verdict's, or the ones found without a verdict.
    pub(super) fn warnings(&self) -> &[String] {
        match &self.verdict {
            Some(v) => &v.warnings,
            None => &self.unverified_warnings,
        }
    }
}

/// What the stages before the credential produced.
pub(super) struct Resolved<'a> {
    pub(super) settings: &'a Settings,
    pub(super) ctx: &'a Context,
    pub(super) scanner: &'a ScannerConfig,
    pub(super) target: &'a Target,
    pub(super) trust: &'a trust::check::Report,
}

pub(super) fn check(
    r: &Resolved,
    env: &Env,
    cwd: &Path,
    no_verify: bool,
    mask: &mut dyn FnMut(&str),
) -> Result<Checked, ConfigError> {
    if r.target.project_key.is_none() && r.settings.blank_project_key_flag {
        return Err(ConfigError::new("flag --project-key", "is empty, and no other source sets the project key")
            .hint("give it the project's key (--project-key \"$KEY\" is empty when KEY is unset), or leave the flag out and set sonar.projectKey in sonar-project.properties"));
    }
    let project_key = export::require_project_key(r.target)?.value.clone();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| ConfigError::new("runtime", format!("cannot start: {e}")))?;
    let sources = Sources {
        settings: r.settings,
        env,
        ctx: r.ctx,
        cwd,
        project_key: &project_key,
        trust: r.trust,
    };
    let (credential, revocation) = match obtain_credential(&sources, r.target, &runtime, mask)? {
        Obtained::Token(c, revocation) => (c, revocation),
        Obtained::Ended(v) => return Ok(Checked::ended(r.target.clone(), None, v)),
    };
    // There is a token: in an untrusted build, nothing the pull request changed may decide
    // where it goes. Before any request carries it (trust::check).
    if let Some(refused) = r.trust.gate() {
        if let Some(rev) = revocation {
            let _ = runtime.block_on(rev.run());
        }
        return Err(refused);
    }
    // Masked before anything else can print it: a server that echoes the token in an
    // error would otherwise put it in the log ahead of the writers' own mask.
    mask(credential.token.expose_secret());
    // A Vault token is revoked alongside what follows: the task runs whenever the runtime
    // is driven (the probes), and is waited for here on every path.
    let revoking = revocation.map(|rev| runtime.spawn(rev.run()));
    let checked = check_credential(&sources, r, &runtime, credential, no_verify);
    let revoke_warning = revoking.and_then(|task| runtime.block_on(task).ok().flatten());
    let mut checked = checked?;
    if let Some(w) = revoke_warning {
        checked.warn(w);
    }
    for w in r.trust.warnings() {
        checked.warn(w);
    }
    Ok(checked)
}

/// The checks that follow once there is a token: the organization, its expiry, the host,
/// then the probes.
pub(super) fn check_credential(
    s: &Sources,
    r: &Resolved,
    runtime: &tokio::runtime::Runtime,
    credential: Credential,
    no_verify: bool,
) -> Result<Checked, ConfigError> {
    let mut target = r.target.clone();
    if let Some(org) = &credential.organization {
        match &target.organization {
            Some(set) if &set.value != org => {
                return Err(ConfigError::new(
                    credential.source.to_string(),
                    format!("the token map rule says the token belongs to organization {org}, but organization {} is set ({})", set.value, set.source),
                )
                .hint("fix the rule's organization, or the organization setting"))
            }
            Some(_) => {}
            None if target.flavor.is_cloud() => {
                target.organization = Some(Sourced::new(org.clone(), credential.source.clone()));
            }
            None => {}
        }
    }
    if target.flavor.is_cloud() && target.organization.is_none() {
        let v = Verdict::new(
            VerdictKind::OrganizationMismatch,
            format!("no organization is set, and {} needs one", target.flavor.describe()),
            "pass --organization, set the input organization, SONAR_ORGANIZATION, or sonar.organization in sonar-project.properties",
        );
        return Ok(Checked::ended(target, Some(credential), v));
    }
    let expiry_days = s.settings.expiry_warning_days;
    let mut warnings = sonar::configuration_warnings(r.scanner, s.env);
    if let Some((date, day)) = &credential.expires {
        let left = day - crate::date::today();
        if left < 0 {
            let v = Verdict::new(
                VerdictKind::TokenRejected,
                format!(
                    "the token from {} expired on {date}, as its token map rule says",
                    credential.source
                ),
                "create a new token, store it in the secret, and update the rule's expires date",
            );
            return Ok(Checked::ended(target, Some(credential), v));
        }
        if left <= expiry_days {
            warnings.push(format!(
                "the token from {} expires on {date} (in {left} day(s)): create its successor now",
                credential.source
            ));
        }
    }
    if !s.settings.allow_insecure_http {
        let proxies = crate::network::Proxies::from_env(s.env)?;
        if let Some(mut v) = sonar::insecure_host(&target, &proxies) {
            v.warnings.extend(warnings);
            return Ok(Checked::ended(target, Some(credential), v));
        }
    }
    if no_verify {
        return Ok(Checked {
            target,
            credential: Some(credential),
            verdict: None,
            unverified_warnings: warnings,
        });
    }
    let options = client_options(s.settings, s.env);
    let client = sonar::client::Client::new(s.env, options)?;
    let scan = Scan {
        target: &target,
        project_key: s.project_key,
        organization: target.organization.as_ref().map(|o| o.value.as_str()),
        token: &credential.token,
        token_source: &credential.source,
        expiry_warning_days: expiry_days,
    };
    let mut verdict = runtime.block_on(sonar::verify(&client, &scan));
    verdict.warnings.extend(warnings);
    Ok(Checked::ended(target, Some(credential), verdict))
}

/// [`check`], with its inputs and results shown under --verbose and secrets masked as they
/// appear.
pub(super) fn check_logged(
    r: &Resolved,
    env: &Env,
    cwd: &Path,
    no_verify: bool,
    out: &mut Output,
) -> Result<Checked, ConfigError> {
    out.debug("settings", r.settings);
    out.debug("context", r.ctx);
    out.debug("target", r.target);
    let mut checked = check(r, env, cwd, no_verify, &mut |secret| out.mask(secret))?;
    if let Some(v) = &mut checked.verdict {
        out.redact_verdict(v);
    }
    for w in &mut checked.unverified_warnings {
        *w = out.redact(w);
    }
    out.debug("credential", &checked.credential);
    out.debug("verdict", &checked.verdict);
    Ok(checked)
}
