//! Is it Sonar that answered? The shape of every answer Sonar gives to each probe of the
//! plan, in one table, and the check of an answer against it.
//!
//! An `ok` is only as true as the answers behind it: a TLS-inspecting proxy or a captive
//! portal that answers every request with a 200 page, or a catch-all that answers `{}`, must
//! never pass for a Sonar that let the token scan. So every answer the decision table reads
//! has first to show the shape Sonar gives to that call. Sources: SonarSource/sonarqube,
//! `server/sonar-webserver-ws` `WebServiceEngine.java` (every web-service error is JSON
//! `{"errors":[{"msg":...}]}`, an unknown call `404 Unknown url : <path>`) and
//! `server/sonar-webserver-webapi` (`ServerWs` version as text, `ValidateAction`
//! `{"valid":...}`, `scannercache/ws/GetAction.java`: binary content, since 9.4); the Web API
//! documentation for `api/qualityprofiles/search`; the emulator (`emulator/src/sonar.rs`)
//! answers the same way:
//!
//! | probe | status | what Sonar sends |
//! |---|---|---|
//! | `api/server/version` | 200 | a version string (`10.7.0.96327`), not JSON, not HTML |
//! | `api/authentication/validate` | 200 | JSON `{"valid": true \| false}` |
//! | `api/qualityprofiles/search` (Cloud) | 200 | JSON `{"profiles": [...]}` |
//! | `api/analysis_cache/get` (Server) | 200 | the cache, binary: not HTML, JSON or text (the body is not read) |
//! | `sensor-cache/prepare-read` (Cloud API host) | 200 | a JSON object |
//! | any authenticated call | 401 | an empty body, or Sonar's error JSON |
//! | Cloud's API host | 403 | Sonar's error JSON, an empty body, or a JSON object (its exact body is not public) |
//! | any call | 400, 403, 404 | Sonar's error JSON `{"errors": [{"msg": "..."}]}` |
//!
//! Anything else (another status, an HTML page, plain text where JSON belongs) is not Sonar.
//! 429 and 5xx are read before this table, as a failing server. Content types are compared
//! without case and without parameters (`Application/JSON; charset=UTF-8` is JSON).

use super::client::Answer;
use super::plan::{Host, Probe, Role};

/// One shape an answer can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `api/server/version`: digits and dots, as plain text.
    Version,
    /// `{"valid": <bool>}`.
    Validity,
    /// `{"profiles": [...]}`.
    Profiles,
    /// Any JSON object.
    JsonObject,
    /// `{"errors": [{"msg": "..."}]}` (an error without a message has no `msg`).
    SonarError,
    /// No body at all.
    Empty,
    /// A body not read (the analysis cache): its content type must not be a page or JSON.
    Binary,
}

impl Shape {
    fn describe(self) -> &'static str {
        match self {
            Shape::Version => "a version number as plain text",
            Shape::Validity => "JSON with a boolean \"valid\"",
            Shape::Profiles => "JSON with a \"profiles\" list",
            Shape::JsonObject => "a JSON object",
            Shape::SonarError => "Sonar's error JSON {\"errors\":[{\"msg\":...}]}",
            Shape::Empty => "an empty body",
            Shape::Binary => "binary data",
        }
    }
}

/// The table above: the shapes Sonar gives to this probe with this status. Empty when Sonar
/// never answers it with that status.
pub fn expected(probe: &Probe, status: u16) -> &'static [Shape] {
    use Shape::*;
    match (probe.role, probe.host, status) {
        // Unauthenticated and public: only ever a 200 with the version.
        (Role::Server, _, 200) => &[Version],
        (Role::Server, ..) => &[],
        (Role::Token, _, 200) => &[Validity],
        (Role::Project, _, 200) => &[Profiles],
        (Role::Scan, Host::Web, 200) => &[Binary],
        (Role::Scan, Host::Api, 200) => &[JsonObject],
        (_, _, 401) => &[Empty, SonarError],
        (_, Host::Api, 403) => &[SonarError, Empty, JsonObject],
        (_, _, 400 | 403 | 404) => &[SonarError],
        _ => &[],
    }
}

/// Why an answer is not Sonar's: what Sonar would have sent instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotSonar {
    pub expected: String,
}

/// Checks an answer against the table.
pub fn check(probe: &Probe, a: &Answer) -> Result<(), NotSonar> {
    let shapes = expected(probe, a.status);
    if shapes.iter().any(|s| fits(*s, a)) {
        return Ok(());
    }
    let expected = if shapes.is_empty() {
        format!("Sonar never answers this call with {}", a.status)
    } else {
        let list: Vec<&str> = shapes.iter().map(|s| s.describe()).collect();
        format!("Sonar answers {} with {}", a.status, list.join(" or "))
    };
    Err(NotSonar { expected })
}

/// The media type, lower-case, without parameters: `Text/HTML; charset=x` → `text/html`.
pub fn media_type(a: &Answer) -> Option<String> {
    a.content_type.as_deref().map(|c| {
        c.split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    })
}

