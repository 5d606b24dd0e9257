//! The submit path through the runtime: ContestActor (check, claim, grade) → WriteBatcher →
//! one multi-row insert per transaction on a real database, at writer batch sizes 1, 64, 512.
//! Each measured iteration is a burst of 1,000 students submitting at once to a fresh contest;
//! criterion reports submissions per second, and the p99 commit wait (submit → answer) of all
//! bursts is printed after each group.
//!
//!   cargo bench --bench submit                       # SQLite (temporary file, synchronous=FULL)
//!   CONTESTD_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1/contestd_bench cargo bench --bench submit
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use chrono::TimeDelta;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use futures::future::join_all;
use hdrhistogram::Histogram;

use contestd::config::DbArgs;
use contestd::model::{self, NewContest, Role};
use contestd::store::{Store, UserRow};
use contestd_actors::{Runtime, RuntimeConfig, Submit, WriterConfig};

const BURST: usize = 1000;

struct Fixture {
    store: Store,
    course_id: i64,
    students: Vec<i64>,
}

async fn fixture(url: &str) -> Fixture {
    let args = DbArgs {
        database_url: url.to_string(),
        db_max_connections: 10,
        db_acquire_timeout_secs: 5,
    };
    let store = Store::connect(&args).await.unwrap();
    store.migrate().await.unwrap();
    let now = model::now();
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let course = contestd::model::NewCourse {
        code: format!("bench-{tag}"),
        title: "bench".into(),
    };
    let course_id = store.insert_course(&course, now).await.unwrap().id;
    let rows: Vec<UserRow> = (0..BURST)
        .map(|i| UserRow {
            username: format!("b{}-{i}", &tag[..8]),
            password_hash: "not-a-hash".into(),
            role: Role::Student,
        })
        .collect();
    let students: Vec<i64> = store
        .insert_users(&rows, now)
        .await
        .unwrap()
        .iter()
        .map(|u| u.id)
        .collect();
    store.enroll(course_id, &students, now).await.unwrap();
    Fixture {
        store,
        course_id,
        students,
    }
}

async fn new_contest(f: &Fixture) -> i64 {
    let now = model::now();
    let contest: NewContest = serde_json::from_value(serde_json::json!({
        "course_id": f.course_id,
        "title": "bench",
        "start_time": now - TimeDelta::minutes(1),
        "end_time": now + TimeDelta::hours(1),
        "results": "immediate",
        "questions": (0..10)
            .map(|i| serde_json::json!({"prompt": format!("q{i}"), "options": ["a", "b"], "correct_option": 1}))
            .collect::<Vec<_>>(),
    }))
    .unwrap();
    let contest = contest.validate().unwrap();
    f.store
        .insert_contest(&contest, now)
        .await
        .unwrap()
        .contest
        .id
}

fn bench_backend(c: &mut Criterion, name: &str, url: &str) {
    let system = actix_web::rt::System::new();
    let fixture = system.block_on(fixture(url));
    let mut group = c.benchmark_group(format!("submit/{name}"));
    group.throughput(Throughput::Elements(BURST as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    for batch in [1usize, 64, 512] {
        let runtime = system.block_on(async {
            let store = std::sync::Arc::new(fixture.store.clone());
            let writer = WriterConfig {
                batch_size: batch,
                ..WriterConfig::default()
            };
            Runtime::start(store.clone(), store, writer, RuntimeConfig::default())
        });
        let mut waits = Histogram::<u64>::new(3).unwrap();
        group.bench_with_input(BenchmarkId::from_parameter(batch), &batch, |b, _| {
            b.iter_custom(|iters| {
                system.block_on(async {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let contest = new_contest(&fixture).await;
                        runtime.contest(contest).await.unwrap();
                        let started = Instant::now();
                        let submits = fixture.students.iter().map(|&student| {
                            let runtime = runtime.clone();
                            async move {
                                let t = Instant::now();
                                let answer = runtime
                                    .ask(
                                        contest,
                                        Submit {
                                            student,
                                            answers: vec![],
                                            idempotency: Default::default(),
                                        },
                                    )
                                    .await;
                                assert!(matches!(answer, Ok(Ok(_))), "submission failed");
                                t.elapsed()
                            }
                        });
                        for wait in join_all(submits).await {
                            waits.record(wait.as_micros() as u64).unwrap();
                        }
                        total += started.elapsed();
                    }
                    total
                })
            })
        });
        println!(
            "submit/{name}/{batch}: commit wait p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms over {} submissions",
            waits.value_at_quantile(0.5) as f64 / 1000.0,
            waits.value_at_quantile(0.99) as f64 / 1000.0,
            waits.max() as f64 / 1000.0,
            waits.len()
        );
    }
    group.finish();
}

fn submit_path(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite://{}/bench.db", dir.path().display());
    bench_backend(c, "sqlite", &sqlite);
    match std::env::var("CONTESTD_BENCH_POSTGRES_URL") {
        Ok(url) => bench_backend(c, "postgres", &url),
        Err(_) => println!("submit/postgres: skipped (set CONTESTD_BENCH_POSTGRES_URL)"),
    }
}

criterion_group!(benches, submit_path);
criterion_main!(benches);
