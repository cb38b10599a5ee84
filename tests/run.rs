//! `scantoken run -- <command>` and the scanners' configuration precedence, through the real
//! binary against the Sonar emulator (SonarQube Cloud at custom URLs): the command's own
//! arguments decide what is verified, the child alone gets the token, its output is masked,
//! its exit code and signals pass through, and a value that some scanner would prefer over
//! the exports is either verified or refused (exit 2), never silently scanned elsewhere.

mod common;

use common::{pairs, scantoken, set};
use sonar_emulator::{start_blocking, BlockingEmulator, EmulatorConfig, Scenario};
use std::path::Path;

/// Random, as real tokens are: the output masking also hides any 8-character piece of a
/// token, so a canary spelling words would hide those words elsewhere (`acme_payments`).
const SOT_PAYMENTS: &str = "sqco_kASAOsE1nYEZ9GlGHpYaax7LBejYWo6oScBVX4ANCc9vIFShP88xbjV0fhZ";

fn emulator() -> BlockingEmulator {
    let scenario = Scenario::from_yaml_str(&format!(
        r#"
flavor: cloud
organizations: [acme]
projects:
  - {{key: acme_payments, organization: acme}}
  - {{key: acme_ledger, organization: acme}}
tokens:
  - {{value: "{SOT_PAYMENTS}", kind: sot, organization: acme, projects: [acme_payments]}}
"#
    ))
    .unwrap();
    start_blocking(EmulatorConfig::new(scenario)).unwrap()
}

/// A local shell pointed at the emulator with the scoped token; the project key comes from
/// the command or from `extra`.
fn base_env(e: &BlockingEmulator, dir: &Path) -> Vec<(String, String)> {
    let mut env = pairs(&[
        ("SONAR_SCANNER_SONARCLOUD_URL", &e.web_url()),
        ("SONAR_SCANNER_API_BASE_URL", &e.api_url()),
        ("SONAR_TOKEN", SOT_PAYMENTS),
        ("SONAR_ORGANIZATION", "acme"),
    ]);
    // Scanner stand-ins by their real names, first on PATH: each prints the scanner's
    // variables as it received them (and the token itself, to prove the masking).
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let script = r#"#!/bin/sh
echo "args: $*"
echo "token: $SONAR_TOKEN"
echo "json: $SONAR_SCANNER_JSON_PARAMS"
echo "legacy: $SONARQUBE_SCANNER_PARAMS"
echo "stderr token: $SONAR_TOKEN" >&2
exit "${FAKE_EXIT:-0}"
"#;
    for name in ["sonar-scanner", "sonar-scanner-npm", "pysonar", "mvn"] {
        let path = bin.join(name);
        std::fs::write(&path, script).unwrap();
        make_executable(&path);
    }
    set(
        &mut env,
        "PATH",
        &format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
    );
    env
}

/// `scantoken run --project-key acme_payments -- sh -c <script>` in `dir`.
fn run_shell(dir: &Path, env: &[(String, String)], script: &str) -> (i32, String, String) {
    scantoken(
        dir,
        env,
        &[
            "run",
            "--project-key",
            "acme_payments",
            "--",
            "sh",
            "-c",
            script,
        ],
    )
}

fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn json_line(stdout: &str) -> serde_json::Value {
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("json: "))
        .unwrap_or_else(|| panic!("the child did not run: {stdout}"));
    serde_json::from_str(line).unwrap()
}

