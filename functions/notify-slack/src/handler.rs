//! One invocation: every SNS record is classified, filtered, rendered and posted; any record
//! that did not reach Slack fails the invocation, so Lambda's retries and the on-failure
//! destination keep the event.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::config::Config;
use crate::delivery::Slack;
use crate::error::Error;
use crate::message::{self, kind_of, status_of};
use crate::render::{RenderOptions, render};
use crate::secret::WebhookSecret;
use crate::sns;
use crate::status::StatusFilter;

/// Kept back from the deadline so a failure is reported rather than timed out.
const RESERVE: Duration = Duration::from_millis(500);
/// Lambda's longest timeout; a deadline further out is not believed.
const MAX_RUN: Duration = Duration::from_secs(900);
/// How many delivered message ids a container remembers.
const REMEMBERED: usize = 1000;
/// Failures named in the error message; the rest are counted.
const NAMED_FAILURES: usize = 5;

pub struct Deps {
    secret: WebhookSecret,
    slack: Slack,
    render: RenderOptions,
    statuses: StatusFilter,
    delivered: Mutex<RecentIds>,
}

impl Deps {
    pub fn new(config: Config, aws: &SdkConfig) -> Result<Self, Error> {
        let slack = Slack::new(config.timeout, config.policy)
            .map_err(|e| Error::HttpClient(e.without_url().to_string()))?;
        Ok(Self {
            secret: WebhookSecret::new(
                aws_sdk_kms::Client::new(aws),
                config.ciphertext,
                config.function_name,
                config.allowed_hosts,
            ),
            slack,
            render: RenderOptions {
                mention: config.mention,
            },
            statuses: config.statuses,
            delivered: Mutex::new(RecentIds::default()),
        })
    }
}

pub async fn handle(deps: &Deps, event: LambdaEvent<Value>) -> Result<Value, Error> {
    let deadline = deadline_from(event.context.deadline());
    let records = sns::records(&event.payload).inspect_err(|e| {
        tracing::error!(error = %e, "not an SNS event");
    })?;
    let total = records.len();
    let mut filtered = 0;
    let mut duplicates = 0;
    let mut plan = Vec::new();
    for envelope in records {
        let note = message::classify(
            &envelope.message,
            envelope.subject.as_deref(),
            &envelope.topic_arn,
        );
        let kind = kind_of(&note);
        let status = status_of(&note);
        if !deps.statuses.allows(status.as_deref()) {
            tracing::info!(record = envelope.index, message_id = %envelope.message_id, kind, status = status.as_deref().unwrap_or(""), "filtered out by NOTIFY_STATUSES");
            filtered += 1;
            continue;
        }
        if deps.remembers(&envelope.message_id) {
            tracing::info!(record = envelope.index, message_id = %envelope.message_id, kind, "already delivered by this container; not posted again");
            duplicates += 1;
            continue;
        }
        plan.push((envelope, note));
    }
    if plan.is_empty() {
        return Ok(
            json!({"records": total, "delivered": 0, "filtered": filtered, "duplicates": duplicates}),
        );
    }

    let url = deps.secret.url().await.inspect_err(|e| {
        tracing::error!(error = %e, records = plan.len(), "no webhook URL; nothing posted");
    })?;

    let mut delivered = 0;
    let mut failures = Vec::new();
    for (envelope, note) in &plan {
        let kind = kind_of(note);
        let payload = render(note, envelope, &deps.render);
        let delivery = deps.slack.post(url, &payload, deadline).await;
        match delivery.result {
            Ok(()) => {
                tracing::info!(record = envelope.index, message_id = %envelope.message_id, kind, attempts = delivery.attempts, "delivered to Slack");
                deps.remember(&envelope.message_id);
                delivered += 1;
            }
            Err(failure) => {
                tracing::error!(record = envelope.index, message_id = %envelope.message_id, kind, attempts = delivery.attempts, permanent = failure.permanent, error = %failure.reason, "not delivered to Slack");
                let permanence = if failure.permanent {
                    " (permanent)"
                } else {
                    ""
                };
                failures.push(format!(
                    "record {} ({kind}, message {}): {}{permanence} after {} attempt(s)",
                    envelope.index, envelope.message_id, failure.reason, delivery.attempts
                ));
            }
        }
    }
    if !failures.is_empty() {
        let undelivered = failures.len();
        if undelivered > NAMED_FAILURES {
            let more = undelivered - NAMED_FAILURES;
            failures.truncate(NAMED_FAILURES);
            failures.push(format!("and {more} more"));
        }
        return Err(Error::Undelivered {
            undelivered,
            total: plan.len(),
            details: failures.join("; "),
        });
    }
    Ok(
        json!({"records": total, "delivered": delivered, "filtered": filtered, "duplicates": duplicates}),
    )
}

impl Deps {
    fn remembers(&self, message_id: &str) -> bool {
        !message_id.is_empty()
            && self
                .delivered
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .contains(message_id)
    }

    fn remember(&self, message_id: &str) {
        if !message_id.is_empty() {
            self.delivered
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(message_id.to_string());
        }
    }
}

fn deadline_from(deadline: SystemTime) -> Instant {
    let left = deadline
        .duration_since(SystemTime::now())
        .unwrap_or(Duration::ZERO);
    Instant::now() + left.min(MAX_RUN).saturating_sub(RESERVE)
}

/// SNS message ids this container delivered, so a Lambda retry of a partly delivered event
/// (which usually lands on the same warm container) does not post them twice.
#[derive(Default)]
struct RecentIds {
    order: VecDeque<String>,
    set: HashSet<String>,
}

impl RecentIds {
    fn contains(&self, id: &str) -> bool {
        self.set.contains(id)
    }

    fn insert(&mut self, id: String) {
        if self.set.insert(id.clone()) {
            self.order.push_back(id);
            if self.order.len() > REMEMBERED
                && let Some(oldest) = self.order.pop_front()
            {
                self.set.remove(&oldest);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_a_bounded_number_of_ids() {
        let mut ids = RecentIds::default();
        for n in 0..=REMEMBERED {
            ids.insert(format!("m-{n}"));
        }
        assert!(!ids.contains("m-0"), "the oldest is forgotten");
        assert!(ids.contains("m-1"));
        assert!(ids.contains(&format!("m-{REMEMBERED}")));
        assert_eq!(ids.order.len(), REMEMBERED);
    }

    #[test]
    fn deadline_keeps_a_reserve() {
        let deadline = deadline_from(SystemTime::now() + Duration::from_secs(10));
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(left <= Duration::from_millis(9_500) && left > Duration::from_secs(9));
        let far = deadline_from(SystemTime::now() + Duration::from_secs(1 << 40));
        assert!(far <= Instant::now() + MAX_RUN);
        let past = deadline_from(SystemTime::now() - Duration::from_secs(1));
        assert!(past <= Instant::now());
    }
}
