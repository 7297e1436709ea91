//! The rollout spec: the function's JSON input. One step's output is the next step's input, so
//! the fields a step returns are accepted here and ignored; any other unknown field is refused,
//! since a misspelt gate must not silently switch the gate off.

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::Error;
use crate::pause::{Approval, Pause};
use crate::plan::Strategy;
use crate::scale_down::ScaleDown;
pub use crate::strategy::{parse_preset, parse_strategy};

/// At most one DescribeAlarms page by name.
const MAX_ALARMS: usize = 100;
/// Step Functions executions last at most a year; no single wait may be longer.
pub(crate) const MAX_WAIT_SECONDS: u64 = 365 * 24 * 3600;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Compute the plan and the forward action of every step; write nothing.
    Plan,
    /// Apply step 0 (from all-blue).
    Start,
    /// Apply step `step`, or with `step` past the last one, check the gates after the bake.
    Step,
    /// Put blue back to 100 % with green attached at weight 0.
    Rollback,
    /// Read the listener and say which step it is at; write nothing.
    Status,
    /// During a wait: check the gates again (and the lease, and whether a person asked to
    /// promote or abort); write no weights.
    Watch,
    /// Ask the running rollout to skip its remaining waits and go to 100 % through the gates.
    Promote,
    /// Ask the running rollout to roll back at its next watch or step.
    Abort,
    /// After a completed rollout: scale blue's Auto Scaling group in (`scale_down_blue`).
    ScaleDown,
}

/// The raw input, exactly as a caller or the state machine sends it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Input {
    pub action: Action,
    #[serde(default)]
    pub listener_arn: Option<String>,
    #[serde(default)]
    pub rule_arn: Option<String>,
    pub blue_target_group_arn: String,
    pub green_target_group_arn: String,
    pub strategy: Value,
    #[serde(default)]
    pub alarms: Vec<String>,
    #[serde(default)]
    pub ignore_alarm_read_errors: bool,
    #[serde(default = "default_true")]
    pub health_gate: bool,
    #[serde(default)]
    pub bake_seconds: u64,
    /// How often the gates are checked during a wait, before `time_scale`.
    #[serde(default = "default_watch_seconds")]
    pub watch_seconds: u64,
    #[serde(default = "default_time_scale")]
    pub time_scale: f64,
    #[serde(default)]
    pub step: u32,
    /// When the current wait ends (epoch milliseconds): set by a step whose wait is watched,
    /// handed on by every watch.
    #[serde(default)]
    pub wait_until_ms: Option<u64>,
    /// `step` only: the step goes to 100 % (a promote a watch saw), skipping the waits left.
    #[serde(default)]
    pub promote: bool,
    /// Why a `rollback` was asked for.
    #[serde(default)]
    pub reason: Option<String>,
    /// What a Step Functions `Catch` adds with `ResultPath: "$.error"`.
    #[serde(default)]
    pub error: Option<Value>,
    /// Who this rollout is in the lease table; handed on by every step. The state machine's
    /// execution ARN unless the input names one.
    #[serde(default)]
    pub rollout_id: Option<String>,
    /// The fencing token of the lease this rollout holds, handed on by every step. Absent: the
    /// step takes the lease (`start`, a resumed `step`) or, for `rollback`, takes it over.
    #[serde(default)]
    pub lease_version: Option<u64>,
    /// What the state machine adds first: `{"id": <execution ARN>}`.
    #[serde(default)]
    pub execution: Option<ExecutionRef>,
    /// `rollback` even when the weights are none this rollout's plan writes.
    #[serde(default)]
    pub force: bool,
    /// A pause before the final step of a preset (or any strategy): `{"timeout_seconds",
    /// "on_timeout"}`.
    #[serde(default)]
    pub pause_before_final: Option<Value>,
    /// Handed on from a step that waits for a person: which step, for how long.
    #[serde(default)]
    pub approval: Option<Approval>,
    /// What the person who approved sent (`send-task-success --task-output`), kept by the state
    /// machine; with `approval`, the step it names runs.
    #[serde(default)]
    pub approved: Option<Value>,
    /// The state machine's probe request for validate-traffic, before the first shift (and
    /// after each step with `validate_after_each_step`); handed on, never acted on here.
    #[serde(default)]
    pub validate: Option<Value>,
    #[serde(default)]
    pub validate_after_each_step: bool,
    /// After the rollout completes: `{"auto_scaling_group", "desired_capacity", "wait_seconds"}`.
    #[serde(default)]
    pub scale_down_blue: Option<Value>,
    /// validate-traffic's answer to it, kept by the state machine.
    #[serde(default, rename = "validation")]
    _validation: Option<IgnoredAny>,
    // Returned by the previous step; recomputed, never trusted.
    #[serde(default, rename = "status")]
    _status: Option<IgnoredAny>,
    #[serde(default, rename = "done")]
    _done: Option<IgnoredAny>,
    #[serde(default, rename = "green_percent")]
    _green_percent: Option<IgnoredAny>,
    #[serde(default, rename = "blue_weight")]
    _blue_weight: Option<IgnoredAny>,
    #[serde(default, rename = "green_weight")]
    _green_weight: Option<IgnoredAny>,
    #[serde(default, rename = "wait_seconds")]
    _wait_seconds: Option<IgnoredAny>,
    #[serde(default, rename = "total_steps")]
    _total_steps: Option<IgnoredAny>,
    #[serde(default, rename = "already_applied")]
    _already_applied: Option<IgnoredAny>,
    #[serde(default, rename = "plan")]
    _plan: Option<IgnoredAny>,
    #[serde(default, rename = "watching")]
    _watching: Option<IgnoredAny>,
}

