//! Every writer against a reader that follows the CI's documented rules (docs/sonar-facts.md §6): the
//! GitHub runner's file commands, the Azure agent's logging commands, and real `bash` and
//! `dash` for the shell format. Hostile values must arrive intact and create nothing else.

mod support;

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use scantoken::ci::{CiKind, Context};
use scantoken::env::Env;
use scantoken::export::{self, Destinations, ExportSet, Format, Summary, Value, Variable};
use scantoken::scanner_config::ScannerConfig;
use secrecy::SecretString;
use std::collections::BTreeSet;
use support::{azure_agent, github_runner};

/// Pieces of text that have broken CI writers before: line breaks, escapes, delimiters,
/// command markers, quotes, shell syntax, non-ASCII.
const HOSTILE: &[&str] = &[
    "\n",
    "\r",
    "\r\n",
    "%",
    "%25",
    "%0A",
    "%AZP25",
    "%3B",
    "%5D",
    ";",
    "]",
    "[",
    "=",
    "<<",
    "'",
    "\"",
    "\\",
    "$",
    "`",
    "$(touch pwned)",
    "`touch pwned`",
    "ghadelimiter_",
    "EOF",
    "::",
    "::add-mask::",
    "##vso[",
    "##vso[task.setvariable variable=EVIL]x",
    "NAME<<EOF",
    " ",
    "\t",
    "é",
    "ß",
    "日本",
    "😀",
    "a",
    "Z",
    "0",
    "-",
    "_",
    ".",
    "{",
    "}",
    "!",
    "#",
    "&",
    "|",
    "*",
];

/// Token-safe pieces: no whitespace or control characters (a token is one word).
const HOSTILE_TOKEN: &[&str] = &[
    "%",
    "%25",
    "%0A",
    "%AZP25",
    ";",
    "]",
    "[",
    "=",
    "<<",
    "'",
    "\"",
    "\\",
    "$",
    "`",
    "::",
    "##vso[",
    "ghadelimiter_",
    "é",
    "😀",
    "sqco_",
    "a",
    "Z",
    "9",
];

fn hostile_value() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(HOSTILE), 0..12).prop_map(|v| v.concat())
}

fn hostile_token() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(HOSTILE_TOKEN), 1..12).prop_map(|v| v.concat())
}

const PLAIN_NAMES: [&str; 5] = [
    "SONAR_HOST_URL",
    "SONAR_REGION",
    "SONAR_ORGANIZATION",
    "SONAR_SCANNER_JSON_PARAMS",
    "SONARQUBE_SCANNER_PARAMS",
];

fn set_of(token: &str, values: &[String], warning: &str) -> ExportSet {
    let mut variables = vec![Variable {
        name: "SONAR_TOKEN",
        value: Value::Secret(SecretString::from(token.to_owned())),
    }];
    for (name, v) in PLAIN_NAMES.iter().zip(values) {
        variables.push(Variable {
            name,
            value: Value::Plain(v.clone()),
        });
    }
    ExportSet {
        variables,
        outputs: vec![
            ("project-key", values[0].clone()),
            ("host-url", values[1].clone()),
        ],
        properties: Default::default(),
        warnings: vec![warning.to_owned()],
    }
}

fn summary(verdict: &str) -> Summary {
    let env = Env::default();
    let settings = scantoken::settings::Settings::from_env(&env).unwrap();
    let target =
        scantoken::target::resolve(&settings.target, &env, &ScannerConfig::default()).unwrap();
    Summary {
        verdict: verdict.into(),
        message: "message".into(),
        context: Context::new(CiKind::Github),
        target,
        token: None,
        probes: vec![],
        failed: false,
    }
}

