//! A login stampede with the production password costs: every login succeeds, and `/health`
//! stays quick meanwhile, because hashing runs off the async workers.

use std::cell::Cell;
use std::collections::HashSet;
use std::time::{Duration, Instant};

use futures::future::join_all;
use reqwest::StatusCode;

use crate::support::{spawn_app_with, str_field, Db, STUDENT_PW};

both_databases!(; with_db: login_stampede_keeps_health_responsive);

const STUDENTS: usize = 200;
/// Generous: a health check that queued behind the hashing would take many seconds.
const HEALTH_BOUND: Duration = Duration::from_secs(1);
/// Pause between two health checks.
const POLL_EVERY: Duration = Duration::from_millis(10);

async fn login_stampede_keeps_health_responsive(db: Db) {
    // The defaults of `contestd serve`, spelled out.
    let costs = ["--argon2-memory-kib", "19456", "--argon2-iterations", "2"];
    let Some(app) = spawn_app_with(db, &costs).await else {
        return;
    };
    let started = Instant::now();
    let students = app.create_students(STUDENTS).await;
    let bulk_time = started.elapsed();
    assert_eq!(students.len(), STUDENTS);

    let done = Cell::new(false);
    let logins = async {
        let started = Instant::now();
        let logins = students
            .iter()
            .map(|(_, name)| app.try_login(name, STUDENT_PW));
        let answers = join_all(logins).await;
        done.set(true);
        (answers, started.elapsed())
    };
    let health = async {
        let mut latencies = Vec::new();
        while !done.get() {
            let sent = Instant::now();
            let (status, body) = app.get("/health", None).await;
            latencies.push(sent.elapsed());
            assert_eq!(status, StatusCode::OK, "health during the stampede: {body}");
            assert_eq!(body["status"], "ok", "{body}");
            // Pacing, so the poller samples the whole stampede without competing for the CPU.
            actix_web::rt::time::sleep(POLL_EVERY).await;
        }
        latencies
    };
    let ((answers, wall), mut latencies) = futures::join!(logins, health);

    let mut tokens = HashSet::new();
    for ((_, name), (status, body)) in students.iter().zip(&answers) {
        assert_eq!(*status, StatusCode::OK, "login of {name}: {body}");
        assert_eq!(body["user"]["username"], name.as_str());
        assert!(
            tokens.insert(str_field(body, "token").to_string()),
            "tokens are unique"
        );
    }

    latencies.sort_unstable();
    let worst = latencies.last().copied().unwrap_or_default();
    let median = latencies
        .get(latencies.len() / 2)
        .copied()
        .unwrap_or_default();
    eprintln!(
        "stampede ({db:?}): bulk-created {STUDENTS} students in {bulk_time:?}; {STUDENTS} \
         concurrent logins in {wall:?}; {} health checks meanwhile, median {median:?}, worst {worst:?}",
        latencies.len()
    );
    assert!(
        latencies.len() >= 3,
        "health was polled during the stampede ({wall:?})"
    );
    assert!(
        worst < HEALTH_BOUND,
        "worst health latency {worst:?} during the stampede"
    );

    // Every token is the session of the student it was issued to.
    let app = &app;
    let checks = students
        .iter()
        .zip(&answers)
        .map(|((id, _), (_, body))| async move {
            let (status, me) = app.get("/api/me", Some(str_field(body, "token"))).await;
            assert_eq!(status, StatusCode::OK, "{me}");
            assert_eq!(me["id"], *id);
        });
    join_all(checks).await;
    app.stop().await;
}
