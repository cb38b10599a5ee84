//! The answers: a pure function from (scenario, request) to (status, body, headers),
//! following Sonar's rules for SonarQube Server and SonarQube Cloud (emulator/README.md,
//! "Sonar behaviour it follows", names the sources).
//!
//! Each endpoint is one function returning [`Answer`]: `Err` carries an error reply, so the
//! checks read top to bottom in the order Sonar makes them, each ending in `?`.
//!
//! The scanner bootstrap calls (`analysis/version`, `analysis/jres`, `analysis/engine` and
//! the downloads) serve the stand-in JRE and engine of [`crate::bootstrap`].

use crate::bootstrap;
use crate::faults::ListenerKind;
use crate::scenario::{Flavor, Project, Scenario, TokenSpec};
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub struct Request<'a> {
    pub listener: ListenerKind,
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a BTreeMap<String, String>,
    /// The token from `Authorization` (Bearer, or Basic with the token as user name).
    pub token: Option<&'a str>,
    /// `scheme://host[:port]` the request reached, for URLs in answers.
    pub base_url: &'a str,
    /// The `Accept` header: Server answers `analysis/jres/{id}` and `analysis/engine` with
    /// the file itself when it asks for `application/octet-stream`, with JSON otherwise.
    pub accept: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    Empty,
    Json(Value),
    Text(String),
    /// Opaque bytes of this length (an analysis cache).
    Binary(usize),
    /// A file to download (`application/octet-stream`).
    Bytes(&'static [u8]),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: u16,
    pub body: Body,
    pub headers: Vec<(String, String)>,
}

/// The size of an analysis cache: large enough that a client reading it all shows in timings.
pub const CACHE_SIZE: usize = 300 * 1024;

/// An error reply, or the success reply (see the module comment).
pub type Answer = Result<Reply, Reply>;

fn reply(status: u16, body: Body) -> Reply {
    Reply {
        status,
        body,
        headers: Vec::new(),
    }
}

/// Sonar's error body: `{"errors":[{"msg":"..."}]}`.
pub fn error(status: u16, msg: &str) -> Reply {
    reply(status, Body::Json(json!({ "errors": [{ "msg": msg }] })))
}

fn ok(value: Value) -> Answer {
    Ok(reply(200, Body::Json(value)))
}

fn text(t: &str) -> Answer {
    Ok(reply(200, Body::Text(t.to_owned())))
}

fn insufficient() -> Reply {
    error(403, "Insufficient privileges")
}

fn project_not_found(key: &str) -> Reply {
    error(404, &format!("Project '{key}' not found"))
}

fn component_not_found(key: &str) -> Reply {
    error(404, &format!("Component key '{key}' not found"))
}

fn organization_not_found(key: &str) -> Reply {
    error(
        404,
        &format!("Organization with key '{key}' does not exist"),
    )
}

/// Who is calling.
#[derive(Clone, Copy)]
enum Caller<'a> {
    Anonymous,
    /// Unknown, expired, revoked, or not valid on this flavor.
    Invalid,
    Token(&'a TokenSpec),
}

impl<'a> Caller<'a> {
    fn token(self) -> Option<&'a TokenSpec> {
        match self {
            Caller::Token(t) => Some(t),
            _ => None,
        }
    }

    fn can_scan(self, p: &Project) -> bool {
        self.token().is_some_and(|t| t.can_scan(p))
    }

    /// Everybody, even anonymous, browses a public project.
    fn can_browse(self, p: &Project) -> bool {
        p.visibility == crate::scenario::Visibility::Public
            || self.token().is_some_and(|t| t.can_browse(p))
    }

    /// A user (user or personal token), not an organization or analysis token.
    fn is_user(self) -> bool {
        self.token().is_some_and(|t| t.kind.is_user())
    }

    /// Calls that need authentication answer 401 with an empty body otherwise.
    fn authenticated(self) -> Result<&'a TokenSpec, Reply> {
        self.token().ok_or_else(|| reply(401, Body::Empty))
    }

    /// Calls open to anonymous users still refuse a bad token.
    fn not_invalid(self) -> Result<(), Reply> {
        match self {
            Caller::Invalid => Err(reply(401, Body::Empty)),
            _ => Ok(()),
        }
    }
}

fn optional<'a>(r: &'a Request, name: &str) -> Option<&'a str> {
    r.query
        .get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
}

fn required<'a>(r: &'a Request, name: &str) -> Result<&'a str, Reply> {
    optional(r, name).ok_or_else(|| error(400, &format!("The '{name}' parameter is missing")))
}

pub fn respond(s: &Scenario, r: &Request) -> Reply {
    let caller = match r.token {
        None => Caller::Anonymous,
        Some(t) => s.valid_token(t).map_or(Caller::Invalid, Caller::Token),
    };
    let answer = match (s.flavor, r.listener) {
        (Flavor::Cloud, ListenerKind::Api) => cloud_api(s, r, caller),
        (Flavor::Cloud, _) => web(s, r, caller, true),
        (Flavor::Server, _) => web(s, r, caller, false),
    };
    let mut out = answer.unwrap_or_else(|e| e);
    if let (Flavor::Server, Some(date)) =
        (s.flavor, caller.token().and_then(TokenSpec::expiry_date))
    {
        out.headers
            .push(("SonarQube-Authentication-Token-Expiration".into(), date));
    }
    out
}

/// The web URL: both flavors, with the Server-only and Cloud-only differences inline.
fn web(s: &Scenario, r: &Request, c: Caller, cloud: bool) -> Answer {
    match (r.method, r.path) {
        ("GET", "/api/server/version") => text(&s.server_version),
        ("GET", "/api/authentication/validate") => ok(json!({ "valid": c.token().is_some() })),
        ("GET", "/api/v2/analysis/version") if !cloud => {
            c.authenticated()?;
            text(&s.server_version)
        }
        ("GET", "/api/v2/analysis/jres") if !cloud => {
            c.authenticated()?;
            jres(r, None)
        }
        ("GET", path) if !cloud && path.starts_with("/api/v2/analysis/jres/") => {
            c.authenticated()?;
            server_jre(r, &path["/api/v2/analysis/jres/".len()..])
        }
        ("GET", "/api/v2/analysis/engine") if !cloud => {
            c.authenticated()?;
            if wants_file(r) {
                Ok(download(bootstrap::engine()))
            } else {
                engine(None)
            }
        }
        ("GET", "/api/analysis_cache/get") if !cloud => analysis_cache(s, r, c),
        ("GET", "/api/settings/values") => settings_values(s, r, c),
        ("GET", "/api/project_branches/list") => project_branches(s, r, c),
        ("GET", "/api/qualityprofiles/search") if cloud => cloud_quality_profiles(s, r, c),
        ("GET", "/api/qualityprofiles/search") => server_quality_profiles(s, r, c),
        ("POST", "/api/ce/submit") if cloud => cloud_submit(s, r, c),
        ("POST", "/api/ce/submit") => server_submit(s, r, c),
        ("GET", "/api/components/show") | ("GET", "/api/navigation/component") => {
            component(s, r, c)
        }
        ("GET", "/api/components/search_projects") => search_projects(s, r, c, cloud),
        ("GET", "/api/projects/search") => projects_search(s, r, c, cloud),
        ("GET", "/api/organizations/search") => organizations(s, c),
        (_, path) => Err(error(404, &format!("Unknown url : {path}"))),
    }
}

