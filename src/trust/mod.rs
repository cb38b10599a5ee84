//! Whose files decide where the token goes: the trust core.
//!
//! A build is **untrusted** when it runs a pull request's files with the token present: the
//! workspace (its `sonar-project.properties`, token map, truststore, scripts) is then the
//! pull request author's, while the token is the pipeline owner's. The pipeline's own
//! configuration (CI variables, action and task inputs, the scan command written in the
//! pipeline) stays trusted. docs/trust.md has the threat, the per-CI decision and its sources.
//!
//! Three small pieces, in the order the flow uses them:
//! - [`decide`]: from the context and the `pull-request-trust` option, whether this build is
//!   untrusted, and why (a plain value the context report shows);
//! - [`steering`]: the table of the properties that decide where the token is sent, through
//!   what, what runs with it and which token a map picks;
//! - [`check`]: in an untrusted build, each of those values that comes from the workspace
//!   must be given by the pipeline too, or be unchanged since the pull request's base commit
//!   (read with git), else the build stops before any request carries the token.
//!
//! This module sends nothing over the network and never sees the token.

pub mod base;
pub mod check;
pub mod files;
pub mod steering;

use crate::ci::{Context, EventKind};
use serde::Serialize;

pub use crate::settings::TrustPolicy as Policy;

/// Whether the workspace's files are the pipeline owner's or a pull request author's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub untrusted: bool,
    pub policy: Policy,
    /// Why, in one sentence naming the CI's evidence.
    pub reason: String,
    /// Set when the policy believes a fork's files (`trusted`): said in every report.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

/// Decides trust from the context the CI reader made (its `fork` flag comes from each CI's
/// documented variables and payloads: docs/trust.md) and the policy.
pub fn decide(ctx: &Context, policy: Policy) -> Decision {
    let is_pull_request = ctx.event == EventKind::PullRequest || ctx.pull_request.is_some();
    let trigger = ctx.trigger.as_deref().unwrap_or("this build");
    let ci = ctx.ci.describe();
    let fork_reason = || {
        format!(
            "{ci} ({trigger}) builds a pull request from a fork: the workspace holds its author's files, and {}",
            match &ctx.secrets_withheld {
                None => "this build can see the pipeline's secrets".to_owned(),
                Some(_) => "the pipeline may make its secrets available to such builds".to_owned(),
            }
        )
    };
    let (untrusted, reason, warning) = match policy {
        Policy::Trusted => (
            false,
            "pull-request-trust is trusted: the workspace's files are believed as the pipeline's own".to_owned(),
            ctx.fork.then(|| {
                format!(
                    "pull-request-trust is trusted, yet {}: a change to sonar-project.properties, the token map or a truststore in this pull request decides where the token goes",
                    fork_reason()
                )
            }),
        ),
        Policy::ForksUntrusted if ctx.fork => (true, fork_reason(), None),
        Policy::ForksUntrusted if is_pull_request => (
            false,
            format!("{ci} ({trigger}) builds a pull request from a branch of this repository, whose author can push here anyway (pull-request-trust forks-untrusted)"),
            None,
        ),
        Policy::AllUntrusted if is_pull_request || ctx.fork => (
            true,
            format!("{ci} ({trigger}) builds a pull request, and pull-request-trust is all-untrusted: its files are its author's"),
            None,
        ),
        Policy::ForksUntrusted | Policy::AllUntrusted => (
            false,
            format!("{ci} ({trigger}) builds no pull request: the workspace is the repository's own"),
            None,
        ),
    };
    Decision {
        untrusted,
        policy,
        reason,
        warning,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ci::CiKind;

    fn pr(fork: bool) -> Context {
        let mut ctx = Context::new(CiKind::Github);
        ctx.trigger = Some("pull_request_target".into());
        ctx.set_pull_request("7", "feature", "main");
        ctx.fork = fork;
        ctx
    }

    #[test]
    fn forks_are_untrusted_by_default_and_same_repository_pull_requests_are_not() {
        let d = decide(&pr(true), Policy::ForksUntrusted);
        assert!(d.untrusted && d.reason.contains("from a fork"), "{d:?}");
        let d = decide(&pr(false), Policy::ForksUntrusted);
        assert!(
            !d.untrusted && d.reason.contains("branch of this repository"),
            "{d:?}"
        );
    }

    #[test]
    fn all_untrusted_takes_every_pull_request_and_no_push() {
        assert!(decide(&pr(false), Policy::AllUntrusted).untrusted);
        let mut push = Context::new(CiKind::Github);
        push.set_branch("main");
        let d = decide(&push, Policy::AllUntrusted);
        assert!(
            !d.untrusted && d.reason.contains("no pull request"),
            "{d:?}"
        );
    }

    #[test]
    fn the_option_offers_exactly_the_policies() {
        let def = crate::options::find("pull-request-trust").unwrap();
        let crate::options::Kind::Choice(choices) = def.kind else {
            panic!("a choice")
        };
        assert_eq!(choices, Policy::NAMES);
        for name in Policy::NAMES {
            assert_eq!(Policy::from_name(name).unwrap().name(), name);
        }
        assert_eq!(def.default, Some(Policy::ForksUntrusted.name()));
    }

    #[test]
    fn trusted_believes_a_fork_but_says_so() {
        let d = decide(&pr(true), Policy::Trusted);
        assert!(!d.untrusted);
        assert!(d.warning.unwrap().contains("from a fork"));
        assert!(decide(&pr(false), Policy::Trusted).warning.is_none());
    }
}
