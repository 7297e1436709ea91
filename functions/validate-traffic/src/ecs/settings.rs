//! Per-service settings in `hookDetails`. Pure.
//!
//! A documented subset of the function's variables can be set per hook in its `hookDetails`
//! (`AWS::ECS::Service` … `LifecycleHooks[].HookDetails`), under camelCase keys; each overrides
//! its variable for that service, and the result is checked exactly as the variables are at
//! cold start, so a bad value names its key (`hookDetails.maxP95Ms`) and never its value. Three
//! keys exist only here: `probeTestTrafficShift`, `soakSeconds` and `soakIntervalSeconds`.

use std::time::Duration;

use rollout_kit::{ConfigError, Env};
use serde_json::{Map, Value};

use crate::config::{self, Config};
use crate::ecs::stage::Policy;

/// The key the hook writes its own state and summary under when it answers; never a setting.
pub const OWN_KEY: &str = "validateTraffic";

/// `hookDetails` key → the variable it overrides.
pub const OVERRIDES: &[(&str, &str)] = &[
    ("targetUrl", "TARGET_URL"),
    ("probePaths", "PROBE_PATHS"),
    ("probeMethod", "PROBE_METHOD"),
    ("probeHeaders", "PROBE_HEADERS"),
    ("probeRequests", "PROBE_REQUESTS"),
    ("probeConcurrency", "PROBE_CONCURRENCY"),
    ("warmupRequests", "WARMUP_REQUESTS"),
    ("expectedStatus", "EXPECTED_STATUS"),
    ("bodyContains", "BODY_CONTAINS"),
    ("bodyRegex", "BODY_REGEX"),
    ("maxP95Ms", "MAX_P95_MS"),
    ("maxP99Ms", "MAX_P99_MS"),
    ("minSuccessRatio", "MIN_SUCCESS_RATIO"),
];
pub const PROBE_TEST_TRAFFIC_SHIFT: &str = "probeTestTrafficShift";
pub const SOAK_SECONDS: &str = "soakSeconds";
pub const SOAK_INTERVAL_SECONDS: &str = "soakIntervalSeconds";

/// A stage may last 24 hours.
const MAX_SOAK: Duration = Duration::from_secs(24 * 3600);
const DEFAULT_SOAK_INTERVAL: Duration = Duration::from_secs(30);
const MAX_SOAK_INTERVAL: Duration = Duration::from_secs(3600);

/// A validation longer than one invocation: probe a slice, answer `IN_PROGRESS`, come back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Soak {
    pub duration: Duration,
    /// The `callBackDelay` between slices.
    pub interval: Duration,
}

/// The settings one ECS invocation runs with.
#[derive(Debug, Clone)]
pub struct HookSettings {
    pub config: Config,
    pub policy: Policy,
    pub soak: Option<Soak>,
    /// The `hookDetails` keys that set something, for the log (names only: a value may be a
    /// header's secret).
    pub applied: Vec<String>,
    /// Keys that set nothing (a typo, another tool's): logged by name, otherwise ignored.
    pub ignored: Vec<String>,
}

/// The function's variables with the hook's overrides, checked as at cold start.
pub fn settings(env: &Env, hook_details: &Map<String, Value>) -> Result<HookSettings, ConfigError> {
    let mut pairs: Vec<(&str, String)> = config::VARS
        .iter()
        .filter_map(|var| env.get(var).map(|value| (*var, value.to_string())))
        .collect();
    let mut applied = Vec::new();
    let mut ignored = Vec::new();
    let mut overridden = Vec::new();
    for (key, value) in hook_details {
        if key == OWN_KEY {
            continue;
        }
        if let Some((key, var)) = OVERRIDES.iter().find(|(k, _)| k == key) {
            let text = as_setting(key, value)?;
            pairs.retain(|(v, _)| v != var);
            pairs.push((var, text));
            overridden.push((*key, *var));
            applied.push(key.to_string());
        } else if [
            PROBE_TEST_TRAFFIC_SHIFT,
            SOAK_SECONDS,
            SOAK_INTERVAL_SECONDS,
        ]
        .contains(&key.as_str())
        {
            applied.push(key.clone());
        } else {
            ignored.push(key.chars().take(64).collect());
        }
    }
    let merged = Env::from_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str())));
    let config = Config::from_env(&merged).map_err(|err| {
        match overridden.iter().find(|(_, var)| *var == err.var) {
            Some((key, _)) => ConfigError::new(&format!("hookDetails.{key}"), err.reason),
            None => err,
        }
    })?;

    let policy = Policy {
        probe_test_traffic_shift: flag(hook_details, PROBE_TEST_TRAFFIC_SHIFT)?.unwrap_or(false),
    };
    let soak = match seconds(hook_details, SOAK_SECONDS, MAX_SOAK)? {
        None => None,
        Some(duration) if duration.is_zero() => None,
        Some(duration) => Some(Soak {
            duration,
            interval: seconds(hook_details, SOAK_INTERVAL_SECONDS, MAX_SOAK_INTERVAL)?
                .filter(|i| !i.is_zero())
                .unwrap_or(DEFAULT_SOAK_INTERVAL),
        }),
    };
    Ok(HookSettings {
        config,
        policy,
        soak,
        applied,
        ignored,
    })
}

