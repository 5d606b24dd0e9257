//! Creating, changing, reading and listing contests.

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::{
    assert_error, assert_keys, closed_window, contest_body, hours, id_of, now_ms, open_window,
    parse_time, rfc3339, upcoming_window, TestApp,
};

both_databases!(
    create_contest_returns_admin_view,
    create_contest_keeps_results_and_points,
    create_contest_invalid_fields_are_400,
    create_contest_unknown_course_is_404,
    create_contest_requires_admin,
    patch_contest_changes_title_and_times,
    patch_contest_invalid_window_is_400,
    patch_contest_unknown_is_404,
    patch_contest_requires_admin,
    patch_inactive_hides_contest_from_students,
    get_contest_student_view_hides_answers,
    get_contest_upcoming_hides_questions_from_students,
    get_contest_status_follows_times,
    get_contest_opens_at_start_time,
    get_contest_not_enrolled_is_403,
    get_contest_unknown_is_404,
    list_contests_sorted_by_start_time,
    list_contests_student_sees_active_contests_of_active_courses,
    list_contests_requires_token,
);

const ADMIN_VIEW: &[&str] = &[
    "id",
    "course_id",
    "title",
    "start_time",
    "end_time",
    "status",
    "server_time",
    "results",
    "is_active",
    "shuffle",
    "grace_seconds",
    "duration_minutes",
    "questions",
];
const STUDENT_VIEW: &[&str] = &[
    "id",
    "course_id",
    "title",
    "start_time",
    "end_time",
    "status",
    "server_time",
    "results",
    "questions",
];
const LISTED: &[&str] = &[
    "id",
    "course_id",
    "title",
    "start_time",
    "end_time",
    "status",
    "submitted",
];

/// The status the contract derives from the times, at `now`.
fn expected_status(start: DateTime<Utc>, end: DateTime<Utc>, now: DateTime<Utc>) -> &'static str {
    if now < start {
        "upcoming"
    } else if now < end {
        "open"
    } else {
        "closed"
    }
}

/// Asserts `status` agrees with the view's own `server_time`, and returns it.
#[track_caller]
fn checked_status(view: &Value) -> &str {
    let start = parse_time(&view["start_time"]);
    let end = parse_time(&view["end_time"]);
    let now = parse_time(&view["server_time"]);
    let status = view["status"].as_str().expect("status");
    assert_eq!(status, expected_status(start, end, now), "status of {view}");
    status
}

fn contest_path(id: i64) -> String {
    format!("/api/contests/{id}")
}

/// A course with one enrolled student: `(course_id, student token)`.
async fn course_with_student(app: &TestApp) -> (i64, String) {
    let course = app.create_course().await;
    let (student, _, token) = app.student().await;
    app.enroll(course, &[student]).await;
    (course, token)
}

async fn create_contest_returns_admin_view(app: &TestApp) {
    let course = app.create_course().await;
    let (start, end) = open_window();
    let body = contest_body(course, start, end);
    let token = app.admin_token().await;
    let before = Utc::now();
    let (status, view) = app
        .post("/api/contests", Some(&token), Some(body.clone()))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{view}");

    assert_keys(&view, ADMIN_VIEW);
    id_of(&view);
    assert_eq!(view["course_id"], course);
    assert_eq!(view["title"], "Quiz");
    assert_eq!(parse_time(&view["start_time"]), start);
    assert_eq!(parse_time(&view["end_time"]), end);
    assert_eq!(view["status"], "open");
    let server_time = parse_time(&view["server_time"]);
    assert!(
        server_time >= before - TimeDelta::seconds(1),
        "{server_time}"
    );
    assert!(
        server_time <= Utc::now() + TimeDelta::seconds(1),
        "{server_time}"
    );
    assert_eq!(view["results"], "after_close", "the default");
    assert_eq!(view["is_active"], true);

    let questions = view["questions"].as_array().expect("questions");
    assert_eq!(questions.len(), 2);
    for (sent, got) in body["questions"].as_array().unwrap().iter().zip(questions) {
        assert_keys(
            got,
            &[
                "id",
                "type",
                "prompt",
                "options",
                "points",
                "correct_option",
            ],
        );
        id_of(got);
        assert_eq!(got["prompt"], sent["prompt"]);
        assert_eq!(got["options"], sent["options"]);
        assert_eq!(got["correct_option"], sent["correct_option"]);
    }
    assert_eq!(questions[0]["points"], 1, "the default");
    assert_eq!(questions[1]["points"], 2);
    assert_ne!(questions[0]["id"], questions[1]["id"]);

    // GET gives the same contest.
    let (status, got) = app.get(&contest_path(id_of(&view)), Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "{got}");
    let mut without_time = got.clone();
    let mut created = view.clone();
    without_time["server_time"] = Value::Null;
    created["server_time"] = Value::Null;
    assert_eq!(without_time, created);
}