/// The Step Functions execution running the rollout.
#[derive(Debug, Clone, Deserialize)]
pub struct ExecutionRef {
    pub id: String,
}

impl Input {
    /// The step a person approved, if any: the approval's step, once `approved` is set.
    pub fn approved_step(&self) -> Option<u32> {
        self.approved.as_ref()?;
        self.approval.as_ref().map(|a| a.step)
    }

    /// Who this invocation acts for in the lease table: the rollout it continues, else the
    /// state machine execution, else this one invocation (a direct call).
    pub fn rollout_id(&self, request_id: &str) -> String {
        self.rollout_id
            .as_deref()
            .or(self.execution.as_ref().map(|e| e.id.as_str()))
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .map(|id| id.chars().take(MAX_ROLLOUT_ID).collect())
            .unwrap_or_else(|| format!("invocation/{request_id}"))
    }
}

/// Execution ARNs are at most about 256 characters; more than that is not an id.
const MAX_ROLLOUT_ID: usize = 512;

fn default_true() -> bool {
    true
}

fn default_time_scale() -> f64 {
    1.0
}

/// Often enough that a failing green is rolled back within half a minute; about 360 state
/// transitions per hour of waiting (docs/shift-traffic.md).
pub const DEFAULT_WATCH_SECONDS: u64 = 30;
/// More often costs transitions (and history events) without a signal to act on: CloudWatch
/// evaluates alarms once a minute at best, 10 s for high-resolution alarms.
pub const MIN_WATCH_SECONDS: u64 = 10;

fn default_watch_seconds() -> u64 {
    DEFAULT_WATCH_SECONDS
}

/// Where the forward action lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A listener's default action.
    Listener(String),
    /// A listener rule's action.
    Rule(String),
}

impl Target {
    pub fn arn(&self) -> &str {
        match self {
            Target::Listener(arn) | Target::Rule(arn) => arn,
        }
    }
}

/// A validated spec.
#[derive(Debug, Clone)]
pub struct Spec {
    pub target: Target,
    pub blue: String,
    pub green: String,
    pub strategy: Strategy,
    /// The strategy as the user wrote it, handed on unchanged.
    pub strategy_raw: Value,
    /// A short name for notifications: the preset, or `canary`, `linear`, `custom`.
    pub strategy_name: String,
    pub alarms: Vec<String>,
    pub ignore_alarm_read_errors: bool,
    pub health_gate: bool,
    pub bake_seconds: u64,
    pub watch_seconds: u64,
    pub time_scale: f64,
    /// A pause on the step before the last, whatever the strategy.
    pub pause_before_final: Option<Pause>,
    /// The probe request the state machine runs validate-traffic with, handed on unchanged.
    pub validate: Option<Value>,
    pub validate_after_each_step: bool,
    /// Blue's Auto Scaling group, scaled in after the rollout completes.
    pub scale_down: Option<ScaleDown>,
}

impl Spec {
    /// The plan, with the preset's pause before the final step if the spec has one.
    pub fn plan(&self) -> Vec<crate::plan::PlannedStep> {
        crate::plan::plan_with(&self.strategy, self.bake_seconds, self.pause_before_final)
    }
}

