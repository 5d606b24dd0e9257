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
    /// The server's `--ws-tick-ms`.
    #[arg(long, default_value_t = 1000)]
    tick_ms: u64,
    /// The server binary to measure (default: this build's `contestd`), e.g. an older build.
    #[arg(long)]
    server_bin: Option<String>,
    /// Gives the contest this `duration_minutes` and has every student open it before the
    /// sockets connect: every socket is then on a personal window, with frames of its own.
    #[arg(long)]
    duration_minutes: Option<u32>,
    /// Passed by `cargo bench`.
    #[arg(long, hide = true)]
    bench: bool,
}

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

async fn start_server(bin: &str, tick_ms: u64) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(bin)
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
        .args(["--ws-tick-ms", &tick_ms.to_string()])
        // Every student logs in from this one address: lift the per-address login quota.
        .args(["--login-per-minute", "1000000"])
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
async fn setup(
    base: &str,
    n: usize,
    concurrency: usize,
    duration_minutes: Option<u32>,
) -> (i64, Vec<String>) {
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
            "duration_minutes": duration_minutes,
            "questions": [{"prompt": "p", "options": ["a", "b"], "correct_option": 0}],
        }),
    )
    .await;
    let contest_id = contest["id"].as_i64().unwrap();
    let tokens: Vec<String> =
        stream::iter((0..n).map(|i| login(format!("load{i:05}"), "load-student-pass")))
            .buffered(concurrency)
            .collect()
            .await;
    if duration_minutes.is_some() {
        // Each student's first open starts their own window.
        let opened = stream::iter(tokens.iter().map(|token| {
            let req = http
                .get(format!("{base}/api/contests/{contest_id}"))
                .bearer_auth(token);
            async move {
                let body: Value = req.send().await.unwrap().json().await.unwrap();
                assert!(body["my_window"]["started_at"].is_string(), "{body}");
            }
        }))
        .buffer_unordered(concurrency)
        .count()
        .await;
        assert_eq!(opened, n);
    }
    (contest_id, tokens)
}

/// One frame's figures: delay after `server_time`, and gap since the socket's previous frame.
struct Sample {
    socket: usize,
    /// The frame's `server_time` (ms), naming its tick, and when it arrived.
    tick_ms: i64,
    at: Instant,
    delay_us: u64,
    gap_us: Option<u64>,
}

async fn run(args: &Args, n: usize) -> String {
    let (seconds, concurrency, tick_ms) = (args.seconds, args.concurrency, args.tick_ms);
    let bin = args
        .server_bin
        .as_deref()
        .unwrap_or(env!("CARGO_BIN_EXE_contestd"));
    let server = start_server(bin, tick_ms).await;
    let (contest, tokens) = setup(&server.base, n, concurrency, args.duration_minutes).await;
    let (tx, mut rx) = mpsc::unbounded_channel::<Sample>();
    let failures = Arc::new(AtomicUsize::new(0));
    // Sockets the server closed (or that broke) once open: each is a failure too.
    let closed = Arc::new(AtomicUsize::new(0));
    let measuring = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let address = server.base.trim_start_matches("http://").to_string();
    // Each socket is read from the moment it opens: a socket left unread while the others
    // connect would hold a backlog of old frames, and its first "delays" would be whole ticks.
    let opened = stream::iter(tokens.into_iter().enumerate().map(|(index, token)| {
        let path = format!("/ws/contests/{contest}?token={token}");
        let failures = failures.clone();
        let address = address.clone();
        let tx = tx.clone();
        let measuring = measuring.clone();
        let closed = closed.clone();
        async move {
            let Ok(socket) = raw::connect(&address, &path).await else {
                failures.fetch_add(1, Ordering::Relaxed);
                return false;
            };
            tokio::spawn(async move {
                let mut last: Option<Instant> = None;
                let mut frames = raw::Frames::new(socket);
                while let Some(text) = frames.next_text().await {
                    let arrived = Utc::now();
                    let now = Instant::now();
                    let gap = last.map(|l| (now - l).as_micros() as u64);
                    last = Some(now);
                    if !measuring.load(Ordering::Relaxed) {
                        continue;
                    }
                    // Only `server_time` is needed: find it rather than parse the whole frame.
                    let sent: Option<DateTime<Utc>> = text
                        .split_once("\"server_time\":\"")
                        .and_then(|(_, rest)| rest.split_once('"'))
                        .and_then(|(t, _)| t.parse().ok());
                    let delay_us = sent.map_or(0, |s| {
                        (arrived - s).num_microseconds().unwrap_or(0).max(0) as u64
                    });
                    let _ = tx.send(Sample {
                        socket: index,
                        tick_ms: sent.map_or(0, |s| s.timestamp_millis()),
                        at: now,
                        delay_us,
                        gap_us: gap,
                    });
                }
                closed.fetch_add(1, Ordering::Relaxed);
            });
            true
        }
    }))
    .buffer_unordered(concurrency)
    .filter(|&ok| async move { ok })
    .count()
    .await;
    let open = opened;
    drop(tx);
    // One tick to settle after the last connection, then measure.
    tokio::time::sleep(Duration::from_millis(tick_ms)).await;
    measuring.store(true, Ordering::Relaxed);
    let (server_cpu, own_cpu) = (server.cpu_seconds(), cpu_seconds("self"));
    let mut delay = Histogram::<u64>::new(3).unwrap();
    let mut gap = Histogram::<u64>::new(3).unwrap();
    let mut frames = 0u64;
    // Spread: how long after the tick's first arrival each frame of that tick arrived (clock-free).
    let mut first_arrival: std::collections::HashMap<i64, Instant> = Default::default();
    let mut spread = Histogram::<u64>::new(3).unwrap();
    // Per socket: frames more than 500 ms late, and all frames.
    let mut late = vec![(0u32, 0u32); n];
    let mut missed = 0u64;
    let until = tokio::time::Instant::now() + Duration::from_secs(seconds);
    while let Ok(Some(sample)) = tokio::time::timeout_at(until, rx.recv()).await {
        frames += 1;
        delay.record(sample.delay_us.max(1)).unwrap();
        let first = *first_arrival.entry(sample.tick_ms).or_insert(sample.at);
        spread
            .record((sample.at.saturating_duration_since(first).as_micros() as u64).max(1))
            .unwrap();
        let entry = &mut late[sample.socket];
        entry.0 += u32::from(sample.delay_us > 500_000);
        entry.1 += 1;
        if let Some(g) = sample.gap_us {
            gap.record(g.max(1)).unwrap();
            let ticks = (g as f64 / (tick_ms * 1000) as f64).round() as u64;
            missed += ticks.saturating_sub(1);
        }
    }
    let late_sockets = late.iter().filter(|(l, n)| *n > 0 && *l * 2 > *n).count();
    let rss = server.rss_mb();
    let server_cpu = (server.cpu_seconds() - server_cpu) / seconds as f64 * 100.0;
    let own_cpu = (cpu_seconds("self") - own_cpu) / seconds as f64 * 100.0;
    let ms = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    format!(
        "| {n} | {open} | {} | {} | {frames} | {:.1} | {:.1} | {:.1} | {:.0} | {:.0} | {:.0} | {missed} | {late_sockets} | {:.1} | {:.1} | {rss:.0} | {server_cpu:.0}% | {own_cpu:.0}% |",
        failures.load(Ordering::Relaxed),
        closed.load(Ordering::Relaxed),
        ms(&delay, 0.5),
        ms(&delay, 0.99),
        delay.max() as f64 / 1000.0,
        ms(&gap, 0.5),
        ms(&gap, 0.99),
        gap.max() as f64 / 1000.0,
        ms(&spread, 0.99),
        spread.max() as f64 / 1000.0,
    )
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args = Args::parse();
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let mut rows = Vec::new();
    for &n in &args.clients {
        rows.push(run(&args, n).await);
        eprintln!("{}", rows.last().unwrap());
    }
    println!("| sockets | open | failed | closed | frames | delay p50 ms | p99 | max | gap p50 ms | p99 | max | missed | mostly late sockets | spread p99 ms | spread max | server RSS MB | server CPU | load tool CPU |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for row in rows {
        println!("{row}");
    }
}

