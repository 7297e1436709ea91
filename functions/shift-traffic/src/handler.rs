//! One invocation, one idempotent step: read the action list, check it is what the previous step
//! wrote, check the gates, write the whole list back with new weights, read it back, and return
//! the state the next step starts from.

use aws_sdk_elasticloadbalancingv2::types::Action as ElbAction;
use lambda_runtime::LambdaEvent;
use serde::Serialize;
use serde_json::Value;

use crate::actions::{self, Located};
use crate::alarms::Alarms;
use crate::elb::Elb;
use crate::error::Error;
use crate::gates::{AlarmVerdict, alarm_verdict, health_verdict};
use crate::notify::{self, StepReport};
use crate::plan::{self, FULL, PlannedStep, Weights, percent, scaled};
use crate::spec::{self, Action, Input, Spec, Target};

pub struct Deps {
    pub elb: Elb,
    pub alarms: Alarms,
    pub notifier: Option<rollout_kit::Publisher>,
}

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
        }
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

/// Where a rollout stands: the step that resumes it, if the weights match the plan. Pure.
pub fn resume_step(plan: &[PlannedStep], current: Weights) -> Option<u32> {
    if current.is_all_blue() {
        return Some(0);
    }
    plan.iter()
        .position(|s| s.weights == current)
        .map(|i| i as u32 + 1)
}

pub async fn handle(deps: &Deps, event: LambdaEvent<Value>) -> Result<Output, Error> {
    let request_id = event.context.request_id.clone();
    let (input, spec) = spec::parse(event.payload).inspect_err(|err| {
        tracing::warn!(request_id, error = %err, "refused the input");
    })?;
    let plan = plan::plan(&spec.strategy, spec.bake_seconds);
    tracing::info!(
        request_id,
        action = ?input.action,
        step = input.step,
        target = spec.target.arn(),
        strategy = spec.strategy_name,
        total_steps = plan.len(),
        "shift-traffic invoked"
    );
    let result = match input.action {
        Action::Plan => dry_run(deps, &spec, &plan).await,
        Action::Start => step(deps, &spec, &plan, 0).await,
        Action::Step => step(deps, &spec, &plan, input.step as usize).await,
        Action::Rollback => {
            let reason = rollback_reason(&input);
            let actions = deps.elb.read_actions(&spec.target).await?;
            let located = actions::locate(&actions, spec.target.arn(), &spec.blue, &spec.green)?;
            roll_back(deps, &spec, &plan, &actions, &located, input.step, reason).await
        }
        Action::Status => status(deps, &spec, &plan).await,
    };
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
            reason = out.reason.as_deref().unwrap_or(""),
            "step finished"
        ),
        Err(err) => {
            tracing::error!(request_id, error_type = rollout_kit::ErrorKind::kind(err), error = %err, "step failed")
        }
    }
    result
}

async fn step(
    deps: &Deps,
    spec: &Spec,
    plan: &[PlannedStep],
    index: usize,
) -> Result<Output, Error> {
    let n = plan.len();
    if index > n {
        return Err(Error::InvalidSpec(format!(
            "step {index} is past the end: the plan has {n} steps, and step {n} is the check after the bake"
        )));
    }
    let actions = deps.elb.read_actions(&spec.target).await?;
    let located = actions::locate(&actions, spec.target.arn(), &spec.blue, &spec.green)?;
    let current = located.weights;
    let decision = decide(plan, index, current);
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
            publish(deps, spec, halted("Drift", index, n, current, &err)).await;
            return Err(err);
        }
        Decision::AlreadyApplied => {
            tracing::info!(step = index, "weights already in place, nothing to write");
            let mut out = after_step(spec, plan, index, current);
            out.already_applied = true;
            return Ok(out);
        }
        Decision::FinalCheck => None,
        Decision::Apply(target) => Some(target),
    };
    let next_share = plan.get(index).map(|s| s.green_permille).unwrap_or(FULL);
    let gate = match failed_gate(deps, spec, next_share).await {
        // The rollout holds where it is; say so, as the state machine ends without a rollback.
        Err(err @ Error::AlarmUnreadable(_)) => {
            publish(deps, spec, halted("Stopped", index, n, current, &err)).await;
            return Err(err);
        }
        other => other?,
    };
    if let Some(reason) = gate {
        return roll_back(deps, spec, plan, &actions, &located, index as u32, reason).await;
    }
    let Some(target) = target else {
        let mut out = Output::new(spec, plan, Status::Completed, current);
        out.done = true;
        out.step = n as u32;
        publish(deps, spec, report(&out, "Completed", n as u32 + 1)).await;
        return Ok(out);
    };
    let written = actions::with_weights(&actions, &located, &spec.blue, &spec.green, target);
    write_verified(deps, spec, &written, located.index).await?;
    tracing::info!(
        step = index,
        from_blue = current.blue,
        from_green = current.green,
        to_blue = target.blue,
        to_green = target.green,
        "weights written and read back"
    );
    let out = after_step(spec, plan, index, target);
    let status = if out.done { "Completed" } else { "Shifted" };
    publish(deps, spec, report(&out, status, index as u32 + 1)).await;
    Ok(out)
}

