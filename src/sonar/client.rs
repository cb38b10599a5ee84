//! The HTTP client: rustls with the platform's roots plus extra CAs, proxies from the
//! environment (chosen per URL by [`crate::network`]), timeouts, bodies read through
//! [`crate::read::body`], and bounded retries with backoff.
//!
//! Retries happen only where a second try can change the answer: 429 and 5xx (honouring
//! `Retry-After` up to a bound), connection resets, refused connections and timeouts. A 401,
//! 403 or 404 is an answer about the token or the project and is never sent twice.

use crate::env::Env;
use crate::error::ConfigError;
use crate::inputs::Origin;
use crate::network::{self, Proxies};
use crate::read::{self, BodyError};
use crate::secret::Token;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use url::Url;

/// The largest CA file read: a system bundle is a few hundred kilobytes.
pub const MAX_CA_FILE: usize = 2 << 20;

#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Extra trusted CAs, each with where it was configured.
    pub extra_roots: Vec<(Origin, CaSource)>,
    /// Whole-request timeout (connect included).
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// Attempts per probe, the first included.
    pub max_attempts: u32,
    /// The longest `Retry-After` we wait for; a longer one ends the retries.
    pub max_retry_after: Duration,
    /// First backoff delay; doubled on each retry.
    pub backoff: Duration,
    /// `--allow-insecure-http`: a secret may travel over plain http (see
    /// [`network::may_carry_secret`]).
    pub allow_insecure_http: bool,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            extra_roots: Vec::new(),
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_attempts: 3,
            max_retry_after: Duration::from_secs(10),
            backoff: Duration::from_millis(250),
            allow_insecure_http: false,
        }
    }
}

/// A CA given as a file or as PEM text (`SONAR_ROOT_CERT` holds PEM, as the scan action's).
#[derive(Debug, Clone)]
pub enum CaSource {
    File(PathBuf),
    Pem(String),
}

/// Why no HTTP answer came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportError {
    /// The server's certificate is not trusted (or TLS failed otherwise).
    Tls(String),
    /// The proxy refused, or could not be reached.
    Proxy(String),
    /// DNS, refused connection, reset, timeout.
    Unreachable(String),
}

impl TransportError {
    pub fn describe(&self) -> &str {
        match self {
            TransportError::Tls(m) | TransportError::Proxy(m) | TransportError::Unreachable(m) => m,
        }
    }
}

/// One HTTP answer, reduced to what the decision table reads.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    /// `errors[0].msg` of a Sonar error body, or a short text body.
    pub message: Option<String>,
    pub json: Option<serde_json::Value>,
    /// `SonarQube-Authentication-Token-Expiration`, when the server sent it.
    pub token_expiration: Option<String>,
    pub content_type: Option<String>,
    /// The body as read: `None` when it was not read (a success whose body is not needed, or
    /// one compressed on the way). Kept so the identity rules can see what came back.
    pub body: Option<BodyText>,
}

/// What an answer's body looked like, for telling Sonar from a proxy's page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyText {
    /// Its length in bytes (up to the read limit).
    pub len: usize,
    /// Its first words, control characters dropped and whitespace folded: evidence for a
    /// person, never parsed.
    pub excerpt: String,
}

/// The longest excerpt of a body kept for the evidence.
const EXCERPT_CHARS: usize = 80;

impl BodyText {
    fn of(body: &[u8]) -> BodyText {
        let mut text = String::from_utf8_lossy(body).into_owned();
        // A page says more by its words than by its markup: keep the text between tags.
        if text.trim_start().starts_with('<') {
            let mut words = String::new();
            let mut in_tag = false;
            for c in text.chars() {
                match c {
                    '<' => in_tag = true,
                    '>' if in_tag => {
                        in_tag = false;
                        words.push(' ');
                    }
                    _ if !in_tag => words.push(c),
                    _ => {}
                }
            }
            text = words;
        }
        let mut excerpt = String::new();
        for word in text.split(|c: char| c.is_whitespace() || c.is_control()) {
            if word.is_empty() {
                continue;
            }
            if !excerpt.is_empty() {
                excerpt.push(' ');
            }
            excerpt.push_str(word);
            if excerpt.chars().count() >= EXCERPT_CHARS {
                break;
            }
        }
        if excerpt.chars().count() > EXCERPT_CHARS {
            excerpt = excerpt.chars().take(EXCERPT_CHARS).collect::<String>() + "…";
        }
        // Made inert here, as it is a stranger's text: the JSON report prints it as is, and
        // a CI acts on `##vso[` anywhere in a line and on `::` commands.
        let excerpt = excerpt
            .replace("##", "#\u{200b}#")
            .replace("::", ":\u{200b}:");
        BodyText {
            len: body.len(),
            excerpt,
        }
    }
}

