//! The Supervisor: the actor that starts, evicts and restarts contest actors.
//!
//! The registry (contest id → actor handle) is a `parking_lot` RwLock that handlers read
//! directly (through `Runtime`); only the supervisor writes it. A cold contest is loaded once
//! however many requests ask for it at the same moment (single flight: the supervisor handles
//! one message at a time and parks the askers until the load ends). Actors are spread over one
//! arbiter per core, evicted when idle past the TTL or long closed, and restarted from the
//! database when found dead.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use chrono::Utc;
use futures_util::future::BoxFuture;
use parking_lot::RwLock;
use tokio::sync::oneshot;

use crate::contest::{Change, ContestActor, Published};
use crate::handle::{ContestHandle, RuntimeError};
use crate::model::{Id, Snapshot};
use crate::writer::{SinkError, WriterHandle};

/// Where contest snapshots come from: the server's store implements it.
pub trait SnapshotSource: Send + Sync + 'static {
    /// The contest with its questions, enrolled students and submissions; `None` if unknown.
    fn load(&self, contest_id: Id) -> BoxFuture<'_, Result<Option<Snapshot>, SinkError>>;
}

/// The runtime's settings, which the supervisor applies.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Messages a contest actor may have queued before senders get `Overloaded`.
    pub mailbox_capacity: usize,
    /// A contest unused for this long is evicted.
    pub idle_ttl: Duration,
    /// A contest closed for this long is evicted once idle for a second.
    pub closed_grace: Duration,
    /// How often the supervisor looks for actors to evict.
    pub sweep_every: Duration,
    /// Arbiters (threads) the contest actors are spread over.
    pub arbiters: usize,
    /// How often WebSocket subscribers get a `state` frame.
    pub tick: Duration,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            mailbox_capacity: 4096,
            idle_ttl: Duration::from_secs(1800),
            closed_grace: Duration::from_secs(600),
            sweep_every: Duration::from_secs(5),
            arbiters: 2,
            tick: Duration::from_secs(1),
        }
    }
}

pub(crate) type Registry = Arc<RwLock<HashMap<Id, ContestHandle>>>;
pub(crate) type LoadAnswer = Result<Option<ContestHandle>, RuntimeError>;

pub struct Supervisor {
    source: Arc<dyn SnapshotSource>,
    writer: WriterHandle,
    registry: Registry,
    /// Contests being loaded, with who waits for them and whether a change came meanwhile.
    loading: HashMap<Id, Loading>,
    /// Contests being read again for a refresh, and whether another refresh was asked since.
    refreshing: HashMap<Id, bool>,
    arbiters: Vec<Arbiter>,
    next_arbiter: AtomicUsize,
    loads: Arc<AtomicU64>,
    config: RuntimeConfig,
    _writer_arbiter: Arbiter,
}

#[derive(Default)]
struct Loading {
    waiters: Vec<oneshot::Sender<LoadAnswer>>,
    /// A change arrived during the load: the snapshot may predate it, so load again.
    stale: bool,
}

impl Actor for Supervisor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(self.config.sweep_every, |act, ctx| act.sweep(ctx));
    }
}

impl Supervisor {
    /// Starts the supervisor with `config.arbiters` arbiters for the contest actors. It keeps
    /// the writer's arbiter for as long as it runs.
    pub(crate) fn start(
        source: Arc<dyn SnapshotSource>,
        writer: WriterHandle,
        writer_arbiter: Arbiter,
        registry: Registry,
        loads: Arc<AtomicU64>,
        config: RuntimeConfig,
    ) -> Addr<Supervisor> {
        let arbiters = (0..config.arbiters.max(1))
            .map(|_| Arbiter::new())
            .collect();
        Supervisor {
            source,
            writer,
            registry,
            loading: HashMap::new(),
            refreshing: HashMap::new(),
            arbiters,
            next_arbiter: AtomicUsize::new(0),
            loads,
            config,
            _writer_arbiter: writer_arbiter,
        }
        .start()
    }

