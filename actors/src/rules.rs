//! The rules of one contest, as a plain struct: who may see it, who may submit, grading, the
//! duplicate claim. `ContestActor` only feeds it messages; unit tests drive it directly.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::grading::{self, Key, Score, Total};
use crate::model::{
    Answer, Contest, ContestStatus, DraftRow, Id, Idempotency, Question, Snapshot, SubmissionRow,
};
use crate::view::StudentView;
use crate::window::{window_for, Accommodation, MyWindow, Window};

/// Why a request is refused; the server maps each to its HTTP status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// 404: the contest is inactive (students do not see it).
    NotFound,
    /// 400: the answers do not fit the contest; the text names the entry.
    BadAnswers(String),
    /// 403: not actively enrolled in the contest's course.
    NotEnrolled,
    /// 409: a submission exists or is being written.
    AlreadySubmitted,
    /// 409 `already_submitted`, for a submission the database holds that this runtime did not
    /// write (loaded with the contest, or written by another runtime): only the stored row can
    /// tell whether a request with an idempotency key is a retry of it.
    AlreadySubmittedElsewhere,
    /// 409 `conflict`: the idempotency key was used for this contest with other answers.
    KeyReused,
    /// 409: before the start or at/after the deadline (the end plus the grace).
    NotOpen(ContestStatus),
    /// 503: the runtime cannot take it now (full queue, database down).
    Unavailable(&'static str),
}

/// A claim granted: the graded row to write. The student's slot stays taken until the write's
/// outcome is reported (`committed`, `found_duplicate` or `release`).
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    pub row: SubmissionRow,
}

/// What a request with its idempotency turned out to be (`ContestState::claim_with`).
#[derive(Debug, Clone, PartialEq)]
pub enum Claimed {
    /// A new claim: write its row.
    New(Claim),
    /// A retry of the submission its key made, committed through this state: answer it again.
    Again(Arc<SubmissionRow>),
    /// A retry of the submission its key made, still being written: wait for the outcome.
    Pending,
}

/// `Ok` when `asked` retries the submission `made`: the same key and the same answers. The
/// same key with other answers is `KeyReused`; another key (or none) is `AlreadySubmitted`.
pub fn same_submission(made: &Idempotency, asked: &Idempotency) -> Result<(), Refusal> {
    if made.key.is_none() || made.key != asked.key {
        Err(Refusal::AlreadySubmitted)
    } else if made.answers_hash != asked.answers_hash {
        Err(Refusal::KeyReused)
    } else {
        Ok(())
    }
}

/// Per-contest figures.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Figures {
    pub enrolled: usize,
    pub submitted: usize,
    pub pending: usize,
    pub questions: usize,
    pub max_score: Score,
    /// Mean score (in points) of the committed submissions whose score this runtime knows.
    pub average_score: Option<f64>,
}

pub struct ContestState {
    contest: Contest,
    questions: Vec<Question>,
    question_index: HashMap<Id, usize>,
    max_score: Score,
    enrolled: HashSet<Id>,
    submitted: HashSet<Id>,
    /// The rows committed through this state, so a student reading their submission back right
    /// after submitting needs no database read (older ones are read from the database).
    committed_rows: HashMap<Id, Arc<SubmissionRow>>,
    pending: HashSet<Id>,
    /// The idempotency of each pending claim made with a key (a subset of `pending`), so that
    /// a retry can be told apart while the claim is written.
    pending_keys: HashMap<Id, Idempotency>,
    /// The committed scores this state knows, and their sum in hundredths of a point.
    scores: HashMap<Id, Score>,
    score_sum: i64,
    /// The committed drafts of students without a submission.
    drafts: HashMap<Id, Arc<DraftRow>>,
    /// Draft saves being written, per student: the deadline waits for them, so the draft that
    /// becomes the submission is the last one acknowledged.
    saving: HashMap<Id, usize>,
    /// Personal terms (API.md, "Per-student time"), and when students first opened a contest
    /// with a duration.
    accommodations: HashMap<Id, Accommodation>,
    starts: HashMap<Id, DateTime<Utc>>,
    view: StudentView,
}

/// What a refresh from the database changed, for the sockets.
#[derive(Debug, Default, PartialEq)]
pub struct Refreshed {
    /// No longer enrolled: their sockets close.
    pub unenrolled: Vec<Id>,
    /// Their score changed (`regraded`).
    pub regraded: HashSet<Id>,
    /// Their personal terms changed (`schedule_changed`).
    pub rescheduled: HashSet<Id>,
    /// Their start was recorded elsewhere, or another node's won (a fresh `state`).
    pub restarted: HashSet<Id>,
}

/// A student's first open of a contest with a duration: the start to record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opened {
    pub student: Id,
    pub at: DateTime<Utc>,
}

impl ContestState {
    /// The state of a loaded contest; fails only if its student view cannot be serialized.
    pub fn new(snapshot: Snapshot) -> Result<Self, serde_json::Error> {
        let Snapshot {
            contest,
            questions,
            enrolled,
            submitted,
            drafts,
            accommodations,
            starts,
        } = snapshot;
        let question_index = questions
            .iter()
            .enumerate()
            .map(|(i, q)| (q.id, i))
            .collect();
        let max_score = max_score(&questions);
        let score_sum = submitted.iter().map(|(_, s)| s.cents()).sum();
        let view = StudentView::new(&contest, &questions)?;
        Ok(ContestState {
            contest,
            questions,
            question_index,
            max_score,
            enrolled: enrolled.into_iter().collect(),
            submitted: submitted.iter().map(|(id, _)| *id).collect(),
            committed_rows: HashMap::new(),
            pending: HashSet::new(),
            pending_keys: HashMap::new(),
            scores: submitted.into_iter().collect(),
            score_sum,
            drafts: drafts
                .into_iter()
                .map(|d| (d.student_id, Arc::new(d)))
                .collect(),
            saving: HashMap::new(),
            accommodations: accommodations.into_iter().collect(),
            starts: starts
                .into_iter()
                .map(|s| (s.student_id, s.started_at))
                .collect(),
            view,
        })
    }

    /// The student's window: the contest's, unless personal terms or a started duration
    /// make it their own.
    pub fn window(&self, student: Id) -> Window {
        window_for(
            self.contest.window(),
            self.contest.duration_minutes,
            self.accommodations.get(&student),
            self.starts.get(&student).copied(),
        )
    }

    /// Whether the student's window differs from the contest's (their timer frames are their
    /// own).
    pub fn is_personal(&self, student: Id) -> bool {
        self.window(student) != self.contest.window()
    }

