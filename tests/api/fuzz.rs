//! Property-based test of every request body and query-string parser (issue 11): arbitrary
//! bytes, arbitrary JSON values and arbitrary query strings get a 2xx, or a 4xx with the error
//! shape; never a 5xx, a non-JSON 4xx or a dropped connection.
//!
//! JSON values are shaped after each route's real body most of the time (the real field names
//! with values of roughly the right type, including real ids), so they get past the parser into
//! validation and the database, where a 5xx would hide; the rest of the time anything goes.
//!
//! `PROPTEST_CASES` sets the cases per route and kind (64 unless set). A failure is shrunk, then
//! reported with its route, input, answer and the seed that replays the run
//! (`PROPTEST_RNG_SEED`); every route and kind runs before the test fails, so one run lists
//! every bug it found.

use std::time::Duration;

use chrono::{DateTime, Utc};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestError, TestRunner};
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::{Method, RequestBuilder};
use serde_json::{json, Map, Number, Value};

use crate::support::{
    answers, contest_body, id_of, question_ids, rfc3339, spawn_app_with, str_field, Db, ADMIN_PW,
};

both_databases!(; with_db: no_body_or_query_string_gets_a_5xx);

/// Cases per route and kind unless `PROPTEST_CASES` says otherwise: 25 runs of 64 stay well
/// under 30 s per database on two cores.
const DEFAULT_CASES: u32 = 64;

/// The fuzzer must never be refused for going too fast: a 429 would pass but test nothing.
const LIFTED_QUOTAS: &[&str] = &[
    "--quota-per-minute",
    "100000000",
    "--quota-burst",
    "100000000",
    "--login-per-minute",
    "100000000",
];

