//! The audit's report: per project (the rule and token CI would use, the verdict and its
//! evidence), per token (kind, fingerprint, sources, expiry, what it can and cannot scan), per
//! map rule, the findings an organization admin acts on, and the exit code. Rendered as a
//! table for the terminal, Markdown for a CI summary page, and JSON evidence following
//! `docs/audit.schema.json`. Never holds a token: tokens appear as their fingerprint.

use super::probe::Outcome;
use super::spill::{PairRecord, Spill};
use super::{budget::BudgetStats, NoToken, Plan};
use crate::error::Exit;
use crate::export::github::cell;
use crate::output::Output;
use crate::secret::TokenKind;
use crate::sonar::ProbeReport;
use crate::target::Flavor;
use serde_json::{json, Value};
use std::borrow::Cow;
use std::fmt::Write;
use std::sync::Arc;

/// Version of the JSON evidence's shape (`schema_version`); raised on any incompatible change.
pub const SCHEMA_VERSION: u64 = 2;
/// GitHub keeps 1 MiB of step summary per step: the Markdown stops adding project rows here.
const MARKDOWN_BUDGET: usize = 900 * 1024;
/// Project rows the terminal table shows at most (problems first): a table of 100,000 rows
/// helps no reader and would be the largest thing the audit holds.
const TABLE_ROWS: usize = 1000;

pub struct ProjectRow {
    pub key: String,
    /// Shared by every row of the organization (a fleet has one or a few).
    pub organization: Option<Arc<str>>,
    pub rule_line: Option<u64>,
    /// Shared by every row of the rule.
    pub token_env: Option<Arc<str>>,
    /// Index into `tokens`.
    pub token: Option<usize>,
    pub verdict: Cow<'static, str>,
    /// The cause and the next step, where the row has its own (boxed: at fleet size nearly
    /// every row is an `ok` read back from its pair's evidence, and has none). See
    /// [`ProjectRow::cause`].
    pub text: Option<Box<(String, String)>>,
    /// Index into `pairs` of the pair the verdict comes from: its own probes (project and
    /// scan) are the evidence; the shared ones are under the host and the token.
    pub pair: Option<usize>,
    /// The server could not be asked (or the deadline came first): nothing is known.
    pub undecided: bool,
    /// Named by --projects-file or --project.
    pub listed: bool,
    /// Whether the server's listing holds it (`None`: not read from the server).
    pub on_server: Option<bool>,
}

impl ProjectRow {
    /// The row's own cause and next step (`None` when both are empty).
    pub fn text_of(cause: String, next_step: String) -> Option<Box<(String, String)>> {
        (!cause.is_empty() || !next_step.is_empty()).then(|| Box::new((cause, next_step)))
    }

    pub fn cause(&self) -> &str {
        self.text.as_ref().map_or("", |t| t.0.as_str())
    }

    pub fn next_step(&self) -> &str {
        self.text.as_ref().map_or("", |t| t.1.as_str())
    }

    /// Takes the next step out (the merge hands it to the project's own pair).
    pub fn take_next_step(&mut self) -> String {
        let Some(text) = self.text.as_mut() else {
            return String::new();
        };
        let next = std::mem::take(&mut text.1);
        if text.0.is_empty() {
            self.text = None;
        }
        next
    }
}

pub struct Expiry {
    pub date: String,
    /// `server` (SonarQube Server's expiry header) or `token-map`.
    pub from: &'static str,
    pub days_left: Option<i64>,
}

pub struct TokenRow {
    pub id: String,
    pub fingerprint: String,
    pub kind: TokenKind,
    pub sources: Vec<String>,
    pub named: bool,
    pub used_by_ci: bool,
    pub valid: Option<bool>,
    pub probe: Option<ProbeReport>,
    pub expiry: Option<Expiry>,
    pub can_scan: Vec<usize>,
    /// Project index and verdict name.
    pub cannot_scan: Vec<(usize, String)>,
}

pub struct RuleRow {
    pub line: u64,
    pub patterns: Vec<String>,
    pub token_env: String,
    pub organization: Option<String>,
    pub expires: Option<String>,
    /// Projects CI would give this rule (the first rule that matches).
    pub selected: usize,
    /// Projects its patterns match, first or not.
    pub matched: usize,
}

/// How the projects were read from the server, for the evidence.
#[derive(Clone)]
pub struct ListingEvidence {
    pub endpoint: String,
    pub credential_fingerprint: String,
    pub credential_source: String,
    pub organization: Option<String>,
    pub started_at: String,
    pub elapsed_ms: u64,
    pub pages: u64,
    pub queries: u64,
    pub window: Option<u64>,
    /// What the server said it holds (its `paging.total`).
    pub total: u64,
    /// Keys the listing returned.
    pub projects: u64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Fails the audit (exit 1).
    Fail,
    /// The server could not be asked (exit 3 when nothing fails).
    Undecided,
    /// Worth acting on, fails nothing.
    Info,
}

impl Severity {
    fn name(self) -> &'static str {
        match self {
            Severity::Fail => "fail",
            Severity::Undecided => "undecided",
            Severity::Info => "info",
        }
    }
}

pub struct Finding {
    pub kind: &'static str,
    pub severity: Severity,
    pub message: String,
}

pub struct Report {
    pub generated_at: String,
    pub elapsed_ms: u64,
    pub flavor: Flavor,
    pub web_url: String,
    pub api_url: String,
    pub organization: Option<String>,
    pub concurrency: usize,
    pub deadline_s: u64,
    pub expiry_warning_days: i64,
    pub map_source: Option<String>,
    pub rules: Vec<RuleRow>,
    pub server_probe: Option<ProbeReport>,
    pub projects: Vec<ProjectRow>,
    pub tokens: Vec<TokenRow>,
    /// Every (project, token) pair: project index, token index, verdict (its evidence in
    /// `spill`).
    pub pairs: Vec<(usize, usize, PairRecord)>,
    pub spill: Spill,
    pub findings: Vec<Finding>,
    pub stats: BudgetStats,
    pub deadline_reached: bool,
    pub listing: Option<ListingEvidence>,
    pub shard: Option<super::shard::Shard>,
    /// Shards merged into this report (`audit merge`), else 0.
    pub merged_shards: u32,
    pub max_rate: Option<f64>,
}

