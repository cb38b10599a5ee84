//! Regression tests for issue 10, findings 4 to 8, through the real binary: bounded network
//! bodies, the one rule for which URLs may carry a secret, bounded and non-blocking file
//! reads, password-like scanner properties as secrets, and the proxy corners. Each run is
//! bounded in time and its peak memory is measured (`wait4`'s rusage of the child).
#![cfg(unix)]

mod common;

use common::scripted::{Reply, Scripted};
use common::{fixture_env, pairs, set};
use serde_json::Value;
use sonar_emulator::{start_blocking, BlockingEmulator, EmulatorConfig, Scenario};
use std::path::Path;
use std::time::{Duration, Instant};

/// A SonarQube Server project analysis token: never printed anywhere.
const TOKEN: &str = "sqp_cafe0cafe0cafe0cafe0cafe0cafe0cafe0cafe";
/// A JWT standing in for a CI's OIDC token (Vault is a double here: no signature checked).
const JWT: &str = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJyZXBvOmFjbWUvcGF5bWVudHMifQ.c2lnbmF0dXJl";
/// The Vault token the double hands out.
const VAULT_TOKEN: &str = "hvs.CANARYvaultCANARYvault";
/// A proxy password inside the scanner's JSON parameters.
const PROXY_PASSWORD: &str = "CANARYproxyPW-7731";
/// Every run must end by itself well within this.
const TIME_LIMIT: Duration = Duration::from_secs(20);
/// What a hostile input may add to the peak memory of the same command on harmless input:
/// a bounded read costs its cap (64 KiB to 2 MiB), never what the other side offers.
const MAX_GROWTH_KIB: i64 = 4 * 1024;
/// And in all, for this debug build, whose own pages (relocations of a 130 MB binary) grow
/// with the code: the release build peaks at about 6 MB (BENCHMARKS.md).
const MAX_RSS_KIB: i64 = 32 * 1024;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    /// The child's peak resident set, KiB.
    max_rss_kib: i64,
    elapsed: Duration,
}

impl Run {
    fn report(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!("stdout is not JSON ({e}): {}\n{}", self.stdout, self.stderr)
        })
    }

    /// The verdict, its exit code and a part of its cause, from `verify --json`.
    fn expect_verdict(&self, verdict: &str, code: i32, cause_has: &[&str]) -> Value {
        let report = self.report();
        assert_eq!(report["verdict"], verdict, "{report:#}\n{}", self.stderr);
        assert_eq!(self.code, code, "{report:#}");
        let cause = report["cause"].as_str().unwrap_or_default();
        for part in cause_has {
            assert!(cause.contains(part), "cause lacks {part:?}: {cause}");
        }
        self.no_secret();
        report
    }

    /// A configuration error (exit 2) whose message has each part.
    fn expect_config_error(&self, parts: &[&str]) {
        assert_eq!(
            self.code, 2,
            "stdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        for part in parts {
            assert!(
                self.stderr.contains(part),
                "stderr lacks {part:?}: {}",
                self.stderr
            );
        }
        self.no_secret();
    }

    fn no_secret(&self) {
        for secret in [TOKEN, JWT, VAULT_TOKEN, PROXY_PASSWORD] {
            assert!(
                !self.stdout.contains(secret) && !self.stderr.contains(secret),
                "a secret was printed:\n{}\n{}",
                self.stdout,
                self.stderr
            );
        }
    }
}

