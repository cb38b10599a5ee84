//! What a Sonar scanner would read on its own: its command line, its variables, the JSON
//! parameter variables and the project's properties files, with each scanner's precedence
//! (docs/sonar-facts.md §4, docs/scanner-configuration.md).
//!
//! Reading the same places, in the same order, means a project already set up for a scanner
//! needs no new configuration for scantoken, and that what scantoken verifies is what the
//! scanner will scan. Where a source that beats scantoken's exports holds another value, the
//! scan would silently go elsewhere: [`ScannerConfig::overrides`] finds those, and the caller
//! turns them into a configuration error naming both values and the scanner.

use crate::env::Env;
use crate::error::{quote, ConfigError};
use crate::inputs::{Origin, Sourced};
use java_properties::{LineContent, PropertiesIter};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The scanners' JSON parameter variables, newest first (docs/sonar-facts.md §4: explicit variables win
/// over JSON keys; `SONAR_SCANNER_JSON_PARAMS` wins over the legacy one).
pub const JSON_PARAMS_VARIABLES: [&str; 2] =
    ["SONAR_SCANNER_JSON_PARAMS", "SONARQUBE_SCANNER_PARAMS"];

/// Property files read from the project base directory, in precedence order.
pub const PROPERTIES_FILES: [&str; 2] = ["sonar-project.properties", ".sonarcloud.properties"];

/// Largest properties or JSON input we accept: real ones are a few kilobytes.
const MAX_CONFIG_BYTES: usize = 1 << 20;

/// The scanner families whose configuration rules scantoken follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scanner {
    /// SonarSource's Java scanner library: the SonarScanner CLI, Maven and Gradle.
    JavaLibrary,
    /// npm `@sonar/scan`.
    Npm,
    /// PyPI `pysonar`.
    Python,
    /// The SonarScanner for .NET.
    Dotnet,
}

impl Scanner {
    pub const ALL: [Scanner; 4] = [
        Scanner::JavaLibrary,
        Scanner::Npm,
        Scanner::Python,
        Scanner::Dotnet,
    ];

    pub fn describe(self) -> &'static str {
        match self {
            Scanner::JavaLibrary => "the SonarScanner CLI, Maven and Gradle",
            Scanner::Npm => "@sonar/scan (npm)",
            Scanner::Python => "pysonar",
            Scanner::Dotnet => "the SonarScanner for .NET",
        }
    }
}

/// Which scanners read a source: the scanner rows of the table in
/// docs/scanner-configuration.md.
type Readers = &'static [Scanner];

const JAVA_NPM_PY: Readers = &[Scanner::JavaLibrary, Scanner::Npm, Scanner::Python];
const NPM_PY: Readers = &[Scanner::Npm, Scanner::Python];
const JAVA_PY: Readers = &[Scanner::JavaLibrary, Scanner::Python];
const PY: Readers = &[Scanner::Python];

/// Variables the scanners map to a property, and who reads each (docs/sonar-facts.md §4, measured with
/// @sonar/scan 5.0.1 and pysonar 1.10; the Java library's `EnvironmentConfig`). Every one of
/// them beats the JSON parameters for the scanners that read it. `SONAR_SCANNER_X_Y` maps to
/// `sonar.scanner.xY` (split at `_`, camel-cased); pysonar maps `SONAR_<PROPERTY>` for the
/// properties it knows (dots and camel humps as `_`).
pub const SCANNER_VARIABLES: [(&str, &str, Readers); 11] = [
    ("SONAR_HOST_URL", "sonar.host.url", JAVA_NPM_PY),
    ("SONAR_REGION", "sonar.region", JAVA_PY),
    ("SONAR_ORGANIZATION", "sonar.organization", NPM_PY),
    (
        "SONAR_SCANNER_SONARCLOUD_URL",
        "sonar.scanner.sonarcloudUrl",
        JAVA_NPM_PY,
    ),
    (
        "SONAR_SCANNER_API_BASE_URL",
        "sonar.scanner.apiBaseUrl",
        JAVA_NPM_PY,
    ),
    ("SONAR_PROJECT_KEY", "sonar.projectKey", PY),
    ("SONAR_BRANCH_NAME", "sonar.branch.name", PY),
    ("SONAR_PULLREQUEST_KEY", "sonar.pullrequest.key", PY),
    ("SONAR_PULLREQUEST_BRANCH", "sonar.pullrequest.branch", PY),
    ("SONAR_PULLREQUEST_BASE", "sonar.pullrequest.base", PY),
    ("SONAR_SCM_REVISION", "sonar.scm.revision", PY),
];

