//! The GitHub step summary as a person reads it on the run's page: one Markdown table row per
//! fact (what was built, the target, what was exported, each probe's answer), whatever a
//! hostile value in a cell holds. Through the real binary; the summary file is what GitHub
//! renders.

mod common;

use common::{scantoken, set};
use std::path::Path;

const CANARY: &str = "sqco_SUMMARYcanarySUMMARYcanarySUMMARYcanarySUMMARYcanarySUMMAR";
const SQP: &str = "sqp_5555555555555555555555555555555555555555";

/// A GitHub job of `event` at `git_ref`, its payload written into `dir`, every file command
/// pointed into `dir`.
fn github_job(
    dir: &Path,
    event: &str,
    git_ref: &str,
    payload: serde_json::Value,
) -> Vec<(String, String)> {
    let path = dir.join("event.json");
    std::fs::write(&path, payload.to_string()).unwrap();
    let file = |name: &str| dir.join(name).to_str().unwrap().to_owned();
    common::pairs(&[
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_EVENT_NAME", event),
        ("GITHUB_EVENT_PATH", path.to_str().unwrap()),
        ("GITHUB_REF", git_ref),
        ("GITHUB_SHA", "3333333333333333333333333333333333333333"),
        ("GITHUB_REPOSITORY", "acme/payments"),
        ("GITHUB_ACTOR", "octocat"),
        ("GITHUB_ENV", &file("github_env")),
        ("GITHUB_OUTPUT", &file("github_output")),
        ("GITHUB_STEP_SUMMARY", &file("summary.md")),
        ("SONAR_TOKEN", CANARY),
        ("SONAR_ORGANIZATION", "acme"),
        ("INPUT_PROJECT-KEY", "acme_payments"),
    ])
}

fn pull_request_payload(head: &str) -> serde_json::Value {
    serde_json::json!({
        "number": 42,
        "pull_request": {
            "number": 42,
            "head": {"ref": head, "sha": "1111111111111111111111111111111111111111",
                     "repo": {"full_name": "acme/payments"}},
            "base": {"ref": "main", "sha": "2222222222222222222222222222222222222222",
                     "repo": {"full_name": "acme/payments"}},
            "user": {"login": "octocat"}
        },
        "repository": {"full_name": "acme/payments", "default_branch": "main"}
    })
}

fn push_payload() -> serde_json::Value {
    serde_json::json!({"repository": {"full_name": "acme/payments", "default_branch": "main"}})
}

/// `scantoken export` (with `args`), then the summary file's text.
fn summary_of(dir: &Path, env: &[(String, String)], args: &[&str]) -> String {
    let (code, stdout, stderr) = scantoken(dir, env, &[&["export"], args].concat());
    assert_eq!(code, 0, "{stderr}");
    assert!(!common::outside_masks(&stdout).contains(CANARY) && !stderr.contains(CANARY));
    let summary = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    assert!(!summary.contains(CANARY), "{summary}");
    summary
}

/// The table row whose first cell is `key`.
fn row<'a>(summary: &'a str, key: &str) -> Option<&'a str> {
    summary
        .lines()
        .find(|l| l.starts_with(&format!("| {key} | ")))
}

#[test]
fn the_summary_names_the_pull_request_the_branch_or_the_tag_that_was_built() {
    let dir = tempfile::tempdir().unwrap();
    let env = github_job(
        dir.path(),
        "pull_request",
        "refs/pull/42/merge",
        pull_request_payload("feature/login"),
    );
    let summary = summary_of(dir.path(), &env, &["--no-verify"]);
    assert_eq!(
        row(&summary, "Pull request"),
        Some("| Pull request | #42 feature/login → main |"),
        "{summary}"
    );
    assert_eq!(row(&summary, "Branch"), None, "{summary}");
    assert_eq!(
        row(&summary, "CI"),
        Some("| CI | GitHub Actions (pull_request) |"),
        "{summary}"
    );

    let dir = tempfile::tempdir().unwrap();
    let env = github_job(dir.path(), "push", "refs/heads/release/1.x", push_payload());
    let summary = summary_of(dir.path(), &env, &["--no-verify"]);
    assert_eq!(
        row(&summary, "Branch"),
        Some("| Branch | release/1.x |"),
        "{summary}"
    );
    assert_eq!(row(&summary, "Pull request"), None, "{summary}");

    let dir = tempfile::tempdir().unwrap();
    let env = github_job(dir.path(), "push", "refs/tags/v1.2.3", push_payload());
    let summary = summary_of(dir.path(), &env, &["--no-verify"]);
    assert_eq!(row(&summary, "Tag"), Some("| Tag | v1.2.3 |"), "{summary}");
    assert_eq!(row(&summary, "Branch"), None, "{summary}");
}

