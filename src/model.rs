//! The domain's types and the rules on their input, in one place; handlers and the store use them.

use chrono::{DateTime, Datelike, DurationRound, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

pub use contestd_actors::model::{
    Answer, Contest, ContestStatus, Id, Question, ResultsPolicy, Snapshot, SubmissionRow,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Student,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Student => "student",
        }
    }
}

impl TryFrom<String> for Role {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        match s.as_str() {
            "admin" => Ok(Role::Admin),
            "student" => Ok(Role::Student),
            _ => Err(format!("unknown role {s:?}")),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: Id,
    pub username: String,
    pub role: Role,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub username: String,
    pub password: String,
    pub role: Role,
}

impl NewUser {
    pub fn validate(&self) -> Result<(), String> {
        validate_username(&self.username)?;
        validate_password(&self.password)
    }
}

pub fn validate_password(password: &str) -> Result<(), String> {
    if !(8..=128).contains(&password.chars().count()) {
        return Err("password must be 8 to 128 characters".into());
    }
    Ok(())
}

pub fn validate_username(username: &str) -> Result<(), String> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-');
    if username.is_empty() || username.len() > 64 || !username.chars().all(ok_char) {
        return Err("username must be 1 to 64 of A-Z a-z 0-9 _ . -".into());
    }
    Ok(())
}