#[test]
fn the_child_gets_the_verified_environment_and_its_output_is_masked() {
    let e = emulator();
    let dir = tempfile::tempdir().unwrap();
    let env = base_env(&e, dir.path());
    let (code, stdout, stderr) = scantoken(
        dir.path(),
        &env,
        &[
            "run",
            "--",
            "sonar-scanner",
            "-Dsonar.projectKey=acme_payments",
            "-X",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("Verdict: ok"), "{stderr}");
    let json = json_line(&stdout);
    assert_eq!(json["sonar.projectKey"], "acme_payments");
    assert_eq!(json["sonar.organization"], "acme");
    assert_eq!(json["sonar.scanner.sonarcloudUrl"], e.web_url());
    assert_eq!(json["sonar.scanner.apiBaseUrl"], e.api_url());
    assert!(
        stdout.contains("args: -Dsonar.projectKey=acme_payments -X"),
        "{stdout}"
    );
    // The child received the token, and it printed it: the log shows *** instead.
    assert!(stdout.contains("token: ***"), "{stdout}");
    assert!(stderr.contains("stderr token: ***"), "{stderr}");
    assert!(!stdout.contains(SOT_PAYMENTS) && !stderr.contains(SOT_PAYMENTS));
}

#[test]
fn the_command_line_decides_what_is_verified() {
    let e = emulator();
    let dir = tempfile::tempdir().unwrap();
    let env = base_env(&e, dir.path());
    // The token can scan acme_payments only; the command scans acme_ledger.
    for command in [
        &["sonar-scanner", "-Dsonar.projectKey=acme_ledger"][..],
        &["pysonar", "--sonar-project-key", "acme_ledger"],
        &["mvn", "sonar:sonar", "-D", "sonar.projectKey=acme_ledger"],
    ] {
        let mut args = vec!["run", "--"];
        args.extend(command);
        let (code, stdout, stderr) = scantoken(dir.path(), &env, &args);
        assert_eq!(code, 1, "{command:?}: {stderr}");
        assert!(stderr.contains("no-scan-permission"), "{stderr}");
        assert!(stderr.contains("acme_ledger"), "{stderr}");
        assert!(!stdout.contains("args:"), "the child ran: {stdout}");
    }
}

#[test]
fn a_command_line_against_an_explicit_input_is_a_configuration_error() {
    let e = emulator();
    let dir = tempfile::tempdir().unwrap();
    let mut env = base_env(&e, dir.path());
    set(&mut env, "SCANTOKEN_PROJECT_KEY", "acme_payments");
    let (code, stdout, stderr) = scantoken(
        dir.path(),
        &env,
        &["run", "--", "sonar-scanner", "-Dsonar.projectKey=other"],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("sonar.projectKey on the sonar-scanner command line")
            && stderr.contains("\"other\"")
            && stderr.contains("\"acme_payments\""),
        "{stderr}"
    );
    assert!(!stdout.contains("args:"));
    // No request went out: the error comes before any verification.
    assert!(e.log().is_empty(), "{:?}", e.log().len());
}

#[test]
fn a_token_on_the_command_line_is_refused() {
    let e = emulator();
    let dir = tempfile::tempdir().unwrap();
    let env = base_env(&e, dir.path());
    let canary = "sqco_CANARYcanaryCANARYcanary";
    let (code, stdout, stderr) = scantoken(
        dir.path(),
        &env,
        &[
            "run",
            "--",
            "pysonar",
            "--token",
            canary,
            "--project-key",
            "acme_payments",
        ],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("sonar.token"), "{stderr}");
    assert!(!stderr.contains(canary) && !stdout.contains(canary));
    assert!(!stdout.contains("args:"));
}

#[test]
fn the_exit_code_of_the_child_is_passed_through_and_a_failed_verdict_starts_nothing() {
    let e = emulator();
    let dir = tempfile::tempdir().unwrap();
    let mut env = base_env(&e, dir.path());
    set(&mut env, "FAKE_EXIT", "7");
    let (code, _, stderr) = scantoken(
        dir.path(),
        &env,
        &[
            "run",
            "--project-key",
            "acme_payments",
            "--",
            "sonar-scanner",
        ],
    );
    assert_eq!(code, 7, "{stderr}");

    set(
        &mut env,
        "SONAR_TOKEN",
        "sqco_REVOKEDnotknownREVOKEDnotknownREVOKEDnotknownREVOKEDnotkn",
    );
    let marker = dir.path().join("ran");
    let (code, _, stderr) = run_shell(dir.path(), &env, &format!("touch {}", marker.display()));
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("token-rejected"), "{stderr}");
    assert!(!marker.exists(), "the command ran after a failed verdict");
}

#[test]
fn an_unknown_command_gets_the_environment_and_a_note() {
    let e = emulator();
    let dir = tempfile::tempdir().unwrap();
    let env = base_env(&e, dir.path());
    let (code, stdout, stderr) = run_shell(
        dir.path(),
        &env,
        "echo \"json: $SONAR_SCANNER_JSON_PARAMS\"; echo \"$SONAR_TOKEN\"",
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("arguments were not read"), "{stderr}");
    assert_eq!(json_line(&stdout)["sonar.projectKey"], "acme_payments");
    assert!(
        stdout.contains("***") && !stdout.contains(SOT_PAYMENTS),
        "{stdout}"
    );
}

