//! `export NAME='value'` lines for `eval "$(scantoken export --format shell)"`.
//!
//! POSIX single quotes keep every byte literal except `'` itself, which is written as
//! `'\''` (close, escaped quote, reopen). That is the whole escaping, and it holds in bash,
//! dash and zsh alike. When the output lands in a CI log instead of `eval`, the Azure agent
//! would act on `##vso[` or `##[` anywhere and the GitHub runner on a line starting with
//! `::`: an empty `''` between two of their characters changes nothing for the shell (the
//! quoted pieces join) and breaks every such marker.

use super::{ExportSet, WriteError};

pub fn quote(value: &str) -> String {
    let body = value
        .replace('\'', r"'\''")
        .replace("##vso[", "##vso''[")
        .replace("##[", "##''[")
        .replace("::", ":'':");
    format!("'{body}'")
}

pub fn render(set: &ExportSet) -> Result<String, WriteError> {
    let mut out = String::new();
    for var in &set.variables {
        let value = var.value.expose();
        if value.contains('\0') {
            return Err(WriteError {
                name: var.name.into(),
                format: "shell",
                problem: "the value contains a NUL byte, which no shell variable can hold".into(),
            });
        }
        out.push_str(&format!("export {}={}\n", var.name, quote(value)));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes() {
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote("$(x)`y`\n"), "'$(x)`y`\n'");
        assert_eq!(quote("a##vso[b\n::c ##[d"), "'a##vso''[b\n:'':c ##''[d'");
    }
}
