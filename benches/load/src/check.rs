//! The run's final check, through the admin's list of the contest's submissions, against what
//! each student's requests established (their `Ledger`):
//!
//! - a submission acknowledged (`201`) is stored exactly once, by hand (`auto: false`), with the
//!   answers sent and the score they should earn, and the contest's maximum;
//! - a student with a saved draft (`200`) and no `201` has exactly one submission, automatic
//!   (`auto: true`), with the answers of their last saved draft and the score those earn;
//! - nobody else has a submission, except where a request got no answer (the server may have
//!   committed it: then it is the only submission and has that request's answers).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::plan::json_cents;
use crate::setup::Setup;
use crate::Failed;

/// Answers sent, and the score (hundredths) they should earn.
#[derive(Debug, Clone, PartialEq)]
pub struct Sent {
    pub answers: Vec<Value>,
    pub expected: i64,
}

/// What one student's submission and draft requests established.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    /// The submission acknowledged with `201`.
    pub submitted: Option<Sent>,
    /// Submissions that got no answer (or a 5xx other than 503): maybe committed.
    pub submit_unsure: Vec<Sent>,
    /// The last draft saved (`200`).
    pub draft: Option<Sent>,
    /// Drafts sent after it that got no answer: maybe saved.
    pub draft_unsure: Vec<Sent>,
    /// Drafts saved (`200`).
    pub drafts_saved: usize,
}

/// Whether a status leaves the request's outcome unknown: no answer, or a server error other
/// than `503` (which the contract says comes before any commit).
pub fn unsure(status: Option<u16>) -> bool {
    status.is_none_or(|s| s >= 500 && s != 503)
}

impl Ledger {
    /// A submission of `sent` answered with `status` (`None`: no answer).
    pub fn submission(&mut self, sent: Sent, status: Option<u16>) {
        if status == Some(201) {
            self.submitted = Some(sent);
        } else if unsure(status) {
            self.submit_unsure.push(sent);
        }
    }

    /// A draft save of `sent` answered with `status` (`None`: no answer).
    pub fn draft_save(&mut self, sent: Sent, status: Option<u16>) {
        if status == Some(200) {
            self.draft = Some(sent);
            self.draft_unsure.clear();
            self.drafts_saved += 1;
        } else if unsure(status) {
            self.draft_unsure.push(sent);
        }
    }

    /// The submissions this student may have: `(auto, answers)`, and whether one is required.
    fn candidates(&self) -> (Vec<(bool, &Sent)>, bool) {
        if let Some(sent) = &self.submitted {
            return (vec![(false, sent)], true);
        }
        let hand = self.submit_unsure.iter().map(|s| (false, s));
        let auto = self
            .draft
            .iter()
            .chain(&self.draft_unsure)
            .map(|s| (true, s));
        (hand.chain(auto).collect(), self.draft.is_some())
    }
}

/// A stored submission, as the admin list shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub username: String,
    /// In hundredths (`None`: not a number).
    pub score: Option<i64>,
    pub max_score: Option<i64>,
    /// `None`: the field is missing.
    pub auto: Option<bool>,
    pub answers: Value,
    pub submitted_at: Option<DateTime<Utc>>,
}

/// Reads every submission of the contest (pages of 1,000), waiting out a `429`.
pub async fn stored(host: &str, admin_token: &str, contest_id: i64) -> Result<Vec<Stored>, Failed> {
    let http = reqwest::Client::new();
    let mut all = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut url = format!("{host}/api/contests/{contest_id}/submissions?limit=1000");
        if let Some(after) = &after {
            url.push_str(&format!("&after={after}"));
        }
        let response = http.get(&url).bearer_auth(admin_token).send().await?;
        let status = response.status();
        if status.as_u16() == 429 {
            let wait = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok()?.parse().ok())
                .unwrap_or(1);
            tokio::time::sleep(Duration::from_secs(wait)).await;
            continue;
        }
        let page: Value = response.json().await?;
        if !status.is_success() {
            return Err(format!("listing the submissions: {status}: {page}").into());
        }
        for s in page["submissions"]
            .as_array()
            .ok_or("no submissions list")?
        {
            all.push(Stored {
                username: s["username"].as_str().unwrap_or_default().to_string(),
                score: json_cents(&s["score"]),
                max_score: json_cents(&s["max_score"]),
                auto: s["auto"].as_bool(),
                answers: s["answers"].clone(),
                submitted_at: s["submitted_at"].as_str().and_then(|t| t.parse().ok()),
            });
        }
        match page["next"].as_str() {
            Some(next) => after = Some(next.to_string()),
            None => return Ok(all),
        }
    }
}

