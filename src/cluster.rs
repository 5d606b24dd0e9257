//! Several nodes on one PostgreSQL database. What one node commits, every other node learns
//! through PostgreSQL's LISTEN/NOTIFY: triggers (migration 0008) publish each change on the
//! channel `contestd_changes` from the transaction that makes it, and each node listens on a
//! connection of its own and applies what it hears to its warm contests (read again from the
//! database, refreshed in place: their sockets stay) and its token cache.
//!
//! Notifications are not queued for a node that is not listening: one whose listening
//! connection dropped may have missed some. So each (re)connection is followed by a refresh
//! of every warm contest and a cleared token cache, after LISTEN, so nothing falls in between.
//! A connection can also die silently: the node sends itself a ping through its pool every
//! `PING_EVERY` and reconnects when none came back for `PING_LOST_AFTER`.
//!
//! SQLite is served by one process (`Store::lock_for_serving`), which needs none of this.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::rt::task::JoinHandle;
use serde::{Deserialize, Serialize};
use sqlx::postgres::{PgListener, PgPoolOptions};
use sqlx::PgPool;
use uuid::Uuid;

use crate::auth::Auth;
use crate::model::Id;
use crate::store::Store;
use contestd_actors::{Change, Runtime, Target};

/// The channel the triggers publish on.
pub const CHANNEL: &str = "contestd_changes";

const PING_EVERY: Duration = Duration::from_secs(2);
const PING_LOST_AFTER: Duration = Duration::from_secs(10);
const RECONNECT_FIRST: Duration = Duration::from_millis(100);
const RECONNECT_MAX: Duration = Duration::from_secs(5);

/// This node's name on the database and what its listener has done.
pub struct Cluster {
    node: Uuid,
    listening: AtomicBool,
    connects: AtomicU64,
    /// Other nodes' changes heard, and of those, the ones that concerned this node.
    received: AtomicU64,
    applied: AtomicU64,
    /// This node's own changes heard (already applied when they were made).
    own: AtomicU64,
    /// When this node last heard its own ping, in ms since the Unix epoch.
    ping_heard_ms: AtomicI64,
}

/// What `/health` shows of the listener.
#[derive(Debug, Serialize)]
pub struct ListenerStatus {
    pub listening: bool,
    pub node: Uuid,
    pub connects: u64,
    pub received: u64,
    pub applied: u64,
}

impl Cluster {
    pub fn new() -> Arc<Cluster> {
        Arc::new(Cluster {
            node: Uuid::new_v4(),
            listening: AtomicBool::new(false),
            connects: AtomicU64::new(0),
            received: AtomicU64::new(0),
            applied: AtomicU64::new(0),
            own: AtomicU64::new(0),
            ping_heard_ms: AtomicI64::new(0),
        })
    }

    /// The `application_name` of this node's pool: notifications from it are its own.
    pub fn pool_name(&self) -> String {
        format!("contestd {}", self.node)
    }

    /// The `application_name` of the listening connection (operators can find it in
    /// `pg_stat_activity`).
    pub fn listener_name(&self) -> String {
        format!("contestd-listener {}", self.node)
    }

    pub fn listening(&self) -> bool {
        self.listening.load(Ordering::Relaxed)
    }

    pub fn status(&self) -> ListenerStatus {
        ListenerStatus {
            listening: self.listening(),
            node: self.node,
            connects: self.connects.load(Ordering::Relaxed),
            received: self.received.load(Ordering::Relaxed),
            applied: self.applied.load(Ordering::Relaxed),
        }
    }

    /// (connects, own, received, applied) so far, for `/metrics`.
    pub fn figures(&self) -> (u64, u64, u64, u64) {
        (
            self.connects.load(Ordering::Relaxed),
            self.own.load(Ordering::Relaxed),
            self.received.load(Ordering::Relaxed),
            self.applied.load(Ordering::Relaxed),
        )
    }
}

/// A notification's payload, as the triggers write it.
#[derive(Debug, Deserialize, PartialEq)]
struct Notice {
    from: String,
    contest: Option<Id>,
    course: Option<Id>,
    announcement: Option<Id>,
    session: Option<String>,
    user: Option<Id>,
    #[serde(default)]
    ping: bool,
}