fn is_ok(verdict: &str) -> bool {
    verdict == "ok"
}

/// `YYYY-MM-DDTHH:MM:SSZ` of a moment.
pub fn rfc3339(t: std::time::SystemTime) -> String {
    let secs = t
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from a day number (proleptic Gregorian), inverse of sonar::parse_day.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// A personal or user token where a scoped one would do (the same rule as `verify`'s warning).
fn is_personal(flavor: Flavor, kind: TokenKind) -> bool {
    match flavor {
        Flavor::Server => kind == TokenKind::ServerUser,
        _ => kind == TokenKind::Unknown,
    }
}

impl Report {
    /// The report; the plan's projects are moved into it.
    pub fn build(
        plan: &mut Plan,
        mut outcome: Outcome,
        stats: BudgetStats,
        mut spill: Spill,
    ) -> Report {
        let today = crate::date::today();
        let mut tokens: Vec<TokenRow> = plan
            .tokens
            .iter()
            .enumerate()
            .map(|(t, entry)| {
                let server = outcome.token_expiration[t].clone().map(|d| Expiry {
                    days_left: crate::date::parse_day(&d).map(|day| day - today),
                    date: d.get(..10).unwrap_or(&d).to_owned(),
                    from: "server",
                });
                let map = entry.credential.expires.as_ref().map(|(d, day)| Expiry {
                    date: d.clone(),
                    from: "token-map",
                    days_left: Some(day - today),
                });
                TokenRow {
                    id: format!("t{}", t + 1),
                    fingerprint: entry.credential.token.fingerprint(),
                    kind: entry.credential.token.kind(),
                    sources: entry.sources.clone(),
                    named: entry.named,
                    used_by_ci: entry.used_by_ci,
                    valid: outcome.token_valid[t],
                    probe: outcome.token_probes[t].take(),
                    expiry: server.or(map),
                    can_scan: Vec::new(),
                    cannot_scan: Vec::new(),
                }
            })
            .collect();
        let n_tokens = plan.tokens.len();
        let mut pairs = Vec::with_capacity(outcome.pairs.len());
        for (i, pair) in std::mem::take(&mut outcome.pairs).into_iter().enumerate() {
            let (p, t) = (i / n_tokens, i % n_tokens);
            let v = pair.unwrap_or_else(|| {
                PairRecord::store(&mut spill, super::probe::not_checked(plan.deadline), true)
            });
            let name = v.name();
            if is_ok(name) {
                tokens[t].can_scan.push(p);
            } else {
                tokens[t].cannot_scan.push((p, name.to_owned()));
            }
            pairs.push((p, t, v));
        }
        // One shared name per rule's variable and per organization.
        let envs: Vec<Arc<str>> = plan
            .map
            .iter()
            .flat_map(|m| m.rules.iter())
            .map(|r| Arc::from(r.token_env.as_str()))
            .collect();
        let mut orgs: std::collections::HashMap<String, Arc<str>> = Default::default();
        let mut entries = std::mem::take(&mut plan.projects);
        let plan: &Plan = plan;
        let pair = |p: usize, t: usize| &pairs[p * n_tokens + t].2;
        let mut to_row = |p: usize, mut project: super::ProjectEntry| {
            let rule = project
                .rule
                .and_then(|r| plan.map.as_ref().map(|m| &m.rules[r]));
            let organization = project.organization.take().map(|o| {
                orgs.entry(o)
                    .or_insert_with_key(|o| Arc::from(o.as_str()))
                    .clone()
            });
            let key = std::mem::take(&mut project.key);
            let row = |token: Option<usize>, verdict: &'static str, cause: String, next: &str| {
                ProjectRow {
                    key: key.clone(),
                    organization: organization.clone(),
                    rule_line: rule.map(|r| r.line),
                    token_env: project.rule.map(|r| envs[r].clone()),
                    token,
                    verdict: Cow::Borrowed(verdict),
                    text: ProjectRow::text_of(cause, next.to_owned()),
                    pair: None,
                    undecided: false,
                    listed: project.listed,
                    on_server: project.on_server,
                }
            };
            let map_source = plan.map.as_ref().map(|m| m.source.as_str()).unwrap_or("");
            let from_pair = |t: usize| {
                let v = pair(p, t);
                let mut r = row(Some(t), v.name(), v.cause().to_owned(), v.next_step());
                r.pair = Some(p * n_tokens + t);
                r.undecided = v.undecided();
                r
            };
            match &project.token {
                    Err(NoToken::NoRule) => row(
                        None,
                        "no-rule",
                        format!("no rule of the token map {map_source} matches {key}: its pipeline stops with a configuration error"),
                        "add the project to a rule's projects, or end the map with a catch-all rule (projects: [\"*\"])",
                    ),
                    Err(NoToken::Unset { variable }) => row(
                        None,
                        "token-missing",
                        format!("the rule at line {} names variable {variable}, which is empty or not set in this job", rule.map(|r| r.line).unwrap_or(0)),
                        &format!("map the secret into the audit step as {variable} (and check that the pipelines have it too)"),
                    ),
                    Err(NoToken::NoDefault) => {
                        // No map and no default token: the named tokens are the candidates.
                        let ok = (0..n_tokens).find(|&t| is_ok(pair(p, t).name()));
                        match ok.or(if n_tokens > 0 { Some(0) } else { None }) {
                            Some(t) => from_pair(t),
                            None => row(None, "token-missing", "no token to check".into(), "give --token-map or --token-env"),
                        }
                    }
                    Ok(t) => {
                        let t = *t;
                        let expired = plan.tokens[t].credential.expires.as_ref().filter(|(_, day)| *day < today);
                        if let Some(conflict) = &project.organization_conflict {
                            row(Some(t), "organization-mismatch", conflict.clone(), "fix the rule's organization, or the organization setting")
                        } else if let (Some((date, _)), Some(rule)) = (expired, rule) {
                            row(Some(t), "token-rejected", format!("the token of the rule at line {} expired on {date}, as the rule says: CI refuses it", rule.line), "create a new token, store it in the secret, and update the rule's expires date")
                        } else {
                            from_pair(t)
                        }
                    }
                }
        };
        // From the last entry to the first, the plan's list shrinking as the report's grows:
        // the two are never both whole in memory.
        let mut projects: Vec<ProjectRow> = Vec::with_capacity(entries.len());
        while let Some(entry) = entries.pop() {
            projects.push(to_row(entries.len(), entry));
            if entries.len() % 8192 == 0 {
                entries.shrink_to_fit();
            }
        }
        projects.reverse();
        let mut report = Report {
            generated_at: rfc3339(outcome.started_at),
            elapsed_ms: outcome.elapsed.as_millis() as u64,
            flavor: plan.target.flavor,
            web_url: plan.target.web_url.value.clone(),
            api_url: plan.target.api_url.value.clone(),
            organization: plan.target.organization.as_ref().map(|o| o.value.clone()),
            concurrency: plan.concurrency,
            deadline_s: plan.deadline.as_secs(),
            expiry_warning_days: plan.expiry_warning_days,
            map_source: plan.map.as_ref().map(|m| m.source.clone()),
            rules: Vec::new(),
            server_probe: outcome.server_probe.take(),
            projects,
            tokens,
            pairs,
            spill,
            findings: Vec::new(),
            stats,
            deadline_reached: outcome.deadline_reached,
            listing: plan.listing.as_ref().map(|l| ListingEvidence {
                endpoint: l.endpoint.to_owned(),
                credential_fingerprint: l.fingerprint.clone(),
                credential_source: l.source.clone(),
                organization: l.organization.clone(),
                started_at: rfc3339(l.started_at),
                elapsed_ms: l.elapsed.as_millis() as u64,
                pages: l.pages,
                queries: l.queries,
                window: l.window.map(|w| w as u64),
                total: l.total,
                projects: l.found,
            }),
            shard: plan.shard,
            merged_shards: 0,
            max_rate: plan.max_rate,
        };
        report.rules = plan
            .map
            .iter()
            .flat_map(|m| m.rules.iter())
            .map(|rule| RuleRow {
                line: rule.line,
                patterns: rule.patterns.clone(),
                token_env: rule.token_env.clone(),
                organization: rule.organization.clone(),
                expires: rule.expires.as_ref().map(|(d, _)| d.clone()),
                // Each rule has a line of its own: the rows CI gives this rule.
                selected: report
                    .projects
                    .iter()
                    .filter(|p| p.rule_line == Some(rule.line))
                    .count(),
                matched: report
                    .projects
                    .iter()
                    .filter(|p| rule.matches(&p.key))
                    .count(),
            })
            .collect();
        let exact: Vec<Vec<String>> = plan
            .map
            .iter()
            .flat_map(|m| m.rules.iter())
            .map(|r| {
                r.patterns
                    .iter()
                    .filter(|p| is_exact_key(p))
                    .cloned()
                    .collect()
            })
            .collect();
        report.findings = findings(&report, &exact);
        report
    }

    /// Every known secret taken out of what came from outside (server messages, errors).
    pub fn redact(&mut self, out: &Output) {
        let r = |s: &mut String| *s = out.redact(s);
        let probe = |p: &mut ProbeReport| {
            p.url = out.redact(&p.url);
            p.message.iter_mut().for_each(|m| *m = out.redact(m));
            p.error.iter_mut().for_each(|m| *m = out.redact(m));
            p.retries.iter_mut().for_each(|m| *m = out.redact(m));
        };
        for text in self.projects.iter_mut().filter_map(|row| row.text.as_mut()) {
            r(&mut text.0);
            r(&mut text.1);
        }
        // The pairs' evidence was redacted before it was stored (probe::record).
        for t in &mut self.tokens {
            t.probe.iter_mut().for_each(probe);
        }
        self.server_probe.iter_mut().for_each(probe);
        for f in &mut self.findings {
            r(&mut f.message);
        }
    }

    pub fn exit(&self) -> Exit {
        if self.findings.iter().any(|f| f.severity == Severity::Fail) {
            Exit::VerificationFailed
        } else if self
            .findings
            .iter()
            .any(|f| f.severity == Severity::Undecided)
        {
            Exit::Unreachable
        } else {
            Exit::Ok
        }
    }

    /// The failing findings, for the CI's annotations: the first ten, then a count.
    pub fn annotations(&self) -> Vec<String> {
        let failing: Vec<&Finding> = self
            .findings
            .iter()
            .filter(|f| f.severity != Severity::Info)
            .collect();
        let mut lines: Vec<String> = failing
            .iter()
            .take(10)
            .map(|f| format!("audit: {}", f.message))
            .collect();
        if failing.len() > 10 {
            lines.push(format!(
                "audit: and {} more finding(s): see the report",
                failing.len() - 10
            ));
        }
        lines
    }

    fn token_label(&self, t: usize) -> String {
        let token = &self.tokens[t];
        format!("{} {}", token.id, token.fingerprint)
    }

    fn counts(&self) -> (usize, usize) {
        let covered = self.projects.iter().filter(|p| is_ok(&p.verdict)).count();
        (covered, self.projects.len() - covered)
    }

    fn headline(&self) -> String {
        let (covered, not) = self.counts();
        let expiring = self
            .findings
            .iter()
            .filter(|f| f.kind == "token-expiring" || f.kind == "token-expired")
            .count();
        let result = match self.exit() {
            Exit::Ok => "every project can be scanned by its token".to_owned(),
            Exit::Unreachable => "the server could not be asked about every pair".to_owned(),
            _ => format!(
                "{not} project(s) cannot be scanned by their token; {expiring} token(s) expire within {} days or have expired",
                self.expiry_warning_days
            ),
        };
        format!(
            "{} of {} project(s) covered, {} token(s), {} pair(s) in {:.1} s: {result}",
            covered,
            self.projects.len(),
            self.tokens.len(),
            self.pairs.len(),
            self.elapsed_ms as f64 / 1000.0
        )
    }

    fn expiry_text(e: &Option<Expiry>) -> String {
        match e {
            None => "unknown".into(),
            Some(e) => match e.days_left {
                Some(d) if d < 0 => format!("{} (expired, {})", e.date, e.from),
                Some(d) => format!("{} (in {d} d, {})", e.date, e.from),
                None => format!("{} ({})", e.date, e.from),
            },
        }
    }

    /// The table for a terminal.
    pub fn table(&self) -> String {
        let mut s = String::new();
        let org = self
            .organization
            .as_deref()
            .map(|o| format!(", organization {o}"))
            .unwrap_or_default();
        writeln!(
            s,
            "scantoken audit: {} {}{org}, {}",
            self.flavor.describe(),
            self.web_url,
            self.generated_at
        )
        .unwrap();
        writeln!(s, "{}", self.headline()).unwrap();
        if let Some(l) = &self.listing {
            writeln!(s, "{}", listing_line(l)).unwrap();
        }
        if let Some(sh) = self.shard {
            writeln!(s, "shard {sh}: the projects whose key hashes to it").unwrap();
        }
        let ci_token = |row: &ProjectRow| {
            let mut text = match row.token {
                Some(t) => self.token_label(t),
                None => "-".into(),
            };
            if let (Some(line), Some(var)) = (row.rule_line, &row.token_env) {
                text = format!("{text} (line {line}, {var})");
            }
            text
        };
        let mut rows: Vec<[String; 4]> = vec![[
            "PROJECT".into(),
            "TOKEN CI USES".into(),
            "VERDICT".into(),
            "CAUSE".into(),
        ]];
        // Problems first, then the rest in the order listed; at fleet size, the first
        // TABLE_ROWS (the evidence has them all).
        let mut order: Vec<&ProjectRow> = self.projects.iter().collect();
        order.sort_by_key(|r| is_ok(&r.verdict));
        let more = order.len().saturating_sub(TABLE_ROWS);
        order.truncate(TABLE_ROWS);
        for row in order {
            let cause = if is_ok(&row.verdict) {
                String::new()
            } else {
                row.cause().to_owned()
            };
            rows.push([
                row.key.clone(),
                ci_token(row),
                row.verdict.to_string(),
                cause,
            ]);
        }
        s.push_str("\nProjects\n");
        columns(&mut s, &rows);
        if more > 0 {
            writeln!(
                s,
                "  … and {more} more project(s) (all after the problems): see the JSON evidence (--json-file)"
            )
            .unwrap();
        }
        let mut rows: Vec<[String; 6]> = vec![[
            "TOKEN".into(),
            "KIND".into(),
            "SOURCES".into(),
            "EXPIRES".into(),
            "CAN SCAN".into(),
            "CANNOT SCAN".into(),
        ]];
        for t in &self.tokens {
            rows.push([
                format!("{} {}", t.id, t.fingerprint),
                kind_name(t.kind).into(),
                t.sources.join("; "),
                Self::expiry_text(&t.expiry),
                t.can_scan.len().to_string(),
                list_cannot(&self.projects, &t.cannot_scan, 5),
            ]);
        }
        s.push_str("\nTokens\n");
        columns(&mut s, &rows);
        if !self.findings.is_empty() {
            s.push_str("\nFindings\n");
            for f in &self.findings {
                writeln!(s, "  [{}] {}", f.severity.name(), f.message).unwrap();
            }
        }
        let throttled = if self.stats.throttled > 0 {
            format!(", {} throttled (429)", self.stats.throttled)
        } else {
            String::new()
        };
        writeln!(
            s,
            "\n{} request(s){throttled}, {} in flight at most; exit {}",
            self.stats.requests,
            self.concurrency,
            self.exit().code()
        )
        .unwrap();
        s
    }

    /// Markdown for a CI summary page.
    pub fn markdown(&self) -> String {
        let mut md = String::new();
        let icon = match self.exit() {
            Exit::Ok => "✅",
            Exit::Unreachable => "⚠️",
            _ => "❌",
        };
        writeln!(
            md,
            "### {icon} scantoken audit\n\n{}\n",
            cell(&self.headline())
        )
        .unwrap();
        md.push_str("| | |\n|---|---|\n");
        writeln!(
            md,
            "| Target | {} {} |",
            self.flavor.describe(),
            cell(&self.web_url)
        )
        .unwrap();
        if let Some(o) = &self.organization {
            writeln!(md, "| Organization | {} |", cell(o)).unwrap();
        }
        if let Some(m) = &self.map_source {
            writeln!(md, "| Token map | {} |", cell(m)).unwrap();
        }
        writeln!(md, "| Generated | {} |", self.generated_at).unwrap();
        if let Some(l) = &self.listing {
            writeln!(
                md,
                "| Projects from the server | {} |",
                cell(&listing_line(l))
            )
            .unwrap();
        }
        if let Some(sh) = self.shard {
            writeln!(md, "| Shard | {sh} |").unwrap();
        }
        if self.merged_shards > 0 {
            writeln!(md, "| Merged | {} shards |", self.merged_shards).unwrap();
        }
        if !self.findings.is_empty() {
            md.push_str("\n#### Findings\n\n");
            for f in &self.findings {
                writeln!(md, "- **{}** {}", f.severity.name(), cell(&f.message)).unwrap();
            }
        }
        md.push_str("\n#### Tokens\n\n| Token | Kind | Sources | Expires | Can scan | Cannot scan |\n|---|---|---|---|---|---|\n");
        for t in &self.tokens {
            writeln!(
                md,
                "| `{}` {} | {} | {} | {} | {} | {} |",
                t.id,
                t.fingerprint,
                kind_name(t.kind),
                cell(&t.sources.join("; ")),
                cell(&Self::expiry_text(&t.expiry)),
                t.can_scan.len(),
                cell(&list_cannot(&self.projects, &t.cannot_scan, 10))
            )
            .unwrap();
        }
        md.push_str(
            "\n#### Projects\n\n| Project | Token CI uses | Verdict | Cause |\n|---|---|---|---|\n",
        );
        let mut order: Vec<&ProjectRow> = self.projects.iter().collect();
        order.sort_by_key(|r| is_ok(&r.verdict));
        let mut shown = 0;
        for row in &order {
            if md.len() > MARKDOWN_BUDGET {
                break;
            }
            let token = match (row.token, row.rule_line) {
                (Some(t), Some(l)) => format!("{} (rule line {l})", self.token_label(t)),
                (Some(t), None) => self.token_label(t),
                (None, Some(l)) => format!("none (rule line {l})"),
                (None, None) => "none".into(),
            };
            let cause = if is_ok(&row.verdict) { "" } else { row.cause() };
            writeln!(
                md,
                "| `{}` | {} | `{}` | {} |",
                cell(&row.key),
                cell(&token),
                row.verdict,
                cell(cause)
            )
            .unwrap();
            shown += 1;
        }
        if shown < order.len() {
            writeln!(
                md,
                "\n{} more project(s) (all after the problems) are in the JSON evidence.",
                order.len() - shown
            )
            .unwrap();
        }
        md.push('\n');
        md.replace("##vso[", "##vso␣[")
    }

    /// The JSON evidence's fields before its four lists (docs/audit.schema.json).
    fn json_head(&self) -> Value {
        let (covered, not_covered) = self.counts();
        json!({
            "schema_version": SCHEMA_VERSION,
            "tool": { "name": "scantoken", "version": env!("CARGO_PKG_VERSION") },
            "generated_at": self.generated_at,
            "elapsed_ms": self.elapsed_ms,
            "exit_code": self.exit().code(),
            "host": {
                "flavor": self.flavor,
                "web_url": self.web_url,
                "api_url": self.api_url,
                "organization": self.organization,
                "probe": self.server_probe,
            },
            "settings": {
                "concurrency": self.concurrency,
                "deadline_s": self.deadline_s,
                "expiry_warning_days": self.expiry_warning_days,
                "max_rate": self.max_rate,
            },
            "shard": self.shard.map(|s| json!({ "index": s.index, "count": s.count })),
            "merged_shards": self.merged_shards,
            "listing": self.listing.as_ref().map(|l| json!({
                "endpoint": l.endpoint,
                "credential": { "fingerprint": l.credential_fingerprint, "source": l.credential_source },
                "organization": l.organization,
                "started_at": l.started_at,
                "elapsed_ms": l.elapsed_ms,
                "pages": l.pages,
                "queries": l.queries,
                "window": l.window,
                "total": l.total,
                "projects": l.projects,
            })),
            "summary": {
                "projects": self.projects.len(),
                "covered": covered,
                "not_covered": not_covered,
                "uncovered": self.findings.iter().filter(|f| f.kind == "project-uncovered").count(),
                "unlisted": self.projects.iter().filter(|p| !p.listed && p.on_server == Some(true)).count(),
                "not_on_server": self.projects.iter().filter(|p| p.on_server == Some(false)).count(),
                "tokens": self.tokens.len(),
                "pairs": self.pairs.len(),
                "requests": self.stats.requests,
                "throttled": self.stats.throttled,
                "paced_per_second": self.stats.paced_per_second,
                "deadline_reached": self.deadline_reached,
            },
            "token_map": self.map_source.as_ref().map(|source| json!({
                "source": source,
                "rules": self.rules.iter().map(|r| json!({
                    "line": r.line,
                    "projects": r.patterns,
                    "token_env": r.token_env,
                    "organization": r.organization,
                    "expires": r.expires,
                    "selected_projects": r.selected,
                    "matched_projects": r.matched,
                })).collect::<Vec<_>>(),
            })),
        })
    }

    /// A pair's stored evidence.
    fn stored(&self, i: usize) -> std::io::Result<super::spill::Stored> {
        let at = self.pairs[i]
            .2
            .stored
            .ok_or_else(|| std::io::Error::other("a pair's evidence was not stored"))?;
        self.spill.get(at)
    }

    /// Every token of the audit whose pair with project `p` is `ok` (the pairs are in
    /// project order, every token for each: `Report::build` and the merge make them so).
    pub fn covered_by(&self, p: usize) -> impl Iterator<Item = usize> + '_ {
        let n = self.tokens.len();
        self.pairs[p * n..(p + 1) * n]
            .iter()
            .filter(|(_, _, r)| is_ok(r.name()))
            .map(|(_, t, _)| *t)
    }

    /// A project's element of the JSON evidence, rendered.
    fn project_text(&self, out: &Output, p: usize, r: &ProjectRow) -> std::io::Result<String> {
        let stored = r.pair.map(|i| self.stored(i)).transpose()?;
        let none = json!([]);
        let (cause, next_step, probes) = match &stored {
            Some(s) => (s.cause.as_str(), s.next_step.as_str(), &s.probes),
            None => (r.cause(), r.next_step(), &none),
        };
        Ok(out.json_text(&ProjectJson {
            cause,
            covered_by: self
                .covered_by(p)
                .map(|t| self.tokens[t].id.as_str())
                .collect(),
            key: &r.key,
            listed: r.listed,
            next_step,
            on_server: r.on_server,
            organization: r.organization.as_deref(),
            probes,
            rule_line: r.rule_line,
            token: r.token.map(|t| self.tokens[t].id.as_str()),
            token_env: r.token_env.as_deref(),
            undecided: r.undecided,
            verdict: &r.verdict,
        }))
    }

    /// A token's fields but its two lists of projects (see [`Report::write_token`]).
    fn token_value(&self, t: &TokenRow) -> Value {
        json!({
            "id": t.id,
            "fingerprint": t.fingerprint,
            "kind": t.kind,
            "sources": t.sources,
            "named": t.named,
            "used_by_ci": t.used_by_ci,
            "valid": t.valid,
            "probe": t.probe,
            "expires": t.expiry.as_ref().map(|e| json!({
                "date": e.date, "from": e.from, "days_left": e.days_left,
            })),
        })
    }

    /// A token, its lists of projects (one entry per project of the fleet) written one key
    /// at a time, never as one value.
    fn write_token(
        &self,
        w: &mut dyn std::io::Write,
        out: &Output,
        t: &TokenRow,
    ) -> std::io::Result<()> {
        let head = out.json_text(&self.token_value(t)).replace('\n', "\n    ");
        let head = head.trim_end();
        let head = head.strip_suffix('}').unwrap_or(head).trim_end();
        write!(w, "{head},\n      \"can_scan\": [")?;
        for (i, &p) in t.can_scan.iter().enumerate() {
            if i > 0 {
                w.write_all(b", ")?;
            }
            w.write_all(out.json_text(self.projects[p].key.as_str()).as_bytes())?;
        }
        write!(w, "],\n      \"cannot_scan\": [")?;
        for (i, (p, v)) in t.cannot_scan.iter().enumerate() {
            if i > 0 {
                w.write_all(b", ")?;
            }
            let item = json!({ "project": self.projects[*p].key, "verdict": v });
            w.write_all(out.json_text(&item).replace('\n', " ").as_bytes())?;
        }
        write!(w, "]\n    }}")
    }

    /// A pair's element of the JSON evidence, rendered.
    fn pair_text(&self, out: &Output, i: usize) -> std::io::Result<String> {
        let (p, t, v) = &self.pairs[i];
        let s = self.stored(i)?;
        Ok(out.json_text(&PairJson {
            cause: &s.cause,
            probes: &s.probes,
            project: &self.projects[*p].key,
            token: &self.tokens[*t].id,
            verdict: v.name(),
        }))
    }

    /// Writes the JSON evidence, one element at a time (never the whole document in
    /// memory), redacted and escaped as [`Output::json_text`] does.
    pub fn write_json(&self, w: &mut dyn std::io::Write, out: &Output) -> std::io::Result<()> {
        let indented = |text: String| text.replace('\n', "\n  ");
        w.write_all(b"{\n")?;
        if let Value::Object(head) = self.json_head() {
            for (k, v) in head {
                writeln!(
                    w,
                    "  {}: {},",
                    Value::String(k),
                    indented(out.json_text(&v))
                )?;
            }
        }
        fn list<T>(
            w: &mut dyn std::io::Write,
            name: &str,
            items: &[T],
            text: impl Fn(usize, &T) -> std::io::Result<String>,
            last: bool,
        ) -> std::io::Result<()> {
            write!(w, "  \"{name}\": [")?;
            for (i, item) in items.iter().enumerate() {
                let sep = if i == 0 { "\n    " } else { ",\n    " };
                let text = text(i, item)?.replace('\n', "\n    ");
                write!(w, "{sep}{text}")?;
            }
            let close = if items.is_empty() { "]" } else { "\n  ]" };
            writeln!(w, "{close}{}", if last { "" } else { "," })
        }
        list(
            w,
            "projects",
            &self.projects,
            |p, r| self.project_text(out, p, r),
            false,
        )?;
        write!(w, "  \"tokens\": [")?;
        for (i, t) in self.tokens.iter().enumerate() {
            w.write_all(if i == 0 { b"\n    " } else { b",\n    " })?;
            self.write_token(w, out, t)?;
        }
        writeln!(w, "{},", if self.tokens.is_empty() { "]" } else { "\n  ]" })?;
        list(
            w,
            "pairs",
            &self.pairs,
            |i, _| self.pair_text(out, i),
            false,
        )?;
        let finding = |_, f: &Finding| {
            Ok(out.json_text(&json!({
                "kind": f.kind,
                "severity": f.severity.name(),
                "message": f.message,
            })))
        };
        list(w, "findings", &self.findings, finding, true)?;
        w.write_all(b"}\n")
    }
}