async fn no_body_or_query_string_gets_a_5xx(db: Db) {
    let Some(app) = spawn_app_with(db, LIFTED_QUOTAS).await else {
        return;
    };
    let admin = app.admin_token().await;
    let (contest, students) = app.open_contest_with_students(2, Some("immediate")).await;
    let contest_id = id_of(&contest);
    let course_id = contest["course_id"].as_i64().expect("a course id");
    let questions = question_ids(&contest);
    // A second contest for the PATCH fuzzing, so that closing or hiding it leaves the open one
    // for the submissions.
    let patched = app
        .create_contest(course_id, now_plus(3600), now_plus(7200), None)
        .await;
    let patched_id = id_of(&patched);
    // One real submission, so the list and leaderboard have a row and `after` a real id.
    let pairs: Vec<(i64, i64)> = questions.iter().map(|q| (*q, 0)).collect();
    let (status, receipt) = app
        .submit(contest_id, &students[1].token, answers(&pairs))
        .await;
    assert!(status.is_success(), "the fixture submission: {receipt}");
    let submission_id = str_field(&receipt, "id").to_string();

    let mut ids = vec![
        app.admin_id().await,
        course_id,
        contest_id,
        patched_id,
        students[0].id,
        students[1].id,
    ];
    ids.extend(&questions);
    let fixtures = Fixtures {
        address: app.address.clone(),
        admin,
        student: students[0].token.clone(),
        course_id,
        contest_id,
        patched_id,
        student_ids: [students[0].id, students[1].id],
        question_ids: questions,
        ids,
        submission_id,
    };

    // The runner blocks on each request: on a thread of its own, so that this test's runtime,
    // which runs parts of the in-process server, stays free.
    let seed = std::env::var("PROPTEST_RNG_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| uuid::Uuid::new_v4().as_u64_pair().0);
    let failures = actix_web::rt::task::spawn_blocking(move || fuzz_every_route(&fixtures, seed))
        .await
        .expect("the fuzzing thread");
    app.stop().await;
    assert!(
        failures.is_empty(),
        "{} route(s) answered badly on {} (PROPTEST_RNG_SEED={seed}):\n\n{}",
        failures.len(),
        db.backend(),
        failures.join("\n\n")
    );
}

fn now_plus(seconds: i64) -> DateTime<Utc> {
    crate::support::now_ms() + chrono::TimeDelta::seconds(seconds)
}

/// What the fuzzer needs from the fixtures, owned so it can move to the fuzzing thread.
struct Fixtures {
    address: String,
    admin: String,
    student: String,
    course_id: i64,
    contest_id: i64,
    patched_id: i64,
    student_ids: [i64; 2],
    question_ids: Vec<i64>,
    /// Every id the fixtures made (users, course, contests, questions): generated ids are often
    /// real ones, so requests get past the existence checks.
    ids: Vec<i64>,
    submission_id: String,
}

/// A route that reads a JSON body: the shape of that body, and one valid body.
struct BodyRoute {
    method: Method,
    path: String,
    token: Option<String>,
    shape: Shape,
    /// A body the route accepts (or refuses only for a rule, such as a taken name): inputs
    /// made from it by one change reach the deepest checks.
    valid: Value,
}

/// A route that reads its query string, and the parameters it knows.
struct QueryRoute {
    path: String,
    /// `None` for the WebSocket route, which reads its token from the query string.
    token: Option<String>,
    params: Vec<(&'static str, Param)>,
}

impl Fixtures {
    /// Every handler that reads a body (`routes::Json` or `parse_body`), from `src/routes`.
    fn body_routes(&self) -> Vec<BodyRoute> {
        use Shape::*;
        let admin = Some(self.admin.clone());
        let new_user = || {
            Object(vec![
                ("username", Text),
                ("password", Text),
                ("role", OneOf(&["student", "admin"])),
            ])
        };
        let user =
            |name: &str| json!({ "username": name, "password": ADMIN_PW, "role": "student" });
        let students = json!([self.student_ids[0], self.student_ids[1]]);
        let route = |method, path, token: &Option<String>, shape, valid| BodyRoute {
            method,
            path,
            token: token.clone(),
            shape,
            valid,
        };
        vec![
            route(
                Method::POST,
                "/api/auth/login".into(),
                &None,
                Object(vec![("username", Text), ("password", Text)]),
                json!({ "username": "admin", "password": ADMIN_PW }),
            ),
            route(
                Method::POST,
                "/api/users".into(),
                &admin,
                new_user(),
                user("fuzz"),
            ),
            route(
                Method::POST,
                "/api/users/bulk".into(),
                &admin,
                Object(vec![("users", List(Box::new(new_user())))]),
                json!({ "users": [user("fuzz1"), user("fuzz2")] }),
            ),
            route(
                Method::POST,
                "/api/courses".into(),
                &admin,
                Object(vec![("code", Text), ("title", Text)]),
                json!({ "code": "FUZZ", "title": "Fuzzing" }),
            ),
            route(
                Method::PUT,
                format!("/api/courses/{}/enrollments", self.course_id),
                &admin,
                Object(vec![("student_ids", List(Box::new(Id)))]),
                json!({ "student_ids": students }),
            ),
            route(
                Method::POST,
                "/api/contests".into(),
                &admin,
                Object(vec![
                    ("course_id", Id),
                    ("title", Text),
                    ("start_time", Time),
                    ("end_time", Time),
                    ("results", OneOf(&["after_close", "immediate"])),
                    (
                        "questions",
                        List(Box::new(Object(vec![
                            ("prompt", Text),
                            ("options", List(Box::new(Text))),
                            ("correct_option", Int),
                            ("points", Int),
                        ]))),
                    ),
                ]),
                contest_body(self.course_id, now_plus(-3600), now_plus(3600)),
            ),
            route(
                Method::PATCH,
                format!("/api/contests/{}", self.patched_id),
                &admin,
                Object(vec![
                    ("title", Text),
                    ("start_time", Time),
                    ("end_time", Time),
                    ("is_active", Bool),
                ]),
                json!({
                    "title": "Patched",
                    "start_time": rfc3339(now_plus(3600)),
                    "end_time": rfc3339(now_plus(7200)),
                    "is_active": true,
                }),
            ),
            route(
                Method::POST,
                format!("/api/contests/{}/submissions", self.contest_id),
                &Some(self.student.clone()),
                Object(vec![(
                    "answers",
                    List(Box::new(Object(vec![("question_id", Id), ("option", Int)]))),
                )]),
                json!({ "answers": answers(
                    &self.question_ids.iter().map(|q| (*q, 1)).collect::<Vec<_>>()
                ) }),
            ),
            route(
                Method::PUT,
                format!("/api/contests/{}/draft", self.contest_id),
                &Some(self.student.clone()),
                Object(vec![(
                    "answers",
                    List(Box::new(Object(vec![
                        ("question_id", Id),
                        ("options", List(Box::new(Int))),
                        ("value", Int),
                        ("text", Text),
                    ]))),
                )]),
                json!({ "answers": answers(
                    &self.question_ids.iter().map(|q| (*q, 0)).collect::<Vec<_>>()
                ) }),
            ),
            route(
                Method::PATCH,
                format!(
                    "/api/contests/{}/questions/{}",
                    self.contest_id, self.question_ids[0]
                ),
                &admin,
                Object(vec![
                    ("correct_option", Int),
                    ("correct_options", List(Box::new(Int))),
                    ("points", Int),
                    ("accepted", List(Box::new(Text))),
                ]),
                json!({ "correct_option": 1, "points": 2 }),
            ),
            route(
                Method::POST,
                format!("/api/contests/{}/announcements", self.contest_id),
                &admin,
                Object(vec![("text", Text)]),
                json!({ "text": "Question 2 has a typo." }),
            ),
            route(
                Method::POST,
                "/api/contests/warm-cache".into(),
                &admin,
                Object(vec![("contest_id", Id)]),
                json!({ "contest_id": self.contest_id }),
            ),
            route(
                Method::POST,
                "/api/contests/bulk-validation".into(),
                &admin,
                Object(vec![
                    ("contest_id", Id),
                    ("student_ids", List(Box::new(Id))),
                ]),
                json!({ "contest_id": self.contest_id, "student_ids": students }),
            ),
        ]
    }

    /// Every handler that parses its query string (`parse_query`, and the `?token=` of the
    /// WebSocket upgrade).
    fn query_routes(&self) -> Vec<QueryRoute> {
        let admin = Some(self.admin.clone());
        let contest = self.contest_id;
        vec![
            QueryRoute {
                path: "/api/contests/bulk-stats".into(),
                token: admin.clone(),
                params: vec![("contest_ids", Param::IdList)],
            },
            QueryRoute {
                path: "/api/contests/my-submissions-bulk".into(),
                token: Some(self.student.clone()),
                params: vec![("contest_ids", Param::IdList)],
            },
            QueryRoute {
                path: format!("/api/contests/{contest}/submissions"),
                token: admin.clone(),
                params: vec![("limit", Param::Int), ("after", Param::Uuid)],
            },
            QueryRoute {
                path: format!("/api/contests/{contest}/leaderboard"),
                token: admin,
                params: vec![("limit", Param::Int)],
            },
            QueryRoute {
                path: format!("/ws/contests/{contest}"),
                token: None,
                params: vec![("token", Param::Token)],
            },
        ]
    }
}

/// Runs every route with every kind of input; returns one report per failing route and kind.
fn fuzz_every_route(fixtures: &Fixtures, seed: u64) -> Vec<String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let client = reqwest::Client::builder()
        // Below the server's keep-alive, as in the helpers; and a bound, so a hang fails.
        .pool_idle_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(20))
        .build()
        .expect("an HTTP client");
    let ids = fixtures.ids.clone();
    let mut failures = Vec::new();

    for route in fixtures.body_routes() {
        let url = format!("{}{}", fixtures.address, route.path);
        let request = |body: Vec<u8>| {
            let mut req = client
                .request(route.method.clone(), &url)
                .header(CONTENT_TYPE, "application/json")
                .body(body);
            if let Some(token) = &route.token {
                req = req.bearer_auth(token);
            }
            req
        };
        let name = format!("{} {}", route.method, route.path);
        run(
            &rt,
            seed,
            &mut failures,
            &format!("{name} with arbitrary bytes"),
            bytes(json_value(&route, &ids)),
            |body| format!("b\"{}\"", body.escape_ascii()),
            |body| request(body.clone()),
        );
        run(
            &rt,
            seed,
            &mut failures,
            &format!("{name} with an arbitrary JSON value"),
            json_value(&route, &ids),
            |value| value.to_string(),
            |value| request(value.to_string().into_bytes()),
        );
    }

    for route in fixtures.query_routes() {
        let name = format!("GET {}", route.path);
        let base =
            reqwest::Url::parse(&format!("{}{}", fixtures.address, route.path)).expect("a URL");
        run(
            &rt,
            seed,
            &mut failures,
            &format!("{name} with an arbitrary query string"),
            query(
                &route.params,
                &ids,
                &fixtures.submission_id,
                &fixtures.student,
            ),
            |query| format!("{query:?}"),
            |query| {
                let mut url = base.clone();
                // Percent-encodes what a URL cannot hold; the server decodes it back.
                url.set_query(Some(query));
                let mut req = client.get(url).header(ACCEPT, "application/json");
                if let Some(token) = &route.token {
                    req = req.bearer_auth(token);
                }
                req
            },
        );
    }
    failures
}