    /// What `my_window` shows: the student's window when it differs from the contest's or
    /// has started.
    pub fn my_window(&self, student: Id) -> Option<MyWindow> {
        let window = self.window(student);
        let started_at = self.starts.get(&student).copied();
        (window != self.contest.window() || started_at.is_some()).then_some(MyWindow {
            start_time: window.start,
            end_time: window.end,
            started_at,
        })
    }

    /// When the student's submissions stop being accepted and their draft is submitted.
    pub fn deadline(&self, student: Id) -> DateTime<Utc> {
        self.window(student).deadline(self.contest.grace_seconds)
    }

    /// A student's open of the contest (`GET /api/contests/{id}`): on a contest with a
    /// duration, the first open inside their window starts it. Returns the start to record,
    /// already in force here; `forget_start` undoes it if the write fails.
    pub fn open(&mut self, student: Id, now: DateTime<Utc>) -> Option<Opened> {
        self.contest.duration_minutes?;
        if self.starts.contains_key(&student)
            || self.check_access(student).is_err()
            || self.window(student).status(now) != ContestStatus::Open
        {
            return None;
        }
        self.starts.insert(student, now);
        Some(Opened { student, at: now })
    }

    /// The start could not be recorded: the next open tries again.
    pub fn forget_start(&mut self, opened: Opened) {
        if self.starts.get(&opened.student) == Some(&opened.at) {
            self.starts.remove(&opened.student);
        }
    }

    /// An admin set (`Some`) or removed (`None`) the student's personal terms.
    pub fn accommodate(&mut self, student: Id, terms: Option<Accommodation>) {
        match terms {
            Some(terms) => self.accommodations.insert(student, terms),
            None => self.accommodations.remove(&student),
        };
    }

    /// Whether any student has a window of their own (or may get one by opening it).
    pub fn has_personal_windows(&self) -> bool {
        !self.accommodations.is_empty() || self.contest.duration_minutes.is_some()
    }

    pub fn contest(&self) -> &Contest {
        &self.contest
    }

    pub fn max_score(&self) -> Score {
        self.max_score
    }

    pub fn questions(&self) -> &[Question] {
        &self.questions
    }

    /// The student view for `student` (`None` for an admin, who sees any contest).
    pub fn view(&self, student: Option<Id>) -> Result<StudentView, Refusal> {
        if let Some(student) = student {
            self.check_access(student)?;
        }
        Ok(self.view.clone())
    }

    /// A student may see an active contest of a course they are actively enrolled in.
    pub fn check_access(&self, student: Id) -> Result<(), Refusal> {
        if !self.contest.is_active {
            return Err(Refusal::NotFound);
        }
        if !self.enrolled.contains(&student) {
            return Err(Refusal::NotEnrolled);
        }
        Ok(())
    }

    /// Checks a submission and claims the student's one slot. Order: inactive (404), answers
    /// (400), enrollment (403), duplicate (409, whatever the time), window (409).
    pub fn claim(
        &mut self,
        student: Id,
        answers: Vec<Answer>,
        now: DateTime<Utc>,
    ) -> Result<Claim, Refusal> {
        if !self.contest.is_active {
            return Err(Refusal::NotFound);
        }
        let score = self.grade(&answers)?;
        if !self.enrolled.contains(&student) {
            return Err(Refusal::NotEnrolled);
        }
        self.check_slot(student, now)?;
        Ok(self.claim_graded(student, answers, score, now, false))
    }

    /// A student who has not submitted (nor is being written) and whose window takes a
    /// submission or a draft at `now`.
    fn check_slot(&self, student: Id, now: DateTime<Utc>) -> Result<(), Refusal> {
        if self.submitted.contains(&student) || self.pending.contains(&student) {
            return Err(Refusal::AlreadySubmitted);
        }
        let window = self.window(student);
        if !window.accepts(now, self.contest.grace_seconds) {
            return Err(Refusal::NotOpen(window.status(now)));
        }
        Ok(())
    }

    fn claim_graded(
        &mut self,
        student: Id,
        answers: Vec<Answer>,
        score: Score,
        now: DateTime<Utc>,
        auto: bool,
    ) -> Claim {
        self.pending.insert(student);
        Claim {
            row: SubmissionRow {
                // Time-ordered, so each batch appends to the primary-key index instead of
                // touching a random page per row.
                id: Uuid::now_v7(),
                contest_id: self.contest.id,
                student_id: student,
                submitted_at: now,
                answers,
                score,
                max_score: self.max_score,
                auto,
                idempotency: Idempotency::default(),
            },
        }
    }

    /// Checks a draft save like a submission (the same refusals, in the same order) and
    /// returns the row to write.
    pub fn check_draft(
        &self,
        student: Id,
        answers: Vec<Answer>,
        now: DateTime<Utc>,
    ) -> Result<DraftRow, Refusal> {
        if !self.contest.is_active {
            return Err(Refusal::NotFound);
        }
        self.grade(&answers)?;
        if !self.enrolled.contains(&student) {
            return Err(Refusal::NotEnrolled);
        }
        self.check_slot(student, now)?;
        Ok(DraftRow {
            contest_id: self.contest.id,
            student_id: student,
            answers,
            saved_at: now,
        })
    }

    /// A checked draft goes to the writer.
    pub fn draft_writing(&mut self, student: Id) {
        *self.saving.entry(student).or_default() += 1;
    }

    /// A draft's write has its outcome (committed or failed).
    pub fn draft_write_ended(&mut self, student: Id) {
        if let Some(n) = self.saving.get_mut(&student) {
            *n -= 1;
            if *n == 0 {
                self.saving.remove(&student);
            }
        }
    }

    /// A draft is committed; it replaces an older one (saves commit in order, but a reload may
    /// have read a newer one).
    pub fn draft_saved(&mut self, row: DraftRow) {
        self.draft_write_ended(row.student_id);
        if self.submitted.contains(&row.student_id) {
            return;
        }
        let newer = self
            .drafts
            .get(&row.student_id)
            .is_none_or(|d| d.saved_at <= row.saved_at);
        if newer {
            self.drafts.insert(row.student_id, Arc::new(row));
        }
    }

    /// The student's draft, while they have not submitted.
    pub fn draft(&self, student: Id) -> Result<Option<Arc<DraftRow>>, Refusal> {
        self.check_access(student)?;
        if self.submitted.contains(&student) || self.pending.contains(&student) {
            return Ok(None);
        }
        Ok(self.drafts.get(&student).cloned())
    }

