//! `GET /ws/contests/{id}`: the live timer. Refusals (401, 403, 404) are ordinary HTTP answers
//! before the upgrade. After it, the socket sits behind its worker thread's outlet for the
//! contest (see `outlet`), which hands it the contest's frames; one task per socket reads the
//! client (answering its clock requests, see `clock`, and ignoring anything else it sends),
//! pings every `ws_ping_secs`, and closes the socket after `ws_timeout_secs` without an
//! answer or when the outlet says so (queue full, unenrolled, contest hidden).

mod by_user;
mod clock;
mod outlet;

use by_user::UserSockets;
use clock::Clock;
use outlet::Handed;

use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::{web, HttpRequest, HttpResponse};
use actix_ws::{CloseCode, CloseReason, Message, MessageStream, Session};
use tokio::sync::{oneshot, watch};

use crate::auth::token::TokenHash;
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
    /// Every socket by its user: the per-user cap, and closing on logout.
    by_user: UserSockets,
}

impl WsState {
    pub fn new(args: &WsArgs) -> Self {
        WsState {
            ping_every: Duration::from_secs(args.ws_ping_secs.max(1)),
            timeout: Duration::from_secs(args.ws_timeout_secs.max(1)),
            open: AtomicUsize::new(0),
            dropped_slow: AtomicU64::new(0),
            closing: watch::Sender::new(false),
            by_user: UserSockets::new(args.ws_per_user),
        }
    }

    /// A token was revoked: the sockets opened with it close (1008).
    pub fn revoke(&self, user: Id, token: &TokenHash) {
        self.by_user.revoke(user, token);
    }

    /// The (user, token) pairs live sockets were opened with.
    pub fn tokens(&self) -> Vec<(Id, TokenHash)> {
        self.by_user.tokens()
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
    let owner = Owner {
        user: caller.user.id,
        revoked: ws.by_user.open(caller.user.id, caller.token_hash, id),
        expires_in: (caller.expires_at - chrono::Utc::now())
            .to_std()
            .unwrap_or_default(),
    };
    let socket = SocketParts {
        session,
        id,
        stream,
        member,
        closed,
    };
    actix_web::rt::spawn(run_socket(socket, owner, contest, ws));
    Ok(response)
}

/// A socket as the upgrade made it, behind its outlet.
struct SocketParts {
    session: Session,
    id: u64,
    stream: MessageStream,
    member: outlet::Member,
    /// The outlet's order to close (queue full, access ended).
    closed: oneshot::Receiver<CloseCode>,
}

/// Whose socket it is: it closes when their token is revoked or expires.
struct Owner {
    user: Id,
    revoked: oneshot::Receiver<CloseCode>,
    expires_in: Duration,
}

async fn run_socket(socket: SocketParts, owner: Owner, contest: ContestHandle, ws: Arc<WsState>) {
    let SocketParts {
        mut session,
        id,
        mut stream,
        member,
        mut closed,
    } = socket;
    let Owner {
        user,
        mut revoked,
        expires_in,
    } = owner;
    let expiry = tokio::time::sleep(expires_in);
    tokio::pin!(expiry);
    ws.open.fetch_add(1, Ordering::Relaxed);
    let mut closing = ws.closing.subscribe();
    let mut ping = tokio::time::interval(ws.ping_every);
    ping.tick().await; // the first tick is immediate
    let mut last_heard = Instant::now();
    let mut clock = Clock::default();
    let reason = loop {
        tokio::select! {
            // The outlet closed us (queue full, access ended) or let go of us.
            code = &mut closed => break Some(code.unwrap_or(CloseCode::Policy)),
            // Logout, or one socket too many for the user.
            code = &mut revoked => break Some(code.unwrap_or(CloseCode::Policy)),
            () = &mut expiry => break Some(CloseCode::Policy),
            _ = closing.wait_for(|&closing| closing) => break Some(CloseCode::Away),
            message = stream.recv() => match message {
                Some(Ok(Message::Ping(bytes))) => {
                    last_heard = Instant::now();
                    if let Some(code) = queue(session.pong(&bytes)) {
                        break code;
                    }
                }
                Some(Ok(Message::Text(text))) => {
                    last_heard = Instant::now();
                    // Into the socket's queue behind the frames already there, as they are.
                    if let Some(reply) = clock.reply(&text, last_heard, chrono::Utc::now()) {
                        if let Some(code) = queue(session.text(reply)) {
                            break code;
                        }
                    }
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break None,
                // Pongs, and binary or fragmented messages, which are ignored.
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
    ws.by_user.closed(user, id);
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
