//! The contest's questions and how the simulated students answer them: the creation JSON of
//! each question (API.md, "Question types"), and for each a short menu of answers of the right
//! shape, each with the points it earns, so a student's expected score is known by construction
//! and the run can check every stored score.
//!
//! `single` is today's contest (single-choice questions, every student answering option 0);
//! `mixed` cycles through the four types — single, multiple (partial, then all-or-nothing),
//! numeric with a tolerance, text with accepted answers including non-ASCII ones — and students
//! pick among right, wrong and partly right answers, sometimes leaving a question out.

use std::collections::HashMap;

use clap::ValueEnum;
use rand::Rng;
use serde_json::{json, Value};

/// Fractions of a point every partial credit here is a whole number of (the least common
/// multiple of 1..=10, the possible numbers of correct options).
pub const UNIT: i64 = 2520;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum QuestionMix {
    /// Single-choice questions only (the contest before question types).
    Single,
    /// All four types: single, multiple (partial and all-or-nothing), numeric, text.
    Mixed,
}

impl QuestionMix {
    /// Questions in a contest when `--questions` is not given.
    pub fn default_questions(self) -> usize {
        match self {
            QuestionMix::Single => 5,
            // Two rounds of the four types: both scorings of `multiple`, both numeric and text
            // variants.
            QuestionMix::Mixed => 8,
        }
    }
}

/// One way to answer a question: the answer without its `question_id`, and what it earns in
/// `UNIT`ths of a point.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    pub answer: Value,
    pub earned: i64,
}

/// A question as created, and the answers students choose from.
#[derive(Debug, Clone)]
pub struct Question {
    /// The question in `POST /api/contests`'s `questions`.
    pub body: Value,
    pub points: i64,
    pub choices: Vec<Choice>,
    /// Whether a student may leave it out (scoring 0).
    pub may_skip: bool,
}

fn choice(answer: Value, earned: i64) -> Choice {
    Choice { answer, earned }
}

/// `multiple`: what choosing `chosen` earns on a question worth `points` with `correct` right
/// options. Partial: `points × max(0, right − wrong) / len(correct)`; all-or-nothing: the set
/// exactly right.
pub fn multiple_earned(correct: &[usize], chosen: &[usize], points: i64, partial: bool) -> i64 {
    let right = chosen.iter().filter(|o| correct.contains(o)).count() as i64;
    let wrong = chosen.len() as i64 - right;
    let all = correct.len() as i64;
    if partial {
        points * UNIT * (right - wrong).max(0) / all
    } else if right == all && wrong == 0 {
        points * UNIT
    } else {
        0
    }
}

/// A total in `UNIT`ths as hundredths of a point, rounded once, half away from zero.
pub fn cents(units: i64) -> i64 {
    let scaled = units * 100;
    if scaled >= 0 {
        (scaled + UNIT / 2) / UNIT
    } else {
        (scaled - UNIT / 2) / UNIT
    }
}

/// A score as the API writes it (`4`, `3.33`) in hundredths.
pub fn json_cents(score: &Value) -> Option<i64> {
    score
        .as_i64()
        .map(|whole| whole * 100)
        .or_else(|| score.as_f64().map(|x| (x * 100.0).round() as i64))
}

/// The questions of a contest of `n` questions.
pub fn questions(mix: QuestionMix, n: usize) -> Vec<Question> {
    (0..n)
        .map(|i| match mix {
            QuestionMix::Single => single_only(i),
            QuestionMix::Mixed => match i % 4 {
                0 => single(i),
                1 => multiple(i),
                2 => numeric(i),
                _ => text(i),
            },
        })
        .collect()
}

/// Today's question: three options, the key cycling, every student answering option 0.
fn single_only(i: usize) -> Question {
    let correct = i % 3;
    Question {
        body: json!({"prompt": format!("q{i}"), "options": ["a", "b", "c"], "correct_option": correct}),
        points: 1,
        choices: vec![choice(
            json!({"option": 0}),
            if correct == 0 { UNIT } else { 0 },
        )],
        may_skip: false,
    }
}

