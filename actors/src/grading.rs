//! Grading a question: a plain function of its key and a student's answer (API.md, "Question
//! types"). Points are kept exact in `UNIT`ths of a point: every partial credit is
//! `points × k / n` with `n` ≤ 10 correct options, a whole number of 2520ths (the least common
//! multiple of 1..=10). A total is rounded once, to hundredths, half away from zero.
//!
//! Scores are stored and passed around as `Score`, in hundredths.

use serde::{Deserialize, Serialize, Serializer};
use unicode_normalization::UnicodeNormalization;

/// Fractions of a point that every partial credit is a whole number of.
pub const UNIT: i64 = 2520;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scoring {
    #[default]
    AllOrNothing,
    /// `points × max(0, right − wrong) / len(correct)`.
    Partial,
}

/// What a question accepts, by type.
#[derive(Debug, Clone, PartialEq)]
pub enum Key {
    Single {
        correct: usize,
    },
    Multiple {
        /// Distinct indexes, at least one.
        correct: Vec<usize>,
        scoring: Scoring,
    },
    /// Finite value, tolerance ≥ 0 (absolute, inclusive).
    Numeric {
        value: f64,
        tolerance: f64,
    },
    /// The accepted strings as the teacher wrote them, and each passed through `normalise`.
    Text {
        accepted: Vec<String>,
        folded: Vec<String>,
    },
}

impl Key {
    /// A text key accepting `accepted`.
    pub fn text(accepted: Vec<String>) -> Key {
        let folded = accepted.iter().map(|a| normalise(a)).collect();
        Key::Text { accepted, folded }
    }
}

/// A student's answer to one question, by shape, as sent (indexes are checked by `check`).
#[derive(Debug, Clone, PartialEq)]
pub enum Response {
    Option(i64),
    /// Distinct indexes (may be empty).
    Options(Vec<i64>),
    Value(f64),
    Text(String),
}

impl Response {
    /// The answer's field: `option`, `options`, `value` or `text`.
    pub fn field(&self) -> &'static str {
        match self {
            Response::Option(_) => "option",
            Response::Options(_) => "options",
            Response::Value(_) => "value",
            Response::Text(_) => "text",
        }
    }
}

/// The longest text answer, in characters.
pub const MAX_TEXT_ANSWER: usize = 1000;

/// Whether `response` fits a question with `key` and `options` options; the error names the
/// answer's field (`option must be 0 to 3`) or the shape the question wants.
pub fn check(key: &Key, options: usize, response: &Response) -> Result<(), String> {
    let in_range = |i: &i64| (0..options as i64).contains(i);
    let last = options.saturating_sub(1);
    match (key, response) {
        (Key::Single { .. }, Response::Option(o)) if !in_range(o) => {
            Err(format!("option must be 0 to {last}"))
        }
        (Key::Multiple { .. }, Response::Options(chosen)) => {
            if let Some(bad) = chosen.iter().find(|o| !in_range(o)) {
                return Err(format!("options: {bad} is not 0 to {last}"));
            }
            let mut seen = vec![false; options];
            for &o in chosen {
                if std::mem::replace(&mut seen[o as usize], true) {
                    return Err(format!("options names {o} twice"));
                }
            }
            Ok(())
        }
        (Key::Numeric { .. }, Response::Value(v)) if !v.is_finite() => {
            Err("value must be a finite number".into())
        }
        (Key::Text { .. }, Response::Text(t)) => {
            if t.chars().count() > MAX_TEXT_ANSWER {
                Err(format!("text must be at most {MAX_TEXT_ANSWER} characters"))
            } else if t.contains('\0') {
                Err("text must not contain U+0000".into())
            } else {
                Ok(())
            }
        }
        (Key::Single { .. }, Response::Option(_)) | (Key::Numeric { .. }, Response::Value(_)) => {
            Ok(())
        }
        (key, given) => Err(format!(
            "{} does not fit a {} question: give \"{}\"",
            given.field(),
            key.kind().as_str(),
            key.kind().answer_field()
        )),
    }
}

