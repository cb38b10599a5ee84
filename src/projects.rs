//! The set of projects one run checks: the `projects` option's globs (relative to the working
//! directory), or `auto`, every directory holding a scanner's project configuration. Each
//! directory found is one project, resolved afterwards exactly as `--project-base-dir DIR`
//! resolves it. This module only finds directories: it reads no option, sends nothing and
//! never sees a token.
//!
//! `auto` looks for `sonar-project.properties` (every scanner but .NET) and a `pyproject.toml`
//! with a `[tool.sonar]` table (pysonar). A `package.json` alone does not mark a project:
//! @sonar/scan reads only its name, version and coverage settings, never a Sonar project's
//! configuration. The walk skips what holds dependencies, build output or tool state, never
//! a project of the repository: [`SKIPPED`], and every directory whose name starts with a dot.

use crate::error::{quote, ConfigError};
use globset::{GlobBuilder, GlobMatcher};
use std::path::{Path, PathBuf};

/// Directories `auto` and globs never descend into.
pub const SKIPPED: [&str; 15] = [
    "node_modules",
    "bower_components",
    "target",
    "build",
    "dist",
    "out",
    "bin",
    "obj",
    "vendor",
    "venv",
    "__pycache__",
    "coverage",
    "site-packages",
    "Pods",
    "third_party",
];

/// How deep the walk goes, and how many directories it reads at most: a monorepo's projects
/// sit a few levels down, and a runaway tree (a symlink loop is never followed) stops early.
const MAX_DEPTH: usize = 12;
const MAX_DIRECTORIES: usize = 200_000;

/// One project's directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectDir {
    /// Relative to the working directory, with `/`; `.` for the working directory itself.
    pub dir: String,
}

impl ProjectDir {
    pub fn path(&self, cwd: &Path) -> PathBuf {
        if self.dir == "." {
            cwd.to_path_buf()
        } else {
            cwd.join(&self.dir)
        }
    }
}

/// The directories the patterns name, in a stable order (sorted by path), each once. A
/// pattern that matches no directory is an error naming it.
pub fn find(cwd: &Path, patterns: &[String], source: &str) -> Result<Vec<ProjectDir>, ConfigError> {
    let patterns: Vec<String> = patterns
        .iter()
        .flat_map(|p| p.split(['\n', ',']))
        .map(|p| p.trim().trim_end_matches('/').to_owned())
        .filter(|p| !p.is_empty())
        .collect();
    if patterns.is_empty() {
        return Err(ConfigError::new(source, "names no directory")
            .hint("give a glob relative to the working directory (services/*), or auto"));
    }
    let dirs = walk(cwd)?;
    let mut found: Vec<String> = Vec::new();
    for pattern in &patterns {
        let matched: Vec<String> = if pattern == "auto" {
            dirs.iter()
                .filter(|d| holds_configuration(&cwd.join(d.as_str())))
                .cloned()
                .collect()
        } else {
            let matcher = glob(pattern, source)?;
            dirs.iter()
                .filter(|d| matcher.is_match(d.as_str()))
                .cloned()
                .collect()
        };
        if matched.is_empty() {
            let what = if pattern == "auto" {
                "auto found no directory holding sonar-project.properties or a pyproject.toml with [tool.sonar]".to_owned()
            } else {
                format!("{} matches no directory", quote(pattern))
            };
            return Err(ConfigError::new(source, what).hint(
                "patterns are relative to the working directory, e.g. services/* or libs/**; dependency and build folders are skipped (see docs)",
            ));
        }
        found.extend(matched);
    }
    found.sort();
    found.dedup();
    Ok(found.into_iter().map(|dir| ProjectDir { dir }).collect())
}

fn glob(pattern: &str, source: &str) -> Result<GlobMatcher, ConfigError> {
    if Path::new(pattern).is_absolute() || pattern.split('/').any(|s| s == "..") {
        return Err(ConfigError::new(
            source,
            format!("{} leaves the working directory", quote(pattern)),
        )
        .hint("write the glob relative to the working directory, without '..'"));
    }
    let pattern = pattern.strip_prefix("./").unwrap_or(pattern);
    GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()
        .map(|g| g.compile_matcher())
        .map_err(|e| {
            ConfigError::new(
                source,
                format!("{} is not a valid glob: {e}", quote(pattern)),
            )
            .hint("use * within a folder name, ** across folders, {a,b} for either")
        })
}

