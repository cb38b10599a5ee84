//! What a user meets first (issue 22): the step's outputs on every verdict, `skip` only where
//! the CI withheld the secrets, a token typed on the command line, a scanner that is not
//! installed. Each through the real binary, read as the runner, the agent or a user would.

mod common;
#[allow(clippy::duplicate_mod)] // common also loads the runner's reader, for the scanner tests
mod support;

use common::{pairs, scantoken, set};
use sonar_emulator::{start_blocking, BlockingEmulator, EmulatorConfig, Scenario};
use support::{azure_agent, github_runner};

const SOT: &str = "sqco_PAYMENTSpaymentsPAYMENTSpaymentsPAYMENTSpaymentsPAYMENTSpay";
const SOT_REVOKED: &str = "sqco_REVOKEDrevokedREVOKEDrevokedREVOKEDrevokedREVOKEDrevokedRE";

fn emulator() -> BlockingEmulator {
    let scenario = Scenario::from_yaml_str(&format!(
        r#"
flavor: cloud
organizations: [acme]
projects:
  - {{key: acme_payments, organization: acme, visibility: private}}
  - {{key: acme_docs, organization: acme, visibility: public}}
tokens:
  - {{value: "{SOT}", kind: sot, organization: acme, projects: [acme_payments]}}
  - {{value: "{SOT_REVOKED}", kind: sot, organization: acme, projects: all, state: revoked}}
"#
    ))
    .unwrap();
    start_blocking(EmulatorConfig::new(scenario)).unwrap()
}

fn cloud(e: &BlockingEmulator) -> Vec<(String, String)> {
    pairs(&[
        ("SONAR_SCANNER_SONARCLOUD_URL", &e.web_url()),
        ("SONAR_SCANNER_API_BASE_URL", &e.api_url()),
        ("SONAR_ORGANIZATION", "acme"),
        ("SCANTOKEN_RETRIES", "0"),
    ])
}

/// A GitHub job with its file-command files in `dir`.
fn github(case: &str, dir: &std::path::Path) -> Vec<(String, String)> {
    let mut env = common::fixture_env(case);
    for (name, file) in [
        ("GITHUB_ENV", "env"),
        ("GITHUB_OUTPUT", "output"),
        ("GITHUB_STEP_SUMMARY", "summary"),
    ] {
        set(&mut env, name, dir.join(file).to_str().unwrap());
    }
    env
}

/// The step's outputs as the runner reads `GITHUB_OUTPUT`.
fn github_outputs(dir: &std::path::Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(dir.join("output")).unwrap_or_default();
    github_runner::parse_env_file(&text).unwrap()
}

// 1. verdict, project-key and host-url are written on every verdict, never with the token.
#[test]
fn the_outputs_are_written_on_every_verdict_on_github() {
    let e = emulator();
    // (fixture, project, token, extra args, verdict)
    type Case<'a> = (&'a str, &'a str, Option<&'a str>, &'a [&'a str], &'a str);
    let cases: &[Case] = &[
        ("github/push_branch", "acme_payments", Some(SOT), &[], "ok"),
        (
            "github/push_branch",
            "acme_docs",
            Some(SOT),
            &[],
            "no-scan-permission",
        ),
        (
            "github/push_branch",
            "acme_payments",
            Some(SOT_REVOKED),
            &[],
            "token-rejected",
        ),
        (
            "github/push_branch",
            "acme_nothing",
            Some(SOT),
            &[],
            "project-not-found",
        ),
        (
            "github/push_branch",
            "acme_payments",
            None,
            &[],
            "token-missing",
        ),
        (
            "github/pull_request_fork",
            "acme_payments",
            None,
            &["--on-missing-token", "skip"],
            "token-missing",
        ),
        (
            "github/push_branch",
            "acme_nothing",
            Some(SOT),
            &["--on-project-not-found", "skip"],
            "project-not-found",
        ),
    ];
    for command in ["export", "run"] {
        for (case, project, token, extra, verdict) in cases {
            let dir = tempfile::tempdir().unwrap();
            let d = dir.path();
            let mut env = github(case, d);
            env.extend(cloud(&e));
            set(&mut env, "SCANTOKEN_PROJECT_KEY", project);
            if let Some(t) = token {
                set(&mut env, "SONAR_TOKEN", t);
            }
            let mut args = vec![command];
            args.extend_from_slice(extra);
            if command == "run" {
                args.extend(["--", "true"]);
            }
            let what = format!("{command} {case} {project} {extra:?}");
            let (_, stdout, stderr) = scantoken(d, &env, &args);
            let outputs = github_outputs(d);
            assert_eq!(
                outputs,
                pairs(&[
                    ("verdict", verdict),
                    ("project-key", project),
                    ("host-url", &e.web_url()),
                ]),
                "{what}: {stderr}"
            );
            for text in [&stdout, &stderr] {
                assert!(!common::outside_masks(text).contains(SOT), "{what}: {text}");
            }
        }
    }
}

