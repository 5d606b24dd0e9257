//! The CSV export of a contest's submissions (`Accept: text/csv` on the admin list): formula
//! cells neutralised, every row written once across pages, streamed, and a database that is
//! gone at the start still answered with the JSON 503.

use std::collections::HashSet;

use futures::stream::{self, StreamExt};
use reqwest::header::{HeaderMap, ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, TRANSFER_ENCODING};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::{
    answers, assert_error, csv_rows, id_of, open_window, parse_time, question_ids, rfc3339,
    spawn_app_behind_proxy, str_field, Student, TestApp, CSV_COLUMNS, STUDENT_PW,
};

both_databases!(
    formula_usernames_are_neutralised,
    export_streams_every_page_once_in_list_order,
);

/// PostgreSQL only, reached through a proxy the test closes.
mod postgres_proxy {
    #[actix_web::test]
    async fn database_gone_at_the_start_is_a_json_503() {
        super::database_gone_at_the_start_is_a_json_503().await;
    }
}

/// What a spreadsheet reads as the start of a formula (OWASP's list).
const TRIGGERS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// How many requests the tests keep in flight at once when making many submissions.
const IN_FLIGHT: usize = 64;

fn list_path(contest: i64) -> String {
    format!("/api/contests/{contest}/submissions")
}

/// `GET` the export as the admin: the status, the headers, the body.
async fn export(app: &TestApp, admin: &str, contest: i64) -> (StatusCode, HeaderMap, String) {
    let resp = app
        .client()
        .get(app.url(&list_path(contest)))
        .bearer_auth(admin)
        .header(ACCEPT, "text/csv")
        .send()
        .await
        .expect("the server answers");
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("the whole export");
    (status, headers, text)
}

/// A 200 export parsed with the csv crate: the records after the header row.
#[track_caller]
fn parse(status: StatusCode, headers: &HeaderMap, text: &str) -> Vec<Vec<String>> {
    assert_eq!(status, StatusCode::OK, "{text}");
    let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
    assert_eq!(content_type, Some("text/csv; charset=utf-8"), "{headers:?}");
    let (header, rows) = csv_rows(text);
    assert_eq!(
        header[..CSV_COLUMNS.len()],
        CSV_COLUMNS,
        "the header row begins with the fixed columns"
    );
    // Then an answer and a points column per question.
    let per_question = &header[CSV_COLUMNS.len()..];
    assert!(per_question.len().is_multiple_of(2), "{header:?}");
    for pair in per_question.chunks(2) {
        let id = pair[0].strip_suffix("_answer").expect("q<id>_answer");
        assert_eq!(pair[1], format!("{id}_points"), "{header:?}");
    }
    assert!(
        rows.iter().all(|r| r.len() == header.len()),
        "every record as wide as the header"
    );
    rows
}

