//! `PutLifecycleEventHookExecutionStatus` with our own bounded retries.
//!
//! The client used here has the SDK's retries turned off, so this loop is the only retry policy
//! and every attempt, backoff included, ends before `until`.

use std::time::Duration;

use aws_sdk_codedeploy::Client;
use aws_sdk_codedeploy::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_codedeploy::types::LifecycleEventStatus;
use tokio::time::Instant;

use crate::error::Error;

/// The most a single attempt may take before we try again.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookStatus {
    Succeeded,
    Failed,
}

impl HookStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            HookStatus::Succeeded => "Succeeded",
            HookStatus::Failed => "Failed",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reported {
    Accepted,
    /// An earlier invocation (a Lambda retry) already reported this hook.
    AlreadyCompleted,
}

impl Reported {
    pub fn as_str(self) -> &'static str {
        match self {
            Reported::Accepted => "accepted",
            Reported::AlreadyCompleted => "already_completed",
        }
    }
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    AlreadyCompleted,
    Retry,
    GiveUp,
}

/// Decides from the error code and HTTP status alone; `None`/`None` means no response arrived
/// (timeout, connection failure), which is worth another try.
pub fn next_step(code: Option<&str>, http_status: Option<u16>) -> Next {
    match code {
        Some("LifecycleEventAlreadyCompletedException") => Next::AlreadyCompleted,
        Some(
            "ThrottlingException"
            | "Throttling"
            | "TooManyRequestsException"
            | "RequestLimitExceeded"
            | "ServiceUnavailable"
            | "InternalFailure",
        ) => Next::Retry,
        _ => match http_status {
            Some(status) if status >= 500 || status == 429 => Next::Retry,
            Some(_) => Next::GiveUp,
            None => Next::Retry,
        },
    }
}

/// Exponential backoff from the attempt number (1-based), capped.
pub fn backoff(attempt: u32) -> Duration {
    FIRST_BACKOFF
        .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)))
        .min(MAX_BACKOFF)
}

pub async fn report(
    client: &Client,
    deployment_id: &str,
    execution_id: &str,
    status: HookStatus,
    until: Instant,
) -> Result<Reported, Error> {
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let remaining = until.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(Error::ReportNotDelivered(
                "no time left before the deadline".into(),
            ));
        }
        let send = client
            .put_lifecycle_event_hook_execution_status()
            .deployment_id(deployment_id)
            .lifecycle_event_hook_execution_id(execution_id)
            .status(match status {
                HookStatus::Succeeded => LifecycleEventStatus::Succeeded,
                HookStatus::Failed => LifecycleEventStatus::Failed,
            })
            .send();
        let (next, summary) = match tokio::time::timeout(remaining.min(ATTEMPT_TIMEOUT), send).await
        {
            Ok(Ok(_)) => return Ok(Reported::Accepted),
            Ok(Err(err)) => {
                let http_status = match &err {
                    SdkError::ServiceError(ctx) => Some(ctx.raw().status().as_u16()),
                    SdkError::ResponseError(ctx) => Some(ctx.raw().status().as_u16()),
                    _ => None,
                };
                let next = next_step(err.code(), http_status);
                (next, rollout_kit::sdk_error_summary(&err))
            }
            Err(_) => (Next::Retry, "attempt timed out".to_string()),
        };
        match next {
            Next::AlreadyCompleted => return Ok(Reported::AlreadyCompleted),
            Next::GiveUp => {
                tracing::error!(attempt, error = %summary, "hook status rejected");
                return Err(Error::ReportRejected(summary));
            }
            Next::Retry => {
                let pause = backoff(attempt);
                tracing::warn!(attempt, error = %summary, backoff_ms = pause.as_millis() as u64, "hook status not accepted yet; retrying");
                if Instant::now() + pause >= until {
                    return Err(Error::ReportNotDelivered(summary));
                }
                tokio::time::sleep(pause).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn already_completed_counts_as_done() {
        assert_eq!(
            next_step(Some("LifecycleEventAlreadyCompletedException"), Some(400)),
            Next::AlreadyCompleted
        );
    }

    #[test]
    fn throttling_and_server_errors_are_retried() {
        assert_eq!(
            next_step(Some("ThrottlingException"), Some(400)),
            Next::Retry
        );
        assert_eq!(next_step(Some("InternalFailure"), Some(500)), Next::Retry);
        assert_eq!(next_step(None, Some(503)), Next::Retry);
        assert_eq!(next_step(None, None), Next::Retry);
    }

    #[test]
    fn other_client_errors_give_up() {
        for code in [
            "DeploymentDoesNotExistException",
            "InvalidLifecycleEventHookExecutionIdException",
            "AccessDeniedException",
        ] {
            assert_eq!(next_step(Some(code), Some(400)), Next::GiveUp, "{code}");
        }
    }

    #[test]
    fn backoff_grows_and_caps() {
        assert_eq!(backoff(1), Duration::from_millis(100));
        assert_eq!(backoff(2), Duration::from_millis(200));
        assert_eq!(backoff(30), MAX_BACKOFF);
    }
}
