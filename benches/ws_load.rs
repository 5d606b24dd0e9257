//! WebSocket load: N students of one contest hold a live timer each. For every N it starts a
//! fresh `contestd` (the built binary, temporary SQLite, cheap password hashing so setup is
//! quick), creates and enrolls the students, logs them in, opens their sockets, then measures
//! for `--seconds`: the delay between a frame's `server_time` and its arrival, the gap between
//! consecutive frames on each socket (a late tick is also stamped late, so only the gap shows
//! it), frames missed, connection failures, and the server's resident memory (from /proc).
//!
//!   cargo bench --bench ws_load -- --clients 1000,5000,10000 --seconds 20
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use clap::Parser;
use futures::stream::{self, StreamExt};
use hdrhistogram::Histogram;
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

#[derive(Parser)]
struct Args {
    /// Comma-separated socket counts, one fresh server each.
    #[arg(long, default_value = "1000", value_delimiter = ',')]
    clients: Vec<usize>,
    /// Seconds measured once every socket is open.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Sockets opened at once while connecting.
    #[arg(long, default_value_t = 256)]
    concurrency: usize,
    /// Passed by `cargo bench`.
    #[arg(long, hide = true)]
    bench: bool,
}

const TICK: Duration = Duration::from_secs(1);

struct Server {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// CPU seconds (user + system) a process has used, from /proc.
fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<f64>().ok())
        .sum();
    ticks / 100.0 // USER_HZ
}

impl Server {
    fn cpu_seconds(&self) -> f64 {
        cpu_seconds(&self.child.id().to_string())
    }

    fn rss_mb(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    }
}

