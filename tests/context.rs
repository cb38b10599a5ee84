//! `scantoken context --json` on each CI's real variables and payload shapes
//! (tests/fixtures/ci: one environment per case, `EXPECTED.json` the context a correct tool
//! derives, with the reasons for the non-obvious choices).

mod common;

use common::{ci_fixtures, fixture_env};
use serde_json::Value;

fn context_of(env: &[(String, String)]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = common::scantoken(dir.path(), env, &["context", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    serde_json::from_str::<Value>(&stdout).unwrap()["context"].clone()
}

#[test]
fn every_fixture_case_gives_the_expected_context() {
    let expected: serde_json::Map<String, Value> = serde_json::from_str(
        &std::fs::read_to_string(ci_fixtures().join("EXPECTED.json")).unwrap(),
    )
    .unwrap();
    assert!(
        expected.len() >= 60,
        "all cases of the issue are covered: {}",
        expected.len()
    );
    let mut failures = Vec::new();
    for (case, want) in &expected {
        let got = context_of(&fixture_env(case));
        for field in [
            "ci",
            "repository",
            "event",
            "branch",
            "tag",
            "revision",
            "fork",
            "dependabot",
            "default_branch",
            "is_default_branch",
        ] {
            if got[field] != want[field] {
                failures.push(format!(
                    "{case}: {field}: got {} want {}",
                    got[field], want[field]
                ));
            }
        }
        if got["pull_request"] != want["pull_request"] {
            failures.push(format!(
                "{case}: pull_request: got {} want {}",
                got["pull_request"], want["pull_request"]
            ));
        }
        let skip = !got["skip"].is_null();
        if Value::Bool(skip) != want["skip"] {
            failures.push(format!(
                "{case}: skip: got {} want {}",
                got["skip"], want["skip"]
            ));
        }
        if let Some(markers) = want.get("detected_by") {
            if &got["detected_by"] != markers {
                failures.push(format!(
                    "{case}: detected_by: got {} want {markers}",
                    got["detected_by"]
                ));
            }
        }
        let withheld = !got["secrets_withheld"].is_null();
        if Value::Bool(withheld) != want["secrets_withheld"] {
            failures.push(format!(
                "{case}: secrets_withheld: got {} want {}",
                got["secrets_withheld"], want["secrets_withheld"]
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn local_shell_reads_the_git_checkout() {
    let dir = tempfile::tempdir().unwrap();
    let git = |args: &[&str]| {
        let ok = std::process::Command::new("git")
            .args(args)
            .current_dir(dir.path())
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
            .output()
            .unwrap();
        assert!(
            ok.status.success(),
            "{}",
            String::from_utf8_lossy(&ok.stderr)
        );
        String::from_utf8(ok.stdout).unwrap().trim().to_owned()
    };
    git(&["init", "-q", "-b", "feature/local"]);
    git(&["commit", "-q", "--allow-empty", "-m", "x"]);
    let head = git(&["rev-parse", "HEAD"]);
    let (code, stdout, stderr) = common::scantoken(dir.path(), &[], &["context", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let ctx = &serde_json::from_str::<Value>(&stdout).unwrap()["context"];
    assert_eq!(ctx["ci"], "local");
    assert_eq!(ctx["event"], "branch");
    assert_eq!(ctx["branch"], "feature/local");
    assert_eq!(ctx["revision"], head.as_str());
}

#[test]
fn local_shell_without_git_knows_nothing_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = common::scantoken(dir.path(), &[], &["context"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("local shell") && stdout.contains("unknown"),
        "{stdout}"
    );
}

#[test]
fn pull_request_target_is_a_pull_request_with_a_note() {
    let ctx = context_of(&fixture_env("github/pull_request_target_fork"));
    assert_eq!(ctx["event"], "pull-request");
    assert!(
        ctx["notes"].to_string().contains("pull_request_target"),
        "{ctx}"
    );
}
