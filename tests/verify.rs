//! Verification end to end: the real binary against the Sonar emulator, for every verdict on
//! SonarQube Server, SonarQube Cloud (global) and SonarQube Cloud (US).
//!
//! Cloud global and US are reached at their official URLs (https://sonarcloud.io, ...)
//! through a test CONNECT proxy that tunnels to the emulator, which serves TLS with a
//! certificate from a private test CA: no hook in scantoken, the same path a corporate proxy
//! takes.

mod common;

use common::connect_proxy::ConnectProxy;
use common::{pairs, scantoken, set};
use serde_json::Value;
use sonar_emulator::{
    start_blocking, tls::TestPki, BlockingEmulator, EmulatorConfig, FaultRule, Scenario, TlsFiles,
};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;

const SOT_PAYMENTS: &str = "sqco_PAYMENTSpaymentsPAYMENTSpaymentsPAYMENTSpaymentsPAYMENTSpay";
const SOT_ALL: &str = "sqco_ALLallALLallALLallALLallALLallALLallALLallALLallALLallALLal";
const SOT_REVOKED: &str = "sqco_REVOKEDrevokedREVOKEDrevokedREVOKEDrevokedREVOKEDrevokedRE";
const SQP_PAYMENTS: &str = "sqp_1111111111111111111111111111111111111111";
const SQU_BROWSE_ONLY: &str = "squ_2222222222222222222222222222222222222222";
const SQU_EXPIRED: &str = "squ_3333333333333333333333333333333333333333";

fn cloud_scenario(region: &str) -> Scenario {
    Scenario::from_yaml_str(&format!(
        r#"
flavor: cloud
region: {region}
organizations: [acme, other]
projects:
  - {{key: acme_payments, organization: acme, visibility: private}}
  - {{key: acme_docs, organization: acme, visibility: public}}
  - {{key: acme_ledger, organization: acme, visibility: private}}
  - {{key: other_app, organization: other, visibility: private}}
tokens:
  - {{value: "{SOT_PAYMENTS}", kind: sot, organization: acme, projects: [acme_payments]}}
  - {{value: "{SOT_ALL}", kind: sot, organization: acme, projects: all}}
  - {{value: "{SOT_REVOKED}", kind: sot, organization: acme, projects: all, state: revoked}}
"#
    ))
    .unwrap()
}

fn server_scenario() -> Scenario {
    Scenario::from_yaml_str(&format!(
        r#"
flavor: server
projects:
  - {{key: acme_payments, visibility: private}}
  - {{key: acme_docs, visibility: public}}
tokens:
  - {{value: "{SQP_PAYMENTS}", kind: project-analysis, projects: [acme_payments], expires: "2099-01-01"}}
  - {{value: "{SQU_BROWSE_ONLY}", kind: user, browse: all}}
  - {{value: "{SQU_EXPIRED}", kind: user, scan: all, state: expired}}
"#
    ))
    .unwrap()
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Flavor {
    Server,
    CloudGlobal,
    CloudUs,
}

/// A running emulator for one flavor, and the variables that point scantoken at it.
struct Setup {
    emulator: BlockingEmulator,
    _proxy: Option<ConnectProxy>,
    env: Vec<(String, String)>,
    dir: tempfile::TempDir,
}

fn official_hosts(flavor: Flavor) -> (&'static str, &'static str) {
    match flavor {
        Flavor::CloudUs => ("sonarqube.us", "api.sonarqube.us"),
        _ => ("sonarcloud.io", "api.sonarcloud.io"),
    }
}

fn addr_of(url: &str) -> SocketAddr {
    let u = url::Url::parse(url).unwrap();
    format!("{}:{}", u.host_str().unwrap(), u.port().unwrap())
        .parse()
        .unwrap()
}

struct Options {
    faults: Vec<FaultRule>,
    with_ca: bool,
    proxy_refuses: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            faults: vec![],
            with_ca: true,
            proxy_refuses: false,
        }
    }
}

fn setup(flavor: Flavor, options: Options) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    match flavor {
        Flavor::Server => {
            let emulator = start_blocking(EmulatorConfig {
                scenario: server_scenario(),
                tls: None,
                faults: options.faults,
                latency_ms: 0,
            })
            .unwrap();
            let env = pairs(&[
                ("SONAR_HOST_URL", &emulator.web_url()),
                ("SONAR_TOKEN", SQP_PAYMENTS),
            ]);
            Setup {
                emulator,
                _proxy: None,
                env,
                dir,
            }
        }
        Flavor::CloudGlobal | Flavor::CloudUs => {
            let (web, api) = official_hosts(flavor);
            let pki = TestPki::generate(&[web, api, "localhost", "127.0.0.1"]).unwrap();
            let ca = dir.path().join("ca.pem");
            std::fs::write(&ca, &pki.ca_pem).unwrap();
            let emulator = start_blocking(EmulatorConfig {
                scenario: cloud_scenario(if flavor == Flavor::CloudUs {
                    "us"
                } else {
                    "global"
                }),
                tls: Some(TlsFiles {
                    cert_pem: pki.server_cert_pem.clone(),
                    key_pem: pki.server_key_pem.clone(),
                }),
                faults: options.faults,
                latency_ms: 0,
            })
            .unwrap();
            let routes = HashMap::from([
                (format!("{web}:443"), addr_of(&emulator.web_url())),
                (format!("{api}:443"), addr_of(&emulator.api_url())),
            ]);
            let proxy = ConnectProxy::start(routes, options.proxy_refuses);
            let mut env = pairs(&[
                ("HTTPS_PROXY", &proxy.url()),
                ("SONAR_ORGANIZATION", "acme"),
                ("SONAR_TOKEN", SOT_PAYMENTS),
            ]);
            if flavor == Flavor::CloudUs {
                set(&mut env, "SONAR_REGION", "us");
            }
            if options.with_ca {
                set(&mut env, "SCANTOKEN_CA_FILE", ca.to_str().unwrap());
            }
            Setup {
                emulator,
                _proxy: Some(proxy),
                env,
                dir,
            }
        }
    }
}

