//! The contestd runtime: one `ContestActor` per warm contest, the `WriteBatcher` that turns
//! submissions from every contest into bulk inserts with group commit, and the `Supervisor`
//! that starts, evicts and restarts contest actors.
//!
//! This crate holds no HTTP and no SQL: the server hands it a store behind a trait and talks
//! to it with typed messages. The runtime itself lands with the contest-runtime issue; until
//! then this crate only fixes its place in the workspace and the one rule every actor obeys.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

/// Every actor's mailbox is bounded; a sender that finds it full answers "unavailable" at once
/// instead of queueing without limit. actix does not enforce capacities on `send`/`do_send`,
/// so each actor counts its own in-flight messages against this bound.
pub const DEFAULT_MAILBOX_CAPACITY: usize = 4096;
