//! The contest views as the API shows them (`GET /api/contests/{id}`), in one place: the
//! student view, which the contest's actor prepares once and each request finishes with the
//! clock (and, on a shuffled contest, the student's order), and the admin view.

use std::fmt;
use std::io::Write as _;
use std::sync::Arc;

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde::{Serialize, Serializer};

use crate::grading::Scoring;
use crate::model::{Contest, ContestStatus, Id, Question, ResultsPolicy, Shuffle};
use crate::order::{option_order, question_order};
use crate::question::{KeyFields, QuestionType};
use crate::window::MyWindow;

/// The student view of a contest: no answer keys, no questions while upcoming. What does not
/// depend on the clock or the student is fixed when the contest is loaded or changed, each
/// question serialized then; `render` adds `status`, `server_time` and the student's order. A
/// clone is one `Arc`.
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
    shuffle: Shuffle,
    /// Shared by the views of one contest's changes.
    questions: Arc<Pieces>,
}

/// The questions, serialized once: each question's JSON without its closing brace (so a
/// student's `option_order` can follow), and the whole list in creation order.
#[derive(Debug)]
struct Pieces {
    ids: Vec<Id>,
    heads: Vec<Box<str>>,
    /// Per question, how many options a student's `option_order` orders (0: none).
    shuffled_options: Vec<usize>,
    /// `[q1,q2,…]` in creation order, for contests without shuffling.
    in_order: Box<str>,
}

/// A question as students see it.
#[derive(Serialize)]
struct StudentQuestion<'a> {
    id: Id,
    #[serde(rename = "type")]
    kind: QuestionType,
    prompt: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    options: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scoring: Option<Scoring>,
    points: i64,
}

/// The document `render` writes before the questions, borrowing the fixed parts; the field
/// order is the API's, `questions` last.
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
    #[serde(skip_serializing_if = "Option::is_none")]
    my_window: Option<&'a MyWindow>,
}

impl Pieces {
    fn new(questions: &[Question], shuffle: Shuffle) -> Result<Self, serde_json::Error> {
        let mut heads = Vec::with_capacity(questions.len());
        let mut in_order = String::from("[");
        for (i, q) in questions.iter().enumerate() {
            let kind = q.kind();
            let mut json = serde_json::to_string(&StudentQuestion {
                id: q.id,
                kind,
                prompt: &q.prompt,
                options: kind.has_options().then_some(q.options.as_slice()),
                scoring: match q.key {
                    crate::grading::Key::Multiple { scoring, .. } => Some(scoring),
                    _ => None,
                },
                points: q.points,
            })?;
            if i > 0 {
                in_order.push(',');
            }
            in_order.push_str(&json);
            json.pop(); // the closing brace
            heads.push(json.into_boxed_str());
        }
        in_order.push(']');
        Ok(Pieces {
            ids: questions.iter().map(|q| q.id).collect(),
            heads,
            shuffled_options: questions
                .iter()
                .map(|q| {
                    if shuffle.options && q.kind().has_options() {
                        q.options.len()
                    } else {
                        0
                    }
                })
                .collect(),
            in_order: in_order.into_boxed_str(),
        })
    }

    /// About how many bytes a rendering takes (room for `option_order`s included).
    fn size_hint(&self) -> usize {
        self.in_order.len() + self.heads.len() * 32
    }

    /// The list in `student`'s order, with their `option_order`s.
    fn write(&self, out: &mut Vec<u8>, contest: Id, student: Option<Id>, shuffle: Shuffle) {
        let Some(student) = student.filter(|_| shuffle.questions || shuffle.options) else {
            out.extend_from_slice(self.in_order.as_bytes());
            return;
        };
        let order = if shuffle.questions {
            question_order(contest, student, &self.ids)
        } else {
            (0..self.ids.len()).collect()
        };
        out.push(b'[');
        for (n, &i) in order.iter().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            out.extend_from_slice(self.heads[i].as_bytes());
            let count = self.shuffled_options[i];
            if count > 0 {
                out.extend_from_slice(b",\"option_order\":[");
                for (k, o) in option_order(contest, self.ids[i], student, count)
                    .into_iter()
                    .enumerate()
                {
                    if k > 0 {
                        out.push(b',');
                    }
                    // Writing to a Vec cannot fail.
                    let _ = write!(out, "{o}");
                }
                out.push(b']');
            }
            out.push(b'}');
        }
        out.push(b']');
    }
}

impl StudentView {
    /// Serializes the questions (once per load of the contest or change of its questions).
    pub fn new(contest: &Contest, questions: &[Question]) -> Result<Self, serde_json::Error> {
        let pieces = Pieces::new(questions, contest.shuffle)?;
        Ok(Self::fixed(contest, Arc::new(pieces)))
    }

    /// The view after an admin changed the contest (title, times, active flag): the questions
    /// stay as they are, so nothing is serialized again.
    pub fn with_contest(&self, contest: &Contest) -> Self {
        Self::fixed(contest, self.0.questions.clone())
    }

