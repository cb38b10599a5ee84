//! Reading a scanner's own command line (`scantoken run -- <command>`): which scanner it
//! starts, however it is started (its bin name, `npx`, `node <path>`, `python -m`, `pipx run`,
//! `uvx`, Maven, Gradle, `dotnet`), and the analysis properties its arguments set, read by a
//! model of the parser that scanner uses, one module each: [`commander`] (@sonar/scan),
//! [`argparse`] (pysonar), [`java_launcher`] (the SonarScanner CLI, Maven, Gradle) and
//! [`dotnet`] (docs/scanner-configuration.md names each one's sources).
//!
//! A property on the command line beats every other source for every scanner, and a step
//! that runs before the scan cannot see it; reading it here is what lets `run` verify the
//! scan it then starts. Fail closed: an argument a model cannot place (an ambiguous prefix,
//! an option the scanner does not know, a word its parser would stop at) is refused, naming
//! it, and so is a credential in any spelling. This module only reads: it never changes the
//! command.

pub mod argparse;
pub mod commander;
pub mod dotnet;
pub mod java_launcher;

use crate::error::{quote, ConfigError};
use crate::inputs::Origin;
use crate::scanner_config::Scanner;
use std::ffi::OsString;

/// `(key, value)` in the order the scanner applies them: the last one of a key wins.
pub type Props = Vec<(String, String)>;

/// An argument a model cannot place with certainty, or at which the scanner's own parser
/// would stop: `run` refuses the command, naming it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unplaced {
    /// The argument's index among those the model read.
    pub index: usize,
    pub why: String,
}

impl Unplaced {
    pub fn at(index: usize, why: impl Into<String>) -> Unplaced {
        Unplaced {
            index,
            why: why.into(),
        }
    }
}

/// What `run` learned from the command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScannerCommand {
    /// The scanner family, when the command is one scantoken knows.
    pub scanner: Option<Scanner>,
    /// The program as the user wrote it (`sonar-scanner`, `mvn`, `dotnet sonarscanner`).
    pub name: String,
    /// `(key, value)` in the order the scanner applies them; the last one of a key wins.
    pub properties: Props,
    /// What the user should know about how the command was read.
    pub notes: Vec<String>,
    /// Properties the launcher reads as arguments from elsewhere, below its command line, in
    /// the order it applies them: `.mvn/maven.config` (a workspace file), `MAVEN_ARGS`, the
    /// `-Dsonar.*` words of JVM option variables. Each keeps where it came from, so that a
    /// trust check can tell a workspace file from the pipeline's own configuration.
    pub extra: Vec<(Origin, String, String)>,
}

/// Property keys that carry a credential. On the command line they would make the scanner
/// use another token than the one verified (and show it in the process list).
const CREDENTIAL_KEYS: [&str; 3] = ["sonar.token", "sonar.login", "sonar.password"];

/// The properties that decide where the scan goes and what it is: where two readings of a
/// command could differ, these must agree.
pub const TARGET_KEYS: [&str; 14] = [
    "sonar.projectKey",
    "sonar.host.url",
    "sonar.organization",
    "sonar.region",
    "sonar.scanner.sonarcloudUrl",
    "sonar.scanner.apiBaseUrl",
    "sonar.branch.name",
    "sonar.pullrequest.key",
    "sonar.pullrequest.branch",
    "sonar.pullrequest.base",
    "sonar.scm.revision",
    "sonar.projectBaseDir",
    "sonar.token",
    "sonar.login",
];

/// Which model reads a command's arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Model {
    Commander,
    Argparse,
    /// `sonar-scanner`: the SonarScanner CLI, or an older @sonar/scan (`sonarqube-scanner`)
    /// installed under the same name: both readings must agree.
    ScannerCli,
    Maven,
    Gradle,
    Dotnet,
}

impl Model {
    fn scanner(self) -> Scanner {
        match self {
            Model::Commander => Scanner::Npm,
            Model::Argparse => Scanner::Python,
            Model::ScannerCli | Model::Maven | Model::Gradle => Scanner::JavaLibrary,
            Model::Dotnet => Scanner::Dotnet,
        }
    }
}

