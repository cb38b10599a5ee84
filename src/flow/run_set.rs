//! `scantoken run --projects … -- <command>`: every project verified in one wave, then the
//! scan command started once per project whose verdict lets it scan, in that project's
//! directory, with that project's exports in that child's environment alone.
//!
//! Scans run one at a time by default, each one's output passed through as it comes; with
//! `--jobs N` up to N at once, each one's output kept whole and printed when it ends (under
//! a header naming the project), so projects never interleave. `--fail-fast` starts no
//! further scan once one fails. The exit code is 0 only when every project was verified and
//! every scan exited 0; else the first failing scan's code (in the projects' order), else the
//! worst verdict's.

use super::project::{check_projects, projects, Checked, Project};
use super::verify::project_row;
use super::{Failure, Policies};
use crate::child;
use crate::env::Env;
use crate::error::{ConfigError, Exit, Outcome};
use crate::export::{self, ExportOptions};
use crate::output::Output;
use crate::report::{self, safe};
use crate::scanner_command::ScannerCommand;
use crate::scanner_config::Scanner;
use crate::settings::Settings;
use crate::sonar::VerdictKind;
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// One scan to start: the project's directory, its key, and the child's environment.
struct Launch {
    dir: String,
    key: String,
    path: PathBuf,
    env: Vec<(String, String)>,
    secrets: Vec<String>,
}

pub(super) fn run_projects(
    settings: &Settings,
    argv: &[OsString],
    command: &ScannerCommand,
    env: &Env,
    cwd: &Path,
    out: &mut Output,
) -> Result<Outcome, Failure> {
    let projects = projects(settings, env, cwd, Some((command, argv)))?;
    let checked = check_projects(settings, &projects, env, cwd, false, out)?;
    let ctx = &projects[0].stages.ctx;
    let policies = Policies::of(settings, ctx);
    out.say(&report::context_text(
        ctx,
        &projects[0].stages.trust.decision,
    ));
    let rows: Vec<[String; 5]> = projects
        .iter()
        .zip(&checked)
        .map(|(p, c)| project_row(p, c, c.verdict.as_ref().expect("run verifies")))
        .collect();
    out.report(&report::projects_table(&rows))?;
    super::publish_summary(env, ctx.ci, &report::projects_markdown(&rows), false, out);

    let mut worst = Exit::Ok;
    let mut launches = Vec::new();
    for (p, c) in projects.iter().zip(&checked) {
        let v = c.verdict.as_ref().expect("run verifies");
        let code = policies.exit(v);
        worst = worst.worse(code);
        let exportable =
            v.verdict == VerdictKind::Ok || (policies.warn_only(v) && c.credential.is_some());
        let dir = p
            .dir
            .as_ref()
            .map(|d| d.dir.clone())
            .unwrap_or_else(|| ".".into());
        if !exportable {
            out.report(&format!(
                "not started: {} ({}): {}",
                safe(&dir),
                v.verdict.name(),
                report::safe_text(&v.cause)
            ))?;
            if code != Exit::Ok {
                out.annotate(
                    "error",
                    &format!("{dir}: {}: {}", v.verdict.name(), v.cause),
                );
            }
            continue;
        }
        launches.push(launch_of(p, c, command, env, cwd)?);
    }
    for n in &command.notes {
        out.say(&format!("note: {}", report::safe_text(n)));
    }
    let codes = start_all(&launches, argv, settings, out)?;
    // The first failing scan, in the projects' order; else the worst verdict.
    let failed = launches
        .iter()
        .zip(&codes)
        .find(|(_, code)| code.is_some_and(|c| c != 0));
    for (l, _) in launches.iter().zip(&codes).filter(|(_, c)| c.is_none()) {
        out.report(&format!(
            "not started: {} ({}): --fail-fast, after a scan failed",
            safe(&l.dir),
            safe(&l.key)
        ))?;
    }
    Ok(match failed {
        Some((l, code)) => {
            let code = code.expect("a failed scan ran");
            out.annotate(
                "error",
                &format!("the scan of {} ({}) exited {code}", l.dir, l.key),
            );
            Outcome::Child(code)
        }
        None => worst.into(),
    })
}

