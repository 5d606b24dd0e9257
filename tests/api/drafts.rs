//! Drafts and the deadline (API.md): `PUT`/`GET /api/contests/{id}/draft`, the auto-submission
//! of a student's draft when their window ends (also after a `kill -9` and a restart past the
//! end), `grace_seconds`, the one-submission rule when a hand submit races the auto-submission,
//! and the `auto` mark in submission bodies, the admin list and the CSV.
//!
//! The tests that wait for a deadline set it a few seconds ahead themselves and sleep until that
//! instant; everything the server does after it is polled with a deadline.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, TimeDelta, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::support::{
    answers, assert_before, assert_error, assert_keys, closed_window, contest_body,
    course_with_students, csv_rows, draft_path, hours, id_of, now_ms, open_window, own_submission,
    parse_time, question_ids, rfc3339, sleep_until, sorted, spawn_binary, str_field, until,
    upcoming_window, wait_for, wait_for_auto_submission, Db, Resp, Student, TestApp, AUTO_WITHIN,
    CSV_COLUMNS, POLL_SLACK,
};

both_databases!(
    draft_save_replace_and_read,
    draft_is_per_student_and_contest,
    draft_ends_with_a_hand_submission,
    draft_refused_outside_the_window,
    draft_bad_answers_are_400_and_change_nothing,
    draft_not_enrolled_unknown_or_hidden_contest,
    draft_requires_a_token,
    grace_seconds_is_validated_and_shown,
    drafts_are_auto_submitted_at_the_end,
    grace_accepts_late_work_and_delays_the_auto_submission,
    hand_submits_racing_the_auto_submission_keep_one_each,
    admin_list_and_csv_mark_auto_submissions,
    moving_the_end_moves_the_auto_submission;
    with_db: draft_survives_kill_9_and_is_auto_submitted_after_a_restart_past_the_end,
    draft_survives_kill_9_and_a_restart_before_the_end
);

const DRAFT: &[&str] = &["contest_id", "answers", "saved_at"];

async fn put_draft(app: &TestApp, contest: i64, token: &str, sent: Value) -> Resp {
    let body = json!({ "answers": sent });
    app.put(&draft_path(contest), Some(token), Some(body)).await
}

async fn get_draft(app: &TestApp, contest: i64, token: &str) -> Resp {
    app.get(&draft_path(contest), Some(token)).await
}

/// Checks a `200` draft body for this contest and these answers; returns its `saved_at`.
#[track_caller]
fn check_draft(resp: &Resp, contest: i64, sent: &Value) -> DateTime<Utc> {
    let (status, body) = resp;
    assert_eq!(*status, StatusCode::OK, "{body}");
    assert_keys(body, DRAFT);
    assert_eq!(body["contest_id"], contest, "{body}");
    assert_eq!(sorted(&body["answers"]), sorted(sent), "{body}");
    parse_time(&body["saved_at"])
}

/// Asserts `GET …/draft` is `404 not_found`.
async fn assert_no_draft(app: &TestApp, contest: i64, student: &Student) {
    let resp = get_draft(app, contest, &student.token).await;
    assert!(
        resp.0 == StatusCode::NOT_FOUND,
        "{}: no draft expected, got {} {}",
        student.username,
        resp.0,
        resp.1
    );
    assert_error(&resp, StatusCode::NOT_FOUND, "not_found");
}

/// The admin list's rows by student id (each student at most once).
#[track_caller]
fn by_student(rows: &[Value]) -> HashMap<i64, Value> {
    let map: HashMap<i64, Value> = rows
        .iter()
        .map(|r| (r["student_id"].as_i64().expect("student_id"), r.clone()))
        .collect();
    assert_eq!(map.len(), rows.len(), "one row per student: {rows:?}");
    map
}

/// Creates a contest of `contest_body`'s two questions (1 and 2 points; right options 1 and 0)
/// that opened an hour ago and ends at `end`, with `results: immediate` and `grace_seconds`.
async fn contest_ending_at(app: &TestApp, course: i64, end: DateTime<Utc>, grace: i64) -> Value {
    let mut body = contest_body(course, end - hours(1), end);
    body["results"] = json!("immediate");
    body["grace_seconds"] = json!(grace);
    let contest = app.create_contest_from(body).await;
    assert_eq!(contest["grace_seconds"], grace, "{contest}");
    contest
}

async fn draft_save_replace_and_read(app: &TestApp) {
    let (contest, students) = app.open_contest_with_students(1, None).await;
    let id = id_of(&contest);
    let me = &students[0];
    let q = question_ids(&contest);

    assert_no_draft(app, id, me).await;

    let first = answers(&[(q[0], 2)]);
    let before = now_ms();
    let resp = put_draft(app, id, &me.token, first.clone()).await;
    let saved = check_draft(&resp, id, &first);
    assert!(
        saved >= before - TimeDelta::seconds(1) && saved <= Utc::now() + TimeDelta::seconds(1),
        "saved_at {} is the time of the save",
        rfc3339(saved)
    );
    let read = get_draft(app, id, &me.token).await;
    assert_eq!(check_draft(&read, id, &first), saved, "{}", read.1);

    // The server keeps milliseconds: let the clock move past the first save.
    sleep_until(saved + TimeDelta::milliseconds(5)).await;
    let second = answers(&[(q[1], 1), (q[0], 1)]);
    let resp = put_draft(app, id, &me.token, second.clone()).await;
    let saved_again = check_draft(&resp, id, &second);
    assert!(
        saved_again > saved,
        "saved_at increases: {} then {}",
        rfc3339(saved),
        rfc3339(saved_again)
    );
    let read = get_draft(app, id, &me.token).await;
    assert_eq!(
        check_draft(&read, id, &second),
        saved_again,
        "the last save wins: {}",
        read.1
    );

    // An empty draft is a draft too, and replaces the last one.
    sleep_until(saved_again + TimeDelta::milliseconds(5)).await;
    let resp = put_draft(app, id, &me.token, answers(&[])).await;
    let emptied = check_draft(&resp, id, &answers(&[]));
    assert!(emptied > saved_again);
    let read = get_draft(app, id, &me.token).await;
    assert_eq!(check_draft(&read, id, &answers(&[])), emptied, "{}", read.1);

    // Saving is not submitting.
    assert_eq!(own_submission(app, id, &me.token).await, None);
    assert!(app.all_submissions(id).await.is_empty());
}

