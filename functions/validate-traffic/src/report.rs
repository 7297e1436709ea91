//! `PutLifecycleEventHookExecutionStatus` with our own bounded retries.
//!
//! The client used here has the SDK's retries turned off, so the shared retry loop
//! ([`rollout_kit::retry::retry_until`]) is the only policy and every attempt, backoff included,
//! ends before `until`. What counts as transient is the shared vocabulary; only
//! `LifecycleEventAlreadyCompletedException` is this hook's own business.

use std::time::Duration;

use aws_sdk_codedeploy::error::ProvideErrorMetadata;
use aws_sdk_codedeploy::types::LifecycleEventStatus;
use rollout_kit::retry::{Backoff, RetryError, http_status, is_transient, retry_until};
use tokio::time::Instant;

use crate::error::Error;
use crate::ports::HookReporter;

/// The most a single attempt may take before we try again.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
/// Kept back from the deadline after the last report attempt, for the runtime's answer.
pub const FINAL_SLACK: Duration = Duration::from_millis(250);
/// 100 ms doubling to 2 s (jittered): the report is the one call that must land in time.
pub const BACKOFF: Backoff = Backoff {
    base: Duration::from_millis(100),
    cap: Duration::from_secs(2),
};

/// The verdict's status, as the rollout event carries it too.
pub use rollout_kit::HookStatus;

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
    if code == Some("LifecycleEventAlreadyCompletedException") {
        Next::AlreadyCompleted
    } else if is_transient(code, http_status) {
        Next::Retry
    } else {
        Next::GiveUp
    }
}

/// One failed attempt, reduced to what the loop needs.
#[derive(Debug)]
struct Failed {
    next: Next,
    summary: String,
}

pub async fn report(
    client: &impl HookReporter,
    deployment_id: &str,
    execution_id: &str,
    status: HookStatus,
    until: Instant,
) -> Result<Reported, Error> {
    let attempt = || async {
        let send = client.put_hook_status(
            deployment_id,
            execution_id,
            match status {
                HookStatus::Succeeded => LifecycleEventStatus::Succeeded,
                HookStatus::Failed => LifecycleEventStatus::Failed,
            },
        );
        // A hung attempt is abandoned and retried, not waited out to the deadline.
        match tokio::time::timeout(ATTEMPT_TIMEOUT, send).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(err)) => Err(Failed {
                next: next_step(err.code(), http_status(&err)),
                summary: rollout_kit::sdk_error_summary(&err),
            }),
            Err(_) => Err(Failed {
                next: Next::Retry,
                summary: "attempt timed out".into(),
            }),
        }
    };
    let transient = |failed: &Failed| {
        let retry = failed.next == Next::Retry;
        if retry {
            tracing::warn!(error = %failed.summary, "hook status not accepted yet; retrying");
        }
        retry
    };
    match retry_until(
        "PutLifecycleEventHookExecutionStatus",
        until,
        BACKOFF,
        transient,
        attempt,
    )
    .await
    {
        Ok(()) => Ok(Reported::Accepted),
        Err(RetryError::Permanent(failed)) if failed.next == Next::AlreadyCompleted => {
            Ok(Reported::AlreadyCompleted)
        }
        Err(RetryError::Permanent(failed)) => {
            tracing::error!(error = %failed.summary, "hook status rejected");
            Err(Error::ReportRejected(failed.summary))
        }
        Err(RetryError::OutOfTime { attempts, last }) => {
            let summary = match (last, attempts) {
                (Some(failed), _) => failed.summary,
                (None, 0) => "no time left before the deadline".into(),
                (None, n) => format!("no answer before the deadline ({n} attempts)"),
            };
            Err(Error::ReportNotDelivered(summary))
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
        assert_eq!(BACKOFF.ceiling(0), Duration::from_millis(100));
        assert_eq!(BACKOFF.ceiling(1), Duration::from_millis(200));
        assert_eq!(BACKOFF.ceiling(30), Duration::from_secs(2));
    }

    #[test]
    fn shared_vocabulary_decides_the_rest() {
        // Codes the old local list missed are transient too.
        assert_eq!(
            next_step(Some("RequestLimitExceeded"), Some(400)),
            Next::Retry
        );
        assert_eq!(
            next_step(Some("ServiceUnavailableException"), Some(503)),
            Next::Retry
        );
        assert_eq!(next_step(Some("AccessDeniedException"), None), Next::GiveUp);
    }
}
