//! The scanner's environment: computed once from the context, target and token, then
//! rendered by one writer per output format.
//!
//! Every writer is a pure function from the export set to a [`Rendered`] value (what goes to
//! stdout and what is appended to which file). Nothing is written until every check has
//! passed, so a bad value can never leave a half-written export behind.

pub mod azure;
pub mod dotenv;
pub mod github;
pub mod json;
pub mod shell;

use crate::ci::{CiKind, Context, EventKind};
use crate::error::{quote, ConfigError};
use crate::inputs::Sourced;
use crate::scanner_config::{ScannerConfig, JSON_PARAMS_VARIABLES};
use crate::secret::Token;
use crate::target::{Flavor, Target};
use secrecy::{ExposeSecret, SecretString};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

/// A variable's value: public, or secret (the token, or JSON that holds it). A secret's
/// `Debug` is redacted by `secrecy`.
#[derive(Debug, Clone)]
pub enum Value {
    Plain(String),
    Secret(SecretString),
}

impl Value {
    /// The text to write. Only writers call this.
    pub fn expose(&self) -> &str {
        match self {
            Value::Plain(v) => v,
            Value::Secret(s) => s.expose_secret(),
        }
    }

    pub fn is_secret(&self) -> bool {
        matches!(self, Value::Secret(_))
    }
}

#[derive(Debug, Clone)]
pub struct Variable {
    pub name: &'static str,
    pub value: Value,
}

/// Everything handed to the scan, in the order it is written: the secret first, so masking
/// is in place before any other line.
#[derive(Debug, Clone)]
pub struct ExportSet {
    pub variables: Vec<Variable>,
    /// Non-secret step outputs (`verdict`, `project-key`, `host-url`), in kebab-case.
    pub outputs: Vec<(&'static str, String)>,
    /// The scanner properties put in the JSON variables, for the report.
    pub properties: BTreeMap<String, String>,
    pub warnings: Vec<String>,
}

impl ExportSet {
    /// The variables' names, secrets marked: what a log may say about the export.
    pub fn names(&self) -> Vec<String> {
        self.variables
            .iter()
            .map(|v| {
                if v.value.is_secret() {
                    format!("{} (secret)", v.name)
                } else {
                    v.name.to_string()
                }
            })
            .collect()
    }

