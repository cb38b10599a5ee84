//! Named inputs and where each value came from.
//!
//! The same input names work everywhere (`host-url`, `project-key`, ...): as a flag on the
//! command line, as `INPUT_*` variables (the GitHub Action and the Azure task deliver inputs
//! so), and as `SCANTOKEN_*` variables for every other environment. The first of those that
//! holds a non-blank value wins; the scanner's own conventions come after (see
//! `scanner_config`).

use crate::env::Env;
use crate::error::{quote, ConfigError};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

/// Where a value came from, printed next to it so a user can find and fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Flag(String),
    Variable(String),
    ScannerJson {
        variable: String,
        key: String,
    },
    PropertiesFile {
        path: PathBuf,
        key: String,
    },
    /// Set on the scanner's own command line (`scantoken run -- pysonar -Dsonar.projectKey=x`).
    CommandLine {
        command: String,
        key: String,
    },
    /// Read from the CI's own variables or event payload.
    Ci(String),
    /// A token map rule: the map, the rule's line, the variable it names.
    TokenMap {
        map: String,
        line: u64,
        variable: String,
    },
    /// Exchanged at Vault/OpenBao: where the token was read.
    Exchange(String),
    /// Derived from another value (an official Cloud host implies its API host).
    Derived(String),
    Default,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Flag(name) => write!(f, "flag --{name}"),
            Origin::Variable(name) => write!(f, "variable {name}"),
            Origin::ScannerJson { variable, key } => write!(f, "{variable} key {key}"),
            Origin::PropertiesFile { path, key } => write!(f, "{} key {key}", path.display()),
            Origin::CommandLine { command, key } => {
                write!(f, "{key} on the {command} command line")
            }
            Origin::Ci(what) => write!(f, "{what}"),
            Origin::Derived(what) => write!(f, "derived from {what}"),
            Origin::TokenMap {
                map,
                line,
                variable,
            } => {
                // An inline map's name already says "token map in variable …".
                let map = map.strip_prefix("token map ").unwrap_or(map);
                write!(
                    f,
                    "variable {variable} (token map {map}, rule at line {line})"
                )
            }
            Origin::Exchange(what) => write!(f, "{what}"),
            Origin::Default => write!(f, "default"),
        }
    }
}

impl Serialize for Origin {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A value and its origin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sourced<T> {
    pub value: T,
    pub source: Origin,
}

impl<T> Sourced<T> {
    pub fn new(value: T, source: Origin) -> Self {
        Sourced { value, source }
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Sourced<U> {
        Sourced {
            value: f(self.value),
            source: self.source,
        }
    }
}

/// Flags given on the command line plus the environment: everything a user can say.
#[derive(Debug, Clone)]
pub struct Inputs {
    flags: BTreeMap<&'static str, String>,
    /// Flags given with a blank value (`--project-key=`, or `--project-key "$KEY"` with KEY
    /// unset): unset as values, but worth naming when the value is then missing.
    blank_flags: Vec<&'static str>,
    /// Options read as not given (see `without`).
    hidden: Vec<&'static str>,
    env: Env,
}

impl Inputs {
    pub fn new(env: Env) -> Self {
        Inputs {
            flags: BTreeMap::new(),
            blank_flags: Vec::new(),
            hidden: Vec::new(),
            env,
        }
    }

    /// Records a flag's value (blank values are ignored, as for variables, and remembered).
    pub fn with_flag(mut self, name: &'static str, value: Option<impl Into<String>>) -> Self {
        if let Some(v) = value.map(Into::into) {
            if !v.trim().is_empty() {
                self.flags.insert(name, v);
            } else {
                self.blank_flags.push(name);
            }
        }
        self
    }

    /// The same, with `name` not given at all (neither its flag nor its variables are read):
    /// for an option another command defines differently (audit's `format` is not export's).
    pub fn without(mut self, name: &'static str) -> Self {
        self.flags.remove(name);
        self.hidden.push(name);
        self
    }

    /// Whether the flag was given on the command line with a blank value.
    pub fn blank_flag(&self, name: &str) -> bool {
        self.blank_flags.contains(&name)
    }

    pub fn env(&self) -> &Env {
        &self.env
    }