/// Spellings people write that no scanner reads: the scanners split variable names at `_`,
/// so these map to lower-case keys nobody looks up. Accepting them would verify one instance
/// while the scanner sends the token to another (issue measured with both bootstrappers).
const MISSPELLED_VARIABLES: [(&str, &str); 2] = [
    (
        "SONAR_SCANNER_SONARCLOUDURL",
        "SONAR_SCANNER_SONARCLOUD_URL",
    ),
    ("SONAR_SCANNER_APIBASEURL", "SONAR_SCANNER_API_BASE_URL"),
];

/// A value that beats what scantoken exports, for some scanner.
#[derive(Debug, Clone)]
pub struct Override {
    pub key: String,
    pub value: Sourced<String>,
    pub readers: Vec<Scanner>,
}

impl Override {
    /// "pysonar", "@sonar/scan (npm) and pysonar".
    pub fn scanners(&self) -> String {
        let names: Vec<&str> = self.readers.iter().map(|s| s.describe()).collect();
        match names.as_slice() {
            [] => "no scanner".into(),
            [one] => (*one).into(),
            [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
        }
    }
}

/// A properties-file value with `${env.NAME}` resolved: @sonar/scan's way (`Err(NAME)`: not
/// set), and the SonarScanner CLI's (not set: empty).
type Resolved = (Result<String, String>, String);

#[derive(Debug, Clone, Default)]
pub struct ScannerConfig {
    /// Properties on the scanner's own command line (`scantoken run`), the highest rank.
    command_line: Vec<(String, String)>,
    /// What the command line is, for messages (`sonar-scanner`, `pysonar`).
    command_name: Option<String>,
    /// What the launcher reads as arguments besides its command line, each with its origin
    /// (`.mvn/maven.config`, `MAVEN_ARGS`, JVM option variables): just below the command line.
    command_extra: Vec<(Origin, String, String)>,
    /// Scanner variables that map to a property (`SONAR_HOST_URL` → `sonar.host.url`).
    variables: Vec<(String, String, String, Readers)>,
    /// Parsed JSON parameter variables: (variable, object).
    json: Vec<(String, BTreeMap<String, String>)>,
    /// Parsed properties files: (path, key/value), values as written.
    files: Vec<(PathBuf, BTreeMap<String, String>)>,
    /// The same values with `${env.NAME}` resolved from the environment: as @sonar/scan
    /// resolves them (`resolveEnvVariables`: `Err(NAME)` for a variable that is not set,
    /// which stops it), and as the SonarScanner CLI does (`PropertyResolver`: such a
    /// variable is the empty string).
    files_resolved: Vec<BTreeMap<String, Resolved>>,
    /// pysonar's `pyproject.toml` `[tool.sonar]` (path, key/value): above the properties
    /// files and below the variables, for pysonar (`ConfigurationLoader.load`).
    pyproject: Option<(PathBuf, BTreeMap<String, String>)>,
    /// @sonar/scan's `package.json`: the project key its `name` gives (path, key), below the
    /// properties file (`getPackageJsonProperties`).
    package_json: Option<(PathBuf, String)>,
    /// The scanners whose rules count: all of them, unless `scantoken run` knows which
    /// scanner it starts.
    scanners: Vec<Scanner>,
}

impl ScannerConfig {
    /// Reads every source once. A source that exists but cannot be parsed is an error: the
    /// scanner would fail on it too, later and less clearly.
    pub fn load(env: &Env, base_dir: &Path) -> Result<Self, ConfigError> {
        for (wrong, right) in MISSPELLED_VARIABLES {
            if env.non_empty(wrong).is_some() {
                return Err(ConfigError::new(
                    format!("variable {wrong}"),
                    format!("is read by no scanner: they split variable names at '_', so the scanners read {right}"),
                )
                .hint(format!("rename it to {right}; with {wrong} alone the scanners send the token to the official SonarQube Cloud instead")));
            }
        }
        let variables = SCANNER_VARIABLES
            .iter()
            .filter_map(|(var, key, readers)| {
                let v = env.non_empty(var)?;
                Some((
                    var.to_string(),
                    key.to_string(),
                    v.trim().to_owned(),
                    *readers,
                ))
            })
            .collect();
        let mut json = Vec::new();
        for var in JSON_PARAMS_VARIABLES {
            if let Some(raw) = env.non_empty(var) {
                json.push((var.to_string(), parse_json_params(var, raw)?));
            }
        }
        let mut files = Vec::new();
        for name in PROPERTIES_FILES {
            let path = base_dir.join(name);
            // A committed file may be a symlink to a device or a FIFO: read::optional_file
            // refuses those and reads at most the cap.
            let source = path.display().to_string();
            if let Some(bytes) =
                crate::read::optional_file(&path, &source, "the properties file", MAX_CONFIG_BYTES)?
            {
                files.push((path.clone(), parse_properties(&path, &bytes)?));
            }
        }
        let files_resolved = files
            .iter()
            .map(|(_, map)| {
                map.iter()
                    .map(|(k, v)| {
                        let strict = resolve_env_references(v, env, false);
                        let lenient = resolve_env_references(v, env, true).unwrap_or_default();
                        (k.clone(), (strict, lenient))
                    })
                    .collect()
            })
            .collect();
        let pyproject_path = base_dir.join("pyproject.toml");
        // pysonar warns and reads nothing from a pyproject.toml it cannot parse.
        let pyproject = read_pyproject(&pyproject_path)
            .ok()
            .flatten()
            .map(|map| (pyproject_path, map));
        let package_json = read_package_json(&base_dir.join("package.json"))?;
        Ok(ScannerConfig {
            command_line: Vec::new(),
            command_name: None,
            command_extra: Vec::new(),
            variables,
            json,
            files,
            files_resolved,
            pyproject,
            package_json,
            scanners: Scanner::ALL.to_vec(),
        })
    }

