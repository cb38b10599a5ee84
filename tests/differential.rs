//! Differential tests: scantoken's models of the bootstrappers' parsers against the real
//! parsers (issue 21). A generated corpus of command lines (fixed seed; options, clusters,
//! prefixes, `-D` forms, `--`, positional words) is read by
//! - @sonar/scan 5.0.1's own commander program and its own `getProperties`, in one node
//!   process (tests/differential/sonar_scan_cli.mjs),
//! - pysonar 1.10.0.5888's own CLI loader (argparse, then its step over left-over `-D`), in one
//!   Python process (tests/differential/pysonar_cli.py),
//! - and `scantoken::scanner_command::read`.
//!
//! For every line: scantoken refuses it, or both accept it and agree on every property that
//! decides the target (project key, host, organization, region, Cloud URLs, branch and pull
//! request, revision, base directory, token). A line the real parser stops at must be refused.
//! The seed, the size and the counts are kept in docs/testing.md. The real bootstrappers are
//! those scripts/test.sh installs (on PATH, or in target/tools): missing is a failure.

use scantoken::scanner_command::{self, TARGET_KEYS};
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const SEED: u64 = 0x5ca7_70c3_0000_0021;
const LINES: usize = 1000;

/// splitmix64: a fixed, dependency-free sequence.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// Units both bootstrappers may meet (an option with its value is one unit): `-D` forms,
/// clusters, values, and some that a parser stops at (`-Q`, a stray word, `--`).
const COMMON: &[&[&str]] = &[
    &["-Dsonar.projectKey=other"],
    &["-Dsonar.projectKey=acme_app"],
    &["-Dsonar.organization=acme"],
    &["-Dsonar.host.url=https://sq.example.com"],
    &["-Dsonar.host.url=https://sq.example.com/"],
    &["-Dsonar.branch.name=feature/x"],
    &["-Dsonar.pullrequest.key=42"],
    &["-Dsonar.pullrequest.branch=fix"],
    &["-Dsonar.pullrequest.base=main"],
    &["-Dsonar.scm.revision=abc123"],
    &["-Dsonar.region=us"],
    &["-Dsonar.scanner.sonarcloudUrl=http://cloud.example"],
    &["-Dsonar.scanner.apiBaseUrl=http://api.example"],
    &["-Dsonar.sources=src"],
    &["-Dsonar.verbose=true"],
    &["-Dsonar.exclusions=a=b"],
    &["-X"],
    &["-Dsonar.projectKey="],
    &["-Dsonar.projectKey"],
    &["-Dsonar.token=T0KEN"],
    &["-Dsonar.login=T0KEN"],
    &["-Dsonar.tok", "T0KEN"],
    &["-Dsonar.projectK", "k3"],
    &["-Dsonar.p", "x"],
    &["-XDsonar.projectKey=c1"],
    &["-XDsonar.token=T0KEN"],
    &["-v"],
    &["--"],
    &["other"],
    &["-5"],
    &["-Q"],
];

/// pysonar's own options, with values.
const PYSONAR: &[&[&str]] = &[
    &["--sonar-project-key", "p0"],
    &["--project-key", "p1"],
    &["--project-key=p2"],
    &["--sonar-project-key=p3"],
    &["-Dsonar.projectKey", "p4"],
    &["--sonar-organization", "o1"],
    &["-Dsonar.organization", "o2"],
    &["-Dsonar.organiz", "o3"],
    &["--sonar-host-url", "http://h.example"],
    &["--sonar-host-url=http://h2.example"],
    &["--sonar-region", "us"],
    &["--sonar-region", "eu"],
    &["--sonar-scanner-cloud-url", "http://cloud2.example"],
    &["-Dsonar.scanner.cloudUrl", "http://cloud3.example"],
    &["--sonar-scanner-api-url=http://api2.example"],
    &["-Dsonar.scanner.apiUrl=http://api3.example"],
    &["--sonar-branch-name", "b2"],
    &["-Dsonar.branch.name", "b3"],
    &["--sonar-pullrequest-key", "7"],
    &["--sonar-scm-revision", "r2"],
    &["--sonar-project-base-dir", "."],
    &["--toml-path", "pyproject.toml"],
    &["--skip-jre-provisioning"],
    &["--sonar-scanner-proxy-port", "8080"],
    &["--sonar-scanner-proxy-port", "x"],
    &["--no-verbose"],
    &["--verbose"],
    &["-v"],
    &["--sonar-proj", "x"],
    &["-t", "T0KEN"],
    &["-tT0KEN"],
    &["-vtT0KEN"],
    &["--token", "T0KEN"],
    &["-Dsonar.verbose=tX"],
    &["-Dsonar.verbose=x"],
    &["--sonar-project-key"],
    &["-Dsonar.ho", "http://h4.example"],
    &["-Dsonar.pullrequest.k", "8"],
    &["-Dsonar.pullrequest.b", "x"],
    &["-tv"],
    &["-v", "-t", "-5"],
];

