//! The options: one table ([`defs::OPTIONS`]), the command-line arguments made from it, and
//! what the user said, read once from the flags and the environment.
//!
//! Following ripgrep's `flags/`: `defs` is the table; [`said`] collects what the user said
//! (a flag, else an `INPUT_*` variable, else `SCANTOKEN_*`), keeping where each value came
//! from; `settings::Settings::resolve` turns that, once, into the typed value the flow runs
//! on. Nothing after that reads an option from the environment.

pub mod defs;

use crate::env::Env;
use crate::inputs::Inputs;
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
}

impl OptionDef {
    pub fn applies_to(&self, command: Command) -> bool {
        match (self.scope, command) {
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
            Command::Context | Command::Verify => text
                .replace(", nothing exported or run", "")
                .replace("; export and run go on", ""),
            Command::Export | Command::Run => text,
        }
    }

    /// `--help` text: the help line, then where else the option can be given.
    pub fn long_help(&self) -> String {
        let mut text = format!("{} [input: {}", self.help, self.name);
        if let Some(default) = self.default {
            text.push_str(&format!("; default: {default}"));
        }
        text.push_str(&format!("; variable {}]", self.variable()));
        text
    }
}

pub fn all() -> &'static [OptionDef] {
    defs::OPTIONS
}

pub fn find(name: &str) -> Option<&'static OptionDef> {
    defs::OPTIONS.iter().find(|d| d.name == name)
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
        let mut seen = std::collections::BTreeSet::new();
        for d in defs::OPTIONS {
            assert!(seen.insert(d.name), "{} twice", d.name);
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
}
