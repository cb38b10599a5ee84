//! The emulator over real connections: Server and Cloud answers, both auth schemes, the
//! expiry header, faults, TLS with the test CA, HTTP/2, connection ids and the log.

mod support;

use sonar_emulator::{
    fingerprint, start, EmulatorConfig, FaultRule, ListenerKind, LoggedRequest, Scenario, TestPki,
};
use std::time::{Duration, Instant};
use support::{get, post, request, Auth, Options};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SQP: &str = "sqp_0123abcd0123abcd0123abcd0123abcd0123abcd";
const SQA: &str = "sqa_aaaa0000aaaa0000aaaa0000aaaa0000aaaa0000";
const SQU_BROWSE: &str = "squ_5555bbbb5555bbbb5555bbbb5555bbbb5555bbbb";
const SQU_EXPIRED: &str = "squ_9999dddd9999dddd9999dddd9999dddd9999dddd";
const SOT: &str = "sqco_PAYMENTSpaymentsPAYMENTSpaymentsPAYMENTSpaymentsPAYMENTSpay";
const SOT_REVOKED: &str = "sqco_REVOKEDrevokedREVOKEDrevokedREVOKEDrevokedREVOKEDrevokedREV";

fn server() -> Scenario {
    Scenario::from_yaml_str(&format!(
        r#"
flavor: server
projects:
  - {{key: pay}}
  - {{key: cached, cache: true}}
tokens:
  - {{value: "{SQP}", kind: project-analysis, projects: [pay, cached], expires: "2030-01-02"}}
  - {{value: "{SQA}", kind: global-analysis}}
  - {{value: "{SQU_BROWSE}", kind: user, browse: all}}
  - {{value: "{SQU_EXPIRED}", kind: user, scan: all, state: expired}}
"#
    ))
    .unwrap()
}

fn cloud() -> Scenario {
    Scenario::from_yaml_str(&format!(
        r#"
flavor: cloud
region: us
organizations: [acme, other]
projects:
  - {{key: pay, organization: acme, cache: true}}
  - {{key: docs, organization: acme, visibility: public}}
tokens:
  - {{value: "{SOT}", kind: sot, organization: acme, projects: [pay]}}
  - {{value: "{SOT_REVOKED}", kind: sot, organization: acme, projects: all, state: revoked}}
"#
    ))
    .unwrap()
}

const CACHE: &str = "/api/analysis_cache/get?project=cached";
const NO_CACHE: &str = "/api/analysis_cache/get?project=pay";