    /// The drafts of enrolled students without a submission whose deadline has passed,
    /// claimed as their (automatic) submissions and graded with the current key. Drafts of
    /// students no longer enrolled are dropped: they could not submit either.
    pub fn due_drafts(&mut self, now: DateTime<Utc>) -> Vec<Claim> {
        self.due_drafts_settled(now, TimeDelta::zero())
    }

    /// `due_drafts`, counting a draft due only `settle` after its student's deadline (another
    /// node may have saved a later one just before it, still on its way here).
    pub fn due_drafts_settled(&mut self, now: DateTime<Utc>, settle: TimeDelta) -> Vec<Claim> {
        let contest_due = now >= self.contest.deadline() + settle;
        if self.drafts.is_empty() || (!contest_due && !self.has_personal_windows()) {
            return Vec::new();
        }
        let (gone, due): (Vec<Arc<DraftRow>>, Vec<Arc<DraftRow>>) = self
            .drafts
            .values()
            .filter(|d| now >= self.deadline(d.student_id) + settle)
            .filter(|d| !self.pending.contains(&d.student_id))
            .filter(|d| !self.saving.contains_key(&d.student_id))
            .cloned()
            .partition(|d| {
                self.submitted.contains(&d.student_id) || !self.enrolled.contains(&d.student_id)
            });
        for draft in gone {
            self.drafts.remove(&draft.student_id);
        }
        let grader = Grader::new(&self.questions);
        let graded: Vec<(Id, Score)> = due
            .iter()
            .map(|d| (d.student_id, grader.score(&d.answers)))
            .collect();
        due.into_iter()
            .zip(graded)
            .map(|(draft, (student, score))| {
                self.claim_graded(student, draft.answers.clone(), score, now, true)
            })
            .collect()
    }

    /// Students with a committed draft and no submission.
    pub fn draft_count(&self) -> usize {
        self.drafts.len()
    }

    /// Drafts still waiting for the deadline (or to be written as submissions).
    pub fn has_drafts(&self) -> bool {
        !self.drafts.is_empty() || !self.saving.is_empty()
    }

    /// `claim` for a request that carries its idempotency (key and answers hash), which the
    /// row keeps. A student who already holds a claim or a submission made with the same key
    /// and the same answers gets it back (`Again`, or `Pending` while it is written) instead
    /// of `AlreadySubmitted`; the same key with other answers is `KeyReused`.
    pub fn claim_with(
        &mut self,
        student: Id,
        answers: Vec<Answer>,
        idempotency: Idempotency,
        now: DateTime<Utc>,
    ) -> Result<Claimed, Refusal> {
        match self.claim(student, answers, now) {
            Ok(mut claim) => {
                if idempotency.key.is_some() {
                    self.pending_keys.insert(student, idempotency.clone());
                }
                claim.row.idempotency = idempotency;
                Ok(Claimed::New(claim))
            }
            Err(Refusal::AlreadySubmitted) => self.retried(student, &idempotency),
            Err(refusal) => Err(refusal),
        }
    }

    /// Whether a student who already holds a claim or a submission is retrying it.
    fn retried(&self, student: Id, asked: &Idempotency) -> Result<Claimed, Refusal> {
        if asked.key.is_none() {
            return Err(Refusal::AlreadySubmitted);
        }
        if self.pending.contains(&student) {
            return match self.pending_keys.get(&student) {
                Some(made) => same_submission(made, asked).map(|()| Claimed::Pending),
                None => Err(Refusal::AlreadySubmitted),
            };
        }
        match self.committed_rows.get(&student) {
            Some(row) => {
                same_submission(&row.idempotency, asked).map(|()| Claimed::Again(row.clone()))
            }
            None => Err(Refusal::AlreadySubmittedElsewhere),
        }
    }

    /// The score of `answers`, or why they do not fit this contest.
    pub fn grade(&self, answers: &[Answer]) -> Result<Score, Refusal> {
        let mut seen = HashSet::with_capacity(answers.len());
        let mut total = Total::default();
        for (i, answer) in answers.iter().enumerate() {
            let Some(&q) = self.question_index.get(&answer.question_id) else {
                return Err(Refusal::BadAnswers(format!(
                    "answers[{i}].question_id {} is not a question of this contest",
                    answer.question_id
                )));
            };
            let question = &self.questions[q];
            grading::check(&question.key, question.options.len(), &answer.response).map_err(
                |e| Refusal::BadAnswers(format!("answers[{i}].{e} (question {})", question.id)),
            )?;
            if !seen.insert(answer.question_id) {
                return Err(Refusal::BadAnswers(format!(
                    "answers[{i}] answers question {} a second time",
                    answer.question_id
                )));
            }
            total.add(grading::earned(
                &question.key,
                question.points,
                &answer.response,
            ));
        }
        Ok(total.score())
    }

    /// The claimed row is committed.
    pub fn committed(&mut self, row: Arc<SubmissionRow>) {
        let student = row.student_id;
        self.pending.remove(&student);
        self.pending_keys.remove(&student);
        self.submitted.insert(student);
        self.drafts.remove(&student);
        self.set_score(student, row.score);
        self.committed_rows.insert(student, row);
    }

    fn set_score(&mut self, student: Id, score: Score) {
        // (The regrade's scores and the claims' come from the same `grading::earned`.)
        let old = self.scores.insert(student, score).map_or(0, Score::cents);
        self.score_sum += score.cents() - old;
    }

    /// The student's committed submission, when it was committed through this state.
    pub fn committed_row(&self, student: Id) -> Option<Arc<SubmissionRow>> {
        self.committed_rows.get(&student).cloned()
    }

    /// The database already had a submission for the student (written by another runtime).
    pub fn found_duplicate(&mut self, student: Id) {
        self.pending.remove(&student);
        self.pending_keys.remove(&student);
        self.submitted.insert(student);
        self.drafts.remove(&student);
    }

    /// The write failed: the student may try again.
    pub fn release(&mut self, student: Id) {
        self.pending.remove(&student);
        self.pending_keys.remove(&student);
    }

    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    pub fn has_submitted(&self, student: Id) -> bool {
        self.submitted.contains(&student)
    }

    pub fn is_enrolled(&self, student: Id) -> bool {
        self.enrolled.contains(&student)
    }

    /// An admin changed the contest (times, title, active flag, shuffling).
    pub fn update_contest(&mut self, contest: Contest) -> Result<(), serde_json::Error> {
        self.view = if contest.shuffle == self.contest.shuffle {
            self.view.with_contest(&contest)
        } else {
            StudentView::new(&contest, &self.questions)?
        };
        self.contest = contest;
        Ok(())
    }