    fn start_load(&mut self, id: Id, ctx: &mut Context<Self>) {
        self.loads.fetch_add(1, Ordering::Relaxed);
        let source = self.source.clone();
        let load = async move { source.load(id).await };
        ctx.spawn(
            load.into_actor(self)
                .map(move |result, act, ctx| act.finish_load(id, result, ctx)),
        );
    }

    fn finish_load(
        &mut self,
        id: Id,
        result: Result<Option<Snapshot>, SinkError>,
        ctx: &mut Context<Self>,
    ) {
        let Some(loading) = self.loading.get_mut(&id) else {
            return;
        };
        if loading.stale && result.is_ok() {
            loading.stale = false;
            self.start_load(id, ctx);
            return;
        }
        let waiters = self
            .loading
            .remove(&id)
            .map(|l| l.waiters)
            .unwrap_or_default();
        let answer = match result {
            Ok(Some(snapshot)) => self.spawn_actor(snapshot).map(Some),
            Ok(None) => Ok(None),
            Err(e) => {
                tracing::warn!(contest_id = id, error = %e.message, "contest load failed");
                Err(RuntimeError::Unavailable)
            }
        };
        for waiter in waiters {
            let _ = waiter.send(answer.clone());
        }
    }

    fn spawn_actor(&mut self, snapshot: Snapshot) -> Result<ContestHandle, RuntimeError> {
        let contest_id = snapshot.contest.id;
        let course_id = snapshot.contest.course_id;
        let published = Arc::new(Published::default());
        let actor = ContestActor::new(
            snapshot,
            self.writer.clone(),
            published.clone(),
            self.config.tick,
        )
        .map_err(|e| {
            tracing::error!(contest_id, error = %e, "contest view could not be serialized");
            RuntimeError::Unavailable
        })?;
        let i = self.next_arbiter.fetch_add(1, Ordering::Relaxed) % self.arbiters.len();
        let addr = ContestActor::start_in_arbiter(&self.arbiters[i].handle(), move |_| actor);
        let handle = ContestHandle::new(
            contest_id,
            course_id,
            addr,
            published,
            self.config.mailbox_capacity,
        );
        self.registry.write().insert(contest_id, handle.clone());
        tracing::info!(contest_id, arbiter = i, "contest warmed");
        Ok(handle)
    }

    /// The warm contests a change concerns; loads under way that it may concern are redone
    /// (their snapshot may predate it).
    fn targets(&mut self, target: Target) -> Vec<ContestHandle> {
        let registry = self.registry.read();
        match target {
            Target::Contest(id) => {
                if let Some(loading) = self.loading.get_mut(&id) {
                    loading.stale = true;
                }
                registry.get(&id).cloned().into_iter().collect()
            }
            Target::Course(course_id) => {
                // We do not know a loading contest's course yet: reload them all.
                for loading in self.loading.values_mut() {
                    loading.stale = true;
                }
                registry
                    .values()
                    .filter(|h| h.course_id == course_id)
                    .cloned()
                    .collect()
            }
            Target::All => {
                for loading in self.loading.values_mut() {
                    loading.stale = true;
                }
                registry.values().cloned().collect()
            }
        }
    }

