//! The reference readers themselves, on inputs written by hand from the documented rules.

mod support;

use support::{azure_agent, github_runner};

#[test]
fn github_env_pairs_and_heredocs() {
    let text = "A=1\n\nB=x=y<<z\nC<<EOF\nline 1\nD=2\n\nEOF\nE<<X\nX\n";
    let got = github_runner::parse_env_file(text).unwrap();
    assert_eq!(
        got,
        vec![
            ("A".into(), "1".into()),
            ("B".into(), "x=y<<z".into()),
            ("C".into(), "line 1\nD=2\n".into()),
            ("E".into(), "".into()),
        ]
    );
}

#[test]
fn github_env_delimiter_inside_a_value_injects_a_variable() {
    // What a naive writer with a fixed delimiter produces for value "a\nEOF\nEVIL=1".
    let text = "V<<EOF\na\nEOF\nEVIL=1\nEOF\n";
    let got = github_runner::parse_env_file(text);
    // The value ends early, EVIL appears, and the stray delimiter line is an error.
    assert!(got.is_err() || got.unwrap().iter().any(|(k, _)| k == "EVIL"));
    let got = github_runner::parse_env_file("V<<EOF\na\nEOF\nEVIL=1\n").unwrap();
    assert_eq!(got[1], ("EVIL".into(), "1".into()));
}

#[test]
fn github_cr_is_data_and_missing_delimiter_is_an_error() {
    assert_eq!(
        github_runner::parse_env_file("A=1\r\n").unwrap()[0].1,
        "1\r"
    );
    assert!(github_runner::parse_env_file("A<<EOF\nx\n").is_err());
}

#[test]
fn github_env_applies_to_later_steps_over_the_job_env() {
    let mut env = vec![
        ("SONAR_TOKEN".to_string(), "old".to_string()),
        ("CI".to_string(), "true".to_string()),
    ];
    github_runner::apply_env_file(&mut env, "SONAR_TOKEN<<D\nnew\nD\nA=1\nA=2\n").unwrap();
    env.sort();
    assert_eq!(
        env,
        vec![
            ("A".to_string(), "2".to_string()),
            ("CI".to_string(), "true".to_string()),
            ("SONAR_TOKEN".to_string(), "new".to_string()),
        ]
    );
    assert!(github_runner::apply_env_file(&mut env, "NODE_OPTIONS=--require x\n").is_err());
}

#[test]
fn github_workflow_commands_unescape() {
    let cmds = github_runner::parse_workflow_commands(
        "x\n  ::add-mask::a%25b%0Ac\n::warning title=t%3Ax%2Cy::w\n",
    );
    assert_eq!(cmds.len(), 2);
    assert_eq!(
        github_runner::masked_values(&cmds),
        vec!["a%b\nc".to_string()]
    );
    assert_eq!(
        cmds[1].properties,
        vec![("title".to_string(), "t:x,y".to_string())]
    );
    assert_eq!(cmds[1].line, 2);
}

#[test]
fn azure_commands_anywhere_in_a_line_with_escapes() {
    let out = "noise ##vso[task.setvariable variable=A%3BB;issecret=true]v%AZP250A%0A\n##vso[task.setvariable variable=x%5Dy]]d\n##vso[task.logissue type=warning]w\n";
    let cmds = azure_agent::parse_logging_commands(out);
    assert_eq!(cmds.len(), 3);
    let vars = azure_agent::variables(&cmds);
    assert_eq!(vars[0].name, "A;B");
    assert_eq!(vars[0].value, "v%0A\n", "%AZP25 is unescaped last");
    assert!(vars[0].is_secret);
    assert_eq!(vars[1].name, "x]y");
    assert_eq!(vars[1].value, "]d");
    assert_eq!(
        azure_agent::secrets_registered_before(&cmds, 1),
        vec!["v%0A\n".to_string()]
    );
    assert!(azure_agent::secrets_registered_before(&cmds, 0).is_empty());
}
