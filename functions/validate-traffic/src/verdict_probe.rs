//! The probe the verdict benchmarks judge: `benches/verdict.rs` (criterion) and `make bench`'s
//! measuring binary (`rollout-bench`, `verdict_micro`) time [`crate::verdict`] on these same
//! samples, responses and settings. The function itself never calls this module.
//!
//! 10,000 samples is the largest probe the configuration allows (`PROBE_REQUESTS`), so timings
//! on it bound the time the verdict adds to a hook invocation.

use std::time::Duration;

use regex::Regex;

use crate::verdict::{Expectations, Sample, SampleResult, StatusSet, Thresholds};

/// Samples (and responses) in the probe.
pub const SAMPLES: usize = 10_000;

/// A deterministic generator, so every run judges the same probe.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}

/// A mostly healthy probe over three paths: about 1 % errors and 0.2 % timeouts, latencies
/// spread over 1–80 ms so the percentile sort does real work.
pub fn samples() -> Vec<Sample> {
    let paths = ["/", "/health", "/api/orders?limit=5"];
    let mut rng = Lcg(0x5eed);
    (0..SAMPLES)
        .map(|i| {
            let result = match rng.next() % 1000 {
                0..=1 => SampleResult::Timeout,
                2..=11 => SampleResult::UnexpectedStatus {
                    status: 503,
                    excerpt: "upstream connect error or disconnect/reset before headers".into(),
                },
                _ => SampleResult::Passed { status: 200 },
            };
            Sample {
                path: paths[i % paths.len()].to_string(),
                latency: Duration::from_micros(1_000 + rng.next() % 79_000),
                result,
            }
        })
        .collect()
}

/// Status and body of each response, to classify: about 1 % are 500s, every body matches.
pub fn responses() -> Vec<(u16, String)> {
    let mut rng = Lcg(0xb0d1e5);
    (0..SAMPLES)
        .map(|i| {
            let status = if rng.next().is_multiple_of(100) {
                500
            } else {
                200
            };
            let body = format!(
                "{{\"service\":\"checkout\",\"version\":\"v2.{}\",\"orders\":[0,1,2,3,4]}}",
                i % 7
            );
            (status, body)
        })
        .collect()
}

/// What [`samples`] are judged against: 98 % success, p95 ≤ 500 ms, p99 ≤ 1 s.
pub fn thresholds() -> Thresholds {
    Thresholds {
        min_success_ratio: 0.98,
        max_p95: Some(Duration::from_millis(500)),
        max_p99: Some(Duration::from_millis(1_000)),
    }
}

/// What each of [`responses`] is classified against: a 2xx status, the substring `checkout` and
/// a version regex, so all three checks run.
pub fn expectations() -> Expectations {
    Expectations {
        status: StatusSet::parse("200-299").expect("a valid status set"),
        body_contains: Some("checkout".into()),
        body_regex: Some(Regex::new(r#""version":"v2\.\d+""#).expect("a valid regex")),
        body_json: None,
    }
}