    /// An admin replaced the questions (or the shuffling) of the contest before it opened.
    pub fn replace_questions(
        &mut self,
        contest: Contest,
        questions: Vec<Question>,
    ) -> Result<(), serde_json::Error> {
        self.view = StudentView::new(&contest, &questions)?;
        self.question_index = questions
            .iter()
            .enumerate()
            .map(|(i, q)| (q.id, i))
            .collect();
        self.max_score = max_score(&questions);
        self.contest = contest;
        self.questions = questions;
        Ok(())
    }

    /// An admin corrected a question's key or points: claims from now on are graded with it.
    /// Returns the students whose claims were graded with the old key and are still being
    /// written (the regrade waits for them), or `None` if the question is not this contest's.
    pub fn correct_key(
        &mut self,
        question_id: Id,
        key: Key,
        points: i64,
    ) -> Result<Option<HashSet<Id>>, serde_json::Error> {
        let Some(&q) = self.question_index.get(&question_id) else {
            return Ok(None);
        };
        let points_changed = self.questions[q].points != points;
        self.questions[q].key = key;
        self.questions[q].points = points;
        self.max_score = max_score(&self.questions);
        if points_changed {
            // Students see points: the view changes with them.
            self.view = StudentView::new(&self.contest, &self.questions)?;
        }
        Ok(Some(self.pending.clone()))
    }

    /// New scores from a regrade (every committed submission's, as the database now holds
    /// them), and the contest's new maximum.
    pub fn rescored(&mut self, scores: &[(Id, Score)], max_score: Score) {
        for &(student, score) in scores {
            if self.submitted.contains(&student) {
                self.set_score(student, score);
            }
            if let Some(row) = self.committed_rows.get_mut(&student) {
                Arc::make_mut(row).score = score;
            }
        }
        for row in self.committed_rows.values_mut() {
            if row.max_score != max_score {
                Arc::make_mut(row).max_score = max_score;
            }
        }
    }

    /// Another node committed changes: takes what the database now holds (`fresh`, read after
    /// the change) and returns what the sockets must be told. The contest's own fields are
    /// the actor's to apply (they move timers); this takes the rest. What this runtime knows
    /// and the database does not yet (claims and drafts being written, a start being
    /// recorded) stays: the database only ever adds to it.
    pub fn refresh(&mut self, fresh: Snapshot) -> Result<Refreshed, serde_json::Error> {
        let mut told = Refreshed::default();
        if fresh.questions != self.questions {
            // Replaced before the open, or a key or points corrected (the regrade's scores
            // follow in `submitted`).
            self.replace_questions(self.contest.clone(), fresh.questions)?;
        }
        let enrolled: HashSet<Id> = fresh.enrolled.into_iter().collect();
        told.unenrolled = self.enrolled.difference(&enrolled).copied().collect();
        self.enrolled = enrolled;
        for &(student, score) in &fresh.submitted {
            if self.submitted.insert(student) {
                // Submitted through another node.
                self.drafts.remove(&student);
            } else if self.scores.get(&student).is_some_and(|&mine| mine != score) {
                told.regraded.insert(student);
            }
        }
        self.rescored(&fresh.submitted, self.max_score);
        for draft in fresh.drafts {
            let newer = self
                .drafts
                .get(&draft.student_id)
                .is_none_or(|mine| mine.saved_at < draft.saved_at);
            if newer && !self.submitted.contains(&draft.student_id) {
                self.drafts.insert(draft.student_id, Arc::new(draft));
            }
        }
        let accommodations: HashMap<Id, Accommodation> = fresh.accommodations.into_iter().collect();
        for student in self.accommodations.keys().chain(accommodations.keys()) {
            if self.accommodations.get(student) != accommodations.get(student) {
                told.rescheduled.insert(*student);
            }
        }
        self.accommodations = accommodations;
        for start in fresh.starts {
            // The first start recorded wins, wherever it was made.
            let mine = self.starts.insert(start.student_id, start.started_at);
            if mine != Some(start.started_at) {
                told.restarted.insert(start.student_id);
            }
        }
        Ok(told)
    }

    pub fn enroll(&mut self, students: &[Id]) {
        self.enrolled.extend(students.iter().copied());
    }

    pub fn unenroll(&mut self, student: Id) {
        self.enrolled.remove(&student);
    }

    pub fn figures(&self) -> Figures {
        Figures {
            enrolled: self.enrolled.len(),
            submitted: self.submitted.len(),
            pending: self.pending.len(),
            questions: self.questions.len(),
            max_score: self.max_score,
            // One division of exact integers, so the mean is correctly rounded and prints
            // without noise (10.394721, not 10.394720999999999).
            average_score: (!self.scores.is_empty())
                .then(|| self.score_sum as f64 / (self.scores.len() as f64 * 100.0)),
        }
    }
}

/// Grades stored answers under the questions' current keys (a regrade, the CSV's points per
/// question). Stored answers were checked when submitted; an answer to a question that is not
/// there earns nothing.
pub struct Grader<'a> {
    by_id: HashMap<Id, &'a Question>,
}

impl<'a> Grader<'a> {
    pub fn new(questions: &'a [Question]) -> Self {
        Grader {
            by_id: questions.iter().map(|q| (q.id, q)).collect(),
        }
    }

    /// What one answer earns, in `grading::UNIT`ths of a point.
    pub fn earned(&self, answer: &Answer) -> i64 {
        self.by_id
            .get(&answer.question_id)
            .map_or(0, |q| grading::earned(&q.key, q.points, &answer.response))
    }

    pub fn score(&self, answers: &[Answer]) -> Score {
        let mut total = Total::default();
        for answer in answers {
            total.add(self.earned(answer));
        }
        total.score()
    }
}

