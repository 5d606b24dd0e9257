//! The subcommands: serve, migrate, demo, maintenance.

use anyhow::Context;
use chrono::TimeDelta;

use crate::auth::{ensure_admin, password::Passwords};
use crate::config::{DbArgs, DemoArgs, ServeArgs};
use crate::model::{self, NewContest, NewCourse, Role};
use crate::startup::Application;
use crate::store::{Store, UserRow};
use crate::telemetry;

pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    telemetry::init(args.log_format);
    keep_large_blocks_mapped();
    // Every WebSocket is a descriptor: take all the hard limit allows.
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::info!(limit, "open-files limit"),
        Err(e) => tracing::warn!(error = %e, "could not raise the open-files limit"),
    }
    let app = Application::build(args).await?;
    app.run_until_stopped().await.context("serving")
}

/// glibc raises its mmap threshold to the largest block freed so far, so after the first
/// argon2 hash (19 MiB of memory) every later one is carved from the heap arenas and stays
/// resident: 100 logins left the server at 1.1 GB. Pinning the threshold keeps large blocks
/// mmapped and returned on free (the same 100 logins: 19 MB).
fn keep_large_blocks_mapped() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes a tuning value of the allocator; called before any thread
    // of ours allocates large blocks.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

async fn open(db: &DbArgs) -> anyhow::Result<Store> {
    let store = Store::connect(db).await?;
    store.migrate().await?;
    Ok(store)
}

pub async fn migrate(db: DbArgs) -> anyhow::Result<()> {
    let store = open(&db).await?;
    println!("migrations applied ({})", store.backend());
    store.close().await;
    Ok(())
}

pub async fn maintenance(db: DbArgs) -> anyhow::Result<()> {
    let store = open(&db).await?;
    let done = store.maintenance().await;
    store.close().await;
    for line in done? {
        println!("{line}");
    }
    Ok(())
}

/// Creates a demo course with `--students` students and a contest open for the next hour.
/// Demo students share one password, hashed once (hashing thousands would take minutes).
pub async fn demo(args: DemoArgs) -> anyhow::Result<()> {
    let store = open(&args.db).await?;
    let passwords = Passwords::new(&args.passwords).context("the argon2 settings")?;
    let generated = ensure_admin(&store, &passwords, args.admin_password.as_deref()).await?;
    let now = model::now();

    let course = NewCourse {
        code: format!("DEMO-{}", now.format("%Y%m%d-%H%M%S")),
        title: "Demo course".into(),
    };
    let course = store
        .insert_course(&course, now)
        .await
        .context("creating the demo course")?;

    let names: Vec<String> = (1..=args.students)
        .map(|i| format!("student{i:04}"))
        .collect();
    let mut ids = Vec::with_capacity(names.len());
    let mut new_rows = Vec::new();
    for name in &names {
        match store
            .user_by_username(name)
            .await
            .with_context(|| format!("looking for user {name}"))?
        {
            Some((user, _)) if user.role == Role::Student => ids.push(user.id),
            Some(_) => anyhow::bail!("user {name} exists and is not a student"),
            None => new_rows.push(name.clone()),
        }
    }
    let reused = ids.len();
    if !new_rows.is_empty() {
        let hash = passwords
            .hash(args.student_password.clone())
            .await
            .context("hashing the students' password")?;
        let rows: Vec<UserRow> = new_rows
            .into_iter()
            .map(|username| UserRow {
                username,
                password_hash: hash.clone(),
                role: Role::Student,
            })
            .collect();
        let created = store
            .insert_users(&rows, now)
            .await
            .context("creating the demo students")?;
        ids.extend(created.iter().map(|u| u.id));
    }
    if !ids.is_empty() {
        store
            .enroll(course.id, &ids, now)
            .await
            .context("enrolling the demo students")?;
    }

    // One question of each type, then plain arithmetic: ten in all.
    let mut questions = vec![
        serde_json::json!({"type": "multiple", "prompt": "Which of these are prime?",
            "options": ["2", "3", "4", "5"], "correct_options": [0, 1, 3], "scoring": "partial",
            "points": 3}),
        serde_json::json!({"type": "text", "prompt": "Which city is the capital of Germany?",
            "accepted": ["Berlin"]}),
        serde_json::json!({"type": "numeric", "prompt": "g at sea level, in m/s², to one decimal?",
            "answer": {"value": 9.8, "tolerance": 0.05}}),
    ];
    questions.extend((1..=7).map(|i| {
        serde_json::json!({"prompt": format!("What is {i} + {i}?"),
            "options": [(2 * i - 1).to_string(), (2 * i).to_string(), (2 * i + 1).to_string()],
            "correct_option": 1})
    }));
    let contest: NewContest = serde_json::from_value(serde_json::json!({
        "course_id": course.id,
        "title": "Demo contest",
        "start_time": now,
        "end_time": now + TimeDelta::hours(1),
        "results": "immediate",
        "questions": questions,
    }))
    .context("the demo contest")?;
    let contest = contest.validate().map_err(anyhow::Error::msg)?;
    let contest = store
        .insert_contest(&contest, now)
        .await
        .context("creating the demo contest")?;
    store.close().await;

    let base = args.base_url.trim_end_matches('/');
    let admin_line = match generated {
        Some(p) => format!("admin / {p}   (generated now: note it, it is not shown again)"),
        None => "admin / (the password set when the admin was created)".into(),
    };
    let first = names.first().map_or("student0001", String::as_str);
    let q = |i: usize| contest.questions.get(i).map_or(0, |q| q.id);
    println!(
        "Demo ready: course {course_id} ({code}), {n} students ({reused} already existed), \
         contest {contest_id} open until {end}.\n\
         \n  admin:    {admin_line}\n  students: student0001 … {last} / {pw}\n\
         \nTry it (with `contestd` serving at {base}):\n\
         \n  TOKEN=$(curl -s {base}/api/auth/login -H 'content-type: application/json' \\\n\
         \x20     -d '{{\"username\":\"{first}\",\"password\":\"{pw}\"}}' | sed 's/.*\"token\":\"\\([^\"]*\\)\".*/\\1/')\
         \n  curl -s {base}/api/contests -H \"authorization: Bearer $TOKEN\"\
         \n  curl -s {base}/api/contests/{contest_id} -H \"authorization: Bearer $TOKEN\"\
         \n  curl -s {base}/api/contests/{contest_id}/submissions -H \"authorization: Bearer $TOKEN\" \\\n\
         \x20     -H 'content-type: application/json' -d '{{\"answers\":[{{\"question_id\":{q0},\"options\":[0,1]}},{{\"question_id\":{q1},\"text\":\" berlin \"}}]}}'",
        course_id = course.id,
        code = course.code,
        n = ids.len(),
        contest_id = contest.contest.id,
        end = contest.contest.end_time,
        last = names.last().map_or("-", String::as_str),
        pw = args.student_password,
        q0 = q(0),
        q1 = q(1),
    );
    Ok(())
}
