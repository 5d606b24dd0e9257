//! `GET /metrics`: request counts and latencies by route template, per-contest mailbox
//! gauges, the writer, the pool, the caches and snapshot loads, in the Prometheus text format.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{answers, id_of, open_window, spawn_app_with, wait_for, Db, Metrics, TestApp};

both_databases!(
    requests_are_counted_by_route_template,
    writer_pool_cache_and_load_metrics_move;
    with_db: mailbox_gauge_follows_warm_contests_and_eviction,
);

const REQUESTS: &str = "contestd_http_requests_total";
const DURATION: &str = "contestd_http_request_duration_seconds";
const MAILBOX: &str = "contestd_contest_mailbox_depth";

/// Whether a path-like label value holds a concrete id (a segment of digits).
pub(crate) fn has_concrete_id(value: &str) -> bool {
    value.contains('/')
        && value
            .split('/')
            .any(|seg| !seg.is_empty() && seg.chars().all(|c| c.is_ascii_digit()))
}

/// An open contest on a new course with no students: its id.
async fn empty_contest(app: &TestApp) -> i64 {
    let course = app.create_course().await;
    let (start, end) = open_window();
    id_of(&app.create_contest(course, start, end, None).await)
}

/// The parser used by every metrics assertion reads labels, escapes and bare samples.
#[test]
fn the_metrics_parser_reads_the_text_format() {
    let text = "# HELP a_total Things.\n# TYPE a_total counter\n\
                a_total{method=\"GET\",route=\"/api/contests/{id}\",status=\"200\"} 3\n\
                b 1.5\n\
                c_bucket{le=\"+Inf\",x=\"q\\\"uote\"} 7 1700000000\n";
    let m = Metrics::parse(text);
    assert_eq!(m.0.len(), 3);
    assert_eq!(m.get("a_total", &[("route", "/api/contests/{id}")]), 3.0);
    assert_eq!(m.get("b", &[]), 1.5);
    assert_eq!(m.get("c_bucket", &[("le", "+Inf"), ("x", "q\"uote")]), 7.0);
    assert_eq!(m.find("a_total", &[("status", "404")]), None);
}

