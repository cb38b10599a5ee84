//! Which Sonar instance, organization and project a scan goes to.
//!
//! Follows the scanner's own endpoint rules (docs/sonar-facts.md §3, `ScannerEndpointResolver`): no host
//! means SonarQube Cloud with the region picking the instance; a host equal to an official
//! Cloud URL selects that instance; any other host is SonarQube Server. Contradictions are
//! errors here, before anything is exported, with the scanner's meaning spelled out.

use crate::env::Env;
use crate::error::{quote, ConfigError};
use crate::inputs::{Origin, Sourced};
use crate::scanner_config::ScannerConfig;
use serde::Serialize;
use url::Url;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Flavor {
    /// SonarQube Server (any self-hosted host).
    Server,
    /// SonarQube Cloud, global instance (sonarcloud.io).
    CloudGlobal,
    /// SonarQube Cloud, US region (sonarqube.us).
    CloudUs,
    /// SonarQube Cloud at a custom URL pair (`sonar.scanner.sonarcloudUrl` +
    /// `sonar.scanner.apiBaseUrl`): staging instances and the bundled emulator.
    CloudCustom,
}

impl Flavor {
    pub fn is_cloud(self) -> bool {
        self != Flavor::Server
    }

    pub fn describe(self) -> &'static str {
        match self {
            Flavor::Server => "SonarQube Server",
            Flavor::CloudGlobal => "SonarQube Cloud (global)",
            Flavor::CloudUs => "SonarQube Cloud (US region)",
            Flavor::CloudCustom => "SonarQube Cloud (custom URLs)",
        }
    }
}

/// An official SonarQube Cloud instance: web and API endpoints, and its region code.
struct CloudInstance {
    flavor: Flavor,
    host: &'static str,
    web: &'static str,
    api: &'static str,
    region: Option<&'static str>,
}

const CLOUD_INSTANCES: [CloudInstance; 2] = [
    CloudInstance {
        flavor: Flavor::CloudGlobal,
        host: "sonarcloud.io",
        web: "https://sonarcloud.io",
        api: "https://api.sonarcloud.io",
        region: None,
    },
    CloudInstance {
        flavor: Flavor::CloudUs,
        host: "sonarqube.us",
        web: "https://sonarqube.us",
        api: "https://api.sonarqube.us",
        region: Some("us"),
    },
];

