//! Per-route latency over a sliding window (for `/api/contests/performance`): each route keeps
//! a ring of HDR histograms, one per 30 s slot; a report merges the slots of the last 5 minutes.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use parking_lot::{Mutex, RwLock};
use serde::Serialize;

pub const WINDOW: Duration = Duration::from_secs(300);
const SLOT: Duration = Duration::from_secs(30);
const SLOTS: usize = (WINDOW.as_secs() / SLOT.as_secs()) as usize;
/// Latencies are kept from 1 µs to 10 min at 2 significant figures.
const MAX_MICROS: u64 = 600_000_000;

type RouteKey = (String, String);

pub struct Window {
    started: Instant,
    routes: RwLock<HashMap<RouteKey, Mutex<Ring>>>,
}

struct Ring {
    /// Per slot: the number of the 30 s period it holds, and its latencies (µs).
    slots: Vec<(u64, Histogram<u64>)>,
}

#[derive(Debug, Serialize)]
pub struct RouteFigures {
    pub method: String,
    pub route: String,
    pub count: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
}

impl Default for Window {
    fn default() -> Self {
        Window {
            started: Instant::now(),
            routes: RwLock::default(),
        }
    }
}

impl Window {
    fn period(&self) -> u64 {
        self.started.elapsed().as_secs() / SLOT.as_secs()
    }

    pub fn record(&self, method: &str, route: &str, latency: Duration) {
        let period = self.period();
        let micros = (latency.as_micros() as u64).clamp(1, MAX_MICROS);
        let key = (method.to_string(), route.to_string());
        if let Some(ring) = self.routes.read().get(&key) {
            ring.lock().record(period, micros);
            return;
        }
        let Some(mut ring) = Ring::new() else { return };
        ring.record(period, micros);
        self.routes.write().entry(key).or_insert(Mutex::new(ring));
    }

    /// Every route seen in the window, busiest first.
    pub fn report(&self) -> Vec<RouteFigures> {
        let period = self.period();
        let mut figures: Vec<RouteFigures> = self
            .routes
            .read()
            .iter()
            .filter_map(|((method, route), ring)| {
                let merged = ring.lock().merged(period)?;
                let ms = |q: f64| merged.value_at_quantile(q) as f64 / 1000.0;
                Some(RouteFigures {
                    method: method.clone(),
                    route: route.clone(),
                    count: merged.len(),
                    p50_ms: ms(0.50),
                    p95_ms: ms(0.95),
                    p99_ms: ms(0.99),
                })
            })
            .collect();
        figures.sort_by(|a, b| b.count.cmp(&a.count).then(a.route.cmp(&b.route)));
        figures
    }
}

fn histogram() -> Option<Histogram<u64>> {
    Histogram::new_with_bounds(1, MAX_MICROS, 2).ok()
}

impl Ring {
    fn new() -> Option<Ring> {
        let slots = (0..SLOTS)
            .map(|_| histogram().map(|h| (u64::MAX, h)))
            .collect::<Option<Vec<_>>>()?;
        Some(Ring { slots })
    }

    fn record(&mut self, period: u64, micros: u64) {
        let (held, histogram) = &mut self.slots[period as usize % SLOTS];
        if *held != period {
            histogram.reset();
            *held = period;
        }
        histogram.saturating_record(micros);
    }

    /// The slots still inside the window, merged; `None` when they are empty.
    fn merged(&self, period: u64) -> Option<Histogram<u64>> {
        let mut merged = histogram()?;
        for (held, histogram) in &self.slots {
            if *held != u64::MAX && period.saturating_sub(*held) < SLOTS as u64 {
                merged.add(histogram).ok()?;
            }
        }
        (!merged.is_empty()).then_some(merged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_per_route_and_old_slots_leave_the_window() {
        let window = Window::default();
        for ms in 1..=100 {
            window.record("GET", "/a", Duration::from_millis(ms));
        }
        window.record("POST", "/b", Duration::from_millis(7));
        let report = window.report();
        assert_eq!(report.len(), 2);
        let a = &report[0];
        assert_eq!(
            (a.method.as_str(), a.route.as_str(), a.count),
            ("GET", "/a", 100)
        );
        assert!((49.0..=51.0).contains(&a.p50_ms), "{a:?}");
        assert!((98.0..=100.5).contains(&a.p99_ms), "{a:?}");

        // A slot recorded a whole window ago no longer counts.
        let mut ring = Ring::new().unwrap();
        ring.record(0, 1_000);
        ring.record(SLOTS as u64, 2_000);
        assert_eq!(ring.merged(SLOTS as u64).unwrap().len(), 1);
        assert!(ring.merged(2 * SLOTS as u64).is_none());
    }
}