/// One probe's exchange, with the story of its attempts for the evidence.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub result: Result<Answer, TransportError>,
    pub attempts: u32,
    pub elapsed: Duration,
    /// Why each retry happened ("503", "connection reset", "429, Retry-After 1 s").
    pub retries: Vec<String>,
    /// Set when the server asked to wait longer than we will.
    pub gave_up: Option<String>,
    /// The proxy the request went through (`HTTPS_PROXY=http://proxy:3128/`), for the evidence.
    pub proxy: Option<String>,
}

/// A pace shared by many requests (`scantoken audit`): asked before every attempt, retries
/// included, and told of every answer, so that one 429 slows every sender at once instead of
/// each retrying on its own. [`Client::get`] alone (`verify`, `export`) has none.
pub trait Gate: Send + Sync {
    /// Waits until one more request may go out; the pass is held while it is in flight.
    fn admit(&self) -> std::pin::Pin<Box<dyn std::future::Future<Output = GatePass> + Send + '_>>;
    /// The attempt admitted with `pass` ended: its status (none: no answer) and `Retry-After`.
    fn answered(&self, pass: GatePass, status: Option<u16>, retry_after: Option<Duration>);
}

/// One admitted attempt: when it was sent, and whatever the gate holds until it ends.
pub struct GatePass {
    pub sent_at: Instant,
    pub held: Option<Box<dyn std::any::Any + Send>>,
}

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    options: ClientOptions,
    proxies: Arc<Proxies>,
    proxied: Option<String>,
    gate: Option<Arc<dyn Gate>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// Installs the ring crypto provider once for the process (reqwest is built without one).
fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn load_root(origin: &Origin, source: &CaSource) -> Result<Vec<reqwest::Certificate>, ConfigError> {
    let (pem, what) = match source {
        CaSource::File(path) => (
            read::file(path, &origin.to_string(), "the CA file", MAX_CA_FILE)?,
            format!("the CA file {}", path.display()),
        ),
        CaSource::Pem(text) => (text.as_bytes().to_vec(), "the PEM text".to_owned()),
    };
    let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
        ConfigError::new(
            origin.to_string(),
            format!("{what} is not a PEM certificate bundle ({e})"),
        )
        .hint("it must contain -----BEGIN CERTIFICATE----- blocks")
    })?;
    if certs.is_empty() {
        return Err(
            ConfigError::new(origin.to_string(), format!("{what} holds no certificate"))
                .hint("it must contain -----BEGIN CERTIFICATE----- blocks"),
        );
    }
    Ok(certs)
}

