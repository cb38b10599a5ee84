//! What the emulated Sonar knows: organizations, projects and tokens (YAML or JSON).
//!
//! A scenario is checked when it is read ([`Scenario::validate`]), so a typo in a test's
//! scenario fails loudly instead of silently granting nothing.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Flavor {
    Server,
    Cloud,
}

/// SonarQube Cloud's instances (global and US; emulator/README.md). Informational: shown at startup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Region {
    Global,
    Us,
}

impl Region {
    pub fn code(self) -> &'static str {
        match self {
            Region::Global => "global",
            Region::Us => "us",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub flavor: Flavor,
    /// Cloud only.
    #[serde(default)]
    pub region: Option<Region>,
    #[serde(default = "default_version")]
    pub server_version: String,
    /// Cloud only.
    #[serde(default)]
    pub organizations: Vec<String>,
    #[serde(default)]
    pub projects: Vec<Project>,
    #[serde(default)]
    pub tokens: Vec<TokenSpec>,
    #[serde(default)]
    pub faults: Vec<crate::faults::FaultRule>,
    /// Generated projects: thousands from a line each (see [`Fleet`]), added to `projects`
    /// when the scenario is read.
    #[serde(default)]
    pub fleet: Vec<Fleet>,
    /// Answer 429 past this many requests per second (see [`Throttle`]).
    #[serde(default)]
    pub throttle: Option<Throttle>,
    /// How deep the listings page (`p × ps` at most). `api/components/search_projects` keeps
    /// to Elasticsearch's result window (10,000, `SearchOptions.java`) unless this says
    /// otherwise; `api/projects/search` pages its database with no cap
    /// (`project/ws/SearchAction.java`) unless this sets one, standing for a server that caps
    /// it (SonarQube Cloud's code is not public). A small value lets a test cross a cap with a
    /// small fleet.
    #[serde(default)]
    pub result_window: Option<usize>,
    /// Projects deleted while the emulator runs (`DELETE /__emulator/projects/KEY`): gone from
    /// every answer, as a deleted project is.
    #[serde(skip)]
    pub deleted: std::sync::Arc<std::sync::RwLock<std::collections::HashSet<String>>>,
    /// Project key → index in `projects`, built on first use: a fleet is looked up by key
    /// thousands of times.
    #[serde(skip)]
    index: std::sync::OnceLock<std::collections::HashMap<String, usize>>,
}

/// Many projects from one line: keys `prefix` + a zero-padded number from 1 to `count`
/// (`acme_svc-0001` … `acme_svc-1000`), each added to the `projects` of the tokens listed in
/// `scanned_by` (scan scope for user and personal tokens).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fleet {
    pub prefix: String,
    pub count: usize,
    /// Cloud only: the owning organization.
    #[serde(default)]
    pub organization: Option<String>,
    #[serde(default)]
    pub visibility: Visibility,
    #[serde(default)]
    pub cache: bool,
    /// Token values that may scan every project of this fleet.
    #[serde(default)]
    pub scanned_by: Vec<String>,
}

/// A rate limit: per second of the emulator's clock (a fixed window), the first
/// `per_second` requests are answered, the others get 429 with `Retry-After: retry_after`.
/// Control paths do not count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Throttle {
    pub per_second: u32,
    #[serde(default = "one_second")]
    pub retry_after: u64,
}

fn one_second() -> u64 {
    1
}

/// Sonar's Elasticsearch result window (`SearchOptions.MAX_RETURNABLE_RESULTS`).
pub const RESULT_WINDOW: usize = 10_000;

/// The largest fleet a scenario may generate.
pub const MAX_FLEET: usize = 1_000_000;

