//! Amazon ECS: service deployments (`ECS Deployment State Change`, rolling updates and the
//! built-in blue/green, canary and linear deployments alike), service actions (`ECS Service
//! Action`: steady state, impaired task starts, placement failures) and tasks (`ECS Task State
//! Change`), of which only a stop with an error is news.

use serde_json::{Map, Value};

use crate::status::canonical;
use crate::time::parse_time;

use super::eventbridge::EventMeta;
use super::read::{arn_resource, get, integer, strings, text};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EcsKind {
    Deployment,
    ServiceAction,
    Task,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EcsEvent {
    pub meta: EventMeta,
    pub kind: EcsKind,
    /// `SERVICE_DEPLOYMENT_FAILED`, `SERVICE_TASK_START_IMPAIRED`; a task's last status.
    pub name: String,
    /// `INFO`, `WARN` or `ERROR`.
    pub event_type: Option<String>,
    /// Canonical: a deployment's outcome, a service action's weight (`ERROR` is `FAILED`,
    /// `WARN` is `WARNING`), a task's `FAILED` (stopped with an error), `STOPPED` or
    /// `IN_PROGRESS`.
    pub status: String,
    pub cluster: Option<String>,
    pub service: Option<String>,
    pub deployment_id: Option<String>,
    pub reason: Option<String>,
    /// A deployment that rolls back to an earlier one (its reason says so).
    pub rollback: bool,
    pub capacity_providers: Vec<String>,
    pub task: Option<Task>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Task {
    pub id: String,
    /// `family:revision`.
    pub definition: Option<String>,
    /// `service:shop`, `family:job`.
    pub group: Option<String>,
    pub desired_status: Option<String>,
    pub stop_code: Option<String>,
    pub stopped_reason: Option<String>,
    pub containers: Vec<Container>,
    pub started: Option<i64>,
    pub stopped: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Container {
    pub name: String,
    pub exit_code: Option<i64>,
    pub reason: Option<String>,
}

/// `None` when the detail does not say what happened (no event name, no task).
pub(super) fn parse(meta: &EventMeta, detail: &Map<String, Value>) -> Option<EcsEvent> {
    let detail_type = meta.detail_type.as_str();
    let kind = if detail_type.contains("Deployment") {
        EcsKind::Deployment
    } else if detail_type.contains("Service Action") {
        EcsKind::ServiceAction
    } else if detail_type.contains("Task State") {
        EcsKind::Task
    } else {
        return None;
    };
    let (mut cluster, service) = meta
        .resources
        .iter()
        .find_map(|arn| service_of(arn))
        .unwrap_or_default();
    if let Some(arn) = text(detail, "clusterArn") {
        cluster = Some(last_segment(&arn));
    }
    let event_type = text(detail, "eventType").map(|t| t.to_ascii_uppercase());
    let reason = text(detail, "reason");
    let base = |name: String, status: String| EcsEvent {
        meta: meta.clone(),
        kind,
        name,
        event_type: event_type.clone(),
        status,
        cluster: cluster.clone(),
        service: service.clone(),
        deployment_id: text(detail, "deploymentId"),
        reason: reason.clone(),
        rollback: false,
        capacity_providers: strings(get(detail, "capacityProviderArns"))
            .iter()
            .map(|arn| last_segment(arn))
            .collect(),
        task: None,
    };
    match kind {
        EcsKind::Deployment => {
            let name = text(detail, "eventName")?;
            let outcome = name.strip_prefix("SERVICE_DEPLOYMENT_").unwrap_or(&name);
            let status = match outcome {
                "COMPLETED" => "SUCCEEDED".to_string(),
                other => canonical(other),
            };
            let rollback = reason
                .as_deref()
                .is_some_and(|r| r.to_ascii_lowercase().contains("rolling back"));
            Some(EcsEvent {
                rollback,
                ..base(name, status)
            })
        }
        EcsKind::ServiceAction => {
            let name = text(detail, "eventName")?;
            let status = match event_type.as_deref() {
                Some("ERROR") => "FAILED".to_string(),
                Some("WARN") | Some("WARNING") => "WARNING".to_string(),
                Some(other) => canonical(other),
                None => "INFO".to_string(),
            };
            Some(base(name, status))
        }
        EcsKind::Task => {
            let task = task(detail)?;
            let last = text(detail, "lastStatus")
                .map(|s| s.to_ascii_uppercase())
                .unwrap_or_else(|| "UNKNOWN".into());
            let status = if last != "STOPPED" {
                "IN_PROGRESS"
            } else if stopped_with_error(&task) {
                "FAILED"
            } else {
                "STOPPED"
            };
            let from_group = task
                .group
                .as_deref()
                .and_then(|g| g.strip_prefix("service:"))
                .map(str::to_string);
            let event = base(last, status.to_string());
            Some(EcsEvent {
                service: from_group.or(event.service.clone()),
                task: Some(task),
                ..event
            })
        }
    }
}

fn task(detail: &Map<String, Value>) -> Option<Task> {
    let id = last_segment(&text(detail, "taskArn")?);
    let containers = get(detail, "containers")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(Value::as_object)
                .map(|c| Container {
                    name: text(c, "name").unwrap_or_else(|| "?".into()),
                    exit_code: get(c, "exitCode").and_then(integer),
                    reason: text(c, "reason"),
                })
                .collect()
        })
        .unwrap_or_default();
    Some(Task {
        id,
        definition: text(detail, "taskDefinitionArn").map(|arn| {
            let resource = arn_resource(&arn);
            resource
                .strip_prefix("task-definition/")
                .unwrap_or(resource)
                .to_string()
        }),
        group: text(detail, "group"),
        desired_status: text(detail, "desiredStatus"),
        stop_code: text(detail, "stopCode"),
        stopped_reason: text(detail, "stoppedReason"),
        containers,
        started: get(detail, "startedAt").and_then(parse_time),
        stopped: get(detail, "stoppedAt").and_then(parse_time),
    })
}

/// A stop is an error when the task failed to start, the reason says something failed (health
/// checks, an image pull), or a container exited non-zero or with a reason while nobody asked
/// the task to stop. A scale-in, a deployment replacing tasks or a user's stop is not, even
/// though containers then exit with 143 after `SIGTERM`.
pub fn stopped_with_error(task: &Task) -> bool {
    let code = task.stop_code.as_deref().unwrap_or("");
    let reason = task
        .stopped_reason
        .as_deref()
        .unwrap_or("")
        .to_ascii_lowercase();
    if code == "TaskFailedToStart" || reason.contains("fail") || reason.contains("error") {
        return true;
    }
    let deliberate = matches!(
        code,
        "UserInitiated" | "ServiceSchedulerInitiated" | "SpotInterruption" | "TerminationNotice"
    );
    !deliberate
        && task.containers.iter().any(|c| {
            c.exit_code.is_some_and(|e| e != 0) || (c.exit_code.is_none() && c.reason.is_some())
        })
}

/// `(cluster, service)` of an ECS service ARN (`service/cluster/name`, or the old
/// `service/name`).
fn service_of(arn: &str) -> Option<(Option<String>, Option<String>)> {
    let resource = arn_resource(arn).strip_prefix("service/")?;
    Some(match resource.split_once('/') {
        Some((cluster, name)) => (Some(cluster.to_string()), Some(name.to_string())),
        None => (None, Some(resource.to_string())),
    })
}

fn last_segment(arn: &str) -> String {
    arn_resource(arn)
        .rsplit('/')
        .next()
        .unwrap_or(arn)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse_json(detail_type: &str, resources: &[&str], detail: Value) -> Option<EcsEvent> {
        let meta = EventMeta {
            detail_type: detail_type.into(),
            source: Some("aws.ecs".into()),
            resources: resources.iter().map(|r| r.to_string()).collect(),
            ..EventMeta::default()
        };
        parse(&meta, detail.as_object().unwrap())
    }

    const SERVICE: &str = "arn:aws:ecs:us-west-2:111122223333:service/prod/shop";

    #[test]
    fn deployments_and_their_rollbacks() {
        let failed = parse_json(
            "ECS Deployment State Change",
            &[SERVICE],
            json!({"eventType": "ERROR", "eventName": "SERVICE_DEPLOYMENT_FAILED",
                   "deploymentId": "ecs-svc/123", "reason": "ECS deployment circuit breaker: task failed to start."}),
        )
        .unwrap();
        assert_eq!(failed.status, "FAILED");
        assert_eq!(
            (failed.cluster.as_deref(), failed.service.as_deref()),
            (Some("prod"), Some("shop"))
        );
        assert!(!failed.rollback);
        let rolling_back = parse_json(
            "ECS Deployment State Change",
            &["arn:aws:ecs:us-west-2:1:service/shop"],
            json!({"eventName": "SERVICE_DEPLOYMENT_IN_PROGRESS",
                   "reason": "ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/122."}),
        )
        .unwrap();
        assert!(rolling_back.rollback);
        assert_eq!(
            (rolling_back.cluster, rolling_back.status.as_str()),
            (None, "IN_PROGRESS")
        );
        let done = parse_json(
            "ECS Deployment State Change",
            &[],
            json!({"eventName": "SERVICE_DEPLOYMENT_COMPLETED"}),
        )
        .unwrap();
        assert_eq!(done.status, "SUCCEEDED");
        assert!(parse_json("ECS Deployment State Change", &[], json!({})).is_none());
    }

    #[test]
    fn service_actions_weigh_by_event_type() {
        let status = |t: &str| {
            parse_json(
                "ECS Service Action",
                &[SERVICE],
                json!({"eventType": t, "eventName": "X",
                       "clusterArn": "arn:aws:ecs:us-west-2:1:cluster/other"}),
            )
            .unwrap()
        };
        assert_eq!(status("ERROR").status, "FAILED");
        assert_eq!(status("WARN").status, "WARNING");
        assert_eq!(status("INFO").status, "INFO");
        assert_eq!(status("INFO").cluster.as_deref(), Some("other"));
    }

    fn task_status(detail: Value) -> String {
        parse_json("ECS Task State Change", &[], detail)
            .unwrap()
            .status
    }

    #[test]
    fn only_a_stop_with_an_error_is_a_failure() {
        let arn = "arn:aws:ecs:us-west-2:1:task/prod/c13b4cb4";
        assert_eq!(
            task_status(json!({"taskArn": arn, "lastStatus": "RUNNING"})),
            "IN_PROGRESS"
        );
        assert_eq!(
            task_status(
                json!({"taskArn": arn, "lastStatus": "STOPPED", "stopCode": "EssentialContainerExited",
                "stoppedReason": "Essential container in task exited",
                "containers": [{"name": "app", "exitCode": 1}]})
            ),
            "FAILED"
        );
        assert_eq!(
            task_status(
                json!({"taskArn": arn, "lastStatus": "STOPPED", "stopCode": "EssentialContainerExited",
                "containers": [{"name": "job", "exitCode": 0}]})
            ),
            "STOPPED"
        );
        assert_eq!(
            task_status(
                json!({"taskArn": arn, "lastStatus": "STOPPED", "stopCode": "ServiceSchedulerInitiated",
                "stoppedReason": "Scaling activity initiated by (deployment ecs-svc/1)",
                "containers": [{"name": "app", "exitCode": 143}]})
            ),
            "STOPPED"
        );
        assert_eq!(
            task_status(
                json!({"taskArn": arn, "lastStatus": "STOPPED", "stopCode": "ServiceSchedulerInitiated",
                "stoppedReason": "Task failed ELB health checks in (target-group x)"})
            ),
            "FAILED"
        );
        assert_eq!(
            task_status(
                json!({"taskArn": arn, "lastStatus": "STOPPED", "stopCode": "TaskFailedToStart",
                "stoppedReason": "CannotPullContainerError: pull image manifest has been retried"})
            ),
            "FAILED"
        );
        assert!(
            parse_json(
                "ECS Task State Change",
                &[],
                json!({"lastStatus": "STOPPED"})
            )
            .is_none()
        );
        let with_group = parse_json(
            "ECS Task State Change",
            &[],
            json!({"taskArn": arn, "group": "service:shop",
                   "taskDefinitionArn": "arn:aws:ecs:us-west-2:1:task-definition/shop:7"}),
        )
        .unwrap();
        assert_eq!(with_group.service.as_deref(), Some("shop"));
        assert_eq!(
            with_group.task.unwrap().definition.as_deref(),
            Some("shop:7")
        );
        assert!(parse_json("ECS Container Instance State Change", &[], json!({})).is_none());
    }
}
