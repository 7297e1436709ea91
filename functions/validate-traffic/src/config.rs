//! Configuration from an explicit list of environment variables, validated at cold start.

use std::time::Duration;

use regex::Regex;
use reqwest::Method;
use reqwest::Url;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use rollout_kit::{ConfigError, Env};

use crate::verdict::{Expectations, StatusSet, Thresholds};

/// Every variable this function reads (besides the AWS and Lambda ones).
pub const VARS: &[&str] = &[
    "TARGET_URL",
    "PROBE_PATHS",
    "PROBE_METHOD",
    "PROBE_HEADERS",
    "PROBE_REQUESTS",
    "PROBE_CONCURRENCY",
    "PROBE_TIMEOUT_MS",
    "WARMUP_REQUESTS",
    "EXPECTED_STATUS",
    "BODY_CONTAINS",
    "BODY_REGEX",
    "MAX_P95_MS",
    "MAX_P99_MS",
    "MIN_SUCCESS_RATIO",
    "TLS_VERIFY",
    "READINESS_TIMEOUT_MS",
    "DEADLINE_MARGIN_MS",
    "NOTIFICATION_TOPIC_ARN",
];

pub const DEFAULT_DEADLINE_MARGIN: Duration = Duration::from_secs(5);
const MAX_REQUESTS: u32 = 10_000;
const MAX_CONCURRENCY: u32 = 64;

#[derive(Debug, Clone)]
pub struct Config {
    /// Skips discovery when set.
    pub target_url: Option<Url>,
    pub probe: ProbeSpec,
    pub expect: Expectations,
    pub thresholds: Thresholds,
    pub tls_verify: bool,
    /// How long to wait for green targets to be healthy; zero skips the gate.
    pub readiness_timeout: Duration,
    /// Time kept back from the invocation deadline for reporting.
    pub deadline_margin: Duration,
    pub topic_arn: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ProbeSpec {
    pub paths: Vec<String>,
    pub method: Method,
    /// May hold credentials: never logged.
    pub headers: HeaderMap,
    pub requests: u32,
    pub warmup: u32,
    pub concurrency: u32,
    pub timeout: Duration,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Config, ConfigError> {
        let target_url = env
            .get("TARGET_URL")
            .map(|raw| parse_target_url("TARGET_URL", raw))
            .transpose()?;

        let mut paths = env.list("PROBE_PATHS");
        if paths.is_empty() {
            paths.push("/".to_string());
        }
        if let Some(bad) = paths.iter().find(|p| !p.starts_with('/')) {
            return Err(ConfigError::new(
                "PROBE_PATHS",
                format!("path {bad:?} must start with /"),
            ));
        }

        let method_text = env
            .get("PROBE_METHOD")
            .unwrap_or("GET")
            .to_ascii_uppercase();
        let method = Method::from_bytes(method_text.as_bytes())
            .map_err(|_| ConfigError::new("PROBE_METHOD", "is not an HTTP method"))?;

        let headers = parse_headers(env.get("PROBE_HEADERS").unwrap_or(""))?;

        let requests = env.parse_or("PROBE_REQUESTS", 20u32)?;
        if !(1..=MAX_REQUESTS).contains(&requests) {
            return Err(ConfigError::new(
                "PROBE_REQUESTS",
                format!("must be between 1 and {MAX_REQUESTS}"),
            ));
        }
        let warmup = env.parse_or("WARMUP_REQUESTS", 0u32)?;
        if warmup > MAX_REQUESTS {
            return Err(ConfigError::new(
                "WARMUP_REQUESTS",
                format!("must be at most {MAX_REQUESTS}"),
            ));
        }
        let concurrency = env.parse_or("PROBE_CONCURRENCY", 4u32)?;
        if !(1..=MAX_CONCURRENCY).contains(&concurrency) {
            return Err(ConfigError::new(
                "PROBE_CONCURRENCY",
                format!("must be between 1 and {MAX_CONCURRENCY}"),
            ));
        }
        let timeout = env.millis_or("PROBE_TIMEOUT_MS", Duration::from_secs(5))?;
        if timeout.is_zero() {
            return Err(ConfigError::new("PROBE_TIMEOUT_MS", "must be above 0"));
        }

        let status = StatusSet::parse(env.get("EXPECTED_STATUS").unwrap_or("200-299"))
            .map_err(|reason| ConfigError::new("EXPECTED_STATUS", reason))?;
        let body_regex = env
            .get("BODY_REGEX")
            .map(|raw| {
                Regex::new(raw).map_err(|_| {
                    ConfigError::new("BODY_REGEX", "is not a valid regular expression")
                })
            })
            .transpose()?;
        let expect = Expectations {
            status,
            body_contains: env.get("BODY_CONTAINS").map(String::from),
            body_regex,
        };

        let min_success_ratio = env.parse_or("MIN_SUCCESS_RATIO", 1.0f64)?;
        if !(0.0..=1.0).contains(&min_success_ratio) {
            return Err(ConfigError::new(
                "MIN_SUCCESS_RATIO",
                "must be between 0 and 1",
            ));
        }
        let thresholds = Thresholds {
            min_success_ratio,
            max_p95: optional_millis(env, "MAX_P95_MS")?,
            max_p99: optional_millis(env, "MAX_P99_MS")?,
        };

        Ok(Config {
            target_url,
            probe: ProbeSpec {
                paths,
                method,
                headers,
                requests,
                warmup,
                concurrency,
                timeout,
            },
            expect,
            thresholds,
            tls_verify: env.bool_or("TLS_VERIFY", true)?,
            readiness_timeout: env.millis_or("READINESS_TIMEOUT_MS", Duration::from_secs(60))?,
            deadline_margin: env.millis_or("DEADLINE_MARGIN_MS", DEFAULT_DEADLINE_MARGIN)?,
            topic_arn: env.get("NOTIFICATION_TOPIC_ARN").map(String::from),
        })
    }
}

/// The margin alone, for an invocation whose configuration did not load.
pub fn deadline_margin(env: &Env) -> Duration {
    env.millis_or("DEADLINE_MARGIN_MS", DEFAULT_DEADLINE_MARGIN)
        .unwrap_or(DEFAULT_DEADLINE_MARGIN)
}

fn optional_millis(env: &Env, var: &str) -> Result<Option<Duration>, ConfigError> {
    env.get(var)
        .map(|raw| {
            raw.parse::<u64>()
                .map(Duration::from_millis)
                .map_err(|_| ConfigError::new(var, "must be whole milliseconds"))
        })
        .transpose()
}

pub fn parse_target_url(var: &str, raw: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(raw).map_err(|_| ConfigError::new(var, "is not a URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ConfigError::new(var, "must be an http or https URL"));
    }
    if url.host_str().is_none() {
        return Err(ConfigError::new(var, "has no host"));
    }
    // Credentials in a URL end up in logs and error texts; headers are the place for them.
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ConfigError::new(
            var,
            "must not contain credentials; use PROBE_HEADERS",
        ));
    }
    Ok(url)
}

