//! Question types (API.md, "Question types"; the choices of /work/notes/issue13-contract.md):
//! creating the four types and the admin view of their keys, validation, grading through real
//! submissions, the shapes of answers, no key in anything a student sees, per-student order,
//! editing before the start, and correcting the key with the regrade it sets off (also while
//! submissions pour in).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use futures::stream::{self, StreamExt};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::support::{
    assert_error, assert_keys, closed_window, contest_body, csv_rows, id_of, now_ms, open_window,
    parse_time, question_ids, rfc3339, str_field, upcoming_window, wait_for, Db, Student, TestApp,
    CSV_COLUMNS,
};
use crate::ws::{connect, next_frame, Socket};

both_databases!(
    every_type_is_created_with_its_key_in_the_admin_view,
    bad_questions_are_400_naming_index_and_field,
    every_type_is_graded_through_real_submissions,
    answers_of_the_wrong_shape_are_400,
    students_never_see_the_key,
    shuffled_views_differ_by_student_and_never_move,
    shuffle_flags_apply_separately,
    questions_are_edited_while_upcoming_and_frozen_once_open,
    key_correction_regrades_every_view_and_tells_the_changed,
    key_correction_covers_each_key_field,
    key_correction_refusals,
    regrade_during_a_burst_of_submissions,
);

/// The admin view of a contest (contests.rs) plus `shuffle`.
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
    "questions",
    "shuffle",
    "grace_seconds",
    "duration_minutes",
];

/// What a student must never see, at any depth.
const KEY_FIELDS: [&str; 4] = ["correct_option", "correct_options", "answer", "accepted"];

/// How long a WebSocket frame that the contract wants "within 1 s" may take here (a busy CI).
const FRAME_DEADLINE: Duration = Duration::from_secs(2);

// ---- paths, bodies, answers ----

fn contest_path(id: i64) -> String {
    format!("/api/contests/{id}")
}

fn question_path(contest: i64, question: i64) -> String {
    format!("/api/contests/{contest}/questions/{question}")
}

fn my_submission(contest: i64) -> String {
    format!("/api/contests/{contest}/my-submission")
}

/// A creation body without `shuffle`.
fn exam(
    course: i64,
    (start, end): (DateTime<Utc>, DateTime<Utc>),
    results: &str,
    questions: Value,
) -> Value {
    json!({
        "course_id": course,
        "title": "Exam",
        "start_time": rfc3339(start),
        "end_time": rfc3339(end),
        "results": results,
        "questions": questions,
    })
}

fn opt(q: i64, option: i64) -> Value {
    json!({ "question_id": q, "option": option })
}

fn opts(q: i64, options: &[i64]) -> Value {
    json!({ "question_id": q, "options": options })
}

fn val(q: i64, value: f64) -> Value {
    json!({ "question_id": q, "value": value })
}

fn txt(q: i64, text: &str) -> Value {
    json!({ "question_id": q, "text": text })
}

/// A course with `n` enrolled, logged-in students.
async fn course_with(app: &TestApp, n: usize) -> (i64, Vec<Student>) {
    let course = app.create_course().await;
    let students = app.logged_in_students(n).await;
    let ids: Vec<i64> = students.iter().map(|s| s.id).collect();
    app.enroll(course, &ids).await;
    (course, students)
}

/// The questions of a contest view.
#[track_caller]
fn questions_of(view: &Value) -> Vec<Value> {
    view["questions"]
        .as_array()
        .unwrap_or_else(|| panic!("questions in {view}"))
        .clone()
}

/// `POST …/submissions`: the status, the raw body text and the body parsed.
async fn submit_raw(
    app: &TestApp,
    contest: i64,
    token: &str,
    answers: &Value,
) -> (StatusCode, String, Value) {
    let resp = app
        .client()
        .post(app.url(&format!("/api/contests/{contest}/submissions")))
        .bearer_auth(token)
        .json(&json!({ "answers": answers }))
        .send()
        .await
        .expect("the server answers");
    let status = resp.status();
    let text = resp.text().await.expect("a readable body");
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{status}: {e}: {text}"));
    (status, text, body)
}

// ---- scores ----

/// Exact fractions of a point: every partial credit is `points × k / n` with `n` ≤ 10, a whole
/// number of 2520ths.
const UNIT: i64 = 2520;

/// Units to hundredths, rounded half away from zero (units are never negative here).
fn cents(units: i64) -> i64 {
    (units * 100 + UNIT / 2) / UNIT
}

/// The raw JSON number of `"key"` in a body's text (whitespace around the colon allowed).
#[track_caller]
fn raw_number<'a>(text: &'a str, key: &str) -> &'a str {
    let pattern = format!("\"{key}\"");
    let at = text
        .find(&pattern)
        .unwrap_or_else(|| panic!("no {pattern} in {text}"))
        + pattern.len();
    let rest = text[at..].trim_start();
    let rest = rest
        .strip_prefix(':')
        .unwrap_or_else(|| panic!("{pattern} without a value in {text}"))
        .trim_start();
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || "+-.eE".contains(c)))
        .unwrap_or(rest.len());
    &rest[..end]
}

/// Asserts a score as written in JSON: a whole score as an integer (`4`, never `4.0`), else the
/// value with at most two decimals.
#[track_caller]
fn assert_score_text(text: &str, expected_cents: i64, what: &str) {
    if expected_cents % 100 == 0 {
        assert_eq!(
            text,
            (expected_cents / 100).to_string(),
            "{what}: a whole score, written as an integer"
        );
    } else {
        let value: f64 = text
            .parse()
            .unwrap_or_else(|e| panic!("{what}: {text:?} is not a number ({e})"));
        assert!(
            (value * 100.0 - expected_cents as f64).abs() < 1e-6,
            "{what}: {text}, expected {:.2}",
            expected_cents as f64 / 100.0
        );
        let decimals = text.split_once('.').map_or(0, |(_, d)| d.len());
        assert!(
            decimals <= 2 && !text.contains(['e', 'E']),
            "{what}: {text} has more than two decimals"
        );
    }
}

/// Like `assert_score_text`, on a parsed value (`1.0` parses to a float and prints as `1.0`).
#[track_caller]
fn assert_score(v: &Value, expected_cents: i64, what: &str) {
    assert_score_text(&v.to_string(), expected_cents, what);
}

/// Folds a text answer the way the contract does, for the ASCII texts of the regrade tests:
/// trimmed, inner whitespace collapsed, lower case.
fn fold_ascii(s: &str) -> String {
    assert!(s.is_ascii(), "fold_ascii is for ASCII texts: {s:?}");
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

fn indexes(v: &Value) -> Vec<i64> {
    v.as_array()
        .unwrap_or_else(|| panic!("an array of indexes, got {v}"))
        .iter()
        .map(|i| i.as_i64().expect("an index"))
        .collect()
}

/// What an answer earns on a question (its admin view), in `UNIT`ths, as the contract grades.
fn earned_units(q: &Value, answer: Option<&Value>) -> i64 {
    let Some(a) = answer else {
        return 0;
    };
    let full = q["points"]
        .as_i64()
        .unwrap_or_else(|| panic!("integer points in {q}"))
        * UNIT;
    let kind = q["type"]
        .as_str()
        .unwrap_or_else(|| panic!("a question type in {q}"));
    let won = match kind {
        "single" => a["option"] == q["correct_option"],
        "multiple" => {
            let correct: HashSet<i64> = indexes(&q["correct_options"]).into_iter().collect();
            let chosen = indexes(&a["options"]);
            let right = chosen.iter().filter(|o| correct.contains(o)).count() as i64;
            let wrong = chosen.len() as i64 - right;
            let n = correct.len() as i64;
            if q["scoring"] == "partial" {
                return full * (right - wrong).max(0) / n;
            }
            right == n && wrong == 0
        }
        "numeric" => {
            let given = a["value"].as_f64().expect("a value");
            let value = q["answer"]["value"].as_f64().expect("answer.value");
            let tolerance = q["answer"]["tolerance"].as_f64().expect("answer.tolerance");
            (given - value).abs() <= tolerance
        }
        "text" => {
            let given = fold_ascii(a["text"].as_str().expect("a text"));
            q["accepted"]
                .as_array()
                .expect("accepted")
                .iter()
                .any(|s| fold_ascii(s.as_str().expect("a string")) == given)
        }
        other => panic!("unknown type {other}"),
    };
    if won {
        full
    } else {
        0
    }
}

/// The answer to question `q` in an answers array.
fn answer_to<'a>(answers: &'a Value, q: &Value) -> Option<&'a Value> {
    answers
        .as_array()
        .expect("answers")
        .iter()
        .find(|a| a["question_id"] == q["id"])
}

/// The total the contract gives these answers under these questions (admin views), in cents.
fn expected_cents(questions: &[Value], answers: &Value) -> i64 {
    cents(
        questions
            .iter()
            .map(|q| earned_units(q, answer_to(answers, q)))
            .sum(),
    )
}

fn max_cents(questions: &[Value]) -> i64 {
    questions
        .iter()
        .map(|q| q["points"].as_i64().expect("points") * 100)
        .sum()
}

// ---- views ----

/// Every number as a float and `correct_options` sorted: the admin view may write `5` as `5.0`
/// and the correct options in any order.
fn normalised(v: &Value) -> Value {
    match v {
        Value::Number(n) => json!(n.as_f64().expect("a finite number")),
        Value::Array(items) => Value::Array(items.iter().map(normalised).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let mut v = normalised(v);
                    if k == "correct_options" {
                        if let Value::Array(items) = &mut v {
                            items.sort_by(|a, b| a.as_f64().partial_cmp(&b.as_f64()).unwrap());
                        }
                    }
                    (k.clone(), v)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

#[track_caller]
fn assert_same_questions(got: &[Value], expected: &[Value]) {
    let got: Vec<Value> = got.iter().map(normalised).collect();
    let expected: Vec<Value> = expected.iter().map(normalised).collect();
    assert_eq!(got, expected, "the questions");
}

/// The keys of an admin view's question of this type.
fn admin_question_keys(kind: &str) -> &'static [&'static str] {
    match kind {
        "single" => &[
            "id",
            "type",
            "prompt",
            "options",
            "points",
            "correct_option",
        ],
        "multiple" => &[
            "id",
            "type",
            "prompt",
            "options",
            "points",
            "correct_options",
            "scoring",
        ],
        "numeric" => &["id", "type", "prompt", "points", "answer"],
        "text" => &["id", "type", "prompt", "points", "accepted"],
        other => panic!("unknown type {other}"),
    }
}

/// The keys of a student's question of this type, without `option_order`.
fn student_question_keys(kind: &str) -> Vec<&'static str> {
    match kind {
        "single" => vec!["id", "type", "prompt", "options", "points"],
        "multiple" => vec!["id", "type", "prompt", "options", "scoring", "points"],
        "numeric" | "text" => vec!["id", "type", "prompt", "points"],
        other => panic!("unknown type {other}"),
    }
}

fn has_options(kind: &str) -> bool {
    matches!(kind, "single" | "multiple")
}

/// The paths in `v` of every key that gives the answer away.
fn key_paths(v: &Value, at: &str, found: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                let here = format!("{at}.{k}");
                if KEY_FIELDS.contains(&k.as_str()) {
                    found.push(here.clone());
                }
                key_paths(child, &here, found);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                key_paths(item, &format!("{at}[{i}]"), found);
            }
        }
        _ => {}
    }
}

