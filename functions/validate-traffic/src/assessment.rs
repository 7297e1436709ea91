//! What the hook reports and why: every way an invocation reaches `Succeeded` or `Failed`, with
//! the reason CodeDeploy's caller and the channel will read. Pure; the handler decides which one
//! applies, this module words it.

use std::time::Duration;

use rollout_kit::ConfigError;

use crate::discovery::DeploymentFacts;
use crate::report::HookStatus;
use crate::verdict::{Stats, Verdict, without_query};

/// The verdict to report and its evidence.
#[derive(Debug, Clone)]
pub struct Assessment {
    pub status: HookStatus,
    pub reason: Option<String>,
    /// The probed URL, its query left out.
    pub target: Option<String>,
    /// Only when the probe ran.
    pub stats: Option<Stats>,
    pub facts: DeploymentFacts,
}

/// Which hook the verdict line is about: a CodeDeploy deployment, or an ECS service deployment
/// at one stage.
#[derive(Debug, Clone, Copy)]
pub enum VerdictOf<'a> {
    CodeDeploy {
        deployment_id: &'a str,
    },
    Ecs {
        label: &'a str,
        stage: &'a str,
    },
    /// A direct probe request, named by its rollout id (or `direct`).
    Direct {
        rollout_id: &'a str,
    },
}

impl Assessment {
    /// The one line that carries the verdict and its evidence, for either engine. Fields that do
    /// not apply (the application for ECS, the stage for CodeDeploy) are left out.
    pub fn log(&self, of: VerdictOf<'_>, spent: Duration) {
        let (deployment_id, deployment, stage) = match of {
            VerdictOf::CodeDeploy { deployment_id } => (Some(deployment_id), None, None),
            VerdictOf::Ecs { label, stage } => (None, Some(label), Some(stage)),
            VerdictOf::Direct { rollout_id } => (None, Some(rollout_id), None),
        };
        let stats = self.stats.clone().unwrap_or_default();
        tracing::info!(
            deployment_id,
            deployment,
            stage,
            application = self.facts.application.as_deref(),
            deployment_group = self.facts.group.as_deref(),
            verdict = self.status.as_str(),
            reason = self.reason.as_deref(),
            target = self.target.as_deref(),
            requests = stats.requests,
            passed = stats.passed,
            failed = stats.failed,
            outcomes = %stats.outcomes_text(),
            p50_ms = stats.p50_ms,
            p95_ms = stats.p95_ms,
            p99_ms = stats.p99_ms,
            max_ms = stats.max_ms,
            failures = ?stats.failures,
            spent_ms = spent.as_millis() as u64,
            "verdict"
        );
    }

    /// Failed before any probe could give evidence.
    pub fn failed(reason: impl Into<String>, facts: DeploymentFacts) -> Self {
        Assessment {
            status: HookStatus::Failed,
            reason: Some(reason.into()),
            target: None,
            stats: None,
            facts,
        }
    }

    /// The settings are unusable; the hook still gets an answer instead of hanging.
    pub fn invalid_config(err: &ConfigError) -> Self {
        Self::failed(
            format!("invalid configuration: {err}"),
            DeploymentFacts::default(),
        )
    }

    /// The assessing task panicked; the guard caught it.
    pub fn panicked() -> Self {
        Self::failed("the probe panicked", DeploymentFacts::default())
    }

    /// The guard stopped the work `margin` before the invocation deadline, during `phase`.
    pub fn deadline_reached(margin: Duration, phase: &str) -> Self {
        Self::failed(
            format!(
                "deadline guard: no verdict {} ms before the invocation deadline (while {phase})",
                margin.as_millis()
            ),
            DeploymentFacts::default(),
        )
    }

    /// `Some(Failed)` for a deployment CodeDeploy already stopped or failed: its hook only needs
    /// an answer, and probing it would spend time for nothing.
    pub fn already_finished(facts: &DeploymentFacts) -> Option<Self> {
        if !facts.finished_unsuccessfully() {
            return None;
        }
        let status = facts.status.clone().unwrap_or_default();
        Some(Self::failed(
            format!("deployment is already {status}; not probing"),
            facts.clone(),
        ))
    }

