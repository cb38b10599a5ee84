//! Where the token comes from.
//!
//! In order: the `token` input (`INPUT_TOKEN`, `SCANTOKEN_TOKEN`); an Azure SonarCloud
//! service connection; a token map; a Vault/OpenBao exchange (see [`exchange`], run by the
//! command flow since it needs the network); the scanner's own `SONAR_TOKEN`; and Jenkins'
//! `SONAR_AUTH_TOKEN` (set by `withSonarQubeEnv`). There is deliberately no `--token` flag:
//! a command line is visible to every process on the machine.
//!
//! When no source holds a token, the result says why, because on CI "no token" is usually
//! not a mistake in the pipeline but a fork or Dependabot pull request, which get no secrets.

pub mod exchange;
pub mod token_map;

use crate::ci::Context;
use crate::env::Env;
use crate::error::ConfigError;
use crate::inputs::{Origin, Sourced};
use crate::secret::{Token, TokenFormatError};
use crate::settings::Settings;
use secrecy::ExposeSecret;
use std::path::Path;
use token_map::TokenMap;

#[derive(Debug, Clone)]
pub struct Credential {
    pub token: Token,
    pub source: Origin,
    /// The organization the token belongs to, when its source says (a token map rule).
    pub organization: Option<String>,
    /// When the token expires, when its source says: `YYYY-MM-DD` and its day number.
    pub expires: Option<(String, i64)>,
}

fn direct(raw: Sourced<String>) -> Result<Credential, ConfigError> {
    Ok(Credential {
        token: Token::new(&raw.value).map_err(|e| token_error(&raw.source, e))?,
        source: raw.source,
        organization: None,
        expires: None,
    })
}

/// An Azure DevOps SonarCloud service connection (a `connectedService:sonarcloud` input):
/// the input's value is the endpoint id, and the agent puts the endpoint's token in
/// `ENDPOINT_AUTH_PARAMETER_<id>_APITOKEN`. The connection may hold a scoped organization
/// token saved "without verification", since its own Verify button uses a browse-only call.
fn from_service_connection(
    connection: &Sourced<String>,
    env: &crate::env::Env,
) -> Result<Credential, ConfigError> {
    let id = connection.value.trim();
    let found = crate::ci::azure::endpoint_variable(env, id, |id| {
        format!("ENDPOINT_AUTH_PARAMETER_{id}_APITOKEN")
    });
    let Some((name, value)) = found else {
        return Err(ConfigError::new(
            connection.source.to_string(),
            format!("names service connection {}, but the agent gave no ENDPOINT_AUTH_PARAMETER_{id}_APITOKEN", crate::error::quote(id)),
        )
        .hint("choose a SonarCloud service connection in the task's input, and authorize the pipeline to use it"));
    };
    let source = Origin::Variable(name);
    Ok(Credential {
        token: Token::new(&value).map_err(|e| token_error(&source, e))?,
        source,
        organization: None,
        expires: None,
    })
}

/// The token map from a file, or inline YAML in the input itself.
pub fn load_token_map(input: &Sourced<String>, cwd: &Path) -> Result<TokenMap, ConfigError> {
    let value = input.value.as_str();
    let looks_inline = value.contains('\n') || value.trim_start().starts_with("rules:");
    if looks_inline {
        return TokenMap::parse(&format!("token map in {}", input.source), value);
    }
    // A token given where the map's path goes (`--token-map sqco_…`) would be quoted back in
    // "cannot read the token map …": refuse it without reading or showing it.
    if std::path::Path::new(value)
        .components()
        .any(|c| crate::secret::looks_like_token(&c.as_os_str().to_string_lossy()))
    {
        return Err(ConfigError::new(
            input.source.to_string(),
            "looks like a Sonar token, not the path of a token map (not shown)",
        )
        .hint("the token goes in the variable SONAR_TOKEN (or SCANTOKEN_TOKEN; the token input in the GitHub Action and the Azure task); token-map takes a YAML file, or the YAML itself, naming the variables that hold the tokens"));
    }
    let path = cwd.join(value);
    let bytes = crate::read::file(
        &path,
        &input.source.to_string(),
        "the token map",
        token_map::MAX_BYTES,
    )
    .map_err(|e| {
        let hint = "give the path of a YAML file, or the YAML itself starting with `rules:`";
        ConfigError::from(e).hint(hint)
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        ConfigError::new(
            path.display().to_string(),
            format!(
                "is not valid UTF-8 (at byte {})",
                e.utf8_error().valid_up_to()
            ),
        )
        .hint("save the token map as UTF-8")
    })?;
    // Named as given, not by where this checkout happens to be: the audit's shards, each in its
    // own job's folder, must agree on the map for their merge (and the evidence reads the same
    // on every runner). `./sonar/map.yaml` and `sonar//map.yaml` name `sonar/map.yaml`.
    TokenMap::parse(&path_as_given(value), &text)
}

/// A relative path as the user gave it, without `.` components or doubled separators: how the
/// token map is named. Only lexical: `..` stays, and nothing is resolved on disk.
fn path_as_given(value: &str) -> String {
    let path: std::path::PathBuf = Path::new(value)
        .components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect();
    if path.as_os_str().is_empty() {
        value.to_owned()
    } else {
        path.display().to_string()
    }
}

impl Credential {
    /// `variable SONAR_TOKEN, scoped organization token (sqco_), sha256:1a2b`.
    pub fn describe(&self) -> String {
        format!(
            "{}, {}, {}",
            self.source,
            self.token.kind().describe(),
            self.token.fingerprint()
        )
    }
}

/// No token, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingToken {
    pub reason: String,
    /// The CI withholds secrets from this build: expected, not a configuration mistake.
    pub withheld: bool,
}