impl Client {
    pub fn new(env: &Env, options: ClientOptions) -> Result<Client, ConfigError> {
        install_crypto_provider();
        let mut roots = Vec::new();
        for (origin, source) in &options.extra_roots {
            roots.extend(load_root(origin, source)?);
        }
        let proxies = Arc::new(Proxies::from_env(env)?);
        let proxied = proxies.first().map(|p| p.shown());
        let route = proxies.clone();
        let builder = reqwest::Client::builder()
            .user_agent(concat!("scantoken/", env!("CARGO_PKG_VERSION")))
            .timeout(options.timeout)
            .connect_timeout(options.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .tls_certs_merge(roots)
            .no_proxy()
            // One decision for routing, evidence and the secret rule: network::Proxies.
            .proxy(reqwest::Proxy::custom(move |url| {
                route.for_url(url).map(|p| p.url.clone())
            }));
        let http = builder.build().map_err(|e| {
            ConfigError::new("TLS setup", format!("the HTTP client cannot start: {}", chain(&e)))
                .hint("check the extra CA certificates given with --ca-file, SONAR_ROOT_CERT or SSL_CERT_FILE")
        })?;
        Ok(Client {
            http,
            options,
            proxies,
            proxied,
            gate: None,
        })
    }

    /// This client with every attempt passing through `gate` (see [`Gate`]).
    pub fn with_gate(mut self, gate: Arc<dyn Gate>) -> Client {
        self.gate = Some(gate);
        self
    }

    /// Whether a request carrying a secret may go to `url` (the one rule,
    /// [`network::may_carry_secret`], with this client's proxies and options).
    pub fn secret_may_go_to(&self, url: &Url) -> Result<(), String> {
        network::may_carry_secret(url, &self.proxies, self.options.allow_insecure_http)
    }

    /// The proxy a request to `url` goes through, shown without credentials.
    pub fn proxy_for(&self, url: &Url) -> Option<String> {
        self.proxies.for_url(url).map(|p| p.shown())
    }

    /// The underlying HTTP client, for other calls that share its TLS and proxy settings.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The proxy in use, for the evidence.
    pub fn proxy(&self) -> Option<&str> {
        self.proxied.as_deref()
    }

    /// Sends one GET, retrying as the module doc says.
    pub async fn get(
        &self,
        url: &Url,
        token: Option<&Token>,
        status_only_on_success: bool,
    ) -> Exchange {
        self.get_capped(url, token, status_only_on_success, read::BODY_CAP)
            .await
    }

    /// [`Client::get`] reading a body of up to `cap` bytes: a listing's page of 500
    /// projects is larger than any probe's answer.
    pub async fn get_capped(
        &self,
        url: &Url,
        token: Option<&Token>,
        status_only_on_success: bool,
        cap: usize,
    ) -> Exchange {
        let start = Instant::now();
        let mut retries = Vec::new();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let pass = match &self.gate {
                Some(gate) => Some(gate.admit().await),
                None => None,
            };
            let result = self.attempt(url, token, status_only_on_success, cap).await;
            if let (Some(gate), Some(pass)) = (&self.gate, pass) {
                match &result {
                    Ok(a) => gate.answered(pass, Some(a.answer.status), a.retry_after),
                    Err(_) => gate.answered(pass, None, None),
                }
            }
            let retry_after = match &result {
                Ok(a) if a.answer.status == 429 || a.answer.status >= 500 => {
                    Some((format!("{}", a.answer.status), a.retry_after))
                }
                Err((TransportError::Unreachable(m), Retry::Yes)) => Some((m.clone(), None)),
                _ => None,
            };
            let result = result.map(|a| a.answer).map_err(|(e, _)| e);
            let done = |result, retries, gave_up| Exchange {
                result,
                attempts: attempt,
                elapsed: start.elapsed(),
                retries,
                gave_up,
                proxy: self.proxy_for(url),
            };
            let Some((why, retry_after)) = retry_after else {
                return done(result, retries, None);
            };
            if attempt >= self.options.max_attempts {
                return done(result, retries, None);
            }
            let delay = match retry_after {
                Some(wait) if wait > self.options.max_retry_after => {
                    let gave_up = format!(
                        "the server asked to retry after {} s, longer than the {} s scantoken waits",
                        wait.as_secs(),
                        self.options.max_retry_after.as_secs()
                    );
                    return done(result, retries, Some(gave_up));
                }
                Some(wait) => {
                    retries.push(format!("{why}, Retry-After {} s", wait.as_secs()));
                    wait
                }
                None => {
                    retries.push(why);
                    self.backoff(attempt)
                }
            };
            tokio::time::sleep(delay).await;
        }
    }

    /// Exponential backoff with jitter, capped at 5 s.
    fn backoff(&self, attempt: u32) -> Duration {
        let base = self
            .options
            .backoff
            .saturating_mul(1 << (attempt - 1).min(5));
        let jitter_ms =
            (uuid::Uuid::new_v4().as_u128() % (self.options.backoff.as_millis().max(1))) as u64;
        (base + Duration::from_millis(jitter_ms)).min(Duration::from_secs(5))
    }

