//! pysonar's command line, read by the rules of the library it parses with: Python's
//! argparse (CPython 3.11's `Lib/argparse.py`, `parse_known_args`, with pysonar 1.10's parser
//! from `pysonar_scanner/configuration/cli.py`: `allow_abbrev=False`), then pysonar's own step
//! over what argparse left (`CliConfigurationLoader.load`).
//!
//! argparse's rules, as `_parse_optional`, `_get_option_tuples` and `consume_optional` apply
//! them: an exact option name; `name=value` when `name` is an option; for a single-dash word,
//! a declared option of which it is a prefix (`allow_abbrev=False` turns prefixes off only for
//! `--` options in 3.11), or a one-letter option with its value attached (`-t<value>`); more
//! than one match is an error. A one-letter flag with more attached is a cluster (`-vt<value>`),
//! and so is any single-dash flag given `=value` (`-Dsonar.verbose=tX` is `-Dsonar.verbose`,
//! then `-t X`). A value-taking option takes the next word unless it looks like an option
//! or is `--`. What argparse does not place is left over; pysonar applies each
//! left-over `-Dkey[=value]` after every declared option (so `-Dsonar.scanner.sonarcloudUrl=X`
//! beats `--sonar-scanner-cloud-url Y`) and stops with an error at any other left-over word.
//! An argparse or pysonar error means the scan never starts: an [`Unplaced`] argument, which `run` refuses.
//!
//! The table of declared options below was listed from pysonar 1.10.0.5888's own parser;
//! tests/differential.rs checks it against that parser (tests/differential/pysonar_options.py).

use super::{Props, Unplaced};

/// How a declared option takes its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// `--help`, `--version`: prints and exits.
    Exit,
    /// No value (store_true, BooleanOptionalAction: `--no-x` sets false).
    Flag,
    /// One value, any text.
    Text,
    /// One value, a Python int.
    Int,
    /// One value, `true` or `false` in any case (pysonar's `parse_bool`).
    Boolean,
    /// One value among these.
    Choice(&'static [&'static str]),
}

struct Declared {
    names: &'static [&'static str],
    property: &'static str,
    kind: Kind,
}

