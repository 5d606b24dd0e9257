//! The day's setting, made through the admin API: N students (bulk), a course they are
//! enrolled in, and a contest open from now for as long as the day needs (`Schedule`), with the
//! questions of `plan.rs`.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{json, Value};

use crate::plan::{self, Plan, QuestionMix};
use crate::Failed;

/// Most users `POST /api/users/bulk` (and ids `PUT …/enrollments`) takes at once.
const BULK: usize = 10_000;

pub struct Setup {
    pub contest_id: i64,
    pub usernames: Vec<String>,
    pub password: String,
    /// The questions as created, with what each answer earns.
    pub plan: Plan,
    /// The admin's token, for the checks after the run.
    pub admin_token: String,
    /// The contest as `POST /api/contests` answered (the admin view).
    pub contest: Value,
    /// The contest's end, as created.
    pub end_time: DateTime<Utc>,
    pub grace: Duration,
}

impl Setup {
    /// The end plus the grace: when the server auto-submits the drafts.
    pub fn deadline(&self) -> DateTime<Utc> {
        self.end_time + TimeDelta::from_std(self.grace).unwrap_or_default()
    }
}

/// How long the contest is open from its creation, and its grace.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    pub open_for: Duration,
    pub grace: Duration,
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

/// The contest's questions: `mix` and how many.
#[derive(Debug, Clone, Copy)]
pub struct Questions {
    pub mix: QuestionMix,
    pub count: usize,
}

pub async fn prepare(
    host: &str,
    admin_password: &str,
    students: usize,
    questions: Questions,
    schedule: Schedule,
) -> Result<Setup, Failed> {
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
    let end_time = now + TimeDelta::from_std(schedule.open_for)?;
    let planned = plan::questions(questions.mix, questions.count);
    let bodies: Vec<&Value> = planned.iter().map(|q| &q.body).collect();
    let contest = call(
        http.post(format!("{host}/api/contests"))
            .bearer_auth(&admin),
        json!({
            "course_id": course_id, "title": format!("load {run}"),
            "start_time": now - TimeDelta::seconds(1), "end_time": end_time,
            "grace_seconds": schedule.grace.as_secs(),
            "questions": bodies,
        }),
    )
    .await
    .map_err(|e| format!("creating the contest ({:?} questions): {e}", questions.mix))?;
    let ids: Vec<i64> = contest["questions"]
        .as_array()
        .ok_or("no questions in the created contest")?
        .iter()
        .map(|q| q["id"].as_i64().ok_or("a question without id"))
        .collect::<Result<_, _>>()?;
    Ok(Setup {
        contest_id: contest["id"].as_i64().ok_or("no contest id")?,
        usernames,
        password,
        plan: Plan::new(planned, &ids)?,
        admin_token: admin,
        // As the server took it.
        end_time: contest["end_time"]
            .as_str()
            .and_then(|t| t.parse().ok())
            .unwrap_or(end_time),
        contest,
        grace: schedule.grace,
    })
}
