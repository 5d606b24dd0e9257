//! Protection: the per-user request quota and the login limits per client address and per
//! username, their `429 rate_limited` answers, and the counters that report them.

use futures::future::join_all;
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite;

use crate::support::{
    assert_error, id_of, retry_after, spawn_app_with, str_field, Db, TestApp, ADMIN_PW, STUDENT_PW,
};
use crate::ws::ws_url;

both_databases!(; with_db:
    user_quota_limits_one_student_not_another,
    bad_tokens_get_401_not_429,
    login_is_limited_per_username_across_addresses,
    login_is_limited_per_address_across_usernames,
    rejections_are_counted_in_metrics_and_performance,
);

/// A burst of 5, then one request per 10 s: slow enough that no refill lands mid-test.
const USER_QUOTA: &[&str] = &["--quota-per-minute", "6", "--quota-burst", "5"];
const LOGIN_LIMIT: &[&str] = &[
    "--login-per-minute",
    "3",
    "--client-address-header",
    "X-Forwarded-For",
];

/// Asserts a `429 rate_limited` answer with a `Retry-After` of at least a second and an
/// `X-Request-Id`.
#[track_caller]
fn assert_limited(status: StatusCode, headers: &HeaderMap, body: Value) {
    assert_error(
        &(status, body),
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
    );
    let retry = retry_after(headers);
    assert!(retry.is_some_and(|s| s >= 1), "Retry-After: {headers:?}");
    assert!(headers.contains_key("x-request-id"), "{headers:?}");
}

/// `POST /api/auth/login` as a client whose proxy says it is `address` (the entry the proxy
/// appended to `X-Forwarded-For`, the last; the client's own entries before it vary, and must
/// not matter).
async fn login_from(
    app: &TestApp,
    address: &str,
    username: &str,
    password: &str,
) -> (StatusCode, HeaderMap, Value) {
    let sum = |s: &str| s.bytes().map(u32::from).sum::<u32>() % 250;
    let spoofed = format!("172.16.{}.{}", sum(username), sum(address));
    let req = app
        .client()
        .post(app.url("/api/auth/login"))
        .header("X-Forwarded-For", format!("{spoofed}, {address}"))
        .json(&json!({ "username": username, "password": password }));
    app.send(req).await
}

/// Logs in through `login_from`, which must succeed; returns the token.
async fn token_from(app: &TestApp, address: &str, username: &str, password: &str) -> String {
    let (status, _, body) = login_from(app, address, username, password).await;
    assert_eq!(status, StatusCode::OK, "login as {username}: {body}");
    str_field(&body, "token").to_string()
}

/// Creates students (password `STUDENT_PW`) with the admin's token, without any login.
async fn create_students(app: &TestApp, admin: &str, names: &[&str]) {
    let users: Vec<Value> = names
        .iter()
        .map(|n| json!({ "username": n, "password": STUDENT_PW, "role": "student" }))
        .collect();
    let body = json!({ "users": users });
    let (status, created) = app.post("/api/users/bulk", Some(admin), Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
}

/// GET `path` with a bearer token: the status, headers and body.
async fn get(app: &TestApp, path: &str, token: &str) -> (StatusCode, HeaderMap, Value) {
    app.send(app.client().get(app.url(path)).bearer_auth(token))
        .await
}

/// Past its burst, a student gets 429 on every authenticated route (all its tokens, and the
/// WebSocket upgrade), while another student is served and monitoring stays exempt.
async fn user_quota_limits_one_student_not_another(db: Db) {
    let Some(app) = spawn_app_with(db, USER_QUOTA).await else {
        return;
    };
    let (contest, students) = app.open_contest_with_students(2, None).await;
    let id = id_of(&contest);
    let path = format!("/api/contests/{id}");
    let (greedy, other) = (&students[0], &students[1]);
    let second_token = app.login(&greedy.username, STUDENT_PW).await;

    let (greedy_answers, other_answers) = futures::join!(
        join_all((0..10).map(|_| get(&app, &path, &greedy.token))),
        join_all((0..3).map(|_| get(&app, &path, &other.token))),
    );
    let served = greedy_answers
        .iter()
        .filter(|a| a.0 == StatusCode::OK)
        .count();
    assert_eq!(served, 5, "a burst of 5: {served} of 10 served");
    for (status, headers, body) in greedy_answers {
        if status != StatusCode::OK {
            assert_limited(status, &headers, body);
        }
    }
    for (status, _, body) in other_answers {
        assert_eq!(status, StatusCode::OK, "the other student: {body}");
    }

    // The quota is the user's, not the token's; the WebSocket upgrade counts too.
    let (status, headers, body) = get(&app, &path, &second_token).await;
    assert_limited(status, &headers, body);
    match tokio_tungstenite::connect_async(ws_url(&app, id, &greedy.token)).await {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 429),
        Ok(_) => panic!("the upgrade was accepted over quota"),
        Err(other) => panic!("unexpected error: {other}"),
    }

    // Monitoring is exempt, even for a limited user's token.
    for path in ["/health", "/api/contests/health", "/metrics"] {
        let answers = join_all((0..50).map(|_| async {
            let resp = app
                .client()
                .get(app.url(path))
                .bearer_auth(&greedy.token)
                .send()
                .await
                .expect("the server answers");
            resp.status()
        }))
        .await;
        assert!(
            answers.iter().all(|s| *s == StatusCode::OK),
            "{path}: {answers:?}"
        );
    }
    app.stop().await;
}

