//! A simulated GitHub runner for the composite action: it reads `action.yml`, runs its steps in
//! order as the runner does (each `if:` evaluated, `${{ }}` expanded in `env:` and `with:`, `run:`
//! under `bash --noprofile --norc -eo pipefail`, each step with its own `GITHUB_OUTPUT` file,
//! read by the runner's rules, in the job's `GITHUB_WORKSPACE`), and stands in for `actions/cache/restore` and
//! `actions/cache/save` with a folder of archives that outlives the job, as the Actions cache
//! does. It owns nothing of the product; what it simulates is written from the runner's
//! documented behaviour (expressions, `steps.<id>.outputs`) and `actions/cache` v5's source
//! (`restoreImpl.ts`: on a miss `cache-hit` is left unset; a key already saved is a warning,
//! not a failure).
#![allow(dead_code)]

use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

// The runner's reading of GITHUB_OUTPUT, shared with the writers' tests (common loads it too).
#[allow(clippy::duplicate_mod)]
#[path = "../support/github_runner.rs"]
mod github_runner;

/// One job's runner: the action's checkout, the job's temp folder, the cache that outlives it.
pub struct Runner {
    pub action: PathBuf,
    /// RUNNER_TEMP of this job (a new job gets a new, empty one).
    pub temp: PathBuf,
    /// GITHUB_WORKSPACE: the caller's checkout, every `run:` step's current directory, as on
    /// the real runner (created if missing).
    pub workspace: PathBuf,
    /// The repository's Actions cache: one archive per key, kept across jobs.
    pub cache: PathBuf,
    pub runner_os: String,
    pub runner_arch: String,
    /// The hosted image's name (ImageOS), None on a self-hosted runner.
    pub image_os: Option<String>,
    pub path: String,
    /// The job's own environment (the workflow's `env:`, GitHub's default variables).
    pub env: Vec<(String, String)>,
}

pub struct StepRun {
    pub name: String,
    pub id: Option<String>,
    pub ran: bool,
    pub code: i32,
    pub log: String,
    pub outputs: HashMap<String, String>,
    pub time: Duration,
}

pub struct ActionRun {
    pub steps: Vec<StepRun>,
    pub outputs: HashMap<String, String>,
    pub success: bool,
}

impl ActionRun {
    pub fn step(&self, id: &str) -> &StepRun {
        self.steps
            .iter()
            .find(|s| s.id.as_deref() == Some(id))
            .unwrap_or_else(|| panic!("no step {id}"))
    }

    pub fn log(&self) -> String {
        self.steps
            .iter()
            .map(|s| {
                let state = if s.ran { "ran" } else { "skipped" };
                format!("--- {} ({state}, exit {}):\n{}\n", s.name, s.code, s.log)
            })
            .collect()
    }

    /// The action step's own time, as the runner would show it: every inner step's.
    pub fn time(&self) -> Duration {
        self.steps.iter().map(|s| s.time).sum()
    }
}

#[derive(Clone, Debug, PartialEq)]
enum V {
    Null,
    Bool(bool),
    Str(String),
}

impl V {
    fn truthy(&self) -> bool {
        match self {
            V::Null => false,
            V::Bool(b) => *b,
            V::Str(s) => !s.is_empty(),
        }
    }
    fn text(&self) -> String {
        match self {
            V::Null => String::new(),
            V::Bool(b) => b.to_string(),
            V::Str(s) => s.clone(),
        }
    }
    /// GitHub's `==`: strings compare case-insensitively; null equals the empty string (both
    /// coerce to 0); a boolean equals only a boolean here (the action compares strings only).
    fn loose_eq(&self, other: &V) -> bool {
        match (self, other) {
            (V::Str(a), V::Str(b)) => a.eq_ignore_ascii_case(b),
            (V::Null, V::Null) => true,
            (V::Null, V::Str(s)) | (V::Str(s), V::Null) => s.is_empty(),
            (V::Bool(a), V::Bool(b)) => a == b,
            _ => false,
        }
    }
}

/// What an expression can read.
struct Contexts<'a> {
    inputs: &'a HashMap<String, String>,
    steps: &'a HashMap<String, HashMap<String, String>>,
    github: &'a HashMap<String, String>,
    runner: &'a HashMap<String, String>,
    failed: bool,
}

