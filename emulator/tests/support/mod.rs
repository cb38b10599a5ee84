//! A small HTTP client for the emulator's tests: one [`Conn`] is one TCP (or TLS)
//! connection, over HTTP/1.1 or HTTP/2, so tests can count connections.

#![allow(dead_code)]

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

pub type Error = Box<dyn std::error::Error + Send + Sync>;

#[derive(Clone, Copy, Debug)]
pub enum Auth<'a> {
    None,
    Bearer(&'a str),
    /// `Basic base64(token:)`.
    Basic(&'a str),
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub body: Vec<u8>,
    /// From sending the request to the status and headers.
    pub head_after: Duration,
    /// From sending the request to the end of the body.
    pub body_after: Duration,
}

impl Resp {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {:?}", String::from_utf8_lossy(&self.body)))
    }

    /// `errors[0].msg`.
    pub fn msg(&self) -> String {
        self.json()["errors"][0]["msg"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

#[derive(Clone, Default)]
pub struct Options {
    /// Trust this CA (PEM) for https URLs; without it, no CA is trusted.
    pub ca_pem: Option<String>,
    /// The TLS server name, when not the URL's host.
    pub server_name: Option<String>,
    /// HTTP/2: by ALPN over TLS, by prior knowledge (h2c) over plain TCP.
    pub h2: bool,
    /// An `Accept` header on every request (downloads ask for `application/octet-stream`).
    pub accept: Option<String>,
}

enum Sender {
    H1(http1::SendRequest<Full<Bytes>>),
    H2(http2::SendRequest<Full<Bytes>>),
}

pub struct Conn {
    sender: Sender,
    authority: String,
    accept: Option<String>,
}

/// `http(s)://host:port[/prefix]` → (https, host, port, prefix).
fn split_url(url: &str) -> (bool, String, u16, String) {
    let (tls, rest) = match url.strip_prefix("https://") {
        Some(r) => (true, r),
        None => (false, url.strip_prefix("http://").expect("an http URL")),
    };
    let (authority, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let (host, port) = authority.rsplit_once(':').expect("a port");
    let prefix = if prefix.is_empty() {
        String::new()
    } else {
        format!("/{prefix}")
    };
    (tls, host.to_owned(), port.parse().unwrap(), prefix)
}

pub fn tls_config(ca_pem: Option<&str>, h2: bool) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    if let Some(pem) = ca_pem {
        for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            roots.add(cert.unwrap()).unwrap();
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = if h2 {
        vec![b"h2".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    config
}

/// Opens one connection to the URL's host and port.
pub async fn connect(url: &str, options: &Options) -> Result<Conn, Error> {
    let (tls, host, port, _) = split_url(url);
    let tcp = TcpStream::connect((host.as_str(), port)).await?;
    let authority = format!("{host}:{port}");
    let sender = if tls {
        let config = tls_config(options.ca_pem.as_deref(), options.h2);
        let name = options.server_name.clone().unwrap_or(host.clone());
        let name = ServerName::try_from(name)?;
        let stream = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await?;
        handshake(TokioIo::new(stream), options.h2).await?
    } else {
        handshake(TokioIo::new(tcp), options.h2).await?
    };
    Ok(Conn {
        sender,
        authority,
        accept: options.accept.clone(),
    })
}

async fn handshake<T>(io: TokioIo<T>, h2: bool) -> Result<Sender, Error>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    Ok(if h2 {
        let (sender, conn) = http2::handshake(TokioExecutor::new(), io).await?;
        tokio::spawn(conn);
        Sender::H2(sender)
    } else {
        let (sender, conn) = http1::handshake(io).await?;
        tokio::spawn(conn);
        Sender::H1(sender)
    })
}

pub fn authorization(auth: Auth) -> Option<String> {
    let b64 = |s: String| base64::engine::general_purpose::STANDARD.encode(s);
    match auth {
        Auth::None => None,
        Auth::Bearer(t) => Some(format!("Bearer {t}")),
        Auth::Basic(t) => Some(format!("Basic {}", b64(format!("{t}:")))),
    }
}

impl Conn {
    /// Sends one request on this connection and reads the whole answer.
    pub async fn send(&mut self, method: &str, path: &str, auth: Auth<'_>) -> Result<Resp, Error> {
        let mut builder = hyper::Request::builder().method(method);
        builder = match self.sender {
            Sender::H1(_) => builder.uri(path).header("Host", &self.authority),
            Sender::H2(_) => builder.uri(format!("http://{}{path}", self.authority)),
        };
        if let Some(value) = authorization(auth) {
            builder = builder.header("Authorization", value);
        }
        if let Some(accept) = &self.accept {
            builder = builder.header("Accept", accept);
        }
        let request = builder.body(Full::new(Bytes::new()))?;
        let start = Instant::now();
        let response = match &mut self.sender {
            Sender::H1(s) => {
                s.ready().await?;
                s.send_request(request).await?
            }
            Sender::H2(s) => {
                s.ready().await?;
                s.send_request(request).await?
            }
        };
        let head_after = start.elapsed();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await?.to_bytes().to_vec();
        Ok(Resp {
            status,
            headers,
            body,
            head_after,
            body_after: start.elapsed(),
        })
    }

    pub async fn get(&mut self, path: &str, auth: Auth<'_>) -> Result<Resp, Error> {
        self.send("GET", path, auth).await
    }
}

/// One request on a connection of its own. `url` may carry a path prefix (Server's API URL).
pub async fn request(
    url: &str,
    method: &str,
    path: &str,
    auth: Auth<'_>,
    options: &Options,
) -> Result<Resp, Error> {
    let (_, _, _, prefix) = split_url(url);
    connect(url, options)
        .await?
        .send(method, &format!("{prefix}{path}"), auth)
        .await
}

/// GET on a connection of its own, plain options; panics on a transport error.
pub async fn get(url: &str, path: &str, auth: Auth<'_>) -> Resp {
    request(url, "GET", path, auth, &Options::default())
        .await
        .unwrap_or_else(|e| panic!("GET {url}{path}: {e}"))
}

pub async fn post(url: &str, path: &str, auth: Auth<'_>) -> Resp {
    request(url, "POST", path, auth, &Options::default())
        .await
        .unwrap_or_else(|e| panic!("POST {url}{path}: {e}"))
}
