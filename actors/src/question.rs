//! A question's type and answer key as the API and the database write them (`KeyFields`), and
//! the checks that turn them into the `Key` grading uses (API.md, "Question types"). Messages
//! name the field; callers put the question in front (`questions[2].`).

use serde::{Deserialize, Serialize};

use crate::grading::{Key, Scoring};
use crate::model::whole_as_integer;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuestionType {
    #[default]
    Single,
    Multiple,
    Numeric,
    Text,
}

impl QuestionType {
    pub fn as_str(self) -> &'static str {
        match self {
            QuestionType::Single => "single",
            QuestionType::Multiple => "multiple",
            QuestionType::Numeric => "numeric",
            QuestionType::Text => "text",
        }
    }

    /// Whether questions of this type list options.
    pub fn has_options(self) -> bool {
        matches!(self, QuestionType::Single | QuestionType::Multiple)
    }

    /// The field of an answer to a question of this type.
    pub fn answer_field(self) -> &'static str {
        match self {
            QuestionType::Single => "option",
            QuestionType::Multiple => "options",
            QuestionType::Numeric => "value",
            QuestionType::Text => "text",
        }
    }

    /// The key fields that belong to this type.
    fn key_fields(self) -> &'static [&'static str] {
        match self {
            QuestionType::Single => &["correct_option"],
            QuestionType::Multiple => &["correct_options", "scoring"],
            QuestionType::Numeric => &["answer"],
            QuestionType::Text => &["accepted"],
        }
    }
}

impl TryFrom<String> for QuestionType {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        serde_json::from_value(serde_json::Value::String(s.clone()))
            .map_err(|_| format!("unknown question type {s:?}"))
    }
}

/// A numeric question's answer: the value and the absolute tolerance (0 unless given).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NumericAnswer {
    #[serde(serialize_with = "whole_as_integer")]
    pub value: f64,
    #[serde(default, serialize_with = "whole_as_integer")]
    pub tolerance: f64,
}

/// The answer-key fields of a question, as created, corrected, stored and shown to admins. Only
/// the fields of the question's type may be set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyFields {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correct_option: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correct_options: Option<Vec<i64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scoring: Option<Scoring>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<NumericAnswer>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted: Option<Vec<String>>,
}

/// Text answers a `text` question accepts: 1 to 20, each 1 to 200 characters.
pub const MAX_ACCEPTED: usize = 20;
pub const MAX_ACCEPTED_CHARS: usize = 200;

impl KeyFields {
    /// The names of the fields that are set.
    fn given(&self) -> impl Iterator<Item = &'static str> + '_ {
        [
            ("correct_option", self.correct_option.is_some()),
            ("correct_options", self.correct_options.is_some()),
            ("scoring", self.scoring.is_some()),
            ("answer", self.answer.is_some()),
            ("accepted", self.accepted.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, set)| set.then_some(name))
    }

    pub fn is_empty(&self) -> bool {
        self.given().next().is_none()
    }

    /// Refuses a field that belongs to another type than `kind`.
    pub fn only_for(&self, kind: QuestionType) -> Result<(), String> {
        match self.given().find(|f| !kind.key_fields().contains(f)) {
            Some(field) => Err(format!(
                "{field} does not belong to a {} question",
                kind.as_str()
            )),
            None => Ok(()),
        }
    }
}

impl Key {
    pub fn kind(&self) -> QuestionType {
        match self {
            Key::Single { .. } => QuestionType::Single,
            Key::Multiple { .. } => QuestionType::Multiple,
            Key::Numeric { .. } => QuestionType::Numeric,
            Key::Text { .. } => QuestionType::Text,
        }
    }

