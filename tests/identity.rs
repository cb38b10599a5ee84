//! A truthful `ok`: only a server that is really Sonar gets it, on every flavor.
//!
//! The real binary against fake servers that answer in Sonar's place: catch-alls (an HTML
//! page, `{}`, plain text, case variants of the content type), a token answer without
//! `valid`, and a TLS-inspecting proxy that terminates TLS with a certificate from a CA the
//! user trusts (`--ca-file`) and answers every request itself. None of them is `ok`, and
//! `--on-unreachable warn` does not export for them; `--no-verify` still does. Also the
//! messages a new user tripped on (issue 11, findings 4 to 6), and the decision-table rules
//! a mutation run showed no test pinned (issue 15): each test asserts the verdict, the exit
//! code or the exported value.

mod common;

use common::connect_proxy::ConnectProxy;
use common::{pairs, scantoken, set};
use serde_json::Value;
use sonar_emulator::{start_blocking, tls::TestPki, EmulatorConfig, FaultRule, Scenario};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Canary tokens: they must never appear in what scantoken prints.
const SQP: &str = "sqp_c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00";
const SOT: &str = "sqco_CANARYidentityCANARYidentityCANARYidentityCANARYidentityCA";

const OFFICIAL_HOSTS: [&str; 5] = [
    "sonarcloud.io",
    "api.sonarcloud.io",
    "sonarqube.us",
    "api.sonarqube.us",
    "sonar.acme.example",
];

// ---------------------------------------------------------------------------------------
// Fake servers

/// One canned HTTP answer.
#[derive(Clone, Debug)]
struct Reply {
    status: u16,
    content_type: Option<String>,
    body: String,
}

fn reply(status: u16, content_type: Option<&str>, body: &str) -> Reply {
    Reply {
        status,
        content_type: content_type.map(str::to_owned),
        body: body.to_owned(),
    }
}

fn json(status: u16, body: &str) -> Reply {
    reply(status, Some("application/json"), body)
}

fn sonar_error(status: u16, msg: &str) -> Reply {
    json(
        status,
        &serde_json::json!({ "errors": [{ "msg": msg }] }).to_string(),
    )
}

const BLOCK_PAGE: &str = "<!DOCTYPE html>\n<html><head><title>Access blocked ::error::x ##vso[task.complete]done</title></head>\n<body><h1>Access blocked by company policy</h1></body></html>";

fn html_page() -> Reply {
    reply(200, Some("text/html; charset=utf-8"), BLOCK_PAGE)
}

/// Variables a case adds to the environment.
type Vars<'a> = &'a [(&'a str, &'a str)];

/// Routes: a path prefix (`*` for any) and its answer; the first match wins.
type Routes = Vec<(&'static str, Reply)>;

/// What Sonar answers on each host for a token that may scan (the shapes docs/sonar-facts.md §2 gives).
fn real_server() -> Routes {
    vec![
        (
            "/api/server/version",
            reply(200, Some("text/plain"), "10.7.0.96327"),
        ),
        (
            "/api/authentication/validate",
            json(200, r#"{"valid":true}"#),
        ),
        (
            "/api/analysis_cache/get",
            sonar_error(404, "No cache for given branch or pull request"),
        ),
    ]
}

fn real_cloud() -> Routes {
    vec![
        (
            "/api/authentication/validate",
            json(200, r#"{"valid":true}"#),
        ),
        (
            "/api/qualityprofiles/search",
            json(200, r#"{"profiles":[]}"#),
        ),
        (
            "/sensor-cache/prepare-read",
            json(200, r#"{"enabled":true,"url":null}"#),
        ),
    ]
}

/// `routes` with the answer for `path` replaced.
fn with(mut routes: Routes, path: &'static str, answer: Reply) -> Routes {
    routes.retain(|(p, _)| *p != path);
    routes.insert(0, (path, answer));
    routes
}

fn everything(answer: Reply) -> Routes {
    vec![("*", answer)]
}

enum Mode {
    Plain,
    /// HTTPS with the test PKI's certificate.
    Tls(Arc<rustls::ServerConfig>),
    /// A TLS-inspecting proxy: accepts CONNECT to any host, then terminates TLS itself with
    /// a certificate from the test CA and answers the requests inside.
    Inspecting(Arc<rustls::ServerConfig>),
}

/// A fake server on loopback answering from its routes; it logs each request line.
struct Fake {
    addr: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
}

impl Fake {
    fn start(routes: Routes, mode: Mode) -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (log2, routes, mode) = (log.clone(), Arc::new(routes), Arc::new(mode));
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let (log, routes, mode) = (log2.clone(), routes.clone(), mode.clone());
                std::thread::spawn(move || handle(conn, &routes, &mode, &log));
            }
        });
        Fake { addr, log }
    }

    fn url(&self, scheme: &str) -> String {
        format!("{scheme}://{}", self.addr)
    }

    fn host(&self) -> String {
        self.addr.to_string()
    }

    fn requests(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

fn handle(mut conn: TcpStream, routes: &Routes, mode: &Mode, log: &Mutex<Vec<String>>) {
    conn.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .ok();
    match mode {
        Mode::Plain => answer(conn, routes, log),
        Mode::Tls(config) => {
            let tls = rustls::ServerConnection::new(config.clone()).unwrap();
            answer(rustls::StreamOwned::new(tls, conn), routes, log);
        }
        Mode::Inspecting(config) => {
            let Some(head) = read_head(&mut conn) else {
                return;
            };
            log.lock()
                .unwrap()
                .push(head.lines().next().unwrap_or_default().to_owned());
            if conn
                .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                .is_err()
            {
                return;
            }
            let tls = rustls::ServerConnection::new(config.clone()).unwrap();
            answer(rustls::StreamOwned::new(tls, conn), routes, log);
        }
    }
}

fn read_head(s: &mut impl Read) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return None,
        }
        if head.len() > 16 * 1024 {
            return None;
        }
    }
    Some(String::from_utf8_lossy(&head).into_owned())
}

