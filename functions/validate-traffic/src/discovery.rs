//! Where to send test traffic: CodeDeploy and ELBv2 lookups (through the `ports` seams) and the
//! pure decisions on their answers.
//!
//! Every lookup is retried on transient errors (throttling past the SDK's own attempts, 5xx, no
//! answer) until the caller's `until`: ELBv2 `Describe*` share one throttling bucket per account
//! and region with consoles and controllers, so a busy account must not fail a release.

use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use aws_sdk_codedeploy::config::http::HttpResponse;
use aws_sdk_codedeploy::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, Listener, TargetHealthDescription, TargetHealthStateEnum,
};
use reqwest::Url;
use rollout_kit::retry::{Backoff, RetryError, retry_until, sdk_is_transient};
use tokio::time::Instant;

use crate::error::Error;
use crate::ports::{Deployments, LoadBalancers};

const HEALTH_POLL: Duration = Duration::from_secs(2);

/// What GetDeployment says.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeploymentFacts {
    pub application: Option<String>,
    pub group: Option<String>,
    pub status: Option<String>,
    pub compute_platform: Option<String>,
    /// The revision's kind (`AppSpecContent`, `String`, `S3`…) and, when CodeDeploy holds it,
    /// its content: the AppSpec of a Lambda or ECS deployment.
    pub revision_type: Option<String>,
    pub app_spec: Option<String>,
}

impl DeploymentFacts {
    /// A deployment that already ended must not be probed: its hook only needs an answer.
    pub fn finished_unsuccessfully(&self) -> bool {
        matches!(self.status.as_deref(), Some("Stopped" | "Failed"))
    }
}

/// Where the probe goes.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub url: Url,
    pub listener_arn: Option<String>,
    /// The target group the test listener forwards to: green during the hooks we serve.
    pub green_target_group: Option<String>,
    pub internal: bool,
}

/// How a retried lookup ended without an answer.
pub enum Retried<E> {
    /// Not worth repeating (e.g. access denied, not found): the service's own error.
    Permanent(E),
    /// Transient errors until the time ran out: [`Error::AwsUnavailable`] naming the last one.
    Exhausted(Error),
}

impl<E: ProvideErrorMetadata + std::error::Error> Retried<E> {
    pub(crate) fn into_error(self, step: &'static str) -> Error {
        match self {
            Retried::Permanent(err) => aws_error(step, &err),
            Retried::Exhausted(err) => err,
        }
    }
}

/// One SDK call under [`retry_until`]. Remembers the last transient error itself, so the cause
/// survives even when the final attempt is cut off by `until`.
pub(crate) async fn retried<T, E, F, Fut>(
    step: &'static str,
    until: Instant,
    call: F,
) -> Result<T, Retried<SdkError<E, HttpResponse>>>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
{
    // A Mutex, not a RefCell: the lookup runs inside a spawned (Send) task.
    let last_seen: Mutex<Option<String>> = Mutex::new(None);
    let transient = |err: &SdkError<E, HttpResponse>| {
        let transient = sdk_is_transient(err);
        if transient {
            *last_seen.lock().unwrap_or_else(|p| p.into_inner()) =
                Some(rollout_kit::sdk_error_summary(err));
        }
        transient
    };
    match retry_until(step, until, Backoff::AWS, transient, call).await {
        Ok(value) => Ok(value),
        Err(RetryError::Permanent(err)) => Err(Retried::Permanent(err)),
        Err(RetryError::OutOfTime { attempts, last }) => {
            let last = last
                .map(|err| rollout_kit::sdk_error_summary(&err))
                .or_else(|| last_seen.lock().unwrap_or_else(|p| p.into_inner()).take())
                .unwrap_or_else(|| "no answer".into());
            tracing::warn!(operation = step, attempts, error = %last, "AWS call still failing; out of time");
            Err(Retried::Exhausted(Error::AwsUnavailable {
                step,
                attempts,
                last,
            }))
        }
    }
}

pub async fn deployment(
    codedeploy: &impl Deployments,
    deployment_id: &str,
    until: Instant,
) -> Result<DeploymentFacts, Error> {
    let output = retried("GetDeployment", until, || {
        codedeploy.get_deployment(deployment_id)
    })
    .await
    .map_err(|failed| match failed {
        Retried::Permanent(err) if err.code() == Some("DeploymentDoesNotExistException") => {
            Error::DeploymentNotFound(deployment_id.to_string())
        }
        other => other.into_error("GetDeployment"),
    })?;
    let info = output.deployment_info();
    let revision = info.and_then(|i| i.revision());
    Ok(DeploymentFacts {
        application: info.and_then(|i| i.application_name()).map(String::from),
        group: info
            .and_then(|i| i.deployment_group_name())
            .map(String::from),
        status: info
            .and_then(|i| i.status())
            .map(|s| s.as_str().to_string()),
        compute_platform: info
            .and_then(|i| i.compute_platform())
            .map(|p| p.as_str().to_string()),
        revision_type: revision
            .and_then(|r| r.revision_type())
            .map(|t| t.as_str().to_string()),
        app_spec: revision.and_then(|r| {
            // `String` is the deprecated form of `AppSpecContent`; both carry the document.
            #[allow(deprecated)]
            let raw = r.string().and_then(|s| s.content());
            r.app_spec_content()
                .and_then(|c| c.content())
                .or(raw)
                .map(String::from)
        }),
    })
}

