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
//! verified host and nowhere else. Both bootstrappers honour the proxy for both Cloud hosts
//! (`@sonar/scan` takes it from `HTTPS_PROXY` for the host in `SONAR_HOST_URL`, pysonar through
//! Python requests), so every combination runs at the official URLs; SonarQube Cloud at custom
//! URLs (the scanners' `SONAR_SCANNER_SONARCLOUD_URL` / `SONAR_SCANNER_API_BASE_URL`) is
//! covered as well.

mod common;

use common::scanners::{
    assert_refused_or_scans_the_verified, assert_scan_is_the_verified_one, bootstrap_calls,
    github_fixture, github_job, gitlab_fixture, job_env, run_job, scanner_command, scanner_env,
    shell_job, workspace, EngineInput, Event, Flavor, Scanner, Sonar, EVENTS, PROJECT,
};

/// Both scanners, a branch and a pull request, after a GitHub step, on one flavor.
fn github_file_commands_on(flavor: Flavor) {
    for event in EVENTS {
        for which in Scanner::ALL {
            let sonar = Sonar::start(flavor);
            let fixture = github_fixture(event);
            let job = github_job(which, &sonar, fixture, &[], &[]);
            let (run, outputs) = (&job.scan, &job.outputs);
            assert_scan_is_the_verified_one(which, &sonar, fixture, run);
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
fn cloud_at_custom_urls_after_github_file_commands() {
    github_file_commands_on(Flavor::CloudCustom);
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

#[test]
fn cloud_at_custom_urls_after_shell_eval() {
    shell_eval_on(Flavor::CloudCustom);
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
        let job = github_job(which, &sonar, fixture, &[], &["-Dsonar.projectKey=other"]);
        let (run, outputs) = (&job.scan, &job.outputs);
        assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
        assert_eq!(
            outputs.get("project-key").map(String::as_str),
            Some(PROJECT)
        );
        assert_eq!(run.engine().get("sonar.projectKey"), Some("other"));
        sonar.assert_token_only_to_verified_host(1);
    }
}

/// pysonar reads `SONAR_<PROPERTY>` variables over `SONAR_SCANNER_JSON_PARAMS`: a job-level
/// `SONAR_PROJECT_KEY=other` would make it scan `other` while scantoken verified
/// acme_payments (issue 9, "values that beat the exports"). scantoken reads the variable as
/// pysonar does: given another key explicitly, it refuses (exit 2) before the scan.
#[test]
fn a_job_level_sonar_project_key_is_refused_or_verified() {
    let other = [("SONAR_PROJECT_KEY", "other")];
    for flavor in [Flavor::Server, Flavor::CloudGlobal] {
        let sonar = Sonar::start(flavor);
        // A GitHub job: a failed export step ends the job before the scan.
        let fixture = github_fixture(Event::Branch);
        let job = github_job(Scanner::Pysonar, &sonar, fixture, &other, &[]);
        assert_refused_or_scans_the_verified(Scanner::Pysonar, &sonar, fixture, &job.scan);
        // One bash step: its exit code is scantoken's when scantoken refuses.
        let fixture = gitlab_fixture(Event::Branch);
        let run = shell_job(Scanner::Pysonar, &sonar, fixture, &other, &[]);
        assert_refused_or_scans_the_verified(Scanner::Pysonar, &sonar, fixture, &run);
    }
}

/// The engine's input is read whole: every property is a string key, each sent once.
#[test]
fn engine_input_is_read_from_what_the_stand_in_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("engine-input.json"),
        r#"{"scannerProperties":[{"key":"sonar.projectKey","value":"k"},{"key":"sonar.verbose","value":false},{"key":"sonar.scanner.bootstrapStartTime","value":17}]}"#,
    )
    .unwrap();
    std::fs::write(d.join("engine-input.json.argv"), b"-Dx=y\0\0-jar\0/e.jar\0").unwrap();
    let input: EngineInput = common::scanners::read_engine_input(d).unwrap();
    assert_eq!(input.get("sonar.projectKey"), Some("k"));
    assert_eq!(input.get("sonar.verbose"), Some("false"));
    assert_eq!(input.get("sonar.scanner.bootstrapStartTime"), Some("17"));
    assert_eq!(input.argv, ["-Dx=y", "", "-jar", "/e.jar"]);
    assert_eq!(input.with_prefix("sonar.scanner.").len(), 1);
}

/// Custom Cloud URLs under the run-together spellings `SONAR_SCANNER_SONARCLOUDURL` /
/// `SONAR_SCANNER_APIBASEURL`, which no scanner reads (they split variable names at `_`):
/// alone, they let a scanner fall back to the real SonarQube Cloud (issue 9). After scantoken,
/// the scan must go to the instance scantoken verified, or scantoken must refuse the spelling
/// (exit 2). Today it verifies them and exports the URLs inside `SONAR_SCANNER_JSON_PARAMS`,
/// which both bootstrappers read, so the scan reaches the verified instance.
#[test]
fn run_together_custom_url_spellings_are_refused_or_scanned_as_verified() {
    for which in Scanner::ALL {
        let sonar = Sonar::start(Flavor::CloudCustom)
            .with_custom_url_vars("SONAR_SCANNER_SONARCLOUDURL", "SONAR_SCANNER_APIBASEURL");
        let fixture = github_fixture(Event::Branch);
        let job = github_job(which, &sonar, fixture, &[], &[]);
        assert_refused_or_scans_the_verified(which, &sonar, fixture, &job.scan);
        // Refused, naming the spelling the scanners read.
        assert_eq!(job.scan.code, 2, "{}", job.scan.stderr);
        assert!(
            job.scan.stderr.contains("SONAR_SCANNER_SONARCLOUD_URL"),
            "{}",
            job.scan.stderr
        );
        sonar.assert_token_only_to_verified_host(0);
    }
}

/// `scantoken run -- <scanner>`: both scanners, a branch and a pull request, on every
/// flavor: the engine receives exactly what was verified, the token reaches the scanner
/// through its own environment only, and nothing the scanner prints shows it.
fn run_on(flavor: Flavor) {
    for event in EVENTS {
        for which in Scanner::ALL {
            let sonar = Sonar::start(flavor);
            let fixture = github_fixture(event);
            let run = run_job(which, &sonar, fixture, &[], &[]);
            assert!(run.stderr.contains("Verdict: ok"), "{}", run.stderr);
            assert_scan_is_the_verified_one(which, &sonar, fixture, &run);
            // The verification's probes, then the scanner's own calls.
            sonar.assert_token_only_to_verified_host(bootstrap_calls(flavor).len());
        }
    }
}

#[test]
fn server_through_run() {
    run_on(Flavor::Server);
}

#[test]
fn cloud_global_through_run() {
    run_on(Flavor::CloudGlobal);
}

#[test]
fn cloud_us_through_run() {
    run_on(Flavor::CloudUs);
}

#[test]
fn cloud_at_custom_urls_through_run() {
    run_on(Flavor::CloudCustom);
}

/// What `export` cannot see, `run` reads: a project key on the scanner's command line that
/// differs from the one scantoken was given is refused before the scan starts (exit 2, both
/// values named), for both bootstrappers and each of their spellings.
#[test]
fn run_refuses_a_command_line_project_key_that_differs() {
    for (which, args) in [
        (Scanner::Npm, &["-Dsonar.projectKey=other"][..]),
        (Scanner::Npm, &["-D", "sonar.projectKey=other"]),
        (Scanner::Pysonar, &["-Dsonar.projectKey=other"]),
        (Scanner::Pysonar, &["--sonar-project-key", "other"]),
    ] {
        let sonar = Sonar::start(Flavor::CloudGlobal);
        let fixture = github_fixture(Event::Branch);
        let run = run_job(which, &sonar, fixture, &[], args);
        assert_eq!(run.code, 2, "{which:?} {args:?}: {}", run.stderr);
        assert!(run.engine.is_none(), "the scan started");
        assert!(
            run.stderr.contains("\"other\"") && run.stderr.contains(&format!("\"{PROJECT}\"")),
            "{}",
            run.stderr
        );
    }
}

/// pysonar under `run` with a job-level `SONAR_PROJECT_KEY` that differs: refused; the npm
/// scanner, which does not read that variable, scans what was verified.
#[test]
fn run_knows_which_scanner_reads_a_project_key_variable() {
    let other = [("SONAR_PROJECT_KEY", "other")];
    let sonar = Sonar::start(Flavor::Server);
    let fixture = github_fixture(Event::Branch);
    let run = run_job(Scanner::Pysonar, &sonar, fixture, &other, &[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("SONAR_PROJECT_KEY"), "{}", run.stderr);
    let run = run_job(Scanner::Npm, &sonar, fixture, &other, &[]);
    assert_scan_is_the_verified_one(Scanner::Npm, &sonar, fixture, &run);
}

/// A cancelled `scantoken run` leaves no scanner process behind, with each real bootstrapper:
/// the stand-in engine (`java`, started by the bootstrapper) runs until stopped; SIGTERM goes
/// to scantoken alone, as a cancelled CI job sends it. With an engine that stops on the
/// signal, the whole scan stops at once; with one that ignores it (and so outlives its
/// bootstrapper), scantoken kills it after the grace period and says so.
fn cancel_a_real_scan(which: Scanner, ignore: bool) {
    use common::cancel;
    use sonar_emulator::bootstrap::{ENGINE_IGNORE_SIGNALS_VAR, ENGINE_PIDFILE_VAR};
    use std::time::Duration;
    let sonar = Sonar::start(Flavor::Server);
    let dir = workspace();
    let d = dir.path();
    let mut env = job_env(&sonar, github_fixture(Event::Branch), &[]);
    env.extend(scanner_env(d));
    let pid_file = d.join("engine.pid");
    env.push((ENGINE_PIDFILE_VAR.into(), pid_file.to_str().unwrap().into()));
    if ignore {
        env.push((ENGINE_IGNORE_SIGNALS_VAR.into(), "1".into()));
    }
    let mut args = vec!["run".to_string()];
    args.extend(sonar.target_args());
    args.push("--".into());
    args.push(scanner_command(which).to_str().unwrap().into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut child = cancel::start(d, &env, &args);
    let engine = cancel::wait_for_pid_file(&pid_file, Duration::from_secs(90), d);
    let group = cancel::group_of(engine);
    cancel::signal(child.id(), "TERM");
    let (code, took) = cancel::wait(&mut child, Duration::from_secs(60), d);
    let output = sonar.redact(&cancel::output(d));
    let left = cancel::left_in_group(group);
    assert!(
        left.is_empty(),
        "{which:?}: left running {left:?}\n{output}"
    );
    assert_ne!(code, 0, "{which:?}: a cancelled scan passed\n{output}");
    if ignore {
        assert!(
            output.contains("killed what was left of it"),
            "{which:?}: {output}"
        );
    } else {
        assert!(
            took < scantoken::child::KILL_GRACE,
            "{which:?}: {took:?}\n{output}"
        );
    }
}

#[test]
fn a_cancelled_run_leaves_no_npm_scanner_process_behind() {
    cancel_a_real_scan(Scanner::Npm, false);
    cancel_a_real_scan(Scanner::Npm, true);
}

#[test]
fn a_cancelled_run_leaves_no_pysonar_process_behind() {
    cancel_a_real_scan(Scanner::Pysonar, false);
    cancel_a_real_scan(Scanner::Pysonar, true);
}

/// A sample of the differential corpus's spellings (tests/differential.rs) run whole, through
/// `scantoken run` to each real bootstrapper and its engine: where scantoken reads the project
/// key the scanner's parser reads, the engine gets exactly what was verified; where the
/// command names another key, scantoken refuses before the scan.
#[test]
fn corpus_spellings_run_whole_through_each_bootstrapper() {
    let same: [(Scanner, &[&str]); 4] = [
        (Scanner::Npm, &["-XDsonar.projectKey=acme_payments"]),
        (
            Scanner::Npm,
            &[
                "-D",
                "sonar.verbose",
                "sonar.scm.disabled",
                "sonar.projectKey=acme_payments",
            ],
        ),
        (Scanner::Pysonar, &["-Dsonar.projectK", "acme_payments"]),
        (Scanner::Pysonar, &["--project-key=acme_payments", "-v"]),
    ];
    for (which, args) in same {
        let sonar = Sonar::start(Flavor::Server);
        let fixture = github_fixture(Event::Branch);
        let run = run_job(which, &sonar, fixture, &[], args);
        assert_scan_is_the_verified_one(which, &sonar, fixture, &run);
    }
    // Both pysonar spellings are the one declared option: the last one wins.
    let other: [(Scanner, &[&str]); 4] = [
        (
            Scanner::Pysonar,
            &[
                "-Dsonar.projectKey=acme_payments",
                "--sonar-project-key",
                "other",
            ],
        ),
        (Scanner::Npm, &["-XDsonar.projectKey=other"]),
        (
            Scanner::Npm,
            &["-D", "sonar.verbose", "sonar.projectKey=other"],
        ),
        (
            Scanner::Pysonar,
            &[
                "--sonar-project-key",
                "acme_payments",
                "-Dsonar.projectKey=other",
            ],
        ),
    ];
    for (which, args) in other {
        let sonar = Sonar::start(Flavor::Server);
        let run = run_job(which, &sonar, github_fixture(Event::Branch), &[], args);
        assert_eq!(
            run.code,
            2,
            "{which:?} {args:?}: {}",
            sonar.redact(&run.stderr)
        );
        assert!(run.engine.is_none(), "{which:?} {args:?}: the scan started");
    }
}
