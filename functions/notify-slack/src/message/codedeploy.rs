//! CodeDeploy's own notifications: a deployment or instance trigger (real messages differ from
//! the documented sample: UPPERCASE status, Java dates, JSON encoded inside strings), the
//! plain-text message a new trigger sends, and the same events through EventBridge.

use serde_json::{Map, Value};

use crate::status::canonical;
use crate::time::parse_time;

use super::Notification;
use super::read::{count, embedded, get, text};

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

const SETUP_SUBJECT: &str = "AWS CodeDeploy notification setup for trigger";

/// `Some(trigger name if given)` when the subject is CodeDeploy's trigger-setup subject.
pub(super) fn setup_trigger(subject: Option<&str>) -> Option<Option<String>> {
    let subject = subject.unwrap_or("");
    let at = subject.find(SETUP_SUBJECT)?;
    let name = subject[at + SETUP_SUBJECT.len()..].trim();
    Some((!name.is_empty()).then(|| name.to_string()))
}

/// A deployment or instance trigger, if the message is one.
pub(super) fn trigger(object: &Map<String, Value>) -> Option<Notification> {
    let has = |key| super::read::has(object, key);
    if has("deploymentId") && (has("instanceId") || has("instanceStatus")) {
        return Some(Notification::Instance(instance_trigger(object)));
    }
    if has("deploymentId") && (has("status") || has("eventTriggerName")) {
        return Some(Notification::Deployment(deployment_trigger(object)));
    }
    None
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

/// `CodeDeploy Deployment/Instance State-change Notification` through EventBridge.
pub(super) fn eventbridge(
    object: &Map<String, Value>,
    detail_type: &str,
    detail: &Map<String, Value>,
) -> Notification {
    let region = text(detail, "region").or_else(|| text(object, "region"));
    let account = text(object, "account");
    let status = canonical(&text(detail, "state").unwrap_or_default());
    if detail_type.contains("Instance") {
        return Notification::Instance(Instance {
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
        });
    }
    Notification::Deployment(Deployment {
        via: Some(Via::EventBridge),
        region,
        account,
        application: text(detail, "application"),
        deployment_group: text(detail, "deploymentGroup"),
        deployment_id: text(detail, "deploymentId"),
        status,
        event_time: get(object, "time").and_then(parse_time),
        ..Deployment::default()
    })
}

#[cfg(test)]
mod tests {
    use super::super::classify;
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
}