/// Parses and validates the invocation payload.
pub fn parse(payload: Value) -> Result<(Input, Spec), Error> {
    let input: Input =
        serde_json::from_value(payload).map_err(|e| Error::InvalidSpec(e.to_string()))?;
    let spec = validate(&input)?;
    Ok((input, spec))
}

pub(crate) fn invalid(message: impl Into<String>) -> Error {
    Error::InvalidSpec(message.into())
}

pub fn validate(input: &Input) -> Result<Spec, Error> {
    let target = match (&input.listener_arn, &input.rule_arn) {
        (Some(listener), None) => {
            check_arn("listener_arn", listener, ":listener/")?;
            Target::Listener(listener.trim().to_string())
        }
        (None, Some(rule)) => {
            check_arn("rule_arn", rule, ":listener-rule/")?;
            Target::Rule(rule.trim().to_string())
        }
        (Some(_), Some(_)) => {
            return Err(invalid("give either listener_arn or rule_arn, not both"));
        }
        (None, None) => {
            return Err(invalid(
                "listener_arn (the listener's default action) or rule_arn (a listener rule) is required",
            ));
        }
    };
    check_arn(
        "blue_target_group_arn",
        &input.blue_target_group_arn,
        ":targetgroup/",
    )?;
    check_arn(
        "green_target_group_arn",
        &input.green_target_group_arn,
        ":targetgroup/",
    )?;
    let blue = input.blue_target_group_arn.trim().to_string();
    let green = input.green_target_group_arn.trim().to_string();
    if blue == green {
        return Err(invalid(
            "blue_target_group_arn and green_target_group_arn are the same target group",
        ));
    }
    let (strategy, strategy_name) = parse_strategy(&input.strategy)?;
    let pause_before_final = match &input.pause_before_final {
        None | Some(Value::Null) => None,
        Some(value) => {
            let pause = Pause::parse("pause_before_final", value)?;
            let steps = crate::plan::plan(&strategy, 0);
            match steps.len() {
                0 | 1 => {
                    return Err(invalid(
                        "pause_before_final needs a strategy with a step before the final one (not AllAtOnce)",
                    ));
                }
                n if steps[n - 2].pause.is_some() => {
                    return Err(invalid(
                        "pause_before_final and a pause in strategy.steps hold the same step; keep one",
                    ));
                }
                _ => Some(pause),
            }
        }
    };
    if input.alarms.len() > MAX_ALARMS {
        return Err(invalid(format!(
            "at most {MAX_ALARMS} alarms can be watched, got {}",
            input.alarms.len()
        )));
    }
    let mut alarms: Vec<String> = Vec::with_capacity(input.alarms.len());
    for name in &input.alarms {
        let name = name.trim();
        if name.is_empty() {
            return Err(invalid("alarms contains an empty name"));
        }
        if !alarms.iter().any(|a| a == name) {
            alarms.push(name.to_string());
        }
    }
    if !(input.time_scale.is_finite() && input.time_scale > 0.0 && input.time_scale <= 1.0) {
        return Err(invalid(format!(
            "time_scale must be greater than 0 and at most 1 (it shortens waits for rehearsals), got {}",
            input.time_scale
        )));
    }
    check_wait("bake_seconds", input.bake_seconds)?;
    if input.watch_seconds < MIN_WATCH_SECONDS {
        return Err(invalid(format!(
            "watch_seconds must be at least {MIN_WATCH_SECONDS} (how often the gates are checked during a wait), got {}",
            input.watch_seconds
        )));
    }
    check_wait("watch_seconds", input.watch_seconds)?;
    if input.action == Action::Watch && input.wait_until_ms.is_none() {
        return Err(invalid(
            "a watch needs wait_until_ms, as the output of the step before it carries",
        ));
    }
    if input.validate_after_each_step && input.validate.as_ref().is_none_or(Value::is_null) {
        return Err(invalid(
            "validate_after_each_step needs validate (the probe request to run after each step)",
        ));
    }
    if input.promote && input.action != Action::Step {
        return Err(invalid(
            "promote: true belongs to a running rollout's step; to promote a running rollout, invoke with \"action\": \"promote\"",
        ));
    }
    let scale_down = match &input.scale_down_blue {
        None | Some(Value::Null) => None,
        Some(value) => Some(ScaleDown::parse(value)?),
    };
    Ok(Spec {
        target,
        blue,
        green,
        strategy,
        strategy_raw: input.strategy.clone(),
        strategy_name,
        alarms,
        ignore_alarm_read_errors: input.ignore_alarm_read_errors,
        health_gate: input.health_gate,
        bake_seconds: input.bake_seconds,
        watch_seconds: input.watch_seconds,
        time_scale: input.time_scale,
        pause_before_final,
        validate: input.validate.clone().filter(|v| !v.is_null()),
        validate_after_each_step: input.validate_after_each_step,
        scale_down,
    })
}

