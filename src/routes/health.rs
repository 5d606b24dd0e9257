use std::time::Duration;

use actix_web::{web, HttpResponse};
use serde::Serialize;

use crate::startup::Started;
use crate::store::{PoolStats, Store};

/// How long `/health` waits for the database before calling it unreachable.
const DB_CHECK_TIMEOUT: Duration = Duration::from_secs(1);

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource(["/health", "/api/contests/health"]).route(web::get().to(health)));
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
    uptime_s: u64,
    db: DbHealth,
}

#[derive(Serialize)]
struct DbHealth {
    ok: bool,
    #[serde(flatten)]
    pool: PoolStats,
}

async fn health(store: web::Data<Store>, started: web::Data<Started>) -> HttpResponse {
    let ok = matches!(
        tokio::time::timeout(DB_CHECK_TIMEOUT, store.ping()).await,
        Ok(Ok(()))
    );
    let body = Health {
        status: if ok { "ok" } else { "degraded" },
        uptime_s: started.0.elapsed().as_secs(),
        db: DbHealth {
            ok,
            pool: store.pool_stats(),
        },
    };
    if ok {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}