#[derive(Debug, Clone, Serialize)]
pub struct Target {
    pub flavor: Flavor,
    pub web_url: Sourced<String>,
    pub api_url: Sourced<String>,
    /// The region code when the US instance is the target (the only region there is).
    pub region: Option<Sourced<String>>,
    pub organization: Option<Sourced<String>>,
    pub project_key: Option<Sourced<String>>,
    /// Things the scanner would warn about too.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// What the options say about the target, before the scanner's own sources are consulted.
#[derive(Debug, Clone, Default)]
pub struct Requested {
    pub host_url: Option<Sourced<String>>,
    pub region: Option<Sourced<String>>,
    pub organization: Option<Sourced<String>>,
    pub project_key: Option<Sourced<String>>,
    pub sonarcloud_url: Option<Sourced<String>>,
    pub api_base_url: Option<Sourced<String>>,
    /// An Azure SonarCloud service connection: its URL is the host's.
    pub sonarcloud_connection: Option<Sourced<String>>,
}

/// Looks a value up in the options first, then where the scanner would find it.
fn lookup(
    setting: &Option<Sourced<String>>,
    scanner: &ScannerConfig,
    property: &str,
) -> Option<Sourced<String>> {
    setting.clone().or_else(|| scanner.get(property))
}

/// The URL of the Azure DevOps service connection named by `sonarcloud-connection`: the
/// agent gives it as `ENDPOINT_URL_<id>` (docs/sonar-facts.md §6), next to the token the credential stage
/// reads.
fn service_connection_url(settings: &Requested, env: &Env) -> Option<Sourced<String>> {
    let connection = settings.sonarcloud_connection.as_ref()?;
    let (name, url) = crate::ci::azure::endpoint_variable(env, &connection.value, |id| {
        format!("ENDPOINT_URL_{id}")
    })?;
    Some(Sourced::new(url, Origin::Variable(name)))
}

pub fn resolve(
    settings: &Requested,
    env: &Env,
    scanner: &ScannerConfig,
) -> Result<Target, ConfigError> {
    // The host: the host-url input, then the service connection's own URL (a connection to
    // another host must not be verified against the default), then the scanner's sources.
    let host = settings
        .host_url
        .clone()
        .or_else(|| service_connection_url(settings, env))
        .or_else(|| scanner.get("sonar.host.url"));
    let region = lookup(&settings.region, scanner, "sonar.region");
    let cloud_url = lookup(
        &settings.sonarcloud_url,
        scanner,
        "sonar.scanner.sonarcloudUrl",
    );
    let api_base = lookup(&settings.api_base_url, scanner, "sonar.scanner.apiBaseUrl");
    let mut warnings = Vec::new();

    let endpoint = if let Some(host) = host {
        let ignored: Vec<String> = [&cloud_url, &api_base]
            .into_iter()
            .flatten()
            .map(|v| v.source.to_string())
            .collect();
        if !ignored.is_empty() {
            warnings.push(format!(
                "the host URL ({}) takes precedence over {}, which the scanner ignores too",
                host.source,
                ignored.join(" and ")
            ));
        }
        let url = parse_url(&host)?;
        match official_instance(&url) {
            Some(instance) => official_endpoint(instance, &host.source, region.as_ref())?,
            None => {
                if let Some(region) = &region {
                    return Err(region_with_non_cloud_host(region, &host));
                }
                let web = clean(&url);
                Endpoint {
                    flavor: Flavor::Server,
                    api: Sourced::new(
                        format!("{web}/api/v2"),
                        Origin::Derived(host.source.to_string()),
                    ),
                    web: Sourced::new(web, host.source),
                    region: None,
                }
            }
        }
    } else if let Some(cloud_url) = cloud_url {
        let url = parse_url(&cloud_url)?;
        match official_instance(&url) {
            Some(instance) => official_endpoint(instance, &cloud_url.source, region.as_ref())?,
            None => {
                if let Some(region) = &region {
                    return Err(region_with_non_cloud_host(region, &cloud_url));
                }
                let Some(api_base) = api_base else {
                    return Err(ConfigError::new(
                        cloud_url.source.to_string(),
                        "a custom SonarQube Cloud URL is set without its API base URL",
                    )
                    .hint("set sonar.scanner.apiBaseUrl (SONAR_SCANNER_API_BASE_URL) as well, or use sonar.host.url for SonarQube Server"));
                };
                let api_url = parse_url(&api_base)?;
                Endpoint {
                    flavor: Flavor::CloudCustom,
                    web: Sourced::new(clean(&url), cloud_url.source),
                    api: Sourced::new(clean(&api_url), api_base.source),
                    region: None,
                }
            }
        }
    } else {
        if let Some(api_base) = api_base {
            return Err(ConfigError::new(
                api_base.source.to_string(),
                "an API base URL is set without sonar.scanner.sonarcloudUrl; the scanner does not support that",
            )
            .hint("set both sonar.scanner.sonarcloudUrl and sonar.scanner.apiBaseUrl, or neither"));
        }
        let instance = match &region {
            None => &CLOUD_INSTANCES[0],
            Some(r) => CLOUD_INSTANCES
                .iter()
                .find(|i| i.region.is_some_and(|code| code.eq_ignore_ascii_case(&r.value)))
                .ok_or_else(|| {
                    ConfigError::new(r.source.to_string(), format!("invalid region {}", quote(&r.value)))
                        .hint("the only region is 'us' (SonarQube Cloud US); leave it unset for the global instance")
                })?,
        };
        let origin = match &region {
            Some(r) => Origin::Derived(r.source.to_string()),
            None => Origin::Default,
        };
        Endpoint {
            flavor: instance.flavor,
            web: Sourced::new(instance.web.into(), origin.clone()),
            api: Sourced::new(instance.api.into(), origin),
            region: region
                .filter(|_| instance.region.is_some())
                .map(|r| r.map(|v| v.to_ascii_lowercase())),
        }
    };

    let organization = lookup(&settings.organization, scanner, "sonar.organization")
        .map(validate_organization)
        .transpose()?;
    if endpoint.flavor == Flavor::Server {
        if let Some(org) = &organization {
            warnings.push(format!(
                "an organization is set ({}) but SonarQube Server has no organizations; it is ignored",
                org.source
            ));
        }
    }
    let project_key = lookup(&settings.project_key, scanner, "sonar.projectKey")
        .map(validate_project_key)
        .transpose()?;

    Ok(Target {
        flavor: endpoint.flavor,
        web_url: endpoint.web,
        api_url: endpoint.api,
        region: endpoint.region,
        organization: organization.filter(|_| endpoint.flavor.is_cloud()),
        project_key,
        warnings,
    })
}

struct Endpoint {
    flavor: Flavor,
    web: Sourced<String>,
    api: Sourced<String>,
    region: Option<Sourced<String>>,
}

fn official_endpoint(
    instance: &CloudInstance,
    url_source: &Origin,
    region: Option<&Sourced<String>>,
) -> Result<Endpoint, ConfigError> {
    if let Some(region) = region {
        let same = instance
            .region
            .is_some_and(|code| code.eq_ignore_ascii_case(&region.value));
        if !same {
            return Err(ConfigError::new(
                region.source.to_string(),
                format!(
                    "region {} contradicts the host {} from {} ({})",
                    quote(&region.value),
                    instance.web,
                    url_source,
                    instance.flavor.describe()
                ),
            )
            .hint(
                "the scanner refuses inconsistent sonar.region and URL: set only one of the two",
            ));
        }
    }
    let origin = Origin::Derived(url_source.to_string());
    Ok(Endpoint {
        flavor: instance.flavor,
        web: Sourced::new(instance.web.into(), url_source.clone()),
        api: Sourced::new(instance.api.into(), origin),
        region: instance.region.map(|code| {
            Sourced::new(
                code.to_owned(),
                region
                    .map(|r| r.source.clone())
                    .unwrap_or(Origin::Derived(url_source.to_string())),
            )
        }),
    })
}

fn region_with_non_cloud_host(region: &Sourced<String>, host: &Sourced<String>) -> ConfigError {
    ConfigError::new(
        region.source.to_string(),
        format!(
            "a region ({}) is set but the host {} from {} is not SonarQube Cloud",
            quote(&region.value),
            quote(&host.value),
            host.source
        ),
    )
    .hint("regions exist only on SonarQube Cloud: remove the region for SonarQube Server, or remove the host URL to use SonarQube Cloud in that region")
}

/// An official Cloud instance when the URL is one, ignoring scheme and `www.` (docs/sonar-facts.md §3).
fn official_instance(url: &Url) -> Option<&'static CloudInstance> {
    let host = url.host_str()?.to_ascii_lowercase();
    let host = host.strip_prefix("www.").unwrap_or(&host);
    let bare = url.port().is_none() && url.path().trim_end_matches('/').is_empty();
    CLOUD_INSTANCES.iter().find(|i| bare && i.host == host)
}

