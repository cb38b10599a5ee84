//! `KEY=VALUE` files: GitLab's dotenv reports and Jenkins' `readProperties`.
//!
//! Neither is masked by its CI, so the token is left out unless `--include-secrets` says
//! otherwise. Dotenv has no escaping at all: a value with a line break is refused. The
//! properties form escapes as `java.util.Properties` reads.

use super::{ExportSet, Value, WriteError};

fn chosen(set: &ExportSet, include_secrets: bool) -> impl Iterator<Item = (&'static str, &Value)> {
    set.variables
        .iter()
        .filter(move |v| include_secrets || !v.value.is_secret())
        .map(|v| (v.name, &v.value))
}

pub fn render(set: &ExportSet, include_secrets: bool) -> Result<String, WriteError> {
    let mut out = String::new();
    for (name, value) in chosen(set, include_secrets) {
        let v = value.expose();
        if v.contains(['\n', '\r', '\0']) {
            return Err(WriteError {
                name: name.into(),
                format: "dotenv",
                problem: "the value contains a line break, which dotenv files cannot hold (use --format properties or json)".into(),
            });
        }
        if v.contains("##vso[") || v.contains("##[") {
            return Err(WriteError {
                name: name.into(),
                format: "dotenv",
                problem: "the value contains a CI command marker (##vso[ or ##[), which dotenv cannot escape and a CI log would act on (use --format properties or json)".into(),
            });
        }
        out.push_str(&format!("{name}={v}\n"));
    }
    Ok(out)
}

pub fn render_properties(set: &ExportSet, include_secrets: bool) -> Result<String, WriteError> {
    let mut buf = Vec::new();
    {
        let mut writer =
            java_properties::PropertiesWriter::new_with_encoding(&mut buf, encoding_rs::UTF_8);
        for (name, value) in chosen(set, include_secrets) {
            writer.write(name, value.expose()).map_err(|e| WriteError {
                name: name.into(),
                format: "properties",
                problem: e.to_string(),
            })?;
        }
        writer.finish().map_err(|e| WriteError {
            name: String::new(),
            format: "properties",
            problem: e.to_string(),
        })?;
    }
    // `\u005B` is `[` to every properties reader, and breaks the CI command markers a log
    // would act on.
    Ok(String::from_utf8(buf)
        .expect("written as UTF-8")
        .replace("##vso[", "##vso\\u005B")
        .replace("##[", "##\\u005B"))
}
