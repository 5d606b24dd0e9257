//! One student's day as a goose scenario, in order: log in, list contests, fetch the contest,
//! open the live timer, think (saving a draft 2–3 times on the way, each with more of the
//! answers), submit once, read the submission back, close the timer. The share of students who
//! never submit (`--never-submit`) only save drafts, which the server submits at the deadline.

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

use crate::check::Sent;
use crate::plan;
use crate::DAY;

#[derive(Clone)]
struct Session {
    token: String,
    username: String,
    questions: Vec<i64>,
    /// What the student will submit (or, if they never submit, their last draft), and the
    /// score it should earn.
    answers: Vec<Value>,
    expected: i64,
    /// Whether they submit by hand (or only save drafts).
    submits: bool,
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
    let index = user.weighted_users_index;
    let username = day.usernames[index % day.usernames.len()].clone();
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
            username,
            questions: Vec::new(),
            answers: Vec::new(),
            expected: 0,
            submits: !plan::never_submits(index, day.never_submit),
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

/// Reads the contest and chooses the student's answers to its questions (right, wrong or
/// partly right: `plan.rs`).
async fn view_contest(user: &mut GooseUser) -> TransactionResult {
    session(user)?;
    let day = day()?;
    let path = format!("/api/contests/{}", day.contest_id);
    let view = call(
        user,
        GooseMethod::Get,
        &path,
        "/api/contests/{id}",
        None,
        &[200],
    )
    .await?;
    let questions: Vec<i64> = view
        .body
        .as_ref()
        .and_then(|v| v["questions"].as_array())
        .map(|qs| qs.iter().filter_map(|q| q["id"].as_i64()).collect())
        .unwrap_or_default();
    let (answers, expected) = day
        .plan
        .answer(&questions, &mut rand::rng())
        .map_err(|e| Box::new(TransactionError::Custom(e)))?;
    if let Some(session) = user.get_session_data_mut::<Session>() {
        session.questions = questions;
        session.answers = answers;
        session.expected = expected;
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

/// Thinks until the moment to submit (a random think time, or a moment inside the submission
/// window), never later than a moment before the contest's end, saving 2–3 drafts on the way
/// at even steps, each with more of the answers: short of them all for a student who will
/// submit, all of them in the last draft of one who never does.
async fn think(user: &mut GooseUser) -> TransactionResult {
    let day = day()?;
    let started = Instant::now();
    let pause = match day.submit_window {
        // A moment inside the window, which opens when every student has arrived.
        Some((start, opens, length)) => {
            (start + opens + random_below(length)).saturating_duration_since(started)
        }
        None => random_below(day.think_max),
    }
    .min(day.act_by.saturating_duration_since(started));
    let (answers, submits) = {
        let s = session(user)?;
        (s.answers.clone(), s.submits)
    };
    let drafts: u32 = rand::rng().random_range(2..=3);
    let steps = if submits { drafts + 1 } else { drafts };
    for k in 1..=drafts {
        tokio::time::sleep_until((started + pause * k / steps).into()).await;
        let answers = plan::draft(&answers, k as usize, steps as usize).to_vec();
        save_draft(user, answers).await?;
    }
    tokio::time::sleep_until((started + pause).into()).await;
    Ok(())
}

/// `PUT …/draft` with `answers`, noted in the student's ledger.
async fn save_draft(user: &mut GooseUser, answers: Vec<Value>) -> TransactionResult {
    let day = day()?;
    let expected = day
        .plan
        .score(&answers)
        .map_err(|e| Box::new(TransactionError::Custom(e)))?;
    let path = format!("/api/contests/{}/draft", day.contest_id);
    let body = json!({ "answers": answers });
    let answer = call(
        user,
        GooseMethod::Put,
        &path,
        "/api/contests/{id}/draft",
        Some(body),
        &[200],
    )
    .await?;
    let username = session(user)?.username.clone();
    day.ledgers
        .lock()
        .entry(username)
        .or_default()
        .draft_save(Sent { answers, expected }, answer.status);
    Ok(())
}

/// Submits the answers chosen when the student read the contest (unless they never submit),
/// and notes the outcome in their ledger.
async fn submit(user: &mut GooseUser) -> TransactionResult {
    let day = day()?;
    let session = session(user)?;
    if !session.submits {
        return Ok(());
    }
    let sent = Sent {
        answers: session.answers.clone(),
        expected: session.expected,
    };
    let username = session.username.clone();
    let path = format!("/api/contests/{}/submissions", day.contest_id);
    let answer = call(
        user,
        GooseMethod::Post,
        &path,
        "/api/contests/{id}/submissions",
        Some(json!({ "answers": sent.answers })),
        &[201, 409],
    )
    .await?;
    day.ledgers
        .lock()
        .entry(username)
        .or_default()
        .submission(sent, answer.status);
    Ok(())
}

async fn my_submission(user: &mut GooseUser) -> TransactionResult {
    if !session(user)?.submits {
        return Ok(());
    }
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
