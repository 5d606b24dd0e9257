//! The run's final check, through the admin's list of the contest's submissions: every
//! submission the server acknowledged (`201`) is stored exactly once, with the score its answers
//! should earn and the contest's maximum.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::plan::json_cents;
use crate::setup::Setup;
use crate::Failed;

/// A stored submission, as the admin list shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub username: String,
    /// In hundredths (`None`: not a number).
    pub score: Option<i64>,
    pub max_score: Option<i64>,
}

/// Reads every submission of the contest (pages of 1,000), waiting out a `429`.
pub async fn stored(host: &str, admin_token: &str, contest_id: i64) -> Result<Vec<Stored>, Failed> {
    let http = reqwest::Client::new();
    let mut all = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut url = format!("{host}/api/contests/{contest_id}/submissions?limit=1000");
        if let Some(after) = &after {
            url.push_str(&format!("&after={after}"));
        }
        let response = http.get(&url).bearer_auth(admin_token).send().await?;
        let status = response.status();
        if status.as_u16() == 429 {
            let wait = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok()?.parse().ok())
                .unwrap_or(1);
            tokio::time::sleep(Duration::from_secs(wait)).await;
            continue;
        }
        let page: Value = response.json().await?;
        if !status.is_success() {
            return Err(format!("listing the submissions: {status}: {page}").into());
        }
        for s in page["submissions"]
            .as_array()
            .ok_or("no submissions list")?
        {
            all.push(Stored {
                username: s["username"].as_str().unwrap_or_default().to_string(),
                score: json_cents(&s["score"]),
                max_score: json_cents(&s["max_score"]),
            });
        }
        match page["next"].as_str() {
            Some(next) => after = Some(next.to_string()),
            None => return Ok(all),
        }
    }
}

/// What the check found.
#[derive(Debug, Default, Serialize)]
pub struct Check {
    pub acknowledged: usize,
    pub stored: usize,
    /// Acknowledged but not stored.
    pub missing: usize,
    /// Students stored more than once.
    pub duplicated: usize,
    /// Stored without a `201` (a request the client gave up on, which the server committed).
    pub unacknowledged: usize,
    /// Acknowledged and stored once, with another score or maximum than expected.
    pub wrong_scores: usize,
    /// A few of the problems, for the reader.
    pub examples: Vec<String>,
}

impl Check {
    /// `acked`: username → the score (hundredths) their answers should earn; `max`: the
    /// contest's maximum score (hundredths).
    pub fn new(acked: &HashMap<String, i64>, stored: &[Stored], max: i64) -> Self {
        let mut by_name: BTreeMap<&str, Vec<&Stored>> = BTreeMap::new();
        for s in stored {
            by_name.entry(&s.username).or_default().push(s);
        }
        let mut check = Check {
            acknowledged: acked.len(),
            stored: stored.len(),
            ..Check::default()
        };
        let note = |check: &mut Check, text: String| {
            if check.examples.len() < 5 {
                check.examples.push(text);
            }
        };
        let mut names: Vec<(&String, &i64)> = acked.iter().collect();
        names.sort();
        for (name, &expected) in names {
            match by_name.get(name.as_str()).map(Vec::as_slice) {
                None | Some([]) => {
                    check.missing += 1;
                    note(&mut check, format!("{name}: acknowledged, not stored"));
                }
                Some([one]) => {
                    if one.score != Some(expected) || one.max_score != Some(max) {
                        check.wrong_scores += 1;
                        note(
                            &mut check,
                            format!(
                                "{name}: score {:?}/{:?} (hundredths), expected {expected}/{max}",
                                one.score, one.max_score
                            ),
                        );
                    }
                }
                Some(many) => {
                    check.duplicated += 1;
                    note(&mut check, format!("{name}: stored {} times", many.len()));
                }
            }
        }
        for (name, rows) in &by_name {
            if !acked.contains_key(*name) {
                check.unacknowledged += 1;
                if rows.len() > 1 {
                    check.duplicated += 1;
                    note(&mut check, format!("{name}: stored {} times", rows.len()));
                }
            }
        }
        check
    }

    /// Whether every acknowledged submission is stored once with its expected score, and no
    /// student twice.
    pub fn passed(&self) -> bool {
        self.missing == 0 && self.duplicated == 0 && self.wrong_scores == 0
    }

    pub fn line(&self) -> String {
        let mut line = format!(
            "check: {} acknowledged, {} stored, {} missing, {} duplicated, {} wrong scores, {} stored without a 201 — {}",
            self.acknowledged,
            self.stored,
            self.missing,
            self.duplicated,
            self.wrong_scores,
            self.unacknowledged,
            if self.passed() { "passed" } else { "FAILED" }
        );
        for example in &self.examples {
            line.push_str("\n  ");
            line.push_str(example);
        }
        line
    }
}

/// Reads the contest's stored submissions and checks them against `acked` (username → the
/// score, in hundredths, of an acknowledged submission).
pub async fn run(host: &str, setup: &Setup, acked: &HashMap<String, i64>) -> Result<Check, Failed> {
    let stored = stored(host, &setup.admin_token, setup.contest_id).await?;
    Ok(Check::new(acked, &stored, setup.plan.max_cents()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, score: i64) -> Stored {
        Stored {
            username: name.into(),
            score: Some(score),
            max_score: Some(500),
        }
    }

    #[test]
    fn every_acknowledged_submission_once_with_its_score() {
        let acked: HashMap<String, i64> = [("a".into(), 200), ("b".into(), 133)].into();
        let good = Check::new(&acked, &[row("a", 200), row("b", 133)], 500);
        assert!(good.passed(), "{}", good.line());
        assert_eq!((good.acknowledged, good.stored), (2, 2));

        let missing = Check::new(&acked, &[row("a", 200)], 500);
        assert_eq!(missing.missing, 1);
        assert!(!missing.passed());

        let twice = Check::new(&acked, &[row("a", 200), row("a", 200), row("b", 133)], 500);
        assert_eq!(twice.duplicated, 1);
        assert!(!twice.passed());

        let wrong = Check::new(&acked, &[row("a", 200), row("b", 134)], 500);
        assert_eq!(wrong.wrong_scores, 1);
        assert!(!wrong.passed());
        assert!(wrong.line().contains("b: score Some(134)"));

        let wrong_max = Check::new(&acked, &[row("a", 200), row("b", 133)], 600);
        assert_eq!(wrong_max.wrong_scores, 2);

        // Committed though the client gave up: counted, not a failure; twice is.
        let extra = Check::new(&acked, &[row("a", 200), row("b", 133), row("c", 0)], 500);
        assert_eq!(extra.unacknowledged, 1);
        assert!(extra.passed());
        let extra_twice = Check::new(
            &acked,
            &[row("a", 200), row("b", 133), row("c", 0), row("c", 0)],
            500,
        );
        assert!(!extra_twice.passed());
    }
}
