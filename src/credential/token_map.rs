//! The client side of "a token per project-key pattern" (docs/design.md "Token map").
//!
//! An ordered list of rules; the first rule with a pattern matching the whole project key
//! names the variable that holds the token. Patterns are globs (`acme_payments-*`) or, with
//! `re:`, regular expressions, and both are anchored: `acme_*` never matches `xacme_a`.
//!
//! Parsed with serde-saphyr under a tight budget, so an alias bomb or a deeply nested file is
//! refused quickly, and every error names the line and the field to fix.

use crate::date::parse_day;
use crate::error::{quote, ConfigError};
use serde::Deserialize;
use serde_saphyr::Spanned;

/// A token map file is a few dozen lines; anything this large is a mistake.
pub const MAX_BYTES: usize = 256 * 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MapFile {
    rules: Vec<RuleFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RuleFile {
    projects: Spanned<Vec<Spanned<String>>>,
    token_env: Spanned<String>,
    organization: Option<Spanned<String>>,
    expires: Option<Spanned<String>>,
}

#[derive(Debug, Clone)]
enum Pattern {
    Glob(globset::GlobMatcher),
    Regex(regex::Regex),
}

#[derive(Debug, Clone)]
pub struct Rule {
    /// 1-based line of the rule's `projects:` in the map, for messages.
    pub line: u64,
    /// The patterns as written.
    pub patterns: Vec<String>,
    matchers: Vec<Pattern>,
    pub token_env: String,
    pub token_env_line: u64,
    pub organization: Option<String>,
    /// `YYYY-MM-DD` and its day number.
    pub expires: Option<(String, i64)>,
}

#[derive(Debug, Clone)]
pub struct TokenMap {
    /// Where the map came from: a file path or a variable name.
    pub source: String,
    pub rules: Vec<Rule>,
}

impl TokenMap {
    pub fn parse(source: &str, text: &str) -> Result<TokenMap, ConfigError> {
        if text.len() > MAX_BYTES {
            return Err(ConfigError::new(
                source,
                format!(
                    "is {} bytes; a token map may be 256 KiB at most",
                    text.len()
                ),
            ));
        }
        let mut options = serde_saphyr::Options::default();
        let mut budget = serde_saphyr::Budget::default();
        budget.max_depth = 16;
        budget.max_aliases = 100;
        budget.max_anchors = 100;
        budget.max_nodes = 20_000;
        budget.max_events = 50_000;
        budget.max_documents = 1;
        options.budget = Some(budget);
        options.alias_limits.max_total_replayed_events = 10_000;
        options.alias_limits.max_replay_stack_depth = 8;
        let file: MapFile = serde_saphyr::from_str_with_options(text, options).map_err(|e| {
            let at = e.location().map(|l| format!(" at line {}, column {}", l.line(), l.column())).unwrap_or_default();
            ConfigError::new(source, format!("is not a valid token map{at}: {}", without_location(first_line(&e.to_string()))))
                .hint("expected `rules:` with items of `projects: [globs or \"re:regex\"]`, `token-env: VARIABLE`, and optional `organization:` and `expires: YYYY-MM-DD`")
        })?;
        if file.rules.is_empty() {
            return Err(ConfigError::new(source, "has no rules")
                .hint("add at least one rule under `rules:`"));
        }
        let rules = file
            .rules
            .into_iter()
            .map(|r| compile(source, r))
            .collect::<Result<_, _>>()?;
        Ok(TokenMap {
            source: source.to_owned(),
            rules,
        })
    }

    /// The first rule matching the whole project key, or an error listing what was tried.
    pub fn select(&self, project_key: &str) -> Result<&Rule, ConfigError> {
        if let Some(rule) = self.rules.iter().find(|r| r.matches(project_key)) {
            return Ok(rule);
        }
        let tried: Vec<String> = self
            .rules
            .iter()
            .map(|r| format!("line {}: {}", r.line, r.patterns.join(", ")))
            .collect();
        Err(ConfigError::new(
            &self.source,
            format!(
                "no rule matches project key {}; tried {}",
                quote(project_key),
                tried.join("; ")
            ),
        )
        .hint("add a rule for this project, or a last catch-all rule with projects: [\"*\"]"))
    }
}

impl Rule {
    pub fn matches(&self, key: &str) -> bool {
        self.matchers.iter().any(|m| match m {
            Pattern::Glob(g) => g.is_match(key),
            Pattern::Regex(r) => r.is_match(key),
        })
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or(text)
}

/// The YAML parser's message without its own `error:` and `line N column M:` prefixes: the
/// location is already said once, from the error's own location.
fn without_location(message: &str) -> &str {
    let message = message.trim_start();
    let message = message
        .strip_prefix("error:")
        .unwrap_or(message)
        .trim_start();
    if let Some(rest) = message.strip_prefix("line ") {
        let spot = rest.split_once(':');
        if let Some((spot, after)) = spot {
            let is_location = spot
                .split([' ', ','])
                .filter(|w| !w.is_empty())
                .all(|w| w == "column" || w.chars().all(|c| c.is_ascii_digit()));
            if is_location {
                return after.trim_start();
            }
        }
    }
    message
}

fn compile(source: &str, rule: RuleFile) -> Result<Rule, ConfigError> {
    let line = rule.projects.referenced.line();
    let at = |line: u64, field: &str| format!("{source} line {line}, field {field}");
    if rule.projects.value.is_empty() {
        return Err(ConfigError::new(at(line, "projects"), "is empty")
            .hint("list at least one pattern, e.g. [\"acme_*\"]"));
    }
    let mut matchers = Vec::new();
    let mut patterns = Vec::new();
    for p in &rule.projects.value {
        let where_ = at(p.referenced.line(), "projects");
        let text = p.value.trim();
        let matcher = if let Some(re) = text.strip_prefix("re:") {
            // Anchored whatever the author wrote: a pattern selects whole keys only.
            let anchored = format!("^(?:{re})$");
            Pattern::Regex(regex::Regex::new(&anchored).map_err(|e| {
                ConfigError::new(
                    where_,
                    format!(
                        "regex {} is invalid: {}",
                        quote(re),
                        first_line(&e.to_string())
                    ),
                )
            })?)
        } else {
            if text.is_empty() {
                return Err(ConfigError::new(where_, "has an empty pattern"));
            }
            let glob = globset::GlobBuilder::new(text)
                .literal_separator(false)
                .build()
                .map_err(|e| {
                    ConfigError::new(where_, format!("glob {} is invalid: {e}", quote(text)))
                        .hint("globs use * and ?; write \"re:...\" for a regular expression")
                })?;
            Pattern::Glob(glob.compile_matcher())
        };
        matchers.push(matcher);
        patterns.push(text.to_owned());
    }
    let var = rule.token_env.value.trim();
    let var_line = rule.token_env.referenced.line();
    let valid_name = var
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid_name {
        return Err(ConfigError::new(
            at(var_line, "token-env"),
            format!("{} is not a variable name", quote(var)),
        )
        .hint("name the environment variable that holds the token, e.g. SONAR_TOKEN_PAYMENTS"));
    }
    let expires = match &rule.expires {
        None => None,
        Some(e) => {
            let day = parse_day(e.value.trim())
                .filter(|_| e.value.trim().len() == 10)
                .ok_or_else(|| {
                    ConfigError::new(
                        at(e.referenced.line(), "expires"),
                        format!("{} is not a date", quote(&e.value)),
                    )
                    .hint("write it as YYYY-MM-DD, e.g. 2027-06-30")
                })?;
            Some((e.value.trim().to_owned(), day))
        }
    };
    Ok(Rule {
        line,
        patterns,
        matchers,
        token_env: var.to_owned(),
        token_env_line: var_line,
        organization: rule.organization.map(|o| o.value.trim().to_owned()),
        expires,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAP: &str = r#"
rules:
  - projects: ["acme_payments-*", "acme_billing"]
    token-env: SONAR_TOKEN_PAYMENTS
    organization: acme
    expires: 2027-06-30
  - projects: ["re:acme_(web|app)"]
    token-env: SONAR_TOKEN_WEB
  - projects: ["*"]
    token-env: SONAR_TOKEN_ALL
"#;

    #[test]
    fn first_matching_rule_wins_and_patterns_are_anchored() {
        let map = TokenMap::parse("map.yaml", MAP).unwrap();
        let pick = |k: &str| map.select(k).unwrap().token_env.clone();
        assert_eq!(pick("acme_payments-api"), "SONAR_TOKEN_PAYMENTS");
        assert_eq!(pick("acme_billing"), "SONAR_TOKEN_PAYMENTS");
        assert_eq!(
            pick("acme_billing2"),
            "SONAR_TOKEN_ALL",
            "globs match whole keys"
        );
        assert_eq!(pick("acme_web"), "SONAR_TOKEN_WEB");
        assert_eq!(pick("acme_webx"), "SONAR_TOKEN_ALL", "regexes are anchored");
        assert_eq!(pick("xacme_web"), "SONAR_TOKEN_ALL");
        let rule = map.select("acme_billing").unwrap();
        assert_eq!(rule.line, 3);
        assert_eq!(rule.organization.as_deref(), Some("acme"));
        assert_eq!(rule.expires.as_ref().unwrap().0, "2027-06-30");
    }

    #[test]
    fn no_match_lists_the_rules_tried() {
        let map = TokenMap::parse(
            "map.yaml",
            "rules:\n  - projects: [a_*]\n    token-env: A\n",
        )
        .unwrap();
        let e = map.select("b_x").unwrap_err();
        assert!(e.problem.contains("line 2: a_*"), "{e}");
    }

    #[test]
    fn errors_name_line_and_field() {
        let e = TokenMap::parse(
            "m",
            "rules:\n  - projects: [a]\n    token-env: A\n    colour: red\n",
        )
        .unwrap_err();
        assert!(
            e.problem.contains("line 4") && e.problem.contains("colour"),
            "{e}"
        );
        let e = TokenMap::parse("m", "rules:\n  - projects: [\"re:(\"]\n    token-env: A\n")
            .unwrap_err();
        assert_eq!(e.source, "m line 2, field projects", "{e}");
        let e =
            TokenMap::parse("m", "rules:\n  - projects: [\"a[\"]\n    token-env: A\n").unwrap_err();
        assert!(e.source.contains("field projects"), "{e}");
        let e = TokenMap::parse("m", "rules:\n  - projects: [a]\n    token-env: \"A-B\"\n")
            .unwrap_err();
        assert_eq!(e.source, "m line 3, field token-env", "{e}");
        let e = TokenMap::parse(
            "m",
            "rules:\n  - projects: [a]\n    token-env: A\n    expires: soon\n",
        )
        .unwrap_err();
        assert_eq!(e.source, "m line 4, field expires", "{e}");
        let e = TokenMap::parse("m", "rules: [\n").unwrap_err();
        assert!(e.problem.contains("not a valid token map"), "{e}");
        let e = TokenMap::parse("m", "rules:\n  - token-env: A\n").unwrap_err();
        assert!(e.problem.contains("projects"), "{e}");
    }

    #[test]
    fn alias_bomb_is_refused_quickly() {
        // A classic bomb: each level ten aliases of the one before. Its anchors sit in a
        // rule's own fields, so the parse reaches the aliases before any type check.
        let mut bomb = String::from(
            "rules:\n  - projects: &l0 [x, x, x, x, x, x, x, x, x, x]\n    token-env: A\n",
        );
        for i in 1..10 {
            let prev = format!("*l{}", i - 1);
            let level = [prev.as_str(); 10].join(", ");
            bomb.push_str(&format!(
                "  - projects: &l{i} [{level}]\n    token-env: A\n"
            ));
        }
        let start = std::time::Instant::now();
        let e = TokenMap::parse("bomb", &bomb).unwrap_err();
        assert!(e.problem.contains("not a valid token map"), "{e}");
        assert!(start.elapsed() < std::time::Duration::from_secs(2));

        // More aliases than the budget allows, each harmless alone: the budget refuses them.
        let many = ["*s"; 150].join(", ");
        let text = format!("rules:\n  - projects: [&s acme_a, {many}]\n    token-env: A\n");
        let e = TokenMap::parse("aliases", &text).unwrap_err();
        assert!(
            e.problem.contains("budget") && e.problem.contains("Aliases"),
            "{e}"
        );
        // The same with a few aliases is a fine map.
        let few = ["*s"; 5].join(", ");
        let text = format!("rules:\n  - projects: [&s acme_a, {few}]\n    token-env: A\n");
        assert!(TokenMap::parse("aliases", &text).is_ok());

        // Only a location is taken off the parser's message, nothing that merely starts so.
        assert_eq!(
            without_location("error: line 3 column 14: illegal placement"),
            "illegal placement"
        );
        assert_eq!(
            without_location("line endings are mixed: CR and LF"),
            "line endings are mixed: CR and LF"
        );
        assert_eq!(without_location("line 2, column 1: x"), "x");
        // The location is said once.
        let e =
            TokenMap::parse("m.yaml", "rules:\n  - projects: [a\n    token-env: X\n").unwrap_err();
        assert_eq!(e.problem.matches("line 3").count(), 1, "{e}");
        assert!(!e.problem.contains("error:"), "{e}");
        // Nesting deeper than any token map needs is refused at once.
        let deep = format!("{}x{}", "[".repeat(5000), "]".repeat(5000));
        let text = format!("rules:\n  - projects: {deep}\n    token-env: A\n");
        let e = TokenMap::parse("deep", &text).unwrap_err();
        assert!(e.problem.contains("line 2"), "{e}");
    }

    #[test]
    fn a_map_larger_than_the_limit_is_refused_before_parsing() {
        let text = format!("rules:\n{}", "# padding\n".repeat(30_000));
        let e = TokenMap::parse("big", &text).unwrap_err();
        assert!(e.problem.contains("256 KiB"), "{e}");
    }
}
