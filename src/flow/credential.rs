//! The credential stage of a project's check: the token from the first source configured
//! (input, service connection, token map, Vault exchange), or the verdict that ends the check
//! without one (`token-missing`, a refused exchange).

use super::client_options;
use crate::ci::{CiKind, Context};
use crate::credential::{self, Credential};
use crate::env::Env;
use crate::error::ConfigError;
use crate::inputs::Origin;
use crate::report::safe;
use crate::settings::{Settings, SkipPolicy, VaultSettings};
use crate::sonar::client::CaSource;
use crate::sonar::{self, Verdict, VerdictKind};
use crate::target::{self, Target};
use crate::trust;
use std::path::{Path, PathBuf};

/// The credential stage's outcome: a token (from Vault, with its Vault token still to
/// revoke), or a verdict that ends the check (no token, a refused exchange).
pub(super) enum Obtained {
    Token(Credential, Option<credential::exchange::Revocation>),
    Ended(Verdict),
}

/// What the credential stages read.
pub(super) struct Sources<'a> {
    pub(super) settings: &'a Settings,
    pub(super) env: &'a Env,
    pub(super) ctx: &'a Context,
    pub(super) cwd: &'a Path,
    pub(super) project_key: &'a str,
    pub(super) trust: &'a trust::check::Report,
}

/// The token, from the first source that is configured. A Vault exchange comes after the
/// token input, a service connection and a token map, so its settings are only read when
/// none of those is set.
pub(super) fn obtain_credential(
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
            // The exchange sends the CI's identity, and reads the token by project key:
            // an untrusted build's refusal comes first.
            if let Some(refused) = s.trust.gate() {
                return Err(refused);
            }
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
pub(super) fn missing_token_verdict(
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
pub(super) fn exchange_failure_verdict(e: &credential::exchange::ExchangeError) -> Verdict {
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

/// Whether and how to exchange at Vault.
pub(super) enum VaultPlan {
    /// `vault-url` is not set.
    Off,
    /// Set, but this build gets no OIDC token because the CI withholds secrets from it (a
    /// fork or Dependabot pull request): a missing token, not a configuration mistake.
    Withheld(String),
    Exchange(Box<credential::exchange::ExchangeConfig>),
}

/// The Vault exchange's settings, when `vault-url` is set.
pub(super) fn exchange_config(
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
