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
use crate::projects::ProjectDir;
use crate::report::safe;
use crate::scanner_command::ScannerCommand;
use crate::scanner_config::{Scanner, ScannerConfig};
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

impl Stages {
    /// What the credential and verify stages read of these stages.
    pub(super) fn resolved<'a>(&'a self, settings: &'a Settings) -> Resolved<'a> {
        Resolved {
            settings,
            ctx: &self.ctx,
            scanner: &self.scanner,
            target: &self.target,
            trust: &self.trust,
        }
    }
}

/// One project of the run: its directory when `--projects` named it, and its stages.
pub(super) struct Project {
    pub(super) dir: Option<ProjectDir>,
    pub(super) stages: Stages,
}

/// The projects of this run, each through the stages up to the target: the one the options
/// name, or every directory `--projects` finds, each resolved as `--project-base-dir DIR`
/// would resolve it. The context is read once. `command` is the scan command `run` starts,
/// as read and as written.
pub(super) fn projects(
    settings: &Settings,
    env: &Env,
    cwd: &Path,
    command: Option<(&ScannerCommand, &[OsString])>,
) -> Result<Vec<Project>, ConfigError> {
    let ctx = ci::detect(env, cwd, settings.default_branch.as_ref())?;
    let decision = trust::decide(&ctx, settings.pull_request_trust);
    let Some(spec) = &settings.projects else {
        let stages = stages_of(settings, env, cwd, command, &ctx, &decision, None)?;
        return Ok(vec![Project { dir: None, stages }]);
    };
    let found = crate::projects::find(
        cwd,
        std::slice::from_ref(&spec.value),
        &spec.source.to_string(),
    )?;
    if let (Some(key), true) = (&settings.target.project_key, found.len() > 1) {
        return Err(ConfigError::new(
            key.source.to_string(),
            format!(
                "names one project key, but {} names {} projects ({})",
                spec.source,
                found.len(),
                found.iter().map(|p| p.dir.as_str()).collect::<Vec<_>>().join(", ")
            ),
        )
        .hint("leave the project key to each project's own configuration (sonar.projectKey), or name one project"));
    }
    let mut out: Vec<Project> = Vec::new();
    for dir in found {
        let base = Sourced::new(dir.dir.clone(), Origin::Derived(spec.source.to_string()));
        let stages = stages_of(settings, env, cwd, command, &ctx, &decision, Some(base))?;
        if let Some(key) = &stages.target.project_key {
            let twin = out.iter().find(|p| {
                p.stages.target.project_key.as_ref().map(|k| &k.value) == Some(&key.value)
            });
            if let Some(twin) = twin {
                return Err(ConfigError::new(
                    spec.source.to_string(),
                    format!(
                        "{} and {} resolve to the same project key {}",
                        twin.dir.as_ref().map(|d| d.dir.as_str()).unwrap_or_default(),
                        dir.dir,
                        safe(&key.value)
                    ),
                )
                .hint("each project needs its own key: set sonar.projectKey in each directory's sonar-project.properties"));
            }
        }
        out.push(Project {
            dir: Some(dir),
            stages,
        });
    }
    Ok(out)
}

/// The stages up to the target for the single project the options name (`context`).
pub(super) fn context_and_target(
    settings: &Settings,
    env: &Env,
    cwd: &Path,
    command: Option<(&ScannerCommand, &[OsString])>,
) -> Result<Stages, ConfigError> {
    let ctx = ci::detect(env, cwd, settings.default_branch.as_ref())?;
    let decision = trust::decide(&ctx, settings.pull_request_trust);
    stages_of(settings, env, cwd, command, &ctx, &decision, None)
}