struct Parser<'a, 'c> {
    s: &'a [u8],
    i: usize,
    cx: &'c Contexts<'c>,
}

impl Parser<'_, '_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }
    fn eat(&mut self, t: &str) -> bool {
        self.ws();
        if self.s[self.i..].starts_with(t.as_bytes()) {
            self.i += t.len();
            true
        } else {
            false
        }
    }
    fn or(&mut self) -> V {
        let mut v = self.and();
        while self.eat("||") {
            let r = self.and();
            if !v.truthy() {
                v = r;
            }
        }
        v
    }
    fn and(&mut self) -> V {
        let mut v = self.cmp();
        while self.eat("&&") {
            let r = self.cmp();
            if v.truthy() {
                v = r;
            }
        }
        v
    }
    fn cmp(&mut self) -> V {
        let l = self.unary();
        if self.eat("==") {
            let r = self.unary();
            V::Bool(l.loose_eq(&r))
        } else if self.eat("!=") {
            let r = self.unary();
            V::Bool(!l.loose_eq(&r))
        } else {
            l
        }
    }
    fn unary(&mut self) -> V {
        if self.eat("!") {
            return V::Bool(!self.unary().truthy());
        }
        self.primary()
    }
    fn primary(&mut self) -> V {
        self.ws();
        if self.eat("(") {
            let v = self.or();
            assert!(self.eat(")"), "expected ) in {:?}", self.src());
            return v;
        }
        if self.eat("'") {
            let mut out = String::new();
            loop {
                let c = self.s[self.i];
                self.i += 1;
                if c == b'\'' {
                    if self.s.get(self.i) == Some(&b'\'') {
                        self.i += 1;
                    } else {
                        break;
                    }
                }
                out.push(c as char);
            }
            return V::Str(out);
        }
        let start = self.i;
        while self.i < self.s.len()
            && (self.s[self.i].is_ascii_alphanumeric() || b"._-".contains(&self.s[self.i]))
        {
            self.i += 1;
        }
        let word = std::str::from_utf8(&self.s[start..self.i])
            .unwrap()
            .to_owned();
        assert!(!word.is_empty(), "unexpected input in {:?}", self.src());
        if self.eat("(") {
            let mut args = Vec::new();
            if !self.eat(")") {
                loop {
                    args.push(self.or());
                    if self.eat(")") {
                        break;
                    }
                    assert!(self.eat(","), "expected , in {:?}", self.src());
                }
            }
            return self.call(&word, &args);
        }
        match word.as_str() {
            "true" => V::Bool(true),
            "false" => V::Bool(false),
            "null" => V::Null,
            path => self.lookup(path),
        }
    }
    fn call(&self, name: &str, args: &[V]) -> V {
        match name {
            "success" => V::Bool(!self.cx.failed),
            "failure" => V::Bool(self.cx.failed),
            "always" => V::Bool(true),
            "format" => {
                let mut out = args[0].text();
                for (n, a) in args[1..].iter().enumerate() {
                    out = out.replace(&format!("{{{n}}}"), &a.text());
                }
                V::Str(out)
            }
            other => panic!("the simulated runner has no function {other}()"),
        }
    }
    fn lookup(&self, path: &str) -> V {
        let parts: Vec<&str> = path.split('.').collect();
        let found = match parts.as_slice() {
            ["inputs", name] => self.cx.inputs.get(*name),
            ["github", name] => self.cx.github.get(*name),
            ["runner", name] => self.cx.runner.get(*name),
            ["steps", id, "outputs", name] => self.cx.steps.get(*id).and_then(|o| o.get(*name)),
            _ => panic!("the simulated runner cannot read {path}"),
        };
        found.map_or(V::Null, |s| V::Str(s.clone()))
    }
    fn src(&self) -> String {
        String::from_utf8_lossy(self.s).into_owned()
    }
}

fn eval(expr: &str, cx: &Contexts) -> V {
    let mut p = Parser {
        s: expr.as_bytes(),
        i: 0,
        cx,
    };
    let v = p.or();
    p.ws();
    assert_eq!(p.i, expr.len(), "trailing input in {expr:?}");
    v
}

/// Expands every `${{ expr }}` in a string.
fn expand(text: &str, cx: &Contexts) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("}}").expect("unclosed ${{") + start;
        out.push_str(&eval(&rest[start + 3..end], cx).text());
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

