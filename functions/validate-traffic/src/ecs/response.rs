//! How the verdict is delivered to ECS: the function's return value. Pure.
//!
//! `{"hookStatus": "SUCCEEDED" | "FAILED" | "IN_PROGRESS", "callBackDelay": <seconds>,
//! "hookDetails": {…}}`. ECS rolls the deployment back on `FAILED`, on a function error and on a
//! missing or unreadable `hookStatus`, so every path answers. `hookDetails` echoes what arrived
//! (ECS's merge of returned details is not documented as deep or shallow) with the hook's own
//! summary, or a soak's running totals, under `validateTraffic`. Only documented keys are
//! returned at the top level.

use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::assessment::Assessment;
use crate::ecs::event::Stage;
use crate::ecs::settings::OWN_KEY;
use crate::ecs::soak::SoakState;
use crate::report::HookStatus;

/// Reasons returned in `hookDetails` are cut to this many characters.
const REASON_CHARS: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EcsStatus {
    Succeeded,
    Failed,
    InProgress,
}

impl EcsStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EcsStatus::Succeeded => "SUCCEEDED",
            EcsStatus::Failed => "FAILED",
            EcsStatus::InProgress => "IN_PROGRESS",
        }
    }
}

impl From<HookStatus> for EcsStatus {
    fn from(status: HookStatus) -> EcsStatus {
        match status {
            HookStatus::Succeeded => EcsStatus::Succeeded,
            HookStatus::Failed => EcsStatus::Failed,
        }
    }
}

/// One answer to ECS, before it is written out.
#[derive(Debug, Clone, PartialEq)]
pub struct EcsAnswer {
    pub status: EcsStatus,
    /// Only with `IN_PROGRESS`.
    pub callback_delay: Option<Duration>,
    /// What goes under `hookDetails.validateTraffic`.
    pub own: Map<String, Value>,
}

impl EcsAnswer {
    /// A final answer without a probe: a stage with nothing to validate, a rollback, or a
    /// failure before any request (bad event, bad settings, discovery).
    pub fn without_probe(status: EcsStatus, stage: Option<Stage>, reason: &str) -> EcsAnswer {
        let mut own = Map::new();
        if let Some(stage) = stage {
            own.insert("stage".into(), json!(stage.as_str()));
        }
        own.insert("verdict".into(), json!(status.as_str()));
        own.insert("reason".into(), json!(short(reason)));
        EcsAnswer {
            status,
            callback_delay: None,
            own,
        }
    }

    /// The verdict of a probe (or of a whole soak) with its evidence.
    pub fn judged(stage: Stage, a: &Assessment, soak: Option<&SoakState>) -> EcsAnswer {
        let status = EcsStatus::from(a.status);
        let mut own = Map::new();
        own.insert("stage".into(), json!(stage.as_str()));
        own.insert("verdict".into(), json!(status.as_str()));
        if let Some(reason) = &a.reason {
            own.insert("reason".into(), json!(short(reason)));
        }
        if let Some(target) = &a.target {
            own.insert("target".into(), json!(target));
        }
        if let Some(stats) = &a.stats {
            own.insert("requests".into(), json!(stats.requests));
            own.insert("passed".into(), json!(stats.passed));
            own.insert("failed".into(), json!(stats.failed));
            for (key, value) in [
                ("p50Ms", stats.p50_ms),
                ("p95Ms", stats.p95_ms),
                ("p99Ms", stats.p99_ms),
            ] {
                if let Some(ms) = value {
                    own.insert(key.into(), json!(ms));
                }
            }
        }
        if let Some(soak) = soak {
            own.insert("soak".into(), json!(soak));
        }
        EcsAnswer {
            status,
            callback_delay: None,
            own,
        }
    }

    /// A soak with time left: come back after `delay` with these totals.
    pub fn in_progress(stage: Stage, totals: &SoakState, delay: Duration) -> EcsAnswer {
        let mut own = Map::new();
        own.insert("stage".into(), json!(stage.as_str()));
        own.insert("verdict".into(), json!(EcsStatus::InProgress.as_str()));
        own.insert("soak".into(), json!(totals));
        EcsAnswer {
            status: EcsStatus::InProgress,
            callback_delay: Some(delay),
            own,
        }
    }

