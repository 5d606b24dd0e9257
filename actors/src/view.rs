//! The contest views as the API shows them (`GET /api/contests/{id}`), in one place: the
//! student view, which the contest's actor prepares once and each request finishes with the
//! clock, and the admin view.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde::{Serialize, Serializer};
use serde_json::value::{to_raw_value, RawValue};

use crate::model::{Contest, ContestStatus, Id, Question, ResultsPolicy};

/// The student view of a contest: no correct options, no questions while upcoming. What does
/// not depend on the clock is fixed when the contest is loaded or changed, the questions
/// serialized then; `render` adds `status` and `server_time`. A clone is one `Arc`.
#[derive(Debug, Clone)]
pub struct StudentView(Arc<Fixed>);

#[derive(Debug)]
struct Fixed {
    id: Id,
    course_id: Id,
    title: String,
    start_time: DateTime<Utc>,
    end_time: DateTime<Utc>,
    results: ResultsPolicy,
    /// The questions as one JSON array; shared by the views of one contest's changes.
    questions: Arc<RawValue>,
}

/// A question as students see it.
#[derive(Serialize)]
struct StudentQuestion<'a> {
    id: Id,
    prompt: &'a str,
    options: &'a [String],
    points: i64,
}

/// The document `render` writes, borrowing the fixed parts; the field order is the API's.
#[derive(Serialize)]
struct Rendered<'a> {
    id: Id,
    course_id: Id,
    title: &'a str,
    start_time: DateTime<Utc>,
    end_time: DateTime<Utc>,
    results: ResultsPolicy,
    status: ContestStatus,
    server_time: Millis,
    questions: Questions<'a>,
}

impl StudentView {
    /// Serializes the questions (once per load of the contest).
    pub fn new(contest: &Contest, questions: &[Question]) -> Result<Self, serde_json::Error> {
        let questions: Vec<StudentQuestion> = questions
            .iter()
            .map(|q| StudentQuestion {
                id: q.id,
                prompt: &q.prompt,
                options: &q.options,
                points: q.points,
            })
            .collect();
        Ok(Self::fixed(contest, to_raw_value(&questions)?.into()))
    }

    /// The view after an admin changed the contest (title, times, active flag): the questions
    /// stay as they are, so nothing is serialized again.
    pub fn with_contest(&self, contest: &Contest) -> Self {
        Self::fixed(contest, self.0.questions.clone())
    }

    fn fixed(contest: &Contest, questions: Arc<RawValue>) -> Self {
        StudentView(Arc::new(Fixed {
            id: contest.id,
            course_id: contest.course_id,
            title: contest.title.clone(),
            start_time: contest.start_time,
            end_time: contest.end_time,
            results: contest.results,
            questions,
        }))
    }

    pub fn status(&self, now: DateTime<Utc>) -> ContestStatus {
        ContestStatus::at(self.0.start_time, self.0.end_time, now)
    }

    /// The whole JSON document for `now`.
    pub fn render(&self, now: DateTime<Utc>) -> Result<Vec<u8>, serde_json::Error> {
        let fixed = &*self.0;
        let status = self.status(now);
        let questions = match status {
            ContestStatus::Upcoming => Questions::Hidden,
            ContestStatus::Open | ContestStatus::Closed => Questions::Listed(&fixed.questions),
        };
        let doc = Rendered {
            id: fixed.id,
            course_id: fixed.course_id,
            title: &fixed.title,
            start_time: fixed.start_time,
            end_time: fixed.end_time,
            results: fixed.results,
            status,
            server_time: Millis(now),
            questions,
        };
        // Room for the questions, the title and the rest (about 200 bytes), so that the
        // document is usually written with one allocation.
        let listed = match doc.questions {
            Questions::Listed(json) => json.get().len(),
            Questions::Hidden => 0,
        };
        let mut out = Vec::with_capacity(listed + fixed.title.len() + 256);
        serde_json::to_writer(&mut out, &doc)?;
        Ok(out)
    }
}

/// A student view's questions: the serialized list, or `[]` while the contest is upcoming.
enum Questions<'a> {
    Listed(&'a RawValue),
    Hidden,
}

impl Serialize for Questions<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Questions::Listed(json) => json.serialize(serializer),
            Questions::Hidden => serializer.collect_seq(std::iter::empty::<()>()),
        }
    }
}

/// A time written with exactly three decimals, as the student view's `server_time` always has
/// been (chrono's serde form, used for the other times, leaves out a zero fraction). Formatted
/// here, straight into the document, to spare the `String` of `to_rfc3339_opts` per request.
struct Millis(DateTime<Utc>);

impl fmt::Display for Millis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = &self.0;
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.timestamp_subsec_millis()
        )
    }
}

impl Serialize for Millis {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A contest as admins see it: every question with its correct option, and `is_active`.
#[derive(Serialize)]
pub struct AdminView<'a> {
    id: Id,
    course_id: Id,
    title: &'a str,
    start_time: DateTime<Utc>,
    end_time: DateTime<Utc>,
    status: ContestStatus,
    server_time: DateTime<Utc>,
    results: ResultsPolicy,
    is_active: bool,
    questions: Vec<AdminQuestion<'a>>,
}

