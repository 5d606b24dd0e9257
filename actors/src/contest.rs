//! ContestActor: one per warm contest. It owns the contest's `ContestState` and answers one
//! message at a time, so the duplicate check and the claim need no lock. Submissions complete
//! asynchronously after the writer commits (`ResponseActFuture`), so the actor keeps serving
//! while writes are in flight.

use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use chrono::{DateTime, TimeDelta, Utc};
use uuid::Uuid;

use std::collections::{HashMap, HashSet};

use tokio::sync::oneshot;

use crate::grading::{Key, Score};
use crate::model::{
    Announcement, Answer, Contest, ContestStatus, DraftRow, Id, Idempotency, Question, Snapshot,
    StartRow, SubmissionRow,
};
use crate::rules::{Claimed, ContestState, Figures, Opened, Refusal};
use crate::timer::{announcement, frame, frame_in, regraded, FrameKind, Outlet, Subscribers};
use crate::view::StudentView;
use crate::window::{Accommodation, MyWindow};
use crate::writer::{WriteOutcome, WriterHandle};

/// Figures a contest actor publishes for `/health` without being asked.
#[derive(Debug, Default)]
pub struct Published {
    /// Messages sent and not yet taken up by the actor.
    pub depth: AtomicUsize,
    pub enrolled: AtomicUsize,
    pub submitted: AtomicUsize,
    pub subscribers: AtomicUsize,
    /// Students with a saved draft and no submission.
    pub drafts: AtomicUsize,
    /// Retries (same idempotency key, same answers) waiting for the outcome of the claim they
    /// repeat.
    pub retries_waiting: AtomicUsize,
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
        self.drafts.store(state.draft_count(), Ordering::Relaxed);
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
    subscribers: Subscribers,
    /// How often subscribers get a `state` frame.
    tick: Duration,
    /// The status the subscribers were last told about.
    told_status: ContestStatus,
    /// The timer that fires at the next start or end.
    edge_timer: Option<SpawnHandle>,
    /// Until when another node counts as changing this contest too (see `SHARED_SETTLE`).
    shared_until: Option<Instant>,
    /// Key corrections waiting for the claims graded with the old key to be written.
    fences: Vec<Fence>,
    /// Retries of a claim being written, per student, answered with its outcome. Only pending
    /// students have an entry (it goes with the outcome), each of at most `MAX_RETRIES_WAITING`.
    retries: HashMap<Id, Vec<oneshot::Sender<Result<Receipt, Refusal>>>>,
}

/// Most retries of one claim that may wait for its outcome; more are answered `503` (the
/// client retries later and gets the outcome at once).
pub const MAX_RETRIES_WAITING: usize = 256;

/// How often the actor looks for drafts whose student's deadline has passed: personal
/// deadlines have no timer of their own, so this bounds how late one is submitted.
const DEADLINE_CHECK: Duration = Duration::from_millis(250);
/// How long after another node's last change the contest counts as shared with it.
const SHARED_FOR: Duration = Duration::from_secs(60);
/// On a shared contest, how long past a deadline drafts wait for the other node's last saves
/// (a notification and a refresh take well under this; auto-submission stays within 2 s).
const SHARED_SETTLE: TimeDelta = TimeDelta::milliseconds(1000);

/// The students whose claims a key correction waits for, and whom to tell when none is left.
struct Fence {
    waiting: HashSet<Id>,
    done: oneshot::Sender<()>,
}

impl ContestActor {
    /// The actor of a loaded contest; fails only if its student view cannot be serialized.
    pub fn new(
        snapshot: Snapshot,
        writer: WriterHandle,
        published: Arc<Published>,
        tick: Duration,
    ) -> Result<Self, serde_json::Error> {
        let state = ContestState::new(snapshot)?;
        published.publish(&state);
        published.touch();
        let told_status = state.contest().status(crate::now());
        Ok(ContestActor {
            state,
            writer,
            published,
            subscribers: Subscribers::default(),
            tick,
            told_status,
            edge_timer: None,
            shared_until: None,
            fences: Vec::new(),
            retries: HashMap::new(),
        })
    }

