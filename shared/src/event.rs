//! The rollout event: what validate-traffic and shift-traffic publish to the notifications
//! topic, and notify-slack renders. One JSON object per SNS message; `schema` tells it apart from
//! CodeDeploy triggers and alarms arriving on the same topic.

use serde::{Deserialize, Serialize};

pub const SCHEMA: &str = "rollout-lambdas/rollout-event@1";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RolloutEvent {
    pub schema: String,
    /// The function that produced it (`validate-traffic`, `shift-traffic`).
    pub source: String,
    /// Region code, when known (for console links).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    pub outcome: Outcome,
    /// One line a person reads first.
    pub summary: String,
    /// Why it failed or rolled back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Seconds since the epoch.
    pub time: u64,
    #[serde(flatten)]
    pub detail: RolloutDetail,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Succeeded,
    InProgress,
    Failed,
    RolledBack,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum RolloutDetail {
    Validation(ValidationDetail),
    Shift(ShiftDetail),
    /// A rollout holds at a pause until a person approves or rejects it.
    Approval(ApprovalDetail),
    /// After a completed rollout, blue's Auto Scaling group was scaled in (or refused to be).
    ScaleDown(ScaleDownDetail),
}

/// The clean-up after a completed rollout: blue's Auto Scaling group set to a smaller size.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ScaleDownDetail {
    /// The listener or listener-rule ARN whose forward action was shifted.
    pub target_arn: String,
    pub blue_target_group: String,
    pub green_target_group: String,
    pub auto_scaling_group: String,
    /// The group's desired capacity before; absent when it could not be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired_before: Option<i32>,
    /// The size asked for.
    pub desired_after: i32,
    /// Written now (false: refused, or already at that size).
    pub scaled: bool,
}

/// A pause in a rollout: the step it holds at, how long it waits for a person, and the exact
/// commands that answer it (the Step Functions task token is in them).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ApprovalDetail {
    /// The listener or listener-rule ARN whose forward action is shifted.
    pub target_arn: String,
    pub blue_target_group: String,
    pub green_target_group: String,
    pub strategy: String,
    /// The step that waits for the approval (1-based, as in [`ShiftDetail`]).
    pub step: u32,
    pub total_steps: u32,
    /// Green's share while the rollout holds.
    pub green_percent: f64,
    /// The share the approved step moves green to.
    pub next_green_percent: f64,
    /// How long the pause waits (after `time_scale`), and what happens then: `rollback`,
    /// `promote` or `stop`.
    pub timeout_seconds: u64,
    pub on_timeout: String,
    /// The Step Functions execution that waits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_arn: Option<String>,
    /// `aws stepfunctions send-task-success …` and `send-task-failure …`, ready to run.
    pub approve_command: String,
    pub reject_command: String,
}

/// The verdict of a lifecycle-hook validation and its evidence.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ValidationDetail {
    pub deployment_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_group: Option<String>,
    /// The status reported to CodeDeploy.
    pub hook_status: HookStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(default)]
    pub requests: u32,
    #[serde(default)]
    pub passed: u32,
    #[serde(default)]
    pub failed: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p50_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p95_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ms: Option<u64>,
    /// The first few failures, already short.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<String>,
}

/// One step of a weighted traffic shift.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ShiftDetail {
    /// The listener or listener-rule ARN whose forward action is shifted.
    pub target_arn: String,
    pub blue_target_group: String,
    pub green_target_group: String,
    /// The strategy as the user named it (`Canary10Percent5Minutes`, `custom`, …).
    pub strategy: String,
    /// 1-based; `total_steps + 1` is the gate check after the final bake.
    pub step: u32,
    pub total_steps: u32,
    pub green_percent: f64,
    pub status: ShiftStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_wait_seconds: Option<u64>,
}

/// The verdict a lifecycle hook reports: the only two values CodeDeploy accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum HookStatus {
    Succeeded,
    #[default]
    Failed,
}

