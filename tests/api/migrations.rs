//! Migrations on data written before them: a database as an earlier build left it is migrated
//! at start, and what clients read does not change.

use reqwest::StatusCode;
use serde_json::json;
use sqlx::{Connection, Executor, PgConnection, SqliteConnection};

use crate::support::{answers, id_of, question_ids, spawn_app, Db};

both_databases!(; with_db: scores_written_in_points_read_the_same_after_migrating);

/// Runs `sql` on the app's database from a connection of the test's own.
async fn execute(db: Db, url: &str, sql: &str) {
    match db {
        Db::Sqlite => {
            let mut conn = SqliteConnection::connect(url).await.unwrap();
            conn.execute(sql).await.unwrap();
        }
        Db::Postgres => {
            let mut conn = PgConnection::connect(url).await.unwrap();
            conn.execute(sql).await.unwrap();
        }
    }
}

/// Scores were stored in points until migration 2 moved them to hundredths. A submission in
/// the old form (the migration undone on its row, and forgotten as applied) reads the same
/// through every endpoint after the next start runs the migration.
async fn scores_written_in_points_read_the_same_after_migrating(db: Db) {
    let Some(first) = spawn_app(db).await else {
        return;
    };
    let (contest, students) = first.open_contest_with_students(1, Some("immediate")).await;
    let id = id_of(&contest);
    let q = question_ids(&contest);
    let token = &students[0].token;
    let (status, created) = first
        .submit(id, token, answers(&[(q[0], 1), (q[1], 0)]))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (score, max) = (created["score"].clone(), created["max_score"].clone());
    assert!(score.as_i64().is_some_and(|s| s > 0), "{created}");
    first.stop().await;

    // The row as the build before wrote it, and migration 2 not yet applied.
    execute(
        db,
        &first.database_url,
        "UPDATE submissions SET score = score / 100, max_score = max_score / 100",
    )
    .await;
    execute(
        db,
        &first.database_url,
        "DELETE FROM _sqlx_migrations WHERE version = 2",
    )
    .await;

    let second = first.sibling(&[]).await;
    let path = format!("/api/contests/{id}/my-submission");
    let (status, mine) = second.get(&path, Some(token)).await;
    assert_eq!(status, StatusCode::OK, "{mine}");
    assert_eq!((&mine["score"], &mine["max_score"]), (&score, &max));
    let admin = second.admin_token().await;
    let (_, list) = second
        .get(&format!("/api/contests/{id}/submissions"), Some(&admin))
        .await;
    assert_eq!(list["submissions"][0]["score"], score, "{list}");
    let (_, board) = second
        .get(&format!("/api/contests/{id}/leaderboard"), Some(&admin))
        .await;
    assert_eq!(board["entries"][0]["score"], score, "{board}");
    let (_, stats) = second
        .get(
            &format!("/api/contests/bulk-stats?contest_ids={id}"),
            Some(&admin),
        )
        .await;
    let expected_average = score.as_f64().unwrap();
    assert_eq!(
        stats["stats"][0],
        json!({
            "contest_id": id, "status": "open", "enrolled": 1, "submitted": 1,
            "average_score": expected_average, "max_score": max,
        }),
        "{stats}"
    );
    second.stop().await;
}
