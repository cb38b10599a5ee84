//! The real binary, end to end without the network: `context`, `export --no-verify`, and
//! every kind of bad input (exit 2, one error naming the source and the fix, nothing
//! exported, never the token).

mod common;

use common::{scantoken, set};
use std::path::Path;

const CANARY: &str = "sqco_CANARY0canary0CANARY0canary0CANARY0canary0CANARY0canary0x";

/// A GitHub pull_request job: variables plus the payload written into `dir`.
fn github_pr(dir: &Path) -> Vec<(String, String)> {
    let event = serde_json::json!({
        "action": "synchronize",
        "number": 42,
        "pull_request": {
            "number": 42,
            "head": {"ref": "feature/login", "sha": "1111111111111111111111111111111111111111",
                     "repo": {"full_name": "acme/payments", "fork": false}},
            "base": {"ref": "main", "sha": "2222222222222222222222222222222222222222",
                     "repo": {"full_name": "acme/payments", "fork": false}},
            "user": {"login": "octocat"}
        },
        "repository": {"full_name": "acme/payments", "default_branch": "main", "fork": false}
    });
    let path = dir.join("event.json");
    std::fs::write(&path, event.to_string()).unwrap();
    [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_EVENT_NAME", "pull_request"),
        ("GITHUB_REF", "refs/pull/42/merge"),
        ("GITHUB_SHA", "3333333333333333333333333333333333333333"),
        ("GITHUB_REPOSITORY", "acme/payments"),
        ("GITHUB_ACTOR", "octocat"),
        ("GITHUB_HEAD_REF", "feature/login"),
        ("GITHUB_BASE_REF", "main"),
        ("GITHUB_ENV", dir.join("github_env").to_str().unwrap()),
        ("GITHUB_OUTPUT", dir.join("github_output").to_str().unwrap()),
        (
            "GITHUB_STEP_SUMMARY",
            dir.join("summary.md").to_str().unwrap(),
        ),
        ("SONAR_TOKEN", CANARY),
        ("SONAR_ORGANIZATION", "acme"),
        ("INPUT_PROJECT-KEY", "acme_payments"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .chain([(
        "GITHUB_EVENT_PATH".to_owned(),
        path.to_str().unwrap().to_owned(),
    )])
    .collect()
}

#[test]
fn github_pull_request_exports_the_pull_request_set() {
    let dir = tempfile::tempdir().unwrap();
    let env = github_pr(dir.path());
    let (code, stdout, stderr) = scantoken(dir.path(), &env, &["export", "--no-verify"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout.lines().next().unwrap(),
        format!("::add-mask::{CANARY}")
    );
    assert!(!stderr.contains(CANARY), "{stderr}");
    assert!(
        stderr.contains("not verified") || stderr.contains("without verification"),
        "{stderr}"
    );

    let env_file = std::fs::read_to_string(dir.path().join("github_env")).unwrap();
    let json_line = env_file
        .lines()
        .skip_while(|l| !l.starts_with("SONAR_SCANNER_JSON_PARAMS<<"))
        .nth(1)
        .unwrap();
    let params: serde_json::Value = serde_json::from_str(json_line).unwrap();
    assert_eq!(params["sonar.pullrequest.key"], "42");
    assert_eq!(params["sonar.pullrequest.branch"], "feature/login");
    assert_eq!(params["sonar.pullrequest.base"], "main");
    assert_eq!(
        params["sonar.scm.revision"],
        "1111111111111111111111111111111111111111"
    );
    assert_eq!(params["sonar.projectKey"], "acme_payments");
    assert_eq!(params["sonar.organization"], "acme");
    assert_eq!(params["sonar.host.url"], "https://sonarcloud.io");
    assert!(params.get("sonar.branch.name").is_none());
    assert!(params.get("sonar.token").is_none());
    assert!(
        env_file.contains(CANARY),
        "the token is exported in SONAR_TOKEN"
    );
    assert_eq!(env_file.matches(CANARY).count(), 1, "only in SONAR_TOKEN");

    let summary = std::fs::read_to_string(dir.path().join("summary.md")).unwrap();
    assert!(
        summary.contains("not-verified") && summary.contains("acme_payments"),
        "{summary}"
    );
    assert!(!summary.contains(CANARY));
    let outputs = std::fs::read_to_string(dir.path().join("github_output")).unwrap();
    assert!(
        outputs.contains("project-key<<") && outputs.contains("verdict<<"),
        "{outputs}"
    );
}

#[test]
fn token_in_json_is_an_opt_in_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let env = github_pr(dir.path());
    let (code, stdout, stderr) = scantoken(
        dir.path(),
        &env,
        &["export", "--no-verify", "--token-in-json"],
    );
    assert_eq!(code, 0, "{stderr}");
    let masks = stdout
        .lines()
        .filter(|l| l.starts_with("::add-mask::"))
        .count();
    let distinct: std::collections::BTreeSet<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("::add-mask::"))
        .collect();
    assert!(
        masks >= 3 && distinct.len() == 2,
        "the token and both JSON variables are masked: {stdout}"
    );
    assert!(
        stdout.contains("--token-in-json"),
        "warning annotation: {stdout}"
    );
    let env_file = std::fs::read_to_string(dir.path().join("github_env")).unwrap();
    assert_eq!(env_file.matches(CANARY).count(), 3);
}

#[test]
fn shell_format_is_eval_ready_and_human_text_goes_to_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let env = github_pr(dir.path());
    let (code, stdout, stderr) = scantoken(
        dir.path(),
        &env,
        &["export", "--no-verify", "--format", "shell"],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.lines().all(|l| l.starts_with("export ")), "{stdout}");
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "{stdout}\nprintf '%s' \"$SONAR_TOKEN|$SONAR_ORGANIZATION\""
        ))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("{CANARY}|acme")
    );
}

