//! The Azure Pipelines task: its Node wrapper run by azure-pipelines-task-lib's
//! MockTestRunner against the Sonar emulator, and the .vsix built by tfx (which validates
//! task.json). The npm tools come from azure/test (installed by the README's test command).

mod common;

use serde_json::Value;
use sonar_emulator::{start_blocking, EmulatorConfig, Scenario};
use std::path::{Path, PathBuf};
use std::process::Command;

const SQP: &str = "sqp_4444444444444444444444444444444444444444";
const ENDPOINT_ID: &str = "6f0d3c5e-2b1a-4c8d-9e7f-0a1b2c3d4e5f";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn node_modules() -> PathBuf {
    let dir = root().join("azure/test/node_modules");
    assert!(
        dir.exists(),
        "run `npm ci` in azure/test (./scripts/test.sh does)"
    );
    dir
}

/// The task folder as the .vsix ships it: task.json, index.js, bin/linux-x64/scantoken.
fn assemble_task(dir: &Path) -> PathBuf {
    let task = dir.join("scantoken-task");
    let bin = task.join("bin/linux-x64");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy(root().join("task.json"), task.join("task.json")).unwrap();
    std::fs::copy(root().join("azure/index.js"), task.join("index.js")).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_scantoken"), bin.join("scantoken")).unwrap();
    task
}

/// Runs the task under MockTestRunner with these inputs and extra variables.
fn run_task(task: &Path, inputs: Value, env: &[(&str, String)]) -> (bool, String) {
    let mut cmd = Command::new("node");
    cmd.arg(root().join("azure/test/run-mock.js"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap())
        .env("HOME", std::env::var("HOME").unwrap_or_default())
        .env("NODE_PATH", node_modules())
        .env("L0_TASK", task.join("index.js"))
        .env("L0_TASK_JSON", task.join("task.json"))
        .env("L0_INPUTS", inputs.to_string())
        .env("TF_BUILD", "True")
        .env("BUILD_REASON", "PullRequest")
        .env("BUILD_REPOSITORY_PROVIDER", "TfsGit")
        .env("BUILD_REPOSITORY_NAME", "payments")
        .env("BUILD_SOURCEBRANCH", "refs/pull/17/merge")
        .env(
            "BUILD_SOURCEVERSION",
            "5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f",
        )
        .env("SYSTEM_PULLREQUEST_PULLREQUESTID", "17")
        .env(
            "SYSTEM_PULLREQUEST_SOURCEBRANCH",
            "refs/heads/feature/login",
        )
        .env("SYSTEM_PULLREQUEST_TARGETBRANCH", "refs/heads/main")
        .env(
            "SYSTEM_PULLREQUEST_SOURCECOMMITID",
            "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0",
        )
        .current_dir(task);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("node runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .last()
        .unwrap_or_else(|| panic!("no output: {}", String::from_utf8_lossy(&out.stderr)));
    let report: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {text}"));
    (
        report["succeeded"].as_bool().unwrap(),
        format!(
            "{}{}",
            report["stdout"].as_str().unwrap(),
            report["stderr"].as_str().unwrap()
        ),
    )
}

fn emulator() -> sonar_emulator::BlockingEmulator {
    let scenario = Scenario::from_yaml_str(&format!(
        "flavor: server\nprojects: [{{key: acme_payments}}, {{key: acme_other}}]\n\
         tokens: [{{value: \"{SQP}\", kind: project-analysis, projects: [acme_payments]}}]\n"
    ))
    .unwrap();
    start_blocking(EmulatorConfig::new(scenario)).unwrap()
}

#[test]
fn the_task_verifies_with_a_service_connection_and_sets_a_secret() {
    let _ = node_modules();
    let dir = tempfile::tempdir().unwrap();
    let task = assemble_task(dir.path());
    let sonar = emulator();
    let inputs = serde_json::json!({
        "sonarcloudConnection": ENDPOINT_ID,
        "hostUrl": sonar.web_url(),
        "projectKey": "acme_payments",
    });
    let endpoint = [
        (format!("ENDPOINT_URL_{ENDPOINT_ID}"), sonar.web_url()),
        (
            format!("ENDPOINT_AUTH_SCHEME_{ENDPOINT_ID}"),
            "Token".to_string(),
        ),
        (
            format!("ENDPOINT_AUTH_PARAMETER_{ENDPOINT_ID}_APITOKEN"),
            SQP.to_string(),
        ),
    ];
    let env: Vec<(&str, String)> = endpoint
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    let (succeeded, output) = run_task(&task, inputs, &env);
    assert!(succeeded, "{output}");
    assert!(
        output.contains(&format!(
            "##vso[task.setvariable variable=SONAR_TOKEN;issecret=true]{SQP}"
        )),
        "{output}"
    );
    assert!(
        output.contains("##vso[task.setvariable variable=verdict;isoutput=true]ok"),
        "{output}"
    );
    assert!(
        output.contains("pull request 17: feature/login → main"),
        "the Azure Repos PR context: {output}"
    );
    assert!(
        output.contains(&format!(
            "variable ENDPOINT_AUTH_PARAMETER_{ENDPOINT_ID}_APITOKEN"
        )),
        "the token's source: {output}"
    );
    let first_token_line = output.lines().position(|l| l.contains(SQP)).unwrap();
    assert!(
        output
            .lines()
            .nth(first_token_line)
            .is_some_and(|l| l.contains("issecret=true") || l.starts_with("##vso[task.setsecret]")),
        "the secret is set before anything shows it"
    );
}

/// A .vsix is a zip: the agent extracts the binary without its executable bit. The wrapper
/// sets it before starting the binary.
#[test]
fn the_task_runs_a_binary_extracted_without_its_executable_bit() {
    use std::os::unix::fs::PermissionsExt;
    let _ = node_modules();
    let dir = tempfile::tempdir().unwrap();
    let task = assemble_task(dir.path());
    let exe = task.join("bin/linux-x64/scantoken");
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o644)).unwrap();
    let sonar = emulator();
    let inputs = serde_json::json!({ "token": SQP, "hostUrl": sonar.web_url(), "projectKey": "acme_payments" });
    let (succeeded, output) = run_task(&task, inputs, &[]);
    assert!(succeeded, "{output}");
    assert!(
        output.contains("##vso[task.setvariable variable=verdict;isoutput=true]ok"),
        "{output}"
    );
    let mode = std::fs::metadata(&exe).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o755, "the wrapper made the binary executable");
}