    /// The return value: `hookDetails` as it arrived, the hook's own key replaced.
    pub fn to_json(&self, hook_details: &Map<String, Value>) -> Value {
        let mut details = hook_details.clone();
        details.insert(OWN_KEY.into(), Value::Object(self.own.clone()));
        let mut out = Map::new();
        out.insert("hookStatus".into(), json!(self.status.as_str()));
        if let Some(delay) = self.callback_delay {
            out.insert("callBackDelay".into(), json!(delay.as_secs().max(1)));
        }
        out.insert("hookDetails".into(), Value::Object(details));
        Value::Object(out)
    }

    pub fn reason(&self) -> Option<&str> {
        self.own.get("reason").and_then(Value::as_str)
    }
}

fn short(reason: &str) -> String {
    let mut text: String = reason.chars().take(REASON_CHARS).collect();
    if reason.chars().nth(REASON_CHARS).is_some() {
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use crate::discovery::DeploymentFacts;
    use crate::verdict::Stats;

    use super::*;

    #[test]
    fn a_final_answer_has_only_documented_keys_and_echoes_hook_details() {
        let incoming = json!({"probePaths": "/health", "validateTraffic": {"old": true}});
        let incoming = incoming.as_object().cloned().unwrap_or_default();
        let answer = EcsAnswer::without_probe(
            EcsStatus::Succeeded,
            Some(Stage::PreScaleUp),
            "nothing to do",
        );
        let out = answer.to_json(&incoming);
        assert_eq!(out["hookStatus"], "SUCCEEDED");
        assert!(out.get("callBackDelay").is_none());
        assert_eq!(out["hookDetails"]["probePaths"], "/health");
        assert_eq!(
            out["hookDetails"]["validateTraffic"],
            json!({"stage": "PRE_SCALE_UP", "verdict": "SUCCEEDED", "reason": "nothing to do"})
        );
        let keys: Vec<&String> = out
            .as_object()
            .map(|o| o.keys().collect())
            .unwrap_or_default();
        assert_eq!(keys, ["hookDetails", "hookStatus"]);
    }

    #[test]
    fn a_judged_answer_carries_the_evidence() {
        let a = Assessment {
            status: HookStatus::Failed,
            reason: Some("x".repeat(2_000)),
            target: Some("http://lb:8080/?…".into()),
            stats: Some(Stats {
                requests: 20,
                passed: 10,
                failed: 10,
                p95_ms: Some(42),
                ..Stats::default()
            }),
            facts: DeploymentFacts::default(),
        };
        let out = EcsAnswer::judged(Stage::PostTestTrafficShift, &a, None).to_json(&Map::new());
        assert_eq!(out["hookStatus"], "FAILED");
        let own = &out["hookDetails"]["validateTraffic"];
        assert_eq!(own["requests"], 20);
        assert_eq!(own["p95Ms"], 42);
        assert!(own.get("p99Ms").is_none());
        assert_eq!(own["reason"].as_str().map(|r| r.chars().count()), Some(501));
    }

    #[test]
    fn in_progress_asks_to_be_called_back() {
        let totals: SoakState = serde_json::from_value(json!({
            "key": "k", "startedMs": 1, "slices": 1, "requests": 4, "passed": 4, "failed": 0,
            "outcomes": {"passed": 4}, "latencyBuckets": vec![0; 18]
        }))
        .expect("totals");
        let out = EcsAnswer::in_progress(
            Stage::PostProductionTrafficShift,
            &totals,
            Duration::from_secs(45),
        )
        .to_json(&Map::new());
        assert_eq!(out["hookStatus"], "IN_PROGRESS");
        assert_eq!(out["callBackDelay"], 45);
        assert_eq!(out["hookDetails"]["validateTraffic"]["soak"]["requests"], 4);
    }
}
