//! Submitting, and reading one's own submissions: `POST /api/contests/{id}/submissions`,
//! `GET /api/contests/{id}/my-submission`, `GET /api/contests/my-submissions-bulk`.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::support::{
    answers, assert_error, assert_keys, closed_window, contest_body, hours, id_of, now_ms,
    open_window, parse_time, question_ids, rfc3339, str_field, upcoming_window, wait_for, Student,
    TestApp,
};

both_databases!(
    submit_returns_receipt_without_score,
    submit_immediate_returns_score,
    submit_grades_points_of_correct_answers,
    submit_invalid_answers_are_400,
    submit_not_enrolled_is_403,
    submit_outside_window_is_409,
    submit_twice_is_409_also_after_close,
    submit_unknown_contest_is_404_even_with_bad_body,
    submit_inactive_contest_is_404,
    submit_requires_token,
    my_submission_returns_answers_and_immediate_scores,
    my_submission_scores_appear_when_contest_closes,
    my_submission_none_is_404,
    my_submissions_bulk_lists_only_submitted_contests,
    my_submissions_bulk_bad_ids_are_400,
    bad_answers_are_reported_before_the_rules,
    list_contests_marks_what_the_student_submitted,
);

const RECEIPT: &[&str] = &[
    "id",
    "contest_id",
    "student_id",
    "submitted_at",
    "auto",
    "receipt",
];
const SCORED_RECEIPT: &[&str] = &[
    "id",
    "contest_id",
    "student_id",
    "submitted_at",
    "score",
    "max_score",
    "auto",
    "receipt",
];
const OWN: &[&str] = &[
    "id",
    "contest_id",
    "student_id",
    "submitted_at",
    "answers",
    "score",
    "max_score",
    "auto",
    "receipt",
];

fn my_submission(contest: i64) -> String {
    format!("/api/contests/{contest}/my-submission")
}

/// All answers right: question 0 (1 point) with option 1, question 1 (2 points) with option 0.
fn all_right(contest: &Value) -> Value {
    let q = question_ids(contest);
    answers(&[(q[0], 1), (q[1], 0)])
}

/// Checks a submission id is a UUID string and returns it.
#[track_caller]
fn uuid_of(v: &Value) -> uuid::Uuid {
    let id = str_field(v, "id");
    uuid::Uuid::parse_str(id).unwrap_or_else(|e| panic!("{id:?} is not a UUID ({e}): {v}"))
}

/// Checks a 201 receipt for this contest and student, submitted moments ago.
#[track_caller]
fn check_receipt(resp: &(StatusCode, Value), contest: i64, student: &Student, keys: &[&str]) {
    let (status, body) = resp;
    assert_eq!(*status, StatusCode::CREATED, "{body}");
    assert_keys(body, keys);
    uuid_of(body);
    assert_eq!(body["contest_id"], contest, "{body}");
    assert_eq!(body["student_id"], student.id, "{body}");
    let at = parse_time(&body["submitted_at"]);
    assert!(
        (Utc::now() - at).abs() < TimeDelta::seconds(10),
        "submitted_at {at} is now"
    );
}

async fn submit_returns_receipt_without_score(app: &TestApp) {
    let (contest, students) = app.open_contest_with_students(1, None).await;
    let id = id_of(&contest);
    let resp = app
        .submit(id, &students[0].token, all_right(&contest))
        .await;
    check_receipt(&resp, id, &students[0], RECEIPT);

    let (start, end) = open_window();
    let course = contest["course_id"].as_i64().unwrap();
    let explicit = app
        .create_contest(course, start, end, Some("after_close"))
        .await;
    let resp = app
        .submit(id_of(&explicit), &students[0].token, all_right(&explicit))
        .await;
    check_receipt(&resp, id_of(&explicit), &students[0], RECEIPT);
}

async fn submit_immediate_returns_score(app: &TestApp) {
    let (contest, students) = app.open_contest_with_students(1, Some("immediate")).await;
    let id = id_of(&contest);
    let resp = app
        .submit(id, &students[0].token, all_right(&contest))
        .await;
    check_receipt(&resp, id, &students[0], SCORED_RECEIPT);
    assert_eq!(resp.1["score"], 3, "{}", resp.1);
    assert_eq!(resp.1["max_score"], 3, "{}", resp.1);
}

