//! Builds the application: opens the store, runs migrations, creates the first admin, binds
//! the listener (port 0 picks a free one, so tests can ask for it) and composes the routes.

use std::io::IsTerminal;

use anyhow::Context;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};

use actix_web::rt::task::JoinHandle;
use contestd_actors::Runtime;

use crate::auth::password::Passwords;
use crate::auth::{self, resolve_caller, Auth, OnRevoke, TokenCache};
use crate::cluster::{Cluster, Listener};
use crate::config::ServeArgs;
use crate::error::{configure_extractors, json_error_shape, unknown_route};
use crate::model;
use crate::observe::{observe_request, Observer};
use crate::quota::{self, Quotas};
use crate::receipts::Signer;
use crate::routes;
use crate::routes::health::{spawn_db_check, Readiness, Started};
use crate::routes::ws::WsState;
use crate::routes::BodyDeadline;
use crate::store::Store;

/// How often expired sessions are deleted.
const SESSION_SWEEP_EVERY: Duration = Duration::from_secs(600);

pub struct Application {
    port: u16,
    server: Server,
    store: Store,
    runtime: web::Data<Runtime>,
    ws: web::Data<WsState>,
    shutdown: Duration,
    /// How long the node keeps serving after a signal while `/health/ready` says it drains.
    drain: Duration,
    readiness: web::Data<Readiness>,
    /// Background tasks, stopped with the server.
    tasks: Vec<JoinHandle<()>>,
    /// On SQLite: this process's claim on the database file.
    _serving_lock: Option<std::fs::File>,
}

impl Application {
    pub async fn build(args: ServeArgs) -> anyhow::Result<Self> {
        // The listener first: a taken port fails the start before any actor runs.
        let listener = listen(args.bind, args.listen_backlog)
            .with_context(|| format!("cannot listen on {}", args.bind))?;
        let port = listener
            .local_addr()
            .context("the listener has no local address")?
            .port();
        let cluster = Cluster::new();
        let store = Store::connect_as(&args.db, &cluster.pool_name()).await?;
        let serving_lock = store.lock_for_serving()?;
        store.migrate().await?;
        let signer = web::Data::new(
            Signer::load(&store)
                .await
                .context("the receipts' signing key")?,
        );
        let site = web::Data::new(crate::web::Site::load().context("the pages in web/")?);
        let passwords = Passwords::new(&args.passwords).context("the argon2 settings")?;
        if let Some(generated) =
            auth::ensure_admin(&store, &passwords, args.admin_password.as_deref()).await?
        {
            announce_generated_password(&store, &generated)?;
        }
        let cache = TokenCache::new(
            args.token_cache_size,
            args.token_cache_ttl_secs.map(Duration::from_secs),
        );
        let ws = web::Data::new(routes::ws::WsState::new(&args.ws));
        let on_revoke: OnRevoke = {
            let ws = ws.clone();
            Arc::new(move |user, token| ws.revoke(user, token))
        };
        let auth = web::Data::new(Auth::new(
            store.clone(),
            passwords,
            Duration::from_secs(args.token_ttl_secs),
            cache,
            on_revoke,
        ));

        let observer = Observer::new().context("the metrics registry")?;
        let quotas = Quotas::new(&args.protect, observer.rate_limited.clone());
        let runtime = web::Data::new(crate::runtime::start(
            &store,
            &args.runtime,
            observer.flush_observer(),
        ));
        let observer = web::Data::new(observer);
        let (db_check, db_checker) = spawn_db_check(
            store.clone(),
            Duration::from_millis(args.protect.health_check_ms),
        );
        let mut tasks = vec![
            spawn_draft_catch_up(store.clone(), runtime.get_ref().clone()),
            spawn_session_sweeper(store.clone()),
            quota::spawn_forgetter(quotas.clone()),
            db_checker,
        ];
        let changes = Listener {
            cluster: cluster.clone(),
            store: store.clone(),
            runtime: runtime.get_ref().clone(),
            auth: auth.clone(),
        }
        .spawn();
        let listening = changes.is_some().then_some(cluster);
        tasks.extend(changes);
        let readiness = web::Data::new(Readiness::new(db_check.clone(), listening));
        let quotas = web::Data::from(quotas);
        let db_check = web::Data::from(db_check);

        let store_data = web::Data::new(store.clone());
        let started = web::Data::new(Started(Instant::now()));
        let shutdown = Duration::from_secs(args.protect.shutdown_secs.max(1));
        let body_deadline = BodyDeadline(Duration::from_secs(args.body_timeout_secs.max(1)));
        let server = HttpServer::new({
            let (runtime, ws, readiness) = (runtime.clone(), ws.clone(), readiness.clone());
            move || {
                App::new()
                    .wrap(from_fn(resolve_caller))
                    .wrap(json_error_shape())
                    .wrap(from_fn(observe_request))
                    .app_data(store_data.clone())
                    .app_data(auth.clone())
                    .app_data(started.clone())
                    .app_data(runtime.clone())
                    .app_data(ws.clone())
                    .app_data(observer.clone())
                    .app_data(quotas.clone())
                    .app_data(db_check.clone())
                    .app_data(readiness.clone())
                    .app_data(signer.clone())
                    .app_data(site.clone())
                    .app_data(body_deadline)
                    .configure(configure_extractors)
                    .configure(routes::configure)
                    .configure(crate::web::configure)
                    .default_service(web::to(unknown_route))
            }
        })
        .workers(args.workers())
        // Every wait on a client has a deadline: the request head, the body (`BodyDeadline`),
        // an idle keep-alive connection, the close after an answer; and each worker holds a
        // bounded number of connections.
        .client_request_timeout(Duration::from_secs(args.header_timeout_secs.max(1)))
        .keep_alive(Duration::from_secs(args.keep_alive_secs))
        .client_disconnect_timeout(Duration::from_secs(1))
        .max_connections(args.max_connections.max(1))
        // Signals are ours: WebSockets must be told to close before the server waits for them.
        .disable_signals()
        // Most of the deadline for requests to finish; the rest for the writer's queue.
        .shutdown_timeout((shutdown.as_secs() * 2 / 3).max(1))
        // Small frames (timer ticks, JSON answers) go out at once, not after Nagle's wait.
        .tcp_nodelay(true)
        .listen(listener)
        .context("cannot serve on the listener")?
        .run();

        tracing::info!(port, backend = store.backend(), "contestd listening");
        Ok(Application {
            port,
            server,
            store,
            runtime,
            ws,
            shutdown,
            drain: Duration::from_secs(args.protect.drain_secs),
            readiness,
            tasks,
            _serving_lock: serving_lock,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until SIGTERM or Ctrl-C (or a stop through the handle), then shuts down within
    /// the deadline: not ready at once, still serving for the drain time (so a proxy stops
    /// sending traffic first), then no new connections, WebSockets closed with 1001, requests
    /// in flight finished, every queued submission written and answered, the pool closed.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let signals = actix_web::rt::spawn({
            let (server, ws) = (self.server.handle(), self.ws.clone());
            let (readiness, drain) = (self.readiness.clone(), self.drain);
            async move {
                let signal = shutdown_signal().await;
                readiness.drain();
                tracing::info!(signal, drain_s = drain.as_secs(), "shutting down");
                tokio::time::sleep(drain).await;
                ws.close_all();
                server.stop(true).await;
            }
        });
        let result = self.server.await;
        signals.abort();
        self.ws.close_all();
        // Requests are answered; rows whose clients went away may still be queued.
        let writer = self.runtime.writer();
        let rest = (self.shutdown / 3).max(Duration::from_secs(1));
        if tokio::time::timeout(rest, writer.drained()).await.is_err() {
            tracing::error!(
                queued = writer.queue_depth(),
                "shutdown deadline passed with submissions unwritten"
            );
        }
        for task in &self.tasks {
            task.abort();
        }
        // Each is dropped here, inside the runtime: a database connection a task held must be
        // given back while there is one to do it.
        for task in self.tasks {
            let _ = task.await;
        }
        self.store.close().await;
        tracing::info!("stopped");
        result
    }
}

