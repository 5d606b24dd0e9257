//! What a test sets up before it checks anything: students, courses, enrolments, contests and
//! their creation bodies, answers.

use std::sync::atomic::Ordering;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{id_of, open_window, rfc3339, str_field, TestApp, STUDENT_PW};

impl TestApp {
    fn next(&self) -> usize {
        self.counter.fetch_add(1, Ordering::Relaxed)
    }

    /// Creates `n` students (password `STUDENT_PW`) in one bulk call: `(id, username)`.
    pub async fn create_students(&self, n: usize) -> Vec<(i64, String)> {
        let users: Vec<Value> = (0..n)
            .map(|_| {
                json!({ "username": format!("student{:04}", self.next()),
                             "password": STUDENT_PW, "role": "student" })
            })
            .collect();
        let token = self.admin_token().await;
        let (status, body) = self
            .post(
                "/api/users/bulk",
                Some(&token),
                Some(json!({ "users": users })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "bulk create: {body}");
        body["users"]
            .as_array()
            .expect("users")
            .iter()
            .map(|u| (id_of(u), str_field(u, "username").to_string()))
            .collect()
    }

    /// One student: `(id, username, token)`.
    pub async fn student(&self) -> (i64, String, String) {
        let (id, username) = self.create_students(1).await.remove(0);
        let token = self.login(&username, STUDENT_PW).await;
        (id, username, token)
    }

    /// Creates a course with a unique code; returns its id.
    pub async fn create_course(&self) -> i64 {
        let code = format!("C{:04}", self.next());
        let token = self.admin_token().await;
        let body = json!({ "code": code, "title": format!("Course {code}") });
        let (status, course) = self.post("/api/courses", Some(&token), Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "create course: {course}");
        id_of(&course)
    }

    pub async fn enroll(&self, course_id: i64, student_ids: &[i64]) {
        let token = self.admin_token().await;
        let body = json!({ "student_ids": student_ids });
        let path = format!("/api/courses/{course_id}/enrollments");
        let (status, answer) = self.put(&path, Some(&token), Some(body)).await;
        assert_eq!(status, StatusCode::OK, "enroll: {answer}");
    }

    /// Creates a contest with two questions (the second worth 2 points, the first the default);
    /// `results` is left out when `None`. Returns the admin view.
    pub async fn create_contest(
        &self,
        course_id: i64,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        results: Option<&str>,
    ) -> Value {
        let mut body = contest_body(course_id, start, end);
        if let Some(results) = results {
            body["results"] = json!(results);
        }
        self.create_contest_from(body).await
    }

    /// Creates a contest from a whole creation body; returns the admin view.
    pub async fn create_contest_from(&self, body: Value) -> Value {
        let token = self.admin_token().await;
        let (status, contest) = self.post("/api/contests", Some(&token), Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "create contest: {contest}");
        contest
    }

    /// Creates `n` students in one bulk call and logs them in, 64 at a time (each login
    /// commits a session: thousands at once would queue past the pool's acquire timeout on a
    /// busy machine; tests that want a stampede make their own).
    pub async fn logged_in_students(&self, n: usize) -> Vec<Student> {
        use futures::StreamExt;
        let created = self.create_students(n).await;
        let tokens: Vec<String> = futures::stream::iter(&created)
            .map(|(_, username)| self.login(username, STUDENT_PW))
            .buffered(64)
            .collect()
            .await;
        created
            .into_iter()
            .zip(tokens)
            .map(|((id, username), token)| Student {
                id,
                username,
                token,
            })
            .collect()
    }

    /// A course with `n` enrolled, logged-in students and a contest on it (the two questions of
    /// `contest_body`) open now, with the given `results` policy.
    pub async fn open_contest_with_students(
        &self,
        n: usize,
        results: Option<&str>,
    ) -> (Value, Vec<Student>) {
        let course = self.create_course().await;
        let students = self.logged_in_students(n).await;
        if !students.is_empty() {
            let ids: Vec<i64> = students.iter().map(|s| s.id).collect();
            self.enroll(course, &ids).await;
        }
        let (start, end) = open_window();
        let contest = self.create_contest(course, start, end, results).await;
        (contest, students)
    }
}

/// A logged-in student.
#[derive(Debug, Clone)]
pub struct Student {
    pub id: i64,
    pub username: String,
    pub token: String,
}

/// An `answers` array from `(question_id, option)` pairs.
pub fn answers(pairs: &[(i64, i64)]) -> Value {
    Value::Array(
        pairs
            .iter()
            .map(|(q, o)| json!({ "question_id": q, "option": o }))
            .collect(),
    )
}

/// The ids of the contest's questions, in order (from an admin view).
#[track_caller]
pub fn question_ids(contest: &Value) -> Vec<i64> {
    contest["questions"]
        .as_array()
        .unwrap_or_else(|| panic!("questions in {contest}"))
        .iter()
        .map(id_of)
        .collect()
}

/// A contest creation body: two questions, the second worth 2 points.
pub fn contest_body(course_id: i64, start: DateTime<Utc>, end: DateTime<Utc>) -> Value {
    json!({
        "course_id": course_id,
        "title": "Quiz",
        "start_time": rfc3339(start),
        "end_time": rfc3339(end),
        "questions": [
            { "prompt": "2 + 2?", "options": ["3", "4", "5"], "correct_option": 1 },
            { "prompt": "Capital of France?", "options": ["Paris", "Rome"], "correct_option": 0,
              "points": 2 },
        ],
    })
}
