//! One invocation, one idempotent step: hold the listener's lease, read the action list, check it
//! is what the previous step wrote, check the gates, read it again and check nobody changed it
//! meanwhile, write the whole list back with new weights, read it back, and return the state the
//! next step starts from. Every AWS call ends before the invocation's deadline.

use std::time::Duration;

use aws_sdk_elasticloadbalancingv2::types::Action as ElbAction;
use lambda_runtime::LambdaEvent;
use rollout_kit::{Deadline, Margin, ShiftStatus};
use serde_json::Value;
use tokio::time::Instant;

use crate::actions::{self, Located};
use crate::decide::{Decision, decide};
use crate::error::Error;
use crate::gates::{AlarmVerdict, alarm_verdict, health_verdict};
use crate::lease::{Lease, Rollout};
use crate::notify::{self, StepReport};
use crate::observe::{dry_run, status};
use crate::output::{Output, Status, after_step, halted, report};
use crate::plan::{self, FULL, PlannedStep, Weights};
use crate::ports::{AlarmSource, Aws, EventSink, LeaseStore, Listeners, Ports};
use crate::rollback::{manual_rollback, roll_back, rollback_reason};
use crate::spec::{self, Action, Spec};

/// The adapters a step works through: the real AWS ones (`Deps<Aws>`, the default) or, in the
/// unit tests, an in-memory account.
pub struct Deps<P: Ports = Aws> {
    pub elb: P::Listeners,
    pub alarms: P::Alarms,
    pub leases: P::Leases,
    pub notifier: Option<P::Events>,
}

/// Kept back from the deadline for the answer: the work (AWS calls, their retries, a publish)
/// ends this much before it, so a slow step returns `Throttled` instead of being killed.
pub const DEADLINE_MARGIN: Margin = Margin {
    configured: Duration::from_secs(3),
    floor: Duration::from_millis(300),
    max_share_percent: 20,
};

/// What every part of one invocation needs.
pub(crate) struct Step<'a, P: Ports> {
    /// The rollout id the input named, handed on by `plan` and `status` so a resumed rollout
    /// is the same rollout (and may take back its own lease).
    pub(crate) named: Option<String>,
    pub(crate) deps: &'a Deps<P>,
    pub(crate) spec: &'a Spec,
    pub(crate) plan: &'a [PlannedStep],
    /// When the work must end (the deadline less its margin).
    pub(crate) until: Instant,
    pub(crate) rollout: Rollout,
}

pub async fn handle<P: Ports>(deps: &Deps<P>, event: LambdaEvent<Value>) -> Result<Output, Error> {
    let request_id = event.context.request_id.clone();
    let deadline = Deadline::from_epoch_ms(event.context.deadline);
    let (input, spec) = spec::parse(event.payload).inspect_err(|err| {
        tracing::warn!(request_id, error = %err, "refused the input");
    })?;
    let plan = plan::plan(&spec.strategy, spec.bake_seconds);
    let until = deadline.work_until(DEADLINE_MARGIN);
    let rollout = Rollout {
        id: input.rollout_id(&request_id),
        lease: input.lease_version.map(|version| Lease {
            holder: input.rollout_id(&request_id),
            version,
        }),
    };
    tracing::info!(
        request_id,
        action = ?input.action,
        step = input.step,
        target = spec.target.arn(),
        strategy = spec.strategy_name,
        total_steps = plan.len(),
        rollout_id = rollout.id,
        lease_version = rollout.lease.as_ref().map(|l| l.version),
        time_left_ms = deadline.remaining().as_millis() as u64,
        "shift-traffic invoked"
    );
    let mut ctx = Step {
        named: input.rollout_id.clone(),
        deps,
        spec: &spec,
        plan: &plan,
        until,
        rollout,
    };
    let work = async {
        match input.action {
            Action::Plan => dry_run(&ctx).await,
            Action::Status => status(&ctx).await,
            Action::Start => step(&mut ctx, 0).await,
            Action::Step => step(&mut ctx, input.step as usize).await,
            Action::Rollback => {
                let reason = rollback_reason(&input);
                manual_rollback(&mut ctx, input.step, reason, input.force).await
            }
        }
    };
    // Every call inside is bounded by `until`; this is the backstop that keeps the answer
    // ahead of the deadline whatever happens inside.
    let result = match tokio::time::timeout_at(deadline.less(DEADLINE_MARGIN.floor), work).await {
        Ok(result) => result,
        Err(_) => Err(Error::Throttled {
            operation: "the step",
            attempts: 1,
            detail: "it did not finish before the function's deadline".into(),
        }),
    };
    // A rollout that stops (the state machine ends without a rollback) frees the listener for
    // the next one; a held or lost lease belongs to someone else.
    if let Err(err) = &result {
        let kind = rollout_kit::ErrorKind::kind(err);
        if Error::STOP_IN_PLACE.contains(&kind) && !matches!(kind, "LeaseHeld" | "LeaseLost") {
            ctx.until = deadline.less(DEADLINE_MARGIN.floor);
            ctx.release().await;
        }
    }
    match &result {
        Ok(out) => tracing::info!(
            request_id,
            status = ?out.status,
            done = out.done,
            next_step = out.step,
            green_percent = out.green_percent,
            blue_weight = out.blue_weight,
            green_weight = out.green_weight,
            wait_seconds = out.wait_seconds,
            lease_version = out.lease_version,
            reason = out.reason.as_deref().unwrap_or(""),
            "step finished"
        ),
        Err(err) => {
            tracing::error!(request_id, error_type = rollout_kit::ErrorKind::kind(err), error = %err, "step failed")
        }
    }
    result
}