/// The only way to learn a generated admin password: a file only its owner can read (beside
/// the SQLite file, else in the working folder), and the console when it is a terminal. Never
/// a log or a captured stdout, where it would outlive its use.
fn announce_generated_password(store: &Store, password: &str) -> anyhow::Result<()> {
    let folder = store.file_folder().unwrap_or_else(|| ".".into());
    let path = auth::keep_generated_password(&folder, password).with_context(|| {
        format!(
            "cannot write the generated admin password to {}",
            folder.join(auth::ADMIN_PASSWORD_FILE).display()
        )
    })?;
    tracing::warn!(file = %path.display(), "created user `admin` with a generated password, kept in the file");
    if std::io::stdout().is_terminal() {
        println!("created user `admin` with password: {password}");
    }
    Ok(())
}

/// A listening socket with our backlog (std's `TcpListener::bind` uses 128, and a class of
/// 10,000 connecting at once overflows it).
fn listen(address: std::net::SocketAddr, backlog: u32) -> std::io::Result<TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(address), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.bind(&address.into())?;
    socket.listen(backlog.min(i32::MAX as u32) as i32)?;
    Ok(socket.into())
}

/// The name of the first of SIGTERM or SIGINT (Ctrl-C) to arrive.
async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        },
        _ => {
            tracing::warn!("cannot listen for signals; stop with the handle only");
            std::future::pending().await
        }
    }
}

/// Warms every contest holding drafts of students without a submission: their actors submit
/// the drafts at the deadline, or at once when it passed while no node was running.
fn spawn_draft_catch_up(store: Store, runtime: Runtime) -> JoinHandle<()> {
    actix_web::rt::spawn(async move {
        let contests = match store.contests_with_drafts().await {
            Ok(contests) => contests,
            Err(e) => {
                tracing::warn!(error = %e, "could not look for drafts to submit");
                return;
            }
        };
        for id in contests {
            if let Err(e) = runtime.contest(id).await {
                tracing::warn!(contest_id = id, error = ?e, "could not warm a contest with drafts");
            }
        }
    })
}

fn spawn_session_sweeper(store: Store) -> JoinHandle<()> {
    actix_web::rt::spawn(async move {
        let mut every = tokio::time::interval(SESSION_SWEEP_EVERY);
        loop {
            every.tick().await;
            match store.delete_expired_sessions(model::now()).await {
                Ok(n) if n > 0 => tracing::info!(deleted = n, "expired sessions deleted"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "could not delete expired sessions"),
            }
        }
    })
}
