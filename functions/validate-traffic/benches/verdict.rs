//! The cost of judging a probe: `cargo bench -p validate-traffic --bench verdict`.
//!
//! 10,000 samples is the largest probe the configuration allows (`PROBE_REQUESTS`), so these
//! figures bound the time the verdict adds to a hook invocation. `make bench` times the same
//! probe (`validate_traffic::verdict_probe`) inside its measuring binary (built with the
//! functions' release settings).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use validate_traffic::verdict::{SampleResult, classify, judge};
use validate_traffic::verdict_probe::{self, SAMPLES};

fn verdict(c: &mut Criterion) {
    let samples = verdict_probe::samples();
    let thresholds = verdict_probe::thresholds();
    let bodies = verdict_probe::responses();
    let expect = verdict_probe::expectations();

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
