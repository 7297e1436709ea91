//! The state machine's wait for a person: `{"await_approval": {"task_token", "rollout"}}`, sent
//! by its `lambda:invoke.waitForTaskToken` task with the output of the step a pause holds. The
//! invocation keeps the lease through the pause and publishes the approval event with the
//! commands that answer it; Step Functions then waits for `send-task-success` or
//! `send-task-failure` (or the pause's timeout). Writes no weights.

use serde_json::Value;

use crate::actions;
use crate::error::Error;
use crate::handler::Step;
use crate::notify;
use crate::output::{Output, Status};
use crate::pause;
use crate::ports::{Listeners, Ports};
use crate::spec::{Input, invalid};

/// The key of the wrapper the state machine sends.
pub const KEY: &str = "await_approval";
/// Step Functions task tokens are at most 1,024 characters.
const MAX_TOKEN: usize = 1024;

/// The rollout and the task token of a wrapped payload; any other payload as it is.
pub fn unwrap(payload: Value) -> Result<(Value, Option<String>), Error> {
    let Value::Object(mut object) = payload else {
        return Ok((payload, None));
    };
    let Some(wrapped) = object.remove(KEY) else {
        return Ok((Value::Object(object), None));
    };
    if !object.is_empty() {
        return Err(invalid(format!(
            "{KEY} comes alone: {{\"{KEY}\": {{\"task_token\", \"rollout\"}}}}"
        )));
    }
    let token = wrapped
        .get("task_token")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.len() <= MAX_TOKEN)
        .ok_or_else(|| {
            invalid(format!(
                "{KEY}.task_token must be the task token ($$.Task.Token)"
            ))
        })?
        .to_string();
    let rollout = wrapped
        .get("rollout")
        .filter(|r| r.is_object())
        .cloned()
        .ok_or_else(|| {
            invalid(format!(
                "{KEY}.rollout must be the output of the step that waits"
            ))
        })?;
    Ok((rollout, Some(token)))
}

/// Publishes the approval event for the step `input.approval` names and keeps the lease through
/// the pause. Step Functions ignores the answer; an error fails the task (and the state machine
/// catches it like a step's).
pub(crate) async fn request_approval<P: Ports>(
    ctx: &mut Step<'_, P>,
    input: &Input,
    task_token: &str,
) -> Result<Output, Error> {
    let Some(approval) = input.approval.clone() else {
        return Err(invalid(
            "await_approval needs the output of a step awaiting approval (with approval)",
        ));
    };
    if approval.step != input.step {
        return Err(invalid(format!(
            "approval is for step {} but the rollout is at step {}",
            approval.step, input.step
        )));
    }
    let (spec, plan) = (ctx.spec, ctx.plan);
    let index = approval.step as usize;
    let Some(next) = plan.get(index) else {
        return Err(invalid(format!("step {index} is past the end of the plan")));
    };
    ctx.hold().await?;
    ctx.still_held(approval.timeout_seconds).await?;
    let found = ctx.deps.elb.read_actions(&spec.target, ctx.until).await?;
    let current = actions::locate(&found, spec.target.arn(), &spec.blue, &spec.green)?.weights;
    let (approve, reject) = pause::commands(task_token);
    let execution = input.execution.as_ref().map(|e| e.id.clone());
    let event = notify::approval_event(
        spec,
        notify::ApprovalReport {
            approval: &approval,
            total_steps: plan.len() as u32,
            current,
            next: next.weights,
            execution_arn: execution,
            approve_command: approve,
            reject_command: reject,
        },
    );
    ctx.publish_event(event).await;
    tracing::info!(
        step = index,
        timeout = approval.timeout_seconds,
        on_timeout = approval.on_timeout.as_str(),
        "approval requested"
    );
    let mut out = Output::new(spec, plan, Status::ApprovalRequested, current);
    out.action = crate::spec::Action::Step;
    out.step = approval.step;
    out.approval = Some(approval);
    Ok(out.held_by(&ctx.rollout))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_wrapped_payload_gives_the_rollout_and_the_token() {
        let (rollout, token) =
            unwrap(json!({KEY: {"task_token": "tok", "rollout": {"action": "step"}}})).unwrap();
        assert_eq!(rollout, json!({"action": "step"}));
        assert_eq!(token.as_deref(), Some("tok"));
        let (plain, none) = unwrap(json!({"action": "start"})).unwrap();
        assert_eq!(plain, json!({"action": "start"}));
        assert!(none.is_none());
        for bad in [
            json!({KEY: {"rollout": {}}}),
            json!({KEY: {"task_token": "", "rollout": {}}}),
            json!({KEY: {"task_token": "t"}}),
            json!({KEY: {"task_token": "t", "rollout": {}}, "action": "step"}),
        ] {
            assert!(unwrap(bad.clone()).is_err(), "{bad}");
        }
    }
}