/// A project's element of the JSON evidence. Written as a struct, not built as a `Value`
/// (a fleet has 100,000 of them); its fields are in alphabetical order, the order of a JSON
/// object's keys as serde_json prints them, so the evidence reads as it always has.
#[derive(serde::Serialize)]
struct ProjectJson<'a> {
    cause: &'a str,
    covered_by: Vec<&'a str>,
    key: &'a str,
    listed: bool,
    next_step: &'a str,
    on_server: Option<bool>,
    organization: Option<&'a str>,
    probes: &'a Value,
    rule_line: Option<u64>,
    token: Option<&'a str>,
    token_env: Option<&'a str>,
    undecided: bool,
    verdict: &'a str,
}

/// A pair's element of the JSON evidence (see [`ProjectJson`]).
#[derive(serde::Serialize)]
struct PairJson<'a> {
    cause: &'a str,
    probes: &'a Value,
    project: &'a str,
    token: &'a str,
    verdict: &'a str,
}

fn listing_line(l: &ListingEvidence) -> String {
    format!(
        "{} project(s) listed by {} with the read credential {} ({}), {} page(s), {} quer(ies), at {}",
        l.projects, l.endpoint, l.credential_fingerprint, l.credential_source, l.pages, l.queries, l.started_at
    )
}