    /// Nothing to export (a failed verdict still gets its step summary).
    pub fn empty() -> ExportSet {
        ExportSet {
            variables: Vec::new(),
            outputs: Vec::new(),
            properties: BTreeMap::new(),
            warnings: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct ExportOptions {
    /// Put `sonar.token` in the JSON variables too (the .NET scanner reads only those).
    pub token_in_json: bool,
}

/// Properties that carry a token. They never travel in the JSON unless asked for.
const TOKEN_PROPERTIES: [&str; 3] = ["sonar.token", "sonar.login", "sonar.password"];

/// Endings of a property's last segment that mark its value as a secret (compared without
/// case): `sonar.scanner.proxyPassword`, `sonar.scanner.keystorePassword`,
/// `sonar.scanner.truststorePassword`, `sonar.password`, any `...token`, `...secret`,
/// `...passphrase`, `...apiKey`, `...credentials`.
const SECRET_ENDINGS: [&str; 7] = [
    "password",
    "passwd",
    "passphrase",
    "token",
    "secret",
    "apikey",
    "credentials",
];

/// Whether a scanner property holds a secret: `sonar.login` (a token in disguise), or a key
/// whose last dot-separated segment ends in one of [`SECRET_ENDINGS`]. A JSON variable that
/// holds one is exported as a secret, as the token is.
pub fn is_secret_property(key: &str) -> bool {
    let last = key.rsplit('.').next().unwrap_or(key).to_ascii_lowercase();
    key.eq_ignore_ascii_case("sonar.login") || SECRET_ENDINGS.iter().any(|e| last.ends_with(e))
}

/// What the report and `--verbose` show for a secret property's value.
const HIDDEN: &str = "(secret, not shown)";

const BRANCH_PROPERTIES: [&str; 1] = ["sonar.branch.name"];
const PULL_REQUEST_PROPERTIES: [&str; 3] = [
    "sonar.pullrequest.key",
    "sonar.pullrequest.branch",
    "sonar.pullrequest.base",
];

/// The project key, required to export: the scan cannot run without it.
pub fn require_project_key(target: &Target) -> Result<&Sourced<String>, ConfigError> {
    target.project_key.as_ref().ok_or_else(|| {
        ConfigError::new("project key", "is not set")
            .hint("pass --project-key, set the action/task input project-key (SCANTOKEN_PROJECT_KEY elsewhere), or set sonar.projectKey in sonar-project.properties")
    })
}

/// The organization, required on SonarQube Cloud.
pub fn require_organization(target: &Target) -> Result<Option<&Sourced<String>>, ConfigError> {
    match (&target.organization, target.flavor.is_cloud()) {
        (Some(org), true) => Ok(Some(org)),
        (None, true) => Err(ConfigError::new("organization", format!("is not set, but {} needs one", target.flavor.describe()))
            .hint("pass --organization, set the input organization, SONAR_ORGANIZATION, or sonar.organization in sonar-project.properties")),
        (_, false) => Ok(None),
    }
}

/// The scanner properties scantoken puts in the JSON variables: the user's own keys from
/// the JSON already there (tokens removed), the endpoint, the project, the branch or pull
/// request and the revision. With the warnings about what was dropped or replaced.
pub fn scanner_properties(
    ctx: &Context,
    target: &Target,
    scanner: &ScannerConfig,
) -> (BTreeMap<String, String>, Vec<String>) {
    let mut warnings = Vec::new();

    // Keys a user already put in the JSON variables are kept, except tokens and the
    // branch/pull request set we compute.
    let mut props = scanner.existing_json_params().cloned().unwrap_or_default();
    let mut dropped_tokens = Vec::new();
    for key in TOKEN_PROPERTIES {
        if props.remove(key).is_some() {
            dropped_tokens.push(key);
        }
    }
    if !dropped_tokens.is_empty() {
        warnings.push(format!(
            "{} found in {}: removed from the exported JSON; the token travels only in SONAR_TOKEN, masked",
            dropped_tokens.join(", "),
            JSON_PARAMS_VARIABLES[0]
        ));
    }
    let by_hand = |keys: &[&str], props: &BTreeMap<String, String>| {
        keys.iter().any(|k| props.contains_key(*k))
    };
    let both_by_hand =
        by_hand(&BRANCH_PROPERTIES, &props) && by_hand(&PULL_REQUEST_PROPERTIES, &props);

    match target.flavor {
        Flavor::CloudCustom => {
            props.insert(
                "sonar.scanner.sonarcloudUrl".into(),
                target.web_url.value.clone(),
            );
            props.insert(
                "sonar.scanner.apiBaseUrl".into(),
                target.api_url.value.clone(),
            );
        }
        _ => {
            props.insert("sonar.host.url".into(), target.web_url.value.clone());
        }
    }
    if let Some(region) = &target.region {
        props.insert("sonar.region".into(), region.value.clone());
    }
    if let Some(org) = target
        .organization
        .as_ref()
        .filter(|_| target.flavor.is_cloud())
    {
        props.insert("sonar.organization".into(), org.value.clone());
    }
    if let Some(key) = &target.project_key {
        props.insert("sonar.projectKey".into(), key.value.clone());
    }

    match (ctx.event, &ctx.pull_request, &ctx.branch) {
        (EventKind::PullRequest, Some(pr), _) => {
            for k in BRANCH_PROPERTIES {
                props.remove(k);
            }
            props.insert("sonar.pullrequest.key".into(), pr.key.clone());
            props.insert("sonar.pullrequest.branch".into(), pr.source_branch.clone());
            props.insert("sonar.pullrequest.base".into(), pr.target_branch.clone());
        }
        (EventKind::Branch, _, Some(branch)) => {
            for k in PULL_REQUEST_PROPERTIES {
                props.remove(k);
            }
            // The default branch is analysed as the project's main branch: no branch
            // property, which also keeps editions without branch analysis working.
            if ctx.is_default_branch != Some(true) {
                props.insert("sonar.branch.name".into(), branch.clone());
            }
        }
        (EventKind::Tag, ..) => warnings.push(format!(
            "tag build ({}): no branch or pull request property is set, so the scan reports on the main branch",
            ctx.tag.as_deref().unwrap_or_default()
        )),
        _ => {}
    }
    // Never both sets (docs/sonar-facts.md §5): a branch or pull request build replaced the other set
    // above; any other build (tag, unknown) may still carry both from the JSON.
    if by_hand(&BRANCH_PROPERTIES, &props) && by_hand(&PULL_REQUEST_PROPERTIES, &props) {
        for k in PULL_REQUEST_PROPERTIES {
            props.remove(k);
        }
        warnings.push("both sonar.branch.name and sonar.pullrequest.* are set by hand in the scanner JSON, which the scanner rejects: the sonar.pullrequest.* properties were dropped, sonar.branch.name kept".into());
    } else if both_by_hand {
        let kept = match ctx.event {
            EventKind::PullRequest => "pull request",
            _ => "branch",
        };
        warnings.push(format!("both sonar.branch.name and sonar.pullrequest.* are set by hand in the scanner JSON, which the scanner rejects: only the {kept} properties of this build were exported"));
    }
    if let Some(rev) = &ctx.revision {
        props.insert("sonar.scm.revision".into(), rev.clone());
    }

    (props, warnings)
}

/// The variables scantoken exports besides the JSON: a scanner reading one of these gets
/// scantoken's value, whatever the job's environment held.
pub fn exported_variables(target: &Target) -> Vec<&'static str> {
    let mut names = vec!["SONAR_TOKEN"];
    if target.flavor != Flavor::CloudCustom {
        names.push("SONAR_HOST_URL");
    }
    if target.region.is_some() {
        names.push("SONAR_REGION");
    }
    if target.organization.is_some() && target.flavor.is_cloud() {
        names.push("SONAR_ORGANIZATION");
    }
    names
}

/// Refuses, before anything is verified, a target that some scanner would not use: a value
/// that beats the exports (the scanner's command line, a `SONAR_<PROPERTY>` variable that
/// pysonar reads) and differs from what scantoken verifies and exports, or a branch value
/// next to this build's pull request (or the reverse), which the scanner rejects.
pub fn check_scanner_agreement(
    ctx: &Context,
    target: &Target,
    scanner: &ScannerConfig,
) -> Result<(), ConfigError> {
    let (props, _) = scanner_properties(ctx, target, scanner);
    let exported = exported_variables(target);
    let is_pr = props.contains_key("sonar.pullrequest.key");
    let is_branch = props.contains_key("sonar.branch.name");
    let mut keys: Vec<&str> = props.keys().map(String::as_str).collect();
    for k in BRANCH_PROPERTIES.iter().chain(&PULL_REQUEST_PROPERTIES) {
        if !keys.contains(k) {
            keys.push(k);
        }
    }
    for key in keys {
        for o in scanner.overrides(key, &exported) {
            let shown = quote(&o.value.value);
            let problem = match props.get(key) {
                Some(ours) if crate::scanner_config::same_value(key, ours, &o.value.value) => continue,
                Some(ours) => format!(
                    "holds {shown}, which {} use(s) instead of the {key} scantoken verifies and exports ({})",
                    o.scanners(),
                    quote(ours)
                ),
                None if is_pr && BRANCH_PROPERTIES.contains(&key) => format!(
                    "holds {shown}: {} would send {key} together with this build's pull-request properties, which the scanner rejects",
                    o.scanners()
                ),
                None if is_branch && PULL_REQUEST_PROPERTIES.contains(&key) => format!(
                    "holds {shown}: {} would send {key} together with this build's sonar.branch.name, which the scanner rejects",
                    o.scanners()
                ),
                // Not part of what scantoken sets (a default-branch or tag build): the
                // scanner's own business, and no part of what is verified.
                None => continue,
            };
            return Err(ConfigError::new(o.value.source.to_string(), problem).hint(format!(
                "remove it, or make it agree: scantoken sets {key} for the scan from its own inputs and the CI, and verifies only that"
            )));
        }
    }
    Ok(())
}

pub fn build(
    ctx: &Context,
    target: &Target,
    token: Option<&Token>,
    scanner: &ScannerConfig,
    options: ExportOptions,
) -> Result<ExportSet, ConfigError> {
    require_project_key(target)?;
    let organization = require_organization(target)?;
    let (mut props, mut warnings) = scanner_properties(ctx, target, scanner);
    let mut json_props = props.clone();
    if options.token_in_json {
        if let Some(token) = token {
            json_props.insert("sonar.token".into(), token.expose_secret().to_owned());
            warnings.push(
                "--token-in-json: the token is inside SONAR_SCANNER_JSON_PARAMS and SONARQUBE_SCANNER_PARAMS; both are exported as secrets"
                    .into(),
            );
        }
    }
    let json = serde_json::to_string(&json_props).expect("a map of strings always serializes");
    // Other secrets a user put in the JSON (a proxy or keystore password) stay there, since
    // the scanner needs them, and make the JSON variables secrets.
    let secret_keys: Vec<&String> = props.keys().filter(|k| is_secret_property(k)).collect();
    if !secret_keys.is_empty() {
        // Azure hands a secret variable to a later script only when the step maps it.
        let azure = match ctx.ci {
            CiKind::Azure => " On Azure Pipelines, map them into the scan step (env: SONAR_SCANNER_JSON_PARAMS: $(SONAR_SCANNER_JSON_PARAMS)), as SONAR_TOKEN.",
            _ => "",
        };
        warnings.push(format!(
            "{} in {} hold secrets: SONAR_SCANNER_JSON_PARAMS and SONARQUBE_SCANNER_PARAMS are exported as secrets (masked; left out of dotenv, properties and json output unless --include-secrets).{azure}",
            secret_keys.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", "),
            JSON_PARAMS_VARIABLES[0]
        ));
    }
    let holds_other_secrets = !secret_keys.is_empty();
    // The set keeps the properties for the report and --verbose: never a secret's value.
    for (key, value) in props.iter_mut() {
        if is_secret_property(key) {
            *value = HIDDEN.to_owned();
        }
    }

    let mut variables = Vec::new();
    if let Some(token) = token {
        variables.push(Variable {
            name: "SONAR_TOKEN",
            value: Value::Secret(SecretString::from(token.expose_secret().to_owned())),
        });
    }
    // The JSON variables carry the token only when asked for; then they are secrets too and
    // go right after SONAR_TOKEN, so they are masked before anything else is written.
    let json_is_secret = (options.token_in_json && token.is_some()) || holds_other_secrets;
    let json_value = || match json_is_secret {
        true => Value::Secret(SecretString::from(json.clone())),
        false => Value::Plain(json.clone()),
    };
    let json_variables = JSON_PARAMS_VARIABLES.map(|name| Variable {
        name,
        value: json_value(),
    });
    let mut public = Vec::new();
    if target.flavor != Flavor::CloudCustom {
        public.push(plain("SONAR_HOST_URL", &target.web_url.value));
    }
    if let Some(region) = &target.region {
        public.push(plain("SONAR_REGION", &region.value));
    }
    if let Some(org) = organization {
        public.push(plain("SONAR_ORGANIZATION", &org.value));
    }
    if json_is_secret {
        variables.extend(json_variables);
        variables.extend(public);
    } else {
        variables.extend(public);
        variables.extend(json_variables);
    }

    let outputs = step_outputs(target);
    Ok(ExportSet {
        variables,
        outputs,
        properties: props,
        warnings,
    })
}

/// The step's non-secret outputs besides `verdict` (`project-key`, `host-url`): written on
/// every verdict, so a workflow can branch on them whatever happened.
pub fn step_outputs(target: &Target) -> Vec<(&'static str, String)> {
    let mut outputs = Vec::new();
    if let Some(key) = &target.project_key {
        outputs.push(("project-key", key.value.clone()));
    }
    outputs.push(("host-url", target.web_url.value.clone()));
    outputs
}

/// The step's outputs alone (`verdict`, `project-key`, `host-url`), for a verdict that
/// exports nothing (a failure, a skip): GitHub's `GITHUB_OUTPUT` entries, or Azure's output
/// variables on stdout. Other formats have no step outputs.
pub fn render_outputs(
    format: Format,
    verdict: &str,
    target: &Target,
    dest: &Destinations,
) -> Result<Rendered, WriteError> {
    let outputs = step_outputs(target);
    let mut rendered = Rendered::default();
    match format {
        Format::Github => {
            if let Some(path) = &dest.github_output {
                rendered.appends.push(Append {
                    path: path.clone(),
                    named_by: "GITHUB_OUTPUT",
                    text: github::outputs(verdict, &outputs)?,
                    on_error: OnError::Fail,
                });
            }
        }
        Format::Azure => rendered.stdout = azure::outputs(verdict, &outputs),
        _ => {}
    }
    Ok(rendered)
}

fn plain(name: &'static str, value: &str) -> Variable {
    Variable {
        name,
        value: Value::Plain(value.to_owned()),
    }
}

/// What the step summary and annotations show besides the variables.
#[derive(Debug, Clone)]
pub struct Summary {
    /// `ok`, `not-verified`, ... (the verdict's name).
    pub verdict: String,
    /// One line a user can act on.
    pub message: String,
    pub context: Context,
    pub target: Target,
    /// Where the token came from and its fingerprint, never the token.
    pub token: Option<String>,
    /// Each probe: (what, answer).
    pub probes: Vec<(String, String)>,
    pub failed: bool,
}

/// A writer's output: lines for stdout and text to append to files.
///
/// It holds the rendered text, token included, so its `Debug` shows only paths and sizes.
#[derive(Default)]
pub struct Rendered {
    pub stdout: String,
    pub appends: Vec<Append>,
    /// Written whole (to a temporary file, then renamed), for `--output`.
    pub replace: Option<Replace>,
    /// Things the user should know about what was (not) written.
    pub notes: Vec<String>,
}

/// Text to append to a file a CI named (`GITHUB_ENV`, ...).
pub struct Append {
    pub path: PathBuf,
    /// The variable that named the file, so an error can say where the path came from.
    pub named_by: &'static str,
    pub text: String,
    pub on_error: OnError,
}

/// What a file that cannot be written means for the export.
#[derive(Debug, Clone, Copy)]
pub enum OnError {
    /// The export fails, and nothing is written.
    Fail,
    /// Cosmetic output (the step summary): the export goes on, and this renders the warning
    /// printed to stdout in the CI's own syntax.
    Warn(fn(&str) -> String),
}

/// A file written whole, for `--output`.
pub struct Replace {
    pub path: PathBuf,
    pub text: String,
    /// Holds the token: created readable by the owner only.
    pub secret: bool,
}

/// `N bytes`, never the text: rendered text holds the token.
struct Redacted(usize);

impl std::fmt::Debug for Redacted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<{} bytes, redacted>", self.0)
    }
}