impl<P: Ports> Step<'_, P> {
    pub(crate) fn target(&self) -> &str {
        self.spec.target.arn()
    }

    /// Takes the lease (or renews the one handed on): nothing happens on a listener this
    /// rollout does not hold.
    pub(crate) async fn hold(&mut self) -> Result<(), Error> {
        let hold_for = self.deps.leases.hold_for(0);
        match &self.rollout.lease {
            Some(lease) => {
                self.deps
                    .leases
                    .renew(self.target(), lease, hold_for, self.until)
                    .await
            }
            None => {
                let lease = self
                    .deps
                    .leases
                    .acquire(self.target(), &self.rollout.id, hold_for, self.until)
                    .await?;
                tracing::info!(
                    rollout_id = lease.holder,
                    lease_version = lease.version,
                    "lease taken"
                );
                self.rollout.lease = Some(lease);
                Ok(())
            }
        }
    }

    /// The fencing check right before a write: still ours, and held through the next wait.
    pub(crate) async fn still_held(&self, next_wait_seconds: u64) -> Result<(), Error> {
        match &self.rollout.lease {
            Some(lease) => {
                let hold_for = self.deps.leases.hold_for(next_wait_seconds);
                self.deps
                    .leases
                    .renew(self.target(), lease, hold_for, self.until)
                    .await
            }
            None => Ok(()),
        }
    }

    /// The rollout is over (completed, rolled back or stopped): the next one may start.
    pub(crate) async fn release(&mut self) {
        if let Some(lease) = self.rollout.lease.take() {
            match self
                .deps
                .leases
                .release(self.target(), &lease, self.until)
                .await
            {
                Ok(()) => tracing::info!(lease_version = lease.version, "lease released"),
                // It expires by itself; a lease another holder took is theirs to keep.
                Err(err) => tracing::warn!(error = %err, "lease not released"),
            }
        }
    }

    pub(crate) async fn publish(&self, report: StepReport) {
        if let Some(notifier) = &self.deps.notifier {
            let left = self.until.saturating_duration_since(Instant::now());
            notifier
                .publish_within(&notify::event(self.spec, &report), left)
                .await;
        }
    }

    /// Stops the rollout on an error that leaves the weights where they are: says so, releases.
    pub(crate) async fn stop(
        &mut self,
        status: ShiftStatus,
        index: usize,
        current: Weights,
        err: Error,
    ) -> Error {
        self.release().await;
        self.publish(halted(status, index, self.plan.len(), current, &err))
            .await;
        err
    }

    /// Reads the action list again right before a write: anything but exactly the forward
    /// action read before the gates means another writer acted meanwhile. `intended` is the
    /// forward action this step is about to write: finding it already there means a duplicate
    /// invocation of the same step wrote it first.
    pub(crate) async fn reread(
        &self,
        before: &[ElbAction],
        located: &Located,
        intended: Option<&ElbAction>,
    ) -> Result<Reread, Error> {
        let again = self
            .deps
            .elb
            .read_actions(&self.spec.target, self.until)
            .await?;
        let now = actions::locate(&again, self.target(), &self.spec.blue, &self.spec.green)?;
        let found = again.get(now.index);
        if now.index == located.index && found == before.get(located.index) {
            return Ok(Reread::Unchanged(again, now));
        }
        if intended.is_some() && found == intended {
            return Ok(Reread::AlreadyWritten);
        }
        Ok(Reread::Drift(self.drift(located, now.weights)))
    }

    pub(crate) fn drift(&self, located: &Located, found: Weights) -> Error {
        Error::DriftDetected {
            target: self.target().to_string(),
            expected: "the forward action read before the gates".into(),
            expected_blue: located.weights.blue,
            expected_green: located.weights.green,
            found_blue: found.blue,
            found_green: found.green,
        }
    }
}

