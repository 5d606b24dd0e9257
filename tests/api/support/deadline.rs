//! Helpers of the tests that wait for a deadline (drafts, personal windows): the draft and
//! my-submission requests they share, waiting for an instant the test set itself, and polling
//! for an auto-submission.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use reqwest::StatusCode;
use serde_json::Value;

use super::{assert_error, parse_time, rfc3339, wait_for, Student, TestApp};

/// How late a poll may notice what the server did by its deadline: the poll's own round trip.
pub const POLL_SLACK: TimeDelta = TimeDelta::milliseconds(500);

/// API.md: a draft becomes a submission within 2 s of the end of the student's window.
pub const AUTO_WITHIN: TimeDelta = TimeDelta::seconds(2);

pub fn draft_path(contest: i64) -> String {
    format!("/api/contests/{contest}/draft")
}

fn my_submission_path(contest: i64) -> String {
    format!("/api/contests/{contest}/my-submission")
}

/// A course with `n` enrolled, logged-in students, sorted by id.
pub async fn course_with_students(app: &TestApp, n: usize) -> (i64, Vec<Student>) {
    let course = app.create_course().await;
    let mut students = app.logged_in_students(n).await;
    students.sort_by_key(|s| s.id);
    let ids: Vec<i64> = students.iter().map(|s| s.id).collect();
    app.enroll(course, &ids).await;
    (course, students)
}

/// Answers sorted by `question_id`: the server may list them in either order.
#[track_caller]
pub fn sorted(answers: &Value) -> Value {
    let mut list = answers
        .as_array()
        .unwrap_or_else(|| panic!("an answers array, got {answers}"))
        .clone();
    list.sort_by_key(|a| a["question_id"].as_i64().expect("a question_id"));
    Value::Array(list)
}

/// The student's own submission, or `None` on `404`.
pub async fn own_submission(app: &TestApp, contest: i64, token: &str) -> Option<Value> {
    let resp = app.get(&my_submission_path(contest), Some(token)).await;
    if resp.0 == StatusCode::NOT_FOUND {
        assert_error(&resp, StatusCode::NOT_FOUND, "not_found");
        return None;
    }
    assert_eq!(resp.0, StatusCode::OK, "my-submission: {}", resp.1);
    Some(resp.1)
}

/// Sleeps until the wall-clock instant `t` (one the test set itself, such as a contest's end).
pub async fn sleep_until(t: DateTime<Utc>) {
    if let Ok(d) = (t - Utc::now()).to_std() {
        actix_web::rt::time::sleep(d).await;
    }
}

/// What is left until `t` (zero when it has passed): a `wait_for` timeout.
pub fn until(t: DateTime<Utc>) -> Duration {
    (t - Utc::now()).to_std().unwrap_or_default()
}

/// Fails the test when its set-up ran past the instant it had to finish by (the test would
/// check nothing then); says so plainly.
#[track_caller]
pub fn assert_before(t: DateTime<Utc>, what: &str) {
    assert!(
        Utc::now() < t,
        "{what} had to finish before {} (the test's own schedule): the machine is too slow",
        rfc3339(t)
    );
}

/// Polls the student's my-submission until there is one, failing after `by` (plus the poll's
/// slack); checks it was made at or after `not_before` and by `by`.
pub async fn wait_for_auto_submission(
    app: &TestApp,
    contest: i64,
    student: &Student,
    not_before: DateTime<Utc>,
    by: DateTime<Utc>,
) -> Value {
    let what = format!(
        "{}'s draft auto-submitted by {}",
        student.username,
        rfc3339(by)
    );
    let own = wait_for(&what, until(by + POLL_SLACK), || async {
        let own = own_submission(app, contest, &student.token).await;
        if own.is_some() {
            assert!(
                Utc::now() >= not_before,
                "{}: a submission before the deadline {}: {own:?}",
                student.username,
                rfc3339(not_before)
            );
        }
        own
    })
    .await;
    assert_eq!(own["auto"], true, "{}: {own}", student.username);
    let at = parse_time(&own["submitted_at"]);
    assert!(
        at >= not_before && at <= by,
        "{}: auto-submitted at {}, expected between {} and {}: {own}",
        student.username,
        rfc3339(at),
        rfc3339(not_before),
        rfc3339(by)
    );
    own
}
