//! EC2 Auto Scaling: instance launches and terminations (successful or not), the lifecycle
//! actions a hook holds an instance in, and instance refreshes. The outcome comes from the
//! detail type: a successful launch still says `StatusCode: InProgress`.

use serde_json::{Map, Value};

use crate::time::parse_time;

use super::eventbridge::EventMeta;
use super::read::{get, object, text};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalingKind {
    Launch,
    Terminate,
    LaunchLifecycleAction,
    TerminateLifecycleAction,
    InstanceRefresh,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ScalingEvent {
    pub meta: EventMeta,
    pub kind: ScalingKind,
    /// Canonical: `SUCCEEDED`, `FAILED`, `PENDING` (held by a lifecycle hook), and for a refresh
    /// `IN_PROGRESS`, `CANCELED` or `PENDING` (at a checkpoint).
    pub status: String,
    pub group: String,
    pub activity_id: Option<String>,
    pub instance_id: Option<String>,
    pub description: Option<String>,
    pub cause: Option<String>,
    pub status_message: Option<String>,
    pub status_code: Option<String>,
    pub availability_zone: Option<String>,
    pub lifecycle_hook: Option<String>,
    pub lifecycle_transition: Option<String>,
    pub refresh_id: Option<String>,
    pub checkpoint_percentage: Option<String>,
    pub started: Option<i64>,
    pub ended: Option<i64>,
}

/// `None` for another Auto Scaling event (warm pools, …) or one without a group name.
pub(super) fn parse(meta: &EventMeta, detail: &Map<String, Value>) -> Option<ScalingEvent> {
    let (kind, status) = kind_and_status(&meta.detail_type)?;
    let group = text(detail, "AutoScalingGroupName")?;
    Some(ScalingEvent {
        meta: meta.clone(),
        kind,
        status: status.to_string(),
        group,
        activity_id: text(detail, "ActivityId"),
        instance_id: text(detail, "EC2InstanceId"),
        description: text(detail, "Description"),
        cause: text(detail, "Cause"),
        status_message: text(detail, "StatusMessage"),
        status_code: text(detail, "StatusCode"),
        availability_zone: object(detail, "Details").and_then(|d| text(d, "Availability Zone")),
        lifecycle_hook: text(detail, "LifecycleHookName"),
        lifecycle_transition: text(detail, "LifecycleTransition"),
        refresh_id: text(detail, "InstanceRefreshId"),
        checkpoint_percentage: text(detail, "CheckpointPercentage"),
        started: get(detail, "StartTime").and_then(parse_time),
        ended: get(detail, "EndTime").and_then(parse_time),
    })
}

fn kind_and_status(detail_type: &str) -> Option<(ScalingKind, &'static str)> {
    use ScalingKind::*;
    Some(match detail_type {
        "EC2 Instance Launch Successful" => (Launch, "SUCCEEDED"),
        "EC2 Instance Launch Unsuccessful" => (Launch, "FAILED"),
        "EC2 Instance Terminate Successful" => (Terminate, "SUCCEEDED"),
        "EC2 Instance Terminate Unsuccessful" => (Terminate, "FAILED"),
        "EC2 Instance-launch Lifecycle Action" => (LaunchLifecycleAction, "PENDING"),
        "EC2 Instance-terminate Lifecycle Action" => (TerminateLifecycleAction, "PENDING"),
        "EC2 Auto Scaling Instance Refresh Started" => (InstanceRefresh, "IN_PROGRESS"),
        "EC2 Auto Scaling Instance Refresh Succeeded" => (InstanceRefresh, "SUCCEEDED"),
        "EC2 Auto Scaling Instance Refresh Failed" => (InstanceRefresh, "FAILED"),
        "EC2 Auto Scaling Instance Refresh Cancelled" => (InstanceRefresh, "CANCELED"),
        "EC2 Auto Scaling Instance Refresh Checkpoint Reached" => (InstanceRefresh, "PENDING"),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse_json(detail_type: &str, detail: Value) -> Option<ScalingEvent> {
        let meta = EventMeta {
            detail_type: detail_type.into(),
            source: Some("aws.autoscaling".into()),
            ..EventMeta::default()
        };
        parse(&meta, detail.as_object().unwrap())
    }

    #[test]
    fn the_outcome_comes_from_the_detail_type() {
        let ok = parse_json(
            "EC2 Instance Launch Successful",
            json!({"StatusCode": "InProgress", "AutoScalingGroupName": "shop-blue",
                   "ActivityId": "a-1", "EC2InstanceId": "i-1",
                   "Details": {"Availability Zone": "us-west-2b"},
                   "StartTime": "2026-11-21T15:00:00Z", "EndTime": "2026-11-21T15:00:40Z"}),
        )
        .unwrap();
        assert_eq!(
            (ok.kind, ok.status.as_str()),
            (ScalingKind::Launch, "SUCCEEDED")
        );
        assert_eq!(ok.availability_zone.as_deref(), Some("us-west-2b"));
        assert_eq!(ok.ended.unwrap() - ok.started.unwrap(), 40);
        let bad = parse_json(
            "EC2 Instance Terminate Unsuccessful",
            json!({"StatusCode": "Failed", "AutoScalingGroupName": "shop-blue", "StatusMessage": "x"}),
        )
        .unwrap();
        assert_eq!(bad.status, "FAILED");
        let hook = parse_json(
            "EC2 Instance-terminate Lifecycle Action",
            json!({"AutoScalingGroupName": "g", "LifecycleHookName": "drain",
                   "LifecycleTransition": "autoscaling:EC2_INSTANCE_TERMINATING"}),
        )
        .unwrap();
        assert_eq!(
            (hook.kind, hook.status.as_str()),
            (ScalingKind::TerminateLifecycleAction, "PENDING")
        );
        assert!(parse_json("EC2 Instance Launch Successful", json!({})).is_none());
        assert!(parse_json("Warm Pool Something", json!({"AutoScalingGroupName": "g"})).is_none());
    }
}
