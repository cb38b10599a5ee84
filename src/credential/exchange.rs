//! Keyless scans: exchange the CI's OIDC identity for the scan token at Vault or OpenBao.
//!
//! 1. Ask the CI for an OIDC token (GitHub's token endpoint, Azure's OIDC request URI, or a
//!    variable holding a JWT: GitLab `id_tokens`, Jenkins, Bitbucket).
//! 2. Log in at `auth/<mount>/login` with it and a role (JWT auth). The role's bound claims
//!    and the policies it grants are the trust policy: Vault's, not ours.
//! 3. Read the scan token from a KV v2 path templated by `{organization}` and `{project}`.
//! 4. Revoke the Vault token (`auth/token/revoke-self`).
//!
//! The OIDC token and the Vault token are secrets like the scan token: they are handed to
//! the caller's mask function as soon as they exist and never printed, and, like every
//! secret, sent only where [`crate::network::may_carry_secret`] allows (the Vault URL and
//! the CI's token endpoint are checked before the first request). Every answer is read
//! through [`crate::read::body`], so an endless one ends the exchange with a clear error. When Vault refuses the
//! login, the OIDC token's non-secret claims are shown, since a claim that does not match the
//! role's bindings is by far the most common cause.

use crate::error::{quote, ConfigError};
use crate::read::{self, BodyError};
use crate::secret::Token;
use crate::sonar::client::{Client, TransportError};
use base64::Engine;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use std::collections::BTreeMap;
use url::Url;

/// Where the OIDC token comes from.
#[derive(Debug, Clone)]
pub enum OidcSource {
    /// GitHub Actions (`permissions: id-token: write`).
    Github {
        request_url: String,
        request_token: SecretString,
        audience: String,
    },
    /// Azure Pipelines, through a service connection's workload identity.
    Azure {
        request_uri: String,
        access_token: SecretString,
        service_connection: String,
    },
    /// Any CI: a variable that holds the JWT (GitLab `id_tokens`, ...).
    Variable { name: String, jwt: SecretString },
}

#[derive(Debug, Clone)]
pub struct ExchangeConfig {
    pub vault_url: Url,
    pub role: String,
    /// The JWT auth method's mount (`auth/<mount>/login`).
    pub auth_mount: String,
    /// KV v2 secret path, its first segment the mount: `secret/sonar/{organization}/{project}`.
    pub path_template: String,
    /// The field of the secret that holds the token.
    pub field: String,
    pub namespace: Option<String>,
    pub oidc: OidcSource,
}

/// The step of the exchange that failed, named in messages and used to choose the advice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The configured `vault-path` does not give a path.
    VaultPath,
    /// Asking the CI for its OIDC token.
    OidcToken,
    /// Logging in at Vault with the OIDC token.
    VaultLogin,
    /// Reading the scan token from the KV path.
    VaultRead,
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Stage::VaultPath => "vault-path",
            Stage::OidcToken => "OIDC token",
            Stage::VaultLogin => "vault login",
            Stage::VaultRead => "vault read",
        })
    }
}

/// Why the exchange gave no token.
#[derive(Debug, Clone)]
pub enum ExchangeError {
    /// The CI, or Vault, said no: nothing to retry.
    Refused {
        stage: Stage,
        detail: String,
        /// The OIDC token's claims, minus its signature (never secret).
        claims: BTreeMap<String, Value>,
    },
    /// Vault or the CI's token endpoint could not be reached.
    Unreachable { stage: Stage, detail: String },
    /// Its TLS certificate is not trusted (a private CA: `vault-ca-file`).
    Untrusted { stage: Stage, detail: String },
    /// The proxy in the path refused (a 407, a failed tunnel).
    Proxy { stage: Stage, detail: String },
    /// A secret would travel in clear (plain http to another host, or through a proxy):
    /// nothing was sent.
    Insecure { stage: Stage, detail: String },
}