    fn fixed(contest: &Contest, questions: Arc<Pieces>) -> Self {
        StudentView(Arc::new(Fixed {
            id: contest.id,
            course_id: contest.course_id,
            title: contest.title.clone(),
            start_time: contest.start_time,
            end_time: contest.end_time,
            results: contest.results,
            shuffle: contest.shuffle,
            questions,
        }))
    }

    pub fn status(&self, now: DateTime<Utc>) -> ContestStatus {
        ContestStatus::at(self.0.start_time, self.0.end_time, now)
    }

    /// The whole JSON document for `now`, in `student`'s order (creation order for `None`).
    /// A student on a window of their own (`my_window`) sees its times and status.
    pub fn render(
        &self,
        now: DateTime<Utc>,
        student: Option<Id>,
        my_window: Option<&MyWindow>,
    ) -> Result<Vec<u8>, serde_json::Error> {
        let fixed = &*self.0;
        let (start_time, end_time) = my_window.map_or((fixed.start_time, fixed.end_time), |w| {
            (w.start_time, w.end_time)
        });
        let status = ContestStatus::at(start_time, end_time, now);
        let doc = Rendered {
            id: fixed.id,
            course_id: fixed.course_id,
            title: &fixed.title,
            start_time,
            end_time,
            results: fixed.results,
            status,
            server_time: Millis(now),
            my_window,
        };
        // Room for the questions, the title and the rest (about 200 bytes), so that the
        // document is usually written with one allocation.
        let listed = match status {
            ContestStatus::Upcoming => 2,
            ContestStatus::Open | ContestStatus::Closed => fixed.questions.size_hint(),
        };
        let mut out = Vec::with_capacity(listed + fixed.title.len() + 256);
        // The object without its closing brace, then the questions.
        serde_json::to_writer(&mut out, &doc)?;
        out.pop();
        out.extend_from_slice(b",\"questions\":");
        match status {
            ContestStatus::Upcoming => out.extend_from_slice(b"[]"),
            ContestStatus::Open | ContestStatus::Closed => {
                fixed
                    .questions
                    .write(&mut out, fixed.id, student, fixed.shuffle)
            }
        }
        out.push(b'}');
        Ok(out)
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

/// A contest as admins see it: every question with its key, `is_active` and `shuffle`.
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
    shuffle: Shuffle,
    grace_seconds: i64,
    duration_minutes: Option<i64>,
    questions: Vec<AdminQuestion<'a>>,
}

/// A question as admins see it: the student's fields, then the key's.
#[derive(Serialize)]
pub struct AdminQuestion<'a> {
    id: Id,
    #[serde(rename = "type")]
    kind: QuestionType,
    prompt: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    options: Option<&'a [String]>,
    points: i64,
    #[serde(flatten)]
    key: KeyFields,
}

impl<'a> AdminQuestion<'a> {
    pub fn new(q: &'a Question) -> Self {
        let kind = q.kind();
        AdminQuestion {
            id: q.id,
            kind,
            prompt: &q.prompt,
            options: kind.has_options().then_some(q.options.as_slice()),
            points: q.points,
            key: q.key.fields(),
        }
    }
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
            shuffle: contest.shuffle,
            grace_seconds: contest.grace_seconds,
            duration_minutes: contest.duration_minutes,
            questions: questions.iter().map(AdminQuestion::new).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{SecondsFormat, TimeDelta};

