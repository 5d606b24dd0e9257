//! Request ids on every answer, the admin performance report, and logs that carry request
//! ids and route templates but never a password or a token.

use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::metrics::has_concrete_id;
use crate::support::{
    answers, assert_error, assert_keys, id_of, spawn_binary_with_env, Db, TestApp, ADMIN_PW,
    STUDENT_PW,
};
use crate::ws::{connect, next_frame};

both_databases!(
    a_valid_request_id_is_echoed_on_every_answer,
    a_missing_or_invalid_request_id_is_replaced,
    performance_reports_routes_caches_limits_and_writer;
    with_db: logs_carry_request_ids_and_no_secrets,
);

const REQUEST_ID: &str = "x-request-id";

/// The answer's `X-Request-Id`, which must be there.
#[track_caller]
fn request_id(headers: &HeaderMap) -> String {
    headers
        .get(REQUEST_ID)
        .unwrap_or_else(|| panic!("no X-Request-Id in {headers:?}"))
        .to_str()
        .expect("an ASCII X-Request-Id")
        .to_string()
}

/// Sends `method path` with `X-Request-Id: id` (none when `None`): status and headers.
async fn with_id(
    app: &TestApp,
    method: Method,
    path: &str,
    id: Option<&str>,
) -> (StatusCode, HeaderMap) {
    let mut req = app.client().request(method, app.url(path));
    if let Some(id) = id {
        req = req.header(REQUEST_ID, id);
    }
    let resp = req.send().await.expect("the server answers");
    (resp.status(), resp.headers().clone())
}

/// A well-formed `X-Request-Id` comes back unchanged on 200, 400, 401 and 404 answers.
async fn a_valid_request_id_is_echoed_on_every_answer(app: &TestApp) {
    let longest = "a".repeat(64);
    let ids = ["abc-123._XYZ", "0", longest.as_str()];
    for id in ids {
        for (method, path, expected) in [
            (Method::GET, "/health", StatusCode::OK),
            (Method::GET, "/metrics", StatusCode::OK),
            (Method::GET, "/api/me", StatusCode::UNAUTHORIZED),
            (Method::GET, "/no/such/route", StatusCode::NOT_FOUND),
        ] {
            let (status, headers) = with_id(app, method, path, Some(id)).await;
            assert_eq!(status, expected, "{path}");
            assert_eq!(request_id(&headers), id, "{path}");
        }
    }
    // A body the server cannot parse is answered 400, with the id too.
    let req = app
        .client()
        .post(app.url("/api/auth/login"))
        .header(REQUEST_ID, "bad-json-1")
        .header("content-type", "application/json")
        .body("{not json");
    let (status, headers, body) = app.send(req).await;
    assert_error(&(status, body), StatusCode::BAD_REQUEST, "bad_request");
    assert_eq!(request_id(&headers), "bad-json-1");
}

/// Without an `X-Request-Id`, or with one that is too long or has other characters, the
/// server makes a new one, different for each request.
async fn a_missing_or_invalid_request_id_is_replaced(app: &TestApp) {
    let too_long = "a".repeat(65);
    let invalid = [
        None,
        Some(""),
        Some("has space"),
        Some("a/b"),
        Some("semi;colon"),
        Some(too_long.as_str()),
    ];
    let mut seen = Vec::new();
    for sent in invalid {
        for path in ["/health", "/api/me"] {
            let (_, headers) = with_id(app, Method::GET, path, sent).await;
            let got = request_id(&headers);
            assert!(!got.is_empty(), "an empty id for {sent:?}");
            assert_ne!(Some(got.as_str()), sent, "{sent:?} was echoed");
            seen.push(got);
        }
    }
    let count = seen.len();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), count, "generated ids repeat: {seen:?}");
}