fn is_json(a: &Answer) -> bool {
    media_type(a).is_some_and(|m| m == "application/json" || m.ends_with("+json"))
}

fn is_page_or_text(a: &Answer) -> bool {
    media_type(a).is_some_and(|m| m.contains("html") || m.starts_with("text/") || m.contains("xml"))
}

fn fits(shape: Shape, a: &Answer) -> bool {
    let object = || {
        a.json
            .as_ref()
            .and_then(|j| j.as_object())
            .filter(|_| is_json(a))
    };
    match shape {
        Shape::Version => {
            !is_json(a)
                && !media_type(a).is_some_and(|m| m.contains("html"))
                && a.body.as_ref().is_some_and(|b| is_version(&b.excerpt))
        }
        Shape::Validity => object().is_some_and(|o| o.get("valid").is_some_and(|v| v.is_boolean())),
        Shape::Profiles => {
            object().is_some_and(|o| o.get("profiles").is_some_and(|v| v.is_array()))
        }
        Shape::JsonObject => object().is_some(),
        Shape::SonarError => object().is_some_and(|o| {
            o.get("errors")
                .and_then(|e| e.as_array())
                .is_some_and(|e| e.iter().all(|x| x.is_object()))
        }),
        Shape::Empty => a.body.as_ref().is_some_and(|b| b.len == 0),
        Shape::Binary => a.body.is_none() && !is_json(a) && !is_page_or_text(a),
    }
}

/// `10.7.0.96327`, `2025.1.0.102418`, `9.9.4-SNAPSHOT`: digits first, at least one dot,
/// nothing but digits, letters, dots and dashes.
fn is_version(text: &str) -> bool {
    let t = text.trim();
    t.len() <= 40
        && t.starts_with(|c: char| c.is_ascii_digit())
        && t.contains('.')
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sonar::client::BodyText;
    use crate::sonar::plan::{CLOUD, SERVER};

    fn answer(status: u16, content_type: Option<&str>, body: &str) -> Answer {
        let json: Option<serde_json::Value> = serde_json::from_str(body).ok();
        Answer {
            status,
            message: (json.is_none() && !body.is_empty()).then(|| body.to_owned()),
            json,
            token_expiration: None,
            content_type: content_type.map(str::to_owned),
            body: Some(BodyText {
                len: body.len(),
                excerpt: body.to_owned(),
            }),
        }
    }

    #[test]
    fn each_row_of_the_table() {
        let [version, validate, cache] = [&SERVER[0], &SERVER[1], &SERVER[2]];
        let [_, profiles, prepare] = [&CLOUD[0], &CLOUD[1], &CLOUD[2]];
        let json = Some("Application/JSON; charset=UTF-8");
        let ok = |p: &Probe, a: Answer| check(p, &a).is_ok();
        assert!(ok(version, answer(200, Some("text/plain"), "10.7.0.96327")));
        assert!(!ok(version, answer(200, Some("Text/HTML"), "10.7.0.96327")));
        assert!(!ok(version, answer(200, Some("text/plain"), "OK")));
        assert!(!ok(version, answer(200, json, "{}")));
        assert!(!ok(
            version,
            answer(404, json, r#"{"errors":[{"msg":"x"}]}"#)
        ));
        assert!(ok(validate, answer(200, json, r#"{"valid":false}"#)));
        assert!(!ok(validate, answer(200, json, r#"{"valid":"true"}"#)));
        assert!(!ok(validate, answer(200, json, "{}")));
        assert!(!ok(
            validate,
            answer(200, Some("text/plain"), r#"{"valid":true}"#)
        ));
        assert!(ok(validate, answer(401, None, "")));
        assert!(ok(profiles, answer(200, json, r#"{"profiles":[]}"#)));
        assert!(!ok(profiles, answer(200, json, "{}")));
        assert!(ok(
            profiles,
            answer(400, json, r#"{"errors":[{"msg":"x"}]}"#)
        ));
        assert!(!ok(
            profiles,
            answer(403, Some("text/html"), "<h1>blocked</h1>")
        ));
        let mut cached = answer(200, Some("application/octet-stream"), "");
        cached.body = None;
        assert!(ok(cache, cached.clone()));
        cached.content_type = Some("TEXT/HTML".into());
        assert!(!ok(cache, cached));
        assert!(ok(prepare, answer(200, json, r#"{"enabled":true}"#)));
        assert!(ok(prepare, answer(403, None, "")));
        assert!(!ok(prepare, answer(200, Some("text/html"), "<html>")));
        assert!(!ok(validate, answer(302, None, "")));
        // The cache's unread body is binary: any page or text type is not Sonar's.
        for page in ["text/plain", "application/xml", "application/xhtml+xml"] {
            let mut cached = answer(200, Some(page), "");
            cached.body = None;
            assert!(!ok(cache, cached), "{page}");
        }
        // A version starts with a digit.
        assert!(!ok(version, answer(200, Some("text/plain"), "v10.7.0")));
    }
}