    /// The key of a `kind` question with `options` options, from its fields.
    pub fn from_fields(
        kind: QuestionType,
        fields: &KeyFields,
        options: usize,
    ) -> Result<Key, String> {
        fields.only_for(kind)?;
        let index = |field: &str, i: i64| {
            usize::try_from(i)
                .ok()
                .filter(|&i| i < options)
                .ok_or_else(|| {
                    format!(
                        "{field} must be an index into options (0 to {})",
                        options.saturating_sub(1)
                    )
                })
        };
        match kind {
            QuestionType::Single => {
                let correct = fields
                    .correct_option
                    .ok_or("correct_option is required for a single question")?;
                Ok(Key::Single {
                    correct: index("correct_option", correct)?,
                })
            }
            QuestionType::Multiple => {
                let given = fields
                    .correct_options
                    .as_ref()
                    .ok_or("correct_options is required for a multiple question")?;
                if given.is_empty() {
                    return Err("correct_options must name at least one option".into());
                }
                let mut correct = Vec::with_capacity(given.len());
                for &i in given {
                    let i = index("correct_options", i)?;
                    if correct.contains(&i) {
                        return Err(format!("correct_options names {i} twice"));
                    }
                    correct.push(i);
                }
                Ok(Key::Multiple {
                    correct,
                    scoring: fields.scoring.unwrap_or_default(),
                })
            }
            QuestionType::Numeric => {
                let answer = fields
                    .answer
                    .ok_or("answer is required for a numeric question")?;
                if !answer.value.is_finite() {
                    return Err("answer.value must be a finite number".into());
                }
                if !answer.tolerance.is_finite() || answer.tolerance < 0.0 {
                    return Err("answer.tolerance must be a finite number ≥ 0".into());
                }
                Ok(Key::Numeric {
                    value: answer.value,
                    tolerance: answer.tolerance,
                })
            }
            QuestionType::Text => {
                let accepted = fields
                    .accepted
                    .as_ref()
                    .ok_or("accepted is required for a text question")?;
                if !(1..=MAX_ACCEPTED).contains(&accepted.len()) {
                    return Err(format!("accepted must hold 1 to {MAX_ACCEPTED} strings"));
                }
                for (j, a) in accepted.iter().enumerate() {
                    if a.trim().is_empty() || a.chars().count() > MAX_ACCEPTED_CHARS {
                        return Err(format!(
                            "accepted[{j}] must be 1 to {MAX_ACCEPTED_CHARS} characters, not blank"
                        ));
                    }
                    if a.contains('\0') {
                        return Err(format!("accepted[{j}] must not contain U+0000"));
                    }
                }
                Ok(Key::text(accepted.clone()))
            }
        }
    }

    /// The fields that make this key (every field of its type, `scoring` included).
    pub fn fields(&self) -> KeyFields {
        match self {
            Key::Single { correct } => KeyFields {
                correct_option: Some(*correct as i64),
                ..KeyFields::default()
            },
            Key::Multiple { correct, scoring } => KeyFields {
                correct_options: Some(correct.iter().map(|&c| c as i64).collect()),
                scoring: Some(*scoring),
                ..KeyFields::default()
            },
            Key::Numeric { value, tolerance } => KeyFields {
                answer: Some(NumericAnswer {
                    value: *value,
                    tolerance: *tolerance,
                }),
                ..KeyFields::default()
            },
            Key::Text { accepted, .. } => KeyFields {
                accepted: Some(accepted.clone()),
                ..KeyFields::default()
            },
        }
    }

