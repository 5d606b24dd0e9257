use std::sync::atomic::Ordering;
use std::time::Duration;

use actix_web::{web, HttpResponse};
use chrono::Utc;
use contestd_actors::Runtime;
use serde::Serialize;

use crate::model::Id;
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
    writer: WriterHealth,
    actors: ActorsHealth,
}

#[derive(Serialize)]
struct DbHealth {
    ok: bool,
    #[serde(flatten)]
    pool: PoolStats,
}

#[derive(Serialize)]
struct WriterHealth {
    queue_depth: usize,
    batches: u64,
    rows: u64,
    last_batch_size: u64,
    last_flush_ms: f64,
}

#[derive(Serialize)]
struct ActorsHealth {
    count: usize,
    /// Contest snapshots read from the database since start.
    loads: u64,
    contests: Vec<ActorHealth>,
}

#[derive(Serialize)]
struct ActorHealth {
    contest_id: Id,
    mailbox_depth: usize,
    enrolled: usize,
    submitted: usize,
    subscribers: usize,
    idle_s: u64,
}

async fn health(
    store: web::Data<Store>,
    runtime: web::Data<Runtime>,
    started: web::Data<Started>,
) -> HttpResponse {
    let ok = matches!(
        tokio::time::timeout(DB_CHECK_TIMEOUT, store.ping()).await,
        Ok(Ok(()))
    );
    let writer = runtime.writer();
    let stats = writer.stats();
    let now = Utc::now();
    let contests: Vec<ActorHealth> = runtime
        .handles()
        .iter()
        .map(|h| {
            let p = h.published();
            ActorHealth {
                contest_id: h.contest_id,
                mailbox_depth: p.depth.load(Ordering::Relaxed),
                enrolled: p.enrolled.load(Ordering::Relaxed),
                submitted: p.submitted.load(Ordering::Relaxed),
                subscribers: p.subscribers.load(Ordering::Relaxed),
                idle_s: (p.idle_ms(now) / 1000) as u64,
            }
        })
        .collect();
    let body = Health {
        status: if ok { "ok" } else { "degraded" },
        uptime_s: started.0.elapsed().as_secs(),
        db: DbHealth {
            ok,
            pool: store.pool_stats(),
        },
        writer: WriterHealth {
            queue_depth: writer.queue_depth(),
            batches: stats.batches.load(Ordering::Relaxed),
            rows: stats.rows.load(Ordering::Relaxed),
            last_batch_size: stats.last_batch_size.load(Ordering::Relaxed),
            last_flush_ms: stats.last_flush_us.load(Ordering::Relaxed) as f64 / 1000.0,
        },
        actors: ActorsHealth {
            count: contests.len(),
            loads: runtime.loads(),
            contests,
        },
    };
    if ok {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}
