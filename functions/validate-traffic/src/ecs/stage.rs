//! What the hook does at each lifecycle stage of an ECS built-in deployment. Pure: one function
//! of the stage, the traffic weights and the hook's settings, one unit test per stage. The table
//! is in docs/validate-traffic.md ("ECS built-in deployments").

use crate::ecs::event::{Stage, Weights};

/// The listener rule a probe goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `advancedConfiguration.testListenerRule`: green only, once test traffic has moved.
    Test,
    /// `advancedConfiguration.productionListenerRule`: what users get, at the step's weights.
    Production,
}

impl Route {
    /// The field of `advancedConfiguration` that names the route's rule.
    pub fn rule_field(self) -> &'static str {
        match self {
            Route::Test => "testListenerRule",
            Route::Production => "productionListenerRule",
        }
    }
}

/// What one invocation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Send test traffic through the route and judge it.
    Probe(Route),
    /// Nothing to validate at this stage: `SUCCEEDED` at once, for this reason.
    Pass(&'static str),
    /// ECS re-invokes TEST_TRAFFIC_SHIFT and PRODUCTION_TRAFFIC_SHIFT while it rolls back, with
    /// the weights pointing back at blue. Such an invocation gets `SUCCEEDED` at once, before
    /// anything else is looked at: a rollback must never wait for a probe or a bad setting.
    Rollback,
}

/// The stage choices a hook can configure.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Policy {
    /// Also probe green at TEST_TRAFFIC_SHIFT (`probeTestTrafficShift` in `hookDetails`), where
    /// test traffic is still moving to green.
    pub probe_test_traffic_shift: bool,
}

pub fn decide(
    stage: Stage,
    target_revision: Option<&str>,
    test: &Weights,
    production: &Weights,
    policy: Policy,
) -> Action {
    match stage {
        Stage::ReconcileService | Stage::PreScaleUp | Stage::PostScaleUp => {
            Action::Pass("green takes no traffic at this stage")
        }
        Stage::TestTrafficShift if rolling_back(test, target_revision) => Action::Rollback,
        Stage::TestTrafficShift if policy.probe_test_traffic_shift => Action::Probe(Route::Test),
        Stage::TestTrafficShift => {
            Action::Pass("test traffic is moving; green is probed at POST_TEST_TRAFFIC_SHIFT")
        }
        Stage::PostTestTrafficShift => Action::Probe(Route::Test),
        // Before every production step of LINEAR and CANARY (once for BLUE_GREEN): what users
        // get at the weights the previous step left.
        Stage::PreProductionTrafficShift => Action::Probe(Route::Production),
        Stage::ProductionTrafficShift if rolling_back(production, target_revision) => {
            Action::Rollback
        }
        Stage::ProductionTrafficShift => Action::Pass(
            "production traffic is moving; green is probed at PRE_ and POST_PRODUCTION_TRAFFIC_SHIFT",
        ),
        Stage::PostProductionTrafficShift => Action::Probe(Route::Production),
    }
}

/// A rollback's invocation: the target revision (still green) is at 0 % of the traffic that
/// moves at this stage and another revision holds some.
pub fn rolling_back(weights: &Weights, target_revision: Option<&str>) -> bool {
    let Some(target) = target_revision else {
        return false;
    };
    weights.get(target).is_some_and(|w| *w <= 0.0)
        && weights.iter().any(|(arn, w)| arn != target && *w > 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GREEN: &str = "arn:aws:ecs:us-east-1:1:service-revision/c/s/2";
    const BLUE: &str = "arn:aws:ecs:us-east-1:1:service-revision/c/s/1";

    fn weights(green: f64) -> Weights {
        [
            (GREEN.to_string(), green),
            (BLUE.to_string(), 100.0 - green),
        ]
        .into()
    }

    fn at(stage: Stage, test: Weights, production: Weights) -> Action {
        decide(stage, Some(GREEN), &test, &production, Policy::default())
    }

    #[test]
    fn reconcile_service_passes() {
        assert!(matches!(
            at(Stage::ReconcileService, Weights::new(), Weights::new()),
            Action::Pass(_)
        ));
    }

    #[test]
    fn pre_scale_up_passes() {
        assert!(matches!(
            at(Stage::PreScaleUp, Weights::new(), Weights::new()),
            Action::Pass(_)
        ));
    }

    #[test]
    fn post_scale_up_passes() {
        assert!(matches!(
            at(Stage::PostScaleUp, Weights::new(), Weights::new()),
            Action::Pass(_)
        ));
    }

    #[test]
    fn test_traffic_shift_passes_probes_when_asked_and_lets_a_rollback_through() {
        let stage = Stage::TestTrafficShift;
        assert!(matches!(
            at(stage, weights(100.0), Weights::new()),
            Action::Pass(_)
        ));
        let probing = Policy {
            probe_test_traffic_shift: true,
        };
        assert_eq!(
            decide(
                stage,
                Some(GREEN),
                &weights(100.0),
                &Weights::new(),
                probing
            ),
            Action::Probe(Route::Test)
        );
        // Rolling back: test traffic points at blue again. Never probed, even when asked.
        assert_eq!(
            decide(stage, Some(GREEN), &weights(0.0), &Weights::new(), probing),
            Action::Rollback
        );
    }

    #[test]
    fn post_test_traffic_shift_probes_the_test_route() {
        assert_eq!(
            at(Stage::PostTestTrafficShift, Weights::new(), Weights::new()),
            Action::Probe(Route::Test)
        );
    }

    #[test]
    fn pre_production_traffic_shift_probes_production_at_every_step() {
        // BLUE_GREEN (and a canary's first step): production still all blue.
        for green in [0.0, 5.0, 20.0, 90.0] {
            assert_eq!(
                at(
                    Stage::PreProductionTrafficShift,
                    Weights::new(),
                    weights(green)
                ),
                Action::Probe(Route::Production),
                "{green}"
            );
        }
    }

    #[test]
    fn production_traffic_shift_passes_and_lets_a_rollback_through() {
        let stage = Stage::ProductionTrafficShift;
        for green in [5.0, 12.5, 100.0] {
            assert!(
                matches!(at(stage, Weights::new(), weights(green)), Action::Pass(_)),
                "{green}"
            );
        }
        assert_eq!(at(stage, Weights::new(), weights(0.0)), Action::Rollback);
    }

    #[test]
    fn post_production_traffic_shift_probes_production() {
        assert_eq!(
            at(
                Stage::PostProductionTrafficShift,
                Weights::new(),
                Weights::new()
            ),
            Action::Probe(Route::Production)
        );
    }

    #[test]
    fn a_rollback_needs_green_at_zero_and_someone_else_serving() {
        assert!(rolling_back(&weights(0.0), Some(GREEN)));
        assert!(!rolling_back(&weights(100.0), Some(GREEN)));
        assert!(!rolling_back(&Weights::new(), Some(GREEN)));
        assert!(!rolling_back(&weights(0.0), None));
        let only_green: Weights = [(GREEN.to_string(), 0.0)].into();
        assert!(!rolling_back(&only_green, Some(GREEN)));
        assert_eq!(Route::Test.rule_field(), "testListenerRule");
        assert_eq!(Route::Production.rule_field(), "productionListenerRule");
    }
}
