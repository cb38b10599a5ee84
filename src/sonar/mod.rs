//! Proving that a token can scan a project, without browse rights.
//!
//! [`plan`] says what to ask each kind of Sonar; [`client`] asks, all probes at once over
//! reused connections; [`identity`] says whether each answer has the shape Sonar gives;
//! [`decide`] turns the answers into one [`Verdict`] with its evidence and the next step a
//! user can take.

pub mod client;
pub mod edition;
pub mod identity;
pub mod plan;

use crate::error::Exit;
use crate::inputs::Origin;
use crate::secret::Token;
use crate::secret::TokenKind;
use crate::target::{Flavor, Target};
use client::{Answer, Client, Exchange, TransportError};
use plan::{Host, Probe, Role};
use serde::Serialize;
use url::Url;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VerdictKind {
    Ok,
    TokenMissing,
    TokenRejected,
    NoScanPermission,
    ProjectNotFound,
    OrganizationMismatch,
    Unreachable,
    TlsUntrusted,
    ProxyError,
    ServerError,
    NotSonar,
    InsecureHost,
}

impl VerdictKind {
    pub fn name(self) -> &'static str {
        match self {
            VerdictKind::Ok => "ok",
            VerdictKind::TokenMissing => "token-missing",
            VerdictKind::TokenRejected => "token-rejected",
            VerdictKind::NoScanPermission => "no-scan-permission",
            VerdictKind::ProjectNotFound => "project-not-found",
            VerdictKind::OrganizationMismatch => "organization-mismatch",
            VerdictKind::Unreachable => "unreachable",
            VerdictKind::TlsUntrusted => "tls-untrusted",
            VerdictKind::ProxyError => "proxy-error",
            VerdictKind::ServerError => "server-error",
            VerdictKind::NotSonar => "not-sonar",
            VerdictKind::InsecureHost => "insecure-host",
        }
    }

    /// Exit codes as documented (docs/design.md "Verdicts and exit codes", the README, --help).
    pub fn exit(self) -> Exit {
        match self {
            VerdictKind::Ok => Exit::Ok,
            VerdictKind::TokenMissing
            | VerdictKind::TokenRejected
            | VerdictKind::NoScanPermission
            | VerdictKind::ProjectNotFound
            | VerdictKind::OrganizationMismatch => Exit::VerificationFailed,
            VerdictKind::InsecureHost => Exit::Usage,
            VerdictKind::Unreachable
            | VerdictKind::TlsUntrusted
            | VerdictKind::ProxyError
            | VerdictKind::ServerError
            | VerdictKind::NotSonar => Exit::Unreachable,
        }
    }

    /// Verdicts that `--on-unreachable warn` turns into a warning: the server could not be
    /// asked, which says nothing against the token. `not-sonar` is not one: something
    /// answered in Sonar's place (a proxy's page, a portal, another server), so exporting
    /// would aim the scan, and its token, at that; only `--no-verify` exports without proof.
    pub fn is_reach_failure(self) -> bool {
        matches!(self, VerdictKind::Unreachable | VerdictKind::ServerError)
    }
}

/// One probe as sent and answered, for the evidence. Never holds the token.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeReport {
    pub role: Role,
    pub method: &'static str,
    pub url: String,
    pub status: Option<u16>,
    pub message: Option<String>,
    pub error: Option<String>,
    pub attempts: u32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub retries: Vec<String>,
    pub elapsed_ms: u64,
    /// The proxy the probe went through, when one was in the path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy: Option<String>,
}

