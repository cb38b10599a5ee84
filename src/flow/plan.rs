//! `scantoken export --projects`: a job's environment holds one project, so for several the
//! export is the **plan**, written as the CI's own fan-out: one entry per project (name,
//! directory, project key, organization, host URL, verdict; never a token). Every project is
//! verified first, in one wave. Each job of the matrix then runs scantoken for its own
//! `project-base-dir`, which verifies again: tokens never cross jobs.
//!
//! - GitHub: the step output `matrix`, `{"include": [...]}`, read by `strategy.matrix:
//!   ${{ fromJSON(needs.<job>.outputs.matrix) }}`; entries keyed in kebab-case.
//! - Azure Pipelines: the output variable `matrix`, an object of jobs by name, each an object
//!   of variables (`projectBaseDir`, `projectKey`, ...), the shape `strategy: matrix:
//!   $[ dependencies.<job>.outputs['<step>.matrix'] ]` reads.
//! - `--format json`, anywhere: `{"projects": [...]}` on stdout (or `--output`).
//!
//! The exit code is the worst verdict's, after the plan is written (a workflow that wants the
//! other projects scanned anyway runs its matrix job with `if: ${{ !cancelled() }}`).

use super::project::{check_projects, projects};
use super::verify::project_row;
use super::{Failure, Policies};
use crate::ci::CiKind;
use crate::env::Env;
use crate::error::{ConfigError, Exit};
use crate::export::{self, Format};
use crate::output::Output;
use crate::report;
use crate::settings::Settings;
use serde_json::{json, Map, Value};
use std::io::Write;
use std::path::Path;

pub(super) fn export_plan(
    settings: &Settings,
    env: &Env,
    cwd: &Path,
    out: &mut Output,
) -> Result<Exit, Failure> {
    let projects = projects(settings, env, cwd, None)?;
    let ctx = &projects[0].stages.ctx;
    let format = settings.format.resolve(ctx.ci);
    if !matches!(format, Format::Github | Format::Azure | Format::Json) {
        return Err(Failure::Config(
            ConfigError::new(
                "projects",
                "names several projects, but one job's environment holds one project's variables",
            )
            .hint("export writes the plan of several projects for the CI's matrix (on GitHub Actions or Azure Pipelines), or with --format json anywhere; run --projects scans them one by one in this job"),
        ));
    }
    if format == Format::Json && settings.output.is_none() {
        out.stdout_is_data();
    }
    let checked = check_projects(settings, &projects, env, cwd, false, out)?;
    let policies = Policies::of(settings, ctx);
    let mut entries = Vec::new();
    let mut worst = Exit::Ok;
    let mut rows = Vec::new();
    for (p, c) in projects.iter().zip(&checked) {
        let v = c.verdict.as_ref().expect("export --projects verifies");
        worst = worst.worse(policies.exit(v));
        rows.push(project_row(p, c, v));
        let dir = p
            .dir
            .as_ref()
            .map(|d| d.dir.clone())
            .unwrap_or_else(|| ".".into());
        entries.push(Entry {
            name: job_name(&dir),
            dir,
            project_key: c.target.project_key.as_ref().map(|k| k.value.clone()),
            organization: c.target.organization.as_ref().map(|o| o.value.clone()),
            host_url: c.target.web_url.value.clone(),
            verdict: v.verdict.name().to_owned(),
        });
    }
    unique_names(&mut entries);
    if format != Format::Json {
        out.say(&report::context_text(
            ctx,
            &projects[0].stages.trust.decision,
        ));
        out.report(&report::projects_table(&rows))?;
    }
    super::publish_summary(
        env,
        ctx.ci,
        &report::projects_markdown(&rows),
        format == Format::Json,
        out,
    );
    let written = match format {
        Format::Github => {
            let Some(path) = env.non_empty("GITHUB_OUTPUT") else {
                return Err(Failure::Config(
                    ConfigError::new(
                        "format github",
                        "GITHUB_OUTPUT is not set, so the plan has nowhere to go",
                    )
                    .hint("run inside a GitHub Actions step, or use --format json"),
                ));
            };
            let text = export::github::heredoc("matrix", &github_matrix(&entries).to_string())?;
            std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(path)
                .and_then(|mut f| f.write_all(text.as_bytes()))
        }
        Format::Azure => {
            let line = export::azure::set_variable(
                "matrix",
                &azure_matrix(&entries).to_string(),
                false,
                true,
            );
            out.raw_stdout().write_all(line.as_bytes())
        }
        _ => {
            let text = format!("{}\n", json!({ "projects": plan_json(&entries) }));
            match &settings.output {
                Some(p) => std::fs::write(cwd.join(p), text),
                None => out.raw_stdout().write_all(text.as_bytes()),
            }
        }
    };
    written.map_err(|e| {
        ConfigError::new("plan", e.to_string())
            .hint("check that the file GITHUB_OUTPUT or --output names can be written")
    })?;
    if format != Format::Json {
        out.say(&format!(
            "Plan written ({}): {} project(s) as the output matrix; no token in it",
            if ctx.ci == CiKind::Azure {
                "Azure output variable"
            } else {
                "step output"
            },
            entries.len()
        ));
    }
    Ok(worst)
}

