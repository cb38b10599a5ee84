//! SonarSource's real scanner bootstrappers (npm `@sonar/scan` 5.0.1, PyPI `pysonar`
//! 1.10.0.5888, installed pinned by `scripts/test.sh`) run after scantoken, against the Sonar
//! emulator, whose stand-in `java` records what the scanner engine receives.
//!
//! For SonarQube Server and SonarQube Cloud (global and US, reached at their official URLs
//! through a CONNECT proxy with a private CA, as behind a corporate proxy), for a branch and a
//! pull request, with the exports delivered two ways: GitHub file commands applied as the
//! runner applies them (one step runs `scantoken export`, the next the scanner), and `eval` of
//! `--format shell` in bash (the README's snippet, one step). Each run checks that the engine
//! received exactly the host (and API URL), organization, project key, branch or pull-request
//! properties, revision and token that scantoken verified, and that the token went to the
//! verified host and nowhere else. Both bootstrappers honour the proxy for both Cloud hosts, so
//! no combination needs a custom-URL Cloud instead.

mod common;
mod support;

use common::scanners::{
    run_scanner, run_with_engine, EngineInput, Flavor, Scanner, ScannerRun, Sonar, PROJECT,
};
use common::{fixture_env, scantoken};
use std::collections::BTreeMap;
use std::process::Command;
use support::github_runner;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Event {
    Branch,
    PullRequest,
}

const EVENTS: [Event; 2] = [Event::Branch, Event::PullRequest];

/// The CI fixtures (tests/fixtures/ci) and what each says the scan is about.
fn github_fixture(e: Event) -> &'static str {
    match e {
        Event::Branch => "github/push_branch",
        Event::PullRequest => "github/pull_request",
    }
}

fn gitlab_fixture(e: Event) -> &'static str {
    match e {
        Event::Branch => "gitlab/branch",
        Event::PullRequest => "gitlab/merge_request",
    }
}

/// The branch or pull-request properties and the revision the fixture's context gives
/// (tests/fixtures/ci/EXPECTED.json), as the engine must receive them.
fn scm_properties(fixture: &str) -> BTreeMap<String, String> {
    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(common::ci_fixtures().join("EXPECTED.json")).unwrap(),
    )
    .unwrap();
    let case = &expected[fixture];
    let mut props = BTreeMap::new();
    let s = |v: &serde_json::Value| v.as_str().unwrap().to_string();
    if let Some(pr) = case["pull_request"].as_object() {
        props.insert("sonar.pullrequest.key".into(), s(&pr["key"]));
        props.insert("sonar.pullrequest.branch".into(), s(&pr["source_branch"]));
        props.insert("sonar.pullrequest.base".into(), s(&pr["target_branch"]));
    } else {
        props.insert("sonar.branch.name".into(), s(&case["branch"]));
    }
    props.insert("sonar.scm.revision".into(), s(&case["revision"]));
    props
}