fn kind_name(kind: TokenKind) -> &'static str {
    match kind {
        TokenKind::ScopedOrganization => "scoped organization (sqco_)",
        TokenKind::ServerUser => "user (squ_)",
        TokenKind::ServerGlobalAnalysis => "global analysis (sqa_)",
        TokenKind::ServerProjectAnalysis => "project analysis (sqp_)",
        TokenKind::Personal => "personal (40 hex digits)",
        TokenKind::Unknown => "no format Sonar issues",
    }
}

fn list_cannot(projects: &[ProjectRow], cannot: &[(usize, String)], max: usize) -> String {
    if cannot.is_empty() {
        return "0".into();
    }
    let mut text = cannot
        .iter()
        .take(max)
        .map(|(p, v)| format!("{} ({v})", projects[*p].key))
        .collect::<Vec<_>>()
        .join(", ");
    if cannot.len() > max {
        text.push_str(&format!(", … {} in all", cannot.len()));
    }
    text
}

/// Aligned columns, each cell cut at 80 characters.
fn columns<const N: usize>(s: &mut String, rows: &[[String; N]]) {
    let cut = |c: &str| -> String {
        if c.chars().count() > 80 {
            c.chars().take(79).chain(['…']).collect()
        } else {
            c.to_owned()
        }
    };
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|c| cut(c)).collect())
        .collect();
    let widths: Vec<usize> = (0..N)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    for r in &rows {
        let mut line = String::from(" ");
        for (i, c) in r.iter().enumerate() {
            line.push(' ');
            line.push_str(c);
            if i + 1 < N {
                line.push_str(&" ".repeat(widths[i] - c.chars().count() + 1));
            }
        }
        writeln!(s, "{}", line.trim_end()).unwrap();
    }
}

