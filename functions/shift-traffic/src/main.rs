//! shift-traffic: moves an ALB forward action's weights from a blue to a green target group one
//! gated, verified step per invocation. Step Functions drives the steps and the waits between
//! them (see `statemachine/rollout.asl.json`).

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use lambda_runtime::service_fn;
use rollout_kit::{ConfigError, Env};
use shift_traffic::{alarms, elb, handler};

/// The function's configuration: only where to publish rollout events. What to shift arrives
/// in each invocation's spec.
struct Config {
    notification_topic_arn: Option<String>,
}

impl Config {
    fn from_env(env: &Env) -> Result<Config, ConfigError> {
        const TOPIC: &str = "NOTIFICATION_TOPIC_ARN";
        let notification_topic_arn = match env.get(TOPIC) {
            None => None,
            Some(arn) if arn.starts_with("arn:") && arn.contains(":sns:") => Some(arn.to_string()),
            Some(_) => return Err(ConfigError::new(TOPIC, "is not an SNS topic ARN")),
        };
        Ok(Config {
            notification_topic_arn,
        })
    }
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    rollout_kit::startup::init_logging();
    let config = Config::from_env(&Env::from_process()).inspect_err(|err| {
        tracing::error!(error = %err, "invalid configuration");
    })?;
    let sdk = rollout_kit::startup::load_aws_config().await;
    // The SDK sets no operation timeout by default; a hung call must fail (and be retried)
    // well inside the function's timeout, so the state machine can still roll back.
    let timeouts = TimeoutConfig::builder()
        .operation_attempt_timeout(Duration::from_secs(10))
        .operation_timeout(Duration::from_secs(25))
        .build();
    let elb_config = aws_sdk_elasticloadbalancingv2::config::Builder::from(&sdk)
        .timeout_config(timeouts.clone())
        .build();
    let cloudwatch_config = aws_sdk_cloudwatch::config::Builder::from(&sdk)
        .timeout_config(timeouts)
        .build();
    let deps = handler::Deps {
        elb: elb::Elb::new(aws_sdk_elasticloadbalancingv2::Client::from_conf(
            elb_config,
        )),
        alarms: alarms::Alarms::new(aws_sdk_cloudwatch::Client::from_conf(cloudwatch_config)),
        notifier: config
            .notification_topic_arn
            .map(|topic| rollout_kit::Publisher::new(aws_sdk_sns::Client::new(&sdk), topic)),
    };
    lambda_runtime::run(service_fn(|event| handler::handle(&deps, event))).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_is_optional_but_checked() {
        assert!(
            Config::from_env(&Env::from_pairs([]))
                .unwrap()
                .notification_topic_arn
                .is_none()
        );
        let ok = Config::from_env(&Env::from_pairs([(
            "NOTIFICATION_TOPIC_ARN",
            "arn:aws:sns:us-east-1:123456789012:rollouts",
        )]))
        .unwrap();
        assert!(ok.notification_topic_arn.is_some());
        let err = Config::from_env(&Env::from_pairs([("NOTIFICATION_TOPIC_ARN", "rollouts")]))
            .err()
            .unwrap();
        assert_eq!(err.var, "NOTIFICATION_TOPIC_ARN");
    }
}
