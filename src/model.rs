//! The domain's types and the rules on their input, in one place; handlers and the store use them.

use chrono::{DateTime, Datelike, DurationRound, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

pub use contestd_actors::grading::{Key, Scoring};
pub use contestd_actors::model::{
    Announcement, Answer, AnswersHash, Contest, ContestStatus, DraftRow, Id, Idempotency, Question,
    ResultsPolicy, Shuffle, Snapshot, StartRow, SubmissionRow,
};
pub use contestd_actors::question::{KeyFields, NumericAnswer, QuestionType};
pub use contestd_actors::window::{window_for, Accommodation, MyWindow, Window};

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

/// Most characters (code points) an announcement may hold.
pub const ANNOUNCEMENT_MAX_CHARS: usize = 2000;

/// `POST /api/contests/{id}/announcements`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAnnouncement {
    pub text: String,
}

impl NewAnnouncement {
    /// 1–2,000 code points, not only whitespace, no U+0000. The text is kept as sent.
    pub fn validate(&self) -> Result<(), String> {
        if self.text.trim().is_empty() || self.text.chars().count() > ANNOUNCEMENT_MAX_CHARS {
            return Err(format!(
                "text must be 1 to {ANNOUNCEMENT_MAX_CHARS} characters, not only whitespace"
            ));
        }
        storable("text", &self.text)
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

/// A question as an admin writes it (creating a contest, or replacing its questions): the
/// type, the prompt, and the fields of its type (API.md, "Question types").
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewQuestion {
    #[serde(rename = "type", default)]
    pub kind: QuestionType,
    pub prompt: String,
    #[serde(default)]
    pub options: Option<Vec<String>>,
    #[serde(default = "one")]
    pub points: i64,
    #[serde(default)]
    pub correct_option: Option<i64>,
    #[serde(default)]
    pub correct_options: Option<Vec<i64>>,
    #[serde(default)]
    pub scoring: Option<Scoring>,
    #[serde(default)]
    pub answer: Option<NumericAnswer>,
    #[serde(default)]
    pub accepted: Option<Vec<String>>,
}

fn one() -> i64 {
    1
}

/// A checked question, not yet stored (it has no id).
#[derive(Debug, Clone, PartialEq)]
pub struct QuestionDraft {
    pub prompt: String,
    /// Empty for `numeric` and `text`.
    pub options: Vec<String>,
    pub points: i64,
    pub key: Key,
}

impl NewQuestion {
    /// The checked question; errors name the field (`options`, `correct_options`, …).
    fn validate(self) -> Result<QuestionDraft, String> {
        if self.prompt.trim().is_empty() {
            return Err("prompt must not be empty".into());
        }
        storable("prompt", &self.prompt)?;
        validate_points(self.points)?;
        let options = match (self.kind.has_options(), self.options) {
            (true, Some(options)) => {
                if !(2..=10).contains(&options.len()) {
                    return Err("options must hold 2 to 10 options".into());
                }
                if let Some(j) = options.iter().position(|o| o.trim().is_empty()) {
                    return Err(format!("options[{j}] must not be empty"));
                }
                for (j, option) in options.iter().enumerate() {
                    storable(&format!("options[{j}]"), option)?;
                }
                options
            }
            (true, None) => {
                return Err(format!(
                    "options is required for a {} question",
                    self.kind.as_str()
                ))
            }
            (false, Some(_)) => {
                return Err(format!(
                    "options does not belong to a {} question",
                    self.kind.as_str()
                ))
            }
            (false, None) => Vec::new(),
        };
        let fields = KeyFields {
            correct_option: self.correct_option,
            correct_options: self.correct_options,
            scoring: self.scoring,
            answer: self.answer,
            accepted: self.accepted,
        };
        let key = Key::from_fields(self.kind, &fields, options.len())?;
        Ok(QuestionDraft {
            prompt: self.prompt,
            options,
            points: self.points,
            key,
        })
    }
}

fn validate_points(points: i64) -> Result<(), String> {
    if !(0..=1_000_000).contains(&points) {
        return Err("points must be 0 to 1000000".into());
    }
    Ok(())
}

/// A contest's whole question list: 1 to 500 questions, each checked; errors name the
/// question (`questions[2].correct_options …`).
fn validate_questions(questions: Vec<NewQuestion>) -> Result<Vec<QuestionDraft>, String> {
    if !(1..=500).contains(&questions.len()) {
        return Err("questions must hold 1 to 500 questions".into());
    }
    questions
        .into_iter()
        .enumerate()
        .map(|(i, q)| q.validate().map_err(|e| format!("questions[{i}].{e}")))
        .collect()
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
    #[serde(default)]
    pub shuffle: Shuffle,
    #[serde(default)]
    pub grace_seconds: i64,
    pub duration_minutes: Option<i64>,
    pub questions: Vec<NewQuestion>,
}

/// A checked contest, ready to store.
#[derive(Debug, Clone)]
pub struct ContestDraft {
    pub course_id: Id,
    pub title: String,
    pub start_time: DateTime<Utc>,
    pub end_time: DateTime<Utc>,
    pub results: ResultsPolicy,
    pub shuffle: Shuffle,
    pub grace_seconds: i64,
    pub duration_minutes: Option<i64>,
    pub questions: Vec<QuestionDraft>,
}

impl NewContest {
    /// Checks the contest's rules and rounds its times to what both databases store exactly.
    pub fn validate(self) -> Result<ContestDraft, String> {
        validate_title(&self.title)?;
        let start_time = to_millis(self.start_time);
        let end_time = to_millis(self.end_time);
        validate_window(start_time, end_time)?;
        validate_grace(self.grace_seconds)?;
        self.duration_minutes.map_or(Ok(()), validate_duration)?;
        Ok(ContestDraft {
            course_id: self.course_id,
            title: self.title,
            start_time,
            end_time,
            results: self.results,
            shuffle: self.shuffle,
            grace_seconds: self.grace_seconds,
            duration_minutes: self.duration_minutes,
            questions: validate_questions(self.questions)?,
        })
    }
}

/// A change of shuffling; what is left out stays as it is.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShufflePatch {
    pub questions: Option<bool>,
    pub options: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContestPatch {
    pub title: Option<String>,
    pub start_time: Option<DateTime<Utc>>,
    pub end_time: Option<DateTime<Utc>>,
    pub is_active: Option<bool>,
    pub grace_seconds: Option<i64>,
    pub duration_minutes: Option<i64>,
    /// Only while the contest is upcoming, like `questions`.
    pub shuffle: Option<ShufflePatch>,
    pub questions: Option<Vec<NewQuestion>>,
}

/// A checked patch.
#[derive(Debug, Clone, Default)]
pub struct ContestChange {
    pub title: Option<String>,
    pub start_time: Option<DateTime<Utc>>,
    pub end_time: Option<DateTime<Utc>>,
    pub is_active: Option<bool>,
    pub grace_seconds: Option<i64>,
    pub duration_minutes: Option<i64>,
    pub shuffle: Option<ShufflePatch>,
    pub questions: Option<Vec<QuestionDraft>>,
}

impl ContestChange {
    /// Whether it touches what may change only before the contest opens.
    pub fn edits_questions(&self) -> bool {
        self.shuffle.is_some() || self.questions.is_some()
    }
}

impl ContestPatch {
    /// Checks the fields given and rounds the times; the store checks start < end against the
    /// stored values in the same statement that writes them.
    pub fn validate(self) -> Result<ContestChange, String> {
        if let Some(title) = &self.title {
            validate_title(title)?;
        }
        let start_time = self.start_time.map(to_millis);
        let end_time = self.end_time.map(to_millis);
        for (field, time) in [("start_time", start_time), ("end_time", end_time)] {
            time.map_or(Ok(()), |t| storable_time(field, t))?;
        }
        if let (Some(start), Some(end)) = (start_time, end_time) {
            validate_window(start, end)?;
        }
        self.grace_seconds.map_or(Ok(()), validate_grace)?;
        self.duration_minutes.map_or(Ok(()), validate_duration)?;
        Ok(ContestChange {
            title: self.title,
            start_time,
            end_time,
            is_active: self.is_active,
            grace_seconds: self.grace_seconds,
            duration_minutes: self.duration_minutes,
            shuffle: self.shuffle,
            questions: self.questions.map(validate_questions).transpose()?,
        })
    }
}

/// A correction of one question's key or points (`PATCH …/questions/{id}`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyPatch {
    pub points: Option<i64>,
    pub correct_option: Option<i64>,
    pub correct_options: Option<Vec<i64>>,
    pub scoring: Option<Scoring>,
    pub answer: Option<NumericAnswer>,
    pub accepted: Option<Vec<String>>,
}

impl KeyPatch {
    /// The corrected key and points of `question`; errors name the field.
    pub fn apply_to(self, question: &Question) -> Result<(Key, i64), String> {
        let change = KeyFields {
            correct_option: self.correct_option,
            correct_options: self.correct_options,
            scoring: self.scoring,
            answer: self.answer,
            accepted: self.accepted,
        };
        if change.is_empty() && self.points.is_none() {
            return Err(
                "give at least one of correct_option, correct_options, scoring, answer, accepted, points"
                    .into(),
            );
        }
        let points = self.points.unwrap_or(question.points);
        validate_points(points)?;
        let key = question.key.corrected(&change, question.options.len())?;
        Ok((key, points))
    }
}

/// A student's own time on a contest: 1 minute to a day.
fn validate_duration(minutes: i64) -> Result<(), String> {
    if !(1..=1440).contains(&minutes) {
        return Err("duration_minutes must be 1 to 1440".into());
    }
    Ok(())
}

/// `PUT /api/contests/{id}/accommodations/{student_id}`: one student's personal terms.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccommodationBody {
    pub extra_minutes: Option<i64>,
    pub start_time: Option<DateTime<Utc>>,
    pub end_time: Option<DateTime<Utc>>,
}

