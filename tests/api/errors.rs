//! The one error shape, for framework-level failures too, and the order of the checks.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{assert_error, contest_body, id_of, open_window, TestApp};

both_databases!(
    malformed_json_is_400,
    wrong_types_are_400,
    missing_fields_are_400,
    unknown_fields_are_400,
    unknown_route_is_404,
    non_numeric_path_id_is_404,
    oversized_body_is_413,
    body_under_the_limit_is_read,
    bad_token_comes_before_bad_body,
    role_comes_before_bad_body,
    missing_resource_comes_before_bad_body,
    type_errors_name_the_field,
);

const MALFORMED: &str = r#"{"code": "CS1", "title": "#;

async fn malformed_json_is_400(app: &TestApp) {
    let admin = app.admin_token().await;
    let course = app.create_course().await;
    let (start, end) = open_window();
    let contest = id_of(&app.create_contest(course, start, end, None).await);
    let enroll = format!("/api/courses/{course}/enrollments");
    let patch = format!("/api/contests/{contest}");
    let cases = [
        (Method::POST, "/api/auth/login", None),
        (Method::POST, "/api/users", Some(&admin)),
        (Method::POST, "/api/users/bulk", Some(&admin)),
        (Method::POST, "/api/courses", Some(&admin)),
        (Method::PUT, enroll.as_str(), Some(&admin)),
        (Method::POST, "/api/contests", Some(&admin)),
        (Method::PATCH, patch.as_str(), Some(&admin)),
    ];
    for (method, path, token) in cases {
        for body in [MALFORMED, "", "not json", "[1, 2]", "null"] {
            let resp = app
                .raw(method.clone(), path, token.map(String::as_str), body)
                .await;
            assert_error(&resp, StatusCode::BAD_REQUEST, "bad_request");
        }
    }
    // A form content type does not get past the JSON parser either.
    let resp = app
        .client()
        .post(app.url("/api/courses"))
        .bearer_auth(&admin)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("code=CS1&title=Intro")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_error(
        &(StatusCode::BAD_REQUEST, body),
        StatusCode::BAD_REQUEST,
        "bad_request",
    );
}

async fn wrong_types_are_400(app: &TestApp) {
    let admin = app.admin_token().await;
    let course = app.create_course().await;
    let (start, end) = open_window();
    let mut contest = contest_body(course, start, end);
    contest["course_id"] = json!("one");
    let mut question_type = contest_body(course, start, end);
    question_type["questions"][0]["correct_option"] = json!("1");
    let cases = [
        (
            "/api/auth/login",
            json!({ "username": "admin", "password": 12345678 }),
        ),
        (
            "/api/users",
            json!({ "username": "u1", "password": "password", "role": 1 }),
        ),
        (
            "/api/users",
            json!({ "username": ["u1"], "password": "password", "role": "student" }),
        ),
        ("/api/users/bulk", json!({ "users": { "username": "u1" } })),
        ("/api/courses", json!({ "code": 101, "title": "Intro" })),
        ("/api/contests", contest),
        ("/api/contests", question_type),
    ];
    for (path, body) in cases {
        let resp = app.post(path, Some(&admin), Some(body.clone())).await;
        assert_error(&resp, StatusCode::BAD_REQUEST, "bad_request");
    }
    let enroll = format!("/api/courses/{course}/enrollments");
    for ids in [json!("1,2"), json!(["1"]), json!([1.5]), json!(null)] {
        let resp = app
            .put(&enroll, Some(&admin), Some(json!({ "student_ids": ids })))
            .await;
        assert_error(&resp, StatusCode::BAD_REQUEST, "bad_request");
    }
    let (status, list) = app.get("/api/courses", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        list["courses"].as_array().map(Vec::len),
        Some(1),
        "nothing created"
    );
}

async fn missing_fields_are_400(app: &TestApp) {
    let admin = app.admin_token().await;
    let course = app.create_course().await;
    let (start, end) = open_window();
    let mut contest = contest_body(course, start, end);
    contest.as_object_mut().unwrap().remove("questions");
    let mut question = contest_body(course, start, end);
    question["questions"][0]
        .as_object_mut()
        .unwrap()
        .remove("options");
    let cases = [
        (
            "/api/auth/login",
            json!({ "username": "admin" }),
            "password",
        ),
        (
            "/api/users",
            json!({ "username": "u1", "role": "student" }),
            "password",
        ),
        ("/api/users/bulk", json!({}), "users"),
        ("/api/courses", json!({ "title": "Intro" }), "code"),
        ("/api/contests", contest, "questions"),
        ("/api/contests", question, "options"),
    ];
    for (path, body, field) in cases {
        let resp = app.post(path, Some(&admin), Some(body.clone())).await;
        let message = assert_error(&resp, StatusCode::BAD_REQUEST, "bad_request");
        assert!(
            message.contains(field),
            "{path} {body}: names `{field}`: {message}"
        );
    }
    let enroll = format!("/api/courses/{course}/enrollments");
    let resp = app.put(&enroll, Some(&admin), Some(json!({}))).await;
    let message = assert_error(&resp, StatusCode::BAD_REQUEST, "bad_request");
    assert!(
        message.contains("student_ids"),
        "names the field: {message}"
    );
}

