//! The rule: in an untrusted build, every token-steering value that comes from the workspace
//! must be given by the pipeline too, or be unchanged since the pull request's base commit;
//! every file that steers the token (a truststore, a java, a token map, a CA file) and lies
//! in the workspace must be as the base has it. Otherwise the build stops, before any request
//! carries the token, naming the file, the key, both values and the fix.
//!
//! [`check`] only reads (the workspace, and the base with git); what it finds is a
//! [`Report`]. The flow asks [`Report::gate`] at the moment a token is at hand, so a build that
//! has no token (a fork pull request the CI gives no secrets) still ends `token-missing`.

use super::base::{self, Base};
use super::files;
use super::steering::{self, Shape, Steers, STEERING};
use super::Decision;
use crate::ci::Context;
use crate::env::Env;
use crate::error::{quote, ConfigError};
use crate::inputs::Sourced;
use crate::scanner_config::ScannerConfig;
use crate::settings::Settings;
use serde::Serialize;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

/// What the check reads.
pub struct Inputs<'a> {
    pub ctx: &'a Context,
    pub settings: &'a Settings,
    pub env: &'a Env,
    pub scanner: &'a ScannerConfig,
    pub cwd: &'a Path,
    /// The project's base directory, where the properties files are.
    pub base_dir: &'a Path,
    /// `run`: the scan command's words, as the pipeline wrote them.
    pub command: Option<&'a [OsString]>,
}

/// One workspace value the rule looked at.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// The file (relative to the work tree) or the setting that holds it.
    pub place: String,
    /// The property, or what the file is (`token map`).
    pub key: String,
    /// Why it matters.
    pub steers: String,
    /// Why it is accepted, or what is wrong.
    pub verdict: String,
    /// Accepted because the pipeline's own value overrides the pull request's: said as a
    /// warning beside the verdict.
    #[serde(skip)]
    pub overridden: bool,
}

/// What the trust check found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub decision: Decision,
    /// The base commit compared with, and how it was found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub accepted: Vec<Finding>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<Finding>,
    /// What could not be read with certainty (no base commit, no git): refused too.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    #[serde(skip)]
    failure_error: Option<ConfigError>,
}

impl Report {
    fn new(decision: Decision) -> Report {
        Report {
            decision,
            base: None,
            accepted: Vec::new(),
            refused: Vec::new(),
            failure: None,
            failure_error: None,
        }
    }

    /// What a report says beside the verdict: a fork's files believed by policy, and pull
    /// request values the pipeline's own override.
    pub fn warnings(&self) -> Vec<String> {
        let mut out: Vec<String> = self.decision.warning.iter().cloned().collect();
        for f in self.accepted.iter().filter(|f| f.overridden) {
            out.push(format!("{} {}: {}", f.place, f.key, f.verdict));
        }
        out
    }

    /// The error that stops this build before the token is used, if any.
    pub fn gate(&self) -> Option<ConfigError> {
        if let Some(e) = &self.failure_error {
            return Some(e.clone());
        }
        let first = self.refused.first()?;
        let mut problem = format!(
            "this untrusted build ({}) takes values that steer the token from files the pull request changed:",
            self.decision.reason
        );
        for f in &self.refused {
            problem.push_str(&format!(
                "\n    {} {}: {} ({})",
                f.place, f.key, f.verdict, f.steers
            ));
        }
        problem.push_str("\n  Nothing was sent, exported or started.");
        Some(
            ConfigError::new(first.place.clone(), problem).hint(
                "set these values in the pipeline itself (CI variables, the action's or task's inputs, the scan command), or merge the change through a trusted build (a push to the base branch) first; see docs/trust.md",
            ),
        )
    }
}

/// Runs the rule for an untrusted build; a trusted one gets its decision alone.
pub fn check(inputs: &Inputs, decision: Decision) -> Report {
    let mut report = Report::new(decision);
    if !report.decision.untrusted {
        return report;
    }
    if let Err(mut e) = run(inputs, &mut report) {
        // Said as what it is for: without the base, nothing the pull request changed can be
        // told from what the pipeline's owner wrote.
        e.problem = format!(
            "{} (this untrusted build compares the values that steer the token with the pull request's base, and cannot: nothing was sent, exported or started)",
            e.problem
        );
        report.failure = Some(e.to_string());
        report.failure_error = Some(e);
    }
    report
}

