//! Which proxy a request goes through, and which URLs may carry a secret.
//!
//! Proxies follow curl's conventions (curl's `libcurl-env` and `CURLOPT_NOPROXY` docs),
//! decided here once for the HTTP client's routing, the evidence and the secret rule alike:
//!
//! - an `https://` URL uses `https_proxy` / `HTTPS_PROXY`, an `http://` URL `http_proxy` /
//!   `HTTP_PROXY` (curl reads only the lower-case one; scantoken reads both, as most CI tools
//!   do), then `all_proxy` / `ALL_PROXY`; the lower-case spelling wins when both are set;
//! - a proxy written without a scheme is `http://`; only `http://` and `https://` proxies
//!   are supported (SOCKS is refused with a clear error);
//! - `no_proxy` / `NO_PROXY`: entries separated by commas or white space, compared without
//!   case; `*` exempts every host, IP literals included; a name exempts itself and its
//!   subdomains (`example.com` and `.example.com` both exempt `example.com` and
//!   `www.example.com`, not `notexample.com`); an IP address exempts that address, and
//!   with `/bits` (CIDR) its network; IPv6 with or without brackets. Two additions to curl,
//!   as Go's `net/http` reads them: an entry with a port (`host:8443`, `[::1]:9000`)
//!   exempts that port only, and `*.example.com` is read as `.example.com`.
//!
//! The secret rule ([`may_carry_secret`]): a token (the scan token, an OIDC token, a Vault
//! token, a CI's request token) is sent only over `https://`, or over plain `http://` to this
//! machine (a loopback address or `localhost`) with no proxy in the path, since an
//! `http://` request through a proxy hands the proxy the token in clear. `--allow-insecure-http`
//! lifts the rule.

use crate::env::Env;
use crate::error::ConfigError;
use std::net::IpAddr;
use url::{Host, Url};

/// One proxy from the environment.
#[derive(Clone)]
pub struct ProxySetting {
    /// The variable it came from (`HTTPS_PROXY`).
    pub variable: String,
    /// The proxy's URL, credentials included: never shown.
    pub url: Url,
}

impl ProxySetting {
    /// `HTTPS_PROXY=http://proxy.example.com:3128/`, credentials left out.
    pub fn shown(&self) -> String {
        let mut shown = self.url.clone();
        let _ = shown.set_password(None);
        let _ = shown.set_username("");
        format!("{}={shown}", self.variable)
    }
}

/// Proxy URLs can hold credentials: `Debug` shows only what [`ProxySetting::shown`] does.
impl std::fmt::Debug for ProxySetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Exempt {
    /// A host name and its subdomains, lower case, without leading or trailing dots.
    Name { name: String, port: Option<u16> },
    /// An address, or a network with `/bits`.
    Ip {
        addr: IpAddr,
        bits: u8,
        port: Option<u16>,
    },
}

/// The proxy settings of the environment.
#[derive(Debug, Clone, Default)]
pub struct Proxies {
    https: Option<ProxySetting>,
    http: Option<ProxySetting>,
    all: Option<ProxySetting>,
    /// `NO_PROXY=*`.
    exempt_all: bool,
    exempt: Vec<Exempt>,
}