impl std::fmt::Debug for Rendered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rendered")
            .field("stdout", &Redacted(self.stdout.len()))
            .field("appends", &self.appends)
            .field("replace", &self.replace)
            .field("notes", &self.notes)
            .finish()
    }
}

impl std::fmt::Debug for Append {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Append")
            .field("path", &self.path)
            .field("named_by", &self.named_by)
            .field("text", &Redacted(self.text.len()))
            .field("on_error", &self.on_error)
            .finish()
    }
}

impl std::fmt::Debug for Replace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replace")
            .field("path", &self.path)
            .field("text", &Redacted(self.text.len()))
            .field("secret", &self.secret)
            .finish()
    }
}

/// Output formats (`--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// The detected CI's own: github on GitHub Actions, azure on Azure Pipelines, shell elsewhere.
    Auto,
    /// GitHub Actions file commands (GITHUB_ENV, GITHUB_OUTPUT, step summary, ::add-mask::).
    Github,
    /// Azure Pipelines logging commands (##vso[task.setvariable ...]).
    Azure,
    /// `export NAME='value'` lines, to `eval` in bash, dash or zsh.
    Shell,
    /// KEY=VALUE lines (GitLab dotenv reports); no token unless --include-secrets.
    Dotenv,
    /// Java properties (Jenkins readProperties); no token unless --include-secrets.
    Properties,
    /// One JSON object of variables; no token unless --include-secrets.
    Json,
}

