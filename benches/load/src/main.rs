//! contestd-load: a contest day against a running contestd, on goose.
//!
//! It creates (through the admin API) a course, N students and a contest, then runs each
//! student's day as a goose scenario — log in, list contests, fetch the contest, open the live
//! timer (WebSocket), think while saving drafts, submit once (or, for `--never-submit` of them,
//! never), read the submission back — and reports every operation
//! (goose's per-request metrics: count, throughput, p50/p90/p99/p99.9/max, statuses), the
//! timer frames' delays, and the server's own figures from `/health` and `/metrics`. `--ceiling`
//! measures raw HTTP against `GET /health` instead, the yardstick for every other figure;
//! `--burst` all the students submitting at once (`--for-wrk`: hand them to wrk instead);
//! `--plot FILE.svg` draws throughput and p99 latency per operation, second by second.
//! `--question-mix mixed` gives the contest questions of all four types (the classroom's
//! default). The contest ends soon after the day's planned last activity; after a day the tool
//! waits for the end plus the grace, when the server submits the drafts of students who did not
//! submit. After a day or a burst, the admin's list of submissions is checked (`check.rs`):
//! every acknowledged submission stored exactly once, by hand, with its answers and the score
//! they should earn; every other student with a saved draft auto-submitted once, with their
//! last draft; nothing else.
//!
//!   cargo run --release -p contestd-load -- --preset classroom --admin-password …
//!
//! Goose's own flags follow `--` (e.g. `-- --report-file report.html` for goose's own report).

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod burst;
mod check;
mod plan;
mod plot;
mod report;
mod retry;
mod setup;
mod student;

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use goose::config::GooseConfiguration;
use goose::logger::GooseLogFormat;
use goose::prelude::*;
use parking_lot::Mutex;
use plan::QuestionMix;
use student::health;

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Preset {
    /// 100 students, the seed's own target.
    Seed,
    /// 1,000 students.
    Classroom,
    /// 10,000 students, each with a WebSocket, all submitting inside the same 60 s.
    Stadium,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    /// Students arrive at a fixed rate (`--arrivals-per-sec`), whatever the answers take.
    Open,
    /// Every student starts at once and goes as fast as the answers come.
    Closed,
}

