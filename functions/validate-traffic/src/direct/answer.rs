//! How the verdict of a probe request is delivered: the function's return value, plain JSON for
//! Step Functions' `lambda:invoke`. Pure.
//!
//! Every key is always there (`null` when unknown, `0` and `[]` before any request): a state
//! machine's JSONPath on a missing key fails the state instead of reading the verdict.

use serde_json::{Value, json};

use crate::assessment::Assessment;
use crate::report::HookStatus;
use crate::verdict::FAILURES_KEPT;

pub const PASSED: &str = "Passed";
pub const FAILED: &str = "Failed";
/// A reason longer than this is cut: the answer travels in the execution's state (256 KB), the
/// rollout event keeps the whole text.
const REASON_CHARS: usize = 1000;

pub fn answer(a: &Assessment) -> Value {
    let stats = a.stats.clone().unwrap_or_default();
    let verdict = match a.status {
        HookStatus::Succeeded => PASSED,
        HookStatus::Failed => FAILED,
    };
    let failures: Vec<&String> = stats.failures.iter().take(FAILURES_KEPT).collect();
    json!({
        "verdict": verdict,
        "reason": a.reason.as_deref().map(short),
        "target": a.target,
        "requests": stats.requests,
        "passed": stats.passed,
        "failed": stats.failed,
        "p50Ms": stats.p50_ms,
        "p95Ms": stats.p95_ms,
        "p99Ms": stats.p99_ms,
        "outcomes": stats.outcomes_text(),
        "failures": failures,
    })
}

fn short(reason: &str) -> String {
    if reason.chars().count() <= REASON_CHARS {
        return reason.to_string();
    }
    let mut cut: String = reason.chars().take(REASON_CHARS - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::discovery::DeploymentFacts;
    use crate::verdict::Stats;

    #[test]
    fn a_judged_failure_carries_its_evidence() {
        let a = Assessment {
            status: HookStatus::Failed,
            reason: Some("success ratio 0.000 is below 1.000".into()),
            target: Some("http://lb:8080/?…".into()),
            stats: Some(Stats {
                requests: 6,
                failed: 6,
                outcomes: [("http_503", 6)].into(),
                p50_ms: Some(3),
                p95_ms: Some(5),
                p99_ms: Some(5),
                failures: (0..7).map(|i| format!("/health: 503 #{i}")).collect(),
                ..Stats::default()
            }),
            facts: DeploymentFacts::default(),
        };
        let out = answer(&a);
        assert_eq!(out["verdict"], "Failed");
        assert_eq!(out["target"], "http://lb:8080/?…");
        assert_eq!(
            (out["requests"].as_u64(), out["failed"].as_u64()),
            (Some(6), Some(6))
        );
        assert_eq!(out["p95Ms"], 5);
        assert_eq!(out["outcomes"], "http_503=6");
        assert_eq!(
            out["failures"].as_array().map(Vec::len),
            Some(FAILURES_KEPT)
        );
    }

    #[test]
    fn every_key_is_there_before_any_request_and_a_pass_has_no_reason() {
        let out = answer(&Assessment::deadline_reached(
            Duration::from_millis(500),
            "looking up the listener",
        ));
        for key in [
            "verdict", "reason", "target", "requests", "passed", "failed", "p50Ms", "p95Ms",
            "p99Ms", "outcomes", "failures",
        ] {
            assert!(out.get(key).is_some(), "{key} missing: {out}");
        }
        assert_eq!(out["verdict"], "Failed");
        assert_eq!(
            (out["requests"].as_u64(), out["p95Ms"].is_null()),
            (Some(0), true)
        );
        assert!(
            out["reason"]
                .as_str()
                .unwrap_or_default()
                .contains("deadline guard")
        );

        let mut passed = Assessment::failed("x".repeat(3000), DeploymentFacts::default());
        assert_eq!(
            answer(&passed)["reason"]
                .as_str()
                .map(|r| r.chars().count()),
            Some(1000)
        );
        passed.status = HookStatus::Succeeded;
        passed.reason = None;
        assert_eq!(answer(&passed)["verdict"], "Passed");
        assert!(answer(&passed)["reason"].is_null());
    }
}