fn expected_pairs(set: &ExportSet) -> Vec<(String, String)> {
    set.variables
        .iter()
        .map(|v| (v.name.to_string(), v.value.expose().to_owned()))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// GITHUB_ENV read back by the runner's rules gives exactly our variables, and the
    /// token is masked before anything else is printed.
    #[test]
    fn github_env_round_trips(token in hostile_token(), values in prop::collection::vec(hostile_value(), 5), warning in hostile_value()) {
        let set = set_of(&token, &values, &warning);
        let dir = tempfile::tempdir().unwrap();
        let dest = Destinations {
            github_env: Some(dir.path().join("env")),
            github_output: Some(dir.path().join("out")),
            github_step_summary: Some(dir.path().join("summary")),
            ..Destinations::default()
        };
        let rendered = export::render(Format::Github, &set, &summary(&warning), &dest).unwrap();
        let mut stdout = Vec::new();
        export::commit(&rendered, &mut stdout).unwrap();
        let stdout = String::from_utf8(stdout).unwrap();

        let env_file = std::fs::read_to_string(dir.path().join("env")).unwrap();
        prop_assert_eq!(github_runner::parse_env_file(&env_file).unwrap(), expected_pairs(&set));

        let outputs = github_runner::parse_env_file(&std::fs::read_to_string(dir.path().join("out")).unwrap()).unwrap();
        let expected_outputs = vec![
            ("verdict".to_string(), warning.clone()),
            ("project-key".to_string(), values[0].clone()),
            ("host-url".to_string(), values[1].clone()),
        ];
        prop_assert_eq!(outputs, expected_outputs);

        // Masking: the very first line of stdout masks the token, so the runner hides it in
        // every line after, whatever those lines hold.
        let commands = github_runner::parse_workflow_commands(&stdout);
        prop_assert_eq!(commands[0].name.as_str(), "add-mask");
        prop_assert_eq!(commands[0].line, 0);
        prop_assert_eq!(commands[0].data.as_str(), token.as_str());
        let masked = github_runner::masked_values(&commands);
        prop_assert!(masked.contains(&token));
        // The warning is one annotation, its text intact.
        let warnings: Vec<_> = commands.iter().filter(|c| c.name == "warning").collect();
        prop_assert_eq!(warnings.len(), 1);
        prop_assert_eq!(warnings[0].data.as_str(), warning.as_str());
    }

    /// The Azure agent's reading of our logging commands: the same variables, the token
    /// secret and registered first, outputs marked as outputs, nothing else set.
    #[test]
    fn azure_commands_round_trip(token in hostile_token(), values in prop::collection::vec(hostile_value(), 5), verdict in hostile_value()) {
        let set = set_of(&token, &values, &verdict);
        let rendered = export::render(Format::Azure, &set, &summary(&verdict), &Destinations::default()).unwrap();
        let commands = azure_agent::parse_logging_commands(&rendered.stdout);
        let vars = azure_agent::variables(&commands);

        let got: Vec<(String, String, bool)> = vars.iter().filter(|v| !v.is_output).map(|v| (v.name.clone(), v.value.clone(), v.is_secret)).collect();
        let want: Vec<(String, String, bool)> = set.variables.iter().map(|v| (v.name.to_string(), v.value.expose().to_owned(), v.value.is_secret())).collect();
        prop_assert_eq!(got, want);

        let outputs: Vec<(String, String)> = vars.iter().filter(|v| v.is_output).map(|v| (v.name.clone(), v.value.clone())).collect();
        prop_assert_eq!(outputs, vec![
            ("verdict".to_string(), verdict.clone()),
            ("projectKey".to_string(), values[0].clone()),
            ("hostUrl".to_string(), values[1].clone()),
        ]);
        // Only our commands, one per line we wrote.
        prop_assert_eq!(commands.len(), rendered.stdout.lines().count());
        for c in &commands {
            let known = (c.area.as_str(), c.event.as_str());
            prop_assert!(known == ("task", "setvariable") || known == ("task", "logissue") || known == ("task", "complete"), "unexpected command {:?}", known);
        }
        // Exported without proof: succeeded with issues, said last.
        let completions = azure_agent::task_completions(&commands);
        if verdict == "ok" {
            prop_assert!(completions.is_empty());
        } else {
            prop_assert_eq!(completions.len(), 1);
            let (result, message, line) = completions[0].clone().unwrap();
            prop_assert_eq!(result, azure_agent::TaskResult::SucceededWithIssues);
            prop_assert_eq!(message.as_str(), "message");
            prop_assert_eq!(line, commands.last().unwrap().line);
        }
        // The token is registered as a secret on the first line.
        prop_assert!(vars[0].is_secret && vars[0].line == commands[0].line);
        for (i, line) in rendered.stdout.lines().enumerate() {
            if line.contains(&token) && i != commands[0].line {
                prop_assert!(azure_agent::secrets_registered_before(&commands, i).contains(&token));
            }
        }
    }

    /// `eval` of the shell output in real bash and dash yields the exact values, defines
    /// nothing else and runs nothing.
    #[test]
    fn shell_eval_round_trips(token in hostile_token(), values in prop::collection::vec(hostile_value(), 5)) {
        let set = set_of(&token, &values, "");
        let script = export::shell::render(&set).unwrap();
        for shell in ["bash", "dash"] {
            let got = eval_in(shell, &script, &set);
            prop_assert_eq!(&got.values, &expected_pairs(&set).into_iter().map(|(_, v)| v).collect::<Vec<_>>(), "{}", shell);
            prop_assert_eq!(&got.new_names, &set.variables.iter().map(|v| v.name.to_string()).collect::<BTreeSet<_>>(), "{}", shell);
            prop_assert!(!got.ran_something, "{} ran a command substitution", shell);
        }
    }
}