/// One project of the plan.
struct Entry {
    name: String,
    dir: String,
    project_key: Option<String>,
    organization: Option<String>,
    host_url: String,
    verdict: String,
}

/// A job name both CIs accept: letters, digits and `_` (`services/api` → `services_api`).
fn job_name(dir: &str) -> String {
    let name: String = dir
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    match name.trim_matches('_') {
        "" => "root".into(),
        n => n.to_owned(),
    }
}

/// Two directories that slug alike (`a-b`, `a_b`) get `_2`, `_3`, ... in order.
fn unique_names(entries: &mut [Entry]) {
    let mut seen = std::collections::BTreeMap::<String, usize>::new();
    for e in entries.iter_mut() {
        let n = seen.entry(e.name.clone()).or_insert(0);
        *n += 1;
        if *n > 1 {
            e.name = format!("{}_{n}", e.name);
        }
    }
}

fn plan_json(entries: &[Entry]) -> Vec<Value> {
    entries
        .iter()
        .map(|e| {
            json!({
                "name": e.name,
                "project-base-dir": e.dir,
                "project-key": e.project_key,
                "organization": e.organization,
                "host-url": e.host_url,
                "verdict": e.verdict,
            })
        })
        .collect()
}

fn github_matrix(entries: &[Entry]) -> Value {
    json!({ "include": plan_json(entries) })
}

fn azure_matrix(entries: &[Entry]) -> Value {
    let mut jobs = Map::new();
    for e in entries {
        jobs.insert(
            e.name.clone(),
            json!({
                "projectBaseDir": e.dir,
                "projectKey": e.project_key.clone().unwrap_or_default(),
                "organization": e.organization.clone().unwrap_or_default(),
                "hostUrl": e.host_url,
                "verdict": e.verdict,
            }),
        );
    }
    Value::Object(jobs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(dir: &str) -> Entry {
        Entry {
            name: job_name(dir),
            dir: dir.into(),
            project_key: Some("k".into()),
            organization: None,
            host_url: "https://sonarcloud.io".into(),
            verdict: "ok".into(),
        }
    }

    #[test]
    fn job_names_are_identifiers_and_unique() {
        let mut e = vec![
            entry("services/api"),
            entry("services-api"),
            entry("."),
            entry("services_api"),
        ];
        unique_names(&mut e);
        let names: Vec<&str> = e.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            ["services_api", "services_api_2", "root", "services_api_3"]
        );
    }

    #[test]
    fn the_azure_matrix_is_an_object_of_jobs_of_variables() {
        let m = azure_matrix(&[entry("services/api")]);
        assert_eq!(m["services_api"]["projectBaseDir"], "services/api");
        assert_eq!(m["services_api"]["organization"], "");
        let g = github_matrix(&[entry("libs/core")]);
        assert_eq!(g["include"][0]["project-base-dir"], "libs/core");
        assert!(g["include"][0]["organization"].is_null());
    }
}
