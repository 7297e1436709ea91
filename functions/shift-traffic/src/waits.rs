//! How the wait after a step goes: how often it is watched, and what the state machine does
//! next. Pure; the clock is passed in.
//!
//! A wait longer than one watch interval is cut into watched pieces: the state machine waits one
//! interval, invokes a `watch` (gates, lease, requests), and goes on until at most one interval
//! is left; that last piece is waited without a watch, since the step after it checks the gates
//! itself. So a gate that fails mid-wait is seen within one interval, and the wait still ends at
//! the step's time.

use crate::plan::{PlannedStep, scaled};
use crate::spec::Spec;

/// Step Functions keeps at most 25,000 history events per execution; this much is for the
/// watches and the steps, the rest for a rollback and retries.
const HISTORY_EVENTS: u64 = 24_000;
/// One watch: the Wait (2 events), the Task (5) and the Choice after it (2).
const EVENTS_PER_WATCH: u64 = 9;
/// One step: the Task (5), the Choice (2) and the Wait after it (2).
const EVENTS_PER_STEP: u64 = 9;

/// What follows a step or a watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Wait `wait_seconds`, then watch: more than one interval is left.
    Watch { wait_seconds: u64 },
    /// Wait `wait_seconds` (at most one interval, possibly 0), then the next step.
    Step { wait_seconds: u64 },
}

impl Next {
    pub fn wait_seconds(self) -> u64 {
        match self {
            Next::Watch { wait_seconds } | Next::Step { wait_seconds } => wait_seconds,
        }
    }
}

/// Seconds between watches, after `time_scale`: the spec's `watch_seconds`, at least 1 s (a
/// rehearsal scales it towards 0), and widened when the plan's waits would need more watches
/// than one execution's history holds (a very long bake), so the execution never dies on the
/// history cap halfway through a rollout.
pub fn watch_interval(spec: &Spec, plan: &[PlannedStep]) -> u64 {
    let asked = scaled(spec.watch_seconds, spec.time_scale).max(1);
    let waits: Vec<u64> = plan
        .iter()
        .map(|s| scaled(s.wait_seconds, spec.time_scale))
        .filter(|w| *w > 0)
        .collect();
    let total = waits.iter().fold(0u64, |sum, w| sum.saturating_add(*w));
    let steps = plan.len() as u64 + 1;
    let watches =
        HISTORY_EVENTS.saturating_sub(EVENTS_PER_STEP.saturating_mul(steps)) / EVENTS_PER_WATCH;
    // Each wait may take one watch more than its share of the total (its last piece rounds up).
    let spare = watches.saturating_sub(waits.len() as u64).max(1);
    asked.max(total.div_ceil(spare))
}

/// The next piece of a wait with `remaining_seconds` left.
pub fn next(interval: u64, remaining_seconds: u64) -> Next {
    if remaining_seconds > interval {
        Next::Watch {
            wait_seconds: interval,
        }
    } else {
        Next::Step {
            wait_seconds: remaining_seconds,
        }
    }
}

/// Whole seconds from `now_ms` until `until_ms`, rounded to the nearest: the Wait state takes
/// whole seconds, and a wait may end half a second early or late, never a watch interval.
pub fn remaining_seconds(until_ms: u64, now_ms: u64) -> u64 {
    until_ms.saturating_sub(now_ms).saturating_add(500) / 1000
}

