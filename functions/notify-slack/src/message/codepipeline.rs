//! CodePipeline's execution state changes: of a whole pipeline execution, of one stage, of one
//! action (`CodePipeline Pipeline/Stage/Action Execution State Change`).

use serde_json::{Map, Value};

use crate::status::canonical;

use super::eventbridge::EventMeta;
use super::read::{arn_resource, count, get, object, text, text_at};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PipelineLevel {
    Pipeline,
    Stage,
    Action,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PipelineEvent {
    pub meta: EventMeta,
    pub level: PipelineLevel,
    pub pipeline: String,
    pub execution_id: Option<String>,
    pub stage: Option<String>,
    pub action: Option<String>,
    /// As CodePipeline says it: `STARTED`, `SUPERSEDED`.
    pub state: String,
    /// Canonical (`STARTED` is `IN_PROGRESS`), for the tone and the filter.
    pub status: String,
    /// An action's category and provider, `Deploy / CodeDeployToECS`.
    pub action_type: Option<String>,
    /// The region an action ran in, when it is not the pipeline's.
    pub action_region: Option<String>,
    /// What started the execution: `StartPipelineExecution`, `Webhook`, … and by whom.
    pub trigger: Option<String>,
    /// The attempt of this execution (retries count up).
    pub attempt: Option<u64>,
    /// An action's result: the provider's summary, error code, id and link.
    pub summary: Option<String>,
    pub error_code: Option<String>,
    pub external_id: Option<String>,
    pub external_url: Option<String>,
}

/// `None` without a pipeline name: the generic event shows whatever else it holds.
pub(super) fn parse(meta: &EventMeta, detail: &Map<String, Value>) -> Option<PipelineEvent> {
    let pipeline = text(detail, "pipeline")?;
    let level = if meta.detail_type.contains("Action") {
        PipelineLevel::Action
    } else if meta.detail_type.contains("Stage") {
        PipelineLevel::Stage
    } else {
        PipelineLevel::Pipeline
    };
    let state = text(detail, "state")
        .map(|s| s.to_ascii_uppercase())
        .unwrap_or_else(|| "UNKNOWN".into());
    let action_type =
        object(detail, "type").and_then(|t| match (text(t, "category"), text(t, "provider")) {
            (Some(category), Some(provider)) => Some(format!("{category} / {provider}")),
            (category, provider) => category.or(provider),
        });
    let trigger = object(detail, "execution-trigger").and_then(|t| {
        let kind = text(t, "trigger-type");
        let by = text(t, "trigger-detail").map(|by| who(&by));
        match (kind, by) {
            (Some(kind), Some(by)) => Some(format!("{kind} by {by}")),
            (kind, by) => kind.or(by),
        }
    });
    let result = |key: &str| text_at(detail, &["execution-result", key]);
    let action_region = text(detail, "region").filter(|r| Some(r) != meta.region.as_ref());
    Some(PipelineEvent {
        meta: meta.clone(),
        level,
        pipeline,
        execution_id: text(detail, "execution-id"),
        stage: text(detail, "stage"),
        action: text(detail, "action"),
        status: canonical(&state),
        state,
        action_type,
        action_region,
        trigger,
        attempt: get(detail, "pipeline-execution-attempt").and_then(count),
        summary: result("external-execution-summary"),
        error_code: result("error-code"),
        external_id: result("external-execution-id"),
        external_url: result("external-execution-url"),
    })
}

/// `release-bot/ci-4812` from `arn:aws:sts::1:assumed-role/release-bot/ci-4812`, `ana` from
/// `arn:aws:iam::1:user/ana`; anything else as it is.
fn who(detail: &str) -> String {
    if !detail.starts_with("arn:") {
        return detail.to_string();
    }
    let resource = arn_resource(detail);
    ["assumed-role/", "user/", "role/"]
        .iter()
        .find_map(|prefix| resource.strip_prefix(prefix))
        .unwrap_or(detail)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn meta(detail_type: &str) -> EventMeta {
        EventMeta {
            detail_type: detail_type.into(),
            source: Some("aws.codepipeline".into()),
            region: Some("us-east-1".into()),
            ..EventMeta::default()
        }
    }

    fn parse_json(detail_type: &str, detail: Value) -> Option<PipelineEvent> {
        parse(&meta(detail_type), detail.as_object().unwrap())
    }

    #[test]
    fn levels_states_and_the_action_result() {
        let action = parse_json(
            "CodePipeline Action Execution State Change",
            json!({"pipeline": "shop", "execution-id": "e-1", "stage": "Deploy",
                   "action": "Blue-Green", "state": "FAILED", "region": "us-east-1",
                   "type": {"owner": "AWS", "category": "Deploy", "provider": "CodeDeployToECS", "version": "1"},
                   "pipeline-execution-attempt": 2.0,
                   "execution-result": {"external-execution-summary": "Deployment d-1 failed",
                                        "error-code": "JobFailed", "external-execution-id": "d-1"}}),
        )
        .unwrap();
        assert_eq!(action.level, PipelineLevel::Action);
        assert_eq!(action.status, "FAILED");
        assert_eq!(
            action.action_type.as_deref(),
            Some("Deploy / CodeDeployToECS")
        );
        assert_eq!(action.action_region, None, "same region as the pipeline");
        assert_eq!(action.attempt, Some(2));
        assert_eq!(action.error_code.as_deref(), Some("JobFailed"));
        assert_eq!(action.external_id.as_deref(), Some("d-1"));

        let started = parse_json(
            "CodePipeline Pipeline Execution State Change",
            json!({"pipeline": "shop", "state": "started",
                   "execution-trigger": {"trigger-type": "StartPipelineExecution",
                                         "trigger-detail": "arn:aws:sts::1:assumed-role/dev/ana"}}),
        )
        .unwrap();
        assert_eq!(
            (started.state.as_str(), started.status.as_str()),
            ("STARTED", "IN_PROGRESS")
        );
        assert_eq!(started.level, PipelineLevel::Pipeline);
        assert_eq!(
            started.trigger.as_deref(),
            Some("StartPipelineExecution by dev/ana")
        );

        let stage = parse_json(
            "CodePipeline Stage Execution State Change",
            json!({"pipeline": "shop", "stage": "Build", "state": "SUPERSEDED", "type": "odd"}),
        )
        .unwrap();
        assert_eq!(
            (stage.level, stage.status.as_str()),
            (PipelineLevel::Stage, "SUPERSEDED")
        );
        assert_eq!(stage.action_type, None);
        assert_eq!(who("arn:aws:iam::1:user/ana"), "ana");
        assert_eq!(
            who("arn:aws:codestar-connections:us-east-1:1:connection/x"),
            "arn:aws:codestar-connections:us-east-1:1:connection/x"
        );
        assert_eq!(who("Webhook"), "Webhook");
    }

    #[test]
    fn without_a_pipeline_or_a_state() {
        assert!(parse_json("CodePipeline Pipeline Execution State Change", json!({})).is_none());
        let odd = parse_json(
            "CodePipeline Pipeline Execution State Change",
            json!({"pipeline": 7}),
        )
        .unwrap();
        assert_eq!(
            (odd.pipeline.as_str(), odd.status.as_str()),
            ("7", "UNKNOWN")
        );
    }
}
