//! `/health` and `/api/contests/health`.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{assert_keys, spawn_app_with, Db, TestApp};

both_databases!(
    health_reports_ok,
    health_needs_no_token;
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
