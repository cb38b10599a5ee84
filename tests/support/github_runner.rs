//! The GitHub Actions runner's reading of file commands and workflow commands (Linux
//! runner; `actions/runner` `FileCommandManager.cs`, `ActionCommandManager.cs`).
#![allow(dead_code)]

/// `GITHUB_ENV` / `GITHUB_OUTPUT`: lines split on LF only (CR is data on Linux); empty lines
/// skipped; per line the first `=` and the first `<<` are found and whichever comes first
/// decides; `NAME<<DELIM` takes the following lines up to the first line equal to DELIM.
pub fn parse_env_file(contents: &str) -> Result<Vec<(String, String)>, String> {
    let lines: Vec<&str> = contents.split('\n').collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        i += 1;
        if line.is_empty() {
            continue;
        }
        let eq = line.find('=');
        let heredoc = line.find("<<");
        match (eq, heredoc) {
            (Some(e), h) if h.is_none_or(|h| e < h) => {
                let name = &line[..e];
                if name.is_empty() {
                    return Err(format!("line {i}: empty name"));
                }
                out.push((name.to_owned(), line[e + 1..].to_owned()));
            }
            (_, Some(h)) => {
                let name = &line[..h];
                let delimiter = &line[h + 2..];
                if name.is_empty() || delimiter.is_empty() {
                    return Err(format!("line {i}: invalid heredoc header {line:?}"));
                }
                let mut value: Vec<&str> = Vec::new();
                loop {
                    if i >= lines.len() {
                        return Err(format!("delimiter {delimiter:?} not found"));
                    }
                    let l = lines[i];
                    i += 1;
                    if l == delimiter {
                        break;
                    }
                    value.push(l);
                }
                out.push((name.to_owned(), value.join("\n")));
            }
            _ => {
                return Err(format!(
                    "line {i}: neither NAME=VALUE nor NAME<<DELIMITER: {line:?}"
                ))
            }
        }
    }
    Ok(out)
}

/// The environment of the job's next step: the runner reads `GITHUB_ENV` after a step and sets
/// each variable for every later step, a later value replacing an earlier one. A step may not
/// set `NODE_OPTIONS` this way (the runner refuses it); here that is an error, so a writer that
/// tries shows up in the tests.
pub fn apply_env_file(env: &mut Vec<(String, String)>, contents: &str) -> Result<(), String> {
    for (name, value) in parse_env_file(contents)? {
        if name.eq_ignore_ascii_case("NODE_OPTIONS") {
            return Err("NODE_OPTIONS cannot be set through GITHUB_ENV".into());
        }
        env.retain(|(k, _)| *k != name);
        env.push((name, value));
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowCommand {
    pub name: String,
    pub properties: Vec<(String, String)>,
    pub data: String,
    /// 0-based line of stdout.
    pub line: usize,
}

fn unescape_data(s: &str) -> String {
    s.replace("%0D", "\r")
        .replace("%0A", "\n")
        .replace("%25", "%")
}

fn unescape_property(s: &str) -> String {
    s.replace("%0D", "\r")
        .replace("%0A", "\n")
        .replace("%3A", ":")
        .replace("%2C", ",")
        .replace("%25", "%")
}

/// `::name key=value,key=value::data` at the start of a line (after white space).
pub fn parse_workflow_commands(stdout: &str) -> Vec<WorkflowCommand> {
    let mut out = Vec::new();
    for (n, raw) in stdout.split('\n').enumerate() {
        let line = raw.trim_start();
        let Some(rest) = line.strip_prefix("::") else {
            continue;
        };
        let Some(end) = rest.find("::") else { continue };
        let (head, data) = (&rest[..end], &rest[end + 2..]);
        let (name, props) = match head.split_once(' ') {
            Some((name, props)) => (name, props),
            None => (head, ""),
        };
        if name.is_empty() {
            continue;
        }
        let properties = props
            .split(',')
            .filter(|p| !p.is_empty())
            .filter_map(|p| p.split_once('='))
            .map(|(k, v)| (k.to_owned(), unescape_property(v)))
            .collect();
        out.push(WorkflowCommand {
            name: name.to_owned(),
            properties,
            data: unescape_data(data),
            line: n,
        });
    }
    out
}

pub fn masked_values(cmds: &[WorkflowCommand]) -> Vec<String> {
    cmds.iter()
        .filter(|c| c.name == "add-mask")
        .map(|c| c.data.clone())
        .collect()
}
