//! One invocation: every record is classified, filtered, de-duplicated, folded (the instance
//! events of one deployment into a digest) and posted. What did not reach Slack is reported the
//! way the event's source retries it: an SNS event fails the invocation (Lambda's retries and
//! the on-failure destination keep it), an SQS batch names the records in `batchItemFailures`
//! (they come back after the visibility timeout, and the queue's redrive policy dead-letters
//! those that fail too often).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_kms::config::retry::RetryConfig;
use lambda_runtime::LambdaEvent;
use rollout_kit::startup::with_timeouts;
use rollout_kit::{Deadline, LazyClient, Tls};
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::config::Config;
use crate::delivery::Slack;
use crate::digest;
use crate::error::Error;
use crate::message::{self, Notification, kind_of, status_of};
use crate::ports::{Aws, Ports};
use crate::render::{RenderOptions, render, render_digest};
use crate::secret::WebhookSecret;
use crate::sns::{self, Envelope, Shape};
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
        // the SDK's own would sleep past it. Built by the first decrypt, not at init.
        let kms = LazyClient::from_sdk(aws, |aws| {
            aws_sdk_kms::Client::from_conf(
                aws_sdk_kms::config::Builder::from(&with_timeouts(aws, KMS_ATTEMPT, KMS_ATTEMPT))
                    .retry_config(RetryConfig::disabled())
                    .build(),
            )
        });
        Ok(Deps::with_adapters(config, kms, slack))
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
    let (shape, records) = sns::read(&event.payload).inspect_err(|e| {
        tracing::error!(error = %e, "neither an SNS nor an SQS event");
    })?;
    let total = records.len();
    let mut filtered = 0;
    let mut duplicates = 0;
    let mut plan: Vec<Planned> = Vec::new();
    // SNS message id → its place in `plan`.
    let mut planned_ids: HashMap<String, usize> = HashMap::new();
    let mut failures: Vec<Undelivered> = Vec::new();
    for record in records {
        let envelope = match record {
            Ok(envelope) => envelope,
            Err(bad) => {
                tracing::error!(record = bad.index, message_id = %bad.message_id, item_id = bad.item_id.as_deref().unwrap_or(""), error = %bad, "record not posted: it cannot be read");
                failures.push(Undelivered {
                    index: bad.index,
                    item_id: bad.item_id.clone(),
                    reason: format!(
                        "record {}{}: {bad} (permanent)",
                        bad.index,
                        message_label(&bad.message_id)
                    ),
                });
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
        // SQS delivers at least once: the same SNS message twice in one batch is posted once,
        // and both records share its fate.
        if let Some(&first) = planned_ids.get(&envelope.message_id) {
            tracing::info!(record = envelope.index, message_id = %envelope.message_id, kind, "twice in this batch; posted once");
            duplicates += 1;
            plan[first].twins.push((envelope.index, envelope.item_id));
            continue;
        }
        if !envelope.message_id.is_empty() {
            planned_ids.insert(envelope.message_id.clone(), plan.len());
        }
        plan.push(Planned {
            envelope,
            note,
            twins: Vec::new(),
        });
    }
    let unreadable = failures.len();
    let planned: usize = plan.iter().map(|p| 1 + p.twins.len()).sum();

    let mut delivered = 0;
    let mut posts = 0;
    let url = if plan.is_empty() {
        None
    } else {
        match deps.secret.url(decrypt_until).await {
            Ok(url) => Some(url),
            Err(e) => {
                tracing::error!(error = %e, records = plan.len(), "no webhook URL; nothing posted");
                if shape == Shape::Sns {
                    return Err(e);
                }
                // From a queue, each record comes back after the visibility timeout instead.
                for p in &plan {
                    failures.extend(p.undelivered(&e.to_string()));
                }
                None
            }
        }
    };
    if let Some(url) = url {
        let notes: Vec<&Notification> = plan.iter().map(|p| &p.note).collect();
        // Why the rest of a batch is left to the queue: Slack stayed unavailable or rate limited
        // past what this invocation could wait, and pressing on would only meet the same limit.
        let mut halted: Option<String> = None;
        for members in digest::fold(&notes) {
            if let Some(why) = &halted {
                for &m in &members {
                    failures.extend(plan[m].undelivered(why));
                }
                continue;
            }
            let (payload, kind) = match members.as_slice() {
                [one] => (
                    render(&plan[*one].note, &plan[*one].envelope, &deps.render),
                    kind_of(&plan[*one].note),
                ),
                _ => {
                    let folded: Vec<&Notification> = members.iter().map(|&m| notes[m]).collect();
                    (
                        render_digest(&folded, &deps.render),
                        "codedeploy_instance_digest",
                    )
                }
            };
            let delivery = deps.slack.post(url, &payload, post_until).await;
            posts += 1;
            let ids: Vec<&str> = members
                .iter()
                .map(|&m| plan[m].envelope.message_id.as_str())
                .collect();
            let records: Vec<usize> = members.iter().map(|&m| plan[m].envelope.index).collect();
            match delivery.result {
                Ok(()) => {
                    tracing::info!(records = ?records, message_ids = ?ids, kind, attempts = delivery.attempts, "delivered to Slack");
                    for &m in &members {
                        deps.remember(&plan[m].envelope.message_id);
                        delivered += 1 + plan[m].twins.len();
                    }
                }
                Err(failure) => {
                    tracing::error!(records = ?records, message_ids = ?ids, kind, attempts = delivery.attempts, permanent = failure.permanent, error = %failure.reason, "not delivered to Slack");
                    let permanence = if failure.permanent {
                        " (permanent)"
                    } else {
                        ""
                    };
                    let folded = if members.len() > 1 {
                        format!(" in a digest of {}", members.len())
                    } else {
                        String::new()
                    };
                    for &m in &members {
                        let why = format!(
                            "{kind}{folded}: {}{permanence} after {} attempt(s)",
                            failure.reason, delivery.attempts
                        );
                        failures.extend(plan[m].undelivered(&why));
                    }
                    if shape == Shape::Sqs && !failure.permanent {
                        halted = Some(format!(
                            "not attempted: an earlier post of this batch failed ({})",
                            failure.reason
                        ));
                    }
                }
            }
        }
    }
    // In event order: unreadable records were collected before any post.
    failures.sort_by_key(|f| f.index);
    match shape {
        Shape::Sns => {
            if failures.is_empty() {
                Ok(
                    json!({"records": total, "delivered": delivered, "filtered": filtered, "duplicates": duplicates, "posts": posts}),
                )
            } else {
                Err(undelivered(failures, planned + unreadable))
            }
        }
        Shape::Sqs => {
            if failures.iter().any(|f| f.item_id.is_none()) {
                // A partial batch response cannot name it: the whole batch comes back.
                tracing::error!(
                    "a record without an SQS messageId was not delivered; failing the whole batch"
                );
                return Err(undelivered(failures, planned + unreadable));
            }
            tracing::info!(
                records = total,
                delivered,
                filtered,
                duplicates,
                posts,
                failed = failures.len(),
                "batch done"
            );
            let items: Vec<Value> = failures
                .iter()
                .filter_map(|f| f.item_id.as_deref())
                .map(|id| json!({ "itemIdentifier": id }))
                .collect();
            Ok(json!({ "batchItemFailures": items }))
        }
    }
}

/// One record's notification, ready to post.
struct Planned {
    envelope: Envelope,
    note: Notification,
    /// Later records of the same batch with the same SNS message: (record number, SQS id).
    twins: Vec<(usize, Option<String>)>,
}

impl Planned {
    /// This record and its twins as undelivered, for `why`.
    fn undelivered(&self, why: &str) -> Vec<Undelivered> {
        let e = &self.envelope;
        std::iter::once((e.index, e.item_id.clone()))
            .chain(self.twins.iter().cloned())
            .map(|(index, item_id)| Undelivered {
                index,
                item_id,
                reason: format!("record {index} (message {}): {why}", e.message_id),
            })
            .collect()
    }
}

/// A record that did not reach Slack.
struct Undelivered {
    /// 1-based position in the event.
    index: usize,
    /// Its SQS message id, when it came from a queue.
    item_id: Option<String>,
    reason: String,
}

/// The invocation's error: the first few failures named, the rest counted.
fn undelivered(failures: Vec<Undelivered>, total: usize) -> Error {
    let mut details: Vec<String> = failures.into_iter().map(|f| f.reason).collect();
    let undelivered = details.len();
    if undelivered > NAMED_FAILURES {
        let more = undelivered - NAMED_FAILURES;
        details.truncate(NAMED_FAILURES);
        details.push(format!("and {more} more"));
    }
    Error::Undelivered {
        undelivered,
        total,
        details: details.join("; "),
    }
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

/// SNS message ids this container delivered, so a Lambda retry of a partly delivered event, or
/// an SQS redelivery (which usually land on the same warm container), does not post them twice.
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
