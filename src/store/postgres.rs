//! PostgreSQL specifics: pool set-up, migrations, maintenance, the batch insert.

use std::collections::HashSet;
use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::types::Json;
use sqlx::PgPool;
use uuid::Uuid;

use super::SetupError;
use crate::config::DbArgs;
use crate::model::{DraftRow, StartRow, SubmissionRow};

pub(super) async fn connect(args: &DbArgs, application_name: &str) -> Result<PgPool, SetupError> {
    let open = |source| SetupError::Open {
        target: "PostgreSQL".into(),
        source,
    };
    let options = PgConnectOptions::from_str(&args.database_url)
        .map_err(open)?
        .application_name(application_name);
    PgPoolOptions::new()
        .max_connections(args.db_max_connections.max(1))
        .acquire_timeout(args.acquire_timeout())
        .connect_with(options)
        .await
        .map_err(open)
}

pub(super) async fn migrate(pool: &PgPool) -> Result<(), SetupError> {
    sqlx::migrate!("./migrations/postgres")
        .run(pool)
        .await
        .map_err(|source| SetupError::Migrate {
            backend: "PostgreSQL",
            source,
        })
}

pub(super) async fn index_names(pool: &PgPool) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT indexname::text FROM pg_indexes WHERE schemaname = current_schema()")
        .fetch_all(pool)
        .await
}

pub(super) async fn optimize(pool: &PgPool) -> Result<Vec<String>, SetupError> {
    // VACUUM cannot run in a transaction block: send it as a simple query of its own.
    let statement = "VACUUM (ANALYZE)";
    sqlx::raw_sql(statement)
        .execute(pool)
        .await
        .map_err(|source| SetupError::Maintenance {
            step: statement.into(),
            source,
        })?;
    Ok(vec![format!("ran {statement}")])
}

/// One statement whatever the batch size, so it is parsed and planned once per connection (a
/// VALUES list of a new length is a new statement), and atomic without BEGIN/COMMIT round trips.
pub(super) async fn insert_submissions<'e>(
    db: impl sqlx::PgExecutor<'e>,
    rows: &[SubmissionRow],
) -> Result<HashSet<Uuid>, sqlx::Error> {
    let sql = "INSERT INTO submissions (id, contest_id, student_id, submitted_at, answers,
                                        score, max_score, auto, idempotency_key, answers_hash)
               SELECT * FROM UNNEST($1::uuid[], $2::int8[], $3::int8[], $4::timestamptz[],
                                    $5::jsonb[], $6::int8[], $7::int8[], $8::bool[], $9::text[],
                                    $10::bytea[])
               ON CONFLICT (contest_id, student_id) DO NOTHING RETURNING id";
    let column = |f: fn(&SubmissionRow) -> i64| rows.iter().map(f).collect::<Vec<i64>>();
    let ids: Vec<Uuid> = sqlx::query_scalar(sql)
        .bind(rows.iter().map(|r| r.id).collect::<Vec<Uuid>>())
        .bind(column(|r| r.contest_id))
        .bind(column(|r| r.student_id))
        .bind(rows.iter().map(|r| r.submitted_at).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| Json(&r.answers)).collect::<Vec<_>>())
        .bind(column(|r| r.score.cents()))
        .bind(column(|r| r.max_score.cents()))
        .bind(rows.iter().map(|r| r.auto).collect::<Vec<bool>>())
        .bind(
            rows.iter()
                .map(|r| r.idempotency.key.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind(
            rows.iter()
                .map(|r| r.idempotency.answers_hash.as_ref().map(|h| &h[..]))
                .collect::<Vec<_>>(),
        )
        .fetch_all(db)
        .await?;
    Ok(ids.into_iter().collect())
}

/// Upserts the drafts (at most one per contest and student) in one statement.
pub(super) async fn upsert_drafts<'e>(
    db: impl sqlx::PgExecutor<'e>,
    rows: &[DraftRow],
) -> Result<(), sqlx::Error> {
    let sql = "INSERT INTO drafts (contest_id, student_id, answers, saved_at)
               SELECT * FROM UNNEST($1::int8[], $2::int8[], $3::jsonb[], $4::timestamptz[])
               ON CONFLICT (contest_id, student_id)
               DO UPDATE SET answers = excluded.answers, saved_at = excluded.saved_at";
    sqlx::query(sql)
        .bind(rows.iter().map(|r| r.contest_id).collect::<Vec<i64>>())
        .bind(rows.iter().map(|r| r.student_id).collect::<Vec<i64>>())
        .bind(rows.iter().map(|r| Json(&r.answers)).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.saved_at).collect::<Vec<_>>())
        .execute(db)
        .await?;
    Ok(())
}

/// Records the starts of students' windows in one statement; a start already recorded stays.
pub(super) async fn insert_starts<'e>(
    db: impl sqlx::PgExecutor<'e>,
    rows: &[StartRow],
) -> Result<(), sqlx::Error> {
    let sql = "INSERT INTO contest_starts (contest_id, student_id, started_at)
               SELECT * FROM UNNEST($1::int8[], $2::int8[], $3::timestamptz[])
               ON CONFLICT (contest_id, student_id) DO NOTHING";
    sqlx::query(sql)
        .bind(rows.iter().map(|r| r.contest_id).collect::<Vec<i64>>())
        .bind(rows.iter().map(|r| r.student_id).collect::<Vec<i64>>())
        .bind(rows.iter().map(|r| r.started_at).collect::<Vec<_>>())
        .execute(db)
        .await?;
    Ok(())
}