/// A URL as it may be quoted in an error: any `user:password@` cut out at the string level,
/// since a URL that did not parse cannot be cleaned by the parser. Everything up to the last
/// `@` goes: a password may hold `/`, `?` or `#`, so where the authority ends is not known.
fn without_userinfo(raw: &str) -> String {
    let start = raw.find("://").map(|i| i + 3).unwrap_or(0);
    let rest = &raw[start..];
    match rest.rfind('@') {
        Some(at) => format!("{}***{}", &raw[..start], &rest[at..]),
        None => raw.to_owned(),
    }
}

/// Parses and checks a URL a token will be sent to.
pub fn parse_url(value: &Sourced<String>) -> Result<Url, ConfigError> {
    let source = value.source.to_string();
    let shown = quote(&without_userinfo(&value.value));
    let url = Url::parse(value.value.trim()).map_err(|e| {
        ConfigError::new(&source, format!("{shown} is not a valid URL ({e})"))
            .hint("write the full URL with its scheme, e.g. https://sonarqube.example.com")
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(
            ConfigError::new(&source, format!("{shown} is not an http or https URL"))
                .hint("write the full URL with its scheme, e.g. https://sonarqube.example.com"),
        );
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(ConfigError::new(&source, format!("{shown} has no host")));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ConfigError::new(&source, "the URL carries a user name or password")
            .hint("remove the credentials from the URL: the token travels in SONAR_TOKEN, never in a URL"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(
            ConfigError::new(&source, format!("{shown} has a query or fragment"))
                .hint("give the base URL only, e.g. https://sonarqube.example.com/sonarqube"),
        );
    }
    Ok(url)
}

/// The URL as the scanner cleans it: no trailing slashes.
fn clean(url: &Url) -> String {
    url.as_str().trim_end_matches('/').to_owned()
}

/// Sonar project keys: at most 400 characters among letters, digits, `-`, `_`, `.` and `:`,
/// with at least one non-digit.
pub fn validate_project_key(key: Sourced<String>) -> Result<Sourced<String>, ConfigError> {
    let v = &key.value;
    let problem = if v.len() > 400 {
        Some("is longer than 400 characters")
    } else if let Some(_bad) = v
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "-_.:".contains(*c)))
    {
        Some("contains a character other than letters, digits, '-', '_', '.' and ':'")
    } else if v.chars().all(|c| c.is_ascii_digit()) {
        Some("has only digits; a project key needs at least one non-digit")
    } else {
        None
    };
    match problem {
        None => Ok(key),
        Some(p) => Err(ConfigError::new(
            key.source.to_string(),
            format!("project key {} {p}", quote(v)),
        )
        .hint("use the key shown in the project's Information page, e.g. acme_payments")),
    }
}

