//! Per-student time (API.md, "Per-student time"): `duration_minutes`, which starts a student's
//! window at their first `GET /api/contests/{id}` (and only there), and accommodations
//! (`PUT`/`DELETE`/`GET /api/contests/{id}/accommodations…`), which give one enrolled student a
//! window of their own. For that student, and only for them, everything follows it: the status
//! and times of both contest reads, `my_window`, the submission and draft rules (with the grace),
//! their WebSocket frames (`schedule_changed`, `state`, `started`, `ended`) and the
//! auto-submission of their draft.
//!
//! The tests that wait for a personal edge set it a few seconds ahead themselves and sleep until
//! that instant; everything the server does after it is polled with a deadline. The end of a
//! duration is a minute away at least, so the test of it records the student's first open 57 s
//! in the past directly in the database, as a node that served that open would have left it,
//! before any request loads the contest.

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use futures::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sqlx::{Connection, PgConnection, SqliteConnection};
use tokio_tungstenite::tungstenite::Message;

use crate::support::{
    answers, assert_before, assert_error, assert_keys, closed_window, contest_body,
    course_with_students, draft_path, hours, id_of, now_ms, open_window, own_submission,
    parse_time, question_ids, rfc3339, sleep_until, sorted, spawn_binary, until, upcoming_window,
    wait_for_auto_submission, Db, Resp, Student, TestApp, AUTO_WITHIN, POLL_SLACK,
};
use crate::ws::{connect, next_frame, Socket};

both_databases!(
    duration_minutes_is_validated_and_shown,
    duration_starts_at_the_first_open_only,
    duration_is_cut_by_the_contest_end,
    opening_an_upcoming_contest_does_not_start_it,
    accommodation_fields_are_validated,
    accommodation_targets_are_checked,
    accommodations_are_replaced_listed_and_deleted,
    accommodation_answer_shows_the_duration_window,
    extra_minutes_reopen_an_ended_contest_for_one_student,
    a_personal_window_keeps_one_student_waiting_or_shuts_them_out,
    the_leaderboard_waits_for_the_student_s_own_end,
    schedule_changed_reaches_only_that_student,
    personal_edges_send_started_and_ended,
    a_personal_start_moved_into_the_past_sends_started,
    a_personal_end_moved_into_the_past_sends_ended,
    a_personal_end_submits_that_student_s_draft_alone,
    grace_follows_the_personal_end,
    a_duration_end_submits_the_draft,
    an_accommodation_end_caps_a_started_duration;
    with_db: the_start_survives_kill_9_and_a_restart
);

/// The keys of an accommodation (the `PUT` answer and each entry of the list).
const SHOWN: &[&str] = &[
    "contest_id",
    "student_id",
    "extra_minutes",
    "start_time",
    "end_time",
];

const MY_WINDOW: &[&str] = &["start_time", "end_time", "started_at"];

/// The keys of a timer frame (`state`, `started`, `ended`, `schedule_changed`).
const TIMER_FRAME: &[&str] = &[
    "type",
    "contest_id",
    "status",
    "server_time",
    "start_time",
    "end_time",
    "remaining_ms",
];

/// API.md: a change of a student's terms reaches their sockets within 1 s.
const CHANGE_WITHIN: Duration = Duration::from_secs(1);

/// API.md: `started` and `ended` within 1 s of the edge. A student's own edges are noticed on
/// the timer's tick (every second), whose interval drifts by the time a tick takes: 100 ms
/// allowed for that.
const EDGE_WITHIN: TimeDelta = TimeDelta::milliseconds(1100);

// ---- requests ----

fn contest_path(contest: i64) -> String {
    format!("/api/contests/{contest}")
}

fn accommodation_path(contest: i64, student: i64) -> String {
    format!("/api/contests/{contest}/accommodations/{student}")
}

fn accommodations_path(contest: i64) -> String {
    format!("/api/contests/{contest}/accommodations")
}

async fn put_accommodation(
    app: &TestApp,
    admin: &str,
    contest: i64,
    student: i64,
    body: Value,
) -> Resp {
    app.put(
        &accommodation_path(contest, student),
        Some(admin),
        Some(body),
    )
    .await
}

/// Puts an accommodation and checks the `200`: its keys, ids and `extra_minutes` (0 when left
/// out). Returns the answer.
async fn accommodate(app: &TestApp, admin: &str, contest: i64, student: i64, body: Value) -> Value {
    let (status, shown) = put_accommodation(app, admin, contest, student, body.clone()).await;
    assert_eq!(status, StatusCode::OK, "PUT {body}: {shown}");
    assert_keys(&shown, SHOWN);
    assert_eq!(shown["contest_id"], contest, "{shown}");
    assert_eq!(shown["student_id"], student, "{shown}");
    let extra = body.get("extra_minutes").cloned().unwrap_or(json!(0));
    assert_eq!(shown["extra_minutes"], extra, "PUT {body}: {shown}");
    shown
}

async fn delete_accommodation(app: &TestApp, admin: &str, contest: i64, student: i64) {
    let (status, body) = app
        .delete(&accommodation_path(contest, student), Some(admin))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "DELETE: {body}");
    assert_eq!(body, Value::Null, "an empty 204");
}

