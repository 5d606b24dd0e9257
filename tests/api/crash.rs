//! Crash safety: the built binary is killed with SIGKILL while hundreds of submissions are in
//! flight; started again on the same database, it has every submission it acknowledged, each
//! retry with its `Idempotency-Key` gets its `201` (the one acknowledged, or the one committed
//! but never answered, or a new one), and the one-submission rule holds across the restart.

use std::collections::HashMap;

use futures::stream::{FuturesUnordered, StreamExt};
use reqwest::StatusCode;
use serde_json::Value;

use crate::support::{answers, assert_error, id_of, spawn_binary, str_field, Db};

both_databases!(; with_db: kill_9_midway_loses_no_acknowledged_submission);

const STUDENTS: usize = 400;
/// Kill the server once this many submissions have been acknowledged.
const KILL_AT: usize = STUDENTS / 2;

async fn kill_9_midway_loses_no_acknowledged_submission(db: Db) {
    // Batches of two spread the commits out (a hundred of them after the kill point), so the
    // kill lands while many are in flight even when this test's process is slow to read the
    // answers (with batches of eight, a busy machine once read all 400 before killing).
    let Some(first) = spawn_binary(db, &["--writer-batch-size", "2"]).await else {
        return;
    };
    let (contest, students) = first.open_contest_with_students(STUDENTS, None).await;
    let id = id_of(&contest);

    let server = &first;
    let key = |i: usize| format!("crash-{i}");
    let mut in_flight: FuturesUnordered<_> = students
        .iter()
        .enumerate()
        .map(|(i, s)| async move {
            let key = key(i);
            let sent = server.try_submit_keyed(id, &s.token, key.as_bytes(), answers(&[]));
            (i, sent.await)
        })
        .collect();
    // The 201 by student index, for every one (also those read after the kill).
    let mut acknowledged: HashMap<usize, Value> = HashMap::new();
    let mut killed = false;
    let mut lost_answers = 0;
    while let Some((i, result)) = in_flight.next().await {
        match result {
            Ok((status, body)) => {
                assert_eq!(status, StatusCode::CREATED, "{body}");
                acknowledged.insert(i, body);
            }
            Err(e) => {
                assert!(killed, "no answer before the kill: {e}");
                lost_answers += 1;
            }
        }
        if !killed && acknowledged.len() >= KILL_AT {
            first.kill();
            killed = true;
        }
    }
    eprintln!(
        "crash ({db:?}): killed after {KILL_AT} acknowledgements; {} acknowledged in all, {} \
         unanswered",
        acknowledged.len(),
        lost_answers
    );
    assert!(killed);
    assert!(
        acknowledged.len() < STUDENTS,
        "the kill came while submissions were in flight"
    );

    let second = first.sibling_binary(&[]).await;
    let rows = second.all_submissions(id).await;
    let stored: HashMap<i64, &Value> = rows
        .iter()
        .map(|r| (r["student_id"].as_i64().expect("student_id"), r))
        .collect();
    assert_eq!(stored.len(), rows.len(), "one row per student");
    for (i, created) in &acknowledged {
        let student = &students[*i];
        let submission = str_field(created, "id");
        let row = stored
            .get(&student.id)
            .unwrap_or_else(|| panic!("{}: acknowledged {submission}, lost", student.username));
        assert_eq!(row["id"], submission, "{}", student.username);
    }

    // Everyone retries with their key: the acknowledged get their 201 again, those whose row
    // was committed unanswered get it, the rest get in now.
    let server = &second;
    let retries = futures::future::join_all(students.iter().enumerate().map(|(i, s)| async move {
        let key = key(i);
        server
            .submit_keyed(id, &s.token, key.as_bytes(), answers(&[]))
            .await
    }))
    .await;
    for (i, (student, resp)) in students.iter().zip(&retries).enumerate() {
        assert_eq!(
            resp.0,
            StatusCode::CREATED,
            "{}: {}",
            student.username,
            resp.1
        );
        if let Some(created) = acknowledged.get(&i) {
            assert_eq!(resp.1, *created, "{}: the same 201", student.username);
        } else if let Some(row) = stored.get(&student.id) {
            assert_eq!(
                resp.1["id"], row["id"],
                "{}: the stored row",
                student.username
            );
        }
    }
    // Without a key everyone is refused now: one submission each.
    let again = futures::future::join_all(
        students
            .iter()
            .map(|s| second.submit(id, &s.token, answers(&[]))),
    )
    .await;
    for resp in &again {
        assert_error(resp, StatusCode::CONFLICT, "already_submitted");
    }
    assert_eq!(second.all_submissions(id).await.len(), STUDENTS);
    second.stop().await;
}
