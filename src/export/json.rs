//! One JSON object of the variables, for any other tool. The token only with
//! `--include-secrets`.

use super::ExportSet;

pub fn render(set: &ExportSet, include_secrets: bool) -> String {
    let map: serde_json::Map<String, serde_json::Value> = set
        .variables
        .iter()
        .filter(|v| include_secrets || !v.value.is_secret())
        .map(|v| {
            (
                v.name.to_owned(),
                serde_json::Value::String(v.value.expose().to_owned()),
            )
        })
        .collect();
    let mut text = serde_json::to_string_pretty(&map).expect("strings always serialize");
    text.push('\n');
    // Printed where a CI reads the log, `##vso[` and `##[` would be the Azure agent's (and
    // the old GitHub) command markers; inside a JSON string `\u005b` is the same `[`.
    text.replace("##vso[", "##vso\\u005b")
        .replace("##[", "##\\u005b")
}