fn run(inp: &Inputs, report: &mut Report) -> Result<(), ConfigError> {
    let root = base::worktree_root(inp.cwd)?;
    let base = base::resolve(&root, inp.ctx.base.as_ref())?;
    report.base = Some(format!("{} ({})", base.commit, base.how));
    let tree = Tree { root, base };

    let chooses_by_key = inp.settings.token_map.is_some()
        || (inp.settings.vault.url.is_some()
            && (inp.settings.vault.path.contains("{project}")
                || inp.settings.vault.path.contains("{organization}")));
    let keys: Vec<&steering::Steering> = STEERING
        .iter()
        .filter(|s| s.steers != Steers::Which || chooses_by_key)
        .collect();

    let files = workspace_files(inp, &tree, chooses_by_key)?;
    properties_files(inp, &tree, &keys, &files, report)?;
    steering_paths(inp, &tree, &keys, &files, report)?;
    scantoken_files(inp, &tree, report)?;
    if let Some(argv) = inp.command {
        scan_command(inp, &tree, argv, report)?;
    }
    Ok(())
}

/// The work tree and the base it is compared with.
struct Tree {
    root: PathBuf,
    base: Base,
}

impl Tree {
    /// The path relative to the work tree, when it lies inside it (judged on the path as
    /// written, and on where it really leads).
    fn inside(&self, path: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let lexical = normalize(path);
        if let Ok(rel) = lexical.strip_prefix(&self.root) {
            out.push(rel.to_path_buf());
        }
        if let Ok(real) = std::fs::canonicalize(path) {
            if let Ok(rel) = real.strip_prefix(&self.root) {
                if !out.iter().any(|o| o == rel) {
                    out.push(rel.to_path_buf());
                }
            }
        }
        out
    }

    /// `Ok(None)` when every part of the path inside the work tree is as the base has it;
    /// else the part that changed.
    fn changed_part(&self, path: &Path) -> Result<Option<PathBuf>, ConfigError> {
        for rel in self.inside(path) {
            if !base::unchanged(&self.root, &self.base, &rel)? {
                return Ok(Some(rel));
            }
        }
        Ok(None)
    }
}

/// `a/./b/../c` → `a/c`, without touching the file system (the path may not exist).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// The value the pipeline gives a property: an option (flag, input, `SCANTOKEN_*`), the
/// scan command, a scanner variable, the JSON parameters.
fn pipeline_value(inp: &Inputs, key: &str) -> Option<Sourced<String>> {
    let t = &inp.settings.target;
    let option = match key {
        "sonar.host.url" => t.host_url.clone(),
        "sonar.region" => t.region.clone(),
        "sonar.organization" => t.organization.clone(),
        "sonar.projectKey" => t.project_key.clone(),
        "sonar.scanner.sonarcloudUrl" => t.sonarcloud_url.clone(),
        "sonar.scanner.apiBaseUrl" => t.api_base_url.clone(),
        _ => None,
    };
    option
        .or_else(|| inp.scanner.pipeline_value(key))
        .or_else(|| {
            let var = steering::variable_of(key)?;
            let v = inp.env.non_empty(&var)?;
            Some(Sourced::new(
                v.trim().to_owned(),
                crate::inputs::Origin::Variable(var),
            ))
        })
}

/// The target's properties, which scantoken resolves, verifies and exports itself (in
/// `SONAR_HOST_URL` and the JSON parameters, which every scanner ranks above its files):
/// where the pipeline gives one, the file's value is never used.
const EXPORTED: [&str; 6] = [
    "sonar.host.url",
    "sonar.scanner.sonarcloudUrl",
    "sonar.scanner.apiBaseUrl",
    "sonar.region",
    "sonar.organization",
    "sonar.projectKey",
];

