//! What shift-traffic answers: the state the next invocation starts from (the spec handed on
//! unchanged, so the state machine can feed it straight back), and the report of each step
//! that becomes its rollout event. Pure.

use rollout_kit::ShiftStatus;
use serde::Serialize;
use serde_json::Value;

use crate::error::Error;
use crate::lease::Rollout;
use crate::notify::StepReport;
use crate::pause::{self, Approval, Pause};
use crate::plan::{PlannedStep, Weights, percent, scaled};
use crate::scale_down::ScaleDown;
use crate::spec::{Action, Spec, Target};
use crate::waits::{self, Next};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Status {
    /// `plan`: nothing written.
    Planned,
    /// `status`: nothing written.
    Observed,
    /// A step is in place; wait `wait_seconds`, then run `action` (`watch` or `step`).
    Shifted,
    Completed,
    RolledBack,
    /// `watch`: nothing written. `action` says what follows: `watch` again, the `step`, or a
    /// `rollback` (a gate failed, or a person asked to abort; `reason` says which).
    Watched,
    /// `promote` or `abort`: recorded for the running rollout, which acts on it at its next
    /// watch or step.
    Requested,
    /// The gates passed and a pause holds the step: nothing written; `approval` says which step
    /// waits, for how long, and what happens then.
    AwaitingApproval,
    /// An approval event went out with the task token; the state machine waits for a person.
    ApprovalRequested,
    /// `scale_down`: blue's Auto Scaling group is at the size asked for (`already_applied`
    /// when it was already).
    ScaledDown,
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
    pub watch_seconds: u64,
    pub time_scale: f64,
    /// The step the next invocation applies.
    pub step: u32,
    pub total_steps: u32,
    pub status: Status,
    pub done: bool,
    pub green_percent: f64,
    pub blue_weight: i32,
    pub green_weight: i32,
    /// Seconds to wait before the next invocation (scaled by `time_scale`): the whole wait, or
    /// while it is watched, the piece before the next watch.
    pub wait_seconds: u64,
    /// The wait is watched: the next invocation is a `watch` (the state machine's Choice reads it).
    pub watching: bool,
    /// When the watched wait ends, in epoch milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait_until_ms: Option<u64>,
    /// The next step goes to 100 % at once: a promote was asked for.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub promote: bool,
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
    /// Handed on unchanged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pause_before_final: Option<Pause>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validate: Option<Value>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub validate_after_each_step: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scale_down_blue: Option<ScaleDown>,
    /// `AwaitingApproval`: the step that waits for a person (the state machine's Choice reads it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval: Option<Approval>,
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
    /// How often the gates are checked during that wait, scaled; 0 when the wait is no longer
    /// than one interval (the next step checks them). Longer than `watch_seconds` only when
    /// the plan's waits would not fit one execution's history otherwise.
    pub watch_seconds: u64,
    /// The forward action this step writes, in the API's JSON shape.
    pub forward_action: Value,
}

impl Output {
    pub(crate) fn new(spec: &Spec, plan: &[PlannedStep], status: Status, weights: Weights) -> Self {
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
            watch_seconds: spec.watch_seconds,
            time_scale: spec.time_scale,
            step: 0,
            total_steps: plan.len() as u32,
            status,
            done: false,
            green_percent: weights.green_share().map(percent).unwrap_or(0.0),
            blue_weight: weights.blue,
            green_weight: weights.green,
            wait_seconds: 0,
            watching: false,
            wait_until_ms: None,
            promote: false,
            already_applied: false,
            reason: None,
            plan: None,
            rollout_id: None,
            lease_version: None,
            pause_before_final: spec.pause_before_final,
            validate: spec.validate.clone(),
            validate_after_each_step: spec.validate_after_each_step,
            scale_down_blue: spec.scale_down.clone(),
            approval: None,
        }
    }

    /// What follows a wait of `remaining_seconds` that ends at `until_ms`: a watch after one
    /// interval, or the step after the rest.
    pub(crate) fn wait_for(&mut self, interval: u64, remaining_seconds: u64, until_ms: u64) {
        match waits::next(interval, remaining_seconds) {
            Next::Watch { wait_seconds } => {
                self.action = Action::Watch;
                self.watching = true;
                self.wait_seconds = wait_seconds;
                self.wait_until_ms = Some(until_ms);
            }
            Next::Step { wait_seconds } => {
                self.action = Action::Step;
                self.watching = false;
                self.wait_seconds = wait_seconds;
                self.wait_until_ms = None;
            }
        }
    }

    pub(crate) fn held_by(mut self, rollout: &Rollout) -> Self {
        self.rollout_id = Some(rollout.id.clone());
        self.lease_version = rollout.lease.as_ref().map(|l| l.version);
        self
    }
}