/// What the read right before a write found.
pub(crate) enum Reread {
    /// The forward action is as read before the gates: write over this list.
    Unchanged(Vec<ElbAction>, Located),
    /// The forward action this step writes is there already.
    AlreadyWritten,
    /// Someone else changed it.
    Drift(Error),
}

async fn step<P: Ports>(ctx: &mut Step<'_, P>, index: usize) -> Result<Output, Error> {
    let n = ctx.plan.len();
    if index > n {
        return Err(Error::InvalidSpec(format!(
            "step {index} is past the end: the plan has {n} steps, and step {n} is the check after the bake"
        )));
    }
    let (spec, plan) = (ctx.spec, ctx.plan);
    // A lost lease is not ours to release, and the rollout (or rollback) that took it over
    // reports on the listener now.
    ctx.hold().await?;
    let actions = ctx.deps.elb.read_actions(&spec.target, ctx.until).await?;
    let located = actions::locate(&actions, spec.target.arn(), &spec.blue, &spec.green)?;
    let current = located.weights;
    let target = match decide(plan, index, current) {
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
        Decision::AlreadyApplied => {
            tracing::info!(step = index, "weights already in place, nothing to write");
            let mut out = after_step(spec, plan, index, current);
            ctx.still_held(out.wait_seconds).await?;
            out.already_applied = true;
            if out.done {
                ctx.release().await;
            }
            return Ok(out.held_by(&ctx.rollout));
        }
        Decision::FinalCheck => None,
        Decision::Apply(target) => Some(target),
    };
    let next_share = plan.get(index).map(|s| s.green_permille).unwrap_or(FULL);
    let gate = match failed_gate(ctx, next_share).await {
        // The rollout holds where it is; say so, as the state machine ends without a rollback.
        Err(err @ Error::AlarmUnreadable(_)) => {
            return Err(ctx.stop(ShiftStatus::Stopped, index, current, err).await);
        }
        other => other?,
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
    let Some(target) = target else {
        let mut out = Output::new(spec, plan, Status::Completed, current);
        out.done = true;
        out.step = n as u32;
        ctx.release().await;
        ctx.publish(report(&out, ShiftStatus::Completed, n as u32 + 1))
            .await;
        return Ok(out.held_by(&ctx.rollout));
    };
    let mut out = after_step(spec, plan, index, target);
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
    ctx.still_held(out.wait_seconds).await?;
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
        from_blue = current.blue,
        from_green = current.green,
        to_blue = target.blue,
        to_green = target.green,
        "weights written and read back"
    );
    let status = if out.done {
        ShiftStatus::Completed
    } else {
        ShiftStatus::Shifted
    };
    if out.done {
        ctx.release().await;
    }
    ctx.publish(report(&out, status, index as u32 + 1)).await;
    Ok(out.held_by(&ctx.rollout))
}

/// The reason to roll back, if a gate says so. Unreadable alarms stop the step (an error, no
/// write) unless the spec says to ignore them.
async fn failed_gate<P: Ports>(
    ctx: &Step<'_, P>,
    next_share: u16,
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
        if let Err(reason) = health_verdict(counts, next_share) {
            return Ok(Some(reason));
        }
    }
    Ok(None)
}

/// Writes the list and reads it back until it shows what was written.
pub(crate) async fn write_verified<P: Ports>(
    ctx: &Step<'_, P>,
    written: &[ElbAction],
    index: usize,
) -> Result<(), Error> {
    let target = &ctx.spec.target;
    ctx.deps
        .elb
        .write_actions(target, written, ctx.until)
        .await?;
    let mut detail = String::new();
    for attempt in 0..3 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        let read = ctx.deps.elb.read_actions(target, ctx.until).await?;
        match actions::verify(written, &read, index) {
            Ok(()) => return Ok(()),
            Err(problem) => detail = problem,
        }
    }
    Err(Error::WriteNotVerified {
        target: target.arn().to_string(),
        detail,
    })
}
