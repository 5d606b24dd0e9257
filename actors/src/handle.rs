//! `ContestHandle`: how the server reaches a warm contest's actor, with the mailbox bound
//! checked before each send.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use actix::dev::Request;
use actix::prelude::*;

use crate::contest::{ContestActor, Counted, Published, Retire, Ticket};
use crate::model::Id;

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
    /// The handle of a started actor; at most `capacity` counted messages may wait for it.
    pub(crate) fn new(
        contest_id: Id,
        course_id: Id,
        addr: Addr<ContestActor>,
        published: Arc<Published>,
        capacity: usize,
    ) -> Self {
        ContestHandle {
            contest_id,
            course_id,
            addr,
            published,
            capacity: capacity.max(1),
        }
    }

    /// The most counted messages that may wait for the actor.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

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

    /// Asks the actor to stop if it has been idle for `min_idle_ms` (see `Retire`).
    pub(crate) fn retire(&self, min_idle_ms: i64) -> Request<ContestActor, Retire> {
        self.addr.send(Retire { min_idle_ms })
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