    /// The probe's verdict on green at `url`: passed or not, with every failed threshold as the
    /// reason.
    pub fn judged(verdict: Verdict, url: &str, facts: DeploymentFacts) -> Self {
        let status = if verdict.passed {
            HookStatus::Succeeded
        } else {
            HookStatus::Failed
        };
        Assessment {
            status,
            reason: (!verdict.passed).then(|| verdict.reasons.join("; ")),
            target: None,
            stats: Some(verdict.stats),
            facts,
        }
        .with_target(url)
    }

    /// Names the URL the assessment is about. Its query is left out: it may carry a token, and
    /// the target reaches logs and Slack.
    pub fn with_target(mut self, url: &str) -> Self {
        self.target = Some(without_query(url));
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(status: Option<&str>) -> DeploymentFacts {
        DeploymentFacts {
            application: Some("app".into()),
            group: Some("group".into()),
            status: status.map(str::to_string),
            ..DeploymentFacts::default()
        }
    }

    fn verdict(reasons: &[&str]) -> Verdict {
        Verdict {
            passed: reasons.is_empty(),
            reasons: reasons.iter().map(|r| r.to_string()).collect(),
            stats: Stats {
                requests: 20,
                passed: 20,
                ..Stats::default()
            },
        }
    }

    #[test]
    fn a_passing_probe_succeeds_without_a_reason() {
        let a = Assessment::judged(verdict(&[]), "http://lb:8080/health", facts(None));
        assert_eq!(a.status, HookStatus::Succeeded);
        assert_eq!(a.reason, None);
        assert_eq!(a.target.as_deref(), Some("http://lb:8080/health"));
        assert_eq!(a.stats.map(|s| s.requests), Some(20));
        assert_eq!(a.facts.group.as_deref(), Some("group"));
    }

    #[test]
    fn a_failing_probe_gives_every_reason_and_hides_the_query() {
        let a = Assessment::judged(
            verdict(&[
                "p95 latency 900 ms is over 200 ms",
                "2 of 20 requests failed",
            ]),
            "http://lb:8080/?token=secret",
            facts(None),
        );
        assert_eq!(a.status, HookStatus::Failed);
        assert_eq!(
            a.reason.as_deref(),
            Some("p95 latency 900 ms is over 200 ms; 2 of 20 requests failed")
        );
        assert_eq!(a.target.as_deref(), Some("http://lb:8080/?…"));
    }

    #[test]
    fn only_a_stopped_or_failed_deployment_is_not_probed() {
        for status in ["Stopped", "Failed"] {
            let a = Assessment::already_finished(&facts(Some(status))).expect(status);
            assert_eq!(a.status, HookStatus::Failed);
            assert_eq!(
                a.reason,
                Some(format!("deployment is already {status}; not probing"))
            );
            assert_eq!(a.facts, facts(Some(status)), "the facts stay as evidence");
            assert_eq!((a.target, a.stats.is_none()), (None, true));
        }
        for status in [None, Some("InProgress"), Some("Succeeded")] {
            assert!(
                Assessment::already_finished(&facts(status)).is_none(),
                "{status:?}"
            );
        }
    }

    #[test]
    fn guard_and_setup_failures_say_what_happened() {
        let a = Assessment::deadline_reached(Duration::from_millis(1500), "probing");
        assert_eq!(a.status, HookStatus::Failed);
        assert_eq!(
            a.reason.as_deref(),
            Some(
                "deadline guard: no verdict 1500 ms before the invocation deadline (while probing)"
            )
        );
        assert_eq!(
            Assessment::panicked().reason.as_deref(),
            Some("the probe panicked")
        );
        let err = ConfigError::new("TARGET_URL", "not a URL");
        let a = Assessment::invalid_config(&err);
        assert_eq!(a.reason, Some(format!("invalid configuration: {err}")));
        assert_eq!(a.facts, DeploymentFacts::default());
    }
}
