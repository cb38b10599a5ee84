//! What the emulated Sonar knows: organizations, projects and tokens (YAML or JSON).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Flavor {
    Server,
    Cloud,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub flavor: Flavor,
    /// Cloud only, informational: `global` or `us`.
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default = "default_version")]
    pub server_version: String,
    #[serde(default)]
    pub organizations: Vec<String>,
    #[serde(default)]
    pub projects: Vec<Project>,
    #[serde(default)]
    pub tokens: Vec<TokenSpec>,
    #[serde(default)]
    pub faults: Vec<crate::faults::FaultRule>,
}

fn default_version() -> String {
    "10.7.0.96327".into()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Visibility {
    #[default]
    Private,
    Public,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Project {
    pub key: String,
    #[serde(default)]
    pub organization: Option<String>,
    #[serde(default)]
    pub visibility: Visibility,
    #[serde(default = "default_branches")]
    pub branches: Vec<String>,
    /// Whether an analysis cache exists.
    #[serde(default)]
    pub cache: bool,
}

fn default_branches() -> Vec<String> {
    vec!["main".into()]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TokenKind {
    /// `sqco_`: scoped organization token (Cloud).
    Sot,
    /// A SonarQube Cloud personal token.
    Personal,
    /// `squ_`: SonarQube Server user token.
    User,
    /// `sqa_`: global analysis token.
    GlobalAnalysis,
    /// `sqp_`: project analysis token.
    ProjectAnalysis,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum TokenState {
    #[default]
    Active,
    Expired,
    Revoked,
}

/// A list of project keys, or every project (`all`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Scope {
    #[default]
    None,
    All,
    Keys(Vec<String>),
}

impl Scope {
    pub fn contains(&self, key: &str) -> bool {
        match self {
            Scope::None => false,
            Scope::All => true,
            Scope::Keys(keys) => keys.iter().any(|k| k == key),
        }
    }
}

impl<'de> Deserialize<'de> for Scope {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Word(String),
            Keys(Vec<String>),
        }
        match Raw::deserialize(d)? {
            Raw::Word(w) if w == "all" => Ok(Scope::All),
            Raw::Word(w) => Err(serde::de::Error::custom(format!(
                "expected a list of project keys or \"all\", got {w:?}"
            ))),
            Raw::Keys(k) => Ok(Scope::Keys(k)),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenSpec {
    pub value: String,
    pub kind: TokenKind,
    #[serde(default)]
    pub organization: Option<String>,
    /// SOT and project analysis tokens: the projects they may scan.
    #[serde(default)]
    pub projects: Scope,
    /// User and personal tokens: projects their owner may browse.
    #[serde(default)]
    pub browse: Scope,
    /// User and personal tokens: projects their owner may scan.
    #[serde(default)]
    pub scan: Scope,
    #[serde(default)]
    pub state: TokenState,
    /// Server: sent as `SonarQube-Authentication-Token-Expiration`.
    #[serde(default)]
    pub expires: Option<String>,
}

impl Scenario {
    pub fn from_yaml_str(text: &str) -> anyhow::Result<Scenario> {
        serde_saphyr::from_str(text).map_err(|e| anyhow::anyhow!("invalid scenario: {e}"))
    }

    pub fn from_json_str(text: &str) -> anyhow::Result<Scenario> {
        Ok(serde_json::from_str(text)?)
    }

    /// Reads a `.json` file as JSON, anything else as YAML.
    pub fn load(path: &std::path::Path) -> anyhow::Result<Scenario> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        if path.extension().is_some_and(|e| e == "json") {
            Scenario::from_json_str(&text)
        } else {
            Scenario::from_yaml_str(&text)
        }
    }

    pub fn project(&self, key: &str) -> Option<&Project> {
        self.projects.iter().find(|p| p.key == key)
    }

    /// The token, if it exists and is usable on this flavor.
    pub fn valid_token(&self, value: &str) -> Option<&TokenSpec> {
        let t = self.tokens.iter().find(|t| t.value == value)?;
        let usable_here = matches!(
            (self.flavor, t.kind),
            (Flavor::Cloud, TokenKind::Sot | TokenKind::Personal)
                | (
                    Flavor::Server,
                    TokenKind::User | TokenKind::GlobalAnalysis | TokenKind::ProjectAnalysis
                )
        );
        (t.state == TokenState::Active && usable_here).then_some(t)
    }
}

impl TokenSpec {
    /// Execute Analysis on the project.
    pub fn can_scan(&self, project: &Project) -> bool {
        match self.kind {
            TokenKind::Sot => {
                self.organization == project.organization && self.projects.contains(&project.key)
            }
            TokenKind::GlobalAnalysis => true,
            TokenKind::ProjectAnalysis => self.projects.contains(&project.key),
            TokenKind::User | TokenKind::Personal => self.scan.contains(&project.key),
        }
    }

    /// Browse on the project (everybody browses a public project; a SOT browses nothing else).
    pub fn can_browse(&self, project: &Project) -> bool {
        project.visibility == Visibility::Public
            || (matches!(self.kind, TokenKind::User | TokenKind::Personal)
                && self.browse.contains(&project.key))
    }
}
