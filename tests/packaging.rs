//! How users meet scantoken: the GitHub Action (its metadata, its install step), the example
//! workflows and pipelines, and the Jenkins, GitLab and Bitbucket snippets run with a real
//! `sh` under each CI's variables against the Sonar emulator. The linters are installed,
//! pinned, by the README's test command.

mod common;

use common::static_server::StaticServer;
use serde_json::Value;
use sonar_emulator::{start_blocking, EmulatorConfig, Scenario};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn yaml(path: &str) -> Value {
    let text = std::fs::read_to_string(root().join(path)).unwrap();
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Runs a linter from the repository root; its absence is a failure, not a skip.
fn lint(program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .current_dir(root())
        .output()
        .unwrap_or_else(|e| {
            panic!("{program} is not installed ({e}); ./scripts/test.sh installs it")
        });
    assert!(
        out.status.success(),
        "{program} {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn files(dir: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(root().join(dir))
        .unwrap()
        .map(|e| format!("{dir}/{}", e.unwrap().file_name().to_string_lossy()))
        .filter(|p| p.ends_with(".yml"))
        .collect();
    v.sort();
    v
}

#[test]
fn action_and_workflows_pass_actionlint() {
    let mut args: Vec<String> = files(".github/workflows");
    args.extend(files("examples/github"));
    lint(
        "actionlint",
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
}

#[test]
fn action_and_workflows_match_their_json_schemas() {
    lint(
        "check-jsonschema",
        &["--builtin-schema", "vendor.github-actions", "action.yml"],
    );
    let mut args = vec![
        "--builtin-schema".to_string(),
        "vendor.github-workflows".to_string(),
    ];
    args.extend(files(".github/workflows"));
    args.extend(files("examples/github"));
    lint(
        "check-jsonschema",
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    lint(
        "check-jsonschema",
        &[
            "--builtin-schema",
            "vendor.gitlab-ci",
            "examples/gitlab/.gitlab-ci.yml",
        ],
    );
    lint(
        "check-jsonschema",
        &[
            "--builtin-schema",
            "vendor.bitbucket-pipelines",
            "examples/bitbucket/bitbucket-pipelines.yml",
        ],
    );
    // The Azure schema knows only Microsoft's own tasks, so only the script example can pass it;
    // the task example's inputs are checked against task.json below.
    lint(
        "check-jsonschema",
        &[
            "--regex-variant",
            "python",
            "--builtin-schema",
            "vendor.azure-pipelines",
            "examples/azure/script.yml",
        ],
    );
}

#[test]
fn zizmor_finds_nothing_of_medium_severity_or_worse() {
    let mut args = vec![
        "--offline".to_string(),
        "--no-progress".into(),
        "--min-severity".into(),
        "medium".into(),
        ".".into(),
    ];
    args.extend(files("examples/github"));
    lint(
        "zizmor",
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
}

#[test]
fn every_action_input_reaches_scantoken_and_examples_use_real_inputs() {
    let action = yaml("action.yml");
    let inputs: Vec<String> = action["inputs"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let run = action["runs"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "run")
        .unwrap();
    let env = run["env"].as_object().unwrap();
    for input in inputs.iter().filter(|i| *i != "download-base-url") {
        let var = format!("INPUT_{}", input.to_uppercase().replace('-', "_"));
        assert_eq!(
            env.get(&var).and_then(Value::as_str),
            Some(format!("${{{{ inputs.{input} }}}}").as_str()),
            "input {input} is mapped to {var}"
        );
    }
    for example in files("examples/github") {
        let workflow = yaml(&example);
        for job in workflow["jobs"].as_object().unwrap().values() {
            for step in job["steps"].as_array().unwrap() {
                if step["uses"]
                    .as_str()
                    .is_some_and(|u| u.starts_with("scantoken/scantoken@"))
                {
                    for key in step["with"].as_object().unwrap().keys() {
                        assert!(inputs.contains(key), "{example}: unknown input {key}");
                    }
                }
            }
        }
    }
}

#[test]
fn azure_example_inputs_exist_in_task_json() {
    let task: Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("task.json")).unwrap()).unwrap();
    let names: Vec<&str> = task["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    let pipeline = yaml("examples/azure/azure-pipelines.yml");
    let step = pipeline["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["task"] == "ScanToken@0")
        .unwrap();
    for key in step["inputs"].as_object().unwrap().keys() {
        assert!(
            names.contains(&key.as_str()),
            "task.json has no input {key}"
        );
    }
    assert_eq!(task["execution"]["Node24"]["target"], "index.js");
    assert_eq!(task["execution"]["Node20_1"]["target"], "index.js");
}

// --- The action's install step --------------------------------------------------------

/// An action checkout with the real install script, a version and pinned checksums.
fn action_checkout(dir: &Path, checksums: &str) -> PathBuf {
    let action = dir.join("action-root");
    std::fs::create_dir_all(action.join("action")).unwrap();
    std::fs::copy(
        root().join("action/install.sh"),
        action.join("action/install.sh"),
    )
    .unwrap();
    std::fs::write(
        action.join("Cargo.toml"),
        "[package]\nname = \"scantoken\"\nversion = \"9.8.7\"\n",
    )
    .unwrap();
    std::fs::write(action.join("action/checksums.txt"), checksums).unwrap();
    action
}

/// A release asset: a tar.gz holding `scantoken` (the real binary).
fn release_asset(dir: &Path) -> Vec<u8> {
    let stage = dir.join("stage");
    std::fs::create_dir_all(&stage).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_scantoken"), stage.join("scantoken")).unwrap();
    let tarball = dir.join("asset.tar.gz");
    let ok = Command::new("tar")
        .arg("-czf")
        .arg(&tarball)
        .arg("-C")
        .arg(&stage)
        .arg("scantoken")
        .status()
        .unwrap();
    assert!(ok.success());
    std::fs::read(tarball).unwrap()
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Runs action/install.sh as the composite step does; returns (exit code, output, GITHUB_OUTPUT).
fn install(
    dir: &Path,
    action: &Path,
    base: &str,
    path_prefix: Option<&Path>,
) -> (i32, String, String) {
    let temp = dir.join("runner-temp");
    std::fs::create_dir_all(&temp).unwrap();
    let output = dir.join("github_output");
    let _ = std::fs::remove_file(&output);
    let path = match path_prefix {
        Some(p) => format!("{}:{}", p.display(), std::env::var("PATH").unwrap()),
        None => std::env::var("PATH").unwrap(),
    };
    let out = Command::new("bash")
        .arg(action.join("action/install.sh"))
        .env_clear()
        .env("PATH", path)
        .env("GITHUB_ACTION_PATH", action)
        .env("RUNNER_OS", "Linux")
        .env("RUNNER_ARCH", "X64")
        .env("RUNNER_TEMP", &temp)
        .env("GITHUB_OUTPUT", &output)
        .env("SCANTOKEN_DOWNLOAD_BASE", base)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        std::fs::read_to_string(&output).unwrap_or_default(),
    )
}

const ASSET: &str = "scantoken-v9.8.7-linux-x64.tar.gz";

#[test]
fn install_accepts_a_release_whose_checksum_matches() {
    let dir = tempfile::tempdir().unwrap();
    let asset = release_asset(dir.path());
    let server = StaticServer::start(HashMap::from([(format!("/v9.8.7/{ASSET}"), asset.clone())]));
    let action = action_checkout(
        dir.path(),
        &format!("# pinned\n{}  {ASSET}\n", sha256_hex(&asset)),
    );
    let (code, log, output) = install(dir.path(), &action, &server.url, None);
    assert_eq!(code, 0, "{log}");
    let path = output
        .lines()
        .find_map(|l| l.strip_prefix("path="))
        .unwrap_or_else(|| panic!("{output}"));
    let version = Command::new(path).arg("--version").output().unwrap();
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("scantoken "));
    assert!(log.contains("verified"), "{log}");
}

#[test]
fn install_refuses_a_release_whose_checksum_does_not_match() {
    let dir = tempfile::tempdir().unwrap();
    let asset = release_asset(dir.path());
    let server = StaticServer::start(HashMap::from([(format!("/v9.8.7/{ASSET}"), asset)]));
    let wrong = "0".repeat(64);
    let action = action_checkout(dir.path(), &format!("{wrong}  {ASSET}\n"));
    // A cargo that must not be called: a mismatch is never papered over by a source build.
    let fake = dir.path().join("fakebin");
    std::fs::create_dir_all(&fake).unwrap();
    write_script(
        &fake.join("cargo"),
        "#!/bin/sh\necho cargo was called >&2\nexit 99\n",
    );
    let (code, log, output) = install(dir.path(), &action, &server.url, Some(&fake));
    assert_eq!(code, 1, "{log}");
    assert!(
        log.contains("::error title=scantoken::checksum mismatch") && log.contains(&wrong),
        "{log}"
    );
    assert!(!log.contains("cargo was called"));
    assert!(!output.contains("path="), "no binary is offered: {output}");
    assert!(
        !dir.path()
            .join(format!("runner-temp/scantoken-9.8.7/{ASSET}"))
            .exists(),
        "the download is removed"
    );
}

fn write_script(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

#[test]
fn install_builds_from_source_when_no_binary_is_pinned_or_downloadable() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("fakebin");
    std::fs::create_dir_all(&fake).unwrap();
    // Records its arguments and "installs" a binary where cargo install --root would.
    write_script(
        &fake.join("cargo"),
        "#!/bin/sh\necho \"$@\" > \"$RUNNER_TEMP/cargo-args\"\nwhile [ $# -gt 0 ]; do [ \"$1\" = --root ] && root=$2; shift; done\nmkdir -p \"$root/bin\" && printf '#!/bin/sh\\necho built\\n' > \"$root/bin/scantoken\" && chmod +x \"$root/bin/scantoken\"\n",
    );
    // Nothing pinned for this platform.
    let action = action_checkout(dir.path(), "# nothing yet\n");
    let server = StaticServer::start(HashMap::new());
    let (code, log, output) = install(dir.path(), &action, &server.url, Some(&fake));
    assert_eq!(code, 0, "{log}");
    assert!(log.contains("no pinned release binary"), "{log}");
    let args = std::fs::read_to_string(dir.path().join("runner-temp/cargo-args")).unwrap();
    assert!(
        args.starts_with("install --locked")
            && args.contains(&format!("--path {}", action.display())),
        "{args}"
    );
    assert!(
        output.contains("path=") && output.trim_end().ends_with("bin/scantoken"),
        "{output}"
    );
    assert!(
        server.requests.lock().unwrap().is_empty(),
        "nothing is downloaded without a pinned checksum"
    );

    // Pinned, but the release has no such asset: the same fallback.
    let action = action_checkout(dir.path(), &format!("{}  {ASSET}\n", "a".repeat(64)));
    let (code, log, _) = install(dir.path(), &action, &server.url, Some(&fake));
    assert_eq!(code, 0, "{log}");
    assert!(log.contains("could not be downloaded"), "{log}");
}

// --- Jenkins, GitLab and Bitbucket snippets ------------------------------------------------

const SQP: &str = "sqp_5555555555555555555555555555555555555555";

/// A PATH with the real scantoken and a `sonar-scanner` that records its environment.
fn snippet_path(dir: &Path) -> String {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_scantoken"), bin.join("scantoken")).unwrap();
    write_script(
        &bin.join("sonar-scanner"),
        "#!/bin/sh\nenv > \"$SCANNER_ENV_OUT\"\n",
    );
    format!("{}:{}", bin.display(), std::env::var("PATH").unwrap())
}

fn emulator() -> sonar_emulator::BlockingEmulator {
    let scenario = Scenario::from_yaml_str(&format!(
        "flavor: server\nprojects: [{{key: acme_payments}}]\n\
         tokens: [{{value: \"{SQP}\", kind: project-analysis, projects: [acme_payments]}}]\n"
    ))
    .unwrap();
    start_blocking(EmulatorConfig::new(scenario)).unwrap()
}

/// Runs a snippet with `sh` under a CI's variables; returns what the scanner received.
fn run_snippet(script: &str, ci_env: &[(&str, &str)]) -> HashMap<String, String> {
    let dir = tempfile::tempdir().unwrap();
    let sonar = emulator();
    let out_file = dir.path().join("scanner-env");
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(script)
        .env_clear()
        .env("PATH", snippet_path(dir.path()))
        .env("HOME", dir.path())
        .env("SCANNER_ENV_OUT", &out_file)
        .env("SONAR_TOKEN", SQP)
        .env("SONAR_HOST_URL", sonar.web_url())
        .current_dir(dir.path());
    for (k, v) in ci_env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{script}\n{log}");
    assert!(!log.contains(SQP), "the token is not printed: {log}");
    let seen =
        std::fs::read_to_string(&out_file).unwrap_or_else(|_| panic!("the scanner ran: {log}"));
    let mut vars: HashMap<String, String> = seen
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.into(), v.into()))
        .collect();
    vars.insert(
        "__dotenv".into(),
        std::fs::read_to_string(dir.path().join("sonar.env")).unwrap_or_default(),
    );
    vars
}

fn assert_pull_request(vars: &HashMap<String, String>, key: &str) {
    assert_eq!(vars.get("SONAR_TOKEN").map(String::as_str), Some(SQP));
    let params: Value = serde_json::from_str(&vars["SONAR_SCANNER_JSON_PARAMS"]).unwrap();
    assert_eq!(params["sonar.projectKey"], "acme_payments");
    assert_eq!(params["sonar.pullrequest.key"], key);
    assert_eq!(params["sonar.pullrequest.branch"], "feature/login");
    assert_eq!(params["sonar.pullrequest.base"], "main");
    assert_eq!(
        vars["SONARQUBE_SCANNER_PARAMS"],
        vars["SONAR_SCANNER_JSON_PARAMS"]
    );
}

#[test]
fn jenkinsfile_snippet_in_a_multibranch_pull_request() {
    let text = std::fs::read_to_string(root().join("examples/jenkins/Jenkinsfile")).unwrap();
    let start = text.find("# scantoken: begin").unwrap();
    let end = text.find("# scantoken: end").unwrap();
    let script = &text[start..end];
    let vars = run_snippet(
        script,
        &[
            ("JENKINS_URL", "https://ci.acme.example/"),
            ("EXECUTOR_NUMBER", "1"),
            ("BRANCH_NAME", "PR-42"),
            ("CHANGE_ID", "42"),
            ("CHANGE_BRANCH", "feature/login"),
            ("CHANGE_TARGET", "main"),
            ("GIT_COMMIT", "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0"),
        ],
    );
    assert_pull_request(&vars, "42");
}

#[test]
fn gitlab_job_in_a_merge_request_pipeline_keeps_the_token_out_of_the_dotenv() {
    let job = &yaml("examples/gitlab/.gitlab-ci.yml")["sonar"];
    let script: Vec<&str> = job["script"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    let vars = run_snippet(
        &format!("set -e\n{}", script.join("\n")),
        &[
            ("GITLAB_CI", "true"),
            ("CI_PIPELINE_SOURCE", "merge_request_event"),
            ("CI_MERGE_REQUEST_IID", "7"),
            ("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "feature/login"),
            ("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "main"),
            ("CI_COMMIT_SHA", "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0"),
            ("CI_PROJECT_PATH", "acme/payments"),
        ],
    );
    assert_pull_request(&vars, "7");
    let dotenv = &vars["__dotenv"];
    assert!(dotenv.contains("SONAR_SCANNER_JSON_PARAMS="), "{dotenv}");
    assert!(
        !dotenv.contains(SQP) && !dotenv.contains("SONAR_TOKEN"),
        "no token in the dotenv artifact: {dotenv}"
    );
}

#[test]
fn bitbucket_step_in_a_pull_request_pipeline() {
    let pipelines = yaml("examples/bitbucket/bitbucket-pipelines.yml");
    let step = &pipelines["pipelines"]["pull-requests"]["**"][0]["step"];
    let script: Vec<&str> = step["script"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    let vars = run_snippet(
        &format!("set -e\n{}", script.join("\n")),
        &[
            (
                "BITBUCKET_COMMIT",
                "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0",
            ),
            ("BITBUCKET_PR_ID", "9"),
            ("BITBUCKET_BRANCH", "feature/login"),
            ("BITBUCKET_PR_DESTINATION_BRANCH", "main"),
            ("BITBUCKET_REPO_FULL_NAME", "acme/payments"),
        ],
    );
    assert_pull_request(&vars, "9");
}
