//! Listeners, connections, faults and the request log.
//!
//! Besides Sonar's API, every listener answers three control paths (never logged, never
//! faulted): `GET /__emulator/log` (the log as a JSON array), `DELETE /__emulator/log`
//! (clear it), `PUT /__emulator/faults` (replace the fault rules with a JSON or YAML list)
//! and `DELETE /__emulator/projects/KEY` (delete a project, as an admin would).

use crate::faults::{FaultRule, FaultState, ListenerKind};
use crate::scenario::Scenario;
use crate::sonar::{self, Body, Reply};
use base64::Engine;
use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify};

/// One request as received and answered. Holds a fingerprint of the token, never the token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoggedRequest {
    pub listener: ListenerKind,
    /// One id per accepted TCP connection (TLS or not), shared by both listeners: counts
    /// connections and their reuse.
    pub connection: u64,
    /// `HTTP/1.1` or `HTTP/2.0`.
    pub version: String,
    pub method: String,
    /// The host the client addressed (`Host`, or the HTTP/2 authority), e.g. `sonarcloud.io`
    /// through a proxy or `127.0.0.1:PORT`: where the client believed it sent the request.
    #[serde(default)]
    pub host: String,
    pub path: String,
    /// The raw query string, as sent.
    pub query: String,
    /// `none`, `bearer`, `basic` or `other`.
    pub auth_scheme: String,
    /// First 8 hex digits of the token's SHA-256.
    pub token_fingerprint: Option<String>,
    /// 0 when the connection was reset instead of answered.
    pub status: u16,
    /// The faults applied, e.g. `status 503 retry-after 1`.
    pub fault: Option<String>,
    /// Microseconds since the emulator started (monotonic).
    pub received_us: u64,
    /// When the status and headers were sent (a slow body ends later).
    pub responded_us: u64,
}

/// First 8 hex digits of the SHA-256 of a token: how the log names a token.
pub fn fingerprint(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .take(4)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// State shared by every listener and connection of one emulator.
pub struct Shared {
    pub scenario: Scenario,
    pub faults: Mutex<FaultState>,
    pub log: Mutex<Vec<LoggedRequest>>,
    pub latency_ms: u64,
    pub log_file: Option<Mutex<std::fs::File>>,
    /// The injected latency's clock (finer than the runtime's).
    delays: crate::delay::Delays,
    start: Instant,
    next_connection: AtomicU64,
    /// The throttle's current second and the requests answered in it.
    window: Mutex<(u64, u32)>,
}

impl Shared {
    pub fn new(
        scenario: Scenario,
        faults: Vec<FaultRule>,
        latency_ms: u64,
        log_file: Option<std::fs::File>,
    ) -> Shared {
        Shared {
            scenario,
            faults: Mutex::new(FaultState::new(faults)),
            log: Mutex::new(Vec::new()),
            latency_ms,
            log_file: log_file.map(Mutex::new),
            delays: crate::delay::Delays::start(),
            start: Instant::now(),
            next_connection: AtomicU64::new(1),
            window: Mutex::new((0, 0)),
        }
    }

    /// With a throttle, whether a request received at `us` is over this second's allowance:
    /// then the `Retry-After` to send.
    fn throttled(&self, us: u64) -> Option<u64> {
        let t = self.scenario.throttle?;
        let second = us / 1_000_000;
        let mut w = self.window.lock().unwrap();
        if w.0 != second {
            *w = (second, 0);
        }
        if w.1 >= t.per_second {
            return Some(t.retry_after);
        }
        w.1 += 1;
        None
    }

    fn now_us(&self) -> u64 {
        self.start.elapsed().as_micros() as u64
    }

    fn record(&self, entry: LoggedRequest) {
        if let Some(file) = &self.log_file {
            if let Ok(line) = serde_json::to_string(&entry) {
                let _ = writeln!(file.lock().unwrap(), "{line}");
            }
        }
        self.log.lock().unwrap().push(entry);
    }
}

type Out = BoxBody<Bytes, std::io::Error>;

/// One listener: what it is, and what its connections need.
#[derive(Clone)]
pub struct Listener {
    pub kind: ListenerKind,
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    /// This listener's own URL, used when a request names no host.
    pub url: String,
}

/// Accepts connections until `stop` turns true; then every open connection is closed too.
pub async fn serve(
    listener: TcpListener,
    this: Listener,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let conn = shared.next_connection.fetch_add(1, Ordering::SeqCst);
                let (this, shared, stop) = (this.clone(), shared.clone(), stop.clone());
                tokio::spawn(connection(stream, this, shared, conn, stop));
            }
            _ = stop.changed() => return,
        }
    }
}

