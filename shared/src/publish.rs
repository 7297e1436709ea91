//! Publishing rollout events to the notifications topic.

use crate::event::RolloutEvent;

/// A rollout event that did not reach the topic.
#[derive(Debug, thiserror::Error)]
#[error("publishing the rollout event failed: {summary}")]
pub struct PublishFailed {
    pub summary: String,
}

/// Publishes best-effort: a notification must never change a deployment's outcome, so a failure
/// is logged (with the SDK's error code) and returned for the caller to note, not to act on.
pub async fn publish_rollout_event(
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
    match sns
        .publish()
        .topic_arn(topic_arn)
        .subject(subject)
        .message(message)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(err) => {
            let summary = crate::sdk_error_summary(&err);
            tracing::warn!(topic_arn, error = %summary, "could not publish rollout event");
            Err(PublishFailed { summary })
        }
    }
}
