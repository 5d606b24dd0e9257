//! Rows as the databases return them, turned into the domain's types.

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use uuid::Uuid;

use crate::model::{
    Accommodation, Announcement, Answer, Contest, Course, DraftRow, Id, Idempotency, Key,
    KeyFields, Question, QuestionType, ResultsPolicy, Role, Score, Shuffle, SubmissionRow, User,
};

/// A user as stored, without the password hash. (`UserRow` is the other way: a user to insert.)
#[derive(sqlx::FromRow)]
pub struct UserRecord {
    id: Id,
    username: String,
    #[sqlx(try_from = "String")]
    role: Role,
}

impl From<UserRecord> for User {
    fn from(r: UserRecord) -> Self {
        User {
            id: r.id,
            username: r.username,
            role: r.role,
        }
    }
}

/// The user holding a session, and when the session expires.
#[derive(sqlx::FromRow)]
pub struct SessionRow {
    #[sqlx(flatten)]
    pub user: UserRecord,
    pub expires_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
pub struct CourseRow {
    id: Id,
    code: String,
    title: String,
}

impl From<CourseRow> for Course {
    fn from(r: CourseRow) -> Self {
        Course {
            id: r.id,
            code: r.code,
            title: r.title,
        }
    }
}

/// The columns `ContestRow` reads, from a table aliased `c`.
pub const CONTEST_COLUMNS: &str = "c.id, c.course_id, c.title, c.start_time, c.end_time, \
     c.results, c.is_active, c.shuffle_questions, c.shuffle_options, c.grace_seconds, \
     c.duration_minutes";

#[derive(sqlx::FromRow)]
pub struct ContestRow {
    id: Id,
    course_id: Id,
    title: String,
    start_time: DateTime<Utc>,
    end_time: DateTime<Utc>,
    #[sqlx(try_from = "String")]
    results: ResultsPolicy,
    is_active: bool,
    shuffle_questions: bool,
    shuffle_options: bool,
    grace_seconds: i32,
    duration_minutes: Option<i32>,
}

impl From<ContestRow> for Contest {
    fn from(r: ContestRow) -> Self {
        Contest {
            id: r.id,
            course_id: r.course_id,
            title: r.title,
            start_time: r.start_time,
            end_time: r.end_time,
            results: r.results,
            is_active: r.is_active,
            shuffle: Shuffle {
                questions: r.shuffle_questions,
                options: r.shuffle_options,
            },
            grace_seconds: i64::from(r.grace_seconds),
            duration_minutes: r.duration_minutes.map(i64::from),
        }
    }
}

/// A contest in a listing, with whether the student asking has submitted and their personal
/// terms and start, if any.
#[derive(sqlx::FromRow)]
pub struct ListingRow {
    #[sqlx(flatten)]
    pub contest: ContestRow,
    pub submitted: bool,
    #[sqlx(flatten)]
    pub terms: TermsRow,
    pub started_at: Option<DateTime<Utc>>,
}

/// An accommodation's columns, all `NULL` when the student has none.
#[derive(sqlx::FromRow)]
pub struct TermsRow {
    extra_minutes: Option<i32>,
    acc_start: Option<DateTime<Utc>>,
    acc_end: Option<DateTime<Utc>>,
}

impl TermsRow {
    pub fn accommodation(&self) -> Option<Accommodation> {
        let extra_minutes = self.extra_minutes?;
        Some(Accommodation {
            extra_minutes: i64::from(extra_minutes),
            start_time: self.acc_start,
            end_time: self.acc_end,
        })
    }
}

/// A stored accommodation with the student's start, if recorded.
#[derive(sqlx::FromRow)]
pub struct AccommodationRow {
    pub student_id: Id,
    #[sqlx(flatten)]
    pub terms: TermsRow,
    pub started_at: Option<DateTime<Utc>>,
}

/// The columns `QuestionRow` reads.
pub const QUESTION_COLUMNS: &str = "id, kind, prompt, options, answer_key, points";

#[derive(sqlx::FromRow)]
pub struct QuestionRow {
    id: Id,
    #[sqlx(try_from = "String")]
    kind: QuestionType,
    prompt: String,
    options: Json<Vec<String>>,
    answer_key: Json<KeyFields>,
    points: i64,
}

impl TryFrom<QuestionRow> for Question {
    type Error = sqlx::Error;

