//! Many projects in one step (`--projects`): a monorepo's projects found by glob or `auto`,
//! verified in one wave against the Sonar emulator, scanned one by one or in parallel
//! (`run --projects`), or planned for the CI's own fan-out (`export --projects`).

mod common;
#[allow(clippy::duplicate_mod)]
mod support;

use common::{pairs, scantoken, set};
use sonar_emulator::{start_blocking, BlockingEmulator, EmulatorConfig, FaultRule, Scenario};
use std::path::Path;
use support::{azure_agent, github_runner};

const SOT_API: &str = "sqco_APIapiAPIapiAPIapiAPIapiAPIapiAPIapiAPIapiAPIapiAPIapiAPIapiAP";
const SOT_WEB: &str = "sqco_WEBwebWEBwebWEBwebWEBwebWEBwebWEBwebWEBwebWEBwebWEBwebWEBweb";

fn emulator(latency_ms: u64) -> BlockingEmulator {
    let scenario = Scenario::from_yaml_str(&format!(
        r#"
flavor: cloud
organizations: [acme]
projects:
  - {{key: acme_api, organization: acme}}
  - {{key: acme_web, organization: acme}}
  - {{key: acme_core, organization: acme}}
tokens:
  - {{value: "{SOT_API}", kind: sot, organization: acme, projects: [acme_api]}}
  - {{value: "{SOT_WEB}", kind: sot, organization: acme, projects: [acme_web]}}
"#
    ))
    .unwrap();
    let mut config = EmulatorConfig::new(scenario);
    if latency_ms > 0 {
        config.faults = vec![FaultRule::latency("*", latency_ms)];
    }
    start_blocking(config).unwrap()
}

/// A monorepo: services/api and services/web, libs/core (a pysonar project), each with its
/// own key; a token map gives acme_api one token and the others another, which cannot scan
/// acme_core.
fn monorepo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let write = |rel: &str, text: &str| {
        let p = d.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    write(
        "services/api/sonar-project.properties",
        "sonar.projectKey=acme_api\n",
    );
    write(
        "services/web/sonar-project.properties",
        "sonar.projectKey=acme_web\n",
    );
    write(
        "libs/core/pyproject.toml",
        "[tool.sonar]\nprojectKey = \"acme_core\"\n",
    );
    write(
        "node_modules/x/sonar-project.properties",
        "sonar.projectKey=x\n",
    );
    write(
        "token-map.yaml",
        "rules:\n  - projects: [acme_api]\n    token-env: TOKEN_API\n  - projects: [\"*\"]\n    token-env: TOKEN_WEB\n",
    );
    dir
}

fn env_for(e: &BlockingEmulator) -> Vec<(String, String)> {
    pairs(&[
        ("SONAR_SCANNER_SONARCLOUD_URL", &e.web_url()),
        ("SONAR_SCANNER_API_BASE_URL", &e.api_url()),
        ("SONAR_ORGANIZATION", "acme"),
        ("SCANTOKEN_TOKEN_MAP", "token-map.yaml"),
        ("TOKEN_API", SOT_API),
        ("TOKEN_WEB", SOT_WEB),
    ])
}

