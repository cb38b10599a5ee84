//! What a new user tripped on (issue 11's findings), each through the real binary: the
//! messages say what is true for this CI, these options and this command.

mod common;

use common::{pairs, scantoken, set};
use sonar_emulator::{start_blocking, BlockingEmulator, EmulatorConfig, Scenario};
use std::path::Path;

const SOT: &str = "sqco_PAYMENTSpaymentsPAYMENTSpaymentsPAYMENTSpaymentsPAYMENTSpay";

fn emulator() -> BlockingEmulator {
    let scenario = Scenario::from_yaml_str(&format!(
        r#"
flavor: cloud
organizations: [acme]
projects:
  - {{key: acme_payments, organization: acme}}
tokens:
  - {{value: "{SOT}", kind: sot, organization: acme, projects: [acme_payments]}}
"#
    ))
    .unwrap();
    start_blocking(EmulatorConfig::new(scenario)).unwrap()
}

fn cloud_env(e: &BlockingEmulator) -> Vec<(String, String)> {
    pairs(&[
        ("SONAR_SCANNER_SONARCLOUD_URL", &e.web_url()),
        ("SONAR_SCANNER_API_BASE_URL", &e.api_url()),
        ("SONAR_TOKEN", SOT),
        ("SONAR_ORGANIZATION", "acme"),
        ("SCANTOKEN_PROJECT_KEY", "acme_payments"),
    ])
}

// 1. The list of what was exported names only what was written.
#[test]
fn the_exported_list_leaves_out_what_the_format_left_out() {
    let e = emulator();
    let dir = tempfile::tempdir().unwrap();
    for format in ["dotenv", "properties", "json"] {
        let (code, _, stderr) =
            scantoken(dir.path(), &cloud_env(&e), &["export", "--format", format]);
        assert_eq!(code, 0, "{stderr}");
        let line = stderr
            .lines()
            .find(|l| l.starts_with("Exported ("))
            .unwrap();
        assert!(!line.contains("SONAR_TOKEN"), "{format}: {line}");
        assert!(line.contains("SONAR_SCANNER_JSON_PARAMS"), "{line}");
        assert!(stderr.contains("SONAR_TOKEN left out"), "{stderr}");
    }
    let (_, _, stderr) = scantoken(dir.path(), &cloud_env(&e), &["export", "--format", "shell"]);
    let line = stderr
        .lines()
        .find(|l| l.starts_with("Exported ("))
        .unwrap();
    assert!(line.contains("SONAR_TOKEN (secret)"), "{line}");
}

// 3. A warning is printed once (plus the CI's annotation).
#[test]
fn each_warning_is_printed_once() {
    let e = emulator();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("sonar-project.properties"),
        "sonar.login=old\n",
    )
    .unwrap();
    let (code, _, stderr) = scantoken(dir.path(), &cloud_env(&e), &["export", "--format", "shell"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stderr.matches("sonar.login found in").count(),
        1,
        "{stderr}"
    );

    let mut env = cloud_env(&e);
    for (k, v) in [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_EVENT_NAME", "push"),
        ("GITHUB_REF", "refs/heads/feature"),
        ("GITHUB_SHA", "0123456789012345678901234567890123456789"),
        ("GITHUB_REPOSITORY", "acme/payments"),
    ] {
        set(&mut env, k, v);
    }
    set(
        &mut env,
        "GITHUB_ENV",
        dir.path().join("env").to_str().unwrap(),
    );
    let (code, stdout, stderr) = scantoken(dir.path(), &env, &["export"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stderr.matches("sonar.login found in").count(),
        1,
        "{stderr}"
    );
    let annotations: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("::warning") && l.contains("sonar.login found in"))
        .collect();
    assert_eq!(annotations.len(), 1, "{stdout}");
}