#[tokio::test]
async fn server_answers_bearer_and_basic_alike() {
    let sonar = start(EmulatorConfig::new(server())).await.unwrap();
    let web = sonar.web_url();
    assert!(web.starts_with("http://127.0.0.1:"));
    assert_eq!(sonar.api_url(), format!("{web}/api/v2"));

    let r = get(&web, "/api/server/version", Auth::None).await;
    assert_eq!((r.status, r.text().as_str()), (200, "10.7.0.96327"));
    assert_eq!(r.header("content-type"), Some("text/plain"));

    for auth in [Auth::Bearer(SQP), Auth::Basic(SQP)] {
        let r = get(&web, "/api/authentication/validate", auth).await;
        assert_eq!(r.json(), serde_json::json!({"valid": true}), "{auth:?}");
        let r = get(&web, NO_CACHE, auth).await;
        assert_eq!(
            (r.status, r.msg().as_str()),
            (404, "No cache for given branch or pull request")
        );
        let r = get(&web, CACHE, auth).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), Some("application/octet-stream"));
        assert_eq!(r.body.len(), sonar_emulator::sonar::CACHE_SIZE);
        let r = get(&sonar.api_url(), "/analysis/version", auth).await;
        assert_eq!((r.status, r.text().as_str()), (200, "10.7.0.96327"));
    }
    let r = get(&web, "/api/authentication/validate", Auth::Basic("nope")).await;
    assert_eq!(r.json(), serde_json::json!({"valid": false}));

    let r = get(&web, NO_CACHE, Auth::Bearer(SQU_BROWSE)).await;
    assert_eq!(
        (r.status, r.msg().as_str()),
        (403, "Insufficient privileges")
    );
    for auth in [Auth::Bearer(SQU_EXPIRED), Auth::Basic("nope"), Auth::None] {
        let r = get(&web, NO_CACHE, auth).await;
        assert_eq!((r.status, r.body.len()), (401, 0), "{auth:?}");
    }
    let r = get(
        &web,
        "/api/analysis_cache/get?project=gone",
        Auth::Bearer(SQP),
    )
    .await;
    assert_eq!(
        (r.status, r.msg().as_str()),
        (404, "Project 'gone' not found")
    );
    let r = get(&sonar.api_url(), "/analysis/engine", Auth::None).await;
    assert_eq!((r.status, r.body.len()), (401, 0));

    let r = post(&web, "/api/ce/submit?projectKey=pay", Auth::Basic(SQP)).await;
    assert_eq!(r.status, 200);
    assert!(r.json()["taskId"].is_string());
    let r = post(&web, "/api/ce/submit?projectKey=new", Auth::Bearer(SQA)).await;
    assert_eq!(r.status, 200, "global Scan creates the project");

    let r = get(
        &web,
        "/api/components/show?component=pay",
        Auth::Bearer(SQP),
    )
    .await;
    assert_eq!(
        (r.status, r.msg().as_str()),
        (403, "Insufficient privileges")
    );
    let r = get(&web, "/api/nothing/here", Auth::Bearer(SQP)).await;
    assert_eq!(
        (r.status, r.msg().as_str()),
        (404, "Unknown url : /api/nothing/here")
    );
    sonar.shutdown().await;
}

#[tokio::test]
async fn server_announces_the_token_expiry() {
    let sonar = start(EmulatorConfig::new(server())).await.unwrap();
    let web = sonar.web_url();
    let name = "SonarQube-Authentication-Token-Expiration";
    for path in [
        NO_CACHE,
        "/api/authentication/validate",
        "/api/v2/analysis/jres",
    ] {
        let r = get(&web, path, Auth::Bearer(SQP)).await;
        assert_eq!(r.header(name), Some("2030-01-02"), "{path}");
        let r = get(&web, path, Auth::Basic(SQP)).await;
        assert_eq!(r.header(name), Some("2030-01-02"), "{path}");
        let r = get(&web, path, Auth::Bearer(SQA)).await;
        assert_eq!(r.header(name), None, "no expiry: {path}");
        let r = get(&web, path, Auth::None).await;
        assert_eq!(r.header(name), None, "anonymous: {path}");
    }
}

