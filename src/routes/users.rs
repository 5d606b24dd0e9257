use std::collections::HashMap;

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

use super::Json;
use crate::auth::{Admin, Auth};
use crate::error::ApiError;
use crate::model::{self, NewUser, User};
use crate::store::{Store, UserRow};

/// Most users in one bulk request.
const MAX_BULK: usize = 10_000;

/// 10,000 users (up to ~230 bytes each) do not fit in the API's general 256 KiB body limit, so
/// the bulk endpoint takes the size its own entry limit needs.
const MAX_BULK_BODY: usize = 4 * 1024 * 1024;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/users").route(web::post().to(create)))
        .service(
            web::resource("/users/bulk")
                .app_data(web::PayloadConfig::new(MAX_BULK_BODY))
                .route(web::post().to(create_bulk)),
        );
}

async fn create(
    _admin: Admin,
    auth: web::Data<Auth>,
    store: web::Data<Store>,
    body: Json<NewUser>,
) -> Result<HttpResponse, ApiError> {
    let new = body.into_inner();
    new.validate().map_err(ApiError::BadRequest)?;
    let password_hash = auth.passwords().hash(new.password).await?;
    let row = UserRow {
        username: new.username,
        password_hash,
        role: new.role,
    };
    let user = store.insert_user(&row, model::now()).await?;
    Ok(HttpResponse::Created().json(user))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BulkRequest {
    users: Vec<NewUser>,
}

#[derive(Serialize)]
struct BulkResponse {
    created: usize,
    users: Vec<User>,
}

/// All or nothing: every entry is checked before any password is hashed or row written.
async fn create_bulk(
    _admin: Admin,
    auth: web::Data<Auth>,
    store: web::Data<Store>,
    body: Json<BulkRequest>,
) -> Result<HttpResponse, ApiError> {
    let users = body.into_inner().users;
    if users.is_empty() || users.len() > MAX_BULK {
        return Err(ApiError::bad_request(format!(
            "users must hold 1 to {MAX_BULK} entries"
        )));
    }
    let mut first_seen: HashMap<&str, usize> = HashMap::with_capacity(users.len());
    for (i, user) in users.iter().enumerate() {
        user.validate()
            .map_err(|e| ApiError::bad_request(format!("users[{i}]: {e}")))?;
        if let Some(first) = first_seen.insert(&user.username, i) {
            return Err(ApiError::bad_request(format!(
                "users[{i}]: username {:?} repeats users[{first}]",
                user.username
            )));
        }
    }
    drop(first_seen);
    let (meta, passwords): (Vec<_>, Vec<_>) = users
        .into_iter()
        .map(|u| ((u.username, u.role), u.password))
        .unzip();
    let hashes = auth.passwords().hash_many(passwords).await?;
    let rows: Vec<UserRow> = meta
        .into_iter()
        .zip(hashes)
        .map(|((username, role), password_hash)| UserRow {
            username,
            password_hash,
            role,
        })
        .collect();
    let created = store.insert_users(&rows, model::now()).await?;
    Ok(HttpResponse::Created().json(BulkResponse {
        created: created.len(),
        users: created,
    }))
}