struct Evaluated {
    values: Vec<String>,
    new_names: BTreeSet<String>,
    ran_something: bool,
}

/// Runs `eval "$(cat script)"` in a real shell with an empty environment, then prints each
/// variable NUL-terminated, then the exported names.
fn eval_in(shell: &str, script: &str, set: &ExportSet) -> Evaluated {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("exports.sh"), script).unwrap();
    let names: Vec<&str> = set.variables.iter().map(|v| v.name).collect();
    let print_values: String = names.iter().map(|n| format!(" \"${n}\"")).collect();
    let program = format!(
        "env -0 > before; eval \"$(cat exports.sh)\"; printf '%s\\0'{print_values} > values; env -0 > after"
    );
    let status = std::process::Command::new(shell)
        .arg("-c")
        .arg(&program)
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap())
        .status()
        .unwrap();
    assert!(status.success(), "{shell} failed on {script:?}");
    let read_nul = |f: &str| -> Vec<String> {
        let bytes = std::fs::read(dir.path().join(f)).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        let mut parts: Vec<String> = text.split('\0').map(str::to_owned).collect();
        parts.pop();
        parts
    };
    let names_of = |entries: Vec<String>| -> BTreeSet<String> {
        entries
            .into_iter()
            .map(|e| e.split_once('=').map(|(n, _)| n.to_owned()).unwrap_or(e))
            .collect()
    };
    let before = names_of(read_nul("before"));
    let after = names_of(read_nul("after"));
    Evaluated {
        values: read_nul("values"),
        new_names: after.difference(&before).cloned().collect(),
        ran_something: dir.path().join("pwned").exists(),
    }
}

#[test]
fn dotenv_refuses_line_breaks_and_leaves_the_token_out() {
    let set = set_of(
        "sqco_secret",
        &[
            "a".into(),
            "b\nEVIL=1".into(),
            "c".into(),
            "d".into(),
            "e".into(),
        ],
        "",
    );
    let e = export::dotenv::render(&set, false).unwrap_err();
    assert_eq!(e.name, "SONAR_REGION");
    let set = set_of(
        "sqco_secret",
        &["a".into(), "b".into(), "c".into(), "d".into(), "e".into()],
        "",
    );
    let text = export::dotenv::render(&set, false).unwrap();
    assert!(
        !text.contains("sqco_secret") && text.contains("SONAR_HOST_URL=a\n"),
        "{text}"
    );
    let text = export::dotenv::render(&set, true).unwrap();
    assert!(text.starts_with("SONAR_TOKEN=sqco_secret\n"), "{text}");
}

proptest! {
    /// The properties output read back with Java's rules gives the same values.
    #[test]
    fn properties_round_trip(token in hostile_token(), values in prop::collection::vec(hostile_value(), 5)) {
        let set = set_of(&token, &values, "");
        let text = export::dotenv::render_properties(&set, true).unwrap();
        let read = java_properties_read(&text);
        let want: std::collections::HashMap<String, String> = expected_pairs(&set).into_iter().collect();
        prop_assert_eq!(read, want);
    }

    /// JSON output parses back to the same map; the token only with include_secrets.
    #[test]
    fn json_round_trip(token in hostile_token(), values in prop::collection::vec(hostile_value(), 5)) {
        let set = set_of(&token, &values, "");
        let without: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&export::json::render(&set, false)).unwrap();
        prop_assert!(!without.contains_key("SONAR_TOKEN"));
        let with: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&export::json::render(&set, true)).unwrap();
        prop_assert_eq!(with.get("SONAR_TOKEN").and_then(|v| v.as_str()), Some(token.as_str()));
        for (name, v) in PLAIN_NAMES.iter().zip(&values) {
            prop_assert_eq!(with.get(*name).and_then(|x| x.as_str()), Some(v.as_str()));
        }
    }
}

