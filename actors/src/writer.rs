//! The WriteBatcher ("pool manager"): one bounded queue of rows from every contest —
//! submissions, drafts, and the starts of personal windows — written in one transaction (see the store) when the batch is full
//! or its deadline passes. Each waiter is answered only after its batch commits (group commit).
//! Submissions the database already has (unique key) are answered `Duplicate` while the rest
//! commit; several saves of one draft in a batch are written once, the last; transient errors
//! are retried with backoff, then answered `Failed`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use tokio::sync::{mpsc, oneshot, Notify};

use crate::model::{DraftRow, Id, StartRow, SubmissionRow};

/// Where batches go: the server's store implements it.
pub trait SubmissionSink: Send + Sync + 'static {
    /// Writes the batch in one transaction: inserts the submissions, skipping those whose
    /// (contest, student) already exists, upserts the drafts and inserts the starts that are
    /// not recorded yet (the first one stays). Returns, per submission in
    /// order, whether it was inserted.
    fn write_batch<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Result<Vec<bool>, SinkError>>;
}

/// One flush's rows.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    pub submissions: Vec<SubmissionRow>,
    /// At most one per (contest, student): the last saved.
    pub drafts: Vec<DraftRow>,
    pub starts: Vec<StartRow>,
}

/// A row for the writer.
#[derive(Debug, Clone)]
pub enum Write {
    Submission(SubmissionRow),
    Draft(DraftRow),
    Start(StartRow),
}

#[derive(Debug, Clone)]
pub struct SinkError {
    /// Worth retrying (connection lost, pool timeout, lock contention).
    pub transient: bool,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    Committed,
    /// The database already holds a submission for this student and contest.
    Duplicate,
    /// Not written; the student may retry.
    Failed,
}

/// Told the size and duration of each flush (the server feeds its histograms with it).
#[derive(Clone)]
pub struct FlushObserver(pub Arc<dyn Fn(usize, Duration) + Send + Sync>);

impl std::fmt::Debug for FlushObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FlushObserver")
    }
}

#[derive(Debug, Clone)]
pub struct WriterConfig {
    pub batch_size: usize,
    pub deadline: Duration,
    pub queue_bound: usize,
    /// Attempts per batch before its waiters are answered `Failed`.
    pub attempts: u32,
    /// First retry delay; doubled each time.
    pub backoff: Duration,
    pub on_flush: Option<FlushObserver>,
}

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig {
            batch_size: 512,
            deadline: Duration::from_millis(2),
            queue_bound: 20_000,
            attempts: 4,
            backoff: Duration::from_millis(25),
            on_flush: None,
        }
    }
}

/// The writer's figures, for `/health` and `/metrics`.
#[derive(Debug, Default)]
pub struct WriterStats {
    pub batches: AtomicU64,
    pub rows: AtomicU64,
    pub duplicates: AtomicU64,
    pub failed_rows: AtomicU64,
    pub last_batch_size: AtomicU64,
    pub last_flush_us: AtomicU64,
    /// Rows queued or being written, not yet answered.
    pub pending: AtomicU64,
}

/// What the handles and the writer share: the figures, and the signal that no row is pending.
#[derive(Default)]
struct Shared {
    stats: WriterStats,
    drained: Notify,
}

impl Shared {
    fn queue(&self, rows: u64) {
        self.stats.pending.fetch_add(rows, Ordering::AcqRel);
    }

    /// `rows` are answered (or were refused): wakes `drained()` when none is left.
    fn settle(&self, rows: u64) {
        if self.stats.pending.fetch_sub(rows, Ordering::AcqRel) == rows {
            self.drained.notify_waiters();
        }
    }

    async fn drained(&self) {
        loop {
            // A `Notified` gets every `notify_waiters` from its creation on: made before the
            // count is read, it cannot miss a fall to zero in between.
            let drained = self.drained.notified();
            if self.stats.pending.load(Ordering::Acquire) == 0 {
                return;
            }
            drained.await;
        }
    }
}

struct Job {
    write: Write,
    reply: oneshot::Sender<WriteOutcome>,
}

/// The queue is full: answer 503 at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueFull;

#[derive(Clone)]
pub struct WriterHandle {
    tx: mpsc::Sender<Job>,
    shared: Arc<Shared>,
}

impl WriterHandle {
    /// Queues a submission; the receiver answers once its batch is committed (or has failed).
    pub fn submit(&self, row: SubmissionRow) -> Result<oneshot::Receiver<WriteOutcome>, QueueFull> {
        self.write(Write::Submission(row))
    }