impl ExchangeError {
    /// A request that got no answer: told apart as the Sonar probes are.
    fn unanswered(client: &Client, stage: Stage, url: &Url, e: &reqwest::Error) -> ExchangeError {
        ExchangeError::through(client, stage, url, client.classify(url, e))
    }

    /// A transport failure of a request to `url`, naming the proxy when one failed.
    fn through(client: &Client, stage: Stage, url: &Url, t: TransportError) -> ExchangeError {
        match (t, client.proxy_for(url)) {
            (TransportError::Proxy(detail), Some(p)) => ExchangeError::Proxy {
                stage,
                detail: format!("through the proxy {p}: {detail}"),
            },
            (t, _) => ExchangeError::from_transport(stage, t),
        }
    }

    fn from_transport(stage: Stage, t: TransportError) -> ExchangeError {
        match t {
            TransportError::Tls(detail) => ExchangeError::Untrusted { stage, detail },
            TransportError::Proxy(detail) => ExchangeError::Proxy { stage, detail },
            TransportError::Unreachable(detail) => ExchangeError::Unreachable { stage, detail },
        }
    }
}

impl ExchangeError {
    pub fn describe(&self) -> String {
        match self {
            ExchangeError::Refused {
                stage,
                detail,
                claims,
            } => {
                let mut text = format!("{stage}: {detail}");
                if !claims.is_empty() {
                    let shown: Vec<String> =
                        claims.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    text.push_str(&format!("; the OIDC token's claims: {}", shown.join(", ")));
                }
                text
            }
            ExchangeError::Unreachable { stage, detail }
            | ExchangeError::Untrusted { stage, detail }
            | ExchangeError::Proxy { stage, detail }
            | ExchangeError::Insecure { stage, detail } => format!("{stage}: {detail}"),
        }
    }
}

pub struct Exchanged {
    pub token: Token,
    /// `vault https://vault.example.com secret/sonar/acme/acme_payments#token`.
    pub source: String,
    /// The Vault token still to revoke. The caller runs it alongside the Sonar probes, so
    /// the exchange costs its login and read and no further round trip.
    pub revocation: Revocation,
}

/// A Vault token to revoke (`auth/token/revoke-self`), with what the request needs.
pub struct Revocation {
    http: reqwest::Client,
    url: Option<Url>,
    namespace: Option<String>,
    vault_token: SecretString,
}

impl Revocation {
    fn new(http: &reqwest::Client, cfg: &ExchangeConfig, vault_token: &SecretString) -> Self {
        Revocation {
            http: http.clone(),
            url: join(&cfg.vault_url, "v1/auth/token/revoke-self").ok(),
            namespace: cfg.namespace.clone(),
            vault_token: vault_token.clone(),
        }
    }

    /// Revokes the token. A failure is only worth a warning: the token expires with its TTL
    /// anyway. The warning never carries the token.
    pub async fn run(self) -> Option<String> {
        let url = self.url?;
        let mut request = self
            .http
            .post(url.clone())
            .header("X-Vault-Token", self.vault_token.expose_secret());
        if let Some(ns) = &self.namespace {
            request = request.header("X-Vault-Namespace", ns);
        }
        let failed = match request.send().await {
            Ok(r) if r.status().is_success() => return None,
            Ok(r) => format!("{} answered {}", url.path(), r.status().as_u16()),
            Err(e) => format!("{} could not be reached: {}", url.path(), error_chain(&e)),
        };
        Some(format!(
            "the Vault token could not be revoked ({failed}); it expires with its TTL"
        ))
    }
}

/// Claims left out of messages: one-time values that help nobody fix a role. Every other
/// claim is shown, since a role may bind any claim (GitLab's `namespace_path`,
/// `ref_protected`, custom claims).
const HIDDEN_CLAIMS: [&str; 4] = ["jti", "nonce", "at_hash", "c_hash"];

