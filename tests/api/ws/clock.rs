//! The clock echo on the live timer (API.md, "Live timer", Clock): answered at once with the
//! client's number as written and the server's time, at most 10 per socket in any 10 s, and
//! malformed client messages ignored while the socket keeps streaming.

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

use super::{connect, contest_with_student, frame_of, next_frame, Socket};
use crate::support::{now_ms, open_window, TestApp};

both_databases!(
    the_clock_echo_answers_at_once,
    the_eleventh_request_in_ten_seconds_is_not_answered,
    malformed_client_messages_are_ignored,
);

async fn send_text(socket: &mut Socket, text: &str) {
    socket.send(Message::Text(text.into())).await.unwrap();
}

fn time_request(client_time: &str) -> String {
    format!(r#"{{"type":"time","client_time":{client_time}}}"#)
}

/// Sends a ping carrying `marker` and reads up to its pong, returning the text frames that came
/// before it, as sent. The server reads a socket's messages in order and queues each answer in
/// the order it reads them, so an answer to anything sent before the ping comes before the pong.
async fn text_frames_before_pong(socket: &mut Socket, marker: &str) -> Vec<String> {
    socket
        .send(Message::Ping(marker.as_bytes().to_vec().into()))
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut texts = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let message = tokio::time::timeout(left, socket.next())
            .await
            .unwrap_or_else(|_| panic!("no pong {marker:?} within 5 s; frames: {texts:?}"))
            .expect("socket open")
            .expect("a frame");
        match message {
            Message::Pong(payload) if payload.as_ref() == marker.as_bytes() => return texts,
            Message::Text(text) => texts.push(text.to_string()),
            Message::Close(close) => panic!("socket closed: {close:?}; frames: {texts:?}"),
            _ => {}
        }
    }
}

fn of_type(frames: &[String], kind: &str) -> Vec<Value> {
    frames
        .iter()
        .map(|f| serde_json::from_str::<Value>(f).expect("JSON frame"))
        .filter(|v| v["type"] == kind)
        .collect()
}

/// An open contest, a socket of its student, and the first `state` frame read.
async fn open_socket(app: &TestApp) -> Socket {
    let (start, end) = open_window();
    let (contest, token) = contest_with_student(app, start, end).await;
    let mut socket = connect(app, contest, &token).await;
    let first = next_frame(&mut socket, Duration::from_secs(2)).await;
    assert_eq!(first["type"], "state");
    socket
}

async fn the_clock_echo_answers_at_once(app: &TestApp) {
    let mut socket = open_socket(app).await;
    let before = now_ms();
    // A trailing zero and more digits than an f64 holds: only the text as sent survives.
    send_text(&mut socket, &time_request("1764355200123.4567890120")).await;
    let texts = text_frames_before_pong(&mut socket, "after-echo").await;
    let after = Utc::now();
    let times: Vec<&String> = texts
        .iter()
        .filter(|t| serde_json::from_str::<Value>(t).unwrap()["type"] == "time")
        .collect();
    assert_eq!(times.len(), 1, "one answer: {texts:?}");
    let raw = times[0];
    assert!(
        raw.contains(r#""client_time":1764355200123.4567890120,"#)
            || raw.ends_with(r#""client_time":1764355200123.4567890120}"#),
        "client_time echoed as written: {raw}"
    );
    let answer: Value = serde_json::from_str(raw).unwrap();
    let mut keys: Vec<&str> = answer
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["client_time", "server_time", "type"], "{raw}");
    let server_time = answer["server_time"].as_str().unwrap();
    // RFC 3339 in UTC with exactly three fractional digits: 2026-11-28T19:00:00.123Z.
    let fraction = server_time
        .strip_suffix('Z')
        .and_then(|s| s.rsplit_once('.'))
        .map(|(_, f)| f);
    assert!(
        fraction.is_some_and(|f| f.len() == 3 && f.bytes().all(|b| b.is_ascii_digit())),
        "server_time with milliseconds and Z: {server_time}"
    );
    let at: DateTime<Utc> = DateTime::parse_from_rfc3339(server_time).unwrap().to_utc();
    assert!(
        before <= at && at <= after,
        "server_time {at} outside the exchange [{before}, {after}]"
    );
    assert!(after - before < TimeDelta::seconds(2), "answered at once");
}

async fn the_eleventh_request_in_ten_seconds_is_not_answered(app: &TestApp) {
    let mut socket = open_socket(app).await;
    let started = Instant::now();
    for n in 1..=11 {
        send_text(&mut socket, &time_request(&n.to_string())).await;
    }
    let texts = text_frames_before_pong(&mut socket, "after-eleven").await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "all eleven inside one window"
    );
    let answered: Vec<Value> = of_type(&texts, "time")
        .iter()
        .map(|t| t["client_time"].clone())
        .collect();
    let first_ten: Vec<Value> = (1..=10).map(Value::from).collect();
    assert_eq!(answered, first_ten, "frames before the pong: {texts:?}");
    // Nothing late either: the next two ticks come, and no `time` frame with or before them.
    for _ in 0..2 {
        let frame = next_frame(&mut socket, Duration::from_secs(3)).await;
        assert_eq!(frame["type"], "state", "after the eleventh: {frame}");
    }
    // The socket is still served, and still limited: a twelfth within the window is ignored.
    send_text(&mut socket, &time_request("12")).await;
    let texts = text_frames_before_pong(&mut socket, "after-twelve").await;
    assert!(of_type(&texts, "time").is_empty(), "{texts:?}");
}

async fn malformed_client_messages_are_ignored(app: &TestApp) {
    let mut socket = open_socket(app).await;
    let padded = format!(
        r#"{{"type":"time","client_time":1{}}}"#,
        " ".repeat(300) // valid JSON, but longer than a clock request may be
    );
    for text in [
        "not JSON",
        r#"{"type":"clock","client_time":1}"#,
        r#"{"type":"time"}"#,
        r#"{"type":"time","client_time":"1"}"#,
        r#"{"type":"time","client_time":null}"#,
        padded.as_str(),
    ] {
        send_text(&mut socket, text).await;
    }
    socket
        .send(Message::Binary(time_request("1").into_bytes().into()))
        .await
        .unwrap();
    let texts = text_frames_before_pong(&mut socket, "after-malformed").await;
    assert!(
        of_type(&texts, "time").is_empty(),
        "malformed messages were answered: {texts:?}"
    );
    // Still open and streaming.
    for _ in 0..2 {
        frame_of(&mut socket, "state", Duration::from_secs(3)).await;
    }
    // The ignored ones used none of the socket's ten: all ten are answered now.
    for n in 1..=10 {
        send_text(&mut socket, &time_request(&n.to_string())).await;
    }
    let texts = text_frames_before_pong(&mut socket, "after-ten").await;
    assert_eq!(of_type(&texts, "time").len(), 10, "{texts:?}");
}