#[tokio::test]
async fn cloud_has_a_web_host_and_an_api_host() {
    let sonar = start(EmulatorConfig::new(cloud())).await.unwrap();
    let (web, api) = (sonar.web_url(), sonar.api_url());
    assert_ne!(web, api);
    assert!(api.starts_with("http://127.0.0.1:"));

    let r = get(&web, "/api/authentication/validate", Auth::Bearer(SOT)).await;
    assert_eq!(r.json()["valid"], true);
    let r = get(
        &web,
        "/api/authentication/validate",
        Auth::Basic(SOT_REVOKED),
    )
    .await;
    assert_eq!(r.json()["valid"], false);
    let r = get(
        &web,
        "/api/qualityprofiles/search?project=pay&organization=other",
        Auth::Bearer(SOT),
    )
    .await;
    assert_eq!(
        (r.status, r.msg().as_str()),
        (
            400,
            "Organization of component with key 'pay' does not match specified organization 'other'"
        )
    );
    let r = get(
        &web,
        "/api/organizations/search?member=true",
        Auth::Bearer(SOT),
    )
    .await;
    assert_eq!(r.status, 403, "a SOT has no user identity");
    let r = post(
        &web,
        "/api/ce/submit?organization=acme&projectKey=docs",
        Auth::Bearer(SOT),
    )
    .await;
    assert_eq!(
        (r.status, r.msg().as_str()),
        (404, "Project 'docs' not found")
    );

    for auth in [Auth::None, Auth::Bearer(SOT_REVOKED), Auth::Basic("nope")] {
        let r = get(&api, "/analysis/jres?os=linux&arch=x64", auth).await;
        assert_eq!((r.status, r.msg().as_str()), (403, "Forbidden"), "{auth:?}");
    }
    let r = get(&api, "/analysis/jres?os=linux&arch=x64", Auth::Bearer(SOT)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()[0]["os"], "linux");
    let r = get(&api, "/analysis/engine", Auth::Basic(SOT)).await;
    assert_eq!(r.status, 200);

    let r = get(
        &api,
        "/sensor-cache/prepare-read?organization=acme&project=pay&branch=main",
        Auth::Bearer(SOT),
    )
    .await;
    assert_eq!(r.json()["enabled"], true);
    let url = r.json()["url"].as_str().unwrap().to_owned();
    let blob = url.strip_prefix(&api).expect("a URL on the API host");
    let r = get(&api, blob, Auth::None).await;
    assert_eq!(r.body.len(), sonar_emulator::sonar::CACHE_SIZE);
    let r = get(
        &api,
        "/sensor-cache/prepare-read?organization=acme&project=docs",
        Auth::Bearer(SOT),
    )
    .await;
    assert_eq!(
        (r.status, r.msg().as_str()),
        (403, "Insufficient privileges")
    );

    // Each host serves its own paths only.
    let r = get(&web, "/analysis/engine", Auth::Bearer(SOT)).await;
    assert_eq!(r.msg(), "Unknown url : /analysis/engine");
    let r = get(&api, "/api/authentication/validate", Auth::Bearer(SOT)).await;
    assert_eq!(r.msg(), "Unknown url : /api/authentication/validate");

    let listeners: Vec<ListenerKind> = sonar.log().iter().map(|r| r.listener).collect();
    assert!(listeners.contains(&ListenerKind::Web) && listeners.contains(&ListenerKind::Api));
}

#[tokio::test]
async fn the_log_names_connections_and_fingerprints_never_tokens() {
    let sonar = start(EmulatorConfig::new(server())).await.unwrap();
    let web = sonar.web_url();
    let mut one = support::connect(&web, &Options::default()).await.unwrap();
    one.get(NO_CACHE, Auth::Bearer(SQP)).await.unwrap();
    one.get("/api/server/version", Auth::None).await.unwrap();
    one.get(NO_CACHE, Auth::Basic(SQP)).await.unwrap();
    let mut two = support::connect(
        &web,
        &Options {
            h2: true,
            ..Options::default()
        },
    )
    .await
    .unwrap();
    two.get("/api/authentication/validate?x=1", Auth::Bearer(SQA))
        .await
        .unwrap();
    two.get("/api/authentication/validate", Auth::Bearer(SQA))
        .await
        .unwrap();

    let log = sonar.log();
    assert_eq!(log.len(), 5);
    let (a, b) = (&log[0], &log[3]);
    assert!(log[..3].iter().all(|r| r.connection == a.connection));
    assert!(log[3..].iter().all(|r| r.connection == b.connection));
    assert_ne!(a.connection, b.connection);
    assert_eq!(a.version, "HTTP/1.1");
    assert_eq!(b.version, "HTTP/2.0", "h2c by prior knowledge");

    assert_eq!(
        (a.method.as_str(), a.path.as_str(), a.query.as_str()),
        ("GET", "/api/analysis_cache/get", "project=pay")
    );
    assert_eq!(a.status, 404);
    assert_eq!(a.listener, ListenerKind::Web);
    assert_eq!(a.auth_scheme, "bearer");
    assert_eq!(
        a.token_fingerprint.as_deref(),
        Some(fingerprint(SQP).as_str())
    );
    assert_eq!(fingerprint(SQP).len(), 8);
    assert_eq!(log[1].auth_scheme, "none");
    assert_eq!(log[1].token_fingerprint, None);
    assert_eq!(log[2].auth_scheme, "basic");
    assert_eq!(log[2].token_fingerprint, a.token_fingerprint);
    assert_eq!(b.query, "x=1");
    assert!(log.iter().all(|r| r.fault.is_none()));
    assert!(log.windows(2).all(|w| w[0].received_us <= w[1].received_us));
    assert!(log.iter().all(|r| r.received_us <= r.responded_us));

    // The same over HTTP, and no token anywhere in it.
    let r = get(&web, "/__emulator/log", Auth::None).await;
    let text = r.text();
    assert!(!text.contains(SQP) && !text.contains(SQA), "{text}");
    let served: Vec<LoggedRequest> = serde_json::from_str(&text).unwrap();
    assert_eq!(served, log, "control paths are not logged");

    sonar.clear_log();
    assert!(sonar.log().is_empty());
    get(&web, "/api/server/version", Auth::None).await;
    let r = request(
        &web,
        "DELETE",
        "/__emulator/log",
        Auth::None,
        &Options::default(),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200);
    assert!(sonar.log().is_empty());
}