/// The longest claim value shown in a message.
const MAX_CLAIM_CHARS: usize = 200;

/// The claims of a JWT, read without verifying it (Vault verifies; this is for messages).
/// A JWT's claims are signed, not encrypted: anyone holding it can read them.
pub fn claims(jwt: &str) -> BTreeMap<String, Value> {
    let Some(payload) = jwt.split('.').nth(1) else {
        return BTreeMap::new();
    };
    let Ok(bytes) =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('='))
    else {
        return BTreeMap::new();
    };
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(&bytes) else {
        return BTreeMap::new();
    };
    map.into_iter()
        .filter(|(k, _)| !HIDDEN_CLAIMS.contains(&k.as_str()))
        .map(|(k, v)| {
            let text = v.to_string();
            if text.chars().count() > MAX_CLAIM_CHARS {
                let short: String = text.chars().take(MAX_CLAIM_CHARS).collect();
                (k, Value::String(format!("{short}…")))
            } else {
                (k, v)
            }
        })
        .collect()
}

/// The KV v2 read URL for a templated path: `secret/sonar/{project}` → `v1/secret/data/sonar/<key>`.
pub fn secret_url(
    cfg: &ExchangeConfig,
    organization: &str,
    project: &str,
) -> Result<Url, ConfigError> {
    let path = cfg
        .path_template
        .replace("{organization}", organization)
        .replace("{project}", project);
    let path = path.trim_matches('/');
    let (mount, rest) = path.split_once('/').ok_or_else(|| {
        ConfigError::new(
            "vault-path",
            format!("{} has no mount", quote(&cfg.path_template)),
        )
        .hint("write it as <kv mount>/<path>, e.g. secret/sonar/{organization}/{project}")
    })?;
    if rest
        .split('/')
        .any(|seg| seg.is_empty() || seg == "." || seg == "..")
    {
        return Err(ConfigError::new(
            "vault-path",
            format!("{} gives an invalid path", quote(&cfg.path_template)),
        ));
    }
    join(&cfg.vault_url, &format!("v1/{mount}/data/{rest}"))
}

fn join(base: &Url, path: &str) -> Result<Url, ConfigError> {
    let base = base.as_str().trim_end_matches('/');
    Url::parse(&format!("{base}/{path}"))
        .map_err(|e| ConfigError::new("vault-url", format!("cannot build the URL for {path}: {e}")))
}