impl Setup {
    /// `scantoken verify --json` for a project: exit code, parsed report, stderr.
    fn verify(&self, project: &str, extra: &[(&str, &str)]) -> (i32, Value, String) {
        let mut env = self.env.clone();
        set(&mut env, "SCANTOKEN_PROJECT_KEY", project);
        for (k, v) in extra {
            set(&mut env, k, v);
        }
        let (code, stdout, stderr) = scantoken(
            self.dir.path(),
            &env,
            &["verify", "--json", "--retries", "1"],
        );
        let report: Value =
            serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"));
        (code, report, stderr)
    }

    fn paths_requested(&self) -> Vec<String> {
        self.emulator.log().iter().map(|r| r.path.clone()).collect()
    }
}

fn assert_verdict(report: &Value, code: i32, verdict: &str, exit: i32, cause_mentions: &str) {
    assert_eq!(report["verdict"], verdict, "{report:#}");
    assert_eq!(code, exit, "{report:#}");
    let cause = report["cause"].as_str().unwrap();
    assert!(
        cause.contains(cause_mentions),
        "cause should mention {cause_mentions:?}: {cause}"
    );
    assert!(!report["next_step"].as_str().unwrap().is_empty());
}

const ALL: [Flavor; 3] = [Flavor::Server, Flavor::CloudGlobal, Flavor::CloudUs];

#[test]
fn ok_without_browse_rights_on_every_flavor() {
    for flavor in ALL {
        let s = setup(flavor, Options::default());
        let (code, report, stderr) = s.verify("acme_payments", &[]);
        assert_verdict(&report, code, "ok", 0, "acme_payments");
        assert!(
            report["probes"].as_array().unwrap().len() >= 3,
            "{flavor:?} {stderr}"
        );
        for path in s.paths_requested() {
            for browse in scantoken::sonar::plan::BROWSE_ONLY_PATHS {
                assert!(
                    !path.starts_with(browse),
                    "{flavor:?} called browse-only {path}"
                );
            }
        }
        let log = s.emulator.log();
        assert!(
            log.iter()
                .filter(|r| r.path != "/api/server/version")
                .all(|r| r.auth_scheme == "bearer"),
            "{log:?}"
        );
    }
}

#[test]
fn sot_outside_its_scope_has_no_scan_permission_even_on_a_public_project() {
    for flavor in [Flavor::CloudGlobal, Flavor::CloudUs] {
        let s = setup(flavor, Options::default());
        let (code, report, _) = s.verify("acme_docs", &[]);
        assert_verdict(&report, code, "no-scan-permission", 1, "acme_docs");
        // A private project of the same organization, outside the token's scope.
        let (code, report, _) = s.verify("acme_ledger", &[]);
        assert_verdict(&report, code, "no-scan-permission", 1, "acme_ledger");
    }
    let s = setup(Flavor::Server, Options::default());
    let (code, report, _) = s.verify("acme_docs", &[]);
    assert_verdict(&report, code, "no-scan-permission", 1, "acme_docs");
    let (code, report, _) = s.verify("acme_payments", &[("SONAR_TOKEN", SQU_BROWSE_ONLY)]);
    assert_verdict(&report, code, "no-scan-permission", 1, "acme_payments");
}

#[test]
fn project_not_found_on_every_flavor() {
    for flavor in ALL {
        let s = setup(flavor, Options::default());
        let (code, report, _) = s.verify("acme_missing", &[]);
        assert_verdict(&report, code, "project-not-found", 1, "acme_missing");
    }
}

#[test]
fn organization_mismatch_on_cloud() {
    for flavor in [Flavor::CloudGlobal, Flavor::CloudUs] {
        let s = setup(flavor, Options::default());
        let (code, report, _) = s.verify("acme_payments", &[("SONAR_ORGANIZATION", "other")]);
        assert_verdict(&report, code, "organization-mismatch", 1, "other");
        let (code, report, _) = s.verify("acme_payments", &[("SONAR_ORGANIZATION", "nope")]);
        assert_verdict(&report, code, "organization-mismatch", 1, "nope");
        let mut env = s.env.clone();
        env.retain(|(k, _)| k != "SONAR_ORGANIZATION");
        set(&mut env, "SCANTOKEN_PROJECT_KEY", "acme_payments");
        let (code, stdout, _) = scantoken(s.dir.path(), &env, &["verify", "--json"]);
        let report: Value = serde_json::from_str(&stdout).unwrap();
        assert_verdict(&report, code, "organization-mismatch", 1, "no organization");
    }
}