/// The points `response` earns on a question worth `points`, in `UNIT`ths. An answer of another
/// type's shape earns nothing (validation refuses it before grading).
pub fn earned(key: &Key, points: i64, response: &Response) -> i64 {
    let full = points * UNIT;
    match (key, response) {
        (Key::Single { correct }, Response::Option(chosen)) => {
            all_or_none(*chosen == *correct as i64, full)
        }
        (Key::Multiple { correct, scoring }, Response::Options(chosen)) => {
            let right = chosen
                .iter()
                .filter(|&&o| correct.iter().any(|&c| c as i64 == o))
                .count() as i64;
            let wrong = chosen.len() as i64 - right;
            let all = correct.len() as i64;
            match scoring {
                Scoring::AllOrNothing if right == all && wrong == 0 => full,
                Scoring::AllOrNothing => 0,
                // `all` ≤ 10 divides UNIT, so this is exact.
                Scoring::Partial if all > 0 => full / all * (right - wrong).max(0),
                Scoring::Partial => 0,
            }
        }
        (Key::Numeric { value, tolerance }, Response::Value(given)) => all_or_none(
            given.is_finite() && (given - value).abs() <= *tolerance,
            full,
        ),
        (Key::Text { folded, .. }, Response::Text(given)) => {
            let given = normalise(given);
            all_or_none(folded.contains(&given), full)
        }
        _ => 0,
    }
}

fn all_or_none(right: bool, full: i64) -> i64 {
    if right {
        full
    } else {
        0
    }
}

/// The form in which text answers are compared: NFC, trimmed, inner whitespace collapsed to
/// one space, full Unicode case folding (`Straße` = `STRASSE`), then NFC again (folding can
/// leave a combining mark, as `İ` → `i̇`).
pub fn normalise(text: &str) -> String {
    let composed: String = text.nfc().collect();
    let collapsed = composed.split_whitespace().collect::<Vec<_>>().join(" ");
    caseless::default_case_fold_str(&collapsed).nfc().collect()
}

/// A sum of earned points, in `UNIT`ths.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Total(pub i64);

impl Total {
    pub fn add(&mut self, units: i64) {
        self.0 += units;
    }

    /// Hundredths of a point, rounded once, half away from zero.
    pub fn cents(self) -> i64 {
        let scaled = self.0 * 100;
        let half = UNIT / 2;
        if scaled >= 0 {
            (scaled + half) / UNIT
        } else {
            (scaled - half) / UNIT
        }
    }

    pub fn score(self) -> Score {
        Score(self.cents())
    }
}

/// A score in hundredths of a point (as stored), serialized as the API wants: a whole number as
/// an integer (`4`, never `4.0`), else a number with its decimals (`3.33`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Score(pub i64);

impl Score {
    pub fn from_points(points: i64) -> Self {
        Score(points * 100)
    }

    /// Hundredths of a point.
    pub fn cents(self) -> i64 {
        self.0
    }

    pub fn as_points(self) -> f64 {
        self.0 as f64 / 100.0
    }
}

/// As stored: hundredths of a point.
impl From<i64> for Score {
    fn from(cents: i64) -> Self {
        Score(cents)
    }
}

/// As the CSV export writes it: `4`, `3.33`, `2.5`.
impl std::fmt::Display for Score {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0 % 100 == 0 {
            write!(f, "{}", self.0 / 100)
        } else {
            write!(f, "{}", self.as_points())
        }
    }
}

