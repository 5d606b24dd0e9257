//! The live timer over real WebSocket connections.

mod clock;

use std::time::{Duration, Instant};

use chrono::TimeDelta;
use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::{self, Message};

use crate::support::{
    id_of, now_ms, open_window, parse_time, rfc3339, spawn_app_with, upcoming_window, Db, TestApp,
};

both_databases!(
    state_arrives_at_once_then_every_second,
    started_is_sent_when_the_start_passes,
    schedule_change_is_sent_at_once,
    closing_the_contest_sends_ended,
    refusals_come_before_the_upgrade,
    health_and_metrics_count_sockets;
    with_db: a_client_that_does_not_read_is_dropped_alone,
);

pub(crate) type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub(crate) fn ws_url(app: &TestApp, contest: i64, token: &str) -> String {
    format!(
        "{}/ws/contests/{contest}?token={token}",
        app.address.replacen("http", "ws", 1)
    )
}

pub(crate) async fn connect(app: &TestApp, contest: i64, token: &str) -> Socket {
    let (socket, response) = tokio_tungstenite::connect_async(ws_url(app, contest, token))
        .await
        .expect("WebSocket upgrade");
    assert_eq!(response.status(), 101);
    socket
}

/// Every JSON text frame until `deadline` (none missed: the socket buffers them).
pub(crate) async fn frames_until(socket: &mut Socket, deadline: Instant) -> Vec<Value> {
    let mut frames = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return frames;
        }
        match tokio::time::timeout(left, socket.next()).await {
            Err(_) => return frames,
            Ok(Some(Ok(Message::Text(text)))) => {
                frames.push(serde_json::from_str(&text).expect("a JSON frame"));
            }
            Ok(Some(Ok(_))) => {}
            Ok(other) => panic!("the socket ended: {other:?}; frames before: {frames:?}"),
        }
    }
}

/// The next JSON text frame, within `within`.
pub(crate) async fn next_frame(socket: &mut Socket, within: Duration) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let message = tokio::time::timeout(left, socket.next())
            .await
            .unwrap_or_else(|_| panic!("no frame within {within:?}"))
            .expect("socket open")
            .expect("a frame");
        if let Message::Text(text) = message {
            return serde_json::from_str(&text).expect("JSON frame");
        }
    }
}

/// Reads frames until one of type `kind`, within `within`.
pub(crate) async fn frame_of(socket: &mut Socket, kind: &str, within: Duration) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "no {kind} frame within {within:?}");
        let frame = next_frame(socket, left).await;
        if frame["type"] == kind {
            return frame;
        }
    }
}

/// An open contest with one enrolled student: `(contest id, student token)`.
pub(crate) async fn contest_with_student(
    app: &TestApp,
    start: chrono::DateTime<chrono::Utc>,
    end: chrono::DateTime<chrono::Utc>,
) -> (i64, String) {
    let course = app.create_course().await;
    let (student_id, _, token) = app.student().await;
    app.enroll(course, &[student_id]).await;
    let contest = id_of(&app.create_contest(course, start, end, None).await);
    (contest, token)
}

async fn state_arrives_at_once_then_every_second(app: &TestApp) {
    let (start, end) = open_window();
    let (contest, token) = contest_with_student(app, start, end).await;
    let mut socket = connect(app, contest, &token).await;
    let first = next_frame(&mut socket, Duration::from_secs(2)).await;
    assert_eq!(first["type"], "state");
    assert_eq!(first["contest_id"], contest);
    assert_eq!(first["status"], "open");
    for key in ["server_time", "start_time", "end_time", "remaining_ms"] {
        assert!(first.get(key).is_some(), "state frame lacks {key}: {first}");
    }
    let remaining = first["remaining_ms"].as_i64().unwrap();
    let to_end = (end - now_ms()).num_milliseconds();
    assert!(
        (remaining - to_end).abs() < 2000,
        "remaining_ms {remaining} vs {to_end}"
    );
    let mut last = Instant::now();
    for _ in 0..3 {
        let frame = next_frame(&mut socket, Duration::from_millis(1500)).await;
        assert_eq!(frame["type"], "state");
        let gap = last.elapsed();
        last = Instant::now();
        assert!(gap < Duration::from_millis(1500), "gap {gap:?}");
    }
}

async fn started_is_sent_when_the_start_passes(app: &TestApp) {
    let start = now_ms() + TimeDelta::seconds(2);
    let (contest, token) = contest_with_student(app, start, start + TimeDelta::hours(1)).await;
    let mut socket = connect(app, contest, &token).await;
    let first = next_frame(&mut socket, Duration::from_secs(2)).await;
    assert_eq!(first["status"], "upcoming");
    let started = frame_of(&mut socket, "started", Duration::from_secs(5)).await;
    let late = now_ms() - start;
    assert!(
        late < TimeDelta::seconds(1),
        "started {late} after the start"
    );
    assert_eq!(started["status"], "open");
}

