//! Times as the server keeps them (RFC 3339, to the millisecond), contest windows around now,
//! and polling until something happens.

use std::future::Future;
use std::time::{Duration, Instant};

use chrono::{DateTime, DurationRound, SecondsFormat, TimeDelta, Utc};
use serde_json::Value;

pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn parse_time(v: &Value) -> DateTime<Utc> {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("a time string, got {v}"));
    DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("{s:?} is not RFC 3339: {e}"))
        .with_timezone(&Utc)
}

pub fn hours(h: i64) -> TimeDelta {
    TimeDelta::hours(h)
}

/// Now, to the millisecond: the precision the server keeps times in.
pub fn now_ms() -> DateTime<Utc> {
    Utc::now()
        .duration_trunc(TimeDelta::milliseconds(1))
        .expect("a representable time")
}

/// A window that is open now.
pub fn open_window() -> (DateTime<Utc>, DateTime<Utc>) {
    let now = now_ms();
    (now - hours(1), now + hours(1))
}

/// A window that starts in an hour.
pub fn upcoming_window() -> (DateTime<Utc>, DateTime<Utc>) {
    let now = now_ms();
    (now + hours(1), now + hours(2))
}

/// A window that ended an hour ago.
pub fn closed_window() -> (DateTime<Utc>, DateTime<Utc>) {
    let now = now_ms();
    (now - hours(2), now - hours(1))
}

/// Polls `check` every 20 ms until it gives `Some`, failing the test after `timeout`.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    wait_for_opt(timeout, check)
        .await
        .unwrap_or_else(|| panic!("{what}: not within {timeout:?}"))
}

/// Like `wait_for`, but `None` after `timeout` instead of failing.
pub(super) async fn wait_for_opt<T, F, Fut>(timeout: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}