/// A step's `if:`: an expression with or without `${{ }}`, with an implied `success() &&`
/// unless it calls a status function.
fn condition(step: &Value, cx: &Contexts) -> bool {
    let Some(cond) = step["if"].as_str() else {
        return !cx.failed;
    };
    let cond = cond.trim();
    let cond = cond
        .strip_prefix("${{")
        .and_then(|c| c.strip_suffix("}}"))
        .unwrap_or(cond);
    let status = ["success()", "failure()", "always()"]
        .iter()
        .any(|f| cond.contains(f));
    let v = eval(cond, cx).truthy();
    if status {
        v
    } else {
        !cx.failed && v
    }
}

/// A cache key as a file name (the stand-in's own storage).
fn archive(cache: &Path, key: &str) -> PathBuf {
    let name: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    cache.join(format!("{name}.tar.gz"))
}

/// `actions/cache/restore` and `actions/cache/save`, pinned by a full commit SHA, on a cache
/// kept in a folder: an archive of the path per key, restored where it was saved from.
fn cache_action(
    uses: &str,
    with: &HashMap<String, String>,
    cache: &Path,
) -> (i32, String, HashMap<String, String>) {
    let (action, sha) = uses.split_once('@').unwrap();
    assert!(
        sha.len() == 40 && sha.chars().all(|c| c.is_ascii_hexdigit()),
        "{uses}: pin actions by a full commit SHA"
    );
    let path = with.get("path").filter(|p| !p.is_empty());
    let key = with.get("key").filter(|k| !k.is_empty());
    let (Some(path), Some(key)) = (path, key) else {
        return (
            1,
            "Input required and not supplied: path or key".into(),
            HashMap::new(),
        );
    };
    assert!(!path.contains('\n'), "one path");
    let path = Path::new(path);
    let stored = archive(cache, key);
    let mut outputs = HashMap::new();
    match action {
        "actions/cache/restore" => {
            outputs.insert("cache-primary-key".into(), key.clone());
            if !stored.exists() {
                // cache-hit is left unset on a miss (restoreImpl.ts).
                return (0, format!("Cache not found for input keys: {key}"), outputs);
            }
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            let ok = Command::new("tar")
                .arg("-xzf")
                .arg(&stored)
                .arg("-C")
                .arg(path.parent().unwrap())
                .status()
                .unwrap();
            assert!(ok.success());
            outputs.insert("cache-hit".into(), "true".into());
            outputs.insert("cache-matched-key".into(), key.clone());
            (0, format!("Cache restored from key: {key}"), outputs)
        }
        "actions/cache/save" => {
            if !path.exists() {
                let log = "Warning: Path Validation Error: Path(s) specified in the action for caching do(es) not exist, hence no cache is being saved.";
                return (0, log.into(), outputs);
            }
            if stored.exists() {
                let log = format!("Warning: Failed to save: Unable to reserve cache with key {key}, another job may be creating this cache.");
                return (0, log, outputs);
            }
            std::fs::create_dir_all(cache).unwrap();
            let ok = Command::new("tar")
                .arg("-czf")
                .arg(&stored)
                .arg("-C")
                .arg(path.parent().unwrap())
                .arg(path.file_name().unwrap())
                .status()
                .unwrap();
            assert!(ok.success());
            (0, format!("Cache saved with key: {key}"), outputs)
        }
        other => panic!("the simulated runner has no stand-in for {other}"),
    }
}