/// @sonar/scan's own options, with values: the variadic `-D`.
const NPM: &[&[&str]] = &[
    &["-D", "sonar.projectKey=v1"],
    &[
        "-D",
        "sonar.verbose",
        "sonar.scm.disabled",
        "sonar.projectKey=v2",
    ],
    &["-D", "sonar.branch.name=b1", "sonar.pullrequest.key=9"],
    &[
        "--define",
        "sonar.organization=o1",
        "sonar.host.url=https://h3.example",
    ],
    &["--define=sonar.scm.revision=r1"],
    &["-Dsonar.organization=o3"],
    &["-XDsonar.organization=o2"],
    &["-XXDsonar.projectKey=x2"],
    &["--debug"],
    &["-D", "-X"],
    &["-D"],
    &["sonar.projectKey=stray"],
    &["--help"],
    &["-Xv"],
    &["-XD", "sonar.projectKey=v3"],
    &["--define", "-Dsonar.projectKey=v4"],
    &["-D", "-5", "sonar.organization=o4"],
];

/// The corpus: each line 1 to 6 units, each unit from the shared or the scanner's own list.
fn corpus(own: &[&[&str]]) -> Vec<Vec<String>> {
    let mut rng = Rng(SEED);
    (0..LINES)
        .map(|_| {
            let n = 1 + (rng.next() % 6) as usize;
            let mut line = Vec::new();
            for _ in 0..n {
                let from = if rng.next() % 2 == 0 { COMMON } else { own };
                let unit = from[(rng.next() % from.len() as u64) as usize];
                line.extend(unit.iter().map(|w| w.to_string()));
            }
            line
        })
        .collect()
}

fn tools() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tools")
}

