//! How a test app starts and stops: in this process on the test's runtime, or as the built
//! `contestd` binary; over a fresh database, another app's, or one behind a `DbProxy`.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::AtomicUsize;
use std::time::{Duration, Instant};

use actix_web::dev::ServerHandle;
use actix_web::rt::task::JoinHandle;
use clap::Parser;
use contestd::config::ServeArgs;
use contestd::startup::Application;
use tempfile::TempDir;

use super::database::{fresh_database, DbProxy, TestDatabase};
use super::process::read_logs;
use super::{Db, ADMIN_PW};

pub struct TestApp {
    pub address: String,
    pub db: Db,
    pub database_url: String,
    pub(super) client: reqwest::Client,
    pub(super) server: Server,
    /// Makes usernames and course codes unique within one app.
    pub(super) counter: AtomicUsize,
    /// `None` for a second app on another app's database. Last, so it is dropped last.
    _database: Option<TestDatabase>,
}

/// How a test app's server runs.
pub(super) enum Server {
    /// In this process, on the test's runtime; `running` ends when it has stopped and let go
    /// of everything (its database pool, SQLite's lock file).
    InProcess {
        handle: ServerHandle,
        running: parking_lot::Mutex<Option<JoinHandle<std::io::Result<()>>>>,
    },
    /// The built `contestd` binary, killed with SIGKILL when the app is dropped (also on panic).
    Process {
        child: parking_lot::Mutex<Option<Child>>,
        /// Holds the child's stdout and stderr (`logs`), shown when it fails to start.
        logs: TempDir,
    },
}

/// Starts the server over a fresh database with cheap password hashing, or returns `None` (and
/// says why) when PostgreSQL is asked for but not configured.
pub async fn spawn_app(db: Db) -> Option<TestApp> {
    spawn_app_with(db, &[]).await
}

/// Like `spawn_app`, with more command-line flags as `[flag, value, …]` pairs; they replace the
/// test defaults (e.g. the cheap argon2 costs).
pub async fn spawn_app_with(db: Db, extra: &[&str]) -> Option<TestApp> {
    let (database_url, database) = fresh_database(db).await?;
    Some(start(db, database_url, Some(database), extra).await)
}

/// Starts the server on a database the test made (and keeps) itself.
pub async fn spawn_app_on(db: Db, database_url: String) -> TestApp {
    start(db, database_url, None, &[]).await
}

/// Like `spawn_app_with`, but runs the built `contestd serve` binary as a child process (for
/// tests that kill the server).
pub async fn spawn_binary(db: Db, extra: &[&str]) -> Option<TestApp> {
    spawn_binary_with_env(db, extra, &[]).await
}

/// Like `spawn_binary`, with environment variables for the child (e.g. `RUST_LOG`, which is
/// `warn` unless given here).
pub async fn spawn_binary_with_env(
    db: Db,
    extra: &[&str],
    env: &[(&str, &str)],
) -> Option<TestApp> {
    let (database_url, database) = fresh_database(db).await?;
    Some(start_binary(db, database_url, Some(database), extra, env).await)
}

/// Starts the server in-process over a fresh PostgreSQL database that it reaches only through
/// a TCP proxy the test controls (`DbProxy`), or returns `None` when PostgreSQL is not
/// configured.
pub async fn spawn_app_behind_proxy(extra: &[&str]) -> Option<(TestApp, DbProxy)> {
    let (database_url, database) = fresh_database(Db::Postgres).await?;
    let mut url = reqwest::Url::parse(&database_url).expect("a database URL");
    let upstream = format!(
        "{}:{}",
        url.host_str().expect("a database host"),
        url.port().unwrap_or(5432)
    );
    let proxy = DbProxy::start(upstream).await;
    url.set_host(Some("127.0.0.1")).expect("a host");
    url.set_port(Some(proxy.port())).expect("a port");
    let app = start(Db::Postgres, url.to_string(), Some(database), extra).await;
    Some((app, proxy))
}

#[derive(Parser)]
struct Flags {
    #[command(flatten)]
    serve: ServeArgs,
}