async fn draft_is_per_student_and_contest(app: &TestApp) {
    let (contest, students) = app.open_contest_with_students(2, None).await;
    let id = id_of(&contest);
    let q = question_ids(&contest);
    let (start, end) = open_window();
    let other = app
        .create_contest(contest["course_id"].as_i64().unwrap(), start, end, None)
        .await;
    let other_id = id_of(&other);
    let oq = question_ids(&other);

    let mine = answers(&[(q[0], 1)]);
    check_draft(
        &put_draft(app, id, &students[0].token, mine.clone()).await,
        id,
        &mine,
    );
    assert_no_draft(app, id, &students[1]).await;
    assert_no_draft(app, other_id, &students[0]).await;

    let theirs = answers(&[(q[1], 0)]);
    check_draft(
        &put_draft(app, id, &students[1].token, theirs.clone()).await,
        id,
        &theirs,
    );
    let elsewhere = answers(&[(oq[1], 1)]);
    check_draft(
        &put_draft(app, other_id, &students[0].token, elsewhere.clone()).await,
        other_id,
        &elsewhere,
    );

    check_draft(&get_draft(app, id, &students[0].token).await, id, &mine);
    check_draft(&get_draft(app, id, &students[1].token).await, id, &theirs);
    check_draft(
        &get_draft(app, other_id, &students[0].token).await,
        other_id,
        &elsewhere,
    );
    // A question of the other contest is unknown here.
    let resp = put_draft(app, id, &students[0].token, answers(&[(oq[0], 0)])).await;
    assert_error(&resp, StatusCode::BAD_REQUEST, "bad_request");
    check_draft(&get_draft(app, id, &students[0].token).await, id, &mine);
}

/// The contest's `drafts` in `/health` (it is warm: the test used it).
async fn drafts_shown(app: &TestApp, contest: i64) -> u64 {
    let health = app.health().await;
    health["actors"]["contests"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["contest_id"] == contest))
        .and_then(|c| c["drafts"].as_u64())
        .unwrap_or_else(|| panic!("contest {contest}'s drafts in {health}"))
}

async fn draft_ends_with_a_hand_submission(app: &TestApp) {
    let (contest, students) = app.open_contest_with_students(2, Some("immediate")).await;
    let id = id_of(&contest);
    let q = question_ids(&contest);
    let me = &students[0];
    let drafted = answers(&[(q[0], 0), (q[1], 1)]);
    check_draft(
        &put_draft(app, id, &me.token, drafted.clone()).await,
        id,
        &drafted,
    );
    assert_eq!(drafts_shown(app, id).await, 1, "/health counts the draft");

    // The hand submission counts, with its own answers, not the draft's.
    let sent = answers(&[(q[1], 0)]);
    let (status, receipt) = app.submit(id, &me.token, sent.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{receipt}");
    assert_eq!(receipt["auto"], false, "a hand submission: {receipt}");
    assert_eq!(receipt["score"], 2, "{receipt}");

    assert_no_draft(app, id, me).await;
    assert_eq!(drafts_shown(app, id).await, 0, "/health: the draft ended");
    let resp = put_draft(app, id, &me.token, drafted.clone()).await;
    assert_error(&resp, StatusCode::CONFLICT, "already_submitted");
    let resp = put_draft(app, id, &me.token, answers(&[])).await;
    assert_error(&resp, StatusCode::CONFLICT, "already_submitted");
    assert_no_draft(app, id, me).await;

    let own = own_submission(app, id, &me.token)
        .await
        .expect("my submission");
    assert_eq!(own["id"], receipt["id"], "{own}");
    assert_eq!(own["auto"], false, "{own}");
    assert_eq!(sorted(&own["answers"]), sorted(&sent), "{own}");

    // Closed as well: both rules apply, `already_submitted` wins.
    let admin = app.admin_token().await;
    let end = json!({ "end_time": rfc3339(now_ms() - TimeDelta::seconds(1)) });
    let (status, view) = app
        .patch(&format!("/api/contests/{id}"), Some(&admin), Some(end))
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    let resp = put_draft(app, id, &me.token, drafted).await;
    assert_error(&resp, StatusCode::CONFLICT, "already_submitted");
    assert_no_draft(app, id, me).await;

    // The other student had no draft: closed, not submitted.
    let resp = put_draft(app, id, &students[1].token, answers(&[])).await;
    assert_error(&resp, StatusCode::CONFLICT, "contest_not_open");

    let rows = app.all_submissions(id).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["id"], receipt["id"]);
    assert_eq!(rows[0]["auto"], false, "{}", rows[0]);
}