/// Runs the real binary with exactly `env` (plus PATH) in `dir`, killing it (and failing)
/// past [`TIME_LIMIT`], and measures its peak RSS.
// The child is reaped by `wait4`, which also gives its rusage; clippy sees no `wait()`.
#[allow(clippy::zombie_processes)]
fn run(dir: &Path, env: &[(String, String)], args: &[&str]) -> Run {
    let out = tempfile::tempdir().unwrap();
    let (stdout_path, stderr_path) = (out.path().join("out"), out.path().join("err"));
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("scantoken"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap())
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(dir)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(&stdout_path).unwrap())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let start = Instant::now();
    let (status, usage) = loop {
        let mut status = 0;
        // SAFETY: an all-zero rusage is a valid value for wait4 to fill in.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: pid is our own child, not yet reaped; both out-pointers are valid.
        let reaped = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if reaped == pid {
            break (status, usage);
        }
        assert!(reaped == 0, "wait4 failed");
        if start.elapsed() > TIME_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "scantoken {args:?} did not end within {TIME_LIMIT:?}; stderr so far: {}",
                std::fs::read_to_string(&stderr_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -libc::WTERMSIG(status)
    };
    Run {
        code,
        stdout: std::fs::read_to_string(&stdout_path).unwrap(),
        stderr: std::fs::read_to_string(&stderr_path).unwrap(),
        max_rss_kib: usage.ru_maxrss,
        elapsed: start.elapsed(),
    }
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
}

fn server_emulator() -> BlockingEmulator {
    let scenario = Scenario::from_yaml_str(&format!(
        "flavor: server\nprojects: [{{key: acme_payments}}]\n\
         tokens: [{{value: \"{TOKEN}\", kind: project-analysis, projects: [acme_payments]}}]\n"
    ))
    .unwrap();
    start_blocking(EmulatorConfig::new(scenario)).unwrap()
}

/// A SonarQube Server target at `host` with the token in SONAR_TOKEN.
fn sonar_env(host: &str) -> Vec<(String, String)> {
    pairs(&[
        ("SONAR_HOST_URL", host),
        ("SONAR_TOKEN", TOKEN),
        ("SCANTOKEN_PROJECT_KEY", "acme_payments"),
    ])
}

/// A Vault exchange at `vault` with the OIDC token in a variable (as GitLab's id_tokens),
/// for a SonarQube Server target that is never reached in these tests.
fn vault_env(vault: &str) -> Vec<(String, String)> {
    pairs(&[
        ("SCANTOKEN_VAULT_URL", vault),
        ("SCANTOKEN_VAULT_ROLE", "sonar"),
        ("SCANTOKEN_VAULT_PATH", "secret/sonar/{project}"),
        ("SCANTOKEN_OIDC_TOKEN_ENV", "CI_JWT"),
        ("CI_JWT", JWT),
        ("SONAR_HOST_URL", "http://127.0.0.1:9"),
        ("SCANTOKEN_PROJECT_KEY", "acme_payments"),
    ])
}

