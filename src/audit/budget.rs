//! The audit's shared request budget: at most N requests in flight, and one pace for every
//! sender once the server throttles.
//!
//! A fleet audit sends thousands of requests; each retrying a 429 on its own (as a single
//! `verify` may) would answer a throttled server with a burst after every `Retry-After`. So
//! every attempt passes through one [`Budget`] (a [`Gate`] of the HTTP client):
//!
//! - a 429 pauses every sender until its `Retry-After` (1 s when the answer gives none);
//! - the first 429 also sets a pace for the rest of the run: 40 % of the requests sent in the
//!   second before the throttled one. A server that allows R requests per second (per fixed
//!   second, or a token bucket refilled at R) accepted between R and about 2R of them, so the
//!   pace stays at or under R;
//! - a 429 for a request sent after the pace was set halves it again.
//!
//! The pace never rises again during the run: an audit is not urgent, a throttled server is.

use crate::sonar::client::{Gate, GatePass};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// Share of the last second's requests the pace allows after a first 429 (see the module doc).
const FIRST_PACE_SHARE: f64 = 0.4;

pub struct Budget {
    slots: Arc<Semaphore>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// No request leaves before this (the last 429's Retry-After).
    paused_until: Option<Instant>,
    /// The gap between two requests once the server has throttled.
    interval: Option<Duration>,
    /// The gap `--max-rate` sets from the start (the larger of the two gaps is kept).
    floor: Option<Duration>,
    next_slot: Option<Instant>,
    /// When each recent request left (the last few seconds), to measure the server's rate.
    recent: VecDeque<Instant>,
    /// When the pace was last set: a 429 for a request sent earlier says nothing new.
    adjusted_at: Option<Instant>,
    sent: u64,
    throttled: u64,
    first_throttled: Option<Instant>,
}

/// What the budget saw, for the report.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct BudgetStats {
    /// Attempts sent (retries included).
    pub requests: u64,
    /// Answers that were 429.
    pub throttled: u64,
    /// The pace after throttling, requests per second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paced_per_second: Option<f64>,
}

impl Budget {
    pub fn new(in_flight: usize) -> Budget {
        Budget {
            slots: Arc::new(Semaphore::new(in_flight.max(1))),
            state: Mutex::new(State::default()),
        }
    }

    /// At most `per_second` requests leave each second, from the first one (`--max-rate`).
    pub fn with_max_rate(self, per_second: Option<f64>) -> Budget {
        if let Some(r) = per_second.filter(|r| *r > 0.0) {
            self.state.lock().expect("budget lock").floor = Some(Duration::from_secs_f64(1.0 / r));
        }
        self
    }

    pub fn stats(&self) -> BudgetStats {
        let s = self.state.lock().expect("budget lock");
        BudgetStats {
            requests: s.sent,
            throttled: s.throttled,
            paced_per_second: s.interval.map(|i| 1.0 / i.as_secs_f64()),
        }
    }

    /// `Ok(now)` when a request may leave now (it is counted as sent at that instant), else
    /// `Err(when)` it may.
    fn take_slot(&self) -> Result<Instant, Instant> {
        let mut s = self.state.lock().expect("budget lock");
        let now = Instant::now();
        let mut at = now;
        if let Some(p) = s.paused_until {
            at = at.max(p);
        }
        let gap = match (s.interval, s.floor) {
            (Some(i), Some(f)) => Some(i.max(f)),
            (i, f) => i.or(f),
        };
        if let (Some(_), Some(n)) = (gap, s.next_slot) {
            at = at.max(n);
        }
        if at > now {
            return Err(at);
        }
        if let Some(i) = gap {
            s.next_slot = Some(now + i);
        }
        s.recent.push_back(now);
        while s
            .recent
            .front()
            .is_some_and(|t| now.duration_since(*t) > Duration::from_secs(3))
        {
            s.recent.pop_front();
        }
        s.sent += 1;
        Ok(now)
    }
}

impl Gate for Budget {
    fn admit(&self) -> Pin<Box<dyn Future<Output = GatePass> + Send + '_>> {
        Box::pin(async move {
            let permit = self
                .slots
                .clone()
                .acquire_owned()
                .await
                .expect("the budget's semaphore is never closed");
            let sent_at = loop {
                match self.take_slot() {
                    Ok(now) => break now,
                    Err(at) => tokio::time::sleep_until(at.into()).await,
                }
            };
            GatePass {
                sent_at,
                held: Some(Box::new(permit)),
            }
        })
    }

    fn answered(&self, pass: GatePass, status: Option<u16>, retry_after: Option<Duration>) {
        if status != Some(429) {
            return;
        }
        let mut s = self.state.lock().expect("budget lock");
        let now = Instant::now();
        s.throttled += 1;
        s.first_throttled.get_or_insert(now);
        let until = now + retry_after.unwrap_or(Duration::from_secs(1));
        s.paused_until = Some(s.paused_until.map_or(until, |p| p.max(until)));
        if s.adjusted_at.is_some_and(|a| pass.sent_at < a) {
            return;
        }
        let rate = match s.interval {
            None => {
                let from = pass.sent_at.checked_sub(Duration::from_secs(1));
                let count = s
                    .recent
                    .iter()
                    .filter(|t| from.is_none_or(|f| **t >= f) && **t < pass.sent_at)
                    .count();
                (count as f64 * FIRST_PACE_SHARE).max(1.0)
            }
            Some(i) => (0.5 / i.as_secs_f64()).max(0.2),
        };
        s.interval = Some(Duration::from_secs_f64(1.0 / rate));
        s.next_slot = s.paused_until;
        s.adjusted_at = Some(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn max_rate_spaces_requests_from_the_first() {
        let budget = Budget::new(8).with_max_rate(Some(50.0));
        let start = Instant::now();
        for _ in 0..6 {
            let pass = budget.admit().await;
            budget.answered(pass, Some(200), None);
        }
        // Five gaps of 20 ms.
        assert!(
            start.elapsed() >= Duration::from_millis(100),
            "{:?}",
            start.elapsed()
        );
        assert_eq!(budget.stats().paced_per_second, None, "not throttled");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_429_pauses_everyone_then_sets_a_pace_under_the_rate_seen() {
        let budget = Budget::new(4);
        // 20 requests in the second before the throttled one.
        for _ in 0..20 {
            let pass = budget.admit().await;
            budget.answered(pass, Some(200), None);
        }
        let pass = budget.admit().await;
        budget.answered(pass, Some(429), Some(Duration::from_millis(200)));
        let start = Instant::now();
        let pass = budget.admit().await;
        assert!(start.elapsed() >= Duration::from_millis(200), "paused");
        budget.answered(pass, Some(200), None);
        // 40 % of 20 per second: a gap of 125 ms.
        let before = Instant::now();
        for _ in 0..3 {
            let pass = budget.admit().await;
            budget.answered(pass, Some(200), None);
        }
        assert!(before.elapsed() >= Duration::from_millis(250));
        let stats = budget.stats();
        assert_eq!((stats.requests, stats.throttled), (25, 1));
        assert!((stats.paced_per_second.unwrap() - 8.0).abs() < 0.01);
    }
}