#[test]
fn dotenv_and_json_leave_the_token_out_unless_asked() {
    let dir = tempfile::tempdir().unwrap();
    let env = github_pr(dir.path());
    for format in ["dotenv", "json", "properties"] {
        let (code, stdout, stderr) = scantoken(
            dir.path(),
            &env,
            &["export", "--no-verify", "--format", format],
        );
        assert_eq!(code, 0, "{stderr}");
        assert!(!stdout.contains(CANARY), "{format}: {stdout}");
        assert!(stderr.contains("SONAR_TOKEN left out"), "{stderr}");
        let (_, stdout, stderr) = scantoken(
            dir.path(),
            &env,
            &[
                "export",
                "--no-verify",
                "--format",
                format,
                "--include-secrets",
            ],
        );
        assert!(stdout.contains(CANARY), "{format}");
        // Included: no note says it was left out.
        assert!(!stderr.contains("left out"), "{format}: {stderr}");
    }
    // The masked formats carry the token: no note says it was left out.
    for format in ["shell", "github"] {
        let (code, stdout, stderr) = scantoken(
            dir.path(),
            &env,
            &["export", "--no-verify", "--format", format],
        );
        assert_eq!(code, 0, "{format}: {stderr}");
        assert!(!stderr.contains("left out"), "{format}: {stderr}");
        assert!(!stdout.contains("left out"), "{format}: {stdout}");
    }
}

