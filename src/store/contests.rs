//! Contests with their questions: creating, reading, patching, listing.

use chrono::{DateTime, Utc};
use sqlx::QueryBuilder;

use super::rows::{ContestRow, ListingRow, QuestionRow, CONTEST_COLUMNS};
use super::{on_pool, Result, Store, StoreError};
use crate::model::{
    Contest, ContestPatch, ContestWithQuestions, Id, NewContest, Question, Role, User,
};

/// A contest in a listing, with whether the student asking has submitted.
#[derive(Debug, Clone)]
pub struct ContestListing {
    pub contest: Contest,
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
        new: &NewContest,
        now: DateTime<Utc>,
    ) -> Result<ContestWithQuestions> {
        if !self.course_exists(new.course_id).await? {
            return Err(StoreError::NotFound("course".into()));
        }
        let sql = "INSERT INTO contests (course_id, title, start_time, end_time, results, is_active, created_at)
                   VALUES ($1, $2, $3, $4, $5, TRUE, $6) RETURNING id";
        let (id, mut ids) = on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let id: Id = sqlx::query_scalar(sql)
                .bind(new.course_id)
                .bind(&new.title)
                .bind(new.start_time)
                .bind(new.end_time)
                .bind(new.results.as_str())
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
            let mut q = QueryBuilder::new(
                "INSERT INTO questions (contest_id, position, prompt, options, correct_option, points) ",
            );
            q.push_values(new.questions.iter().enumerate(), |mut row, (i, question)| {
                row.push_bind(id)
                    .push_bind(i as i32)
                    .push_bind(&question.prompt)
                    .push_bind(sqlx::types::Json(&question.options))
                    .push_bind(question.correct_option as i32)
                    .push_bind(question.points);
            });
            q.push(" RETURNING id, position");
            let ids: Vec<(Id, i32)> = q.build_query_as().fetch_all(&mut *tx).await?;
            tx.commit().await?;
            (id, ids)
        });
        ids.sort_by_key(|(_, position)| *position);
        let questions = ids
            .into_iter()
            .zip(&new.questions)
            .map(|((qid, _), q)| Question {
                id: qid,
                prompt: q.prompt.clone(),
                options: q.options.clone(),
                correct_option: q.correct_option as i32,
                points: q.points,
            })
            .collect();
        let contest = Contest {
            id,
            course_id: new.course_id,
            title: new.title.clone(),
            start_time: new.start_time,
            end_time: new.end_time,
            results: new.results,
            is_active: true,
        };
        Ok(ContestWithQuestions { contest, questions })
    }

    pub async fn contest(&self, id: Id) -> Result<Option<ContestWithQuestions>> {
        let contest_sql = format!("SELECT {CONTEST_COLUMNS} FROM contests c WHERE c.id = $1");
        let questions_sql = "SELECT id, prompt, options, correct_option, points FROM questions
                             WHERE contest_id = $1 ORDER BY position";
        on_pool!(self, pool => {
            let Some(contest) = sqlx::query_as::<_, ContestRow>(&contest_sql)
                .bind(id)
                .fetch_optional(pool)
                .await?
            else {
                return Ok(None);
            };
            let questions: Vec<QuestionRow> =
                sqlx::query_as(questions_sql).bind(id).fetch_all(pool).await?;
            Ok(Some(ContestWithQuestions {
                contest: contest.into(),
                questions: questions.into_iter().map(Question::from).collect(),
            }))
        })
    }

    /// Applies a validated patch in one statement that also keeps start < end against the
    /// stored times.
    pub async fn update_contest(
        &self,
        id: Id,
        patch: &ContestPatch,
    ) -> Result<ContestWithQuestions> {
        let sql = "UPDATE contests SET
                       title = COALESCE($2, title),
                       start_time = COALESCE($3, start_time),
                       end_time = COALESCE($4, end_time),
                       is_active = COALESCE($5, is_active)
                   WHERE id = $1 AND COALESCE($3, start_time) < COALESCE($4, end_time)";
        let changed = on_pool!(self, pool => sqlx::query(sql)
            .bind(id)
            .bind(patch.title.as_deref())
            .bind(patch.start_time)
            .bind(patch.end_time)
            .bind(patch.is_active)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        let current = self
            .contest(id)
            .await?
            .ok_or_else(|| StoreError::NotFound("contest".into()))?;
        if changed == 0 {
            return Err(StoreError::Invalid(
                "start_time must be before end_time".into(),
            ));
        }
        Ok(current)
    }

    /// Contests in start order: all of them (admins), or the active ones of the student's
    /// active courses with whether the student has submitted.
    pub async fn contests_for(&self, user: &User) -> Result<Vec<ContestListing>> {
        let by_start = "ORDER BY c.start_time, c.id";
        let rows: Vec<ListingRow> = match user.role {
            Role::Admin => {
                let sql = format!(
                    "SELECT {CONTEST_COLUMNS}, FALSE AS submitted FROM contests c {by_start}"
                );
                on_pool!(self, pool => sqlx::query_as(&sql).fetch_all(pool).await)?
            }
            Role::Student => {
                let sql = format!(
                    "SELECT {CONTEST_COLUMNS},
                         EXISTS (SELECT 1 FROM submissions s
                                 WHERE s.contest_id = c.id AND s.student_id = $1) AS submitted
                     FROM contests c
                     JOIN enrollments e ON e.course_id = c.course_id
                     WHERE e.student_id = $1 AND e.is_active AND c.is_active {by_start}"
                );
                on_pool!(self, pool => sqlx::query_as(&sql).bind(user.id).fetch_all(pool).await)?
            }
        };
        Ok(rows
            .into_iter()
            .map(|r| ContestListing {
                contest: r.contest.into(),
                submitted: r.submitted,
            })
            .collect())
    }
}
