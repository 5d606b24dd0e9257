//! The contest runtime under real concurrency, over HTTP: the one-submission rule under
//! races, many students at once, single-flight loading, eviction, two runtimes on one
//! database, the database going away mid-contest, and admin changes reaching warm contests.

use std::collections::HashSet;
use std::time::Duration;

use chrono::TimeDelta;
use futures::future::join_all;
use reqwest::header::RETRY_AFTER;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::support::{
    answers, assert_error, id_of, now_ms, open_window, parse_time, question_ids, rfc3339,
    spawn_app, spawn_app_with, str_field, wait_for, Db, TestApp,
};

both_databases!(
    one_student_racing_500_submissions_gets_one,
    thousand_students_submit_at_once,
    cold_contest_500_concurrent_gets_load_it_once,
    unenrolled_student_is_refused_by_a_warm_contest_at_once,
    patched_times_and_active_flag_reach_a_warm_contest_at_once,
    enrolled_student_is_admitted_by_a_warm_contest_at_once;
    with_db: evicted_contest_still_refuses_a_second_submission,
    two_runtimes_on_one_database_accept_one_submission,
    database_outage_answers_503_and_releases_the_claim,
    full_mailbox_answers_503_and_the_retry_gets_in,
    full_writer_queue_answers_503_and_the_retry_gets_in,
);

fn contest_path(id: i64) -> String {
    format!("/api/contests/{id}")
}

/// Answers to `contest_body`'s two questions chosen by `i`; returns them with their score.
fn varied_answers(q: &[i64], i: usize) -> (Value, i64) {
    let first = (i % 3) as i64; // correct: 1, worth 1
    let second = ((i / 3) % 2) as i64; // correct: 0, worth 2
    let score = i64::from(first == 1) + 2 * i64::from(second == 0);
    match i % 5 {
        // Some leave the second question out.
        4 => (answers(&[(q[0], first)]), i64::from(first == 1)),
        _ => (answers(&[(q[0], first), (q[1], second)]), score),
    }
}

async fn one_student_racing_500_submissions_gets_one(app: &TestApp) {
    let (contest, students) = app.open_contest_with_students(1, Some("immediate")).await;
    let id = id_of(&contest);
    let student = &students[0];
    let q = question_ids(&contest);
    let attempts = (0..500).map(|i| {
        let (sent, _) = varied_answers(&q, i);
        app.submit(id, &student.token, sent)
    });
    let answers = join_all(attempts).await;

    let created: Vec<&Value> = answers
        .iter()
        .filter(|(status, _)| *status == StatusCode::CREATED)
        .map(|(_, body)| body)
        .collect();
    assert_eq!(created.len(), 1, "exactly one 201");
    for resp in answers.iter().filter(|(s, _)| *s != StatusCode::CREATED) {
        assert_error(resp, StatusCode::CONFLICT, "already_submitted");
    }

    let rows = app.all_submissions(id).await;
    assert_eq!(rows.len(), 1, "one row: {rows:?}");
    assert_eq!(rows[0]["id"], created[0]["id"]);
    assert_eq!(rows[0]["student_id"], student.id);
    assert_eq!(rows[0]["score"], created[0]["score"]);
}

