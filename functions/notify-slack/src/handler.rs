//! One invocation: every SNS record is classified, filtered, rendered and posted; any record
//! that did not reach Slack fails the invocation, so Lambda's retries and the on-failure
//! destination keep the event.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_kms::config::retry::RetryConfig;
use lambda_runtime::LambdaEvent;
use rollout_kit::startup::with_timeouts;
use rollout_kit::{Deadline, Tls};
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::config::Config;
use crate::delivery::Slack;
use crate::error::Error;
use crate::message::{self, kind_of, status_of};
use crate::ports::{Aws, Ports};
use crate::render::{RenderOptions, render};
use crate::secret::WebhookSecret;
use crate::sns;
use crate::status::StatusFilter;

/// Kept back from the deadline so a failure is reported rather than timed out.
const RESERVE: Duration = Duration::from_millis(500);
/// Lambda's longest timeout; a deadline further out is not believed.
const MAX_RUN: Duration = Duration::from_secs(900);
/// The most time decrypting the webhook may take; KMS answers in milliseconds when it works.
const DECRYPT_BUDGET: Duration = Duration::from_secs(10);
/// One KMS attempt; a hung one is abandoned and tried again while the budget lasts.
const KMS_ATTEMPT: Duration = Duration::from_secs(2);
/// How many delivered message ids a container remembers.
const REMEMBERED: usize = 1000;
/// Failures named in the error message; the rest are counted.
const NAMED_FAILURES: usize = 5;

/// The adapters an invocation works through: KMS and the webhook over HTTPS (`Deps<Aws>`, the
/// default) or, in the unit tests, in-memory ones.
pub struct Deps<P: Ports = Aws> {
    secret: WebhookSecret<P::Kms>,
    slack: Slack<P::Webhook>,
    render: RenderOptions,
    statuses: StatusFilter,
    delivered: Mutex<RecentIds>,
}

impl Deps {
    pub fn new(config: Config, aws: &SdkConfig, tls: &Tls) -> Result<Self, Error> {
        let slack = Slack::new(config.timeout, config.policy, tls)
            .map_err(|e| Error::HttpClient(e.without_url().to_string()))?;
        // Retries are ours (`retry_until` in `secret`), bounded by the invocation's deadline;
        // the SDK's own would sleep past it.
        let kms = aws_sdk_kms::config::Builder::from(&with_timeouts(aws, KMS_ATTEMPT, KMS_ATTEMPT))
            .retry_config(RetryConfig::disabled())
            .build();
        Ok(Deps::with_adapters(
            config,
            aws_sdk_kms::Client::from_conf(kms),
            slack,
        ))
    }
}

