//! Configuration, read once at cold start from exactly these variables.

use std::time::Duration;

use base64::Engine;
use rollout_kit::{ConfigError, Env};

use crate::delivery::Policy;
use crate::message::KINDS;
use crate::status::{KNOWN, QUIET_NONE, StatusFilter};

pub const WEBHOOK_CIPHERTEXT: &str = "SLACK_WEBHOOK_URL_ENCRYPTED";
pub const ALLOWED_HOSTS: &str = "SLACK_WEBHOOK_ALLOWED_HOSTS";
pub const MENTION: &str = "SLACK_MENTION";
pub const STATUSES: &str = "NOTIFY_STATUSES";
/// Kinds of message (`kind` or `kind:STATUS`) not posted; `none` posts them all.
pub const QUIET: &str = "NOTIFY_QUIET";
pub const TIMEOUT_MS: &str = "SLACK_TIMEOUT_MS";
pub const MAX_ATTEMPTS: &str = "SLACK_MAX_ATTEMPTS";
/// Set by Lambda; the encryption context the console's helpers use.
pub const FUNCTION_NAME: &str = "AWS_LAMBDA_FUNCTION_NAME";

pub const DEFAULT_ALLOWED_HOST: &str = "hooks.slack.com";
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
pub const DEFAULT_MAX_ATTEMPTS: u32 = 4;

/// No `Debug`: it holds the ciphertext.
pub struct Config {
    pub ciphertext: Vec<u8>,
    pub function_name: String,
    pub allowed_hosts: Vec<String>,
    pub mention: Option<String>,
    pub statuses: StatusFilter,
    pub timeout: Duration,
    pub policy: Policy,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Config, ConfigError> {
        let encoded: String = env
            .require(WEBHOOK_CIPHERTEXT)?
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let ciphertext = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|_| {
                ConfigError::new(
                    WEBHOOK_CIPHERTEXT,
                    "is not base64 (expected the CiphertextBlob of kms encrypt)",
                )
            })?;
        if ciphertext.is_empty() {
            return Err(ConfigError::new(WEBHOOK_CIPHERTEXT, "decodes to nothing"));
        }
        let function_name = env.require(FUNCTION_NAME)?.to_string();

        let mut allowed_hosts: Vec<String> = env
            .list(ALLOWED_HOSTS)
            .into_iter()
            .map(|h| h.to_ascii_lowercase())
            .collect();
        if allowed_hosts.is_empty() {
            allowed_hosts.push(DEFAULT_ALLOWED_HOST.to_string());
        }
        if let Some(bad) = allowed_hosts
            .iter()
            .find(|h| h.contains('/') || h.contains(':') && !is_ipv6(h))
        {
            return Err(ConfigError::new(
                ALLOWED_HOSTS,
                format!("{bad:?} is not a host name (no scheme, port or path)"),
            ));
        }

        let mention = env.get(MENTION).map(str::to_string);
        if let Some(mention) = &mention
            && !is_mention(mention)
        {
            return Err(ConfigError::new(
                MENTION,
                "expected Slack mention syntax such as <!here>, <!channel>, <@U012AB3CD> or <!subteam^S012AB3CD>",
            ));
        }

        let statuses = StatusFilter::parse(&env.list(STATUSES))
            .map_err(|bad| {
                ConfigError::new(
                    STATUSES,
                    format!("unknown status {bad:?}; known: {}", KNOWN.join(", ")),
                )
            })?
            .with_quiet(&env.list(QUIET))
            .map_err(|bad| {
                ConfigError::new(
                    QUIET,
                    format!(
                        "cannot read {bad:?}: expected {QUIET_NONE:?} or entries kind or kind:STATUS, kinds: {}",
                        KINDS.join(", ")
                    ),
                )
            })?;

        let timeout = env.millis_or(TIMEOUT_MS, DEFAULT_TIMEOUT)?;
        if timeout < Duration::from_millis(100) {
            return Err(ConfigError::new(TIMEOUT_MS, "must be at least 100"));
        }
        let max_attempts = env.parse_or(MAX_ATTEMPTS, DEFAULT_MAX_ATTEMPTS)?;
        if max_attempts == 0 {
            return Err(ConfigError::new(MAX_ATTEMPTS, "must be at least 1"));
        }
        Ok(Config {
            ciphertext,
            function_name,
            allowed_hosts,
            mention,
            statuses,
            timeout,
            policy: Policy {
                max_attempts,
                ..Policy::default()
            },
        })
    }
}

