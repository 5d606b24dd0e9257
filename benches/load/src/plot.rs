//! `--plot FILE.svg`: throughput and p99 latency per operation, second by second.
//!
//! The samples come from goose's own request log (JSON lines, one per request) for the
//! scenarios and the ceiling, and from the burst's own timings for `--burst`.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::Path;

use plotters::prelude::*;
use serde::Deserialize;

use crate::Failed;

/// One answered request: which operation, when it was sent (ms from the start), how long it took.
pub struct Sample {
    pub operation: String,
    pub at_ms: u64,
    pub took_us: u64,
}

/// The fields of goose's `GooseRequestMetric` a plot needs.
#[derive(Deserialize)]
struct LoggedRequest {
    elapsed: u64,
    name: String,
    response_time: u64,
    #[serde(default)]
    response_time_fraction_us: u16,
    /// Coordinated-omission updates repeat a request already logged.
    #[serde(default)]
    update: bool,
}

/// Reads goose's request log (`--request-format json`).
pub fn read_goose_log(path: &Path) -> Result<Vec<Sample>, Failed> {
    let file = std::io::BufReader::new(std::fs::File::open(path)?);
    let mut samples = Vec::new();
    for line in file.lines() {
        let line = line?;
        let Ok(request) = serde_json::from_str::<LoggedRequest>(&line) else {
            continue;
        };
        if request.update {
            continue;
        }
        samples.push(Sample {
            operation: request.name,
            at_ms: request.elapsed,
            took_us: request.response_time * 1000 + u64::from(request.response_time_fraction_us),
        });
    }
    Ok(samples)
}

/// Per operation, per second: (requests, p99 in ms).
fn per_second(samples: &[Sample]) -> BTreeMap<&str, BTreeMap<u64, (usize, f64)>> {
    let mut took: BTreeMap<&str, BTreeMap<u64, Vec<u64>>> = BTreeMap::new();
    for s in samples {
        took.entry(&s.operation)
            .or_default()
            .entry(s.at_ms / 1000)
            .or_default()
            .push(s.took_us);
    }
    took.into_iter()
        .map(|(op, seconds)| {
            let series = seconds
                .into_iter()
                .map(|(second, mut us)| {
                    us.sort_unstable();
                    let p99 = us[(us.len() * 99).div_ceil(100).saturating_sub(1)];
                    (second, (us.len(), p99 as f64 / 1000.0))
                })
                .collect();
            (op, series)
        })
        .collect()
}

/// Two charts, one above the other: requests per second, and p99 latency (ms, log scale).
pub fn write_svg(path: &str, title: &str, samples: &[Sample]) -> Result<(), Failed> {
    let series = per_second(samples);
    let last_second = series
        .values()
        .filter_map(|s| s.keys().next_back())
        .max()
        .copied()
        .unwrap_or(0)
        + 1;
    let top_rate = series
        .values()
        .flat_map(|s| s.values().map(|&(n, _)| n))
        .max()
        .unwrap_or(1) as f64;
    let top_p99 = series
        .values()
        .flat_map(|s| s.values().map(|&(_, p99)| p99))
        .fold(1.0_f64, f64::max);

    let root = SVGBackend::new(path, (1100, 800)).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(title, ("sans-serif", 20))?;
    let (upper, lower) = root.split_vertically(390);

    let mut rate = ChartBuilder::on(&upper)
        .caption("requests per second", ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(0..last_second, 0.0..top_rate * 1.1)?;
    rate.configure_mesh()
        .x_desc("second")
        .y_label_formatter(&|v| format!("{v:.0}"))
        .draw()?;
    let mut latency = ChartBuilder::on(&lower)
        .caption("p99 latency (ms)", ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(0..last_second, (0.1..top_p99 * 1.5).log_scale())?;
    latency.configure_mesh().x_desc("second").draw()?;

    for (i, (op, points)) in series.iter().enumerate() {
        let color = Palette99::pick(i).stroke_width(2);
        rate.draw_series(LineSeries::new(
            points.iter().map(|(&s, &(n, _))| (s, n as f64)),
            color,
        ))?
        .label(*op)
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color));
        latency.draw_series(LineSeries::new(
            points.iter().map(|(&s, &(_, p99))| (s, p99.max(0.1))),
            color,
        ))?;
    }
    rate.configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(operation: &str, at_ms: u64, took_us: u64) -> Sample {
        Sample {
            operation: operation.into(),
            at_ms,
            took_us,
        }
    }

    #[test]
    fn buckets_by_operation_and_second_with_the_p99() {
        let mut samples: Vec<Sample> = (1..=100).map(|i| sample("a", 10, i * 1000)).collect();
        samples.push(sample("a", 1_500, 7_000));
        samples.push(sample("b", 999, 2_000));
        let series = per_second(&samples);
        assert_eq!(series["a"][&0], (100, 99.0));
        assert_eq!(series["a"][&1], (1, 7.0));
        assert_eq!(series["b"][&0], (1, 2.0));
    }

    #[test]
    fn reads_goose_json_lines_and_skips_updates_and_junk() {
        let path = std::env::temp_dir().join(format!("plot-log-{}.json", std::process::id()));
        std::fs::write(
            &path,
            concat!(
                r#"{"elapsed":1200,"name":"submit","response_time":3,"response_time_fraction_us":250,"update":false}"#,
                "\n",
                r#"{"elapsed":1300,"name":"submit","response_time":9,"update":true}"#,
                "\nnot json\n"
            ),
        )
        .unwrap();
        let samples = read_goose_log(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(samples.len(), 1);
        assert_eq!(
            (
                samples[0].operation.as_str(),
                samples[0].at_ms,
                samples[0].took_us
            ),
            ("submit", 1200, 3250)
        );
    }

    #[test]
    fn writes_an_svg_with_every_operation_in_the_legend() {
        let path = std::env::temp_dir().join(format!("plot-{}.svg", std::process::id()));
        let samples = vec![
            sample("login", 0, 40_000),
            sample("view contest", 1_000, 900),
        ];
        write_svg(path.to_str().unwrap(), "test run", &samples).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(80)]);
        for text in ["test run", "login", "view contest", "p99 latency (ms)"] {
            assert!(svg.contains(text), "missing {text}");
        }
    }
}
