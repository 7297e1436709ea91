//! CloudWatch adapter: the state of the watched alarms.

use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::types::AlarmType;
use rollout_kit::LazyClient;

use rollout_kit::retry::RetryError;
use tokio::time::Instant;

use crate::error::Error;
use crate::gates::AlarmState;

pub struct Alarms {
    /// Built by the first call.
    client: LazyClient<Client>,
}

impl Alarms {
    pub fn new(client: LazyClient<Client>) -> Self {
        Self { client }
    }

    /// Metric and composite alarms by name (at most 100, so one page). The inner `Err` is the
    /// service's refusal: the caller decides whether an unreadable alarm stops the rollout.
    /// Throttling or silence until the time runs out is `Throttled`, which the state machine
    /// retries.
    pub async fn states(
        &self,
        names: &[String],
        until: Instant,
    ) -> Result<Result<Vec<AlarmState>, String>, Error> {
        let result = crate::elb::call("DescribeAlarms", until, || {
            self.client
                .describe_alarms()
                .set_alarm_names(Some(names.to_vec()))
                .alarm_types(AlarmType::MetricAlarm)
                .alarm_types(AlarmType::CompositeAlarm)
                .max_records(100)
                .send()
        })
        .await;
        let out = match result {
            Ok(out) => out,
            Err(RetryError::Permanent(err)) => {
                return Ok(Err(rollout_kit::sdk_error_summary(&err)));
            }
            Err(err) => {
                return Err(crate::elb::retry_error(
                    "DescribeAlarms",
                    err,
                    |_, summary| Error::AlarmUnreadable(summary),
                ));
            }
        };
        let metric = out
            .metric_alarms()
            .iter()
            .map(|a| (a.alarm_name(), a.state_value().map(|s| s.as_str())));
        let composite = out
            .composite_alarms()
            .iter()
            .map(|a| (a.alarm_name(), a.state_value().map(|s| s.as_str())));
        Ok(Ok(metric
            .chain(composite)
            .filter_map(|(name, state)| {
                Some(AlarmState {
                    name: name?.to_string(),
                    state: state.unwrap_or("INSUFFICIENT_DATA").to_string(),
                })
            })
            .collect()))
    }
}
