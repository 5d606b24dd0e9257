//! `/health` and `/api/contests/health`.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::{
    answers, assert_keys, id_of, spawn_app_behind_proxy, spawn_app_with, wait_for, Db, TestApp,
};

both_databases!(
    health_reports_ok,
    health_needs_no_token,
    health_reports_writer_and_warm_contests;
    with_db: health_reports_pool_settings,
);

/// Checks a health answer and returns its `db` object.
#[track_caller]
fn check_health(resp: &(StatusCode, Value), db: Db) -> Value {
    let (status, body) = resp;
    assert_eq!(*status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "ok", "{body}");
    let uptime = body["uptime_s"]
        .as_u64()
        .unwrap_or_else(|| panic!("integer uptime_s: {body}"));
    assert!(uptime < 600, "started moments ago: {body}");

    let pool = &body["db"];
    assert_keys(
        pool,
        &["ok", "backend", "pool_size", "pool_idle", "pool_max"],
    );
    assert_eq!(pool["ok"], true, "{body}");
    assert_eq!(pool["backend"], db.backend(), "{body}");
    let size = pool["pool_size"].as_u64().expect("integer pool_size");
    let idle = pool["pool_idle"].as_u64().expect("integer pool_idle");
    let max = pool["pool_max"].as_u64().expect("integer pool_max");
    assert!(size >= 1, "the check itself used a connection: {body}");
    assert!(idle <= size && size <= max, "{body}");
    pool.clone()
}

async fn health_reports_ok(app: &TestApp) {
    for path in ["/health", "/api/contests/health"] {
        let resp = app.get(path, None).await;
        let pool = check_health(&resp, app.db);
        assert_eq!(pool["pool_max"], 10, "the default --db-max-connections");
    }
}

/// Monitoring works without a token, and a stale one does not get in its way.
async fn health_needs_no_token(app: &TestApp) {
    for path in ["/health", "/api/contests/health"] {
        let resp = app.get(path, Some("garbage")).await;
        check_health(&resp, app.db);
    }
}

async fn health_reports_pool_settings(db: Db) {
    let Some(app) = spawn_app_with(db, &["--db-max-connections", "3"]).await else {
        return;
    };
    let pool = check_health(&app.get("/health", None).await, db);
    assert_eq!(pool["pool_max"], 3);
    app.stop().await;
}

const WRITER: &[&str] = &[
    "queue_depth",
    "batches",
    "rows",
    "last_batch_size",
    "last_flush_ms",
];
const ACTOR: &[&str] = &[
    "contest_id",
    "mailbox_depth",
    "enrolled",
    "submitted",
    "subscribers",
    "drafts",
    "retries_waiting",
    "idle_s",
];

#[track_caller]
fn number(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("a non-negative integer `{key}` in {v}"))
}

const HEALTH: &[&str] = &[
    "status", "ready", "uptime_s", "listener", "db", "writer", "actors",
];

/// The writer's figures move with submissions; a warm contest shows up under `actors`.
async fn health_reports_writer_and_warm_contests(app: &TestApp) {
    let health = app.health().await;
    assert_keys(&health, HEALTH);
    match app.db {
        // One process: nothing to listen for.
        Db::Sqlite => assert_eq!(health["listener"], Value::Null, "{health}"),
        Db::Postgres => assert_keys(
            &health["listener"],
            &["listening", "node", "connects", "received", "applied"],
        ),
    }
    let writer = &health["writer"];
    assert_keys(writer, WRITER);
    for key in ["queue_depth", "batches", "rows", "last_batch_size"] {
        assert_eq!(number(writer, key), 0, "{key} before any submission");
    }
    assert!(writer["last_flush_ms"].is_number(), "{writer}");
    assert_eq!(
        health["actors"],
        json!({ "count": 0, "loads": 0, "contests": [] }),
        "nothing warm yet"
    );

    let (contest, students) = app.open_contest_with_students(3, None).await;
    let id = id_of(&contest);
    for student in &students[..2] {
        let (status, body) = app.submit(id, &student.token, answers(&[])).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }

    let health = app.health().await;
    let writer = &health["writer"];
    assert_keys(writer, WRITER);
    assert_eq!(number(writer, "rows"), 2, "{writer}");
    let batches = number(writer, "batches");
    assert!((1..=2).contains(&batches), "{writer}");
    assert!(
        (1..=2).contains(&number(writer, "last_batch_size")),
        "{writer}"
    );
    assert_eq!(number(writer, "queue_depth"), 0, "all answered: {writer}");
    let flush = writer["last_flush_ms"].as_f64().expect("a number");
    assert!((0.0..10_000.0).contains(&flush), "{writer}");

    let actors = &health["actors"];
    assert_keys(actors, &["count", "loads", "contests"]);
    assert_eq!(actors["count"], 1, "{actors}");
    assert_eq!(actors["loads"], 1, "{actors}");
    let contests = actors["contests"].as_array().expect("contests");
    assert_eq!(contests.len(), 1, "{actors}");
    let warm = &contests[0];
    assert_keys(warm, ACTOR);
    assert_eq!(warm["contest_id"], id);
    assert_eq!(number(warm, "mailbox_depth"), 0, "{warm}");
    assert_eq!(number(warm, "enrolled"), 3, "{warm}");
    assert_eq!(number(warm, "submitted"), 2, "{warm}");
    assert_eq!(number(warm, "subscribers"), 0, "{warm}");
    assert!(number(warm, "idle_s") < 5, "{warm}");
    assert_eq!(number(warm, "retries_waiting"), 0, "{warm}");
    assert_eq!(number(warm, "drafts"), 0, "{warm}");

    // One more submission: one more row, in a batch of its own.
    let (status, body) = app.submit(id, &students[2].token, answers(&[])).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let health = app.health().await;
    let writer = &health["writer"];
    assert_eq!(number(writer, "rows"), 3, "{writer}");
    assert_eq!(number(writer, "batches"), batches + 1, "{writer}");
    assert_eq!(number(writer, "last_batch_size"), 1, "{writer}");
    assert_eq!(health["actors"]["contests"][0]["submitted"], 3);
}