/// Runs one property: every generated input must get an acceptable answer. A failure is shrunk
/// to a small input and recorded with `name`.
fn run<S: Strategy>(
    rt: &tokio::runtime::Runtime,
    seed: u64,
    failures: &mut Vec<String>,
    name: &str,
    strategy: S,
    show: impl Fn(&S::Value) -> String,
    request: impl Fn(&S::Value) -> RequestBuilder,
) {
    let mut runner = TestRunner::new(config(seed));
    let result = runner.run(&strategy, |input| {
        rt.block_on(check(request(&input)))
            .map_err(TestCaseError::fail)
    });
    match result {
        Ok(()) => {}
        Err(TestError::Fail(answer, input)) => failures.push(format!(
            "{name}\n  input:  {}\n  answer: {answer}",
            show(&input)
        )),
        Err(TestError::Abort(why)) => failures.push(format!("{name}: aborted: {why}")),
    }
}

fn config(seed: u64) -> Config {
    Config {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(DEFAULT_CASES),
        rng_seed: RngSeed::Fixed(seed),
        // The report carries the input; there is no source file to keep regressions beside.
        failure_persistence: None,
        // Each shrink step is a request: bound the time a failure takes to report.
        max_shrink_iters: 200,
        ..Config::default()
    }
}

/// A 2xx, or a 4xx whose body is exactly `{"error": {"code": "…", "message": "…"}}`.
async fn check(request: RequestBuilder) -> Result<(), String> {
    let response = request
        .send()
        .await
        .map_err(|e| format!("no answer: {e:?}"))?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|e| format!("{status}, then the body broke off: {e:?}"))?;
    let text = String::from_utf8_lossy(&body);
    if status.is_success() {
        return Ok(());
    }
    if !status.is_client_error() {
        return Err(format!("{status} {text}"));
    }
    let parsed: Option<Value> = serde_json::from_slice(&body).ok();
    let shaped = parsed.as_ref().is_some_and(|v| {
        let error = &v["error"];
        v.as_object().is_some_and(|o| o.len() == 1)
            && error.as_object().is_some_and(|o| o.len() == 2)
            && error["code"].as_str().is_some_and(|c| !c.is_empty())
            && error["message"].as_str().is_some_and(|m| !m.is_empty())
    });
    if shaped {
        Ok(())
    } else {
        Err(format!("{status} without the error shape: {text}"))
    }
}

