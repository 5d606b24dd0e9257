//! `GET /metrics`: Prometheus text format. Figures the runtime keeps as atomics are read into
//! gauges at scrape time, so the hot paths never touch the registry.

use std::sync::atomic::Ordering;

use actix_web::{web, HttpResponse};
use contestd_actors::Runtime;
use prometheus::{Encoder, IntGauge, Registry, TextEncoder};

use super::ws::WsState;
use crate::error::ApiError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/metrics").route(web::get().to(metrics)));
}

pub struct Metrics {
    registry: Registry,
    ws_connections: IntGauge,
    warm_contests: IntGauge,
    snapshot_loads: IntGauge,
    writer_queue_depth: IntGauge,
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(Some("contestd".into()), None)?;
        let gauge = |name: &str, help: &str| -> Result<IntGauge, prometheus::Error> {
            let g = IntGauge::new(name, help)?;
            registry.register(Box::new(g.clone()))?;
            Ok(g)
        };
        Ok(Metrics {
            ws_connections: gauge("ws_connections", "Open WebSocket connections")?,
            warm_contests: gauge("warm_contests", "Contests with a running actor")?,
            snapshot_loads: gauge(
                "snapshot_loads",
                "Contest snapshots read from the database since start",
            )?,
            writer_queue_depth: gauge("writer_queue_depth", "Submissions waiting for the writer")?,
            registry,
        })
    }
}

async fn metrics(
    metrics: web::Data<Metrics>,
    runtime: web::Data<Runtime>,
    ws: web::Data<WsState>,
) -> Result<HttpResponse, ApiError> {
    metrics
        .ws_connections
        .set(ws.open.load(Ordering::Relaxed) as i64);
    metrics.warm_contests.set(runtime.handles().len() as i64);
    metrics.snapshot_loads.set(runtime.loads() as i64);
    metrics
        .writer_queue_depth
        .set(runtime.writer().queue_depth() as i64);
    let mut out = Vec::new();
    TextEncoder::new()
        .encode(&metrics.registry.gather(), &mut out)
        .map_err(|e| ApiError::Unexpected(e.into()))?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(out))
}
