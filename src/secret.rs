//! The token type.
//!
//! A `Token` cannot be printed by accident: it has no `Display`, its `Debug` shows only a
//! fingerprint, and reading the value needs an explicit `expose_secret()`, which only the
//! writers and the HTTP client call.

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use std::fmt;

/// What the token's prefix says it is (docs/sonar-facts.md §1). Prefixes are public; this is safe to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TokenKind {
    /// `sqco_`: SonarQube Cloud Scoped Organization Token.
    ScopedOrganization,
    /// `squ_`: SonarQube Server user token.
    ServerUser,
    /// `sqa_`: SonarQube Server global analysis token.
    ServerGlobalAnalysis,
    /// `sqp_`: SonarQube Server project analysis token.
    ServerProjectAnalysis,
    /// 40 lowercase hex digits and no prefix: a SonarQube Cloud personal token (or a legacy
    /// SonarQube token from before prefixes).
    Personal,
    /// A format Sonar does not issue: most often the secret holds something else.
    Unknown,
}

impl TokenKind {
    pub fn describe(self) -> &'static str {
        match self {
            TokenKind::ScopedOrganization => "scoped organization token (sqco_)",
            TokenKind::ServerUser => "SonarQube Server user token (squ_)",
            TokenKind::ServerGlobalAnalysis => "SonarQube Server global analysis token (sqa_)",
            TokenKind::ServerProjectAnalysis => "SonarQube Server project analysis token (sqp_)",
            TokenKind::Personal => "personal token (40 hex digits, no prefix)",
            TokenKind::Unknown => "value in no format Sonar issues tokens in",
        }
    }
}

#[derive(Clone)]
pub struct Token(SecretString);

/// Why a value cannot be a token. Never carries the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenFormatError {
    #[error("the token is empty")]
    Empty,
    #[error("the token contains whitespace or control characters (a pasted newline or space?)")]
    BadCharacter,
    #[error("the token is {0} characters long, more than any Sonar token (4096 at most)")]
    TooLong(usize),
}

impl Token {
    /// Accepts a token after trimming surrounding whitespace (a trailing newline from a
    /// secret file is common). Tokens are single printable words: anything else would
    /// break the writers' masking, so it is refused here, before any output.
    pub fn new(raw: &str) -> Result<Token, TokenFormatError> {
        let value = raw.trim();
        if value.is_empty() {
            return Err(TokenFormatError::Empty);
        }
        if value.len() > 4096 {
            return Err(TokenFormatError::TooLong(value.len()));
        }
        if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(TokenFormatError::BadCharacter);
        }
        Ok(Token(SecretString::from(value.to_owned())))
    }

    /// The value itself. Call only where the token must go: an export writer or an
    /// `Authorization` header.
    pub fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }

    /// First 4 hex digits of the token's SHA-256: enough to tell two tokens apart in a log,
    /// useless for guessing the token.
    pub fn fingerprint(&self) -> String {
        let digest = Sha256::digest(self.expose_secret().as_bytes());
        format!("sha256:{:02x}{:02x}", digest[0], digest[1])
    }

    pub fn kind(&self) -> TokenKind {
        let v = self.expose_secret();
        if v.starts_with("sqco_") {
            TokenKind::ScopedOrganization
        } else if v.starts_with("squ_") {
            TokenKind::ServerUser
        } else if v.starts_with("sqa_") {
            TokenKind::ServerGlobalAnalysis
        } else if v.starts_with("sqp_") {
            TokenKind::ServerProjectAnalysis
        } else if v.len() == 40
            && v.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            TokenKind::Personal
        } else {
            TokenKind::Unknown
        }
    }
}

/// Whether a word has the shape of a Sonar token (docs/sonar-facts.md §1): a known prefix
/// (`sqco_`, `squ_`, `sqa_`, `sqp_`) followed by at least 16 letters and digits, or 40
/// lowercase hex digits (a personal token). Used to keep a token typed in the wrong place (a
/// path, a stray argument) out of error messages, which otherwise quote what they refuse.
pub fn looks_like_token(word: &str) -> bool {
    let body = ["sqco_", "squ_", "sqa_", "sqp_"]
        .iter()
        .find_map(|p| word.strip_prefix(p));
    match body {
        Some(rest) => rest.len() >= 16 && rest.bytes().all(|b| b.is_ascii_alphanumeric()),
        None => {
            word.len() == 40
                && word
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        }
    }
}

/// `text` with every word that looks like a token ([`looks_like_token`]) replaced by `***`.
/// Words are split at anything that cannot be part of a token (quotes, slashes, `=`).
pub fn redact_token_shapes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if looks_like_token(word) {
            out.push_str("***");
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Token({}, redacted)", self.fingerprint())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let t = Token::new("sqco_CANARYcanary1234567890").unwrap();
        let shown = format!("{t:?} {:#?}", Some(&t));
        assert!(!shown.contains("CANARY"), "{shown}");
        assert!(shown.contains("sha256:"));
    }

    #[test]
    fn trims_and_refuses_inner_whitespace() {
        assert_eq!(Token::new(" squ_abc\n").unwrap().expose_secret(), "squ_abc");
        assert_eq!(
            Token::new("a b").unwrap_err(),
            TokenFormatError::BadCharacter
        );
        assert_eq!(
            Token::new("a\nb").unwrap_err(),
            TokenFormatError::BadCharacter
        );
        assert_eq!(Token::new("  ").unwrap_err(), TokenFormatError::Empty);
    }

    #[test]
    fn token_shapes_are_recognised_and_redacted() {
        let sot = "sqco_PAYMENTSpaymentsPAYMENTSpaymentsPAYMENTSpaymentsPAYMENTSpay";
        let hex = "0123456789abcdef0123456789abcdef01234567";
        assert!(looks_like_token(sot) && looks_like_token(hex));
        assert!(looks_like_token(
            "sqp_1111111111111111111111111111111111111111"
        ));
        for word in [
            "sqco_",
            "sqco_short",
            "token-map.yaml",
            "acme_payments",
            "sqco_a-b-c-d-e-f-g-h-i",
        ] {
            assert!(!looks_like_token(word), "{word}");
        }
        assert_eq!(
            redact_token_shapes(&format!(
                "unexpected argument '{sot}' in /tmp/{hex}: acme_payments"
            )),
            "unexpected argument '***' in /tmp/***: acme_payments"
        );
    }

    #[test]
    fn kinds_follow_prefixes() {
        assert_eq!(
            Token::new("sqco_x").unwrap().kind(),
            TokenKind::ScopedOrganization
        );
        assert_eq!(
            Token::new("sqp_x").unwrap().kind(),
            TokenKind::ServerProjectAnalysis
        );
        assert_eq!(Token::new("abcdef").unwrap().kind(), TokenKind::Unknown);
        assert_eq!(Token::new("garbage").unwrap().kind(), TokenKind::Unknown);
        assert_eq!(
            Token::new("0123456789abcdef0123456789abcdef01234567")
                .unwrap()
                .kind(),
            TokenKind::Personal
        );
    }
}
