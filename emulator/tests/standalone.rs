//! The `sonar-emulator` binary, and the scenarios shipped with it.

mod support;

use sonar_emulator::scenario::{Flavor, TokenKind, TokenState};
use sonar_emulator::{fingerprint, LoggedRequest, Scenario};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_sonar-emulator");
const SOT: &str = "sqco_PAYMENTSpaymentsPAYMENTSpaymentsPAYMENTSpaymentsPAYMENTSpay";

fn shipped(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name)
}

/// A fresh directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sonar-emulator-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The listener lines, once the ready file holds them.
fn wait_ready(child: &mut Child, ready: &Path) -> Vec<(String, String)> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(text) = std::fs::read_to_string(ready) {
            return text
                .lines()
                .map(|l| {
                    let (k, v) = l.split_once(' ').unwrap();
                    (k.to_owned(), v.to_owned())
                })
                .collect();
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the emulator exited: {status}");
        }
        assert!(Instant::now() < deadline, "the emulator did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn terminate(child: &mut Child) -> std::process::ExitStatus {
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    child.wait().unwrap()
}

/// One HTTP/1.1 request, `Connection: close`: the status and the body.
fn ask(url: &str, path: &str, token: Option<&str>) -> (u16, String) {
    let addr = url.strip_prefix("http://").unwrap();
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    (head[9..12].parse().unwrap(), body.to_owned())
}

#[test]
fn runs_a_scenario_until_sigterm_and_logs_to_a_file() {
    let dir = scratch("run");
    let (ready, log) = (dir.join("ready"), dir.join("log.jsonl"));
    let mut child = Command::new(BIN)
        .arg("--scenario")
        .arg(shipped("demo.yaml"))
        .arg("--ready-file")
        .arg(&ready)
        .arg("--log-file")
        .arg(&log)
        .args([
            "--fault",
            "{path: /api/server/version, status: 503, times: 1}",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = wait_ready(&mut child, &ready);
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0].0, "web");
    assert_eq!(lines[1].0, "api");
    let (web, api) = (lines[0].1.clone(), lines[1].1.clone());
    assert!(web.starts_with("http://127.0.0.1:") && api.starts_with("http://127.0.0.1:"));
    assert_ne!(web, api);

    assert_eq!(ask(&web, "/api/server/version", None).0, 503, "--fault");
    assert_eq!(ask(&web, "/api/server/version", None).0, 200);
    let (status, body) = ask(&web, "/api/authentication/validate", Some(SOT));
    assert_eq!((status, body.as_str()), (200, r#"{"valid":true}"#));
    let (status, _) = ask(
        &api,
        "/sensor-cache/prepare-read?organization=acme&project=acme_payments",
        Some(SOT),
    );
    assert_eq!(status, 200);
    let (status, body) = ask(&web, "/__emulator/log", None);
    assert_eq!(status, 200);
    let served: Vec<LoggedRequest> = serde_json::from_str(&body).unwrap();
    assert_eq!(served.len(), 4);

    let exit = terminate(&mut child);
    assert!(exit.success(), "{exit}");
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    assert_eq!(stdout, std::fs::read_to_string(&ready).unwrap());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(stderr.contains("Cloud (region global)"), "{stderr}");

    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains(SOT), "{text}");
    let logged: Vec<LoggedRequest> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(logged, served);
    assert_eq!(logged[0].fault.as_deref(), Some("status 503"));
    assert_eq!(
        logged[2].token_fingerprint.as_deref(),
        Some(fingerprint(SOT).as_str())
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn refuses_a_bad_scenario_or_fault() {
    let dir = scratch("bad");
    let bad = dir.join("bad.yaml");
    std::fs::write(&bad, "flavor: server\nprojets: []\n").unwrap();
    let out = Command::new(BIN)
        .arg("--scenario")
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("projets"), "{stderr}");

    let out = Command::new(BIN)
        .arg("--scenario")
        .arg(shipped("server.yaml"))
        .args(["--fault", "{path: /x, latency_ms: 5, retry_after: 1}"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("retry_after needs a status"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn pki_files_serve_tls_that_the_ca_verifies() {
    let dir = scratch("pki");
    let out = Command::new(BIN)
        .args(["pki", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let ca = std::fs::read_to_string(dir.join("ca.pem")).unwrap();
    assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"));
    let ready = dir.join("ready");
    let mut child = Command::new(BIN)
        .arg("--scenario")
        .arg(shipped("server.yaml"))
        .arg("--tls-cert")
        .arg(dir.join("server.pem"))
        .arg("--tls-key")
        .arg(dir.join("server-key.pem"))
        .arg("--ready-file")
        .arg(&ready)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = wait_ready(&mut child, &ready);
    let web = lines[0].1.clone();
    assert!(web.starts_with("https://127.0.0.1:"), "{web}");
    assert_eq!(lines[1].1, format!("{web}/api/v2"));
    let trusted = support::Options {
        ca_pem: Some(ca),
        server_name: Some("localhost".into()),
        ..Default::default()
    };
    let r = support::request(
        &web,
        "GET",
        "/api/server/version",
        support::Auth::None,
        &trusted,
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200);
    let untrusted = support::request(
        &web,
        "GET",
        "/api/server/version",
        support::Auth::None,
        &support::Options::default(),
    )
    .await;
    assert!(untrusted.is_err());
    assert!(terminate(&mut child).success());
    let _ = std::fs::remove_dir_all(&dir);
}

fn is_sot(v: &str) -> bool {
    v.strip_prefix("sqco_")
        .is_some_and(|r| r.len() == 59 && r.bytes().all(|b| b.is_ascii_alphanumeric()))
}

fn is_hex40(v: &str) -> bool {
    v.len() == 40 && v.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[test]
fn shipped_scenarios_hold_well_formed_fake_tokens() {
    let demo = Scenario::load(&shipped("demo.yaml")).unwrap();
    assert_eq!(demo.flavor, Flavor::Cloud);
    assert!(demo.project("acme_payments").is_some() && demo.project("acme_docs").is_some());
    let sots: Vec<_> = demo
        .tokens
        .iter()
        .filter(|t| t.kind == TokenKind::Sot)
        .collect();
    assert!(sots.iter().all(|t| is_sot(&t.value)));
    for state in [TokenState::Active, TokenState::Revoked, TokenState::Expired] {
        assert!(sots.iter().any(|t| t.state == state), "{state:?}");
    }
    let personal = demo
        .tokens
        .iter()
        .find(|t| t.kind == TokenKind::Personal)
        .unwrap();
    assert!(is_hex40(&personal.value));

    let server = Scenario::load(&shipped("server.yaml")).unwrap();
    assert_eq!(server.flavor, Flavor::Server);
    for t in &server.tokens {
        let (prefix, rest) = t.value.split_at(4);
        let expected = match t.kind {
            TokenKind::User => "squ_",
            TokenKind::GlobalAnalysis => "sqa_",
            TokenKind::ProjectAnalysis => "sqp_",
            other => panic!("{other:?} on Server"),
        };
        assert_eq!(prefix, expected);
        assert!(is_hex40(rest), "{}", t.value);
    }
    let soon = server
        .tokens
        .iter()
        .find_map(|t| t.expiry_date())
        .expect("a token that expires");
    let today = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        / 86_400;
    assert!(soon > sonar_emulator::scenario::civil_date(today));
    assert!(soon <= sonar_emulator::scenario::civil_date(today + 7));
}