impl Format {
    pub fn resolve(self, ci: CiKind) -> Format {
        match (self, ci) {
            (Format::Auto, CiKind::Github) => Format::Github,
            (Format::Auto, CiKind::Azure) => Format::Azure,
            (Format::Auto, _) => Format::Shell,
            (f, _) => f,
        }
    }
}

/// Where the writers put things, read from the environment once.
#[derive(Debug, Clone, Default)]
pub struct Destinations {
    pub github_env: Option<PathBuf>,
    pub github_output: Option<PathBuf>,
    pub github_step_summary: Option<PathBuf>,
    /// `--output FILE` for the text formats.
    pub output: Option<PathBuf>,
    pub include_secrets: bool,
}

/// A value a writer cannot write safely. Never carries a secret's value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot write {name} in the {format} format: {problem}")]
pub struct WriteError {
    pub name: String,
    pub format: &'static str,
    pub problem: String,
}

pub fn render(
    format: Format,
    set: &ExportSet,
    summary: &Summary,
    dest: &Destinations,
) -> Result<Rendered, WriteError> {
    let mut rendered = render_format(format, set, summary, dest)?;
    let unmasked = matches!(format, Format::Dotenv | Format::Properties | Format::Json);
    if unmasked && !dest.include_secrets {
        for var in set.variables.iter().filter(|v| v.value.is_secret()) {
            rendered.notes.push(format!(
                "{} left out: this format is not masked by any CI; pass --include-secrets to include it",
                var.name
            ));
        }
    }
    Ok(rendered)
}

