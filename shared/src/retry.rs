//! One retry vocabulary for every function: which AWS answers are worth another attempt, how
//! long to pause between attempts, and a loop that never runs past a deadline.
//!
//! The SDK's standard policy already retries each call a few times; this loop sits around it for
//! the calls a busy account throttles for longer (ELBv2 `Describe*` share one bucket per account
//! and region) and for the calls whose answer must arrive before the Lambda deadline.

use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use tokio::time::Instant;

/// Error codes AWS services use for throttling (the SDK's standard retry policy's list).
pub const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
];

/// Error codes of a service-side hiccup: the same request may well succeed next time.
pub const TRANSIENT_CODES: &[&str] = &[
    "RequestTimeout",
    "RequestTimeoutException",
    "InternalFailure",
    "InternalError",
    "InternalServerError",
    "ServiceUnavailable",
    "ServiceUnavailableException",
];

pub fn is_throttling(code: Option<&str>) -> bool {
    code.is_some_and(|c| THROTTLING_CODES.contains(&c))
}

/// Worth another attempt: throttling, a transient code, HTTP 5xx or 429, or no answer at all
/// (`None`/`None`: a timeout or a connection failure).
pub fn is_transient(code: Option<&str>, http_status: Option<u16>) -> bool {
    if is_throttling(code) || code.is_some_and(|c| TRANSIENT_CODES.contains(&c)) {
        return true;
    }
    match http_status {
        Some(status) => status >= 500 || status == 429,
        None => code.is_none(),
    }
}

/// The HTTP status of an SDK error, when a response arrived.
pub fn http_status<E>(err: &SdkError<E, HttpResponse>) -> Option<u16> {
    match err {
        SdkError::ServiceError(ctx) => Some(ctx.raw().status().as_u16()),
        SdkError::ResponseError(ctx) => Some(ctx.raw().status().as_u16()),
        _ => None,
    }
}

/// [`is_transient`] for an SDK error. A request that could not be built is never transient.
pub fn sdk_is_transient<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> bool {
    match err {
        SdkError::ConstructionFailure(_) => false,
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => true,
        _ => is_transient(err.code(), http_status(err)),
    }
}

/// Exponential backoff with full jitter: attempt `n` (0-based) pauses a random time in
/// `[0, min(cap, base * 2^n)]`, so callers that were throttled together do not retry together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
}

impl Backoff {
    /// For AWS control-plane calls.
    pub const AWS: Backoff = Backoff {
        base: Duration::from_millis(200),
        cap: Duration::from_secs(3),
    };

    pub fn ceiling(&self, attempt: u32) -> Duration {
        self.base
            .saturating_mul(2u32.saturating_pow(attempt.min(30)))
            .min(self.cap)
    }

    pub fn pause(&self, attempt: u32, random: u64) -> Duration {
        let ceiling = self.ceiling(attempt).as_millis() as u64;
        Duration::from_millis(random % (ceiling + 1))
    }
}

/// A random number for the jitter (no RNG dependency: the std hasher is randomly keyed).
pub fn jitter_seed() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    hasher.finish()
}

/// Why [`retry_until`] gave up.
#[derive(Debug)]
pub enum RetryError<E> {
    /// The answer is not worth repeating.
    Permanent(E),
    /// Every attempt was transient and the time ran out. `last` is `None` when the last attempt
    /// was itself cut off by the deadline.
    OutOfTime { attempts: u32, last: Option<E> },
}

impl<E> RetryError<E> {
    pub fn attempts(&self) -> u32 {
        match self {
            RetryError::Permanent(_) => 1,
            RetryError::OutOfTime { attempts, .. } => *attempts,
        }
    }

    /// The service's last error, if one arrived.
    pub fn last(&self) -> Option<&E> {
        match self {
            RetryError::Permanent(err) => Some(err),
            RetryError::OutOfTime { last, .. } => last.as_ref(),
        }
    }
}

