//! The plan: a strategy turned into steps of ALB weights. Pure; no I/O.
//!
//! Shares are kept in per-mille (0 to 1000) so 0.1 % steps are exact. ALB weights go from 0 to
//! 999 and are relative, so a green share of p per-mille is written as green `p` / blue
//! `1000 - p`, with the two ends (one side at 1000) written as 999 / 0.

use serde::Serialize;

use crate::pause::Pause;

pub const MAX_WEIGHT: i32 = 999;
pub const FULL: u16 = 1000;

/// Blue and green weights of the forward action. Other target groups keep theirs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Weights {
    pub blue: i32,
    pub green: i32,
}

impl Weights {
    /// Blue takes all traffic; green stays attached at 0 so its health checks keep running.
    pub const ALL_BLUE: Weights = Weights {
        blue: MAX_WEIGHT,
        green: 0,
    };

    pub fn for_green_share(permille: u16) -> Weights {
        let green = i32::from(permille.min(FULL));
        match green {
            0 => Weights::ALL_BLUE,
            1000 => Weights {
                blue: 0,
                green: MAX_WEIGHT,
            },
            _ => Weights {
                blue: 1000 - green,
                green,
            },
        }
    }

    /// Green's share of the blue/green pair in per-mille; `None` when both are 0.
    pub fn green_share(self) -> Option<u16> {
        let total = self.blue.max(0) + self.green.max(0);
        if total == 0 {
            return None;
        }
        let share = (f64::from(self.green.max(0)) * 1000.0 / f64::from(total)).round();
        Some(share as u16)
    }

    /// Blue serves everything: what the listener looks like before a rollout starts. Any
    /// positive blue weight counts, since users often start from weight 1.
    pub fn is_all_blue(self) -> bool {
        self.green == 0 && self.blue > 0
    }
}

/// A step of the rollout as a user describes it (before the plan is computed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepSpec {
    pub green_permille: u16,
    pub wait_seconds: u64,
    /// A person approves before the rollout moves past this step.
    pub pause: Option<Pause>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Strategy {
    /// `permille` to green, wait `interval_seconds`, then the rest.
    Canary {
        permille: u16,
        interval_seconds: u64,
    },
    /// `permille` more to green every `interval_seconds` until all of it.
    Linear {
        permille: u16,
        interval_seconds: u64,
    },
    AllAtOnce,
    /// Explicit steps, strictly increasing, ending at 1000 with no wait (the bake follows).
    Steps(Vec<StepSpec>),
}

/// One step of the plan: the green share it sets and how long to wait after it (unscaled;
/// the final step's wait is the bake time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlannedStep {
    pub green_permille: u16,
    pub weights: Weights,
    pub wait_seconds: u64,
    /// A person approves before the rollout moves past this step ([`crate::pause`]).
    pub pause: Option<Pause>,
}

pub fn plan(strategy: &Strategy, bake_seconds: u64) -> Vec<PlannedStep> {
    plan_with(strategy, bake_seconds, None)
}

/// [`plan`], with `pause_before_final` (a preset's pause) on the step before the last.
pub fn plan_with(
    strategy: &Strategy,
    bake_seconds: u64,
    pause_before_final: Option<Pause>,
) -> Vec<PlannedStep> {
    let shares: Vec<(u16, u64, Option<Pause>)> = match strategy {
        Strategy::Canary {
            permille,
            interval_seconds,
        } => vec![(*permille, *interval_seconds, None), (FULL, 0, None)],
        Strategy::Linear {
            permille,
            interval_seconds,
        } => {
            let step = (*permille).clamp(1, FULL);
            let mut shares: Vec<(u16, u64, Option<Pause>)> = (1..)
                .map(|k: u16| k.saturating_mul(step))
                .take_while(|share| *share < FULL)
                .map(|share| (share, *interval_seconds, None))
                .collect();
            shares.push((FULL, 0, None));
            shares
        }
        Strategy::AllAtOnce => vec![(FULL, 0, None)],
        Strategy::Steps(steps) => steps
            .iter()
            .map(|s| (s.green_permille, s.wait_seconds, s.pause))
            .collect(),
    };
    let last = shares.len().saturating_sub(1);
    shares
        .into_iter()
        .enumerate()
        .map(|(i, (green_permille, wait, pause))| PlannedStep {
            green_permille,
            weights: Weights::for_green_share(green_permille),
            wait_seconds: if i == last { bake_seconds } else { wait },
            pause: match pause_before_final {
                Some(extra) if last > 0 && i + 1 == last => Some(extra),
                _ => pause,
            },
        })
        .collect()
}