    use super::*;
    use crate::grading::Key;

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
            shuffle: Shuffle::default(),
            grace_seconds: 0,
            duration_minutes: None,
        }
    }

    fn questions() -> Vec<Question> {
        vec![
            Question {
                id: 100,
                prompt: "2 + 2?".into(),
                options: vec!["3".into(), "4".into()],
                key: Key::Single { correct: 1 },
                points: 2,
            },
            Question {
                id: 101,
                prompt: "<b>\\</b>".into(),
                options: vec!["x".into(), "y".into(), "z".into()],
                key: Key::Single { correct: 0 },
                points: 0,
            },
        ]
    }

    /// One question of each type, the multiple one partial.
    fn mixed() -> Vec<Question> {
        let options = |n: usize| (0..n).map(|i| format!("o{i}")).collect::<Vec<String>>();
        vec![
            Question {
                id: 200,
                prompt: "single".into(),
                options: options(4),
                key: Key::Single { correct: 3 },
                points: 1,
            },
            Question {
                id: 201,
                prompt: "multiple".into(),
                options: options(5),
                key: Key::Multiple {
                    correct: vec![0, 4],
                    scoring: Scoring::Partial,
                },
                points: 2,
            },
            Question {
                id: 202,
                prompt: "numeric".into(),
                options: vec![],
                key: Key::Numeric {
                    value: 9.81,
                    tolerance: 0.0,
                },
                points: 3,
            },
            Question {
                id: 203,
                prompt: "text".into(),
                options: vec![],
                key: Key::text(vec!["Straße".into()]),
                points: 4,
            },
        ]
    }

    fn render(view: &StudentView, now: &str) -> String {
        String::from_utf8(view.render(at(now), Some(7), None).unwrap()).unwrap()
    }

    const HEAD: &str = r#"{"id":9,"course_id":3,"title":"Quiz \"one\" – é\n","start_time":"2026-11-28T19:00:00Z","end_time":"2026-11-28T20:30:00.250Z","results":"immediate""#;
    const QUESTIONS: &str = r#"[{"id":100,"type":"single","prompt":"2 + 2?","options":["3","4"],"points":2},{"id":101,"type":"single","prompt":"<b>\\</b>","options":["x","y","z"],"points":0}]"#;

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
            r#"{"id":9,"course_id":3,"title":"Quiz \"one\" – é\n","start_time":"2026-11-28T19:00:00Z","end_time":"2026-11-28T20:30:00.250Z","status":"upcoming","server_time":"2026-11-28T18:00:00Z","results":"immediate","is_active":false,"shuffle":{"questions":false,"options":false},"grace_seconds":0,"duration_minutes":null,"questions":[{"id":100,"type":"single","prompt":"2 + 2?","options":["3","4"],"points":2,"correct_option":1},{"id":101,"type":"single","prompt":"<b>\\</b>","options":["x","y","z"],"points":0,"correct_option":0}]}"#
        );
    }

    #[test]
    fn students_see_each_type_without_its_key() {
        let view = StudentView::new(&contest(), &mixed()).unwrap();
        let doc: serde_json::Value =
            serde_json::from_str(&render(&view, "2026-11-28T19:30:00Z")).unwrap();
        assert_eq!(
            doc["questions"],
            serde_json::json!([
                {"id": 200, "type": "single", "prompt": "single",
                 "options": ["o0", "o1", "o2", "o3"], "points": 1},
                {"id": 201, "type": "multiple", "prompt": "multiple",
                 "options": ["o0", "o1", "o2", "o3", "o4"], "scoring": "partial", "points": 2},
                {"id": 202, "type": "numeric", "prompt": "numeric", "points": 3},
                {"id": 203, "type": "text", "prompt": "text", "points": 4},
            ])
        );
    }

    #[test]
    fn admins_see_each_type_with_its_key() {
        let contest = contest();
        let questions = mixed();
        let view = AdminView::new(&contest, &questions, at("2026-11-28T18:00:00Z"));
        let doc = serde_json::to_value(&view).unwrap();
        assert_eq!(doc["questions"][0]["correct_option"], 3);
        assert_eq!(
            doc["questions"][1]["correct_options"],
            serde_json::json!([0, 4])
        );
        assert_eq!(doc["questions"][1]["scoring"], "partial");
        assert_eq!(
            doc["questions"][2]["answer"],
            serde_json::json!({"value": 9.81, "tolerance": 0})
        );
        assert_eq!(
            doc["questions"][3]["accepted"],
            serde_json::json!(["Straße"])
        );
        assert!(doc["questions"][2].get("options").is_none());
    }

    /// The ids and `option_order`s of a student's rendering.
    fn student_order(view: &StudentView, student: Id) -> Vec<(i64, Option<Vec<usize>>)> {
        let doc: serde_json::Value = serde_json::from_slice(
            &view
                .render(at("2026-11-28T19:30:00Z"), Some(student), None)
                .unwrap(),
        )
        .unwrap();
        doc["questions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|q| {
                let order = q
                    .get("option_order")
                    .map(|o| serde_json::from_value(o.clone()).unwrap());
                (q["id"].as_i64().unwrap(), order)
            })
            .collect()
    }

    #[test]
    fn shuffled_views_follow_each_student_s_order() {
        let mut contest = contest();
        contest.shuffle = Shuffle {
            questions: true,
            options: true,
        };
        let questions = mixed();
        let view = StudentView::new(&contest, &questions).unwrap();
        let ids: Vec<Id> = questions.iter().map(|q| q.id).collect();
        let mut orders = std::collections::HashSet::new();
        for student in 1..=40 {
            let got = student_order(&view, student);
            assert_eq!(got, student_order(&view, student), "stable");
            let expected: Vec<Id> = question_order(contest.id, student, &ids)
                .into_iter()
                .map(|i| ids[i])
                .collect();
            assert_eq!(got.iter().map(|(id, _)| *id).collect::<Vec<_>>(), expected);
            for (id, order) in &got {
                let q = questions.iter().find(|q| q.id == *id).unwrap();
                match q.kind() {
                    QuestionType::Single | QuestionType::Multiple => assert_eq!(
                        order.as_deref(),
                        Some(&option_order(contest.id, q.id, student, q.options.len())[..])
                    ),
                    _ => assert_eq!(order, &None, "no option_order on {:?}", q.kind()),
                }
            }
            orders.insert(got);
        }
        assert!(orders.len() > 10, "students get orders of their own");
        // Options only: creation order of the questions, options shuffled.
        contest.shuffle.questions = false;
        let view = StudentView::new(&contest, &questions).unwrap();
        let got = student_order(&view, 5);
        assert_eq!(got.iter().map(|(id, _)| *id).collect::<Vec<_>>(), ids);
        assert!(got[0].1.is_some());
        // No shuffling: no option_order anywhere.
        contest.shuffle.options = false;
        let view = StudentView::new(&contest, &questions).unwrap();
        assert!(student_order(&view, 5).iter().all(|(_, o)| o.is_none()));
    }
}
