//! Contest operations for admins: warm-up, bulk validation, bulk statistics.

use std::time::Instant;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize, Serializer};

use super::{parse_id_list, parse_query, Json};
use crate::auth::Admin;
use crate::error::ApiError;
use crate::model::{self, ContestStatus, Id, Score};
use crate::store::Store;
use contestd_actors::{GetFigures, Runtime, RuntimeError, Validate};

/// Most students in one bulk validation.
const MAX_VALIDATE: usize = 10_000;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/contests/warm-cache").route(web::post().to(warm_cache)))
        .service(web::resource("/contests/bulk-validation").route(web::post().to(bulk_validation)))
        .service(web::resource("/contests/bulk-stats").route(web::get().to(bulk_stats)));
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WarmRequest {
    contest_id: Id,
}

#[derive(Serialize)]
struct Warmed {
    contest_id: Id,
    warmed: True,
    enrolled: usize,
    submitted: usize,
    questions: usize,
    load_ms: u64,
}

/// `true`, always: a warm-up that fails answers an error instead, so the API's
/// `"warmed": true` has no other value.
struct True;

impl Serialize for True {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bool(true)
    }
}

/// Loads the contest into its actor (idempotent: a warm contest answers at once).
async fn warm_cache(
    _admin: Admin,
    runtime: web::Data<Runtime>,
    body: Json<WarmRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = body.contest_id;
    let started = Instant::now();
    let (_, figures) = runtime.ask(id, GetFigures).await??;
    Ok(HttpResponse::Ok().json(Warmed {
        contest_id: id,
        warmed: True,
        enrolled: figures.enrolled,
        submitted: figures.submitted,
        questions: figures.questions,
        load_ms: started.elapsed().as_millis() as u64,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ValidationRequest {
    contest_id: Id,
    student_ids: Vec<Id>,
}

#[derive(Serialize)]
struct Validation {
    student_id: Id,
    exists: bool,
    enrolled: bool,
    submitted: bool,
}

async fn bulk_validation(
    _admin: Admin,
    store: web::Data<Store>,
    runtime: web::Data<Runtime>,
    body: Json<ValidationRequest>,
) -> Result<HttpResponse, ApiError> {
    let ValidationRequest {
        contest_id,
        student_ids,
    } = body.into_inner();
    if runtime.contest(contest_id).await?.is_none() {
        return Err(ApiError::not_found("contest"));
    }
    if student_ids.is_empty() || student_ids.len() > MAX_VALIDATE {
        return Err(ApiError::bad_request(format!(
            "student_ids must hold 1 to {MAX_VALIDATE} ids"
        )));
    }
    let existing = store.existing_users(&student_ids).await?;
    let flags = runtime
        .ask(
            contest_id,
            Validate {
                students: student_ids.clone(),
            },
        )
        .await??;
    let results: Vec<Validation> = student_ids
        .into_iter()
        .zip(flags)
        .map(|(student_id, (enrolled, submitted))| Validation {
            student_id,
            exists: existing.contains(&student_id),
            enrolled,
            submitted,
        })
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "results": results })))
}

#[derive(Deserialize)]
struct StatsQuery {
    contest_ids: String,
}

#[derive(Serialize)]
struct Stats {
    contest_id: Id,
    status: ContestStatus,
    enrolled: usize,
    submitted: usize,
    average_score: Option<f64>,
    max_score: Score,
}

async fn bulk_stats(
    _admin: Admin,
    runtime: web::Data<Runtime>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let query: StatsQuery = parse_query(&req)?;
    let ids = parse_id_list(&query.contest_ids, "contest_ids", 100)?;
    let now = model::now();
    let mut stats = Vec::with_capacity(ids.len());
    let mut unknown = Vec::new();
    for id in ids {
        match runtime.ask(id, GetFigures).await {
            Ok(Ok((contest, f))) => stats.push(Stats {
                contest_id: id,
                status: contest.status(now),
                enrolled: f.enrolled,
                submitted: f.submitted,
                average_score: f.average_score,
                max_score: f.max_score,
            }),
            Err(RuntimeError::NotFound) => unknown.push(id.to_string()),
            Ok(Err(refusal)) => return Err(refusal.into()),
            Err(e) => return Err(e.into()),
        }
    }
    if !unknown.is_empty() {
        return Err(ApiError::NotFound(format!(
            "contests not found: {}",
            unknown.join(", ")
        )));
    }
    Ok(HttpResponse::Ok().json(serde_json::json!({ "stats": stats })))
}
