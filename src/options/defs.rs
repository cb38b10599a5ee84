//! Every option, defined once: its name (which is also its flag `--name`, its GitHub Action
//! input and its `SCANTOKEN_*` / `INPUT_*` variables), its Azure task input, its type, its
//! default and its one line of help. clap's arguments, `--help`, and the checks that keep
//! `action.yml`, `task.json` and the README's option table in step are all made from this.

use super::{Kind, OptionDef, Scope};

const POLICY: &[&str] = &["fail", "skip"];
const UNREACHABLE_POLICY: &[&str] = &["fail", "warn"];
/// `trust::Policy`'s names (a test there keeps them in step).
const TRUST_POLICY: &[&str] = &["forks-untrusted", "all-untrusted", "trusted"];
const FORMATS: &[&str] = &[
    "auto",
    "github",
    "azure",
    "shell",
    "dotenv",
    "properties",
    "json",
];

/// Shorthand for a row with the common case: a flag, a GitHub input, no default.
const fn opt(
    name: &'static str,
    azure: Option<&'static str>,
    kind: Kind,
    scope: Scope,
    value_name: &'static str,
    help: &'static str,
) -> OptionDef {
    OptionDef {
        name,
        azure,
        github: true,
        flag: true,
        kind,
        default: None,
        scope,
        value_name,
        help,
    }
}

const fn with_default(mut d: OptionDef, default: &'static str) -> OptionDef {
    d.default = Some(default);
    d
}

const fn no_github(mut d: OptionDef) -> OptionDef {
    d.github = false;
    d
}

const fn no_flag(mut d: OptionDef) -> OptionDef {
    d.flag = false;
    d
}