    /// The student's claim is resolved (written, found a duplicate, or failed).
    fn resolved(&mut self, student: Id) {
        for fence in &mut self.fences {
            fence.waiting.remove(&student);
        }
        let (done, waiting) = std::mem::take(&mut self.fences)
            .into_iter()
            .partition::<Vec<_>, _>(|f| f.waiting.is_empty());
        self.fences = waiting;
        for fence in done {
            let _ = fence.done.send(());
        }
    }

    /// One `state` frame per tick, serialized once for every subscriber on the contest's
    /// window, and once per student for those on their own (with their `started`/`ended`).
    fn on_tick(&mut self) {
        let now = crate::now();
        self.announce_edge(now);
        if !self.subscribers.is_empty() {
            let state = frame(FrameKind::State, self.state.contest(), now);
            self.subscribers.broadcast(&state);
            self.send_personal(now, None, true);
            self.publish_subscribers();
        }
    }

    /// The personal subscribers' frames (see `Subscribers::send_personal`).
    fn send_personal(&mut self, now: DateTime<Utc>, first: Option<FrameKind>, tick: bool) {
        if self.subscribers.has_personal() {
            let state = &self.state;
            let id = state.contest().id;
            self.subscribers
                .send_personal(id, now, first, tick, |s| state.window(s));
        }
    }

    /// Puts the sockets of `student` (all students for `None`) on the side their window is
    /// on now: the contest's shared frames, or their own.
    fn refresh_personal(&mut self, student: Option<Id>) {
        let state = &self.state;
        self.subscribers
            .refresh_personal(student, self.told_status, |s| state.is_personal(s));
    }

    /// The student's window changed (their start was recorded, or an admin changed their
    /// terms): their sockets get a frame of `kind` with their times, then follow their window,
    /// with `started`/`ended` at once if the change crossed one of its edges.
    fn tell_student(&mut self, student: Id, kind: FrameKind) {
        let now = crate::now();
        let window = self.state.window(student);
        let told = frame_in(kind, self.state.contest().id, window, now);
        self.subscribers
            .send_to_students(&HashSet::from([student]), &told);
        self.refresh_personal(Some(student));
        self.send_personal(now, None, false);
    }

    /// Tells subscribers when the clock (or a change of times) moved the contest across its
    /// start or end: `started` / `ended`, each followed by a fresh `state`.
    fn announce_edge(&mut self, now: DateTime<Utc>) {
        let status = self.state.contest().status(now);
        if status == self.told_status {
            return;
        }
        self.told_status = status;
        let kind = match status {
            ContestStatus::Open => FrameKind::Started,
            ContestStatus::Closed => FrameKind::Ended,
            // Moved back before the start: the `schedule_changed` frame said it all.
            ContestStatus::Upcoming => return,
        };
        if !self.subscribers.is_empty() {
            let contest = self.state.contest();
            self.subscribers.broadcast(&frame(kind, contest, now));
            self.subscribers
                .broadcast(&frame(FrameKind::State, contest, now));
            self.publish_subscribers();
        }
    }

    /// Arms a timer for the next start, end or deadline, so `started`/`ended` go out and
    /// drafts become submissions on the moment rather than at the next tick.
    fn arm_edge_timer(&mut self, ctx: &mut Context<Self>) {
        if let Some(timer) = self.edge_timer.take() {
            ctx.cancel_future(timer);
        }
        let now = crate::now();
        let contest = self.state.contest();
        let edge = match contest.status(now) {
            ContestStatus::Upcoming => contest.start_time,
            ContestStatus::Open => contest.end_time,
            ContestStatus::Closed if now < contest.deadline() => contest.deadline(),
            ContestStatus::Closed => return,
        };
        let wait = (edge - now).to_std().unwrap_or_default();
        self.edge_timer = Some(ctx.run_later(wait, |act, ctx| {
            act.edge_timer = None;
            act.announce_edge(crate::now());
            act.submit_due_drafts(ctx);
            act.arm_edge_timer(ctx);
        }));
    }

