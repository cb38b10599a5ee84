//! `scantoken audit merge FILE...`: the JSON evidence of `audit --shard I/N` processes as one
//! report, with the same schema as a single process's.
//!
//! Refused (exit 2, naming the file): evidence that is not a shard's, shards of different N,
//! hosts, organizations, settings, token maps, tokens or listing credentials, the same shard
//! twice, and a missing shard (named). The merged report holds every shard's projects and
//! pairs, sorted by key; the fleet-wide findings (coverage, unused rules, tokens that scan
//! nothing, personal tokens) are computed again over the whole, by the same function a single
//! process uses ([`super::report::findings`]).
//!
//! Must not: trust a shard's own fleet-wide findings (each saw its share only).

use super::budget::BudgetStats;
use super::report::{self, Expiry, ListingEvidence, ProjectRow, Report, RuleRow, TokenRow};
use super::shard::Shard;
use super::spill::{PairRecord, Spill};
use super::{AuditFormat, MergeArgs};
use crate::error::{ConfigError, Exit};
use crate::output::Output;
use crate::sonar::{ProbeReport, Verdict, VerdictKind};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

fn bad(file: &Path, why: impl Into<String>) -> ConfigError {
    ConfigError::new(file.display().to_string(), why.into())
}

fn str_of<'a>(v: &'a Value, at: &str) -> &'a str {
    v.pointer(at).and_then(Value::as_str).unwrap_or_default()
}

fn u64_of(v: &Value, at: &str) -> u64 {
    v.pointer(at).and_then(Value::as_u64).unwrap_or_default()
}

fn opt_str(v: &Value, at: &str) -> Option<String> {
    v.pointer(at).and_then(Value::as_str).map(str::to_owned)
}