fn single(i: usize) -> Question {
    let correct = (i / 4) % 4;
    Question {
        body: json!({
            "type": "single", "prompt": format!("q{i}: single"),
            "options": ["A", "B", "C", "D"], "correct_option": correct, "points": 1,
        }),
        points: 1,
        choices: (0..3)
            .map(|k| {
                let option = (correct + k) % 4;
                choice(json!({ "option": option }), if k == 0 { UNIT } else { 0 })
            })
            .collect(),
        may_skip: true,
    }
}

/// Five options, three of them right, worth 2: partial credit in thirds of 2 points, so totals
/// carry fractions and their rounding is checked.
fn multiple(i: usize) -> Question {
    let correct = [0, 2, 3];
    let partial = (i / 4).is_multiple_of(2);
    let points = 2;
    let chosen: [&[usize]; 8] = [
        &[0, 2, 3],
        &[3, 0, 2],
        &[0],
        &[0, 2],
        &[0, 2, 4],
        &[0, 1],
        &[1, 4],
        &[],
    ];
    Question {
        body: json!({
            "type": "multiple", "prompt": format!("q{i}: select all that apply"),
            "options": ["p", "q", "r", "s", "t"], "correct_options": correct,
            "scoring": if partial { "partial" } else { "all_or_nothing" }, "points": points,
        }),
        points,
        choices: chosen
            .iter()
            .map(|c| {
                choice(
                    json!({ "options": c }),
                    multiple_earned(&correct, c, points, partial),
                )
            })
            .collect(),
        may_skip: true,
    }
}

/// A value with a tolerance of 0.25 (every answer and edge exact in binary, so the inclusive
/// edge is right), then a whole value with the default tolerance of 0 answered as an integer.
fn numeric(i: usize) -> Question {
    let round = i / 4;
    if round.is_multiple_of(2) {
        let value = round as f64 * 10.0 + 2.5;
        Question {
            body: json!({
                "type": "numeric", "prompt": format!("q{i}: how much"),
                "answer": {"value": value, "tolerance": 0.25},
            }),
            points: 1,
            choices: vec![
                choice(json!({ "value": value }), UNIT),
                choice(json!({ "value": value + 0.25 }), UNIT),
                choice(json!({ "value": value - 0.25 }), UNIT),
                choice(json!({ "value": value + 0.5 }), 0),
                choice(json!({ "value": value - 1.0 }), 0),
            ],
            may_skip: true,
        }
    } else {
        let value = 40 + round as i64;
        Question {
            body: json!({
                "type": "numeric", "prompt": format!("q{i}: how many"),
                "answer": {"value": value}, "points": 1,
            }),
            points: 1,
            choices: vec![
                choice(json!({ "value": value }), UNIT),
                choice(json!({ "value": value as f64 }), UNIT),
                choice(json!({ "value": value + 1 }), 0),
                choice(json!({ "value": value as f64 - 0.25 }), 0),
            ],
            may_skip: true,
        }
    }
}

/// Accepted answers, one non-ASCII; right answers are accepted strings in another case, with
/// padding and inner whitespace (and `STRASSE` for `Straße`, `café` decomposed), wrong ones
/// differ by a letter.
fn text(i: usize) -> Question {
    let round = i / 4;
    let (accepted, right, wrong): (&[&str], &[&str], &[&str]) = if round.is_multiple_of(2) {
        (
            &["Straße", "road"],
            &["Straße", "STRASSE", "  straße ", "Road", "\tROAD  "],
            &["Strase", "roads"],
        )
    } else {
        (
            &["New York", "café"],
            &[
                "New York",
                "new   york",
                " NEW YORK ",
                "CAFÉ",
                "cafe\u{301}",
            ],
            &["Newyork", "cafe"],
        )
    };
    let choices = right
        .iter()
        .map(|t| choice(json!({ "text": t }), UNIT))
        .chain(wrong.iter().map(|t| choice(json!({ "text": t }), 0)))
        .collect();
    Question {
        body: json!({
            "type": "text", "prompt": format!("q{i}: in words"),
            "accepted": accepted, "points": 1,
        }),
        points: 1,
        choices,
        may_skip: true,
    }
}

/// The contest as created: each question's plan by the id the server gave it.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// In creation order.
    pub questions: Vec<(i64, Question)>,
    by_id: HashMap<i64, usize>,
}