fn render_format(
    format: Format,
    set: &ExportSet,
    summary: &Summary,
    dest: &Destinations,
) -> Result<Rendered, WriteError> {
    match format {
        Format::Github => github::render(set, summary, dest),
        Format::Azure => Ok(azure::render(set, summary)),
        Format::Shell => shell::render(set).map(|text| to_stdout_or_file(text, dest, true)),
        Format::Dotenv => dotenv::render(set, dest.include_secrets)
            .map(|text| to_stdout_or_file(text, dest, dest.include_secrets)),
        Format::Properties => dotenv::render_properties(set, dest.include_secrets)
            .map(|text| to_stdout_or_file(text, dest, dest.include_secrets)),
        Format::Json => Ok(to_stdout_or_file(
            json::render(set, dest.include_secrets),
            dest,
            dest.include_secrets,
        )),
        Format::Auto => unreachable!("Format::resolve runs before render"),
    }
}

fn to_stdout_or_file(text: String, dest: &Destinations, secret: bool) -> Rendered {
    match &dest.output {
        Some(path) => Rendered {
            replace: Some(Replace {
                path: path.clone(),
                text,
                secret,
            }),
            ..Rendered::default()
        },
        None => Rendered {
            stdout: text,
            ..Rendered::default()
        },
    }
}

/// Writes a rendered export, all or nothing as far as a file system allows:
///
/// 1. every destination is opened first (the `--output` temporary file created, each
///    appended file opened), so a missing directory or a read-only file fails before a
///    single byte is written anywhere;
/// 2. stdout: on GitHub it carries the `::add-mask::` lines, which must reach the runner
///    before the token is anywhere else;
/// 3. the files, in one write each.
///
/// When a step fails, every appended file is put back (cut to its old length, or removed if
/// this run created it) and the temporary file is removed.
///
/// A cosmetic file ([`OnError::Warn`], the step summary) that cannot be opened or written
/// gives a warning on stdout instead of a failure. Errors name the file and the variable
/// or option that named it.
pub fn commit(rendered: &Rendered, stdout: &mut dyn Write) -> std::io::Result<()> {
    let replace = match &rendered.replace {
        Some(r) => Some(TempFile::create(&r.path, r.secret)?),
        None => None,
    };
    let mut opened: Vec<Opened> = Vec::new();
    let mut warnings = Vec::new();
    for append in &rendered.appends {
        match open_append(append) {
            Ok(o) => opened.push(o),
            Err(e) => warnings.push(skip_or_fail(append, e).map_err(|e| undo_all(&opened, e))?),
        }
    }

    stdout
        .write_all(rendered.stdout.as_bytes())
        .and_then(|()| {
            warnings
                .iter()
                .try_for_each(|w| stdout.write_all(w.as_bytes()))
        })
        .and_then(|()| stdout.flush())
        .map_err(|e| undo_all(&opened, e))?;
    if let (Some(tmp), Some(r)) = (replace, &rendered.replace) {
        tmp.persist(&r.text).map_err(|e| undo_all(&opened, e))?;
    }
    for i in 0..opened.len() {
        let o = &mut opened[i];
        let Err(e) = o.file.write_all(o.append.text.as_bytes()) else {
            continue;
        };
        // Whatever part of the text reached the file goes again.
        o.undo();
        let append = o.append;
        let e = named_error(append, "cannot write", e);
        let warning = skip_or_fail(append, e).map_err(|e| undo_all(&opened, e))?;
        stdout.write_all(warning.as_bytes())?;
    }
    Ok(())
}