    /// A retry of the student's claim being written waits for its outcome.
    fn wait_for_claim(&mut self, student: Id) -> ResponseActFuture<Self, Result<Receipt, Refusal>> {
        let waiting = self.retries.entry(student).or_default();
        if waiting.len() >= MAX_RETRIES_WAITING {
            return Box::pin(fut::ready(Err(Refusal::Unavailable(
                "too many retries of this submission are waiting",
            ))));
        }
        let (answer, outcome) = oneshot::channel();
        waiting.push(answer);
        self.publish_retries();
        Box::pin(fut::wrap_future(async move {
            // The sender goes only with the actor.
            outcome
                .await
                .unwrap_or(Err(Refusal::Unavailable("the contest runtime stopped")))
        }))
    }

    /// The student's claim has its outcome: the retries waiting for it get the same answer.
    fn answer_retries(&mut self, student: Id, outcome: &Result<Receipt, Refusal>) {
        if let Some(waiting) = self.retries.remove(&student) {
            for answer in waiting {
                let _ = answer.send(outcome.clone());
            }
            self.publish_retries();
        }
    }

    fn publish_retries(&self) {
        let waiting = self.retries.values().map(Vec::len).sum();
        self.published
            .retries_waiting
            .store(waiting, Ordering::Relaxed);
    }

    fn publish_subscribers(&self) {
        self.published
            .subscribers
            .store(self.subscribers.len(), Ordering::Relaxed);
    }
}

impl Actor for ContestActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // The real bound is our own counter (`Published::depth`, checked by the sender);
        // actix's capacity is not enforced on `send`, so switch it off (0 = unbounded).
        ctx.set_mailbox_capacity(0);
        ctx.run_interval(self.tick, |act, _| act.on_tick());
        ctx.run_interval(DEADLINE_CHECK, |act, ctx| act.submit_due_drafts(ctx));
        self.arm_edge_timer(ctx);
        // Loaded after its deadline: the drafts found become submissions now.
        self.submit_due_drafts(ctx);
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

counted!(
    PutDraft,
    GetDraft,
    GetView,
    GetContest,
    GetOwnSubmission,
    Submit,
    GetFigures,
    Validate,
    Subscribe
);

/// The student view (`student: None` for an admin), and the student's own window. With
/// `opens` (the student opens the contest: `GET /api/contests/{id}`), on a contest with
/// `duration_minutes` a student's first open inside their window starts it: the answer comes
/// once the start is recorded.
#[derive(Message, Clone)]
#[rtype(result = "Result<Seen, Refusal>")]
pub struct GetView {
    pub student: Option<Id>,
    pub opens: bool,
}

/// What `GetView` answers.
#[derive(Debug, Clone)]
pub struct Seen {
    pub view: StudentView,
    /// The student's window, when it differs from the contest's or has started.
    pub window: Option<MyWindow>,
}

impl Handler<GetView> for ContestActor {
    type Result = ResponseActFuture<Self, Result<Seen, Refusal>>;
    fn handle(&mut self, msg: GetView, _: &mut Context<Self>) -> Self::Result {
        let view = match self.state.view(msg.student) {
            Ok(view) => view,
            Err(refusal) => return Box::pin(fut::ready(Err(refusal))),
        };
        let Some(student) = msg.student else {
            return Box::pin(fut::ready(Ok(Seen { view, window: None })));
        };
        let opened = msg
            .opens
            .then(|| self.state.open(student, crate::now()))
            .flatten();
        let Some(opened) = opened else {
            let window = self.state.my_window(student);
            return Box::pin(fut::ready(Ok(Seen { view, window })));
        };
        self.record_start(opened, view)
    }
}

impl ContestActor {
    /// Writes the start of the student's window; their sockets follow it from now on.
    fn record_start(
        &mut self,
        opened: Opened,
        view: StudentView,
    ) -> ResponseActFuture<Self, Result<Seen, Refusal>> {
        let row = StartRow {
            contest_id: self.state.contest().id,
            student_id: opened.student,
            started_at: opened.at,
        };
        let Ok(waiting) = self.writer.record_start(row) else {
            self.state.forget_start(opened);
            return Box::pin(fut::ready(Err(Refusal::Unavailable(
                "the write queue is full",
            ))));
        };
        self.tell_student(opened.student, FrameKind::State);
        Box::pin(
            fut::wrap_future::<_, Self>(waiting).map(move |outcome, act, _| match outcome {
                Ok(WriteOutcome::Committed) => Ok(Seen {
                    view,
                    window: act.state.my_window(opened.student),
                }),
                _ => {
                    act.state.forget_start(opened);
                    act.tell_student(opened.student, FrameKind::State);
                    Err(Refusal::Unavailable("the database is unavailable"))
                }
            }),
        )
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
        self.contest_for(msg.student)
    }
}

