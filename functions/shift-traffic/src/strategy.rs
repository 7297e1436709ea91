//! The rollout strategy: a CodeDeploy preset name or a custom canary, linear or step list,
//! checked and turned into the plan's `Strategy`. Pure.

use serde::Deserialize;
use serde_json::Value;

use crate::error::Error;
use crate::pause::Pause;
use crate::plan::{FULL, StepSpec, Strategy};
use crate::spec::{MAX_WAIT_SECONDS, check_wait, invalid};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum CustomStrategy {
    Canary(Interval),
    Linear(Interval),
    /// Each item a step `{"percent", "wait_seconds"}` or a pause `{"pause": {…}}` after the step
    /// before it: read one by one, so an error names the item.
    Steps(Vec<Value>),
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

fn parse_steps(items: &[Value]) -> Result<Strategy, Error> {
    if items.is_empty() {
        return Err(invalid("strategy.steps is empty"));
    }
    let mut out: Vec<StepSpec> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        if let Some(pause) = item.get("pause") {
            if item.as_object().is_some_and(|o| o.len() > 1) {
                return Err(invalid(format!(
                    "strategy.steps[{i}] is a pause: it holds only \"pause\""
                )));
            }
            let pause = Pause::parse(&format!("strategy.steps[{i}].pause"), pause)?;
            let Some(previous) = out.last_mut() else {
                return Err(invalid(
                    "strategy.steps[0] is a pause: a pause holds the rollout after a step, so a step comes first",
                ));
            };
            if previous.pause.is_some() {
                return Err(invalid(format!(
                    "strategy.steps[{i}] is a second pause after the same step"
                )));
            }
            previous.pause = Some(pause);
            continue;
        }
        let step: StepInput = serde_json::from_value(item.clone())
            .map_err(|e| invalid(format!("strategy.steps[{i}]: {e}")))?;
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
            pause: None,
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
    if last.pause.is_some() {
        return Err(invalid(
            "strategy.steps ends with a pause: after the final step comes the bake, nothing to approve",
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
