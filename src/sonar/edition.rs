//! Whether a SonarQube Server analyses branches and pull requests, told from the version its
//! unauthenticated `api/server/version` answers (a probe every Server plan sends anyway). It
//! owns that reading and nothing else: what to do about it is the flow's policy
//! (docs/design.md, "Servers without branch analysis").
//!
//! - SonarQube Community Build, the free edition since December 2024, is versioned by year and
//!   month with two digits: `24.12.0.100206`, `25.1.0.102122`, `25.5.0.107428`. It analyses
//!   the main branch only.
//! - SonarQube Server (the commercial editions, Developer and above, all with branch and pull
//!   request analysis) is versioned by a four-digit year since then: `2025.1.0.102418`.
//! - Before that, every edition shared one version line (`9.9`, `10.7`, `10.8`): the version
//!   does not say whether it is the Community Edition.
//!
//! The scanner engine refuses `sonar.branch.name` and `sonar.pullrequest.*` where the server
//! has no branch support, before any analysis ("To use the property … Developer Edition or
//! above is required", `ProjectReactorValidator` in SonarSource/sonarqube's scanner engine).

/// What the server's version says about branch and pull request analysis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BranchSupport {
    /// SonarQube Community Build: main branch only.
    MainBranchOnly,
    /// SonarQube Server 2025.1 or later (a commercial edition).
    Yes,
    /// 10.x or older, or a version in no known form: any edition.
    Unknown,
}

pub fn branch_support(version: &str) -> BranchSupport {
    let major = version
        .trim()
        .split('.')
        .next()
        .and_then(|m| m.parse::<u32>().ok());
    match major {
        Some(year) if (2024..=2999).contains(&year) => BranchSupport::Yes,
        Some(year) if (24..=99).contains(&year) => BranchSupport::MainBranchOnly,
        _ => BranchSupport::Unknown,
    }
}

/// The product's name for a version, for messages.
pub fn product(version: &str) -> String {
    let version = version.trim();
    match branch_support(version) {
        BranchSupport::MainBranchOnly => format!("SonarQube Community Build {version}"),
        BranchSupport::Yes => format!("SonarQube Server {version}"),
        BranchSupport::Unknown => format!("SonarQube {version}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_tell_the_community_build_apart() {
        for v in ["24.12.0.100206", "25.1.0.102122", "25.5.0.107428"] {
            assert_eq!(branch_support(v), BranchSupport::MainBranchOnly, "{v}");
        }
        for v in ["2025.1.0.102418", "2025.3.0", "2026.1"] {
            assert_eq!(branch_support(v), BranchSupport::Yes, "{v}");
        }
        for v in ["10.7.0.96327", "9.9.4", "8.9", "", "nonsense", "123.4"] {
            assert_eq!(branch_support(v), BranchSupport::Unknown, "{v}");
        }
        assert_eq!(
            product("25.1.0.102122"),
            "SonarQube Community Build 25.1.0.102122"
        );
    }
}