/// A file that cannot be opened or written: the warning line to print for a cosmetic one
/// ([`OnError::Warn`]), or the error that fails the export.
fn skip_or_fail(append: &Append, e: std::io::Error) -> std::io::Result<String> {
    match append.on_error {
        OnError::Warn(render) => Ok(render(&format!("{e}; the export goes on without it"))),
        OnError::Fail => Err(e),
    }
}

/// Puts every opened file back as it was (the ones not yet written included: a file this
/// run created is removed), and hands the error on.
fn undo_all(opened: &[Opened], e: std::io::Error) -> std::io::Error {
    opened.iter().for_each(Opened::undo);
    e
}

/// An error that says which file, named by which variable, and what happened.
fn named_error(append: &Append, what: &str, e: std::io::Error) -> std::io::Error {
    std::io::Error::new(
        e.kind(),
        format!(
            "{what} {} (the file {} names): {e}",
            append.path.display(),
            append.named_by
        ),
    )
}

/// A file opened to append to, with what it takes to undo the export: its length before,
/// and whether this run created it.
struct Opened<'a> {
    append: &'a Append,
    file: std::fs::File,
    len: u64,
    created: bool,
}

impl Opened<'_> {
    /// Puts the file back as it was: cut to its old length, or removed if we created it.
    fn undo(&self) {
        if self.created {
            let _ = std::fs::remove_file(&self.append.path);
        } else {
            let _ = self.file.set_len(self.len);
        }
    }
}

/// Opens a file to append to (creating it if need be, as the runner expects).
fn open_append(append: &Append) -> std::io::Result<Opened<'_>> {
    let mut opts = std::fs::OpenOptions::new();
    opts.append(true);
    let open_error = |e| named_error(append, "cannot open", e);
    let (file, created) = match opts.open(&append.path) {
        Ok(file) => (file, false),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            match opts.clone().create_new(true).open(&append.path) {
                Ok(file) => (file, true),
                // Created by someone else in between: append to it.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    (opts.open(&append.path).map_err(open_error)?, false)
                }
                Err(e) => return Err(open_error(e)),
            }
        }
        Err(e) => return Err(open_error(e)),
    };
    let len = file
        .metadata()
        .map_err(|e| named_error(append, "cannot read the size of", e))?
        .len();
    Ok(Opened {
        append,
        file,
        len,
        created,
    })
}

/// The temporary file of an atomic replacement: created next to its target under a random
/// name (a name made from the pid collides with a stale file from an earlier container run
/// with the same pid), and removed on every path but a successful rename.
struct TempFile {
    tmp: PathBuf,
    target: PathBuf,
    file: Option<std::fs::File>,
}