/// A minimal WebSocket client, so the load tool costs little next to the server it measures:
/// the handshake, then unmasked server frames read straight off the socket; pings are answered.
mod raw {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    pub async fn connect(address: &str, path: &str) -> std::io::Result<TcpStream> {
        let mut socket = TcpStream::connect(address).await?;
        socket.set_nodelay(true)?;
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {address}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        socket.write_all(request.as_bytes()).await?;
        // Read the response head byte by byte: the first frame may follow it at once.
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut byte = [0u8; 1];
            if socket.read(&mut byte).await? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            head.push(byte[0]);
        }
        if !head.starts_with(b"HTTP/1.1 101") {
            return Err(std::io::Error::other(
                String::from_utf8_lossy(&head).into_owned(),
            ));
        }
        Ok(socket)
    }

    pub struct Frames {
        socket: TcpStream,
        buf: Vec<u8>,
    }

    impl Frames {
        pub fn new(socket: TcpStream) -> Self {
            Frames {
                socket,
                buf: Vec::with_capacity(1024),
            }
        }

        /// The next text frame's payload; `None` when the socket closes.
        pub async fn next_text(&mut self) -> Option<String> {
            loop {
                if let Some((opcode, payload, used)) = parse(&self.buf) {
                    self.buf.drain(..used);
                    match opcode {
                        0x1 => return String::from_utf8(payload).ok(),
                        0x8 => return None,
                        0x9 => {
                            // Pong, masked with a zero key as clients must mask.
                            let mut pong = vec![0x8A, 0x80 | payload.len() as u8, 0, 0, 0, 0];
                            pong.extend_from_slice(&payload);
                            self.socket.write_all(&pong).await.ok()?;
                        }
                        _ => {}
                    }
                    continue;
                }
                let mut chunk = [0u8; 4096];
                let n = self.socket.read(&mut chunk).await.ok()?;
                if n == 0 {
                    return None;
                }
                self.buf.extend_from_slice(&chunk[..n]);
            }
        }
    }

    /// One complete server frame at the start of `buf`: (opcode, payload, bytes used).
    fn parse(buf: &[u8]) -> Option<(u8, Vec<u8>, usize)> {
        if buf.len() < 2 {
            return None;
        }
        let opcode = buf[0] & 0x0F;
        let (len, head) = match buf[1] & 0x7F {
            126 if buf.len() >= 4 => (u16::from_be_bytes([buf[2], buf[3]]) as usize, 4),
            127 if buf.len() >= 10 => {
                let mut b = [0u8; 8];
                b.copy_from_slice(&buf[2..10]);
                (u64::from_be_bytes(b) as usize, 10)
            }
            126 | 127 => return None,
            n => (n as usize, 2),
        };
        let end = head + len;
        (buf.len() >= end).then(|| (opcode, buf[head..end].to_vec(), end))
    }
}
