//! What the runtime reads and writes (a contest's snapshot, batches of submissions) and the
//! submissions' read side: one, a student's, pages for admins, the leaderboard.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sqlx::QueryBuilder;

use super::rows::{
    ContestRow, DraftRecord, LeaderboardRow, NamedSubmission, Submission, CONTEST_COLUMNS,
};
use super::{on_pool, postgres, Result, Store, StoreError, CHUNK};
use crate::model::{Contest, DraftRow, Id, Score, Snapshot};
use contestd_actors::Batch;

impl Store {
    /// Everything a contest actor needs: the contest, its questions, the students actively
    /// enrolled in its course and the submissions so far.
    pub async fn snapshot(&self, contest_id: Id) -> Result<Option<Snapshot>> {
        let Some(full) = self.contest(contest_id).await? else {
            return Ok(None);
        };
        let enrolled_sql = "SELECT student_id FROM enrollments WHERE course_id = $1 AND is_active";
        let submitted_sql = "SELECT student_id, score FROM submissions WHERE contest_id = $1";
        let drafts_sql = "SELECT d.contest_id, d.student_id, d.answers, d.saved_at FROM drafts d
                          WHERE d.contest_id = $1 AND NOT EXISTS (SELECT 1 FROM submissions s
                              WHERE s.contest_id = d.contest_id AND s.student_id = d.student_id)";
        let course_id = full.contest.course_id;
        let (enrolled, submitted, drafts): (Vec<Id>, Vec<(Id, i64)>, Vec<DraftRecord>) = on_pool!(self, pool => {
            let enrolled =
                sqlx::query_scalar(enrolled_sql).bind(course_id).fetch_all(pool).await?;
            let submitted =
                sqlx::query_as(submitted_sql).bind(contest_id).fetch_all(pool).await?;
            let drafts = sqlx::query_as(drafts_sql).bind(contest_id).fetch_all(pool).await?;
            (enrolled, submitted, drafts)
        });
        let accommodations = self
            .accommodations(contest_id)
            .await?
            .into_iter()
            .filter_map(|a| Some((a.student_id, a.terms.accommodation()?)))
            .collect();
        // Stored in hundredths of a point.
        let submitted = submitted
            .into_iter()
            .map(|(id, cents)| (id, Score(cents)))
            .collect();
        Ok(Some(Snapshot {
            contest: full.contest,
            questions: full.questions,
            enrolled,
            submitted,
            drafts: drafts.into_iter().map(DraftRow::from).collect(),
            accommodations,
            starts: self.starts(contest_id).await?,
        }))
    }