/// A verified project's scan: its exports (the token among them) in the child's environment.
fn launch_of(
    p: &Project,
    c: &Checked,
    command: &ScannerCommand,
    env: &Env,
    cwd: &Path,
) -> Result<Launch, Failure> {
    let credential = c.credential.as_ref().ok_or_else(|| {
        ConfigError::new("run", "internal error: a verdict that exports has no token")
    })?;
    let options = ExportOptions {
        // The .NET scanner reads the token from SONARQUBE_SCANNER_PARAMS only.
        token_in_json: command.scanner == Some(Scanner::Dotnet),
    };
    let set = export::build(
        &p.stages.ctx,
        &c.target,
        Some(&credential.token),
        &p.stages.scanner,
        options,
    )?;
    let mut child_env: Vec<(String, String)> = env
        .iter()
        .filter(|(k, _)| !set.variables.iter().any(|v| v.name == k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut secrets = Vec::new();
    for v in &set.variables {
        child_env.push((v.name.to_owned(), v.value.expose().to_owned()));
        if v.value.is_secret() {
            secrets.push(v.value.expose().to_owned());
        }
    }
    let dir = p
        .dir
        .as_ref()
        .map(|d| d.dir.clone())
        .unwrap_or_else(|| ".".into());
    Ok(Launch {
        path: p
            .dir
            .as_ref()
            .map(|d| d.path(cwd))
            .unwrap_or_else(|| cwd.to_path_buf()),
        dir,
        key: c
            .target
            .project_key
            .as_ref()
            .map(|k| k.value.clone())
            .unwrap_or_default(),
        env: child_env,
        secrets,
    })
}

fn header(l: &Launch, argv: &[OsString]) -> String {
    format!(
        "── {} ({}): {} ──\n",
        report::safe(&l.dir),
        report::safe(&l.key),
        report::safe(&argv[0].to_string_lossy())
    )
}

/// Starts the scans, at most `jobs` at once; each one's exit code, `None` for a scan
/// `--fail-fast` did not start.
fn start_all(
    launches: &[Launch],
    argv: &[OsString],
    settings: &Settings,
    out: &mut Output,
) -> Result<Vec<Option<i32>>, Failure> {
    let jobs = (settings.jobs as usize).clamp(1, launches.len().max(1));
    let stop = AtomicBool::new(false);
    let mut codes: Vec<Option<i32>> = vec![None; launches.len()];
    if jobs == 1 {
        for (i, l) in launches.iter().enumerate() {
            if stop.load(Ordering::SeqCst) {
                break;
            }
            let (stdout, stderr) = out.raw_streams();
            let _ = stdout.write_all(header(l, argv).as_bytes());
            let code = start(l, argv, stdout, stderr)?;
            codes[i] = Some(code);
            if code != 0 && settings.fail_fast {
                stop.store(true, Ordering::SeqCst);
            }
        }
        return Ok(codes);
    }
    let next = AtomicUsize::new(0);
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::scope(|scope| -> Result<(), Failure> {
        for _ in 0..jobs {
            let sender = sender.clone();
            let (next, stop) = (&next, &stop);
            scope.spawn(move || loop {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(l) = launches.get(i) else { break };
                let (mut o, mut e) = (Vec::new(), Vec::new());
                let result = start(l, argv, &mut o, &mut e);
                if matches!(result, Ok(code) if code != 0) && settings.fail_fast {
                    stop.store(true, Ordering::SeqCst);
                }
                if sender.send((i, result, o, e)).is_err() {
                    break;
                }
            });
        }
        drop(sender);
        // Each scan's output whole, as it ends.
        let mut failure = None;
        for (i, result, o, e) in receiver {
            let (stdout, stderr) = out.raw_streams();
            let _ = stdout.write_all(header(&launches[i], argv).as_bytes());
            let _ = stdout.write_all(&o);
            let _ = stderr.write_all(&e);
            match result {
                Ok(code) => codes[i] = Some(code),
                Err(f) => {
                    stop.store(true, Ordering::SeqCst);
                    failure.get_or_insert(f);
                }
            }
        }
        match failure {
            Some(f) => Err(f),
            None => Ok(()),
        }
    })?;
    Ok(codes)
}

/// One scan, in its project's directory; a command that cannot be started is exit 2.
fn start(
    l: &Launch,
    argv: &[OsString],
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> Result<i32, Failure> {
    let launch = child::Launch {
        argv,
        env: l.env.clone(),
        secrets: l.secrets.iter().map(String::as_str).collect(),
        cwd: Some(&l.path),
    };
    child::run(launch, stdout, stderr).map_err(|e| {
        Failure::Config(
            ConfigError::new(
                "run",
                format!(
                    "cannot start {} in {}: {}",
                    safe(&e.program),
                    safe(&l.dir),
                    e.error
                ),
            )
            .hint(
                "check that the command exists and can be executed from each project's directory",
            ),
        )
    })
}
