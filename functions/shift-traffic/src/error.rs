//! The one error type of shift-traffic. Each variant has a stable `errorType`, which the state
//! machine's `Catch` branches on: drift, another writer, a lost or held lease and configuration
//! errors stop without touching the listener; `Throttled` is retried; everything else rolls
//! back.

use rollout_kit::ErrorKind;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid rollout spec: {0}")]
    InvalidSpec(String),

    #[error("listener not found: {arn}")]
    ListenerNotFound { arn: String },

    #[error("listener rule not found: {arn}")]
    RuleNotFound { arn: String },

    #[error("target group not found: {detail}")]
    TargetGroupNotFound { detail: String },

    #[error(
        "{target} has no forward action (its actions: {types}); only a forward action's weights can be shifted"
    )]
    NotForwardAction { target: String, types: String },

    #[error(
        "the forward action of {target} does not include the {role} target group {arn}; attach both (green at weight 0) before starting"
    )]
    TargetGroupNotInAction {
        target: String,
        role: &'static str,
        arn: String,
    },

    #[error("the forward action of {target} has {count} target groups; ALB allows at most 5")]
    TooManyTargetGroups { target: String, count: usize },

    #[error("target group {arn} has weight {weight} in {target}; ALB weights are 0 to 999")]
    WeightOutOfRange {
        target: String,
        arn: String,
        weight: i32,
    },

    #[error(
        "drift on {target}: expected blue {expected_blue} / green {expected_green} ({expected}), found blue {found_blue} / green {found_green}; another writer changed the weights, nothing was written"
    )]
    DriftDetected {
        target: String,
        expected: String,
        expected_blue: i32,
        expected_green: i32,
        found_blue: i32,
        found_green: i32,
    },

    #[error("cannot read the watched alarms: {0}")]
    AlarmUnreadable(String),

    #[error(
        "the write to {target} did not read back as written: {detail}; another writer acted right after it, so the weights stay as they are"
    )]
    WriteNotVerified { target: String, detail: String },

    #[error(
        "{operation} did not succeed in time ({attempts} attempts): {detail}; the step is safe to retry"
    )]
    Throttled {
        operation: &'static str,
        attempts: u32,
        detail: String,
    },

    #[error(
        "{target} is being shifted by rollout {holder} (lease version {version}, expires in {expires_in_seconds} s); wait for it to end, or take it over with a rollback"
    )]
    LeaseHeld {
        target: String,
        holder: String,
        version: u64,
        expires_in_seconds: u64,
    },

    #[error(
        "this rollout no longer holds the lease on {target} (it held version {version}; now held by {now_held_by}): a rollback or another rollout took over, nothing was written"
    )]
    LeaseLost {
        target: String,
        version: u64,
        now_held_by: String,
    },

    #[error(
        "rollback refused on {target}: blue {found_blue} / green {found_green} is not a weight this rollout's plan writes, so someone else set it; nothing was written (send \"force\": true to put all traffic on blue anyway)"
    )]
    RollbackRefused {
        target: String,
        found_blue: i32,
        found_green: i32,
    },

    #[error(
        "{request} not recorded for {target}: {detail}; use rollback to put all traffic on blue without a running rollout"
    )]
    RequestRefused {
        target: String,
        request: &'static str,
        detail: String,
    },

    #[error("blue's Auto Scaling group {group} was not scaled in: {reason}; its size is as it was")]
    ScaleDownRefused { group: String, reason: String },

    #[error("{operation} failed: {summary}")]
    Aws {
        operation: &'static str,
        summary: String,
    },
}

impl ErrorKind for Error {
    fn kind(&self) -> &'static str {
        match self {
            Error::InvalidSpec(_) => "InvalidSpec",
            Error::ListenerNotFound { .. } => "ListenerNotFound",
            Error::RuleNotFound { .. } => "RuleNotFound",
            Error::TargetGroupNotFound { .. } => "TargetGroupNotFound",
            Error::NotForwardAction { .. } => "NotForwardAction",
            Error::TargetGroupNotInAction { .. } => "TargetGroupNotInAction",
            Error::TooManyTargetGroups { .. } => "TooManyTargetGroups",
            Error::WeightOutOfRange { .. } => "WeightOutOfRange",
            Error::DriftDetected { .. } => "DriftDetected",
            Error::AlarmUnreadable(_) => "AlarmUnreadable",
            Error::WriteNotVerified { .. } => "WriteNotVerified",
            Error::Throttled { .. } => "Throttled",
            Error::LeaseHeld { .. } => "LeaseHeld",
            Error::LeaseLost { .. } => "LeaseLost",
            Error::RollbackRefused { .. } => "RollbackRefused",
            Error::RequestRefused { .. } => "RequestRefused",
            Error::ScaleDownRefused { .. } => "ScaleDownRefused",
            Error::Aws { .. } => "AwsError",
        }
    }
}