/// `Name: value; Name2: value2`. Errors name the header, never its value.
fn parse_headers(raw: &str) -> Result<HeaderMap, ConfigError> {
    let mut headers = HeaderMap::new();
    for item in raw.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        let Some((name, value)) = item.split_once(':') else {
            return Err(ConfigError::new(
                "PROBE_HEADERS",
                "each header must be `Name: value`, separated by `;`",
            ));
        };
        let name = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| ConfigError::new("PROBE_HEADERS", "contains an invalid header name"))?;
        let mut value = HeaderValue::from_str(value.trim()).map_err(|_| {
            ConfigError::new(
                "PROBE_HEADERS",
                format!("header {name} has an invalid value"),
            )
        })?;
        if matches!(name.as_str(), "authorization" | "cookie" | "x-api-key") {
            value.set_sensitive(true);
        }
        headers.append(name, value);
    }
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_env(&Env::from_pairs(pairs.iter().copied()))
    }

    #[test]
    fn defaults_are_what_users_expect() {
        let c = config(&[]).unwrap();
        assert!(c.target_url.is_none());
        assert_eq!(c.probe.paths, vec!["/"]);
        assert_eq!(c.probe.method, Method::GET);
        assert_eq!(c.probe.requests, 20);
        assert_eq!(c.probe.concurrency, 4);
        assert_eq!(c.probe.warmup, 0);
        assert!(c.expect.status.contains(204) && !c.expect.status.contains(304));
        assert_eq!(c.thresholds.min_success_ratio, 1.0);
        assert!(c.tls_verify);
        assert_eq!(c.deadline_margin, DEFAULT_DEADLINE_MARGIN);
        assert!(c.topic_arn.is_none());
    }

    #[test]
    fn everything_parses() {
        let c = config(&[
            ("TARGET_URL", "https://green.internal:8443"),
            ("PROBE_PATHS", "/health, /api/version"),
            ("PROBE_METHOD", "head"),
            (
                "PROBE_HEADERS",
                "Host: app.example.com; Authorization: Bearer s3cret",
            ),
            ("EXPECTED_STATUS", "200-299,304"),
            ("BODY_REGEX", "v[0-9]+"),
            ("MAX_P95_MS", "250"),
            ("MIN_SUCCESS_RATIO", "0.95"),
            ("TLS_VERIFY", "false"),
            (
                "NOTIFICATION_TOPIC_ARN",
                "arn:aws:sns:us-east-1:123456789012:t",
            ),
        ])
        .unwrap();
        assert_eq!(c.probe.paths, vec!["/health", "/api/version"]);
        assert_eq!(c.probe.method, Method::HEAD);
        assert_eq!(c.probe.headers["host"], "app.example.com");
        assert!(c.probe.headers["authorization"].is_sensitive());
        assert!(c.expect.status.contains(304));
        assert_eq!(c.thresholds.max_p95, Some(Duration::from_millis(250)));
        assert!(!c.tls_verify);
    }

    #[test]
    fn bad_values_name_the_variable_not_the_secret() {
        for (var, value) in [
            ("TARGET_URL", "ftp://x"),
            ("TARGET_URL", "https://user:pw@host"),
            ("PROBE_PATHS", "health"),
            ("PROBE_REQUESTS", "0"),
            ("PROBE_REQUESTS", "many"),
            ("PROBE_CONCURRENCY", "1000"),
            ("PROBE_TIMEOUT_MS", "0"),
            ("EXPECTED_STATUS", "2xx"),
            ("BODY_REGEX", "("),
            ("MIN_SUCCESS_RATIO", "1.5"),
            ("MAX_P95_MS", "fast"),
            ("TLS_VERIFY", "maybe"),
            ("PROBE_HEADERS", "Authorization Bearer s3cret"),
        ] {
            let err = config(&[(var, value)]).unwrap_err();
            assert_eq!(err.var, var, "{value}");
            assert!(!err.to_string().contains("s3cret"), "{err}");
        }
    }

    #[test]
    fn bad_margin_falls_back() {
        let env = Env::from_pairs([("DEADLINE_MARGIN_MS", "soon")]);
        assert_eq!(deadline_margin(&env), DEFAULT_DEADLINE_MARGIN);
    }
}
