//! Cancelling a running `scantoken run` as a CI does (a signal to scantoken alone) and
//! checking what is left: [`start`], [`wait_for_pid_file`], [`signal`], [`left_in_group`].
#![allow(dead_code)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Starts `scantoken <args>` in `dir` with exactly `env` (plus PATH), output to files there.
pub fn start(dir: &Path, env: &[(String, String)], args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_scantoken"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap())
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(dir.join("run.stdout")).unwrap())
        .stderr(std::fs::File::create(dir.join("run.stderr")).unwrap())
        .spawn()
        .unwrap()
}

/// The pid written to `file`, once it is there (the engine started), within `limit`.
pub fn wait_for_pid_file(file: &Path, limit: Duration, dir: &Path) -> i32 {
    let started = Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(file) {
            if let Ok(pid) = text.trim().parse() {
                return pid;
            }
        }
        assert!(
            started.elapsed() < limit,
            "the engine did not start within {limit:?}:\n{}",
            output(dir)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn output(dir: &Path) -> String {
    format!(
        "{}\n{}",
        std::fs::read_to_string(dir.join("run.stdout")).unwrap_or_default(),
        std::fs::read_to_string(dir.join("run.stderr")).unwrap_or_default()
    )
}

/// `kill -<name> <pid>`.
pub fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// `/proc/<pid>/stat`: (state, process group).
fn stat(pid: i32) -> Option<(char, i32)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // pid (comm) state ppid pgrp ...: comm may hold spaces, so split after its ')'.
    let rest = &text[text.rfind(')')? + 2..];
    let mut fields = rest.split(' ');
    let state = fields.next()?.chars().next()?;
    let pgrp = fields.nth(1)?.parse().ok()?;
    Some((state, pgrp))
}

/// The process group of a running process.
pub fn group_of(pid: i32) -> i32 {
    stat(pid).expect("the process is running").1
}

/// The processes still running (zombies aside) in process group `pgrp`.
pub fn left_in_group(pgrp: i32) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| matches!(stat(pid), Some((state, g)) if g == pgrp && state != 'Z'))
        .collect()
}

/// Waits for `child` within `limit`; its exit code (128 + N for a signal N) and how long.
pub fn wait(child: &mut Child, limit: Duration, dir: &Path) -> (i32, Duration) {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            use std::os::unix::process::ExitStatusExt;
            let code = status
                .code()
                .or_else(|| status.signal().map(|s| 128 + s))
                .unwrap_or(-1);
            return (code, started.elapsed());
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("scantoken still running after {limit:?}:\n{}", output(dir));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
