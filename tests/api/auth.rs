//! Login, logout, `/api/me`, and the first admin.

use chrono::Utc;
use reqwest::StatusCode;
use serde_json::json;

use crate::support::{
    assert_error, assert_keys, hours, id_of, parse_time, spawn_app, str_field, Db, TestApp,
    ADMIN_PW, STUDENT_PW,
};

both_databases!(
    login_returns_token,
    login_as_student_returns_student_role,
    login_wrong_password_is_401,
    login_unknown_user_is_401,
    login_missing_field_is_400,
    logout_revokes_token_at_once,
    logout_without_token_is_401,
    me_returns_caller,
    me_without_token_is_401,
    me_with_garbage_token_is_401;
    with_db: admin_bootstrap_keeps_first_password,
);

async fn login_returns_token(app: &TestApp) {
    let before = Utc::now();
    let (status, body) = app.try_login("admin", ADMIN_PW).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_keys(&body, &["token", "expires_at", "user"]);

    let token = str_field(&body, "token");
    assert!(token.len() >= 32, "token of at least 128 bits: {token:?}");
    assert!(
        token.chars().all(|c| c.is_ascii_hexdigit()),
        "hex token: {token:?}"
    );

    // Default lifetime: 12 h.
    let expires_at = parse_time(&body["expires_at"]);
    assert!(
        expires_at >= before + hours(12) - chrono::TimeDelta::minutes(1),
        "{expires_at}"
    );
    assert!(
        expires_at <= Utc::now() + hours(12) + chrono::TimeDelta::minutes(1),
        "{expires_at}"
    );

    let user = &body["user"];
    assert_keys(user, &["id", "username", "role"]);
    id_of(user);
    assert_eq!(user["username"], "admin");
    assert_eq!(user["role"], "admin");

    // Each login is a new session with its own token.
    let second = app.admin_token().await;
    assert_ne!(second, token);
}

async fn login_as_student_returns_student_role(app: &TestApp) {
    let (id, username) = app.create_students(1).await.remove(0);
    let (status, body) = app.try_login(&username, STUDENT_PW).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["user"],
        json!({ "id": id, "username": username, "role": "student" })
    );
}

async fn login_wrong_password_is_401(app: &TestApp) {
    let resp = app.try_login("admin", "not-the-password").await;
    assert_error(&resp, StatusCode::UNAUTHORIZED, "unauthorized");
    // Almost right is still wrong.
    let resp = app.try_login("admin", &format!("{ADMIN_PW}x")).await;
    assert_error(&resp, StatusCode::UNAUTHORIZED, "unauthorized");
}

async fn login_unknown_user_is_401(app: &TestApp) {
    let resp = app.try_login("nobody", ADMIN_PW).await;
    let message = assert_error(&resp, StatusCode::UNAUTHORIZED, "unauthorized");
    // Same answer as a wrong password: no hint that the user does not exist.
    let wrong_pw = app.try_login("admin", "not-the-password").await;
    assert_eq!(
        message,
        assert_error(&wrong_pw, StatusCode::UNAUTHORIZED, "unauthorized")
    );
}

async fn login_missing_field_is_400(app: &TestApp) {
    let resp = app
        .post(
            "/api/auth/login",
            None,
            Some(json!({ "username": "admin" })),
        )
        .await;
    let message = assert_error(&resp, StatusCode::BAD_REQUEST, "bad_request");
    assert!(message.contains("password"), "names the field: {message}");

    let resp = app
        .post(
            "/api/auth/login",
            None,
            Some(json!({ "password": ADMIN_PW })),
        )
        .await;
    let message = assert_error(&resp, StatusCode::BAD_REQUEST, "bad_request");
    assert!(message.contains("username"), "names the field: {message}");
}

async fn logout_revokes_token_at_once(app: &TestApp) {
    let token = app.admin_token().await;
    let other = app.admin_token().await;
    // Warm any token cache first: revocation must still be immediate.
    let (status, _) = app.get("/api/me", Some(&token)).await;
    assert_eq!(status, StatusCode::OK);

    let (status, body) = app.post("/api/auth/logout", Some(&token), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert!(body.is_null(), "204 has no body: {body}");

    let resp = app.get("/api/me", Some(&token)).await;
    assert_error(&resp, StatusCode::UNAUTHORIZED, "unauthorized");
    let resp = app.post("/api/auth/logout", Some(&token), None).await;
    assert_error(&resp, StatusCode::UNAUTHORIZED, "unauthorized");

    // Only that session ends.
    let (status, _) = app.get("/api/me", Some(&other)).await;
    assert_eq!(status, StatusCode::OK);
}

async fn logout_without_token_is_401(app: &TestApp) {
    let resp = app.post("/api/auth/logout", None, None).await;
    assert_error(&resp, StatusCode::UNAUTHORIZED, "unauthorized");
}

async fn me_returns_caller(app: &TestApp) {
    let (status, login) = app.try_login("admin", ADMIN_PW).await;
    assert_eq!(status, StatusCode::OK);
    let (status, me) = app.get("/api/me", Some(str_field(&login, "token"))).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_keys(&me, &["id", "username", "role"]);
    assert_eq!(me, login["user"]);

    let (id, username, token) = app.student().await;
    let (status, me) = app.get("/api/me", Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(
        me,
        json!({ "id": id, "username": username, "role": "student" })
    );
}

async fn me_without_token_is_401(app: &TestApp) {
    let resp = app.get("/api/me", None).await;
    assert_error(&resp, StatusCode::UNAUTHORIZED, "unauthorized");
}

async fn me_with_garbage_token_is_401(app: &TestApp) {
    for garbage in ["garbage", &"0".repeat(64)] {
        let resp = app.get("/api/me", Some(garbage)).await;
        assert_error(&resp, StatusCode::UNAUTHORIZED, "unauthorized");
    }
    let resp = app
        .get(&format!("/api/me?token={}", "f".repeat(64)), None)
        .await;
    assert_error(&resp, StatusCode::UNAUTHORIZED, "unauthorized");

    // A valid token under another scheme, or an empty bearer, is no token.
    let token = app.admin_token().await;
    for header in [
        format!("Basic {token}"),
        token.clone(),
        "Bearer ".to_string(),
    ] {
        let resp = app
            .client()
            .get(app.url("/api/me"))
            .header("authorization", header.as_str())
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_error(&(status, body), StatusCode::UNAUTHORIZED, "unauthorized");
    }
}

/// The first start creates `admin` with the given password; a later start with another
/// password leaves it alone.
async fn admin_bootstrap_keeps_first_password(db: Db) {
    let Some(first) = spawn_app(db).await else {
        return;
    };
    let (status, body) = first.try_login("admin", ADMIN_PW).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user"]["role"], "admin");
    let admin_id = id_of(&body["user"]);
    let token = first.admin_token().await;

    // A restart (SQLite is served by one process at a time).
    first.stop().await;
    let second = first
        .sibling(&["--admin-password", "another-password"])
        .await;
    let resp = second.try_login("admin", "another-password").await;
    assert_error(&resp, StatusCode::UNAUTHORIZED, "unauthorized");
    let (status, body) = second.try_login("admin", ADMIN_PW).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(id_of(&body["user"]), admin_id, "the same admin");

    // A token from before the restart still works: sessions live in the database.
    let (status, _) = second.get("/api/me", Some(&token)).await;
    assert_eq!(status, StatusCode::OK);

    second.stop().await;
    first.stop().await;
}
