//! How the simulated students behave when a node dies or restarts behind a proxy: like a
//! careful client. A request that got no answer (the connection failed or broke), or a `502`,
//! `503` or `504`, is sent again — after `Retry-After` when the answer had one, else after a
//! short backoff — at most `ATTEMPTS` times in all; a submission keeps its `Idempotency-Key`
//! across the attempts, so the server answers a repeat of a committed one with the original
//! `201`. What the retries cost is counted here for the report.

use std::collections::BTreeMap;
use std::time::Duration;

use parking_lot::Mutex;
use rand::Rng;
use serde::Serialize;

/// Attempts of one request, the first included. With the backoff below the last is sent about
/// 10 s after the first (longer when the server asks for it with `Retry-After`).
pub const ATTEMPTS: u32 = 8;

/// The longest `Retry-After` obeyed; a longer one is cut to this.
const MOST_RETRY_AFTER: Duration = Duration::from_secs(5);

/// Whether an answer (`None`: none came) calls for another attempt.
pub fn retryable(status: Option<u16>) -> bool {
    matches!(status, None | Some(502..=504))
}

/// The wait before attempt `attempt + 1` (`attempt` counts from 0): the answer's
/// `Retry-After` in seconds (at most `MOST_RETRY_AFTER`), else 200 ms doubling up to 2 s; with
/// up to 50% jitter, so the students of a dead node do not all come back at once.
pub fn backoff(attempt: u32, retry_after: Option<u64>) -> Duration {
    let base = match retry_after {
        Some(secs) => Duration::from_secs(secs).min(MOST_RETRY_AFTER),
        None => Duration::from_millis(200u64 << attempt.min(4)).min(Duration::from_secs(2)),
    };
    base.mul_f64(1.0 + rand::rng().random_range(0.0..0.5))
}

/// A fresh `Idempotency-Key` (1–64 of `A-Za-z0-9_-`): 128 random bits in hex.
pub fn new_key() -> String {
    format!("{:032x}", rand::rng().random::<u128>())
}

/// What the retries of the whole run came to.
#[derive(Default)]
pub struct RetryFigures {
    inner: Mutex<Counts>,
}

#[derive(Default)]
struct Counts {
    /// Failed attempts that were retried, by status (0: no answer).
    retried: BTreeMap<u16, u64>,
    /// Requests answered after at least one retry.
    recovered: u64,
    /// Requests given up after `ATTEMPTS` (or when the answer was not worth waiting for).
    gave_up: u64,
    /// The longest time from a request's first attempt to its answer, among the recovered.
    longest_recovery: Duration,
    /// Submissions answered `409 already_submitted` after a retry, found stored with the
    /// answers sent (the first attempt had committed): counted as acknowledged.
    confirmed_409: u64,
    /// WebSockets lost (broken, or closed `1001` by a node going away) and opened again.
    timer_reconnects: u64,
    /// The longest time from a lost WebSocket to the first frame on its replacement.
    longest_timer_gap: Duration,
}

/// The report's view of `RetryFigures`.
#[derive(Debug, Default, Serialize, Clone)]
pub struct RetrySummary {
    pub retried: BTreeMap<u16, u64>,
    pub recovered: u64,
    pub gave_up: u64,
    pub longest_recovery_ms: f64,
    pub confirmed_409: u64,
    pub timer_reconnects: u64,
    pub longest_timer_gap_ms: f64,
}

impl RetryFigures {
    pub fn retried(&self, status: Option<u16>) {
        *self
            .inner
            .lock()
            .retried
            .entry(status.unwrap_or(0))
            .or_default() += 1;
    }

    pub fn recovered(&self, took: Duration) {
        let mut c = self.inner.lock();
        c.recovered += 1;
        c.longest_recovery = c.longest_recovery.max(took);
    }

    pub fn gave_up(&self) {
        self.inner.lock().gave_up += 1;
    }

    pub fn confirmed_409(&self) {
        self.inner.lock().confirmed_409 += 1;
    }

