//! One definition per option (`src/options/defs.rs`): the flags of every command, the GitHub
//! Action's inputs and how the action hands them over, the Azure task's inputs and their
//! defaults, and the README's option table must all follow it. Any drift fails here.
//!
//! `SCANTOKEN_BLESS=1 cargo test --test options` rewrites the README's table from the
//! definitions (then review the diff).

use scantoken::options::{self, Command, Kind, Scope};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command as Process;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn action() -> Value {
    let text = std::fs::read_to_string(root().join("action.yml")).unwrap();
    serde_saphyr::from_str(&text).unwrap()
}

fn task() -> Value {
    serde_json::from_str(&std::fs::read_to_string(root().join("task.json")).unwrap()).unwrap()
}

fn help(command: &str) -> String {
    let out = Process::new(env!("CARGO_BIN_EXE_scantoken"))
        .args([command, "--help"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn every_flag_is_in_the_help_of_each_command_it_applies_to() {
    for (name, command) in [
        ("context", Command::Context),
        ("verify", Command::Verify),
        ("export", Command::Export),
        ("run", Command::Run),
        ("audit", Command::Audit),
    ] {
        let help = help(name);
        for d in options::all() {
            let shown = help.contains(&format!("--{} ", d.name))
                || help.contains(&format!("--{}\n", d.name))
                || help.contains(&format!("--{} <", d.name));
            // A name audit defines again (`format`) is shown where either row applies.
            let applies = options::all()
                .iter()
                .any(|e| e.name == d.name && e.flag && e.applies_to(command));
            assert_eq!(
                shown, applies,
                "{name} --help and option {}:\n{help}",
                d.name
            );
            if shown {
                assert!(help.contains(&d.variable()), "{name}: {}", d.variable());
            }
        }
    }
    // The token is never a flag: command lines are visible to every process.
    assert!(!help("export").contains("--token "));
}

#[test]
fn the_actions_inputs_are_the_tables_and_each_reaches_scantoken() {
    let action = action();
    let inputs: BTreeSet<String> = action["inputs"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| *k != "download-base-url") // the install step's, not scantoken's
        .cloned()
        .collect();
    let table: BTreeSet<String> = options::all()
        .iter()
        .filter(|d| d.github)
        .map(|d| d.name.to_owned())
        .collect();
    assert_eq!(inputs, table, "action.yml inputs vs the option table");
    let step = action["runs"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "run")
        .unwrap();
    for d in options::all().iter().filter(|d| d.github) {
        let var = format!("INPUT_{}", d.name.to_ascii_uppercase().replace('-', "_"));
        assert_eq!(
            step["env"][&var].as_str(),
            Some(format!("${{{{ inputs.{} }}}}", d.name).as_str()),
            "action.yml maps input {} to {var}",
            d.name
        );
        let input = &action["inputs"][d.name];
        if let (Some(default), Kind::Bool | Kind::Choice(_)) = (d.default, d.kind) {
            assert_eq!(
                input["default"].as_str(),
                Some(default),
                "{} default",
                d.name
            );
        }
        assert!(input["description"].as_str().is_some_and(|t| !t.is_empty()));
    }
}

#[test]
fn the_tasks_inputs_are_the_tables_with_the_same_defaults() {
    let task = task();
    let inputs = task["inputs"].as_array().unwrap();
    let names: BTreeSet<String> = inputs
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_owned())
        .collect();
    let table: BTreeSet<String> = options::all()
        .iter()
        .filter_map(|d| d.azure.map(str::to_owned))
        .collect();
    assert_eq!(names, table, "task.json inputs vs the option table");
    for d in options::all() {
        let Some(azure) = d.azure else { continue };
        let input = inputs.iter().find(|i| i["name"] == azure).unwrap();
        if let Some(default) = d.default {
            assert_eq!(
                input["defaultValue"].as_str(),
                Some(default),
                "task.json {azure} default"
            );
        }
        if let Kind::Choice(choices) = d.kind {
            let offered: BTreeSet<&str> = input["options"]
                .as_object()
                .map(|o| o.keys().map(String::as_str).collect())
                .unwrap_or_default();
            let expected: BTreeSet<&str> = choices.iter().copied().collect();
            assert_eq!(offered, expected, "task.json {azure} options");
        }
    }
}

#[test]
fn the_readme_table_is_the_tables() {
    let path = root().join("README.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let (begin, end) = ("<!-- options:begin -->\n", "<!-- options:end -->");
    let start = readme.find(begin).expect("README has the options markers") + begin.len();
    let stop = readme.find(end).unwrap();
    let expected = options::markdown_table();
    if std::env::var_os("SCANTOKEN_BLESS").is_some() {
        let updated = format!("{}{expected}{}", &readme[..start], &readme[stop..]);
        std::fs::write(&path, updated).unwrap();
        return;
    }
    assert_eq!(
        &readme[start..stop],
        expected,
        "README's option table differs from src/options/defs.rs: run SCANTOKEN_BLESS=1 cargo test --test options"
    );
}

#[test]
fn every_option_can_be_given_as_its_scantoken_variable() {
    // Through the binary: a bad value in each variable is refused, naming that variable, so
    // each one is read (choices, numbers and booleans are checked when resolved).
    for d in options::all() {
        let bad = match d.kind {
            Kind::Choice(_) => "nonsense",
            Kind::Number { .. } => "many",
            Kind::Bool => "perhaps",
            Kind::Text | Kind::List => continue,
        };
        let command = if d.scope == Scope::Audit {
            "audit"
        } else if d.applies_to(Command::Context) {
            "context"
        } else if d.applies_to(Command::Verify) {
            "verify"
        } else {
            "export"
        };
        let out = Process::new(env!("CARGO_BIN_EXE_scantoken"))
            .env_clear()
            .env(d.variable(), bad)
            .arg(command)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}: {stderr}", d.name);
        assert!(stderr.contains(&d.variable()), "{}: {stderr}", d.name);
    }
}