/// The score is the sum of the points of the correctly answered questions; questions may be
/// left out, and the order of the answers does not matter.
async fn submit_grades_points_of_correct_answers(app: &TestApp) {
    let course = app.create_course().await;
    let (start, end) = open_window();
    let mut body = contest_body(course, start, end);
    body["results"] = json!("immediate");
    body["questions"] = json!([
        { "prompt": "a", "options": ["x", "y", "z"], "correct_option": 1, "points": 1 },
        { "prompt": "b", "options": ["x", "y"], "correct_option": 0, "points": 2 },
        { "prompt": "c", "options": ["x", "y", "z", "w"], "correct_option": 3, "points": 5 },
        { "prompt": "free", "options": ["x", "y"], "correct_option": 1, "points": 0 },
    ]);
    let contest = app.create_contest_from(body).await;
    let id = id_of(&contest);
    let q = question_ids(&contest);

    let cases: Vec<(Value, i64)> = vec![
        (answers(&[(q[0], 1), (q[1], 0), (q[2], 3), (q[3], 1)]), 8),
        (answers(&[(q[2], 3), (q[0], 1)]), 6),
        (answers(&[(q[1], 0)]), 2),
        (answers(&[(q[0], 0), (q[1], 1), (q[2], 0), (q[3], 1)]), 0),
        (answers(&[(q[0], 2), (q[2], 3)]), 5),
        (answers(&[]), 0),
    ];
    let students = app.logged_in_students(cases.len()).await;
    let ids: Vec<i64> = students.iter().map(|s| s.id).collect();
    app.enroll(course, &ids).await;
    for (student, (sent, expected)) in students.iter().zip(&cases) {
        let resp = app.submit(id, &student.token, sent.clone()).await;
        check_receipt(&resp, id, student, SCORED_RECEIPT);
        assert_eq!(resp.1["score"], *expected, "answers {sent}: {}", resp.1);
        assert_eq!(resp.1["max_score"], 8, "{}", resp.1);
    }
}