    /// Writes a batch atomically: inserts the submissions, skipping those whose (contest,
    /// student) is already stored, upserts the drafts and records the starts (a start already
    /// recorded stays). Returns, per submission, whether it was inserted.
    pub async fn write_batch(&self, batch: &Batch) -> Result<Vec<bool>> {
        let rows = &batch.submissions;
        let inserted: HashSet<uuid::Uuid> = match self {
            // Submissions alone (the common case) are one statement, atomic without a
            // transaction's round trips.
            Store::Postgres(pool) if batch.drafts.is_empty() && batch.starts.is_empty() => {
                postgres::insert_submissions(pool, rows).await?
            }
            Store::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                let inserted = if rows.is_empty() {
                    HashSet::new()
                } else {
                    postgres::insert_submissions(&mut *tx, rows).await?
                };
                if !batch.drafts.is_empty() {
                    postgres::upsert_drafts(&mut *tx, &batch.drafts).await?;
                }
                if !batch.starts.is_empty() {
                    postgres::insert_starts(&mut *tx, &batch.starts).await?;
                }
                tx.commit().await?;
                inserted
            }
            Store::Sqlite(pool) => {
                let mut inserted = HashSet::with_capacity(rows.len());
                let mut tx = pool.begin().await?;
                for chunk in rows.chunks(CHUNK) {
                    let mut q = QueryBuilder::new(
                        "INSERT INTO submissions (id, contest_id, student_id, submitted_at, \
                         answers, score, max_score, auto, idempotency_key, answers_hash) ",
                    );
                    q.push_values(chunk, |mut row, s| {
                        row.push_bind(s.id)
                            .push_bind(s.contest_id)
                            .push_bind(s.student_id)
                            .push_bind(s.submitted_at)
                            .push_bind(sqlx::types::Json(&s.answers))
                            .push_bind(s.score.cents())
                            .push_bind(s.max_score.cents())
                            .push_bind(s.auto)
                            .push_bind(s.idempotency.key.as_deref())
                            .push_bind(s.idempotency.answers_hash.as_ref().map(|h| &h[..]));
                    });
                    q.push(" ON CONFLICT (contest_id, student_id) DO NOTHING RETURNING id");
                    let ids: Vec<uuid::Uuid> = q.build_query_scalar().fetch_all(&mut *tx).await?;
                    inserted.extend(ids);
                }
                for chunk in batch.drafts.chunks(CHUNK) {
                    let mut q = QueryBuilder::new(
                        "INSERT INTO drafts (contest_id, student_id, answers, saved_at) ",
                    );
                    q.push_values(chunk, |mut row, d| {
                        row.push_bind(d.contest_id)
                            .push_bind(d.student_id)
                            .push_bind(sqlx::types::Json(&d.answers))
                            .push_bind(d.saved_at);
                    });
                    q.push(
                        " ON CONFLICT (contest_id, student_id) \
                         DO UPDATE SET answers = excluded.answers, saved_at = excluded.saved_at",
                    );
                    q.build().execute(&mut *tx).await?;
                }
                for chunk in batch.starts.chunks(CHUNK) {
                    let mut q = QueryBuilder::new(
                        "INSERT INTO contest_starts (contest_id, student_id, started_at) ",
                    );
                    q.push_values(chunk, |mut row, s| {
                        row.push_bind(s.contest_id)
                            .push_bind(s.student_id)
                            .push_bind(s.started_at);
                    });
                    q.push(" ON CONFLICT (contest_id, student_id) DO NOTHING");
                    q.build().execute(&mut *tx).await?;
                }
                tx.commit().await?;
                inserted
            }
        };
        Ok(rows.iter().map(|r| inserted.contains(&r.id)).collect())
    }

    /// The contests holding drafts of students without a submission.
    pub async fn contests_with_drafts(&self) -> Result<Vec<Id>> {
        let sql = "SELECT DISTINCT d.contest_id FROM drafts d
                   WHERE NOT EXISTS (SELECT 1 FROM submissions s
                       WHERE s.contest_id = d.contest_id AND s.student_id = d.student_id)
                   ORDER BY d.contest_id";
        Ok(on_pool!(self, pool => sqlx::query_scalar(sql).fetch_all(pool).await)?)
    }

    pub async fn submission(&self, contest_id: Id, student_id: Id) -> Result<Option<Submission>> {
        let sql = "SELECT id, contest_id, student_id, submitted_at, answers, score, max_score,
                          auto, idempotency_key, answers_hash
                   FROM submissions WHERE contest_id = $1 AND student_id = $2";
        Ok(on_pool!(self, pool => sqlx::query_as(sql)
            .bind(contest_id)
            .bind(student_id)
            .fetch_optional(pool)
            .await)?)
    }

    /// The student's submissions to those of the given contests that are active, each with
    /// its contest, in contest id order.
    pub async fn submissions_of(
        &self,
        student_id: Id,
        contest_ids: &[Id],
    ) -> Result<Vec<(Submission, Contest)>> {
        let (submissions, contests): (Vec<Submission>, Vec<ContestRow>) = on_pool!(self, pool => {
            let mut q = QueryBuilder::new(
                "SELECT id, contest_id, student_id, submitted_at, answers, score, max_score,
                        auto, idempotency_key, answers_hash
                 FROM submissions WHERE student_id = ",
            );
            q.push_bind(student_id).push(" AND contest_id IN (");
            let mut list = q.separated(", ");
            for id in contest_ids {
                list.push_bind(*id);
            }
            q.push(") ORDER BY contest_id");
            let submissions = q.build_query_as().fetch_all(pool).await?;
            let mut q = QueryBuilder::new(format!(
                "SELECT {CONTEST_COLUMNS} FROM contests c WHERE c.is_active AND c.id IN ("
            ));
            let mut list = q.separated(", ");
            for id in contest_ids {
                list.push_bind(*id);
            }
            q.push(")");
            let contests = q.build_query_as().fetch_all(pool).await?;
            (submissions, contests)
        });
        let contests: HashMap<Id, Contest> = contests
            .into_iter()
            .map(|c| {
                let c = Contest::from(c);
                (c.id, c)
            })
            .collect();
        Ok(submissions
            .into_iter()
            .filter_map(|s| contests.get(&s.contest_id).cloned().map(|c| (s, c)))
            .collect())
    }

    /// A page of the contest's submissions in (submitted_at, id) order, after the given one.
    /// `Invalid` when `after` is not a submission of this contest.
    pub async fn submissions_page(
        &self,
        contest_id: Id,
        after: Option<uuid::Uuid>,
        limit: i64,
    ) -> Result<Vec<NamedSubmission>> {
        let columns = "s.id, s.contest_id, s.student_id, s.submitted_at, s.answers, s.score,
                       s.max_score, s.auto, u.username";
        let page: Vec<NamedSubmission> = match after {
            None => {
                let sql = format!(
                    "SELECT {columns} FROM submissions s JOIN users u ON u.id = s.student_id
                     WHERE s.contest_id = $1 ORDER BY s.submitted_at, s.id LIMIT $2"
                );
                on_pool!(self, pool => sqlx::query_as(&sql)
                    .bind(contest_id)
                    .bind(limit)
                    .fetch_all(pool)
                    .await)?
            }
            Some(after) => {
                let cursor_sql =
                    "SELECT submitted_at FROM submissions WHERE contest_id = $1 AND id = $2";
                let sql = format!(
                    "SELECT {columns} FROM submissions s JOIN users u ON u.id = s.student_id
                     WHERE s.contest_id = $1 AND (s.submitted_at, s.id) > ($2, $3)
                     ORDER BY s.submitted_at, s.id LIMIT $4"
                );
                on_pool!(self, pool => {
                    let at: Option<DateTime<Utc>> = sqlx::query_scalar(cursor_sql)
                        .bind(contest_id)
                        .bind(after)
                        .fetch_optional(pool)
                        .await?;
                    let Some(at) = at else {
                        return Err(StoreError::Invalid(
                            "after: not a submission of this contest".into(),
                        ));
                    };
                    sqlx::query_as(&sql)
                        .bind(contest_id)
                        .bind(at)
                        .bind(after)
                        .bind(limit)
                        .fetch_all(pool)
                        .await?
                })
            }
        };
        Ok(page)
    }

    /// Highest score first, earlier submission (then id) breaking ties.
    pub async fn leaderboard(&self, contest_id: Id, limit: i64) -> Result<Vec<LeaderboardRow>> {
        let sql = "SELECT s.student_id, u.username, s.score, s.submitted_at
                   FROM submissions s JOIN users u ON u.id = s.student_id
                   WHERE s.contest_id = $1
                   ORDER BY s.score DESC, s.submitted_at, s.id LIMIT $2";
        Ok(on_pool!(self, pool => sqlx::query_as(sql)
            .bind(contest_id)
            .bind(limit)
            .fetch_all(pool)
            .await)?)
    }
}