/// GetDeploymentGroup → test listener → DescribeListeners → DescribeLoadBalancers.
pub async fn discover(
    codedeploy: &impl Deployments,
    elb: &impl LoadBalancers,
    facts: &DeploymentFacts,
    until: Instant,
) -> Result<Target, Error> {
    let (listener_arn, listener) = test_listener(codedeploy, elb, facts, until).await?;
    target_of(elb, listener_arn, &listener, until).await
}

/// A listener named by its ARN (a direct probe request's `listener_arn`): DescribeListeners →
/// DescribeLoadBalancers, as for the deployment group's test listener.
pub async fn listener_target(
    elb: &impl LoadBalancers,
    listener_arn: &str,
    until: Instant,
) -> Result<Target, Error> {
    let listener = describe_listener(elb, listener_arn, until).await?;
    target_of(elb, listener_arn.to_string(), &listener, until).await
}

/// The listener's URL (its load balancer's DNS name, its port and protocol) and green, the
/// target group it forwards to.
async fn target_of(
    elb: &impl LoadBalancers,
    listener_arn: String,
    listener: &Listener,
    until: Instant,
) -> Result<Target, Error> {
    let port = listener
        .port()
        .ok_or_else(|| Error::BadListener(format!("{listener_arn} has no port")))?;
    let protocol = listener
        .protocol()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let lb_arn = listener
        .load_balancer_arn()
        .ok_or_else(|| Error::BadListener(format!("{listener_arn} has no load balancer")))?;
    let green_target_group = forwarded_target_group(listener.default_actions());

    let lbs = retried("DescribeLoadBalancers", until, || {
        elb.describe_load_balancer(lb_arn)
    })
    .await
    .map_err(|failed| failed.into_error("DescribeLoadBalancers"))?;
    let lb = lbs
        .load_balancers()
        .first()
        .ok_or_else(|| Error::BadListener(format!("load balancer {lb_arn} not found")))?;
    let dns = lb
        .dns_name()
        .ok_or_else(|| Error::BadListener(format!("load balancer {lb_arn} has no DNS name")))?;
    let url = listener_url(&protocol, dns, port)?;
    Ok(Target {
        url,
        listener_arn: Some(listener_arn),
        green_target_group,
        internal: lb.scheme().map(|s| s.as_str()) == Some("internal"),
    })
}

async fn describe_listener(
    elb: &impl LoadBalancers,
    listener_arn: &str,
    until: Instant,
) -> Result<Listener, Error> {
    let listeners = retried("DescribeListeners", until, || {
        elb.describe_listener(listener_arn)
    })
    .await
    .map_err(|failed| failed.into_error("DescribeListeners"))?;
    listeners
        .listeners
        .unwrap_or_default()
        .into_iter()
        .next()
        .ok_or_else(|| Error::BadListener(format!("{listener_arn} not found")))
}

/// The test listener the deployment group routes test traffic through: its ARN and description.
async fn test_listener(
    codedeploy: &impl Deployments,
    elb: &impl LoadBalancers,
    facts: &DeploymentFacts,
    until: Instant,
) -> Result<(String, Listener), Error> {
    let (Some(application), Some(group)) = (&facts.application, &facts.group) else {
        return Err(Error::BadListener(
            "the deployment names no application or deployment group".into(),
        ));
    };
    let output = retried("GetDeploymentGroup", until, || {
        codedeploy.get_deployment_group(application, group)
    })
    .await
    .map_err(|failed| failed.into_error("GetDeploymentGroup"))?;
    let listener_arn = output
        .deployment_group_info()
        .and_then(|g| g.load_balancer_info())
        .map(|lb| lb.target_group_pair_info_list())
        .unwrap_or_default()
        .iter()
        .filter_map(|pair| pair.test_traffic_route())
        .flat_map(|route| route.listener_arns())
        .next()
        .cloned()
        .ok_or_else(|| Error::NoTestListener {
            group: group.clone(),
        })?;

    let listener = describe_listener(elb, &listener_arn, until).await?;
    Ok((listener_arn, listener))
}

