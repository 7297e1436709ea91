//! Human gates: a rollout may hold after a step until a person approves. Pure: how a pause is
//! written in a spec, which step waits for one, and the commands that answer it.
//!
//! The step that would move past a pause checks the gates, writes nothing and answers
//! `AwaitingApproval` with `approval` (the step, the pause's time after `time_scale`, what
//! happens then). The state machine then waits on a Step Functions task token
//! (`lambda:invoke.waitForTaskToken`): shift-traffic publishes an approval event carrying the
//! token in ready-to-run `send-task-success` / `send-task-failure` commands, and the same step
//! runs again once a person approved (`approved` is then set), or the pause's `on_timeout` applies.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::Error;
use crate::plan::{PlannedStep, scaled};
use crate::spec::{check_wait, invalid};

/// What happens when nobody answers within the pause's timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnTimeout {
    /// Back to blue.
    Rollback,
    /// On to 100 % through the gates, the waits left skipped.
    Promote,
    /// End the execution with the weights where they are.
    Stop,
}

impl OnTimeout {
    pub fn as_str(self) -> &'static str {
        match self {
            OnTimeout::Rollback => "rollback",
            OnTimeout::Promote => "promote",
            OnTimeout::Stop => "stop",
        }
    }
}

/// `{"timeout_seconds": N, "on_timeout": "rollback" | "promote" | "stop"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pause {
    pub timeout_seconds: u64,
    pub on_timeout: OnTimeout,
}

impl Pause {
    /// Reads and checks a pause written at `field`.
    pub fn parse(field: &str, value: &Value) -> Result<Pause, Error> {
        let pause: Pause = serde_json::from_value(value.clone()).map_err(|e| {
            invalid(format!(
                "{field} must be {{\"timeout_seconds\": N, \"on_timeout\": \"rollback\"|\"promote\"|\"stop\"}}: {e}"
            ))
        })?;
        if pause.timeout_seconds == 0 {
            return Err(invalid(format!("{field}.timeout_seconds must be above 0")));
        }
        check_wait(&format!("{field}.timeout_seconds"), pause.timeout_seconds)?;
        Ok(pause)
    }
}

/// What a step waiting for a person answers with (and the state machine reads): the step that
/// waits, the pause's time after `time_scale` (at least a second), what happens then.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    pub step: u32,
    pub timeout_seconds: u64,
    pub on_timeout: OnTimeout,
}

/// The pause that holds step `index` back (the one after the step before it), unless `approved`
/// names this step. Step 0 and the check after the bake never wait.
pub fn pending(plan: &[PlannedStep], index: usize, approved: Option<u32>) -> Option<Pause> {
    if index == 0 || index >= plan.len() {
        return None;
    }
    let pause = plan[index - 1].pause?;
    (approved != Some(index as u32)).then_some(pause)
}

pub fn approval(index: usize, pause: Pause, time_scale: f64) -> Approval {
    Approval {
        step: index as u32,
        timeout_seconds: scaled(pause.timeout_seconds, time_scale).max(1),
        on_timeout: pause.on_timeout,
    }
}

/// The commands a person runs: approve (any JSON output; it is kept as `approved`) or reject
/// (the error name `Rejected` and the reason roll the rollout back).
pub fn commands(task_token: &str) -> (String, String) {
    let token = shell_quote(task_token);
    (
        format!(
            "aws stepfunctions send-task-success --task-token {token} --task-output '{{\"approved_by\": \"<your name>\"}}'"
        ),
        format!(
            "aws stepfunctions send-task-failure --task-token {token} --error Rejected --cause '<why>'"
        ),
    )
}

