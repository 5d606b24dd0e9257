//! HTTP routes. Handlers stay thin: who is calling, parse, one call into the store or the
//! runtime, map the answer.

mod auth;
mod contests;
mod courses;
mod health;
mod operations;
mod submissions;
mod users;

use actix_web::web;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.configure(health::configure).service(
        web::scope("/api")
            .configure(auth::configure)
            .configure(users::configure)
            .configure(courses::configure)
            // Fixed paths under /contests before /contests/{id}, which would catch them.
            .configure(operations::configure)
            .configure(submissions::configure)
            .configure(contests::configure),
    );
}

/// Parses a JSON body that was read as bytes, for handlers that must check the resource (404)
/// before the body (400).
fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
}
