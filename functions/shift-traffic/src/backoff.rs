//! Throttling retries around the SDK's own. ELBv2's `Describe*` calls share one bucket per
//! account and region with consoles and controllers, so a busy account throttles for longer
//! than the SDK's three attempts ride out. Every operation here is safe to repeat (describes,
//! and writes of a whole action list), and the total stays bounded.

use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use aws_sdk_elasticloadbalancingv2::error::ProvideErrorMetadata;

/// Our attempts; each is itself up to three SDK attempts. Worst case about 3.5 s of our sleeps.
pub const ATTEMPTS: u32 = 3;
const BASE: Duration = Duration::from_millis(500);
const CAP: Duration = Duration::from_secs(3);

pub fn is_throttling(code: Option<&str>) -> bool {
    matches!(
        code,
        Some(
            "Throttling"
                | "ThrottlingException"
                | "ThrottledException"
                | "RequestLimitExceeded"
                | "TooManyRequestsException"
        )
    )
}

/// Full jitter: a random pause in [0, min(CAP, BASE * 2^attempt)].
pub fn pause(attempt: u32, random: u64) -> Duration {
    let ceiling = BASE
        .saturating_mul(2u32.saturating_pow(attempt))
        .min(CAP)
        .as_millis() as u64;
    Duration::from_millis(random % (ceiling + 1))
}

fn random() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    hasher.finish()
}

/// Runs `call` until it succeeds, fails with something other than throttling, or has been
/// throttled `ATTEMPTS` times; returns the last result.
pub async fn retry_throttled<T, E, F, Fut>(operation: &'static str, mut call: F) -> Result<T, E>
where
    E: ProvideErrorMetadata,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut attempt = 0;
    loop {
        match call().await {
            Err(err) if is_throttling(err.code()) && attempt + 1 < ATTEMPTS => {
                let wait = pause(attempt, random());
                tracing::warn!(
                    operation,
                    attempt = attempt + 1,
                    wait_ms = wait.as_millis() as u64,
                    "throttled, backing off"
                );
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_are_jittered_and_capped() {
        assert_eq!(pause(0, 0), Duration::ZERO);
        assert_eq!(pause(0, 500), Duration::from_millis(500));
        assert_eq!(pause(0, 501), Duration::ZERO);
        assert!(pause(1, u64::MAX) <= Duration::from_secs(1));
        assert!(pause(30, u64::MAX) <= CAP);
        let total: Duration = (0..ATTEMPTS - 1).map(|a| pause(a, u64::MAX)).sum();
        assert!(total <= Duration::from_secs(4), "{total:?}");
    }

    #[test]
    fn throttling_codes() {
        assert!(is_throttling(Some("Throttling")));
        assert!(is_throttling(Some("ThrottlingException")));
        assert!(!is_throttling(Some("ListenerNotFound")));
        assert!(!is_throttling(None));
    }
}