#[test]
fn token_rejected_on_every_flavor() {
    for flavor in ALL {
        let s = setup(flavor, Options::default());
        let bad = if flavor == Flavor::Server {
            SQU_EXPIRED
        } else {
            SOT_REVOKED
        };
        let (code, report, _) = s.verify("acme_payments", &[("SONAR_TOKEN", bad)]);
        assert_verdict(&report, code, "token-rejected", 1, "rejected");
        let (code, report, _) =
            s.verify("acme_payments", &[("SONAR_TOKEN", "sqco_unknownunknown")]);
        assert_verdict(&report, code, "token-rejected", 1, "rejected");
    }
}

#[test]
fn token_missing_says_why_on_every_flavor() {
    for flavor in ALL {
        let s = setup(flavor, Options::default());
        let (code, report, _) = s.verify("acme_payments", &[("SONAR_TOKEN", "")]);
        assert_verdict(
            &report,
            code,
            "token-missing",
            1,
            "SONAR_TOKEN is set but empty",
        );
        assert!(
            s.emulator.log().is_empty(),
            "nothing is sent without a token"
        );
    }
}

#[test]
fn server_error_after_bounded_retries_on_every_flavor() {
    for flavor in ALL {
        let faults = vec![FaultRule::status("*", 503, None, None)];
        let s = setup(
            flavor,
            Options {
                faults,
                ..Options::default()
            },
        );
        let (code, report, _) = s.verify("acme_payments", &[]);
        assert_verdict(&report, code, "server-error", 3, "503");
        let probe = &report["probes"][0];
        assert_eq!(
            probe["attempts"], 2,
            "--retries 1 means two attempts: {probe}"
        );
    }
}

#[test]
fn unreachable_on_every_flavor() {
    for flavor in ALL {
        let faults = vec![FaultRule::reset("*", None)];
        let s = setup(
            flavor,
            Options {
                faults,
                ..Options::default()
            },
        );
        let (code, report, _) = s.verify("acme_payments", &[]);
        assert_verdict(&report, code, "unreachable", 3, "could not be reached");
    }
    // Nothing listens there at all.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let s = setup(Flavor::Server, Options::default());
    let (code, report, _) = s.verify(
        "acme_payments",
        &[("SONAR_HOST_URL", &format!("http://127.0.0.1:{port}"))],
    );
    assert_verdict(
        &report,
        code,
        "unreachable",
        3,
        &format!("127.0.0.1:{port}"),
    );
}

#[test]
fn tls_untrusted_without_the_ca_and_ok_with_it() {
    for flavor in [Flavor::CloudGlobal, Flavor::CloudUs] {
        let s = setup(
            flavor,
            Options {
                with_ca: false,
                ..Options::default()
            },
        );
        let (code, report, _) = s.verify("acme_payments", &[]);
        assert_verdict(&report, code, "tls-untrusted", 3, "TLS");
        assert!(report["next_step"].as_str().unwrap().contains("--ca-file"));
    }
    // Server over https with a private CA: refused, then accepted with --ca-file.
    let pki = TestPki::generate(&["localhost", "127.0.0.1"]).unwrap();
    let emulator = start_blocking(EmulatorConfig {
        scenario: server_scenario(),
        tls: Some(TlsFiles {
            cert_pem: pki.server_cert_pem.clone(),
            key_pem: pki.server_key_pem.clone(),
        }),
        faults: vec![],
        latency_ms: 0,
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), &pki.ca_pem).unwrap();
    let env = pairs(&[
        ("SONAR_HOST_URL", &emulator.web_url()),
        ("SONAR_TOKEN", SQP_PAYMENTS),
        ("SCANTOKEN_PROJECT_KEY", "acme_payments"),
    ]);
    let (code, stdout, _) = scantoken(dir.path(), &env, &["verify", "--json"]);
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_verdict(&report, code, "tls-untrusted", 3, "TLS");
    let (code, stdout, _) = scantoken(
        dir.path(),
        &env,
        &["verify", "--json", "--ca-file", "ca.pem"],
    );
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_verdict(&report, code, "ok", 0, "acme_payments");
    let mut env = env;
    set(&mut env, "SONAR_ROOT_CERT", &pki.ca_pem);
    let (code, stdout, _) = scantoken(dir.path(), &env, &["verify", "--json"]);
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_verdict(&report, code, "ok", 0, "acme_payments");
}

