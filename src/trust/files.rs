//! The workspace files a scanner takes properties from, read the way each scanner reads them,
//! so the trust check can compare the pull request's version of each with the base's:
//! `sonar-project.properties` and `.sonarcloud.properties` (every scanner but .NET),
//! pysonar's `pyproject.toml` `[tool.sonar]` (and its `[project] name`), and the `name` of
//! `package.json`, from which @sonar/scan derives the project key.
//!
//! A file that cannot be read with certainty (it does not parse) is an error: the scanner may
//! still read something from it, so nothing is assumed absent.

use crate::error::{quote, ConfigError};
use std::collections::BTreeMap;
use std::path::Path;

/// The cap on every such file (real ones are a few kilobytes).
pub const MAX_BYTES: usize = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Properties,
    PyprojectToml,
    PackageJson,
}

/// The files, by name in the project's base directory.
pub const FILES: [(&str, Kind); 4] = [
    ("sonar-project.properties", Kind::Properties),
    (".sonarcloud.properties", Kind::Properties),
    ("pyproject.toml", Kind::PyprojectToml),
    ("package.json", Kind::PackageJson),
];

/// The properties a file gives, keyed as the scanner names them.
pub fn parse(
    kind: Kind,
    path: &Path,
    bytes: &[u8],
) -> Result<BTreeMap<String, String>, ConfigError> {
    match kind {
        Kind::Properties => crate::scanner_config::parse_properties(path, bytes),
        Kind::PyprojectToml => pyproject(path, bytes),
        Kind::PackageJson => package_json(path, bytes),
    }
}

fn text<'a>(path: &Path, bytes: &'a [u8]) -> Result<&'a str, ConfigError> {
    std::str::from_utf8(bytes).map_err(|e| {
        ConfigError::new(
            path.display().to_string(),
            format!("is not valid UTF-8 (at byte {})", e.valid_up_to()),
        )
    })
}

/// pysonar (`configuration/pyproject_toml.py`): `[tool.sonar]` flattened with dots under
/// `sonar.` (`[tool.sonar.scanner] proxy-host` is `sonar.scanner.proxyHost`), each
/// kebab-case segment in camelCase; `[project] name` is `sonar.projectName`, not the key.
fn pyproject(path: &Path, bytes: &[u8]) -> Result<BTreeMap<String, String>, ConfigError> {
    let table: toml::Table = toml::from_str(text(path, bytes)?).map_err(|e| {
        ConfigError::new(
            path.display().to_string(),
            format!("cannot be parsed as TOML: {}", quote(&e.to_string())),
        )
        .hint("pysonar reads [tool.sonar] from it: fix the file, so what it sets can be compared")
    })?;
    let mut out = BTreeMap::new();
    if let Some(toml::Value::Table(sonar)) = table.get("tool").and_then(|t| t.get("sonar")) {
        flatten("sonar", sonar, &mut out);
    }
    Ok(out)
}

fn flatten(prefix: &str, table: &toml::Table, out: &mut BTreeMap<String, String>) {
    for (key, value) in table {
        let name = format!("{prefix}.{}", camel(key));
        match value {
            toml::Value::Table(t) => flatten(&name, t, out),
            toml::Value::String(s) => {
                out.insert(name, s.clone());
            }
            toml::Value::Array(items) => {
                let joined: Vec<String> = items.iter().map(scalar).collect();
                out.insert(name, joined.join(","));
            }
            other => {
                out.insert(name, scalar(other));
            }
        }
    }
}

fn scalar(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Datetime(d) => d.to_string(),
        toml::Value::Array(items) => items.iter().map(scalar).collect::<Vec<_>>().join(","),
        toml::Value::Table(_) => String::new(),
    }
}

/// `proxy-host` → `proxyHost`; a dotted key keeps its dots.
fn camel(key: &str) -> String {
    key.split('.')
        .map(|part| {
            let mut words = part.split('-');
            let mut out = words.next().unwrap_or_default().to_owned();
            for w in words {
                let mut chars = w.chars();
                // Python's str.capitalize: the first letter upper, the rest lower.
                if let Some(first) = chars.next() {
                    out.extend(first.to_uppercase());
                    out.push_str(&chars.as_str().to_lowercase());
                }
            }
            out
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// @sonar/scan (`src/properties.js`, `populatePackageParams`): the project key is derived
/// from `name`; kept as written, which is what a change would show.
fn package_json(path: &Path, bytes: &[u8]) -> Result<BTreeMap<String, String>, ConfigError> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        ConfigError::new(
            path.display().to_string(),
            format!("cannot be parsed as JSON: {e}"),
        )
    })?;
    let mut out = BTreeMap::new();
    if let Some(name) = value.get("name").and_then(|n| n.as_str()) {
        out.insert("sonar.projectKey".to_owned(), name.to_owned());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pyproject_keys_are_read_as_pysonar_reads_them() {
        let toml = br#"
[project]
name = "api"
[tool.sonar]
projectKey = "acme_api"
host.url = "https://evil.example"
[tool.sonar.scanner]
proxy-host = "proxy.example"
java-opts = ["-Xmx1g", "-javaagent:a.jar"]
skip-jre-provisioning = true
"#;
        let m = parse(Kind::PyprojectToml, Path::new("pyproject.toml"), toml).unwrap();
        assert_eq!(m["sonar.projectKey"], "acme_api");
        assert_eq!(m["sonar.host.url"], "https://evil.example");
        assert_eq!(m["sonar.scanner.proxyHost"], "proxy.example");
        assert_eq!(m["sonar.scanner.javaOpts"], "-Xmx1g,-javaagent:a.jar");
        assert_eq!(m["sonar.scanner.skipJreProvisioning"], "true");
        assert!(!m.contains_key("sonar.projectName"));
    }

    #[test]
    fn unreadable_files_are_errors_not_empty() {
        assert!(parse(Kind::PyprojectToml, Path::new("p"), b"[tool.sonar\n").is_err());
        assert!(parse(Kind::PackageJson, Path::new("p"), b"{").is_err());
        assert!(
            parse(Kind::PackageJson, Path::new("p"), br#"{"name": "web"}"#)
                .unwrap()
                .contains_key("sonar.projectKey")
        );
    }
}
