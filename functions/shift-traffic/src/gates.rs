//! Gates checked before traffic moves: watched alarms and green's health. Pure verdicts over
//! what the adapters read.

/// An alarm as DescribeAlarms returned it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlarmState {
    pub name: String,
    /// `OK`, `ALARM` or `INSUFFICIENT_DATA`.
    pub state: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlarmVerdict {
    Clear,
    /// These alarms are in `ALARM`: roll back.
    Firing(Vec<String>),
    /// These watched alarms do not exist (a typo or a deleted alarm watches nothing).
    Missing(Vec<String>),
}

/// `INSUFFICIENT_DATA` does not stop a rollout: a new alarm on a quiet metric sits there.
pub fn alarm_verdict(watched: &[String], found: &[AlarmState]) -> AlarmVerdict {
    let missing: Vec<String> = watched
        .iter()
        .filter(|name| !found.iter().any(|a| &a.name == *name))
        .cloned()
        .collect();
    if !missing.is_empty() {
        return AlarmVerdict::Missing(missing);
    }
    let firing: Vec<String> = watched
        .iter()
        .filter(|name| found.iter().any(|a| &a.name == *name && a.state == "ALARM"))
        .cloned()
        .collect();
    if firing.is_empty() {
        AlarmVerdict::Clear
    } else {
        AlarmVerdict::Firing(firing)
    }
}

/// Green's targets by health state (`healthy`, `unhealthy`, `initial`, `unused`, `draining`,
/// `unavailable`) and reason code, as DescribeTargetHealth returned them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HealthCounts {
    pub healthy: u32,
    /// Every target except those draining (already on their way out).
    pub counted: u32,
}

impl HealthCounts {
    /// `(state, reason)` per target. A Lambda target group may run without health checks (its
    /// default); its targets read `unavailable` / `Target.HealthCheckDisabled` and the load
    /// balancer routes to them anyway, so they count as serving.
    pub fn from_states<'a>(targets: impl IntoIterator<Item = (&'a str, Option<&'a str>)>) -> Self {
        let mut counts = HealthCounts::default();
        for (state, reason) in targets {
            match (state, reason) {
                ("draining", _) => {}
                ("healthy", _) | ("unavailable", Some("Target.HealthCheckDisabled")) => {
                    counts.healthy += 1;
                    counts.counted += 1;
                }
                _ => counts.counted += 1,
            }
        }
        counts
    }
}

/// Green may take `next_permille` of the traffic when it has healthy targets and at least that
/// share of its targets is healthy. `Err` carries the reason for the rollback.
pub fn health_verdict(counts: HealthCounts, next_permille: u16) -> Result<(), String> {
    if counts.healthy == 0 {
        return Err(format!(
            "green has no healthy targets ({} registered)",
            counts.counted
        ));
    }
    if u64::from(counts.healthy) * 1000 < u64::from(next_permille) * u64::from(counts.counted) {
        return Err(format!(
            "only {} of green's {} targets are healthy, below the {} % of traffic it would take",
            counts.healthy,
            counts.counted,
            f64::from(next_permille) / 10.0
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alarm(name: &str, state: &str) -> AlarmState {
        AlarmState {
            name: name.into(),
            state: state.into(),
        }
    }

    #[test]
    fn alarms() {
        let watched = vec!["errors".to_string(), "latency".to_string()];
        assert_eq!(
            alarm_verdict(
                &watched,
                &[alarm("errors", "OK"), alarm("latency", "INSUFFICIENT_DATA")]
            ),
            AlarmVerdict::Clear
        );
        assert_eq!(
            alarm_verdict(
                &watched,
                &[alarm("errors", "ALARM"), alarm("latency", "OK")]
            ),
            AlarmVerdict::Firing(vec!["errors".into()])
        );
        assert_eq!(
            alarm_verdict(&watched, &[alarm("errors", "ALARM")]),
            AlarmVerdict::Missing(vec!["latency".into()])
        );
        assert_eq!(alarm_verdict(&[], &[]), AlarmVerdict::Clear);
    }

    #[test]
    fn health() {
        let counts = HealthCounts::from_states([
            ("healthy", None),
            ("healthy", None),
            ("unhealthy", Some("Target.FailedHealthChecks")),
            ("draining", Some("Target.DeregistrationInProgress")),
        ]);
        assert_eq!(
            counts,
            HealthCounts {
                healthy: 2,
                counted: 3
            }
        );
        assert_eq!(health_verdict(counts, 100), Ok(()));
        assert_eq!(health_verdict(counts, 666), Ok(()));
        assert!(
            health_verdict(counts, 667)
                .unwrap_err()
                .contains("2 of green's 3")
        );
        assert!(
            health_verdict(HealthCounts::default(), 100)
                .unwrap_err()
                .contains("no healthy targets")
        );
        let all = HealthCounts::from_states([("healthy", None)]);
        assert_eq!(health_verdict(all, 1000), Ok(()));
    }

    #[test]
    fn lambda_targets_without_health_checks_are_serving() {
        let lambda =
            HealthCounts::from_states([("unavailable", Some("Target.HealthCheckDisabled"))]);
        assert_eq!(health_verdict(lambda, 1000), Ok(()));
        // Any other `unavailable` (e.g. an internal error) is not taken as healthy.
        let unknown = HealthCounts::from_states([("unavailable", Some("Elb.InternalError"))]);
        assert!(health_verdict(unknown, 100).is_err());
        let not_in_use = HealthCounts::from_states([("unused", Some("Target.NotInUse"))]);
        assert!(health_verdict(not_in_use, 100).is_err());
    }
}
