//! What operators see: one tracing span per request (request id, route template, status,
//! latency; the id echoed in `X-Request-Id`), the request metrics for `/metrics`, and the
//! sliding window behind `/api/contests/performance`. Paths and query strings are never logged:
//! a WebSocket's `?token=` would end up in the logs.

pub mod window;

use std::sync::Arc;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::web;
use contestd_actors::FlushObserver;
use prometheus::{Histogram, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};
use tracing::Instrument;

use window::Window;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// The `route` label of requests no route matched.
const UNMATCHED: &str = "unmatched";

/// The `method` label: one of the methods the API uses, else `OTHER`. actix accepts any token
/// as a method, and a label (or a window key) per invented method would grow without bound.
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        _ => "OTHER",
    }
}

/// The long-lived metrics (figures kept elsewhere are read at scrape time) and the window.
pub struct Observer {
    pub registry: Registry,
    requests: IntCounterVec,
    durations: HistogramVec,
    pub rate_limited: IntCounterVec,
    writer_batch_size: Histogram,
    writer_flush_seconds: Histogram,
    pub window: Window,
}

impl Observer {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(Some("contestd".into()), None)?;
        let labels = &["method", "route", "status"];
        let requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests answered"),
            labels,
        )?;
        let durations = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "HTTP request latency").buckets(
                vec![
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                ],
            ),
            labels,
        )?;
        let rate_limited = IntCounterVec::new(
            Opts::new("rate_limited_total", "Requests refused over quota"),
            &["scope"],
        )?;
        let writer_batch_size = Histogram::with_opts(
            HistogramOpts::new("writer_batch_size", "Submissions per written batch")
                .buckets(prometheus::exponential_buckets(1.0, 2.0, 12)?),
        )?;
        let writer_flush_seconds = Histogram::with_opts(
            HistogramOpts::new("writer_flush_seconds", "Time to write one batch").buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
            ]),
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(durations.clone()))?;
        registry.register(Box::new(rate_limited.clone()))?;
        registry.register(Box::new(writer_batch_size.clone()))?;
        registry.register(Box::new(writer_flush_seconds.clone()))?;
        Ok(Observer {
            registry,
            requests,
            durations,
            rate_limited,
            writer_batch_size,
            writer_flush_seconds,
            window: Window::default(),
        })
    }

    /// Feeds the writer's histograms after each flush.
    pub fn flush_observer(&self) -> FlushObserver {
        let (sizes, seconds) = (
            self.writer_batch_size.clone(),
            self.writer_flush_seconds.clone(),
        );
        FlushObserver(Arc::new(move |rows, took| {
            sizes.observe(rows as f64);
            seconds.observe(took.as_secs_f64());
        }))
    }
}

/// The client's id when it is a sane one (1–64 of `[A-Za-z0-9._-]`), else a new one.
fn request_id(req: &ServiceRequest) -> String {
    req.headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|id| {
            (1..=64).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        })
        .map_or_else(|| uuid::Uuid::new_v4().simple().to_string(), str::to_string)
}

/// The outermost middleware: span, request id, access log line, metrics, window.
pub async fn observe_request(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let id = request_id(&req);
    let method = method_label(req.method());
    let observer = req.app_data::<web::Data<Observer>>().cloned();
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method,
        route = tracing::field::Empty,
    );
    // Inner layers answer errors as responses; an `Err` here is still counted and logged.
    let result = next.call(req).instrument(span.clone()).await;
    let latency = started.elapsed();
    // Route templates are a closed set: they come from the code, never from the path.
    let (route, status) = match &result {
        Ok(response) => (
            response
                .request()
                .match_pattern()
                .unwrap_or_else(|| UNMATCHED.to_string()),
            response.status(),
        ),
        Err(error) => (
            UNMATCHED.to_string(),
            error.as_response_error().status_code(),
        ),
    };
    span.record("route", route.as_str());
    if let Some(observer) = observer {
        let labels = [method, route.as_str(), status.as_str()];
        observer.requests.with_label_values(&labels).inc();
        observer
            .durations
            .with_label_values(&labels)
            .observe(latency.as_secs_f64());
        observer.window.record(method, &route, latency);
    }
    let ms = latency.as_secs_f64() * 1000.0;
    span.in_scope(|| {
        if status.is_server_error() {
            tracing::warn!(target: "contestd::http", status = status.as_u16(), ms, "request");
        } else {
            tracing::info!(target: "contestd::http", status = status.as_u16(), ms, "request");
        }
    });
    let mut response = result?;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    Ok(response)
}
