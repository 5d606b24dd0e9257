//! ContestActor: one per warm contest. It owns the contest's `ContestState` and answers one
//! message at a time, so the duplicate check and the claim need no lock. Submissions complete
//! asynchronously after the writer commits (`ResponseActFuture`), so the actor keeps serving
//! while writes are in flight.

use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;

use actix::prelude::*;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::model::{Answer, Contest, Id, Snapshot};
use crate::rules::{ContestState, Figures, Refusal, StudentView};
use crate::writer::{WriteOutcome, WriterHandle};

/// Figures a contest actor publishes for `/health` without being asked.
#[derive(Debug, Default)]
pub struct Published {
    /// Messages sent and not yet taken up by the actor.
    pub depth: AtomicUsize,
    pub enrolled: AtomicUsize,
    pub submitted: AtomicUsize,
    pub subscribers: AtomicUsize,
    /// Last use, in ms since the Unix epoch.
    pub last_used_ms: AtomicI64,
    /// The contest's end, in ms since the Unix epoch (for evicting long-closed contests).
    pub end_ms: AtomicI64,
}

impl Published {
    pub fn touch(&self) {
        self.last_used_ms
            .store(Utc::now().timestamp_millis(), Ordering::Relaxed);
    }

    pub fn idle_ms(&self, now: DateTime<Utc>) -> i64 {
        (now.timestamp_millis() - self.last_used_ms.load(Ordering::Relaxed)).max(0)
    }

    fn publish(&self, state: &ContestState) {
        let f = state.figures();
        self.enrolled.store(f.enrolled, Ordering::Relaxed);
        self.submitted.store(f.submitted, Ordering::Relaxed);
        self.end_ms.store(
            state.contest().end_time.timestamp_millis(),
            Ordering::Relaxed,
        );
    }
}

pub struct ContestActor {
    state: ContestState,
    writer: WriterHandle,
    published: Arc<Published>,
}

impl ContestActor {
    pub fn new(snapshot: Snapshot, writer: WriterHandle, published: Arc<Published>) -> Self {
        let state = ContestState::new(snapshot);
        published.publish(&state);
        published.touch();
        ContestActor {
            state,
            writer,
            published,
        }
    }
}

impl Actor for ContestActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // The real bound is our own counter (`Published::depth`, checked by the sender);
        // actix's capacity is not enforced on `send`, so switch it off (0 = unbounded).
        ctx.set_mailbox_capacity(0);
    }
}

/// A message counted against the actor's mailbox bound; the count drops when the actor takes
/// it up or when it is dropped unhandled (actor gone).
pub struct Counted<M> {
    pub msg: M,
    pub ticket: Ticket,
}

pub struct Ticket(pub(crate) Arc<Published>);

impl Drop for Ticket {
    fn drop(&mut self) {
        self.0.depth.fetch_sub(1, Ordering::AcqRel);
    }
}

impl<M: Message> Message for Counted<M> {
    type Result = M::Result;
}

/// Lets each message type travel counted: the ticket is dropped as the handler starts.
macro_rules! counted {
    ($($message:ty),* $(,)?) => {$(
        impl Handler<Counted<$message>> for ContestActor {
            type Result = <ContestActor as Handler<$message>>::Result;

            fn handle(&mut self, counted: Counted<$message>, ctx: &mut Context<Self>) -> Self::Result {
                drop(counted.ticket);
                <Self as Handler<$message>>::handle(self, counted.msg, ctx)
            }
        }
    )*};
}

counted!(GetView, GetContest, Submit, GetFigures, Validate);

/// The student view (`student: None` for an admin).
#[derive(Message, Clone)]
#[rtype(result = "Result<StudentView, Refusal>")]
pub struct GetView {
    pub student: Option<Id>,
}

impl Handler<GetView> for ContestActor {
    type Result = Result<StudentView, Refusal>;
    fn handle(&mut self, msg: GetView, _: &mut Context<Self>) -> Self::Result {
        self.state.view(msg.student)
    }
}

/// The contest, if the student may see it (`student: None` for an admin).
#[derive(Message, Clone)]
#[rtype(result = "Result<Contest, Refusal>")]
pub struct GetContest {
    pub student: Option<Id>,
}

impl Handler<GetContest> for ContestActor {
    type Result = Result<Contest, Refusal>;
    fn handle(&mut self, msg: GetContest, _: &mut Context<Self>) -> Self::Result {
        if msg.student.is_some() && !self.state.contest().is_active {
            return Err(Refusal::NotFound);
        }
        Ok(self.state.contest().clone())
    }
}

/// What a committed submission answers.
#[derive(Debug, Clone)]
pub struct Receipt {
    pub id: Uuid,
    pub contest_id: Id,
    pub student_id: Id,
    pub submitted_at: DateTime<Utc>,
    /// Present when the contest shows results immediately.
    pub score: Option<(i64, i64)>,
}

