//! GitHub Actions file commands and workflow commands (docs/sonar-facts.md §6, `actions/runner`).
//!
//! - `::add-mask::` for every secret, before any other line, so the runner masks it
//!   everywhere from then on;
//! - `GITHUB_ENV` / `GITHUB_OUTPUT` entries as `NAME<<DELIM` heredocs with a fresh random
//!   delimiter per value, LF line endings only, and values containing their delimiter
//!   refused (a line equal to the delimiter would end the value early: an injection);
//! - a short Markdown step summary.

use super::{Append, Destinations, ExportSet, OnError, Rendered, Summary, WriteError};
use crate::ci::EventKind;
use std::fmt::Write;

const FORMAT: &str = "github";

pub fn render(
    set: &ExportSet,
    summary: &Summary,
    dest: &Destinations,
) -> Result<Rendered, WriteError> {
    let env_path = dest.github_env.clone().ok_or_else(|| WriteError {
        name: "GITHUB_ENV".into(),
        format: FORMAT,
        problem: "GITHUB_ENV is not set; this format appends to the file the GitHub runner names there (outside GitHub Actions use --format shell)".into(),
    })?;
    let mut rendered = Rendered::default();

    for var in set.variables.iter().filter(|v| v.value.is_secret()) {
        let secret = var.value.expose();
        writeln!(rendered.stdout, "::add-mask::{}", escape_data(secret)).unwrap();
        // The runner masks a multi-line secret as a whole; each line is masked too so a
        // line printed alone is hidden as well.
        for line in secret
            .split(['\n', '\r'])
            .filter(|l| !l.is_empty() && *l != secret)
        {
            writeln!(rendered.stdout, "::add-mask::{}", escape_data(line)).unwrap();
        }
    }
    for warning in set.warnings.iter() {
        rendered.stdout.push_str(&warning_command(warning));
    }

    let mut env_file = String::new();
    for var in &set.variables {
        env_file.push_str(&heredoc(var.name, var.value.expose())?);
    }
    rendered.appends.push(Append {
        path: env_path,
        named_by: "GITHUB_ENV",
        text: env_file,
        on_error: OnError::Fail,
    });

    if let Some(path) = &dest.github_output {
        rendered.appends.push(Append {
            path: path.clone(),
            named_by: "GITHUB_OUTPUT",
            text: outputs(&summary.verdict, &set.outputs)?,
            on_error: OnError::Fail,
        });
    }
    if let Some(path) = &dest.github_step_summary {
        // The summary is for people; the scan does not need it, so a summary file that
        // cannot be written is a warning, not a failed step.
        rendered.appends.push(Append {
            path: path.clone(),
            named_by: "GITHUB_STEP_SUMMARY",
            text: step_summary(set, summary),
            on_error: OnError::Warn(warning_command),
        });
    }
    Ok(rendered)
}

/// The step's `GITHUB_OUTPUT` entries: `verdict`, then the others (`project-key`, `host-url`).
pub fn outputs(verdict: &str, others: &[(&str, String)]) -> Result<String, WriteError> {
    let mut out = heredoc("verdict", verdict)?;
    for (name, value) in others {
        out.push_str(&heredoc(name, value)?);
    }
    Ok(out)
}

/// A `::warning` annotation line.
pub fn warning_command(text: &str) -> String {
    format!("::warning title=scantoken::{}\n", escape_data(text))
}

/// One file-command entry. The delimiter is random per value, so a value cannot know it in
/// advance; one that contains it anyway is refused, as `@actions/core` does.
pub fn heredoc(name: &str, value: &str) -> Result<String, WriteError> {
    if name.is_empty() || name.contains('=') || name.contains("<<") || name.contains(['\n', '\r']) {
        return Err(WriteError {
            name: name.into(),
            format: FORMAT,
            problem: "the name is not a valid variable name".into(),
        });
    }
    let delimiter = format!("ghadelimiter_{}", uuid::Uuid::new_v4());
    if value.contains(&delimiter) {
        return Err(WriteError {
            name: name.into(),
            format: FORMAT,
            problem: "the value contains the random heredoc delimiter; refusing to write it".into(),
        });
    }
    Ok(format!("{name}<<{delimiter}\n{value}\n{delimiter}\n"))
}

