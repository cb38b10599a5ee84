//! A test OIDC issuer on loopback: discovery document, JWKS of an ES256 test key, JWTs
//! minted on demand, and a stand-in for GitHub's runner token endpoint.

#![allow(dead_code)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

pub struct Issuer {
    addr: SocketAddr,
    key: Arc<EcdsaKeyPair>,
    /// Claims the GitHub stand-in puts in the tokens it hands out.
    pub github_claims: Arc<Mutex<Value>>,
    /// What the GitHub stand-in was asked: (authorization header, query).
    pub github_requests: Arc<Mutex<Vec<(String, String)>>>,
}

pub const GITHUB_REQUEST_TOKEN: &str = "runner-request-token-0123456789";
pub const AZURE_ACCESS_TOKEN: &str = "azure-job-access-token-0123456789";

impl Issuer {
    pub fn start() -> Issuer {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let key = Arc::new(
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
                .unwrap(),
        );
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let issuer = Issuer {
            addr,
            key,
            github_claims: Arc::new(Mutex::new(json!({}))),
            github_requests: Arc::new(Mutex::new(Vec::new())),
        };
        let (key, claims, requests) = (
            issuer.key.clone(),
            issuer.github_claims.clone(),
            issuer.github_requests.clone(),
        );
        let url = issuer.url();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let _ = serve(conn, &url, &key, &claims, &requests);
            }
        });
        issuer
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A JWT signed with the issuer's key; `iss` defaults to this issuer, `iat`/`nbf`/`exp`
    /// to now / now / now + 5 minutes.
    pub fn mint(&self, claims: Value) -> String {
        mint(&self.key, &self.url(), claims)
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn mint(key: &EcdsaKeyPair, iss: &str, claims: Value) -> String {
    let mut full =
        json!({ "iss": iss, "iat": now(), "nbf": now() - 5, "exp": now() + 300, "jti": uuid() });
    for (k, v) in claims.as_object().unwrap() {
        full[k] = v.clone();
    }
    let header = B64.encode(json!({ "alg": "ES256", "typ": "JWT", "kid": "test-key" }).to_string());
    let payload = B64.encode(full.to_string());
    let signing_input = format!("{header}.{payload}");
    let sig = key
        .sign(&SystemRandom::new(), signing_input.as_bytes())
        .unwrap();
    format!("{signing_input}.{}", B64.encode(sig.as_ref()))
}

fn uuid() -> String {
    format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

fn serve(
    conn: TcpStream,
    url: &str,
    key: &EcdsaKeyPair,
    claims: &Mutex<Value>,
    requests: &Mutex<Vec<(String, String)>>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut first = String::new();
    reader.read_line(&mut first)?;
    let mut auth = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        if let Some(v) = line
            .strip_prefix("Authorization: ")
            .or_else(|| line.strip_prefix("authorization: "))
        {
            auth = v.trim().to_owned();
        }
    }
    let target = first.split_whitespace().nth(1).unwrap_or("/").to_owned();
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let (status, body) = match path {
        "/.well-known/openid-configuration" => (
            200,
            json!({
                "issuer": url,
                "jwks_uri": format!("{url}/jwks"),
                "id_token_signing_alg_values_supported": ["ES256"],
                "response_types_supported": ["id_token"],
                "subject_types_supported": ["public"],
                "claims_supported": ["sub", "aud", "repository", "ref"],
            }),
        ),
        "/jwks" => {
            let public = key.public_key().as_ref();
            let (x, y) = (&public[1..33], &public[33..65]);
            (
                200,
                json!({ "keys": [{ "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": "test-key", "x": B64.encode(x), "y": B64.encode(y) }] }),
            )
        }
        // Azure Pipelines: POST $(System.OidcRequestUri)?api-version=7.1&serviceConnectionId=<id>
        // with the job's access token, answering {"oidcToken": "<jwt>"}.
        "/azure-oidc" => {
            requests
                .lock()
                .unwrap()
                .push((auth.clone(), query.to_owned()));
            let first_word = first.split_whitespace().next().unwrap_or_default();
            if first_word != "POST" || auth != format!("Bearer {AZURE_ACCESS_TOKEN}") {
                (401, json!({ "message": "bad access token or method" }))
            } else {
                let mut c = claims.lock().unwrap().clone();
                c["aud"] = Value::String("api://AzureADTokenExchange".into());
                (200, json!({ "oidcToken": mint(key, url, c) }))
            }
        }
        "/github-token" => {
            requests
                .lock()
                .unwrap()
                .push((auth.clone(), query.to_owned()));
            if auth != format!("Bearer {GITHUB_REQUEST_TOKEN}") {
                (401, json!({ "message": "bad request token" }))
            } else {
                let audience = url::form_urlencoded::parse(query.as_bytes())
                    .find_map(|(k, v)| (k == "audience").then(|| v.into_owned()))
                    .unwrap_or_default();
                let mut c = claims.lock().unwrap().clone();
                c["aud"] = Value::String(audience);
                (200, json!({ "count": 1, "value": mint(key, url, c) }))
            }
        }
        _ => (404, json!({})),
    };
    let body = body.to_string();
    let mut conn = conn;
    write!(
        conn,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    Ok(())
}
