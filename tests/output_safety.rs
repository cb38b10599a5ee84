//! Nothing scantoken prints can be read as a command by the GitHub runner or the Azure agent,
//! and no secret appears anywhere (issue 10, findings 1–3): regression tests through the
//! binary, and property tests that feed hostile strings into every value a message can
//! quote, read back with parsers that follow the runner's and the agent's documented rules
//! (tests/support, docs/sonar-facts.md §6).

mod common;
#[allow(clippy::duplicate_mod)] // common also loads the runner's reader, for the scanner tests
mod support;

use common::{pairs, scantoken, set};
use proptest::prelude::*;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};
use support::{azure_agent, github_runner};

const CANARY: &str = "sqp_CANARYcanaryCANARYcanaryCANARYcanaryCA";

/// The commands a CI would act on in stdout and stderr together.
fn github_commands(stdout: &str, stderr: &str) -> Vec<github_runner::WorkflowCommand> {
    let mut all = github_runner::parse_workflow_commands(stdout);
    all.extend(github_runner::parse_workflow_commands(stderr));
    all
}

fn azure_commands(stdout: &str, stderr: &str) -> Vec<azure_agent::LoggingCommand> {
    let mut all = azure_agent::parse_logging_commands(stdout);
    all.extend(azure_agent::parse_logging_commands(stderr));
    all
}

/// Only scantoken's own commands: masks, and annotations titled `scantoken`.
fn assert_only_our_github_commands(stdout: &str, stderr: &str) {
    for c in github_commands(stdout, stderr) {
        let ours = match c.name.as_str() {
            "add-mask" => true,
            "error" | "warning" | "notice" => {
                c.properties == [("title".to_string(), "scantoken".to_string())]
            }
            _ => false,
        };
        assert!(
            ours,
            "a command scantoken did not mean: {c:?}\n{stdout}\n{stderr}"
        );
    }
    // The old `##[` form is a command too.
    for line in stdout.lines().chain(stderr.lines()) {
        assert!(!line.trim_start().starts_with("##["), "{line}");
    }
}

/// Only scantoken's own logging commands, and no variable it does not export.
fn assert_only_our_azure_commands(stdout: &str, stderr: &str) {
    for c in azure_commands(stdout, stderr) {
        let ours = match (c.area.as_str(), c.event.as_str()) {
            ("task", "setsecret") | ("task", "logissue") | ("task", "complete") => true,
            ("task", "setvariable") => c.properties.iter().any(|(k, v)| {
                k == "variable"
                    && (v.starts_with("SONAR")
                        || [
                            "verdict",
                            "project-key",
                            "host-url",
                            "projectKey",
                            "hostUrl",
                        ]
                        .contains(&v.as_str()))
            }),
            _ => false,
        };
        assert!(
            ours,
            "a command scantoken did not mean: {c:?}\n{stdout}\n{stderr}"
        );
    }
}

fn github_env(dir: &Path) -> Vec<(String, String)> {
    pairs(&[
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_EVENT_NAME", "push"),
        ("GITHUB_REF", "refs/heads/main"),
        ("GITHUB_SHA", "0123456789012345678901234567890123456789"),
        ("GITHUB_REPOSITORY", "acme/payments"),
        (
            "GITHUB_STEP_SUMMARY",
            dir.join("summary.md").to_str().unwrap(),
        ),
        ("GITHUB_ENV", dir.join("env").to_str().unwrap()),
        ("GITHUB_OUTPUT", dir.join("output").to_str().unwrap()),
        ("SONAR_TOKEN", CANARY),
    ])
}

fn azure_env() -> Vec<(String, String)> {
    pairs(&[
        ("TF_BUILD", "True"),
        ("BUILD_SOURCEBRANCH", "refs/heads/main"),
        (
            "BUILD_SOURCEVERSION",
            "0123456789012345678901234567890123456789",
        ),
        ("BUILD_REPOSITORY_PROVIDER", "TfsGit"),
        ("SONAR_TOKEN", CANARY),
    ])
}