/// Variables the scanner ecosystem uses for the token, after the `token` input.
const TOKEN_VARIABLES: [&str; 2] = ["SONAR_TOKEN", "SONAR_AUTH_TOKEN"];

pub fn resolve(
    settings: &Settings,
    env: &Env,
    ctx: &Context,
    project_key: &str,
    cwd: &Path,
) -> Result<Result<Credential, MissingToken>, ConfigError> {
    if let Some(raw) = &settings.token {
        let raw = Sourced::new(raw.value.expose_secret().to_owned(), raw.source.clone());
        return Ok(Ok(direct(raw)?));
    }
    if let Some(connection) = &settings.target.sonarcloud_connection {
        return Ok(Ok(from_service_connection(connection, env)?));
    }
    if let Some(map_input) = &settings.token_map {
        let map = load_token_map(map_input, cwd)?;
        let rule = map.select(project_key)?;
        let source = Origin::TokenMap {
            map: map.source.clone(),
            line: rule.line,
            variable: rule.token_env.clone(),
        };
        return match env.non_empty(&rule.token_env) {
            Some(value) => Ok(Ok(Credential {
                token: Token::new(value).map_err(|e| token_error(&source, e))?,
                source,
                organization: rule.organization.clone(),
                expires: rule.expires.clone(),
            })),
            None if ctx.secrets_withheld.is_some() => Ok(Err(MissingToken {
                reason: ctx.secrets_withheld.clone().unwrap_or_default(),
                withheld: true,
            })),
            None => Err(ConfigError::new(
                format!(
                    "{} line {}, field token-env",
                    map.source, rule.token_env_line
                ),
                format!(
                    "the rule for {project_key} names variable {}, which is {}",
                    rule.token_env,
                    if env.get(&rule.token_env).is_some() {
                        "empty"
                    } else {
                        "not set"
                    }
                ),
            )
            .hint(format!(
                "map the secret into this step as {}",
                rule.token_env
            ))),
        };
    }
    let found = TOKEN_VARIABLES.iter().find_map(|var| {
        Some(Sourced::new(
            env.non_empty(var)?.to_owned(),
            Origin::Variable(var.to_string()),
        ))
    });
    if let Some(raw) = found {
        return Ok(Ok(direct(raw)?));
    }
    if let Some(why) = &ctx.secrets_withheld {
        return Ok(Err(MissingToken {
            reason: why.clone(),
            withheld: true,
        }));
    }
    let mut empty = settings.empty_token_inputs.clone();
    empty.extend(
        TOKEN_VARIABLES
            .iter()
            .filter(|v| env.get(v).is_some())
            .map(|v| v.to_string()),
    );
    let reason = if empty.is_empty() {
        "no token: none of the token input, SONAR_TOKEN or SONAR_AUTH_TOKEN is set".to_owned()
    } else {
        format!(
            "{} {} set but empty: the secret is not mapped into this step (or does not exist in this repository/project)",
            empty.join(", "),
            if empty.len() == 1 { "is" } else { "are" }
        )
    };
    Ok(Err(MissingToken {
        reason,
        withheld: false,
    }))
}

fn token_error(source: &Origin, e: TokenFormatError) -> ConfigError {
    ConfigError::new(source.to_string(), e.to_string())
        .hint("copy the token again from SonarQube (Administration → Scoped Organization Tokens, or My Account → Security) and store it as the secret's whole value")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ci::{CiKind, Context};
    use crate::env::Env;

    #[test]
    fn a_token_map_is_named_by_its_path_as_given_without_dots() {
        for (given, named) in [
            ("sonar/map.yaml", "sonar/map.yaml"),
            ("./sonar/map.yaml", "sonar/map.yaml"),
            ("sonar//./map.yaml", "sonar/map.yaml"),
            ("../common/map.yaml", "../common/map.yaml"),
            ("/etc/./sonar/map.yaml", "/etc/sonar/map.yaml"),
            (".", "."),
        ] {
            assert_eq!(path_as_given(given), named, "{given}");
        }
    }

    #[test]
    fn input_beats_sonar_token_and_errors_never_show_it() {
        let ctx = Context::new(CiKind::Local);
        let env = Env::from_pairs([("INPUT_TOKEN", "sqco_A"), ("SONAR_TOKEN", "sqco_B")]);
        let c = resolve(
            &Settings::from_env(&env).unwrap(),
            &env,
            &ctx,
            "k",
            Path::new("."),
        )
        .unwrap()
        .unwrap();
        assert_eq!(c.token.expose_secret(), "sqco_A");
        let env = Env::from_pairs([("SONAR_TOKEN", "sqco_CANARY with space")]);
        let e = resolve(
            &Settings::from_env(&env).unwrap(),
            &env,
            &ctx,
            "k",
            Path::new("."),
        )
        .unwrap_err();
        assert!(!e.to_string().contains("CANARY"), "{e}");
        assert_eq!(e.source, "variable SONAR_TOKEN");
    }

    #[test]
    fn empty_secret_says_not_mapped_and_withheld_says_why() {
        let mut ctx = Context::new(CiKind::Github);
        let env = Env::from_pairs([("SONAR_TOKEN", "")]);
        let missing = |ctx: &Context| {
            resolve(
                &Settings::from_env(&env).unwrap(),
                &env,
                ctx,
                "k",
                Path::new("."),
            )
            .unwrap()
            .unwrap_err()
        };
        let m = missing(&ctx);
        assert!(
            m.reason.contains("SONAR_TOKEN is set but empty") && !m.withheld,
            "{m:?}"
        );
        ctx.secrets_withheld = Some("pull request from a fork".into());
        let m = missing(&ctx);
        assert!(m.withheld && m.reason.contains("fork"));
    }
}
