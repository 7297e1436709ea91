//! ELBv2 adapter: read and write the action list of a listener or rule, read green's health.

use aws_sdk_elasticloadbalancingv2::Client;
use aws_sdk_elasticloadbalancingv2::error::ProvideErrorMetadata;
use aws_sdk_elasticloadbalancingv2::types::Action;

use crate::backoff::{ATTEMPTS, is_throttling, retry_throttled};
use crate::error::Error;
use crate::gates::HealthCounts;
use crate::spec::Target;

pub struct Elb {
    client: Client,
}

impl Elb {
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    pub async fn read_actions(&self, target: &Target) -> Result<Vec<Action>, Error> {
        match target {
            Target::Listener(arn) => {
                let out = retry_throttled("DescribeListeners", || {
                    self.client.describe_listeners().listener_arns(arn).send()
                })
                .await
                .map_err(|e| map_error("DescribeListeners", target, &e))?;
                let listener = out
                    .listeners()
                    .iter()
                    .find(|l| l.listener_arn() == Some(arn.as_str()))
                    .ok_or_else(|| Error::ListenerNotFound { arn: arn.clone() })?;
                Ok(listener.default_actions().to_vec())
            }
            Target::Rule(arn) => {
                let out = retry_throttled("DescribeRules", || {
                    self.client.describe_rules().rule_arns(arn).send()
                })
                .await
                .map_err(|e| map_error("DescribeRules", target, &e))?;
                let rule = out
                    .rules()
                    .iter()
                    .find(|r| r.rule_arn() == Some(arn.as_str()))
                    .ok_or_else(|| Error::RuleNotFound { arn: arn.clone() })?;
                Ok(rule.actions().to_vec())
            }
        }
    }

    pub async fn write_actions(&self, target: &Target, actions: &[Action]) -> Result<(), Error> {
        match target {
            Target::Listener(arn) => {
                retry_throttled("ModifyListener", || {
                    self.client
                        .modify_listener()
                        .listener_arn(arn)
                        .set_default_actions(Some(actions.to_vec()))
                        .send()
                })
                .await
                .map_err(|e| map_error("ModifyListener", target, &e))?;
            }
            Target::Rule(arn) => {
                retry_throttled("ModifyRule", || {
                    self.client
                        .modify_rule()
                        .rule_arn(arn)
                        .set_actions(Some(actions.to_vec()))
                        .send()
                })
                .await
                .map_err(|e| map_error("ModifyRule", target, &e))?;
            }
        }
        Ok(())
    }

    pub async fn target_health(
        &self,
        target: &Target,
        target_group_arn: &str,
    ) -> Result<HealthCounts, Error> {
        let out = retry_throttled("DescribeTargetHealth", || {
            self.client
                .describe_target_health()
                .target_group_arn(target_group_arn)
                .send()
        })
        .await
        .map_err(|e| map_error("DescribeTargetHealth", target, &e))?;
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

fn map_error<E>(operation: &'static str, target: &Target, err: &E) -> Error
where
    E: ProvideErrorMetadata + std::error::Error,
{
    let code = err.code();
    if is_throttling(code) {
        return Error::Throttled {
            operation,
            attempts: ATTEMPTS,
        };
    }
    let summary = rollout_kit::sdk_error_summary(err);
    match code {
        Some("ListenerNotFound") => Error::ListenerNotFound {
            arn: target.arn().to_string(),
        },
        Some("RuleNotFound") => Error::RuleNotFound {
            arn: target.arn().to_string(),
        },
        Some("TargetGroupNotFound") => Error::TargetGroupNotFound { detail: summary },
        _ => Error::Aws { operation, summary },
    }
}
