//! Migrations on data written before them: a database as an earlier build left it is migrated
//! at start, and what clients read does not change.

use reqwest::StatusCode;
use serde_json::json;
use sqlx::{Connection, Executor, PgConnection, SqliteConnection};

use crate::receipts::{mixed_answers, mixed_contest, sorted};
use crate::support::{answers, assert_error, check_receipt, id_of, question_ids, spawn_app, Db};

both_databases!(; with_db:
    scores_written_in_points_read_the_same_after_migrating,
    contests_from_before_question_types_are_single_choice,
    submissions_from_before_receipts_get_receipts_after_migrating,
);

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

/// Migration 3 undone: questions with a `correct_option` column, contests without shuffling.
const BEFORE_QUESTION_TYPES_SQLITE: &str = "
    CREATE TABLE questions_old (
        id INTEGER PRIMARY KEY,
        contest_id INTEGER NOT NULL REFERENCES contests (id) ON DELETE CASCADE,
        position INTEGER NOT NULL, prompt TEXT NOT NULL, options TEXT NOT NULL,
        correct_option INTEGER NOT NULL, points INTEGER NOT NULL CHECK (points >= 0));
    INSERT INTO questions_old
        SELECT id, contest_id, position, prompt, options,
               json_extract(answer_key, '$.correct_option'), points FROM questions;
    DROP TABLE questions;
    ALTER TABLE questions_old RENAME TO questions;
    CREATE UNIQUE INDEX uq_questions_contest_position ON questions (contest_id, position);
    ALTER TABLE contests DROP COLUMN shuffle_questions;
    ALTER TABLE contests DROP COLUMN shuffle_options;
    DELETE FROM _sqlx_migrations WHERE version = 3;";
const BEFORE_QUESTION_TYPES_POSTGRES: &str = "
    ALTER TABLE questions ADD COLUMN correct_option INTEGER;
    UPDATE questions SET correct_option = (answer_key->>'correct_option')::int;
    ALTER TABLE questions ALTER COLUMN correct_option SET NOT NULL,
        DROP COLUMN kind, DROP COLUMN answer_key;
    ALTER TABLE contests DROP COLUMN shuffle_questions, DROP COLUMN shuffle_options;
    DELETE FROM _sqlx_migrations WHERE version = 3;";

/// A contest stored before question types (migration 3) reads as single-choice questions with
/// the same keys, unshuffled; its submissions keep their scores, new ones are graded the same,
/// and its key can be corrected.
async fn contests_from_before_question_types_are_single_choice(db: Db) {
    let Some(first) = spawn_app(db).await else {
        return;
    };
    let (contest, students) = first.open_contest_with_students(2, Some("immediate")).await;
    let id = id_of(&contest);
    let q = question_ids(&contest);
    let (status, created) = first
        .submit(id, &students[0].token, answers(&[(q[0], 1), (q[1], 1)]))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["score"], 1, "{created}");
    first.stop().await;
    let undo = match db {
        Db::Sqlite => BEFORE_QUESTION_TYPES_SQLITE,
        Db::Postgres => BEFORE_QUESTION_TYPES_POSTGRES,
    };
    execute(db, &first.database_url, undo).await;

    let second = first.sibling(&[]).await;
    let admin = second.admin_token().await;
    let path = format!("/api/contests/{id}");
    let (status, view) = second.get(&path, Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(
        view["shuffle"],
        json!({"questions": false, "options": false})
    );
    for (before, after) in contest["questions"]
        .as_array()
        .unwrap()
        .iter()
        .zip(view["questions"].as_array().unwrap())
    {
        assert_eq!(after["type"], "single", "{view}");
        for field in ["id", "prompt", "options", "points", "correct_option"] {
            assert_eq!(after[field], before[field], "{field}: {view}");
        }
    }
    let (status, mine) = second
        .get(&format!("{path}/my-submission"), Some(&students[0].token))
        .await;
    assert_eq!(status, StatusCode::OK, "{mine}");
    assert_eq!(mine["score"], 1, "{mine}");
    let (status, created) = second
        .submit(id, &students[1].token, answers(&[(q[0], 1), (q[1], 0)]))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["score"], 3, "{created}");
    // The second question's key corrected to option 1: the first student gains its 2 points.
    let (status, corrected) = second
        .patch(
            &format!("{path}/questions/{}", q[1]),
            Some(&admin),
            Some(json!({"correct_option": 1})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{corrected}");
    assert_eq!(corrected["regraded"], 2, "{corrected}");
    let (_, mine) = second
        .get(&format!("{path}/my-submission"), Some(&students[0].token))
        .await;
    assert_eq!(mine["score"], 3, "{mine}");
    second.stop().await;
}

/// Migration 5 undone: no idempotency key or answers hash on submissions, no signing key, and
/// answers stored in the order they were sent (as builds before receipts stored them).
const BEFORE_RECEIPTS_SQLITE: &str = "
    ALTER TABLE submissions DROP COLUMN idempotency_key;
    ALTER TABLE submissions DROP COLUMN answers_hash;
    DROP TABLE signing_keys;
    DELETE FROM _sqlx_migrations WHERE version = 5;";
const BEFORE_RECEIPTS_POSTGRES: &str = "
    ALTER TABLE submissions DROP COLUMN idempotency_key, DROP COLUMN answers_hash;
    DROP TABLE signing_keys;
    DELETE FROM _sqlx_migrations WHERE version = 5;";

/// A submission stored before receipts (migration 5) gets a receipt when read, over its
/// answers sorted by question, signed by the key the migrated server makes; it is still the
/// student's one submission, and a keyed request is not taken for a retry of it.
async fn submissions_from_before_receipts_get_receipts_after_migrating(db: Db) {
    let Some(first) = spawn_app(db).await else {
        return;
    };
    let (contest, students) = mixed_contest(&first, 1).await;
    let id = id_of(&contest);
    let token = &students[0].token;
    let sent = mixed_answers(&contest);
    let (status, created) = first.submit(id, token, sent.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    first.stop().await;
    let undo = match db {
        Db::Sqlite => BEFORE_RECEIPTS_SQLITE,
        Db::Postgres => BEFORE_RECEIPTS_POSTGRES,
    };
    execute(db, &first.database_url, undo).await;
    let unsorted = serde_json::to_string(&sent).unwrap().replace('\'', "''");
    let sql = format!("UPDATE submissions SET answers = '{unsorted}'");
    execute(db, &first.database_url, &sql).await;

    let second = first.sibling(&[]).await;
    let key = second.receipt_key().await;
    let path = format!("/api/contests/{id}/my-submission");
    let (status, mine) = second.get(&path, Some(token)).await;
    assert_eq!(status, StatusCode::OK, "{mine}");
    assert_eq!(mine["answers"], sorted(&sent), "{mine}");
    check_receipt(&key, &mine, &mine["answers"]);
    assert_eq!(
        mine["receipt"]["payload"], created["receipt"]["payload"],
        "the same payload (a new key signs it)"
    );
    let resp = second.submit_keyed(id, token, b"late", sent).await;
    assert_error(&resp, StatusCode::CONFLICT, "already_submitted");
    second.stop().await;
}