/// Requests without a valid token are refused with 401 however many come: authentication
/// comes before the user quota.
async fn bad_tokens_get_401_not_429(db: Db) {
    let Some(app) = spawn_app_with(db, USER_QUOTA).await else {
        return;
    };
    let answers = join_all((0..20).map(|i| {
        let token = (i % 2 == 0).then_some("not-a-token");
        app.get("/api/me", token)
    }))
    .await;
    for answer in &answers {
        assert_error(answer, StatusCode::UNAUTHORIZED, "unauthorized");
    }
    app.stop().await;
}

/// One username tried from many addresses is refused after 3 attempts, wrong or right
/// password alike; another username from a fresh address still logs in.
async fn login_is_limited_per_username_across_addresses(db: Db) {
    let Some(app) = spawn_app_with(db, LOGIN_LIMIT).await else {
        return;
    };
    let admin = token_from(&app, "10.9.9.9", "admin", ADMIN_PW).await;
    create_students(&app, &admin, &["target", "bystander"]).await;

    let attempts = [
        ("10.0.0.1", "wrong-password", StatusCode::UNAUTHORIZED),
        ("10.0.0.2", "wrong-password", StatusCode::UNAUTHORIZED),
        ("10.0.0.3", STUDENT_PW, StatusCode::OK),
        ("10.0.0.4", STUDENT_PW, StatusCode::TOO_MANY_REQUESTS),
        ("10.0.0.5", "wrong-password", StatusCode::TOO_MANY_REQUESTS),
        ("10.0.0.6", STUDENT_PW, StatusCode::TOO_MANY_REQUESTS),
    ];
    for (address, password, expected) in attempts {
        let (status, headers, body) = login_from(&app, address, "target", password).await;
        if expected == StatusCode::TOO_MANY_REQUESTS {
            assert_limited(status, &headers, body);
        } else {
            assert_eq!(status, expected, "from {address}: {body}");
        }
    }
    token_from(&app, "10.0.1.1", "bystander", STUDENT_PW).await;
    app.stop().await;
}

/// One address trying different usernames is refused after 3 attempts, even with the right
/// password; another address still logs in.
async fn login_is_limited_per_address_across_usernames(db: Db) {
    let Some(app) = spawn_app_with(db, LOGIN_LIMIT).await else {
        return;
    };
    let admin = token_from(&app, "10.9.9.9", "admin", ADMIN_PW).await;
    create_students(&app, &admin, &["s1", "s2", "s3", "s4"]).await;

    let attempts = [
        ("nobody", STUDENT_PW, StatusCode::UNAUTHORIZED),
        ("s1", "wrong-password", StatusCode::UNAUTHORIZED),
        ("s2", STUDENT_PW, StatusCode::OK),
        ("s3", STUDENT_PW, StatusCode::TOO_MANY_REQUESTS),
        ("s4", STUDENT_PW, StatusCode::TOO_MANY_REQUESTS),
    ];
    for (username, password, expected) in attempts {
        let (status, headers, body) = login_from(&app, "10.0.0.9", username, password).await;
        if expected == StatusCode::TOO_MANY_REQUESTS {
            assert_limited(status, &headers, body);
        } else {
            assert_eq!(status, expected, "as {username}: {body}");
        }
    }
    token_from(&app, "10.0.0.10", "s1", STUDENT_PW).await;
    app.stop().await;
}

/// Each refusal is counted once under its scope, and `/metrics` and
/// `/api/contests/performance` agree on the counts.
async fn rejections_are_counted_in_metrics_and_performance(db: Db) {
    let flags = [USER_QUOTA, LOGIN_LIMIT].concat();
    let Some(app) = spawn_app_with(db, &flags).await else {
        return;
    };
    let admin = token_from(&app, "10.2.0.1", "admin", ADMIN_PW).await;
    create_students(&app, &admin, &["greedy", "target"]).await;
    let greedy = token_from(&app, "10.2.0.2", "greedy", STUDENT_PW).await;

    let limited = |answers: &[(StatusCode, HeaderMap, Value)]| {
        answers
            .iter()
            .filter(|a| a.0 == StatusCode::TOO_MANY_REQUESTS)
            .count()
    };
    let user = limited(&join_all((0..10).map(|_| get(&app, "/api/me", &greedy))).await);
    let mut by_username = Vec::new();
    for i in 1..=5 {
        let address = format!("10.2.1.{i}");
        by_username.push(login_from(&app, &address, "target", "wrong-password").await);
    }
    let mut by_address = Vec::new();
    for i in 1..=5 {
        let username = format!("ghost{i}");
        by_address.push(login_from(&app, "10.2.2.1", &username, "wrong-password").await);
    }
    let (username, address) = (limited(&by_username), limited(&by_address));
    assert_eq!((user, username, address), (5, 2, 2), "refusals by scope");

    let m = app.metrics().await;
    for (scope, count) in [
        ("user", user),
        ("login_address", address),
        ("login_username", username),
    ] {
        let got = m.get("contestd_rate_limited_total", &[("scope", scope)]);
        assert_eq!(
            got, count as f64,
            "contestd_rate_limited_total{{scope={scope:?}}}"
        );
    }
    let (status, _, body) = get(&app, "/api/contests/performance", &admin).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["rate_limited"],
        json!({
            "user": user,
            "login_address": address,
            "login_username": username,
            "bad_token": 0,
        }),
        "{body}"
    );
    app.stop().await;
}
