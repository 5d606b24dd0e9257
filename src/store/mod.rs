//! All of contestd's SQL. One `Store` over either backend: queries that both databases accept
//! are written once and compiled for each pool (`on_pool!`); what differs (connection set-up,
//! migrations, maintenance) lives in `sqlite.rs` and `postgres.rs`.
//! Placeholders are `$1, $2, …`, which SQLite accepts too.
//!
//! This file holds what every query shares (the pools, the error and its classification) and
//! the database's own life (connect, migrate, maintenance, pool figures). The queries live in a
//! file per subject, each adding its methods to `Store`: `users`, `sessions`, `courses` (with
//! enrollments), `contests`, `submissions` (with the runtime's snapshot), `announcements`,
//! `accommodations` (per-student time), `keys` (the receipts' signing key).

mod accommodations;
mod announcements;
mod contests;
mod courses;
mod keys;
mod postgres;
mod regrade;
mod rows;
mod sessions;
mod sqlite;
mod submissions;
mod users;

pub use accommodations::Standing;
pub use announcements::ANNOUNCEMENTS_LISTED;
pub use contests::ContestListing;
pub use regrade::Regraded;
pub use rows::{LeaderboardRow, NamedSubmission, Submission};
pub use users::UserRow;

use sqlx::{PgPool, SqlitePool};

use crate::config::DbArgs;

/// Rows per multi-row statement: keeps every statement under SQLite's 32,766 bind parameters.
const CHUNK: usize = 1000;

/// Indexes the schema must have; `contestd maintenance` checks them.
pub const INDEXES: &[&str] = &[
    "uq_users_username",
    "idx_sessions_expires_at",
    "uq_courses_code",
    "idx_enrollments_student_course_active",
    "idx_contests_course_active_times",
    "uq_questions_contest_position",
    "uq_submissions_contest_student",
    "idx_submissions_contest_time",
    "idx_announcements_contest_time",
];

#[derive(Clone)]
pub enum Store {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to whichever pool the store holds.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match $store {
            $crate::store::Store::Sqlite($pool) => $body,
            $crate::store::Store::Postgres($pool) => $body,
        }
    };
}
use on_pool;

/// Why the database could not be opened, migrated or maintained (start-up and the commands).
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://…")]
    UnsupportedUrl(String),
    /// `target` names the file, or just "PostgreSQL" (its URL may hold a password).
    #[error("cannot open {target}")]
    Open {
        target: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("{backend} migration failed")]
    Migrate {
        backend: &'static str,
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    #[error(
        "{0} is in use by another contestd: SQLite is served by one process; stop the other \
         one, or run several nodes on PostgreSQL"
    )]
    InUse(String),
    #[error("cannot create the lock file {path}")]
    Lock {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("indexes missing: {0}; run `contestd migrate`")]
    MissingIndexes(String),
    /// A maintenance step (listing indexes, ANALYZE, VACUUM) failed.
    #[error("{step}")]
    Maintenance {
        step: String,
        #[source]
        source: sqlx::Error,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached right now (connection, pool timeout, lock contention).
    #[error("database unavailable: {0}")]
    Unavailable(sqlx::Error),
    /// A unique name is taken; the text names it.
    #[error("{0}")]
    Conflict(String),
    /// The text names what was not found.
    #[error("{0}")]
    NotFound(String),
    /// The request breaks a rule that needs the stored data to check.
    #[error("{0}")]
    Invalid(String),
    /// The contest has opened (or has submissions): its questions are fixed.
    #[error("the contest has opened")]
    Started,
    #[error(transparent)]
    Other(sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        let transient = match &e {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => true,
            sqlx::Error::Database(db) => db.code().is_some_and(|c| is_transient_code(&c)),
            _ => false,
        };
        if transient {
            StoreError::Unavailable(e)
        } else {
            StoreError::Other(e)
        }
    }
}