async fn thousand_students_submit_at_once(app: &TestApp) {
    const STUDENTS: usize = 1000;
    let (contest, students) = app
        .open_contest_with_students(STUDENTS, Some("immediate"))
        .await;
    let id = id_of(&contest);
    let q = question_ids(&contest);
    let plan: Vec<(Value, i64)> = (0..STUDENTS).map(|i| varied_answers(&q, i)).collect();
    let answers = join_all(
        students
            .iter()
            .zip(&plan)
            .map(|(s, (sent, _))| app.submit(id, &s.token, sent.clone())),
    )
    .await;
    for (student, ((status, body), (_, score))) in students.iter().zip(answers.iter().zip(&plan)) {
        assert_eq!(*status, StatusCode::CREATED, "{}: {body}", student.username);
        assert_eq!(body["student_id"], student.id);
        assert_eq!(body["score"], *score, "graded: {body}");
    }

    let rows = app.all_submissions(id).await;
    assert_eq!(rows.len(), STUDENTS);
    let ids: HashSet<i64> = rows
        .iter()
        .map(|r| r["student_id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), STUDENTS, "one row per student");
    let receipt_ids: HashSet<&str> = answers.iter().map(|(_, b)| str_field(b, "id")).collect();
    let row_ids: HashSet<&str> = rows.iter().map(|r| str_field(r, "id")).collect();
    assert_eq!(
        receipt_ids, row_ids,
        "the rows are the acknowledged submissions"
    );

    // The CSV is the whole list, past one 1,000-row read.
    let admin = app.admin_token().await;
    let (status, _, csv) = app
        .get_text(
            &format!("/api/contests/{id}/submissions"),
            Some(&admin),
            "text/csv",
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        csv.lines().count(),
        1 + STUDENTS,
        "a header and a line each"
    );

    // The default page sizes: 100 submissions, 50 leaderboard entries.
    let (status, page) = app
        .get(&format!("/api/contests/{id}/submissions"), Some(&admin))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["submissions"].as_array().map(Vec::len), Some(100));
    assert_eq!(page["next"], page["submissions"][99]["id"]);
    let board = |query: &'static str| {
        let admin = admin.clone();
        async move {
            let path = format!("/api/contests/{id}/leaderboard{query}");
            let (status, body) = app.get(&path, Some(&admin)).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            body["entries"].as_array().expect("entries").clone()
        }
    };
    let full = board("?limit=1000").await;
    assert_eq!(full.len(), STUDENTS);
    for (i, pair) in full.windows(2).enumerate() {
        assert_eq!(pair[0]["rank"], i + 1);
        let key = |e: &Value| {
            (
                -e["score"].as_i64().expect("score"),
                parse_time(&e["submitted_at"]),
            )
        };
        assert!(key(&pair[0]) <= key(&pair[1]), "{pair:?}");
    }
    assert_eq!(board("").await, full[..50].to_vec(), "50 by default");

    let total: i64 = plan.iter().map(|(_, score)| score).sum();
    let (status, body) = app
        .get(
            &format!("/api/contests/bulk-stats?contest_ids={id}"),
            Some(&admin),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let stats = &body["stats"][0];
    assert_eq!(stats["contest_id"], id);
    assert_eq!(stats["enrolled"], STUDENTS);
    assert_eq!(stats["submitted"], STUDENTS);
    assert_eq!(stats["max_score"], 3);
    let average = stats["average_score"].as_f64().expect("a number");
    let expected = total as f64 / STUDENTS as f64;
    assert!(
        (average - expected).abs() < 1e-9,
        "average {average}, computed {expected}"
    );
}

async fn cold_contest_500_concurrent_gets_load_it_once(app: &TestApp) {
    let (contest, students) = app.open_contest_with_students(50, None).await;
    let id = id_of(&contest);
    assert_eq!(app.loads().await, 0, "cold");
    let path = contest_path(id);
    let gets = (0..500).map(|i| app.get(&path, Some(&students[i % students.len()].token)));
    let answers = join_all(gets).await;
    for (status, view) in &answers {
        assert_eq!(*status, StatusCode::OK, "{view}");
        assert_eq!(view["id"], id);
        assert_eq!(view["questions"].as_array().map(Vec::len), Some(2));
    }
    let health = app.health().await;
    assert_eq!(health["actors"]["loads"], 1, "one snapshot load: {health}");
    assert_eq!(health["actors"]["count"], 1, "{health}");
}

/// After the idle TTL evicts the contest, it reloads from the database, which remembers who
/// submitted.
async fn evicted_contest_still_refuses_a_second_submission(db: Db) {
    let Some(app) = spawn_app_with(db, &["--contest-idle-ttl-secs", "1"]).await else {
        return;
    };
    let (contest, students) = app.open_contest_with_students(2, None).await;
    let id = id_of(&contest);
    let q = question_ids(&contest);
    let (status, first) = app
        .submit(id, &students[0].token, answers(&[(q[0], 1)]))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(app.loads().await, 1);

    wait_for("eviction", Duration::from_secs(15), || async {
        let health = app.health().await;
        (health["actors"]["count"] == 0).then_some(())
    })
    .await;
    let health = app.health().await;
    assert_eq!(health["actors"]["contests"], json!([]), "{health}");

    let resp = app
        .submit(id, &students[0].token, answers(&[(q[0], 0)]))
        .await;
    assert_error(&resp, StatusCode::CONFLICT, "already_submitted");
    assert_eq!(app.loads().await, 2, "loaded again after the eviction");
    // The reloaded contest still takes the others.
    let (status, body) = app.submit(id, &students[1].token, answers(&[])).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let rows = app.all_submissions(id).await;
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["id"], first["id"], "the first submission stands");
    // Committed before the eviction, so the reloaded actor does not hold it: read from the
    // database, the same submission.
    let mine = format!("{}/my-submission", contest_path(id));
    let (status, own) = app.get(&mine, Some(&students[0].token)).await;
    assert_eq!(status, StatusCode::OK, "{own}");
    assert_eq!(own["id"], first["id"], "{own}");
    assert_eq!(
        own["answers"],
        json!([{"question_id": q[0], "option": 1}]),
        "{own}"
    );
    app.stop().await;
}

