//! `scantoken audit`: every token against every project, before a pipeline finds out.
//!
//! Owns the fleet view: which projects to check (a file, `--project`, the server's listing
//! ([`listing`]), one shard of them ([`shard`])), which tokens (the
//! token map CI already uses, each project getting the rule CI would pick, and tokens named
//! by variable), the concurrent probing of every (project, token) pair with the same
//! scan-only probes and decision table as `verify` ([`probe`]), one request budget shared by
//! every probe ([`budget`]), each pair's evidence kept on disk until the report ([`spill`]),
//! and the report: per project, per token, per map rule, as a table, Markdown and JSON
//! evidence ([`report`], schema in `docs/audit.schema.json`); the shards' evidence is merged
//! by [`merge`].
//!
//! Exit codes: 0 every project can be scanned by its token and no token expires within the
//! warning window; 1 otherwise; 2 bad input; 3 the server could not be asked (and nothing
//! else was found wrong).

pub mod budget;
pub mod listing;
pub mod merge;
pub mod probe;
pub mod report;
pub mod shard;
pub mod spill;

use crate::ci::{CiKind, Context};
use crate::credential::{self, token_map::TokenMap, Credential};
use crate::env::Env;
use crate::error::{quote, ConfigError, Exit};
use crate::inputs::{Inputs, Origin, Sourced};
use crate::options::{self, Command as OptionsCommand};
use crate::output::Output;
use crate::scanner_config::ScannerConfig;
use crate::secret::Token;
use crate::settings::Settings;
use crate::sonar::client::Client;
use crate::target::{self, Target};
use clap::{Args, ValueEnum};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Requests in flight at once unless `--concurrency` says otherwise: enough to audit a
/// thousand projects in seconds, few enough that a server sees one busy client, not a storm.
pub const DEFAULT_CONCURRENCY: u64 = 32;
/// The whole audit's deadline unless `--deadline` says otherwise: a scheduled job's budget.
pub const DEFAULT_DEADLINE_SECS: u64 = 900;
/// Warn this many days before a token expires (an audit is the early warning; verify uses 14).
pub const DEFAULT_EXPIRY_WARNING_DAYS: u64 = 30;
/// A projects file is one key per line: 100,000 keys of typical length fit well under this.
const MAX_PROJECTS_FILE: usize = 8 << 20;
const MAX_PROJECTS: usize = 100_000;
const MAX_CONCURRENCY: u64 = 256;

pub const AFTER_HELP: &str = "\
Projects come from --projects-file (one key per line; blank lines and # comments ignored),
--project, and with --projects-from-server from the server itself (api/projects/search, read
with the administrator's token --read-token-env names: only read from, never probed or
exported). --shard I/N audits one share of them (a stable hash of the key); `scantoken audit
merge` combines the shards' JSON evidence into one report.

Tokens come from the token map (--token-map, as CI uses it: each project is checked with the
token of the rule CI would pick) and from --token-env VAR (each named token is checked against
every project too); without a map, the token CI would use by default (SCANTOKEN_TOKEN,
SONAR_TOKEN, SONAR_AUTH_TOKEN) is the projects' token.

Outputs: a table on stdout (--format markdown|json for the others), --json-file for the
JSON evidence (schema: docs/audit.schema.json), --markdown-file for Markdown. On GitHub
Actions the Markdown is added to the step summary; on Azure Pipelines it is uploaded with
##vso[task.uploadsummary].

Exit codes:
  0  every project can be scanned by its token, and no token expires within the warning window
  1  a project cannot be scanned by its token (or has none), or a token expires soon or has expired
  2  usage or configuration error (the message names what to fix)
  3  the server could not be asked (unreachable, throttling, deadline), and nothing else was found wrong";

pub const MERGE_AFTER_HELP: &str = "\
Each shard is `scantoken audit --shard I/N --json-file shard-I.json` with the same options
(often one CI job each, in a matrix); the merge reads every shard's evidence and writes the
report one process would have: projects and pairs sorted by key, the fleet-wide findings
(coverage, unused rules, tokens that scan nothing) computed over the whole.