#[derive(Serialize)]
struct AdminQuestion<'a> {
    id: Id,
    prompt: &'a str,
    options: &'a [String],
    points: i64,
    correct_option: i32,
}

impl<'a> AdminView<'a> {
    pub fn new(contest: &'a Contest, questions: &'a [Question], now: DateTime<Utc>) -> Self {
        AdminView {
            id: contest.id,
            course_id: contest.course_id,
            title: &contest.title,
            start_time: contest.start_time,
            end_time: contest.end_time,
            status: contest.status(now),
            server_time: now,
            results: contest.results,
            is_active: contest.is_active,
            questions: questions
                .iter()
                .map(|q| AdminQuestion {
                    id: q.id,
                    prompt: &q.prompt,
                    options: &q.options,
                    points: q.points,
                    correct_option: q.correct_option,
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{SecondsFormat, TimeDelta};

    use super::*;

    fn at(rfc3339: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(rfc3339).unwrap().to_utc()
    }

    fn contest() -> Contest {
        Contest {
            id: 9,
            course_id: 3,
            title: "Quiz \"one\" – é\n".into(),
            start_time: at("2026-11-28T19:00:00Z"),
            end_time: at("2026-11-28T20:30:00.250Z"),
            results: ResultsPolicy::Immediate,
            is_active: false,
        }
    }

    fn questions() -> Vec<Question> {
        vec![
            Question {
                id: 100,
                prompt: "2 + 2?".into(),
                options: vec!["3".into(), "4".into()],
                correct_option: 1,
                points: 2,
            },
            Question {
                id: 101,
                prompt: "<b>\\</b>".into(),
                options: vec!["x".into(), "y".into(), "z".into()],
                correct_option: 0,
                points: 0,
            },
        ]
    }

    fn render(view: &StudentView, now: &str) -> String {
        String::from_utf8(view.render(at(now)).unwrap()).unwrap()
    }

    const HEAD: &str = r#"{"id":9,"course_id":3,"title":"Quiz \"one\" – é\n","start_time":"2026-11-28T19:00:00Z","end_time":"2026-11-28T20:30:00.250Z","results":"immediate""#;
    const QUESTIONS: &str = r#"[{"id":100,"prompt":"2 + 2?","options":["3","4"],"points":2},{"id":101,"prompt":"<b>\\</b>","options":["x","y","z"],"points":0}]"#;

    #[test]
    fn student_view_is_the_documents_clients_have_always_had() {
        let view = StudentView::new(&contest(), &questions()).unwrap();
        assert_eq!(
            render(&view, "2026-11-28T18:59:59.999Z"),
            format!(
                r#"{HEAD},"status":"upcoming","server_time":"2026-11-28T18:59:59.999Z","questions":[]}}"#
            )
        );
        assert_eq!(
            render(&view, "2026-11-28T19:00:00Z"),
            format!(
                r#"{HEAD},"status":"open","server_time":"2026-11-28T19:00:00.000Z","questions":{QUESTIONS}}}"#
            )
        );
        assert_eq!(
            render(&view, "2026-11-28T20:30:00.250Z"),
            format!(
                r#"{HEAD},"status":"closed","server_time":"2026-11-28T20:30:00.250Z","questions":{QUESTIONS}}}"#
            )
        );
    }

    #[test]
    fn a_contest_change_keeps_the_questions() {
        let view = StudentView::new(&contest(), &questions()).unwrap();
        let mut changed = contest();
        changed.title = "Renamed".into();
        changed.start_time -= TimeDelta::days(1);
        let view = view.with_contest(&changed);
        let doc = render(&view, "2026-11-28T12:00:00.5Z");
        assert!(doc.contains(r#""title":"Renamed""#), "{doc}");
        assert!(doc.contains(r#""status":"open""#), "{doc}");
        assert!(
            doc.ends_with(&format!(r#""questions":{QUESTIONS}}}"#)),
            "{doc}"
        );
    }

    #[test]
    fn server_time_is_rfc3339_with_milliseconds() {
        for t in [
            "2026-01-02T03:04:05Z",
            "2026-12-31T23:59:59.999Z",
            "1970-01-01T00:00:00.001Z",
            "9999-06-15T12:00:00.123456789Z",
        ] {
            let t = at(t);
            assert_eq!(
                Millis(t).to_string(),
                t.to_rfc3339_opts(SecondsFormat::Millis, true)
            );
        }
    }

    #[test]
    fn admin_view_has_correct_options_and_is_active() {
        let contest = contest();
        let questions = questions();
        let view = AdminView::new(&contest, &questions, at("2026-11-28T18:00:00Z"));
        assert_eq!(
            serde_json::to_string(&view).unwrap(),
            r#"{"id":9,"course_id":3,"title":"Quiz \"one\" – é\n","start_time":"2026-11-28T19:00:00Z","end_time":"2026-11-28T20:30:00.250Z","status":"upcoming","server_time":"2026-11-28T18:00:00Z","results":"immediate","is_active":false,"questions":[{"id":100,"prompt":"2 + 2?","options":["3","4"],"points":2,"correct_option":1},{"id":101,"prompt":"<b>\\</b>","options":["x","y","z"],"points":0,"correct_option":0}]}"#
        );
    }
}
