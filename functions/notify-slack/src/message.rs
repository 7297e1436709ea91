//! What an SNS message is, read tolerantly: real CodeDeploy messages differ from the documented
//! sample (UPPERCASE status, Java dates, JSON encoded inside strings), so fields are read from
//! `serde_json::Value` with case-insensitive keys and every field optional.

use rollout_kit::RolloutEvent;
use serde_json::{Map, Value};

use crate::status::canonical;
use crate::time::parse_time;

#[derive(Debug, Clone, PartialEq)]
pub enum Notification {
    Deployment(Deployment),
    Instance(Instance),
    /// The plain-text message CodeDeploy sends when a trigger is created.
    TriggerSetup {
        trigger: Option<String>,
        text: String,
    },
    Alarm(Alarm),
    Rollout(RolloutEvent),
    Generic(Generic),
}

/// Where a CodeDeploy notification came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Trigger,
    EventBridge,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Deployment {
    pub via: Option<Via>,
    pub region: Option<String>,
    pub account: Option<String>,
    pub application: Option<String>,
    pub deployment_group: Option<String>,
    pub deployment_id: Option<String>,
    /// Canonical status (`FAILED`); the raw text is not needed once mapped.
    pub status: String,
    pub created: Option<i64>,
    pub completed: Option<i64>,
    /// `(name, count)` in the order CodeDeploy lists them.
    pub overview: Vec<(String, u64)>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    /// This deployment is a rollback of that one.
    pub rollback_of: Option<String>,
    /// This deployment was rolled back by that one.
    pub rolled_back_by: Option<String>,
    pub rollback_message: Option<String>,
    pub trigger: Option<String>,
    /// When the event happened (EventBridge `time`).
    pub event_time: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Instance {
    pub via: Option<Via>,
    pub region: Option<String>,
    pub account: Option<String>,
    pub application: Option<String>,
    pub deployment_group: Option<String>,
    pub deployment_id: Option<String>,
    pub instance_id: Option<String>,
    pub status: String,
    pub updated: Option<i64>,
    pub lifecycle: Vec<LifecycleStep>,
    pub trigger: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct LifecycleStep {
    pub name: String,
    pub status: String,
    pub started: Option<i64>,
    pub ended: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Alarm {
    pub name: String,
    pub description: Option<String>,
    pub state: String,
    pub old_state: Option<String>,
    pub reason: Option<String>,
    /// Region code from the alarm or topic ARN (`Region` is a display name).
    pub region: Option<String>,
    pub region_name: Option<String>,
    pub account: Option<String>,
    pub metric: Option<String>,
    pub changed: Option<i64>,
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

const SETUP_SUBJECT: &str = "AWS CodeDeploy notification setup for trigger";

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
        if let Some(trigger) = setup_trigger(subject) {
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
    if let Some(note) = eventbridge(object) {
        return note;
    }
    if has(object, "AlarmName") && has(object, "NewStateValue") {
        return Notification::Alarm(alarm(object, topic_arn));
    }
    if has(object, "deploymentId") && (has(object, "instanceId") || has(object, "instanceStatus")) {
        return Notification::Instance(instance_trigger(object));
    }
    if has(object, "deploymentId") && (has(object, "status") || has(object, "eventTriggerName")) {
        return Notification::Deployment(deployment_trigger(object));
    }
    generic(subject, GenericBody::Json(value))
}

fn generic(subject: Option<&str>, body: GenericBody) -> Notification {
    Notification::Generic(Generic {
        subject: subject.map(str::to_string),
        body,
    })
}

/// `Some(trigger name if given)` when the subject is CodeDeploy's trigger-setup subject.
fn setup_trigger(subject: Option<&str>) -> Option<Option<String>> {
    let subject = subject.unwrap_or("");
    let at = subject.find(SETUP_SUBJECT)?;
    let name = subject[at + SETUP_SUBJECT.len()..].trim();
    Some((!name.is_empty()).then(|| name.to_string()))
}

/// Case-insensitive key lookup, the way these payloads need it (`RollbackMessage`,
/// `rollbackMessage`).
fn get<'a>(object: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    object.get(key).or_else(|| {
        object
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

fn has(object: &Map<String, Value>, key: &str) -> bool {
    get(object, key).is_some_and(|v| !v.is_null())
}

/// A non-empty string, or a number as text.
fn text(object: &Map<String, Value>, key: &str) -> Option<String> {
    match get(object, key)? {
        Value::String(s) if !s.trim().is_empty() && s != "null" => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// An object, or a string holding JSON of one (how real triggers send nested fields).
fn embedded(object: &Map<String, Value>, key: &str) -> Option<Value> {
    match get(object, key)? {
        Value::String(s) => serde_json::from_str::<Value>(s)
            .ok()
            .filter(|v| !v.is_null()),
        Value::Null => None,
        other => Some(other.clone()),
    }
}

fn count(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn deployment_trigger(object: &Map<String, Value>) -> Deployment {
    let overview = embedded(object, "deploymentOverview")
        .and_then(|v| v.as_object().cloned())
        .map(|counts| {
            let mut list: Vec<(String, u64)> = counts
                .iter()
                .filter_map(|(k, v)| Some((k.clone(), count(v)?)))
                .collect();
            list.sort_by_key(|(k, _)| overview_rank(k));
            list
        })
        .unwrap_or_default();
    let error = embedded(object, "errorInformation").and_then(|v| v.as_object().cloned());
    let rollback = embedded(object, "rollbackInformation").and_then(|v| v.as_object().cloned());
    let from =
        |map: &Option<Map<String, Value>>, key: &str| map.as_ref().and_then(|m| text(m, key));
    Deployment {
        via: Some(Via::Trigger),
        region: text(object, "region"),
        account: text(object, "accountId"),
        application: text(object, "applicationName"),
        deployment_group: text(object, "deploymentGroupName"),
        deployment_id: text(object, "deploymentId"),
        status: canonical(&text(object, "status").unwrap_or_default()),
        created: get(object, "createTime").and_then(parse_time),
        completed: get(object, "completeTime").and_then(parse_time),
        overview,
        error_code: from(&error, "ErrorCode"),
        error_message: from(&error, "ErrorMessage"),
        rollback_of: from(&rollback, "RollbackTriggeringDeploymentId"),
        rolled_back_by: from(&rollback, "RollbackDeploymentId"),
        rollback_message: from(&rollback, "RollbackMessage"),
        trigger: text(object, "eventTriggerName"),
        event_time: None,
    }
}

fn overview_rank(name: &str) -> usize {
    const ORDER: [&str; 6] = [
        "Succeeded",
        "Failed",
        "Skipped",
        "InProgress",
        "Pending",
        "Ready",
    ];
    ORDER
        .iter()
        .position(|o| o.eq_ignore_ascii_case(name))
        .unwrap_or(ORDER.len())
}

fn instance_trigger(object: &Map<String, Value>) -> Instance {
    let lifecycle = embedded(object, "lifecycleEvents")
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(Value::as_object)
        .map(|step| LifecycleStep {
            name: text(step, "LifecycleEvent").unwrap_or_else(|| "?".into()),
            status: canonical(&text(step, "LifecycleEventStatus").unwrap_or_default()),
            started: get(step, "StartTime").and_then(parse_time),
            ended: get(step, "EndTime").and_then(parse_time),
        })
        .collect();
    Instance {
        via: Some(Via::Trigger),
        region: text(object, "region"),
        account: text(object, "accountId"),
        application: text(object, "applicationName"),
        deployment_group: text(object, "deploymentGroupName"),
        deployment_id: text(object, "deploymentId"),
        instance_id: text(object, "instanceId"),
        status: canonical(&text(object, "instanceStatus").unwrap_or_default()),
        updated: get(object, "lastUpdatedAt").and_then(parse_time),
        lifecycle,
        trigger: text(object, "eventTriggerName"),
    }
}

fn eventbridge(object: &Map<String, Value>) -> Option<Notification> {
    let detail_type = text(object, "detail-type")?;
    let detail = get(object, "detail")?.as_object()?;
    let is_codedeploy = text(object, "source").as_deref() == Some("aws.codedeploy")
        || detail_type.starts_with("CodeDeploy");
    if !is_codedeploy {
        return None;
    }
    let region = text(detail, "region").or_else(|| text(object, "region"));
    let account = text(object, "account");
    let status = canonical(&text(detail, "state").unwrap_or_default());
    if detail_type.contains("Instance") {
        return Some(Notification::Instance(Instance {
            via: Some(Via::EventBridge),
            region,
            account,
            application: text(detail, "application"),
            deployment_group: text(detail, "deploymentGroup"),
            deployment_id: text(detail, "deploymentId"),
            instance_id: text(detail, "instanceId"),
            status,
            updated: get(object, "time").and_then(parse_time),
            lifecycle: Vec::new(),
            trigger: None,
        }));
    }
    Some(Notification::Deployment(Deployment {
        via: Some(Via::EventBridge),
        region,
        account,
        application: text(detail, "application"),
        deployment_group: text(detail, "deploymentGroup"),
        deployment_id: text(detail, "deploymentId"),
        status,
        event_time: get(object, "time").and_then(parse_time),
        ..Deployment::default()
    }))
}

fn alarm(object: &Map<String, Value>, topic_arn: &str) -> Alarm {
    let arn = text(object, "AlarmArn");
    let region = arn
        .as_deref()
        .and_then(arn_region)
        .or_else(|| arn_region(topic_arn));
    let metric = get(object, "Trigger")
        .and_then(Value::as_object)
        .and_then(|trigger| {
            let name = text(trigger, "MetricName")?;
            Some(match text(trigger, "Namespace") {
                Some(namespace) => format!("{namespace} {name}"),
                None => name,
            })
        });
    Alarm {
        name: text(object, "AlarmName").unwrap_or_else(|| "(unnamed alarm)".into()),
        description: text(object, "AlarmDescription"),
        state: canonical(&text(object, "NewStateValue").unwrap_or_default()),
        old_state: text(object, "OldStateValue").map(|s| canonical(&s)),
        reason: text(object, "NewStateReason"),
        region,
        region_name: text(object, "Region"),
        account: text(object, "AWSAccountId"),
        metric,
        changed: get(object, "StateChangeTime").and_then(parse_time),
    }
}

/// The region field of an ARN (`arn:aws:cloudwatch:us-east-1:…`), if it has one.
pub fn arn_region(arn: &str) -> Option<String> {
    let mut parts = arn.split(':');
    if parts.next()? != "arn" {
        return None;
    }
    let region = parts.nth(2)?;
    (!region.is_empty()).then(|| region.to_string())
}

/// The status this message is filtered on; `None` for messages that have none.
pub fn status_of(note: &Notification) -> Option<String> {
    match note {
        Notification::Deployment(d) => Some(d.status.clone()),
        Notification::Instance(i) => Some(i.status.clone()),
        Notification::Alarm(a) => Some(a.state.clone()),
        Notification::Rollout(r) => Some(canonical(&format!("{:?}", r.outcome))),
        Notification::TriggerSetup { .. } | Notification::Generic(_) => None,
    }
}

/// A short name for logs.
pub fn kind_of(note: &Notification) -> &'static str {
    match note {
        Notification::Deployment(d) if d.via == Some(Via::EventBridge) => "eventbridge_deployment",
        Notification::Deployment(_) => "codedeploy_deployment",
        Notification::Instance(i) if i.via == Some(Via::EventBridge) => "eventbridge_instance",
        Notification::Instance(_) => "codedeploy_instance",
        Notification::TriggerSetup { .. } => "codedeploy_trigger_setup",
        Notification::Alarm(_) => "cloudwatch_alarm",
        Notification::Rollout(_) => "rollout_event",
        Notification::Generic(_) => "generic",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TOPIC: &str = "arn:aws:sns:eu-west-1:123456789012:deployments";

    fn deployment(message: Value) -> Deployment {
        match classify(&message.to_string(), None, TOPIC) {
            Notification::Deployment(d) => d,
            other => panic!("not a deployment: {other:?}"),
        }
    }

    #[test]
    fn real_trigger_with_encoded_strings_and_java_dates() {
        let d = deployment(json!({
            "region": "eu-west-1", "accountId": "123456789012",
            "eventTriggerName": "deploy-events", "applicationName": "shop",
            "deploymentId": "d-FAILED123", "deploymentGroupName": "shop-prod",
            "createTime": "Fri Oct 14 08:38:46 UTC 2022",
            "completeTime": "Fri Oct 14 08:43:12 UTC 2022",
            "deploymentOverview": "{\"Failed\":0,\"InProgress\":0,\"Pending\":0,\"Skipped\":0,\"Succeeded\":1}",
            "errorInformation": "{\"ErrorCode\":\"HEALTH_CONSTRAINTS\",\"ErrorMessage\":\"too few healthy\"}",
            "rollbackInformation": "{\"RollbackDeploymentId\":\"d-ROLLBACK1\",\"RollbackMessage\":\"Deployment d-ROLLBACK1 rolled back\"}",
            "status": "FAILED"
        }));
        assert_eq!(d.status, "FAILED", "outcome from status, not the overview");
        assert_eq!(d.completed.unwrap() - d.created.unwrap(), 266);
        assert_eq!(d.overview[0], ("Succeeded".to_string(), 1));
        assert_eq!(d.error_code.as_deref(), Some("HEALTH_CONSTRAINTS"));
        assert_eq!(d.rolled_back_by.as_deref(), Some("d-ROLLBACK1"));
        assert_eq!(d.rollback_of, None);
    }

    #[test]
    fn documented_sample_with_objects_and_epochs() {
        let d = deployment(json!({
            "region": "us-west-1", "deploymentId": "d-75I7MBT7C",
            "createTime": "1446744188.595", "completeTime": "1446744190.402",
            "deploymentOverview": {"Failed": "10", "Succeeded": "0"},
            "status": "Failed",
            "errorInformation": {"ErrorCode": "IAM_ROLE_MISSING", "ErrorMessage": "missing"},
            "rollbackInformation": {"rollbackTriggeringDeploymentId": "d-ORIGINAL1"}
        }));
        assert_eq!(d.status, "FAILED");
        assert_eq!(d.overview[1], ("Failed".to_string(), 10));
        assert_eq!(d.rollback_of.as_deref(), Some("d-ORIGINAL1"));
        assert_eq!(d.completed.unwrap() - d.created.unwrap(), 2);
    }

    #[test]
    fn running_deployment_has_no_completion_and_unknown_status_survives() {
        let d = deployment(json!({
            "deploymentId": "d-1", "status": "unknown", "completeTime": null,
            "deploymentOverview": "not json", "errorInformation": null
        }));
        assert_eq!(d.status, "UNKNOWN");
        assert_eq!(d.completed, None);
        assert!(d.overview.is_empty());
    }

    #[test]
    fn instance_trigger_with_lifecycle() {
        let message = json!({
            "deploymentId": "d-1", "instanceId": "arn:aws:ec2:us-east-2:1:instance/i-1",
            "instanceStatus": "Failed",
            "lifecycleEvents": [{"LifecycleEvent": "ApplicationStop", "LifecycleEventStatus": "Succeeded"},
                                {"LifecycleEvent": "ValidateService", "LifecycleEventStatus": "Failed"}]
        });
        let Notification::Instance(i) = classify(&message.to_string(), None, TOPIC) else {
            panic!("not an instance");
        };
        assert_eq!(i.status, "FAILED");
        assert_eq!(i.lifecycle[1].name, "ValidateService");
        assert_eq!(i.lifecycle[1].status, "FAILED");
    }

    #[test]
    fn eventbridge_through_sns() {
        let message = json!({
            "version": "0", "detail-type": "CodeDeploy Deployment State-change Notification",
            "source": "aws.codedeploy", "account": "123456789012", "region": "us-east-1",
            "time": "2022-10-14T08:43:12Z",
            "detail": {"deploymentId": "d-2", "state": "FAILURE", "application": "shop",
                       "deploymentGroup": "prod", "region": "us-east-1"}
        });
        let Notification::Deployment(d) = classify(&message.to_string(), None, TOPIC) else {
            panic!("not a deployment");
        };
        assert_eq!(
            (d.status.as_str(), d.via),
            ("FAILED", Some(Via::EventBridge))
        );
        assert_eq!(d.application.as_deref(), Some("shop"));
    }

    #[test]
    fn alarm_region_from_arn_or_topic() {
        let message = json!({
            "AlarmName": "api-5xx", "AlarmDescription": null, "NewStateValue": "ALARM",
            "OldStateValue": "OK", "Region": "Asia Pacific (Tokyo)",
            "NewStateReason": "Threshold Crossed"
        });
        let Notification::Alarm(a) = classify(&message.to_string(), None, TOPIC) else {
            panic!("not an alarm");
        };
        assert_eq!(a.region.as_deref(), Some("eu-west-1"), "from the topic ARN");
        assert_eq!(a.region_name.as_deref(), Some("Asia Pacific (Tokyo)"));
        assert_eq!(a.description, None);
    }

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
    fn arn_regions() {
        assert_eq!(
            arn_region("arn:aws-cn:cloudwatch:cn-north-1:1:alarm:x").as_deref(),
            Some("cn-north-1")
        );
        assert_eq!(arn_region("arn:aws:iam::1:role/x"), None);
        assert_eq!(arn_region("nonsense"), None);
    }
}
