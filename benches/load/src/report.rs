//! The report: per operation (goose's request metrics), the timer frames, and the server's own
//! figures before and after, as a table and as JSON.

use std::collections::BTreeMap;
use std::fmt::Write;

use goose::metrics::GooseMetrics;
use serde::Serialize;
use serde_json::Value;

use crate::check::Check;
use crate::retry::RetrySummary;
use crate::student::FrameSummary;

#[derive(Debug, Default, Serialize)]
pub struct ServerFigures {
    pub rss_mb: Option<f64>,
    pub pool_size: Option<u64>,
    pub writer_batches: Option<u64>,
    pub writer_rows: Option<u64>,
    /// Sum and count of `contestd_writer_batch_size`, for the mean batch.
    pub batch_size_sum: Option<f64>,
    pub batch_size_count: Option<f64>,
}

fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        line.strip_prefix(name)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

impl ServerFigures {
    pub async fn read(host: &str, pid: Option<u32>) -> Self {
        let http = reqwest::Client::new();
        let health: Value = match http.get(format!("{host}/health")).send().await {
            Ok(r) => r.json().await.unwrap_or(Value::Null),
            Err(_) => Value::Null,
        };
        let metrics = match http.get(format!("{host}/metrics")).send().await {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        let rss_mb = pid.and_then(|pid| {
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
            let kb: f64 = status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))?
                .split_whitespace()
                .next()?
                .parse()
                .ok()?;
            Some(kb / 1024.0)
        });
        ServerFigures {
            rss_mb,
            pool_size: health["db"]["pool_size"].as_u64(),
            writer_batches: health["writer"]["batches"].as_u64(),
            writer_rows: health["writer"]["rows"].as_u64(),
            batch_size_sum: metric(&metrics, "contestd_writer_batch_size_sum"),
            batch_size_count: metric(&metrics, "contestd_writer_batch_size_count"),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Operation {
    pub name: String,
    pub count: usize,
    pub per_sec: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    /// Answers by status code (0: no answer).
    pub statuses: BTreeMap<u16, usize>,
    pub failures: usize,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub label: String,
    pub seconds: usize,
    pub operations: Vec<Operation>,
    pub timer: Option<FrameSummary>,
    /// What the students' retries came to (a day's run only).
    pub retries: Option<RetrySummary>,
    pub server_before: ServerFigures,
    pub server_after: ServerFigures,
    /// The final check of the stored submissions (not for the ceiling).
    pub check: Option<Check>,
}

impl Report {
    pub fn new(
        label: String,
        metrics: &GooseMetrics,
        timer: Option<FrameSummary>,
        retries: Option<RetrySummary>,
        server_before: ServerFigures,
        server_after: ServerFigures,
        check: Option<Check>,
    ) -> Self {
        let seconds = metrics.duration.max(1);
        let mut operations: Vec<Operation> = metrics
            .requests
            .iter()
            .map(|(name, r)| {
                let ms = |q: f32| r.raw_data.percentile_us(q) as f64 / 1000.0;
                Operation {
                    name: name.clone(),
                    count: r.raw_data.counter,
                    per_sec: r.raw_data.counter as f64 / seconds as f64,
                    p50_ms: ms(0.5),
                    p90_ms: ms(0.9),
                    p99_ms: ms(0.99),
                    p999_ms: ms(0.999),
                    max_ms: r.raw_data.maximum_time_us as f64 / 1000.0,
                    statuses: r.status_code_counts.iter().map(|(&s, &n)| (s, n)).collect(),
                    failures: r.fail_count,
                }
            })
            .collect();
        operations.sort_by(|a, b| a.name.cmp(&b.name));
        Report {
            label,
            seconds,
            operations,
            timer,
            retries,
            server_before,
            server_after,
            check,
        }
    }

    pub fn table(&self) -> String {
        let mut out = format!("\n{} ({} s)\n\n", self.label, self.seconds);
        out.push_str("| operation | count | per s | p50 ms | p90 | p99 | p99.9 | max | statuses | failures |\n");
        out.push_str("|---|---|---|---|---|---|---|---|---|---|\n");
        for op in &self.operations {
            let statuses: Vec<String> = op
                .statuses
                .iter()
                .map(|(s, n)| format!("{s}×{n}"))
                .collect();
            let _ = writeln!(
                out,
                "| {} | {} | {:.0} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {} | {} |",
                op.name,
                op.count,
                op.per_sec,
                op.p50_ms,
                op.p90_ms,
                op.p99_ms,
                op.p999_ms,
                op.max_ms,
                statuses.join(" "),
                op.failures
            );
        }
        if let Some(t) = &self.timer {
            let _ = writeln!(
                out,
                "\ntimer frames: {} (failed sockets {}), delay p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
                t.frames, t.failed_sockets, t.delay_p50_ms, t.delay_p99_ms, t.delay_max_ms
            );
        }
        if let Some(r) = &self.retries {
            let _ = writeln!(out, "{}", r.line());
        }
        let (b, a) = (&self.server_before, &self.server_after);
        let diff = |x: Option<u64>, y: Option<u64>| y.zip(x).map(|(y, x)| y.saturating_sub(x));
        let batches = diff(b.writer_batches, a.writer_batches);
        let rows = diff(b.writer_rows, a.writer_rows);
        let _ = writeln!(
            out,
            "server: RSS {} MB, DB pool {} connections, writer {} rows in {} batches (mean {:.1})",
            a.rss_mb.map_or("?".into(), |m| format!("{m:.0}")),
            a.pool_size.map_or("?".into(), |p| p.to_string()),
            rows.map_or("?".into(), |r| r.to_string()),
            batches.map_or("?".into(), |r| r.to_string()),
            match (rows, batches) {
                (Some(r), Some(b)) if b > 0 => r as f64 / b as f64,
                _ => 0.0,
            }
        );
        if let Some(check) = &self.check {
            let _ = writeln!(out, "{}", check.line());
        }
        out
    }
}
