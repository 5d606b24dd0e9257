//! contestd-load: a contest day against a running contestd, on goose.
//!
//! It creates (through the admin API) a course, N students and a contest, then runs each
//! student's day as a goose scenario — log in, list contests, fetch the contest, open the live
//! timer (WebSocket), think, submit once, read the submission back — and reports every operation
//! (goose's per-request metrics: count, throughput, p50/p90/p99/p99.9/max, statuses), the
//! timer frames' delays, and the server's own figures from `/health` and `/metrics`. `--ceiling`
//! measures raw HTTP against `GET /health` instead, the yardstick for every other figure.
//!
//!   cargo run --release -p contestd-load -- --preset classroom --admin-password …
//!
//! Goose's own flags follow `--` (e.g. `-- --report-file report.html` for graphs over time).

mod report;
mod setup;
mod student;

use std::sync::OnceLock;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use goose::config::GooseConfiguration;
use goose::prelude::*;
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
    /// Students (default: the preset's).
    #[arg(long)]
    students: Option<usize>,
    #[arg(long, value_enum, default_value_t = Mode::Closed)]
    mode: Mode,
    /// Open loop: students starting per second (default: all within 10 s).
    #[arg(long)]
    arrivals_per_sec: Option<f64>,
    /// Longest think time between opening the contest and submitting, in ms (default: the
    /// preset's: 60 s for the stadium, so every submission lands inside the same minute).
    #[arg(long)]
    think_max_ms: Option<u64>,
    #[arg(long, env = "CONTESTD_ADMIN_PASSWORD", hide_env_values = true)]
    admin_password: String,
    /// Raw-HTTP ceiling: this many connections GET /health as fast as they can.
    #[arg(long)]
    ceiling: Option<usize>,
    /// Seconds the ceiling runs.
    #[arg(long, default_value_t = 15)]
    ceiling_secs: usize,
    /// Where the JSON report goes.
    #[arg(long, default_value = "contestd-load.json")]
    json: String,
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
    pub usernames: Vec<String>,
    pub password: String,
    pub think_max: Duration,
    pub ws_base: String,
    pub frames: student::FrameFigures,
}

pub static DAY: OnceLock<Day> = OnceLock::new();

type Failed = Box<dyn std::error::Error>;

#[tokio::main]
async fn main() -> Result<(), Failed> {
    let args = Args::parse();
    // Each student holds an HTTP connection and a WebSocket.
    if let Err(e) = rlimit::increase_nofile_limit(u64::MAX) {
        eprintln!("could not raise the open-files limit: {e}");
    }
    let goose_config = GooseConfiguration::parse_args_default(&args.goose)?;
    let host = args.host.trim_end_matches('/').to_string();
    let before = report::ServerFigures::read(&host, args.server_pid).await;

    let (label, metrics, extra) = if let Some(connections) = args.ceiling {
        let attack = GooseAttack::initialize_with_config(goose_config)?
            .register_scenario(
                scenario!("ceiling").register_transaction(transaction!(health)),
            );
        let attack = configure(attack, &host, connections, args.ceiling_secs, None)?;
        (
            format!("ceiling: GET /health, {connections} connections"),
            attack.execute().await?,
            None,
        )
    } else {
        let students = args.students.unwrap_or(args.preset.students());
        let think_max = args
            .think_max_ms
            .unwrap_or(args.preset.think_max_ms());
        eprintln!("setting up {students} students …");
        let setup = setup::prepare(&host, &args.admin_password, students).await?;
        let ws_base = host.replacen("http", "ws", 1);
        let _ = DAY.set(Day {
            contest_id: setup.contest_id,
            usernames: setup.usernames,
            password: setup.password,
            think_max: Duration::from_millis(think_max),
            ws_base,
            frames: student::FrameFigures::default(),
        });
        let rate = match args.mode {
            Mode::Closed => students as f64,
            Mode::Open => args
                .arrivals_per_sec
                .unwrap_or((students as f64 / 10.0).max(1.0)),
        };
        let attack = GooseAttack::initialize_with_config(goose_config)?
            .register_scenario(student::scenario()?);
        let attack = configure(attack, &host, students, 0, Some(rate))?;
        eprintln!("running the day ({:?} loop) …", args.mode);
        let metrics = attack.execute().await?;
        (
            format!(
                "{:?}: {students} students, {:?} loop, think ≤ {think_max} ms",
                args.preset, args.mode
            ),
            metrics,
            DAY.get().map(|day| day.frames.summary()),
        )
    };
    let after = report::ServerFigures::read(&host, args.server_pid).await;
    let report = report::Report::new(label, &metrics, extra, before, after);
    println!("{}", report.table());
    std::fs::write(&args.json, serde_json::to_vec_pretty(&report)?)?;
    eprintln!("JSON report: {}", args.json);
    Ok(())
}

/// Goose defaults for a run: every user once (`iterations`) at `rate` users per second, or
/// for `run_secs` when `rate` is `None` (the ceiling). Command-line goose flags still win.
fn configure(
    attack: GooseAttack,
    host: &str,
    users: usize,
    run_secs: usize,
    rate: Option<f64>,
) -> Result<GooseAttack, GooseError> {
    let attack = *attack
        .set_default(GooseDefault::Host, host)?
        .set_default(GooseDefault::Users, users)?
        .set_default(GooseDefault::NoTelnet, true)?
        .set_default(GooseDefault::NoWebSocket, true)?
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