#[test]
fn output_file_is_written_whole_and_private() {
    let dir = tempfile::tempdir().unwrap();
    let env = github_pr(dir.path());
    let (code, stdout, stderr) = scantoken(
        dir.path(),
        &env,
        &[
            "export",
            "--no-verify",
            "--format",
            "shell",
            "--output",
            "sonar.env",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    // The file holds the exports; stdout only the runner's mask of the token.
    assert_eq!(stdout, format!("::add-mask::{CANARY}\n"));
    let text = std::fs::read_to_string(dir.path().join("sonar.env")).unwrap();
    assert!(text.starts_with("export SONAR_TOKEN="));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("sonar.env"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "no access for group and others: {mode:o}");
    }
}

#[test]
fn missing_token_on_a_fork_pr_fails_or_skips_by_policy() {
    let dir = tempfile::tempdir().unwrap();
    let mut env = github_pr(dir.path());
    let path = dir.path().join("event.json");
    let mut event: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    event["pull_request"]["head"]["repo"] =
        serde_json::json!({"full_name": "contributor/payments", "fork": true});
    std::fs::write(&path, event.to_string()).unwrap();
    set(&mut env, "SONAR_TOKEN", "");
    let (code, stdout, stderr) = scantoken(dir.path(), &env, &["export", "--no-verify"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("token-missing") && stderr.contains("fork"),
        "{stderr}"
    );
    assert!(stdout.contains("::error title=scantoken::"), "{stdout}");
    assert!(!dir.path().join("github_env").exists());

    let (code, stdout, stderr) = scantoken(
        dir.path(),
        &env,
        &["export", "--no-verify", "--on-missing-token", "skip"],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("::notice title=scantoken::token-missing"),
        "{stdout}"
    );
    assert!(!dir.path().join("github_env").exists(), "nothing exported");
}

#[test]
fn unmapped_secret_is_told_apart_from_a_fork() {
    let dir = tempfile::tempdir().unwrap();
    let mut env = github_pr(dir.path());
    set(&mut env, "SONAR_TOKEN", "");
    let (code, _, stderr) = scantoken(dir.path(), &env, &["export", "--no-verify"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("SONAR_TOKEN is set but empty"), "{stderr}");
}

/// One bad input: the error names the source, exits 2, writes nothing, shows no token.
fn assert_bad_input(dir: &Path, env: &[(String, String)], names: &str) {
    let (code, stdout, stderr) = scantoken(dir, env, &["export", "--no-verify"]);
    assert_eq!(code, 2, "stderr: {stderr}");
    assert_eq!(stderr.matches("error: ").count(), 1, "one error: {stderr}");
    assert!(
        stderr.contains(names),
        "error should name {names}: {stderr}"
    );
    assert!(
        stderr.contains("hint:"),
        "error should say what to do: {stderr}"
    );
    assert!(!stderr.contains(CANARY) && !stdout.contains(CANARY));
    assert!(
        !stdout.contains("::add-mask::"),
        "nothing exported: {stdout}"
    );
    assert!(!dir.join("github_env").exists(), "no partial export");
}

#[test]
fn malformed_event_file() {
    let dir = tempfile::tempdir().unwrap();
    let env = github_pr(dir.path());
    std::fs::write(dir.path().join("event.json"), "{\"number\": 42, ").unwrap();
    assert_bad_input(dir.path(), &env, "GITHUB_EVENT_PATH");
}

#[test]
fn event_file_of_the_wrong_shape() {
    let dir = tempfile::tempdir().unwrap();
    let env = github_pr(dir.path());
    std::fs::write(
        dir.path().join("event.json"),
        r#"{"number": 42, "pull_request": {"head": 7}}"#,
    )
    .unwrap();
    assert_bad_input(dir.path(), &env, "GITHUB_EVENT_PATH");
}

#[test]
fn missing_event_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut env = github_pr(dir.path());
    set(
        &mut env,
        "GITHUB_EVENT_PATH",
        dir.path().join("nope.json").to_str().unwrap(),
    );
    assert_bad_input(dir.path(), &env, "nope.json");
}

#[test]
fn invalid_project_key() {
    let dir = tempfile::tempdir().unwrap();
    let mut env = github_pr(dir.path());
    set(&mut env, "INPUT_PROJECT-KEY", "acme payments");
    assert_bad_input(dir.path(), &env, "INPUT_PROJECT-KEY");
    set(&mut env, "INPUT_PROJECT-KEY", "12345");
    assert_bad_input(dir.path(), &env, "non-digit");
}

#[test]
fn malformed_url() {
    let dir = tempfile::tempdir().unwrap();
    let mut env = github_pr(dir.path());
    set(&mut env, "SONAR_HOST_URL", "sonar.example.com");
    assert_bad_input(dir.path(), &env, "SONAR_HOST_URL");
}

#[test]
fn conflicting_region() {
    let dir = tempfile::tempdir().unwrap();
    let mut env = github_pr(dir.path());
    set(&mut env, "SONAR_HOST_URL", "https://sonarcloud.io");
    set(&mut env, "SONAR_REGION", "us");
    assert_bad_input(dir.path(), &env, "SONAR_REGION");
    set(&mut env, "SONAR_HOST_URL", "https://sonar.example.com");
    assert_bad_input(dir.path(), &env, "not SonarQube Cloud");
    env.retain(|(k, _)| k != "SONAR_HOST_URL");
    set(&mut env, "SONAR_REGION", "eu");
    assert_bad_input(dir.path(), &env, "invalid region");
}

#[test]
fn malformed_properties_file() {
    let dir = tempfile::tempdir().unwrap();
    let env = github_pr(dir.path());
    std::fs::write(
        dir.path().join("sonar-project.properties"),
        "sonar.projectKey=x\nsonar.x=\\u12G4\n",
    )
    .unwrap();
    assert_bad_input(dir.path(), &env, "sonar-project.properties");
}

#[test]
fn malformed_scanner_json() {
    let dir = tempfile::tempdir().unwrap();
    let mut env = github_pr(dir.path());
    set(
        &mut env,
        "SONAR_SCANNER_JSON_PARAMS",
        "{\"sonar.projectKey\": ",
    );
    assert_bad_input(dir.path(), &env, "SONAR_SCANNER_JSON_PARAMS");
}

#[test]
fn bad_enum_input() {
    let dir = tempfile::tempdir().unwrap();
    let mut env = github_pr(dir.path());
    set(&mut env, "INPUT_ON-MISSING-TOKEN", "ignore");
    let (code, _, stderr) = scantoken(dir.path(), &env, &["export", "--no-verify"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("INPUT_ON-MISSING-TOKEN") && stderr.contains("fail, skip"),
        "{stderr}"
    );
}

#[test]
fn token_with_a_pasted_newline_is_refused_without_showing_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut env = github_pr(dir.path());
    set(&mut env, "SONAR_TOKEN", &format!("{CANARY}\n{CANARY}"));
    assert_bad_input(dir.path(), &env, "SONAR_TOKEN");
}

#[test]
fn missing_organization_on_cloud_is_an_organization_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    let mut env = github_pr(dir.path());
    env.retain(|(k, _)| k != "SONAR_ORGANIZATION");
    let (code, stdout, stderr) = scantoken(dir.path(), &env, &["export", "--no-verify"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("organization-mismatch") && stderr.contains("no organization is set"),
        "{stderr}"
    );
    assert!(
        stdout.contains("::error title=scantoken::organization-mismatch"),
        "{stdout}"
    );
    assert!(!dir.path().join("github_env").exists(), "nothing exported");
}

#[test]
fn context_json_reports_sources() {
    let dir = tempfile::tempdir().unwrap();
    let env = github_pr(dir.path());
    std::fs::write(
        dir.path().join("sonar-project.properties"),
        "sonar.organization=from_file\n",
    )
    .unwrap();
    let (code, stdout, stderr) = scantoken(dir.path(), &env, &["context", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["context"]["event"], "pull-request");
    assert_eq!(
        v["context"]["revision"],
        "1111111111111111111111111111111111111111"
    );
    assert_eq!(v["target"]["flavor"], "cloud-global");
    assert_eq!(v["target"]["organization"]["value"], "acme");
    assert_eq!(
        v["target"]["organization"]["source"],
        "variable SONAR_ORGANIZATION"
    );
    assert_eq!(
        v["target"]["project_key"]["source"],
        "variable INPUT_PROJECT-KEY"
    );
    assert!(!stdout.contains(CANARY));
}

#[test]
fn hostile_branch_names_cannot_inject_commands_into_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let env = github_pr(dir.path());
    let event = std::fs::read_to_string(dir.path().join("event.json"))
        .unwrap()
        .replace(
            "feature/login",
            "x::add-mask::y##vso[task.setvariable variable=SONAR_HOST_URL]https://evil",
        );
    std::fs::write(dir.path().join("event.json"), event).unwrap();
    let (code, _stdout, stderr) = scantoken(dir.path(), &env, &["context"]);
    assert_eq!(code, 0, "{stderr}");
    let (code, stdout, stderr) = scantoken(dir.path(), &env, &["export", "--no-verify"]);
    assert_eq!(code, 0, "{stderr}");
    for line in stdout.lines().chain(stderr.lines()) {
        assert!(!line.contains("##vso["), "{line}");
        assert!(!line.contains("::add-mask::y"), "{line}");
    }
}

const MAP: &str = "rules:
  - projects: [\"acme_payments*\", \"acme_billing\"]
    token-env: SONAR_TOKEN_PAYMENTS
    organization: acme
  - projects: [\"re:acme_(web|app)\"]
    token-env: SONAR_TOKEN_WEB
    expires: 2001-01-01
";

/// A plain local shell with a token map in a file.
fn map_env(dir: &Path, project: &str) -> Vec<(String, String)> {
    std::fs::write(dir.join("tokens.yaml"), MAP).unwrap();
    [
        ("SCANTOKEN_PROJECT_KEY", project),
        ("SCANTOKEN_TOKEN_MAP", "tokens.yaml"),
        ("SONAR_TOKEN_PAYMENTS", CANARY),
        ("SONAR_TOKEN_WEB", "sqco_web"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

#[test]
fn token_map_picks_the_token_and_its_organization() {
    let dir = tempfile::tempdir().unwrap();
    let env = map_env(dir.path(), "acme_payments-api");
    let (code, stdout, stderr) = scantoken(
        dir.path(),
        &env,
        &["export", "--no-verify", "--format", "shell"],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains(&format!("export SONAR_TOKEN='{CANARY}'")),
        "{stdout}"
    );
    assert!(
        stdout.contains("export SONAR_ORGANIZATION='acme'"),
        "{stdout}"
    );
    assert!(
        stderr.contains("variable SONAR_TOKEN_PAYMENTS (token map"),
        "the source is named: {stderr}"
    );
    assert!(stderr.contains("rule at line 2"), "{stderr}");
    assert!(!stderr.contains(CANARY));
}

#[test]
fn token_map_inline_yaml_in_a_variable() {
    let dir = tempfile::tempdir().unwrap();
    let mut env = map_env(dir.path(), "acme_billing");
    set(&mut env, "SCANTOKEN_TOKEN_MAP", MAP);
    let (code, stdout, stderr) = scantoken(
        dir.path(),
        &env,
        &["export", "--no-verify", "--format", "shell"],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains(CANARY));
}

#[test]
fn token_map_without_a_matching_rule_says_what_it_tried() {
    let dir = tempfile::tempdir().unwrap();
    let env = map_env(dir.path(), "other_project");
    let (code, _, stderr) = scantoken(dir.path(), &env, &["export", "--no-verify"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("no rule matches project key \"other_project\""),
        "{stderr}"
    );
    assert!(
        stderr.contains("line 2: acme_payments*, acme_billing")
            && stderr.contains("line 5: re:acme_(web|app)"),
        "{stderr}"
    );
}

#[test]
fn token_map_rule_with_an_empty_variable_names_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let mut env = map_env(dir.path(), "acme_payments");
    set(&mut env, "SONAR_TOKEN_PAYMENTS", "");
    let (code, _, stderr) = scantoken(dir.path(), &env, &["export", "--no-verify"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("tokens.yaml line 3, field token-env"),
        "{stderr}"
    );
    assert!(
        stderr.contains("SONAR_TOKEN_PAYMENTS, which is empty"),
        "{stderr}"
    );
}

#[test]
fn token_map_expiry_fails_after_the_date() {
    let dir = tempfile::tempdir().unwrap();
    let mut env = map_env(dir.path(), "acme_web");
    set(&mut env, "SONAR_ORGANIZATION", "acme");
    let (code, _, stderr) = scantoken(dir.path(), &env, &["export", "--no-verify"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("token-rejected") && stderr.contains("expired on 2001-01-01"),
        "{stderr}"
    );
}

#[test]
fn token_map_organization_conflict_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut env = map_env(dir.path(), "acme_payments");
    set(&mut env, "SONAR_ORGANIZATION", "globex");
    let (code, _, stderr) = scantoken(dir.path(), &env, &["export", "--no-verify"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("organization acme") && stderr.contains("globex"),
        "{stderr}"
    );
}

#[test]
fn malformed_token_map_names_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let env = map_env(dir.path(), "acme_payments");
    std::fs::write(
        dir.path().join("tokens.yaml"),
        "rules:\n  - projects: [a]\n    token_env: A\n",
    )
    .unwrap();
    let (code, _, stderr) = scantoken(dir.path(), &env, &["export", "--no-verify"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("tokens.yaml") && stderr.contains("line 3"),
        "{stderr}"
    );
}

#[test]
fn dependabot_push_without_the_token_says_where_to_add_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut env = github_pr(dir.path());
    let event = serde_json::json!({
        "ref": "refs/heads/dependabot/cargo/serde-1.0.200",
        "repository": {"full_name": "acme/payments", "default_branch": "main", "fork": false},
        "sender": {"login": "dependabot[bot]", "type": "Bot"}
    });
    std::fs::write(dir.path().join("event.json"), event.to_string()).unwrap();
    set(&mut env, "GITHUB_EVENT_NAME", "push");
    set(
        &mut env,
        "GITHUB_REF",
        "refs/heads/dependabot/cargo/serde-1.0.200",
    );
    set(&mut env, "GITHUB_ACTOR", "dependabot[bot]");
    set(&mut env, "GITHUB_HEAD_REF", "");
    set(&mut env, "GITHUB_BASE_REF", "");
    set(&mut env, "SONAR_TOKEN", "");
    let (code, _, stderr) = scantoken(dir.path(), &env, &["export", "--no-verify"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("token-missing") && stderr.contains("Dependabot secrets"),
        "{stderr}"
    );
    assert!(!dir.path().join("github_env").exists());
}

#[test]
fn azure_service_connection_url_selects_the_target() {
    let dir = tempfile::tempdir().unwrap();
    let id = "5c2e9a1b-7f3d-4e8a-9b6c-1d2e3f4a5b6c";
    for (url, flavor, web) in [
        ("https://sonarqube.us", "cloud-us", "https://sonarqube.us"),
        (
            "https://sonar.example.com/",
            "server",
            "https://sonar.example.com",
        ),
    ] {
        let env = common::pairs(&[
            ("TF_BUILD", "True"),
            ("BUILD_SOURCEBRANCH", "refs/heads/main"),
            (
                "BUILD_SOURCEVERSION",
                "4444444444444444444444444444444444444444",
            ),
            ("INPUT_SONARCLOUDCONNECTION", id),
            (&format!("ENDPOINT_URL_{id}"), url),
            (&format!("ENDPOINT_AUTH_PARAMETER_{id}_APITOKEN"), CANARY),
            ("SONAR_HOST_URL", "https://ignored.example.com"),
            ("INPUT_ORGANIZATION", "acme"),
            ("INPUT_PROJECTKEY", "acme_payments"),
        ]);
        let (code, stdout, stderr) = scantoken(dir.path(), &env, &["context", "--json"]);
        assert_eq!(code, 0, "{stderr}");
        let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(v["target"]["flavor"], flavor, "{url}");
        assert_eq!(v["target"]["web_url"]["value"], web, "{url}");
        assert_eq!(
            v["target"]["web_url"]["source"],
            format!("variable ENDPOINT_URL_{id}")
        );
        assert!(!stdout.contains(CANARY) && !stderr.contains(CANARY));
    }
}

#[test]
fn github_output_in_a_missing_directory_exports_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut env = github_pr(dir.path());
    let missing = dir.path().join("nonexistent/dir/out");
    set(&mut env, "GITHUB_OUTPUT", missing.to_str().unwrap());
    let (code, stdout, stderr) = scantoken(dir.path(), &env, &["export", "--no-verify"]);
    assert_eq!(code, 2, "the environment's to fix: {stderr}");
    assert!(
        stderr.contains("GITHUB_OUTPUT") && stderr.contains(missing.to_str().unwrap()),
        "the error names the file and its variable: {stderr}"
    );
    assert!(
        !dir.path().join("github_env").exists(),
        "GITHUB_ENV untouched"
    );
    assert!(!common::outside_masks(&stdout).contains(CANARY) && !stderr.contains(CANARY));
}

#[test]
fn an_unwritable_step_summary_does_not_change_a_failed_verdicts_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let mut env = github_pr(dir.path());
    let missing = dir.path().join("nonexistent/summary.md");
    set(&mut env, "GITHUB_STEP_SUMMARY", missing.to_str().unwrap());
    set(&mut env, "SONAR_TOKEN", "");
    let (code, _, stderr) = scantoken(dir.path(), &env, &["export"]);
    assert_eq!(code, 1, "token-missing keeps its exit code: {stderr}");
    assert!(
        stderr.contains("token-missing")
            && stderr.contains("warning: the step summary")
            && stderr.contains("GITHUB_STEP_SUMMARY"),
        "{stderr}"
    );
}

/// A token map of exactly the size limit (256 KiB) is read; one byte more is refused before
/// it is parsed, naming the limit.
#[test]
fn token_map_at_the_size_limit_is_read_and_one_byte_more_is_refused() {
    const LIMIT: usize = 256 * 1024;
    let dir = tempfile::tempdir().unwrap();
    let env = map_env(dir.path(), "acme_payments-api");
    let padded = |size: usize| {
        let mut text = MAP.to_owned();
        text.push('#');
        text.push_str(&"x".repeat(size - text.len() - 1));
        text.push('\n');
        assert_eq!(text.len(), size);
        std::fs::write(dir.path().join("tokens.yaml"), text).unwrap();
    };
    padded(LIMIT);
    let (code, stdout, stderr) = scantoken(
        dir.path(),
        &env,
        &["export", "--no-verify", "--format", "shell"],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("export SONAR_ORGANIZATION='acme'"),
        "{stdout}"
    );
    padded(LIMIT + 1);
    let (code, stdout, stderr) = scantoken(dir.path(), &env, &["export", "--no-verify"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        stderr.contains("tokens.yaml") && stderr.contains("256 KiB"),
        "{stderr}"
    );
}

/// `token-env` must name a variable a shell could set: a letter or `_` first, then letters,
/// digits and `_`.
#[test]
fn token_map_variable_names_follow_the_shells_rule() {
    let dir = tempfile::tempdir().unwrap();
    let map = |var: &str| {
        let mut env = map_env(dir.path(), "acme_payments");
        std::fs::write(
            dir.path().join("tokens.yaml"),
            format!("rules:\n  - projects: [\"*\"]\n    token-env: {var}\n"),
        )
        .unwrap();
        set(&mut env, var, CANARY);
        set(&mut env, "SONAR_ORGANIZATION", "acme");
        scantoken(
            dir.path(),
            &env,
            &["export", "--no-verify", "--format", "shell"],
        )
    };
    for var in ["_SONAR_TOKEN", "_", "T0KEN_9"] {
        let (code, stdout, stderr) = map(var);
        assert_eq!(code, 0, "{var}: {stderr}");
        assert!(
            stdout.contains(&format!("export SONAR_TOKEN='{CANARY}'")),
            "{var}: {stdout}"
        );
    }
    for var in ["1TOKEN", "9"] {
        let (code, stdout, stderr) = map(var);
        assert_eq!(code, 2, "{var}: {stderr}");
        assert!(stdout.is_empty(), "{stdout}");
        assert!(
            stderr.contains("tokens.yaml line 3, field token-env")
                && stderr.contains("is not a variable name"),
            "{var}: {stderr}"
        );
    }
}

/// `context --json` in a plain shell with `vars`: exit code, the target, stderr.
fn target_of(vars: &[(&str, &str)]) -> (i32, serde_json::Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) =
        scantoken(dir.path(), &common::pairs(vars), &["context", "--json"]);
    let target = serde_json::from_str::<serde_json::Value>(&stdout)
        .map(|v| v["target"].clone())
        .unwrap_or_default();
    (code, target, stderr)
}

/// Only the bare official URL is SonarQube Cloud (as the scanner decides): the same host
/// with a port or a path is some other server, which gets no Cloud organization.
#[test]
fn an_official_host_with_a_port_or_a_path_is_a_server() {
    for (url, flavor) in [
        ("https://sonarcloud.io", "cloud-global"),
        ("https://www.sonarqube.us/", "cloud-us"),
        ("https://sonarqube.us", "cloud-us"),
        ("https://sonarcloud.io:8443", "server"),
        ("https://sonarqube.us:443/sonar", "server"),
        ("https://sonarcloud.io/sonar", "server"),
    ] {
        let (code, target, stderr) = target_of(&[("SONAR_HOST_URL", url)]);
        assert_eq!(code, 0, "{url}: {stderr}");
        assert_eq!(target["flavor"], flavor, "{url}: {target}");
    }
}

/// Warnings say what the scanner would ignore, and only that.
#[test]
fn target_warnings_name_what_is_ignored_and_nothing_else() {
    let (_, target, _) = target_of(&[
        ("SONAR_HOST_URL", "https://sonarcloud.io"),
        ("SONAR_ORGANIZATION", "acme"),
    ]);
    assert!(target.get("warnings").is_none(), "{target}");
    let (_, target, _) = target_of(&[
        ("SONAR_HOST_URL", "https://sq.example.com"),
        ("SONAR_ORGANIZATION", "acme"),
    ]);
    let warnings = target["warnings"].to_string();
    assert!(
        warnings.contains("SonarQube Server has no organizations"),
        "{target}"
    );
    assert!(target["organization"].is_null(), "{target}");
    let (_, target, _) = target_of(&[
        ("SONAR_HOST_URL", "https://sq.example.com"),
        ("SONAR_SCANNER_SONARCLOUD_URL", "https://sonarcloud.io"),
    ]);
    let warnings = target["warnings"].to_string();
    assert!(
        warnings.contains("takes precedence over")
            && warnings.contains("SONAR_SCANNER_SONARCLOUD_URL"),
        "{target}"
    );
}

/// Sonar's limits: a project key of 400 characters, an organization key of 255.
#[test]
fn project_and_organization_keys_at_their_length_limits() {
    let key = "k".repeat(400);
    let (code, target, stderr) = target_of(&[("SCANTOKEN_PROJECT_KEY", &key)]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(target["project_key"]["value"], key.as_str());
    let (code, _, stderr) = target_of(&[("SCANTOKEN_PROJECT_KEY", &"k".repeat(401))]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("longer than 400"), "{stderr}");

    let org = "o".repeat(255);
    let (code, target, stderr) = target_of(&[("SONAR_ORGANIZATION", &org)]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(target["organization"]["value"], org.as_str());
    for bad in ["o".repeat(256), "Acme Corp".into(), "acme/x".into()] {
        let (code, _, stderr) = target_of(&[("SONAR_ORGANIZATION", &bad)]);
        assert_eq!(code, 2, "{bad}: {stderr}");
        assert!(
            stderr.contains("SONAR_ORGANIZATION") && stderr.contains("is not valid"),
            "{stderr}"
        );
    }
}

/// Inline token maps in the shapes a pipeline variable takes: one line of flow YAML
/// starting with `rules:`, and several lines that start with a comment.
#[test]
fn token_map_inline_on_one_line_or_after_a_comment() {
    let dir = tempfile::tempdir().unwrap();
    for map in [
        "rules: [{projects: [acme_billing], token-env: SONAR_TOKEN_PAYMENTS, organization: acme}]",
        "  rules: [{projects: [acme_billing], token-env: SONAR_TOKEN_PAYMENTS, organization: acme}]",
        "# billing's token\nrules:\n  - projects: [acme_billing]\n    token-env: SONAR_TOKEN_PAYMENTS\n    organization: acme\n",
    ] {
        let mut env = map_env(dir.path(), "acme_billing");
        set(&mut env, "SCANTOKEN_TOKEN_MAP", map);
        let (code, stdout, stderr) = scantoken(
            dir.path(),
            &env,
            &["export", "--no-verify", "--format", "shell"],
        );
        assert_eq!(code, 0, "{map:?}: {stderr}");
        assert!(
            stdout.contains(&format!("export SONAR_TOKEN='{CANARY}'")),
            "{map:?}: {stdout}"
        );
    }
}

/// The report names the kind of Sonar the scan goes to, as the user chose it.
#[test]
fn the_report_names_the_target() {
    let dir = tempfile::tempdir().unwrap();
    let base = [
        ("SONAR_TOKEN", CANARY),
        ("SCANTOKEN_PROJECT_KEY", "acme_app"),
    ];
    for (extra, shown) in [
        (
            &[("SONAR_HOST_URL", "https://sonar.acme.example")][..],
            "Target: SonarQube Server",
        ),
        (
            &[("SONAR_ORGANIZATION", "acme")][..],
            "Target: SonarQube Cloud (global)",
        ),
        (
            &[("SONAR_ORGANIZATION", "acme"), ("SONAR_REGION", "us")][..],
            "Target: SonarQube Cloud (US region)",
        ),
        (
            &[
                ("SONAR_ORGANIZATION", "acme"),
                ("SONAR_SCANNER_SONARCLOUD_URL", "https://sc-staging.example"),
                (
                    "SONAR_SCANNER_API_BASE_URL",
                    "https://api.sc-staging.example",
                ),
            ][..],
            "Target: SonarQube Cloud (custom URLs)",
        ),
    ] {
        let env = common::pairs(&[&base[..], extra].concat());
        let (code, _, stderr) = scantoken(
            dir.path(),
            &env,
            &["export", "--no-verify", "--format", "shell"],
        );
        assert_eq!(code, 0, "{extra:?}: {stderr}");
        assert!(stderr.contains(shown), "{extra:?}: {stderr}");
    }
}

/// A host URL with a user name, a password, or both is refused: credentials belong in
/// SONAR_TOKEN, never in a URL that ends up in logs and the scanner's properties.
#[test]
fn a_host_url_with_credentials_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for url in [
        "https://admin@sonar.example.com",
        "https://:hunter2@sonar.example.com",
        "https://admin:hunter2@sonar.example.com",
    ] {
        let mut env = github_pr(dir.path());
        set(&mut env, "SONAR_HOST_URL", url);
        assert_bad_input(dir.path(), &env, "SONAR_HOST_URL");
        let (_, _, stderr) = scantoken(dir.path(), &env, &["export", "--no-verify"]);
        assert!(
            stderr.contains("the URL carries a user name or password")
                && !stderr.contains("hunter2"),
            "{url}: {stderr}"
        );
    }
}

/// dotenv cannot escape a CI log's command markers: a value holding either spelling
/// (Azure's `##vso[`, or `##[`) is refused, naming the variable.
#[test]
fn dotenv_refuses_either_ci_command_marker() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["x ##vso[task.setvariable variable=a]b", "x ##[error]y"] {
        let params = serde_json::json!({ "sonar.projectName": name }).to_string();
        let env = common::pairs(&[
            ("SONAR_TOKEN", CANARY),
            ("SONAR_HOST_URL", "https://sonar.acme.example"),
            ("SCANTOKEN_PROJECT_KEY", "acme_app"),
            ("SONAR_SCANNER_JSON_PARAMS", &params),
        ]);
        let (code, stdout, stderr) = scantoken(
            dir.path(),
            &env,
            &["export", "--no-verify", "--format", "dotenv"],
        );
        assert_eq!(code, 2, "{name}: {stdout}{stderr}");
        assert!(
            stderr.contains("SONAR_SCANNER_JSON_PARAMS") && stderr.contains("CI command marker"),
            "{name}: {stderr}"
        );
        assert!(!stdout.contains("##"), "{name}: {stdout}");
    }
}
