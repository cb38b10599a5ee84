//! Listeners, connections, faults and the request log.

use crate::faults::{FaultRule, FaultState, ListenerKind};
use crate::scenario::Scenario;
use crate::sonar::{self, Body, Reply};
use base64::Engine;
use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// One request as received and answered. Holds a fingerprint of the token, never the token.
#[derive(Debug, Clone, Serialize)]
pub struct LoggedRequest {
    pub listener: ListenerKind,
    /// One id per accepted connection: counts connections and their reuse.
    pub connection: u64,
    pub method: String,
    pub path: String,
    pub query: String,
    /// `none`, `bearer` or `basic`.
    pub auth_scheme: String,
    /// First 8 hex digits of the token's SHA-256.
    pub token_fingerprint: Option<String>,
    /// 0 when the connection was reset instead of answered.
    pub status: u16,
    pub fault: Option<String>,
    /// Microseconds since the emulator started.
    pub received_us: u64,
    pub responded_us: u64,
}

pub struct Shared {
    pub scenario: Scenario,
    pub faults: Mutex<FaultState>,
    pub log: Mutex<Vec<LoggedRequest>>,
    pub latency_ms: u64,
    pub log_file: Option<Mutex<std::fs::File>>,
    start: Instant,
    next_connection: AtomicU64,
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
            start: Instant::now(),
            next_connection: AtomicU64::new(1),
        }
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

/// Accepts connections until `stop` turns true.
pub async fn serve(
    listener: TcpListener,
    kind: ListenerKind,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let conn = shared.next_connection.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(connection(stream, kind, tls.clone(), shared.clone(), conn));
            }
            _ = stop.changed() => return,
        }
    }
}

async fn connection(
    stream: tokio::net::TcpStream,
    kind: ListenerKind,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shared: Arc<Shared>,
    conn: u64,
) {
    let service = hyper::service::service_fn(move |req| handle(req, kind, conn, shared.clone()));
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

fn token_of(req: &Request<hyper::body::Incoming>) -> (String, Option<String>) {
    let Some(value) = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
    else {
        return ("none".into(), None);
    };
    if let Some(t) = value.strip_prefix("Bearer ") {
        return ("bearer".into(), Some(t.trim().to_owned()));
    }
    if let Some(b) = value.strip_prefix("Basic ") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(b.trim())
            .ok();
        let text = decoded
            .and_then(|d| String::from_utf8(d).ok())
            .unwrap_or_default();
        let user = text.split(':').next().unwrap_or_default().to_owned();
        return ("basic".into(), (!user.is_empty()).then_some(user));
    }
    ("other".into(), None)
}

fn fingerprint(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .take(4)
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn handle(
    req: Request<hyper::body::Incoming>,
    kind: ListenerKind,
    conn: u64,
    shared: Arc<Shared>,
) -> Result<Response<Out>, std::io::Error> {
    let received_us = shared.now_us();
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let raw_query = req.uri().query().unwrap_or_default().to_owned();
    let query: BTreeMap<String, String> = form_urlencoded::parse(raw_query.as_bytes())
        .into_owned()
        .collect();
    let (auth_scheme, token) = token_of(&req);

    if path == "/__emulator/log" {
        let log = shared.log.lock().unwrap().clone();
        let body = serde_json::to_vec(&log).unwrap_or_default();
        return Ok(respond_full(200, "application/json", body, &[]));
    }

    let applied = shared.faults.lock().unwrap().apply(kind, &path);
    let latency = applied.latency_ms + shared.latency_ms;
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let mut entry = LoggedRequest {
        listener: kind,
        connection: conn,
        method: method.clone(),
        path: path.clone(),
        query: raw_query.clone(),
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
        // An error from the service makes hyper drop the connection without an answer.
        return Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "fault: reset",
        ));
    }
    let reply = match applied.status {
        Some((status, retry_after)) => {
            let msg = if status == 429 {
                "Too Many Requests"
            } else {
                "Service Unavailable"
            };
            let mut r = sonar::error(status, msg);
            if let Some(secs) = retry_after {
                r.headers.push(("Retry-After".into(), secs.to_string()));
            }
            r
        }
        None => sonar::respond(
            &shared.scenario,
            &sonar::Request {
                listener: kind,
                method: &method,
                path: &path,
                query: &query,
                token: token.as_deref(),
            },
        ),
    };
    entry.status = reply.status;
    entry.responded_us = shared.now_us();
    shared.record(entry);
    Ok(render(reply, applied.slow_body_ms))
}

fn respond_full(
    status: u16,
    content_type: &str,
    body: Vec<u8>,
    headers: &[(String, String)],
) -> Response<Out> {
    let mut builder = Response::builder()
        .status(status)
        .header("Content-Type", content_type);
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
        Body::Binary(n) => ("application/octet-stream", vec![0x5a; n]),
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
        .header("Content-Type", content_type);
    for (k, v) in &reply.headers {
        builder = builder.header(k, v);
    }
    builder
        .body(BodyExt::boxed(StreamBody::new(stream)))
        .expect("a valid response")
}