fn same(a: &str, b: &str) -> bool {
    a.trim().trim_end_matches('/') == b.trim().trim_end_matches('/')
}

fn shown(row: &steering::Steering, value: Option<&str>) -> String {
    match (value, row.shape) {
        (None, _) => "absent".into(),
        (Some(_), Shape::Secret) => "set (a secret, not shown)".into(),
        (Some(v), _) => quote(v),
    }
}

/// One of the scanners' configuration files, as the pull request has it and as the base has
/// it (empty where a side has no such file).
struct WorkspaceFile {
    /// Relative to the work tree, for messages.
    place: String,
    ours: BTreeMap<String, String>,
    theirs: BTreeMap<String, String>,
}

/// The scanners' configuration files of the project's base directory, both sides read.
/// `package.json` gives only a project key: read where the key chooses the token.
fn workspace_files(
    inp: &Inputs,
    tree: &Tree,
    chooses_by_key: bool,
) -> Result<Vec<WorkspaceFile>, ConfigError> {
    let mut out = Vec::new();
    for (name, kind) in files::FILES {
        if kind == files::Kind::PackageJson && !chooses_by_key {
            continue;
        }
        let path = inp.base_dir.join(name);
        let Some(rel) = tree.inside(&path).into_iter().next() else {
            continue;
        };
        let place = rel.display().to_string();
        let ours = match crate::read::optional_file(&path, &place, "the file", files::MAX_BYTES)? {
            Some(bytes) => files::parse(kind, &path, &bytes)?,
            None => BTreeMap::new(),
        };
        let theirs = match base::file_at(&tree.root, &tree.base, &rel)? {
            Some(bytes) => files::parse(kind, &path, &bytes).map_err(|e| {
                ConfigError::new(
                    format!("{place} at the base commit {}", tree.base.short()),
                    e.problem,
                )
            })?,
            None => BTreeMap::new(),
        };
        if !ours.is_empty() || !theirs.is_empty() {
            out.push(WorkspaceFile {
                place,
                ours,
                theirs,
            });
        }
    }
    Ok(out)
}

/// Each steering key of each configuration file, the pull request's against the base's.
fn properties_files(
    inp: &Inputs,
    tree: &Tree,
    keys: &[&steering::Steering],
    files: &[WorkspaceFile],
    report: &mut Report,
) -> Result<(), ConfigError> {
    for file in files {
        let (place, ours, theirs) = (&file.place, &file.ours, &file.theirs);
        for row in keys {
            let pr = ours
                .get(row.key)
                .map(|v| v.trim())
                .filter(|v| !v.is_empty());
            let old = theirs
                .get(row.key)
                .map(|v| v.trim())
                .filter(|v| !v.is_empty());
            if pr.is_none() && old.is_none() {
                continue;
            }
            let finding = |verdict: String, overridden: bool| Finding {
                overridden,
                place: place.clone(),
                key: row.key.to_owned(),
                steers: format!("{}: {}", row.steers.describe(), row.why),
                verdict,
            };
            let unchanged = match (pr, old) {
                (Some(a), Some(b)) => same(a, b),
                _ => false,
            };
            if unchanged {
                report.accepted.push(finding(
                    format!("unchanged since the base commit {}", tree.base.short()),
                    false,
                ));
                continue;
            }
            let pipeline = pipeline_value(inp, row.key);
            let accepted = match &pipeline {
                Some(p) if pr.is_none() => Some((
                    format!("removed here, and the pipeline gives it ({})", p.source),
                    false,
                )),
                Some(p) if pr.is_some_and(|v| same(v, &p.value)) => Some((
                    format!("the pipeline gives the same value ({})", p.source),
                    false,
                )),
                Some(p) if EXPORTED.contains(&row.key) => Some((format!(
                    "this pull request's {} is never used: the pipeline's value ({}) is what scantoken verifies and exports, and every scanner ranks it above the file",
                    shown(row, pr),
                    p.source
                ), true)),
                _ => None,
            };
            match accepted {
                Some((why, overridden)) => report.accepted.push(finding(why, overridden)),
                None => report.refused.push(finding(
                    format!(
                        "this pull request's value: {}; {}",
                        shown(row, pr),
                        match old {
                            None => "absent on the base branch".to_owned(),
                            Some(_) => format!("the base branch's: {}", shown(row, old)),
                        }
                    ),
                    false,
                )),
            }
        }
    }
    Ok(())
}