/// What a handler needs to abort its connection.
struct Abort {
    /// A second handle on the socket, to set `SO_LINGER` 0 whoever holds the stream.
    socket: socket2::Socket,
    requested: Notify,
}

async fn connection(
    stream: TcpStream,
    this: Listener,
    shared: Arc<Shared>,
    conn: u64,
    mut stop: watch::Receiver<bool>,
) {
    let Ok(socket) = socket2::SockRef::from(&stream).try_clone() else {
        return;
    };
    let abort = Arc::new(Abort {
        socket,
        requested: Notify::new(),
    });
    let tls = this.tls.clone();
    let served = {
        let abort = abort.clone();
        async move {
            let service = hyper::service::service_fn(move |req| {
                handle(req, this.clone(), conn, shared.clone(), abort.clone())
            });
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            match tls {
                Some(acceptor) => {
                    if let Ok(stream) = acceptor.accept(stream).await {
                        let _ = builder
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    }
                }
                None => {
                    let _ = builder
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                }
            }
        }
    };
    tokio::select! {
        _ = served => {}
        _ = abort.requested.notified() => {}
        _ = stop.changed() => {}
    }
    // Leaving drops the connection and its stream. The socket closes with the last handle,
    // `abort.socket`: with linger 0 after a reset fault, that close sends RST.
}

fn token_of<B>(req: &Request<B>) -> (String, Option<String>) {
    let Some(value) = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return ("none".into(), None);
    };
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return ("bearer".into(), (!rest.is_empty()).then(|| rest.to_owned()));
    }
    if scheme.eq_ignore_ascii_case("basic") {
        // `token:` (the token as user name, no password).
        let text = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .ok()
            .and_then(|d| String::from_utf8(d).ok())
            .unwrap_or_default();
        let user = text.split(':').next().unwrap_or_default();
        return ("basic".into(), (!user.is_empty()).then(|| user.to_owned()));
    }
    ("other".into(), None)
}

/// `scheme://host[:port]` as the client addressed it (Host, or the HTTP/2 authority).
fn base_url<B>(req: &Request<B>, this: &Listener) -> String {
    let scheme = if this.tls.is_some() { "https" } else { "http" };
    let host = req
        .uri()
        .authority()
        .map(|a| a.as_str().to_owned())
        .or_else(|| {
            req.headers()
                .get(hyper::header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::to_owned)
        });
    match host {
        Some(h) if !h.is_empty() => format!("{scheme}://{h}"),
        _ => this.url.clone(),
    }
}