/// Answers one request and closes the connection.
fn answer(mut s: impl Read + Write, routes: &Routes, log: &Mutex<Vec<String>>) {
    let Some(head) = read_head(&mut s) else {
        return;
    };
    let first = head.lines().next().unwrap_or_default().to_owned();
    log.lock().unwrap().push(first.clone());
    let target = first.split_whitespace().nth(1).unwrap_or("/");
    // A forward proxy is asked for the absolute URL.
    let target = match target.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => target,
    };
    let path = target.split('?').next().unwrap_or("/");
    let found = routes
        .iter()
        .find(|(p, _)| *p == "*" || path.starts_with(p))
        .map(|(_, r)| r.clone())
        .unwrap_or_else(|| sonar_error(404, &format!("Unknown url : {path}")));
    let mut out = format!("HTTP/1.1 {} X\r\n", found.status);
    if let Some(ct) = &found.content_type {
        out.push_str(&format!("Content-Type: {ct}\r\n"));
    }
    out.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n{}",
        found.body.len(),
        found.body
    ));
    let _ = s.write_all(out.as_bytes());
    let _ = s.flush();
}

/// The test PKI: a CA the user trusts, and a certificate for the official hosts.
struct Pki {
    ca_file: tempfile::NamedTempFile,
    config: Arc<rustls::ServerConfig>,
}

fn pki() -> Pki {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let pki = TestPki::generate(&OFFICIAL_HOSTS).unwrap();
    let mut ca_file = tempfile::NamedTempFile::new().unwrap();
    ca_file.write_all(pki.ca_pem.as_bytes()).unwrap();
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(pki.server_cert_pem.as_bytes())
            .collect::<Result<_, _>>()
            .unwrap();
    let key = PrivateKeyDer::from_pem_slice(pki.server_key_pem.as_bytes()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    Pki {
        ca_file,
        config: Arc::new(config),
    }
}

// ---------------------------------------------------------------------------------------
// Running scantoken

struct Run {
    code: i32,
    report: Value,
    stderr: String,
}

fn verify(env: &[(String, String)]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) =
        scantoken(dir.path(), env, &["verify", "--json", "--retries", "0"]);
    no_canary(&stdout, &stderr);
    let report: Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"));
    Run {
        code,
        report,
        stderr,
    }
}

/// `export --format shell` with extra arguments: exit code and stdout.
fn export(env: &[(String, String)], extra: &[&str]) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        &["export", "--format", "shell", "--retries", "0"][..],
        extra,
    ]
    .concat();
    let (code, stdout, stderr) = scantoken(dir.path(), env, &args);
    assert!(!stderr.contains(SQP) && !stderr.contains(SOT), "{stderr}");
    (code, stdout, stderr)
}

fn no_canary(stdout: &str, stderr: &str) {
    for text in [stdout, stderr] {
        assert!(
            !text.contains(SQP) && !text.contains(SOT),
            "the token leaked:\n{text}"
        );
    }
}

fn cause(run: &Run) -> &str {
    run.report["cause"].as_str().unwrap_or_default()
}

fn next(run: &Run) -> &str {
    run.report["next_step"].as_str().unwrap_or_default()
}