async fn create_contest_keeps_results_and_points(app: &TestApp) {
    let course = app.create_course().await;
    let (start, end) = upcoming_window();
    let view = app
        .create_contest(course, start, end, Some("immediate"))
        .await;
    assert_eq!(view["results"], "immediate");
    assert_eq!(view["status"], "upcoming");

    let mut body = contest_body(course, start, end);
    body["results"] = json!("after_close");
    body["questions"] = json!([
        { "prompt": "free", "options": ["a", "b"], "correct_option": 1, "points": 0 },
        { "prompt": "ten", "options": ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"],
          "correct_option": 9, "points": 10 },
    ]);
    let token = app.admin_token().await;
    let (status, view) = app.post("/api/contests", Some(&token), Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{view}");
    assert_eq!(view["results"], "after_close");
    assert_eq!(view["questions"][0]["points"], 0);
    assert_eq!(view["questions"][1]["points"], 10);
    assert_eq!(view["questions"][1]["correct_option"], 9);
}

async fn create_contest_invalid_fields_are_400(app: &TestApp) {
    let course = app.create_course().await;
    let token = app.admin_token().await;
    let (start, end) = open_window();
    let valid = contest_body(course, start, end);
    let q = |options: Value, correct: Value| json!([{ "prompt": "p", "options": options, "correct_option": correct }]);

    let mut cases: Vec<(Value, &str)> = Vec::new();
    let mut add = |field: &str, value: Value, named: &'static str| {
        let mut body = valid.clone();
        body[field] = value;
        cases.push((body, named));
    };
    add("end_time", json!(rfc3339(start)), "start_time");
    add("end_time", json!(rfc3339(start - hours(1))), "start_time");
    add("questions", json!([]), "questions");
    add("questions", q(json!(["only"]), json!(0)), "options");
    add(
        "questions",
        q(json!(["a", "b"]), json!(2)),
        "correct_option",
    );
    add(
        "questions",
        q(json!(["a", "b"]), json!(-1)),
        "correct_option",
    );
    add("questions", q(json!(["a", ""]), json!(0)), "options");
    add(
        "questions",
        q(
            json!(["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"]),
            json!(0),
        ),
        "options",
    );
    add(
        "questions",
        json!([{ "prompt": "p", "options": ["a", "b"], "correct_option": 0, "points": -1 }]),
        "points",
    );
    add(
        "questions",
        json!([{ "prompt": "", "options": ["a", "b"], "correct_option": 0 }]),
        "prompt",
    );
    add("title", json!(""), "title");
    add("start_time", json!("tomorrow"), "");
    add("results", json!("never"), "");

    for (body, named) in cases {
        let resp = app
            .post("/api/contests", Some(&token), Some(body.clone()))
            .await;
        let message = assert_error(&resp, StatusCode::BAD_REQUEST, "bad_request");
        assert!(
            message.contains(named),
            "message names `{named}`: {message}\nbody: {body}"
        );
    }

    // The first bad question is named by its index.
    let mut body = valid.clone();
    body["questions"][1]["correct_option"] = json!(5);
    let resp = app.post("/api/contests", Some(&token), Some(body)).await;
    let message = assert_error(&resp, StatusCode::BAD_REQUEST, "bad_request");
    assert!(
        message.contains("questions[1]"),
        "names the question: {message}"
    );

    let (_, list) = app.get("/api/contests", Some(&token)).await;
    assert_eq!(list["contests"], json!([]), "nothing created");
}