impl Error {
    /// Every `errorType` this function can return, for the contract test of the state
    /// machine's `Retry` and `Catch` lists.
    pub const KINDS: &'static [&'static str] = &[
        "InvalidSpec",
        "ListenerNotFound",
        "RuleNotFound",
        "TargetGroupNotFound",
        "NotForwardAction",
        "TargetGroupNotInAction",
        "TooManyTargetGroups",
        "WeightOutOfRange",
        "DriftDetected",
        "AlarmUnreadable",
        "WriteNotVerified",
        "Throttled",
        "LeaseHeld",
        "LeaseLost",
        "RollbackRefused",
        "RequestRefused",
        "ScaleDownRefused",
        "AwsError",
    ];

    /// Errors after which the rollout stops with the weights where they are: someone else owns
    /// them now, or acting would mean acting on a signal nobody saw. Writing blue back would
    /// overwrite them.
    pub const STOP_IN_PLACE: &'static [&'static str] = &[
        "DriftDetected",
        "AlarmUnreadable",
        "WriteNotVerified",
        "LeaseHeld",
        "LeaseLost",
        "RollbackRefused",
        "InvalidSpec",
        "ListenerNotFound",
        "RuleNotFound",
        "TargetGroupNotFound",
        "NotForwardAction",
        "TargetGroupNotInAction",
        "TooManyTargetGroups",
        "WeightOutOfRange",
    ];

    /// Errors the state machine retries: the step is idempotent.
    pub const RETRYABLE: &'static [&'static str] = &["Throttled"];

    /// Errors only a person's direct invocation gets (`promote`, `abort`): the state machine
    /// never sends those actions, so no state names them.
    pub const DIRECT_ONLY: &'static [&'static str] = &["RequestRefused"];

    /// The task states that invoke shift-traffic for a rollout step or a watch: each stops in
    /// place, retries and rolls back on the same errors.
    pub const TASK_STATES: &'static [&'static str] = &["Shift", "Watch", "AwaitApproval"];
}

