//! `/health`: the database's reachability (checked in the background, never on a request's
//! path), the writer's and the actors' figures. `503` with `"degraded"` while the database
//! cannot be reached.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use chrono::Utc;
use contestd_actors::{Runtime, WriterHandle};
use serde::Serialize;

use crate::cluster::{Cluster, ListenerStatus};
use crate::model::Id;
use crate::store::{PoolStats, Store};

/// When the server started, for `/health`'s `uptime_s`.
#[derive(Clone, Copy)]
pub struct Started(pub std::time::Instant);

/// The longest a database check may take before the database counts as unreachable.
const DB_CHECK_TIMEOUT: Duration = Duration::from_secs(1);

/// Whether the last background check reached the database.
pub struct DbCheck {
    ok: AtomicBool,
}

impl DbCheck {
    pub fn ok(&self) -> bool {
        self.ok.load(Ordering::Relaxed)
    }
}

/// Checks the database every `every` (each check within `min(every, 1 s)`); abort the handle
/// to stop.
pub fn spawn_db_check(
    store: Store,
    every: Duration,
) -> (Arc<DbCheck>, actix_web::rt::task::JoinHandle<()>) {
    let check = Arc::new(DbCheck {
        ok: AtomicBool::new(true),
    });
    let every = every.max(Duration::from_millis(10));
    let timeout = every.min(DB_CHECK_TIMEOUT);
    let task = actix_web::rt::spawn({
        let check = check.clone();
        async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let ok = matches!(
                    tokio::time::timeout(timeout, store.ping()).await,
                    Ok(Ok(()))
                );
                if check.ok.swap(ok, Ordering::Relaxed) != ok {
                    if ok {
                        tracing::info!("database reachable again");
                    } else {
                        tracing::warn!("database unreachable: /health reports degraded");
                    }
                }
            }
        }
    });
    (check, task)
}

/// Whether a proxy should send this node traffic (`GET /health/ready`).
pub struct Readiness {
    draining: AtomicBool,
    db: Arc<DbCheck>,
    /// On PostgreSQL: the listener for other nodes' changes.
    cluster: Option<Arc<Cluster>>,
}

impl Readiness {
    pub fn new(db: Arc<DbCheck>, cluster: Option<Arc<Cluster>>) -> Self {
        Readiness {
            draining: AtomicBool::new(false),
            db,
            cluster,
        }
    }

    /// A shutdown began: from now on the node is not ready, though it still serves.
    pub fn drain(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }

    /// Why the node should get no traffic now, if so.
    pub fn blocker(&self) -> Option<&'static str> {
        if self.draining.load(Ordering::Relaxed) {
            Some("draining")
        } else if !self.db.ok() {
            Some("database unreachable")
        } else if self.cluster.as_ref().is_some_and(|c| !c.listening()) {
            Some("not listening for other nodes' changes")
        } else {
            None
        }
    }

    pub fn database_ok(&self) -> bool {
        self.db.ok()
    }

    pub fn cluster(&self) -> Option<&Cluster> {
        self.cluster.as_deref()
    }

    pub fn listener(&self) -> Option<ListenerStatus> {
        self.cluster.as_ref().map(|c| c.status())
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource(["/health", "/api/contests/health"]).route(web::get().to(health)))
        .service(web::resource("/health/ready").route(web::get().to(ready)));
}

/// `200` while the node should get traffic; `503 not_ready` while it starts listening,
/// drains after SIGTERM, or cannot reach its database.
async fn ready(readiness: web::Data<Readiness>) -> HttpResponse {
    match readiness.blocker() {
        None => HttpResponse::Ok().json(serde_json::json!({ "status": "ready" })),
        Some(why) => HttpResponse::ServiceUnavailable()
            .insert_header((header::RETRY_AFTER, "1"))
            .json(serde_json::json!({ "error": { "code": "not_ready", "message": why } })),
    }
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
    /// Whether `/health/ready` answers 200.
    ready: bool,
    uptime_s: u64,
    /// The listener for other nodes' changes (`null` on SQLite, served by one process).
    listener: Option<ListenerStatus>,
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
pub struct WriterHealth {
    queue_depth: usize,
    batches: u64,
    rows: u64,
    last_batch_size: u64,
    last_flush_ms: f64,
}

impl WriterHealth {
    pub fn of(writer: &WriterHandle) -> Self {
        let stats = writer.stats();
        WriterHealth {
            queue_depth: writer.queue_depth(),
            batches: stats.batches.load(Ordering::Relaxed),
            rows: stats.rows.load(Ordering::Relaxed),
            last_batch_size: stats.last_batch_size.load(Ordering::Relaxed),
            last_flush_ms: stats.last_flush_us.load(Ordering::Relaxed) as f64 / 1000.0,
        }
    }
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
    /// Students with a saved draft and no submission.
    drafts: usize,
    /// Keyed retries waiting for the outcome of the submission they repeat.
    retries_waiting: usize,
    idle_s: u64,
}

async fn health(
    store: web::Data<Store>,
    runtime: web::Data<Runtime>,
    started: web::Data<Started>,
    db_check: web::Data<DbCheck>,
    readiness: web::Data<Readiness>,
) -> HttpResponse {
    let ok = db_check.ok();
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
                drafts: p.drafts.load(Ordering::Relaxed),
                retries_waiting: p.retries_waiting.load(Ordering::Relaxed),
                idle_s: (p.idle_ms(now) / 1000) as u64,
            }
        })
        .collect();
    let body = Health {
        status: if ok { "ok" } else { "degraded" },
        ready: readiness.blocker().is_none(),
        uptime_s: started.0.elapsed().as_secs(),
        listener: readiness.listener(),
        db: DbHealth {
            ok,
            pool: store.pool_stats(),
        },
        writer: WriterHealth::of(runtime.writer()),
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
