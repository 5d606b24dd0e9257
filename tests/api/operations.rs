//! Contest operations for admins: `warm-cache`, `bulk-validation`, `bulk-stats`, the
//! submissions list (paging, CSV) and the leaderboard.

use std::collections::{HashMap, HashSet};

use chrono::TimeDelta;
use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::{
    answers, assert_error, assert_keys, closed_window, contest_body, id_of, now_ms, open_window,
    parse_time, question_ids, rfc3339, str_field, upcoming_window, Student, TestApp,
};

both_databases!(
    warm_cache_reports_figures_and_is_idempotent,
    warm_cache_unknown_is_404,
    warm_cache_requires_admin,
    bulk_validation_answers_in_input_order,
    bulk_validation_unknown_contest_is_404,
    bulk_validation_bad_lists_are_400,
    bulk_validation_requires_admin,
    bulk_stats_reports_each_contest,
    bulk_stats_unknown_ids_are_404,
    bulk_stats_bad_lists_are_400,
    submissions_list_is_ordered_with_all_fields,
    submissions_list_pages_walk_every_row_once,
    submissions_list_bad_paging_is_400,
    submissions_list_as_csv,
    submissions_list_requires_admin,
    leaderboard_ranks_by_score_then_time,
    leaderboard_students_wait_for_the_close,
    unknown_contest_is_404_before_bad_parameters,
    bad_parameters_are_named_in_the_400,
);

const WARMED: &[&str] = &[
    "contest_id",
    "warmed",
    "enrolled",
    "submitted",
    "questions",
    "load_ms",
];
const VALIDATION: &[&str] = &["student_id", "exists", "enrolled", "submitted"];
const STATS: &[&str] = &[
    "contest_id",
    "status",
    "enrolled",
    "submitted",
    "average_score",
    "max_score",
];
const LEADERBOARD_ENTRY: &[&str] = &["rank", "student_id", "username", "score", "submitted_at"];
/// What the contract names for each listed submission; contestd adds `id` and `contest_id`.
const LISTED: &[&str] = &[
    "id",
    "contest_id",
    "student_id",
    "username",
    "score",
    "max_score",
    "submitted_at",
    "answers",
    "auto",
];

/// Answers to `contest_body`'s questions worth `score` points (0 to 3).
fn scoring(contest: &Value, score: i64) -> Value {
    let q = question_ids(contest);
    let first = if score % 2 == 1 { 1 } else { 0 };
    let second = if score >= 2 { 0 } else { 1 };
    answers(&[(q[0], first), (q[1], second)])
}

/// Submits for each student in turn (so their times differ) the answers worth the given
/// score; returns the 201 bodies.
async fn submit_in_turn(app: &TestApp, contest: &Value, plan: &[(&Student, i64)]) -> Vec<Value> {
    let mut receipts = Vec::new();
    for (student, score) in plan {
        let (status, receipt) = app
            .submit(id_of(contest), &student.token, scoring(contest, *score))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{receipt}");
        receipts.push(receipt);
    }
    let times: Vec<_> = receipts
        .iter()
        .map(|r| parse_time(&r["submitted_at"]))
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] < w[1]),
        "submissions in turn have increasing times: {times:?}"
    );
    receipts
}

async fn warm(app: &TestApp, token: &str, contest_id: Value) -> (StatusCode, Value) {
    app.post(
        "/api/contests/warm-cache",
        Some(token),
        Some(json!({ "contest_id": contest_id })),
    )
    .await
}

#[track_caller]
fn check_warmed(resp: &(StatusCode, Value), contest: i64, enrolled: u64, submitted: u64) {
    let (status, body) = resp;
    assert_eq!(*status, StatusCode::OK, "{body}");
    assert_keys(body, WARMED);
    assert_eq!(body["contest_id"], contest, "{body}");
    assert_eq!(body["warmed"], true, "{body}");
    assert_eq!(body["enrolled"], enrolled, "{body}");
    assert_eq!(body["submitted"], submitted, "{body}");
    assert_eq!(body["questions"], 3, "{body}");
    assert!(body["load_ms"].is_u64(), "load_ms is a number: {body}");
}

