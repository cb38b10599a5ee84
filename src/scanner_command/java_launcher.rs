//! The command lines of the launchers built on SonarSource's Java scanner library: the
//! SonarScanner CLI (`sonar-scanner`), Maven (`mvn ... sonar:sonar`) and Gradle
//! (`./gradlew sonar`). None of their parsers can be installed here, so each is modelled on
//! its documented rules and tested against them (docs/scanner-configuration.md):
//! - the SonarScanner CLI (`org.sonarsource.scanner.cli.Cli`): `-D key=value`,
//!   `--define key=value`, `-Dkey=value`; a key without `=` is `true`; `-X`/`--debug` sets
//!   `sonar.verbose`; `-e` and `--embedded` are accepted; a first word without `-` is the
//!   task (`sonar.task`); `-h`, `-v` print and exit; any other word stops it with
//!   "Unrecognized option";
//! - Maven (commons-cli, `-D,--define <arg>`): the same `-D` forms, `--define=key=value`, and a
//!   unique prefix of a long option (`--def` is `--define`); options that take a value step
//!   over it;
//! - Gradle (`-D,--system-prop`): `-Dkey=value`, `-D key=value`, `--system-prop key=value`,
//!   `--system-prop=key=value`. A `sonar.` project property (`-P`) is refused: which of the
//!   plugin's sources reads it is not modelled.
//!
//! The last definition of a key wins, as in `java.util.Properties`. This module only reads.

use super::{Props, Unplaced};

fn split(word: &str) -> (String, String) {
    match word.split_once('=') {
        Some((k, v)) => (k.to_owned(), v.to_owned()),
        None => (word.to_owned(), "true".to_owned()),
    }
}

/// The SonarScanner CLI.
pub fn scanner_cli(args: &[String]) -> Result<Props, Unplaced> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_str();
        match arg {
            "-h" | "--help" | "-v" | "--version" => {
                return Err(Unplaced::at(
                    i,
                    "the SonarScanner CLI prints its help or version and exits",
                ))
            }
            "-e" | "--errors" | "--embedded" => {}
            task if i == 0 && !task.starts_with('-') => {
                out.push(("sonar.task".into(), task.to_owned()));
            }
            "-X" | "--debug" => out.push(("sonar.verbose".into(), "true".into())),
            "-D" | "--define" => {
                let Some(word) = args.get(i + 1) else {
                    return Err(Unplaced::at(i, "-D/--define needs a key=value after it"));
                };
                out.push(split(word));
                i += 1;
            }
            _ => match arg.strip_prefix("-D") {
                Some(word) => out.push(split(word)),
                None => {
                    return Err(Unplaced::at(
                        i,
                        "the SonarScanner CLI stops at an option it does not know",
                    ))
                }
            },
        }
        i += 1;
    }
    Ok(out)
}

/// Maven options that take the next word as their value (Maven 3.9 `CLIManager`).
const MAVEN_VALUED: &[&str] = &[
    "-f",
    "--file",
    "-s",
    "--settings",
    "-gs",
    "--global-settings",
    "-t",
    "--toolchains",
    "-gt",
    "--global-toolchains",
    "-l",
    "--log-file",
    "-P",
    "--activate-profiles",
    "-pl",
    "--projects",
    "-rf",
    "--resume-from",
    "-T",
    "--threads",
    "-b",
    "--builder",
    "-emp",
    "--encrypt-master-password",
    "-ep",
    "--encrypt-password",
    "--color",
];

/// Maven's long options that start with `--de`: a prefix of `--define` is only unique from
/// `--def` on.
const MAVEN_DE: &[&str] = &["--define", "--debug"];

/// Maven: `-D` forms; returns the properties and whether a sonar goal is among the words.
pub fn maven(args: &[String]) -> Result<(Props, bool), Unplaced> {
    let mut out = Vec::new();
    let mut goal = false;
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_str();
        let (name, attached) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v)),
            _ => (arg, None),
        };
        if name.starts_with("--") && name.len() > 2 && "--define".starts_with(name) {
            let matches = MAVEN_DE.iter().filter(|o| o.starts_with(name)).count();
            if matches != 1 {
                return Err(Unplaced::at(
                    i,
                    "Maven reads a unique prefix of a long option, and this one could be --define or --debug",
                ));
            }
            match attached {
                Some(word) => out.push(split(word)),
                None => {
                    let Some(word) = args.get(i + 1) else {
                        return Err(Unplaced::at(i, "--define needs a key=value after it"));
                    };
                    out.push(split(word));
                    i += 1;
                }
            }
        } else if arg == "-D" {
            let Some(word) = args.get(i + 1) else {
                return Err(Unplaced::at(i, "-D needs a key=value after it"));
            };
            out.push(split(word));
            i += 1;
        } else if let Some(word) = arg.strip_prefix("-D") {
            out.push(split(word));
        } else if MAVEN_VALUED.contains(&arg) {
            i += 1;
        } else if !arg.starts_with('-') && is_sonar_goal(arg) {
            goal = true;
        }
        i += 1;
    }
    Ok((out, goal))
}