fn default_version() -> String {
    "10.7.0.96327".into()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Visibility {
    #[default]
    Private,
    Public,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Project {
    pub key: String,
    /// Cloud only: the owning organization.
    #[serde(default)]
    pub organization: Option<String>,
    #[serde(default)]
    pub visibility: Visibility,
    /// The first one is the main branch.
    #[serde(default = "default_branches")]
    pub branches: Vec<String>,
    /// Whether an analysis cache exists.
    #[serde(default)]
    pub cache: bool,
}

fn default_branches() -> Vec<String> {
    vec!["main".into()]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TokenKind {
    /// `sqco_`: scoped organization token (Cloud only).
    Sot,
    /// A SonarQube Cloud personal token (same rights model as `user`).
    Personal,
    /// `squ_`: SonarQube Server user token.
    User,
    /// `sqa_`: global analysis token (Server only).
    GlobalAnalysis,
    /// `sqp_`: project analysis token (Server only).
    ProjectAnalysis,
}

impl TokenKind {
    /// Tokens that stand for a user: they browse and scan what `browse` and `scan` say.
    pub fn is_user(self) -> bool {
        matches!(self, TokenKind::User | TokenKind::Personal)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum TokenState {
    #[default]
    Active,
    Expired,
    Revoked,
}

/// A list of project keys, or every project (`all`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Scope {
    #[default]
    None,
    All,
    Keys(Vec<String>),
}

impl Scope {
    pub fn contains(&self, key: &str) -> bool {
        match self {
            Scope::None => false,
            Scope::All => true,
            Scope::Keys(keys) => keys.iter().any(|k| k == key),
        }
    }

    fn is_set(&self) -> bool {
        *self != Scope::None
    }
}

impl<'de> Deserialize<'de> for Scope {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Word(String),
            Keys(Vec<String>),
        }
        match Raw::deserialize(d)? {
            Raw::Word(w) if w == "all" => Ok(Scope::All),
            Raw::Word(w) => Err(serde::de::Error::custom(format!(
                "expected a list of project keys or \"all\", got {w:?}"
            ))),
            Raw::Keys(k) => Ok(Scope::Keys(k)),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenSpec {
    pub value: String,
    pub kind: TokenKind,
    /// SOT: the owning organization.
    #[serde(default)]
    pub organization: Option<String>,
    /// SOT and project analysis tokens: the projects they may scan.
    #[serde(default)]
    pub projects: Scope,
    /// User and personal tokens: projects their owner may browse.
    #[serde(default)]
    pub browse: Scope,
    /// User and personal tokens: projects their owner may scan (`all` = global Scan).
    #[serde(default)]
    pub scan: Scope,
    #[serde(default)]
    pub state: TokenState,
    /// Server: sent as `SonarQube-Authentication-Token-Expiration`. A date (`2026-12-01`,
    /// sent as written), or `+Nd`: N days after today (UTC), as `YYYY-MM-DD`.
    #[serde(default)]
    pub expires: Option<String>,
    /// User and personal tokens: the owner administers (Server: Administer System, which
    /// `api/projects/search` needs; Cloud: Administer on `organization`, or on every
    /// organization when the token names none).
    #[serde(default)]
    pub admin: bool,
}

impl Scenario {
    pub fn from_yaml_str(text: &str) -> anyhow::Result<Scenario> {
        let mut s: Scenario =
            serde_saphyr::from_str(text).map_err(|e| anyhow::anyhow!("invalid scenario: {e}"))?;
        s.expand_fleet()?;
        s.validate()?;
        Ok(s)
    }

    pub fn from_json_str(text: &str) -> anyhow::Result<Scenario> {
        let mut s: Scenario =
            serde_json::from_str(text).map_err(|e| anyhow::anyhow!("invalid scenario: {e}"))?;
        s.expand_fleet()?;
        s.validate()?;
        Ok(s)
    }

    /// Turns each `fleet` entry into projects (and token scopes); the entries are consumed.
    pub fn expand_fleet(&mut self) -> anyhow::Result<()> {
        let total: usize = self.fleet.iter().map(|f| f.count).sum();
        anyhow::ensure!(
            total <= MAX_FLEET,
            "invalid scenario: fleet: {total} projects, more than {MAX_FLEET}"
        );
        for f in std::mem::take(&mut self.fleet) {
            let width = f.count.to_string().len();
            let keys: Vec<String> = (1..=f.count)
                .map(|i| format!("{}{i:0width$}", f.prefix))
                .collect();
            for value in &f.scanned_by {
                let Some(t) = self.tokens.iter_mut().find(|t| &t.value == value) else {
                    anyhow::bail!(
                        "invalid scenario: fleet {:?}: scanned_by names a token that is not in `tokens`",
                        f.prefix
                    );
                };
                let scope = if t.kind.is_user() {
                    &mut t.scan
                } else {
                    &mut t.projects
                };
                match scope {
                    Scope::All => {}
                    Scope::None => *scope = Scope::Keys(keys.clone()),
                    Scope::Keys(k) => k.extend(keys.iter().cloned()),
                }
            }
            self.projects.extend(keys.into_iter().map(|key| Project {
                key,
                organization: f.organization.clone(),
                visibility: f.visibility,
                branches: default_branches(),
                cache: f.cache,
            }));
        }
        self.index = std::sync::OnceLock::new();
        Ok(())
    }

    /// Reads a `.json` file as JSON, anything else as YAML.
    pub fn load(path: &std::path::Path) -> anyhow::Result<Scenario> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let parsed = if path.extension().is_some_and(|e| e == "json") {
            Scenario::from_json_str(&text)
        } else {
            Scenario::from_yaml_str(&text)
        };
        parsed.map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }

    /// Checks what serde cannot: references between the parts, and fields that would be
    /// ignored for this flavor or token kind.
    pub fn validate(&self) -> anyhow::Result<()> {
        use anyhow::bail;
        let cloud = self.flavor == Flavor::Cloud;
        if !cloud && (self.region.is_some() || !self.organizations.is_empty()) {
            bail!("invalid scenario: `region` and `organizations` are for flavor cloud only");
        }
        let mut seen = std::collections::HashSet::new();
        for p in &self.projects {
            if !seen.insert(p.key.as_str()) {
                bail!("invalid scenario: project {:?} is listed twice", p.key);
            }
            if p.branches.is_empty() {
                bail!("invalid scenario: project {:?} has no branch", p.key);
            }
            match (&p.organization, cloud) {
                (None, true) => bail!(
                    "invalid scenario: project {:?} needs an organization (flavor cloud)",
                    p.key
                ),
                (Some(o), true) if !self.organizations.contains(o) => bail!(
                    "invalid scenario: project {:?}: organization {o:?} is not in `organizations`",
                    p.key
                ),
                (Some(_), false) => bail!(
                    "invalid scenario: project {:?}: `organization` is for flavor cloud only",
                    p.key
                ),
                _ => {}
            }
        }
        for (i, t) in self.tokens.iter().enumerate() {
            let name = format!("tokens[{i}] ({:?})", t.kind);
            if self.tokens[..i].iter().any(|u| u.value == t.value) {
                bail!("invalid scenario: {name}: the same token value is listed twice");
            }
            if t.kind == TokenKind::Sot {
                match &t.organization {
                    None => bail!("invalid scenario: {name}: a SOT needs its organization"),
                    Some(o) if cloud && !self.organizations.contains(o) => bail!(
                        "invalid scenario: {name}: organization {o:?} is not in `organizations`"
                    ),
                    _ => {}
                }
            }
            if let Some(e) = &t.expires {
                if e.starts_with('+') && relative_days(e).is_none() {
                    bail!("invalid scenario: {name}: expires {e:?}: write a date or +Nd (days from today)");
                }
            }
            let scoped = matches!(t.kind, TokenKind::Sot | TokenKind::ProjectAnalysis);
            if !scoped && t.projects.is_set() {
                bail!("invalid scenario: {name}: `projects` is for sot and project-analysis tokens; user tokens take `scan` and `browse`");
            }
            if t.admin && !t.kind.is_user() {
                bail!("invalid scenario: {name}: `admin` is for user and personal tokens");
            }
            if !t.kind.is_user() && (t.scan.is_set() || t.browse.is_set()) {
                bail!("invalid scenario: {name}: `scan` and `browse` are for user and personal tokens; scoped tokens take `projects`");
            }
        }
        anyhow::ensure!(
            self.result_window != Some(0),
            "invalid scenario: result_window must be at least 1"
        );
        if let Some(t) = &self.throttle {
            anyhow::ensure!(
                t.per_second >= 1,
                "invalid scenario: throttle: per_second must be at least 1"
            );
        }
        anyhow::ensure!(
            self.fleet.is_empty(),
            "invalid scenario: fleet entries not expanded (read scenarios with Scenario::from_yaml_str, from_json_str or load)"
        );
        for rule in &self.faults {
            rule.validate()
                .map_err(|e| anyhow::anyhow!("invalid scenario: faults: {e}"))?;
        }
        Ok(())
    }

    pub fn project(&self, key: &str) -> Option<&Project> {
        let index = self.index.get_or_init(|| {
            self.projects
                .iter()
                .enumerate()
                .map(|(i, p)| (p.key.clone(), i))
                .collect()
        });
        index
            .get(key)
            .map(|&i| &self.projects[i])
            .filter(|p| !self.is_deleted(&p.key))
    }

    /// Deletes a project from every later answer; false when there is no such project.
    pub fn delete_project(&self, key: &str) -> bool {
        if self.project(key).is_none() {
            return false;
        }
        self.deleted.write().unwrap().insert(key.to_owned());
        true
    }

    pub fn is_deleted(&self, key: &str) -> bool {
        let deleted = self.deleted.read().unwrap();
        !deleted.is_empty() && deleted.contains(key)
    }

    /// The projects that exist now (deleted ones left out), in the scenario's order.
    pub fn live_projects(&self) -> impl Iterator<Item = &Project> {
        let deleted = self.deleted.read().unwrap().clone();
        self.projects
            .iter()
            .filter(move |p| deleted.is_empty() || !deleted.contains(&p.key))
    }

    pub fn has_organization(&self, key: &str) -> bool {
        self.organizations.iter().any(|o| o == key)
    }

    /// The token, if it exists, is active and is usable on this flavor (a SOT only on Cloud,
    /// analysis tokens only on Server, user and personal tokens on both).
    pub fn valid_token(&self, value: &str) -> Option<&TokenSpec> {
        let t = self.tokens.iter().find(|t| t.value == value)?;
        let usable_here = match t.kind {
            TokenKind::Sot => self.flavor == Flavor::Cloud,
            TokenKind::GlobalAnalysis | TokenKind::ProjectAnalysis => self.flavor == Flavor::Server,
            TokenKind::User | TokenKind::Personal => true,
        };
        (t.state == TokenState::Active && usable_here).then_some(t)
    }
}

/// `+Nd` → N.
fn relative_days(text: &str) -> Option<i64> {
    text.strip_prefix('+')?.strip_suffix('d')?.parse().ok()
}

/// `YYYY-MM-DD` of a day counted from 1970-01-01 (proleptic Gregorian calendar).
pub fn civil_date(days_since_epoch: i64) -> String {
    // Shift to eras of 400 years starting on March 1st, year 0.
    let z = days_since_epoch + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

impl TokenSpec {
    /// The expiry date to announce, with `+Nd` counted from today.
    pub fn expiry_date(&self) -> Option<String> {
        let e = self.expires.as_ref()?;
        Some(match relative_days(e) {
            Some(n) => {
                let today = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs() / 86_400) as i64;
                civil_date(today + n)
            }
            None => e.clone(),
        })
    }

    /// Execute Analysis on the project.
    pub fn can_scan(&self, project: &Project) -> bool {
        match self.kind {
            TokenKind::Sot => {
                self.organization == project.organization && self.projects.contains(&project.key)
            }
            TokenKind::GlobalAnalysis => true,
            TokenKind::ProjectAnalysis => self.projects.contains(&project.key),
            TokenKind::User | TokenKind::Personal => self.scan.contains(&project.key),
        }
    }

    /// Global Scan: may analyse any project, and create a missing one on Server.
    pub fn has_global_scan(&self) -> bool {
        match self.kind {
            TokenKind::GlobalAnalysis => true,
            TokenKind::User | TokenKind::Personal => self.scan == Scope::All,
            TokenKind::Sot | TokenKind::ProjectAnalysis => false,
        }
    }

    /// Browse on the project (everybody browses a public project; a SOT and analysis tokens
    /// browse nothing else).
    pub fn can_browse(&self, project: &Project) -> bool {
        project.visibility == Visibility::Public
            || (self.kind.is_user() && self.browse.contains(&project.key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLOUD: &str = r#"
flavor: cloud
region: us
organizations: [acme, other]
projects:
  - {key: pay, organization: acme}
  - {key: docs, organization: acme, visibility: public, branches: [main, dev], cache: true}
tokens:
  - {value: a, kind: sot, organization: acme, projects: [pay]}
  - {value: b, kind: personal, scan: all, browse: [docs], expires: "2030-01-01"}
  - {value: c, kind: sot, organization: acme, projects: all, state: revoked}
faults:
  - {path: /api, status: 503, retry_after: 1, times: 2}
"#;

    #[test]
    fn yaml_and_json_read_the_same_model() {
        let s = Scenario::from_yaml_str(CLOUD).unwrap();
        assert_eq!(s.region, Some(Region::Us));
        assert_eq!(s.server_version, "10.7.0.96327");
        assert_eq!(s.project("docs").unwrap().branches, ["main", "dev"]);
        assert_eq!(s.project("pay").unwrap().branches, ["main"]);
        assert_eq!(s.tokens[0].projects, Scope::Keys(vec!["pay".into()]));
        assert_eq!(s.tokens[1].scan, Scope::All);
        assert_eq!(s.faults[0].times, Some(2));
        let j = Scenario::from_json_str(
            r#"{"flavor":"server","projects":[{"key":"k","cache":true}],
                "tokens":[{"value":"t","kind":"global-analysis"}]}"#,
        )
        .unwrap();
        assert!(j.project("k").unwrap().cache);
        assert!(j.valid_token("t").unwrap().has_global_scan());
    }

    #[test]
    fn token_validity_by_state_and_flavor() {
        let s = Scenario::from_yaml_str(CLOUD).unwrap();
        assert!(s.valid_token("a").is_some());
        assert!(s.valid_token("c").is_none(), "revoked");
        assert!(s.valid_token("zzz").is_none(), "unknown");
        let server = Scenario::from_yaml_str(
            "flavor: server\ntokens: [{value: s, kind: sot, organization: x, projects: all}]",
        )
        .unwrap();
        assert!(
            server.valid_token("s").is_none(),
            "a SOT is only valid on Cloud"
        );
    }

    #[test]
    fn permissions() {
        let s = Scenario::from_yaml_str(CLOUD).unwrap();
        let (pay, docs) = (s.project("pay").unwrap(), s.project("docs").unwrap());
        let sot = s.valid_token("a").unwrap();
        assert!(sot.can_scan(pay) && !sot.can_scan(docs));
        assert!(!sot.can_browse(pay) && sot.can_browse(docs), "public");
        let personal = s.valid_token("b").unwrap();
        assert!(personal.can_scan(pay) && !personal.can_browse(pay));
    }

    #[test]
    fn expiry_dates() {
        for (days, date) in [
            (0, "1970-01-01"),
            (59, "1970-03-01"),
            (11_016, "2000-02-29"),
            (20_513, "2026-03-01"),
            (-1, "1969-12-31"),
        ] {
            assert_eq!(civil_date(days), date);
        }
        let s = Scenario::from_yaml_str(CLOUD).unwrap();
        assert_eq!(s.tokens[1].expiry_date().as_deref(), Some("2030-01-01"));
        let t = TokenSpec {
            expires: Some("+3d".into()),
            ..s.tokens[1].clone()
        };
        let today = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
            / 86_400;
        assert_eq!(t.expiry_date(), Some(civil_date(today + 3)));
        assert!(s.tokens[0].expiry_date().is_none());
    }

    #[test]
    fn a_fleet_is_generated_from_one_line() {
        let s = Scenario::from_yaml_str(
            "flavor: cloud\norganizations: [acme]\nthrottle: {per_second: 50}\n\
             tokens: [{value: a, kind: sot, organization: acme, projects: [other]}]\n\
             projects: [{key: other, organization: acme}]\n\
             fleet: [{prefix: svc-, count: 1000, organization: acme, scanned_by: [a]}]",
        )
        .unwrap();
        assert_eq!(s.projects.len(), 1001);
        assert_eq!(
            s.project("svc-0001").unwrap().organization.as_deref(),
            Some("acme")
        );
        assert!(s.project("svc-1000").is_some() && s.project("svc-1001").is_none());
        let t = s.valid_token("a").unwrap();
        assert!(
            t.can_scan(s.project("svc-0500").unwrap()) && t.can_scan(s.project("other").unwrap())
        );
        assert_eq!(
            s.throttle,
            Some(Throttle {
                per_second: 50,
                retry_after: 1
            })
        );
        let e = Scenario::from_yaml_str(
            "flavor: server\nfleet: [{prefix: k, count: 2, scanned_by: [nobody]}]",
        )
        .unwrap_err();
        assert!(e.to_string().contains("scanned_by"), "{e}");
    }

    #[test]
    fn mistakes_are_refused() {
        for (text, says) in [
            ("flavor: server\nbogus: 1", "bogus"),
            ("flavor: cloudy", "cloudy"),
            ("flavor: cloud\nregion: eu", "eu"),
            ("flavor: server\nregion: us", "cloud only"),
            (
                "flavor: cloud\nprojects: [{key: k}]",
                "needs an organization",
            ),
            (
                "flavor: cloud\norganizations: [a]\nprojects: [{key: k, organization: b}]",
                "not in `organizations`",
            ),
            (
                "flavor: server\nprojects: [{key: k}, {key: k}]",
                "listed twice",
            ),
            (
                "flavor: server\ntokens: [{value: t, kind: user, projects: all}]",
                "`projects` is for",
            ),
            (
                "flavor: cloud\ntokens: [{value: t, kind: sot, organization: a, scan: all}]",
                "not in `organizations`",
            ),
            (
                "flavor: server\ntokens: [{value: t, kind: project-analysis, scan: all}]",
                "`scan` and `browse` are for",
            ),
            (
                "flavor: cloud\ntokens: [{value: t, kind: sot, projects: all}]",
                "needs its organization",
            ),
            (
                "flavor: server\ntokens: [{value: t, kind: user, scan: some}]",
                "\"all\"",
            ),
            ("flavor: server\nfaults: [{path: /x}]", "no action"),
            (
                "flavor: server\ntokens: [{value: t, kind: user, expires: +3days}]",
                "+Nd",
            ),
        ] {
            let err = Scenario::from_yaml_str(text).unwrap_err().to_string();
            assert!(err.contains(says), "{text:?}: {err}");
        }
    }
}