#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// The server, e.g. http://127.0.0.1:8080.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    host: String,
    #[arg(long, value_enum, default_value_t = Preset::Seed)]
    preset: Preset,
    /// The contest's questions: single-choice only, or all four types with students giving
    /// right, wrong and partly right answers (default: the preset's; mixed for the classroom).
    #[arg(long, value_enum)]
    question_mix: Option<QuestionMix>,
    /// Questions in the contest (default: 5 single, 8 mixed).
    #[arg(long)]
    questions: Option<usize>,
    /// Write the contest as created (`{"contest_id", "contest": <admin view>}`) to this file,
    /// e.g. for `benches/load/regrade.sh`.
    #[arg(long)]
    setup_out: Option<String>,
    /// Students (default: the preset's).
    #[arg(long)]
    students: Option<usize>,
    /// Default: the preset's (closed for seed and classroom, open for the stadium).
    #[arg(long, value_enum)]
    mode: Option<Mode>,
    /// Open loop: students starting per second (default: the preset's; the stadium's 80/s is
    /// what argon2 at its default cost lets two cores log in).
    #[arg(long)]
    arrivals_per_sec: Option<f64>,
    /// Longest think time between opening the contest and submitting, in ms (default: the
    /// preset's).
    #[arg(long)]
    think_max_ms: Option<u64>,
    /// Every student submits inside this window (seconds), which opens once all have arrived
    /// (open loop only; the stadium's default: 60).
    #[arg(long)]
    submit_window_secs: Option<u64>,
    /// The share of students (0–1) who only save drafts and never submit: the server must
    /// submit their last draft at the deadline.
    #[arg(long, default_value_t = 0.1)]
    never_submit: f64,
    /// The contest's `grace_seconds` (0–300).
    #[arg(long, default_value_t = 10)]
    grace_secs: u64,
    /// How long the contest is open from its creation, in seconds (default: the day's planned
    /// last activity plus a margin; see `open_for`).
    #[arg(long)]
    contest_secs: Option<u64>,
    #[arg(long, env = "CONTESTD_ADMIN_PASSWORD", hide_env_values = true)]
    admin_password: String,
    /// Raw-HTTP ceiling: this many connections GET /health as fast as they can.
    #[arg(long)]
    ceiling: Option<usize>,
    /// Durable-submission rate: the students (default: the preset's) log in, then all submit at
    /// once with this many requests in flight (one shared client; see `burst.rs`).
    #[arg(long)]
    burst: Option<usize>,
    /// With `--burst`: log the students in, write their tokens, the body and the URL to this
    /// directory for wrk (`benches/load/submit.lua`) and stop before submitting.
    #[arg(long, requires = "burst")]
    for_wrk: Option<String>,
    /// Seconds the ceiling runs.
    #[arg(long, default_value_t = 15)]
    ceiling_secs: usize,
    /// Where the JSON report goes.
    #[arg(long, default_value = "contestd-load.json")]
    json: String,
    /// Write the usernames whose submission was acknowledged (`201`, or found stored after a
    /// retried one's `409`) to this file, one a line, for a check against the database.
    #[arg(long)]
    acknowledged_out: Option<String>,
    /// Also draw throughput and p99 latency per operation over time into this SVG file.
    #[arg(long)]
    plot: Option<String>,
    /// The server's process id, to read its resident memory from /proc (local servers).
    #[arg(long)]
    server_pid: Option<u32>,
    /// Goose's own flags.
    #[arg(last = true)]
    goose: Vec<String>,
}

impl Preset {
    fn students(self) -> usize {
        match self {
            Preset::Seed => 100,
            Preset::Classroom => 1_000,
            Preset::Stadium => 10_000,
        }
    }

    fn mode(self) -> Mode {
        match self {
            Preset::Seed | Preset::Classroom => Mode::Closed,
            Preset::Stadium => Mode::Open,
        }
    }

    fn arrivals_per_sec(self) -> f64 {
        match self {
            Preset::Seed | Preset::Classroom => 100.0,
            Preset::Stadium => 80.0,
        }
    }

    fn submit_window_secs(self) -> Option<u64> {
        matches!(self, Preset::Stadium).then_some(60)
    }

    /// The classroom sits a real exam: questions of the four types.
    fn question_mix(self) -> QuestionMix {
        match self {
            Preset::Classroom => QuestionMix::Mixed,
            Preset::Seed | Preset::Stadium => QuestionMix::Single,
        }
    }

    fn think_max_ms(self) -> u64 {
        match self {
            Preset::Seed | Preset::Classroom => 5_000,
            Preset::Stadium => 60_000,
        }
    }
}

/// What every simulated student shares: the contest and the students' credentials.
pub struct Day {
    pub contest_id: i64,
    pub plan: plan::Plan,
    /// What each student's submission and draft requests established, for the final check.
    pub ledgers: Mutex<HashMap<String, check::Ledger>>,
    /// The share of students who never submit (`plan::never_submits`).
    pub never_submit: f64,
    /// Every student stops thinking by then: a moment before the contest's end.
    pub act_by: std::time::Instant,
    pub usernames: Vec<String>,
    pub password: String,
    pub think_max: Duration,
    /// Open loop with a window: when the window opens (from the start) and how long it is.
    pub submit_window: Option<(std::time::Instant, Duration, Duration)>,
    pub ws_base: String,
    pub frames: student::FrameFigures,
    /// What retrying cost (`retry.rs`).
    pub retries: retry::RetryFigures,
}

pub static DAY: OnceLock<Day> = OnceLock::new();

