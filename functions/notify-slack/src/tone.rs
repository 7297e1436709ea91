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
        "FAILED" | "ALARM" => Tone::Bad,
        "STOPPED" | "ROLLED_BACK" | "INSUFFICIENT_DATA" | "SKIPPED" => Tone::Warning,
        "CREATED" | "QUEUED" | "IN_PROGRESS" | "BAKING" | "PENDING" => Tone::Progress,
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
        _ => ":grey_question:",
    }
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
        Notification::Alarm(a) => a.state == "ALARM",
        Notification::Rollout(r) => matches!(r.outcome, Outcome::Failed | Outcome::RolledBack),
        Notification::TriggerSetup { .. } | Notification::Generic(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use rollout_kit::{RolloutDetail, RolloutEvent, ShiftDetail, ValidationDetail};
    use serde_json::json;

    use super::*;
    use crate::message::{Alarm, Deployment, Generic, GenericBody, Instance, Via, kind_of};

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
        ];
        for (note, expected) in &table {
            assert_eq!(mentions(note), *expected, "{note:?}");
        }
        // The table must name every kind the classifier can produce.
        let mut kinds: Vec<&str> = table.iter().map(|(note, _)| kind_of(note)).collect();
        kinds.sort();
        kinds.dedup();
        assert_eq!(
            kinds,
            [
                "cloudwatch_alarm",
                "codedeploy_deployment",
                "codedeploy_instance",
                "codedeploy_trigger_setup",
                "eventbridge_deployment",
                "eventbridge_instance",
                "generic",
                "rollout_event",
            ]
        );
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
    }
}