#[derive(Message, Clone)]
#[rtype(result = "Result<Receipt, Refusal>")]
pub struct Submit {
    pub student: Id,
    pub answers: Vec<Answer>,
}

impl Handler<Submit> for ContestActor {
    type Result = ResponseActFuture<Self, Result<Receipt, Refusal>>;

    fn handle(&mut self, msg: Submit, _: &mut Context<Self>) -> Self::Result {
        let now = crate::now();
        let claim = match self.state.claim(msg.student, msg.answers, now) {
            Ok(claim) => claim,
            Err(refusal) => return Box::pin(fut::ready(Err(refusal))),
        };
        let row = claim.row;
        let student = row.student_id;
        let immediate = self.state.contest().results == crate::model::ResultsPolicy::Immediate;
        let receipt = Receipt {
            id: row.id,
            contest_id: row.contest_id,
            student_id: student,
            submitted_at: row.submitted_at,
            score: immediate.then_some((row.score, row.max_score)),
        };
        let score = row.score;
        let waiting = match self.writer.submit(row) {
            Ok(waiting) => waiting,
            Err(_) => {
                self.state.release(student);
                return Box::pin(fut::ready(Err(Refusal::Unavailable(
                    "the write queue is full",
                ))));
            }
        };
        Box::pin(
            fut::wrap_future::<_, Self>(waiting).map(move |outcome, act, _| {
                let result = match outcome {
                    Ok(WriteOutcome::Committed) => {
                        act.state.committed(student, score);
                        Ok(receipt)
                    }
                    Ok(WriteOutcome::Duplicate) => {
                        act.state.found_duplicate(student);
                        Err(Refusal::AlreadySubmitted)
                    }
                    Ok(WriteOutcome::Failed) | Err(_) => {
                        act.state.release(student);
                        Err(Refusal::Unavailable("the database is unavailable"))
                    }
                };
                act.published.publish(&act.state);
                result
            }),
        )
    }
}

/// Per-contest figures with the contest.
#[derive(Message, Clone)]
#[rtype(result = "Result<(Contest, Figures), Refusal>")]
pub struct GetFigures;

impl Handler<GetFigures> for ContestActor {
    type Result = Result<(Contest, Figures), Refusal>;
    fn handle(&mut self, _: GetFigures, _: &mut Context<Self>) -> Self::Result {
        Ok((self.state.contest().clone(), self.state.figures()))
    }
}

/// For each student: (actively enrolled, has a committed submission).
#[derive(Message, Clone)]
#[rtype(result = "Result<Vec<(bool, bool)>, Refusal>")]
pub struct Validate {
    pub students: Vec<Id>,
}

impl Handler<Validate> for ContestActor {
    type Result = Result<Vec<(bool, bool)>, Refusal>;
    fn handle(&mut self, msg: Validate, _: &mut Context<Self>) -> Self::Result {
        Ok(msg
            .students
            .iter()
            .map(|s| (self.state.is_enrolled(*s), self.state.has_submitted(*s)))
            .collect())
    }
}

/// An admin's change, applied before the admin gets the answer.
#[derive(Message, Clone, Debug)]
#[rtype(result = "()")]
pub enum Change {
    Contest(Contest),
    Enrolled(Vec<Id>),
    Unenrolled(Id),
}

impl Handler<Change> for ContestActor {
    type Result = ();
    fn handle(&mut self, change: Change, _: &mut Context<Self>) {
        match change {
            Change::Contest(contest) if contest.id == self.state.contest().id => {
                self.state.update_contest(contest)
            }
            Change::Contest(_) => {}
            Change::Enrolled(students) => self.state.enroll(&students),
            Change::Unenrolled(student) => self.state.unenroll(student),
        }
        self.published.publish(&self.state);
    }
}

/// Asks the actor to stop for eviction; it refuses while writes are in flight or if it was
/// used in the last `min_idle_ms`.
#[derive(Message)]
#[rtype(result = "bool")]
pub struct Retire {
    pub min_idle_ms: i64,
}

impl Handler<Retire> for ContestActor {
    type Result = bool;
    fn handle(&mut self, msg: Retire, ctx: &mut Context<Self>) -> bool {
        let idle = self.published.idle_ms(Utc::now());
        if self.state.has_pending() || idle < msg.min_idle_ms {
            return false;
        }
        ctx.stop();
        true
    }
}

/// Makes the actor fail (stop), as a crash would: for tests of the restart path.
#[doc(hidden)]
#[derive(Message)]
#[rtype(result = "()")]
pub struct Crash;

impl Handler<Crash> for ContestActor {
    type Result = ();
    fn handle(&mut self, _: Crash, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}
