//! `scantoken audit` end to end: the real binary against the Sonar emulator (Server and
//! Cloud), with a token map: coverage gaps, projects without a rule, unset variables, tokens
//! expiring (by the map and by the server's header), personal tokens, an unreachable server,
//! a throttling server, the deadline, the CI summaries, bad input; the JSON evidence checked
//! against docs/audit.schema.json with check-jsonschema; and the Azure scheduled example
//! checked against Azure's pipeline schema (the GitHub one is linted with the other examples
//! in tests/packaging.rs).

mod common;

use common::{pairs, scantoken};
use serde_json::Value;
use sonar_emulator::{start_blocking, BlockingEmulator, EmulatorConfig, FaultRule, Scenario};
use std::path::{Path, PathBuf};
use std::process::Command;

// Canary tokens: none of them may appear in any output.
const SOT_PAYMENTS: &str = "sqco_CANARYpaymentsPAYMENTSpaymentsPAYMENTSpaymentsPAYMENTSpaymen";
const SOT_ALL: &str = "sqco_CANARYallALLallALLallALLallALLallALLallALLallALLallALLallALL";
const SOT_NEW: &str = "sqco_CANARYnewNEWnewNEWnewNEWnewNEWnewNEWnewNEWnewNEWnewNEWnewNEW";
const PERSONAL: &str = "CANARY0123456789abcdef0123456789abcdef01";
const SQP_SOON: &str = "sqp_CANARY11111111111111111111111111111111";
const SQU_USER: &str = "squ_CANARY22222222222222222222222222222222";
const CANARY: &str = "CANARY";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn cloud() -> BlockingEmulator {
    let scenario = Scenario::from_yaml_str(&format!(
        r#"
flavor: cloud
organizations: [acme]
projects:
  - {{key: acme_payments-api, organization: acme}}
  - {{key: acme_payments-worker, organization: acme}}
  - {{key: acme_web, organization: acme}}
  - {{key: acme_new, organization: acme}}
  - {{key: acme_orphan, organization: acme}}
tokens:
  - {{value: "{SOT_PAYMENTS}", kind: sot, organization: acme, projects: [acme_payments-api, acme_payments-worker]}}
  - {{value: "{SOT_ALL}", kind: sot, organization: acme, projects: [acme_payments-api, acme_payments-worker, acme_web]}}
  - {{value: "{SOT_NEW}", kind: sot, organization: acme, projects: all}}
  - {{value: "{PERSONAL}", kind: personal, scan: all}}
"#
    ))
    .unwrap();
    start_blocking(EmulatorConfig::new(scenario)).unwrap()
}

fn cloud_env(sonar: &BlockingEmulator) -> Vec<(String, String)> {
    pairs(&[
        ("SONAR_SCANNER_SONARCLOUD_URL", &sonar.web_url()),
        ("SONAR_SCANNER_API_BASE_URL", &sonar.api_url()),
        ("SONAR_ORGANIZATION", "acme"),
        ("SONAR_TOKEN_PAYMENTS", SOT_PAYMENTS),
        ("SONAR_TOKEN_ALL", SOT_ALL),
        ("PERSONAL_TOKEN", PERSONAL),
        ("NEW_TOKEN", SOT_NEW),
    ])
}

/// A token map with a payments rule expiring in 5 days, a rule for a variable this job does
/// not have, a personal token for acme_web, a rule nothing selects, and no catch-all.
fn write_map(dir: &Path) {
    let soon = days_from_today(5);
    std::fs::write(
        dir.join("map.yaml"),
        format!(
            r#"rules:
  - projects: ["acme_payments-*"]
    token-env: SONAR_TOKEN_PAYMENTS
    expires: {soon}
  - projects: ["acme_web"]
    token-env: PERSONAL_TOKEN
  - projects: ["acme_new"]
    token-env: SONAR_TOKEN_ALL
  - projects: ["acme_legacy-*"]
    token-env: SONAR_TOKEN_LEGACY
  - projects: ["acme_payments-api"]
    token-env: SONAR_TOKEN_ALL
"#
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("projects.txt"),
        "# the fleet\nacme_payments-api\nacme_payments-worker\n\nacme_web\nacme_new\nacme_orphan\n",
    )
    .unwrap();
}

fn days_from_today(n: i64) -> String {
    let days = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        / 86_400
        + n;
    sonar_emulator::scenario::civil_date(days)
}

fn assert_no_canary(texts: &[&str]) {
    for t in texts {
        assert!(!t.contains(CANARY), "a token leaked:\n{t}");
    }
}

fn json(stdout: &str) -> Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("{e}:\n{stdout}"))
}

fn project<'a>(report: &'a Value, key: &str) -> &'a Value {
    report["projects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["key"] == key)
        .unwrap_or_else(|| panic!("no project {key}"))
}

fn findings(report: &Value, kind: &str) -> Vec<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == kind)
        .map(|f| f["message"].as_str().unwrap().to_owned())
        .collect()
}

