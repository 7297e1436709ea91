//! A validation longer than one invocation. Pure.
//!
//! With `soakSeconds` set, each invocation of a probing stage probes one slice and carries the
//! running totals to the next one in the `hookDetails` it returns with `IN_PROGRESS` (ECS hands
//! them back on the next call): counts, outcomes, a fixed latency histogram, the first failures.
//! The size is bounded whatever the soak's length. A failing slice ends the soak at once; when
//! the soak time is up, the verdict is the one judge ([`verdict::judge_stats`]) on the totals.
//!
//! The totals name the invocation they belong to (stage, deployment, green and its weight), so
//! totals from another stage or another step of a LINEAR or CANARY deployment, which ECS may
//! still hand over, start a fresh soak instead of counting twice.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::ecs::event::EcsHookEvent;
use crate::ecs::settings::{OWN_KEY, Soak};
use crate::ecs::stage::Route;
use crate::verdict::{self, FAILURES_KEPT, Sample, Stats, Thresholds, Verdict};

/// Upper bounds of the latency buckets, in ms; one more bucket counts everything above.
pub const BUCKETS_MS: [u64; 17] = [
    5, 10, 25, 50, 75, 100, 150, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000, 10000,
];
/// Totals older than the soak by this much are not this deployment's any more.
const STALE_AFTER: Duration = Duration::from_secs(24 * 3600);

/// The running totals, as they travel in `hookDetails.validateTraffic.soak`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SoakState {
    pub key: String,
    pub started_ms: u64,
    pub slices: u32,
    pub requests: u32,
    pub passed: u32,
    pub failed: u32,
    pub outcomes: BTreeMap<String, u32>,
    /// Responses per bucket of [`BUCKETS_MS`], then those above the last bound.
    pub latency_buckets: Vec<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<String>,
}

impl SoakState {
    fn new(key: String, now_ms: u64) -> SoakState {
        SoakState {
            key,
            started_ms: now_ms,
            slices: 0,
            requests: 0,
            passed: 0,
            failed: 0,
            outcomes: BTreeMap::new(),
            latency_buckets: vec![0; BUCKETS_MS.len() + 1],
            max_ms: None,
            failures: Vec::new(),
        }
    }

    fn add(&mut self, samples: &[Sample]) {
        let slice = verdict::summarize(samples);
        self.slices += 1;
        self.requests = self.requests.saturating_add(slice.requests);
        self.passed = self.passed.saturating_add(slice.passed);
        self.failed = self.failed.saturating_add(slice.failed);
        for (label, count) in &slice.outcomes {
            let total = self.outcomes.entry((*label).to_string()).or_default();
            *total = total.saturating_add(*count);
        }
        for sample in samples.iter().filter(|s| s.result.status().is_some()) {
            let ms = u64::try_from(sample.latency.as_millis()).unwrap_or(u64::MAX);
            let bucket = BUCKETS_MS
                .iter()
                .position(|bound| ms <= *bound)
                .unwrap_or(BUCKETS_MS.len());
            self.latency_buckets[bucket] = self.latency_buckets[bucket].saturating_add(1);
            self.max_ms = self.max_ms.max(Some(ms));
        }
        for failure in slice.failures {
            if self.failures.len() < FAILURES_KEPT {
                self.failures.push(failure);
            }
        }
    }

    /// The totals as the judge reads them. A percentile is the upper bound of its bucket (the
    /// largest latency seen, for the last one): never lower than the exact value.
    pub fn stats(&self) -> Stats {
        let percentile = |pct: f64| -> Option<u64> {
            let total: u64 = self.latency_buckets.iter().map(|c| u64::from(*c)).sum();
            if total == 0 {
                return None;
            }
            let rank = ((pct / 100.0) * total as f64).ceil().max(1.0) as u64;
            let mut seen = 0u64;
            for (i, count) in self.latency_buckets.iter().enumerate() {
                seen += u64::from(*count);
                if seen >= rank {
                    let bound = BUCKETS_MS.get(i).copied().or(self.max_ms);
                    return bound.map(|b| self.max_ms.map_or(b, |max| b.min(max)));
                }
            }
            self.max_ms
        };
        Stats {
            requests: self.requests,
            passed: self.passed,
            failed: self.failed,
            outcomes: BTreeMap::new(),
            p50_ms: percentile(50.0),
            p95_ms: percentile(95.0),
            p99_ms: percentile(99.0),
            max_ms: self.max_ms,
            failures: self.failures.clone(),
        }
    }