/// Whether a directory holds a scanner's project configuration.
fn holds_configuration(dir: &Path) -> bool {
    if dir.join("sonar-project.properties").is_file() {
        return true;
    }
    let pyproject = dir.join("pyproject.toml");
    match crate::read::optional_file(&pyproject, "pyproject.toml", "pyproject.toml", 1 << 20) {
        Ok(Some(bytes)) => std::str::from_utf8(&bytes)
            .ok()
            .and_then(|t| t.parse::<toml::Table>().ok())
            .is_some_and(|t| {
                t.get("tool")
                    .and_then(|tool| tool.get("sonar"))
                    .is_some_and(|s| s.is_table())
            }),
        _ => false,
    }
}

/// Every directory under `cwd` (relative, with `/`; `.` for `cwd` itself), symlinks not
/// followed, [`SKIPPED`] and dot-directories left out.
fn walk(cwd: &Path) -> Result<Vec<String>, ConfigError> {
    let mut out = vec![".".to_owned()];
    let mut stack = vec![(cwd.to_path_buf(), String::new(), 0usize)];
    while let Some((path, rel, depth)) = stack.pop() {
        if depth >= MAX_DEPTH {
            continue;
        }
        let entries = std::fs::read_dir(&path).map_err(|e| {
            ConfigError::new(
                "projects",
                format!(
                    "cannot read the folder {}: {e}",
                    quote(&path.display().to_string())
                ),
            )
        })?;
        for entry in entries.flatten() {
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if !kind.is_dir() {
                continue;
            }
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            if name.starts_with('.') || SKIPPED.contains(&name.as_str()) {
                continue;
            }
            let child = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            out.push(child.clone());
            if out.len() > MAX_DIRECTORIES {
                return Err(ConfigError::new(
                    "projects",
                    format!("the working directory holds more than {MAX_DIRECTORIES} folders"),
                )
                .hint("run from the repository's root, or name the projects with narrower globs"));
            }
            stack.push((entry.path(), child, depth + 1));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(dirs: &[&str], files: &[(&str, &str)]) -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        for d in dirs {
            std::fs::create_dir_all(t.path().join(d)).unwrap();
        }
        for (f, text) in files {
            let p = t.path().join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        t
    }

    fn names(found: Vec<ProjectDir>) -> Vec<String> {
        found.into_iter().map(|p| p.dir).collect()
    }

    #[test]
    fn auto_finds_properties_and_pysonar_tables_and_skips_dependencies() {
        let t = tree(
            &["docs"],
            &[
                (
                    "services/api/sonar-project.properties",
                    "sonar.projectKey=api\n",
                ),
                ("services/web/package.json", "{\"name\": \"web\"}"),
                (
                    "libs/core/pyproject.toml",
                    "[tool.sonar]\nprojectKey = \"core\"\n",
                ),
                ("libs/other/pyproject.toml", "[project]\nname = \"other\"\n"),
                (
                    "node_modules/x/sonar-project.properties",
                    "sonar.projectKey=x\n",
                ),
                (".git/sonar-project.properties", ""),
                ("build/gen/sonar-project.properties", ""),
            ],
        );
        let found = find(t.path(), &["auto".into()], "flag --projects").unwrap();
        assert_eq!(names(found), ["libs/core", "services/api"]);
    }

    #[test]
    fn globs_name_directories_within_one_level_or_across_with_double_stars() {
        let t = tree(
            &["services/api/src", "services/web", "libs/core"],
            &[("services/README.md", "")],
        );
        let found = find(t.path(), &["services/*".into()], "p").unwrap();
        assert_eq!(names(found), ["services/api", "services/web"]);
        let found = find(
            t.path(),
            &["services/*, libs/*".into(), "libs/core".into()],
            "p",
        )
        .unwrap();
        assert_eq!(names(found), ["libs/core", "services/api", "services/web"]);
        let found = find(t.path(), &["**/src".into()], "p").unwrap();
        assert_eq!(names(found), ["services/api/src"]);
    }

    #[test]
    fn a_pattern_matching_nothing_or_leaving_the_tree_is_named() {
        let t = tree(&["services/api"], &[]);
        let e = find(
            t.path(),
            &["services/*".into(), "apps/*".into()],
            "flag --projects",
        )
        .unwrap_err();
        assert!(e.problem.contains("\"apps/*\" matches no directory"), "{e}");
        assert_eq!(e.source, "flag --projects");
        for bad in ["../x", "/etc", "a/../../b"] {
            let e = find(t.path(), &[bad.into()], "p").unwrap_err();
            assert!(
                e.problem.contains("leaves the working directory"),
                "{bad}: {e}"
            );
        }
        let e = find(t.path(), &["auto".into()], "p").unwrap_err();
        assert!(e.problem.contains("auto found no directory"), "{e}");
        let e = find(t.path(), &[" , ".into()], "p").unwrap_err();
        assert!(e.problem.contains("names no directory"), "{e}");
        let e = find(t.path(), &["services/[".into()], "p").unwrap_err();
        assert!(e.problem.contains("not a valid glob"), "{e}");
    }
}
