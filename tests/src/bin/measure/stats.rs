//! Summaries of timing samples.

use std::time::Duration;

use serde::Serialize;

#[derive(Debug, Serialize, Clone, Copy)]
pub struct Summary {
    pub runs: usize,
    pub median: f64,
    pub p99: f64,
    pub min: f64,
    pub max: f64,
}

pub fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// Median, nearest-rank p99, min and max; all zero for no samples.
pub fn summary(values: &[f64]) -> Summary {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = |pct: f64| {
        let i = ((pct / 100.0) * sorted.len() as f64).ceil() as usize;
        sorted
            .get(i.clamp(1, sorted.len().max(1)) - 1)
            .copied()
            .unwrap_or(0.0)
    };
    Summary {
        runs: sorted.len(),
        median: median(&sorted),
        p99: rank(99.0),
        min: sorted.first().copied().unwrap_or(0.0),
        max: sorted.last().copied().unwrap_or(0.0),
    }
}

pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}
