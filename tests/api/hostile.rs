//! Hostile traffic: each way an attacker (with no account, or with a student's) could cost the
//! server memory, connections, database work or other students' time, and the answer that now
//! closes it. Each test failed against the build before these answers.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures::future::join_all;
use futures::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

use crate::support::{
    assert_error, free_port, fresh_database, id_of, retry_after, spawn_app_with, spawn_binary,
    str_field, Db, TestApp, ADMIN_PW, STUDENT_PW,
};
use crate::ws::{connect, next_frame, Socket};

both_databases!(
    an_unknown_token_is_read_from_the_database_once,
    a_query_token_opens_only_the_websocket,
    logout_closes_the_token_s_websockets;
    with_db:
    made_up_tokens_are_limited_per_address_before_the_database,
    an_expired_token_closes_its_websockets,
    a_user_s_sockets_are_capped_oldest_first,
    logout_wins_against_reads_in_flight,
    logins_keep_priority_over_a_bulk_create,
    spoofed_forwarded_for_entries_do_not_dodge_the_login_quota,
    a_generated_admin_password_goes_to_a_private_file,
    an_admin_password_outside_the_rule_stops_the_start,
);

/// A token of the right shape that no session has.
fn made_up_token() -> String {
    format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple())
}

/// Database reads of sessions so far (the token cache's misses).
async fn session_reads(app: &TestApp) -> f64 {
    app.metrics()
        .await
        .get("contestd_cache_misses_total", &[("cache", "token")])
}

/// The server process's resident memory, in KiB, from `/proc`.
fn resident_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc status")
}

/// Waits for the socket to be closed by the server; returns the close code it gave.
async fn close_code(socket: &mut Socket, within: Duration) -> Option<u16> {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, socket.next()).await {
            Err(_) => panic!("the socket was not closed within {within:?}"),
            Ok(Some(Ok(Message::Close(frame)))) => return frame.map(|f| u16::from(f.code)),
            Ok(Some(Ok(_))) => continue,
            Ok(None) | Ok(Some(Err(_))) => return None,
        }
    }
}

/// A contest open now with `n` enrolled, logged-in students: its id and their tokens.
async fn open_contest(app: &TestApp, n: usize) -> (i64, Vec<String>) {
    let (contest, students) = app.open_contest_with_students(n, None).await;
    (
        id_of(&contest),
        students.into_iter().map(|s| s.token).collect(),
    )
}

// ---- 1. invented methods ----

/// 3,000 invented methods cost no memory and no series: the method label is one of the five
/// the API uses or `OTHER` (the build before grew ~700 MB here).
#[actix_web::test]
async fn invented_methods_cost_no_memory_or_series() {
    let app = spawn_binary(Db::Sqlite, &[]).await.expect("SQLite");
    for _ in 0..200 {
        app.get("/health", None).await;
    }
    let before = resident_kib(app.pid());
    let client = app.client();
    for i in 0..3000 {
        let method = Method::from_bytes(format!("M{i}X").as_bytes()).unwrap();
        let status = client
            .request(method, app.url("/health"))
            .send()
            .await
            .expect("the server answers")
            .status();
        assert!(status.is_client_error(), "M{i}X /health: {status}");
    }
    let grown_kib = resident_kib(app.pid()).saturating_sub(before);
    assert!(
        grown_kib < 64 * 1024,
        "3,000 invented methods grew the server by {grown_kib} KiB"
    );

    let metrics = app.metrics().await;
    let methods: std::collections::BTreeSet<String> = metrics
        .0
        .iter()
        .filter_map(|s| s.labels.get("method").cloned())
        .collect();
    let allowed = ["GET", "POST", "PUT", "PATCH", "DELETE", "OTHER"];
    assert!(
        methods.iter().all(|m| allowed.contains(&m.as_str())),
        "method labels: {methods:?}"
    );
    let other = metrics.sum("contestd_http_requests_total", &[("method", "OTHER")]);
    assert_eq!(other, 3000.0);
    let admin = app.admin_token().await;
    let (status, report) = app.get("/api/contests/performance", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK);
    let routes = report["routes"].as_array().unwrap();
    assert!(
        routes
            .iter()
            .all(|r| allowed.contains(&r["method"].as_str().unwrap())),
        "{routes:?}"
    );
}

// ---- 2. slow clients ----

/// Sends `head` (and nothing more) on a fresh connection; returns what the server sent
/// before closing it, or panics if it is still open after `within`.
async fn send_and_read_to_close(app: &TestApp, head: &str, within: Duration) -> String {
    let address = app.address.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).await.expect("connect");
    stream.write_all(head.as_bytes()).await.expect("write");
    let mut received = Vec::new();
    let read = tokio::time::timeout(within, stream.read_to_end(&mut received)).await;
    let text = String::from_utf8_lossy(&received).to_string();
    assert!(
        read.is_ok(),
        "the connection was still open after {within:?}; received {text:?}"
    );
    text
}

