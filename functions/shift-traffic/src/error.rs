//! The one error type of shift-traffic. Each variant has a stable `errorType`, which the state
//! machine's `Catch` branches on: drift and configuration errors stop without touching the
//! listener, everything else rolls back.

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

    #[error("the write to {target} did not read back as written: {detail}")]
    WriteNotVerified { target: String, detail: String },

    #[error("{operation} was throttled on every one of {attempts} attempts")]
    Throttled {
        operation: &'static str,
        attempts: u32,
    },

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
            Error::Aws { .. } => "AwsError",
        }
    }
}

impl From<Error> for lambda_runtime::Diagnostic {
    fn from(err: Error) -> Self {
        rollout_kit::diagnostic(&err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        }
        .into();
        assert_eq!(throttled.error_type, "Throttled");
    }
}