/// Runs `call` until it succeeds, fails with an error `transient` rejects, or `until` comes.
/// Each attempt is cut off at `until`, and no pause runs past it: the caller always gets an
/// answer in time to act on it.
pub async fn retry_until<T, E, F, Fut>(
    operation: &'static str,
    until: Instant,
    backoff: Backoff,
    transient: impl Fn(&E) -> bool,
    mut call: F,
) -> Result<T, RetryError<E>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut attempts = 0u32;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(RetryError::OutOfTime {
                attempts,
                last: None,
            });
        }
        attempts += 1;
        let err = match tokio::time::timeout(left, call()).await {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(err)) if !transient(&err) => return Err(RetryError::Permanent(err)),
            Ok(Err(err)) => err,
            Err(_) => {
                return Err(RetryError::OutOfTime {
                    attempts,
                    last: None,
                });
            }
        };
        let pause = backoff.pause(attempts - 1, jitter_seed());
        if Instant::now() + pause >= until {
            return Err(RetryError::OutOfTime {
                attempts,
                last: Some(err),
            });
        }
        tracing::warn!(
            operation,
            attempt = attempts,
            pause_ms = pause.as_millis() as u64,
            "transient AWS error, retrying"
        );
        tokio::time::sleep(pause).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_and_transient_answers() {
        assert!(is_throttling(Some("Throttling")));
        assert!(is_throttling(Some("ThrottlingException")));
        assert!(!is_throttling(Some("ListenerNotFound")));
        assert!(!is_throttling(None));
        assert!(is_transient(Some("ThrottlingException"), Some(400)));
        assert!(is_transient(Some("InternalFailure"), Some(500)));
        assert!(is_transient(None, Some(503)));
        assert!(is_transient(None, Some(429)));
        assert!(is_transient(None, None), "no answer at all");
        assert!(!is_transient(Some("ValidationError"), Some(400)));
        assert!(!is_transient(Some("AccessDenied"), None));
    }

    #[test]
    fn pauses_are_jittered_and_capped() {
        let b = Backoff {
            base: Duration::from_millis(500),
            cap: Duration::from_secs(3),
        };
        assert_eq!(b.pause(0, 0), Duration::ZERO);
        assert_eq!(b.pause(0, 500), Duration::from_millis(500));
        assert_eq!(b.pause(0, 501), Duration::ZERO);
        assert!(b.pause(1, u64::MAX) <= Duration::from_secs(1));
        assert!(b.pause(u32::MAX, u64::MAX) <= b.cap);
    }

    #[tokio::test(start_paused = true)]
    async fn transient_errors_are_retried_until_the_deadline() {
        let until = Instant::now() + Duration::from_secs(5);
        let mut calls = 0;
        let result: Result<(), RetryError<&str>> = retry_until(
            "Op",
            until,
            Backoff::AWS,
            |_| true,
            || {
                calls += 1;
                async { Err("throttled") }
            },
        )
        .await;
        assert!(Instant::now() <= until);
        match result {
            Err(RetryError::OutOfTime { attempts, last }) => {
                assert!(attempts > 2, "{attempts}");
                assert_eq!(attempts, calls);
                assert_eq!(last, Some("throttled"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_hung_attempt_is_cut_off_at_the_deadline() {
        let until = Instant::now() + Duration::from_secs(2);
        let result: Result<(), RetryError<&str>> = retry_until(
            "Op",
            until,
            Backoff::AWS,
            |_| true,
            std::future::pending::<Result<(), &str>>,
        )
        .await;
        assert!(matches!(
            result,
            Err(RetryError::OutOfTime {
                attempts: 1,
                last: None
            })
        ));
        assert!(Instant::now() <= until);
    }

    #[tokio::test(start_paused = true)]
    async fn permanent_errors_end_at_once() {
        let until = Instant::now() + Duration::from_secs(5);
        let mut calls = 0;
        let result: Result<(), RetryError<&str>> = retry_until(
            "Op",
            until,
            Backoff::AWS,
            |e| *e != "denied",
            || {
                calls += 1;
                async { Err("denied") }
            },
        )
        .await;
        assert!(matches!(result, Err(RetryError::Permanent("denied"))));
        assert_eq!(calls, 1);
    }
}