#[tokio::test]
async fn a_status_fault_for_n_requests_then_recovery() {
    let sonar = start(EmulatorConfig::new(server())).await.unwrap();
    let web = sonar.web_url();
    sonar.set_faults(vec![FaultRule::status(
        "/api/analysis_cache/get",
        503,
        Some(1),
        Some(2),
    )]);
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let r = get(&web, NO_CACHE, Auth::Bearer(SQP)).await;
        if r.status == 503 {
            assert_eq!(r.header("retry-after"), Some("1"));
            assert_eq!(r.msg(), "Service Unavailable");
        }
        statuses.push(r.status);
    }
    assert_eq!(statuses, [503, 503, 404]);
    let r = get(&web, "/api/server/version", Auth::None).await;
    assert_eq!(r.status, 200, "other paths are not affected");
    let faults: Vec<Option<String>> = sonar.log().into_iter().map(|r| r.fault).collect();
    assert_eq!(
        faults[..3],
        [
            Some("status 503 retry-after 1".into()),
            Some("status 503 retry-after 1".into()),
            None
        ]
    );

    sonar.set_faults(vec![FaultRule::status("*", 429, None, Some(1))]);
    let r = get(&web, "/api/server/version", Auth::None).await;
    assert_eq!((r.status, r.msg().as_str()), (429, "Too Many Requests"));
    assert_eq!(r.header("retry-after"), None);
    assert_eq!(
        get(&web, "/api/server/version", Auth::None).await.status,
        200
    );

    // The same rules, set over HTTP (YAML or JSON).
    let mut conn = support::connect(&web, &Options::default()).await.unwrap();
    let body = "[{path: /api/server, listener: web, status: 502, times: 1}]";
    let r = put(&web, "/__emulator/faults", body).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        conn.get("/api/server/version", Auth::None)
            .await
            .unwrap()
            .status,
        502
    );
    assert_eq!(
        conn.get("/api/server/version", Auth::None)
            .await
            .unwrap()
            .status,
        200
    );
    let r = put(&web, "/__emulator/faults", "[{path: /x}]").await;
    assert_eq!(r.status, 400);
    assert!(r.text().contains("no action"), "{}", r.text());
}

/// PUT with a body, on a raw HTTP/1.1 connection.
async fn put(url: &str, path: &str, body: &str) -> support::Resp {
    let addr = url.strip_prefix("http://").unwrap();
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "PUT {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8(out).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    support::Resp {
        status: head[9..12].parse().unwrap(),
        headers: Default::default(),
        body: body.as_bytes().to_vec(),
        head_after: Duration::ZERO,
        body_after: Duration::ZERO,
    }
}