/// Reads `argv` as [`read`] does, with the arguments Maven adds on its own: the words of
/// `.mvn/maven.config` (in the nearest folder up from `cwd` that has `.mvn`) and of the
/// `MAVEN_ARGS` variable (Maven 3.9), both before the command line's, which wins over them.
pub fn read_in(
    argv: &[OsString],
    env: &crate::env::Env,
    cwd: &std::path::Path,
) -> Result<ScannerCommand, ConfigError> {
    let command = read(argv)?;
    if command.scanner != Some(Scanner::JavaLibrary) {
        return Ok(command);
    }
    // JVM options become system properties, which the Java launchers read as analysis
    // properties below their command line (the CLI's `Cli.parse` starts from them).
    let mut before: Vec<(Origin, String, String)> = Vec::new();
    let tag = |origin: Origin, props: Props| {
        props
            .into_iter()
            .map(move |(k, v)| (origin.clone(), k, v))
            .collect::<Vec<_>>()
    };
    for var in JVM_OPTION_VARIABLES {
        let Some(value) = env.non_empty(var) else {
            continue;
        };
        let defines: Vec<&str> = value
            .split_whitespace()
            .filter(|w| w.starts_with("-Dsonar."))
            .collect();
        if defines.is_empty() {
            continue;
        }
        if value.contains(['"', '\'']) {
            return Err(ConfigError::new(
                format!("variable {var}"),
                "sets sonar. system properties with quotes, which scantoken does not read",
            )
            .hint(
                "set the property on the scan's command line or with a scantoken input instead",
            ));
        }
        let props = extra_maven_args(&format!("variable {var}"), defines.into_iter())?;
        before.extend(tag(Origin::Variable(var.into()), props));
    }
    let maven = argv
        .first()
        .map(|p| program_name(&p.to_string_lossy()))
        .is_some_and(|b| matches!(b.as_str(), "mvn" | "mvnw" | "mvnd"));
    if !maven {
        return finish(command, before);
    }
    let config = cwd
        .ancestors()
        .map(|d| d.join(".mvn/maven.config"))
        .find(|f| f.is_file());
    if let Some(file) = config {
        let source = file.display().to_string();
        if let Some(bytes) = crate::read::optional_file(&file, &source, "maven.config", 1 << 20)? {
            let text = String::from_utf8_lossy(&bytes);
            if text.contains(['"', '\'']) {
                return Err(ConfigError::new(
                    source,
                    "holds quoted arguments, which scantoken does not read",
                )
                .hint(
                    "write each -Dkey=value without quotes, or set the value on the command line",
                ));
            }
            let props = extra_maven_args(&source, text.split_whitespace())?;
            // A workspace file: its origin says so (a pull request may have changed it).
            before.extend(props.into_iter().map(|(k, v)| {
                let origin = Origin::PropertiesFile {
                    path: file.clone(),
                    key: k.clone(),
                };
                (origin, k, v)
            }));
        }
    }
    if let Some(args) = env.non_empty("MAVEN_ARGS") {
        let props = extra_maven_args("variable MAVEN_ARGS", args.split_whitespace())?;
        before.extend(tag(Origin::Variable("MAVEN_ARGS".into()), props));
    }
    finish(command, before)
}

/// The variables whose JVM options the Java launchers' JVM starts with: the SonarScanner
/// CLI's `SONAR_SCANNER_OPTS`, Maven's `MAVEN_OPTS`, Gradle's `GRADLE_OPTS` and `JAVA_OPTS`,
/// and the JVM's own `JAVA_TOOL_OPTIONS`.
const JVM_OPTION_VARIABLES: [&str; 5] = [
    "JAVA_TOOL_OPTIONS",
    "SONAR_SCANNER_OPTS",
    "MAVEN_OPTS",
    "GRADLE_OPTS",
    "JAVA_OPTS",
];

/// Records what the launcher reads below its command line (`before`, in the order applied).
fn finish(
    mut command: ScannerCommand,
    before: Vec<(Origin, String, String)>,
) -> Result<ScannerCommand, ConfigError> {
    if let Some((_, key, _)) = before
        .iter()
        .find(|(_, k, _)| CREDENTIAL_KEYS.contains(&k.as_str()))
    {
        return Err(ConfigError::new(format!("the arguments {} reads besides its command line", command.name), format!("set {key}: the scanner would use that credential instead of the token scantoken verifies"))
            .hint(format!("remove {key} from .mvn/maven.config, MAVEN_ARGS or the JVM options variables")));
    }
    if let Some((origin, key, _)) = before
        .iter()
        .find(|(_, k, v)| TARGET_KEYS.contains(&k.as_str()) && v.trim().is_empty())
    {
        return Err(ConfigError::new(
            origin.to_string(),
            format!("sets {key} to an empty value, which the scanner would take over the files and variables"),
        )
        .hint(format!("give {key} a value, or remove it")));
    }
    command.extra = before;
    Ok(command)
}

fn extra_maven_args<'a>(
    source: &str,
    words: impl Iterator<Item = &'a str>,
) -> Result<Props, ConfigError> {
    let words: Vec<String> = words.map(str::to_owned).collect();
    java_launcher::maven(&words).map(|(p, _)| p).map_err(|u| {
        ConfigError::new(
            source,
            format!(
                "argument {} ({}) cannot be read with certainty: {}",
                u.index,
                shown(words.get(u.index).map(String::as_str).unwrap_or("")),
                u.why
            ),
        )
        .hint("write -Dkey=value there, or set the value on the command line")
    })
}

