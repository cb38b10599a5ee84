//! The Azure Pipelines agent's reading of logging commands (`azure-pipelines-agent`
//! `Command.cs`, `CommandStringConvertor.cs`).
#![allow(dead_code)]

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggingCommand {
    pub area: String,
    pub event: String,
    pub properties: Vec<(String, String)>,
    pub data: String,
    /// 0-based line of stdout.
    pub line: usize,
}

/// Unescaping in the agent's order: `%0D`, `%0A`, (`%5D`, `%3B` in properties), then
/// `%AZP25` last, so an escaped `%` cannot form another escape.
fn unescape(s: &str, property: bool) -> String {
    let mut v = s.replace("%0D", "\r").replace("%0A", "\n");
    if property {
        v = v.replace("%5D", "]").replace("%3B", ";");
    }
    v.replace("%AZP25", "%")
}

/// `##vso[area.event k=v;k=v]data`, found anywhere in a line; properties end at the first
/// `]`, split on `;` then on the first `=`.
pub fn parse_logging_commands(stdout: &str) -> Vec<LoggingCommand> {
    let mut out = Vec::new();
    for (n, line) in stdout.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let Some(start) = line.find("##vso[") else {
            continue;
        };
        let rest = &line[start + 6..];
        let Some(close) = rest.find(']') else {
            continue;
        };
        let (inside, data) = (&rest[..close], &rest[close + 1..]);
        let (command, props) = match inside.split_once(' ') {
            Some((c, p)) => (c, p),
            None => (inside, ""),
        };
        let Some((area, event)) = command.split_once('.') else {
            continue;
        };
        let properties = props
            .split(';')
            .filter(|p| !p.trim().is_empty())
            .filter_map(|p| p.split_once('='))
            .map(|(k, v)| (k.trim().to_owned(), unescape(v, true)))
            .collect();
        out.push(LoggingCommand {
            area: area.to_owned(),
            event: event.to_owned(),
            properties,
            data: unescape(data, false),
            line: n,
        });
    }
    out
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AzureVariable {
    pub name: String,
    pub value: String,
    pub is_secret: bool,
    pub is_output: bool,
    pub line: usize,
}

fn prop<'a>(c: &'a LoggingCommand, key: &str) -> Option<&'a str> {
    c.properties
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.as_str())
}

pub fn variables(cmds: &[LoggingCommand]) -> Vec<AzureVariable> {
    cmds.iter()
        .filter(|c| c.area == "task" && c.event == "setvariable")
        .map(|c| AzureVariable {
            name: prop(c, "variable").unwrap_or_default().to_owned(),
            value: c.data.clone(),
            is_secret: prop(c, "issecret").is_some_and(|v| v.eq_ignore_ascii_case("true")),
            is_output: prop(c, "isoutput").is_some_and(|v| v.eq_ignore_ascii_case("true")),
            line: c.line,
        })
        .collect()
}

/// Values registered as secrets on lines before `line`.
pub fn secrets_registered_before(cmds: &[LoggingCommand], line: usize) -> Vec<String> {
    let mut out: Vec<String> = variables(cmds)
        .into_iter()
        .filter(|v| v.is_secret && v.line < line)
        .map(|v| v.value)
        .collect();
    out.extend(
        cmds.iter()
            .filter(|c| c.area == "task" && c.event == "setsecret" && c.line < line)
            .map(|c| c.data.clone()),
    );
    out
}

/// A task result, as `task.complete` sets it (docs/sonar-facts.md §6: `result=Succeeded|SucceededWithIssues|Failed`;
/// the agent reads the name case-insensitively and refuses any other).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskResult {
    Succeeded,
    SucceededWithIssues,
    Failed,
}

/// The result, message and line of each `task.complete`, in order; `Err` for a missing
/// result or one outside docs/sonar-facts.md §6's three.
pub fn task_completions(
    cmds: &[LoggingCommand],
) -> Vec<Result<(TaskResult, String, usize), String>> {
    cmds.iter()
        .filter(|c| c.area == "task" && c.event == "complete")
        .map(|c| {
            let result = match prop(c, "result").map(str::to_ascii_lowercase).as_deref() {
                None => return Err("task.complete without a result".into()),
                Some("succeeded") => TaskResult::Succeeded,
                Some("succeededwithissues") => TaskResult::SucceededWithIssues,
                Some("failed") => TaskResult::Failed,
                Some(other) => return Err(format!("unknown task result {other:?}")),
            };
            Ok((result, c.data.clone(), c.line))
        })
        .collect()
}
