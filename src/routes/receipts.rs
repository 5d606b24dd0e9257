//! `GET /api/receipts/public-key`: the key that verifies every receipt, to anyone.

use actix_web::{web, HttpResponse};

use crate::receipts::{Signer, ALGORITHM};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/receipts/public-key").route(web::get().to(public_key)));
}

/// No token needed: a receipt must be checkable by whoever holds it.
async fn public_key(signer: web::Data<Signer>) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({
        "algorithm": ALGORITHM,
        "public_key": signer.public_key(),
    }))
}