#[rustfmt::skip]
const DECLARED: &[Declared] = &[
    Declared { names: &["-h", "--help"], property: "", kind: Kind::Exit },
    Declared { names: &["--version"], property: "", kind: Kind::Exit },
    Declared { names: &["-t", "--token", "--sonar-token", "-Dsonar.token"], property: "sonar.token", kind: Kind::Text },
    Declared { names: &["--sonar-project-key", "--project-key", "-Dsonar.projectKey"], property: "sonar.projectKey", kind: Kind::Text },
    Declared { names: &["--sonar-project-name", "-Dsonar.projectName"], property: "sonar.projectName", kind: Kind::Text },
    Declared { names: &["--sonar-sources", "-Dsonar.sources"], property: "sonar.sources", kind: Kind::Text },
    Declared { names: &["--sonar-tests", "-Dsonar.tests"], property: "sonar.tests", kind: Kind::Text },
    Declared { names: &["--sonar-project-base-dir", "-Dsonar.projectBaseDir"], property: "sonar.projectBaseDir", kind: Kind::Text },
    Declared { names: &["--sonar-external-issues-report-paths", "-Dsonar.externalIssuesReportPaths"], property: "sonar.externalIssuesReportPaths", kind: Kind::Text },
    Declared { names: &["--sonar-sarif-report-paths", "-Dsonar.sarifReportPaths"], property: "sonar.sarifReportPaths", kind: Kind::Text },
    Declared { names: &["--sonar-links-ci", "-Dsonar.links.ci"], property: "sonar.links.ci", kind: Kind::Text },
    Declared { names: &["--sonar-links-homepage", "-Dsonar.links.homepage"], property: "sonar.links.homepage", kind: Kind::Text },
    Declared { names: &["--sonar-links-issue", "-Dsonar.links.issue"], property: "sonar.links.issue", kind: Kind::Text },
    Declared { names: &["--sonar-source-encoding", "-Dsonar.sourceEncoding"], property: "sonar.sourceEncoding", kind: Kind::Text },
    Declared { names: &["--toml-path"], property: "toml-path", kind: Kind::Text },
    Declared { names: &["--sonar-project-version", "-Dsonar.projectVersion"], property: "sonar.projectVersion", kind: Kind::Text },
    Declared { names: &["--sonar-project-description", "-Dsonar.projectDescription"], property: "sonar.projectDescription", kind: Kind::Text },
    Declared { names: &["--sonar-python-version", "-Dsonar.python.version"], property: "sonar.python.version", kind: Kind::Text },
    Declared { names: &["--sonar-modules", "-Dsonar.modules"], property: "sonar.modules", kind: Kind::Text },
    Declared { names: &["--sonar-python-analysis-parallel", "--no-sonar-python-analysis-parallel", "--analysis-in-parallel", "--no-analysis-in-parallel", "-Dsonar.python.analysis.parallel"], property: "sonar.python.analysis.parallel", kind: Kind::Flag },
    Declared { names: &["--sonar-python-analysis-threads", "--nr-analysis-threads", "-Dsonar.python.analysis.threads"], property: "sonar.python.analysis.threads", kind: Kind::Int },
    Declared { names: &["--sonar-host-url", "-Dsonar.host.url"], property: "sonar.host.url", kind: Kind::Text },
    Declared { names: &["--sonar-region", "-Dsonar.region"], property: "sonar.region", kind: Kind::Choice(&["us"]) },
    Declared { names: &["--sonar-organization", "-Dsonar.organization"], property: "sonar.organization", kind: Kind::Text },
    Declared { names: &["--sonar-scanner-cloud-url", "-Dsonar.scanner.cloudUrl"], property: "sonar.scanner.sonarcloudUrl", kind: Kind::Text },
    Declared { names: &["--sonar-scanner-api-url", "-Dsonar.scanner.apiUrl"], property: "sonar.scanner.apiBaseUrl", kind: Kind::Text },
    Declared { names: &["--sonar-scanner-connect-timeout", "-Dsonar.scanner.connectTimeout"], property: "sonar.scanner.connectTimeout", kind: Kind::Int },
    Declared { names: &["--sonar-scanner-socket-timeout", "-Dsonar.scanner.socketTimeout"], property: "sonar.scanner.socketTimeout", kind: Kind::Int },
    Declared { names: &["--sonar-scanner-response-timeout", "-Dsonar.scanner.responseTimeout"], property: "sonar.scanner.responseTimeout", kind: Kind::Int },
    Declared { names: &["-v", "--verbose", "--no-verbose", "--sonar-verbose", "--no-sonar-verbose", "-Dsonar.verbose"], property: "sonar.verbose", kind: Kind::Flag },
    Declared { names: &["--sonar-user-home", "-Dsonar.userHome"], property: "sonar.userHome", kind: Kind::Text },
    Declared { names: &["--sonar-scanner-os", "-Dsonar.scanner.os"], property: "sonar.scanner.os", kind: Kind::Choice(&["windows", "linux", "macos", "alpine"]) },
    Declared { names: &["--sonar-scanner-arch", "-Dsonar.scanner.arch"], property: "sonar.scanner.arch", kind: Kind::Choice(&["x64", "aarch64"]) },
    Declared { names: &["--sonar-scanner-metadata-filepath", "-Dsonar.scanner.metadataFilepath"], property: "sonar.scanner.metadataFilePath", kind: Kind::Text },
    Declared { names: &["--sonar-scanner-internal-dump-to-file", "-Dsonar.scanner.internal.dumpToFile"], property: "sonar.scanner.internal.dumpToFile", kind: Kind::Text },
    Declared { names: &["--sonar-scanner-internal-sq-version", "-Dsonar.scanner.internal.sqVersion"], property: "sonar.scanner.internal.sqVersion", kind: Kind::Text },
    Declared { names: &["--sonar-scm-exclusions-disabled", "--no-sonar-scm-exclusions-disabled"], property: "sonar.scm.exclusions.disabled", kind: Kind::Flag },
    Declared { names: &["-Dsonar.scm.exclusions.disabled"], property: "sonar.scm.exclusions.disabled", kind: Kind::Boolean },
    Declared { names: &["--sonar-filesize-limit", "-Dsonar.filesize.limit"], property: "sonar.filesize.limit", kind: Kind::Int },
    Declared { names: &["--sonar-cpd-py-minimum-tokens", "-Dsonar.cpd.py.minimumTokens", "--sonar-cpd-python-minimum-tokens", "-Dsonar.cpd.python.minimumTokens"], property: "sonar.cpd.py.minimumTokens", kind: Kind::Int },
    Declared { names: &["--sonar-cpd-py-minimum-lines", "-Dsonar.cpd.py.minimumLines", "--sonar-cpd-python-minimum-lines", "-Dsonar.cpd.python.minimumLines"], property: "sonar.cpd.py.minimumLines", kind: Kind::Int },
    Declared { names: &["--sonar-log-level", "-Dsonar.log.level"], property: "sonar.log.level", kind: Kind::Choice(&["TRACE", "DEBUG", "INFO", "WARN", "ERROR"]) },
    Declared { names: &["--sonar-qualitygate-wait", "--no-sonar-qualitygate-wait"], property: "sonar.qualitygate.wait", kind: Kind::Flag },
    Declared { names: &["-Dsonar.qualitygate.wait"], property: "sonar.qualitygate.wait", kind: Kind::Boolean },
    Declared { names: &["--sonar-qualitygate-timeout", "-Dsonar.qualitygate.timeout"], property: "sonar.qualitygate.timeout", kind: Kind::Int },
    Declared { names: &["--sonar-build-string", "-Dsonar.buildString"], property: "sonar.buildString", kind: Kind::Text },
    Declared { names: &["--sonar-working-directory", "-Dsonar.working.directory"], property: "sonar.working.directory", kind: Kind::Text },
    Declared { names: &["--sonar-scm-force-reload-all", "--no-sonar-scm-force-reload-all"], property: "sonar.scm.forceReloadAll", kind: Kind::Flag },
    Declared { names: &["-Dsonar.scm.forceReloadAll"], property: "sonar.scm.forceReloadAll", kind: Kind::Boolean },
    Declared { names: &["--sonar-python-skip-unchanged", "--no-sonar-python-skip-unchanged"], property: "sonar.python.skipUnchanged", kind: Kind::Flag },
    Declared { names: &["--sonar-python-test-file-heuristic-disabled", "--no-sonar-python-test-file-heuristic-disabled"], property: "sonar.python.testFileHeuristic.disabled", kind: Kind::Flag },
    Declared { names: &["-Dsonar.python.testFileHeuristic.disabled"], property: "sonar.python.testFileHeuristic.disabled", kind: Kind::Boolean },
    Declared { names: &["--dry-run", "--no-dry-run"], property: "sonar.scanner.dryRun", kind: Kind::Flag },
    Declared { names: &["--skip-jre-provisioning", "-Dsonar.scanner.skipJreProvisioning"], property: "sonar.scanner.skipJreProvisioning", kind: Kind::Flag },
    Declared { names: &["--sonar-scanner-java-exe-path", "-Dsonar.scanner.javaExePath"], property: "sonar.scanner.javaExePath", kind: Kind::Text },
    Declared { names: &["--sonar-scanner-java-opts", "-Dsonar.scanner.javaOpts"], property: "sonar.scanner.javaOpts", kind: Kind::Text },
    Declared { names: &["--sonar-scanner-java-heap-size", "--java-heap-size", "-Dsonar.scanner.javaHeapSize"], property: "sonar.scanner.javaHeapSize", kind: Kind::Text },
    Declared { names: &["--sonar-scanner-engine-jar-path", "-Dsonar.scanner.engineJarPath"], property: "sonar.scanner.engineJarPath", kind: Kind::Text },
    Declared { names: &["--sonar-scanner-truststore-path", "-Dsonar.scanner.truststorePath"], property: "sonar.scanner.truststorePath", kind: Kind::Text },
    Declared { names: &["--sonar-scanner-truststore-password", "-Dsonar.scanner.truststorePassword"], property: "sonar.scanner.truststorePassword", kind: Kind::Text },
    Declared { names: &["--sonar-scanner-keystore-path", "-Dsonar.scanner.keystorePath"], property: "sonar.scanner.keystorePath", kind: Kind::Text },
    Declared { names: &["--sonar-scanner-keystore-password", "-Dsonar.scanner.keystorePassword"], property: "sonar.scanner.keystorePassword", kind: Kind::Text },
    Declared { names: &["--sonar-scanner-proxy-host", "-Dsonar.scanner.proxyHost"], property: "sonar.scanner.proxyHost", kind: Kind::Text },
    Declared { names: &["--sonar-scanner-proxy-port", "-Dsonar.scanner.proxyPort"], property: "sonar.scanner.proxyPort", kind: Kind::Int },
    Declared { names: &["--sonar-scanner-proxy-user", "-Dsonar.scanner.proxyUser"], property: "sonar.scanner.proxyUser", kind: Kind::Text },
    Declared { names: &["--sonar-scanner-proxy-password", "-Dsonar.scanner.proxyPassword"], property: "sonar.scanner.proxyPassword", kind: Kind::Text },
    Declared { names: &["--sonar-links-scm", "-Dsonar.links.scm"], property: "sonar.links.scm", kind: Kind::Text },
    Declared { names: &["--sonar-branch-name", "-Dsonar.branch.name"], property: "sonar.branch.name", kind: Kind::Text },
    Declared { names: &["--sonar-pullrequest-key", "-Dsonar.pullrequest.key"], property: "sonar.pullrequest.key", kind: Kind::Text },
    Declared { names: &["--sonar-pullrequest-branch", "-Dsonar.pullrequest.branch"], property: "sonar.pullrequest.branch", kind: Kind::Text },
    Declared { names: &["--sonar-pullrequest-base", "-Dsonar.pullrequest.base"], property: "sonar.pullrequest.base", kind: Kind::Text },
    Declared { names: &["--sonar-newcode-reference-branch", "-Dsonar.newCode.referenceBranch"], property: "sonar.newCode.referenceBranch", kind: Kind::Text },
    Declared { names: &["--sonar-scm-revision", "-Dsonar.scm.revision"], property: "sonar.scm.revision", kind: Kind::Text },
    Declared { names: &["--sonar-python-pylint-report-path", "--pylint-report-path", "-Dsonar.python.pylint.reportPath"], property: "sonar.python.pylint.reportPath", kind: Kind::Text },
    Declared { names: &["--sonar-python-coverage-report-paths", "--coverage-report-paths", "-Dsonar.python.coverage.reportPaths"], property: "sonar.python.coverage.reportPaths", kind: Kind::Text },
    Declared { names: &["--sonar-coverage-exclusions", "--sonar.coverage.exclusions", "-Dsonar.coverage.exclusions"], property: "sonar.coverage.exclusions", kind: Kind::Text },
    Declared { names: &["-Dsonar.python.skipUnchanged"], property: "sonar.python.skipUnchanged", kind: Kind::Boolean },
    Declared { names: &["--sonar-python-xunit-report-path", "--xunit-report-path", "-Dsonar.python.xunit.reportPath"], property: "sonar.python.xunit.reportPath", kind: Kind::Text },
    Declared { names: &["--sonar-python-xunit-skip-details", "--no-sonar-python-xunit-skip-details", "--xunit-skip-details", "--no-xunit-skip-details"], property: "sonar.python.xunit.skipDetails", kind: Kind::Flag },
    Declared { names: &["-Dsonar.python.xunit.skipDetails"], property: "sonar.python.xunit.skipDetails", kind: Kind::Boolean },
    Declared { names: &["--sonar-python-mypy-report-paths", "--mypy-report-paths", "-Dsonar.python.mypy.reportPaths"], property: "sonar.python.mypy.reportPaths", kind: Kind::Text },
    Declared { names: &["--sonar-python-bandit-report-paths", "--bandit-report-paths", "-Dsonar.python.bandit.reportPaths"], property: "sonar.python.bandit.reportPaths", kind: Kind::Text },
    Declared { names: &["--sonar-python-flake8-report-paths", "--flake8-report-paths", "-Dsonar.python.flake8.reportPaths"], property: "sonar.python.flake8.reportPaths", kind: Kind::Text },
    Declared { names: &["--sonar-python-ruff-report-paths", "--ruff-report-paths", "-Dsonar.python.ruff.reportPaths"], property: "sonar.python.ruff.reportPaths", kind: Kind::Text },
];