#[test]
fn the_summary_lists_what_was_exported_and_no_probe_table_without_probes() {
    let dir = tempfile::tempdir().unwrap();
    let env = github_job(
        dir.path(),
        "pull_request",
        "refs/pull/42/merge",
        pull_request_payload("feature/login"),
    );
    let summary = summary_of(dir.path(), &env, &["--no-verify"]);
    let exported = row(&summary, "Exported").unwrap_or_else(|| panic!("{summary}"));
    assert!(
        exported.contains("SONAR_TOKEN (secret)") && exported.contains("SONAR_SCANNER_JSON_PARAMS"),
        "{exported}"
    );
    // Not verified: no probe was sent, so there is no probe table, not even an empty one.
    assert!(!summary.contains("| Probe |"), "{summary}");
}

/// A value in a cell cannot end the cell, the row or the table, nor open HTML or code: each
/// character that means something in a Markdown table is escaped, and a control character
/// (a line break ends the table) becomes a space.
#[test]
fn a_hostile_value_stays_inside_its_cell() {
    let dir = tempfile::tempdir().unwrap();
    let mut env = github_job(
        dir.path(),
        "pull_request",
        "refs/pull/42/merge",
        pull_request_payload("feature/login"),
    );
    set(
        &mut env,
        "GITHUB_REPOSITORY",
        "acme/a|b<i>c&d`e\\f\u{1}g\nh\ri\tj",
    );
    let summary = summary_of(dir.path(), &env, &["--no-verify"]);
    assert_eq!(
        row(&summary, "Repository"),
        Some("| Repository | acme/a\\|b&lt;i&gt;c&amp;d\\`e\\\\f g h i j |"),
        "{summary}"
    );
    // The row is whole: the text after the line break did not start a line of its own.
    assert!(!summary.lines().any(|l| l.starts_with('h')), "{summary}");
}

/// A verified export shows each probe's request and answer, one row each.
#[test]
fn the_summary_shows_each_probe_and_its_answer() {
    let emulator = sonar_emulator::start_blocking(sonar_emulator::EmulatorConfig {
        scenario: sonar_emulator::Scenario::from_yaml_str(&format!(
            "flavor: server\nprojects:\n  - {{key: acme_payments, visibility: private}}\ntokens:\n  - {{value: \"{SQP}\", kind: project-analysis, projects: [acme_payments]}}\n"
        ))
        .unwrap(),
        tls: None,
        faults: vec![],
        latency_ms: 0,
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut env = github_job(
        dir.path(),
        "pull_request",
        "refs/pull/42/merge",
        pull_request_payload("feature/login"),
    );
    set(&mut env, "SONAR_HOST_URL", &emulator.web_url());
    set(&mut env, "SONAR_TOKEN", SQP);
    env.retain(|(k, _)| k != "SONAR_ORGANIZATION");
    let (code, _, stderr) = scantoken(dir.path(), &env, &["export", "--retries", "0"]);
    assert_eq!(code, 0, "{stderr}");
    let summary = std::fs::read_to_string(dir.path().join("summary.md")).unwrap();
    assert!(summary.starts_with("### ✅ scantoken: `ok`"), "{summary}");
    let probes: Vec<&str> = summary
        .lines()
        .skip_while(|l| *l != "| Probe | Answer |")
        .skip(2)
        .take_while(|l| l.starts_with("| "))
        .collect();
    assert!(probes.len() >= 3, "{summary}");
    let host = emulator.web_url();
    for probe in &probes {
        assert!(
            probe.starts_with("| GET ") && probe.contains(host.trim_end_matches('/')),
            "each probe names its request: {probe}"
        );
    }
    assert!(
        probes.iter().any(|p| p.contains("/api/server/version")),
        "{summary}"
    );
    assert!(!summary.contains(SQP), "{summary}");
}
