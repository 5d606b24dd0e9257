//! Receipts (API.md, "Retries and receipts"): every submission body carries one, signed with
//! the deployment's Ed25519 key; a client checks it with `GET /api/receipts/public-key` alone.

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};

use contestd::config::DbArgs;
use contestd::receipts::Signer;
use contestd::store::Store;

use crate::support::{
    answers, check_receipt, fresh_database, id_of, open_window, question_ids, receipt_verifies,
    spawn_app, spawn_app_on, str_field, Db, Student, TestApp,
};

both_databases!(
    receipts_verify_with_the_public_key_alone,
    a_tampered_receipt_does_not_verify;
    with_db:
    the_key_and_the_receipts_survive_a_restart,
    nodes_starting_at_once_share_one_key,
);

/// A contest of every question type, open now, and `n` enrolled students.
pub async fn mixed_contest(app: &TestApp, n: usize) -> (Value, Vec<Student>) {
    let course = app.create_course().await;
    let students = app.logged_in_students(n).await;
    let ids: Vec<i64> = students.iter().map(|s| s.id).collect();
    app.enroll(course, &ids).await;
    let (start, end) = open_window();
    let contest = app
        .create_contest_from(json!({
            "course_id": course,
            "title": "Every type",
            "start_time": crate::support::rfc3339(start),
            "end_time": crate::support::rfc3339(end),
            "results": "immediate",
            "questions": [
                { "prompt": "2 + 2?", "options": ["3", "4"], "correct_option": 1 },
                { "type": "multiple", "prompt": "Primes?", "options": ["2", "3", "4"],
                  "correct_options": [0, 1], "scoring": "partial" },
                { "type": "numeric", "prompt": "g?", "answer": { "value": 9.8, "tolerance": 0.2 } },
                { "type": "text", "prompt": "Capital of Germany?", "accepted": ["Berlin"] },
            ],
        }))
        .await;
    (contest, students)
}

/// Answers to `mixed_contest`, in reverse question order, with text and numbers whose
/// canonical JSON differs from how they are sent.
pub fn mixed_answers(contest: &Value) -> Value {
    let q = question_ids(contest);
    json!([
        { "question_id": q[3], "text": "Berlin \"Mitte\" – Straße 🎉\u{1}" },
        { "question_id": q[2], "value": 9.80 },
        { "question_id": q[1], "options": [1, 0] },
        { "question_id": q[0], "option": 1 },
    ])
}

/// The answers sorted by `question_id`, as my-submission shows them.
pub fn sorted(answers: &Value) -> Value {
    let mut list = answers.as_array().expect("answers").clone();
    list.sort_by_key(|a| a["question_id"].as_i64());
    Value::Array(list)
}

async fn my_submission(app: &TestApp, contest: i64, token: &str) -> Value {
    let path = format!("/api/contests/{contest}/my-submission");
    let (status, own) = app.get(&path, Some(token)).await;
    assert_eq!(status, StatusCode::OK, "{own}");
    own
}