pub const OPTIONS: &[OptionDef] = &[
    // The target.
    opt("host-url", Some("hostUrl"), Kind::Text, Scope::Target, "URL",
        "SonarQube Server URL; leave unset for SonarQube Cloud"),
    opt("region", Some("region"), Kind::Text, Scope::Target, "REGION",
        "SonarQube Cloud region: `us`, or unset for the global instance"),
    opt("organization", Some("organization"), Kind::Text, Scope::Target, "KEY",
        "SonarQube Cloud organization key"),
    opt("project-key", Some("projectKey"), Kind::Text, Scope::Target, "KEY",
        "Sonar project key (else sonar.projectKey where the scanner would read it)"),
    opt("project-base-dir", Some("projectBaseDir"), Kind::Text, Scope::Target, "DIR",
        "Where sonar-project.properties is (default: the current directory)"),
    opt("projects", Some("projects"), Kind::List, Scope::Verify, "GLOB",
        "Several projects in one run: their directories as globs relative to the working directory (services/*; repeat it, or separate with commas or lines), or auto"),
    opt("sonarcloud-url", Some("sonarcloudUrl"), Kind::Text, Scope::Target, "URL",
        "Custom SonarQube Cloud web URL, with api-base-url (sonar.scanner.sonarcloudUrl)"),
    opt("api-base-url", Some("apiBaseUrl"), Kind::Text, Scope::Target, "URL",
        "Custom SonarQube Cloud API URL, with sonarcloud-url (sonar.scanner.apiBaseUrl)"),
    no_github(opt("sonarcloud-connection", Some("sonarcloudConnection"), Kind::Text, Scope::Target, "ID",
        "Azure DevOps SonarCloud service connection whose URL and token to use (the task's connectedService input)")),
    opt("default-branch", Some("defaultBranch"), Kind::Text, Scope::Target, "BRANCH",
        "The branch analysed as the project's main branch (no sonar.branch.name), where the CI does not say"),
    with_default(opt("pull-request-trust", Some("pullRequestTrust"), Kind::Choice(TRUST_POLICY), Scope::Target, "POLICY",
        "Whose files a pull request build believes: forks-untrusted (a fork's files may not steer the token), all-untrusted, or trusted"),
        "forks-untrusted"),
    // The token.
    no_flag(opt("token", Some("token"), Kind::Text, Scope::Verify, "TOKEN",
        "The Sonar token; never a flag (a command line is visible to every process): input or SCANTOKEN_TOKEN, else SONAR_TOKEN")),
    opt("token-map", Some("tokenMap"), Kind::Text, Scope::Verify, "FILE",
        "Token map: a YAML file (or the YAML itself) choosing the token variable by project-key pattern"),
    // The Vault exchange.
    opt("vault-url", Some("vaultUrl"), Kind::Text, Scope::Verify, "URL",
        "Vault/OpenBao to exchange the CI's OIDC token at for the scan token"),
    opt("vault-role", Some("vaultRole"), Kind::Text, Scope::Verify, "ROLE",
        "The JWT auth role to log in with"),
    with_default(opt("vault-path", Some("vaultPath"), Kind::Text, Scope::Verify, "PATH",
        "KV v2 path of the token, templated by {organization} and {project}"),
        "secret/sonar/{organization}/{project}"),
    opt("vault-namespace", Some("vaultNamespace"), Kind::Text, Scope::Verify, "NS",
        "Vault namespace (X-Vault-Namespace; also VAULT_NAMESPACE)"),
    with_default(opt("vault-auth-mount", Some("vaultAuthMount"), Kind::Text, Scope::Verify, "MOUNT",
        "Mount of the JWT auth method"), "jwt"),
    with_default(opt("vault-field", Some("vaultField"), Kind::Text, Scope::Verify, "FIELD",
        "Field of the Vault secret that holds the token"), "token"),
    opt("vault-ca-file", Some("vaultCaFile"), Kind::Text, Scope::Verify, "FILE",
        "Extra CA certificate (PEM) for Vault"),
    with_default(opt("oidc-audience", None, Kind::Text, Scope::Verify, "AUD",
        "Audience of the OIDC token GitHub issues for the Vault login"), "sonar"),
    opt("oidc-token-env", Some("oidcTokenEnv"), Kind::Text, Scope::Verify, "VAR",
        "Variable that already holds an OIDC token (GitLab id_tokens, Jenkins, Bitbucket)"),
    no_github(opt("azure-service-connection", Some("azureServiceConnection"), Kind::Text, Scope::Verify, "ID",
        "Azure service connection (workload identity federation) that issues the OIDC token")),
    // What to do when verification cannot say yes.
    with_default(opt("on-missing-token", Some("onMissingToken"), Kind::Choice(POLICY), Scope::Verify, "POLICY",
        "No token: fail (exit 1), or skip (exit 0, nothing exported or run) on builds the CI gives no secrets (fork and Dependabot PRs); elsewhere a missing token still fails"), "fail"),
    with_default(opt("on-project-not-found", Some("onProjectNotFound"), Kind::Choice(POLICY), Scope::Verify, "POLICY",
        "No such project (a shared pipeline over many repositories): fail (exit 1), or skip (exit 0, nothing exported or run)"), "fail"),
    with_default(opt("on-unreachable", Some("onUnreachable"), Kind::Choice(UNREACHABLE_POLICY), Scope::Verify, "POLICY",
        "Server unreachable or failing: fail (exit 3), or warn (exit 0; export and run go on)"), "fail"),
    // The network.
    opt("ca-file", Some("caFile"), Kind::Text, Scope::Verify, "FILE",
        "Extra CA certificate(s) to trust, PEM (also SONAR_ROOT_CERT, SSL_CERT_FILE)"),
    with_default(opt("timeout", Some("timeout"), Kind::Number { min: 1, max: 3600 }, Scope::Verify, "SECS",
        "Seconds each request may take"), "30"),
    with_default(opt("retries", Some("retries"), Kind::Number { min: 0, max: 10 }, Scope::Verify, "N",
        "Retries after a 429, 5xx, reset or timeout"), "2"),
    with_default(opt("allow-insecure-http", Some("allowInsecureHttp"), Kind::Bool, Scope::Verify, "",
        "Allow sending secrets over plain http to a non-loopback host or through a proxy"), "false"),
    with_default(opt("expiry-warning-days", Some("expiryWarningDays"), Kind::Number { min: 0, max: 36_500 }, Scope::Verify, "DAYS",
        "Warn when the token expires within this many days"), "14"),
    with_default(opt("jobs", Some("jobs"), Kind::Number { min: 1, max: 64 }, Scope::Run, "N",
        "run --projects: how many scans run at once (each one's output kept whole)"), "1"),
    with_default(opt("fail-fast", Some("failFast"), Kind::Bool, Scope::Run, "",
        "run --projects: start no further scan once one fails"), "false"),
    // What is written.
    no_github(with_default(opt("format", None, Kind::Choice(FORMATS), Scope::Export, "FORMAT",
        "Output format: the detected CI's own (auto), or one named"), "auto")),
    no_github(opt("output", None, Kind::Text, Scope::Written, "FILE",
        "export: write the output to this file instead of stdout; run: write the exports without secrets there as dotenv, for later jobs")),
    no_github(with_default(opt("include-secrets", None, Kind::Bool, Scope::Export, "",
        "Put the token in dotenv, properties and json output too (those are not masked)"), "false")),
    with_default(opt("token-in-json", Some("tokenInJson"), Kind::Bool, Scope::Export, "",
        "Also put sonar.token in the scanner JSON variables (the .NET scanner reads only those); both become secrets"), "false"),
    with_default(opt("no-verify", Some("noVerify"), Kind::Bool, Scope::Export, "",
        "Write the exports without checking the token against the server (air-gapped use)"), "false"),
    // The scan `run` starts: on the command line, the words after `--`.
    no_flag(opt("scan-command", Some("scanCommand"), Kind::Text, Scope::Run, "COMMAND",
        "The scan to run (`run`): on the command line the words after --; as an input, split as a shell splits words")),
];
