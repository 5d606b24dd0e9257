//! `--burst`: the durable-submission rate end to end. Every student logs in first (not measured),
//! then all submit at once through one shared HTTP client with `concurrency` requests in flight.
//! Goose, with a client per simulated user, tops out well below the server here, so this mode
//! drives the requests itself and keeps only goose's way of reporting (count, rate, quantiles).
//! Each student's answers come from the contest's plan (`plan.rs`), so the final check knows
//! what each acknowledged submission should score.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};
use hdrhistogram::Histogram;
use serde_json::{json, Value};

use crate::check::{Ledger, Sent};
use crate::plot::Sample;
use crate::setup::Setup;
use crate::Failed;

pub struct BurstFigures {
    pub submissions: usize,
    pub seconds: f64,
    pub statuses: std::collections::BTreeMap<u16, usize>,
    pub latency: Histogram<u64>,
    /// Every submission, for `--plot`.
    pub samples: Vec<Sample>,
    /// What each student's submission established, for the final check.
    pub ledgers: HashMap<String, Ledger>,
}

async fn post(
    http: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    body: &Value,
) -> Option<(u16, Value)> {
    let mut request = http.post(url).json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.ok()?;
    let status = response.status().as_u16();
    Some((status, response.json().await.unwrap_or(Value::Null)))
}

/// One logged-in student and what they will submit.
struct Student {
    username: String,
    token: String,
    body: Value,
    /// The answers in `body` and the score they should earn.
    sent: Sent,
}

/// Every student logged in, and what each of them will submit where.
pub struct Ready {
    http: reqwest::Client,
    students: Vec<Student>,
    url: String,
}

/// Logs every student in (not measured) and reads the contest's questions for the answers.
pub async fn ready(host: &str, setup: &Setup, concurrency: usize) -> Result<Ready, Failed> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()?;
    let login_url = format!("{host}/api/auth/login");
    eprintln!("logging in {} students …", setup.usernames.len());
    let tokens: Vec<(&String, String)> = stream::iter(&setup.usernames)
        .map(|username| {
            let body = json!({"username": username, "password": setup.password});
            let (http, url) = (&http, &login_url);
            async move {
                let (_, answer) = post(http, url, None, &body).await?;
                Some((username, answer["token"].as_str()?.to_string()))
            }
        })
        .buffer_unordered(concurrency)
        .filter_map(|token| async move { token })
        .collect()
        .await;
    let (_, first) = tokens.first().ok_or("no student could log in")?;
    let view: Value = http
        .get(format!("{host}/api/contests/{}", setup.contest_id))
        .bearer_auth(first)
        .send()
        .await?
        .json()
        .await?;
    let ids: Vec<i64> = view["questions"]
        .as_array()
        .ok_or("no questions in the contest view")?
        .iter()
        .map(|q| q["id"].as_i64().ok_or("a question without id"))
        .collect::<Result<_, _>>()?;
    let mut rng = rand::rng();
    let students = tokens
        .into_iter()
        .map(|(username, token)| {
            let (answers, expected) = setup.plan.answer(&ids, &mut rng)?;
            Ok(Student {
                username: username.clone(),
                token,
                body: json!({ "answers": answers }),
                sent: Sent { answers, expected },
            })
        })
        .collect::<Result<_, String>>()?;
    let url = format!("{host}/api/contests/{}/submissions", setup.contest_id);
    Ok(Ready {
        http,
        students,
        url,
    })
}

/// For `benches/load/submit.lua`: the tokens (one per line), the body and the URL, in `dir`.
/// wrk sends one body for everyone: the first student's.
pub fn write_for_wrk(ready: &Ready, dir: &std::path::Path) -> Result<(), Failed> {
    std::fs::create_dir_all(dir)?;
    let tokens: Vec<&str> = ready.students.iter().map(|s| s.token.as_str()).collect();
    let body = &ready.students.first().ok_or("no student")?.body;
    std::fs::write(dir.join("tokens.txt"), tokens.join("\n") + "\n")?;
    std::fs::write(dir.join("body.json"), serde_json::to_vec(body)?)?;
    std::fs::write(dir.join("url"), &ready.url)?;
    Ok(())
}

/// All the students submit at once, `concurrency` requests in flight.
pub async fn run(ready: &Ready, concurrency: usize) -> Result<BurstFigures, Failed> {
    let Ready {
        http,
        students,
        url,
    } = ready;
    eprintln!("{} students submit at once …", students.len());
    let started = Instant::now();
    let results: Vec<(&Student, Option<u16>, Duration, Duration)> = stream::iter(students)
        .map(|student| async move {
            let sent = Instant::now();
            let status = post(http, url, Some(&student.token), &student.body)
                .await
                .map(|(s, _)| s);
            (student, status, sent - started, sent.elapsed())
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let seconds = started.elapsed().as_secs_f64();
    let mut latency = Histogram::new_with_bounds(1, 600_000_000, 3)?;
    let mut statuses = std::collections::BTreeMap::new();
    let mut samples = Vec::with_capacity(results.len());
    let mut ledgers: HashMap<String, Ledger> = HashMap::new();
    for (student, status, at, took) in &results {
        ledgers
            .entry(student.username.clone())
            .or_default()
            .submission(student.sent.clone(), *status);
        *statuses.entry(status.unwrap_or(0)).or_insert(0) += 1;
        latency.saturating_record((took.as_micros() as u64).max(1));
        samples.push(Sample {
            operation: "submit".into(),
            at_ms: at.as_millis() as u64,
            took_us: took.as_micros() as u64,
        });
    }
    Ok(BurstFigures {
        submissions: results.len(),
        seconds,
        statuses,
        latency,
        samples,
        ledgers,
    })
}

impl BurstFigures {
    pub fn table(&self) -> String {
        let ms = |q: f64| self.latency.value_at_quantile(q) as f64 / 1000.0;
        let statuses: Vec<String> = self
            .statuses
            .iter()
            .map(|(s, n)| format!("{s}×{n}"))
            .collect();
        format!(
            "| submissions | seconds | per s | p50 ms | p90 | p99 | p99.9 | max | statuses |\n\
             |---|---|---|---|---|---|---|---|---|\n\
             | {} | {:.2} | {:.0} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {} |",
            self.submissions,
            self.seconds,
            self.submissions as f64 / self.seconds.max(1e-9),
            ms(0.5),
            ms(0.9),
            ms(0.99),
            ms(0.999),
            self.latency.max() as f64 / 1000.0,
            statuses.join(" ")
        )
    }
}
