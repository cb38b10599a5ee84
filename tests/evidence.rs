//! The evidence behind a verdict, as `scantoken verify` prints it: each probe's answer (the
//! status and what Sonar said, the attempts it took), the host named in the cause, and the
//! warnings about the token itself (its expiry, a personal token where a scoped one would
//! do). Through the real binary against the Sonar emulator on loopback.

mod common;

use common::{pairs, scantoken, set};
use sonar_emulator::{start_blocking, BlockingEmulator, EmulatorConfig, FaultRule, Scenario};

const SQP: &str = "sqp_7777777777777777777777777777777777777777";
const SQP_LATER: &str = "sqp_8888888888888888888888888888888888888888";
const SQU: &str = "squ_9999999999999999999999999999999999999999";
/// A SonarQube Cloud personal token: no prefix.
const PERSONAL: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567";
const SOT: &str = "sqco_EVIDENCEevidenceEVIDENCEevidenceEVIDENCEevidenceEVIDENCEev";

fn server(faults: Vec<FaultRule>) -> BlockingEmulator {
    start_blocking(EmulatorConfig {
        scenario: Scenario::from_yaml_str(&format!(
            r#"
flavor: server
projects:
  - {{key: acme_payments, visibility: private}}
  - {{key: acme_docs, visibility: private}}
tokens:
  - {{value: "{SQP}", kind: project-analysis, projects: [acme_payments], expires: "+3d"}}
  - {{value: "{SQP_LATER}", kind: project-analysis, projects: [acme_payments], expires: "+300d"}}
  - {{value: "{SQU}", kind: user, scan: all}}
"#
        ))
        .unwrap(),
        tls: None,
        faults,
        latency_ms: 0,
    })
    .unwrap()
}

/// `scantoken verify` (human output) with `vars`: exit code, stdout, stderr.
fn verify(vars: &[(&str, &str)]) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut env = pairs(vars);
    set(&mut env, "SCANTOKEN_RETRIES", "1");
    scantoken(dir.path(), &env, &["verify"])
}

/// Each probe line's path and answer: `  probe GET <url> -> <answer> (<n> ms)`.
fn answers(stdout: &str, host: &str) -> Vec<(String, String)> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("  probe GET "))
        .map(|l| {
            let (url, rest) = l.split_once(" -> ").unwrap();
            let answer = rest.rsplit_once(" (").unwrap().0;
            (url.trim_start_matches(host).to_owned(), answer.to_owned())
        })
        .collect()
}