/// PostgreSQL only (SQLite is served by one process): two servers on one database, both
/// warm: each student's racing submissions to both get one 201 and one 409 (the unique key,
/// and the writer splitting the batch).
async fn two_runtimes_on_one_database_accept_one_submission(db: Db) {
    const STUDENTS: usize = 20;
    if db == Db::Sqlite {
        return;
    }
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let app = &app;
    let (contest, students) = app.open_contest_with_students(STUDENTS, None).await;
    let id = id_of(&contest);
    let other = app.sibling(&[]).await;
    // Tokens live in the shared database, so both servers accept them.
    for server in [app, &other] {
        let (status, view) = server
            .get(&contest_path(id), Some(&students[0].token))
            .await;
        assert_eq!(status, StatusCode::OK, "{view}");
        assert_eq!(server.health().await["actors"]["count"], 1, "warm");
    }

    let races = students.iter().map(|s| async {
        let (here, there) = futures::join!(
            app.submit(id, &s.token, answers(&[])),
            other.submit(id, &s.token, answers(&[]))
        );
        (here, there)
    });
    let outcomes = join_all(races).await;
    let mut accepted = HashSet::new();
    for (student, (here, there)) in students.iter().zip(&outcomes) {
        let (created, refused) = match (here.0, there.0) {
            (StatusCode::CREATED, _) => (here, there),
            (_, StatusCode::CREATED) => (there, here),
            _ => panic!("{}: no 201: {here:?} {there:?}", student.username),
        };
        assert_error(refused, StatusCode::CONFLICT, "already_submitted");
        accepted.insert(str_field(&created.1, "id").to_string());
    }

    for server in [app, &other] {
        let rows = server.all_submissions(id).await;
        assert_eq!(rows.len(), STUDENTS, "one row per student");
        let ids: HashSet<String> = rows
            .iter()
            .map(|r| str_field(r, "id").to_string())
            .collect();
        assert_eq!(ids, accepted, "the rows are the accepted submissions");
        // Both runtimes now know every student has submitted.
        let (status, _) = server.submit(id, &students[0].token, answers(&[])).await;
        assert_eq!(status, StatusCode::CONFLICT);
        // Each reads back the accepted submission, whichever runtime committed it (the other
        // one reads it from the database).
        for s in &students {
            let mine = format!("{}/my-submission", contest_path(id));
            let (status, own) = server.get(&mine, Some(&s.token)).await;
            assert_eq!(status, StatusCode::OK, "{own}");
            assert!(accepted.contains(str_field(&own, "id")), "{own}");
        }
    }
    other.stop().await;
}

