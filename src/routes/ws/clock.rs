//! The clock echo (API.md, "Live timer", Clock): a client sends
//! `{"type": "time", "client_time": <number>}` and gets back, on that socket, the same
//! `client_time` (its JSON text exactly as sent) with the server's time, to estimate its
//! offset as `server_time − (sent + received) / 2`.
//!
//! Bounded per socket: a message longer than `MAX_MESSAGE_BYTES` is not parsed, and at most
//! `ANSWERS_PER_WINDOW` are answered in any `WINDOW` — a sliding window over the times of the
//! answers given (at most `ANSWERS_PER_WINDOW` instants kept). Anything else — over the limit,
//! not JSON, another `type`, a `client_time` that is not a number — is ignored, and the socket
//! stays open.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// Longest client message parsed; a time request is about 50 bytes.
pub const MAX_MESSAGE_BYTES: usize = 256;
/// Most answers per socket in any `WINDOW`.
pub const ANSWERS_PER_WINDOW: usize = 10;
pub const WINDOW: Duration = Duration::from_secs(10);

#[derive(Deserialize)]
struct TimeRequest<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    client_time: &'a RawValue,
}

#[derive(Serialize)]
struct TimeReply<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    client_time: &'a RawValue,
    server_time: String,
}

/// One socket's clock echo: when it last answered.
#[derive(Default)]
pub struct Clock {
    /// The instants of the answers given in the last `WINDOW`, oldest first.
    answered: VecDeque<Instant>,
}

impl Clock {
    /// The reply to a client's text message received at `now` (`server_time` is the server's
    /// clock then), or `None` when the message is to be ignored.
    pub fn reply(
        &mut self,
        message: &str,
        now: Instant,
        server_time: DateTime<Utc>,
    ) -> Option<String> {
        if message.len() > MAX_MESSAGE_BYTES || !self.has_room(now) {
            return None;
        }
        let request: TimeRequest = serde_json::from_str(message).ok()?;
        if request.kind != "time" || !is_number(request.client_time) {
            return None;
        }
        let reply = TimeReply {
            kind: "time",
            client_time: request.client_time,
            server_time: server_time.to_rfc3339_opts(SecondsFormat::Millis, true),
        };
        let reply = serde_json::to_string(&reply).ok()?;
        self.answered.push_back(now);
        Some(reply)
    }

    /// Whether another answer fits in the window ending at `now`; forgets older answers.
    fn has_room(&mut self, now: Instant) -> bool {
        while self
            .answered
            .front()
            .is_some_and(|&t| now.saturating_duration_since(t) >= WINDOW)
        {
            self.answered.pop_front();
        }
        self.answered.len() < ANSWERS_PER_WINDOW
    }
}

/// A JSON value is a number when it starts like one (the parser has checked the rest).
fn is_number(value: &RawValue) -> bool {
    value
        .get()
        .starts_with(|c: char| c == '-' || c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(clock: &mut Clock, message: &str, now: Instant) -> Option<serde_json::Value> {
        clock
            .reply(message, now, Utc::now())
            .map(|r| serde_json::from_str(&r).unwrap())
    }

    #[test]
    fn the_client_time_comes_back_as_written() {
        let mut clock = Clock::default();
        let now = Instant::now();
        for (sent, echoed) in [
            (
                r#"{"type":"time","client_time":1764355200123}"#,
                "1764355200123",
            ),
            (r#"{"type": "time", "client_time":  12.50 }"#, "12.50"),
            (r#"{"client_time":-1e3,"type":"time"}"#, "-1e3"),
            (
                r#"{"type":"\u0074ime","client_time":0.1000000000000000055511151231257827}"#,
                "0.1000000000000000055511151231257827",
            ),
            (
                r#"{"type":"time","client_time":123456789012345678901234567890,"seq":4}"#,
                "123456789012345678901234567890",
            ),
        ] {
            let raw = clock
                .reply(sent, now, Utc::now())
                .unwrap_or_else(|| panic!("{sent}"));
            let expected = format!(r#"{{"type":"time","client_time":{echoed},"server_time":""#);
            assert!(raw.starts_with(&expected), "{sent} → {raw}");
        }
    }

    #[test]
    fn server_time_is_rfc3339_with_milliseconds_in_utc() {
        let mut clock = Clock::default();
        let at = DateTime::parse_from_rfc3339("2026-11-28T19:00:00Z")
            .unwrap()
            .to_utc();
        let raw = clock
            .reply(r#"{"type":"time","client_time":1}"#, Instant::now(), at)
            .unwrap();
        assert_eq!(
            raw,
            r#"{"type":"time","client_time":1,"server_time":"2026-11-28T19:00:00.000Z"}"#
        );
    }

    #[test]
    fn malformed_messages_are_ignored_and_cost_nothing() {
        let mut clock = Clock::default();
        let now = Instant::now();
        let long = format!(r#"{{"type":"time","client_time":1{}}}"#, "0".repeat(300));
        for message in [
            "",
            "time",
            "{",
            "[]",
            "null",
            r#"{"type":"time"}"#,
            r#"{"client_time":1}"#,
            r#"{"type":"state","client_time":1}"#,
            r#"{"type":"time","client_time":"1"}"#,
            r#"{"type":"time","client_time":null}"#,
            r#"{"type":"time","client_time":[1]}"#,
            r#"{"type":"time","client_time":{"t":1}}"#,
            r#"{"type":"time","client_time":true}"#,
            r#"{"type":"time","client_time":NaN}"#,
            r#"{"type":"time","client_time":1} x"#,
            r#"{"type":"time","type":"time","client_time":1}"#,
            long.as_str(),
        ] {
            assert_eq!(reply(&mut clock, message, now), None, "{message:?}");
        }
        assert!(clock.answered.is_empty());
        for _ in 0..ANSWERS_PER_WINDOW {
            assert!(reply(&mut clock, r#"{"type":"time","client_time":1}"#, now).is_some());
        }
    }

    #[test]
    fn ten_answers_in_any_ten_seconds() {
        let mut clock = Clock::default();
        let start = Instant::now();
        let ask = |clock: &mut Clock, at: Duration| {
            reply(clock, r#"{"type":"time","client_time":7}"#, start + at).is_some()
        };
        // Ten spread over 9 s are answered; the 11th, inside the window of the first, is not.
        for i in 0..10 {
            assert!(
                ask(&mut clock, Duration::from_millis(900 * i)),
                "answer {i}"
            );
        }
        assert!(!ask(&mut clock, Duration::from_millis(9_999)));
        // 10 s after the first, one slot frees; the next waits for the second to age out.
        assert!(ask(&mut clock, Duration::from_millis(10_000)));
        assert!(!ask(&mut clock, Duration::from_millis(10_001)));
        assert!(ask(&mut clock, Duration::from_millis(10_900)));
        // Ignored requests did not use up slots: after a quiet window, ten again.
        let later = Duration::from_secs(30);
        for i in 0..10 {
            assert!(
                ask(&mut clock, later + Duration::from_millis(i)),
                "answer {i}"
            );
        }
        assert!(!ask(&mut clock, later + Duration::from_millis(10)));
        assert_eq!(clock.answered.len(), ANSWERS_PER_WINDOW);
    }
}