async fn draft_refused_outside_the_window(app: &TestApp) {
    let (course, students) = course_with_students(app, 1).await;
    let me = &students[0];
    let admin = app.admin_token().await;
    let mut cases = Vec::new();
    for ((start, end), grace, when) in [
        (upcoming_window(), 0, "upcoming"),
        (upcoming_window(), 300, "upcoming, with a grace"),
        (closed_window(), 0, "closed"),
        (
            closed_window(),
            300,
            "closed an hour ago, past a grace of 300 s",
        ),
    ] {
        let mut body = contest_body(course, start, end);
        body["grace_seconds"] = json!(grace);
        cases.push((app.create_contest_from(body).await, when));
    }
    // Closed a moment ago, without a grace: the end is the end.
    let (start, end) = open_window();
    let just_closed = app.create_contest(course, start, end, None).await;
    let change = json!({ "end_time": rfc3339(now_ms() - TimeDelta::seconds(1)) });
    let (status, view) = app
        .patch(
            &format!("/api/contests/{}", id_of(&just_closed)),
            Some(&admin),
            Some(change),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    cases.push((just_closed, "closed a second ago"));

    for (contest, when) in &cases {
        let id = id_of(contest);
        let q = question_ids(contest);
        for sent in [answers(&[(q[0], 1)]), answers(&[])] {
            let resp = put_draft(app, id, &me.token, sent).await;
            assert_eq!(resp.0, StatusCode::CONFLICT, "{when}: {}", resp.1);
            assert_error(&resp, StatusCode::CONFLICT, "contest_not_open");
        }
        // The body comes before the rules.
        let resp = put_draft(app, id, &me.token, answers(&[(424_242, 0)])).await;
        assert_error(&resp, StatusCode::BAD_REQUEST, "bad_request");
        assert_no_draft(app, id, me).await;
        assert!(
            app.all_submissions(id).await.is_empty(),
            "{when}: nothing written"
        );
    }
}

async fn draft_bad_answers_are_400_and_change_nothing(app: &TestApp) {
    let (contest, students) = app.open_contest_with_students(1, None).await;
    let id = id_of(&contest);
    let token = &students[0].token;
    let q = question_ids(&contest);
    let kept = answers(&[(q[0], 1)]);
    check_draft(&put_draft(app, id, token, kept.clone()).await, id, &kept);

    let cases: Vec<(Value, &str)> = vec![
        (answers(&[(424_242, 0)]), "question_id"),
        (answers(&[(q[0], 3)]), "option"),
        (answers(&[(q[1], 2)]), "option"),
        (answers(&[(q[0], -1)]), "option"),
        (answers(&[(q[0], 1), (q[1], 0), (q[0], 2)]), "answers[2]"),
        (answers(&[(q[1], 0), (q[1], 0)]), "answers[1]"),
    ];
    for (sent, named) in cases {
        let resp = put_draft(app, id, token, sent.clone()).await;
        let message = assert_error(&resp, StatusCode::BAD_REQUEST, "bad_request");
        assert!(
            message.contains(named),
            "message names `{named}`: {message}\nanswers: {sent}"
        );
    }
    let path = draft_path(id);
    let bodies: Vec<(&str, &str)> = vec![
        (r#"{"answers": [{"question_id": 1, "option": 0}"#, "EOF"),
        ("not json", "JSON"),
        ("", "JSON"),
        ("{}", "answers"),
        (r#"{"answers": {}}"#, "answers"),
        (r#"{"answers": null}"#, "answers"),
        (r#"{"answers": [{"question_id": 1}]}"#, "option"),
        (
            r#"{"answers": [{"question_id": 1, "option": "0"}]}"#,
            "option",
        ),
        (
            r#"{"answers": [], "saved_at": "2026-01-01T00:00:00Z"}"#,
            "saved_at",
        ),
    ];
    for (body, named) in bodies {
        let resp = app.raw(Method::PUT, &path, Some(token), body).await;
        let message = assert_error(&resp, StatusCode::BAD_REQUEST, "bad_request");
        assert!(
            message.contains(named),
            "message names `{named}`: {message}\nbody: {body}"
        );
    }
    // None of them touched the draft, nor made a submission.
    check_draft(&get_draft(app, id, token).await, id, &kept);
    assert!(app.all_submissions(id).await.is_empty());
}

async fn draft_not_enrolled_unknown_or_hidden_contest(app: &TestApp) {
    let (contest, students) = app.open_contest_with_students(2, None).await;
    let id = id_of(&contest);
    let q = question_ids(&contest);
    let sent = answers(&[(q[0], 1)]);

    // Not enrolled at all, or in another course only.
    let (_, _, outsider) = app.student().await;
    let other_course = app.create_course().await;
    let (elsewhere, _, elsewhere_token) = app.student().await;
    app.enroll(other_course, &[elsewhere]).await;
    for token in [&outsider, &elsewhere_token] {
        let resp = put_draft(app, id, token, sent.clone()).await;
        assert_error(&resp, StatusCode::FORBIDDEN, "not_enrolled");
        let resp = get_draft(app, id, token).await;
        assert_error(&resp, StatusCode::FORBIDDEN, "not_enrolled");
        // The body comes before the rules.
        let resp = put_draft(app, id, token, answers(&[(424_242, 0)])).await;
        assert_error(&resp, StatusCode::BAD_REQUEST, "bad_request");
    }

    // Enrolment removed after a draft: refused from then on.
    let leaver = &students[1];
    check_draft(
        &put_draft(app, id, &leaver.token, sent.clone()).await,
        id,
        &sent,
    );
    let admin = app.admin_token().await;
    let course = contest["course_id"].as_i64().unwrap();
    let (status, body) = app
        .delete(
            &format!("/api/courses/{course}/enrollments/{}", leaver.id),
            Some(&admin),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let resp = put_draft(app, id, &leaver.token, sent.clone()).await;
    assert_error(&resp, StatusCode::FORBIDDEN, "not_enrolled");
    let resp = get_draft(app, id, &leaver.token).await;
    assert_error(&resp, StatusCode::FORBIDDEN, "not_enrolled");

    // An unknown contest is 404, whatever the body.
    let token = &students[0].token;
    let resp = put_draft(app, 424_242, token, sent.clone()).await;
    assert_error(&resp, StatusCode::NOT_FOUND, "not_found");
    let resp = get_draft(app, 424_242, token).await;
    assert_error(&resp, StatusCode::NOT_FOUND, "not_found");
    for body in ["{not json", "{}", r#"{"answers": 5}"#] {
        let resp = app
            .raw(Method::PUT, &draft_path(424_242), Some(token), body)
            .await;
        assert_error(&resp, StatusCode::NOT_FOUND, "not_found");
    }

    // A hidden contest is unknown to students, even with a draft saved before.
    check_draft(&put_draft(app, id, token, sent.clone()).await, id, &sent);
    let (status, view) = app
        .patch(
            &format!("/api/contests/{id}"),
            Some(&admin),
            Some(json!({ "is_active": false })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    let resp = put_draft(app, id, token, sent.clone()).await;
    assert_error(&resp, StatusCode::NOT_FOUND, "not_found");
    let resp = get_draft(app, id, token).await;
    assert_error(&resp, StatusCode::NOT_FOUND, "not_found");
    let resp = app
        .raw(Method::PUT, &draft_path(id), Some(token), "{bad")
        .await;
    assert_error(&resp, StatusCode::NOT_FOUND, "not_found");
    assert!(app.all_submissions(id).await.is_empty());
}

async fn draft_requires_a_token(app: &TestApp) {
    let (contest, students) = app.open_contest_with_students(1, None).await;
    let id = id_of(&contest);
    let path = draft_path(id);
    let body = json!({ "answers": [] });
    for token in [None, Some("not-a-token")] {
        let resp = app.put(&path, token, Some(body.clone())).await;
        assert_error(&resp, StatusCode::UNAUTHORIZED, "unauthorized");
        let resp = app.get(&path, token).await;
        assert_error(&resp, StatusCode::UNAUTHORIZED, "unauthorized");
    }
    let resp = app.raw(Method::PUT, &path, None, "{bad").await;
    assert_error(&resp, StatusCode::UNAUTHORIZED, "unauthorized");
    // A token in the query is ignored outside the WebSocket upgrade.
    let with_query = format!("{path}?token={}", students[0].token);
    let resp = app.put(&with_query, None, Some(body)).await;
    assert_error(&resp, StatusCode::UNAUTHORIZED, "unauthorized");
    assert_no_draft(app, id, &students[0]).await;
}

async fn grace_seconds_is_validated_and_shown(app: &TestApp) {
    let course = app.create_course().await;
    let admin = app.admin_token().await;
    let (start, end) = open_window();

    let contest = app.create_contest(course, start, end, None).await;
    assert_eq!(contest["grace_seconds"], 0, "the default: {contest}");
    for grace in [0, 1, 300] {
        let mut body = contest_body(course, start, end);
        body["grace_seconds"] = json!(grace);
        let view = app.create_contest_from(body).await;
        assert_eq!(view["grace_seconds"], grace, "{view}");
        let (status, read) = app
            .get(&format!("/api/contests/{}", id_of(&view)), Some(&admin))
            .await;
        assert_eq!(status, StatusCode::OK, "{read}");
        assert_eq!(read["grace_seconds"], grace, "the admin view: {read}");
    }
    let bad = [
        json!(-1),
        json!(301),
        json!(1.5),
        json!("5"),
        json!(i64::MAX),
    ];
    for grace in &bad {
        let mut body = contest_body(course, start, end);
        body["grace_seconds"] = grace.clone();
        let resp = app.post("/api/contests", Some(&admin), Some(body)).await;
        let message = assert_error(&resp, StatusCode::BAD_REQUEST, "bad_request");
        assert!(
            message.contains("grace_seconds"),
            "grace_seconds {grace}: {message}"
        );
    }

    let path = format!("/api/contests/{}", id_of(&contest));
    let (status, view) = app
        .patch(&path, Some(&admin), Some(json!({ "grace_seconds": 120 })))
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["grace_seconds"], 120, "{view}");
    for grace in &bad {
        let resp = app
            .patch(&path, Some(&admin), Some(json!({ "grace_seconds": grace })))
            .await;
        let message = assert_error(&resp, StatusCode::BAD_REQUEST, "bad_request");
        assert!(
            message.contains("grace_seconds"),
            "grace_seconds {grace}: {message}"
        );
    }
    let (status, read) = app.get(&path, Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{read}");
    assert_eq!(
        read["grace_seconds"], 120,
        "refused changes change nothing: {read}"
    );
}

/// A (draft, never submits), B (draft, submits by hand), C (nothing): after the end, A has an
/// automatic submission of the last draft within 2 s, B only the hand one, C none.
async fn drafts_are_auto_submitted_at_the_end(app: &TestApp) {
    let (course, students) = course_with_students(app, 3).await;
    let [a, b, c] = [&students[0], &students[1], &students[2]];
    let end = now_ms() + TimeDelta::seconds(4);
    let contest = contest_ending_at(app, course, end, 0).await;
    let id = id_of(&contest);
    let q = question_ids(&contest);

    // A's last draft wins: one right answer of 1 point.
    let early = answers(&[(q[0], 1), (q[1], 0)]);
    check_draft(
        &put_draft(app, id, &a.token, early.clone()).await,
        id,
        &early,
    );
    let a_last = answers(&[(q[0], 1), (q[1], 1)]);
    check_draft(
        &put_draft(app, id, &a.token, a_last.clone()).await,
        id,
        &a_last,
    );

    let b_draft = answers(&[(q[0], 1), (q[1], 0)]);
    check_draft(
        &put_draft(app, id, &b.token, b_draft.clone()).await,
        id,
        &b_draft,
    );
    let b_sent = answers(&[(q[1], 0)]);
    let (status, b_receipt) = app.submit(id, &b.token, b_sent.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{b_receipt}");
    assert_eq!(b_receipt["auto"], false, "{b_receipt}");

    // Before the end: only B's.
    let rows = app.all_submissions(id).await;
    let a_own = own_submission(app, id, &a.token).await;
    let a_draft = get_draft(app, id, &a.token).await;
    assert_before(end, "saving the drafts and B's submission");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(a_own, None);
    check_draft(&a_draft, id, &a_last);

    sleep_until(end).await;
    let own = wait_for_auto_submission(app, id, a, end, end + AUTO_WITHIN).await;
    assert_eq!(own["student_id"], a.id, "{own}");
    assert_eq!(own["contest_id"], id, "{own}");
    assert_eq!(
        sorted(&own["answers"]),
        sorted(&a_last),
        "the draft's answers: {own}"
    );
    assert_eq!(own["score"], 1, "{own}");
    assert_eq!(own["max_score"], 3, "{own}");

    // Nothing more for anyone, also a while later.
    sleep_until(end + AUTO_WITHIN + POLL_SLACK).await;
    let rows = by_student(&app.all_submissions(id).await);
    assert_eq!(rows.len(), 2, "A's and B's: {rows:?}");
    let a_row = &rows[&a.id];
    assert_eq!(a_row["id"], own["id"], "{a_row}");
    assert_eq!(a_row["auto"], true, "{a_row}");
    assert_eq!(a_row["score"], 1, "{a_row}");
    let b_row = &rows[&b.id];
    assert_eq!(
        b_row["id"], b_receipt["id"],
        "B's hand submission only: {b_row}"
    );
    assert_eq!(b_row["auto"], false, "{b_row}");
    assert_eq!(sorted(&b_row["answers"]), sorted(&b_sent), "{b_row}");
    assert_eq!(b_row["score"], 2, "{b_row}");
    assert!(!rows.contains_key(&c.id), "C had no draft: {rows:?}");

    let b_own = own_submission(app, id, &b.token)
        .await
        .expect("B's submission");
    assert_eq!(b_own["auto"], false, "{b_own}");
    assert_eq!(own_submission(app, id, &c.token).await, None);
    let bulk = format!("/api/contests/my-submissions-bulk?contest_ids={id}");
    let (status, listed) = app.get(&bulk, Some(&a.token)).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert_eq!(
        listed["submissions"].as_array().map(Vec::len),
        Some(1),
        "{listed}"
    );
    assert_eq!(listed["submissions"][0]["id"], own["id"], "{listed}");
    assert_eq!(listed["submissions"][0]["auto"], true, "{listed}");

    // The submissions ended the drafts; A's one submission is taken.
    for s in [a, b, c] {
        assert_no_draft(app, id, s).await;
    }
    let resp = app.submit(id, &a.token, answers(&[])).await;
    assert_error(&resp, StatusCode::CONFLICT, "already_submitted");
    let resp = put_draft(app, id, &a.token, answers(&[])).await;
    assert_error(&resp, StatusCode::CONFLICT, "already_submitted");
    let resp = put_draft(app, id, &c.token, answers(&[])).await;
    assert_error(&resp, StatusCode::CONFLICT, "contest_not_open");
    let resp = app.submit(id, &c.token, answers(&[])).await;
    assert_error(&resp, StatusCode::CONFLICT, "contest_not_open");
}

const GRACE: i64 = 3;

/// With `grace_seconds` 3: a submission and a draft save 1 s after the official end are
/// accepted while `status` says closed; the drafts are auto-submitted only after end + 3 s (none
/// at end + 1 s), within 2 s of it; after the grace, the window is shut.
async fn grace_accepts_late_work_and_delays_the_auto_submission(app: &TestApp) {
    let (course, students) = course_with_students(app, 4).await;
    // D drafts before the end, L submits late, S saves a draft late, N comes after the grace.
    let [d, l, s, n] = [&students[0], &students[1], &students[2], &students[3]];
    let end = now_ms() + TimeDelta::seconds(3);
    let grace = TimeDelta::seconds(GRACE);
    let contest = contest_ending_at(app, course, end, GRACE).await;
    let id = id_of(&contest);
    let q = question_ids(&contest);

    let d_draft = answers(&[(q[1], 0)]);
    check_draft(
        &put_draft(app, id, &d.token, d_draft.clone()).await,
        id,
        &d_draft,
    );
    let s_early = answers(&[(q[0], 0)]);
    check_draft(
        &put_draft(app, id, &s.token, s_early.clone()).await,
        id,
        &s_early,
    );
    assert_before(end, "saving the drafts");

    sleep_until(end + TimeDelta::seconds(1)).await;
    // Nobody was auto-submitted during the grace.
    assert_eq!(
        own_submission(app, id, &d.token).await,
        None,
        "D, at end + 1 s"
    );
    check_draft(&get_draft(app, id, &d.token).await, id, &d_draft);
    assert!(
        app.all_submissions(id).await.is_empty(),
        "nothing at end + 1 s"
    );
    // The timer shows the official end.
    let (status, view) = app
        .get(&format!("/api/contests/{id}"), Some(&l.token))
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["status"], "closed", "{view}");
    assert_eq!(parse_time(&view["end_time"]), end, "{view}");

    let l_sent = answers(&[(q[0], 1), (q[1], 0)]);
    let (status, l_receipt) = app.submit(id, &l.token, l_sent.clone()).await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "a late submission in the grace: {l_receipt}"
    );
    assert_eq!(l_receipt["auto"], false, "{l_receipt}");
    assert_eq!(l_receipt["score"], 3, "{l_receipt}");
    assert!(parse_time(&l_receipt["submitted_at"]) >= end, "{l_receipt}");
    let s_late = answers(&[(q[0], 1)]);
    check_draft(
        &put_draft(app, id, &s.token, s_late.clone()).await,
        id,
        &s_late,
    );
    assert_eq!(
        own_submission(app, id, &d.token).await,
        None,
        "D, still in the grace"
    );
    assert_before(end + grace, "the checks during the grace");

    sleep_until(end + grace).await;
    let by = end + grace + AUTO_WITHIN;
    let d_own = wait_for_auto_submission(app, id, d, end + grace, by).await;
    assert_eq!(sorted(&d_own["answers"]), sorted(&d_draft), "{d_own}");
    assert_eq!(d_own["score"], 2, "{d_own}");
    let s_own = wait_for_auto_submission(app, id, s, end + grace, by).await;
    assert_eq!(
        sorted(&s_own["answers"]),
        sorted(&s_late),
        "the draft saved in the grace: {s_own}"
    );
    assert_eq!(s_own["score"], 1, "{s_own}");

    // After the grace: shut.
    let resp = app.submit(id, &n.token, answers(&[])).await;
    assert_error(&resp, StatusCode::CONFLICT, "contest_not_open");
    let resp = put_draft(app, id, &n.token, answers(&[])).await;
    assert_error(&resp, StatusCode::CONFLICT, "contest_not_open");
    assert_no_draft(app, id, n).await;

    let rows = by_student(&app.all_submissions(id).await);
    assert_eq!(rows.len(), 3, "D's, L's and S's: {rows:?}");
    assert_eq!(rows[&l.id]["id"], l_receipt["id"]);
    assert_eq!(rows[&l.id]["auto"], false);
    assert_eq!(rows[&d.id]["auto"], true);
    assert_eq!(rows[&s.id]["auto"], true);
    for student in [d, l, s] {
        assert_no_draft(app, id, student).await;
    }
}

const RACERS: usize = 20;
/// When each racer submits, in ms from the deadline: spread around it, and packed into the first
/// milliseconds after it, where the deadline's own timer may not have fired yet.
const OFFSETS_MS: [i64; RACERS] = [
    -100, -60, -30, -15, -8, -4, -2, -1, 0, 0, 0, 1, 1, 2, 3, 5, 10, 25, 50, 90,
];

/// Every racer has a draft and submits by hand around the deadline (`OFFSETS_MS`, all in flight
/// together): each ends with exactly one submission, the hand one when the submit got `201`,
/// the draft when it got `409 already_submitted`.
async fn hand_submits_racing_the_auto_submission_keep_one_each(app: &TestApp) {
    let (course, students) = course_with_students(app, RACERS).await;
    let end = now_ms() + TimeDelta::seconds(4);
    let contest = contest_ending_at(app, course, end, 0).await;
    let id = id_of(&contest);
    let q = question_ids(&contest);
    let drafted = answers(&[(q[0], 0)]);
    let by_hand = answers(&[(q[0], 1), (q[1], 0)]);

    let saves = futures::future::join_all(
        students
            .iter()
            .map(|s| put_draft(app, id, &s.token, drafted.clone())),
    )
    .await;
    for (s, resp) in students.iter().zip(&saves) {
        assert_eq!(resp.0, StatusCode::OK, "{}: {}", s.username, resp.1);
    }
    assert_before(end - TimeDelta::milliseconds(200), "saving the drafts");

    // Each submit: when it was sent and answered (ms from the deadline), and the answer.
    let submits = futures::future::join_all(students.iter().enumerate().map(|(i, s)| {
        let at = end + TimeDelta::milliseconds(OFFSETS_MS[i]);
        let sent = by_hand.clone();
        async move {
            sleep_until(at).await;
            let sent_at = (Utc::now() - end).num_milliseconds();
            let resp = app.submit(id, &s.token, sent).await;
            let answered_at = (Utc::now() - end).num_milliseconds();
            (sent_at, answered_at, resp)
        }
    }))
    .await;

    let everyone: HashSet<i64> = students.iter().map(|s| s.id).collect();
    wait_for(
        "a submission for every racer",
        until(end + AUTO_WITHIN + POLL_SLACK),
        || async {
            let rows = app.all_submissions(id).await;
            let stored: HashSet<i64> = rows
                .iter()
                .map(|r| r["student_id"].as_i64().expect("student_id"))
                .collect();
            (stored == everyone).then_some(())
        },
    )
    .await;
    // Late duplicates would show now.
    sleep_until(end + AUTO_WITHIN + POLL_SLACK).await;
    let rows = app.all_submissions(id).await;
    assert_eq!(rows.len(), RACERS, "exactly one each: {rows:?}");
    let rows = by_student(&rows);

    // What each racer saw and what was stored, one line each, for the failure messages.
    let outcomes: Vec<String> = students
        .iter()
        .zip(&submits)
        .map(|(s, (sent_at, answered_at, (status, body)))| {
            let code = body["error"]["code"].as_str().unwrap_or("-");
            format!(
                "{}: sent {sent_at:+} ms, answered {answered_at:+} ms: {status} {code}; \
                 stored auto={}",
                s.username, rows[&s.id]["auto"]
            )
        })
        .collect();
    let outcomes = outcomes.join("\n");

    // First what was stored: the hand submission for a 201, the draft otherwise.
    let (mut by_hand_count, mut auto_count) = (0, 0);
    for (s, (_, _, resp)) in students.iter().zip(&submits) {
        let row = &rows[&s.id];
        if resp.0 == StatusCode::CREATED {
            by_hand_count += 1;
            assert_eq!(resp.1["auto"], false, "{}: {}", s.username, resp.1);
            assert_eq!(
                row["id"], resp.1["id"],
                "{}: the hand one is stored: {row}\n{outcomes}",
                s.username
            );
            assert_eq!(row["auto"], false, "{}: {row}\n{outcomes}", s.username);
            assert_eq!(sorted(&row["answers"]), sorted(&by_hand), "{row}");
            assert_eq!(row["score"], 3, "{}: {row}", s.username);
        } else {
            auto_count += 1;
            assert_eq!(
                row["auto"], true,
                "{}: refused, so the draft is stored: {row}\n{outcomes}",
                s.username
            );
            assert_eq!(sorted(&row["answers"]), sorted(&drafted), "{row}");
            assert_eq!(row["score"], 0, "{}: {row}", s.username);
        }
        assert_no_draft(app, id, s).await;
    }
    eprintln!(
        "race ({:?}): {by_hand_count} hand submissions, {auto_count} auto-submissions\n{outcomes}",
        app.db
    );
    // Then the answers: a refused submit is `409 already_submitted` (the draft became the
    // student's submission at the deadline), never `contest_not_open`.
    for (s, (_, _, resp)) in students.iter().zip(&submits) {
        if resp.0 != StatusCode::CREATED {
            let code = resp.1["error"]["code"].as_str();
            assert!(
                resp.0 == StatusCode::CONFLICT && code == Some("already_submitted"),
                "{}: 201 or 409 already_submitted, got {} {}\n{outcomes}",
                s.username,
                resp.0,
                resp.1
            );
            assert_error(resp, StatusCode::CONFLICT, "already_submitted");
        }
    }
}

/// The admin list's `auto` field and the CSV's `auto` column (right after `answers`) say which
/// submissions were made from a draft.
async fn admin_list_and_csv_mark_auto_submissions(app: &TestApp) {
    let (course, students) = course_with_students(app, 3).await;
    let [hand, drafter, idle] = [&students[0], &students[1], &students[2]];
    let end = now_ms() + TimeDelta::seconds(3);
    let contest = contest_ending_at(app, course, end, 0).await;
    let id = id_of(&contest);
    let q = question_ids(&contest);

    let (status, receipt) = app.submit(id, &hand.token, answers(&[(q[0], 1)])).await;
    assert_eq!(status, StatusCode::CREATED, "{receipt}");
    let drafted = answers(&[(q[1], 0)]);
    check_draft(
        &put_draft(app, id, &drafter.token, drafted.clone()).await,
        id,
        &drafted,
    );
    assert_before(end, "the submission and the draft");

    sleep_until(end).await;
    wait_for_auto_submission(app, id, drafter, end, end + AUTO_WITHIN).await;

    let admin = app.admin_token().await;
    let (status, page) = app
        .get(
            &format!("/api/contests/{id}/submissions?limit=1"),
            Some(&admin),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(
        page["submissions"][0]["auto"], false,
        "the first is the hand one: {page}"
    );
    let rows = app.all_submissions(id).await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    let auto_of: HashMap<String, bool> = rows
        .iter()
        .map(|r| {
            let auto = r["auto"]
                .as_bool()
                .unwrap_or_else(|| panic!("a boolean `auto` in {r}"));
            (str_field(r, "id").to_string(), auto)
        })
        .collect();
    let by = by_student(&rows);
    assert_eq!(by[&hand.id]["auto"], false);
    assert_eq!(by[&drafter.id]["auto"], true);
    assert!(!by.contains_key(&idle.id));

    let (status, content_type, text) = app
        .get_text(
            &format!("/api/contests/{id}/submissions"),
            Some(&admin),
            "text/csv",
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(content_type.starts_with("text/csv"), "{content_type}");
    let (header, records) = csv_rows(&text);
    let fixed = CSV_COLUMNS;
    assert!(header.len() >= fixed.len(), "{header:?}");
    assert_eq!(header[..fixed.len()], fixed, "`auto` right after `answers`");
    let per_question: Vec<String> = q
        .iter()
        .flat_map(|q| [format!("q{q}_answer"), format!("q{q}_points")])
        .collect();
    assert_eq!(header[fixed.len()..], per_question[..], "{header:?}");
    assert_eq!(records.len(), 2, "{text}");
    for record in &records {
        assert_eq!(record.len(), header.len(), "{record:?}");
        let auto = auto_of
            .get(&record[0])
            .unwrap_or_else(|| panic!("an id of the list: {record:?}"));
        assert_eq!(record[7], auto.to_string(), "{record:?}");
    }
    // In the list's order.
    let ids: Vec<&str> = rows.iter().map(|r| str_field(r, "id")).collect();
    let csv_ids: Vec<&str> = records.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(csv_ids, ids);
}

/// The built binary, killed with SIGKILL after the drafts' `200`s and started again after the
/// contest's end: within 2 s of the restart, with no request about that contest, every draft of
/// a student without a submission has become one.
async fn draft_survives_kill_9_and_is_auto_submitted_after_a_restart_past_the_end(db: Db) {
    let Some(first) = spawn_binary(db, &[]).await else {
        return;
    };
    let (course, students) = course_with_students(&first, 4).await;
    // Two drafters, one who drafts and then submits by hand, one who does nothing.
    let [d0, d1, hand, idle] = [&students[0], &students[1], &students[2], &students[3]];
    let end = now_ms() + TimeDelta::seconds(3);
    let contest = contest_ending_at(&first, course, end, 0).await;
    let id = id_of(&contest);
    let q = question_ids(&contest);

    let d0_draft = answers(&[(q[0], 1), (q[1], 0)]);
    let d1_draft = answers(&[(q[1], 0)]);
    check_draft(
        &put_draft(&first, id, &d0.token, d0_draft.clone()).await,
        id,
        &d0_draft,
    );
    check_draft(
        &put_draft(&first, id, &d1.token, d1_draft.clone()).await,
        id,
        &d1_draft,
    );
    check_draft(
        &put_draft(&first, id, &hand.token, d0_draft.clone()).await,
        id,
        &d0_draft,
    );
    let (status, receipt) = first.submit(id, &hand.token, answers(&[])).await;
    assert_eq!(status, StatusCode::CREATED, "{receipt}");
    assert_before(end, "saving the drafts");
    first.kill();
    assert_eq!(
        first.stored_submissions(id).await,
        1,
        "only the hand one before the end"
    );

    sleep_until(end + TimeDelta::milliseconds(500)).await;
    let second = first.sibling_binary(&[]).await;
    let started = Utc::now();
    // Read the database directly: no request names the contest until the drafts are in.
    wait_for(
        "the drafts auto-submitted after the restart",
        until(started + AUTO_WITHIN + POLL_SLACK),
        || async { (second.stored_submissions(id).await == 3).then_some(()) },
    )
    .await;

    let rows = by_student(&second.all_submissions(id).await);
    assert_eq!(rows.len(), 3, "{rows:?}");
    for (s, drafted, score) in [(d0, &d0_draft, 3), (d1, &d1_draft, 2)] {
        let row = &rows[&s.id];
        assert_eq!(row["auto"], true, "{}: {row}", s.username);
        assert_eq!(
            sorted(&row["answers"]),
            sorted(drafted),
            "{}: {row}",
            s.username
        );
        assert_eq!(row["score"], score, "{}: {row}", s.username);
        assert!(parse_time(&row["submitted_at"]) >= end, "{row}");
        let own = own_submission(&second, id, &s.token)
            .await
            .expect("a submission");
        assert_eq!(own["auto"], true, "{own}");
        assert_no_draft(&second, id, s).await;
    }
    assert_eq!(rows[&hand.id]["id"], receipt["id"]);
    assert_eq!(rows[&hand.id]["auto"], false);
    assert!(!rows.contains_key(&idle.id));
    let resp = second.submit(id, &d0.token, answers(&[])).await;
    assert_error(&resp, StatusCode::CONFLICT, "already_submitted");
    second.stop().await;
}

/// An end moved later postpones the auto-submission (none at the old end); an end moved into
/// the past submits the drafts within 2 s of the change.
async fn moving_the_end_moves_the_auto_submission(app: &TestApp) {
    let (course, students) = course_with_students(app, 2).await;
    let [x, y] = [&students[0], &students[1]];
    let old_end = now_ms() + TimeDelta::seconds(3);
    let contest = contest_ending_at(app, course, old_end, 0).await;
    let id = id_of(&contest);
    let q = question_ids(&contest);
    let admin = app.admin_token().await;
    let path = format!("/api/contests/{id}");

    let x_draft = answers(&[(q[0], 1)]);
    check_draft(
        &put_draft(app, id, &x.token, x_draft.clone()).await,
        id,
        &x_draft,
    );
    let y_draft = answers(&[(q[1], 0)]);
    check_draft(
        &put_draft(app, id, &y.token, y_draft.clone()).await,
        id,
        &y_draft,
    );
    let later = json!({ "end_time": rfc3339(old_end + hours(1)) });
    let (status, view) = app.patch(&path, Some(&admin), Some(later)).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_before(old_end, "saving the drafts and moving the end");

    sleep_until(old_end + TimeDelta::seconds(1)).await;
    assert!(
        app.all_submissions(id).await.is_empty(),
        "nothing at the old end + 1 s"
    );
    check_draft(&get_draft(app, id, &x.token).await, id, &x_draft);
    let y_last = answers(&[(q[1], 0), (q[0], 0)]);
    check_draft(
        &put_draft(app, id, &y.token, y_last.clone()).await,
        id,
        &y_last,
    );

    let moved_at = now_ms();
    let past = json!({ "end_time": rfc3339(moved_at - TimeDelta::seconds(1)) });
    let (status, view) = app.patch(&path, Some(&admin), Some(past)).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    let by = Utc::now() + AUTO_WITHIN;
    let x_own = wait_for_auto_submission(app, id, x, moved_at, by).await;
    assert_eq!(sorted(&x_own["answers"]), sorted(&x_draft), "{x_own}");
    let y_own = wait_for_auto_submission(app, id, y, moved_at, by).await;
    assert_eq!(sorted(&y_own["answers"]), sorted(&y_last), "{y_own}");
    assert_eq!(app.all_submissions(id).await.len(), 2);
}

/// The built binary, killed with SIGKILL after a draft's `200` and started again while the
/// contest is still open: the draft is there, unchanged, and can be replaced.
async fn draft_survives_kill_9_and_a_restart_before_the_end(db: Db) {
    let Some(first) = spawn_binary(db, &[]).await else {
        return;
    };
    let (contest, students) = first.open_contest_with_students(1, None).await;
    let id = id_of(&contest);
    let q = question_ids(&contest);
    let me = &students[0];
    let sent = answers(&[(q[1], 1), (q[0], 2)]);
    let resp = put_draft(&first, id, &me.token, sent.clone()).await;
    let saved = check_draft(&resp, id, &sent);
    first.kill();

    let second = first.sibling_binary(&[]).await;
    let read = get_draft(&second, id, &me.token).await;
    assert_eq!(check_draft(&read, id, &sent), saved, "{}", read.1);
    assert_eq!(read.1, resp.1, "the same draft");
    let again = answers(&[(q[0], 1)]);
    check_draft(
        &put_draft(&second, id, &me.token, again.clone()).await,
        id,
        &again,
    );
    check_draft(&get_draft(&second, id, &me.token).await, id, &again);
    assert!(second.all_submissions(id).await.is_empty());
    second.stop().await;
}