/// Organization keys: letters, digits, `-`, `_` and `.`, at most 255 characters.
fn validate_organization(org: Sourced<String>) -> Result<Sourced<String>, ConfigError> {
    let v = &org.value;
    if v.len() <= 255
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        Ok(org)
    } else {
        Err(ConfigError::new(
            org.source.to_string(),
            format!("organization key {} is not valid", quote(v)),
        )
        .hint("use the organization key (letters, digits, '-', '_'), not its display name"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve_env(pairs: &[(&str, &str)]) -> Result<Target, ConfigError> {
        let env = Env::from_pairs(pairs.iter().copied());
        let scanner = ScannerConfig::load(&env, std::path::Path::new("/nonexistent")).unwrap();
        let settings = crate::settings::Settings::from_env(&env).unwrap();
        resolve(&settings.target, &env, &scanner)
    }

    #[test]
    fn no_host_means_cloud_global() {
        let t = resolve_env(&[]).unwrap();
        assert_eq!(t.flavor, Flavor::CloudGlobal);
        assert_eq!(t.web_url.value, "https://sonarcloud.io");
        assert_eq!(t.api_url.value, "https://api.sonarcloud.io");
        assert_eq!(t.web_url.source, Origin::Default);
    }

    #[test]
    fn region_us_selects_us_instance() {
        let t = resolve_env(&[("SONAR_REGION", "us")]).unwrap();
        assert_eq!(t.flavor, Flavor::CloudUs);
        assert_eq!(t.api_url.value, "https://api.sonarqube.us");
        assert_eq!(t.region.unwrap().value, "us");
    }

    #[test]
    fn official_host_ignoring_scheme_and_www() {
        let t = resolve_env(&[("SONAR_HOST_URL", "http://www.sonarqube.us/")]).unwrap();
        assert_eq!(t.flavor, Flavor::CloudUs);
        assert_eq!(t.web_url.value, "https://sonarqube.us");
    }

    #[test]
    fn region_contradicting_host_is_an_error() {
        let e = resolve_env(&[
            ("SONAR_HOST_URL", "https://sonarcloud.io"),
            ("SONAR_REGION", "us"),
        ])
        .unwrap_err();
        assert_eq!(e.source, "variable SONAR_REGION");
        assert!(e.problem.contains("contradicts"), "{e}");
    }

    #[test]
    fn region_with_server_host_is_an_error() {
        let e = resolve_env(&[
            ("SONAR_HOST_URL", "https://sq.example.com"),
            ("SONAR_REGION", "us"),
        ])
        .unwrap_err();
        assert!(e.problem.contains("not SonarQube Cloud"), "{e}");
    }

    #[test]
    fn server_api_is_host_plus_api_v2() {
        let t = resolve_env(&[("SONAR_HOST_URL", "https://sq.example.com/sonar/")]).unwrap();
        assert_eq!(t.flavor, Flavor::Server);
        assert_eq!(t.web_url.value, "https://sq.example.com/sonar");
        assert_eq!(t.api_url.value, "https://sq.example.com/sonar/api/v2");
    }

    #[test]
    fn custom_cloud_pair() {
        let t = resolve_env(&[
            ("SONAR_SCANNER_SONARCLOUD_URL", "http://127.0.0.1:9000"),
            ("SONAR_SCANNER_API_BASE_URL", "http://127.0.0.1:9001/"),
        ])
        .unwrap();
        assert_eq!(t.flavor, Flavor::CloudCustom);
        assert_eq!(t.api_url.value, "http://127.0.0.1:9001");
        let e =
            resolve_env(&[("SONAR_SCANNER_SONARCLOUD_URL", "http://127.0.0.1:9000")]).unwrap_err();
        assert!(e.problem.contains("without its API base URL"), "{e}");
        let e =
            resolve_env(&[("SONAR_SCANNER_API_BASE_URL", "http://127.0.0.1:9001")]).unwrap_err();
        assert!(
            e.problem.contains("without sonar.scanner.sonarcloudUrl"),
            "{e}"
        );
    }

    #[test]
    fn bad_urls_are_named() {
        for bad in [
            "sonarcloud",
            "ftp://x",
            "https://user:pw@host",
            "https://h/?q=1",
            "http://",
        ] {
            let e = resolve_env(&[("SONAR_HOST_URL", bad)]).unwrap_err();
            assert_eq!(e.source, "variable SONAR_HOST_URL", "{bad}: {e}");
        }
    }

    #[test]
    fn urls_quoted_in_errors_never_show_credentials() {
        const CANARY: &str = "sqp_LEAKleakLEAKleak";
        for bad in [
            format!("https://admin:{CANARY}@sq example.com"),
            format!("https://admin:{CANARY}@[::1/sonar"),
            format!("https://admin:{CANARY}@host:99999"),
            format!("ftp://admin:{CANARY}@host/"),
            format!("admin:{CANARY}@host"),
            format!("https://{CANARY}@"),
            format!("https://a:b@c:{CANARY}@host"),
            format!("https://admin:{CANARY}@host/?q=1"),
            format!("https://admin:pa/{CANARY}@host"),
            format!("https://admin:pa#{CANARY}@host"),
        ] {
            let e = resolve_env(&[("SONAR_HOST_URL", &bad)]).unwrap_err();
            let text = e.to_string();
            assert!(!text.contains("LEAK"), "{bad}: {text}");
            assert_eq!(e.source, "variable SONAR_HOST_URL", "{bad}: {e}");
        }
        assert_eq!(without_userinfo("https://u:p@host/a"), "https://***@host/a");
        assert_eq!(without_userinfo("u:p/x?y#z@host"), "***@host");
        assert_eq!(without_userinfo("https://host/a"), "https://host/a");
    }

    #[test]
    fn service_connection_url_is_the_host_after_the_host_url_input() {
        let t = resolve_env(&[
            ("INPUT_SONARCLOUDCONNECTION", "0f3c-77aa"),
            ("ENDPOINT_URL_0f3c-77aa", "https://sonarqube.us"),
            ("SONAR_HOST_URL", "https://sq.example.com"),
        ])
        .unwrap();
        assert_eq!(t.flavor, Flavor::CloudUs);
        assert_eq!(t.api_url.value, "https://api.sonarqube.us");
        assert_eq!(t.region.unwrap().value, "us");
        assert_eq!(
            t.web_url.source,
            Origin::Variable("ENDPOINT_URL_0f3c-77aa".into())
        );

        // The upper-cased, '-' → '_' spelling; a Server URL is SonarQube Server.
        let t = resolve_env(&[
            ("INPUT_SONARCLOUDCONNECTION", "0f3c-77aa"),
            ("ENDPOINT_URL_0F3C_77AA", "https://sq.example.com/sonar/"),
        ])
        .unwrap();
        assert_eq!(t.flavor, Flavor::Server);
        assert_eq!(t.web_url.value, "https://sq.example.com/sonar");
        assert_eq!(
            t.web_url.source,
            Origin::Variable("ENDPOINT_URL_0F3C_77AA".into())
        );

        // The host-url input wins; without a connection input the variable is not read.
        let t = resolve_env(&[
            ("INPUT_HOSTURL", "https://sonarcloud.io"),
            ("INPUT_SONARCLOUDCONNECTION", "0f3c-77aa"),
            ("ENDPOINT_URL_0f3c-77aa", "https://sq.example.com"),
        ])
        .unwrap();
        assert_eq!(t.flavor, Flavor::CloudGlobal);
        let t = resolve_env(&[("ENDPOINT_URL_0f3c-77aa", "https://sq.example.com")]).unwrap();
        assert_eq!(t.flavor, Flavor::CloudGlobal);
        assert_eq!(t.web_url.source, Origin::Default);

        // A region that contradicts the connection's host names both.
        let e = resolve_env(&[
            ("INPUT_SONARCLOUDCONNECTION", "0f3c-77aa"),
            ("ENDPOINT_URL_0f3c-77aa", "https://sonarcloud.io/"),
            ("SONAR_REGION", "us"),
        ])
        .unwrap_err();
        assert!(e.problem.contains("ENDPOINT_URL_0f3c-77aa"), "{e}");
    }

    #[test]
    fn project_keys() {
        let ok = |k: &str| validate_project_key(Sourced::new(k.into(), Origin::Default)).is_ok();
        assert!(ok("acme_payments") && ok("org:app.core-1") && ok("1a"));
        assert!(!ok("1234") && !ok("a b") && !ok("a\nb") && !ok("ключ") && !ok(&"a".repeat(401)));
    }
}