/// `GET /api/contests/{id}/accommodations`, which must answer `200`.
async fn accommodations(app: &TestApp, admin: &str, contest: i64) -> Vec<Value> {
    let (status, body) = app.get(&accommodations_path(contest), Some(admin)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_keys(&body, &["accommodations"]);
    body["accommodations"]
        .as_array()
        .unwrap_or_else(|| panic!("an array in {body}"))
        .clone()
}

/// `GET /api/contests/{id}` as `token`, which must answer `200`.
async fn contest_view(app: &TestApp, contest: i64, token: &str) -> Value {
    let (status, view) = app.get(&contest_path(contest), Some(token)).await;
    assert_eq!(status, StatusCode::OK, "GET contest: {view}");
    view
}

/// The contest's entry in `GET /api/contests` as `token` sees it.
async fn listed(app: &TestApp, contest: i64, token: &str) -> Value {
    let (status, body) = app.get("/api/contests", Some(token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["contests"]
        .as_array()
        .unwrap_or_else(|| panic!("contests in {body}"))
        .iter()
        .find(|c| c["id"] == contest)
        .unwrap_or_else(|| panic!("contest {contest} listed in {body}"))
        .clone()
}

async fn put_draft(app: &TestApp, contest: i64, token: &str, sent: &Value) -> Resp {
    let body = json!({ "answers": sent });
    app.put(&draft_path(contest), Some(token), Some(body)).await
}

/// Saves a draft, which must answer `200`.
async fn save_draft(app: &TestApp, contest: i64, student: &Student, sent: &Value) {
    let (status, body) = put_draft(app, contest, &student.token, sent).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "{}'s draft: {body}",
        student.username
    );
}

// ---- set-up ----

/// Creates a contest of `contest_body`'s two questions with the given `duration_minutes`
/// (left out for `None`); returns its id.
async fn create(
    app: &TestApp,
    course: i64,
    (start, end): (DateTime<Utc>, DateTime<Utc>),
    duration: Option<i64>,
) -> i64 {
    let mut body = contest_body(course, start, end);
    if let Some(minutes) = duration {
        body["duration_minutes"] = json!(minutes);
    }
    let contest = app.create_contest_from(body).await;
    assert_eq!(
        contest["duration_minutes"],
        json!(duration),
        "the admin view: {contest}"
    );
    id_of(&contest)
}

/// Whether the contest is warm (listed by `/health`); asking does not load it.
async fn is_warm(app: &TestApp, contest: i64) -> bool {
    let health = app.health().await;
    health["actors"]["contests"]
        .as_array()
        .unwrap_or_else(|| panic!("actors.contests in {health}"))
        .iter()
        .any(|c| c["contest_id"] == contest)
}

/// Records, over a connection of the test's own, that `student` first opened the contest at
/// `at`: the row the server writes at a first open.
async fn record_start(app: &TestApp, contest: i64, student: i64, at: DateTime<Utc>) {
    let sql = "INSERT INTO contest_starts (contest_id, student_id, started_at) VALUES ($1, $2, $3)";
    let url = &app.database_url;
    match app.db {
        Db::Postgres => {
            let mut conn = PgConnection::connect(url).await.expect("a connection");
            sqlx::query(sql)
                .bind(contest)
                .bind(student)
                .bind(at)
                .execute(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
            let _ = conn.close().await;
        }
        Db::Sqlite => {
            let mut conn = SqliteConnection::connect(url).await.expect("a connection");
            sqlx::query(sql)
                .bind(contest)
                .bind(student)
                .bind(at)
                .execute(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
            let _ = conn.close().await;
        }
    }
}

// ---- checks ----

/// Asserts `v`'s `start_time` and `end_time`.
#[track_caller]
fn assert_times(v: &Value, start: DateTime<Utc>, end: DateTime<Utc>, what: &str) {
    assert_eq!(
        (parse_time(&v["start_time"]), parse_time(&v["end_time"])),
        (start, end),
        "{what}: expected {} to {}, got {v}",
        rfc3339(start),
        rfc3339(end)
    );
}

/// Asserts a student's view of the contest: its status and times, and `my_window` (absent for
/// `None`, else with these times and this `started_at`, `Some(None)` for `null`).
#[track_caller]
fn assert_view(
    view: &Value,
    status: &str,
    (start, end): (DateTime<Utc>, DateTime<Utc>),
    my_window: Option<Option<DateTime<Utc>>>,
    what: &str,
) {
    assert_eq!(view["status"], status, "{what}: {view}");
    assert_times(view, start, end, what);
    match my_window {
        None => assert!(
            view.get("my_window").is_none(),
            "{what}: no my_window expected: {view}"
        ),
        Some(started_at) => {
            let mine = &view["my_window"];
            assert_keys(mine, MY_WINDOW);
            assert_times(mine, start, end, &format!("{what}, my_window"));
            let shown = (!mine["started_at"].is_null()).then(|| parse_time(&mine["started_at"]));
            assert_eq!(shown, started_at, "{what}: my_window.started_at in {view}");
        }
    }
}

/// `my_window.started_at` of a view, which must be set.
#[track_caller]
fn started_at(view: &Value) -> DateTime<Utc> {
    assert!(
        view["my_window"].is_object(),
        "a my_window after the first open: {view}"
    );
    parse_time(&view["my_window"]["started_at"])
}

/// Asserts a listing entry's status and times.
#[track_caller]
fn assert_listed(
    entry: &Value,
    status: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    what: &str,
) {
    assert_eq!(entry["status"], status, "{what}: {entry}");
    assert_times(entry, start, end, what);
}

/// Asserts a timer frame of `kind` with these times and status; `remaining_ms` counts to the
/// start while upcoming, to the end while open, and is 0 once closed.
#[track_caller]
fn assert_frame(
    frame: &Value,
    kind: &str,
    contest: i64,
    status: &str,
    (start, end): (DateTime<Utc>, DateTime<Utc>),
) {
    assert_keys(frame, TIMER_FRAME);
    assert_eq!(frame["type"], kind, "{frame}");
    assert_eq!(frame["contest_id"], contest, "{frame}");
    assert_eq!(frame["status"], status, "{frame}");
    assert_times(frame, start, end, kind);
    let at = parse_time(&frame["server_time"]);
    let expected = match status {
        "upcoming" => (start - at).num_milliseconds(),
        "open" => (end - at).num_milliseconds(),
        _ => 0,
    };
    let remaining = frame["remaining_ms"]
        .as_i64()
        .unwrap_or_else(|| panic!("an integer remaining_ms in {frame}"));
    assert!(
        (remaining - expected).abs() <= 1,
        "remaining_ms {remaining}, expected {expected}: {frame}"
    );
}

/// Asserts a `started` or `ended` frame came at `edge` or after, within `EDGE_WITHIN` of it
/// (by its own `server_time` and by when it arrived).
#[track_caller]
fn assert_on_time(frame: &Value, edge: DateTime<Utc>) {
    let at = parse_time(&frame["server_time"]);
    let late = at - edge;
    assert!(
        late >= TimeDelta::zero() && late <= EDGE_WITHIN,
        "{} {late} after the edge {}: {frame}",
        frame["type"],
        rfc3339(edge)
    );
    let arrived = Utc::now() - edge;
    assert!(
        arrived <= EDGE_WITHIN + POLL_SLACK,
        "{} arrived {arrived} after the edge: {frame}",
        frame["type"]
    );
}

/// A contest on `window` (without a duration) watched by two enrolled students, A and B,
/// whose sockets have had their first `state` (`status`).
struct Watched {
    id: i64,
    students: Vec<Student>,
    admin: String,
    a_socket: Socket,
    b_socket: Socket,
}

async fn watched_by_two(
    app: &TestApp,
    window: (DateTime<Utc>, DateTime<Utc>),
    status: &str,
) -> Watched {
    let (course, students) = course_with_students(app, 2).await;
    let admin = app.admin_token().await;
    let id = create(app, course, window, None).await;
    let mut a_socket = connect(app, id, &students[0].token).await;
    first_state(&mut a_socket, id, status, window).await;
    let mut b_socket = connect(app, id, &students[1].token).await;
    first_state(&mut b_socket, id, status, window).await;
    Watched {
        id,
        students,
        admin,
        a_socket,
        b_socket,
    }
}

/// The first frame of a fresh socket: a `state` on these times.
async fn first_state(
    socket: &mut Socket,
    contest: i64,
    status: &str,
    window: (DateTime<Utc>, DateTime<Utc>),
) {
    let first = next_frame(socket, Duration::from_secs(2)).await;
    assert_frame(&first, "state", contest, status, window);
}

/// The next JSON text frame within `within`, or `None` when none comes.
async fn try_next_frame(socket: &mut Socket, within: Duration) -> Option<Value> {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let message = tokio::time::timeout(left, socket.next())
            .await
            .ok()?
            .expect("the socket is open")
            .expect("a frame");
        if let Message::Text(text) = message {
            return Some(serde_json::from_str(&text).expect("a JSON frame"));
        }
    }
}

/// Reads `socket` until a frame `wanted` accepts, within `within`; returns it. Fails showing
/// the frames read when none comes.
async fn frame_where(
    socket: &mut Socket,
    within: Duration,
    what: &str,
    wanted: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + within;
    let mut read = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let Some(frame) = try_next_frame(socket, left).await else {
            panic!("no {what} within {within:?}; read instead: {read:#?}");
        };
        if wanted(&frame) {
            return frame;
        }
        read.push(frame);
    }
}

/// Reads `socket` until a frame of type `kind`, within `within`.
async fn frame_of(socket: &mut Socket, kind: &str, within: Duration) -> Value {
    let what = format!("{kind} frame");
    frame_where(socket, within, &what, |f| f["type"] == kind).await
}

/// Reads `socket` until `ticks` `state` frames stamped after `after` have come; returns every
/// frame read, in order (so also everything queued before them).
async fn frames_through_ticks(
    socket: &mut Socket,
    after: DateTime<Utc>,
    ticks: usize,
) -> Vec<Value> {
    let within = until(after) + Duration::from_millis(1500) * ticks as u32 + Duration::from_secs(1);
    let deadline = Instant::now() + within;
    let mut frames = Vec::new();
    let mut seen = 0;
    while seen < ticks {
        let left = deadline.saturating_duration_since(Instant::now());
        let Some(frame) = try_next_frame(socket, left).await else {
            panic!(
                "{ticks} state frames after {} not within {within:?}; read: {frames:#?}",
                rfc3339(after)
            );
        };
        if frame["type"] == "state" && parse_time(&frame["server_time"]) > after {
            seen += 1;
        }
        frames.push(frame);
    }
    frames
}

/// Asserts every frame is a `state` on these times (no `schedule_changed`, `started` or
/// `ended`).
#[track_caller]
fn assert_only_states(
    frames: &[Value],
    status: &str,
    (start, end): (DateTime<Utc>, DateTime<Utc>),
    whose: &str,
) {
    for frame in frames {
        assert_eq!(
            frame["type"], "state",
            "{whose}: only state frames expected, got {frame}\nall: {frames:?}"
        );
        assert_eq!(frame["status"], status, "{whose}: {frame}");
        assert_times(frame, start, end, whose);
    }
}

/// Polls for the student's auto-submission (see `support::wait_for_auto_submission`) and checks
/// it was made from `drafted`.
async fn auto_submitted_from(
    app: &TestApp,
    contest: i64,
    student: &Student,
    drafted: &Value,
    not_before: DateTime<Utc>,
    by: DateTime<Utc>,
) -> Value {
    let own = wait_for_auto_submission(app, contest, student, not_before, by).await;
    assert_eq!(
        sorted(&own["answers"]),
        sorted(drafted),
        "the draft's answers: {own}"
    );
    own
}

/// Asserts the student has no submission and still has exactly this draft.
async fn assert_still_drafting(app: &TestApp, contest: i64, student: &Student, drafted: &Value) {
    assert_eq!(
        own_submission(app, contest, &student.token).await,
        None,
        "{}: not submitted",
        student.username
    );
    let (status, draft) = app.get(&draft_path(contest), Some(&student.token)).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "{}'s draft: {draft}",
        student.username
    );
    assert_eq!(
        sorted(&draft["answers"]),
        sorted(drafted),
        "{}'s draft: {draft}",
        student.username
    );
}

// ---- duration_minutes ----

async fn duration_minutes_is_validated_and_shown(app: &TestApp) {
    let course = app.create_course().await;
    let admin = app.admin_token().await;
    let (start, end) = open_window();

    let plain = app.create_contest(course, start, end, None).await;
    assert!(
        plain.get("duration_minutes").is_some_and(Value::is_null),
        "null when absent: {plain}"
    );
    for minutes in [1, 90, 1440] {
        let id = create(app, course, (start, end), Some(minutes)).await;
        let read = contest_view(app, id, &admin).await;
        assert_eq!(read["duration_minutes"], minutes, "the admin view: {read}");
    }
    let bad = [
        json!(0),
        json!(-1),
        json!(1441),
        json!(1.5),
        json!("30"),
        json!(i64::MAX),
    ];
    for minutes in &bad {
        let mut body = contest_body(course, start, end);
        body["duration_minutes"] = minutes.clone();
        let resp = app.post("/api/contests", Some(&admin), Some(body)).await;
        let message = assert_error(&resp, StatusCode::BAD_REQUEST, "bad_request");
        assert!(
            message.contains("duration_minutes"),
            "duration_minutes {minutes}: {message}"
        );
    }

    let path = contest_path(id_of(&plain));
    let (status, view) = app
        .patch(&path, Some(&admin), Some(json!({ "duration_minutes": 45 })))
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["duration_minutes"], 45, "{view}");
    for minutes in &bad {
        let body = json!({ "duration_minutes": minutes });
        let resp = app.patch(&path, Some(&admin), Some(body)).await;
        let message = assert_error(&resp, StatusCode::BAD_REQUEST, "bad_request");
        assert!(
            message.contains("duration_minutes"),
            "duration_minutes {minutes}: {message}"
        );
    }
    let read = contest_view(app, id_of(&plain), &admin).await;
    assert_eq!(
        read["duration_minutes"], 45,
        "refused changes change nothing: {read}"
    );
}

