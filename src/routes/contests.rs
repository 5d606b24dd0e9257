use actix_web::http::header::ContentType;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Json;
use super::{parse_body, Body};
use crate::auth::{Admin, Caller};
use crate::error::ApiError;
use crate::model::{self, ContestPatch, ContestStatus, ContestWithQuestions, Id, NewContest};
use crate::store::Store;
use contestd_actors::{AdminView, Change, GetView, Runtime};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/contests")
            .route(web::post().to(create))
            .route(web::get().to(list)),
    )
    .service(
        web::resource("/contests/{id}")
            .route(web::get().to(get))
            .route(web::patch().to(patch)),
    );
}

/// A contest read from the store, as admins see it.
fn admin_view(full: &ContestWithQuestions, now: DateTime<Utc>) -> AdminView<'_> {
    AdminView::new(&full.contest, &full.questions, now)
}

async fn create(
    _admin: Admin,
    store: web::Data<Store>,
    body: Json<NewContest>,
) -> Result<HttpResponse, ApiError> {
    let new = body.into_inner().validate().map_err(ApiError::BadRequest)?;
    let now = model::now();
    let contest = store.insert_contest(&new, now).await?;
    Ok(HttpResponse::Created().json(admin_view(&contest, now)))
}

async fn patch(
    _admin: Admin,
    store: web::Data<Store>,
    runtime: web::Data<Runtime>,
    path: web::Path<Id>,
    body: Body,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    if !store.contest_exists(id).await? {
        return Err(ApiError::not_found("contest"));
    }
    let patch: ContestPatch = parse_body(&body.0)?;
    let patch = patch.validate().map_err(ApiError::BadRequest)?;
    let contest = store.update_contest(id, &patch).await?;
    // The warm actor sees the change before the admin hears back.
    runtime
        .apply(id, Change::Contest(contest.contest.clone()))
        .await;
    Ok(HttpResponse::Ok().json(admin_view(&contest, model::now())))
}

/// Admins get the admin view from the database; students get the warm actor's student view,
/// serialized in advance but for the clock.
async fn get(
    caller: Caller,
    store: web::Data<Store>,
    runtime: web::Data<Runtime>,
    path: web::Path<Id>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    if caller.is_admin() {
        let contest = store
            .contest(id)
            .await?
            .ok_or_else(|| ApiError::not_found("contest"))?;
        return Ok(HttpResponse::Ok().json(admin_view(&contest, model::now())));
    }
    let view = runtime
        .ask(
            id,
            GetView {
                student: Some(caller.user.id),
            },
        )
        .await??;
    let body = view
        .render(model::now())
        .map_err(|e| ApiError::Unexpected(e.into()))?;
    Ok(HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(body))
}

#[derive(Serialize)]
struct ListedContest<'a> {
    id: Id,
    course_id: Id,
    title: &'a str,
    start_time: DateTime<Utc>,
    end_time: DateTime<Utc>,
    status: ContestStatus,
    submitted: bool,
}

async fn list(caller: Caller, store: web::Data<Store>) -> Result<HttpResponse, ApiError> {
    let listings = store.contests_for(&caller.user).await?;
    let now = model::now();
    let contests: Vec<ListedContest> = listings
        .iter()
        .map(|l| ListedContest {
            id: l.contest.id,
            course_id: l.contest.course_id,
            title: &l.contest.title,
            start_time: l.contest.start_time,
            end_time: l.contest.end_time,
            status: l.contest.status(now),
            submitted: l.submitted,
        })
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "contests": contests })))
}