    /// The variable names an input may arrive in, in precedence order.
    ///
    /// `host-url` may come as `INPUT_HOST-URL` (GitHub Node/Docker actions keep hyphens),
    /// `INPUT_HOST_URL` (our composite action maps it so), `INPUT_HOSTURL` (the Azure task's
    /// camelCase `hostUrl`, upper-cased) and `SCANTOKEN_HOST_URL`.
    pub fn variable_names(name: &str) -> Vec<String> {
        let upper = name.to_ascii_uppercase();
        let snake = upper.replace('-', "_");
        let camel = upper.replace('-', "");
        let mut names = vec![format!("INPUT_{upper}"), format!("INPUT_{snake}")];
        if camel != snake {
            names.push(format!("INPUT_{camel}"));
        }
        names.push(format!("SCANTOKEN_{snake}"));
        names.dedup();
        names
    }

    /// The first non-blank value among the flag, the `INPUT_*` and `SCANTOKEN_*` variables.
    pub fn get(&self, name: &'static str) -> Option<Sourced<String>> {
        if self.hidden.contains(&name) {
            return None;
        }
        if let Some(v) = self.flags.get(name) {
            return Some(Sourced::new(v.trim().to_owned(), Origin::Flag(name.into())));
        }
        Self::variable_names(name).into_iter().find_map(|var| {
            let v = self.env.non_empty(&var)?.trim().to_owned();
            Some(Sourced::new(v, Origin::Variable(var)))
        })
    }

    /// Like `get`, but also reports variables that are set and empty: for the token, an
    /// empty secret is evidence (a fork PR, an unmapped secret).
    pub fn empty_variables(&self, name: &str) -> Vec<String> {
        Self::variable_names(name)
            .into_iter()
            .filter(|var| self.env.get(var).is_some_and(|v| v.trim().is_empty()))
            .collect()
    }
}

/// Typed inputs: the flag if given, else the input variable parsed, with an error naming the
/// variable and the values it may take.
impl Inputs {
    fn parsed<T>(
        &self,
        flag: Option<T>,
        name: &'static str,
        parse: impl Fn(&str) -> Option<T>,
        expected: &str,
    ) -> Result<Option<T>, ConfigError> {
        if flag.is_some() {
            return Ok(flag);
        }
        let Some(v) = self.get(name) else {
            return Ok(None);
        };
        parse(&v.value).map(Some).ok_or_else(|| {
            ConfigError::new(
                v.source.to_string(),
                format!("{} is not {expected}", quote(&v.value)),
            )
        })
    }

    /// A boolean input: the flag, or `true`/`false` (`yes`/`no`, `1`/`0`) in a variable.
    pub fn boolean(&self, flag: bool, name: &'static str) -> Result<bool, ConfigError> {
        let parse = |v: &str| match v.to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" => Some(true),
            "false" | "no" | "0" => Some(false),
            _ => None,
        };
        Ok(self
            .parsed(flag.then_some(true), name, parse, "true or false")?
            .unwrap_or(false))
    }

    /// One of a clap value enum's names.
    pub fn choice<T: clap::ValueEnum + Clone>(
        &self,
        flag: Option<T>,
        name: &'static str,
    ) -> Result<Option<T>, ConfigError> {
        let names: Vec<String> = T::value_variants()
            .iter()
            .filter_map(|x| x.to_possible_value().map(|p| p.get_name().to_owned()))
            .collect();
        self.parsed(
            flag,
            name,
            |v| T::from_str(v, true).ok(),
            &format!("one of: {}", names.join(", ")),
        )
    }

    /// A whole number.
    pub fn number(
        &self,
        flag: Option<u64>,
        name: &'static str,
    ) -> Result<Option<u64>, ConfigError> {
        self.parsed(flag, name, |v| v.parse().ok(), "a whole number")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variable_names_cover_each_ci_convention() {
        assert_eq!(
            Inputs::variable_names("host-url"),
            [
                "INPUT_HOST-URL",
                "INPUT_HOST_URL",
                "INPUT_HOSTURL",
                "SCANTOKEN_HOST_URL"
            ]
        );
        assert_eq!(
            Inputs::variable_names("region"),
            ["INPUT_REGION", "SCANTOKEN_REGION"]
        );
    }

    #[test]
    fn flag_beats_input_beats_scantoken_and_blank_is_unset() {
        let env = Env::from_pairs([
            ("INPUT_PROJECT-KEY", " "),
            ("INPUT_PROJECTKEY", "from_azure"),
            ("SCANTOKEN_PROJECT_KEY", "from_scantoken"),
        ]);
        let inputs = Inputs::new(env.clone());
        let got = inputs.get("project-key").unwrap();
        assert_eq!(got.value, "from_azure");
        assert_eq!(got.source.to_string(), "variable INPUT_PROJECTKEY");
        let inputs = Inputs::new(env).with_flag("project-key", Some("from_flag"));
        assert_eq!(inputs.get("project-key").unwrap().value, "from_flag");
    }
}
