//! The domain types the runtime and the server share.

use crate::grading::{Key, Response, Score};
use crate::question::QuestionType;
use crate::window::{Accommodation, Window};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
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
    pub shuffle: Shuffle,
    /// Submissions and draft saves are still accepted this long after the end (0–300).
    pub grace_seconds: i64,
    /// Each student's window lasts this long from their first open (API.md, "Per-student
    /// time"), never past the end.
    pub duration_minutes: Option<i64>,
}

/// What each student gets in an order of their own (API.md, "Shuffling").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shuffle {
    #[serde(default)]
    pub questions: bool,
    /// The options of `single` and `multiple` questions.
    #[serde(default)]
    pub options: bool,
}

impl Contest {
    pub fn status(&self, now: DateTime<Utc>) -> ContestStatus {
        ContestStatus::at(self.start_time, self.end_time, now)
    }

    /// The contest's own window, which students without personal terms share.
    pub fn window(&self) -> Window {
        Window {
            start: self.start_time,
            end: self.end_time,
        }
    }

    /// The deadline of students on the contest's window: the end plus the grace.
    pub fn deadline(&self) -> DateTime<Utc> {
        self.window().deadline(self.grace_seconds)
    }

    /// Whether a student may see scores now.
    pub fn results_visible(&self, now: DateTime<Utc>) -> bool {
        self.results == ResultsPolicy::Immediate || self.status(now) == ContestStatus::Closed
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Question {
    pub id: Id,
    pub prompt: String,
    /// Empty for `numeric` and `text` questions.
    pub options: Vec<String>,
    pub points: i64,
    pub key: Key,
}

impl Question {
    pub fn kind(&self) -> QuestionType {
        self.key.kind()
    }
}

/// One answer of a submission: a question and what was given for it, in the field of the
/// question's type (`option`, `options`, `value`, `text`), as sent and as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub question_id: Id,
    pub response: Response,
}

/// An answer as JSON writes it.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AnswerFields {
    question_id: Id,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    option: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    options: Option<Vec<i64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    value: Option<Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    text: Option<String>,
}

impl Serialize for Answer {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut fields = AnswerFields {
            question_id: self.question_id,
            option: None,
            options: None,
            value: None,
            text: None,
        };
        match &self.response {
            Response::Option(o) => fields.option = Some(*o),
            Response::Options(o) => fields.options = Some(o.clone()),
            Response::Value(v) => fields.value = Some(Number(*v)),
            Response::Text(t) => fields.text = Some(t.clone()),
        }
        fields.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Answer {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let f = AnswerFields::deserialize(deserializer)?;
        let responses = [
            f.option.map(Response::Option),
            f.options.map(Response::Options),
            f.value.map(|v| Response::Value(v.0)),
            f.text.map(Response::Text),
        ];
        let mut given = responses.into_iter().flatten();
        match (given.next(), given.next()) {
            (Some(response), None) => Ok(Answer {
                question_id: f.question_id,
                response,
            }),
            _ => Err(serde::de::Error::custom(format!(
                "the answer to question {} must give exactly one of option, options, value, text",
                f.question_id
            ))),
        }
    }
}

/// A number written as an integer when it is whole (`3`, not `3.0`), as students typed it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Number(pub f64);

impl Serialize for Number {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        whole_as_integer(&self.0, serializer)
    }
}

/// Writes `3.0` as `3` (whole numbers up to 2^53, where integers are exact), others as they are.
pub fn whole_as_integer<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
    const EXACT: f64 = 9_007_199_254_740_992.0;
    if value.fract() == 0.0 && value.abs() <= EXACT {
        serializer.serialize_i64(*value as i64)
    } else {
        serializer.serialize_f64(*value)
    }
}

impl<'de> Deserialize<'de> for Number {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        f64::deserialize(deserializer).map(Number)
    }
}

/// A message from the admins to a contest's room, as stored (API.md, "Announcements").
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Announcement {
    pub id: Id,
    pub contest_id: Id,
    pub text: String,
    pub created_at: DateTime<Utc>,
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
    /// Made from the student's draft when their window ended.
    pub auto: bool,
    /// The client's idempotency key and the hash of the answers, stored with the row.
    pub idempotency: Idempotency,
}

/// SHA-256 of a submission's answers in canonical form (the server computes it: the answers
/// sorted by question, in RFC 8785 JSON; API.md, "Retries and receipts").
pub type AnswersHash = [u8; 32];

/// What tells a retry of a submission from another submission: the client's `Idempotency-Key`
/// (if it sent one) and the hash of its answers. Two requests with the same key are the same
/// submission only if their hashes are equal too.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Idempotency {
    pub key: Option<String>,
    /// `None` when whoever made the row did not compute it (it is computed when read).
    pub answers_hash: Option<AnswersHash>,
}

/// A student's work in progress, as saved (`PUT …/draft`).
#[derive(Debug, Clone, PartialEq)]
pub struct DraftRow {
    pub contest_id: Id,
    pub student_id: Id,
    pub answers: Vec<Answer>,
    pub saved_at: DateTime<Utc>,
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
    /// The drafts of students without a submission.
    pub drafts: Vec<DraftRow>,
    /// Personal terms given by the admins, per student.
    pub accommodations: Vec<(Id, Accommodation)>,
    /// When each student first opened the contest (kept for contests with a duration).
    pub starts: Vec<StartRow>,
}

/// The moment a student first opened a contest with `duration_minutes`: their window starts
/// there. Written once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StartRow {
    pub contest_id: Id,
    pub student_id: Id,
    pub started_at: DateTime<Utc>,
}
