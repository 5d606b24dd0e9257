//! Rows as the databases return them, turned into the domain's types.

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use uuid::Uuid;

use crate::model::{
    Answer, Contest, Course, Id, Question, ResultsPolicy, Role, Score, SubmissionRow, User,
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
pub const CONTEST_COLUMNS: &str =
    "c.id, c.course_id, c.title, c.start_time, c.end_time, c.results, c.is_active";

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
        }
    }
}

/// A contest in a listing, with whether the student asking has submitted.
#[derive(sqlx::FromRow)]
pub struct ListingRow {
    #[sqlx(flatten)]
    pub contest: ContestRow,
    pub submitted: bool,
}

#[derive(sqlx::FromRow)]
pub struct QuestionRow {
    id: Id,
    prompt: String,
    options: Json<Vec<String>>,
    correct_option: i32,
    points: i64,
}

impl From<QuestionRow> for Question {
    fn from(r: QuestionRow) -> Self {
        Question {
            id: r.id,
            prompt: r.prompt,
            options: r.options.0,
            correct_option: r.correct_option,
            points: r.points,
        }
    }
}

/// A stored submission.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct Submission {
    pub id: Uuid,
    pub contest_id: Id,
    pub student_id: Id,
    pub submitted_at: DateTime<Utc>,
    #[sqlx(json)]
    pub answers: Vec<Answer>,
    /// Stored in hundredths of a point.
    #[sqlx(try_from = "i64")]
    pub score: Score,
    #[sqlx(try_from = "i64")]
    pub max_score: Score,
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
