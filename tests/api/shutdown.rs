//! Graceful shutdown of the built binary: on SIGTERM or SIGINT it stops accepting, finishes
//! what is in flight, flushes the writer, closes WebSockets with 1001 and exits 0 in time.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures::future::join_all;
use futures::stream::{FuturesUnordered, StreamExt};
use reqwest::StatusCode;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

use crate::support::{
    answers, assert_error, id_of, spawn_binary, str_field, wait_for, Db, Resp, Student, TestApp,
};
use crate::ws::{connect, next_frame};

both_databases!(; with_db:
    sigterm_mid_burst_loses_no_acknowledged_submission,
    sigterm_writes_and_answers_every_queued_submission,
    sigterm_closes_websockets_with_going_away,
    sigint_closes_websockets_with_going_away,
);

const STUDENTS: usize = 300;
/// Send SIGTERM once this many submissions have been acknowledged.
const SIGNAL_AT: usize = 50;
const SHUTDOWN_SECS: u64 = 10;
/// `--shutdown-secs` is `SHUTDOWN_SECS`; small batches spread the commits out.
const SHUTDOWN_FLAGS: [&str; 4] = ["--shutdown-secs", "10", "--writer-batch-size", "8"];

/// Reading the database through a new server on it: every acknowledged submission (student
/// index → submission id) is stored, and no refused student has a row.
async fn assert_stored(
    app: &TestApp,
    contest: i64,
    students: &[Student],
    acknowledged: &HashMap<usize, String>,
    refused: &[usize],
) {
    let after = app.sibling(&[]).await;
    let rows: HashMap<i64, String> = after
        .all_submissions(contest)
        .await
        .iter()
        .map(|r| {
            (
                r["student_id"].as_i64().expect("student_id"),
                str_field(r, "id").to_string(),
            )
        })
        .collect();
    for (i, submission) in acknowledged {
        let student = &students[*i];
        let row = rows.get(&student.id);
        assert_eq!(
            row,
            Some(submission),
            "{}: acknowledged, then lost",
            student.username
        );
    }
    for i in refused {
        let student = &students[*i];
        assert!(
            !rows.contains_key(&student.id),
            "{}: 503 but stored",
            student.username
        );
    }
    after.stop().await;
}

/// Sorts the answers to a burst into acknowledged (student index → submission id) and
/// refused with 503; a request the server never answered is neither.
fn sort_answers(
    results: impl IntoIterator<Item = (usize, Result<Resp, reqwest::Error>)>,
) -> (HashMap<usize, String>, Vec<usize>) {
    let mut acknowledged = HashMap::new();
    let mut refused = Vec::new();
    for (i, result) in results {
        match result {
            Ok((StatusCode::CREATED, body)) => {
                acknowledged.insert(i, str_field(&body, "id").to_string());
            }
            Ok(resp) => {
                assert_error(&resp, StatusCode::SERVICE_UNAVAILABLE, "unavailable");
                refused.push(i);
            }
            Err(_) => {}
        }
    }
    (acknowledged, refused)
}

/// Every 201 given before or during a SIGTERM is in the database afterwards, every 503 left
/// no row, and the process exits 0 within `--shutdown-secs`.
async fn sigterm_mid_burst_loses_no_acknowledged_submission(db: Db) {
    let Some(app) = spawn_binary(db, &SHUTDOWN_FLAGS).await else {
        return;
    };
    let (contest, students) = app.open_contest_with_students(STUDENTS, None).await;
    let id = id_of(&contest);

    let server = &app;
    let mut in_flight: FuturesUnordered<_> = students
        .iter()
        .enumerate()
        .map(|(i, s)| async move { (i, server.try_submit(id, &s.token, answers(&[])).await) })
        .collect();
    let mut acknowledged: HashMap<usize, String> = HashMap::new();
    let mut refused = Vec::new();
    let mut signalled: Option<Instant> = None;
    let mut after_signal = 0;
    while let Some((i, result)) = in_flight.next().await {
        if signalled.is_some() {
            after_signal += 1;
        }
        match result {
            Ok((StatusCode::CREATED, body)) => {
                acknowledged.insert(i, str_field(&body, "id").to_string());
            }
            Ok(resp) => {
                assert!(signalled.is_some(), "refused before the signal: {resp:?}");
                assert_error(&resp, StatusCode::SERVICE_UNAVAILABLE, "unavailable");
                refused.push(i);
            }
            Err(e) => assert!(signalled.is_some(), "no answer before the signal: {e}"),
        }
        if signalled.is_none() && acknowledged.len() >= SIGNAL_AT {
            app.signal("TERM");
            signalled = Some(Instant::now());
        }
    }
    let signalled = signalled.expect("the signal was sent");
    assert!(
        after_signal > 0,
        "the signal came while submissions were in flight"
    );
    let deadline = Duration::from_secs(SHUTDOWN_SECS + 3);
    let status = app
        .wait_exit(deadline.saturating_sub(signalled.elapsed()))
        .await;
    eprintln!(
        "shutdown ({db:?}): {} acknowledged, {} refused with 503, exit {status} after {:?}",
        acknowledged.len(),
        refused.len(),
        signalled.elapsed()
    );
    assert!(status.success(), "exit status {status}");

    assert_stored(&app, id, &students, &acknowledged, &refused).await;
}