fn java_properties_read(text: &str) -> std::collections::HashMap<String, String> {
    let mut map = std::collections::HashMap::new();
    java_properties::PropertiesIter::new_with_encoding(text.as_bytes(), encoding_rs::UTF_8)
        .read_into(|k, v| {
            map.insert(k, v);
        })
        .unwrap();
    map
}

/// The properties output read by Java itself (`java.util.Properties.load(Reader)`, what
/// Jenkins' `readProperties` uses), for a batch of hostile sets in one JVM start.
#[test]
fn properties_read_by_real_java() {
    if std::process::Command::new("java")
        .arg("-version")
        .output()
        .is_err()
    {
        panic!("java is required for this test (the README's test command installs it)");
    }
    let dir = tempfile::tempdir().unwrap();
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = (hostile_token(), prop::collection::vec(hostile_value(), 5));
    let mut sets = Vec::new();
    for i in 0..100 {
        let (token, values) = strategy.new_tree(&mut runner).unwrap().current();
        let set = set_of(&token, &values, "");
        let path = dir.path().join(format!("{i}.properties"));
        std::fs::write(
            &path,
            export::dotenv::render_properties(&set, true).unwrap(),
        )
        .unwrap();
        sets.push((path, set));
    }
    let reader = dir.path().join("ReadProps.java");
    std::fs::write(&reader, JAVA_READER).unwrap();
    let mut cmd = std::process::Command::new("java");
    cmd.arg(&reader);
    for (path, _) in &sets {
        cmd.arg(path);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut files = text.split('\u{1}');
    for (path, set) in &sets {
        let block = files.next().unwrap();
        let mut got = std::collections::HashMap::new();
        let mut parts = block.split('\0');
        while let (Some(k), Some(v)) = (parts.next(), parts.next()) {
            got.insert(k.to_owned(), v.to_owned());
        }
        let want: std::collections::HashMap<String, String> =
            expected_pairs(set).into_iter().collect();
        assert_eq!(got, want, "{}", path.display());
    }
}

const JAVA_READER: &str = r#"
import java.io.*;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import java.util.*;
public class ReadProps {
    public static void main(String[] args) throws Exception {
        PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), true, "UTF-8");
        StringBuilder sb = new StringBuilder();
        for (String f : args) {
            Properties p = new Properties();
            p.load(new StringReader(new String(Files.readAllBytes(Paths.get(f)), StandardCharsets.UTF_8)));
            for (String k : p.stringPropertyNames()) {
                sb.append(k).append('\0').append(p.getProperty(k)).append('\0');
            }
            sb.append('\u0001');
        }
        out.print(sb);
    }
}
"#;

#[test]
fn github_without_github_env_writes_nothing() {
    let set = set_of(
        "sqco_x",
        &["a".into(), "b".into(), "c".into(), "d".into(), "e".into()],
        "",
    );
    let e = export::render(
        Format::Github,
        &set,
        &summary("ok"),
        &Destinations::default(),
    )
    .unwrap_err();
    assert_eq!(e.name, "GITHUB_ENV");
}

fn plain_set() -> ExportSet {
    set_of(
        "sqco_WRITERScanary",
        &["a".into(), "b".into(), "c".into(), "d".into(), "e".into()],
        "",
    )
}

/// Files left in `dir` whose name marks them as our temporary files.
fn temp_files(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".scantoken-"))
        .collect()
}

#[test]
fn github_output_that_cannot_be_opened_leaves_github_env_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let env_path = dir.path().join("env");
    std::fs::write(&env_path, "EARLIER=1\n").unwrap();
    let missing = dir.path().join("no/such/dir/out");
    let dest = Destinations {
        github_env: Some(env_path.clone()),
        github_output: Some(missing.clone()),
        github_step_summary: Some(dir.path().join("summary")),
        ..Destinations::default()
    };
    let rendered = export::render(Format::Github, &plain_set(), &summary("ok"), &dest).unwrap();
    let mut stdout = Vec::new();
    let e = export::commit(&rendered, &mut stdout).unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("GITHUB_OUTPUT") && text.contains(missing.to_str().unwrap()),
        "the error names the file and its variable: {text}"
    );
    assert!(!text.contains("WRITERScanary"), "{text}");
    assert_eq!(std::fs::read_to_string(&env_path).unwrap(), "EARLIER=1\n");
    assert!(!dir.path().join("summary").exists());
    assert!(stdout.is_empty(), "nothing printed either");

    // A GITHUB_ENV that did not exist is not left behind, empty, either.
    std::fs::remove_file(&env_path).unwrap();
    export::commit(&rendered, &mut Vec::new()).unwrap_err();
    assert!(!env_path.exists());
}