/// Reads `argv` (the program first). Refuses a command that carries a credential, and, for a
/// scanner it knows, an argument its model cannot place.
pub fn read(argv: &[OsString]) -> Result<ScannerCommand, ConfigError> {
    let args: Vec<String> = argv
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    if args.is_empty() {
        return Err(ConfigError::new("run", "no command was given after --")
            .hint("write the scan command after --, e.g. scantoken run -- sonar-scanner"));
    }
    if let Some(at) = args.iter().position(|a| looks_like_token(a)) {
        return Err(ConfigError::new(
            "the scan command",
            format!("holds a Sonar token in argument {at}: every process on the machine can read a command line, and the scanner could use it instead of the token scantoken verifies"),
        )
        .hint("remove it: scantoken run hands the scanner the verified token in SONAR_TOKEN, for that process alone"));
    }
    let Some((model, name, offset)) = launcher(&args) else {
        return Ok(unknown(&program_name(&args[0])));
    };
    let rest = &args[offset..];
    let refuse = |u: Unplaced| {
        let arg = rest.get(u.index).map(String::as_str).unwrap_or("");
        ConfigError::new(
            format!("the {name} command line"),
            format!(
                "argument {} ({}) cannot be read with certainty: {}",
                offset + u.index,
                shown(arg),
                u.why
            ),
        )
        .hint("write it in a form the scanner documents (-Dkey=value, or its full option name), or set the value with a scantoken input; scantoken refuses what it cannot read, so that what it verifies is what is scanned")
    };
    let mut notes = Vec::new();
    let properties = match model {
        Model::Commander => commander::read(rest).map_err(refuse)?,
        Model::Argparse => argparse::read(rest).map_err(refuse)?,
        Model::Dotnet => dotnet::read(rest).map_err(refuse)?,
        Model::ScannerCli => sonar_scanner(rest).map_err(refuse)?,
        Model::Maven => {
            let (props, goal) = java_launcher::maven(rest).map_err(refuse)?;
            if !goal {
                notes.push(format!("{name}: no sonar:sonar goal among the arguments; the properties it sets were read all the same"));
            }
            notes.push("Maven: properties in pom.xml and settings.xml are not read by scantoken; set the project key with -Dsonar.projectKey or a scantoken input so what is verified is what is scanned".into());
            props
        }
        Model::Gradle => {
            let (props, task) = java_launcher::gradle(rest).map_err(refuse)?;
            if !task {
                notes.push(format!("{name}: no sonar task among the arguments; the properties it sets were read all the same"));
            }
            notes.push("Gradle: the sonar { properties } block of the build script is not read by scantoken; set the project key with -Dsonar.projectKey or a scantoken input so what is verified is what is scanned".into());
            props
        }
    };
    if let Some((key, _)) = properties
        .iter()
        .find(|(k, _)| CREDENTIAL_KEYS.contains(&k.as_str()))
    {
        return Err(ConfigError::new(
            format!("the {name} command line"),
            format!("sets {key}: the scanner would use that credential instead of the token scantoken verifies, and every process on the machine can read a command line"),
        )
        .hint(format!("remove {key} from the command: scantoken run hands the scanner the verified token in SONAR_TOKEN, for that process alone")));
    }
    if let Some((key, _)) = properties
        .iter()
        .find(|(k, v)| TARGET_KEYS.contains(&k.as_str()) && v.trim().is_empty())
    {
        return Err(ConfigError::new(
            format!("the {name} command line"),
            format!("sets {key} to an empty value, which the scanner would take over every other source"),
        )
        .hint(format!("give {key} a value, or remove it from the command")));
    }
    if model == Model::Dotnet {
        notes.push("the SonarScanner for .NET reads the token only from SONARQUBE_SCANNER_PARAMS: run puts it there too, for this process alone".into());
    }
    Ok(ScannerCommand {
        scanner: Some(model.scanner()),
        name,
        properties,
        notes,
        extra: Vec::new(),
    })
}

/// `sonar-scanner` may be the SonarScanner CLI or @sonar/scan under its former bin name: a
/// reading that one of them would refuse (the scan never starts there) gives way to the other;
/// both must agree on every target property.
fn sonar_scanner(rest: &[String]) -> Result<Props, Unplaced> {
    match (java_launcher::scanner_cli(rest), commander::read(rest)) {
        (Ok(cli), Ok(npm)) => {
            let last = |props: &Props, key: &str| {
                props
                    .iter()
                    .rev()
                    .find(|(k, _)| k == key)
                    .map(|(_, v)| v.clone())
            };
            match TARGET_KEYS.iter().find(|k| last(&cli, k) != last(&npm, k)) {
                None => Ok(cli),
                Some(k) => {
                    let index = rest.iter().position(|a| a.contains(*k)).unwrap_or_default();
                    Err(Unplaced::at(index, format!("the SonarScanner CLI and @sonar/scan (both installed as sonar-scanner) read {k} differently here")))
                }
            }
        }
        (Ok(cli), Err(_)) => Ok(cli),
        (Err(_), Ok(npm)) => Ok(npm),
        (Err(u), Err(_)) => Err(u),
    }
}

/// A word that holds a Sonar token (FACTS §1): `sqp_`/`sqa_`/`squ_` + 40 hex, or `sqco_` + 59
/// alphanumerics, anywhere in it.
fn looks_like_token(word: &str) -> bool {
    let bytes = word.as_bytes();
    let run = |from: usize, ok: fn(&u8) -> bool| bytes[from..].iter().take_while(|b| ok(b)).count();
    for (i, _) in word.match_indices("sq") {
        let rest = &word[i..];
        let server = ["sqp_", "sqa_", "squ_"].iter().any(|p| rest.starts_with(p));
        if server && run(i + 4, |b| b.is_ascii_hexdigit()) >= 40 {
            return true;
        }
        if rest.starts_with("sqco_") && run(i + 5, |b| b.is_ascii_alphanumeric()) >= 59 {
            return true;
        }
    }
    false
}

/// An argument as a refusal may show it: up to its first `=` (a value may be a secret), at
/// most 40 characters.
fn shown(arg: &str) -> String {
    let head = arg.split('=').next().unwrap_or(arg);
    let cut: String = head.chars().take(40).collect();
    let more = if cut.len() < arg.len() { "…" } else { "" };
    quote(&format!("{cut}{more}"))
}

