//! One step of the rollout: hold the lease, read the action list, check it is what the previous
//! step wrote, check the gates, read it again, write the new weights and read them back. A
//! promote (asked for by a person, seen by a watch or by this step's lease renewal) goes to 100 %
//! instead and skips the waits left; an abort rolls back instead of writing.

use rollout_kit::ShiftStatus;

use crate::actions;
use crate::decide::{Decision, decide, decide_promote};
use crate::error::Error;
use crate::gates::{AlarmVerdict, alarm_verdict, health_verdict};
use crate::handler::{Reread, Step, write_verified};
use crate::lease::{Request, RequestKind};
use crate::output::{Output, Status, after_step, awaiting, promoted, report, step_wait};
use crate::pause;
use crate::plan::FULL;
use crate::ports::{AlarmSource, Listeners, Ports};
use crate::rollback::roll_back;

pub(crate) async fn step<P: Ports>(
    ctx: &mut Step<'_, P>,
    index: usize,
    promote: bool,
    approved: Option<u32>,
) -> Result<Output, Error> {
    let n = ctx.plan.len();
    if index > n {
        return Err(Error::InvalidSpec(format!(
            "step {index} is past the end: the plan has {n} steps, and step {n} is the check after the bake"
        )));
    }
    let (spec, plan) = (ctx.spec, ctx.plan);
    // A lost lease is not ours to release, and the rollout (or rollback) that took it over
    // reports on the listener now.
    let request = ctx.hold().await?;
    let promote = promote || is(&request, RequestKind::Promote);
    let actions = ctx.deps.elb.read_actions(&spec.target, ctx.until).await?;
    let located = actions::locate(&actions, spec.target.arn(), &spec.blue, &spec.green)?;
    let current = located.weights;
    let decision = if promote {
        decide_promote(plan, index, current)
    } else {
        decide(plan, index, current)
    };
    let target = match decision {
        Decision::Drift { expected, what } => {
            let err = Error::DriftDetected {
                target: spec.target.arn().to_string(),
                expected: what,
                expected_blue: expected.blue,
                expected_green: expected.green,
                found_blue: current.blue,
                found_green: current.green,
            };
            return Err(ctx.stop(ShiftStatus::Drift, index, current, err).await);
        }
        Decision::AlreadyApplied if abort_reason(&request).is_none() => {
            tracing::info!(step = index, "weights already in place, nothing to write");
            let mut out = after_step(spec, plan, index, current, ctx.now_ms());
            ctx.still_held(out.wait_seconds).await?;
            out.already_applied = true;
            if out.done {
                ctx.release().await;
            }
            return Ok(out.held_by(&ctx.rollout));
        }
        Decision::AlreadyApplied | Decision::FinalCheck => None,
        Decision::Apply(target) => Some(target),
    };
    // An abort rolls back without asking the gates; a promote asks them for all the traffic.
    let gate = match abort_reason(&request) {
        Some(reason) => Some(reason),
        None => {
            let next_share = match promote {
                true => FULL,
                false => plan.get(index).map(|s| s.green_permille).unwrap_or(FULL),
            };
            match failed_gate(ctx, next_share).await {
                // The rollout holds where it is; say so, as the state machine ends without a
                // rollback.
                Err(err @ Error::AlarmUnreadable(_)) => {
                    return Err(ctx.stop(ShiftStatus::Stopped, index, current, err).await);
                }
                other => other?,
            }
        }
    };
    if let Some(reason) = gate {
        return match ctx.reread(&actions, &located, None).await? {
            Reread::Unchanged(actions, located) => {
                roll_back(ctx, &actions, &located, index as u32, reason).await
            }
            // No intended write was given, so this is drift too.
            Reread::AlreadyWritten => Err(ctx
                .stop(
                    ShiftStatus::Drift,
                    index,
                    current,
                    ctx.drift(&located, current),
                )
                .await),
            Reread::Drift(err) => Err(ctx.stop(ShiftStatus::Drift, index, current, err).await),
        };
    }
    // A pause holds this step until a person approves (a promote is a person's decision too).
    if let (Some(pause), false, Some(_)) = (pause::pending(plan, index, approved), promote, target)
    {
        let out = awaiting(spec, plan, index, current, pause);
        let timeout = out.approval.as_ref().map_or(0, |a| a.timeout_seconds);
        // Held through the pause and the grace: nobody else shifts while a person decides.
        ctx.still_held(timeout).await?;
        tracing::info!(step = index, timeout, "gates passed; waiting for approval");
        return Ok(out.held_by(&ctx.rollout));
    }
    let Some(target) = target else {
        let mut out = Output::new(spec, plan, Status::Completed, current);
        out.done = true;
        out.step = n as u32;
        if promote {
            out.reason = Some("promoted: the waits left were skipped".into());
        }
        ctx.release().await;
        ctx.publish(report(&out, ShiftStatus::Completed, n as u32 + 1, None))
            .await;
        return Ok(out.held_by(&ctx.rollout));
    };
    let mut out = match promote {
        true => promoted(spec, plan, target),
        false => after_step(spec, plan, index, target, ctx.now_ms()),
    };
    let intended = actions::with_weights(&actions, &located, &spec.blue, &spec.green, target);
    let (actions, located) = match ctx
        .reread(&actions, &located, intended.get(located.index))
        .await?
    {
        Reread::Unchanged(actions, located) => (actions, located),
        Reread::AlreadyWritten => {
            tracing::info!(
                step = index,
                "a duplicate of this step wrote the weights first"
            );
            ctx.still_held(out.wait_seconds).await?;
            out.already_applied = true;
            if out.done {
                ctx.release().await;
            }
            return Ok(out.held_by(&ctx.rollout));
        }
        Reread::Drift(err) => return Err(ctx.stop(ShiftStatus::Drift, index, current, err).await),
    };
    // The last fencing check; an abort asked for during the gates still wins over the write.
    let late = ctx.still_held(out.wait_seconds).await?;
    if let Some(reason) = abort_reason(&late) {
        return roll_back(ctx, &actions, &located, index as u32, reason).await;
    }
    let written = actions::with_weights(&actions, &located, &spec.blue, &spec.green, target);
    if let Err(err) = write_verified(ctx, &written, located.index).await {
        return Err(match err {
            Error::WriteNotVerified { .. } => {
                ctx.stop(ShiftStatus::Stopped, index, current, err).await
            }
            other => other,
        });
    }
    tracing::info!(
        step = index,
        promote,
        from_blue = current.blue,
        from_green = current.green,
        to_blue = target.blue,
        to_green = target.green,
        "weights written and read back"
    );
    let (status, number) = match out.done {
        true if promote => (ShiftStatus::Completed, n as u32),
        true => (ShiftStatus::Completed, index as u32 + 1),
        false => (ShiftStatus::Shifted, index as u32 + 1),
    };
    if out.done {
        ctx.release().await;
    }
    let next_wait = Some(step_wait(spec, plan, index));
    ctx.publish(report(&out, status, number, next_wait)).await;
    Ok(out.held_by(&ctx.rollout))
}