/// PostgreSQL only: the database refuses connections during a submit. The SQLite file cannot
/// be taken away like this; the writer's retry-then-release path is unit-tested over a failing
/// sink in `actors/src/tests.rs` and `actors/src/writer.rs`.
async fn database_outage_answers_503_and_releases_the_claim(db: Db) {
    if db == Db::Sqlite {
        return;
    }
    let flags = ["--db-acquire-timeout-secs", "1", "--health-check-ms", "200"];
    let Some(app) = spawn_app_with(db, &flags).await else {
        return;
    };
    let (contest, students) = app.open_contest_with_students(1, Some("immediate")).await;
    let id = id_of(&contest);
    let token = &students[0].token;
    let q = question_ids(&contest);
    // Another contest of the course stays cold.
    let (start, end) = open_window();
    let course = contest["course_id"].as_i64().unwrap();
    let cold = id_of(&app.create_contest(course, start, end, None).await);
    // Warm the contest, and the student's token in the server's cache.
    let (status, view) = app.get(&contest_path(id), Some(token)).await;
    assert_eq!(status, StatusCode::OK, "{view}");

    app.set_database_reachable(false).await;
    let path = format!("/api/contests/{id}/submissions");
    let body = json!({ "answers": answers(&[(q[0], 1), (q[1], 0)]) });
    let (status, headers, refused) = app
        .request_with_headers(Method::POST, &path, Some(token), Some(body.clone()))
        .await;
    // `/health` follows the background check, which notices within a few of its periods.
    let outage = wait_for("/health turns degraded", Duration::from_secs(5), || async {
        let resp = app.get("/health", None).await;
        (resp.0 == StatusCode::SERVICE_UNAVAILABLE).then_some(resp)
    })
    .await;
    let (load_status, load_headers, load_refused) = app
        .request_with_headers(Method::GET, &contest_path(cold), Some(token), None)
        .await;
    // The warm contest still serves its view from memory.
    let (warm_status, warm_view) = app.get(&contest_path(id), Some(token)).await;
    app.set_database_reachable(true).await;

    assert_error(
        &(status, refused),
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
    );
    let retry_after = headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    assert!(
        retry_after.is_some_and(|s| s >= 1),
        "a Retry-After header in seconds: {headers:?}"
    );
    assert_eq!(outage.0, StatusCode::SERVICE_UNAVAILABLE, "{}", outage.1);
    assert_eq!(outage.1["status"], "degraded", "{}", outage.1);
    assert_eq!(outage.1["db"]["ok"], false, "{}", outage.1);
    assert_error(
        &(load_status, load_refused),
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
    );
    assert!(load_headers.contains_key(RETRY_AFTER), "{load_headers:?}");
    assert_eq!(warm_status, StatusCode::OK, "{warm_view}");

    // A failed load does not stick.
    let (status, view) = app.get(&contest_path(cold), Some(token)).await;
    assert_eq!(status, StatusCode::OK, "{view}");

    // The claim was released: the retry gets in.
    let (status, created) = app
        .request(Method::POST, &path, Some(token), Some(body))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["score"], 3);
    let rows = app.all_submissions(id).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["id"], created["id"]);
    wait_for("/health is ok again", Duration::from_secs(5), || async {
        (app.get("/health", None).await.0 == StatusCode::OK).then_some(())
    })
    .await;
    app.stop().await;
}