/// Green as the test listener names it, without the load balancer lookup `discover` adds.
pub async fn green_target_group(
    codedeploy: &impl Deployments,
    elb: &impl LoadBalancers,
    facts: &DeploymentFacts,
    until: Instant,
) -> Result<Option<String>, Error> {
    let (_, listener) = test_listener(codedeploy, elb, facts, until).await?;
    Ok(forwarded_target_group(listener.default_actions()))
}

/// `<protocol>://<dns>:<port>`; only HTTP(S) listeners can be probed.
pub fn listener_url(protocol: &str, dns: &str, port: i32) -> Result<Url, Error> {
    let scheme = match protocol {
        "HTTP" => "http",
        "HTTPS" => "https",
        other => {
            return Err(Error::BadListener(format!(
                "protocol {other:?} cannot be probed over HTTP"
            )));
        }
    };
    Url::parse(&format!("{scheme}://{dns}:{port}"))
        .map_err(|_| Error::BadListener(format!("{dns}:{port} is not a valid address")))
}

/// The green target group is the one the test listener forwards to. During
/// `AfterAllowTestTraffic` and `BeforeAllowTraffic` CodeDeploy points the test listener at the
/// replacement task set. We do not take "the second group of the pair": blue and green swap
/// roles after every successful deployment, so the pair's order says nothing about which is new.
/// With weighted forwarding the heaviest group wins; a tie gives no answer.
pub fn forwarded_target_group(actions: &[Action]) -> Option<String> {
    let forward = actions
        .iter()
        .find(|a| a.r#type() == Some(&ActionTypeEnum::Forward))?;
    let weighted: Vec<(String, i32)> = forward
        .forward_config()
        .map(|c| c.target_groups())
        .unwrap_or_default()
        .iter()
        .filter_map(|t| {
            t.target_group_arn()
                .map(|arn| (arn.to_string(), t.weight().unwrap_or(1)))
        })
        .collect();
    if weighted.is_empty() {
        return forward.target_group_arn().map(String::from);
    }
    let top = weighted.iter().map(|(_, w)| *w).max()?;
    let mut heaviest = weighted.into_iter().filter(|(_, w)| *w == top);
    let first = heaviest.next()?;
    if heaviest.next().is_some() {
        None
    } else {
        Some(first.0)
    }
}

/// The readiness gate before a probe: with a green target group and a non-zero
/// `readiness_timeout`, waits for its targets to be healthy. `entered` is called only when the
/// gate waits (to name the phase).
pub async fn readiness_gate(
    elb: &impl LoadBalancers,
    green_target_group: Option<&str>,
    readiness_timeout: Duration,
    lookups_until: Instant,
    entered: impl FnOnce(),
) -> Result<(), Error> {
    let Some(group) = green_target_group else {
        return Ok(());
    };
    if readiness_timeout.is_zero() {
        return Ok(());
    }
    entered();
    // Never past the lookups' bound: past it the guard would speak instead of the gate, and the
    // health seen would be lost.
    let until = (Instant::now() + readiness_timeout).min(lookups_until);
    wait_until_healthy(elb, group, until).await
}

/// Waits, until `until`, for every registered target of the group to be healthy. A lookup that
/// keeps failing transiently is retried to the same bound and then named as the cause; a
/// permanent one (access denied, group gone) ends the wait at once.
pub async fn wait_until_healthy(
    elb: &impl LoadBalancers,
    target_group_arn: &str,
    until: Instant,
) -> Result<(), Error> {
    let started = Instant::now();
    loop {
        let output = retried("DescribeTargetHealth", until, || {
            elb.describe_target_health(target_group_arn)
        })
        .await
        .map_err(|failed| failed.into_error("DescribeTargetHealth"))?;
        let seen = match readiness(output.target_health_descriptions()) {
            Ok(()) => return Ok(()),
            Err(seen) => seen,
        };
        if Instant::now() + HEALTH_POLL > until {
            return Err(Error::NotReady {
                waited_ms: started.elapsed().as_millis() as u64,
                health: seen,
            });
        }
        tracing::info!(target_group = target_group_arn, health = %seen, "waiting for green targets");
        tokio::time::sleep(HEALTH_POLL).await;
    }
}

/// Ready when at least one target is registered and every non-draining one is healthy; the
/// error text is the health seen, e.g. `10.0.1.5:80=unhealthy(Target.FailedHealthChecks)`.
pub fn readiness(targets: &[TargetHealthDescription]) -> Result<(), String> {
    let active: Vec<_> = targets
        .iter()
        .filter(|t| {
            t.target_health().and_then(|h| h.state()) != Some(&TargetHealthStateEnum::Draining)
        })
        .collect();
    if active.is_empty() {
        return Err("no targets registered".into());
    }
    let healthy = |t: &&TargetHealthDescription| {
        t.target_health().and_then(|h| h.state()) == Some(&TargetHealthStateEnum::Healthy)
    };
    if active.iter().all(healthy) {
        return Ok(());
    }
    Err(active
        .iter()
        .take(10)
        .map(|t| {
            let id = t.target().and_then(|x| x.id()).unwrap_or("?");
            let port = t
                .target()
                .and_then(|x| x.port())
                .map(|p| format!(":{p}"))
                .unwrap_or_default();
            let health = t.target_health();
            let state = health
                .and_then(|h| h.state())
                .map(|s| s.as_str())
                .unwrap_or("unknown");
            match health.and_then(|h| h.reason()) {
                Some(reason) => format!("{id}{port}={state}({})", reason.as_str()),
                None => format!("{id}{port}={state}"),
            }
        })
        .collect::<Vec<_>>()
        .join(", "))
}

fn aws_error<E>(step: &'static str, err: &E) -> Error
where
    E: ProvideErrorMetadata + std::error::Error,
{
    Error::Aws {
        step,
        summary: rollout_kit::sdk_error_summary(err),
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_elasticloadbalancingv2::types::{
        ForwardActionConfig, TargetDescription, TargetGroupTuple, TargetHealth,
        TargetHealthReasonEnum,
    };

    use super::*;

    fn forward(groups: &[(&str, i32)]) -> Action {
        Action::builder()
            .r#type(ActionTypeEnum::Forward)
            .forward_config(
                ForwardActionConfig::builder()
                    .set_target_groups(Some(
                        groups
                            .iter()
                            .map(|(arn, w)| {
                                TargetGroupTuple::builder()
                                    .target_group_arn(*arn)
                                    .weight(*w)
                                    .build()
                            })
                            .collect(),
                    ))
                    .build(),
            )
            .build()
    }

    fn target(id: &str, state: TargetHealthStateEnum) -> TargetHealthDescription {
        TargetHealthDescription::builder()
            .target(TargetDescription::builder().id(id).port(80).build())
            .target_health(
                TargetHealth::builder()
                    .state(state)
                    .reason(TargetHealthReasonEnum::FailedHealthChecks)
                    .build(),
            )
            .build()
    }

    #[test]
    fn url_from_listener() {
        let url = listener_url("HTTP", "app-1.us-east-1.elb.amazonaws.com", 8080).unwrap();
        assert_eq!(
            url.as_str(),
            "http://app-1.us-east-1.elb.amazonaws.com:8080/"
        );
        assert_eq!(listener_url("HTTPS", "lb", 443).unwrap().scheme(), "https");
        assert!(matches!(
            listener_url("TCP", "lb", 80),
            Err(Error::BadListener(_))
        ));
    }

    #[test]
    fn green_is_what_the_test_listener_forwards_to() {
        let plain = Action::builder()
            .r#type(ActionTypeEnum::Forward)
            .target_group_arn("arn:tg/green")
            .build();
        assert_eq!(
            forwarded_target_group(&[plain]).as_deref(),
            Some("arn:tg/green")
        );
        assert_eq!(
            forwarded_target_group(&[forward(&[("arn:tg/blue", 0), ("arn:tg/green", 1)])])
                .as_deref(),
            Some("arn:tg/green")
        );
        assert_eq!(
            forwarded_target_group(&[forward(&[("arn:tg/blue", 5), ("arn:tg/green", 5)])]),
            None
        );
        let fixed = Action::builder()
            .r#type(ActionTypeEnum::FixedResponse)
            .build();
        assert_eq!(forwarded_target_group(&[fixed]), None);
    }

    #[test]
    fn ready_only_when_all_active_targets_are_healthy() {
        use TargetHealthStateEnum::*;
        assert!(readiness(&[]).is_err());
        assert!(readiness(&[target("10.0.0.1", Healthy), target("10.0.0.2", Draining)]).is_ok());
        let seen =
            readiness(&[target("10.0.0.1", Healthy), target("10.0.0.2", Unhealthy)]).unwrap_err();
        assert!(
            seen.contains("10.0.0.2:80=unhealthy(Target.FailedHealthChecks)"),
            "{seen}"
        );
        assert!(readiness(&[target("10.0.0.3", Draining)]).is_err());
    }

    #[test]
    fn finished_deployments_are_not_probed() {
        let mut facts = DeploymentFacts::default();
        for (status, finished) in [
            ("Stopped", true),
            ("Failed", true),
            ("InProgress", false),
            ("Succeeded", false),
        ] {
            facts.status = Some(status.into());
            assert_eq!(facts.finished_unsuccessfully(), finished, "{status}");
        }
    }
}
