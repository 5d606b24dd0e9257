//! Builds the application: opens the store, runs migrations, creates the first admin, binds
//! the listener (port 0 picks a free one, so tests can ask for it) and composes the routes.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};

use crate::auth::password::Passwords;
use crate::auth::{self, resolve_caller, Auth, TokenCache};
use crate::config::ServeArgs;
use crate::error::{configure_extractors, json_error_shape, unknown_route};
use crate::model;
use crate::routes;
use crate::store::Store;

/// When the server started, for `/health`'s `uptime_s`.
#[derive(Clone, Copy)]
pub struct Started(pub Instant);

/// How often expired sessions are deleted.
const SESSION_SWEEP_EVERY: Duration = Duration::from_secs(600);

pub struct Application {
    port: u16,
    server: Server,
    store: Store,
    sweeper: actix_web::rt::task::JoinHandle<()>,
}

impl Application {
    pub async fn build(args: ServeArgs) -> Result<Self, String> {
        let store = Store::connect(&args.db).await?;
        store.migrate().await?;
        let passwords = Passwords::new(&args.passwords)?;
        if let Some(generated) =
            auth::ensure_admin(&store, &passwords, args.admin_password.as_deref()).await?
        {
            // Printed once, on the console only: it is the only way to learn it.
            println!("created user `admin` with password: {generated}");
        }
        let cache = TokenCache::new(
            args.token_cache_size,
            Duration::from_secs(args.token_cache_ttl_secs),
        );
        let auth = web::Data::new(Auth::new(
            store.clone(),
            passwords,
            Duration::from_secs(args.token_ttl_secs),
            cache,
        ));

        let runtime = web::Data::new(crate::runtime::start(&store, &args.runtime));
        let ws = web::Data::new(routes::ws::WsState::new(&args.ws));
        let metrics = web::Data::new(
            routes::metrics::Metrics::new().map_err(|e| format!("metrics registry: {e}"))?,
        );

        let listener = TcpListener::bind(args.bind)
            .map_err(|e| format!("cannot listen on {}: {e}", args.bind))?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let store_data = web::Data::new(store.clone());
        let started = web::Data::new(Started(Instant::now()));
        let server = HttpServer::new(move || {
            App::new()
                .wrap(from_fn(resolve_caller))
                .wrap(json_error_shape())
                .wrap(tracing_actix())
                .app_data(store_data.clone())
                .app_data(auth.clone())
                .app_data(started.clone())
                .app_data(runtime.clone())
                .app_data(ws.clone())
                .app_data(metrics.clone())
                .configure(configure_extractors)
                .configure(routes::configure)
                .default_service(web::to(unknown_route))
        })
        .workers(args.workers())
        // Small frames (timer ticks, JSON answers) go out at once, not after Nagle's wait.
        .tcp_nodelay(true)
        .listen(listener)
        .map_err(|e| e.to_string())?
        .run();

        let sweeper = spawn_session_sweeper(store.clone());
        tracing::info!(port, backend = store.backend(), "contestd listening");
        Ok(Application {
            port,
            server,
            store,
            sweeper,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until the server is stopped (signal or handle), then stops the background
    /// tasks and closes the pool.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        self.sweeper.abort();
        self.store.close().await;
        result
    }
}

fn tracing_actix() -> actix_web::middleware::Logger {
    actix_web::middleware::Logger::new("%r %s %Dms").log_target("contestd::http")
}

fn spawn_session_sweeper(store: Store) -> actix_web::rt::task::JoinHandle<()> {
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
