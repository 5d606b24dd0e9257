//! The Supervisor and the `Runtime` handle the server holds.
//!
//! The registry (contest id → actor handle) is a `parking_lot` RwLock that handlers read
//! directly; only the supervisor writes it. A cold contest is loaded once however many requests
//! ask for it at the same moment (single flight: the supervisor handles one message at a time
//! and parks the askers until the load ends). Actors are spread over one arbiter per core,
//! evicted when idle past the TTL or long closed, and restarted from the database when found
//! dead.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use chrono::Utc;
use futures_util::future::BoxFuture;
use parking_lot::RwLock;
use tokio::sync::oneshot;

use crate::contest::{Change, ContestActor, Counted, Published, Retire, Ticket};
use crate::model::{Id, Snapshot};
use crate::writer::{writer, SinkError, SubmissionSink, WriterConfig, WriterHandle};

/// Where contest snapshots come from: the server's store implements it.
pub trait SnapshotSource: Send + Sync + 'static {
    /// The contest with its questions, enrolled students and submissions; `None` if unknown.
    fn load(&self, contest_id: Id) -> BoxFuture<'_, Result<Option<Snapshot>, SinkError>>;
}

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuntimeError {
    /// No such contest.
    NotFound,
    /// The contest's mailbox is full.
    Overloaded,
    /// The database could not be read, or the actor died again.
    Unavailable,
}

/// A warm contest: its actor and the figures it publishes.
#[derive(Clone)]
pub struct ContestHandle {
    pub contest_id: Id,
    pub course_id: Id,
    addr: Addr<ContestActor>,
    published: Arc<Published>,
    capacity: usize,
}

impl ContestHandle {
    /// Sends a message counted against the mailbox bound.
    pub async fn send<M>(&self, msg: M) -> Result<M::Result, RuntimeError>
    where
        M: Message + Send + 'static,
        M::Result: Send,
        ContestActor: Handler<Counted<M>>,
    {
        if self.published.depth.fetch_add(1, Ordering::AcqRel) >= self.capacity {
            self.published.depth.fetch_sub(1, Ordering::AcqRel);
            return Err(RuntimeError::Overloaded);
        }
        let ticket = Ticket(self.published.clone());
        self.published.touch();
        self.addr
            .send(Counted { msg, ticket })
            .await
            .map_err(|_| RuntimeError::Unavailable)
    }

    /// Sends past the bound: for admins' changes, which must arrive whatever the load.
    pub async fn send_uncounted<M>(&self, msg: M) -> Result<M::Result, RuntimeError>
    where
        M: Message + Send + 'static,
        M::Result: Send,
        ContestActor: Handler<M>,
    {
        self.addr
            .send(msg)
            .await
            .map_err(|_| RuntimeError::Unavailable)
    }

    pub fn is_alive(&self) -> bool {
        self.addr.connected()
    }

    /// Whether both handles reach the same actor (not a restarted one).
    pub fn same_actor(&self, other: &ContestHandle) -> bool {
        self.addr == other.addr
    }

    pub fn published(&self) -> &Published {
        &self.published
    }
}

type Registry = Arc<RwLock<HashMap<Id, ContestHandle>>>;
type LoadAnswer = Result<Option<ContestHandle>, RuntimeError>;

/// What the server holds: the registry to read, the supervisor to ask, the writer's handle.
#[derive(Clone)]
pub struct Runtime {
    registry: Registry,
    supervisor: Addr<Supervisor>,
    writer: WriterHandle,
    loads: Arc<AtomicU64>,
    lookups: Arc<Lookups>,
}

/// How often a handler found its contest warm in the registry (hit) or had to ask the
/// supervisor for it (miss).
#[derive(Debug, Default)]
pub struct Lookups {
    pub hits: AtomicU64,
    pub misses: AtomicU64,
}

impl Lookups {
    /// (hits, misses) so far.
    pub fn figures(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }
}

impl Runtime {
    /// Starts the writer, the arbiters and the supervisor. Call inside an actix `System`.
    pub fn start(
        source: Arc<dyn SnapshotSource>,
        sink: Arc<dyn SubmissionSink>,
        writer_config: WriterConfig,
        config: RuntimeConfig,
    ) -> Runtime {
        // The writer gets a thread of its own.
        let writer_arbiter = Arbiter::new();
        let (writer, run_writer) = writer(sink, writer_config);
        writer_arbiter.spawn(run_writer);
        let registry: Registry = Arc::default();
        let loads = Arc::new(AtomicU64::new(0));
        let arbiters = (0..config.arbiters.max(1))
            .map(|_| Arbiter::new())
            .collect();
        let supervisor = Supervisor {
            source,
            writer: writer.clone(),
            registry: registry.clone(),
            loading: HashMap::new(),
            arbiters,
            next_arbiter: AtomicUsize::new(0),
            loads: loads.clone(),
            config,
            _writer_arbiter: writer_arbiter,
        }
        .start();
        Runtime {
            registry,
            supervisor,
            writer,
            loads,
            lookups: Arc::default(),
        }
    }

