//! How the event is read: the payload ECS sends a Lambda lifecycle hook. Pure.
//!
//! `{"executionId", "lifecycleStage", "resourceArn", "executionDetails": {"serviceArn",
//! "targetServiceRevisionArn", "testTrafficWeights", "productionTrafficWeights"}, "hookDetails"}`.
//! Weights are read as numbers (LINEAR and CANARY steps may be fractional); a weight map is `{}`
//! while that traffic is not moving. `hookDetails` holds what the hook was configured with plus
//! what an `IN_PROGRESS` answer returned.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// The lifecycle stages a Lambda hook can be attached to, in the order a deployment runs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    ReconcileService,
    PreScaleUp,
    PostScaleUp,
    TestTrafficShift,
    PostTestTrafficShift,
    PreProductionTrafficShift,
    ProductionTrafficShift,
    PostProductionTrafficShift,
}

impl Stage {
    pub const ALL: [Stage; 8] = [
        Stage::ReconcileService,
        Stage::PreScaleUp,
        Stage::PostScaleUp,
        Stage::TestTrafficShift,
        Stage::PostTestTrafficShift,
        Stage::PreProductionTrafficShift,
        Stage::ProductionTrafficShift,
        Stage::PostProductionTrafficShift,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::ReconcileService => "RECONCILE_SERVICE",
            Stage::PreScaleUp => "PRE_SCALE_UP",
            Stage::PostScaleUp => "POST_SCALE_UP",
            Stage::TestTrafficShift => "TEST_TRAFFIC_SHIFT",
            Stage::PostTestTrafficShift => "POST_TEST_TRAFFIC_SHIFT",
            Stage::PreProductionTrafficShift => "PRE_PRODUCTION_TRAFFIC_SHIFT",
            Stage::ProductionTrafficShift => "PRODUCTION_TRAFFIC_SHIFT",
            Stage::PostProductionTrafficShift => "POST_PRODUCTION_TRAFFIC_SHIFT",
        }
    }

    pub fn parse(text: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// Revision ARN → percent.
pub type Weights = BTreeMap<String, f64>;

/// One ECS hook invocation, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct EcsHookEvent {
    pub execution_id: String,
    pub stage: Stage,
    /// The service deployment (`…:service-deployment/<cluster>/<service>/<id>`).
    pub resource_arn: Option<String>,
    pub service_arn: Option<String>,
    /// Green: the revision being deployed. Still green in a rollback's invocations.
    pub target_revision_arn: Option<String>,
    pub test_weights: Weights,
    pub production_weights: Weights,
    /// Empty when the hook has none.
    pub hook_details: Map<String, Value>,
}

impl EcsHookEvent {
    /// `<cluster>/<service>` from the service or the deployment ARN, for logs and messages.
    pub fn service_name(&self) -> Option<String> {
        if let Some(arn) = &self.service_arn
            && let Some((_, path)) = arn.split_once(":service/")
        {
            return Some(path.to_string());
        }
        let (_, path) = self
            .resource_arn
            .as_deref()?
            .split_once(":service-deployment/")?;
        let (service, _id) = path.rsplit_once('/')?;
        Some(service.to_string())
    }
}

/// Reads and checks the payload; the error is the reason the hook answers `FAILED` with.
pub fn parse(payload: &Value) -> Result<EcsHookEvent, String> {
    let object = payload
        .as_object()
        .ok_or("expected a JSON object with executionId and lifecycleStage")?;
    let execution_id = required_text(object, "executionId")?;
    let stage_text = required_text(object, "lifecycleStage")?;
    let stage = Stage::parse(&stage_text).ok_or_else(|| {
        format!(
            "lifecycleStage {:?} is not a stage this version knows ({})",
            short(&stage_text),
            Stage::ALL.map(Stage::as_str).join(", ")
        )
    })?;
    let resource_arn = optional_text(object, "resourceArn")?;
    let details = match object.get("executionDetails") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(details)) => details.clone(),
        Some(_) => return Err("executionDetails must be an object".into()),
    };
    let hook_details = match object.get("hookDetails") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(details)) => details.clone(),
        Some(_) => return Err("hookDetails must be an object".into()),
    };
    Ok(EcsHookEvent {
        execution_id,
        stage,
        resource_arn,
        service_arn: optional_text(&details, "serviceArn")
            .map_err(|e| format!("executionDetails.{e}"))?,
        target_revision_arn: optional_text(&details, "targetServiceRevisionArn")
            .map_err(|e| format!("executionDetails.{e}"))?,
        test_weights: weights(&details, "testTrafficWeights")?,
        production_weights: weights(&details, "productionTrafficWeights")?,
        hook_details,
    })
}

fn required_text(object: &Map<String, Value>, key: &str) -> Result<String, String> {
    optional_text(object, key)?.ok_or_else(|| format!("{key} is missing or empty"))
}

fn optional_text(object: &Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if text.trim().is_empty() => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.trim().to_string())),
        Some(_) => Err(format!("{key} must be a string")),
    }
}