async fn create_contest_unknown_course_is_404(app: &TestApp) {
    let (start, end) = open_window();
    let token = app.admin_token().await;
    let resp = app
        .post(
            "/api/contests",
            Some(&token),
            Some(contest_body(424_242, start, end)),
        )
        .await;
    assert_error(&resp, StatusCode::NOT_FOUND, "not_found");
}

async fn create_contest_requires_admin(app: &TestApp) {
    let (course, student) = course_with_student(app).await;
    let (start, end) = open_window();
    let body = contest_body(course, start, end);
    let resp = app.post("/api/contests", None, Some(body.clone())).await;
    assert_error(&resp, StatusCode::UNAUTHORIZED, "unauthorized");
    let resp = app.post("/api/contests", Some(&student), Some(body)).await;
    assert_error(&resp, StatusCode::FORBIDDEN, "forbidden");
    let (_, list) = app
        .get("/api/contests", Some(&app.admin_token().await))
        .await;
    assert_eq!(list["contests"], json!([]), "nothing created");
}

async fn patch_contest_changes_title_and_times(app: &TestApp) {
    let (course, student) = course_with_student(app).await;
    let (start, end) = upcoming_window();
    let created = app.create_contest(course, start, end, None).await;
    let id = id_of(&created);
    let token = app.admin_token().await;

    let (status, view) = app
        .patch(
            &contest_path(id),
            Some(&token),
            Some(json!({ "title": "Renamed" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_keys(&view, ADMIN_VIEW);
    assert_eq!(view["title"], "Renamed");
    assert_eq!(parse_time(&view["start_time"]), start, "untouched");
    assert_eq!(view["questions"], created["questions"], "untouched");
    let (_, got) = app.get(&contest_path(id), Some(&student)).await;
    assert_eq!(got["title"], "Renamed", "students see the new title");

    // Move it to open now: status and the student's view follow.
    let (new_start, new_end) = open_window();
    let body = json!({ "start_time": rfc3339(new_start), "end_time": rfc3339(new_end) });
    let (status, view) = app.patch(&contest_path(id), Some(&token), Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(parse_time(&view["start_time"]), new_start);
    assert_eq!(parse_time(&view["end_time"]), new_end);
    assert_eq!(checked_status(&view), "open");
    let (_, got) = app.get(&contest_path(id), Some(&student)).await;
    assert_eq!(checked_status(&got), "open");
    assert_eq!(got["questions"].as_array().map(Vec::len), Some(2));

    // Only the end, moved into the past: closed.
    let body = json!({ "end_time": rfc3339(Utc::now() - TimeDelta::minutes(1)) });
    let (status, view) = app.patch(&contest_path(id), Some(&token), Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(checked_status(&view), "closed");

    // An empty patch changes nothing.
    let (status, same) = app
        .patch(&contest_path(id), Some(&token), Some(json!({})))
        .await;
    assert_eq!(status, StatusCode::OK, "{same}");
    assert_eq!(same["title"], "Renamed");
    assert_eq!(same["end_time"], view["end_time"]);
}

async fn patch_contest_invalid_window_is_400(app: &TestApp) {
    let course = app.create_course().await;
    let (start, end) = upcoming_window();
    let id = id_of(&app.create_contest(course, start, end, None).await);
    let token = app.admin_token().await;
    let path = contest_path(id);

    let cases = [
        // The end alone, before the stored start.
        json!({ "end_time": rfc3339(start - hours(1)) }),
        // The start alone, at the stored end.
        json!({ "start_time": rfc3339(end) }),
        // Both, backwards.
        json!({ "start_time": rfc3339(end), "end_time": rfc3339(start) }),
    ];
    for body in cases {
        let resp = app.patch(&path, Some(&token), Some(body.clone())).await;
        let message = assert_error(&resp, StatusCode::BAD_REQUEST, "bad_request");
        assert!(
            message.contains("start_time") || message.contains("end_time"),
            "{body}: {message}"
        );
    }
    for body in [
        json!({ "title": "" }),
        json!({ "is_active": "no" }),
        json!({ "end_time": 5 }),
    ] {
        let resp = app.patch(&path, Some(&token), Some(body)).await;
        assert_error(&resp, StatusCode::BAD_REQUEST, "bad_request");
    }

    // Nothing changed.
    let (_, view) = app.get(&path, Some(&token)).await;
    assert_eq!(parse_time(&view["start_time"]), start);
    assert_eq!(parse_time(&view["end_time"]), end);
    assert_eq!(view["title"], "Quiz");
    assert_eq!(view["is_active"], true);
}

async fn patch_contest_unknown_is_404(app: &TestApp) {
    let token = app.admin_token().await;
    let resp = app
        .patch(
            &contest_path(424_242),
            Some(&token),
            Some(json!({ "title": "x" })),
        )
        .await;
    assert_error(&resp, StatusCode::NOT_FOUND, "not_found");
}

async fn patch_contest_requires_admin(app: &TestApp) {
    let (course, student) = course_with_student(app).await;
    let (start, end) = open_window();
    let id = id_of(&app.create_contest(course, start, end, None).await);
    let body = json!({ "title": "Hacked" });
    let resp = app.patch(&contest_path(id), None, Some(body.clone())).await;
    assert_error(&resp, StatusCode::UNAUTHORIZED, "unauthorized");
    let resp = app
        .patch(&contest_path(id), Some(&student), Some(body))
        .await;
    assert_error(&resp, StatusCode::FORBIDDEN, "forbidden");
    let (_, view) = app.get(&contest_path(id), Some(&student)).await;
    assert_eq!(view["title"], "Quiz");
}

async fn patch_inactive_hides_contest_from_students(app: &TestApp) {
    let (course, student) = course_with_student(app).await;
    let (start, end) = open_window();
    let id = id_of(&app.create_contest(course, start, end, None).await);
    let admin = app.admin_token().await;
    let (status, _) = app.get(&contest_path(id), Some(&student)).await;
    assert_eq!(status, StatusCode::OK);

    let (status, view) = app
        .patch(
            &contest_path(id),
            Some(&admin),
            Some(json!({ "is_active": false })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["is_active"], false);

    let resp = app.get(&contest_path(id), Some(&student)).await;
    assert_error(&resp, StatusCode::NOT_FOUND, "not_found");
    let (_, list) = app.get("/api/contests", Some(&student)).await;
    assert_eq!(list["contests"], json!([]));

    let (status, view) = app.get(&contest_path(id), Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["is_active"], false);
    let (_, list) = app.get("/api/contests", Some(&admin)).await;
    assert_eq!(
        list["contests"].as_array().map(Vec::len),
        Some(1),
        "admins still list it"
    );

    // And back.
    let (status, _) = app
        .patch(
            &contest_path(id),
            Some(&admin),
            Some(json!({ "is_active": true })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.get(&contest_path(id), Some(&student)).await;
    assert_eq!(status, StatusCode::OK);
}

async fn get_contest_student_view_hides_answers(app: &TestApp) {
    let (course, student) = course_with_student(app).await;
    for (start, end) in [open_window(), closed_window()] {
        let created = app.create_contest(course, start, end, None).await;
        let (status, view) = app
            .get(&contest_path(id_of(&created)), Some(&student))
            .await;
        assert_eq!(status, StatusCode::OK, "{view}");
        assert_keys(&view, STUDENT_VIEW);
        checked_status(&view);
        let questions = view["questions"].as_array().expect("questions");
        assert_eq!(questions.len(), 2, "{view}");
        for (got, full) in questions
            .iter()
            .zip(created["questions"].as_array().unwrap())
        {
            assert_keys(got, &["id", "type", "prompt", "options", "points"]);
            for key in ["id", "type", "prompt", "options", "points"] {
                assert_eq!(got[key], full[key], "{key}");
            }
        }
        assert_eq!(view["results"], created["results"]);
        assert_eq!(view["course_id"], course);
    }
}

async fn get_contest_upcoming_hides_questions_from_students(app: &TestApp) {
    let (course, student) = course_with_student(app).await;
    let (start, end) = upcoming_window();
    let id = id_of(&app.create_contest(course, start, end, None).await);

    let (status, view) = app.get(&contest_path(id), Some(&student)).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_keys(&view, STUDENT_VIEW);
    assert_eq!(checked_status(&view), "upcoming");
    assert_eq!(view["questions"], json!([]));

    let admin = app.admin_token().await;
    let (status, view) = app.get(&contest_path(id), Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_keys(&view, ADMIN_VIEW);
    assert_eq!(
        view["questions"].as_array().map(Vec::len),
        Some(2),
        "admins see them"
    );
    assert_eq!(view["questions"][0]["correct_option"], 1);
}

async fn get_contest_status_follows_times(app: &TestApp) {
    let (course, student) = course_with_student(app).await;
    let admin = app.admin_token().await;
    for ((start, end), expected) in [
        (upcoming_window(), "upcoming"),
        (open_window(), "open"),
        (closed_window(), "closed"),
    ] {
        let id = id_of(&app.create_contest(course, start, end, None).await);
        for token in [admin.as_str(), student.as_str()] {
            let (status, view) = app.get(&contest_path(id), Some(token)).await;
            assert_eq!(status, StatusCode::OK, "{view}");
            assert_eq!(checked_status(&view), expected);
            let server_time = parse_time(&view["server_time"]);
            assert!(
                (Utc::now() - server_time).abs() < TimeDelta::seconds(5),
                "{server_time}"
            );
        }
    }
}

/// A contest starting in a moment turns from upcoming to open by the server clock, and its
/// questions appear to students then.
async fn get_contest_opens_at_start_time(app: &TestApp) {
    let (course, student) = course_with_student(app).await;
    let start = now_ms() + TimeDelta::milliseconds(1500);
    let id = id_of(
        &app.create_contest(course, start, start + hours(1), None)
            .await,
    );

    let (_, first) = app.get(&contest_path(id), Some(&student)).await;
    assert_eq!(checked_status(&first), "upcoming", "{first}");
    assert_eq!(first["questions"], json!([]));

    let deadline = Instant::now() + Duration::from_secs(10);
    let view = loop {
        let (status, view) = app.get(&contest_path(id), Some(&student)).await;
        assert_eq!(status, StatusCode::OK, "{view}");
        let status = checked_status(&view);
        if status == "open" {
            break view;
        }
        assert_eq!(view["questions"], json!([]), "hidden while upcoming");
        assert!(
            Instant::now() < deadline,
            "still {status} 10 s later: {view}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(parse_time(&view["server_time"]) >= start);
    assert_eq!(
        view["questions"].as_array().map(Vec::len),
        Some(2),
        "{view}"
    );
}

async fn get_contest_not_enrolled_is_403(app: &TestApp) {
    let course = app.create_course().await;
    let (start, end) = open_window();
    let id = id_of(&app.create_contest(course, start, end, None).await);
    let (_, _, outsider) = app.student().await;
    let resp = app.get(&contest_path(id), Some(&outsider)).await;
    assert_error(&resp, StatusCode::FORBIDDEN, "not_enrolled");

    // Enrolled in another course is not enough.
    let (_, other_course_student) = course_with_student(app).await;
    let resp = app
        .get(&contest_path(id), Some(&other_course_student))
        .await;
    assert_error(&resp, StatusCode::FORBIDDEN, "not_enrolled");
}

async fn get_contest_unknown_is_404(app: &TestApp) {
    let (_, student) = course_with_student(app).await;
    let admin = app.admin_token().await;
    for token in [admin.as_str(), student.as_str()] {
        let resp = app.get(&contest_path(424_242), Some(token)).await;
        assert_error(&resp, StatusCode::NOT_FOUND, "not_found");
    }
    let resp = app.get(&contest_path(424_242), None).await;
    assert_error(&resp, StatusCode::UNAUTHORIZED, "unauthorized");
}

/// The ids of `GET /api/contests`, checking each entry's fields.
async fn listed(app: &TestApp, token: &str) -> Vec<i64> {
    let (status, body) = app.get("/api/contests", Some(token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_keys(&body, &["contests"]);
    let contests = body["contests"].as_array().expect("contests");
    let mut previous_start = None;
    for c in contests {
        assert_keys(c, LISTED);
        assert_eq!(c["submitted"], false, "{c}");
        let start = parse_time(&c["start_time"]);
        let end = parse_time(&c["end_time"]);
        assert!(start < end);
        // Status by the server clock; allow for the time the request took.
        let status = c["status"].as_str().expect("status");
        assert_eq!(status, expected_status(start, end, Utc::now()), "{c}");
        assert!(
            previous_start <= Some(start),
            "sorted by start_time: {body}"
        );
        previous_start = Some(start);
    }
    contests.iter().map(id_of).collect()
}

async fn list_contests_sorted_by_start_time(app: &TestApp) {
    let course = app.create_course().await;
    let now = now_ms();
    // Created out of start order.
    let offsets = [3, -5, 1, -1, 8];
    let mut made = Vec::new();
    for h in offsets {
        let start = now + hours(h);
        let view = app
            .create_contest(course, start, start + TimeDelta::minutes(90), None)
            .await;
        made.push((start, id_of(&view)));
    }
    made.sort_by_key(|(start, _)| *start);
    let expected: Vec<i64> = made.iter().map(|(_, id)| *id).collect();
    let admin = app.admin_token().await;
    assert_eq!(listed(app, &admin).await, expected);

    let (status, body) = app.get("/api/contests", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK);
    let first = &body["contests"][0];
    assert_eq!(first["title"], "Quiz");
    assert_eq!(first["course_id"], course);
    assert_eq!(first["status"], "closed");
}

async fn list_contests_student_sees_active_contests_of_active_courses(app: &TestApp) {
    let mine = app.create_course().await;
    let left = app.create_course().await;
    let other = app.create_course().await;
    let (me, _, token) = app.student().await;
    app.enroll(mine, &[me]).await;
    app.enroll(left, &[me]).await;
    let admin = app.admin_token().await;

    let (start, end) = open_window();
    let later = id_of(
        &app.create_contest(mine, start + hours(1), end + hours(1), None)
            .await,
    );
    let earlier = id_of(&app.create_contest(mine, start, end, None).await);
    let hidden = id_of(&app.create_contest(mine, start, end, None).await);
    let of_left = id_of(&app.create_contest(left, start, end, None).await);
    let of_other = id_of(&app.create_contest(other, start, end, None).await);
    let (status, _) = app
        .patch(
            &contest_path(hidden),
            Some(&admin),
            Some(json!({ "is_active": false })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .delete(
            &format!("/api/courses/{left}/enrollments/{me}"),
            Some(&admin),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let ids = listed(app, &token).await;
    assert_eq!(
        ids,
        vec![earlier, later],
        "only active contests of active courses"
    );

    let all = listed(app, &admin).await;
    for id in [later, earlier, hidden, of_left, of_other] {
        assert!(all.contains(&id), "admins see {id}: {all:?}");
    }
    assert_eq!(all.len(), 5);
}

async fn list_contests_requires_token(app: &TestApp) {
    let resp = app.get("/api/contests", None).await;
    assert_error(&resp, StatusCode::UNAUTHORIZED, "unauthorized");
}