    async fn attempt(
        &self,
        url: &Url,
        token: Option<&Token>,
        status_only_on_success: bool,
        cap: usize,
    ) -> Result<Attempt, (TransportError, Retry)> {
        // A body that is never read on success (the Server analysis cache) is asked for
        // gzipped: the server then sends the cache as stored instead of inflating it
        // (docs/sonar-facts.md §2).
        let gzip = status_only_on_success;
        let mut response = self.send(url, token, gzip).await?;
        if gzip && !response.status().is_success() && content_encoded(&response) {
            // An error body compressed on the way (a proxy's gzip): this client has no
            // decoder, and the message is what tells "no cache" from "project not found".
            // Ask once more for it uncompressed.
            response = self.send(url, token, false).await?;
        }
        let encoded = content_encoded(&response);
        let status = response.status().as_u16();
        if status == 407 {
            return Err((self.proxy_auth_required(url), Retry::No));
        }
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let token_expiration = header("SonarQube-Authentication-Token-Expiration");
        let content_type = header("Content-Type");
        let retry_after = header("Retry-After")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let skip_body = status_only_on_success && (200..300).contains(&status);
        let read_body = !(encoded || skip_body);
        let body = if !read_body {
            Vec::new()
        } else {
            match read::body(&mut response, cap).await {
                Ok(body) => body,
                Err(BodyError::Transport(e)) => return Err((self.classify(url, &e), Retry::Yes)),
                // A failing server's oversized error page: its status says enough.
                Err(BodyError::TooLarge { .. }) if status == 429 || status >= 500 => Vec::new(),
                // No Sonar answer is this large: say so, and do not ask again.
                Err(BodyError::TooLarge { cap }) => {
                    return Err((
                        TransportError::Unreachable(format!(
                            "{} answered {status}, and {}: this is not a Sonar answer",
                            url.path(),
                            BodyError::too_large_text(cap)
                        )),
                        Retry::No,
                    ))
                }
            }
        };
        let json: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
        let message = json
            .as_ref()
            .and_then(|j| j.pointer("/errors/0/msg"))
            .and_then(|m| m.as_str())
            .map(str::to_owned)
            .or_else(|| {
                let text = String::from_utf8_lossy(&body);
                let text = text.trim();
                (json.is_none() && !text.is_empty() && text.len() <= 200 && !text.contains('<'))
                    .then(|| text.to_owned())
            });
        Ok(Attempt {
            answer: Answer {
                status,
                message,
                json,
                token_expiration,
                content_type,
                body: read_body.then(|| BodyText::of(&body)),
            },
            retry_after,
        })
    }

    async fn send(
        &self,
        url: &Url,
        token: Option<&Token>,
        gzip: bool,
    ) -> Result<reqwest::Response, (TransportError, Retry)> {
        if token.is_some() {
            // insecure_host refuses such a target before any probe; this keeps the rule
            // where the token is sent, whatever the caller checked.
            if let Err(why) = self.secret_may_go_to(url) {
                return Err((
                    TransportError::Unreachable(format!(
                        "scantoken refused to send the token {why}"
                    )),
                    Retry::No,
                ));
            }
        }
        let mut request = self
            .http
            .get(url.clone())
            .header("Accept", "application/json");
        if gzip {
            request = request.header("Accept-Encoding", "gzip");
        }
        if let Some(token) = token {
            request = request.bearer_auth(token.expose_secret());
        }
        request
            .send()
            .await
            .map_err(|e| (self.classify(url, &e), Retry::Yes))
    }

    /// A 407 answer: the proxy in the path (or one the network puts there unannounced)
    /// wants credentials. The proxy's name is left to the evidence, which shows it.
    pub fn proxy_auth_required(&self, url: &Url) -> TransportError {
        let who = match self.proxy_for(url) {
            Some(_) => "the proxy",
            None => "a proxy between this agent and the server (none is configured here)",
        };
        TransportError::Proxy(format!(
            "{who} answered 407 Proxy Authentication Required: put its credentials in the proxy URL (http://user:password@proxy:3128)"
        ))
    }

    /// Why a request to `url` got no answer. With a proxy in the path, a failed connection
    /// or tunnel is the proxy's.
    pub fn classify(&self, url: &Url, e: &reqwest::Error) -> TransportError {
        let text = chain(e);
        if is_tls_failure(e) {
            return TransportError::Tls(text);
        }
        let lower = text.to_ascii_lowercase();
        if self.proxy_for(url).is_some() {
            // The tunnel's 407 (an https URL through an http proxy) reads as the plain one.
            if lower.contains("proxy authorization required") {
                return self.proxy_auth_required(url);
            }
            if e.is_connect() || lower.contains("tunnel") || lower.contains("proxy") {
                return TransportError::Proxy(text);
            }
        }
        if e.is_timeout() {
            return TransportError::Unreachable(format!("timed out ({text})"));
        }
        TransportError::Unreachable(text)
    }
}

/// Whether a request failed in TLS (an untrusted certificate above all), for every client
/// that shares these settings (the Sonar probes, the Vault exchange).
pub fn is_tls_failure(e: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if err.downcast_ref::<rustls::Error>().is_some() {
            return true;
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if io
                .get_ref()
                .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some())
            {
                return true;
            }
        }
        source = err.source();
    }
    // rustls' error can arrive boxed behind hyper's and reqwest's own types, where a
    // downcast does not reach it; its message is stable and says what it is.
    let lower = chain(e).to_ascii_lowercase();
    lower.contains("invalid peer certificate")
        || lower.contains("tls handshake")
        || lower.contains("received fatal alert")
}