impl ContestActor {
    /// A hidden contest does not exist for students.
    fn contest_for(&self, student: Option<Id>) -> Result<Contest, Refusal> {
        if student.is_some() && !self.state.contest().is_active {
            return Err(Refusal::NotFound);
        }
        Ok(self.state.contest().clone())
    }
}

/// The contest as `GetContest` gives it, and the student's submission when this actor committed
/// it (`None`: not known here, the database may still hold one).
#[derive(Message, Clone)]
#[rtype(result = "Result<(Contest, Option<Arc<SubmissionRow>>), Refusal>")]
pub struct GetOwnSubmission {
    pub student: Id,
}

impl Handler<GetOwnSubmission> for ContestActor {
    type Result = Result<(Contest, Option<Arc<SubmissionRow>>), Refusal>;
    fn handle(&mut self, msg: GetOwnSubmission, _: &mut Context<Self>) -> Self::Result {
        let contest = self.contest_for(Some(msg.student))?;
        Ok((contest, self.state.committed_row(msg.student)))
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
    pub score: Option<(Score, Score)>,
}

impl Receipt {
    fn of(row: &SubmissionRow, immediate: bool) -> Self {
        Receipt {
            id: row.id,
            contest_id: row.contest_id,
            student_id: row.student_id,
            submitted_at: row.submitted_at,
            score: immediate.then_some((row.score, row.max_score)),
        }
    }
}

/// A submission. With an idempotency key, a retry of the student's submission (same key, same
/// answers hash) gets that submission's answer: at once if it is committed through this actor,
/// or when its write has an outcome if it is in flight; `AlreadySubmittedElsewhere` when only
/// the database can tell.
#[derive(Message, Clone)]
#[rtype(result = "Result<Receipt, Refusal>")]
pub struct Submit {
    pub student: Id,
    pub answers: Vec<Answer>,
    pub idempotency: Idempotency,
}

impl Handler<Submit> for ContestActor {
    type Result = ResponseActFuture<Self, Result<Receipt, Refusal>>;

    fn handle(&mut self, msg: Submit, ctx: &mut Context<Self>) -> Self::Result {
        let now = crate::now();
        // Past the deadline, the drafts are submissions even if the timer has not fired yet:
        // a student whose draft was due hears `already_submitted`.
        self.submit_due_drafts(ctx);
        let immediate = self.state.contest().results == crate::model::ResultsPolicy::Immediate;
        let claim = match self
            .state
            .claim_with(msg.student, msg.answers, msg.idempotency, now)
        {
            Ok(Claimed::New(claim)) => claim,
            Ok(Claimed::Again(row)) => {
                return Box::pin(fut::ready(Ok(Receipt::of(&row, immediate))))
            }
            Ok(Claimed::Pending) => return self.wait_for_claim(msg.student),
            Err(refusal) => return Box::pin(fut::ready(Err(refusal))),
        };
        let row = claim.row;
        let student = row.student_id;
        let kept = Arc::new(row.clone());
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
            fut::wrap_future::<_, Self>(waiting)
                .map(move |outcome, act, _| act.settle(kept, outcome)),
        )
    }
}

