//! Safe retries (API.md, "Retries and receipts"): a submission with an `Idempotency-Key`,
//! sent again by the same student with the same key and answers, gets the original `201` —
//! while the first is still being committed, after it, and after a restart.

use std::time::Duration;

use chrono::TimeDelta;
use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::{
    answers, assert_error, id_of, now_ms, question_ids, rfc3339, spawn_app, str_field, wait_for,
    Db, Resp, TestApp,
};

both_databases!(
    a_retry_with_the_same_key_gets_the_original_201,
    retries_in_flight_wait_for_the_first_and_get_its_201,
    the_same_key_with_other_answers_is_409_conflict,
    bad_idempotency_keys_are_400,
    another_key_or_none_after_submitting_is_409_already_submitted,
    keys_belong_to_one_student_and_contest;
    with_db:
    a_retry_after_a_restart_gets_the_original_201,
);

/// The retries waiting in the contest's actor for the outcome of the submission they repeat.
async fn retries_waiting(app: &TestApp, contest: i64) -> u64 {
    let health = app.health().await;
    health["actors"]["contests"]
        .as_array()
        .expect("contests")
        .iter()
        .find(|c| c["contest_id"] == contest)
        .and_then(|c| c["retries_waiting"].as_u64())
        .unwrap_or_else(|| panic!("contest {contest} warm in {health}"))
}

#[track_caller]
fn assert_created(resp: &Resp) {
    assert_eq!(resp.0, StatusCode::CREATED, "{}", resp.1);
    assert!(resp.1["receipt"].is_object(), "{}", resp.1);
}

async fn a_retry_with_the_same_key_gets_the_original_201(app: &TestApp) {
    let (contest, students) = app.open_contest_with_students(1, Some("immediate")).await;
    let id = id_of(&contest);
    let q = question_ids(&contest);
    let token = &students[0].token;
    let sent = answers(&[(q[1], 0), (q[0], 1)]);
    let first = app
        .submit_keyed(id, token, b"retry-1_A", sent.clone())
        .await;
    assert_created(&first);
    // The same body, and the same answers in another order: the same submission.
    for again in [sent.clone(), answers(&[(q[0], 1), (q[1], 0)])] {
        let resp = app.submit_keyed(id, token, b"retry-1_A", again).await;
        assert_eq!(resp, first, "the original 201");
    }
    // Also once the contest has closed.
    let admin = app.admin_token().await;
    let end = json!({ "end_time": rfc3339(now_ms() - TimeDelta::seconds(1)) });
    let (status, view) = app
        .patch(&format!("/api/contests/{id}"), Some(&admin), Some(end))
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    let resp = app.submit_keyed(id, token, b"retry-1_A", sent).await;
    assert_eq!(resp, first, "the original 201 after the close");

    let rows = app.all_submissions(id).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["id"], first.1["id"]);
    let (status, own) = app
        .get(&format!("/api/contests/{id}/my-submission"), Some(token))
        .await;
    assert_eq!(status, StatusCode::OK, "{own}");
    assert_eq!(own["receipt"], first.1["receipt"], "{own}");
}

/// Many retries sent at once while the first is held in its commit (the table is locked):
/// they wait for it (the contest counts them in `/health`), then all get its `201`; one row.
async fn retries_in_flight_wait_for_the_first_and_get_its_201(app: &TestApp) {
    const RETRIES: usize = 40;
    let (contest, students) = app.open_contest_with_students(1, Some("immediate")).await;
    let id = id_of(&contest);
    let q = question_ids(&contest);
    let token = &students[0].token;
    let sent = answers(&[(q[0], 1), (q[1], 1)]);
    // Warm, so the contest shows in `/health` before anything is sent.
    let (status, _) = app.get(&format!("/api/contests/{id}"), Some(token)).await;
    assert_eq!(status, StatusCode::OK);
    let lock = app.lock_submissions().await;

    let all = join_all((0..RETRIES).map(|_| app.submit_keyed(id, token, b"same", sent.clone())));
    let release = async {
        // One claims, and every other one waits for its outcome.
        wait_for("the retries wait", Duration::from_secs(20), || async {
            (retries_waiting(app, id).await == RETRIES as u64 - 1).then_some(())
        })
        .await;
        lock.release().await;
    };
    let (answers, ()) = futures::join!(all, release);
    for resp in &answers {
        assert_created(resp);
        assert_eq!(*resp, answers[0], "all the same 201");
    }
    assert_eq!(app.all_submissions(id).await.len(), 1, "one submission");
    assert_eq!(retries_waiting(app, id).await, 0);
    let resp = app.submit_keyed(id, token, b"same", sent).await;
    assert_eq!(resp, answers[0], "and after the commit");
}