/// The declared options, for the check against pysonar's own parser: each option's names,
/// whether it takes a value, and the property it sets (empty for help and version).
pub fn declared() -> Vec<(Vec<&'static str>, bool, &'static str)> {
    DECLARED
        .iter()
        .map(|d| {
            let takes_value = !matches!(d.kind, Kind::Exit | Kind::Flag);
            (d.names.to_vec(), takes_value, d.property)
        })
        .collect()
}

/// What argparse made of one word that looks like an option.
enum Parsed {
    /// A declared option, by the spelling matched, with a value attached (`=v`, `-tv`).
    Option(&'static Declared, &'static str, Option<String>),
    /// Looks like an option, but none is declared: left over.
    Unknown,
}

fn find_exact(name: &str) -> Option<(&'static Declared, &'static str)> {
    DECLARED
        .iter()
        .find_map(|d| d.names.iter().find(|n| **n == name).map(|n| (d, *n)))
}

/// argparse's `_parse_optional`: `None` for a positional word, `Err` for an ambiguous one.
fn parse_optional(arg: &str) -> Result<Option<Parsed>, String> {
    if !arg.starts_with('-') {
        return Ok(None);
    }
    if let Some((d, n)) = find_exact(arg) {
        return Ok(Some(Parsed::Option(d, n, None)));
    }
    if arg.len() == 1 {
        return Ok(None);
    }
    if let Some((name, value)) = arg.split_once('=') {
        if let Some((d, n)) = find_exact(name) {
            return Ok(Some(Parsed::Option(d, n, Some(value.to_owned()))));
        }
    }
    // `_get_option_tuples`: with allow_abbrev=False, none for `--` words.
    let mut tuples: Vec<(&'static Declared, &'static str, Option<String>)> = Vec::new();
    if !arg.starts_with("--") {
        let short = arg.get(..2);
        for d in DECLARED {
            for n in d.names {
                if Some(*n) == short {
                    tuples.push((d, n, Some(arg[2..].to_owned())));
                } else if n.starts_with(arg) {
                    tuples.push((d, n, None));
                }
            }
        }
    }
    match tuples.len() {
        0 => {}
        1 => {
            let (d, n, v) = tuples.remove(0);
            return Ok(Some(Parsed::Option(d, n, v)));
        }
        _ => {
            let names: Vec<&str> = tuples.iter().map(|t| t.1).collect();
            return Err(format!(
                "argparse: ambiguous option, could match {}",
                names.join(", ")
            ));
        }
    }
    let negative = {
        let r = &arg[1..];
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        digits(r)
            || r.split_once('.')
                .is_some_and(|(a, b)| (a.is_empty() || digits(a)) && digits(b))
    };
    if negative || arg.contains(' ') {
        return Ok(None);
    }
    Ok(Some(Parsed::Unknown))
}

