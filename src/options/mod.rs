//! The options: one table ([`defs::OPTIONS`]), the command-line arguments made from it, and
//! what the user said, read once from the flags and the environment.
//!
//! Following ripgrep's `flags/`: `defs` is the table; [`said`] collects what the user said
//! (a flag, else an `INPUT_*` variable, else `SCANTOKEN_*`), keeping where each value came
//! from; `settings::Settings::resolve` turns that, once, into the typed value the flow runs
//! on. Nothing after that reads an option from the environment.

pub mod defs;

use crate::env::Env;
use crate::error::{quote, ConfigError};
use crate::inputs::{Inputs, Sourced};
use clap::{Arg, ArgAction, ArgMatches};

/// What kind of value an option takes.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Text,
    Bool,
    Number {
        min: u64,
        max: u64,
    },
    Choice(&'static [&'static str]),
    /// Text that may be given more than once on the command line (each occurrence a line).
    List,
}

/// Which commands take the option: `context` the target's, `verify` those and the
/// verification's, `export` all of them, `run` all but the export-only ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Target,
    Verify,
    Export,
    /// `export` and `run` (what is written besides the scan's own environment).
    Written,
    Run,
    /// `audit` alone (its own flags; the options it shares with verify say so with `audit`).
    Audit,
}

#[derive(Debug, Clone, Copy)]
pub struct OptionDef {
    /// kebab-case: the flag `--name`, the GitHub Action input, `SCANTOKEN_NAME`.
    pub name: &'static str,
    /// The Azure task's input (camelCase), when the task offers it.
    pub azure: Option<&'static str>,
    /// The GitHub Action offers it as an input.
    pub github: bool,
    /// It is a command-line flag (the token never is: command lines are visible to all).
    pub flag: bool,
    pub kind: Kind,
    pub default: Option<&'static str>,
    pub scope: Scope,
    /// `audit` takes it too (an option of another scope that audit shares, e.g. `host-url`).
    pub audit: bool,
    pub value_name: &'static str,
    pub help: &'static str,
}

/// The commands that take options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Context,
    Verify,
    Export,
    Run,
    Audit,
}

impl OptionDef {
    pub fn applies_to(&self, command: Command) -> bool {
        if command == Command::Audit {
            return self.scope == Scope::Audit || self.audit;
        }
        match (self.scope, command) {
            (Scope::Audit, _) => false,
            (Scope::Target, _) => true,
            (Scope::Verify, Command::Context) => false,
            (Scope::Verify, _) => true,
            (Scope::Export, c) => c == Command::Export,
            (Scope::Written, c) => c == Command::Export || c == Command::Run,
            (Scope::Run, c) => c == Command::Run,
        }
    }

    /// The `SCANTOKEN_*` variable.
    pub fn variable(&self) -> String {
        format!(
            "SCANTOKEN_{}",
            self.name.to_ascii_uppercase().replace('-', "_")
        )
    }

    /// `--help` text for a command: the help line (without what `export` and `run` do, for
    /// the commands that do neither), then where else the option can be given.
    pub fn long_help_for(&self, command: Command) -> String {
        let text = self.long_help();
        match command {
            // In audit's own help, its rows' `audit: ` (which the README's table needs) goes.
            Command::Audit => match text.strip_prefix("audit: ") {
                Some(rest) => rest[..1].to_ascii_uppercase() + &rest[1..],
                None => text,
            },
            Command::Context | Command::Verify => text
                .replace(", nothing exported or run", "")
                .replace("; export and run go on", ""),
            Command::Export | Command::Run => text,
        }
    }

    /// `--help` text: the help line, then where else the option can be given.
    pub fn long_help(&self) -> String {
        // audit's own options are no input of the action's or the task's.
        let mut text = match self.scope {
            Scope::Audit => format!("{} [", self.help),
            _ => format!("{} [input: {}", self.help, self.name),
        };
        if let Some(default) = self.default {
            if !text.ends_with('[') {
                text.push_str("; ");
            }
            text.push_str(&format!("default: {default}"));
        }
        if !text.ends_with('[') {
            text.push_str("; ");
        }
        text.push_str(&format!("variable {}]", self.variable()));
        text
    }
}

pub fn all() -> &'static [OptionDef] {
    defs::OPTIONS
}

/// The first definition of `name`: the one verify, export and run use (a name may be defined
/// again for `audit`, which no other command takes, e.g. `format`).
pub fn find(name: &str) -> Option<&'static OptionDef> {
    defs::OPTIONS.iter().find(|d| d.name == name)
}

/// The definition of `name` that `command` takes.
pub fn find_for(command: Command, name: &str) -> Option<&'static OptionDef> {
    defs::OPTIONS
        .iter()
        .find(|d| d.name == name && d.applies_to(command))
}

/// The clap arguments of one command, made from the table.
pub fn args(command: Command) -> Vec<Arg> {
    defs::OPTIONS
        .iter()
        .filter(|d| d.flag && d.applies_to(command))
        .map(|d| {
            let arg = Arg::new(d.name).long(d.name).help(d.long_help_for(command));
            match d.kind {
                Kind::Bool => arg.action(ArgAction::SetTrue),
                Kind::Choice(choices) => arg
                    .value_name(d.value_name)
                    .value_parser(clap::builder::PossibleValuesParser::new(choices)),
                Kind::List => arg.value_name(d.value_name).action(ArgAction::Append),
                Kind::Text | Kind::Number { .. } => arg.value_name(d.value_name),
            }
        })
        .collect()
}