/// The engine got exactly what scantoken verified: host, API URL, organization (none on
/// Server), project key, the fixture's branch or pull request and revision, and the token.
fn assert_engine_got_verified(which: Scanner, sonar: &Sonar, fixture: &str, run: &ScannerRun) {
    let engine = run.engine();
    let what = format!("{which:?} on {:?}, {fixture}: {engine:#?}", sonar.flavor);
    assert_eq!(
        engine.get("sonar.host.url"),
        Some(sonar.web_url().as_str()),
        "{what}"
    );
    assert_eq!(
        engine.get("sonar.scanner.apiBaseUrl"),
        Some(sonar.api_url().as_str()),
        "{what}"
    );
    assert_eq!(
        engine.get("sonar.organization"),
        sonar.organization(),
        "{what}"
    );
    assert_eq!(engine.get("sonar.projectKey"), Some(PROJECT), "{what}");
    assert_eq!(engine.get("sonar.token"), Some(sonar.token()), "{what}");
    assert_eq!(engine.get("sonar.login"), None, "{what}");
    let expected = scm_properties(fixture);
    let got: BTreeMap<String, String> = engine
        .properties
        .iter()
        .filter(|(k, _)| {
            k.starts_with("sonar.branch.")
                || k.starts_with("sonar.pullrequest.")
                || *k == "sonar.scm.revision"
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert_eq!(got, expected, "{what}");
    // The engine was started as `java [jvm options] -jar <the engine served>`.
    let n = engine.argv.len();
    assert!(n >= 2 && engine.argv[n - 2] == "-jar", "{what}");
    assert!(
        engine.argv[n - 1].ends_with(sonar_emulator::bootstrap::ENGINE_FILENAME),
        "{what}"
    );
    if sonar.flavor == Flavor::CloudUs {
        assert_eq!(engine.get("sonar.region"), Some("us"), "{what}");
    }
}

/// The bootstrap calls each scanner makes with the token, in order (FACTS: Cloud asks the API
/// host for the JRE and engine; Server asks `api/v2/analysis/*`, and downloads with the token).
fn bootstrap_calls(flavor: Flavor) -> Vec<&'static str> {
    match flavor {
        Flavor::Server => vec![
            "/api/v2/analysis/version",
            "/api/v2/analysis/jres",
            "/api/v2/analysis/jres/emulated-jre-linux-x64",
            "/api/v2/analysis/engine",
            "/api/v2/analysis/engine",
        ],
        _ => vec!["/analysis/jres", "/analysis/engine"],
    }
}

/// A workspace for one job: its own directory, the scanner's cache inside it.
fn workspace() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn job_env(sonar: &Sonar, fixture: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env = fixture_env(fixture);
    env.extend(sonar.job_env());
    for (k, v) in extra {
        common::set(&mut env, k, v);
    }
    env
}

/// A GitHub job: one step runs `scantoken export` (its format chosen by the GitHub context:
/// file commands), the runner applies `GITHUB_ENV` to the following steps, and the next step
/// runs the scanner with `scanner_args`. Returns the scan, and the step outputs scantoken wrote.
fn github_job(
    which: Scanner,
    sonar: &Sonar,
    fixture: &str,
    extra_job_env: &[(&str, &str)],
    scanner_args: &[&str],
) -> (ScannerRun, BTreeMap<String, String>) {
    let dir = workspace();
    let d = dir.path();
    let mut env = job_env(sonar, fixture, extra_job_env);
    let mut step = env.clone();
    for (name, file) in [
        ("GITHUB_ENV", "github_env"),
        ("GITHUB_OUTPUT", "github_output"),
    ] {
        std::fs::write(d.join(file), "").unwrap();
        common::set(&mut step, name, d.join(file).to_str().unwrap());
    }
    let mut args = vec!["export".to_string()];
    args.extend(sonar.target_args());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, stdout, stderr) = scantoken(d, &step, &args);
    assert_eq!(code, 0, "scantoken export:\n{stdout}\n{stderr}");
    assert_no_token(sonar, &[&stdout, &stderr]);
    let env_file = std::fs::read_to_string(d.join("github_env")).unwrap();
    github_runner::apply_env_file(&mut env, &env_file).unwrap();
    let outputs =
        github_runner::parse_env_file(&std::fs::read_to_string(d.join("github_output")).unwrap())
            .unwrap()
            .into_iter()
            .collect();
    let run = run_scanner(which, d, &env, scanner_args);
    (run, outputs)
}

