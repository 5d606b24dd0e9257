//! Regrading: every submission of a contest scored again under its questions' current keys,
//! in one transaction, written back with one set-based `UPDATE` per batch of changed rows.

use sqlx::types::Json;
use sqlx::QueryBuilder;
use uuid::Uuid;

use super::rows::{QuestionRow, QUESTION_COLUMNS};
use super::{Result, Store, StoreError, CHUNK};
use crate::model::{Answer, Id, Question, Score};
use contestd_actors::Grader;

/// What a regrade did.
#[derive(Debug, Clone, PartialEq)]
pub struct Regraded {
    /// The contest's submissions, every one re-graded.
    pub count: usize,
    pub max_score: Score,
    /// Every submission's score now, by student.
    pub scores: Vec<(Id, Score)>,
    /// The students whose score changed.
    pub changed: Vec<Id>,
}

/// A stored submission as a regrade reads it.
type Scored = (Uuid, Id, Json<Vec<Answer>>, i64, i64);

/// Reads the contest's questions and submissions in `$tx`, after taking the contest's write
/// lock: the first statement writes, so SQLite's transaction holds the write lock from the start
/// and PostgreSQL's holds the contest row, and two regrades of a contest run one after the
/// other, each under the key it reads. Evaluates to `(questions, submissions)`.
macro_rules! read_locked {
    ($tx:expr, $contest_id:expr) => {{
        let locked = sqlx::query("UPDATE contests SET is_active = is_active WHERE id = $1")
            .bind($contest_id)
            .execute(&mut *$tx)
            .await?
            .rows_affected();
        if locked == 0 {
            return Err(StoreError::NotFound("contest".into()));
        }
        let questions_sql = format!(
            "SELECT {QUESTION_COLUMNS} FROM questions WHERE contest_id = $1 ORDER BY position"
        );
        let questions: Vec<QuestionRow> = sqlx::query_as(&questions_sql)
            .bind($contest_id)
            .fetch_all(&mut *$tx)
            .await?;
        let questions = questions
            .into_iter()
            .map(Question::try_from)
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let rows: Vec<Scored> = sqlx::query_as(
            "SELECT id, student_id, answers, score, max_score FROM submissions WHERE contest_id = $1",
        )
        .bind($contest_id)
        .fetch_all(&mut *$tx)
        .await?;
        (questions, rows)
    }};
}

impl Store {
    /// Scores every submission of the contest again and commits the new scores.
    pub async fn regrade(&self, contest_id: Id) -> Result<Regraded> {
        match self {
            Store::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                let (questions, rows) = read_locked!(tx, contest_id);
                let (regraded, updates) = rescore(&questions, rows);
                let sql = "UPDATE submissions AS s SET score = v.score, max_score = $3
                           FROM UNNEST($1::uuid[], $2::int8[]) AS v(id, score)
                           WHERE s.id = v.id";
                let (ids, scores): (Vec<Uuid>, Vec<i64>) = updates.into_iter().unzip();
                if !ids.is_empty() {
                    sqlx::query(sql)
                        .bind(ids)
                        .bind(scores)
                        .bind(regraded.max_score.cents())
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(regraded)
            }
            Store::Sqlite(pool) => {
                let mut tx = pool.begin().await?;
                let (questions, rows) = read_locked!(tx, contest_id);
                let (regraded, updates) = rescore(&questions, rows);
                for chunk in updates.chunks(CHUNK) {
                    let mut q =
                        QueryBuilder::new("UPDATE submissions SET score = v.column2, max_score = ");
                    q.push_bind(regraded.max_score.cents()).push(" FROM (");
                    q.push_values(chunk, |mut row, (id, score)| {
                        row.push_bind(*id).push_bind(*score);
                    });
                    q.push(") AS v WHERE submissions.id = v.column1");
                    q.build().execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(regraded)
            }
        }
    }
}

/// The new scores, and the rows whose score or maximum changed with their new score (in
/// hundredths), to write.
fn rescore(questions: &[Question], rows: Vec<Scored>) -> (Regraded, Vec<(Uuid, i64)>) {
    let grader = Grader::new(questions);
    let max_score = Score::from_points(questions.iter().map(|q| q.points).sum());
    let mut regraded = Regraded {
        count: rows.len(),
        max_score,
        scores: Vec::with_capacity(rows.len()),
        changed: Vec::new(),
    };
    let mut updates = Vec::new();
    for (id, student, answers, score, max) in rows {
        let new = grader.score(&answers.0);
        if new.cents() != score {
            regraded.changed.push(student);
        }
        if new.cents() != score || max != max_score.cents() {
            updates.push((id, new.cents()));
        }
        regraded.scores.push((student, new));
    }
    (regraded, updates)
}