// Finding 1: a committed sonar-project.properties cannot set an Azure variable through an
// error message.
#[test]
fn a_hostile_project_key_in_a_committed_file_sets_no_azure_variable() {
    for payload in [
        "##vso[task.setvariable variable=SONAR_HOST_URL]https://evil.example",
        "x##vso[task.prependpath]/tmp/evil",
        "##vso[task.complete result=Succeeded]done",
    ] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("sonar-project.properties"),
            format!("sonar.projectKey={payload}\n"),
        )
        .unwrap();
        let env = azure_env();
        for args in [&["context"][..], &["export"], &["verify", "--json"]] {
            let (code, stdout, stderr) = scantoken(dir.path(), &env, args);
            assert_eq!(code, 2, "{args:?}: {stderr}");
            assert!(stderr.contains("project key"), "{stderr}");
            assert_only_our_azure_commands(&stdout, &stderr);
            assert!(
                azure_commands(&stdout, &stderr)
                    .iter()
                    .all(|c| c.event != "setvariable"
                        && c.event != "prependpath"
                        && c.event != "complete"),
                "{stdout}\n{stderr}"
            );
        }
    }
}

// Finding 2: a token map pattern cannot add a workflow command (a newline and `::`), nor can
// the parser's error that quotes an invalid glob.
#[test]
fn a_hostile_token_map_pattern_adds_no_workflow_command() {
    let dir = tempfile::tempdir().unwrap();
    let mut env = github_env(dir.path());
    set(&mut env, "SCANTOKEN_PROJECT_KEY", "acme_payments");
    set(&mut env, "SONAR_ORGANIZATION", "acme");
    for pattern in [
        "\"a\\n::set-output name=x::y\\n::error::pwned\"",
        "\"[\\n::error::bad glob\"",
        "\"re:(\\n##[error]x\"",
    ] {
        let map = format!("rules:\n  - projects: [{pattern}]\n    token-env: SONAR_TOKEN\n");
        set(&mut env, "SCANTOKEN_TOKEN_MAP", &map);
        let (code, stdout, stderr) = scantoken(dir.path(), &env, &["export"]);
        assert_ne!(code, 0, "{stderr}");
        assert_only_our_github_commands(&stdout, &stderr);
        set(&mut env, "TF_BUILD", "True");
        set(&mut env, "GITHUB_ACTIONS", "false");
        let (_, stdout, stderr) = scantoken(dir.path(), &env, &["export"]);
        assert_only_our_azure_commands(&stdout, &stderr);
        set(&mut env, "TF_BUILD", "");
        set(&mut env, "GITHUB_ACTIONS", "true");
    }
}