#[track_caller]
fn assert_no_key(v: &Value, what: &str) {
    let mut found = Vec::new();
    key_paths(v, "$", &mut found);
    assert!(
        found.is_empty(),
        "{what} gives the key away at {found:?}: {v}"
    );
}

/// Checks a student's view of a contest against the admin's questions: each question once,
/// nothing of the key, the student keys of its type, options in their original order, and
/// `option_order` (a permutation of the option indexes) exactly on single and multiple
/// questions when `options_shuffled`. Returns the question ids in the order shown.
#[track_caller]
fn check_student_questions(view: &Value, admin: &[Value], options_shuffled: bool) -> Vec<i64> {
    assert_no_key(view, "the student view");
    let shown = questions_of(view);
    assert_eq!(shown.len(), admin.len(), "every question: {view}");
    for q in &shown {
        let a = admin
            .iter()
            .find(|a| a["id"] == q["id"])
            .unwrap_or_else(|| panic!("{q} is not one of the contest's questions"));
        let kind = a["type"].as_str().expect("type");
        let mut keys = student_question_keys(kind);
        if options_shuffled && has_options(kind) {
            keys.push("option_order");
        }
        assert_keys(q, &keys);
        assert_eq!(q["type"], a["type"], "{q}");
        assert_eq!(q["prompt"], a["prompt"], "{q}");
        assert_eq!(q["points"], a["points"], "{q}");
        if has_options(kind) {
            assert_eq!(q["options"], a["options"], "options keep their order: {q}");
        }
        if kind == "multiple" {
            assert_eq!(q["scoring"], a["scoring"], "{q}");
        }
        if let Some(order) = q.get("option_order") {
            let mut sorted = indexes(order);
            sorted.sort_unstable();
            let n = a["options"].as_array().expect("options").len() as i64;
            assert_eq!(sorted, (0..n).collect::<Vec<_>>(), "a permutation: {q}");
        }
    }
    let ids: Vec<i64> = shown.iter().map(id_of).collect();
    let distinct: HashSet<i64> = ids.iter().copied().collect();
    assert_eq!(distinct.len(), ids.len(), "no question twice: {view}");
    ids
}

// ---- WebSocket ----

/// Every JSON text frame until `deadline` (none missed: the socket buffers them).
async fn frames_until(socket: &mut Socket, deadline: Instant) -> Vec<Value> {
    let mut frames = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return frames;
        }
        match tokio::time::timeout(left, socket.next()).await {
            Err(_) => return frames,
            Ok(Some(Ok(Message::Text(text)))) => {
                frames.push(serde_json::from_str(&text).expect("a JSON frame"));
            }
            Ok(Some(Ok(_))) => {}
            Ok(other) => panic!("the socket ended: {other:?}"),
        }
    }
}

/// Reads frames until one of type `kind`, failing the test at `deadline`; every frame read is
/// checked for the key.
async fn frame_by(socket: &mut Socket, kind: &str, deadline: Instant) -> Value {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "no {kind} frame by the deadline");
        let frame = next_frame(socket, left).await;
        assert_no_key(&frame, "a WebSocket frame");
        if frame["type"] == kind {
            return frame;
        }
    }
}

// ---- checks across every view of the scores ----

/// The CSV export as the admin: the header row and the records.
async fn csv_export(app: &TestApp, admin: &str, contest: i64) -> (Vec<String>, Vec<Vec<String>>) {
    let path = format!("/api/contests/{contest}/submissions");
    let (status, content_type, text) = app.get_text(&path, Some(admin), "text/csv").await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(content_type.starts_with("text/csv"), "{content_type}");
    csv_rows(&text)
}

/// Asserts a CSV answer cell holds `answer` to `q` as the contract writes it.
#[track_caller]
fn assert_answer_cell(cell: &str, q: &Value, answer: Option<&Value>, at: &str) {
    let Some(a) = answer else {
        assert_eq!(cell, "", "{at}: unanswered is an empty cell");
        return;
    };
    match q["type"].as_str().expect("type") {
        "single" => assert_eq!(cell, a["option"].to_string(), "{at}"),
        "multiple" => {
            let parsed: Value = serde_json::from_str(cell)
                .unwrap_or_else(|e| panic!("{at}: {cell:?} is not a JSON array ({e})"));
            let mut got = indexes(&parsed);
            let mut sent = indexes(&a["options"]);
            got.sort_unstable();
            sent.sort_unstable();
            assert_eq!(got, sent, "{at}");
        }
        "numeric" => {
            let sent = a["value"].as_f64().expect("a value");
            if sent.fract() == 0.0 {
                assert_eq!(cell, format!("{}", sent as i64), "{at}: a whole number");
            } else {
                let got: f64 = cell
                    .parse()
                    .unwrap_or_else(|e| panic!("{at}: {cell:?} ({e})"));
                assert_eq!(got, sent, "{at}");
            }
        }
        "text" => assert_eq!(cell, a["text"].as_str().expect("text"), "{at}"),
        other => panic!("unknown type {other}"),
    }
}

