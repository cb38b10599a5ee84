//! The answers: a pure function from (scenario, request) to (status, body, headers),
//! following FACTS §2 for SonarQube Server and SonarQube Cloud.

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
}

#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    Empty,
    Json(Value),
    Text(String),
    /// Opaque bytes of this length (an analysis cache).
    Binary(usize),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: u16,
    pub body: Body,
    pub headers: Vec<(String, String)>,
}

fn reply(status: u16, body: Body) -> Reply {
    Reply {
        status,
        body,
        headers: Vec::new(),
    }
}

/// Sonar's error body.
pub fn error(status: u16, msg: &str) -> Reply {
    reply(status, Body::Json(json!({ "errors": [{ "msg": msg }] })))
}

fn ok(value: Value) -> Reply {
    reply(200, Body::Json(value))
}

enum Auth<'a> {
    Anonymous,
    Invalid,
    Valid(&'a TokenSpec),
}

pub fn respond(s: &Scenario, r: &Request) -> Reply {
    let auth = match r.token {
        None => Auth::Anonymous,
        Some(t) => s.valid_token(t).map_or(Auth::Invalid, Auth::Valid),
    };
    let mut out = match (s.flavor, r.listener) {
        (Flavor::Cloud, ListenerKind::Api) => cloud_api(s, r, &auth),
        (Flavor::Cloud, _) => web(s, r, &auth, true),
        (Flavor::Server, _) => web(s, r, &auth, false),
    };
    if let (Flavor::Server, Auth::Valid(t)) = (s.flavor, &auth) {
        if let Some(date) = &t.expires {
            out.headers.push((
                "SonarQube-Authentication-Token-Expiration".into(),
                date.clone(),
            ));
        }
    }
    out
}

fn q<'a>(r: &'a Request, name: &str) -> &'a str {
    r.query.get(name).map(String::as_str).unwrap_or_default()
}

/// 401 with an empty body, as the web API answers a bad token.
fn unauthorized() -> Reply {
    reply(401, Body::Empty)
}

fn web(s: &Scenario, r: &Request, auth: &Auth, cloud: bool) -> Reply {
    let invalid = matches!(auth, Auth::Invalid);
    let token = match auth {
        Auth::Valid(t) => Some(*t),
        _ => None,
    };
    let can_scan = |p: &Project| token.is_some_and(|t| t.can_scan(p));
    let can_browse = |p: &Project| {
        p.visibility == crate::scenario::Visibility::Public
            || token.is_some_and(|t| t.can_browse(p))
    };
    match (r.method, r.path) {
        ("GET", "/api/server/version") => reply(200, Body::Text(s.server_version.clone())),
        ("GET", "/api/authentication/validate") => ok(json!({ "valid": token.is_some() })),
        ("GET", p) if !cloud && p.starts_with("/api/v2/analysis/") => {
            if token.is_none() {
                return unauthorized();
            }
            match p {
                "/api/v2/analysis/version" => reply(200, Body::Text(s.server_version.clone())),
                "/api/v2/analysis/jres" => ok(json!([])),
                "/api/v2/analysis/engine" => {
                    ok(json!({ "filename": "sonar-scanner-engine.jar", "sha256": "0" }))
                }
                _ => error(404, &format!("Unknown url : {p}")),
            }
        }
        ("GET", "/api/analysis_cache/get") if !cloud => {
            if token.is_none() {
                return unauthorized();
            }
            let key = q(r, "project");
            let Some(p) = s.project(key) else {
                return error(404, &format!("Project '{key}' not found"));
            };
            if let Some(b) = r.query.get("branch") {
                if !p.branches.contains(b) {
                    return error(404, &format!("Branch '{b}' in project '{key}' not found"));
                }
            }
            if !can_scan(p) {
                return error(403, "Insufficient privileges");
            }
            if p.cache {
                reply(200, Body::Binary(256 * 1024))
            } else {
                error(404, "No cache for given branch or pull request")
            }
        }
        ("GET", "/api/settings/values") | ("GET", "/api/project_branches/list") => {
            if invalid {
                return unauthorized();
            }
            let key = if r.path.ends_with("values") {
                q(r, "component")
            } else {
                q(r, "project")
            };
            let Some(p) = s.project(key) else {
                return error(404, &format!("Component key '{key}' not found"));
            };
            if can_browse(p) || can_scan(p) {
                ok(json!({ "settings": [], "branches": [] }))
            } else {
                error(403, "Insufficient privileges")
            }
        }
        ("GET", "/api/qualityprofiles/search") => {
            if invalid {
                return unauthorized();
            }
            let key = q(r, "project");
            if cloud {
                let org = q(r, "organization");
                if org.is_empty() {
                    return error(400, "The 'organization' parameter is missing");
                }
                if !s.organizations.iter().any(|o| o == org) {
                    return error(
                        404,
                        &format!("Organization with key '{org}' does not exist"),
                    );
                }
                match s.project(key) {
                    None => error(404, &format!("Project '{key}' not found")),
                    Some(p) if p.organization.as_deref() != Some(org) => error(
                        400,
                        &format!("Organization of component with key '{key}' does not match specified organization '{org}'"),
                    ),
                    Some(_) => ok(json!({ "profiles": [] })),
                }
            } else {
                match s.project(key) {
                    None => error(404, &format!("Project '{key}' not found")),
                    Some(_) => ok(json!({ "profiles": [] })),
                }
            }
        }
        ("POST", "/api/ce/submit") => {
            if token.is_none() {
                return unauthorized();
            }
            let key = q(r, "projectKey");
            match s.project(key) {
                Some(p) if can_scan(p) => ok(json!({ "taskId": "AY-emulated", "projectId": key })),
                // Cloud hides whether the project is missing or the token lacks permission.
                _ if cloud => error(404, &format!("Project '{key}' not found")),
                None => error(404, &format!("Project '{key}' not found")),
                Some(_) => error(403, "Insufficient privileges"),
            }
        }
        ("GET", "/api/components/show")
        | ("GET", "/api/navigation/component")
        | ("GET", "/api/components/search_projects")
        | ("GET", "/api/organizations/search") => {
            if invalid {
                return unauthorized();
            }
            let key = q(r, "component");
            let allowed = match token {
                None => false,
                Some(t) => match s.project(key) {
                    Some(p) => t.can_browse(p),
                    // Listing calls: a SOT has no user identity and no Browse.
                    None => matches!(
                        t.kind,
                        crate::scenario::TokenKind::User | crate::scenario::TokenKind::Personal
                    ),
                },
            };
            if allowed {
                ok(json!({ "components": [], "organizations": [] }))
            } else {
                error(403, "Insufficient privileges")
            }
        }
        (_, p) => error(404, &format!("Unknown url : {p}")),
    }
}