/// The list, the WebSocket, the announcements and the leaderboard do not start a student's
/// duration; their first `GET /api/contests/{id}` does (`started_at` ≈ then, the end 30 minutes
/// later, their socket told at once), a second one does not move it, and another student's
/// window is the contest's until they open it themselves.
async fn duration_starts_at_the_first_open_only(app: &TestApp) {
    let (course, students) = course_with_students(app, 2).await;
    let [a, b] = [&students[0], &students[1]];
    let admin = app.admin_token().await;
    let contest = open_window();
    let (start, end) = contest;
    let id = create(app, course, contest, Some(30)).await;

    let mut a_socket = connect(app, id, &a.token).await;
    first_state(&mut a_socket, id, "open", contest).await;
    let mut b_socket = connect(app, id, &b.token).await;
    first_state(&mut b_socket, id, "open", contest).await;
    assert_listed(
        &listed(app, id, &a.token).await,
        "open",
        start,
        end,
        "A's list",
    );
    let path = format!("/api/contests/{id}/announcements");
    let (status, body) = app.get(&path, Some(&a.token)).await;
    assert_eq!(status, StatusCode::OK, "announcements: {body}");
    let path = format!("/api/contests/{id}/leaderboard");
    let resp = app.get(&path, Some(&a.token)).await;
    assert_error(&resp, StatusCode::FORBIDDEN, "forbidden");
    assert_listed(
        &listed(app, id, &a.token).await,
        "open",
        start,
        end,
        "A's list, again",
    );

    let before = now_ms();
    let view = contest_view(app, id, &a.token).await;
    let after = now_ms();
    let a_started = started_at(&view);
    assert!(
        before <= a_started && a_started <= after,
        "started_at {} is the first open's time, between {} and {}",
        rfc3339(a_started),
        rfc3339(before),
        rfc3339(after)
    );
    let a_end = a_started + TimeDelta::minutes(30);
    let mine = (start, a_end);
    assert_view(&view, "open", mine, Some(Some(a_started)), "A's first open");
    assert_eq!(question_ids(&view).len(), 2, "{view}");

    // A's socket hears of the new end at once, and its ticks carry it from then on.
    let told = frame_where(
        &mut a_socket,
        CHANGE_WITHIN,
        "a state frame with A's end",
        |f| f["type"] == "state" && parse_time(&f["end_time"]) == a_end,
    )
    .await;
    assert_frame(&told, "state", id, "open", mine);
    for _ in 0..2 {
        let frame = frame_of(&mut a_socket, "state", Duration::from_millis(1500)).await;
        assert_frame(&frame, "state", id, "open", mine);
    }
    // B's socket: the contest's times, nothing else.
    let frames = frames_through_ticks(&mut b_socket, after, 2).await;
    assert_only_states(&frames, "open", contest, "B's socket");

    assert_listed(
        &listed(app, id, &a.token).await,
        "open",
        start,
        a_end,
        "A's list",
    );
    assert_listed(
        &listed(app, id, &b.token).await,
        "open",
        start,
        end,
        "B's list",
    );
    assert_listed(
        &listed(app, id, &admin).await,
        "open",
        start,
        end,
        "the admin's list",
    );
    let admin_view = contest_view(app, id, &admin).await;
    assert_times(&admin_view, start, end, "the admin view");
    assert!(admin_view.get("my_window").is_none(), "{admin_view}");

    // A later open does not move it.
    sleep_until(after + TimeDelta::milliseconds(5)).await;
    let again = contest_view(app, id, &a.token).await;
    assert_view(
        &again,
        "open",
        mine,
        Some(Some(a_started)),
        "A's second open",
    );

    // B's own first open starts B's window, and only B's.
    let before = now_ms();
    let b_view = contest_view(app, id, &b.token).await;
    let b_started = started_at(&b_view);
    assert!(before <= b_started && b_started <= now_ms(), "{b_view}");
    let b_end = b_started + TimeDelta::minutes(30);
    assert_view(
        &b_view,
        "open",
        (start, b_end),
        Some(Some(b_started)),
        "B's first open",
    );
    let again = contest_view(app, id, &a.token).await;
    assert_view(
        &again,
        "open",
        mine,
        Some(Some(a_started)),
        "A, after B's open",
    );
}