fn is_ipv6(host: &str) -> bool {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<std::net::Ipv6Addr>()
        .is_ok()
}

/// One or more `<…>` tokens separated by spaces, each a Slack mention.
fn is_mention(text: &str) -> bool {
    text.split_whitespace().all(|token| {
        token.len() > 3
            && (token.starts_with("<!") || token.starts_with("<@"))
            && token.ends_with('>')
            && !token[1..token.len() - 1].contains(['<', '>'])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(extra: &[(&'static str, &'static str)]) -> Env {
        let mut pairs = vec![
            (WEBHOOK_CIPHERTEXT, "AQIDBA=="),
            (FUNCTION_NAME, "notify-slack"),
        ];
        pairs.extend_from_slice(extra);
        Env::from_pairs(pairs)
    }

    #[test]
    fn defaults() {
        let config = Config::from_env(&env(&[])).unwrap();
        assert_eq!(config.ciphertext, vec![1, 2, 3, 4]);
        assert_eq!(config.allowed_hosts, vec!["hooks.slack.com"]);
        assert_eq!(config.mention, None);
        assert_eq!(config.timeout, DEFAULT_TIMEOUT);
        assert_eq!(config.policy.max_attempts, DEFAULT_MAX_ATTEMPTS);
        assert_eq!(config.statuses, StatusFilter::default());
    }

    #[test]
    fn errors_name_the_variable_not_the_value() {
        let err = Config::from_env(&env(&[(WEBHOOK_CIPHERTEXT, "not base64!!")]))
            .err()
            .unwrap();
        assert_eq!(err.var, WEBHOOK_CIPHERTEXT);
        assert!(!err.to_string().contains("not base64!!"), "{err}");
        let err = Config::from_env(&Env::from_pairs([(FUNCTION_NAME, "x")]))
            .err()
            .unwrap();
        assert_eq!(err.var, WEBHOOK_CIPHERTEXT);
        for (var, value) in [
            (MENTION, "here"),
            (STATUSES, "FAILD"),
            (QUIET, "codepipeline_actoin:STARTED"),
            (QUIET, "ecs_task:RUNING"),
            (ALLOWED_HOSTS, "https://hooks.slack.com"),
            (TIMEOUT_MS, "soon"),
            (MAX_ATTEMPTS, "0"),
        ] {
            let err = Config::from_env(&env(&[(var, value)])).err().unwrap();
            assert_eq!(err.var, var, "{err}");
        }
    }

    #[test]
    fn mentions_and_filters() {
        let config = Config::from_env(&env(&[
            (MENTION, "<!here> <@U012AB3CD>"),
            (STATUSES, "FAILED, Stopped"),
            (ALLOWED_HOSTS, "Hooks.Slack.com, 127.0.0.1"),
        ]))
        .unwrap();
        assert_eq!(config.mention.as_deref(), Some("<!here> <@U012AB3CD>"));
        assert!(config.statuses.allows(Some("STOPPED")));
        assert!(!config.statuses.allows(Some("SUCCEEDED")));
        assert!(
            !config.statuses.admits("ecs_task", Some("STOPPED")),
            "the default quiet kinds stay"
        );
        let loud = Config::from_env(&env(&[(QUIET, "none")])).unwrap();
        assert!(
            loud.statuses
                .admits("codepipeline_action", Some("IN_PROGRESS"))
        );
        let own =
            Config::from_env(&env(&[(QUIET, "codebuild_phase, ecs_service_action:INFO")])).unwrap();
        assert!(!own.statuses.admits("codebuild_phase", Some("FAILED")));
        assert!(!own.statuses.admits("ecs_service_action", Some("INFO")));
        assert!(
            own.statuses
                .admits("codepipeline_action", Some("IN_PROGRESS"))
        );
        assert_eq!(config.allowed_hosts, vec!["hooks.slack.com", "127.0.0.1"]);
    }
}
