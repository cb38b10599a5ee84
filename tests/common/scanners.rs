//! SonarSource's real scanner bootstrappers in tests: npm `@sonar/scan` and PyPI `pysonar`,
//! pinned and installed by `scripts/test.sh`, run against the Sonar emulator, whose JRE
//! archive holds a stand-in `java` that records what the scanner engine receives (see the
//! emulator's README). Owns:
//! - finding and running a bootstrapper: [`run_scanner`]; or [`scanner_command`] and
//!   [`run_with_engine`] to run it some other way, e.g. as the child of
//!   `scantoken run -- <scanner command>` (`run_with_engine` sets [`scanner_env`] and reads the
//!   engine's input afterwards);
//! - reading what the engine received: [`EngineInput`], [`read_engine_input`];
//! - a Sonar for them to talk to: [`Sonar`], SonarQube Server, or SonarQube Cloud global or US
//!   at its official URL through a CONNECT proxy with a private CA, which checks where the
//!   token went ([`Sonar::assert_token_only_to_verified_host`]);
//! - whole jobs on the CI fixtures: [`github_job`] (an export step, GitHub file commands applied
//!   as the runner applies them, then a scanner step), [`shell_job`] (the README's `eval`
//!   snippet in bash), and the checks on what the engine got ([`assert_engine_got_verified`],
//!   [`assert_refused_or_scans_the_verified`]).
//!
//! A case such as "a job-level `SONAR_PROJECT_KEY=other`" or "`-Dsonar.projectKey=other` on the
//! scanner's command line" is one call: `github_job(which, &sonar, fixture, &[("SONAR_PROJECT_KEY",
//! "other")], &[])`, `github_job(which, &sonar, fixture, &[], &["-Dsonar.projectKey=other"])`.
#![allow(dead_code)]

use super::connect_proxy::ConnectProxy;
// The runner's reading of GITHUB_ENV, shared with the writers' tests (tests/support), which
// not every test crate that uses these helpers includes.
#[path = "../support/github_runner.rs"]
mod github_runner;
use sonar_emulator::{
    fingerprint, start_blocking, tls::TestPki, BlockingEmulator, EmulatorConfig, ListenerKind,
    Scenario, TlsFiles,
};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The file the stand-in `java` writes the engine's stdin to (and `<file>.argv`).
pub const ENGINE_INPUT_VAR: &str = sonar_emulator::bootstrap::ENGINE_INPUT_VAR;

/// A scan never takes this long against the emulator; past it the scanner is killed.
const SCANNER_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scanner {
    /// npm `@sonar/scan` 5.0.1, command `sonar-scanner-npm`.
    Npm,
    /// PyPI `pysonar` 1.10.0.5888, command `pysonar`.
    Pysonar,
}

impl Scanner {
    pub const ALL: [Scanner; 2] = [Scanner::Npm, Scanner::Pysonar];

    /// The command the package installs.
    pub fn command_name(self) -> &'static str {
        match self {
            Scanner::Npm => "sonar-scanner-npm",
            Scanner::Pysonar => "pysonar",
        }
    }

    /// Where `scripts/test.sh` installs it under the build folder, for runs without its PATH.
    fn install_dir(self) -> PathBuf {
        let tools = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tools");
        match self {
            Scanner::Npm => tools.join("npm/node_modules/.bin"),
            Scanner::Pysonar => tools.join("venv/bin"),
        }
    }
}

/// The bootstrapper's executable: found on PATH (scripts/test.sh puts its tools there), else
/// in the build folder where scripts/test.sh installs it. Missing is a failure, not a skip.
pub fn scanner_command(which: Scanner) -> PathBuf {
    let name = which.command_name();
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([which.install_dir()])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("`{name}` is neither on PATH nor in target/tools: ./scripts/test.sh installs it")
        })
}

/// The variables a scanner needs in a test, applied over the job's: HOME and the scanner's
/// cache (`SONAR_USER_HOME`) inside `dir`, so it writes nowhere else and downloads the JRE and
/// engine every time; and the file the stand-in `java` records the engine's input to.
pub fn scanner_env(dir: &Path) -> Vec<(String, String)> {
    let home = dir.join("home");
    std::fs::create_dir_all(&home).unwrap();
    vec![
        ("HOME".into(), home.to_str().unwrap().into()),
        (
            "SONAR_USER_HOME".into(),
            home.join(".sonar").to_str().unwrap().into(),
        ),
        (
            ENGINE_INPUT_VAR.into(),
            engine_input_path(dir).to_str().unwrap().into(),
        ),
    ]
}