async fn warm_cache_reports_figures_and_is_idempotent(app: &TestApp) {
    let course = app.create_course().await;
    let students = app.logged_in_students(4).await;
    let ids: Vec<i64> = students.iter().map(|s| s.id).collect();
    app.enroll(course, &ids).await;
    let (start, end) = open_window();
    let mut body = contest_body(course, start, end);
    body["questions"]
        .as_array_mut()
        .expect("questions")
        .push(json!({ "prompt": "third", "options": ["a", "b"], "correct_option": 0 }));
    let contest = app.create_contest_from(body).await;
    let id = id_of(&contest);
    // One student leaves before the contest is loaded: not counted.
    let admin = app.admin_token().await;
    let (status, _) = app
        .delete(
            &format!("/api/courses/{course}/enrollments/{}", ids[3]),
            Some(&admin),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(app.loads().await, 0, "nothing loaded yet");

    let first = warm(app, &admin, json!(id)).await;
    check_warmed(&first, id, 3, 0);
    assert_eq!(app.loads().await, 1);

    for student in &students[..2] {
        let (status, body) = app.submit(id, &student.token, answers(&[])).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let again = warm(app, &admin, json!(id)).await;
    check_warmed(&again, id, 3, 2);
    assert_eq!(app.loads().await, 1, "a warm contest is not loaded again");

    // After a restart the figures are loaded from the database.
    app.stop().await;
    let other = app.sibling(&[]).await;
    let other_admin = other.admin_token().await;
    let loaded = warm(&other, &other_admin, json!(id)).await;
    check_warmed(&loaded, id, 3, 2);
    assert_eq!(other.loads().await, 1);
    other.stop().await;
}

async fn warm_cache_unknown_is_404(app: &TestApp) {
    let admin = app.admin_token().await;
    let resp = warm(app, &admin, json!(424_242)).await;
    assert_error(&resp, StatusCode::NOT_FOUND, "not_found");
    assert_eq!(app.health().await["actors"]["count"], 0, "nothing warmed");
    for body in [json!({}), json!({ "contest_id": "1" })] {
        let resp = app
            .post("/api/contests/warm-cache", Some(&admin), Some(body))
            .await;
        assert_error(&resp, StatusCode::BAD_REQUEST, "bad_request");
    }
}

async fn warm_cache_requires_admin(app: &TestApp) {
    let (contest, students) = app.open_contest_with_students(1, None).await;
    let id = id_of(&contest);
    let resp = warm(app, &students[0].token, json!(id)).await;
    assert_error(&resp, StatusCode::FORBIDDEN, "forbidden");
    let resp = app
        .post(
            "/api/contests/warm-cache",
            None,
            Some(json!({ "contest_id": id })),
        )
        .await;
    assert_error(&resp, StatusCode::UNAUTHORIZED, "unauthorized");
    assert_eq!(app.loads().await, 0, "nothing loaded");
}

async fn validate(app: &TestApp, token: &str, body: Value) -> (StatusCode, Value) {
    app.post("/api/contests/bulk-validation", Some(token), Some(body))
        .await
}

async fn bulk_validation_answers_in_input_order(app: &TestApp) {
    let (contest, students) = app.open_contest_with_students(4, None).await;
    let id = id_of(&contest);
    let course = contest["course_id"].as_i64().unwrap();
    let (outsider, _, _) = app.student().await;
    let admin_id = app.admin_id().await;
    let admin = app.admin_token().await;
    // 0 and 3 submit; 3 then leaves the course.
    for s in [&students[0], &students[3]] {
        let (status, body) = app.submit(id, &s.token, answers(&[])).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, _) = app
        .delete(
            &format!("/api/courses/{course}/enrollments/{}", students[3].id),
            Some(&admin),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let unknown = 9_999_999;
    let expected = [
        (unknown, false, false, false),
        (outsider, true, false, false),
        (students[0].id, true, true, true),
        (admin_id, true, false, false),
        (students[1].id, true, true, false),
        (students[3].id, true, false, true),
        (students[0].id, true, true, true),
        (students[2].id, true, true, false),
    ];
    let ids: Vec<i64> = expected.iter().map(|e| e.0).collect();
    let (status, body) =
        validate(app, &admin, json!({ "contest_id": id, "student_ids": ids })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_keys(&body, &["results"]);
    let results = body["results"].as_array().expect("results");
    assert_eq!(results.len(), expected.len(), "{body}");
    for (got, (student, exists, enrolled, submitted)) in results.iter().zip(expected) {
        assert_keys(got, VALIDATION);
        assert_eq!(
            got,
            &json!({ "student_id": student, "exists": exists, "enrolled": enrolled,
                     "submitted": submitted }),
        );
    }
}

async fn bulk_validation_unknown_contest_is_404(app: &TestApp) {
    let admin = app.admin_token().await;
    let admin_id = app.admin_id().await;
    let resp = validate(
        app,
        &admin,
        json!({ "contest_id": 424_242, "student_ids": [admin_id] }),
    )
    .await;
    assert_error(&resp, StatusCode::NOT_FOUND, "not_found");
    // The resource comes before the body.
    let resp = validate(
        app,
        &admin,
        json!({ "contest_id": 424_242, "student_ids": [] }),
    )
    .await;
    assert_error(&resp, StatusCode::NOT_FOUND, "not_found");
}

async fn bulk_validation_bad_lists_are_400(app: &TestApp) {
    let (contest, students) = app.open_contest_with_students(1, None).await;
    let id = id_of(&contest);
    let admin = app.admin_token().await;
    let too_many: Vec<i64> = (1..=10_001).collect();
    for body in [
        json!({ "contest_id": id, "student_ids": [] }),
        json!({ "contest_id": id, "student_ids": too_many }),
        json!({ "contest_id": id }),
        json!({ "contest_id": id, "student_ids": ["1"] }),
        json!({ "student_ids": [students[0].id] }),
    ] {
        let resp = validate(app, &admin, body.clone()).await;
        assert_error(&resp, StatusCode::BAD_REQUEST, "bad_request");
    }
    let at_most: Vec<i64> = (1..=10_000).collect();
    let (status, body) = validate(
        app,
        &admin,
        json!({ "contest_id": id, "student_ids": at_most }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "10,000 ids are allowed");
    assert_eq!(body["results"].as_array().map(Vec::len), Some(10_000));
    assert_eq!(body["results"][0]["exists"], true, "user 1 is the admin");
}

async fn bulk_validation_requires_admin(app: &TestApp) {
    let (contest, students) = app.open_contest_with_students(1, None).await;
    let body = json!({ "contest_id": id_of(&contest), "student_ids": [students[0].id] });
    let resp = validate(app, &students[0].token, body.clone()).await;
    assert_error(&resp, StatusCode::FORBIDDEN, "forbidden");
    let resp = app
        .post("/api/contests/bulk-validation", None, Some(body))
        .await;
    assert_error(&resp, StatusCode::UNAUTHORIZED, "unauthorized");
}

async fn stats(app: &TestApp, ids: &[i64]) -> (StatusCode, Value) {
    let list: Vec<String> = ids.iter().map(i64::to_string).collect();
    let admin = app.admin_token().await;
    app.get(
        &format!("/api/contests/bulk-stats?contest_ids={}", list.join(",")),
        Some(&admin),
    )
    .await
}

async fn bulk_stats_reports_each_contest(app: &TestApp) {
    let (open, students) = app.open_contest_with_students(4, None).await;
    let course = open["course_id"].as_i64().unwrap();
    let (start, end) = upcoming_window();
    let upcoming = app.create_contest(course, start, end, None).await;
    let (start, end) = closed_window();
    let closed = app.create_contest(course, start, end, None).await;
    // A contest on another course, worth 8 points.
    let other_course = app.create_course().await;
    let (start, end) = open_window();
    let mut body = contest_body(other_course, start, end);
    body["questions"][0]["points"] = json!(6);
    let other = app.create_contest_from(body).await;

    // Scores 3, 1 and 0: average 4/3.
    for (student, score) in students.iter().zip([3, 1, 0]) {
        let (status, body) = app
            .submit(id_of(&open), &student.token, scoring(&open, score))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }

    let ids = [
        id_of(&upcoming),
        id_of(&open),
        id_of(&other),
        id_of(&closed),
    ];
    let (status, body) = stats(app, &ids).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_keys(&body, &["stats"]);
    let listed = body["stats"].as_array().expect("stats");
    assert_eq!(listed.len(), 4, "{body}");
    let by_id: HashMap<i64, &Value> = listed
        .iter()
        .map(|s| (s["contest_id"].as_i64().expect("contest_id"), s))
        .collect();
    for s in listed {
        assert_keys(s, STATS);
    }
    let open_stats = by_id[&id_of(&open)];
    assert_eq!(open_stats["status"], "open");
    assert_eq!(open_stats["enrolled"], 4);
    assert_eq!(open_stats["submitted"], 3);
    assert_eq!(open_stats["max_score"], 3);
    let average = open_stats["average_score"].as_f64().expect("a number");
    assert!((average - 4.0 / 3.0).abs() < 1e-9, "average {average}");

    for (contest, status, enrolled, max) in [
        (&upcoming, "upcoming", 4, 3),
        (&closed, "closed", 4, 3),
        (&other, "open", 0, 8),
    ] {
        assert_eq!(
            *by_id[&id_of(contest)],
            json!({ "contest_id": id_of(contest), "status": status, "enrolled": enrolled,
                      "submitted": 0, "average_score": null, "max_score": max }),
        );
    }
}

async fn bulk_stats_unknown_ids_are_404(app: &TestApp) {
    let (contest, _) = app.open_contest_with_students(1, None).await;
    let resp = stats(app, &[id_of(&contest), 424_242, 434_343]).await;
    let message = assert_error(&resp, StatusCode::NOT_FOUND, "not_found");
    assert!(
        message.contains("424242") && message.contains("434343"),
        "names the unknown ids: {message}"
    );
}

async fn bulk_stats_bad_lists_are_400(app: &TestApp) {
    let admin = app.admin_token().await;
    let too_many: Vec<String> = (1..=101).map(|i| i.to_string()).collect();
    for query in [
        "?contest_ids=".to_string(),
        String::new(),
        "?contest_ids=1,two".to_string(),
        format!("?contest_ids={}", too_many.join(",")),
    ] {
        let resp = app
            .get(&format!("/api/contests/bulk-stats{query}"), Some(&admin))
            .await;
        assert_error(&resp, StatusCode::BAD_REQUEST, "bad_request");
    }
    let (_, _, student) = app.student().await;
    let resp = app
        .get("/api/contests/bulk-stats?contest_ids=1", Some(&student))
        .await;
    assert_error(&resp, StatusCode::FORBIDDEN, "forbidden");
}

fn list_path(contest: i64, query: &str) -> String {
    format!("/api/contests/{contest}/submissions{query}")
}

/// One page of the admin list: the entries and `next`.
async fn page(app: &TestApp, admin: &str, contest: i64, query: &str) -> (Vec<Value>, Value) {
    let (status, body) = app.get(&list_path(contest, query), Some(admin)).await;
    assert_eq!(status, StatusCode::OK, "{query}: {body}");
    assert_keys(&body, &["submissions", "next"]);
    let entries = body["submissions"].as_array().expect("submissions").clone();
    (entries, body["next"].clone())
}

/// Asserts the entries are ordered by `submitted_at`, then id.
#[track_caller]
fn assert_list_order(entries: &[Value]) {
    let keys: Vec<_> = entries
        .iter()
        .map(|e| {
            (
                parse_time(&e["submitted_at"]),
                str_field(e, "id").to_string(),
            )
        })
        .collect();
    assert!(
        keys.windows(2).all(|w| w[0] < w[1]),
        "ordered by submitted_at then id: {keys:?}"
    );
}

async fn submissions_list_is_ordered_with_all_fields(app: &TestApp) {
    let (contest, students) = app.open_contest_with_students(12, Some("immediate")).await;
    let id = id_of(&contest);
    // Concurrent, so some share a millisecond and the id breaks the tie.
    let sent: Vec<Value> = (0..students.len())
        .map(|i| scoring(&contest, (i % 4) as i64))
        .collect();
    let receipts = join_all(
        students
            .iter()
            .zip(&sent)
            .map(|(s, a)| app.submit(id, &s.token, a.clone())),
    )
    .await;
    let admin = app.admin_token().await;
    let (entries, next) = page(app, &admin, id, "").await;
    assert_eq!(next, Value::Null);
    assert_eq!(entries.len(), students.len());
    assert_list_order(&entries);

    let by_student: HashMap<i64, &Value> = entries
        .iter()
        .map(|e| (e["student_id"].as_i64().expect("student_id"), e))
        .collect();
    for ((student, answers), (status, receipt)) in students.iter().zip(&sent).zip(&receipts) {
        assert_eq!(*status, StatusCode::CREATED, "{receipt}");
        let e = by_student[&student.id];
        assert_keys(e, LISTED);
        assert_eq!(e["id"], receipt["id"]);
        assert_eq!(e["contest_id"], id);
        assert_eq!(e["username"], student.username.as_str());
        assert_eq!(e["score"], receipt["score"]);
        assert_eq!(e["max_score"], 3);
        assert_eq!(
            parse_time(&e["submitted_at"]),
            parse_time(&receipt["submitted_at"])
        );
        assert_eq!(e["answers"], *answers);
    }

    // An empty contest lists nothing.
    let (start, end) = open_window();
    let course = contest["course_id"].as_i64().unwrap();
    let empty_view = app.create_contest(course, start, end, None).await;
    let empty = id_of(&empty_view);
    let (entries, next) = page(app, &admin, empty, "").await;
    assert!(entries.is_empty());
    assert_eq!(next, Value::Null);
}

async fn submissions_list_pages_walk_every_row_once(app: &TestApp) {
    let (contest, students) = app.open_contest_with_students(7, None).await;
    let id = id_of(&contest);
    let plan: Vec<(&Student, i64)> = students.iter().map(|s| (s, 1)).collect();
    let receipts = submit_in_turn(app, &contest, &plan).await;
    let admin = app.admin_token().await;
    let (all, _) = page(app, &admin, id, "").await;
    let all_ids: Vec<&Value> = all.iter().map(|e| &e["id"]).collect();
    let receipt_ids: Vec<&Value> = receipts.iter().map(|r| &r["id"]).collect();
    assert_eq!(all_ids, receipt_ids, "submission order");

    for limit in [1, 2, 3, 6, 7, 1000] {
        let mut walked = Vec::new();
        let mut query = format!("?limit={limit}");
        loop {
            let (entries, next) = page(app, &admin, id, &query).await;
            assert!(entries.len() <= limit, "limit {limit}: {entries:?}");
            walked.extend(entries.iter().cloned());
            if next.is_null() {
                break;
            }
            assert_eq!(entries.len(), limit, "only the last page is short");
            assert_eq!(
                next,
                entries[entries.len() - 1]["id"],
                "next is the last id"
            );
            assert!(walked.len() < all.len() + 1, "limit {limit}: no end");
            query = format!("?limit={limit}&after={}", next.as_str().expect("an id"));
        }
        assert_eq!(walked, all, "limit {limit}: every row once, in order");
    }
    let (entries, next) = page(app, &admin, id, "?limit=6").await;
    assert_eq!(entries.len(), 6);
    assert_eq!(next, all[5]["id"]);
    let (entries, next) = page(app, &admin, id, "?limit=7").await;
    assert_eq!(entries.len(), 7);
    assert_eq!(next, Value::Null, "nothing after the seventh");
    let last = all[6]["id"].as_str().unwrap();
    let (entries, next) = page(app, &admin, id, &format!("?after={last}")).await;
    assert!(entries.is_empty());
    assert_eq!(next, Value::Null);
}

async fn submissions_list_bad_paging_is_400(app: &TestApp) {
    let (contest, students) = app.open_contest_with_students(1, None).await;
    let id = id_of(&contest);
    let course = contest["course_id"].as_i64().unwrap();
    let (start, end) = open_window();
    let other = app.create_contest(course, start, end, None).await;
    let (status, foreign) = app
        .submit(id_of(&other), &students[0].token, answers(&[]))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let foreign = str_field(&foreign, "id").to_string();
    let admin = app.admin_token().await;
    for query in [
        "?after=not-a-uuid".to_string(),
        format!("?after={}", uuid::Uuid::new_v4()),
        format!("?after={foreign}"),
        "?limit=0".to_string(),
        "?limit=1001".to_string(),
        "?limit=-1".to_string(),
        "?limit=ten".to_string(),
    ] {
        let resp = app.get(&list_path(id, &query), Some(&admin)).await;
        assert_error(&resp, StatusCode::BAD_REQUEST, "bad_request");
    }
    let resp = app.get(&list_path(424_242, ""), Some(&admin)).await;
    assert_error(&resp, StatusCode::NOT_FOUND, "not_found");
}

async fn submissions_list_as_csv(app: &TestApp) {
    let (contest, students) = app.open_contest_with_students(5, Some("immediate")).await;
    let id = id_of(&contest);
    let plan: Vec<(&Student, i64)> = students.iter().zip([3, 0, 2, 1, 3]).collect();
    let receipts = submit_in_turn(app, &contest, &plan).await;
    let admin = app.admin_token().await;

    let (status, content_type, text) = app
        .get_text(&list_path(id, ""), Some(&admin), "text/csv")
        .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(content_type.starts_with("text/csv"), "{content_type}");
    let q = question_ids(&contest);
    let fixed = "id,student_id,username,score,max_score,submitted_at,answers,auto";
    let header = format!(
        "{fixed},q{a}_answer,q{a}_points,q{b}_answer,q{b}_points",
        a = q[0],
        b = q[1]
    );
    assert_eq!(text.lines().next(), Some(header.as_str()), "header row");
    let records: Vec<csv::StringRecord> = csv::Reader::from_reader(text.as_bytes())
        .records()
        .map(|r| r.expect("a CSV record"))
        .collect();
    assert_eq!(records.len(), students.len(), "one record each:\n{text}");
    for (fields, ((student, score), receipt)) in records.iter().zip(plan.iter().zip(&receipts)) {
        let line = format!("{fields:?}");
        assert_eq!(fields.len(), 12, "{line}");
        assert_eq!(&fields[7], "false", "{line}");
        assert_eq!(&fields[0], str_field(receipt, "id"), "{line}");
        assert_eq!(fields[1], student.id.to_string(), "{line}");
        assert_eq!(&fields[2], student.username, "{line}");
        assert_eq!(fields[3], score.to_string(), "{line}");
        assert_eq!(&fields[4], "3", "{line}");
        assert_eq!(
            parse_time(&json!(fields[5])),
            parse_time(&receipt["submitted_at"]),
            "{line}"
        );
        // The answers as JSON in one field, then each question's answer and points.
        let parsed: Value = serde_json::from_str(&fields[6]).expect("answers as JSON");
        assert_eq!(parsed, scoring(&contest, *score), "{line}");
        for (i, question) in contest["questions"].as_array().unwrap().iter().enumerate() {
            let given = parsed
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["question_id"] == question["id"]);
            let (answer, points) = match given {
                Some(a) if a["option"] == question["correct_option"] => {
                    (a["option"].to_string(), question["points"].to_string())
                }
                Some(a) => (a["option"].to_string(), "0".into()),
                None => (String::new(), "0".into()),
            };
            assert_eq!(fields[8 + 2 * i], answer, "{line}");
            assert_eq!(fields[9 + 2 * i], points, "{line}");
        }
    }

    // No submissions: the header alone.
    let (start, end) = open_window();
    let course = contest["course_id"].as_i64().unwrap();
    let empty_view = app.create_contest(course, start, end, None).await;
    let empty = id_of(&empty_view);
    let (status, _, text) = app
        .get_text(&list_path(empty, ""), Some(&admin), "text/csv")
        .await;
    assert_eq!(status, StatusCode::OK);
    let q = question_ids(&empty_view);
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        [format!(
            "{fixed},q{a}_answer,q{a}_points,q{b}_answer,q{b}_points",
            a = q[0],
            b = q[1]
        )]
    );
}

async fn submissions_list_requires_admin(app: &TestApp) {
    let (contest, students) = app.open_contest_with_students(1, None).await;
    let id = id_of(&contest);
    let (status, _) = app.submit(id, &students[0].token, answers(&[])).await;
    assert_eq!(status, StatusCode::CREATED);
    let resp = app.get(&list_path(id, ""), Some(&students[0].token)).await;
    assert_error(&resp, StatusCode::FORBIDDEN, "forbidden");
    let (status, _, text) = app
        .get_text(&list_path(id, ""), Some(&students[0].token), "text/csv")
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{text}");
    assert!(!text.contains(&students[0].username), "{text}");
    let resp = app.get(&list_path(id, ""), None).await;
    assert_error(&resp, StatusCode::UNAUTHORIZED, "unauthorized");
}

fn leaderboard_path(contest: i64, query: &str) -> String {
    format!("/api/contests/{contest}/leaderboard{query}")
}

async fn leaderboard(app: &TestApp, token: &str, contest: i64, query: &str) -> Vec<Value> {
    let (status, body) = app
        .get(&leaderboard_path(contest, query), Some(token))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_keys(&body, &["entries"]);
    body["entries"].as_array().expect("entries").clone()
}

async fn leaderboard_ranks_by_score_then_time(app: &TestApp) {
    let (contest, students) = app.open_contest_with_students(6, None).await;
    let id = id_of(&contest);
    let admin = app.admin_token().await;
    assert!(leaderboard(app, &admin, id, "").await.is_empty());

    let scores = [1, 3, 1, 3, 0, 2];
    let plan: Vec<(&Student, i64)> = students.iter().zip(scores).collect();
    let receipts = submit_in_turn(app, &contest, &plan).await;
    // Highest score first; among equal scores the earlier submission.
    let expected_order = [1, 3, 5, 0, 2, 4];

    let entries = leaderboard(app, &admin, id, "").await;
    assert_eq!(entries.len(), students.len());
    for (rank, (entry, &i)) in entries.iter().zip(&expected_order).enumerate() {
        assert_keys(entry, LEADERBOARD_ENTRY);
        assert_eq!(
            entry,
            &json!({
                "rank": rank + 1,
                "student_id": students[i].id,
                "username": students[i].username,
                "score": scores[i],
                "submitted_at": entry["submitted_at"],
            })
        );
        assert_eq!(
            parse_time(&entry["submitted_at"]),
            parse_time(&receipts[i]["submitted_at"])
        );
    }

    let top = leaderboard(app, &admin, id, "?limit=2").await;
    assert_eq!(top, entries[..2].to_vec());
    for query in ["?limit=0", "?limit=1001", "?limit=x"] {
        let resp = app.get(&leaderboard_path(id, query), Some(&admin)).await;
        assert_error(&resp, StatusCode::BAD_REQUEST, "bad_request");
    }
    let resp = app.get(&leaderboard_path(424_242, ""), Some(&admin)).await;
    assert_error(&resp, StatusCode::NOT_FOUND, "not_found");
}

async fn leaderboard_students_wait_for_the_close(app: &TestApp) {
    let (contest, students) = app.open_contest_with_students(3, None).await;
    let id = id_of(&contest);
    let plan: Vec<(&Student, i64)> = students.iter().zip([2, 3, 0]).collect();
    submit_in_turn(app, &contest, &plan).await;
    let admin = app.admin_token().await;
    let (_, _, outsider) = app.student().await;

    for student in &students {
        let resp = app
            .get(&leaderboard_path(id, ""), Some(&student.token))
            .await;
        assert_error(&resp, StatusCode::FORBIDDEN, "forbidden");
    }
    let resp = app.get(&leaderboard_path(id, ""), None).await;
    assert_error(&resp, StatusCode::UNAUTHORIZED, "unauthorized");
    let while_open = leaderboard(app, &admin, id, "").await;
    assert_eq!(while_open.len(), 3);

    // Closed: students of the course may read it, and see what the admin sees.
    let end = json!({ "end_time": rfc3339(now_ms() - TimeDelta::seconds(1)) });
    let (status, view) = app
        .patch(&format!("/api/contests/{id}"), Some(&admin), Some(end))
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    let mut seen = HashSet::new();
    for student in &students {
        let entries = leaderboard(app, &student.token, id, "").await;
        assert_eq!(entries, while_open);
        seen.insert(entries[0]["student_id"].as_i64().unwrap());
    }
    assert_eq!(seen, HashSet::from([students[1].id]), "the best is first");
    assert_eq!(leaderboard(app, &admin, id, "").await, while_open);
    let resp = app.get(&leaderboard_path(id, ""), Some(&outsider)).await;
    assert_error(&resp, StatusCode::FORBIDDEN, "not_enrolled");
}

/// API.md's order: the resource (404) before the parameters (400), whatever is wrong with them.
async fn unknown_contest_is_404_before_bad_parameters(app: &TestApp) {
    let admin = app.admin_token().await;
    for path in [
        "/api/contests/424242/submissions?limit=0",
        "/api/contests/424242/submissions?limit=ten",
        "/api/contests/424242/submissions?after=not-a-uuid",
        "/api/contests/424242/submissions?color=red",
        "/api/contests/424242/leaderboard?limit=0",
        "/api/contests/424242/leaderboard?limit=ten",
        "/api/contests/424242/leaderboard?color=red",
    ] {
        let resp = app.get(path, Some(&admin)).await;
        assert_eq!(resp.0, StatusCode::NOT_FOUND, "{path}: {}", resp.1);
        assert_error(&resp, StatusCode::NOT_FOUND, "not_found");
    }
}

async fn bad_parameters_are_named_in_the_400(app: &TestApp) {
    let (contest, _) = app.open_contest_with_students(1, None).await;
    let id = id_of(&contest);
    let admin = app.admin_token().await;
    for (query, named) in [
        ("?limit=0", "limit"),
        ("?limit=ten", "limit"),
        (&format!("?after={}", uuid::Uuid::new_v4()) as &str, "after"),
        ("?after=not-a-uuid", "after"),
    ] {
        let resp = app.get(&list_path(id, query), Some(&admin)).await;
        let message = assert_error(&resp, StatusCode::BAD_REQUEST, "bad_request");
        assert!(
            message.contains(named),
            "{query}: names `{named}`: {message}"
        );
    }
    for (query, named) in [("?limit=0", "limit"), ("?limit=ten", "limit")] {
        let resp = app.get(&leaderboard_path(id, query), Some(&admin)).await;
        let message = assert_error(&resp, StatusCode::BAD_REQUEST, "bad_request");
        assert!(
            message.contains(named),
            "{query}: names `{named}`: {message}"
        );
    }
}
