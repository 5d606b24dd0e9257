//! Reading and checking JSON answers: fields that must be there, exact key sets, the error
//! shape, `Retry-After`.

use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::Value;

use super::Resp;

#[track_caller]
pub fn id_of(v: &Value) -> i64 {
    v["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("an integer `id` in {v}"))
}

#[track_caller]
pub fn str_field<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("a string `{key}` in {v}"))
}

/// The object's keys, sorted.
#[track_caller]
pub fn keys(v: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = v
        .as_object()
        .unwrap_or_else(|| panic!("an object, got {v}"))
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

/// Asserts the object has exactly these keys.
#[track_caller]
pub fn assert_keys(v: &Value, expected: &[&str]) {
    let mut expected = expected.to_vec();
    expected.sort_unstable();
    assert_eq!(keys(v), expected, "keys of {v}");
}

/// The `Retry-After` header as whole seconds, if it is one.
pub fn retry_after(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// Asserts an error answer: the status, and the body exactly `{"error": {"code", "message"}}`
/// with both strings and `code` as given. Returns the message.
#[track_caller]
pub fn assert_error(resp: &Resp, status: StatusCode, code: &str) -> String {
    let (got, body) = resp;
    assert_eq!(*got, status, "status of the answer {body}");
    assert_keys(body, &["error"]);
    let error = &body["error"];
    assert_keys(error, &["code", "message"]);
    assert_eq!(error["code"].as_str(), Some(code), "error code in {body}");
    let message = error["message"]
        .as_str()
        .unwrap_or_else(|| panic!("a string message in {body}"));
    assert!(!message.is_empty(), "an empty message in {body}");
    message.to_string()
}

/// The fixed columns of the CSV export, before two per question (`q<id>_answer`, `q<id>_points`).
pub const CSV_COLUMNS: [&str; 8] = [
    "id",
    "student_id",
    "username",
    "score",
    "max_score",
    "submitted_at",
    "answers",
    "auto",
];

/// A CSV export parsed with the csv crate: the header row and the records after it.
#[track_caller]
pub fn csv_rows(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes());
    let mut rows: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.expect("a CSV record").iter().map(String::from).collect())
        .collect();
    assert!(!rows.is_empty(), "a header row at least");
    let header = rows.remove(0);
    (header, rows)
}
