//! The one way out for everything scantoken prints for people: messages on stderr, reports
//! and JSON on stdout, the CI's annotations, and the masking of secrets.
//!
//! A CI reads a step's output for commands: the Azure agent acts on `##vso[` anywhere in any
//! line of stdout or stderr, the GitHub runner on a line that starts with `::` (and on the old
//! `##[` form). Values in our messages come from outside (a committed properties file, a
//! token map pattern, a server's or Vault's error), so every line printed here is made inert
//! and has every known secret replaced by `***`, in one place that nothing human-readable
//! bypasses. Secrets are registered the moment they exist ([`Output::mask`]), which also
//! tells the CI to mask them, before any line that could echo them.
//!
//! Two things are written past this filter on purpose, through [`Output::raw_stdout`]: the
//! export writers' output (`export NAME='…'` lines and the CI's own commands, which carry the
//! token by design and do their own escaping) and the relayed output of `scantoken run`'s
//! child (masked by `child::Masker`).

use crate::ci::CiKind;
use crate::env::Env;
use crate::export;
use crate::sonar::Verdict;
use std::io::Write;

pub struct Output<'a> {
    ci: Option<CiKind>,
    stdout: &'a mut dyn Write,
    stderr: &'a mut dyn Write,
    verbose: bool,
    /// Every secret seen so far, each line of a multi-line one apart.
    secrets: Vec<String>,
    /// A prepared search for each of `secrets` and each of their JSON-escaped forms: most
    /// texts hold none, and then they are left as they are (see [`Output::has_secret`]).
    secret_finders: Vec<memchr::memmem::Finder<'static>>,
    /// The lines the CI was already told to mask.
    masked: Vec<String>,
    /// stdout carries data (one JSON document, `export` lines to `eval`, a dotenv file):
    /// the CI's commands go to stderr, which the runner and the agent read as well.
    stdout_is_data: bool,
}

