//! The flow of each command, on the resolved [`Settings`]: context → target → credential →
//! verdict → exports (docs/design.md), and what each command prints. `cli` parses the arguments
//! and maps the result to an exit code; everything between is here, and every stage is a
//! function of its own module, called in order.

use crate::child;
use crate::ci::{self, CiKind, Context};
use crate::credential::{self, Credential};
use crate::env::Env;
use crate::error::{ConfigError, Exit, Outcome};
use crate::export::{self, Destinations, ExportOptions, ExportSet, Format, Summary};
use crate::inputs::{Inputs, Origin, Sourced};
use crate::output::Output;
use crate::report::{self, safe};
use crate::scanner_command::{self, ScannerCommand};
use crate::scanner_config::{Scanner, ScannerConfig};
use crate::settings::{Settings, SkipPolicy, UnreachablePolicy, VaultSettings};
use crate::sonar::client::{CaSource, ClientOptions};
use crate::sonar::{self, Scan, Verdict, VerdictKind};
use crate::target::{self, Target};
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
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

impl From<export::WriteError> for Failure {
    fn from(e: export::WriteError) -> Self {
        Failure::Config(
            ConfigError::new(e.name.clone(), e.to_string())
                .hint("nothing was written; choose another --format, or fix the value"),
        )
    }
}

/// The stages up to the target, shared by every command.
fn context_and_target(
    settings: &Settings,
    env: &Env,
    cwd: &Path,
    command: Option<&ScannerCommand>,
) -> Result<(Context, ScannerConfig, Target), ConfigError> {
    let ctx = ci::detect(env, cwd, settings.default_branch.as_ref())?;
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
    let target = target::resolve(&settings.target, env, &scanner)?;
    export::check_scanner_agreement(&ctx, &target, &scanner)?;
    Ok((ctx, scanner, target))
}

pub fn context(
    settings: &Settings,
    json: bool,
    env: &Env,
    cwd: &Path,
    out: &mut Output,
) -> Result<Exit, Failure> {
    // With --json, cli has made stdout data-only before the settings were resolved.
    let (ctx, _, target) = context_and_target(settings, env, cwd, None)?;
    if json {
        out.json(&serde_json::json!({ "context": ctx, "target": target }))?;
    } else {
        out.report(&format!(
            "{}\n{}",
            report::context_text(&ctx),
            report::target_text(&target)
        ))?;
    }
    Ok(Exit::Ok)
}

/// The verification stages shared by `verify` and `export`: credential, local checks, then
/// the probes. `None` as verdict means `--no-verify`.
struct Checked {
    /// The target, with the organization a token map rule gave when none was set.
    target: Target,
    credential: Option<Credential>,
    verdict: Option<Verdict>,
    /// Warnings found without a verdict to hold them (`--no-verify`): configuration, token
    /// expiry, revocation. With a verdict they are among the verdict's warnings instead.
    unverified_warnings: Vec<String>,
}

impl Checked {
    /// A check that reached a verdict.
    fn ended(target: Target, credential: Option<Credential>, verdict: Verdict) -> Checked {
        Checked {
            target,
            credential,
            verdict: Some(verdict),
            unverified_warnings: Vec::new(),
        }
    }

    fn warn(&mut self, warning: String) {
        match &mut self.verdict {
            Some(v) => v.warnings.push(warning),
            None => self.unverified_warnings.push(warning),
        }
    }

    /// Every warning: the verdict's, or the ones found without a verdict.
    fn warnings(&self) -> &[String] {
        match &self.verdict {
            Some(v) => &v.warnings,
            None => &self.unverified_warnings,
        }
    }
}

/// What the stages before the credential produced.
struct Resolved<'a> {
    settings: &'a Settings,
    ctx: &'a Context,
    scanner: &'a ScannerConfig,
    target: &'a Target,
}

/// The credential stage's outcome: a token (from Vault, with its Vault token still to
/// revoke), or a verdict that ends the check (no token, a refused exchange).
enum Obtained {
    Token(Credential, Option<credential::exchange::Revocation>),
    Ended(Verdict),
}

fn check(
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
    };
    let (credential, revocation) = match obtain_credential(&sources, r.target, &runtime, mask)? {
        Obtained::Token(c, revocation) => (c, revocation),
        Obtained::Ended(v) => return Ok(Checked::ended(r.target.clone(), None, v)),
    };
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
    Ok(checked)
}

