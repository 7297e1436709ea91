//! EventBridge events an SNS topic receives from a rule: the envelope every event shares
//! (`detail-type`, `source`, `account`, `region`, `time`, `resources`), then the family its
//! source names. An event of no family we know, or one whose detail does not say what it should,
//! is still an [`Event`]: described from its envelope, with the detail as it came.

use serde_json::{Map, Value};

use crate::time::parse_time;

use super::read::{embedded, get, strings, text};
use super::{Notification, alarm, autoscaling, codebuild, codedeploy, codepipeline, ecs};

/// What every EventBridge event says about itself.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EventMeta {
    pub detail_type: String,
    pub source: Option<String>,
    pub account: Option<String>,
    pub region: Option<String>,
    /// Epoch seconds of the event's `time`.
    pub time: Option<i64>,
    /// ARNs of the resources involved.
    pub resources: Vec<String>,
}

/// An EventBridge event of no family notify-slack knows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Event {
    pub meta: EventMeta,
    /// `detail` as it came (an object, usually); `None` without one.
    pub detail: Option<Value>,
}

/// The event this message is, if it is an EventBridge event: a `detail-type` (or `detailType`,
/// as Developer Tools notification rules write it) with a `source` or a `detail`.
pub(super) fn classify(object: &Map<String, Value>) -> Option<Notification> {
    let detail_type = text(object, "detail-type").or_else(|| text(object, "detailType"))?;
    // An object, JSON of one inside a string, or whatever else it is (kept to be shown).
    let detail = embedded(object, "detail")
        .or_else(|| get(object, "detail").cloned())
        .filter(|d| !d.is_null());
    let source = text(object, "source");
    if source.is_none() && detail.is_none() {
        return None;
    }
    let meta = EventMeta {
        detail_type,
        source,
        account: text(object, "account"),
        region: text(object, "region"),
        time: get(object, "time").and_then(parse_time),
        resources: strings(get(object, "resources")),
    };
    if let Some(note) = detail
        .as_ref()
        .and_then(Value::as_object)
        .and_then(|d| family(object, &meta, d))
    {
        return Some(note);
    }
    Some(Notification::Event(Event { meta, detail }))
}

/// The family this event belongs to, read from its detail; `None` when the source is none we
/// know, or the detail lacks what identifies the event (then the generic event shows it all).
fn family(
    object: &Map<String, Value>,
    meta: &EventMeta,
    detail: &Map<String, Value>,
) -> Option<Notification> {
    let detail_type = meta.detail_type.as_str();
    let from = |source: &str, prefix: &str| {
        meta.source.as_deref() == Some(source)
            || (meta.source.is_none() && detail_type.starts_with(prefix))
    };
    if from("aws.codedeploy", "CodeDeploy") {
        return Some(codedeploy::eventbridge(object, detail_type, detail));
    }
    if from("aws.codepipeline", "CodePipeline") {
        return codepipeline::parse(meta, detail).map(Notification::Pipeline);
    }
    if from("aws.codebuild", "CodeBuild") {
        return codebuild::parse(meta, detail).map(Notification::Build);
    }
    if from("aws.ecs", "ECS ") {
        return ecs::parse(meta, detail).map(Notification::Ecs);
    }
    if from("aws.autoscaling", "EC2 Auto Scaling") {
        return autoscaling::parse(meta, detail).map(Notification::Scaling);
    }
    if from("aws.cloudwatch", "CloudWatch Alarm") && detail_type.contains("Alarm State Change") {
        return alarm::eventbridge(meta, detail).map(Notification::Alarm);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::classify as classify_message;
    use super::*;
    use serde_json::json;

    const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:deployments";

    fn event(message: Value) -> Event {
        match classify_message(&message.to_string(), None, TOPIC) {
            Notification::Event(e) => e,
            other => panic!("not a generic event: {other:?}"),
        }
    }

    #[test]
    fn other_sources_keep_their_envelope_and_detail() {
        let e = event(json!({
            "version": "0", "id": "x", "detail-type": "EC2 Instance State-change Notification",
            "source": "aws.ec2", "account": "123456789012", "time": "2026-11-21T15:00:00Z",
            "region": "us-east-1", "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-1"],
            "detail": {"instance-id": "i-1", "state": "stopped"}
        }));
        assert_eq!(e.meta.detail_type, "EC2 Instance State-change Notification");
        assert_eq!(e.meta.source.as_deref(), Some("aws.ec2"));
        assert_eq!(e.meta.time, Some(1_795_273_200));
        assert_eq!(e.meta.resources.len(), 1);
        assert_eq!(
            e.detail,
            Some(json!({"instance-id": "i-1", "state": "stopped"}))
        );
    }

    #[test]
    fn a_known_source_without_its_facts_falls_back_to_the_generic_event() {
        let e = event(
            json!({"detail-type": "CodePipeline Pipeline Execution State Change",
                             "source": "aws.codepipeline", "detail": {"unexpected": true}}),
        );
        assert_eq!(e.meta.source.as_deref(), Some("aws.codepipeline"));
        let e = event(json!({"detail-type": "CodeBuild Build State Change",
                             "source": "aws.codebuild", "detail": "not an object"}));
        assert_eq!(e.detail, Some(json!("not an object")));
    }

    #[test]
    fn notification_rules_spell_it_detail_type() {
        let note = classify_message(
            &json!({"detailType": "CodePipeline Pipeline Execution State Change",
                    "source": "aws.codepipeline", "region": "us-east-1",
                    "detail": {"pipeline": "shop", "state": "FAILED", "execution-id": "e-1"}})
            .to_string(),
            None,
            TOPIC,
        );
        assert!(matches!(note, Notification::Pipeline(_)), "{note:?}");
    }

    #[test]
    fn a_detail_type_alone_is_not_an_event() {
        let note = classify_message(&json!({"detail-type": "x"}).to_string(), None, TOPIC);
        assert!(matches!(note, Notification::Generic(_)), "{note:?}");
    }
}