/// A Vault double: login gives a token, the read gives `read`, revocation succeeds.
fn vault_double(read: Reply) -> Scripted {
    Scripted::start(
        vec![
            (
                "/v1/auth/jwt/login",
                Reply::Json(
                    200,
                    format!(r#"{{"auth":{{"client_token":"{VAULT_TOKEN}"}}}}"#),
                ),
            ),
            ("/v1/secret/data/", read),
            (
                "/v1/auth/token/revoke-self",
                Reply::Json(204, String::new()),
            ),
        ],
        Reply::Json(404, r#"{"errors":[]}"#.into()),
    )
}

/// A server that records what reaches it and answers 404: a proxy that must see nothing.
fn recorder() -> Scripted {
    Scripted::start(Vec::new(), Reply::Json(404, "{}".into()))
}

fn verify(env: &[(String, String)], extra: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["verify", "--json"];
    args.extend_from_slice(extra);
    run(dir.path(), env, &args)
}

// Finding 4: every network body is bounded.

#[test]
fn an_endless_sonar_answer_is_cut_at_64_kib_and_said_so() {
    let sonar = Scripted::start(Vec::new(), Reply::Endless);
    let r = verify(&sonar_env(&sonar.url), &["--retries", "0"]);
    r.expect_verdict(
        "unreachable",
        3,
        &["larger than the 64 KiB", "not a Sonar answer"],
    );
    assert!(r.elapsed < Duration::from_secs(10), "{:?}", r.elapsed);
}

#[test]
fn an_endless_vault_login_answer_ends_the_exchange_with_a_clear_verdict() {
    let vault = Scripted::start(vec![("/v1/auth/jwt/login", Reply::Endless)], Reply::Endless);
    let r = verify(&vault_env(&vault.url), &[]);
    r.expect_verdict("unreachable", 3, &["vault login", "larger than the 64 KiB"]);
}

#[test]
fn an_endless_vault_read_ends_the_exchange_and_the_vault_token_is_revoked() {
    let vault = vault_double(Reply::Endless);
    let r = verify(&vault_env(&vault.url), &[]);
    r.expect_verdict("unreachable", 3, &["vault read", "larger than the 64 KiB"]);
    let requests = vault.requests();
    assert!(
        requests
            .iter()
            .any(|l| l.starts_with("POST /v1/auth/token/revoke-self")),
        "{requests:?}"
    );
}

#[test]
fn an_endless_oidc_token_answer_ends_the_exchange() {
    let ci = Scripted::start(Vec::new(), Reply::Endless);
    let vault = vault_double(Reply::Json(200, "{}".into()));
    let env = github_oidc_env(&vault.url, &format!("{}/token?api-version=2.0", ci.url));
    let r = verify(&env, &[]);
    r.expect_verdict("unreachable", 3, &["OIDC token", "larger than the 64 KiB"]);
    assert!(!r.stdout.contains("CANARYrequestTOKEN") && !r.stderr.contains("CANARYrequestTOKEN"));
    assert!(
        vault.requests().is_empty(),
        "no login without an OIDC token"
    );
}

// Finding 5: one rule for which URLs may carry a secret.

#[test]
fn plain_http_vault_on_another_host_is_insecure_host_and_nothing_is_sent() {
    // The proxy would receive the requests if any were sent: it must see none.
    let proxy = recorder();
    let mut env = vault_env("http://vault.example.com:8200");
    set(&mut env, "HTTP_PROXY", &proxy.url);
    let r = verify(&env, &[]);
    r.expect_verdict(
        "insecure-host",
        2,
        &["vault login", "vault.example.com", "not this machine"],
    );
    assert!(proxy.requests().is_empty(), "{:?}", proxy.requests());
    assert!(r.report()["next_step"]
        .as_str()
        .unwrap()
        .contains("--allow-insecure-http"));
}

#[test]
fn a_plain_http_oidc_endpoint_is_insecure_host_and_nothing_is_sent() {
    let proxy = recorder();
    let mut env = github_oidc_env(
        "https://vault.example.com",
        "http://token.example.com/idtoken?api-version=2.0",
    );
    set(&mut env, "HTTP_PROXY", &proxy.url);
    let r = verify(&env, &[]);
    r.expect_verdict("insecure-host", 2, &["OIDC token", "token.example.com"]);
    assert!(proxy.requests().is_empty(), "{:?}", proxy.requests());
}

#[test]
fn a_loopback_vault_or_sonar_over_http_through_a_proxy_is_insecure_host() {
    let proxy = recorder();
    let vault = vault_double(Reply::Json(200, "{}".into()));
    let mut env = vault_env(&vault.url);
    set(&mut env, "HTTP_PROXY", &proxy.url);
    let r = verify(&env, &[]);
    r.expect_verdict("insecure-host", 2, &["through the proxy HTTP_PROXY="]);
    assert!(vault.requests().is_empty() && proxy.requests().is_empty());

    let sonar = server_emulator();
    let mut env = sonar_env(&sonar.web_url());
    set(&mut env, "HTTP_PROXY", &proxy.url);
    let r = verify(&env, &[]);
    r.expect_verdict(
        "insecure-host",
        2,
        &["through the proxy HTTP_PROXY=", "SONAR_HOST_URL"],
    );
    assert!(proxy.requests().is_empty(), "{:?}", proxy.requests());

    // Exempted by NO_PROXY, the token stays on this machine: verified directly.
    set(&mut env, "NO_PROXY", "localhost,127.0.0.1");
    verify(&env, &[]).expect_verdict("ok", 0, &["acme_payments"]);
    assert!(proxy.requests().is_empty(), "{:?}", proxy.requests());
}

// Finding 6: every input file is read bounded, and never blocks.

/// A project folder with `sonar-project.properties` as given by `make`.
fn project_dir(make: impl FnOnce(&Path)) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    make(&dir.path().join("sonar-project.properties"));
    dir
}

#[test]
fn a_properties_file_linked_to_dev_zero_or_a_fifo_is_refused_at_once() {
    let dir = project_dir(|p| std::os::unix::fs::symlink("/dev/zero", p).unwrap());
    let r = run(dir.path(), &sonar_env("http://127.0.0.1:9"), &["context"]);
    r.expect_config_error(&[
        "sonar-project.properties",
        "character device",
        "not a regular file",
    ]);

    let dir = project_dir(mkfifo);
    let r = run(dir.path(), &sonar_env("http://127.0.0.1:9"), &["context"]);
    r.expect_config_error(&["sonar-project.properties", "FIFO"]);

    let dir = project_dir(|p| std::fs::write(p, vec![b'#'; (1 << 20) + 1]).unwrap());
    let r = run(dir.path(), &sonar_env("http://127.0.0.1:9"), &["context"]);
    r.expect_config_error(&["sonar-project.properties", "larger than the 1 MiB"]);
}

#[test]
fn a_fifo_as_the_github_event_payload_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("event.json");
    mkfifo(&fifo);
    let mut env = fixture_env("github/pull_request");
    set(&mut env, "GITHUB_EVENT_PATH", fifo.to_str().unwrap());
    set(&mut env, "SCANTOKEN_PROJECT_KEY", "acme_payments");
    let r = run(dir.path(), &env, &["context"]);
    r.expect_config_error(&["GITHUB_EVENT_PATH", "FIFO"]);
}