pub fn engine_input_path(dir: &Path) -> PathBuf {
    dir.join("engine-input.json")
}

/// What the scanner engine was started with: the properties on its stdin and its arguments.
#[derive(Debug, Clone)]
pub struct EngineInput {
    /// Every property, its value as a string (pysonar sends some as JSON numbers and booleans).
    pub properties: BTreeMap<String, String>,
    /// The stand-in `java`'s arguments: JVM options, `-jar`, the engine jar.
    pub argv: Vec<String>,
}

impl EngineInput {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.properties.get(key).map(String::as_str)
    }

    /// The properties whose key starts with `prefix`, e.g. `sonar.pullrequest.`.
    pub fn with_prefix(&self, prefix: &str) -> BTreeMap<&str, &str> {
        self.properties
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }
}

/// The engine input the stand-in recorded in `dir`, if the engine was started.
pub fn read_engine_input(dir: &Path) -> Option<EngineInput> {
    let file = engine_input_path(dir);
    let stdin = std::fs::read_to_string(&file).ok()?;
    let json: serde_json::Value = serde_json::from_str(&stdin)
        .unwrap_or_else(|e| panic!("the engine's stdin is not JSON: {e}"));
    // Never shown whole in a failure: it holds the token.
    let list = json["scannerProperties"]
        .as_array()
        .unwrap_or_else(|| panic!("no scannerProperties list in the engine's stdin"));
    let mut properties = BTreeMap::new();
    for p in list {
        let key = p["key"].as_str().expect("a string key").to_owned();
        let value = match &p["value"] {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        assert!(
            properties.insert(key.clone(), value).is_none(),
            "{key} sent twice"
        );
    }
    let argv_file = PathBuf::from(format!("{}.argv", file.display()));
    // Each argument ends with NUL: an empty argument is kept, none means no arguments.
    let raw = std::fs::read(&argv_file).unwrap();
    let argv = match raw.strip_suffix(&[0]) {
        Some(args) => args
            .split(|&b| b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect(),
        None if raw.is_empty() => Vec::new(),
        None => panic!("{} does not end with NUL", argv_file.display()),
    };
    Some(EngineInput { properties, argv })
}

/// One run of a program: exit code, output, and the engine input if the engine started.
#[derive(Debug)]
pub struct ScannerRun {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub engine: Option<EngineInput>,
}

impl ScannerRun {
    /// The engine's input; fails the test with the run's output when the engine never started.
    pub fn engine(&self) -> &EngineInput {
        self.engine.as_ref().unwrap_or_else(|| {
            panic!(
                "the scanner engine was not started (exit {}):\n{}\n{}",
                self.code, self.stdout, self.stderr
            )
        })
    }
}

/// Runs a bootstrapper in `dir` with exactly `env` (plus PATH, then [`scanner_env`]) and
/// `args`, and reads what its engine received.
pub fn run_scanner(
    which: Scanner,
    dir: &Path,
    env: &[(String, String)],
    args: &[&str],
) -> ScannerRun {
    let mut command = Command::new(scanner_command(which));
    command.args(args);
    run_with_engine(command, dir, env)
}

/// Runs any command (a shell running scantoken then a scanner, or `scantoken run -- ...`)
/// in `dir` with exactly `env` plus PATH and [`scanner_env`] (which win), with a time limit,
/// and reads what the engine received. A previous run's engine input is removed first.
pub fn run_with_engine(mut command: Command, dir: &Path, env: &[(String, String)]) -> ScannerRun {
    let input = engine_input_path(dir);
    let _ = std::fs::remove_file(&input);
    let _ = std::fs::remove_file(format!("{}.argv", input.display()));
    let (out, err) = (dir.join("run.stdout"), dir.join("run.stderr"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap())
        .envs(env.iter().map(|(k, v)| (k, v)))
        .envs(scanner_env(dir))
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap());
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > SCANNER_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{command:?} still running after {SCANNER_TIMEOUT:?}:\n{}\n{}",
                std::fs::read_to_string(&out).unwrap_or_default(),
                std::fs::read_to_string(&err).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    ScannerRun {
        code: status.code().unwrap_or(-1),
        stdout: std::fs::read_to_string(&out).unwrap(),
        stderr: std::fs::read_to_string(&err).unwrap(),
        engine: read_engine_input(dir),
    }
}

/// Where the scan goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// SonarQube Server: the emulator on loopback, plain http.
    Server,
    /// SonarQube Cloud at https://sonarcloud.io / https://api.sonarcloud.io.
    CloudGlobal,
    /// SonarQube Cloud US at https://sonarqube.us / https://api.sonarqube.us.
    CloudUs,
    /// SonarQube Cloud at custom URLs (the emulator's web and API listeners, plain http on
    /// loopback), named in the job by the scanners' own variables `SONAR_SCANNER_SONARCLOUD_URL`
    /// and `SONAR_SCANNER_API_BASE_URL`.
    CloudCustom,
}

impl Flavor {
    pub const ALL: [Flavor; 4] = [
        Flavor::Server,
        Flavor::CloudGlobal,
        Flavor::CloudUs,
        Flavor::CloudCustom,
    ];
}

pub const PROJECT: &str = "acme_payments";
pub const ORGANIZATION: &str = "acme";
/// Canary tokens: each may appear in no output of scantoken's.
pub const CLOUD_TOKEN: &str = "sqco_CANARYscannersCANARYscannersCANARYscannersCANARYscannersCA";
pub const SERVER_TOKEN: &str = "sqp_ca0a7e57ca0a7e57ca0a7e57ca0a7e57ca0a7e57";

/// An emulated Sonar that bootstrappers can scan, and the job-level variables that reach it.
pub struct Sonar {
    pub flavor: Flavor,
    pub emulator: BlockingEmulator,
    pub proxy: Option<ConnectProxy>,
    /// Holds the test CA (`ca.pem`).
    ca_dir: tempfile::TempDir,
    /// Cloud at custom URLs: the job's variables that name the web and API URLs.
    custom_url_vars: [&'static str; 2],
}

/// The variables the scanners read for custom Cloud URLs (the names split at `_`, as the
/// scanners map `SONAR_SCANNER_X_Y` to `sonar.scanner.xY`).
pub const CUSTOM_URL_VARS: [&str; 2] =
    ["SONAR_SCANNER_SONARCLOUD_URL", "SONAR_SCANNER_API_BASE_URL"];

fn addr_of(url: &str) -> SocketAddr {
    let u = url::Url::parse(url).unwrap();
    format!("{}:{}", u.host_str().unwrap(), u.port().unwrap())
        .parse()
        .unwrap()
}

impl Sonar {
    pub fn start(flavor: Flavor) -> Sonar {
        let ca_dir = tempfile::tempdir().unwrap();
        let server = Scenario::from_yaml_str(&format!(
            r#"
flavor: server
server_version: "10.7.0.96327"
projects:
  - {{key: {PROJECT}, branches: [main, feature/login]}}
  - {{key: other}}
tokens:
  - {{value: "{SERVER_TOKEN}", kind: global-analysis}}
"#
        ));
        let cloud = |region: &str| {
            Scenario::from_yaml_str(&format!(
                r#"
flavor: cloud
region: {region}
organizations: [{ORGANIZATION}]
projects:
  - {{key: {PROJECT}, organization: {ORGANIZATION}}}
  - {{key: other, organization: {ORGANIZATION}}}
tokens:
  - {{value: "{CLOUD_TOKEN}", kind: sot, organization: {ORGANIZATION}, projects: all}}
"#
            ))
        };
        match flavor {
            Flavor::Server => Sonar {
                flavor,
                emulator: start_blocking(EmulatorConfig::new(server.unwrap())).unwrap(),
                proxy: None,
                ca_dir,
                custom_url_vars: CUSTOM_URL_VARS,
            },
            Flavor::CloudCustom => Sonar {
                flavor,
                emulator: start_blocking(EmulatorConfig::new(cloud("global").unwrap())).unwrap(),
                proxy: None,
                ca_dir,
                custom_url_vars: CUSTOM_URL_VARS,
            },
            Flavor::CloudGlobal | Flavor::CloudUs => {
                let us = flavor == Flavor::CloudUs;
                let (web, api) = Self::official_hosts(flavor);
                let pki = TestPki::generate(&[web, api]).unwrap();
                std::fs::write(ca_dir.path().join("ca.pem"), &pki.ca_pem).unwrap();
                let emulator = start_blocking(
                    EmulatorConfig::new(cloud(if us { "us" } else { "global" }).unwrap()).with_tls(
                        TlsFiles {
                            cert_pem: pki.server_cert_pem.clone(),
                            key_pem: pki.server_key_pem.clone(),
                        },
                    ),
                )
                .unwrap();
                let routes = HashMap::from([
                    (format!("{web}:443"), addr_of(&emulator.web_url())),
                    (format!("{api}:443"), addr_of(&emulator.api_url())),
                ]);
                Sonar {
                    flavor,
                    emulator,
                    proxy: Some(ConnectProxy::start(routes, false)),
                    ca_dir,
                    custom_url_vars: CUSTOM_URL_VARS,
                }
            }
        }
    }

    /// Cloud at custom URLs named by other variables, e.g. the run-together spellings
    /// `SONAR_SCANNER_SONARCLOUDURL` / `SONAR_SCANNER_APIBASEURL`, which no scanner reads.
    pub fn with_custom_url_vars(mut self, web: &'static str, api: &'static str) -> Sonar {
        assert_eq!(self.flavor, Flavor::CloudCustom);
        self.custom_url_vars = [web, api];
        self
    }

    fn official_hosts(flavor: Flavor) -> (&'static str, &'static str) {
        match flavor {
            Flavor::CloudUs => ("sonarqube.us", "api.sonarqube.us"),
            _ => ("sonarcloud.io", "api.sonarcloud.io"),
        }
    }

    pub fn token(&self) -> &'static str {
        match self.flavor {
            Flavor::Server => SERVER_TOKEN,
            _ => CLOUD_TOKEN,
        }
    }

    /// The web URL the scan must use (what scantoken verifies).
    pub fn web_url(&self) -> String {
        match self.flavor {
            Flavor::Server | Flavor::CloudCustom => self.emulator.web_url(),
            f => format!("https://{}", Self::official_hosts(f).0),
        }
    }

    /// The API URL the bootstrapper must use.
    pub fn api_url(&self) -> String {
        match self.flavor {
            Flavor::Server => format!("{}/api/v2", self.emulator.web_url()),
            Flavor::CloudCustom => self.emulator.api_url(),
            f => format!("https://{}", Self::official_hosts(f).1),
        }
    }

    /// `text` with the token replaced by `<TOKEN>`, for failure messages: even a canary is
    /// kept out of the test log.
    pub fn redact(&self, text: &str) -> String {
        text.replace(self.token(), "<TOKEN>")
    }

    pub fn organization(&self) -> Option<&'static str> {
        (self.flavor != Flavor::Server).then_some(ORGANIZATION)
    }

    /// The arguments that name the target for scantoken, as a pipeline would give them.
    pub fn target_args(&self) -> Vec<String> {
        let mut args = vec!["--project-key".to_string(), PROJECT.into()];
        match self.flavor {
            Flavor::Server => args.extend(["--host-url".into(), self.web_url()]),
            Flavor::CloudGlobal | Flavor::CloudCustom => {
                args.extend(["--organization".into(), ORGANIZATION.into()])
            }
            Flavor::CloudUs => args.extend([
                "--organization".into(),
                ORGANIZATION.into(),
                "--region".into(),
                "us".into(),
            ]),
        }
        args
    }

    /// Job-level variables: the token, and for Cloud the corporate-style proxy and its CA,
    /// trusted by each client the way it reads a CA: scantoken `SCANTOKEN_CA_FILE`, Node
    /// `NODE_EXTRA_CA_CERTS`, Python requests (pysonar) `REQUESTS_CA_BUNDLE` (requests reads
    /// neither `SSL_CERT_FILE` nor the system store; it uses certifi's bundle otherwise).
    pub fn job_env(&self) -> Vec<(String, String)> {
        let mut env = vec![("SONAR_TOKEN".to_string(), self.token().to_string())];
        if self.flavor == Flavor::CloudCustom {
            env.extend([
                (self.custom_url_vars[0].to_string(), self.web_url()),
                (self.custom_url_vars[1].to_string(), self.api_url()),
            ]);
        }
        if let Some(proxy) = &self.proxy {
            let ca = self.ca_dir.path().join("ca.pem");
            let ca = ca.to_str().unwrap().to_string();
            env.extend([
                ("HTTPS_PROXY".to_string(), proxy.url()),
                ("SCANTOKEN_CA_FILE".to_string(), ca.clone()),
                ("NODE_EXTRA_CA_CERTS".to_string(), ca.clone()),
                ("REQUESTS_CA_BUNDLE".to_string(), ca),
            ]);
        }
        env
    }

    /// The host names (with port when not the default) a client addresses for this Sonar.
    fn verified_hosts(&self) -> Vec<(String, ListenerKind)> {
        let authority = |url: String| url.split_once("://").unwrap().1.to_string();
        match self.flavor {
            Flavor::Server => vec![(authority(self.web_url()), ListenerKind::Web)],
            Flavor::CloudCustom => vec![
                (authority(self.web_url()), ListenerKind::Web),
                (authority(self.api_url()), ListenerKind::Api),
            ],
            f => {
                let (web, api) = Self::official_hosts(f);
                vec![
                    (web.to_string(), ListenerKind::Web),
                    (api.to_string(), ListenerKind::Api),
                ]
            }
        }
    }

    /// The token went to the verified host and nowhere else: every request that reached the
    /// emulator with a token carried this one, addressed to the verified web or API host on
    /// the listener that serves it; every tunnel through the proxy went to one of those hosts
    /// (a tunnel elsewhere is refused, and would show here). `min_requests`: how many token
    /// requests at least (a scan that sent none proved nothing). Returns the requests' paths.
    pub fn assert_token_only_to_verified_host(&self, min_requests: usize) -> Vec<String> {
        let hosts = self.verified_hosts();
        let mine = fingerprint(self.token());
        let mut paths = Vec::new();
        for r in self.emulator.log() {
            let Some(fp) = &r.token_fingerprint else {
                continue;
            };
            assert_eq!(fp, &mine, "another token was sent: {r:?}");
            assert_eq!(r.auth_scheme, "bearer", "{r:?}");
            assert!(
                hosts.iter().any(|(h, l)| *h == r.host && *l == r.listener),
                "token sent to {} on {:?}, not the verified {hosts:?}: {r:?}",
                r.host,
                r.listener
            );
            paths.push(r.path.clone());
        }
        assert!(
            paths.len() >= min_requests,
            "only {} requests carried the token: {paths:?}",
            paths.len()
        );
        if let Some(proxy) = &self.proxy {
            for tunnel in proxy.requests() {
                assert!(
                    hosts
                        .iter()
                        .any(|(h, _)| tunnel == format!("CONNECT {h}:443")),
                    "a tunnel to an unverified host: {tunnel}"
                );
            }
        }
        paths
    }
}