/// Whether two JSON values are equal, numbers by value (`41` = `41.0`: the server writes a
/// whole number as an integer).
fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_json(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_json(v, w)))
        }
        _ => a == b,
    }
}

/// Whether the stored `answers` are the ones sent, question by question (in any order).
pub fn same_answers(sent: &[Value], stored: &Value) -> bool {
    let Some(stored) = stored.as_array() else {
        return false;
    };
    let by_question = |answers: &[Value]| -> Option<BTreeMap<i64, Value>> {
        let map: BTreeMap<i64, Value> = answers
            .iter()
            .map(|a| Some((a["question_id"].as_i64()?, a.clone())))
            .collect::<Option<_>>()?;
        (map.len() == answers.len()).then_some(map)
    };
    match (by_question(sent), by_question(stored)) {
        (Some(x), Some(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(id, a)| y.get(id).is_some_and(|b| same_json(a, b)))
        }
        _ => false,
    }
}

/// What the check found.
#[derive(Debug, Default, Serialize)]
pub struct Check {
    /// Students whose submission got a `201`.
    pub acknowledged: usize,
    /// Students with a saved draft (`200`).
    pub drafted: usize,
    /// Students with a saved draft and no `201`: their draft must be auto-submitted.
    pub to_auto_submit: usize,
    pub stored: usize,
    /// Stored with `auto: true`.
    pub stored_auto: usize,
    /// A submission required (a `201`, or a saved draft) and none stored.
    pub missing: usize,
    /// Students stored more than once.
    pub duplicated: usize,
    /// Stored once with `auto` missing or not what the student's requests call for.
    pub wrong_auto: usize,
    /// Stored once, `auto` right, with answers that are none of those the student sent (the
    /// `201`'s, or the last saved draft's).
    pub wrong_answers: usize,
    /// Stored once with the right answers, but another score or maximum than expected.
    pub wrong_scores: usize,
    /// Stored for a student none of whose requests could have made it.
    pub unexpected: usize,
    /// Stored once, matching a request that got no answer (the client gave up; the server had
    /// committed it): counted, not a failure.
    pub unacknowledged: usize,
    /// From the contest's deadline (end + grace) to the last automatic submission's
    /// `submitted_at`, in ms (server clock).
    pub last_auto_after_deadline_ms: Option<i64>,
    /// From the deadline to the list showing every expected submission, in ms (this clock),
    /// when the run waited for the auto-submissions.
    pub listed_after_deadline_ms: Option<i64>,
    /// A few of the problems, for the reader.
    pub examples: Vec<String>,
}