// 7. The advice for a missing token fits the CI and the options in use.
#[test]
fn missing_token_advice_fits_the_ci_and_the_options() {
    let dir = tempfile::tempdir().unwrap();
    let base = [
        ("SCANTOKEN_PROJECT_KEY", "acme_payments"),
        ("SONAR_ORGANIZATION", "acme"),
    ];
    let jenkins = [
        ("JENKINS_URL", "https://ci.example/"),
        ("EXECUTOR_NUMBER", "1"),
        ("BUILD_NUMBER", "7"),
        ("BRANCH_NAME", "main"),
    ];
    let gitlab = [
        ("GITLAB_CI", "true"),
        ("CI_PIPELINE_SOURCE", "push"),
        ("CI_COMMIT_SHA", "0123456789012345678901234567890123456789"),
        ("CI_COMMIT_BRANCH", "main"),
        ("CI_PROJECT_PATH", "acme/payments"),
    ];
    for (ci, extra, says) in [
        ("local", &[][..], "export SONAR_TOKEN in this shell"),
        ("jenkins", &jenkins[..], "withCredentials"),
        ("gitlab", &gitlab[..], "CI/CD variable SONAR_TOKEN"),
    ] {
        let mut env = pairs(&base);
        env.extend(pairs(extra));
        let (code, stdout, stderr) = scantoken(dir.path(), &env, &["verify"]);
        assert_eq!(code, 1, "{ci}: {stderr}");
        assert!(stdout.contains("token-missing"), "{ci}: {stdout}");
        let next = stdout
            .lines()
            .find(|l| l.trim_start().starts_with("next:"))
            .unwrap();
        assert!(next.contains(says), "{ci}: {next}");
        assert!(next.contains("SCANTOKEN_TOKEN"), "{ci}: {next}");
        assert!(
            !next.contains("secrets.SONAR_TOKEN") && !next.contains("$(SONAR_TOKEN)"),
            "{ci}: {next}"
        );
    }
    // A fork's pull request, with the skip already asked for: no advice to ask for it.
    let mut env = common::fixture_env("github/pull_request_fork");
    env.extend(pairs(&base));
    let (code, _, stderr) = scantoken(
        dir.path(),
        &env,
        &["export", "--on-missing-token", "skip", "--format", "shell"],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(!stderr.contains("pass --on-missing-token skip"), "{stderr}");
    assert!(stderr.contains("nothing to do"), "{stderr}");
}

// 8. verify exports nothing, and says how the scan gets the token.
#[test]
fn verify_says_how_to_hand_over_the_token() {
    let e = emulator();
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, _) = scantoken(dir.path(), &cloud_env(&e), &["verify"]);
    assert_eq!(code, 0);
    assert!(!stdout.contains("the exported variables"), "{stdout}");
    assert!(
        stdout.contains("scantoken run --") && stdout.contains("scantoken export"),
        "{stdout}"
    );
}

// 9. --json output is JSON only, errors included.
#[test]
fn json_output_is_json_only_even_on_a_bad_option() {
    let dir = tempfile::tempdir().unwrap();
    for args in [&["context", "--json"][..], &["verify", "--json"]] {
        let env = pairs(&[
            ("GITHUB_ACTIONS", "true"),
            ("SCANTOKEN_ON_UNREACHABLE", "sometimes"),
            ("SCANTOKEN_PROJECT_KEY", "bad key!"),
        ]);
        let (code, stdout, stderr) = scantoken(dir.path(), &env, args);
        assert_eq!(code, 2, "{stderr}");
        assert!(stdout.trim().is_empty(), "{args:?}: {stdout}");
        assert!(
            stderr.contains("::error"),
            "the annotation on stderr: {stderr}"
        );
    }
}

// 10. A CI's marker alone: the missing standard variables are named.
#[test]
fn a_ci_marker_alone_names_the_missing_variables() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, _) = scantoken(
        dir.path(),
        &pairs(&[("GITHUB_ACTIONS", "true")]),
        &["context"],
    );
    assert_eq!(code, 0);
    assert!(
        stdout.contains("GITHUB_EVENT_NAME")
            && stdout.contains("GITHUB_SHA")
            && stdout.contains("not set"),
        "{stdout}"
    );
}

// 12. --format azure outside Azure Pipelines would print the token in clear.
#[test]
fn format_azure_is_refused_outside_azure_pipelines() {
    let dir = tempfile::tempdir().unwrap();
    let env = pairs(&[
        ("SONAR_TOKEN", SOT),
        ("SONAR_ORGANIZATION", "acme"),
        ("SCANTOKEN_PROJECT_KEY", "acme_payments"),
    ]);
    let (code, stdout, stderr) = scantoken(
        dir.path(),
        &env,
        &["export", "--no-verify", "--format", "azure"],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(!stdout.contains(SOT) && !stderr.contains(SOT));
    assert!(stderr.contains("TF_BUILD"), "{stderr}");
}

// 13. A value in no token format is not called a personal token.
#[test]
fn garbage_is_not_called_a_personal_token() {
    let e = emulator();
    let dir = tempfile::tempdir().unwrap();
    let mut env = cloud_env(&e);
    set(&mut env, "SONAR_TOKEN", "garbage");
    let (_, stdout, _) = scantoken(dir.path(), &env, &["verify"]);
    assert!(!stdout.contains("personal token:"), "{stdout}");
    assert!(stdout.contains("no format Sonar issues"), "{stdout}");
}

// 14. A mistyped flag: the usage does not pretend another flag is required.
#[test]
fn a_flag_typo_shows_the_plain_usage() {
    let (code, _, stderr) = scantoken(Path::new("."), &[], &["export", "--projct-key", "x"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("--project-key"),
        "the suggestion stays: {stderr}"
    );
    assert!(
        stderr.contains("Usage: scantoken export [OPTIONS]"),
        "{stderr}"
    );
}