    /// A stored key is checked like a new one: a row that fails is a corrupt database.
    fn try_from(r: QuestionRow) -> Result<Self, sqlx::Error> {
        let key = Key::from_fields(r.kind, &r.answer_key.0, r.options.0.len()).map_err(|e| {
            sqlx::Error::Decode(format!("question {}: stored key: {e}", r.id).into())
        })?;
        Ok(Question {
            id: r.id,
            prompt: r.prompt,
            options: r.options.0,
            points: r.points,
            key,
        })
    }
}

/// A stored submission.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct Submission {
    pub id: Uuid,
    pub contest_id: Id,
    pub student_id: Id,
    #[serde(serialize_with = "crate::receipts::serialize_time")]
    pub submitted_at: DateTime<Utc>,
    #[sqlx(json)]
    pub answers: Vec<Answer>,
    /// Stored in hundredths of a point.
    #[sqlx(try_from = "i64")]
    pub score: Score,
    #[sqlx(try_from = "i64")]
    pub max_score: Score,
    /// Made from the student's draft when their window ended.
    pub auto: bool,
    /// Read only where receipts and retries need them (`None` where a query leaves them out).
    #[sqlx(default)]
    #[serde(skip)]
    pub idempotency_key: Option<String>,
    /// 32 bytes, or `None` for rows from before receipts.
    #[sqlx(default)]
    #[serde(skip)]
    pub answers_hash: Option<Vec<u8>>,
}

impl Submission {
    /// The key and answers hash the row was stored with (a hash of another length, which no
    /// build writes, counts as none).
    pub fn idempotency(&self) -> Idempotency {
        Idempotency {
            key: self.idempotency_key.clone(),
            answers_hash: self.answers_hash.as_deref().and_then(|h| h.try_into().ok()),
        }
    }
}

impl From<&SubmissionRow> for Submission {
    fn from(row: &SubmissionRow) -> Self {
        Submission {
            id: row.id,
            contest_id: row.contest_id,
            student_id: row.student_id,
            submitted_at: row.submitted_at,
            answers: row.answers.clone(),
            score: row.score,
            max_score: row.max_score,
            auto: row.auto,
            idempotency_key: row.idempotency.key.clone(),
            answers_hash: row.idempotency.answers_hash.map(|h| h.to_vec()),
        }
    }
}

/// A stored draft.
#[derive(sqlx::FromRow)]
pub struct DraftRecord {
    contest_id: Id,
    student_id: Id,
    answers: Json<Vec<Answer>>,
    saved_at: DateTime<Utc>,
}

impl From<DraftRecord> for DraftRow {
    fn from(r: DraftRecord) -> Self {
        DraftRow {
            contest_id: r.contest_id,
            student_id: r.student_id,
            answers: r.answers.0,
            saved_at: r.saved_at,
        }
    }
}

/// A submission with its student's name, for admins.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct NamedSubmission {
    #[sqlx(flatten)]
    #[serde(flatten)]
    pub submission: Submission,
    pub username: String,
}

#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct LeaderboardRow {
    pub student_id: Id,
    pub username: String,
    #[sqlx(try_from = "i64")]
    pub score: Score,
    pub submitted_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
pub struct AnnouncementRow {
    id: Id,
    contest_id: Id,
    text: String,
    created_at: DateTime<Utc>,
}

impl From<AnnouncementRow> for Announcement {
    fn from(r: AnnouncementRow) -> Self {
        Announcement {
            id: r.id,
            contest_id: r.contest_id,
            text: r.text,
            created_at: r.created_at,
        }
    }
}