/// A SonarQube Server stand-in: version and token answers as Sonar gives them, and an
/// analysis-cache answer of `status` whose message is `message` with `{auth}` replaced by
/// the Authorization header it received (a server that echoes the token back).
fn reflecting_server(status: u16, message: Arc<Mutex<String>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut first = String::new();
            let _ = reader.read_line(&mut first);
            let mut auth = String::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("authorization:") {
                    let start = line.len() - v.len();
                    auth = line[start..].trim().to_owned();
                }
            }
            let path = first.split_whitespace().nth(1).unwrap_or("/").to_owned();
            let (code, ctype, body) = if path.starts_with("/api/server/version") {
                (200, "text/plain", "10.7.0.96327".to_owned())
            } else if path.starts_with("/api/authentication/validate") {
                (200, "application/json", r#"{"valid":true}"#.to_owned())
            } else {
                let msg = message.lock().unwrap().replace("{auth}", &auth);
                let body = serde_json::json!({"errors": [{"msg": msg}]}).to_string();
                (status, "application/json", body)
            };
            let mut conn = conn;
            let _ = write!(
                conn,
                "HTTP/1.1 {code} X\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

// Finding 3: a server that echoes the token: masked first, redacted everywhere after.
#[test]
fn a_token_echoed_by_the_server_is_masked_first_and_printed_nowhere() {
    let message = Arc::new(Mutex::new(
        "Insufficient privileges for {auth} ::error::x ##vso[task.complete result=Failed]"
            .to_owned(),
    ));
    let url = reflecting_server(403, message);
    let dir = tempfile::tempdir().unwrap();
    let mut env = github_env(dir.path());
    set(&mut env, "SCANTOKEN_HOST_URL", &url);
    set(&mut env, "SCANTOKEN_PROJECT_KEY", "acme_payments");
    let (code, stdout, stderr) = scantoken(dir.path(), &env, &["export"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("no-scan-permission"), "{stderr}");
    assert!(
        stderr.contains("Insufficient privileges for Bearer ***"),
        "{stderr}"
    );
    assert_eq!(
        stdout.lines().next(),
        Some(format!("::add-mask::{CANARY}").as_str()),
        "the mask comes before anything else: {stdout}"
    );
    assert!(!common::outside_masks(&stdout).contains(CANARY), "{stdout}");
    assert!(!stderr.contains(CANARY), "{stderr}");
    let summary = std::fs::read_to_string(dir.path().join("summary.md")).unwrap();
    assert!(!summary.contains(CANARY), "{summary}");
    assert_only_our_github_commands(&stdout, &stderr);

    // The same on Azure, and in verify's JSON.
    let mut env = azure_env();
    set(&mut env, "SCANTOKEN_HOST_URL", &url);
    set(&mut env, "SCANTOKEN_PROJECT_KEY", "acme_payments");
    for args in [&["export"][..], &["verify", "--json"]] {
        let (_, stdout, stderr) = scantoken(dir.path(), &env, args);
        let first = stdout
            .lines()
            .chain(stderr.lines())
            .find(|l| l.contains(CANARY));
        assert_eq!(
            first,
            Some(format!("##vso[task.setsecret]{CANARY}").as_str())
        );
        assert!(!common::outside_masks(&stdout).contains(CANARY), "{stdout}");
        assert!(!common::outside_masks(&stderr).contains(CANARY), "{stderr}");
        assert_only_our_azure_commands(&stdout, &stderr);
    }
}

/// Strings made of what CI command syntax is made of, the token, and anything else.
fn hostile() -> impl Strategy<Value = String> {
    hostile_pieces(true)
}

/// A value exported as data (a branch name) is exported as it is: without the token.
fn hostile_data() -> impl Strategy<Value = String> {
    hostile_pieces(false)
}

fn hostile_pieces(with_token: bool) -> impl Strategy<Value = String> {
    let token = if with_token { CANARY } else { "sqp_" };
    let piece = prop_oneof![
        Just("::error::pwned".to_string()),
        Just("::add-mask::x".to_string()),
        Just("::set-output name=a::b".to_string()),
        Just("##vso[task.setvariable variable=SONAR_HOST_URL]https://evil".to_string()),
        Just("##vso[task.prependpath]/evil".to_string()),
        Just("##[error]x".to_string()),
        Just("\n".to_string()),
        Just("\r".to_string()),
        Just(" ".to_string()),
        Just("%0A".to_string()),
        Just("%".to_string()),
        Just(";".to_string()),
        Just("]".to_string()),
        Just("'\"`$(x)".to_string()),
        Just(token.to_string()),
        "\\PC{0,6}".prop_map(|s| s),
    ];
    prop::collection::vec(piece, 1..8).prop_map(|v| v.concat())
}

/// Runs scantoken in-process with `env` and `args`, on GitHub and on Azure, and checks
/// both CIs' readings of everything printed.
fn check_both_cis(dir: &Path, extra: &[(&str, &str)], args: &[&str]) -> Result<(), TestCaseError> {
    for ci in ["github", "azure"] {
        let mut env = if ci == "github" {
            github_env(dir)
        } else {
            azure_env()
        };
        for (k, v) in extra {
            set(&mut env, k, v);
        }
        let env = scantoken::env::Env::from_pairs(env);
        let mut stdout = Vec::new();
        let mut stderr = Vec::new();
        let argv = std::iter::once("scantoken")
            .chain(args.iter().copied())
            .map(Into::into);
        let _ = scantoken::cli::run(argv, &env, dir, &mut stdout, &mut stderr);
        let (stdout, stderr) = (
            String::from_utf8_lossy(&stdout).into_owned(),
            String::from_utf8_lossy(&stderr).into_owned(),
        );
        if ci == "github" {
            assert_only_our_github_commands(&stdout, &stderr);
        } else {
            assert_only_our_azure_commands(&stdout, &stderr);
        }
        prop_assert!(!common::outside_masks(&stdout).contains(CANARY), "{stdout}");
        prop_assert!(!common::outside_masks(&stderr).contains(CANARY), "{stderr}");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    // Exported values are data (a token pasted as the organization is exported as one), so
    // the token itself is left out of these strings; every message path still redacts it.
    fn any_project_key_organization_host_or_region(value in hostile_data()) {
        let dir = tempfile::tempdir().unwrap();
        for name in ["SCANTOKEN_PROJECT_KEY", "SONAR_ORGANIZATION", "SCANTOKEN_HOST_URL", "SCANTOKEN_REGION"] {
            let mut extra = vec![(name, value.as_str())];
            if name != "SCANTOKEN_PROJECT_KEY" {
                extra.push(("SCANTOKEN_PROJECT_KEY", "acme_payments"));
            }
            check_both_cis(dir.path(), &extra, &["context"])?;
            check_both_cis(dir.path(), &extra, &["export", "--no-verify"])?;
        }
    }

    #[test]
    fn any_branch(value in hostile_data()) {
        let dir = tempfile::tempdir().unwrap();
        let github_ref = format!("refs/heads/{value}");
        let extra = [
            ("GITHUB_REF", github_ref.as_str()),
            ("BUILD_SOURCEBRANCH", github_ref.as_str()),
            ("SCANTOKEN_PROJECT_KEY", "acme_payments"),
            ("SONAR_ORGANIZATION", "acme"),
        ];
        check_both_cis(dir.path(), &extra, &["context"])?;
        check_both_cis(dir.path(), &extra, &["export", "--no-verify", "--format", "json"])?;
    }

    #[test]
    fn any_token_map_pattern(value in hostile()) {
        let dir = tempfile::tempdir().unwrap();
        let pattern = serde_json::to_string(&value).unwrap();
        let map = format!("rules:\n  - projects: [{pattern}]\n    token-env: SONAR_TOKEN\n");
        let extra = [
            ("SCANTOKEN_TOKEN_MAP", map.as_str()),
            ("SCANTOKEN_PROJECT_KEY", "acme_payments"),
            ("SONAR_ORGANIZATION", "acme"),
        ];
        check_both_cis(dir.path(), &extra, &["export", "--no-verify"])?;
    }
}

#[test]
fn any_server_message() {
    let message = Arc::new(Mutex::new(String::new()));
    let url = reflecting_server(403, message.clone());
    let dir = tempfile::tempdir().unwrap();
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 24,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    runner
        .run(&hostile(), |value| {
            *message.lock().unwrap() = format!("{value} {{auth}}");
            let extra = [
                ("SCANTOKEN_HOST_URL", url.as_str()),
                ("SCANTOKEN_PROJECT_KEY", "acme_payments"),
            ];
            check_both_cis(dir.path(), &extra, &["export"])?;
            check_both_cis(dir.path(), &extra, &["verify", "--json"])?;
            Ok(())
        })
        .unwrap();
}