/// The files JVM options name: agents, truststores and keystores, argument files.
pub fn jvm_option_paths(options: &str) -> Vec<String> {
    let words = shlex::split(options)
        .unwrap_or_else(|| options.split_whitespace().map(str::to_owned).collect());
    let mut out = Vec::new();
    for w in words {
        let path = if let Some(rest) = w
            .strip_prefix("-javaagent:")
            .or_else(|| w.strip_prefix("-agentpath:"))
        {
            rest.split('=').next().map(str::to_owned)
        } else if let Some(rest) = w.strip_prefix("-Xbootclasspath/a:") {
            out.extend(rest.split(':').map(str::to_owned));
            None
        } else if let Some(rest) = w.strip_prefix('@') {
            Some(rest.to_owned())
        } else if let Some((k, v)) = w.strip_prefix("-D").and_then(|d| d.split_once('=')) {
            matches!(
                k,
                "javax.net.ssl.trustStore"
                    | "javax.net.ssl.keyStore"
                    | "java.security.properties"
                    | "java.security.policy"
                    | "java.class.path"
                    | "java.ext.dirs"
                    | "java.library.path"
            )
            .then(|| v.to_owned())
        } else if let Some((k, v)) = w.strip_prefix("-XX:").and_then(|d| d.split_once('=')) {
            matches!(k, "VMOptionsFile" | "Flags").then(|| v.to_owned())
        } else {
            None
        };
        out.extend(path.filter(|p| !p.is_empty()));
    }
    out
}

/// Variables the JVM itself reads for its options, whatever the scanner.
const JVM_OPTION_VARIABLES: [&str; 4] = [
    "JAVA_TOOL_OPTIONS",
    "_JAVA_OPTIONS",
    "JDK_JAVA_OPTIONS",
    "SONAR_SCANNER_OPTS",
];

/// The candidates a relative path may mean: from the working directory and from the
/// project's base directory.
fn candidates(inp: &Inputs, value: &str) -> Vec<PathBuf> {
    let p = Path::new(value.trim());
    if p.is_absolute() {
        return vec![p.to_path_buf()];
    }
    let mut out = vec![inp.cwd.join(p)];
    let from_base = inp.base_dir.join(p);
    if from_base != out[0] {
        out.push(from_base);
    }
    out
}

/// Every file a steering property names, from any source: inside the workspace it must be
/// as the base has it (a truststore or a java of the pull request's, under an unchanged
/// name, is still the pull request's).
fn steering_paths(
    inp: &Inputs,
    tree: &Tree,
    keys: &[&steering::Steering],
    files: &[WorkspaceFile],
    report: &mut Report,
) -> Result<(), ConfigError> {
    for row in keys {
        if !matches!(
            row.shape,
            Shape::File | Shape::Directory | Shape::JvmOptions
        ) {
            continue;
        }
        let mut values: Vec<Sourced<String>> = Vec::new();
        values.extend(pipeline_value(inp, row.key));
        for file in files {
            if let Some(v) = file.ours.get(row.key).filter(|v| !v.trim().is_empty()) {
                values.push(Sourced::new(
                    v.clone(),
                    crate::inputs::Origin::PropertiesFile {
                        path: PathBuf::from(&file.place),
                        key: row.key.into(),
                    },
                ));
            }
        }
        for value in values {
            let paths = match row.shape {
                Shape::JvmOptions => jvm_option_paths(&value.value),
                _ => vec![value.value.clone()],
            };
            let finding = Finding {
                overridden: false,
                place: value.source.to_string(),
                key: row.key.to_owned(),
                steers: format!("{}: {}", row.steers.describe(), row.why),
                verdict: String::new(),
            };
            refuse_changed_paths(inp, tree, &paths, &finding, report)?;
        }
    }
    for var in JVM_OPTION_VARIABLES {
        let Some(options) = inp.env.non_empty(var) else {
            continue;
        };
        let finding = Finding {
            overridden: false,
            place: format!("variable {var}"),
            key: "JVM options".into(),
            steers: "decides what runs with the token: the JVM loads what they name".into(),
            verdict: String::new(),
        };
        refuse_changed_paths(inp, tree, &jvm_option_paths(options), &finding, report)?;
    }
    Ok(())
}

