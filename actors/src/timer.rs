//! The live timer of a contest: its frames, serialized once and shared by every subscriber,
//! and the set of subscribers, each behind a bounded buffer. A subscriber whose buffer is full
//! (a client that does not read) is dropped, so it never slows the contest or the others.

use std::collections::HashMap;

use bytestring::ByteString;
use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::mpsc::{self, error::TrySendError};

use crate::model::{Contest, ContestStatus, Id};

/// A frame for the sockets; cloning shares the bytes.
pub type Frame = ByteString;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FrameKind {
    State,
    Started,
    Ended,
    ScheduleChanged,
}

#[derive(Serialize)]
struct FrameBody {
    #[serde(rename = "type")]
    kind: FrameKind,
    contest_id: Id,
    status: ContestStatus,
    server_time: DateTime<Utc>,
    start_time: DateTime<Utc>,
    end_time: DateTime<Utc>,
    remaining_ms: i64,
}

/// The frame of `kind` for the contest at `now`. `remaining_ms` counts to the start while
/// upcoming, to the end while open, and is 0 once closed.
pub fn frame(kind: FrameKind, contest: &Contest, now: DateTime<Utc>) -> Frame {
    let status = contest.status(now);
    let remaining_ms = match status {
        ContestStatus::Upcoming => (contest.start_time - now).num_milliseconds(),
        ContestStatus::Open => (contest.end_time - now).num_milliseconds(),
        ContestStatus::Closed => 0,
    };
    let body = FrameBody {
        kind,
        contest_id: contest.id,
        status,
        server_time: now,
        start_time: contest.start_time,
        end_time: contest.end_time,
        remaining_ms,
    };
    // A struct of numbers, strings and times always serializes.
    serde_json::to_string(&body).unwrap_or_default().into()
}

struct Subscriber {
    student: Option<Id>,
    tx: mpsc::Sender<Frame>,
}

#[derive(Default)]
pub struct Subscribers {
    next_id: u64,
    by_id: HashMap<u64, Subscriber>,
    /// Subscribers dropped because their buffer was full.
    pub dropped_slow: u64,
}

impl Subscribers {
    pub fn add(&mut self, student: Option<Id>, tx: mpsc::Sender<Frame>) -> u64 {
        self.next_id += 1;
        self.by_id.insert(self.next_id, Subscriber { student, tx });
        self.next_id
    }

    pub fn remove(&mut self, id: u64) {
        self.by_id.remove(&id);
    }

    /// Drops the student's subscriptions (unenrolled): their sockets close.
    pub fn remove_student(&mut self, student: Id) {
        self.by_id.retain(|_, s| s.student != Some(student));
    }

    pub fn clear(&mut self) {
        self.by_id.clear();
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Sends to one subscriber; drops it if it cannot take the frame.
    pub fn send_to(&mut self, id: u64, frame: &Frame) {
        let keep = self
            .by_id
            .get(&id)
            .is_some_and(|s| s.tx.try_send(frame.clone()).is_ok());
        if !keep {
            self.by_id.remove(&id);
        }
    }

    /// Sends to everyone, dropping those whose buffer is full or whose socket is gone.
    pub fn broadcast(&mut self, frame: &Frame) {
        let mut dropped = 0;
        self.by_id
            .retain(|_, s| match s.tx.try_send(frame.clone()) {
                Ok(()) => true,
                Err(TrySendError::Full(_)) => {
                    dropped += 1;
                    false
                }
                Err(TrySendError::Closed(_)) => false,
            });
        self.dropped_slow += dropped;
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;
    use crate::model::ResultsPolicy;

    fn contest(start: DateTime<Utc>, end: DateTime<Utc>) -> Contest {
        Contest {
            id: 4,
            course_id: 1,
            title: "t".into(),
            start_time: start,
            end_time: end,
            results: ResultsPolicy::AfterClose,
            is_active: true,
        }
    }

    #[test]
    fn remaining_counts_to_the_next_edge() {
        let now = Utc::now();
        let upcoming = contest(now + TimeDelta::seconds(2), now + TimeDelta::seconds(9));
        let v: serde_json::Value =
            serde_json::from_str(&frame(FrameKind::State, &upcoming, now)).unwrap();
        assert_eq!(
            (
                v["type"].as_str(),
                v["status"].as_str(),
                v["remaining_ms"].as_i64()
            ),
            (Some("state"), Some("upcoming"), Some(2000))
        );
        let open = contest(now - TimeDelta::seconds(1), now + TimeDelta::seconds(3));
        let v: serde_json::Value =
            serde_json::from_str(&frame(FrameKind::Started, &open, now)).unwrap();
        assert_eq!(
            (
                v["type"].as_str(),
                v["status"].as_str(),
                v["remaining_ms"].as_i64()
            ),
            (Some("started"), Some("open"), Some(3000))
        );
        let closed = contest(now - TimeDelta::seconds(5), now - TimeDelta::seconds(1));
        let v: serde_json::Value =
            serde_json::from_str(&frame(FrameKind::ScheduleChanged, &closed, now)).unwrap();
        assert_eq!(
            (
                v["type"].as_str(),
                v["remaining_ms"].as_i64(),
                v["contest_id"].as_i64()
            ),
            (Some("schedule_changed"), Some(0), Some(4))
        );
    }

    #[test]
    fn a_full_buffer_drops_only_that_subscriber() {
        let mut subs = Subscribers::default();
        let (slow_tx, _slow_rx) = mpsc::channel(2);
        let (fast_tx, mut fast_rx) = mpsc::channel(2);
        subs.add(Some(1), slow_tx);
        subs.add(Some(2), fast_tx);
        let f: Frame = "x".into();
        for _ in 0..5 {
            subs.broadcast(&f);
            while fast_rx.try_recv().is_ok() {} // the fast client reads
        }
        assert_eq!(subs.len(), 1);
        assert_eq!(subs.dropped_slow, 1);
    }

    #[test]
    fn closed_sockets_and_unenrolled_students_leave() {
        let mut subs = Subscribers::default();
        let (a, a_rx) = mpsc::channel(4);
        let (b, _b_rx) = mpsc::channel(4);
        let (c, _c_rx) = mpsc::channel(4);
        subs.add(Some(1), a);
        subs.add(Some(2), b);
        subs.add(None, c);
        drop(a_rx);
        subs.broadcast(&"x".into());
        assert_eq!(subs.len(), 2);
        assert_eq!(subs.dropped_slow, 0, "a closed socket is not a slow one");
        subs.remove_student(2);
        assert_eq!(subs.len(), 1);
    }
}