/// The command line of a test server: the test defaults, replaced or extended by `extra`
/// (`[flag, value, …]` pairs).
fn server_flags(database_url: &str, bind: &str, extra: &[&str]) -> Vec<String> {
    let mut flags: Vec<(&str, &str)> = vec![
        ("--database-url", database_url),
        ("--bind", bind),
        ("--workers", "2"),
        ("--admin-password", ADMIN_PW),
        ("--argon2-memory-kib", "64"),
        ("--argon2-iterations", "1"),
        // Quotas no test hits unless it sets its own (the tests hammer the server).
        ("--quota-per-minute", "1000000"),
        ("--quota-burst", "1000000"),
        ("--login-per-minute", "1000000"),
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
    flags
        .into_iter()
        .flat_map(|(f, v)| [f.to_string(), v.to_string()])
        .collect()
}

fn http_client() -> reqwest::Client {
    // Shorter than the server's 5 s keep-alive, so a pooled connection is never reused
    // just as the server closes it.
    reqwest::Client::builder()
        .pool_idle_timeout(Duration::from_secs(2))
        .build()
        .expect("an HTTP client")
}

async fn start(
    db: Db,
    database_url: String,
    database: Option<TestDatabase>,
    extra: &[&str],
) -> TestApp {
    let flags = server_flags(&database_url, "127.0.0.1:0", extra);
    let argv = std::iter::once("contestd").chain(flags.iter().map(String::as_str));
    let args = Flags::try_parse_from(argv).expect("valid flags").serve;
    let app = Application::build(args)
        .await
        .expect("the application starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    let running = actix_web::rt::spawn(app.run_until_stopped());
    TestApp {
        address,
        db,
        database_url,
        client: http_client(),
        server: Server::InProcess {
            handle,
            running: parking_lot::Mutex::new(Some(running)),
        },
        counter: AtomicUsize::new(0),
        _database: database,
    }
}

/// A port no one listens on now (the OS picks it; a tiny race with other processes remains).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("a local address").port()
}

/// Runs `contestd serve` on a free port and waits until it answers `/health`.
async fn start_binary(
    db: Db,
    database_url: String,
    database: Option<TestDatabase>,
    extra: &[&str],
    env: &[(&str, &str)],
) -> TestApp {
    start_binary_on(db, database_url, database, extra, env, free_port()).await
}

/// `start_binary` on the given port.
async fn start_binary_on(
    db: Db,
    database_url: String,
    database: Option<TestDatabase>,
    extra: &[&str],
    env: &[(&str, &str)],
    port: u16,
) -> TestApp {
    let bind = format!("127.0.0.1:{port}");
    let logs = tempfile::tempdir().expect("temporary directory");
    let stdout = std::fs::File::create(logs.path().join("stdout")).expect("a log file");
    let stderr = std::fs::File::create(logs.path().join("stderr")).expect("a log file");
    let child = Command::new(env!("CARGO_BIN_EXE_contestd"))
        .arg("serve")
        .args(server_flags(&database_url, &bind, extra))
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .expect("contestd starts");
    let app = TestApp {
        address: format!("http://{bind}"),
        db,
        database_url,
        client: http_client(),
        server: Server::Process {
            child: parking_lot::Mutex::new(Some(child)),
            logs,
        },
        counter: AtomicUsize::new(0),
        _database: database,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if app.client.get(app.url("/health")).send().await.is_ok() {
            return app;
        }
        if let Server::Process { child, logs } = &app.server {
            let exited = child
                .lock()
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if let Some(status) = exited {
                panic!("contestd exited at start ({status}):\n{}", read_logs(logs));
            }
        }
        assert!(
            Instant::now() < deadline,
            "contestd did not answer on {bind} within 30 s"
        );
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // The database (a later field) is dropped after this.
        match &self.server {
            // Sent at once; a no-op when `stop` already ran.
            Server::InProcess { handle, .. } => drop(handle.stop(false)),
            Server::Process { .. } => self.kill(),
        }
    }
}

impl TestApp {
    /// A second server on this app's database (it does not own the database).
    pub async fn sibling(&self, extra: &[&str]) -> TestApp {
        start(self.db, self.database_url.clone(), None, extra).await
    }

    /// The same binary again on this app's database (it does not own the database).
    pub async fn sibling_binary(&self, extra: &[&str]) -> TestApp {
        start_binary(self.db, self.database_url.clone(), None, extra, &[]).await
    }

    /// The same binary again on this app's database and port, once this one was killed: what
    /// a browser connected to the old one reconnects to (it does not own the database).
    // Used by the browser tests (tests/browser), which share this harness.
    #[allow(dead_code)]
    pub async fn restarted(&self, extra: &[&str]) -> TestApp {
        let port = self
            .address
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("an address with a port");
        start_binary_on(self.db, self.database_url.clone(), None, extra, &[], port).await
    }

    /// Stops the server and waits until it has.
    pub async fn stop(&self) {
        match &self.server {
            Server::InProcess { handle, running } => {
                handle.stop(false).await;
                let running = running.lock().take();
                if let Some(running) = running {
                    let _ = running.await;
                }
            }
            Server::Process { .. } => self.kill(),
        }
    }
}
