//! Arguments and exit codes, and nothing else: the arguments are made from the option table
//! (`options`), resolved once into [`Settings`], handed to the command's flow (`flow`), and
//! the outcome mapped to an exit code. Presentation switches (`--json`, `--verbose`) are
//! not options: they change what is printed, never what is checked.

use crate::env::Env;
use crate::error::{Exit, Outcome};
use crate::flow::{self, Failure};
use crate::options::{self, Command as OptionsCommand};
use crate::output::Output;
use crate::settings::Settings;
use clap::{Arg, ArgAction, ArgMatches, Command};
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};

const AFTER_HELP: &str = "\
Every option can also be given as an INPUT_<NAME> variable (the GitHub Action and the Azure
task deliver inputs so) or as SCANTOKEN_<NAME> (e.g. SCANTOKEN_PROJECT_KEY), and the
scanner's own configuration is read too: SONAR_HOST_URL, SONAR_REGION, SONAR_ORGANIZATION,
SONAR_SCANNER_JSON_PARAMS, sonar-project.properties. The token comes from INPUT_TOKEN,
SCANTOKEN_TOKEN, SONAR_TOKEN or SONAR_AUTH_TOKEN; never from the command line.

Exit codes:
  0  verified, or skipped by policy (--on-missing-token skip, --on-project-not-found skip)
  1  verification failed: no token, token rejected, no scan permission, project or organization wrong
  2  usage or configuration error, or insecure-host (the message names what to fix)
  3  server unreachable or failing after retries, or not Sonar (not-sonar: a proxy's or portal's
     page, or a SonarQube Cloud URL given as a Server host, answered in its place)
  4  internal error";

const RUN_AFTER_HELP: &str = "\
Examples:
  scantoken run -- sonar-scanner -Dsonar.projectKey=acme_payments
  scantoken run -- npx @sonar/scan
  scantoken run -- pysonar --sonar-project-key acme_payments
  scantoken run -- mvn -B verify sonar:sonar
  scantoken run -- ./gradlew sonar
  scantoken run -- dotnet sonarscanner begin /k:acme_payments /o:acme

The command's own arguments are read as that scanner reads them, so a project key, host,
organization, branch or pull request set there is what is verified. A token on the command
line is refused. An unknown command gets the environment only, with a note. A failed
verdict does not start the command and exits as `export` does (1, 2 or 3); otherwise the
exit code is the command's (128 + N when a signal N ended it). SIGINT, SIGTERM and SIGHUP
are passed on to the command.";

fn command() -> Command {
    let json = |help: &'static str| {
        Arg::new("json")
            .long("json")
            .action(ArgAction::SetTrue)
            .help(help)
    };
    Command::new("scantoken")
        .version(env!("CARGO_PKG_VERSION"))
        .about("Hand a Sonar scan its token in CI: detect the pipeline, resolve the target, check the token, export the scanner's environment.")
        .after_help(AFTER_HELP)
        .subcommand_required(true)
        .arg_required_else_help(true)
        .arg(
            Arg::new("verbose")
                .short('v')
                .long("verbose")
                .global(true)
                .action(ArgAction::SetTrue)
                .help("Print internal state for debugging (also on with RUNNER_DEBUG=1 on GitHub, SYSTEM_DEBUG=true on Azure, SCANTOKEN_DEBUG=true). Secrets stay redacted."),
        )
        .subcommand(
            Command::new("context")
                // Without it, clap's error for a mistyped flag shows the usage as if the
                // suggested flag were required.
                .override_usage("scantoken context [OPTIONS]")
                .about("Show the detected CI context and the resolved target (no network).")
                .args(options::args(OptionsCommand::Context))
                .arg(json("Print JSON instead of text")),
        )
        .subcommand(
            Command::new("verify")
                // Without it, clap's error for a mistyped flag shows the usage as if the
                // suggested flag were required.
                .override_usage("scantoken verify [OPTIONS]")
                .about("Prove the token can scan the project, without browse rights; export nothing.")
                .after_help(AFTER_HELP)
                .args(options::args(OptionsCommand::Verify))
                .arg(json("Print the report as JSON (verdict, probes, token source and fingerprint; never the token)")),
        )
        .subcommand(
            Command::new("export")
                // Without it, clap's error for a mistyped flag shows the usage as if the
                // suggested flag were required.
                .override_usage("scantoken export [OPTIONS]")
                .about("Verify, then write the scanner's environment (SONAR_TOKEN masked) for the steps that follow.")
                .after_help(AFTER_HELP)
                .args(options::args(OptionsCommand::Export)),
        )
        .subcommand(<crate::audit::AuditArgs as clap::Args>::augment_args(
            Command::new("audit")
                .override_usage("scantoken audit [OPTIONS]")
                .about("Check every token against every project (a scheduled job's view of the fleet): per project, per token, per token-map rule; a table, Markdown and JSON evidence.")
                .after_help(crate::audit::AFTER_HELP)
                .args_conflicts_with_subcommands(true)
                .subcommand(<crate::audit::MergeArgs as clap::Args>::augment_args(
                    Command::new("merge")
                        .override_usage("scantoken audit merge [OPTIONS] <FILE>...")
                        .about("Combine the JSON evidence of `audit --shard I/N` runs into one report (the same schema); refuses shards of different settings, hosts or N, duplicates, and a missing shard.")
                        .after_help(crate::audit::MERGE_AFTER_HELP),
                )),
        ))
        .subcommand(
            Command::new("run")
                // Without it, clap's error for a mistyped flag shows the usage as if the
                // suggested flag were required.
                .override_usage("scantoken run [OPTIONS] [-- <COMMAND>...]")
                .about("Verify the scan a command will run (its own -D arguments included), then run it with the scanner's environment set for it alone, its output masked; exits with its code.")
                .after_help(RUN_AFTER_HELP)
                .args(options::args(OptionsCommand::Run))
                .arg(
                    Arg::new("command")
                        .last(true)
                        .num_args(1..)
                        .value_name("COMMAND")
                        .value_parser(clap::value_parser!(OsString))
                        .help("The scan command and its arguments, after `--` [input: scan-command, split into words as a POSIX shell would, without expansions]"),
                ),
        )
}

