//! `POST /api/users` and `POST /api/users/bulk`.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::{assert_error, assert_keys, id_of, TestApp, STUDENT_PW};

both_databases!(
    create_user_returns_201,
    create_user_accepts_boundary_values,
    create_user_taken_username_is_409,
    create_user_invalid_fields_are_400,
    create_user_requires_admin,
    bulk_creates_users_in_input_order,
    bulk_invalid_entry_creates_nothing,
    bulk_taken_username_creates_nothing,
    bulk_duplicate_username_is_400,
    bulk_empty_is_400,
    bulk_requires_admin,
);

fn user(username: &str, password: &str, role: &str) -> Value {
    json!({ "username": username, "password": password, "role": role })
}

async fn create_user_returns_201(app: &TestApp) {
    let token = app.admin_token().await;
    let (status, body) = app
        .post(
            "/api/users",
            Some(&token),
            Some(user("ada.l-1_x", STUDENT_PW, "student")),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_keys(&body, &["id", "username", "role"]);
    assert_eq!(body["username"], "ada.l-1_x");
    assert_eq!(body["role"], "student");
    let id = id_of(&body);

    let (status, login) = app.try_login("ada.l-1_x", STUDENT_PW).await;
    assert_eq!(status, StatusCode::OK, "{login}");
    assert_eq!(login["user"], body);

    // An admin created this way can do admin things.
    let (status, admin) = app
        .post(
            "/api/users",
            Some(&token),
            Some(user("boss", STUDENT_PW, "admin")),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{admin}");
    assert_eq!(admin["role"], "admin");
    assert_ne!(id_of(&admin), id);
    let boss = app.login("boss", STUDENT_PW).await;
    let (status, body) = app.get("/api/courses", Some(&boss)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .post(
            "/api/users",
            Some(&boss),
            Some(user("made-by-boss", STUDENT_PW, "student")),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

async fn create_user_accepts_boundary_values(app: &TestApp) {
    let token = app.admin_token().await;
    let long_name = "a".repeat(64);
    let cases = [
        user(&long_name, STUDENT_PW, "student"),
        user("b", "12345678", "student"),
        user("c", &"p".repeat(128), "student"),
        user("D.Z-9_", "passwörd", "student"),
    ];
    for body in cases {
        let (status, created) = app
            .post("/api/users", Some(&token), Some(body.clone()))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body} -> {created}");
        let password = body["password"].as_str().unwrap();
        let username = body["username"].as_str().unwrap();
        let (status, _) = app.try_login(username, password).await;
        assert_eq!(status, StatusCode::OK, "login as {username}");
    }
}

async fn create_user_taken_username_is_409(app: &TestApp) {
    let token = app.admin_token().await;
    let body = user("grace", STUDENT_PW, "student");
    let (status, _) = app
        .post("/api/users", Some(&token), Some(body.clone()))
        .await;
    assert_eq!(status, StatusCode::CREATED);

    let resp = app.post("/api/users", Some(&token), Some(body)).await;
    assert_error(&resp, StatusCode::CONFLICT, "conflict");
    let resp = app
        .post(
            "/api/users",
            Some(&token),
            Some(user("admin", "whatever-1", "admin")),
        )
        .await;
    assert_error(&resp, StatusCode::CONFLICT, "conflict");

    // The first user's password is untouched.
    let (status, _) = app.try_login("grace", STUDENT_PW).await;
    assert_eq!(status, StatusCode::OK);
}

async fn create_user_invalid_fields_are_400(app: &TestApp) {
    let token = app.admin_token().await;
    let cases = [
        (user("has space", STUDENT_PW, "student"), "username"),
        (user("semi;colon", STUDENT_PW, "student"), "username"),
        (user("é", STUDENT_PW, "student"), "username"),
        (user("", STUDENT_PW, "student"), "username"),
        (user(&"a".repeat(65), STUDENT_PW, "student"), "username"),
        (user("seven", "1234567", "student"), "password"),
        (user("long", &"p".repeat(129), "student"), "password"),
        // Naming the field of a type error: see errors::type_errors_name_the_field.
        (user("teach", STUDENT_PW, "teacher"), ""),
        (json!({ "username": "nopw", "role": "student" }), "password"),
        (
            json!({ "password": STUDENT_PW, "role": "student" }),
            "username",
        ),
        (
            json!({ "username": "norole", "password": STUDENT_PW }),
            "role",
        ),
    ];
    for (body, field) in cases {
        let resp = app
            .post("/api/users", Some(&token), Some(body.clone()))
            .await;
        let message = assert_error(&resp, StatusCode::BAD_REQUEST, "bad_request");
        assert!(
            message.contains(field),
            "{body}: message names `{field}`: {message}"
        );
        // Nothing was created.
        if let Some(name) = body["username"].as_str().filter(|n| !n.is_empty()) {
            let password = body["password"].as_str().unwrap_or(STUDENT_PW);
            let (status, _) = app.try_login(name, password).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{name} does not exist");
        }
    }
}

async fn create_user_requires_admin(app: &TestApp) {
    let body = user("eve", STUDENT_PW, "student");
    let resp = app.post("/api/users", None, Some(body.clone())).await;
    assert_error(&resp, StatusCode::UNAUTHORIZED, "unauthorized");
    let resp = app
        .post("/api/users", Some("garbage"), Some(body.clone()))
        .await;
    assert_error(&resp, StatusCode::UNAUTHORIZED, "unauthorized");

    let (_, _, student) = app.student().await;
    let resp = app.post("/api/users", Some(&student), Some(body)).await;
    assert_error(&resp, StatusCode::FORBIDDEN, "forbidden");
    let (status, _) = app.try_login("eve", STUDENT_PW).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "eve was not created");
}

/// Five users: `zeta`, `alpha`, `mike`, `bravo`, `yankee`, not in alphabetical order.
fn five_users() -> Vec<Value> {
    ["zeta", "alpha", "mike", "bravo", "yankee"]
        .iter()
        .enumerate()
        .map(|(i, name)| {
            user(
                name,
                &format!("password-{i}"),
                if i == 2 { "admin" } else { "student" },
            )
        })
        .collect()
}

/// Asserts none of the five users exists: each logs in with 401.
async fn assert_none_exist(app: &TestApp, users: &[Value]) {
    for u in users {
        let name = u["username"].as_str().unwrap();
        let resp = app.try_login(name, u["password"].as_str().unwrap()).await;
        assert_eq!(resp.0, StatusCode::UNAUTHORIZED, "{name} must not exist");
    }
}

async fn bulk_creates_users_in_input_order(app: &TestApp) {
    let token = app.admin_token().await;
    let users = five_users();
    let (status, body) = app
        .post(
            "/api/users/bulk",
            Some(&token),
            Some(json!({ "users": users })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_keys(&body, &["created", "users"]);
    assert_eq!(body["created"], 5);
    let created = body["users"].as_array().unwrap();
    assert_eq!(created.len(), 5);
    let mut ids = Vec::new();
    for (sent, got) in users.iter().zip(created) {
        assert_keys(got, &["id", "username", "role"]);
        assert_eq!(got["username"], sent["username"]);
        assert_eq!(got["role"], sent["role"]);
        ids.push(id_of(got));
    }
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 5, "distinct ids");

    // Each can log in, as who the answer said.
    for (sent, got) in users.iter().zip(created) {
        let (status, login) = app
            .try_login(
                sent["username"].as_str().unwrap(),
                sent["password"].as_str().unwrap(),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{login}");
        assert_eq!(&login["user"], got);
    }
}

async fn bulk_invalid_entry_creates_nothing(app: &TestApp) {
    let token = app.admin_token().await;
    let mut users = five_users();
    users[3]["password"] = json!("short");
    let resp = app
        .post(
            "/api/users/bulk",
            Some(&token),
            Some(json!({ "users": users })),
        )
        .await;
    let message = assert_error(&resp, StatusCode::BAD_REQUEST, "bad_request");
    assert!(message.contains("users[3]"), "names the entry: {message}");
    assert_none_exist(app, &users).await;

    // A bad username is found too, and the first bad entry is named.
    let mut users = five_users();
    users[3]["username"] = json!("bad name");
    users[4]["username"] = json!("worse name");
    let resp = app
        .post(
            "/api/users/bulk",
            Some(&token),
            Some(json!({ "users": users })),
        )
        .await;
    let message = assert_error(&resp, StatusCode::BAD_REQUEST, "bad_request");
    assert!(
        message.contains("users[3]"),
        "names the first bad entry: {message}"
    );
    assert_none_exist(app, &users).await;

    // Nothing half-made blocks the same users later.
    let users = five_users();
    let (status, body) = app
        .post(
            "/api/users/bulk",
            Some(&token),
            Some(json!({ "users": users })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["created"], 5);
}

async fn bulk_taken_username_creates_nothing(app: &TestApp) {
    let token = app.admin_token().await;
    let users = five_users();
    let (status, _) = app
        .post("/api/users", Some(&token), Some(users[2].clone()))
        .await;
    assert_eq!(status, StatusCode::CREATED);

    let resp = app
        .post(
            "/api/users/bulk",
            Some(&token),
            Some(json!({ "users": users })),
        )
        .await;
    let message = assert_error(&resp, StatusCode::CONFLICT, "conflict");
    assert!(message.contains("users[2]"), "names the entry: {message}");
    let others: Vec<Value> = users
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 2)
        .map(|(_, u)| u.clone())
        .collect();
    assert_none_exist(app, &others).await;

    // The others were not created: creating them now succeeds.
    let (status, body) = app
        .post(
            "/api/users/bulk",
            Some(&token),
            Some(json!({ "users": others })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["created"], 4);
}

async fn bulk_duplicate_username_is_400(app: &TestApp) {
    let token = app.admin_token().await;
    let mut users = five_users();
    users[3]["username"] = users[1]["username"].clone();
    let resp = app
        .post(
            "/api/users/bulk",
            Some(&token),
            Some(json!({ "users": users })),
        )
        .await;
    let message = assert_error(&resp, StatusCode::BAD_REQUEST, "bad_request");
    assert!(
        message.contains("users[3]"),
        "names the repeated entry: {message}"
    );
    assert_none_exist(app, &users).await;
}

async fn bulk_empty_is_400(app: &TestApp) {
    let token = app.admin_token().await;
    let resp = app
        .post(
            "/api/users/bulk",
            Some(&token),
            Some(json!({ "users": [] })),
        )
        .await;
    let message = assert_error(&resp, StatusCode::BAD_REQUEST, "bad_request");
    assert!(message.contains("users"), "names the field: {message}");
    let resp = app
        .post("/api/users/bulk", Some(&token), Some(json!({})))
        .await;
    assert_error(&resp, StatusCode::BAD_REQUEST, "bad_request");
}

async fn bulk_requires_admin(app: &TestApp) {
    let body = json!({ "users": five_users() });
    let resp = app.post("/api/users/bulk", None, Some(body.clone())).await;
    assert_error(&resp, StatusCode::UNAUTHORIZED, "unauthorized");
    let (_, _, student) = app.student().await;
    let resp = app
        .post("/api/users/bulk", Some(&student), Some(body))
        .await;
    assert_error(&resp, StatusCode::FORBIDDEN, "forbidden");
    assert_none_exist(app, &five_users()).await;
}
