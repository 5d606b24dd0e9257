//! The contestd runtime: one `ContestActor` per warm contest, the `WriteBatcher` that turns
//! submissions from every contest into bulk inserts with group commit, and the `Supervisor`
//! that starts, evicts and restarts contest actors.
//!
//! No HTTP and no SQL here: the server implements `SnapshotSource` and `SubmissionSink` over
//! its store and talks to the runtime with typed messages through `Runtime`.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod contest;
pub mod grading;
pub mod handle;
pub mod model;
pub mod order;
pub mod question;
pub mod rules;
pub mod runtime;
pub mod supervisor;
pub mod timer;
pub mod view;
pub mod window;
pub mod writer;

#[cfg(test)]
mod tests;

pub use contest::{
    Change, GetContest, GetDraft, GetFigures, GetOwnSubmission, GetView, PutDraft, Receipt, Seen,
    Submit, Subscribe, Unsubscribe, Validate,
};
pub use grading::Score;
pub use handle::{ContestHandle, RuntimeError};
pub use rules::{same_submission, Claimed, Figures, Grader, Refusal};
pub use runtime::{Lookups, Runtime};
pub use supervisor::{RuntimeConfig, SnapshotSource, Target};
pub use timer::{Frame, Outlet, Push};
pub use view::{AdminView, StudentView};
pub use window::{Accommodation, MyWindow, Window};
pub use writer::{
    Batch, FlushObserver, SinkError, SubmissionSink, WriteOutcome, WriterConfig, WriterHandle,
};

/// The current time to the millisecond, the precision both databases keep.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    use chrono::{DurationRound, TimeDelta, Utc};
    let now = Utc::now();
    now.duration_trunc(TimeDelta::milliseconds(1))
        .unwrap_or(now)
}
