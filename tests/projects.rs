//! Many projects in one step (`--projects`): a monorepo's projects found by glob or `auto`,
//! verified in one wave against the Sonar emulator, scanned one by one or in parallel
//! (`run --projects`), or planned for the CI's own fan-out (`export --projects`).

mod common;

use common::{pairs, scantoken, set};
use sonar_emulator::{start_blocking, BlockingEmulator, EmulatorConfig, FaultRule, Scenario};
use std::path::Path;

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
    write("services/api/sonar-project.properties", "sonar.projectKey=acme_api\n");
    write("services/web/sonar-project.properties", "sonar.projectKey=acme_web\n");
    write(
        "libs/core/pyproject.toml",
        "[tool.sonar]\nprojectKey = \"acme_core\"\n",
    );
    write("node_modules/x/sonar-project.properties", "sonar.projectKey=x\n");
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
    let fingerprints: std::collections::BTreeSet<_> =
        log.iter().filter_map(|r| r.token_fingerprint.clone()).collect();
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
        &["verify", "--json", "--projects", "services/*", "--projects", "libs/*"],
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
    assert!(stderr.contains("\"apps/*\" matches no directory"), "{stderr}");
    // One project key for several projects.
    set(&mut env, "SCANTOKEN_PROJECT_KEY", "acme_api");
    let (code, _, stderr) = scantoken(repo.path(), &env, &["verify", "--projects", "services/*"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("services/api, services/web"),
        "{stderr}"
    );
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