/// One project's stages after the context: its configuration, its target, and the trust
/// check between the target and the credential. `base_dir` is the project's directory when
/// `--projects` found it (else the options' and the command line's).
fn stages_of(
    settings: &Settings,
    env: &Env,
    cwd: &Path,
    command: Option<(&ScannerCommand, &[OsString])>,
    ctx: &Context,
    decision: &trust::Decision,
    base_dir: Option<Sourced<String>>,
) -> Result<Stages, ConfigError> {
    let argv = command.map(|(_, argv)| argv);
    let command = command.map(|(c, _)| c);
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
    let base_dir = match base_dir
        .or_else(|| settings.project_base_dir.clone())
        .or(command_base_dir)
    {
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
            scanner = scanner
                .for_command(family, &c.name, &c.properties)
                .with_command_extra(&c.extra);
            let toml_path = c.properties.iter().rev().find(|(k, _)| k == "toml-path");
            if let (Scanner::Python, Some((_, path))) = (family, toml_path) {
                scanner = scanner.with_toml_path(path, cwd)?;
            }
        }
    }
    scanner.check_env_references()?;
    let target = target::resolve(&settings.target, env, &scanner)?;
    export::check_scanner_agreement(ctx, &target, &scanner)?;
    let trust = trust::check::check(
        &trust::check::Inputs {
            ctx,
            settings,
            env,
            scanner: &scanner,
            cwd,
            base_dir: &base_dir,
            command: argv,
        },
        decision.clone(),
    );
    Ok(Stages {
        ctx: ctx.clone(),
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

/// One project's check: [`check_set`] with a set of one.
pub(super) fn check(
    r: &Resolved,
    env: &Env,
    cwd: &Path,
    no_verify: bool,
    mask: &mut dyn FnMut(&str),
) -> Result<Checked, ConfigError> {
    let mut checked = check_set(std::slice::from_ref(r), env, cwd, no_verify, mask)?;
    Ok(checked.pop().expect("one result per project"))
}

/// How many probes of a set are in flight at once: a 50-project monorepo's 101 probes go out
/// in two waves (BENCHMARKS.md, "Many projects"); with HTTP/2 they share a few connections.
const SET_CONCURRENCY: usize = 64;

/// What a project's check reached before the probes.
enum Step {
    /// Decided without asking the server (no token, a local check failed, `--no-verify`).
    Done(Checked),
    /// To be proven by the probes.
    Probe {
        target: Target,
        credential: Credential,
        warnings: Vec<String>,
    },
}

type Revoking = Vec<(usize, tokio::task::JoinHandle<Option<String>>)>;

/// Waits for every Vault revocation started: each one's warning, by project.
fn revoke_all(runtime: &tokio::runtime::Runtime, revoking: Revoking) -> Vec<(usize, String)> {
    revoking
        .into_iter()
        .filter_map(|(i, task)| runtime.block_on(task).ok().flatten().map(|w| (i, w)))
        .collect()
}

/// Checks a set of projects: each one's credential and local checks in turn (a
/// configuration error in any of them ends the set before a single probe is sent), then every
/// project's probes in one wave, a probe several projects share asked once
/// (`sonar::verify_set`). The results are in the projects' order.
pub(super) fn check_set(
    rs: &[Resolved],
    env: &Env,
    cwd: &Path,
    no_verify: bool,
    mask: &mut dyn FnMut(&str),
) -> Result<Vec<Checked>, ConfigError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| ConfigError::new("runtime", format!("cannot start: {e}")))?;
    let mut steps = Vec::new();
    // A Vault token is revoked alongside what follows: the task runs whenever the runtime
    // is driven (the probes), and is waited for on every path.
    let mut revoking: Revoking = Vec::new();
    for (i, r) in rs.iter().enumerate() {
        match step(r, env, cwd, no_verify, &runtime, mask) {
            Ok((step, revocation)) => {
                steps.push(step);
                if let Some(rev) = revocation {
                    revoking.push((i, runtime.spawn(rev.run())));
                }
            }
            Err(e) => {
                revoke_all(&runtime, revoking);
                return Err(e);
            }
        }
    }
    let mut verdicts = Vec::new();
    if steps.iter().any(|s| matches!(s, Step::Probe { .. })) {
        let settings = rs[0].settings;
        let client = match sonar::client::Client::new(env, client_options(settings, env)) {
            Ok(c) => c,
            Err(e) => {
                revoke_all(&runtime, revoking);
                return Err(e);
            }
        };
        let scans: Vec<Scan> = steps
            .iter()
            .filter_map(|s| match s {
                Step::Probe {
                    target, credential, ..
                } => Some(Scan {
                    target,
                    project_key: target
                        .project_key
                        .as_ref()
                        .map(|k| k.value.as_str())
                        .unwrap_or_default(),
                    organization: target.organization.as_ref().map(|o| o.value.as_str()),
                    token: &credential.token,
                    token_source: &credential.source,
                    expiry_warning_days: settings.expiry_warning_days,
                }),
                Step::Done(_) => None,
            })
            .collect();
        verdicts = runtime.block_on(sonar::verify_set(&client, &scans, SET_CONCURRENCY));
    }
    let revoked = revoke_all(&runtime, revoking);
    let mut verdicts = verdicts.into_iter();
    let mut out = Vec::new();
    for (i, (step, r)) in steps.into_iter().zip(rs).enumerate() {
        let mut checked = match step {
            Step::Done(c) => c,
            Step::Probe {
                target,
                credential,
                warnings,
            } => {
                let mut verdict = verdicts.next().expect("one verdict per probed project");
                verdict.warnings.extend(warnings);
                Checked::ended(target, Some(credential), verdict)
            }
        };
        for (_, w) in revoked.iter().filter(|(j, _)| *j == i) {
            checked.warn(w.clone());
        }
        for w in r.trust.warnings() {
            checked.warn(w);
        }
        out.push(checked);
    }
    Ok(out)
}