/// A duration that would outlast the contest stops at the contest's end; `my_window` shows the
/// start all the same.
async fn duration_is_cut_by_the_contest_end(app: &TestApp) {
    let (course, students) = course_with_students(app, 1).await;
    let me = &students[0];
    let now = now_ms();
    let contest = (now - hours(1), now + TimeDelta::minutes(10));
    let id = create(app, course, contest, Some(30)).await;

    let before = now_ms();
    let view = contest_view(app, id, &me.token).await;
    let started = started_at(&view);
    assert!(before <= started && started <= now_ms(), "{view}");
    assert_view(
        &view,
        "open",
        contest,
        Some(Some(started)),
        "the first open",
    );
    let entry = listed(app, id, &me.token).await;
    assert_listed(&entry, "open", contest.0, contest.1, "the list");
}

/// An open while the contest is upcoming starts nothing: the first open after the start does.
async fn opening_an_upcoming_contest_does_not_start_it(app: &TestApp) {
    let (course, students) = course_with_students(app, 1).await;
    let me = &students[0];
    let start = now_ms() + TimeDelta::seconds(2);
    let contest = (start, start + hours(1));
    let id = create(app, course, contest, Some(30)).await;

    let view = contest_view(app, id, &me.token).await;
    assert_view(&view, "upcoming", contest, None, "opened while upcoming");
    assert_eq!(view["questions"], json!([]), "{view}");
    let view = contest_view(app, id, &me.token).await;
    assert_view(&view, "upcoming", contest, None, "opened again");
    assert_before(start, "the opens while upcoming");

    // A little past the start, so the server's clock is past it too.
    sleep_until(start + TimeDelta::milliseconds(50)).await;
    let before = now_ms();
    let view = contest_view(app, id, &me.token).await;
    let started = started_at(&view);
    assert!(
        before <= started && started <= now_ms(),
        "started at the first open after the start ({}), not before: {view}",
        rfc3339(before)
    );
    let mine = (start, started + TimeDelta::minutes(30));
    assert_view(
        &view,
        "open",
        mine,
        Some(Some(started)),
        "the first open after the start",
    );
    assert_eq!(question_ids(&view).len(), 2, "{view}");
}

/// The built binary, killed with SIGKILL right after a student's first open and started again:
/// the start is the one recorded, in the view, the list and the socket's first frame.
async fn the_start_survives_kill_9_and_a_restart(db: Db) {
    let Some(first) = spawn_binary(db, &[]).await else {
        return;
    };
    let (course, students) = course_with_students(&first, 1).await;
    let me = &students[0];
    let contest = open_window();
    let id = create(&first, course, contest, Some(30)).await;
    let view = contest_view(&first, id, &me.token).await;
    let started = started_at(&view);
    let mine = (contest.0, started + TimeDelta::minutes(30));
    assert_view(&view, "open", mine, Some(Some(started)), "the first open");
    first.kill();

    let second = first.sibling_binary(&[]).await;
    let mut socket = connect(&second, id, &me.token).await;
    first_state(&mut socket, id, "open", mine).await;
    let view = contest_view(&second, id, &me.token).await;
    assert_view(
        &view,
        "open",
        mine,
        Some(Some(started)),
        "after the restart",
    );
    let entry = listed(&second, id, &me.token).await;
    assert_listed(&entry, "open", mine.0, mine.1, "the list after the restart");
    second.stop().await;
}

// ---- the accommodations API ----

async fn accommodation_fields_are_validated(app: &TestApp) {
    let (course, students) = course_with_students(app, 1).await;
    let me = &students[0];
    let admin = app.admin_token().await;
    let contest = open_window();
    let (start, end) = contest;
    let id = create(app, course, contest, None).await;

    let t = |d: DateTime<Utc>| json!(rfc3339(d));
    let named: Vec<(Value, &str)> = vec![
        (json!({ "extra_minutes": -1 }), "extra_minutes"),
        (json!({ "extra_minutes": 10081 }), "extra_minutes"),
        (json!({ "extra_minutes": 1.5 }), "extra_minutes"),
        (json!({ "extra_minutes": "30" }), "extra_minutes"),
        (json!({ "extra_minutes": i64::MAX }), "extra_minutes"),
        (json!({ "extra_minutes": 5, "bonus": 1 }), "bonus"),
        (json!({ "start_time": "tomorrow" }), "start_time"),
        (json!({ "end_time": 5 }), "end_time"),
    ];
    for (body, field) in &named {
        let resp = put_accommodation(app, &admin, id, me.id, body.clone()).await;
        let message = assert_error(&resp, StatusCode::BAD_REQUEST, "bad_request");
        assert!(
            message.contains(field),
            "{body}: the message names {field}: {message}"
        );
    }
    // Windows that would end before they start (or as they start).
    let empty = [
        json!({ "start_time": t(end + hours(2)), "end_time": t(end + hours(1)) }),
        json!({ "start_time": t(end + hours(1)) }),
        json!({ "end_time": t(start - hours(1)) }),
        json!({ "start_time": t(end), "end_time": t(end) }),
    ];
    for body in &empty {
        let resp = put_accommodation(app, &admin, id, me.id, body.clone()).await;
        let message = assert_error(&resp, StatusCode::BAD_REQUEST, "bad_request");
        assert!(!message.is_empty(), "{body}");
    }
    let path = accommodation_path(id, me.id);
    for raw in ["{", "not json", "[]", "null", r#"{"extra_minutes": 5} 5"#] {
        let resp = app.raw(Method::PUT, &path, Some(&admin), raw).await;
        assert_error(&resp, StatusCode::BAD_REQUEST, "bad_request");
    }
    // None of them was stored.
    assert_eq!(accommodations(app, &admin, id).await, Vec::<Value>::new());
    let view = contest_view(app, id, &me.token).await;
    assert_view(&view, "open", contest, None, "after the refused PUTs");

    // The edges pass; every field is optional.
    let shown = accommodate(app, &admin, id, me.id, json!({ "extra_minutes": 0 })).await;
    assert_times(&shown, start, end, "extra_minutes 0");
    let shown = accommodate(app, &admin, id, me.id, json!({ "extra_minutes": 10080 })).await;
    assert_times(
        &shown,
        start,
        end + TimeDelta::days(7),
        "extra_minutes 10080",
    );
    let shown = accommodate(app, &admin, id, me.id, json!({})).await;
    assert_times(&shown, start, end, "an empty body");
    assert_eq!(accommodations(app, &admin, id).await, vec![shown]);
}

