//! Contests with their questions: creating, reading, patching, listing.

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::QueryBuilder;

use super::rows::{ContestRow, ListingRow, QuestionRow, CONTEST_COLUMNS, QUESTION_COLUMNS};
use super::{on_pool, Result, Store, StoreError};
use crate::model::{
    window_for, Contest, ContestChange, ContestDraft, ContestWithQuestions, Id, Key, Question,
    QuestionDraft, Role, User, Window,
};

/// A contest in a listing, with the window of the student asking (the contest's for admins)
/// and whether they have submitted.
#[derive(Debug, Clone)]
pub struct ContestListing {
    pub contest: Contest,
    pub window: Window,
    pub submitted: bool,
}

impl Store {
    pub async fn contest_exists(&self, contest_id: Id) -> Result<bool> {
        let sql = "SELECT COUNT(*) FROM contests WHERE id = $1";
        let n: i64 =
            on_pool!(self, pool => sqlx::query_scalar(sql).bind(contest_id).fetch_one(pool).await)?;
        Ok(n > 0)
    }

    pub async fn insert_contest(
        &self,
        new: &ContestDraft,
        now: DateTime<Utc>,
    ) -> Result<ContestWithQuestions> {
        if !self.course_exists(new.course_id).await? {
            return Err(StoreError::NotFound("course".into()));
        }
        let sql =
            "INSERT INTO contests (course_id, title, start_time, end_time, results, is_active,
                                         shuffle_questions, shuffle_options, grace_seconds,
                                         duration_minutes, created_at)
                   VALUES ($1, $2, $3, $4, $5, TRUE, $6, $7, $8, $9, $10) RETURNING id";
        let (id, ids) = on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let id: Id = sqlx::query_scalar(sql)
                .bind(new.course_id)
                .bind(&new.title)
                .bind(new.start_time)
                .bind(new.end_time)
                .bind(new.results.as_str())
                .bind(new.shuffle.questions)
                .bind(new.shuffle.options)
                .bind(new.grace_seconds as i32)
                .bind(new.duration_minutes.map(|m| m as i32))
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
            let ids = insert_questions!(tx, id, new.questions);
            tx.commit().await?;
            (id, ids)
        });
        let contest = Contest {
            id,
            course_id: new.course_id,
            title: new.title.clone(),
            start_time: new.start_time,
            end_time: new.end_time,
            results: new.results,
            is_active: true,
            shuffle: new.shuffle,
            grace_seconds: new.grace_seconds,
            duration_minutes: new.duration_minutes,
        };
        Ok(ContestWithQuestions {
            contest,
            questions: with_ids(ids, &new.questions),
        })
    }

    pub async fn contest(&self, id: Id) -> Result<Option<ContestWithQuestions>> {
        let contest_sql = format!("SELECT {CONTEST_COLUMNS} FROM contests c WHERE c.id = $1");
        let questions_sql = format!(
            "SELECT {QUESTION_COLUMNS} FROM questions WHERE contest_id = $1 ORDER BY position"
        );
        on_pool!(self, pool => {
            let Some(contest) = sqlx::query_as::<_, ContestRow>(&contest_sql)
                .bind(id)
                .fetch_optional(pool)
                .await?
            else {
                return Ok(None);
            };
            let questions: Vec<QuestionRow> =
                sqlx::query_as(&questions_sql).bind(id).fetch_all(pool).await?;
            let questions = questions
                .into_iter()
                .map(Question::try_from)
                .collect::<std::result::Result<_, _>>()?;
            Ok(Some(ContestWithQuestions {
                contest: contest.into(),
                questions,
            }))
        })
    }

    /// Applies a checked change in one transaction, which takes the contest's write lock with
    /// its first statement and then checks what it must. Questions and shuffling change only while
    /// the contest is upcoming and has no submission (`Started` otherwise); start < end is
    /// kept against the stored times.
    pub async fn update_contest(
        &self,
        id: Id,
        change: &ContestChange,
        now: DateTime<Utc>,
    ) -> Result<ContestWithQuestions> {
        let sql = "UPDATE contests SET
                       title = COALESCE($2, title),
                       start_time = COALESCE($3, start_time),
                       end_time = COALESCE($4, end_time),
                       is_active = COALESCE($5, is_active),
                       shuffle_questions = COALESCE($6, shuffle_questions),
                       shuffle_options = COALESCE($7, shuffle_options),
                       grace_seconds = COALESCE($8, grace_seconds),
                       duration_minutes = COALESCE($9, duration_minutes)
                   WHERE id = $1 AND COALESCE($3, start_time) < COALESCE($4, end_time)
                   RETURNING EXISTS (SELECT 1 FROM submissions s WHERE s.contest_id = $1)";
        // A write first, so the transaction holds SQLite's write lock from its first statement
        // (a read first could not take it later if another writer committed in between) and
        // PostgreSQL's row lock; then the start before this change, to tell whether the
        // contest had opened.
        let lock_sql = "UPDATE contests SET is_active = is_active WHERE id = $1";
        let before_sql = "SELECT start_time FROM contests WHERE id = $1";
        let shuffle = change.shuffle.unwrap_or_default();
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let locked = sqlx::query(lock_sql).bind(id).execute(&mut *tx).await?.rows_affected();
            if locked == 0 {
                return Err(StoreError::NotFound("contest".into()));
            }
            let started_at: DateTime<Utc> =
                sqlx::query_scalar(before_sql).bind(id).fetch_one(&mut *tx).await?;
            let submitted: Option<bool> = sqlx::query_scalar(sql)
                .bind(id)
                .bind(change.title.as_deref())
                .bind(change.start_time)
                .bind(change.end_time)
                .bind(change.is_active)
                .bind(shuffle.questions)
                .bind(shuffle.options)
                .bind(change.grace_seconds.map(|g| g as i32))
                .bind(change.duration_minutes.map(|m| m as i32))
                .fetch_optional(&mut *tx)
                .await?;
            // The contest exists (read above): no row means the window was refused.
            let Some(submitted) = submitted else {
                return Err(StoreError::Invalid(
                    "start_time must be before end_time".into(),
                ));
            };
            if change.edits_questions() && (started_at <= now || submitted) {
                return Err(StoreError::Started);
            }
            if let Some(questions) = &change.questions {
                sqlx::query("DELETE FROM questions WHERE contest_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                let _ids = insert_questions!(tx, id, questions);
            }
            tx.commit().await?;
        });
        self.contest(id)
            .await?
            .ok_or_else(|| StoreError::NotFound("contest".into()))
    }

    /// Stores a question's corrected key and points.
    pub async fn correct_key(
        &self,
        contest_id: Id,
        question_id: Id,
        key: &Key,
        points: i64,
    ) -> Result<()> {
        let sql = "UPDATE questions SET answer_key = $3, points = $4
                   WHERE id = $1 AND contest_id = $2";
        let changed = on_pool!(self, pool => sqlx::query(sql)
            .bind(question_id)
            .bind(contest_id)
            .bind(Json(key.fields()))
            .bind(points)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        if changed == 0 {
            return Err(StoreError::NotFound("question".into()));
        }
        Ok(())
    }

    /// Contests in start order: all of them (admins), or the active ones of the student's
    /// active courses with whether the student has submitted.
    pub async fn contests_for(&self, user: &User) -> Result<Vec<ContestListing>> {
        let by_start = "ORDER BY c.start_time, c.id";
        let rows: Vec<ListingRow> = match user.role {
            Role::Admin => {
                let sql = format!(
                    "SELECT {CONTEST_COLUMNS}, FALSE AS submitted,
                            CAST(NULL AS INTEGER) AS extra_minutes,
                            CAST(NULL AS TIMESTAMPTZ) AS acc_start,
                            CAST(NULL AS TIMESTAMPTZ) AS acc_end,
                            CAST(NULL AS TIMESTAMPTZ) AS started_at
                     FROM contests c {by_start}"
                );
                on_pool!(self, pool => sqlx::query_as(&sql).fetch_all(pool).await)?
            }
            Role::Student => {
                let sql = format!(
                    "SELECT {CONTEST_COLUMNS},
                         EXISTS (SELECT 1 FROM submissions s
                                 WHERE s.contest_id = c.id AND s.student_id = $1) AS submitted,
                         a.extra_minutes, a.start_time AS acc_start, a.end_time AS acc_end,
                         st.started_at
                     FROM contests c
                     JOIN enrollments e ON e.course_id = c.course_id
                     LEFT JOIN accommodations a ON a.contest_id = c.id AND a.student_id = $1
                     LEFT JOIN contest_starts st ON st.contest_id = c.id AND st.student_id = $1
                     WHERE e.student_id = $1 AND e.is_active AND c.is_active {by_start}"
                );
                on_pool!(self, pool => sqlx::query_as(&sql).bind(user.id).fetch_all(pool).await)?
            }
        };
        Ok(rows
            .into_iter()
            .map(|r| {
                let contest: Contest = r.contest.into();
                let window = window_for(
                    contest.window(),
                    contest.duration_minutes,
                    r.terms.accommodation().as_ref(),
                    r.started_at,
                );
                ContestListing {
                    contest,
                    window,
                    submitted: r.submitted,
                }
            })
            .collect())
    }
}