#[test]
fn token_maps_and_ca_files_pointing_at_devices_or_fifos_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo.pem");
    mkfifo(&fifo);
    let fifo = fifo.to_str().unwrap();
    let zero = dir.path().join("zero.pem");
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    let zero = zero.to_str().unwrap();
    let base = sonar_env("https://sonar.example.com");

    let mut env = base.clone();
    set(&mut env, "SCANTOKEN_TOKEN_MAP", zero);
    run(dir.path(), &env, &["verify", "--json"]).expect_config_error(&[
        "SCANTOKEN_TOKEN_MAP",
        "the token map",
        "character device",
    ]);

    for (var, value, says) in [
        ("SSL_CERT_FILE", fifo, "FIFO"),
        ("SONAR_ROOT_CERT", fifo, "FIFO"),
        ("SCANTOKEN_CA_FILE", zero, "character device"),
    ] {
        let mut env = base.clone();
        set(&mut env, var, value);
        run(dir.path(), &env, &["verify", "--json"]).expect_config_error(&[
            var,
            "the CA file",
            says,
        ]);
    }
    run(dir.path(), &base, &["verify", "--json", "--ca-file", zero])
        .expect_config_error(&["ca-file", "character device"]);

    let mut env = vault_env("https://vault.example.com");
    set(&mut env, "SCANTOKEN_VAULT_CA_FILE", zero);
    run(dir.path(), &env, &["verify", "--json"]).expect_config_error(&[
        "SCANTOKEN_VAULT_CA_FILE",
        "the CA file",
        "character device",
    ]);
}

// Finding 7: password-like scanner properties are secrets.

fn json_params_env() -> Vec<(String, String)> {
    let mut env = sonar_env("http://127.0.0.1:9");
    set(
        &mut env,
        "SONAR_SCANNER_JSON_PARAMS",
        &format!(
            r#"{{"sonar.scanner.proxyHost":"proxy","sonar.scanner.proxyPassword":"{PROXY_PASSWORD}"}}"#
        ),
    );
    env
}

