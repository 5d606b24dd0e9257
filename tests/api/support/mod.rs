//! The test harness: a real contestd server per test, in-process on a free port, over a fresh
//! database (a temporary SQLite file, or a uuid-named PostgreSQL database), and typed request
//! helpers that keep the tests short. One file per concern; tests import what they name from
//! here (types they only receive, such as `DbProxy` or `WriteLock`, stay in their file).

mod assertions;
mod database;
mod deadline;
mod fixtures;
mod listener;
mod process;
mod prometheus;
mod receipts;
mod requests;
mod server;
mod time;

pub use assertions::{
    assert_error, assert_keys, csv_rows, id_of, retry_after, str_field, CSV_COLUMNS,
};
pub use database::fresh_database;
pub use deadline::{
    assert_before, course_with_students, draft_path, own_submission, sleep_until, sorted, until,
    wait_for_auto_submission, AUTO_WITHIN, POLL_SLACK,
};
pub use fixtures::{answers, contest_body, question_ids, Student};
pub use prometheus::Metrics;
pub use receipts::{check_receipt, receipt_verifies};
pub use server::{
    free_port, spawn_app, spawn_app_behind_proxy, spawn_app_on, spawn_app_with, spawn_binary,
    spawn_binary_with_env, TestApp,
};
pub use time::{
    closed_window, hours, now_ms, open_window, parse_time, rfc3339, upcoming_window, wait_for,
};

use reqwest::StatusCode;
use serde_json::Value;

/// The password the `admin` user is created with.
pub const ADMIN_PW: &str = "admin-password-1";
/// The password every student made by `create_students` has.
pub const STUDENT_PW: &str = "student-password-1";

/// A response: its status and its JSON body (`Null` when the body is empty).
pub type Resp = (StatusCode, Value);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

impl Db {
    /// What `/health` reports as `db.backend`.
    pub fn backend(self) -> &'static str {
        match self {
            Db::Sqlite => "sqlite",
            Db::Postgres => "postgres",
        }
    }
}

/// Makes a `sqlite::NAME` and a `postgres::NAME` test of each async fn:
/// `both_databases!(a, b)` for fns that take the fresh `&TestApp`, and
/// `both_databases!(a, b; with_db: c)` where `c` takes the `Db` and starts its own app(s).
/// Attributes written before a name (`#[ignore = "…"] a`) go on both tests.
macro_rules! both_databases {
    (@tests $db:ident; $($(#[$meta:meta])* $name:ident),*; $($(#[$db_meta:meta])* $db_name:ident),*) => {
        $(
            $(#[$meta])*
            #[actix_web::test]
            async fn $name() {
                if let Some(app) = $crate::support::spawn_app($crate::support::Db::$db).await {
                    super::$name(&app).await;
                    app.stop().await;
                }
            }
        )*
        $(
            $(#[$db_meta])*
            #[actix_web::test]
            async fn $db_name() {
                super::$db_name($crate::support::Db::$db).await;
            }
        )*
    };
    (
        $($(#[$meta:meta])* $name:ident),* $(,)?
        $(; with_db: $($(#[$db_meta:meta])* $db_name:ident),+ $(,)?)?
    ) => {
        mod sqlite {
            both_databases!(@tests Sqlite; $($(#[$meta])* $name),*; $($($(#[$db_meta])* $db_name),+)?);
        }
        mod postgres {
            both_databases!(@tests Postgres; $($(#[$meta])* $name),*; $($($(#[$db_meta])* $db_name),+)?);
        }
    };
}