impl TempFile {
    fn create(path: &std::path::Path, secret: bool) -> std::io::Result<TempFile> {
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."));
        let tmp = dir.join(format!(
            ".{}.scantoken-{}",
            path.file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("export"),
            uuid::Uuid::new_v4().simple()
        ));
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        if secret {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let _ = secret;
        let file = opts.open(&tmp).map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!(
                    "cannot create a temporary file in {} for --output {}: {e}",
                    dir.display(),
                    path.display()
                ),
            )
        })?;
        Ok(TempFile {
            tmp,
            target: path.to_owned(),
            file: Some(file),
        })
    }

    /// Writes the text, syncs it and renames the file over its target.
    fn persist(mut self, text: &str) -> std::io::Result<()> {
        let context = |what: &str, e: std::io::Error| {
            std::io::Error::new(
                e.kind(),
                format!("cannot {what} --output {}: {e}", self.target.display()),
            )
        };
        let mut file = self.file.take().expect("persisted once");
        file.write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| context("write", e))?;
        drop(file);
        std::fs::rename(&self.tmp, &self.target).map_err(|e| context("replace", e))?;
        // Renamed: nothing left to remove.
        self.tmp = PathBuf::new();
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        self.file.take();
        if !self.tmp.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::Env;

    #[test]
    fn password_like_properties_are_secrets() {
        for key in [
            "sonar.scanner.proxyPassword",
            "sonar.scanner.keystorePassword",
            "sonar.scanner.truststorePassword",
            "sonar.password",
            "sonar.login",
            "sonar.token",
            "sonar.auth.github.clientSecret",
            "sonar.custom.apiKey",
            "sonar.x.passphrase",
        ] {
            assert!(is_secret_property(key), "{key}");
        }
        for key in [
            "sonar.projectKey",
            "sonar.pullrequest.key",
            "sonar.host.url",
            "sonar.scanner.proxyUser",
            "sonar.scanner.keystorePath",
            "sonar.branch.name",
        ] {
            assert!(!is_secret_property(key), "{key}");
        }
    }

    /// The rendered text holds the token: a debug print of it (`--verbose`, a panic
    /// message) shows where each part goes and its size, never its text.
    #[test]
    fn rendered_output_debugs_as_paths_and_sizes_only() {
        const CANARY: &str = "sqp_CANARYcanaryCANARYcanaryCANARYcanaryCA";
        let rendered = Rendered {
            stdout: format!("export SONAR_TOKEN='{CANARY}'\n"),
            appends: vec![Append {
                path: PathBuf::from("/runner/env"),
                named_by: "GITHUB_ENV",
                text: format!("SONAR_TOKEN={CANARY}\n"),
                on_error: OnError::Fail,
            }],
            replace: Some(Replace {
                path: PathBuf::from("/job/scan.env"),
                text: CANARY.to_owned(),
                secret: true,
            }),
            notes: vec!["a note".into()],
        };
        let shown = format!("{rendered:?}");
        assert!(!shown.contains("CANARY"), "{shown}");
        let stdout_len = rendered.stdout.len();
        let append_len = rendered.appends[0].text.len();
        for part in [
            format!("stdout: <{stdout_len} bytes, redacted>"),
            "path: \"/runner/env\"".to_owned(),
            "named_by: \"GITHUB_ENV\"".to_owned(),
            format!("text: <{append_len} bytes, redacted>"),
            "on_error: Fail".to_owned(),
            "path: \"/job/scan.env\"".to_owned(),
            format!("text: <{} bytes, redacted>", CANARY.len()),
            "secret: true".to_owned(),
            "notes: [\"a note\"]".to_owned(),
        ] {
            assert!(shown.contains(&part), "{part} in {shown}");
        }
    }

    fn build_with(ctx: &Context, json: &str) -> ExportSet {
        let env = Env::from_pairs([
            ("SONAR_SCANNER_JSON_PARAMS", json),
            ("SONAR_ORGANIZATION", "acme"),
            ("SCANTOKEN_PROJECT_KEY", "acme_payments"),
        ]);
        let scanner = ScannerConfig::load(&env, std::path::Path::new("/nonexistent")).unwrap();
        let settings = crate::settings::Settings::from_env(&env).unwrap();
        let target = crate::target::resolve(&settings.target, &env, &scanner).unwrap();
        build(ctx, &target, None, &scanner, ExportOptions::default()).unwrap()
    }

    const BOTH: &str = r#"{"sonar.branch.name":"release","sonar.pullrequest.key":"7","sonar.pullrequest.branch":"f","sonar.pullrequest.base":"main"}"#;

    fn has_pull_request_keys(set: &ExportSet) -> bool {
        PULL_REQUEST_PROPERTIES
            .iter()
            .any(|k| set.properties.contains_key(*k))
    }

    #[test]
    fn a_temporary_file_never_outlives_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let listing = || std::fs::read_dir(dir.path()).unwrap().count();
        // Any early return (a failed write_all or sync_all included) drops the guard.
        let tmp = TempFile::create(&dir.path().join("out"), true).unwrap();
        assert_eq!(listing(), 1);
        drop(tmp);
        assert_eq!(listing(), 0, "removed when dropped unpersisted");
        let tmp = TempFile::create(&dir.path().join("out"), true).unwrap();
        tmp.persist("x").unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("out")).unwrap(),
            "x"
        );
        assert_eq!(listing(), 1, "renamed, nothing else left");
    }

    #[test]
    fn a_failed_write_puts_back_every_file_including_ones_not_yet_written() {
        // /dev/full opens, then refuses every write: GITHUB_ENV fails after GITHUB_OUTPUT was
        // created but before it was written; nothing of this run may stay behind.
        if !std::path::Path::new("/dev/full").exists() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path().join("output");
        let append = |path: PathBuf, named_by| Append {
            path,
            named_by,
            text: "x<<d\ny\nd\n".into(),
            on_error: OnError::Fail,
        };
        let rendered = Rendered {
            appends: vec![
                append(PathBuf::from("/dev/full"), "GITHUB_ENV"),
                append(output.clone(), "GITHUB_OUTPUT"),
            ],
            ..Rendered::default()
        };
        let e = commit(&rendered, &mut Vec::new()).unwrap_err();
        assert!(e.to_string().contains("GITHUB_ENV"), "{e}");
        assert!(!output.exists(), "the file this run created is removed");
    }

    #[test]
    fn tag_and_unknown_builds_never_export_both_sets() {
        let mut tag = Context::new(CiKind::Github);
        tag.set_tag("v1.0");
        for ctx in [tag, Context::new(CiKind::Local)] {
            let set = build_with(&ctx, BOTH);
            assert_eq!(set.properties["sonar.branch.name"], "release");
            assert!(!has_pull_request_keys(&set), "{:?}", set.properties);
            let json = set
                .variables
                .iter()
                .find(|v| v.name == "SONAR_SCANNER_JSON_PARAMS")
                .unwrap();
            assert!(!json.value.expose().contains("sonar.pullrequest"));
            assert!(
                set.warnings
                    .iter()
                    .any(|w| w.contains("sonar.pullrequest.* properties were dropped")),
                "{:?}",
                set.warnings
            );
        }
    }

    #[test]
    fn branch_and_pull_request_builds_keep_their_own_set() {
        let mut pr = Context::new(CiKind::Github);
        pr.set_pull_request("42", "feature", "main");
        let set = build_with(&pr, BOTH);
        assert_eq!(set.properties["sonar.pullrequest.key"], "42");
        assert!(!set.properties.contains_key("sonar.branch.name"));
        assert!(set
            .warnings
            .iter()
            .any(|w| w.contains("only the pull request properties")));

        let mut branch = Context::new(CiKind::Github);
        branch.set_branch("feature");
        let set = build_with(&branch, BOTH);
        assert_eq!(set.properties["sonar.branch.name"], "feature");
        assert!(!has_pull_request_keys(&set));
    }

    #[test]
    fn tokens_in_the_users_json_are_dropped_with_a_warning_and_nothing_else_is() {
        let branch = || {
            let mut c = Context::new(CiKind::Github);
            c.set_branch("feature");
            c
        };
        let set = build_with(
            &branch(),
            r#"{"sonar.token":"sqp_X","sonar.login":"sqp_Y","sonar.projectName":"Payments"}"#,
        );
        assert!(!set.properties.contains_key("sonar.token"));
        assert!(!set.properties.contains_key("sonar.login"));
        assert_eq!(set.properties["sonar.projectName"], "Payments");
        assert!(
            set.warnings.iter().any(|w| w
                .contains("sonar.token, sonar.login found in SONAR_SCANNER_JSON_PARAMS: removed")),
            "{:?}",
            set.warnings
        );
        let set = build_with(&branch(), r#"{"sonar.projectName":"Payments"}"#);
        assert!(set.warnings.is_empty(), "{:?}", set.warnings);

        // One set by hand is no conflict: this build's own value replaces it, silently.
        let set = build_with(&branch(), r#"{"sonar.branch.name":"release"}"#);
        assert_eq!(set.properties["sonar.branch.name"], "feature");
        assert!(set.warnings.is_empty(), "{:?}", set.warnings);
        let set = build_with(&branch(), r#"{"sonar.pullrequest.key":"7"}"#);
        assert!(!has_pull_request_keys(&set), "{:?}", set.properties);
        assert!(set.warnings.is_empty(), "{:?}", set.warnings);
    }

    #[test]
    fn a_tag_build_says_the_scan_reports_on_the_main_branch() {
        let mut tag = Context::new(CiKind::Github);
        tag.set_tag("v1.0");
        let set = build_with(&tag, "{}");
        assert_eq!(
            set.warnings,
            ["tag build (v1.0): no branch or pull request property is set, so the scan reports on the main branch"]
        );
        assert!(!set.properties.contains_key("sonar.branch.name"));
        assert!(!has_pull_request_keys(&set));
    }

    /// `exported_variables` decides which variables of the job no longer count against the
    /// scan (scantoken overwrites them): it must name exactly what `build` exports.
    #[test]
    fn exported_variables_are_exactly_the_ones_build_writes() {
        let token = Token::new("sqp_1111111111111111111111111111111111111111").unwrap();
        for vars in [
            &[
                ("SONAR_HOST_URL", "https://sonar.acme.example"),
                ("SONAR_ORGANIZATION", "acme"),
            ][..],
            &[("SONAR_HOST_URL", "https://sonar.acme.example")],
            &[("SONAR_ORGANIZATION", "acme")],
            &[("SONAR_REGION", "us"), ("SONAR_ORGANIZATION", "acme")],
            &[
                ("SONAR_SCANNER_SONARCLOUD_URL", "https://cloud.acme.example"),
                (
                    "SONAR_SCANNER_API_BASE_URL",
                    "https://api.cloud.acme.example",
                ),
                ("SONAR_ORGANIZATION", "acme"),
            ],
        ] {
            let mut pairs = vars.to_vec();
            pairs.push(("SCANTOKEN_PROJECT_KEY", "acme_payments"));
            let env = Env::from_pairs(pairs);
            let scanner = ScannerConfig::load(&env, std::path::Path::new("/nonexistent")).unwrap();
            let settings = crate::settings::Settings::from_env(&env).unwrap();
            let target = crate::target::resolve(&settings.target, &env, &scanner).unwrap();
            let set = build(
                &Context::new(CiKind::Local),
                &target,
                Some(&token),
                &scanner,
                ExportOptions::default(),
            )
            .unwrap();
            let mut written: Vec<&str> = set
                .variables
                .iter()
                .map(|v| v.name)
                .filter(|n| !JSON_PARAMS_VARIABLES.contains(n))
                .collect();
            let mut named = exported_variables(&target);
            written.sort_unstable();
            named.sort_unstable();
            assert_eq!(named, written, "{vars:?}");
        }
    }
}
