//! `scantoken context --json` on each CI's real variables and payload shapes
//! (tests/fixtures/ci: one environment per case, `EXPECTED.json` the context a correct tool
//! derives, with the reasons for the non-obvious choices).

mod common;

use common::{ci_fixtures, fixture_env, git_in};
use serde_json::Value;
use std::path::Path;

fn context_of(env: &[(String, String)]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = common::scantoken(dir.path(), env, &["context", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    serde_json::from_str::<Value>(&stdout).unwrap()["context"].clone()
}

#[test]
fn every_fixture_case_gives_the_expected_context() {
    let expected: serde_json::Map<String, Value> = serde_json::from_str(
        &std::fs::read_to_string(ci_fixtures().join("EXPECTED.json")).unwrap(),
    )
    .unwrap();
    assert!(
        expected.len() >= 60,
        "all cases of the issue are covered: {}",
        expected.len()
    );
    let mut failures = Vec::new();
    for (case, want) in &expected {
        let got = context_of(&fixture_env(case));
        for field in [
            "ci",
            "repository",
            "event",
            "branch",
            "tag",
            "revision",
            "fork",
            "dependabot",
            "default_branch",
            "is_default_branch",
        ] {
            if got[field] != want[field] {
                failures.push(format!(
                    "{case}: {field}: got {} want {}",
                    got[field], want[field]
                ));
            }
        }
        if got["pull_request"] != want["pull_request"] {
            failures.push(format!(
                "{case}: pull_request: got {} want {}",
                got["pull_request"], want["pull_request"]
            ));
        }
        let skip = !got["skip"].is_null();
        if Value::Bool(skip) != want["skip"] {
            failures.push(format!(
                "{case}: skip: got {} want {}",
                got["skip"], want["skip"]
            ));
        }
        if let Some(markers) = want.get("detected_by") {
            if &got["detected_by"] != markers {
                failures.push(format!(
                    "{case}: detected_by: got {} want {markers}",
                    got["detected_by"]
                ));
            }
        }
        let withheld = !got["secrets_withheld"].is_null();
        if Value::Bool(withheld) != want["secrets_withheld"] {
            failures.push(format!(
                "{case}: secrets_withheld: got {} want {}",
                got["secrets_withheld"], want["secrets_withheld"]
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn local_shell_reads_the_git_checkout() {
    let dir = tempfile::tempdir().unwrap();
    let git = |args: &[&str]| git_in(dir.path(), args);
    git(&["init", "-q", "-b", "feature/local"]);
    git(&["commit", "-q", "--allow-empty", "-m", "x"]);
    let head = git(&["rev-parse", "HEAD"]);
    let (code, stdout, stderr) = common::scantoken(dir.path(), &[], &["context", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let ctx = &serde_json::from_str::<Value>(&stdout).unwrap()["context"];
    assert_eq!(ctx["ci"], "local");
    assert_eq!(ctx["event"], "branch");
    assert_eq!(ctx["branch"], "feature/local");
    assert_eq!(ctx["revision"], head.as_str());
    assert_eq!(ctx["default_branch"], Value::Null);

    // A clone records the remote's default branch: the branch it names is the main branch,
    // scanned without a branch property.
    git(&["update-ref", "refs/remotes/origin/feature/local", "HEAD"]);
    git(&[
        "symbolic-ref",
        "refs/remotes/origin/HEAD",
        "refs/remotes/origin/feature/local",
    ]);
    let (code, stdout, stderr) = common::scantoken(dir.path(), &[], &["context", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let ctx = &serde_json::from_str::<Value>(&stdout).unwrap()["context"];
    assert_eq!(ctx["default_branch"], "feature/local", "{ctx}");
    assert_eq!(ctx["is_default_branch"], true, "{ctx}");

    // Detached: the revision, no branch, and a note saying why.
    git(&["checkout", "-q", "--detach"]);
    let (code, stdout, stderr) = common::scantoken(dir.path(), &[], &["context", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let ctx = &serde_json::from_str::<Value>(&stdout).unwrap()["context"];
    assert_eq!(ctx["branch"], Value::Null, "{ctx}");
    assert_eq!(ctx["revision"], head.as_str());
    assert!(ctx["notes"].to_string().contains("detached HEAD"), "{ctx}");
}

#[test]
fn local_shell_without_git_knows_nothing_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = common::scantoken(dir.path(), &[], &["context"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("local shell") && stdout.contains("unknown"),
        "{stdout}"
    );
}

#[test]
fn pull_request_target_is_a_pull_request_with_a_note() {
    let ctx = context_of(&fixture_env("github/pull_request_target_fork"));
    assert_eq!(ctx["event"], "pull-request");
    assert!(
        ctx["notes"].to_string().contains("pull_request_target"),
        "{ctx}"
    );
}

const CANARY: &str = "sqco_CANARY0canary0CANARY0canary0CANARY0canary0CANARY0canary0x";

/// What the scanner would receive: the properties in `SONAR_SCANNER_JSON_PARAMS`, from
/// `export --no-verify --format json` run in `dir` (exit code and stderr beside).
fn exported(dir: &Path, env: &[(String, String)], extra: &[&str]) -> (i32, Value, String) {
    let mut env = env.to_vec();
    for (k, v) in [
        ("SONAR_TOKEN", CANARY),
        ("SONAR_ORGANIZATION", "acme"),
        ("SCANTOKEN_PROJECT_KEY", "acme_payments"),
    ] {
        common::set(&mut env, k, v);
    }
    let mut args = vec!["export", "--no-verify", "--format", "json"];
    args.extend_from_slice(extra);
    let (code, stdout, stderr) = common::scantoken(dir, &env, &args);
    assert!(!stdout.contains(CANARY) && !common::outside_masks(&stderr).contains(CANARY));
    // A skipped build prints nothing but, on GitHub, its `::notice` line.
    if code != 0 || !stdout.trim_start().starts_with('{') {
        assert!(
            !stdout.contains("SONAR_HOST_URL"),
            "nothing exported: {stdout}"
        );
        return (code, Value::Null, stderr);
    }
    let vars: Value = serde_json::from_str(&stdout).unwrap();
    let props = serde_json::from_str(vars["SONAR_SCANNER_JSON_PARAMS"].as_str().unwrap()).unwrap();
    (code, props, stderr)
}

fn fixture_props(case: &str, extra: &[&str]) -> (i32, Value, String) {
    let dir = tempfile::tempdir().unwrap();
    exported(dir.path(), &fixture_env(case), extra)
}

/// A git repository like the workspace of a Jenkins multibranch pull request built with the
/// default "merge with the target" strategy: `refs/remotes/origin/PR-42` is the pull
/// request's head, `refs/remotes/origin/main` the target, and the checkout is the merge of
/// the two, made by Jenkins. Returns (head, merge).
fn jenkins_merge_workspace(dir: &Path) -> (String, String) {
    let git = |args: &[&str]| git_in(dir, args);
    git(&["init", "-q", "-b", "main"]);
    git(&["commit", "-q", "--allow-empty", "-m", "base"]);
    git(&["checkout", "-q", "-b", "feature/login"]);
    git(&["commit", "-q", "--allow-empty", "-m", "the change"]);
    let head = git(&["rev-parse", "HEAD"]);
    git(&["checkout", "-q", "main"]);
    git(&["commit", "-q", "--allow-empty", "-m", "main moved on"]);
    git(&["update-ref", "refs/remotes/origin/PR-42", &head]);
    git(&["update-ref", "refs/remotes/origin/main", "HEAD"]);
    git(&["checkout", "-q", "--detach"]);
    git(&["merge", "-q", "--no-ff", "-m", "Merge PR-42", &head]);
    let merge = git(&["rev-parse", "HEAD"]);
    git(&["branch", "-q", "-D", "feature/login"]);
    (head, merge)
}

fn jenkins_pr_env(git_commit: &str) -> Vec<(String, String)> {
    let mut env = fixture_env("jenkins/multibranch_pr");
    common::set(&mut env, "GIT_COMMIT", git_commit);
    env
}

/// Issue case 1: the scan gets the pull request's head, not the merge Jenkins built.
#[test]
fn jenkins_pull_request_exports_the_head_from_the_workspace_not_the_merge() {
    let dir = tempfile::tempdir().unwrap();
    let (head, merge) = jenkins_merge_workspace(dir.path());
    let (code, props, stderr) = exported(dir.path(), &jenkins_pr_env(&merge), &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(props["sonar.scm.revision"], head.as_str(), "{props}");
    assert_eq!(props["sonar.pullrequest.key"], "42");
    assert!(stderr.contains("refs/remotes/origin/PR-42"), "{stderr}");
}

#[test]
fn jenkins_pull_request_without_the_head_ref_exports_no_revision_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let (head, merge) = jenkins_merge_workspace(dir.path());
    let status = std::process::Command::new("git")
        .args(["update-ref", "-d", "refs/remotes/origin/PR-42"])
        .current_dir(dir.path())
        .status()
        .unwrap();
    assert!(status.success());
    let (code, props, stderr) = exported(dir.path(), &jenkins_pr_env(&merge), &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        props.get("sonar.scm.revision").is_none(),
        "not the merge: {props}"
    );
    assert_eq!(props["sonar.pullrequest.key"], "42");
    assert!(
        stderr.contains("head commit cannot be determined"),
        "{stderr}"
    );
    // The "current pull request revision" strategy builds the head itself: a commit with one
    // parent, which is what GIT_COMMIT then names.
    let (code, props, stderr) = exported(dir.path(), &jenkins_pr_env(&head), &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(props["sonar.scm.revision"], head.as_str(), "{props}");
}

#[test]
fn jenkins_hostile_branch_names_never_reach_a_shell_or_an_option() {
    let dir = tempfile::tempdir().unwrap();
    let (_, merge) = jenkins_merge_workspace(dir.path());
    for hostile in [
        "PR-42; touch pwned",
        "$(touch pwned)",
        "--output=pwned",
        "../../../etc/passwd",
        "PR-42\n--all",
    ] {
        let mut env = jenkins_pr_env(&merge);
        common::set(&mut env, "GIT_BRANCH", hostile);
        common::set(&mut env, "BRANCH_NAME", hostile);
        let (code, props, stderr) = exported(dir.path(), &env, &[]);
        assert_eq!(code, 0, "{hostile}: {stderr}");
        assert!(
            props.get("sonar.scm.revision").is_none(),
            "{hostile}: {props}"
        );
        assert!(!dir.path().join("pwned").exists(), "{hostile}");
    }
}

/// Issue case 2: a Bitbucket pull request with a JENKINS_URL variable stays a Bitbucket pull
/// request, and the output says which markers decided and why Jenkins was not chosen.
#[test]
fn stray_jenkins_url_does_not_take_over_bitbucket() {
    let (code, props, stderr) = fixture_props("bitbucket/pr_with_stray_jenkins_url", &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(props["sonar.pullrequest.key"], "9", "{props}");
    assert_eq!(props["sonar.pullrequest.branch"], "feature/login");
    assert_eq!(
        props["sonar.scm.revision"],
        "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0"
    );
    assert!(
        stderr.contains("detected by   BITBUCKET_BUILD_NUMBER, BITBUCKET_COMMIT, CI=true"),
        "{stderr}"
    );
    assert!(
        stderr.contains("EXECUTOR_NUMBER is not: not Jenkins"),
        "{stderr}"
    );
}

#[test]
fn jenkins_url_alone_is_a_local_shell_with_a_note() {
    let dir = tempfile::tempdir().unwrap();
    let env = common::pairs(&[("JENKINS_URL", "https://ci.acme.example/")]);
    let (code, stdout, stderr) = common::scantoken(dir.path(), &env, &["context", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let ctx = &serde_json::from_str::<Value>(&stdout).unwrap()["context"];
    assert_eq!(ctx["ci"], "local");
    assert!(
        ctx["notes"].to_string().contains("JENKINS_URL is set but"),
        "{ctx}"
    );
}

/// Issue case 3.
#[test]
fn ghprb_pull_requests_are_pull_requests_at_the_actual_commit() {
    let (code, props, stderr) = fixture_props("jenkins/ghprb", &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(props["sonar.pullrequest.key"], "42", "{props}");
    assert_eq!(props["sonar.pullrequest.branch"], "feature/login");
    assert_eq!(props["sonar.pullrequest.base"], "main");
    assert_eq!(
        props["sonar.scm.revision"],
        "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0"
    );
    assert!(props.get("sonar.branch.name").is_none());
}

/// Issue case 4.
#[test]
fn gitlab_external_pull_requests_are_pull_requests() {
    let (code, props, stderr) = fixture_props("gitlab/external_pull_request", &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(props["sonar.pullrequest.key"], "42", "{props}");
    assert_eq!(props["sonar.pullrequest.base"], "main");
    assert!(props.get("sonar.branch.name").is_none(), "{props}");
}

/// Issue case 5: "withheld" decides whether an empty token-map variable is an expected
/// absence (skipped with on-missing-token skip) or a mapping to fix (exit 2). Each pair: a
/// build that gets secrets and one that does not.
#[test]
fn withheld_secrets_follow_each_ci_rules_both_ways() {
    const MAP: &str = "rules:\n  - projects: [\"*\"]\n    token-env: SONAR_TOKEN_ALL\n";
    for (case, withheld) in [
        ("github/pull_request_dependabot", true),
        ("github/pull_request_dependabot_pushed_by_maintainer", false),
        ("github/pull_request_target_dependabot", true),
        (
            "github/pull_request_target_dependabot_labeled_by_maintainer",
            false,
        ),
        ("github/workflow_run_push_dependabot", false),
        ("github/issue_comment_dependabot", false),
        ("gitlab/merge_request_fork", true),
        ("gitlab/merge_request_fork_in_parent", false),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut env = fixture_env(case);
        for (k, v) in [
            ("SCANTOKEN_TOKEN_MAP", MAP),
            ("SONAR_TOKEN_ALL", ""),
            ("SONAR_ORGANIZATION", "acme"),
            ("SCANTOKEN_PROJECT_KEY", "acme_payments"),
            ("SCANTOKEN_ON_MISSING_TOKEN", "skip"),
        ] {
            common::set(&mut env, k, v);
        }
        let (code, _, stderr) = common::scantoken(
            dir.path(),
            &env,
            &["export", "--no-verify", "--format", "shell"],
        );
        if withheld {
            assert_eq!(code, 0, "{case}: expected absence, skipped: {stderr}");
            assert!(stderr.contains("token-missing"), "{case}: {stderr}");
        } else {
            assert_eq!(
                code, 2,
                "{case}: this build gets secrets, the map must be fixed: {stderr}"
            );
            assert!(stderr.contains("SONAR_TOKEN_ALL"), "{case}: {stderr}");
        }
    }
}

/// Issue case 6: the default branch gets no branch property where the CI or the user names
/// it; elsewhere the branch is exported by name, with a note saying how to name it.
#[test]
fn default_branch_builds_carry_no_branch_property_once_named() {
    for case in [
        "azure/default_branch_named",
        "azure/schedule",
        "jenkins/multibranch_default_named",
        "bitbucket/default_named",
        "gitlab/default_branch",
        "github/push_default",
    ] {
        let (code, props, stderr) = fixture_props(case, &[]);
        assert_eq!(code, 0, "{case}: {stderr}");
        assert!(props.get("sonar.branch.name").is_none(), "{case}: {props}");
    }
    let (code, props, stderr) = fixture_props("azure/default_branch_unnamed", &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(props["sonar.branch.name"], "main", "{props}");
    assert!(stderr.contains("name it with default-branch"), "{stderr}");
    let (code, props, stderr) = fixture_props(
        "azure/default_branch_unnamed",
        &["--default-branch", "main"],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(props.get("sonar.branch.name").is_none(), "{props}");
    assert!(stderr.contains("from flag --default-branch"), "{stderr}");
    // Another branch still gets its name.
    let (_, props, _) = fixture_props("azure/branch", &["--default-branch", "main"]);
    assert_eq!(props["sonar.branch.name"], "feature/login", "{props}");
}

/// Issue case 7: a merge queue entry is skipped, with a note; the user can still force an
/// analysis by setting the branch by hand.
#[test]
fn merge_group_is_skipped_with_a_note() {
    let (code, props, stderr) = fixture_props("github/merge_group", &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(props.is_null(), "nothing exported: {props}");
    assert!(stderr.contains("scan skipped: merge_group"), "{stderr}");
    let dir = tempfile::tempdir().unwrap();
    let mut env = fixture_env("github/merge_group");
    common::set(
        &mut env,
        "SONAR_SCANNER_JSON_PARAMS",
        r#"{"sonar.branch.name":"merge-queue"}"#,
    );
    let (code, props, stderr) = exported(dir.path(), &env, &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(props["sonar.branch.name"], "merge-queue", "{props}");
}

#[test]
fn workflow_run_analyses_the_pull_request_it_follows() {
    let (code, props, stderr) = fixture_props("github/workflow_run_pull_request", &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(props["sonar.pullrequest.key"], "2", "{props}");
    assert_eq!(props["sonar.pullrequest.branch"], "changes");
    assert_eq!(
        props["sonar.scm.revision"], "ec26c3e57ca3a959ca5aad62de7213c562f8c821",
        "the pull request's head, not the default branch's GITHUB_SHA"
    );
    let (code, props, stderr) = fixture_props("github/workflow_run_fork", &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        props.is_null(),
        "a fork's number is unknown: skipped, not the default branch: {props}"
    );
    assert!(stderr.contains("number is unknown"), "{stderr}");
}

/// The policy for shared pipelines over many repositories: a project that is not on Sonar
/// passes with nothing exported and says why; any other failure still fails.
#[test]
fn on_project_not_found_skip_exports_nothing_and_says_why() {
    const SQP: &str = "sqp_1111111111111111111111111111111111111111";
    let emulator = sonar_emulator::start_blocking(sonar_emulator::EmulatorConfig {
        scenario: sonar_emulator::Scenario::from_yaml_str(&format!(
            "flavor: server\nprojects:\n  - {{key: acme_payments, visibility: private}}\n  - {{key: acme_other, visibility: private}}\ntokens:\n  - {{value: \"{SQP}\", kind: project-analysis, projects: [acme_payments]}}\n"
        ))
        .unwrap(),
        tls: None,
        faults: vec![],
        latency_ms: 0,
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let run = |project: &str, policy: Option<(&str, &str)>| {
        let mut env = fixture_env("gitlab/branch");
        for (k, v) in [
            ("SONAR_HOST_URL", emulator.web_url().as_str()),
            ("SONAR_TOKEN", SQP),
            ("SCANTOKEN_PROJECT_KEY", project),
            ("SCANTOKEN_RETRIES", "0"),
        ] {
            common::set(&mut env, k, v);
        }
        if let Some((k, v)) = policy {
            common::set(&mut env, k, v);
        }
        common::scantoken(dir.path(), &env, &["export", "--format", "shell"])
    };
    let (code, stdout, stderr) = run("acme_missing", None);
    assert_eq!(code, 1, "{stderr}");
    assert!(stdout.is_empty());
    for policy in [
        ("SCANTOKEN_ON_PROJECT_NOT_FOUND", "skip"),
        ("INPUT_ON_PROJECT_NOT_FOUND", "skip"),
        ("INPUT_ONPROJECTNOTFOUND", "skip"),
    ] {
        let (code, stdout, stderr) = run("acme_missing", Some(policy));
        assert_eq!(code, 0, "{policy:?}: {stderr}");
        assert!(stdout.is_empty(), "nothing exported: {stdout}");
        assert!(
            stderr.contains("project-not-found")
                && stderr.contains("Nothing exported (--on-project-not-found skip)"),
            "{stderr}"
        );
        assert!(!stderr.contains(SQP));
    }
    // Only a missing project is skipped: a project the token may not scan still fails.
    let (code, _, stderr) = run(
        "acme_other",
        Some(("SCANTOKEN_ON_PROJECT_NOT_FOUND", "skip")),
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("no-scan-permission"), "{stderr}");
    let (code, _, stderr) = run(
        "acme_missing",
        Some(("SCANTOKEN_ON_PROJECT_NOT_FOUND", "maybe")),
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("one of: fail, skip"), "{stderr}");
}

#[test]
fn two_complete_sets_of_markers_pick_one_and_say_so() {
    let mut env = fixture_env("gitlab/branch");
    for (k, v) in fixture_env("azure/branch") {
        common::set(&mut env, &k, &v);
    }
    let ctx = context_of(&env);
    assert_eq!(ctx["ci"], "azure", "{ctx}");
    assert_eq!(ctx["detected_by"], serde_json::json!(["TF_BUILD=true"]));
    assert!(
        ctx["notes"]
            .to_string()
            .contains("the markers of GitLab CI (GITLAB_CI=true) are set too"),
        "{ctx}"
    );
}

/// A skip notice quotes the payload (the queue branch): it cannot smuggle a workflow command
/// onto a line of its own.
#[test]
fn a_hostile_payload_cannot_inject_commands_through_the_skip_notice() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("event.json");
    let mut event: Value = serde_json::from_str(
        &std::fs::read_to_string(ci_fixtures().join("github/merge_group.event.json")).unwrap(),
    )
    .unwrap();
    event["merge_group"]["head_ref"] =
        "refs/heads/q\n::error::pwned\n##vso[task.complete result=Failed]".into();
    std::fs::write(&path, event.to_string()).unwrap();
    let mut env = fixture_env("github/merge_group");
    common::set(&mut env, "GITHUB_EVENT_PATH", path.to_str().unwrap());
    let (code, _, stderr) = exported(dir.path(), &env, &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("scan skipped"), "{stderr}");
    // stdout carries the JSON, so the runner's commands come on stderr: the mask and the
    // notice are ours, and nothing else is a command.
    for line in stderr.lines() {
        assert!(!line.contains("##vso["), "{line}");
        if line.trim_start().starts_with("::") {
            assert!(
                line.starts_with("::add-mask::") || line.starts_with("::notice title=scantoken::"),
                "{line}"
            );
        }
    }
}

/// A GitHub Actions job of `event` at `git_ref` started by `actor`, with `payload` as its
/// event file (none when `None`).
fn github_env(
    dir: &Path,
    event: &str,
    git_ref: &str,
    actor: &str,
    payload: Option<Value>,
) -> Vec<(String, String)> {
    let mut env = common::pairs(&[
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_EVENT_NAME", event),
        ("GITHUB_REF", git_ref),
        ("GITHUB_SHA", "3333333333333333333333333333333333333333"),
        ("GITHUB_REPOSITORY", "acme/payments"),
        ("GITHUB_ACTOR", actor),
    ]);
    if let Some(payload) = payload {
        let path = dir.join("event.json");
        std::fs::write(&path, payload.to_string()).unwrap();
        common::set(&mut env, "GITHUB_EVENT_PATH", path.to_str().unwrap());
    }
    env
}

/// A pull request event's payload: head from `head_repo` (`None`: the fork was deleted),
/// opened by `author`.
fn pr_payload(head_repo: Option<&str>, author: &str) -> Value {
    serde_json::json!({
        "number": 7,
        "pull_request": {
            "number": 7,
            "head": {"ref": "feature/x", "sha": "1111111111111111111111111111111111111111",
                     "repo": head_repo.map(|r| serde_json::json!({"full_name": r}))},
            "base": {"ref": "main", "sha": "2222222222222222222222222222222222222222",
                     "repo": {"full_name": "acme/payments"}},
            "user": {"login": author}
        },
        "repository": {"full_name": "acme/payments", "default_branch": "main"}
    })
}

#[test]
fn github_pull_request_from_a_deleted_fork_is_a_fork_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let env = github_env(
        dir.path(),
        "pull_request",
        "refs/pull/7/merge",
        "octocat",
        Some(pr_payload(None, "octocat")),
    );
    let ctx = context_of(&env);
    assert_eq!(ctx["fork"], true, "{ctx}");
    assert!(
        ctx["secrets_withheld"].to_string().contains("fork"),
        "{ctx}"
    );
    // The same pull request from a branch of the repository itself gets the secrets.
    let env = github_env(
        dir.path(),
        "pull_request",
        "refs/pull/7/merge",
        "octocat",
        Some(pr_payload(Some("acme/payments"), "octocat")),
    );
    let ctx = context_of(&env);
    assert_eq!(ctx["fork"], false, "{ctx}");
    assert!(ctx["secrets_withheld"].is_null(), "{ctx}");
}

/// GitHub withholds every secret from a pull_request_target only when Dependabot started it
/// on its own pull request; Dependabot starting it on a person's pull request (a rebase it
/// was asked for) gets the repository's secrets.
#[test]
fn github_pull_request_target_by_dependabot_on_a_persons_pull_request_has_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let env = github_env(
        dir.path(),
        "pull_request_target",
        "refs/heads/main",
        "dependabot[bot]",
        Some(pr_payload(Some("acme/payments"), "octocat")),
    );
    let ctx = context_of(&env);
    assert_eq!(ctx["dependabot"], true, "{ctx}");
    assert!(ctx["secrets_withheld"].is_null(), "{ctx}");
}

/// A push's payload is optional (scantoken needs nothing from it); without it the branch is
/// still known, and no branch is taken for the default one on a guess.
#[test]
fn github_push_without_an_event_file_is_its_branch() {
    let dir = tempfile::tempdir().unwrap();
    let env = github_env(dir.path(), "push", "refs/heads/feature/y", "octocat", None);
    let ctx = context_of(&env);
    assert_eq!(ctx["event"], "branch", "{ctx}");
    assert_eq!(ctx["branch"], "feature/y", "{ctx}");
    assert!(ctx["default_branch"].is_null(), "{ctx}");
    assert_ne!(ctx["is_default_branch"], true, "{ctx}");
    // A scheduled run is on the default branch by GitHub's rule: GITHUB_REF names it.
    let env = github_env(dir.path(), "schedule", "refs/heads/trunk", "octocat", None);
    let ctx = context_of(&env);
    assert_eq!(ctx["default_branch"], "trunk", "{ctx}");
    assert_eq!(ctx["is_default_branch"], true, "{ctx}");
}

#[test]
fn github_pull_request_without_an_event_file_says_which_variable_to_set() {
    let dir = tempfile::tempdir().unwrap();
    let env = github_env(
        dir.path(),
        "pull_request",
        "refs/pull/7/merge",
        "octocat",
        None,
    );
    let (code, stdout, stderr) = common::scantoken(dir.path(), &env, &["context"]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(
        stderr.contains("GITHUB_EVENT_PATH") && stderr.contains("is not set"),
        "{stderr}"
    );
}

#[test]
fn github_issue_comment_on_a_pull_request_notes_what_is_analysed() {
    let dir = tempfile::tempdir().unwrap();
    let comment = |issue: Value| {
        let env = github_env(
            dir.path(),
            "issue_comment",
            "refs/heads/main",
            "octocat",
            Some(
                serde_json::json!({"issue": issue, "repository": {"full_name": "acme/payments", "default_branch": "main"}}),
            ),
        );
        let ctx = context_of(&env);
        assert_eq!(ctx["branch"], "main", "{ctx}");
        ctx["notes"]
            .to_string()
            .contains("issue_comment on a pull request")
    };
    assert!(comment(
        serde_json::json!({"number": 7, "pull_request": {"url": "https://api.github.com/repos/acme/payments/pulls/7"}})
    ));
    assert!(!comment(serde_json::json!({"number": 8})));
    assert!(!comment(
        serde_json::json!({"number": 9, "pull_request": null})
    ));
}

/// A `workflow_run` payload following a pull_request run, listing `pull_requests`.
fn workflow_run_payload(pull_requests: Value) -> Value {
    serde_json::json!({
        "workflow_run": {
            "event": "pull_request",
            "head_branch": "feature/x",
            "head_sha": "4444444444444444444444444444444444444444",
            "pull_requests": pull_requests,
            "head_repository": {"full_name": "acme/payments"},
            "repository": {"full_name": "acme/payments"}
        },
        "repository": {"full_name": "acme/payments", "default_branch": "main"}
    })
}

fn run_pr(number: u64, head_sha: &str, base_repo_url: &str) -> Value {
    serde_json::json!({
        "number": number,
        "head": {"ref": "feature/x", "sha": head_sha, "repo": {"url": "https://api.github.com/repos/acme/payments"}},
        "base": {"ref": "main", "sha": "2222222222222222222222222222222222222222", "repo": {"url": base_repo_url}}
    })
}

#[test]
fn github_workflow_run_picks_the_pull_request_into_this_repository_at_the_commit_built() {
    let dir = tempfile::tempdir().unwrap();
    let ours = "https://api.github.com/repos/Acme/Payments";
    let pick = |prs: Value| {
        let env = github_env(
            dir.path(),
            "workflow_run",
            "refs/heads/main",
            "octocat",
            Some(workflow_run_payload(prs)),
        );
        let ctx = context_of(&env);
        assert_eq!(
            ctx["revision"], "4444444444444444444444444444444444444444",
            "{ctx}"
        );
        (ctx["pull_request"]["key"].clone(), ctx["skip"].is_null())
    };
    // Two open pull requests from the branch: the one whose head is the commit built.
    let (key, _) = pick(serde_json::json!([
        run_pr(11, "5555555555555555555555555555555555555555", ours),
        run_pr(12, "4444444444444444444444444444444444444444", ours),
    ]));
    assert_eq!(key, "12");
    // A pull request into another repository (the branch's pull request upstream) is not
    // this repository's: with nothing else listed, the build is skipped.
    let upstream = "https://api.github.com/repos/upstream/payments";
    let (key, analysed) = pick(serde_json::json!([run_pr(
        13,
        "4444444444444444444444444444444444444444",
        upstream
    )]));
    assert!(key.is_null() && !analysed, "{key}");
    let (key, _) = pick(serde_json::json!([
        run_pr(13, "4444444444444444444444444444444444444444", upstream),
        run_pr(14, "5555555555555555555555555555555555555555", ours),
    ]));
    assert_eq!(key, "14");
}

/// The event file is read as a stream: leading white space of any length is skipped before
/// the first character is judged, and an empty file is an error, not a wait.
#[test]
fn github_event_file_that_is_empty_or_not_an_object_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut env = github_env(dir.path(), "push", "refs/heads/main", "octocat", None);
    let path = dir.path().join("event.json");
    common::set(&mut env, "GITHUB_EVENT_PATH", path.to_str().unwrap());
    let run = |text: &str| {
        std::fs::write(&path, text).unwrap();
        let start = std::time::Instant::now();
        let (code, _, stderr) = common::scantoken(dir.path(), &env, &["context"]);
        assert!(start.elapsed() < std::time::Duration::from_secs(20));
        (code, stderr)
    };
    let (code, stderr) = run("");
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("GITHUB_EVENT_PATH"), "{stderr}");
    let (code, stderr) = run(&format!("{}[1]", " \n".repeat(40_000)));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("is JSON but not an object"), "{stderr}");
    let (code, stderr) = run(&format!(
        "{}{{\"ref\": \"refs/heads/main\"}}",
        "\n".repeat(40_000)
    ));
    assert_eq!(code, 0, "{stderr}");
}

/// GitHub caps a webhook payload at 25 MB, and so does scantoken: a payload of exactly
/// 25 MiB is read, one byte more is refused, naming the file and the limit.
#[test]
fn github_event_file_at_the_size_limit_is_read_and_one_byte_more_is_refused() {
    const LIMIT: usize = 25 << 20;
    let dir = tempfile::tempdir().unwrap();
    let mut env = github_env(dir.path(), "push", "refs/heads/feature/z", "octocat", None);
    let path = dir.path().join("event.json");
    common::set(&mut env, "GITHUB_EVENT_PATH", path.to_str().unwrap());
    let payload = r#"{"repository": {"full_name": "acme/payments", "default_branch": "main"}}"#;
    let write = |size: usize| {
        let mut text = " ".repeat(size - payload.len());
        text.push_str(payload);
        std::fs::write(&path, text).unwrap();
    };
    write(LIMIT);
    let ctx = context_of(&env);
    assert_eq!(ctx["branch"], "feature/z", "{ctx}");
    assert_eq!(ctx["default_branch"], "main", "the payload was read: {ctx}");
    write(LIMIT + 1);
    let (code, _, stderr) = common::scantoken(dir.path(), &env, &["context"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("GITHUB_EVENT_PATH") && stderr.contains("larger than the 25 MiB"),
        "{stderr}"
    );
}

fn notes_of(ctx: &Value) -> String {
    ctx.get("notes").map(|n| n.to_string()).unwrap_or_default()
}

fn context_with(case: &str, extra: &[(&str, &str)], args: &[&str], dir: &Path) -> Value {
    let mut env = fixture_env(case);
    for (k, v) in extra {
        common::set(&mut env, k, v);
    }
    let mut all = vec!["context", "--json"];
    all.extend_from_slice(args);
    let (code, stdout, stderr) = common::scantoken(dir, &env, &all);
    assert_eq!(code, 0, "{stderr}");
    serde_json::from_str::<Value>(&stdout).unwrap()["context"].clone()
}

/// The `default-branch` option wins over the CI and says so when they differ; a branch
/// build with no default branch from anywhere says what that means for the scan.
#[test]
fn the_default_branch_option_wins_and_every_disagreement_is_a_note() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = context_with(
        "github/push_branch",
        &[],
        &["--default-branch", "changes"],
        dir.path(),
    );
    assert_eq!(ctx["default_branch"], "changes");
    assert_eq!(ctx["default_branch_source"], "flag --default-branch");
    assert_eq!(ctx["is_default_branch"], true);
    let notes = notes_of(&ctx);
    assert!(
        notes.contains("though GitHub Actions says master"),
        "{notes}"
    );

    // The same branch as the CI's, in the long form: no note.
    let ctx = context_with(
        "github/push_branch",
        &[],
        &["--default-branch", "refs/heads/master"],
        dir.path(),
    );
    assert_eq!(ctx["default_branch"], "master");
    assert_eq!(ctx["is_default_branch"], false);
    assert!(!notes_of(&ctx).contains("though"), "{ctx}");

    // Without the option: the CI's, named as such.
    let ctx = context_with("github/push_branch", &[], &[], dir.path());
    assert_eq!(ctx["default_branch_source"], "GitHub Actions variables");
    assert!(
        !notes_of(&ctx).contains("does not say which branch"),
        "{ctx}"
    );

    // Jenkins does not say: a note, on a branch build only.
    let ctx = context_with("jenkins/multibranch_branch", &[], &[], dir.path());
    assert_eq!(ctx["default_branch"], Value::Null);
    assert_eq!(ctx["is_default_branch"], Value::Null);
    assert!(
        notes_of(&ctx).contains("Jenkins does not say which branch is the default"),
        "{ctx}"
    );
    let ctx = context_with("jenkins/multibranch_pr", &[], &[], dir.path());
    assert_eq!(ctx["is_default_branch"], false);
    assert!(
        !notes_of(&ctx).contains("does not say which branch"),
        "{ctx}"
    );
}

/// A CI that does not name the default branch: the workspace's `origin/HEAD`, when the
/// checkout has it, named as the source.
#[test]
fn a_ci_that_does_not_name_the_default_branch_falls_back_to_the_workspace() {
    let dir = tempfile::tempdir().unwrap();
    let git = |args: &[&str]| git_in(dir.path(), args);
    git(&["init", "-q", "-b", "main"]);
    git(&["commit", "-q", "--allow-empty", "-m", "x"]);
    git(&["update-ref", "refs/remotes/origin/feature/login", "HEAD"]);
    git(&[
        "symbolic-ref",
        "refs/remotes/origin/HEAD",
        "refs/remotes/origin/feature/login",
    ]);
    let ctx = context_with("jenkins/multibranch_branch", &[], &[], dir.path());
    assert_eq!(ctx["default_branch"], "feature/login", "{ctx}");
    assert_eq!(
        ctx["default_branch_source"],
        "the workspace's git (refs/remotes/origin/HEAD)"
    );
    assert_eq!(ctx["is_default_branch"], true);
    assert!(
        !notes_of(&ctx).contains("does not say which branch"),
        "{ctx}"
    );
}

/// Which CI was chosen, and what else looked like one: each said in a note.
#[test]
fn detection_notes_name_the_other_cis_markers_and_missing_standard_variables() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = context_with(
        "github/push_branch",
        &[("TF_BUILD", "True")],
        &[],
        dir.path(),
    );
    assert_eq!(ctx["ci"], "github");
    let notes = notes_of(&ctx);
    assert!(
        notes.contains(
            "the markers of Azure Pipelines (TF_BUILD=true) are set too: GitHub Actions was chosen"
        ),
        "{notes}"
    );
    // A complete GitHub environment: no note about missing variables.
    assert!(!notes.contains("in every job"), "{notes}");

    // GitLab's marker without its standard variables.
    let env = common::pairs(&[("GITLAB_CI", "true")]);
    let (code, stdout, stderr) = common::scantoken(dir.path(), &env, &["context", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let ctx = &serde_json::from_str::<Value>(&stdout).unwrap()["context"];
    assert_eq!(ctx["ci"], "gitlab");
    let notes = notes_of(ctx);
    assert!(
        notes.contains(
            "GitLab CI sets CI_PIPELINE_SOURCE, CI_COMMIT_SHA, CI_PROJECT_PATH in every job"
        ),
        "{notes}"
    );
}

/// Where the default branch came from is reported as it was: a CI that names it wins over
/// the workspace's `origin/HEAD`, and a local shell names git as its source.
#[test]
fn the_default_branch_comes_from_the_ci_before_the_workspace_and_names_its_source() {
    let dir = tempfile::tempdir().unwrap();
    let git = |args: &[&str]| git_in(dir.path(), args);
    git(&["init", "-q", "-b", "feature/login"]);
    git(&["commit", "-q", "--allow-empty", "-m", "x"]);
    git(&["update-ref", "refs/remotes/origin/trunk", "HEAD"]);
    git(&[
        "symbolic-ref",
        "refs/remotes/origin/HEAD",
        "refs/remotes/origin/trunk",
    ]);

    // GitLab says `main` (CI_DEFAULT_BRANCH); the checkout's origin/HEAD says `trunk`.
    let ctx = context_with("gitlab/branch", &[], &[], dir.path());
    assert_eq!(ctx["default_branch"], "main", "{ctx}");
    assert_eq!(ctx["default_branch_source"], "GitLab CI variables", "{ctx}");
    assert_eq!(ctx["is_default_branch"], false, "{ctx}");

    // A developer's shell: git's origin/HEAD, named as such.
    let (code, stdout, stderr) = common::scantoken(dir.path(), &[], &["context", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let ctx = &serde_json::from_str::<Value>(&stdout).unwrap()["context"];
    assert_eq!(ctx["default_branch"], "trunk", "{ctx}");
    assert_eq!(
        ctx["default_branch_source"], "git (refs/remotes/origin/HEAD)",
        "{ctx}"
    );
    assert_eq!(ctx["is_default_branch"], false, "{ctx}");
}

/// A "nearly this CI" note only for a CI some of whose own markers are set: not for the
/// CI chosen, not for another CI whose markers all hold (it gets its own note), not for
/// CIs with no marker set, and not for `CI=true` alone, which every CI sets.
#[test]
fn near_miss_notes_only_for_a_ci_some_of_whose_own_markers_are_set() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = context_with(
        "github/push_branch",
        &[("TF_BUILD", "True")],
        &[],
        dir.path(),
    );
    let notes = notes_of(&ctx);
    assert!(notes.contains("the markers of Azure Pipelines"), "{notes}");
    assert!(!notes.contains("is set but"), "{notes}");

    let (code, stdout, stderr) = common::scantoken(
        dir.path(),
        &common::pairs(&[("CI", "true")]),
        &["context", "--json"],
    );
    assert_eq!(code, 0, "{stderr}");
    let ctx = &serde_json::from_str::<Value>(&stdout).unwrap()["context"];
    assert_eq!(ctx["ci"], "local");
    assert!(!notes_of(ctx).contains("is set but"), "{ctx}");

    let (code, stdout, stderr) = common::scantoken(
        dir.path(),
        &common::pairs(&[("CI", "true"), ("BITBUCKET_COMMIT", "0123abc")]),
        &["context", "--json"],
    );
    assert_eq!(code, 0, "{stderr}");
    let ctx = &serde_json::from_str::<Value>(&stdout).unwrap()["context"];
    assert!(
        notes_of(ctx).contains(
            "BITBUCKET_COMMIT, CI=true is set but BITBUCKET_BUILD_NUMBER is not: not Bitbucket Pipelines"
        ),
        "{ctx}"
    );
}

/// A branch name git accepts can be long (each path component up to 255 bytes): read
/// whole from git, not cut at some small buffer.
#[test]
fn a_long_local_branch_name_is_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    let git = |args: &[&str]| git_in(dir.path(), args);
    let branch = format!("feature/{}", vec!["b".repeat(200); 6].join("/"));
    assert!(branch.len() > 1200);
    git(&["init", "-q", "-b", &branch]);
    git(&["commit", "-q", "--allow-empty", "-m", "x"]);
    let (code, stdout, stderr) = common::scantoken(dir.path(), &[], &["context", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let ctx = &serde_json::from_str::<Value>(&stdout).unwrap()["context"];
    assert_eq!(ctx["branch"], branch.as_str());
}

/// A git that never answers (a hung network filesystem, a credential prompt) costs a few
/// seconds, not the build: scantoken stops waiting and goes on without git's facts.
#[test]
fn a_git_that_hangs_is_given_up_on() {
    let dir = tempfile::tempdir().unwrap();
    let path = path_with_fake_git(dir.path(), "#!/bin/sh\nexec sleep 90\n");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("scantoken"))
        .env_clear()
        .env("PATH", path)
        .current_dir(dir.path())
        .args(["context", "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > std::time::Duration::from_secs(60) {
            let _ = child.kill();
            panic!("scantoken context still waits on a git that hangs");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(status.success());
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut stdout).unwrap();
    let ctx = &serde_json::from_str::<Value>(&stdout).unwrap()["context"];
    assert_eq!(ctx["ci"], "local");
    assert_eq!(ctx["revision"], Value::Null, "{ctx}");
}

/// What a failing git printed is not taken for an answer: a fake git that prints a commit
/// id and a branch name but exits 1 leaves the revision and branch unknown.
#[test]
fn a_failing_gits_output_is_not_believed() {
    let dir = tempfile::tempdir().unwrap();
    let path = path_with_fake_git(
        dir.path(),
        "#!/bin/sh\necho 0123456789abcdef0123456789abcdef01234567\nexit 1\n",
    );
    let env = common::pairs(&[("PATH", &path)]);
    let (code, stdout, stderr) = common::scantoken(dir.path(), &env, &["context", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let ctx = &serde_json::from_str::<Value>(&stdout).unwrap()["context"];
    assert_eq!(ctx["revision"], Value::Null, "{ctx}");
    assert_eq!(ctx["branch"], Value::Null, "{ctx}");
}

/// Azure: either sign makes a pull request build, BUILD_REASON or the pull request's id;
/// BUILD_REASON=PullRequest without the id is an error naming the missing variable, not a
/// branch build of `refs/pull/17/merge`.
#[test]
fn azure_pull_request_by_either_sign() {
    let mut env = fixture_env("azure/pr_azure_repos");
    env.retain(|(k, _)| k != "BUILD_REASON");
    let ctx = context_of(&env);
    assert_eq!(ctx["event"], "pull-request", "{ctx}");
    assert_eq!(ctx["pull_request"]["key"], "17", "{ctx}");

    let mut env = fixture_env("azure/pr_azure_repos");
    env.retain(|(k, _)| k != "SYSTEM_PULLREQUEST_PULLREQUESTID");
    let stderr = context_refused(&env);
    assert!(
        stderr.contains("SYSTEM_PULLREQUEST_PULLREQUESTID")
            && stderr.contains("is not set, but this is a pull request build"),
        "{stderr}"
    );
}

/// GitLab: a merge request from a fork is told by the project ids, or by the project paths
/// when the ids are not there; either alone is enough.
#[test]
fn gitlab_fork_by_project_ids_or_paths_alone() {
    for (dropped, kept) in [
        (
            [
                "CI_MERGE_REQUEST_PROJECT_PATH",
                "CI_MERGE_REQUEST_SOURCE_PROJECT_PATH",
            ],
            "ids",
        ),
        (
            [
                "CI_MERGE_REQUEST_PROJECT_ID",
                "CI_MERGE_REQUEST_SOURCE_PROJECT_ID",
            ],
            "paths",
        ),
    ] {
        let mut env = fixture_env("gitlab/merge_request_fork");
        env.retain(|(k, _)| !dropped.contains(&k.as_str()));
        let ctx = context_of(&env);
        assert_eq!(ctx["event"], "pull-request", "{kept}: {ctx}");
        assert_eq!(ctx["fork"], true, "by the {kept}: {ctx}");
        assert!(
            ctx["secrets_withheld"]
                .as_str()
                .is_some_and(|s| s.contains("merge request from a fork")),
            "by the {kept}: {ctx}"
        );
    }
}

/// GitLab: an external (GitHub) pull request pipeline by either sign; its source without
/// the pull request's id is an error naming the missing variable.
#[test]
fn gitlab_external_pull_request_by_either_sign() {
    let mut env = fixture_env("gitlab/external_pull_request");
    env.retain(|(k, _)| k != "CI_PIPELINE_SOURCE");
    let ctx = context_of(&env);
    assert_eq!(ctx["event"], "pull-request", "{ctx}");
    assert_eq!(ctx["pull_request"]["key"], "42", "{ctx}");

    let mut env = fixture_env("gitlab/external_pull_request");
    env.retain(|(k, _)| k != "CI_EXTERNAL_PULL_REQUEST_IID");
    let stderr = context_refused(&env);
    assert!(
        stderr.contains("CI_EXTERNAL_PULL_REQUEST_IID")
            && stderr.contains("this is an external pull request pipeline"),
        "{stderr}"
    );
}

/// GitLab: an external pull request from another GitHub repository is from a fork; the
/// same repository in another case is not.
#[test]
fn gitlab_external_pull_request_from_another_repository_is_a_fork() {
    for (source, fork) in [("contributor/payments", true), ("ACME/Payments", false)] {
        let mut env = fixture_env("gitlab/external_pull_request");
        common::set(
            &mut env,
            "CI_EXTERNAL_PULL_REQUEST_SOURCE_REPOSITORY",
            source,
        );
        let ctx = context_of(&env);
        assert_eq!(ctx["event"], "pull-request", "{ctx}");
        assert_eq!(ctx["fork"], fork, "{source}: {ctx}");
    }
}

/// A PATH whose `git` is `script`, written under `dir`.
fn path_with_fake_git(dir: &Path, script: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let bin = dir.join("bin");
    std::fs::create_dir(&bin).unwrap();
    let fake = bin.join("git");
    std::fs::write(&fake, script).unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    format!("{}:{}", bin.display(), std::env::var("PATH").unwrap())
}

/// The stderr of `context --json` in `env`, which must refuse it as bad input (exit 2).
fn context_refused(env: &[(String, String)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = common::scantoken(dir.path(), env, &["context", "--json"]);
    assert_eq!(code, 2, "{stderr}");
    stderr
}