async fn unknown_fields_are_400(app: &TestApp) {
    let admin = app.admin_token().await;
    let body = json!({ "code": "CS1", "title": "Intro", "colour": "blue" });
    let resp = app.post("/api/courses", Some(&admin), Some(body)).await;
    let message = assert_error(&resp, StatusCode::BAD_REQUEST, "bad_request");
    assert!(message.contains("colour"), "names the field: {message}");
}

async fn unknown_route_is_404(app: &TestApp) {
    let admin = app.admin_token().await;
    for path in [
        "/nope",
        "/api",
        "/api/nope",
        "/api/contests/1/nope",
        "/api/courses/1",
    ] {
        for token in [None, Some(admin.as_str())] {
            let resp = app.get(path, token).await;
            assert_error(&resp, StatusCode::NOT_FOUND, "not_found");
        }
    }
    let resp = app.post("/api/nope", Some(&admin), Some(json!({}))).await;
    assert_error(&resp, StatusCode::NOT_FOUND, "not_found");

    // A known route with the wrong method keeps the shape too.
    let resp = app.delete("/api/courses", Some(&admin)).await;
    assert_error(&resp, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
}

/// A path segment that is not an id names no resource: 404 with the usual shape.
async fn non_numeric_path_id_is_404(app: &TestApp) {
    let admin = app.admin_token().await;
    let course = app.create_course().await;
    let too_big = "99999999999999999999";
    let cases = [
        (Method::GET, "/api/contests/abc".to_string()),
        (Method::GET, format!("/api/contests/{too_big}")),
        (Method::GET, "/api/contests/1.5".to_string()),
        (Method::PATCH, "/api/contests/abc".to_string()),
        (Method::PUT, "/api/courses/abc/enrollments".to_string()),
        (Method::DELETE, "/api/courses/abc/enrollments/1".to_string()),
        (
            Method::DELETE,
            format!("/api/courses/{course}/enrollments/abc"),
        ),
    ];
    for (method, path) in cases {
        let resp = app
            .request(method, &path, Some(&admin), Some(json!({})))
            .await;
        assert_error(&resp, StatusCode::NOT_FOUND, "not_found");
    }
}

/// A JSON body of `n` bytes or more: a course whose title is padded.
fn padded_course(n: usize) -> String {
    format!(r#"{{"code": "BIG", "title": "{}"}}"#, "x".repeat(n))
}

async fn oversized_body_is_413(app: &TestApp) {
    let admin = app.admin_token().await;
    let course = app.create_course().await;
    let (start, end) = open_window();
    let contest = id_of(&app.create_contest(course, start, end, None).await);
    let big = 300 * 1024;

    let resp = app
        .raw(
            Method::POST,
            "/api/courses",
            Some(&admin),
            padded_course(big),
        )
        .await;
    assert_error(&resp, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");

    // The bulk endpoint is the one exception: 10,000 users do not fit in 256 KiB, so it takes
    // up to 4 MiB. A valid 4,000-user body over 256 KiB is created...
    let users = |n: usize, password: &str| -> Vec<u8> {
        let users: Vec<_> = (0..n)
            .map(|i| json!({ "username": format!("user{i:05}"), "password": password, "role": "student" }))
            .collect();
        serde_json::to_vec(&json!({ "users": users })).unwrap()
    };
    let body = users(4000, "password-1234567890");
    assert!(body.len() > 256 * 1024);
    let resp = app
        .raw(Method::POST, "/api/users/bulk", Some(&admin), body)
        .await;
    assert_eq!(resp.0, StatusCode::CREATED, "{}", resp.1);
    // ...and one over 4 MiB is refused, creating nothing.
    let body = users(25_000, &"p".repeat(128));
    assert!(body.len() > 4 * 1024 * 1024);
    let resp = app
        .raw(Method::POST, "/api/users/bulk", Some(&admin), body)
        .await;
    assert_error(&resp, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    let (status, _) = app.try_login("user24999", &"p".repeat(128)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "nothing was created");

    // Handlers that read the body themselves (to check the resource first) have the limit too.
    let ids: Vec<i64> = (1..=60_000).collect();
    let body = serde_json::to_vec(&json!({ "student_ids": ids })).unwrap();
    assert!(body.len() > 256 * 1024);
    let path = format!("/api/courses/{course}/enrollments");
    let resp = app.raw(Method::PUT, &path, Some(&admin), body).await;
    assert_error(&resp, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");

    let body = format!(r#"{{"title": "{}"}}"#, "x".repeat(big));
    let resp = app
        .raw(
            Method::PATCH,
            &format!("/api/contests/{contest}"),
            Some(&admin),
            body,
        )
        .await;
    assert_error(&resp, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");

    // The server still answers normally afterwards.
    let (status, list) = app.get("/api/courses", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["courses"].as_array().map(Vec::len), Some(1));
}

/// Just under 256 KiB is read and judged on its content (here: a title that is too long).
async fn body_under_the_limit_is_read(app: &TestApp) {
    let admin = app.admin_token().await;
    let body = padded_course(250 * 1024);
    assert!(body.len() < 256 * 1024);
    let resp = app
        .raw(Method::POST, "/api/courses", Some(&admin), body)
        .await;
    let message = assert_error(&resp, StatusCode::BAD_REQUEST, "bad_request");
    assert!(message.contains("title"), "{message}");
}

async fn bad_token_comes_before_bad_body(app: &TestApp) {
    let course = app.create_course().await;
    let enroll = format!("/api/courses/{course}/enrollments");
    let cases = [
        (Method::POST, "/api/users"),
        (Method::POST, "/api/courses"),
        (Method::POST, "/api/contests"),
        (Method::PUT, enroll.as_str()),
        (Method::PATCH, "/api/contests/424242"),
        (Method::POST, "/api/auth/logout"),
    ];
    for (method, path) in cases {
        for token in [Some("garbage"), None] {
            let resp = app.raw(method.clone(), path, token, MALFORMED).await;
            assert_error(&resp, StatusCode::UNAUTHORIZED, "unauthorized");
        }
    }
}

async fn role_comes_before_bad_body(app: &TestApp) {
    let course = app.create_course().await;
    let (_, _, student) = app.student().await;
    let enroll = format!("/api/courses/{course}/enrollments");
    let cases = [
        (Method::POST, "/api/users"),
        (Method::POST, "/api/users/bulk"),
        (Method::POST, "/api/courses"),
        (Method::POST, "/api/contests"),
        (Method::PUT, enroll.as_str()),
        (Method::PUT, "/api/courses/424242/enrollments"),
        (Method::PATCH, "/api/contests/424242"),
    ];
    for (method, path) in cases {
        let resp = app
            .raw(method.clone(), path, Some(&student), MALFORMED)
            .await;
        assert_error(&resp, StatusCode::FORBIDDEN, "forbidden");
    }
}

async fn missing_resource_comes_before_bad_body(app: &TestApp) {
    let admin = app.admin_token().await;
    let cases = [
        (Method::PUT, "/api/courses/424242/enrollments"),
        (Method::PATCH, "/api/contests/424242"),
    ];
    for (method, path) in cases {
        for body in [MALFORMED, "", r#"{"student_ids": "x", "title": 5}"#] {
            let resp = app.raw(method.clone(), path, Some(&admin), body).await;
            assert_error(&resp, StatusCode::NOT_FOUND, "not_found");
        }
    }
}

/// "The message names the offending field where there is one": for values of the wrong type
/// or outside an enum too, not only for missing fields.
async fn type_errors_name_the_field(app: &TestApp) {
    let admin = app.admin_token().await;
    let course = app.create_course().await;
    let (start, end) = open_window();
    let contest = id_of(&app.create_contest(course, start, end, None).await);
    let with = |field: &str, value: serde_json::Value| {
        let mut body = contest_body(course, start, end);
        body[field] = value;
        body
    };
    let mut bad_option = contest_body(course, start, end);
    bad_option["questions"][1]["correct_option"] = json!("1");
    let cases = [
        (
            Method::POST,
            "/api/auth/login".to_string(),
            json!({ "username": "admin", "password": 5 }),
            "password",
        ),
        (
            Method::POST,
            "/api/users".to_string(),
            json!({ "username": "u1", "password": "password", "role": "teacher" }),
            "role",
        ),
        (
            Method::POST,
            "/api/users".to_string(),
            json!({ "username": 7, "password": "password", "role": "student" }),
            "username",
        ),
        (
            Method::POST,
            "/api/courses".to_string(),
            json!({ "code": 101, "title": "Intro" }),
            "code",
        ),
        (
            Method::POST,
            "/api/contests".to_string(),
            with("course_id", json!("one")),
            "course_id",
        ),
        (
            Method::POST,
            "/api/contests".to_string(),
            with("start_time", json!("tomorrow")),
            "start_time",
        ),
        (
            Method::POST,
            "/api/contests".to_string(),
            with("results", json!("never")),
            "results",
        ),
        (
            Method::POST,
            "/api/contests".to_string(),
            bad_option,
            "correct_option",
        ),
        (
            Method::PUT,
            format!("/api/courses/{course}/enrollments"),
            json!({ "student_ids": "1,2" }),
            "student_ids",
        ),
        (
            Method::PATCH,
            format!("/api/contests/{contest}"),
            json!({ "is_active": "no" }),
            "is_active",
        ),
    ];
    let mut unnamed = Vec::new();
    for (method, path, body, field) in cases {
        let resp = app
            .request(method.clone(), &path, Some(&admin), Some(body))
            .await;
        let message = assert_error(&resp, StatusCode::BAD_REQUEST, "bad_request");
        if !message.contains(field) {
            unnamed.push(format!("{method} {path}: `{field}` not in {message:?}"));
        }
    }
    assert!(
        unnamed.is_empty(),
        "messages that do not name the field:\n{}",
        unnamed.join("\n")
    );
}