fn probe_message(run: &Run, role: &str) -> String {
    run.report["probes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["role"] == role)
        .map(|p| p["message"].as_str().unwrap_or_default().to_owned())
        .unwrap_or_default()
}

/// A not-sonar verdict: exit 3, the host and what came back named, the evidence kept, and
/// nothing exported even with `--on-unreachable warn`.
fn assert_not_sonar(what: &str, env: &[(String, String)], host: &str, path: &str) {
    let run = verify(env);
    assert_eq!(
        run.report["verdict"], "not-sonar",
        "{what}: {:#}\n{}",
        run.report, run.stderr
    );
    assert_eq!(run.code, 3, "{what}");
    assert_eq!(run.report["exit_code"], 3, "{what}");
    let cause = cause(&run);
    assert!(
        cause.contains(&format!("{host} answered GET {path} with")),
        "{what}: the cause names the host and the call: {cause}"
    );
    assert!(cause.contains("proxy or portal page"), "{what}: {cause}");
    let evidence = run.report["probes"].to_string();
    assert!(
        evidence.contains("not Sonar's answer"),
        "{what}: {evidence}"
    );
    for on_unreachable in [&["--on-unreachable", "warn"][..], &[][..]] {
        let (code, stdout, stderr) = export(env, on_unreachable);
        assert_eq!(code, 3, "{what} {on_unreachable:?}: {stderr}");
        assert!(
            !stdout.contains("SONAR_TOKEN"),
            "{what} {on_unreachable:?}: exported: {stdout}"
        );
        assert!(stderr.contains("not-sonar"), "{what}: {stderr}");
    }
    // Only --no-verify exports without proof.
    let (code, stdout, _) = export(env, &["--no-verify"]);
    assert_eq!(code, 0, "{what}");
    assert!(stdout.contains("export SONAR_TOKEN="), "{what}: {stdout}");
}

fn server_env(url: &str) -> Vec<(String, String)> {
    pairs(&[
        ("SONAR_HOST_URL", url),
        ("SONAR_TOKEN", SQP),
        ("SCANTOKEN_PROJECT_KEY", "acme_payments"),
    ])
}

fn custom_cloud_env(web: &str, api: &str) -> Vec<(String, String)> {
    pairs(&[
        ("SONAR_SCANNER_SONARCLOUD_URL", web),
        ("SONAR_SCANNER_API_BASE_URL", api),
        ("SONAR_TOKEN", SOT),
        ("SONAR_ORGANIZATION", "acme"),
        ("SCANTOKEN_PROJECT_KEY", "acme_payments"),
    ])
}

// ---------------------------------------------------------------------------------------
// Issue 9: only a Sonar gets ok

#[test]
fn a_server_that_answers_like_sonar_is_ok_whatever_the_case_of_its_content_types() {
    let routes = vec![
        (
            "/api/server/version",
            reply(200, Some("Text/Plain; Charset=UTF-8"), "10.7.0.96327"),
        ),
        (
            "/api/authentication/validate",
            reply(
                200,
                Some("Application/JSON;charset=UTF-8"),
                r#"{"valid":true}"#,
            ),
        ),
        (
            "/api/analysis_cache/get",
            reply(
                404,
                Some("APPLICATION/JSON"),
                r#"{"errors":[{"msg":"No cache for given branch or pull request"}]}"#,
            ),
        ),
    ];
    let fake = Fake::start(routes, Mode::Plain);
    let run = verify(&server_env(&fake.url("http")));
    assert_eq!(run.report["verdict"], "ok", "{:#}", run.report);
    assert_eq!(run.code, 0);
}

#[test]
fn catch_all_servers_are_never_ok_on_server() {
    let cases: Vec<(&str, Routes)> = vec![
        ("HTML page", everything(html_page())),
        ("empty JSON", everything(json(200, "{}"))),
        (
            "plain text",
            everything(reply(200, Some("text/plain"), "OK")),
        ),
        (
            "Text/HTML page",
            everything(reply(200, Some("Text/HTML"), BLOCK_PAGE)),
        ),
        // A web server without Sonar at this path (a wrong context path), even one that
        // answers with Sonar's error JSON: the version call is public and always 200.
        (
            "version not found",
            with(
                real_server(),
                "/api/server/version",
                sonar_error(404, "Unknown url : /api/server/version"),
            ),
        ),
        // Only the content type tells this one: the check ignores case.
        (
            "Text/HTML version",
            with(
                real_server(),
                "/api/server/version",
                reply(200, Some("Text/HTML"), "10.7.0.96327"),
            ),
        ),
    ];
    for (what, routes) in cases {
        let fake = Fake::start(routes, Mode::Plain);
        assert_not_sonar(
            what,
            &server_env(&fake.url("http")),
            &fake.host(),
            "/api/server/version",
        );
    }
    // A Sonar everywhere but the scan probe, where a page answers 200: the analysis cache
    // is binary, so a page is not it, though its body is never read.
    let fake = Fake::start(
        with(real_server(), "/api/analysis_cache/get", html_page()),
        Mode::Plain,
    );
    assert_not_sonar(
        "a page for the cache",
        &server_env(&fake.url("http")),
        &fake.host(),
        "/api/analysis_cache/get",
    );
}

#[test]
fn a_token_answer_without_a_boolean_valid_is_not_sonar() {
    for (what, body) in [
        ("no valid", r#"{"active":true}"#),
        ("empty", "{}"),
        ("valid as text", r#"{"valid":"true"}"#),
    ] {
        let fake = Fake::start(
            with(
                real_server(),
                "/api/authentication/validate",
                json(200, body),
            ),
            Mode::Plain,
        );
        assert_not_sonar(
            what,
            &server_env(&fake.url("http")),
            &fake.host(),
            "/api/authentication/validate",
        );
        let web = Fake::start(
            with(
                real_cloud(),
                "/api/authentication/validate",
                json(200, body),
            ),
            Mode::Plain,
        );
        let api = Fake::start(real_cloud(), Mode::Plain);
        assert_not_sonar(
            &format!("{what}, custom Cloud"),
            &custom_cloud_env(&web.url("http"), &api.url("http")),
            &web.host(),
            "/api/authentication/validate",
        );
    }
}

/// Errors too: a 4xx is Sonar's only with Sonar's error JSON (or the empty 401).
#[test]
fn an_error_without_sonars_shape_is_not_sonar() {
    let fake = Fake::start(
        with(
            real_server(),
            "/api/analysis_cache/get",
            json(404, r#"{"message":"Not Found"}"#),
        ),
        Mode::Plain,
    );
    assert_not_sonar(
        "a gateway's JSON 404",
        &server_env(&fake.url("http")),
        &fake.host(),
        "/api/analysis_cache/get",
    );
    let web = Fake::start(
        with(
            real_cloud(),
            "/api/qualityprofiles/search",
            reply(404, Some("text/html"), "<h1>Not Found</h1>"),
        ),
        Mode::Plain,
    );
    let api = Fake::start(real_cloud(), Mode::Plain);
    assert_not_sonar(
        "an HTML 404",
        &custom_cloud_env(&web.url("http"), &api.url("http")),
        &web.host(),
        "/api/qualityprofiles/search",
    );
    // Sonar's own shapes for the same calls are read as Sonar's.
    let fake = Fake::start(
        with(
            real_server(),
            "/api/analysis_cache/get",
            reply(401, None, ""),
        ),
        Mode::Plain,
    );
    let run = verify(&server_env(&fake.url("http")));
    assert_eq!(run.report["verdict"], "token-rejected", "{:#}", run.report);
}

#[test]
fn custom_cloud_urls_need_sonar_on_both_hosts() {
    // The real shapes on both hosts: ok, so the cases below fail for their one difference.
    let web = Fake::start(real_cloud(), Mode::Plain);
    let api = Fake::start(real_cloud(), Mode::Plain);
    let run = verify(&custom_cloud_env(&web.url("http"), &api.url("http")));
    assert_eq!(run.report["verdict"], "ok", "{:#}", run.report);

    let pages = Fake::start(everything(html_page()), Mode::Plain);
    assert_not_sonar(
        "HTML on both hosts",
        &custom_cloud_env(&pages.url("http"), &pages.url("http")),
        &pages.host(),
        "/api/authentication/validate",
    );
    for (what, answer) in [
        ("HTML", html_page()),
        ("plain text", reply(200, Some("text/plain"), "OK")),
        ("Text/HTML", reply(200, Some("Text/HTML"), "{}")),
    ] {
        let api = Fake::start(everything(answer), Mode::Plain);
        assert_not_sonar(
            &format!("{what} on the API host"),
            &custom_cloud_env(&web.url("http"), &api.url("http")),
            &api.host(),
            "/sensor-cache/prepare-read",
        );
    }
    let web = Fake::start(
        with(real_cloud(), "/api/qualityprofiles/search", json(200, "{}")),
        Mode::Plain,
    );
    assert_not_sonar(
        "{} for the project",
        &custom_cloud_env(&web.url("http"), &api.url("http")),
        &web.host(),
        "/api/qualityprofiles/search",
    );
}

/// SonarQube Cloud at its official URLs, reached through a CONNECT proxy that tunnels to a
/// fake server holding a certificate the user trusts.
#[test]
fn cloud_global_at_its_official_url_needs_sonar_answers() {
    let pki = pki();
    for (what, routes, want) in [
        ("real shapes", real_cloud(), "ok"),
        ("HTML page", everything(html_page()), "not-sonar"),
        ("empty JSON", everything(json(200, "{}")), "not-sonar"),
    ] {
        let fake = Fake::start(routes, Mode::Tls(pki.config.clone()));
        let proxy = ConnectProxy::start(
            HashMap::from([
                ("sonarcloud.io:443".to_owned(), fake.addr),
                ("api.sonarcloud.io:443".to_owned(), fake.addr),
            ]),
            false,
        );
        let env = pairs(&[
            ("HTTPS_PROXY", &proxy.url()),
            ("SCANTOKEN_CA_FILE", pki.ca_file.path().to_str().unwrap()),
            ("SONAR_TOKEN", SOT),
            ("SONAR_ORGANIZATION", "acme"),
            ("SCANTOKEN_PROJECT_KEY", "acme_payments"),
        ]);
        if want == "ok" {
            let run = verify(&env);
            assert_eq!(run.report["verdict"], "ok", "{what}: {:#}", run.report);
        } else {
            assert_not_sonar(what, &env, "sonarcloud.io", "/api/authentication/validate");
        }
        assert!(
            proxy
                .requests()
                .iter()
                .any(|r| r == "CONNECT sonarcloud.io:443"),
            "{what}: {:?}",
            proxy.requests()
        );
    }
}

/// A company proxy that inspects TLS: the user trusts its CA, so every TLS handshake
/// succeeds, and it answers every request with its own 200 page. Never ok, on any flavor,
/// and `--on-unreachable warn` does not export.
#[test]
fn through_a_tls_inspecting_proxy_nothing_is_ok() {
    let pki = pki();
    let proxy = Fake::start(
        everything(html_page()),
        Mode::Inspecting(pki.config.clone()),
    );
    let base = pairs(&[
        ("HTTPS_PROXY", &proxy.url("http")),
        ("SCANTOKEN_CA_FILE", pki.ca_file.path().to_str().unwrap()),
        ("SCANTOKEN_PROJECT_KEY", "acme_payments"),
    ]);
    let flavors: [(&str, Vars, &str, &str); 3] = [
        (
            "Cloud global",
            &[("SONAR_TOKEN", SOT), ("SONAR_ORGANIZATION", "acme")],
            "sonarcloud.io",
            "/api/authentication/validate",
        ),
        (
            "Cloud US",
            &[
                ("SONAR_TOKEN", SOT),
                ("SONAR_ORGANIZATION", "acme"),
                ("SONAR_REGION", "us"),
            ],
            "sonarqube.us",
            "/api/authentication/validate",
        ),
        (
            "Server",
            &[
                ("SONAR_TOKEN", SQP),
                ("SONAR_HOST_URL", "https://sonar.acme.example"),
            ],
            "sonar.acme.example",
            "/api/server/version",
        ),
    ];
    for (what, vars, host, path) in flavors {
        let mut env = base.clone();
        for (k, v) in vars {
            set(&mut env, k, v);
        }
        assert_not_sonar(what, &env, host, path);
        let run = verify(&env);
        assert!(
            next(&run).contains("proxy"),
            "{what}: the next step names the proxy: {}",
            next(&run)
        );
        // The block page's text is evidence, made inert.
        assert!(
            cause(&run).contains("Access blocked"),
            "{what}: {}",
            cause(&run)
        );
    }
    let tunnels = proxy.requests();
    for host in [
        "sonarcloud.io",
        "api.sonarcloud.io",
        "sonarqube.us",
        "sonar.acme.example",
    ] {
        assert!(
            tunnels
                .iter()
                .any(|t| t.starts_with(&format!("CONNECT {host}:443"))),
            "{host}: {tunnels:?}"
        );
    }
}

#[test]
fn the_text_report_shows_the_evidence_inert() {
    let fake = Fake::start(everything(html_page()), Mode::Plain);
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = scantoken(
        dir.path(),
        &server_env(&fake.url("http")),
        &["verify", "--retries", "0"],
    );
    no_canary(&stdout, &stderr);
    assert_eq!(code, 3, "{stdout}{stderr}");
    assert!(stdout.contains("Verdict: not-sonar"), "{stdout}");
    assert!(stdout.contains("text/html"), "{stdout}");
    assert!(stdout.contains("Access blocked"), "{stdout}");
    let (_, json, _) = scantoken(
        dir.path(),
        &server_env(&fake.url("http")),
        &["verify", "--json", "--retries", "0"],
    );
    assert!(json.contains("Access blocked"), "{json}");
    for line in stdout.lines().chain(json.lines()) {
        assert!(
            !line.contains("##vso[") && !line.contains("::error::"),
            "{line}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Issue 11, findings 4 to 6

fn cloud_emulator() -> sonar_emulator::BlockingEmulator {
    start_blocking(EmulatorConfig::new(
        Scenario::from_yaml_str(&format!(
            r#"
flavor: cloud
organizations: [acme]
projects: [{{key: acme_payments, organization: acme}}, {{key: acme_docs, organization: acme}}]
tokens: [{{value: "{SOT}", kind: sot, organization: acme, projects: [acme_payments]}}]
"#
        ))
        .unwrap(),
    ))
    .unwrap()
}

fn server_emulator() -> sonar_emulator::BlockingEmulator {
    server_emulator_with(vec![])
}

fn server_emulator_with(faults: Vec<FaultRule>) -> sonar_emulator::BlockingEmulator {
    start_blocking(
        EmulatorConfig::new(
            Scenario::from_yaml_str(&format!(
                r#"
flavor: server
projects: [{{key: acme_payments}}, {{key: acme_docs}}]
tokens:
  - {{value: "{SQP}", kind: project-analysis, projects: [acme_payments]}}
  - {{value: "squ_3333333333333333333333333333333333333333", kind: user, scan: all, state: expired}}
"#
            ))
            .unwrap(),
        )
        .with_faults(faults),
    )
    .unwrap()
}

/// Finding 4: a Cloud URL given as the host URL says so, and how to point scantoken at it.
#[test]
fn a_cloud_url_as_the_host_url_says_it_answers_like_cloud() {
    let emulator = cloud_emulator();
    let mut env = custom_cloud_env(&emulator.web_url(), &emulator.api_url());
    env.retain(|(k, _)| !k.starts_with("SONAR_SCANNER_"));
    set(&mut env, "SONAR_HOST_URL", &emulator.web_url());
    let run = verify(&env);
    assert_eq!(run.report["verdict"], "not-sonar", "{:#}", run.report);
    assert_eq!(run.code, 3);
    let host = emulator.web_url().trim_start_matches("http://").to_owned();
    assert!(
        cause(&run).contains(&format!(
            "{host} answers like SonarQube Cloud, not SonarQube Server"
        )),
        "{}",
        cause(&run)
    );
    for name in ["SONAR_SCANNER_SONARCLOUD_URL", "SONAR_SCANNER_API_BASE_URL"] {
        assert!(next(&run).contains(name), "{}", next(&run));
    }
    let (code, stdout, _) = export(&env, &["--on-unreachable", "warn"]);
    assert_eq!(code, 3);
    assert!(!stdout.contains("SONAR_TOKEN"), "{stdout}");
    // The advice works: the URL pair instead of the host URL.
    let run = verify(&custom_cloud_env(&emulator.web_url(), &emulator.api_url()));
    assert_eq!(run.report["verdict"], "ok", "{:#}", run.report);
}

/// Finding 5: https:// to a port that speaks plain http.
#[test]
fn https_to_a_plain_http_port_says_the_port_does_not_speak_tls() {
    let emulator = server_emulator();
    let https = emulator.web_url().replace("http://", "https://");
    let run = verify(&server_env(&https));
    assert_eq!(run.report["verdict"], "tls-untrusted", "{:#}", run.report);
    assert_eq!(run.code, 3);
    assert!(
        cause(&run).contains("does not speak TLS"),
        "{}",
        cause(&run)
    );
    assert!(
        next(&run).contains(&format!("http:// URL ({})", emulator.web_url())),
        "{}",
        next(&run)
    );
}

/// Finding 6: an unreachable host's shared cause is printed once, the probes on one line.
#[test]
fn an_unreachable_host_prints_its_cause_once() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = scantoken(
        dir.path(),
        &server_env(&format!("http://127.0.0.1:{port}")),
        &["verify", "--retries", "1"],
    );
    no_canary(&stdout, &stderr);
    assert_eq!(code, 3);
    let verdict: Vec<&str> = stdout
        .lines()
        .skip_while(|l| !l.starts_with("Verdict:"))
        .collect();
    assert_eq!(verdict[0], "Verdict: unreachable", "{stdout}");
    assert!(
        verdict[1].contains(&format!(
            "127.0.0.1:{port} could not be reached after 2 attempt(s)"
        )),
        "{stdout}"
    );
    let refused = verdict
        .iter()
        .filter(|l| l.to_ascii_lowercase().contains("refused"))
        .count();
    assert_eq!(refused, 1, "the reason once:\n{stdout}");
    let probes: Vec<&&str> = verdict
        .iter()
        .filter(|l| l.trim_start().starts_with("probe"))
        .collect();
    assert_eq!(probes.len(), 1, "one probe line:\n{stdout}");
    for path in [
        "/api/server/version",
        "/api/authentication/validate",
        "/api/analysis_cache/get",
    ] {
        assert!(probes[0].contains(path), "{stdout}");
    }
    assert!(probes[0].contains("the cause above"), "{stdout}");
    // The cause is the reason, not the request URL repeated.
    assert!(!verdict[1].contains("error sending request"), "{stdout}");
}

// ---------------------------------------------------------------------------------------
// Issue 15: the decision-table rules a mutation run showed no test pinned

/// `{"valid": false}` rejects the token when the token probe says it, and only then.
#[test]
fn valid_false_rejects_only_from_the_token_probe() {
    let fake = Fake::start(
        with(
            real_server(),
            "/api/authentication/validate",
            json(200, r#"{"valid":false}"#),
        ),
        Mode::Plain,
    );
    let run = verify(&server_env(&fake.url("http")));
    assert_eq!(run.report["verdict"], "token-rejected", "{:#}", run.report);
    assert_eq!(run.code, 1);
    assert_eq!(probe_message(&run, "token"), "valid: false");

    let web = Fake::start(
        with(
            real_cloud(),
            "/api/qualityprofiles/search",
            json(200, r#"{"profiles":[],"valid":false}"#),
        ),
        Mode::Plain,
    );
    let api = Fake::start(real_cloud(), Mode::Plain);
    let run = verify(&custom_cloud_env(&web.url("http"), &api.url("http")));
    assert_eq!(run.report["verdict"], "ok", "{:#}", run.report);
}

/// `--on-unreachable warn` exports when the server could not be asked, never when it said
/// no (or something else answered).
#[test]
fn on_unreachable_warn_exports_only_for_reach_failures() {
    let emulator = server_emulator();
    let env = server_env(&emulator.web_url());
    let cases: [(&str, Vars, i32); 2] = [
        (
            "token-rejected",
            &[(
                "SONAR_TOKEN",
                "squ_3333333333333333333333333333333333333333",
            )],
            1,
        ),
        (
            "no-scan-permission",
            &[("SCANTOKEN_PROJECT_KEY", "acme_docs")],
            1,
        ),
    ];
    for (verdict, vars, exit) in cases {
        let mut env = env.clone();
        for (k, v) in vars {
            set(&mut env, k, v);
        }
        let (code, stdout, stderr) = export(&env, &["--on-unreachable", "warn"]);
        assert_eq!(code, exit, "{verdict}: {stderr}");
        assert!(stderr.contains(verdict), "{stderr}");
        assert!(!stdout.contains("SONAR_TOKEN"), "{verdict}: {stdout}");
    }
    let failing = server_emulator_with(vec![FaultRule::status("*", 503, None, None)]);
    let (code, stdout, stderr) = export(
        &server_env(&failing.web_url()),
        &["--on-unreachable", "warn"],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("server-error"), "{stderr}");
    assert!(stdout.contains("export SONAR_TOKEN="), "{stdout}");
}

/// Sonar's organization and project messages are read exactly: a project message that
/// mentions the organization is about the project; a 404 that is not about a project is not
/// project-not-found.
#[test]
fn organization_and_project_messages_are_read_exactly() {
    let web = Fake::start(real_cloud(), Mode::Plain);
    let api = Fake::start(
        with(
            real_cloud(),
            "/sensor-cache/prepare-read",
            sonar_error(
                404,
                "Project 'acme_payments' not found in organization 'acme'",
            ),
        ),
        Mode::Plain,
    );
    let run = verify(&custom_cloud_env(&web.url("http"), &api.url("http")));
    assert_eq!(
        run.report["verdict"], "project-not-found",
        "{:#}",
        run.report
    );
    assert_eq!(run.code, 1);

    let api = Fake::start(
        with(
            real_cloud(),
            "/sensor-cache/prepare-read",
            sonar_error(403, "Insufficient privileges in organization 'acme'"),
        ),
        Mode::Plain,
    );
    let web = Fake::start(
        with(
            real_cloud(),
            "/api/qualityprofiles/search",
            sonar_error(403, "Insufficient privileges in organization 'acme'"),
        ),
        Mode::Plain,
    );
    let run = verify(&custom_cloud_env(&web.url("http"), &api.url("http")));
    assert_eq!(
        run.report["verdict"], "no-scan-permission",
        "{:#}",
        run.report
    );

    let fake = Fake::start(
        with(
            real_server(),
            "/api/analysis_cache/get",
            sonar_error(404, "Unknown url : /api/analysis_cache/get"),
        ),
        Mode::Plain,
    );
    let run = verify(&server_env(&fake.url("http")));
    assert_eq!(run.report["verdict"], "not-sonar", "{:#}", run.report);
}

/// Token map expiry dates in February are dates (the warning shows them), in a common year
/// and on the 29th of a leap year.
#[test]
fn february_expiry_dates_are_dates() {
    let today = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 86_400;
    let year = 1970 + (today as i64 * 4 + 2) / 1461 + 2; // always ahead, within 5000 days
    let common = (year..).find(|y| y % 4 != 0).unwrap();
    let leap = (year..).find(|y| y % 4 == 0 && y % 100 != 0).unwrap();
    for date in [format!("{common}-02-15"), format!("{leap}-02-29")] {
        let map = format!(
            "rules:\n  - projects: [acme_payments]\n    token-env: SONAR_TOKEN_PAYMENTS\n    expires: {date}\n"
        );
        let env = pairs(&[
            ("SONAR_HOST_URL", "https://sonar.acme.example"),
            ("SONAR_TOKEN_PAYMENTS", SQP),
            ("SCANTOKEN_TOKEN_MAP", &map),
            ("SCANTOKEN_PROJECT_KEY", "acme_payments"),
        ]);
        let (code, stdout, stderr) =
            export(&env, &["--no-verify", "--expiry-warning-days", "5000"]);
        assert_eq!(code, 0, "{date}: {stderr}");
        assert!(stdout.contains("export SONAR_TOKEN="), "{date}");
        assert!(
            stderr.contains(&format!("expires on {date}")),
            "{date}: {stderr}"
        );
    }
}

/// Plain http goes only to loopback: `localhost` and `*.localhost` are loopback names
/// (RFC 6761), lookalikes are not.
#[test]
fn plain_http_to_localhost_names_only() {
    let emulator = server_emulator();
    let port = emulator.web_url().rsplit(':').next().unwrap().to_owned();
    let run = verify(&server_env(&format!("http://localhost:{port}")));
    assert_eq!(run.report["verdict"], "ok", "{:#}", run.report);

    // sonar.localhost reached through a forward proxy: the proxy would read the token in
    // clear, and a `.localhost` name is this machine only if the resolver says so. Refused
    // before anything is sent (the rule for which URLs may carry a secret, src/network.rs).
    let forward = Fake::start(real_server(), Mode::Plain);
    let mut env = server_env("http://sonar.localhost:9000");
    set(&mut env, "HTTP_PROXY", &forward.url("http"));
    let run = verify(&env);
    assert_eq!(run.report["verdict"], "insecure-host", "{:#}", run.report);
    assert_eq!(run.code, 2);
    assert!(forward.requests().is_empty(), "{:?}", forward.requests());

    for host in ["http://localhost.example.com", "http://notlocalhost:9000"] {
        let run = verify(&server_env(host));
        assert_eq!(run.report["verdict"], "insecure-host", "{host}");
        assert_eq!(run.code, 2, "{host}");
    }
}

/// The evidence names each probe's answer and the host that gave it.
#[test]
fn the_evidence_shows_each_answer_and_host() {
    let emulator = server_emulator();
    let host = emulator.web_url().trim_start_matches("http://").to_owned();
    let run = verify(&server_env(&emulator.web_url()));
    assert_eq!(run.report["verdict"], "ok");
    assert_eq!(probe_message(&run, "server"), "10.7.0.96327");
    assert_eq!(probe_message(&run, "token"), "valid: true");
    assert_eq!(
        probe_message(&run, "scan"),
        "No cache for given branch or pull request"
    );
    let mut env = server_env(&emulator.web_url());
    set(&mut env, "SCANTOKEN_PROJECT_KEY", "acme_docs");
    let run = verify(&env);
    assert_eq!(run.report["verdict"], "no-scan-permission");
    assert!(
        cause(&run).contains(&format!("({host} answered 403 Insufficient privileges)")),
        "{}",
        cause(&run)
    );

    let cloud = cloud_emulator();
    let run = verify(&custom_cloud_env(&cloud.web_url(), &cloud.api_url()));
    assert_eq!(run.report["verdict"], "ok");
    assert_eq!(probe_message(&run, "scan"), "scan permission confirmed");

    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let run = verify(&server_env(&format!("http://127.0.0.1:{closed}")));
    assert!(
        cause(&run).starts_with(&format!("127.0.0.1:{closed} could not be reached")),
        "{}",
        cause(&run)
    );
}

/// The verdict is documented where a user looks: `--help` and the README's verdict table.
#[test]
fn not_sonar_is_documented_with_its_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    for command in ["verify", "export"] {
        let (code, stdout, _) = scantoken(dir.path(), &[], &[command, "--help"]);
        assert_eq!(code, 0);
        let line = stdout
            .lines()
            .find(|l| l.trim_start().starts_with("3 "))
            .unwrap_or_default();
        assert!(line.contains("not Sonar (not-sonar"), "{command}: {stdout}");
    }
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let row = readme
        .lines()
        .find(|l| l.starts_with("| `not-sonar` |"))
        .expect("a not-sonar row in the README's verdict table");
    assert!(row.trim_end().ends_with("| 3; `--on-unreachable warn` does not export it (only `--no-verify` exports without proof) |"), "{row}");
}

/// What each verdict says depends on the token: a scoped organization token refused a
/// project is told that it covers only its chosen projects; on Server, a project that does
/// not exist may be created by a first scan only with a global analysis or user token.
#[test]
fn the_advice_follows_the_kind_of_token() {
    const SOT_SENTENCE: &str = "A scoped organization token covers only the projects chosen";
    let web = Fake::start(real_cloud(), Mode::Plain);
    let api = Fake::start(
        with(
            real_cloud(),
            "/sensor-cache/prepare-read",
            sonar_error(403, "Insufficient privileges"),
        ),
        Mode::Plain,
    );
    let run = verify(&custom_cloud_env(&web.url("http"), &api.url("http")));
    assert_eq!(
        run.report["verdict"], "no-scan-permission",
        "{:#}",
        run.report
    );
    assert!(cause(&run).contains(SOT_SENTENCE), "{}", cause(&run));

    let server = server_emulator();
    let mut env = server_env(&server.web_url());
    set(&mut env, "SCANTOKEN_PROJECT_KEY", "acme_docs");
    let run = verify(&env);
    assert_eq!(
        run.report["verdict"], "no-scan-permission",
        "{:#}",
        run.report
    );
    assert!(!cause(&run).contains(SOT_SENTENCE), "{}", cause(&run));

    let fake = Fake::start(
        with(
            real_server(),
            "/api/analysis_cache/get",
            sonar_error(404, "Project 'acme_payments' not found"),
        ),
        Mode::Plain,
    );
    let global = "sqa_0123456789abcdef0123456789abcdef01234567";
    let user = "squ_0123456789abcdef0123456789abcdef01234567";
    for (token, creates) in [(global, true), (user, true), (SQP, false)] {
        let mut env = server_env(&fake.url("http"));
        set(&mut env, "SONAR_TOKEN", token);
        let run = verify(&env);
        assert_eq!(
            run.report["verdict"], "project-not-found",
            "{:#}",
            run.report
        );
        assert!(!run.report.to_string().contains(token) && !run.stderr.contains(token));
        assert_eq!(
            next(&run)
                .contains("only when the token's owner also has the Create Projects permission"),
            creates,
            "{token}: {}",
            next(&run)
        );
        assert_eq!(
            next(&run).contains("a scan-only token cannot create projects"),
            !creates,
            "{token}: {}",
            next(&run)
        );
    }
}

/// A 404 from the scan call that is neither about a project nor an unknown URL is an
/// unexpected answer, shown as it came: not a sign of the other Sonar.
#[test]
fn an_unexpected_404_from_the_scan_call_is_shown_as_unexpected() {
    let fake = Fake::start(
        with(
            real_server(),
            "/api/analysis_cache/get",
            sonar_error(404, "Component not found"),
        ),
        Mode::Plain,
    );
    let run = verify(&server_env(&fake.url("http")));
    assert_eq!(run.report["verdict"], "server-error", "{:#}", run.report);
    assert!(
        cause(&run).contains("unexpected answer to the scan probe: 404 Component not found"),
        "{}",
        cause(&run)
    );
}

/// The evidence of each probe is its own: only the scan probe confirms the scan, and an
/// empty answer is named as empty.
#[test]
fn each_probe_shows_its_own_answer_and_an_empty_body_is_named() {
    let cloud = cloud_emulator();
    let run = verify(&custom_cloud_env(&cloud.web_url(), &cloud.api_url()));
    assert_eq!(run.report["verdict"], "ok");
    for probe in run.report["probes"].as_array().unwrap() {
        if probe["role"] != "scan" {
            assert_ne!(probe["message"], "scan permission confirmed", "{probe}");
        }
    }

    let fake = Fake::start(everything(reply(200, Some("text/html"), "")), Mode::Plain);
    let run = verify(&server_env(&fake.url("http")));
    assert_eq!(run.report["verdict"], "not-sonar", "{:#}", run.report);
    assert!(
        run.report["probes"]
            .to_string()
            .contains("text/html, empty body"),
        "{:#}",
        run.report["probes"]
    );
}

/// A not-sonar cause says what Sonar would have answered instead, so the user can compare.
#[test]
fn a_not_sonar_cause_says_what_sonar_would_have_sent() {
    let fake = Fake::start(everything(html_page()), Mode::Plain);
    let run = verify(&server_env(&fake.url("http")));
    assert_eq!(run.report["verdict"], "not-sonar", "{:#}", run.report);
    assert!(
        cause(&run).contains(
            "which is not SonarQube Server: Sonar answers 200 with a version number as plain text"
        ),
        "{}",
        cause(&run)
    );

    let web = Fake::start(
        with(
            real_cloud(),
            "/api/authentication/validate",
            json(200, "{}"),
        ),
        Mode::Plain,
    );
    let api = Fake::start(real_cloud(), Mode::Plain);
    let run = verify(&custom_cloud_env(&web.url("http"), &api.url("http")));
    assert_eq!(run.report["verdict"], "not-sonar", "{:#}", run.report);
    assert!(
        cause(&run).contains(r#"Sonar answers 200 with JSON with a boolean "valid""#),
        "{}",
        cause(&run)
    );
}