#[test]
fn the_output_variables_are_set_on_every_verdict_on_azure() {
    let e = emulator();
    for (project, token, verdict, code) in [
        ("acme_payments", Some(SOT), "ok", 0),
        ("acme_docs", Some(SOT), "no-scan-permission", 1),
        ("acme_payments", None, "token-missing", 1),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut env = common::fixture_env("azure/branch");
        env.extend(cloud(&e));
        set(&mut env, "SCANTOKEN_PROJECT_KEY", project);
        if let Some(t) = token {
            set(&mut env, "SONAR_TOKEN", t);
        }
        let (got, stdout, stderr) = scantoken(dir.path(), &env, &["export"]);
        assert_eq!(got, code, "{verdict}: {stderr}");
        let outputs: Vec<(String, String)> =
            azure_agent::variables(&azure_agent::parse_logging_commands(&stdout))
                .into_iter()
                .filter(|v| v.is_output)
                .map(|v| {
                    assert!(!v.is_secret, "{verdict}: {v:?}");
                    (v.name, v.value)
                })
                .collect();
        assert_eq!(
            outputs,
            pairs(&[
                ("verdict", verdict),
                ("projectKey", project),
                ("hostUrl", &e.web_url()),
            ]),
            "{verdict}: {stdout}"
        );
        assert!(!common::outside_masks(&stdout).contains(SOT), "{stdout}");
    }
}

