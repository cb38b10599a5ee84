//! Reading a scanner's own command line (`scantoken run -- <command>`): which scanner it
//! starts, and the analysis properties its arguments set, read the way that scanner's own
//! parser reads them (docs/scanner-configuration.md lists each one's flags and sources).
//!
//! A property on the command line beats every other source for every scanner, and a step
//! that runs before the scan cannot see it; reading it here is what lets `run` verify the
//! scan it then starts. This module only reads: it never changes the command.

use crate::error::{quote, ConfigError};
use crate::scanner_config::Scanner;
use std::ffi::OsString;

/// What `run` learned from the command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScannerCommand {
    /// The scanner family, when the command is one scantoken knows.
    pub scanner: Option<Scanner>,
    /// The program as the user wrote it (`sonar-scanner`, `mvn`, `dotnet sonarscanner`).
    pub name: String,
    /// `(key, value)` in command-line order; the last one of a key wins.
    pub properties: Vec<(String, String)>,
    /// What the user should know about how the command was read.
    pub notes: Vec<String>,
}

/// Property keys that carry a credential. On the command line they would make the scanner
/// use another token than the one verified (and show it in the process list).
const CREDENTIAL_KEYS: [&str; 3] = ["sonar.token", "sonar.login", "sonar.password"];

/// pysonar's named flags (argparse, `pysonar_scanner/configuration/cli.py`) for the
/// properties that decide the target; each also accepts `=value`.
const PYSONAR_FLAGS: [(&str, &str); 17] = [
    ("--sonar-project-key", "sonar.projectKey"),
    ("--project-key", "sonar.projectKey"),
    ("--sonar-host-url", "sonar.host.url"),
    ("--sonar-region", "sonar.region"),
    ("--sonar-organization", "sonar.organization"),
    ("--sonar-scanner-cloud-url", "sonar.scanner.sonarcloudUrl"),
    ("--sonar-scanner-api-url", "sonar.scanner.apiBaseUrl"),
    ("--sonar-branch-name", "sonar.branch.name"),
    ("--sonar-pullrequest-key", "sonar.pullrequest.key"),
    ("--sonar-pullrequest-branch", "sonar.pullrequest.branch"),
    ("--sonar-pullrequest-base", "sonar.pullrequest.base"),
    ("--sonar-scm-revision", "sonar.scm.revision"),
    ("--sonar-project-base-dir", "sonar.projectBaseDir"),
    ("--sonar-token", "sonar.token"),
    ("--token", "sonar.token"),
    ("-t", "sonar.token"),
    ("--sonar-user-home", "sonar.userHome"),
];

/// pysonar's `-D` spellings that are declared options (they take the value from the next
/// argument too) and differ from the property they set.
const PYSONAR_DECLARED_ALIASES: [(&str, &str); 2] = [
    ("-Dsonar.scanner.cloudUrl", "sonar.scanner.sonarcloudUrl"),
    ("-Dsonar.scanner.apiUrl", "sonar.scanner.apiBaseUrl"),
];

