//! A CloudWatch alarm changing state, read into one model from either road it takes: the alarm's
//! own SNS action (`AlarmName`, `NewStateValue`, `Trigger`) or an EventBridge `CloudWatch Alarm
//! State Change` event (`detail.state`, `detail.configuration`), so both render the same message.

use serde_json::{Map, Value};

use crate::status::canonical;
use crate::time::parse_time;

use super::eventbridge::EventMeta;
use super::read::{arn_region, embedded, get, object, text};

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Alarm {
    pub name: String,
    pub description: Option<String>,
    pub state: String,
    pub old_state: Option<String>,
    pub reason: Option<String>,
    /// Region code from the alarm or topic ARN (`Region` is a display name).
    pub region: Option<String>,
    pub region_name: Option<String>,
    pub account: Option<String>,
    /// `AWS/EC2 CPUUtilization`, or the expression of a metric-math alarm.
    pub metric: Option<String>,
    /// The metric's dimensions, `(name, value)`.
    pub dimensions: Vec<(String, String)>,
    /// A composite alarm's rule, `ALARM(a) OR ALARM(b)`.
    pub rule: Option<String>,
    /// The alarms whose change moved a composite alarm, by name.
    pub triggered_by: Vec<String>,
    /// Why this change runs no actions: `WaitPeriod`, `ExtensionPeriod` or `Alarm` (the
    /// composite alarm's suppressor alarm is in `ALARM`).
    pub suppressed_by: Option<String>,
    pub suppressed_reason: Option<String>,
    /// The suppressor alarm of a composite alarm.
    pub suppressor: Option<String>,
    pub changed: Option<i64>,
}

/// The alarm's own SNS message.
pub(super) fn sns(object: &Map<String, Value>, topic_arn: &str) -> Alarm {
    let arn = text(object, "AlarmArn");
    let region = arn
        .as_deref()
        .and_then(arn_region)
        .or_else(|| arn_region(topic_arn));
    let trigger = get(object, "Trigger").and_then(Value::as_object);
    let (metric, dimensions) = match trigger {
        Some(trigger) => match text(trigger, "MetricName") {
            Some(name) => (
                Some(match text(trigger, "Namespace") {
                    Some(namespace) => format!("{namespace} {name}"),
                    None => name,
                }),
                dimensions(get(trigger, "Dimensions")),
            ),
            None => metric_queries(get(trigger, "Metrics")),
        },
        None => (None, Vec::new()),
    };
    Alarm {
        name: text(object, "AlarmName").unwrap_or_else(|| "(unnamed alarm)".into()),
        description: text(object, "AlarmDescription"),
        state: canonical(&text(object, "NewStateValue").unwrap_or_default()),
        old_state: text(object, "OldStateValue").map(|s| canonical(&s)),
        reason: text(object, "NewStateReason"),
        region,
        region_name: text(object, "Region"),
        account: text(object, "AWSAccountId"),
        metric,
        dimensions,
        rule: text(object, "AlarmRule"),
        changed: get(object, "StateChangeTime").and_then(parse_time),
        ..Alarm::default()
    }
}

/// `CloudWatch Alarm State Change` from EventBridge; `None` without an alarm name.
pub(super) fn eventbridge(meta: &EventMeta, detail: &Map<String, Value>) -> Option<Alarm> {
    let name = text(detail, "alarmName")?;
    let state = object(detail, "state");
    let previous = object(detail, "previousState");
    let configuration = object(detail, "configuration");
    let from = |map: Option<&Map<String, Value>>, key: &str| map.and_then(|m| text(m, key));
    let (metric, dimensions) = configuration
        .map(|c| metric_queries(get(c, "metrics")))
        .unwrap_or_default();
    let triggered_by = state
        .and_then(|s| embedded(s, "reasonData"))
        .and_then(|data| data.get("triggeringAlarms").cloned())
        .and_then(|alarms| alarms.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|alarm| alarm.get("arn").and_then(Value::as_str))
        .map(alarm_name)
        .collect();
    Some(Alarm {
        name,
        description: from(configuration, "description"),
        state: canonical(&from(state, "value").unwrap_or_default()),
        old_state: from(previous, "value").map(|s| canonical(&s)),
        reason: from(state, "reason"),
        region: meta
            .region
            .clone()
            .or_else(|| meta.resources.iter().find_map(|arn| arn_region(arn))),
        region_name: None,
        account: meta.account.clone(),
        metric,
        dimensions,
        rule: from(configuration, "alarmRule"),
        triggered_by,
        suppressed_by: from(state, "actionsSuppressedBy"),
        suppressed_reason: from(state, "actionsSuppressedReason"),
        suppressor: from(configuration, "actionsSuppressor").map(|s| alarm_name(&s)),
        changed: state
            .and_then(|s| get(s, "timestamp"))
            .and_then(parse_time)
            .or(meta.time),
    })
}