/// A pattern with no glob or regex syntax: it names one project key.
pub fn is_exact_key(pattern: &str) -> bool {
    !pattern.starts_with("re:") && !pattern.contains(['*', '?', '[', ']', '{', '}'])
}

/// Up to `max` keys, then a count.
fn some_keys<'a>(keys: impl Iterator<Item = &'a str>, max: usize) -> String {
    let all: Vec<&str> = keys.collect();
    let mut text = all.iter().take(max).copied().collect::<Vec<_>>().join(", ");
    if all.len() > max {
        text.push_str(&format!(", … {} in all", all.len()));
    }
    text
}

/// Every finding, from the report alone (so that `audit merge` computes them over the
/// merged shards exactly as one process would). `exact`: each rule's patterns that name one
/// key.
pub fn findings(report: &Report, exact: &[Vec<String>]) -> Vec<Finding> {
    let mut out = Vec::new();
    // The whole fleet is in view: one process over all of it, or the merge of every shard.
    let whole = report.listing.is_some() && report.shard.is_none();
    for row in &report.projects {
        if is_ok(&row.verdict) {
            continue;
        }
        let undecided = row.undecided;
        out.push(Finding {
            kind: match &*row.verdict {
                "no-rule" => "project-without-rule",
                "token-missing" => "token-not-set",
                _ if undecided => "project-undecided",
                _ => "project-not-covered",
            },
            severity: if undecided {
                Severity::Undecided
            } else {
                Severity::Fail
            },
            message: format!("{}: {}: {}", row.key, row.verdict, row.cause()),
        });
    }
    // Coverage: a project on the server that no token of the audit can scan.
    for (p, row) in report.projects.iter().enumerate() {
        if row.on_server == Some(false) || report.covered_by(p).next().is_some() || row.undecided {
            continue;
        }
        if report.listing.is_none() {
            continue;
        }
        let change = match (row.rule_line, &row.token_env) {
            (Some(line), Some(var)) => {
                let r = report.rules.iter().find(|r| r.line == line);
                format!(
                    "the rule at line {line} ({}) gives it {var}: scope that token to {} (or give the rule a token that can scan it)",
                    r.map(|r| r.patterns.join(", ")).unwrap_or_default(),
                    row.key
                )
            }
            _ if report.map_source.is_some() => format!(
                "no rule of the token map matches {}: add one whose token can scan it",
                row.key
            ),
            _ => "give the audit the token that should scan it (--token-map or --token-env)"
                .to_owned(),
        };
        out.push(Finding {
            kind: "project-uncovered",
            severity: Severity::Fail,
            message: format!(
                "{}: uncovered: no token of the audit can scan it; to change: {change}",
                row.key
            ),
        });
    }
    // The listing against the server's own count.
    if let Some(l) = report.listing.as_ref().filter(|l| l.projects != l.total) {
        out.push(Finding {
            kind: "listing-incomplete",
            severity: Severity::Info,
            message: format!(
                "the server counted {} project(s) and the listing returned {}: projects created or deleted while it ran, or keys its split could not reach; run the audit again",
                l.total, l.projects
            ),
        });
    }
    // The lists against the server.
    if report.listing.is_some() {
        let any_listed = report.projects.iter().any(|p| p.listed);
        let unlisted = report
            .projects
            .iter()
            .filter(|p| !p.listed && p.on_server == Some(true));
        let n = unlisted.clone().count();
        if any_listed && n > 0 {
            out.push(Finding {
                kind: "project-unlisted",
                severity: Severity::Info,
                message: format!(
                    "{n} project(s) on the server are in no list (--projects-file, --project): {}",
                    some_keys(unlisted.map(|p| p.key.as_str()), 10)
                ),
            });
        }
        let missing = report
            .projects
            .iter()
            .filter(|p| p.listed && p.on_server == Some(false));
        let n = missing.clone().count();
        if n > 0 {
            out.push(Finding {
                kind: "project-not-on-server",
                severity: Severity::Info,
                message: format!(
                    "{n} listed project key(s) are not on the server (deleted, renamed or mistyped): {}",
                    some_keys(missing.map(|p| p.key.as_str()), 10)
                ),
            });
        }
    }
    // The map: rules that select nothing, and rules naming projects the server lacks.
    let scope = if report.listing.is_some() {
        "project on the server"
    } else {
        "listed project"
    };
    for (r, rule) in report.rules.iter().enumerate() {
        if rule.selected == 0 && report.shard.is_none() {
            let why = if rule.matched > 0 {
                format!("is shadowed: every {scope} it matches is taken by an earlier rule")
            } else {
                format!("matches no {scope}")
            };
            out.push(Finding {
                kind: "rule-unused",
                severity: Severity::Info,
                message: format!(
                    "the rule at line {} ({}, {}) {why}",
                    rule.line,
                    rule.patterns.join(", "),
                    rule.token_env
                ),
            });
        }
        if whole {
            let gone: Vec<&str> = exact
                .get(r)
                .into_iter()
                .flatten()
                .filter(|k| {
                    !report
                        .projects
                        .iter()
                        .any(|p| p.key == **k && p.on_server == Some(true))
                })
                .map(String::as_str)
                .collect();
            if !gone.is_empty() {
                out.push(Finding {
                    kind: "rule-names-missing-project",
                    severity: Severity::Info,
                    message: format!(
                        "the rule at line {} ({}) names project(s) the server does not have (deleted?): {}",
                        rule.line,
                        rule.token_env,
                        gone.join(", ")
                    ),
                });
            }
        }
    }
    for (t, token) in report.tokens.iter().enumerate() {
        let label = format!(
            "token {} {} ({})",
            token.id,
            token.fingerprint,
            token.sources.join("; ")
        );
        if token.used_by_ci && is_personal(report.flavor, token.kind) {
            let uses: Vec<usize> = report
                .projects
                .iter()
                .enumerate()
                .filter(|(_, r)| r.token == Some(t))
                .map(|(p, _)| p)
                .collect();
            let better = report.tokens.iter().find(|o| {
                o.kind == TokenKind::ScopedOrganization
                    && uses.iter().all(|p| o.can_scan.contains(p))
                    && !uses.is_empty()
            });
            let kind = if report.flavor == Flavor::Server {
                "a user token: it carries all its owner's rights; a project or global analysis token would do"
            } else {
                "a personal token: it stops working when its owner leaves; a scoped organization token (sqco_) would do"
            };
            let hint = better
                .map(|o| {
                    format!(
                        "; token {} {} ({}) can already scan all {} of its project(s)",
                        o.id,
                        o.fingerprint,
                        o.sources.join("; "),
                        uses.len()
                    )
                })
                .unwrap_or_default();
            out.push(Finding {
                kind: "personal-token",
                severity: Severity::Info,
                message: format!("{label} is {kind}{hint}"),
            });
        }
        if let Some(e) = &token.expiry {
            match e.days_left {
                Some(d) if d < 0 => out.push(Finding {
                    kind: "token-expired",
                    severity: Severity::Fail,
                    message: format!("{label} expired on {} ({})", e.date, e.from),
                }),
                Some(d) if d <= report.expiry_warning_days => out.push(Finding {
                    kind: "token-expiring",
                    severity: Severity::Fail,
                    message: format!(
                        "{label} expires on {} (in {d} day(s), {}): create its successor now",
                        e.date, e.from
                    ),
                }),
                _ => {}
            }
        }
        if whole && token.valid == Some(true) && token.can_scan.is_empty() {
            out.push(Finding {
                kind: "token-scans-nothing",
                severity: Severity::Info,
                message: format!(
                    "{label} can scan no project on the server: the projects it was scoped to may have been deleted; revoke it, or scope it to live projects"
                ),
            });
        }
        if token.named && token.valid == Some(false) {
            out.push(Finding {
                kind: "token-rejected",
                severity: Severity::Info,
                message: format!("{label} is rejected by the server: invalid, revoked or expired"),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The evidence's elements are written from structs whose field order is the order of a
    /// JSON object's keys as serde_json prints a `Value` (sorted): a field added out of order
    /// would change the evidence's text.
    #[test]
    fn evidence_structs_print_their_fields_as_a_json_object_would() {
        let probes = json!([{"role": "scan", "status": 200}]);
        let project = ProjectJson {
            cause: "c",
            covered_by: vec!["t1"],
            key: "k",
            listed: true,
            next_step: "n",
            on_server: Some(true),
            organization: Some("o"),
            probes: &probes,
            rule_line: Some(3),
            token: Some("t1"),
            token_env: Some("V"),
            undecided: false,
            verdict: "ok",
        };
        let pair = PairJson {
            cause: "c",
            probes: &probes,
            project: "k",
            token: "t1",
            verdict: "ok",
        };
        for text in [
            serde_json::to_string_pretty(&project).unwrap(),
            serde_json::to_string_pretty(&pair).unwrap(),
        ] {
            let as_object: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(serde_json::to_string_pretty(&as_object).unwrap(), text);
        }
    }
}
