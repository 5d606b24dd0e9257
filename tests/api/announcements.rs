//! Announcements (API.md, "Announcements"): posted by admins, listed newest first to enrolled
//! students and admins, and pushed to every socket of the contest within 1 s.

use std::time::{Duration, Instant};

use chrono::TimeDelta;
use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::{
    assert_error, assert_keys, id_of, now_ms, parse_time, str_field, Resp, TestApp,
};
use crate::ws::{connect, frame_of, next_frame};

both_databases!(
    announcements_are_listed_newest_first,
    announcement_text_is_validated,
    only_admins_post_and_only_the_room_reads,
    the_frame_reaches_student_and_admin_sockets_within_a_second,
    the_newest_500_are_listed,
);

fn path(contest: i64) -> String {
    format!("/api/contests/{contest}/announcements")
}

async fn announce(app: &TestApp, contest: i64, token: &str, text: &str) -> Resp {
    app.post(&path(contest), Some(token), Some(json!({ "text": text })))
        .await
}

/// Posts and checks the `201`; returns its body.
async fn announced(app: &TestApp, contest: i64, token: &str, text: &str) -> Value {
    let (status, body) = announce(app, contest, token, text).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

/// The list as `token` reads it; panics unless `200`.
async fn listed(app: &TestApp, contest: i64, token: &str) -> Vec<Value> {
    let (status, body) = app.get(&path(contest), Some(token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_keys(&body, &["announcements"]);
    body["announcements"].as_array().expect("an array").clone()
}

/// An open contest with one enrolled student: `(contest id, student token, admin token)`.
async fn room(app: &TestApp) -> (i64, String, String) {
    let (contest, students) = app.open_contest_with_students(1, None).await;
    let admin = app.admin_token().await;
    (id_of(&contest), students[0].token.clone(), admin)
}

async fn announcements_are_listed_newest_first(app: &TestApp) {
    let (contest, student, admin) = room(app).await;
    let (other, _, _) = room(app).await;
    assert_eq!(listed(app, contest, &student).await, Vec::<Value>::new());
    let before = now_ms();
    let mut posted = Vec::new();
    for text in ["Question 2 is fixed", "  Ten minutes left \n", "Pens down"] {
        let body = announced(app, contest, &admin, text).await;
        assert_keys(&body, &["contest_id", "created_at", "id", "text"]);
        assert_eq!(body["contest_id"], contest);
        assert_eq!(str_field(&body, "text"), text, "kept as sent");
        let at = parse_time(&body["created_at"]);
        assert!(before <= at && at <= now_ms(), "created_at {at}");
        posted.push(body);
    }
    let ids: Vec<i64> = posted.iter().map(id_of).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids grow: {ids:?}");
    let newest_first: Vec<Value> = posted.iter().rev().cloned().collect();
    assert_eq!(listed(app, contest, &student).await, newest_first);
    assert_eq!(listed(app, contest, &admin).await, newest_first);
    assert_eq!(listed(app, other, &admin).await, Vec::<Value>::new());
}

async fn announcement_text_is_validated(app: &TestApp) {
    let (contest, student, admin) = room(app).await;
    let too_long = "x".repeat(2001);
    for (body, names) in [
        (json!({ "text": "" }), "text"),
        (json!({ "text": " \t\n\u{3000}" }), "text"),
        (json!({ "text": too_long }), "text"),
        (json!({ "text": "a\u{0}b" }), "U+0000"),
        (json!({ "text": 5 }), "text"),
        (json!({}), "text"),
        (json!({ "text": "hi", "urgent": true }), "urgent"),
    ] {
        let resp = app
            .post(&path(contest), Some(&admin), Some(body.clone()))
            .await;
        let message = assert_error(&resp, StatusCode::BAD_REQUEST, "bad_request");
        assert!(message.contains(names), "{body} → {message}");
    }
    let resp = app
        .raw(reqwest::Method::POST, &path(contest), Some(&admin), "{")
        .await;
    assert_error(&resp, StatusCode::BAD_REQUEST, "bad_request");
    // The contest comes before the body: an unknown one is 404 whatever the body.
    let resp = app
        .post(&path(contest + 1000), Some(&admin), Some(json!({})))
        .await;
    assert_error(&resp, StatusCode::NOT_FOUND, "not_found");
    assert_eq!(listed(app, contest, &student).await, Vec::<Value>::new());

    // 2,000 characters pass however many bytes they take: counted in code points.
    for text in [
        "é".repeat(2000),
        "😀".repeat(2000),
        format!("{}x", "ü".repeat(1999)),
    ] {
        let body = announced(app, contest, &admin, &text).await;
        assert_eq!(str_field(&body, "text"), text);
    }
    let resp = announce(app, contest, &admin, &"é".repeat(2001)).await;
    assert_error(&resp, StatusCode::BAD_REQUEST, "bad_request");
    let texts: Vec<String> = listed(app, contest, &student)
        .await
        .iter()
        .map(|a| str_field(a, "text").to_string())
        .collect();
    assert_eq!(texts.len(), 3);
    assert_eq!(texts[2], "é".repeat(2000), "stored as sent");
}

async fn only_admins_post_and_only_the_room_reads(app: &TestApp) {
    let (contest, student, admin) = room(app).await;
    let (_, _, outsider) = app.student().await;
    let body = json!({ "text": "hello" });
    let resp = app.post(&path(contest), None, Some(body.clone())).await;
    assert_error(&resp, StatusCode::UNAUTHORIZED, "unauthorized");
    let resp = app
        .post(&path(contest), Some(&student), Some(body.clone()))
        .await;
    assert_error(&resp, StatusCode::FORBIDDEN, "forbidden");
    // The role comes before the contest.
    let resp = app
        .post(&path(contest + 1000), Some(&student), Some(body))
        .await;
    assert_error(&resp, StatusCode::FORBIDDEN, "forbidden");
    announced(app, contest, &admin, "hello").await;

    let resp = app.get(&path(contest), None).await;
    assert_error(&resp, StatusCode::UNAUTHORIZED, "unauthorized");
    let resp = app.get(&path(contest), Some(&outsider)).await;
    assert_error(&resp, StatusCode::FORBIDDEN, "not_enrolled");
    for token in [&student, &outsider, &admin] {
        let resp = app.get(&path(contest + 1000), Some(token)).await;
        assert_error(&resp, StatusCode::NOT_FOUND, "not_found");
    }
    assert_eq!(listed(app, contest, &student).await.len(), 1);

    // A hidden contest does not exist for students; admins still read and post.
    let (status, _) = app
        .patch(
            &format!("/api/contests/{contest}"),
            Some(&admin),
            Some(json!({ "is_active": false })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let resp = app.get(&path(contest), Some(&student)).await;
    assert_error(&resp, StatusCode::NOT_FOUND, "not_found");
    announced(app, contest, &admin, "while hidden").await;
    assert_eq!(listed(app, contest, &admin).await.len(), 2);
}

async fn the_frame_reaches_student_and_admin_sockets_within_a_second(app: &TestApp) {
    let (contest, student, admin) = room(app).await;
    let (other, other_student, _) = room(app).await;
    let mut sockets = Vec::new();
    for (id, token) in [
        (contest, &student),
        (contest, &admin),
        (other, &other_student),
    ] {
        let mut socket = connect(app, id, token).await;
        let first = next_frame(&mut socket, Duration::from_secs(2)).await;
        assert_eq!(first["type"], "state");
        sockets.push(socket);
    }
    let sent = Instant::now();
    let body = announced(app, contest, &admin, "Question 2: read km as m").await;
    let mut frames = Vec::new();
    for socket in &mut sockets[..2] {
        let left = Duration::from_secs(1).saturating_sub(sent.elapsed());
        frames.push(frame_of(socket, "announcement", left).await);
    }
    for frame in &frames {
        assert_keys(
            frame,
            &[
                "contest_id",
                "created_at",
                "id",
                "server_time",
                "text",
                "type",
            ],
        );
        for key in ["id", "contest_id", "text", "created_at"] {
            assert_eq!(frame[key], body[key], "{key}: frame {frame} vs 201 {body}");
        }
        let lag = parse_time(&frame["server_time"]) - parse_time(&body["created_at"]);
        assert!(
            TimeDelta::zero() <= lag && lag < TimeDelta::seconds(1),
            "{frame}"
        );
    }
    // The other contest's socket gets its ticks and no announcement.
    let socket = &mut sockets[2];
    for _ in 0..2 {
        let frame = next_frame(socket, Duration::from_secs(3)).await;
        assert_eq!(frame["type"], "state", "another contest's socket: {frame}");
    }
    // A socket that opens later lists what it missed.
    assert_eq!(listed(app, contest, &student).await, vec![body]);
}

async fn the_newest_500_are_listed(app: &TestApp) {
    let (contest, student, admin) = room(app).await;
    let mut posted: Vec<Value> = futures::stream::iter(0..501)
        .map(|n| {
            let admin = &admin;
            async move { announced(app, contest, admin, &format!("note {n}")).await }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    // Newest first: by created_at (RFC 3339 to the millisecond), then id, both descending.
    posted.sort_by_key(|a| std::cmp::Reverse((parse_time(&a["created_at"]), id_of(a))));
    let list = listed(app, contest, &student).await;
    assert_eq!(list.len(), 500);
    assert_eq!(list[..], posted[..500], "the 500 newest, newest first");
}
