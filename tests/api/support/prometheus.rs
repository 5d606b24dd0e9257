//! `/metrics` scraped and parsed: a small reader of the Prometheus text format.

use std::collections::BTreeMap;

use reqwest::StatusCode;

use super::TestApp;

/// One sample of a `/metrics` scrape: `name{labels} value`.
#[derive(Debug, Clone)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// A parsed `/metrics` scrape.
#[derive(Debug, Clone)]
pub struct Metrics(pub Vec<Sample>);

impl Metrics {
    /// Parses the Prometheus text format: `#` lines are skipped, every other non-empty line
    /// must be `name value` or `name{k="v",…} value` (an optional timestamp may follow).
    pub fn parse(text: &str) -> Metrics {
        let samples = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|line| {
                parse_sample(line).unwrap_or_else(|| panic!("not a metrics line: {line:?}"))
            })
            .collect();
        Metrics(samples)
    }

    /// The samples called `name` whose labels include every `(key, value)` of `labels`.
    pub fn series<'a>(
        &'a self,
        name: &'a str,
        labels: &'a [(&'a str, &'a str)],
    ) -> impl Iterator<Item = &'a Sample> + 'a {
        self.0.iter().filter(move |s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
    }

    /// The sum of the matching samples (see `series`), `None` when there is none.
    pub fn find(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let mut matched = self.series(name, labels).peekable();
        matched.peek()?;
        Some(matched.map(|s| s.value).sum())
    }

    /// Like `find`, but the metric must be there.
    #[track_caller]
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.find(name, labels)
            .unwrap_or_else(|| panic!("no {name} {labels:?} in /metrics: {self:#?}"))
    }

    /// Like `find`, with 0 when there is no such sample yet.
    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.find(name, labels).unwrap_or(0.0)
    }
}

impl TestApp {
    /// `GET /metrics`, which must answer 200 in the Prometheus text format, parsed.
    pub async fn metrics(&self) -> Metrics {
        let (status, content_type, text) = self.get_text("/metrics", None, "text/plain").await;
        assert_eq!(status, StatusCode::OK, "/metrics: {text}");
        assert!(
            content_type.starts_with("text/plain"),
            "/metrics content type: {content_type}"
        );
        Metrics::parse(&text)
    }
}

fn parse_sample(line: &str) -> Option<Sample> {
    let (name, mut rest) = line.split_at(line.find(['{', ' '])?);
    let mut labels = BTreeMap::new();
    if let Some(mut inner) = rest.strip_prefix('{') {
        loop {
            inner = inner.trim_start_matches([',', ' ']);
            if let Some(after) = inner.strip_prefix('}') {
                rest = after;
                break;
            }
            let (key, after) = inner.split_once('=')?;
            let key = key.trim();
            if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return None;
            }
            let quoted = after.strip_prefix('"')?;
            let mut chars = quoted.char_indices();
            let mut value = String::new();
            let end = loop {
                match chars.next()? {
                    (i, '"') => break i,
                    (_, '\\') => match chars.next()?.1 {
                        'n' => value.push('\n'),
                        c => value.push(c),
                    },
                    (_, c) => value.push(c),
                }
            };
            labels.insert(key.to_string(), value);
            inner = &quoted[end + 1..];
        }
    }
    let value = rest.split_whitespace().next()?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().ok()?,
    };
    Some(Sample {
        name: name.to_string(),
        labels,
        value,
    })
}