fn check_arn(field: &str, value: &str, resource: &str) -> Result<(), Error> {
    let value = value.trim();
    if value.starts_with("arn:")
        && value.contains(":elasticloadbalancing:")
        && value.contains(resource)
    {
        Ok(())
    } else {
        Err(invalid(format!(
            "{field} must be an Elastic Load Balancing ARN containing {resource:?}, got {value:?}"
        )))
    }
}

pub(crate) fn check_wait(field: &str, seconds: u64) -> Result<(), Error> {
    if seconds > MAX_WAIT_SECONDS {
        Err(invalid(format!(
            "{field} is {seconds} s; a Step Functions execution lasts at most {MAX_WAIT_SECONDS} s"
        )))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::StepSpec;
    use serde_json::json;

    const LISTENER: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/web/50dc6c495c0c9188/f2f7dc8efc522ab2";
    const BLUE: &str =
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/blue/73e2d6bc24d8a067";
    const GREEN: &str =
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/green/943f017f100becff";

    fn base() -> Value {
        json!({
            "action": "start",
            "listener_arn": LISTENER,
            "blue_target_group_arn": BLUE,
            "green_target_group_arn": GREEN,
            "strategy": "Canary10Percent5Minutes",
        })
    }

    fn with(changes: Value) -> Value {
        let mut value = base();
        for (k, v) in changes.as_object().unwrap() {
            if v.is_null() {
                value.as_object_mut().unwrap().remove(k);
            } else {
                value[k] = v.clone();
            }
        }
        value
    }

    fn error_of(value: Value) -> String {
        match parse(value) {
            Err(Error::InvalidSpec(message)) => message,
            other => panic!("expected InvalidSpec, got {other:?}"),
        }
    }

    #[test]
    fn presets_users_know() {
        let canary = |p, s| Strategy::Canary {
            permille: p,
            interval_seconds: s,
        };
        let linear = |p, s| Strategy::Linear {
            permille: p,
            interval_seconds: s,
        };
        for (name, expected) in [
            ("Canary10Percent5Minutes", canary(100, 300)),
            ("Canary10Percent15Minutes", canary(100, 900)),
            ("Canary10Percent30Minutes", canary(100, 1800)),
            ("Linear10PercentEvery1Minute", linear(100, 60)),
            ("Linear10PercentEvery3Minutes", linear(100, 180)),
            ("Linear10PercentEvery10Minutes", linear(100, 600)),
            (
                "CodeDeployDefault.ECSLinear10PercentEvery1Minutes",
                linear(100, 60),
            ),
            (
                "CodeDeployDefault.LambdaCanary10Percent5Minutes",
                canary(100, 300),
            ),
            ("AllAtOnce", Strategy::AllAtOnce),
            ("CodeDeployDefault.ECSAllAtOnce", Strategy::AllAtOnce),
        ] {
            assert_eq!(parse_preset(name), Some(expected), "{name}");
        }
        for bad in [
            "Canary0Percent5Minutes",
            "Canary100Percent5Minutes",
            "Linear10PercentEvery0Minutes",
            "Linear10Percent5Minutes",
            "canary10percent5minutes",
            "Blue",
        ] {
            assert_eq!(parse_preset(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_valid_spec_and_its_defaults() {
        let (input, spec) = parse(base()).unwrap();
        assert_eq!(input.action, Action::Start);
        assert_eq!(spec.target, Target::Listener(LISTENER.into()));
        assert!(spec.health_gate);
        assert_eq!(spec.time_scale, 1.0);
        assert_eq!(spec.watch_seconds, DEFAULT_WATCH_SECONDS);
        assert!(!input.promote);
        assert_eq!(spec.strategy_name, "Canary10Percent5Minutes");
    }

    #[test]
    fn a_previous_steps_output_is_accepted() {
        let watch = with(json!({
            "action": "watch", "step": 1, "status": "Watched", "watching": true,
            "wait_seconds": 30, "wait_until_ms": 1_800_000_000_000u64, "lease_version": 2
        }));
        let (input, _) = parse(watch).unwrap();
        assert_eq!(input.wait_until_ms, Some(1_800_000_000_000));
        let promote = with(json!({"action": "step", "step": 1, "promote": true}));
        assert!(parse(promote).unwrap().0.promote);
        let value = with(json!({
            "action": "step", "step": 1, "status": "Shifted", "done": false,
            "green_percent": 10.0, "blue_weight": 900, "green_weight": 100,
            "wait_seconds": 30, "total_steps": 2, "already_applied": false,
            "watching": false, "watch_seconds": 30,
            "error": {"Error": "States.Timeout", "Cause": "x"}
        }));
        let (input, _) = parse(value).unwrap();
        assert_eq!(input.step, 1);
    }

    #[test]
    fn custom_strategies() {
        let (strategy, name) =
            parse_strategy(&json!({"canary": {"percent": 2.5, "interval_seconds": 60}})).unwrap();
        assert_eq!(
            strategy,
            Strategy::Canary {
                permille: 25,
                interval_seconds: 60
            }
        );
        assert_eq!(name, "canary");
        let (strategy, _) = parse_strategy(&json!({"steps": [
            {"percent": 1, "wait_seconds": 30}, {"percent": 50, "wait_seconds": 60}, {"percent": 100}
        ]}))
        .unwrap();
        assert_eq!(
            strategy,
            Strategy::Steps(vec![
                StepSpec {
                    green_permille: 10,
                    wait_seconds: 30,
                    pause: None,
                },
                StepSpec {
                    green_permille: 500,
                    wait_seconds: 60,
                    pause: None,
                },
                StepSpec {
                    green_permille: 1000,
                    wait_seconds: 0,
                    pause: None,
                },
            ])
        );
    }

    #[test]
    fn malformed_specs_are_refused_with_the_reason() {
        let cases = [
            (with(json!({"listener_arn": null})), "listener_arn"),
            (
                with(json!({"rule_arn": LISTENER.replace("listener/", "listener-rule/")})),
                "not both",
            ),
            (
                with(json!({"listener_arn": "listener-1"})),
                "listener_arn must be",
            ),
            (
                with(json!({"green_target_group_arn": BLUE})),
                "same target group",
            ),
            (
                with(json!({"strategy": "Canary10Percent"})),
                "unknown strategy preset",
            ),
            (with(json!({"strategy": 10})), "preset name or an object"),
            (
                with(json!({"strategy": {"canary": {"percent": 150, "interval_seconds": 1}}})),
                "at most 100",
            ),
            (
                with(json!({"strategy": {"linear": {"percent": 10.05, "interval_seconds": 1}}})),
                "more than one decimal",
            ),
            (
                with(
                    json!({"strategy": {"steps": [{"percent": 50}, {"percent": 20}, {"percent": 100}]}}),
                ),
                "must increase",
            ),
            (
                with(json!({"strategy": {"steps": [{"percent": 50}]}})),
                "must be 100 percent",
            ),
            (
                with(json!({"strategy": {"steps": [{"percent": 100, "wait_seconds": 5}]}})),
                "bake_seconds",
            ),
            (
                with(json!({"strategy": {"rolling": {}}})),
                "unknown variant",
            ),
            (
                with(json!({"health_gat": false})),
                "unknown field `health_gat`",
            ),
            (
                with(json!({"action": "deploy"})),
                "unknown variant `deploy`",
            ),
            (with(json!({"time_scale": 0})), "time_scale"),
            (with(json!({"time_scale": 2})), "time_scale"),
            (with(json!({"alarms": ["ok", " "]})), "empty name"),
            (
                with(json!({"blue_target_group_arn": null})),
                "blue_target_group_arn",
            ),
            (with(json!({"bake_seconds": 400_000_000u64})), "at most"),
            (
                with(json!({"watch_seconds": 5})),
                "watch_seconds must be at least 10",
            ),
            (
                with(json!({"watch_seconds": -1})),
                "invalid value: integer `-1`",
            ),
            (with(json!({"watch_seconds": 400_000_000u64})), "at most"),
            (with(json!({"action": "watch"})), "wait_until_ms"),
            (with(json!({"promote": true})), "\"action\": \"promote\""),
        ];
        for (value, expected) in cases {
            let message = error_of(value.clone());
            assert!(message.contains(expected), "{value}: {message}");
        }
    }
}
