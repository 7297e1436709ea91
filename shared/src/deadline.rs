//! The invocation's deadline and the budgets carved from it.
//!
//! Lambda hands every invocation its deadline (`Lambda-Runtime-Deadline-Ms`, epoch
//! milliseconds). Work that runs into it is killed without a word, so each function keeps back
//! a margin for what must still happen after the work: an answer, a report, a release.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

/// Lambda's longest timeout.
pub const MAX_INVOCATION: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    at: Instant,
}

impl Deadline {
    /// From the runtime's epoch-milliseconds deadline (`Context::deadline`).
    pub fn from_epoch_ms(deadline_ms: u64) -> Deadline {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or_default();
        // Lambda runs an invocation for at most 15 minutes; a larger value is not a deadline
        // (and would overflow `Instant`).
        let left = Duration::from_millis(deadline_ms.saturating_sub(now_ms)).min(MAX_INVOCATION);
        Deadline {
            at: Instant::now() + left,
        }
    }

    pub fn after(time: Duration) -> Deadline {
        Deadline {
            at: Instant::now() + time,
        }
    }

    pub fn at(&self) -> Instant {
        self.at
    }

    pub fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }

    /// `margin` before the deadline (now, if that has passed).
    pub fn less(&self, margin: Duration) -> Instant {
        self.at
            .checked_sub(margin)
            .unwrap_or(self.at)
            .max(Instant::now())
    }

    /// When the work must end so that `margin_for(remaining)` is left for what follows it.
    pub fn work_until(&self, margin: Margin) -> Instant {
        self.less(margin.for_remaining(self.remaining()))
    }
}

/// The time kept back from the deadline: the configured margin when there is room for it,
/// shrinking for short deadlines to a share of the remaining time, and never below `floor`
/// (what the step after the work needs in the worst case).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Margin {
    pub configured: Duration,
    pub floor: Duration,
    /// The most of the remaining time the margin may take, in percent.
    pub max_share_percent: u32,
}

impl Margin {
    pub fn for_remaining(&self, remaining: Duration) -> Duration {
        let share = remaining.saturating_mul(self.max_share_percent.min(100)) / 100;
        self.configured.min(share).max(self.floor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MARGIN: Margin = Margin {
        configured: Duration::from_secs(5),
        floor: Duration::from_millis(800),
        max_share_percent: 30,
    };

    #[test]
    fn the_margin_shrinks_for_short_deadlines_but_not_below_the_floor() {
        assert_eq!(
            MARGIN.for_remaining(Duration::from_secs(60)),
            Duration::from_secs(5)
        );
        assert_eq!(
            MARGIN.for_remaining(Duration::from_secs(10)),
            Duration::from_secs(3)
        );
        assert_eq!(
            MARGIN.for_remaining(Duration::from_secs(1)),
            Duration::from_millis(800)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn budgets_never_lie_in_the_past() {
        let deadline = Deadline::after(Duration::from_secs(3));
        assert_eq!(deadline.remaining(), Duration::from_secs(3));
        let work = deadline.work_until(MARGIN);
        assert_eq!(work, deadline.at() - Duration::from_millis(900));
        assert_eq!(deadline.less(Duration::from_secs(10)), Instant::now());
    }

    #[test]
    fn epoch_deadlines_in_the_past_are_now_and_absurd_ones_are_capped() {
        assert!(Deadline::from_epoch_ms(0).remaining().is_zero());
        assert!(Deadline::from_epoch_ms(u64::MAX).remaining() <= MAX_INVOCATION);
    }
}