impl Runner {
    /// Runs the action with these inputs (the others take their defaults).
    pub fn run(&self, with: &[(&str, &str)]) -> ActionRun {
        let text = std::fs::read_to_string(self.action.join("action.yml")).unwrap();
        let action: Value = serde_saphyr::from_str(&text).unwrap();
        assert_eq!(action["runs"]["using"], "composite");
        let mut inputs: HashMap<String, String> = action["inputs"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v["default"].as_str().unwrap_or("").to_owned()))
            .collect();
        for (k, v) in with {
            assert!(inputs.contains_key(*k), "action.yml has no input {k}");
            inputs.insert((*k).into(), (*v).into());
        }
        std::fs::create_dir_all(&self.temp).unwrap();
        std::fs::create_dir_all(&self.workspace).unwrap();
        let github: HashMap<String, String> = [
            ("server_url", "https://github.com"),
            ("action_repository", "scantoken/scantoken"),
            ("action_path", self.action.to_str().unwrap()),
        ]
        .into_iter()
        .map(|(k, v)| (k.into(), v.into()))
        .collect();
        let runner: HashMap<String, String> = [
            ("temp", self.temp.to_str().unwrap()),
            ("os", &self.runner_os),
            ("arch", &self.runner_arch),
        ]
        .into_iter()
        .map(|(k, v)| (k.into(), v.to_owned()))
        .collect();
        let mut steps_out: HashMap<String, HashMap<String, String>> = HashMap::new();
        let mut runs = Vec::new();
        let mut failed = false;
        for (n, step) in action["runs"]["steps"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
        {
            let name = step["name"].as_str().unwrap_or("step").to_owned();
            let id = step["id"].as_str().map(str::to_owned);
            let cx = Contexts {
                inputs: &inputs,
                steps: &steps_out,
                github: &github,
                runner: &runner,
                failed,
            };
            if !condition(step, &cx) {
                runs.push(StepRun {
                    name,
                    id,
                    ran: false,
                    code: 0,
                    log: String::new(),
                    outputs: HashMap::new(),
                    time: Duration::ZERO,
                });
                continue;
            }
            let started = Instant::now();
            let (code, log, outputs) = if let Some(uses) = step["uses"].as_str() {
                let with: HashMap<String, String> = step["with"]
                    .as_object()
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| (k.clone(), expand(v.as_str().unwrap(), &cx)))
                            .collect()
                    })
                    .unwrap_or_default();
                cache_action(uses, &with, &self.cache)
            } else {
                assert_eq!(
                    step["shell"], "bash",
                    "{name}: composite steps name their shell"
                );
                let env: Vec<(String, String)> = step["env"]
                    .as_object()
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| (k.clone(), expand(v.as_str().unwrap(), &cx)))
                            .collect()
                    })
                    .unwrap_or_default();
                self.run_bash(n, step["run"].as_str().unwrap(), &env)
            };
            let time = started.elapsed();
            if code != 0 {
                failed = true;
            }
            if let Some(id) = &id {
                steps_out.insert(id.clone(), outputs.clone());
            }
            runs.push(StepRun {
                name,
                id,
                ran: true,
                code,
                log,
                outputs,
                time,
            });
        }
        let cx = Contexts {
            inputs: &inputs,
            steps: &steps_out,
            github: &github,
            runner: &runner,
            failed,
        };
        let outputs = action["outputs"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), expand(v["value"].as_str().unwrap(), &cx)))
            .collect();
        ActionRun {
            steps: runs,
            outputs,
            success: !failed,
        }
    }

    fn run_bash(
        &self,
        n: usize,
        script: &str,
        env: &[(String, String)],
    ) -> (i32, String, HashMap<String, String>) {
        let file = self.temp.join(format!("step-{n}.sh"));
        std::fs::write(&file, script).unwrap();
        let output_file = self.temp.join(format!("output-{n}"));
        std::fs::write(&output_file, "").unwrap();
        let mut cmd = Command::new("bash");
        cmd.args(["--noprofile", "--norc", "-eo", "pipefail"])
            .arg(&file)
            .env_clear()
            .env("PATH", &self.path)
            .env("HOME", &self.temp)
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_ACTION_PATH", &self.action)
            .env("GITHUB_OUTPUT", &output_file)
            .env("GITHUB_ENV", self.temp.join("github_env"))
            .env("GITHUB_STEP_SUMMARY", self.temp.join("summary.md"))
            .env("RUNNER_OS", &self.runner_os)
            .env("RUNNER_ARCH", &self.runner_arch)
            .env("RUNNER_TEMP", &self.temp)
            .env("GITHUB_WORKSPACE", &self.workspace)
            .current_dir(&self.workspace);
        if let Some(image) = &self.image_os {
            cmd.env("ImageOS", image);
        }
        for (k, v) in self.env.iter().chain(env) {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        let log = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let written = std::fs::read_to_string(&output_file).unwrap();
        let outputs = github_runner::parse_env_file(&written)
            .unwrap_or_else(|e| panic!("GITHUB_OUTPUT: {e}: {written:?}"))
            .into_iter()
            .collect();
        (out.status.code().unwrap_or(-1), log, outputs)
    }
}
