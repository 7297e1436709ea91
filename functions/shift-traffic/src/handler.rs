//! One invocation, one idempotent step: hold the listener's lease, read the action list, check it
//! is what the previous step wrote, check the gates, read it again and check nobody changed it
//! meanwhile, write the whole list back with new weights, read it back, and return the state the
//! next step starts from. Every AWS call ends before the invocation's deadline.

use aws_sdk_elasticloadbalancingv2::types::Action as ElbAction;
use lambda_runtime::LambdaEvent;
use serde::Serialize;
use serde_json::Value;
use std::time::Duration;

use rollout_kit::{Deadline, Margin};
use tokio::time::Instant;

use crate::actions::{self, Located};
use crate::alarms::Alarms;
use crate::elb::Elb;
use crate::error::Error;
use crate::gates::{AlarmVerdict, alarm_verdict, health_verdict};
use crate::lease::{Lease, Leases};
use crate::notify::{self, StepReport};
use crate::plan::{self, FULL, PlannedStep, Weights, percent, scaled};
use crate::spec::{self, Action, Input, Spec, Target};
use rollout_kit::ShiftStatus;

pub struct Deps {
    pub elb: Elb,
    pub alarms: Alarms,
    pub leases: Leases,
    pub notifier: Option<rollout_kit::Publisher>,
}

/// Kept back from the deadline for the answer: the work (AWS calls, their retries, a publish)
/// ends this much before it, so a slow step returns `Throttled` instead of being killed.
pub const DEADLINE_MARGIN: Margin = Margin {
    configured: Duration::from_secs(3),
    floor: Duration::from_millis(300),
    max_share_percent: 20,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Status {
    /// `plan`: nothing written.
    Planned,
    /// `status`: nothing written.
    Observed,
    /// A step is in place; wait `wait_seconds`, then run `step`.
    Shifted,
    Completed,
    RolledBack,
}

/// The function's answer, and the next invocation's input: the spec is handed on unchanged.
#[derive(Debug, Serialize)]
pub struct Output {
    /// What to invoke next with this object.
    pub action: Action,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listener_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule_arn: Option<String>,
    pub blue_target_group_arn: String,
    pub green_target_group_arn: String,
    pub strategy: Value,
    pub alarms: Vec<String>,
    pub ignore_alarm_read_errors: bool,
    pub health_gate: bool,
    pub bake_seconds: u64,
    pub time_scale: f64,
    /// The step the next invocation applies.
    pub step: u32,
    pub total_steps: u32,
    pub status: Status,
    pub done: bool,
    pub green_percent: f64,
    pub blue_weight: i32,
    pub green_weight: i32,
    /// Seconds to wait before the next invocation (scaled by `time_scale`).
    pub wait_seconds: u64,
    /// The weights were already in place (a retried step); nothing was written.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub already_applied: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<Vec<PlanView>>,
    /// Who the rollout is in the lease table; the next step acts for the same rollout.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollout_id: Option<String>,
    /// The lease's fencing token while the rollout holds it; absent once it is released.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lease_version: Option<u64>,
}

/// One step of a dry run.
#[derive(Debug, Serialize)]
pub struct PlanView {
    pub step: u32,
    pub green_percent: f64,
    pub blue_weight: i32,
    pub green_weight: i32,
    /// The wait after this step (the last one's is the bake), scaled.
    pub wait_seconds: u64,
    /// The forward action this step writes, in the API's JSON shape.
    pub forward_action: Value,
}

impl Output {
    fn new(spec: &Spec, plan: &[PlannedStep], status: Status, weights: Weights) -> Self {
        let (listener_arn, rule_arn) = match &spec.target {
            Target::Listener(arn) => (Some(arn.clone()), None),
            Target::Rule(arn) => (None, Some(arn.clone())),
        };
        Output {
            action: Action::Status,
            listener_arn,
            rule_arn,
            blue_target_group_arn: spec.blue.clone(),
            green_target_group_arn: spec.green.clone(),
            strategy: spec.strategy_raw.clone(),
            alarms: spec.alarms.clone(),
            ignore_alarm_read_errors: spec.ignore_alarm_read_errors,
            health_gate: spec.health_gate,
            bake_seconds: spec.bake_seconds,
            time_scale: spec.time_scale,
            step: 0,
            total_steps: plan.len() as u32,
            status,
            done: false,
            green_percent: weights.green_share().map(percent).unwrap_or(0.0),
            blue_weight: weights.blue,
            green_weight: weights.green,
            wait_seconds: 0,
            already_applied: false,
            reason: None,
            plan: None,
            rollout_id: None,
            lease_version: None,
        }
    }

    fn held_by(mut self, rollout: &Rollout) -> Self {
        self.rollout_id = Some(rollout.id.clone());
        self.lease_version = rollout.lease.as_ref().map(|l| l.version);
        self
    }
}

/// What a step does given the weights it found. Pure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The previous step's weights are in place: check the gates, then write these.
    Apply(Weights),
    /// This step's weights are already in place (a retry after a lost answer).
    AlreadyApplied,
    /// Past the last step: check the gates after the bake.
    FinalCheck,
    /// Someone else changed the weights: stop, write nothing.
    Drift { expected: Weights, what: String },
}