// ---- strategies ----

/// The type of a field in a real body.
#[derive(Clone, Debug)]
enum Shape {
    /// An integer id: often one the fixtures made.
    Id,
    /// Any integer: indexes, points, options.
    Int,
    Text,
    /// An RFC 3339 time.
    Time,
    Bool,
    /// One of a few strings (an enum).
    OneOf(&'static [&'static str]),
    List(Box<Shape>),
    /// The fields, each present most of the time, and now and then an unknown one.
    Object(Vec<(&'static str, Shape)>),
}

/// Every field name of every body, for the keys of arbitrary objects too.
const FIELDS: &[&str] = &[
    "username",
    "password",
    "role",
    "users",
    "code",
    "title",
    "student_ids",
    "course_id",
    "start_time",
    "end_time",
    "results",
    "questions",
    "prompt",
    "options",
    "correct_option",
    "points",
    "is_active",
    "answers",
    "question_id",
    "option",
    "contest_id",
];

/// A value of roughly the field's type most of the time, anything at all otherwise (so a wrong
/// type deep inside a right body gets tried too).
fn shaped(shape: &Shape, ids: &[i64]) -> BoxedStrategy<Value> {
    prop_oneof![4 => typed(shape, ids), 1 => any_json()].boxed()
}

fn typed(shape: &Shape, ids: &[i64]) -> BoxedStrategy<Value> {
    match shape {
        Shape::Id => id(ids).prop_map(Value::from).boxed(),
        Shape::Int => int().prop_map(Value::from).boxed(),
        Shape::Text => text().prop_map(Value::from).boxed(),
        Shape::Time => time().prop_map(Value::from).boxed(),
        Shape::Bool => any::<bool>().prop_map(Value::from).boxed(),
        Shape::OneOf(names) => prop_oneof![
            3 => select(*names).prop_map(Value::from),
            1 => text().prop_map(Value::from),
        ]
        .boxed(),
        Shape::List(item) => proptest::collection::vec(shaped(item, ids), 0..6)
            .prop_map(Value::Array)
            .boxed(),
        Shape::Object(fields) => {
            let present: Vec<_> = fields
                .iter()
                .map(|(name, shape)| {
                    let name = name.to_string();
                    proptest::option::weighted(0.9, shaped(shape, ids))
                        .prop_map(move |value| value.map(|v| (name.clone(), v)))
                })
                .collect();
            let unknown = proptest::option::weighted(0.1, (key(), any_json()));
            (present, unknown)
                .prop_map(|(present, unknown)| {
                    Value::Object(present.into_iter().flatten().chain(unknown).collect())
                })
                .boxed()
        }
    }
}

/// Any JSON value: scalars of every kind, arrays and objects nested a few levels deep.
fn any_json() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        int().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        float().prop_map(|f| Number::from_f64(f).map_or(Value::Null, Value::Number)),
        text().prop_map(Value::from),
        time().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((key(), inner), 0..6)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<Map<_, _>>())),
        ]
    })
    .boxed()
}