/// Reads `argv` (the program first). Refuses a command that sets a credential property.
pub fn read(argv: &[OsString]) -> Result<ScannerCommand, ConfigError> {
    let args: Vec<String> = argv
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let Some(program) = args.first() else {
        return Err(ConfigError::new("run", "no command was given after --")
            .hint("write the scan command after --, e.g. scantoken run -- sonar-scanner"));
    };
    let base = program_name(program);
    let rest = &args[1..];
    let (scanner, name, props, mut notes) = match base.as_str() {
        "sonar-scanner" | "sonar-scanner-debug" | "sonar-scanner-npm" | "sonar-runner" => {
            // The Java CLI and @sonar/scan share the name and the `-D` syntax; @sonar/scan's
            // `-D` takes several `key=value` words, which the CLI never receives.
            let scanner = if base == "sonar-scanner-npm" {
                Scanner::Npm
            } else {
                Scanner::JavaLibrary
            };
            (scanner, base.clone(), defines(rest, &["-D", "--define"], true), Vec::new())
        }
        "npx" | "pnpx" | "bunx" | "pnpm" | "yarn" => match npm_package(rest) {
            Some((package, after)) => (
                Scanner::Npm,
                format!("{base} {package}"),
                defines(after, &["-D", "--define"], true),
                Vec::new(),
            ),
            None => return Ok(unknown(&base)),
        },
        "pysonar" | "pysonar-scanner" => (Scanner::Python, base.clone(), pysonar(rest), Vec::new()),
        b if is_python(b) => match module_args(rest, "pysonar") {
            Some(after) => (
                Scanner::Python,
                format!("{base} -m pysonar"),
                pysonar(after),
                Vec::new(),
            ),
            None => return Ok(unknown(&base)),
        },
        "uvx" | "pipx" => {
            let after = rest
                .iter()
                .position(|a| a == "pysonar" || a.starts_with("pysonar=="))
                .map(|i| &rest[i + 1..]);
            match after {
                Some(after) => (
                    Scanner::Python,
                    format!("{base} pysonar"),
                    pysonar(after),
                    Vec::new(),
                ),
                None => return Ok(unknown(&base)),
            }
        }
        "mvn" | "mvnw" | "mvnd" => {
            let mut notes = Vec::new();
            if !rest.iter().any(|a| a == "sonar:sonar" || a.ends_with(":sonar")) {
                notes.push(format!("{base}: no sonar:sonar goal among the arguments; the properties it sets were read all the same"));
            }
            notes.push("Maven: properties in pom.xml are not read by scantoken; set the project key with -Dsonar.projectKey or a scantoken input so what is verified is what is scanned".into());
            (
                Scanner::JavaLibrary,
                base.clone(),
                defines(rest, &["-D", "--define"], false),
                notes,
            )
        }
        "gradle" | "gradlew" => (
            Scanner::JavaLibrary,
            base.clone(),
            defines(rest, &["-D", "--system-prop"], false),
            vec!["Gradle: the sonar { properties } block of the build script is not read by scantoken; set the project key with -Dsonar.projectKey or a scantoken input so what is verified is what is scanned".into()],
        ),
        "dotnet" if rest.first().is_some_and(|a| a.eq_ignore_ascii_case("sonarscanner")) => (
            Scanner::Dotnet,
            "dotnet sonarscanner".into(),
            dotnet(&rest[1..]),
            Vec::new(),
        ),
        "dotnet-sonarscanner" | "sonarscanner.msbuild" => {
            (Scanner::Dotnet, base.clone(), dotnet(rest), Vec::new())
        }
        _ => return Ok(unknown(&base)),
    };
    if let Some((key, _)) = props
        .iter()
        .find(|(k, _)| CREDENTIAL_KEYS.contains(&k.as_str()))
    {
        return Err(ConfigError::new(
            format!("the {name} command line"),
            format!("sets {key}: the scanner would use that credential instead of the token scantoken verifies, and every process on the machine can read a command line"),
        )
        .hint(format!("remove {key} from the command: scantoken run hands the scanner the verified token in SONAR_TOKEN, for that process alone")));
    }
    if scanner == Scanner::Dotnet {
        notes.push("the SonarScanner for .NET reads the token only from SONARQUBE_SCANNER_PARAMS: run puts it there too, for this process alone".into());
    }
    Ok(ScannerCommand {
        scanner: Some(scanner),
        name,
        properties: props,
        notes,
    })
}

fn unknown(base: &str) -> ScannerCommand {
    ScannerCommand {
        scanner: None,
        name: base.to_owned(),
        properties: Vec::new(),
        notes: vec![format!(
            "{} is not a scanner command scantoken knows (sonar-scanner, npx @sonar/scan, pysonar, mvn, gradle, dotnet sonarscanner): it gets the scanner's environment, but its arguments were not read, so a property set there is not verified",
            quote(base)
        )],
    }
}

/// `/usr/bin/sonar-scanner.bat` → `sonar-scanner`; `./mvnw` → `mvnw`.
fn program_name(program: &str) -> String {
    let last = program.rsplit(['/', '\\']).next().unwrap_or(program);
    let lower = last.to_ascii_lowercase();
    for ext in [".exe", ".cmd", ".bat", ".sh", ".js"] {
        if let Some(stem) = lower.strip_suffix(ext) {
            return stem.to_owned();
        }
    }
    lower
}

fn is_python(base: &str) -> bool {
    base == "py"
        || base
            .strip_prefix("python")
            .is_some_and(|v| v.chars().all(|c| c.is_ascii_digit() || c == '.'))
}

/// The arguments after `-m <module>` (`python3 -m pysonar ...`).
fn module_args<'a>(rest: &'a [String], module: &str) -> Option<&'a [String]> {
    let i = rest.iter().position(|a| a == "-m")?;
    (rest.get(i + 1)? == module).then(|| &rest[i + 2..])
}

