//! Several nodes on one PostgreSQL database stay coherent. Every change a node commits is
//! published (PostgreSQL NOTIFY) and every other node applies it to its warm contests and its
//! token cache within 1 s: the rules, the views and the WebSocket frames.
//!
//! Each test starts node A and node B (`sibling`, in this process: each server has its own
//! workers and actors, and its own listener connection) on one database, makes a contest warm
//! on B by reading it there as a student (and opens sockets on B where frames matter), makes
//! one change through A's API, then polls B with a deadline: the frame on B's sockets, B's
//! view, and B's rule, which must give what A gives. Also: submissions racing through both
//! nodes, a listener connection killed or cut off (the node reconnects and reloads), and
//! readiness (`/health/ready`, draining after SIGTERM). On SQLite: no listener, and a second
//! process on the same database file is refused.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use futures::future::join_all;
use futures::StreamExt;
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sqlx::{Connection, PgConnection};
use tokio_tungstenite::tungstenite::{self, Message};

use crate::support::{
    answers, assert_before, assert_error, assert_keys, closed_window, contest_body,
    course_with_students, draft_path, id_of, now_ms, own_submission, parse_time, question_ids,
    retry_after, rfc3339, sleep_until, sorted, spawn_app, spawn_binary, str_field, upcoming_window,
    wait_for, wait_for_auto_submission, Db, Student, TestApp, AUTO_WITHIN, STUDENT_PW,
};
use crate::ws::{connect, frames_until, next_frame, ws_url, Socket};

/// PostgreSQL only: `postgres_only::NAME` for each fn, which starts its own nodes (and says
/// "skipped" when PostgreSQL is not configured, as every PostgreSQL test does).
macro_rules! postgres_only {
    ($($name:ident),* $(,)?) => {
        mod postgres_only {
            $(
                #[actix_web::test]
                async fn $name() {
                    super::$name().await;
                }
            )*
        }
    };
}

/// SQLite only: `sqlite_only::NAME` for each fn.
macro_rules! sqlite_only {
    ($($name:ident),* $(,)?) => {
        mod sqlite_only {
            $(
                #[actix_web::test]
                async fn $name() {
                    super::$name().await;
                }
            )*
        }
    };
}

postgres_only!(
    an_unenrolled_student_is_refused_on_b_and_b_closes_their_sockets,
    a_hidden_contest_is_gone_on_b_and_back_when_shown,
    closing_early_on_a_ends_the_contest_on_b,
    moving_the_start_later_on_a_reaches_b,
    questions_edited_on_a_are_served_and_graded_on_b,
    extra_time_given_on_a_reopens_the_contest_for_that_student_on_b,
    a_duration_started_on_a_runs_on_b,
    an_announcement_posted_on_a_reaches_b_s_sockets,
    a_key_corrected_on_a_regrades_b_s_views_and_tells_b_s_sockets,
    a_logout_on_a_is_refused_on_b,
    a_submission_through_a_is_known_on_b,
    racing_submissions_through_both_nodes_accept_one_per_student,
    a_killed_listener_reconnects_and_b_catches_up,
    a_change_made_while_b_is_cut_off_reaches_b_once_it_reconnects,
    each_node_has_its_own_listener,
    the_last_draft_saved_through_either_node_is_the_one_submitted,
);

sqlite_only!(
    a_second_process_on_the_same_sqlite_file_is_refused,
    the_sqlite_lock_goes_with_its_holder,
);

both_databases!(
    health_reports_the_listener_and_readiness;
    with_db: ready_is_503_while_draining,
);

// ---- deadlines ----

/// A change reaches every node within 1 s (what API.md promises of a warm contest on the
/// node that made the change); 0.5 s more for the polls' own round trips on a busy CI
/// machine. Measured from A's answer, which comes after the commit.
const COHERENT_WITHIN: Duration = Duration::from_millis(1500);

/// How long a node may take to open its listener connection again once it was dropped (no
/// deadline in the contract: generous, it only bounds a failing test).
const RECONNECT_WITHIN: Duration = Duration::from_secs(10);

/// The instant A answered a change: B has `COHERENT_WITHIN` from here.
#[derive(Clone, Copy)]
struct Changed {
    at: Instant,
    utc: DateTime<Utc>,
}

impl Changed {
    fn now() -> Changed {
        Changed {
            at: Instant::now(),
            utc: Utc::now(),
        }
    }

    /// What is left of the deadline (zero once past: a poll then checks once more).
    fn left(&self) -> Duration {
        COHERENT_WITHIN.saturating_sub(self.at.elapsed())
    }

    fn deadline(&self) -> Instant {
        self.at + COHERENT_WITHIN
    }

    /// Reading a socket: what is left, and at least a moment for a frame already received.
    fn read_for(&self) -> Duration {
        self.left().max(Duration::from_millis(100))
    }

    /// The frame was sent (its `server_time`, the node's clock, this machine's) in time.
    #[track_caller]
    fn assert_sent_in_time(&self, frame: &Value) {
        let sent = parse_time(&frame["server_time"]);
        let limit = TimeDelta::from_std(COHERENT_WITHIN).expect("a small duration");
        assert!(
            sent - self.utc <= limit,
            "sent {} after the change was answered: {frame}",
            sent - self.utc
        );
    }
}

// ---- two nodes and a contest warm on B ----

/// Node A (owning a fresh PostgreSQL database) and node B on the same database, both ready
/// (listening); `None` (skipped) when PostgreSQL is not configured.
async fn two_nodes() -> Option<(TestApp, TestApp)> {
    let a = spawn_app(Db::Postgres).await?;
    let b = a.sibling(&[]).await;
    wait_ready(&a).await;
    wait_ready(&b).await;
    Some((a, b))
}

/// Waits until the node answers `/health/ready` with 200, as a load balancer would before
/// sending it anything (a node that has just started may not be listening yet).
async fn wait_ready(node: &TestApp) {
    wait_for("the node is ready", RECONNECT_WITHIN, || async {
        (ready(node).await.0 == StatusCode::OK).then_some(())
    })
    .await;
}

/// Stops B, then A (which owns the database).
async fn stop(a: TestApp, b: TestApp) {
    b.stop().await;
    a.stop().await;
}

fn contest_path(id: i64) -> String {
    format!("/api/contests/{id}")
}

/// The `/health` figures of a warm contest (`None` when it is not warm there).
async fn warm_figures(app: &TestApp, contest: i64) -> Option<Value> {
    let health = app.health().await;
    health["actors"]["contests"]
        .as_array()
        .unwrap_or_else(|| panic!("actors.contests in {health}"))
        .iter()
        .find(|c| c["contest_id"] == contest)
        .cloned()
}

/// Each student reads the contest through `node` (200), which makes it warm there.
async fn warm_on(node: &TestApp, contest: i64, students: &[&Student]) -> Vec<Value> {
    let mut views = Vec::new();
    for student in students {
        let (status, view) = node.get(&contest_path(contest), Some(&student.token)).await;
        assert_eq!(status, StatusCode::OK, "{}: {view}", student.username);
        views.push(view);
    }
    assert!(
        warm_figures(node, contest).await.is_some(),
        "contest {contest} is warm"
    );
    views
}

