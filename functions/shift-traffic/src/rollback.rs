//! Rolling back: all traffic to blue, over weights this rollout could have written, holding the
//! lease (the rollout's own, or taken over from it when a person aborts).

use aws_sdk_elasticloadbalancingv2::types::Action as ElbAction;
use rollout_kit::ShiftStatus;
use serde_json::Value;

use crate::actions::{self, Located};
use crate::decide::rollback_allowed;
use crate::error::Error;
use crate::handler::{Step, write_verified};
use crate::output::{Output, Status, report};
use crate::plan::Weights;
use crate::ports::{LeaseStore, Listeners, Ports};
use crate::spec::Input;

/// Writes all traffic back to blue over `actions` (read just before), then releases the lease.
pub(crate) async fn roll_back<P: Ports>(
    ctx: &mut Step<'_, P>,
    actions: &[ElbAction],
    located: &Located,
    step: u32,
    reason: String,
) -> Result<Output, Error> {
    let spec = ctx.spec;
    tracing::warn!(reason, "rolling back to blue");
    let weights = if located.weights.is_all_blue() {
        located.weights
    } else {
        ctx.still_held(0).await?;
        let written =
            actions::with_weights(actions, located, &spec.blue, &spec.green, Weights::ALL_BLUE);
        if let Err(err) = write_verified(ctx, &written, located.index).await {
            return Err(match err {
                Error::WriteNotVerified { .. } => {
                    ctx.stop(ShiftStatus::Stopped, step as usize, located.weights, err)
                        .await
                }
                other => other,
            });
        }
        tracing::info!(
            from_blue = located.weights.blue,
            from_green = located.weights.green,
            to_blue = Weights::ALL_BLUE.blue,
            to_green = Weights::ALL_BLUE.green,
            "rolled back: weights written and read back"
        );
        Weights::ALL_BLUE
    };
    let mut out = Output::new(spec, ctx.plan, Status::RolledBack, weights);
    out.done = true;
    out.step = step;
    out.reason = Some(reason);
    ctx.release().await;
    ctx.publish(report(
        &out,
        ShiftStatus::RolledBack,
        step.saturating_add(1),
        None,
    ))
    .await;
    Ok(out.held_by(&ctx.rollout))
}

/// `rollback`: from the state machine (the rollout's own lease, handed on) or from a person
/// (no lease: takes it over, so the running rollout's next step stops without writing).
pub(crate) async fn manual_rollback<P: Ports>(
    ctx: &mut Step<'_, P>,
    step: u32,
    reason: String,
    force: bool,
) -> Result<Output, Error> {
    let hold_for = ctx.deps.leases.hold_for(0);
    match &ctx.rollout.lease {
        Some(lease) => {
            // A pending request changes nothing: this is a rollback already.
            ctx.deps
                .leases
                .renew(ctx.target(), lease, hold_for, ctx.until)
                .await?;
        }
        None => {
            let lease = ctx
                .deps
                .leases
                .take_over(ctx.target(), &ctx.rollout.id, hold_for, ctx.until)
                .await?;
            tracing::warn!(
                rollout_id = lease.holder,
                lease_version = lease.version,
                "lease taken over for a rollback"
            );
            ctx.rollout.lease = Some(lease);
        }
    }
    let spec = ctx.spec;
    let actions = ctx.deps.elb.read_actions(&spec.target, ctx.until).await?;
    let located = actions::locate(&actions, spec.target.arn(), &spec.blue, &spec.green)?;
    if !rollback_allowed(ctx.plan, located.weights, force) {
        let err = Error::RollbackRefused {
            target: spec.target.arn().to_string(),
            found_blue: located.weights.blue,
            found_green: located.weights.green,
        };
        return Err(ctx
            .stop(ShiftStatus::Stopped, step as usize, located.weights, err)
            .await);
    }
    roll_back(ctx, &actions, &located, step, reason).await
}

pub(crate) fn rollback_reason(input: &Input) -> String {
    if let Some(reason) = input.reason.as_deref().filter(|r| !r.trim().is_empty()) {
        return reason.trim().to_string();
    }
    // A Catch hands over {"Error", "Cause"}; a Lambda error's Cause is its JSON error body.
    if let Some(error) = &input.error {
        let name = error
            .get("Error")
            .and_then(Value::as_str)
            .unwrap_or("error");
        if let (Some(approval), "States.Timeout") = (&input.approval, name) {
            return format!(
                "nobody approved step {} within {} s (on_timeout: rollback)",
                approval.step + 1,
                approval.timeout_seconds
            );
        }
        let cause = error.get("Cause").and_then(Value::as_str).unwrap_or("");
        let message = serde_json::from_str::<Value>(cause)
            .ok()
            .and_then(|c| {
                c.get("errorMessage")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .unwrap_or_else(|| cause.to_string());
        let text = format!("{name}: {message}");
        return text.chars().take(500).collect();
    }
    "rollback requested".into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec;

    #[test]
    fn catch_errors_become_a_readable_reason() {
        let value = serde_json::json!({
            "action": "rollback",
            "listener_arn": "arn:aws:elasticloadbalancing:us-east-1:1:listener/app/web/1/2",
            "blue_target_group_arn": "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/b/1",
            "green_target_group_arn": "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/g/2",
            "strategy": "AllAtOnce",
            "error": {"Error": "AlarmUnreadable", "Cause": "{\"errorType\":\"AlarmUnreadable\",\"errorMessage\":\"cannot read the watched alarms: no such alarm: x\"}"}
        });
        let (input, _) = spec::parse(value).unwrap();
        assert_eq!(
            rollback_reason(&input),
            "AlarmUnreadable: cannot read the watched alarms: no such alarm: x"
        );
    }
}
