use actix_web::http::header::ContentType;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Json;
use super::{parse_body, Body};
use crate::auth::{Admin, Caller};
use crate::error::ApiError;
use crate::model::{
    self, ContestPatch, ContestStatus, ContestWithQuestions, Id, KeyPatch, NewContest,
};
use crate::store::Store;
use contestd_actors::view::AdminQuestion;
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
    )
    .service(
        web::resource("/contests/{id}/questions/{question_id}").route(web::patch().to(correct)),
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
    let change = patch.validate().map_err(ApiError::BadRequest)?;
    let contest = store.update_contest(id, &change, model::now()).await?;
    // The warm actor sees the change before the admin hears back.
    let applied = if change.edits_questions() {
        Change::Questions(contest.contest.clone(), contest.questions.clone())
    } else {
        Change::Contest(contest.contest.clone())
    };
    runtime.apply(id, applied).await;
    Ok(HttpResponse::Ok().json(admin_view(&contest, model::now())))
}

/// Corrects a question's key (or points) and regrades the contest. The order makes racing
/// submissions end with the new key's score: the key is committed; the warm actor grades with
/// it from then on and answers once the claims it graded with the old key are written; only
/// then are all submissions read and re-scored, in one transaction.
async fn correct(
    _admin: Admin,
    store: web::Data<Store>,
    runtime: web::Data<Runtime>,
    path: web::Path<(Id, Id)>,
    body: Body,
) -> Result<HttpResponse, ApiError> {
    let (id, question_id) = path.into_inner();
    let contest = store
        .contest(id)
        .await?
        .ok_or_else(|| ApiError::not_found("contest"))?;
    let question = contest
        .questions
        .iter()
        .find(|q| q.id == question_id)
        .ok_or_else(|| ApiError::not_found("question"))?;
    let patch: KeyPatch = parse_body(&body.0)?;
    let (key, points) = patch.apply_to(question).map_err(ApiError::BadRequest)?;
    store.correct_key(id, question_id, &key, points).await?;
    let mut question = question.clone();
    question.key = key.clone();
    question.points = points;
    runtime
        .apply(
            id,
            Change::Key {
                question_id,
                key,
                points,
            },
        )
        .await;
    let regraded = store.regrade(id).await?;
    let count = regraded.count;
    runtime
        .apply(
            id,
            Change::Rescored {
                scores: regraded.scores,
                changed: regraded.changed,
                max_score: regraded.max_score,
            },
        )
        .await;
    Ok(HttpResponse::Ok().json(Corrected {
        question: AdminQuestion::new(&question),
        regraded: count,
    }))
}

/// The answer to a key correction.
#[derive(Serialize)]
struct Corrected<'a> {
    question: AdminQuestion<'a>,
    regraded: usize,
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
    let student = caller.user.id;
    let seen = runtime
        .ask(
            id,
            GetView {
                student: Some(student),
                opens: true,
            },
        )
        .await??;
    let body = seen
        .view
        .render(model::now(), Some(student), seen.window.as_ref())
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
            start_time: l.window.start,
            end_time: l.window.end,
            status: l.window.status(now),
            submitted: l.submitted,
        })
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "contests": contests })))
}