/// Workflow command data escaping (`%`, CR, LF).
pub fn escape_data(value: &str) -> String {
    value
        .replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Text safe inside a Markdown table cell: no line breaks, no `|`, no HTML.
pub fn cell(value: &str) -> String {
    const CAP: usize = 300;
    let mut out = String::with_capacity(value.len().min(CAP * 2));
    // A long value is cut at the last word end before the cap, and says so.
    let cut = value.char_indices().nth(CAP).map(|(i, _)| {
        let head = &value[..i];
        match head.rfind(char::is_whitespace) {
            Some(space) if space > i.saturating_sub(80) => space,
            _ => i,
        }
    });
    let shown = cut.map_or(value, |end| &value[..end]);
    for c in shown.chars() {
        match c {
            '|' => out.push_str("\\|"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '`' => out.push_str("\\`"),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    if cut.is_some() {
        out.push('…');
    }
    out
}

pub fn step_summary(set: &ExportSet, s: &Summary) -> String {
    let ctx = &s.context;
    let mut md = String::new();
    let icon = match (s.failed, s.verdict.as_str()) {
        (true, _) => "❌",
        (false, "ok") => "✅",
        // Exported without proof: --no-verify, --on-unreachable warn, a skipped fork build.
        (false, _) => "⚠️",
    };
    writeln!(
        md,
        "### {icon} scantoken: `{}`\n\n{}\n",
        cell(&s.verdict),
        cell(&s.message)
    )
    .unwrap();
    md.push_str("| | |\n|---|---|\n");
    let mut row = |k: &str, v: String| writeln!(md, "| {k} | {v} |").unwrap();
    let trigger = ctx
        .trigger
        .as_deref()
        .map(|t| format!(" ({})", cell(t)))
        .unwrap_or_default();
    row("CI", format!("{}{trigger}", ctx.ci.describe()));
    if let Some(repo) = &ctx.repository {
        row("Repository", cell(repo));
    }
    match (ctx.event, &ctx.pull_request, &ctx.branch, &ctx.tag) {
        (EventKind::PullRequest, Some(pr), ..) => row(
            "Pull request",
            format!(
                "#{} {} → {}",
                cell(&pr.key),
                cell(&pr.source_branch),
                cell(&pr.target_branch)
            ),
        ),
        (EventKind::Branch, _, Some(b), _) => row("Branch", cell(b)),
        (EventKind::Tag, _, _, Some(t)) => row("Tag", cell(t)),
        _ => {}
    }
    if let Some(rev) = &ctx.revision {
        row("Revision", format!("`{}`", cell(rev)));
    }
    row(
        "Target",
        format!(
            "{} {}",
            s.target.flavor.describe(),
            cell(&s.target.web_url.value)
        ),
    );
    if let Some(org) = &s.target.organization {
        row("Organization", cell(&org.value));
    }
    if let Some(key) = &s.target.project_key {
        row("Project", cell(&key.value));
    }
    if let Some(token) = &s.token {
        row("Token", cell(token));
    }
    let names = set.names();
    if !names.is_empty() {
        row("Exported", names.join(", "));
    }
    if !s.probes.is_empty() {
        md.push_str("\n| Probe | Answer |\n|---|---|\n");
        for (probe, answer) in &s.probes {
            writeln!(md, "| {} | {} |", cell(probe), cell(answer)).unwrap();
        }
    }
    md.push('\n');
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_cell_is_cut_at_a_word_end_and_says_so() {
        let text = format!("{} tokens), use a scoped token", "word ".repeat(60));
        let shown = cell(&text);
        assert!(shown.ends_with('…'), "{shown}");
        let body = shown.trim_end_matches('…');
        assert!(text.starts_with(body), "{shown}");
        // Cut where a word ends: the next character of the original is white space.
        assert!(
            text[body.len()..].starts_with(char::is_whitespace),
            "{shown}"
        );
        assert!(body.chars().count() <= 300);
        assert_eq!(cell("short | value"), "short \\| value");
    }

    #[test]
    fn a_long_value_is_cut_at_a_word_end_only_near_the_cap() {
        // The last space is far before the cap: cut at the cap, not 290 characters early.
        let value = format!("ab {}", "x".repeat(400));
        let shown = cell(&value);
        assert!(
            shown.starts_with(&format!("ab {}", "x".repeat(297))),
            "{shown}"
        );
        // A space within the last 80 characters before the cap: cut there.
        let value = format!("{} {}", "y".repeat(250), "z".repeat(200));
        let shown = cell(&value);
        assert!(
            shown.starts_with(&"y".repeat(250)) && !shown.contains('z'),
            "{shown}"
        );
        // Exactly 80 before the cap is too far: cut at the cap.
        let value = format!("{} {}", "y".repeat(220), "z".repeat(200));
        assert!(cell(&value).contains(&"z".repeat(79)), "{}", cell(&value));
    }
}