impl ContestActor {
    /// Takes a claimed submission's write outcome into the state; the retries waiting for it
    /// get the same answer.
    fn settle(
        &mut self,
        row: Arc<SubmissionRow>,
        outcome: Result<WriteOutcome, oneshot::error::RecvError>,
    ) -> Result<Receipt, Refusal> {
        let student = row.student_id;
        let keyed = row.idempotency.key.is_some();
        let immediate = self.state.contest().results == crate::model::ResultsPolicy::Immediate;
        let receipt = Receipt::of(&row, immediate);
        self.resolved(student);
        let result = match outcome {
            Ok(WriteOutcome::Committed) => {
                self.state.committed(row);
                Ok(receipt)
            }
            Ok(WriteOutcome::Duplicate) => {
                self.state.found_duplicate(student);
                // Another runtime wrote it: perhaps this very submission, retried there.
                Err(if keyed {
                    Refusal::AlreadySubmittedElsewhere
                } else {
                    Refusal::AlreadySubmitted
                })
            }
            Ok(WriteOutcome::Failed) | Err(_) => {
                self.state.release(student);
                Err(Refusal::Unavailable("the database is unavailable"))
            }
        };
        self.answer_retries(student, &result);
        self.published.publish(&self.state);
        result
    }

    /// Once the deadline has passed, writes every waiting draft as its student's submission
    /// (`auto`). Runs on the deadline's timer, on every tick (so a failed write is tried
    /// again) and when the actor starts (a contest loaded after its deadline catches up).
    fn submit_due_drafts(&mut self, ctx: &mut Context<Self>) {
        let now = crate::now();
        // While another node changes this contest too, a draft it saved just before the
        // deadline reaches this actor by a refresh: wait for it before submitting.
        let shared = self
            .shared_until
            .is_some_and(|until| Instant::now() < until);
        let settle = if shared {
            SHARED_SETTLE
        } else {
            TimeDelta::zero()
        };
        let claims = self.state.due_drafts_settled(now, settle);
        if claims.is_empty() {
            return;
        }
        tracing::info!(
            contest_id = self.state.contest().id,
            drafts = claims.len(),
            "submitting drafts at the deadline"
        );
        for claim in claims {
            let row = claim.row;
            let student = row.student_id;
            let kept = Arc::new(row.clone());
            match self.writer.submit(row) {
                Ok(waiting) => {
                    ctx.spawn(
                        fut::wrap_future::<_, Self>(waiting).map(move |outcome, act, _| {
                            let _ = act.settle(kept, outcome);
                        }),
                    );
                }
                // The queue is full: the next tick tries again.
                Err(_) => self.state.release(student),
            }
        }
    }
}

/// Saves the student's draft; the answer comes once it is committed.
#[derive(Message, Clone)]
#[rtype(result = "Result<Arc<DraftRow>, Refusal>")]
pub struct PutDraft {
    pub student: Id,
    pub answers: Vec<Answer>,
}

impl Handler<PutDraft> for ContestActor {
    type Result = ResponseActFuture<Self, Result<Arc<DraftRow>, Refusal>>;

    fn handle(&mut self, msg: PutDraft, ctx: &mut Context<Self>) -> Self::Result {
        self.submit_due_drafts(ctx);
        let row = match self
            .state
            .check_draft(msg.student, msg.answers, crate::now())
        {
            Ok(row) => Arc::new(row),
            Err(refusal) => return Box::pin(fut::ready(Err(refusal))),
        };
        let waiting = match self.writer.save_draft(row.as_ref().clone()) {
            Ok(waiting) => waiting,
            Err(_) => {
                return Box::pin(fut::ready(Err(Refusal::Unavailable(
                    "the write queue is full",
                ))))
            }
        };
        let student = row.student_id;
        self.state.draft_writing(student);
        Box::pin(
            fut::wrap_future::<_, Self>(waiting).map(move |outcome, act, _| match outcome {
                Ok(WriteOutcome::Committed) => {
                    act.state.draft_saved(row.as_ref().clone());
                    act.published.publish(&act.state);
                    Ok(row)
                }
                _ => {
                    act.state.draft_write_ended(student);
                    Err(Refusal::Unavailable("the database is unavailable"))
                }
            }),
        )
    }
}

/// The student's draft (`None`: there is none, or they have submitted).
#[derive(Message, Clone)]
#[rtype(result = "Result<Option<Arc<DraftRow>>, Refusal>")]
pub struct GetDraft {
    pub student: Id,
}