/// A shell job (GitLab here): one bash step running the README's snippet,
/// `exports=$(scantoken export --format shell ...) || exit $?; eval "$exports"; <scanner>`.
fn shell_job(
    which: Scanner,
    sonar: &Sonar,
    fixture: &str,
    extra_job_env: &[(&str, &str)],
    scanner_args: &[&str],
) -> ScannerRun {
    let dir = workspace();
    let mut env = job_env(sonar, fixture, extra_job_env);
    let scantoken_dir = assert_cmd::cargo::cargo_bin("scantoken")
        .parent()
        .unwrap()
        .to_path_buf();
    let path = format!(
        "{}:{}",
        scantoken_dir.display(),
        std::env::var("PATH").unwrap()
    );
    common::set(&mut env, "PATH", &path);
    let quote = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
    let target: Vec<String> = sonar.target_args().iter().map(|a| quote(a)).collect();
    let scanner: Vec<String> = std::iter::once(
        common::scanners::scanner_command(which)
            .to_str()
            .unwrap()
            .to_string(),
    )
    .chain(scanner_args.iter().map(|a| a.to_string()))
    .map(|a| quote(&a))
    .collect();
    let script = format!(
        "set -eu\nexports=$(scantoken export --format shell {}) || exit $?\neval \"$exports\"\n{}\n",
        target.join(" "),
        scanner.join(" ")
    );
    let mut bash = Command::new("bash");
    bash.args(["-c", &script]);
    run_with_engine(bash, dir.path(), &env)
}

/// The token is in no output of scantoken's (or of the scanner's), except the GitHub
/// runner's `::add-mask::` command, which the runner consumes (and then masks the value).
fn assert_no_token(sonar: &Sonar, outputs: &[&str]) {
    let mask = format!("::add-mask::{}", sonar.token());
    for o in outputs {
        for line in o.lines().filter(|l| l.trim() != mask) {
            assert!(!line.contains(sonar.token()), "the token was printed:\n{o}");
        }
    }
}

fn assert_scan_is_the_verified_one(which: Scanner, sonar: &Sonar, fixture: &str, run: &ScannerRun) {
    assert_eq!(run.code, 0, "{which:?}:\n{}\n{}", run.stdout, run.stderr);
    assert_no_token(sonar, &[&run.stdout, &run.stderr]);
    assert_engine_got_verified(which, sonar, fixture, run);
}

/// Both scanners, a branch and a pull request, after a GitHub step, on one flavor.
fn github_file_commands_on(flavor: Flavor) {
    for event in EVENTS {
        for which in Scanner::ALL {
            let sonar = Sonar::start(flavor);
            let fixture = github_fixture(event);
            let (run, outputs) = github_job(which, &sonar, fixture, &[], &[]);
            assert_scan_is_the_verified_one(which, &sonar, fixture, &run);
            // What the step told the workflow it verified is what was scanned.
            assert_eq!(outputs.get("verdict").map(String::as_str), Some("ok"));
            assert_eq!(
                outputs.get("project-key").map(String::as_str),
                run.engine().get("sonar.projectKey")
            );
            assert_eq!(
                outputs.get("host-url").map(String::as_str),
                run.engine().get("sonar.host.url")
            );
            let paths = sonar.assert_token_only_to_verified_host(1);
            let scanner_calls: Vec<&str> = paths
                .iter()
                .map(String::as_str)
                .filter(|p| p.contains("analysis/"))
                .filter(|p| !p.contains("analysis_cache"))
                .collect();
            assert_eq!(
                scanner_calls,
                bootstrap_calls(flavor),
                "{which:?} {event:?}"
            );
        }
    }
}

/// Both scanners, a branch and a merge request, after `eval` in one bash step, on one flavor.
fn shell_eval_on(flavor: Flavor) {
    for event in EVENTS {
        for which in Scanner::ALL {
            let sonar = Sonar::start(flavor);
            let fixture = gitlab_fixture(event);
            let run = shell_job(which, &sonar, fixture, &[], &[]);
            // scantoken's human text goes to the step's stderr, the exports to `eval`.
            assert!(run.stderr.contains("Verdict: ok"), "{}", run.stderr);
            assert_scan_is_the_verified_one(which, &sonar, fixture, &run);
            sonar.assert_token_only_to_verified_host(bootstrap_calls(flavor).len());
        }
    }
}

#[test]
fn server_after_github_file_commands() {
    github_file_commands_on(Flavor::Server);
}

#[test]
fn cloud_global_after_github_file_commands() {
    github_file_commands_on(Flavor::CloudGlobal);
}

#[test]
fn cloud_us_after_github_file_commands() {
    github_file_commands_on(Flavor::CloudUs);
}

