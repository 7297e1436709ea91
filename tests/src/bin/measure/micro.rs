//! validate-traffic's verdict timed in process, on the probe its criterion benchmark judges.

use std::hint::black_box;
use std::time::Instant;

use validate_traffic::verdict::{SampleResult, classify, judge};
use validate_traffic::verdict_probe;

use crate::results::MicroBench;
use crate::stats::median;

/// validate-traffic's verdict over 10,000 samples (the most a probe may send), timed here
/// because this binary is built with the function's release settings in the same build; the
/// criterion benchmark (`cargo bench -p validate-traffic --bench verdict`) judges the same probe.
pub fn verdict_timing() -> Vec<MicroBench> {
    let samples = verdict_probe::samples();
    let thresholds = verdict_probe::thresholds();
    let responses = verdict_probe::responses();
    let expect = verdict_probe::expectations();
    vec![
        time_it("judge_10000_samples", || {
            judge(black_box(&samples), black_box(&thresholds))
        }),
        time_it("classify_10000_responses", || {
            responses
                .iter()
                .map(|(status, body)| classify(*status, black_box(body), &expect))
                .filter(|r| matches!(r, SampleResult::Passed { .. }))
                .count()
        }),
    ]
}

/// Median and mean per call over 50 batches of 10 calls, after 20 calls of warm-up.
fn time_it<T>(name: &str, mut f: impl FnMut() -> T) -> MicroBench {
    for _ in 0..20 {
        black_box(f());
    }
    let per_call: Vec<f64> = (0..50)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..10 {
                black_box(f());
            }
            started.elapsed().as_secs_f64() * 1e6 / 10.0
        })
        .collect();
    MicroBench {
        name: name.to_string(),
        source: "measure binary (release build), 50 batches of 10 calls".into(),
        median_us: median(&per_call),
        mean_us: per_call.iter().sum::<f64>() / per_call.len() as f64,
    }
}