    /// Counts only the rules of one scanner (`scantoken run` knows which it starts), with
    /// the properties its command line sets, which beat every other source.
    pub fn for_command(
        mut self,
        scanner: Scanner,
        command_name: &str,
        properties: &[(String, String)],
    ) -> Self {
        self.scanners = vec![scanner];
        self.command_name = Some(command_name.to_owned());
        self.command_line = properties.to_vec();
        self
    }

    /// pysonar's `--toml-path` (the command line's `toml-path`): the `pyproject.toml` it
    /// names (a file of that name, or a folder holding one) replaces the one in the base
    /// directory, and must exist and parse, as pysonar requires of a named one.
    pub fn with_toml_path(mut self, toml_path: &str, cwd: &Path) -> Result<Self, ConfigError> {
        let given = cwd.join(toml_path);
        let path = if given.file_name().is_some_and(|n| n == "pyproject.toml") {
            given
        } else {
            given.join("pyproject.toml")
        };
        let source = format!("--toml-path {}", path.display());
        match read_pyproject(&path) {
            Ok(Some(map)) => self.pyproject = Some((path, map)),
            Ok(None) => {
                return Err(ConfigError::new(
                    source,
                    "does not exist or is not a file: pysonar stops there",
                )
                .hint("give --toml-path a pyproject.toml, or the folder that holds one"))
            }
            Err(why) => {
                return Err(ConfigError::new(
                    source,
                    format!("cannot be read: {why}; pysonar stops there"),
                )
                .hint("fix the TOML, or remove --toml-path"))
            }
        }
        Ok(self)
    }

    fn read_by_some(&self, readers: Readers) -> Vec<Scanner> {
        readers
            .iter()
            .copied()
            .filter(|s| self.scanners.contains(s))
            .collect()
    }

    /// What the launcher reads as arguments besides its command line (`run` knows them),
    /// with the origin of each; they rank just below the command line.
    pub fn with_command_extra(mut self, extra: &[(Origin, String, String)]) -> Self {
        self.command_extra = extra.to_vec();
        self
    }