fn unknown(base: &str) -> ScannerCommand {
    ScannerCommand {
        scanner: None,
        name: base.to_owned(),
        properties: Vec::new(),
        extra: Vec::new(),
        notes: vec![format!(
            "{} is not a scanner command scantoken knows (sonar-scanner, npx @sonar/scan, pysonar, mvn, gradle, dotnet sonarscanner): it gets the scanner's environment, but its arguments were not read, so ok covers the configuration scantoken read (inputs, variables, files), not what the command line may set",
            quote(base)
        )],
    }
}

/// `/usr/bin/sonar-scanner.bat` → `sonar-scanner`; `./mvnw` → `mvnw`.
fn program_name(program: &str) -> String {
    let last = program.rsplit(['/', '\\']).next().unwrap_or(program);
    let lower = last.to_ascii_lowercase();
    for ext in [".exe", ".cmd", ".bat", ".sh", ".js", ".dll", ".ps1"] {
        if let Some(stem) = lower.strip_suffix(ext) {
            return stem.to_owned();
        }
    }
    lower
}

/// Which scanner `args` starts, the name to show, and where its own arguments begin.
fn launcher(args: &[String]) -> Option<(Model, String, usize)> {
    let base = program_name(&args[0]);
    let bin = |b: &str| -> Option<Model> {
        match b {
            "sonar-scanner" | "sonar-scanner-debug" | "sonar-runner" => Some(Model::ScannerCli),
            "sonar-scanner-npm" => Some(Model::Commander),
            "pysonar" | "pysonar-scanner" => Some(Model::Argparse),
            "mvn" | "mvnw" | "mvnd" => Some(Model::Maven),
            "gradle" | "gradlew" => Some(Model::Gradle),
            "dotnet-sonarscanner" | "sonarscanner.msbuild" => Some(Model::Dotnet),
            _ => None,
        }
    };
    if let Some(model) = bin(&base) {
        return Some((model, base, 1));
    }
    let rest = &args[1..];
    match base.as_str() {
        "npx" | "pnpx" | "bunx" => npm_package(rest, 1, &base),
        "pnpm" | "yarn" | "npm" => {
            let verb = rest.first()?;
            matches!(verb.as_str(), "dlx" | "exec" | "x").then_some(())?;
            // `npm exec` keeps the options before `--` for itself (`-D` is its
            // `--save-dev`): without `--`, what the scanner receives is not known.
            if base == "npm" && !rest[1..].iter().any(|w| w == "--") {
                return None;
            }
            npm_package(&rest[1..], 2, &format!("{base} {verb}"))
        }
        "node" | "nodejs" | "bun" => {
            let at = first_word(
                rest,
                &["-r", "--require", "--import", "--loader", "--env-file"],
            )?;
            let script = rest[at].replace('\\', "/");
            let npm = script.ends_with("@sonar/scan/bin/sonar-scanner.js")
                || script.ends_with("sonarqube-scanner/bin/sonar-scanner.js")
                || script.ends_with("/.bin/sonar-scanner-npm")
                || script == "sonar-scanner-npm";
            npm.then(|| (Model::Commander, format!("{base} {}", rest[at]), at + 2))
        }
        "dotnet" => {
            let first = rest.first()?;
            if first.eq_ignore_ascii_case("sonarscanner") {
                Some((Model::Dotnet, "dotnet sonarscanner".into(), 2))
            } else if program_name(first) == "sonarscanner.msbuild" {
                Some((Model::Dotnet, format!("dotnet {first}"), 2))
            } else {
                None
            }
        }
        b if is_python(b) => {
            // Interpreter options before `-m`; -X and -W take a value.
            let mut i = 0;
            while let Some(a) = rest.get(i) {
                match a.as_str() {
                    "-m" => break,
                    "-X" | "-W" => i += 2,
                    o if o.starts_with('-') && !o.starts_with("-c") => i += 1,
                    _ => return None,
                }
            }
            let module = rest.get(i + 1)?;
            matches!(module.as_str(), "pysonar" | "pysonar_scanner")
                .then(|| (Model::Argparse, format!("{base} -m {module}"), i + 3))
        }
        "uvx" | "pipx" | "uv" => {
            // `pipx run [--spec S] pysonar`, `uvx [--from S] pysonar`, `uv tool run pysonar`.
            let mut i = 0;
            if base == "pipx" {
                (rest.first()? == "run").then_some(())?;
                i = 1;
            } else if base == "uv" {
                (rest.first()? == "tool" && rest.get(1)? == "run").then_some(())?;
                i = 2;
            }
            let at = i + first_word(
                &rest[i..],
                &[
                    "--spec",
                    "--from",
                    "--with",
                    "--python",
                    "-p",
                    "--index-url",
                    "-i",
                ],
            )?;
            let word = &rest[at];
            let package = word.split(['=', '@', '<', '>', '[']).next().unwrap_or(word);
            matches!(package, "pysonar" | "pysonar-scanner")
                .then(|| (Model::Argparse, format!("{base} {package}"), at + 2))
        }
        _ => None,
    }
}

/// The first word that is not an option, stepping over the values of `valued` options (and
/// one `--`).
fn first_word(words: &[String], valued: &[&str]) -> Option<usize> {
    let mut i = 0;
    while let Some(w) = words.get(i) {
        if w == "--" {
            return words.get(i + 1).map(|_| i + 1);
        }
        if !w.starts_with('-') {
            return Some(i);
        }
        i += if valued.contains(&w.as_str()) { 2 } else { 1 };
    }
    None
}