    pub fn outcomes_text(&self) -> String {
        self.outcomes
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    fn usable(&self, now_ms: u64, soak: Soak) -> bool {
        let stale = u64::try_from((soak.duration + STALE_AFTER).as_millis()).unwrap_or(u64::MAX);
        self.latency_buckets.len() == BUCKETS_MS.len() + 1
            && self.started_ms <= now_ms.saturating_add(60_000)
            && now_ms.saturating_sub(self.started_ms) <= stale
    }
}

/// Which invocation the totals belong to.
pub fn key(event: &EcsHookEvent, route: Route) -> String {
    let weights = match route {
        Route::Test => &event.test_weights,
        Route::Production => &event.production_weights,
    };
    let target = event.target_revision_arn.as_deref().unwrap_or_default();
    let weight = weights
        .get(target)
        .map(|w| format!("{w:.1}"))
        .unwrap_or_default();
    [
        event.stage.as_str(),
        event.resource_arn.as_deref().unwrap_or_default(),
        target,
        &weight,
    ]
    .join("|")
}

/// The totals an earlier slice of this same soak returned, if any.
pub fn load(
    hook_details: &Map<String, Value>,
    key: &str,
    now_ms: u64,
    soak: Soak,
) -> Option<SoakState> {
    let state = hook_details.get(OWN_KEY)?.get("soak")?.clone();
    let state: SoakState = serde_json::from_value(state).ok()?;
    (state.key == key && state.usable(now_ms, soak)).then_some(state)
}

/// Where the soak is after one more slice.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Passed so far, time left: `IN_PROGRESS`, come back after the interval.
    Continue(SoakState),
    /// The slice failed: `FAILED` now, with the slice's verdict.
    FailedEarly { slice: Verdict, totals: SoakState },
    /// The soak time is up: the verdict on the totals.
    Done { verdict: Verdict, totals: SoakState },
}

