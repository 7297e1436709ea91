//! CloudWatch adapter: the state of the watched alarms.

use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::types::AlarmType;

use crate::backoff::retry_throttled;
use crate::gates::AlarmState;

pub struct Alarms {
    client: Client,
}

impl Alarms {
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// Metric and composite alarms by name (at most 100, so one page). `Err` is the SDK's
    /// summary: the caller decides whether an unreadable alarm stops the rollout.
    pub async fn states(&self, names: &[String]) -> Result<Vec<AlarmState>, String> {
        let out = retry_throttled("DescribeAlarms", || {
            self.client
                .describe_alarms()
                .set_alarm_names(Some(names.to_vec()))
                .alarm_types(AlarmType::MetricAlarm)
                .alarm_types(AlarmType::CompositeAlarm)
                .max_records(100)
                .send()
        })
        .await
        .map_err(|e| rollout_kit::sdk_error_summary(&e))?;
        let metric = out
            .metric_alarms()
            .iter()
            .map(|a| (a.alarm_name(), a.state_value().map(|s| s.as_str())));
        let composite = out
            .composite_alarms()
            .iter()
            .map(|a| (a.alarm_name(), a.state_value().map(|s| s.as_str())));
        Ok(metric
            .chain(composite)
            .filter_map(|(name, state)| {
                Some(AlarmState {
                    name: name?.to_string(),
                    state: state.unwrap_or("INSUFFICIENT_DATA").to_string(),
                })
            })
            .collect())
    }
}
