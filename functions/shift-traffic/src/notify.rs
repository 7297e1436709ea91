//! Rollout events for the notifications topic, one per step. Published through
//! `rollout_kit::Publisher`: bounded, and a notification never changes what a step does.

use rollout_kit::{
    ApprovalDetail, Outcome, RolloutDetail, RolloutEvent, ScaleDownDetail, ShiftDetail, ShiftStatus,
};

use crate::pause::Approval;
use crate::plan::{Weights, percent};
use crate::scale_down::ScaleDown;
use crate::spec::Spec;

pub const SOURCE: &str = "shift-traffic";

/// What one step did, for the event.
#[derive(Debug, Clone, PartialEq)]
pub struct StepReport {
    pub status: ShiftStatus,
    /// 1-based step number; `total_steps + 1` is the check after the bake.
    pub step: u32,
    pub total_steps: u32,
    pub green_percent: f64,
    pub next_wait_seconds: Option<u64>,
    pub reason: Option<String>,
}

/// A pause, for its event.
pub struct ApprovalReport<'a> {
    pub approval: &'a Approval,
    pub total_steps: u32,
    pub current: Weights,
    /// The weights the approved step writes.
    pub next: Weights,
    pub execution_arn: Option<String>,
    pub approve_command: String,
    pub reject_command: String,
}

/// "Approval needed": the step that waits, the shares before and after it, the commands.
pub fn approval_event(spec: &Spec, report: ApprovalReport<'_>) -> RolloutEvent {
    let share = |w: Weights| w.green_share().map(percent).unwrap_or(0.0);
    let (now, next) = (share(report.current), share(report.next));
    let approval = report.approval;
    let summary = format!(
        "approval needed to go from {now} % to {next} % on green ({}) on {}",
        rollout_kit::step_label(approval.step + 1, report.total_steps),
        short(spec)
    );
    RolloutEvent::new(
        SOURCE,
        Outcome::InProgress,
        summary,
        RolloutDetail::Approval(ApprovalDetail {
            target_arn: spec.target.arn().to_string(),
            blue_target_group: spec.blue.clone(),
            green_target_group: spec.green.clone(),
            strategy: spec.strategy_name.clone(),
            step: approval.step + 1,
            total_steps: report.total_steps,
            green_percent: now,
            next_green_percent: next,
            timeout_seconds: approval.timeout_seconds,
            on_timeout: approval.on_timeout.as_str().to_string(),
            execution_arn: report.execution_arn,
            approve_command: report.approve_command,
            reject_command: report.reject_command,
        }),
    )
}

/// The clean-up's event: blue's group scaled in, already at its size, or left alone (why).
pub fn scale_down_event(
    spec: &Spec,
    request: &ScaleDown,
    desired_before: Option<i32>,
    scaled: bool,
    outcome: Outcome,
    reason: Option<String>,
) -> RolloutEvent {
    let desired_after = i32::try_from(request.desired_capacity).unwrap_or(i32::MAX);
    let summary = match (outcome, scaled) {
        (Outcome::Succeeded, true) => format!(
            "blue's Auto Scaling group {} scaled in to {desired_after} after the rollout on {}",
            request.auto_scaling_group,
            short(spec)
        ),
        (Outcome::Succeeded, false) => format!(
            "blue's Auto Scaling group {} was already at {desired_after} or less after the rollout on {}",
            request.auto_scaling_group,
            short(spec)
        ),
        _ => format!(
            "blue's Auto Scaling group {} was not scaled in after the rollout on {}",
            request.auto_scaling_group,
            short(spec)
        ),
    };
    let mut event = RolloutEvent::new(
        SOURCE,
        outcome,
        summary,
        RolloutDetail::ScaleDown(ScaleDownDetail {
            target_arn: spec.target.arn().to_string(),
            blue_target_group: spec.blue.clone(),
            green_target_group: spec.green.clone(),
            auto_scaling_group: request.auto_scaling_group.clone(),
            desired_before,
            desired_after,
            scaled,
        }),
    );
    event.reason = reason;
    event
}

pub fn event(spec: &Spec, report: &StepReport) -> RolloutEvent {
    let summary = match report.status {
        ShiftStatus::Completed => {
            format!("all traffic on green, rollout complete on {}", short(spec))
        }
        ShiftStatus::RolledBack => format!("rolled back to blue on {}", short(spec)),
        ShiftStatus::Stopped => {
            format!("stopped with the weights where they are on {}", short(spec))
        }
        ShiftStatus::Drift => format!(
            "stopped: weights changed by someone else on {}",
            short(spec)
        ),
        ShiftStatus::Shifted | ShiftStatus::Unknown => format!(
            "{} % to green ({}) on {}",
            report.green_percent,
            rollout_kit::step_label(report.step, report.total_steps),
            short(spec)
        ),
    };
    let event = RolloutEvent::new(
        SOURCE,
        report.status.outcome(),
        summary,
        RolloutDetail::Shift(ShiftDetail {
            target_arn: spec.target.arn().to_string(),
            blue_target_group: spec.blue.clone(),
            green_target_group: spec.green.clone(),
            strategy: spec.strategy_name.clone(),
            step: report.step,
            total_steps: report.total_steps,
            green_percent: report.green_percent,
            status: report.status,
            next_wait_seconds: report.next_wait_seconds,
        }),
    );
    match &report.reason {
        Some(reason) => event.with_reason(reason.clone()),
        None => event,
    }
}

/// `app/web/50dc6c495c0c9188/…` of a listener or rule ARN: what people recognise.
fn short(spec: &Spec) -> &str {
    let arn = spec.target.arn();
    arn.split_once(":listener-rule/")
        .or_else(|| arn.split_once(":listener/"))
        .map(|(_, rest)| rest)
        .unwrap_or(arn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_follow_the_shared_schema() {
        let (_, spec) = crate::spec::parse(json!({
            "action": "start",
            "listener_arn": "arn:aws:elasticloadbalancing:us-east-1:1:listener/app/web/1/2",
            "blue_target_group_arn": "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/b/1",
            "green_target_group_arn": "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/g/2",
            "strategy": "Canary10Percent5Minutes"
        }))
        .unwrap();
        let shifted = event(
            &spec,
            &StepReport {
                status: ShiftStatus::Shifted,
                step: 1,
                total_steps: 2,
                green_percent: 10.0,
                next_wait_seconds: Some(300),
                reason: None,
            },
        );
        assert_eq!(shifted.outcome, rollout_kit::Outcome::InProgress);
        assert_eq!(
            shifted.summary,
            "10 % to green (step 1 of 2) on app/web/1/2"
        );
        let parsed = RolloutEvent::parse(&serde_json::to_string(&shifted).unwrap()).unwrap();
        let RolloutDetail::Shift(detail) = parsed.detail else {
            panic!("not a shift event");
        };
        assert_eq!(detail.strategy, "Canary10Percent5Minutes");
        assert_eq!(detail.next_wait_seconds, Some(300));

        let rolled_back = event(
            &spec,
            &StepReport {
                status: ShiftStatus::RolledBack,
                step: 2,
                total_steps: 2,
                green_percent: 0.0,
                next_wait_seconds: None,
                reason: Some("alarm errors in ALARM".into()),
            },
        );
        assert_eq!(rolled_back.outcome, rollout_kit::Outcome::RolledBack);
        assert_eq!(rolled_back.reason.as_deref(), Some("alarm errors in ALARM"));
    }
}