#[test]
fn through_a_proxy_and_proxy_error_when_it_refuses() {
    let s = setup(Flavor::CloudGlobal, Options::default());
    let (code, report, _) = s.verify("acme_payments", &[]);
    assert_verdict(&report, code, "ok", 0, "acme_payments");
    let tunnels = s._proxy.as_ref().unwrap().requests();
    assert!(
        tunnels.iter().any(|t| t == "CONNECT sonarcloud.io:443"),
        "{tunnels:?}"
    );
    assert!(
        tunnels.iter().any(|t| t == "CONNECT api.sonarcloud.io:443"),
        "{tunnels:?}"
    );
    for flavor in [Flavor::CloudGlobal, Flavor::CloudUs] {
        let s = setup(
            flavor,
            Options {
                proxy_refuses: true,
                ..Options::default()
            },
        );
        let (code, report, _) = s.verify("acme_payments", &[]);
        assert_verdict(&report, code, "proxy-error", 3, "proxy");
        assert!(s.emulator.log().is_empty());
    }
    // SonarQube Server behind a proxy that refuses the tunnel.
    let refusing = ConnectProxy::start(HashMap::new(), true);
    let dir = tempfile::tempdir().unwrap();
    let env = pairs(&[
        ("SONAR_HOST_URL", "https://sonar.acme.example"),
        ("HTTPS_PROXY", &refusing.url()),
        ("SONAR_TOKEN", SQP_PAYMENTS),
        ("SCANTOKEN_PROJECT_KEY", "acme_payments"),
        ("SCANTOKEN_RETRIES", "0"),
    ]);
    let (code, stdout, _) = scantoken(dir.path(), &env, &["verify", "--json"]);
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_verdict(&report, code, "proxy-error", 3, "sonar.acme.example");
    assert!(
        refusing
            .requests()
            .iter()
            .any(|r| r == "CONNECT sonar.acme.example:443"),
        "{:?}",
        refusing.requests()
    );
}

