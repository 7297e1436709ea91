//! How a notification reads at a glance: its tone (the colour), the emoji for a status, and
//! whether it calls people in with the configured mention. Decided here and nowhere else, so
//! "someone should look at this" means the same for every kind of notification.

use rollout_kit::Outcome;

use crate::message::Notification;

/// How a status reads; it picks the colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Good,
    Bad,
    Warning,
    Progress,
    Neutral,
}

pub fn tone(canonical: &str) -> Tone {
    match canonical {
        "SUCCEEDED" | "READY" | "OK" => Tone::Good,
        "FAILED" | "ALARM" | "TIMED_OUT" | "FAULT" | "CLIENT_ERROR" => Tone::Bad,
        "STOPPED" | "ROLLED_BACK" | "INSUFFICIENT_DATA" | "SKIPPED" | "CANCELED" | "STOPPING"
        | "WARNING" => Tone::Warning,
        "CREATED" | "QUEUED" | "IN_PROGRESS" | "BAKING" | "PENDING" | "RESUMED" => Tone::Progress,
        _ => Tone::Neutral,
    }
}

/// The attachment's side bar.
pub fn color(tone: Tone) -> &'static str {
    match tone {
        Tone::Good => "#2eb67d",
        Tone::Bad => "#e01e5a",
        Tone::Warning => "#ecb22e",
        Tone::Progress => "#36c5f0",
        Tone::Neutral => "#9e9e9e",
    }
}

/// The icon for a canonical status; an unknown one reads as a question mark.
pub fn emoji(status: &str) -> &'static str {
    match status {
        "SUCCEEDED" | "OK" => ":white_check_mark:",
        "READY" => ":large_green_circle:",
        "FAILED" => ":x:",
        "ALARM" => ":rotating_light:",
        "STOPPED" => ":octagonal_sign:",
        "ROLLED_BACK" => ":rewind:",
        "CREATED" | "QUEUED" => ":rocket:",
        "IN_PROGRESS" | "BAKING" | "PENDING" => ":hourglass_flowing_sand:",
        "SKIPPED" => ":fast_forward:",
        "TIMED_OUT" => ":alarm_clock:",
        "FAULT" | "CLIENT_ERROR" => ":boom:",
        "CANCELED" => ":no_entry_sign:",
        "STOPPING" => ":octagonal_sign:",
        "SUPERSEDED" => ":twisted_rightwards_arrows:",
        "RESUMED" => ":arrows_counterclockwise:",
        "WARNING" => ":warning:",
        "INFO" => ":information_source:",
        _ => ":grey_question:",
    }
}

/// A status that means the thing failed: a build that timed out or hit a fault failed too.
pub fn is_failure(canonical: &str) -> bool {
    matches!(canonical, "FAILED" | "TIMED_OUT" | "FAULT" | "CLIENT_ERROR")
}