    fn command_line_value(&self, key: &str) -> Option<Sourced<String>> {
        // The last definition on a command line wins, as in every scanner's parser.
        let name = self.command_name.clone().unwrap_or_default();
        self.command_line
            .iter()
            .rev()
            .find(|(k, v)| k == key && !v.trim().is_empty())
            .map(|(k, v)| {
                Sourced::new(
                    v.trim().to_owned(),
                    Origin::CommandLine {
                        command: name,
                        key: k.clone(),
                    },
                )
            })
            .or_else(|| {
                self.command_extra
                    .iter()
                    .rev()
                    .find(|(_, k, v)| k == key && !v.trim().is_empty())
                    .map(|(origin, _, v)| Sourced::new(v.trim().to_owned(), origin.clone()))
            })
    }

    /// Every value that beats scantoken's exports for `key`, for the scanners that count:
    /// the command line, and the variables that map to `key`, except those scantoken
    /// exports itself (`exported`: it overwrites them for the scan).
    pub fn overrides(&self, key: &str, exported: &[&str]) -> Vec<Override> {
        let mut out = Vec::new();
        if let Some(value) = self.command_line_value(key) {
            out.push(Override {
                key: key.into(),
                value,
                readers: self.scanners.clone(),
            });
            // The command line beats every variable, for every scanner (pysonar ranks its
            // `--sonar-project-key` above `SONAR_PROJECT_KEY`): a variable decides nothing.
            return out;
        }
        for (var, k, v, readers) in &self.variables {
            let readers = self.read_by_some(readers);
            if k == key && !readers.is_empty() && !exported.contains(&var.as_str()) {
                out.push(Override {
                    key: key.into(),
                    value: Sourced::new(v.clone(), Origin::Variable(var.clone())),
                    readers,
                });
            }
        }
        out
    }

    /// The value for a property from the highest-precedence source: the command line, the
    /// variables, then the JSON parameters, then the properties files (the same order for
    /// every scanner, docs/sonar-facts.md §4). Every source counts here, even one the scanner at hand does
    /// not read: scantoken exports what it resolves in the variables and the JSON that every
    /// scanner reads, so the scanner gets this value either way; only [`Self::overrides`]
    /// asks which scanner reads what.
    pub fn get(&self, key: &str) -> Option<Sourced<String>> {
        let from_var = || {
            self.variables
                .iter()
                .find(|(_, k, _, _)| k == key)
                .map(|(var, _, v, _)| Sourced::new(v.clone(), Origin::Variable(var.clone())))
        };
        self.command_line_value(key)
            .or_else(from_var)
            .or_else(|| {
                self.json.iter().find_map(|(var, map)| {
                    let v = map.get(key).filter(|v| !v.trim().is_empty())?;
                    Some(Sourced::new(
                        v.trim().to_owned(),
                        Origin::ScannerJson {
                            variable: var.clone(),
                            key: key.into(),
                        },
                    ))
                })
            })
            .or_else(|| {
                // pysonar ranks [tool.sonar] above sonar-project.properties.
                let (path, map) = self
                    .pyproject
                    .as_ref()
                    .filter(|_| self.counts(Scanner::Python))?;
                let v = map.get(key).filter(|v| !v.trim().is_empty())?;
                Some(Sourced::new(
                    v.trim().to_owned(),
                    Origin::PropertiesFile {
                        path: path.clone(),
                        key: format!("[tool.sonar] {key}"),
                    },
                ))
            })
            .or_else(|| {
                self.files
                    .iter()
                    .zip(&self.files_resolved)
                    .find_map(|((path, map), resolved)| {
                        let v = match resolved.get(key) {
                            Some((Ok(v), _)) if self.resolves_env_references() => v,
                            // Only the CLI counts: an unset variable is the empty string.
                            Some((Err(_), lenient))
                                if self.resolves_env_references() && !self.counts(Scanner::Npm) =>
                            {
                                lenient
                            }
                            _ => map.get(key)?,
                        };
                        let v = Some(v).filter(|v| !v.trim().is_empty())?;
                        Some(Sourced::new(
                            v.trim().to_owned(),
                            Origin::PropertiesFile {
                                path: path.clone(),
                                key: key.into(),
                            },
                        ))
                    })
            })
            .or_else(|| {
                // @sonar/scan's lowest source: the key its package.json name gives.
                let (path, project_key) = self
                    .package_json
                    .as_ref()
                    .filter(|_| key == "sonar.projectKey" && self.counts(Scanner::Npm))?;
                Some(Sourced::new(
                    project_key.clone(),
                    Origin::PropertiesFile {
                        path: path.clone(),
                        key: "name".into(),
                    },
                ))
            })
    }