async fn handle(
    req: Request<hyper::body::Incoming>,
    this: Listener,
    conn: u64,
    shared: Arc<Shared>,
    abort: Arc<Abort>,
) -> Result<Response<Out>, std::io::Error> {
    let received_us = shared.now_us();
    let path = req.uri().path().to_owned();
    if let Some(control) = path.strip_prefix("/__emulator/") {
        return Ok(control_path(control, req, &shared).await);
    }
    let method = req.method().as_str().to_owned();
    let raw_query = req.uri().query().unwrap_or_default().to_owned();
    let query: BTreeMap<String, String> = form_urlencoded::parse(raw_query.as_bytes())
        .into_owned()
        .collect();
    let (auth_scheme, token) = token_of(&req);
    let base = base_url(&req, &this);
    let host = base.split_once("://").map_or("", |(_, h)| h).to_owned();
    let accept = req
        .headers()
        .get(hyper::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);

    let mut applied = shared.faults.lock().unwrap().apply(this.kind, &path);
    if let Some(retry_after) = shared.throttled(received_us) {
        applied = crate::faults::Applied {
            latency_ms: applied.latency_ms,
            status: Some((429, Some(retry_after))),
            ..Default::default()
        };
    }
    let latency = applied.latency_ms + shared.latency_ms;
    if latency > 0 {
        shared.delays.sleep(Duration::from_millis(latency)).await;
    }
    let mut entry = LoggedRequest {
        listener: this.kind,
        connection: conn,
        version: format!("{:?}", req.version()),
        method: method.clone(),
        host,
        path: path.clone(),
        query: raw_query,
        auth_scheme,
        token_fingerprint: token.as_deref().map(fingerprint),
        status: 0,
        fault: applied.describe(),
        received_us,
        responded_us: 0,
    };
    if applied.reset {
        entry.responded_us = shared.now_us();
        shared.record(entry);
        // Linger 0: closing the socket sends RST, so the client sees a reset, not an end.
        let _ = abort.socket.set_linger(Some(Duration::ZERO));
        abort.requested.notify_one();
        return Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "fault: reset",
        ));
    }
    let reply = match applied.status {
        Some((status, retry_after)) => {
            let reason = hyper::StatusCode::from_u16(status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("Service Unavailable");
            let mut r = sonar::error(status, reason);
            if let Some(secs) = retry_after {
                r.headers.push(("Retry-After".into(), secs.to_string()));
            }
            r
        }
        None => sonar::respond(
            &shared.scenario,
            &sonar::Request {
                listener: this.kind,
                method: &method,
                path: &path,
                query: &query,
                token: token.as_deref(),
                base_url: &base,
                accept: accept.as_deref(),
            },
        ),
    };
    entry.status = reply.status;
    entry.responded_us = shared.now_us();
    shared.record(entry);
    Ok(render(reply, applied.slow_body_ms))
}

async fn control_path(
    what: &str,
    req: Request<hyper::body::Incoming>,
    shared: &Shared,
) -> Response<Out> {
    let method = req.method().as_str().to_owned();
    let json = |status: u16, v: serde_json::Value| {
        respond_full(status, "application/json", v.to_string().into_bytes(), &[])
    };
    match (method.as_str(), what) {
        ("GET", "log") => {
            let log = shared.log.lock().unwrap().clone();
            let body = serde_json::to_vec(&log).unwrap_or_default();
            respond_full(200, "application/json", body, &[])
        }
        ("DELETE", "log") => {
            shared.log.lock().unwrap().clear();
            json(200, serde_json::json!({ "cleared": true }))
        }
        ("PUT", "faults") => {
            let body = match req.into_body().collect().await {
                Ok(b) => b.to_bytes(),
                Err(e) => return json(400, serde_json::json!({ "error": e.to_string() })),
            };
            let text = String::from_utf8_lossy(&body);
            let parsed: anyhow::Result<Vec<FaultRule>> = serde_saphyr::from_str(&text)
                .map_err(anyhow::Error::from)
                .and_then(|rules: Vec<FaultRule>| {
                    rules.iter().try_for_each(FaultRule::validate)?;
                    Ok(rules)
                });
            match parsed {
                Ok(rules) => {
                    let n = rules.len();
                    *shared.faults.lock().unwrap() = FaultState::new(rules);
                    json(200, serde_json::json!({ "faults": n }))
                }
                Err(e) => json(400, serde_json::json!({ "error": e.to_string() })),
            }
        }
        ("DELETE", w) if w.starts_with("projects/") => {
            let key = form_urlencoded::parse(&w.as_bytes()["projects/".len()..])
                .map(|(k, v)| {
                    if v.is_empty() {
                        k.into_owned()
                    } else {
                        format!("{k}={v}")
                    }
                })
                .next()
                .unwrap_or_default();
            if shared.scenario.delete_project(&key) {
                json(200, serde_json::json!({ "deleted": key }))
            } else {
                json(
                    404,
                    serde_json::json!({ "errors": [{ "msg": format!("Project '{key}' not found") }] }),
                )
            }
        }
        _ => json(
            404,
            serde_json::json!({ "errors": [{ "msg": format!("Unknown url : /__emulator/{what}") }] }),
        ),
    }
}

