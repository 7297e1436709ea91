//! ELBv2 adapter: read and write the action list of a listener or rule, read green's health.

use std::time::Duration;

use aws_sdk_elasticloadbalancingv2::Client;
use aws_sdk_elasticloadbalancingv2::config::http::HttpResponse;
use aws_sdk_elasticloadbalancingv2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_elasticloadbalancingv2::operation::describe_target_health::{
    DescribeTargetHealthError, DescribeTargetHealthOutput,
};
use aws_sdk_elasticloadbalancingv2::types::Action;
use rollout_kit::LazyClient;
use rollout_kit::retry::{Backoff, RetryError, retry_until, sdk_is_transient};
use tokio::time::Instant;

use crate::error::Error;
use crate::gates::HealthCounts;
use crate::spec::Target;

/// The longest one call keeps retrying a throttled or failing API before the step gives up with
/// `Throttled` (the state machine then retries the whole idempotent step): ELBv2's `Describe*`
/// share one bucket per account and region, and a busy account throttles for longer than the
/// SDK's own three attempts ride out.
pub const CALL_BUDGET: Duration = Duration::from_secs(10);

/// Retries transient errors of one call until [`CALL_BUDGET`] or `until`, whichever is first.
pub async fn call<T, E, F, Fut>(
    operation: &'static str,
    until: Instant,
    call: F,
) -> Result<T, RetryError<SdkError<E, HttpResponse>>>
where
    E: ProvideErrorMetadata,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, SdkError<E, HttpResponse>>>,
{
    let until = until.min(Instant::now() + CALL_BUDGET);
    retry_until(operation, until, Backoff::AWS, sdk_is_transient, call).await
}

/// The error of a call that gave up: `Throttled` (retryable) when time ran out on transient
/// answers, else what `permanent` makes of the service's answer.
pub fn retry_error<E>(
    operation: &'static str,
    err: RetryError<SdkError<E, HttpResponse>>,
    permanent: impl FnOnce(Option<&str>, String) -> Error,
) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match err {
        RetryError::Permanent(err) => {
            let summary = rollout_kit::sdk_error_summary(&err);
            permanent(err.code(), summary)
        }
        RetryError::OutOfTime { attempts, last } => Error::Throttled {
            operation,
            attempts,
            detail: last
                .map(|e| rollout_kit::sdk_error_summary(&e))
                .unwrap_or_else(|| "no answer before the step's time ran out".into()),
        },
    }
}

pub struct Elb {
    /// Built by the first call.
    client: LazyClient<Client>,
}

impl Elb {
    pub fn new(client: LazyClient<Client>) -> Self {
        Self { client }
    }

    pub async fn read_actions(
        &self,
        target: &Target,
        until: Instant,
    ) -> Result<Vec<Action>, Error> {
        match target {
            Target::Listener(arn) => {
                let out = call("DescribeListeners", until, || {
                    self.client.describe_listeners().listener_arns(arn).send()
                })
                .await
                .map_err(|e| map_error("DescribeListeners", target, e))?;
                let listener = out
                    .listeners()
                    .iter()
                    .find(|l| l.listener_arn() == Some(arn.as_str()))
                    .ok_or_else(|| Error::ListenerNotFound { arn: arn.clone() })?;
                Ok(listener.default_actions().to_vec())
            }
            Target::Rule(arn) => {
                let out = call("DescribeRules", until, || {
                    self.client.describe_rules().rule_arns(arn).send()
                })
                .await
                .map_err(|e| map_error("DescribeRules", target, e))?;
                let rule = out
                    .rules()
                    .iter()
                    .find(|r| r.rule_arn() == Some(arn.as_str()))
                    .ok_or_else(|| Error::RuleNotFound { arn: arn.clone() })?;
                Ok(rule.actions().to_vec())
            }
        }
    }

