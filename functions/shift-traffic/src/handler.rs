//! One invocation, one idempotent action: a step (`shift`), a watch during a wait (`watch`), a
//! rollback, a person's promote or abort (`requests`), or a read-only plan or status
//! (`observe`). This module parses the input, builds what they share (the lease, the re-read
//! before a write, the verified write) and keeps every AWS call before the invocation's
//! deadline.

use std::time::Duration;

use aws_sdk_elasticloadbalancingv2::types::Action as ElbAction;
use lambda_runtime::LambdaEvent;
use rollout_kit::{Deadline, Margin, ShiftStatus};
use serde_json::Value;
use tokio::time::Instant;

use crate::actions::{self, Located};
use crate::approval::{self, request_approval};
use crate::error::Error;
use crate::lease::{Lease, Request, RequestKind, Rollout};
use crate::notify::{self, StepReport};
use crate::observe::{dry_run, status};
use crate::output::{Output, halted};
use crate::plan::{PlannedStep, Weights};
use crate::ports::{Aws, Clock, EventSink, LeaseStore, Listeners, Ports};
use crate::requests::record;
use crate::rollback::{manual_rollback, rollback_reason};
use crate::scale_down::{scale_down, schedule};
use crate::shift::step;
use crate::spec::{self, Action, Spec};
use crate::watch::watch;

/// The adapters a step works through: the real AWS ones (`Deps<Aws>`, the default) or, in the
/// unit tests, an in-memory account.
pub struct Deps<P: Ports = Aws> {
    pub elb: P::Listeners,
    pub alarms: P::Alarms,
    pub leases: P::Leases,
    pub notifier: Option<P::Events>,
    pub clock: P::Clock,
    pub groups: P::Groups,
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
    // The state machine's wait for a person wraps the rollout with the task token.
    let (payload, task_token) = approval::unwrap(event.payload)?;
    let (input, spec) = spec::parse(payload).inspect_err(|err| {
        tracing::warn!(request_id, error = %err, "refused the input");
    })?;
    if task_token.is_some() && input.action != Action::Step {
        return Err(Error::InvalidSpec(format!(
            "{} wraps the output of a step awaiting approval (action step)",
            approval::KEY
        )));
    }
    let plan = spec.plan();
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
            Action::Start => {
                let result = step(&mut ctx, 0, false, None).await;
                completed(&ctx, result).await
            }
            Action::Step if task_token.is_some() => {
                let token = task_token.as_deref().unwrap_or_default();
                request_approval(&mut ctx, &input, token).await
            }
            Action::Step => {
                let approved = input.approved_step();
                let result = step(&mut ctx, input.step as usize, input.promote, approved).await;
                completed(&ctx, result).await
            }
            Action::Watch => {
                // `spec::validate` refuses a watch without it.
                let until_ms = input.wait_until_ms.unwrap_or_default();
                watch(&mut ctx, input.step as usize, until_ms).await
            }
            Action::Rollback => {
                let reason = rollback_reason(&input);
                manual_rollback(&mut ctx, input.step, reason, input.force).await
            }
            Action::Promote => record(&ctx, RequestKind::Promote, input.reason.as_deref()).await,
            Action::Abort => record(&ctx, RequestKind::Abort, input.reason.as_deref()).await,
            Action::ScaleDown => scale_down(&mut ctx).await,
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
    // the next one; a held or lost lease belongs to someone else. Only the actions a rollout
    // runs under its lease release it: a person's plan, status, promote or abort may carry an
    // execution's `lease_version` (an output copied as input) and must not free its listener.
    let runs_the_rollout = matches!(
        input.action,
        Action::Start | Action::Step | Action::Watch | Action::Rollback
    );
    if let Err(err) = &result {
        let kind = rollout_kit::ErrorKind::kind(err);
        if runs_the_rollout
            && Error::STOP_IN_PLACE.contains(&kind)
            && !matches!(kind, "LeaseHeld" | "LeaseLost")
        {
            ctx.until = deadline.less(DEADLINE_MARGIN.floor);
            ctx.release().await;
        }
    }
    match &result {
        Ok(out) => tracing::info!(
            request_id,
            status = ?out.status,
            done = out.done,
            next_action = ?out.action,
            next_step = out.step,
            green_percent = out.green_percent,
            blue_weight = out.blue_weight,
            green_weight = out.green_weight,
            wait_seconds = out.wait_seconds,
            watching = out.watching,
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

/// A step that completed the rollout hands on to the clean-up, when the spec asks for one.
async fn completed<P: Ports>(
    ctx: &Step<'_, P>,
    result: Result<Output, Error>,
) -> Result<Output, Error> {
    let mut out = result?;
    schedule(ctx, &mut out).await;
    Ok(out)
}

impl<P: Ports> Step<'_, P> {
    pub(crate) fn target(&self) -> &str {
        self.spec.target.arn()
    }

    pub(crate) fn now_ms(&self) -> u64 {
        self.deps.clock.now_ms()
    }

    /// Takes the lease (or renews the one handed on, returning what a person asked of the
    /// rollout meanwhile): nothing happens on a listener this rollout does not hold.
    pub(crate) async fn hold(&mut self) -> Result<Option<Request>, Error> {
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
                Ok(None)
            }
        }
    }

    /// The fencing check right before a write: still ours, and held until the next invocation
    /// (after the next Wait state) plus the grace. Hands back a pending request.
    pub(crate) async fn still_held(
        &self,
        next_wait_seconds: u64,
    ) -> Result<Option<Request>, Error> {
        match &self.rollout.lease {
            Some(lease) => {
                let hold_for = self.deps.leases.hold_for(next_wait_seconds);
                self.deps
                    .leases
                    .renew(self.target(), lease, hold_for, self.until)
                    .await
            }
            None => Ok(None),
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

    pub(crate) async fn publish_event(&self, event: rollout_kit::RolloutEvent) {
        if let Some(notifier) = &self.deps.notifier {
            let left = self.until.saturating_duration_since(Instant::now());
            notifier.publish_within(&event, left).await;
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
