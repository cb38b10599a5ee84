//! Test helpers of our own: a CONNECT proxy, and running the real binary.
#![allow(dead_code)]

pub mod connect_proxy;
pub mod oidc;
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