#[test]
fn github_step_summary_that_cannot_be_opened_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let dest = Destinations {
        github_env: Some(dir.path().join("env")),
        github_output: Some(dir.path().join("out")),
        github_step_summary: Some(dir.path().join("no/such/dir/summary")),
        ..Destinations::default()
    };
    let set = plain_set();
    let rendered = export::render(Format::Github, &set, &summary("ok"), &dest).unwrap();
    let mut stdout = Vec::new();
    export::commit(&rendered, &mut stdout).unwrap();
    let env_file = std::fs::read_to_string(dir.path().join("env")).unwrap();
    assert_eq!(
        github_runner::parse_env_file(&env_file).unwrap(),
        expected_pairs(&set)
    );
    assert!(dir.path().join("out").exists());
    let commands = github_runner::parse_workflow_commands(&String::from_utf8(stdout).unwrap());
    assert_eq!(commands[0].name, "add-mask");
    let warning = commands
        .iter()
        .find(|c| c.name == "warning" && c.data.contains("GITHUB_STEP_SUMMARY"))
        .expect("a warning names the summary file");
    assert!(warning.data.contains("no/such/dir/summary"), "{warning:?}");
}

#[test]
fn a_stale_temporary_file_with_our_pid_does_not_block_the_output() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("exports.sh");
    // What an earlier run in a container with the same pid may have left behind.
    let stale = dir
        .path()
        .join(format!(".exports.sh.scantoken-{}", std::process::id()));
    std::fs::write(&stale, "stale").unwrap();
    let set = plain_set();
    let dest = Destinations {
        output: Some(output.clone()),
        ..Destinations::default()
    };
    let rendered = export::render(Format::Shell, &set, &summary("ok"), &dest).unwrap();
    export::commit(&rendered, &mut Vec::new()).unwrap();
    assert_eq!(
        std::fs::read_to_string(&output).unwrap(),
        export::shell::render(&set).unwrap()
    );
    assert_eq!(
        temp_files(dir.path()),
        vec![stale.file_name().unwrap().to_string_lossy().into_owned()],
        "only the stale file is left; ours was renamed"
    );
}

#[test]
fn a_failed_replacement_removes_its_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    // A directory where the file should go: the rename fails after the token was written
    // to the temporary file, which must not stay behind.
    let output = dir.path().join("exports.sh");
    std::fs::create_dir(&output).unwrap();
    std::fs::write(output.join("keep"), "x").unwrap();
    let dest = Destinations {
        output: Some(output.clone()),
        ..Destinations::default()
    };
    let rendered = export::render(Format::Shell, &plain_set(), &summary("ok"), &dest).unwrap();
    let e = export::commit(&rendered, &mut Vec::new()).unwrap_err();
    assert!(e.to_string().contains("exports.sh"), "{e}");
    assert!(
        temp_files(dir.path()).is_empty(),
        "{:?}",
        temp_files(dir.path())
    );
}

proptest! {
    /// `task.complete` carries any message intact and ends nothing early.
    #[test]
    fn azure_task_complete_carries_the_message(message in hostile_value()) {
        let set = plain_set();
        let mut sum = summary("not-verified");
        sum.message = message.clone();
        let rendered = export::render(Format::Azure, &set, &sum, &Destinations::default()).unwrap();
        let commands = azure_agent::parse_logging_commands(&rendered.stdout);
        prop_assert_eq!(commands.len(), rendered.stdout.lines().count());
        let completions = azure_agent::task_completions(&commands);
        prop_assert_eq!(completions.len(), 1);
        let (result, got, line) = completions[0].clone().unwrap();
        prop_assert_eq!(result, azure_agent::TaskResult::SucceededWithIssues);
        prop_assert_eq!(got, message);
        prop_assert_eq!(line, commands.last().unwrap().line);
    }
}

