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

use crate::check::{self, Sent};
use crate::plan;
use crate::retry;
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
    call_keyed(user, method, path, name, body, ok, None).await
}

/// `call`, retried like a careful client (`retry.rs`) while it gets no answer or a `502`,
/// `503` or `504`, every attempt with the same `Idempotency-Key` when one is given. Goose
/// records every attempt (a retried one as a failure with its status, 0 for no answer).
async fn call_keyed(
    user: &mut GooseUser,
    method: GooseMethod,
    path: &str,
    name: &str,
    body: Option<Value>,
    ok: &[u16],
    key: Option<&str>,
) -> Result<Answer, Box<TransactionError>> {
    let first = Instant::now();
    let mut failed = Vec::new();
    let mut attempt = 0;
    loop {
        let mut builder = user.get_request_builder(&method, path)?;
        if let Some(session) = user.get_session_data::<Session>() {
            builder = builder.bearer_auth(&session.token);
        }
        if let Some(key) = key {
            builder = builder.header("Idempotency-Key", key);
        }
        if let Some(body) = &body {
            builder = builder.json(body);
        }
        let request = GooseRequest::builder()
            .method(method)
            .path(path)
            .name(name)
            .expect_status_code(ok[0])
            .set_request_builder(builder)
            .build();
        let mut answer = user.request(request).await?;
        let (status, retry_after) = match &answer.response {
            Ok(response) => (
                Some(response.status().as_u16()),
                response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok()?.trim().parse().ok()),
            ),
            Err(_) => (None, None),
        };
        if retry::retryable(status) {
            failed.push(status);
            attempt += 1;
            let figures = &day()?.retries;
            if attempt < retry::ATTEMPTS {
                figures.retried(status);
                tokio::time::sleep(retry::backoff(attempt - 1, retry_after)).await;
                continue;
            }
            figures.gave_up();
            return Ok(Answer {
                status,
                body: None,
                failed,
                gave_up: true,
            });
        }
        if !failed.is_empty() {
            day()?.retries.recovered(first.elapsed());
        }
        if status != Some(ok[0]) && status.is_some_and(|s| ok.contains(&s)) {
            // An expected refusal (a second submission's 409) is not an error of the run.
            user.set_success(&mut answer.request)?;
        }
        let body = match answer.response {
            Ok(response) => response.json::<Value>().await.ok(),
            Err(_) => None,
        };
        return Ok(Answer {
            status,
            body,
            failed,
            gave_up: false,
        });
    }
}

/// A request's answer: its status (none when no answer came) and its JSON body, with the
/// statuses of the attempts that were retried before it (`None`: no answer).
#[derive(Default)]
struct Answer {
    status: Option<u16>,
    body: Option<Value>,
    failed: Vec<Option<u16>>,
    /// Every attempt failed: `status` is the last one's.
    gave_up: bool,
}

impl Answer {
    /// The status the ledger takes: `None` (the outcome is unknown) when the client gave up,
    /// even on a `503`, since an earlier attempt (or one the proxy repeated unseen) may have
    /// been applied.
    fn outcome(&self) -> Option<u16> {
        if self.gave_up {
            None
        } else {
            self.status
        }
    }
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

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens the live timer, retried like a request (`retry.rs`) when the connection fails or the
/// upgrade is answered `502`–`504`.
async fn connect_timer(url: &str) -> Result<Socket, String> {
    use tokio_tungstenite::tungstenite::Error;
    let mut attempt = 0;
    loop {
        let (status, retry_after, error) = match tokio_tungstenite::connect_async(url).await {
            Ok((socket, _)) => return Ok(socket),
            Err(Error::Http(response)) => (
                Some(response.status().as_u16()),
                response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok()?.trim().parse().ok()),
                format!("HTTP {}", response.status()),
            ),
            Err(e) => (None, None, e.to_string()),
        };
        attempt += 1;
        if !retry::retryable(status) || attempt >= retry::ATTEMPTS {
            return Err(error);
        }
        if let Some(day) = DAY.get() {
            day.retries.retried(status);
        }
        tokio::time::sleep(retry::backoff(attempt - 1, retry_after)).await;
    }
}