impl ProbeReport {
    /// `403 Insufficient privileges`, `200 {"valid":true}`, or the transport error.
    pub fn answer(&self) -> String {
        // The proxy first: a long error may be cut when printed.
        let via = self
            .proxy
            .as_ref()
            .map(|p| format!(" via proxy {p}"))
            .unwrap_or_default();
        let mut text = match (self.status, &self.message, &self.error) {
            (Some(s), Some(m), _) => format!("{s} {m}"),
            (Some(s), None, _) => s.to_string(),
            (None, _, Some(e)) => format!("no answer{via}: {e}"),
            (None, _, None) => "not sent".into(),
        };
        if self.status.is_some() && !via.is_empty() {
            text.push_str(&format!(" ({})", via.trim_start()));
        }
        if self.attempts > 1 {
            text.push_str(&format!(
                " (after {} attempts: {})",
                self.attempts,
                self.retries.join("; ")
            ));
        }
        text
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    pub verdict: VerdictKind,
    /// What happened, in a sentence.
    pub cause: String,
    /// What to do about it.
    pub next_step: String,
    pub probes: Vec<ProbeReport>,
    pub warnings: Vec<String>,
    /// SonarQube Server's version, as its `api/server/version` answered (see [`edition`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_version: Option<String>,
}

impl Verdict {
    pub fn new(
        verdict: VerdictKind,
        cause: impl Into<String>,
        next_step: impl Into<String>,
    ) -> Verdict {
        Verdict {
            verdict,
            cause: cause.into(),
            next_step: next_step.into(),
            probes: Vec::new(),
            warnings: Vec::new(),
            server_version: None,
        }
    }
}

/// Everything `verify` needs to know about the scan.
pub struct Scan<'a> {
    pub target: &'a Target,
    pub project_key: &'a str,
    pub organization: Option<&'a str>,
    /// The token to prove, and where it came from (for the messages).
    pub token: &'a Token,
    pub token_source: &'a Origin,
    /// Days before a token's expiry date to start warning.
    pub expiry_warning_days: i64,
}

/// Refuses to send a token in clear text: the Sonar URLs must pass
/// [`crate::network::may_carry_secret`] (https, or plain http to this machine with no proxy
/// in the path), unless the user allows plain http (the caller skips this check then).
pub fn insecure_host(target: &Target, proxies: &crate::network::Proxies) -> Option<Verdict> {
    let urls = [&target.web_url, &target.api_url];
    let (insecure, why) = urls.into_iter().find_map(|u| {
        let url = Url::parse(&u.value).ok()?;
        crate::network::may_carry_secret(&url, proxies, false)
            .err()
            .map(|why| (u, why))
    })?;
    Some(Verdict::new(
        VerdictKind::InsecureHost,
        format!(
            "the token would travel unencrypted {why}: {} ({})",
            insecure.value, insecure.source
        ),
        "use the https:// URL of the server; if this network is trusted and the server has no TLS, pass --allow-insecure-http (input allow-insecure-http: true)",
    ))
}

/// Sends the flavor's probes concurrently and decides.
pub async fn verify(client: &Client, scan: &Scan<'_>) -> Verdict {
    verify_set(client, std::slice::from_ref(scan), usize::MAX)
        .await
        .pop()
        .expect("one verdict per scan")
}

