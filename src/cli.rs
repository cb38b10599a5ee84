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
  0  verified; or skipped by policy (--on-missing-token skip on a build the CI gives no
     secrets, --on-project-not-found skip); or unreachable or failing with --on-unreachable warn
  1  verification failed: no token, token rejected, no scan permission, wrong project or
     organization
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

/// `--token` (and `--sonar-token`, `--login`), accepted only to be refused with the way to
/// pass a token: without it, clap suggests `--token-map`, and following that prints the token
/// as a path. Hidden from `--help`; its value is never read or shown.
const TOKEN_FLAG: &str = "token-on-the-command-line";

fn token_flag() -> Arg {
    Arg::new(TOKEN_FLAG)
        .long("token")
        .aliases(["sonar-token", "login"])
        .hide(true)
        .num_args(0..=1)
        .value_parser(clap::value_parser!(OsString))
        .action(ArgAction::Append)
}

fn command() -> Command {
    let json = |help: &'static str| {
        Arg::new("json")
            .long("json")
            .action(ArgAction::SetTrue)
            .display_order(9_000)
            .help(help)
    };
    Command::new("scantoken")
        .version(env!("CARGO_PKG_VERSION"))
        .about("Hand a Sonar scan its token in CI: detect the pipeline, resolve the target, check the token, export the scanner's environment.")
        .after_help(AFTER_HELP)
        // Help wraps at the terminal's width, and at 100 columns at most (and in a log).
        .max_term_width(100)
        .subcommand_required(true)
        .arg_required_else_help(true)
        .arg(
            Arg::new("verbose")
                .short('v')
                .long("verbose")
                .global(true)
                // After the command's own options, not among them.
                .display_order(10_000)
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
                .arg(token_flag())
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
                .arg(token_flag())
                .arg(json("Print the report as JSON (verdict, probes, token source and fingerprint; never the token)")),
        )
        .subcommand(
            Command::new("export")
                // Without it, clap's error for a mistyped flag shows the usage as if the
                // suggested flag were required.
                .override_usage("scantoken export [OPTIONS]")
                .about("Verify, then write the scanner's environment (SONAR_TOKEN masked) for the steps that follow.")
                .after_help(AFTER_HELP)
                .args(options::args(OptionsCommand::Export))
                .arg(token_flag()),
        )
        .subcommand(
            Command::new("audit")
                .override_usage("scantoken audit [OPTIONS]")
                .about("Check every token against every project (a scheduled job's view of the fleet): per project, per token, per token-map rule; a table, Markdown and JSON evidence.")
                .after_help(crate::audit::AFTER_HELP)
                .args(options::args(OptionsCommand::Audit))
                .args_conflicts_with_subcommands(true)
                .subcommand(<crate::audit::MergeArgs as clap::Args>::augment_args(
                    Command::new("merge")
                        .override_usage("scantoken audit merge [OPTIONS] <FILE>...")
                        .about("Combine the JSON evidence of `audit --shard I/N` runs into one report (the same schema); refuses shards of different settings, hosts or N, duplicates, and a missing shard.")
                        .after_help(crate::audit::MERGE_AFTER_HELP),
                ))
                .arg(token_flag()),
        )
        .subcommand(
            Command::new("run")
                // Without it, clap's error for a mistyped flag shows the usage as if the
                // suggested flag were required.
                .override_usage("scantoken run [OPTIONS] [-- <COMMAND>...]")
                .about("Verify the scan a command will run (its own -D arguments included), then run it with the scanner's environment set for it alone, its output masked; exits with its code.")
                .after_help(RUN_AFTER_HELP)
                .args(options::args(OptionsCommand::Run))
                .arg(token_flag())
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
    let args: Vec<OsString> = args.into_iter().collect();
    let matches = match command().try_get_matches_from(&args) {
        Ok(m) => m,
        Err(e) => {
            let to_stderr = e.use_stderr();
            // clap quotes what it refuses: a token typed as a stray argument must not be
            // printed back.
            let text = crate::secret::redact_token_shapes(&e.render().to_string());
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
    // So is a token typed on the command line where something else goes (`--token-map
    // sqco_…`): whatever quotes that value (an error, --verbose) shows `***`. Only the
    // prefixed kinds: 40 hex digits on a command line are far more often a commit.
    for arg in &args {
        let arg = arg.to_string_lossy();
        for word in arg.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            if crate::secret::looks_like_token(word) && word.contains('_') {
                out.protect(word);
            }
        }
    }
    let (name, sub) = matches.subcommand().expect("a subcommand is required");
    if sub.try_contains_id(TOKEN_FLAG).unwrap_or(false) {
        out.error(&crate::error::ConfigError::new(
            "--token",
            "the token is never given on the command line: every process on the machine can read a command line, and CI logs and shell histories keep it (the value was not read, and is not shown)",
        )
        .hint("put the token in the variable SONAR_TOKEN (or SCANTOKEN_TOKEN; in the GitHub Action and the Azure task, the token input), e.g. SONAR_TOKEN=\"$TOKEN\" scantoken verify --project-key KEY. A token typed here may be in your shell history: consider it exposed")
        .to_string());
        return Exit::Usage.into();
    }
    if name == "audit" {
        // The audit reads its own flags and, for the options it shares with verify, the same
        // variables (src/audit).
        let result = match sub.subcommand_matches("merge") {
            Some(m) => <crate::audit::MergeArgs as clap::FromArgMatches>::from_arg_matches(m)
                .map_err(|e| crate::error::ConfigError::new("audit merge", e.to_string()))
                .and_then(|args| crate::audit::merge::run(&args, env, cwd, &mut out)),
            None => {
                crate::audit::AuditArgs::from_said(options::said(OptionsCommand::Audit, sub, env))
                    .and_then(|args| crate::audit::run(&args, env, cwd, &mut out))
            }
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
        OptionsCommand::Audit => unreachable!("audit returns before (src/audit)"),
    }
}