/// Asserts that the admin view holds `questions` (the key as the test set it) and that
/// my-submission, the admin list, the CSV export (with its per-question columns), the
/// leaderboard and bulk-stats all show the scores those questions give each student's
/// answers (`plans[i]` is what `students[i]` submitted).
async fn assert_scores_everywhere(
    app: &TestApp,
    contest: i64,
    questions: &[Value],
    students: &[Student],
    plans: &[Value],
) {
    let admin = app.admin_token().await;
    let (status, view) = app.get(&contest_path(contest), Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_same_questions(&questions_of(&view), questions);
    let max = max_cents(questions);
    let expected: HashMap<i64, i64> = students
        .iter()
        .zip(plans)
        .map(|(s, plan)| (s.id, expected_cents(questions, plan)))
        .collect();
    let plan_of: HashMap<i64, &Value> = students.iter().map(|s| s.id).zip(plans).collect();

    for student in students {
        let (status, mine) = app.get(&my_submission(contest), Some(&student.token)).await;
        assert_eq!(status, StatusCode::OK, "{mine}");
        let what = format!("{}'s my-submission {mine}", student.username);
        assert_score(&mine["score"], expected[&student.id], &what);
        assert_score(&mine["max_score"], max, &what);
    }

    let rows = app.all_submissions(contest).await;
    assert_eq!(rows.len(), students.len(), "one row per student: {rows:?}");
    for row in &rows {
        let student = row["student_id"].as_i64().expect("student_id");
        let what = format!("the admin list's {row}");
        assert_score(&row["score"], expected[&student], &what);
        assert_score(&row["max_score"], max, &what);
    }

    let (header, records) = csv_export(app, &admin, contest).await;
    let mut columns: Vec<String> = CSV_COLUMNS.iter().map(|c| c.to_string()).collect();
    for q in questions {
        let id = id_of(q);
        columns.push(format!("q{id}_answer"));
        columns.push(format!("q{id}_points"));
    }
    assert_eq!(header, columns, "the CSV header");
    assert_eq!(records.len(), students.len(), "one CSV record per student");
    for record in &records {
        let at = format!("CSV record {record:?}");
        assert_eq!(record.len(), columns.len(), "{at}");
        let student: i64 = record[1].parse().expect("a student id");
        assert_score_text(&record[3], expected[&student], &at);
        assert_score_text(&record[4], max, &at);
        let plan = plan_of[&student];
        for (j, q) in questions.iter().enumerate() {
            let answer = answer_to(plan, q);
            let at = format!("{at}, question {}", q["id"]);
            assert_answer_cell(&record[CSV_COLUMNS.len() + 2 * j], q, answer, &at);
            assert_score_text(
                &record[CSV_COLUMNS.len() + 1 + 2 * j],
                cents(earned_units(q, answer)),
                &at,
            );
        }
    }

    let path = format!("/api/contests/{contest}/leaderboard?limit=1000");
    let (status, board) = app.get(&path, Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{board}");
    let entries = board["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), students.len(), "{board}");
    let mut previous: Option<(i64, DateTime<Utc>)> = None;
    for (i, entry) in entries.iter().enumerate() {
        assert_eq!(entry["rank"], i + 1, "{board}");
        let student = entry["student_id"].as_i64().expect("student_id");
        let score = expected[&student];
        assert_score(&entry["score"], score, &format!("leaderboard {entry}"));
        let key = (-score, parse_time(&entry["submitted_at"]));
        if let Some(previous) = previous {
            assert!(previous <= key, "leaderboard out of order: {board}");
        }
        previous = Some(key);
    }

    let path = format!("/api/contests/bulk-stats?contest_ids={contest}");
    let (status, body) = app.get(&path, Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let stats = &body["stats"][0];
    assert_eq!(stats["contest_id"], contest, "{body}");
    assert_eq!(stats["submitted"], students.len(), "{body}");
    assert_score(&stats["max_score"], max, &format!("bulk-stats {body}"));
    let average = stats["average_score"].as_f64().expect("a number");
    let computed = expected.values().sum::<i64>() as f64 / 100.0 / students.len() as f64;
    assert!(
        (average - computed).abs() < 0.0051,
        "bulk-stats average {average}, computed {computed}: {body}"
    );
}

/// `PATCH …/questions/{qid}` as the admin; asserts the 200 with `{question, regraded}` and
/// returns them.
async fn correct_key(app: &TestApp, contest: i64, question: i64, body: Value) -> (Value, i64) {
    let admin = app.admin_token().await;
    let (status, answer) = app
        .patch(
            &question_path(contest, question),
            Some(&admin),
            Some(body.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}: {answer}");
    assert_keys(&answer, &["question", "regraded"]);
    let regraded = answer["regraded"]
        .as_i64()
        .unwrap_or_else(|| panic!("an integer regraded: {answer}"));
    (answer["question"].clone(), regraded)
}

// ---- creation ----

async fn every_type_is_created_with_its_key_in_the_admin_view(app: &TestApp) {
    let course = app.create_course().await;
    let long = "é".repeat(200);
    let mut many: Vec<String> = (0..19).map(|i| format!("answer {i}")).collect();
    many.push(long.clone());
    let sent = json!([
        { "prompt": "Default", "options": ["a", "b", "c"], "correct_option": 2 },
        { "type": "single", "prompt": "Single", "options": ["a", "b"], "correct_option": 0,
          "points": 3 },
        { "type": "multiple", "prompt": "All", "options": ["a", "b", "c", "d"],
          "correct_options": [3, 1] },
        { "type": "multiple", "prompt": "Partial", "options": ["a", "b", "c"],
          "correct_options": [0, 1, 2], "scoring": "partial", "points": 4 },
        { "type": "multiple", "prompt": "Explicit", "options": ["a", "b"],
          "correct_options": [1], "scoring": "all_or_nothing", "points": 0 },
        { "type": "numeric", "prompt": "g", "answer": { "value": 9.81, "tolerance": 0.01 },
          "points": 2 },
        { "type": "numeric", "prompt": "Exact", "answer": { "value": 42 } },
        { "type": "text", "prompt": "City", "accepted": ["Straße", "Paris"] },
        { "type": "text", "prompt": "Many", "accepted": many },
    ]);
    let mut body = exam(course, upcoming_window(), "immediate", sent.clone());
    body["shuffle"] = json!({ "questions": true });
    let admin = app.admin_token().await;
    let (status, view) = app.post("/api/contests", Some(&admin), Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{view}");
    assert_keys(&view, ADMIN_VIEW);
    assert_eq!(
        view["shuffle"],
        json!({ "questions": true, "options": false }),
        "options defaults to false"
    );

    let got = questions_of(&view);
    assert_eq!(got.len(), 9, "{view}");
    let ids: HashSet<i64> = got.iter().map(id_of).collect();
    assert_eq!(ids.len(), 9, "distinct ids: {view}");
    // What the admin view must show: what was sent, with the defaults filled in.
    let mut expected: Vec<Value> = sent.as_array().unwrap().clone();
    for (e, g) in expected.iter_mut().zip(&got) {
        e["id"] = g["id"].clone();
        if e.get("type").is_none() {
            e["type"] = json!("single");
        }
        if e.get("points").is_none() {
            e["points"] = json!(1);
        }
        if e["type"] == "multiple" && e.get("scoring").is_none() {
            e["scoring"] = json!("all_or_nothing");
        }
        if e["type"] == "numeric" && e["answer"].get("tolerance").is_none() {
            e["answer"]["tolerance"] = json!(0);
        }
        assert_keys(g, admin_question_keys(e["type"].as_str().unwrap()));
    }
    assert_same_questions(&got, &expected);
    assert_eq!(
        got[8]["accepted"][19],
        json!(long),
        "200 characters kept whole"
    );
    assert_eq!(got[7]["accepted"][0], "Straße", "accepted as given");

    // GET gives the same admin view.
    let (status, again) = app.get(&contest_path(id_of(&view)), Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    let mut a = again.clone();
    let mut b = view.clone();
    a["server_time"] = Value::Null;
    b["server_time"] = Value::Null;
    assert_eq!(a, b);

    // A body of before the types is unchanged: single questions, no shuffling.
    let (start, end) = upcoming_window();
    let old = app
        .create_contest_from(contest_body(course, start, end))
        .await;
    assert_keys(&old, ADMIN_VIEW);
    assert_eq!(
        old["shuffle"],
        json!({ "questions": false, "options": false })
    );
    for q in questions_of(&old) {
        assert_keys(&q, admin_question_keys("single"));
        assert_eq!(q["type"], "single", "the default type");
    }
    assert_eq!(old["questions"][1]["correct_option"], 0);
    assert_eq!(old["questions"][1]["points"], 2);
}

async fn bad_questions_are_400_naming_index_and_field(app: &TestApp) {
    let course = app.create_course().await;
    let admin = app.admin_token().await;
    let good = json!({ "prompt": "ok", "options": ["a", "b"], "correct_option": 0 });
    let accepted_n = |n: usize| -> Value { (0..n).map(|i| json!(format!("a{i}"))).collect() };
    // A non-ASCII character is two bytes: 201 of them are 402 bytes, 200 are 400.
    let too_long = "é".repeat(201);

    // (the second question, what the message must contain besides `questions[1]`)
    let cases: Vec<(Value, &[&str])> = vec![
        (
            json!({ "type": "multiple", "prompt": "p", "options": ["a", "b", "c"] }),
            &["questions[1].correct_options"],
        ),
        (
            json!({ "type": "multiple", "prompt": "p", "options": ["a", "b", "c"],
                    "correct_options": [0, 0] }),
            &["questions[1].correct_options"],
        ),
        (
            json!({ "type": "multiple", "prompt": "p", "options": ["a", "b", "c"],
                    "correct_options": [0, 3] }),
            &["questions[1].correct_options"],
        ),
        (
            json!({ "type": "multiple", "prompt": "p", "options": ["a", "b", "c"],
                    "correct_options": [-1] }),
            &["questions[1].correct_options"],
        ),
        (
            json!({ "type": "multiple", "prompt": "p", "options": ["a", "b", "c"],
                    "correct_options": [] }),
            &["questions[1].correct_options"],
        ),
        (
            json!({ "type": "multiple", "prompt": "p", "options": ["a", "b", "c"],
                    "correct_options": [0], "scoring": "most" }),
            &["questions[1].scoring"],
        ),
        (
            json!({ "type": "multiple", "prompt": "p", "options": ["a", "b", "c"],
                    "correct_options": [0], "correct_option": 0 }),
            &["questions[1].correct_option"],
        ),
        (
            json!({ "type": "multiple", "prompt": "p", "options": ["a"],
                    "correct_options": [0] }),
            &["questions[1].options"],
        ),
        (
            json!({ "type": "numeric", "prompt": "p",
                    "answer": { "value": 1, "tolerance": -0.5 } }),
            &["questions[1].answer", "tolerance"],
        ),
        (
            json!({ "type": "numeric", "prompt": "p",
                    "answer": { "value": 1, "tolerance": "NaN" } }),
            &["questions[1].answer", "tolerance"],
        ),
        (
            json!({ "type": "numeric", "prompt": "p", "answer": { "value": "NaN" } }),
            &["questions[1].answer", "value"],
        ),
        (
            json!({ "type": "numeric", "prompt": "p", "answer": { "tolerance": 1 } }),
            &["questions[1].answer", "value"],
        ),
        (
            json!({ "type": "numeric", "prompt": "p" }),
            &["questions[1].answer"],
        ),
        (
            json!({ "type": "numeric", "prompt": "p", "answer": 5 }),
            &["questions[1].answer"],
        ),
        (
            json!({ "type": "numeric", "prompt": "p", "options": ["a", "b"],
                    "answer": { "value": 1 } }),
            &["questions[1].options"],
        ),
        (
            json!({ "type": "numeric", "prompt": "p", "correct_option": 0,
                    "answer": { "value": 1 } }),
            &["questions[1].correct_option"],
        ),
        (
            json!({ "type": "numeric", "prompt": "p", "answer": { "value": 1 },
                    "points": -1 }),
            &["questions[1].points"],
        ),
        (
            json!({ "prompt": "p", "options": ["a", "b"], "correct_option": 0,
                    "accepted": ["a"] }),
            &["questions[1].accepted"],
        ),
        (
            json!({ "type": "single", "prompt": "p", "options": ["a", "b"],
                    "correct_option": 0, "scoring": "partial" }),
            &["questions[1].scoring"],
        ),
        (
            json!({ "type": "single", "prompt": "p", "options": ["a", "b"],
                    "correct_options": [0] }),
            &["questions[1].correct_option"],
        ),
        (
            json!({ "type": "single", "prompt": "p", "options": ["a", "b"] }),
            &["questions[1].correct_option"],
        ),
        (
            json!({ "type": "text", "prompt": "p", "accepted": [] }),
            &["questions[1].accepted"],
        ),
        (
            json!({ "type": "text", "prompt": "p", "accepted": accepted_n(21) }),
            &["questions[1].accepted"],
        ),
        (
            json!({ "type": "text", "prompt": "p", "accepted": ["fine", too_long] }),
            &["questions[1].accepted"],
        ),
        (
            json!({ "type": "text", "prompt": "p", "accepted": [""] }),
            &["questions[1].accepted"],
        ),
        (
            json!({ "type": "text", "prompt": "p", "accepted": ["  \t "] }),
            &["questions[1].accepted"],
        ),
        (
            json!({ "type": "text", "prompt": "p" }),
            &["questions[1].accepted"],
        ),
        (
            json!({ "type": "text", "prompt": "p", "accepted": ["a"],
                    "options": ["a", "b"] }),
            &["questions[1].options"],
        ),
        (
            json!({ "type": "text", "prompt": "p", "accepted": ["a"],
                    "answer": { "value": 1 } }),
            &["questions[1].answer"],
        ),
        (
            json!({ "type": "essay", "prompt": "p", "accepted": ["a"] }),
            &["questions[1]", "type"],
        ),
        (
            json!({ "type": 2, "prompt": "p", "options": ["a", "b"], "correct_option": 0 }),
            &["questions[1]", "type"],
        ),
        (
            json!({ "prompt": "p", "options": ["a", "b"], "correct_option": 0,
                    "hint": "none" }),
            &["questions[1]", "hint"],
        ),
    ];
    for (bad, named) in cases {
        let body = exam(course, open_window(), "immediate", json!([good, bad]));
        let resp = app.post("/api/contests", Some(&admin), Some(body)).await;
        let message = assert_error(&resp, StatusCode::BAD_REQUEST, "bad_request");
        for name in named.iter().chain(&["questions[1]"]) {
            assert!(
                message.contains(name),
                "the message names `{name}`: {message}\nquestion: {bad}"
            );
        }
    }
    // A bad `shuffle` is a 400 too.
    for shuffle in [
        json!({ "questions": "yes" }),
        json!({ "answers": true }),
        json!(true),
    ] {
        let mut body = exam(course, open_window(), "immediate", json!([good]));
        body["shuffle"] = shuffle.clone();
        let resp = app.post("/api/contests", Some(&admin), Some(body)).await;
        let message = assert_error(&resp, StatusCode::BAD_REQUEST, "bad_request");
        assert!(message.contains("shuffle"), "{shuffle}: {message}");
    }
    let (_, list) = app.get("/api/contests", Some(&admin)).await;
    assert_eq!(list["contests"], json!([]), "nothing created");

    // The limits themselves pass: 200 characters (400 bytes), 20 accepted strings, every option
    // correct, a tolerance of 0.
    let edges = json!([
        good,
        { "type": "text", "prompt": "p", "accepted": ["é".repeat(200)] },
        { "type": "text", "prompt": "p", "accepted": accepted_n(20) },
        { "type": "multiple", "prompt": "p", "options": ["a", "b", "c"],
          "correct_options": [2, 0, 1] },
        { "type": "numeric", "prompt": "p", "answer": { "value": -3.5, "tolerance": 0 } },
    ]);
    let view = app
        .create_contest_from(exam(course, open_window(), "immediate", edges))
        .await;
    assert_eq!(view["questions"][1]["accepted"][0], json!("é".repeat(200)));
    assert_eq!(
        view["questions"][2]["accepted"].as_array().map(Vec::len),
        Some(20)
    );
}

// ---- grading ----

/// The grading contest's questions, worth 13 points in all.
fn grading_questions() -> Value {
    json!([
        { "type": "single", "prompt": "q0", "options": ["a", "b", "c"], "correct_option": 1 },
        { "type": "multiple", "prompt": "q1", "options": ["a", "b", "c", "d"],
          "correct_options": [0, 2], "points": 2 },
        { "type": "multiple", "prompt": "q2", "options": ["a", "b", "c", "d", "e"],
          "correct_options": [0, 1, 2], "scoring": "partial", "points": 3 },
        { "type": "multiple", "prompt": "q3", "options": ["a", "b", "c", "d"],
          "correct_options": [0, 1, 3], "scoring": "partial" },
        { "type": "multiple", "prompt": "q4", "options": ["a", "b", "c", "d", "e", "f", "g", "h"],
          "correct_options": [0, 1, 2, 3, 4, 5, 6, 7], "scoring": "partial" },
        { "type": "numeric", "prompt": "q5", "answer": { "value": 10, "tolerance": 0.5 } },
        { "type": "text", "prompt": "q6", "accepted": ["Straße", "New York", "Café"] },
        { "type": "numeric", "prompt": "q7", "answer": { "value": 3.25 }, "points": 2 },
        { "type": "multiple", "prompt": "q8", "options": ["a", "b", "c"],
          "correct_options": [0, 1, 2], "scoring": "partial" },
        { "type": "single", "prompt": "q9", "options": ["a", "b"], "correct_option": 0,
          "points": 0 },
    ])
}

/// Answers to the grading contest and what they score, in cents.
fn grading_cases(q: &[i64]) -> Vec<(Value, i64)> {
    vec![
        (json!([]), 0),
        // single
        (json!([opt(q[0], 1)]), 100),
        (json!([opt(q[0], 0)]), 0),
        // multiple, all or nothing
        (json!([opts(q[1], &[2, 0])]), 200),
        (json!([opts(q[1], &[0])]), 0),
        (json!([opts(q[1], &[0, 1, 2])]), 0),
        (json!([opts(q[1], &[])]), 0),
        // partial, 3 correct of 5, worth 3
        (json!([opts(q[2], &[0, 1, 2])]), 300),
        (json!([opts(q[2], &[0, 1, 3])]), 100),
        (json!([opts(q[2], &[0, 3, 4])]), 0), // 1 right, 2 wrong: floors at zero
        (json!([opts(q[2], &[0])]), 100),
        (json!([opts(q[2], &[])]), 0),
        // partial, 3 correct of 4, worth 1
        (json!([opts(q[3], &[0])]), 33),
        (json!([opts(q[3], &[0, 1])]), 67),
        (json!([opts(q[3], &[0, 1, 2])]), 33),
        (json!([opts(q[3], &[3, 1, 0])]), 100),
        // partial, 8 correct: 1/8 = 0.125 and 3/8 = 0.375 round half away from zero
        (json!([opts(q[4], &[5])]), 13),
        (json!([opts(q[4], &[0, 1, 2])]), 38),
        // the total is rounded once: 1/3 + 1/3 = 0.67, not 0.33 + 0.33
        (json!([opts(q[3], &[0]), opts(q[8], &[1])]), 67),
        // numeric, 10 ± 0.5, inclusive
        (json!([val(q[5], 10.5)]), 100),
        (json!([val(q[5], 9.5)]), 100),
        (json!([val(q[5], 10.51)]), 0),
        (json!([val(q[5], 9.49)]), 0),
        (json!([val(q[5], 10.0)]), 100),
        // text, folded
        (json!([txt(q[6], "STRASSE")]), 100),
        (json!([txt(q[6], "strasse")]), 100),
        (json!([txt(q[6], "  new \t  YORK  ")]), 100),
        (json!([txt(q[6], "CAFE\u{301}")]), 100), // NFC makes E + U+0301 an É
        (json!([txt(q[6], "Strase")]), 0),
        (json!([txt(q[6], "NewYork")]), 0),
        // numeric, no tolerance
        (json!([val(q[7], 3.25)]), 200),
        (json!([val(q[7], 3.26)]), 0),
        // worth nothing
        (json!([opt(q[9], 0)]), 0),
        // everything right
        (
            json!([
                opt(q[0], 1),
                opts(q[1], &[0, 2]),
                opts(q[2], &[2, 1, 0]),
                opts(q[3], &[0, 1, 3]),
                opts(q[4], &[0, 1, 2, 3, 4, 5, 6, 7]),
                val(q[5], 10.2),
                txt(q[6], "Straße"),
                val(q[7], 3.25),
                opts(q[8], &[0, 1, 2]),
                opt(q[9], 0),
            ]),
            1300,
        ),
        // 1 + 0.67 + 0
        (
            json!([opt(q[0], 1), opts(q[3], &[0, 1]), txt(q[6], "Paris")]),
            167,
        ),
    ]
}

async fn every_type_is_graded_through_real_submissions(app: &TestApp) {
    let n = grading_cases(&[0; 10]).len();
    let (course, students) = course_with(app, n).await;
    let contest = app
        .create_contest_from(exam(
            course,
            open_window(),
            "immediate",
            grading_questions(),
        ))
        .await;
    let id = id_of(&contest);
    let q = question_ids(&contest);
    let cases = grading_cases(&q);
    let submitted = futures::future::join_all(
        students
            .iter()
            .zip(&cases)
            .map(|(s, (sent, _))| submit_raw(app, id, &s.token, sent)),
    )
    .await;
    for ((status, text, body), (sent, expected)) in submitted.iter().zip(&cases) {
        assert_eq!(*status, StatusCode::CREATED, "{sent}: {text}");
        let what = format!("the 201 to {sent}: {text}");
        assert_score_text(raw_number(text, "score"), *expected, &what);
        assert_score_text(raw_number(text, "max_score"), 1300, &what);
        assert_score(&body["score"], *expected, &what);
    }
    // The answer with everything right is written `"score":13`, not `13.0`.
    let (_, all_right, _) = &submitted[cases.len() - 2];
    assert!(
        all_right.replace(' ', "").contains("\"score\":13,")
            || all_right.replace(' ', "").contains("\"score\":13}"),
        "{all_right}"
    );

    // my-submission says the same and echoes the answers in their shapes.
    for (student, (sent, expected)) in students.iter().zip(&cases) {
        let (status, mine) = app.get(&my_submission(id), Some(&student.token)).await;
        assert_eq!(status, StatusCode::OK, "{mine}");
        let what = format!("my-submission of {sent}: {mine}");
        assert_score(&mine["score"], *expected, &what);
        assert_score(&mine["max_score"], 1300, &what);
        let echoed = mine["answers"].as_array().expect("answers");
        assert_eq!(echoed.len(), sent.as_array().unwrap().len(), "{what}");
        for answer in sent.as_array().unwrap() {
            let back = echoed
                .iter()
                .find(|a| a["question_id"] == answer["question_id"])
                .unwrap_or_else(|| panic!("{what}: {answer} not echoed"));
            assert_keys(
                back,
                &answer
                    .as_object()
                    .unwrap()
                    .keys()
                    .map(String::as_str)
                    .collect::<Vec<_>>(),
            );
            if let Some(options) = answer.get("options") {
                let mut a = indexes(options);
                let mut b = indexes(&back["options"]);
                a.sort_unstable();
                b.sort_unstable();
                assert_eq!(a, b, "{what}");
            } else if let Some(value) = answer.get("value") {
                let v = value.as_f64().unwrap();
                if v.fract() == 0.0 {
                    // Sent as `10.0`, echoed as `10`.
                    assert_eq!(back["value"].to_string(), format!("{}", v as i64), "{what}");
                } else {
                    assert_eq!(back["value"].as_f64(), Some(v), "{what}");
                }
            } else {
                assert_eq!(back, answer, "echoed as sent: {what}");
            }
        }
    }
}

// ---- answers ----

async fn answers_of_the_wrong_shape_are_400(app: &TestApp) {
    let (course, students) = course_with(app, 2).await;
    // Thirty questions first, so this contest's question ids are not small numbers that a
    // message could contain by chance.
    let filler: Vec<Value> = (0..30)
        .map(|i| json!({ "prompt": format!("f{i}"), "options": ["a", "b"], "correct_option": 0 }))
        .collect();
    app.create_contest_from(exam(course, open_window(), "immediate", json!(filler)))
        .await;
    let questions = json!([
        { "prompt": "single", "options": ["a", "b", "c"], "correct_option": 1 },
        { "type": "multiple", "prompt": "multiple", "options": ["a", "b", "c", "d"],
          "correct_options": [0, 1] },
        { "type": "numeric", "prompt": "numeric", "answer": { "value": 2 } },
        { "type": "text", "prompt": "text", "accepted": ["x"] },
    ]);
    let contest = app
        .create_contest_from(exam(course, open_window(), "immediate", questions))
        .await;
    let id = id_of(&contest);
    let q = question_ids(&contest);
    let (single, multiple, numeric, text) = (q[0], q[1], q[2], q[3]);
    let student = &students[0];

    // (the bad answer, whether the message must name its question id)
    let cases: Vec<(Value, bool)> = vec![
        (json!({ "question_id": numeric, "option": 0 }), true),
        (json!({ "question_id": numeric, "text": "2" }), true),
        (json!({ "question_id": numeric, "options": [0] }), true),
        (json!({ "question_id": single, "options": [1] }), true),
        (json!({ "question_id": single, "value": 1 }), true),
        (json!({ "question_id": single, "text": "b" }), true),
        (json!({ "question_id": multiple, "option": 0 }), true),
        (json!({ "question_id": multiple, "text": "a" }), true),
        (json!({ "question_id": text, "value": 2 }), true),
        (json!({ "question_id": text, "options": [] }), true),
        (json!({ "question_id": text, "option": 0 }), true),
        (json!({ "question_id": multiple }), true),
        (
            json!({ "question_id": single, "option": 1, "options": [1] }),
            true,
        ),
        (
            json!({ "question_id": numeric, "value": 2, "text": "2" }),
            true,
        ),
        (json!({ "question_id": numeric, "value": "NaN" }), false),
        (json!({ "question_id": numeric, "value": "2" }), false),
        (json!({ "question_id": multiple, "options": [0, 0] }), false),
        (json!({ "question_id": multiple, "options": [1, 4] }), false),
        (json!({ "question_id": multiple, "options": [-1] }), false),
        (json!({ "question_id": single, "option": 3 }), false),
        (
            json!({ "question_id": text, "text": "é".repeat(1001) }),
            false,
        ),
        (json!({ "question_id": text, "text": "a\u{0}b" }), false),
        (json!({ "question_id": text, "text": 5 }), false),
    ];
    for (bad, names_id) in &cases {
        let sent = json!([opt(single, 1), bad]);
        let resp = app.submit(id, &student.token, sent.clone()).await;
        let message = assert_error(&resp, StatusCode::BAD_REQUEST, "bad_request");
        let qid = bad["question_id"].to_string();
        if *names_id {
            assert!(
                message.contains(&qid),
                "the message names question {qid}: {message}\nanswers: {sent}"
            );
        }
    }
    // A question answered twice, in two shapes or one.
    for twice in [
        json!([opts(multiple, &[0]), opts(multiple, &[1])]),
        json!([val(numeric, 2.0), val(numeric, 3.0)]),
    ] {
        let resp = app.submit(id, &student.token, twice).await;
        assert_error(&resp, StatusCode::BAD_REQUEST, "bad_request");
    }

    // Nothing was kept: the student submits now, with a text of 1,000 characters (2,000
    // bytes) and an empty set of options, both allowed.
    let (status, mine) = app.get(&my_submission(id), Some(&student.token)).await;
    assert_error(&(status, mine), StatusCode::NOT_FOUND, "not_found");
    let longest = "é".repeat(1000);
    let sent = json!([
        opt(single, 1),
        opts(multiple, &[]),
        val(numeric, 2.0),
        txt(text, &longest)
    ]);
    let (status, receipt) = app.submit(id, &student.token, sent).await;
    assert_eq!(status, StatusCode::CREATED, "{receipt}");
    assert_score(&receipt["score"], 200, "single and numeric right");
    let (_, mine) = app.get(&my_submission(id), Some(&student.token)).await;
    let echoed = mine["answers"]
        .as_array()
        .expect("answers")
        .iter()
        .find(|a| a["question_id"] == text)
        .cloned()
        .expect("the text answer");
    assert_eq!(echoed["text"], json!(longest));

    // An integer value is a number like any other.
    let sent = json!([json!({ "question_id": numeric, "value": 2 })]);
    let (status, receipt) = app.submit(id, &students[1].token, sent).await;
    assert_eq!(status, StatusCode::CREATED, "{receipt}");
    assert_score(&receipt["score"], 100, "numeric right");
}

// ---- what students see ----

/// One question of each type (and both scorings), none worth the same.
fn one_of_each() -> Value {
    json!([
        { "prompt": "single", "options": ["a", "b", "c"], "correct_option": 1 },
        { "type": "multiple", "prompt": "all", "options": ["a", "b", "c"],
          "correct_options": [0, 2], "points": 2 },
        { "type": "multiple", "prompt": "partial", "options": ["a", "b", "c", "d"],
          "correct_options": [1, 2], "scoring": "partial", "points": 3 },
        { "type": "numeric", "prompt": "numeric", "answer": { "value": 1.5, "tolerance": 0.1 },
          "points": 4 },
        { "type": "text", "prompt": "text", "accepted": ["Answer", "Other"], "points": 5 },
    ])
}

async fn students_never_see_the_key(app: &TestApp) {
    let (course, students) = course_with(app, 1).await;
    let student = &students[0];
    let contest = app
        .create_contest_from(exam(course, open_window(), "immediate", one_of_each()))
        .await;
    let id = id_of(&contest);
    let admin_questions = questions_of(&contest);
    // The check can fail: the admin view has the key of every question.
    let mut found = Vec::new();
    key_paths(&contest, "$", &mut found);
    assert_eq!(found.len(), 5, "{found:?}");
    let mut shuffled = exam(course, open_window(), "immediate", one_of_each());
    shuffled["shuffle"] = json!({ "questions": true, "options": true });
    let shuffled = app.create_contest_from(shuffled).await;

    let mut socket = connect(app, id, &student.token).await;
    let first = next_frame(&mut socket, FRAME_DEADLINE).await;
    assert_eq!(first["type"], "state", "{first}");
    assert_no_key(&first, "the first frame");

    let (status, list) = app.get("/api/contests", Some(&student.token)).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_no_key(&list, "the contest list");
    let (status, view) = app.get(&contest_path(id), Some(&student.token)).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    let order = check_student_questions(&view, &admin_questions, false);
    assert_eq!(order, question_ids(&contest), "unshuffled: creation order");
    let (status, view) = app
        .get(&contest_path(id_of(&shuffled)), Some(&student.token))
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    check_student_questions(&view, &questions_of(&shuffled), true);

    // The answer "Other" is right until the admin takes it out of the accepted ones.
    let q = question_ids(&contest);
    let sent = json!([
        opt(q[0], 1),
        opts(q[1], &[0, 2]),
        opts(q[2], &[1]),
        val(q[3], 1.55),
        txt(q[4], "other")
    ]);
    let (status, text, receipt) = submit_raw(app, id, &student.token, &sent).await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    assert_no_key(&receipt, "the 201");
    assert_score(&receipt["score"], 1350, &text);
    let (status, mine) = app.get(&my_submission(id), Some(&student.token)).await;
    assert_eq!(status, StatusCode::OK, "{mine}");
    assert_no_key(&mine, "my-submission");
    let bulk = format!(
        "/api/contests/my-submissions-bulk?contest_ids={id},{}",
        id_of(&shuffled)
    );
    let (status, mine) = app.get(&bulk, Some(&student.token)).await;
    assert_eq!(status, StatusCode::OK, "{mine}");
    assert_eq!(
        mine["submissions"].as_array().map(Vec::len),
        Some(1),
        "{mine}"
    );
    assert_no_key(&mine, "my-submissions-bulk");

    // A regrade that changes the student's score sends a frame: it has no key either.
    let (question, _) = correct_key(app, id, q[4], json!({ "accepted": ["Answer"] })).await;
    assert_eq!(question["accepted"], json!(["Answer"]));
    let regraded = frame_by(&mut socket, "regraded", Instant::now() + FRAME_DEADLINE).await;
    assert_eq!(regraded["contest_id"], id, "{regraded}");

    // Closed: the view and the scores, still without the key.
    let admin = app.admin_token().await;
    let close = json!({ "end_time": rfc3339(now_ms()) });
    let (status, closed) = app
        .patch(&contest_path(id), Some(&admin), Some(close))
        .await;
    assert_eq!(status, StatusCode::OK, "{closed}");
    let ended = frame_by(&mut socket, "ended", Instant::now() + FRAME_DEADLINE).await;
    assert_eq!(ended["status"], "closed", "{ended}");
    let (status, view) = app.get(&contest_path(id), Some(&student.token)).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["status"], "closed", "{view}");
    check_student_questions(&view, &questions_of(&closed), false);
    let (_, mine) = app.get(&my_submission(id), Some(&student.token)).await;
    assert_no_key(&mine, "my-submission once closed");
    assert_score(&mine["score"], 850, "after the regrade");
    let leaderboard = format!("/api/contests/{id}/leaderboard");
    let (status, board) = app.get(&leaderboard, Some(&student.token)).await;
    assert_eq!(status, StatusCode::OK, "{board}");
    assert_no_key(&board, "the leaderboard");
    for frame in frames_until(&mut socket, Instant::now() + Duration::from_millis(1200)).await {
        assert_no_key(&frame, "a WebSocket frame");
    }
}

// ---- shuffling ----

/// Twelve questions: eight singles, two multiples, a numeric and a text, worth 14 points.
fn twelve_questions() -> Value {
    let mut questions: Vec<Value> = (0..8)
        .map(|i| {
            json!({ "prompt": format!("Q{i}"),
                    "options": [format!("a{i}"), format!("b{i}"), format!("c{i}"), format!("d{i}")],
                    "correct_option": i % 4 })
        })
        .collect();
    questions.push(json!({ "type": "multiple", "prompt": "Q8",
        "options": ["a", "b", "c", "d"], "correct_options": [0, 2], "points": 2 }));
    questions.push(json!({ "type": "multiple", "prompt": "Q9",
        "options": ["a", "b", "c", "d", "e"], "correct_options": [1, 2, 3],
        "scoring": "partial", "points": 2 }));
    questions.push(json!({ "type": "numeric", "prompt": "Q10", "answer": { "value": 7 } }));
    questions.push(json!({ "type": "text", "prompt": "Q11", "accepted": ["Paris"] }));
    Value::Array(questions)
}

/// Every question answered right, by original indexes.
fn all_right(admin: &[Value]) -> Value {
    admin
        .iter()
        .map(|q| {
            let id = id_of(q);
            match q["type"].as_str().unwrap() {
                "single" => opt(id, q["correct_option"].as_i64().unwrap()),
                "multiple" => opts(id, &indexes(&q["correct_options"])),
                "numeric" => val(id, q["answer"]["value"].as_f64().unwrap()),
                _ => txt(id, q["accepted"][0].as_str().unwrap()),
            }
        })
        .collect()
}

async fn shuffled_views_differ_by_student_and_never_move(app: &TestApp) {
    let (course, students) = course_with(app, 6).await;
    let mut body = exam(course, open_window(), "immediate", twelve_questions());
    body["shuffle"] = json!({ "questions": true, "options": true });
    let contest = app.create_contest_from(body).await;
    let id = id_of(&contest);
    let admin = questions_of(&contest);
    assert_eq!(
        contest["shuffle"],
        json!({ "questions": true, "options": true })
    );
    let prompts: Vec<&str> = admin.iter().map(|q| str_field(q, "prompt")).collect();
    let created: Vec<String> = (0..12).map(|i| format!("Q{i}")).collect();
    assert_eq!(prompts, created, "the admin view keeps the creation order");
    let admin_token = app.admin_token().await;
    let (_, again) = app.get(&contest_path(id), Some(&admin_token)).await;
    assert_eq!(again["questions"], contest["questions"], "also on GET");

    // Each student's view, read three times: the same every time.
    let mut views = Vec::new();
    for student in &students {
        let (status, view) = app.get(&contest_path(id), Some(&student.token)).await;
        assert_eq!(status, StatusCode::OK, "{view}");
        check_student_questions(&view, &admin, true);
        for _ in 0..2 {
            let (_, again) = app.get(&contest_path(id), Some(&student.token)).await;
            assert_eq!(
                again["questions"], view["questions"],
                "{}",
                student.username
            );
        }
        views.push(view["questions"].clone());
    }
    let orders: HashSet<Vec<i64>> = views
        .iter()
        .map(|qs| qs.as_array().unwrap().iter().map(id_of).collect())
        .collect();
    assert!(orders.len() > 1, "six students, one order: {orders:?}");
    let moved_options = views
        .iter()
        .flat_map(|qs| qs.as_array().unwrap().clone())
        .filter_map(|q| q.get("option_order").map(indexes))
        .any(|order| order.iter().enumerate().any(|(i, &o)| o != i as i64));
    assert!(moved_options, "no option ever moved: {views:?}");

    // Another node on the same database shows each student the same order (PostgreSQL:
    // SQLite is served by one process).
    if app.db == Db::Postgres {
        let other = app.sibling(&[]).await;
        for (student, questions) in students.iter().zip(&views) {
            let (status, view) = other.get(&contest_path(id), Some(&student.token)).await;
            assert_eq!(status, StatusCode::OK, "{view}");
            assert_eq!(
                &view["questions"], questions,
                "{} on another node",
                student.username
            );
        }
        other.stop().await;
    }

    // And so does a restart.
    app.stop().await;
    let restarted = app.sibling(&[]).await;
    for (student, questions) in students.iter().zip(&views) {
        let (status, view) = restarted.get(&contest_path(id), Some(&student.token)).await;
        assert_eq!(status, StatusCode::OK, "{view}");
        assert_eq!(
            &view["questions"], questions,
            "{} after a restart",
            student.username
        );
    }

    // Answers name original indexes, whatever the order shown: everything right scores full…
    let sent = all_right(&admin);
    let (status, receipt) = restarted.submit(id, &students[0].token, sent).await;
    assert_eq!(status, StatusCode::CREATED, "{receipt}");
    assert_score(&receipt["score"], 1400, "all right by original index");
    // …and the positions at which a student was shown the right options are read as original
    // indexes too (a server that mapped them through option_order would give full marks).
    let shown: Vec<Value> = views[1].as_array().unwrap().clone();
    let positions: Value = admin
        .iter()
        .map(|q| {
            let id = id_of(q);
            let order = shown
                .iter()
                .find(|s| s["id"] == q["id"])
                .and_then(|s| s.get("option_order"))
                .map(indexes);
            let position = |c: i64| {
                order
                    .as_ref()
                    .unwrap()
                    .iter()
                    .position(|&o| o == c)
                    .unwrap() as i64
            };
            match q["type"].as_str().unwrap() {
                "single" => opt(id, position(q["correct_option"].as_i64().unwrap())),
                "multiple" => opts(
                    id,
                    &indexes(&q["correct_options"])
                        .into_iter()
                        .map(position)
                        .collect::<Vec<_>>(),
                ),
                "numeric" => val(id, 7.0),
                _ => txt(id, "paris"),
            }
        })
        .collect();
    let expected = expected_cents(&admin, &positions);
    assert!(
        expected < 1400,
        "the positions are the original indexes: {positions}"
    );
    let (status, receipt) = restarted
        .submit(id, &students[1].token, positions.clone())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{receipt}");
    assert_score(&receipt["score"], expected, &format!("{positions}"));
    restarted.stop().await;
}

async fn shuffle_flags_apply_separately(app: &TestApp) {
    let (course, students) = course_with(app, 4).await;
    let make = |shuffle: Option<Value>| {
        let mut body = exam(course, open_window(), "immediate", twelve_questions());
        if let Some(shuffle) = shuffle {
            body["shuffle"] = shuffle;
        }
        app.create_contest_from(body)
    };
    let plain = make(None).await;
    let off = make(Some(json!({ "questions": false, "options": false }))).await;
    let questions_only = make(Some(json!({ "questions": true }))).await;
    let options_only = make(Some(json!({ "options": true }))).await;
    assert_eq!(
        questions_only["shuffle"],
        json!({ "questions": true, "options": false })
    );
    assert_eq!(
        options_only["shuffle"],
        json!({ "questions": false, "options": true })
    );

    let mut reordered = false;
    for student in &students {
        for (contest, options_shuffled, questions_shuffled) in [
            (&plain, false, false),
            (&off, false, false),
            (&questions_only, false, true),
            (&options_only, true, false),
        ] {
            let id = id_of(contest);
            let (status, view) = app.get(&contest_path(id), Some(&student.token)).await;
            assert_eq!(status, StatusCode::OK, "{view}");
            let order = check_student_questions(&view, &questions_of(contest), options_shuffled);
            if questions_shuffled {
                reordered |= order != question_ids(contest);
            } else {
                assert_eq!(order, question_ids(contest), "creation order: {view}");
            }
        }
    }
    assert!(reordered, "four students, all in the creation order");

    // Without option shuffling, answers still score by index (a plain check of the plain
    // contest with a mixed answer sheet).
    let admin = questions_of(&plain);
    let sent = all_right(&admin);
    let (status, receipt) = app.submit(id_of(&plain), &students[0].token, sent).await;
    assert_eq!(status, StatusCode::CREATED, "{receipt}");
    assert_score(&receipt["score"], 1400, "all right");
}

// ---- editing ----

async fn questions_are_edited_while_upcoming_and_frozen_once_open(app: &TestApp) {
    let (course, students) = course_with(app, 1).await;
    let student = &students[0];
    let admin = app.admin_token().await;
    let (start, end) = upcoming_window();
    let created = app
        .create_contest_from(contest_body(course, start, end))
        .await;
    let id = id_of(&created);
    let path = contest_path(id);
    let old_ids = question_ids(&created);

    // Upcoming: the whole list and the shuffling change; the ids are new.
    let (status, view) = app
        .patch(
            &path,
            Some(&admin),
            Some(json!({ "questions": one_of_each(),
                         "shuffle": { "questions": false, "options": true } })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_keys(&view, ADMIN_VIEW);
    assert_eq!(
        view["shuffle"],
        json!({ "questions": false, "options": true })
    );
    let edited = questions_of(&view);
    let types: Vec<&str> = edited.iter().map(|q| str_field(q, "type")).collect();
    assert_eq!(types, ["single", "multiple", "multiple", "numeric", "text"]);
    let new_ids = question_ids(&view);
    assert!(
        new_ids.iter().all(|q| !old_ids.contains(q)),
        "ids are reassigned: {old_ids:?} then {new_ids:?}"
    );
    for q in &edited {
        assert_keys(q, admin_question_keys(str_field(q, "type")));
    }
    assert_eq!(edited[4]["accepted"], json!(["Answer", "Other"]));
    let (_, got) = app.get(&path, Some(&admin)).await;
    assert_eq!(got["questions"], view["questions"], "GET shows the edit");
    assert_eq!(got["shuffle"], view["shuffle"]);

    // The old questions are gone.
    let resp = app
        .patch(
            &question_path(id, old_ids[0]),
            Some(&admin),
            Some(json!({ "correct_option": 0 })),
        )
        .await;
    assert_error(&resp, StatusCode::NOT_FOUND, "not_found");

    // `shuffle` alone leaves the questions (and their ids) as they are.
    let shuffle = json!({ "shuffle": { "questions": true, "options": true } });
    let (status, view) = app.patch(&path, Some(&admin), Some(shuffle)).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(
        view["shuffle"],
        json!({ "questions": true, "options": true })
    );
    assert_eq!(view["questions"], got["questions"], "questions untouched");

    // A bad list is a 400 naming it, and changes nothing.
    let mut bad = one_of_each();
    bad[2]["correct_options"] = json!([7]);
    let resp = app
        .patch(&path, Some(&admin), Some(json!({ "questions": bad })))
        .await;
    let message = assert_error(&resp, StatusCode::BAD_REQUEST, "bad_request");
    assert!(message.contains("questions[2]"), "{message}");
    let resp = app
        .patch(&path, Some(&admin), Some(json!({ "questions": [] })))
        .await;
    assert_error(&resp, StatusCode::BAD_REQUEST, "bad_request");
    let (_, same) = app.get(&path, Some(&admin)).await;
    assert_eq!(same["questions"], got["questions"], "unchanged");

    // Open it (times alone may change any time): the student sees the edited questions.
    let (open_start, open_end) = open_window();
    let times = json!({ "start_time": rfc3339(open_start), "end_time": rfc3339(open_end) });
    let (status, opened) = app.patch(&path, Some(&admin), Some(times)).await;
    assert_eq!(status, StatusCode::OK, "{opened}");
    assert_eq!(opened["status"], "open");
    let (status, view) = app.get(&path, Some(&student.token)).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    let shown = check_student_questions(&view, &edited, true);
    let shown: HashSet<i64> = shown.into_iter().collect();
    assert_eq!(
        shown,
        new_ids.iter().copied().collect(),
        "the edited questions"
    );

    // Open: questions and shuffling are frozen, whatever comes with them.
    for body in [
        json!({ "questions": one_of_each() }),
        json!({ "questions": twelve_questions() }),
        json!({ "shuffle": { "questions": false, "options": false } }),
        json!({ "title": "Sneaky", "questions": one_of_each() }),
        json!({ "title": "Sneaky", "shuffle": { "questions": false } }),
    ] {
        let resp = app.patch(&path, Some(&admin), Some(body.clone())).await;
        let message = assert_error(&resp, StatusCode::CONFLICT, "contest_started");
        assert!(!message.is_empty(), "{body}");
    }
    // The body is checked before the rules: a bad list is still a 400.
    let resp = app
        .patch(&path, Some(&admin), Some(json!({ "questions": [] })))
        .await;
    assert_error(&resp, StatusCode::BAD_REQUEST, "bad_request");
    let (_, same) = app.get(&path, Some(&admin)).await;
    assert_eq!(same["questions"], got["questions"], "questions unchanged");
    assert_eq!(
        same["shuffle"],
        json!({ "questions": true, "options": true })
    );
    assert_eq!(same["title"], "Quiz", "a refused PATCH changes nothing");
    let (_, view) = app.get(&path, Some(&student.token)).await;
    let shown: HashSet<i64> = check_student_questions(&view, &edited, true)
        .into_iter()
        .collect();
    assert_eq!(shown, new_ids.iter().copied().collect());

    // A title alone still changes.
    let (status, renamed) = app
        .patch(&path, Some(&admin), Some(json!({ "title": "Renamed" })))
        .await;
    assert_eq!(status, StatusCode::OK, "{renamed}");
    assert_eq!(renamed["title"], "Renamed");
    assert_eq!(renamed["questions"], got["questions"]);

    // A closed contest has opened too; an unknown one is 404 before anything else.
    let (start, end) = closed_window();
    let closed = app
        .create_contest_from(contest_body(course, start, end))
        .await;
    let resp = app
        .patch(
            &contest_path(id_of(&closed)),
            Some(&admin),
            Some(json!({ "questions": one_of_each() })),
        )
        .await;
    assert_error(&resp, StatusCode::CONFLICT, "contest_started");
    let resp = app
        .patch(
            &contest_path(424_242),
            Some(&admin),
            Some(json!({ "questions": [] })),
        )
        .await;
    assert_error(&resp, StatusCode::NOT_FOUND, "not_found");
    // Students may not edit.
    let (start, end) = upcoming_window();
    let upcoming = app
        .create_contest_from(contest_body(course, start, end))
        .await;
    let resp = app
        .patch(
            &contest_path(id_of(&upcoming)),
            Some(&student.token),
            Some(json!({ "questions": one_of_each() })),
        )
        .await;
    assert_error(&resp, StatusCode::FORBIDDEN, "forbidden");
}

// ---- correcting the key ----

async fn key_correction_regrades_every_view_and_tells_the_changed(app: &TestApp) {
    let (course, students) = course_with(app, 6).await;
    // The first question's key is wrong: the right option is 2.
    let questions = json!([
        { "prompt": "q0", "options": ["w", "x", "y", "z"], "correct_option": 0, "points": 2 },
        { "prompt": "q1", "options": ["a", "b"], "correct_option": 1 },
    ]);
    let contest = app
        .create_contest_from(exam(course, open_window(), "immediate", questions))
        .await;
    let id = id_of(&contest);
    let mut key = questions_of(&contest);
    let q = question_ids(&contest);
    let plans = vec![
        json!([opt(q[0], 2), opt(q[1], 1)]), // 1, then 3
        json!([opt(q[0], 0), opt(q[1], 1)]), // 3, then 1
        json!([opt(q[0], 2), opt(q[1], 0)]), // 0, then 2
        json!([opt(q[1], 1)]),               // 1, unchanged
        json!([opt(q[0], 1)]),               // 0, unchanged
    ];
    let (early, late) = students.split_at(5);
    for (student, plan) in early.iter().zip(&plans) {
        let (status, receipt) = app.submit(id, &student.token, plan.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{receipt}");
        assert_score(&receipt["score"], expected_cents(&key, plan), "the old key");
    }
    assert_scores_everywhere(app, id, &key, early, &plans).await;

    // Sockets of two students whose score changes and one whose does not.
    let mut changed_a = connect(app, id, &early[0].token).await;
    let mut changed_b = connect(app, id, &early[2].token).await;
    let mut unchanged = connect(app, id, &early[3].token).await;
    for socket in [&mut changed_a, &mut changed_b, &mut unchanged] {
        let first = next_frame(socket, FRAME_DEADLINE).await;
        assert_eq!(first["type"], "state", "{first}");
    }

    let (question, regraded) = correct_key(app, id, q[0], json!({ "correct_option": 2 })).await;
    let answered = Instant::now();
    key[0]["correct_option"] = json!(2);
    assert_keys(&question, admin_question_keys("single"));
    assert_eq!(question, key[0], "the admin view of the corrected question");
    assert_eq!(regraded, 5, "every submission of the contest");

    for socket in [&mut changed_a, &mut changed_b] {
        let frame = frame_by(socket, "regraded", answered + FRAME_DEADLINE).await;
        assert_keys(&frame, &["type", "contest_id", "server_time"]);
        assert_eq!(frame["contest_id"], id, "{frame}");
        let at = parse_time(&frame["server_time"]);
        assert!((Utc::now() - at).abs() < TimeDelta::seconds(5), "{frame}");
    }
    let frames = frames_until(&mut unchanged, answered + FRAME_DEADLINE).await;
    assert!(
        frames.iter().any(|f| f["type"] == "state"),
        "the unchanged student's socket is alive: {frames:?}"
    );
    assert!(
        frames.iter().all(|f| f["type"] != "regraded"),
        "no regraded frame for an unchanged score: {frames:?}"
    );

    // Every view has the new scores (the leaderboard now starts with the first student).
    assert_scores_everywhere(app, id, &key, early, &plans).await;
    let admin = app.admin_token().await;
    let (_, board) = app
        .get(&format!("/api/contests/{id}/leaderboard"), Some(&admin))
        .await;
    assert_eq!(board["entries"][0]["student_id"], early[0].id, "{board}");
    assert_eq!(board["entries"][1]["student_id"], early[2].id, "{board}");

    // A new submission is graded with the new key.
    let plan = json!([opt(q[0], 2)]);
    let (status, receipt) = app.submit(id, &late[0].token, plan.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{receipt}");
    assert_score(&receipt["score"], 200, "the new key");
    let mut all_plans = plans.clone();
    all_plans.push(plan);
    assert_scores_everywhere(app, id, &key, &students, &all_plans).await;
}

async fn key_correction_covers_each_key_field(app: &TestApp) {
    let (course, students) = course_with(app, 7).await;
    let questions = json!([
        { "type": "multiple", "prompt": "m", "options": ["a", "b", "c", "d"],
          "correct_options": [0], "points": 2 },
        { "type": "numeric", "prompt": "n", "answer": { "value": 5, "tolerance": 0 } },
        { "type": "text", "prompt": "t", "accepted": ["colour"] },
        { "prompt": "s", "options": ["a", "b"], "correct_option": 0 },
    ]);
    let contest = app
        .create_contest_from(exam(course, open_window(), "immediate", questions))
        .await;
    let id = id_of(&contest);
    let mut key = questions_of(&contest);
    let q = question_ids(&contest);
    let mut plans = vec![
        json!([
            opts(q[0], &[0, 1]),
            val(q[1], 5.4),
            txt(q[2], "Color"),
            opt(q[3], 0)
        ]),
        json!([
            opts(q[0], &[0]),
            val(q[1], 5.0),
            txt(q[2], "colour"),
            opt(q[3], 1)
        ]),
        json!([
            opts(q[0], &[1]),
            val(q[1], 6.0),
            txt(q[2], "  COLOR "),
            opt(q[3], 0)
        ]),
        json!([opts(q[0], &[]), val(q[1], 4.5)]),
        json!([opts(q[0], &[0, 1, 2]), txt(q[2], "colr")]),
        json!([]),
    ];
    let (early, late) = students.split_at(6);
    for (student, plan) in early.iter().zip(&plans) {
        let (status, receipt) = app.submit(id, &student.token, plan.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{receipt}");
        assert_score(
            &receipt["score"],
            expected_cents(&key, plan),
            "the first key",
        );
    }

    // Each change of the key, with the question as the admin should now see it.
    let mut submitted = early.len();
    let steps: Vec<(usize, Value)> = vec![
        (
            0,
            json!({ "correct_options": [1, 0], "scoring": "partial" }),
        ),
        (1, json!({ "answer": { "value": 5.5, "tolerance": 0.5 } })),
        (2, json!({ "accepted": ["colour", "color"] })),
        (3, json!({ "points": 3 })),
        (0, json!({ "scoring": "all_or_nothing" })),
        (0, json!({ "correct_options": [2, 1, 0], "points": 1 })),
    ];
    for (step, (i, change)) in steps.into_iter().enumerate() {
        for (field, value) in change.as_object().unwrap() {
            key[i][field] = value.clone();
        }
        let (question, regraded) = correct_key(app, id, q[i], change.clone()).await;
        assert_same_questions(&[question], &[key[i].clone()]);
        assert_eq!(regraded, submitted as i64, "{change}");
        let students = &students[..submitted];
        assert_scores_everywhere(app, id, &key, students, &plans).await;
        if step == 2 {
            // From here on, new submissions are graded with the new key.
            let plan = json!([txt(q[2], "COLOR"), val(q[1], 6.0)]);
            let (status, receipt) = app.submit(id, &late[0].token, plan.clone()).await;
            assert_eq!(status, StatusCode::CREATED, "{receipt}");
            assert_score(&receipt["score"], 200, "the new key");
            plans.push(plan);
            submitted += 1;
        }
    }
}

async fn key_correction_refusals(app: &TestApp) {
    let (course, students) = course_with(app, 1).await;
    let student = &students[0];
    let admin = app.admin_token().await;
    let contest = app
        .create_contest_from(exam(course, open_window(), "immediate", one_of_each()))
        .await;
    let id = id_of(&contest);
    let q = question_ids(&contest);
    let (single, multiple, numeric, text) = (q[0], q[1], q[3], q[4]);
    let sent = json!([opt(single, 1), opts(multiple, &[0, 2])]);
    let (status, receipt) = app.submit(id, &student.token, sent).await;
    assert_eq!(status, StatusCode::CREATED, "{receipt}");
    assert_score(&receipt["score"], 300, "before");
    let other = app
        .create_contest_from(exam(course, open_window(), "immediate", one_of_each()))
        .await;
    let foreign = question_ids(&other)[0];

    // (question, body, what the message must name; "" for nothing in particular)
    let cases: Vec<(i64, Value, &str)> = vec![
        (single, json!({}), ""),
        (single, json!({ "accepted": ["b"] }), "accepted"),
        (single, json!({ "correct_options": [1] }), "correct_options"),
        (single, json!({ "scoring": "partial" }), "scoring"),
        (single, json!({ "answer": { "value": 1 } }), "answer"),
        (single, json!({ "correct_option": 3 }), "correct_option"),
        (single, json!({ "correct_option": "1" }), "correct_option"),
        (single, json!({ "points": -1 }), "points"),
        (single, json!({ "prompt": "new" }), "prompt"),
        (multiple, json!({ "correct_option": 0 }), "correct_option"),
        (
            multiple,
            json!({ "correct_options": [0, 0] }),
            "correct_options",
        ),
        (
            multiple,
            json!({ "correct_options": [] }),
            "correct_options",
        ),
        (
            multiple,
            json!({ "correct_options": [3] }),
            "correct_options",
        ),
        (multiple, json!({ "scoring": "most" }), "scoring"),
        (numeric, json!({ "correct_option": 1 }), "correct_option"),
        (numeric, json!({ "accepted": ["1.5"] }), "accepted"),
        (
            numeric,
            json!({ "answer": { "value": 1, "tolerance": -1 } }),
            "tolerance",
        ),
        (numeric, json!({ "answer": { "value": "NaN" } }), "value"),
        (text, json!({ "answer": { "value": 1 } }), "answer"),
        (text, json!({ "correct_options": [0] }), "correct_options"),
        (text, json!({ "accepted": [] }), "accepted"),
        (text, json!({ "accepted": ["é".repeat(201)] }), "accepted"),
    ];
    for (question, body, named) in cases {
        let resp = app
            .patch(
                &question_path(id, question),
                Some(&admin),
                Some(body.clone()),
            )
            .await;
        let message = assert_error(&resp, StatusCode::BAD_REQUEST, "bad_request");
        assert!(
            message.contains(named),
            "names `{named}`: {message}\nbody: {body}"
        );
    }

    let fix = json!({ "correct_option": 0 });
    // Another contest's question, an unknown question, an unknown contest: 404, before the body.
    for path in [
        question_path(id, foreign),
        question_path(id, 424_242),
        question_path(424_242, single),
    ] {
        let resp = app.patch(&path, Some(&admin), Some(fix.clone())).await;
        assert_error(&resp, StatusCode::NOT_FOUND, "not_found");
        let resp = app.patch(&path, Some(&admin), Some(json!({}))).await;
        assert_error(&resp, StatusCode::NOT_FOUND, "not_found");
    }
    // Students: 403, before the resource and the body; no token: 401.
    let path = question_path(id, single);
    let resp = app
        .patch(&path, Some(&student.token), Some(fix.clone()))
        .await;
    assert_error(&resp, StatusCode::FORBIDDEN, "forbidden");
    let resp = app
        .patch(
            &question_path(id, foreign),
            Some(&student.token),
            Some(json!({})),
        )
        .await;
    assert_error(&resp, StatusCode::FORBIDDEN, "forbidden");
    let resp = app.patch(&path, None, Some(fix)).await;
    assert_error(&resp, StatusCode::UNAUTHORIZED, "unauthorized");

    // Nothing changed: the keys, and the score.
    let (_, view) = app.get(&contest_path(id), Some(&admin)).await;
    assert_eq!(
        view["questions"], contest["questions"],
        "the keys are as created"
    );
    let (_, view) = app.get(&contest_path(id_of(&other)), Some(&admin)).await;
    assert_eq!(
        view["questions"], other["questions"],
        "the other contest too"
    );
    let (_, mine) = app.get(&my_submission(id), Some(&student.token)).await;
    assert_score(&mine["score"], 300, "unchanged");
}

/// A hundred and eighty students submit, a few dozen at a time; once fifty have their answer,
/// the key of the first question is corrected. Twenty more submit once the correction has
/// answered. In the end every stored score is the new key's.
async fn regrade_during_a_burst_of_submissions(app: &TestApp) {
    const STUDENTS: usize = 200;
    const PATCH_AFTER: usize = 50;
    const IN_FLIGHT: usize = 24;
    /// Students held back until the correction has answered.
    const AFTER: usize = 20;
    let (course, students) = course_with(app, STUDENTS).await;
    let questions = json!([
        { "prompt": "q0", "options": ["a", "b", "c", "d"], "correct_option": 0 },
        { "type": "multiple", "prompt": "q1", "options": ["a", "b", "c"],
          "correct_options": [0, 1], "scoring": "partial", "points": 2 },
    ]);
    let contest = app
        .create_contest_from(exam(course, open_window(), "immediate", questions))
        .await;
    let id = id_of(&contest);
    let old_key = questions_of(&contest);
    let mut new_key = old_key.clone();
    new_key[0]["correct_option"] = json!(2);
    let q = question_ids(&contest);
    let plans: Vec<Value> = (0..STUDENTS)
        .map(|i| {
            let chosen: &[i64] = match (i / 4) % 3 {
                0 => &[0, 1],
                1 => &[0, 2],
                _ => &[1],
            };
            json!([opt(q[0], (i % 4) as i64), opts(q[1], chosen)])
        })
        .collect();

    let acknowledged = AtomicUsize::new(0);
    let acknowledged = &acknowledged;
    let burst = STUDENTS - AFTER;
    let submissions = stream::iter(students.iter().zip(&plans).enumerate().take(burst))
        .map(|(i, (student, plan))| async move {
            let started = Instant::now();
            let resp = app.submit(id, &student.token, plan.clone()).await;
            acknowledged.fetch_add(1, Ordering::SeqCst);
            (i, started, Instant::now(), resp)
        })
        .buffer_unordered(IN_FLIGHT)
        .collect::<Vec<_>>();
    let patch = async {
        wait_for(
            "fifty answered submissions",
            Duration::from_secs(60),
            || {
                std::future::ready(
                    (acknowledged.load(Ordering::SeqCst) >= PATCH_AFTER).then_some(()),
                )
            },
        )
        .await;
        let sent = Instant::now();
        let result = correct_key(app, id, q[0], json!({ "correct_option": 2 })).await;
        (sent, Instant::now(), result)
    };
    let (results, (patch_sent, patch_answered, (question, regraded))) =
        futures::join!(submissions, patch);
    assert_eq!(question["correct_option"], 2, "{question}");

    // The regrade counted what was committed before it, and no more than was sent before its
    // answer.
    let done_before = results.iter().filter(|r| r.2 < patch_sent).count();
    let started_before = results.iter().filter(|r| r.1 < patch_answered).count();
    assert!(
        (done_before as i64..=started_before as i64).contains(&regraded),
        "regraded {regraded}: {done_before} answered before the PATCH, {started_before} sent \
         before its answer"
    );
    assert!(done_before >= PATCH_AFTER, "{done_before}");
    let in_flight = results.iter().filter(|r| r.2 > patch_sent).count();
    assert!(
        in_flight > 0,
        "no submission was answered after the PATCH went out"
    );
    eprintln!(
        "burst ({:?}): {done_before} answered before the PATCH, {in_flight} after it went out, \
         {} sent after its answer; regraded {regraded}",
        app.db,
        burst - started_before
    );

    for (i, started, done, (status, receipt)) in &results {
        assert_eq!(*status, StatusCode::CREATED, "{receipt}");
        let what = format!("student {i}'s 201 {receipt}");
        if *done < patch_sent {
            assert_score(
                &receipt["score"],
                expected_cents(&old_key, &plans[*i]),
                &what,
            );
        }
        if *started > patch_answered {
            assert_score(
                &receipt["score"],
                expected_cents(&new_key, &plans[*i]),
                &what,
            );
        }
    }
    let differ = plans
        .iter()
        .filter(|p| expected_cents(&old_key, p) != expected_cents(&new_key, p))
        .count();
    assert!(differ >= STUDENTS / 2, "the keys tell most students apart");

    // Those who submit after the correction's answer are graded with the new key.
    let late = futures::future::join_all(
        students
            .iter()
            .zip(&plans)
            .skip(burst)
            .map(|(student, plan)| app.submit(id, &student.token, plan.clone())),
    )
    .await;
    for ((status, receipt), plan) in late.iter().zip(&plans[burst..]) {
        assert_eq!(*status, StatusCode::CREATED, "{receipt}");
        let what = format!("a 201 after the correction {receipt}");
        assert_score(&receipt["score"], expected_cents(&new_key, plan), &what);
    }

    // Every stored score is the new key's.
    let rows = app.all_submissions(id).await;
    assert_eq!(rows.len(), STUDENTS);
    let plan_of: HashMap<i64, &Value> = students.iter().map(|s| s.id).zip(&plans).collect();
    for row in &rows {
        let student = row["student_id"].as_i64().expect("student_id");
        let expected = expected_cents(&new_key, plan_of[&student]);
        assert_score(&row["score"], expected, &format!("stored {row}"));
    }
    for student in students.iter().step_by(10) {
        let (_, mine) = app.get(&my_submission(id), Some(&student.token)).await;
        let expected = expected_cents(&new_key, plan_of[&student.id]);
        assert_score(&mine["score"], expected, &format!("my-submission {mine}"));
    }
    let admin = app.admin_token().await;
    let (status, body) = app
        .get(
            &format!("/api/contests/bulk-stats?contest_ids={id}"),
            Some(&admin),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let total: i64 = plans.iter().map(|p| expected_cents(&new_key, p)).sum();
    let average = body["stats"][0]["average_score"]
        .as_f64()
        .expect("a number");
    let computed = total as f64 / 100.0 / STUDENTS as f64;
    assert!(
        (average - computed).abs() < 0.0051,
        "{average} vs {computed}"
    );
}