#[test]
fn each_probe_shows_its_status_sonars_message_and_the_attempts_it_took() {
    let emulator = server(vec![FaultRule::status(
        "/api/server/version",
        503,
        None,
        None,
    )
    .times(1)]);
    let host = emulator.web_url();
    let (code, stdout, stderr) = verify(&[
        ("SONAR_HOST_URL", &host),
        ("SONAR_TOKEN", SQP),
        ("SCANTOKEN_PROJECT_KEY", "acme_payments"),
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.starts_with("Verdict: ok"), "{stdout}");
    let got = answers(&stdout, host.trim_end_matches('/'));
    assert_eq!(got.len(), 3, "{stdout}");
    let (path, version) = &got[0];
    assert_eq!(path, "/api/server/version");
    assert!(
        version.starts_with("200 ") && version.ends_with(" (after 2 attempts: 503)"),
        "the first answer was a 503, retried once: {version}"
    );
    assert_eq!(
        got[1],
        (
            "/api/authentication/validate".into(),
            "200 valid: true".into()
        ),
        "one attempt: no attempts said, no proxy said"
    );
    assert_eq!(got[2].0, "/api/analysis_cache/get?project=acme_payments");
    assert!(got[2].1.starts_with("404 No cache"), "{stdout}");
    assert!(!stdout.contains(SQP) && !stderr.contains(SQP));
}

#[test]
fn the_cause_names_the_host_that_answered_or_could_not_be_reached() {
    let emulator = server(vec![]);
    let host = emulator.web_url();
    let authority = host.trim_start_matches("http://").trim_end_matches('/');
    let (code, stdout, _) = verify(&[
        ("SONAR_HOST_URL", &host),
        ("SONAR_TOKEN", SQP),
        ("SCANTOKEN_PROJECT_KEY", "acme_docs"),
    ]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains(&format!(
            "({authority} answered 403 Insufficient privileges)"
        )),
        "{stdout}"
    );

    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let (code, stdout, _) = verify(&[
        ("SONAR_HOST_URL", &format!("http://127.0.0.1:{port}")),
        ("SONAR_TOKEN", SQP),
        ("SCANTOKEN_PROJECT_KEY", "acme_docs"),
        ("SCANTOKEN_RETRIES", "0"),
    ]);
    assert_eq!(code, 3, "{stdout}");
    assert!(
        stdout.contains(&format!("127.0.0.1:{port} could not be reached after")),
        "{stdout}"
    );
    let got = answers(&stdout, &format!("http://127.0.0.1:{port}"));
    assert!(
        got.iter().all(|(_, a)| a.starts_with("no answer: ")),
        "{stdout}"
    );
}

#[test]
fn a_token_that_expires_soon_is_a_warning_with_the_days_left() {
    let emulator = server(vec![]);
    let host = emulator.web_url();
    let run = |token: &str| {
        let (code, stdout, stderr) = verify(&[
            ("SONAR_HOST_URL", &host),
            ("SONAR_TOKEN", token),
            ("SCANTOKEN_PROJECT_KEY", "acme_payments"),
        ]);
        assert_eq!(code, 0, "{stdout}{stderr}");
        stdout
    };
    let stdout = run(SQP);
    let warning = stdout
        .lines()
        .find(|l| l.contains("the token expires on"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        warning.ends_with("(in 3 day(s)): create its successor now"),
        "{warning}"
    );
    // 300 days away: past the 14 days' warning.
    let stdout = run(SQP_LATER);
    assert!(!stdout.contains("expires"), "{stdout}");
}

#[test]
fn a_personal_token_where_a_scoped_one_would_do_is_a_warning() {
    let emulator = server(vec![]);
    let (code, stdout, _) = verify(&[
        ("SONAR_HOST_URL", &emulator.web_url()),
        ("SONAR_TOKEN", SQU),
        ("SCANTOKEN_PROJECT_KEY", "acme_payments"),
    ]);
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains("warning: this is a user token (squ_)"),
        "{stdout}"
    );

    // SonarQube Cloud (at custom URLs, as staging instances are): a token without a prefix
    // is a personal one; a scoped organization token draws no such warning.
    let cloud = start_blocking(EmulatorConfig {
        scenario: Scenario::from_yaml_str(&format!(
            r#"
flavor: cloud
organizations: [acme]
projects:
  - {{key: acme_payments, organization: acme, visibility: private}}
tokens:
  - {{value: "{PERSONAL}", kind: personal, scan: all}}
  - {{value: "{SOT}", kind: sot, organization: acme, projects: all}}
"#
        ))
        .unwrap(),
        tls: None,
        faults: vec![],
        latency_ms: 0,
    })
    .unwrap();
    let run = |token: &str| {
        let (code, stdout, stderr) = verify(&[
            ("SONAR_SCANNER_SONARCLOUD_URL", &cloud.web_url()),
            ("SONAR_SCANNER_API_BASE_URL", &cloud.api_url()),
            ("SONAR_ORGANIZATION", "acme"),
            ("SONAR_TOKEN", token),
            ("SCANTOKEN_PROJECT_KEY", "acme_payments"),
        ]);
        assert_eq!(code, 0, "{stdout}{stderr}");
        stdout
    };
    let stdout = run(PERSONAL);
    assert!(
        stdout.contains("warning: this looks like a personal token"),
        "{stdout}"
    );
    assert!(!stdout.contains(PERSONAL));
    let stdout = run(SOT);
    assert!(!stdout.contains("personal token"), "{stdout}");
}
