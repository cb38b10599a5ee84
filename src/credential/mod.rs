//! Where the token comes from.
//!
//! In order: the `token` input (`INPUT_TOKEN`, `SCANTOKEN_TOKEN`), the scanner's own
//! `SONAR_TOKEN`, and Jenkins' `SONAR_AUTH_TOKEN` (set by `withSonarQubeEnv`). There is
//! deliberately no `--token` flag: a command line is visible to every process on the machine.
//!
//! When no source holds a token, the result says why, because on CI "no token" is usually
//! not a mistake in the pipeline but a fork or Dependabot pull request, which get no secrets.

use crate::ci::Context;
use crate::error::ConfigError;
use crate::inputs::{Inputs, Origin, Sourced};
use crate::secret::{Token, TokenFormatError};

#[derive(Debug, Clone)]
pub struct Credential {
    pub token: Token,
    pub source: Origin,
}

impl Credential {
    /// `variable SONAR_TOKEN, scoped organization token (sqco_), sha256:1a2b`.
    pub fn describe(&self) -> String {
        format!(
            "{}, {}, {}",
            self.source,
            self.token.kind().describe(),
            self.token.fingerprint()
        )
    }
}

/// No token, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingToken {
    pub reason: String,
    /// The CI withholds secrets from this build: expected, not a configuration mistake.
    pub withheld: bool,
}

/// Variables the scanner ecosystem uses for the token, after the `token` input.
const TOKEN_VARIABLES: [&str; 2] = ["SONAR_TOKEN", "SONAR_AUTH_TOKEN"];

pub fn resolve(
    inputs: &Inputs,
    ctx: &Context,
) -> Result<Result<Credential, MissingToken>, ConfigError> {
    let env = inputs.env();
    let found = inputs.get("token").or_else(|| {
        TOKEN_VARIABLES.iter().find_map(|var| {
            Some(Sourced::new(
                env.non_empty(var)?.to_owned(),
                Origin::Variable(var.to_string()),
            ))
        })
    });
    if let Some(raw) = found {
        let token = Token::new(&raw.value).map_err(|e| token_error(&raw.source, e))?;
        return Ok(Ok(Credential {
            token,
            source: raw.source,
        }));
    }
    if let Some(why) = &ctx.secrets_withheld {
        return Ok(Err(MissingToken {
            reason: why.clone(),
            withheld: true,
        }));
    }
    let mut empty = inputs.empty_variables("token");
    empty.extend(
        TOKEN_VARIABLES
            .iter()
            .filter(|v| env.get(v).is_some())
            .map(|v| v.to_string()),
    );
    let reason = if empty.is_empty() {
        "no token: none of the token input, SONAR_TOKEN or SONAR_AUTH_TOKEN is set".to_owned()
    } else {
        format!(
            "{} {} set but empty: the secret is not mapped into this step (or does not exist in this repository/project)",
            empty.join(", "),
            if empty.len() == 1 { "is" } else { "are" }
        )
    };
    Ok(Err(MissingToken {
        reason,
        withheld: false,
    }))
}

fn token_error(source: &Origin, e: TokenFormatError) -> ConfigError {
    ConfigError::new(source.to_string(), e.to_string())
        .hint("copy the token again from SonarQube (Administration → Scoped Organization Tokens, or My Account → Security) and store it as the secret's whole value")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ci::{CiKind, Context};
    use crate::env::Env;

    #[test]
    fn input_beats_sonar_token_and_errors_never_show_it() {
        let ctx = Context::new(CiKind::Local);
        let env = Env::from_pairs([("INPUT_TOKEN", "sqco_A"), ("SONAR_TOKEN", "sqco_B")]);
        let c = resolve(&Inputs::new(env), &ctx).unwrap().unwrap();
        assert_eq!(c.token.expose_secret(), "sqco_A");
        let env = Env::from_pairs([("SONAR_TOKEN", "sqco_CANARY with space")]);
        let e = resolve(&Inputs::new(env), &ctx).unwrap_err();
        assert!(!e.to_string().contains("CANARY"), "{e}");
        assert_eq!(e.source, "variable SONAR_TOKEN");
    }

    #[test]
    fn empty_secret_says_not_mapped_and_withheld_says_why() {
        let mut ctx = Context::new(CiKind::Github);
        let env = Env::from_pairs([("SONAR_TOKEN", "")]);
        let m = resolve(&Inputs::new(env.clone()), &ctx)
            .unwrap()
            .unwrap_err();
        assert!(
            m.reason.contains("SONAR_TOKEN is set but empty") && !m.withheld,
            "{m:?}"
        );
        ctx.secrets_withheld = Some("pull request from a fork".into());
        let m = resolve(&Inputs::new(env), &ctx).unwrap().unwrap_err();
        assert!(m.withheld && m.reason.contains("fork"));
    }
}