/// Runs the exchange. `mask` receives every secret the moment it exists.
pub async fn exchange(
    client: &Client,
    cfg: &ExchangeConfig,
    organization: &str,
    project: &str,
    mask: &mut dyn FnMut(&str),
) -> Result<Exchanged, ExchangeError> {
    let read_url = secret_url(cfg, organization, project).map_err(|e| ExchangeError::Refused {
        stage: Stage::VaultPath,
        detail: e.problem,
        claims: BTreeMap::new(),
    })?;
    let login_url = join(
        &cfg.vault_url,
        &format!("v1/auth/{}/login", cfg.auth_mount.trim_matches('/')),
    )
    .map_err(|e| ExchangeError::Refused {
        stage: Stage::VaultLogin,
        detail: e.problem,
        claims: BTreeMap::new(),
    })?;
    // The OIDC token, the Vault token and the scan token all travel to or from Vault: refuse
    // a Vault that would see them in clear before asking the CI for anything.
    if let Err(why) = client.secret_may_go_to(&login_url) {
        return Err(ExchangeError::Insecure {
            stage: Stage::VaultLogin,
            detail: format!(
                "the OIDC token, the Vault token and the scan token would travel unencrypted {why}: {}",
                host(&cfg.vault_url)
            ),
        });
    }
    let jwt = oidc_token(client, &cfg.oidc).await?;
    mask(jwt.expose_secret());
    let shown_claims = claims(jwt.expose_secret());

    // Log in.
    let body = serde_json::json!({ "role": cfg.role, "jwt": jwt.expose_secret() });
    let request = with_namespace(client.http().post(login_url.clone()).json(&body), cfg);
    let (status, json) = answer(client, Stage::VaultLogin, &login_url, request).await?;
    if status != 200 {
        return Err(ExchangeError::Refused {
            stage: Stage::VaultLogin,
            detail: format!(
                "{} answered {status}{}: {}",
                cfg.vault_url,
                via(client, &login_url),
                vault_errors(&json)
            ),
            claims: shown_claims,
        });
    }
    let vault_token = json
        .pointer("/auth/client_token")
        .and_then(Value::as_str)
        .map(|t| SecretString::from(t.to_owned()))
        .ok_or_else(|| ExchangeError::Refused {
            stage: Stage::VaultLogin,
            detail: "the answer has no auth.client_token".into(),
            claims: shown_claims.clone(),
        })?;
    mask(vault_token.expose_secret());

    // Read. From here on the Vault token is revoked on every path: right away when the read
    // fails, alongside the Sonar probes when it succeeds.
    let revocation = Revocation::new(client.http(), cfg, &vault_token);
    let read = read_secret(client, cfg, &read_url, &vault_token).await;
    let value = match read {
        Ok(value) => value,
        Err(ReadFailure::Refused(detail)) => {
            revocation.run().await;
            return Err(ExchangeError::Refused {
                stage: Stage::VaultRead,
                detail,
                claims: shown_claims,
            });
        }
        Err(ReadFailure::Transport(e)) => {
            revocation.run().await;
            return Err(e);
        }
    };
    mask(&value);
    let token = match Token::new(&value) {
        Ok(token) => token,
        Err(e) => {
            revocation.run().await;
            return Err(ExchangeError::Refused {
                stage: Stage::VaultRead,
                detail: format!(
                    "the secret's field {} is not a usable token: {e}",
                    cfg.field
                ),
                claims: BTreeMap::new(),
            });
        }
    };
    let shown_path = read_url.path().trim_start_matches("/v1/").to_owned();
    Ok(Exchanged {
        token,
        source: format!(
            "vault {} {}#{}",
            host(&cfg.vault_url),
            shown_path,
            cfg.field
        ),
        revocation,
    })
}

/// Sends one request of the exchange and reads its answer (bounded) as JSON: a body that
/// is not JSON reads as `null`. No answer, a 407, or an oversized body is an error of the
/// stage.
async fn answer(
    client: &Client,
    stage: Stage,
    url: &Url,
    request: reqwest::RequestBuilder,
) -> Result<(u16, Value), ExchangeError> {
    let mut response = request
        .send()
        .await
        .map_err(|e| ExchangeError::unanswered(client, stage, url, &e))?;
    let status = response.status().as_u16();
    if status == 407 {
        return Err(ExchangeError::through(
            client,
            stage,
            url,
            client.proxy_auth_required(url),
        ));
    }
    let body = match read::body(&mut response, read::BODY_CAP).await {
        Ok(body) => body,
        Err(BodyError::Transport(e)) => {
            return Err(ExchangeError::unanswered(client, stage, url, &e))
        }
        Err(BodyError::TooLarge { cap }) => {
            return Err(ExchangeError::Unreachable {
                stage,
                detail: format!(
                    "{} answered {status}, and {}: this is not an answer scantoken expects there",
                    origin_and_path(url),
                    BodyError::too_large_text(cap)
                ),
            })
        }
    };
    Ok((status, serde_json::from_slice(&body).unwrap_or(Value::Null)))
}

/// ` (via proxy HTTPS_PROXY=http://proxy:3128/)` when a proxy carried the request: an answer
/// may be the proxy's, not the server's.
fn via(client: &Client, url: &Url) -> String {
    client
        .proxy_for(url)
        .map(|p| format!(" (via proxy {p})"))
        .unwrap_or_default()
}

