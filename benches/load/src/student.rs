//! One student's day as a goose scenario, in order: log in, list contests, fetch the contest,
//! open the live timer, think, submit once, read the submission back, close the timer.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use goose::prelude::*;
use hdrhistogram::Histogram;
use parking_lot::Mutex;
use rand::Rng;
use serde::Serialize;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::DAY;

#[derive(Clone)]
struct Session {
    token: String,
    questions: Vec<i64>,
    /// The task reading the timer's frames (shared only because goose wants `Clone`).
    timer: Option<Arc<tokio::task::JoinHandle<()>>>,
}

/// The live timer's frames as the students saw them.
pub struct FrameFigures {
    /// Delay from a frame's `server_time` to its arrival, in µs.
    delays: Mutex<Option<Histogram<u64>>>,
    frames: AtomicU64,
    failed: AtomicU64,
}

impl Default for FrameFigures {
    fn default() -> Self {
        FrameFigures {
            delays: Mutex::new(Histogram::new_with_bounds(1, 600_000_000, 3).ok()),
            frames: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct FrameSummary {
    pub frames: u64,
    pub failed_sockets: u64,
    pub delay_p50_ms: f64,
    pub delay_p99_ms: f64,
    pub delay_max_ms: f64,
}

impl FrameFigures {
    fn record(&self, server_time: DateTime<Utc>) {
        let delay = (Utc::now() - server_time).num_microseconds().unwrap_or(0);
        self.frames.fetch_add(1, Ordering::Relaxed);
        if let Some(h) = self.delays.lock().as_mut() {
            h.saturating_record(delay.max(1) as u64);
        }
    }

    pub fn summary(&self) -> FrameSummary {
        let delays = self.delays.lock();
        let ms = |q: f64| {
            delays
                .as_ref()
                .map_or(0.0, |h| h.value_at_quantile(q) as f64 / 1000.0)
        };
        FrameSummary {
            frames: self.frames.load(Ordering::Relaxed),
            failed_sockets: self.failed.load(Ordering::Relaxed),
            delay_p50_ms: ms(0.5),
            delay_p99_ms: ms(0.99),
            delay_max_ms: delays.as_ref().map_or(0.0, |h| h.max() as f64 / 1000.0),
        }
    }
}

pub fn scenario() -> Result<Scenario, GooseError> {
    let steps = [
        transaction!(login).set_name("login"),
        transaction!(list_contests).set_name("list contests"),
        transaction!(view_contest).set_name("view contest"),
        transaction!(open_timer).set_name("open timer"),
        transaction!(think).set_name("think"),
        transaction!(submit).set_name("submit"),
        transaction!(my_submission).set_name("my submission"),
        transaction!(close_timer).set_name("close timer"),
    ];
    Ok(steps
        .into_iter()
        .enumerate()
        .fold(scenario!("student"), |s, (i, step)| {
            s.register_transaction(step.set_sequence(i + 1))
        }))
}

fn day() -> Result<&'static crate::Day, Box<TransactionError>> {
    DAY.get()
        .ok_or_else(|| Box::new(TransactionError::Custom("the day is not set up".into())))
}

fn session(user: &GooseUser) -> Result<&Session, Box<TransactionError>> {
    user.get_session_data::<Session>()
        .ok_or_else(|| Box::new(TransactionError::Custom("not logged in".into())))
}

/// One request, named by its route template; `ok` lists statuses that count as success.
async fn call(
    user: &mut GooseUser,
    method: GooseMethod,
    path: &str,
    name: &str,
    body: Option<Value>,
    ok: &[u16],
) -> Result<Answer, Box<TransactionError>> {
    let mut builder = user.get_request_builder(&method, path)?;
    if let Some(session) = user.get_session_data::<Session>() {
        builder = builder.bearer_auth(&session.token);
    }
    if let Some(body) = body {
        builder = builder.json(&body);
    }
    let request = GooseRequest::builder()
        .method(method)
        .path(path)
        .name(name)
        .expect_status_code(ok[0])
        .set_request_builder(builder)
        .build();
    let mut answer = user.request(request).await?;
    let Ok(response) = answer.response else {
        return Ok(Answer::default());
    };
    let status = response.status().as_u16();
    if status != ok[0] && ok.contains(&status) {
        // An expected refusal (a second submission's 409) is not an error of the run.
        user.set_success(&mut answer.request)?;
    }
    Ok(Answer {
        status: Some(status),
        body: response.json::<Value>().await.ok(),
    })
}

/// A request's answer: its status (none when no answer came) and its JSON body.
#[derive(Default)]
struct Answer {
    status: Option<u16>,
    body: Option<Value>,
}

/// Idle connections are dropped before the server's 5 s keep-alive ends, so a request never
/// goes out on a connection the server is closing (a think time is often about that long).
const POOL_IDLE: Duration = Duration::from_secs(3);

async fn login(user: &mut GooseUser) -> TransactionResult {
    let day = day()?;
    user.set_client_builder(
        reqwest::Client::builder()
            .pool_idle_timeout(POOL_IDLE)
            .timeout(Duration::from_secs(120)),
    )
    .await?;
    let username = &day.usernames[user.weighted_users_index % day.usernames.len()];
    let body = json!({"username": username, "password": day.password});
    let answer = call(
        user,
        GooseMethod::Post,
        "/api/auth/login",
        "/api/auth/login",
        Some(body),
        &[200],
    )
    .await?;
    if let Some(token) = answer.body.as_ref().and_then(|a| a["token"].as_str()) {
        user.set_session_data(Session {
            token: token.to_string(),
            questions: Vec::new(),
            timer: None,
        });
    }
    Ok(())
}

async fn list_contests(user: &mut GooseUser) -> TransactionResult {
    session(user)?;
    call(
        user,
        GooseMethod::Get,
        "/api/contests",
        "/api/contests",
        None,
        &[200],
    )
    .await?;
    Ok(())
}

async fn view_contest(user: &mut GooseUser) -> TransactionResult {
    session(user)?;
    let path = format!("/api/contests/{}", day()?.contest_id);
    let view = call(
        user,
        GooseMethod::Get,
        &path,
        "/api/contests/{id}",
        None,
        &[200],
    )
    .await?;
    let questions = view
        .body
        .as_ref()
        .and_then(|v| v["questions"].as_array())
        .map(|qs| qs.iter().filter_map(|q| q["id"].as_i64()).collect())
        .unwrap_or_default();
    if let Some(session) = user.get_session_data_mut::<Session>() {
        session.questions = questions;
    }
    Ok(())
}

async fn open_timer(user: &mut GooseUser) -> TransactionResult {
    let day = day()?;
    let token = session(user)?.token.clone();
    let url = format!(
        "{}/ws/contests/{}?token={token}",
        day.ws_base, day.contest_id
    );
    let (mut socket, _) = match tokio_tungstenite::connect_async(url.as_str()).await {
        Ok(connected) => connected,
        Err(e) => {
            day.frames.failed.fetch_add(1, Ordering::Relaxed);
            return Err(Box::new(TransactionError::Custom(format!(
                "WebSocket: {e}"
            ))));
        }
    };
    let reader = tokio::spawn(async move {
        while let Some(Ok(message)) = socket.next().await {
            if let Message::Text(text) = message {
                let sent = serde_json::from_str::<Value>(&text)
                    .ok()
                    .and_then(|v| v["server_time"].as_str()?.parse::<DateTime<Utc>>().ok());
                if let Some(sent) = sent {
                    day.frames.record(sent);
                }
            }
        }
    });
    if let Some(session) = user.get_session_data_mut::<Session>() {
        session.timer = Some(Arc::new(reader));
    }
    Ok(())
}

fn random_below(most: Duration) -> Duration {
    let ms = most.as_millis() as u64;
    Duration::from_millis(if ms == 0 {
        0
    } else {
        rand::rng().random_range(0..ms)
    })
}

async fn think(_: &mut GooseUser) -> TransactionResult {
    let day = day()?;
    let pause = match day.submit_window {
        // A moment inside the window, which opens when every student has arrived.
        Some((start, opens, length)) => {
            (start + opens + random_below(length)).saturating_duration_since(Instant::now())
        }
        None => random_below(day.think_max),
    };
    tokio::time::sleep(pause).await;
    Ok(())
}

/// Answers every question of the student's view with an answer of its type's shape (right,
/// wrong or partly right: `plan.rs`), and notes the score it should earn once it is acknowledged.
async fn submit(user: &mut GooseUser) -> TransactionResult {
    let day = day()?;
    let (answers, expected) = day
        .plan
        .answer(&session(user)?.questions, &mut rand::rng())
        .map_err(|e| Box::new(TransactionError::Custom(e)))?;
    let path = format!("/api/contests/{}/submissions", day.contest_id);
    let answer = call(
        user,
        GooseMethod::Post,
        &path,
        "/api/contests/{id}/submissions",
        Some(json!({ "answers": answers })),
        &[201, 409],
    )
    .await?;
    if answer.status == Some(201) {
        let username = &day.usernames[user.weighted_users_index % day.usernames.len()];
        day.acked.lock().insert(username.clone(), expected);
    }
    Ok(())
}

async fn my_submission(user: &mut GooseUser) -> TransactionResult {
    session(user)?;
    let path = format!("/api/contests/{}/my-submission", day()?.contest_id);
    call(
        user,
        GooseMethod::Get,
        &path,
        "/api/contests/{id}/my-submission",
        None,
        &[200],
    )
    .await?;
    Ok(())
}

async fn close_timer(user: &mut GooseUser) -> TransactionResult {
    if let Some(timer) = user
        .get_session_data_mut::<Session>()
        .and_then(|s| s.timer.take())
    {
        timer.abort();
    }
    Ok(())
}

/// The ceiling: the cheapest route the server has.
pub async fn health(user: &mut GooseUser) -> TransactionResult {
    user.get("/health").await?;
    Ok(())
}
