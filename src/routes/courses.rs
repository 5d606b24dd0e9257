use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::Json;
use super::{parse_body, Body};
use crate::auth::{Admin, Caller};
use crate::error::ApiError;
use crate::model::{self, Course, Id, NewCourse, Role};
use crate::store::Store;
use contestd_actors::{Change, Runtime};

/// Most students in one enrollment request.
const MAX_ENROLL: usize = 10_000;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/courses")
            .route(web::post().to(create))
            .route(web::get().to(list)),
    )
    .service(web::resource("/courses/{id}/enrollments").route(web::put().to(enroll)))
    .service(
        web::resource("/courses/{id}/enrollments/{student_id}").route(web::delete().to(unenroll)),
    );
}

async fn create(
    _admin: Admin,
    store: web::Data<Store>,
    body: Json<NewCourse>,
) -> Result<HttpResponse, ApiError> {
    let new = body.into_inner();
    new.validate().map_err(ApiError::BadRequest)?;
    let course = store.insert_course(&new, model::now()).await?;
    Ok(HttpResponse::Created().json(course))
}

#[derive(Serialize)]
struct CourseList {
    courses: Vec<Course>,
}

async fn list(caller: Caller, store: web::Data<Store>) -> Result<HttpResponse, ApiError> {
    let courses = match caller.user.role {
        Role::Admin => store.courses().await?,
        Role::Student => store.courses_of_student(caller.user.id).await?,
    };
    Ok(HttpResponse::Ok().json(CourseList { courses }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EnrollRequest {
    student_ids: Vec<Id>,
}

async fn enroll(
    _admin: Admin,
    store: web::Data<Store>,
    runtime: web::Data<Runtime>,
    path: web::Path<Id>,
    body: Body,
) -> Result<HttpResponse, ApiError> {
    let course_id = path.into_inner();
    if !store.course_exists(course_id).await? {
        return Err(ApiError::not_found("course"));
    }
    let request: EnrollRequest = parse_body(&body.0)?;
    if request.student_ids.is_empty() || request.student_ids.len() > MAX_ENROLL {
        return Err(ApiError::bad_request(format!(
            "student_ids must hold 1 to {MAX_ENROLL} ids"
        )));
    }
    let enrolled = store
        .enroll(course_id, &request.student_ids, model::now())
        .await?;
    runtime
        .apply_to_course(course_id, Change::Enrolled(request.student_ids))
        .await;
    Ok(HttpResponse::Ok().json(json!({ "enrolled": enrolled })))
}

async fn unenroll(
    _admin: Admin,
    store: web::Data<Store>,
    runtime: web::Data<Runtime>,
    path: web::Path<(Id, Id)>,
) -> Result<HttpResponse, ApiError> {
    let (course_id, student_id) = path.into_inner();
    store.unenroll(course_id, student_id).await?;
    // From this answer on, warm contests of the course refuse the student.
    runtime
        .apply_to_course(course_id, Change::Unenrolled(student_id))
        .await;
    Ok(HttpResponse::NoContent().finish())
}