/// The logins per second the plan of a day counts on: argon2 at its default cost lets the two
/// cores the server shares with this tool log in 45–80 a second (benches/README.md).
const LOGINS_PER_SEC: f64 = 40.0;
/// Between the day's planned last activity and the contest's end.
const SLACK: Duration = Duration::from_secs(15);
/// Students stop thinking (and submit) this long before the end, however late they arrived.
const ACT_BEFORE_END: Duration = Duration::from_secs(3);

/// How long the contest stays open for a day of `students` arriving at `rate` a second (all at
/// once in a closed loop), each thinking up to `think_max`, or submitting inside `window`
/// (when it opens, from the start, and how long): until the last student should have logged
/// in (at `LOGINS_PER_SEC` at best) and finished thinking, plus `SLACK`.
fn open_for(
    students: usize,
    rate: f64,
    think_max: Duration,
    window: Option<(Duration, Duration)>,
) -> Duration {
    let logged_in = Duration::from_secs_f64(students as f64 / rate.clamp(0.001, LOGINS_PER_SEC));
    let done = match window {
        Some((opens, length)) => (opens + length).max(logged_in),
        None => logged_in + think_max,
    };
    done + SLACK
}

type Failed = Box<dyn std::error::Error>;

#[tokio::main]
async fn main() -> Result<(), Failed> {
    let args = Args::parse();
    // Each student holds an HTTP connection and a WebSocket.
    if let Err(e) = rlimit::increase_nofile_limit(u64::MAX) {
        eprintln!("could not raise the open-files limit: {e}");
    }
    let goose_config = GooseConfiguration::parse_args_default(&args.goose)?;
    // A plot is drawn from goose's request log: one JSON line per request.
    let request_log = args.plot.as_ref().map(|p| format!("{p}.requests.json"));
    let host = args.host.trim_end_matches('/').to_string();
    let before = report::ServerFigures::read(&host, args.server_pid).await;

    let mix = args.question_mix.unwrap_or(args.preset.question_mix());
    let questions = setup::Questions {
        mix,
        count: args.questions.unwrap_or(mix.default_questions()),
    };
    if let Some(concurrency) = args.burst {
        let students = args.students.unwrap_or(args.preset.students());
        // Open for an hour: the burst has no drafts and no deadline to wait for.
        let schedule = setup::Schedule {
            open_for: Duration::from_secs(3600),
            grace: Duration::ZERO,
        };
        let setup = prepare(&args, &host, students, questions, schedule).await?;
        let ready = burst::ready(&host, &setup, concurrency.max(1)).await?;
        if let Some(dir) = &args.for_wrk {
            burst::write_for_wrk(&ready, std::path::Path::new(dir))?;
            eprintln!("tokens, body and URL for benches/load/submit.lua written to {dir}");
            return Ok(());
        }
        let figures = burst::run(&ready, concurrency.max(1)).await?;
        let after = report::ServerFigures::read(&host, args.server_pid).await;
        let label = format!("burst: {students} students submit at once, {concurrency} in flight");
        println!("\n{label}\n\n{}", figures.table());
        if let Some(path) = &args.plot {
            plot::write_svg(path, &label, &figures.samples)?;
            eprintln!("plot: {path}");
        }
        let batches = after.writer_batches.zip(before.writer_batches);
        if let Some((a, b)) = batches {
            println!("writer: {} batches", a.saturating_sub(b));
        }
        let check = check::run(&host, &setup, &figures.ledgers, None).await?;
        println!("{}", check.line());
        return if check.passed() {
            Ok(())
        } else {
            Err("the final check failed".into())
        };
    }
    let (label, metrics, extra, check) = if let Some(connections) = args.ceiling {
        let attack = GooseAttack::initialize_with_config(goose_config)?
            .register_scenario(scenario!("ceiling").register_transaction(transaction!(health)));
        let attack = configure(
            attack,
            &host,
            connections,
            args.ceiling_secs,
            None,
            request_log.as_deref(),
        )?;
        (
            format!("ceiling: GET /health, {connections} connections"),
            attack.execute().await?,
            None,
            None,
        )
    } else {
        let students = args.students.unwrap_or(args.preset.students());
        let think_max = args.think_max_ms.unwrap_or(args.preset.think_max_ms());
        let mode = args.mode.unwrap_or(args.preset.mode());
        let rate = match mode {
            Mode::Closed => students as f64,
            Mode::Open => args
                .arrivals_per_sec
                .unwrap_or(args.preset.arrivals_per_sec()),
        };
        let window_secs = args
            .submit_window_secs
            .or(args.preset.submit_window_secs())
            .filter(|_| mode == Mode::Open);
        let arrivals = Duration::from_secs_f64(students as f64 / rate.max(0.001));
        let open = args.contest_secs.map_or_else(
            || {
                open_for(
                    students,
                    rate,
                    Duration::from_millis(think_max),
                    window_secs.map(|w| (arrivals, Duration::from_secs(w))),
                )
            },
            Duration::from_secs,
        );
        let schedule = setup::Schedule {
            open_for: open,
            grace: Duration::from_secs(args.grace_secs),
        };
        let setup = prepare(&args, &host, students, questions, schedule).await?;
        let ws_base = host.replacen("http", "ws", 1);
        let now = std::time::Instant::now();
        let until_end = (setup.end_time - chrono::Utc::now())
            .to_std()
            .unwrap_or_default();
        let window = window_secs.map(|secs| (now, arrivals, Duration::from_secs(secs)));
        let _ = DAY.set(Day {
            contest_id: setup.contest_id,
            plan: setup.plan.clone(),
            ledgers: Mutex::new(HashMap::new()),
            never_submit: args.never_submit,
            act_by: now + until_end.saturating_sub(ACT_BEFORE_END),
            usernames: setup.usernames.clone(),
            password: setup.password.clone(),
            think_max: Duration::from_millis(think_max),
            submit_window: window,
            ws_base,
            frames: student::FrameFigures::default(),
            retries: retry::RetryFigures::default(),
        });
        let attack = GooseAttack::initialize_with_config(goose_config)?
            .register_scenario(student::scenario()?);
        let attack = configure(
            attack,
            &host,
            students,
            0,
            Some(rate),
            request_log.as_deref(),
        )?;
        eprintln!(
            "running the day ({mode:?} loop, {rate} students/s; the contest ends in {:.0} s, grace {} s) …",
            until_end.as_secs_f64(),
            args.grace_secs
        );
        let metrics = attack.execute().await?;
        let ledgers = DAY
            .get()
            .map(|day| std::mem::take(&mut *day.ledgers.lock()))
            .unwrap_or_default();
        if let Some(path) = &args.acknowledged_out {
            let mut names: Vec<&str> = ledgers
                .iter()
                .filter(|(_, l)| l.submitted.is_some())
                .map(|(name, _)| name.as_str())
                .collect();
            names.sort_unstable();
            std::fs::write(
                path,
                names.iter().map(|n| format!("{n}\n")).collect::<String>(),
            )?;
        }
        let left = (setup.end_time - chrono::Utc::now()).num_milliseconds() as f64 / 1000.0;
        eprintln!(
            "the day is over, {:.0} s {} the contest's end",
            left.abs(),
            if left >= 0.0 { "before" } else { "after" }
        );
        let check = check::run(&host, &setup, &ledgers, Some(setup.deadline())).await?;
        (
            match window {
                Some((_, _, w)) => format!(
                    "{:?}: {students} students, open loop at {rate}/s, all submitting within {} s",
                    args.preset,
                    w.as_secs()
                ),
                None => format!(
                    "{:?}: {students} students, {mode:?} loop, think ≤ {think_max} ms",
                    args.preset
                ),
            } + &format!(
                ", {} {mix:?} questions, drafts, {}% never submitting",
                questions.count,
                (args.never_submit * 100.0).round()
            ),
            metrics,
            DAY.get().map(|day| day.frames.summary()),
            Some(check),
        )
    };
    let after = report::ServerFigures::read(&host, args.server_pid).await;
    let passed = check.as_ref().is_none_or(check::Check::passed);
    let retries = DAY.get().map(|day| day.retries.summary());
    let report = report::Report::new(label, &metrics, extra, retries, before, after, check);
    println!("{}", report.table());
    if let (Some(path), Some(log)) = (&args.plot, &request_log) {
        let samples = plot::read_goose_log(std::path::Path::new(log))?;
        plot::write_svg(path, &report.label, &samples)?;
        eprintln!("plot: {path} (from goose's request log {log})");
    }
    std::fs::write(&args.json, serde_json::to_vec_pretty(&report)?)?;
    eprintln!("JSON report: {}", args.json);
    if passed {
        Ok(())
    } else {
        Err("the final check failed".into())
    }
}

