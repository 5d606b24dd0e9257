//! Per-student time (API.md, "Per-student time"): an admin gives one enrolled student a window
//! of their own. Stored first; then the warm contest actor follows it at once (rules, timer
//! frames, deadline) and tells the student's sockets `schedule_changed`.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{parse_body, Body};
use crate::auth::Admin;
use crate::error::ApiError;
use crate::model::{window_for, Accommodation, AccommodationBody, Contest, Id};
use crate::store::{Standing, Store};
use contestd_actors::{Change, Runtime};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/contests/{id}/accommodations").route(web::get().to(list)))
        .service(
            web::resource("/contests/{id}/accommodations/{student_id}")
                .route(web::put().to(put))
                .route(web::delete().to(delete)),
        );
}

/// An accommodation as the API shows it: the terms, with the student's effective times.
#[derive(Serialize)]
struct Shown {
    contest_id: Id,
    student_id: Id,
    extra_minutes: i64,
    start_time: DateTime<Utc>,
    end_time: DateTime<Utc>,
}

impl Shown {
    fn new(
        contest: &Contest,
        student_id: Id,
        terms: &Accommodation,
        started_at: Option<DateTime<Utc>>,
    ) -> Self {
        let window = window_for(
            contest.window(),
            contest.duration_minutes,
            Some(terms),
            started_at,
        );
        Shown {
            contest_id: contest.id,
            student_id,
            extra_minutes: terms.extra_minutes,
            start_time: window.start,
            end_time: window.end,
        }
    }
}

async fn contest(store: &Store, id: Id) -> Result<Contest, ApiError> {
    Ok(store
        .contest(id)
        .await?
        .ok_or_else(|| ApiError::not_found("contest"))?
        .contest)
}

async fn put(
    _admin: Admin,
    store: web::Data<Store>,
    runtime: web::Data<Runtime>,
    path: web::Path<(Id, Id)>,
    body: Body,
) -> Result<HttpResponse, ApiError> {
    let (id, student) = path.into_inner();
    let contest = contest(&store, id).await?;
    match store.standing(id, student).await? {
        Standing::Unknown => return Err(ApiError::not_found("student")),
        Standing::NotEnrolled => {
            return Err(ApiError::bad_request(format!(
                "student {student} is not enrolled in the contest's course"
            )))
        }
        Standing::Enrolled => {}
    }
    let terms = parse_body::<AccommodationBody>(&body.0)?
        .validate()
        .map_err(ApiError::BadRequest)?;
    let started_at = store.started_at(id, student).await?;
    let shown = Shown::new(&contest, student, &terms, started_at);
    if shown.start_time >= shown.end_time {
        return Err(ApiError::bad_request(
            "the student's window must start before it ends",
        ));
    }
    store.put_accommodation(id, student, &terms).await?;
    let terms = Some(terms);
    runtime
        .apply(id, Change::Accommodation { student, terms })
        .await;
    Ok(HttpResponse::Ok().json(shown))
}

async fn delete(
    _admin: Admin,
    store: web::Data<Store>,
    runtime: web::Data<Runtime>,
    path: web::Path<(Id, Id)>,
) -> Result<HttpResponse, ApiError> {
    let (id, student) = path.into_inner();
    if !store.contest_exists(id).await? {
        return Err(ApiError::not_found("contest"));
    }
    store.delete_accommodation(id, student).await?;
    let terms = None;
    runtime
        .apply(id, Change::Accommodation { student, terms })
        .await;
    Ok(HttpResponse::NoContent().finish())
}

async fn list(
    _admin: Admin,
    store: web::Data<Store>,
    path: web::Path<Id>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let contest = contest(&store, id).await?;
    let accommodations: Vec<Shown> = store
        .accommodations(id)
        .await?
        .into_iter()
        .filter_map(|row| {
            let terms = row.terms.accommodation()?;
            Some(Shown::new(&contest, row.student_id, &terms, row.started_at))
        })
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "accommodations": accommodations })))
}