#[test]
fn dependabot_pull_request_token_missing_says_why_and_skips() {
    let dir = tempfile::tempdir().unwrap();
    let mut env = common::fixture_env("github/pull_request_dependabot");
    for (k, v) in [
        ("GITHUB_ENV", dir.path().join("env").to_str().unwrap()),
        ("SONAR_TOKEN", ""),
        ("SONAR_ORGANIZATION", "acme"),
        ("SCANTOKEN_PROJECT_KEY", "acme_payments"),
    ] {
        set(&mut env, k, v);
    }
    let (code, stdout, _) = scantoken(dir.path(), &env, &["verify", "--json"]);
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_verdict(&report, code, "token-missing", 1, "Dependabot");
    assert!(
        report["cause"]
            .as_str()
            .unwrap()
            .contains("Dependabot secrets"),
        "the cause says where the token belongs: {report:#}"
    );
    let (code, _, stderr) = scantoken(dir.path(), &env, &["export", "--on-missing-token", "skip"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(!dir.path().join("env").exists(), "nothing exported");
}

#[test]
fn insecure_host_is_refused_before_anything_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let env = pairs(&[
        ("SONAR_HOST_URL", "http://sonar.example.com"),
        ("SONAR_TOKEN", SQP_PAYMENTS),
        ("SCANTOKEN_PROJECT_KEY", "acme_payments"),
    ]);
    let (code, stdout, _) = scantoken(dir.path(), &env, &["verify", "--json"]);
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_verdict(&report, code, "insecure-host", 2, "sonar.example.com");
    assert!(report["probes"].as_array().unwrap().is_empty());
}

#[test]
fn retries_a_503_then_succeeds_and_sends_a_401_once() {
    let faults = vec![FaultRule::status(
        "/api/analysis_cache/get",
        503,
        None,
        Some(1),
    )];
    let s = setup(
        Flavor::Server,
        Options {
            faults,
            ..Options::default()
        },
    );
    let (code, report, _) = s.verify("acme_payments", &[]);
    assert_verdict(&report, code, "ok", 0, "acme_payments");
    let cache_calls = s
        .paths_requested()
        .iter()
        .filter(|p| *p == "/api/analysis_cache/get")
        .count();
    assert_eq!(cache_calls, 2, "one 503, then the answer");

    s.emulator.clear_log();
    let (code, report, _) = s.verify("acme_payments", &[("SONAR_TOKEN", SQU_EXPIRED)]);
    assert_verdict(&report, code, "token-rejected", 1, "rejected");
    let cache_calls = s
        .paths_requested()
        .iter()
        .filter(|p| *p == "/api/analysis_cache/get")
        .count();
    assert_eq!(cache_calls, 1, "a 401 is never retried");
}

#[test]
fn retry_after_is_honoured_within_a_bound() {
    let faults = vec![FaultRule::status(
        "/api/analysis_cache/get",
        429,
        Some(1),
        Some(1),
    )];
    let s = setup(
        Flavor::Server,
        Options {
            faults,
            ..Options::default()
        },
    );
    let (code, report, _) = s.verify("acme_payments", &[]);
    assert_verdict(&report, code, "ok", 0, "acme_payments");
    let log = s.emulator.log();
    let cache: Vec<_> = log
        .iter()
        .filter(|r| r.path == "/api/analysis_cache/get")
        .collect();
    assert_eq!(cache.len(), 2);
    let waited_us = cache[1].received_us - cache[0].responded_us;
    assert!(
        waited_us >= 900_000,
        "waited {waited_us} µs for Retry-After: 1"
    );
    let probe = report["probes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["role"] == "scan")
        .unwrap();
    assert!(
        probe["retries"].to_string().contains("Retry-After 1 s"),
        "{probe}"
    );

    // A Retry-After beyond the bound ends the retries at once.
    let faults = vec![FaultRule::status(
        "/api/analysis_cache/get",
        429,
        Some(3600),
        None,
    )];
    let s = setup(
        Flavor::Server,
        Options {
            faults,
            ..Options::default()
        },
    );
    let (code, report, _) = s.verify("acme_payments", &[]);
    assert_verdict(&report, code, "server-error", 3, "3600");
}

#[test]
fn expiry_and_personal_token_warnings() {
    let s = setup(Flavor::Server, Options::default());
    let soon = {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            / 86_400;
        // days → civil date, via the same arithmetic the binary is tested with
        let (y, m, d) = civil(now as i64 + 3);
        format!("{y:04}-{m:02}-{d:02}")
    };
    drop(s);
    let scenario = Scenario::from_yaml_str(&format!(
        r#"
flavor: server
projects: [{{key: acme_payments, visibility: private}}]
tokens:
  - {{value: "{SQU_BROWSE_ONLY}", kind: user, scan: all, expires: "{soon}"}}
"#
    ))
    .unwrap();
    let emulator = start_blocking(EmulatorConfig {
        scenario,
        tls: None,
        faults: vec![],
        latency_ms: 0,
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let env = pairs(&[
        ("SONAR_HOST_URL", &emulator.web_url()),
        ("SONAR_TOKEN", SQU_BROWSE_ONLY),
        ("SCANTOKEN_PROJECT_KEY", "acme_payments"),
    ]);
    let (code, stdout, _) = scantoken(dir.path(), &env, &["verify", "--json"]);
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_verdict(&report, code, "ok", 0, "acme_payments");
    let warnings = report["warnings"].to_string();
    assert!(
        warnings.contains(&soon) && warnings.contains("in 3 day(s)"),
        "{warnings}"
    );
    assert!(warnings.contains("user token"), "{warnings}");
}

fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[test]
fn export_verifies_first_and_writes_nothing_on_failure() {
    let s = setup(Flavor::Server, Options::default());
    let mut env = s.env.clone();
    set(&mut env, "SCANTOKEN_PROJECT_KEY", "acme_missing");
    let (code, stdout, stderr) = scantoken(s.dir.path(), &env, &["export", "--format", "shell"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stdout.is_empty(), "nothing exported: {stdout}");
    assert!(stderr.contains("project-not-found"), "{stderr}");
    set(&mut env, "SCANTOKEN_PROJECT_KEY", "acme_payments");
    let (code, stdout, stderr) = scantoken(s.dir.path(), &env, &["export", "--format", "shell"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains(&format!("export SONAR_TOKEN='{SQP_PAYMENTS}'")),
        "{stdout}"
    );
    assert!(stderr.contains("Verdict: ok"), "{stderr}");
}

#[test]
fn on_unreachable_warn_exports_anyway() {
    let faults = vec![FaultRule::status("*", 503, None, None)];
    let s = setup(
        Flavor::Server,
        Options {
            faults,
            ..Options::default()
        },
    );
    let mut env = s.env.clone();
    set(&mut env, "SCANTOKEN_PROJECT_KEY", "acme_payments");
    set(&mut env, "INPUT_ON-UNREACHABLE", "warn");
    let (code, stdout, stderr) = scantoken(
        s.dir.path(),
        &env,
        &["export", "--format", "shell", "--retries", "0"],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("export SONAR_TOKEN="), "{stdout}");
    assert!(stderr.contains("--on-unreachable warn"), "{stderr}");
}

#[test]
fn probes_go_out_concurrently() {
    let s = setup(
        Flavor::Server,
        Options {
            faults: vec![FaultRule::latency("*", 300)],
            ..Options::default()
        },
    );
    let (code, report, _) = s.verify("acme_payments", &[]);
    assert_verdict(&report, code, "ok", 0, "acme_payments");
    let log = s.emulator.log();
    let first_response = log.iter().map(|r| r.responded_us).min().unwrap();
    assert!(
        log.iter().all(|r| r.received_us < first_response),
        "every probe was sent before any answer: {log:?}"
    );
    let _ = Path::new(".");
}

/// A canary token through every verdict, with the most verbose output: it appears nowhere
/// but in the one place it must (the SONAR_TOKEN export, and the runner's mask command).
#[test]
fn canary_token_never_leaks() {
    const CANARY: &str = "sqco_CANARYcanaryCANARYcanaryCANARYcanaryCANARYcanaryCANARYcana";
    let scenario = |extra: &str| {
        Scenario::from_yaml_str(&format!(
            r#"
flavor: cloud
organizations: [acme, other]
projects:
  - {{key: acme_payments, organization: acme, visibility: private}}
  - {{key: acme_docs, organization: acme, visibility: public}}
tokens:
  - {{value: "{CANARY}", kind: sot, organization: acme, projects: [acme_payments]{extra}}}
"#
        ))
        .unwrap()
    };
    let good = start_blocking(EmulatorConfig {
        scenario: scenario(""),
        tls: None,
        faults: vec![],
        latency_ms: 0,
    })
    .unwrap();
    let revoked = start_blocking(EmulatorConfig {
        scenario: scenario(", state: revoked"),
        tls: None,
        faults: vec![],
        latency_ms: 0,
    })
    .unwrap();
    let failing = start_blocking(EmulatorConfig {
        scenario: scenario(""),
        tls: None,
        faults: vec![FaultRule::status("*", 503, None, None)],
        latency_ms: 0,
    })
    .unwrap();
    let pki = TestPki::generate(&["localhost", "127.0.0.1"]).unwrap();
    let tls = start_blocking(EmulatorConfig {
        scenario: scenario(""),
        tls: Some(TlsFiles {
            cert_pem: pki.server_cert_pem.clone(),
            key_pem: pki.server_key_pem.clone(),
        }),
        faults: vec![],
        latency_ms: 0,
    })
    .unwrap();
    let refusing = ConnectProxy::start(HashMap::new(), true);
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let closed = format!("http://127.0.0.1:{closed}");
    let at = |e: &BlockingEmulator| {
        vec![
            ("SONAR_SCANNER_SONARCLOUD_URL", e.web_url()),
            ("SONAR_SCANNER_API_BASE_URL", e.api_url()),
        ]
    };
    let cases: Vec<(&str, Vec<(&str, String)>)> = vec![
        ("ok", at(&good)),
        (
            "no-scan-permission",
            [
                at(&good),
                vec![("SCANTOKEN_PROJECT_KEY", "acme_docs".into())],
            ]
            .concat(),
        ),
        (
            "project-not-found",
            [
                at(&good),
                vec![("SCANTOKEN_PROJECT_KEY", "acme_nope".into())],
            ]
            .concat(),
        ),
        (
            "organization-mismatch",
            [at(&good), vec![("SONAR_ORGANIZATION", "other".into())]].concat(),
        ),
        ("token-rejected", at(&revoked)),
        ("server-error", at(&failing)),
        ("tls-untrusted", at(&tls)),
        (
            "unreachable",
            vec![
                ("SONAR_SCANNER_SONARCLOUD_URL", closed.clone()),
                ("SONAR_SCANNER_API_BASE_URL", closed.clone()),
            ],
        ),
        (
            "proxy-error",
            vec![
                ("SONAR_HOST_URL", "https://sonarcloud.io".into()),
                ("HTTPS_PROXY", refusing.url()),
            ],
        ),
        (
            "insecure-host",
            vec![("SONAR_HOST_URL", "http://sonar.example.com".into())],
        ),
    ];
    for (verdict, vars) in cases {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let mut env = pairs(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_EVENT_NAME", "push"),
            ("GITHUB_REF", "refs/heads/main"),
            ("GITHUB_SHA", "0123456789012345678901234567890123456789"),
            ("RUNNER_DEBUG", "1"),
            ("SONAR_TOKEN", CANARY),
            ("SONAR_ORGANIZATION", "acme"),
            ("SCANTOKEN_PROJECT_KEY", "acme_payments"),
            ("SCANTOKEN_RETRIES", "0"),
            ("GITHUB_ENV", d.join("env").to_str().unwrap()),
            ("GITHUB_OUTPUT", d.join("output").to_str().unwrap()),
            ("GITHUB_STEP_SUMMARY", d.join("summary").to_str().unwrap()),
        ]);
        for (k, v) in vars {
            set(&mut env, k, &v);
        }
        let (_, json, json_err) = scantoken(d, &env, &["verify", "--json", "--verbose"]);
        assert!(
            json.contains(&format!("\"verdict\": \"{verdict}\"")),
            "{verdict}: {json}\n{json_err}"
        );
        let (code, stdout, stderr) = scantoken(d, &env, &["export", "--verbose"]);
        assert_eq!(code == 0, verdict == "ok", "{verdict}: {stderr}");
        assert!(
            stderr.contains("debug: credential"),
            "verbose output is on: {stderr}"
        );
        for (what, text) in [
            ("verify stdout", &json),
            ("verify stderr", &common::outside_masks(&json_err)),
            ("export stderr", &stderr),
        ] {
            assert!(
                !text.contains(CANARY),
                "{verdict}: the token leaked into {what}:\n{text}"
            );
        }
        for line in stdout.lines().filter(|l| l.contains(CANARY)) {
            assert_eq!(
                line,
                format!("::add-mask::{CANARY}"),
                "{verdict}: only the mask command names the token"
            );
        }
        for file in ["summary", "output"] {
            let text = std::fs::read_to_string(d.join(file)).unwrap_or_default();
            assert!(
                !text.contains(CANARY),
                "{verdict}: the token leaked into {file}"
            );
        }
        let exported = std::fs::read_to_string(d.join("env")).unwrap_or_default();
        assert_eq!(
            exported.matches(CANARY).count(),
            usize::from(verdict == "ok"),
            "{verdict}: {exported}"
        );
    }
}

#[test]
fn a_slow_body_hits_the_timeout_and_is_unreachable() {
    let faults = vec![FaultRule::slow_body(
        "/api/authentication/validate",
        4000,
        None,
    )];
    let s = setup(
        Flavor::Server,
        Options {
            faults,
            ..Options::default()
        },
    );
    let mut env = s.env.clone();
    set(&mut env, "SCANTOKEN_PROJECT_KEY", "acme_payments");
    let start = std::time::Instant::now();
    let (code, stdout, _) = scantoken(
        s.dir.path(),
        &env,
        &["verify", "--json", "--timeout", "1", "--retries", "0"],
    );
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_verdict(&report, code, "unreachable", 3, "timed out");
    assert!(
        start.elapsed() < std::time::Duration::from_secs(4),
        "the timeout bounds the wait"
    );
}

#[test]
fn no_proxy_bypasses_the_proxy() {
    let s = setup(Flavor::Server, Options::default());
    let refusing = ConnectProxy::start(HashMap::new(), true);
    let (code, report, _) = s.verify(
        "acme_payments",
        &[
            ("HTTP_PROXY", &refusing.url()),
            ("HTTPS_PROXY", &refusing.url()),
            ("NO_PROXY", "127.0.0.1,localhost"),
        ],
    );
    assert_verdict(&report, code, "ok", 0, "acme_payments");
    assert!(
        refusing.requests().is_empty(),
        "nothing went through the proxy"
    );
}

#[test]
fn configuration_and_personal_token_warnings() {
    let scenario = Scenario::from_yaml_str(
        r#"
flavor: cloud
organizations: [acme]
projects: [{key: acme_payments, organization: acme}]
tokens: [{value: "0123456789abcdef0123456789abcdef01234567", kind: personal, scan: all}]
"#,
    )
    .unwrap();
    let emulator = start_blocking(EmulatorConfig::new(scenario)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("sonar-project.properties"),
        "sonar.login=oldstyle\n",
    )
    .unwrap();
    let env = pairs(&[
        ("SONAR_SCANNER_SONARCLOUD_URL", &emulator.web_url()),
        ("SONAR_SCANNER_API_BASE_URL", &emulator.api_url()),
        ("SONAR_TOKEN", "0123456789abcdef0123456789abcdef01234567"),
        ("SONAR_ORGANIZATION", "acme"),
        ("SCANTOKEN_PROJECT_KEY", "acme_payments"),
    ]);
    let (code, stdout, _) = scantoken(dir.path(), &env, &["verify", "--json"]);
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_verdict(&report, code, "ok", 0, "acme_payments");
    let warnings = report["warnings"].to_string();
    assert!(warnings.contains("personal token"), "{warnings}");
    assert!(
        warnings.contains("sonar.login found in") && warnings.contains("sonar-project.properties"),
        "{warnings}"
    );
    assert_eq!(report["token"]["kind"], "personal");
    assert!(report["token"]["fingerprint"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));
}

#[test]
fn the_emulator_runs_standalone() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo/scenario.yaml");
    let ready = dir.path().join("ready");
    // The workspace builds both binaries into the same directory.
    let emulator = Path::new(env!("CARGO_BIN_EXE_scantoken")).with_file_name("sonar-emulator");
    let mut child = std::process::Command::new(emulator)
        .args([
            "--scenario",
            scenario.to_str().unwrap(),
            "--ready-file",
            ready.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::null())
        .spawn();
    let Ok(ref mut child) = child else {
        panic!("build the emulator binary first (cargo build --workspace): {child:?}");
    };
    for _ in 0..100 {
        if ready.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let lines = std::fs::read_to_string(&ready).unwrap();
    let url = |name: &str| {
        lines
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .unwrap()
            .to_owned()
    };
    let env = pairs(&[
        ("SONAR_SCANNER_SONARCLOUD_URL", &url("web")),
        ("SONAR_SCANNER_API_BASE_URL", &url("api")),
        (
            "SONAR_TOKEN",
            "sqco_DEMOdemoDEMOdemoDEMOdemoDEMOdemoDEMOdemoDEMOdemoDEMOdemoDEM",
        ),
        ("SONAR_ORGANIZATION", "acme"),
        ("SCANTOKEN_PROJECT_KEY", "acme_payments"),
    ]);
    let (code, stdout, _) = scantoken(dir.path(), &env, &["verify", "--json"]);
    let _ = child.kill();
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_verdict(&report, code, "ok", 0, "acme_payments");
}

/// The canary through every other token source (token map, Azure service connection, the
/// token input, Jenkins' variable) and every output format, for a passing and a failing
/// verdict, with debug output on: the token appears only where it must go.
#[test]
fn canary_never_leaks_from_any_source_or_format() {
    const CANARY: &str = "sqco_CANARYsourceCANARYsourceCANARYsourceCANARYsourceCANARYsour";
    let emulator = start_blocking(EmulatorConfig::new(
        Scenario::from_yaml_str(&format!(
            r#"
flavor: cloud
organizations: [acme]
projects:
  - {{key: acme_payments, organization: acme, visibility: private}}
  - {{key: acme_docs, organization: acme, visibility: private}}
tokens:
  - {{value: "{CANARY}", kind: sot, organization: acme, projects: [acme_payments]}}
"#
        ))
        .unwrap(),
    ))
    .unwrap();
    let sources: [(&str, Vec<(&str, &str)>); 4] = [
        (
            "token map",
            vec![
                (
                    "SCANTOKEN_TOKEN_MAP",
                    "rules:\n  - projects: [\"acme_*\"]\n    token-env: SONAR_TOKEN_ACME\n",
                ),
                ("SONAR_TOKEN_ACME", CANARY),
            ],
        ),
        (
            "service connection",
            vec![
                (
                    "INPUT_SONARCLOUDCONNECTION",
                    "5f0c2d1e-0000-4000-8000-00000000abcd",
                ),
                (
                    "ENDPOINT_AUTH_PARAMETER_5F0C2D1E-0000-4000-8000-00000000ABCD_APITOKEN",
                    CANARY,
                ),
            ],
        ),
        ("token input", vec![("INPUT_TOKEN", CANARY)]),
        ("Jenkins", vec![("SONAR_AUTH_TOKEN", CANARY)]),
    ];
    let formats = ["github", "azure", "shell", "json", "dotenv", "properties"];
    for (source, vars) in &sources {
        for project in ["acme_payments", "acme_docs"] {
            let ok = project == "acme_payments";
            for format in formats {
                let dir = tempfile::tempdir().unwrap();
                let d = dir.path();
                let mut env = pairs(&[
                    ("SONAR_SCANNER_SONARCLOUD_URL", &emulator.web_url()),
                    ("SONAR_SCANNER_API_BASE_URL", &emulator.api_url()),
                    ("SONAR_ORGANIZATION", "acme"),
                    ("SCANTOKEN_PROJECT_KEY", project),
                    ("SCANTOKEN_DEBUG", "true"),
                    ("GITHUB_ENV", d.join("env").to_str().unwrap()),
                    ("GITHUB_OUTPUT", d.join("output").to_str().unwrap()),
                    ("GITHUB_STEP_SUMMARY", d.join("summary").to_str().unwrap()),
                ]);
                for (k, v) in vars {
                    set(&mut env, k, v);
                }
                if format == "azure" {
                    // Azure's logging commands are refused outside an Azure Pipelines job.
                    set(&mut env, "TF_BUILD", "True");
                }
                let what = format!("{source}, {project}, --format {format}");
                let (code, stdout, stderr) = scantoken(d, &env, &["export", "--format", format]);
                assert_eq!(code == 0, ok, "{what}: {stderr}");
                assert!(stderr.contains("debug: credential"), "{what}: {stderr}");
                assert!(!stderr.contains(CANARY), "{what}: in stderr:\n{stderr}");
                for file in ["output", "summary"] {
                    let text = std::fs::read_to_string(d.join(file)).unwrap_or_default();
                    assert!(!text.contains(CANARY), "{what}: in {file}");
                }
                // In an Azure job the token is masked the moment it is obtained, whatever
                // the verdict; the secret variable follows only an ok.
                let expected: &[String] = &match (ok, format) {
                    (false, "azure") => vec![format!("##vso[task.setsecret]{CANARY}")],
                    (false, _) | (true, "json" | "dotenv" | "properties") => vec![],
                    (true, "github") => vec![format!("::add-mask::{CANARY}")],
                    (true, "azure") => vec![
                        format!("##vso[task.setsecret]{CANARY}"),
                        format!(
                            "##vso[task.setvariable variable=SONAR_TOKEN;issecret=true]{CANARY}"
                        ),
                    ],
                    (true, _) => vec![format!("export SONAR_TOKEN='{CANARY}'")],
                };
                let carrying: Vec<&str> = stdout.lines().filter(|l| l.contains(CANARY)).collect();
                assert_eq!(carrying, expected, "{what}: stdout:\n{stdout}");
                let env_file = std::fs::read_to_string(d.join("env")).unwrap_or_default();
                assert_eq!(
                    env_file.matches(CANARY).count(),
                    usize::from(ok && format == "github"),
                    "{what}: GITHUB_ENV:\n{env_file}"
                );
            }
        }
    }
}

/// A token map rule whose token expires within the warning window: a warning (not a
/// failure), with and without verification.
#[test]
fn token_map_expiry_warns_within_the_window() {
    let emulator = start_blocking(EmulatorConfig::new(cloud_scenario("global"))).unwrap();
    let soon = std::process::Command::new("date")
        .args(["-u", "-d", "+5 days", "+%Y-%m-%d"])
        .output()
        .unwrap();
    let soon = String::from_utf8(soon.stdout).unwrap().trim().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let map = format!(
        "rules:\n  - projects: [acme_payments]\n    token-env: SONAR_TOKEN_PAYMENTS\n    expires: {soon}\n"
    );
    let env = pairs(&[
        ("SONAR_SCANNER_SONARCLOUD_URL", &emulator.web_url()),
        ("SONAR_SCANNER_API_BASE_URL", &emulator.api_url()),
        ("SONAR_ORGANIZATION", "acme"),
        ("SCANTOKEN_PROJECT_KEY", "acme_payments"),
        ("SCANTOKEN_TOKEN_MAP", &map),
        ("SONAR_TOKEN_PAYMENTS", SOT_PAYMENTS),
    ]);
    let warning = format!("expires on {soon} (in 5 day(s))");
    let (code, stdout, stderr) = scantoken(dir.path(), &env, &["verify", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["verdict"], "ok");
    assert!(
        report["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().contains(&warning)),
        "{report:#}"
    );
    for extra in [&[][..], &["--no-verify"][..]] {
        let args = [&["export", "--format", "shell"][..], extra].concat();
        let (code, stdout, stderr) = scantoken(dir.path(), &env, &args);
        assert_eq!(code, 0, "{args:?}: {stderr}");
        assert!(stdout.contains("export SONAR_TOKEN="), "{args:?}");
        assert!(
            stderr.contains("warning: the token from variable SONAR_TOKEN_PAYMENTS")
                && stderr.contains(&warning),
            "{args:?}: {stderr}"
        );
    }
    // Outside the window (expiry-warning-days 3): no warning.
    let (_, _, stderr) = scantoken(
        dir.path(),
        &env,
        &["export", "--format", "shell", "--expiry-warning-days", "3"],
    );
    assert!(!stderr.contains(&warning), "{stderr}");
}