impl Handler<GetDraft> for ContestActor {
    type Result = Result<Option<Arc<DraftRow>>, Refusal>;
    fn handle(&mut self, msg: GetDraft, _: &mut Context<Self>) -> Self::Result {
        self.state.draft(msg.student)
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
    /// The questions (and shuffling) were replaced before the contest opened.
    Questions(Contest, Vec<Question>),
    /// A question's key or points were corrected and committed. Claims are graded with it
    /// from now on; the answer comes once the claims graded with the old key are written, so
    /// that the regrade that follows reads them.
    Key {
        question_id: Id,
        key: Key,
        points: i64,
    },
    /// A regrade committed these scores (every submission's); `changed` students are told.
    Rescored {
        scores: Vec<(Id, Score)>,
        changed: Vec<Id>,
        max_score: Score,
    },
    Enrolled(Vec<Id>),
    Unenrolled(Id),
    /// An announcement was committed: every socket of the contest (students' and admins') gets
    /// it, serialized once.
    Announce(Announcement),
    /// An admin set (`Some`) or removed (`None`) a student's personal terms; the rules follow
    /// at once and the student's sockets get `schedule_changed`.
    Accommodation {
        student: Id,
        terms: Option<Accommodation>,
    },
    /// Another node committed changes to the contest: what the database holds now, read after
    /// them. The actor takes it in and tells its sockets what the changes mean for them.
    Refresh(Box<Snapshot>),
}

impl Handler<Change> for ContestActor {
    type Result = ResponseActFuture<Self, ()>;
    fn handle(&mut self, change: Change, ctx: &mut Context<Self>) -> Self::Result {
        let contest_id = self.state.contest().id;
        let mut wait = None;
        match change {
            Change::Contest(contest) if contest.id == contest_id => {
                self.update_contest(contest, ctx);
            }
            Change::Questions(contest, questions) if contest.id == contest_id => {
                if let Err(e) = self.state.replace_questions(contest.clone(), questions) {
                    tracing::error!(contest_id, error = %e, "questions could not be serialized");
                }
                self.update_contest(contest, ctx);
            }
            Change::Contest(_) | Change::Questions(..) => {}
            Change::Announce(posted) if posted.contest_id == contest_id => {
                if !self.subscribers.is_empty() {
                    self.subscribers
                        .announce(&announcement(&posted, crate::now()));
                    self.publish_subscribers();
                }
            }
            Change::Announce(_) => {}
            Change::Accommodation { student, terms } => {
                self.state.accommodate(student, terms);
                self.tell_student(student, FrameKind::ScheduleChanged);
            }
            Change::Key {
                question_id,
                key,
                points,
            } => match self.state.correct_key(question_id, key, points) {
                Ok(Some(waiting)) if !waiting.is_empty() => {
                    let (done, rx) = oneshot::channel();
                    self.fences.push(Fence { waiting, done });
                    wait = Some(rx);
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(contest_id, error = %e, "questions could not be serialized");
                }
            },
            Change::Rescored {
                scores,
                changed,
                max_score,
            } => {
                self.state.rescored(&scores, max_score);
                let changed: HashSet<Id> = changed.into_iter().collect();
                self.subscribers
                    .send_to_students(&changed, &regraded(contest_id, crate::now()));
            }
            Change::Refresh(fresh) => {
                self.shared_until = Some(Instant::now() + SHARED_FOR);
                self.refresh(*fresh, ctx);
            }
            Change::Enrolled(students) => self.state.enroll(&students),
            Change::Unenrolled(student) => {
                self.state.unenroll(student);
                self.subscribers.remove_student(student);
                self.publish_subscribers();
            }
        }
        self.published.publish(&self.state);
        match wait {
            // Also done if the actor stops first (the sender is dropped).
            Some(rx) => Box::pin(fut::wrap_future(async move {
                let _ = rx.await;
            })),
            None => Box::pin(fut::ready(())),
        }
    }
}

impl ContestActor {
    /// Takes in what another node committed (see `Change::Refresh`).
    fn refresh(&mut self, fresh: Snapshot, ctx: &mut Context<Self>) {
        let contest_id = self.state.contest().id;
        if fresh.contest.id != contest_id {
            return;
        }
        if &fresh.contest != self.state.contest() {
            self.update_contest(fresh.contest.clone(), ctx);
        }
        let told = match self.state.refresh(fresh) {
            Ok(told) => told,
            Err(e) => {
                tracing::error!(contest_id, error = %e, "questions could not be serialized");
                return;
            }
        };
        for student in &told.unenrolled {
            self.subscribers.remove_student(*student);
        }
        if !told.regraded.is_empty() {
            self.subscribers
                .send_to_students(&told.regraded, &regraded(contest_id, crate::now()));
        }
        for &student in &told.rescheduled {
            self.tell_student(student, FrameKind::ScheduleChanged);
        }
        for &student in told.restarted.difference(&told.rescheduled) {
            self.tell_student(student, FrameKind::State);
        }
        self.publish_subscribers();
    }

