//! How a direct probe request is read. Pure.
//!
//! `{"probe": {"target_url" | "listener_arn" | "rule_arn": "…", "settings": {…}},
//! "rollout_id": "…"}`. The shape is checked strictly inside `probe` (a misspelt setting would
//! otherwise be a validation that silently checks less), loosely at the top level: a state
//! machine may pass its whole state as the payload. Messages name keys, never values: a setting
//! may be a header's secret.

use serde_json::{Map, Value};

use crate::ecs::route::listener_of_rule;
use crate::ecs::settings::OVERRIDES;
use crate::hook::PROBE_KEY;

pub const TARGET_URL: &str = "target_url";
pub const LISTENER_ARN: &str = "listener_arn";
pub const RULE_ARN: &str = "rule_arn";
pub const SETTINGS: &str = "settings";
pub const ROLLOUT_ID: &str = "rollout_id";
/// The `hookDetails` setting a probe request sets with its target, never in `settings`.
const TARGET_SETTING: &str = "targetUrl";
/// A rollout id names the rollout in logs and in Slack: an id, not a document, but long enough
/// for a Step Functions execution ARN (`$$.Execution.Id`, up to about 260 characters).
const ROLLOUT_ID_CHARS: usize = 512;
/// Unknown keys are quoted in the message up to this length.
const KEY_CHARS: usize = 64;

/// Where the probe goes.
#[derive(Debug, Clone, PartialEq)]
pub enum DirectTarget {
    /// Checked as `TARGET_URL` is, with the settings.
    Url(String),
    /// An HTTP(S) listener: green's test listener, usually.
    Listener(String),
    /// A listener rule: the probe's requests are made to meet its conditions.
    Rule(String),
}

impl DirectTarget {
    /// The request key that named it.
    pub fn key(&self) -> &'static str {
        match self {
            DirectTarget::Url(_) => TARGET_URL,
            DirectTarget::Listener(_) => LISTENER_ARN,
            DirectTarget::Rule(_) => RULE_ARN,
        }
    }

    /// The ARN, for the log. A URL is logged only once checked and without its query: until
    /// then it may carry credentials.
    pub fn arn(&self) -> Option<&str> {
        match self {
            DirectTarget::Url(_) => None,
            DirectTarget::Listener(arn) | DirectTarget::Rule(arn) => Some(arn),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProbeRequest {
    pub target: DirectTarget,
    /// `hookDetails`-style settings (camelCase keys), their values not checked yet.
    pub settings: Map<String, Value>,
    pub rollout_id: Option<String>,
}

/// The request, or what is wrong with its shape.
pub fn parse(payload: &Value) -> Result<ProbeRequest, String> {
    let top = payload
        .as_object()
        .ok_or("expected a JSON object with a \"probe\" object")?;
    let probe = match top.get(PROBE_KEY) {
        Some(Value::Object(probe)) => probe,
        Some(_) => return Err("\"probe\" must be an object".into()),
        None => return Err("no \"probe\" object".into()),
    };
    if let Some(key) = probe
        .keys()
        .find(|k| ![TARGET_URL, LISTENER_ARN, RULE_ARN, SETTINGS].contains(&k.as_str()))
    {
        return Err(format!(
            "unknown key probe.{}; expected target_url, listener_arn or rule_arn, and settings",
            clip(key)
        ));
    }

    let mut targets = Vec::new();
    for key in [TARGET_URL, LISTENER_ARN, RULE_ARN] {
        match probe.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::String(text)) if !text.trim().is_empty() => {
                targets.push((key, text.trim().to_string()))
            }
            Some(Value::String(_)) => return Err(format!("probe.{key} is empty")),
            Some(_) => return Err(format!("probe.{key} must be a string")),
        }
    }
    let (key, text) = match targets.as_slice() {
        [one] => one.clone(),
        [] => {
            return Err(
                "probe names no target: set one of target_url, listener_arn, rule_arn".into(),
            );
        }
        _ => {
            let keys: Vec<&str> = targets.iter().map(|(k, _)| *k).collect();
            return Err(format!(
                "probe names {} targets ({}); set exactly one",
                keys.len(),
                keys.join(", ")
            ));
        }
    };
    let target = match key {
        TARGET_URL => DirectTarget::Url(text),
        LISTENER_ARN if is_listener_arn(&text) => DirectTarget::Listener(text),
        LISTENER_ARN => {
            return Err(
                "probe.listener_arn is not a load balancer listener ARN (arn:…:listener/…)".into(),
            );
        }
        _ if listener_of_rule(&text).is_some() => DirectTarget::Rule(text),
        _ => {
            return Err(
                "probe.rule_arn is not a listener rule ARN (arn:…:listener-rule/app/…/…/…/…)"
                    .into(),
            );
        }
    };

    let settings = match probe.get(SETTINGS) {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(settings)) => settings.clone(),
        Some(_) => return Err("probe.settings must be an object".into()),
    };
    if let Some(key) = settings
        .keys()
        .find(|k| k.as_str() == TARGET_SETTING || !OVERRIDES.iter().any(|(s, _)| s == k))
    {
        return Err(format!(
            "probe.settings.{} is not a setting of a probe request; the settings are {}",
            clip(key),
            setting_names().join(", ")
        ));
    }

    let rollout_id = match top.get(ROLLOUT_ID) {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) if id.trim().is_empty() => {
            return Err("rollout_id is empty".into());
        }
        Some(Value::String(id)) if id.trim().chars().count() > ROLLOUT_ID_CHARS => {
            return Err(format!(
                "rollout_id is longer than {ROLLOUT_ID_CHARS} characters"
            ));
        }
        Some(Value::String(id)) => Some(id.trim().to_string()),
        Some(_) => return Err("rollout_id must be a string".into()),
    };
    Ok(ProbeRequest {
        target,
        settings,
        rollout_id,
    })
}