/// `shop-5xx` from `arn:aws:cloudwatch:…:alarm:shop-5xx`, or the text as it is.
fn alarm_name(arn: &str) -> String {
    match arn.split_once(":alarm:") {
        Some((_, name)) if arn.starts_with("arn:") && !name.is_empty() => name.to_string(),
        _ => arn.to_string(),
    }
}

/// Dimensions as SNS sends them (`[{"name", "value"}]`) or as EventBridge does (`{name: value}`).
fn dimensions(value: Option<&Value>) -> Vec<(String, String)> {
    match value {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_object)
            .filter_map(|d| Some((text(d, "name")?, text(d, "value")?)))
            .collect(),
        Some(Value::Object(map)) => map
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), scalar(v)?)))
            .collect(),
        _ => Vec::new(),
    }
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The metric of a list of metric queries: the one metric, or the expression that returns data.
fn metric_queries(value: Option<&Value>) -> (Option<String>, Vec<(String, String)>) {
    let queries: Vec<&Map<String, Value>> = value
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(Value::as_object).collect())
        .unwrap_or_default();
    let returns = |q: &&&Map<String, Value>| {
        get(q, "returnData")
            .and_then(Value::as_bool)
            .unwrap_or(true)
    };
    let Some(query) = queries
        .iter()
        .find(returns)
        .or_else(|| queries.first())
        .copied()
    else {
        return (None, Vec::new());
    };
    if let Some(expression) = text(query, "expression") {
        let label = text(query, "label")
            .map(|l| format!(" ({l})"))
            .unwrap_or_default();
        return (Some(format!("{expression}{label}")), Vec::new());
    }
    let Some(metric) = object(query, "metricStat").and_then(|s| object(s, "metric")) else {
        return (None, Vec::new());
    };
    let name = text(metric, "name").or_else(|| text(metric, "MetricName"));
    let namespace = text(metric, "namespace");
    let label = match (namespace, name) {
        (Some(namespace), Some(name)) => Some(format!("{namespace} {name}")),
        (None, Some(name)) => Some(name),
        _ => None,
    };
    (label, dimensions(get(metric, "dimensions")))
}

#[cfg(test)]
mod tests {
    use super::super::{Notification, classify};
    use super::*;
    use serde_json::json;

    const TOPIC: &str = "arn:aws:sns:eu-west-1:123456789012:deployments";

    fn alarm(message: Value) -> Alarm {
        match classify(&message.to_string(), None, TOPIC) {
            Notification::Alarm(a) => a,
            other => panic!("not an alarm: {other:?}"),
        }
    }

    #[test]
    fn alarm_region_from_arn_or_topic() {
        let a = alarm(json!({
            "AlarmName": "api-5xx", "AlarmDescription": null, "NewStateValue": "ALARM",
            "OldStateValue": "OK", "Region": "Asia Pacific (Tokyo)",
            "NewStateReason": "Threshold Crossed",
            "Trigger": {"MetricName": "5xx", "Namespace": "AWS/ApplicationELB",
                        "Dimensions": [{"value": "app/shop/1", "name": "LoadBalancer"}]}
        }));
        assert_eq!(a.region.as_deref(), Some("eu-west-1"), "from the topic ARN");
        assert_eq!(a.region_name.as_deref(), Some("Asia Pacific (Tokyo)"));
        assert_eq!(a.description, None);
        assert_eq!(
            a.dimensions,
            vec![("LoadBalancer".to_string(), "app/shop/1".to_string())]
        );
    }