fn respond_full(
    status: u16,
    content_type: &str,
    body: Vec<u8>,
    headers: &[(String, String)],
) -> Response<Out> {
    let mut builder = Response::builder().status(status);
    if !body.is_empty() {
        builder = builder.header(hyper::header::CONTENT_TYPE, content_type);
    }
    for (k, v) in headers {
        builder = builder.header(k, v);
    }
    builder
        .body(
            Full::new(Bytes::from(body))
                .map_err(|never| match never {})
                .boxed(),
        )
        .expect("a valid response")
}

fn render(reply: Reply, slow_body_ms: Option<u64>) -> Response<Out> {
    let (content_type, bytes) = match reply.body {
        Body::Empty => ("text/plain", Vec::new()),
        Body::Json(v) => (
            "application/json",
            serde_json::to_vec(&v).unwrap_or_default(),
        ),
        Body::Text(t) => ("text/plain", t.into_bytes()),
        Body::Binary(n) => ("application/octet-stream", cache_bytes(n)),
        Body::Bytes(b) => ("application/octet-stream", b.to_vec()),
    };
    let Some(total_ms) = slow_body_ms else {
        return respond_full(reply.status, content_type, bytes, &reply.headers);
    };
    // Headers now, then the body in ten pieces over `total_ms`.
    let pieces: Vec<Bytes> = {
        let size = bytes.len().div_ceil(10).max(1);
        bytes.chunks(size).map(Bytes::copy_from_slice).collect()
    };
    let delay = Duration::from_millis(total_ms / pieces.len().max(1) as u64);
    let stream = futures_util::stream::unfold(pieces.into_iter(), move |mut rest| async move {
        let piece = rest.next()?;
        tokio::time::sleep(delay).await;
        Some((Ok::<_, std::io::Error>(Frame::data(piece)), rest))
    });
    let mut builder = Response::builder()
        .status(reply.status)
        .header(hyper::header::CONTENT_TYPE, content_type);
    for (k, v) in &reply.headers {
        builder = builder.header(k, v);
    }
    builder
        .body(BodyExt::boxed(StreamBody::new(stream)))
        .expect("a valid response")
}

/// Stand-in cache bytes: not all one value, so compression does not hide the size.
fn cache_bytes(n: usize) -> Vec<u8> {
    let mut x: u32 = 0x2545_f491;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(auth: &str) -> Request<()> {
        Request::builder()
            .header("Authorization", auth)
            .body(())
            .unwrap()
    }

    #[test]
    fn tokens_from_bearer_and_basic() {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let cases = [
            ("Bearer tok".to_string(), "bearer", Some("tok")),
            ("bearer  tok ".to_string(), "bearer", Some("tok")),
            (format!("Basic {}", b64("tok:")), "basic", Some("tok")),
            (format!("Basic {}", b64("tok")), "basic", Some("tok")),
            (format!("Basic {}", b64(":pw")), "basic", None),
            ("Basic !!!".to_string(), "basic", None),
            ("Token tok".to_string(), "other", None),
        ];
        for (header, scheme, token) in cases {
            let (s, t) = token_of(&req(&header));
            assert_eq!((s.as_str(), t.as_deref()), (scheme, token), "{header}");
        }
        let (s, t) = token_of(&Request::new(()));
        assert_eq!((s.as_str(), t), ("none", None));
    }

    #[test]
    fn fingerprint_is_the_start_of_sha256() {
        // sha256("abc") = ba7816bf...
        assert_eq!(fingerprint("abc"), "ba7816bf");
    }

    #[test]
    fn cache_bytes_are_varied() {
        let b = cache_bytes(1000);
        assert_eq!(b.len(), 1000);
        assert!(b.iter().filter(|&&x| x == b[0]).count() < 50);
    }
}