fn cloud_api(s: &Scenario, r: &Request, auth: &Auth) -> Reply {
    let Auth::Valid(token) = auth else {
        // The API host answers a missing or bad token with 403, not 401.
        return error(403, "Forbidden");
    };
    match (r.method, r.path) {
        ("GET", "/analysis/jres") => ok(json!([])),
        ("GET", "/analysis/engine") => {
            ok(json!({ "filename": "sonar-scanner-engine.jar", "sha256": "0" }))
        }
        ("GET", "/analysis/version") => reply(200, Body::Text(s.server_version.clone())),
        ("GET", "/sensor-cache/prepare-read") => {
            let (org, key) = (q(r, "organization"), q(r, "project"));
            if !s.organizations.iter().any(|o| o == org) {
                return error(
                    404,
                    &format!("Organization with key '{org}' does not exist"),
                );
            }
            match s.project(key) {
                Some(p) if p.organization.as_deref() == Some(org) => {
                    if !token.can_scan(p) {
                        error(403, "Insufficient privileges")
                    } else if p.cache {
                        ok(json!({ "enabled": true, "url": format!("/sensor-cache/blob/{key}") }))
                    } else {
                        ok(json!({ "enabled": true, "url": null }))
                    }
                }
                _ => error(404, &format!("Project '{key}' not found")),
            }
        }
        (_, p) => error(404, &format!("Unknown url : {p}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cloud() -> Scenario {
        Scenario::from_yaml_str(
            r#"
flavor: cloud
organizations: [acme, other]
projects:
  - {key: pay, organization: acme}
  - {key: docs, organization: acme, visibility: public}
tokens:
  - {value: sot, kind: sot, organization: acme, projects: [pay]}
  - {value: gone, kind: sot, organization: acme, projects: all, state: revoked}
"#,
        )
        .unwrap()
    }

    fn server() -> Scenario {
        Scenario::from_yaml_str(
            r#"
flavor: server
projects: [{key: pay}, {key: cached, cache: true}]
tokens:
  - {value: sqp, kind: project-analysis, projects: [pay, cached], expires: "2030-01-01"}
  - {value: browse, kind: user, browse: all}
  - {value: old, kind: user, scan: all, state: expired}
"#,
        )
        .unwrap()
    }

    fn call(
        s: &Scenario,
        listener: ListenerKind,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        token: Option<&str>,
    ) -> Reply {
        let query: BTreeMap<String, String> = query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        respond(
            s,
            &Request {
                listener,
                method,
                path,
                query: &query,
                token,
            },
        )
    }

    fn msg(r: &Reply) -> String {
        match &r.body {
            Body::Json(v) => v
                .pointer("/errors/0/msg")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            _ => String::new(),
        }
    }

    #[test]
    fn server_analysis_cache_rows() {
        let s = server();
        let get = |k: &str, b: Option<&str>, t: Option<&str>| {
            let mut q = vec![("project", k)];
            if let Some(b) = b {
                q.push(("branch", b));
            }
            call(
                &s,
                ListenerKind::Web,
                "GET",
                "/api/analysis_cache/get",
                &q,
                t,
            )
        };
        let r = get("pay", None, Some("sqp"));
        assert_eq!(
            (r.status, msg(&r).as_str()),
            (404, "No cache for given branch or pull request")
        );
        assert_eq!(
            r.headers[0],
            (
                "SonarQube-Authentication-Token-Expiration".into(),
                "2030-01-01".into()
            )
        );
        assert_eq!(
            get("cached", None, Some("sqp")).body,
            Body::Binary(256 * 1024)
        );
        assert_eq!(
            msg(&get("nope", None, Some("sqp"))),
            "Project 'nope' not found"
        );
        assert_eq!(
            msg(&get("pay", Some("dev"), Some("sqp"))),
            "Branch 'dev' in project 'pay' not found"
        );
        let r = get("pay", None, Some("browse"));
        assert_eq!(
            (r.status, msg(&r).as_str()),
            (403, "Insufficient privileges")
        );
        let r = get("pay", None, Some("old"));
        assert_eq!((r.status, r.body), (401, Body::Empty));
        assert_eq!(
            get("nope", None, Some("bad")).status,
            401,
            "authentication comes first"
        );
    }

    #[test]
    fn server_validate_and_browse_calls() {
        let s = server();
        let r = call(
            &s,
            ListenerKind::Web,
            "GET",
            "/api/authentication/validate",
            &[],
            Some("bad"),
        );
        assert_eq!(r.body, Body::Json(json!({"valid": false})));
        let r = call(
            &s,
            ListenerKind::Web,
            "GET",
            "/api/components/show",
            &[("component", "pay")],
            Some("sqp"),
        );
        assert_eq!(r.status, 403, "an analysis token cannot browse");
    }

    #[test]
    fn cloud_rows() {
        let s = cloud();
        let qp = |org: &str, key: &str| {
            call(
                &s,
                ListenerKind::Web,
                "GET",
                "/api/qualityprofiles/search",
                &[("project", key), ("organization", org)],
                Some("sot"),
            )
        };
        assert_eq!(qp("acme", "pay").status, 200);
        assert_eq!(
            msg(&qp("nope", "pay")),
            "Organization with key 'nope' does not exist"
        );
        assert_eq!(qp("other", "pay").status, 400);
        assert_eq!(msg(&qp("acme", "x")), "Project 'x' not found");
        let cache = |key: &str, token: &str| {
            call(
                &s,
                ListenerKind::Api,
                "GET",
                "/sensor-cache/prepare-read",
                &[("organization", "acme"), ("project", key)],
                Some(token),
            )
        };
        assert_eq!(cache("pay", "sot").status, 200);
        assert_eq!(
            msg(&cache("docs", "sot")),
            "Insufficient privileges",
            "a public project does not give scan rights"
        );
        assert_eq!(cache("pay", "gone").status, 403);
        assert_eq!(msg(&cache("pay", "gone")), "Forbidden");
        let r = call(
            &s,
            ListenerKind::Web,
            "GET",
            "/api/organizations/search",
            &[("member", "true")],
            Some("sot"),
        );
        assert_eq!(
            r.status, 403,
            "a SOT fails the browse-only call Azure's service connection uses"
        );
        let r = call(
            &s,
            ListenerKind::Web,
            "POST",
            "/api/ce/submit",
            &[("organization", "acme"), ("projectKey", "docs")],
            Some("sot"),
        );
        assert_eq!(
            msg(&r),
            "Project 'docs' not found",
            "Cloud hides missing permission as not found"
        );
    }
}