/// The event of a step that ends in an error without writing: the weights stay as found.
fn halted(
    status: &'static str,
    index: usize,
    total: usize,
    current: Weights,
    err: &Error,
) -> StepReport {
    StepReport {
        status,
        step: index as u32 + 1,
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

fn report(out: &Output, status: &'static str, step: u32) -> StepReport {
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
async fn failed_gate(deps: &Deps, spec: &Spec, next_share: u16) -> Result<Option<String>, Error> {
    if !spec.alarms.is_empty() {
        let unreadable = match deps.alarms.states(&spec.alarms).await {
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
        let counts = deps.elb.target_health(&spec.target, &spec.green).await?;
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
async fn write_verified(
    deps: &Deps,
    spec: &Spec,
    written: &[ElbAction],
    index: usize,
) -> Result<(), Error> {
    deps.elb.write_actions(&spec.target, written).await?;
    let mut detail = String::new();
    for attempt in 0..3 {
        if attempt > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        }
        let read = deps.elb.read_actions(&spec.target).await?;
        match actions::verify(written, &read, index) {
            Ok(()) => return Ok(()),
            Err(problem) => detail = problem,
        }
    }
    Err(Error::WriteNotVerified {
        target: spec.target.arn().to_string(),
        detail,
    })
}

async fn roll_back(
    deps: &Deps,
    spec: &Spec,
    plan: &[PlannedStep],
    actions: &[ElbAction],
    located: &Located,
    step: u32,
    reason: String,
) -> Result<Output, Error> {
    tracing::warn!(reason, "rolling back to blue");
    let weights = if located.weights.is_all_blue() {
        located.weights
    } else {
        let written =
            actions::with_weights(actions, located, &spec.blue, &spec.green, Weights::ALL_BLUE);
        write_verified(deps, spec, &written, located.index).await?;
        tracing::info!(
            from_blue = located.weights.blue,
            from_green = located.weights.green,
            to_blue = Weights::ALL_BLUE.blue,
            to_green = Weights::ALL_BLUE.green,
            "rolled back: weights written and read back"
        );
        Weights::ALL_BLUE
    };
    let mut out = Output::new(spec, plan, Status::RolledBack, weights);
    out.done = true;
    out.step = step;
    out.reason = Some(reason);
    publish(deps, spec, report(&out, "RolledBack", step + 1)).await;
    Ok(out)
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

async fn dry_run(deps: &Deps, spec: &Spec, plan: &[PlannedStep]) -> Result<Output, Error> {
    let actions = deps.elb.read_actions(&spec.target).await?;
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
    out.action = Action::Start;
    out.plan = Some(views);
    if !located.weights.is_all_blue() {
        out.reason = Some(
            "blue does not have all the traffic now; start would stop with DriftDetected".into(),
        );
    }
    Ok(out)
}

async fn status(deps: &Deps, spec: &Spec, plan: &[PlannedStep]) -> Result<Output, Error> {
    let actions = deps.elb.read_actions(&spec.target).await?;
    let located = actions::locate(&actions, spec.target.arn(), &spec.blue, &spec.green)?;
    let mut out = Output::new(spec, plan, Status::Observed, located.weights);
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

async fn publish(deps: &Deps, spec: &Spec, report: StepReport) {
    if let Some(notifier) = &deps.notifier {
        // Logged inside; the step's result stands either way.
        let _ = notifier.publish(&notify::event(spec, &report)).await;
    }
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