/// Refuses, as `finding` says, each of `paths` that names a part of the work tree the pull
/// request added or changed.
fn refuse_changed_paths(
    inp: &Inputs,
    tree: &Tree,
    paths: &[String],
    finding: &Finding,
    report: &mut Report,
) -> Result<(), ConfigError> {
    for p in paths {
        for candidate in candidates(inp, p) {
            if let Some(rel) = tree.changed_part(&candidate)? {
                report.refused.push(Finding {
                    overridden: false,
                    verdict: format!(
                        "names {}, which this pull request added or changed",
                        quote(&rel.display().to_string())
                    ),
                    ..finding.clone()
                });
            }
        }
    }
    Ok(())
}

/// scantoken's own files: the token map, and the CA files it trusts for Sonar and Vault.
fn scantoken_files(inp: &Inputs, tree: &Tree, report: &mut Report) -> Result<(), ConfigError> {
    let s = inp.settings;
    let mut files: Vec<(String, String, &str)> = Vec::new();
    if let Some(map) = &s.token_map {
        let inline = map.value.contains('\n') || map.value.trim_start().starts_with("rules:");
        if !inline {
            files.push((
                map.source.to_string(),
                map.value.clone(),
                "decides which token is used: the token map picks a token by project key",
            ));
        }
    }
    for ca in [&s.ca_file, &s.vault.ca_file].into_iter().flatten() {
        files.push((
            ca.source.to_string(),
            ca.value.clone(),
            "decides how the token travels: a CA of the author's lets a man in the middle read it",
        ));
    }
    for var in ["SSL_CERT_FILE", "SONAR_ROOT_CERT"] {
        if let Some(v) = inp.env.non_empty(var) {
            if !v.trim_start().starts_with("-----BEGIN") {
                files.push((
                    format!("variable {var}"),
                    v.trim().to_owned(),
                    "decides how the token travels: a CA of the author's lets a man in the middle read it",
                ));
            }
        }
    }
    for (place, value, steers) in files {
        let path = inp.cwd.join(&value);
        if let Some(rel) = tree.changed_part(&path)? {
            report.refused.push(Finding {
                overridden: false,
                place,
                key: "file".into(),
                steers: steers.to_owned(),
                verdict: format!(
                    "{} was added or changed by this pull request",
                    quote(&rel.display().to_string())
                ),
            });
        } else if !tree.inside(&path).is_empty() {
            report.accepted.push(Finding {
                overridden: false,
                place,
                key: "file".into(),
                steers: steers.to_owned(),
                verdict: format!("unchanged since the base commit {}", tree.base.short()),
            });
        }
    }
    Ok(())
}

/// Build tools run the workspace's own build definitions (a `pom.xml`, `build.gradle`,
/// `.mvn/extensions.xml`, an MSBuild project), which are the pull request's: its code would
/// run with the token in its environment.
const BUILD_TOOLS: [&str; 11] = [
    "mvn",
    "mvnw",
    "mvn.cmd",
    "mvnw.cmd",
    "gradle",
    "gradlew",
    "gradlew.bat",
    "dotnet",
    "dotnet-sonarscanner",
    "sonarscanner.msbuild.exe",
    "msbuild",
];

