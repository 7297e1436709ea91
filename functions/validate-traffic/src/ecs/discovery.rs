//! How green is found for an ECS built-in deployment, with no configuration: the target
//! service revision's load balancer names the route's listener rule
//! (`advancedConfiguration.testListenerRule` or `productionListenerRule`), the rule names its
//! conditions and (inside its ARN) its listener, the listener its port, protocol and load
//! balancer, the load balancer its DNS name.
//!
//! Every lookup goes through the `ports` seams and the same bounded retries as the CodeDeploy
//! path ([`crate::discovery::retried`]): transient errors are retried until `until`, then the
//! hook fails naming the last one.

use aws_sdk_ecs::types::LoadBalancer as EcsLoadBalancer;
use reqwest::Url;
use tokio::time::Instant;

use crate::config::ProbeSpec;
use crate::discovery::{listener_url, retried};
use crate::ecs::route::{Condition, conditions, listener_of_rule, satisfy};
use crate::ecs::stage::Route;
use crate::error::Error;
use crate::ports::{LoadBalancers, ServiceRevisions};
use crate::verdict::without_query;

/// Where the probe goes, and what its requests must look like to get there.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteTarget {
    pub url: Url,
    /// The rule (or, for a network load balancer, the listener) the revision names.
    pub rule_arn: String,
    pub listener_arn: String,
    pub conditions: Vec<Condition>,
    pub internal: bool,
}

/// Shapes the probe's requests to meet the rule's conditions (headers, host, path) and logs
/// where the probe goes. `route` names the route in the log line when one was discovered.
pub fn aim(spec: &mut ProbeSpec, target: &RouteTarget, route: Option<&str>) -> Result<(), Error> {
    let host = target.url.host_str().unwrap_or_default().to_string();
    let notes = satisfy(spec, &host, &target.conditions).map_err(Error::UnmatchableRule)?;
    for note in notes {
        tracing::warn!(rule = %target.rule_arn, note = %note, "listener rule");
    }
    tracing::info!(
        route,
        target = %without_query(target.url.as_str()),
        rule = %target.rule_arn,
        listener = %target.listener_arn,
        internal = target.internal,
        conditions = target.conditions.len(),
        // Names only: a value may be a secret.
        headers = %spec.headers.keys().map(|k| k.as_str()).collect::<Vec<_>>().join(","),
        "probe target"
    );
    Ok(())
}

pub async fn discover(
    ecs: &impl ServiceRevisions,
    elb: &impl LoadBalancers,
    revision_arn: &str,
    route: Route,
    until: Instant,
) -> Result<RouteTarget, Error> {
    let label = route_label(route);
    let output = retried("DescribeServiceRevisions", until, || {
        ecs.describe_service_revision(revision_arn)
    })
    .await
    .map_err(|failed| failed.into_error("DescribeServiceRevisions"))?;
    let Some(revision) = output
        .service_revisions()
        .iter()
        .find(|r| r.service_revision_arn() == Some(revision_arn))
        .or_else(|| output.service_revisions().first())
    else {
        let reason = output
            .failures()
            .first()
            .map(|f| {
                let reason = f.reason().unwrap_or("no reason given");
                match f.detail() {
                    Some(detail) => format!("{reason}: {detail}"),
                    None => reason.to_string(),
                }
            })
            .unwrap_or_else(|| "DescribeServiceRevisions returned nothing".into());
        return Err(Error::ServiceRevisionNotFound {
            arn: revision_arn.to_string(),
            reason,
        });
    };
    let rule_arn =
        rule_for(revision.load_balancers(), route).ok_or_else(|| Error::NoListenerRule {
            revision: revision_arn.to_string(),
            field: route.rule_field(),
        })?;
    via_rule(elb, rule_arn, label, until).await
}