impl<'a> Output<'a> {
    pub fn new(
        env: &Env,
        stdout: &'a mut dyn Write,
        stderr: &'a mut dyn Write,
        verbose: bool,
    ) -> Output<'a> {
        // The CI whose command syntax our lines could be mistaken for. Both are neutralised
        // whatever the CI; this only decides the annotation and mask syntax.
        let ci = if env.is("GITHUB_ACTIONS", "true") {
            Some(CiKind::Github)
        } else if env.is("TF_BUILD", "true") {
            Some(CiKind::Azure)
        } else {
            None
        };
        Output {
            ci,
            stdout,
            stderr,
            verbose,
            secrets: Vec::new(),
            secret_finders: Vec::new(),
            masked: Vec::new(),
            stdout_is_data: false,
        }
    }

    /// From now on stdout carries nothing but data (a JSON document, shell exports).
    pub fn stdout_is_data(&mut self) {
        self.stdout_is_data = true;
    }

    /// Where a CI command line goes.
    fn commands(&mut self) -> &mut dyn Write {
        if self.stdout_is_data {
            self.stderr
        } else {
            self.stdout
        }
    }

    /// A message for people, on stderr.
    pub fn say(&mut self, text: &str) {
        let cleaned = self.clean(text);
        let _ = self.stderr.write_all(cleaned.as_bytes());
    }

    /// A report on stdout (`verify`'s verdict, `context`): inert and redacted as `say`.
    pub fn report(&mut self, text: &str) -> std::io::Result<()> {
        let cleaned = self.clean(text);
        self.stdout.write_all(cleaned.as_bytes())
    }

    /// A JSON document on stdout: secrets redacted, and a command marker inside a string
    /// written with a JSON escape (`##vso\u005b`), which reads back as the same value.
    pub fn json(&mut self, value: &serde_json::Value) -> std::io::Result<()> {
        let text = self.json_text(value);
        writeln!(self.stdout, "{text}")
    }

    /// The JSON document [`Output::json`] prints, for a file (`audit --json-file`): the same
    /// redaction and escapes, since such files are attached and shown too.
    pub fn json_text<T: serde::Serialize + ?Sized>(&self, value: &T) -> String {
        // A Value, or a struct of strings, numbers, options and lists: nothing that can fail.
        let mut text = serde_json::to_string_pretty(value).expect("a JSON value serializes");
        if self.has_secret(&text) {
            for secret in &self.secrets {
                text = text.replace(secret.as_str(), "***");
                text = text.replace(&json_escaped(secret), "***");
            }
        }
        if text.contains("##") {
            text = text
                .replace("##vso[", "##vso\\u005b")
                .replace("##[", "##\\u005b");
        }
        text
    }

    /// Whether `text` holds any known secret, plainly or JSON-escaped. Only a quick test:
    /// where it says yes, the redaction replaces each secret in turn, longest first, as it
    /// always did.
    fn has_secret(&self, text: &str) -> bool {
        self.secret_finders
            .iter()
            .any(|f| f.find(text.as_bytes()).is_some())
    }

    /// Where the export writers and the child's relayed output go: not filtered here.
    pub fn raw_stdout(&mut self) -> &mut dyn Write {
        self.stdout
    }

    /// Both streams, unfiltered, for the child `scantoken run` starts (its own masker runs).
    pub fn raw_streams(&mut self) -> (&mut dyn Write, &mut dyn Write) {
        (self.stdout, self.stderr)
    }

    /// The CI's annotation for `text` (GitHub `::error`, Azure `task.logissue`).
    pub fn annotate(&mut self, level: &str, text: &str) {
        let text = self.redact(text).replace("##vso[", "##vso␣[");
        let line = match self.ci {
            Some(CiKind::Github) => format!(
                "::{level} title=scantoken::{}\n",
                export::github::escape_data(&text)
            ),
            Some(CiKind::Azure) => {
                let kind = if level == "error" { "error" } else { "warning" };
                format!(
                    "##vso[task.logissue type={kind}]{}\n",
                    export::azure::escape_data(&text)
                )
            }
            _ => return,
        };
        let _ = self.commands().write_all(line.as_bytes());
    }

    /// Registers a secret the moment it exists: redacted from every later line, and
    /// masked by the CI (GitHub `::add-mask::`, Azure `task.setsecret`) for every other
    /// step's output too. Each line of a multi-line secret is masked on its own, as the
    /// GitHub runner requires.
    pub fn mask(&mut self, secret: &str) {
        self.protect(secret);
        for line in secret.lines().map(str::trim).filter(|l| !l.is_empty()) {
            if self.masked.iter().any(|s| s == line) {
                continue;
            }
            self.masked.push(line.to_owned());
            let command = match self.ci {
                Some(CiKind::Github) => {
                    format!("::add-mask::{}\n", export::github::escape_data(line))
                }
                Some(CiKind::Azure) => format!(
                    "##vso[task.setsecret]{}\n",
                    export::azure::escape_data(line)
                ),
                _ => continue,
            };
            let _ = self.commands().write_all(command.as_bytes());
        }
    }

    /// `text` (a writer's stdout) without the GitHub `::add-mask::` lines for values
    /// [`Output::mask`] has already masked: the runner needs each once, and a reader of the
    /// log wonders why it is there twice.
    pub fn without_repeated_masks(&self, text: &str) -> String {
        // Outside a GitHub job `mask` printed nothing (a `--format github` test run).
        if self.ci != Some(CiKind::Github) {
            return text.to_owned();
        }
        text.split_inclusive('\n')
            .filter(|line| {
                let Some(value) = line.trim_end_matches('\n').strip_prefix("::add-mask::") else {
                    return true;
                };
                !self
                    .masked
                    .iter()
                    .any(|m| export::github::escape_data(m) == value)
            })
            .collect()
    }

    /// Registers a value to redact without telling the CI (yet): a token found in the
    /// environment before it is chosen, so that even a configuration error that quotes it
    /// (a token pasted into the wrong input) does not print it.
    pub fn protect(&mut self, secret: &str) {
        for line in secret.lines().map(str::trim).filter(|l| !l.is_empty()) {
            if !self.secrets.iter().any(|s| s == line) {
                self.secrets.push(line.to_owned());
                // Longest first: a secret that contains another is redacted whole.
                self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
            }
        }
        let mut patterns: Vec<String> = Vec::new();
        for s in &self.secrets {
            for form in [s.clone(), json_escaped(s)] {
                if !patterns.contains(&form) {
                    patterns.push(form);
                }
            }
        }
        self.secret_finders = patterns
            .iter()
            .map(|p| memchr::memmem::Finder::new(p.as_bytes()).into_owned())
            .collect();
    }

    /// With --verbose, a value's `Debug` form: every type that holds a secret redacts it,
    /// and the line filter redacts anything that slipped through.
    pub fn debug(&mut self, label: &str, value: &dyn std::fmt::Debug) {
        if self.verbose {
            let text = format!("debug: {label}: {value:#?}");
            self.say(&text);
        }
    }

    pub fn error(&mut self, text: &str) {
        self.say(&format!("error: {text}"));
        self.annotate("error", text);
    }

    pub fn notice(&mut self, text: &str) {
        self.say(&format!("notice: {text}"));
        self.annotate("notice", text);
    }

    /// `text` with every known secret replaced by `***`.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        if !self.has_secret(text) {
            return out;
        }
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), "***");
            }
        }
        out
    }

    /// A verdict with every known secret taken out of what came from outside (a server
    /// message echoing the token, a Vault error), before it is printed, summarised or
    /// written anywhere.
    pub fn redact_verdict(&self, v: &mut Verdict) {
        let r = |s: &mut String| *s = self.redact(s);
        r(&mut v.cause);
        r(&mut v.next_step);
        v.warnings.iter_mut().for_each(r);
        for p in &mut v.probes {
            r(&mut p.url);
            p.message.iter_mut().for_each(r);
            p.error.iter_mut().for_each(r);
            p.retries.iter_mut().for_each(r);
        }
    }

    /// Each line of `text`, redacted and made inert, ending in a newline.
    fn clean(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len() + 1);
        for line in self.redact(text).split('\n') {
            out.push_str(&inert_line(line));
            out.push('\n');
        }
        if text.ends_with('\n') {
            out.pop();
        }
        out
    }
}