/// The custom Cloud pair (sonarcloudUrl, apiBaseUrl) reaches the binary as Azure delivers it
/// (INPUT_SONARCLOUDURL, INPUT_APIBASEURL): here it points a Cloud target at the emulator.
#[test]
fn the_custom_cloud_urls_reach_the_binary() {
    let _ = node_modules();
    let task_json: Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("task.json")).unwrap()).unwrap();
    for name in ["sonarcloudUrl", "apiBaseUrl"] {
        assert!(
            task_json["inputs"]
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i["name"] == name),
            "task.json has the input {name}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let task = assemble_task(dir.path());
    let token = "sqco_AZUREazureAZUREazureAZUREazureAZUREazureAZUREazureAZUREazur";
    let scenario = Scenario::from_yaml_str(&format!(
        "flavor: cloud\nregion: global\norganizations: [acme]\n\
         projects: [{{key: acme_payments, organization: acme}}]\n\
         tokens: [{{value: \"{token}\", kind: sot, organization: acme, projects: [acme_payments]}}]\n"
    ))
    .unwrap();
    let sonar = start_blocking(EmulatorConfig::new(scenario)).unwrap();
    let inputs = serde_json::json!({
        "token": token,
        "sonarcloudUrl": sonar.web_url(),
        "apiBaseUrl": sonar.api_url(),
        "organization": "acme",
        "projectKey": "acme_payments",
    });
    let (succeeded, output) = run_task(&task, inputs, &[]);
    assert!(succeeded, "{output}");
    assert!(
        output.contains("##vso[task.setvariable variable=verdict;isoutput=true]ok"),
        "{output}"
    );
    assert!(
        output.contains("INPUT_SONARCLOUDURL") && output.contains("INPUT_APIBASEURL"),
        "the URLs' sources are Azure's input variables: {output}"
    );
}

#[test]
fn a_failing_verdict_fails_the_task() {
    let _ = node_modules();
    let dir = tempfile::tempdir().unwrap();
    let task = assemble_task(dir.path());
    let sonar = emulator();
    let inputs =
        serde_json::json!({ "token": SQP, "hostUrl": sonar.web_url(), "projectKey": "acme_other" });
    let (succeeded, output) = run_task(&task, inputs, &[]);
    assert!(!succeeded, "{output}");
    assert!(
        output.contains("##vso[task.logissue type=error]no-scan-permission"),
        "{output}"
    );
    assert!(
        !output.contains("variable=SONAR_TOKEN"),
        "nothing exported: {output}"
    );
}

