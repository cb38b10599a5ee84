//! What the program runs on: every option resolved once, at the edge, from what the user said
//! (`options::said`), validated, each value keeping where it came from for messages. The flow
//! (`flow`) and the stages take this plain value; none of them sees clap or reads an option
//! from the environment again.

use crate::error::{quote, ConfigError};
use crate::export::Format;
use crate::inputs::{Inputs, Sourced};
use crate::options::{self, Kind};
use crate::target::Requested;
use secrecy::SecretString;
use serde::Serialize;
use std::path::PathBuf;

/// `fail` or `skip`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipPolicy {
    Fail,
    Skip,
}

/// `fail` or `warn`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnreachablePolicy {
    Fail,
    Warn,
}

/// The `pull-request-trust` option (`trust`: whose files a pull request build believes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TrustPolicy {
    /// A pull request from a fork is untrusted; one from a branch of this repository is not
    /// (its author can push here anyway). The default.
    ForksUntrusted,
    /// Every pull request is untrusted: for organizations where anyone can push a branch.
    AllUntrusted,
    /// Workspace files are believed, even a fork's: opting out, with a warning.
    Trusted,
}

impl TrustPolicy {
    pub const NAMES: [&'static str; 3] = ["forks-untrusted", "all-untrusted", "trusted"];

    pub fn from_name(name: &str) -> Option<TrustPolicy> {
        match name {
            "forks-untrusted" => Some(TrustPolicy::ForksUntrusted),
            "all-untrusted" => Some(TrustPolicy::AllUntrusted),
            "trusted" => Some(TrustPolicy::Trusted),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            TrustPolicy::ForksUntrusted => "forks-untrusted",
            TrustPolicy::AllUntrusted => "all-untrusted",
            TrustPolicy::Trusted => "trusted",
        }
    }
}

/// The Vault/OpenBao exchange's settings.
#[derive(Debug, Clone)]
pub struct VaultSettings {
    pub url: Option<Sourced<String>>,
    pub role: Option<Sourced<String>>,
    pub path: String,
    pub namespace: Option<String>,
    pub auth_mount: String,
    pub field: String,
    pub ca_file: Option<Sourced<String>>,
    pub oidc_audience: String,
    pub oidc_token_env: Option<Sourced<String>>,
    pub azure_service_connection: Option<Sourced<String>>,
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// What the options say about the target.
    pub target: Requested,
    pub project_base_dir: Option<Sourced<String>>,
    /// `--projects`: globs of the project directories of this run, or `auto` (`projects`).
    pub projects: Option<Sourced<String>>,
    /// `run --projects`: stop at the first scan that fails.
    pub fail_fast: bool,
    /// `run --projects`: how many scans run at once.
    pub jobs: u64,
    pub default_branch: Option<Sourced<String>>,
    /// Whose files a pull request build believes (`trust`).
    pub pull_request_trust: TrustPolicy,
    /// The `token` input (never a flag); its `Debug` is redacted.
    pub token: Option<Sourced<SecretString>>,
    /// Token input variables that are set but empty: evidence for a missing token.
    pub empty_token_inputs: Vec<String>,
    pub token_map: Option<Sourced<String>>,
    /// `--project-key` was given blank: a missing project key is then said to be empty.
    pub blank_project_key_flag: bool,
    pub vault: VaultSettings,
    pub on_missing_token: SkipPolicy,
    pub on_project_not_found: SkipPolicy,
    pub on_unreachable: UnreachablePolicy,
    pub ca_file: Option<Sourced<String>>,
    pub timeout_secs: u64,
    pub retries: u64,
    pub allow_insecure_http: bool,
    pub expiry_warning_days: i64,
    pub format: Format,
    pub output: Option<PathBuf>,
    pub include_secrets: bool,
    pub token_in_json: bool,
    pub no_verify: bool,
    pub scan_command: Option<Sourced<String>>,
}

impl Settings {
    /// Resolves every option once. A bad value is an error naming where it came from and
    /// what it may be, before any stage runs.
    pub fn resolve(said: &Inputs) -> Result<Settings, ConfigError> {
        let text = |name: &'static str| said.get(name);
        let or_default = |name: &'static str| {
            said.get(name).map(|v| v.value).unwrap_or_else(|| {
                options::find(name)
                    .and_then(|d| d.default)
                    .unwrap_or_default()
                    .to_owned()
            })
        };
        let choice = |name: &'static str| -> Result<String, ConfigError> {
            let def = options::find(name).expect("a defined option");
            let Kind::Choice(choices) = def.kind else {
                unreachable!("{name} is a choice")
            };
            match said.get(name) {
                None => Ok(def.default.unwrap_or(choices[0]).to_owned()),
                Some(v) => choices
                    .iter()
                    .find(|c| c.eq_ignore_ascii_case(&v.value))
                    .map(|c| (*c).to_owned())
                    .ok_or_else(|| {
                        ConfigError::new(
                            v.source.to_string(),
                            format!("{} is not one of: {}", quote(&v.value), choices.join(", ")),
                        )
                    }),
            }
        };
        let boolean = |name: &'static str| -> Result<bool, ConfigError> {
            let Some(v) = said.get(name) else {
                return Ok(false);
            };
            match v.value.to_ascii_lowercase().as_str() {
                "true" | "yes" | "1" => Ok(true),
                "false" | "no" | "0" => Ok(false),
                _ => Err(ConfigError::new(
                    v.source.to_string(),
                    format!("{} is not true or false", quote(&v.value)),
                )),
            }
        };
        let number = |name: &'static str| -> Result<u64, ConfigError> {
            let def = options::find(name).expect("a defined option");
            let Kind::Number { min, max } = def.kind else {
                unreachable!("{name} is a number")
            };
            let Some(v) = said.get(name) else {
                return Ok(def.default.and_then(|d| d.parse().ok()).unwrap_or(min));
            };
            let n: u64 = v.value.parse().map_err(|_| {
                ConfigError::new(
                    v.source.to_string(),
                    format!("{} is not a whole number", quote(&v.value)),
                )
            })?;
            if !(min..=max).contains(&n) {
                return Err(ConfigError::new(
                    v.source.to_string(),
                    format!("{n} is outside {min} to {max}"),
                ));
            }
            Ok(n)
        };
        let skip = |name: &'static str| -> Result<SkipPolicy, ConfigError> {
            Ok(match choice(name)?.as_str() {
                "skip" => SkipPolicy::Skip,
                _ => SkipPolicy::Fail,
            })
        };
        let format = {
            let name = choice("format")?;
            <Format as clap::ValueEnum>::from_str(&name, true).expect("the table lists formats")
        };
        Ok(Settings {
            target: Requested {
                host_url: text("host-url"),
                region: text("region"),
                organization: text("organization"),
                project_key: text("project-key"),
                sonarcloud_url: text("sonarcloud-url"),
                api_base_url: text("api-base-url"),
                sonarcloud_connection: text("sonarcloud-connection"),
            },
            project_base_dir: text("project-base-dir"),
            projects: text("projects"),
            fail_fast: boolean("fail-fast")?,
            jobs: number("jobs")?,
            default_branch: text("default-branch"),
            pull_request_trust: TrustPolicy::from_name(&choice("pull-request-trust")?)
                .expect("the table lists the policies"),
            token: said.get("token").map(|t| t.map(SecretString::from)),
            empty_token_inputs: said.empty_variables("token"),
            token_map: text("token-map"),
            blank_project_key_flag: said.blank_flag("project-key"),
            vault: VaultSettings {
                url: text("vault-url"),
                role: text("vault-role"),
                path: or_default("vault-path"),
                namespace: text("vault-namespace").map(|v| v.value).or_else(|| {
                    said.env()
                        .non_empty("VAULT_NAMESPACE")
                        .map(|v| v.trim().to_owned())
                }),
                auth_mount: or_default("vault-auth-mount"),
                field: or_default("vault-field"),
                ca_file: text("vault-ca-file"),
                oidc_audience: or_default("oidc-audience"),
                oidc_token_env: text("oidc-token-env"),
                azure_service_connection: text("azure-service-connection"),
            },
            on_missing_token: skip("on-missing-token")?,
            on_project_not_found: skip("on-project-not-found")?,
            on_unreachable: match choice("on-unreachable")?.as_str() {
                "warn" => UnreachablePolicy::Warn,
                _ => UnreachablePolicy::Fail,
            },
            ca_file: text("ca-file"),
            timeout_secs: number("timeout")?,
            retries: number("retries")?,
            allow_insecure_http: boolean("allow-insecure-http")?,
            expiry_warning_days: number("expiry-warning-days")? as i64,
            format,
            output: text("output").map(|o| PathBuf::from(o.value)),
            include_secrets: boolean("include-secrets")?,
            token_in_json: boolean("token-in-json")?,
            no_verify: boolean("no-verify")?,
            scan_command: text("scan-command"),
        })
    }

    /// The settings of an environment alone (no flags): for tests of the stages.
    pub fn from_env(env: &crate::env::Env) -> Result<Settings, ConfigError> {
        Settings::resolve(&Inputs::new(env.clone()))
    }
}