/// The client asks for the file itself, not its description.
fn wants_file(r: &Request) -> bool {
    r.accept
        .is_some_and(|a| a.to_ascii_lowercase().contains("application/octet-stream"))
}

fn download(a: &'static bootstrap::Artifact) -> Reply {
    reply(200, Body::Bytes(&a.bytes))
}

/// One JRE's description. `download_base`: Cloud's API URL, where `downloadUrl` points (a
/// download that needs no token, as Cloud's pre-signed URLs); Server has no `downloadUrl`, the
/// bootstrapper downloads `analysis/jres/{id}` with its token.
fn jre_json(os: &str, arch: &str, download_base: Option<&str>) -> Value {
    let a = bootstrap::jre();
    let mut v = json!({
        "id": bootstrap::jre_id(os, arch),
        "filename": a.filename,
        "sha256": a.sha256,
        "javaPath": bootstrap::JAVA_PATH,
        "os": os,
        "arch": arch,
    });
    if let Some(base) = download_base {
        v["downloadUrl"] = json!(format!("{base}/downloads/{}", a.filename));
    }
    v
}

/// `analysis/jres?os=&arch=`: one JRE for whatever platform is asked for.
fn jres(r: &Request, download_base: Option<&str>) -> Answer {
    let os = optional(r, "os").unwrap_or("linux");
    let arch = optional(r, "arch").unwrap_or("x64");
    ok(json!([jre_json(os, arch, download_base)]))
}

/// Server `analysis/jres/{id}`: the archive, or its description.
fn server_jre(r: &Request, id: &str) -> Answer {
    let (os, arch) = bootstrap::parse_jre_id(id)
        .ok_or_else(|| error(404, &format!("JRE not found for id: {id}")))?;
    if wants_file(r) {
        Ok(download(bootstrap::jre()))
    } else {
        ok(jre_json(os, arch, None))
    }
}

/// `analysis/engine`: the engine jar's description.
fn engine(download_base: Option<&str>) -> Answer {
    let a = bootstrap::engine();
    let mut v = json!({ "filename": a.filename, "sha256": a.sha256 });
    if let Some(base) = download_base {
        v["downloadUrl"] = json!(format!("{base}/downloads/{}", a.filename));
    }
    ok(v)
}

/// `api/analysis_cache/get` (Server): existence, then branch, then Scan.
fn analysis_cache(s: &Scenario, r: &Request, c: Caller) -> Answer {
    c.authenticated()?;
    let key = required(r, "project")?;
    let p = s.project(key).ok_or_else(|| project_not_found(key))?;
    if let Some(b) = optional(r, "branch") {
        if !p.branches.iter().any(|x| x == b) {
            return Err(error(
                404,
                &format!("Branch '{b}' in project '{key}' not found"),
            ));
        }
    }
    if !c.can_scan(p) {
        return Err(insufficient());
    }
    if p.cache {
        Ok(reply(200, Body::Binary(CACHE_SIZE)))
    } else {
        Err(error(404, "No cache for given branch or pull request"))
    }
}

/// A project the caller may browse or scan (settings and branches need either).
fn readable<'s>(s: &'s Scenario, c: Caller, key: &str) -> Result<&'s Project, Reply> {
    let p = s.project(key).ok_or_else(|| component_not_found(key))?;
    if c.can_browse(p) || c.can_scan(p) {
        Ok(p)
    } else {
        Err(insufficient())
    }
}

fn settings_values(s: &Scenario, r: &Request, c: Caller) -> Answer {
    c.not_invalid()?;
    // Without a component: the global settings.
    if let Some(key) = optional(r, "component") {
        readable(s, c, key)?;
    }
    ok(json!({ "settings": [] }))
}

fn project_branches(s: &Scenario, r: &Request, c: Caller) -> Answer {
    c.not_invalid()?;
    let p = readable(s, c, required(r, "project")?)?;
    let branches: Vec<Value> = p
        .branches
        .iter()
        .enumerate()
        .map(|(i, b)| json!({ "name": b, "isMain": i == 0, "type": "BRANCH" }))
        .collect();
    ok(json!({ "branches": branches }))
}

/// Server: no permission needed, but the project must exist.
fn server_quality_profiles(s: &Scenario, r: &Request, c: Caller) -> Answer {
    c.not_invalid()?;
    if let Some(key) = optional(r, "project") {
        s.project(key).ok_or_else(|| project_not_found(key))?;
    }
    ok(json!({ "profiles": [] }))
}

/// Cloud: the organization first, then the project, then whether they match.
fn cloud_quality_profiles(s: &Scenario, r: &Request, c: Caller) -> Answer {
    c.not_invalid()?;
    let org = required(r, "organization")?;
    if !s.has_organization(org) {
        return Err(organization_not_found(org));
    }
    if let Some(key) = optional(r, "project") {
        let p = s.project(key).ok_or_else(|| project_not_found(key))?;
        if p.organization.as_deref() != Some(org) {
            return Err(error(
                400,
                &format!("Organization of component with key '{key}' does not match specified organization '{org}'"),
            ));
        }
    }
    ok(json!({ "profiles": [] }))
}

fn submitted(key: &str) -> Answer {
    ok(json!({ "taskId": format!("AEmulatedTask-{key}") }))
}

/// Server: Scan on the project; a missing project is created with global Scan.
fn server_submit(s: &Scenario, r: &Request, c: Caller) -> Answer {
    let t = c.authenticated()?;
    let key = required(r, "projectKey")?;
    match s.project(key) {
        Some(p) if t.can_scan(p) => submitted(key),
        None if t.has_global_scan() => submitted(key),
        None => Err(project_not_found(key)),
        Some(_) => Err(insufficient()),
    }
}

/// Cloud hides whether the project is missing or the token lacks permission.
fn cloud_submit(s: &Scenario, r: &Request, c: Caller) -> Answer {
    let t = c.authenticated()?;
    let org = required(r, "organization")?;
    let key = required(r, "projectKey")?;
    if !s.has_organization(org) {
        return Err(organization_not_found(org));
    }
    match s.project(key) {
        Some(p) if p.organization.as_deref() == Some(org) && t.can_scan(p) => submitted(key),
        _ => Err(project_not_found(key)),
    }
}