/// Runs a reader script over the corpus (one JSON array per line) and parses its answers.
fn real(mut command: Command, lines: &[Vec<String>]) -> Vec<serde_json::Value> {
    let home = tempfile::tempdir().unwrap();
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .current_dir(home.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap_or_else(|e| {
        panic!("cannot start {command:?} (./scripts/test.sh installs the tools): {e}")
    });
    let input: String = lines
        .iter()
        .map(|l| serde_json::to_string(l).unwrap() + "\n")
        .collect();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answers: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(answers.len(), lines.len());
    answers
}

#[derive(Debug, Default)]
struct Tally {
    agreed: usize,
    refused_both: usize,
    refused_by_scantoken_only: usize,
    disagreed: Vec<String>,
}

/// Compares each line's readings on every target key. `derived`: keys the real loader fills
/// in itself when the command line does not set them (@sonar/scan's host and API URLs), only
/// compared when the command line sets them. The real values are trimmed, and a host URL's
/// final slash stripped, as @sonar/scan's getProperties does.
fn compare(
    program: &[&str],
    lines: &[Vec<String>],
    answers: &[serde_json::Value],
    derived: &[&str],
) -> Tally {
    let mut tally = Tally::default();
    for (line, answer) in lines.iter().zip(answers) {
        let argv: Vec<OsString> = program
            .iter()
            .map(OsString::from)
            .chain(line.iter().map(OsString::from))
            .collect();
        let model = scanner_command::read(&argv);
        let real = answer.get("props").and_then(|p| p.as_object());
        match (model, real) {
            (Err(_), None) => tally.refused_both += 1,
            (Err(_), Some(_)) => tally.refused_by_scantoken_only += 1,
            (Ok(_), None) => tally.disagreed.push(format!(
                "{line:?}: the scanner stops ({}), scantoken read it",
                answer["error"]
            )),
            (Ok(cmd), Some(real)) => {
                let mut differs = Vec::new();
                for key in TARGET_KEYS {
                    let mine = cmd
                        .properties
                        .iter()
                        .rev()
                        .find(|(k, _)| k == key)
                        .map(|(_, v)| v.clone());
                    if mine.is_none() && derived.contains(&key) {
                        continue;
                    }
                    let theirs = real.get(key).and_then(|v| v.as_str()).map(str::to_owned);
                    let norm = |v: Option<String>| {
                        v.map(|v| {
                            let v = v.trim().to_owned();
                            if key == "sonar.host.url" && !derived.is_empty() {
                                v.strip_suffix('/').map(str::to_owned).unwrap_or(v)
                            } else {
                                v
                            }
                        })
                    };
                    if norm(mine.clone()) != norm(theirs.clone()) {
                        differs.push(format!("{key}: scantoken {mine:?}, scanner {theirs:?}"));
                    }
                }
                if differs.is_empty() {
                    tally.agreed += 1;
                } else {
                    tally
                        .disagreed
                        .push(format!("{line:?}: {}", differs.join("; ")));
                }
            }
        }
    }
    tally
}

fn report(name: &str, tally: &Tally) {
    eprintln!(
        "{name}: seed {SEED:#x}, {LINES} lines: {} agreed, {} refused by both, {} refused by scantoken alone, {} disagreed",
        tally.agreed,
        tally.refused_both,
        tally.refused_by_scantoken_only,
        tally.disagreed.len()
    );
    assert!(
        tally.disagreed.is_empty(),
        "{name}: {} lines read differently:\n{}",
        tally.disagreed.len(),
        tally.disagreed.join("\n")
    );
    // The corpus exercises both outcomes: a corpus the model refuses whole proves nothing.
    assert!(
        tally.agreed >= LINES / 10,
        "{name}: only {} lines agreed",
        tally.agreed
    );
    assert!(tally.refused_both > 0, "{name}");
}

#[test]
fn pysonar_reads_every_line_as_scantoken_does_or_scantoken_refuses() {
    let lines = corpus(PYSONAR);
    let python = ["python3", "python"]
        .iter()
        .map(|p| tools().join("venv/bin").join(p))
        .find(|p| p.exists())
        .expect("target/tools/venv: ./scripts/test.sh installs pysonar there");
    let mut command = Command::new(python);
    command.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/differential/pysonar_cli.py"));
    let answers = real(command, &lines);
    let tally = compare(&["pysonar"], &lines, &answers, &[]);
    report("pysonar", &tally);
}

/// The model's table of pysonar's declared options is pysonar's own: the same names, each
/// taking a value or not, setting the same property.
#[test]
fn the_argparse_model_declares_what_pysonar_declares() {
    let python = ["python3", "python"]
        .iter()
        .map(|p| tools().join("venv/bin").join(p))
        .find(|p| p.exists())
        .expect("target/tools/venv: ./scripts/test.sh installs pysonar there");
    let out = Command::new(python)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/differential/pysonar_options.py"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let real: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let real: Vec<(Vec<String>, bool, String)> = real
        .iter()
        .map(|o| {
            let names = o["names"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n.as_str().unwrap().to_owned())
                .collect();
            let property = o["property"].as_str().unwrap_or_default().to_owned();
            (names, o["takes_value"].as_bool().unwrap(), property)
        })
        .collect();
    let model: Vec<(Vec<String>, bool, String)> = scanner_command::argparse::declared()
        .into_iter()
        .map(|(names, takes_value, property)| {
            let names = names.into_iter().map(str::to_owned).collect();
            (names, takes_value, property.to_owned())
        })
        .collect();
    assert_eq!(model, real);
}

/// The commander model reads the options @sonar/scan's own program declares, no more, no less.
#[test]
fn the_commander_model_declares_what_sonar_scan_declares() {
    let modules = tools().join("npm/node_modules");
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/differential/sonar_scan_cli.mjs");
    let out = Command::new("node")
        .arg(&script)
        .arg(&modules)
        .arg("--options")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let real: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let model: Vec<serde_json::Value> = scanner_command::commander::DECLARED
        .iter()
        .map(|(short, long, value, variadic)| serde_json::json!([short, long, value, variadic]))
        .collect();
    assert_eq!(real, serde_json::Value::Array(model));
}

#[test]
fn sonar_scan_reads_every_line_as_scantoken_does_or_scantoken_refuses() {
    let lines = corpus(NPM);
    let modules = tools().join("npm/node_modules");
    assert!(
        modules.join("@sonar/scan/package.json").is_file(),
        "target/tools/npm: ./scripts/test.sh installs @sonar/scan there"
    );
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/differential/sonar_scan_cli.mjs");
    let mut command = Command::new("node");
    command.arg(&script).arg(&modules);
    let answers = real(command, &lines);
    let derived = [
        "sonar.host.url",
        "sonar.scanner.apiBaseUrl",
        "sonar.projectBaseDir",
    ];
    let tally = compare(&["sonar-scanner-npm"], &lines, &answers, &derived);
    report("@sonar/scan", &tally);
}
