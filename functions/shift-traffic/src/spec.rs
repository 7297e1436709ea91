//! The rollout spec: the function's JSON input. One step's output is the next step's input, so
//! the fields a step returns are accepted here and ignored; any other unknown field is refused,
//! since a misspelt gate must not silently switch the gate off.

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::Error;
use crate::plan::{FULL, StepSpec, Strategy};

/// At most one DescribeAlarms page by name.
const MAX_ALARMS: usize = 100;
/// Step Functions executions last at most a year; no single wait may be longer.
const MAX_WAIT_SECONDS: u64 = 365 * 24 * 3600;

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
    #[serde(default = "default_time_scale")]
    pub time_scale: f64,
    #[serde(default)]
    pub step: u32,
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
}

/// The Step Functions execution running the rollout.
#[derive(Debug, Clone, Deserialize)]
pub struct ExecutionRef {
    pub id: String,
}

impl Input {
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
    pub time_scale: f64,
}

/// Parses and validates the invocation payload.
pub fn parse(payload: Value) -> Result<(Input, Spec), Error> {
    let input: Input =
        serde_json::from_value(payload).map_err(|e| Error::InvalidSpec(e.to_string()))?;
    let spec = validate(&input)?;
    Ok((input, spec))
}

fn invalid(message: impl Into<String>) -> Error {
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
        time_scale: input.time_scale,
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

fn check_wait(field: &str, seconds: u64) -> Result<(), Error> {
    if seconds > MAX_WAIT_SECONDS {
        Err(invalid(format!(
            "{field} is {seconds} s; a Step Functions execution lasts at most {MAX_WAIT_SECONDS} s"
        )))
    } else {
        Ok(())
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum CustomStrategy {
    Canary(Interval),
    Linear(Interval),
    Steps(Vec<StepInput>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Interval {
    percent: f64,
    interval_seconds: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StepInput {
    percent: f64,
    #[serde(default)]
    wait_seconds: u64,
}

/// A preset name (CodeDeploy's, with or without `CodeDeployDefault.` and the `ECS`/`Lambda`
/// prefix) or a `{"canary"|"linear"|"steps": …}` object.
pub fn parse_strategy(value: &Value) -> Result<(Strategy, String), Error> {
    match value {
        Value::String(name) => {
            let strategy = parse_preset(name.trim()).ok_or_else(|| {
                invalid(format!(
                    "unknown strategy preset {name:?}; use e.g. Canary10Percent5Minutes, \
                     Linear10PercentEvery1Minute, AllAtOnce, or an object \
                     {{\"canary\"|\"linear\": {{\"percent\", \"interval_seconds\"}}}} or \
                     {{\"steps\": [{{\"percent\", \"wait_seconds\"}}]}}"
                ))
            })?;
            Ok((strategy, name.trim().to_string()))
        }
        Value::Object(_) => {
            let custom: CustomStrategy = serde_json::from_value(value.clone())
                .map_err(|e| invalid(format!("strategy: {e}")))?;
            match custom {
                CustomStrategy::Canary(i) => {
                    let permille = permille("strategy.canary.percent", i.percent)?;
                    if permille >= FULL {
                        return Err(invalid(
                            "strategy.canary.percent must be below 100 (use AllAtOnce)",
                        ));
                    }
                    check_wait("strategy.canary.interval_seconds", i.interval_seconds)?;
                    Ok((
                        Strategy::Canary {
                            permille,
                            interval_seconds: i.interval_seconds,
                        },
                        "canary".into(),
                    ))
                }
                CustomStrategy::Linear(i) => {
                    let permille = permille("strategy.linear.percent", i.percent)?;
                    check_wait("strategy.linear.interval_seconds", i.interval_seconds)?;
                    Ok((
                        Strategy::Linear {
                            permille,
                            interval_seconds: i.interval_seconds,
                        },
                        "linear".into(),
                    ))
                }
                CustomStrategy::Steps(steps) => Ok((parse_steps(&steps)?, "custom".into())),
            }
        }
        other => Err(invalid(format!(
            "strategy must be a preset name or an object, got {other}"
        ))),
    }
}

fn parse_steps(steps: &[StepInput]) -> Result<Strategy, Error> {
    if steps.is_empty() {
        return Err(invalid("strategy.steps is empty"));
    }
    let mut out: Vec<StepSpec> = Vec::with_capacity(steps.len());
    for (i, step) in steps.iter().enumerate() {
        let field = format!("strategy.steps[{i}].percent");
        let green_permille = permille(&field, step.percent)?;
        if let Some(prev) = out.last()
            && green_permille <= prev.green_permille
        {
            return Err(invalid(format!(
                "strategy.steps must increase: step {i} ({} %) is not above the one before it",
                step.percent
            )));
        }
        check_wait(
            &format!("strategy.steps[{i}].wait_seconds"),
            step.wait_seconds,
        )?;
        out.push(StepSpec {
            green_permille,
            wait_seconds: step.wait_seconds,
        });
    }
    let last = out[out.len() - 1];
    if last.green_permille != FULL {
        return Err(invalid(
            "the last of strategy.steps must be 100 percent (roll back to stop early)",
        ));
    }
    if last.wait_seconds != 0 {
        return Err(invalid(
            "the last of strategy.steps has a wait_seconds; the wait after the final step is bake_seconds",
        ));
    }
    Ok(Strategy::Steps(out))
}

/// A percent in (0, 100] with at most one decimal, as per-mille.
fn permille(field: &str, percent: f64) -> Result<u16, Error> {
    let tenths = percent * 10.0;
    if !(percent.is_finite() && percent > 0.0 && percent <= 100.0) {
        return Err(invalid(format!(
            "{field} must be above 0 and at most 100, got {percent}"
        )));
    }
    if (tenths - tenths.round()).abs() > 1e-6 {
        return Err(invalid(format!(
            "{field} has more than one decimal ({percent}); ALB weights resolve 0.1 %"
        )));
    }
    Ok(tenths.round() as u16)
}

/// CodeDeploy's names: `Canary10Percent5Minutes`, `Linear10PercentEvery1Minute`, `AllAtOnce`,
/// optionally as `CodeDeployDefault.ECSCanary10Percent5Minutes` or `…LambdaLinear…`.
pub fn parse_preset(name: &str) -> Option<Strategy> {
    let name = name.strip_prefix("CodeDeployDefault.").unwrap_or(name);
    let name = name
        .strip_prefix("ECS")
        .or_else(|| name.strip_prefix("Lambda"))
        .unwrap_or(name);
    if name == "AllAtOnce" {
        return Some(Strategy::AllAtOnce);
    }
    let minutes = |rest: &str| -> Option<u64> {
        let digits = rest
            .strip_suffix("Minutes")
            .or_else(|| rest.strip_suffix("Minute"))?;
        let minutes: u64 = digits.parse().ok()?;
        (1..=MAX_WAIT_SECONDS / 60)
            .contains(&minutes)
            // Lazily: the product overflows for the out-of-range values refused here.
            .then(|| minutes * 60)
    };
    let percent = |digits: &str, max: u16| -> Option<u16> {
        let p: u16 = digits.parse().ok()?;
        (1..=max).contains(&p).then(|| p * 10)
    };
    if let Some(rest) = name.strip_prefix("Canary") {
        let (p, rest) = rest.split_once("Percent")?;
        return Some(Strategy::Canary {
            permille: percent(p, 99)?,
            interval_seconds: minutes(rest)?,
        });
    }
    if let Some(rest) = name.strip_prefix("Linear") {
        let (p, rest) = rest.split_once("PercentEvery")?;
        return Some(Strategy::Linear {
            permille: percent(p, 100)?,
            interval_seconds: minutes(rest)?,
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
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
        assert_eq!(spec.strategy_name, "Canary10Percent5Minutes");
    }

    #[test]
    fn a_previous_steps_output_is_accepted() {
        let value = with(json!({
            "action": "step", "step": 1, "status": "Shifted", "done": false,
            "green_percent": 10.0, "blue_weight": 900, "green_weight": 100,
            "wait_seconds": 300, "total_steps": 2, "already_applied": false,
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
                    wait_seconds: 30
                },
                StepSpec {
                    green_permille: 500,
                    wait_seconds: 60
                },
                StepSpec {
                    green_permille: 1000,
                    wait_seconds: 0
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
        ];
        for (value, expected) in cases {
            let message = error_of(value.clone());
            assert!(message.contains(expected), "{value}: {message}");
        }
    }
}
