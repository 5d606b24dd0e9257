//! HTTP routes. Handlers stay thin: who is calling, parse, one call into the store or the
//! runtime, map the answer.

mod accommodations;
mod announcements;
mod auth;
mod contests;
mod courses;
pub mod health;
pub mod metrics;
mod operations;
mod performance;
mod receipts;
mod submissions;
mod users;
pub mod ws;

use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::model::Id;

/// actix tries the routes in the order they are registered, and each path with a `{segment}`
/// costs a regex match; so the fixed paths come first, then the students' hot paths, and the
/// rarely used parameterised admin paths last.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.configure(health::configure)
        .configure(metrics::configure)
        .service(
            web::scope("/api")
                .configure(auth::configure)
                .configure(users::configure)
                .configure(receipts::configure)
                // Fixed paths under /contests before /contests/{id}, which would catch them.
                .configure(operations::configure)
                .configure(performance::configure)
                .configure(submissions::configure_fixed)
                .configure(contests::configure)
                .configure(submissions::configure)
                .configure(announcements::configure)
                .configure(accommodations::configure)
                .configure(courses::configure),
        )
        .configure(ws::configure);
}

/// A JSON request body. Unlike actix's `Json`, a type error names the field
/// (`questions[1].correct_option: invalid type …`), and it shares `parse_body` with the handlers
/// that read the body late.
pub struct Json<T>(pub T);

impl<T> Json<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Json<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = Body::from_request(req, payload);
        Box::pin(async move { Ok(Json(parse_body(&body.await?.0)?)) })
    }
}

/// How long a request body may take to arrive once its handler starts reading it.
#[derive(Clone, Copy)]
pub struct BodyDeadline(pub Duration);

/// A request body, read within the `BodyDeadline` (else `408`, and the connection closes: a
/// client that announces a body and never sends it must not hold a connection) and the
/// `PayloadConfig` limit (else `413`, before anything is read when `Content-Length` says so).
pub struct Body(pub web::Bytes);

impl FromRequest for Body {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let deadline = req
            .app_data::<BodyDeadline>()
            .map_or(DEFAULT_BODY_DEADLINE, |d| d.0);
        let bytes = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            match tokio::time::timeout(deadline, bytes).await {
                Ok(bytes) => Ok(Body(bytes?)),
                Err(_) => Err(ApiError::RequestTimeout.into()),
            }
        })
    }
}

const DEFAULT_BODY_DEADLINE: Duration = Duration::from_secs(10);

/// Parses a JSON body, naming the offending field in the error. Handlers that must check the
/// resource (404) before the body (400) read the bytes and call this themselves.
fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            ApiError::bad_request(format!("invalid JSON body: {inner}"))
        } else {
            ApiError::bad_request(format!("{path}: {inner}"))
        }
    })?;
    de.end()
        .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))?;
    Ok(value)
}

/// Parses the query string, naming the offending parameter in the error. Handlers call it after
/// checking their resource, so a missing resource is 404 before a bad parameter is 400.
fn parse_query<T: DeserializeOwned>(req: &HttpRequest) -> Result<T, ApiError> {
    let pairs = form_urlencoded::parse(req.query_string().as_bytes());
    serde_path_to_error::deserialize(serde_urlencoded::Deserializer::new(pairs)).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            ApiError::bad_request(format!("invalid query parameters: {inner}"))
        } else {
            ApiError::bad_request(format!("{path}: {inner}"))
        }
    })
}

/// Parses a comma-separated id list such as `1,2,3` of 1 to `max` ids (a query parameter).
pub fn parse_id_list(raw: &str, name: &str, max: usize) -> Result<Vec<Id>, ApiError> {
    let ids: Result<Vec<Id>, _> = raw
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse::<Id>())
        .collect();
    let ids =
        ids.map_err(|_| ApiError::bad_request(format!("{name} must be comma-separated integers")))?;
    if ids.is_empty() || ids.len() > max {
        return Err(ApiError::bad_request(format!(
            "{name} must hold 1 to {max} ids"
        )));
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_lists() {
        assert_eq!(parse_id_list("1,2, 3", "ids", 100).unwrap(), vec![1, 2, 3]);
        assert!(parse_id_list("", "ids", 100).is_err());
        assert!(parse_id_list("1,x", "ids", 100).is_err());
        assert!(parse_id_list("1,2,3", "ids", 2).is_err());
    }
}