/// The scan command `run` starts: which program it is, and where it comes from.
fn scan_command(
    inp: &Inputs,
    tree: &Tree,
    argv: &[OsString],
    report: &mut Report,
) -> Result<(), ConfigError> {
    let Some(program) = argv.first().map(|p| p.to_string_lossy().into_owned()) else {
        return Ok(());
    };
    let name = Path::new(&program)
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let refuse = |report: &mut Report, verdict: String| {
        report.refused.push(Finding {
            overridden: false,
            place: "the scan command".into(),
            key: quote(&program),
            steers: Steers::Runs.describe().into(),
            verdict,
        })
    };
    if BUILD_TOOLS.contains(&name.as_str()) {
        refuse(report, "a build tool runs this pull request's build definitions (pom.xml, .mvn/, build.gradle, settings.gradle, MSBuild projects), and with them its author's code, with the token in its environment; scan with sonar-scanner, @sonar/scan or pysonar, which build nothing, or scan fork pull requests in a build without the token".into());
        return Ok(());
    }
    // Where the scan may start: the working directory, or the project's directory
    // (`run --project-base-dir`, `run --projects`); a relative path means a file in either.
    let mut starts: Vec<&Path> = vec![inp.cwd];
    if inp.base_dir != inp.cwd {
        starts.push(inp.base_dir);
    }
    let words: Vec<String> = argv
        .iter()
        .skip(1)
        .map(|w| w.to_string_lossy().into_owned())
        .collect();
    let mut local: Vec<PathBuf> = Vec::new();
    for start in &starts {
        // The program itself, as the system finds it: a path, or the first match on PATH.
        if program.contains('/') {
            local.push(start.join(&program));
        } else if let Some(found) = inp.env.get("PATH").and_then(|path| {
            std::env::split_paths(path)
                .map(|dir| start.join(dir).join(&program))
                .find(|candidate| candidate.is_file())
        }) {
            local.push(found);
        }
        // Interpreters run a script or module that may be the workspace's own.
        match name.as_str() {
            "node" | "nodejs" | "sh" | "bash" | "dash" | "zsh" | "ksh" => local.extend(
                words
                    .iter()
                    .find(|w| !w.starts_with('-'))
                    .map(|w| start.join(w)),
            ),
            n if n.starts_with("python") => match words.iter().position(|w| w == "-m") {
                // `python -m pysonar` looks in the working directory first.
                Some(i) => {
                    if let Some(m) = words.get(i + 1) {
                        let first = m.split('.').next().unwrap_or(m);
                        local.push(start.join(first));
                        local.push(start.join(format!("{first}.py")));
                    }
                }
                None => local.extend(
                    words
                        .iter()
                        .find(|w| !w.starts_with('-'))
                        .map(|w| start.join(w)),
                ),
            },
            // npx and its kin run node_modules/.bin of the working directory and its
            // parents first: installed from the pull request's package.json and lockfile.
            "npx" | "pnpx" | "bunx" | "pnpm" | "yarn" | "npm" => {
                local.extend(start.ancestors().map(|dir| dir.join("node_modules")))
            }
            _ => {}
        }
    }
    local.sort();
    local.dedup();
    for path in local {
        if !path.exists() {
            continue;
        }
        if let Some(rel) = tree.changed_part(&path)? {
            refuse(
                report,
                format!(
                    "runs {}, which this pull request added or changed (or which is not in the repository at the base commit)",
                    quote(&rel.display().to_string())
                ),
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jvm_options_name_their_files() {
        let paths = jvm_option_paths(
            "-Xmx1g -javaagent:tools/agent.jar=opt -Djavax.net.ssl.trustStore=certs/ts.p12 -Dhttps.proxyHost=p @jvm.args -XX:VMOptionsFile=vm.opts -agentpath:/lib/a.so -Xbootclasspath/a:x.jar:y.jar",
        );
        assert_eq!(
            paths,
            [
                "tools/agent.jar",
                "certs/ts.p12",
                "jvm.args",
                "vm.opts",
                "/lib/a.so",
                "x.jar",
                "y.jar"
            ]
        );
        assert!(jvm_option_paths("-Xmx2g -Dsonar.verbose=true").is_empty());
    }

    #[test]
    fn normalize_folds_dots() {
        assert_eq!(normalize(Path::new("/a/./b/../c")), PathBuf::from("/a/c"));
    }
}