#[test]
fn a_signal_reaches_the_child_and_its_exit_code_comes_back() {
    let e = emulator();
    let dir = tempfile::tempdir().unwrap();
    let env = base_env(&e, dir.path());
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_scantoken"))
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(dir.path())
        .args([
            "run",
            "--project-key",
            "acme_payments",
            "--",
            "sh",
            "-c",
            "trap 'echo got-term; exit 42' TERM; echo ready; while :; do sleep 0.05; done",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::{BufRead, BufReader};
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert_eq!(first, "ready");
    // SIGTERM to scantoken alone, as a cancelled CI job sends it.
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(lines.next().unwrap().unwrap(), "got-term");
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(42));
}

// The scanners' own variables that beat the exports (docs/sonar-facts.md §4, docs/scanner-configuration.md).

#[test]
fn a_project_key_variable_pysonar_prefers_is_verified_or_refused() {
    let e = emulator();
    let dir = tempfile::tempdir().unwrap();
    let mut env = base_env(&e, dir.path());
    set(&mut env, "SONAR_PROJECT_KEY", "acme_ledger");

    // No project key given to scantoken: it verifies what pysonar would scan.
    let (code, stdout, stderr) = scantoken(dir.path(), &env, &["verify", "--json"]);
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(report["verdict"], "no-scan-permission");
    assert_eq!(report["target"]["project_key"]["value"], "acme_ledger");
    assert_eq!(
        report["target"]["project_key"]["source"],
        "variable SONAR_PROJECT_KEY"
    );

    // An explicit input that differs: a configuration error naming both and the scanner.
    set(&mut env, "SCANTOKEN_PROJECT_KEY", "acme_payments");
    let (code, _, stderr) = scantoken(dir.path(), &env, &["export", "--format", "shell"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("variable SONAR_PROJECT_KEY")
            && stderr.contains("pysonar")
            && stderr.contains("\"acme_ledger\"")
            && stderr.contains("\"acme_payments\""),
        "{stderr}"
    );

    // run with a scanner that does not read SONAR_PROJECT_KEY: nothing to refuse.
    let (code, stdout, stderr) = scantoken(dir.path(), &env, &["run", "--", "sonar-scanner"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(json_line(&stdout)["sonar.projectKey"], "acme_payments");
    // ... and pysonar, which does, is refused.
    let (code, _, stderr) = scantoken(dir.path(), &env, &["run", "--", "pysonar"]);
    assert_eq!(code, 2, "{stderr}");
}

#[test]
fn a_branch_variable_on_a_pull_request_build_is_refused() {
    let e = emulator();
    let dir = tempfile::tempdir().unwrap();
    let mut env = common::fixture_env("github/pull_request");
    env.extend(base_env(&e, dir.path()));
    set(&mut env, "SCANTOKEN_PROJECT_KEY", "acme_payments");
    set(
        &mut env,
        "GITHUB_ENV",
        dir.path().join("env").to_str().unwrap(),
    );
    set(&mut env, "SONAR_BRANCH_NAME", "main");
    let (code, _, stderr) = scantoken(dir.path(), &env, &["export"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("variable SONAR_BRANCH_NAME") && stderr.contains("pull-request"),
        "{stderr}"
    );
    assert!(!dir.path().join("env").exists(), "exports were written");
}

#[test]
fn a_pull_request_variable_on_a_branch_build_is_refused() {
    let e = emulator();
    let dir = tempfile::tempdir().unwrap();
    let mut env = common::fixture_env("github/push_branch");
    env.extend(base_env(&e, dir.path()));
    set(&mut env, "SCANTOKEN_PROJECT_KEY", "acme_payments");
    set(&mut env, "SONAR_PULLREQUEST_KEY", "7");
    let (code, stdout, stderr) = scantoken(dir.path(), &env, &["export", "--format", "shell"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("variable SONAR_PULLREQUEST_KEY")
            && stderr.contains("sonar.branch.name")
            && stderr.contains("pysonar"),
        "{stderr}"
    );
    assert!(
        !stdout.contains("export "),
        "exports were written: {stdout}"
    );
}

/// Where scantoken sets neither set (the default branch is scanned as the main branch, a
/// tag has no branch property), a branch or pull request variable is the scanner's own
/// business: it changes nothing scantoken verifies, so the export goes on.
#[test]
fn branch_and_pull_request_variables_are_left_alone_where_scantoken_sets_neither() {
    let e = emulator();
    let dir = tempfile::tempdir().unwrap();
    for (fixture, variable, value) in [
        ("github/push_default", "SONAR_PULLREQUEST_KEY", "7"),
        ("github/push_default", "SONAR_BRANCH_NAME", "release"),
        ("github/push_tag", "SONAR_BRANCH_NAME", "release"),
        ("github/push_tag", "SONAR_PULLREQUEST_KEY", "7"),
    ] {
        let mut env = common::fixture_env(fixture);
        env.extend(base_env(&e, dir.path()));
        set(&mut env, "SCANTOKEN_PROJECT_KEY", "acme_payments");
        set(&mut env, variable, value);
        let (code, stdout, stderr) = scantoken(dir.path(), &env, &["export", "--format", "shell"]);
        assert_eq!(code, 0, "{fixture} {variable}: {stderr}");
        assert!(
            stdout.contains("export SONAR_TOKEN="),
            "{fixture} {variable}: {stdout}"
        );
    }
}

#[test]
fn spellings_no_scanner_reads_are_refused_with_the_right_one() {
    let dir = tempfile::tempdir().unwrap();
    for (wrong, right) in [
        (
            "SONAR_SCANNER_SONARCLOUDURL",
            "SONAR_SCANNER_SONARCLOUD_URL",
        ),
        ("SONAR_SCANNER_APIBASEURL", "SONAR_SCANNER_API_BASE_URL"),
    ] {
        let env = pairs(&[
            (wrong, "http://127.0.0.1:9"),
            ("SCANTOKEN_PROJECT_KEY", "a_b"),
        ]);
        let (code, _, stderr) = scantoken(dir.path(), &env, &["context"]);
        assert_eq!(code, 2, "{stderr}");
        assert!(
            stderr.contains(&format!("variable {wrong}")) && stderr.contains(right),
            "{stderr}"
        );
    }
}

/// The GitHub Action's `scan-command` input: the command comes from the input, split as a
/// shell splits words; the step's outputs are written, and no variable reaches GITHUB_ENV.
#[test]
fn the_scan_command_input_runs_on_github_with_outputs_and_no_exported_variable() {
    let e = emulator();
    let dir = tempfile::tempdir().unwrap();
    let mut env = common::fixture_env("github/push_branch");
    env.extend(base_env(&e, dir.path()));
    for file in ["env", "output", "summary"] {
        std::fs::write(dir.path().join(file), "").unwrap();
    }
    set(
        &mut env,
        "GITHUB_ENV",
        dir.path().join("env").to_str().unwrap(),
    );
    set(
        &mut env,
        "GITHUB_OUTPUT",
        dir.path().join("output").to_str().unwrap(),
    );
    set(
        &mut env,
        "GITHUB_STEP_SUMMARY",
        dir.path().join("summary").to_str().unwrap(),
    );
    set(
        &mut env,
        "INPUT_SCAN_COMMAND",
        "sonar-scanner '-Dsonar.projectKey=acme_payments' -Dsonar.projectName=\"Acme payments\"",
    );
    let (code, stdout, stderr) = scantoken(dir.path(), &env, &["run"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("args: -Dsonar.projectKey=acme_payments -Dsonar.projectName=Acme payments"),
        "{stdout}"
    );
    assert_eq!(json_line(&stdout)["sonar.projectKey"], "acme_payments");
    let outputs = std::fs::read_to_string(dir.path().join("output")).unwrap();
    assert!(
        outputs.contains("verdict<<") && outputs.contains("\nok\n"),
        "{outputs}"
    );
    let github_env = std::fs::read_to_string(dir.path().join("env")).unwrap();
    assert!(
        !github_env.contains("SONAR_TOKEN") && !github_env.contains(SOT_PAYMENTS),
        "{github_env}"
    );
    assert!(
        stdout.starts_with(&format!("::add-mask::{SOT_PAYMENTS}\n")),
        "{stdout}"
    );

    set(
        &mut env,
        "INPUT_SCAN_COMMAND",
        "sonar-scanner '-Dsonar.projectKey=acme",
    );
    let (code, _, stderr) = scantoken(dir.path(), &env, &["run"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("INPUT_SCAN_COMMAND") && stderr.contains("unclosed quote"),
        "{stderr}"
    );
}

/// A scan killed by a signal (the OOM killer's SIGKILL) gives the exit code a shell gives:
/// 128 + the signal's number, so the step fails as the scan did.
#[test]
fn a_scan_killed_by_a_signal_exits_128_plus_its_number() {
    let e = emulator();
    let dir = tempfile::tempdir().unwrap();
    let env = base_env(&e, dir.path());
    let (code, _, stderr) = run_shell(dir.path(), &env, "kill -KILL $$");
    assert_eq!(code, 128 + 9, "{stderr}");
}

/// What the scan prints after its stdout is closed, from a process it left behind that
/// still holds stderr (a daemon, a background upload), arrives whole, masked, as long as
/// it comes within the grace period after the scan exits.
#[test]
fn output_after_one_stream_closes_is_still_relayed_masked() {
    let e = emulator();
    let dir = tempfile::tempdir().unwrap();
    let env = base_env(&e, dir.path());
    for (script, stream) in [
        (
            "exec >&-; (sleep 0.5; echo \"late $SONAR_TOKEN\" >&2) & exit 0",
            "stderr",
        ),
        (
            "exec 2>&-; (sleep 0.5; echo \"late $SONAR_TOKEN\") & exit 0",
            "stdout",
        ),
    ] {
        let (code, stdout, stderr) = run_shell(dir.path(), &env, script);
        assert_eq!(code, 0, "{stderr}");
        let relayed = if stream == "stderr" { &stderr } else { &stdout };
        assert!(relayed.contains("late ***"), "{stream}: {relayed}");
        assert!(!stdout.contains(SOT_PAYMENTS) && !stderr.contains(SOT_PAYMENTS));
    }
}

// Issue 21: the command line read as each scanner's parser reads it.

/// A token smuggled in a spelling the parsers accept is refused before anything starts, and
/// never shown.
#[test]
fn a_token_in_any_spelling_the_parsers_accept_is_refused_unshown() {
    let e = emulator();
    let dir = tempfile::tempdir().unwrap();
    let env = base_env(&e, dir.path());
    let smuggled = "SMUGGLEDsmuggledSMUGGLED";
    for command in [
        vec!["pysonar".to_string(), format!("-t{smuggled}")],
        vec!["pysonar".into(), "-Dsonar.tok".into(), smuggled.into()],
        vec![
            "sonar-scanner-npm".into(),
            format!("-XDsonar.token={smuggled}"),
        ],
    ] {
        let mut args = vec!["run".to_string(), "--".into()];
        args.extend(command.clone());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, stdout, stderr) = scantoken(dir.path(), &env, &args);
        assert_eq!(code, 2, "{command:?}: {stderr}");
        assert!(stderr.contains("sonar.token"), "{stderr}");
        assert!(!stdout.contains("args:"), "the scanner started: {stdout}");
        assert!(
            !stderr.contains("SMUGGLED") && !stdout.contains("SMUGGLED"),
            "{stderr}"
        );
    }
}

/// The project key in the spellings the old rules missed decides what is verified: the token
/// cannot scan acme_ledger, so each is a failed verdict and nothing starts.
#[test]
fn a_project_key_in_the_parsers_own_spellings_is_verified() {
    let e = emulator();
    let dir = tempfile::tempdir().unwrap();
    let env = base_env(&e, dir.path());
    for command in [
        &["sonar-scanner-npm", "-XDsonar.projectKey=acme_ledger"][..],
        &[
            "sonar-scanner-npm",
            "-D",
            "sonar.verbose",
            "sonar.scm.disabled",
            "sonar.projectKey=acme_ledger",
        ],
        &["pysonar", "-Dsonar.projectK", "acme_ledger"],
    ] {
        let mut args = vec!["run", "--"];
        args.extend(command);
        let (code, stdout, stderr) = scantoken(dir.path(), &env, &args);
        assert_eq!(code, 1, "{command:?}: {stderr}");
        assert!(
            stderr.contains("acme_ledger") && stderr.contains("no-scan-permission"),
            "{stderr}"
        );
        assert!(!stdout.contains("args:"), "the scanner started: {stdout}");
    }
    // An ambiguous prefix is refused by name (exit 2), as argparse would stop at it.
    let (code, _, stderr) = scantoken(
        dir.path(),
        &env,
        &["run", "--", "pysonar", "-Dsonar.p", "x"],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("\"-Dsonar.p\"") && stderr.contains("ambiguous"),
        "{stderr}"
    );
}

/// pysonar applies an undeclared `-Dsonar.scanner.sonarcloudUrl=X` after its named
/// `--sonar-scanner-cloud-url Y`: X is what the scan uses, so X is what is verified (here
/// unreachable, exit 3), not Y (the emulator, which would have said ok).
#[test]
fn pysonars_undeclared_define_beats_its_named_option() {
    let e = emulator();
    let dir = tempfile::tempdir().unwrap();
    let env = base_env(&e, dir.path());
    let (code, stdout, stderr) = scantoken(
        dir.path(),
        &env,
        &[
            "run",
            "--project-key",
            "acme_payments",
            "--",
            "pysonar",
            "-Dsonar.scanner.sonarcloudUrl=https://elsewhere.example",
            "--sonar-scanner-cloud-url",
            &e.web_url(),
        ],
    );
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains("elsewhere.example could not be reached"),
        "{stderr}"
    );
    assert!(!stdout.contains("args:"), "{stdout}");
}

/// pysonar ranks its own `--sonar-project-key` above a job-level `SONAR_PROJECT_KEY`: the
/// variable decides nothing, so it is no reason to refuse.
#[test]
fn pysonars_own_flag_beats_a_job_level_project_key_variable() {
    let e = emulator();
    let dir = tempfile::tempdir().unwrap();
    let mut env = base_env(&e, dir.path());
    set(&mut env, "SONAR_PROJECT_KEY", "acme_ledger");
    let (code, stdout, stderr) = scantoken(
        dir.path(),
        &env,
        &[
            "run",
            "--",
            "pysonar",
            "--sonar-project-key",
            "acme_payments",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(json_line(&stdout)["sonar.projectKey"], "acme_payments");
}

/// `https://host/` and `https://host` are the same host to the scanners, which strip the slash.
#[test]
fn a_final_slash_does_not_make_another_host() {
    let e = emulator();
    let dir = tempfile::tempdir().unwrap();
    let env = base_env(&e, dir.path());
    let url = format!("-Dsonar.scanner.sonarcloudUrl={}/", e.web_url());
    let (code, _, stderr) = scantoken(
        dir.path(),
        &env,
        &[
            "run",
            "--project-key",
            "acme_payments",
            "--",
            "sonar-scanner",
            &url,
        ],
    );
    assert_eq!(code, 0, "{stderr}");
}

/// `${env.NAME}` in sonar-project.properties, resolved as @sonar/scan and the SonarScanner
/// CLI resolve it; a variable that is not set stops those scanners, so it is refused.
#[test]
fn env_references_in_the_properties_file_are_resolved() {
    let e = emulator();
    let dir = tempfile::tempdir().unwrap();
    let mut env = base_env(&e, dir.path());
    std::fs::write(
        dir.path().join("sonar-project.properties"),
        "sonar.projectKey=${env.APP}_payments\n",
    )
    .unwrap();
    let (code, _, stderr) = scantoken(dir.path(), &env, &["run", "--", "sonar-scanner-npm"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("${env.APP}") && stderr.contains("APP is not set"),
        "{stderr}"
    );
    // The SonarScanner CLI reads an unset variable as the empty string (PropertyResolver).
    let (code, _, stderr) = scantoken(dir.path(), &env, &["run", "--", "sonar-scanner"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("project _payments") && !stderr.contains("APP is not set"),
        "{stderr}"
    );
    set(&mut env, "APP", "acme");
    let (code, stdout, stderr) = scantoken(dir.path(), &env, &["run", "--", "sonar-scanner-npm"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(json_line(&stdout)["sonar.projectKey"], "acme_payments");
}

/// A command scantoken does not know: where the target cannot be resolved, the error says
/// its command line was not read.
#[test]
fn an_unknown_command_without_a_target_says_its_command_line_was_not_read() {
    let e = emulator();
    let dir = tempfile::tempdir().unwrap();
    let env = base_env(&e, dir.path());
    let (code, _, stderr) = scantoken(
        dir.path(),
        &env,
        &["run", "--", "make", "scan", "SONAR_KEY=acme_payments"],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("project key"), "{stderr}");
    assert!(
        stderr.contains("command line of make was not read"),
        "{stderr}"
    );
}

/// A stand-in bootstrapper (`sh`) that starts a stand-in engine and waits for it, as
/// @sonar/scan and pysonar start `java`; `ignore`: the engine ignores SIGTERM, SIGINT and
/// SIGHUP. SIGTERM goes to scantoken alone, as a cancelled CI job sends it.
fn cancel_a_scan(ignore: bool) -> (i32, std::time::Duration, String) {
    use common::cancel;
    use std::time::Duration;
    let e = emulator();
    let dir = tempfile::tempdir().unwrap();
    let env = base_env(&e, dir.path());
    let trap = if ignore { "trap '' TERM INT HUP; " } else { "" };
    let engine = format!(
        "{trap}echo $$ > engine.tmp; mv engine.tmp engine.pid; while :; do sleep 0.1; done\n"
    );
    std::fs::write(dir.path().join("engine.sh"), engine).unwrap();
    let bootstrapper = "sh engine.sh & wait";
    let mut child = cancel::start(
        dir.path(),
        &env,
        &[
            "run",
            "--project-key",
            "acme_payments",
            "--",
            "sh",
            "-c",
            bootstrapper,
        ],
    );
    let engine = cancel::wait_for_pid_file(
        &dir.path().join("engine.pid"),
        Duration::from_secs(20),
        dir.path(),
    );
    let group = cancel::group_of(engine);
    cancel::signal(child.id(), "TERM");
    let (code, took) = cancel::wait(&mut child, Duration::from_secs(30), dir.path());
    let left = cancel::left_in_group(group);
    assert!(
        left.is_empty(),
        "left running: {left:?}\n{}",
        cancel::output(dir.path())
    );
    (code, took, cancel::output(dir.path()))
}

/// The engine stops with its bootstrapper: the whole scan's process group gets the signal.
#[test]
fn a_cancelled_run_stops_the_engine_its_bootstrapper_started() {
    let (code, took, output) = cancel_a_scan(false);
    // The bootstrapper (sh) died of SIGTERM: 128 + 15.
    assert_eq!(code, 143, "{output}");
    assert!(took < scantoken::child::KILL_GRACE, "{took:?}");
    assert!(!output.contains("SIGKILL"), "{output}");
}

/// An engine that ignores the signal is killed after the grace period, and scantoken says so.
#[test]
fn an_engine_that_ignores_the_signal_is_killed_after_the_grace_period() {
    let (code, took, output) = cancel_a_scan(true);
    assert_eq!(code, 143, "{output}");
    assert!(took >= scantoken::child::KILL_GRACE, "{took:?}");
    assert!(output.contains("killed what was left of it"), "{output}");
}

/// @sonar/scan re-logs the engine's stderr chunk by chunk behind its own prefix, so a token
/// can reach the log cut in two: no run of 8 of its characters after `sqco_` may show.
#[test]
fn a_token_cut_across_prefixed_lines_is_masked_piece_by_piece() {
    let e = emulator();
    let dir = tempfile::tempdir().unwrap();
    let env = base_env(&e, dir.path());
    let (code, _, stderr) = run_shell(
        dir.path(),
        &env,
        r#"t="$SONAR_TOKEN"; printf '[ERROR] Bootstrapper: %s\n[ERROR] Bootstrapper: %s\n' "$(printf %s "$t" | cut -c1-17)" "$(printf %s "$t" | cut -c18-)" >&2"#,
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("[ERROR] Bootstrapper: sqco_***"),
        "{stderr}"
    );
    let logged: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("[ERROR] Bootstrapper:"))
        .collect();
    assert_eq!(logged.len(), 2, "{stderr}");
    let body = &SOT_PAYMENTS[5..];
    for start in 0..=body.len() - 8 {
        let run = &body[start..start + 8];
        assert!(
            !logged.iter().any(|l| l.contains(run)),
            "{run} shown: {logged:?}"
        );
    }
}

/// pysonar ranks `pyproject.toml` `[tool.sonar]` above `sonar-project.properties` (and reads
/// the file `--toml-path` names instead); @sonar/scan reads neither the TOML nor pysonar's
/// ranking. The token can scan acme_payments only, so the key read decides the verdict.
#[test]
fn pysonars_pyproject_is_ranked_as_pysonar_ranks_it() {
    let e = emulator();
    let dir = tempfile::tempdir().unwrap();
    let env = base_env(&e, dir.path());
    std::fs::write(
        dir.path().join("sonar-project.properties"),
        "sonar.projectKey=acme_ledger\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("pyproject.toml"),
        "[project]\nname = \"payments\"\n\n[tool.sonar]\nprojectKey = \"acme_payments\"\n",
    )
    .unwrap();
    let (code, stdout, stderr) = scantoken(dir.path(), &env, &["run", "--", "pysonar"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(json_line(&stdout)["sonar.projectKey"], "acme_payments");
    assert!(stderr.contains("[tool.sonar] sonar.projectKey"), "{stderr}");
    let (code, _, stderr) = scantoken(dir.path(), &env, &["run", "--", "sonar-scanner-npm"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("acme_ledger"), "{stderr}");

    // --toml-path: a folder holding one, kebab-case names, nested tables.
    std::fs::create_dir(dir.path().join("py")).unwrap();
    std::fs::write(
        dir.path().join("py/pyproject.toml"),
        "[tool.sonar]\nproject-key = \"acme_payments\"\n[tool.sonar.branch]\nname = \"main\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("pyproject.toml"),
        "[tool.sonar]\nprojectKey = \"acme_ledger\"\n",
    )
    .unwrap();
    let (code, stdout, stderr) = scantoken(
        dir.path(),
        &env,
        &["run", "--", "pysonar", "--toml-path", "py"],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(json_line(&stdout)["sonar.projectKey"], "acme_payments");
    let (code, _, stderr) = scantoken(
        dir.path(),
        &env,
        &["run", "--", "pysonar", "--toml-path", "missing"],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("missing/pyproject.toml") && stderr.contains("pysonar stops"),
        "{stderr}"
    );
}

/// @sonar/scan takes a project key from `package.json`'s name, below every other source.
#[test]
fn sonar_scans_package_json_name_is_its_lowest_project_key() {
    let e = emulator();
    let dir = tempfile::tempdir().unwrap();
    let env = base_env(&e, dir.path());
    std::fs::write(
        dir.path().join("package.json"),
        r#"{"name": "acme_payments", "version": "1.0.0"}"#,
    )
    .unwrap();
    let (code, stdout, stderr) = scantoken(dir.path(), &env, &["run", "--", "sonar-scanner-npm"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(json_line(&stdout)["sonar.projectKey"], "acme_payments");
    // pysonar does not read it.
    let (code, _, stderr) = scantoken(dir.path(), &env, &["run", "--", "pysonar"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("project key"), "{stderr}");
    // sonar-project.properties ranks above it.
    std::fs::write(
        dir.path().join("sonar-project.properties"),
        "sonar.projectKey=acme_ledger\n",
    )
    .unwrap();
    let (code, _, stderr) = scantoken(dir.path(), &env, &["run", "--", "sonar-scanner-npm"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("acme_ledger"), "{stderr}");
}

/// Maven adds `.mvn/maven.config` and `MAVEN_ARGS` before the command line's arguments: a
/// project key there is what Maven scans unless the command line sets another.
#[test]
fn mavens_own_argument_sources_are_read_before_the_command_line() {
    let e = emulator();
    let dir = tempfile::tempdir().unwrap();
    let mut env = base_env(&e, dir.path());
    std::fs::create_dir_all(dir.path().join(".mvn")).unwrap();
    std::fs::write(
        dir.path().join(".mvn/maven.config"),
        "-B\n-Dsonar.projectKey=acme_ledger\n",
    )
    .unwrap();
    let sub = dir.path().join("module");
    std::fs::create_dir(&sub).unwrap();
    let (code, _, stderr) = scantoken(&sub, &env, &["run", "--", "mvn", "sonar:sonar"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("acme_ledger") && stderr.contains("no-scan-permission"),
        "{stderr}"
    );
    // A workspace file, and its origin says so (for the trust check of untrusted builds).
    assert!(
        stderr.contains(".mvn/maven.config key sonar.projectKey"),
        "{stderr}"
    );
    let (code, stdout, stderr) = scantoken(
        &sub,
        &env,
        &[
            "run",
            "--",
            "mvn",
            "sonar:sonar",
            "-Dsonar.projectKey=acme_payments",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(json_line(&stdout)["sonar.projectKey"], "acme_payments");
    set(&mut env, "MAVEN_ARGS", "-Dsonar.login=SMUGGLEDsmuggled");
    let (code, _, stderr) = scantoken(&sub, &env, &["run", "--", "mvn", "sonar:sonar"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("sonar.login") && !stderr.contains("SMUGGLED"),
        "{stderr}"
    );
}

/// JVM options become system properties, which the SonarScanner CLI (and Maven and Gradle)
/// read below their command line: a project key there is what they scan.
#[test]
fn sonar_system_properties_in_jvm_options_are_read() {
    let e = emulator();
    let dir = tempfile::tempdir().unwrap();
    let mut env = base_env(&e, dir.path());
    set(
        &mut env,
        "SONAR_SCANNER_OPTS",
        "-Xmx512m -Dsonar.projectKey=acme_ledger",
    );
    let (code, _, stderr) = scantoken(dir.path(), &env, &["run", "--", "sonar-scanner"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("acme_ledger"), "{stderr}");
    assert!(stderr.contains("variable SONAR_SCANNER_OPTS"), "{stderr}");
    let (code, _, stderr) = scantoken(
        dir.path(),
        &env,
        &[
            "run",
            "--",
            "sonar-scanner",
            "-Dsonar.projectKey=acme_payments",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    // pysonar's JVM is the engine's, started with its own options: not read there.
    let (code, _, stderr) = scantoken(
        dir.path(),
        &env,
        &["run", "--", "pysonar", "--project-key", "acme_payments"],
    );
    assert_eq!(code, 0, "{stderr}");
}
