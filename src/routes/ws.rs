//! `GET /ws/contests/{id}`: the live timer. Refusals (401, 403, 404) are ordinary HTTP answers
//! before the upgrade. After it, one task per socket forwards the frames the contest actor puts
//! in the socket's bounded buffer, pings every `ws_ping_secs`, and closes the socket after
//! `ws_timeout_secs` without an answer or when the contest drops it (buffer full, unenrolled,
//! contest hidden).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::{web, HttpRequest, HttpResponse};
use actix_ws::{CloseCode, CloseReason, Message, MessageStream, Session};
use futures_util::FutureExt;
use tokio::sync::mpsc;

use crate::auth::Caller;
use crate::config::WsArgs;
use crate::error::ApiError;
use crate::model::Id;
use contestd_actors::{ContestHandle, Frame, Runtime, Subscribe, Unsubscribe};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/ws/contests/{id}").route(web::get().to(connect)));
}

/// WebSocket settings and the count of open sockets (for `/metrics`).
pub struct WsState {
    ping_every: Duration,
    timeout: Duration,
    buffer: usize,
    pub open: AtomicUsize,
}

impl WsState {
    pub fn new(args: &WsArgs) -> Self {
        WsState {
            ping_every: Duration::from_secs(args.ws_ping_secs.max(1)),
            timeout: Duration::from_secs(args.ws_timeout_secs.max(1)),
            buffer: args.ws_buffer.max(1),
            open: AtomicUsize::new(0),
        }
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
    let (tx, frames) = mpsc::channel(ws.buffer);
    let subscription = contest.send(Subscribe { student, tx }).await??;
    let (response, session, stream) = match actix_ws::handle(&req, body) {
        Ok(upgrade) => upgrade,
        Err(e) => {
            let _ = contest
                .send_uncounted(Unsubscribe { id: subscription })
                .await;
            return Err(ApiError::bad_request(format!(
                "expected a WebSocket upgrade: {e}"
            )));
        }
    };
    let ws = ws.into_inner();
    actix_web::rt::spawn(run_socket(
        session,
        stream,
        frames,
        contest,
        subscription,
        ws,
    ));
    Ok(response)
}

async fn run_socket(
    mut session: Session,
    mut stream: MessageStream,
    mut frames: mpsc::Receiver<Frame>,
    contest: ContestHandle,
    subscription: u64,
    ws: Arc<WsState>,
) {
    ws.open.fetch_add(1, Ordering::Relaxed);
    let mut ping = tokio::time::interval(ws.ping_every);
    ping.tick().await; // the first tick is immediate
    let mut last_heard = Instant::now();
    let reason = loop {
        tokio::select! {
            frame = frames.recv() => match frame {
                // actix-ws queues up to 32 frames for the socket; if even that is full the
                // client is not reading: drop it rather than wait (no timer per frame).
                Some(frame) => match session.text(frame).now_or_never() {
                    Some(Ok(())) => {}
                    Some(Err(_)) => break None,
                    None => break Some(CloseCode::Policy),
                },
                // The contest dropped us: the buffer was full, or access ended.
                None => break Some(CloseCode::Policy),
            },
            message = stream.recv() => match message {
                Some(Ok(Message::Ping(bytes))) => {
                    last_heard = Instant::now();
                    if session.pong(&bytes).await.is_err() {
                        break None;
                    }
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break None,
                Some(Ok(_)) => last_heard = Instant::now(),
            },
            _ = ping.tick() => {
                if last_heard.elapsed() > ws.timeout {
                    break Some(CloseCode::Away);
                }
                if session.ping(b"").await.is_err() {
                    break None;
                }
            }
        }
    };
    let _ = contest
        .send_uncounted(Unsubscribe { id: subscription })
        .await;
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