/// `sonar:sonar`, or the plugin's coordinates: `org.sonarsource.scanner.maven:sonar-maven-plugin[:version]:sonar`.
fn is_sonar_goal(word: &str) -> bool {
    word == "sonar:sonar"
        || (word.starts_with("org.sonarsource.scanner.maven:sonar-maven-plugin:")
            && word.ends_with(":sonar"))
}

/// Gradle options that take the next word as their value.
const GRADLE_VALUED: &[&str] = &[
    "-b",
    "--build-file",
    "-c",
    "--settings-file",
    "-g",
    "--gradle-user-home",
    "-p",
    "--project-dir",
    "-I",
    "--init-script",
    "-x",
    "--exclude-task",
    "--console",
    "--warning-mode",
    "--include-build",
    "--max-workers",
    "--priority",
    "-F",
    "--dependency-verification",
    "-M",
    "--write-verification-metadata",
    "--project-cache-dir",
];

/// Gradle: `-D`/`--system-prop` forms; returns the properties and whether a `sonar` or
/// `sonarqube` task is among the words.
pub fn gradle(args: &[String]) -> Result<(Props, bool), Unplaced> {
    let mut out = Vec::new();
    let mut task = false;
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_str();
        let next = |i: usize| {
            args.get(i + 1)
                .ok_or_else(|| Unplaced::at(i, "this option needs a value after it"))
        };
        if arg == "-D" || arg == "--system-prop" {
            out.push(split(next(i)?));
            i += 1;
        } else if let Some(word) = arg.strip_prefix("--system-prop=") {
            out.push(split(word));
        } else if let Some(word) = arg.strip_prefix("-D") {
            out.push(split(word));
        } else if arg == "-P" || arg == "--project-prop" {
            if next(i)?.starts_with("sonar.") {
                return Err(Unplaced::at(i + 1, "a sonar. project property: scantoken does not model which of the Gradle plugin's sources reads it"));
            }
            i += 1;
        } else if arg
            .strip_prefix("-P")
            .or_else(|| arg.strip_prefix("--project-prop="))
            .is_some_and(|w| w.starts_with("sonar."))
        {
            return Err(Unplaced::at(i, "a sonar. project property: scantoken does not model which of the Gradle plugin's sources reads it"));
        } else if GRADLE_VALUED.contains(&arg) {
            i += 1;
        } else if !arg.starts_with('-') {
            let name = arg.rsplit(':').next().unwrap_or(arg);
            task |= name == "sonar" || name == "sonarqube";
        }
        i += 1;
    }
    Ok((out, task))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    fn kv(pairs: &[(&str, &str)]) -> Props {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn scanner_cli_forms() {
        assert_eq!(
            scanner_cli(&args(&[
                "-X", "-D", "a=1", "--define", "b", "-Dc=x=y", "-e"
            ]))
            .unwrap(),
            kv(&[
                ("sonar.verbose", "true"),
                ("a", "1"),
                ("b", "true"),
                ("c", "x=y")
            ])
        );
        assert_eq!(
            scanner_cli(&args(&["scan", "--embedded", "-Da=1"])).unwrap(),
            kv(&[("sonar.task", "scan"), ("a", "1")])
        );
        for bad in [
            &["-D"][..],
            &["--define=a=1"],
            &["-Da=1", "a=1"],
            &["-v"],
            &["-Q"],
        ] {
            assert!(scanner_cli(&args(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn maven_forms_and_goals() {
        let (p, goal) = maven(&args(&[
            "-f",
            "-Dnot=read",
            "--def=a=1",
            "--define",
            "b=2",
            "-D",
            "c",
            "-Dd=4",
            "verify",
            "org.sonarsource.scanner.maven:sonar-maven-plugin:5.0.0.4389:sonar",
        ]))
        .unwrap();
        assert_eq!(p, kv(&[("a", "1"), ("b", "2"), ("c", "true"), ("d", "4")]));
        assert!(goal);
        assert!(!maven(&args(&["verify"])).unwrap().1);
        assert!(maven(&args(&["--de", "a=1"])).is_err());
        assert!(maven(&args(&["--defined=x"])).unwrap().0.is_empty());
    }

    #[test]
    fn gradle_forms_and_tasks() {
        let (p, task) = gradle(&args(&[
            "-p",
            "-Dnot=read",
            "--system-prop",
            "a=1",
            "--system-prop=b=2",
            "-Dc",
            ":app:sonarqube",
        ]))
        .unwrap();
        assert_eq!(p, kv(&[("a", "1"), ("b", "2"), ("c", "true")]));
        assert!(task);
        assert!(gradle(&args(&["-Psonar.projectKey=x", "sonar"])).is_err());
        assert!(gradle(&args(&["-P", "sonar.token=x"])).is_err());
        assert!(gradle(&args(&["-Pother=x", "build"])).is_ok());
    }
}