/// What the credential stages read.
struct Sources<'a> {
    settings: &'a Settings,
    env: &'a Env,
    ctx: &'a Context,
    cwd: &'a Path,
    project_key: &'a str,
}

/// The token, from the first source that is configured. A Vault exchange comes after the
/// token input, a service connection and a token map, so its settings are only read when
/// none of those is set.
fn obtain_credential(
    s: &Sources,
    target: &Target,
    runtime: &tokio::runtime::Runtime,
    mask: &mut dyn FnMut(&str),
) -> Result<Obtained, ConfigError> {
    let before_vault = s.settings.token.is_some()
        || s.settings.target.sonarcloud_connection.is_some()
        || s.settings.token_map.is_some();
    let vault = match before_vault {
        true => VaultPlan::Off,
        false => exchange_config(&s.settings.vault, s.env, s.ctx)?,
    };
    match vault {
        VaultPlan::Off => {}
        VaultPlan::Withheld(reason) => {
            return Ok(Obtained::Ended(missing_token_verdict(
                credential::MissingToken {
                    reason,
                    withheld: true,
                },
                s.ctx.ci,
                s.settings,
            )))
        }
        VaultPlan::Exchange(config) => {
            let org = target
                .organization
                .as_ref()
                .map(|o| o.value.as_str())
                .unwrap_or_default();
            if org.is_empty() && config.path_template.contains("{organization}") {
                return Err(ConfigError::new(
                    "vault-path",
                    format!(
                        "{} uses {{organization}}, but no organization is set",
                        crate::error::quote(&config.path_template)
                    ),
                )
                .hint("SonarQube Server has no organizations: set vault-path without it (e.g. secret/sonar/{project}); on SonarQube Cloud, set the organization"));
            }
            let mut options = client_options(s.settings, s.env);
            if let Some(ca) = &s.settings.vault.ca_file {
                options
                    .extra_roots
                    .push((ca.source.clone(), CaSource::File(PathBuf::from(&ca.value))));
            }
            let client = sonar::client::Client::new(s.env, options)?;
            let result = runtime.block_on(credential::exchange::exchange(
                &client,
                &config,
                org,
                s.project_key,
                mask,
            ));
            return Ok(match result {
                Ok(x) => Obtained::Token(
                    Credential {
                        token: x.token,
                        source: Origin::Exchange(x.source),
                        organization: None,
                        expires: None,
                    },
                    Some(x.revocation),
                ),
                Err(e) => Obtained::Ended(exchange_failure_verdict(&e)),
            });
        }
    }
    Ok(
        match credential::resolve(s.settings, s.env, s.ctx, s.project_key, s.cwd)? {
            Ok(c) => Obtained::Token(c, None),
            Err(missing) => Obtained::Ended(missing_token_verdict(missing, s.ctx.ci, s.settings)),
        },
    )
}

/// The verdict for a missing token, with advice for this CI and the options in use.
fn missing_token_verdict(
    missing: credential::MissingToken,
    ci: CiKind,
    settings: &Settings,
) -> Verdict {
    let next = match (missing.withheld, settings.on_missing_token) {
        (true, SkipPolicy::Skip) => "nothing to do: this build gets no secrets, and --on-missing-token skip skips the scan".to_owned(),
        (true, SkipPolicy::Fail) => "this is expected for such builds: pass --on-missing-token skip (input on-missing-token: skip) to skip the scan cleanly".to_owned(),
        (false, _) => {
            let map = match ci {
                CiKind::Github => "map the secret into this step (env: SONAR_TOKEN: ${{ secrets.SONAR_TOKEN }}, or the action's token input) and check that the secret exists for this repository",
                CiKind::Azure => "map the secret variable into this step (env: SONAR_TOKEN: $(SONAR_TOKEN): secret variables reach a script only when mapped), or use the task's sonarcloudConnection input",
                CiKind::Jenkins => "wrap the step in withCredentials([string(credentialsId: '<id>', variable: 'SONAR_TOKEN')]), or in withSonarQubeEnv (which sets SONAR_AUTH_TOKEN)",
                CiKind::Gitlab => "add a masked CI/CD variable SONAR_TOKEN (Settings → CI/CD → Variables); a protected one reaches only protected branches and tags",
                CiKind::Bitbucket => "add a secured repository variable SONAR_TOKEN (Repository settings → Repository variables), or a deployment variable for this step's environment",
                CiKind::Local => "export SONAR_TOKEN in this shell",
            };
            let skip = match settings.on_missing_token {
                SkipPolicy::Skip => "--on-missing-token skip does not apply: it skips only builds the CI gives no secrets (fork and Dependabot pull requests), and this one should have the token. ",
                SkipPolicy::Fail => "",
            };
            format!("{skip}{map}; scantoken also reads SCANTOKEN_TOKEN, a token map (token-map) or a Vault exchange (vault-url)")
        }
    };
    Verdict::new(VerdictKind::TokenMissing, missing.reason, next)
}