/// A wait shortened by `time_scale` (rehearsals, tests), in whole seconds as Step Functions'
/// `Wait` takes them.
pub fn scaled(seconds: u64, time_scale: f64) -> u64 {
    let scaled = (seconds as f64 * time_scale).round();
    if scaled.is_finite() && scaled > 0.0 {
        scaled as u64
    } else {
        0
    }
}

pub fn percent(permille: u16) -> f64 {
    f64::from(permille) / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shares(steps: &[PlannedStep]) -> Vec<(i32, i32, u64)> {
        steps
            .iter()
            .map(|s| (s.weights.blue, s.weights.green, s.wait_seconds))
            .collect()
    }

    #[test]
    fn weights_stay_on_albs_scale() {
        assert_eq!(
            Weights::for_green_share(100),
            Weights {
                blue: 900,
                green: 100
            }
        );
        assert_eq!(Weights::for_green_share(0), Weights::ALL_BLUE);
        assert_eq!(
            Weights::for_green_share(1000),
            Weights {
                blue: 0,
                green: 999
            }
        );
        for permille in 0..=FULL {
            let w = Weights::for_green_share(permille);
            assert!((0..=MAX_WEIGHT).contains(&w.blue), "{permille}: {w:?}");
            assert!((0..=MAX_WEIGHT).contains(&w.green), "{permille}: {w:?}");
            assert!(w.blue + w.green > 0);
            assert_eq!(w.green_share(), Some(permille), "{permille}");
        }
    }

    #[test]
    fn canary_is_two_steps_and_the_bake() {
        let steps = plan(
            &Strategy::Canary {
                permille: 100,
                interval_seconds: 300,
            },
            600,
        );
        assert_eq!(shares(&steps), vec![(900, 100, 300), (0, 999, 600)]);
    }

    #[test]
    fn linear_ends_at_full_even_when_the_step_does_not_divide_it() {
        let ten = plan(
            &Strategy::Linear {
                permille: 100,
                interval_seconds: 60,
            },
            0,
        );
        assert_eq!(ten.len(), 10);
        assert_eq!(ten[0].weights, Weights::for_green_share(100));
        assert_eq!(ten[8].weights.green, 900);
        assert!(ten[..9].iter().all(|s| s.wait_seconds == 60));
        assert_eq!(ten[9].weights.green, 999);
        assert_eq!(ten[9].wait_seconds, 0);

        let thirty = plan(
            &Strategy::Linear {
                permille: 300,
                interval_seconds: 10,
            },
            5,
        );
        let greens: Vec<u16> = thirty.iter().map(|s| s.green_permille).collect();
        assert_eq!(greens, vec![300, 600, 900, 1000]);
        assert_eq!(thirty[3].wait_seconds, 5);
    }

    #[test]
    fn all_at_once_and_explicit_steps() {
        assert_eq!(shares(&plan(&Strategy::AllAtOnce, 30)), vec![(0, 999, 30)]);
        let custom = plan(
            &Strategy::Steps(vec![
                StepSpec {
                    green_permille: 5,
                    wait_seconds: 120,
                    pause: None,
                },
                StepSpec {
                    green_permille: 500,
                    wait_seconds: 60,
                    pause: None,
                },
                StepSpec {
                    green_permille: 1000,
                    wait_seconds: 0,
                    pause: None,
                },
            ]),
            0,
        );
        assert_eq!(
            shares(&custom),
            vec![(995, 5, 120), (500, 500, 60), (0, 999, 0)]
        );
    }

    #[test]
    fn waits_scale_down_to_whole_seconds() {
        assert_eq!(scaled(300, 1.0), 300);
        assert_eq!(scaled(300, 0.01), 3);
        assert_eq!(scaled(300, 0.001), 0);
        assert_eq!(scaled(u64::MAX, 1.0), u64::MAX);
    }

    #[test]
    fn green_share_of_foreign_weights() {
        assert_eq!(Weights { blue: 1, green: 0 }.green_share(), Some(0));
        assert_eq!(Weights { blue: 1, green: 1 }.green_share(), Some(500));
        assert_eq!(Weights { blue: 0, green: 0 }.green_share(), None);
        assert!(Weights { blue: 1, green: 0 }.is_all_blue());
        assert!(!Weights { blue: 0, green: 0 }.is_all_blue());
    }
}