fn weights(details: &Map<String, Value>, key: &str) -> Result<Weights, String> {
    let bad = || format!("executionDetails.{key} must map revision ARNs to percentages");
    match details.get(key) {
        None | Some(Value::Null) => Ok(Weights::new()),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(arn, weight)| {
                let percent = match weight {
                    Value::Number(n) => n.as_f64(),
                    // Some encoders send numbers as strings; accept them, nothing else.
                    Value::String(s) => s.trim().parse::<f64>().ok(),
                    _ => None,
                }
                .filter(|p| p.is_finite() && (0.0..=100.0).contains(p))
                .ok_or_else(bad)?;
                Ok((arn.clone(), percent))
            })
            .collect(),
        Some(_) => Err(bad()),
    }
}

/// Unknown input quoted in a reason stays short.
fn short(text: &str) -> String {
    text.chars().take(60).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const TARGET: &str = "arn:aws:ecs:eu-west-1:111122223333:service-revision/prod/web/5550001";
    const SOURCE: &str = "arn:aws:ecs:eu-west-1:111122223333:service-revision/prod/web/4440009";

    fn documented() -> Value {
        json!({"executionId": "0f6c2d7e-1111-4a2b-9c3d-222233334444",
               "lifecycleStage": "TEST_TRAFFIC_SHIFT",
               "resourceArn": "arn:aws:ecs:eu-west-1:111122223333:service-deployment/prod/web/Ab12Cd34Ef56",
               "executionDetails": {
                   "serviceArn": "arn:aws:ecs:eu-west-1:111122223333:service/prod/web",
                   "targetServiceRevisionArn": TARGET,
                   "testTrafficWeights": {TARGET: 100, SOURCE: 0},
                   "productionTrafficWeights": {}},
               "hookDetails": {"probePaths": "/health"}})
    }

    #[test]
    fn the_documented_shape_reads_whole() {
        let event = parse(&documented()).unwrap();
        assert_eq!(event.execution_id, "0f6c2d7e-1111-4a2b-9c3d-222233334444");
        assert_eq!(event.stage, Stage::TestTrafficShift);
        assert_eq!(event.target_revision_arn.as_deref(), Some(TARGET));
        assert_eq!(event.test_weights[TARGET], 100.0);
        assert_eq!(event.test_weights[SOURCE], 0.0);
        assert!(event.production_weights.is_empty());
        assert_eq!(event.hook_details["probePaths"], "/health");
        assert_eq!(event.service_name().as_deref(), Some("prod/web"));
    }

    #[test]
    fn every_stage_round_trips_and_fractional_weights_read() {
        for stage in Stage::ALL {
            assert_eq!(Stage::parse(stage.as_str()), Some(stage));
        }
        let mut payload = documented();
        payload["executionDetails"]["productionTrafficWeights"] =
            json!({TARGET: 12.5, SOURCE: "87.5"});
        let event = parse(&payload).unwrap();
        assert_eq!(event.production_weights[TARGET], 12.5);
        assert_eq!(event.production_weights[SOURCE], 87.5);
    }

    #[test]
    fn only_the_ids_are_required() {
        let event = parse(&json!({"executionId": "e", "lifecycleStage": "PRE_SCALE_UP"})).unwrap();
        assert_eq!(event.target_revision_arn, None);
        assert!(event.hook_details.is_empty());
        // Without a service ARN the deployment ARN names the service.
        let event = parse(
            &json!({"executionId": "e", "lifecycleStage": "PRE_SCALE_UP",
            "resourceArn": "arn:aws:ecs:us-east-1:1:service-deployment/c/s/d1"}),
        )
        .unwrap();
        assert_eq!(event.service_name().as_deref(), Some("c/s"));
    }

    #[test]
    fn malformed_payloads_say_what_is_wrong() {
        let cases = [
            (json!("text"), "JSON object"),
            (
                json!({"lifecycleStage": "POST_SCALE_UP"}),
                "executionId is missing",
            ),
            (
                json!({"executionId": " ", "lifecycleStage": "POST_SCALE_UP"}),
                "executionId",
            ),
            (
                json!({"executionId": 5, "lifecycleStage": "POST_SCALE_UP"}),
                "must be a string",
            ),
            (json!({"executionId": "e"}), "lifecycleStage is missing"),
            (
                json!({"executionId": "e", "lifecycleStage": "BAKE_TIME"}),
                "not a stage",
            ),
            (
                json!({"executionId": "e", "lifecycleStage": "POST_SCALE_UP", "executionDetails": []}),
                "executionDetails must be an object",
            ),
            (
                json!({"executionId": "e", "lifecycleStage": "POST_SCALE_UP", "hookDetails": "x"}),
                "hookDetails must be an object",
            ),
            (
                json!({"executionId": "e", "lifecycleStage": "POST_SCALE_UP",
                       "executionDetails": {"testTrafficWeights": {"a": "lots"}}}),
                "testTrafficWeights",
            ),
            (
                json!({"executionId": "e", "lifecycleStage": "POST_SCALE_UP",
                       "executionDetails": {"productionTrafficWeights": {"a": 250}}}),
                "productionTrafficWeights",
            ),
            (
                json!({"executionId": "e", "lifecycleStage": "POST_SCALE_UP",
                       "executionDetails": {"targetServiceRevisionArn": 7}}),
                "executionDetails.targetServiceRevisionArn",
            ),
        ];
        for (payload, expected) in cases {
            let reason = parse(&payload).unwrap_err();
            assert!(reason.contains(expected), "{payload}: {reason}");
        }
    }
}