/// Verifies several scans in one wave: every scan's probes at once, at most `concurrency`
/// in flight, and a request that several scans share (the same URL with the same token, or
/// none: the server's version, the token's validity) sent once and its answer given to each.
/// Each scan is then decided from its own answers exactly as alone.
pub async fn verify_set(client: &Client, scans: &[Scan<'_>], concurrency: usize) -> Vec<Verdict> {
    // The distinct requests, and for each scan which request answers each of its probes.
    let mut requests: Vec<(Url, Option<Token>, bool)> = Vec::new();
    let mut plans: Vec<Vec<(Probe, Url, usize)>> = Vec::new();
    for scan in scans {
        let mut plan_of_scan = Vec::new();
        for probe in plan::for_flavor(scan.target.flavor) {
            let url = probe_url(scan, probe);
            let token = probe.authenticated.then(|| scan.token.clone());
            let status_only = probe.status_only_on_success;
            let same = |(u, t, s): &(Url, Option<Token>, bool)| {
                *u == url
                    && *s == status_only
                    && match (t, &token) {
                        (None, None) => true,
                        (Some(a), Some(b)) => a.expose_secret() == b.expose_secret(),
                        _ => false,
                    }
            };
            let index = match requests.iter().position(same) {
                Some(i) => i,
                None => {
                    requests.push((url.clone(), token, status_only));
                    requests.len() - 1
                }
            };
            plan_of_scan.push((*probe, url, index));
        }
        plans.push(plan_of_scan);
    }
    let limit = std::sync::Arc::new(tokio::sync::Semaphore::new(concurrency.clamp(1, 1 << 16)));
    let mut tasks = tokio::task::JoinSet::new();
    for (i, (url, token, status_only)) in requests.iter().cloned().enumerate() {
        let client = client.clone();
        let limit = limit.clone();
        tasks.spawn(async move {
            let _permit = limit
                .acquire_owned()
                .await
                .expect("the semaphore is never closed");
            (i, client.get(&url, token.as_ref(), status_only).await)
        });
    }
    let mut exchanges: Vec<Option<Exchange>> = vec![None; requests.len()];
    while let Some(done) = tasks.join_next().await {
        let (i, exchange) = done.expect("a probe task never panics");
        exchanges[i] = Some(exchange);
    }
    scans
        .iter()
        .zip(plans)
        .map(|(scan, plan_of_scan)| {
            let answered: Vec<(Probe, Url, Exchange)> = plan_of_scan
                .into_iter()
                .map(|(p, u, i)| {
                    let e = exchanges[i].clone().expect("every probe task reports");
                    (p, u, e)
                })
                .collect();
            let mut verdict = decide(scan, &answered, client.proxy());
            verdict.probes = answered.iter().map(|(p, u, e)| report(p, u, e)).collect();
            verdict.warnings.extend(token_warnings(scan, &answered));
            // Read only with an ok verdict, which a server probe answered by something other
            // than Sonar never gives (that is `not-sonar`).
            verdict.server_version = answered
                .iter()
                .find(|(p, ..)| p.role == Role::Server)
                .and_then(|(_, _, e)| e.result.as_ref().ok())
                .filter(|a| a.status == 200)
                .and_then(|a| a.message.clone());
            verdict
        })
        .collect()
}

/// The URL a probe of `scan` goes to.
pub fn probe_url(scan: &Scan<'_>, probe: &Probe) -> Url {
    let base = match probe.host {
        Host::Web => &scan.target.web_url.value,
        Host::Api => &scan.target.api_url.value,
    };
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let path = probe
        .path
        .replace("{project}", &enc(scan.project_key))
        .replace(
            "{organization}",
            &enc(scan.organization.unwrap_or_default()),
        );
    Url::parse(&format!("{}{path}", base.trim_end_matches('/')))
        .expect("a validated base URL plus a fixed path is a URL")
}

fn report(probe: &Probe, url: &Url, e: &Exchange) -> ProbeReport {
    let (status, message, error) = match &e.result {
        Ok(a) => (Some(a.status), summarize(probe, a), None),
        Err(t) => (None, None, Some(t.describe().to_owned())),
    };
    let mut retries = e.retries.clone();
    if let Some(g) = &e.gave_up {
        retries.push(g.clone());
    }
    ProbeReport {
        role: probe.role,
        method: "GET",
        url: url.to_string(),
        status,
        message,
        error,
        attempts: e.attempts,
        retries,
        elapsed_ms: e.elapsed.as_millis() as u64,
        proxy: e.proxy.clone(),
    }
}

/// The part of an answer worth showing: Sonar's message, `valid: true`, or the version; for
/// an answer that is not Sonar's, its content type and first words.
fn summarize(probe: &Probe, a: &Answer) -> Option<String> {
    if identity::check(probe, a).is_err() {
        return Some(format!("not Sonar's answer: {}", evidence(a)));
    }
    if probe.role == Role::Token {
        if let Some(valid) = a
            .json
            .as_ref()
            .and_then(|j| j.get("valid"))
            .and_then(|v| v.as_bool())
        {
            return Some(format!("valid: {valid}"));
        }
    }
    if probe.role == Role::Scan && (200..300).contains(&a.status) && a.message.is_none() {
        return Some("scan permission confirmed".into());
    }
    a.message.clone()
}

/// What came back, for a person: `text/html, "Access blocked by company policy"`.
fn evidence(a: &Answer) -> String {
    let content_type = a.content_type.as_deref().unwrap_or("no content type");
    let body = match &a.body {
        None => "body not read".to_owned(),
        Some(b) if b.len == 0 => "empty body".to_owned(),
        Some(b) => format!("\"{}\"", b.excerpt),
    };
    format!("{content_type}, {body}")
}

/// A transport error without reqwest's leading "error sending request for url (...)": the
/// URL is in the probe lines already, and the cause reads better with the reason alone.
fn reason(t: &TransportError) -> &str {
    let text = t.describe();
    text.strip_prefix("error sending request for url (")
        .and_then(|rest| rest.split_once("): "))
        .map_or(text, |(_, reason)| reason)
}

fn status_of(answered: &[(Probe, Url, Exchange)], role: Role) -> Option<(&Answer, &Url)> {
    answered
        .iter()
        .find(|(p, ..)| p.role == role)
        .and_then(|(_, u, e)| e.result.as_ref().ok().map(|a| (a, u)))
}

fn host_of(url: &Url) -> String {
    url.host_str()
        .map(|h| match url.port() {
            Some(p) => format!("{h}:{p}"),
            None => h.to_owned(),
        })
        .unwrap_or_default()
}

/// The decision table. Order matters: a transport failure hides every answer, a rejected
/// token explains every later 403, a missing organization explains a missing project.
pub fn decide(
    scan: &Scan<'_>,
    answered: &[(Probe, Url, Exchange)],
    proxy: Option<&str>,
) -> Verdict {
    let key = scan.project_key;
    let org = scan.organization.unwrap_or_default();
    let where_ = scan.target.flavor.describe();

    // 1. No answer at all from some probe.
    let transport = |pick: fn(&TransportError) -> bool| {
        answered.iter().find_map(|(_, u, e)| match &e.result {
            Err(t) if pick(t) => Some((t, u, e)),
            _ => None,
        })
    };
    // rustls reads a plain-http answer as a TLS record of an unknown type: https:// to a
    // port that speaks plain http. Told apart first, whichever kind the client made of it.
    if let Some((t, u, _)) = transport(|t| {
        reason(t)
            .to_ascii_lowercase()
            .contains("invalidcontenttype")
    }) {
        let mut plain = u.clone();
        let _ = plain.set_scheme("http");
        plain.set_path("");
        plain.set_query(None);
        return Verdict::new(
            VerdictKind::TlsUntrusted,
            format!("{} does not speak TLS on this port: the URL says https://, but the server answered in plain text ({})", host_of(u), reason(t)),
            format!("use the port where the server serves https, or, if it has no TLS, its http:// URL ({}); plain http is allowed only to a loopback host unless --allow-insecure-http", plain.as_str().trim_end_matches('/')),
        );
    }
    if let Some((t, u, _)) = transport(|t| matches!(t, TransportError::Tls(_))) {
        return Verdict::new(
            VerdictKind::TlsUntrusted,
            format!("the TLS connection to {} failed: {}", host_of(u), reason(t)),
            "if the server uses a private or company CA, pass its certificate with --ca-file (input ca-file), SONAR_ROOT_CERT (PEM text) or SSL_CERT_FILE",
        );
    }
    if let Some((t, u, _)) = transport(|t| matches!(t, TransportError::Proxy(_))) {
        return Verdict::new(
            VerdictKind::ProxyError,
            format!("the proxy ({}) did not connect us to {}: {}", proxy.unwrap_or("from the environment"), host_of(u), reason(t)),
            "check HTTPS_PROXY and NO_PROXY: the proxy must allow CONNECT to the Sonar host, or the host must be listed in NO_PROXY",
        );
    }
    if let Some((t, u, e)) = transport(|t| matches!(t, TransportError::Unreachable(_))) {
        return Verdict::new(
            VerdictKind::Unreachable,
            format!("{} could not be reached after {} attempt(s): {}", host_of(u), e.attempts, reason(t)),
            "check the host URL, DNS and firewall from this agent; set HTTPS_PROXY if the network needs a proxy; --on-unreachable warn exports anyway and lets the scan try",
        );
    }

    // 2. The server answered, but with a failure of its own.
    if let Some((p, u, e)) = answered.iter().find(|(_, _, e)| {
        e.result
            .as_ref()
            .is_ok_and(|a| a.status == 429 || a.status >= 500)
    }) {
        let a = e.result.as_ref().expect("checked above");
        let extra = e
            .gave_up
            .as_deref()
            .map(|g| format!("; {g}"))
            .unwrap_or_default();
        return Verdict::new(
            VerdictKind::ServerError,
            format!(
                "{} answered {} to the {:?} probe after {} attempt(s){extra}",
                host_of(u),
                a.status,
                p.role,
                e.attempts
            ),
            "the server is failing or throttling: retry later, or check its status page; --on-unreachable warn exports anyway",
        );
    }

    // 3. Is it Sonar that answered, on every host (identity.rs)? A TLS-inspecting proxy or
    // a portal answers in Sonar's place even at Cloud's official URLs.
    for (p, u, e) in answered {
        if let Ok(a) = &e.result {
            if let Err(why) = identity::check(p, a) {
                return not_sonar(scan, u, a, &why, proxy);
            }
        }
    }

    // 4. The token.
    let rejected = answered.iter().any(|(p, _, e)| {
        e.result.as_ref().is_ok_and(|a| {
            a.status == 401
                || (p.role == Role::Token
                    && a.json
                        .as_ref()
                        .and_then(|j| j.get("valid"))
                        .and_then(|v| v.as_bool())
                        == Some(false))
        })
    });
    if rejected {
        return Verdict::new(
            VerdictKind::TokenRejected,
            format!("{where_} rejected the token from {}: it is invalid, revoked, expired, or was deleted after 60 days unused", scan.token_source),
            "create a new token (Scoped Organization Tokens on SonarQube Cloud, a project analysis token on SonarQube Server) and store it in the secret",
        );
    }

    // 5. The project and its organization (Cloud).
    if let Some((a, _)) = status_of(answered, Role::Project) {
        if let Some(v) = organization_or_project(a, key, org, where_, scan.token.kind()) {
            return v;
        }
    }

    // 6. The scan permission.
    let Some((a, u)) = status_of(answered, Role::Scan) else {
        return Verdict::new(
            VerdictKind::ServerError,
            "the scan probe got no answer",
            "retry; if it persists, report it with this output",
        );
    };
    let msg = a.message.as_deref().unwrap_or_default();
    let no_cache = a.status == 404 && msg.starts_with("No cache");
    if (200..300).contains(&a.status) || no_cache {
        return Verdict::new(
            VerdictKind::Ok,
            format!(
                "the token from {} can scan {key} on {where_}",
                scan.token_source
            ),
            "run the scan: the exported variables point it at this project",
        );
    }
    if a.status == 403 {
        let sot = if scan.token.kind() == TokenKind::ScopedOrganization {
            " A scoped organization token covers only the projects chosen when it was created."
        } else {
            ""
        };
        return Verdict::new(
            VerdictKind::NoScanPermission,
            format!("the token is valid but has no Execute Analysis permission on {key} ({} answered 403 {msg}).{sot}", host_of(u)),
            format!("add {key} to the token's projects (Administration → Scoped Organization Tokens), use a token scoped to all projects, or grant Execute Analysis on {key}"),
        );
    }
    if let Some(v) = organization_or_project(a, key, org, where_, scan.token.kind()) {
        return v;
    }
    if a.status == 404 && msg.starts_with("Unknown url") {
        return other_flavor(scan, u, a);
    }
    Verdict::new(
        VerdictKind::ServerError,
        format!("unexpected answer to the scan probe: {} {msg}", a.status),
        "check the host URL; if it is right, report this output to the scantoken maintainers",
    )
}

/// Something that is not Sonar answered a probe: the host, the call and what came back.
fn not_sonar(
    scan: &Scan<'_>,
    u: &Url,
    a: &Answer,
    why: &identity::NotSonar,
    proxy: Option<&str>,
) -> Verdict {
    let host = host_of(u);
    let next = match proxy {
        Some(p) => format!("the proxy ({p}) may be answering for {host} itself (a TLS-inspecting proxy's block page): have it pass the Sonar hosts through unchanged, or list them in NO_PROXY; check the URL too; --no-verify exports without proof"),
        None => format!("check the URL: it must be the Sonar's base URL, including any context path (e.g. https://host/sonarqube); if a company proxy or portal intercepts the traffic to {host}, have it let Sonar through; --no-verify exports without proof"),
    };
    Verdict::new(
        VerdictKind::NotSonar,
        format!(
            "{host} answered GET {} with {} ({}), which is not {}: {}. A proxy or portal page is the usual cause",
            u.path(),
            a.status,
            evidence(a),
            scan.target.flavor.describe(),
            why.expected
        ),
        next,
    )
}

/// A Sonar answered, but not the kind the target names: the scan probe's call is unknown
/// there (`404 Unknown url`). SonarQube Server has had `api/analysis_cache/get` since 9.4,
/// and SonarQube Cloud has it on no host; Cloud's API host is the one with
/// `sensor-cache/prepare-read`.
fn other_flavor(scan: &Scan<'_>, u: &Url, a: &Answer) -> Verdict {
    let host = host_of(u);
    let msg = a.message.as_deref().unwrap_or_default();
    if scan.target.flavor == Flavor::Server {
        return Verdict::new(
            VerdictKind::NotSonar,
            format!("{host} answers like SonarQube Cloud, not SonarQube Server: it does not know GET {} ({} {msg}), which every SonarQube Server since 9.4 answers", u.path(), a.status),
            "for SonarQube Cloud, do not set the host URL: for sonarcloud.io leave it unset, for the US instance set the region us, and for another Cloud instance (a staging instance, the bundled emulator) set its URL pair, SONAR_SCANNER_SONARCLOUD_URL=<web URL> and SONAR_SCANNER_API_BASE_URL=<API URL> (sonar.scanner.sonarcloudUrl and sonar.scanner.apiBaseUrl); a SonarQube Server older than 9.4 needs an upgrade",
        );
    }
    Verdict::new(
        VerdictKind::NotSonar,
        format!("{host} is not the API host of {}: it does not know GET {} ({} {msg})", scan.target.flavor.describe(), u.path(), a.status),
        "check the API URL (SONAR_SCANNER_API_BASE_URL, sonar.scanner.apiBaseUrl): it must be the Cloud instance's API host, such as https://api.sonarcloud.io; for a SonarQube Server, set the host URL (SONAR_HOST_URL) instead of the Cloud URL pair",
    )
}

/// Reads Sonar's organization and project messages (docs/sonar-facts.md §2).
fn organization_or_project(
    a: &Answer,
    key: &str,
    org: &str,
    where_: &str,
    kind: TokenKind,
) -> Option<Verdict> {
    let msg = a.message.as_deref().unwrap_or_default();
    if (a.status == 404 && msg.starts_with("Organization with key"))
        || (a.status == 400 && msg.contains("organization"))
    {
        let cause = if msg.contains("does not match") {
            format!("project {key} exists, but not in organization {org}: {msg}")
        } else if org.is_empty() {
            format!("no organization was given and {where_} needs one: {msg}")
        } else {
            format!("organization {org} does not exist on {where_}: {msg}")
        };
        return Some(Verdict::new(
            VerdictKind::OrganizationMismatch,
            cause,
            "set the organization key shown in the organization's URL (sonarcloud.io/organizations/<key>); check the region too (SonarQube Cloud US is separate)",
        ));
    }
    if a.status == 404 && msg.starts_with("Project") {
        // A global analysis or user token on Server may create the project on its first
        // scan if its owner also has Create Projects, which no scan-only call can show.
        let next = match kind {
            TokenKind::ServerGlobalAnalysis | TokenKind::ServerUser => "check the project key (sonar.projectKey); if this is the project's first scan, create it first (Projects → Create project): a first scan creates it only when the token's owner also has the Create Projects permission, which scantoken cannot check without browse rights",
            _ => "check the project key (sonar.projectKey) against the project's Information page; a scan-only token cannot create projects, so create it first",
        };
        return Some(Verdict::new(
            VerdictKind::ProjectNotFound,
            format!(
                "no project {key} on {where_}{}: {msg}",
                if org.is_empty() {
                    String::new()
                } else {
                    format!(" in organization {org}")
                }
            ),
            next,
        ));
    }
    None
}

/// Warnings about the token itself: expiry, and a personal token where a scoped one would do.
fn token_warnings(scan: &Scan<'_>, answered: &[(Probe, Url, Exchange)]) -> Vec<String> {
    let mut out = Vec::new();
    let expiry = answered
        .iter()
        .find_map(|(_, _, e)| e.result.as_ref().ok()?.token_expiration.clone());
    if let Some(date) = expiry {
        if let Some(days) = crate::date::days_until(&date) {
            if days <= scan.expiry_warning_days {
                out.push(format!(
                    "the token expires on {} ({}): create its successor now",
                    &date[..date.len().min(10)],
                    if days < 0 {
                        "already past".to_owned()
                    } else {
                        format!("in {days} day(s)")
                    }
                ));
            }
        }
    }
    match (scan.target.flavor, scan.token.kind()) {
        (Flavor::CloudGlobal | Flavor::CloudUs | Flavor::CloudCustom, TokenKind::Personal) => out.push(
            "this looks like a personal token: it stops working when its owner leaves; a scoped organization token (sqco_) with Execute Analysis would do".into(),
        ),
        (_, TokenKind::Unknown) => out.push(
            "the token is in no format Sonar issues (sqco_ + 59 characters, squ_/sqa_/sqp_ + 40 hex digits, or 40 hex digits for a personal token): check that the secret holds the token itself, and nothing else".into(),
        ),
        (Flavor::Server, TokenKind::ServerUser) => out.push(
            "this is a user token (squ_): it carries all its owner's rights; a project analysis token (sqp_) would do".into(),
        ),
        _ => {}
    }
    out
}

/// The verdict for answers gathered by another caller (`scantoken audit` asks the
/// project-independent probes once per token): [`decide`], then the evidence and the token's
/// warnings, exactly as [`verify`] does.
pub fn conclude(
    scan: &Scan<'_>,
    answered: &[(Probe, Url, Exchange)],
    proxy: Option<&str>,
) -> Verdict {
    let mut verdict = decide(scan, answered, proxy);
    verdict.probes = answered.iter().map(|(p, u, e)| report(p, u, e)).collect();
    verdict.warnings.extend(token_warnings(scan, answered));
    verdict
}

/// Warnings about the scanner configuration around the token.
pub fn configuration_warnings(
    scanner: &crate::scanner_config::ScannerConfig,
    env: &crate::env::Env,
) -> Vec<String> {
    let mut places: Vec<String> = scanner
        .places_setting("sonar.login")
        .iter()
        .map(|o| o.to_string())
        .collect();
    if env.non_empty("SONAR_LOGIN").is_some() {
        places.push("variable SONAR_LOGIN".into());
    }
    if places.is_empty() {
        return Vec::new();
    }
    vec![format!(
        "sonar.login found in {}: SonarQube Cloud stops accepting it as a token carrier on 2026-06-11; use SONAR_TOKEN (sonar.token) instead",
        places.join(", ")
    )]
}