async fn unenrolled_student_is_refused_by_a_warm_contest_at_once(app: &TestApp) {
    let (contest, students) = app.open_contest_with_students(3, None).await;
    let id = id_of(&contest);
    let course = contest["course_id"].as_i64().unwrap();
    for s in &students {
        let (status, view) = app.get(&contest_path(id), Some(&s.token)).await;
        assert_eq!(status, StatusCode::OK, "{view}");
    }
    // The third submits, then leaves with the first.
    let (status, kept) = app.submit(id, &students[2].token, answers(&[])).await;
    assert_eq!(status, StatusCode::CREATED, "{kept}");
    let admin = app.admin_token().await;
    for s in [&students[0], &students[2]] {
        let (status, _) = app
            .delete(
                &format!("/api/courses/{course}/enrollments/{}", s.id),
                Some(&admin),
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
    }
    let resp = app.submit(id, &students[2].token, answers(&[])).await;
    assert_error(&resp, StatusCode::FORBIDDEN, "not_enrolled");
    // What they submitted stays readable (README: my-submission needs no enrollment).
    let (status, own) = app
        .get(
            &format!("{}/my-submission", contest_path(id)),
            Some(&students[2].token),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{own}");
    assert_eq!(own["id"], kept["id"]);

    let leaver = &students[0].token;
    let resp = app.get(&contest_path(id), Some(leaver)).await;
    assert_error(&resp, StatusCode::FORBIDDEN, "not_enrolled");
    let resp = app.submit(id, leaver, answers(&[])).await;
    assert_error(&resp, StatusCode::FORBIDDEN, "not_enrolled");
    // The other student is untouched.
    let (status, body) = app.submit(id, &students[1].token, answers(&[])).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(app.loads().await, 1, "the change reached the warm contest");
    assert_eq!(app.all_submissions(id).await.len(), 2);
}

async fn patched_times_and_active_flag_reach_a_warm_contest_at_once(app: &TestApp) {
    let (contest, students) = app.open_contest_with_students(3, None).await;
    let id = id_of(&contest);
    let admin = app.admin_token().await;
    let (status, _) = app.get(&contest_path(id), Some(&students[0].token)).await;
    assert_eq!(status, StatusCode::OK);

    let patch = |body: Value| {
        let admin = admin.clone();
        async move {
            let (status, view) = app.patch(&contest_path(id), Some(&admin), Some(body)).await;
            assert_eq!(status, StatusCode::OK, "{view}");
        }
    };

    // The end moves into the past: closed at once.
    let past = now_ms() - TimeDelta::seconds(1);
    patch(json!({ "end_time": rfc3339(past) })).await;
    let resp = app.submit(id, &students[0].token, answers(&[])).await;
    assert_error(&resp, StatusCode::CONFLICT, "contest_not_open");
    let (_, view) = app.get(&contest_path(id), Some(&students[0].token)).await;
    assert_eq!(view["status"], "closed", "{view}");

    // And back to open.
    patch(json!({ "end_time": rfc3339(now_ms() + TimeDelta::hours(1)) })).await;
    let (status, body) = app.submit(id, &students[0].token, answers(&[])).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // The start moves into the future: upcoming, questions hidden.
    patch(json!({ "start_time": rfc3339(now_ms() + TimeDelta::minutes(30)) })).await;
    let resp = app.submit(id, &students[1].token, answers(&[])).await;
    assert_error(&resp, StatusCode::CONFLICT, "contest_not_open");
    let (_, view) = app.get(&contest_path(id), Some(&students[1].token)).await;
    assert_eq!(view["status"], "upcoming", "{view}");
    assert_eq!(view["questions"], json!([]), "{view}");
    patch(json!({ "start_time": rfc3339(now_ms() - TimeDelta::minutes(30)) })).await;

    // Inactive: 404 for everything a student does.
    patch(json!({ "is_active": false })).await;
    let student = &students[2].token;
    let resp = app.get(&contest_path(id), Some(student)).await;
    assert_error(&resp, StatusCode::NOT_FOUND, "not_found");
    let resp = app.submit(id, student, answers(&[])).await;
    assert_error(&resp, StatusCode::NOT_FOUND, "not_found");
    let resp = app
        .get(
            &format!("{}/my-submission", contest_path(id)),
            Some(&students[0].token),
        )
        .await;
    assert_error(&resp, StatusCode::NOT_FOUND, "not_found");

    patch(json!({ "is_active": true })).await;
    let (status, body) = app.submit(id, student, answers(&[])).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        app.loads().await,
        1,
        "every change reached the warm contest"
    );
    assert_eq!(app.all_submissions(id).await.len(), 2);
}

async fn enrolled_student_is_admitted_by_a_warm_contest_at_once(app: &TestApp) {
    let (contest, students) = app.open_contest_with_students(1, None).await;
    let id = id_of(&contest);
    let course = contest["course_id"].as_i64().unwrap();
    let (status, _) = app.get(&contest_path(id), Some(&students[0].token)).await;
    assert_eq!(status, StatusCode::OK);
    let newcomers = app.logged_in_students(2).await;
    let resp = app.get(&contest_path(id), Some(&newcomers[0].token)).await;
    assert_error(&resp, StatusCode::FORBIDDEN, "not_enrolled");

    app.enroll(course, &[newcomers[0].id, newcomers[1].id])
        .await;
    for s in &newcomers {
        let (status, view) = app.get(&contest_path(id), Some(&s.token)).await;
        assert_eq!(status, StatusCode::OK, "{view}");
        let (status, body) = app.submit(id, &s.token, answers(&[])).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    assert_eq!(app.loads().await, 1, "the change reached the warm contest");
    let health = app.health().await;
    assert_eq!(health["actors"]["contests"][0]["enrolled"], 3, "{health}");
}

/// Many students submit at once to a runtime with tiny bounds (`flags`): each answer is 201 or
/// `503 unavailable` with `Retry-After`, at least one is refused, and every refused student
/// gets in on retry (the refusal claimed nothing); the bound's counter drains back to 0.
async fn overload_then_retry(db: Db, flags: &[&str]) {
    const STUDENTS: usize = 200;
    let Some(app) = spawn_app_with(db, flags).await else {
        return;
    };
    let (contest, students) = app.open_contest_with_students(STUDENTS, None).await;
    let id = id_of(&contest);
    let path = format!("/api/contests/{id}/submissions");
    let body = json!({ "answers": [] });
    let first = join_all(students.iter().map(|s| {
        app.request_with_headers(Method::POST, &path, Some(&s.token), Some(body.clone()))
    }))
    .await;
    let mut refused = Vec::new();
    for (student, (status, headers, answer)) in students.iter().zip(first) {
        if status == StatusCode::CREATED {
            continue;
        }
        assert_error(
            &(status, answer),
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
        );
        assert!(
            headers.contains_key(RETRY_AFTER),
            "Retry-After: {headers:?}"
        );
        refused.push(student);
    }
    eprintln!(
        "overload ({db:?}, {flags:?}): {} of {STUDENTS} refused",
        refused.len()
    );
    assert!(!refused.is_empty(), "the bound refused some");

    for student in refused {
        let (status, body) = app.submit(id, &student.token, answers(&[])).await;
        assert_eq!(status, StatusCode::CREATED, "{}: {body}", student.username);
    }
    assert_eq!(app.all_submissions(id).await.len(), STUDENTS);
    let health = app.health().await;
    assert_eq!(health["writer"]["queue_depth"], 0, "{health}");
    assert_eq!(
        health["actors"]["contests"][0]["mailbox_depth"], 0,
        "{health}"
    );
    assert_eq!(health["actors"]["contests"][0]["submitted"], STUDENTS);
    app.stop().await;
}

async fn full_mailbox_answers_503_and_the_retry_gets_in(db: Db) {
    overload_then_retry(db, &["--mailbox-capacity", "1"]).await;
}

async fn full_writer_queue_answers_503_and_the_retry_gets_in(db: Db) {
    overload_then_retry(db, &["--writer-queue", "1", "--writer-batch-size", "1"]).await;
}