    /// Queues a draft; the receiver answers `Committed` once its batch is committed.
    pub fn save_draft(&self, row: DraftRow) -> Result<oneshot::Receiver<WriteOutcome>, QueueFull> {
        self.write(Write::Draft(row))
    }

    /// Queues the start of a student's window; the receiver answers `Committed` once it is
    /// recorded.
    pub fn record_start(
        &self,
        row: StartRow,
    ) -> Result<oneshot::Receiver<WriteOutcome>, QueueFull> {
        self.write(Write::Start(row))
    }

    fn write(&self, write: Write) -> Result<oneshot::Receiver<WriteOutcome>, QueueFull> {
        let (reply, answer) = oneshot::channel();
        // Counted before the send, so the writer never answers a row not yet counted.
        self.shared.queue(1);
        if self.tx.try_send(Job { write, reply }).is_err() {
            self.shared.settle(1);
            return Err(QueueFull);
        }
        Ok(answer)
    }

    /// Waits until every row queued so far is written and answered (for shutdown).
    pub async fn drained(&self) {
        self.shared.drained().await;
    }

    pub fn queue_depth(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }

    /// The most submissions the queue holds before submitters get `503`.
    pub fn queue_capacity(&self) -> usize {
        self.tx.max_capacity()
    }

    pub fn stats(&self) -> &WriterStats {
        &self.shared.stats
    }
}

/// The writer's handle and the future that runs it; the future ends when every handle is
/// dropped, after writing what is queued.
pub fn writer(
    sink: Arc<dyn SubmissionSink>,
    config: WriterConfig,
) -> (
    WriterHandle,
    impl std::future::Future<Output = ()> + Send + 'static,
) {
    let (tx, rx) = mpsc::channel(config.queue_bound.max(1));
    let shared = Arc::new(Shared::default());
    let writer = Writer {
        sink,
        config,
        shared: shared.clone(),
    };
    (WriterHandle { tx, shared }, writer.run(rx))
}

/// Starts the writer on the current runtime.
pub fn start_writer(sink: Arc<dyn SubmissionSink>, config: WriterConfig) -> WriterHandle {
    let (handle, run) = writer(sink, config);
    tokio::spawn(run);
    handle
}

struct Writer {
    sink: Arc<dyn SubmissionSink>,
    config: WriterConfig,
    shared: Arc<Shared>,
}