/// The `hookDetails` settings a probe request takes: every override but the target.
pub fn setting_names() -> Vec<&'static str> {
    OVERRIDES
        .iter()
        .map(|(key, _)| *key)
        .filter(|key| *key != TARGET_SETTING)
        .collect()
}

fn is_listener_arn(arn: &str) -> bool {
    arn.starts_with("arn:")
        && arn
            .split_once(":listener/")
            .is_some_and(|(_, path)| path.split('/').count() == 4 && !path.ends_with('/'))
}

fn clip(key: &str) -> String {
    key.chars().take(KEY_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const LISTENER: &str = "arn:aws:elasticloadbalancing:us-east-1:1:listener/app/shop/50dc/f2a1";
    const RULE: &str =
        "arn:aws:elasticloadbalancing:us-east-1:1:listener-rule/app/shop/50dc/f2a1/9e3b";

    #[test]
    fn each_target_is_read_with_its_settings_and_rollout_id() {
        let request = parse(&json!({
            "probe": {
                "listener_arn": LISTENER,
                "settings": {"probePaths": ["/health"], "maxP95Ms": 300},
            },
            "rollout_id": " shop-42 ",
            "stateMachineContext": {"anything": true},
        }))
        .unwrap();
        assert_eq!(request.target, DirectTarget::Listener(LISTENER.into()));
        assert_eq!(request.settings["maxP95Ms"], 300);
        assert_eq!(request.rollout_id.as_deref(), Some("shop-42"));

        // The state machine names the rollout by its execution ARN: the longest kind fits.
        let execution = format!(
            "arn:aws-us-gov:states:us-gov-west-1:123456789012:express:{}:{}:{}",
            "m".repeat(80),
            "e".repeat(80),
            "0f3c1e2a-5b6d-4e7f-8a9b-0c1d2e3f4a5b"
        );
        let request =
            parse(&json!({"probe": {"rule_arn": RULE}, "rollout_id": execution})).unwrap();
        assert_eq!(request.rollout_id, Some(execution));

        let request = parse(&json!({"probe": {"rule_arn": RULE, "settings": null}})).unwrap();
        assert_eq!(request.target, DirectTarget::Rule(RULE.into()));
        assert!(request.settings.is_empty() && request.rollout_id.is_none());

        let request =
            parse(&json!({"probe": {"target_url": "https://green.example.com/?t=s3cret"}}))
                .unwrap();
        assert_eq!(
            (request.target.key(), request.target.arn()),
            ("target_url", None)
        );
    }

    #[test]
    fn a_wrong_shape_is_named_without_its_values() {
        for (payload, expected) in [
            (json!("text"), "expected a JSON object"),
            (json!({"rollout_id": "r"}), "no \"probe\" object"),
            (json!({"probe": "https://x"}), "\"probe\" must be an object"),
            (json!({"probe": {}}), "names no target"),
            (
                json!({"probe": {"target_url": "https://x", "listener_arn": LISTENER}}),
                "2 targets (target_url, listener_arn)",
            ),
            (
                json!({"probe": {"target_url": 5}}),
                "probe.target_url must be a string",
            ),
            (
                json!({"probe": {"rule_arn": " "}}),
                "probe.rule_arn is empty",
            ),
            (
                json!({"probe": {"listener_arn": RULE}}),
                "not a load balancer listener ARN",
            ),
            (
                json!({"probe": {"rule_arn": LISTENER}}),
                "not a listener rule ARN",
            ),
            (
                json!({"probe": {"target_url": "https://x", "header": "s3cret"}}),
                "unknown key probe.header",
            ),
            (
                json!({"probe": {"target_url": "https://x", "settings": "maxP95Ms=1"}}),
                "probe.settings must be an object",
            ),
            (
                json!({"probe": {"target_url": "https://x", "settings": {"maxP95": 1}}}),
                "probe.settings.maxP95 is not a setting",
            ),
            (
                json!({"probe": {"target_url": "https://x", "settings": {"targetUrl": "https://y"}}}),
                "probe.settings.targetUrl is not a setting",
            ),
            (
                json!({"probe": {"target_url": "https://x", "settings": {"soakSeconds": 60}}}),
                "probe.settings.soakSeconds is not a setting",
            ),
            (
                json!({"probe": {"target_url": "https://x"}, "rollout_id": 7}),
                "rollout_id must be a string",
            ),
            (
                json!({"probe": {"target_url": "https://x"}, "rollout_id": "x".repeat(513)}),
                "longer than 512",
            ),
        ] {
            let err = parse(&payload).unwrap_err();
            assert!(err.contains(expected), "{payload}: {err}");
            assert!(!err.contains("s3cret"), "{err}");
        }
    }
}