/// The event of a step that ends in an error without writing: the weights stay as found.
pub(crate) fn halted(
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

/// The wait after step `index`, scaled.
pub(crate) fn step_wait(spec: &Spec, plan: &[PlannedStep], index: usize) -> u64 {
    plan.get(index)
        .map(|s| scaled(s.wait_seconds, spec.time_scale))
        .unwrap_or(0)
}

/// The state after step `index` is in place, at `now_ms`.
pub(crate) fn after_step(
    spec: &Spec,
    plan: &[PlannedStep],
    index: usize,
    weights: Weights,
    now_ms: u64,
) -> Output {
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
        let wait = step_wait(spec, plan, index);
        let until = now_ms.saturating_add(wait.saturating_mul(1000));
        out.wait_for(waits::watch_interval(spec, plan), wait, until);
    }
    out
}

/// A step held by a pause: nothing written, the same step again once a person approves.
pub(crate) fn awaiting(
    spec: &Spec,
    plan: &[PlannedStep],
    index: usize,
    weights: Weights,
    pause: Pause,
) -> Output {
    let mut out = Output::new(spec, plan, Status::AwaitingApproval, weights);
    out.action = Action::Step;
    out.step = index as u32;
    out.approval = Some(pause::approval(index, pause, spec.time_scale));
    out
}

/// Completed by a promote: all traffic on green, the waits left skipped.
pub(crate) fn promoted(spec: &Spec, plan: &[PlannedStep], weights: Weights) -> Output {
    let mut out = Output::new(spec, plan, Status::Completed, weights);
    out.done = true;
    out.step = plan.len() as u32;
    out.reason = Some("promoted: the waits left were skipped".into());
    out
}