/// `api/components/show`, `api/navigation/component`: Browse on the component.
fn component(s: &Scenario, r: &Request, c: Caller) -> Answer {
    c.not_invalid()?;
    let key = required(r, "component")?;
    let p = s.project(key).ok_or_else(|| component_not_found(key))?;
    if !c.can_browse(p) {
        return Err(insufficient());
    }
    ok(json!({ "component": project_json(p), "key": p.key }))
}

fn project_json(p: &Project) -> Value {
    json!({
        "key": p.key,
        "name": p.key,
        "qualifier": "TRK",
        "visibility": p.visibility,
        "organization": p.organization,
    })
}

/// A listing's `p` and `ps` (`WebService.addPagingParams`: `ps` at most 500), and the
/// result window where one caps how deep it pages (`SearchOptions.setPage`: `p × ps` at most).
fn paging(r: &Request, window: Option<usize>) -> Result<(usize, usize), Reply> {
    let int = |name: &str, default: usize| -> Result<usize, Reply> {
        match optional(r, name) {
            None => Ok(default),
            Some(v) => v
                .parse::<i64>()
                .map_err(|_| {
                    error(
                        400,
                        &format!(
                            "The '{name}' parameter cannot be parsed as an integer value: {v}"
                        ),
                    )
                })
                .and_then(|n| {
                    usize::try_from(n).map_err(|_| {
                        error(400, &format!("'{name}' value ({n}) must be greater than 0"))
                    })
                }),
        }
    };
    let (page, size) = (int("p", 1)?, int("ps", 100)?);
    if size > 500 {
        return Err(error(
            400,
            &format!("'ps' value ({size}) must be less than 500"),
        ));
    }
    if size == 0 {
        return Err(error(400, "'ps' value (0) must be greater than 0"));
    }
    if page == 0 {
        return Err(error(400, "Page must be greater or equal to 1 (got 0)"));
    }
    if let Some(w) = window {
        let last = page.saturating_mul(size);
        if last > w {
            return Err(error(
                400,
                &format!("Can return only the first {w} results. {last}th result asked."),
            ));
        }
    }
    Ok((page, size))
}

/// `q`: the key or the name contains it, ignoring case (`ComponentQuery` with
/// `partialMatchOnKey`; the emulator's names are the keys).
fn matches_query(p: &Project, q: Option<&str>) -> bool {
    q.is_none_or(|q| p.key.to_lowercase().contains(&q.to_lowercase()))
}

fn page_of<'s>(found: impl Iterator<Item = &'s Project>, page: usize, size: usize) -> Value {
    let mut total = 0usize;
    let mut components = Vec::new();
    let first = (page - 1).saturating_mul(size);
    for p in found {
        if total >= first && components.len() < size {
            components.push(project_json(p));
        }
        total += 1;
    }
    json!({ "paging": { "pageIndex": page, "pageSize": size, "total": total }, "components": components })
}

/// `api/components/search_projects` (internal): the projects the caller may browse, from
/// Elasticsearch, so within the result window; a user identity is needed (a SOT or an
/// analysis token has none). `filter=query = "X"` narrows as `q` does.
fn search_projects(s: &Scenario, r: &Request, c: Caller, cloud: bool) -> Answer {
    c.not_invalid()?;
    if !c.is_user() {
        return Err(insufficient());
    }
    let (page, size) = paging(
        r,
        Some(s.result_window.unwrap_or(crate::scenario::RESULT_WINDOW)),
    )?;
    let org = if cloud {
        optional(r, "organization")
    } else {
        None
    };
    let query = optional(r, "filter").and_then(|f| {
        let f = f.trim();
        let rest = f
            .strip_prefix("query")?
            .trim_start()
            .strip_prefix('=')?
            .trim();
        Some(rest.trim_matches('"').to_owned())
    });
    ok(page_of(
        s.live_projects().filter(|p| {
            c.can_browse(p)
                && org.is_none_or(|o| p.organization.as_deref() == Some(o))
                && matches_query(p, query.as_deref())
        }),
        page,
        size,
    ))
}

/// `api/projects/search`: every project (of the organization, on Cloud) for an
/// administrator: Server's Administer System, Cloud's Administer on the organization
/// (`project/ws/SearchAction.java`, which pages the database: no window). A scenario's
/// `result_window` puts one on it too, to stand for a server that caps it.
fn projects_search(s: &Scenario, r: &Request, c: Caller, cloud: bool) -> Answer {
    c.not_invalid()?;
    let t = c.authenticated()?;
    let org = if cloud {
        let org = required(r, "organization")?;
        if !s.has_organization(org) {
            return Err(error(
                404,
                &format!("No organization found with key: {org}"),
            ));
        }
        Some(org)
    } else {
        None
    };
    let admin = t.kind.is_user()
        && t.admin
        && (org.is_none()
            || t.organization
                .as_deref()
                .is_none_or(|mine| Some(mine) == org));
    if !admin {
        return Err(insufficient());
    }
    let (page, size) = paging(r, s.result_window)?;
    let q = optional(r, "q");
    let keys: Option<Vec<&str>> = optional(r, "projects").map(|k| k.split(',').collect());
    ok(page_of(
        s.live_projects().filter(|p| {
            (org.is_none() || p.organization.as_deref() == org)
                && matches_query(p, q)
                && keys.as_ref().is_none_or(|k| k.contains(&p.key.as_str()))
        }),
        page,
        size,
    ))
}

fn organizations(s: &Scenario, c: Caller) -> Answer {
    c.not_invalid()?;
    let t = c
        .token()
        .filter(|t| t.kind.is_user())
        .ok_or_else(insufficient)?;
    let orgs: Vec<Value> = s
        .organizations
        .iter()
        .filter(|o| t.organization.as_ref().is_none_or(|mine| mine == *o))
        .map(|o| json!({ "key": o, "name": o }))
        .collect();
    ok(json!({ "organizations": orgs }))
}