/// From a listener rule (or, for a network load balancer, a listener) to the URL and the
/// conditions to meet: DescribeRules → DescribeListeners → DescribeLoadBalancers. `label` names
/// the route in errors (`test`, `production`, `requested`).
pub async fn via_rule(
    elb: &impl LoadBalancers,
    rule_arn: String,
    label: &'static str,
    until: Instant,
) -> Result<RouteTarget, Error> {
    let (listener_arn, conditions) = match listener_of_rule(&rule_arn) {
        Some(listener_arn) => {
            let rules = retried("DescribeRules", until, || elb.describe_rule(&rule_arn))
                .await
                .map_err(|failed| failed.into_error("DescribeRules"))?;
            let rule = rules
                .rules()
                .first()
                .ok_or_else(|| Error::BadRouteListener {
                    route: label,
                    detail: format!("rule {rule_arn} not found"),
                })?;
            (listener_arn, conditions(rule))
        }
        // A network load balancer's route is the listener itself.
        None if rule_arn.contains(":listener/") => (rule_arn.clone(), Vec::new()),
        None => {
            return Err(Error::BadRouteListener {
                route: label,
                detail: format!("{rule_arn} is neither a listener rule nor a listener ARN"),
            });
        }
    };

    let bad = |detail: String| Error::BadRouteListener {
        route: label,
        detail,
    };
    let listeners = retried("DescribeListeners", until, || {
        elb.describe_listener(&listener_arn)
    })
    .await
    .map_err(|failed| failed.into_error("DescribeListeners"))?;
    let listener = listeners
        .listeners()
        .first()
        .ok_or_else(|| bad(format!("{listener_arn} not found")))?;
    let port = listener
        .port()
        .ok_or_else(|| bad(format!("{listener_arn} has no port")))?;
    let protocol = listener
        .protocol()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let lb_arn = listener
        .load_balancer_arn()
        .ok_or_else(|| bad(format!("{listener_arn} has no load balancer")))?;
    let lbs = retried("DescribeLoadBalancers", until, || {
        elb.describe_load_balancer(lb_arn)
    })
    .await
    .map_err(|failed| failed.into_error("DescribeLoadBalancers"))?;
    let lb = lbs
        .load_balancers()
        .first()
        .ok_or_else(|| bad(format!("load balancer {lb_arn} not found")))?;
    let dns = lb
        .dns_name()
        .ok_or_else(|| bad(format!("load balancer {lb_arn} has no DNS name")))?;
    let url = listener_url(&protocol, dns, port).map_err(|err| match err {
        Error::BadListener(detail) => bad(detail),
        other => other,
    })?;
    Ok(RouteTarget {
        url,
        rule_arn,
        listener_arn,
        conditions,
        internal: lb.scheme().map(|s| s.as_str()) == Some("internal"),
    })
}

/// The route's rule: the first load balancer of the revision whose `advancedConfiguration`
/// names one.
pub fn rule_for(load_balancers: &[EcsLoadBalancer], route: Route) -> Option<String> {
    load_balancers.iter().find_map(|lb| {
        let advanced = lb.advanced_configuration()?;
        let rule = match route {
            Route::Test => advanced.test_listener_rule(),
            Route::Production => advanced.production_listener_rule(),
        }?;
        (!rule.trim().is_empty()).then(|| rule.trim().to_string())
    })
}

pub fn route_label(route: Route) -> &'static str {
    match route {
        Route::Test => "test",
        Route::Production => "production",
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_ecs::types::AdvancedConfiguration;

    use super::*;

    fn lb(test: Option<&str>, production: Option<&str>) -> EcsLoadBalancer {
        let mut advanced = AdvancedConfiguration::builder().alternate_target_group_arn("tg/b");
        if let Some(rule) = test {
            advanced = advanced.test_listener_rule(rule);
        }
        if let Some(rule) = production {
            advanced = advanced.production_listener_rule(rule);
        }
        EcsLoadBalancer::builder()
            .target_group_arn("tg/a")
            .advanced_configuration(advanced.build())
            .build()
    }

    #[test]
    fn each_route_has_its_rule() {
        let lbs = [
            EcsLoadBalancer::builder().target_group_arn("tg/x").build(),
            lb(None, Some("rule/prod")),
            lb(Some("rule/test"), Some("rule/prod2")),
        ];
        assert_eq!(rule_for(&lbs, Route::Test).as_deref(), Some("rule/test"));
        assert_eq!(
            rule_for(&lbs, Route::Production).as_deref(),
            Some("rule/prod")
        );
        assert_eq!(rule_for(&lbs[..2], Route::Test), None);
        assert_eq!(rule_for(&[lb(Some(" "), None)], Route::Test), None);
    }
}
