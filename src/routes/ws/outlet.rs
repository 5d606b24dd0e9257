//! The fan-out of a contest's frames on one HTTP worker thread. Each worker thread has one
//! outlet per contest actor its sockets watch: the actor sends a frame once per outlet (one
//! cross-thread hop per worker per tick), and the outlet hands it to each socket's actix-ws
//! queue on the socket's own thread. That queue is the socket's bounded buffer: a socket whose
//! queue is full does not read, and is closed rather than waited for.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use actix_ws::{CloseCode, Session};
use futures_util::FutureExt;
use tokio::sync::{mpsc, oneshot};

use contestd_actors::{ContestHandle, Frame, Outlet, Push};

use super::WsState;

thread_local! {
    /// This thread's outlets, by contest id.
    static OUTLETS: RefCell<HashMap<i64, Rc<LocalOutlet>>> = RefCell::default();
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// An id unique in the process, for outlets and sockets.
pub fn next_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

struct Socket {
    session: Session,
    /// Tells the socket's task to close with this code.
    close: oneshot::Sender<CloseCode>,
    /// On a window of its own: the contest sends its timer frames one by one, and shared
    /// timer frames skip it.
    personal: bool,
}

struct LocalOutlet {
    id: u64,
    contest: ContestHandle,
    /// Weak, so the channel ends when the actor lets go of its senders.
    tx: mpsc::WeakUnboundedSender<Push>,
    sockets: RefCell<HashMap<u64, Socket>>,
    ws: Arc<WsState>,
}

/// A socket's place in its outlet; leaving is dropping it.
pub struct Member {
    outlet: Rc<LocalOutlet>,
    id: u64,
}

impl Drop for Member {
    fn drop(&mut self) {
        self.outlet.sockets.borrow_mut().remove(&self.id);
    }
}

/// Puts socket `id` behind this thread's outlet for `contest` (creating the outlet if needed).
/// Returns the outlet to subscribe with, the membership, and where a close order arrives.
pub fn join(
    contest: &ContestHandle,
    id: u64,
    session: Session,
    ws: &Arc<WsState>,
) -> (Outlet, Member, oneshot::Receiver<CloseCode>) {
    let (outlet, tx) = local_outlet(contest, ws);
    let (close, closed) = oneshot::channel();
    outlet.sockets.borrow_mut().insert(
        id,
        Socket {
            session,
            close,
            personal: false,
        },
    );
    let subscribe_with = Outlet { id: outlet.id, tx };
    (subscribe_with, Member { outlet, id }, closed)
}

/// This thread's live outlet for the contest's current actor, or a new one.
fn local_outlet(
    contest: &ContestHandle,
    ws: &Arc<WsState>,
) -> (Rc<LocalOutlet>, mpsc::UnboundedSender<Push>) {
    OUTLETS.with(|outlets| {
        let mut outlets = outlets.borrow_mut();
        if let Some(outlet) = outlets.get(&contest.contest_id) {
            if let Some(tx) = outlet.tx.upgrade() {
                if outlet.contest.same_actor(contest) {
                    return (outlet.clone(), tx);
                }
            }
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let outlet = Rc::new(LocalOutlet {
            id: next_id(),
            contest: contest.clone(),
            tx: tx.downgrade(),
            sockets: RefCell::default(),
            ws: ws.clone(),
        });
        outlets.insert(contest.contest_id, outlet.clone());
        actix_web::rt::spawn(run(outlet.clone(), rx));
        (outlet, tx)
    })
}

async fn run(outlet: Rc<LocalOutlet>, mut rx: mpsc::UnboundedReceiver<Push>) {
    while let Some(push) = rx.recv().await {
        match push {
            Push::Shared(frame) => outlet.deliver_all(&frame, false),
            Push::All(frame) => outlet.deliver_all(&frame, true),
            Push::One(id, frame) => outlet.deliver_one(id, frame),
            Push::Each(frames) => {
                for (id, frame) in frames {
                    outlet.deliver_one(id, frame);
                }
            }
            Push::Personal(id, personal) => outlet.set_personal(id, personal),
            Push::Close(id) => outlet.close(id),
        }
    }
    // The actor let go (contest hidden, actor stopped): every socket closes.
    for (_, socket) in outlet.sockets.borrow_mut().drain() {
        let _ = socket.close.send(CloseCode::Policy);
    }
    OUTLETS.with(|outlets| {
        let mut outlets = outlets.borrow_mut();
        if outlets
            .get(&outlet.contest.contest_id)
            .is_some_and(|o| Rc::ptr_eq(o, &outlet))
        {
            outlets.remove(&outlet.contest.contest_id);
        }
    });
}

/// What handing a frame to a socket's queue came to.
pub enum Handed {
    Queued,
    /// The socket is closed already; its task is ending.
    Gone,
    /// The queue is full: the client does not read.
    Full,
}

/// Queues a frame without waiting. Outside tokio's cooperative budget: one task hands frames to
/// thousands of queues in one poll, and past ~128 sends every queue would look full.
pub fn try_queue(send: impl Future<Output = Result<(), actix_ws::Closed>>) -> Handed {
    match tokio::task::unconstrained(send).now_or_never() {
        Some(Ok(())) => Handed::Queued,
        Some(Err(_)) => Handed::Gone,
        None => Handed::Full,
    }
}

fn hand(session: &mut Session, frame: Frame) -> Handed {
    try_queue(session.text(frame))
}

impl LocalOutlet {
    /// Hands `frame` to every socket (`personal` too), or to those on the contest's window.
    fn deliver_all(&self, frame: &Frame, personal: bool) {
        let mut slow = 0;
        self.sockets.borrow_mut().retain(|_, socket| {
            if socket.personal && !personal {
                return true;
            }
            match hand(&mut socket.session, frame.clone()) {
                Handed::Queued => true,
                Handed::Gone => false,
                Handed::Full => {
                    slow += 1;
                    false
                }
            }
        });
        // Dropping a socket's entry drops its close sender: its task sees that and closes.
        if slow > 0 {
            self.ws.dropped_slow.fetch_add(slow, Ordering::Relaxed);
        }
    }

    fn deliver_one(&self, id: u64, frame: Frame) {
        let mut sockets = self.sockets.borrow_mut();
        if let Some(socket) = sockets.get_mut(&id) {
            if !matches!(hand(&mut socket.session, frame), Handed::Queued) {
                sockets.remove(&id);
            }
        }
    }

    fn set_personal(&self, id: u64, personal: bool) {
        if let Some(socket) = self.sockets.borrow_mut().get_mut(&id) {
            socket.personal = personal;
        }
    }

    fn close(&self, id: u64) {
        if let Some(socket) = self.sockets.borrow_mut().remove(&id) {
            let _ = socket.close.send(CloseCode::Policy);
        }
    }
}