async fn schedule_change_is_sent_at_once(app: &TestApp) {
    let (start, end) = upcoming_window();
    let (contest, token) = contest_with_student(app, start, end).await;
    let mut socket = connect(app, contest, &token).await;
    next_frame(&mut socket, Duration::from_secs(2)).await;
    let new_end = end + TimeDelta::hours(1);
    let admin = app.admin_token().await;
    let patched = Instant::now();
    let (status, _) = app
        .patch(
            &format!("/api/contests/{contest}"),
            Some(&admin),
            Some(json!({ "end_time": rfc3339(new_end) })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let changed = frame_of(&mut socket, "schedule_changed", Duration::from_millis(1500)).await;
    assert!(patched.elapsed() < Duration::from_millis(1500));
    assert_eq!(parse_time(&changed["end_time"]), new_end);
}

async fn closing_the_contest_sends_ended(app: &TestApp) {
    let (start, end) = open_window();
    let (contest, token) = contest_with_student(app, start, end).await;
    let mut socket = connect(app, contest, &token).await;
    next_frame(&mut socket, Duration::from_secs(2)).await;
    let admin = app.admin_token().await;
    let close_at = now_ms();
    let (status, _) = app
        .patch(
            &format!("/api/contests/{contest}"),
            Some(&admin),
            Some(json!({ "end_time": rfc3339(close_at) })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let ended = frame_of(&mut socket, "ended", Duration::from_secs(2)).await;
    assert_eq!(ended["status"], "closed");
    assert_eq!(ended["remaining_ms"], 0);
}

/// A refused upgrade is an HTTP error with the API's code.
async fn refused(app: &TestApp, contest: i64, token: &str) -> (u16, Value) {
    match tokio_tungstenite::connect_async(ws_url(app, contest, token)).await {
        Ok(_) => panic!("upgrade to contest {contest} was accepted"),
        Err(tungstenite::Error::Http(response)) => {
            let status = response.status().as_u16();
            let body = response.body().clone().unwrap_or_default();
            (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
        }
        Err(other) => panic!("unexpected error: {other}"),
    }
}

async fn refusals_come_before_the_upgrade(app: &TestApp) {
    let (start, end) = open_window();
    let (contest, _) = contest_with_student(app, start, end).await;
    let (_, _, outsider) = app.student().await;
    let (status, body) = refused(app, contest, "not-a-token").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );
    let (status, body) = refused(app, contest, &outsider).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("not_enrolled"))
    );
    let (status, body) = refused(app, contest + 1000, &outsider).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
}

async fn health_and_metrics_count_sockets(app: &TestApp) {
    let (start, end) = open_window();
    let (contest, token) = contest_with_student(app, start, end).await;
    let mut a = connect(app, contest, &token).await;
    let mut b = connect(app, contest, &token).await;
    next_frame(&mut a, Duration::from_secs(2)).await;
    next_frame(&mut b, Duration::from_secs(2)).await;
    let subscribers = |health: &Value| {
        health["actors"]["contests"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["contest_id"] == contest))
            .and_then(|c| c["subscribers"].as_i64())
    };
    let (_, health) = app.get("/health", None).await;
    assert_eq!(subscribers(&health), Some(2));
    let metrics = app
        .client()
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("contestd_ws_connections 2"), "{metrics}");
    a.close(None).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (_, health) = app.get("/health", None).await;
        if subscribers(&health) == Some(1) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "closed socket still subscribed: {health}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A client that never reads (so never answers pings) is closed after the timeout, while a
/// reading client on the same contest keeps getting every tick on time.
async fn a_client_that_does_not_read_is_dropped_alone(db: Db) {
    let flags = ["--ws-ping-secs", "1", "--ws-timeout-secs", "2"];
    let Some(app) = spawn_app_with(db, &flags).await else {
        return;
    };
    let (start, end) = open_window();
    let (contest, token) = contest_with_student(&app, start, end).await;
    let _silent = connect(&app, contest, &token).await; // never read again
    let mut reader = connect(&app, contest, &token).await;
    let mut last = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut dropped = false;
    while !dropped {
        assert!(
            Instant::now() < deadline,
            "the silent client was never dropped"
        );
        let frame = next_frame(&mut reader, Duration::from_millis(1500)).await;
        if frame["type"] == "state" {
            assert!(
                last.elapsed() < Duration::from_millis(1500),
                "tick late: {:?}",
                last.elapsed()
            );
            last = Instant::now();
        }
        let (_, health) = app.get("/health", None).await;
        dropped = health["actors"]["contests"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["contest_id"] == contest))
            .and_then(|c| c["subscribers"].as_i64())
            == Some(1);
    }
    // The reader is still served after the drop.
    for _ in 0..2 {
        let frame = frame_of(&mut reader, "state", Duration::from_millis(1500)).await;
        assert_eq!(frame["contest_id"], contest);
    }
    app.stop().await;
}