/// Every submission of the contest from the JSON list, walking its pages of 1,000.
async fn list_all(app: &TestApp, admin: &str, contest: i64) -> Vec<Value> {
    let mut all = Vec::new();
    let mut query = "?limit=1000".to_string();
    loop {
        let path = format!("{}{query}", list_path(contest));
        let (status, body) = app.get(&path, Some(admin)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        all.extend(body["submissions"].as_array().expect("submissions").clone());
        match body["next"].as_str() {
            Some(next) => query = format!("?limit=1000&after={next}"),
            None => return all,
        }
    }
}

/// Asserts the CSV records are the listed submissions, in the list's order, with the username
/// as `username_cell` makes it and every other cell equal to the JSON's.
#[track_caller]
fn assert_rows_are_the_list(
    records: &[Vec<String>],
    listed: &[Value],
    username_cell: fn(&str) -> String,
) {
    assert_eq!(records.len(), listed.len(), "one record per submission");
    for (i, (record, entry)) in records.iter().zip(listed).enumerate() {
        let at = format!("record {i}: {record:?} against {entry}");
        assert!(record.len() >= CSV_COLUMNS.len(), "{at}");
        assert_eq!(record[0], str_field(entry, "id"), "{at}");
        assert_eq!(record[1], entry["student_id"].to_string(), "{at}");
        assert_eq!(
            record[2],
            username_cell(str_field(entry, "username")),
            "{at}"
        );
        assert_eq!(record[3], entry["score"].to_string(), "{at}");
        assert_eq!(record[4], entry["max_score"].to_string(), "{at}");
        // RFC 3339 with milliseconds and `Z`, the same instant as the list's.
        let time = parse_time(&json!(record[5]));
        assert_eq!(time, parse_time(&entry["submitted_at"]), "{at}");
        assert_eq!(record[5], rfc3339(time), "{at}");
        let parsed: Value = serde_json::from_str(&record[6]).expect("answers as JSON");
        assert_eq!(parsed, entry["answers"], "{at}");
        assert_eq!(record[7], entry["auto"].to_string(), "{at}");
    }
}

/// Creates students with these usernames in one bulk call, enrols them in a new course with a
/// contest open now, and logs them in.
async fn open_contest_with_names(app: &TestApp, names: &[&str]) -> (Value, Vec<Student>) {
    let admin = app.admin_token().await;
    let users: Vec<Value> = names
        .iter()
        .map(|n| json!({ "username": n, "password": STUDENT_PW, "role": "student" }))
        .collect();
    let (status, body) = app
        .post(
            "/api/users/bulk",
            Some(&admin),
            Some(json!({ "users": users })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "bulk create: {body}");
    let mut students = Vec::new();
    for user in body["users"].as_array().expect("users") {
        let username = str_field(user, "username").to_string();
        let token = app.login(&username, STUDENT_PW).await;
        students.push(Student {
            id: id_of(user),
            username,
            token,
        });
    }
    let course = app.create_course().await;
    let ids: Vec<i64> = students.iter().map(|s| s.id).collect();
    app.enroll(course, &ids).await;
    let (start, end) = open_window();
    let contest = app
        .create_contest(course, start, end, Some("immediate"))
        .await;
    (contest, students)
}

async fn formula_usernames_are_neutralised(app: &TestApp) {
    // The username alphabet (A-Z a-z 0-9 _ . -) lets only `-` begin a formula; the other
    // triggers are refused at creation, and `neutralise`'s unit tests cover them.
    let admin = app.admin_token().await;
    for refused in ["=1+1", "+1", "@SUM(A1)"] {
        let body = json!({ "username": refused, "password": STUDENT_PW, "role": "student" });
        let resp = app.post("/api/users", Some(&admin), Some(body)).await;
        assert_error(&resp, StatusCode::BAD_REQUEST, "bad_request");
    }
    let dashed = ["-A1", "-1", "-2-3", "--x", "-"];
    let plain = ["plain.name", "_x", "a-1", ".1"];
    let names: Vec<&str> = dashed.iter().chain(&plain).copied().collect();
    let (contest, students) = open_contest_with_names(app, &names).await;
    let id = id_of(&contest);
    let q = question_ids(&contest);
    for (i, student) in students.iter().enumerate() {
        let sent = answers(&[(q[0], (i % 3) as i64), (q[1], (i % 2) as i64)]);
        let (status, receipt) = app.submit(id, &student.token, sent).await;
        assert_eq!(status, StatusCode::CREATED, "{receipt}");
    }

    let (status, headers, text) = export(app, &admin, id).await;
    let records = parse(status, &headers, &text);
    for cell in records.iter().flatten() {
        assert!(
            !cell.starts_with(TRIGGERS),
            "a live formula cell {cell:?} in:\n{text}"
        );
    }
    let usernames: HashSet<&str> = records.iter().map(|r| r[2].as_str()).collect();
    let expected: HashSet<String> = dashed
        .iter()
        .map(|n| format!("'{n}"))
        .chain(plain.iter().map(|n| n.to_string()))
        .collect();
    assert_eq!(
        usernames,
        expected.iter().map(String::as_str).collect(),
        "dashed names get a leading quote, the others are as they are:\n{text}"
    );
    let listed = list_all(app, &admin, id).await;
    assert_rows_are_the_list(&records, &listed, |name| {
        if name.starts_with('-') {
            format!("'{name}")
        } else {
            name.to_string()
        }
    });
}

async fn export_streams_every_page_once_in_list_order(app: &TestApp) {
    // Two full pages of 1,000 and a part page.
    const STUDENTS: usize = 2300;
    let (contest, students) = app
        .open_contest_with_students(STUDENTS, Some("immediate"))
        .await;
    let id = id_of(&contest);
    let q = question_ids(&contest);
    let receipts: Vec<Value> = stream::iter(students.iter().enumerate())
        .map(|(i, s)| {
            let sent = answers(&[(q[0], (i % 3) as i64), (q[1], (i / 3 % 2) as i64)]);
            app.submit(id, &s.token, sent)
        })
        .buffer_unordered(IN_FLIGHT)
        .map(|(status, receipt)| {
            assert_eq!(status, StatusCode::CREATED, "{receipt}");
            receipt
        })
        .collect()
        .await;
    let admin = app.admin_token().await;

    let (status, headers, text) = export(app, &admin, id).await;
    // Streamed: chunked, with no length known up front.
    assert_eq!(
        headers.get(TRANSFER_ENCODING).and_then(|v| v.to_str().ok()),
        Some("chunked"),
        "{headers:?}"
    );
    assert!(headers.get(CONTENT_LENGTH).is_none(), "{headers:?}");
    let records = parse(status, &headers, &text);
    let exported: HashSet<&str> = records.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(exported.len(), records.len(), "no submission twice");
    let acknowledged: HashSet<&str> = receipts.iter().map(|r| str_field(r, "id")).collect();
    assert_eq!(exported, acknowledged, "every acknowledged submission");
    let listed = list_all(app, &admin, id).await;
    assert_rows_are_the_list(&records, &listed, str::to_string);
}

/// The first page is read before the 200 goes out, so a database that is gone when the export
/// starts gets the usual JSON 503, not a 200 with a cut-off body.
async fn database_gone_at_the_start_is_a_json_503() {
    let Some((app, mut proxy)) = spawn_app_behind_proxy(&["--db-acquire-timeout-secs", "1"]).await
    else {
        return;
    };
    let (contest, students) = app.open_contest_with_students(1, None).await;
    let id = id_of(&contest);
    let (status, receipt) = app.submit(id, &students[0].token, answers(&[])).await;
    assert_eq!(status, StatusCode::CREATED, "{receipt}");
    // After this export the admin's token is cached and the contest is in memory: with the
    // database gone, only the page read fails.
    let admin = app.admin_token().await;
    let (status, headers, text) = export(&app, &admin, id).await;
    assert_eq!(parse(status, &headers, &text).len(), 1, "{text}");

    proxy.close().await;
    let resp = app
        .client()
        .get(app.url(&list_path(id)))
        .bearer_auth(&admin)
        .header(ACCEPT, "text/csv")
        .send()
        .await
        .expect("the server answers");
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    let text = resp.text().await.expect("a readable body");
    assert!(is_json, "{status}: a JSON error, not CSV: {text}");
    let body: Value = serde_json::from_str(&text).expect("a JSON body");
    assert_error(
        &(status, body),
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
    );
    app.stop().await;
}