/// One line no CI reads as a command: control characters shown escaped, `##vso[` and `##[`
/// broken up wherever they are, and a leading `::` (after blanks) broken up.
/// `secret` as it appears inside a JSON string (without the quotes).
fn json_escaped(secret: &str) -> String {
    let quoted = serde_json::to_string(secret).expect("a string serializes");
    quoted[1..quoted.len() - 1].to_owned()
}

pub fn inert_line(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    for c in line.chars() {
        if c.is_control() && c != '\t' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    let mut out = out.replace("##vso[", "##vso␣[").replace("##[", "##␣[");
    let blanks = out.len() - out.trim_start().len();
    if out[blanks..].starts_with("::") {
        out.insert(blanks + 1, '\u{200b}');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_is_inert_and_redacted() {
        let mut stdout = Vec::new();
        let mut stderr = Vec::new();
        let env = Env::from_pairs([("TF_BUILD", "True")]);
        let mut out = Output::new(&env, &mut stdout, &mut stderr, false);
        out.mask("sqp_SECRET");
        out.say("a ##vso[task.setvariable variable=X]y\n  ::error::z\rw sqp_SECRET\n##[error]v");
        drop(out);
        let stderr = String::from_utf8(stderr).unwrap();
        assert_eq!(
            stderr,
            "a ##vso␣[task.setvariable variable=X]y\n  :\u{200b}:error::z\\rw ***\n##␣[error]v\n"
        );
        assert_eq!(
            String::from_utf8(stdout).unwrap(),
            "##vso[task.setsecret]sqp_SECRET\n"
        );
    }

    #[test]
    fn json_stays_json_and_reads_back_the_same() {
        let mut stdout = Vec::new();
        let mut stderr = Vec::new();
        let mut out = Output::new(&Env::default(), &mut stdout, &mut stderr, false);
        out.mask("tok\"en");
        let value = serde_json::json!({"m": "##vso[task.complete]x tok\"en ::error::y"});
        out.json(&value).unwrap();
        drop(out);
        let text = String::from_utf8(stdout).unwrap();
        assert!(!text.contains("##vso[") && !text.contains("tok"), "{text}");
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back["m"], "##vso[task.complete]x *** ::error::y");
    }

    /// Runs `f` on an Output for `env`, and returns (stdout, stderr).
    fn printed(
        env: &[(&str, &str)],
        verbose: bool,
        f: impl FnOnce(&mut Output),
    ) -> (String, String) {
        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        let env = Env::from_pairs(env.iter().copied());
        let mut out = Output::new(&env, &mut stdout, &mut stderr, verbose);
        f(&mut out);
        drop(out);
        (
            String::from_utf8(stdout).unwrap(),
            String::from_utf8(stderr).unwrap(),
        )
    }

    #[test]
    fn annotations_in_each_cis_syntax_and_level() {
        let (stdout, stderr) = printed(&[("TF_BUILD", "True")], false, |out| {
            out.error("bad");
            out.notice("fyi");
        });
        assert_eq!(
            stdout,
            "##vso[task.logissue type=error]bad\n##vso[task.logissue type=warning]fyi\n"
        );
        assert_eq!(stderr, "error: bad\nnotice: fyi\n");
        let (stdout, _) = printed(&[("GITHUB_ACTIONS", "true")], false, |out| {
            out.notice("fyi");
            out.error("bad");
        });
        assert_eq!(
            stdout,
            "::notice title=scantoken::fyi\n::error title=scantoken::bad\n"
        );
        // Elsewhere, no annotation at all.
        let (stdout, stderr) = printed(&[], false, |out| out.error("bad"));
        assert_eq!((stdout.as_str(), stderr.as_str()), ("", "error: bad\n"));
    }

    #[test]
    fn when_stdout_carries_data_the_cis_commands_go_to_stderr() {
        let (stdout, stderr) = printed(&[("GITHUB_ACTIONS", "true")], false, |out| {
            out.stdout_is_data();
            out.mask("sqp_SECRET");
            out.error("bad");
        });
        assert_eq!(stdout, "");
        assert_eq!(
            stderr,
            "::add-mask::sqp_SECRET\nerror: bad\n::error title=scantoken::bad\n"
        );
    }

    /// The one-pass test only decides whether to redact: a secret found plainly, JSON-escaped,
    /// or inside a longer one is still redacted whole, and a text without one is unchanged.
    #[test]
    fn the_quick_secret_test_misses_no_form_of_a_secret() {
        let mut stdout = Vec::new();
        let mut stderr = Vec::new();
        let mut out = Output::new(&Env::default(), &mut stdout, &mut stderr, false);
        assert_eq!(out.redact("no secret known yet"), "no secret known yet");
        out.protect("sq\\p_A\"B");
        out.protect("sqp_LONGER_sqp_X");
        out.protect("sqp_X");
        for (text, want) in [
            ("a sq\\p_A\"B b", "a *** b"),
            ("sqp_LONGER_sqp_X and sqp_X", "*** and ***"),
            ("plain text, ## and [", "plain text, ## and ["),
        ] {
            assert_eq!(out.redact(text), want, "{text}");
        }
        let escaped = serde_json::json!({"m": "x sq\\p_A\"B y", "n": "sqp_X"});
        let text = out.json_text(&escaped);
        assert!(!text.contains("p_A") && !text.contains("sqp_X"), "{text}");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&text).unwrap(),
            serde_json::json!({"m": "x *** y", "n": "***"})
        );
    }

    #[test]
    fn every_secret_is_masked_once_and_redacted_everywhere() {
        let (stdout, stderr) = printed(&[("GITHUB_ACTIONS", "true")], false, |out| {
            out.protect("sqp_EARLY");
            out.mask("sqp_FIRST");
            out.mask("line one\n\n  line two  \n");
            out.mask("sqp_FIRST");
            out.mask("sqp_SECOND");
            out.say("sqp_EARLY sqp_FIRST line one line two sqp_SECOND");
        });
        assert_eq!(
            stdout,
            "::add-mask::sqp_FIRST\n::add-mask::line one\n::add-mask::line two\n::add-mask::sqp_SECOND\n"
        );
        assert_eq!(stderr, "*** *** *** *** ***\n");
    }

    #[test]
    fn debug_prints_only_when_verbose_and_redacted() {
        let value = vec!["sqp_SECRET", "plain"];
        let (_, stderr) = printed(&[], true, |out| {
            out.protect("sqp_SECRET");
            out.debug("the value", &value);
        });
        assert!(stderr.starts_with("debug: the value: ["), "{stderr}");
        assert!(
            stderr.contains("\"plain\"") && stderr.contains("***"),
            "{stderr}"
        );
        assert!(!stderr.contains("SECRET"), "{stderr}");
        let (_, stderr) = printed(&[], false, |out| out.debug("the value", &value));
        assert_eq!(stderr, "");
    }
}
