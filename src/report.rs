//! What a person reads: the context, the target and what was exported.
//!
//! Values we print come from outside (branch names, payload fields, properties files), and a
//! CI reads our output for commands: an Azure agent acts on `##vso[` anywhere in a line, a
//! GitHub runner on `::` at the start of one. [`safe`] makes any value inert before it is
//! printed.

use crate::ci::{Context, EventKind};
use crate::inputs::Sourced;
use crate::target::Target;
use std::fmt::Write;

/// The longest value from outside (a branch name, a server message) printed whole.
const VALUE_CAP: usize = 200;
/// The longest sentence of our own (a verdict's cause, the next step, a warning) printed
/// whole: long enough never to cut one mid-sentence, short enough to bound the values
/// quoted inside it.
const TEXT_CAP: usize = 1000;

/// A value made safe to print in a CI log: control characters shown escaped, command
/// markers broken up, and the length bounded to 200 characters.
pub fn safe(value: &str) -> String {
    inert(value, VALUE_CAP)
}

/// Like [`safe`] for a sentence of our own that may quote outside values (a verdict's
/// cause and next step, a warning): the same neutralising, a cap of 1000 characters.
pub fn safe_text(text: &str) -> String {
    inert(text, TEXT_CAP)
}

fn inert(value: &str, cap: usize) -> String {
    let mut out = String::new();
    for c in value.chars().take(cap) {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    if value.chars().count() > cap {
        out.push('…');
    }
    out.replace("##vso[", "##vso␣[")
        .replace("##[", "##␣[")
        .replace("::", ":\u{200b}:")
}

/// Text cut to at most `cap` characters at a word's end, with an ellipsis, so a long error
/// chain is never cut mid-word.
fn cut_at_word(text: &str, cap: usize) -> String {
    if text.chars().count() <= cap {
        return text.to_owned();
    }
    let head: String = text.chars().take(cap).collect();
    let end = head
        .rfind(' ')
        .filter(|&i| i > cap / 2)
        .unwrap_or(head.len());
    format!("{}…", head[..end].trim_end())
}

/// Like [`safe`] for a multi-line text (a `Debug` dump): each line made inert, no length cap.
pub fn safe_multiline(text: &str) -> String {
    text.lines()
        .map(|l| {
            l.chars()
                .map(|c| if c.is_control() { '?' } else { c })
                .collect::<String>()
                .replace("##vso[", "##vso␣[")
                .replace("##[", "##␣[")
                .replace("::", ":\u{200b}:")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn sourced(out: &mut String, label: &str, value: Option<&Sourced<String>>) {
    match value {
        Some(v) => writeln!(
            out,
            "  {label:<13} {}  ({})",
            safe(&v.value),
            safe(&v.source.to_string())
        )
        .unwrap(),
        None => writeln!(out, "  {label:<13} (not set)").unwrap(),
    }
}

pub fn context_text(ctx: &Context, trust: &crate::trust::Decision) -> String {
    let mut out = String::new();
    let trigger = ctx
        .trigger
        .as_deref()
        .map(|t| format!(" ({})", safe(t)))
        .unwrap_or_default();
    writeln!(out, "Context").unwrap();
    writeln!(out, "  {:<13} {}{trigger}", "CI", ctx.ci.describe()).unwrap();
    if !ctx.detected_by.is_empty() {
        writeln!(
            out,
            "  {:<13} {}",
            "detected by",
            ctx.detected_by.join(", ")
        )
        .unwrap();
    }
    writeln!(
        out,
        "  {:<13} {}",
        "repository",
        ctx.repository
            .as_deref()
            .map(safe)
            .unwrap_or("(unknown)".into())
    )
    .unwrap();
    let event = match (ctx.event, &ctx.pull_request, &ctx.branch, &ctx.tag) {
        (EventKind::PullRequest, Some(pr), ..) => format!(
            "pull request {}: {} → {}",
            safe(&pr.key),
            safe(&pr.source_branch),
            safe(&pr.target_branch)
        ),
        (EventKind::Branch, _, Some(b), _) => format!("branch {}", safe(b)),
        (EventKind::Tag, _, _, Some(t)) => format!("tag {}", safe(t)),
        _ => "unknown (no branch, pull request or tag)".into(),
    };
    writeln!(out, "  {:<13} {event}", "event").unwrap();
    writeln!(
        out,
        "  {:<13} {}",
        "revision",
        ctx.revision
            .as_deref()
            .map(safe)
            .unwrap_or("(unknown)".into())
    )
    .unwrap();
    writeln!(
        out,
        "  {:<13} {}, dependabot: {}",
        "fork",
        yes_no(ctx.fork),
        yes_no(ctx.dependabot)
    )
    .unwrap();
    let default = match (&ctx.default_branch, ctx.is_default_branch) {
        (Some(d), Some(is)) => format!(
            "{} (this build is {}the default branch)",
            safe(d),
            if is { "" } else { "not " }
        ),
        (Some(d), None) => safe(d),
        (None, _) => "(not told by this CI: pass default-branch)".into(),
    };
    let from = ctx
        .default_branch_source
        .as_deref()
        .map(|f| format!(", from {}", safe(f)))
        .unwrap_or_default();
    writeln!(out, "  {:<13} {default}{from}", "default").unwrap();
    if let Some(why) = &ctx.skip {
        writeln!(out, "  {:<13} {}", "skip", safe_text(why)).unwrap();
    }
    if let Some(why) = &ctx.secrets_withheld {
        writeln!(out, "  {:<13} withheld: {}", "secrets", safe_text(why)).unwrap();
    }
    {
        let t = trust;
        writeln!(
            out,
            "  {:<13} {} ({}): {}",
            "trust",
            if t.untrusted { "untrusted" } else { "trusted" },
            t.policy.name(),
            safe_text(&t.reason)
        )
        .unwrap();
        if let Some(w) = &t.warning {
            writeln!(out, "  warning: {}", safe_text(w)).unwrap();
        }
    }
    for note in &ctx.notes {
        writeln!(out, "  note: {}", safe_text(note)).unwrap();
    }
    out
}

/// What the trust check found in an untrusted build's workspace (`scantoken context`).
pub fn trust_text(report: &crate::trust::check::Report) -> String {
    let mut out = String::new();
    writeln!(out, "Trust").unwrap();
    let decision = &report.decision;
    writeln!(
        out,
        "  {:<13} {} (pull-request-trust {})",
        "build",
        if decision.untrusted {
            "untrusted"
        } else {
            "trusted"
        },
        decision.policy.name()
    )
    .unwrap();
    if let Some(base) = &report.base {
        writeln!(out, "  {:<13} {}", "base", safe_text(base)).unwrap();
    }
    for f in &report.accepted {
        writeln!(
            out,
            "  accepted: {} {}: {}",
            safe(&f.place),
            safe(&f.key),
            safe_text(&f.verdict)
        )
        .unwrap();
    }
    for f in &report.refused {
        writeln!(
            out,
            "  refused:  {} {}: {} ({})",
            safe(&f.place),
            safe(&f.key),
            safe_text(&f.verdict),
            safe_text(&f.steers)
        )
        .unwrap();
    }
    if let Some(failure) = &report.failure {
        writeln!(out, "  refused:  {}", safe_text(failure)).unwrap();
    }
    if decision.untrusted && report.refused.is_empty() && report.failure.is_none() {
        writeln!(
            out,
            "  nothing in the workspace that steers the token differs from the base or the pipeline"
        )
        .unwrap();
    }
    out
}

pub fn target_text(target: &Target) -> String {
    let mut out = String::new();
    writeln!(out, "Target: {}", target.flavor.describe()).unwrap();
    sourced(&mut out, "web URL", Some(&target.web_url));
    sourced(&mut out, "API URL", Some(&target.api_url));
    if let Some(region) = &target.region {
        sourced(&mut out, "region", Some(region));
    }
    if target.flavor.is_cloud() {
        sourced(&mut out, "organization", target.organization.as_ref());
    }
    sourced(&mut out, "project key", target.project_key.as_ref());
    for w in &target.warnings {
        writeln!(out, "  warning: {}", safe_text(w)).unwrap();
    }
    out
}

/// The verdict, its evidence and the next step, in a short paragraph.
pub fn verdict_text(v: &crate::sonar::Verdict) -> String {
    let mut out = String::new();
    writeln!(out, "Verdict: {}", v.verdict.name()).unwrap();
    writeln!(out, "  {}", safe_text(&v.cause)).unwrap();
    // Probes that got no answer for the reason the cause already gives (an unreachable host
    // fails every probe alike) share one line instead of repeating the error chain.
    let (shared, own): (Vec<_>, Vec<_>) = v.probes.iter().partition(|p| {
        p.status.is_none()
            && p.error
                .as_deref()
                .and_then(|e| e.rsplit(": ").next())
                .is_some_and(|last| !last.is_empty() && v.cause.contains(last))
    });
    for p in own {
        writeln!(
            out,
            "  probe {} {} -> {} ({} ms)",
            p.method,
            safe(&p.url),
            safe(&cut_at_word(&p.answer(), VALUE_CAP)),
            p.elapsed_ms
        )
        .unwrap();
    }
    if !shared.is_empty() {
        let urls: Vec<String> = shared
            .iter()
            .map(|p| format!("{} {}", p.method, safe(&p.url)))
            .collect();
        let attempts = shared.iter().map(|p| p.attempts).max().unwrap_or(1);
        let after = if attempts > 1 {
            format!(" after {attempts} attempts")
        } else {
            String::new()
        };
        let (label, them) = match shared.len() {
            1 => ("probe", "it"),
            _ => ("probes", "each"),
        };
        writeln!(
            out,
            "  {label} {} -> no answer{after} ({them}: the cause above)",
            urls.join(", ")
        )
        .unwrap();
    }
    writeln!(out, "  next: {}", safe_text(&v.next_step)).unwrap();
    for w in &v.warnings {
        writeln!(out, "  warning: {}", safe_text(w)).unwrap();
    }
    out
}

/// The projects of a `--projects` run as an aligned table: directory, project key, token,
/// verdict (the cause is told under the table for every project not `ok`).
pub fn projects_table(rows: &[[String; 5]]) -> String {
    let header = ["directory", "project key", "token", "verdict"];
    let cells: Vec<[String; 4]> = rows
        .iter()
        .map(|r| [safe(&r[0]), safe(&r[1]), safe(&r[2]), safe(&r[3])])
        .collect();
    let width = |i: usize| {
        cells
            .iter()
            .map(|c| c[i].chars().count())
            .chain([header[i].len()])
            .max()
            .unwrap_or(0)
    };
    let widths = [width(0), width(1), width(2), width(3)];
    let mut out = String::new();
    writeln!(out, "Projects ({})", rows.len()).unwrap();
    let line = |cols: [&str; 4]| {
        let mut l = String::from(" ");
        for (i, c) in cols.iter().enumerate() {
            l.push(' ');
            l.push_str(c);
            if i < 3 {
                l.push_str(&" ".repeat(widths[i].saturating_sub(c.chars().count()) + 1));
            }
        }
        l.trim_end().to_owned()
    };
    writeln!(out, "{}", line(header)).unwrap();
    for c in &cells {
        writeln!(out, "{}", line([&c[0], &c[1], &c[2], &c[3]])).unwrap();
    }
    out
}

/// The same rows as a Markdown table, for the CI's summary page.
pub fn projects_markdown(rows: &[[String; 5]]) -> String {
    let cell = crate::export::github::cell;
    let mut out = String::from("### scantoken: projects\n\n| directory | project key | token | verdict | cause |\n|---|---|---|---|---|\n");
    for r in rows {
        writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            cell(&r[0]),
            cell(&r[1]),
            cell(&r[2]),
            cell(&r[3]),
            cell(&r[4])
        )
        .unwrap();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_neutralises_ci_commands() {
        let s = safe("x##vso[task.setvariable variable=A]b\n::add-mask::y");
        assert!(
            !s.contains("##vso[") && !s.contains('\n') && !s.contains("::"),
            "{s}"
        );
    }

    #[test]
    fn verdict_sentences_are_printed_whole_and_still_inert() {
        use crate::sonar::{Verdict, VerdictKind};
        let long = |end: &str| format!("{} {end}", "word ".repeat(80));
        let mut v = Verdict::new(
            VerdictKind::NoScanPermission,
            long("##vso[task.setvariable variable=X]cause ends here."),
            long("::add-mask::next step ends here."),
        );
        v.warnings.push(long("warning ends here."));
        let text = verdict_text(&v);
        for end in [
            "cause ends here.",
            "next step ends here.",
            "warning ends here.",
        ] {
            assert!(text.contains(end), "cut before {end:?}: {text}");
        }
        assert!(
            !text.contains("##vso[") && !text.contains("::add-mask::"),
            "{text}"
        );
        // Values from outside keep the short cap; our sentences are bounded too.
        assert_eq!(safe(&"x".repeat(500)).chars().count(), 201);
        assert_eq!(safe_text(&"x".repeat(5000)).chars().count(), 1001);
    }
}
