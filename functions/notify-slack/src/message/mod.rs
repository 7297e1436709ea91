//! What an SNS message is, read tolerantly: real messages differ from the documented samples
//! (UPPERCASE status, Java dates, JSON encoded inside strings), so fields are read from
//! `serde_json::Value` with case-insensitive keys and every field optional ([`read`]). One module
//! per family turns its messages into a model; [`classify`] picks the family and never fails:
//! what is not recognised is a [`Generic`] message.

mod alarm;
mod autoscaling;
mod codebuild;
mod codedeploy;
mod codepipeline;
mod ecs;
mod eventbridge;
mod read;

use rollout_kit::RolloutEvent;
use serde_json::Value;

use crate::status::canonical;

pub use alarm::Alarm;
pub use autoscaling::{ScalingEvent, ScalingKind};
pub use codebuild::{BuildEvent, FailedPhase};
pub use codedeploy::{Deployment, Instance, LifecycleStep, Via};
pub use codepipeline::{PipelineEvent, PipelineLevel};
pub use ecs::{Container, EcsEvent, EcsKind, Task, stopped_with_error};
pub use eventbridge::{Event, EventMeta};
pub use read::arn_region;

#[derive(Debug, Clone, PartialEq)]
pub enum Notification {
    Deployment(Deployment),
    Instance(Instance),
    /// The plain-text message CodeDeploy sends when a trigger is created.
    TriggerSetup {
        trigger: Option<String>,
        text: String,
    },
    /// From the alarm's SNS action or EventBridge: the same model.
    Alarm(Alarm),
    Rollout(RolloutEvent),
    Pipeline(PipelineEvent),
    Build(BuildEvent),
    Ecs(EcsEvent),
    Scaling(ScalingEvent),
    /// An EventBridge event of no family we know.
    Event(Event),
    Generic(Generic),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Generic {
    pub subject: Option<String>,
    pub body: GenericBody,
}

#[derive(Debug, Clone, PartialEq)]
pub enum GenericBody {
    Text(String),
    Json(Value),
}

/// Classifies one SNS message. Never fails: what is not recognised is a generic message.
pub fn classify(message: &str, subject: Option<&str>, topic_arn: &str) -> Notification {
    if let Some(event) = RolloutEvent::parse(message) {
        return Notification::Rollout(event);
    }
    let parsed = match serde_json::from_str::<Value>(message) {
        // Some publishers encode twice; one more level is cheap to undo.
        Ok(Value::String(inner)) => serde_json::from_str::<Value>(&inner).ok(),
        Ok(value) => Some(value),
        Err(_) => None,
    };
    let Some(value) = parsed else {
        if let Some(trigger) = codedeploy::setup_trigger(subject) {
            return Notification::TriggerSetup {
                trigger,
                text: message.trim().to_string(),
            };
        }
        return generic(subject, GenericBody::Text(message.trim().to_string()));
    };
    let Some(object) = value.as_object() else {
        return generic(subject, GenericBody::Json(value));
    };
    if let Some(note) = eventbridge::classify(object) {
        return note;
    }
    if read::has(object, "AlarmName") && read::has(object, "NewStateValue") {
        return Notification::Alarm(alarm::sns(object, topic_arn));
    }
    if let Some(note) = codedeploy::trigger(object) {
        return note;
    }
    generic(subject, GenericBody::Json(value))
}

fn generic(subject: Option<&str>, body: GenericBody) -> Notification {
    Notification::Generic(Generic {
        subject: subject.map(str::to_string),
        body,
    })
}

/// The status this message is filtered on; `None` for messages that have none.
pub fn status_of(note: &Notification) -> Option<String> {
    match note {
        Notification::Deployment(d) => Some(d.status.clone()),
        Notification::Instance(i) => Some(i.status.clone()),
        Notification::Alarm(a) => Some(a.state.clone()),
        Notification::Rollout(r) => Some(canonical(&format!("{:?}", r.outcome))),
        Notification::Pipeline(p) => Some(p.status.clone()),
        Notification::Build(b) => Some(b.status.clone()),
        Notification::Ecs(e) => Some(e.status.clone()),
        Notification::Scaling(s) => Some(s.status.clone()),
        Notification::TriggerSetup { .. } | Notification::Event(_) | Notification::Generic(_) => {
            None
        }
    }
}

/// Every name [`kind_of`] gives, in the order the documentation lists them. `NOTIFY_QUIET`
/// names kinds from this list.
pub const KINDS: &[&str] = &[
    "codedeploy_deployment",
    "codedeploy_instance",
    "codedeploy_trigger_setup",
    "eventbridge_deployment",
    "eventbridge_instance",
    "cloudwatch_alarm",
    "rollout_event",
    "codepipeline_pipeline",
    "codepipeline_stage",
    "codepipeline_action",
    "codebuild_build",
    "codebuild_phase",
    "ecs_deployment",
    "ecs_service_action",
    "ecs_task",
    "autoscaling_instance",
    "autoscaling_lifecycle_action",
    "autoscaling_instance_refresh",
    "eventbridge_event",
    "generic",
];

/// A short name for logs and the `NOTIFY_QUIET` filter.
pub fn kind_of(note: &Notification) -> &'static str {
    match note {
        Notification::Deployment(d) if d.via == Some(Via::EventBridge) => "eventbridge_deployment",
        Notification::Deployment(_) => "codedeploy_deployment",
        Notification::Instance(i) if i.via == Some(Via::EventBridge) => "eventbridge_instance",
        Notification::Instance(_) => "codedeploy_instance",
        Notification::TriggerSetup { .. } => "codedeploy_trigger_setup",
        Notification::Alarm(_) => "cloudwatch_alarm",
        Notification::Rollout(_) => "rollout_event",
        Notification::Pipeline(p) => match p.level {
            PipelineLevel::Pipeline => "codepipeline_pipeline",
            PipelineLevel::Stage => "codepipeline_stage",
            PipelineLevel::Action => "codepipeline_action",
        },
        Notification::Build(b) if b.phase_change => "codebuild_phase",
        Notification::Build(_) => "codebuild_build",
        Notification::Ecs(e) => match e.kind {
            EcsKind::Deployment => "ecs_deployment",
            EcsKind::ServiceAction => "ecs_service_action",
            EcsKind::Task => "ecs_task",
        },
        Notification::Scaling(s) => match s.kind {
            ScalingKind::Launch | ScalingKind::Terminate => "autoscaling_instance",
            ScalingKind::LaunchLifecycleAction | ScalingKind::TerminateLifecycleAction => {
                "autoscaling_lifecycle_action"
            }
            ScalingKind::InstanceRefresh => "autoscaling_instance_refresh",
        },
        Notification::Event(_) => "eventbridge_event",
        Notification::Generic(_) => "generic",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TOPIC: &str = "arn:aws:sns:eu-west-1:123456789012:deployments";

    #[test]
    fn plain_text_and_odd_json_are_generic_and_setup_is_recognised() {
        let setup = classify(
            "Created trigger",
            Some("SUCCESS: AWS CodeDeploy notification setup for trigger deploy-events"),
            TOPIC,
        );
        assert_eq!(
            setup,
            Notification::TriggerSetup {
                trigger: Some("deploy-events".into()),
                text: "Created trigger".into(),
            }
        );
        assert!(matches!(
            classify("hello <world>", None, TOPIC),
            Notification::Generic(_)
        ));
        assert!(matches!(
            classify("[1,2]", None, TOPIC),
            Notification::Generic(_)
        ));
        assert!(matches!(
            classify("", None, TOPIC),
            Notification::Generic(_)
        ));
        assert!(matches!(
            classify(r#"{"status":"x"}"#, None, TOPIC),
            Notification::Generic(_)
        ));
    }

    #[test]
    fn every_family_is_recognised_and_named() {
        let event = |detail_type: &str, source: &str, detail: Value| {
            json!({"version": "0", "detail-type": detail_type, "source": source,
                   "region": "us-east-1", "detail": detail})
            .to_string()
        };
        let cases = [
            (
                event(
                    "CodePipeline Action Execution State Change",
                    "aws.codepipeline",
                    json!({"pipeline": "p", "state": "STARTED"}),
                ),
                "codepipeline_action",
            ),
            (
                event(
                    "CodeBuild Build Phase Change",
                    "aws.codebuild",
                    json!({"project-name": "p", "completed-phase-status": "SUCCEEDED"}),
                ),
                "codebuild_phase",
            ),
            (
                event(
                    "ECS Service Action",
                    "aws.ecs",
                    json!({"eventName": "SERVICE_STEADY_STATE", "eventType": "INFO"}),
                ),
                "ecs_service_action",
            ),
            (
                event(
                    "EC2 Instance-launch Lifecycle Action",
                    "aws.autoscaling",
                    json!({"AutoScalingGroupName": "g"}),
                ),
                "autoscaling_lifecycle_action",
            ),
            (
                event(
                    "CloudWatch Alarm State Change",
                    "aws.cloudwatch",
                    json!({"alarmName": "a", "state": {"value": "OK"}}),
                ),
                "cloudwatch_alarm",
            ),
            (
                event("Object Created", "aws.s3", json!({"bucket": {"name": "b"}})),
                "eventbridge_event",
            ),
        ];
        for (message, kind) in cases {
            let note = classify(&message, None, TOPIC);
            assert_eq!(kind_of(&note), kind, "{note:?}");
            assert!(KINDS.contains(&kind));
        }
    }
}
