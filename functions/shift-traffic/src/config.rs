//! The function's own settings, read from the environment at cold start. What to shift arrives
//! in each invocation's spec.

use std::time::Duration;

use rollout_kit::{ConfigError, Env};

/// The function's configuration. What to shift arrives in each invocation's spec.
pub struct Config {
    pub notification_topic_arn: Option<String>,
    pub lease_table_name: String,
    pub lease_grace: Duration,
}

pub const DEFAULT_LEASE_GRACE: Duration = Duration::from_secs(900);

impl Config {
    pub fn from_env(env: &Env) -> Result<Config, ConfigError> {
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
