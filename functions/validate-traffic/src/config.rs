//! Configuration from an explicit list of environment variables, validated at cold start.

use std::time::Duration;

use regex::Regex;
use reqwest::Method;
use reqwest::Url;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use rollout_kit::{ConfigError, Env, Margin};

use crate::redact::Redactor;
use crate::verdict::{Expectations, JsonField, StatusSet, Thresholds, without_query};

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
    "BODY_JSON",
    "INVOKE_PAYLOADS",
    "MAX_P95_MS",
    "MAX_P99_MS",
    "MIN_SUCCESS_RATIO",
    "TLS_VERIFY",
    "READINESS_TIMEOUT_MS",
    "DEADLINE_MARGIN_MS",
    "NOTIFICATION_TOPIC_ARN",
    rollout_kit::tls::CERT_FILE_VAR,
];

pub const DEFAULT_DEADLINE_MARGIN: Duration = Duration::from_secs(5);
/// The least margin that still leaves the report a chance: the final slack the report keeps
/// for the runtime's answer ([`crate::report::FINAL_SLACK`]) plus one quick attempt. A smaller
/// configured margin would make every verdict race its own report, so it is refused.
pub const MIN_DEADLINE_MARGIN: Duration = Duration::from_millis(300);
/// For short invocations the margin shrinks to this share of the time left (never below
/// [`MIN_DEADLINE_MARGIN`]), so the probe still gets most of a 2 s invocation.
pub const MARGIN_MAX_SHARE_PERCENT: u32 = 30;
const MAX_REQUESTS: u32 = 10_000;
const MAX_CONCURRENCY: u32 = 64;
/// Test payloads for CodeDeploy Lambda deployments: Lambda takes at most 6 MB per synchronous
/// invocation; a test payload is far smaller, and all of them stay in memory.
const MAX_PAYLOADS: usize = 100;
const MAX_PAYLOAD_BYTES: usize = 256 * 1024;

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
    /// Time kept back from the invocation deadline for reporting, as configured; see [`margin`].
    pub deadline_margin: Duration,
    pub topic_arn: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ProbeSpec {
    pub paths: Vec<String>,
    pub method: Method,
    /// May hold credentials: never logged.
    pub headers: HeaderMap,
    /// Masks the header values in any body excerpt.
    pub redactor: Redactor,
    pub requests: u32,
    pub warmup: u32,
    pub concurrency: u32,
    pub timeout: Duration,
    /// What a Lambda deployment's target is invoked with, in turn (`INVOKE_PAYLOADS`), each a
    /// JSON document. May hold credentials: never logged.
    pub payloads: Vec<String>,
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
        // A fragment is never sent to the server; a path with one would not probe what it says.
        if let Some(bad) = paths.iter().find(|p| p.contains('#')) {
            return Err(ConfigError::new(
                "PROBE_PATHS",
                format!(
                    "path {:?} must not contain a fragment (#)",
                    without_query(bad.split('#').next().unwrap_or_default())
                ),
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
        let body_json = env
            .get("BODY_JSON")
            .map(|raw| {
                JsonField::parse(raw).map_err(|reason| ConfigError::new("BODY_JSON", reason))
            })
            .transpose()?;
        let expect = Expectations {
            status,
            body_contains: env.get("BODY_CONTAINS").map(String::from),
            body_regex,
            body_json,
        };
        let payloads = parse_payloads(env.get("INVOKE_PAYLOADS"))?;

        let min_success_ratio = env.parse_or("MIN_SUCCESS_RATIO", 1.0f64)?;
        // 0 would pass a green that failed every request.
        if !(min_success_ratio > 0.0 && min_success_ratio <= 1.0) {
            return Err(ConfigError::new(
                "MIN_SUCCESS_RATIO",
                "must be above 0 and at most 1",
            ));
        }
        let thresholds = Thresholds {
            min_success_ratio,
            max_p95: optional_millis(env, "MAX_P95_MS")?,
            max_p99: optional_millis(env, "MAX_P99_MS")?,
        };

        let deadline_margin = env.millis_or("DEADLINE_MARGIN_MS", DEFAULT_DEADLINE_MARGIN)?;
        if deadline_margin < MIN_DEADLINE_MARGIN {
            return Err(ConfigError::new(
                "DEADLINE_MARGIN_MS",
                format!(
                    "must be at least {} ms, what the report itself needs",
                    MIN_DEADLINE_MARGIN.as_millis()
                ),
            ));
        }
        let redactor = Redactor::from_headers(&headers);

        Ok(Config {
            target_url,
            probe: ProbeSpec {
                paths,
                method,
                headers,
                redactor,
                requests,
                warmup,
                concurrency,
                timeout,
                payloads,
            },
            expect,
            thresholds,
            tls_verify: env.bool_or("TLS_VERIFY", true)?,
            readiness_timeout: env.millis_or("READINESS_TIMEOUT_MS", Duration::from_secs(60))?,
            deadline_margin,
            topic_arn: env.get("NOTIFICATION_TOPIC_ARN").map(String::from),
        })
    }
}

/// `INVOKE_PAYLOADS`: a JSON array of documents sent in turn, or one document; `[{}]` when unset.
/// Errors name the position, never the content.
fn parse_payloads(raw: Option<&str>) -> Result<Vec<String>, ConfigError> {
    const VAR: &str = "INVOKE_PAYLOADS";
    let Some(raw) = raw.filter(|r| !r.trim().is_empty()) else {
        return Ok(vec!["{}".to_string()]);
    };
    let document: serde_json::Value = serde_json::from_str(raw).map_err(|e| {
        ConfigError::new(
            VAR,
            format!("is not JSON (line {}, column {})", e.line(), e.column()),
        )
    })?;
    let documents = match document {
        serde_json::Value::Array(items) => items,
        one => vec![one],
    };
    if documents.is_empty() || documents.len() > MAX_PAYLOADS {
        return Err(ConfigError::new(
            VAR,
            format!("must hold 1 to {MAX_PAYLOADS} payloads"),
        ));
    }
    let payloads: Vec<String> = documents.iter().map(|d| d.to_string()).collect();
    if let Some(at) = payloads.iter().position(|p| p.len() > MAX_PAYLOAD_BYTES) {
        return Err(ConfigError::new(
            VAR,
            format!("payload {at} is over {} KiB", MAX_PAYLOAD_BYTES / 1024),
        ));
    }
    Ok(payloads)
}

/// The margin alone, for an invocation whose configuration did not load.
pub fn deadline_margin(env: &Env) -> Duration {
    env.millis_or("DEADLINE_MARGIN_MS", DEFAULT_DEADLINE_MARGIN)
        .unwrap_or(DEFAULT_DEADLINE_MARGIN)
        .max(MIN_DEADLINE_MARGIN)
}

/// How the configured margin adapts to the time an invocation has: all of it when there is
/// room, a share of the remaining time for short deadlines, never less than the report needs.
pub fn margin(configured: Duration) -> Margin {
    Margin {
        configured,
        floor: MIN_DEADLINE_MARGIN,
        max_share_percent: MARGIN_MAX_SHARE_PERCENT,
    }
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
    // The probe paths are joined onto the URL's path and its query is kept, but a fragment never
    // reaches the server: refuse it rather than silently probe something else.
    if url.fragment().is_some() {
        return Err(ConfigError::new(
            var,
            "must not contain a fragment (#); the query string is kept",
        ));
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
        assert_eq!(c.probe.payloads, vec!["{}"]);
        assert!(c.expect.body_json.is_none());
    }

    #[test]
    fn invoke_payloads_are_json_documents_sent_in_turn() {
        let c = config(&[("INVOKE_PAYLOADS", r#"[{"path": "/orders"}, "ping", 3]"#)]).unwrap();
        assert_eq!(
            c.probe.payloads,
            vec![r#"{"path":"/orders"}"#, r#""ping""#, "3"]
        );
        let one = config(&[("INVOKE_PAYLOADS", r#"{"warm": true}"#)]).unwrap();
        assert_eq!(one.probe.payloads, vec![r#"{"warm":true}"#]);
        for bad in ["[]", "{not json", r#"[{"token": "s3cret"}"#] {
            let err = config(&[("INVOKE_PAYLOADS", bad)]).unwrap_err();
            assert_eq!(err.var, "INVOKE_PAYLOADS");
            assert!(!err.to_string().contains("s3cret"), "{err}");
        }
        let bad = config(&[("BODY_JSON", "status=ok")]).unwrap_err();
        assert_eq!(bad.var, "BODY_JSON");
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
            ("MIN_SUCCESS_RATIO", "0"),
            ("MIN_SUCCESS_RATIO", "0.0"),
            ("MIN_SUCCESS_RATIO", "-0.5"),
            ("MIN_SUCCESS_RATIO", "NaN"),
            ("DEADLINE_MARGIN_MS", "100"),
            ("DEADLINE_MARGIN_MS", "0"),
            ("TARGET_URL", "https://green:8443/app?token=x#top"),
            ("PROBE_PATHS", "/health#s3cret"),
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
        let env = Env::from_pairs([("DEADLINE_MARGIN_MS", "10")]);
        assert_eq!(deadline_margin(&env), MIN_DEADLINE_MARGIN);
    }

    #[test]
    fn success_ratio_must_be_above_zero() {
        let err = config(&[("MIN_SUCCESS_RATIO", "0")]).unwrap_err();
        assert_eq!(err.var, "MIN_SUCCESS_RATIO");
        assert!(err.to_string().contains("above 0"), "{err}");
        let c = config(&[("MIN_SUCCESS_RATIO", "0.01")]).unwrap();
        assert_eq!(c.thresholds.min_success_ratio, 0.01);
    }

    #[test]
    fn margin_below_the_report_slack_is_refused() {
        let err = config(&[("DEADLINE_MARGIN_MS", "299")]).unwrap_err();
        assert_eq!(err.var, "DEADLINE_MARGIN_MS");
        let c = config(&[("DEADLINE_MARGIN_MS", "300")]).unwrap();
        assert_eq!(c.deadline_margin, MIN_DEADLINE_MARGIN);
    }

    #[test]
    fn the_margin_adapts_to_the_time_left() {
        let m = margin(DEFAULT_DEADLINE_MARGIN);
        // A 3-minute function keeps the whole configured margin...
        assert_eq!(
            m.for_remaining(Duration::from_secs(180)),
            DEFAULT_DEADLINE_MARGIN
        );
        // ...a 2 s one keeps 30 % and probes for the rest...
        assert_eq!(
            m.for_remaining(Duration::from_secs(2)),
            Duration::from_millis(600)
        );
        // ...and the report's own slack is never given up.
        assert_eq!(
            m.for_remaining(Duration::from_millis(500)),
            MIN_DEADLINE_MARGIN
        );
    }

    #[test]
    fn target_url_keeps_its_path_and_query() {
        let c = config(&[("TARGET_URL", "https://green:8443/app?token=x")]).unwrap();
        let url = c.target_url.unwrap();
        assert_eq!(url.path(), "/app");
        assert_eq!(url.query(), Some("token=x"));
        let err = config(&[("TARGET_URL", "https://green/app#frag")]).unwrap_err();
        assert!(err.to_string().contains("fragment"), "{err}");
    }

    #[test]
    fn every_header_value_is_redacted() {
        let c = config(&[(
            "PROBE_HEADERS",
            "X-Probe-Token: tok-s3cret; Host: shop.example.com",
        )])
        .unwrap();
        let out = c
            .probe
            .redactor
            .redact("echo tok-s3cret via shop.example.com");
        assert!(
            !out.contains("tok-s3cret") && !out.contains("shop.example.com"),
            "{out}"
        );
    }
}