#[tokio::test]
async fn latency_from_a_fault_and_from_the_config() {
    let sonar = start(EmulatorConfig::new(server()).with_latency_ms(100))
        .await
        .unwrap();
    let web = sonar.web_url();
    let r = get(&web, "/api/server/version", Auth::None).await;
    assert!(
        r.head_after >= Duration::from_millis(100),
        "{:?}",
        r.head_after
    );
    sonar.set_faults(vec![FaultRule::latency("*", 150).on(ListenerKind::Web)]);
    let r = get(&web, "/api/server/version", Auth::None).await;
    assert!(
        r.head_after >= Duration::from_millis(250),
        "{:?}",
        r.head_after
    );
    let log = sonar.log();
    let waited = log[1].responded_us - log[1].received_us;
    assert!(waited >= 250_000, "{waited} µs");
    assert_eq!(log[1].fault.as_deref(), Some("latency 150 ms"));
    assert_eq!(log[0].fault, None, "the configured latency is not a fault");
}

#[tokio::test]
async fn a_reset_fault_closes_the_connection_with_rst() {
    let sonar = start(
        EmulatorConfig::new(server())
            .with_faults(vec![FaultRule::reset("/api/analysis_cache/get", Some(1))]),
    )
    .await
    .unwrap();
    let web = sonar.web_url();
    let addr = web.strip_prefix("http://").unwrap();
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req =
        format!("GET {NO_CACHE} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {SQP}\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = [0u8; 64];
    let err = s.read(&mut buf).await.expect_err("no answer, a reset");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset);

    // Through a client: a transport error, then (times: 1) a normal answer.
    sonar.set_faults(vec![FaultRule::reset("*", Some(1))]);
    let e = request(
        &web,
        "GET",
        NO_CACHE,
        Auth::Bearer(SQP),
        &Options::default(),
    )
    .await;
    assert!(e.is_err());
    assert_eq!(get(&web, NO_CACHE, Auth::Bearer(SQP)).await.status, 404);
    let log = sonar.log();
    assert_eq!((log[0].status, log[0].fault.as_deref()), (0, Some("reset")));
    assert_eq!(log.iter().filter(|r| r.status == 0).count(), 2);
}

#[tokio::test]
async fn a_slow_body_sends_headers_first() {
    let sonar = start(EmulatorConfig::new(server())).await.unwrap();
    sonar.set_faults(vec![FaultRule::slow_body(
        "/api/analysis_cache/get",
        400,
        None,
    )]);
    let r = get(&sonar.web_url(), CACHE, Auth::Bearer(SQP)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), sonar_emulator::sonar::CACHE_SIZE);
    assert!(
        r.head_after < Duration::from_millis(200),
        "{:?}",
        r.head_after
    );
    assert!(
        r.body_after >= Duration::from_millis(380),
        "{:?}",
        r.body_after
    );
    assert_eq!(sonar.log()[0].fault.as_deref(), Some("slow body 400 ms"));
}