/// `npx --yes @sonar/scan@5 -Dk=v` → (`@sonar/scan@5`, the arguments after it). Also
/// `pnpm dlx`, `yarn dlx` and `npx sonarqube-scanner` (the package's former name).
fn npm_package(rest: &[String]) -> Option<(String, &[String])> {
    let i = rest.iter().position(|a| {
        a.starts_with("@sonar/scan")
            || a == "sonarqube-scanner"
            || a.starts_with("sonarqube-scanner@")
    })?;
    let before_ok = rest[..i]
        .iter()
        .all(|a| a.starts_with('-') || a == "dlx" || a == "exec" || a == "--");
    before_ok.then(|| (rest[i].clone(), &rest[i + 1..]))
}

/// `-Dkey=value`, `-D key=value`, `--define key=value`, `--define=key=value` (and Gradle's
/// `--system-prop`). `variadic`: @sonar/scan's `-D` keeps taking `key=value` words up to the
/// next option (commander's variadic option). A `-D` with no `=` sets the key to `true`, as
/// Maven does.
fn defines(args: &[String], flags: &[&str], variadic: bool) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut i = 0;
    let split = |word: &str| match word.split_once('=') {
        Some((k, v)) => (k.to_owned(), v.to_owned()),
        None => (word.to_owned(), "true".to_owned()),
    };
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if arg == "--" {
            break;
        }
        let mut separate = false;
        for flag in flags {
            if arg == flag {
                separate = true;
            } else if let Some(word) = arg
                .strip_prefix(&format!("{flag}="))
                .filter(|_| flag.starts_with("--"))
            {
                out.push(split(word));
            } else if let Some(word) = arg
                .strip_prefix(flag)
                .filter(|w| !flag.starts_with("--") && !w.is_empty())
            {
                out.push(split(word));
            }
        }
        if separate {
            if let Some(word) = args.get(i) {
                out.push(split(word));
                i += 1;
            }
            while variadic
                && args
                    .get(i)
                    .is_some_and(|w| !w.starts_with('-') && w.contains('='))
            {
                out.push(split(&args[i]));
                i += 1;
            }
        }
    }
    out
}

/// pysonar: its named flags (`--sonar-project-key X`, `--sonar-project-key=X`), its declared
/// `-D` options (`-Dsonar.projectKey X` takes the next word, as argparse does), and any
/// other `-Dkey=value` (a bare `-Dkey` is `true`).
fn pysonar(args: &[String]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        let (flag, attached) = match arg.split_once('=') {
            Some((f, v)) => (f, Some(v.to_owned())),
            None => (arg.as_str(), None),
        };
        let named = PYSONAR_FLAGS
            .iter()
            .chain(&PYSONAR_DECLARED_ALIASES)
            .find(|(f, _)| *f == flag)
            .map(|(_, key)| (*key).to_owned())
            .or_else(|| {
                // Every property pysonar declares has a `-D<key>` spelling that takes the
                // next word; the ones that decide the target are in the table above.
                let key = flag.strip_prefix("-D")?;
                PYSONAR_FLAGS
                    .iter()
                    .any(|(_, k)| *k == key)
                    .then(|| key.to_owned())
            });
        match (named, attached) {
            (Some(key), Some(value)) => out.push((key, value)),
            (Some(key), None) => {
                if let Some(value) = args.get(i) {
                    out.push((key, value.clone()));
                    i += 1;
                }
            }
            (None, attached) => {
                if let Some(key) = flag.strip_prefix("-D").filter(|k| !k.is_empty()) {
                    out.push((key.to_owned(), attached.unwrap_or_else(|| "true".into())));
                }
            }
        }
    }
    out
}

/// The SonarScanner for .NET: `begin /k:KEY /o:ORG /d:key=value` (also `-k:`, `-o:`,
/// `-d:`, and the long `/key:`, `/organization:`); `end /d:sonar.token=...`.
fn dotnet(args: &[String]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for arg in args {
        let Some(body) = arg.strip_prefix('/').or_else(|| arg.strip_prefix('-')) else {
            continue;
        };
        let Some((name, value)) = body.split_once(':') else {
            continue;
        };
        match name.to_ascii_lowercase().as_str() {
            "k" | "key" => out.push(("sonar.projectKey".into(), value.to_owned())),
            "o" | "organization" => out.push(("sonar.organization".into(), value.to_owned())),
            "d" => {
                if let Some((k, v)) = value.split_once('=') {
                    out.push((k.to_owned(), v.to_owned()));
                }
            }
            _ => {}
        }
    }
    out
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
                kv(&[("sonar.projectKey", "a"), ("sonar.organization", "o")]),
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
                kv(&[("sonar.projectKey", "a"), ("sonar.branch.name", "b")]),
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
}
