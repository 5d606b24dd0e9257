//! `--burst`: the durable-submission rate end to end. Every student logs in first (not measured),
//! then all submit at once through one shared HTTP client with `concurrency` requests in flight.
//! Goose, with a client per simulated user, tops out well below the server here, so this mode
//! drives the requests itself and keeps only goose's way of reporting (count, rate, quantiles).

use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};
use hdrhistogram::Histogram;
use serde_json::{json, Value};

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

/// Every student logged in, and what each of them will submit where.
pub struct Ready {
    http: reqwest::Client,
    tokens: Vec<String>,
    url: String,
    body: Value,
}

/// Logs every student in (not measured) and reads the contest's questions for the answers.
pub async fn ready(host: &str, setup: &Setup, concurrency: usize) -> Result<Ready, Failed> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()?;
    let login_url = format!("{host}/api/auth/login");
    eprintln!("logging in {} students …", setup.usernames.len());
    let tokens: Vec<String> = stream::iter(&setup.usernames)
        .map(|username| {
            let body = json!({"username": username, "password": setup.password});
            let (http, url) = (&http, &login_url);
            async move {
                let (_, answer) = post(http, url, None, &body).await?;
                answer["token"].as_str().map(str::to_string)
            }
        })
        .buffer_unordered(concurrency)
        .filter_map(|token| async move { token })
        .collect()
        .await;
    let first = tokens.first().ok_or("no student could log in")?;
    let view: Value = http
        .get(format!("{host}/api/contests/{}", setup.contest_id))
        .bearer_auth(first)
        .send()
        .await?
        .json()
        .await?;
    let answers: Vec<Value> = view["questions"]
        .as_array()
        .ok_or("no questions in the contest view")?
        .iter()
        .map(|q| json!({"question_id": q["id"], "option": 0}))
        .collect();
    let body = json!({ "answers": answers });
    let url = format!("{host}/api/contests/{}/submissions", setup.contest_id);
    Ok(Ready {
        http,
        tokens,
        url,
        body,
    })
}

/// For `benches/load/submit.lua`: the tokens (one per line), the body and the URL, in `dir`.
pub fn write_for_wrk(ready: &Ready, dir: &std::path::Path) -> Result<(), Failed> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("tokens.txt"), ready.tokens.join("\n") + "\n")?;
    std::fs::write(dir.join("body.json"), serde_json::to_vec(&ready.body)?)?;
    std::fs::write(dir.join("url"), &ready.url)?;
    Ok(())
}

/// All the students submit at once, `concurrency` requests in flight.
pub async fn run(ready: &Ready, concurrency: usize) -> Result<BurstFigures, Failed> {
    let Ready {
        http,
        tokens,
        url,
        body,
    } = ready;
    eprintln!("{} students submit at once …", tokens.len());
    let started = Instant::now();
    let results: Vec<(Option<u16>, Duration, Duration)> = stream::iter(tokens)
        .map(|token| async move {
            let sent = Instant::now();
            let status = post(http, url, Some(token), body).await.map(|(s, _)| s);
            (status, sent - started, sent.elapsed())
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let seconds = started.elapsed().as_secs_f64();
    let mut latency = Histogram::new_with_bounds(1, 600_000_000, 3)?;
    let mut statuses = std::collections::BTreeMap::new();
    let mut samples = Vec::with_capacity(results.len());
    for (status, at, took) in &results {
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