/// 404 for an unknown contest (before the body), an unknown student or a user who is not a
/// student; 400 for a student not (or no longer) enrolled; students 403 and no token 401 on
/// every route (the role before the contest).
async fn accommodation_targets_are_checked(app: &TestApp) {
    let (course, students) = course_with_students(app, 2).await;
    let [me, leaver] = [&students[0], &students[1]];
    let admin = app.admin_token().await;
    let id = create(app, course, open_window(), None).await;
    let (outsider, _, _) = app.student().await;
    let admin_id = app.admin_id().await;
    let body = json!({ "extra_minutes": 10 });
    let unknown = 424_242;

    let resp = put_accommodation(app, &admin, unknown, me.id, body.clone()).await;
    assert_error(&resp, StatusCode::NOT_FOUND, "not_found");
    let resp = put_accommodation(app, &admin, unknown, me.id, json!({ "extra_minutes": -1 })).await;
    assert_error(&resp, StatusCode::NOT_FOUND, "not_found");
    let resp = app
        .raw(
            Method::PUT,
            &accommodation_path(unknown, me.id),
            Some(&admin),
            "{",
        )
        .await;
    assert_error(&resp, StatusCode::NOT_FOUND, "not_found");
    let resp = app
        .delete(&accommodation_path(unknown, me.id), Some(&admin))
        .await;
    assert_error(&resp, StatusCode::NOT_FOUND, "not_found");
    let resp = app.get(&accommodations_path(unknown), Some(&admin)).await;
    assert_error(&resp, StatusCode::NOT_FOUND, "not_found");

    for (student, who) in [(unknown, "an unknown user"), (admin_id, "the admin")] {
        let resp = put_accommodation(app, &admin, id, student, body.clone()).await;
        let (status, answer) = &resp;
        assert_eq!(*status, StatusCode::NOT_FOUND, "{who}: {answer}");
        assert_error(&resp, StatusCode::NOT_FOUND, "not_found");
    }

    let resp = put_accommodation(app, &admin, id, outsider, body.clone()).await;
    assert_error(&resp, StatusCode::BAD_REQUEST, "bad_request");
    let path = format!("/api/courses/{course}/enrollments/{}", leaver.id);
    let (status, answer) = app.delete(&path, Some(&admin)).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{answer}");
    let resp = put_accommodation(app, &admin, id, leaver.id, body.clone()).await;
    assert_error(&resp, StatusCode::BAD_REQUEST, "bad_request");

    for contest in [id, unknown] {
        let put = accommodation_path(contest, me.id);
        let list = accommodations_path(contest);
        for token in [Some(me.token.as_str()), None] {
            let (status, code) = match token {
                Some(_) => (StatusCode::FORBIDDEN, "forbidden"),
                None => (StatusCode::UNAUTHORIZED, "unauthorized"),
            };
            let resp = app.put(&put, token, Some(body.clone())).await;
            assert_error(&resp, status, code);
            let resp = app.delete(&put, token).await;
            assert_error(&resp, status, code);
            let resp = app.get(&list, token).await;
            assert_error(&resp, status, code);
        }
    }

    // Nothing was stored; the enrolled student can be accommodated.
    assert_eq!(accommodations(app, &admin, id).await, Vec::<Value>::new());
    accommodate(app, &admin, id, me.id, body).await;
    assert_eq!(accommodations(app, &admin, id).await.len(), 1);

    // API.md, Conventions: the resource (404) comes before the body (400); the student in the
    // path is the resource here as much as the contest is.
    let resp = put_accommodation(app, &admin, id, unknown, json!({ "extra_minutes": -1 })).await;
    assert_error(&resp, StatusCode::NOT_FOUND, "not_found");
}

/// Each answer shows the student's effective times; a second `PUT` replaces the first (fields
/// left out are gone); the list is sorted by student id and shows what the `PUT`s answered;
/// `DELETE` answers 204 also when there is nothing to delete, and puts the student back on the
/// contest's times.
async fn accommodations_are_replaced_listed_and_deleted(app: &TestApp) {
    let (course, students) = course_with_students(app, 3).await;
    let [a, b, c] = [&students[0], &students[1], &students[2]];
    let admin = app.admin_token().await;
    let contest = open_window();
    let (start, end) = contest;
    let id = create(app, course, contest, None).await;

    let c_first = accommodate(app, &admin, id, c.id, json!({ "extra_minutes": 30 })).await;
    assert_times(
        &c_first,
        start,
        end + TimeDelta::minutes(30),
        "extra minutes",
    );
    let (a_start, a_end) = (start + TimeDelta::minutes(20), end + hours(1));
    let body = json!({
        "start_time": rfc3339(a_start), "end_time": rfc3339(a_end), "extra_minutes": 15,
    });
    let a_shown = accommodate(app, &admin, id, a.id, body).await;
    let a_window = (a_start, a_end + TimeDelta::minutes(15));
    assert_times(
        &a_shown,
        a_window.0,
        a_window.1,
        "personal times and extra minutes",
    );
    assert_eq!(
        accommodations(app, &admin, id).await,
        vec![a_shown.clone(), c_first],
        "sorted by student id"
    );

    // The second PUT replaces the first: its extra minutes are gone.
    let c_end = end - TimeDelta::minutes(10);
    let c_shown = accommodate(app, &admin, id, c.id, json!({ "end_time": rfc3339(c_end) })).await;
    assert_times(&c_shown, start, c_end, "replaced");
    assert_eq!(
        accommodations(app, &admin, id).await,
        vec![a_shown.clone(), c_shown.clone()]
    );

    let view = contest_view(app, id, &a.token).await;
    assert_view(&view, "open", a_window, Some(None), "A");
    let view = contest_view(app, id, &b.token).await;
    assert_view(&view, "open", contest, None, "B, without terms");
    let view = contest_view(app, id, &c.token).await;
    assert_view(&view, "open", (start, c_end), Some(None), "C");

    delete_accommodation(app, &admin, id, a.id).await;
    delete_accommodation(app, &admin, id, a.id).await;
    delete_accommodation(app, &admin, id, b.id).await;
    assert_eq!(accommodations(app, &admin, id).await, vec![c_shown]);
    let view = contest_view(app, id, &a.token).await;
    assert_view(&view, "open", contest, None, "A, after the DELETE");
    assert_listed(
        &listed(app, id, &a.token).await,
        "open",
        start,
        end,
        "A's list",
    );
    assert_listed(
        &listed(app, id, &c.token).await,
        "open",
        start,
        c_end,
        "C's list",
    );
}

