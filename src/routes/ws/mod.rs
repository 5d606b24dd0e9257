//! `GET /ws/contests/{id}`: the live timer. Refusals (401, 403, 404) are ordinary HTTP answers
//! before the upgrade. After it, the socket sits behind its worker thread's outlet for the
//! contest (see `outlet`), which hands it the contest's frames; one task per socket reads the
//! client, pings every `ws_ping_secs`, and closes the socket after `ws_timeout_secs` without an
//! answer or when the outlet says so (queue full, unenrolled, contest hidden).

mod outlet;

use outlet::Handed;

use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::{web, HttpRequest, HttpResponse};
use actix_ws::{CloseCode, CloseReason, Message, MessageStream, Session};
use tokio::sync::{oneshot, watch};

use crate::auth::Caller;
use crate::config::WsArgs;
use crate::error::ApiError;
use crate::model::Id;
use contestd_actors::{ContestHandle, Runtime, Subscribe, Unsubscribe};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/ws/contests/{id}").route(web::get().to(connect)));
}

/// WebSocket settings and figures (for `/metrics`).
pub struct WsState {
    ping_every: Duration,
    timeout: Duration,
    pub open: AtomicUsize,
    /// Sockets closed because they did not read.
    pub dropped_slow: AtomicU64,
    /// Set on shutdown: every socket closes with 1001 (going away).
    closing: watch::Sender<bool>,
}

impl WsState {
    pub fn new(args: &WsArgs) -> Self {
        WsState {
            ping_every: Duration::from_secs(args.ws_ping_secs.max(1)),
            timeout: Duration::from_secs(args.ws_timeout_secs.max(1)),
            open: AtomicUsize::new(0),
            dropped_slow: AtomicU64::new(0),
            closing: watch::Sender::new(false),
        }
    }

    /// Closes every socket with a close frame (shutdown).
    pub fn close_all(&self) {
        self.closing.send_replace(true);
    }
}

/// How long the close frame may take to go out.
const SEND_TIMEOUT: Duration = Duration::from_secs(5);

async fn connect(
    req: HttpRequest,
    body: web::Payload,
    caller: Caller,
    runtime: web::Data<Runtime>,
    ws: web::Data<WsState>,
    path: web::Path<Id>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let contest = runtime
        .contest(id)
        .await?
        .ok_or_else(|| ApiError::not_found("contest"))?;
    let student = (!caller.is_admin()).then_some(caller.user.id);
    let (response, session, stream) = actix_ws::handle(&req, body)
        .map_err(|e| ApiError::bad_request(format!("expected a WebSocket upgrade: {e}")))?;
    let ws = ws.into_inner();
    let id = outlet::next_id();
    // Behind the outlet before subscribing, so the first frame finds the socket there.
    let (outlet, member, closed) = outlet::join(&contest, id, session.clone(), &ws);
    contest
        .send(Subscribe {
            id,
            student,
            outlet,
        })
        .await??;
    actix_web::rt::spawn(run_socket(session, id, stream, member, closed, contest, ws));
    Ok(response)
}

async fn run_socket(
    mut session: Session,
    id: u64,
    mut stream: MessageStream,
    member: outlet::Member,
    mut closed: oneshot::Receiver<CloseCode>,
    contest: ContestHandle,
    ws: Arc<WsState>,
) {
    ws.open.fetch_add(1, Ordering::Relaxed);
    let mut closing = ws.closing.subscribe();
    let mut ping = tokio::time::interval(ws.ping_every);
    ping.tick().await; // the first tick is immediate
    let mut last_heard = Instant::now();
    let reason = loop {
        tokio::select! {
            // The outlet closed us (queue full, access ended) or let go of us.
            code = &mut closed => break Some(code.unwrap_or(CloseCode::Policy)),
            _ = closing.wait_for(|&closing| closing) => break Some(CloseCode::Away),
            message = stream.recv() => match message {
                Some(Ok(Message::Ping(bytes))) => {
                    last_heard = Instant::now();
                    if let Some(code) = queue(session.pong(&bytes)) {
                        break code;
                    }
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break None,
                Some(Ok(_)) => last_heard = Instant::now(),
            },
            _ = ping.tick() => {
                if last_heard.elapsed() > ws.timeout {
                    break Some(CloseCode::Away);
                }
                if let Some(code) = queue(session.ping(b"")) {
                    break code;
                }
            }
        }
    };
    drop(member);
    let _ = contest.send_uncounted(Unsubscribe { id }).await;
    if let Some(code) = reason {
        let _ = tokio::time::timeout(
            SEND_TIMEOUT,
            session.close(Some(CloseReason {
                code,
                description: None,
            })),
        )
        .await;
    }
    ws.open.fetch_sub(1, Ordering::Relaxed);
}

/// Queues a control frame without waiting: `None` when queued, else why the socket ends.
fn queue(send: impl Future<Output = Result<(), actix_ws::Closed>>) -> Option<Option<CloseCode>> {
    match outlet::try_queue(send) {
        Handed::Queued => None,
        Handed::Gone => Some(None),
        Handed::Full => Some(Some(CloseCode::Policy)),
    }
}