/// A URL without its query (which may carry values such as an audience), for messages.
fn origin_and_path(url: &Url) -> String {
    format!("{}{}", url.origin().ascii_serialization(), url.path())
}

enum ReadFailure {
    /// Vault answered, without the token.
    Refused(String),
    /// No usable answer.
    Transport(ExchangeError),
}

async fn read_secret(
    client: &Client,
    cfg: &ExchangeConfig,
    url: &Url,
    vault_token: &SecretString,
) -> Result<String, ReadFailure> {
    let request = with_namespace(client.http().get(url.clone()), cfg)
        .header("X-Vault-Token", vault_token.expose_secret());
    let (status, json) = answer(client, Stage::VaultRead, url, request)
        .await
        .map_err(ReadFailure::Transport)?;
    if status != 200 {
        let why = if status == 403 {
            " (the role's policy does not allow this path)"
        } else {
            ""
        };
        return Err(ReadFailure::Refused(format!(
            "{} answered {status}{why}{}: {}",
            url.path(),
            via(client, url),
            vault_errors(&json)
        )));
    }
    json.pointer("/data/data")
        .and_then(|d| d.get(&cfg.field))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| {
            ReadFailure::Refused(format!(
                "the secret at {} has no string field {}",
                url.path(),
                quote(&cfg.field)
            ))
        })
}

fn with_namespace(
    request: reqwest::RequestBuilder,
    cfg: &ExchangeConfig,
) -> reqwest::RequestBuilder {
    match &cfg.namespace {
        Some(ns) => request.header("X-Vault-Namespace", ns),
        None => request,
    }
}

async fn oidc_token(client: &Client, source: &OidcSource) -> Result<SecretString, ExchangeError> {
    let stage = Stage::OidcToken;
    let http = client.http();
    let (url, request, field) = match source {
        OidcSource::Variable { name, jwt } => {
            if jwt.expose_secret().split('.').count() != 3 {
                return Err(ExchangeError::Refused {
                    stage,
                    detail: format!(
                        "variable {name} does not hold a JWT (three dot-separated parts)"
                    ),
                    claims: BTreeMap::new(),
                });
            }
            return Ok(jwt.clone());
        }
        OidcSource::Github {
            request_url,
            request_token,
            audience,
        } => {
            let mut url = Url::parse(request_url).map_err(|e| ExchangeError::Refused {
                stage,
                detail: format!("ACTIONS_ID_TOKEN_REQUEST_URL is not a URL: {e}"),
                claims: BTreeMap::new(),
            })?;
            url.query_pairs_mut().append_pair("audience", audience);
            (
                url.clone(),
                http.get(url).bearer_auth(request_token.expose_secret()),
                "/value",
            )
        }
        OidcSource::Azure {
            request_uri,
            access_token,
            service_connection,
        } => {
            let mut url = Url::parse(request_uri).map_err(|e| ExchangeError::Refused {
                stage,
                detail: format!("SYSTEM_OIDCREQUESTURI is not a URL: {e}"),
                claims: BTreeMap::new(),
            })?;
            url.query_pairs_mut()
                .append_pair("api-version", "7.1")
                .append_pair("serviceConnectionId", service_connection);
            (
                url.clone(),
                http.post(url)
                    .bearer_auth(access_token.expose_secret())
                    .header("Content-Type", "application/json")
                    .body("{}"),
                "/oidcToken",
            )
        }
    };
    // The request carries the CI's request token, and the answer the OIDC token.
    if let Err(why) = client.secret_may_go_to(&url) {
        return Err(ExchangeError::Insecure {
            stage,
            detail: format!(
                "the CI's request token and the OIDC token would travel unencrypted {why}: {}",
                origin_and_path(&url)
            ),
        });
    }
    let (status, json) = answer(client, stage, &url, request).await?;
    match json.pointer(field).and_then(Value::as_str) {
        Some(jwt) if status == 200 => Ok(SecretString::from(jwt.to_owned())),
        _ => Err(ExchangeError::Refused {
            stage,
            detail: format!(
                "the CI's token endpoint answered {status}{} without a token (GitHub needs `permissions: id-token: write`; Azure needs a service connection with workload identity)",
                via(client, &url)
            ),
            claims: BTreeMap::new(),
        }),
    }
}