/// A contest open now (`contest_body`'s two questions) with `n` enrolled students, warm on B.
async fn open_on_b(
    a: &TestApp,
    b: &TestApp,
    n: usize,
    results: Option<&str>,
) -> (Value, Vec<Student>) {
    let (contest, students) = a.open_contest_with_students(n, results).await;
    warm_on(b, id_of(&contest), &students.iter().collect::<Vec<_>>()).await;
    (contest, students)
}

/// A socket on `node` whose first `state` frame was read (so it is subscribed).
async fn socket_on(node: &TestApp, contest: i64, token: &str) -> Socket {
    let mut socket = connect(node, contest, token).await;
    let first = next_frame(&mut socket, Duration::from_secs(2)).await;
    assert_eq!(first["type"], "state", "{first}");
    socket
}

// ---- frames ----

/// Reads frames until one of type `kind`, for at most `within`; `None` if none came.
async fn try_frame_of(socket: &mut Socket, kind: &str, within: Duration) -> Option<Value> {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let message = match tokio::time::timeout(left, socket.next()).await {
            Err(_) => return None,
            Ok(Some(Ok(message))) => message,
            Ok(other) => panic!("the socket ended while waiting for {kind}: {other:?}"),
        };
        if let Message::Text(text) = message {
            let frame: Value = serde_json::from_str(&text).expect("a JSON frame");
            if frame["type"] == kind {
                return Some(frame);
            }
        }
    }
}

/// The next frame of type `kind` on a socket of B, sent within the deadline of `changed`.
async fn frame_in_time(socket: &mut Socket, kind: &str, changed: Changed, whose: &str) -> Value {
    let frame = try_frame_of(socket, kind, changed.read_for())
        .await
        .unwrap_or_else(|| panic!("{whose}: no {kind} frame within {COHERENT_WITHIN:?}"));
    changed.assert_sent_in_time(&frame);
    frame
}

/// How the server ended the socket: the close frame's code, or `None` when the connection
/// ended without one. Fails if it is still open after `within`.
async fn closed(socket: &mut Socket, within: Duration, whose: &str) -> Option<u16> {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, socket.next()).await {
            Err(_) => panic!("{whose}: still open after {within:?}"),
            Ok(Some(Ok(Message::Close(frame)))) => return frame.map(|f| u16::from(f.code)),
            Ok(Some(Ok(_))) => {}
            Ok(None | Some(Err(_))) => return None,
        }
    }
}

/// A refused WebSocket upgrade: the HTTP status and the error code.
async fn refused_upgrade(node: &TestApp, contest: i64, token: &str) -> (u16, Value) {
    match tokio_tungstenite::connect_async(ws_url(node, contest, token)).await {
        Ok(_) => panic!("the upgrade to contest {contest} was accepted"),
        Err(tungstenite::Error::Http(response)) => {
            let body = response.body().clone().unwrap_or_default();
            let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            (response.status().as_u16(), body["error"]["code"].clone())
        }
        Err(other) => panic!("the upgrade failed unexpectedly: {other}"),
    }
}

// ---- the kinds of change ----

/// A unenrolls a student: on B, their sockets close as A's do, their reads and submissions
/// get 403 `not_enrolled` and a new socket is refused; the other student is untouched.
async fn an_unenrolled_student_is_refused_on_b_and_b_closes_their_sockets() {
    let Some((a, b)) = two_nodes().await else {
        return;
    };
    let (contest, students) = open_on_b(&a, &b, 2, None).await;
    let id = id_of(&contest);
    let course = contest["course_id"].as_i64().expect("course_id");
    let (leaver, stayer) = (&students[0], &students[1]);
    let mut leaver_on_a = socket_on(&a, id, &leaver.token).await;
    let mut leaver_on_b = socket_on(&b, id, &leaver.token).await;
    let mut stayer_on_b = socket_on(&b, id, &stayer.token).await;

    let admin = a.admin_token().await;
    let path = format!("/api/courses/{course}/enrollments/{}", leaver.id);
    let (status, body) = a.delete(&path, Some(&admin)).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let changed = Changed::now();

    // The frame: B ends the leaver's socket as A does.
    let on_a = closed(
        &mut leaver_on_a,
        Duration::from_secs(1),
        "the leaver's socket on A",
    )
    .await;
    let on_b = closed(
        &mut leaver_on_b,
        changed.read_for(),
        "the leaver's socket on B",
    )
    .await;
    assert_eq!(on_b, on_a, "B closes the leaver's socket as A does");

    // The view, then the rules.
    let resp = wait_for("B refuses the leaver's read", changed.left(), || async {
        let resp = b.get(&contest_path(id), Some(&leaver.token)).await;
        (resp.0 == StatusCode::FORBIDDEN).then_some(resp)
    })
    .await;
    assert_error(&resp, StatusCode::FORBIDDEN, "not_enrolled");
    let resp = b.submit(id, &leaver.token, answers(&[])).await;
    assert_error(&resp, StatusCode::FORBIDDEN, "not_enrolled");
    let resp = b
        .put(
            &draft_path(id),
            Some(&leaver.token),
            Some(json!({ "answers": [] })),
        )
        .await;
    assert_error(&resp, StatusCode::FORBIDDEN, "not_enrolled");
    let (status, code) = refused_upgrade(&b, id, &leaver.token).await;
    assert_eq!(
        (status, code),
        (403, json!("not_enrolled")),
        "a new socket on B"
    );

    // The other student keeps their socket and their access on B.
    let frame = try_frame_of(&mut stayer_on_b, "state", Duration::from_secs(2)).await;
    assert!(frame.is_some(), "the stayer's socket on B streams on");
    let (status, body) = b.submit(id, &stayer.token, answers(&[])).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    stop(a, b).await;
}

