//! The cost of judging a probe: `cargo bench -p validate-traffic --bench verdict`.
//!
//! 10,000 samples is the largest probe the configuration allows (`PROBE_REQUESTS`), so these
//! figures bound the time the verdict adds to a hook invocation. `make bench` times the same
//! probe inside its measuring binary (built with the functions' release settings).

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use regex::Regex;
use validate_traffic::verdict::{
    Expectations, Sample, SampleResult, StatusSet, Thresholds, classify, judge,
};

const SAMPLES: usize = 10_000;

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
fn probe_samples() -> Vec<Sample> {
    let paths = ["/", "/health", "/api/orders?limit=5"];
    let mut rng = Lcg(0x5eed);
    (0..SAMPLES)
        .map(|i| {
            let roll = rng.next() % 1000;
            let result = match roll {
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

fn responses() -> Vec<(u16, String)> {
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

fn verdict(c: &mut Criterion) {
    let samples = probe_samples();
    let thresholds = Thresholds {
        min_success_ratio: 0.98,
        max_p95: Some(Duration::from_millis(500)),
        max_p99: Some(Duration::from_millis(1_000)),
    };
    let bodies = responses();
    let expect = Expectations {
        status: StatusSet::parse("200-299").expect("valid status set"),
        body_contains: Some("checkout".into()),
        body_regex: Some(Regex::new(r#""version":"v2\.\d+""#).expect("valid regex")),
    };

    let mut group = c.benchmark_group("verdict");
    group.throughput(Throughput::Elements(SAMPLES as u64));
    // Judging: the summary (outcome counts, kept failures) and the percentile sort.
    group.bench_function("judge_10000_samples", |b| {
        b.iter(|| judge(black_box(&samples), black_box(&thresholds)))
    });
    // Classifying each response as it arrives: status set, substring and regex checks.
    group.bench_function("classify_10000_responses", |b| {
        b.iter(|| {
            bodies
                .iter()
                .map(|(status, body)| classify(*status, black_box(body), &expect))
                .filter(|r| matches!(r, SampleResult::Passed { .. }))
                .count()
        })
    });
    group.finish();
}

criterion_group!(benches, verdict);
criterion_main!(benches);
