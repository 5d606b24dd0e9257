//! contestd behind a real nginx running the shipped rules (`deploy/nginx/contestd.conf`): the
//! login quota keys on the address nginx appends, body limits follow the endpoints, nginx's
//! own errors come in the API's error shape, and the live timer and request ids pass through.
//!
//! Without nginx (`/usr/sbin/nginx`) each test prints `skipped: nginx not installed` and
//! passes; with `CONTESTD_TEST_REQUIRE_NGINX=1` it fails instead.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, CONTENT_TYPE};
use reqwest::{RequestBuilder, StatusCode};
use serde_json::{json, Value};
use tempfile::TempDir;

use crate::support::{assert_error, id_of, retry_after, spawn_app_with, wait_for, Db, TestApp};
use crate::ws::next_frame;

both_databases!(; with_db:
    spoofed_forwarded_for_does_not_escape_the_login_quota,
    body_limits_are_each_endpoints_own,
    unreachable_contestd_is_json_503,
    live_timer_and_request_id_pass_through,
);

const NGINX: &str = "/usr/sbin/nginx";

/// A real nginx on a free port of 127.0.0.1 in front of one app, with the shipped rules
/// included from the source tree (not a copy). One process (`master_process off`), so killing
/// the child on drop stops it whole.
struct Nginx {
    address: String,
    child: Child,
    dir: TempDir,
}

impl Nginx {
    /// Whether nginx is installed; `false` (skip) unless `CONTESTD_TEST_REQUIRE_NGINX=1`.
    fn available() -> bool {
        if Path::new(NGINX).exists() {
            return true;
        }
        if std::env::var("CONTESTD_TEST_REQUIRE_NGINX").as_deref() == Ok("1") {
            panic!("CONTESTD_TEST_REQUIRE_NGINX=1 but {NGINX} is missing (apt-get install nginx)");
        }
        eprintln!("skipped: nginx not installed");
        false
    }

    /// Starts nginx in front of `app` and waits until `/health` answers through it.
    async fn start(app: &TestApp) -> Nginx {
        let upstream = app
            .address
            .strip_prefix("http://")
            .expect("an http:// address");
        // The port is picked before nginx binds it: another process may take it in between.
        for _ in 0..3 {
            let dir = tempfile::tempdir().expect("temporary directory");
            let port = free_port();
            std::fs::write(
                dir.path().join("nginx.conf"),
                config(dir.path(), upstream, port),
            )
            .expect("nginx.conf written");
            let child = spawn(dir.path());
            let mut nginx = Nginx {
                address: format!("127.0.0.1:{port}"),
                child,
                dir,
            };
            match nginx.ready(app).await {
                Ok(()) => return nginx,
                Err(log) if log.contains("Address already in use") => continue,
                Err(log) => panic!("nginx did not start:\n{log}"),
            }
        }
        panic!("nginx found no free port in 3 tries");
    }