/// The `201`, my-submission and the bulk list carry the same receipt, and it verifies with
/// the public key alone, its hash recomputed from my-submission's answers.
async fn receipts_verify_with_the_public_key_alone(app: &TestApp) {
    let (contest, students) = mixed_contest(app, 2).await;
    let id = id_of(&contest);
    let key = app.receipt_key().await;
    let sent = mixed_answers(&contest);
    let (status, created) = app.submit(id, &students[0].token, sent.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    // `submitted_at`: RFC 3339 in UTC with exactly three fractional digits.
    let at = str_field(&created, "submitted_at");
    assert!(
        at.len() == 24 && at.ends_with('Z') && at.as_bytes()[19] == b'.',
        "{at:?}"
    );

    let own = my_submission(app, id, &students[0].token).await;
    assert_eq!(own["answers"], sorted(&sent), "sorted by question: {own}");
    let fields = check_receipt(&key, &created, &own["answers"]);
    check_receipt(&key, &own, &own["answers"]);
    assert_eq!(own["receipt"], created["receipt"], "{own}");
    let path = format!("/api/contests/my-submissions-bulk?contest_ids={id}");
    let (status, bulk) = app.get(&path, Some(&students[0].token)).await;
    assert_eq!(status, StatusCode::OK, "{bulk}");
    assert_eq!(
        bulk["submissions"][0]["receipt"], created["receipt"],
        "{bulk}"
    );

    // Another student's receipt for the same answers differs only where it must.
    let (status, other) = app.submit(id, &students[1].token, sent.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{other}");
    let other_fields = check_receipt(&key, &other, &own["answers"]);
    assert_eq!(other_fields[5], fields[5], "same answers, same hash");
    assert_ne!(other_fields[2], fields[2]);
    assert_ne!(
        other["receipt"]["signature"],
        created["receipt"]["signature"]
    );
    // An empty submission has the hash of `[]`.
    let another = app.create_contest_from(mixed_body(&contest)).await;
    let (status, empty) = app
        .submit(id_of(&another), &students[0].token, answers(&[]))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{empty}");
    check_receipt(&key, &empty, &json!([]));
}

/// A creation body for another contest like `contest`, on its course and window.
fn mixed_body(contest: &Value) -> Value {
    json!({
        "course_id": contest["course_id"],
        "title": "Again",
        "start_time": contest["start_time"],
        "end_time": contest["end_time"],
        "questions": [{ "prompt": "?", "options": ["a", "b"], "correct_option": 0 }],
    })
}

/// Changing any field of the payload, or using another receipt's signature, fails.
async fn a_tampered_receipt_does_not_verify(app: &TestApp) {
    let (contest, students) = app.open_contest_with_students(2, None).await;
    let id = id_of(&contest);
    let q = question_ids(&contest);
    let key = app.receipt_key().await;
    let (_, mine) = app
        .submit(id, &students[0].token, answers(&[(q[0], 1)]))
        .await;
    let (_, theirs) = app
        .submit(id, &students[1].token, answers(&[(q[0], 0)]))
        .await;
    let payload = str_field(&mine["receipt"], "payload");
    let signature = str_field(&mine["receipt"], "signature");
    assert!(receipt_verifies(&key, payload, signature));
    let fields: Vec<&str> = payload.split('|').collect();
    let their_hash = str_field(&theirs["receipt"], "payload").split('|').nth(5);
    for (i, forged) in [
        "contestd-receipt-v2".to_string(),
        (id + 1).to_string(),
        students[1].id.to_string(),
        uuid::Uuid::now_v7().to_string(),
        crate::support::rfc3339(crate::support::now_ms()),
        their_hash.expect("a hash").to_string(),
    ]
    .into_iter()
    .enumerate()
    {
        let mut tampered = fields.clone();
        tampered[i] = &forged;
        let tampered = tampered.join("|");
        assert_ne!(tampered, payload);
        assert!(
            !receipt_verifies(&key, &tampered, signature),
            "field {i} changed to {forged:?} still verifies"
        );
    }
    assert!(!receipt_verifies(&key, &format!("{payload} "), signature));
    let their_signature = str_field(&theirs["receipt"], "signature");
    assert!(!receipt_verifies(&key, payload, their_signature));
    assert!(!receipt_verifies(&key, payload, "not-a-signature"));
}

/// The key is made once and kept in the database: after a restart the public key is the same,
/// receipts issued before still verify and read back the same, and new ones verify too.
async fn the_key_and_the_receipts_survive_a_restart(db: Db) {
    let Some(first) = spawn_app(db).await else {
        return;
    };
    let (contest, students) = mixed_contest(&first, 2).await;
    let id = id_of(&contest);
    let key = first.receipt_key().await;
    let sent = mixed_answers(&contest);
    let (status, created) = first.submit(id, &students[0].token, sent.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    first.stop().await;

    let second = first.sibling(&[]).await;
    let again = second.receipt_key().await;
    assert_eq!(again, key, "the same public key after a restart");
    let own = my_submission(&second, id, &students[0].token).await;
    assert_eq!(
        own["receipt"], created["receipt"],
        "read back from the database"
    );
    check_receipt(&key, &created, &own["answers"]);
    let (status, later) = second.submit(id, &students[1].token, sent).await;
    assert_eq!(status, StatusCode::CREATED, "{later}");
    check_receipt(&key, &later, &own["answers"]);
    second.stop().await;
}

/// Nodes that start at once on an empty database each make a key and race to store it: one
/// is stored and every node signs with it. (The race is run at the store, where it is: the
/// schema is migrated first, as nodes of a deployment migrate one after another.)
async fn nodes_starting_at_once_share_one_key(db: Db) {
    let Some((url, _database)) = fresh_database(db).await else {
        return;
    };
    let args = DbArgs {
        database_url: url.clone(),
        db_max_connections: 2,
        db_acquire_timeout_secs: 10,
    };
    let first = Store::connect(&args).await.expect("the database opens");
    first.migrate().await.expect("the schema");
    let mut stores = vec![first];
    for _ in 0..7 {
        stores.push(Store::connect(&args).await.expect("the database opens"));
    }
    let signers: Vec<Signer> = join_all(stores.iter().map(Signer::load))
        .await
        .into_iter()
        .map(|s| s.expect("a key"))
        .collect();
    let public = signers[0].public_key().to_string();
    assert!(
        signers.iter().all(|s| s.public_key() == public),
        "{signers:?}"
    );
    for store in &stores {
        store.close().await;
    }
    // A node that starts later serves and signs with it too.
    let app = spawn_app_on(db, url).await;
    let (status, served) = app.get("/api/receipts/public-key", None).await;
    assert_eq!(status, StatusCode::OK, "{served}");
    assert_eq!(
        served["public_key"], public,
        "the raced key is the one served"
    );
    let key = app.receipt_key().await;
    let (contest, students) = app.open_contest_with_students(1, None).await;
    let (status, created) = app
        .submit(id_of(&contest), &students[0].token, answers(&[]))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    check_receipt(&key, &created, &json!([]));
    app.stop().await;
}