#[test]
fn azure_marks_an_unproven_export_succeeded_with_issues() {
    for (verdict, want) in [
        ("ok", None),
        (
            "not-verified",
            Some(azure_agent::TaskResult::SucceededWithIssues),
        ),
        (
            "unreachable",
            Some(azure_agent::TaskResult::SucceededWithIssues),
        ),
        (
            "server-error",
            Some(azure_agent::TaskResult::SucceededWithIssues),
        ),
    ] {
        let rendered = export::render(
            Format::Azure,
            &plain_set(),
            &summary(verdict),
            &Destinations::default(),
        )
        .unwrap();
        let commands = azure_agent::parse_logging_commands(&rendered.stdout);
        let got: Vec<_> = azure_agent::task_completions(&commands)
            .into_iter()
            .map(|c| c.unwrap().0)
            .collect();
        assert_eq!(got, want.into_iter().collect::<Vec<_>>(), "{verdict}");
    }
}

/// A secret of several lines (nothing scantoken exports today has one, but a writer must not
/// depend on that): the runner masks the whole value, and each line on its own, since a
/// line printed alone would not match the whole. A one-line secret is masked once.
#[test]
fn github_masks_each_line_of_a_multi_line_secret() {
    let secret = "first-line\nsecond-line\r\nthird-line\n";
    let mut set = plain_set();
    set.variables[0].value = Value::Secret(SecretString::from(secret.to_owned()));
    let dir = tempfile::tempdir().unwrap();
    let dest = Destinations {
        github_env: Some(dir.path().join("env")),
        ..Destinations::default()
    };
    let rendered = export::render(Format::Github, &set, &summary("ok"), &dest).unwrap();
    let commands = github_runner::parse_workflow_commands(&rendered.stdout);
    let masked = github_runner::masked_values(&commands);
    assert_eq!(
        masked,
        vec![secret, "first-line", "second-line", "third-line"],
        "{}",
        rendered.stdout
    );
    // Masks come first, before any other command.
    assert!(commands[..masked.len()]
        .iter()
        .all(|c| c.name == "add-mask"));

    let rendered = export::render(Format::Github, &plain_set(), &summary("ok"), &dest).unwrap();
    let commands = github_runner::parse_workflow_commands(&rendered.stdout);
    assert_eq!(
        github_runner::masked_values(&commands),
        vec!["sqco_WRITERScanary"],
        "one mask for a one-line secret: {}",
        rendered.stdout
    );
}

/// A file-command entry's name is written before `<<`: a name holding `=` or `<<` would be
/// read by the runner as another name and value, and a line break would start another entry.
/// Such a name is refused, naming it; any other name round-trips.
#[test]
fn github_refuses_a_name_the_runner_would_read_differently() {
    for name in ["", "A=B", "A<<B", "A\nB", "A\rB", "=", "<<"] {
        let e = export::github::heredoc(name, "value").unwrap_err();
        assert_eq!(e.name, name);
        assert!(e.to_string().contains("not a valid variable name"), "{e}");
    }
    for name in ["A", "SONAR_TOKEN", "A<B", "A-B", "a.b", "A B"] {
        let entry = export::github::heredoc(name, "x=1\n<<y").unwrap();
        assert_eq!(
            github_runner::parse_env_file(&entry).unwrap(),
            vec![(name.to_owned(), "x=1\n<<y".to_owned())],
            "{name:?}"
        );
    }
}

/// The reason the runner's file cannot be written is the system's own, whichever open
/// failed: a path ending in `/` is not there to append to (`No such file`), and cannot be
/// created either, being a directory's name (`Is a directory`): the error says the latter.
#[test]
fn a_runner_file_that_cannot_be_created_gives_the_creations_reason() {
    let dir = tempfile::tempdir().unwrap();
    let env_path = dir.path().join("env");
    let output = dir.path().join("new/");
    let dest = Destinations {
        github_env: Some(env_path.clone()),
        github_output: Some(output),
        ..Destinations::default()
    };
    let rendered = export::render(Format::Github, &plain_set(), &summary("ok"), &dest).unwrap();
    let e = export::commit(&rendered, &mut Vec::new()).unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("cannot open") && text.contains("GITHUB_OUTPUT"),
        "{text}"
    );
    assert_eq!(e.kind(), std::io::ErrorKind::IsADirectory, "{text}");
    assert!(!env_path.exists(), "nothing is left behind");
}