// Jobs: scantoken, then a scanner, as a pipeline runs them.

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Event {
    Branch,
    PullRequest,
}

pub const EVENTS: [Event; 2] = [Event::Branch, Event::PullRequest];

/// The CI fixtures (tests/fixtures/ci) and what each says the scan is about.
pub fn github_fixture(e: Event) -> &'static str {
    match e {
        Event::Branch => "github/push_branch",
        Event::PullRequest => "github/pull_request",
    }
}

pub fn gitlab_fixture(e: Event) -> &'static str {
    match e {
        Event::Branch => "gitlab/branch",
        Event::PullRequest => "gitlab/merge_request",
    }
}

/// The branch or pull-request properties and the revision the fixture's context gives
/// (tests/fixtures/ci/EXPECTED.json), as the engine must receive them.
pub fn scm_properties(fixture: &str) -> BTreeMap<String, String> {
    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(super::ci_fixtures().join("EXPECTED.json")).unwrap(),
    )
    .unwrap();
    let case = &expected[fixture];
    let mut props = BTreeMap::new();
    let s = |v: &serde_json::Value| v.as_str().unwrap().to_string();
    if let Some(pr) = case["pull_request"].as_object() {
        props.insert("sonar.pullrequest.key".into(), s(&pr["key"]));
        props.insert("sonar.pullrequest.branch".into(), s(&pr["source_branch"]));
        props.insert("sonar.pullrequest.base".into(), s(&pr["target_branch"]));
    } else {
        props.insert("sonar.branch.name".into(), s(&case["branch"]));
    }
    props.insert("sonar.scm.revision".into(), s(&case["revision"]));
    props
}