/// One project's check up to the probes: its token, the trust gate, the local checks; and
/// the Vault token to revoke, if the token came from Vault.
fn step(
    r: &Resolved,
    env: &Env,
    cwd: &Path,
    no_verify: bool,
    runtime: &tokio::runtime::Runtime,
    mask: &mut dyn FnMut(&str),
) -> Result<(Step, Option<crate::credential::exchange::Revocation>), ConfigError> {
    if r.target.project_key.is_none() && r.settings.blank_project_key_flag {
        return Err(ConfigError::new("flag --project-key", "is empty, and no other source sets the project key")
            .hint("give it the project's key (--project-key \"$KEY\" is empty when KEY is unset), or leave the flag out and set sonar.projectKey in sonar-project.properties"));
    }
    let project_key = export::require_project_key(r.target)?.value.clone();
    let sources = Sources {
        settings: r.settings,
        env,
        ctx: r.ctx,
        cwd,
        project_key: &project_key,
        trust: r.trust,
    };
    let (credential, revocation) = match obtain_credential(&sources, r.target, runtime, mask)? {
        Obtained::Token(c, revocation) => (c, revocation),
        Obtained::Ended(v) => {
            return Ok((Step::Done(Checked::ended(r.target.clone(), None, v)), None))
        }
    };
    // There is a token: in an untrusted build, nothing the pull request changed may decide
    // where it goes. Before any request carries it (trust::check).
    let step = match r.trust.gate() {
        Some(refused) => Err(refused),
        None => {
            // Masked before anything else can print it: a server that echoes the token in
            // an error would otherwise put it in the log ahead of the writers' own mask.
            mask(credential.token.expose_secret());
            local_checks(&sources, r, credential, no_verify)
        }
    };
    match step {
        Ok(step) => Ok((step, revocation)),
        Err(e) => {
            if let Some(rev) = revocation {
                let _ = runtime.block_on(rev.run());
            }
            Err(e)
        }
    }
}

/// The checks that follow once there is a token, before the probes: the organization, its
/// expiry, the host.
fn local_checks(
    s: &Sources,
    r: &Resolved,
    credential: Credential,
    no_verify: bool,
) -> Result<Step, ConfigError> {
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
        return Ok(Step::Done(Checked::ended(target, Some(credential), v)));
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
            return Ok(Step::Done(Checked::ended(target, Some(credential), v)));
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
            return Ok(Step::Done(Checked::ended(target, Some(credential), v)));
        }
    }
    if no_verify {
        return Ok(Step::Done(Checked {
            target,
            credential: Some(credential),
            verdict: None,
            unverified_warnings: warnings,
        }));
    }
    Ok(Step::Probe {
        target,
        credential,
        warnings,
    })
}

/// [`check_set`] over the projects of a run, masking secrets as they appear and showing
/// inputs and results under --verbose.
pub(super) fn check_projects(
    settings: &Settings,
    projects: &[Project],
    env: &Env,
    cwd: &Path,
    no_verify: bool,
    out: &mut Output,
) -> Result<Vec<Checked>, ConfigError> {
    let resolved: Vec<Resolved> = projects
        .iter()
        .map(|p| p.stages.resolved(settings))
        .collect();
    for r in &resolved {
        out.debug("target", r.target);
    }
    let mut checked = check_set(&resolved, env, cwd, no_verify, &mut |secret| {
        out.mask(secret)
    })?;
    for c in &mut checked {
        if let Some(v) = &mut c.verdict {
            out.redact_verdict(v);
        }
        for w in &mut c.unverified_warnings {
            *w = out.redact(w);
        }
        out.debug("verdict", &c.verdict);
    }
    Ok(checked)
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
