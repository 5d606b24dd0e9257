//! A student's own window on a contest (API.md, "Per-student time"): the contest's times, an
//! admin's accommodation (personal start and end, extra minutes) and, on a contest with
//! `duration_minutes`, the moment the student first opened it. One function decides it, so the
//! rules, the views, the timer frames and the deadline all agree.

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

use crate::model::ContestStatus;

/// When a student may work: from `start` (inclusive) to `end` (exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Window {
    pub fn status(&self, now: DateTime<Utc>) -> ContestStatus {
        ContestStatus::at(self.start, self.end, now)
    }

    /// When submissions stop being accepted and a draft becomes the submission: the end plus
    /// the contest's grace.
    pub fn deadline(&self, grace_seconds: i64) -> DateTime<Utc> {
        self.end + TimeDelta::seconds(grace_seconds)
    }

    /// Whether a submission or a draft save made at `now` is in time: from the start
    /// (inclusive) to the deadline (exclusive).
    pub fn accepts(&self, now: DateTime<Utc>, grace_seconds: i64) -> bool {
        self.start <= now && now < self.deadline(grace_seconds)
    }
}

/// A student's window as `GET /api/contests/{id}` shows it (`my_window`): present when it
/// differs from the contest's or has started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MyWindow {
    pub start_time: DateTime<Utc>,
    pub end_time: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
}

/// An admin's terms for one student: times that replace the contest's, and minutes added to
/// the end (or, on a contest with a duration, to the duration).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Accommodation {
    pub extra_minutes: i64,
    pub start_time: Option<DateTime<Utc>>,
    pub end_time: Option<DateTime<Utc>>,
}

/// The student's window. `contest` is the contest's own; `duration_minutes` the contest's
/// per-student duration, if it has one; `started_at` when the student first opened it.
///
/// - Start: the accommodation's start, else the contest's.
/// - Without a duration: the accommodation's end, else the contest's, plus the extra minutes.
/// - With a duration, once started: `started_at + duration + extra`, but never after the
///   (accommodated) end; until started, the (accommodated) end.
pub fn window_for(
    contest: Window,
    duration_minutes: Option<i64>,
    accommodation: Option<&Accommodation>,
    started_at: Option<DateTime<Utc>>,
) -> Window {
    let terms = accommodation.copied().unwrap_or_default();
    let start = terms.start_time.unwrap_or(contest.start);
    let end = terms.end_time.unwrap_or(contest.end);
    let extra = TimeDelta::minutes(terms.extra_minutes);
    let end = match (duration_minutes, started_at) {
        (None, _) => end + extra,
        (Some(minutes), Some(at)) => (at + TimeDelta::minutes(minutes) + extra).min(end),
        (Some(_), None) => end,
    };
    Window { start, end }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minute: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap() + TimeDelta::minutes(minute)
    }

    /// The contest: minute 0 to minute 120.
    fn contest() -> Window {
        Window {
            start: at(0),
            end: at(120),
        }
    }

    fn window(start: i64, end: i64) -> Window {
        Window {
            start: at(start),
            end: at(end),
        }
    }

    #[test]
    fn without_terms_the_window_is_the_contest_s() {
        assert_eq!(window_for(contest(), None, None, None), contest());
        let none = Accommodation::default();
        assert_eq!(window_for(contest(), None, Some(&none), None), contest());
    }

    #[test]
    fn an_accommodation_moves_the_times_and_extends_the_end() {
        let extra = Accommodation {
            extra_minutes: 30,
            ..Accommodation::default()
        };
        assert_eq!(
            window_for(contest(), None, Some(&extra), None),
            window(0, 150)
        );
        let later = Accommodation {
            extra_minutes: 15,
            start_time: Some(at(60)),
            end_time: Some(at(180)),
        };
        assert_eq!(
            window_for(contest(), None, Some(&later), None),
            window(60, 195)
        );
        let shorter = Accommodation {
            end_time: Some(at(90)),
            ..Accommodation::default()
        };
        assert_eq!(
            window_for(contest(), None, Some(&shorter), None),
            window(0, 90)
        );
    }

    #[test]
    fn a_duration_starts_at_the_first_open_and_stops_at_the_end() {
        // Not opened yet: the contest's window.
        assert_eq!(window_for(contest(), Some(45), None, None), contest());
        assert_eq!(
            window_for(contest(), Some(45), None, Some(at(10))),
            window(0, 55)
        );
        // Opened late: the contest's end comes first.
        assert_eq!(
            window_for(contest(), Some(45), None, Some(at(100))),
            window(0, 120)
        );
        // Extra minutes go to the duration.
        let extra = Accommodation {
            extra_minutes: 20,
            ..Accommodation::default()
        };
        assert_eq!(
            window_for(contest(), Some(45), Some(&extra), Some(at(10))),
            window(0, 75)
        );
        assert_eq!(
            window_for(contest(), Some(45), Some(&extra), None),
            contest(),
            "not opened yet"
        );
    }

    #[test]
    fn status_follows_the_window() {
        let w = window(10, 20);
        assert_eq!(w.status(at(9)), ContestStatus::Upcoming);
        assert_eq!(w.status(at(10)), ContestStatus::Open);
        assert_eq!(w.status(at(20)), ContestStatus::Closed);
    }
}