fn is_python(base: &str) -> bool {
    base == "py"
        || base
            .strip_prefix("python")
            .is_some_and(|v| v.chars().all(|c| c.is_ascii_digit() || c == '.'))
}

/// `npx --yes @sonar/scan@5 -Dk=v` → @sonar/scan, its arguments after it. The command may
/// be the package (`@sonar/scan`, its former name `sonarqube-scanner`) or its bin
/// (`sonar-scanner-npm`, or `sonar-scanner`, which may also be the Java CLI).
fn npm_package(rest: &[String], skipped: usize, launcher: &str) -> Option<(Model, String, usize)> {
    let at = first_word(rest, &["-p", "--package", "-c", "--call"])?;
    let word = rest[at].as_str();
    let without_version = match word.strip_prefix('@') {
        Some(scoped) => format!("@{}", scoped.split('@').next().unwrap_or(scoped)),
        None => word.split('@').next().unwrap_or(word).to_owned(),
    };
    let model = match without_version.as_str() {
        "@sonar/scan" | "sonarqube-scanner" | "sonar-scanner-npm" => Model::Commander,
        "sonar-scanner" => Model::ScannerCli,
        _ => return None,
    };
    Some((model, format!("{launcher} {word}"), skipped + at + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_words(words: &[&str]) -> Result<ScannerCommand, ConfigError> {
        let argv: Vec<OsString> = words.iter().map(OsString::from).collect();
        read(&argv)
    }

    fn props(words: &[&str]) -> (Option<Scanner>, Vec<(String, String)>) {
        let c = read_words(words).unwrap();
        (c.scanner, c.properties)
    }

    fn kv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn each_family_and_spelling() {
        type Case<'a> = (&'a [&'a str], Scanner, Vec<(String, String)>);
        let cases: Vec<Case> = vec![
            (
                &[
                    "sonar-scanner",
                    "-Dsonar.projectKey=a",
                    "-D",
                    "sonar.organization=o",
                    "-X",
                ],
                Scanner::JavaLibrary,
                kv(&[
                    ("sonar.projectKey", "a"),
                    ("sonar.organization", "o"),
                    ("sonar.verbose", "true"),
                ]),
            ),
            (
                &[
                    "/opt/bin/sonar-scanner.bat",
                    "--define",
                    "sonar.projectKey=a=b",
                ],
                Scanner::JavaLibrary,
                kv(&[("sonar.projectKey", "a=b")]),
            ),
            (
                &[
                    "npx",
                    "--yes",
                    "@sonar/scan@5.0.1",
                    "-D",
                    "sonar.projectKey=a",
                    "sonar.branch.name=b",
                    "--debug",
                ],
                Scanner::Npm,
                kv(&[
                    ("sonar.verbose", "true"),
                    ("sonar.projectKey", "a"),
                    ("sonar.branch.name", "b"),
                ]),
            ),
            (
                &[
                    "pysonar",
                    "--sonar-project-key",
                    "a",
                    "--sonar-organization=o",
                    "-Dsonar.branch.name=b",
                    "-Dsonar.scm.revision",
                    "r",
                    "-Dsonar.scanner.cloudUrl=http://c",
                ],
                Scanner::Python,
                kv(&[
                    ("sonar.projectKey", "a"),
                    ("sonar.organization", "o"),
                    ("sonar.branch.name", "b"),
                    ("sonar.scm.revision", "r"),
                    ("sonar.scanner.sonarcloudUrl", "http://c"),
                ]),
            ),
            (
                &["python3.11", "-m", "pysonar", "--project-key=a"],
                Scanner::Python,
                kv(&[("sonar.projectKey", "a")]),
            ),
            (
                &[
                    "./mvnw",
                    "-B",
                    "verify",
                    "sonar:sonar",
                    "-Dsonar.projectKey=a",
                    "--define=sonar.organization=o",
                    "-D",
                    "sonar.host.url=https://h",
                ],
                Scanner::JavaLibrary,
                kv(&[
                    ("sonar.projectKey", "a"),
                    ("sonar.organization", "o"),
                    ("sonar.host.url", "https://h"),
                ]),
            ),
            (
                &[
                    "./gradlew",
                    "sonar",
                    "-Dsonar.projectKey=a",
                    "--system-prop",
                    "sonar.region=us",
                ],
                Scanner::JavaLibrary,
                kv(&[("sonar.projectKey", "a"), ("sonar.region", "us")]),
            ),
            (
                &[
                    "dotnet",
                    "sonarscanner",
                    "begin",
                    "/k:a",
                    "-o:o",
                    "/d:sonar.host.url=https://h",
                    "/v:1.0",
                ],
                Scanner::Dotnet,
                kv(&[
                    ("sonar.projectKey", "a"),
                    ("sonar.organization", "o"),
                    ("sonar.host.url", "https://h"),
                    ("sonar.projectVersion", "1.0"),
                ]),
            ),
        ];
        for (words, scanner, expected) in cases {
            assert_eq!(props(words), (Some(scanner), expected), "{words:?}");
        }
    }

    #[test]
    fn maven_takes_one_word_after_d() {
        // Only @sonar/scan's commander option is variadic (and `sonar-scanner`, which may be
        // either: the Java CLI refuses a stray `key=value` word, so reading it costs nothing).
        let (_, p) = props(&["mvn", "-D", "sonar.projectKey=a", "sonar.branch.name=b"]);
        assert_eq!(p, kv(&[("sonar.projectKey", "a")]));
    }

    #[test]
    fn a_credential_on_the_command_line_is_refused_without_showing_it() {
        for words in [
            &["sonar-scanner", "-Dsonar.token=sqp_CANARY"][..],
            &["pysonar", "-t", "sqp_CANARY"],
            &["pysonar", "--token=sqp_CANARY"],
            &["mvn", "sonar:sonar", "-Dsonar.login=sqp_CANARY"],
            &[
                "dotnet",
                "sonarscanner",
                "begin",
                "/k:a",
                "/d:sonar.token=sqp_CANARY",
            ],
        ] {
            let e = read_words(words).unwrap_err();
            let text = e.to_string();
            assert!(!text.contains("CANARY"), "{text}");
            assert!(
                text.contains("sonar.token") || text.contains("sonar.login"),
                "{text}"
            );
        }
    }

    #[test]
    fn an_unknown_command_is_run_with_a_note() {
        let c = read_words(&["make", "scan", "-Dsonar.projectKey=x"]).unwrap();
        assert_eq!(c.scanner, None);
        assert!(c.properties.is_empty());
        assert!(c.notes[0].contains("not read"), "{:?}", c.notes);
        assert!(read_words(&[]).is_err());
        assert_eq!(read_words(&["npx", "cowsay"]).unwrap().scanner, None);
        assert_eq!(
            read_words(&["python3", "-m", "http.server"])
                .unwrap()
                .scanner,
            None
        );
    }

    #[test]
    fn every_launcher_and_alias_of_each_scanner() {
        type Case<'a> = (&'a [&'a str], Option<Scanner>, Vec<(String, String)>);
        let key_a = || kv(&[("sonar.projectKey", "a")]);
        let cases: Vec<Case> = vec![
            (
                &["uvx", "pysonar==1.10.0.5888", "--project-key=a"],
                Some(Scanner::Python),
                key_a(),
            ),
            (
                &["pipx", "run", "pysonar", "--sonar-project-key", "a"],
                Some(Scanner::Python),
                key_a(),
            ),
            (&["uvx", "ruff", "check"], None, vec![]),
            (
                &["pnpm", "dlx", "@sonar/scan", "-Dsonar.projectKey=a"],
                Some(Scanner::Npm),
                key_a(),
            ),
            (
                &[
                    "yarn",
                    "exec",
                    "--",
                    "sonarqube-scanner@3",
                    "-Dsonar.projectKey=a",
                ],
                Some(Scanner::Npm),
                key_a(),
            ),
            (
                &["npx", "sonarqube-scanner", "-Dsonar.projectKey=a"],
                Some(Scanner::Npm),
                key_a(),
            ),
            // Installing the package is not scanning.
            (&["pnpm", "add", "@sonar/scan"], None, vec![]),
            (
                &["sonar-scanner-npm", "-Dsonar.projectKey=a"],
                Some(Scanner::Npm),
                key_a(),
            ),
            (
                &["dotnet-sonarscanner", "begin", "/k:a"],
                Some(Scanner::Dotnet),
                key_a(),
            ),
            (
                &[
                    "SonarScanner.MSBuild.exe",
                    "begin",
                    "/key:a",
                    "/organization:o",
                ],
                Some(Scanner::Dotnet),
                kv(&[("sonar.projectKey", "a"), ("sonar.organization", "o")]),
            ),
            (&["dotnet", "build"], None, vec![]),
            (
                &["py", "-m", "pysonar", "--project-key=a"],
                Some(Scanner::Python),
                key_a(),
            ),
            // Interpreter options before -m.
            (
                &[
                    "python3",
                    "-X",
                    "dev",
                    "-u",
                    "-m",
                    "pysonar",
                    "-Dsonar.projectKey=a",
                ],
                Some(Scanner::Python),
                key_a(),
            ),
            // `-m pysonar` makes only Python run pysonar.
            (&["ruby", "-m", "pysonar", "--project-key=a"], None, vec![]),
            // @sonar/scan's variadic -D stops at the next option, even a -D one.
            (
                &[
                    "npx",
                    "@sonar/scan",
                    "-D",
                    "sonar.projectKey=a",
                    "-Dsonar.organization=o",
                ],
                Some(Scanner::Npm),
                kv(&[("sonar.projectKey", "a"), ("sonar.organization", "o")]),
            ),
            // A longer option that only starts with a define flag's name is not that flag.
            (
                &["mvn", "--defined=x", "--system-propx"],
                Some(Scanner::JavaLibrary),
                vec![],
            ),
            (
                &["gradle", "--system-properties", "-Dsonar.projectKey=a"],
                Some(Scanner::JavaLibrary),
                key_a(),
            ),
            // A bare -D<key> that pysonar does not declare is a flag (true): the next
            // argument is read on its own.
            (
                &["pysonar", "-Dsonar.verbose", "--sonar-project-key", "a"],
                Some(Scanner::Python),
                kv(&[("sonar.verbose", "true"), ("sonar.projectKey", "a")]),
            ),
        ];
        for (words, scanner, expected) in cases {
            assert_eq!(props(words), (scanner, expected), "{words:?}");
        }
    }

    #[test]
    fn notes_say_what_was_not_read_for_that_scanner_only() {
        let notes = |words: &[&str]| read_words(words).unwrap().notes.join("\n");
        for goal in [
            "sonar:sonar",
            "org.sonarsource.scanner.maven:sonar-maven-plugin:5.0.0.4389:sonar",
        ] {
            let n = notes(&["mvn", "verify", goal]);
            assert!(!n.contains("no sonar:sonar goal"), "{goal}: {n}");
            assert!(n.contains("pom.xml"), "{n}");
        }
        let n = notes(&["mvn", "verify"]);
        assert!(n.contains("no sonar:sonar goal"), "{n}");
        let n = notes(&["dotnet", "sonarscanner", "begin", "/k:a"]);
        assert!(n.contains("SONARQUBE_SCANNER_PARAMS"), "{n}");
        for words in [
            &["sonar-scanner"][..],
            &["pysonar"],
            &["npx", "@sonar/scan"],
        ] {
            assert_eq!(notes(words), "", "{words:?}");
        }
    }

    /// Issue 21, cases 1 and 2: the spellings the parsers accept and the old rules missed.
    #[test]
    fn the_parsers_own_spellings_are_read() {
        const TOKEN: &str = "CANARYcanaryCANARY";
        for words in [
            &["pysonar", "-tCANARYcanaryCANARY"][..],
            &["pysonar", "-vtCANARYcanaryCANARY"],
            &["pysonar", "-Dsonar.tok", TOKEN],
            &["pysonar", "-Dsonar.verbose=tCANARYcanaryCANARY"],
            &["npx", "@sonar/scan", "-XDsonar.token=CANARYcanaryCANARY"],
            &[
                "sonar-scanner-npm",
                "-D",
                "sonar.verbose",
                "sonar.login=CANARYcanaryCANARY",
            ],
        ] {
            let e = read_words(words).unwrap_err().to_string();
            assert!(!e.contains("CANARY"), "{e}");
            assert!(
                e.contains("sonar.token") || e.contains("sonar.login"),
                "{words:?}: {e}"
            );
        }
        let key = |words: &[&str]| {
            let (_, p) = props(words);
            p.iter()
                .rev()
                .find(|(k, _)| k == "sonar.projectKey")
                .map(|(_, v)| v.clone())
        };
        let other = Some("other".to_string());
        assert_eq!(
            key(&["sonar-scanner-npm", "-XDsonar.projectKey=other"]),
            other
        );
        assert_eq!(
            key(&[
                "npx",
                "@sonar/scan",
                "-D",
                "sonar.verbose",
                "sonar.scm.disabled",
                "sonar.projectKey=other"
            ]),
            other
        );
        assert_eq!(key(&["pysonar", "-Dsonar.projectK", "other"]), other);

        // pysonar applies an undeclared -D after every declared option.
        let (_, p) = props(&[
            "pysonar",
            "-Dsonar.scanner.sonarcloudUrl=http://x",
            "--sonar-scanner-cloud-url",
            "http://y",
        ]);
        assert_eq!(
            p.iter()
                .rev()
                .find(|(k, _)| k == "sonar.scanner.sonarcloudUrl")
                .unwrap()
                .1,
            "http://x"
        );
    }

    /// Fail closed: what a model cannot place is refused, naming it.
    #[test]
    fn an_argument_the_model_cannot_place_is_refused_by_name() {
        for (words, named) in [
            (&["pysonar", "-Dsonar.p", "x"][..], "-Dsonar.p"),
            (&["pysonar", "--sonar-proj", "x"], "--sonar-proj"),
            (&["pysonar", "make"], "make"),
            (&["npx", "@sonar/scan", "-Q"], "-Q"),
            (&["sonar-scanner-npm", "-Dsonar.projectKey=a", "b=c"], "b…"),
            (&["mvn", "--de", "sonar.projectKey=x"], "--de"),
            (
                &["dotnet", "sonarscanner", "begin", "/s:settings.xml"],
                "/s:settings.xml",
            ),
            (
                &["sonar-scanner", "--define=sonar.projectKey=a", "-e"],
                "--define",
            ),
        ] {
            let e = read_words(words).unwrap_err().to_string();
            assert!(
                e.contains(&format!("({}", quote(named))) || e.contains(named),
                "{words:?}: {e}"
            );
            assert!(e.contains("cannot be read with certainty"), "{e}");
        }
    }

    #[test]
    fn a_token_anywhere_on_any_command_line_is_refused_unshown() {
        let token = format!("sqp_{}", "ab12".repeat(10));
        let cloud = format!("sqco_{}", "Ab1".repeat(20));
        for words in [
            vec!["make".to_string(), "scan".into(), format!("TOKEN={token}")],
            vec!["mvn".into(), "sonar:sonar".into(), format!("-Dx={cloud}")],
        ] {
            let argv: Vec<OsString> = words.iter().map(OsString::from).collect();
            let e = read(&argv).unwrap_err().to_string();
            assert!(
                !e.contains(&token[4..20]) && !e.contains(&cloud[5..20]),
                "{e}"
            );
            assert!(e.contains("argument 2"), "{e}");
        }
    }

    #[test]
    fn every_way_of_starting_the_bootstrappers() {
        let key_a = || kv(&[("sonar.projectKey", "a")]);
        for (words, scanner) in [
            (
                &[
                    "node",
                    "--max-old-space-size=4096",
                    "/ci/node_modules/@sonar/scan/bin/sonar-scanner.js",
                    "-Dsonar.projectKey=a",
                ][..],
                Scanner::Npm,
            ),
            (
                &[
                    "node",
                    "node_modules/.bin/sonar-scanner-npm",
                    "-Dsonar.projectKey=a",
                ],
                Scanner::Npm,
            ),
            (
                &["npx", "sonar-scanner-npm", "-Dsonar.projectKey=a"],
                Scanner::Npm,
            ),
            (
                &["npx", "-y", "@sonar/scan@5.0.1", "-Dsonar.projectKey=a"],
                Scanner::Npm,
            ),
            (
                &["npm", "exec", "--", "@sonar/scan", "-Dsonar.projectKey=a"],
                Scanner::Npm,
            ),
            (
                &["npx", "sonar-scanner", "-Dsonar.projectKey=a"],
                Scanner::JavaLibrary,
            ),
            (
                &["python", "-m", "pysonar_scanner", "--project-key", "a"],
                Scanner::Python,
            ),
            (
                &[
                    "pipx",
                    "run",
                    "--spec",
                    "pysonar==1.10.0.5888",
                    "pysonar",
                    "--project-key=a",
                ],
                Scanner::Python,
            ),
            (
                &["uv", "tool", "run", "pysonar", "--project-key=a"],
                Scanner::Python,
            ),
            (
                &["uvx", "--from", "pysonar", "pysonar", "--project-key=a"],
                Scanner::Python,
            ),
            (
                &["/opt/venv/bin/pysonar", "-Dsonar.projectKey=a"],
                Scanner::Python,
            ),
            (
                &["C:\\tools\\SonarScanner.MSBuild.exe", "begin", "/k:a"],
                Scanner::Dotnet,
            ),
            (
                &[
                    "dotnet",
                    "/opt/sonar/SonarScanner.MSBuild.dll",
                    "begin",
                    "-k:a",
                ],
                Scanner::Dotnet,
            ),
            (
                &["./gradlew", "sonarqube", "-Dsonar.projectKey=a"],
                Scanner::JavaLibrary,
            ),
            (
                &["gradlew.bat", ":app:sonar", "-Dsonar.projectKey=a"],
                Scanner::JavaLibrary,
            ),
            (
                &["mvnw.cmd", "sonar:sonar", "-Dsonar.projectKey=a"],
                Scanner::JavaLibrary,
            ),
        ] {
            assert_eq!(props(words), (Some(scanner), key_a()), "{words:?}");
        }
        for words in [
            &["node", "server.js", "-Dsonar.projectKey=a"][..],
            &["npx", "eslint"],
            &["uvx", "ruff"],
            &["pipx", "install", "pysonar"],
            &["npm", "exec", "@sonar/scan", "-Dsonar.projectKey=a"],
        ] {
            assert_eq!(read_words(words).unwrap().scanner, None, "{words:?}");
        }
    }

    #[test]
    fn sonar_scanner_is_read_both_ways_and_must_agree() {
        // The CLI stops at `b=2`, so the npm reading is the scan that can run.
        let (_, p) = props(&["sonar-scanner", "-D", "a=1", "sonar.projectKey=x"]);
        assert_eq!(p, kv(&[("a", "1"), ("sonar.projectKey", "x")]));
        // A bare -Dkey is `true` for the CLI, empty for @sonar/scan: a target key differs.
        let e = read_words(&["sonar-scanner", "-Dsonar.branch.name"]).unwrap_err();
        assert!(
            e.to_string().contains("read sonar.branch.name differently"),
            "{e}"
        );
    }

    #[test]
    fn what_looks_like_a_token() {
        let hex = "0123456789abcdef0123456789abcdef01234567";
        assert!(looks_like_token(&format!("sqp_{hex}")));
        assert!(looks_like_token(&format!("-Dx=squ_{hex}9")));
        assert!(!looks_like_token(&format!("sqp_{}", &hex[..39])));
        assert!(!looks_like_token(&format!("sqx_{hex}")));
        assert!(looks_like_token(&format!("sqco_{}", "aB3".repeat(20))));
        assert!(!looks_like_token(&format!(
            "sqco_{}",
            &"aB3".repeat(20)[..58]
        )));
    }

    proptest::proptest! {
        /// Any command line, in any script: an answer, never a panic, and never the token.
        #[test]
        fn any_command_line_is_read_or_refused_without_a_panic(
            launcher in proptest::sample::select(vec![
                "pysonar", "sonar-scanner-npm", "sonar-scanner", "mvn", "gradle", "dotnet-sonarscanner",
            ]),
            words in proptest::collection::vec(
                proptest::prop_oneof![
                    "-[DXvtéD]{0,2}[a-zé.=_-]{0,12}",
                    "--[a-z-]{0,14}(=[a-zé]{0,4})?",
                    "[/-][kdoKs]:[a-z=.é]{0,8}",
                    ".{0,6}",
                ],
                0..7,
            ),
        ) {
            let mut argv = vec![OsString::from(launcher)];
            argv.extend(words.iter().map(OsString::from));
            argv.push(OsString::from("-Dsonar.token=sqp_PROPTESTcanary"));
            if let Err(e) = read(&argv) {
                proptest::prop_assert!(!e.to_string().contains("PROPTEST"), "{}", e);
            }
        }
    }
}