    /// The contest's handle, loading the contest if it is cold.
    pub async fn contest(&self, id: Id) -> LoadAnswer {
        if let Some(handle) = self.warm(id) {
            self.lookups.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(Some(handle));
        }
        self.lookups.misses.fetch_add(1, Ordering::Relaxed);
        self.supervisor
            .send(Warm { id })
            .await
            .unwrap_or(Err(RuntimeError::Unavailable))
    }

    /// Sends `msg` to the contest's actor, loading the contest if needed and restarting the
    /// actor once if it is found dead.
    pub async fn ask<M>(&self, id: Id, msg: M) -> Result<M::Result, RuntimeError>
    where
        M: Message + Clone + Send + 'static,
        M::Result: Send,
        ContestActor: Handler<Counted<M>>,
    {
        for _ in 0..2 {
            let handle = self.contest(id).await?.ok_or(RuntimeError::NotFound)?;
            match handle.send(msg.clone()).await {
                Err(RuntimeError::Unavailable) if !handle.is_alive() => continue,
                other => return other,
            }
        }
        Err(RuntimeError::Unavailable)
    }

    /// The warm, live handle, without loading.
    pub fn warm(&self, id: Id) -> Option<ContestHandle> {
        self.registry
            .read()
            .get(&id)
            .filter(|h| h.is_alive())
            .cloned()
    }

    /// Applies an admin's change to the contest if it is warm (or loading), before returning.
    pub async fn apply(&self, id: Id, change: Change) {
        let _ = self
            .supervisor
            .send(Apply {
                target: Target::Contest(id),
                change,
            })
            .await;
    }

    /// Applies an enrollment change to every warm contest of the course.
    pub async fn apply_to_course(&self, course_id: Id, change: Change) {
        let _ = self
            .supervisor
            .send(Apply {
                target: Target::Course(course_id),
                change,
            })
            .await;
    }

    pub fn handles(&self) -> Vec<ContestHandle> {
        let mut handles: Vec<_> = self.registry.read().values().cloned().collect();
        handles.sort_by_key(|h| h.contest_id);
        handles
    }

    pub fn writer(&self) -> &WriterHandle {
        &self.writer
    }

    /// Registry lookups since start.
    pub fn lookups(&self) -> &Lookups {
        &self.lookups
    }

    /// Snapshot loads since start (each is one database read of a contest).
    pub fn loads(&self) -> u64 {
        self.loads.load(Ordering::Relaxed)
    }

    /// Runs an eviction sweep now (tests; the supervisor also runs one every `sweep_every`).
    pub async fn sweep(&self) {
        let _ = self.supervisor.send(Sweep).await;
    }
}

pub struct Supervisor {
    source: Arc<dyn SnapshotSource>,
    writer: WriterHandle,
    registry: Registry,
    /// Contests being loaded, with who waits for them and whether a change came meanwhile.
    loading: HashMap<Id, Loading>,
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
            Ok(Some(snapshot)) => Ok(Some(self.spawn_actor(snapshot))),
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

    fn spawn_actor(&mut self, snapshot: Snapshot) -> ContestHandle {
        let contest_id = snapshot.contest.id;
        let course_id = snapshot.contest.course_id;
        let published = Arc::new(Published::default());
        let actor = ContestActor::new(
            snapshot,
            self.writer.clone(),
            published.clone(),
            self.config.tick,
        );
        let i = self.next_arbiter.fetch_add(1, Ordering::Relaxed) % self.arbiters.len();
        let addr = ContestActor::start_in_arbiter(&self.arbiters[i].handle(), move |_| actor);
        let handle = ContestHandle {
            contest_id,
            course_id,
            addr,
            published,
            capacity: self.config.mailbox_capacity.max(1),
        };
        self.registry.write().insert(contest_id, handle.clone());
        tracing::info!(contest_id, arbiter = i, "contest warmed");
        handle
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
            let retire = handle.addr.send(Retire { min_idle_ms });
            ctx.spawn(
                async move {
                    // A dead actor cannot answer: drop its entry all the same.
                    let retired = retire.await.unwrap_or(true);
                    if retired {
                        let mut registry = registry.write();
                        if registry
                            .get(&handle.contest_id)
                            .is_some_and(|h| h.addr == handle.addr)
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

#[derive(Message)]
#[rtype(result = "LoadAnswer")]
struct Warm {
    id: Id,
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

enum Target {
    Contest(Id),
    Course(Id),
}

#[derive(Message)]
#[rtype(result = "()")]
struct Apply {
    target: Target,
    change: Change,
}

impl Handler<Apply> for Supervisor {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, msg: Apply, _: &mut Context<Self>) -> Self::Result {
        let registry = self.registry.read();
        let handles: Vec<ContestHandle> = match msg.target {
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
        };
        drop(registry);
        let change = msg.change;
        Box::pin(async move {
            // Uncounted: an admin's change must reach the actor even when its mailbox is full.
            for handle in handles {
                let _ = handle.send_uncounted(change.clone()).await;
            }
        })
    }
}

#[derive(Message)]
#[rtype(result = "()")]
struct Sweep;

impl Handler<Sweep> for Supervisor {
    type Result = ();
    fn handle(&mut self, _: Sweep, ctx: &mut Context<Self>) {
        self.sweep(ctx);
    }
}