async fn start_server() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(env!("CARGO_BIN_EXE_contestd"))
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .args([
            "--database-url",
            &format!("sqlite://{}/load.db", dir.path().display()),
        ])
        .args([
            "--admin-password",
            "load-admin-pass",
            "--argon2-memory-kib",
            "64",
            "--argon2-iterations",
            "1",
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while http.get(format!("{base}/health")).send().await.is_err() {
        assert!(Instant::now() < deadline, "server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Server {
        child,
        base,
        _dir: dir,
    }
}

async fn call(req: reqwest::RequestBuilder, body: Value) -> Value {
    let response = req.json(&body).send().await.unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{status}: {body}");
    body
}

/// Creates N enrolled students and an open contest; returns (contest id, student tokens).
async fn setup(base: &str, n: usize, concurrency: usize) -> (i64, Vec<String>) {
    let http = reqwest::Client::new();
    let login = |username: String, password: &'static str| {
        let http = http.clone();
        let url = format!("{base}/api/auth/login");
        async move {
            let body = call(
                http.post(url),
                json!({"username": username, "password": password}),
            )
            .await;
            body["token"].as_str().unwrap().to_string()
        }
    };
    let admin = login("admin".into(), "load-admin-pass").await;
    let users: Vec<Value> = (0..n)
        .map(|i| json!({"username": format!("load{i:05}"), "password": "load-student-pass", "role": "student"}))
        .collect();
    let created = call(
        http.post(format!("{base}/api/users/bulk"))
            .bearer_auth(&admin),
        json!({ "users": users }),
    )
    .await;
    let ids: Vec<i64> = created["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_i64().unwrap())
        .collect();
    let course = call(
        http.post(format!("{base}/api/courses")).bearer_auth(&admin),
        json!({"code": "LOAD", "title": "load"}),
    )
    .await;
    let course_id = course["id"].as_i64().unwrap();
    call(
        http.put(format!("{base}/api/courses/{course_id}/enrollments"))
            .bearer_auth(&admin),
        json!({ "student_ids": ids }),
    )
    .await;
    let now = Utc::now();
    let contest = call(
        http.post(format!("{base}/api/contests"))
            .bearer_auth(&admin),
        json!({
            "course_id": course_id, "title": "load",
            "start_time": now - TimeDelta::minutes(1), "end_time": now + TimeDelta::hours(1),
            "questions": [{"prompt": "p", "options": ["a", "b"], "correct_option": 0}],
        }),
    )
    .await;
    let tokens = stream::iter((0..n).map(|i| login(format!("load{i:05}"), "load-student-pass")))
        .buffered(concurrency)
        .collect()
        .await;
    (contest["id"].as_i64().unwrap(), tokens)
}

/// One frame's figures: delay after `server_time`, and gap since the socket's previous frame.
struct Sample {
    delay_us: u64,
    gap_us: Option<u64>,
}

async fn run(n: usize, seconds: u64, concurrency: usize) -> String {
    let server = start_server().await;
    let (contest, tokens) = setup(&server.base, n, concurrency).await;
    let ws_base = server.base.replacen("http", "ws", 1);
    let (tx, mut rx) = mpsc::unbounded_channel::<Sample>();
    let failures = Arc::new(AtomicUsize::new(0));
    let measuring = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let connected = stream::iter(tokens.into_iter().map(|token| {
        let url = format!("{ws_base}/ws/contests/{contest}?token={token}");
        let failures = failures.clone();
        async move {
            match tokio_tungstenite::connect_async(url).await {
                Ok((socket, _)) => Some(socket),
                Err(_) => {
                    failures.fetch_add(1, Ordering::Relaxed);
                    None
                }
            }
        }
    }))
    .buffer_unordered(concurrency)
    .filter_map(|s| async move { s })
    .collect::<Vec<_>>()
    .await;
    let open = connected.len();
    for mut socket in connected {
        let tx = tx.clone();
        let measuring = measuring.clone();
        tokio::spawn(async move {
            let mut last: Option<Instant> = None;
            while let Some(Ok(message)) = socket.next().await {
                let Message::Text(text) = message else {
                    continue;
                };
                let arrived = Utc::now();
                let now = Instant::now();
                let Ok(frame) = serde_json::from_str::<Value>(&text) else {
                    continue;
                };
                let gap = last.map(|l| (now - l).as_micros() as u64);
                last = Some(now);
                if !measuring.load(Ordering::Relaxed) {
                    continue;
                }
                let sent: Option<DateTime<Utc>> =
                    frame["server_time"].as_str().and_then(|t| t.parse().ok());
                let delay_us = sent.map_or(0, |s| {
                    (arrived - s).num_microseconds().unwrap_or(0).max(0) as u64
                });
                let _ = tx.send(Sample {
                    delay_us,
                    gap_us: gap,
                });
            }
        });
    }
    drop(tx);
    measuring.store(true, Ordering::Relaxed);
    let (server_cpu, own_cpu) = (server.cpu_seconds(), cpu_seconds("self"));
    let mut delay = Histogram::<u64>::new(3).unwrap();
    let mut gap = Histogram::<u64>::new(3).unwrap();
    let mut frames = 0u64;
    let mut missed = 0u64;
    let until = tokio::time::Instant::now() + Duration::from_secs(seconds);
    while let Ok(Some(sample)) = tokio::time::timeout_at(until, rx.recv()).await {
        frames += 1;
        delay.record(sample.delay_us.max(1)).unwrap();
        if let Some(g) = sample.gap_us {
            gap.record(g.max(1)).unwrap();
            let ticks = (g as f64 / TICK.as_micros() as f64).round() as u64;
            missed += ticks.saturating_sub(1);
        }
    }
    let rss = server.rss_mb();
    let server_cpu = (server.cpu_seconds() - server_cpu) / seconds as f64 * 100.0;
    let own_cpu = (cpu_seconds("self") - own_cpu) / seconds as f64 * 100.0;
    let ms = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    format!(
        "| {n} | {open} | {} | {frames} | {:.1} | {:.1} | {:.1} | {:.0} | {:.0} | {:.0} | {missed} | {rss:.0} | {server_cpu:.0}% | {own_cpu:.0}% |",
        failures.load(Ordering::Relaxed),
        ms(&delay, 0.5),
        ms(&delay, 0.99),
        delay.max() as f64 / 1000.0,
        ms(&gap, 0.5),
        ms(&gap, 0.99),
        gap.max() as f64 / 1000.0,
    )
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let mut rows = Vec::new();
    for &n in &args.clients {
        rows.push(run(n, args.seconds, args.concurrency).await);
        eprintln!("{}", rows.last().unwrap());
    }
    println!("| sockets | open | failed | frames | delay p50 ms | p99 | max | gap p50 ms | p99 | max | missed | server RSS MB | server CPU | load tool CPU |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for row in rows {
        println!("{row}");
    }
}