/// An object key: a real field name half of the time.
fn key() -> BoxedStrategy<String> {
    prop_oneof![
        3 => select(FIELDS).prop_map(String::from),
        2 => any::<String>(),
        1 => "[a-z_]{1,12}",
    ]
    .boxed()
}

fn id(ids: &[i64]) -> BoxedStrategy<i64> {
    prop_oneof![2 => select(ids.to_vec()), 1 => int()].boxed()
}

/// Small integers, edges of every integer width, and anything in between.
fn int() -> BoxedStrategy<i64> {
    prop_oneof![
        -3i64..12,
        select(vec![
            i64::MIN,
            i64::MIN + 1,
            -(1 << 31),
            -1,
            0,
            1,
            i64::from(i32::MAX),
            i64::from(i32::MAX) + 1,
            i64::from(u32::MAX) + 1,
            (1 << 53) + 1,
            i64::MAX - 1,
            i64::MAX,
        ]),
        any::<i64>(),
    ]
    .boxed()
}

fn float() -> BoxedStrategy<f64> {
    prop_oneof![
        select(vec![
            -0.0,
            0.5,
            1.5,
            -1.5,
            1e20,
            -1e20,
            1e308,
            5e-324,
            9.007_199_254_740_993e15
        ]),
        any::<f64>(),
    ]
    .boxed()
}

/// Unicode of every kind (NUL, control characters, astral planes), names that pass validation,
/// blank and over-long strings.
fn text() -> BoxedStrategy<String> {
    prop_oneof![
        any::<String>(),
        "[A-Za-z0-9_.-]{1,70}",
        "[ \t\n\r\u{0}\u{7f}\u{ad}\u{200b}\u{feff}\u{10ffff}a-z]{0,12}",
        select(vec![
            "admin",
            ADMIN_PW,
            "student",
            "student0000",
            "a\u{0}b",
            "\u{0}",
            "🎉🎉"
        ])
        .prop_map(String::from),
        (1usize..300).prop_map(|n| "x".repeat(n)),
    ]
    .boxed()
}