/// SQLite busy/locked, and PostgreSQL's connection, shutdown, overload and retry classes
/// (55000 is also what a database that does not accept connections answers at connect).
fn is_transient_code(code: &str) -> bool {
    matches!(
        code,
        "5" | "6" | "261" | "517" | "53300" | "55000" | "40001" | "40P01"
    ) || code.starts_with("08")
        || code.starts_with("57P")
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// Maps a unique-key violation to `Conflict(what)`, anything else as usual.
fn conflict_as(what: impl FnOnce() -> String) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| {
        if is_unique_violation(&e) {
            StoreError::Conflict(what())
        } else {
            e.into()
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[derive(Debug, Clone, serde::Serialize)]
pub struct PoolStats {
    pub backend: &'static str,
    pub pool_size: u32,
    pub pool_idle: usize,
    pub pool_max: u32,
}

impl Store {
    /// Opens a pool for the URL's backend (`sqlite:` or `postgres:`).
    pub async fn connect(args: &DbArgs) -> Result<Store, SetupError> {
        Store::connect_as(args, "contestd").await
    }

    /// `connect`, with PostgreSQL's connections named `application_name` (a node names them
    /// after itself: its changes' notifications say they are its own).
    pub async fn connect_as(args: &DbArgs, application_name: &str) -> Result<Store, SetupError> {
        let url = args.database_url.as_str();
        if url.starts_with("sqlite:") {
            sqlite::connect(args).await.map(Store::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            postgres::connect(args, application_name)
                .await
                .map(Store::Postgres)
        } else {
            Err(SetupError::UnsupportedUrl(url.to_string()))
        }
    }

    /// Makes this process the SQLite database's only server (a lock file beside it, held
    /// until the returned file is dropped or the process ends, even by `kill -9`). SQLite's
    /// runtime state lives in one process: a second server on the same file would serve stale
    /// rules. PostgreSQL needs no lock (`None`): its nodes keep each other informed.
    pub fn lock_for_serving(&self) -> Result<Option<std::fs::File>, SetupError> {
        match self {
            Store::Sqlite(pool) => sqlite::lock(pool).map(Some),
            Store::Postgres(_) => Ok(None),
        }
    }

    pub async fn migrate(&self) -> Result<(), SetupError> {
        match self {
            Store::Sqlite(pool) => sqlite::migrate(pool).await,
            Store::Postgres(pool) => postgres::migrate(pool).await,
        }
    }

    /// Checks the indexes, refreshes statistics; returns a line per step done.
    pub async fn maintenance(&self) -> Result<Vec<String>, SetupError> {
        let present: Vec<String> = match self {
            Store::Sqlite(pool) => sqlite::index_names(pool).await,
            Store::Postgres(pool) => postgres::index_names(pool).await,
        }
        .map_err(|source| SetupError::Maintenance {
            step: "listing indexes".into(),
            source,
        })?;
        let missing: Vec<&str> = INDEXES
            .iter()
            .copied()
            .filter(|name| !present.iter().any(|p| p == name))
            .collect();
        if !missing.is_empty() {
            return Err(SetupError::MissingIndexes(missing.join(", ")));
        }
        let mut done = vec![format!("all {} indexes present", INDEXES.len())];
        done.extend(match self {
            Store::Sqlite(pool) => sqlite::optimize(pool).await,
            Store::Postgres(pool) => postgres::optimize(pool).await,
        }?);
        Ok(done)
    }

    /// The folder holding the database file (SQLite); `None` for a server database.
    pub fn file_folder(&self) -> Option<std::path::PathBuf> {
        match self {
            Store::Sqlite(pool) => {
                let options = pool.connect_options();
                let folder = options.get_filename().parent()?.to_path_buf();
                Some(if folder.as_os_str().is_empty() {
                    ".".into()
                } else {
                    folder
                })
            }
            Store::Postgres(_) => None,
        }
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }

    pub fn pool_stats(&self) -> PoolStats {
        on_pool!(self, pool => PoolStats {
            backend: self.backend(),
            pool_size: pool.size(),
            pool_idle: pool.num_idle(),
            pool_max: pool.options().get_max_connections(),
        })
    }

    pub async fn ping(&self) -> Result<()> {
        on_pool!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    pub async fn close(&self) {
        on_pool!(self, pool => pool.close().await)
    }
}