    /// Whether `scanner`'s rules count.
    fn counts(&self, scanner: Scanner) -> bool {
        self.scanners.contains(&scanner)
    }

    /// Whether the scanners that count resolve `${env.NAME}` in a properties file: @sonar/scan
    /// and the SonarScanner CLI do; pysonar reads the text as written (jproperties).
    fn resolves_env_references(&self) -> bool {
        self.scanners
            .iter()
            .any(|s| matches!(s, Scanner::Npm | Scanner::JavaLibrary))
    }

    /// A `${env.NAME}` in a properties file whose variable is not set: @sonar/scan stops with
    /// "references undefined environment variable", so where it counts scantoken refuses it
    /// before the scan.
    pub fn check_env_references(&self) -> Result<(), ConfigError> {
        if !self.counts(Scanner::Npm) {
            return Ok(());
        }
        for ((path, _), resolved) in self.files.iter().zip(&self.files_resolved) {
            if let Some((key, (Err(name), _))) = resolved.iter().find(|(_, v)| v.0.is_err()) {
                return Err(ConfigError::new(
                    format!("{} key {key}", path.display()),
                    format!("references ${{env.{name}}}, and {name} is not set: the scanner stops there"),
                )
                .hint(format!("set {name} in the job's environment, or write the value in the file")));
            }
        }
        Ok(())
    }

    /// The JSON parameters already in the environment (the newest variable), so exports can
    /// keep the keys a user put there.
    pub fn existing_json_params(&self) -> Option<&BTreeMap<String, String>> {
        self.json.first().map(|(_, m)| m)
    }

    /// The value the pipeline itself gives a property, highest rank first: the scan command
    /// written in the pipeline, then the scanner variables, then the JSON parameters. The
    /// project's files are not among them: in an untrusted build they are the pull
    /// request's (`trust`).
    pub fn pipeline_value(&self, key: &str) -> Option<Sourced<String>> {
        self.command_line_value(key)
            .or_else(|| {
                self.variables
                    .iter()
                    .find(|(_, k, v, _)| k == key && !v.trim().is_empty())
                    .map(|(var, _, v, _)| Sourced::new(v.clone(), Origin::Variable(var.clone())))
            })
            .or_else(|| {
                self.json.iter().find_map(|(var, map)| {
                    let v = map.get(key).filter(|v| !v.trim().is_empty())?;
                    Some(Sourced::new(
                        v.trim().to_owned(),
                        Origin::ScannerJson {
                            variable: var.clone(),
                            key: key.into(),
                        },
                    ))
                })
            })
    }

    /// The properties files read from the project's base directory, parsed.
    pub fn properties_files(&self) -> &[(PathBuf, BTreeMap<String, String>)] {
        &self.files
    }

