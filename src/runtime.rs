//! Glue between the server and the actor runtime: the store as the runtime's snapshot source
//! and submission sink, the runtime's settings, and its refusals as API errors.

use std::sync::Arc;
use std::time::Duration;

use contestd_actors::{
    Batch, FlushObserver, Refusal, Runtime, RuntimeConfig, RuntimeError, SinkError, SnapshotSource,
    SubmissionSink, WriterConfig,
};
use futures_util::future::BoxFuture;

use crate::config::{cores, RuntimeArgs};
use crate::error::ApiError;
use crate::model::{ContestStatus, Id, Snapshot};
use crate::store::{Store, StoreError};

pub fn start(store: &Store, args: &RuntimeArgs, on_flush: FlushObserver) -> Runtime {
    let idle_ttl = Duration::from_secs(args.contest_idle_ttl_secs.max(1));
    let config = RuntimeConfig {
        mailbox_capacity: args.mailbox_capacity,
        idle_ttl,
        closed_grace: Duration::from_secs(args.contest_closed_grace_secs),
        sweep_every: (idle_ttl / 4).clamp(Duration::from_millis(100), Duration::from_secs(5)),
        arbiters: args.actor_threads.unwrap_or_else(cores).max(1),
        tick: Duration::from_millis(args.ws_tick_ms.max(10)),
    };
    let writer = WriterConfig {
        batch_size: args.writer_batch_size.max(1),
        deadline: Duration::from_millis(args.writer_deadline_ms),
        queue_bound: args.writer_queue.max(1),
        on_flush: Some(on_flush),
        ..WriterConfig::default()
    };
    let store = Arc::new(store.clone());
    Runtime::start(store.clone(), store, writer, config)
}

fn sink_error(e: StoreError) -> SinkError {
    SinkError {
        transient: matches!(e, StoreError::Unavailable(_)),
        message: e.to_string(),
    }
}

impl SnapshotSource for Store {
    fn load(&self, contest_id: Id) -> BoxFuture<'_, Result<Option<Snapshot>, SinkError>> {
        Box::pin(async move { self.snapshot(contest_id).await.map_err(sink_error) })
    }
}

impl SubmissionSink for Store {
    fn write_batch<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Result<Vec<bool>, SinkError>> {
        Box::pin(async move { self.write_batch(batch).await.map_err(sink_error) })
    }
}

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::NotFound => ApiError::not_found("contest"),
            Refusal::BadAnswers(why) => ApiError::BadRequest(why),
            Refusal::NotEnrolled => ApiError::NotEnrolled,
            Refusal::AlreadySubmitted | Refusal::AlreadySubmittedElsewhere => {
                ApiError::AlreadySubmitted
            }
            Refusal::KeyReused => ApiError::Conflict(
                "this Idempotency-Key was already used for this contest with other answers".into(),
            ),
            Refusal::NotOpen(ContestStatus::Upcoming) => {
                ApiError::ContestNotOpen("the contest has not started".into())
            }
            Refusal::NotOpen(_) => ApiError::ContestNotOpen("the contest has ended".into()),
            Refusal::Unavailable(why) => ApiError::unavailable(why),
        }
    }
}

impl From<RuntimeError> for ApiError {
    fn from(e: RuntimeError) -> Self {
        match e {
            RuntimeError::NotFound => ApiError::not_found("contest"),
            RuntimeError::Overloaded => ApiError::unavailable("the contest is busy, try again"),
            RuntimeError::Unavailable => {
                ApiError::unavailable("the contest runtime is unavailable, try again")
            }
        }
    }
}