async fn submit_invalid_answers_are_400(app: &TestApp) {
    let (contest, students) = app.open_contest_with_students(1, Some("immediate")).await;
    let id = id_of(&contest);
    let token = &students[0].token;
    let q = question_ids(&contest);
    // A question of another contest is unknown here.
    let (start, end) = open_window();
    let other = app
        .create_contest(contest["course_id"].as_i64().unwrap(), start, end, None)
        .await;
    let foreign = question_ids(&other)[0];

    let cases: Vec<(Value, &str)> = vec![
        (answers(&[(424_242, 0)]), "question_id"),
        (answers(&[(q[0], 1), (foreign, 0)]), "question_id"),
        (answers(&[(q[0], 3)]), "option"),
        (answers(&[(q[1], 2)]), "option"),
        (answers(&[(q[0], -1)]), "option"),
        (answers(&[(q[0], 1), (q[1], 0), (q[0], 2)]), "answers[2]"),
        (answers(&[(q[1], 0), (q[1], 0)]), "answers[1]"),
    ];
    for (sent, named) in cases {
        let resp = app.submit(id, token, sent.clone()).await;
        let message = assert_error(&resp, StatusCode::BAD_REQUEST, "bad_request");
        assert!(
            message.contains(named),
            "message names `{named}`: {message}\nanswers: {sent}"
        );
    }

    let path = format!("/api/contests/{id}/submissions");
    let bodies: Vec<(&str, &str)> = vec![
        (r#"{"answers": [{"question_id": 1, "option": 0}"#, "EOF"),
        ("not json", "JSON"),
        ("", "JSON"),
        ("{}", "answers"),
        (r#"{"answers": {}}"#, "answers"),
        (r#"{"answers": [{"question_id": 1}]}"#, "option"),
        (
            r#"{"answers": [{"question_id": 1, "option": "0"}]}"#,
            "option",
        ),
        (r#"{"answers": [], "score": 3}"#, "score"),
    ];
    for (body, named) in bodies {
        let resp = app.raw(Method::POST, &path, Some(token), body).await;
        let message = assert_error(&resp, StatusCode::BAD_REQUEST, "bad_request");
        assert!(
            message.contains(named),
            "message names `{named}`: {message}\nbody: {body}"
        );
    }

    // None of these claimed the student's one submission.
    let resp = app.submit(id, token, all_right(&contest)).await;
    check_receipt(&resp, id, &students[0], SCORED_RECEIPT);
}

async fn submit_not_enrolled_is_403(app: &TestApp) {
    let (contest, _) = app.open_contest_with_students(1, None).await;
    let id = id_of(&contest);
    let (_, _, outsider) = app.student().await;
    let resp = app.submit(id, &outsider, all_right(&contest)).await;
    assert_error(&resp, StatusCode::FORBIDDEN, "not_enrolled");

    // Enrolled in another course is not enough.
    let other_course = app.create_course().await;
    let (elsewhere, _, token) = app.student().await;
    app.enroll(other_course, &[elsewhere]).await;
    let resp = app.submit(id, &token, all_right(&contest)).await;
    assert_error(&resp, StatusCode::FORBIDDEN, "not_enrolled");

    assert!(app.all_submissions(id).await.is_empty(), "nothing written");
}

async fn submit_outside_window_is_409(app: &TestApp) {
    let course = app.create_course().await;
    let students = app.logged_in_students(1).await;
    app.enroll(course, &[students[0].id]).await;
    let token = &students[0].token;
    for ((start, end), when) in [(upcoming_window(), "upcoming"), (closed_window(), "closed")] {
        let contest = app.create_contest(course, start, end, None).await;
        let id = id_of(&contest);
        let resp = app.submit(id, token, all_right(&contest)).await;
        assert_error(&resp, StatusCode::CONFLICT, "contest_not_open");
        // Not even an empty submission.
        let resp = app.submit(id, token, answers(&[])).await;
        assert_error(&resp, StatusCode::CONFLICT, "contest_not_open");
        assert!(
            app.all_submissions(id).await.is_empty(),
            "{when}: nothing written"
        );
        let resp = app.get(&my_submission(id), Some(token)).await;
        assert_error(&resp, StatusCode::NOT_FOUND, "not_found");
    }
}

async fn submit_twice_is_409_also_after_close(app: &TestApp) {
    let (contest, students) = app.open_contest_with_students(1, Some("immediate")).await;
    let id = id_of(&contest);
    let token = &students[0].token;
    let q = question_ids(&contest);
    let first = app.submit(id, token, answers(&[(q[1], 0)])).await;
    check_receipt(&first, id, &students[0], SCORED_RECEIPT);

    for again in [all_right(&contest), answers(&[(q[1], 0)]), answers(&[])] {
        let resp = app.submit(id, token, again).await;
        assert_error(&resp, StatusCode::CONFLICT, "already_submitted");
    }

    // Closed now: a later attempt is still `already_submitted`, not `contest_not_open`.
    let admin = app.admin_token().await;
    let end = json!({ "end_time": rfc3339(now_ms() - TimeDelta::seconds(1)) });
    let (status, view) = app
        .patch(&format!("/api/contests/{id}"), Some(&admin), Some(end))
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["status"], "closed");
    let resp = app.submit(id, token, all_right(&contest)).await;
    assert_error(&resp, StatusCode::CONFLICT, "already_submitted");

    // The first submission stands, unchanged.
    let rows = app.all_submissions(id).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["id"], first.1["id"]);
    assert_eq!(rows[0]["score"], 2);
    assert_eq!(rows[0]["answers"], answers(&[(q[1], 0)]));
}

/// The resource comes before the body: an unknown contest is 404 whatever the body.
async fn submit_unknown_contest_is_404_even_with_bad_body(app: &TestApp) {
    let (_, students) = app.open_contest_with_students(1, None).await;
    let token = &students[0].token;
    let path = "/api/contests/424242/submissions";
    let resp = app.submit(424_242, token, answers(&[(1, 0)])).await;
    assert_error(&resp, StatusCode::NOT_FOUND, "not_found");
    for body in ["{not json", "{}", r#"{"answers": 5}"#] {
        let resp = app.raw(Method::POST, path, Some(token), body).await;
        assert_error(&resp, StatusCode::NOT_FOUND, "not_found");
    }
}

async fn submit_inactive_contest_is_404(app: &TestApp) {
    let (contest, students) = app.open_contest_with_students(2, None).await;
    let id = id_of(&contest);
    // Warm, so the change has to reach the running contest.
    let (status, _) = app
        .get(&format!("/api/contests/{id}"), Some(&students[0].token))
        .await;
    assert_eq!(status, StatusCode::OK);
    let admin = app.admin_token().await;
    let (status, view) = app
        .patch(
            &format!("/api/contests/{id}"),
            Some(&admin),
            Some(json!({ "is_active": false })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");

    for student in &students {
        let resp = app.submit(id, &student.token, all_right(&contest)).await;
        assert_error(&resp, StatusCode::NOT_FOUND, "not_found");
    }
    let path = format!("/api/contests/{id}/submissions");
    let resp = app
        .raw(Method::POST, &path, Some(&students[0].token), "{bad")
        .await;
    assert_error(&resp, StatusCode::NOT_FOUND, "not_found");
    assert!(app.all_submissions(id).await.is_empty());
}

async fn submit_requires_token(app: &TestApp) {
    let (contest, _) = app.open_contest_with_students(1, None).await;
    let id = id_of(&contest);
    let path = format!("/api/contests/{id}/submissions");
    let body = json!({ "answers": all_right(&contest) });
    let resp = app.post(&path, None, Some(body.clone())).await;
    assert_error(&resp, StatusCode::UNAUTHORIZED, "unauthorized");
    let resp = app.post(&path, Some("not-a-token"), Some(body)).await;
    assert_error(&resp, StatusCode::UNAUTHORIZED, "unauthorized");
    let resp = app.raw(Method::POST, &path, None, "{bad").await;
    assert_error(&resp, StatusCode::UNAUTHORIZED, "unauthorized");
    assert!(app.all_submissions(id).await.is_empty());
}

/// Checks a my-submission object against the `201` of the submission: the same id, time (as
/// the same string) and receipt, and the answers sent, sorted by question.
#[track_caller]
fn check_own(own: &Value, created: &Value, sent: &Value) {
    assert_keys(own, OWN);
    for field in ["id", "contest_id", "student_id", "submitted_at", "receipt"] {
        assert_eq!(own[field], created[field], "{field}: {own}");
    }
    let mut sorted = sent.as_array().expect("answers").clone();
    sorted.sort_by_key(|a| a["question_id"].as_i64());
    assert_eq!(own["answers"], Value::Array(sorted), "{own}");
}

async fn my_submission_returns_answers_and_immediate_scores(app: &TestApp) {
    let (contest, students) = app.open_contest_with_students(1, Some("immediate")).await;
    let id = id_of(&contest);
    let token = &students[0].token;
    let q = question_ids(&contest);
    let sent = answers(&[(q[1], 0), (q[0], 2)]);
    let (status, receipt) = app.submit(id, token, sent.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{receipt}");

    let (status, own) = app.get(&my_submission(id), Some(token)).await;
    assert_eq!(status, StatusCode::OK, "{own}");
    check_own(&own, &receipt, &sent);
    assert_eq!(own["score"], 2, "{own}");
    assert_eq!(own["max_score"], 3, "{own}");
}

/// With `after_close`, scores are null while the contest is open and appear once it closes.
async fn my_submission_scores_appear_when_contest_closes(app: &TestApp) {
    let course = app.create_course().await;
    let students = app.logged_in_students(1).await;
    app.enroll(course, &[students[0].id]).await;
    let token = &students[0].token;
    let end = now_ms() + TimeDelta::seconds(4);
    let contest = app
        .create_contest(course, end - hours(1), end, Some("after_close"))
        .await;
    let id = id_of(&contest);
    let q = question_ids(&contest);
    let sent = answers(&[(q[0], 1)]);
    let (status, receipt) = app.submit(id, token, sent.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{receipt}");

    let (status, own) = app.get(&my_submission(id), Some(token)).await;
    assert_eq!(status, StatusCode::OK, "{own}");
    check_own(&own, &receipt, &sent);
    if Utc::now() < end {
        assert_eq!(own["score"], Value::Null, "hidden while open: {own}");
        assert_eq!(own["max_score"], Value::Null, "hidden while open: {own}");
    }
    let bulk = format!("/api/contests/my-submissions-bulk?contest_ids={id}");
    let (status, listed) = app.get(&bulk, Some(token)).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    if Utc::now() < end {
        assert_eq!(listed["submissions"][0]["score"], Value::Null, "{listed}");
    }

    let own = wait_for(
        "scores after the close",
        Duration::from_secs(15),
        || async {
            let (status, own) = app.get(&my_submission(id), Some(token)).await;
            assert_eq!(status, StatusCode::OK, "{own}");
            if own["score"].is_null() {
                assert!(
                    Utc::now() < end + TimeDelta::seconds(2),
                    "still hidden after the close: {own}"
                );
                return None;
            }
            Some(own)
        },
    )
    .await;
    assert!(Utc::now() >= end, "shown only once closed");
    check_own(&own, &receipt, &sent);
    assert_eq!(own["score"], 1, "{own}");
    assert_eq!(own["max_score"], 3, "{own}");

    let (status, listed) = app.get(&bulk, Some(token)).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert_eq!(listed["submissions"], json!([own]));
}

async fn my_submission_none_is_404(app: &TestApp) {
    let (contest, students) = app.open_contest_with_students(2, None).await;
    let id = id_of(&contest);
    let (status, _) = app
        .submit(id, &students[1].token, all_right(&contest))
        .await;
    assert_eq!(status, StatusCode::CREATED);

    let resp = app.get(&my_submission(id), Some(&students[0].token)).await;
    assert_error(&resp, StatusCode::NOT_FOUND, "not_found");
    let resp = app
        .get(&my_submission(424_242), Some(&students[0].token))
        .await;
    assert_error(&resp, StatusCode::NOT_FOUND, "not_found");
    let resp = app.get(&my_submission(id), None).await;
    assert_error(&resp, StatusCode::UNAUTHORIZED, "unauthorized");
}

async fn my_submissions_bulk_lists_only_submitted_contests(app: &TestApp) {
    let course = app.create_course().await;
    let students = app.logged_in_students(2).await;
    app.enroll(course, &[students[0].id, students[1].id]).await;
    let me = &students[0];
    let (start, end) = open_window();
    let immediate = app
        .create_contest(course, start, end, Some("immediate"))
        .await;
    let after_close = app.create_contest(course, start, end, None).await;
    let untouched = app.create_contest(course, start, end, None).await;
    let only_other = app.create_contest(course, start, end, None).await;

    let mut receipts = HashMap::new();
    for contest in [&immediate, &after_close] {
        let sent = all_right(contest);
        let (status, receipt) = app.submit(id_of(contest), &me.token, sent.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{receipt}");
        receipts.insert(id_of(contest), (receipt, sent));
    }
    let (status, _) = app
        .submit(
            id_of(&only_other),
            &students[1].token,
            all_right(&only_other),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    // A hidden contest is left out, as its my-submission is 404.
    let hidden = app.create_contest(course, start, end, None).await;
    let (status, _) = app
        .submit(id_of(&hidden), &me.token, all_right(&hidden))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let admin = app.admin_token().await;
    let (status, _) = app
        .patch(
            &format!("/api/contests/{}", id_of(&hidden)),
            Some(&admin),
            Some(json!({ "is_active": false })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let ids = [
        id_of(&untouched),
        id_of(&after_close),
        id_of(&hidden),
        424_242,
        id_of(&only_other),
        id_of(&immediate),
    ];
    let list = ids.map(|i| i.to_string()).join(",");
    let path = format!("/api/contests/my-submissions-bulk?contest_ids={list}");
    let (status, body) = app.get(&path, Some(&me.token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_keys(&body, &["submissions"]);
    let listed = body["submissions"].as_array().expect("submissions");
    assert_eq!(listed.len(), 2, "only contests with a submission: {body}");
    for own in listed {
        let contest = own["contest_id"].as_i64().expect("contest_id");
        let (receipt, sent) = receipts
            .get(&contest)
            .unwrap_or_else(|| panic!("contest {contest} is not one I submitted to"));
        check_own(own, receipt, sent);
        if contest == id_of(&immediate) {
            assert_eq!(own["score"], 3, "{own}");
            assert_eq!(own["max_score"], 3, "{own}");
        } else {
            assert_eq!(own["score"], Value::Null, "{own}");
            assert_eq!(own["max_score"], Value::Null, "{own}");
        }
    }
    assert_ne!(listed[0]["contest_id"], listed[1]["contest_id"]);

    // None at all.
    let path = format!(
        "/api/contests/my-submissions-bulk?contest_ids={}",
        id_of(&untouched)
    );
    let (status, body) = app.get(&path, Some(&me.token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({ "submissions": [] }));
}

async fn my_submissions_bulk_bad_ids_are_400(app: &TestApp) {
    let (_, _, token) = app.student().await;
    let hundred: Vec<String> = (1..=100).map(|i| i.to_string()).collect();
    let hundred_one: Vec<String> = (1..=101).map(|i| i.to_string()).collect();
    let base = "/api/contests/my-submissions-bulk";
    for query in [
        "?contest_ids=".to_string(),
        "?contest_ids=,".to_string(),
        String::new(),
        format!("?contest_ids={}", hundred_one.join(",")),
        "?contest_ids=1,x".to_string(),
        "?contest_ids=1.5".to_string(),
        "?contest_ids=abc".to_string(),
    ] {
        let resp = app.get(&format!("{base}{query}"), Some(&token)).await;
        assert_error(&resp, StatusCode::BAD_REQUEST, "bad_request");
    }
    let (status, body) = app
        .get(
            &format!("{base}?contest_ids={}", hundred.join(",")),
            Some(&token),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "100 ids are allowed: {body}");
    assert_eq!(body, json!({ "submissions": [] }));
    let resp = app.get(&format!("{base}?contest_ids=1"), None).await;
    assert_error(&resp, StatusCode::UNAUTHORIZED, "unauthorized");
}

/// API.md's order: the body (400) before the rules (403 `not_enrolled`, 409).
async fn bad_answers_are_reported_before_the_rules(app: &TestApp) {
    let course = app.create_course().await;
    let students = app.logged_in_students(1).await;
    app.enroll(course, &[students[0].id]).await;
    let (_, _, outsider) = app.student().await;
    let bad = answers(&[(424_242, 0)]);
    let (start, end) = open_window();
    let open = app.create_contest(course, start, end, None).await;
    let (start, end) = upcoming_window();
    let upcoming = app.create_contest(course, start, end, None).await;
    let (start, end) = closed_window();
    let closed = app.create_contest(course, start, end, None).await;

    for (contest, token) in [
        (&open, outsider.as_str()),
        (&upcoming, &students[0].token),
        (&closed, &students[0].token),
    ] {
        let resp = app.submit(id_of(contest), token, bad.clone()).await;
        assert_error(&resp, StatusCode::BAD_REQUEST, "bad_request");
    }
    let (status, _) = app
        .submit(id_of(&open), &students[0].token, all_right(&open))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let resp = app.submit(id_of(&open), &students[0].token, bad).await;
    assert_error(&resp, StatusCode::BAD_REQUEST, "bad_request");
}

async fn list_contests_marks_what_the_student_submitted(app: &TestApp) {
    let (first, students) = app.open_contest_with_students(2, None).await;
    let course = first["course_id"].as_i64().unwrap();
    let (start, end) = open_window();
    let second = app
        .create_contest(course, start + TimeDelta::minutes(1), end, None)
        .await;
    let (status, _) = app
        .submit(id_of(&second), &students[0].token, all_right(&second))
        .await;
    assert_eq!(status, StatusCode::CREATED);

    let submitted = |token: String| async move {
        let (status, body) = app.get("/api/contests", Some(&token)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["contests"]
            .as_array()
            .expect("contests")
            .iter()
            .map(|c| (id_of(c), c["submitted"].as_bool().expect("a boolean")))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        submitted(students[0].token.clone()).await,
        [(id_of(&first), false), (id_of(&second), true)]
    );
    assert_eq!(
        submitted(students[1].token.clone()).await,
        [(id_of(&first), false), (id_of(&second), false)]
    );
    assert_eq!(
        submitted(app.admin_token().await).await,
        [(id_of(&first), false), (id_of(&second), false)],
        "admins always see false"
    );
}