/// PostgreSQL only: the server reaches its database through a proxy the test controls.
mod postgres_proxy {
    /// The database going away (refused) turns `/health` 503 degraded; back, 200 ok.
    #[actix_web::test]
    async fn health_degrades_while_the_database_is_gone() {
        super::health_degrades_while_the_database_is_gone().await;
    }

    /// A database that hangs (connections open, nothing answered) is noticed too, by a check
    /// that gives up within a second, without slowing `/health`.
    #[actix_web::test]
    async fn health_degrades_while_the_database_hangs() {
        super::health_degrades_while_the_database_hangs().await;
    }
}

/// How often the background task checks the database in these tests.
const CHECK_EVERY: &[&str] = &["--health-check-ms", "200"];

/// Polls both health paths until they answer `status`; every answer comes within a second
/// (health reports the background check's result, it never waits on the database).
async fn wait_for_health(app: &TestApp, status: StatusCode) -> Value {
    wait_for(
        &format!("/health {status}"),
        Duration::from_secs(10),
        || async {
            let mut bodies = Vec::new();
            for path in ["/health", "/api/contests/health"] {
                let asked = Instant::now();
                let (got, body) = app.get(path, None).await;
                assert!(
                    asked.elapsed() < Duration::from_secs(1),
                    "{path} took {:?}",
                    asked.elapsed()
                );
                bodies.push((got == status).then_some(body));
            }
            bodies
                .into_iter()
                .collect::<Option<Vec<_>>>()
                .map(|mut b| b.remove(0))
        },
    )
    .await
}

/// Checks a degraded answer: `status` and `db.ok` say so, and the shape is the usual one.
#[track_caller]
fn check_degraded(body: &Value) {
    assert_keys(body, HEALTH);
    assert_eq!(body["status"], "degraded", "{body}");
    assert_eq!(
        body["ready"], false,
        "not ready without the database: {body}"
    );
    assert_keys(
        &body["db"],
        &["ok", "backend", "pool_size", "pool_idle", "pool_max"],
    );
    assert_eq!(body["db"]["ok"], false, "{body}");
    assert_eq!(body["db"]["backend"], "postgres", "{body}");
    assert_keys(&body["writer"], WRITER);
    assert_keys(&body["actors"], &["count", "loads", "contests"]);
}

async fn health_degrades_while_the_database_is_gone() {
    let Some((app, mut proxy)) = spawn_app_behind_proxy(CHECK_EVERY).await else {
        return;
    };
    check_health(&app.get("/health", None).await, Db::Postgres);
    proxy.close().await;
    check_degraded(&wait_for_health(&app, StatusCode::SERVICE_UNAVAILABLE).await);
    proxy.open().await;
    wait_for_health(&app, StatusCode::OK).await;
    check_health(&app.get("/health", None).await, Db::Postgres);
    app.stop().await;
}

async fn health_degrades_while_the_database_hangs() {
    let Some((app, mut proxy)) = spawn_app_behind_proxy(CHECK_EVERY).await else {
        return;
    };
    check_health(&app.get("/health", None).await, Db::Postgres);
    proxy.stall();
    check_degraded(&wait_for_health(&app, StatusCode::SERVICE_UNAVAILABLE).await);
    proxy.open().await;
    wait_for_health(&app, StatusCode::OK).await;
    check_health(&app.get("/health", None).await, Db::Postgres);
    app.stop().await;
}
