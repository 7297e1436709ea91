//! What a step does given the weights it finds. Pure decisions, next to the plan they read:
//! the orchestration in `handler` acts on them.

use crate::plan::{PlannedStep, Weights};

/// What a step does given the weights it found. Pure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The previous step's weights are in place: check the gates, then write these.
    Apply(Weights),
    /// This step's weights are already in place (a retry after a lost answer).
    AlreadyApplied,
    /// Past the last step: check the gates after the bake.
    FinalCheck,
    /// Someone else changed the weights: stop, write nothing.
    Drift { expected: Weights, what: String },
}

pub fn decide(plan: &[PlannedStep], index: usize, current: Weights) -> Decision {
    let n = plan.len();
    if index >= n {
        let last = plan[n - 1].weights;
        return if current == last {
            Decision::FinalCheck
        } else {
            Decision::Drift {
                expected: last,
                what: format!("what step {} wrote", n - 1),
            }
        };
    }
    let target = plan[index].weights;
    if current == target {
        return Decision::AlreadyApplied;
    }
    if index == 0 {
        if current.is_all_blue() {
            Decision::Apply(target)
        } else {
            Decision::Drift {
                expected: Weights::ALL_BLUE,
                what: "all traffic on blue before the start".into(),
            }
        }
    } else {
        let previous = plan[index - 1].weights;
        if current == previous {
            Decision::Apply(target)
        } else {
            Decision::Drift {
                expected: previous,
                what: format!("what step {} wrote", index - 1),
            }
        }
    }
}

/// What a promoted step does: straight to the last step's weights (through the gates), from
/// the weights the step before `index` wrote, or from the last step's weights to the check
/// after the bake (a promote during the bake, or a retried promote). Anything else is drift,
/// as for any step. Pure.
pub fn decide_promote(plan: &[PlannedStep], index: usize, current: Weights) -> Decision {
    let Some(last) = plan.last().map(|s| s.weights) else {
        return Decision::FinalCheck;
    };
    if current == last {
        return Decision::FinalCheck;
    }
    match decide(plan, index, current) {
        Decision::Apply(_) => Decision::Apply(last),
        // Only a step of this plan (not its last) is in place here: not what this step expects.
        Decision::AlreadyApplied => Decision::Drift {
            expected: match index {
                0 => Weights::ALL_BLUE,
                _ => plan[index - 1].weights,
            },
            what: format!("what step {} wrote", index.saturating_sub(1)),
        },
        other => other,
    }
}

/// Whether a rollback may write blue over `current`: only over weights this rollout's plan
/// could have written (or all-blue already), unless forced. Anything else was set by someone
/// else, whose decision a rollback must not undo. Pure.
pub fn rollback_allowed(plan: &[PlannedStep], current: Weights, force: bool) -> bool {
    force || current.is_all_blue() || plan.iter().any(|s| s.weights == current)
}

/// Where a rollout stands: the step that resumes it, if the weights match the plan. Pure.
pub fn resume_step(plan: &[PlannedStep], current: Weights) -> Option<u32> {
    if current.is_all_blue() {
        return Some(0);
    }
    plan.iter()
        .position(|s| s.weights == current)
        .map(|i| i as u32 + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{self, Strategy};

    fn canary() -> Vec<PlannedStep> {
        plan::plan(
            &Strategy::Canary {
                permille: 100,
                interval_seconds: 300,
            },
            60,
        )
    }

    const TEN: Weights = Weights {
        blue: 900,
        green: 100,
    };
    const ALL_GREEN: Weights = Weights {
        blue: 0,
        green: 999,
    };

    #[test]
    fn steps_follow_what_the_previous_one_wrote() {
        let plan = canary();
        assert_eq!(decide(&plan, 0, Weights::ALL_BLUE), Decision::Apply(TEN));
        assert_eq!(
            decide(&plan, 0, Weights { blue: 1, green: 0 }),
            Decision::Apply(TEN)
        );
        assert_eq!(decide(&plan, 1, TEN), Decision::Apply(ALL_GREEN));
        assert_eq!(decide(&plan, 2, ALL_GREEN), Decision::FinalCheck);
    }

    #[test]
    fn retried_steps_write_nothing() {
        let plan = canary();
        assert_eq!(decide(&plan, 0, TEN), Decision::AlreadyApplied);
        assert_eq!(decide(&plan, 1, ALL_GREEN), Decision::AlreadyApplied);
    }

    #[test]
    fn anything_else_is_drift() {
        let plan = canary();
        let half = Weights {
            blue: 500,
            green: 500,
        };
        assert!(
            matches!(decide(&plan, 1, half), Decision::Drift { expected, .. } if expected == TEN)
        );
        assert!(matches!(
            decide(&plan, 0, half),
            Decision::Drift { expected, .. } if expected == Weights::ALL_BLUE
        ));
        assert!(matches!(decide(&plan, 2, TEN), Decision::Drift { .. }));
        // Step 1 found all-blue: someone rolled back by hand.
        assert!(matches!(
            decide(&plan, 1, Weights::ALL_BLUE),
            Decision::Drift { .. }
        ));
    }

    #[test]
    fn a_promote_goes_to_the_last_step_from_where_the_rollout_is() {
        let linear = plan::plan(
            &Strategy::Linear {
                permille: 100,
                interval_seconds: 60,
            },
            60,
        );
        let at = |permille: u16| Weights::for_green_share(permille);
        // Waiting after step 2 (30 %): step 3 is next; a promote writes 100 % instead.
        assert_eq!(
            decide_promote(&linear, 3, at(300)),
            Decision::Apply(ALL_GREEN)
        );
        assert_eq!(
            decide_promote(&linear, 0, Weights::ALL_BLUE),
            Decision::Apply(ALL_GREEN)
        );
        // Already at 100 % (the bake, or a retried promote): the final check.
        assert_eq!(decide_promote(&linear, 10, ALL_GREEN), Decision::FinalCheck);
        assert_eq!(decide_promote(&linear, 3, ALL_GREEN), Decision::FinalCheck);
        // Someone else's weights, or a step this one does not follow: drift, as for any step.
        for (index, found) in [(3, at(500)), (3, at(400)), (3, Weights::ALL_BLUE)] {
            assert!(
                matches!(
                    decide_promote(&linear, index, found),
                    Decision::Drift { expected, .. } if expected == at(300)
                ),
                "{index} {found:?}"
            );
        }
        assert!(matches!(
            decide_promote(&canary(), 2, TEN),
            Decision::Drift { .. }
        ));
    }

    #[test]
    fn rollback_writes_only_over_weights_of_the_plan() {
        let plan = canary();
        let half = Weights {
            blue: 500,
            green: 500,
        };
        assert!(rollback_allowed(&plan, TEN, false));
        assert!(rollback_allowed(&plan, ALL_GREEN, false));
        assert!(rollback_allowed(&plan, Weights::ALL_BLUE, false));
        assert!(rollback_allowed(
            &plan,
            Weights { blue: 7, green: 0 },
            false
        ));
        assert!(!rollback_allowed(&plan, half, false), "set by someone else");
        assert!(rollback_allowed(&plan, half, true), "unless forced");
    }

    #[test]
    fn status_finds_the_resuming_step() {
        let plan = canary();
        assert_eq!(resume_step(&plan, Weights::ALL_BLUE), Some(0));
        assert_eq!(resume_step(&plan, TEN), Some(1));
        assert_eq!(resume_step(&plan, ALL_GREEN), Some(2));
        assert_eq!(resume_step(&plan, Weights { blue: 3, green: 3 }), None);
    }
}
