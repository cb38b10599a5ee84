//! The token-steering properties: every property a scanner reads that decides where the
//! token is sent, through what, what runs with it, or which token a token map picks. One
//! table, data only; docs/trust.md gives each row's source in the scanners' code
//! (`@sonar/scan` 5.0.1 `src/types.js`, `src/properties.js`, `src/proxy.js`; pysonar
//! 1.10.0.5888 `pysonar_scanner/configuration/properties.py`, `scannerengine.py`; the Java
//! scanner library's `ScannerProperties`/`HttpConfig`/`JavaRunnerFactory`), and
//! `tests/trust.rs` checks the table against the bootstrappers `scripts/test.sh` installs:
//! every `sonar.scanner.*` property they declare is here or in [`NOT_STEERING`], with why.

use crate::scanner_config::Scanner;

/// What a property decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Steers {
    /// Where the token is sent (or written).
    Where,
    /// How it travels: proxy, trust and client certificates.
    How,
    /// What runs with the token in its environment.
    Runs,
    /// Which token is used: the keys a token map or a Vault path chooses by.
    Which,
}

impl Steers {
    pub fn describe(self) -> &'static str {
        match self {
            Steers::Where => "decides where the token is sent",
            Steers::How => "decides how the token travels",
            Steers::Runs => "decides what runs with the token",
            Steers::Which => "decides which token is used",
        }
    }
}

/// What kind of value a property holds, which decides what else must be checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Text,
    /// A secret (a password): compared, never shown.
    Secret,
    /// A file: inside the workspace, its content must be unchanged too.
    File,
    /// A directory: inside the workspace, nothing under it may have changed.
    Directory,
    /// JVM options: the files they name (`-javaagent:`, `-Djavax.net.ssl.trustStore=`,
    /// `@argfile`, ...) are checked as files.
    JvmOptions,
}

#[derive(Debug, Clone, Copy)]
pub struct Steering {
    pub key: &'static str,
    pub steers: Steers,
    pub shape: Shape,
    /// The scanners that read it.
    pub readers: &'static [Scanner],
    /// What it does with the token, for messages.
    pub why: &'static str,
}

const ALL: &[Scanner] = &[
    Scanner::JavaLibrary,
    Scanner::Npm,
    Scanner::Python,
    Scanner::Dotnet,
];
const JNP: &[Scanner] = &[Scanner::JavaLibrary, Scanner::Npm, Scanner::Python];
const NP: &[Scanner] = &[Scanner::Npm, Scanner::Python];
const JN: &[Scanner] = &[Scanner::JavaLibrary, Scanner::Npm];
const N: &[Scanner] = &[Scanner::Npm];
const P: &[Scanner] = &[Scanner::Python];

const fn row(
    key: &'static str,
    steers: Steers,
    shape: Shape,
    readers: &'static [Scanner],
    why: &'static str,
) -> Steering {
    Steering {
        key,
        steers,
        shape,
        readers,
        why,
    }
}

use Shape::*;
use Steers::*;