#[tokio::test]
async fn tls_with_the_test_ca_over_http1_and_h2() {
    let pki = TestPki::generate(&["sonar.test"]).unwrap();
    let sonar = start(EmulatorConfig::new(cloud()).with_tls(pki.server_files()))
        .await
        .unwrap();
    let (web, api) = (sonar.web_url(), sonar.api_url());
    assert!(web.starts_with("https://127.0.0.1:") && api.starts_with("https://127.0.0.1:"));

    let untrusted = request(
        &web,
        "GET",
        "/api/server/version",
        Auth::None,
        &Options::default(),
    )
    .await
    .expect_err("no CA trusted");
    assert!(
        format!("{untrusted:?}").contains("UnknownIssuer"),
        "{untrusted:?}"
    );
    let trusted = Options {
        ca_pem: Some(pki.ca_pem.clone()),
        ..Options::default()
    };
    for name in ["127.0.0.1", "localhost", "sonar.test", "::1"] {
        let options = Options {
            server_name: Some(name.into()),
            ..trusted.clone()
        };
        let r = request(&web, "GET", "/api/server/version", Auth::None, &options)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_eq!(r.status, 200);
    }
    let other = Options {
        server_name: Some("elsewhere.test".into()),
        ..trusted.clone()
    };
    assert!(request(&web, "GET", "/", Auth::None, &other).await.is_err());

    let h2 = Options {
        h2: true,
        ..trusted.clone()
    };
    let r = request(&api, "GET", "/analysis/engine", Auth::Bearer(SOT), &h2)
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    let r = request(
        &api,
        "GET",
        "/sensor-cache/prepare-read?organization=acme&project=pay",
        Auth::Bearer(SOT),
        &h2,
    )
    .await
    .unwrap();
    assert!(r.json()["url"].as_str().unwrap().starts_with(&api));
    let versions: Vec<String> = sonar.log().into_iter().map(|r| r.version).collect();
    assert_eq!(versions.last().map(String::as_str), Some("HTTP/2.0"));
    assert!(versions.contains(&"HTTP/1.1".to_string()));
}

