//! Faults on demand: latency, status sequences (with `Retry-After`), connection resets and
//! slow bodies, each for a path prefix and optionally only the first N matching requests.
//!
//! Rules come from the scenario's `faults`, the `--fault` flag, [`crate::EmulatorConfig`]
//! and, at runtime, [`crate::RunningEmulator::set_faults`].

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ListenerKind {
    #[default]
    Any,
    Web,
    Api,
}

/// One rule. In files: `{path: "*", latency_ms: 50}`, `{path: /api/x, status: 503,
/// retry_after: 1, times: 2}`, `{path: "*", reset: true}`, `{path: "*", slow_body_ms: 2000}`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    /// Path prefix, or `*` for every path.
    pub path: String,
    #[serde(default)]
    pub listener: ListenerKind,
    #[serde(default)]
    pub latency_ms: Option<u64>,
    #[serde(default)]
    pub status: Option<u16>,
    #[serde(default)]
    pub retry_after: Option<u64>,
    #[serde(default)]
    pub reset: bool,
    #[serde(default)]
    pub slow_body_ms: Option<u64>,
    /// Apply to the first N matching requests only.
    #[serde(default)]
    pub times: Option<u32>,
}

impl FaultRule {
    fn base(path: &str) -> FaultRule {
        FaultRule {
            path: path.into(),
            listener: ListenerKind::Any,
            latency_ms: None,
            status: None,
            retry_after: None,
            reset: false,
            slow_body_ms: None,
            times: None,
        }
    }

    pub fn latency(path: &str, ms: u64) -> FaultRule {
        FaultRule {
            latency_ms: Some(ms),
            ..Self::base(path)
        }
    }

    pub fn status(
        path: &str,
        status: u16,
        retry_after: Option<u64>,
        times: Option<u32>,
    ) -> FaultRule {
        FaultRule {
            status: Some(status),
            retry_after,
            times,
            ..Self::base(path)
        }
    }

    pub fn reset(path: &str, times: Option<u32>) -> FaultRule {
        FaultRule {
            reset: true,
            times,
            ..Self::base(path)
        }
    }

    pub fn slow_body(path: &str, ms: u64, times: Option<u32>) -> FaultRule {
        FaultRule {
            slow_body_ms: Some(ms),
            times,
            ..Self::base(path)
        }
    }

    /// Only on this listener.
    pub fn on(mut self, listener: ListenerKind) -> FaultRule {
        self.listener = listener;
        self
    }

    /// Only for the first `n` matching requests.
    pub fn times(mut self, n: u32) -> FaultRule {
        self.times = Some(n);
        self
    }

    /// One rule written as YAML or JSON, e.g. `{path: "*", status: 503, times: 2}` (the
    /// `--fault` flag of the standalone server).
    pub fn parse(text: &str) -> anyhow::Result<FaultRule> {
        let rule: FaultRule = serde_saphyr::from_str(text)
            .map_err(|e| anyhow::anyhow!("invalid fault {text:?}: {e}"))?;
        rule.validate()
            .map_err(|e| anyhow::anyhow!("invalid fault {text:?}: {e}"))?;
        Ok(rule)
    }

    /// A rule must do something, and `retry_after` goes with a status.
    pub fn validate(&self) -> anyhow::Result<()> {
        let actions = [
            self.latency_ms.is_some(),
            self.status.is_some(),
            self.reset,
            self.slow_body_ms.is_some(),
        ];
        anyhow::ensure!(
            actions.contains(&true),
            "rule for {:?} has no action (latency_ms, status, reset or slow_body_ms)",
            self.path
        );
        anyhow::ensure!(
            self.retry_after.is_none() || self.status.is_some(),
            "rule for {:?}: retry_after needs a status",
            self.path
        );
        if let Some(s) = self.status {
            anyhow::ensure!(
                (200..=599).contains(&s),
                "rule for {:?}: status {s} is not an HTTP status",
                self.path
            );
        }
        anyhow::ensure!(
            !(self.reset && (self.status.is_some() || self.slow_body_ms.is_some())),
            "rule for {:?}: a reset sends no status and no body",
            self.path
        );
        Ok(())
    }

    pub fn matches(&self, listener: ListenerKind, path: &str) -> bool {
        (self.listener == ListenerKind::Any || self.listener == listener)
            && (self.path == "*" || path.starts_with(&self.path))
    }

    fn is_latency_only(&self) -> bool {
        self.latency_ms.is_some()
            && self.status.is_none()
            && !self.reset
            && self.slow_body_ms.is_none()
    }
}

