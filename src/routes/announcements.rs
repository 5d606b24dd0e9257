//! Announcements: an admin posts to a contest's room; every socket of the contest gets the
//! frame, and enrolled students (and admins) can list them.

use actix_web::{web, HttpResponse};
use serde::Serialize;

use super::{parse_body, Body};
use crate::auth::{Admin, Caller};
use crate::error::ApiError;
use crate::model::{self, Announcement, Id, NewAnnouncement};
use crate::store::Store;
use contestd_actors::{Change, GetView, Runtime};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/contests/{id}/announcements")
            .route(web::post().to(post))
            .route(web::get().to(list)),
    );
}

/// Stored first; once committed, the warm contest actor (a cold one has no sockets) sends the
/// frame to every socket of the contest before the admin gets the `201`.
async fn post(
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
    let new: NewAnnouncement = parse_body(&body.0)?;
    new.validate().map_err(ApiError::BadRequest)?;
    let posted = store
        .insert_announcement(id, &new.text, model::now())
        .await?;
    runtime.apply(id, Change::Announce(posted.clone())).await;
    Ok(HttpResponse::Created().json(posted))
}

#[derive(Serialize)]
struct Listing {
    announcements: Vec<Announcement>,
}

/// Admins (any contest, as `GET /api/contests/{id}`: from the store, without loading it), and
/// students who may see the contest (the actor's check: active, else `404`; enrolled, else
/// `403 not_enrolled`). The newest `ANNOUNCEMENTS_LISTED`, newest first.
async fn list(
    caller: Caller,
    store: web::Data<Store>,
    runtime: web::Data<Runtime>,
    path: web::Path<Id>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    if caller.is_admin() {
        if !store.contest_exists(id).await? {
            return Err(ApiError::not_found("contest"));
        }
    } else {
        let student = Some(caller.user.id);
        runtime
            .ask(
                id,
                GetView {
                    student,
                    opens: false,
                },
            )
            .await??;
    }
    let announcements = store.announcements(id).await?;
    Ok(HttpResponse::Ok().json(Listing { announcements }))
}