    /// Every place a given key is set, for warnings such as "sonar.login found".
    pub fn places_setting(&self, key: &str) -> Vec<Origin> {
        let mut out = Vec::new();
        for (var, map) in &self.json {
            if map.contains_key(key) {
                out.push(Origin::ScannerJson {
                    variable: var.clone(),
                    key: key.into(),
                });
            }
        }
        for (path, map) in &self.files {
            if map.contains_key(key) {
                out.push(Origin::PropertiesFile {
                    path: path.clone(),
                    key: key.into(),
                });
            }
        }
        out
    }
}

/// pysonar's `[tool.sonar]` table of a `pyproject.toml` (`TomlConfigurationLoader`): nested
/// tables flattened with dots under `sonar.`, kebab-case names turned to camel case
/// (`project-key` → `sonar.projectKey`), values as strings. `Ok(None)`: no such file.
fn read_pyproject(path: &Path) -> Result<Option<BTreeMap<String, String>>, String> {
    let source = path.display().to_string();
    let Some(bytes) = crate::read::optional_file(path, &source, "pyproject.toml", MAX_CONFIG_BYTES)
        .map_err(|e| e.problem)?
    else {
        return Ok(None);
    };
    let text = std::str::from_utf8(&bytes).map_err(|_| "it is not UTF-8".to_owned())?;
    let table: toml::Table = toml::from_str(text).map_err(|e| e.message().to_owned())?;
    let mut out = BTreeMap::new();
    if let Some(toml::Value::Table(sonar)) = table.get("tool").and_then(|t| t.get("sonar")) {
        flatten("sonar.", sonar, &mut out);
    }
    Ok(Some(out))
}

fn flatten(prefix: &str, table: &toml::Table, out: &mut BTreeMap<String, String>) {
    for (k, v) in table {
        let name = format!("{prefix}{k}");
        match v {
            toml::Value::Table(t) => flatten(&format!("{name}."), t, out),
            toml::Value::String(s) => {
                out.insert(kebab_to_camel(&name), s.clone());
            }
            toml::Value::Integer(i) => {
                out.insert(kebab_to_camel(&name), i.to_string());
            }
            toml::Value::Float(f) => {
                out.insert(kebab_to_camel(&name), f.to_string());
            }
            toml::Value::Boolean(b) => {
                out.insert(kebab_to_camel(&name), b.to_string());
            }
            // Dates and arrays set no property scantoken reads.
            _ => {}
        }
    }
}

/// pysonar's `__kebab_to_camel_case`: the first part, then each later part with its first
/// letter upper-case and the rest lower-case (Python's `str.capitalize`).
fn kebab_to_camel(key: &str) -> String {
    let mut parts = key.split('-');
    let mut out = parts.next().unwrap_or_default().to_owned();
    for part in parts {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.extend(first.to_uppercase());
            out.push_str(&chars.as_str().to_lowercase());
        }
    }
    out
}

/// @sonar/scan's project key from `package.json`'s `name` (`populatePackageParams`: slugify
/// with `?$*+~.()'"!:@/` removed, whitespace runs replaced by `-`). slugify's transliteration
/// of other characters is not modelled: such a name is kept as it is, and the project key
/// check refuses it.
fn read_package_json(path: &Path) -> Result<Option<(PathBuf, String)>, ConfigError> {
    let source = path.display().to_string();
    let Some(bytes) = crate::read::optional_file(path, &source, "package.json", MAX_CONFIG_BYTES)?
    else {
        return Ok(None);
    };
    // @sonar/scan reads nothing from a package.json it cannot parse.
    let Ok(serde_json::Value::Object(pkg)) = serde_json::from_slice::<serde_json::Value>(&bytes)
    else {
        return Ok(None);
    };
    let Some(name) = pkg.get("name").and_then(|n| n.as_str()) else {
        return Ok(None);
    };
    let kept: String = name
        .chars()
        .filter(|c| !"?$*+~.()'\"!:@/".contains(*c))
        .collect();
    let key = kept.split_whitespace().collect::<Vec<_>>().join("-");
    Ok((!key.is_empty()).then(|| (path.to_path_buf(), key)))
}

