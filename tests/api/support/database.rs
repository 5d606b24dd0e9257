//! The database a test owns: a fresh one per test and the guard that removes it, write locks
//! and reachability switches on it, and a TCP proxy the test can close or stall.

use sqlx::{Connection, PgConnection, SqliteConnection};
use tempfile::TempDir;
use uuid::Uuid;

use super::{Db, TestApp};

/// The database a test owns, removed when dropped (also when the app fails to start).
pub enum TestDatabase {
    /// Deleted with the directory when dropped.
    Sqlite {
        _dir: TempDir,
    },
    Postgres {
        server_url: String,
        name: String,
    },
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
                    // A test may have locked the database (`ALLOW_CONNECTIONS false`).
                    let sql = format!(r#"ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true"#);
                    let _ = sqlx::raw_sql(&sql).execute(&mut conn).await;
                    let sql = format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#);
                    let _ = sqlx::raw_sql(&sql).execute(&mut conn).await;
                    let _ = conn.close().await;
                }
            });
        });
        let _ = dropper.join();
    }
}

/// A new empty database: its URL and the guard that removes it.
pub async fn fresh_database(db: Db) -> Option<(String, TestDatabase)> {
    Some(match db {
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
    })
}

/// `CONTESTD_TEST_POSTGRES_URL`, or `None` (skip) unless `CONTESTD_TEST_REQUIRE_POSTGRES=1`.
pub(super) fn postgres_url() -> Option<String> {
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

impl TestApp {
    /// The name of this app's PostgreSQL database.
    fn postgres_name(&self) -> String {
        assert_eq!(self.db, Db::Postgres, "a PostgreSQL app");
        let url = reqwest::Url::parse(&self.database_url).expect("a database URL");
        url.path().trim_start_matches('/').to_string()
    }

    /// Takes a write lock on the `submissions` table from a connection of the test's own
    /// (reads go on): the server's writer blocks until the lock is released.
    pub async fn lock_submissions(&self) -> WriteLock {
        let url = &self.database_url;
        match self.db {
            Db::Postgres => {
                let mut conn = PgConnection::connect(url).await.expect("a connection");
                sqlx::raw_sql("BEGIN; LOCK TABLE submissions IN EXCLUSIVE MODE")
                    .execute(&mut conn)
                    .await
                    .expect("the lock");
                WriteLock::Postgres(conn)
            }
            Db::Sqlite => {
                let mut conn = SqliteConnection::connect(url).await.expect("a connection");
                sqlx::raw_sql("BEGIN IMMEDIATE")
                    .execute(&mut conn)
                    .await
                    .expect("the lock");
                WriteLock::Sqlite(conn)
            }
        }
    }

    /// How many submissions of the contest the database holds, read over a connection of the
    /// test's own: no request reaches the server (so nothing asks it to load the contest).
    pub async fn stored_submissions(&self, contest_id: i64) -> i64 {
        let sql = format!("SELECT COUNT(*) FROM submissions WHERE contest_id = {contest_id}");
        let url = &self.database_url;
        match self.db {
            Db::Postgres => {
                let mut conn = PgConnection::connect(url).await.expect("a connection");
                let n: i64 = sqlx::query_scalar(&sql)
                    .fetch_one(&mut conn)
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
                let _ = conn.close().await;
                n
            }
            Db::Sqlite => {
                let mut conn = SqliteConnection::connect(url).await.expect("a connection");
                let n: i64 = sqlx::query_scalar(&sql)
                    .fetch_one(&mut conn)
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
                let _ = conn.close().await;
                n
            }
        }
    }

    /// Cuts this app's PostgreSQL database off (`ALLOW_CONNECTIONS false`, every backend
    /// terminated) or lets connections in again, from an admin connection to the server.
    /// Teardown allows connections again before dropping the database.
    pub async fn set_database_reachable(&self, reachable: bool) {
        let name = self.postgres_name();
        let server_url = postgres_url().expect("a PostgreSQL test");
        let mut conn = PgConnection::connect(&server_url)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to {server_url}: {e}"));
        let sql = format!(r#"ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS {reachable}"#);
        sqlx::raw_sql(&sql)
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        if !reachable {
            let sql = format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = '{name}' AND pid <> pg_backend_pid()"
            );
            sqlx::raw_sql(&sql)
                .execute(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
        let _ = conn.close().await;
    }
}

/// A write lock taken by `TestApp::lock_submissions`; dropping the connection also frees it.
pub enum WriteLock {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

impl WriteLock {
    /// Rolls the locking transaction back and closes the connection.
    pub async fn release(self) {
        match self {
            WriteLock::Postgres(mut conn) => {
                sqlx::raw_sql("ROLLBACK")
                    .execute(&mut conn)
                    .await
                    .expect("unlock");
                let _ = conn.close().await;
            }
            WriteLock::Sqlite(mut conn) => {
                sqlx::raw_sql("ROLLBACK")
                    .execute(&mut conn)
                    .await
                    .expect("unlock");
                let _ = conn.close().await;
            }
        }
    }
}

/// A TCP proxy on `127.0.0.1` in front of the PostgreSQL server, which the test can close (no
/// listener, every live connection dropped), stall (every connection, live or new, kept open
/// but nothing forwarded) and open again, always on the same port.
pub struct DbProxy {
    port: u16,
    upstream: String,
    stalled: tokio::sync::watch::Sender<bool>,
    /// Owns the listener and, in a `JoinSet`, every connection: aborting it drops them all.
    task: Option<tokio::task::JoinHandle<()>>,
}

impl DbProxy {
    /// Opens a proxy on a free port, forwarding to `upstream` (`host:port`).
    pub(super) async fn start(upstream: String) -> DbProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a proxy port");
        let port = listener.local_addr().expect("a local address").port();
        let mut proxy = DbProxy {
            port,
            upstream,
            stalled: tokio::sync::watch::Sender::new(false),
            task: None,
        };
        proxy.task = Some(proxy.serve(listener));
        proxy
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Drops every connection, then forwards new ones again, on the same port.
    pub async fn open(&mut self) {
        self.close().await;
        self.stalled.send_replace(false);
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port))
            .await
            .unwrap_or_else(|e| panic!("cannot listen on port {} again: {e}", self.port));
        self.task = Some(self.serve(listener));
    }

    /// Stops listening and drops every live connection; returns once they are gone.
    pub async fn close(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }

    /// Stops forwarding on every connection, live or new, but keeps them open: a database
    /// that hangs rather than refuses.
    pub fn stall(&self) {
        self.stalled.send_replace(true);
    }

    fn serve(&self, listener: tokio::net::TcpListener) -> tokio::task::JoinHandle<()> {
        let upstream = self.upstream.clone();
        let stalled = self.stalled.subscribe();
        tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((mut client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let mut stalled = stalled.clone();
                connections.spawn(async move {
                    let forward = async {
                        if let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                        }
                    };
                    tokio::select! {
                        biased;
                        _ = stalled.wait_for(|s| *s) => {}
                        () = forward => return,
                    }
                    // Stalled: the client's socket stays open, unanswered, until the proxy
                    // closes.
                    std::future::pending::<()>().await;
                });
            }
        })
    }
}

impl Drop for DbProxy {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}