pub fn step(
    earlier: Option<SoakState>,
    key: String,
    now_ms: u64,
    soak: Soak,
    samples: &[Sample],
    thresholds: &Thresholds,
) -> Step {
    let mut totals = earlier.unwrap_or_else(|| SoakState::new(key, now_ms));
    totals.add(samples);
    let slice = verdict::judge(samples, thresholds);
    if !slice.passed {
        return Step::FailedEarly { slice, totals };
    }
    let elapsed = Duration::from_millis(now_ms.saturating_sub(totals.started_ms));
    if elapsed < soak.duration {
        return Step::Continue(totals);
    }
    let mut verdict = verdict::judge_stats(totals.stats(), thresholds);
    verdict.stats.outcomes = BTreeMap::new();
    Step::Done { verdict, totals }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::verdict::SampleResult;

    fn sample(ms: u64, passed: bool) -> Sample {
        Sample {
            path: "/".into(),
            latency: Duration::from_millis(ms),
            result: if passed {
                SampleResult::Passed { status: 200 }
            } else {
                SampleResult::UnexpectedStatus {
                    status: 503,
                    excerpt: "down".into(),
                }
            },
        }
    }

    const SOAK: Soak = Soak {
        duration: Duration::from_secs(60),
        interval: Duration::from_secs(20),
    };

    fn thresholds(max_p95: Option<u64>) -> Thresholds {
        Thresholds {
            min_success_ratio: 0.9,
            max_p95: max_p95.map(Duration::from_millis),
            max_p99: None,
        }
    }

    fn healthy(ms: u64) -> Vec<Sample> {
        (0..10).map(|_| sample(ms, true)).collect()
    }

    #[test]
    fn slices_add_up_until_the_soak_is_over() {
        let t = thresholds(None);
        let Step::Continue(totals) = step(None, "k".into(), 1_000, SOAK, &healthy(20), &t) else {
            panic!("first slice")
        };
        assert_eq!((totals.slices, totals.requests, totals.passed), (1, 10, 10));
        assert_eq!(totals.started_ms, 1_000);
        let Step::Continue(totals) = step(Some(totals), "k".into(), 31_000, SOAK, &healthy(40), &t)
        else {
            panic!("second slice")
        };
        let Step::Done { verdict, totals } =
            step(Some(totals), "k".into(), 61_000, SOAK, &healthy(40), &t)
        else {
            panic!("soak over")
        };
        assert!(verdict.passed, "{:?}", verdict.reasons);
        assert_eq!((totals.slices, verdict.stats.requests), (3, 30));
        assert_eq!(totals.outcomes["passed"], 30);
        // 10 at 20 ms and 20 at 40 ms: p50 in the 50 ms bucket, bounded by the max seen.
        assert_eq!(verdict.stats.p50_ms, Some(40));
        assert_eq!(verdict.stats.max_ms, Some(40));
    }

    #[test]
    fn a_failing_slice_ends_the_soak() {
        let t = thresholds(None);
        let mut samples = healthy(20);
        samples.extend((0..5).map(|_| sample(20, false)));
        let Step::FailedEarly { slice, totals } = step(None, "k".into(), 0, SOAK, &samples, &t)
        else {
            panic!("should fail at once")
        };
        assert!(!slice.passed);
        assert_eq!(totals.failed, 5);
        assert_eq!(totals.failures.len(), FAILURES_KEPT);
    }

    #[test]
    fn the_aggregate_judges_latency_from_the_histogram() {
        let t = thresholds(Some(100));
        let Step::Continue(totals) = step(None, "k".into(), 0, SOAK, &healthy(30), &t) else {
            panic!("first")
        };
        // Each slice alone is within 100 ms ... and so are the totals' p95 (bucket ≤ 100).
        let Step::Done { verdict, .. } = step(
            Some(totals.clone()),
            "k".into(),
            60_000,
            SOAK,
            &healthy(90),
            &t,
        ) else {
            panic!("done")
        };
        assert!(verdict.passed, "{:?}", verdict.reasons);
        // A later slice that is slow on its own fails by itself.
        let Step::FailedEarly { slice, .. } =
            step(Some(totals), "k".into(), 60_000, SOAK, &healthy(400), &t)
        else {
            panic!("slow slice")
        };
        assert!(
            slice.reasons.iter().any(|r| r.starts_with("p95")),
            "{:?}",
            slice.reasons
        );
    }

    #[test]
    fn totals_round_trip_through_hook_details_and_stay_small() {
        let mut state = SoakState::new("k".into(), 0);
        // A day of slices: the size follows the histogram, not the number of requests.
        for _ in 0..2_880 {
            let samples: Vec<Sample> = (0..20u64)
                .map(|i| sample(i * 997 % 12_000, i % 7 != 0))
                .collect();
            state.add(&samples);
        }
        assert_eq!(state.requests, 57_600);
        let details = json!({OWN_KEY: {"soak": state}});
        let text = details.to_string();
        assert!(text.len() < 1_500, "{} bytes: {text}", text.len());
        let map = details.as_object().cloned().unwrap_or_default();
        assert_eq!(load(&map, "k", 1_000, SOAK), Some(state.clone()));
        assert_eq!(
            load(&map, "other step", 1_000, SOAK),
            None,
            "another invocation's"
        );
        let much_later = 60_000 + 25 * 3600 * 1000;
        assert_eq!(load(&map, "k", much_later, SOAK), None, "stale");
        assert_eq!(load(&Map::new(), "k", 1_000, SOAK), None);
    }
}