Exit codes: those of the merged audit (0, 1, 3); 2 when a shard is missing, given twice, or
from another run (different N, host, organization, token map, tokens or options).";

/// What the user said to `scantoken audit`: its flags and their variables, read through the
/// option table (`options::defs`, the rows of `Scope::Audit` and those marked `audit`) and
/// checked there once; [`AuditArgs::from_said`] types them.
#[derive(Debug)]
pub struct AuditArgs {
    /// Everything said, for the options audit shares with verify (`Settings::resolve`).
    said: Inputs,
    projects: Vec<String>,
    token_envs: Vec<String>,
    /// Where the token variables were named: `flag --token-env` or a variable.
    token_envs_source: String,
    concurrency: Option<u64>,
    deadline: Option<u64>,
    format: Option<AuditFormat>,
    json_file: Option<PathBuf>,
    markdown_file: Option<PathBuf>,
    progress: Option<Progress>,
    expiry_warning_days: Option<u64>,
    projects_from_server: bool,
    /// The read credential's variable, and where it was named.
    read_token_env: Option<Sourced<String>>,
    shard: Option<shard::Shard>,
    max_rate: Option<f64>,
}

impl AuditArgs {
    /// Types what was said (`options::said(Command::Audit, ..)`): each value checked against
    /// its definition (numbers within their range, choices), an error naming the flag or the
    /// variable it came from.
    pub fn from_said(said: Inputs) -> Result<AuditArgs, ConfigError> {
        let checked = |name: &'static str| options::checked(OptionsCommand::Audit, &said, name);
        let text = |name: &'static str| Ok::<_, ConfigError>(checked(name)?.map(|v| v.value));
        let number = |name: &'static str| -> Result<Option<u64>, ConfigError> {
            Ok(checked(name)?.map(|v| v.value.parse().expect("checked as a number")))
        };
        let lines = |name: &'static str| -> Result<Vec<String>, ConfigError> {
            Ok(checked(name)?
                .map(|v| {
                    v.value
                        .lines()
                        .filter(|l| !l.trim().is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default())
        };
        let choice = |name: &'static str| -> Result<Option<String>, ConfigError> { text(name) };
        let max_rate = match checked("max-rate")? {
            None => None,
            Some(v) => match v.value.parse::<f64>() {
                Ok(r) if r.is_finite() && r > 0.0 => Some(r),
                _ => {
                    return Err(ConfigError::new(
                        v.source.to_string(),
                        format!(
                            "{} is not a positive number of requests per second",
                            quote(&v.value)
                        ),
                    )
                    .hint("e.g. --max-rate 20"))
                }
            },
        };
        let projects_from_server =
            checked("projects-from-server")?.is_some_and(|v| v.value == "true");
        let read_token_env = checked("read-token-env")?;
        match (&read_token_env, projects_from_server) {
            (None, true) => {
                return Err(ConfigError::new(
                    "projects-from-server",
                    "needs the variable holding the credential that lists the projects",
                )
                .hint("add --read-token-env VAR (an administrator's token in VAR)"))
            }
            (Some(v), false) => {
                return Err(ConfigError::new(
                    v.source.to_string(),
                    "is only read to list the projects, with --projects-from-server",
                )
                .hint("add --projects-from-server, or leave it out"))
            }
            _ => {}
        }
        Ok(AuditArgs {
            projects: lines("project")?,
            token_envs: lines("token-env")?,
            token_envs_source: said
                .get("token-env")
                .map_or_else(|| "flag --token-env".to_owned(), |v| v.source.to_string()),
            concurrency: number("concurrency")?,
            deadline: number("deadline")?,
            format: choice("format")?
                .map(|f| AuditFormat::from_str(&f, true).expect("the table lists the formats")),
            json_file: text("json-file")?.map(PathBuf::from),
            markdown_file: text("markdown-file")?.map(PathBuf::from),
            progress: choice("progress")?
                .map(|p| Progress::from_str(&p, true).expect("the table lists the modes")),
            expiry_warning_days: number("expiry-warning-days")?,
            projects_from_server,
            read_token_env,
            shard: checked("shard")?
                .map(|v| shard::Shard::parse_from(&v.value, &v.source.to_string()))
                .transpose()?,
            max_rate,
            said,
        })
    }
}

// `scantoken audit merge`: the shards' JSON evidence as one report (its help is in cli.rs).
#[derive(Args, Debug)]
pub struct MergeArgs {
    /// The shards' JSON evidence (`audit --shard I/N --json-file ...`), one file each
    #[arg(value_name = "FILE", required = true, num_args = 1..)]
    pub files: Vec<PathBuf>,
    /// Write the merged JSON evidence to this file
    #[arg(long, value_name = "FILE")]
    pub json_file: Option<PathBuf>,
    /// Write the merged Markdown report to this file
    #[arg(long, value_name = "FILE")]
    pub markdown_file: Option<PathBuf>,
    /// What stdout carries [default: table]
    #[arg(long, value_enum)]
    pub format: Option<AuditFormat>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuditFormat {
    Table,
    Markdown,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Progress {
    // No doc comments on the values: clap would switch the whole --help to its long layout.
    Auto,
    Bar,
    Lines,
    Off,
}

/// One token under audit: distinct by value, with every place it was found.
#[derive(Debug, Clone)]
pub struct TokenEntry {
    pub credential: Credential,
    /// Every source holding this value (`variable SONAR_TOKEN_ALL (token map …, rule at line 6)`).
    pub sources: Vec<String>,
    /// Named with --token-env (checked against every project as a candidate).
    pub named: bool,
    /// CI uses it: a map rule names it, or it is the default token.
    pub used_by_ci: bool,
}

/// Why a project has no token of its own.
#[derive(Debug, Clone)]
pub enum NoToken {
    /// The map has no rule for it.
    NoRule,
    /// Its rule names a variable that is empty or not set in this job.
    Unset { variable: String },
    /// No map, and no default token.
    NoDefault,
}

#[derive(Debug, Clone)]
pub struct ProjectEntry {
    pub key: String,
    /// The organization the probes use: the organization setting, else the rule's.
    pub organization: Option<String>,
    /// Index of the map rule CI would pick.
    pub rule: Option<usize>,
    /// Index into the tokens of the token CI would use, or why there is none.
    pub token: Result<usize, NoToken>,
    /// The rule's organization contradicts the organization setting (CI refuses that).
    pub organization_conflict: Option<String>,
    /// Named by --projects-file or --project.
    pub listed: bool,
    /// Whether the server's listing holds it (`None`: projects were not read from the server).
    pub on_server: Option<bool>,
}

/// Everything the audit checks, read and validated before any request.
pub struct Plan {
    pub target: Target,
    pub map: Option<TokenMap>,
    pub projects: Vec<ProjectEntry>,
    pub tokens: Vec<TokenEntry>,
    pub concurrency: usize,
    pub deadline: Duration,
    pub expiry_warning_days: i64,
    /// The server's listing, when projects were read from it.
    pub listing: Option<listing::Listing>,
    pub shard: Option<shard::Shard>,
    pub max_rate: Option<f64>,
    /// Each map rule's token (by index into `tokens`), or why it has none.
    rule_tokens: Vec<Result<usize, NoToken>>,
    default_token: Result<usize, NoToken>,
}

/// The read credential: where it came from, and the token (masked before anything else).
struct ReadCredential {
    token: Token,
    variable: String,
    /// Where the variable was named (`flag --read-token-env`, or a variable).
    named_by: String,
}

/// Runs `scantoken audit`. Configuration errors come back to the caller (exit 2).
pub fn run(args: &AuditArgs, env: &Env, cwd: &Path, out: &mut Output) -> Result<Exit, ConfigError> {
    let format = args.format.unwrap_or(AuditFormat::Table);
    if format != AuditFormat::Table {
        out.stdout_is_data();
    }
    let inputs = &args.said;
    // The read credential is masked before anything else can print.
    let read = read_credential(args, env, out)?;
    // The options audit shares with verify, resolved and validated as verify's are (`format`
    // is audit's own here: export's is not resolved from it).
    let settings = Settings::resolve(&inputs.clone().without("format"))?;
    let mut plan = read_plan(args, inputs, &settings, env, cwd, out)?;
    if let Some(read) = &read {
        if let Some(t) = plan
            .tokens
            .iter()
            .find(|t| t.credential.token.expose_secret() == read.token.expose_secret())
        {
            return Err(ConfigError::new(
                format!("{} {}", read.named_by, read.variable),
                format!(
                    "holds the same token as {}: the read credential is never probed as a scan token",
                    t.sources.join("; ")
                ),
            )
            .hint("list the projects with a separate credential (an administrator's token), not a token the audit checks"));
        }
        if plan.target.flavor.is_cloud() && plan.target.organization.is_none() {
            return Err(ConfigError::new(
                "organization",
                "SonarQube Cloud lists the projects of one organization, and none is set",
            )
            .hint("pass --organization or set SONAR_ORGANIZATION"));
        }
    }
    if !settings.allow_insecure_http {
        let proxies = crate::network::Proxies::from_env(env)?;
        if let Some(v) = crate::sonar::insecure_host(&plan.target, &proxies) {
            return Err(ConfigError::new("host-url", v.cause).hint(v.next_step));
        }
    }
    let options = crate::flow::client_options(&settings, env);
    let budget = Arc::new(budget::Budget::new(plan.concurrency).with_max_rate(plan.max_rate));
    let client = Client::new(env, options)?.with_gate(budget.clone());
    let progress = match args.progress.unwrap_or(Progress::Auto) {
        Progress::Auto if std::io::IsTerminal::is_terminal(&std::io::stderr()) => Progress::Bar,
        Progress::Auto => Progress::Lines,
        p => p,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| ConfigError::new("runtime", format!("cannot start: {e}")))?;
    if let Some(read) = &read {
        let listed = runtime.block_on(listing::list_all(
            &client,
            &plan.target.web_url.value,
            plan.target.organization.as_ref().map(|o| o.value.as_str()),
            &read.token,
            format!("variable {}", read.variable),
            plan.concurrency,
        ));
        match listed {
            Ok(l) => {
                if progress != Progress::Off {
                    out.say(&format!(
                        "audit: {} project(s) listed by {} ({} page(s), {} quer(ies)) in {:.1} s",
                        l.keys.len(),
                        l.endpoint,
                        l.pages,
                        l.queries,
                        l.elapsed.as_secs_f64()
                    ));
                }
                plan.add_server_projects(l);
            }
            Err(e) => {
                out.error(&out.redact(&format!("audit: {}", e.cause)));
                out.say(&out.redact(&format!("hint: {}", e.next_step)));
                return Ok(if e.unreachable {
                    Exit::Unreachable
                } else {
                    Exit::Usage
                });
            }
        }
    }
    plan.apply_shard();
    let mut spill = spill::Spill::new().map_err(|e| {
        ConfigError::new(
            "audit",
            format!("cannot create a temporary file for the pairs' evidence: {e}"),
        )
        .hint("set TMPDIR to a directory this job can write")
    })?;
    let outcome = runtime.block_on(probe::probe_all(&plan, &client, progress, out, &mut spill));
    if let Err(e) = spill.check() {
        out.error(&format!(
            "audit: the pairs' evidence could not be stored: {e}"
        ));
        return Ok(Exit::Internal);
    }
    let mut report = report::Report::build(&mut plan, outcome, budget.stats(), spill);
    // The plan's copy of every project is no longer needed: the report has its own.
    drop(plan);
    report.redact(out);
    write_report(
        &report,
        format,
        args.json_file.as_deref(),
        args.markdown_file.as_deref(),
        env,
        out,
    )
}

fn read_plan(
    args: &AuditArgs,
    inputs: &Inputs,
    settings: &Settings,
    env: &Env,
    cwd: &Path,
    out: &mut Output,
) -> Result<Plan, ConfigError> {
    let scanner = ScannerConfig::load(env, cwd)?;
    let target = target::resolve(&settings.target, env, &scanner)?;
    let keys = read_projects(args, inputs, cwd)?;
    if keys.is_empty() && !args.projects_from_server {
        return Err(ConfigError::new("audit", "no project to check").hint(
            "list the project keys in a file (--projects-file, one per line), give --project KEY, or read them from the server (--projects-from-server --read-token-env VAR)",
        ));
    }
    let shard = args.shard;
    let max_rate = args.max_rate;
    let map = inputs
        .get("token-map")
        .map(|m| credential::load_token_map(&m, cwd))
        .transpose()?;
    let mut tokens: Vec<TokenEntry> = Vec::new();
    fn add(
        tokens: &mut Vec<TokenEntry>,
        token: Token,
        source: Origin,
        named: bool,
        out: &mut Output,
    ) -> usize {
        // Masked before anything else is printed: the CI hides it from here on.
        out.mask(token.expose_secret());
        let shown = source.to_string();
        if let Some(i) = tokens
            .iter()
            .position(|t| t.credential.token.expose_secret() == token.expose_secret())
        {
            let t = &mut tokens[i];
            if !t.sources.contains(&shown) {
                t.sources.push(shown);
            }
            t.named |= named;
            t.used_by_ci |= !named;
            return i;
        }
        tokens.push(TokenEntry {
            credential: Credential {
                token,
                source,
                organization: None,
                expires: None,
            },
            sources: vec![shown],
            named,
            used_by_ci: !named,
        });
        tokens.len() - 1
    }
    let token_of = |var: &str, source: &Origin| -> Result<Option<Token>, ConfigError> {
        match env.non_empty(var) {
            None => Ok(None),
            Some(v) => Token::new(v).map(Some).map_err(|e| {
                ConfigError::new(source.to_string(), e.to_string())
                    .hint("store the token as the secret's whole value")
            }),
        }
    };
    // The map's rules, each rule's variable read once.
    let mut rule_tokens: Vec<Result<usize, NoToken>> = Vec::new();
    if let Some(map) = &map {
        for rule in &map.rules {
            let source = Origin::TokenMap {
                map: map.source.clone(),
                line: rule.line,
                variable: rule.token_env.clone(),
            };
            rule_tokens.push(match token_of(&rule.token_env, &source)? {
                Some(token) => {
                    let i = add(&mut tokens, token, source, false, out);
                    let t = &mut tokens[i];
                    if t.credential.expires.is_none() {
                        t.credential.expires = rule.expires.clone();
                    }
                    if t.credential.organization.is_none() {
                        t.credential.organization = rule.organization.clone();
                    }
                    Ok(i)
                }
                None => Err(NoToken::Unset {
                    variable: rule.token_env.clone(),
                }),
            });
        }
    }
    // Without a map, the token CI would find by default.
    let mut default_token = Err(NoToken::NoDefault);
    if map.is_none() {
        let ctx = Context::new(CiKind::Local);
        if let Ok(c) = credential::resolve(settings, env, &ctx, "", cwd)? {
            default_token = Ok(add(&mut tokens, c.token, c.source, false, out));
        }
    }
    for var in &args.token_envs {
        check_variable_name(&args.token_envs_source, var)?;
        let source = Origin::Variable(var.clone());
        match token_of(var, &source)? {
            Some(token) => {
                add(&mut tokens, token, source, true, out);
            }
            None => {
                return Err(ConfigError::new(
                    args.token_envs_source.as_str(),
                    format!("names variable {var}, which is empty or not set"),
                )
                .hint(format!("map the secret into this step as {var}")))
            }
        }
    }
    if tokens.is_empty() && rule_tokens.iter().all(Result::is_err) && map.is_none() {
        return Err(ConfigError::new("audit", "no token to check")
            .hint("give --token-map (the map CI uses), --token-env VAR, or set SONAR_TOKEN"));
    }
    let concurrency = inputs
        .number(args.concurrency, "concurrency")?
        .unwrap_or(DEFAULT_CONCURRENCY);
    if !(1..=MAX_CONCURRENCY).contains(&concurrency) {
        return Err(ConfigError::new(
            "concurrency",
            format!("{concurrency} is not between 1 and {MAX_CONCURRENCY}"),
        ));
    }
    let deadline = inputs
        .number(args.deadline, "deadline")?
        .unwrap_or(DEFAULT_DEADLINE_SECS);
    if deadline == 0 {
        return Err(ConfigError::new("deadline", "must be at least 1 second"));
    }
    let expiry_warning_days = inputs
        .number(args.expiry_warning_days, "expiry-warning-days")?
        .unwrap_or(DEFAULT_EXPIRY_WARNING_DAYS) as i64;
    let mut plan = Plan {
        target,
        map,
        projects: Vec::new(),
        tokens,
        concurrency: concurrency as usize,
        deadline: Duration::from_secs(deadline),
        expiry_warning_days,
        listing: None,
        shard,
        max_rate,
        rule_tokens,
        default_token,
    };
    plan.projects = keys.into_iter().map(|k| plan.entry(k, true)).collect();
    Ok(plan)
}

impl Plan {
    /// A project as CI would check it: the rule it would pick, that rule's token.
    fn entry(&self, key: String, listed: bool) -> ProjectEntry {
        let map = &self.map;
        let rule = map
            .as_ref()
            .and_then(|m| m.rules.iter().position(|r| r.matches(&key)));
        let token = match (map, rule) {
            (Some(_), Some(r)) => self.rule_tokens[r].clone(),
            (Some(_), None) => Err(NoToken::NoRule),
            (None, _) => self.default_token.clone(),
        };
        let global_org = self.target.organization.as_ref().map(|o| o.value.clone());
        let rule_org = rule.and_then(|r| map.as_ref()?.rules[r].organization.clone());
        let organization_conflict = match (&global_org, &rule_org) {
            (Some(g), Some(r)) if g != r => Some(format!(
                "the token map rule says the token belongs to organization {r}, but organization {g} is set; CI refuses this combination"
            )),
            _ => None,
        };
        let organization = if self.target.flavor.is_cloud() {
            global_org.or(rule_org)
        } else {
            None
        };
        ProjectEntry {
            key,
            organization,
            rule,
            token,
            organization_conflict,
            listed,
            on_server: None,
        }
    }

    /// The server's projects join the listed ones: each listed key learns whether the server
    /// has it, each server project no list names is added.
    fn add_server_projects(&mut self, listing: listing::Listing) {
        let on_server: std::collections::HashSet<&str> =
            listing.keys.iter().map(String::as_str).collect();
        let mut known = std::collections::HashSet::new();
        for p in &mut self.projects {
            p.on_server = Some(on_server.contains(p.key.as_str()));
            known.insert(p.key.clone());
        }
        drop(on_server);
        // A shard takes its share here, before an entry exists for the others. The keys move
        // from the listing into the entries (a fleet's keys are held once, not twice).
        let shard = self.shard;
        let mut listing = listing;
        let keys = std::mem::take(&mut listing.keys);
        if shard.is_none() {
            self.projects
                .reserve(keys.len().saturating_sub(known.len()));
        }
        for k in keys {
            if !known.contains(&k) && shard.is_none_or(|s| s.owns(&k)) {
                let mut e = self.entry(k, false);
                e.on_server = Some(true);
                self.projects.push(e);
            }
        }
        self.projects.shrink_to_fit();
        // Counted in the evidence; the keys themselves are the projects now.
        self.listing = Some(listing);
    }

    /// Keeps this shard's share of the projects.
    fn apply_shard(&mut self) {
        if let Some(shard) = self.shard {
            self.projects.retain(|p| shard.owns(&p.key));
        }
    }
}

/// Reads the read credential's variable, masking it at once.
fn read_credential(
    args: &AuditArgs,
    env: &Env,
    out: &mut Output,
) -> Result<Option<ReadCredential>, ConfigError> {
    let Some(Sourced { value: var, source }) = &args.read_token_env else {
        return Ok(None);
    };
    let named_by = source.to_string();
    if let Some(v) = env.get(var) {
        // Masked before it is even checked: an error below must not quote it either.
        out.mask(v);
    }
    check_variable_name(&named_by, var)?;
    let value = env.non_empty(var).ok_or_else(|| {
        ConfigError::new(
            named_by.as_str(),
            format!("names variable {var}, which is empty or not set"),
        )
        .hint(format!(
            "map the listing credential (an administrator's token) into this step as {var}"
        ))
    })?;
    let token = Token::new(value).map_err(|e| {
        ConfigError::new(format!("variable {var}"), e.to_string())
            .hint("store the token as the secret's whole value")
    })?;
    Ok(Some(ReadCredential {
        token,
        variable: var.to_owned(),
        named_by,
    }))
}

fn check_variable_name(what: &str, var: &str) -> Result<(), ConfigError> {
    let valid = var
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        Ok(())
    } else {
        Err(
            ConfigError::new(what, format!("{} is not a variable name", quote(var)))
                .hint("name the environment variable that holds the token, e.g. SONAR_TOKEN_NEW"),
        )
    }
}

/// The project keys: the file's, then `--project`'s, each checked as the scanner would, in
/// order and without repeats.
fn read_projects(
    args: &AuditArgs,
    inputs: &Inputs,
    cwd: &Path,
) -> Result<Vec<String>, ConfigError> {
    let mut keys: Vec<Sourced<String>> = Vec::new();
    if let Some(file) = inputs.get("projects-file") {
        let path = cwd.join(&file.value);
        let bytes = crate::read::file(
            &path,
            &file.source.to_string(),
            "the projects file",
            MAX_PROJECTS_FILE,
        )?;
        let text = String::from_utf8(bytes).map_err(|e| {
            ConfigError::new(
                path.display().to_string(),
                format!(
                    "is not valid UTF-8 (at byte {})",
                    e.utf8_error().valid_up_to()
                ),
            )
        })?;
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            keys.push(Sourced::new(
                line.to_owned(),
                Origin::Derived(format!("{} line {}", path.display(), i + 1)),
            ));
        }
    }
    for key in &args.projects {
        keys.push(Sourced::new(
            key.trim().to_owned(),
            Origin::Flag("project".into()),
        ));
    }
    if keys.len() > MAX_PROJECTS {
        return Err(ConfigError::new(
            "audit",
            format!(
                "{} projects listed; an audit checks {MAX_PROJECTS} at most",
                keys.len()
            ),
        )
        .hint("split the list and run one audit per part"));
    }
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(keys.len());
    for key in keys {
        let key = target::validate_project_key(key)?;
        if seen.insert(key.value.clone()) {
            out.push(key.value);
        }
    }
    Ok(out)
}

/// The JSON evidence on stdout, written to a temporary file first and then copied, so that
/// the whole document is never in memory.
fn json_to_stdout(report: &report::Report, out: &mut Output) -> std::io::Result<()> {
    let path = std::env::temp_dir().join(format!(
        "scantoken-audit-{}-{}.json",
        std::process::id(),
        uuid::Uuid::new_v4()
    ));
    let written = std::fs::OpenOptions::new()
        .create_new(true)
        .write(true)
        .open(&path)
        .and_then(|f| {
            // A fleet's evidence is hundreds of MB: written 1 MiB at a time, not 8 KiB.
            let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
            report.write_json(&mut w, out)?;
            w.flush()
        })
        .and_then(|()| std::fs::File::open(&path))
        .and_then(|mut f| std::io::copy(&mut f, out.raw_stdout()).map(|_| ()));
    let _ = std::fs::remove_file(&path);
    written
}

/// The report to stdout, the files, and the CI's summary; returns the exit code.
pub fn write_report(
    report: &report::Report,
    format: AuditFormat,
    json_file: Option<&Path>,
    markdown_file: Option<&Path>,
    env: &Env,
    out: &mut Output,
) -> Result<Exit, ConfigError> {
    if format != AuditFormat::Table {
        out.stdout_is_data();
    }
    let written = |path: &Path, what: &str, e: std::io::Error| {
        ConfigError::new(
            path.display().to_string(),
            format!("the {what} cannot be written: {e}"),
        )
        .hint("choose a path in a directory this job can write")
    };
    let github_summary = env
        .is("GITHUB_ACTIONS", "true")
        .then(|| env.non_empty("GITHUB_STEP_SUMMARY"))
        .flatten();
    let azure = env.is("TF_BUILD", "true");
    // Each rendering is built only when something reads it: at fleet size the JSON document
    // is the largest thing the audit holds.
    let markdown = (markdown_file.is_some()
        || format == AuditFormat::Markdown
        || github_summary.is_some()
        || azure)
        .then(|| out.redact(&report.markdown()));
    let markdown = markdown.as_deref().unwrap_or_default();
    // The JSON evidence is written element by element, straight to its file or stdout.
    if let Some(path) = json_file {
        let written_json = std::fs::File::create(path).and_then(|f| {
            // A fleet's evidence is hundreds of MB: written 1 MiB at a time, not 8 KiB.
            let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
            report.write_json(&mut w, out)?;
            w.flush()
        });
        written_json.map_err(|e| written(path, "JSON evidence", e))?;
    }
    if let Some(path) = markdown_file {
        std::fs::write(path, markdown).map_err(|e| written(path, "Markdown report", e))?;
    }
    let io = match format {
        AuditFormat::Table => out.report(&report.table()),
        AuditFormat::Markdown => out.report(markdown),
        // Through a temporary file: the document is written one element at a time, and
        // stdout is only free once it is (the writer reads the redaction state).
        AuditFormat::Json => json_to_stdout(report, out),
    };
    if let Err(e) = io {
        out.error(&format!("cannot write the output: {e}"));
        return Ok(Exit::Internal);
    }
    // The CI's summary page: GitHub reads a file it names; Azure uploads one we name.
    if let Some(summary) = github_summary {
        let appended = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(summary)
            .and_then(|mut f| f.write_all(markdown.as_bytes()));
        if let Err(e) = appended {
            out.say(&format!(
                "warning: the step summary (GITHUB_STEP_SUMMARY) cannot be written: {e}"
            ));
        }
    }
    if azure {
        let path = match markdown_file {
            Some(p) => p.to_path_buf(),
            None => {
                let dir = env
                    .non_empty("AGENT_TEMPDIRECTORY")
                    .map(PathBuf::from)
                    .unwrap_or_else(std::env::temp_dir);
                let p = dir.join(format!("scantoken-audit-{}.md", uuid::Uuid::new_v4()));
                std::fs::write(&p, markdown).map_err(|e| written(&p, "Markdown report", e))?;
                p
            }
        };
        let absolute = std::path::absolute(&path).unwrap_or(path);
        let line = format!(
            "##vso[task.uploadsummary]{}\n",
            crate::export::azure::escape_data(&absolute.display().to_string())
        );
        // A CI command: written past the line filter, escaped as the agent unescapes it.
        let (stdout, stderr) = out.raw_streams();
        let sink = if format == AuditFormat::Table {
            stdout
        } else {
            stderr
        };
        let _ = sink.write_all(line.as_bytes());
    }
    for line in report.annotations() {
        out.annotate("error", &line);
    }
    Ok(report.exit())
}

use std::io::Write;