fn strings(v: &Value, at: &str) -> Vec<String> {
    v.pointer(at)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// What must be equal in every shard: everything but the share and what was found in it.
fn settings_of(v: &Value) -> Value {
    let mut host = v["host"].clone();
    if let Some(h) = host.as_object_mut() {
        h.remove("probe");
    }
    let rules: Vec<Value> = v["token_map"]["rules"]
        .as_array()
        .map(|rules| {
            rules
                .iter()
                .map(|r| {
                    let mut r = r.clone();
                    if let Some(o) = r.as_object_mut() {
                        o.remove("selected_projects");
                        o.remove("matched_projects");
                    }
                    r
                })
                .collect()
        })
        .unwrap_or_default();
    let tokens: Vec<Value> = v["tokens"]
        .as_array()
        .map(|ts| {
            ts.iter()
                .map(|t| {
                    serde_json::json!({
                        "id": t["id"], "fingerprint": t["fingerprint"], "kind": t["kind"],
                        "sources": t["sources"], "named": t["named"], "used_by_ci": t["used_by_ci"],
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let listing = v["listing"].as_object().map(|l| {
        serde_json::json!({
            "endpoint": l.get("endpoint"), "credential": l.get("credential"),
            "organization": l.get("organization"),
        })
    });
    serde_json::json!({
        "host": host,
        "settings": v["settings"],
        "token_map_source": v["token_map"]["source"],
        "rules": rules,
        "tokens": tokens,
        "listing": listing,
        "shard_count": v["shard"]["count"],
    })
}

/// The first difference between two settings values, as a path.
fn first_difference(a: &Value, b: &Value, at: String) -> String {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, va) in x {
                let vb = y.get(k).unwrap_or(&Value::Null);
                if va != vb {
                    return first_difference(va, vb, format!("{at}.{k}"));
                }
            }
            for k in y.keys() {
                if !x.contains_key(k) {
                    return format!("{at}.{k}");
                }
            }
            at
        }
        _ => at,
    }
}

type Sink<'a> = &'a mut dyn FnMut(Value) -> Result<(), String>;

/// Reads a shard's evidence as a stream: every field but `projects` and `pairs` into the
/// returned head (each token without its `can_scan` and `cannot_scan` lists, which the merge
/// derives from the pairs), and each element of `projects` and `pairs` handed to its sink
/// as it is read (or skipped without one). A shard of 10,000 projects is never one value.
struct Sections<'a> {
    keep_head: bool,
    projects: Option<Sink<'a>>,
    pairs: Option<Sink<'a>>,
}

struct Each<'a>(Sink<'a>);

impl<'de> serde::de::DeserializeSeed<'de> for Each<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Each<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a list")
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(v) = seq.next_element::<Value>()? {
            (self.0)(v).map_err(serde::de::Error::custom)?;
        }
        Ok(())
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for Sections<'_> {
    type Value = serde_json::Map<String, Value>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Sections<'_> {
    type Value = serde_json::Map<String, Value>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("scantoken's audit evidence (a JSON object)")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(
        mut self,
        mut map: A,
    ) -> Result<Self::Value, A::Error> {
        let mut head = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let sink = match key.as_str() {
                "projects" => Some(self.projects.as_mut()),
                "pairs" => Some(self.pairs.as_mut()),
                _ => None,
            };
            match sink {
                Some(Some(f)) => map.next_value_seed(Each(&mut **f))?,
                Some(None) => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
                None if self.keep_head => {
                    let mut v: Value = map.next_value()?;
                    if key == "tokens" {
                        for t in v.as_array_mut().into_iter().flatten() {
                            if let Some(t) = t.as_object_mut() {
                                t.remove("can_scan");
                                t.remove("cannot_scan");
                            }
                        }
                    }
                    head.insert(key, v);
                }
                None => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        Ok(head)
    }
}

fn open_evidence(
    path: &Path,
    cwd: &Path,
) -> Result<std::io::BufReader<std::fs::File>, ConfigError> {
    let full = cwd.join(path);
    let file = std::fs::File::open(&full).map_err(|e| {
        bad(path, format!("cannot be read: {e}"))
            .hint("give the files the shards wrote with --json-file")
    })?;
    Ok(std::io::BufReader::with_capacity(256 * 1024, file))
}

/// One pass over a shard's evidence.
fn stream(
    path: &Path,
    cwd: &Path,
    sections: Sections,
) -> Result<serde_json::Map<String, Value>, ConfigError> {
    use serde::de::DeserializeSeed;
    let mut d = serde_json::Deserializer::from_reader(open_evidence(path, cwd)?);
    let head = sections
        .deserialize(&mut d)
        .and_then(|h| d.end().map(|()| h))
        .map_err(|e| {
            bad(path, format!("is not JSON evidence: {e}"))
                .hint("give the files the shards wrote with --json-file")
        })?;
    Ok(head)
}

fn read_shard(path: &Path, cwd: &Path) -> Result<(Value, Shard), ConfigError> {
    let head = stream(
        path,
        cwd,
        Sections {
            keep_head: true,
            projects: None,
            pairs: None,
        },
    )?;
    let v = Value::Object(head);
    if v["schema_version"].as_u64() != Some(report::SCHEMA_VERSION) {
        return Err(bad(
            path,
            format!(
                "has schema_version {}, this scantoken reads {}",
                v["schema_version"],
                report::SCHEMA_VERSION
            ),
        )
        .hint("merge evidence written by the same scantoken version"));
    }
    let (Some(index), Some(count)) = (
        v.pointer("/shard/index").and_then(Value::as_u64),
        v.pointer("/shard/count").and_then(Value::as_u64),
    ) else {
        return Err(bad(path, "is not a shard's evidence (no shard I/N in it)")
            .hint("merge the evidence of `scantoken audit --shard I/N` runs"));
    };
    let shard = Shard::parse(&format!("{index}/{count}"))
        .map_err(|_| bad(path, format!("holds an impossible shard {index}/{count}")))?;
    Ok((v, shard))
}

/// Runs `scantoken audit merge`.
pub fn run(
    args: &MergeArgs,
    env: &crate::env::Env,
    cwd: &Path,
    out: &mut Output,
) -> Result<Exit, ConfigError> {
    let mut shards: Vec<(Value, Shard, &Path)> = Vec::new();
    for path in &args.files {
        let (v, shard) = read_shard(path, cwd)?;
        shards.push((v, shard, path.as_path()));
    }
    let (first, first_shard, first_path) = (&shards[0].0, shards[0].1, shards[0].2);
    let expected = settings_of(first);
    let mut seen: BTreeMap<u32, &Path> = BTreeMap::new();
    for (v, shard, path) in &shards {
        if shard.count != first_shard.count {
            return Err(bad(
                path,
                format!(
                    "is shard {shard}, but {} is shard {first_shard}: shards of different N",
                    first_path.display()
                ),
            )
            .hint("merge the shards of one run, all started with the same N"));
        }
        if let Some(other) = seen.insert(shard.index, path) {
            return Err(bad(
                path,
                format!("is shard {shard} again (so is {})", other.display()),
            )
            .hint("give each shard's evidence once"));
        }
        let mine = settings_of(v);
        if mine != expected {
            let what = first_difference(&expected, &mine, "settings".into());
            return Err(bad(
                path,
                format!(
                    "was run with other settings than {} ({what} differs): a shard of another audit",
                    first_path.display()
                ),
            )
            .hint("merge the shards of one run: same host, organization, token map, tokens, listing credential and options"));
        }
    }
    let missing: Vec<String> = (1..=first_shard.count)
        .filter(|i| !seen.contains_key(i))
        .map(|i| format!("{i}/{}", first_shard.count))
        .collect();
    if !missing.is_empty() {
        return Err(ConfigError::new(
            "audit merge",
            format!("shard(s) {} missing", missing.join(", ")),
        )
        .hint("give every shard's evidence; a failed shard job must be run again"));
    }
    let heads: Vec<&Value> = shards.iter().map(|(v, _, _)| v).collect();
    let files: Vec<&Path> = shards.iter().map(|(_, _, p)| *p).collect();
    let mut merged = merge(&heads, &files, cwd)?;
    merged.redact(out);
    super::write_report(
        &merged,
        args.format.unwrap_or(AuditFormat::Table),
        args.json_file.as_deref(),
        args.markdown_file.as_deref(),
        env,
        out,
    )
}

/// A probe as the evidence holds it (docs/audit.schema.json `$defs/probe`).
#[derive(serde::Deserialize)]
struct ProbeEvidence {
    role: crate::sonar::plan::Role,
    method: String,
    url: String,
    status: Option<u16>,
    message: Option<String>,
    error: Option<String>,
    attempts: u32,
    #[serde(default)]
    retries: Vec<String>,
    elapsed_ms: u64,
    proxy: Option<String>,
}

fn probe_of(v: &Value) -> Option<ProbeReport> {
    let p: ProbeEvidence = serde_json::from_value(v.clone()).ok()?;
    Some(ProbeReport {
        role: p.role,
        method: if p.method == "POST" { "POST" } else { "GET" },
        url: p.url,
        status: p.status,
        message: p.message,
        error: p.error,
        attempts: p.attempts,
        retries: p.retries,
        elapsed_ms: p.elapsed_ms,
        proxy: p.proxy,
    })
}

fn probes_of(v: &Value) -> Vec<ProbeReport> {
    v.as_array()
        .map(|a| a.iter().filter_map(probe_of).collect())
        .unwrap_or_default()
}

fn shared(names: &mut HashMap<String, std::sync::Arc<str>>, name: String) -> std::sync::Arc<str> {
    names
        .entry(name)
        .or_insert_with_key(|n| std::sync::Arc::from(n.as_str()))
        .clone()
}

fn verdict_kind(name: &str) -> VerdictKind {
    if name == super::probe::NOT_CHECKED {
        return VerdictKind::Unreachable;
    }
    serde_json::from_value(Value::String(name.to_owned())).unwrap_or(VerdictKind::ServerError)
}

/// The shards' evidence as one report (checked compatible by the caller): `heads` are the
/// shards' fields but their projects and pairs, which a second pass over `files` streams in.
fn merge(heads: &[&Value], files: &[&Path], cwd: &Path) -> Result<Report, ConfigError> {
    let shards = heads;
    let first = shards[0];
    let flavor = serde_json::from_value(first["host"]["flavor"].clone())
        .map_err(|e| ConfigError::new("audit merge", format!("host.flavor: {e}")))?;
    let token_ids: Vec<String> = first["tokens"]
        .as_array()
        .map(|ts| ts.iter().map(|t| str_of(t, "/id").to_owned()).collect())
        .unwrap_or_default();
    let token_index = |id: &str| token_ids.iter().position(|t| t == id);
    let mut spill = Spill::new().map_err(|e| {
        ConfigError::new(
            "audit merge",
            format!("cannot create a temporary file for the pairs: {e}"),
        )
        .hint("set TMPDIR to a directory this job can write")
    })?;
    // Projects and pairs as they come; sorted by key once all are in.
    // Both sinks of one pass read and add to them.
    let rows: std::cell::RefCell<Vec<ProjectRow>> = Default::default();
    let index: std::cell::RefCell<HashMap<String, usize>> = Default::default();
    // Organizations and rule variables, one shared copy each.
    let mut names: HashMap<String, std::sync::Arc<str>> = HashMap::new();
    let mut pairs: Vec<(usize, usize, PairRecord)> = Vec::new();
    for path in files {
        let mut on_project = |p: Value| -> Result<(), String> {
            let (mut rows, mut index) = (rows.borrow_mut(), index.borrow_mut());
            let key = str_of(&p, "/key").to_owned();
            if index.contains_key(&key) {
                return Err(format!(
                    "project {key} is in two shards: the shards are not of one run"
                ));
            }
            let token = p["token"].as_str().and_then(token_index);
            let ok = p["verdict"] == "ok" && token.is_some();
            index.insert(key.clone(), rows.len());
            rows.push(ProjectRow {
                key,
                organization: opt_str(&p, "/organization").map(|o| shared(&mut names, o)),
                rule_line: p["rule_line"].as_u64(),
                token_env: opt_str(&p, "/token_env").map(|v| shared(&mut names, v)),
                token,
                verdict: match str_of(&p, "/verdict") {
                    "ok" => std::borrow::Cow::Borrowed("ok"),
                    other => std::borrow::Cow::Owned(other.to_owned()),
                },
                // An ok project's cause is read back from its pair's evidence.
                text: ProjectRow::text_of(
                    if ok {
                        String::new()
                    } else {
                        str_of(&p, "/cause").to_owned()
                    },
                    str_of(&p, "/next_step").to_owned(),
                ),
                pair: None,
                undecided: p["undecided"].as_bool().unwrap_or(false),
                listed: p["listed"].as_bool().unwrap_or(false),
                on_server: p["on_server"].as_bool(),
            });
            Ok(())
        };
        let mut on_pair = |p: Value| -> Result<(), String> {
            let (mut rows, index) = (rows.borrow_mut(), index.borrow());
            let (Some(&pi), Some(ti)) = (
                index.get(str_of(&p, "/project")),
                token_index(str_of(&p, "/token")),
            ) else {
                return Err(format!(
                    "a pair names project {} or token {} that its shard does not hold",
                    str_of(&p, "/project"),
                    str_of(&p, "/token")
                ));
            };
            // The next step of a project's own pair is in the project (the pairs' evidence
            // does not repeat it).
            let own = rows[pi].token == Some(ti);
            let next_step = if own {
                rows[pi].take_next_step()
            } else {
                String::new()
            };
            let name = str_of(&p, "/verdict");
            let verdict = Verdict {
                verdict: verdict_kind(name),
                cause: str_of(&p, "/cause").to_owned(),
                next_step,
                probes: probes_of(&p["probes"]),
                warnings: Vec::new(),
                server_version: None,
            };
            let mut record = PairRecord::store(&mut spill, verdict, own);
            record.not_checked = name == super::probe::NOT_CHECKED;
            pairs.push((pi, ti, record));
            Ok(())
        };
        stream(
            path,
            cwd,
            Sections {
                keep_head: false,
                projects: Some(&mut on_project),
                pairs: Some(&mut on_pair),
            },
        )?;
    }
    spill.check().map_err(|e| {
        ConfigError::new(
            "audit merge",
            format!("the pairs' evidence could not be stored: {e}"),
        )
    })?;
    drop(index);
    let rows = rows.into_inner();
    // Sorted by key in place (each row carrying its old index in `pair` meanwhile); the
    // pairs follow their projects.
    let mut projects = rows;
    for (old, row) in projects.iter_mut().enumerate() {
        row.pair = Some(old);
    }
    projects.sort_by(|a, b| a.key.cmp(&b.key));
    let mut new_of = vec![0usize; projects.len()];
    for (new, row) in projects.iter_mut().enumerate() {
        new_of[row.pair.take().expect("set above")] = new;
    }
    for pair in &mut pairs {
        pair.0 = new_of[pair.0];
    }
    drop(new_of);
    pairs.sort_by_key(|(p, t, _)| (*p, *t));
    // Every project with every token, in order, as one process's report has them.
    let n = token_ids.len();
    if pairs.len() != projects.len() * n
        || !pairs
            .iter()
            .enumerate()
            .all(|(i, (p, t, _))| *p == i / n.max(1) && *t == i % n.max(1))
    {
        return Err(ConfigError::new(
            "audit merge",
            "the shards' pairs do not hold every project with every token: evidence edited or cut short",
        )
        .hint("merge the files the shards wrote, unchanged"));
    }
    let mut tokens_can: Vec<Vec<usize>> = vec![Vec::new(); token_ids.len()];
    let mut tokens_cannot: Vec<Vec<(usize, String)>> = vec![Vec::new(); token_ids.len()];
    for (i, (p, t, record)) in pairs.iter().enumerate() {
        if projects[*p].token == Some(*t) {
            projects[*p].pair = Some(i);
        }
        if record.name() == "ok" {
            tokens_can[*t].push(*p);
        } else {
            tokens_cannot[*t].push((*p, record.name().to_owned()));
        }
    }
    // Tokens: the shared probe from the first shard that has it; what each can scan, whole.
    let tokens: Vec<TokenRow> = first["tokens"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(ti, t)| {
            let of_each = |field: &'static str| {
                shards
                    .iter()
                    .filter_map(move |s| s["tokens"].get(ti).map(|x| &x[field]))
            };
            let expiry = t["expires"].as_object().map(|e| Expiry {
                date: e
                    .get("date")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                from: if e.get("from").and_then(Value::as_str) == Some("server") {
                    "server"
                } else {
                    "token-map"
                },
                days_left: e.get("days_left").and_then(Value::as_i64),
            });
            TokenRow {
                id: str_of(t, "/id").to_owned(),
                fingerprint: str_of(t, "/fingerprint").to_owned(),
                kind: serde_json::from_value(t["kind"].clone())
                    .unwrap_or(crate::secret::TokenKind::Unknown),
                sources: strings(t, "/sources"),
                named: t["named"].as_bool().unwrap_or(false),
                used_by_ci: t["used_by_ci"].as_bool().unwrap_or(false),
                valid: of_each("valid").find_map(Value::as_bool),
                probe: of_each("probe").find_map(probe_of),
                expiry,
                can_scan: std::mem::take(&mut tokens_can[ti]),
                cannot_scan: std::mem::take(&mut tokens_cannot[ti]),
            }
        })
        .collect();
    let rules: Vec<RuleRow> = first["token_map"]["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(ri, r)| {
            let sum = |field: &str| -> usize {
                shards
                    .iter()
                    .map(|s| u64_of(&s["token_map"]["rules"][ri], &format!("/{field}")) as usize)
                    .sum()
            };
            RuleRow {
                line: u64_of(r, "/line"),
                patterns: strings(r, "/projects"),
                token_env: str_of(r, "/token_env").to_owned(),
                organization: opt_str(r, "/organization"),
                expires: opt_str(r, "/expires"),
                selected: sum("selected_projects"),
                matched: sum("matched_projects"),
            }
        })
        .collect();
    let exact: Vec<Vec<String>> = rules
        .iter()
        .map(|r| {
            r.patterns
                .iter()
                .filter(|p| report::is_exact_key(p))
                .cloned()
                .collect()
        })
        .collect();
    let listing = first["listing"].as_object().map(|_| {
        let l = &first["listing"];
        ListingEvidence {
            endpoint: str_of(l, "/endpoint").to_owned(),
            credential_fingerprint: str_of(l, "/credential/fingerprint").to_owned(),
            credential_source: str_of(l, "/credential/source").to_owned(),
            organization: opt_str(l, "/organization"),
            started_at: shards
                .iter()
                .map(|s| str_of(s, "/listing/started_at"))
                .min()
                .unwrap_or_default()
                .to_owned(),
            elapsed_ms: shards
                .iter()
                .map(|s| u64_of(s, "/listing/elapsed_ms"))
                .max()
                .unwrap_or_default(),
            // Each shard lists the whole fleet: the pages one listing took.
            pages: u64_of(l, "/pages"),
            queries: u64_of(l, "/queries"),
            window: l["window"].as_u64(),
            total: u64_of(l, "/total"),
            projects: u64_of(l, "/projects"),
        }
    });
    let paced = shards
        .iter()
        .filter_map(|s| {
            s.pointer("/summary/paced_per_second")
                .and_then(Value::as_f64)
        })
        .reduce(f64::min);
    let mut report = Report {
        generated_at: shards
            .iter()
            .map(|s| str_of(s, "/generated_at"))
            .min()
            .unwrap_or_default()
            .to_owned(),
        elapsed_ms: shards
            .iter()
            .map(|s| u64_of(s, "/elapsed_ms"))
            .max()
            .unwrap_or_default(),
        flavor,
        web_url: str_of(first, "/host/web_url").to_owned(),
        api_url: str_of(first, "/host/api_url").to_owned(),
        organization: opt_str(first, "/host/organization"),
        concurrency: u64_of(first, "/settings/concurrency") as usize,
        deadline_s: u64_of(first, "/settings/deadline_s"),
        expiry_warning_days: first
            .pointer("/settings/expiry_warning_days")
            .and_then(Value::as_i64)
            .unwrap_or_default(),
        map_source: opt_str(first, "/token_map/source"),
        rules,
        server_probe: shards.iter().find_map(|s| probe_of(&s["host"]["probe"])),
        projects,
        tokens,
        pairs,
        spill,
        findings: Vec::new(),
        stats: BudgetStats {
            requests: shards.iter().map(|s| u64_of(s, "/summary/requests")).sum(),
            throttled: shards.iter().map(|s| u64_of(s, "/summary/throttled")).sum(),
            paced_per_second: paced,
        },
        deadline_reached: shards
            .iter()
            .any(|s| s.pointer("/summary/deadline_reached") == Some(&Value::Bool(true))),
        listing,
        shard: None,
        merged_shards: shards.len() as u32,
        max_rate: first.pointer("/settings/max_rate").and_then(Value::as_f64),
    };
    report.findings = report::findings(&report, &exact);
    Ok(report)
}