/// On a contest with a duration the answer shows the window the student has now: the
/// contest's until they open it, then their start plus the duration and the extra minutes,
/// capped by a personal end.
async fn accommodation_answer_shows_the_duration_window(app: &TestApp) {
    let (course, students) = course_with_students(app, 1).await;
    let me = &students[0];
    let admin = app.admin_token().await;
    let contest = open_window();
    let (start, end) = contest;
    let id = create(app, course, contest, Some(30)).await;
    let extra = json!({ "extra_minutes": 10 });

    let shown = accommodate(app, &admin, id, me.id, extra.clone()).await;
    assert_times(&shown, start, end, "not opened yet: the contest's window");

    let view = contest_view(app, id, &me.token).await;
    let started = started_at(&view);
    let mine = (start, started + TimeDelta::minutes(40));
    assert_view(
        &view,
        "open",
        mine,
        Some(Some(started)),
        "extra minutes go to the duration",
    );

    let shown = accommodate(app, &admin, id, me.id, extra).await;
    assert_times(&shown, mine.0, mine.1, "opened");
    let cap = started + TimeDelta::minutes(20);
    let body = json!({ "extra_minutes": 10, "end_time": rfc3339(cap) });
    let shown = accommodate(app, &admin, id, me.id, body).await;
    assert_times(&shown, start, cap, "capped by the personal end");
    assert_eq!(accommodations(app, &admin, id).await, vec![shown]);
    let view = contest_view(app, id, &me.token).await;
    assert_view(&view, "open", (start, cap), Some(Some(started)), "capped");
    assert_listed(
        &listed(app, id, &me.token).await,
        "open",
        start,
        cap,
        "the list",
    );
}

// ---- the rules follow the student's window ----

/// On a contest that ended a minute ago, extra minutes reopen it for that student alone: they
/// see it open until their end (view and list), save a draft and submit; another student is
/// shut out.
async fn extra_minutes_reopen_an_ended_contest_for_one_student(app: &TestApp) {
    let (course, students) = course_with_students(app, 2).await;
    let [a, b] = [&students[0], &students[1]];
    let admin = app.admin_token().await;
    let now = now_ms();
    let contest = (now - hours(2), now - TimeDelta::minutes(1));
    let (start, end) = contest;
    let id = create(app, course, contest, None).await;
    let q = question_ids(&contest_view(app, id, &admin).await);

    let a_end = end + TimeDelta::minutes(30);
    let shown = accommodate(app, &admin, id, a.id, json!({ "extra_minutes": 30 })).await;
    assert_times(&shown, start, a_end, "the answer");

    let view = contest_view(app, id, &a.token).await;
    assert_view(&view, "open", (start, a_end), Some(None), "A");
    assert_eq!(question_ids(&view), q, "{view}");
    assert_listed(
        &listed(app, id, &a.token).await,
        "open",
        start,
        a_end,
        "A's list",
    );
    let view = contest_view(app, id, &b.token).await;
    assert_view(&view, "closed", contest, None, "B");
    assert_listed(
        &listed(app, id, &b.token).await,
        "closed",
        start,
        end,
        "B's list",
    );

    let sent = answers(&[(q[0], 1), (q[1], 0)]);
    save_draft(app, id, a, &sent).await;
    let (status, receipt) = app.submit(id, &a.token, sent.clone()).await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "A submits in their extra time: {receipt}"
    );
    assert_eq!(receipt["student_id"], a.id, "{receipt}");

    let resp = put_draft(app, id, &b.token, &sent).await;
    assert_error(&resp, StatusCode::CONFLICT, "contest_not_open");
    let resp = app.submit(id, &b.token, sent).await;
    assert_error(&resp, StatusCode::CONFLICT, "contest_not_open");

    let rows = app.all_submissions(id).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["id"], receipt["id"], "{rows:?}");
    assert_eq!(rows[0]["auto"], false, "{rows:?}");
}

/// On an open contest: A's personal start an hour ahead keeps A waiting (upcoming, no
/// questions, 409 on submit and draft) and C's personal end a second ago shuts C out, while B
/// submits; deleting A's terms lets A in at once.
async fn a_personal_window_keeps_one_student_waiting_or_shuts_them_out(app: &TestApp) {
    let (course, students) = course_with_students(app, 3).await;
    let [a, b, c] = [&students[0], &students[1], &students[2]];
    let admin = app.admin_token().await;
    let contest = open_window();
    let (start, end) = contest;
    let id = create(app, course, contest, None).await;
    let q = question_ids(&contest_view(app, id, &admin).await);
    let sent = answers(&[(q[0], 1)]);

    let now = now_ms();
    let a_window = (now + hours(1), now + hours(2));
    let body = json!({ "start_time": rfc3339(a_window.0), "end_time": rfc3339(a_window.1) });
    let shown = accommodate(app, &admin, id, a.id, body).await;
    assert_times(&shown, a_window.0, a_window.1, "A's answer");
    let c_end = now - TimeDelta::seconds(1);
    let shown = accommodate(app, &admin, id, c.id, json!({ "end_time": rfc3339(c_end) })).await;
    assert_times(&shown, start, c_end, "C's answer");

    let view = contest_view(app, id, &a.token).await;
    assert_view(&view, "upcoming", a_window, Some(None), "A");
    assert_eq!(
        view["questions"],
        json!([]),
        "no questions while A waits: {view}"
    );
    let entry = listed(app, id, &a.token).await;
    assert_listed(&entry, "upcoming", a_window.0, a_window.1, "A's list");
    let view = contest_view(app, id, &c.token).await;
    assert_view(&view, "closed", (start, c_end), Some(None), "C");
    assert_listed(
        &listed(app, id, &c.token).await,
        "closed",
        start,
        c_end,
        "C's list",
    );

    for s in [a, c] {
        let resp = put_draft(app, id, &s.token, &sent).await;
        assert_error(&resp, StatusCode::CONFLICT, "contest_not_open");
        let resp = app.submit(id, &s.token, sent.clone()).await;
        assert_error(&resp, StatusCode::CONFLICT, "contest_not_open");
    }
    let view = contest_view(app, id, &b.token).await;
    assert_view(&view, "open", contest, None, "B");
    assert_eq!(question_ids(&view), q, "{view}");
    let (status, receipt) = app.submit(id, &b.token, sent.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "B: {receipt}");

    delete_accommodation(app, &admin, id, a.id).await;
    let view = contest_view(app, id, &a.token).await;
    assert_view(&view, "open", (start, end), None, "A, after the DELETE");
    let (status, receipt) = app.submit(id, &a.token, sent).await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "A, after the DELETE: {receipt}"
    );
}

/// Students read the leaderboard once the contest is closed: for a student whose own window is
/// still open (extra time on a contest that has ended), it is not closed yet.
async fn the_leaderboard_waits_for_the_student_s_own_end(app: &TestApp) {
    let (course, students) = course_with_students(app, 2).await;
    let [a, b] = [&students[0], &students[1]];
    let admin = app.admin_token().await;
    let id = create(app, course, closed_window(), None).await;
    accommodate(app, &admin, id, a.id, json!({ "extra_minutes": 120 })).await;
    let path = format!("/api/contests/{id}/leaderboard");

    let (status, board) = app.get(&path, Some(&b.token)).await;
    assert_eq!(status, StatusCode::OK, "B, closed: {board}");
    let view = contest_view(app, id, &a.token).await;
    assert_eq!(view["status"], "open", "{view}");
    let resp = app.get(&path, Some(&a.token)).await;
    assert_error(&resp, StatusCode::FORBIDDEN, "forbidden");
}

// ---- frames ----

