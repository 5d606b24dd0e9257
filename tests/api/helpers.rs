//! The test harness: a real contestd server per test, in-process on a free port, over a fresh
//! database (a temporary SQLite file, or a uuid-named PostgreSQL database), and typed request
//! helpers that keep the tests short.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use chrono::{DateTime, DurationRound, SecondsFormat, TimeDelta, Utc};
use clap::Parser;
use contestd::config::ServeArgs;
use contestd::startup::Application;
use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sqlx::{Connection, PgConnection};
use tempfile::TempDir;
use uuid::Uuid;

/// The password the `admin` user is created with.
pub const ADMIN_PW: &str = "admin-password-1";
/// The password every student made by `create_students` has.
pub const STUDENT_PW: &str = "student-password-1";

/// A response: its status and its JSON body (`Null` when the body is empty).
pub type Resp = (StatusCode, Value);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

impl Db {
    /// What `/health` reports as `db.backend`.
    pub fn backend(self) -> &'static str {
        match self {
            Db::Sqlite => "sqlite",
            Db::Postgres => "postgres",
        }
    }
}

/// Makes a `sqlite::NAME` and a `postgres::NAME` test of each async fn:
/// `both_databases!(a, b)` for fns that take the fresh `&TestApp`, and
/// `both_databases!(a, b; with_db: c)` where `c` takes the `Db` and starts its own app(s).
/// Attributes written before a name (`#[ignore = "…"] a`) go on both tests.
macro_rules! both_databases {
    (@tests $db:ident; $($(#[$meta:meta])* $name:ident),*; $($(#[$db_meta:meta])* $db_name:ident),*) => {
        $(
            $(#[$meta])*
            #[actix_web::test]
            async fn $name() {
                if let Some(app) = $crate::helpers::spawn_app($crate::helpers::Db::$db).await {
                    super::$name(&app).await;
                    app.stop().await;
                }
            }
        )*
        $(
            $(#[$db_meta])*
            #[actix_web::test]
            async fn $db_name() {
                super::$db_name($crate::helpers::Db::$db).await;
            }
        )*
    };
    (
        $($(#[$meta:meta])* $name:ident),* $(,)?
        $(; with_db: $($(#[$db_meta:meta])* $db_name:ident),+ $(,)?)?
    ) => {
        mod sqlite {
            both_databases!(@tests Sqlite; $($(#[$meta])* $name),*; $($($(#[$db_meta])* $db_name),+)?);
        }
        mod postgres {
            both_databases!(@tests Postgres; $($(#[$meta])* $name),*; $($($(#[$db_meta])* $db_name),+)?);
        }
    };
}

/// The database a test owns, removed when dropped (also when the app fails to start).
enum TestDatabase {
    /// Deleted with the directory when dropped.
    Sqlite {
        _dir: TempDir,
    },
    Postgres {
        server_url: String,
        name: String,
    },
}

pub struct TestApp {
    pub address: String,
    pub db: Db,
    pub database_url: String,
    client: reqwest::Client,
    handle: ServerHandle,
    /// Makes usernames and course codes unique within one app.
    counter: AtomicUsize,
    /// `None` for a second app on another app's database. Last, so it is dropped last.
    _database: Option<TestDatabase>,
}

/// Starts the server over a fresh database with cheap password hashing, or returns `None` (and
/// says why) when PostgreSQL is asked for but not configured.
pub async fn spawn_app(db: Db) -> Option<TestApp> {
    spawn_app_with(db, &[]).await
}

/// Like `spawn_app`, with more command-line flags as `[flag, value, …]` pairs; they replace the
/// test defaults (e.g. the cheap argon2 costs).
pub async fn spawn_app_with(db: Db, extra: &[&str]) -> Option<TestApp> {
    let (database_url, database) = match db {
        Db::Sqlite => {
            let dir = tempfile::tempdir().expect("temporary directory");
            let url = format!("sqlite://{}/contestd.db", dir.path().display());
            (url, TestDatabase::Sqlite { _dir: dir })
        }
        Db::Postgres => {
            let server_url = postgres_url()?;
            let name = format!("contestd_t_{}", Uuid::new_v4().simple());
            let mut conn = PgConnection::connect(&server_url)
                .await
                .unwrap_or_else(|e| panic!("cannot connect to {server_url}: {e}"));
            sqlx::raw_sql(&format!(r#"CREATE DATABASE "{name}""#))
                .execute(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("cannot create database {name}: {e}"));
            let _ = conn.close().await;
            let mut url =
                reqwest::Url::parse(&server_url).expect("CONTESTD_TEST_POSTGRES_URL is a URL");
            url.set_path(&format!("/{name}"));
            (url.to_string(), TestDatabase::Postgres { server_url, name })
        }
    };
    Some(start(db, database_url, Some(database), extra).await)
}

/// `CONTESTD_TEST_POSTGRES_URL`, or `None` (skip) unless `CONTESTD_TEST_REQUIRE_POSTGRES=1`.
fn postgres_url() -> Option<String> {
    match std::env::var("CONTESTD_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CONTESTD_TEST_REQUIRE_POSTGRES").as_deref() == Ok("1") => panic!(
            "CONTESTD_TEST_REQUIRE_POSTGRES=1 but CONTESTD_TEST_POSTGRES_URL is not set; \
             set it to e.g. postgres://postgres@127.0.0.1:5432/contestd_ci"
        ),
        _ => {
            eprintln!("skipped: CONTESTD_TEST_POSTGRES_URL not set");
            None
        }
    }
}

#[derive(Parser)]
struct Flags {
    #[command(flatten)]
    serve: ServeArgs,
}

async fn start(
    db: Db,
    database_url: String,
    database: Option<TestDatabase>,
    extra: &[&str],
) -> TestApp {
    let mut flags: Vec<(&str, &str)> = vec![
        ("--database-url", &database_url),
        ("--bind", "127.0.0.1:0"),
        ("--workers", "2"),
        ("--admin-password", ADMIN_PW),
        ("--argon2-memory-kib", "64"),
        ("--argon2-iterations", "1"),
    ];
    for pair in extra.chunks(2) {
        let [flag, value] = pair else {
            panic!("extra flags come in pairs: {extra:?}");
        };
        match flags.iter_mut().find(|(f, _)| f == flag) {
            Some(default) => default.1 = value,
            None => flags.push((flag, value)),
        }
    }
    let argv = std::iter::once("contestd").chain(flags.iter().flat_map(|(f, v)| [*f, *v]));
    let args = Flags::try_parse_from(argv).expect("valid flags").serve;
    let app = Application::build(args)
        .await
        .expect("the application starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    actix_web::rt::spawn(app.run_until_stopped());
    TestApp {
        address,
        db,
        database_url,
        // Shorter than the server's 5 s keep-alive, so a pooled connection is never reused
        // just as the server closes it.
        client: reqwest::Client::builder()
            .pool_idle_timeout(Duration::from_secs(2))
            .build()
            .expect("an HTTP client"),
        handle,
        counter: AtomicUsize::new(0),
        _database: database,
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Sent at once; a no-op when `stop` already ran. The database (a later field) is
        // dropped after this.
        drop(self.handle.stop(false));
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let TestDatabase::Postgres { server_url, name } = self else {
            return;
        };
        let (server_url, name) = (server_url.clone(), name.clone());
        // Drop runs inside the test's runtime, which cannot block on itself: use a thread
        // with its own runtime, and wait for it so no database outlives the test.
        let dropper = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                if let Ok(mut conn) = PgConnection::connect(&server_url).await {
                    let sql = format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#);
                    let _ = sqlx::raw_sql(&sql).execute(&mut conn).await;
                    let _ = conn.close().await;
                }
            });
        });
        let _ = dropper.join();
    }
}

impl TestApp {
    /// A second server on this app's database (it does not own the database).
    pub async fn sibling(&self, extra: &[&str]) -> TestApp {
        start(self.db, self.database_url.clone(), None, extra).await
    }

    /// Stops the server and waits until it has.
    pub async fn stop(&self) {
        self.handle.stop(false).await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    fn next(&self) -> usize {
        self.counter.fetch_add(1, Ordering::Relaxed)
    }

    // ---- requests ----

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        let mut req = self.client.request(method, self.url(path));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        read(req.send().await.expect("the server answers")).await
    }

    /// Sends `body` as is, labelled as JSON.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> Resp {
        let mut req = self
            .client
            .request(method, self.url(path))
            .header(CONTENT_TYPE, "application/json")
            .body(body);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        read(req.send().await.expect("the server answers")).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Resp {
        self.request(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Option<Value>) -> Resp {
        self.request(Method::POST, path, token, body).await
    }

    pub async fn put(&self, path: &str, token: Option<&str>, body: Option<Value>) -> Resp {
        self.request(Method::PUT, path, token, body).await
    }

    pub async fn patch(&self, path: &str, token: Option<&str>, body: Option<Value>) -> Resp {
        self.request(Method::PATCH, path, token, body).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Resp {
        self.request(Method::DELETE, path, token, None).await
    }

    // ---- typed helpers ----

    pub async fn try_login(&self, username: &str, password: &str) -> Resp {
        let body = json!({ "username": username, "password": password });
        self.post("/api/auth/login", None, Some(body)).await
    }

    /// Logs in and returns the token; panics unless the answer is 200.
    pub async fn login(&self, username: &str, password: &str) -> String {
        let (status, body) = self.try_login(username, password).await;
        assert_eq!(status, StatusCode::OK, "login as {username}: {body}");
        str_field(&body, "token").to_string()
    }

    pub async fn admin_token(&self) -> String {
        self.login("admin", ADMIN_PW).await
    }

    /// The admin's user id, from `/api/me`.
    pub async fn admin_id(&self) -> i64 {
        let token = self.admin_token().await;
        let (status, me) = self.get("/api/me", Some(&token)).await;
        assert_eq!(status, StatusCode::OK, "{me}");
        id_of(&me)
    }

    /// Creates `n` students (password `STUDENT_PW`) in one bulk call: `(id, username)`.
    pub async fn create_students(&self, n: usize) -> Vec<(i64, String)> {
        let users: Vec<Value> = (0..n)
            .map(|_| {
                json!({ "username": format!("student{:04}", self.next()),
                             "password": STUDENT_PW, "role": "student" })
            })
            .collect();
        let token = self.admin_token().await;
        let (status, body) = self
            .post(
                "/api/users/bulk",
                Some(&token),
                Some(json!({ "users": users })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "bulk create: {body}");
        body["users"]
            .as_array()
            .expect("users")
            .iter()
            .map(|u| (id_of(u), str_field(u, "username").to_string()))
            .collect()
    }

    /// One student: `(id, username, token)`.
    pub async fn student(&self) -> (i64, String, String) {
        let (id, username) = self.create_students(1).await.remove(0);
        let token = self.login(&username, STUDENT_PW).await;
        (id, username, token)
    }

    /// Creates a course with a unique code; returns its id.
    pub async fn create_course(&self) -> i64 {
        let code = format!("C{:04}", self.next());
        let token = self.admin_token().await;
        let body = json!({ "code": code, "title": format!("Course {code}") });
        let (status, course) = self.post("/api/courses", Some(&token), Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "create course: {course}");
        id_of(&course)
    }

    pub async fn enroll(&self, course_id: i64, student_ids: &[i64]) {
        let token = self.admin_token().await;
        let body = json!({ "student_ids": student_ids });
        let path = format!("/api/courses/{course_id}/enrollments");
        let (status, answer) = self.put(&path, Some(&token), Some(body)).await;
        assert_eq!(status, StatusCode::OK, "enroll: {answer}");
    }

    /// Creates a contest with two questions (the second worth 2 points, the first the default);
    /// `results` is left out when `None`. Returns the admin view.
    pub async fn create_contest(
        &self,
        course_id: i64,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        results: Option<&str>,
    ) -> Value {
        let mut body = contest_body(course_id, start, end);
        if let Some(results) = results {
            body["results"] = json!(results);
        }
        let token = self.admin_token().await;
        let (status, contest) = self.post("/api/contests", Some(&token), Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "create contest: {contest}");
        contest
    }
}

async fn read(resp: reqwest::Response) -> Resp {
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    let bytes = resp.bytes().await.expect("a readable body");
    if bytes.is_empty() {
        return (status, Value::Null);
    }
    let text = String::from_utf8_lossy(&bytes);
    assert!(
        is_json,
        "{status}: body without a JSON content type: {text}"
    );
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("{status}: body is not JSON ({e}): {text}"));
    (status, body)
}

/// A contest creation body: two questions, the second worth 2 points.
pub fn contest_body(course_id: i64, start: DateTime<Utc>, end: DateTime<Utc>) -> Value {
    json!({
        "course_id": course_id,
        "title": "Quiz",
        "start_time": rfc3339(start),
        "end_time": rfc3339(end),
        "questions": [
            { "prompt": "2 + 2?", "options": ["3", "4", "5"], "correct_option": 1 },
            { "prompt": "Capital of France?", "options": ["Paris", "Rome"], "correct_option": 0,
              "points": 2 },
        ],
    })
}

pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn parse_time(v: &Value) -> DateTime<Utc> {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("a time string, got {v}"));
    DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("{s:?} is not RFC 3339: {e}"))
        .with_timezone(&Utc)
}

pub fn hours(h: i64) -> TimeDelta {
    TimeDelta::hours(h)
}

/// Now, to the millisecond: the precision the server keeps times in.
pub fn now_ms() -> DateTime<Utc> {
    Utc::now()
        .duration_trunc(TimeDelta::milliseconds(1))
        .expect("a representable time")
}

/// A window that is open now.
pub fn open_window() -> (DateTime<Utc>, DateTime<Utc>) {
    let now = now_ms();
    (now - hours(1), now + hours(1))
}

/// A window that starts in an hour.
pub fn upcoming_window() -> (DateTime<Utc>, DateTime<Utc>) {
    let now = now_ms();
    (now + hours(1), now + hours(2))
}

/// A window that ended an hour ago.
pub fn closed_window() -> (DateTime<Utc>, DateTime<Utc>) {
    let now = now_ms();
    (now - hours(2), now - hours(1))
}

#[track_caller]
pub fn id_of(v: &Value) -> i64 {
    v["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("an integer `id` in {v}"))
}

#[track_caller]
pub fn str_field<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("a string `{key}` in {v}"))
}

/// The object's keys, sorted.
#[track_caller]
pub fn keys(v: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = v
        .as_object()
        .unwrap_or_else(|| panic!("an object, got {v}"))
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

/// Asserts the object has exactly these keys.
#[track_caller]
pub fn assert_keys(v: &Value, expected: &[&str]) {
    let mut expected = expected.to_vec();
    expected.sort_unstable();
    assert_eq!(keys(v), expected, "keys of {v}");
}

/// Asserts an error answer: the status, and the body exactly `{"error": {"code", "message"}}`
/// with both strings and `code` as given. Returns the message.
#[track_caller]
pub fn assert_error(resp: &Resp, status: StatusCode, code: &str) -> String {
    let (got, body) = resp;
    assert_eq!(*got, status, "status of the answer {body}");
    assert_keys(body, &["error"]);
    let error = &body["error"];
    assert_keys(error, &["code", "message"]);
    assert_eq!(error["code"].as_str(), Some(code), "error code in {body}");
    let message = error["message"]
        .as_str()
        .unwrap_or_else(|| panic!("a string message in {body}"));
    assert!(!message.is_empty(), "an empty message in {body}");
    message.to_string()
}
