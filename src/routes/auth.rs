use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::Json;
use crate::auth::{Auth, Caller};
use crate::error::ApiError;
use crate::quota::Quotas;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/auth/login").route(web::post().to(login)))
        .service(web::resource("/auth/logout").route(web::post().to(logout)))
        .service(web::resource("/me").route(web::get().to(me)));
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginRequest {
    username: String,
    password: String,
}

async fn login(
    req: HttpRequest,
    auth: web::Data<Auth>,
    quotas: web::Data<Quotas>,
    body: Json<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let LoginRequest { username, password } = body.into_inner();
    // Before the password is looked at: a guess costs a quota, not a hash.
    quotas.check_login(&req, &username)?;
    let session = auth.login(&username, password).await?;
    Ok(HttpResponse::Ok().json(session))
}

async fn logout(auth: web::Data<Auth>, caller: Caller) -> Result<HttpResponse, ApiError> {
    auth.logout(&caller).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn me(caller: Caller) -> HttpResponse {
    HttpResponse::Ok().json(caller.user)
}
