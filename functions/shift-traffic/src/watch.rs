//! `watch`: during a wait, the gates again, without writing weights. The state machine invokes
//! it every watch interval (`waits`); a failed gate or a person's abort sends the rollout to its
//! rollback at once, a person's promote to a step that goes to 100 %.
//!
//! It reads the alarms and green's health, not the listener (drift is the next step's to find),
//! and renews the lease until the next invocation: that renewal is the fencing check (a rollout
//! whose lease was taken over stops here with `LeaseLost`), it hands back a pending promote or
//! abort, and a stopped execution frees the listener one interval plus the grace after its last
//! watch rather than after its whole wait.

use rollout_kit::ShiftStatus;

use crate::error::Error;
use crate::handler::Step;
use crate::lease::RequestKind;
use crate::output::{Output, Status, step_wait};
use crate::plan::Weights;
use crate::ports::Ports;
use crate::shift::{abort_reason, failed_gate};
use crate::spec::Action;
use crate::waits::{remaining_seconds, share_in_place, watch_interval};

/// `index` is the step that follows the wait (as the step's output said); `until_ms` when the
/// wait ends.
pub(crate) async fn watch<P: Ports>(
    ctx: &mut Step<'_, P>,
    index: usize,
    until_ms: u64,
) -> Result<Output, Error> {
    let (spec, plan) = (ctx.spec, ctx.plan);
    let n = plan.len();
    let Some(share) = share_in_place(plan, index).filter(|_| index <= n) else {
        return Err(Error::InvalidSpec(format!(
            "a watch belongs to the wait after a step, and step {index} has none before it (the plan has {n} steps)"
        )));
    };
    let in_place = Weights::for_green_share(share);
    let mut out = Output::new(spec, plan, Status::Watched, in_place);
    out.step = index as u32;
    // Never longer than the step's own wait, whatever the input says.
    let remaining = remaining_seconds(until_ms, ctx.now_ms()).min(step_wait(spec, plan, index - 1));
    out.wait_for(watch_interval(spec, plan), remaining, until_ms);
    let request = ctx.still_held(out.wait_seconds).await?;
    if let Some(reason) = abort_reason(&request) {
        tracing::warn!(reason, "abort requested: rolling back");
        return Ok(rollback_next(out, reason).held_by(&ctx.rollout));
    }
    if request.as_ref().map(|r| r.kind) == Some(RequestKind::Promote) {
        tracing::info!(
            step = index,
            "promote requested: to 100 % through the gates"
        );
        out.action = Action::Step;
        out.promote = true;
        out.watching = false;
        out.wait_seconds = 0;
        out.wait_until_ms = None;
        out.reason = request.map(|r| match r.reason.trim() {
            "" => "promote requested".to_string(),
            reason => format!("promote requested: {reason}"),
        });
        return Ok(out.held_by(&ctx.rollout));
    }
    let gate = match failed_gate(ctx, share).await {
        Err(err @ Error::AlarmUnreadable(_)) => {
            // As at a step: the rollout holds where it is, and says so.
            return Err(ctx
                .stop(ShiftStatus::Stopped, index - 1, in_place, err)
                .await);
        }
        other => other?,
    };
    if let Some(reason) = gate {
        tracing::warn!(reason, step = index, "a gate failed during the wait");
        return Ok(rollback_next(out, reason).held_by(&ctx.rollout));
    }
    tracing::info!(
        step = index,
        remaining_seconds = remaining,
        next = ?out.action,
        wait_seconds = out.wait_seconds,
        "gates clear during the wait"
    );
    Ok(out.held_by(&ctx.rollout))
}

/// The state machine's next state is the rollback, at once, with `reason`.
fn rollback_next(mut out: Output, reason: String) -> Output {
    out.action = Action::Rollback;
    out.watching = false;
    out.wait_seconds = 0;
    out.wait_until_ms = None;
    out.reason = Some(reason);
    out
}