impl Check {
    /// `ledgers`: username → what their requests established; `max`: the contest's maximum
    /// score (hundredths); `deadline`: the contest's end plus its grace.
    pub fn new(
        ledgers: &HashMap<String, Ledger>,
        stored: &[Stored],
        max: i64,
        deadline: Option<DateTime<Utc>>,
    ) -> Self {
        let mut by_name: BTreeMap<&str, Vec<&Stored>> = BTreeMap::new();
        for s in stored {
            by_name.entry(&s.username).or_default().push(s);
        }
        let mut check = Check {
            acknowledged: ledgers.values().filter(|l| l.submitted.is_some()).count(),
            drafted: ledgers.values().filter(|l| l.draft.is_some()).count(),
            to_auto_submit: ledgers
                .values()
                .filter(|l| l.submitted.is_none() && l.draft.is_some())
                .count(),
            stored: stored.len(),
            stored_auto: stored.iter().filter(|s| s.auto == Some(true)).count(),
            ..Check::default()
        };
        check.last_auto_after_deadline_ms = deadline.and_then(|deadline| {
            stored
                .iter()
                .filter(|s| s.auto == Some(true))
                .filter_map(|s| s.submitted_at)
                .max()
                .map(|last| (last - deadline).num_milliseconds())
        });
        let note = |check: &mut Check, text: String| {
            if check.examples.len() < 5 {
                check.examples.push(text);
            }
        };
        let names: BTreeSet<&str> = ledgers
            .keys()
            .map(String::as_str)
            .chain(by_name.keys().copied())
            .collect();
        let nobody = Ledger::default();
        for name in names {
            let ledger = ledgers.get(name).unwrap_or(&nobody);
            let (candidates, required) = ledger.candidates();
            let rows = by_name.get(name).map_or(&[][..], Vec::as_slice);
            let one = match rows {
                [] => {
                    if required {
                        check.missing += 1;
                        let what = if ledger.submitted.is_some() {
                            "acknowledged"
                        } else {
                            "a saved draft"
                        };
                        note(&mut check, format!("{name}: {what}, no submission stored"));
                    }
                    continue;
                }
                [one] => one,
                many => {
                    check.duplicated += 1;
                    note(&mut check, format!("{name}: stored {} times", many.len()));
                    continue;
                }
            };
            if candidates.is_empty() {
                check.unexpected += 1;
                note(
                    &mut check,
                    format!(
                        "{name}: stored (auto {:?}) without a request that could make it",
                        one.auto
                    ),
                );
                continue;
            }
            let flagged: Vec<&(bool, &Sent)> = candidates
                .iter()
                .filter(|(auto, _)| one.auto == Some(*auto))
                .collect();
            if flagged.is_empty() {
                check.wrong_auto += 1;
                note(
                    &mut check,
                    format!(
                        "{name}: auto {:?}, expected {}",
                        one.auto,
                        if candidates[0].0 { "true" } else { "false" }
                    ),
                );
                continue;
            }
            let answered: Vec<&Sent> = flagged
                .iter()
                .map(|(_, sent)| *sent)
                .filter(|sent| same_answers(&sent.answers, &one.answers))
                .collect();
            let Some(first) = answered.first() else {
                check.wrong_answers += 1;
                note(
                    &mut check,
                    format!(
                        "{name}: answers {}, expected {}",
                        one.answers,
                        Value::from(flagged[0].1.answers.clone())
                    ),
                );
                continue;
            };
            let right = answered
                .iter()
                .find(|sent| one.score == Some(sent.expected) && one.max_score == Some(max));
            match right {
                Some(sent) => {
                    let acknowledged = ledger.submitted.as_ref() == Some(*sent)
                        || ledger.draft.as_ref() == Some(*sent);
                    if !acknowledged {
                        check.unacknowledged += 1;
                    }
                }
                None => {
                    check.wrong_scores += 1;
                    note(
                        &mut check,
                        format!(
                            "{name}: score {:?}/{:?} (hundredths), expected {}/{max}",
                            one.score, one.max_score, first.expected
                        ),
                    );
                }
            }
        }
        check
    }

    /// Submissions that must be stored: the acknowledged ones and the drafts to auto-submit.
    pub fn required(ledgers: &HashMap<String, Ledger>) -> usize {
        ledgers.values().filter(|l| l.candidates().1).count()
    }

    /// Whether every required submission is stored once as expected, and nothing else.
    pub fn passed(&self) -> bool {
        self.missing == 0
            && self.duplicated == 0
            && self.wrong_auto == 0
            && self.wrong_answers == 0
            && self.wrong_scores == 0
            && self.unexpected == 0
    }