impl Proxies {
    pub fn from_env(env: &Env) -> Result<Proxies, ConfigError> {
        let setting = |names: [&str; 2]| -> Result<Option<ProxySetting>, ConfigError> {
            let Some((var, raw)) = names
                .iter()
                .find_map(|n| env.non_empty(n).map(|v| (*n, v.trim())))
            else {
                return Ok(None);
            };
            Ok(Some(ProxySetting {
                variable: var.to_owned(),
                url: parse_proxy(var, raw)?,
            }))
        };
        let mut proxies = Proxies {
            https: setting(["https_proxy", "HTTPS_PROXY"])?,
            http: setting(["http_proxy", "HTTP_PROXY"])?,
            all: setting(["all_proxy", "ALL_PROXY"])?,
            ..Proxies::default()
        };
        if let Some(list) = ["no_proxy", "NO_PROXY"]
            .iter()
            .find_map(|n| env.non_empty(n))
        {
            for entry in list
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|e| !e.is_empty())
            {
                match parse_exempt(entry) {
                    None => proxies.exempt_all = true,
                    Some(e) => proxies.exempt.push(e),
                }
            }
        }
        Ok(proxies)
    }

    /// The proxy a request to `url` goes through, or `None` for a direct connection.
    pub fn for_url(&self, url: &Url) -> Option<&ProxySetting> {
        let proxy = match url.scheme() {
            "https" => self.https.as_ref().or(self.all.as_ref()),
            "http" => self.http.as_ref().or(self.all.as_ref()),
            _ => self.all.as_ref(),
        }?;
        (!self.exempted(url)).then_some(proxy)
    }

    /// Whether any proxy is configured (for the messages about one).
    pub fn first(&self) -> Option<&ProxySetting> {
        self.https
            .as_ref()
            .or(self.http.as_ref())
            .or(self.all.as_ref())
    }

    fn exempted(&self, url: &Url) -> bool {
        if self.exempt_all {
            return true;
        }
        let port = url.port_or_known_default();
        let port_ok = |p: &Option<u16>| p.is_none() || *p == port;
        let host = url.host();
        self.exempt.iter().any(|e| match (e, &host) {
            (Exempt::Name { name, port: p }, Some(Host::Domain(d))) => {
                let d = d.trim_end_matches('.').to_ascii_lowercase();
                port_ok(p)
                    && (d == *name
                        || (d.len() > name.len()
                            && d.ends_with(name.as_str())
                            && d.as_bytes()[d.len() - name.len() - 1] == b'.'))
            }
            (
                Exempt::Ip {
                    addr,
                    bits,
                    port: p,
                },
                Some(Host::Ipv4(ip)),
            ) => port_ok(p) && in_network(IpAddr::V4(*ip), *addr, *bits),
            (
                Exempt::Ip {
                    addr,
                    bits,
                    port: p,
                },
                Some(Host::Ipv6(ip)),
            ) => port_ok(p) && in_network(IpAddr::V6(*ip), *addr, *bits),
            _ => false,
        })
    }
}

/// A proxy URL as curl reads it: `proxy:3128` is `http://proxy:3128`.
fn parse_proxy(var: &str, raw: &str) -> Result<Url, ConfigError> {
    let with_scheme = if raw.contains("://") {
        raw.to_owned()
    } else {
        format!("http://{raw}")
    };
    let invalid = |why: String| {
        ConfigError::new(format!("variable {var}"), why)
            .hint("write it as http://proxy.example.com:3128 (credentials as http://user:password@proxy.example.com:3128)")
    };
    // The value may hold credentials: the error quotes none of it.
    let url =
        Url::parse(&with_scheme).map_err(|e| invalid(format!("is not a valid proxy URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(format!(
            "is a {} proxy; scantoken supports http:// and https:// proxies only",
            url.scheme()
        )));
    }
    if url.host().is_none() {
        return Err(invalid("names no proxy host".into()));
    }
    Ok(url)
}

/// One `NO_PROXY` entry; `None` for `*`.
fn parse_exempt(entry: &str) -> Option<Exempt> {
    let entry = entry.trim().to_ascii_lowercase();
    if entry == "*" {
        return None;
    }
    // `*.example.com`, common in corporate settings (Go and Python read it so), means what
    // curl's `.example.com` means.
    let entry = entry.strip_prefix("*.").map(str::to_owned).unwrap_or(entry);
    // An address, bare (`::1`, `10.0.0.1`), bracketed, or a network (`10.0.0.0/8`).
    let (addr_part, bits) = match entry.split_once('/') {
        Some((a, b)) => (a.to_owned(), b.parse::<u8>().ok()),
        None => (entry.clone(), None),
    };
    let unbracketed = addr_part.trim_start_matches('[').trim_end_matches(']');
    if let Ok(addr) = unbracketed.parse::<IpAddr>() {
        let max = if addr.is_ipv4() { 32 } else { 128 };
        return Some(Exempt::Ip {
            addr,
            bits: bits.unwrap_or(max).min(max),
            port: None,
        });
    }
    // With a port: `host:port`, `1.2.3.4:port`, `[::1]:port`.
    if let Some((host, port)) = entry.rsplit_once(':') {
        if let Ok(port) = port.parse::<u16>() {
            let host = host.trim_start_matches('[').trim_end_matches(']');
            if let Ok(addr) = host.parse::<IpAddr>() {
                let bits = if addr.is_ipv4() { 32 } else { 128 };
                return Some(Exempt::Ip {
                    addr,
                    bits,
                    port: Some(port),
                });
            }
            return Some(Exempt::Name {
                name: host.trim_matches('.').to_owned(),
                port: Some(port),
            });
        }
    }
    Some(Exempt::Name {
        name: entry.trim_matches('.').to_owned(),
        port: None,
    })
}