/// The event of a step; `next_wait_seconds` is the whole wait that follows it, watched or not.
pub(crate) fn report(
    out: &Output,
    status: ShiftStatus,
    step: u32,
    next_wait_seconds: Option<u64>,
) -> StepReport {
    StepReport {
        status,
        step,
        total_steps: out.total_steps,
        green_percent: out.green_percent,
        next_wait_seconds: next_wait_seconds.filter(|_| !out.done),
        reason: out.reason.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec;
    use serde_json::json;

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

    fn spec_input() -> Value {
        json!({
            "action": "start",
            "listener_arn": "arn:aws:elasticloadbalancing:us-east-1:1:listener/app/web/1/2",
            "blue_target_group_arn": "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/b/1",
            "green_target_group_arn": "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/g/2",
            "strategy": {"steps": [{"percent": 10, "wait_seconds": 60}, {"percent": 100}]},
            "alarms": ["errors"],
            "ignore_alarm_read_errors": true,
            "health_gate": false,
            "bake_seconds": 30,
            "watch_seconds": 12,
            "time_scale": 0.5,
            "pause_before_final": {"timeout_seconds": 600, "on_timeout": "promote"},
            "validate": {"target_url": "https://green.internal:8443", "settings": {"probeRequests": 5}},
            "validate_after_each_step": true,
            "scale_down_blue": {"auto_scaling_group": "web-blue", "wait_seconds": 300}
        })
    }

    /// The round trip the state machine makes: every output, whatever its status, is a valid
    /// input that means the same rollout.
    #[test]
    fn every_output_is_the_next_input() {
        let (_, spec) = spec::parse(spec_input()).unwrap();
        let plan = crate::plan::plan(&spec.strategy, spec.bake_seconds);
        let rollout = Rollout {
            id: "arn:aws:states:us-east-1:1:execution:rollout:run-1".into(),
            lease: Some(crate::lease::Lease {
                holder: "arn:aws:states:us-east-1:1:execution:rollout:run-1".into(),
                version: 3,
            }),
        };
        let mut outputs = Vec::new();
        for status in [
            Status::Planned,
            Status::Observed,
            Status::Shifted,
            Status::Completed,
            Status::RolledBack,
            Status::Watched,
            Status::Requested,
        ] {
            let mut out = Output::new(&spec, &plan, status, plan[0].weights).held_by(&rollout);
            out.reason = Some("why".into());
            outputs.push(out);
        }
        let mut planned = Output::new(&spec, &plan, Status::Planned, Weights::ALL_BLUE);
        planned.plan = Some(vec![PlanView {
            step: 0,
            green_percent: 10.0,
            blue_weight: 900,
            green_weight: 100,
            wait_seconds: 30,
            watch_seconds: 6,
            forward_action: json!({"Type": "forward"}),
        }]);
        outputs.push(planned);
        let now = 1_800_000_000_000;
        let mut retried = after_step(&spec, &plan, 0, plan[0].weights, now);
        retried.already_applied = true;
        outputs.push(retried.held_by(&rollout));
        outputs.push(after_step(&spec, &plan, 1, plan[1].weights, now));
        // A watched wait (60 s at 0.5: 30 s, watched every 6 s), its watches, and their ends.
        let watched_wait = after_step(&spec, &plan, 0, plan[0].weights, now).held_by(&rollout);
        assert_eq!(watched_wait.action, Action::Watch);
        assert_eq!(
            (watched_wait.wait_seconds, watched_wait.wait_until_ms),
            (6, Some(now + 30_000))
        );
        outputs.push(watched_wait);
        let mut watching = Output::new(&spec, &plan, Status::Watched, plan[0].weights);
        watching.step = 1;
        watching.wait_for(6, 24, now + 30_000);
        outputs.push(watching.held_by(&rollout));
        let mut last_piece = Output::new(&spec, &plan, Status::Watched, plan[0].weights);
        last_piece.step = 1;
        last_piece.wait_for(6, 5, now + 30_000);
        assert_eq!(
            (last_piece.action, last_piece.watching),
            (Action::Step, false)
        );
        outputs.push(last_piece.held_by(&rollout));
        let mut promote = Output::new(&spec, &plan, Status::Watched, plan[0].weights);
        promote.action = Action::Step;
        promote.step = 1;
        promote.promote = true;
        outputs.push(promote.held_by(&rollout));
        let mut gate_failed = Output::new(&spec, &plan, Status::Watched, plan[0].weights);
        gate_failed.action = Action::Rollback;
        gate_failed.step = 1;
        gate_failed.reason = Some("alarm in ALARM: errors".into());
        outputs.push(gate_failed.held_by(&rollout));
        outputs.push(promoted(&spec, &plan, plan[1].weights));
        let pause = Pause {
            timeout_seconds: 600,
            on_timeout: crate::pause::OnTimeout::Promote,
        };
        let waiting = awaiting(&spec, &plan, 1, plan[0].weights, pause).held_by(&rollout);
        assert_eq!(
            waiting.approval.as_ref().map(|a| a.timeout_seconds),
            Some(300)
        );
        outputs.push(waiting);
        let mut requested = Output::new(&spec, &plan, Status::ApprovalRequested, plan[0].weights);
        requested.approval = Some(crate::pause::approval(1, pause, 1.0));
        outputs.push(requested.held_by(&rollout));
        // The completing step handing on to the clean-up, and the clean-up's answer.
        let mut scheduled = Output::new(&spec, &plan, Status::Completed, plan[1].weights);
        (scheduled.done, scheduled.action, scheduled.wait_seconds) = (true, Action::ScaleDown, 300);
        outputs.push(scheduled);
        let mut scaled = Output::new(&spec, &plan, Status::ScaledDown, plan[1].weights);
        (scaled.done, scaled.action) = (true, Action::ScaleDown);
        outputs.push(scaled.held_by(&rollout));

        for out in outputs {
            let value = serde_json::to_value(&out).unwrap();
            let (input, again) = spec::parse(value.clone())
                .unwrap_or_else(|e| panic!("{:?} does not read back: {e}\n{value}", out.status));
            assert_eq!(again.target, spec.target);
            assert_eq!(
                (again.blue.as_str(), again.green.as_str()),
                (spec.blue.as_str(), spec.green.as_str())
            );
            assert_eq!(again.strategy, spec.strategy);
            assert_eq!(again.alarms, spec.alarms);
            assert_eq!(
                again.ignore_alarm_read_errors,
                spec.ignore_alarm_read_errors
            );
            assert_eq!(again.health_gate, spec.health_gate);
            assert_eq!(again.bake_seconds, spec.bake_seconds);
            assert_eq!(again.watch_seconds, spec.watch_seconds);
            assert_eq!(again.time_scale, spec.time_scale);
            assert_eq!(input.action, out.action);
            assert_eq!(input.step, out.step);
            assert_eq!(input.wait_until_ms, out.wait_until_ms);
            assert_eq!(input.promote, out.promote);
            assert_eq!(input.rollout_id, out.rollout_id);
            assert_eq!(input.lease_version, out.lease_version);
            assert_eq!(input.approval, out.approval);
            assert_eq!(again.pause_before_final, spec.pause_before_final);
            assert_eq!(again.validate, spec.validate);
            assert_eq!(
                again.validate_after_each_step,
                spec.validate_after_each_step
            );
            assert_eq!(again.scale_down, spec.scale_down);
        }
    }
}
