//! The domain types the runtime and the server share.

use crate::grading::Score;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub type Id = i64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResultsPolicy {
    #[default]
    AfterClose,
    Immediate,
}

impl ResultsPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            ResultsPolicy::AfterClose => "after_close",
            ResultsPolicy::Immediate => "immediate",
        }
    }
}

impl TryFrom<String> for ResultsPolicy {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        match s.as_str() {
            "after_close" => Ok(ResultsPolicy::AfterClose),
            "immediate" => Ok(ResultsPolicy::Immediate),
            _ => Err(format!("unknown results policy {s:?}")),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ContestStatus {
    Upcoming,
    Open,
    Closed,
}

impl ContestStatus {
    /// Open from start (inclusive) to end (exclusive), by the server clock.
    pub fn at(start: DateTime<Utc>, end: DateTime<Utc>, now: DateTime<Utc>) -> Self {
        if now < start {
            ContestStatus::Upcoming
        } else if now < end {
            ContestStatus::Open
        } else {
            ContestStatus::Closed
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ContestStatus::Upcoming => "upcoming",
            ContestStatus::Open => "open",
            ContestStatus::Closed => "closed",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Contest {
    pub id: Id,
    pub course_id: Id,
    pub title: String,
    pub start_time: DateTime<Utc>,
    pub end_time: DateTime<Utc>,
    pub results: ResultsPolicy,
    pub is_active: bool,
}

impl Contest {
    pub fn status(&self, now: DateTime<Utc>) -> ContestStatus {
        ContestStatus::at(self.start_time, self.end_time, now)
    }

    /// Whether a student may see scores now.
    pub fn results_visible(&self, now: DateTime<Utc>) -> bool {
        self.results == ResultsPolicy::Immediate || self.status(now) == ContestStatus::Closed
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Question {
    pub id: Id,
    pub prompt: String,
    pub options: Vec<String>,
    pub correct_option: i32,
    pub points: i64,
}

/// One answer of a submission: the index of the option chosen for a question.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Answer {
    pub question_id: Id,
    pub option: i64,
}

/// A graded submission, ready to be written.
#[derive(Debug, Clone, PartialEq)]
pub struct SubmissionRow {
    pub id: Uuid,
    pub contest_id: Id,
    pub student_id: Id,
    pub submitted_at: DateTime<Utc>,
    pub answers: Vec<Answer>,
    pub score: Score,
    pub max_score: Score,
}

/// Everything a contest actor needs, read from the database in one go.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub contest: Contest,
    pub questions: Vec<Question>,
    /// Students actively enrolled in the contest's course.
    pub enrolled: Vec<Id>,
    /// Students with a committed submission, and their scores.
    pub submitted: Vec<(Id, Score)>,
}