impl From<Error> for lambda_runtime::Diagnostic {
    fn from(err: Error) -> Self {
        rollout_kit::diagnostic(&err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    const MACHINE: &str = include_str!("../../../statemachine/rollout.asl.json");

    fn names(rules: &Value) -> Vec<Vec<String>> {
        rules
            .as_array()
            .map(|rules| {
                rules
                    .iter()
                    .map(|r| {
                        r["ErrorEquals"]
                            .as_array()
                            .expect("ErrorEquals")
                            .iter()
                            .map(|n| n.as_str().expect("a name").to_string())
                            .collect()
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The state machine branches on our error names: each must exist, and every error that
    /// must stop in place must reach `Stopped` before the catch-all that rolls back.
    #[test]
    fn the_state_machine_names_our_errors() {
        let machine: Value = serde_json::from_str(MACHINE).expect("valid ASL JSON");
        let foreign = |name: &str| name.starts_with("States.") || name.starts_with("Lambda.");
        for (state, body) in machine["States"].as_object().expect("States") {
            for list in names(&body["Retry"])
                .into_iter()
                .chain(names(&body["Catch"]))
            {
                for name in list {
                    assert!(
                        foreign(&name) || Error::KINDS.contains(&name.as_str()),
                        "{state} names {name}, which shift-traffic never returns"
                    );
                }
            }
        }
        for state in Error::TASK_STATES {
            let task = &machine["States"][*state];
            assert_eq!(task["Type"], "Task", "{state}");
            let catches = names(&task["Catch"]);
            assert_eq!(task["Catch"][0]["Next"], "Stopped", "{state}");
            for kind in Error::STOP_IN_PLACE {
                assert!(
                    catches[0].iter().any(|n| n == kind),
                    "{state}: {kind} does not stop in place"
                );
            }
            for name in &catches[0] {
                assert!(
                    Error::STOP_IN_PLACE.contains(&name.as_str()),
                    "{state}: {name} stops but is not listed"
                );
            }
            for kind in Error::RETRYABLE {
                assert!(
                    names(&task["Retry"])[0].iter().any(|n| n == kind),
                    "{state}: {kind} not retried"
                );
            }
            // Anything else rolls back: the last catcher. (A pause's timeout comes between:
            // its on_timeout decides.)
            let catches = names(&task["Catch"]);
            let last = catches.len() - 1;
            assert_eq!(catches[last], vec!["States.ALL".to_string()]);
            assert_eq!(task["Catch"][last]["Next"], "PrepareRollback", "{state}");
            for middle in &catches[1..last] {
                assert_eq!(middle, &vec!["States.Timeout".to_string()], "{state}");
            }
        }
        // A pause's timeout goes where its on_timeout says, each value to its own state.
        let timed_out = &machine["States"]["ApprovalTimedOut?"];
        for (value, next) in [
            ("promote", "PromoteAfterTimeout"),
            ("stop", "ApprovalExpired"),
        ] {
            assert!(
                timed_out["Choices"].as_array().is_some_and(|c| c
                    .iter()
                    .any(|c| c["StringEquals"] == value && c["Next"] == next)),
                "{value}"
            );
        }
        assert_eq!(timed_out["Default"], "PrepareRollback");
        for value in ["rollback", "promote", "stop"] {
            assert_eq!(
                serde_json::to_value(
                    serde_json::from_value::<crate::pause::OnTimeout>(Value::from(value))
                        .expect("an on_timeout")
                )
                .ok(),
                Some(Value::from(value))
            );
        }
        // A watch that finds a failed gate (or an abort) goes to the rollback with its reason.
        let watched = machine["States"]["Watched?"]["Choices"]
            .as_array()
            .expect("Watched? has choices");
        assert!(
            watched
                .iter()
                .any(|c| c["StringEquals"] == "rollback" && c["Next"] == "Rollback"),
            "{watched:?}"
        );
        for kind in Error::DIRECT_ONLY {
            assert!(Error::KINDS.contains(kind));
            assert!(
                !MACHINE.contains(kind),
                "{kind} is for direct invocations only"
            );
        }
        // A refused or lost rollback is not retried, and ends stopped, not failed.
        let rollback = &machine["States"]["Rollback"];
        for kind in ["RollbackRefused", "LeaseLost", "WriteNotVerified"] {
            assert!(!names(&rollback["Retry"]).concat().iter().any(|n| n == kind));
            assert!(names(&rollback["Catch"])[0].iter().any(|n| n == kind));
        }
        assert_eq!(rollback["Catch"][0]["Next"], "RollbackStopped");
        // The clean-up after a completed rollout never rolls back: every error ends it with
        // blue's group as it was, and only a completed step leads there.
        let clean_up = &machine["States"]["ScaleDownBlue"];
        assert_eq!(clean_up["Catch"].as_array().map(Vec::len), Some(1));
        assert_eq!(names(&clean_up["Catch"])[0], vec!["States.ALL".to_string()]);
        assert_eq!(clean_up["Catch"][0]["Next"], "ScaleDownFailed");
        for kind in Error::RETRYABLE {
            assert!(names(&clean_up["Retry"])[0].iter().any(|n| n == kind));
        }
        let done = machine["States"]["Done?"]["Choices"]
            .as_array()
            .expect("Done? has choices");
        let to_clean_up: Vec<&Value> = done
            .iter()
            .filter(|c| c["Next"] == "WaitBeforeScaleDown")
            .collect();
        assert_eq!(to_clean_up.len(), 1);
        let rule = to_clean_up[0].to_string();
        assert!(
            rule.contains(r#""Variable":"$.done""#)
                && rule.contains(r#""BooleanEquals":true"#)
                && rule.contains(r#""StringEquals":"scale_down""#),
            "{rule}"
        );
        assert_eq!(
            serde_json::to_value(crate::spec::Action::ScaleDown).ok(),
            Some(Value::from("scale_down"))
        );
    }

    #[test]
    fn every_kind_is_listed() {
        let samples = [
            Error::InvalidSpec(String::new()),
            Error::Throttled {
                operation: "x",
                attempts: 1,
                detail: String::new(),
            },
            Error::LeaseHeld {
                target: String::new(),
                holder: String::new(),
                version: 1,
                expires_in_seconds: 1,
            },
            Error::LeaseLost {
                target: String::new(),
                version: 1,
                now_held_by: String::new(),
            },
            Error::ScaleDownRefused {
                group: String::new(),
                reason: String::new(),
            },
            Error::RollbackRefused {
                target: String::new(),
                found_blue: 1,
                found_green: 1,
            },
            Error::RequestRefused {
                target: String::new(),
                request: "promote",
                detail: String::new(),
            },
            Error::Aws {
                operation: "x",
                summary: String::new(),
            },
        ];
        for err in samples {
            assert!(Error::KINDS.contains(&err.kind()), "{}", err.kind());
        }
    }

    #[test]
    fn diagnostics_carry_the_stable_kind() {
        let diagnostic: lambda_runtime::Diagnostic = Error::DriftDetected {
            target: "arn:listener".into(),
            expected: "what step 1 wrote".into(),
            expected_blue: 900,
            expected_green: 100,
            found_blue: 500,
            found_green: 500,
        }
        .into();
        assert_eq!(diagnostic.error_type, "DriftDetected");
        assert!(
            diagnostic
                .error_message
                .contains("found blue 500 / green 500"),
            "{}",
            diagnostic.error_message
        );
        let throttled: lambda_runtime::Diagnostic = Error::Throttled {
            operation: "ModifyListener",
            attempts: 3,
            detail: "Throttling: Rate exceeded".into(),
        }
        .into();
        assert_eq!(throttled.error_type, "Throttled");
    }
}