    #[test]
    fn eventbridge_metric_alarm_reads_like_the_sns_one() {
        let a = alarm(json!({
            "version": "0", "id": "1", "detail-type": "CloudWatch Alarm State Change",
            "source": "aws.cloudwatch", "account": "123456789012", "time": "2026-11-21T14:03:12Z",
            "region": "ap-northeast-1",
            "resources": ["arn:aws:cloudwatch:ap-northeast-1:123456789012:alarm:api-5xx"],
            "detail": {
                "alarmName": "api-5xx",
                "state": {"value": "ALARM", "reason": "Threshold Crossed",
                          "timestamp": "2026-11-21T14:03:12.345+0000"},
                "previousState": {"value": "OK"},
                "configuration": {"metrics": [{"id": "m1", "returnData": true, "metricStat": {
                    "metric": {"namespace": "AWS/ApplicationELB", "name": "HTTPCode_Target_5XX_Count",
                               "dimensions": {"LoadBalancer": "app/shop/1"}},
                    "period": 60, "stat": "Sum"}}]}
            }
        }));
        assert_eq!(
            (a.state.as_str(), a.old_state.as_deref()),
            ("ALARM", Some("OK"))
        );
        assert_eq!(
            a.metric.as_deref(),
            Some("AWS/ApplicationELB HTTPCode_Target_5XX_Count")
        );
        assert_eq!(a.region.as_deref(), Some("ap-northeast-1"));
        assert_eq!(a.account.as_deref(), Some("123456789012"));
        assert_eq!(a.changed, Some(1_795_269_792));
        assert_eq!(a.dimensions.len(), 1);
    }

    #[test]
    fn composite_alarm_with_a_suppressor() {
        let a = alarm(json!({
            "detail-type": "CloudWatch Alarm State Change", "source": "aws.cloudwatch",
            "region": "us-east-1",
            "detail": {
                "alarmName": "shop-health",
                "state": {"value": "ALARM", "actionsSuppressedBy": "Alarm",
                          "actionsSuppressedReason": "Alarm is in ALARM state",
                          "reasonData": "{\"triggeringAlarms\":[{\"arn\":\"arn:aws:cloudwatch:us-east-1:1:alarm:shop-5xx\"}]}"},
                "configuration": {"alarmRule": "ALARM(shop-5xx) OR ALARM(shop-latency)",
                                  "actionsSuppressor": "arn:aws:cloudwatch:us-east-1:1:alarm:maintenance"}
            }
        }));
        assert_eq!(
            a.rule.as_deref(),
            Some("ALARM(shop-5xx) OR ALARM(shop-latency)")
        );
        assert_eq!(a.suppressed_by.as_deref(), Some("Alarm"));
        assert_eq!(a.suppressor.as_deref(), Some("maintenance"));
        assert_eq!(a.triggered_by, vec!["shop-5xx"]);
        assert_eq!(a.metric, None);
    }

    #[test]
    fn metric_math_and_odd_shapes() {
        let (metric, dims) = metric_queries(Some(&json!([
            {"id": "m1", "returnData": false, "metricStat": {"metric": {"name": "a"}}},
            {"id": "e1", "expression": "m1 * 100", "label": "percent", "returnData": true}
        ])));
        assert_eq!(metric.as_deref(), Some("m1 * 100 (percent)"));
        assert!(dims.is_empty());
        assert_eq!(metric_queries(Some(&json!("nope"))), (None, Vec::new()));
        assert_eq!(alarm_name("arn:aws:cloudwatch:r:1:alarm:x"), "x");
        assert_eq!(alarm_name("y"), "y");
    }
}