/// RFC 3339 times across chrono's whole range and near now, a few invalid ones, and any text.
fn time() -> BoxedStrategy<String> {
    let from_seconds = |(s, ns): (i64, u32)| {
        DateTime::from_timestamp(s, ns).map_or_else(String::new, |t| t.to_rfc3339())
    };
    prop_oneof![
        (
            DateTime::<Utc>::MIN_UTC.timestamp()..=DateTime::<Utc>::MAX_UTC.timestamp(),
            0u32..1_000_000_000
        )
            .prop_map(from_seconds),
        // Years 1 to 9999.
        (-62_135_596_800i64..253_402_300_799, 0u32..1_000_000_000).prop_map(from_seconds),
        (-200_000i64..200_000)
            .prop_map(move |s| now_plus(s).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        select(vec![
            "0000-01-01T00:00:00Z",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59.999999999Z",
            "+262142-12-31T23:59:59Z",
            "-0001-12-31T00:00:00Z",
            "1969-12-31T23:59:59.999Z",
            "2026-02-30T00:00:00Z",
            "2026-12-01T10:00:60Z",
            "2026-12-01T10:00:00+23:59",
            "2026-12-01T10:00:00-23:59",
            "2026-12-01 10:00:00Z",
            "2026-12-01T10:00:00.1234567891234Z",
        ])
        .prop_map(String::from),
        text(),
    ]
    .boxed()
}

/// A JSON value for the route: anything; a value of the body's shape; or its valid body with one
/// value replaced (by one of its type, mostly), one field dropped or one unknown field added.
fn json_value(route: &BodyRoute, ids: &[i64]) -> BoxedStrategy<Value> {
    let valid = route.valid.clone();
    let mut places = Vec::new();
    pointers(&valid, Some(&route.shape), String::new(), &mut places);
    let real_ids = ids.to_vec();
    let changed = select(places)
        .prop_flat_map(move |(place, shape)| {
            let replacement = shape.map_or_else(any_json, |shape| shaped(&shape, &real_ids));
            (Just(place), replacement, 0u8..8, key())
        })
        .prop_map(move |(place, replacement, how, key)| {
            let mut body = valid.clone();
            let (parent, last) = place.rsplit_once('/').unwrap_or(("", ""));
            match (how, body.pointer_mut(parent)) {
                (0, Some(Value::Object(fields))) => {
                    fields.remove(last);
                }
                (1, Some(Value::Object(fields))) => {
                    fields.insert(key, replacement);
                }
                _ => {
                    if let Some(slot) = body.pointer_mut(&place) {
                        *slot = replacement;
                    }
                }
            }
            body
        });
    prop_oneof![
        1 => any_json(),
        2 => typed(&route.shape, ids),
        3 => changed,
    ]
    .boxed()
}

/// The JSON pointer of every value inside `value` (not the root), with its shape when known.
fn pointers(
    value: &Value,
    shape: Option<&Shape>,
    at: String,
    out: &mut Vec<(String, Option<Shape>)>,
) {
    let children: Vec<(String, &Value, Option<&Shape>)> = match (value, shape) {
        (Value::Object(fields), shape) => fields
            .iter()
            .map(|(k, v)| {
                let field = match shape {
                    Some(Shape::Object(known)) => {
                        known.iter().find(|(name, _)| name == k).map(|(_, s)| s)
                    }
                    _ => None,
                };
                (k.replace('~', "~0").replace('/', "~1"), v, field)
            })
            .collect(),
        (Value::Array(items), shape) => {
            let item = match shape {
                Some(Shape::List(item)) => Some(&**item),
                _ => None,
            };
            items
                .iter()
                .enumerate()
                .map(|(i, v)| (i.to_string(), v, item))
                .collect()
        }
        _ => Vec::new(),
    };
    for (step, child, shape) in children {
        let place = format!("{at}/{step}");
        out.push((place.clone(), shape.cloned()));
        pointers(child, shape, place, out);
    }
}

/// Bytes: anything; JSON-ish text; or a JSON value of the route as text, cut short, with a byte
/// changed or with a number no integer type holds spliced in.
fn bytes(json: BoxedStrategy<Value>) -> BoxedStrategy<Vec<u8>> {
    let mutated = (
        json,
        any::<prop::sample::Index>(),
        0u8..3,
        any::<u8>(),
        huge(),
    )
        .prop_map(|(value, at, how, byte, number)| {
            let mut text = value.to_string().into_bytes();
            let at = at.index(text.len() + 1);
            match how {
                0 => text.truncate(at),
                1 if at < text.len() => text[at] = byte,
                _ => {
                    text.splice(at..at, number.into_bytes());
                }
            }
            text
        });
    prop_oneof![
        1 => proptest::collection::vec(any::<u8>(), 0..256),
        1 => r#"[\[\]{}":,0-9a-z\\ .eE+\-]{0,64}"#.prop_map(String::into_bytes),
        2 => mutated,
    ]
    .boxed()
}

/// A number literal beyond i64/u64/f64.
fn huge() -> BoxedStrategy<String> {
    "-?[1-9][0-9]{19,40}(\\.[0-9]{1,5})?([eE][+-]?[0-9]{3,5})?".boxed()
}

/// What a query parameter holds.
#[derive(Clone, Copy, Debug)]
enum Param {
    /// `1,2,3`
    IdList,
    Int,
    Uuid,
    Token,
}

/// A query string: printable junk, percent-encoded arbitrary bytes (invalid UTF-8 included), or
/// the route's parameters (repeated, unknown ones, raw or encoded values).
fn query(
    params: &[(&'static str, Param)],
    ids: &[i64],
    submission: &str,
    token: &str,
) -> BoxedStrategy<String> {
    let names: Vec<&'static str> = params.iter().map(|(n, _)| *n).collect();
    let pair = prop_oneof![
        4 => select(params.to_vec())
            .prop_flat_map({
                let (ids, submission, token) = (ids.to_vec(), submission.to_string(), token.to_string());
                move |(name, param)| {
                    (Just(name.to_string()), value(param, &ids, &submission, &token))
                }
            }),
        1 => (
            prop_oneof![select(names).prop_map(String::from), "[a-z_]{0,10}", any::<String>()],
            text(),
        ),
    ];
    let encode = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let pairs =
        (proptest::collection::vec(pair, 0..4), any::<bool>()).prop_map(move |(pairs, raw)| {
            pairs
                .iter()
                .map(|(k, v)| {
                    if raw {
                        format!("{k}={v}")
                    } else {
                        format!("{}={}", encode(k), encode(v))
                    }
                })
                .collect::<Vec<_>>()
                .join("&")
        });
    let percent = proptest::collection::vec(any::<u8>(), 0..40).prop_map(|bytes| {
        let encoded: String = bytes.iter().map(|b| format!("%{b:02X}")).collect();
        format!("contest_ids={encoded}&limit={encoded}&token={encoded}")
    });
    prop_oneof![4 => pairs, 1 => "[ -~]{0,80}", 1 => percent].boxed()
}

fn value(param: Param, ids: &[i64], submission: &str, token: &str) -> BoxedStrategy<String> {
    let number = id(ids).prop_map(|n| n.to_string());
    match param {
        Param::IdList => prop_oneof![
            proptest::collection::vec(prop_oneof![4 => number, 1 => text()], 0..6),
            // Around the 100-id limit.
            proptest::collection::vec(id(ids).prop_map(|n| n.to_string()), 99..102),
        ]
        .prop_map(|parts| parts.join(","))
        .boxed(),
        Param::Int => prop_oneof![
            3 => number,
            1 => select(vec!["", "+5", " 5", "1e3", "0x10", "1001", "99999999999999999999"])
                .prop_map(String::from),
            1 => text(),
        ]
        .boxed(),
        Param::Uuid => prop_oneof![
            Just(submission.to_string()),
            any::<u128>().prop_map(|n| uuid::Uuid::from_u128(n).to_string()),
            Just(uuid::Uuid::nil().to_string()),
            text(),
        ]
        .boxed(),
        Param::Token => prop_oneof![Just(token.to_string()), text()].boxed(),
    }
}