impl Plan {
    /// `ids`: the question ids of the created contest's admin view, in creation order.
    pub fn new(questions: Vec<Question>, ids: &[i64]) -> Result<Self, String> {
        if questions.len() != ids.len() {
            return Err(format!(
                "created {} questions, the contest has {}",
                questions.len(),
                ids.len()
            ));
        }
        let questions: Vec<(i64, Question)> = ids.iter().copied().zip(questions).collect();
        let by_id = questions
            .iter()
            .enumerate()
            .map(|(i, (id, _))| (*id, i))
            .collect();
        Ok(Plan { questions, by_id })
    }

    /// The contest's maximum score, in hundredths.
    pub fn max_cents(&self) -> i64 {
        self.questions.iter().map(|(_, q)| q.points * 100).sum()
    }

    /// One student's answers to the questions `ids` (as their view lists them) and the score
    /// they should get, in hundredths. An id not in the plan is an error.
    pub fn answer(&self, ids: &[i64], rng: &mut impl Rng) -> Result<(Vec<Value>, i64), String> {
        let mut answers = Vec::with_capacity(ids.len());
        let mut units = 0;
        for id in ids {
            let (_, question) = self
                .by_id
                .get(id)
                .map(|&i| &self.questions[i])
                .ok_or_else(|| format!("question {id} is not one the contest was created with"))?;
            if question.may_skip && rng.random_ratio(1, 10) {
                continue;
            }
            let pick = &question.choices[rng.random_range(0..question.choices.len())];
            let mut answer = pick.answer.clone();
            answer["question_id"] = json!(id);
            answers.push(answer);
            units += pick.earned;
        }
        Ok((answers, cents(units)))
    }

    /// The score (hundredths) `answers` — each one of the plan's choices with its
    /// `question_id`, as `answer` makes them, possibly only some of them — should earn.
    pub fn score(&self, answers: &[Value]) -> Result<i64, String> {
        let mut units = 0;
        for answer in answers {
            let id = answer["question_id"]
                .as_i64()
                .ok_or_else(|| format!("an answer without question_id: {answer}"))?;
            let (_, question) = self
                .by_id
                .get(&id)
                .map(|&i| &self.questions[i])
                .ok_or_else(|| format!("question {id} is not one the contest was created with"))?;
            let mut bare = answer.clone();
            if let Some(fields) = bare.as_object_mut() {
                fields.remove("question_id");
            }
            units += question
                .choices
                .iter()
                .find(|c| c.answer == bare)
                .ok_or_else(|| format!("{answer} is not on question {id}'s menu"))?
                .earned;
        }
        Ok(cents(units))
    }
}

/// The answers of a student's `k`th draft out of `n` (1 ≤ k ≤ n) on the way to `answers`:
/// the first k/n of them, rounded up, so the drafts grow and the `n`th is all of them.
pub fn draft(answers: &[Value], k: usize, n: usize) -> &[Value] {
    let n = n.max(1);
    let take = (answers.len() * k.min(n)).div_ceil(n);
    &answers[..take]
}