/// The body is compressed (or otherwise encoded): unreadable without a decoder.
fn content_encoded(response: &reqwest::Response) -> bool {
    response
        .headers()
        .get("Content-Encoding")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| !v.trim().is_empty() && !v.trim().eq_ignore_ascii_case("identity"))
}

struct Attempt {
    answer: Answer,
    retry_after: Option<Duration>,
}

/// Whether a failed attempt may be tried again (a reset may pass; a refusal will not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Retry {
    Yes,
    No,
}

/// An error and its causes on one line: reqwest's top-level message alone says little.
fn chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::sync::{Arc, Mutex};

    /// A one-thread HTTP/1.1 server: records each request's head and answers with
    /// `answer(head)`, closing every connection.
    fn server(answer: fn(&str) -> Vec<u8>) -> (String, Arc<Mutex<Vec<String>>>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if stream.read(&mut byte).unwrap_or(0) == 0 {
                        break;
                    }
                    head.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
                let reply = answer(&head);
                log.lock().unwrap().push(head);
                let _ = stream.write_all(&reply);
            }
        });
        (base, seen)
    }

    fn response(status: &str, headers: &str, body: &[u8]) -> Vec<u8> {
        let mut out = format!(
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n",
            body.len()
        )
        .into_bytes();
        out.extend_from_slice(body);
        out
    }

    fn get(base: &str, status_only: bool) -> Exchange {
        let client = Client::new(&Env::default(), ClientOptions::default()).unwrap();
        let url = Url::parse(&format!("{base}/api/analysis_cache/get?project=k")).unwrap();
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(client.get(&url, None, status_only))
    }

    #[test]
    fn the_status_only_probe_accepts_gzip_and_the_others_do_not() {
        let (base, seen) = server(|_| response("200 OK", "", b"\x1f\x8b binary cache"));
        assert_eq!(get(&base, true).result.unwrap().status, 200);
        assert_eq!(get(&base, false).result.unwrap().status, 200);
        let seen = seen.lock().unwrap();
        assert!(
            seen[0].contains("\r\naccept-encoding: gzip\r\n"),
            "{}",
            seen[0]
        );
        assert!(!seen[1].contains("accept-encoding"), "{}", seen[1]);
    }

    #[test]
    fn an_oversized_body_is_not_a_sonar_answer_unless_the_status_says_enough() {
        let (base, seen) = server(|_| response("200 OK", "", &[b'x'; 100 * 1024]));
        let e = get(&base, false);
        let err = e.result.unwrap_err();
        assert!(
            matches!(&err, TransportError::Unreachable(m) if m.contains("larger than the 64 KiB")),
            "{err:?}"
        );
        assert_eq!(e.attempts, 1, "an oversized answer is not asked for again");
        assert_eq!(seen.lock().unwrap().len(), 1);

        let (base, _) = server(|_| response("503 Busy", "", &[b'x'; 100 * 1024]));
        let e = get(&base, false);
        assert_eq!(
            e.result.unwrap().status,
            503,
            "a failing server stays a server error"
        );
    }

    #[test]
    fn a_407_is_the_proxy_asking_for_credentials() {
        let (base, _) = server(|_| response("407 Proxy Authentication Required", "", b""));
        let err = get(&base, false).result.unwrap_err();
        assert!(
            matches!(&err, TransportError::Proxy(m) if m.contains("407")),
            "{err:?}"
        );
    }

    #[test]
    fn a_compressed_error_body_is_asked_for_again_uncompressed() {
        let (base, seen) = server(|head| {
            if head.contains("accept-encoding: gzip") {
                response(
                    "404 Not Found",
                    "Content-Encoding: gzip\r\n",
                    b"\x1f\x8b\x08garbage",
                )
            } else {
                response(
                    "404 Not Found",
                    "Content-Type: application/json\r\n",
                    br#"{"errors":[{"msg":"Project 'k' not found"}]}"#,
                )
            }
        });
        let answer = get(&base, true).result.unwrap();
        assert_eq!(answer.status, 404);
        assert_eq!(answer.message.as_deref(), Some("Project 'k' not found"));
        assert_eq!(seen.lock().unwrap().len(), 2);
    }
}