/// Single quotes for a POSIX shell; a task token has none, but nothing from outside is trusted.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::plan::Weights;

    fn step(pause: Option<Pause>) -> PlannedStep {
        PlannedStep {
            green_permille: 100,
            weights: Weights::for_green_share(100),
            wait_seconds: 0,
            pause,
        }
    }

    const HOUR: Pause = Pause {
        timeout_seconds: 3600,
        on_timeout: OnTimeout::Rollback,
    };

    #[test]
    fn a_pause_holds_the_step_after_it_until_approved() {
        let plan = [step(Some(HOUR)), step(None), step(None)];
        assert_eq!(pending(&plan, 0, None), None);
        assert_eq!(pending(&plan, 1, None), Some(HOUR));
        assert_eq!(pending(&plan, 1, Some(1)), None, "approved");
        assert_eq!(
            pending(&plan, 1, Some(2)),
            Some(HOUR),
            "another step's approval"
        );
        assert_eq!(pending(&plan, 2, None), None);
        assert_eq!(pending(&plan, 3, None), None, "the check after the bake");
    }

    #[test]
    fn the_pause_is_scaled_but_never_below_a_second() {
        assert_eq!(approval(1, HOUR, 0.01).timeout_seconds, 36);
        assert_eq!(approval(1, HOUR, 0.0001).timeout_seconds, 1);
    }

    #[test]
    fn pauses_are_checked() {
        let ok = Pause::parse(
            "p",
            &json!({"timeout_seconds": 60, "on_timeout": "promote"}),
        );
        assert_eq!(ok.unwrap().on_timeout, OnTimeout::Promote);
        for bad in [
            json!({"timeout_seconds": 0, "on_timeout": "stop"}),
            json!({"timeout_seconds": 60, "on_timeout": "wait"}),
            json!({"timeout_seconds": 60}),
            json!({"timeout_seconds": 60, "on_timeout": "stop", "extra": 1}),
            json!(60),
        ] {
            assert!(Pause::parse("p", &bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_pause_in_the_steps_holds_the_step_before_it() {
        let (strategy, _) = crate::spec::parse_strategy(&json!({"steps": [
            {"percent": 10, "wait_seconds": 60},
            {"pause": {"timeout_seconds": 3600, "on_timeout": "rollback"}},
            {"percent": 50},
            {"percent": 100},
        ]}))
        .unwrap();
        let plan = crate::plan::plan(&strategy, 0);
        let pauses: Vec<bool> = plan.iter().map(|s| s.pause.is_some()).collect();
        assert_eq!(pauses, [true, false, false]);
        for (bad, why) in [
            (
                json!([{"pause": {"timeout_seconds": 1, "on_timeout": "stop"}}, {"percent": 100}]),
                "a step comes first",
            ),
            (
                json!([{"percent": 10}, {"pause": {"timeout_seconds": 1, "on_timeout": "stop"}}, {"pause": {"timeout_seconds": 1, "on_timeout": "stop"}}, {"percent": 100}]),
                "second pause",
            ),
            (
                json!([{"percent": 100}, {"pause": {"timeout_seconds": 1, "on_timeout": "stop"}}]),
                "ends with a pause",
            ),
            (
                json!([{"percent": 10, "pause": {"timeout_seconds": 1, "on_timeout": "stop"}}, {"percent": 100}]),
                "holds only",
            ),
        ] {
            let err = crate::spec::parse_strategy(&json!({"steps": bad})).unwrap_err();
            assert!(err.to_string().contains(why), "{err}");
        }
    }

    #[test]
    fn a_preset_pauses_before_its_final_step() {
        let (canary, _) =
            crate::spec::parse_strategy(&json!("Linear10PercentEvery1Minute")).unwrap();
        let plan = crate::plan::plan_with(&canary, 0, Some(HOUR));
        let held: Vec<usize> = (0..plan.len())
            .filter(|i| plan[*i].pause.is_some())
            .collect();
        assert_eq!(held, [plan.len() - 2]);
        assert_eq!(pending(&plan, plan.len() - 1, None), Some(HOUR));
    }

    #[test]
    fn commands_carry_the_token_quoted() {
        let (approve, reject) = commands("AAAA/token+x=");
        assert!(approve.contains("send-task-success --task-token 'AAAA/token+x='"));
        assert!(reject.contains("send-task-failure --task-token 'AAAA/token+x=' --error Rejected"));
        let (quoted, _) = commands("a'b");
        assert!(quoted.contains(r"'a'\''b'"), "{quoted}");
    }
}
