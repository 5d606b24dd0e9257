//! Requests to a test app: the HTTP verbs with an optional token and JSON body, reading the
//! JSON answer, and the calls tests make again and again (login, submit, health).

use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::{id_of, str_field, Resp, TestApp, ADMIN_PW};

impl TestApp {
    /// Sends a request built by the test (custom headers) and reads the JSON answer.
    pub async fn send(&self, req: reqwest::RequestBuilder) -> (StatusCode, HeaderMap, Value) {
        read_with_headers(req.send().await.expect("the server answers")).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    fn build(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> reqwest::RequestBuilder {
        let mut req = self.client.request(method, self.url(path));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        req
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        self.try_request(method, path, token, body)
            .await
            .expect("the server answers")
    }

    /// Like `request`, but a request the server never answers (it is gone) is an `Err`.
    pub async fn try_request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Result<Resp, reqwest::Error> {
        let resp = self.build(method, path, token, body).send().await?;
        let (status, _, body) = try_read(resp).await?;
        Ok((status, body))
    }

    /// Like `request`, with the answer's headers.
    pub async fn request_with_headers(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, HeaderMap, Value) {
        let resp = self.build(method, path, token, body).send().await;
        read_with_headers(resp.expect("the server answers")).await
    }

    /// A GET with an `Accept` header, read as text: the status, the content type, the body.
    pub async fn get_text(
        &self,
        path: &str,
        token: Option<&str>,
        accept: &str,
    ) -> (StatusCode, String, String) {
        let resp = self
            .build(Method::GET, path, token, None)
            .header(ACCEPT, accept)
            .send()
            .await
            .expect("the server answers");
        let status = resp.status();
        let content_type = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let text = resp.text().await.expect("a readable body");
        (status, content_type, text)
    }

    /// Sends `body` as is, labelled as JSON.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> Resp {
        let mut req = self
            .client
            .request(method, self.url(path))
            .header(CONTENT_TYPE, "application/json")
            .body(body);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        read(req.send().await.expect("the server answers")).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Resp {
        self.request(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Option<Value>) -> Resp {
        self.request(Method::POST, path, token, body).await
    }

    pub async fn put(&self, path: &str, token: Option<&str>, body: Option<Value>) -> Resp {
        self.request(Method::PUT, path, token, body).await
    }

    pub async fn patch(&self, path: &str, token: Option<&str>, body: Option<Value>) -> Resp {
        self.request(Method::PATCH, path, token, body).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Resp {
        self.request(Method::DELETE, path, token, None).await
    }

    // ---- typed helpers ----

    pub async fn try_login(&self, username: &str, password: &str) -> Resp {
        let body = json!({ "username": username, "password": password });
        self.post("/api/auth/login", None, Some(body)).await
    }

    /// Logs in and returns the token; panics unless the answer is 200.
    pub async fn login(&self, username: &str, password: &str) -> String {
        let (status, body) = self.try_login(username, password).await;
        assert_eq!(status, StatusCode::OK, "login as {username}: {body}");
        str_field(&body, "token").to_string()
    }

    pub async fn admin_token(&self) -> String {
        self.login("admin", ADMIN_PW).await
    }

    /// The admin's user id, from `/api/me`.
    pub async fn admin_id(&self) -> i64 {
        let token = self.admin_token().await;
        let (status, me) = self.get("/api/me", Some(&token)).await;
        assert_eq!(status, StatusCode::OK, "{me}");
        id_of(&me)
    }

    /// `POST /api/contests/{id}/submissions` with `{"answers": answers}`.
    pub async fn submit(&self, contest_id: i64, token: &str, answers: Value) -> Resp {
        self.try_submit(contest_id, token, answers)
            .await
            .expect("the server answers")
    }

    /// Like `submit`; `Err` when the server never answers.
    pub async fn try_submit(
        &self,
        contest_id: i64,
        token: &str,
        answers: Value,
    ) -> Result<Resp, reqwest::Error> {
        let path = format!("/api/contests/{contest_id}/submissions");
        let body = json!({ "answers": answers });
        self.try_request(Method::POST, &path, Some(token), Some(body))
            .await
    }

    /// `POST /api/contests/{id}/submissions` with `Idempotency-Key: key` (any bytes a header
    /// value may hold).
    pub async fn submit_keyed(
        &self,
        contest_id: i64,
        token: &str,
        key: &[u8],
        answers: Value,
    ) -> Resp {
        self.try_submit_keyed(contest_id, token, key, answers)
            .await
            .expect("the server answers")
    }

    /// Like `submit_keyed`; `Err` when the server never answers.
    pub async fn try_submit_keyed(
        &self,
        contest_id: i64,
        token: &str,
        key: &[u8],
        answers: Value,
    ) -> Result<Resp, reqwest::Error> {
        let path = format!("/api/contests/{contest_id}/submissions");
        let body = json!({ "answers": answers });
        let key = HeaderValue::from_bytes(key).expect("a header value");
        let resp = self
            .build(Method::POST, &path, Some(token), Some(body))
            .header("Idempotency-Key", key)
            .send()
            .await?;
        let (status, _, body) = try_read(resp).await?;
        Ok((status, body))
    }

    /// `/health`, which must answer 200.
    pub async fn health(&self) -> Value {
        let (status, body) = self.get("/health", None).await;
        assert_eq!(status, StatusCode::OK, "health: {body}");
        body
    }

    /// Contest snapshots loaded from the database since the server started (`/health`).
    pub async fn loads(&self) -> u64 {
        let health = self.health().await;
        health["actors"]["loads"]
            .as_u64()
            .unwrap_or_else(|| panic!("an integer actors.loads in {health}"))
    }

    /// Every submission of the contest, from the admin list (one page of up to 1,000).
    pub async fn all_submissions(&self, contest_id: i64) -> Vec<Value> {
        let token = self.admin_token().await;
        let path = format!("/api/contests/{contest_id}/submissions?limit=1000");
        let (status, body) = self.get(&path, Some(&token)).await;
        assert_eq!(status, StatusCode::OK, "submissions list: {body}");
        assert_eq!(body["next"], Value::Null, "one page holds them all");
        body["submissions"].as_array().expect("submissions").clone()
    }
}

async fn read(resp: reqwest::Response) -> Resp {
    let (status, _, body) = read_with_headers(resp).await;
    (status, body)
}

async fn read_with_headers(resp: reqwest::Response) -> (StatusCode, HeaderMap, Value) {
    try_read(resp).await.expect("a readable body")
}

/// Reads a JSON answer; `Err` only when the body cannot be read (the server went away).
async fn try_read(
    resp: reqwest::Response,
) -> Result<(StatusCode, HeaderMap, Value), reqwest::Error> {
    let status = resp.status();
    let headers = resp.headers().clone();
    let is_json = resp
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    let bytes = resp.bytes().await?;
    if bytes.is_empty() {
        return Ok((status, headers, Value::Null));
    }
    let text = String::from_utf8_lossy(&bytes);
    assert!(
        is_json,
        "{status}: body without a JSON content type: {text}"
    );
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("{status}: body is not JSON ({e}): {text}"));
    Ok((status, headers, body))
}