/// Why the wrapper imports nothing: with azure-pipelines-task-lib loaded first, the inputs
/// never reach the binary (docs/sonar-facts.md §6).
#[test]
fn importing_the_task_library_would_lose_the_inputs() {
    let _ = node_modules();
    let dir = tempfile::tempdir().unwrap();
    let task = assemble_task(dir.path());
    let sonar = emulator();
    let inputs = serde_json::json!({ "token": SQP, "hostUrl": sonar.web_url(), "projectKey": "acme_payments" });
    let (succeeded, output) = run_task(&task, inputs, &[("L0_IMPORT_TASK_LIB", "1".into())]);
    assert!(!succeeded, "{output}");
    assert!(output.contains("project key: is not set"), "{output}");
}

#[test]
fn a_missing_binary_fails_the_task_clearly() {
    let _ = node_modules();
    let dir = tempfile::tempdir().unwrap();
    let task = assemble_task(dir.path());
    std::fs::remove_dir_all(task.join("bin")).unwrap();
    let (succeeded, output) = run_task(&task, serde_json::json!({}), &[]);
    assert!(!succeeded);
    assert!(
        output.contains("scantoken has no binary for linux/x64"),
        "{output}"
    );
}

#[test]
fn tfx_builds_the_vsix() {
    let _ = node_modules();
    let dir = tempfile::tempdir().unwrap();
    let dist = dir.path().join("dist/linux-x64");
    std::fs::create_dir_all(&dist).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_scantoken"), dist.join("scantoken")).unwrap();
    let out = dir.path().join("out");
    let status = Command::new("bash")
        .arg(root().join("scripts/build-vsix.sh"))
        .arg(&out)
        .env("SCANTOKEN_DIST", dir.path().join("dist"))
        .output()
        .unwrap();
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&status.stdout),
        String::from_utf8_lossy(&status.stderr)
    );
    assert!(status.status.success(), "{log}");
    assert!(
        !log.contains("warning"),
        "tfx has no complaint about task.json: {log}"
    );
    let vsix = out.join("scantoken.scantoken-0.1.0.vsix");
    let listing = Command::new("python3")
        .args([
            "-c",
            "import sys, zipfile; print('\\n'.join(zipfile.ZipFile(sys.argv[1]).namelist()))",
        ])
        .arg(&vsix)
        .output()
        .unwrap();
    let names = String::from_utf8_lossy(&listing.stdout);
    for wanted in [
        "scantoken-task/task.json",
        "scantoken-task/index.js",
        "scantoken-task/bin/linux-x64/scantoken",
        "extension.vsixmanifest",
    ] {
        assert!(
            names.lines().any(|n| n == wanted),
            "{wanted} in the vsix: {names}"
        );
    }
}

/// With `scanCommand`, the task verifies the scan and runs it: the scan gets the token in its
/// environment alone (no secret variable is set for later steps), its output is masked, and
/// the task fails with the scan's exit code.
#[test]
fn the_task_runs_the_scan_command_with_the_token_for_it_alone() {
    let _ = node_modules();
    let dir = tempfile::tempdir().unwrap();
    let task = assemble_task(dir.path());
    let sonar = emulator();
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let scanner = bin.join("sonar-scanner");
    std::fs::write(
        &scanner,
        "#!/bin/sh\necho \"scanner sees $SONAR_TOKEN and $SONAR_HOST_URL\"\nexit \"${FAKE_EXIT:-0}\"\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&scanner, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    for (exit, succeeds) in [("0", true), ("5", false)] {
        let inputs = serde_json::json!({
            "hostUrl": sonar.web_url(),
            "scanCommand": "sonar-scanner -Dsonar.projectKey=acme_payments",
        });
        let env = [
            ("INPUT_TOKEN", SQP.to_string()),
            ("PATH", path.clone()),
            ("FAKE_EXIT", exit.to_string()),
        ];
        let (succeeded, output) = run_task(&task, inputs, &env);
        assert_eq!(succeeded, succeeds, "{output}");
        assert!(
            output.contains(&format!("scanner sees *** and {}", sonar.web_url())),
            "{output}"
        );
        assert!(
            !output.contains("##vso[task.setvariable variable=SONAR_TOKEN"),
            "no secret variable for later steps: {output}"
        );
        if !succeeds {
            assert!(output.contains("the scan exited with code 5"), "{output}");
        }
    }
}