impl Writer {
    async fn run(self, mut rx: mpsc::Receiver<Job>) {
        let size = self.config.batch_size.max(1);
        let mut batch: Vec<Job> = Vec::with_capacity(size);
        while let Some(first) = rx.recv().await {
            batch.push(first);
            // Take what is already queued, then wait up to the deadline for the batch to fill.
            let deadline = tokio::time::Instant::now() + self.config.deadline;
            while batch.len() < size {
                match rx.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(mpsc::error::TryRecvError::Disconnected) => break,
                    Err(mpsc::error::TryRecvError::Empty) => {
                        match tokio::time::timeout_at(deadline, rx.recv()).await {
                            Ok(Some(job)) => batch.push(job),
                            Ok(None) | Err(_) => break,
                        }
                    }
                }
            }
            self.flush(&mut batch).await;
        }
    }

    async fn flush(&self, jobs: &mut Vec<Job>) {
        let batch = batch_of(jobs);
        let started = Instant::now();
        let outcome = self.write_with_retry(&batch).await;
        let stats = &self.shared.stats;
        let written = batch.submissions.len() + batch.drafts.len() + batch.starts.len();
        stats.batches.fetch_add(1, Ordering::Relaxed);
        stats
            .last_batch_size
            .store(written as u64, Ordering::Relaxed);
        let took = started.elapsed();
        stats
            .last_flush_us
            .store(took.as_micros() as u64, Ordering::Relaxed);
        if let Some(observe) = &self.config.on_flush {
            (observe.0)(written, took);
        }
        let answered = jobs.len() as u64;
        match outcome {
            Ok(inserted) => {
                stats.rows.fetch_add(
                    (batch.drafts.len() + batch.starts.len()) as u64,
                    Ordering::Relaxed,
                );
                let mut inserted = inserted.into_iter().chain(std::iter::repeat(false));
                for job in jobs.drain(..) {
                    let answer = match job.write {
                        Write::Draft(_) | Write::Start(_) => WriteOutcome::Committed,
                        Write::Submission(_) if inserted.next() == Some(true) => {
                            stats.rows.fetch_add(1, Ordering::Relaxed);
                            WriteOutcome::Committed
                        }
                        Write::Submission(_) => {
                            stats.duplicates.fetch_add(1, Ordering::Relaxed);
                            WriteOutcome::Duplicate
                        }
                    };
                    let _ = job.reply.send(answer);
                }
            }
            Err(e) => {
                tracing::error!(rows = written, error = %e.message, "write batch failed");
                stats.failed_rows.fetch_add(answered, Ordering::Relaxed);
                for job in jobs.drain(..) {
                    let _ = job.reply.send(WriteOutcome::Failed);
                }
            }
        }
        self.shared.settle(answered);
    }

    async fn write_with_retry(&self, batch: &Batch) -> Result<Vec<bool>, SinkError> {
        let mut delay = self.config.backoff;
        let mut attempt = 1;
        loop {
            match self.sink.write_batch(batch).await {
                Ok(inserted) => return Ok(inserted),
                Err(e) if e.transient && attempt < self.config.attempts => {
                    tracing::warn!(attempt, error = %e.message, "write batch failed, retrying");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// The rows of `jobs` to write. Of several saves of one student's draft only the last is
/// written (the queue keeps their order); all are answered with the batch's outcome.
fn batch_of(jobs: &[Job]) -> Batch {
    let mut batch = Batch::default();
    let mut last_draft: HashMap<(Id, Id), usize> = HashMap::new();
    for job in jobs {
        match &job.write {
            Write::Submission(row) => batch.submissions.push(row.clone()),
            Write::Start(row) => batch.starts.push(*row),
            Write::Draft(row) => {
                let key = (row.contest_id, row.student_id);
                match last_draft.get(&key) {
                    Some(&i) => batch.drafts[i] = row.clone(),
                    None => {
                        last_draft.insert(key, batch.drafts.len());
                        batch.drafts.push(row.clone());
                    }
                }
            }
        }
    }
    batch
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::sync::atomic::AtomicU32;

    use parking_lot::Mutex;

    use super::*;
    use crate::model::Id;

    /// An in-memory table with the unique key, a switch to fail the next N batches, and a gate
    /// that holds every batch while a test holds it shut (write-locked).
    #[derive(Default)]
    struct MemorySink {
        keys: Mutex<HashSet<(Id, Id)>>,
        batches: Mutex<Vec<usize>>,
        fail_next: AtomicU32,
        transient: bool,
        gate: tokio::sync::RwLock<()>,
        /// The drafts of each batch written.
        drafts: Mutex<Vec<Vec<DraftRow>>>,
    }

    impl SubmissionSink for MemorySink {
        fn write_batch<'a>(
            &'a self,
            batch: &'a Batch,
        ) -> BoxFuture<'a, Result<Vec<bool>, SinkError>> {
            let rows = &batch.submissions;
            Box::pin(async move {
                let _open = self.gate.read().await;
                if self.fail_next.load(Ordering::SeqCst) > 0 {
                    self.fail_next.fetch_sub(1, Ordering::SeqCst);
                    return Err(SinkError {
                        transient: self.transient,
                        message: "down".into(),
                    });
                }
                self.batches.lock().push(rows.len());
                self.drafts.lock().push(batch.drafts.clone());
                let mut keys = self.keys.lock();
                Ok(rows
                    .iter()
                    .map(|r| keys.insert((r.contest_id, r.student_id)))
                    .collect())
            })
        }
    }

    fn row(student: Id) -> SubmissionRow {
        SubmissionRow {
            id: uuid::Uuid::new_v4(),
            contest_id: 1,
            student_id: student,
            submitted_at: chrono::Utc::now(),
            answers: vec![],
            score: crate::Score(0),
            max_score: crate::Score(0),
            auto: false,
            idempotency: Default::default(),
        }
    }

    fn draft(student: Id, saved: i64) -> DraftRow {
        DraftRow {
            contest_id: 1,
            student_id: student,
            answers: vec![],
            saved_at: chrono::DateTime::from_timestamp(saved, 0).unwrap(),
        }
    }

    /// Saves of one student's draft queued together are written once, the last; every save is
    /// answered once the batch commits, and submissions in the same batch are written too.
    #[tokio::test]
    async fn drafts_in_one_batch_collapse_to_the_last_save() {
        let sink = Arc::new(MemorySink::default());
        let shut = sink.gate.write().await;
        let writer = start_writer(sink.clone(), config());
        let saves: Vec<_> = [(1, 10), (2, 11), (1, 12), (1, 13)]
            .into_iter()
            .map(|(student, at)| writer.save_draft(draft(student, at)).unwrap())
            .collect();
        let submitted = writer.submit(row(3)).unwrap();
        drop(shut);
        for save in saves {
            assert_eq!(save.await.unwrap(), WriteOutcome::Committed);
        }
        assert_eq!(submitted.await.unwrap(), WriteOutcome::Committed);
        let written: Vec<DraftRow> = sink.drafts.lock().concat();
        assert_eq!(
            written,
            vec![draft(1, 13), draft(2, 11)],
            "one row per student, the last"
        );
    }

    fn config() -> WriterConfig {
        WriterConfig {
            batch_size: 64,
            deadline: Duration::from_millis(5),
            queue_bound: 1000,
            attempts: 3,
            backoff: Duration::from_millis(1),
            on_flush: None,
        }
    }

    #[actix_rt::test]
    async fn drained_waits_for_rows_whose_waiters_left_and_flushes_are_observed() {
        let sink = Arc::new(MemorySink::default());
        let observed = Arc::new(AtomicU32::new(0));
        let rows_seen = observed.clone();
        let writer = start_writer(
            sink.clone(),
            WriterConfig {
                on_flush: Some(FlushObserver(Arc::new(move |rows, _| {
                    rows_seen.fetch_add(rows as u32, Ordering::SeqCst);
                }))),
                ..config()
            },
        );
        let shut = sink.gate.write().await;
        // The waiters go away at once (their clients left): the rows must still be written.
        for s in 0..300 {
            drop(writer.submit(row(s)).unwrap());
        }
        let drained = tokio::spawn({
            let writer = writer.clone();
            async move { writer.drained().await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            !drained.is_finished(),
            "drained() returned with rows unwritten"
        );
        drop(shut);
        tokio::time::timeout(Duration::from_secs(5), drained)
            .await
            .expect("drained() was not woken when the last row was answered")
            .unwrap();
        assert_eq!(sink.keys.lock().len(), 300);
        assert_eq!(writer.stats().pending.load(Ordering::SeqCst), 0);
        assert_eq!(observed.load(Ordering::SeqCst), 300);
    }

    #[actix_rt::test]
    async fn rows_are_batched_and_duplicates_answered_apart() {
        let sink = Arc::new(MemorySink::default());
        sink.keys.lock().insert((1, 7)); // written by another runtime
        let writer = start_writer(sink.clone(), config());
        let waiters: Vec<_> = (0..200).map(|s| writer.submit(row(s)).unwrap()).collect();
        let mut outcomes = Vec::new();
        for w in waiters {
            outcomes.push(w.await.unwrap());
        }
        assert_eq!(
            outcomes
                .iter()
                .filter(|o| **o == WriteOutcome::Committed)
                .count(),
            199
        );
        assert_eq!(outcomes[7], WriteOutcome::Duplicate);
        let batches = sink.batches.lock().clone();
        assert!(
            batches.iter().all(|b| *b <= 64),
            "batch size bound: {batches:?}"
        );
        assert!(batches.len() < 200, "rows were grouped: {batches:?}");
        assert_eq!(writer.stats().rows.load(Ordering::Relaxed), 199);
    }

    #[actix_rt::test]
    async fn transient_errors_are_retried() {
        let sink = Arc::new(MemorySink {
            transient: true,
            ..Default::default()
        });
        sink.fail_next.store(2, Ordering::SeqCst);
        let writer = start_writer(sink.clone(), config());
        assert_eq!(
            writer.submit(row(1)).unwrap().await.unwrap(),
            WriteOutcome::Committed
        );
    }

    #[actix_rt::test]
    async fn failures_past_the_retries_answer_failed() {
        let sink = Arc::new(MemorySink {
            transient: true,
            ..Default::default()
        });
        sink.fail_next.store(3, Ordering::SeqCst);
        let writer = start_writer(sink.clone(), config());
        assert_eq!(
            writer.submit(row(1)).unwrap().await.unwrap(),
            WriteOutcome::Failed
        );
        assert_eq!(
            writer.submit(row(1)).unwrap().await.unwrap(),
            WriteOutcome::Committed,
            "the retry gets in"
        );
    }

    #[actix_rt::test]
    async fn a_full_queue_refuses_at_once() {
        let sink = Arc::new(MemorySink::default());
        let writer = start_writer(
            sink,
            WriterConfig {
                queue_bound: 2,
                ..config()
            },
        );
        // Nothing runs the writer until we yield, so the queue fills.
        let a = writer.submit(row(1));
        let b = writer.submit(row(2));
        let c = writer.submit(row(3));
        assert!(a.is_ok() && b.is_ok());
        assert_eq!(c.err(), Some(QueueFull));
    }
}