    /// This key with the given fields replaced (a correction); fields of another type are refused.
    pub fn corrected(&self, change: &KeyFields, options: usize) -> Result<Key, String> {
        let kind = self.kind();
        change.only_for(kind)?;
        let current = self.fields();
        let merged = KeyFields {
            correct_option: change.correct_option.or(current.correct_option),
            correct_options: change.correct_options.clone().or(current.correct_options),
            scoring: change.scoring.or(current.scoring),
            answer: change.answer.or(current.answer),
            accepted: change.accepted.clone().or(current.accepted),
        };
        Key::from_fields(kind, &merged, options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(json: serde_json::Value) -> KeyFields {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn each_type_takes_its_own_fields_only() {
        let single = fields(serde_json::json!({"correct_option": 1}));
        assert_eq!(
            Key::from_fields(QuestionType::Single, &single, 3),
            Ok(Key::Single { correct: 1 })
        );
        let err = Key::from_fields(QuestionType::Numeric, &single, 0).unwrap_err();
        assert!(err.starts_with("correct_option"), "{err}");
        let accepted_on_single =
            fields(serde_json::json!({"correct_option": 0, "accepted": ["a"]}));
        let err = Key::from_fields(QuestionType::Single, &accepted_on_single, 2).unwrap_err();
        assert!(err.starts_with("accepted"), "{err}");
    }

    #[test]
    fn keys_are_checked() {
        let check = |kind, json, options| Key::from_fields(kind, &fields(json), options);
        use serde_json::json;
        use QuestionType::*;
        assert!(check(Single, json!({"correct_option": 2}), 2).is_err());
        assert!(check(Single, json!({"correct_option": -1}), 2).is_err());
        assert!(check(Single, json!({}), 2)
            .unwrap_err()
            .contains("required"));
        assert!(check(Multiple, json!({}), 3)
            .unwrap_err()
            .starts_with("correct_options"));
        assert!(check(Multiple, json!({"correct_options": []}), 3).is_err());
        assert!(check(Multiple, json!({"correct_options": [1, 1]}), 3).is_err());
        assert!(check(Multiple, json!({"correct_options": [3]}), 3).is_err());
        assert_eq!(
            check(Multiple, json!({"correct_options": [2, 0]}), 3),
            Ok(Key::Multiple {
                correct: vec![2, 0],
                scoring: Scoring::AllOrNothing
            })
        );
        assert!(check(
            Numeric,
            json!({"answer": {"value": 1, "tolerance": -0.1}}),
            0
        )
        .is_err());
        assert_eq!(
            check(Numeric, json!({"answer": {"value": 2.5}}), 0),
            Ok(Key::Numeric {
                value: 2.5,
                tolerance: 0.0
            })
        );
        assert!(check(Text, json!({"accepted": []}), 0).is_err());
        assert!(check(Text, json!({"accepted": ["  "]}), 0).is_err());
        assert!(check(Text, json!({"accepted": ["é".repeat(200)]}), 0).is_ok());
        assert!(check(Text, json!({"accepted": ["é".repeat(201)]}), 0).is_err());
        let many: Vec<String> = (0..21).map(|i| i.to_string()).collect();
        assert!(check(Text, json!({ "accepted": many }), 0).is_err());
    }

    #[test]
    fn a_correction_keeps_what_it_does_not_name() {
        let key = Key::Multiple {
            correct: vec![0],
            scoring: Scoring::AllOrNothing,
        };
        let partial = fields(serde_json::json!({"scoring": "partial"}));
        assert_eq!(
            key.corrected(&partial, 3),
            Ok(Key::Multiple {
                correct: vec![0],
                scoring: Scoring::Partial
            })
        );
        let foreign = fields(serde_json::json!({"correct_option": 1}));
        assert!(key
            .corrected(&foreign, 3)
            .unwrap_err()
            .starts_with("correct_option"));
    }

    #[test]
    fn fields_round_trip() {
        for key in [
            Key::Single { correct: 1 },
            Key::Multiple {
                correct: vec![1, 2],
                scoring: Scoring::Partial,
            },
            Key::Numeric {
                value: -3.5,
                tolerance: 0.25,
            },
            Key::text(vec!["Straße".into()]),
        ] {
            let json = serde_json::to_string(&key.fields()).unwrap();
            let back: KeyFields = serde_json::from_str(&json).unwrap();
            assert_eq!(Key::from_fields(key.kind(), &back, 3), Ok(key), "{json}");
        }
    }
}