// 2. skip only where the CI withheld secrets: on a push, a missing token fails.
#[test]
fn skip_does_not_hide_a_missing_secret_on_a_push() {
    let e = emulator();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut env = github("github/push_branch", d);
    env.extend(cloud(&e));
    set(&mut env, "SCANTOKEN_PROJECT_KEY", "acme_payments");
    // A mistyped secret name maps to an empty variable.
    set(&mut env, "SONAR_TOKEN", "");
    set(&mut env, "INPUT_ON_MISSING_TOKEN", "skip");
    let (code, stdout, stderr) = scantoken(d, &env, &["export"]);
    assert_eq!(code, 1, "{stderr}");
    let commands = github_runner::parse_workflow_commands(&stdout);
    let error = commands
        .iter()
        .find(|c| c.name == "error")
        .unwrap_or_else(|| panic!("no ::error: {stdout}"));
    assert!(error.data.contains("token-missing"), "{error:?}");
    assert!(
        stderr.contains("does not apply") && stderr.contains("secrets.SONAR_TOKEN"),
        "says why skip did not skip, and what to check: {stderr}"
    );
    assert!(!commands.iter().any(|c| c.name == "notice"), "{stdout}");
    assert!(!d.join("env").exists(), "nothing exported");

    // The same on a fork's pull request, which gets no secrets: skipped.
    let dir = tempfile::tempdir().unwrap();
    let mut env = github("github/pull_request_fork", dir.path());
    env.extend(cloud(&e));
    set(&mut env, "SCANTOKEN_PROJECT_KEY", "acme_payments");
    set(&mut env, "INPUT_ON_MISSING_TOKEN", "skip");
    let (code, stdout, stderr) = scantoken(dir.path(), &env, &["export"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("::notice title=scantoken::token-missing"),
        "{stdout}"
    );
}

// 3. A token typed on the command line: told how to pass it, never shown, never led to a
// flag that would print it.
#[test]
fn a_token_on_the_command_line_is_never_printed_and_gets_the_way_to_pass_it() {
    const CANARY: &str = "sqco_CANARYcanaryCANARYcanaryCANARYcanaryCANARYcanaryCANARYcan";
    let e = emulator();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut env = cloud(&e);
    set(&mut env, "SCANTOKEN_PROJECT_KEY", "acme_payments");
    let token_map_path = format!("./tokens/{CANARY}");
    let token_equals = format!("--token={CANARY}");
    let cases: Vec<Vec<&str>> = vec![
        vec!["verify", "--token", CANARY],
        vec!["verify", &token_equals],
        vec!["export", "--sonar-token", CANARY],
        vec!["run", "--token", CANARY, "--", "true"],
        vec!["audit", "--token", CANARY],
        vec!["verify", "--token-map", CANARY],
        vec!["verify", "--verbose", "--token-map", &token_map_path],
        vec!["export", "--format", "shell", "--token-map", CANARY],
        vec!["verify", CANARY],
    ];
    for args in cases {
        let (code, stdout, stderr) = scantoken(d, &env, &args);
        let all = format!("{stdout}{stderr}");
        assert_eq!(code, 2, "{args:?}: {all}");
        assert!(!all.contains("CANARY"), "{args:?} printed the token: {all}");
        assert!(!all.contains("--token-map'"), "{args:?}: {all}");
        if args
            .iter()
            .any(|a| a.starts_with("--token") || *a == "--sonar-token")
        {
            assert!(
                all.contains("SONAR_TOKEN") && all.contains("SCANTOKEN_TOKEN"),
                "{args:?}: says how to pass a token: {all}"
            );
        }
    }
}

// 4. A scanner that is not installed: exit 2 naming it, before any request is sent.
#[test]
fn a_scanner_that_is_not_installed_fails_before_any_probe() {
    let e = emulator();
    for program in ["sonar-scanner-not-installed", "./bin/sonar-scanner"] {
        let dir = tempfile::tempdir().unwrap();
        let mut env = cloud(&e);
        set(&mut env, "SONAR_TOKEN", SOT);
        set(&mut env, "SCANTOKEN_PROJECT_KEY", "acme_payments");
        let before = e.log().len();
        let (code, _, stderr) = scantoken(
            dir.path(),
            &env,
            &["run", "--", program, "-Dsonar.verbose=true"],
        );
        assert_eq!(code, 2, "{program}: {stderr}");
        assert!(
            stderr.contains(&format!("cannot start {program}")) && stderr.contains("install"),
            "{stderr}"
        );
        assert_eq!(
            e.log().len(),
            before,
            "{program}: a probe was sent: {:?}",
            e.log()
        );
    }
}

// 6. Help a user can read: wrapped, -v after the command's options, verify's help without
// exporting, every exit 0 listed; audit's in the same layout.
#[test]
fn help_is_wrapped_ordered_and_says_what_each_command_does() {
    let dir = tempfile::tempdir().unwrap();
    for command in ["context", "verify", "export", "run", "audit"] {
        let (code, help, _) = scantoken(dir.path(), &[], &[command, "--help"]);
        assert_eq!(code, 0, "{command}");
        for line in help.lines() {
            assert!(line.chars().count() <= 100, "{command}: {line}");
        }
        let options: Vec<&str> = help
            .lines()
            .skip_while(|l| *l != "Options:")
            .skip(1)
            .take_while(|l| !l.is_empty())
            .filter(|l| l.trim_start().starts_with('-'))
            .collect();
        assert!(
            options.len() > 5,
            "{command}: one block of options:\n{help}"
        );
        assert!(
            options.last().unwrap().contains("--verbose"),
            "{command}: -v comes after the command's own options:\n{help}"
        );
        if command == "verify" || command == "context" {
            let body: String = help.lines().skip(1).collect::<Vec<_>>().join("\n");
            assert!(!body.contains("export"), "{command}:\n{help}");
        }
        if command == "verify" || command == "export" {
            let zero = help
                .lines()
                .skip_while(|l| !l.starts_with("Exit codes:"))
                .take_while(|l| !l.trim_start().starts_with("1 "))
                .collect::<Vec<_>>()
                .join(" ");
            assert!(zero.contains("--on-unreachable warn"), "{command}: {zero}");
        }
    }
}

// 6. Messages: each thing said once, an empty flag said to be empty.
#[test]
fn messages_say_each_thing_once_and_an_empty_flag_is_empty() {
    let e = emulator();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut env = cloud(&e);
    set(&mut env, "SONAR_TOKEN_PAYMENTS", SOT);
    set(
        &mut env,
        "INPUT_TOKEN_MAP",
        "rules:\n  - projects: [\"acme_*\"]\n    token-env: SONAR_TOKEN_PAYMENTS\n",
    );
    let (code, stdout, stderr) = scantoken(d, &env, &["verify", "--project-key", "acme_payments"]);
    assert_eq!(code, 0, "{stderr}");
    let all = format!("{stdout}{stderr}");
    assert!(
        all.contains("token map in variable INPUT_TOKEN_MAP"),
        "{all}"
    );
    assert!(!all.contains("token map token map"), "{all}");

    std::fs::write(
        d.join("map.yaml"),
        "rules:\n  - projects: [a\n    token-env: X\n",
    )
    .unwrap();
    let (code, _, stderr) = scantoken(
        d,
        &cloud(&e),
        &["verify", "--project-key", "a", "--token-map", "map.yaml"],
    );
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(stderr.matches("line 3").count(), 1, "{stderr}");

    for args in [
        &["verify", "--project-key="][..],
        &["export", "--format", "shell", "--project-key", ""][..],
    ] {
        let (code, _, stderr) = scantoken(d, &cloud(&e), args);
        assert_eq!(code, 2, "{stderr}");
        assert!(
            stderr.contains("--project-key: is empty") && !stderr.contains("is not set"),
            "{args:?}: {stderr}"
        );
    }

    // The token is masked once on GitHub, not once by the check and again by the writer.
    let mut env = github("github/push_branch", d);
    env.extend(cloud(&e));
    set(&mut env, "SONAR_TOKEN", SOT);
    set(&mut env, "SCANTOKEN_PROJECT_KEY", "acme_payments");
    let (code, stdout, stderr) = scantoken(d, &env, &["export"]);
    assert_eq!(code, 0, "{stderr}");
    let masks = github_runner::parse_workflow_commands(&stdout)
        .into_iter()
        .filter(|c| c.name == "add-mask" && c.data == SOT)
        .count();
    assert_eq!(masks, 1, "{stdout}");
}

// 7. A SonarQube Server without branch analysis (Community Build): the verdict says what will
// happen, by the documented policy (docs/design.md): a pull request or another branch is
// skipped, the default branch is scanned, an unknown default is a configuration error.
const SQP: &str = "sqp_1111111111111111111111111111111111111111";

fn server(version: &str) -> BlockingEmulator {
    let scenario = Scenario::from_yaml_str(&format!(
        r#"
flavor: server
server_version: "{version}"
projects:
  - {{key: acme_payments, visibility: private}}
tokens:
  - {{value: "{SQP}", kind: project-analysis, projects: [acme_payments]}}
"#
    ))
    .unwrap();
    start_blocking(EmulatorConfig::new(scenario)).unwrap()
}

fn on_server(e: &BlockingEmulator, mut env: Vec<(String, String)>) -> Vec<(String, String)> {
    for (k, v) in [
        ("SONAR_HOST_URL", e.web_url()),
        ("SONAR_TOKEN", SQP.into()),
        ("SCANTOKEN_PROJECT_KEY", "acme_payments".into()),
        ("SCANTOKEN_RETRIES", "0".into()),
    ] {
        set(&mut env, k, &v);
    }
    env
}

fn exported_json(dir: &std::path::Path) -> String {
    let text = std::fs::read_to_string(dir.join("env")).unwrap_or_default();
    github_runner::parse_env_file(&text)
        .unwrap()
        .into_iter()
        .find(|(k, _)| k == "SONAR_SCANNER_JSON_PARAMS")
        .map(|(_, v)| v)
        .unwrap_or_default()
}

#[test]
fn a_server_without_branch_analysis_skips_pull_requests_and_scans_the_main_branch() {
    let community = server("25.1.0.102122");

    // A pull request: skipped, exit 0, nothing exported, the outputs say so.
    for command in [
        &["export"][..],
        &["run", "--", "sh", "-c", "echo SCANNER-RAN"][..],
    ] {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let env = on_server(&community, github("github/pull_request", d));
        let (code, stdout, stderr) = scantoken(d, &env, command);
        assert_eq!(code, 0, "{command:?}: {stderr}");
        let notice = github_runner::parse_workflow_commands(&stdout)
            .into_iter()
            .find(|c| c.name == "notice")
            .unwrap_or_else(|| panic!("{command:?}: no notice: {stdout}{stderr}"));
        assert!(
            notice
                .data
                .contains("SonarQube Community Build 25.1.0.102122")
                && notice.data.contains("main branch only")
                && notice.data.contains("pull request"),
            "{notice:?}"
        );
        assert!(!stdout.contains("SCANNER-RAN"), "the scan did not start");
        assert!(!d.join("env").exists(), "nothing exported");
        assert_eq!(github_outputs(d)[0], pairs(&[("verdict", "skipped")])[0]);
        // verify says what export and run will do.
        let (code, stdout, _) = scantoken(d, &env, &["verify"]);
        assert_eq!(code, 0);
        assert!(stdout.contains("skip its scan"), "{stdout}");
    }

    // The default branch: scanned as the main branch, no branch property.
    let dir = tempfile::tempdir().unwrap();
    let mut env = on_server(&community, github("github/push_branch", dir.path()));
    set(&mut env, "GITHUB_REF", "refs/heads/master");
    set(&mut env, "GITHUB_REF_NAME", "master");
    let (code, _, stderr) = scantoken(dir.path(), &env, &["export"]);
    assert_eq!(code, 0, "{stderr}");
    let json = exported_json(dir.path());
    assert!(
        json.contains("acme_payments") && !json.contains("sonar.branch"),
        "{json}"
    );

    // A CI that does not say which branch is the default: the configuration must.
    let jenkins = pairs(&[
        ("JENKINS_URL", "https://jenkins.example.com/"),
        ("EXECUTOR_NUMBER", "1"),
        ("BUILD_NUMBER", "7"),
        ("BRANCH_NAME", "main"),
        ("GIT_COMMIT", "0123456789012345678901234567890123456789"),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let env = on_server(&community, jenkins);
    let (code, _, stderr) = scantoken(dir.path(), &env, &["export", "--format", "shell"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("default-branch: is not set") && stderr.contains("--default-branch main"),
        "{stderr}"
    );
    let (code, stdout, stderr) = scantoken(
        dir.path(),
        &env,
        &["export", "--format", "shell", "--default-branch", "main"],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(!stdout.contains("sonar.branch.name"), "{stdout}");

    // A commercial edition analyses the pull request; an old version may be either: a warning.
    for (version, warned) in [("2025.1.0.102418", false), ("10.7.0.96327", true)] {
        let e = server(version);
        let dir = tempfile::tempdir().unwrap();
        let env = on_server(&e, github("github/pull_request", dir.path()));
        let (code, stdout, stderr) = scantoken(dir.path(), &env, &["export"]);
        assert_eq!(code, 0, "{version}: {stderr}");
        assert!(
            exported_json(dir.path()).contains("sonar.pullrequest.key"),
            "{version}"
        );
        assert_eq!(
            stdout.contains("Community Edition"),
            warned,
            "{version}: {stdout}"
        );
    }
}
