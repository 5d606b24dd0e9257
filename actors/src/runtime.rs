//! `Runtime`: what the server holds. It reads the registry directly for warm contests and asks
//! the supervisor for cold ones, and carries the writer's handle and the lookup counters.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use actix::prelude::*;

use crate::contest::{Change, ContestActor, Counted};
use crate::handle::{ContestHandle, RuntimeError};
use crate::model::Id;
use crate::supervisor::{
    Apply, LoadAnswer, Refresh, Registry, RuntimeConfig, SnapshotSource, Supervisor, Sweep, Target,
    Warm,
};
use crate::writer::{writer, SubmissionSink, WriterConfig, WriterHandle};

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
        let supervisor = Supervisor::start(
            source,
            writer.clone(),
            writer_arbiter,
            registry.clone(),
            loads.clone(),
            config,
        );
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

    /// Another node changed what the target's warm contests hold: they are read again from
    /// the database and refreshed in place. Returns once the reads are under way.
    pub async fn refresh(&self, target: Target) {
        let _ = self.supervisor.send(Refresh { target }).await;
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