/// What a notice asks of this node.
#[derive(Debug, PartialEq)]
enum Event {
    /// The contest changed: refresh it if warm.
    Contest(Id),
    /// The course's enrollment changed: refresh its warm contests.
    Course(Id),
    Announcement {
        contest: Id,
        id: Id,
    },
    /// A session was revoked before its time.
    Logout {
        user: Id,
        token_hash: [u8; 32],
    },
}

impl Notice {
    fn event(&self) -> Option<Event> {
        match (self.contest, self.announcement, self.course, &self.session) {
            (Some(contest), Some(id), _, _) => Some(Event::Announcement { contest, id }),
            (Some(contest), None, _, _) => Some(Event::Contest(contest)),
            (None, _, Some(course), _) => Some(Event::Course(course)),
            (None, _, None, Some(hex)) => Some(Event::Logout {
                user: self.user?,
                token_hash: decode_hash(hex)?,
            }),
            _ => None,
        }
    }
}

fn decode_hash(hex: &str) -> Option<[u8; 32]> {
    let bytes = hex.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut hash = [0u8; 32];
    for (i, pair) in bytes.chunks(2).enumerate() {
        let text = std::str::from_utf8(pair).ok()?;
        hash[i] = u8::from_str_radix(text, 16).ok()?;
    }
    Some(hash)
}

/// What applying a notice needs.
#[derive(Clone)]
pub struct Listener {
    pub cluster: Arc<Cluster>,
    pub store: Store,
    pub runtime: Runtime,
    pub auth: actix_web::web::Data<Auth>,
}

impl Listener {
    /// Listens until the task is aborted (a PostgreSQL store only; `None` on SQLite).
    pub fn spawn(self) -> Option<JoinHandle<()>> {
        let Store::Postgres(pool) = &self.store else {
            return None;
        };
        let options = (*pool.connect_options())
            .clone()
            .application_name(&self.cluster.listener_name());
        // A pool of one, so the listener's connection is set up like the others.
        let own_pool = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(5))
            .connect_lazy_with(options);
        let pool = pool.clone();
        Some(actix_web::rt::spawn(LeakOutsideRuntime(Some(Box::pin(
            self.run(own_pool, pool),
        )))))
    }

    async fn run(self, listener_pool: PgPool, pool: PgPool) {
        let mut wait = RECONNECT_FIRST;
        loop {
            match self.connect(&listener_pool).await {
                Ok(listener) => {
                    wait = RECONNECT_FIRST;
                    self.listen(listener, &pool).await;
                    self.cluster.listening.store(false, Ordering::Relaxed);
                    tracing::warn!("lost the connection listening for other nodes' changes");
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for other nodes' changes");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(RECONNECT_MAX);
                }
            }
        }
    }

    /// LISTENs, then takes in what may have been missed before.
    async fn connect(&self, pool: &PgPool) -> Result<PgListener, sqlx::Error> {
        let mut listener = PgListener::connect_with(pool).await?;
        // The pool is ours: its closing at shutdown ends the task, which is aborted anyway.
        listener.listen(CHANNEL).await?;
        let cluster = &self.cluster;
        cluster.connects.fetch_add(1, Ordering::Relaxed);
        cluster.ping_heard_ms.store(now_ms(), Ordering::Relaxed);
        self.auth.forget_all();
        self.runtime.refresh(Target::All).await;
        cluster.listening.store(true, Ordering::Relaxed);
        tracing::info!(node = %cluster.node, "listening for other nodes' changes");
        Ok(listener)
    }

    /// Applies notifications until the connection is lost or stops answering pings.
    async fn listen(&self, mut listener: PgListener, pool: &PgPool) {
        let receive = async {
            loop {
                match listener.try_recv().await {
                    Ok(Some(notification)) => self.apply(notification.payload()).await,
                    Ok(None) => return,
                    Err(e) => {
                        tracing::warn!(error = %e, "listening connection failed");
                        return;
                    }
                }
            }
        };
        let watch = async {
            let mut ticks = tokio::time::interval(PING_EVERY);
            let ping = serde_json::json!({ "from": self.cluster.pool_name(), "ping": true });
            loop {
                ticks.tick().await;
                let heard = self.cluster.ping_heard_ms.load(Ordering::Relaxed);
                if now_ms() - heard > PING_LOST_AFTER.as_millis() as i64 {
                    tracing::warn!("no ping came back on the listening connection");
                    return;
                }
                // A failed send shows as a ping not heard.
                let _ = sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(CHANNEL)
                    .bind(ping.to_string())
                    .execute(pool)
                    .await;
            }
        };
        // Whichever ends first drops the other (and the connection with it).
        tokio::select! {
            () = receive => {}
            () = watch => {}
        }
    }

    async fn apply(&self, payload: &str) {
        let notice: Notice = match serde_json::from_str(payload) {
            Ok(notice) => notice,
            Err(e) => {
                tracing::warn!(payload, error = %e, "unreadable change notification");
                return;
            }
        };
        let cluster = &self.cluster;
        if notice.from == cluster.pool_name() {
            if notice.ping {
                cluster.ping_heard_ms.store(now_ms(), Ordering::Relaxed);
            } else {
                cluster.own.fetch_add(1, Ordering::Relaxed);
            }
            return;
        }
        if notice.ping {
            return;
        }
        cluster.received.fetch_add(1, Ordering::Relaxed);
        let Some(event) = notice.event() else {
            tracing::warn!(payload, "change notification of no known kind");
            return;
        };
        if self.apply_event(event).await {
            cluster.applied.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Applies another node's change; whether it concerned this node.
    async fn apply_event(&self, event: Event) -> bool {
        let runtime = &self.runtime;
        match event {
            Event::Contest(id) => {
                let warm = runtime.warm(id).is_some();
                // Also when cold: a load under way may have read before the change.
                runtime.refresh(Target::Contest(id)).await;
                warm
            }
            Event::Course(course_id) => {
                let warm = runtime.handles().iter().any(|h| h.course_id == course_id);
                runtime.refresh(Target::Course(course_id)).await;
                warm
            }
            Event::Announcement { contest, id } => {
                if runtime.warm(contest).is_none() {
                    return false;
                }
                match self.store.announcement(contest, id).await {
                    Ok(Some(posted)) => {
                        runtime.apply(contest, Change::Announce(posted)).await;
                        true
                    }
                    Ok(None) => false,
                    Err(e) => {
                        tracing::warn!(contest_id = contest, error = %e, "announcement not read");
                        false
                    }
                }
            }
            Event::Logout { user, token_hash } => {
                self.auth.revoked_elsewhere(user, &token_hash);
                true
            }
        }
    }
}

/// The listener's future, leaked instead of dropped where no Tokio runtime is left: sqlx gives
/// a connection back (or closes it) with a spawned task, which panics there. That happens only
/// to a server dropped without being stopped (a test's); a stopped one drops it inside.
struct LeakOutsideRuntime<F>(Option<Pin<Box<F>>>);

impl<F: Future<Output = ()>> Future for LeakOutsideRuntime<F> {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match self.0.as_mut() {
            Some(inner) => inner.as_mut().poll(cx),
            None => Poll::Ready(()),
        }
    }
}