    pub fn line(&self) -> String {
        let timing = match (
            self.last_auto_after_deadline_ms,
            self.listed_after_deadline_ms,
        ) {
            (Some(last), Some(listed)) => format!(
                " (last auto-submission {:.1} s after the deadline, all listed after {:.1} s)",
                last as f64 / 1000.0,
                listed as f64 / 1000.0
            ),
            (Some(last), None) => format!(
                " (last auto-submission {:.1} s after the deadline)",
                last as f64 / 1000.0
            ),
            _ => String::new(),
        };
        let mut line = format!(
            "check: {} acknowledged, {} with a draft, {} to auto-submit; {} stored, {} auto{timing}; \
             {} missing, {} duplicated, {} wrong auto flags, {} wrong answers, {} wrong scores, \
             {} unexpected, {} stored after a request without answer — {}",
            self.acknowledged,
            self.drafted,
            self.to_auto_submit,
            self.stored,
            self.stored_auto,
            self.missing,
            self.duplicated,
            self.wrong_auto,
            self.wrong_answers,
            self.wrong_scores,
            self.unexpected,
            self.unacknowledged,
            if self.passed() { "passed" } else { "FAILED" }
        );
        for example in &self.examples {
            line.push_str("\n  ");
            line.push_str(example);
        }
        line
    }
}

/// The submissions' list settles within this long after the deadline (the contract: drafts are
/// submitted within 2 s; the rest is margin for a loaded machine).
const SETTLE: Duration = Duration::from_secs(15);

