use actix_web::http::header::ContentType;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Json;
use super::{parse_body, Body};
use crate::auth::{Admin, Caller};
use crate::error::ApiError;
use crate::model::{
    self, ContestPatch, ContestStatus, ContestWithQuestions, Id, NewContest, ResultsPolicy, Role,
};
use crate::store::Store;
use contestd_actors::{Change, GetView, Runtime};

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

/// A contest as admins see it (with `is_active` and the correct options), or as students see
/// it (no correct options; no questions while upcoming).
#[derive(Serialize)]
pub struct ContestView<'a> {
    id: Id,
    course_id: Id,
    title: &'a str,
    start_time: DateTime<Utc>,
    end_time: DateTime<Utc>,
    status: ContestStatus,
    server_time: DateTime<Utc>,
    results: ResultsPolicy,
    #[serde(skip_serializing_if = "Option::is_none")]
    is_active: Option<bool>,
    questions: Vec<QuestionView<'a>>,
}

#[derive(Serialize)]
struct QuestionView<'a> {
    id: Id,
    prompt: &'a str,
    options: &'a [String],
    points: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    correct_option: Option<i32>,
}

impl<'a> ContestView<'a> {
    pub fn new(full: &'a ContestWithQuestions, role: Role, now: DateTime<Utc>) -> Self {
        let c = &full.contest;
        let status = c.status(now);
        let admin = role == Role::Admin;
        let show_questions = admin || status != ContestStatus::Upcoming;
        let questions = full
            .questions
            .iter()
            .filter(|_| show_questions)
            .map(|q| QuestionView {
                id: q.id,
                prompt: &q.prompt,
                options: &q.options,
                points: q.points,
                correct_option: admin.then_some(q.correct_option),
            })
            .collect();
        ContestView {
            id: c.id,
            course_id: c.course_id,
            title: &c.title,
            start_time: c.start_time,
            end_time: c.end_time,
            status,
            server_time: now,
            results: c.results,
            is_active: admin.then_some(c.is_active),
            questions,
        }
    }
}

async fn create(
    _admin: Admin,
    store: web::Data<Store>,
    body: Json<NewContest>,
) -> Result<HttpResponse, ApiError> {
    let new = body.into_inner().validate().map_err(ApiError::BadRequest)?;
    let now = model::now();
    let contest = store.insert_contest(&new, now).await?;
    Ok(HttpResponse::Created().json(ContestView::new(&contest, Role::Admin, now)))
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
    Ok(HttpResponse::Ok().json(ContestView::new(&contest, Role::Admin, model::now())))
}

/// Admins get the admin view from the database; students get the warm actor's pre-serialized
/// student view.
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
        return Ok(HttpResponse::Ok().json(ContestView::new(&contest, Role::Admin, model::now())));
    }
    let view = runtime
        .ask(
            id,
            GetView {
                student: Some(caller.user.id),
            },
        )
        .await??;
    Ok(HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(view.render(model::now())))
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
