//! shift-traffic: moves an ALB forward action's weights from a blue to a green target group one
//! gated, verified step per invocation. Step Functions drives the steps and the waits between
//! them (see `statemachine/rollout.asl.json`).

// The step's future nests the generic orchestration deeply; the default limit is too tight to
// compute its layout.
#![recursion_limit = "256"]

use std::time::Duration;

use lambda_runtime::service_fn;
use rollout_kit::startup::{read_config, with_timeouts};
use rollout_kit::{ConfigError, Env};
use shift_traffic::{alarms, elb, handler, lease};

/// The function's configuration. What to shift arrives in each invocation's spec.
struct Config {
    notification_topic_arn: Option<String>,
    lease_table_name: String,
    lease_grace: Duration,
}

const DEFAULT_LEASE_GRACE: Duration = Duration::from_secs(900);

impl Config {
    fn from_env(env: &Env) -> Result<Config, ConfigError> {
        const TOPIC: &str = "NOTIFICATION_TOPIC_ARN";
        const TABLE: &str = "LEASE_TABLE_NAME";
        const GRACE: &str = "LEASE_GRACE_SECONDS";
        let notification_topic_arn = match env.get(TOPIC) {
            None => None,
            Some(arn) if arn.starts_with("arn:") && arn.contains(":sns:") => Some(arn.to_string()),
            Some(_) => return Err(ConfigError::new(TOPIC, "is not an SNS topic ARN")),
        };
        // Without the lock two writers could overwrite each other's weights: no table, no start.
        let lease_table_name = match env.get(TABLE) {
            Some(name) if is_table_name(name) => name.to_string(),
            Some(_) => {
                return Err(ConfigError::new(
                    TABLE,
                    "is not a DynamoDB table name (3-255 of a-z A-Z 0-9 _ - .)",
                ));
            }
            None => {
                return Err(ConfigError::new(
                    TABLE,
                    "is required: the lease table that keeps two rollouts off one listener",
                ));
            }
        };
        let lease_grace = match env.get(GRACE) {
            None => DEFAULT_LEASE_GRACE,
            Some(text) => match text.parse::<u64>() {
                Ok(seconds) if (1..=86_400).contains(&seconds) => Duration::from_secs(seconds),
                _ => {
                    return Err(ConfigError::new(
                        GRACE,
                        "must be a whole number of seconds from 1 to 86400",
                    ));
                }
            },
        };
        Ok(Config {
            notification_topic_arn,
            lease_table_name,
            lease_grace,
        })
    }
}

fn is_table_name(name: &str) -> bool {
    (3..=255).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    rollout_kit::startup::init_logging();
    let (config, tls) = read_config(&Env::from_process(), Config::from_env)?;
    let sdk = rollout_kit::startup::load_aws_config(&tls).await;
    // A hung call must fail (and be retried) well inside the function's timeout; each step
    // also bounds its calls by the invocation's deadline.
    // Shorter than a step's per-call budget (`elb::CALL_BUDGET`), so a hung attempt is
    // abandoned and retried by the SDK before the step gives up on the call.
    let aws = with_timeouts(&sdk, Duration::from_secs(3), Duration::from_secs(9));
    let deps: handler::Deps = handler::Deps {
        elb: elb::Elb::new(aws_sdk_elasticloadbalancingv2::Client::new(&aws)),
        alarms: alarms::Alarms::new(aws_sdk_cloudwatch::Client::new(&aws)),
        leases: lease::Leases::new(
            aws_sdk_dynamodb::Client::new(&aws),
            config.lease_table_name,
            config.lease_grace,
        ),
        notifier: config
            .notification_topic_arn
            .map(|topic| rollout_kit::Publisher::new(aws_sdk_sns::Client::new(&aws), topic)),
        clock: shift_traffic::ports::SystemClock,
    };
    lambda_runtime::run(service_fn(|event| handler::handle(&deps, event))).await
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: (&str, &str) = ("LEASE_TABLE_NAME", "rollout-leases");

    #[test]
    fn topic_is_optional_but_checked() {
        assert!(
            Config::from_env(&Env::from_pairs([TABLE]))
                .unwrap()
                .notification_topic_arn
                .is_none()
        );
        let ok = Config::from_env(&Env::from_pairs([
            TABLE,
            (
                "NOTIFICATION_TOPIC_ARN",
                "arn:aws:sns:us-east-1:123456789012:rollouts",
            ),
        ]))
        .unwrap();
        assert!(ok.notification_topic_arn.is_some());
        let err = Config::from_env(&Env::from_pairs([
            TABLE,
            ("NOTIFICATION_TOPIC_ARN", "rollouts"),
        ]))
        .err()
        .unwrap();
        assert_eq!(err.var, "NOTIFICATION_TOPIC_ARN");
    }

    #[test]
    fn the_lease_table_is_required_and_the_grace_bounded() {
        let err = Config::from_env(&Env::from_pairs([])).err().unwrap();
        assert_eq!(err.var, "LEASE_TABLE_NAME");
        let err = Config::from_env(&Env::from_pairs([("LEASE_TABLE_NAME", "a b")]))
            .err()
            .unwrap();
        assert_eq!(err.var, "LEASE_TABLE_NAME");
        let ok = Config::from_env(&Env::from_pairs([TABLE])).unwrap();
        assert_eq!(ok.lease_grace, DEFAULT_LEASE_GRACE);
        for bad in ["0", "-1", "86401", "soon"] {
            let err = Config::from_env(&Env::from_pairs([TABLE, ("LEASE_GRACE_SECONDS", bad)]))
                .err()
                .unwrap();
            assert_eq!(err.var, "LEASE_GRACE_SECONDS", "{bad}");
        }
    }
}