/// check-jsonschema (installed by scripts/test.sh in target/tools/venv) on a file.
fn check_schema(args: &[&str]) {
    let venv = root().join("target/tools/venv/bin/check-jsonschema");
    let program = if venv.exists() {
        venv
    } else {
        PathBuf::from("check-jsonschema")
    };
    let out = Command::new(&program)
        .args(args)
        .current_dir(root())
        .output()
        .unwrap_or_else(|e| {
            panic!("check-jsonschema is not installed ({e}); ./scripts/test.sh installs it")
        });
    assert!(
        out.status.success(),
        "check-jsonschema {args:?}:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn cloud_with_a_token_map_finds_gaps_expiry_personal_tokens_and_unused_rules() {
    let sonar = cloud();
    let dir = tempfile::tempdir().unwrap();
    write_map(dir.path());
    let env = cloud_env(&sonar);
    let evidence = dir.path().join("evidence.json");
    let md = dir.path().join("audit.md");
    let (code, table, stderr) = scantoken(
        dir.path(),
        &env,
        &[
            "audit",
            "--projects-file",
            "projects.txt",
            "--project",
            "acme_payments-api",
            "--token-map",
            "map.yaml",
            "--token-env",
            "NEW_TOKEN",
            "--json-file",
            evidence.to_str().unwrap(),
            "--markdown-file",
            md.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 1, "{table}\n{stderr}");
    let report = json(&std::fs::read_to_string(&evidence).unwrap());
    let markdown = std::fs::read_to_string(&md).unwrap();
    assert_no_canary(&[&table, &stderr, &report.to_string(), &markdown]);

    // Per project: the rule and token CI would pick, and the verdict.
    let p = project(&report, "acme_payments-api");
    assert_eq!(
        (p["verdict"].as_str(), p["rule_line"].as_u64()),
        (Some("ok"), Some(2))
    );
    assert_eq!(p["token_env"], "SONAR_TOKEN_PAYMENTS");
    let p = project(&report, "acme_web");
    assert_eq!(
        (p["verdict"].as_str(), p["token_env"].as_str()),
        (Some("ok"), Some("PERSONAL_TOKEN"))
    );
    let p = project(&report, "acme_new");
    assert_eq!(p["verdict"], "no-scan-permission", "{p}");
    assert_eq!(
        p["probes"].as_array().unwrap().len(),
        2,
        "project and scan probes"
    );
    assert_eq!(project(&report, "acme_orphan")["verdict"], "no-rule");
    assert_eq!(
        report["summary"]["projects"], 5,
        "the repeated key counts once"
    );
    assert_eq!(report["summary"]["not_covered"], 2);

    // Per token: kind, fingerprint, sources, expiry, what it can and cannot scan.
    let tokens = report["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 4);
    let payments = tokens
        .iter()
        .find(|t| {
            t["sources"][0]
                .as_str()
                .unwrap()
                .contains("SONAR_TOKEN_PAYMENTS")
        })
        .unwrap();
    assert_eq!(payments["kind"], "scoped-organization");
    assert_eq!(payments["expires"]["from"], "token-map");
    assert_eq!(payments["expires"]["days_left"], 5);
    assert_eq!(payments["can_scan"].as_array().unwrap().len(), 2);
    let all = tokens
        .iter()
        .find(|t| {
            t["sources"][0]
                .as_str()
                .unwrap()
                .contains("SONAR_TOKEN_ALL")
        })
        .unwrap();
    assert_eq!(
        all["sources"].as_array().unwrap().len(),
        2,
        "two rules name it: {all}"
    );
    let new = tokens.iter().find(|t| t["named"] == true).unwrap();
    assert_eq!(new["used_by_ci"], false);
    assert_eq!(new["can_scan"].as_array().unwrap().len(), 5, "{new}");
    assert_eq!(
        new["fingerprint"].as_str().unwrap().len(),
        "sha256:1234".len()
    );

    // For the map: rules that match nothing or are shadowed, projects no rule matches,
    // personal tokens where a scoped one would do (and which scoped token already covers them).
    let unused = findings(&report, "rule-unused");
    assert!(
        unused
            .iter()
            .any(|m| m.contains("line 9") && m.contains("matches no listed project")),
        "{unused:?}"
    );
    assert!(
        unused
            .iter()
            .any(|m| m.contains("line 11") && m.contains("shadowed")),
        "{unused:?}"
    );
    assert_eq!(findings(&report, "project-without-rule").len(), 1);
    let personal = findings(&report, "personal-token");
    assert!(
        personal[0].contains("PERSONAL_TOKEN") && personal[0].contains("can already scan"),
        "{personal:?}"
    );
    let expiring = findings(&report, "token-expiring");
    assert!(expiring[0].contains(&days_from_today(5)), "{expiring:?}");

    // What people read.
    assert!(
        table.contains("acme_new") && table.contains("no-scan-permission"),
        "{table}"
    );
    assert!(table.contains("exit 1"), "{table}");
    assert!(markdown.starts_with("### ❌ scantoken audit"), "{markdown}");
    assert!(
        markdown.contains("| `acme_orphan` | none | `no-rule` |"),
        "{markdown}"
    );

    // Only scan-only calls, and the token's validity asked once per token.
    let log = sonar.log();
    assert!(log.iter().all(|r| !sonar_browse_only(&r.path)));
    let validations = log
        .iter()
        .filter(|r| r.path == "/api/authentication/validate")
        .count();
    assert_eq!(validations, 4);

    // The evidence follows its schema.
    check_schema(&[
        "--schemafile",
        "docs/audit.schema.json",
        evidence.to_str().unwrap(),
    ]);
}

fn sonar_browse_only(path: &str) -> bool {
    [
        "/api/organizations/search",
        "/api/components/",
        "/api/navigation/",
        "/api/projects/search",
    ]
    .iter()
    .any(|p| path.starts_with(p))
}

#[test]
fn an_unset_rule_variable_and_a_clean_fleet() {
    let sonar = cloud();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("map.yaml"),
        "rules:\n  - projects: [\"acme_payments-*\"]\n    token-env: SONAR_TOKEN_PAYMENTS\n  - projects: [\"*\"]\n    token-env: SONAR_TOKEN_MISSING\n",
    )
    .unwrap();
    let env = cloud_env(&sonar);
    let args = |extra: &'static [&'static str]| {
        let mut a = vec![
            "audit",
            "--token-map",
            "map.yaml",
            "--format",
            "json",
            "--project",
            "acme_payments-api",
        ];
        a.extend_from_slice(extra);
        a
    };
    let (code, stdout, stderr) = scantoken(dir.path(), &env, &args(&["--project", "acme_web"]));
    assert_eq!(code, 1, "{stderr}");
    let report = json(&stdout);
    let web = project(&report, "acme_web");
    assert_eq!(web["verdict"], "token-missing");
    assert!(
        web["cause"]
            .as_str()
            .unwrap()
            .contains("SONAR_TOKEN_MISSING"),
        "{web}"
    );
    assert_eq!(findings(&report, "token-not-set").len(), 1);

    // Every project covered, no token expiring: exit 0.
    let (code, stdout, stderr) = scantoken(
        dir.path(),
        &env,
        &args(&["--project", "acme_payments-worker"]),
    );
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert_eq!(json(&stdout)["exit_code"], 0);
    assert_no_canary(&[&stdout, &stderr]);
}

#[test]
fn server_expiry_header_user_tokens_and_without_a_map() {
    let scenario = Scenario::from_yaml_str(&format!(
        r#"
flavor: server
projects: [{{key: acme_payments}}, {{key: acme_docs}}]
tokens:
  - {{value: "{SQP_SOON}", kind: project-analysis, projects: [acme_payments], expires: "+3d"}}
  - {{value: "{SQU_USER}", kind: user, scan: all}}
"#
    ))
    .unwrap();
    let sonar = start_blocking(EmulatorConfig::new(scenario)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let env = pairs(&[
        ("SONAR_HOST_URL", &sonar.web_url()),
        ("SONAR_TOKEN", SQP_SOON),
        ("USER_TOKEN", SQU_USER),
    ]);
    let (code, stdout, stderr) = scantoken(
        dir.path(),
        &env,
        &[
            "audit",
            "--project",
            "acme_payments",
            "--project",
            "acme_docs",
            "--token-env",
            "USER_TOKEN",
            "--format",
            "json",
        ],
    );
    assert_eq!(code, 1, "{stderr}");
    assert_no_canary(&[&stdout, &stderr]);
    let report = json(&stdout);
    assert_eq!(report["host"]["flavor"], "server");
    assert_eq!(
        report["host"]["probe"]["status"], 200,
        "api/server/version, once"
    );
    // Without a map, SONAR_TOKEN is the projects' token, as CI would find it.
    let p = project(&report, "acme_payments");
    assert_eq!(p["verdict"], "ok");
    assert_eq!(
        project(&report, "acme_docs")["verdict"],
        "no-scan-permission"
    );
    let sqp = &report["tokens"][0];
    assert_eq!(sqp["kind"], "server-project-analysis");
    assert_eq!(
        sqp["expires"]["from"], "server",
        "the server's expiry header: {sqp}"
    );
    assert_eq!(sqp["expires"]["days_left"], 3);
    assert_eq!(findings(&report, "token-expiring").len(), 1);
    let user = &report["tokens"][1];
    assert_eq!(
        (user["kind"].as_str(), user["named"].as_bool()),
        (Some("server-user"), Some(true))
    );
    assert_eq!(user["can_scan"].as_array().unwrap().len(), 2);
    let version_calls = sonar
        .log()
        .iter()
        .filter(|r| r.path == "/api/server/version")
        .count();
    assert_eq!(version_calls, 1);
}

#[test]
fn an_unreachable_server_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let env = pairs(&[
        ("SONAR_HOST_URL", &format!("http://127.0.0.1:{port}")),
        ("SONAR_TOKEN", SQP_SOON),
    ]);
    let (code, stdout, stderr) = scantoken(
        dir.path(),
        &env,
        &[
            "audit",
            "--project",
            "a",
            "--project",
            "b",
            "--retries",
            "0",
            "--format",
            "json",
        ],
    );
    assert_eq!(code, 3, "{stdout}\n{stderr}");
    let report = json(&stdout);
    assert_eq!(project(&report, "b")["verdict"], "unreachable");
    assert_eq!(findings(&report, "project-undecided").len(), 2);
    assert_no_canary(&[&stdout, &stderr]);
}

#[test]
fn the_deadline_ends_the_run_with_pairs_not_checked() {
    let sonar = cloud();
    sonar.set_faults(vec![FaultRule::latency("/sensor-cache", 5_000)]);
    let dir = tempfile::tempdir().unwrap();
    let env = cloud_env(&sonar);
    let start = std::time::Instant::now();
    let (code, stdout, stderr) = scantoken(
        dir.path(),
        &env,
        &[
            "audit",
            "--project",
            "acme_web",
            "--token-env",
            "NEW_TOKEN",
            "--deadline",
            "1",
            "--format",
            "json",
        ],
    );
    assert!(
        start.elapsed() < std::time::Duration::from_secs(4),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(code, 3, "{stderr}");
    let report = json(&stdout);
    assert_eq!(report["summary"]["deadline_reached"], true);
    assert_eq!(project(&report, "acme_web")["verdict"], "not-checked");
}

#[test]
fn a_throttling_server_is_paced_and_every_pair_is_decided() {
    let per_second = 20;
    let scenario = Scenario::from_yaml_str(&format!(
        "flavor: server\nthrottle: {{per_second: {per_second}}}\n\
         tokens: [{{value: \"{SQU_USER}\", kind: user, scan: all}}]\n\
         fleet: [{{prefix: acme_svc-, count: 40}}]\n"
    ))
    .unwrap();
    let sonar = start_blocking(EmulatorConfig::new(scenario)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let keys: String = (1..=40).map(|i| format!("acme_svc-{i:02}\n")).collect();
    std::fs::write(dir.path().join("projects.txt"), keys).unwrap();
    let env = pairs(&[
        ("SONAR_HOST_URL", &sonar.web_url()),
        ("SONAR_TOKEN", SQU_USER),
    ]);
    let (code, stdout, stderr) = scantoken(
        dir.path(),
        &env,
        &[
            "audit",
            "--projects-file",
            "projects.txt",
            "--format",
            "json",
        ],
    );
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let report = json(&stdout);
    assert_eq!(report["summary"]["covered"], 40);
    assert!(
        report["summary"]["throttled"].as_u64().unwrap() >= 1,
        "the throttle was reached"
    );
    let log = sonar.log();
    let first = log
        .iter()
        .filter(|r| r.status == 429)
        .map(|r| r.responded_us)
        .min()
        .unwrap();
    // Once the client has the first 429 (plus a margin for what was already on its way),
    // the server sees no request beyond its rate.
    let late: Vec<_> = log
        .iter()
        .filter(|r| r.status == 429 && r.received_us > first + 50_000)
        .collect();
    assert!(
        late.is_empty(),
        "throttled again after the first 429: {late:?}"
    );
}

#[test]
fn ci_summaries_on_github_and_azure() {
    let sonar = cloud();
    let dir = tempfile::tempdir().unwrap();
    let mut env = cloud_env(&sonar);
    let summary = dir.path().join("summary.md");
    env.extend(pairs(&[
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap()),
    ]));
    let (code, stdout, stderr) = scantoken(
        dir.path(),
        &env,
        &[
            "audit",
            "--project",
            "acme_new",
            "--token-env",
            "SONAR_TOKEN_ALL",
        ],
    );
    assert_eq!(code, 1, "{stderr}");
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(
        md.contains("### ❌ scantoken audit") && md.contains("`acme_new`"),
        "{md}"
    );
    // The token is masked for the runner before anything else, then never shown.
    assert!(stdout.starts_with("::add-mask::"), "{stdout}");
    assert!(
        stdout.contains("::error title=scantoken::audit: acme_new"),
        "{stdout}"
    );
    assert_no_canary(&[&common::outside_masks(&stdout), &stderr, &md]);

    let mut env = cloud_env(&sonar);
    env.extend(pairs(&[
        ("TF_BUILD", "True"),
        ("AGENT_TEMPDIRECTORY", dir.path().to_str().unwrap()),
    ]));
    let (code, stdout, _) = scantoken(
        dir.path(),
        &env,
        &[
            "audit",
            "--project",
            "acme_web",
            "--token-env",
            "SONAR_TOKEN_ALL",
        ],
    );
    assert_eq!(code, 0, "{stdout}");
    let line = stdout
        .lines()
        .find(|l| l.starts_with("##vso[task.uploadsummary]"))
        .unwrap_or_else(|| panic!("{stdout}"));
    let path = line.trim_start_matches("##vso[task.uploadsummary]");
    let md = std::fs::read_to_string(path).unwrap();
    assert!(md.starts_with("### ✅ scantoken audit"), "{md}");
    assert!(stdout.contains("##vso[task.setsecret]"), "{stdout}");
}

#[test]
fn bad_input_exits_2_naming_what_to_fix() {
    let dir = tempfile::tempdir().unwrap();
    let env = pairs(&[
        ("SONAR_HOST_URL", "http://127.0.0.1:9"),
        ("SONAR_TOKEN", SQP_SOON),
    ]);
    let (code, _, stderr) = scantoken(dir.path(), &env, &["audit"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("no project to check"), "{stderr}");

    std::fs::write(dir.path().join("p.txt"), "good_key\nbad key!\n").unwrap();
    let (code, _, stderr) = scantoken(dir.path(), &env, &["audit", "--projects-file", "p.txt"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("p.txt line 2") && stderr.contains("bad key!"),
        "{stderr}"
    );

    let (code, _, stderr) = scantoken(
        dir.path(),
        &env,
        &["audit", "--project", "k", "--token-env", "NOT_SET"],
    );
    assert_eq!(code, 2);
    assert!(
        stderr.contains("NOT_SET") && stderr.contains("empty or not set"),
        "{stderr}"
    );

    let (code, _, stderr) = scantoken(
        dir.path(),
        &env,
        &["audit", "--project", "k", "--concurrency", "0"],
    );
    assert_eq!(code, 2, "{stderr}");

    let (code, _, stderr) = scantoken(dir.path(), &env, &["audit", "--projects-file", "/dev/zero"]);
    assert_eq!(code, 2, "{stderr}");

    let insecure = pairs(&[
        ("SONAR_HOST_URL", "http://sonar.example.com"),
        ("SONAR_TOKEN", SQP_SOON),
    ]);
    let (code, _, stderr) = scantoken(dir.path(), &insecure, &["audit", "--project", "k"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("unencrypted"), "{stderr}");
    assert_no_canary(&[&stderr]);
}

#[test]
fn the_azure_scheduled_examples_match_azures_schema() {
    check_schema(&[
        "--regex-variant",
        "python",
        "--builtin-schema",
        "vendor.azure-pipelines",
        "examples/azure/audit-schedule.yml",
        "examples/azure/audit-fleet.yml",
    ]);
}

// The read credential: an organization administrator's personal token (a canary too).
const ADMIN: &str = "CANARYadmin0123456789abcdef0123456789ab";
const SOT_FLEET: &str = "sqco_CANARYfleetFLEETfleetFLEETfleetFLEETfleetFLEETfleetFLEETflee";
const SOT_OLD: &str = "sqco_CANARYoldOLDoldOLDoldOLDoldOLDoldOLDoldOLDoldOLDoldOLDoldOLD";

/// A Cloud organization of `fleet` generated projects (acme_svc-…, scanned by SOT_FLEET),
/// payments (SOT_PAYMENTS), one project nobody can scan, one a SOT was scoped to and that
/// is then deleted, and a project of another organization; listings stop at `window`.
fn fleet_cloud(fleet: usize, window: usize) -> BlockingEmulator {
    let scenario = Scenario::from_yaml_str(&format!(
        r#"
flavor: cloud
organizations: [acme, other]
result_window: {window}
projects:
  - {{key: acme_payments-api, organization: acme}}
  - {{key: acme_lost, organization: acme}}
  - {{key: acme_gone, organization: acme}}
  - {{key: other_thing, organization: other}}
fleet:
  - {{prefix: acme_svc-, count: {fleet}, organization: acme, scanned_by: ["{SOT_FLEET}"]}}
tokens:
  - {{value: "{SOT_PAYMENTS}", kind: sot, organization: acme, projects: [acme_payments-api]}}
  - {{value: "{SOT_OLD}", kind: sot, organization: acme, projects: [acme_gone]}}
  - {{value: "{SOT_FLEET}", kind: sot, organization: acme}}
  - {{value: "{ADMIN}", kind: personal, admin: true, organization: acme}}
  - {{value: "{PERSONAL}", kind: personal, scan: all}}
"#
    ))
    .unwrap();
    let sonar = start_blocking(EmulatorConfig::new(scenario)).unwrap();
    assert!(sonar.delete_project("acme_gone"));
    sonar
}

fn fleet_env(sonar: &BlockingEmulator) -> Vec<(String, String)> {
    pairs(&[
        ("SONAR_SCANNER_SONARCLOUD_URL", &sonar.web_url()),
        ("SONAR_SCANNER_API_BASE_URL", &sonar.api_url()),
        ("SONAR_ORGANIZATION", "acme"),
        ("SONAR_TOKEN_PAYMENTS", SOT_PAYMENTS),
        ("SONAR_TOKEN_FLEET", SOT_FLEET),
        ("SONAR_TOKEN_OLD", SOT_OLD),
        ("ADMIN", ADMIN),
    ])
}

fn write_fleet_map(dir: &Path) {
    std::fs::write(
        dir.join("map.yaml"),
        r#"rules:
  - projects: ["acme_svc-*"]
    token-env: SONAR_TOKEN_FLEET
  - projects: ["acme_payments-*"]
    token-env: SONAR_TOKEN_PAYMENTS
  - projects: ["acme_gone"]
    token-env: SONAR_TOKEN_OLD
"#,
    )
    .unwrap();
    std::fs::write(dir.join("projects.txt"), "acme_payments-api\nacme_typo\n").unwrap();
}

#[test]
fn projects_from_the_server_past_the_listing_window_coverage_and_findings() {
    // 700 projects and a window of 300: the listing must be split to reach them all.
    let sonar = fleet_cloud(700, 300);
    let dir = tempfile::tempdir().unwrap();
    write_fleet_map(dir.path());
    let evidence = dir.path().join("evidence.json");
    let md = dir.path().join("audit.md");
    let (code, table, stderr) = scantoken(
        dir.path(),
        &fleet_env(&sonar),
        &[
            "audit",
            "--projects-from-server",
            "--read-token-env",
            "ADMIN",
            "--token-map",
            "map.yaml",
            "--projects-file",
            "projects.txt",
            "--json-file",
            evidence.to_str().unwrap(),
            "--markdown-file",
            md.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 1, "{table}\n{stderr}");
    let text = std::fs::read_to_string(&evidence).unwrap();
    let markdown = std::fs::read_to_string(&md).unwrap();
    assert_no_canary(&[&table, &stderr, &text, &markdown]);
    let report = json(&text);

    // Every project of the organization, once; not the other organization's, not the deleted one.
    let listing = &report["listing"];
    assert_eq!(listing["projects"], 702, "{listing}");
    assert_eq!(listing["total"], 702);
    assert_eq!(listing["window"], 300, "learned from the server's refusal");
    assert!(listing["queries"].as_u64().unwrap() > 1, "split: {listing}");
    // The walk follows the keys' own prefixes and stops when all are found.
    assert!(listing["pages"].as_u64().unwrap() < 250, "{listing}");
    assert_eq!(listing["endpoint"], "api/projects/search");
    let admin_fingerprint = {
        use sha2::Digest;
        let d = sha2::Sha256::digest(ADMIN.as_bytes());
        format!("sha256:{:02x}{:02x}", d[0], d[1])
    };
    assert_eq!(
        listing["credential"]["fingerprint"],
        admin_fingerprint.as_str()
    );
    assert_eq!(listing["credential"]["source"], "variable ADMIN");
    let keys: Vec<&str> = report["projects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["key"].as_str().unwrap())
        .collect();
    let unique: std::collections::HashSet<&&str> = keys.iter().collect();
    assert_eq!(keys.len(), unique.len(), "each project once");
    assert_eq!(
        keys.len(),
        703,
        "702 on the server and one listed key it lacks"
    );
    for k in [
        "acme_svc-001",
        "acme_svc-700",
        "acme_lost",
        "acme_payments-api",
    ] {
        assert!(keys.contains(&k), "{k}");
    }
    assert!(!keys.contains(&"other_thing") && !keys.contains(&"acme_gone"));

    // The lists against the server.
    let typo = project(&report, "acme_typo");
    assert_eq!(
        (typo["listed"].as_bool(), typo["on_server"].as_bool()),
        (Some(true), Some(false))
    );
    let svc = project(&report, "acme_svc-123");
    assert_eq!(
        (svc["listed"].as_bool(), svc["on_server"].as_bool()),
        (Some(false), Some(true))
    );
    assert_eq!(svc["verdict"], "ok");
    assert_eq!(report["summary"]["unlisted"], 701);
    assert_eq!(report["summary"]["not_on_server"], 1);
    assert!(findings(&report, "project-unlisted")[0].starts_with("701 project(s)"));
    assert!(findings(&report, "project-not-on-server")[0].contains("acme_typo"));

    // Coverage: acme_lost has no rule and no token of the audit scans it.
    let uncovered = findings(&report, "project-uncovered");
    assert_eq!(uncovered.len(), 1, "{uncovered:?}");
    assert!(
        uncovered[0].starts_with("acme_lost: uncovered")
            && uncovered[0].contains("no rule of the token map matches acme_lost"),
        "{uncovered:?}"
    );
    assert_eq!(report["summary"]["uncovered"], 1);
    assert_eq!(
        project(&report, "acme_lost")["covered_by"],
        serde_json::json!([])
    );
    // The deleted project's SOT and rule.
    let gone = findings(&report, "rule-names-missing-project");
    assert!(
        gone[0].contains("line 6") && gone[0].contains("acme_gone"),
        "{gone:?}"
    );
    let nothing = findings(&report, "token-scans-nothing");
    assert_eq!(nothing.len(), 1, "{nothing:?}");
    assert!(nothing[0].contains("SONAR_TOKEN_OLD"), "{nothing:?}");
    assert!(findings(&report, "rule-unused")
        .iter()
        .any(|m| m.contains("line 6") && m.contains("matches no project on the server")));

    // The read credential went to the listing and nowhere else; the scan tokens never listed.
    let log = sonar.log();
    let listing_calls: Vec<_> = log
        .iter()
        .filter(|r| r.path == "/api/projects/search")
        .collect();
    // Every page, plus the one refusal that told the window.
    assert_eq!(
        listing_calls.len() as u64,
        listing["pages"].as_u64().unwrap() + 1
    );
    let admin_seen = |r: &&sonar_emulator::LoggedRequest| {
        r.token_fingerprint.as_deref() == Some(sonar_emulator::fingerprint(ADMIN).as_str())
    };
    assert!(listing_calls.iter().all(admin_seen));
    assert_eq!(log.iter().filter(admin_seen).count(), listing_calls.len());
    assert!(log
        .iter()
        .all(|r| r.path != "/api/components/search_projects"));
    assert!(markdown.contains("Projects from the server"), "{markdown}");

    check_schema(&[
        "--schemafile",
        "docs/audit.schema.json",
        evidence.to_str().unwrap(),
    ]);
}

#[test]
fn the_read_credential_is_checked_and_never_leaks() {
    let sonar = fleet_cloud(3, 10_000);
    let dir = tempfile::tempdir().unwrap();
    write_fleet_map(dir.path());
    let run = |env: &[(String, String)], extra: &[&str]| {
        let mut args = vec!["audit", "--projects-from-server", "--token-map", "map.yaml"];
        args.extend_from_slice(extra);
        scantoken(dir.path(), env, &args)
    };
    let mut env = fleet_env(&sonar);
    // A scan token cannot list projects: 403, a hint, exit 2.
    common::set(&mut env, "READER", SOT_PAYMENTS);
    common::set(&mut env, "SONAR_TOKEN_PAYMENTS", SOT_NEW);
    let (code, out, err) = run(&env, &["--read-token-env", "READER"]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("403") && err.contains("Administer"), "{err}");
    // The same token as one the audit checks: refused before any request.
    let (code, out, err) = run(&env, &["--read-token-env", "SONAR_TOKEN_FLEET"]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("never probed as a scan token"), "{err}");
    // Unset, malformed, rejected.
    let (code, _, err) = run(&env, &["--read-token-env", "NOPE"]);
    assert!(
        code == 2 && err.contains("NOPE") && err.contains("hint"),
        "{err}"
    );
    common::set(&mut env, "READER", "CANARY with space");
    let (code, _, err) = run(&env, &["--read-token-env", "READER"]);
    assert!(code == 2 && err.contains("whitespace"), "{err}");
    common::set(
        &mut env,
        "READER",
        "CANARYrevoked0000000000000000000000000000",
    );
    let (code, out, err) = run(&env, &["--read-token-env", "READER", "--format", "json"]);
    assert!(code == 2 && err.contains("401"), "{out}{err}");
    // Without --read-token-env, clap refuses.
    let (code, _, err) = run(&env, &[]);
    assert!(code == 2 && err.contains("--read-token-env"), "{err}");
    // On GitHub Actions the credential is masked before anything else is printed.
    common::set(&mut env, "GITHUB_ACTIONS", "true");
    common::set(&mut env, "READER", ADMIN);
    let (code, out, err) = run(&env, &["--read-token-env", "READER", "--format", "json"]);
    assert_eq!(code, 1, "{out}{err}");
    let mask = format!("::add-mask::{ADMIN}");
    assert!(err.starts_with(&mask), "masked first: {err}");
    let unmasked = |t: &str| {
        t.lines()
            .filter(|l| !l.starts_with("::add-mask::"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_no_canary(&[&unmasked(&out), &unmasked(&err)]);
}

/// The evidence without what differs from run to run (times, request counts: each shard
/// lists the fleet itself) and with every list in one order.
fn normalized(mut v: Value) -> Value {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(o) => {
                for k in ["elapsed_ms", "generated_at", "started_at", "requests"] {
                    o.remove(k);
                }
                o.values_mut().for_each(strip);
            }
            Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut v);
    for k in ["shard", "merged_shards"] {
        v.as_object_mut().unwrap().remove(k);
    }
    let by = |a: &Value, b: &Value| a.to_string().cmp(&b.to_string());
    for list in ["projects", "pairs", "findings"] {
        v[list].as_array_mut().unwrap().sort_by(by);
    }
    for t in v["tokens"].as_array_mut().unwrap() {
        for list in ["can_scan", "cannot_scan"] {
            t[list].as_array_mut().unwrap().sort_by(by);
        }
    }
    v
}

/// Where two JSON values first differ, and how, for a readable failure.
fn first_difference(a: &Value, b: &Value, at: String) -> String {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for k in x.keys().chain(y.keys()) {
                let (va, vb) = (
                    x.get(k).unwrap_or(&Value::Null),
                    y.get(k).unwrap_or(&Value::Null),
                );
                if va != vb {
                    return first_difference(va, vb, format!("{at}.{k}"));
                }
            }
            at
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (va, vb)) in x.iter().zip(y).enumerate() {
                if va != vb {
                    return first_difference(va, vb, format!("{at}[{i}]"));
                }
            }
            at
        }
        _ => format!("{at}: merged {a} against single {b}"),
    }
}

#[test]
fn shards_cover_each_project_once_and_their_merge_is_the_single_report() {
    let sonar = fleet_cloud(40, 10_000);
    let dir = tempfile::tempdir().unwrap();
    write_fleet_map(dir.path());
    let env = fleet_env(&sonar);
    let audit = |extra: &[&str]| {
        let mut args = vec![
            "audit",
            "--projects-from-server",
            "--read-token-env",
            "ADMIN",
            "--token-map",
            "map.yaml",
            "--projects-file",
            "projects.txt",
            "--progress",
            "off",
            // A shard's own pace (generous here, so the test stays quick).
            "--max-rate",
            "2000",
        ];
        args.extend_from_slice(extra);
        let (code, out, err) = scantoken(dir.path(), &env, &args);
        assert_no_canary(&[&out, &err]);
        (code, out, err)
    };
    let (code, _, err) = audit(&["--json-file", "single.json"]);
    assert_eq!(code, 1, "{err}");
    let read = |name: &str| json(&std::fs::read_to_string(dir.path().join(name)).unwrap());
    let single = read("single.json");
    let all_keys: Vec<String> = single["projects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["key"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(all_keys.len(), 43);

    for n in [1, 3, 7] {
        let mut files = Vec::new();
        let mut seen: Vec<String> = Vec::new();
        for i in 1..=n {
            let file = format!("shard-{i}-of-{n}.json");
            let shard = format!("{i}/{n}");
            let (code, _, err) = audit(&["--shard", &shard, "--json-file", &file]);
            assert!(code == 0 || code == 1, "{err}");
            let v = read(&file);
            assert_eq!(v["shard"], serde_json::json!({"index": i, "count": n}));
            seen.extend(
                v["projects"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p["key"].as_str().unwrap().to_owned()),
            );
            files.push(file);
        }
        let mut sorted = seen.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), seen.len(), "N = {n}: a project in two shards");
        let mut expected = all_keys.clone();
        expected.sort();
        assert_eq!(sorted, expected, "N = {n}: every project, once");

        // Merged in any order of the files: the single process's report.
        files.reverse();
        let mut args: Vec<&str> = vec!["audit", "merge"];
        args.extend(files.iter().map(String::as_str));
        args.extend(["--json-file", "merged.json", "--markdown-file", "merged.md"]);
        let (code, table, err) = scantoken(dir.path(), &env, &args);
        assert_eq!(code, 1, "N = {n}: {table}{err}");
        assert_no_canary(&[&table, &err]);
        let merged = read("merged.json");
        assert_eq!(merged["merged_shards"], n);
        let (m, s) = (normalized(merged), normalized(single.clone()));
        assert!(
            m == s,
            "N = {n}: {}",
            first_difference(&m, &s, String::new())
        );
        check_schema(&[
            "--schemafile",
            "docs/audit.schema.json",
            dir.path().join("merged.json").to_str().unwrap(),
        ]);
    }

    // Refused: a missing shard (named), the same shard twice, a shard of another run, and
    // evidence that is no shard's.
    let merge = |files: &[&str]| {
        let mut args = vec!["audit", "merge"];
        args.extend_from_slice(files);
        scantoken(dir.path(), &env, &args)
    };
    let (code, _, err) = merge(&["shard-1-of-3.json", "shard-3-of-3.json"]);
    assert!(
        code == 2 && err.contains("shard(s) 2/3 missing") && err.contains("hint"),
        "{err}"
    );
    let (code, _, err) = merge(&[
        "shard-1-of-3.json",
        "shard-1-of-3.json",
        "shard-2-of-3.json",
    ]);
    assert!(code == 2 && err.contains("is shard 1/3 again"), "{err}");
    let (code, _, err) = merge(&["shard-1-of-3.json", "shard-2-of-7.json"]);
    assert!(code == 2 && err.contains("different N"), "{err}");
    let (code, _, err) = audit(&[
        "--shard",
        "2/3",
        "--expiry-warning-days",
        "3",
        "--json-file",
        "other.json",
    ]);
    assert!(code == 0 || code == 1, "{err}");
    let (code, _, err) = merge(&["shard-1-of-3.json", "other.json", "shard-3-of-3.json"]);
    assert!(
        code == 2 && err.contains("other settings") && err.contains("expiry_warning_days"),
        "{err}"
    );
    let (code, _, err) = merge(&["single.json"]);
    assert!(code == 2 && err.contains("not a shard's evidence"), "{err}");
    let (code, _, err) = merge(&["nope.json"]);
    assert!(code == 2 && err.contains("nope.json"), "{err}");
}

#[test]
fn server_projects_from_the_instance_with_an_administrators_token() {
    const ADMIN_SQU: &str = "squ_CANARYadmin00000000000000000000000000";
    const SQA_ALL: &str = "sqa_CANARY33333333333333333333333333333333";
    let scenario = Scenario::from_yaml_str(&format!(
        r#"
flavor: server
fleet: [{{prefix: svc-, count: 30}}]
tokens:
  - {{value: "{ADMIN_SQU}", kind: user, admin: true}}
  - {{value: "{SQA_ALL}", kind: global-analysis}}
"#
    ))
    .unwrap();
    let sonar = start_blocking(EmulatorConfig::new(scenario)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let env = pairs(&[
        ("SONAR_HOST_URL", &sonar.web_url()),
        ("SONAR_TOKEN", SQA_ALL),
        ("ADMIN", ADMIN_SQU),
    ]);
    let run = |extra: &[&str]| {
        let mut args = vec![
            "audit",
            "--projects-from-server",
            "--read-token-env",
            "ADMIN",
            "--format",
            "json",
        ];
        args.extend_from_slice(extra);
        let (code, out, err) = scantoken(dir.path(), &env, &args);
        assert_no_canary(&[&out, &err]);
        (code, out, err)
    };
    let (code, out, err) = run(&["--max-rate", "500"]);
    assert_eq!(code, 0, "{err}");
    let report = json(&out);
    assert_eq!(report["listing"]["projects"], 30);
    assert_eq!(report["listing"]["organization"], Value::Null);
    assert_eq!(report["listing"]["pages"], 1);
    assert_eq!(report["settings"]["max_rate"], 500.0);
    assert_eq!(report["summary"]["covered"], 30);
    // No list was given: nothing is "unlisted".
    assert!(findings(&report, "project-unlisted").is_empty());
    assert_eq!(
        sonar
            .log()
            .iter()
            .filter(|r| r.path == "/api/projects/search")
            .count(),
        1
    );
    // Bad values of the new flags: exit 2, naming the flag, with a hint.
    for (flags, says) in [
        (&["--max-rate", "0"][..], "--max-rate"),
        (&["--max-rate", "NaN"][..], "--max-rate"),
        (&["--shard", "0/3"][..], "--shard"),
        (&["--shard", "2"][..], "--shard"),
    ] {
        let (code, _, err) = run(flags);
        assert!(
            code == 2 && err.contains(says) && err.contains("hint"),
            "{flags:?}: {err}"
        );
    }
}

#[test]
fn a_listing_that_returns_fewer_projects_than_the_server_counted_says_so() {
    // Behind a window of 2, `q` ignores case while `projects=` does not: the key "X", equal to
    // a prefix the listing had to split, is counted by the server and never returned.
    const ADMIN_SQU: &str = "squ_CANARYadmin00000000000000000000000000";
    const SQA_ALL: &str = "sqa_CANARY33333333333333333333333333333333";
    let scenario = Scenario::from_yaml_str(&format!(
        r#"
flavor: server
result_window: 2
projects: [{{key: X}}, {{key: x1}}, {{key: x2}}, {{key: x3}}]
tokens:
  - {{value: "{ADMIN_SQU}", kind: user, admin: true}}
  - {{value: "{SQA_ALL}", kind: global-analysis}}
"#
    ))
    .unwrap();
    let sonar = start_blocking(EmulatorConfig::new(scenario)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let env = pairs(&[
        ("SONAR_HOST_URL", &sonar.web_url()),
        ("SONAR_TOKEN", SQA_ALL),
        ("ADMIN", ADMIN_SQU),
    ]);
    let (code, out, err) = scantoken(
        dir.path(),
        &env,
        &[
            "audit",
            "--projects-from-server",
            "--read-token-env",
            "ADMIN",
            "--format",
            "json",
        ],
    );
    assert_no_canary(&[&out, &err]);
    assert_eq!(code, 0, "{err}");
    let report = json(&out);
    assert_eq!(
        (
            report["listing"]["total"].as_u64(),
            report["listing"]["projects"].as_u64()
        ),
        (Some(4), Some(3))
    );
    let incomplete = findings(&report, "listing-incomplete");
    assert!(
        incomplete[0].contains("counted 4") && incomplete[0].contains("returned 3"),
        "{incomplete:?}"
    );
}

#[test]
fn audits_own_options_come_from_their_variables_too() {
    // The same audit as the flags': the keys and the named token as SCANTOKEN_* variables
    // (a list one a line), the format and the expiry window too.
    let scenario = Scenario::from_yaml_str(&format!(
        r#"
flavor: server
projects: [{{key: acme_payments}}, {{key: acme_docs}}]
tokens:
  - {{value: "{SQP_SOON}", kind: project-analysis, projects: [acme_payments], expires: "+3d"}}
  - {{value: "{SQU_USER}", kind: user, scan: all}}
"#
    ))
    .unwrap();
    let sonar = start_blocking(EmulatorConfig::new(scenario)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let env = pairs(&[
        ("SONAR_HOST_URL", &sonar.web_url()),
        ("SONAR_TOKEN", SQP_SOON),
        ("USER_TOKEN", SQU_USER),
        ("SCANTOKEN_PROJECT", "acme_payments\nacme_docs"),
        ("SCANTOKEN_TOKEN_ENV", "USER_TOKEN"),
        ("SCANTOKEN_FORMAT", "json"),
        ("SCANTOKEN_EXPIRY_WARNING_DAYS", "2"),
        ("SCANTOKEN_CONCURRENCY", "2"),
    ]);
    let (code, stdout, stderr) = scantoken(dir.path(), &env, &["audit"]);
    assert_eq!(code, 1, "{stderr}");
    let report = json(&stdout);
    assert_eq!(project(&report, "acme_payments")["verdict"], "ok");
    assert_eq!(
        project(&report, "acme_docs")["verdict"],
        "no-scan-permission"
    );
    assert_eq!(report["tokens"][1]["named"], true);
    // Expiring in 3 days is outside a window of 2.
    assert_eq!(findings(&report, "token-expiring").len(), 0, "{report}");
    // A flag wins over its variable.
    let (_, stdout, stderr) = scantoken(
        dir.path(),
        &env,
        &["audit", "--expiry-warning-days", "5", "--format", "json"],
    );
    assert_eq!(
        findings(&json(&stdout), "token-expiring").len(),
        1,
        "{stderr}"
    );

    // A bad value is refused (exit 2) before any request, naming the variable.
    for (variable, bad) in [
        ("SCANTOKEN_CONCURRENCY", "0"),
        ("SCANTOKEN_DEADLINE", "soon"),
        ("SCANTOKEN_FORMAT", "yaml"),
        ("SCANTOKEN_PROGRESS", "loud"),
        ("SCANTOKEN_PROJECTS_FROM_SERVER", "perhaps"),
        ("SCANTOKEN_MAX_RATE", "-1"),
        ("SCANTOKEN_SHARD", "4/3"),
    ] {
        let mut env = env.clone();
        env.push((variable.to_owned(), bad.to_owned()));
        let (code, _, stderr) = scantoken(dir.path(), &env, &["audit"]);
        assert_eq!(code, 2, "{variable}: {stderr}");
        assert!(stderr.contains(variable), "{variable}: {stderr}");
    }
    // --projects-from-server needs the read credential's variable, given either way.
    let mut lone = env.clone();
    lone.push(("SCANTOKEN_PROJECTS_FROM_SERVER".into(), "true".into()));
    let (code, _, stderr) = scantoken(dir.path(), &lone, &["audit"]);
    assert!(
        code == 2 && stderr.contains("read-token-env"),
        "{code}: {stderr}"
    );
}

/// Each shard in its own checkout, at its own path (a CI job's folder: per runner on
/// self-hosted machines, per job under act): one audit all the same, merged as one. The
/// evidence names the token map as given, not by where a runner kept it.
#[test]
fn shards_run_in_different_checkouts_merge() {
    let sonar = cloud();
    let dir = tempfile::tempdir().unwrap();
    let env = cloud_env(&sonar);
    let mut files = Vec::new();
    for i in 1..=2 {
        let checkout = dir.path().join(format!("runner-{i}/job/checkout"));
        std::fs::create_dir_all(&checkout).unwrap();
        write_map(&checkout);
        let shard = format!("{i}/2");
        let file = dir.path().join(format!("shard-{i}.json"));
        let (code, out, err) = scantoken(
            &checkout,
            &env,
            &[
                "audit",
                "--projects-file",
                "projects.txt",
                "--token-map",
                // One shard's job writes the path another way: the same file.
                if i == 1 { "map.yaml" } else { "./map.yaml" },
                "--shard",
                &shard,
                "--json-file",
                file.to_str().unwrap(),
            ],
        );
        assert!(code == 0 || code == 1, "{out}{err}");
        let v = json(&std::fs::read_to_string(&file).unwrap());
        assert_eq!(v["token_map"]["source"], "map.yaml", "{v:#}");
        files.push(file.to_str().unwrap().to_owned());
    }
    let mut args = vec!["audit", "merge", "--json-file", "merged.json"];
    args.extend(files.iter().map(String::as_str));
    let (code, out, err) = scantoken(dir.path(), &env, &args);
    assert_eq!(code, 1, "the findings of write_map's fleet: {out}{err}");
    assert_no_canary(&[&out, &err]);
    let merged = json(&std::fs::read_to_string(dir.path().join("merged.json")).unwrap());
    assert_eq!(merged["merged_shards"], 2, "{merged:#}");
    assert_eq!(
        merged["projects"].as_array().unwrap().len(),
        5,
        "{merged:#}"
    );
}
