//! SQLite specifics: WAL with full fsync, busy timeout, foreign keys; migrations; maintenance.

use std::fs::{File, TryLockError};
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;

use super::SetupError;
use crate::config::DbArgs;

pub(super) async fn connect(args: &DbArgs) -> Result<SqlitePool, SetupError> {
    let open = |source| SetupError::Open {
        target: args.database_url.clone(),
        source,
    };
    let options = SqliteConnectOptions::from_str(&args.database_url)
        .map_err(open)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // FULL: a commit is on disk before we acknowledge it; batching keeps it cheap.
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(Duration::from_secs(5))
        .foreign_keys(true);
    SqlitePoolOptions::new()
        .max_connections(args.db_max_connections.max(1))
        .acquire_timeout(args.acquire_timeout())
        .connect_with(options)
        .await
        .map_err(open)
}

/// Locks `<database file>.lock` for this process (see `Store::lock_for_serving`).
pub(super) fn lock(pool: &SqlitePool) -> Result<File, SetupError> {
    let options = pool.connect_options();
    let database = options.get_filename();
    let mut name = database.as_os_str().to_owned();
    name.push(".lock");
    let path = std::path::PathBuf::from(name);
    let shown = || path.display().to_string();
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| SetupError::Lock {
            path: shown(),
            source,
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(SetupError::InUse(database.display().to_string())),
        Err(TryLockError::Error(source)) => Err(SetupError::Lock {
            path: shown(),
            source,
        }),
    }
}

pub(super) async fn migrate(pool: &SqlitePool) -> Result<(), SetupError> {
    sqlx::migrate!("./migrations/sqlite")
        .run(pool)
        .await
        .map_err(|source| SetupError::Migrate {
            backend: "SQLite",
            source,
        })
}

pub(super) async fn index_names(pool: &SqlitePool) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'index'")
        .fetch_all(pool)
        .await
}

pub(super) async fn optimize(pool: &SqlitePool) -> Result<Vec<String>, SetupError> {
    let mut done = Vec::new();
    for statement in ["ANALYZE", "PRAGMA optimize"] {
        sqlx::query(statement)
            .execute(pool)
            .await
            .map_err(|source| SetupError::Maintenance {
                step: statement.into(),
                source,
            })?;
        done.push(format!("ran {statement}"));
    }
    Ok(done)
}