#[test]
fn server_after_shell_eval() {
    shell_eval_on(Flavor::Server);
}

#[test]
fn cloud_global_after_shell_eval() {
    shell_eval_on(Flavor::CloudGlobal);
}

#[test]
fn cloud_us_after_shell_eval() {
    shell_eval_on(Flavor::CloudUs);
}

/// A step before the scan cannot see the scanner's command line: `-Dsonar.projectKey=other`
/// beats every export, in both bootstrappers, and the engine scans `other` while the step
/// said `ok` for acme_payments. This is why `scantoken run -- <scanner command>` exists (issue
/// 9); for `export`, the README must say so. The token still goes only to the verified host.
#[test]
fn a_project_key_on_the_scanner_command_line_beats_the_exports() {
    for which in Scanner::ALL {
        let sonar = Sonar::start(Flavor::CloudGlobal);
        let fixture = github_fixture(Event::Branch);
        let (run, outputs) = github_job(which, &sonar, fixture, &[], &["-Dsonar.projectKey=other"]);
        assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
        assert_eq!(
            outputs.get("project-key").map(String::as_str),
            Some(PROJECT)
        );
        assert_eq!(run.engine().get("sonar.projectKey"), Some("other"));
        sonar.assert_token_only_to_verified_host(1);
    }
}

/// What a truthful `ok` needs for a value in the job's environment that the scanner prefers
/// over the exports: scantoken refuses (exit 2, so the scan never starts), or the engine
/// receives exactly what scantoken verified.
fn assert_refused_or_scans_the_verified(
    which: Scanner,
    sonar: &Sonar,
    fixture: &str,
    run: &ScannerRun,
) {
    match &run.engine {
        None => assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr),
        Some(_) => assert_engine_got_verified(which, sonar, fixture, run),
    }
}

/// pysonar reads `SONAR_<PROPERTY>` variables over `SONAR_SCANNER_JSON_PARAMS`: a job-level
/// `SONAR_PROJECT_KEY=other` makes it scan `other` while scantoken verified acme_payments
/// (issue 9, "values that beat the exports"). Ignored until scantoken reads the variable as
/// pysonar does; then remove the `ignore`.
#[test]
#[ignore = "issue 9: scantoken does not yet see a job-level SONAR_PROJECT_KEY, which pysonar prefers over the exports"]
fn a_job_level_sonar_project_key_is_refused_or_verified() {
    for flavor in [Flavor::Server, Flavor::CloudGlobal] {
        let sonar = Sonar::start(flavor);
        let fixture = gitlab_fixture(Event::Branch);
        // One bash step: its exit code is scantoken's when scantoken refuses.
        let run = shell_job(
            Scanner::Pysonar,
            &sonar,
            fixture,
            &[("SONAR_PROJECT_KEY", "other")],
            &[],
        );
        assert_refused_or_scans_the_verified(Scanner::Pysonar, &sonar, fixture, &run);
    }
}

/// The engine's input is read whole: every property is a string key, each sent once.
#[test]
fn engine_input_is_read_from_what_the_stand_in_recorded() {
    let dir = workspace();
    let d = dir.path();
    std::fs::write(
        d.join("engine-input.json"),
        r#"{"scannerProperties":[{"key":"sonar.projectKey","value":"k"},{"key":"sonar.verbose","value":false},{"key":"sonar.scanner.bootstrapStartTime","value":17}]}"#,
    )
    .unwrap();
    std::fs::write(d.join("engine-input.json.argv"), b"-Dx=y\0-jar\0/e.jar\0").unwrap();
    let input: EngineInput = common::scanners::read_engine_input(d).unwrap();
    assert_eq!(input.get("sonar.projectKey"), Some("k"));
    assert_eq!(input.get("sonar.verbose"), Some("false"));
    assert_eq!(input.get("sonar.scanner.bootstrapStartTime"), Some("17"));
    assert_eq!(input.argv, ["-Dx=y", "-jar", "/e.jar"]);
    assert_eq!(input.with_prefix("sonar.scanner.").len(), 1);
}