pub fn decide(plan: &[PlannedStep], index: usize, current: Weights) -> Decision {
    let n = plan.len();
    if index >= n {
        let last = plan[n - 1].weights;
        return if current == last {
            Decision::FinalCheck
        } else {
            Decision::Drift {
                expected: last,
                what: format!("what step {} wrote", n - 1),
            }
        };
    }
    let target = plan[index].weights;
    if current == target {
        return Decision::AlreadyApplied;
    }
    if index == 0 {
        if current.is_all_blue() {
            Decision::Apply(target)
        } else {
            Decision::Drift {
                expected: Weights::ALL_BLUE,
                what: "all traffic on blue before the start".into(),
            }
        }
    } else {
        let previous = plan[index - 1].weights;
        if current == previous {
            Decision::Apply(target)
        } else {
            Decision::Drift {
                expected: previous,
                what: format!("what step {} wrote", index - 1),
            }
        }
    }
}

/// Whether a rollback may write blue over `current`: only over weights this rollout's plan
/// could have written (or all-blue already), unless forced. Anything else was set by someone
/// else, whose decision a rollback must not undo. Pure.
pub fn rollback_allowed(plan: &[PlannedStep], current: Weights, force: bool) -> bool {
    force || current.is_all_blue() || plan.iter().any(|s| s.weights == current)
}

/// Where a rollout stands: the step that resumes it, if the weights match the plan. Pure.
pub fn resume_step(plan: &[PlannedStep], current: Weights) -> Option<u32> {
    if current.is_all_blue() {
        return Some(0);
    }
    plan.iter()
        .position(|s| s.weights == current)
        .map(|i| i as u32 + 1)
}

/// The rollout this invocation acts for, and its lease once taken.
#[derive(Debug, Clone)]
pub struct Rollout {
    pub id: String,
    pub lease: Option<Lease>,
}

/// What every part of one invocation needs.
struct Step<'a> {
    /// The rollout id the input named, handed on by `plan` and `status` so a resumed rollout
    /// is the same rollout (and may take back its own lease).
    named: Option<String>,
    deps: &'a Deps,
    spec: &'a Spec,
    plan: &'a [PlannedStep],
    /// When the work must end (the deadline less its margin).
    until: Instant,
    rollout: Rollout,
}