impl HookStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            HookStatus::Succeeded => "Succeeded",
            HookStatus::Failed => "Failed",
        }
    }
}

/// Where one shift-traffic step left the rollout. The one list of these: shift-traffic
/// publishes them and notify-slack renders them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ShiftStatus {
    /// A step is in place; the rollout waits for the next one.
    #[default]
    Shifted,
    /// All traffic on green, the final gates passed.
    Completed,
    /// All traffic back on blue.
    RolledBack,
    /// Someone else changed the weights; stopped where they were.
    Drift,
    /// Stopped with the weights where they are (unreadable alarms, a write another writer
    /// overtook, a refused rollback).
    Stopped,
    /// A status from a newer release, read by an older notify-slack.
    #[serde(other)]
    Unknown,
}

impl ShiftStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ShiftStatus::Shifted => "Shifted",
            ShiftStatus::Completed => "Completed",
            ShiftStatus::RolledBack => "RolledBack",
            ShiftStatus::Drift => "Drift",
            ShiftStatus::Stopped => "Stopped",
            ShiftStatus::Unknown => "Unknown",
        }
    }

    /// The outcome a person cares about.
    pub fn outcome(self) -> Outcome {
        match self {
            ShiftStatus::Shifted | ShiftStatus::Unknown => Outcome::InProgress,
            ShiftStatus::Completed => Outcome::Succeeded,
            ShiftStatus::RolledBack => Outcome::RolledBack,
            ShiftStatus::Drift | ShiftStatus::Stopped => Outcome::Failed,
        }
    }
}

/// "step 2 of 3": the check after the final bake counts as the last step, so every message
/// about one rollout uses the same numbers.
pub fn step_label(step: u32, total_steps: u32) -> String {
    format!("step {} of {total_steps}", step.min(total_steps))
}

impl ShiftDetail {
    pub fn step_label(&self) -> String {
        step_label(self.step, self.total_steps)
    }
}

impl RolloutEvent {
    pub fn new(source: &str, outcome: Outcome, summary: String, detail: RolloutDetail) -> Self {
        Self {
            schema: SCHEMA.to_string(),
            source: source.to_string(),
            region: std::env::var("AWS_REGION").ok().filter(|r| !r.is_empty()),
            outcome,
            summary,
            reason: None,
            time: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or_default(),
            detail,
        }
    }

    pub fn with_reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    /// Parses a message that claims this schema; `None` for any other JSON or text.
    pub fn parse(message: &str) -> Option<Self> {
        let value: serde_json::Value = serde_json::from_str(message).ok()?;
        if value.get("schema")?.as_str()? != SCHEMA {
            return None;
        }
        serde_json::from_value(value).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_check_after_the_bake_counts_as_the_last_step() {
        assert_eq!(step_label(1, 2), "step 1 of 2");
        assert_eq!(step_label(2, 2), "step 2 of 2");
        assert_eq!(step_label(3, 2), "step 2 of 2");
    }

    #[test]
    fn round_trips_with_kind_tag() {
        let event = RolloutEvent::new(
            "shift-traffic",
            Outcome::InProgress,
            "10% to green".into(),
            RolloutDetail::Shift(ShiftDetail {
                target_arn: "arn:listener".into(),
                strategy: "Canary10Percent5Minutes".into(),
                step: 1,
                total_steps: 2,
                green_percent: 10.0,
                status: ShiftStatus::Shifted,
                ..Default::default()
            }),
        );
        let json = serde_json::to_string(&event).unwrap();
        assert!(json.contains(r#""kind":"shift""#), "{json}");
        assert_eq!(RolloutEvent::parse(&json), Some(event));
    }

    #[test]
    fn other_messages_are_not_rollout_events() {
        assert_eq!(RolloutEvent::parse(r#"{"status":"SUCCEEDED"}"#), None);
        assert_eq!(RolloutEvent::parse("plain text"), None);
        assert_eq!(RolloutEvent::parse(r#"{"schema":"other"}"#), None);
    }
}