/// The engine got exactly what scantoken verified: host, API URL, organization (none on
/// Server), project key, the fixture's branch or pull request and revision, and the token.
pub fn assert_engine_got_verified(which: Scanner, sonar: &Sonar, fixture: &str, run: &ScannerRun) {
    let engine = run.engine();
    let what = sonar.redact(&format!(
        "{which:?} on {:?}, {fixture}: {engine:#?}",
        sonar.flavor
    ));
    assert_eq!(
        engine.get("sonar.host.url"),
        Some(sonar.web_url().as_str()),
        "{what}"
    );
    assert_eq!(
        engine.get("sonar.scanner.apiBaseUrl"),
        Some(sonar.api_url().as_str()),
        "{what}"
    );
    assert_eq!(
        engine.get("sonar.organization"),
        sonar.organization(),
        "{what}"
    );
    assert_eq!(engine.get("sonar.projectKey"), Some(PROJECT), "{what}");
    assert!(
        engine.get("sonar.token") == Some(sonar.token()),
        "not the verified token: {what}"
    );
    assert_eq!(engine.get("sonar.login"), None, "{what}");
    let expected = scm_properties(fixture);
    let got: BTreeMap<String, String> = engine
        .properties
        .iter()
        .filter(|(k, _)| {
            k.starts_with("sonar.branch.")
                || k.starts_with("sonar.pullrequest.")
                || *k == "sonar.scm.revision"
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert_eq!(got, expected, "{what}");
    // The engine was started as `java [jvm options] -jar <the engine served>`.
    let n = engine.argv.len();
    assert!(n >= 2 && engine.argv[n - 2] == "-jar", "{what}");
    assert!(
        engine.argv[n - 1].ends_with(sonar_emulator::bootstrap::ENGINE_FILENAME),
        "{what}"
    );
    let region = (sonar.flavor == Flavor::CloudUs).then_some("us");
    assert_eq!(engine.get("sonar.region"), region, "{what}");
}

/// The bootstrap calls each scanner makes with the token, in order (Cloud asks the API host for
/// the JRE and engine; Server asks `api/v2/analysis/*`, and downloads with the token).
pub fn bootstrap_calls(flavor: Flavor) -> Vec<&'static str> {
    match flavor {
        Flavor::Server => vec![
            "/api/v2/analysis/version",
            "/api/v2/analysis/jres",
            "/api/v2/analysis/jres/emulated-jre-linux-x64",
            "/api/v2/analysis/engine",
            "/api/v2/analysis/engine",
        ],
        _ => vec!["/analysis/jres", "/analysis/engine"],
    }
}

/// A workspace for one job: its own directory, the scanner's cache inside it.
pub fn workspace() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// A job's environment: a CI fixture's (tests/fixtures/ci), the Sonar's job-level variables,
/// then `extra` (e.g. `SONAR_PROJECT_KEY=other`, as a team might set at the job's level).
pub fn job_env(sonar: &Sonar, fixture: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env = super::fixture_env(fixture);
    env.extend(sonar.job_env());
    for (k, v) in extra {
        super::set(&mut env, k, v);
    }
    env
}

/// A GitHub job: one step runs `scantoken export` (its format chosen by the GitHub context:
/// file commands), the runner applies `GITHUB_ENV` to the following steps, and the next step
/// runs the scanner with `scanner_args`. A failed step ends the job, as on the runner: the
/// scanner is not started, and the job's exit code is scantoken's.
pub struct GithubJob {
    pub scan: ScannerRun,
    /// What scantoken wrote to `GITHUB_OUTPUT` (`verdict`, `project-key`, `host-url`).
    pub outputs: BTreeMap<String, String>,
}

pub fn github_job(
    which: Scanner,
    sonar: &Sonar,
    fixture: &str,
    extra_job_env: &[(&str, &str)],
    scanner_args: &[&str],
) -> GithubJob {
    let dir = workspace();
    let d = dir.path();
    let mut env = job_env(sonar, fixture, extra_job_env);
    let mut step = env.clone();
    for (name, file) in [
        ("GITHUB_ENV", "github_env"),
        ("GITHUB_OUTPUT", "github_output"),
    ] {
        std::fs::write(d.join(file), "").unwrap();
        super::set(&mut step, name, d.join(file).to_str().unwrap());
    }
    let mut args = vec!["export".to_string()];
    args.extend(sonar.target_args());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, stdout, stderr) = super::scantoken(d, &step, &args);
    assert_no_token(sonar, &[&stdout, &stderr]);
    let outputs =
        github_runner::parse_env_file(&std::fs::read_to_string(d.join("github_output")).unwrap())
            .unwrap()
            .into_iter()
            .collect();
    if code != 0 {
        let scan = ScannerRun {
            code,
            stdout,
            stderr,
            engine: None,
        };
        return GithubJob { scan, outputs };
    }
    let env_file = std::fs::read_to_string(d.join("github_env")).unwrap();
    github_runner::apply_env_file(&mut env, &env_file).unwrap();
    let scan = run_scanner(which, d, &env, scanner_args);
    GithubJob { scan, outputs }
}