/// Whether student `index` is one of the `share` (0–1) of students who never submit, spread
/// evenly: exactly ⌊share × N⌋ of the first N students are.
pub fn never_submits(index: usize, share: f64) -> bool {
    let share = share.clamp(0.0, 1.0);
    let before = (index as f64 * share).floor();
    let after = ((index + 1) as f64 * share).floor();
    after > before
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn partial_credit_follows_the_formula() {
        let c = [0, 2, 3];
        // points × max(0, right − wrong) / len(correct), in 2520ths of a point.
        assert_eq!(multiple_earned(&c, &[0, 2, 3], 2, true), 2 * UNIT);
        assert_eq!(multiple_earned(&c, &[0], 2, true), 2 * UNIT / 3);
        assert_eq!(multiple_earned(&c, &[0, 2], 2, true), 4 * UNIT / 3);
        assert_eq!(multiple_earned(&c, &[0, 2, 4], 2, true), 2 * UNIT / 3);
        assert_eq!(multiple_earned(&c, &[0, 1], 2, true), 0);
        // Floors at zero.
        assert_eq!(multiple_earned(&c, &[1, 4], 2, true), 0);
        assert_eq!(multiple_earned(&c, &[], 2, true), 0);
        assert_eq!(multiple_earned(&c, &[3, 2, 0], 2, false), 2 * UNIT);
        assert_eq!(multiple_earned(&c, &[0, 2], 2, false), 0);
        assert_eq!(multiple_earned(&c, &[0, 1, 2, 3], 2, false), 0);
    }

    #[test]
    fn totals_round_once_half_away_from_zero() {
        assert_eq!(cents(2 * UNIT / 3), 67); // 0.666…
        assert_eq!(cents(UNIT / 3), 33); // 0.333…
        assert_eq!(cents(UNIT / 3 + UNIT / 3 + UNIT / 3), 100);
        // 63/2520 of a point is exactly 2.5 hundredths: half away from zero.
        assert_eq!(cents(63), 3);
        assert_eq!(cents(62), 2);
        assert_eq!(cents(-63), -3);
        // Rounded once: three thirds of 2 points are 2, not 3 × 0.67.
        assert_eq!(cents(3 * (2 * UNIT / 3)), 200);
    }

    #[test]
    fn scores_read_as_the_api_writes_them() {
        assert_eq!(json_cents(&json!(4)), Some(400));
        assert_eq!(json_cents(&json!(3.33)), Some(333));
        assert_eq!(json_cents(&json!(0.67)), Some(67));
        assert_eq!(json_cents(&json!(null)), None);
    }

    #[test]
    fn single_mix_is_todays_contest() {
        let qs = questions(QuestionMix::Single, 5);
        assert_eq!(
            qs[1].body,
            json!({"prompt": "q1", "options": ["a", "b", "c"], "correct_option": 1})
        );
        let plan = Plan::new(qs, &[10, 11, 12, 13, 14]).unwrap();
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let (answers, expected) = plan.answer(&[10, 11, 12, 13, 14], &mut rng).unwrap();
        assert_eq!(answers.len(), 5);
        assert!(answers.iter().all(|a| a["option"] == 0));
        // Keys 0, 1, 2, 0, 1: option 0 is right twice.
        assert_eq!(expected, 200);
        assert_eq!(plan.max_cents(), 500);
    }

    /// The creation bodies are the contract's shapes (notes/issue13-contract.md), with no field
    /// of another type.
    #[test]
    fn mixed_questions_have_the_contract_shapes() {
        let qs = questions(QuestionMix::Mixed, 8);
        let types: Vec<&str> = qs
            .iter()
            .map(|q| q.body["type"].as_str().unwrap())
            .collect();
        assert_eq!(
            types,
            ["single", "multiple", "numeric", "text", "single", "multiple", "numeric", "text"]
        );
        let keys = |q: &Question| {
            let mut k: Vec<String> = q.body.as_object().unwrap().keys().cloned().collect();
            k.sort();
            k
        };
        assert_eq!(
            keys(&qs[0]),
            ["correct_option", "options", "points", "prompt", "type"]
        );
        assert_eq!(
            keys(&qs[1]),
            [
                "correct_options",
                "options",
                "points",
                "prompt",
                "scoring",
                "type"
            ]
        );
        assert_eq!(keys(&qs[2]), ["answer", "prompt", "type"]);
        assert_eq!(keys(&qs[3]), ["accepted", "points", "prompt", "type"]);
        assert_eq!(qs[1].body["scoring"], "partial");
        assert_eq!(qs[5].body["scoring"], "all_or_nothing");
        assert_eq!(
            qs[2].body["answer"],
            json!({"value": 2.5, "tolerance": 0.25})
        );
        assert_eq!(qs[6].body["answer"], json!({"value": 41}));
        assert!(qs[3].body["accepted"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| !a.as_str().unwrap().is_ascii()));
        for q in &qs {
            let options = q.body["options"].as_array().map_or(0, Vec::len);
            assert!(options == 0 || (2..=10).contains(&options));
            for c in &q.choices {
                let shape: Vec<&String> = c.answer.as_object().unwrap().keys().collect();
                let expected = match q.body["type"].as_str().unwrap() {
                    "single" => "option",
                    "multiple" => "options",
                    "numeric" => "value",
                    _ => "text",
                };
                assert_eq!(shape, [expected], "{}", q.body);
                if let Some(i) = c.answer["option"].as_u64() {
                    assert!((i as usize) < options);
                }
            }
            // Every question has right and wrong answers on its menu.
            assert!(q.choices.iter().any(|c| c.earned == q.points * UNIT));
            assert!(q.choices.iter().any(|c| c.earned == 0));
        }
        // A whole numeric answer is sent as an integer.
        assert_eq!(qs[6].choices[0].answer, json!({"value": 41}));
    }

    #[test]
    fn text_answers_are_accepted_ones_in_another_case_and_padding() {
        // By construction: each right answer, lower-cased with its whitespace collapsed (the
        // ASCII part of the server's normalisation), is an accepted string lower-cased, or one
        // of the two spelled-out non-ASCII cases.
        for q in questions(QuestionMix::Mixed, 8)
            .iter()
            .filter(|q| q.body["type"] == "text")
        {
            let accepted: Vec<String> = q.body["accepted"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap().to_lowercase())
                .collect();
            for c in &q.choices {
                let text = c.answer["text"].as_str().unwrap();
                let simple = text
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
                    .to_lowercase()
                    .replace("strasse", "straße")
                    .replace("cafe\u{301}", "café");
                assert_eq!(
                    accepted.contains(&simple),
                    c.earned == UNIT,
                    "{text:?} earns {}",
                    c.earned
                );
            }
        }
    }

    #[test]
    fn drafts_grow_to_the_answers() {
        let answers: Vec<Value> = (0..5).map(|i| json!({ "question_id": i })).collect();
        let lens =
            |n: usize| -> Vec<usize> { (1..=n).map(|k| draft(&answers, k, n).len()).collect() };
        assert_eq!(lens(2), [3, 5]);
        assert_eq!(lens(3), [2, 4, 5]);
        // A student who submits drafts on the way to n + 1: every draft short of the answers.
        assert_eq!(lens(4), [2, 3, 4, 5]);
        assert_eq!(draft(&answers, 1, 4), &answers[..2]);
        assert!(draft(&[], 1, 3).is_empty());
    }

    #[test]
    fn the_share_that_never_submits_is_exact_and_spread() {
        let never: Vec<usize> = (0..100).filter(|&i| never_submits(i, 0.1)).collect();
        assert_eq!(never, [9, 19, 29, 39, 49, 59, 69, 79, 89, 99]);
        assert_eq!((0..1000).filter(|&i| never_submits(i, 0.25)).count(), 250);
        assert!(!(0..1000).any(|i| never_submits(i, 0.0)));
        assert!((0..1000).all(|i| never_submits(i, 1.0)));
    }

    #[test]
    fn a_students_expected_score_is_the_sum_of_their_choices() {
        let qs = questions(QuestionMix::Mixed, 20);
        let ids: Vec<i64> = (100..120).collect();
        let plan = Plan::new(qs, &ids).unwrap();
        assert_eq!(plan.max_cents(), (15 + 5 * 2) * 100);
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut fractional = false;
        let units = |answers: &[Value]| -> i64 {
            answers
                .iter()
                .map(|a| {
                    let id = a["question_id"].as_i64().unwrap();
                    let (_, q) = &plan.questions[(id - 100) as usize];
                    let mut bare = a.clone();
                    bare.as_object_mut().unwrap().remove("question_id");
                    q.choices.iter().find(|c| c.answer == bare).unwrap().earned
                })
                .sum()
        };
        for _ in 0..500 {
            let (answers, expected) = plan.answer(&ids, &mut rng).unwrap();
            assert_eq!(expected, cents(units(&answers)));
            assert_eq!(plan.score(&answers), Ok(expected));
            let first = draft(&answers, 1, 2);
            assert_eq!(plan.score(first), Ok(cents(units(first))));
            assert!((0..=plan.max_cents()).contains(&expected));
            fractional |= expected % 100 != 0;
        }
        assert!(fractional, "partial credit should give fractional totals");
        assert!(plan.answer(&[999], &mut rng).is_err());
        assert!(plan
            .score(&[json!({"question_id": 999, "option": 0})])
            .is_err());
        assert!(plan
            .score(&[json!({"question_id": 100, "option": 9})])
            .is_err());
    }
}
