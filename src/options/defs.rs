//! Every option, defined once: its name (which is also its flag `--name`, its GitHub Action
//! input and its `SCANTOKEN_*` / `INPUT_*` variables), its Azure task input, its type, its
//! default and its one line of help. clap's arguments, `--help`, and the checks that keep
//! `action.yml`, `task.json` and the README's option table in step are all made from this.

use super::{Kind, OptionDef, Scope};

const POLICY: &[&str] = &["fail", "skip"];
const UNREACHABLE_POLICY: &[&str] = &["fail", "warn"];
/// `trust::Policy`'s names (a test there keeps them in step).
const TRUST_POLICY: &[&str] = &["forks-untrusted", "all-untrusted", "trusted"];
/// `audit::AuditFormat`'s and `audit::Progress`'s names.
const AUDIT_FORMATS: &[&str] = &["table", "markdown", "json"];
const PROGRESS: &[&str] = &["auto", "bar", "lines", "off"];
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
        audit: false,
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

/// `audit` takes it too.
const fn audit_too(mut d: OptionDef) -> OptionDef {
    d.audit = true;
    d
}

/// One of audit's own flags. The GitHub Action and the Azure task run `export` and `run`,
/// never `audit` (a scheduled job calls the command itself), so none is an input of theirs.
const fn audit(
    name: &'static str,
    kind: Kind,
    value_name: &'static str,
    help: &'static str,
) -> OptionDef {
    no_github(opt(name, None, kind, Scope::Audit, value_name, help))
}

const fn no_flag(mut d: OptionDef) -> OptionDef {
    d.flag = false;
    d
}

pub const OPTIONS: &[OptionDef] = &[
    // The target.
    audit_too(opt("host-url", Some("hostUrl"), Kind::Text, Scope::Target, "URL",
        "SonarQube Server URL; leave unset for SonarQube Cloud")),
    audit_too(opt("region", Some("region"), Kind::Text, Scope::Target, "REGION",
        "SonarQube Cloud region: `us`, or unset for the global instance")),
    audit_too(opt("organization", Some("organization"), Kind::Text, Scope::Target, "KEY",
        "SonarQube Cloud organization key")),
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
    audit_too(opt("token-map", Some("tokenMap"), Kind::Text, Scope::Verify, "FILE",
        "Token map: a YAML file (or the YAML itself) choosing the token variable by project-key pattern")),
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
    audit_too(opt("ca-file", Some("caFile"), Kind::Text, Scope::Verify, "FILE",
        "Extra CA certificate(s) to trust, PEM (also SONAR_ROOT_CERT, SSL_CERT_FILE)")),
    audit_too(with_default(opt("timeout", Some("timeout"), Kind::Number { min: 1, max: 3600 }, Scope::Verify, "SECS",
        "Seconds each request may take"), "30")),
    audit_too(with_default(opt("retries", Some("retries"), Kind::Number { min: 0, max: 10 }, Scope::Verify, "N",
        "Retries after a 429, 5xx, reset or timeout"), "2")),
    audit_too(with_default(opt("allow-insecure-http", Some("allowInsecureHttp"), Kind::Bool, Scope::Verify, "",
        "Allow sending secrets over plain http to a non-loopback host or through a proxy"), "false")),
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
    // audit's own flags (`scantoken audit`; `audit merge` has its own few, in src/audit).
    audit("project", Kind::List, "KEY",
        "audit: a project key to check; repeat it (one a line in the variable)"),
    audit("projects-file", Kind::Text, "FILE",
        "audit: a file of project keys, one a line (# starts a comment)"),
    audit("token-env", Kind::List, "VAR",
        "audit: a variable holding a token to check against every project; repeat it (one a line in the variable)"),
    with_default(audit("concurrency", Kind::Number { min: 1, max: 256 }, "N",
        "audit: requests in flight at once"), "32"),
    with_default(audit("deadline", Kind::Number { min: 1, max: 31_536_000 }, "SECS",
        "audit: seconds the whole audit may take; pairs not decided by then are reported as not-checked"), "900"),
    with_default(audit("format", Kind::Choice(AUDIT_FORMATS), "FORMAT",
        "audit: what stdout carries: table, markdown or json"), "table"),
    audit("json-file", Kind::Text, "FILE",
        "audit: write the JSON evidence to this file too"),
    audit("markdown-file", Kind::Text, "FILE",
        "audit: write the Markdown report to this file too (on Azure Pipelines, the file uploaded as the summary)"),
    with_default(audit("progress", Kind::Choice(PROGRESS), "WHEN",
        "audit: progress on stderr: auto (a bar on a terminal, a line every 5 s otherwise), bar, lines or off"), "auto"),
    with_default(audit("expiry-warning-days", Kind::Number { min: 0, max: 36_500 }, "DAYS",
        "audit: report tokens expiring within this many days"), "30"),
    with_default(audit("projects-from-server", Kind::Bool, "",
        "audit: check every project the server lists (the organization's on SonarQube Cloud, the instance's on Server), read with the credential read-token-env names"), "false"),
    audit("read-token-env", Kind::Text, "VAR",
        "audit: with projects-from-server, the variable holding the credential that lists the projects (an administrator's token): only read from, never probed as a scan token, never exported"),
    audit("shard", Kind::Text, "I/N",
        "audit: one share of the projects, I of N (a stable hash of the key: shards are disjoint and together complete); combine them with audit merge"),
    audit("max-rate", Kind::Text, "R",
        "audit: requests per second at most (per shard: keep N × R under the server's limit)"),
];
