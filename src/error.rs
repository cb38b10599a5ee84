//! Typed errors and the exit codes they map to.
//!
//! Every user-facing error names where the bad value came from and what to do about it,
//! in the shape `error: <source>: <problem>` followed by an optional `hint:` line.

use std::fmt;

/// Exit codes, as documented in the README and `--help`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Verified, or skipped by policy.
    Ok = 0,
    /// Verification failed: token, permission, project or organization.
    VerificationFailed = 1,
    /// Usage or configuration error.
    Usage = 2,
    /// Server unreachable or failing after retries.
    Unreachable = 3,
    /// A bug or an I/O failure of our own.
    Internal = 4,
}

impl Exit {
    pub fn code(self) -> i32 {
        self as i32
    }

    /// The worse of two: the higher code (a set of projects exits with its worst verdict's).
    pub fn worse(self, other: Exit) -> Exit {
        if other.code() > self.code() {
            other
        } else {
            self
        }
    }
}

/// How the process ends: one of scantoken's own codes, or the exit code of the scan that
/// `scantoken run` started, passed through unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Exit(Exit),
    Child(i32),
}

impl Outcome {
    pub fn code(self) -> i32 {
        match self {
            Outcome::Exit(e) => e.code(),
            Outcome::Child(code) => code,
        }
    }
}

impl From<Exit> for Outcome {
    fn from(e: Exit) -> Self {
        Outcome::Exit(e)
    }
}

/// A bad input: a value, a file or a combination the user has to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Where the value came from: a flag, a variable, a file and key.
    pub source: String,
    /// What is wrong with it.
    pub problem: String,
    /// What to do about it.
    pub hint: Option<String>,
}

impl ConfigError {
    pub fn new(source: impl Into<String>, problem: impl Into<String>) -> Self {
        ConfigError {
            source: source.into(),
            problem: problem.into(),
            hint: None,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.source, self.problem)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// Shortens a value quoted back in an error, so a hostile multi-kilobyte value does not
/// flood the log, and makes control characters visible.
pub fn quote(value: &str) -> String {
    const MAX: usize = 80;
    let mut out: String = value.chars().take(MAX).collect::<String>();
    if value.chars().count() > MAX {
        out.push('…');
    }
    format!("{out:?}")
}