impl Serialize for Score {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.0 % 100 == 0 {
            serializer.serialize_i64(self.0 / 100)
        } else {
            serializer.serialize_f64(self.as_points())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn multiple(correct: &[usize], scoring: Scoring) -> Key {
        Key::Multiple {
            correct: correct.to_vec(),
            scoring,
        }
    }

    fn options(chosen: &[i64]) -> Response {
        Response::Options(chosen.to_vec())
    }

    #[test]
    fn single_scores_the_correct_option_only() {
        let key = Key::Single { correct: 2 };
        assert_eq!(earned(&key, 3, &Response::Option(2)), 3 * UNIT);
        assert_eq!(earned(&key, 3, &Response::Option(1)), 0);
        assert_eq!(
            earned(&key, 3, &options(&[2])),
            0,
            "the wrong shape earns nothing"
        );
    }

    #[test]
    fn multiple_all_or_nothing_wants_the_exact_set() {
        let key = multiple(&[0, 2], Scoring::AllOrNothing);
        assert_eq!(earned(&key, 2, &options(&[2, 0])), 2 * UNIT);
        assert_eq!(earned(&key, 2, &options(&[0])), 0);
        assert_eq!(earned(&key, 2, &options(&[0, 1, 2])), 0);
        assert_eq!(earned(&key, 2, &options(&[])), 0);
    }

    #[test]
    fn partial_credit_is_exact_and_floors_at_zero() {
        let key = multiple(&[0, 1, 2], Scoring::Partial);
        assert_eq!(earned(&key, 1, &options(&[0, 1, 2])), UNIT);
        assert_eq!(earned(&key, 1, &options(&[0])), UNIT / 3);
        assert_eq!(
            earned(&key, 1, &options(&[0, 1, 3])),
            UNIT / 3,
            "2 right − 1 wrong"
        );
        assert_eq!(
            earned(&key, 1, &options(&[0, 3, 4])),
            0,
            "1 − 2 floors at zero"
        );
        assert_eq!(earned(&key, 1, &options(&[])), 0);
        // Ten correct options (the most a question can have) still divide exactly.
        let ten = multiple(&(0..10).collect::<Vec<_>>(), Scoring::Partial);
        assert_eq!(earned(&ten, 7, &options(&[4])), 7 * UNIT / 10);
    }

    #[test]
    fn numeric_tolerance_is_inclusive() {
        let key = Key::Numeric {
            value: 10.0,
            tolerance: 0.5,
        };
        assert_eq!(earned(&key, 1, &Response::Value(10.5)), UNIT);
        assert_eq!(earned(&key, 1, &Response::Value(9.5)), UNIT);
        assert_eq!(earned(&key, 1, &Response::Value(10.5000001)), 0);
        assert_eq!(earned(&key, 1, &Response::Value(f64::NAN)), 0);
        let exact = Key::Numeric {
            value: 3.0,
            tolerance: 0.0,
        };
        assert_eq!(earned(&exact, 1, &Response::Value(3.0)), UNIT);
        assert_eq!(earned(&exact, 1, &Response::Value(3.0001)), 0);
    }

    #[test]
    fn text_is_compared_normalised() {
        let key = Key::text(vec!["Straße".into(), "New  York".into()]);
        for given in ["STRASSE", "  strasse ", "Straße", "new york", "NEW\t\nYORK"] {
            assert_eq!(
                earned(&key, 1, &Response::Text(given.into())),
                UNIT,
                "{given:?}"
            );
        }
        assert_eq!(earned(&key, 1, &Response::Text("Strase".into())), 0);
        assert_eq!(earned(&key, 1, &Response::Text("newyork".into())), 0);
    }

    #[test]
    fn normalising_composes_and_folds_fully() {
        assert_eq!(normalise("Straße"), "strasse");
        // `é` as one code point and as `e` + a combining acute compare equal.
        assert_eq!(normalise("caf\u{e9}"), normalise("cafe\u{301}"));
        // Full folding keeps the dot of the Turkish capital I: `İ` is `i̇`, not `i`.
        assert_eq!(normalise("İ"), "i\u{307}");
        assert_ne!(normalise("İstanbul"), normalise("istanbul"));
        assert_eq!(
            normalise("  a \u{a0} b  "),
            "a b",
            "no-break space is whitespace"
        );
        assert_eq!(normalise(""), "");
    }

    #[test]
    fn totals_round_once_half_away_from_zero() {
        let mut total = Total::default();
        for _ in 0..3 {
            total.add(UNIT / 3);
        }
        assert_eq!(total.cents(), 100, "three thirds are one point, not 0.99");
        assert_eq!(Total(UNIT / 3).cents(), 33);
        assert_eq!(Total(2 * UNIT / 3).cents(), 67);
        assert_eq!(Total(UNIT / 8).cents(), 13, "0.125 rounds up");
        assert_eq!(
            Total(-UNIT / 8).cents(),
            -13,
            "-0.125 rounds away from zero"
        );
    }

    #[test]
    fn whole_scores_serialize_as_integers() {
        let json = |cents| serde_json::to_string(&Score(cents)).unwrap();
        assert_eq!(json(400), "4");
        assert_eq!(json(0), "0");
        assert_eq!(json(333), "3.33");
        assert_eq!(json(250), "2.5");
        assert_eq!(Score(333).to_string(), "3.33");
        assert_eq!(Score(400).to_string(), "4");
        assert_eq!(Score::from_points(7), Score(700));
    }
}
