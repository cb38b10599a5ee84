//! A snapshot of the process environment.
//!
//! Every stage reads variables from this snapshot instead of `std::env`, so the whole
//! pipeline is a pure function of its inputs and tests can build any CI's environment
//! without touching the real one.

use std::collections::BTreeMap;

#[derive(Clone, Default)]
pub struct Env {
    vars: BTreeMap<String, String>,
}

impl Env {
    /// Snapshot of the current process. Variables whose name or value is not UTF-8 are
    /// skipped: no variable we read may legitimately hold such a value.
    pub fn from_process() -> Self {
        let vars = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        Env { vars }
    }

    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Env {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// The raw value, empty strings included.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    /// The value if it is set and not blank. CI systems routinely set a variable to the
    /// empty string when an input or secret is absent, so "empty" means "unset" for
    /// every value we read except the token (see `credential`).
    pub fn non_empty(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.trim().is_empty())
    }

    /// True when the variable equals `expected`, ignoring ASCII case (`TF_BUILD=True`).
    pub fn is(&self, name: &str, expected: &str) -> bool {
        self.get(name)
            .is_some_and(|v| v.trim().eq_ignore_ascii_case(expected))
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &String)> {
        self.vars.iter()
    }

    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.vars.insert(name.into(), value.into());
    }
}

/// Environments hold secrets: never print them.
impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Env({} variables)", self.vars.len())
    }
}
