//! Publishing rollout events to the notifications topic.
//!
//! A notification never changes a deployment's outcome: every publish is bounded by a timeout
//! well inside any step's budget, and a publish that fails or times out is logged and returned
//! for the caller to note, never to act on.

use std::time::Duration;

use crate::event::RolloutEvent;
use crate::startup::LazyClient;

/// The longest a publish may take, SDK retries included. SNS answers in tens of milliseconds;
/// anything slower is an outage the rollout must not wait out.
pub const PUBLISH_TIMEOUT: Duration = Duration::from_secs(3);

/// A rollout event that did not reach the topic.
#[derive(Debug, thiserror::Error)]
#[error("publishing the rollout event failed: {summary}")]
pub struct PublishFailed {
    pub summary: String,
}

/// The notifications topic and how long a publish may take.
#[derive(Debug, Clone)]
pub struct Publisher {
    /// Built by the first publish.
    sns: LazyClient<aws_sdk_sns::Client>,
    topic_arn: String,
    timeout: Duration,
}

impl Publisher {
    pub fn new(sns: LazyClient<aws_sdk_sns::Client>, topic_arn: String) -> Publisher {
        Publisher {
            sns,
            topic_arn,
            timeout: PUBLISH_TIMEOUT,
        }
    }

    /// A shorter (or longer) bound, e.g. what is left before a deadline.
    pub fn with_timeout(mut self, timeout: Duration) -> Publisher {
        self.timeout = timeout;
        self
    }

    pub fn topic_arn(&self) -> &str {
        &self.topic_arn
    }

    /// Publishes within `min(self.timeout, limit)`.
    pub async fn publish_within(
        &self,
        event: &RolloutEvent,
        limit: Duration,
    ) -> Result<(), PublishFailed> {
        let timeout = self.timeout.min(limit);
        let result = match tokio::time::timeout(
            timeout,
            publish_rollout_event(self.sns.get(), &self.topic_arn, event),
        )
        .await
        {
            Ok(result) => result,
            Err(_) => Err(PublishFailed {
                summary: format!("no answer within {} ms", timeout.as_millis()),
            }),
        };
        if let Err(err) = &result {
            tracing::warn!(
                topic_arn = self.topic_arn,
                error = %err.summary,
                outcome = ?event.outcome,
                "rollout event not published; the result stands"
            );
        }
        result
    }

    pub async fn publish(&self, event: &RolloutEvent) -> Result<(), PublishFailed> {
        self.publish_within(event, self.timeout).await
    }
}

/// One `Publish` of the event; unbounded unless the client has an operation timeout, so use
/// [`Publisher`].
async fn publish_rollout_event(
    sns: &aws_sdk_sns::Client,
    topic_arn: &str,
    event: &RolloutEvent,
) -> Result<(), PublishFailed> {
    let message = serde_json::to_string(event).map_err(|e| PublishFailed {
        summary: e.to_string(),
    })?;
    let subject: String = format!("{}: {}", event.source, event.summary)
        .chars()
        .filter(|c| !c.is_control())
        .take(100)
        .collect();
    sns.publish()
        .topic_arn(topic_arn)
        .subject(subject)
        .message(message)
        .send()
        .await
        .map(|_| ())
        .map_err(|err| PublishFailed {
            summary: crate::sdk_error_summary(&err),
        })
}