/// Submissions queued in the writer behind a locked table when SIGTERM arrives are all
/// written and answered 201 once the lock goes, and the process then exits 0 in time.
async fn sigterm_writes_and_answers_every_queued_submission(db: Db) {
    let Some(app) = spawn_binary(db, &SHUTDOWN_FLAGS).await else {
        return;
    };
    let (contest, students) = app.open_contest_with_students(STUDENTS, None).await;
    let id = id_of(&contest);
    let lock = app.lock_submissions().await;

    let burst = join_all(students.iter().enumerate().map(|(i, s)| {
        let app = &app;
        async move { (i, app.try_submit(id, &s.token, answers(&[])).await) }
    }));
    let stop = async {
        // All but the batch the blocked writer holds wait in its queue.
        let queued = wait_for("the burst queues up", Duration::from_secs(30), || async {
            let health = app.health().await;
            let depth = health["writer"]["queue_depth"]
                .as_u64()
                .expect("queue_depth");
            (depth >= (STUDENTS - 8) as u64).then_some(depth)
        })
        .await;
        app.signal("TERM");
        let signalled = Instant::now();
        lock.release().await;
        (queued, signalled)
    };
    let (results, (queued, signalled)) = futures::join!(burst, stop);
    let status = app
        .wait_exit(Duration::from_secs(SHUTDOWN_SECS + 3).saturating_sub(signalled.elapsed()))
        .await;
    assert!(status.success(), "exit status {status}");
    let (acknowledged, refused) = sort_answers(results);
    assert!(
        acknowledged.len() as u64 >= queued,
        "{queued} queued at the signal, {} answered 201",
        acknowledged.len()
    );
    assert_stored(&app, id, &students, &acknowledged, &refused).await;
}

/// On `signal`, an open WebSocket gets a close frame with code 1001 (going away) before the
/// connection ends, and the process exits 0 within `--shutdown-secs`.
async fn websocket_goes_away_on(db: Db, signal: &str) {
    let Some(app) = spawn_binary(db, &SHUTDOWN_FLAGS).await else {
        return;
    };
    let (contest, students) = app.open_contest_with_students(1, None).await;
    let mut socket = connect(&app, id_of(&contest), &students[0].token).await;
    next_frame(&mut socket, Duration::from_secs(2)).await;

    app.signal(signal);
    let signalled = Instant::now();
    let deadline = Duration::from_secs(SHUTDOWN_SECS);
    let close = loop {
        let left = deadline.saturating_sub(signalled.elapsed());
        match tokio::time::timeout(left, socket.next()).await {
            Err(_) => panic!("no close frame within {deadline:?} of SIG{signal}"),
            Ok(Some(Ok(Message::Close(frame)))) => break frame,
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(e))) => panic!("the connection ended without a close frame: {e}"),
            Ok(None) => panic!("the connection ended without a close frame"),
        }
    };
    assert_eq!(close.map(|f| f.code), Some(CloseCode::Away), "close code");
    let status = app
        .wait_exit(deadline.saturating_sub(signalled.elapsed()))
        .await;
    assert!(status.success(), "exit status after SIG{signal}: {status}");
}

/// SIGTERM closes WebSockets with 1001 and the process exits 0 in time.
async fn sigterm_closes_websockets_with_going_away(db: Db) {
    websocket_goes_away_on(db, "TERM").await;
}

/// SIGINT (Ctrl-C) is as graceful as SIGTERM: 1001 to WebSockets, exit 0 in time.
async fn sigint_closes_websockets_with_going_away(db: Db) {
    websocket_goes_away_on(db, "INT").await;
}