/// A failed exchange. A refusal is `token-rejected`, never `token-missing`: the pipeline's
/// identity or the role is wrong, which `--on-missing-token skip` must not hide.
fn exchange_failure_verdict(e: &credential::exchange::ExchangeError) -> Verdict {
    use credential::exchange::{ExchangeError, Stage};
    let (kind, next) = match e {
        ExchangeError::Unreachable { .. } => (
            VerdictKind::Unreachable,
            "check vault-url and the network path to Vault (HTTPS_PROXY, NO_PROXY)",
        ),
        ExchangeError::Proxy { .. } => (
            VerdictKind::ProxyError,
            "check HTTPS_PROXY, HTTP_PROXY and NO_PROXY: the proxy must let this agent reach Vault and the CI's token endpoint (with credentials in the proxy URL if it asks for them), or those hosts must be listed in NO_PROXY",
        ),
        ExchangeError::Insecure { .. } => (
            VerdictKind::InsecureHost,
            "use the https:// URL of Vault (and of the CI's token endpoint); if this network is trusted, pass --allow-insecure-http (input allow-insecure-http: true)",
        ),
        ExchangeError::Untrusted { .. } => (
            VerdictKind::TlsUntrusted,
            "if Vault uses a private or company CA, pass its certificate with vault-ca-file (--ca-file, SSL_CERT_FILE and SONAR_ROOT_CERT are trusted too)",
        ),
        ExchangeError::Refused {
            stage: Stage::OidcToken,
            ..
        } => (
            VerdictKind::TokenRejected,
            "let the job request an OIDC token (GitHub: permissions: id-token: write; Azure: a service connection with workload identity federation; GitLab: id_tokens)",
        ),
        ExchangeError::Refused {
            stage: Stage::VaultRead,
            ..
        } => (
            VerdictKind::TokenRejected,
            "check that the secret exists at that path with the field vault-field, and that the role's policy allows reading it",
        ),
        ExchangeError::Refused { .. } => (
            VerdictKind::TokenRejected,
            "compare the claims above with the role's bound_claims and bound_audiences (and bound_subject), and check the role name",
        ),
    };
    Verdict::new(
        kind,
        format!("the Vault exchange gave no token: {}", e.describe()),
        next,
    )
}