/// The share green has while the rollout waits before step `index`: what the step before it
/// wrote (the last step's during the bake). `None` before step 0, where nothing is in place.
pub fn share_in_place(plan: &[PlannedStep], index: usize) -> Option<u16> {
    let before = index.checked_sub(1)?;
    plan.get(before.min(plan.len().checked_sub(1)?))
        .map(|s| s.green_permille)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{self, Strategy};
    use serde_json::json;

    fn spec(changes: serde_json::Value) -> Spec {
        let mut value = json!({
            "action": "start",
            "listener_arn": "arn:aws:elasticloadbalancing:us-east-1:1:listener/app/web/1/2",
            "blue_target_group_arn": "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/b/1",
            "green_target_group_arn": "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/g/2",
            "strategy": "Canary10Percent15Minutes",
        });
        for (k, v) in changes.as_object().expect("an object") {
            value[k] = v.clone();
        }
        crate::spec::parse(value).expect("a valid spec").1
    }

    fn interval_of(spec: &Spec) -> u64 {
        watch_interval(spec, &plan::plan(&spec.strategy, spec.bake_seconds))
    }

    #[test]
    fn the_interval_is_the_spec_s_scaled_like_the_waits() {
        assert_eq!(interval_of(&spec(json!({}))), 30);
        assert_eq!(interval_of(&spec(json!({"watch_seconds": 10}))), 10);
        // 1/30: a 15-minute wait of 30 s, watched every second, as 30 s in 15 minutes.
        assert_eq!(
            interval_of(&spec(json!({"time_scale": 1.0 / 30.0}))),
            1,
            "30 s scaled"
        );
        // A rehearsal never watches more often than once a second.
        assert_eq!(interval_of(&spec(json!({"time_scale": 0.001}))), 1);
    }

    #[test]
    fn a_very_long_rollout_is_watched_less_often_to_fit_one_execution() {
        // A week's bake at 30 s would be 20,160 watches, 181,440 history events.
        let week = spec(json!({"bake_seconds": 7 * 24 * 3600}));
        let interval = interval_of(&week);
        assert!(interval > 30, "{interval}");
        let plan = plan::plan(&week.strategy, week.bake_seconds);
        let watches: u64 = plan.iter().map(|s| s.wait_seconds.div_ceil(interval)).sum();
        let events = watches * EVENTS_PER_WATCH + (plan.len() as u64 + 1) * EVENTS_PER_STEP;
        assert!(events <= HISTORY_EVENTS, "{events} events at {interval} s");
        // A day's bake at 30 s fits: nothing widened.
        assert_eq!(interval_of(&spec(json!({"bake_seconds": 12 * 3600}))), 30);
        // 0.1 % linear steps (1,000 of them) every hour still leave room for watches.
        let many =
            spec(json!({"strategy": {"linear": {"percent": 0.1, "interval_seconds": 3600}}}));
        let plan = plan::plan(&many.strategy, 0);
        assert_eq!(plan.len(), 1000);
        let interval = interval_of(&many);
        let watches: u64 = plan.iter().map(|s| s.wait_seconds.div_ceil(interval)).sum();
        assert!(
            watches * EVENTS_PER_WATCH + 1001 * EVENTS_PER_STEP <= HISTORY_EVENTS,
            "{watches} watches at {interval} s"
        );
        // A plan with no waits is never widened.
        let at_once = spec(json!({"strategy": "AllAtOnce"}));
        assert_eq!(interval_of(&at_once), 30);
    }

    #[test]
    fn a_wait_is_watched_in_intervals_and_its_last_piece_leads_to_the_step() {
        assert_eq!(next(30, 900), Next::Watch { wait_seconds: 30 });
        assert_eq!(next(30, 31), Next::Watch { wait_seconds: 30 });
        assert_eq!(next(30, 30), Next::Step { wait_seconds: 30 });
        assert_eq!(next(30, 7), Next::Step { wait_seconds: 7 });
        assert_eq!(next(30, 0), Next::Step { wait_seconds: 0 });
        // A 15-minute wait: 29 watches, then the last 30 s lead to the step.
        let mut remaining = 900;
        let mut watches = 0;
        while let Next::Watch { wait_seconds } = next(30, remaining) {
            watches += 1;
            remaining -= wait_seconds;
        }
        assert_eq!((watches, remaining), (29, 30));
    }

    #[test]
    fn remaining_time_rounds_to_whole_seconds() {
        assert_eq!(remaining_seconds(10_000, 0), 10);
        assert_eq!(remaining_seconds(10_000, 9_600), 0);
        assert_eq!(remaining_seconds(10_000, 9_400), 1);
        assert_eq!(remaining_seconds(10_000, 20_000), 0, "past the end");
        assert_eq!(remaining_seconds(u64::MAX, 0), u64::MAX / 1000);
    }

    #[test]
    fn the_share_in_place_is_the_previous_step_s() {
        let canary = plan::plan(
            &Strategy::Canary {
                permille: 100,
                interval_seconds: 300,
            },
            60,
        );
        assert_eq!(share_in_place(&canary, 0), None);
        assert_eq!(share_in_place(&canary, 1), Some(100));
        assert_eq!(share_in_place(&canary, 2), Some(1000), "the bake");
        assert_eq!(share_in_place(&canary, 9), Some(1000));
    }
}
