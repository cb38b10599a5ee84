//! Azure Pipelines logging commands (docs/sonar-facts.md §6, `azure-pipelines-agent`).
//!
//! The secret is set first with `issecret=true`, which registers it for masking before any
//! other line. Property values and data are escaped exactly as the agent unescapes them,
//! `%` first, so no value can end a command early or start another.

use super::{ExportSet, Rendered, Summary};
use std::fmt::Write;

pub fn escape_data(value: &str) -> String {
    value
        .replace('%', "%AZP25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

pub fn escape_property(value: &str) -> String {
    escape_data(value).replace(']', "%5D").replace(';', "%3B")
}

/// `task.setvariable`, with its flags.
pub fn set_variable(name: &str, value: &str, secret: bool, output: bool) -> String {
    let mut props = format!("variable={}", escape_property(name));
    if secret {
        props.push_str(";issecret=true");
    }
    if output {
        props.push_str(";isoutput=true");
    }
    format!("##vso[task.setvariable {props}]{}\n", escape_data(value))
}

/// `task.complete`: the task's result (`Succeeded`, `SucceededWithIssues`, `Failed`) and a
/// message.
pub fn task_complete(result: &str, message: &str) -> String {
    format!(
        "##vso[task.complete result={}]{}\n",
        escape_property(result),
        escape_data(message)
    )
}

/// Output variables use Azure's camelCase: `$(step.projectKey)`.
fn output_name(kebab: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in kebab.chars() {
        if c == '-' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// The step's output variables: `verdict`, then the others in camelCase (`projectKey`,
/// `hostUrl`), read in later steps as `$(step.verdict)`.
pub fn outputs(verdict: &str, others: &[(&str, String)]) -> String {
    let mut out = set_variable("verdict", verdict, false, true);
    for (name, value) in others {
        out.push_str(&set_variable(&output_name(name), value, false, true));
    }
    out
}

pub fn render(set: &ExportSet, summary: &Summary) -> Rendered {
    let mut out = String::new();
    // Secrets first (the set is ordered so, this keeps it true whatever the order).
    let (secrets, public): (Vec<_>, Vec<_>) =
        set.variables.iter().partition(|v| v.value.is_secret());
    for var in secrets.into_iter().chain(public) {
        out.push_str(&set_variable(
            var.name,
            var.value.expose(),
            var.value.is_secret(),
            false,
        ));
    }
    out.push_str(&outputs(&summary.verdict, &set.outputs));
    for warning in &set.warnings {
        writeln!(
            out,
            "##vso[task.logissue type=warning]{}",
            escape_data(warning)
        )
        .unwrap();
    }
    // Exported without proof (--no-verify, --on-unreachable warn): the step succeeds, and
    // the pipeline shows it as succeeded with issues rather than a plain success.
    if summary.verdict != "ok" {
        out.push_str(&task_complete("SucceededWithIssues", &summary.message));
    }
    Rendered {
        stdout: out,
        ..Rendered::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_is_escaped_first() {
        assert_eq!(escape_property("%0A;]\n"), "%AZP250A%3B%5D%0A");
    }

    #[test]
    fn camel_case_outputs() {
        assert_eq!(output_name("project-key"), "projectKey");
        assert_eq!(output_name("verdict"), "verdict");
    }
}