/// A hides the contest: on B, it is 404 to students (reads, submissions) at once and their
/// sockets close as on A; the admin view on B says `is_active: false`. Shown again on A, it is
/// back on B.
async fn a_hidden_contest_is_gone_on_b_and_back_when_shown() {
    let Some((a, b)) = two_nodes().await else {
        return;
    };
    let (contest, students) = open_on_b(&a, &b, 1, None).await;
    let id = id_of(&contest);
    let student = &students[0];
    let admin = a.admin_token().await;
    let mut on_a = socket_on(&a, id, &student.token).await;
    let mut on_b = socket_on(&b, id, &student.token).await;

    let patch = |body: Value| {
        let (a, admin) = (&a, &admin);
        async move {
            let (status, view) = a.patch(&contest_path(id), Some(admin), Some(body)).await;
            assert_eq!(status, StatusCode::OK, "{view}");
            Changed::now()
        }
    };

    let changed = patch(json!({ "is_active": false })).await;
    let code_a = closed(
        &mut on_a,
        Duration::from_secs(1),
        "the student's socket on A",
    )
    .await;
    let code_b = closed(&mut on_b, changed.read_for(), "the student's socket on B").await;
    assert_eq!(code_b, code_a, "B closes the student's socket as A does");
    let resp = wait_for("B hides the contest", changed.left(), || async {
        let resp = b.get(&contest_path(id), Some(&student.token)).await;
        (resp.0 == StatusCode::NOT_FOUND).then_some(resp)
    })
    .await;
    assert_error(&resp, StatusCode::NOT_FOUND, "not_found");
    let resp = b.submit(id, &student.token, answers(&[])).await;
    assert_error(&resp, StatusCode::NOT_FOUND, "not_found");
    let (status, view) = b.get(&contest_path(id), Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["is_active"], false, "the admin view on B: {view}");

    let changed = patch(json!({ "is_active": true })).await;
    let view = wait_for("B shows the contest again", changed.left(), || async {
        let (status, view) = b.get(&contest_path(id), Some(&student.token)).await;
        (status == StatusCode::OK).then_some(view)
    })
    .await;
    assert_eq!(view["status"], "open", "{view}");
    let (status, body) = b.submit(id, &student.token, answers(&[])).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    stop(a, b).await;
}