#[derive(Debug, Clone, Serialize)]
pub struct Course {
    pub id: Id,
    pub code: String,
    pub title: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewCourse {
    pub code: String,
    pub title: String,
}

impl NewCourse {
    pub fn validate(&self) -> Result<(), String> {
        if self.code.trim().is_empty() || self.code.chars().count() > 64 {
            return Err("code must be 1 to 64 characters".into());
        }
        if self.title.trim().is_empty() || self.title.chars().count() > 200 {
            return Err("title must be 1 to 200 characters".into());
        }
        storable("code", &self.code)?;
        storable("title", &self.title)
    }
}

/// Text both databases store: PostgreSQL refuses U+0000 in text.
pub fn storable(field: &str, text: &str) -> Result<(), String> {
    if text.contains('\0') {
        return Err(format!("{field} must not contain U+0000"));
    }
    Ok(())
}

/// A contest with its questions in order.
#[derive(Debug, Clone)]
pub struct ContestWithQuestions {
    pub contest: Contest,
    pub questions: Vec<Question>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewQuestion {
    pub prompt: String,
    pub options: Vec<String>,
    pub correct_option: i64,
    #[serde(default = "one")]
    pub points: i64,
}

fn one() -> i64 {
    1
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewContest {
    pub course_id: Id,
    pub title: String,
    pub start_time: DateTime<Utc>,
    pub end_time: DateTime<Utc>,
    #[serde(default)]
    pub results: ResultsPolicy,
    pub questions: Vec<NewQuestion>,
}

impl NewContest {
    /// Checks the contest's rules and rounds its times to what both databases store exactly.
    pub fn validate(mut self) -> Result<Self, String> {
        validate_title(&self.title)?;
        self.start_time = to_millis(self.start_time);
        self.end_time = to_millis(self.end_time);
        validate_window(self.start_time, self.end_time)?;
        if !(1..=500).contains(&self.questions.len()) {
            return Err("questions must hold 1 to 500 questions".into());
        }
        for (i, q) in self.questions.iter().enumerate() {
            if q.prompt.trim().is_empty() {
                return Err(format!("questions[{i}].prompt must not be empty"));
            }
            storable(&format!("questions[{i}].prompt"), &q.prompt)?;
            if !(2..=10).contains(&q.options.len()) {
                return Err(format!("questions[{i}].options must hold 2 to 10 options"));
            }
            if let Some(j) = q.options.iter().position(|o| o.trim().is_empty()) {
                return Err(format!("questions[{i}].options[{j}] must not be empty"));
            }
            for (j, option) in q.options.iter().enumerate() {
                storable(&format!("questions[{i}].options[{j}]"), option)?;
            }
            if q.correct_option < 0 || q.correct_option as usize >= q.options.len() {
                return Err(format!(
                    "questions[{i}].correct_option must be an index into options"
                ));
            }
            if q.points < 0 || q.points > 1_000_000 {
                return Err(format!("questions[{i}].points must be 0 to 1000000"));
            }
        }
        Ok(self)
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContestPatch {
    pub title: Option<String>,
    pub start_time: Option<DateTime<Utc>>,
    pub end_time: Option<DateTime<Utc>>,
    pub is_active: Option<bool>,
}

impl ContestPatch {
    /// Checks the fields given and rounds the times; the store checks start < end against the
    /// stored values in the same statement that writes them.
    pub fn validate(mut self) -> Result<Self, String> {
        if let Some(title) = &self.title {
            validate_title(title)?;
        }
        self.start_time = self.start_time.map(to_millis);
        self.end_time = self.end_time.map(to_millis);
        for (field, time) in [("start_time", self.start_time), ("end_time", self.end_time)] {
            time.map_or(Ok(()), |t| storable_time(field, t))?;
        }
        if let (Some(start), Some(end)) = (self.start_time, self.end_time) {
            validate_window(start, end)?;
        }
        Ok(self)
    }
}

fn validate_title(title: &str) -> Result<(), String> {
    if title.trim().is_empty() || title.chars().count() > 200 {
        return Err("title must be 1 to 200 characters".into());
    }
    storable("title", title)
}

/// Times from 1970 to 9999: PostgreSQL's range ends in 294276 but starts in 4713 BC, and SQLite
/// keeps times as text, which orders correctly only for four-digit years.
fn storable_time(field: &str, time: DateTime<Utc>) -> Result<(), String> {
    if !(1970..=9999).contains(&time.year()) {
        return Err(format!("{field} must be in the years 1970 to 9999"));
    }
    Ok(())
}

fn validate_window(start: DateTime<Utc>, end: DateTime<Utc>) -> Result<(), String> {
    storable_time("start_time", start)?;
    storable_time("end_time", end)?;
    if start >= end {
        return Err("start_time must be before end_time".into());
    }
    Ok(())
}

/// Times are kept to the millisecond, so they round-trip exactly through either database.
pub fn to_millis(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(TimeDelta::milliseconds(1)).unwrap_or(t)
}

/// The current time, to the millisecond.
pub use contestd_actors::now;

/// A score in hundredths of a point (as stored); whole scores serialize as integers.
pub use contestd_actors::Score;

#[cfg(test)]
mod tests {
    use super::*;

    fn contest_json(extra: serde_json::Value) -> NewContest {
        let mut v = serde_json::json!({
            "course_id": 1, "title": "Quiz",
            "start_time": "2026-11-28T19:00:00Z", "end_time": "2026-11-28T20:00:00Z",
            "questions": [{"prompt": "2+2?", "options": ["3", "4"], "correct_option": 1}]
        });
        if let (Some(obj), Some(extra)) = (v.as_object_mut(), extra.as_object()) {
            for (k, val) in extra {
                obj.insert(k.clone(), val.clone());
            }
        }
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn usernames_follow_the_alphabet_and_length() {
        assert!(validate_username("student_0001.a-b").is_ok());
        assert!(validate_username("").is_err());
        assert!(validate_username("has space").is_err());
        assert!(validate_username("é").is_err());
        assert!(validate_username(&"a".repeat(64)).is_ok());
        assert!(validate_username(&"a".repeat(65)).is_err());
    }

    #[test]
    fn passwords_are_8_to_128_characters() {
        let user = |p: &str| NewUser {
            username: "u".into(),
            password: p.into(),
            role: Role::Student,
        };
        assert!(user("1234567").validate().is_err());
        assert!(user("12345678").validate().is_ok());
        assert!(user(&"x".repeat(128)).validate().is_ok());
        assert!(user(&"x".repeat(129)).validate().is_err());
    }

    /// What either database cannot store is refused before it reaches one: U+0000 in text
    /// (PostgreSQL), years outside 1970–9999 (PostgreSQL's range, SQLite's text order).
    #[test]
    fn only_storable_text_and_times_pass() {
        let course = NewCourse {
            code: "a\0b".into(),
            title: "t".into(),
        };
        assert!(course.validate().unwrap_err().contains("U+0000"));
        let nul = contest_json(serde_json::json!({"title": "\u{0}"}));
        assert!(nul.validate().unwrap_err().contains("U+0000"));
        for (start, end) in [
            ("2026-11-28T19:00:00Z", "+10000-01-01T00:00:00Z"),
            ("-4713-11-23T23:59:59Z", "2026-11-28T20:00:00Z"),
        ] {
            let far = contest_json(serde_json::json!({"start_time": start, "end_time": end}));
            assert!(
                far.validate().unwrap_err().contains("1970 to 9999"),
                "{start} {end}"
            );
        }
        let patch = ContestPatch {
            end_time: Some("+10000-01-01T00:00:00Z".parse().unwrap()),
            ..ContestPatch::default()
        };
        assert!(patch.validate().is_err());
    }

    #[test]
    fn contest_defaults_and_rules() {
        let c = contest_json(serde_json::json!({})).validate().unwrap();
        assert_eq!(c.results, ResultsPolicy::AfterClose);
        assert_eq!(c.questions[0].points, 1);

        let backwards = contest_json(serde_json::json!({"end_time": "2026-11-28T18:00:00Z"}));
        assert!(backwards.validate().unwrap_err().contains("start_time"));

        let bad_index = contest_json(serde_json::json!({"questions": [
            {"prompt": "p", "options": ["a", "b"], "correct_option": 2}]}));
        assert!(bad_index
            .validate()
            .unwrap_err()
            .contains("questions[0].correct_option"));

        let one_option = contest_json(serde_json::json!({"questions": [
            {"prompt": "p", "options": ["a"], "correct_option": 0}]}));
        assert!(one_option.validate().unwrap_err().contains("options"));

        let none = contest_json(serde_json::json!({"questions": []}));
        assert!(none.validate().is_err());
    }

    #[test]
    fn status_window_is_start_inclusive_end_exclusive() {
        let start = Utc::now();
        let end = start + TimeDelta::seconds(10);
        assert_eq!(
            ContestStatus::at(start, end, start - TimeDelta::milliseconds(1)),
            ContestStatus::Upcoming
        );
        assert_eq!(ContestStatus::at(start, end, start), ContestStatus::Open);
        assert_eq!(ContestStatus::at(start, end, end), ContestStatus::Closed);
    }

    #[test]
    fn patch_checks_what_it_is_given() {
        let start = Utc::now();
        let backwards = ContestPatch {
            start_time: Some(start),
            end_time: Some(start - TimeDelta::hours(1)),
            ..Default::default()
        };
        assert!(backwards.validate().is_err());
        let empty_title = ContestPatch {
            title: Some(" ".into()),
            ..Default::default()
        };
        assert!(empty_title.validate().is_err());
        assert!(ContestPatch::default().validate().is_ok());
    }
}
