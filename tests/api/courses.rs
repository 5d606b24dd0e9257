//! Courses and enrollments.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{assert_error, assert_keys, id_of, open_window, TestApp, STUDENT_PW};

both_databases!(
    create_course_returns_201,
    create_course_taken_code_is_409,
    create_course_invalid_fields_are_400,
    create_course_requires_admin,
    list_courses_admin_sees_all,
    list_courses_student_sees_active_enrollments_only,
    list_courses_requires_token,
    enroll_returns_count_and_is_idempotent,
    enroll_reactivates_after_delete,
    enroll_non_student_is_400_and_changes_nothing,
    enroll_unknown_course_is_404,
    enroll_empty_list_is_400,
    enroll_requires_admin,
    unenroll_returns_204_and_revokes_access,
    unenroll_unknown_is_404,
    unenroll_requires_admin,
);

/// The course ids a caller sees in `GET /api/courses`.
async fn course_ids(app: &TestApp, token: &str) -> Vec<i64> {
    let (status, body) = app.get("/api/courses", Some(token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_keys(&body, &["courses"]);
    body["courses"]
        .as_array()
        .expect("courses")
        .iter()
        .map(id_of)
        .collect()
}

fn enrollments(course_id: i64) -> String {
    format!("/api/courses/{course_id}/enrollments")
}

async fn create_course_returns_201(app: &TestApp) {
    let token = app.admin_token().await;
    let body = json!({ "code": "CS101", "title": "Intro to CS" });
    let (status, course) = app.post("/api/courses", Some(&token), Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{course}");
    assert_keys(&course, &["id", "code", "title"]);
    assert_eq!(course["code"], "CS101");
    assert_eq!(course["title"], "Intro to CS");

    let (status, list) = app.get("/api/courses", Some(&token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["courses"], json!([course]));
}

async fn create_course_taken_code_is_409(app: &TestApp) {
    let token = app.admin_token().await;
    let body = json!({ "code": "CS101", "title": "Intro" });
    let (status, _) = app.post("/api/courses", Some(&token), Some(body)).await;
    assert_eq!(status, StatusCode::CREATED);
    let again = json!({ "code": "CS101", "title": "Another title" });
    let resp = app.post("/api/courses", Some(&token), Some(again)).await;
    assert_error(&resp, StatusCode::CONFLICT, "conflict");
    assert_eq!(course_ids(app, &token).await.len(), 1, "no second course");
}

async fn create_course_invalid_fields_are_400(app: &TestApp) {
    let token = app.admin_token().await;
    let cases = [
        (json!({ "code": "", "title": "Intro" }), "code"),
        (json!({ "code": "   ", "title": "Intro" }), "code"),
        (json!({ "title": "Intro" }), "code"),
        (json!({ "code": "CS1", "title": "" }), "title"),
        (json!({ "code": "CS1" }), "title"),
    ];
    for (body, field) in cases {
        let resp = app
            .post("/api/courses", Some(&token), Some(body.clone()))
            .await;
        let message = assert_error(&resp, StatusCode::BAD_REQUEST, "bad_request");
        assert!(
            message.contains(field),
            "{body}: message names `{field}`: {message}"
        );
    }
    assert!(course_ids(app, &token).await.is_empty(), "nothing created");
}

async fn create_course_requires_admin(app: &TestApp) {
    let body = json!({ "code": "CS101", "title": "Intro" });
    let resp = app.post("/api/courses", None, Some(body.clone())).await;
    assert_error(&resp, StatusCode::UNAUTHORIZED, "unauthorized");
    let (_, _, student) = app.student().await;
    let resp = app.post("/api/courses", Some(&student), Some(body)).await;
    assert_error(&resp, StatusCode::FORBIDDEN, "forbidden");
    let admin = app.admin_token().await;
    assert!(course_ids(app, &admin).await.is_empty(), "nothing created");
}

async fn list_courses_admin_sees_all(app: &TestApp) {
    let mut created = vec![
        app.create_course().await,
        app.create_course().await,
        app.create_course().await,
    ];
    // Enrollments do not matter to admins.
    let (student, _, _) = app.student().await;
    app.enroll(created[1], &[student]).await;
    let token = app.admin_token().await;
    let mut listed = course_ids(app, &token).await;
    created.sort_unstable();
    listed.sort_unstable();
    assert_eq!(listed, created);
}

async fn list_courses_student_sees_active_enrollments_only(app: &TestApp) {
    let a = app.create_course().await;
    let b = app.create_course().await;
    let _c = app.create_course().await;
    let (me, _, token) = app.student().await;
    let (other, _, other_token) = app.student().await;
    app.enroll(a, &[me]).await;
    app.enroll(b, &[other]).await;

    assert_eq!(course_ids(app, &token).await, vec![a]);
    assert_eq!(course_ids(app, &other_token).await, vec![b]);
    // The entries have the course's fields.
    let (_, body) = app.get("/api/courses", Some(&token)).await;
    assert_keys(&body["courses"][0], &["id", "code", "title"]);

    let admin = app.admin_token().await;
    let (status, _) = app
        .delete(&format!("/api/courses/{a}/enrollments/{me}"), Some(&admin))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(
        course_ids(app, &token).await.is_empty(),
        "not after the enrollment is deleted"
    );
    assert_eq!(
        course_ids(app, &other_token).await,
        vec![b],
        "others unaffected"
    );
}

async fn list_courses_requires_token(app: &TestApp) {
    let resp = app.get("/api/courses", None).await;
    assert_error(&resp, StatusCode::UNAUTHORIZED, "unauthorized");
}

async fn enroll_returns_count_and_is_idempotent(app: &TestApp) {
    let course = app.create_course().await;
    let students = app.create_students(3).await;
    let ids: Vec<i64> = students.iter().map(|(id, _)| *id).collect();
    let admin = app.admin_token().await;

    let body = json!({ "student_ids": ids[..2] });
    let (status, answer) = app
        .put(&enrollments(course), Some(&admin), Some(body.clone()))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer, json!({ "enrolled": 2 }));

    let (status, answer) = app
        .put(&enrollments(course), Some(&admin), Some(body))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer, json!({ "enrolled": 2 }), "idempotent");

    let body = json!({ "student_ids": ids });
    let (status, answer) = app
        .put(&enrollments(course), Some(&admin), Some(body))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer, json!({ "enrolled": 3 }));

    for (_, username) in &students {
        let token = app.login(username, STUDENT_PW).await;
        assert_eq!(
            course_ids(app, &token).await,
            vec![course],
            "{username} sees it once"
        );
    }
}

async fn enroll_reactivates_after_delete(app: &TestApp) {
    let course = app.create_course().await;
    let (start, end) = open_window();
    let contest = id_of(&app.create_contest(course, start, end, None).await);
    let (me, _, token) = app.student().await;
    let admin = app.admin_token().await;
    app.enroll(course, &[me]).await;

    let (status, _) = app
        .delete(
            &format!("/api/courses/{course}/enrollments/{me}"),
            Some(&admin),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(course_ids(app, &token).await.is_empty());

    let (status, answer) = app
        .put(
            &enrollments(course),
            Some(&admin),
            Some(json!({ "student_ids": [me] })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer, json!({ "enrolled": 1 }));
    assert_eq!(course_ids(app, &token).await, vec![course], "active again");
    let (status, body) = app
        .get(&format!("/api/contests/{contest}"), Some(&token))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn enroll_non_student_is_400_and_changes_nothing(app: &TestApp) {
    let course = app.create_course().await;
    let (me, _, token) = app.student().await;
    let admin_id = app.admin_id().await;
    let admin = app.admin_token().await;
    let unknown = 987_654;

    for bad in [admin_id, unknown] {
        let body = json!({ "student_ids": [me, bad] });
        let resp = app
            .put(&enrollments(course), Some(&admin), Some(body))
            .await;
        let message = assert_error(&resp, StatusCode::BAD_REQUEST, "bad_request");
        assert!(
            message.contains(&bad.to_string()),
            "names id {bad}: {message}"
        );
        assert!(
            course_ids(app, &token).await.is_empty(),
            "the student was not enrolled"
        );
    }

    // Both bad ids are named.
    let body = json!({ "student_ids": [admin_id, me, unknown] });
    let resp = app
        .put(&enrollments(course), Some(&admin), Some(body))
        .await;
    let message = assert_error(&resp, StatusCode::BAD_REQUEST, "bad_request");
    assert!(
        message.contains(&admin_id.to_string()),
        "names {admin_id}: {message}"
    );
    assert!(
        message.contains(&unknown.to_string()),
        "names {unknown}: {message}"
    );
    assert!(
        course_ids(app, &token).await.is_empty(),
        "the student was not enrolled"
    );

    // A failed request does not undo an earlier enrollment either.
    app.enroll(course, &[me]).await;
    let body = json!({ "student_ids": [me, unknown] });
    let resp = app
        .put(&enrollments(course), Some(&admin), Some(body))
        .await;
    assert_error(&resp, StatusCode::BAD_REQUEST, "bad_request");
    assert_eq!(course_ids(app, &token).await, vec![course]);
}

async fn enroll_unknown_course_is_404(app: &TestApp) {
    let (me, _, _) = app.student().await;
    let admin = app.admin_token().await;
    let resp = app
        .put(
            &enrollments(424_242),
            Some(&admin),
            Some(json!({ "student_ids": [me] })),
        )
        .await;
    assert_error(&resp, StatusCode::NOT_FOUND, "not_found");
}

async fn enroll_empty_list_is_400(app: &TestApp) {
    let course = app.create_course().await;
    let admin = app.admin_token().await;
    let resp = app
        .put(
            &enrollments(course),
            Some(&admin),
            Some(json!({ "student_ids": [] })),
        )
        .await;
    let message = assert_error(&resp, StatusCode::BAD_REQUEST, "bad_request");
    assert!(
        message.contains("student_ids"),
        "names the field: {message}"
    );
    let resp = app
        .put(&enrollments(course), Some(&admin), Some(json!({})))
        .await;
    let message = assert_error(&resp, StatusCode::BAD_REQUEST, "bad_request");
    assert!(
        message.contains("student_ids"),
        "names the field: {message}"
    );
}

async fn enroll_requires_admin(app: &TestApp) {
    let course = app.create_course().await;
    let (me, _, token) = app.student().await;
    let body = json!({ "student_ids": [me] });
    let resp = app
        .put(&enrollments(course), None, Some(body.clone()))
        .await;
    assert_error(&resp, StatusCode::UNAUTHORIZED, "unauthorized");
    let resp = app
        .put(&enrollments(course), Some(&token), Some(body))
        .await;
    assert_error(&resp, StatusCode::FORBIDDEN, "forbidden");
    assert!(
        course_ids(app, &token).await.is_empty(),
        "a student cannot enroll themself"
    );
}

async fn unenroll_returns_204_and_revokes_access(app: &TestApp) {
    let course = app.create_course().await;
    let (start, end) = open_window();
    let contest = id_of(&app.create_contest(course, start, end, None).await);
    let (me, _, token) = app.student().await;
    let (other, _, other_token) = app.student().await;
    app.enroll(course, &[me, other]).await;

    // Access works, and has been looked at once (anything cached is warm).
    let path = format!("/api/contests/{contest}");
    let (status, body) = app.get(&path, Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, listed) = app.get("/api/contests", Some(&token)).await;
    assert_eq!(listed["contests"].as_array().map(Vec::len), Some(1));

    let admin = app.admin_token().await;
    let (status, body) = app
        .delete(
            &format!("/api/courses/{course}/enrollments/{me}"),
            Some(&admin),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert!(body.is_null(), "204 has no body: {body}");

    // At once: no course, no contest.
    assert!(course_ids(app, &token).await.is_empty());
    let resp = app.get(&path, Some(&token)).await;
    assert_error(&resp, StatusCode::FORBIDDEN, "not_enrolled");
    let (status, listed) = app.get("/api/contests", Some(&token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["contests"], json!([]));

    // The other student keeps access.
    let (status, _) = app.get(&path, Some(&other_token)).await;
    assert_eq!(status, StatusCode::OK);

    // Deleting an inactive enrollment again: it still exists, so 204 or 404 would both be
    // defensible; what matters is that access stays revoked.
    let (status, _) = app
        .delete(
            &format!("/api/courses/{course}/enrollments/{me}"),
            Some(&admin),
        )
        .await;
    assert!(
        status == StatusCode::NO_CONTENT || status == StatusCode::NOT_FOUND,
        "{status}"
    );
    let resp = app.get(&path, Some(&token)).await;
    assert_error(&resp, StatusCode::FORBIDDEN, "not_enrolled");
}

async fn unenroll_unknown_is_404(app: &TestApp) {
    let course = app.create_course().await;
    let (me, _, _) = app.student().await;
    let admin = app.admin_token().await;
    let cases: [(i64, i64); 3] = [(424_242, me), (course, me), (course, 987_654)];
    for (course_id, student_id) in cases {
        let path = format!("/api/courses/{course_id}/enrollments/{student_id}");
        let resp = app.delete(&path, Some(&admin)).await;
        assert_error(&resp, StatusCode::NOT_FOUND, "not_found");
    }
}

async fn unenroll_requires_admin(app: &TestApp) {
    let course = app.create_course().await;
    let (me, _, token) = app.student().await;
    app.enroll(course, &[me]).await;
    let path = format!("/api/courses/{course}/enrollments/{me}");
    let resp = app.delete(&path, None).await;
    assert_error(&resp, StatusCode::UNAUTHORIZED, "unauthorized");
    let resp = app.delete(&path, Some(&token)).await;
    assert_error(&resp, StatusCode::FORBIDDEN, "forbidden");
    let ids: Vec<i64> = course_ids(app, &token).await;
    assert_eq!(ids, vec![course], "still enrolled");
}
