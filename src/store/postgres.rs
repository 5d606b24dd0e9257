//! PostgreSQL specifics: pool set-up, migrations, maintenance.

use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;

use crate::config::DbArgs;

pub(super) async fn connect(args: &DbArgs) -> Result<PgPool, String> {
    PgPoolOptions::new()
        .max_connections(args.db_max_connections.max(1))
        .acquire_timeout(args.acquire_timeout())
        .connect(&args.database_url)
        .await
        .map_err(|e| format!("cannot connect to PostgreSQL: {e}"))
}

pub(super) async fn migrate(pool: &PgPool) -> Result<(), String> {
    sqlx::migrate!("./migrations/postgres")
        .run(pool)
        .await
        .map_err(|e| format!("PostgreSQL migration failed: {e}"))
}

pub(super) async fn index_names(pool: &PgPool) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT indexname::text FROM pg_indexes WHERE schemaname = current_schema()")
        .fetch_all(pool)
        .await
}

pub(super) async fn optimize(pool: &PgPool) -> Result<Vec<String>, String> {
    // VACUUM cannot run in a transaction block: send it as a simple query of its own.
    let statement = "VACUUM (ANALYZE)";
    sqlx::raw_sql(statement)
        .execute(pool)
        .await
        .map_err(|e| format!("{statement}: {e}"))?;
    Ok(vec![format!("ran {statement}")])
}