    /// Applies a change of the contest's own fields and tells the sockets what they need.
    fn update_contest(&mut self, contest: Contest, ctx: &mut Context<Self>) {
        let old = self.state.contest();
        let moved = (old.start_time, old.end_time, old.duration_minutes)
            != (
                contest.start_time,
                contest.end_time,
                contest.duration_minutes,
            );
        if let Err(e) = self.state.update_contest(contest) {
            tracing::error!(error = %e, "contest view could not be serialized");
        }
        if !self.state.contest().is_active {
            // Hidden from students: their sockets close.
            self.subscribers.clear();
        } else if moved {
            let now = crate::now();
            // Some students change side first (their outlets hear it before the frames).
            self.refresh_personal(None);
            let changed = frame(FrameKind::ScheduleChanged, self.state.contest(), now);
            self.subscribers.broadcast(&changed);
            self.announce_edge(now);
            // Students on their own windows: each gets theirs.
            self.send_personal(now, Some(FrameKind::ScheduleChanged), false);
            self.arm_edge_timer(ctx);
        }
        self.publish_subscribers();
    }
}

/// Subscribes a socket to the contest's timer: checks access, then sends the current `state`
/// at once. `id` is the socket's id, unique in the process; frames go to `outlet`.
#[derive(Message, Clone)]
#[rtype(result = "Result<(), Refusal>")]
pub struct Subscribe {
    pub id: u64,
    pub student: Option<Id>,
    pub outlet: Outlet,
}

impl Handler<Subscribe> for ContestActor {
    type Result = Result<(), Refusal>;
    fn handle(&mut self, msg: Subscribe, _: &mut Context<Self>) -> Self::Result {
        let now = crate::now();
        let mut window = self.state.contest().window();
        let mut personal = None;
        if let Some(student) = msg.student {
            self.state.check_access(student)?;
            if self.state.is_personal(student) {
                window = self.state.window(student);
                personal = Some(window.status(now));
            }
        }
        let state = frame_in(FrameKind::State, self.state.contest().id, window, now);
        self.subscribers
            .add(msg.id, msg.student, msg.outlet, state, personal);
        self.publish_subscribers();
        Ok(())
    }
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct Unsubscribe {
    pub id: u64,
}

impl Handler<Unsubscribe> for ContestActor {
    type Result = ();
    fn handle(&mut self, msg: Unsubscribe, _: &mut Context<Self>) {
        self.subscribers.remove(msg.id);
        self.publish_subscribers();
    }
}

/// Asks the actor to stop for eviction; it refuses while writes are in flight, while sockets
/// are subscribed, or if it was used in the last `min_idle_ms`.
#[derive(Message)]
#[rtype(result = "bool")]
pub struct Retire {
    pub min_idle_ms: i64,
}

impl Handler<Retire> for ContestActor {
    type Result = bool;
    fn handle(&mut self, msg: Retire, ctx: &mut Context<Self>) -> bool {
        let idle = self.published.idle_ms(Utc::now());
        // Drafts wait for the deadline here: a cold contest would not submit them on time.
        let busy =
            self.state.has_pending() || self.state.has_drafts() || !self.subscribers.is_empty();
        if busy || idle < msg.min_idle_ms {
            return false;
        }
        ctx.stop();
        true
    }
}
