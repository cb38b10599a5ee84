//! A scripted HTTP server on loopback for the hardening tests: each request is answered by
//! the first rule whose path prefix matches (or the default), and every request line is
//! recorded. It plays a Sonar, a Vault or a CI token endpoint that answers forever, and a
//! plain HTTP proxy (request lines in absolute form, or `CONNECT host:port`) that wants
//! credentials.
//!
//! Bounded: an endless body stops after [`ENDLESS_LIMIT`] bytes or [`ENDLESS_TIME`], and
//! every connection ends when the client hangs up.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// An endless body stops by itself after this many bytes...
pub const ENDLESS_LIMIT: u64 = 4 << 30;
/// ... or this long.
pub const ENDLESS_TIME: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub enum Reply {
    /// A status and a JSON body.
    Json(u16, String),
    /// A 200 whose body never ends (no Content-Length, closed by the server only at the
    /// bounds above).
    Endless,
    /// 407 Proxy Authentication Required, as a proxy says it.
    ProxyAuth,
    /// The connection closed without an answer, as by a server that went away.
    Hangup,
}

pub struct Scripted {
    pub url: String,
    pub port: u16,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Scripted {
    pub fn start(rules: Vec<(&str, Reply)>, default: Reply) -> Scripted {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = requests.clone();
        let rules: Arc<Vec<(String, Reply)>> =
            Arc::new(rules.into_iter().map(|(p, r)| (p.to_owned(), r)).collect());
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let (log, rules, default) = (log.clone(), rules.clone(), default.clone());
                std::thread::spawn(move || {
                    let _ = serve(conn, &rules, &default, &log);
                });
            }
        });
        Scripted {
            url: format!("http://127.0.0.1:{port}"),
            port,
            requests,
        }
    }

    /// The request lines seen (`GET /v1/auth/jwt/login HTTP/1.1`, `CONNECT host:443 HTTP/1.1`).
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

fn serve(
    conn: TcpStream,
    rules: &[(String, Reply)],
    default: &Reply,
    log: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut first = String::new();
    reader.read_line(&mut first)?;
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0u8; length.min(1 << 20)];
    reader.read_exact(&mut body)?;
    let first = first.trim_end().to_owned();
    log.lock().unwrap().push(first.clone());
    // The path, from an origin-form or absolute-form request target.
    let target = first.split_whitespace().nth(1).unwrap_or("/");
    let path = match target.find("://") {
        Some(i) => target[i + 3..]
            .find('/')
            .map(|j| &target[i + 3 + j..])
            .unwrap_or("/"),
        None => target,
    };
    let reply = rules
        .iter()
        .find(|(prefix, _)| path.starts_with(prefix.as_str()))
        .map(|(_, r)| r)
        .unwrap_or(default);
    let mut conn = conn;
    match reply {
        Reply::Json(status, body) => write!(
            conn,
            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
        Reply::ProxyAuth => write!(
            conn,
            "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"corp\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        ),
        Reply::Hangup => conn.shutdown(std::net::Shutdown::Both),
        Reply::Endless => {
            write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{{\"errors\":[\""
            )?;
            let chunk = vec![b'a'; 64 * 1024];
            let (start, mut sent) = (Instant::now(), 0u64);
            while sent < ENDLESS_LIMIT && start.elapsed() < ENDLESS_TIME {
                conn.write_all(&chunk)?;
                sent += chunk.len() as u64;
            }
            Ok(())
        }
    }
}