pub async fn handle(deps: &Deps, event: LambdaEvent<Value>) -> Result<Output, Error> {
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

impl Step<'_> {
    fn target(&self) -> &str {
        self.spec.target.arn()
    }

    /// Takes the lease (or renews the one handed on): nothing happens on a listener this
    /// rollout does not hold.
    async fn hold(&mut self) -> Result<(), Error> {
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
    async fn still_held(&self, next_wait_seconds: u64) -> Result<(), Error> {
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
    async fn release(&mut self) {
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

    async fn publish(&self, report: StepReport) {
        if let Some(notifier) = &self.deps.notifier {
            let left = self.until.saturating_duration_since(Instant::now());
            // Logged inside; the step's result stands either way.
            let _ = notifier
                .publish_within(&notify::event(self.spec, &report), left)
                .await;
        }
    }

    /// Stops the rollout on an error that leaves the weights where they are: says so, releases.
    async fn stop(
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
    async fn reread(
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

    fn drift(&self, located: &Located, found: Weights) -> Error {
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
enum Reread {
    /// The forward action is as read before the gates: write over this list.
    Unchanged(Vec<ElbAction>, Located),
    /// The forward action this step writes is there already.
    AlreadyWritten,
    /// Someone else changed it.
    Drift(Error),
}

async fn step(ctx: &mut Step<'_>, index: usize) -> Result<Output, Error> {
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

/// The event of a step that ends in an error without writing: the weights stay as found.
fn halted(
    status: ShiftStatus,
    index: usize,
    total: usize,
    current: Weights,
    err: &Error,
) -> StepReport {
    StepReport {
        status,
        step: (index as u32).saturating_add(1),
        total_steps: total as u32,
        green_percent: current.green_share().map(percent).unwrap_or(0.0),
        next_wait_seconds: None,
        reason: Some(err.to_string()),
    }
}

/// The state after step `index` is in place.
fn after_step(spec: &Spec, plan: &[PlannedStep], index: usize, weights: Weights) -> Output {
    let last = index + 1 == plan.len();
    let done = last && spec.bake_seconds == 0;
    let mut out = Output::new(
        spec,
        plan,
        if done {
            Status::Completed
        } else {
            Status::Shifted
        },
        weights,
    );
    out.done = done;
    out.step = index as u32 + 1;
    if !done {
        out.action = Action::Step;
        out.wait_seconds = scaled(plan[index].wait_seconds, spec.time_scale);
    }
    out
}

fn report(out: &Output, status: ShiftStatus, step: u32) -> StepReport {
    StepReport {
        status,
        step,
        total_steps: out.total_steps,
        green_percent: out.green_percent,
        next_wait_seconds: (!out.done).then_some(out.wait_seconds),
        reason: out.reason.clone(),
    }
}

/// The reason to roll back, if a gate says so. Unreadable alarms stop the step (an error, no
/// write) unless the spec says to ignore them.
async fn failed_gate(ctx: &Step<'_>, next_share: u16) -> Result<Option<String>, Error> {
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
async fn write_verified(ctx: &Step<'_>, written: &[ElbAction], index: usize) -> Result<(), Error> {
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

/// Writes all traffic back to blue over `actions` (read just before), then releases the lease.
async fn roll_back(
    ctx: &mut Step<'_>,
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
    ))
    .await;
    Ok(out.held_by(&ctx.rollout))
}

/// `rollback`: from the state machine (the rollout's own lease, handed on) or from a person
/// (no lease: takes it over, so the running rollout's next step stops without writing).
async fn manual_rollback(
    ctx: &mut Step<'_>,
    step: u32,
    reason: String,
    force: bool,
) -> Result<Output, Error> {
    let hold_for = ctx.deps.leases.hold_for(0);
    match &ctx.rollout.lease {
        Some(lease) => {
            ctx.deps
                .leases
                .renew(ctx.target(), lease, hold_for, ctx.until)
                .await?
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

fn rollback_reason(input: &Input) -> String {
    if let Some(reason) = input.reason.as_deref().filter(|r| !r.trim().is_empty()) {
        return reason.trim().to_string();
    }
    // A Catch hands over {"Error", "Cause"}; a Lambda error's Cause is its JSON error body.
    if let Some(error) = &input.error {
        let name = error
            .get("Error")
            .and_then(Value::as_str)
            .unwrap_or("error");
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

async fn dry_run(ctx: &Step<'_>) -> Result<Output, Error> {
    let (spec, plan) = (ctx.spec, ctx.plan);
    let actions = ctx.deps.elb.read_actions(&spec.target, ctx.until).await?;
    let located = actions::locate(&actions, spec.target.arn(), &spec.blue, &spec.green)?;
    let views = plan
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let list =
                actions::with_weights(&actions, &located, &spec.blue, &spec.green, s.weights);
            PlanView {
                step: i as u32,
                green_percent: percent(s.green_permille),
                blue_weight: s.weights.blue,
                green_weight: s.weights.green,
                wait_seconds: scaled(s.wait_seconds, spec.time_scale),
                forward_action: actions::forward_json(&list[located.index]),
            }
        })
        .collect();
    let mut out = Output::new(spec, plan, Status::Planned, located.weights);
    out.rollout_id = ctx.named.clone();
    out.action = Action::Start;
    out.plan = Some(views);
    if !located.weights.is_all_blue() {
        out.reason = Some(
            "blue does not have all the traffic now; start would stop with DriftDetected".into(),
        );
    }
    Ok(out)
}

async fn status(ctx: &Step<'_>) -> Result<Output, Error> {
    let (spec, plan) = (ctx.spec, ctx.plan);
    let actions = ctx.deps.elb.read_actions(&spec.target, ctx.until).await?;
    let located = actions::locate(&actions, spec.target.arn(), &spec.blue, &spec.green)?;
    let mut out = Output::new(spec, plan, Status::Observed, located.weights);
    out.rollout_id = ctx.named.clone();
    match resume_step(plan, located.weights) {
        Some(step) => {
            out.action = Action::Step;
            out.step = step;
        }
        None => {
            out.reason = Some("the weights match no step of this plan".into());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Strategy;

    fn canary() -> Vec<PlannedStep> {
        plan::plan(
            &Strategy::Canary {
                permille: 100,
                interval_seconds: 300,
            },
            60,
        )
    }

    const TEN: Weights = Weights {
        blue: 900,
        green: 100,
    };
    const ALL_GREEN: Weights = Weights {
        blue: 0,
        green: 999,
    };

    #[test]
    fn steps_follow_what_the_previous_one_wrote() {
        let plan = canary();
        assert_eq!(decide(&plan, 0, Weights::ALL_BLUE), Decision::Apply(TEN));
        assert_eq!(
            decide(&plan, 0, Weights { blue: 1, green: 0 }),
            Decision::Apply(TEN)
        );
        assert_eq!(decide(&plan, 1, TEN), Decision::Apply(ALL_GREEN));
        assert_eq!(decide(&plan, 2, ALL_GREEN), Decision::FinalCheck);
    }

    #[test]
    fn retried_steps_write_nothing() {
        let plan = canary();
        assert_eq!(decide(&plan, 0, TEN), Decision::AlreadyApplied);
        assert_eq!(decide(&plan, 1, ALL_GREEN), Decision::AlreadyApplied);
    }

    #[test]
    fn anything_else_is_drift() {
        let plan = canary();
        let half = Weights {
            blue: 500,
            green: 500,
        };
        assert!(
            matches!(decide(&plan, 1, half), Decision::Drift { expected, .. } if expected == TEN)
        );
        assert!(matches!(
            decide(&plan, 0, half),
            Decision::Drift { expected, .. } if expected == Weights::ALL_BLUE
        ));
        assert!(matches!(decide(&plan, 2, TEN), Decision::Drift { .. }));
        // Step 1 found all-blue: someone rolled back by hand.
        assert!(matches!(
            decide(&plan, 1, Weights::ALL_BLUE),
            Decision::Drift { .. }
        ));
    }

    #[test]
    fn rollback_writes_only_over_weights_of_the_plan() {
        let plan = canary();
        let half = Weights {
            blue: 500,
            green: 500,
        };
        assert!(rollback_allowed(&plan, TEN, false));
        assert!(rollback_allowed(&plan, ALL_GREEN, false));
        assert!(rollback_allowed(&plan, Weights::ALL_BLUE, false));
        assert!(rollback_allowed(
            &plan,
            Weights { blue: 7, green: 0 },
            false
        ));
        assert!(!rollback_allowed(&plan, half, false), "set by someone else");
        assert!(rollback_allowed(&plan, half, true), "unless forced");
    }

    #[test]
    fn halted_steps_never_overflow() {
        let err = Error::InvalidSpec("x".into());
        let report = halted(
            ShiftStatus::Stopped,
            u32::MAX as usize,
            2,
            Weights::ALL_BLUE,
            &err,
        );
        assert_eq!(report.step, u32::MAX);
    }

    #[test]
    fn status_finds_the_resuming_step() {
        let plan = canary();
        assert_eq!(resume_step(&plan, Weights::ALL_BLUE), Some(0));
        assert_eq!(resume_step(&plan, TEN), Some(1));
        assert_eq!(resume_step(&plan, ALL_GREEN), Some(2));
        assert_eq!(resume_step(&plan, Weights { blue: 3, green: 3 }), None);
    }

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
