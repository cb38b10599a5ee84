//! What a SonarQube Server without branch analysis means for a build whose scan would carry
//! branch or pull request properties (docs/design.md, "Servers without branch analysis"):
//! the verdict says what will happen, and `export` and `run` skip or refuse accordingly.

use crate::ci::Context;
use crate::error::ConfigError;
use crate::export;
use crate::report::safe;
use crate::scanner_config::ScannerConfig;
use crate::sonar::Verdict;
use crate::target::Target;

/// What a SonarQube Server without branch analysis means for a build whose scan would carry
/// branch or pull request properties (docs/design.md, "Servers without branch analysis").
pub(super) enum EditionOutcome {
    /// A pull request, or a branch known not to be the default: skipped (exit 0), as the
    /// scanner would refuse it and there is nothing to fix.
    Skip(String),
    /// A branch whose being the default is unknown, or properties set by hand: the
    /// configuration must say (exit 2).
    Refuse(ConfigError),
    /// The version does not tell the edition (10.x and older): what may happen.
    Warn(String),
}

pub(super) fn edition_policy(
    ctx: &Context,
    target: &Target,
    scanner: &ScannerConfig,
    verdict: &Verdict,
) -> Option<EditionOutcome> {
    use crate::sonar::edition::{self, BranchSupport};
    let version = verdict.server_version.as_deref()?;
    let (props, _) = export::scanner_properties(ctx, target, scanner);
    let what = match (
        props.get("sonar.pullrequest.key"),
        props.get("sonar.branch.name"),
    ) {
        (Some(key), _) => format!("pull request {} (sonar.pullrequest.*)", safe(key)),
        (None, Some(branch)) => format!("branch {} (sonar.branch.name)", safe(branch)),
        (None, None) => return None,
    };
    let product = edition::product(&safe(version));
    let refused = "the scanner refuses it before analysing (\"To use the property … Developer Edition or above is required\")";
    match edition::branch_support(version) {
        BranchSupport::Yes => None,
        BranchSupport::Unknown => Some(EditionOutcome::Warn(format!(
            "{product} does not say its edition: if it is the Community Edition (main branch only), {refused} for this {what}; there, name the main branch with default-branch so that only its builds are scanned"
        ))),
        BranchSupport::MainBranchOnly => {
            let by_hand = scanner.existing_json_params().is_some_and(|p| {
                p.keys()
                    .any(|k| k == "sonar.branch.name" || k.starts_with("sonar.pullrequest."))
            });
            let not_main = ctx.event == crate::ci::EventKind::PullRequest
                || ctx.is_default_branch == Some(false);
            if by_hand {
                Some(EditionOutcome::Refuse(
                    ConfigError::new(
                        crate::scanner_config::JSON_PARAMS_VARIABLES[0],
                        format!("sets the {what}, and {product} analyses the main branch only: {refused}"),
                    )
                    .hint("remove the branch and pull request properties from it, or scan on SonarQube Server (Developer Edition or above) or SonarQube Cloud"),
                ))
            } else if not_main {
                Some(EditionOutcome::Skip(format!(
                    "{product} analyses the main branch only, and this build is the {what}: {refused}. The default branch's builds are scanned; for branch and pull request analysis, use SonarQube Server (Developer Edition or above) or SonarQube Cloud"
                )))
            } else {
                Some(EditionOutcome::Refuse(
                    ConfigError::new(
                        "default-branch",
                        format!(
                            "is not set, and {} does not say whether this build's branch is the default one: it would be scanned as the {what}, and {product} analyses the main branch only: {refused}",
                            ctx.ci.describe()
                        ),
                    )
                    .hint("name the branch Sonar analyses as the main branch: --default-branch main (SCANTOKEN_DEFAULT_BRANCH; input default-branch); its builds are then scanned, other branches' skipped"),
                ))
            }
        }
    }
}