pub const STEERING: &[Steering] = &[
    // Where.
    row("sonar.host.url", Where, Text, ALL, "the server every request, with the token, goes to"),
    row("sonar.scanner.sonarcloudUrl", Where, Text, JNP, "the SonarQube Cloud web URL the token is sent to"),
    row("sonar.scanner.apiBaseUrl", Where, Text, JNP, "the SonarQube Cloud API URL the token is sent to"),
    row("sonar.region", Where, Text, JNP, "the SonarQube Cloud instance the token is sent to"),
    row("sonar.scanner.internal.isSonarCloud", Where, Text, N, "whether @sonar/scan talks to SonarQube Cloud's endpoints"),
    row("sonar.scanner.internal.dumpToFile", Where, Text, JNP, "a file every property, the token among them, is written to instead of scanning"),
    // How.
    row("sonar.scanner.proxyHost", How, Text, JNP, "the proxy every request, with the token, goes through"),
    row("sonar.scanner.proxyPort", How, Text, JNP, "the proxy's port"),
    row("sonar.scanner.proxyUser", How, Text, JNP, "the user name given to the proxy"),
    row("sonar.scanner.proxyPassword", How, Secret, JNP, "the password given to the proxy"),
    row("sonar.scanner.truststorePath", How, File, JNP, "the certificates trusted for the server: a truststore of the author's lets a man in the middle read the token"),
    row("sonar.scanner.truststorePassword", How, Secret, JNP, "the truststore's password"),
    row("sonar.scanner.keystorePath", How, File, JNP, "the client certificate presented to the server"),
    row("sonar.scanner.keystorePassword", How, Secret, JNP, "the keystore's password"),
    row("sonar.userHome", How, Directory, JNP, "the scanner's home: the cached engine and JRE it runs, and @sonar/scan's default truststore (ssl/truststore.p12)"),
    // What runs.
    row("sonar.scanner.javaExePath", Runs, File, JNP, "the java program started with the token"),
    row("sonar.scanner.javaOpts", Runs, JvmOptions, JNP, "options of the JVM that runs with the token (agents, proxies, truststores)"),
    row("sonar.scanner.opts", Runs, JvmOptions, P, "pysonar's older spelling of sonar.scanner.javaOpts"),
    row("sonar.scanner.skipJreProvisioning", Runs, Text, JNP, "whether the provisioned JRE or a local java runs"),
    row("sonar.scanner.engineJarPath", Runs, File, NP, "the scanner engine jar run with the token"),
    row("sonar.scanner.os", Runs, Text, JNP, "which JRE is downloaded and run"),
    row("sonar.scanner.arch", Runs, Text, JNP, "which JRE is downloaded and run"),
    row("sonar.scanner.version", Runs, Text, N, "the SonarScanner CLI version @sonar/scan downloads and runs on servers without the engine API"),
    row("sonar.scanner.mirror", Runs, Text, N, "where @sonar/scan downloads the SonarScanner CLI it runs"),
    row("sonar.scanner.internal.sqVersion", Runs, Text, JN, "the server version the bootstrapper assumes, choosing between the engine, a downloaded CLI, or a simulation"),
    // Which token: only when a token map or a Vault path chooses the token by them.
    row("sonar.projectKey", Which, Text, ALL, "the project key the token map (or the Vault path) chooses the token by"),
    row("sonar.organization", Which, Text, ALL, "the organization the token map (or the Vault path) chooses the token by"),
];

/// Properties the bootstrappers declare that steer nothing, with why: the table's test
/// requires every `sonar.scanner.*` property they declare to be classified.
pub const NOT_STEERING: &[(&str, &str)] = &[
    ("sonar.scanner.responseTimeout", "a time limit"),
    ("sonar.scanner.connectTimeout", "a time limit"),
    ("sonar.scanner.socketTimeout", "a time limit"),
    ("sonar.scanner.javaHeapSize", "the JVM's heap size (-Xmx)"),
    (
        "sonar.scanner.wasJreCacheHit",
        "telemetry the bootstrapper sets itself",
    ),
    (
        "sonar.scanner.wasEngineCacheHit",
        "telemetry the bootstrapper sets itself",
    ),
    (
        "sonar.scanner.app",
        "the bootstrapper's name, sent as telemetry",
    ),
    (
        "sonar.scanner.appVersion",
        "the bootstrapper's version, sent as telemetry",
    ),
    (
        "sonar.scanner.bootstrapStartTime",
        "telemetry the bootstrapper sets itself",
    ),
    (
        "sonar.scanner.dryRun",
        "pysonar prints the configuration instead of scanning",
    ),
    (
        "sonar.scanner.metadataFilePath",
        "where the report-task file (no token) is written",
    ),
    (
        "sonar.scanner.keepReport",
        "keeps the analysis report (no token) on disk",
    ),
    (
        "sonar.token",
        "a token in the workspace: the SONAR_TOKEN scantoken hands over is ranked above it by every scanner",
    ),
    (
        "sonar.login",
        "a token in the workspace: the SONAR_TOKEN scantoken hands over is ranked above it by every scanner",
    ),
    ("sonar.password", "goes with sonar.login, which SONAR_TOKEN overrides"),
    (
        "sonar.working.directory",
        "where the scanner writes its work files (no token)",
    ),
    (
        "sonar.projectBaseDir",
        "where the sources are; the properties files scantoken checks are those of the base directory the pipeline names",
    ),
    ("sonar.ws.timeout", "a time limit"),
    ("sonar.scanner.skip", "skips the analysis: nothing is sent"),
];