/// A value as its variable would hold it: text, a number, a list of paths, a header object.
fn as_setting(key: &str, value: &Value) -> Result<String, ConfigError> {
    let var = format!("hookDetails.{key}");
    match value {
        Value::String(text) => Ok(text.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Array(items) if key == "probePaths" => {
            let paths = items
                .iter()
                .map(|item| match item.as_str() {
                    Some(path) if !path.contains(',') => Ok(path),
                    Some(_) => Err(ConfigError::new(&var, "a path must not contain a comma")),
                    None => Err(ConfigError::new(&var, "must be a list of paths")),
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(paths.join(","))
        }
        Value::Object(headers) if key == "probeHeaders" => {
            let mut out = Vec::new();
            for (name, value) in headers {
                // The error names the header, never its value.
                let value = value.as_str().ok_or_else(|| {
                    ConfigError::new(&var, format!("header {name} must have a text value"))
                })?;
                if value.contains(';') || name.contains([':', ';']) {
                    return Err(ConfigError::new(
                        &var,
                        format!("header {name} cannot be sent (no ; in a value)"),
                    ));
                }
                out.push(format!("{name}: {value}"));
            }
            Ok(out.join("; "))
        }
        _ => Err(ConfigError::new(&var, "must be text or a number")),
    }
}

fn flag(details: &Map<String, Value>, key: &str) -> Result<Option<bool>, ConfigError> {
    match details.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(Some(true)),
            "false" | "" => Ok(Some(false)),
            _ => Err(ConfigError::new(
                &format!("hookDetails.{key}"),
                "expected true or false",
            )),
        },
        Some(_) => Err(ConfigError::new(
            &format!("hookDetails.{key}"),
            "expected true or false",
        )),
    }
}

fn seconds(
    details: &Map<String, Value>,
    key: &str,
    max: Duration,
) -> Result<Option<Duration>, ConfigError> {
    let bad = || {
        ConfigError::new(
            &format!("hookDetails.{key}"),
            format!("must be whole seconds, at most {}", max.as_secs()),
        )
    };
    let seconds = match details.get(key) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse::<u64>().ok(),
        Some(_) => None,
    }
    .ok_or_else(bad)?;
    let duration = Duration::from_secs(seconds);
    if duration > max {
        return Err(bad());
    }
    Ok(Some(duration))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn details(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    fn env() -> Env {
        Env::from_pairs([
            ("PROBE_REQUESTS", "20"),
            ("MAX_P95_MS", "500"),
            ("PROBE_HEADERS", "X-Team: shop"),
        ])
    }

    #[test]
    fn nothing_configured_keeps_the_variables() {
        let s = settings(&env(), &Map::new()).unwrap();
        assert_eq!(s.config.probe.requests, 20);
        assert_eq!(
            s.config.thresholds.max_p95,
            Some(Duration::from_millis(500))
        );
        assert_eq!(s.policy, Policy::default());
        assert_eq!(s.soak, None);
        assert!(s.applied.is_empty() && s.ignored.is_empty());
    }

    #[test]
    fn hook_details_override_their_variables() {
        let s = settings(
            &env(),
            &details(json!({
                "targetUrl": "https://green.internal:8443/app",
                "probePaths": ["/health", "/api/version"],
                "probeHeaders": {"X-Canary": "true", "Authorization": "Bearer s3cret"},
                "probeRequests": 5,
                "maxP95Ms": "250",
                "minSuccessRatio": 0.95,
                "expectedStatus": "200-299,304",
                "probeTestTrafficShift": true,
                "soakSeconds": 600,
                "soakIntervalSeconds": "60",
                "validateTraffic": {"soak": {}},
                "owner": "team-shop",
            })),
        )
        .unwrap();
        let c = &s.config;
        assert_eq!(
            c.target_url.as_ref().map(|u| u.as_str()),
            Some("https://green.internal:8443/app")
        );
        assert_eq!(c.probe.paths, vec!["/health", "/api/version"]);
        assert_eq!(c.probe.headers["x-canary"], "true");
        assert!(
            c.probe.headers.get("x-team").is_none(),
            "probeHeaders replaces PROBE_HEADERS"
        );
        assert!(c.probe.headers["authorization"].is_sensitive());
        assert!(!c.probe.redactor.redact("Bearer s3cret").contains("s3cret"));
        assert_eq!(c.probe.requests, 5);
        assert_eq!(c.thresholds.max_p95, Some(Duration::from_millis(250)));
        assert_eq!(c.thresholds.min_success_ratio, 0.95);
        assert!(c.expect.status.contains(304));
        assert!(s.policy.probe_test_traffic_shift);
        assert_eq!(
            s.soak,
            Some(Soak {
                duration: Duration::from_secs(600),
                interval: Duration::from_secs(60)
            })
        );
        assert_eq!(s.ignored, vec!["owner"]);
        assert!(s.applied.contains(&"probeHeaders".to_string()));
    }

    #[test]
    fn bad_values_name_the_key_never_the_value() {
        for (key, value) in [
            ("maxP95Ms", json!("fast")),
            ("probeRequests", json!(0)),
            ("targetUrl", json!("ftp://s3cret-host")),
            ("probePaths", json!(["health"])),
            ("probePaths", json!([1])),
            ("probeHeaders", json!({"X-Token": 5})),
            ("probeHeaders", json!({"X-Token": "s3cret;more"})),
            ("probeHeaders", json!("X-Token s3cret")),
            ("minSuccessRatio", json!(0)),
            ("expectedStatus", json!({"a": 1})),
            ("probeTestTrafficShift", json!("maybe")),
            ("soakSeconds", json!(-5)),
            ("soakSeconds", json!(100_000)),
            ("soakIntervalSeconds", json!(7200)),
        ] {
            let mut map = Map::new();
            map.insert(key.to_string(), value.clone());
            // The interval is only read with a soak.
            if key == SOAK_INTERVAL_SECONDS {
                map.insert(SOAK_SECONDS.to_string(), json!(60));
            }
            let err = settings(&env(), &map).unwrap_err();
            assert_eq!(err.var, format!("hookDetails.{key}"), "{key}={value}");
            assert!(!err.to_string().contains("s3cret"), "{err}");
        }
    }

    #[test]
    fn an_empty_target_url_turns_discovery_back_on() {
        let env = Env::from_pairs([("TARGET_URL", "https://lambda-api.example.com")]);
        let s = settings(&env, &details(json!({"targetUrl": ""}))).unwrap();
        assert!(s.config.target_url.is_none());
        assert!(
            settings(&env, &Map::new())
                .unwrap()
                .config
                .target_url
                .is_some()
        );
    }

    #[test]
    fn a_bad_variable_is_still_named_as_itself() {
        let env = Env::from_pairs([("MAX_P99_MS", "slow")]);
        let err = settings(&env, &details(json!({"maxP95Ms": 100}))).unwrap_err();
        assert_eq!(err.var, "MAX_P99_MS");
    }

    #[test]
    fn a_zero_soak_is_no_soak_and_the_interval_defaults() {
        let s = settings(&env(), &details(json!({"soakSeconds": 0}))).unwrap();
        assert_eq!(s.soak, None);
        let s = settings(&env(), &details(json!({"soakSeconds": "120"}))).unwrap();
        assert_eq!(s.soak.map(|s| s.interval), Some(DEFAULT_SOAK_INTERVAL));
    }
}