    pub fn timer_reconnected(&self, gap: Duration) {
        let mut c = self.inner.lock();
        c.timer_reconnects += 1;
        c.longest_timer_gap = c.longest_timer_gap.max(gap);
    }

    pub fn summary(&self) -> RetrySummary {
        let c = self.inner.lock();
        RetrySummary {
            retried: c.retried.clone(),
            recovered: c.recovered,
            gave_up: c.gave_up,
            longest_recovery_ms: c.longest_recovery.as_secs_f64() * 1000.0,
            confirmed_409: c.confirmed_409,
            timer_reconnects: c.timer_reconnects,
            longest_timer_gap_ms: c.longest_timer_gap.as_secs_f64() * 1000.0,
        }
    }
}

impl RetrySummary {
    pub fn line(&self) -> String {
        let retried: Vec<String> = self
            .retried
            .iter()
            .map(|(s, n)| match s {
                0 => format!("no answer×{n}"),
                s => format!("{s}×{n}"),
            })
            .collect();
        format!(
            "retries: {} attempts retried ({}), {} requests answered after retrying (longest {:.1} s \
             from the first attempt), {} given up; {} keyed submissions confirmed after a 409; \
             timer sockets reopened {} times (longest gap {:.1} s)",
            self.retried.values().sum::<u64>(),
            if retried.is_empty() {
                "none".to_string()
            } else {
                retried.join(" ")
            },
            self.recovered,
            self.longest_recovery_ms / 1000.0,
            self.gave_up,
            self.confirmed_409,
            self.timer_reconnects,
            self.longest_timer_gap_ms / 1000.0
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_missing_answer_and_the_gateway_errors_are_retried() {
        for status in [None, Some(502), Some(503), Some(504)] {
            assert!(retryable(status), "{status:?}");
        }
        for status in [200, 201, 400, 401, 404, 409, 429, 500] {
            assert!(!retryable(Some(status)), "{status}");
        }
    }

    #[test]
    fn the_backoff_doubles_up_to_two_seconds_or_obeys_retry_after() {
        let within = |d: Duration, ms: u64| {
            d >= Duration::from_millis(ms) && d <= Duration::from_millis(ms * 3 / 2)
        };
        assert!(within(backoff(0, None), 200));
        assert!(within(backoff(1, None), 400));
        assert!(within(backoff(3, None), 1600));
        assert!(within(backoff(4, None), 2000));
        assert!(within(backoff(30, None), 2000));
        assert!(within(backoff(0, Some(1)), 1000));
        assert!(within(backoff(0, Some(3600)), 5000));
        // All the waits of a request that never gets an answer, at their longest.
        let most: Duration = (0..ATTEMPTS - 1)
            .map(|a| Duration::from_millis(200u64 << a.min(4)).min(Duration::from_secs(2)))
            .sum::<Duration>()
            .mul_f64(1.5);
        assert!(most < Duration::from_secs(15), "{most:?}");
    }

    #[test]
    fn keys_are_valid_idempotency_keys_and_differ() {
        let (a, b) = (new_key(), new_key());
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn the_figures_add_up() {
        let f = RetryFigures::default();
        f.retried(None);
        f.retried(Some(502));
        f.retried(None);
        f.recovered(Duration::from_millis(700));
        f.recovered(Duration::from_millis(300));
        f.gave_up();
        f.timer_reconnected(Duration::from_millis(1500));
        let s = f.summary();
        assert_eq!(s.retried, BTreeMap::from([(0, 2), (502, 1)]));
        assert_eq!((s.recovered, s.gave_up, s.timer_reconnects), (2, 1, 1));
        assert_eq!(s.longest_recovery_ms, 700.0);
        assert!(
            s.line().contains("3 attempts retried (no answer×2 502×1)"),
            "{}",
            s.line()
        );
        assert!(s.line().contains("1 given up"), "{}", s.line());
    }
}