/// Inserts a contest's questions in order, in transaction `$tx` of either backend; evaluates
/// to their ids in that order. (A macro: the statement is built for each backend's types.)
macro_rules! insert_questions {
    ($tx:expr, $contest_id:expr, $questions:expr) => {{
        let mut q = QueryBuilder::new(
            "INSERT INTO questions (contest_id, position, kind, prompt, options, answer_key, points) ",
        );
        q.push_values($questions.iter().enumerate(), |mut row, (i, question)| {
            row.push_bind($contest_id)
                .push_bind(i as i32)
                .push_bind(question.key.kind().as_str())
                .push_bind(question.prompt.as_str())
                .push_bind(Json(question.options.as_slice()))
                .push_bind(Json(question.key.fields()))
                .push_bind(question.points);
        });
        q.push(" RETURNING id, position");
        let mut ids: Vec<(Id, i32)> = q.build_query_as().fetch_all(&mut *$tx).await?;
        ids.sort_by_key(|(_, position)| *position);
        ids.into_iter().map(|(id, _)| id).collect::<Vec<Id>>()
    }};
}
use insert_questions;

/// The stored questions: the drafts with the ids the database gave them.
fn with_ids(ids: Vec<Id>, drafts: &[QuestionDraft]) -> Vec<Question> {
    ids.into_iter()
        .zip(drafts)
        .map(|(id, q)| Question {
            id,
            prompt: q.prompt.clone(),
            options: q.options.clone(),
            points: q.points,
            key: q.key.clone(),
        })
        .collect()
}