/// Reads the contest's stored submissions and checks them against `ledgers`. With a
/// `deadline` (the contest's end plus grace), first waits for it to pass, then polls the list
/// until it holds every required submission and stops changing, or `SETTLE` passes.
pub async fn run(
    host: &str,
    setup: &Setup,
    ledgers: &HashMap<String, Ledger>,
    deadline: Option<DateTime<Utc>>,
) -> Result<Check, Failed> {
    let read = || stored(host, &setup.admin_token, setup.contest_id);
    let Some(deadline) = deadline else {
        let rows = read().await?;
        return Ok(Check::new(ledgers, &rows, setup.plan.max_cents(), None));
    };
    let required = Check::required(ledgers);
    let wait = (deadline - Utc::now()).to_std().unwrap_or_default();
    eprintln!(
        "waiting {:.1} s for the deadline (end + grace), then for {required} submissions …",
        wait.as_secs_f64()
    );
    tokio::time::sleep(wait).await;
    let give_up = deadline + SETTLE;
    let mut rows = read().await?;
    let mut listed = None;
    loop {
        if rows.len() >= required && listed.is_none() {
            listed = Some((Utc::now() - deadline).num_milliseconds());
        }
        if Utc::now() >= give_up {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let again = read().await?;
        let settled = again.len() == rows.len() && again.len() >= required;
        rows = again;
        if settled {
            break;
        }
    }
    let mut check = Check::new(ledgers, &rows, setup.plan.max_cents(), Some(deadline));
    check.listed_after_deadline_ms = listed;
    Ok(check)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sent(option: i64, expected: i64) -> Sent {
        Sent {
            answers: vec![json!({"question_id": 1, "option": option})],
            expected,
        }
    }

    fn row(name: &str, s: &Sent, auto: bool) -> Stored {
        Stored {
            username: name.into(),
            score: Some(s.expected),
            max_score: Some(500),
            auto: Some(auto),
            answers: Value::from(s.answers.clone()),
            submitted_at: None,
        }
    }

    fn hand(s: &Sent) -> Ledger {
        let mut l = Ledger::default();
        l.submission(s.clone(), Some(201));
        l
    }

    fn ledgers(entries: &[(&str, Ledger)]) -> HashMap<String, Ledger> {
        entries
            .iter()
            .map(|(n, l)| (n.to_string(), l.clone()))
            .collect()
    }

    #[test]
    fn every_acknowledged_submission_once_with_its_score() {
        let (a, b) = (sent(0, 200), sent(1, 133));
        let acked = ledgers(&[("a", hand(&a)), ("b", hand(&b))]);
        let good = Check::new(
            &acked,
            &[row("a", &a, false), row("b", &b, false)],
            500,
            None,
        );
        assert!(good.passed(), "{}", good.line());
        assert_eq!((good.acknowledged, good.stored), (2, 2));
        assert_eq!(Check::required(&acked), 2);

        let missing = Check::new(&acked, &[row("a", &a, false)], 500, None);
        assert_eq!(missing.missing, 1);
        assert!(!missing.passed());

        let twice = Check::new(
            &acked,
            &[
                row("a", &a, false),
                row("a", &a, false),
                row("b", &b, false),
            ],
            500,
            None,
        );
        assert_eq!(twice.duplicated, 1);
        assert!(!twice.passed());

        let mut off = row("b", &b, false);
        off.score = Some(134);
        let wrong = Check::new(&acked, &[row("a", &a, false), off], 500, None);
        assert_eq!(wrong.wrong_scores, 1);
        assert!(!wrong.passed());
        assert!(
            wrong.line().contains("b: score Some(134)"),
            "{}",
            wrong.line()
        );

        let wrong_max = Check::new(
            &acked,
            &[row("a", &a, false), row("b", &b, false)],
            600,
            None,
        );
        assert_eq!(wrong_max.wrong_scores, 2);

        // Stored for a student who never sent anything: a failure, once or twice.
        let c = sent(2, 0);
        let extra = Check::new(
            &acked,
            &[
                row("a", &a, false),
                row("b", &b, false),
                row("c", &c, false),
            ],
            500,
            None,
        );
        assert_eq!(extra.unexpected, 1);
        assert!(!extra.passed());
    }

    #[test]
    fn a_request_without_answer_may_or_may_not_be_stored() {
        let a = sent(0, 200);
        let mut lost = Ledger::default();
        lost.submission(a.clone(), None);
        let mut refused = Ledger::default();
        refused.submission(a.clone(), Some(503));
        refused.submission(a.clone(), Some(409));
        assert!(refused.submit_unsure.is_empty());
        let l = ledgers(&[("a", lost), ("b", refused)]);
        assert_eq!(Check::required(&l), 0);
        let none = Check::new(&l, &[], 500, None);
        assert!(none.passed(), "{}", none.line());
        let committed = Check::new(&l, &[row("a", &a, false)], 500, None);
        assert!(committed.passed(), "{}", committed.line());
        assert_eq!(committed.unacknowledged, 1);
        // A 503 (and a 409) commit nothing.
        let after_503 = Check::new(&l, &[row("b", &a, false)], 500, None);
        assert_eq!(after_503.unexpected, 1);
    }

    #[test]
    fn a_student_with_a_draft_has_exactly_one_submission() {
        let (d1, d2, final_) = (sent(0, 0), sent(1, 100), sent(2, 100));
        // Drafted twice, then submitted by hand: the 201's answers, auto false.
        let mut submitter = Ledger::default();
        submitter.draft_save(d1.clone(), Some(200));
        submitter.draft_save(d2.clone(), Some(200));
        submitter.submission(final_.clone(), Some(201));
        // Drafted twice, never submitted: the last draft, auto true.
        let mut drafter = Ledger::default();
        drafter.draft_save(d1.clone(), Some(200));
        drafter.draft_save(d2.clone(), Some(200));
        // A refused draft changes nothing.
        drafter.draft_save(final_.clone(), Some(409));
        assert_eq!(drafter.drafts_saved, 2);
        let l = ledgers(&[("s", submitter), ("d", drafter)]);
        assert_eq!(Check::required(&l), 2);

        let good = Check::new(
            &l,
            &[row("s", &final_, false), row("d", &d2, true)],
            500,
            None,
        );
        assert!(good.passed(), "{}", good.line());
        assert_eq!(
            (
                good.acknowledged,
                good.drafted,
                good.to_auto_submit,
                good.stored_auto
            ),
            (1, 2, 1, 1)
        );

        // The draft not auto-submitted.
        let missing = Check::new(&l, &[row("s", &final_, false)], 500, None);
        assert_eq!(missing.missing, 1);
        assert!(missing
            .line()
            .contains("d: a saved draft, no submission stored"));

        // Auto-submitted beside the hand submission, or instead of it.
        let both = Check::new(
            &l,
            &[
                row("s", &final_, false),
                row("s", &d2, true),
                row("d", &d2, true),
            ],
            500,
            None,
        );
        assert_eq!(both.duplicated, 1);
        assert!(!both.passed());
        let replaced = Check::new(&l, &[row("s", &d2, true), row("d", &d2, true)], 500, None);
        assert_eq!(replaced.wrong_auto, 1);

        // The hand submission stored with the draft's answers.
        let mut drafts_answers = row("s", &d2, false);
        drafts_answers.score = Some(final_.expected);
        let wrong = Check::new(&l, &[drafts_answers, row("d", &d2, true)], 500, None);
        assert_eq!(wrong.wrong_answers, 1);

        // An earlier draft auto-submitted, or the auto flag missing or false.
        let earlier = Check::new(
            &l,
            &[row("s", &final_, false), row("d", &d1, true)],
            500,
            None,
        );
        assert_eq!(earlier.wrong_answers, 1);
        let mut unflagged = row("d", &d2, true);
        unflagged.auto = None;
        let unflagged = Check::new(&l, &[row("s", &final_, false), unflagged], 500, None);
        assert_eq!(unflagged.wrong_auto, 1);
        let as_hand = Check::new(
            &l,
            &[row("s", &final_, false), row("d", &d2, false)],
            500,
            None,
        );
        assert_eq!(as_hand.wrong_auto, 1);

        // The last draft's answers with another score.
        let mut off = row("d", &d2, true);
        off.score = Some(0);
        let off = Check::new(&l, &[row("s", &final_, false), off], 500, None);
        assert_eq!(off.wrong_scores, 1);
    }

    #[test]
    fn a_draft_or_submission_without_answer_is_a_possible_outcome() {
        let (d1, d2, final_) = (sent(0, 0), sent(1, 100), sent(2, 100));
        let mut l = Ledger::default();
        l.draft_save(d1.clone(), Some(200));
        l.draft_save(d2.clone(), None);
        l.submission(final_.clone(), None);
        let l = ledgers(&[("x", l)]);
        assert_eq!(Check::required(&l), 1);
        for stored in [
            row("x", &d1, true),
            row("x", &d2, true),
            row("x", &final_, false),
        ] {
            let check = Check::new(&l, &[stored], 500, None);
            assert!(check.passed(), "{}", check.line());
        }
        let first_as_hand = Check::new(&l, &[row("x", &d1, false)], 500, None);
        assert_eq!(first_as_hand.wrong_answers, 1);
        assert_eq!(Check::new(&l, &[], 500, None).missing, 1);
    }

    #[test]
    fn answers_compare_by_question_and_value() {
        let sent = [
            json!({"question_id": 1, "value": 41.0}),
            json!({"question_id": 2, "options": [3, 0, 2]}),
            json!({"question_id": 3, "text": "  straße "}),
        ];
        let stored = json!([
            {"question_id": 3, "text": "  straße "},
            {"question_id": 1, "value": 41},
            {"question_id": 2, "options": [3, 0, 2]},
        ]);
        assert!(same_answers(&sent, &stored));
        assert!(!same_answers(
            &sent,
            &json!([{"question_id": 1, "value": 41}])
        ));
        assert!(!same_answers(
            &sent,
            &json!([
                {"question_id": 3, "text": "straße"},
                {"question_id": 1, "value": 41},
                {"question_id": 2, "options": [3, 0, 2]},
            ])
        ));
        assert!(!same_answers(
            &sent,
            &json!([
                {"question_id": 3, "text": "  straße "},
                {"question_id": 1, "value": 41.25},
                {"question_id": 2, "options": [3, 0, 2]},
            ])
        ));
        assert!(!same_answers(&sent[..1], &json!(null)));
        assert!(same_answers(&[], &json!([])));
    }

    #[test]
    fn the_last_auto_submission_is_timed_from_the_deadline() {
        let d = sent(0, 0);
        let mut l = Ledger::default();
        l.draft_save(d.clone(), Some(200));
        let deadline: DateTime<Utc> = "2026-12-01T10:00:00Z".parse().unwrap();
        let mut early = row("x", &d, true);
        early.submitted_at = "2026-12-01T10:00:00.400Z".parse().ok();
        let mut late = row("y", &d, true);
        late.submitted_at = "2026-12-01T10:00:01.300Z".parse().ok();
        let l = ledgers(&[("x", l.clone()), ("y", l)]);
        let check = Check::new(&l, &[early, late], 500, Some(deadline));
        assert!(check.passed(), "{}", check.line());
        assert_eq!(check.last_auto_after_deadline_ms, Some(1300));
        assert!(
            check.line().contains("1.3 s after the deadline"),
            "{}",
            check.line()
        );
    }
}