impl<P: Ports> Deps<P> {
    pub fn with_adapters(config: Config, kms: P::Kms, slack: Slack<P::Webhook>) -> Self {
        Self {
            secret: WebhookSecret::new(
                kms,
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
        }
    }
}

pub async fn handle<P: Ports>(deps: &Deps<P>, event: LambdaEvent<Value>) -> Result<Value, Error> {
    let time = TimePlan::for_remaining(Deadline::from_epoch_ms(event.context.deadline).remaining());
    let now = Instant::now();
    let (post_until, decrypt_until) = (now + time.work, now + time.decrypt);
    let records = sns::records(&event.payload).inspect_err(|e| {
        tracing::error!(error = %e, "not an SNS event");
    })?;
    let total = records.len();
    let mut filtered = 0;
    let mut duplicates = 0;
    let mut plan = Vec::new();
    // (record number, reason), one per record that did not reach Slack.
    let mut failures: Vec<(usize, String)> = Vec::new();
    for record in records {
        let envelope = match record {
            Ok(envelope) => envelope,
            Err(bad) => {
                tracing::error!(record = bad.index, message_id = %bad.message_id, error = %bad, "record not posted: it cannot be read");
                failures.push((
                    bad.index,
                    format!(
                        "record {}{}: {bad} (permanent)",
                        bad.index,
                        message_label(&bad.message_id)
                    ),
                ));
                continue;
            }
        };
        let note = message::classify(
            &envelope.message,
            envelope.subject.as_deref(),
            &envelope.topic_arn,
        );
        let kind = kind_of(&note);
        let status = status_of(&note);
        if !deps.statuses.admits(kind, status.as_deref()) {
            tracing::info!(record = envelope.index, message_id = %envelope.message_id, kind, status = status.as_deref().unwrap_or(""), "filtered out by NOTIFY_STATUSES or NOTIFY_QUIET");
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
    let unreadable = failures.len();

    let mut delivered = 0;
    if !plan.is_empty() {
        let url = deps.secret.url(decrypt_until).await.inspect_err(|e| {
            tracing::error!(error = %e, records = plan.len(), "no webhook URL; nothing posted");
        })?;
        for (envelope, note) in &plan {
            let kind = kind_of(note);
            let payload = render(note, envelope, &deps.render);
            let delivery = deps.slack.post(url, &payload, post_until).await;
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
                    failures.push((
                        envelope.index,
                        format!(
                            "record {} ({kind}, message {}): {}{permanence} after {} attempt(s)",
                            envelope.index, envelope.message_id, failure.reason, delivery.attempts
                        ),
                    ));
                }
            }
        }
    }
    if !failures.is_empty() {
        // In event order: unreadable records were collected before any post.
        failures.sort_by_key(|(index, _)| *index);
        let mut failures: Vec<String> = failures.into_iter().map(|(_, reason)| reason).collect();
        let undelivered = failures.len();
        if undelivered > NAMED_FAILURES {
            let more = undelivered - NAMED_FAILURES;
            failures.truncate(NAMED_FAILURES);
            failures.push(format!("and {more} more"));
        }
        return Err(Error::Undelivered {
            undelivered,
            total: plan.len() + unreadable,
            details: failures.join("; "),
        });
    }
    Ok(
        json!({"records": total, "delivered": delivered, "filtered": filtered, "duplicates": duplicates}),
    )
}

fn message_label(message_id: &str) -> String {
    if message_id.is_empty() {
        String::new()
    } else {
        format!(" (message {message_id})")
    }
}

/// How one invocation's time is spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TimePlan {
    /// Posting to Slack stops this long from now, [`RESERVE`] before the deadline.
    work: Duration,
    /// Decrypting the webhook gets at most this long from now: half of the work time, so a
    /// hung KMS fails the invocation with time to spare, and never more than
    /// [`DECRYPT_BUDGET`].
    decrypt: Duration,
}

impl TimePlan {
    fn for_remaining(remaining: Duration) -> TimePlan {
        let work = remaining.min(MAX_RUN).saturating_sub(RESERVE);
        TimePlan {
            work,
            decrypt: (work / 2).min(DECRYPT_BUDGET),
        }
    }
}

impl<P: Ports> Deps<P> {
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
    fn time_is_split_between_kms_and_slack() {
        let plan = TimePlan::for_remaining(Duration::from_secs(3));
        assert_eq!(plan.work, Duration::from_millis(2_500));
        assert_eq!(plan.decrypt, Duration::from_millis(1_250));
        let long = TimePlan::for_remaining(Duration::from_secs(60));
        assert_eq!(long.decrypt, DECRYPT_BUDGET, "KMS never takes Slack's time");
        let absurd = TimePlan::for_remaining(Duration::from_secs(1 << 40));
        assert_eq!(absurd.work, MAX_RUN - RESERVE);
        assert_eq!(
            TimePlan::for_remaining(Duration::ZERO).decrypt,
            Duration::ZERO
        );
    }

    #[test]
    fn a_record_is_named_with_its_message_id_if_it_has_one() {
        assert_eq!(message_label(""), "");
        assert_eq!(message_label("m-1"), " (message m-1)");
    }
}