/// A shell job (Jenkins, GitLab, Bitbucket...): one bash step running the README's snippet,
/// `exports=$(scantoken export --format shell ...) || exit $?; eval "$exports"; <scanner>`.
pub fn shell_job(
    which: Scanner,
    sonar: &Sonar,
    fixture: &str,
    extra_job_env: &[(&str, &str)],
    scanner_args: &[&str],
) -> ScannerRun {
    let dir = workspace();
    let mut env = job_env(sonar, fixture, extra_job_env);
    let scantoken_dir = assert_cmd::cargo::cargo_bin("scantoken")
        .parent()
        .unwrap()
        .to_path_buf();
    let path = format!(
        "{}:{}",
        scantoken_dir.display(),
        std::env::var("PATH").unwrap()
    );
    super::set(&mut env, "PATH", &path);
    let quote = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
    let target: Vec<String> = sonar.target_args().iter().map(|a| quote(a)).collect();
    let scanner: Vec<String> =
        std::iter::once(scanner_command(which).to_str().unwrap().to_string())
            .chain(scanner_args.iter().map(|a| a.to_string()))
            .map(|a| quote(&a))
            .collect();
    let script = format!(
        "set -eu\nexports=$(scantoken export --format shell {}) || exit $?\neval \"$exports\"\n{}\n",
        target.join(" "),
        scanner.join(" ")
    );
    let mut bash = Command::new("bash");
    bash.args(["-c", &script]);
    run_with_engine(bash, dir.path(), &env)
}