    /// Polls `/health` through nginx until contestd answers it; `Err` with nginx's error log
    /// when nginx exits first.
    async fn ready(&mut self, app: &TestApp) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("exited ({status}):\n{}", self.logs()));
            }
            let answer = app.client().get(self.url("/health")).send().await;
            if answer.is_ok_and(|r| r.status() == StatusCode::OK) {
                return Ok(());
            }
            assert!(
                Instant::now() < deadline,
                "no 200 from /health through nginx within 10 s:\n{}",
                self.logs()
            );
            actix_web::rt::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// The access log: one `REQUEST_ID STATUS "REQUEST"` line per finished request.
    fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default()
    }

    /// nginx's error log and stderr, for failure messages.
    fn logs(&self) -> String {
        ["error.log", "stderr"]
            .iter()
            .map(|f| std::fs::read_to_string(self.dir.path().join(f)).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The smallest `nginx.conf` around the shipped rules: every path inside `dir` (no root
/// needed, nothing of the system's nginx touched), and the upstream and map that
/// `deploy/nginx.conf` defines.
fn config(dir: &Path, upstream: &str, port: u16) -> String {
    let dir = dir.display();
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/nginx/contestd.conf");
    let rules = rules.display();
    format!(
        r#"master_process off;
pid {dir}/nginx.pid;
error_log {dir}/error.log info;
events {{}}
http {{
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    log_format ids '$request_id $status "$request"';
    access_log {dir}/access.log ids;
    upstream contestd {{
        server {upstream};
        keepalive 16;
        keepalive_timeout 4s;
    }}
    map $http_upgrade $connection_upgrade {{
        default upgrade;
        ''      close;
    }}
    server {{
        listen 127.0.0.1:{port};
        include {rules};
    }}
}}
"#
    )
}

fn spawn(dir: &Path) -> Child {
    let stderr = std::fs::File::create(dir.join("stderr")).expect("a log file");
    Command::new(NGINX)
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        // Early errors go here too, not to the system's /var/log/nginx.
        .arg("-e")
        .arg(dir.join("error.log"))
        .args(["-g", "daemon off;"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {NGINX}: {e}"))
}

/// A port no one listens on now (the OS picks it).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("a local address").port()
}

/// An app told to read the client's address from `X-Forwarded-For`, with nginx in front, or
/// `None` when nginx or PostgreSQL is missing (skipped).
async fn proxied(db: Db, extra: &[&str]) -> Option<(TestApp, Nginx)> {
    if !Nginx::available() {
        return None;
    }
    let mut flags = vec!["--client-address-header", "X-Forwarded-For"];
    flags.extend_from_slice(extra);
    let app = spawn_app_with(db, &flags).await?;
    let nginx = Nginx::start(&app).await;
    Some((app, nginx))
}

/// The answer's `X-Request-Id`.
#[track_caller]
fn request_id(headers: &HeaderMap) -> String {
    headers
        .get("x-request-id")
        .unwrap_or_else(|| panic!("no X-Request-Id in {headers:?}"))
        .to_str()
        .expect("an ASCII id")
        .to_string()
}

/// Waits until nginx has logged a request with this id and status: the id the client got is
/// nginx's `$request_id` (contestd makes up ids of the same form when it gets none).
async fn logged(nginx: &Nginx, id: &str, status: u16) {
    let line = format!("{id} {status} ");
    wait_for(
        &format!("`{line}` in nginx's access log"),
        Duration::from_secs(5),
        || std::future::ready(nginx.access_log().contains(&line).then_some(())),
    )
    .await;
}

/// Every client makes up its own first `X-Forwarded-For` entry; nginx appends the real peer
/// (127.0.0.1), and the login quota per address must count that one: after
/// `--login-per-minute` failed attempts the rest are `429` whatever the client claims.
async fn spoofed_forwarded_for_does_not_escape_the_login_quota(db: Db) {
    const PER_MINUTE: usize = 10;
    const ATTEMPTS: usize = 25;
    let per_minute = PER_MINUTE.to_string();
    let Some((app, nginx)) = proxied(db, &["--login-per-minute", &per_minute]).await else {
        return;
    };
    let started = Instant::now();
    let mut answers = Vec::new();
    for i in 0..ATTEMPTS {
        // Distinct usernames, so the per-username quota never applies.
        let req = app
            .client()
            .post(nginx.url("/api/auth/login"))
            .header("X-Forwarded-For", format!("203.0.113.{}", i + 1))
            .json(&json!({ "username": format!("nobody{i}"), "password": "wrong-password" }));
        answers.push(app.send(req).await);
    }
    // The quota gives one attempt back every 60 / PER_MINUTE seconds.
    let refills = (started.elapsed().as_secs() / (60 / PER_MINUTE as u64)) as usize;

    for (status, _, body) in &answers[..PER_MINUTE] {
        assert_error(
            &(*status, body.clone()),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        );
    }
    let mut limited = 0;
    for (status, headers, body) in &answers[PER_MINUTE..] {
        // A slow run may see a refill let one more attempt through (counted below).
        if *status == StatusCode::UNAUTHORIZED {
            continue;
        }
        assert_error(
            &(*status, body.clone()),
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
        );
        assert!(
            retry_after(headers).is_some_and(|s| s >= 1),
            "Retry-After: {headers:?}"
        );
        limited += 1;
    }
    let statuses: Vec<u16> = answers.iter().map(|(s, _, _)| s.as_u16()).collect();
    assert!(
        limited + refills >= ATTEMPTS - PER_MINUTE,
        "{limited} of the last {} attempts limited ({refills} refills): {statuses:?}",
        ATTEMPTS - PER_MINUTE
    );
    // Refused by the per-address quota: all attempts came from one address.
    let metrics = app.metrics().await;
    let by_address = metrics.sum("contestd_rate_limited_total", &[("scope", "login_address")]);
    assert_eq!(by_address as usize, limited, "{metrics:#?}");
}

/// A `POST /api/users/bulk` body of `n` students padded with JSON whitespace to `size` bytes:
/// nginx weighs bytes, and hashing thousands of passwords would only slow the test.
fn bulk_body(prefix: &str, n: usize, size: usize) -> String {
    let users: Vec<Value> = (0..n)
        .map(|i| {
            json!({ "username": format!("{prefix}{i:04}"), "password": "password-1",
                    "role": "student" })
        })
        .collect();
    let json = json!({ "users": users }).to_string();
    assert!(
        json.len() <= size,
        "{} bytes of users exceed {size}",
        json.len()
    );
    format!("{json}{}", " ".repeat(size - json.len()))
}

/// 256 KiB everywhere but the bulk endpoint, which takes up to its own 4 MiB; nginx refuses
/// larger bodies itself (contestd never sees them) with the API's `413` shape.
async fn body_limits_are_each_endpoints_own(db: Db) {
    let Some((app, nginx)) = proxied(db, &[]).await else {
        return;
    };
    let admin = app.admin_token().await;
    let post = |path: &str, body: String| {
        app.client()
            .post(nginx.url(path))
            .bearer_auth(&admin)
            .header(CONTENT_TYPE, "application/json")
            .body(body)
    };

    // 3 MiB of valid bulk request: far above 256 KiB, within the endpoint's 4 MiB.
    let (status, headers, created) = app
        .send(post("/api/users/bulk", bulk_body("bulk", 200, 3 << 20)))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["created"], 200, "{created}");
    logged(&nginx, &request_id(&headers), 201).await;

    // 300 KiB to an ordinary endpoint.
    let course = json!({ "code": "BIG", "title": "x".repeat(300 << 10) }).to_string();
    let (status, headers, body) = app.send(post("/api/courses", course)).await;
    assert_error(
        &(status, body),
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    );
    logged(&nginx, &request_id(&headers), 413).await;

    // Just past the bulk endpoint's own limit.
    let (status, _, body) = app
        .send(post(
            "/api/users/bulk",
            bulk_body("over", 10, (4 << 20) + 1),
        ))
        .await;
    assert_error(
        &(status, body),
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    );

    // Both 413s came from nginx: contestd answered none (it counted the bulk 201).
    let metrics = app.metrics().await;
    let requests = "contestd_http_requests_total";
    let bulk = [("route", "/api/users/bulk"), ("status", "201")];
    assert_eq!(metrics.sum(requests, &bulk), 1.0, "{metrics:#?}");
    assert_eq!(
        metrics.sum(requests, &[("status", "413")]),
        0.0,
        "{metrics:#?}"
    );
}

/// With contestd gone, nginx answers `503 unavailable` with `Retry-After`, like contestd
/// does when its database is gone, instead of an HTML 502.
async fn unreachable_contestd_is_json_503(db: Db) {
    let Some((app, nginx)) = proxied(db, &[]).await else {
        return;
    };
    app.stop().await;
    let wrong = json!({ "username": "admin", "password": "wrong-password" });
    let health = || app.client().get(nginx.url("/health"));
    let login = || app.client().post(nginx.url("/api/auth/login")).json(&wrong);
    for (status, headers, body) in [
        without_contestd(&app, health, StatusCode::OK).await,
        without_contestd(&app, login, StatusCode::UNAUTHORIZED).await,
    ] {
        assert_error(
            &(status, body),
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
        );
        assert!(
            retry_after(&headers).is_some_and(|s| s >= 1),
            "Retry-After: {headers:?}"
        );
        logged(&nginx, &request_id(&headers), 503).await;
    }
}

/// The first answer through nginx that is not contestd's own (`live`), sending `req()` again
/// until then: a stop that is not graceful does not wait for the workers, and one may still
/// answer on a kept-alive upstream connection for a moment.
async fn without_contestd(
    app: &TestApp,
    req: impl Fn() -> RequestBuilder,
    live: StatusCode,
) -> (StatusCode, HeaderMap, Value) {
    wait_for(
        "contestd gone behind nginx",
        Duration::from_secs(10),
        || {
            let req = req();
            async move {
                let answer = app.send(req).await;
                (answer.0 != live).then_some(answer)
            }
        },
    )
    .await
}

/// The live timer upgrades and streams through nginx, and contestd answers every request
/// with nginx's `$request_id`, so nginx's log and contestd's join on it.
async fn live_timer_and_request_id_pass_through(db: Db) {
    let Some((app, nginx)) = proxied(db, &[]).await else {
        return;
    };
    let (contest, students) = app.open_contest_with_students(1, None).await;
    let contest = id_of(&contest);
    let token = &students[0].token;

    let (status, headers, me) = app
        .send(app.client().get(nginx.url("/api/me")).bearer_auth(token))
        .await;
    assert_eq!(status, StatusCode::OK, "{me}");
    logged(&nginx, &request_id(&headers), 200).await;

    let url = format!("ws://{}/ws/contests/{contest}?token={token}", nginx.address);
    let (mut socket, response) = tokio_tungstenite::connect_async(url)
        .await
        .expect("WebSocket upgrade through nginx");
    assert_eq!(response.status(), 101);
    let ws_id = request_id(response.headers());
    for _ in 0..2 {
        let frame = next_frame(&mut socket, Duration::from_secs(3)).await;
        assert_eq!(frame["type"], "state", "{frame}");
        assert_eq!(frame["contest_id"], contest, "{frame}");
    }
    socket.close(None).await.expect("a clean close");
    // nginx logs an upgraded request when the socket ends.
    logged(&nginx, &ws_id, 101).await;
}