/// The sum of the questions' points.
fn max_score(questions: &[Question]) -> Score {
    Score::from_points(questions.iter().map(|q| q.points).sum())
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;
    use crate::model::{ResultsPolicy, StartRow};

    fn snapshot(now: DateTime<Utc>) -> Snapshot {
        Snapshot {
            contest: Contest {
                id: 9,
                course_id: 3,
                title: "Quiz \"one\"".into(),
                start_time: now - TimeDelta::minutes(1),
                end_time: now + TimeDelta::minutes(1),
                results: ResultsPolicy::Immediate,
                is_active: true,
                shuffle: Default::default(),
                grace_seconds: 0,
                duration_minutes: None,
            },
            questions: vec![
                Question {
                    id: 100,
                    prompt: "a".into(),
                    options: vec!["x".into(), "y".into()],
                    key: crate::grading::Key::Single { correct: 1 },
                    points: 2,
                },
                Question {
                    id: 101,
                    prompt: "b".into(),
                    options: vec!["x".into(), "y".into(), "z".into()],
                    key: crate::grading::Key::Single { correct: 0 },
                    points: 3,
                },
            ],
            enrolled: vec![1, 2, 3],
            submitted: vec![(3, Score::from_points(5))],
            drafts: vec![],
            accommodations: vec![],
            starts: vec![],
        }
    }

    fn answer(question_id: Id, option: i64) -> Answer {
        Answer {
            question_id,
            response: crate::grading::Response::Option(option),
        }
    }

    #[test]
    fn a_refresh_takes_in_what_another_node_committed() {
        let now = Utc::now();
        let mut state = ContestState::new(snapshot(now)).unwrap();
        // This node has a claim of student 1 in flight and a draft of student 2.
        state.claim(1, vec![answer(100, 1)], now).unwrap();
        state.draft_saved(DraftRow {
            contest_id: 9,
            student_id: 2,
            answers: vec![answer(100, 0)],
            saved_at: now,
        });
        let mut fresh = snapshot(now);
        // Another node: unenrolled 3, rescored 3, a later draft for 2, terms and a start for 2,
        // a corrected key.
        fresh.enrolled = vec![1, 2];
        fresh.submitted = vec![(3, Score::from_points(2))];
        fresh.drafts = vec![DraftRow {
            contest_id: 9,
            student_id: 2,
            answers: vec![answer(100, 1)],
            saved_at: now + TimeDelta::seconds(1),
        }];
        let terms = Accommodation {
            extra_minutes: 5,
            ..Accommodation::default()
        };
        fresh.accommodations = vec![(2, terms)];
        fresh.starts = vec![StartRow {
            contest_id: 9,
            student_id: 2,
            started_at: now,
        }];
        fresh.questions[0].key = crate::grading::Key::Single { correct: 0 };
        let told = state.refresh(fresh).unwrap();
        assert_eq!(
            told,
            Refreshed {
                unenrolled: vec![3],
                regraded: HashSet::from([3]),
                rescheduled: HashSet::from([2]),
                restarted: HashSet::from([2]),
            }
        );
        assert!(!state.is_enrolled(3));
        assert_eq!(state.figures().average_score, Some(2.0));
        assert_eq!(
            state.draft(2).unwrap().unwrap().answers,
            vec![answer(100, 1)]
        );
        assert_eq!(
            state.deadline(2),
            state.contest().end_time + TimeDelta::minutes(5)
        );
        assert_eq!(state.grade(&[answer(100, 0)]), Ok(Score::from_points(2)));
        // What this node had in flight stays: student 1's claim is still pending.
        assert!(state.has_pending());
        assert_eq!(
            state.claim(1, vec![answer(100, 1)], now).err(),
            Some(Refusal::AlreadySubmitted)
        );
    }

    #[test]
    fn a_refresh_learns_submissions_and_keeps_older_drafts_out() {
        let now = Utc::now();
        let mut state = ContestState::new(snapshot(now)).unwrap();
        state.draft_saved(DraftRow {
            contest_id: 9,
            student_id: 2,
            answers: vec![answer(100, 0)],
            saved_at: now,
        });
        let mut fresh = snapshot(now);
        fresh.submitted.push((1, Score::from_points(3)));
        fresh.drafts = vec![DraftRow {
            contest_id: 9,
            student_id: 2,
            answers: vec![answer(100, 1)],
            saved_at: now - TimeDelta::seconds(1),
        }];
        let told = state.refresh(fresh).unwrap();
        assert_eq!(told, Refreshed::default(), "nothing for the sockets");
        assert!(state.has_submitted(1));
        assert_eq!(state.figures().submitted, 2);
        assert_eq!(
            state.draft(2).unwrap().unwrap().answers,
            vec![answer(100, 0)],
            "the newer draft stays"
        );
    }

    #[test]
    fn grading_sums_points_of_correct_answers() {
        let state = ContestState::new(snapshot(Utc::now())).unwrap();
        assert_eq!(state.max_score(), Score::from_points(5));
        assert_eq!(
            state.grade(&[answer(100, 1), answer(101, 0)]),
            Ok(Score::from_points(5))
        );
        assert_eq!(
            state.grade(&[answer(100, 1), answer(101, 2)]),
            Ok(Score::from_points(2))
        );
        assert_eq!(
            state.grade(&[]),
            Ok(Score::from_points(0)),
            "questions may be left out"
        );
    }

    #[test]
    fn bad_answers_are_named() {
        let state = ContestState::new(snapshot(Utc::now())).unwrap();
        let unknown = state.grade(&[answer(100, 0), answer(999, 0)]);
        assert!(
            matches!(unknown, Err(Refusal::BadAnswers(m)) if m.contains("answers[1].question_id"))
        );
        let range = state.grade(&[answer(101, 3)]);
        assert!(
            matches!(range, Err(Refusal::BadAnswers(m)) if m.contains("answers[0].option") && m.contains("question 101"))
        );
        let negative = state.grade(&[answer(101, -1)]);
        assert!(matches!(negative, Err(Refusal::BadAnswers(_))));
        let twice = state.grade(&[answer(100, 0), answer(100, 1)]);
        assert!(matches!(twice, Err(Refusal::BadAnswers(m)) if m.contains("answers[1]")));
    }

    #[test]
    fn one_claim_per_student_until_released() {
        let now = Utc::now();
        let mut state = ContestState::new(snapshot(now)).unwrap();
        let claim = state.claim(1, vec![answer(100, 1)], now).unwrap();
        assert_eq!(
            (claim.row.score, claim.row.max_score, claim.row.student_id),
            (Score::from_points(2), Score::from_points(5), 1)
        );
        assert_eq!(
            state.claim(1, vec![], now),
            Err(Refusal::AlreadySubmitted),
            "pending blocks"
        );
        state.release(1);
        let claim = state.claim(1, vec![], now).unwrap();
        assert_eq!(state.committed_row(1), None, "not readable while pending");
        state.committed(Arc::new(claim.row.clone()));
        assert_eq!(state.committed_row(1).as_deref(), Some(&claim.row));
        assert_eq!(
            state.committed_row(3),
            None,
            "loaded rows are read from the database"
        );
        assert_eq!(
            state.claim(1, vec![], now),
            Err(Refusal::AlreadySubmitted),
            "committed blocks"
        );
        assert_eq!(
            state.claim(3, vec![], now),
            Err(Refusal::AlreadySubmitted),
            "loaded as submitted"
        );
        let f = state.figures();
        assert_eq!((f.submitted, f.pending, f.average_score), (2, 0, Some(2.5)));
    }

    #[test]
    fn duplicate_found_in_the_database_counts_as_submitted() {
        let now = Utc::now();
        let mut state = ContestState::new(snapshot(now)).unwrap();
        state.claim(2, vec![], now).unwrap();
        state.found_duplicate(2);
        assert!(state.has_submitted(2));
        assert_eq!(state.committed_row(2), None, "another runtime's row");
        assert!(!state.has_pending());
        assert_eq!(state.claim(2, vec![], now), Err(Refusal::AlreadySubmitted));
    }

    #[test]
    fn window_is_start_inclusive_end_exclusive_and_follows_updates() {
        let now = Utc::now();
        let mut state = ContestState::new(snapshot(now)).unwrap();
        let mut contest = state.contest().clone();
        contest.start_time = now + TimeDelta::seconds(1);
        state.update_contest(contest.clone()).unwrap();
        assert_eq!(
            state.claim(1, vec![], now),
            Err(Refusal::NotOpen(ContestStatus::Upcoming))
        );
        assert_eq!(
            state.claim(1, vec![], contest.start_time).map(|_| ()),
            Ok(())
        );
        assert_eq!(
            state.claim(2, vec![], contest.end_time),
            Err(Refusal::NotOpen(ContestStatus::Closed))
        );
    }

    #[test]
    fn refusal_order_inactive_answers_enrollment_duplicate_window() {
        let now = Utc::now();
        let mut state = ContestState::new(snapshot(now)).unwrap();
        let closed = now + TimeDelta::hours(1);
        // a submitted student after the close still hears "already submitted"
        assert_eq!(
            state.claim(3, vec![], closed),
            Err(Refusal::AlreadySubmitted)
        );
        // bad answers come before enrollment
        assert!(matches!(
            state.claim(42, vec![answer(1, 0)], now),
            Err(Refusal::BadAnswers(_))
        ));
        assert_eq!(state.claim(42, vec![], now), Err(Refusal::NotEnrolled));
        let mut contest = state.contest().clone();
        contest.is_active = false;
        state.update_contest(contest).unwrap();
        assert_eq!(
            state.claim(1, vec![answer(1, 0)], now),
            Err(Refusal::NotFound)
        );
        assert_eq!(state.view(Some(1)).map(|_| ()), Err(Refusal::NotFound));
        assert!(state.view(None).is_ok(), "admins see inactive contests");
    }

    #[test]
    fn enrollment_changes_apply_at_once() {
        let now = Utc::now();
        let mut state = ContestState::new(snapshot(now)).unwrap();
        state.unenroll(1);
        assert_eq!(state.check_access(1), Err(Refusal::NotEnrolled));
        assert_eq!(state.claim(1, vec![], now), Err(Refusal::NotEnrolled));
        state.enroll(&[1, 7]);
        assert_eq!(state.check_access(7), Ok(()));
        assert_eq!(state.figures().enrolled, 4);
    }

    #[test]
    fn student_view_renders_valid_json_without_answers() {
        let now = Utc::now();
        let state = ContestState::new(snapshot(now)).unwrap();
        let view = state.view(Some(1)).unwrap();
        let doc: serde_json::Value =
            serde_json::from_slice(&view.render(now, Some(1), None).unwrap()).unwrap();
        assert_eq!(doc["status"], "open");
        assert_eq!(doc["title"], "Quiz \"one\"");
        assert_eq!(doc["results"], "immediate");
        assert_eq!(doc["questions"].as_array().unwrap().len(), 2);
        assert!(doc["questions"][0].get("correct_option").is_none());
        let early: serde_json::Value = serde_json::from_slice(
            &view
                .render(now - TimeDelta::hours(1), Some(1), None)
                .unwrap(),
        )
        .unwrap();
        assert_eq!(early["status"], "upcoming");
        assert_eq!(early["questions"], serde_json::json!([]));
    }

    fn keyed(key: &str, hash: u8) -> Idempotency {
        Idempotency {
            key: Some(key.into()),
            answers_hash: Some([hash; 32]),
        }
    }

    #[test]
    fn a_keyed_claim_tells_retries_from_other_submissions() {
        let now = Utc::now();
        let mut state = ContestState::new(snapshot(now)).unwrap();
        let Ok(Claimed::New(claim)) = state.claim_with(1, vec![answer(100, 1)], keyed("k", 1), now)
        else {
            panic!("a new claim");
        };
        assert_eq!(claim.row.idempotency, keyed("k", 1), "the row keeps it");
        // While it is written.
        assert_eq!(
            state.claim_with(1, vec![answer(100, 1)], keyed("k", 1), now),
            Ok(Claimed::Pending)
        );
        assert_eq!(
            state.claim_with(1, vec![answer(100, 0)], keyed("k", 2), now),
            Err(Refusal::KeyReused)
        );
        for other in [keyed("other", 1), Idempotency::default()] {
            assert_eq!(
                state.claim_with(1, vec![], other, now),
                Err(Refusal::AlreadySubmitted)
            );
        }
        // Bad answers and the rules still come first.
        assert!(matches!(
            state.claim_with(1, vec![answer(999, 0)], keyed("k", 1), now),
            Err(Refusal::BadAnswers(_))
        ));
        state.committed(Arc::new(claim.row.clone()));
        assert_eq!(
            state.claim_with(1, vec![], keyed("k", 1), now + TimeDelta::hours(1)),
            Ok(Claimed::Again(Arc::new(claim.row))),
            "committed, also after the close"
        );
        assert_eq!(
            state.claim_with(1, vec![], keyed("k", 2), now),
            Err(Refusal::KeyReused)
        );
        assert_eq!(
            state.claim_with(1, vec![], keyed("other", 1), now),
            Err(Refusal::AlreadySubmitted)
        );
        // Loaded as submitted: only the database can tell.
        assert_eq!(
            state.claim_with(3, vec![], keyed("k", 1), now),
            Err(Refusal::AlreadySubmittedElsewhere)
        );
        assert_eq!(
            state.claim_with(3, vec![], Idempotency::default(), now),
            Err(Refusal::AlreadySubmitted)
        );
    }

    #[test]
    fn a_released_keyed_claim_leaves_no_key_behind() {
        let now = Utc::now();
        let mut state = ContestState::new(snapshot(now)).unwrap();
        assert!(matches!(
            state.claim_with(2, vec![], keyed("k", 1), now),
            Ok(Claimed::New(_))
        ));
        state.release(2);
        // Free again, and the old key's answers no longer bind: a new claim.
        assert!(matches!(
            state.claim_with(2, vec![], keyed("k", 2), now),
            Ok(Claimed::New(_))
        ));
        state.found_duplicate(2);
        assert_eq!(
            state.claim_with(2, vec![], keyed("k", 2), now),
            Err(Refusal::AlreadySubmittedElsewhere),
            "another runtime wrote it"
        );
        assert!(state.pending_keys.is_empty());
        // A claim made without a key is not retried by a keyed request.
        assert!(matches!(
            state.claim_with(1, vec![], Idempotency::default(), now),
            Ok(Claimed::New(_))
        ));
        assert_eq!(
            state.claim_with(1, vec![], keyed("k", 1), now),
            Err(Refusal::AlreadySubmitted)
        );
    }

    fn mixed(now: DateTime<Utc>) -> ContestState {
        use crate::grading::{Key, Scoring};
        let mut snap = snapshot(now);
        snap.questions = vec![
            Question {
                id: 1,
                prompt: "multiple".into(),
                options: vec!["a".into(), "b".into(), "c".into(), "d".into()],
                key: Key::Multiple {
                    correct: vec![0, 1, 2],
                    scoring: Scoring::Partial,
                },
                points: 1,
            },
            Question {
                id: 2,
                prompt: "numeric".into(),
                options: vec![],
                key: Key::Numeric {
                    value: 10.0,
                    tolerance: 0.5,
                },
                points: 2,
            },
            Question {
                id: 3,
                prompt: "text".into(),
                options: vec![],
                key: Key::text(vec!["Straße".into()]),
                points: 3,
            },
        ];
        ContestState::new(snap).unwrap()
    }

    fn given(question_id: Id, response: crate::grading::Response) -> Answer {
        Answer {
            question_id,
            response,
        }
    }

    #[test]
    fn every_type_is_graded_and_the_total_rounded_once() {
        use crate::grading::Response::*;
        let state = mixed(Utc::now());
        assert_eq!(state.max_score(), Score::from_points(6));
        let all = [
            given(1, Options(vec![0, 1, 2])),
            given(2, Value(10.5)),
            given(3, Text(" STRASSE ".into())),
        ];
        assert_eq!(state.grade(&all), Ok(Score::from_points(6)));
        // One of three right: a third of a point, 0.33.
        assert_eq!(state.grade(&[given(1, Options(vec![2]))]), Ok(Score(33)));
        assert_eq!(
            state.grade(&[given(1, Options(vec![0, 3])), given(2, Value(10.51))]),
            Ok(Score(0)),
            "right − wrong floors at zero; tolerance is absolute"
        );
    }

    #[test]
    fn answers_of_the_wrong_shape_name_the_question() {
        use crate::grading::Response::*;
        let state = mixed(Utc::now());
        for (answer, named) in [
            (given(2, Option(0)), "question 2"),
            (given(1, Options(vec![0, 0])), "twice"),
            (given(1, Options(vec![4])), "answers[0].options"),
            (given(3, Text("x".repeat(1001))), "1000"),
            (given(3, Text("a\0".into())), "U+0000"),
            (given(1, Value(1.0)), "question 1"),
        ] {
            let got = state.grade(std::slice::from_ref(&answer));
            assert!(
                matches!(&got, Err(Refusal::BadAnswers(m)) if m.contains(named)),
                "{answer:?}: {got:?}"
            );
        }
        assert!(
            state.grade(&[given(1, Options(vec![]))]).is_ok(),
            "may be empty"
        );
    }

    #[test]
    fn a_key_correction_grades_new_claims_and_names_the_claims_in_flight() {
        use crate::grading::Key;
        let now = Utc::now();
        let mut state = ContestState::new(snapshot(now)).unwrap();
        let in_flight = state.claim(1, vec![answer(100, 0)], now).unwrap();
        assert_eq!(in_flight.row.score, Score(0));
        let waiting = state
            .correct_key(100, Key::Single { correct: 0 }, 4)
            .unwrap()
            .unwrap();
        assert_eq!(waiting, HashSet::from([1]));
        assert_eq!(state.max_score(), Score::from_points(7));
        let claim = state.claim(2, vec![answer(100, 0)], now).unwrap();
        assert_eq!(
            (claim.row.score, claim.row.max_score),
            (Score::from_points(4), Score::from_points(7))
        );
        assert_eq!(
            state
                .correct_key(999, Key::Single { correct: 0 }, 1)
                .unwrap(),
            None,
            "not this contest's question"
        );
        // The regrade's scores replace what the state knew.
        state.committed(Arc::new(in_flight.row));
        state.rescored(
            &[(1, Score::from_points(4)), (3, Score::from_points(1))],
            Score::from_points(7),
        );
        let row = state.committed_row(1).unwrap();
        assert_eq!(
            (row.score, row.max_score),
            (Score::from_points(4), Score::from_points(7))
        );
        assert_eq!(state.figures().average_score, Some(2.5));
        // (4 + 1 + 0.33) / 3, as one division.
        state.rescored(&[(2, Score(33))], Score::from_points(7));
        state.found_duplicate(2);
        state.rescored(&[(2, Score(33))], Score::from_points(7));
        assert_eq!(state.figures().average_score, Some(533.0 / 300.0));
        state.rescored(&[(2, Score(3946))], Score::from_points(7));
        let average = state.figures().average_score.unwrap();
        assert_eq!(serde_json::to_string(&average).unwrap(), "14.82");
    }

    #[test]
    fn drafts_are_checked_like_submissions_and_become_them_at_the_deadline() {
        let now = Utc::now();
        let mut snap = snapshot(now);
        snap.contest.grace_seconds = 30;
        let mut state = ContestState::new(snap).unwrap();
        let deadline = state.contest().deadline();
        assert!(matches!(
            state.check_draft(1, vec![answer(999, 0)], now),
            Err(Refusal::BadAnswers(_))
        ));
        assert_eq!(
            state.check_draft(42, vec![], now),
            Err(Refusal::NotEnrolled)
        );
        assert_eq!(
            state.check_draft(3, vec![], deadline),
            Err(Refusal::AlreadySubmitted),
            "already submitted comes before the window"
        );
        let in_grace = state.contest().end_time + TimeDelta::seconds(1);
        let saved = state
            .check_draft(1, vec![answer(100, 1)], in_grace)
            .unwrap();
        state.draft_saved(saved.clone());
        assert_eq!(
            state.check_draft(1, vec![], deadline),
            Err(Refusal::NotOpen(ContestStatus::Closed))
        );
        // An older save committed late does not replace a newer one.
        let mut older = saved.clone();
        older.saved_at -= TimeDelta::seconds(5);
        older.answers = vec![];
        state.draft_saved(older);
        assert_eq!(state.draft(1).unwrap().as_deref(), Some(&saved));
        // Student 2 has a draft too but submits by hand; 7 is no longer enrolled.
        let by_hand = state.check_draft(2, vec![], now).unwrap();
        state.draft_saved(by_hand);
        let claim = state.claim(2, vec![], now).unwrap();
        assert_eq!(state.draft(2).unwrap(), None, "a submission ends the draft");
        state.committed(Arc::new(claim.row));
        state.enroll(&[7]);
        let gone = state.check_draft(7, vec![], now).unwrap();
        state.draft_saved(gone);
        state.unenroll(7);
        assert!(state
            .due_drafts(deadline - TimeDelta::milliseconds(1))
            .is_empty());
        // Shared with another node: due only once the settling time has passed too.
        let settle = TimeDelta::seconds(1);
        assert!(state
            .due_drafts_settled(deadline + TimeDelta::milliseconds(999), settle)
            .is_empty());
        let due = state.due_drafts_settled(deadline + settle, settle);
        assert_eq!(due.len(), 1, "{due:?}");
        state.release(1);
        let due = state.due_drafts(deadline);
        assert_eq!(due.len(), 1, "{due:?}");
        let row = &due[0].row;
        assert_eq!((row.student_id, row.auto), (1, true));
        assert_eq!(
            row.score,
            Score::from_points(2),
            "graded with the current key"
        );
        assert!(state.due_drafts(deadline).is_empty(), "claimed once");
        assert_eq!(
            state.claim(1, vec![], in_grace),
            Err(Refusal::AlreadySubmitted),
            "the automatic submission holds the student's one slot"
        );
        state.committed(Arc::new(due[0].row.clone()));
        assert!(!state.has_drafts());
    }

    #[test]
    fn an_accommodation_moves_the_rules_of_its_student_only() {
        let now = Utc::now();
        let mut snap = snapshot(now);
        // The contest ended a minute ago.
        snap.contest.start_time = now - TimeDelta::minutes(10);
        snap.contest.end_time = now - TimeDelta::minutes(1);
        let mut state = ContestState::new(snap).unwrap();
        let extra = Accommodation {
            extra_minutes: 5,
            ..Accommodation::default()
        };
        state.accommodate(1, Some(extra));
        assert!(state.is_personal(1) && !state.is_personal(2));
        assert_eq!(
            state.my_window(1).map(|w| (w.end_time, w.started_at)),
            Some((now + TimeDelta::minutes(4), None))
        );
        assert_eq!(state.my_window(2), None, "on the contest's window");
        assert_eq!(
            state.claim(2, vec![], now),
            Err(Refusal::NotOpen(ContestStatus::Closed))
        );
        let draft = state.check_draft(1, vec![answer(100, 1)], now).unwrap();
        state.draft_saved(draft);
        assert!(
            state.due_drafts(now).is_empty(),
            "the contest's deadline passed, not the student's"
        );
        let due = state.due_drafts(now + TimeDelta::minutes(4));
        assert_eq!(
            due.iter().map(|c| c.row.student_id).collect::<Vec<_>>(),
            [1]
        );
        // A later personal start: the student waits while the others work.
        let mut state = ContestState::new(snapshot(now)).unwrap();
        let later = Accommodation {
            start_time: Some(now + TimeDelta::minutes(30)),
            end_time: Some(now + TimeDelta::minutes(60)),
            ..Accommodation::default()
        };
        state.accommodate(2, Some(later));
        assert_eq!(
            state.claim(2, vec![], now),
            Err(Refusal::NotOpen(ContestStatus::Upcoming))
        );
        assert!(state.claim(1, vec![], now).is_ok());
        state.accommodate(2, None);
        assert!(
            state.claim(2, vec![], now).is_ok(),
            "removed: the contest's window"
        );
    }

    #[test]
    fn a_duration_starts_at_the_first_open_inside_the_window() {
        let now = Utc::now();
        let mut snap = snapshot(now);
        snap.contest.end_time = now + TimeDelta::hours(2);
        snap.contest.duration_minutes = Some(30);
        let mut state = ContestState::new(snap).unwrap();
        assert_eq!(state.open(42, now), None, "not enrolled");
        let opened = state.open(1, now).unwrap();
        assert_eq!(
            opened,
            Opened {
                student: 1,
                at: now
            }
        );
        assert_eq!(state.open(1, now + TimeDelta::minutes(1)), None, "once");
        let mine = state.my_window(1).unwrap();
        assert_eq!(
            (mine.end_time, mine.started_at),
            (now + TimeDelta::minutes(30), Some(now))
        );
        assert_eq!(state.my_window(2), None, "not opened yet");
        // The write failed: forgotten, so the next open starts it.
        state.forget_start(opened);
        assert_eq!(state.my_window(1), None);
        assert!(state.open(1, now).is_some());
        // A draft is due at the student's own end, before the contest's.
        let draft = state.check_draft(1, vec![], now).unwrap();
        state.draft_saved(draft);
        let other = state.check_draft(2, vec![], now).unwrap();
        state.draft_saved(other);
        assert_eq!(
            state.claim(1, vec![], now + TimeDelta::minutes(30)),
            Err(Refusal::NotOpen(ContestStatus::Closed))
        );
        let due = state.due_drafts(now + TimeDelta::minutes(30));
        assert_eq!(
            due.iter().map(|c| c.row.student_id).collect::<Vec<_>>(),
            [1]
        );
        // Before the start nothing starts.
        let mut snap = snapshot(now);
        snap.contest.start_time = now + TimeDelta::minutes(1);
        snap.contest.end_time = now + TimeDelta::minutes(90);
        snap.contest.duration_minutes = Some(30);
        let mut upcoming = ContestState::new(snap).unwrap();
        assert_eq!(upcoming.open(1, now), None);
        let mut plain = ContestState::new(snapshot(now)).unwrap();
        assert_eq!(plain.open(1, now), None, "no duration: nothing to start");
    }
}