/// What the user said for the command: the flags from `matches`, then the environment's
/// `INPUT_*` and `SCANTOKEN_*` variables (see [`Inputs`]).
pub fn said(command: Command, matches: &ArgMatches, env: &Env) -> Inputs {
    let mut inputs = Inputs::new(env.clone());
    for d in defs::OPTIONS
        .iter()
        .filter(|d| d.flag && d.applies_to(command))
    {
        let value = match d.kind {
            Kind::Bool => matches.get_flag(d.name).then(|| "true".to_owned()),
            Kind::List => matches
                .get_many::<String>(d.name)
                .map(|values| values.cloned().collect::<Vec<_>>().join("\n")),
            _ => matches.get_one::<String>(d.name).cloned(),
        };
        inputs = inputs.with_flag(d.name, value);
    }
    inputs
}

/// The value `command` was given for `name`, checked against its definition: a choice in
/// its own spelling, a number within its range, a boolean as `true` or `false`. An error names
/// where the value came from (the flag or the variable). `None`: not given.
pub fn checked(
    command: Command,
    said: &Inputs,
    name: &'static str,
) -> Result<Option<Sourced<String>>, ConfigError> {
    let def = find_for(command, name).expect("an option of the command");
    let Some(v) = said.get(name) else {
        return Ok(None);
    };
    let refuse = |why: String| ConfigError::new(v.source.to_string(), why);
    let value = match def.kind {
        Kind::Text | Kind::List => v.value.clone(),
        Kind::Choice(choices) => choices
            .iter()
            .find(|c| c.eq_ignore_ascii_case(&v.value))
            .map(|c| (*c).to_owned())
            .ok_or_else(|| {
                refuse(format!(
                    "{} is not one of: {}",
                    quote(&v.value),
                    choices.join(", ")
                ))
            })?,
        Kind::Bool => match v.value.to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" => "true".to_owned(),
            "false" | "no" | "0" => "false".to_owned(),
            _ => return Err(refuse(format!("{} is not true or false", quote(&v.value)))),
        },
        Kind::Number { min, max } => {
            let n: u64 = v
                .value
                .parse()
                .map_err(|_| refuse(format!("{} is not a whole number", quote(&v.value))))?;
            if !(min..=max).contains(&n) {
                return Err(refuse(format!("{n} is outside {min} to {max}")));
            }
            n.to_string()
        }
    };
    Ok(Some(Sourced::new(value, v.source)))
}

/// The README's option table, made from the definitions (a test keeps the README equal).
pub fn markdown_table() -> String {
    let mut out = String::from(
        "| option (flag, GitHub input) | Azure task input | variable | default | what it does |\n|---|---|---|---|---|\n",
    );
    for d in defs::OPTIONS {
        let flag = match (d.flag, d.name) {
            (true, name) => format!("`--{name}`"),
            (false, "scan-command") => "`run -- <command>`".into(),
            (false, _) => "(no flag)".into(),
        };
        let github = if d.github { "" } else { " (not in the action)" };
        out.push_str(&format!(
            "| {flag}{github} | {} | `{}` | {} | {} |\n",
            d.azure
                .map(|a| format!("`{a}`"))
                .unwrap_or_else(|| "—".into()),
            d.variable(),
            d.default
                .map(|v| format!("`{v}`"))
                .unwrap_or_else(|| "—".into()),
            d.help.replace('|', "\\|"),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_kebab_case_and_azure_names_match_them() {
        let commands = [
            Command::Context,
            Command::Verify,
            Command::Export,
            Command::Run,
            Command::Audit,
        ];
        let mut seen = std::collections::BTreeSet::new();
        for d in defs::OPTIONS {
            // A name is defined twice only for two sets of commands that do not meet.
            for c in commands.iter().filter(|c| d.applies_to(**c)) {
                assert!(seen.insert((d.name, format!("{c:?}"))), "{} twice", d.name);
            }
            if d.scope == Scope::Audit {
                // audit is not what the action and the task run.
                assert!(!d.github && d.azure.is_none(), "{}", d.name);
            }
            assert!(
                d.name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{}",
                d.name
            );
            if let Some(azure) = d.azure {
                // The agent delivers `fooBar` as INPUT_FOOBAR, which Inputs reads for foo-bar.
                assert_eq!(
                    azure.to_ascii_uppercase(),
                    d.name.to_ascii_uppercase().replace('-', ""),
                    "{}",
                    d.name
                );
            }
            if let (Kind::Choice(choices), Some(default)) = (d.kind, d.default) {
                assert!(choices.contains(&default), "{}", d.name);
            }
        }
    }

    #[test]
    fn audits_defaults_are_the_ones_it_runs_on() {
        for (name, value) in [
            ("concurrency", crate::audit::DEFAULT_CONCURRENCY),
            ("deadline", crate::audit::DEFAULT_DEADLINE_SECS),
            (
                "expiry-warning-days",
                crate::audit::DEFAULT_EXPIRY_WARNING_DAYS,
            ),
        ] {
            let d = find_for(Command::Audit, name).unwrap();
            assert_eq!(d.default, Some(value.to_string().as_str()), "{name}");
        }
    }
}