#[tokio::test]
async fn shutdown_closes_listeners_and_open_connections() {
    let sonar = start(EmulatorConfig::new(server())).await.unwrap();
    let web = sonar.web_url();
    let mut conn = support::connect(&web, &Options::default()).await.unwrap();
    conn.get("/api/server/version", Auth::None).await.unwrap();
    sonar.shutdown().await;
    let started = Instant::now();
    assert!(conn.get("/api/server/version", Auth::None).await.is_err());
    assert!(started.elapsed() < Duration::from_secs(1));
    let addr = web.strip_prefix("http://").unwrap();
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[test]
fn the_blocking_emulator_for_tests_without_a_runtime() {
    use std::io::{Read, Write};
    let sonar = sonar_emulator::start_blocking(EmulatorConfig::new(server())).unwrap();
    let addr = sonar.web_url().strip_prefix("http://").unwrap().to_owned();
    let ask = |path: &str| {
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {SQP}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    };
    let answer = ask(NO_CACHE);
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
    assert!(answer.contains("No cache for given branch or pull request"));
    assert!(answer
        .to_ascii_lowercase()
        .contains("sonarqube-authentication-token-expiration: 2030-01-02"));
    sonar.set_faults(vec![FaultRule::status("*", 503, None, Some(1))]);
    assert!(ask(NO_CACHE).starts_with("HTTP/1.1 503"));
    assert!(ask(NO_CACHE).starts_with("HTTP/1.1 404"));
    assert_eq!(sonar.log().len(), 3);
    sonar.clear_log();
    assert!(sonar.log().is_empty());
    drop(sonar);
    assert!(std::net::TcpStream::connect(&addr).is_err(), "stopped");
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn octet_stream() -> Options {
    Options {
        accept: Some("application/octet-stream".into()),
        ..Options::default()
    }
}

/// Server: what `analysis/jres` and `analysis/engine` describe is what the downloads serve
/// (by id, with the token, `Accept: application/octet-stream`): the SHA-256 values are real.
#[tokio::test]
async fn server_bootstrap_downloads_match_their_sha256() {
    let sonar = start(EmulatorConfig::new(server())).await.unwrap();
    let api = sonar.api_url();
    let jres = get(&api, "/analysis/jres?os=linux&arch=x64", Auth::Bearer(SQP)).await;
    assert_eq!(jres.status, 200);
    let jre = &jres.json()[0];
    let id = jre["id"].as_str().unwrap();
    let archive = request(
        &api,
        "GET",
        &format!("/analysis/jres/{id}"),
        Auth::Bearer(SQP),
        &octet_stream(),
    )
    .await
    .unwrap();
    assert_eq!(archive.status, 200);
    assert_eq!(
        archive.header("content-type"),
        Some("application/octet-stream")
    );
    assert_eq!(sha256_hex(&archive.body), jre["sha256"].as_str().unwrap());
    assert!(jre["filename"].as_str().unwrap().ends_with(".tar.gz"));
    assert_eq!(&archive.body[..2], [0x1f, 0x8b], "gzip");

    let engine = get(&api, "/analysis/engine", Auth::Bearer(SQP))
        .await
        .json();
    let jar = request(
        &api,
        "GET",
        "/analysis/engine",
        Auth::Bearer(SQP),
        &octet_stream(),
    )
    .await
    .unwrap();
    assert_eq!(sha256_hex(&jar.body), engine["sha256"].as_str().unwrap());
    assert_ne!(engine["sha256"], jre["sha256"]);
    let denied = request(&api, "GET", "/analysis/engine", Auth::None, &octet_stream())
        .await
        .unwrap();
    assert_eq!(denied.status, 401, "Server downloads need the token");

    let host = sonar.web_url().trim_start_matches("http://").to_string();
    assert!(
        sonar.log().iter().all(|r| r.host == host),
        "{:?}",
        sonar.log()
    );
}

/// Cloud: the API host describes both with a `downloadUrl`, which serves the same bytes
/// without a token; the log records the host each request addressed.
#[tokio::test]
async fn cloud_bootstrap_download_urls_match_their_sha256() {
    let sonar = start(EmulatorConfig::new(cloud())).await.unwrap();
    let api = sonar.api_url();
    let jre = get(&api, "/analysis/jres?os=linux&arch=x64", Auth::Bearer(SOT))
        .await
        .json()[0]
        .clone();
    let engine = get(&api, "/analysis/engine", Auth::Bearer(SOT))
        .await
        .json();
    for described in [jre, engine] {
        let url = described["downloadUrl"].as_str().unwrap();
        let path = url
            .strip_prefix(api.as_str())
            .unwrap_or_else(|| panic!("{url} is on {api}"));
        let file = request(&api, "GET", path, Auth::None, &octet_stream())
            .await
            .unwrap();
        assert_eq!(file.status, 200, "{url}");
        assert_eq!(
            sha256_hex(&file.body),
            described["sha256"].as_str().unwrap()
        );
    }
    let r = get(&api, "/analysis/engine", Auth::Bearer(SOT_REVOKED)).await;
    assert_eq!(r.status, 403);
    let host = api.trim_start_matches("http://").to_string();
    let log = sonar.log();
    assert!(
        log.iter()
            .all(|r| r.host == host && r.listener == ListenerKind::Api),
        "{log:?}"
    );
}

#[tokio::test]
async fn a_project_deleted_over_http_is_gone_from_every_answer() {
    let sonar = start(EmulatorConfig::new(server())).await.unwrap();
    let web = sonar.web_url();
    let listed = |r: &support::Resp| r.json()["paging"]["total"].as_u64().unwrap();
    let search = "/api/components/search_projects";
    assert_eq!(
        listed(&get(&web, search, Auth::Bearer(SQU_BROWSE)).await),
        2
    );
    let r = support::request(
        &web,
        "DELETE",
        "/__emulator/projects/pay",
        Auth::None,
        &Options::default(),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        listed(&get(&web, search, Auth::Bearer(SQU_BROWSE)).await),
        1
    );
    let r = get(
        &web,
        "/api/analysis_cache/get?project=pay",
        Auth::Bearer(SQP),
    )
    .await;
    assert_eq!(
        (r.status, r.msg().as_str()),
        (404, "Project 'pay' not found")
    );
    let r = support::request(
        &web,
        "DELETE",
        "/__emulator/projects/pay",
        Auth::None,
        &Options::default(),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 404, "already deleted");
    assert!(sonar
        .log()
        .iter()
        .all(|l| !l.path.starts_with("/__emulator")));
}
