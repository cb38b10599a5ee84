//! What to ask each kind of Sonar, kept as data so it is easy to read and to change.
//!
//! Every probe is a call a scan-only token is allowed to make (docs/sonar-facts.md §2). None needs Browse:
//! `api/organizations/search`, `api/components/*` and `api/navigation/*` are never used, so
//! a Scoped Organization Token without browse rights verifies as well as a personal token.
//! All probes of a plan are sent at once; `identity` says what shape Sonar gives each of
//! their answers, and the decision table in `decide` reads the answers.

use crate::target::Flavor;

/// Which host a probe goes to: the web URL, or Cloud's separate API host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host {
    Web,
    Api,
}

/// What a probe's answer tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Is it a Sonar server at all, and which version (no authentication).
    Server,
    /// Is the token valid (`api/authentication/validate`: `{"valid": bool}`, no permission).
    Token,
    /// Does the project exist in this organization (needs no permission).
    Project,
    /// Can this token scan this project (needs Execute Analysis and nothing else).
    Scan,
}

#[derive(Debug, Clone, Copy)]
pub struct Probe {
    pub role: Role,
    pub host: Host,
    /// Path and query, with `{project}` and `{organization}` placeholders.
    pub path: &'static str,
    /// Send the token. The server probe goes without, to tell "not Sonar" from "bad token".
    pub authenticated: bool,
    /// The body can be large (an analysis cache): read the status and headers only.
    pub status_only_on_success: bool,
}

/// SonarQube Server: `api/analysis_cache/get` needs Scan on the project and answers 404
/// "No cache ..." when there is none yet, which proves the permission as well as a 200.
/// It checks existence before permission, so one probe tells not-found from no-permission.
pub const SERVER: &[Probe] = &[
    Probe {
        role: Role::Server,
        host: Host::Web,
        path: "/api/server/version",
        authenticated: false,
        status_only_on_success: false,
    },
    Probe {
        role: Role::Token,
        host: Host::Web,
        path: "/api/authentication/validate",
        authenticated: true,
        status_only_on_success: false,
    },
    Probe {
        role: Role::Scan,
        host: Host::Web,
        path: "/api/analysis_cache/get?project={project}",
        authenticated: true,
        status_only_on_success: true,
    },
];

/// SonarQube Cloud: the web host validates the token and tells whether the project exists in
/// the organization (`qualityprofiles/search`, which the scanner itself calls and which
/// needs no permission); the API host's sensor cache needs Execute Analysis on the project.
pub const CLOUD: &[Probe] = &[
    Probe {
        role: Role::Token,
        host: Host::Web,
        path: "/api/authentication/validate",
        authenticated: true,
        status_only_on_success: false,
    },
    Probe {
        role: Role::Project,
        host: Host::Web,
        path: "/api/qualityprofiles/search?project={project}&organization={organization}",
        authenticated: true,
        status_only_on_success: false,
    },
    Probe {
        role: Role::Scan,
        host: Host::Api,
        path: "/sensor-cache/prepare-read?organization={organization}&project={project}",
        authenticated: true,
        status_only_on_success: false,
    },
];

pub fn for_flavor(flavor: Flavor) -> &'static [Probe] {
    match flavor {
        Flavor::Server => SERVER,
        Flavor::CloudGlobal | Flavor::CloudUs | Flavor::CloudCustom => CLOUD,
    }
}

/// Calls that need Browse or a user identity. Listed so tests can assert they are never sent.
pub const BROWSE_ONLY_PATHS: [&str; 4] = [
    "/api/organizations/search",
    "/api/components/",
    "/api/navigation/",
    "/api/projects/search",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_plan_uses_a_browse_only_call() {
        for probe in SERVER.iter().chain(CLOUD) {
            assert!(
                !BROWSE_ONLY_PATHS.iter().any(|p| probe.path.starts_with(p)),
                "{}",
                probe.path
            );
        }
    }
}