/// Requests are counted and timed under the route template and status; unmatched paths are
/// `route="unmatched"`, and no label holds a concrete id.
async fn requests_are_counted_by_route_template(app: &TestApp) {
    let id = empty_contest(app).await;
    let admin = app.admin_token().await;
    for _ in 0..3 {
        let (status, body) = app.get(&format!("/api/contests/{id}"), Some(&admin)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, _) = app.get("/api/contests/999999", Some(&admin)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.get("/no/such/path/42", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let m = app.metrics().await;
    let route = ("route", "/api/contests/{id}");
    let ok = [("method", "GET"), route, ("status", "200")];
    assert_eq!(m.get(REQUESTS, &ok), 3.0, "{m:#?}");
    let missing = [("method", "GET"), route, ("status", "404")];
    assert_eq!(m.get(REQUESTS, &missing), 1.0, "{m:#?}");
    let unmatched = [("method", "GET"), ("route", "unmatched"), ("status", "404")];
    assert_eq!(m.get(REQUESTS, &unmatched), 1.0, "{m:#?}");
    let login = [("method", "POST"), ("route", "/api/auth/login")];
    assert!(m.get(REQUESTS, &login) >= 1.0, "{m:#?}");

    // The histogram of the same requests: count, sum, and cumulative buckets ending at +Inf.
    assert_eq!(m.get(&format!("{DURATION}_count"), &ok), 3.0);
    let sum = m.get(&format!("{DURATION}_sum"), &ok);
    assert!((0.0..60.0).contains(&sum), "duration sum {sum}");
    let bucket = format!("{DURATION}_bucket");
    let mut buckets: Vec<(f64, f64)> = m
        .series(&bucket, &ok)
        .map(|s| {
            (
                s.labels["le"].parse::<f64>().unwrap_or(f64::INFINITY),
                s.value,
            )
        })
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert!(buckets.len() >= 2, "buckets: {buckets:?}");
    assert!(buckets.windows(2).all(|w| w[0].1 <= w[1].1), "{buckets:?}");
    assert_eq!(buckets.last(), Some(&(f64::INFINITY, 3.0)), "{buckets:?}");

    for sample in &m.0 {
        for (key, value) in &sample.labels {
            assert!(
                !has_concrete_id(value),
                "{}{{{key}={value:?}}} holds a concrete id",
                sample.name
            );
        }
    }
}

/// One mailbox gauge per warm contest, labelled with its id; an evicted contest's goes away.
async fn mailbox_gauge_follows_warm_contests_and_eviction(db: Db) {
    let Some(app) = spawn_app_with(db, &["--contest-idle-ttl-secs", "2"]).await else {
        return;
    };
    let (a, b) = (empty_contest(&app).await, empty_contest(&app).await);
    let admin = app.admin_token().await;
    assert!(
        app.metrics().await.find(MAILBOX, &[]).is_none(),
        "nothing warm yet"
    );
    for contest in [a, b] {
        let body = json!({ "contest_id": contest });
        let (status, warmed) = app
            .post("/api/contests/warm-cache", Some(&admin), Some(body))
            .await;
        assert_eq!(status, StatusCode::OK, "{warmed}");
    }

    let m = app.metrics().await;
    let mut ids: Vec<String> = m
        .series(MAILBOX, &[])
        .map(|s| s.labels.get("contest_id").cloned().unwrap_or_default())
        .collect();
    ids.sort();
    let mut expected = vec![a.to_string(), b.to_string()];
    expected.sort();
    assert_eq!(ids, expected, "one series per warm contest: {m:#?}");
    assert!(m.series(MAILBOX, &[]).all(|s| s.value >= 0.0), "{m:#?}");

    wait_for(
        "eviction clears the gauges",
        Duration::from_secs(15),
        || async {
            let gone = app.metrics().await.find(MAILBOX, &[]).is_none();
            let health = app.health().await;
            (gone && health["actors"]["count"] == 0).then_some(())
        },
    )
    .await;
    app.stop().await;
}

/// The writer's histograms count the batches of real submissions; the pool, WebSocket,
/// cache and snapshot-load metrics are there and move with the requests.
async fn writer_pool_cache_and_load_metrics_move(app: &TestApp) {
    let (contest, students) = app.open_contest_with_students(3, None).await;
    let id = id_of(&contest);
    let before = app.metrics().await;
    assert_eq!(before.sum("contestd_writer_batch_size_count", &[]), 0.0);
    assert_eq!(before.sum("contestd_snapshot_loads_total", &[]), 0.0);

    // One cold read loads the contest; three more find it warm.
    let path = format!("/api/contests/{id}");
    for _ in 0..4 {
        let (status, body) = app.get(&path, Some(&students[0].token)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    for student in &students {
        let (status, body) = app.submit(id, &student.token, answers(&[])).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }

    let m = app.metrics().await;
    assert_eq!(m.get("contestd_snapshot_loads_total", &[]), 1.0, "{m:#?}");
    let batches = m.get("contestd_writer_batch_size_count", &[]);
    assert!((1.0..=3.0).contains(&batches), "batches: {batches}");
    assert_eq!(
        m.get("contestd_writer_batch_size_sum", &[]),
        3.0,
        "the batches held the three submissions"
    );
    assert!(m.get("contestd_writer_flush_seconds_count", &[]) >= 1.0);
    assert_eq!(
        m.get("contestd_writer_queue_depth", &[]),
        0.0,
        "all answered"
    );

    let size = m.get("contestd_db_pool_size", &[]);
    let idle = m.get("contestd_db_pool_idle", &[]);
    assert!(
        size >= 1.0 && (0.0..=size).contains(&idle),
        "pool {size}/{idle}"
    );
    assert_eq!(m.get("contestd_ws_connections", &[]), 0.0);

    let lookups = |m: &Metrics, cache: &str| {
        let labels = [("cache", cache)];
        (
            m.sum("contestd_cache_hits_total", &labels),
            m.sum("contestd_cache_misses_total", &labels),
        )
    };
    let (token_hits, token_misses) = lookups(&m, "token");
    let (old_hits, old_misses) = lookups(&before, "token");
    // Seven authenticated requests; the first student's token was used five times.
    assert!(
        token_hits - old_hits >= 4.0,
        "the student's token was reused: {token_hits} hits"
    );
    assert!(token_hits + token_misses - old_hits - old_misses >= 7.0);
    let (contest_hits, contest_misses) = lookups(&m, "contest");
    assert!(contest_misses >= 1.0, "the cold read missed");
    assert!(contest_hits >= 3.0, "the warm reads hit: {contest_hits}");
    for scope in ["user", "login_address", "login_username"] {
        let labels = [("scope", scope)];
        assert_eq!(
            m.sum("contestd_rate_limited_total", &labels),
            0.0,
            "{scope}"
        );
    }
}