/// Cloud's API host: a missing or bad token gets 403, not 401.
fn cloud_api(s: &Scenario, r: &Request, c: Caller) -> Answer {
    // What prepare-read points at: a pre-signed URL, no token needed.
    if let ("GET", Some(key)) = (r.method, r.path.strip_prefix("/sensor-cache/blob/")) {
        return match s.project(key) {
            Some(p) if p.cache => Ok(reply(200, Body::Binary(CACHE_SIZE))),
            _ => Err(error(404, "Not found")),
        };
    }
    // What `downloadUrl` points at: no token needed either.
    if let ("GET", Some(name)) = (r.method, r.path.strip_prefix("/downloads/")) {
        return [bootstrap::jre(), bootstrap::engine()]
            .into_iter()
            .find(|a| a.filename == name)
            .map(download)
            .ok_or_else(|| error(404, "Not found"));
    }
    let t = c.token().ok_or_else(|| error(403, "Forbidden"))?;
    match (r.method, r.path) {
        ("GET", "/analysis/jres") => jres(r, Some(r.base_url)),
        ("GET", "/analysis/engine") => engine(Some(r.base_url)),
        ("GET", "/sensor-cache/prepare-read") => {
            let org = required(r, "organization")?;
            if !s.has_organization(org) {
                return Err(organization_not_found(org));
            }
            let key = required(r, "project")?;
            let p = s
                .project(key)
                .filter(|p| p.organization.as_deref() == Some(org))
                .ok_or_else(|| project_not_found(key))?;
            if !t.can_scan(p) {
                return Err(insufficient());
            }
            let url = p
                .cache
                .then(|| format!("{}/sensor-cache/blob/{key}", r.base_url));
            ok(json!({ "enabled": true, "url": url }))
        }
        (_, path) => Err(error(404, &format!("Unknown url : {path}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ListenerKind::{Api, Web};

    fn server() -> Scenario {
        Scenario::from_yaml_str(
            r#"
flavor: server
projects:
  - {key: pay, branches: [main, dev]}
  - {key: cached, cache: true}
  - {key: docs, visibility: public}
tokens:
  - {value: sqp, kind: project-analysis, projects: [pay, cached], expires: "2030-01-01"}
  - {value: sqa, kind: global-analysis}
  - {value: browse, kind: user, browse: all}
  - {value: scanner, kind: user, scan: [pay]}
  - {value: old, kind: user, scan: all, state: expired}
  - {value: gone, kind: user, scan: all, state: revoked}
  - {value: sot, kind: sot, organization: acme, projects: all}
"#,
        )
        .unwrap()
    }

    fn cloud() -> Scenario {
        Scenario::from_yaml_str(
            r#"
flavor: cloud
organizations: [acme, other]
projects:
  - {key: pay, organization: acme}
  - {key: docs, organization: acme, visibility: public}
  - {key: cached, organization: acme, cache: true}
  - {key: theirs, organization: other}
tokens:
  - {value: sot, kind: sot, organization: acme, projects: [pay, cached, theirs]}
  - {value: all, kind: sot, organization: acme, projects: all}
  - {value: gone, kind: sot, organization: acme, projects: all, state: revoked}
  - {value: old, kind: sot, organization: acme, projects: all, state: expired}
  - {value: pat, kind: personal, scan: [pay], browse: all, expires: "2030-01-01"}
  - {value: sqa, kind: global-analysis}
"#,
        )
        .unwrap()
    }

    fn call(
        s: &Scenario,
        listener: ListenerKind,
        method: &str,
        path: &str,
        query: &str,
        token: Option<&str>,
    ) -> Reply {
        call_with(s, listener, method, path, query, token, None)
    }

    fn call_with(
        s: &Scenario,
        listener: ListenerKind,
        method: &str,
        path: &str,
        query: &str,
        token: Option<&str>,
        accept: Option<&str>,
    ) -> Reply {
        let query: BTreeMap<String, String> = query
            .split('&')
            .filter(|kv| !kv.is_empty())
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                (k.to_owned(), v.to_owned())
            })
            .collect();
        respond(
            s,
            &Request {
                listener,
                method,
                path,
                query: &query,
                token,
                base_url: "http://api.test",
                accept,
            },
        )
    }

    fn msg(r: &Reply) -> Option<&str> {
        match &r.body {
            Body::Json(v) => v.pointer("/errors/0/msg").and_then(Value::as_str),
            _ => None,
        }
    }

    /// The body in one line, for `contains` checks.
    fn summary(r: &Reply) -> String {
        match &r.body {
            Body::Empty => String::new(),
            Body::Json(v) => v.to_string(),
            Body::Text(t) => t.clone(),
            Body::Binary(n) => format!("<{n} bytes>"),
            Body::Bytes(b) => format!("<{} bytes>", b.len()),
        }
    }

    type Row<'a> = (
        ListenerKind,
        &'a str,
        &'a str,
        &'a str,
        Option<&'a str>,
        u16,
        &'a str,
    );

    /// Each row: (listener, method, path, query, token) → (status, error message, or a part
    /// of the success body; "" for an empty 401).
    fn check(s: &Scenario, rows: &[Row]) {
        for &(l, method, path, query, token, status, expect) in rows {
            let r = call(s, l, method, path, query, token);
            let what = format!("{method} {path}?{query} with {token:?}: {r:?}");
            assert_eq!(r.status, status, "{what}");
            match msg(&r) {
                Some(m) => assert_eq!(m, expect, "{what}"),
                None if status == 401 => assert_eq!(r.body, Body::Empty, "{what}"),
                None => assert!(summary(&r).contains(expect), "{what}"),
            }
        }
    }

    const PRIV: &str = "Insufficient privileges";

    #[test]
    #[rustfmt::skip]
    fn server_unauthenticated_calls() {
        check(
            &server(),
            &[
                (Web, "GET", "/api/server/version", "", None, 200, "10.7.0.96327"),
                (Web, "GET", "/api/server/version", "", Some("bad"), 200, "10.7"),
                (Web, "GET", "/api/authentication/validate", "", Some("sqp"), 200, r#"{"valid":true}"#),
                (Web, "GET", "/api/authentication/validate", "", Some("bad"), 200, r#"{"valid":false}"#),
                (Web, "GET", "/api/authentication/validate", "", Some("old"), 200, r#"{"valid":false}"#),
                (Web, "GET", "/api/authentication/validate", "", Some("sot"), 200, r#"{"valid":false}"#),
                (Web, "GET", "/api/authentication/validate", "", None, 200, r#"{"valid":false}"#),
                (Web, "GET", "/api/nope", "", Some("sqp"), 404, "Unknown url : /api/nope"),
                (Web, "GET", "/api/ce/submit", "projectKey=pay", Some("sqp"), 404, "Unknown url : /api/ce/submit"),
                (Web, "GET", "/analysis/jres", "", Some("sqp"), 404, "Unknown url : /analysis/jres"),
            ],
        );
    }

    #[test]
    #[rustfmt::skip]
    fn server_scanner_bootstrap_needs_a_valid_token() {
        let mut rows = Vec::new();
        for path in ["/api/v2/analysis/version", "/api/v2/analysis/jres", "/api/v2/analysis/engine"] {
            rows.push((Web, "GET", path, "", None, 401, ""));
            rows.push((Web, "GET", path, "", Some("bad"), 401, ""));
            rows.push((Web, "GET", path, "", Some("gone"), 401, ""));
            rows.push((Web, "GET", path, "", Some("browse"), 200, ""));
        }
        rows.push((Web, "GET", "/api/v2/analysis/version", "", Some("sqp"), 200, "10.7.0.96327"));
        rows.push((Web, "GET", "/api/v2/analysis/jres", "os=linux&arch=aarch64", Some("sqp"), 200, "aarch64"));
        rows.push((Web, "GET", "/api/v2/analysis/engine", "", Some("sqp"), 200, "sha256"));
        rows.push((Web, "GET", "/api/v2/analysis/other", "", Some("sqp"), 404, "Unknown url : /api/v2/analysis/other"));
        check(&server(), &rows);
    }

    #[test]
    #[rustfmt::skip]
    fn server_analysis_cache_in_sonars_order() {
        let p = "/api/analysis_cache/get";
        check(
            &server(),
            &[
                (Web, "GET", p, "project=pay", Some("sqp"), 404, "No cache for given branch or pull request"),
                (Web, "GET", p, "project=pay&branch=dev", Some("sqp"), 404, "No cache for given branch or pull request"),
                (Web, "GET", p, "project=cached", Some("sqp"), 200, "<307200 bytes>"),
                (Web, "GET", p, "project=cached", Some("sqa"), 200, "<307200 bytes>"),
                (Web, "GET", p, "project=pay", Some("scanner"), 404, "No cache for given branch or pull request"),
                (Web, "GET", p, "project=nope", Some("sqp"), 404, "Project 'nope' not found"),
                (Web, "GET", p, "project=nope", Some("browse"), 404, "Project 'nope' not found"),
                (Web, "GET", p, "project=pay&branch=x", Some("sqp"), 404, "Branch 'x' in project 'pay' not found"),
                (Web, "GET", p, "project=pay&branch=x", Some("browse"), 404, "Branch 'x' in project 'pay' not found"),
                (Web, "GET", p, "project=pay", Some("browse"), 403, PRIV),
                (Web, "GET", p, "project=docs", Some("sqp"), 403, PRIV),
                (Web, "GET", p, "project=docs", Some("browse"), 403, PRIV),
                (Web, "GET", p, "project=pay", Some("old"), 401, ""),
                (Web, "GET", p, "project=pay", Some("gone"), 401, ""),
                (Web, "GET", p, "project=nope", Some("bad"), 401, ""),
                (Web, "GET", p, "project=pay", None, 401, ""),
                (Web, "GET", p, "", Some("sqp"), 400, "The 'project' parameter is missing"),
            ],
        );
    }

    #[test]
    #[rustfmt::skip]
    fn server_settings_branches_and_profiles() {
        let (sv, pb, qp) = ("/api/settings/values", "/api/project_branches/list", "/api/qualityprofiles/search");
        check(
            &server(),
            &[
                (Web, "GET", sv, "component=pay", Some("sqp"), 200, r#"{"settings":[]}"#),
                (Web, "GET", sv, "component=pay", Some("browse"), 200, "settings"),
                (Web, "GET", sv, "component=pay", Some("sqa"), 200, "settings"),
                (Web, "GET", sv, "component=docs", None, 200, "settings"),
                (Web, "GET", sv, "component=docs", Some("scanner"), 200, "settings"),
                (Web, "GET", sv, "component=pay", Some("scanner"), 200, "settings"),
                (Web, "GET", sv, "component=cached", Some("scanner"), 403, PRIV),
                (Web, "GET", sv, "component=pay", None, 403, PRIV),
                (Web, "GET", sv, "component=nope", Some("sqp"), 404, "Component key 'nope' not found"),
                (Web, "GET", sv, "component=pay", Some("bad"), 401, ""),
                (Web, "GET", sv, "", Some("scanner"), 200, "settings"),
                (Web, "GET", pb, "project=pay", Some("sqp"), 200, r#"{"isMain":false,"name":"dev","type":"BRANCH"}"#),
                (Web, "GET", pb, "project=pay", Some("browse"), 200, r#""name":"main""#),
                (Web, "GET", pb, "project=cached", Some("scanner"), 403, PRIV),
                (Web, "GET", pb, "project=nope", Some("sqp"), 404, "Component key 'nope' not found"),
                (Web, "GET", pb, "project=pay", Some("gone"), 401, ""),
                (Web, "GET", pb, "", Some("sqp"), 400, "The 'project' parameter is missing"),
                (Web, "GET", qp, "project=pay", Some("browse"), 200, r#"{"profiles":[]}"#),
                (Web, "GET", qp, "project=pay", Some("scanner"), 200, "profiles"),
                (Web, "GET", qp, "project=pay", None, 200, "profiles"),
                (Web, "GET", qp, "project=nope", Some("sqp"), 404, "Project 'nope' not found"),
                (Web, "GET", qp, "project=pay", Some("bad"), 401, ""),
            ],
        );
    }

    #[test]
    #[rustfmt::skip]
    fn server_submit() {
        let p = "/api/ce/submit";
        check(
            &server(),
            &[
                (Web, "POST", p, "projectKey=pay", Some("sqp"), 200, "taskId"),
                (Web, "POST", p, "projectKey=pay", Some("scanner"), 200, "taskId"),
                (Web, "POST", p, "projectKey=pay", Some("sqa"), 200, "taskId"),
                (Web, "POST", p, "projectKey=new", Some("sqa"), 200, "taskId"),
                (Web, "POST", p, "projectKey=new", Some("sqp"), 404, "Project 'new' not found"),
                (Web, "POST", p, "projectKey=new", Some("browse"), 404, "Project 'new' not found"),
                (Web, "POST", p, "projectKey=docs", Some("sqp"), 403, PRIV),
                (Web, "POST", p, "projectKey=pay", Some("browse"), 403, PRIV),
                (Web, "POST", p, "projectKey=pay", Some("old"), 401, ""),
                (Web, "POST", p, "projectKey=pay", None, 401, ""),
                (Web, "POST", p, "", Some("sqp"), 400, "The 'projectKey' parameter is missing"),
            ],
        );
    }

    #[test]
    #[rustfmt::skip]
    fn server_browse_only_calls() {
        let mut rows = Vec::new();
        for p in ["/api/components/show", "/api/navigation/component"] {
            rows.extend([
                (Web, "GET", p, "component=pay", Some("sqp"), 403, PRIV),
                (Web, "GET", p, "component=pay", Some("sqa"), 403, PRIV),
                (Web, "GET", p, "component=pay", Some("scanner"), 403, PRIV),
                (Web, "GET", p, "component=pay", Some("browse"), 200, r#""key":"pay""#),
                (Web, "GET", p, "component=docs", Some("sqp"), 200, r#""visibility":"public""#),
                (Web, "GET", p, "component=docs", None, 200, "docs"),
                (Web, "GET", p, "component=pay", Some("bad"), 401, ""),
                (Web, "GET", p, "component=nope", Some("browse"), 404, "Component key 'nope' not found"),
            ]);
        }
        for p in ["/api/components/search_projects", "/api/organizations/search"] {
            rows.extend([
                (Web, "GET", p, "member=true", Some("sqp"), 403, PRIV),
                (Web, "GET", p, "member=true", Some("sqa"), 403, PRIV),
                (Web, "GET", p, "member=true", None, 403, PRIV),
                (Web, "GET", p, "member=true", Some("gone"), 401, ""),
            ]);
        }
        rows.push((Web, "GET", "/api/components/search_projects", "", Some("browse"), 200, r#""total":3"#));
        rows.push((Web, "GET", "/api/components/search_projects", "", Some("scanner"), 200, r#""total":1"#));
        check(&server(), &rows);
    }

    #[test]
    fn server_sends_the_expiry_header_on_authenticated_answers_only() {
        let s = server();
        let header = (
            "SonarQube-Authentication-Token-Expiration".to_string(),
            "2030-01-01".to_string(),
        );
        for (path, query) in [
            ("/api/analysis_cache/get", "project=pay"),
            ("/api/authentication/validate", ""),
            ("/api/settings/values", "component=pay"),
            ("/api/components/show", "component=pay"),
        ] {
            let r = call(&s, Web, "GET", path, query, Some("sqp"));
            assert_eq!(r.headers, std::slice::from_ref(&header), "{path}");
            let r = call(&s, Web, "GET", path, query, Some("sqa"));
            assert!(r.headers.is_empty(), "no expiry: {path}");
        }
        let c = cloud();
        let r = call(
            &c,
            Web,
            "GET",
            "/api/settings/values",
            "component=pay",
            Some("pat"),
        );
        assert!(r.headers.is_empty(), "Server only");
    }

    #[test]
    #[rustfmt::skip]
    fn cloud_web_host() {
        let (qp, sv, submit) = ("/api/qualityprofiles/search", "/api/settings/values", "/api/ce/submit");
        check(
            &cloud(),
            &[
                (Web, "GET", "/api/authentication/validate", "", Some("sot"), 200, r#"{"valid":true}"#),
                (Web, "GET", "/api/authentication/validate", "", Some("gone"), 200, r#"{"valid":false}"#),
                (Web, "GET", "/api/authentication/validate", "", Some("sqa"), 200, r#"{"valid":false}"#),
                (Web, "GET", qp, "project=pay&organization=acme", Some("sot"), 200, r#"{"profiles":[]}"#),
                (Web, "GET", qp, "project=pay&organization=acme", Some("all"), 200, "profiles"),
                (Web, "GET", qp, "project=docs&organization=acme", Some("sot"), 200, "profiles"),
                (Web, "GET", qp, "project=pay&organization=nope", Some("sot"), 404, "Organization with key 'nope' does not exist"),
                (Web, "GET", qp, "project=nope&organization=nope", Some("sot"), 404, "Organization with key 'nope' does not exist"),
                (Web, "GET", qp, "project=pay", Some("sot"), 400, "The 'organization' parameter is missing"),
                (Web, "GET", qp, "project=nope&organization=acme", Some("sot"), 404, "Project 'nope' not found"),
                (Web, "GET", qp, "project=pay&organization=other", Some("sot"), 400, "Organization of component with key 'pay' does not match specified organization 'other'"),
                (Web, "GET", qp, "project=theirs&organization=acme", Some("sot"), 400, "Organization of component with key 'theirs' does not match specified organization 'acme'"),
                (Web, "GET", qp, "project=pay&organization=acme", Some("gone"), 401, ""),
                (Web, "GET", qp, "project=pay&organization=acme", Some("old"), 401, ""),
                (Web, "GET", sv, "component=pay", Some("sot"), 200, "settings"),
                (Web, "GET", sv, "component=docs", Some("sot"), 200, "settings"),
                (Web, "GET", sv, "component=pay", Some("pat"), 200, "settings"),
                (Web, "GET", sv, "component=cached", Some("pat"), 200, "settings"),
                (Web, "GET", sv, "component=theirs", Some("all"), 403, PRIV),
                (Web, "GET", sv, "component=nope", Some("sot"), 404, "Component key 'nope' not found"),
                (Web, "GET", sv, "component=pay", Some("gone"), 401, ""),
                (Web, "POST", submit, "organization=acme&projectKey=pay", Some("sot"), 200, "taskId"),
                (Web, "POST", submit, "organization=acme&projectKey=pay", Some("pat"), 200, "taskId"),
                (Web, "POST", submit, "organization=acme&projectKey=docs", Some("sot"), 404, "Project 'docs' not found"),
                (Web, "POST", submit, "organization=acme&projectKey=nope", Some("all"), 404, "Project 'nope' not found"),
                (Web, "POST", submit, "organization=acme&projectKey=theirs", Some("sot"), 404, "Project 'theirs' not found"),
                (Web, "POST", submit, "organization=other&projectKey=pay", Some("sot"), 404, "Project 'pay' not found"),
                (Web, "POST", submit, "organization=nope&projectKey=pay", Some("sot"), 404, "Organization with key 'nope' does not exist"),
                (Web, "POST", submit, "projectKey=pay", Some("sot"), 400, "The 'organization' parameter is missing"),
                (Web, "POST", submit, "organization=acme&projectKey=pay", Some("gone"), 401, ""),
                (Web, "GET", "/api/analysis_cache/get", "project=pay", Some("sot"), 404, "Unknown url : /api/analysis_cache/get"),
                (Web, "GET", "/api/v2/analysis/jres", "", Some("sot"), 404, "Unknown url : /api/v2/analysis/jres"),
                (Web, "GET", "/analysis/jres", "", Some("sot"), 404, "Unknown url : /analysis/jres"),
            ],
        );
    }

    #[test]
    #[rustfmt::skip]
    fn cloud_sot_fails_every_browse_only_call() {
        let mut rows = Vec::new();
        for (p, q) in [
            ("/api/organizations/search", "member=true"),
            ("/api/components/search_projects", ""),
            ("/api/components/show", "component=pay"),
            ("/api/navigation/component", "component=pay"),
        ] {
            rows.push((Web, "GET", p, q, Some("sot"), 403, PRIV));
            rows.push((Web, "GET", p, q, Some("all"), 403, PRIV));
            rows.push((Web, "GET", p, q, Some("gone"), 401, ""));
            rows.push((Web, "GET", p, q, Some("pat"), 200, ""));
        }
        rows.push((Web, "GET", "/api/organizations/search", "member=true", Some("pat"), 200, r#"{"key":"other","name":"other"}"#));
        check(&cloud(), &rows);
    }

    #[test]
    #[rustfmt::skip]
    fn cloud_api_host() {
        let pr = "/sensor-cache/prepare-read";
        check(
            &cloud(),
            &[
                (Api, "GET", "/analysis/jres", "os=linux&arch=x64", Some("sot"), 200, r#""os":"linux""#),
                (Api, "GET", "/analysis/engine", "", Some("all"), 200, "filename"),
                (Api, "GET", "/analysis/jres", "os=linux&arch=x64", None, 403, "Forbidden"),
                (Api, "GET", "/analysis/jres", "", Some("bad"), 403, "Forbidden"),
                (Api, "GET", "/analysis/engine", "", Some("gone"), 403, "Forbidden"),
                (Api, "GET", "/analysis/engine", "", Some("old"), 403, "Forbidden"),
                (Api, "GET", "/analysis/engine", "", Some("sqa"), 403, "Forbidden"),
                (Api, "GET", "/analysis/version", "", Some("sot"), 404, "Unknown url : /analysis/version"),
                (Api, "GET", "/api/authentication/validate", "", Some("sot"), 404, "Unknown url : /api/authentication/validate"),
                (Api, "GET", pr, "organization=acme&project=pay&branch=main", Some("sot"), 200, r#"{"enabled":true,"url":null}"#),
                (Api, "GET", pr, "organization=acme&project=cached", Some("sot"), 200, r#""url":"http://api.test/sensor-cache/blob/cached""#),
                (Api, "GET", pr, "organization=acme&project=pay", Some("pat"), 200, "enabled"),
                (Api, "GET", pr, "organization=acme&project=pay", Some("gone"), 403, "Forbidden"),
                (Api, "GET", pr, "organization=nope&project=pay", Some("sot"), 404, "Organization with key 'nope' does not exist"),
                (Api, "GET", pr, "organization=other&project=pay", Some("sot"), 404, "Project 'pay' not found"),
                (Api, "GET", pr, "organization=acme&project=theirs", Some("sot"), 404, "Project 'theirs' not found"),
                (Api, "GET", pr, "organization=acme&project=nope", Some("sot"), 404, "Project 'nope' not found"),
                (Api, "GET", pr, "organization=acme&project=docs", Some("sot"), 403, PRIV),
                (Api, "GET", pr, "organization=acme&project=cached", Some("pat"), 403, PRIV),
                (Api, "GET", pr, "project=pay", Some("sot"), 400, "The 'organization' parameter is missing"),
                (Api, "GET", "/sensor-cache/blob/cached", "", None, 200, "<307200 bytes>"),
                (Api, "GET", "/sensor-cache/blob/pay", "", None, 404, "Not found"),
            ],
        );
    }

    fn listing_fleet(flavor: &str, window: &str) -> Scenario {
        let org = if flavor == "cloud" {
            "organizations: [acme, other]\n"
        } else {
            ""
        };
        let o = |x: &str| {
            if flavor == "cloud" {
                format!(", organization: {x}")
            } else {
                String::new()
            }
        };
        Scenario::from_yaml_str(&format!(
            "flavor: {flavor}\n{org}{window}\
             projects: [{{key: zeta{}}}, {{key: Other-x{}}}]\n\
             fleet: [{{prefix: svc-, count: 1200{}}}]\n\
             tokens:\n\
             - {{value: admin, kind: user, admin: true}}\n\
             - {{value: acme-admin, kind: personal, admin: true{}}}\n\
             - {{value: member, kind: user, browse: [zeta]}}\n\
             - {{value: sqa, kind: global-analysis}}\n",
            o("acme"),
            o("other"),
            o("acme"),
            if flavor == "cloud" {
                ", organization: acme"
            } else {
                ""
            },
        ))
        .unwrap()
    }

    fn total(r: &Reply) -> u64 {
        json_of(r)["paging"]["total"].as_u64().unwrap()
    }

    fn keys(r: &Reply) -> Vec<String> {
        json_of(r)["components"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["key"].as_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    #[rustfmt::skip]
    fn listing_needs_an_administrator_and_pages_up_to_500() {
        let s = listing_fleet("server", "");
        let ps = "/api/projects/search";
        check(&s, &[
            (Web, "GET", ps, "", Some("member"), 403, PRIV),
            (Web, "GET", ps, "", Some("sqa"), 403, PRIV),
            (Web, "GET", ps, "", None, 401, ""),
            (Web, "GET", ps, "", Some("nobody"), 401, ""),
            (Web, "GET", ps, "ps=501", Some("admin"), 400, "'ps' value (501) must be less than 500"),
            (Web, "GET", ps, "ps=x", Some("admin"), 400, "The 'ps' parameter cannot be parsed as an integer value: x"),
            (Web, "GET", ps, "p=0", Some("admin"), 400, "Page must be greater or equal to 1 (got 0)"),
            (Web, "GET", ps, "", Some("admin"), 200, r#""pageSize":100"#),
        ]);
        let r = call(&s, Web, "GET", ps, "ps=500&p=3", Some("admin"));
        assert_eq!((total(&r), keys(&r).len()), (1202, 202));
        // Server pages its database: no window.
        let r = call(&s, Web, "GET", ps, "ps=500&p=30", Some("admin"));
        assert_eq!((r.status, keys(&r).len()), (200, 0));
        // q: the key contains it, ignoring case.
        let r = call(&s, Web, "GET", ps, "q=OTHER", Some("admin"));
        assert_eq!(keys(&r), ["Other-x"]);
        let r = call(&s, Web, "GET", ps, "projects=zeta,svc-0001", Some("admin"));
        assert_eq!(keys(&r), ["zeta", "svc-0001"]);
        // A deleted project is gone from the listing and from every other answer.
        assert!(s.delete_project("zeta") && !s.delete_project("zeta"));
        let r = call(&s, Web, "GET", ps, "q=zeta", Some("admin"));
        assert_eq!(total(&r), 0);
        assert!(s.project("zeta").is_none());
        let r = call(&s, Web, "GET", "/api/components/search_projects", "", Some("member"));
        assert_eq!(total(&r), 0);
    }

    #[test]
    #[rustfmt::skip]
    fn cloud_listing_is_per_organization_and_within_the_result_window() {
        let s = listing_fleet("cloud", "result_window: 1000\n");
        let ps = "/api/projects/search";
        check(&s, &[
            (Web, "GET", ps, "", Some("admin"), 400, "The 'organization' parameter is missing"),
            (Web, "GET", ps, "organization=nope", Some("admin"), 404, "No organization found with key: nope"),
            (Web, "GET", ps, "organization=other", Some("acme-admin"), 403, PRIV),
            (Web, "GET", ps, "organization=acme&ps=500&p=3", Some("admin"), 400, "Can return only the first 1000 results. 1500th result asked."),
            (Web, "GET", "/api/components/search_projects", "ps=500&p=3", Some("member"), 400, "Can return only the first 1000 results. 1500th result asked."),
        ]);
        let r = call(&s, Web, "GET", ps, "organization=acme&ps=500&p=2", Some("acme-admin"));
        assert_eq!((total(&r), keys(&r).len()), (1201, 500));
        let r = call(&s, Web, "GET", ps, "organization=other", Some("admin"));
        assert_eq!(keys(&r), ["Other-x"]);
        // search_projects keeps to Elasticsearch's window unless the scenario says otherwise;
        // projects/search pages its database.
        let s = listing_fleet("cloud", "");
        let sp = "/api/components/search_projects";
        let r = call(&s, Web, "GET", sp, "ps=500&p=20", Some("member"));
        assert_eq!(r.status, 200);
        let r = call(&s, Web, "GET", sp, "ps=500&p=21", Some("member"));
        assert_eq!(msg(&r), Some("Can return only the first 10000 results. 10500th result asked."));
        let r = call(&s, Web, "GET", ps, "organization=acme&ps=500&p=21", Some("admin"));
        assert_eq!((r.status, keys(&r).len()), (200, 0));
        let r = call(&s, Web, "GET", "/api/components/search_projects", r#"filter=query = "ZET""#, Some("member"));
        assert_eq!(keys(&r), ["zeta"]);
    }

    const OCTET: Option<&str> = Some("application/octet-stream");
    const JSON_ACCEPT: Option<&str> = Some("application/json, text/plain, */*");

    fn json_of(r: &Reply) -> &Value {
        match &r.body {
            Body::Json(v) => v,
            other => panic!("not JSON: {other:?}"),
        }
    }

    /// Server: the descriptions carry the real SHA-256 of what the downloads serve, and the
    /// downloads (with the token, `Accept: application/octet-stream`) serve those bytes.
    #[test]
    fn server_serves_the_jre_and_engine_it_describes() {
        let s = server();
        let (jre, engine) = (bootstrap::jre(), bootstrap::engine());
        let r = call_with(
            &s,
            Web,
            "GET",
            "/api/v2/analysis/jres",
            "os=linux&arch=x64",
            Some("sqp"),
            JSON_ACCEPT,
        );
        assert_eq!(r.status, 200);
        let list = json_of(&r).as_array().unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0]["sha256"], jre.sha256.as_str());
        assert_eq!(list[0]["filename"], jre.filename.as_str());
        assert_eq!(list[0]["javaPath"], bootstrap::JAVA_PATH);
        assert_eq!(list[0]["os"], "linux");
        assert_eq!(list[0]["id"], "emulated-jre-linux-x64");
        assert!(
            list[0].get("downloadUrl").is_none(),
            "Server: download by id"
        );

        let by_id = "/api/v2/analysis/jres/emulated-jre-linux-x64";
        let r = call_with(&s, Web, "GET", by_id, "", Some("sqp"), OCTET);
        assert_eq!((r.status, &r.body), (200, &Body::Bytes(&jre.bytes)));
        let r = call_with(&s, Web, "GET", by_id, "", Some("sqp"), JSON_ACCEPT);
        assert_eq!(json_of(&r)["sha256"], jre.sha256.as_str());

        let r = call_with(
            &s,
            Web,
            "GET",
            "/api/v2/analysis/engine",
            "",
            Some("sqp"),
            JSON_ACCEPT,
        );
        assert_eq!(json_of(&r)["sha256"], engine.sha256.as_str());
        assert_eq!(json_of(&r)["filename"], bootstrap::ENGINE_FILENAME);
        assert!(json_of(&r).get("downloadUrl").is_none());
        let r = call_with(
            &s,
            Web,
            "GET",
            "/api/v2/analysis/engine",
            "",
            Some("sqp"),
            Some("Application/Octet-Stream"),
        );
        assert_eq!((r.status, &r.body), (200, &Body::Bytes(&engine.bytes)));
    }

    #[test]
    #[rustfmt::skip]
    fn server_downloads_need_a_valid_token_and_a_known_id() {
        let by_id = "/api/v2/analysis/jres/emulated-jre-linux-x64";
        check(
            &server(),
            &[
                (Web, "GET", by_id, "", None, 401, ""),
                (Web, "GET", by_id, "", Some("gone"), 401, ""),
                (Web, "GET", by_id, "", Some("browse"), 200, "emulated-jre-linux-x64"),
                (Web, "GET", "/api/v2/analysis/jres/nope", "", Some("sqp"), 404, "JRE not found for id: nope"),
                (Web, "GET", "/api/v2/analysis/jres/emulated-jre-../../x", "", Some("sqp"), 404, "JRE not found for id: emulated-jre-../../x"),
            ],
        );
    }

    /// Cloud: the API host describes both with a `downloadUrl` on itself, and the download
    /// needs no token (a pre-signed URL on the real Cloud); the web host serves neither.
    #[test]
    fn cloud_serves_the_jre_and_engine_at_their_download_urls() {
        let c = cloud();
        let (jre, engine) = (bootstrap::jre(), bootstrap::engine());
        let r = call_with(
            &c,
            Api,
            "GET",
            "/analysis/jres",
            "os=linux&arch=aarch64",
            Some("sot"),
            JSON_ACCEPT,
        );
        let list = json_of(&r).as_array().unwrap();
        assert_eq!(list[0]["sha256"], jre.sha256.as_str());
        assert_eq!(list[0]["arch"], "aarch64");
        assert_eq!(
            list[0]["downloadUrl"],
            "http://api.test/downloads/sonar-emulator-jre.tar.gz"
        );
        let r = call_with(
            &c,
            Api,
            "GET",
            "/analysis/engine",
            "",
            Some("all"),
            JSON_ACCEPT,
        );
        assert_eq!(json_of(&r)["sha256"], engine.sha256.as_str());
        assert_eq!(
            json_of(&r)["downloadUrl"],
            format!("http://api.test/downloads/{}", bootstrap::ENGINE_FILENAME)
        );
        for a in [jre, engine] {
            let r = call_with(
                &c,
                Api,
                "GET",
                &format!("/downloads/{}", a.filename),
                "",
                None,
                OCTET,
            );
            assert_eq!(
                (r.status, &r.body),
                (200, &Body::Bytes(&a.bytes)),
                "{}",
                a.filename
            );
        }
    }

    #[test]
    #[rustfmt::skip]
    fn cloud_downloads_are_only_what_was_described() {
        check(
            &cloud(),
            &[
                (Api, "GET", "/downloads/other.jar", "", None, 404, "Not found"),
                (Api, "GET", "/downloads/", "", None, 404, "Not found"),
                (Web, "GET", "/downloads/sonar-emulator-jre.tar.gz", "", None, 404, "Unknown url : /downloads/sonar-emulator-jre.tar.gz"),
                (Api, "GET", "/analysis/jres/emulated-jre-linux-x64", "", Some("sot"), 404, "Unknown url : /analysis/jres/emulated-jre-linux-x64"),
            ],
        );
    }
}