/// `${env.NAME}` references replaced by the variables' values; `Err(NAME)` for the first
/// that is not set, or with `missing_as_empty` the empty string in its place.
fn resolve_env_references(
    value: &str,
    env: &Env,
    missing_as_empty: bool,
) -> Result<String, String> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(at) = rest.find("${env.") {
        let after = &rest[at + 6..];
        let Some(end) = after.find('}').filter(|&e| e > 0) else {
            break;
        };
        let name = &after[..end];
        out.push_str(&rest[..at]);
        match env.get(name) {
            Some(v) => out.push_str(v),
            None if missing_as_empty => {}
            None => return Err(name.to_owned()),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Whether two values of `key` mean the same to the scanners: URLs (`sonar.host.url`,
/// `sonar.scanner.sonarcloudUrl`, `sonar.scanner.apiBaseUrl`) are the same with or without a
/// final `/`, which the scanners strip (@sonar/scan `getHostProperties`, the Java library's
/// endpoint resolution); other values must be equal.
pub fn same_value(key: &str, a: &str, b: &str) -> bool {
    let is_url = key.ends_with(".url") || key.ends_with("Url");
    if is_url {
        a.trim().trim_end_matches('/') == b.trim().trim_end_matches('/')
    } else {
        a == b
    }
}

/// `SONAR_SCANNER_JSON_PARAMS` must be a JSON object of strings, as the scanners require.
pub fn parse_json_params(var: &str, raw: &str) -> Result<BTreeMap<String, String>, ConfigError> {
    if raw.len() > MAX_CONFIG_BYTES {
        return Err(ConfigError::new(var, "is larger than 1 MiB"));
    }
    let value: serde_json::Value = serde_json::from_str(raw).map_err(|e| {
        ConfigError::new(var, format!("is not valid JSON ({e})")).hint(format!(
            r#"{var} must be a JSON object of strings, e.g. {{"sonar.projectKey":"acme_app"}}"#
        ))
    })?;
    let serde_json::Value::Object(object) = value else {
        return Err(
            ConfigError::new(var, "is JSON but not an object").hint(format!(
                r#"{var} must be a JSON object of strings, e.g. {{"sonar.projectKey":"acme_app"}}"#
            )),
        );
    };
    object
        .into_iter()
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => Ok((k, s)),
            // The value is not shown: it may be a token (`{"sonar.token":["sqp_..."]}`).
            other => Err(ConfigError::new(
                format!("{var} key {}", quote(&k)),
                format!(
                    "is {} but the scanners accept only strings",
                    json_type(&other)
                ),
            )
            .hint("write the value as a JSON string, in double quotes")),
        })
        .collect()
}

/// A JSON value's type, with its article, for errors that must not show the value.
fn json_type(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// A properties file, read as UTF-8 with the Java properties syntax the scanners use.
/// `bytes` come from [`crate::read::optional_file`], which already refused a file over
/// [`MAX_CONFIG_BYTES`].
pub fn parse_properties(
    path: &Path,
    bytes: &[u8],
) -> Result<BTreeMap<String, String>, ConfigError> {
    let source = path.display().to_string();
    let text = std::str::from_utf8(bytes).map_err(|e| {
        ConfigError::new(
            &source,
            format!("is not valid UTF-8 (at byte {})", e.valid_up_to()),
        )
        .hint("save the file as UTF-8")
    })?;
    let mut map = BTreeMap::new();
    for line in PropertiesIter::new_with_encoding(text.as_bytes(), encoding_rs::UTF_8) {
        let line = line.map_err(|e| {
            let at = e
                .line_number()
                .map(|n| format!(" at line {n}"))
                .unwrap_or_default();
            ConfigError::new(&source, format!("cannot be parsed{at}: {e}")).hint(
                "check for a malformed escape such as \\u followed by fewer than 4 hex digits",
            )
        })?;
        if let LineContent::KVPair(k, v) = line.consume_content() {
            map.insert(k, v);
        }
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_beat_json_beat_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("sonar-project.properties"),
            "sonar.projectKey=from_file\nsonar.organization=file_org\nsonar.host.url=https://file\n",
        )
        .unwrap();
        let env = Env::from_pairs([
            ("SONAR_HOST_URL", "https://var"),
            (
                "SONAR_SCANNER_JSON_PARAMS",
                r#"{"sonar.organization":"json_org","sonar.host.url":"https://json"}"#,
            ),
        ]);
        let cfg = ScannerConfig::load(&env, dir.path()).unwrap();
        assert_eq!(cfg.get("sonar.host.url").unwrap().value, "https://var");
        let org = cfg.get("sonar.organization").unwrap();
        assert_eq!(org.value, "json_org");
        assert_eq!(
            org.source.to_string(),
            "SONAR_SCANNER_JSON_PARAMS key sonar.organization"
        );
        let key = cfg.get("sonar.projectKey").unwrap();
        assert_eq!(key.value, "from_file");
        assert!(key
            .source
            .to_string()
            .ends_with("sonar-project.properties key sonar.projectKey"));
    }

    #[test]
    fn json_params_must_be_an_object_of_strings() {
        assert!(parse_json_params("V", "[1]")
            .unwrap_err()
            .problem
            .contains("not an object"));
        assert!(parse_json_params("V", "{")
            .unwrap_err()
            .problem
            .contains("not valid JSON"));
        let e = parse_json_params("V", r#"{"a":1}"#).unwrap_err();
        assert!(
            e.source.contains("\"a\"") && e.problem.contains("only strings"),
            "{e}"
        );
    }

    #[test]
    fn a_value_of_the_wrong_type_is_never_shown() {
        const CANARY: &str = "sqp_LEAKleakLEAKleakLEAKleakLEAKleakLEAKleak";
        for (json, kind) in [
            (format!(r#"{{"sonar.token":["{CANARY}"]}}"#), "an array"),
            (
                format!(r#"{{"sonar.token":{{"t":"{CANARY}"}}}}"#),
                "an object",
            ),
            (r#"{"sonar.token":12345678901234}"#.to_owned(), "a number"),
            (r#"{"sonar.token":true}"#.to_owned(), "a boolean"),
        ] {
            for var in JSON_PARAMS_VARIABLES {
                let env = Env::from_pairs([(var, json.as_str())]);
                let e = ScannerConfig::load(&env, Path::new("/nonexistent")).unwrap_err();
                let text = e.to_string();
                assert!(
                    !text.contains("LEAK") && !text.contains("12345678901234"),
                    "{text}"
                );
                assert!(text.contains("sonar.token") && text.contains(var), "{text}");
                assert!(e.problem.contains(kind), "{text}");
            }
        }
    }

    #[test]
    fn malformed_properties_name_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("sonar-project.properties"),
            "a=1\nb=\\uZZ\n",
        )
        .unwrap();
        let e = ScannerConfig::load(&Env::default(), dir.path()).unwrap_err();
        assert!(e.source.ends_with("sonar-project.properties"), "{e}");
        assert!(e.problem.contains("line 2"), "{e}");
    }

    /// The size limits, at the byte: 1 MiB is read, one byte more is refused, naming the
    /// source.
    #[test]
    fn configuration_sources_are_read_up_to_one_mebibyte() {
        let sized = |len: usize| {
            let head = r#"{"sonar.projectName":""#;
            let tail = r#""}"#;
            format!("{head}{}{tail}", "x".repeat(len - head.len() - tail.len()))
        };
        let at_limit = sized(MAX_CONFIG_BYTES);
        assert_eq!(at_limit.len(), 1 << 20);
        assert!(parse_json_params("V", &at_limit).is_ok());
        let e = parse_json_params("V", &sized(MAX_CONFIG_BYTES + 1)).unwrap_err();
        assert!(e.source == "V" && e.problem.contains("1 MiB"), "{e}");

        // A file over the limit is refused before it is parsed (parsing one of 1 MiB takes
        // seconds in a debug build, so the limit itself is read.rs's test).
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sonar-project.properties");
        std::fs::write(&file, "#".repeat(MAX_CONFIG_BYTES + 1)).unwrap();
        let e = ScannerConfig::load(&Env::default(), dir.path()).unwrap_err();
        assert!(e.source.ends_with("sonar-project.properties"), "{e}");
    }

    #[test]
    fn env_references_are_resolved_as_sonar_scan_resolves_them() {
        let env = Env::from_pairs([("APP", "acme"), ("EMPTY", "")]);
        let strict = |v: &str| resolve_env_references(v, &env, false);
        assert_eq!(strict("${env.APP}_payments"), Ok("acme_payments".into()));
        assert_eq!(strict("a${env.EMPTY}b${env.APP}"), Ok("abacme".into()));
        assert_eq!(strict("${env.NOPE}"), Err("NOPE".into()));
        assert_eq!(
            strict("${APP} ${env.} $env.APP"),
            Ok("${APP} ${env.} $env.APP".into())
        );
        // The SonarScanner CLI: an unset variable is the empty string.
        assert_eq!(
            resolve_env_references("${env.NOPE}x", &env, true),
            Ok("x".into())
        );
    }

    #[test]
    fn pysonar_toml_names_and_urls() {
        assert_eq!(kebab_to_camel("sonar.project-key"), "sonar.projectKey");
        assert_eq!(
            kebab_to_camel("sonar.scanner.api-BASE-url"),
            "sonar.scanner.apiBaseUrl"
        );
        assert_eq!(kebab_to_camel("sonar.host.url"), "sonar.host.url");
        assert!(same_value("sonar.host.url", "https://h/", "https://h"));
        assert!(same_value(
            "sonar.scanner.apiBaseUrl",
            "https://h/api",
            "https://h/api/"
        ));
        assert!(!same_value("sonar.projectKey", "a/", "a"));
        assert!(!same_value("sonar.host.url", "https://h", "https://g"));
    }
}
