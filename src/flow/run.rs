//! `scantoken run -- <command>`: read the scan command, check the project it will scan, then
//! start it with the exports in its environment alone.

use super::export::{prepare, Plan};
use super::Failure;
use crate::child;
use crate::env::Env;
use crate::error::{ConfigError, Outcome};
use crate::export::{self, Destinations, Format};
use crate::output::Output;
use crate::report::{self, safe};
use crate::scanner_command::{self};
use crate::scanner_config::Scanner;
use crate::settings::Settings;
use std::ffi::OsString;
use std::path::Path;

/// The command `run` starts: the words after `--`, or the `scan-command` input (the GitHub
/// Action's and the Azure task's way to give it), split as a shell splits words.
pub(super) fn scan_command(
    words: &[OsString],
    settings: &Settings,
) -> Result<Vec<OsString>, ConfigError> {
    if !words.is_empty() {
        return Ok(words.to_vec());
    }
    let Some(line) = &settings.scan_command else {
        return Err(ConfigError::new("run", "no command was given")
            .hint("write the scan command after --, e.g. scantoken run -- sonar-scanner, or set the input scan-command"));
    };
    let words = shlex::split(&line.value).filter(|w| !w.is_empty()).ok_or_else(|| {
        ConfigError::new(
            line.source.to_string(),
            // Not quoted back: a command line may carry a credential the user typed there.
            "is not a command line scantoken can split (an unclosed quote?)",
        )
        .hint("quote as in a POSIX shell: 'single', \"double\", or a backslash; variables are not expanded")
    })?;
    Ok(words.into_iter().map(OsString::from).collect())
}

/// `scantoken run -- <command>`: read the command, verify the scan it will run, then run it
/// with the exports in its environment alone.
pub fn run(
    settings: &Settings,
    words: &[OsString],
    env: &Env,
    cwd: &Path,
    out: &mut Output,
) -> Result<Outcome, Failure> {
    let argv = scan_command(words, settings)?;
    // With project-base-dir the scan starts in that directory, where the scanner reads the
    // project's files: the scan that runs is the one verified, not the working directory's.
    let scan_dir = settings
        .project_base_dir
        .as_ref()
        .filter(|_| settings.projects.is_none())
        .map(|d| cwd.join(&d.value));
    // A scanner that is not installed is found out before any probe is sent.
    if !child::program_exists(
        &argv[0],
        env.get("PATH"),
        scan_dir.as_deref().unwrap_or(cwd),
    ) {
        let program = argv[0].to_string_lossy();
        let where_ = match program.contains(['/', '\\']) {
            true => "no such executable file",
            false => "not found on PATH",
        };
        return Err(Failure::Config(
            ConfigError::new("run", format!("cannot start {}: {where_}; nothing was verified or started", safe(&program)))
                .hint("install the scanner first (sonar-scanner: the sonarsource/sonar-scanner-cli image or the SonarScanner CLI zip; npx @sonar/scan; pip install pysonar; dotnet tool install dotnet-sonarscanner), or check the command's name"),
        ));
    }
    let command = scanner_command::read_in(&argv, env, cwd)?;
    if settings.projects.is_some() {
        return super::run_set::run_projects(settings, &argv, &command, env, cwd, out);
    }
    let plan = Plan {
        format: Format::Auto,
        // The .NET scanner reads the token from SONARQUBE_SCANNER_PARAMS only; in the
        // child's own environment it goes nowhere else.
        token_in_json: command.scanner == Some(Scanner::Dotnet),
        no_verify: false,
        include_secrets: false,
        output: None,
        command: Some(&command),
        argv: Some(&argv),
    };
    let prepared = prepare(&plan, settings, env, cwd, out).map_err(|f| match f {
        // A command scantoken does not know: its arguments were not read, and the user must
        // know that before looking for a value they set there.
        Failure::Config(mut e) if command.scanner.is_none() => {
            e.problem = format!(
                "{} (the command line of {} was not read: scantoken does not know that command)",
                e.problem,
                safe(&command.name)
            );
            Failure::Config(e)
        }
        f => f,
    })?;
    let ready = match prepared {
        Ok(ready) => ready,
        Err(exit) => return Ok(exit.into()),
    };
    // On GitHub and Azure the step's outputs (verdict, project key, host) and summary are
    // written as `export` writes them, without a single variable: those go to the child.
    let ci_outputs = match ready.format {
        Format::Github => ready.dest.github_env.is_some(),
        Format::Azure => true,
        _ => false,
    };
    if ci_outputs {
        let mut outputs_only = ready.set.clone();
        outputs_only.variables.clear();
        let rendered = export::render(ready.format, &outputs_only, &ready.summary, &ready.dest)?;
        export::commit(&rendered, out.raw_stdout()).map_err(|e| {
            ConfigError::new("outputs", e.to_string())
                .hint("nothing was started: check that the files GITHUB_OUTPUT and GITHUB_STEP_SUMMARY name can be written")
        })?;
    } else {
        for w in ready
            .set
            .warnings
            .iter()
            .filter(|w| !ready.shown.contains(w))
        {
            out.say(&format!("warning: {}", report::safe_text(w)));
        }
    }
    // For later jobs (a GitLab dotenv report, Jenkins' readProperties): the exports without
    // a secret, written once the scan is verified and before it starts.
    if let Some(path) = &settings.output {
        let dest = Destinations {
            output: Some(cwd.join(path)),
            include_secrets: false,
            ..Destinations::default()
        };
        let rendered = export::render(Format::Dotenv, &ready.set, &ready.summary, &dest)?;
        export::commit(&rendered, out.raw_stdout()).map_err(|e| {
            ConfigError::new("output", e.to_string())
                .hint("nothing was started: check that the --output file can be written")
        })?;
    }
    for n in &command.notes {
        out.say(&format!("note: {}", report::safe_text(n)));
    }
    let mut child_env: Vec<(String, String)> = env
        .iter()
        .filter(|(k, _)| !ready.set.variables.iter().any(|v| v.name == k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut secrets = Vec::new();
    for v in &ready.set.variables {
        child_env.push((v.name.to_owned(), v.value.expose().to_owned()));
        if v.value.is_secret() {
            secrets.push(v.value.expose());
        }
    }
    out.say(&format!(
        "Running {} with {} (for this process alone; secrets masked in its output)",
        safe(&command.name),
        ready.set.names().join(", ")
    ));
    let launch = child::Launch {
        argv: &argv,
        env: child_env,
        secrets,
        cwd: scan_dir.as_deref(),
    };
    let (stdout, stderr) = out.raw_streams();
    match child::run(launch, stdout, stderr) {
        Ok(code) => Ok(Outcome::Child(code)),
        Err(e) => {
            let hint = if e.error.kind() == std::io::ErrorKind::NotFound {
                "check the command's name and that it is on PATH (install the scanner first)"
            } else {
                "check that the command exists and can be executed"
            };
            Err(Failure::Config(
                ConfigError::new(
                    "run",
                    format!("cannot start {}: {}", safe(&e.program), e.error),
                )
                .hint(hint),
            ))
        }
    }
}