/// A Python `int()` of a text: optional sign, digits with single `_` between them.
fn python_int(value: &str) -> bool {
    let v = value.trim();
    let v = v.strip_prefix(['+', '-']).unwrap_or(v);
    !v.is_empty()
        && !v.starts_with('_')
        && !v.ends_with('_')
        && !v.contains("__")
        && v.chars().all(|c| c.is_ascii_digit() || c == '_')
}

/// Reads pysonar's arguments (after the program).
pub fn read(args: &[String]) -> Result<Props, Unplaced> {
    // The pre-scan: each word is an option ('O'), `--` ('-', the first only) or another ('A').
    let mut classes: Vec<Option<Parsed>> = Vec::with_capacity(args.len());
    let mut pattern: Vec<char> = Vec::with_capacity(args.len());
    let mut after_dashes = false;
    for (at, arg) in args.iter().enumerate() {
        if after_dashes {
            classes.push(None);
            pattern.push('A');
        } else if arg == "--" {
            after_dashes = true;
            classes.push(None);
            pattern.push('-');
        } else {
            match parse_optional(arg) {
                Err(why) => return Err(Unplaced::at(at, why)),
                Ok(None) => {
                    classes.push(None);
                    pattern.push('A');
                }
                Ok(Some(p)) => {
                    classes.push(Some(p));
                    pattern.push('O');
                }
            }
        }
    }
    let mut declared: Props = Vec::new();
    let mut extras: Vec<(usize, String)> = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let Some(parsed) = classes[i].take() else {
            extras.push((i, args[i].clone()));
            i += 1;
            continue;
        };
        let Parsed::Option(mut d, mut name, mut attached) = parsed else {
            extras.push((i, args[i].clone()));
            i += 1;
            continue;
        };
        let at = i;
        i += 1;
        loop {
            let takes_value = !matches!(d.kind, Kind::Exit | Kind::Flag);
            let value = match attached.take() {
                Some(v) if takes_value => v,
                Some(v) => {
                    // A single-dash flag with more attached: a cluster of one-letter options.
                    if name.starts_with("--") || v.is_empty() {
                        return Err(Unplaced::at(at, format!("argparse: {name} takes no value")));
                    }
                    apply(d, name, None, &mut declared);
                    if d.kind == Kind::Exit {
                        return Err(Unplaced::at(
                            at,
                            "pysonar prints its help or version and exits",
                        ));
                    }
                    let mut chars = v.chars();
                    let first = chars.next().unwrap_or_default();
                    let rest = chars.as_str();
                    let Some((next, next_name)) = find_exact(&format!("-{first}")) else {
                        return Err(Unplaced::at(at, format!("argparse: {name} takes no value")));
                    };
                    (d, name) = (next, next_name);
                    attached = (!rest.is_empty()).then(|| rest.to_owned());
                    continue;
                }
                None => {
                    // An option's value is the next word, if argparse took it for no
                    // option (`--` is never a value: argparse drops `-*` from an option's
                    // pattern); a flag takes nothing.
                    if takes_value {
                        if pattern.get(i) != Some(&'A') {
                            return Err(Unplaced::at(
                                at,
                                format!("argparse: {name} expects one argument"),
                            ));
                        }
                        i += 1;
                        args[i - 1].clone()
                    } else {
                        apply(d, name, None, &mut declared);
                        if d.kind == Kind::Exit {
                            return Err(Unplaced::at(
                                at,
                                "pysonar prints its help or version and exits",
                            ));
                        }
                        break;
                    }
                }
            };
            if let Some(why) = apply(d, name, Some(value), &mut declared) {
                return Err(Unplaced::at(at, why));
            }
            break;
        }
    }
    // pysonar's step over what argparse left: `-Dkey[=value]`, applied after every
    // declared option; anything else stops it.
    let mut undeclared: Props = Vec::new();
    for (at, e) in extras {
        let Some(body) = e.strip_prefix("-D") else {
            return Err(Unplaced::at(
                at,
                "pysonar stops at an argument it does not know (not -D)",
            ));
        };
        let (k, v) = body.split_once('=').unwrap_or((body, "true"));
        undeclared.push((k.to_owned(), v.to_owned()));
    }
    // Declared options: the last of each property wins, as in argparse's namespace.
    declared.extend(undeclared);
    Ok(declared)
}

/// Stores a declared option's value (`None` for a flag); `Some(why)` when argparse
/// refuses the value.
fn apply(d: &Declared, name: &str, value: Option<String>, out: &mut Props) -> Option<String> {
    let value = match (d.kind, value) {
        (Kind::Exit, _) => return None,
        (Kind::Flag, _) => (!name.starts_with("--no-")).to_string(),
        (Kind::Text, Some(v)) => v,
        (Kind::Int, Some(v)) => {
            if !python_int(&v) {
                return Some(format!("argparse: {name} takes an integer"));
            }
            v
        }
        (Kind::Boolean, Some(v)) => match v.to_ascii_lowercase().as_str() {
            "true" => "true".to_owned(),
            "false" => "false".to_owned(),
            _ => return Some(format!("argparse: {name} takes true or false")),
        },
        (Kind::Choice(choices), Some(v)) => {
            if !choices.contains(&v.as_str()) {
                return Some(format!(
                    "argparse: {name} takes one of {}",
                    choices.join(", ")
                ));
            }
            v
        }
        (_, None) => return Some(format!("argparse: {name} expects one argument")),
    };
    out.push((d.property.to_owned(), value));
    None
}
