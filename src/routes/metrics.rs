//! `GET /metrics`: Prometheus text format. Request metrics, rate-limit refusals and the
//! writer's histograms live in the observer's registry; figures the runtime keeps as atomics
//! are read into a registry built for each scrape, so hot paths never touch prometheus and an
//! evicted contest leaves no series behind.

use std::sync::atomic::Ordering;

use actix_web::{web, HttpResponse};
use contestd_actors::Runtime;
use prometheus::core::Collector;
use prometheus::{Encoder, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry};
use prometheus::{TextEncoder, TEXT_FORMAT};

use super::health::Readiness;
use super::ws::WsState;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::observe::Observer;
use crate::store::Store;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/metrics").route(web::get().to(metrics)));
}

/// The figures of this instant, as a throwaway registry.
struct Scrape(Registry);

impl Scrape {
    fn new() -> Result<Self, prometheus::Error> {
        Ok(Scrape(Registry::new_custom(Some("contestd".into()), None)?))
    }

    fn add<C: Collector + Clone + 'static>(&self, c: C) -> Result<C, prometheus::Error> {
        self.0.register(Box::new(c.clone()))?;
        Ok(c)
    }

    fn gauge(&self, name: &str, help: &str, value: u64) -> Result<(), prometheus::Error> {
        self.add(IntGauge::new(name, help)?)?.set(value as i64);
        Ok(())
    }

    /// A counter whose running total is kept elsewhere.
    fn counter(&self, name: &str, help: &str, total: u64) -> Result<(), prometheus::Error> {
        self.add(IntCounter::new(name, help)?)?.inc_by(total);
        Ok(())
    }
}

fn current(
    runtime: &Runtime,
    store: &Store,
    ws: &WsState,
    auth: &Auth,
    readiness: &Readiness,
) -> Result<Registry, prometheus::Error> {
    let s = Scrape::new()?;
    let handles = runtime.handles();
    let depth = s.add(IntGaugeVec::new(
        Opts::new(
            "contest_mailbox_depth",
            "Messages waiting in a warm contest's mailbox",
        ),
        &["contest_id"],
    )?)?;
    for handle in &handles {
        depth
            .with_label_values(&[handle.contest_id.to_string().as_str()])
            .set(handle.published().depth.load(Ordering::Relaxed) as i64);
    }
    let capacity = s.add(IntGaugeVec::new(
        Opts::new(
            "contest_mailbox_capacity",
            "Messages a warm contest's mailbox holds before requests get 503",
        ),
        &["contest_id"],
    )?)?;
    for handle in &handles {
        capacity
            .with_label_values(&[handle.contest_id.to_string().as_str()])
            .set(handle.capacity() as i64);
    }
    s.gauge(
        "warm_contests",
        "Contests with a running actor",
        handles.len() as u64,
    )?;
    let writer = runtime.writer();
    s.gauge(
        "writer_queue_depth",
        "Submissions waiting for the writer",
        writer.queue_depth() as u64,
    )?;
    s.gauge(
        "writer_queue_capacity",
        "Submissions the writer's queue holds before submitters get 503",
        writer.queue_capacity() as u64,
    )?;
    s.counter(
        "writer_rows_total",
        "Submissions written",
        writer.stats().rows.load(Ordering::Relaxed),
    )?;
    s.gauge(
        "db_up",
        "1 while the background check reaches the database",
        u64::from(readiness.database_ok()),
    )?;
    s.gauge(
        "ready",
        "1 while /health/ready answers 200",
        u64::from(readiness.blocker().is_none()),
    )?;
    if let Some(listener) = readiness.cluster() {
        let (connects, own, received, applied) = listener.figures();
        s.gauge(
            "listener_up",
            "1 while the node listens for other nodes' changes",
            u64::from(listener.listening()),
        )?;
        s.counter(
            "listener_connects_total",
            "Connections made to listen for other nodes' changes",
            connects,
        )?;
        let notices = s.add(IntCounterVec::new(
            Opts::new(
                "notifications_total",
                "Change notifications heard: own (applied when made), ignored (of other \
                 nodes, about nothing this node holds), applied",
            ),
            &["outcome"],
        )?)?;
        notices.with_label_values(&["own"]).inc_by(own);
        notices
            .with_label_values(&["ignored"])
            .inc_by(received.saturating_sub(applied));
        notices.with_label_values(&["applied"]).inc_by(applied);
    }
    let pool = store.pool_stats();
    s.gauge(
        "db_pool_size",
        "Database connections open",
        u64::from(pool.pool_size),
    )?;
    s.gauge(
        "db_pool_idle",
        "Database connections idle",
        pool.pool_idle as u64,
    )?;
    s.gauge(
        "db_pool_max",
        "Database connections allowed",
        u64::from(pool.pool_max),
    )?;
    s.gauge(
        "ws_connections",
        "Open WebSocket connections",
        ws.open.load(Ordering::Relaxed) as u64,
    )?;
    s.counter(
        "ws_dropped_slow_total",
        "WebSockets closed because they did not read",
        ws.dropped_slow.load(Ordering::Relaxed),
    )?;
    s.counter(
        "snapshot_loads_total",
        "Contest snapshots read from the database",
        runtime.loads(),
    )?;
    let hits = s.add(IntCounterVec::new(
        Opts::new("cache_hits_total", "Lookups answered from memory"),
        &["cache"],
    )?)?;
    let misses = s.add(IntCounterVec::new(
        Opts::new("cache_misses_total", "Lookups that had to go further"),
        &["cache"],
    )?)?;
    for (cache, (hit, miss)) in [
        ("token", auth.cache_figures()),
        ("contest", runtime.lookups().figures()),
    ] {
        hits.with_label_values(&[cache]).inc_by(hit);
        misses.with_label_values(&[cache]).inc_by(miss);
    }
    Ok(s.0)
}

async fn metrics(
    observer: web::Data<Observer>,
    runtime: web::Data<Runtime>,
    store: web::Data<Store>,
    ws: web::Data<WsState>,
    auth: web::Data<Auth>,
    readiness: web::Data<Readiness>,
) -> Result<HttpResponse, ApiError> {
    let unexpected = |e: prometheus::Error| ApiError::Unexpected(e.into());
    let mut families = observer.registry.gather();
    families.extend(
        current(&runtime, &store, &ws, &auth, &readiness)
            .map_err(unexpected)?
            .gather(),
    );
    let mut out = Vec::new();
    TextEncoder::new()
        .encode(&families, &mut out)
        .map_err(unexpected)?;
    Ok(HttpResponse::Ok().content_type(TEXT_FORMAT).body(out))
}