    /// Reads the contest again and hands it to its actor. One read per contest at a time:
    /// changes that arrive meanwhile are taken in by one more read after it.
    fn refresh(&mut self, handle: ContestHandle, ctx: &mut Context<Self>) {
        let id = handle.contest_id;
        if let Some(again) = self.refreshing.get_mut(&id) {
            *again = true;
            return;
        }
        self.refreshing.insert(id, false);
        let source = self.source.clone();
        let read = async move {
            match source.load(id).await {
                Ok(Some(fresh)) => {
                    let _ = handle
                        .send_uncounted(Change::Refresh(Box::new(fresh)))
                        .await;
                }
                // Deleted: nothing left to serve.
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(contest_id = id, error = %e.message, "contest refresh failed");
                }
            }
            handle
        };
        ctx.spawn(read.into_actor(self).map(move |handle, act, ctx| {
            if act.refreshing.remove(&id) == Some(true) && handle.is_alive() {
                act.refresh(handle, ctx);
            }
        }));
    }

    fn sweep(&mut self, ctx: &mut Context<Self>) {
        let now = Utc::now();
        let ttl_ms = self.config.idle_ttl.as_millis() as i64;
        let grace_ms = self.config.closed_grace.as_millis() as i64;
        let candidates: Vec<(ContestHandle, i64)> = self
            .registry
            .read()
            .values()
            .filter_map(|h| {
                let p = h.published();
                let idle = p.idle_ms(now);
                let long_closed =
                    p.end_ms.load(Ordering::Relaxed) + grace_ms < now.timestamp_millis();
                if !h.is_alive() {
                    Some((h.clone(), 0))
                } else if idle >= ttl_ms {
                    Some((h.clone(), ttl_ms))
                } else if long_closed && idle >= 1000 {
                    Some((h.clone(), 1000))
                } else {
                    None
                }
            })
            .collect();
        for (handle, min_idle_ms) in candidates {
            let registry = self.registry.clone();
            let retire = handle.retire(min_idle_ms);
            ctx.spawn(
                async move {
                    // A dead actor cannot answer: drop its entry all the same.
                    let retired = retire.await.unwrap_or(true);
                    if retired {
                        let mut registry = registry.write();
                        if registry
                            .get(&handle.contest_id)
                            .is_some_and(|h| h.same_actor(&handle))
                        {
                            registry.remove(&handle.contest_id);
                            tracing::info!(contest_id = handle.contest_id, "contest evicted");
                        }
                    }
                }
                .into_actor(self),
            );
        }
    }
}

/// The contest's handle, loading the contest if it is cold (`None`: no such contest).
#[derive(Message)]
#[rtype(result = "LoadAnswer")]
pub(crate) struct Warm {
    pub id: Id,
}

impl Handler<Warm> for Supervisor {
    type Result = ResponseFuture<LoadAnswer>;

    fn handle(&mut self, msg: Warm, ctx: &mut Context<Self>) -> Self::Result {
        let id = msg.id;
        let live = self
            .registry
            .read()
            .get(&id)
            .filter(|h| h.is_alive())
            .cloned();
        if let Some(handle) = live {
            return Box::pin(async move { Ok(Some(handle)) });
        }
        // Dead (crashed or retired): forget it, the load below restarts it.
        self.registry.write().remove(&id);
        let (tx, rx) = oneshot::channel();
        let first = !self.loading.contains_key(&id);
        self.loading.entry(id).or_default().waiters.push(tx);
        if first {
            self.start_load(id, ctx);
        }
        Box::pin(async move { rx.await.unwrap_or(Err(RuntimeError::Unavailable)) })
    }
}

/// Which warm contests a change concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Contest(Id),
    /// Every contest of the course (an enrollment).
    Course(Id),
    /// Every warm contest (this node may have missed changes).
    All,
}

/// An admin's change, for the warm contests it concerns; a load under way is redone.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Apply {
    pub target: Target,
    pub change: Change,
}

impl Handler<Apply> for Supervisor {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, msg: Apply, _: &mut Context<Self>) -> Self::Result {
        let handles = self.targets(msg.target);
        let change = msg.change;
        Box::pin(async move {
            // Uncounted: an admin's change must reach the actor even when its mailbox is full.
            for handle in handles {
                let _ = handle.send_uncounted(change.clone()).await;
            }
        })
    }
}

/// Other nodes changed what these contests hold: each warm one is read again from the
/// database and refreshed in place (its sockets stay); loads under way are redone.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Refresh {
    pub target: Target,
}

impl Handler<Refresh> for Supervisor {
    type Result = ();
    fn handle(&mut self, msg: Refresh, ctx: &mut Context<Self>) {
        for handle in self.targets(msg.target) {
            self.refresh(handle, ctx);
        }
    }
}

/// Evicts what is idle or long closed, now.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Sweep;

impl Handler<Sweep> for Supervisor {
    type Result = ();
    fn handle(&mut self, _: Sweep, ctx: &mut Context<Self>) {
        self.sweep(ctx);
    }
}