/// The admin-only performance report counts the requests made, per method and route
/// template, with ordered percentiles, and reports caches, rate limits and the writer.
async fn performance_reports_routes_caches_limits_and_writer(app: &TestApp) {
    let (contest, students) = app.open_contest_with_students(2, None).await;
    let id = id_of(&contest);
    for _ in 0..4 {
        let (status, body) = app
            .get(&format!("/api/contests/{id}"), Some(&students[0].token))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    for student in &students {
        let (status, body) = app.submit(id, &student.token, answers(&[])).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }

    let path = "/api/contests/performance";
    assert_error(
        &app.get(path, None).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
    let student = app.get(path, Some(&students[0].token)).await;
    assert_error(&student, StatusCode::FORBIDDEN, "forbidden");
    let admin = app.admin_token().await;
    let (status, report) = app.get(path, Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_keys(
        &report,
        &["window_s", "routes", "caches", "rate_limited", "writer"],
    );
    assert_eq!(report["window_s"], 300);

    let routes = report["routes"].as_array().expect("routes");
    for entry in routes {
        assert_keys(
            entry,
            &["method", "route", "count", "p50_ms", "p95_ms", "p99_ms"],
        );
        let route = entry["route"].as_str().expect("a route string");
        assert!(!has_concrete_id(route), "a concrete path: {entry}");
        let p: Vec<f64> = ["p50_ms", "p95_ms", "p99_ms"]
            .iter()
            .map(|k| {
                entry[*k]
                    .as_f64()
                    .unwrap_or_else(|| panic!("{k} in {entry}"))
            })
            .collect();
        assert!(
            0.0 <= p[0] && p[0] <= p[1] && p[1] <= p[2],
            "percentiles of {entry}"
        );
    }
    let count = |method: &str, route: &str| {
        routes
            .iter()
            .find(|r| r["method"] == method && r["route"] == route)
            .and_then(|r| r["count"].as_u64())
            .unwrap_or_else(|| panic!("no {method} {route} in {routes:?}"))
    };
    assert_eq!(count("GET", "/api/contests/{id}"), 4);
    assert_eq!(count("POST", "/api/contests/{id}/submissions"), 2);

    let caches = &report["caches"];
    assert_keys(caches, &["token", "contest"]);
    for name in ["token", "contest"] {
        let cache = &caches[name];
        assert_keys(cache, &["hits", "misses", "hit_rate"]);
        let hits = cache["hits"].as_f64().expect("hits");
        let misses = cache["misses"].as_f64().expect("misses");
        let rate = cache["hit_rate"].as_f64().expect("hit_rate");
        let expected = if hits + misses == 0.0 {
            0.0
        } else {
            hits / (hits + misses)
        };
        assert!(
            (rate - expected).abs() < 1e-6,
            "hit_rate of {name}: {cache}"
        );
    }
    let token_hits = caches["token"]["hits"].as_u64().unwrap_or(0);
    assert!(token_hits >= 1, "reused tokens hit: {caches}");
    assert_eq!(
        report["rate_limited"],
        json!({ "user": 0, "login_address": 0, "login_username": 0, "bad_token": 0 })
    );

    let writer = &report["writer"];
    assert_keys(
        writer,
        &[
            "queue_depth",
            "batches",
            "rows",
            "last_batch_size",
            "last_flush_ms",
        ],
    );
    assert_eq!(writer["rows"], 2, "{writer}");
    assert_eq!(writer["queue_depth"], 0, "{writer}");
    let batches = writer["batches"].as_u64().expect("batches");
    assert!((1..=2).contains(&batches), "{writer}");
}

/// With JSON logs at `info`, a login, a WebSocket with `?token=` and requests with the
/// header leave neither password nor token in the logs, and the lines of a request carry
/// its `X-Request-Id` and route template.
async fn logs_carry_request_ids_and_no_secrets(db: Db) {
    let Some(app) =
        spawn_binary_with_env(db, &["--log-format", "json"], &[("RUST_LOG", "info")]).await
    else {
        return;
    };
    let (contest, students) = app.open_contest_with_students(1, None).await;
    let id = id_of(&contest);
    let token = &students[0].token; // logged in with STUDENT_PW
    let admin = app.admin_token().await;

    let mut socket = connect(&app, id, token).await;
    next_frame(&mut socket, Duration::from_secs(2)).await;
    socket.close(None).await.expect("a clean close");

    let sent_id = "log-check-7f3a";
    let req = app
        .client()
        .get(app.url(&format!("/api/contests/{id}")))
        .bearer_auth(token)
        .header(REQUEST_ID, sent_id);
    let (status, headers, body) = app.send(req).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(request_id(&headers), sent_id);
    let (status, headers, _) = app
        .send(app.client().get(app.url("/api/me")).bearer_auth(token))
        .await;
    assert_eq!(status, StatusCode::OK);
    let generated = request_id(&headers);

    app.signal("TERM");
    app.wait_exit(Duration::from_secs(30)).await;
    let logs = app.logs();
    for (what, secret) in [
        ("the admin password", ADMIN_PW),
        ("the student password", STUDENT_PW),
        ("the student token", token.as_str()),
        ("the admin token", admin.as_str()),
    ] {
        let leaks: Vec<&str> = logs.lines().filter(|l| l.contains(secret)).collect();
        assert!(leaks.is_empty(), "{what} is in the logs: {leaks:#?}");
    }

    let lines_with = |needle: &str| -> Vec<Value> {
        logs.lines()
            .filter(|l| l.contains(needle))
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    };
    let sent_lines = lines_with(sent_id);
    assert!(
        !sent_lines.is_empty(),
        "no JSON line with {sent_id}:\n{logs}"
    );
    assert!(
        sent_lines
            .iter()
            .any(|l| l.to_string().contains("/api/contests/{id}")),
        "no route template in the lines of {sent_id}: {sent_lines:?}"
    );
    assert!(
        !lines_with(&generated).is_empty(),
        "no JSON line with {generated}:\n{logs}"
    );
}