/// Creates the students, course and contest (`setup.rs`), and writes the contest to
/// `--setup-out`.
async fn prepare(
    args: &Args,
    host: &str,
    students: usize,
    questions: setup::Questions,
    schedule: setup::Schedule,
) -> Result<setup::Setup, Failed> {
    eprintln!(
        "setting up {students} students, {} {:?} questions …",
        questions.count, questions.mix
    );
    let setup = setup::prepare(host, &args.admin_password, students, questions, schedule).await?;
    if let Some(path) = &args.setup_out {
        let out = serde_json::json!({"contest_id": setup.contest_id, "contest": setup.contest});
        std::fs::write(path, serde_json::to_vec_pretty(&out)?)?;
    }
    Ok(setup)
}

/// Goose defaults for a run: every user once (`iterations`) at `rate` users per second, or
/// for `run_secs` when `rate` is `None` (the ceiling); every request logged as JSON to
/// `request_log` when given. Command-line goose flags still win.
fn configure(
    attack: GooseAttack,
    host: &str,
    users: usize,
    run_secs: usize,
    rate: Option<f64>,
    request_log: Option<&str>,
) -> Result<GooseAttack, GooseError> {
    let attack = match request_log {
        Some(log) => *attack
            .set_default(GooseDefault::RequestLog, log)?
            .set_default(GooseDefault::RequestFormat, GooseLogFormat::Json)?,
        None => attack,
    };
    let attack = *attack
        .set_default(GooseDefault::Host, host)?
        .set_default(GooseDefault::Users, users)?
        .set_default(GooseDefault::NoTelnet, true)?
        .set_default(GooseDefault::NoAutoStart, false)?
        .set_default(
            GooseDefault::CoordinatedOmissionMitigation,
            GooseCoordinatedOmissionMitigation::Average,
        )?;
    Ok(match rate {
        Some(rate) => *attack
            .set_default(GooseDefault::IncreaseRate, rate.to_string().as_str())?
            .set_default(GooseDefault::Iterations, 1)?,
        None => *attack
            .set_default(GooseDefault::IncreaseRate, users.to_string().as_str())?
            .set_default(GooseDefault::RunTime, run_secs)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contest_ends_after_the_planned_day() {
        let secs = |d: Duration| d.as_secs_f64();
        let think = Duration::from_secs(5);
        // Closed loop: everyone at once, logged in at 40/s, then thinking.
        assert_eq!(secs(open_for(100, 100.0, think, None)), 2.5 + 5.0 + 15.0);
        assert_eq!(
            secs(open_for(1_000, 1_000.0, think, None)),
            25.0 + 5.0 + 15.0
        );
        // The stadium: the window closes at 125 + 60 s, but logins at 40/s end at 250 s.
        let window = Some((Duration::from_secs(125), Duration::from_secs(60)));
        assert_eq!(secs(open_for(10_000, 80.0, think, window)), 250.0 + 15.0);
        // A slow arrival rate: the window is the last activity.
        let window = Some((Duration::from_secs(100), Duration::from_secs(60)));
        assert_eq!(secs(open_for(1_000, 10.0, think, window)), 160.0 + 15.0);
    }
}
