//! `GET /api/contests/performance` (admin): per route, the count and p50/p95/p99 latency over
//! the last 5 minutes, cache hit rates, rate-limit refusals and the writer's figures.

use actix_web::{web, HttpResponse};
use contestd_actors::Runtime;
use serde::Serialize;

use super::health::WriterHealth;
use crate::auth::{Admin, Auth};
use crate::observe::window::{RouteFigures, WINDOW};
use crate::observe::Observer;
use crate::quota::{Quotas, Scope};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/contests/performance").route(web::get().to(performance)));
}

#[derive(Serialize)]
struct Performance {
    window_s: u64,
    routes: Vec<RouteFigures>,
    caches: Caches,
    rate_limited: RateLimited,
    writer: WriterHealth,
}

#[derive(Serialize)]
struct Caches {
    token: CacheFigures,
    contest: CacheFigures,
}

#[derive(Serialize)]
struct CacheFigures {
    hits: u64,
    misses: u64,
    hit_rate: f64,
}

impl CacheFigures {
    fn new((hits, misses): (u64, u64)) -> Self {
        let total = hits + misses;
        let hit_rate = if total == 0 {
            0.0
        } else {
            hits as f64 / total as f64
        };
        CacheFigures {
            hits,
            misses,
            hit_rate,
        }
    }
}

#[derive(Serialize)]
struct RateLimited {
    user: u64,
    login_address: u64,
    login_username: u64,
    bad_token: u64,
}

async fn performance(
    _: Admin,
    observer: web::Data<Observer>,
    quotas: web::Data<Quotas>,
    auth: web::Data<Auth>,
    runtime: web::Data<Runtime>,
) -> HttpResponse {
    HttpResponse::Ok().json(Performance {
        window_s: WINDOW.as_secs(),
        routes: observer.window.report(),
        caches: Caches {
            token: CacheFigures::new(auth.cache_figures()),
            contest: CacheFigures::new(runtime.lookups().figures()),
        },
        rate_limited: RateLimited {
            user: quotas.refused(Scope::User),
            login_address: quotas.refused(Scope::LoginAddress),
            login_username: quotas.refused(Scope::LoginUsername),
            bad_token: quotas.refused(Scope::BadToken),
        },
        writer: WriterHealth::of(runtime.writer()),
    })
}