/// Reads the timer's frames until the socket ends; whether it was lost (broken, or closed
/// `1001` by a node going away) rather than closed on purpose by the server.
async fn read_frames(socket: &mut Socket, day: &crate::Day, mut first: impl FnMut()) -> bool {
    use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
    loop {
        match socket.next().await {
            Some(Ok(Message::Text(text))) => {
                first();
                let sent = serde_json::from_str::<Value>(&text)
                    .ok()
                    .and_then(|v| v["server_time"].as_str()?.parse::<DateTime<Utc>>().ok());
                if let Some(sent) = sent {
                    day.frames.record(sent);
                }
            }
            Some(Ok(Message::Close(frame))) => {
                return frame.is_none_or(|f| f.code == CloseCode::Away);
            }
            Some(Ok(_)) => {}
            Some(Err(_)) | None => return true,
        }
    }
}

/// How many times one student's timer is opened again before it counts as failed.
const MOST_TIMER_REOPENS: usize = 20;

/// Opens the live timer and reads it until the student closes it; a socket lost on the way
/// (its node killed or draining) is opened again, as a page would.
async fn open_timer(user: &mut GooseUser) -> TransactionResult {
    let day = day()?;
    let token = session(user)?.token.clone();
    let url = format!(
        "{}/ws/contests/{}?token={token}",
        day.ws_base, day.contest_id
    );
    let mut socket = match connect_timer(&url).await {
        Ok(socket) => socket,
        Err(e) => {
            day.frames.failed.fetch_add(1, Ordering::Relaxed);
            return Err(Box::new(TransactionError::Custom(format!(
                "WebSocket: {e}"
            ))));
        }
    };
    let reader = tokio::spawn(async move {
        let mut lost_at: Option<Instant> = None;
        // Bounded, so a node that keeps closing sockets cannot keep a student busy forever.
        for reopened in 0..=MOST_TIMER_REOPENS {
            let lost = read_frames(&mut socket, day, || {
                if let Some(at) = lost_at.take() {
                    day.retries.timer_reconnected(at.elapsed());
                }
            })
            .await;
            if !lost {
                return;
            }
            if reopened == MOST_TIMER_REOPENS {
                break;
            }
            lost_at.get_or_insert_with(Instant::now);
            match connect_timer(&url).await {
                Ok(again) => socket = again,
                Err(_) => break,
            }
        }
        day.frames.failed.fetch_add(1, Ordering::Relaxed);
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
    let sent = Sent { answers, expected };
    let mut ledgers = day.ledgers.lock();
    let ledger = ledgers.entry(username).or_default();
    // Attempts that broke off may have been saved (an upsert of the same answers).
    for status in &answer.failed {
        ledger.draft_save(sent.clone(), *status);
    }
    ledger.draft_save(sent, answer.outcome());
    Ok(())
}

/// Submits the answers chosen when the student read the contest (unless they never submit),
/// with an `Idempotency-Key` kept across retries, and notes the outcome in their ledger.
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
    let key = retry::new_key();
    let answer = call_keyed(
        user,
        GooseMethod::Post,
        &path,
        "/api/contests/{id}/submissions",
        Some(json!({ "answers": sent.answers })),
        &[201, 409],
        Some(&key),
    )
    .await?;
    let mut outcome = answer.outcome();
    let maybe_committed = answer.failed.iter().any(|s| check::unsure(*s));
    let code = answer
        .body
        .as_ref()
        .and_then(|b| b["error"]["code"].as_str());
    if outcome == Some(409) && code == Some("already_submitted") && maybe_committed {
        // An attempt that broke off may have committed, and the answer to its repeat came
        // from somewhere that could not tell it was ours: what is stored says.
        let path = format!("/api/contests/{}/my-submission", day.contest_id);
        let mine = call(
            user,
            GooseMethod::Get,
            &path,
            "/api/contests/{id}/my-submission",
            None,
            &[200],
        )
        .await?;
        let stored = mine.body.as_ref().map(|b| &b["answers"]);
        if mine.status == Some(200) && stored.is_some_and(|a| check::same_answers(&sent.answers, a))
        {
            day.retries.confirmed_409();
            outcome = Some(201);
        }
    }
    let mut ledgers = day.ledgers.lock();
    let ledger = ledgers.entry(username).or_default();
    for status in &answer.failed {
        ledger.submission(sent.clone(), *status);
    }
    ledger.submission(sent, outcome);
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