    pub async fn write_actions(
        &self,
        target: &Target,
        actions: &[Action],
        until: Instant,
    ) -> Result<(), Error> {
        match target {
            Target::Listener(arn) => {
                call("ModifyListener", until, || {
                    self.client
                        .modify_listener()
                        .listener_arn(arn)
                        .set_default_actions(Some(actions.to_vec()))
                        .send()
                })
                .await
                .map_err(|e| map_error("ModifyListener", target, e))?;
            }
            Target::Rule(arn) => {
                call("ModifyRule", until, || {
                    self.client
                        .modify_rule()
                        .rule_arn(arn)
                        .set_actions(Some(actions.to_vec()))
                        .send()
                })
                .await
                .map_err(|e| map_error("ModifyRule", target, e))?;
            }
        }
        Ok(())
    }

    pub async fn target_health(
        &self,
        target: &Target,
        target_group_arn: &str,
        until: Instant,
    ) -> Result<HealthCounts, Error> {
        let out = self
            .describe_target_health(target_group_arn, until)
            .await
            .map_err(|e| map_error("DescribeTargetHealth", target, e))?;
        Ok(HealthCounts::from_states(
            out.target_health_descriptions().iter().map(|d| {
                let health = d.target_health();
                (
                    health
                        .and_then(|h| h.state())
                        .map_or("unknown", |s| s.as_str()),
                    health.and_then(|h| h.reason()).map(|r| r.as_str()),
                )
            }),
        ))
    }
}

impl Elb {
    pub async fn target_ids(
        &self,
        target_group_arn: &str,
        until: Instant,
    ) -> Result<Vec<String>, Error> {
        let out = self
            .describe_target_health(target_group_arn, until)
            .await
            .map_err(|e| group_error("DescribeTargetHealth", e))?;
        Ok(out
            .target_health_descriptions()
            .iter()
            .filter_map(|d| d.target().and_then(|t| t.id()).map(str::to_string))
            .collect())
    }

    async fn describe_target_health(
        &self,
        target_group_arn: &str,
        until: Instant,
    ) -> Result<
        DescribeTargetHealthOutput,
        RetryError<SdkError<DescribeTargetHealthError, HttpResponse>>,
    > {
        call("DescribeTargetHealth", until, || {
            self.client
                .describe_target_health()
                .target_group_arn(target_group_arn)
                .send()
        })
        .await
    }

    pub async fn deregistration_delay(
        &self,
        target_group_arn: &str,
        until: Instant,
    ) -> Result<u64, Error> {
        let out = call("DescribeTargetGroupAttributes", until, || {
            self.client
                .describe_target_group_attributes()
                .target_group_arn(target_group_arn)
                .send()
        })
        .await
        .map_err(|e| group_error("DescribeTargetGroupAttributes", e))?;
        let value = out
            .attributes()
            .iter()
            .find(|a| a.key() == Some(DEREGISTRATION_DELAY))
            .and_then(|a| a.value());
        match value.map(|v| v.trim().parse::<u64>()) {
            Some(Ok(seconds)) => Ok(seconds),
            // Lambda target groups have no such attribute: nothing drains.
            None => Ok(0),
            Some(Err(_)) => Err(Error::Aws {
                operation: "DescribeTargetGroupAttributes",
                summary: format!("{DEREGISTRATION_DELAY} is not a number of seconds"),
            }),
        }
    }
}

const DEREGISTRATION_DELAY: &str = "deregistration_delay.timeout_seconds";

fn group_error<E>(operation: &'static str, err: RetryError<SdkError<E, HttpResponse>>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    retry_error(operation, err, |code, summary| match code {
        Some("TargetGroupNotFound") => Error::TargetGroupNotFound { detail: summary },
        _ => Error::Aws { operation, summary },
    })
}

fn map_error<E>(
    operation: &'static str,
    target: &Target,
    err: RetryError<SdkError<E, HttpResponse>>,
) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    retry_error(operation, err, |code, summary| match code {
        Some("ListenerNotFound") => Error::ListenerNotFound {
            arn: target.arn().to_string(),
        },
        Some("RuleNotFound") => Error::RuleNotFound {
            arn: target.arn().to_string(),
        },
        Some("TargetGroupNotFound") => Error::TargetGroupNotFound { detail: summary },
        _ => Error::Aws { operation, summary },
    })
}