fn vault_errors(json: &Value) -> String {
    match json.get("errors").and_then(Value::as_array) {
        Some(errors) if !errors.is_empty() => errors
            .iter()
            .filter_map(Value::as_str)
            .map(|e| e.replace('\n', " "))
            .collect::<Vec<_>>()
            .join("; "),
        _ => "no error message".into(),
    }
}

fn host(url: &Url) -> String {
    url.as_str().trim_end_matches('/').to_owned()
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        parts.push(s.to_string());
        source = s.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(path: &str) -> ExchangeConfig {
        ExchangeConfig {
            vault_url: Url::parse("https://vault.example.com:8200/").unwrap(),
            role: "sonar".into(),
            auth_mount: "jwt".into(),
            path_template: path.into(),
            field: "token".into(),
            namespace: None,
            oidc: OidcSource::Variable {
                name: "X".into(),
                jwt: SecretString::from("a.b.c".to_owned()),
            },
        }
    }

    #[test]
    fn kv_v2_paths() {
        let u = secret_url(
            &cfg("secret/sonar/{organization}/{project}"),
            "acme",
            "acme_app",
        )
        .unwrap();
        assert_eq!(
            u.as_str(),
            "https://vault.example.com:8200/v1/secret/data/sonar/acme/acme_app"
        );
        assert!(secret_url(&cfg("secret"), "a", "b").is_err());
        assert!(secret_url(&cfg("secret/{project}/../x"), "a", "b").is_err());
    }

    #[test]
    fn claims_are_read_without_the_signature() {
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"iss":"https://token.actions.githubusercontent.com","sub":"repo:acme/payments:ref:refs/heads/main","aud":"vault","custom_claim":"x"}"#);
        let c = claims(&format!("e30.{payload}.sig"));
        assert_eq!(c["sub"], "repo:acme/payments:ref:refs/heads/main");
        assert_eq!(
            c["custom_claim"], "x",
            "a role may bind any claim: all are shown"
        );
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
            serde_json::json!({ "jti": "once", "namespace_path": "acme", "long": "y".repeat(500) })
                .to_string(),
        );
        let c = claims(&format!("e30.{payload}.sig"));
        assert!(!c.contains_key("jti"));
        assert_eq!(c["namespace_path"], "acme");
        assert!(c["long"].as_str().unwrap().ends_with('…'));
        assert!(claims("garbage").is_empty());
    }

    #[test]
    fn a_path_with_an_empty_or_dot_segment_is_refused() {
        for template in [
            "secret/sonar//{project}",
            "secret/./{project}",
            "secret/sonar/{organization}/{project}",
        ] {
            let e = secret_url(&cfg(template), "", "acme_app")
                .map(|u| u.to_string())
                .unwrap_err();
            assert!(
                e.problem.contains("gives an invalid path"),
                "{template}: {e}"
            );
        }
    }

    #[test]
    fn a_claim_is_cut_only_past_200_characters() {
        let jwt = |v: &str| {
            let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(serde_json::json!({ "sub": v }).to_string());
            format!("e30.{payload}.sig")
        };
        // A string claim's text is its JSON, quotes included: 198 letters are 200 characters.
        let whole = "w".repeat(198);
        assert_eq!(claims(&jwt(&whole))["sub"], whole.as_str());
        let long = "l".repeat(199);
        let shown = claims(&jwt(&long))["sub"].as_str().unwrap().to_owned();
        assert_eq!(shown, format!("\"{}…", "l".repeat(199)));
    }
}