/// The checks that follow once there is a token: the organization, its expiry, the host,
/// then the probes.
fn check_credential(
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

/// Whether and how to exchange at Vault.
enum VaultPlan {
    /// `vault-url` is not set.
    Off,
    /// Set, but this build gets no OIDC token because the CI withholds secrets from it (a
    /// fork or Dependabot pull request): a missing token, not a configuration mistake.
    Withheld(String),
    Exchange(Box<credential::exchange::ExchangeConfig>),
}

/// The Vault exchange's settings, when `vault-url` is set.
fn exchange_config(
    vault: &VaultSettings,
    env: &Env,
    ctx: &Context,
) -> Result<VaultPlan, ConfigError> {
    use credential::exchange::{ExchangeConfig, OidcSource};
    use secrecy::SecretString;
    let Some(url) = &vault.url else {
        return Ok(VaultPlan::Off);
    };
    let vault_url = target::parse_url(url)?;
    let role = vault.role.clone().ok_or_else(|| {
        ConfigError::new("vault-role", "is not set, but vault-url is")
            .hint("name the JWT auth role that binds this pipeline's claims (input vault-role)")
    })?;
    let secret = |name: &str| {
        env.non_empty(name)
            .map(|v| SecretString::from(v.to_owned()))
    };
    let withheld = ctx.secrets_withheld.clone();
    let oidc = if let Some(var) = vault.oidc_token_env.clone() {
        let Some(jwt) = secret(&var.value) else {
            if let Some(why) = withheld {
                return Ok(VaultPlan::Withheld(why));
            }
            return Err(ConfigError::new(
                var.source.to_string(),
                format!(
                    "names variable {}, which is empty or not set",
                    safe(&var.value)
                ),
            )
            .hint("GitLab: declare it under id_tokens with the audience the Vault role expects"));
        };
        OidcSource::Variable {
            name: var.value,
            jwt,
        }
    } else if let (Some(request_url), Some(request_token)) = (
        env.non_empty("ACTIONS_ID_TOKEN_REQUEST_URL"),
        secret("ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
    ) {
        OidcSource::Github {
            request_url: request_url.to_owned(),
            request_token,
            audience: vault.oidc_audience.clone(),
        }
    } else if let (Some(uri), Some(connection)) = (
        env.non_empty("SYSTEM_OIDCREQUESTURI"),
        vault.azure_service_connection.clone(),
    ) {
        let access_token = secret("SYSTEM_ACCESSTOKEN").ok_or_else(|| {
            ConfigError::new(
                "SYSTEM_ACCESSTOKEN",
                "is not set, but the Azure OIDC request needs it",
            )
            .hint("map it into the step: env: SYSTEM_ACCESSTOKEN: $(System.AccessToken)")
        })?;
        OidcSource::Azure {
            request_uri: uri.to_owned(),
            access_token,
            service_connection: connection.value,
        }
    } else if let Some(why) = withheld {
        return Ok(VaultPlan::Withheld(why));
    } else {
        let hint = match ctx.ci {
            CiKind::Github => "give the job `permissions: id-token: write` so the runner sets ACTIONS_ID_TOKEN_REQUEST_URL",
            CiKind::Azure => "set azure-service-connection to a service connection with workload identity federation",
            _ => "set oidc-token-env to the variable that holds the CI's OIDC token (GitLab: id_tokens)",
        };
        return Err(ConfigError::new(
            "vault-url",
            "is set, but no OIDC token is available to log in with",
        )
        .hint(hint));
    };
    Ok(VaultPlan::Exchange(Box::new(ExchangeConfig {
        vault_url,
        role: role.value,
        auth_mount: vault.auth_mount.clone(),
        path_template: vault.path.clone(),
        field: vault.field.clone(),
        namespace: vault.namespace.clone(),
        oidc,
    })))
}

/// [`check`], with its inputs and results shown under --verbose and secrets masked as they
/// appear.
fn check_logged(
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

pub fn verify(
    settings: &Settings,
    json: bool,
    env: &Env,
    cwd: &Path,
    out: &mut Output,
) -> Result<Exit, Failure> {
    let (ctx, scanner, target) = context_and_target(settings, env, cwd, None)?;
    let resolved = Resolved {
        settings,
        ctx: &ctx,
        scanner: &scanner,
        target: &target,
    };
    let checked = check_logged(&resolved, env, cwd, false, out)?;
    let target = checked.target.clone();
    let mut verdict = checked.verdict.expect("verify always verifies");
    if verdict.verdict == VerdictKind::Ok {
        // verify exports nothing: say how the scan gets the token.
        verdict.next_step = "hand the scan its token: scantoken run -- <scan command> verifies and runs it, or scantoken export writes the variables for the steps that follow".into();
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
        });
        out.json(&json)?;
    } else {
        out.say(&report::context_text(&ctx));
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

fn token_json(c: &Credential) -> serde_json::Value {
    serde_json::json!({
        "source": c.source.to_string(),
        "kind": c.token.kind(),
        "fingerprint": c.token.fingerprint(),
    })
}

/// What to do when verification cannot say yes.
struct Policies {
    missing: SkipPolicy,
    project_not_found: SkipPolicy,
    unreachable: UnreachablePolicy,
    /// The context says the CI withholds secrets from this build (a fork or Dependabot pull
    /// request): the only builds `--on-missing-token skip` skips. Elsewhere a missing token
    /// is a mistake (a mistyped, deleted or unmapped secret) that a green job would hide.
    secrets_withheld: bool,
}

impl Policies {
    fn of(settings: &Settings, ctx: &Context) -> Policies {
        Policies {
            missing: settings.on_missing_token,
            project_not_found: settings.on_project_not_found,
            unreachable: settings.on_unreachable,
            secrets_withheld: ctx.secrets_withheld.is_some(),
        }
    }

    fn skip(&self, v: &Verdict) -> bool {
        self.skipped_by(v).is_some()
    }

    /// The policy that skips this verdict, if one does.
    fn skipped_by(&self, v: &Verdict) -> Option<&'static str> {
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

    fn warn_only(&self, v: &Verdict) -> bool {
        v.verdict.is_reach_failure() && self.unreachable == UnreachablePolicy::Warn
    }

    fn exit(&self, v: &Verdict) -> Exit {
        if self.skip(v) || self.warn_only(v) {
            Exit::Ok
        } else {
            v.verdict.exit()
        }
    }
}

/// What `export` and `run` ask of the shared stages.
struct Plan<'a> {
    /// `export` writes with the chosen format; `run` only sees the CI's own (for outputs).
    format: Format,
    token_in_json: bool,
    no_verify: bool,
    include_secrets: bool,
    output: Option<&'a Path>,
    /// `run`: the scanner command, whose arguments count as the scanner's configuration.
    command: Option<&'a ScannerCommand>,
}

/// An export set that may be handed over, with what the writers need beside it.
struct Ready {
    set: ExportSet,
    summary: Summary,
    format: Format,
    dest: Destinations,
    /// Warnings already printed in the verdict's block: not printed again as text (the CI's
    /// annotation for each still comes from the writer).
    shown: Vec<String>,
}

/// The stages up to the export set, and the decision to export at all: `Err(exit)` when
/// nothing is to be exported (a failed verdict, a skip by policy).
fn prepare(
    plan: &Plan,
    settings: &Settings,
    env: &Env,
    cwd: &Path,
    out: &mut Output,
) -> Result<Result<Ready, Exit>, Failure> {
    let (ctx, scanner, target) = context_and_target(settings, env, cwd, plan.command)?;
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
    let policies = Policies::of(settings, &ctx);
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

    out.say(&report::context_text(&ctx));
    out.say(&report::target_text(&target));
    if let Some(why) = ci::skip_reason(&ctx, scanner.existing_json_params()) {
        out.notice(&format!(
            "scan skipped: {}. Nothing exported; the scan steps that follow must be skipped too",
            report::safe_text(&why)
        ));
        write_outputs_only(&dest, format, SKIPPED, &target, out)?;
        return Ok(Err(Exit::Ok));
    }
    let resolved = Resolved {
        settings,
        ctx: &ctx,
        scanner: &scanner,
        target: &target,
    };
    let mut checked = check_logged(&resolved, env, cwd, no_verify, out)?;
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
        Some(v) if v.verdict == VerdictKind::Ok => match edition_policy(&ctx, &target, &scanner, v)
        {
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
            write_failure_summary(&dest, format, v, &ctx, &target, checked.credential.as_ref(), false, out)?;
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
            write_failure_summary(&dest, format, v, &ctx, &target, checked.credential.as_ref(), v.verdict != VerdictKind::TokenMissing, out)?;
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
    let mut set = export::build(&ctx, &target, Some(&credential.token), &scanner, options)?;
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
    let plan = Plan {
        format: settings.format,
        token_in_json: settings.token_in_json,
        no_verify: settings.no_verify,
        include_secrets: settings.include_secrets,
        output: settings.output.as_deref(),
        command: None,
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

/// The command `run` starts: the words after `--`, or the `scan-command` input (the GitHub
/// Action's and the Azure task's way to give it), split as a shell splits words.
fn scan_command(words: &[OsString], settings: &Settings) -> Result<Vec<OsString>, ConfigError> {
    if !words.is_empty() {
        return Ok(words.to_vec());
    }
    let Some(line) = &settings.scan_command else {
        return Err(ConfigError::new("run", "no command was given")
            .hint("write the scan command after --, e.g. scantoken run -- sonar-scanner, or set the input scan-command"));
    };
    let words = shlex::split(&line.value).filter(|w| !w.is_empty()).ok_or_else(|| {
        ConfigError::new(
            line.source.to_string(),
            // Not quoted back: a command line may carry a credential the user typed there.
            "is not a command line scantoken can split (an unclosed quote?)",
        )
        .hint("quote as in a POSIX shell: 'single', \"double\", or a backslash; variables are not expanded")
    })?;
    Ok(words.into_iter().map(OsString::from).collect())
}

/// `scantoken run -- <command>`: read the command, verify the scan it will run, then run it
/// with the exports in its environment alone.
pub fn run(
    settings: &Settings,
    words: &[OsString],
    env: &Env,
    cwd: &Path,
    out: &mut Output,
) -> Result<Outcome, Failure> {
    let argv = scan_command(words, settings)?;
    // A scanner that is not installed is found out before any probe is sent.
    if !child::program_exists(&argv[0], env.get("PATH"), cwd) {
        let program = argv[0].to_string_lossy();
        let where_ = match program.contains(['/', '\\']) {
            true => "no such executable file",
            false => "not found on PATH",
        };
        return Err(Failure::Config(
            ConfigError::new("run", format!("cannot start {}: {where_}; nothing was verified or started", safe(&program)))
                .hint("install the scanner first (sonar-scanner: the sonarsource/sonar-scanner-cli image or the SonarScanner CLI zip; npx @sonar/scan; pip install pysonar; dotnet tool install dotnet-sonarscanner), or check the command's name"),
        ));
    }
    let command = scanner_command::read(&argv)?;
    let plan = Plan {
        format: Format::Auto,
        // The .NET scanner reads the token from SONARQUBE_SCANNER_PARAMS only; in the
        // child's own environment it goes nowhere else.
        token_in_json: command.scanner == Some(Scanner::Dotnet),
        no_verify: false,
        include_secrets: false,
        output: None,
        command: Some(&command),
    };
    let ready = match prepare(&plan, settings, env, cwd, out)? {
        Ok(ready) => ready,
        Err(exit) => return Ok(exit.into()),
    };
    // On GitHub and Azure the step's outputs (verdict, project key, host) and summary are
    // written as `export` writes them, without a single variable: those go to the child.
    let ci_outputs = match ready.format {
        Format::Github => ready.dest.github_env.is_some(),
        Format::Azure => true,
        _ => false,
    };
    if ci_outputs {
        let mut outputs_only = ready.set.clone();
        outputs_only.variables.clear();
        let rendered = export::render(ready.format, &outputs_only, &ready.summary, &ready.dest)?;
        export::commit(&rendered, out.raw_stdout()).map_err(|e| {
            ConfigError::new("outputs", e.to_string())
                .hint("nothing was started: check that the files GITHUB_OUTPUT and GITHUB_STEP_SUMMARY name can be written")
        })?;
    } else {
        for w in ready
            .set
            .warnings
            .iter()
            .filter(|w| !ready.shown.contains(w))
        {
            out.say(&format!("warning: {}", report::safe_text(w)));
        }
    }
    // For later jobs (a GitLab dotenv report, Jenkins' readProperties): the exports without
    // a secret, written once the scan is verified and before it starts.
    if let Some(path) = &settings.output {
        let dest = Destinations {
            output: Some(cwd.join(path)),
            include_secrets: false,
            ..Destinations::default()
        };
        let rendered = export::render(Format::Dotenv, &ready.set, &ready.summary, &dest)?;
        export::commit(&rendered, out.raw_stdout()).map_err(|e| {
            ConfigError::new("output", e.to_string())
                .hint("nothing was started: check that the --output file can be written")
        })?;
    }
    for n in &command.notes {
        out.say(&format!("note: {}", report::safe_text(n)));
    }
    let mut child_env: Vec<(String, String)> = env
        .iter()
        .filter(|(k, _)| !ready.set.variables.iter().any(|v| v.name == k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut secrets = Vec::new();
    for v in &ready.set.variables {
        child_env.push((v.name.to_owned(), v.value.expose().to_owned()));
        if v.value.is_secret() {
            secrets.push(v.value.expose());
        }
    }
    out.say(&format!(
        "Running {} with {} (for this process alone; secrets masked in its output)",
        safe(&command.name),
        ready.set.names().join(", ")
    ));
    let launch = child::Launch {
        argv: &argv,
        env: child_env,
        secrets,
    };
    let (stdout, stderr) = out.raw_streams();
    match child::run(launch, stdout, stderr) {
        Ok(code) => Ok(Outcome::Child(code)),
        Err(e) => {
            let hint = if e.error.kind() == std::io::ErrorKind::NotFound {
                "check the command's name and that it is on PATH (install the scanner first)"
            } else {
                "check that the command exists and can be executed"
            };
            Err(Failure::Config(
                ConfigError::new(
                    "run",
                    format!("cannot start {}: {}", safe(&e.program), e.error),
                )
                .hint(hint),
            ))
        }
    }
}

fn probe_rows(v: &Verdict) -> Vec<(String, String)> {
    v.probes
        .iter()
        .map(|p| (format!("{} {}", p.method, p.url), p.answer()))
        .collect()
}

/// On GitHub, a failed verdict still gets its step summary (context, target, verdict,
/// probes), so the reason is on the run's page.
/// `failed` is false for a verdict a policy skipped: the step passed.
#[allow(clippy::too_many_arguments)]
fn write_failure_summary(
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

/// What a SonarQube Server without branch analysis means for a build whose scan would carry
/// branch or pull request properties (docs/design.md, "Servers without branch analysis").
enum EditionOutcome {
    /// A pull request, or a branch known not to be the default: skipped (exit 0), as the
    /// scanner would refuse it and there is nothing to fix.
    Skip(String),
    /// A branch whose being the default is unknown, or properties set by hand: the
    /// configuration must say (exit 2).
    Refuse(ConfigError),
    /// The version does not tell the edition (10.x and older): what may happen.
    Warn(String),
}

fn edition_policy(
    ctx: &Context,
    target: &Target,
    scanner: &ScannerConfig,
    verdict: &Verdict,
) -> Option<EditionOutcome> {
    use crate::sonar::edition::{self, BranchSupport};
    let version = verdict.server_version.as_deref()?;
    let (props, _) = export::scanner_properties(ctx, target, scanner);
    let what = match (
        props.get("sonar.pullrequest.key"),
        props.get("sonar.branch.name"),
    ) {
        (Some(key), _) => format!("pull request {} (sonar.pullrequest.*)", safe(key)),
        (None, Some(branch)) => format!("branch {} (sonar.branch.name)", safe(branch)),
        (None, None) => return None,
    };
    let product = edition::product(&safe(version));
    let refused = "the scanner refuses it before analysing (\"To use the property … Developer Edition or above is required\")";
    match edition::branch_support(version) {
        BranchSupport::Yes => None,
        BranchSupport::Unknown => Some(EditionOutcome::Warn(format!(
            "{product} does not say its edition: if it is the Community Edition (main branch only), {refused} for this {what}; there, name the main branch with default-branch so that only its builds are scanned"
        ))),
        BranchSupport::MainBranchOnly => {
            let by_hand = scanner.existing_json_params().is_some_and(|p| {
                p.keys()
                    .any(|k| k == "sonar.branch.name" || k.starts_with("sonar.pullrequest."))
            });
            let not_main = ctx.event == crate::ci::EventKind::PullRequest
                || ctx.is_default_branch == Some(false);
            if by_hand {
                Some(EditionOutcome::Refuse(
                    ConfigError::new(
                        crate::scanner_config::JSON_PARAMS_VARIABLES[0],
                        format!("sets the {what}, and {product} analyses the main branch only: {refused}"),
                    )
                    .hint("remove the branch and pull request properties from it, or scan on SonarQube Server (Developer Edition or above) or SonarQube Cloud"),
                ))
            } else if not_main {
                Some(EditionOutcome::Skip(format!(
                    "{product} analyses the main branch only, and this build is the {what}: {refused}. The default branch's builds are scanned; for branch and pull request analysis, use SonarQube Server (Developer Edition or above) or SonarQube Cloud"
                )))
            } else {
                Some(EditionOutcome::Refuse(
                    ConfigError::new(
                        "default-branch",
                        format!(
                            "is not set, and {} does not say whether this build's branch is the default one: it would be scanned as the {what}, and {product} analyses the main branch only: {refused}",
                            ctx.ci.describe()
                        ),
                    )
                    .hint("name the branch Sonar analyses as the main branch: --default-branch main (SCANTOKEN_DEFAULT_BRANCH; input default-branch); its builds are then scanned, other branches' skipped"),
                ))
            }
        }
    }
}

/// The `verdict` output of a build the context says not to scan (a merge queue's branch, a
/// `workflow_run` whose pull request is unknown).
const SKIPPED: &str = "skipped";

/// The step's outputs (`verdict`, `project-key`, `host-url`) when nothing is exported: a
/// failed verdict or a skip still tells the workflow what happened, never with a secret.
fn write_outputs_only(
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

fn format_name(f: Format) -> String {
    use clap::ValueEnum;
    f.to_possible_value()
        .map(|p| p.get_name().to_owned())
        .unwrap_or_default()
}