/// Whether the configured mention goes in front of this notification: only when something went
/// wrong that a person should act on. Progress, success, setup and unrecognised messages stay
/// quiet, so the mention keeps its weight.
pub fn mentions(note: &Notification) -> bool {
    match note {
        // Any rollback, even a successful one: the release it undid needs a look.
        Notification::Deployment(d) => {
            d.rollback_of.is_some() || matches!(d.status.as_str(), "FAILED" | "STOPPED")
        }
        // An instance's one bad state; a stop is its deployment's news, mentioned there.
        Notification::Instance(i) => i.status == "FAILED",
        // A composite alarm whose actions are suppressed asked not to call anyone.
        Notification::Alarm(a) => a.state == "ALARM" && a.suppressed_by.is_none(),
        Notification::Rollout(r) => matches!(r.outcome, Outcome::Failed | Outcome::RolledBack),
        // A failed pipeline, stage or action; a failed, timed-out or faulted build or phase; a
        // failed ECS deployment, an ECS service action of type ERROR, a task stopped with an
        // error; an unsuccessful Auto Scaling launch, termination or instance refresh. A
        // cancelled, superseded or stopped run, an ECS warning and a rollback in progress are
        // shown in colour but call no one.
        Notification::Pipeline(p) => is_failure(&p.status),
        Notification::Build(b) => is_failure(&b.status),
        Notification::Ecs(e) => is_failure(&e.status),
        Notification::Scaling(s) => is_failure(&s.status),
        Notification::TriggerSetup { .. } | Notification::Event(_) | Notification::Generic(_) => {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use rollout_kit::{RolloutDetail, RolloutEvent, ShiftDetail, ValidationDetail};
    use serde_json::json;

    use super::*;
    use crate::message::{
        Alarm, Deployment, Generic, GenericBody, Instance, KINDS, Via, classify, kind_of,
    };

    fn deployment(via: Via, status: &str, rollback_of: Option<&str>) -> Notification {
        Notification::Deployment(Deployment {
            via: Some(via),
            status: status.into(),
            rollback_of: rollback_of.map(str::to_string),
            ..Deployment::default()
        })
    }

    fn instance(via: Via, status: &str) -> Notification {
        Notification::Instance(Instance {
            via: Some(via),
            status: status.into(),
            ..Instance::default()
        })
    }

    fn alarm(state: &str) -> Notification {
        Notification::Alarm(Alarm {
            state: state.into(),
            ..Alarm::default()
        })
    }

    fn rollout(outcome: Outcome, shift: bool) -> Notification {
        let detail = if shift {
            RolloutDetail::Shift(ShiftDetail::default())
        } else {
            RolloutDetail::Validation(ValidationDetail::default())
        };
        Notification::Rollout(RolloutEvent::new("test", outcome, "s".into(), detail))
    }

    fn generic(body: GenericBody) -> Notification {
        Notification::Generic(Generic {
            subject: None,
            body,
        })
    }

    /// An EventBridge event through SNS, classified as notify-slack would.
    fn event(detail_type: &str, source: &str, detail: serde_json::Value) -> Notification {
        let message = json!({"version": "0", "detail-type": detail_type, "source": source,
                             "region": "us-east-1", "account": "123456789012", "detail": detail});
        classify(&message.to_string(), None, "arn:aws:sns:us-east-1:1:t")
    }

    fn pipeline(level: &str, state: &str) -> Notification {
        event(
            &format!("CodePipeline {level} Execution State Change"),
            "aws.codepipeline",
            json!({"pipeline": "shop", "stage": "Deploy", "action": "Deploy", "state": state}),
        )
    }

    fn build(phase: bool, status: &str) -> Notification {
        if phase {
            event(
                "CodeBuild Build Phase Change",
                "aws.codebuild",
                json!({"project-name": "shop", "completed-phase": "BUILD", "completed-phase-status": status}),
            )
        } else {
            event(
                "CodeBuild Build State Change",
                "aws.codebuild",
                json!({"project-name": "shop", "build-status": status}),
            )
        }
    }

    fn ecs(detail_type: &str, detail: serde_json::Value) -> Notification {
        event(detail_type, "aws.ecs", detail)
    }

    fn scaling(detail_type: &str) -> Notification {
        event(
            detail_type,
            "aws.autoscaling",
            json!({"AutoScalingGroupName": "shop"}),
        )
    }

    fn eventbridge_alarm(suppressed: bool) -> Notification {
        let mut state = json!({"value": "ALARM"});
        if suppressed {
            state["actionsSuppressedBy"] = json!("Alarm");
        }
        event(
            "CloudWatch Alarm State Change",
            "aws.cloudwatch",
            json!({"alarmName": "shop", "state": state}),
        )
    }

    #[test]
    fn mentions_only_what_went_wrong_for_every_kind() {
        use Via::{EventBridge, Trigger};
        let table = [
            (deployment(Trigger, "FAILED", None), true),
            (deployment(Trigger, "STOPPED", None), true),
            (deployment(Trigger, "SUCCEEDED", None), false),
            (deployment(Trigger, "CREATED", None), false),
            (deployment(Trigger, "IN_PROGRESS", None), false),
            (deployment(Trigger, "ROLLED_BACK", None), false),
            (deployment(Trigger, "UNKNOWN", None), false),
            (deployment(Trigger, "SUCCEEDED", Some("d-OLD")), true),
            (deployment(Trigger, "IN_PROGRESS", Some("d-OLD")), true),
            (deployment(Trigger, "FAILED", Some("d-OLD")), true),
            (deployment(EventBridge, "FAILED", None), true),
            (deployment(EventBridge, "STOPPED", None), true),
            (deployment(EventBridge, "SUCCEEDED", None), false),
            (instance(Trigger, "FAILED"), true),
            (instance(Trigger, "STOPPED"), false),
            (instance(Trigger, "SUCCEEDED"), false),
            (instance(Trigger, "SKIPPED"), false),
            (instance(EventBridge, "FAILED"), true),
            (instance(EventBridge, "SUCCEEDED"), false),
            (
                Notification::TriggerSetup {
                    trigger: Some("deploy-events".into()),
                    text: "FAILED".into(),
                },
                false,
            ),
            (alarm("ALARM"), true),
            (alarm("OK"), false),
            (alarm("INSUFFICIENT_DATA"), false),
            (alarm("FAILED"), false),
            (rollout(Outcome::Failed, false), true),
            (rollout(Outcome::RolledBack, true), true),
            (rollout(Outcome::Failed, true), true),
            (rollout(Outcome::Succeeded, false), false),
            (rollout(Outcome::InProgress, true), false),
            (generic(GenericBody::Text("FAILED".into())), false),
            (
                generic(GenericBody::Json(json!({"status": "FAILED"}))),
                false,
            ),
            (eventbridge_alarm(false), true),
            (eventbridge_alarm(true), false),
            (pipeline("Pipeline", "FAILED"), true),
            (pipeline("Pipeline", "STARTED"), false),
            (pipeline("Pipeline", "SUCCEEDED"), false),
            (pipeline("Pipeline", "SUPERSEDED"), false),
            (pipeline("Pipeline", "CANCELED"), false),
            (pipeline("Pipeline", "STOPPED"), false),
            (pipeline("Stage", "FAILED"), true),
            (pipeline("Stage", "RESUMED"), false),
            (pipeline("Action", "FAILED"), true),
            (pipeline("Action", "STARTED"), false),
            (build(false, "FAILED"), true),
            (build(false, "TIMED_OUT"), true),
            (build(false, "FAULT"), true),
            (build(false, "STOPPED"), false),
            (build(false, "SUCCEEDED"), false),
            (build(true, "CLIENT_ERROR"), true),
            (build(true, "SUCCEEDED"), false),
            (
                ecs(
                    "ECS Deployment State Change",
                    json!({"eventName": "SERVICE_DEPLOYMENT_FAILED"}),
                ),
                true,
            ),
            (
                ecs(
                    "ECS Deployment State Change",
                    json!({"eventName": "SERVICE_DEPLOYMENT_COMPLETED"}),
                ),
                false,
            ),
            (
                ecs(
                    "ECS Deployment State Change",
                    json!({"eventName": "SERVICE_DEPLOYMENT_IN_PROGRESS", "reason": "rolling back to ecs-svc/1"}),
                ),
                false,
            ),
            (
                ecs(
                    "ECS Service Action",
                    json!({"eventName": "SERVICE_TASK_PLACEMENT_FAILURE", "eventType": "ERROR"}),
                ),
                true,
            ),
            (
                ecs(
                    "ECS Service Action",
                    json!({"eventName": "SERVICE_TASK_START_IMPAIRED", "eventType": "WARN"}),
                ),
                false,
            ),
            (
                ecs(
                    "ECS Service Action",
                    json!({"eventName": "SERVICE_STEADY_STATE", "eventType": "INFO"}),
                ),
                false,
            ),
            (
                ecs(
                    "ECS Task State Change",
                    json!({"taskArn": "t/1", "lastStatus": "STOPPED",
                 "containers": [{"name": "app", "exitCode": 1}]}),
                ),
                true,
            ),
            (
                ecs(
                    "ECS Task State Change",
                    json!({"taskArn": "t/1", "lastStatus": "STOPPED",
                 "stopCode": "UserInitiated"}),
                ),
                false,
            ),
            (scaling("EC2 Instance Launch Unsuccessful"), true),
            (scaling("EC2 Instance Terminate Unsuccessful"), true),
            (scaling("EC2 Instance Launch Successful"), false),
            (scaling("EC2 Instance-launch Lifecycle Action"), false),
            (scaling("EC2 Auto Scaling Instance Refresh Failed"), true),
            (
                scaling("EC2 Auto Scaling Instance Refresh Cancelled"),
                false,
            ),
            (
                event("Object Created", "aws.s3", json!({"status": "FAILED"})),
                false,
            ),
        ];
        for (note, expected) in &table {
            assert_eq!(mentions(note), *expected, "{note:?}");
        }
        // The table must name every kind the classifier can produce.
        let mut kinds: Vec<&str> = table.iter().map(|(note, _)| kind_of(note)).collect();
        kinds.sort();
        kinds.dedup();
        let mut all = KINDS.to_vec();
        all.sort();
        assert_eq!(kinds, all);
    }

    #[test]
    fn tones_colours_and_emoji() {
        assert_eq!(tone("FAILED"), Tone::Bad);
        assert_eq!(tone("ALARM"), Tone::Bad);
        assert_eq!(tone("ROLLED_BACK"), Tone::Warning);
        assert_eq!(tone("IN_PROGRESS"), Tone::Progress);
        assert_eq!(tone("UNKNOWN"), Tone::Neutral);
        assert_eq!(color(tone("SUCCEEDED")), "#2eb67d");
        assert_eq!(color(Tone::Bad), "#e01e5a");
        assert_eq!(emoji("FAILED"), ":x:");
        assert_eq!(emoji("INSUFFICIENT_DATA"), ":grey_question:");
        assert_eq!(tone("TIMED_OUT"), Tone::Bad);
        assert_eq!(tone("CANCELED"), Tone::Warning);
        assert_eq!(tone("SUPERSEDED"), Tone::Neutral);
        assert!(is_failure("FAULT") && !is_failure("STOPPED"));
        // Every status the filter knows has a tone and an icon of its own or a neutral one.
        for status in crate::status::KNOWN {
            let _ = (tone(status), emoji(status));
        }
    }
}
