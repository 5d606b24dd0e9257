//! Runtime tests over an in-memory database: single-flight loading, restart, eviction, the
//! duplicate rule under concurrency and across two runtimes, failures releasing the claim.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use chrono::{TimeDelta, Utc};
use futures_util::future::{join_all, BoxFuture};
use parking_lot::Mutex;

use crate::contest::ContestActor;
use crate::model::{Contest, Id, Idempotency, Question, ResultsPolicy, Snapshot};
use crate::{
    Batch, Refusal, Runtime, RuntimeConfig, RuntimeError, SinkError, SnapshotSource,
    SubmissionSink, Submit, WriterConfig,
};

/// Makes the actor fail (stop), as a crash would: for the restart path.
#[derive(Message)]
#[rtype(result = "()")]
struct Crash;

impl Handler<Crash> for ContestActor {
    type Result = ();
    fn handle(&mut self, _: Crash, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

/// One contest (id 1, students 1..=1000 enrolled) and a submissions table with its unique key.
#[derive(Default)]
struct MemoryDb {
    submissions: Mutex<HashMap<(Id, Id), crate::Score>>,
    down: AtomicBool,
    /// Held by a test to keep batches from committing.
    held: tokio::sync::Mutex<()>,
    /// Snapshots read.
    reads: std::sync::atomic::AtomicUsize,
}

impl SnapshotSource for MemoryDb {
    fn load(&self, contest_id: Id) -> BoxFuture<'_, Result<Option<Snapshot>, SinkError>> {
        Box::pin(async move {
            self.reads.fetch_add(1, Ordering::SeqCst);
            // A slow read, so concurrent askers really overlap with the load.
            tokio::time::sleep(Duration::from_millis(20)).await;
            if contest_id != 1 {
                return Ok(None);
            }
            let now = Utc::now();
            let submitted = self
                .submissions
                .lock()
                .iter()
                .filter(|((c, _), _)| *c == contest_id)
                .map(|((_, s), score)| (*s, *score))
                .collect();
            Ok(Some(Snapshot {
                contest: Contest {
                    id: 1,
                    course_id: 1,
                    title: "t".into(),
                    start_time: now - TimeDelta::hours(1),
                    end_time: now + TimeDelta::hours(1),
                    results: ResultsPolicy::Immediate,
                    is_active: true,
                    shuffle: Default::default(),
                    grace_seconds: 0,
                    duration_minutes: None,
                },
                questions: vec![Question {
                    id: 10,
                    prompt: "p".into(),
                    options: vec!["a".into(), "b".into()],
                    key: crate::grading::Key::Single { correct: 1 },
                    points: 1,
                }],
                enrolled: (1..=1000).collect(),
                submitted,
                drafts: vec![],
                accommodations: vec![],
                starts: vec![],
            }))
        })
    }
}

impl SubmissionSink for MemoryDb {
    fn write_batch<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Result<Vec<bool>, SinkError>> {
        let rows = &batch.submissions;
        Box::pin(async move {
            let _held = self.held.lock().await;
            if self.down.load(Ordering::SeqCst) {
                return Err(SinkError {
                    transient: true,
                    message: "database down".into(),
                });
            }
            let mut table = self.submissions.lock();
            Ok(rows
                .iter()
                .map(|r| match table.entry((r.contest_id, r.student_id)) {
                    std::collections::hash_map::Entry::Occupied(_) => false,
                    std::collections::hash_map::Entry::Vacant(slot) => {
                        slot.insert(r.score);
                        true
                    }
                })
                .collect())
        })
    }
}

fn runtime(db: &Arc<MemoryDb>, config: RuntimeConfig) -> Runtime {
    let writer = WriterConfig {
        attempts: 2,
        backoff: Duration::from_millis(1),
        ..WriterConfig::default()
    };
    Runtime::start(db.clone(), db.clone(), writer, config)
}

fn submit(student: Id) -> Submit {
    Submit {
        student,
        answers: vec![],
        idempotency: Default::default(),
    }
}

/// A submission with an idempotency key and (a stand-in for) its answers hash.
fn keyed(student: Id, key: &str, hash: u8) -> Submit {
    Submit {
        student,
        answers: vec![],
        idempotency: Idempotency {
            key: Some(key.into()),
            answers_hash: Some([hash; 32]),
        },
    }
}

/// Sends `n` copies of `msg` at once, each as its own task.
fn spawn_asks(rt: &Runtime, n: usize, msg: Submit) -> Vec<tokio::task::JoinHandle<Answer>> {
    (0..n)
        .map(|_| {
            let (rt, msg) = (rt.clone(), msg.clone());
            tokio::spawn(async move { rt.ask(1, msg).await })
        })
        .collect()
}

type Answer = Result<Result<crate::Receipt, Refusal>, RuntimeError>;

/// Waits until `n` retries wait for the outcome of the claim they repeat.
async fn until_waiting(handle: &crate::ContestHandle, n: usize) {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while handle.published().retries_waiting.load(Ordering::SeqCst) < n {
        assert!(std::time::Instant::now() < deadline, "{n} retries wait");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Retries (same key, same answers) that arrive while the claim is written wait for it and
/// get its answer; the same key with other answers, another key or none are refused at once.
#[actix_rt::test]
async fn retries_of_a_claim_in_flight_get_its_outcome() {
    let db = Arc::new(MemoryDb::default());
    let rt = runtime(&db, RuntimeConfig::default());
    let handle = rt.contest(1).await.unwrap().unwrap();
    let held = db.held.lock().await;
    // One claims, the other 19 wait for it (the write cannot finish while held).
    let asks = spawn_asks(&rt, 20, keyed(8, "k", 1));
    until_waiting(&handle, 19).await;
    assert_eq!(
        rt.ask(1, keyed(8, "k", 2)).await.unwrap().err(),
        Some(Refusal::KeyReused)
    );
    for other in [keyed(8, "other", 1), submit(8)] {
        assert_eq!(
            rt.ask(1, other).await.unwrap().err(),
            Some(Refusal::AlreadySubmitted)
        );
    }
    assert!(asks.iter().all(|a| !a.is_finished()), "they wait");
    drop(held);
    let ids: Vec<_> = join_all(asks)
        .await
        .into_iter()
        .map(|a| a.unwrap().unwrap().expect("the claim's 201").id)
        .collect();
    assert!(
        ids.iter().all(|id| *id == ids[0]),
        "one submission: {ids:?}"
    );
    assert_eq!(db.submissions.lock().len(), 1);
    assert_eq!(handle.published().retries_waiting.load(Ordering::SeqCst), 0);
    // Committed: answered at once from the actor.
    let again = rt.ask(1, keyed(8, "k", 1)).await.unwrap().unwrap();
    assert_eq!(again.id, ids[0]);
}

/// When the write fails, the claim and its waiting retries all get 503, and the next retry
/// makes a new claim.
#[actix_rt::test]
async fn retries_of_a_failed_claim_fail_with_it_and_the_next_one_claims() {
    let db = Arc::new(MemoryDb::default());
    let rt = runtime(&db, RuntimeConfig::default());
    let handle = rt.contest(1).await.unwrap().unwrap();
    db.down.store(true, Ordering::SeqCst);
    let held = db.held.lock().await;
    let asks = spawn_asks(&rt, 5, keyed(8, "k", 1));
    until_waiting(&handle, 4).await;
    drop(held);
    for answer in join_all(asks).await {
        assert!(
            matches!(answer.unwrap(), Ok(Err(Refusal::Unavailable(_)))),
            "503"
        );
    }
    db.down.store(false, Ordering::SeqCst);
    assert!(matches!(rt.ask(1, keyed(8, "k", 1)).await, Ok(Ok(_))));
    assert_eq!(db.submissions.lock().len(), 1);
}

#[actix_rt::test]
async fn concurrent_askers_of_a_cold_contest_cause_one_load() {
    let db = Arc::new(MemoryDb::default());
    let rt = runtime(&db, RuntimeConfig::default());
    let asks = (0..500).map(|_| rt.contest(1));
    let handles = join_all(asks).await;
    assert!(handles.iter().all(|h| matches!(h, Ok(Some(_)))));
    assert_eq!(rt.loads(), 1);
    assert!(matches!(rt.contest(2).await, Ok(None)), "unknown contest");
}

#[actix_rt::test]
async fn one_student_racing_gets_one_submission() {
    let db = Arc::new(MemoryDb::default());
    let rt = runtime(&db, RuntimeConfig::default());
    let results = join_all((0..500).map(|_| rt.ask(1, submit(7)))).await;
    let ok = results.iter().filter(|r| matches!(r, Ok(Ok(_)))).count();
    let dup = results
        .iter()
        .filter(|r| matches!(r, Ok(Err(Refusal::AlreadySubmitted))))
        .count();
    assert_eq!((ok, dup), (1, 499));
    assert_eq!(db.submissions.lock().len(), 1);
}

#[actix_rt::test]
async fn two_runtimes_on_one_database_accept_one_submission() {
    let db = Arc::new(MemoryDb::default());
    let a = runtime(&db, RuntimeConfig::default());
    let b = runtime(&db, RuntimeConfig::default());
    // Both warm before either writes, so neither actor knows of the other's submission.
    a.contest(1).await.unwrap();
    b.contest(1).await.unwrap();
    let (ra, rb) = tokio::join!(a.ask(1, submit(5)), b.ask(1, submit(5)));
    let outcomes = [ra.unwrap(), rb.unwrap()];
    assert_eq!(
        outcomes.iter().filter(|r| r.is_ok()).count(),
        1,
        "{outcomes:?}"
    );
    assert!(outcomes
        .iter()
        .any(|r| matches!(r, Err(Refusal::AlreadySubmitted))));
    // The loser's actor now knows: a further attempt is refused without a write.
    assert_eq!(
        a.ask(1, submit(5)).await.unwrap().err(),
        Some(Refusal::AlreadySubmitted)
    );
    assert_eq!(
        b.ask(1, submit(5)).await.unwrap().err(),
        Some(Refusal::AlreadySubmitted)
    );
}

#[actix_rt::test]
async fn a_failed_write_releases_the_claim() {
    let db = Arc::new(MemoryDb::default());
    let rt = runtime(&db, RuntimeConfig::default());
    db.down.store(true, Ordering::SeqCst);
    assert!(matches!(
        rt.ask(1, submit(3)).await,
        Ok(Err(Refusal::Unavailable(_)))
    ));
    db.down.store(false, Ordering::SeqCst);
    assert!(
        matches!(rt.ask(1, submit(3)).await, Ok(Ok(_))),
        "free to retry"
    );
    assert_eq!(db.submissions.lock().len(), 1);
}

#[actix_rt::test]
async fn a_crashed_actor_is_restarted_from_the_database() {
    let db = Arc::new(MemoryDb::default());
    let rt = runtime(&db, RuntimeConfig::default());
    assert!(matches!(rt.ask(1, submit(9)).await, Ok(Ok(_))));
    let handle = rt.contest(1).await.unwrap().unwrap();
    handle.send_uncounted(Crash).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while handle.is_alive() {
        assert!(std::time::Instant::now() < deadline, "actor did not stop");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // The next message restarts it, and the reloaded state remembers the submission.
    assert_eq!(
        rt.ask(1, submit(9)).await.unwrap().err(),
        Some(Refusal::AlreadySubmitted)
    );
    assert_eq!(rt.loads(), 2);
}

#[actix_rt::test]
async fn idle_contests_are_evicted_and_reload_with_their_submissions() {
    let db = Arc::new(MemoryDb::default());
    let config = RuntimeConfig {
        idle_ttl: Duration::from_millis(50),
        sweep_every: Duration::from_secs(3600),
        ..RuntimeConfig::default()
    };
    let rt = runtime(&db, config);
    assert!(matches!(rt.ask(1, submit(4)).await, Ok(Ok(_))));
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !rt.handles().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "contest was not evicted"
        );
        rt.sweep().await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        rt.ask(1, submit(4)).await.unwrap().err(),
        Some(Refusal::AlreadySubmitted)
    );
    assert_eq!(rt.loads(), 2);
}

#[actix_rt::test]
async fn a_full_mailbox_answers_overloaded_and_drains() {
    let db = Arc::new(MemoryDb::default());
    let config = RuntimeConfig {
        mailbox_capacity: 10,
        ..RuntimeConfig::default()
    };
    let rt = runtime(&db, config);
    let handle = rt.contest(1).await.unwrap().unwrap();
    // 2,000 sends in one burst against a bound of 10: the actor cannot drain that fast.
    let results = join_all((1..=1000).chain(1..=1000).map(|s| handle.send(submit(s)))).await;
    let refused = results
        .iter()
        .filter(|r| matches!(r, Err(RuntimeError::Overloaded)))
        .count();
    assert!(refused > 0, "some sends must be refused");
    assert!(results
        .iter()
        .all(|r| matches!(r, Ok(_) | Err(RuntimeError::Overloaded))));
    assert_eq!(
        handle.published().depth.load(Ordering::SeqCst),
        0,
        "the count drains"
    );
}

/// A key correction answers only once the claims graded with the old key are written, and
/// claims made after it are graded with the new key.
#[actix_rt::test]
async fn a_key_correction_waits_for_claims_graded_with_the_old_key() {
    use crate::grading::{Key, Response};
    use crate::model::Answer;
    let db = Arc::new(MemoryDb::default());
    let rt = runtime(&db, RuntimeConfig::default());
    let answer = |student| Submit {
        student,
        answers: vec![Answer {
            question_id: 10,
            response: Response::Option(0),
        }],
        idempotency: Default::default(),
    };
    let held = db.held.lock().await;
    // Graded with the old key (correct: 1), its write held back.
    let old = tokio::spawn({
        let rt = rt.clone();
        async move { rt.ask(1, answer(5)).await }
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while rt
        .ask(1, crate::GetFigures)
        .await
        .unwrap()
        .unwrap()
        .1
        .pending
        == 0
    {
        assert!(std::time::Instant::now() < deadline, "the claim is made");
        tokio::task::yield_now().await;
    }
    let correction = tokio::spawn({
        let rt = rt.clone();
        async move {
            rt.apply(
                1,
                crate::Change::Key {
                    question_id: 10,
                    key: Key::Single { correct: 0 },
                    points: 2,
                },
            )
            .await
        }
    });
    while rt
        .ask(1, crate::GetFigures)
        .await
        .unwrap()
        .unwrap()
        .1
        .max_score
        != crate::Score::from_points(2)
    {
        assert!(std::time::Instant::now() < deadline, "the key changes");
        tokio::task::yield_now().await;
    }
    // A claim after the correction is graded with the new key (its write is held too).
    let new = tokio::spawn({
        let rt = rt.clone();
        async move { rt.ask(1, answer(6)).await }
    });
    while rt
        .ask(1, crate::GetFigures)
        .await
        .unwrap()
        .unwrap()
        .1
        .pending
        < 2
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the second claim is made"
        );
        tokio::task::yield_now().await;
    }
    assert!(!correction.is_finished(), "waits for the old key's claim");
    drop(held);
    tokio::time::timeout(Duration::from_secs(5), correction)
        .await
        .expect("answers once the claim is written")
        .unwrap();
    let old = old.await.unwrap().unwrap().unwrap();
    let new = new.await.unwrap().unwrap().unwrap();
    assert_eq!(old.score.map(|s| s.0), Some(crate::Score(0)));
    assert_eq!(
        new.score,
        Some((crate::Score::from_points(2), crate::Score::from_points(2)))
    );
}

/// An announcement reaches every subscriber of its contest, students' and admins' sockets alike,
/// as one frame per outlet; one for another contest is not sent.
#[actix_rt::test]
async fn an_announcement_reaches_every_subscriber() {
    use crate::model::Announcement;
    use crate::{Change, Outlet, Push, Subscribe};
    let db = Arc::new(MemoryDb::default());
    let rt = runtime(&db, RuntimeConfig::default());
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let outlet = Outlet { id: 77, tx };
    for (id, student) in [(1, Some(5)), (2, None)] {
        let subscribe = Subscribe {
            id,
            student,
            outlet: outlet.clone(),
        };
        rt.ask(1, subscribe).await.unwrap().unwrap();
    }
    let posted = |contest_id| Announcement {
        id: 3,
        contest_id,
        text: "Question 1 is fixed".into(),
        created_at: Utc::now(),
    };
    rt.apply(1, Change::Announce(posted(2))).await;
    rt.apply(1, Change::Announce(posted(1))).await;
    // Applied before `apply` returned: everything is in the outlet's channel now.
    let frames: Vec<serde_json::Value> = std::iter::from_fn(|| rx.try_recv().ok())
        .filter_map(|push| match push {
            Push::All(frame) => serde_json::from_str(&frame).ok(),
            _ => None,
        })
        .filter(|v: &serde_json::Value| v["type"] == "announcement")
        .collect();
    assert_eq!(frames.len(), 1, "one frame for the outlet: {frames:?}");
    assert_eq!(frames[0]["contest_id"], 1);
    assert_eq!(frames[0]["text"], "Question 1 is fixed");
}

/// Another node's submission reaches a warm contest through a refresh; a burst of refreshes
/// costs two reads (the one under way and one more), not one each.
#[actix_rt::test]
async fn refreshes_take_in_other_nodes_changes_and_coalesce() {
    let db = Arc::new(MemoryDb::default());
    let rt = runtime(&db, RuntimeConfig::default());
    rt.contest(1).await.unwrap().unwrap();
    assert_eq!(db.reads.load(Ordering::SeqCst), 1);
    // Committed by another node: this runtime's actor does not know it yet.
    db.submissions
        .lock()
        .insert((1, 7), crate::Score::from_points(1));
    for _ in 0..20 {
        rt.refresh(crate::Target::Contest(1)).await;
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let (_, figures) = rt.ask(1, crate::GetFigures).await.unwrap().unwrap();
        if figures.submitted == 1 && db.reads.load(Ordering::SeqCst) == 3 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{figures:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        rt.ask(1, submit(7)).await.unwrap().err(),
        Some(Refusal::AlreadySubmitted),
        "known here now"
    );
    // Nothing more is read afterwards (a bounded look: longer than a read and the gap).
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        db.reads.load(Ordering::SeqCst),
        3,
        "the burst cost two reads"
    );
}
