//! The rollout event for the notifications topic: the reported verdict and its evidence, in the
//! shared schema notify-slack renders. Pure; the handler publishes it, and only once CodeDeploy
//! accepted the report.

use rollout_kit::{Outcome, RolloutDetail, RolloutEvent, ValidationDetail};

use crate::assessment::Assessment;
use crate::report::HookStatus;

pub const SOURCE: &str = "validate-traffic";

pub fn rollout_event(deployment_id: &str, a: &Assessment) -> RolloutEvent {
    let stats = a.stats.clone().unwrap_or_default();
    let (outcome, summary) = match a.status {
        HookStatus::Succeeded => (
            Outcome::Succeeded,
            format!(
                "Green passed validation for {deployment_id} ({}/{} requests)",
                stats.passed, stats.requests
            ),
        ),
        HookStatus::Failed => (
            Outcome::Failed,
            format!("Green failed validation for {deployment_id}"),
        ),
    };
    let detail = ValidationDetail {
        deployment_id: deployment_id.to_string(),
        application: a.facts.application.clone(),
        deployment_group: a.facts.group.clone(),
        hook_status: a.status,
        target: a.target.clone(),
        requests: stats.requests,
        passed: stats.passed,
        failed: stats.failed,
        p50_ms: stats.p50_ms,
        p95_ms: stats.p95_ms,
        p99_ms: stats.p99_ms,
        max_ms: stats.max_ms,
        failures: stats.failures,
    };
    let event = RolloutEvent::new(SOURCE, outcome, summary, RolloutDetail::Validation(detail));
    match &a.reason {
        Some(reason) => event.with_reason(reason.clone()),
        None => event,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discovery::DeploymentFacts;
    use crate::verdict::Stats;

    #[test]
    fn rollout_event_carries_the_evidence() {
        let a = Assessment {
            status: HookStatus::Failed,
            reason: Some("p95 latency 900 ms is over 200 ms".into()),
            target: Some("http://lb:8080/".into()),
            stats: Some(Stats {
                requests: 20,
                passed: 20,
                p95_ms: Some(900),
                ..Stats::default()
            }),
            facts: DeploymentFacts {
                application: Some("app".into()),
                group: Some("group".into()),
                ..DeploymentFacts::default()
            },
        };
        let event = rollout_event("d-1", &a);
        assert_eq!(event.outcome, Outcome::Failed);
        assert_eq!(event.source, SOURCE);
        assert!(event.reason.as_deref().unwrap_or("").contains("p95"));
        let RolloutDetail::Validation(detail) = event.detail else {
            panic!("not a validation event")
        };
        assert_eq!(detail.hook_status, HookStatus::Failed);
        assert_eq!(detail.p95_ms, Some(900));
        assert_eq!(detail.deployment_group.as_deref(), Some("group"));
    }

    #[test]
    fn a_pass_counts_the_requests_and_has_no_reason() {
        let a = Assessment {
            status: HookStatus::Succeeded,
            reason: None,
            target: Some("http://lb:8080/".into()),
            stats: Some(Stats {
                requests: 20,
                passed: 19,
                failed: 1,
                ..Stats::default()
            }),
            facts: DeploymentFacts::default(),
        };
        let event = rollout_event("d-1", &a);
        assert_eq!(event.outcome, Outcome::Succeeded);
        assert_eq!(
            event.summary,
            "Green passed validation for d-1 (19/20 requests)"
        );
        assert_eq!(event.reason, None);
    }
}