/// The same key with other answers is `409 conflict`: while the first is being committed, once
/// it is, and nothing of it is stored.
async fn the_same_key_with_other_answers_is_409_conflict(app: &TestApp) {
    let (contest, students) = app.open_contest_with_students(1, None).await;
    let id = id_of(&contest);
    let q = question_ids(&contest);
    let token = &students[0].token;
    let (status, _) = app.get(&format!("/api/contests/{id}"), Some(token)).await;
    assert_eq!(status, StatusCode::OK);
    let sent = answers(&[(q[0], 1)]);
    let lock = app.lock_submissions().await;
    let first = app.submit_keyed(id, token, b"k", sent.clone());
    let checks = async {
        let retry = app.submit_keyed(id, token, b"k", sent.clone());
        let refusals = async {
            wait_for("the retry waits", Duration::from_secs(20), || async {
                (retries_waiting(app, id).await == 1).then_some(())
            })
            .await;
            // While the first is held in its commit.
            let other = app
                .submit_keyed(id, token, b"k", answers(&[(q[0], 0)]))
                .await;
            assert_error(&other, StatusCode::CONFLICT, "conflict");
            let more = app
                .submit_keyed(id, token, b"k", answers(&[(q[0], 1), (q[1], 0)]))
                .await;
            assert_error(&more, StatusCode::CONFLICT, "conflict");
            let none = app.submit(id, token, sent.clone()).await;
            assert_error(&none, StatusCode::CONFLICT, "already_submitted");
            lock.release().await;
        };
        futures::join!(retry, refusals).0
    };
    let (first, retry) = futures::join!(first, checks);
    assert_created(&first);
    assert_eq!(retry, first);
    // Once committed.
    for other in [
        answers(&[(q[0], 0)]),
        answers(&[]),
        answers(&[(q[0], 1), (q[1], 0)]),
    ] {
        let resp = app.submit_keyed(id, token, b"k", other).await;
        let message = assert_error(&resp, StatusCode::CONFLICT, "conflict");
        assert!(message.contains("Idempotency-Key"), "{message}");
    }
    let rows = app.all_submissions(id).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["answers"], sent);
}

async fn bad_idempotency_keys_are_400(app: &TestApp) {
    let (contest, students) = app.open_contest_with_students(1, None).await;
    let id = id_of(&contest);
    let q = question_ids(&contest);
    let token = &students[0].token;
    let sent = answers(&[(q[0], 1)]);
    let long = "k".repeat(65);
    let bad: [&[u8]; 9] = [
        b"",
        long.as_bytes(),
        b"a b",
        b"a.b",
        b"a/b",
        b"key=",
        b"a\tb",
        "cl\u{e9}".as_bytes(),
        b"{\"k\":1}",
    ];
    for key in bad {
        let resp = app.submit_keyed(id, token, key, sent.clone()).await;
        let message = assert_error(&resp, StatusCode::BAD_REQUEST, "bad_request");
        assert!(message.contains("Idempotency-Key"), "{key:?}: {message}");
    }
    // Given twice.
    let req = app
        .client()
        .post(app.url(&format!("/api/contests/{id}/submissions")))
        .bearer_auth(token)
        .header("Idempotency-Key", "one")
        .header("Idempotency-Key", "two")
        .json(&json!({ "answers": sent }));
    let (status, _, body) = app.send(req).await;
    assert_error(&(status, body), StatusCode::BAD_REQUEST, "bad_request");
    // The resource comes first: an unknown contest is 404 whatever the key.
    let resp = app.submit_keyed(424_242, token, b"", sent.clone()).await;
    assert_error(&resp, StatusCode::NOT_FOUND, "not_found");
    assert!(app.all_submissions(id).await.is_empty(), "nothing claimed");
    // 64 characters of the allowed set.
    let longest = "AZaz09_-".repeat(8);
    let resp = app
        .submit_keyed(id, token, longest.as_bytes(), sent.clone())
        .await;
    assert_created(&resp);
    let again = app.submit_keyed(id, token, longest.as_bytes(), sent).await;
    assert_eq!(again, resp);
}

