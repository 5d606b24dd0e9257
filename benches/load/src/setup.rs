//! The day's setting, made through the admin API: N students (bulk), a course they are
//! enrolled in, and a contest open from now for an hour.

use chrono::{TimeDelta, Utc};
use serde_json::{json, Value};

use crate::Failed;

/// Most users `POST /api/users/bulk` (and ids `PUT …/enrollments`) takes at once.
const BULK: usize = 10_000;

pub struct Setup {
    pub contest_id: i64,
    pub usernames: Vec<String>,
    pub password: String,
}

async fn call(request: reqwest::RequestBuilder, body: Value) -> Result<Value, Failed> {
    let response = request.json(&body).send().await?;
    let status = response.status();
    let text = response.text().await?;
    if !status.is_success() {
        return Err(format!("{status}: {text}").into());
    }
    Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
}

pub async fn prepare(host: &str, admin_password: &str, students: usize) -> Result<Setup, Failed> {
    let http = reqwest::Client::new();
    let login = call(
        http.post(format!("{host}/api/auth/login")),
        json!({"username": "admin", "password": admin_password}),
    )
    .await?;
    let admin = login["token"].as_str().ok_or("no admin token")?.to_string();
    // Names unique to this run, so runs can share a database.
    let run = Utc::now().timestamp_millis();
    let password = format!("load-{run}-pw");
    let usernames: Vec<String> = (0..students).map(|i| format!("ld{run}-{i}")).collect();
    let mut ids = Vec::with_capacity(students);
    for chunk in usernames.chunks(BULK) {
        let users: Vec<Value> = chunk
            .iter()
            .map(|u| json!({"username": u, "password": password, "role": "student"}))
            .collect();
        let created = call(
            http.post(format!("{host}/api/users/bulk"))
                .bearer_auth(&admin),
            json!({ "users": users }),
        )
        .await?;
        for user in created["users"].as_array().ok_or("no users created")? {
            ids.push(user["id"].as_i64().ok_or("a user without id")?);
        }
    }
    let course = call(
        http.post(format!("{host}/api/courses")).bearer_auth(&admin),
        json!({"code": format!("LOAD-{run}"), "title": "load"}),
    )
    .await?;
    let course_id = course["id"].as_i64().ok_or("no course id")?;
    for chunk in ids.chunks(BULK) {
        call(
            http.put(format!("{host}/api/courses/{course_id}/enrollments"))
                .bearer_auth(&admin),
            json!({ "student_ids": chunk }),
        )
        .await?;
    }
    let now = Utc::now();
    let questions: Vec<Value> = (0..5)
        .map(|i| json!({"prompt": format!("q{i}"), "options": ["a", "b", "c"], "correct_option": i % 3}))
        .collect();
    let contest = call(
        http.post(format!("{host}/api/contests"))
            .bearer_auth(&admin),
        json!({
            "course_id": course_id, "title": format!("load {run}"),
            "start_time": now - TimeDelta::seconds(1), "end_time": now + TimeDelta::hours(1),
            "questions": questions,
        }),
    )
    .await?;
    Ok(Setup {
        contest_id: contest["id"].as_i64().ok_or("no contest id")?,
        usernames,
        password,
    })
}