impl AccommodationBody {
    /// Checks the fields and rounds the times; the handler checks the window they make with
    /// the contest's times.
    pub fn validate(self) -> Result<Accommodation, String> {
        let extra_minutes = self.extra_minutes.unwrap_or(0);
        if !(0..=10080).contains(&extra_minutes) {
            return Err("extra_minutes must be 0 to 10080".into());
        }
        let start_time = self.start_time.map(to_millis);
        let end_time = self.end_time.map(to_millis);
        for (field, time) in [("start_time", start_time), ("end_time", end_time)] {
            time.map_or(Ok(()), |t| storable_time(field, t))?;
        }
        Ok(Accommodation {
            extra_minutes,
            start_time,
            end_time,
        })
    }
}

/// The grace after the end: 0 to 300 seconds.
fn validate_grace(seconds: i64) -> Result<(), String> {
    if !(0..=300).contains(&seconds) {
        return Err("grace_seconds must be 0 to 300".into());
    }
    Ok(())
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
        assert_eq!(c.questions[0].key, Key::Single { correct: 1 });
        assert_eq!(c.shuffle, Shuffle::default());

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

    #[test]
    fn announcements_are_1_to_2000_code_points_of_something() {
        let check = |text: String| NewAnnouncement { text }.validate();
        assert!(check("Room 2 moves to room 3".into()).is_ok());
        assert!(check("ü".repeat(2000)).is_ok(), "counted in code points");
        assert!(
            check("😀".repeat(2000)).is_ok(),
            "astral code points count once"
        );
        assert!(check(format!(" {} ", "x".repeat(1998))).is_ok());
        assert!(check("x".repeat(2001)).is_err());
        assert!(check(String::new()).is_err());
        assert!(
            check(" \t\n\u{3000}\u{a0}".into()).is_err(),
            "Unicode whitespace only"
        );
        let nul = check("a\0b".into()).unwrap_err();
        assert!(nul.contains("U+0000"), "{nul}");
    }
}