/// What to do to one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    pub latency_ms: u64,
    pub status: Option<(u16, Option<u64>)>,
    pub reset: bool,
    pub slow_body_ms: Option<u64>,
}

impl Applied {
    pub fn describe(&self) -> Option<String> {
        let mut parts = Vec::new();
        if self.latency_ms > 0 {
            parts.push(format!("latency {} ms", self.latency_ms));
        }
        if let Some((s, ra)) = self.status {
            parts.push(match ra {
                Some(r) => format!("status {s} retry-after {r}"),
                None => format!("status {s}"),
            });
        }
        if self.reset {
            parts.push("reset".into());
        }
        if let Some(ms) = self.slow_body_ms {
            parts.push(format!("slow body {ms} ms"));
        }
        (!parts.is_empty()).then(|| parts.join(", "))
    }
}

/// The rules and how often each has fired.
#[derive(Debug, Default)]
pub struct FaultState {
    rules: Vec<(FaultRule, u32)>,
}

impl FaultState {
    pub fn new(rules: Vec<FaultRule>) -> FaultState {
        FaultState {
            rules: rules.into_iter().map(|r| (r, 0)).collect(),
        }
    }

    /// Every matching latency rule adds up; the first other matching rule with turns left
    /// applies (and uses one turn).
    pub fn apply(&mut self, listener: ListenerKind, path: &str) -> Applied {
        let mut applied = Applied::default();
        for (rule, fired) in self.rules.iter_mut() {
            if !rule.matches(listener, path) || rule.times.is_some_and(|t| *fired >= t) {
                continue;
            }
            if rule.is_latency_only() {
                applied.latency_ms += rule.latency_ms.unwrap_or(0);
                *fired += 1;
                continue;
            }
            if applied.status.is_some() || applied.reset || applied.slow_body_ms.is_some() {
                continue;
            }
            *fired += 1;
            applied.latency_ms += rule.latency_ms.unwrap_or(0);
            applied.status = rule.status.map(|s| (s, rule.retry_after));
            applied.reset = rule.reset;
            applied.slow_body_ms = rule.slow_body_ms;
        }
        applied
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_limit_a_rule_and_latency_adds_up() {
        let mut s = FaultState::new(vec![
            FaultRule::latency("*", 10),
            FaultRule::status("/api/x", 503, Some(1), Some(1)),
            FaultRule::latency("/api", 5),
        ]);
        let a = s.apply(ListenerKind::Web, "/api/x");
        assert_eq!(a.latency_ms, 15);
        assert_eq!(a.status, Some((503, Some(1))));
        let a = s.apply(ListenerKind::Web, "/api/x");
        assert_eq!(a.status, None);
        assert_eq!(s.apply(ListenerKind::Api, "/other").latency_ms, 10);
    }

    #[test]
    fn rules_read_from_text_and_are_checked() {
        let r = FaultRule::parse(
            "{path: /api/analysis_cache/get, listener: web, status: 503, retry_after: 1, times: 2}",
        )
        .unwrap();
        assert_eq!(
            r,
            FaultRule::status("/api/analysis_cache/get", 503, Some(1), Some(2))
                .on(ListenerKind::Web)
        );
        assert_eq!(
            FaultRule::parse(r#"{"path": "*", "reset": true}"#).unwrap(),
            FaultRule::reset("*", None)
        );
        for bad in [
            "{path: /x}",
            "{path: /x, retry_after: 1}",
            "{path: /x, status: 42}",
            "{path: /x, reset: true, status: 503}",
            "{path: /x, latency: 5}",
        ] {
            assert!(FaultRule::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn first_non_latency_rule_wins_and_spends_a_turn() {
        let mut s = FaultState::new(vec![
            FaultRule::reset("/a", None).times(1),
            FaultRule::slow_body("/a", 100, None),
        ]);
        assert!(s.apply(ListenerKind::Web, "/a/b").reset);
        let a = s.apply(ListenerKind::Web, "/a/b");
        assert_eq!((a.reset, a.slow_body_ms), (false, Some(100)));
        assert_eq!(a.describe().as_deref(), Some("slow body 100 ms"));
        assert_eq!(s.apply(ListenerKind::Web, "/b"), Applied::default());
    }

    #[test]
    fn listener_filter() {
        let mut s = FaultState::new(vec![FaultRule::reset("*", None).on(ListenerKind::Api)]);
        assert!(!s.apply(ListenerKind::Web, "/a").reset);
        assert!(s.apply(ListenerKind::Api, "/a").reset);
    }
}
