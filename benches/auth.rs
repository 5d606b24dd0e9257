//! Auth throughput: bulk user creation (users/s) and a login stampede (logins/s), with the
//! latency of `/health` measured while the stampede runs. Starts the real server in-process
//! with the default argon2id costs.
//!
//!   cargo bench --bench auth                                  # SQLite in a temporary file
//!   cargo bench --bench auth -- --database-url postgres://postgres@127.0.0.1/contestd_bench
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use clap::Parser;
use futures::future::join_all;
use serde_json::{json, Value};

use contestd::config::ServeArgs;
use contestd::startup::Application;

#[derive(Parser)]
struct Bench {
    /// Users created in one bulk call, then logged in all at once.
    #[arg(long, default_value_t = 1000)]
    users: usize,
    /// Database to run against (default: a temporary SQLite file).
    #[arg(long)]
    database_url: Option<String>,
    /// Passed by `cargo bench`.
    #[arg(long, hide = true)]
    bench: bool,
}

#[derive(Parser)]
struct Server {
    #[command(flatten)]
    args: ServeArgs,
}

fn main() {
    let bench = Bench::parse();
    actix_web::rt::System::new().block_on(run(bench));
}

async fn run(bench: Bench) {
    let dir = tempfile::tempdir().unwrap();
    let url = bench
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}/bench.db", dir.path().display()));
    let args = Server::parse_from([
        "contestd",
        "--database-url",
        &url,
        "--bind",
        "127.0.0.1:0",
        "--admin-password",
        "bench-admin-pass",
        // Every login comes from this one address: lift the per-address login quota.
        "--login-per-minute",
        "1000000",
    ])
    .args;
    let app = Application::build(args).await.unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    actix_web::rt::spawn(app.run_until_stopped());
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(2000)
        .build()
        .unwrap();

    let admin = login(&http, &base, "admin", "bench-admin-pass")
        .await
        .unwrap();
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    let users: Vec<Value> = (0..bench.users)
        .map(|i| json!({"username": format!("b{}_{i}", &run_id[..8]), "password": "bench-password", "role": "student"}))
        .collect();
    let started = Instant::now();
    let response = http
        .post(format!("{base}/api/users/bulk"))
        .bearer_auth(&admin)
        .json(&json!({ "users": users }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    let bulk = started.elapsed();

    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let health = {
        let http = http.clone();
        let base = base.clone();
        actix_web::rt::spawn(async move {
            let mut latencies = Vec::new();
            while !*stop_rx.borrow_and_update() {
                let t = Instant::now();
                let ok = http
                    .get(format!("{base}/health"))
                    .send()
                    .await
                    .is_ok_and(|r| r.status() == 200);
                latencies.push((t.elapsed(), ok));
                let _ = tokio::time::timeout(Duration::from_millis(20), stop_rx.changed()).await;
            }
            latencies
        })
    };
    let started = Instant::now();
    let logins = users.iter().map(|u| {
        let name = u["username"].as_str().unwrap().to_string();
        let http = http.clone();
        let base = base.clone();
        async move { login(&http, &base, &name, "bench-password").await.is_some() }
    });
    let results = join_all(logins).await;
    let stampede = started.elapsed();
    stop_tx.send(true).unwrap();
    let mut health = health.await.unwrap();
    health.sort();
    let failed = results.iter().filter(|ok| !**ok).count();
    let health_failed = health.iter().filter(|(_, ok)| !ok).count();
    let pct = |p: f64| health[((health.len() as f64 - 1.0) * p) as usize].0;

    println!(
        "backend: {}",
        if url.starts_with("sqlite") {
            "sqlite"
        } else {
            "postgres"
        }
    );
    println!("| figure | value |\n|---|---|");
    println!(
        "| bulk create {} users | {:.2} s, {:.0} users/s |",
        bench.users,
        bulk.as_secs_f64(),
        bench.users as f64 / bulk.as_secs_f64()
    );
    println!(
        "| {} concurrent logins | {:.2} s, {:.0} logins/s, {failed} failed |",
        bench.users,
        stampede.as_secs_f64(),
        bench.users as f64 / stampede.as_secs_f64()
    );
    println!(
        "| /health during the stampede | {} checks, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms, {health_failed} failed |",
        health.len(),
        ms(pct(0.5)),
        ms(pct(0.99)),
        ms(pct(1.0))
    );
    handle.stop(true).await;
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn login(
    http: &reqwest::Client,
    base: &str,
    username: &str,
    password: &str,
) -> Option<String> {
    let response = http
        .post(format!("{base}/api/auth/login"))
        .json(&json!({ "username": username, "password": password }))
        .send()
        .await
        .ok()?;
    if response.status() != 200 {
        return None;
    }
    let body: Value = response.json().await.ok()?;
    body["token"].as_str().map(str::to_string)
}
