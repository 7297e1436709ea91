//! How the event is read, first step: which deployment engine invoked the hook. Pure.
//!
//! CodeDeploy sends `{"DeploymentId", "LifecycleEventHookExecutionId"}` and waits for
//! `PutLifecycleEventHookExecutionStatus`; ECS built-in deployments send `{"executionId",
//! "lifecycleStage", "resourceArn", "executionDetails", "hookDetails"}` and read the function's
//! return value. A third caller is no deployment engine: a direct probe request
//! `{"probe": {…}, "rollout_id"}` (a state machine validating its own rollout) reads the verdict
//! from the return value too. The keys tell them apart; the rest of each shape is read by its
//! engine ([`parse_event`] here for CodeDeploy, [`crate::ecs::event`] for ECS,
//! [`crate::direct::request`] for probe requests).

use aws_lambda_events::event::codedeploy::CodeDeployLifecycleEvent;
use serde_json::Value;

use crate::error::Error;

/// The keys only an ECS lifecycle hook payload carries.
pub const ECS_KEYS: &[&str] = &[
    "executionId",
    "lifecycleStage",
    "resourceArn",
    "executionDetails",
    "hookDetails",
];
/// The key of a direct probe request.
pub const PROBE_KEY: &str = "probe";
/// The keys of a CodeDeploy lifecycle hook payload.
const CODEDEPLOY_KEYS: &[&str] = &["DeploymentId", "LifecycleEventHookExecutionId"];

/// A hook invocation, by engine.
#[derive(Debug)]
pub enum Hook {
    CodeDeploy(CodeDeployLifecycleEvent),
    /// Read further (and answered, even when malformed) by [`crate::ecs`].
    Ecs(Value),
    /// A direct probe request; read further by [`crate::direct`].
    Probe(Value),
}

/// An object with an ECS key and no CodeDeploy key is an ECS invocation; one with a `probe` key
/// and neither engine's keys is a direct probe request; everything else is read as CodeDeploy's,
/// whose errors are what they always were.
pub fn read(payload: Value) -> Result<Hook, Error> {
    if is_ecs(&payload) {
        return Ok(Hook::Ecs(payload));
    }
    if is_probe(&payload) {
        return Ok(Hook::Probe(payload));
    }
    parse_event(payload).map(Hook::CodeDeploy)
}

pub fn is_probe(payload: &Value) -> bool {
    let Some(object) = payload.as_object() else {
        return false;
    };
    object.contains_key(PROBE_KEY)
        && !ECS_KEYS
            .iter()
            .chain(CODEDEPLOY_KEYS)
            .any(|k| object.contains_key(*k))
}

pub fn is_ecs(payload: &Value) -> bool {
    let Some(object) = payload.as_object() else {
        return false;
    };
    ECS_KEYS.iter().any(|k| object.contains_key(*k))
        && !CODEDEPLOY_KEYS.iter().any(|k| object.contains_key(*k))
}

/// The CodeDeploy hook ids, both required and non-empty.
pub fn parse_event(payload: Value) -> Result<CodeDeployLifecycleEvent, Error> {
    // serde would also read a struct from a JSON array; only the object form is a hook event.
    if !payload.is_object() {
        return Err(Error::InvalidEvent(
            "expected a JSON object with DeploymentId and LifecycleEventHookExecutionId".into(),
        ));
    }
    let event: CodeDeployLifecycleEvent = serde_json::from_value(payload).map_err(|e| {
        Error::InvalidEvent(format!(
            "expected {{\"DeploymentId\", \"LifecycleEventHookExecutionId\"}}: {e}"
        ))
    })?;
    if event.deployment_id.trim().is_empty() {
        return Err(Error::InvalidEvent("DeploymentId is empty".into()));
    }
    if event.lifecycle_event_hook_execution_id.trim().is_empty() {
        return Err(Error::InvalidEvent(
            "LifecycleEventHookExecutionId is empty".into(),
        ));
    }
    Ok(event)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn events_need_both_ids() {
        let ok = parse_event(json!({"DeploymentId": "d-1", "LifecycleEventHookExecutionId": "e"}));
        assert_eq!(ok.unwrap().deployment_id, "d-1");
        for bad in [
            json!({}),
            json!({"DeploymentId": "d-1"}),
            json!({"DeploymentId": "", "LifecycleEventHookExecutionId": "e"}),
            json!({"DeploymentId": "d-1", "LifecycleEventHookExecutionId": " "}),
            json!({"DeploymentId": 5, "LifecycleEventHookExecutionId": "e"}),
            json!("text"),
            json!(["d-1", "e"]),
        ] {
            assert!(
                matches!(parse_event(bad.clone()), Err(Error::InvalidEvent(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_keys_tell_the_engines_apart() {
        let ecs = json!({"executionId": "x", "lifecycleStage": "POST_SCALE_UP"});
        assert!(matches!(read(ecs), Ok(Hook::Ecs(_))));
        // A malformed ECS payload is still ECS's: it gets a FAILED answer, not an error.
        for malformed in [
            json!({"executionId": 5}),
            json!({"lifecycleStage": "NOT_A_STAGE"}),
            json!({"hookDetails": "text"}),
            json!({"executionDetails": null}),
        ] {
            assert!(
                matches!(read(malformed.clone()), Ok(Hook::Ecs(_))),
                "{malformed}"
            );
        }
        let codedeploy = json!({"DeploymentId": "d-1", "LifecycleEventHookExecutionId": "e"});
        assert!(matches!(read(codedeploy), Ok(Hook::CodeDeploy(_))));
        // CodeDeploy's keys win: such a payload was always read as CodeDeploy's.
        let both = json!({"DeploymentId": "d-1", "LifecycleEventHookExecutionId": "e",
                          "executionId": "x"});
        assert!(matches!(read(both), Ok(Hook::CodeDeploy(_))));
        // A probe request, even a malformed one, is read by the direct path.
        for probe in [
            json!({"probe": {"target_url": "https://green.example.com"}}),
            json!({"probe": "text"}),
            json!({"probe": null, "rollout_id": "r-1"}),
        ] {
            assert!(matches!(read(probe.clone()), Ok(Hook::Probe(_))), "{probe}");
        }
        // An engine's keys win over `probe`.
        let ecs_too = json!({"probe": {}, "executionId": "x"});
        assert!(matches!(read(ecs_too), Ok(Hook::Ecs(_))));
        let codedeploy_too =
            json!({"probe": {}, "DeploymentId": "d-1", "LifecycleEventHookExecutionId": "e"});
        assert!(matches!(read(codedeploy_too), Ok(Hook::CodeDeploy(_))));
        for neither in [json!({}), json!({"other": 1}), json!("text"), json!(null)] {
            assert!(
                matches!(read(neither.clone()), Err(Error::InvalidEvent(_))),
                "{neither}"
            );
        }
    }
}