impl<F> Drop for LeakOutsideRuntime<F> {
    fn drop(&mut self) {
        if let Some(inner) = self.0.take() {
            if tokio::runtime::Handle::try_current().is_err() {
                std::mem::forget(inner);
            }
        }
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(payload: &str) -> Option<Event> {
        serde_json::from_str::<Notice>(payload).ok()?.event()
    }

    #[test]
    fn payloads_as_the_triggers_write_them() {
        assert_eq!(
            event(r#"{"from" : "contestd x", "contest" : 7}"#),
            Some(Event::Contest(7))
        );
        assert_eq!(
            event(r#"{"from" : "psql", "course" : 3}"#),
            Some(Event::Course(3))
        );
        assert_eq!(
            event(r#"{"from" : "", "contest" : 7, "announcement" : 9}"#),
            Some(Event::Announcement { contest: 7, id: 9 })
        );
        let hex = "ab".repeat(32);
        assert_eq!(
            event(&format!(r#"{{"from":"a","user":5,"session":"{hex}"}}"#)),
            Some(Event::Logout {
                user: 5,
                token_hash: [0xab; 32]
            })
        );
    }

    #[test]
    fn malformed_payloads_ask_nothing() {
        assert_eq!(event(r#"{"from":"a"}"#), None);
        assert_eq!(event(r#"{"from":"a","user":5,"session":"zz"}"#), None);
        assert_eq!(event(r#"{"from":"a","session":"abab"}"#), None);
        assert_eq!(event(r#"{"contest":1}"#), None);
        assert_eq!(event("not json"), None);
    }
}
