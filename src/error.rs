//! The one error shape of the API: `{"error": {"code", "message"}}`, for handler errors,
//! extractor failures, unknown routes and anything else the framework answers on its own.

use actix_web::body::{BoxBody, EitherBody};
use actix_web::dev::ServiceResponse;
use actix_web::error::PathError;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers};
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use serde::Serialize;

use crate::store::StoreError;

/// Request bodies above this size are refused with 413.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("you are not actively enrolled in this contest's course")]
    NotEnrolled,
    #[error("{0}")]
    NotFound(String),
    #[error("you have already submitted to this contest")]
    AlreadySubmitted,
    #[error("{0}")]
    ContestNotOpen(String),
    #[error("{0}")]
    Conflict(String),
    #[error("the contest has opened: its questions and shuffling can no longer change")]
    ContestStarted,
    #[error("the request body did not arrive in time")]
    RequestTimeout,
    #[error("too many requests; retry in {retry_after_s} s")]
    RateLimited { retry_after_s: u64 },
    #[error("{message}")]
    Unavailable { message: String, retry_after_s: u32 },
    /// Anything we did not expect: the detail goes to the log, the client sees a plain message.
    #[error("internal error")]
    Unexpected(#[source] BoxError),
}

pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

impl ApiError {
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotEnrolled => "not_enrolled",
            ApiError::NotFound(_) => "not_found",
            ApiError::AlreadySubmitted => "already_submitted",
            ApiError::ContestNotOpen(_) => "contest_not_open",
            ApiError::Conflict(_) => "conflict",
            ApiError::ContestStarted => "contest_started",
            ApiError::RequestTimeout => "request_timeout",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::Unavailable { .. } => "unavailable",
            ApiError::Unexpected(_) => "internal",
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::BadRequest(message.into())
    }

    pub fn not_found(what: &str) -> Self {
        ApiError::NotFound(format!("{what} not found"))
    }

    pub fn forbidden() -> Self {
        ApiError::Forbidden("your role may not do this".into())
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        ApiError::Unavailable {
            message: message.into(),
            retry_after_s: 1,
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) | ApiError::NotEnrolled => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::AlreadySubmitted
            | ApiError::ContestNotOpen(_)
            | ApiError::Conflict(_)
            | ApiError::ContestStarted => StatusCode::CONFLICT,
            ApiError::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Unexpected(source) = self {
            tracing::error!(error = %source, "unexpected error");
        }
        let mut response = HttpResponse::build(self.status_code());
        match self {
            ApiError::RateLimited { retry_after_s } => {
                response.insert_header((header::RETRY_AFTER, retry_after_s.to_string()));
            }
            ApiError::Unavailable { retry_after_s, .. } => {
                response.insert_header((header::RETRY_AFTER, retry_after_s.to_string()));
            }
            // The rest of the body may still be on its way: the connection cannot be reused.
            ApiError::RequestTimeout => {
                response.force_close();
            }
            _ => {}
        }
        response.json(ErrorBody::new(self.code(), &self.to_string()))
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(e) => {
                tracing::warn!(error = %e, "database unavailable");
                ApiError::unavailable("the database is unavailable, try again shortly")
            }
            StoreError::Conflict(what) => ApiError::Conflict(what),
            StoreError::NotFound(what) => ApiError::not_found(&what),
            StoreError::Invalid(why) => ApiError::BadRequest(why),
            StoreError::Started => ApiError::ContestStarted,
            StoreError::Other(e) => ApiError::Unexpected(e.into()),
        }
    }
}

#[derive(Serialize)]
pub struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
}

#[derive(Serialize)]
struct ErrorDetail<'a> {
    code: &'a str,
    message: &'a str,
}

impl<'a> ErrorBody<'a> {
    pub fn new(code: &'a str, message: &'a str) -> Self {
        ErrorBody {
            error: ErrorDetail { code, message },
        }
    }
}

/// Extractor settings that turn body, query and path failures into the API's 400/413.
/// JSON bodies and query strings are parsed by `routes::Json` and `routes::parse_query`,
/// which name the offending field.
pub fn configure_extractors(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
        .app_data(web::PathConfig::default().error_handler(path_error));
}

fn path_error(err: PathError, _req: &HttpRequest) -> actix_web::Error {
    // A path segment that is not an id cannot name an existing resource.
    ApiError::NotFound(format!("no such resource ({err})")).into()
}

/// Answer for routes that do not exist.
pub async fn unknown_route() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound("no such route".into()))
}

/// Safety net: any error response that is not already our JSON shape (a 405 from the router,
/// a 413 from the payload limit, …) gets the shape, keeping its status.
pub fn json_error_shape<B: 'static>() -> ErrorHandlers<B> {
    ErrorHandlers::new().default_handler(reshape_error)
}

fn reshape_error<B>(res: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let (code, message) = match status {
        StatusCode::NOT_FOUND => ("not_found", "no such route"),
        StatusCode::METHOD_NOT_ALLOWED => {
            ("method_not_allowed", "method not allowed on this route")
        }
        StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "request body is too large"),
        StatusCode::REQUEST_TIMEOUT => ("request_timeout", "the request did not arrive in time"),
        s if s.is_client_error() => ("bad_request", "the request could not be understood"),
        _ => ("internal", "internal error"),
    };
    let body = serde_json::to_string(&ErrorBody::new(code, message)).unwrap_or_default();
    let (req, mut response) = res.into_parts();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let response = response.set_body(BoxBody::new(body));
    let res = ServiceResponse::new(req, response).map_body(|_, b| EitherBody::right(b));
    Ok(ErrorHandlerResponse::Response(res))
}
