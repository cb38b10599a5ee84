//! Test helpers of our own: a CONNECT proxy, running the real binary, and running the real
//! scanner bootstrappers after it.
#![allow(dead_code)]

pub mod cancel;
pub mod connect_proxy;
pub mod oidc;
pub mod scanners;
pub mod scripted;
pub mod static_server;

use std::path::Path;

/// Exit code, stdout and stderr of the real `scantoken` binary, run with exactly `env`
/// (plus PATH) in `dir`.
pub fn scantoken(dir: &Path, env: &[(String, String)], args: &[&str]) -> (i32, String, String) {
    let out = assert_cmd::Command::cargo_bin("scantoken")
        .unwrap()
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap())
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

pub fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub fn set(env: &mut Vec<(String, String)>, name: &str, value: &str) {
    env.retain(|(k, _)| k != name);
    env.push((name.into(), value.into()));
}

/// The CI fixtures (tests/fixtures/ci: one environment per case, its event payload beside).
pub fn ci_fixtures() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ci")
}

/// The environment of one CI fixture case (`github/pull_request_fork`), with the event
/// payload's real path in place of `{EVENT_PATH}`.
pub fn fixture_env(case: &str) -> Vec<(String, String)> {
    let dir = ci_fixtures();
    let env: serde_json::Map<String, serde_json::Value> = serde_json::from_str(
        &std::fs::read_to_string(dir.join(format!("{case}.env.json"))).unwrap(),
    )
    .unwrap();
    let event = dir.join(format!("{case}.event.json"));
    env.into_iter()
        .map(|(k, v)| {
            let v = v
                .as_str()
                .unwrap_or_default()
                .replace("{EVENT_PATH}", event.to_str().unwrap());
            (k, v)
        })
        .collect()
}

/// `text` without the CI's mask commands (`::add-mask::…`, `##vso[task.setsecret]…`, and an
/// Azure secret variable, which the agent masks as it sets it): the only lines that may name
/// a secret, since masking needs the value.
pub fn outside_masks(text: &str) -> String {
    text.lines()
        .filter(|l| {
            let mask = l.starts_with("::add-mask::") || l.starts_with("##vso[task.setsecret]");
            let secret_variable =
                l.starts_with("##vso[task.setvariable ") && l.contains(";issecret=true]");
            !(mask || secret_variable)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs git in `dir` as a test's author, with no system or user configuration; its
/// trimmed stdout. A failure fails the test.
pub fn git_in(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}