#[test]
fn a_proxy_password_in_the_scanner_json_is_a_secret_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let env = json_params_env();
    for format in ["dotenv", "properties", "json"] {
        let r = run(
            dir.path(),
            &env,
            &["export", "--no-verify", "--verbose", "--format", format],
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        r.no_secret();
        assert!(
            !r.stdout.contains("SONAR_SCANNER_JSON_PARAMS"),
            "{format}: {}",
            r.stdout
        );
        assert!(
            r.stdout.contains("SONAR_HOST_URL"),
            "{format}: {}",
            r.stdout
        );
        assert!(
            r.stderr.contains("sonar.scanner.proxyPassword")
                && r.stderr.contains("--include-secrets"),
            "{}",
            r.stderr
        );
        let r = run(
            dir.path(),
            &env,
            &[
                "export",
                "--no-verify",
                "--include-secrets",
                "--format",
                format,
            ],
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(
            r.stdout.contains(PROXY_PASSWORD),
            "--include-secrets keeps it: {}",
            r.stdout
        );
    }

    // On GitHub: masked before anything else, and written to GITHUB_ENV for the scanner.
    let mut env = fixture_env("github/push_branch");
    env.extend(json_params_env());
    let github_env = dir.path().join("github_env");
    set(&mut env, "GITHUB_ENV", github_env.to_str().unwrap());
    let r = run(dir.path(), &env, &["export", "--no-verify"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mask = r
        .stdout
        .lines()
        .position(|l| l.starts_with("::add-mask::") && l.contains(PROXY_PASSWORD))
        .unwrap_or_else(|| panic!("the JSON is masked: {}", r.stdout));
    let first_other = r
        .stdout
        .lines()
        .position(|l| !l.starts_with("::add-mask::"));
    assert!(first_other.is_none_or(|i| i > mask), "{}", r.stdout);
    assert!(std::fs::read_to_string(&github_env)
        .unwrap()
        .contains(PROXY_PASSWORD));
    assert!(!r.stderr.contains(PROXY_PASSWORD), "{}", r.stderr);

    // On Azure: set as secret variables (registered for masking), with the mapping to do.
    let mut env = fixture_env("azure/branch");
    env.extend(json_params_env());
    let r = run(dir.path(), &env, &["export", "--no-verify"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for name in ["SONAR_SCANNER_JSON_PARAMS", "SONARQUBE_SCANNER_PARAMS"] {
        let secret = format!("##vso[task.setvariable variable={name};issecret=true]");
        let public = format!("##vso[task.setvariable variable={name}]");
        assert!(
            r.stdout.lines().any(|l| l.starts_with(&secret)),
            "{}",
            r.stdout
        );
        assert!(
            !r.stdout.lines().any(|l| l.starts_with(&public)),
            "{}",
            r.stdout
        );
    }
    assert!(
        r.stdout
            .contains("env: SONAR_SCANNER_JSON_PARAMS: $(SONAR_SCANNER_JSON_PARAMS)"),
        "{}",
        r.stdout
    );
}

// Finding 8: proxy corners.

#[test]
fn a_plain_http_proxy_answering_407_is_a_proxy_error_with_the_proxy_in_the_evidence() {
    let proxy = Scripted::start(Vec::new(), Reply::ProxyAuth);
    // An http Sonar through it (allowed explicitly), then an https one (CONNECT).
    let mut env = sonar_env("http://sonar.internal.example:9000");
    set(&mut env, "HTTP_PROXY", &proxy.url);
    let r = verify(&env, &["--allow-insecure-http"]);
    let report = r.expect_verdict("proxy-error", 3, &["407", "HTTP_PROXY=http://127.0.0.1"]);
    let probe = &report["probes"][0];
    assert!(
        probe["proxy"].as_str().unwrap().starts_with("HTTP_PROXY="),
        "{report:#}"
    );

    let mut env = sonar_env("https://sonar.internal.example");
    set(&mut env, "HTTPS_PROXY", &proxy.url);
    let r = verify(&env, &[]);
    r.expect_verdict("proxy-error", 3, &["HTTPS_PROXY="]);
    assert!(proxy
        .requests()
        .iter()
        .any(|l| l.starts_with("CONNECT sonar.internal.example:443")));

    // Vault behind the same proxy.
    let mut env = vault_env("https://vault.internal.example");
    set(&mut env, "HTTPS_PROXY", &proxy.url);
    verify(&env, &[]).expect_verdict("proxy-error", 3, &["vault login", "HTTPS_PROXY="]);
}

#[test]
fn no_proxy_star_exempts_ip_literals_and_an_entry_with_a_port_is_honoured() {
    let sonar = server_emulator();
    let port = url::Url::parse(&sonar.web_url()).unwrap().port().unwrap();
    let proxy = recorder();
    let mut env = sonar_env(&sonar.web_url());
    set(&mut env, "HTTP_PROXY", &proxy.url);
    set(&mut env, "HTTPS_PROXY", &proxy.url);
    for no_proxy in [
        "*".to_owned(),
        format!("127.0.0.1:{port}"),
        "example.com, 127.0.0.0/8".to_owned(),
    ] {
        set(&mut env, "NO_PROXY", &no_proxy);
        verify(&env, &[]).expect_verdict("ok", 0, &["acme_payments"]);
    }
    assert!(proxy.requests().is_empty(), "{:?}", proxy.requests());
    // An entry for another port does not exempt this one: the proxy would be in the path.
    set(
        &mut env,
        "NO_PROXY",
        &format!("127.0.0.1:{}", port.wrapping_add(1)),
    );
    verify(&env, &[]).expect_verdict("insecure-host", 2, &["through the proxy"]);
}

// Peak memory, whatever a server, Vault or a file offers.

#[test]
fn peak_memory_is_bounded_whatever_a_server_vault_or_a_file_offers() {
    let endless = Scripted::start(Vec::new(), Reply::Endless);
    let login_endless =
        Scripted::start(vec![("/v1/auth/jwt/login", Reply::Endless)], Reply::Endless);
    let read_endless = vault_double(Reply::Endless);
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    mkfifo(&fifo);
    let zero = dir.path().join("zero");
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    let (fifo, zero) = (fifo.to_str().unwrap(), zero.to_str().unwrap());

    let mut oidc = vault_env(&read_endless.url);
    oidc.retain(|(k, _)| k != "SCANTOKEN_OIDC_TOKEN_ENV" && k != "CI_JWT");
    set(
        &mut oidc,
        "ACTIONS_ID_TOKEN_REQUEST_URL",
        &format!("{}/token?x=1", endless.url),
    );
    set(
        &mut oidc,
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
        "CANARYrequestTOKEN",
    );
    let with = |base: Vec<(String, String)>, var: &str, value: &str| {
        let mut env = base;
        set(&mut env, var, value);
        env
    };
    let local = sonar_env("http://127.0.0.1:9");
    type Case<'a> = (&'a str, Vec<(String, String)>, i32);
    let cases: Vec<Case> = vec![
        ("endless Sonar probes", sonar_env(&endless.url), 3),
        ("endless Vault login", vault_env(&login_endless.url), 3),
        ("endless KV read", vault_env(&read_endless.url), 3),
        ("endless OIDC answer", oidc, 3),
        (
            "token map on /dev/zero",
            with(local.clone(), "SCANTOKEN_TOKEN_MAP", zero),
            2,
        ),
        (
            "CA file on /dev/zero",
            with(local.clone(), "SCANTOKEN_CA_FILE", zero),
            2,
        ),
        (
            "SSL_CERT_FILE a FIFO",
            with(local.clone(), "SSL_CERT_FILE", fifo),
            2,
        ),
    ];
    // The same command on harmless input (a server that refuses the connection): the same
    // code loaded, the same runtime and TLS roots.
    let baseline = run(dir.path(), &local, &["verify", "--json", "--retries", "0"]).max_rss_kib;
    eprintln!("baseline (connection refused): peak RSS {baseline} KiB");
    for (what, env, code) in cases {
        let r = run(dir.path(), &env, &["verify", "--json", "--retries", "0"]);
        assert_eq!(r.code, code, "{what}: {}\n{}", r.stdout, r.stderr);
        eprintln!("{what}: peak RSS {} KiB in {:?}", r.max_rss_kib, r.elapsed);
        assert!(
            r.max_rss_kib < MAX_RSS_KIB && r.max_rss_kib - baseline < MAX_GROWTH_KIB,
            "{what}: peak RSS {} KiB, {} KiB over the baseline",
            r.max_rss_kib,
            r.max_rss_kib - baseline
        );
    }
    for (what, link) in [
        ("properties on /dev/zero", "/dev/zero"),
        ("properties a FIFO", fifo),
    ] {
        let project = project_dir(|p| std::os::unix::fs::symlink(link, p).unwrap());
        let r = run(project.path(), &local, &["context"]);
        assert_eq!(r.code, 2, "{what}: {}", r.stderr);
        assert!(
            r.max_rss_kib < MAX_RSS_KIB,
            "{what}: peak RSS {} KiB",
            r.max_rss_kib
        );
    }
    let mut env = fixture_env("github/pull_request");
    set(&mut env, "GITHUB_EVENT_PATH", fifo);
    let r = run(dir.path(), &env, &["context"]);
    assert_eq!(r.code, 2, "event payload a FIFO: {}", r.stderr);
    assert!(
        r.max_rss_kib < MAX_RSS_KIB,
        "peak RSS {} KiB",
        r.max_rss_kib
    );
}

/// The Vault token is revoked after the read; a revocation Vault refuses or never answers
/// is a warning saying why (the token lives on until its TTL), one it accepts is silent.
#[test]
fn a_failed_revocation_is_a_warning_and_an_accepted_one_is_silent() {
    let sonar = server_emulator();
    let read = Reply::Json(
        200,
        format!(r#"{{"data":{{"data":{{"token":"{TOKEN}"}}}}}}"#),
    );
    for (revocation, warned) in [
        (Reply::Json(204, String::new()), false),
        (
            Reply::Json(403, r#"{"errors":["permission denied"]}"#.into()),
            true,
        ),
        (Reply::Hangup, true),
    ] {
        let hangup = matches!(revocation, Reply::Hangup);
        let vault = Scripted::start(
            vec![
                (
                    "/v1/auth/jwt/login",
                    Reply::Json(
                        200,
                        format!(r#"{{"auth":{{"client_token":"{VAULT_TOKEN}"}}}}"#),
                    ),
                ),
                ("/v1/secret/data/", read.clone()),
                ("/v1/auth/token/revoke-self", revocation),
            ],
            Reply::Json(404, r#"{"errors":[]}"#.into()),
        );
        let mut env = vault_env(&vault.url);
        set(&mut env, "SONAR_HOST_URL", &sonar.web_url());
        let r = verify(&env, &[]);
        r.expect_verdict("ok", 0, &["acme_payments"]);
        let said = format!("{}{}", r.stdout, r.stderr);
        assert_eq!(said.contains("could not be revoked"), warned, "{said}");
        if hangup {
            // Why it could not be reached, from the error's whole chain of causes.
            let why = said
                .split("/v1/auth/token/revoke-self could not be reached: ")
                .nth(1)
                .unwrap_or_else(|| panic!("{said}"));
            let why = why.to_lowercase();
            assert!(
                ["connection", "closed", "reset"]
                    .iter()
                    .any(|w| why.contains(w)),
                "{said}"
            );
        } else if warned {
            assert!(
                said.contains("the Vault token could not be revoked (/v1/auth/token/revoke-self answered 403); it expires with its TTL"),
                "{said}"
            );
        }
    }
}

/// Exchange errors name the URL that answered, without its query, and the proxy that
/// carried the request: the answer may be the proxy's.
#[test]
fn exchange_errors_name_the_url_and_the_proxy() {
    // An endless login answer: the login URL is named.
    let vault = Scripted::start(vec![("/v1/auth/jwt/login", Reply::Endless)], Reply::Endless);
    let r = verify(&vault_env(&vault.url), &[]);
    r.expect_verdict(
        "unreachable",
        3,
        &[&format!("{}/v1/auth/jwt/login answered 200", vault.url)],
    );

    // An insecure OIDC endpoint: named without the query.
    let env = github_oidc_env(
        "https://vault.example.com",
        "http://token.example.com/idtoken?api-version=2.0&audience=vault",
    );
    let report = verify(&env, &[]).expect_verdict(
        "insecure-host",
        2,
        &[": http://token.example.com/idtoken"],
    );
    assert!(
        !report["cause"].to_string().contains("api-version"),
        "{report:#}"
    );

    // A Vault reached through a plain HTTP proxy (allowed by --allow-insecure-http) that
    // refuses the read: the proxy is named beside the answer.
    let proxy = Scripted::start(
        vec![
            (
                "/v1/auth/jwt/login",
                Reply::Json(
                    200,
                    format!(r#"{{"auth":{{"client_token":"{VAULT_TOKEN}"}}}}"#),
                ),
            ),
            (
                "/v1/secret/data/",
                Reply::Json(403, r#"{"errors":["permission denied"]}"#.into()),
            ),
            (
                "/v1/auth/token/revoke-self",
                Reply::Json(204, String::new()),
            ),
        ],
        Reply::Json(404, r#"{"errors":[]}"#.into()),
    );
    let mut env = vault_env("http://vault.example.com:8200");
    set(&mut env, "HTTP_PROXY", &proxy.url);
    let r = verify(&env, &["--allow-insecure-http"]);
    let report = r.report();
    let cause = report["cause"].as_str().unwrap_or_default();
    assert!(
        cause.contains(&format!(
            "answered 403 (the role's policy does not allow this path) (via proxy HTTP_PROXY={}/)",
            proxy.url
        )),
        "{report:#}\n{}",
        r.stderr
    );
    r.no_secret();
}

/// What a refusal says is what came back: a token endpoint that refuses is a refusal even
/// if its body holds a value, and a Vault error without messages says so.
#[test]
fn refusals_are_read_as_refusals() {
    let ci = Scripted::start(
        Vec::new(),
        Reply::Json(403, r#"{"value":"x.CANARYnotAtoken.y"}"#.into()),
    );
    let vault = vault_double(Reply::Json(200, "{}".into()));
    let env = github_oidc_env(&vault.url, &format!("{}/token?api-version=2.0", ci.url));
    let r = verify(&env, &[]);
    let report = r.report();
    assert!(
        report["cause"]
            .as_str()
            .unwrap_or_default()
            .contains("the CI's token endpoint answered 403 without a token"),
        "{report:#}"
    );
    assert!(vault.requests().is_empty(), "{:?}", vault.requests());

    let vault = Scripted::start(
        vec![(
            "/v1/auth/jwt/login",
            Reply::Json(400, r#"{"errors":[]}"#.into()),
        )],
        Reply::Json(404, r#"{"errors":[]}"#.into()),
    );
    let r = verify(&vault_env(&vault.url), &[]);
    let report = r.report();
    let cause = report["cause"].as_str().unwrap_or_default();
    assert!(
        cause.contains("answered 400") && cause.contains("no error message"),
        "{report:#}"
    );
}

/// A Vault exchange at `vault` whose OIDC token comes from a GitHub-style token endpoint at
/// `request_url` (request token `CANARYrequestTOKEN`).
fn github_oidc_env(vault: &str, request_url: &str) -> Vec<(String, String)> {
    let mut env = vault_env(vault);
    env.retain(|(k, _)| k != "SCANTOKEN_OIDC_TOKEN_ENV" && k != "CI_JWT");
    set(&mut env, "ACTIONS_ID_TOKEN_REQUEST_URL", request_url);
    set(
        &mut env,
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
        "CANARYrequestTOKEN",
    );
    env
}