/// A login that announces 200 bytes and sends one gets 408 in the error shape once the body
/// deadline passes, and its connection closes.
#[actix_web::test]
async fn a_body_that_never_arrives_gets_408_and_the_connection_closes() {
    let app = spawn_app_with(Db::Sqlite, &["--body-timeout-secs", "1"])
        .await
        .expect("SQLite");
    let started = Instant::now();
    let head = "POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
                Content-Length: 200\r\n\r\n{";
    let answer = send_and_read_to_close(&app, head, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains(r#""code":"request_timeout""#), "{answer}");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "answered before the deadline: {:?}",
        started.elapsed()
    );
}

/// Headers that never end, and an announced body a handler never reads, do not hold the
/// connection past their deadlines.
#[actix_web::test]
async fn slow_headers_and_unread_bodies_do_not_hold_connections() {
    let app = spawn_app_with(
        Db::Sqlite,
        &["--header-timeout-secs", "1", "--keep-alive-secs", "1"],
    )
    .await
    .expect("SQLite");
    let partial = "POST /api/auth/login HTTP/1.1\r\nHost: x\r\n";
    let answer = send_and_read_to_close(&app, partial, Duration::from_secs(5)).await;
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
    let unread = "GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: 200\r\n\r\n{";
    let answer = send_and_read_to_close(&app, unread, Duration::from_secs(15)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

// ---- 3. made-up tokens ----

/// Made-up tokens from one address: the first `--bad-token-per-minute` are read and refused
/// with 401, the rest get 429 before any database read; monitoring never reads a token; an
/// honest client at the same address still logs in and is served.
async fn made_up_tokens_are_limited_per_address_before_the_database(db: Db) {
    let Some(app) = spawn_app_with(db, &["--bad-token-per-minute", "10"]).await else {
        return;
    };
    let reads = session_reads(&app).await;
    let mut statuses = Vec::new();
    for _ in 0..40 {
        let (status, headers, body) = app
            .send(
                app.client()
                    .get(app.url("/api/me"))
                    .bearer_auth(made_up_token()),
            )
            .await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            assert_error(&(status, body), status, "rate_limited");
            let wait = retry_after(&headers).expect("Retry-After");
            assert!((1..=6).contains(&wait), "Retry-After {wait}");
        } else {
            assert_error(&(status, body), StatusCode::UNAUTHORIZED, "unauthorized");
        }
        statuses.push(status);
    }
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    assert_eq!(refused, 10, "{statuses:?}");
    assert_eq!(
        session_reads(&app).await - reads,
        10.0,
        "only the tokens within quota were read"
    );

    let reads = session_reads(&app).await;
    for _ in 0..50 {
        let resp = app
            .client()
            .get(app.url("/health"))
            .bearer_auth(made_up_token())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
    }
    assert_eq!(session_reads(&app).await, reads, "/health read a token");

    // The address is over its bad-token quota, yet an honest login works and is served.
    let admin = app.login("admin", ADMIN_PW).await;
    let (status, me) = app.get("/api/me", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    let m = app.metrics().await;
    assert_eq!(
        m.get("contestd_rate_limited_total", &[("scope", "bad_token")]),
        30.0
    );
}

/// The same unknown token asked about many times costs one database read; a token of the
/// wrong shape costs none.
async fn an_unknown_token_is_read_from_the_database_once(app: &TestApp) {
    let reads = session_reads(app).await;
    let token = made_up_token();
    for _ in 0..20 {
        let resp = app.get("/api/me", Some(&token)).await;
        assert_error(&resp, StatusCode::UNAUTHORIZED, "unauthorized");
    }
    for _ in 0..5 {
        let resp = app.get("/api/me", Some("not-a-token")).await;
        assert_error(&resp, StatusCode::UNAUTHORIZED, "unauthorized");
    }
    assert_eq!(session_reads(app).await - reads, 1.0);
}

// ---- 5. query tokens ----

/// `?token=` authenticates the WebSocket upgrade and nothing else.
async fn a_query_token_opens_only_the_websocket(app: &TestApp) {
    let (contest, tokens) = open_contest(app, 1).await;
    let token = &tokens[0];
    let resp = app.get(&format!("/api/me?token={token}"), None).await;
    assert_error(&resp, StatusCode::UNAUTHORIZED, "unauthorized");
    let resp = app
        .get(&format!("/api/contests/{contest}?token={token}"), None)
        .await;
    assert_error(&resp, StatusCode::UNAUTHORIZED, "unauthorized");
    let mut socket = connect(app, contest, token).await;
    let first = next_frame(&mut socket, Duration::from_secs(2)).await;
    assert_eq!(first["type"], "state");
}

// ---- 6. sockets and their tokens ----

/// Logout closes the sockets opened with that token (1008) at once; the same student's
/// socket on another token keeps streaming.
async fn logout_closes_the_token_s_websockets(app: &TestApp) {
    let (contest, tokens) = open_contest(app, 1).await;
    let me = app.get("/api/me", Some(&tokens[0])).await.1;
    let second = app.login(str_field(&me, "username"), STUDENT_PW).await;
    let mut revoked = connect(app, contest, &tokens[0]).await;
    let mut other = connect(app, contest, &second).await;
    next_frame(&mut revoked, Duration::from_secs(2)).await;
    next_frame(&mut other, Duration::from_secs(2)).await;

    let (status, _) = app.post("/api/auth/logout", Some(&tokens[0]), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        close_code(&mut revoked, Duration::from_secs(1)).await,
        Some(1008)
    );
    let frame = next_frame(&mut other, Duration::from_secs(2)).await;
    assert_eq!(frame["type"], "state", "the other token's socket lives on");
}

/// A socket closes (1008) when its token expires.
async fn an_expired_token_closes_its_websockets(db: Db) {
    let Some(app) = spawn_app_with(db, &["--token-ttl-secs", "3"]).await else {
        return;
    };
    // Taken before the login, so the token cannot be older than this.
    let before_login = Instant::now();
    let (contest, tokens) = open_contest(&app, 1).await;
    let mut socket = connect(&app, contest, &tokens[0]).await;
    assert_eq!(
        close_code(&mut socket, Duration::from_secs(8)).await,
        Some(1008)
    );
    assert!(
        before_login.elapsed() >= Duration::from_millis(2900),
        "closed before the token expired: {:?}",
        before_login.elapsed()
    );
}

/// A user holds at most `--ws-per-user` sockets: one more closes their oldest (1008).
async fn a_user_s_sockets_are_capped_oldest_first(db: Db) {
    let Some(app) = spawn_app_with(db, &["--ws-per-user", "2"]).await else {
        return;
    };
    let (contest, tokens) = open_contest(&app, 2).await;
    let mut oldest = connect(&app, contest, &tokens[0]).await;
    next_frame(&mut oldest, Duration::from_secs(2)).await;
    let mut second = connect(&app, contest, &tokens[0]).await;
    let mut bystander = connect(&app, contest, &tokens[1]).await;
    let mut newest = connect(&app, contest, &tokens[0]).await;
    assert_eq!(
        close_code(&mut oldest, Duration::from_secs(1)).await,
        Some(1008)
    );
    for socket in [&mut second, &mut newest, &mut bystander] {
        let frame = next_frame(socket, Duration::from_secs(2)).await;
        assert_eq!(frame["type"], "state");
    }
}

// ---- 7. logout against reads in flight ----

/// Many rounds of reads racing a logout, with a token cache of one entry so every read goes
/// to the database: once logout has answered, the token is refused, whatever the reads did.
async fn logout_wins_against_reads_in_flight(db: Db) {
    let flags = [
        "--token-cache-size",
        "1",
        "--bad-token-per-minute",
        "100000",
    ];
    let Some(app) = spawn_app_with(db, &flags).await else {
        return;
    };
    let students = app.logged_in_students(30).await;
    let last = students.last().unwrap().token.clone();
    for student in &students {
        // Another token takes the only cache slot, so the reads below miss it.
        app.get("/api/me", Some(&last)).await;
        let reads = join_all((0..8).map(|_| app.get("/api/me", Some(&student.token))));
        let logout = app.post("/api/auth/logout", Some(&student.token), None);
        let (reads, (status, _)) = futures::join!(reads, logout);
        assert_eq!(status, StatusCode::NO_CONTENT);
        for (status, body) in reads {
            assert!(
                status == StatusCode::OK || status == StatusCode::UNAUTHORIZED,
                "{status}: {body}"
            );
        }
        let after = app.get("/api/me", Some(&student.token)).await;
        assert_error(&after, StatusCode::UNAUTHORIZED, "unauthorized");
    }
}

// ---- 9. bulk creation and logins ----

/// Logins made while a large bulk create hashes its passwords are answered long before it
/// ends (they used to queue behind every one of its hashes).
async fn logins_keep_priority_over_a_bulk_create(db: Db) {
    let flags = [
        "--argon2-memory-kib",
        "2048",
        "--argon2-iterations",
        "1",
        "--hash-threads",
        "1",
    ];
    let Some(app) = spawn_app_with(db, &flags).await else {
        return;
    };
    let admin = app.login("admin", ADMIN_PW).await;
    let users: Vec<Value> = (0..1500)
        .map(|i| json!({"username": format!("bulk{i}"), "password": STUDENT_PW, "role": "student"}))
        .collect();
    let bulk = app.post(
        "/api/users/bulk",
        Some(&admin),
        Some(json!({ "users": users })),
    );
    let logins = async {
        let mut served = Vec::new();
        loop {
            let started = Instant::now();
            let (status, body) = app.try_login("admin", ADMIN_PW).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            served.push(started.elapsed());
            if served.len() == 5 {
                return served;
            }
        }
    };
    tokio::pin!(bulk);
    let served = tokio::select! {
        served = logins => served,
        (status, body) = &mut bulk => panic!("the bulk create ({status}) ended before 5 logins: {body}"),
    };
    let (status, body) = bulk.await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(
        served.iter().all(|t| *t < Duration::from_secs(1)),
        "login times during the bulk create: {served:?}"
    );
}

// ---- 4. X-Forwarded-For ----

/// Behind a proxy that appends the peer's address, a client's own `X-Forwarded-For` entries
/// do not pick its login-quota key.
async fn spoofed_forwarded_for_entries_do_not_dodge_the_login_quota(db: Db) {
    let flags = [
        "--client-address-header",
        "X-Forwarded-For",
        "--login-per-minute",
        "10",
    ];
    let Some(app) = spawn_app_with(db, &flags).await else {
        return;
    };
    let mut statuses = Vec::new();
    for i in 0..25 {
        let req = app
            .client()
            .post(app.url("/api/auth/login"))
            .header(
                "X-Forwarded-For",
                format!("10.66.{}.{}, 192.0.2.7", i / 250, i % 250),
            )
            .json(&json!({"username": format!("nobody{i}"), "password": "wrong-password"}));
        statuses.push(app.send(req).await.0);
    }
    let limited = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(limited, 15, "{statuses:?}");
}

// ---- 10. the first admin ----

/// Runs `contestd serve` on `database_url` in `folder` with stdout to a file (not a
/// terminal); returns the child, its address and the stdout file.
fn start_server(
    database_url: &str,
    folder: &std::path::Path,
    extra: &[&str],
) -> (std::process::Child, String, std::path::PathBuf) {
    let port = free_port();
    let stdout = folder.join("stdout");
    let child = Command::new(env!("CARGO_BIN_EXE_contestd"))
        .current_dir(folder)
        .args(["serve", "--database-url", database_url])
        .args(["--bind", &format!("127.0.0.1:{port}")])
        .args(["--argon2-memory-kib", "64", "--argon2-iterations", "1"])
        .args(extra)
        .env_remove("CONTESTD_ADMIN_PASSWORD")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout).unwrap())
        .stderr(std::fs::File::create(folder.join("stderr")).unwrap())
        .spawn()
        .expect("contestd starts");
    (child, format!("http://127.0.0.1:{port}"), stdout)
}

/// A generated first password is written to a file only its owner may read (beside the
/// SQLite file, else in the working folder), not to a captured stdout; it logs in.
async fn a_generated_admin_password_goes_to_a_private_file(db: Db) {
    use std::os::unix::fs::PermissionsExt;
    let Some((database_url, _database)) = fresh_database(db).await else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let (mut child, address, stdout) = start_server(&database_url, work.path(), &[]);
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while client
        .get(format!("{address}/health"))
        .send()
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "contestd did not start");
        assert!(child.try_wait().unwrap().is_none(), "contestd exited");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let folder = match db {
        Db::Sqlite => std::path::PathBuf::from(
            database_url
                .trim_start_matches("sqlite://")
                .trim_end_matches("/contestd.db"),
        ),
        Db::Postgres => work.path().to_path_buf(),
    };
    let file = folder.join("contestd-admin-password");
    let password = std::fs::read_to_string(&file).expect("the password file");
    let password = password.trim();
    assert!(password.len() >= 8, "{password:?}");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "mode {mode:o}");
    let printed = std::fs::read_to_string(stdout).unwrap();
    assert!(!printed.contains(password), "stdout: {printed}");
    let resp = client
        .post(format!("{address}/api/auth/login"))
        .json(&json!({"username": "admin", "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let _ = child.kill();
    let _ = child.wait();
}

/// A first admin password outside the 8–128 rule stops the start with a clear error.
async fn an_admin_password_outside_the_rule_stops_the_start(db: Db) {
    let Some((database_url, _database)) = fresh_database(db).await else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let (mut child, _, _) =
        start_server(&database_url, work.path(), &["--admin-password", "short"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("contestd started with a 5-character admin password");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(!status.success());
    let stderr = std::fs::read_to_string(work.path().join("stderr")).unwrap();
    assert!(stderr.contains("8 to 128"), "{stderr}");
}