fn is(request: &Option<Request>, kind: RequestKind) -> bool {
    request.as_ref().is_some_and(|r| r.kind == kind)
}

/// The rollback reason of a pending abort.
pub(crate) fn abort_reason(request: &Option<Request>) -> Option<String> {
    let request = request.as_ref().filter(|r| r.kind == RequestKind::Abort)?;
    Some(match request.reason.trim() {
        "" => "abort requested".to_string(),
        reason => format!("abort requested: {reason}"),
    })
}

/// The reason to roll back, if a gate says so, for green taking `share` per-mille of the
/// traffic. Unreadable alarms stop the rollout (an error, no write) unless the spec says to
/// ignore them.
pub(crate) async fn failed_gate<P: Ports>(
    ctx: &Step<'_, P>,
    share: u16,
) -> Result<Option<String>, Error> {
    let spec = ctx.spec;
    if !spec.alarms.is_empty() {
        let unreadable = match ctx.deps.alarms.states(&spec.alarms, ctx.until).await? {
            Ok(states) => match alarm_verdict(&spec.alarms, &states) {
                AlarmVerdict::Clear => None,
                AlarmVerdict::Firing(names) => {
                    return Ok(Some(format!("alarm in ALARM: {}", names.join(", "))));
                }
                AlarmVerdict::Missing(names) => {
                    Some(format!("no such alarm: {}", names.join(", ")))
                }
            },
            Err(summary) => Some(summary),
        };
        if let Some(problem) = unreadable {
            if !spec.ignore_alarm_read_errors {
                return Err(Error::AlarmUnreadable(problem));
            }
            tracing::warn!(problem, "alarms unreadable, ignored as the spec asks");
        }
    }
    if spec.health_gate {
        let counts = ctx
            .deps
            .elb
            .target_health(&spec.target, &spec.green, ctx.until)
            .await?;
        tracing::info!(
            healthy = counts.healthy,
            counted = counts.counted,
            "green target health"
        );
        if let Err(reason) = health_verdict(counts, share) {
            return Ok(Some(reason));
        }
    }
    Ok(None)
}