/// A moves the end to now: B's sockets get `schedule_changed` (closed, the new end) and
/// `ended`, B's view says closed, and B refuses submissions with 409 `contest_not_open`.
async fn closing_early_on_a_ends_the_contest_on_b() {
    let Some((a, b)) = two_nodes().await else {
        return;
    };
    let (contest, students) = open_on_b(&a, &b, 1, None).await;
    let id = id_of(&contest);
    let student = &students[0];
    let mut on_b = socket_on(&b, id, &student.token).await;

    let end = now_ms();
    let admin = a.admin_token().await;
    let body = json!({ "end_time": rfc3339(end) });
    let (status, view) = a.patch(&contest_path(id), Some(&admin), Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    let changed = Changed::now();

    let frames = frames_until(&mut on_b, changed.deadline()).await;
    let of = |kind: &str| {
        frames
            .iter()
            .find(|f| f["type"] == kind)
            .unwrap_or_else(|| {
                panic!("no {kind} frame on B within {COHERENT_WITHIN:?}: {frames:?}")
            })
    };
    for kind in ["schedule_changed", "ended"] {
        let frame = of(kind);
        changed.assert_sent_in_time(frame);
        assert_eq!(frame["status"], "closed", "{frame}");
        assert_eq!(parse_time(&frame["end_time"]), end, "{frame}");
        assert_eq!(frame["remaining_ms"], 0, "{frame}");
    }

    let view = wait_for("B's view is closed", changed.left(), || async {
        let (status, view) = b.get(&contest_path(id), Some(&student.token)).await;
        assert_eq!(status, StatusCode::OK, "{view}");
        (view["status"] == "closed").then_some(view)
    })
    .await;
    assert_eq!(parse_time(&view["end_time"]), end, "{view}");
    let resp = b.submit(id, &student.token, answers(&[])).await;
    assert_error(&resp, StatusCode::CONFLICT, "contest_not_open");
    stop(a, b).await;
}

/// A renames the contest and moves its start half an hour ahead: B's sockets get
/// `schedule_changed` (upcoming, the new start), B's view is upcoming with no questions and the
/// new title, and B refuses submissions with 409 `contest_not_open`.
async fn moving_the_start_later_on_a_reaches_b() {
    let Some((a, b)) = two_nodes().await else {
        return;
    };
    let (contest, students) = open_on_b(&a, &b, 1, None).await;
    let id = id_of(&contest);
    let student = &students[0];
    let mut on_b = socket_on(&b, id, &student.token).await;

    let start = now_ms() + TimeDelta::minutes(30);
    let admin = a.admin_token().await;
    let body = json!({ "title": "Moved", "start_time": rfc3339(start) });
    let (status, view) = a.patch(&contest_path(id), Some(&admin), Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    let changed = Changed::now();

    let frame = frame_in_time(&mut on_b, "schedule_changed", changed, "B's socket").await;
    assert_eq!(frame["status"], "upcoming", "{frame}");
    assert_eq!(parse_time(&frame["start_time"]), start, "{frame}");
    assert_eq!(frame["end_time"], contest["end_time"], "{frame}");

    let view = wait_for("B's view is upcoming", changed.left(), || async {
        let (status, view) = b.get(&contest_path(id), Some(&student.token)).await;
        assert_eq!(status, StatusCode::OK, "{view}");
        (view["status"] == "upcoming").then_some(view)
    })
    .await;
    assert_eq!(parse_time(&view["start_time"]), start, "{view}");
    assert_eq!(view["questions"], json!([]), "{view}");
    assert_eq!(view["title"], "Moved", "{view}");
    let resp = b.submit(id, &student.token, answers(&[])).await;
    assert_error(&resp, StatusCode::CONFLICT, "contest_not_open");
    stop(a, b).await;
}

/// An upcoming contest, warm on B; A replaces its questions (new ids), then opens it. B's
/// admin view shows the new questions, its student view lists them once open, and B grades a
/// submission against them (the old ids would be a 400).
async fn questions_edited_on_a_are_served_and_graded_on_b() {
    let Some((a, b)) = two_nodes().await else {
        return;
    };
    let course = a.create_course().await;
    let students = a.logged_in_students(1).await;
    let student = &students[0];
    a.enroll(course, &[student.id]).await;
    let (start, end) = upcoming_window();
    let mut body = contest_body(course, start, end);
    body["results"] = json!("immediate");
    let id = id_of(&a.create_contest_from(body).await);
    warm_on(&b, id, &[student]).await;
    let admin = a.admin_token().await;
    let (status, old) = b.get(&contest_path(id), Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{old}");

    let questions = json!([
        { "prompt": "1 + 1?", "options": ["1", "2"], "correct_option": 1, "points": 5 },
        { "prompt": "3 * 3?", "options": ["6", "9", "12"], "correct_option": 1 },
        { "prompt": "2 - 2?", "options": ["0", "2"], "correct_option": 0 },
    ]);
    let (status, edited) = a
        .patch(
            &contest_path(id),
            Some(&admin),
            Some(json!({ "questions": questions })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    let changed = Changed::now();
    assert_ne!(question_ids(&edited), question_ids(&old), "new ids");
    wait_for(
        "B's admin view has the new questions",
        changed.left(),
        || async {
            let (status, view) = b.get(&contest_path(id), Some(&admin)).await;
            assert_eq!(status, StatusCode::OK, "{view}");
            (view["questions"] == edited["questions"]).then_some(())
        },
    )
    .await;

    let opened = json!({ "start_time": rfc3339(now_ms() - TimeDelta::minutes(1)) });
    let (status, view) = a.patch(&contest_path(id), Some(&admin), Some(opened)).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    let changed = Changed::now();
    let q = question_ids(&edited);
    let view = wait_for("B's student view is open", changed.left(), || async {
        let (status, view) = b.get(&contest_path(id), Some(&student.token)).await;
        assert_eq!(status, StatusCode::OK, "{view}");
        (view["status"] == "open").then_some(view)
    })
    .await;
    assert_eq!(question_ids(&view), q, "{view}");
    let (status, receipt) = b
        .submit(id, &student.token, answers(&[(q[0], 1), (q[1], 0)]))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{receipt}");
    assert_eq!(
        receipt["score"], 5,
        "graded with the new questions: {receipt}"
    );
    assert_eq!(receipt["max_score"], 7, "{receipt}");
    stop(a, b).await;
}

/// The contest ended a minute ago; A gives one student 30 extra minutes. On B that student's
/// socket gets `schedule_changed` (open, their end), their view is open with `my_window`, and
/// B takes their submission, while it still refuses the other student's.
async fn extra_time_given_on_a_reopens_the_contest_for_that_student_on_b() {
    let Some((a, b)) = two_nodes().await else {
        return;
    };
    let course = a.create_course().await;
    let mut students = a.logged_in_students(2).await;
    students.sort_by_key(|s| s.id);
    a.enroll(course, &students.iter().map(|s| s.id).collect::<Vec<_>>())
        .await;
    let now = now_ms();
    let (start, end) = (now - TimeDelta::hours(1), now - TimeDelta::minutes(1));
    let id = id_of(&a.create_contest(course, start, end, None).await);
    let (late, other) = (&students[0], &students[1]);
    let views = warm_on(&b, id, &[late, other]).await;
    assert_eq!(views[0]["status"], "closed", "{}", views[0]);
    let mut late_on_b = socket_on(&b, id, &late.token).await;

    let admin = a.admin_token().await;
    let path = format!("/api/contests/{id}/accommodations/{}", late.id);
    let (status, shown) = a
        .put(&path, Some(&admin), Some(json!({ "extra_minutes": 30 })))
        .await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    let changed = Changed::now();
    let mine = end + TimeDelta::minutes(30);
    assert_eq!(parse_time(&shown["end_time"]), mine, "{shown}");

    let frame = frame_in_time(
        &mut late_on_b,
        "schedule_changed",
        changed,
        "the student's socket on B",
    )
    .await;
    assert_eq!(frame["status"], "open", "{frame}");
    assert_eq!(parse_time(&frame["end_time"]), mine, "{frame}");

    let view = wait_for(
        "B's view follows the student's window",
        changed.left(),
        || async {
            let (status, view) = b.get(&contest_path(id), Some(&late.token)).await;
            assert_eq!(status, StatusCode::OK, "{view}");
            (view["status"] == "open").then_some(view)
        },
    )
    .await;
    assert_eq!(parse_time(&view["end_time"]), mine, "{view}");
    assert_eq!(parse_time(&view["my_window"]["end_time"]), mine, "{view}");
    let (status, body) = b.submit(id, &late.token, answers(&[])).await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "B takes the student's submission: {body}"
    );
    let resp = b.submit(id, &other.token, answers(&[])).await;
    assert_error(&resp, StatusCode::CONFLICT, "contest_not_open");
    stop(a, b).await;
}

/// A contest of 30 minutes per student, warm on B; a student opens it through A, which starts
/// their 30 minutes. Their socket on B hears of their end (a `state` frame, as on A), and B's
/// view of it shows the start A recorded (reading it through B does not start it again).
async fn a_duration_started_on_a_runs_on_b() {
    let Some((a, b)) = two_nodes().await else {
        return;
    };
    let course = a.create_course().await;
    let mut students = a.logged_in_students(2).await;
    students.sort_by_key(|s| s.id);
    a.enroll(course, &students.iter().map(|s| s.id).collect::<Vec<_>>())
        .await;
    let (start, end) = (
        now_ms() - TimeDelta::hours(1),
        now_ms() + TimeDelta::hours(1),
    );
    let mut body = contest_body(course, start, end);
    body["duration_minutes"] = json!(30);
    let id = id_of(&a.create_contest_from(body).await);
    let (starter, other) = (&students[0], &students[1]);
    warm_on(&b, id, &[other]).await;
    let mut on_b = socket_on(&b, id, &starter.token).await;

    let (status, opened) = a.get(&contest_path(id), Some(&starter.token)).await;
    assert_eq!(status, StatusCode::OK, "{opened}");
    let changed = Changed::now();
    let started = parse_time(&opened["my_window"]["started_at"]);
    let mine = started + TimeDelta::minutes(30);
    assert_eq!(parse_time(&opened["end_time"]), mine, "{opened}");

    // As on A (windows.rs): the socket hears of the new end in a `state` frame.
    let frames = frames_until(&mut on_b, changed.deadline()).await;
    let told = frames
        .iter()
        .find(|f| f["type"] == "state" && parse_time(&f["end_time"]) == mine)
        .unwrap_or_else(|| panic!("no state frame with the student's end on B: {frames:?}"));
    changed.assert_sent_in_time(told);
    let (status, view) = b.get(&contest_path(id), Some(&starter.token)).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["my_window"], opened["my_window"], "B's view: {view}");
    assert_eq!(parse_time(&view["end_time"]), mine, "{view}");
    stop(a, b).await;
}

/// The notification counters of a node: `/health`'s `listener.received` and `.applied`, and
/// `/metrics`' `contestd_notifications_total` by outcome.
async fn counters(node: &TestApp) -> [f64; 4] {
    let listener = node.listener().await;
    let number = |key: &str| {
        listener[key]
            .as_f64()
            .unwrap_or_else(|| panic!("a number listener.{key} in /health: {listener}"))
    };
    let metrics = node.metrics().await;
    let total =
        |outcome: &str| metrics.sum("contestd_notifications_total", &[("outcome", outcome)]);
    [
        number("received"),
        number("applied"),
        total("applied"),
        total("own"),
    ]
}

/// A posts an announcement: the sockets of a student and of the admin on B get the frame
/// (the 201's id, text and creation time), B lists it, and the counters say what happened: B
/// received and applied a notification of another node's, A heard its own.
async fn an_announcement_posted_on_a_reaches_b_s_sockets() {
    let Some((a, b)) = two_nodes().await else {
        return;
    };
    let (contest, students) = open_on_b(&a, &b, 1, None).await;
    let id = id_of(&contest);
    let student = &students[0];
    let admin = a.admin_token().await;
    let mut student_on_b = socket_on(&b, id, &student.token).await;
    let mut admin_on_b = socket_on(&b, id, &admin).await;
    let before_a = counters(&a).await;
    let before_b = counters(&b).await;

    let path = format!("/api/contests/{id}/announcements");
    let body = json!({ "text": "Question 2: read km as m" });
    let (status, posted) = a.post(&path, Some(&admin), Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{posted}");
    let changed = Changed::now();

    for (socket, whose) in [
        (&mut student_on_b, "the student's socket on B"),
        (&mut admin_on_b, "the admin's socket on B"),
    ] {
        let frame = frame_in_time(socket, "announcement", changed, whose).await;
        for key in ["id", "contest_id", "text", "created_at"] {
            assert_eq!(
                frame[key], posted[key],
                "{whose}: {key} of {frame} vs {posted}"
            );
        }
    }
    let (status, listed) = b.get(&path, Some(&student.token)).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert_eq!(listed["announcements"][0], posted, "{listed}");

    // B counts one more received (from another node) and applied; A one more of its own.
    let what = format!(
        "the counters [received, applied, applied_total, own_total] move from A {before_a:?}, \
         B {before_b:?}"
    );
    wait_for(&what, COHERENT_WITHIN, || async {
        let (a_now, b_now) = (counters(&a).await, counters(&b).await);
        let b_moved = (0..3).all(|i| b_now[i] > before_b[i]);
        let a_own = a_now[3] > before_a[3];
        (b_moved && a_own).then_some(())
    })
    .await;
    stop(a, b).await;
}

/// The contest's submissions were made through B (so B holds them); A corrects the first
/// question's key. On B: the sockets of the two students whose score changed get `regraded`,
/// the third's gets none; my-submission and bulk-stats show the new scores; a new submission is
/// graded with the new key.
async fn a_key_corrected_on_a_regrades_b_s_views_and_tells_b_s_sockets() {
    let Some((a, b)) = two_nodes().await else {
        return;
    };
    let (contest, students) = open_on_b(&a, &b, 4, Some("immediate")).await;
    let id = id_of(&contest);
    let q = question_ids(&contest);
    // contest_body: q0 is worth 1 (key 1), q1 worth 2 (key 0). The key moves to 2.
    let plans = [
        (answers(&[(q[0], 2), (q[1], 0)]), 2, 3), // right after
        (answers(&[(q[0], 1), (q[1], 0)]), 3, 2), // wrong after
        (answers(&[(q[1], 0)]), 2, 2),            // unchanged
    ];
    for (student, (sent, score, _)) in students.iter().zip(&plans) {
        let (status, receipt) = b.submit(id, &student.token, sent.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{receipt}");
        assert_eq!(receipt["score"], *score, "the old key: {receipt}");
    }
    let mut sockets = Vec::new();
    for student in &students[..3] {
        sockets.push(socket_on(&b, id, &student.token).await);
    }

    let admin = a.admin_token().await;
    let path = format!("/api/contests/{id}/questions/{}", q[0]);
    let (status, answer) = a
        .patch(&path, Some(&admin), Some(json!({ "correct_option": 2 })))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let changed = Changed::now();
    assert_eq!(answer["regraded"], 3, "{answer}");

    for (i, socket) in sockets[..2].iter_mut().enumerate() {
        let whose = format!("{}'s socket on B", students[i].username);
        let frame = frame_in_time(socket, "regraded", changed, &whose).await;
        assert_eq!(frame["contest_id"], id, "{frame}");
    }
    let frames = frames_until(&mut sockets[2], changed.deadline()).await;
    assert!(
        frames.iter().all(|f| f["type"] != "regraded"),
        "no regraded frame on B for an unchanged score: {frames:?}"
    );

    let mine = format!("/api/contests/{id}/my-submission");
    for (student, (_, _, score)) in students.iter().zip(&plans) {
        wait_for(
            &format!("{}'s new score on B", student.username),
            changed.left(),
            || async {
                let (status, own) = b.get(&mine, Some(&student.token)).await;
                assert_eq!(status, StatusCode::OK, "{own}");
                (own["score"] == *score).then_some(())
            },
        )
        .await;
    }
    let stats = format!("/api/contests/bulk-stats?contest_ids={id}");
    let (status, on_a) = a.get(&stats, Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{on_a}");
    let (status, on_b) = b.get(&stats, Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{on_b}");
    assert_eq!(on_b, on_a, "bulk-stats on B and on A");

    let late = &students[3];
    let (status, receipt) = b.submit(id, &late.token, answers(&[(q[0], 2)])).await;
    assert_eq!(status, StatusCode::CREATED, "{receipt}");
    assert_eq!(receipt["score"], 1, "B grades with the new key: {receipt}");
    stop(a, b).await;
}

/// A student's token, used (and so cached) on B, is logged out on A: B closes the sockets
/// opened with it as A does, and refuses it (401) on every route and on the socket upgrade;
/// another token of the same student still works, its socket too.
async fn a_logout_on_a_is_refused_on_b() {
    let Some((a, b)) = two_nodes().await else {
        return;
    };
    let (contest, students) = open_on_b(&a, &b, 1, None).await;
    let id = id_of(&contest);
    let student = &students[0];
    let other_token = a.login(&student.username, STUDENT_PW).await;
    for token in [&student.token, &other_token] {
        let (status, me) = b.get("/api/me", Some(token)).await;
        assert_eq!(status, StatusCode::OK, "{me}");
    }
    let mut on_a = socket_on(&a, id, &student.token).await;
    let mut on_b = socket_on(&b, id, &student.token).await;
    let mut other_on_b = socket_on(&b, id, &other_token).await;

    let (status, body) = a.post("/api/auth/logout", Some(&student.token), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let changed = Changed::now();

    // The token's sockets close on B as on A; the other token's socket streams on.
    let code_a = closed(&mut on_a, Duration::from_secs(1), "the token's socket on A").await;
    let code_b = closed(&mut on_b, changed.read_for(), "the token's socket on B").await;
    assert_eq!(code_b, code_a, "B closes the token's socket as A does");
    let frame = try_frame_of(&mut other_on_b, "state", Duration::from_secs(2)).await;
    assert!(frame.is_some(), "the other token's socket on B streams on");

    let resp = wait_for("B refuses the token", changed.left(), || async {
        let resp = b.get("/api/me", Some(&student.token)).await;
        (resp.0 == StatusCode::UNAUTHORIZED).then_some(resp)
    })
    .await;
    assert_error(&resp, StatusCode::UNAUTHORIZED, "unauthorized");
    let resp = b.get(&contest_path(id), Some(&student.token)).await;
    assert_error(&resp, StatusCode::UNAUTHORIZED, "unauthorized");
    let resp = b.submit(id, &student.token, answers(&[])).await;
    assert_error(&resp, StatusCode::UNAUTHORIZED, "unauthorized");
    let (status, code) = refused_upgrade(&b, id, &student.token).await;
    assert_eq!(
        (status, code),
        (401, json!("unauthorized")),
        "a socket on B"
    );

    let (status, me) = b.get("/api/me", Some(&other_token)).await;
    assert_eq!(status, StatusCode::OK, "the student's other token: {me}");
    stop(a, b).await;
}

/// A student submits through A: B's figures count the submission, B refuses their draft and
/// a second submission (409 `already_submitted`) and shows them the submission A took.
async fn a_submission_through_a_is_known_on_b() {
    let Some((a, b)) = two_nodes().await else {
        return;
    };
    let (contest, students) = open_on_b(&a, &b, 2, None).await;
    let id = id_of(&contest);
    let student = &students[0];
    // Nothing submitted yet: B's draft rule takes a draft.
    let draft = json!({ "answers": [] });
    let (status, body) = b
        .put(&draft_path(id), Some(&student.token), Some(draft.clone()))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, receipt) = a.submit(id, &student.token, answers(&[])).await;
    assert_eq!(status, StatusCode::CREATED, "{receipt}");
    let changed = Changed::now();

    wait_for("B counts the submission", changed.left(), || async {
        let figures = warm_figures(&b, id).await.expect("still warm on B");
        (figures["submitted"] == 1).then_some(())
    })
    .await;
    // A draft is only refused by the node's own rule (no unique key behind it).
    let resp = b
        .put(&draft_path(id), Some(&student.token), Some(draft))
        .await;
    assert_error(&resp, StatusCode::CONFLICT, "already_submitted");
    let resp = b.get(&draft_path(id), Some(&student.token)).await;
    assert_error(&resp, StatusCode::NOT_FOUND, "not_found");
    let resp = b.submit(id, &student.token, answers(&[])).await;
    assert_error(&resp, StatusCode::CONFLICT, "already_submitted");
    let (status, own) = b
        .get(
            &format!("/api/contests/{id}/my-submission"),
            Some(&student.token),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{own}");
    assert_eq!(own["id"], receipt["id"], "{own}");
    stop(a, b).await;
}

/// The rows the database holds for the contest: `(student_id, rows)` by student.
async fn rows_per_student(app: &TestApp, contest: i64) -> Vec<(i64, i64)> {
    let mut conn = PgConnection::connect(&app.database_url)
        .await
        .expect("a connection");
    let rows = sqlx::query_as(
        "SELECT student_id, COUNT(*) FROM submissions WHERE contest_id = $1 \
         GROUP BY student_id ORDER BY student_id",
    )
    .bind(contest)
    .fetch_all(&mut conn)
    .await
    .expect("the rows");
    let _ = conn.close().await;
    rows
}

/// 30 students each submit through A and B at the same instant: exactly one 201 each, the
/// other 409 `already_submitted`; the database holds one row per student, the accepted one;
/// both nodes count 30 and refuse any further attempt.
async fn racing_submissions_through_both_nodes_accept_one_per_student() {
    const STUDENTS: usize = 30;
    let Some((a, b)) = two_nodes().await else {
        return;
    };
    let (contest, students) = a.open_contest_with_students(STUDENTS, None).await;
    let id = id_of(&contest);
    warm_on(&a, id, &[&students[0]]).await;
    warm_on(&b, id, &[&students[0]]).await;

    let races = students.iter().map(|s| async {
        futures::join!(
            a.submit(id, &s.token, answers(&[])),
            b.submit(id, &s.token, answers(&[]))
        )
    });
    let outcomes = join_all(races).await;
    let mut accepted = HashSet::new();
    let mut through_b = 0;
    for (student, (on_a, on_b)) in students.iter().zip(&outcomes) {
        let (created, refused) = match (on_a.0, on_b.0) {
            (StatusCode::CREATED, _) => (on_a, on_b),
            (_, StatusCode::CREATED) => {
                through_b += 1;
                (on_b, on_a)
            }
            _ => panic!("{}: no 201: A {on_a:?}, B {on_b:?}", student.username),
        };
        assert_error(refused, StatusCode::CONFLICT, "already_submitted");
        accepted.insert(str_field(&created.1, "id").to_string());
    }
    eprintln!("{through_b} of {STUDENTS} races won through B");

    let rows = rows_per_student(&a, id).await;
    let mut ids: Vec<i64> = students.iter().map(|s| s.id).collect();
    ids.sort_unstable();
    assert_eq!(
        rows,
        ids.iter().map(|&s| (s, 1)).collect::<Vec<_>>(),
        "one row per student"
    );
    let stored: HashSet<String> = a
        .all_submissions(id)
        .await
        .iter()
        .map(|r| str_field(r, "id").to_string())
        .collect();
    assert_eq!(stored, accepted, "the rows are the accepted submissions");

    for node in [&a, &b] {
        wait_for(
            "both nodes count every submission",
            COHERENT_WITHIN,
            || async {
                let figures = warm_figures(node, id).await.expect("warm");
                (figures["submitted"] == STUDENTS).then_some(())
            },
        )
        .await;
        let resp = node.submit(id, &students[0].token, answers(&[])).await;
        assert_error(&resp, StatusCode::CONFLICT, "already_submitted");
    }
    stop(a, b).await;
}

// ---- the listener connection ----

/// `listener.connects` once the listener is up again after `before` connects.
async fn wait_reconnected(node: &TestApp, before: u64) -> u64 {
    wait_for("the listener reconnects", RECONNECT_WITHIN, || async {
        let listener = node.listener().await;
        let connects = listener["connects"].as_u64().expect("listener.connects");
        (connects > before && listener["listening"] == true).then_some(connects)
    })
    .await
}

fn connects(listener: &Value) -> u64 {
    listener["connects"]
        .as_u64()
        .unwrap_or_else(|| panic!("an integer listener.connects: {listener}"))
}

/// Moves the contest's end on A to `end`; returns when A answered.
async fn move_end(a: &TestApp, admin: &str, contest: i64, end: DateTime<Utc>) -> Changed {
    let body = json!({ "end_time": rfc3339(end) });
    let (status, view) = a
        .patch(&contest_path(contest), Some(admin), Some(body))
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    Changed::now()
}

/// B's socket gets `schedule_changed` with `end`, and B's view shows it, within the deadline of
/// `changed`.
async fn b_shows_end(
    b: &TestApp,
    contest: i64,
    token: &str,
    socket: &mut Socket,
    end: DateTime<Utc>,
    changed: Changed,
) {
    // Frames of an earlier change may still come first (applied from the notification, then
    // found again by the reload on reconnect): the one with this end must come in time.
    loop {
        let frame = frame_in_time(socket, "schedule_changed", changed, "B's socket").await;
        if parse_time(&frame["end_time"]) == end {
            break;
        }
    }
    wait_for("B's view has the new end", changed.left(), || async {
        let (status, view) = b.get(&contest_path(contest), Some(token)).await;
        assert_eq!(status, StatusCode::OK, "{view}");
        (parse_time(&view["end_time"]) == end).then_some(())
    })
    .await;
}

/// B's listener connection is terminated by the database. A change A makes right then (most
/// likely before B is listening again) reaches B once it has reconnected, a later one within
/// the usual deadline; `/metrics` counts the connects.
async fn a_killed_listener_reconnects_and_b_catches_up() {
    let Some((a, b)) = two_nodes().await else {
        return;
    };
    let (contest, students) = open_on_b(&a, &b, 1, None).await;
    let id = id_of(&contest);
    let student = &students[0];
    let admin = a.admin_token().await;
    let mut on_b = socket_on(&b, id, &student.token).await;
    let before = connects(&b.listener().await);

    b.kill_listener().await;
    let first_end = now_ms() + TimeDelta::hours(2);
    move_end(&a, &admin, id, first_end).await;
    let after = wait_reconnected(&b, before).await;
    // B reloads what it holds once it listens again.
    b_shows_end(&b, id, &student.token, &mut on_b, first_end, Changed::now()).await;
    let metrics = b.metrics().await;
    assert_eq!(
        metrics.get("contestd_listener_connects_total", &[]),
        after as f64,
        "/metrics and /health agree"
    );
    assert_eq!(metrics.get("contestd_listener_up", &[]), 1.0);

    let second_end = now_ms() + TimeDelta::hours(3);
    let changed = move_end(&a, &admin, id, second_end).await;
    b_shows_end(&b, id, &student.token, &mut on_b, second_end, changed).await;
    stop(a, b).await;
}

/// `GET /health/ready`: the status, the `Retry-After` header and the body.
async fn ready(node: &TestApp) -> (StatusCode, HeaderMap, Value) {
    node.request_with_headers(Method::GET, "/health/ready", None, None)
        .await
}

/// Checks a `503 not_ready` answer with `Retry-After: 1`.
#[track_caller]
fn assert_not_ready(answer: &(StatusCode, HeaderMap, Value)) {
    let (status, headers, body) = answer;
    assert_error(
        &(*status, body.clone()),
        StatusCode::SERVICE_UNAVAILABLE,
        "not_ready",
    );
    assert_eq!(retry_after(headers), Some(1), "Retry-After of {body}");
}

/// B reaches the database through a proxy the test closes: B is not ready. A change A makes
/// meanwhile cannot be notified to B (its listener connection is gone); once the proxy opens
/// again, B reconnects, is ready again, and shows the change (it reloads its warm contests);
/// a token logged out on A meanwhile is refused on B (it forgets what it had cached), and a
/// student unenrolled meanwhile is refused and their socket on B closed, and a submission made
/// through A meanwhile is known on B (its draft rule refuses).
async fn a_change_made_while_b_is_cut_off_reaches_b_once_it_reconnects() {
    let Some(a) = spawn_app(Db::Postgres).await else {
        return;
    };
    let (b, mut proxy) = a.sibling_behind_proxy(&["--health-check-ms", "200"]).await;
    wait_ready(&a).await;
    wait_ready(&b).await;
    let (contest, students) = open_on_b(&a, &b, 2, None).await;
    let id = id_of(&contest);
    let (student, leaver) = (&students[0], &students[1]);
    let admin = a.admin_token().await;
    let mut on_b = socket_on(&b, id, &student.token).await;
    let mut leaver_on_b = socket_on(&b, id, &leaver.token).await;
    // A second token of the student's, cached on B, to be logged out while B is cut off.
    let leaving = a.login(&student.username, STUDENT_PW).await;
    let (status, me) = b.get("/api/me", Some(&leaving)).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    // And a socket on B opened with it: a socket checks its token when it opens, so B must
    // look again at the sockets' tokens when it reconnects.
    let mut leaving_on_b = socket_on(&b, id, &leaving).await;
    let before = connects(&b.listener().await);

    proxy.close().await;
    let answer = wait_for("B is not ready once cut off", RECONNECT_WITHIN, || async {
        let answer = ready(&b).await;
        (answer.0 != StatusCode::OK).then_some(answer)
    })
    .await;
    assert_not_ready(&answer);
    let end = now_ms() + TimeDelta::hours(2);
    move_end(&a, &admin, id, end).await;
    let (status, body) = a.post("/api/auth/logout", Some(&leaving), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let course = contest["course_id"].as_i64().expect("course_id");
    let path = format!("/api/courses/{course}/enrollments/{}", leaver.id);
    let (status, body) = a.delete(&path, Some(&admin)).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, receipt) = a.submit(id, &student.token, answers(&[])).await;
    assert_eq!(status, StatusCode::CREATED, "{receipt}");

    proxy.open().await;
    wait_reconnected(&b, before).await;
    let reconnected = Changed::now();
    b_shows_end(&b, id, &student.token, &mut on_b, end, reconnected).await;
    let resp = wait_for(
        "B refuses the token logged out meanwhile",
        reconnected.left(),
        || async {
            let resp = b.get("/api/me", Some(&leaving)).await;
            (resp.0 == StatusCode::UNAUTHORIZED).then_some(resp)
        },
    )
    .await;
    assert_error(&resp, StatusCode::UNAUTHORIZED, "unauthorized");
    closed(
        &mut leaving_on_b,
        reconnected.read_for(),
        "B's socket of the token logged out meanwhile",
    )
    .await;
    closed(
        &mut leaver_on_b,
        reconnected.read_for(),
        "the unenrolled student's socket on B",
    )
    .await;
    let resp = b.get(&contest_path(id), Some(&leaver.token)).await;
    assert_error(&resp, StatusCode::FORBIDDEN, "not_enrolled");
    wait_for(
        "B counts the submission made meanwhile",
        reconnected.left(),
        || async {
            let figures = warm_figures(&b, id).await.expect("still warm on B");
            (figures["submitted"] == 1).then_some(())
        },
    )
    .await;
    let draft = Some(json!({ "answers": [] }));
    let resp = b.put(&draft_path(id), Some(&student.token), draft).await;
    assert_error(&resp, StatusCode::CONFLICT, "already_submitted");
    let (status, _, body) = wait_for("B is ready again", RECONNECT_WITHIN, || async {
        let answer = ready(&b).await;
        (answer.0 == StatusCode::OK).then_some(answer)
    })
    .await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, json!({ "status": "ready" }))
    );
    b.stop().await;
    a.stop().await;
}

/// Two nodes on one database: each listens on its own connection, under its own node id (a
/// uuid), and each is ready.
async fn each_node_has_its_own_listener() {
    let Some((a, b)) = two_nodes().await else {
        return;
    };
    let ids: Vec<String> = vec![a.node_id().await, b.node_id().await];
    for id in &ids {
        uuid::Uuid::parse_str(id).unwrap_or_else(|e| panic!("{id:?} is not a uuid: {e}"));
    }
    assert_ne!(ids[0], ids[1], "each node has an id of its own");
    let mut conn = PgConnection::connect(&a.database_url)
        .await
        .expect("a connection");
    for id in &ids {
        let name = format!("contestd-listener {id}");
        let n: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = $1")
                .bind(&name)
                .fetch_one(&mut conn)
                .await
                .expect("pg_stat_activity");
        assert_eq!(n, 1, "one connection named {name:?}");
    }
    let _ = conn.close().await;
    for node in [&a, &b] {
        let (status, _, body) = ready(node).await;
        assert_eq!(
            (status, body),
            (StatusCode::OK, json!({ "status": "ready" }))
        );
    }
    stop(a, b).await;
}

// ---- readiness ----

/// `/health` has `ready: true` and a `listener`: `null` on SQLite, listening on PostgreSQL;
/// `/health/ready` is 200; `/metrics` has `contestd_ready 1`, and on PostgreSQL
/// `contestd_listener_up 1` and the connects (`contestd_listener_up` only there).
async fn health_reports_the_listener_and_readiness(app: &TestApp) {
    wait_ready(app).await;
    let health = app.health().await;
    assert_eq!(health["ready"], true, "{health}");
    let listener = health
        .get("listener")
        .unwrap_or_else(|| panic!("a listener in {health}"));
    let metrics = app.metrics().await;
    assert_eq!(metrics.get("contestd_ready", &[]), 1.0);
    match app.db {
        Db::Sqlite => {
            assert_eq!(*listener, Value::Null, "{health}");
            assert_eq!(metrics.find("contestd_listener_up", &[]), None);
        }
        Db::Postgres => {
            assert_keys(
                listener,
                &["listening", "node", "connects", "received", "applied"],
            );
            assert_eq!(listener["listening"], true, "{health}");
            assert!(connects(listener) >= 1, "{health}");
            for key in ["received", "applied"] {
                assert!(listener[key].is_u64(), "an integer {key}: {health}");
            }
            assert_eq!(metrics.get("contestd_listener_up", &[]), 1.0);
            assert_eq!(
                metrics.get("contestd_listener_connects_total", &[]),
                connects(listener) as f64
            );
        }
    }
    let (status, _, body) = ready(app).await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, json!({ "status": "ready" }))
    );
}

/// Started with `--drain-secs 3`, a node on SIGTERM at once answers `/health/ready` with 503
/// `not_ready` (`Retry-After: 1`) and `ready: false` in `/health`, while it goes on answering
/// `/health` and the API for the drain; then it exits 0.
async fn ready_is_503_while_draining(db: Db) {
    let Some(app) = spawn_binary(db, &["--drain-secs", "3"]).await else {
        return;
    };
    let token = app.admin_token().await;
    wait_ready(&app).await;
    let (status, _, body) = ready(&app).await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, json!({ "status": "ready" }))
    );

    app.signal("TERM");
    let signalled = Instant::now();
    let answer = wait_for(
        "not ready after SIGTERM",
        Duration::from_secs(1),
        || async {
            let answer = ready(&app).await;
            (answer.0 != StatusCode::OK).then_some(answer)
        },
    )
    .await;
    assert_not_ready(&answer);
    // Draining: the node is out of rotation but still serves, for most of the 3 s.
    while signalled.elapsed() < Duration::from_secs(2) {
        let (status, health) = app.get("/health", None).await;
        assert_eq!(status, StatusCode::OK, "{health}");
        assert_eq!(health["ready"], false, "{health}");
        let (status, me) = app.get("/api/me", Some(&token)).await;
        assert_eq!(status, StatusCode::OK, "{me}");
        assert_not_ready(&ready(&app).await);
        actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    }
    let status = app.wait_exit(Duration::from_secs(15)).await;
    assert!(status.success(), "exit status {status}:\n{}", app.logs());
    assert!(
        signalled.elapsed() >= Duration::from_millis(2900),
        "exited {:?} after SIGTERM, before the drain was over",
        signalled.elapsed()
    );
}

// ---- SQLite: one process per database file ----

/// A second `contestd serve` on the SQLite file of a running one exits at once with status 1
/// and says why ("another contestd"); the first one goes on serving, reads and writes.
async fn a_second_process_on_the_same_sqlite_file_is_refused() {
    let first = spawn_binary(Db::Sqlite, &[]).await.expect("SQLite");
    let (status, logs) = first.sibling_binary_exit(&[], Duration::from_secs(5)).await;
    assert_eq!(status.code(), Some(1), "exit status {status}:\n{logs}");
    assert!(
        logs.contains("another contestd"),
        "the error says why:\n{logs}"
    );

    first.health().await;
    let course = first.create_course().await;
    let (start, end) = closed_window();
    let contest = first.create_contest(course, start, end, None).await;
    let admin = first.admin_token().await;
    let (status, view) = first
        .get(&contest_path(id_of(&contest)), Some(&admin))
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
}

/// The SQLite lock is the running process's: once it is killed (SIGKILL, nothing cleaned up)
/// or has stopped on SIGTERM, a new process starts on the same file.
async fn the_sqlite_lock_goes_with_its_holder() {
    let first = spawn_binary(Db::Sqlite, &[]).await.expect("SQLite");
    first.kill();
    let second = first.sibling_binary(&[]).await;
    second.health().await;
    second.signal("TERM");
    let status = second.wait_exit(Duration::from_secs(15)).await;
    assert!(status.success(), "exit status {status}");
    let third = first.sibling_binary(&[]).await;
    third.health().await;
    third.admin_token().await;
}

/// Both nodes hold the contest. Each student saves a draft through B, then a later one through
/// A shortly before the deadline, and never submits: within 2 s of the deadline each has
/// exactly one submission, automatic, of the later draft, whichever node made it (B must not
/// submit the older copy it held).
async fn the_last_draft_saved_through_either_node_is_the_one_submitted() {
    const STUDENTS: usize = 4;
    let Some((a, b)) = two_nodes().await else {
        return;
    };
    let (course, students) = course_with_students(&a, STUDENTS).await;
    let end = Utc::now() + TimeDelta::seconds(4);
    let mut body = contest_body(course, end - TimeDelta::hours(1), end);
    body["results"] = json!("immediate");
    let contest = a.create_contest_from(body).await;
    let id = id_of(&contest);
    let q = question_ids(&contest);
    let all: Vec<&Student> = students.iter().collect();
    // B first: its deadline checks tick just ahead of A's, so B, holding the older drafts
    // unless A's saves reached it, is the one that submits.
    warm_on(&b, id, &all).await;
    warm_on(&a, id, &all).await;
    let (older, later) = (answers(&[(q[0], 0)]), answers(&[(q[0], 1), (q[1], 0)]));
    let save = |node: &'static str, student: &Student, sent: &Value| {
        let node = if node == "a" { &a } else { &b };
        let body = Some(json!({ "answers": sent }));
        let token = student.token.clone();
        async move {
            let (status, saved) = node.put(&draft_path(id), Some(&token), body).await;
            assert_eq!(status, StatusCode::OK, "{saved}");
        }
    };
    join_all(students.iter().map(|s| save("b", s, &older))).await;
    sleep_until(end - TimeDelta::milliseconds(400)).await;
    join_all(students.iter().map(|s| save("a", s, &later))).await;
    assert_before(end, "the later saves");

    for student in &students {
        let own = wait_for_auto_submission(&a, id, student, end, end + AUTO_WITHIN).await;
        assert_eq!(
            sorted(&own["answers"]),
            sorted(&later),
            "{}: the later draft, saved through A",
            student.username
        );
        let on_b = own_submission(&b, id, &student.token).await;
        assert_eq!(
            on_b.map(|row| row["id"].clone()),
            Some(own["id"].clone()),
            "B reads the same submission"
        );
    }
    let mut conn = PgConnection::connect(&a.database_url)
        .await
        .expect("a connection");
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM submissions WHERE contest_id = $1")
        .bind(id)
        .fetch_one(&mut conn)
        .await
        .expect("counted");
    assert_eq!(rows, STUDENTS as i64, "one submission per student");
    let _ = conn.close().await;
    stop(a, b).await;
}