/// The row of a key, if it steers.
pub fn find(key: &str) -> Option<&'static Steering> {
    STEERING.iter().find(|s| s.key == key)
}

/// The variable a scanner maps to a `sonar.scanner.*` property (`sonar.scanner.proxyHost` →
/// `SONAR_SCANNER_PROXY_HOST`: split at the humps, upper-cased), and `SONAR_USER_HOME`.
pub fn variable_of(key: &str) -> Option<String> {
    if key == "sonar.userHome" {
        return Some("SONAR_USER_HOME".into());
    }
    let rest = key.strip_prefix("sonar.scanner.")?;
    if rest.contains('.') {
        return None;
    }
    let mut name = String::from("SONAR_SCANNER_");
    for c in rest.chars() {
        if c.is_ascii_uppercase() {
            name.push('_');
        }
        name.push(c.to_ascii_uppercase());
    }
    Some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scanner_variables_split_at_the_humps() {
        assert_eq!(
            variable_of("sonar.scanner.proxyHost").as_deref(),
            Some("SONAR_SCANNER_PROXY_HOST")
        );
        assert_eq!(
            variable_of("sonar.scanner.javaExePath").as_deref(),
            Some("SONAR_SCANNER_JAVA_EXE_PATH")
        );
        assert_eq!(
            variable_of("sonar.userHome").as_deref(),
            Some("SONAR_USER_HOME")
        );
        assert_eq!(variable_of("sonar.scanner.internal.dumpToFile"), None);
        assert_eq!(variable_of("sonar.host.url"), None);
    }

    /// The Java scanner library cannot be installed here: its declared properties, as its
    /// `ScannerProperties` and `internal/InternalProperties` name them (docs/trust.md), are
    /// each classified.
    #[test]
    fn the_java_librarys_declared_properties_are_classified() {
        const DECLARED: [&str; 28] = [
            "sonar.host.url",
            "sonar.scanner.apiBaseUrl",
            "sonar.scanner.sonarcloudUrl",
            "sonar.working.directory",
            "sonar.userHome",
            "sonar.token",
            "sonar.login",
            "sonar.password",
            "sonar.scanner.proxyPort",
            "sonar.scanner.connectTimeout",
            "sonar.scanner.socketTimeout",
            "sonar.scanner.responseTimeout",
            "sonar.scanner.proxyHost",
            "sonar.scanner.proxyUser",
            "sonar.scanner.proxyPassword",
            "sonar.scanner.keystorePath",
            "sonar.scanner.keystorePassword",
            "sonar.scanner.truststorePath",
            "sonar.scanner.truststorePassword",
            "sonar.scanner.skip",
            "sonar.scanner.javaExePath",
            "sonar.scanner.skipJreProvisioning",
            "sonar.scanner.os",
            "sonar.scanner.arch",
            "sonar.scanner.javaOpts",
            "sonar.scanner.app",
            "sonar.scanner.internal.dumpToFile",
            "sonar.scanner.internal.sqVersion",
        ];
        for key in DECLARED {
            let steering = find(key);
            let not = NOT_STEERING.iter().any(|(k, _)| *k == key);
            assert!(steering.is_some() || not, "{key} is not classified");
            if let Some(row) = steering {
                assert!(
                    row.readers.contains(&Scanner::JavaLibrary),
                    "{key}: the Java library reads it"
                );
            }
        }
    }

    #[test]
    fn each_key_is_in_one_list_once() {
        let mut keys: Vec<&str> = STEERING.iter().map(|s| s.key).collect();
        keys.extend(NOT_STEERING.iter().map(|(k, _)| *k));
        let n = keys.len();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), n);
    }
}