/// One step running `scantoken run <target> -- <scanner> <scanner_args>`: scantoken reads the
/// scanner's arguments, verifies, and starts the scanner with the exports in its environment
/// alone (nothing is written for other steps).
pub fn run_job(
    which: Scanner,
    sonar: &Sonar,
    fixture: &str,
    extra_job_env: &[(&str, &str)],
    scanner_args: &[&str],
) -> ScannerRun {
    let dir = workspace();
    let env = job_env(sonar, fixture, extra_job_env);
    let mut command = Command::new(assert_cmd::cargo::cargo_bin("scantoken"));
    command.arg("run");
    command.args(sonar.target_args());
    command.arg("--");
    command.arg(scanner_command(which));
    command.args(scanner_args);
    run_with_engine(command, dir.path(), &env)
}

/// The token is in no output of scantoken's (or of the scanner's), except the GitHub
/// runner's `::add-mask::` command, which the runner consumes (and then masks the value).
pub fn assert_no_token(sonar: &Sonar, outputs: &[&str]) {
    let mask = format!("::add-mask::{}", sonar.token());
    for o in outputs {
        for line in o.lines().filter(|l| l.trim() != mask) {
            assert!(
                !line.contains(sonar.token()),
                "the token was printed (shown here as <TOKEN>):\n{}",
                sonar.redact(o)
            );
        }
    }
}

pub fn assert_scan_is_the_verified_one(
    which: Scanner,
    sonar: &Sonar,
    fixture: &str,
    run: &ScannerRun,
) {
    assert_no_token(sonar, &[&run.stdout, &run.stderr]);
    assert_eq!(run.code, 0, "{which:?}:\n{}\n{}", run.stdout, run.stderr);
    assert_engine_got_verified(which, sonar, fixture, run);
}

/// What a truthful `ok` needs for a value in the job's environment that the scanner prefers
/// over the exports: scantoken refuses (exit 2, so the scan never starts), or the engine
/// receives exactly what scantoken verified.
pub fn assert_refused_or_scans_the_verified(
    which: Scanner,
    sonar: &Sonar,
    fixture: &str,
    run: &ScannerRun,
) {
    match &run.engine {
        None => assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr),
        Some(_) => assert_engine_got_verified(which, sonar, fixture, run),
    }
}