fn in_network(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let mask = u32::MAX.checked_shl(32 - bits as u32).unwrap_or(0);
            u32::from(a) & mask == u32::from(b) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let mask = u128::MAX.checked_shl(128 - bits as u32).unwrap_or(0);
            u128::from(a) & mask == u128::from(b) & mask
        }
        _ => false,
    }
}

/// This machine: `localhost`, 127.0.0.0/8, `::1` (and `::ffff:127.x.y.z`). Names under
/// `.localhost` are not counted: whether they resolve to loopback depends on the resolver.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d.trim_end_matches('.').eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        None => false,
    }
}

/// Whether a request carrying a secret may go to `url`: `Ok`, or why not (a sentence part
/// that follows "the token would travel unencrypted ..."). The one rule for every secret
/// scantoken sends.
pub fn may_carry_secret(
    url: &Url,
    proxies: &Proxies,
    allow_insecure_http: bool,
) -> Result<(), String> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if allow_insecure_http => Ok(()),
        "http" => {
            if !is_loopback(url) {
                return Err(format!(
                    "over plain http to {}, which is not this machine",
                    url.host_str().unwrap_or_default()
                ));
            }
            match proxies.for_url(url) {
                Some(proxy) => Err(format!(
                    "over plain http through the proxy {}, which would read it in clear (list the host in NO_PROXY, or use https://)",
                    proxy.shown()
                )),
                None => Ok(()),
            }
        }
        other => Err(format!("over {other}://, which is not https")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(vars: &[(&str, &str)]) -> Proxies {
        Proxies::from_env(&Env::from_pairs(vars.iter().copied())).unwrap()
    }

    fn via(p: &Proxies, url: &str) -> Option<String> {
        p.for_url(&Url::parse(url).unwrap())
            .map(|s| s.variable.clone())
    }

    #[test]
    fn the_proxy_for_each_scheme_and_its_fallback() {
        let p = proxies(&[
            ("HTTPS_PROXY", "http://s:1"),
            ("http_proxy", "h:2"),
            ("HTTP_PROXY", "http://H:2"),
            ("ALL_PROXY", "http://a:3"),
        ]);
        assert_eq!(via(&p, "https://x.example").as_deref(), Some("HTTPS_PROXY"));
        assert_eq!(via(&p, "http://x.example").as_deref(), Some("http_proxy"));
        assert_eq!(
            p.for_url(&Url::parse("http://x").unwrap())
                .unwrap()
                .url
                .as_str(),
            "http://h:2/",
            "no scheme means http://"
        );
        let p = proxies(&[("ALL_PROXY", "http://a:3")]);
        assert_eq!(via(&p, "https://x.example").as_deref(), Some("ALL_PROXY"));
        assert_eq!(
            via(&p, "http://127.0.0.1:9000").as_deref(),
            Some("ALL_PROXY")
        );
        assert!(via(&proxies(&[]), "https://x.example").is_none());
    }

    #[test]
    fn no_proxy_table() {
        // (NO_PROXY, URL, exempted)
        let table = [
            ("*", "https://sonar.example.com", true),
            ("*", "https://10.1.2.3:9000", true),
            ("*", "http://[::1]:9000", true),
            ("a, *", "https://10.1.2.3", true),
            ("example.com", "https://example.com", true),
            ("example.com", "https://sonar.example.com", true),
            (".example.com", "https://example.com", true),
            (".example.com", "https://sonar.example.com", true),
            ("*.example.com", "https://sonar.example.com", true),
            ("example.com", "https://notexample.com", false),
            ("example.com", "https://example.com.evil", false),
            ("EXAMPLE.com", "https://Sonar.Example.COM.", true),
            (
                "sonar.example.com:9000",
                "https://sonar.example.com:9000",
                true,
            ),
            ("sonar.example.com:9000", "https://sonar.example.com", false),
            ("sonar.example.com:443", "https://sonar.example.com", true),
            ("10.0.0.0/8", "https://10.20.30.40", true),
            ("10.0.0.0/8", "https://11.0.0.1", false),
            ("10.1.2.3", "https://10.1.2.3", true),
            ("10.1.2.3", "https://10.1.2.4", false),
            ("10.1.2.3:8443", "https://10.1.2.3:8443", true),
            ("10.1.2.3:8443", "https://10.1.2.3", false),
            ("::1", "http://[::1]:9000", true),
            ("[::1]", "http://[::1]:9000", true),
            ("[::1]:9000", "http://[::1]:9000", true),
            ("[::1]:9000", "http://[::1]:9001", false),
            ("fd00::/8", "https://[fd12::1]", true),
            ("fd00::/8", "https://[fe80::1]", false),
            ("::1", "http://[::2]:9000", false),
            ("127.0.0.1", "http://localhost:9000", false),
            ("localhost", "http://127.0.0.1:9000", false),
            ("a.com b.com,c.com", "https://b.com", true),
            ("", "https://b.com", false),
        ];
        for (no_proxy, url, exempted) in table {
            let p = proxies(&[
                ("HTTPS_PROXY", "http://p:1"),
                ("HTTP_PROXY", "http://p:1"),
                ("NO_PROXY", no_proxy),
            ]);
            assert_eq!(
                via(&p, url).is_none(),
                exempted,
                "NO_PROXY={no_proxy:?} {url}"
            );
        }
    }

    #[test]
    fn the_lower_case_no_proxy_wins_and_socks_is_refused() {
        let p = proxies(&[
            ("HTTPS_PROXY", "http://p:1"),
            ("no_proxy", "a.com"),
            ("NO_PROXY", "b.com"),
        ]);
        assert!(via(&p, "https://a.com").is_none());
        assert!(via(&p, "https://b.com").is_some());
        let e = Proxies::from_env(&Env::from_pairs([("ALL_PROXY", "socks5://u:secretpw@p:1")]))
            .unwrap_err();
        assert!(
            e.problem.contains("socks5") && !e.to_string().contains("secretpw"),
            "{e}"
        );
        let e = Proxies::from_env(&Env::from_pairs([("HTTPS_PROXY", "http://u:secretpw@")]))
            .unwrap_err();
        assert!(!e.to_string().contains("secretpw"), "{e}");
    }

    #[test]
    fn which_urls_may_carry_a_secret() {
        let none = proxies(&[]);
        let proxied = proxies(&[
            ("HTTP_PROXY", "http://proxy.example:3128"),
            ("HTTPS_PROXY", "http://proxy.example:3128"),
        ]);
        let exempt = proxies(&[
            ("HTTP_PROXY", "http://proxy.example:3128"),
            ("NO_PROXY", "127.0.0.1,localhost"),
        ]);
        // (URL, proxies, allow-insecure-http, allowed)
        let table = [
            ("https://sonar.example.com", &none, false, true),
            ("https://sonar.example.com", &proxied, false, true),
            ("http://sonar.example.com", &none, false, false),
            ("http://sonar.example.com", &none, true, true),
            ("http://10.0.0.5:8200", &none, false, false),
            ("http://127.0.0.1:9000", &none, false, true),
            ("http://127.9.9.9:9000", &none, false, true),
            ("http://localhost:9000", &none, false, true),
            ("http://[::1]:9000", &none, false, true),
            ("http://[::ffff:127.0.0.1]:9000", &none, false, true),
            ("http://sonar.localhost:9000", &none, false, false),
            ("http://localhost.evil.example", &none, false, false),
            ("http://127.0.0.1:9000", &proxied, false, false),
            ("http://localhost:9000", &proxied, false, false),
            ("http://127.0.0.1:9000", &proxied, true, true),
            ("http://127.0.0.1:9000", &exempt, false, true),
            ("ftp://127.0.0.1/x", &none, false, false),
        ];
        for (url, p, allow, allowed) in table {
            let verdict = may_carry_secret(&Url::parse(url).unwrap(), p, allow);
            assert_eq!(verdict.is_ok(), allowed, "{url} allow={allow}: {verdict:?}");
        }
        let why = may_carry_secret(
            &Url::parse("http://127.0.0.1:9000").unwrap(),
            &proxied,
            false,
        )
        .unwrap_err();
        assert!(
            why.contains("HTTP_PROXY=http://proxy.example:3128/"),
            "{why}"
        );
    }

    #[test]
    fn a_proxy_prints_as_its_variable_and_url_without_credentials() {
        let p = proxies(&[("HTTPS_PROXY", "http://user:s3cretpw@proxy.example:3128")]);
        let setting = p.first().unwrap();
        assert_eq!(
            format!("{setting:?}"),
            "HTTPS_PROXY=http://proxy.example:3128/"
        );
        assert!(!format!("{p:?}").contains("s3cretpw"), "{p:?}");
    }
}