/// A submission that was made with another key, or without one, is not retried by a keyed
/// request; a request without a key is never a retry.
async fn another_key_or_none_after_submitting_is_409_already_submitted(app: &TestApp) {
    let (contest, students) = app.open_contest_with_students(2, None).await;
    let id = id_of(&contest);
    let q = question_ids(&contest);
    let sent = answers(&[(q[0], 1)]);
    let keyed = &students[0].token;
    let first = app.submit_keyed(id, keyed, b"first", sent.clone()).await;
    assert_created(&first);
    let resp = app.submit(id, keyed, sent.clone()).await;
    assert_error(&resp, StatusCode::CONFLICT, "already_submitted");
    let resp = app.submit_keyed(id, keyed, b"second", sent.clone()).await;
    assert_error(&resp, StatusCode::CONFLICT, "already_submitted");

    let plain = &students[1].token;
    let (status, body) = app.submit(id, plain, sent.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let resp = app.submit(id, plain, sent.clone()).await;
    assert_error(&resp, StatusCode::CONFLICT, "already_submitted");
    let resp = app.submit_keyed(id, plain, b"first", sent).await;
    assert_error(&resp, StatusCode::CONFLICT, "already_submitted");
    assert_eq!(app.all_submissions(id).await.len(), 2);
}

/// The same key in another contest, or by another student, is another submission.
async fn keys_belong_to_one_student_and_contest(app: &TestApp) {
    let (contest, students) = app.open_contest_with_students(2, None).await;
    let id = id_of(&contest);
    let (start, end) = (contest["start_time"].clone(), contest["end_time"].clone());
    let mut body = crate::support::contest_body(
        contest["course_id"].as_i64().unwrap(),
        crate::support::parse_time(&start),
        crate::support::parse_time(&end),
    );
    body["title"] = json!("Second");
    let other = app.create_contest_from(body).await;
    let sent = answers(&[]);
    let mut ids = Vec::new();
    for (contest, token) in [
        (id, &students[0].token),
        (id_of(&other), &students[0].token),
        (id, &students[1].token),
    ] {
        let resp = app
            .submit_keyed(contest, token, b"shared", sent.clone())
            .await;
        assert_created(&resp);
        ids.push(str_field(&resp.1, "id").to_string());
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3, "three submissions");
}

/// After a restart the actor does not hold the row: the database answers the retry, the same
/// `201` (also to many at once), and tells a conflict from another key.
async fn a_retry_after_a_restart_gets_the_original_201(db: Db) {
    let Some(first) = spawn_app(db).await else {
        return;
    };
    let (contest, students) = first.open_contest_with_students(1, Some("immediate")).await;
    let id = id_of(&contest);
    let q = question_ids(&contest);
    let token = &students[0].token;
    let sent = answers(&[(q[0], 1), (q[1], 0)]);
    let created = first
        .submit_keyed(id, token, b"restart", sent.clone())
        .await;
    assert_created(&created);
    first.stop().await;

    let second = first.sibling(&[]).await;
    let again = second
        .submit_keyed(id, token, b"restart", sent.clone())
        .await;
    assert_eq!(again, created, "the original 201 after a restart");
    let many =
        join_all((0..10).map(|_| second.submit_keyed(id, token, b"restart", sent.clone()))).await;
    assert!(many.iter().all(|r| *r == created), "{many:?}");
    let resp = second
        .submit_keyed(id, token, b"restart", answers(&[(q[0], 0)]))
        .await;
    assert_error(&resp, StatusCode::CONFLICT, "conflict");
    let resp = second.submit_keyed(id, token, b"other", sent.clone()).await;
    assert_error(&resp, StatusCode::CONFLICT, "already_submitted");
    let resp = second.submit(id, token, sent).await;
    assert_error(&resp, StatusCode::CONFLICT, "already_submitted");
    let rows: Vec<Value> = second.all_submissions(id).await;
    assert_eq!(rows.len(), 1);
    second.stop().await;
}