/// An accommodation for A reaches A's socket as `schedule_changed` within 1 s and A's ticks
/// carry A's end from then on; B's and the admin's sockets get no `schedule_changed` and keep
/// the contest's times; announcements still reach every socket; `DELETE` puts A's socket back on
/// the contest's times.
async fn schedule_changed_reaches_only_that_student(app: &TestApp) {
    let (course, students) = course_with_students(app, 2).await;
    let [a, b] = [&students[0], &students[1]];
    let admin = app.admin_token().await;
    let contest = open_window();
    let (start, end) = contest;
    let id = create(app, course, contest, None).await;
    let mut a_socket = connect(app, id, &a.token).await;
    let mut b_socket = connect(app, id, &b.token).await;
    let mut admin_socket = connect(app, id, &admin).await;
    for socket in [&mut a_socket, &mut b_socket, &mut admin_socket] {
        first_state(socket, id, "open", contest).await;
    }

    let mine = (start, end + TimeDelta::minutes(30));
    accommodate(app, &admin, id, a.id, json!({ "extra_minutes": 30 })).await;
    let answered = now_ms();
    let changed = frame_of(&mut a_socket, "schedule_changed", CHANGE_WITHIN).await;
    assert_frame(&changed, "schedule_changed", id, "open", mine);
    for _ in 0..2 {
        let frame = frame_of(&mut a_socket, "state", Duration::from_millis(1500)).await;
        assert_frame(&frame, "state", id, "open", mine);
    }
    let frames = frames_through_ticks(&mut b_socket, answered, 2).await;
    assert_only_states(&frames, "open", contest, "B's socket");
    let frames = frames_through_ticks(&mut admin_socket, answered, 2).await;
    assert_only_states(&frames, "open", contest, "the admin's socket");

    let path = format!("/api/contests/{id}/announcements");
    let body = json!({ "text": "Question 2: read km as m" });
    let (status, posted) = app.post(&path, Some(&admin), Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{posted}");
    for socket in [&mut a_socket, &mut b_socket, &mut admin_socket] {
        let frame = frame_of(socket, "announcement", CHANGE_WITHIN).await;
        assert_eq!(frame["id"], posted["id"], "{frame}");
    }

    delete_accommodation(app, &admin, id, a.id).await;
    let answered = now_ms();
    let changed = frame_of(&mut a_socket, "schedule_changed", CHANGE_WITHIN).await;
    assert_frame(&changed, "schedule_changed", id, "open", contest);
    let frames = frames_through_ticks(&mut a_socket, answered, 2).await;
    assert_only_states(
        &frames,
        "open",
        contest,
        "A's socket, back on the contest's times",
    );
    let frames = frames_through_ticks(&mut b_socket, answered, 2).await;
    assert_only_states(&frames, "open", contest, "B's socket, after the DELETE");
}

/// A's own start and end, two and four seconds ahead on a contest open for hours: A's socket
/// gets `started` and `ended` at them (within 1 s), B's socket nothing but its ticks.
async fn personal_edges_send_started_and_ended(app: &TestApp) {
    let contest = open_window();
    let Watched {
        id,
        students,
        admin,
        mut a_socket,
        mut b_socket,
    } = watched_by_two(app, contest, "open").await;
    let a = &students[0];

    let a_start = now_ms() + TimeDelta::seconds(2);
    let mine = (a_start, a_start + TimeDelta::seconds(2));
    let body = json!({ "start_time": rfc3339(mine.0), "end_time": rfc3339(mine.1) });
    accommodate(app, &admin, id, a.id, body).await;
    let changed = frame_of(&mut a_socket, "schedule_changed", CHANGE_WITHIN).await;
    assert_frame(&changed, "schedule_changed", id, "upcoming", mine);
    assert_before(a_start, "the accommodation");

    let wait = |edge: DateTime<Utc>| until(edge) + Duration::from_secs(2);
    let started = frame_of(&mut a_socket, "started", wait(mine.0)).await;
    assert_on_time(&started, mine.0);
    assert_frame(&started, "started", id, "open", mine);
    let ended = frame_of(&mut a_socket, "ended", wait(mine.1)).await;
    assert_on_time(&ended, mine.1);
    assert_frame(&ended, "ended", id, "closed", mine);
    let state = frame_of(&mut a_socket, "state", Duration::from_millis(1500)).await;
    assert_frame(&state, "state", id, "closed", mine);

    let frames = frames_through_ticks(&mut b_socket, mine.1, 1).await;
    assert_only_states(&frames, "open", contest, "B's socket");
}

/// On an upcoming contest, A's personal start moved a second into the past: A's socket gets
/// `schedule_changed` (open) and `started` within 1 s, as every socket does when an admin moves
/// the contest's own start into the past; B's socket gets neither.
async fn a_personal_start_moved_into_the_past_sends_started(app: &TestApp) {
    let contest = upcoming_window();
    let Watched {
        id,
        students,
        admin,
        mut a_socket,
        mut b_socket,
    } = watched_by_two(app, contest, "upcoming").await;
    let a = &students[0];

    let mine = (now_ms() - TimeDelta::seconds(1), contest.1);
    accommodate(
        app,
        &admin,
        id,
        a.id,
        json!({ "start_time": rfc3339(mine.0) }),
    )
    .await;
    let answered = now_ms();
    let changed = frame_of(&mut a_socket, "schedule_changed", CHANGE_WITHIN).await;
    assert_frame(&changed, "schedule_changed", id, "open", mine);
    let started = frame_of(&mut a_socket, "started", CHANGE_WITHIN + CHANGE_WITHIN).await;
    assert_frame(&started, "started", id, "open", mine);
    let late = parse_time(&started["server_time"]) - answered;
    assert!(
        late <= EDGE_WITHIN,
        "started {late} after the change: {started}"
    );

    let frames = frames_through_ticks(&mut b_socket, answered, 2).await;
    assert_only_states(&frames, "upcoming", contest, "B's socket");
}

/// On an open contest, A's personal end moved a second into the past: A's socket gets
/// `schedule_changed` (closed) and `ended` within 1 s, as every socket does when an admin
/// moves the contest's own end into the past; B's socket gets neither, and the rules follow at
/// once.
async fn a_personal_end_moved_into_the_past_sends_ended(app: &TestApp) {
    let contest = open_window();
    let Watched {
        id,
        students,
        admin,
        mut a_socket,
        mut b_socket,
    } = watched_by_two(app, contest, "open").await;
    let [a, b] = [&students[0], &students[1]];

    let mine = (contest.0, now_ms() - TimeDelta::seconds(1));
    accommodate(
        app,
        &admin,
        id,
        a.id,
        json!({ "end_time": rfc3339(mine.1) }),
    )
    .await;
    let answered = now_ms();
    let resp = app.submit(id, &a.token, answers(&[])).await;
    assert_error(&resp, StatusCode::CONFLICT, "contest_not_open");
    let changed = frame_of(&mut a_socket, "schedule_changed", CHANGE_WITHIN).await;
    assert_frame(&changed, "schedule_changed", id, "closed", mine);
    let ended = frame_of(&mut a_socket, "ended", CHANGE_WITHIN + CHANGE_WITHIN).await;
    assert_frame(&ended, "ended", id, "closed", mine);
    let late = parse_time(&ended["server_time"]) - answered;
    assert!(
        late <= EDGE_WITHIN,
        "ended {late} after the change: {ended}"
    );

    let frames = frames_through_ticks(&mut b_socket, answered, 2).await;
    assert_only_states(&frames, "open", contest, "B's socket");
    let (status, receipt) = app.submit(id, &b.token, answers(&[])).await;
    assert_eq!(status, StatusCode::CREATED, "B: {receipt}");
}

// ---- auto-submission ----

/// A's personal end three seconds ahead on a contest open for an hour: A's draft becomes A's
/// submission within 2 s of it; B's draft stays a draft, and B can still submit.
async fn a_personal_end_submits_that_student_s_draft_alone(app: &TestApp) {
    let (course, students) = course_with_students(app, 2).await;
    let [a, b] = [&students[0], &students[1]];
    let admin = app.admin_token().await;
    let id = create(app, course, open_window(), None).await;
    let q = question_ids(&contest_view(app, id, &admin).await);

    let a_end = now_ms() + TimeDelta::seconds(3);
    let shown = accommodate(app, &admin, id, a.id, json!({ "end_time": rfc3339(a_end) })).await;
    assert_eq!(parse_time(&shown["end_time"]), a_end, "{shown}");
    let a_draft = answers(&[(q[0], 1), (q[1], 0)]);
    save_draft(app, id, a, &a_draft).await;
    let b_draft = answers(&[(q[1], 1)]);
    save_draft(app, id, b, &b_draft).await;
    assert_before(a_end, "the accommodation and the drafts");

    sleep_until(a_end).await;
    let own = auto_submitted_from(app, id, a, &a_draft, a_end, a_end + AUTO_WITHIN).await;
    assert_eq!(own["student_id"], a.id, "{own}");

    // Nothing for B, also a while later.
    sleep_until(a_end + AUTO_WITHIN + POLL_SLACK).await;
    assert_still_drafting(app, id, b, &b_draft).await;
    let rows = app.all_submissions(id).await;
    assert_eq!(rows.len(), 1, "A's only: {rows:?}");
    assert_eq!(rows[0]["id"], own["id"], "{rows:?}");
    let resp = app.submit(id, &a.token, answers(&[])).await;
    assert_error(&resp, StatusCode::CONFLICT, "already_submitted");
    let (status, receipt) = app.submit(id, &b.token, b_draft).await;
    assert_eq!(status, StatusCode::CREATED, "B, still open: {receipt}");
}

/// `grace_seconds` counts from the student's own end: a submission after it, within the grace,
/// is accepted while their status says closed; after the grace, refused.
async fn grace_follows_the_personal_end(app: &TestApp) {
    let (course, students) = course_with_students(app, 2).await;
    let [late, later] = [&students[0], &students[1]];
    let admin = app.admin_token().await;
    let contest = open_window();
    let mut body = contest_body(course, contest.0, contest.1);
    body["grace_seconds"] = json!(2);
    let id = id_of(&app.create_contest_from(body).await);

    let mine = (contest.0, now_ms() + TimeDelta::seconds(2));
    for s in [late, later] {
        let body = json!({ "end_time": rfc3339(mine.1) });
        accommodate(app, &admin, id, s.id, body).await;
    }
    assert_before(mine.1, "the accommodations");

    sleep_until(mine.1 + TimeDelta::milliseconds(500)).await;
    let view = contest_view(app, id, &late.token).await;
    assert_view(&view, "closed", mine, Some(None), "in the grace");
    let (status, receipt) = app.submit(id, &late.token, answers(&[])).await;
    assert_eq!(status, StatusCode::CREATED, "in the grace: {receipt}");
    assert_before(
        mine.1 + TimeDelta::seconds(2),
        "the submission in the grace",
    );

    sleep_until(mine.1 + TimeDelta::milliseconds(2200)).await;
    let resp = put_draft(app, id, &later.token, &answers(&[])).await;
    assert_error(&resp, StatusCode::CONFLICT, "contest_not_open");
    let resp = app.submit(id, &later.token, answers(&[])).await;
    assert_error(&resp, StatusCode::CONFLICT, "contest_not_open");
}

/// A's first open 57 s ago (recorded before the contest was loaded) on a contest with a
/// one-minute duration: A's window ends 3 s from now, and A's draft becomes A's submission
/// within 2 s of that end; B, who never opened it, keeps drafting.
async fn a_duration_end_submits_the_draft(app: &TestApp) {
    let (course, students) = course_with_students(app, 2).await;
    let [a, b] = [&students[0], &students[1]];
    let admin = app.admin_token().await;
    let contest = open_window();
    let id = create(app, course, contest, Some(1)).await;
    assert!(
        !is_warm(app, id).await,
        "the contest is not loaded yet, so it will read the start from the database"
    );
    let a_started = now_ms() - TimeDelta::seconds(57);
    let a_end = a_started + TimeDelta::minutes(1);
    record_start(app, id, a.id, a_started).await;

    let view = contest_view(app, id, &a.token).await;
    let mine = (contest.0, a_end);
    assert_view(
        &view,
        "open",
        mine,
        Some(Some(a_started)),
        "A, started 57 s ago",
    );
    let q = question_ids(&contest_view(app, id, &admin).await);
    let a_draft = answers(&[(q[1], 0)]);
    save_draft(app, id, a, &a_draft).await;
    let b_draft = answers(&[(q[0], 1)]);
    save_draft(app, id, b, &b_draft).await;
    let entry = listed(app, id, &b.token).await;
    assert_listed(
        &entry,
        "open",
        contest.0,
        contest.1,
        "B's list: B has not opened it",
    );
    assert_before(a_end, "the drafts");

    sleep_until(a_end).await;
    auto_submitted_from(app, id, a, &a_draft, a_end, a_end + AUTO_WITHIN).await;
    sleep_until(a_end + AUTO_WITHIN + POLL_SLACK).await;
    assert_still_drafting(app, id, b, &b_draft).await;
    assert_eq!(app.all_submissions(id).await.len(), 1);
}

/// Two students opened a contest with a 30-minute duration; a personal end three seconds ahead
/// caps A's: A's draft is submitted within 2 s of it, B's is not.
async fn an_accommodation_end_caps_a_started_duration(app: &TestApp) {
    let (course, students) = course_with_students(app, 2).await;
    let [a, b] = [&students[0], &students[1]];
    let admin = app.admin_token().await;
    let contest = open_window();
    let id = create(app, course, contest, Some(30)).await;
    let a_started = started_at(&contest_view(app, id, &a.token).await);
    started_at(&contest_view(app, id, &b.token).await);
    let q = question_ids(&contest_view(app, id, &admin).await);

    let a_end = now_ms() + TimeDelta::seconds(3);
    let shown = accommodate(app, &admin, id, a.id, json!({ "end_time": rfc3339(a_end) })).await;
    assert_times(&shown, contest.0, a_end, "the cap");
    let view = contest_view(app, id, &a.token).await;
    assert_view(
        &view,
        "open",
        (contest.0, a_end),
        Some(Some(a_started)),
        "A, capped",
    );
    let a_draft = answers(&[(q[0], 0)]);
    save_draft(app, id, a, &a_draft).await;
    let b_draft = answers(&[(q[0], 1), (q[1], 1)]);
    save_draft(app, id, b, &b_draft).await;
    assert_before(a_end, "the accommodation and the drafts");

    sleep_until(a_end).await;
    auto_submitted_from(app, id, a, &a_draft, a_end, a_end + AUTO_WITHIN).await;
    sleep_until(a_end + AUTO_WITHIN + POLL_SLACK).await;
    assert_still_drafting(app, id, b, &b_draft).await;
    assert_eq!(app.all_submissions(id).await.len(), 1);
}
