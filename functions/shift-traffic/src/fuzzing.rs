//! The property the `spec_plan` fuzz target checks (`fuzz/`), shared with the regression test
//! below so every input the fuzzer ever tripped on is checked again by `cargo test`.
//!
//! Property: any bytes, read as a whole spec or as just its `strategy`, parse without panicking
//! into either an `InvalidSpec` error or a plan that ALB can apply: weights 0 to 999, green's
//! share strictly rising, the last step all green; the step decision (a promoted one too)
//! never writes weights outside that plan; and the watch interval is a whole second or more.

use serde_json::{Value, json};

use crate::decide::{Decision, decide, decide_promote, resume_step};
use crate::error::Error;
use crate::plan::{FULL, MAX_WEIGHT, PlannedStep, Weights, plan, scaled};
use crate::spec::parse;

pub use rollout_kit::corpus::Violation;
use rollout_kit::corpus::violation;

/// The payload `data` stands for: a spec when it is a JSON object with an `action`; otherwise
/// the `strategy` of a valid spec (JSON, or a preset name as text).
pub fn payload(data: &[u8]) -> Value {
    let parsed = serde_json::from_slice::<Value>(data).ok();
    if let Some(spec) = parsed.as_ref().filter(|v| v.get("action").is_some()) {
        return spec.clone();
    }
    let strategy =
        parsed.unwrap_or_else(|| Value::String(String::from_utf8_lossy(data).into_owned()));
    json!({
        "action": "plan",
        "listener_arn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/shop/50dc6c495c0c9188/f2f7dc8efc522ab2",
        "blue_target_group_arn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/shop-blue/73e2d6bc24d8a067",
        "green_target_group_arn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/shop-green/943f017f100becff",
        "strategy": strategy,
        "bake_seconds": 600,
    })
}

pub fn check_spec_plan(data: &[u8]) -> Result<(), Violation> {
    let (_, spec) = match parse(payload(data)) {
        Ok(parsed) => parsed,
        Err(Error::InvalidSpec(_)) => return Ok(()),
        Err(other) => return violation(format!("a bad spec gave {other:?}, not InvalidSpec")),
    };
    let steps = plan(&spec.strategy, spec.bake_seconds);
    check_plan(&steps)?;
    for step in &steps {
        let _ = scaled(step.wait_seconds, spec.time_scale);
    }
    if crate::waits::watch_interval(&spec, &steps) == 0 {
        return violation("a watch interval of 0 s would spin the state machine");
    }
    check_decisions(&steps)
}

/// Weights on ALB's scale, shares strictly rising, the last step all green.
pub fn check_plan(steps: &[PlannedStep]) -> Result<(), Violation> {
    let Some(last) = steps.last() else {
        return violation("an empty plan");
    };
    for (i, step) in steps.iter().enumerate() {
        let Weights { blue, green } = step.weights;
        if !(0..=MAX_WEIGHT).contains(&blue) || !(0..=MAX_WEIGHT).contains(&green) {
            return violation(format!("step {i}: weights {blue}/{green} outside 0..=999"));
        }
        if blue + green == 0 {
            return violation(format!("step {i}: both weights 0"));
        }
        if step.weights != Weights::for_green_share(step.green_permille) {
            return violation(format!("step {i}: weights do not match its share"));
        }
        if i > 0 && step.green_permille <= steps[i - 1].green_permille {
            return violation(format!("step {i}: green's share does not rise"));
        }
    }
    if last.green_permille != FULL || last.weights.blue != 0 {
        return violation(format!(
            "the last step is {:?}, not all green",
            last.weights
        ));
    }
    Ok(())
}

/// From every state the listener can be in around each step (all blue, a planned step, a
/// foreign mix), a write only ever moves from the previous planned step to the current one.
fn check_decisions(steps: &[PlannedStep]) -> Result<(), Violation> {
    let foreign = Weights {
        blue: 123,
        green: 457,
    };
    let _ = resume_step(steps, foreign);
    for index in 0..=steps.len() {
        let mut states = vec![Weights::ALL_BLUE, foreign];
        states.extend(
            index
                .checked_sub(1)
                .and_then(|i| steps.get(i))
                .map(|s| s.weights),
        );
        states.extend(steps.get(index).map(|s| s.weights));
        for current in states {
            let expected_from = match index {
                0 => Weights::ALL_BLUE,
                _ => steps[index - 1].weights,
            };
            match decide(steps, index, current) {
                Decision::Apply(target) => {
                    let planned = steps.get(index).map(|s| s.weights);
                    if Some(target) != planned {
                        return violation(format!(
                            "step {index} would write {target:?}, planned {planned:?}"
                        ));
                    }
                    let from_expected =
                        current == expected_from || (index == 0 && current.is_all_blue());
                    if !from_expected {
                        return violation(format!(
                            "step {index} would write over {current:?}, not over {expected_from:?}"
                        ));
                    }
                }
                Decision::AlreadyApplied => {
                    if steps.get(index).map(|s| s.weights) != Some(current) {
                        return violation(format!("step {index} already applied at {current:?}"));
                    }
                }
                Decision::FinalCheck | Decision::Drift { .. } => {}
            }
            // A promote writes the last step's weights, and only where this step would write.
            if let Decision::Apply(target) = decide_promote(steps, index, current) {
                let last = steps.last().map(|s| s.weights);
                if Some(target) != last {
                    return violation(format!("a promote would write {target:?}, not {last:?}"));
                }
                if !matches!(decide(steps, index, current), Decision::Apply(_)) {
                    return violation(format!(
                        "a promote at step {index} would write over {current:?}"
                    ));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use rollout_kit::corpus::files_in;

    #[test]
    fn fuzz_regressions_seeds_and_samples_hold() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let files = files_in(&[
            root.join("fuzz/regressions/spec_plan"),
            root.join("fuzz/seeds/spec_plan"),
            root.join("events/shift-traffic"),
        ]);
        assert!(files.len() >= 14, "seeds missing: {}", files.len());
        let broken = rollout_kit::corpus::broken(&files, check_spec_plan);
        assert!(broken.is_empty(), "{broken:#?}");
    }

    #[test]
    fn a_bare_strategy_is_planned_inside_a_valid_spec() {
        let preset = payload(b"Linear10PercentEvery1Minute");
        assert_eq!(preset["strategy"], "Linear10PercentEvery1Minute");
        let (_, spec) = parse(preset).unwrap();
        assert_eq!(plan(&spec.strategy, 0).len(), 10);
        let custom = payload(br#"{"steps": [{"percent": 50}, {"percent": 100}]}"#);
        assert!(custom["strategy"].is_object());
        assert_eq!(
            check_spec_plan(br#"{"canary": {"percent": 0.1, "interval_seconds": 1}}"#),
            Ok(())
        );
    }

    #[test]
    fn the_check_catches_a_plan_outside_alb_rules() {
        let step = |green_permille: u16| PlannedStep {
            green_permille,
            weights: Weights::for_green_share(green_permille),
            wait_seconds: 0,
            pause: None,
        };
        assert_eq!(check_plan(&[step(100), step(1000)]), Ok(()));
        assert!(check_plan(&[step(500), step(100), step(1000)]).is_err());
        assert!(check_plan(&[step(100), step(900)]).is_err());
        assert!(check_plan(&[]).is_err());
        let mut heavy = step(1000);
        heavy.weights.green = 1000;
        assert!(check_plan(&[heavy]).is_err());
    }
}