#[test]
fn verify_projects_auto_checks_every_project_in_one_wave() {
    let e = emulator(300);
    let repo = monorepo();
    let env = env_for(&e);
    let (code, stdout, stderr) = scantoken(repo.path(), &env, &["verify", "--projects", "auto"]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(stdout.contains("Projects (3)"), "{stdout}");
    for (dir, key, verdict) in [
        ("libs/core", "acme_core", "no-scan-permission"),
        ("services/api", "acme_api", "ok"),
        ("services/web", "acme_web", "ok"),
    ] {
        let row = stdout
            .lines()
            .find(|l| l.trim_start().starts_with(dir))
            .unwrap_or_else(|| panic!("no row for {dir}: {stdout}"));
        assert!(row.contains(key) && row.contains(verdict), "{row}");
    }
    assert!(!stdout.contains("node_modules"), "{stdout}");
    assert!(!stdout.contains(SOT_API) && !stderr.contains(SOT_API));

    // One wave: every request was received before the first answer went out.
    let log = e.log();
    let first_response = log.iter().map(|r| r.responded_us).min().unwrap();
    assert!(
        log.iter().all(|r| r.received_us < first_response),
        "every probe was sent before any answer: {log:?}"
    );
    // What does not depend on the project is asked once per token.
    let fingerprints: std::collections::BTreeSet<_> = log
        .iter()
        .filter_map(|r| r.token_fingerprint.clone())
        .collect();
    assert_eq!(fingerprints.len(), 2, "{log:?}");
    let mut per_path = std::collections::BTreeMap::new();
    for r in &log {
        *per_path
            .entry((r.path.clone(), r.query.clone(), r.token_fingerprint.clone()))
            .or_insert(0) += 1;
    }
    assert!(
        per_path.values().all(|n| *n == 1),
        "no request was sent twice: {per_path:?}"
    );
}

#[test]
fn verify_projects_json_has_a_row_per_project_and_the_worst_exit_code() {
    let e = emulator(0);
    let repo = monorepo();
    let env = env_for(&e);
    let (code, stdout, stderr) = scantoken(
        repo.path(),
        &env,
        &[
            "verify",
            "--json",
            "--projects",
            "services/*",
            "--projects",
            "libs/*",
        ],
    );
    assert_eq!(code, 1, "{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["exit_code"], 1);
    let rows = json["projects"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0]["directory"], "libs/core");
    assert_eq!(rows[0]["verdict"], "no-scan-permission");
    assert_eq!(rows[1]["verdict"], "ok");
    assert!(rows[1]["token"]["source"]
        .as_str()
        .unwrap()
        .contains("TOKEN_API"));
    assert!(rows[2]["token"]["source"]
        .as_str()
        .unwrap()
        .contains("TOKEN_WEB"));

    // Only the two that can be scanned: exit 0.
    let (code, _, stderr) = scantoken(repo.path(), &env, &["verify", "--projects", "services/*"]);
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn a_set_that_cannot_be_told_apart_is_refused_before_anything_is_sent() {
    let e = emulator(0);
    let repo = monorepo();
    let mut env = env_for(&e);
    // A glob that matches nothing.
    let (code, _, stderr) = scantoken(
        repo.path(),
        &env,
        &["verify", "--projects", "services/*", "--projects", "apps/*"],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("\"apps/*\" matches no directory"),
        "{stderr}"
    );
    // One project key for several projects.
    set(&mut env, "SCANTOKEN_PROJECT_KEY", "acme_api");
    let (code, _, stderr) = scantoken(repo.path(), &env, &["verify", "--projects", "services/*"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("services/api, services/web"), "{stderr}");
    env.retain(|(k, _)| k != "SCANTOKEN_PROJECT_KEY");
    // Two directories with one key.
    std::fs::write(
        repo.path().join("services/web/sonar-project.properties"),
        "sonar.projectKey=acme_api\n",
    )
    .unwrap();
    let (code, _, stderr) = scantoken(repo.path(), &env, &["verify", "--projects", "services/*"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("services/api and services/web resolve to the same project key"),
        "{stderr}"
    );
    assert!(e.log().is_empty(), "nothing was sent");
    let _ = Path::new(".");
}

/// A scan stand-in: records where it ran, its project key and its token, then exits with
/// `SCAN_EXIT_<dir>` (default 0), and prints a start and an end line around a short pause.
fn recording_scanner(root: &Path) -> String {
    let script = root.join("scan.sh");
    std::fs::write(
        &script,
        r#"#!/bin/sh
name=$(basename "$PWD")
echo "start $name"
printf '%s %s %s\n' "$PWD" "$SONAR_TOKEN" "$SONAR_SCANNER_JSON_PARAMS" >> "$RECORD"
sleep 0.2
echo "end $name"
eval "code=\${SCAN_EXIT_$name:-0}"
exit "$code"
"#,
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    script.to_str().unwrap().to_owned()
}

fn records(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn run_projects_scans_exactly_the_verified_projects_each_with_its_own_token() {
    let e = emulator(0);
    let repo = monorepo();
    let mut env = env_for(&e);
    let record = repo.path().join("record.txt");
    set(&mut env, "RECORD", record.to_str().unwrap());
    let scan = recording_scanner(repo.path());
    let (code, stdout, stderr) = scantoken(
        repo.path(),
        &env,
        &["run", "--projects", "auto", "--", &scan],
    );
    // acme_core cannot be scanned: not started, and the verdict's exit code; both others ran.
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("not started: libs/core (no-scan-permission)"),
        "{stdout}"
    );
    let lines = records(&record);
    assert_eq!(lines.len(), 2, "{lines:?}");
    let api = lines.iter().find(|l| l.contains("/services/api ")).unwrap();
    let web = lines.iter().find(|l| l.contains("/services/web ")).unwrap();
    assert!(api.contains(SOT_API) && !api.contains(SOT_WEB), "{api}");
    assert!(api.contains("\"sonar.projectKey\":\"acme_api\""), "{api}");
    assert!(web.contains(SOT_WEB) && !web.contains(SOT_API), "{web}");
    assert!(web.contains("\"sonar.projectKey\":\"acme_web\""), "{web}");
    assert!(!stdout.contains(SOT_API) && !stderr.contains(SOT_WEB));
}

#[test]
fn run_projects_fail_fast_jobs_and_exit_codes() {
    let e = emulator(0);
    let repo = monorepo();
    let mut env = env_for(&e);
    let record = repo.path().join("record.txt");
    set(&mut env, "RECORD", record.to_str().unwrap());
    set(&mut env, "SCAN_EXIT_api", "7");
    let scan = recording_scanner(repo.path());

    // Every verified project is scanned even after one fails; the first failure's code.
    let (code, stdout, _) = scantoken(
        repo.path(),
        &env,
        &["run", "--projects", "services/*", "--", &scan],
    );
    assert_eq!(code, 7, "{stdout}");
    assert_eq!(records(&record).len(), 2);

    // --fail-fast: services/api (first in order) fails, services/web is not started.
    std::fs::remove_file(&record).unwrap();
    let (code, stdout, _) = scantoken(
        repo.path(),
        &env,
        &[
            "run",
            "--projects",
            "services/*",
            "--fail-fast",
            "--",
            &scan,
        ],
    );
    assert_eq!(code, 7, "{stdout}");
    assert_eq!(records(&record).len(), 1, "{stdout}");
    assert!(stdout.contains("not started"), "{stdout}");

    // --jobs 2: both at once, each one's output whole under its header.
    std::fs::remove_file(&record).unwrap();
    env.retain(|(k, _)| k != "SCAN_EXIT_api");
    let (code, stdout, stderr) = scantoken(
        repo.path(),
        &env,
        &[
            "run",
            "--projects",
            "services/*",
            "--jobs",
            "2",
            "--",
            &scan,
        ],
    );
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert_eq!(records(&record).len(), 2);
    for name in ["api", "web"] {
        let lines: Vec<&str> = stdout.lines().collect();
        let header = lines
            .iter()
            .position(|l| l.starts_with("── services/") && l.contains(&format!("/{name} (")))
            .unwrap_or_else(|| panic!("no header for {name}: {stdout}"));
        assert_eq!(lines[header + 1], format!("start {name}"), "{stdout}");
        assert_eq!(lines[header + 2], format!("end {name}"), "{stdout}");
    }
}

#[test]
fn export_projects_writes_the_plan_for_the_cis_matrix_without_a_token() {
    let e = emulator(0);
    let repo = monorepo();
    let files = tempfile::tempdir().unwrap();
    let output = files.path().join("github_output");
    let mut env = env_for(&e);
    for (k, v) in [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_EVENT_NAME", "push"),
        ("GITHUB_REF", "refs/heads/main"),
        ("GITHUB_SHA", "6113728f27ae82c7b1a177c8d03f9e96e0adf246"),
        ("GITHUB_REPOSITORY", "acme/mono"),
        ("GITHUB_OUTPUT", output.to_str().unwrap()),
        (
            "GITHUB_ENV",
            files.path().join("github_env").to_str().unwrap(),
        ),
    ] {
        set(&mut env, k, v);
    }
    let (code, stdout, stderr) = scantoken(repo.path(), &env, &["export", "--projects", "auto"]);
    assert_eq!(code, 1, "the worst verdict: {stdout}\n{stderr}");
    let written = std::fs::read_to_string(&output).unwrap();
    assert!(!written.contains(SOT_API) && !written.contains(SOT_WEB));
    assert!(std::fs::read_to_string(files.path().join("github_env"))
        .unwrap_or_default()
        .is_empty());
    let outputs = github_runner::parse_env_file(&written).unwrap();
    let matrix = &outputs.iter().find(|(k, _)| k == "matrix").unwrap().1;
    // What `fromJSON(needs.plan.outputs.matrix)` reads.
    let m: serde_json::Value = serde_json::from_str(matrix).unwrap();
    let include = m["include"].as_array().unwrap();
    assert_eq!(include.len(), 3);
    assert_eq!(include[1]["name"], "services_api");
    assert_eq!(include[1]["project-base-dir"], "services/api");
    assert_eq!(include[1]["project-key"], "acme_api");
    assert_eq!(include[1]["organization"], "acme");
    assert_eq!(include[1]["verdict"], "ok");
    assert_eq!(include[0]["verdict"], "no-scan-permission");

    // Azure: an output variable in the shape `strategy: matrix:` reads.
    let azure = pairs(&[
        ("TF_BUILD", "True"),
        ("BUILD_SOURCEBRANCH", "refs/heads/main"),
        (
            "BUILD_SOURCEVERSION",
            "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
        ),
        ("BUILD_REPOSITORY_PROVIDER", "TfsGit"),
        ("AGENT_TEMPDIRECTORY", files.path().to_str().unwrap()),
    ]);
    let mut env = env_for(&e);
    env.extend(azure);
    let (_, stdout, _) = scantoken(repo.path(), &env, &["export", "--projects", "services/*"]);
    let cmds = azure_agent::parse_logging_commands(&stdout);
    let vars = azure_agent::variables(&cmds);
    let matrix = vars.iter().find(|v| v.name == "matrix").unwrap();
    assert!(matrix.is_output && !matrix.is_secret);
    let m: serde_json::Value = serde_json::from_str(&matrix.value).unwrap();
    assert_eq!(m["services_web"]["projectBaseDir"], "services/web");
    assert_eq!(m["services_web"]["projectKey"], "acme_web");
    assert!(vars.iter().all(|v| !v.value.contains("sqco_")), "{vars:?}");

    // JSON anywhere; a format for one job's environment is refused.
    let env = env_for(&e);
    let (code, stdout, stderr) = scantoken(
        repo.path(),
        &env,
        &["export", "--projects", "services/*", "--format", "json"],
    );
    assert_eq!(code, 0, "{stderr}");
    let plan: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(plan["projects"].as_array().unwrap().len(), 2);
    assert!(!stdout.contains("sqco_"));
    let (code, _, stderr) = scantoken(
        repo.path(),
        &env,
        &["export", "--projects", "services/*", "--format", "shell"],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("one job's environment holds one project"),
        "{stderr}"
    );
}

#[test]
fn run_with_a_project_base_dir_starts_the_scan_in_that_directory() {
    let e = emulator(0);
    let repo = monorepo();
    let mut env = env_for(&e);
    let record = repo.path().join("record.txt");
    set(&mut env, "RECORD", record.to_str().unwrap());
    let scan = recording_scanner(repo.path());
    let (code, stdout, stderr) = scantoken(
        repo.path(),
        &env,
        &["run", "--project-base-dir", "services/web", "--", &scan],
    );
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let lines = records(&record);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("/services/web "), "{lines:?}");
    assert!(
        lines[0].contains("\"sonar.projectKey\":\"acme_web\""),
        "{lines:?}"
    );
}