/// Runs the program with the process's arguments and environment; returns the exit code.
pub fn main() -> i32 {
    let env = Env::from_process();
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let mut stdout = std::io::stdout().lock();
    let mut stderr = std::io::stderr().lock();
    run(std::env::args_os(), &env, &cwd, &mut stdout, &mut stderr).code()
}

/// Runs the program; every input is a parameter, so it can be driven by tests.
pub fn run(
    args: impl IntoIterator<Item = OsString>,
    env: &Env,
    cwd: &Path,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> Outcome {
    let matches = match command().try_get_matches_from(args) {
        Ok(m) => m,
        Err(e) => {
            let to_stderr = e.use_stderr();
            let text = e.render().to_string();
            let _ = if to_stderr {
                stderr.write_all(text.as_bytes())
            } else {
                stdout.write_all(text.as_bytes())
            };
            return if to_stderr { Exit::Usage } else { Exit::Ok }.into();
        }
    };
    let verbose = matches.get_flag("verbose")
        || env.is("RUNNER_DEBUG", "1")
        || env.is("SYSTEM_DEBUG", "true")
        || env.is("SCANTOKEN_DEBUG", "true");
    let mut out = Output::new(env, stdout, stderr, verbose);
    // Every value that may hold a secret is redacted from the start, before the stage that
    // reads it: an error about another input must not quote it either.
    for (name, value) in env.iter() {
        if flow::is_secret_variable(name) {
            out.protect(value);
        }
    }
    let (name, sub) = matches.subcommand().expect("a subcommand is required");
    if name == "audit" {
        // The audit reads its own flags and, for the options it shares with verify, the same
        // variables (src/audit).
        let result = match sub.subcommand_matches("merge") {
            Some(m) => <crate::audit::MergeArgs as clap::FromArgMatches>::from_arg_matches(m)
                .map_err(|e| crate::error::ConfigError::new("audit merge", e.to_string()))
                .and_then(|args| crate::audit::merge::run(&args, env, cwd, &mut out)),
            None => <crate::audit::AuditArgs as clap::FromArgMatches>::from_arg_matches(sub)
                .map_err(|e| crate::error::ConfigError::new("audit", e.to_string()))
                .and_then(|args| crate::audit::run(&args, env, cwd, &mut out)),
        };
        return match result {
            Ok(exit) => exit.into(),
            Err(e) => {
                out.error(&e.to_string());
                Exit::Usage.into()
            }
        };
    }
    // With --json, stdout is one JSON document even when an option is refused: the CI's
    // commands (an error annotation) go to stderr from the start.
    let json = sub
        .try_get_one::<bool>("json")
        .ok()
        .flatten()
        .copied()
        .unwrap_or(false);
    if json {
        out.stdout_is_data();
    }
    let which = match name {
        "context" => OptionsCommand::Context,
        "verify" => OptionsCommand::Verify,
        "export" => OptionsCommand::Export,
        _ => OptionsCommand::Run,
    };
    let result = Settings::resolve(&options::said(which, sub, env))
        .map_err(Failure::Config)
        .and_then(|settings| dispatch(which, sub, &settings, env, cwd, &mut out));
    match result {
        Ok(outcome) => outcome,
        Err(Failure::Config(e)) => {
            out.error(&e.to_string());
            Exit::Usage.into()
        }
        Err(Failure::Io(e)) => {
            out.error(&format!("cannot write the output: {e}"));
            Exit::Internal.into()
        }
    }
}

fn dispatch(
    which: OptionsCommand,
    sub: &ArgMatches,
    settings: &Settings,
    env: &Env,
    cwd: &Path,
    out: &mut Output,
) -> Result<Outcome, Failure> {
    let json = || sub.get_flag("json");
    match which {
        OptionsCommand::Context => {
            flow::context(settings, json(), env, cwd, out).map(Outcome::from)
        }
        OptionsCommand::Verify => flow::verify(settings, json(), env, cwd, out).map(Outcome::from),
        OptionsCommand::Export => flow::export(settings, env, cwd, out).map(Outcome::from),
        OptionsCommand::Run => {
            let words: Vec<OsString> = sub
                .get_many::<OsString>("command")
                .map(|w| w.cloned().collect())
                .unwrap_or_default();
            flow::run(settings, &words, env, cwd, out)
        }
    }
}
