//! SNS messages out of the invocation payload: an SNS event (the function subscribed to the
//! topic) or an SQS event whose bodies are SNS envelopes (the topic's queue, [`crate::sqs`]).
//! The typed `SnsRecord` is tried first; a record it rejects (a field missing or malformed) is
//! still read for what we need, so nothing is dropped because an attribute we never use is odd.
//! A record without a message is that record's failure ([`BadRecord`]), not the whole event's:
//! the other records are still posted.

use aws_lambda_events::event::sns::SnsRecord;
use serde_json::Value;

/// What notify-slack needs from one SNS record.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// 1-based position in the event, for logs and errors.
    pub index: usize,
    pub message_id: String,
    pub topic_arn: String,
    pub subject: Option<String>,
    /// Epoch seconds the message was published.
    pub timestamp: Option<i64>,
    pub message: String,
    /// The SQS message id when the record came through a queue: what a partial batch response
    /// names. `None` for an SNS event.
    pub item_id: Option<String>,
}

/// How the messages arrived, which decides how undelivered ones are reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Lambda's SNS event: any undelivered record fails the invocation.
    Sns,
    /// An SQS batch: undelivered records are named in `batchItemFailures`.
    Sqs,
}

/// The payload is neither an SNS nor an SQS event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NotSns(pub String);

/// One record that cannot be posted. Lambda's retries will not fix it, but failing the
/// invocation for it keeps the event (and this reason) for the dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct BadRecord {
    /// 1-based position in the event.
    pub index: usize,
    /// Empty when the record has none.
    pub message_id: String,
    /// The SQS message id, when the record came through a queue and has one.
    pub item_id: Option<String>,
    pub reason: String,
}

/// Every record in order, each read on its own: `Err(NotSns)` only when the payload as a whole
/// is neither an SNS nor an SQS event.
pub fn records(payload: &Value) -> Result<Vec<Result<Envelope, BadRecord>>, NotSns> {
    read(payload).map(|(_, records)| records)
}

/// The event's shape and its records in order.
pub fn read(payload: &Value) -> Result<(Shape, Vec<Result<Envelope, BadRecord>>), NotSns> {
    let records = payload
        .get("Records")
        .ok_or_else(|| NotSns("the event has no Records array".into()))?
        .as_array()
        .ok_or_else(|| NotSns("Records is not an array".into()))?;
    if records.is_empty() {
        return Err(NotSns("Records is empty".into()));
    }
    if crate::sqs::is_sqs(records) {
        return Ok((Shape::Sqs, crate::sqs::records(records)));
    }
    Ok((
        Shape::Sns,
        records
            .iter()
            .enumerate()
            .map(|(i, record)| envelope(i + 1, record))
            .collect(),
    ))
}

fn envelope(index: usize, record: &Value) -> Result<Envelope, BadRecord> {
    if let Ok(typed) = serde_json::from_value::<SnsRecord>(record.clone()) {
        let sns = typed.sns;
        return Ok(Envelope {
            index,
            message_id: sns.message_id,
            topic_arn: sns.topic_arn,
            subject: sns.subject.filter(|s| !s.trim().is_empty()),
            timestamp: Some(sns.timestamp.timestamp()),
            message: sns.message,
            item_id: None,
        });
    }
    let bad = |message_id: String, reason: &str| BadRecord {
        index,
        message_id,
        item_id: None,
        reason: reason.to_string(),
    };
    let Some(sns) = record.get("Sns").filter(|s| s.is_object()) else {
        return Err(bad(String::new(), "the record has no Sns object"));
    };
    let text = |key: &str| sns.get(key).and_then(Value::as_str).map(str::to_string);
    let message = match sns.get("Message") {
        Some(Value::String(s)) => s.clone(),
        // Not what SNS sends, but a message is a message: keep it as JSON text.
        Some(other) if !other.is_null() => other.to_string(),
        _ => {
            return Err(bad(
                text("MessageId").unwrap_or_default(),
                "the record has no Sns.Message",
            ));
        }
    };
    Ok(Envelope {
        index,
        message_id: text("MessageId").unwrap_or_default(),
        topic_arn: text("TopicArn").unwrap_or_default(),
        subject: text("Subject").filter(|s| !s.trim().is_empty()),
        timestamp: sns.get("Timestamp").and_then(crate::time::parse_time),
        message,
        item_id: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn full_record(message: &str) -> Value {
        json!({
            "EventSource": "aws:sns",
            "EventVersion": "1.0",
            "EventSubscriptionArn": "arn:aws:sns:us-east-1:123456789012:topic:sub",
            "Sns": {
                "Type": "Notification",
                "MessageId": "m-1",
                "TopicArn": "arn:aws:sns:us-east-1:123456789012:topic",
                "Subject": null,
                "Message": message,
                "Timestamp": "2022-10-14T08:38:46.123Z",
                "SignatureVersion": "1",
                "Signature": "sig",
                "SigningCertUrl": "https://sns.example/cert.pem",
                "UnsubscribeUrl": "https://sns.example/unsub",
                "MessageAttributes": {}
            }
        })
    }

    #[test]
    fn every_record_in_order() {
        let event = json!({"Records": [full_record("one"), full_record("two")]});
        let all: Vec<Envelope> = records(&event).unwrap().into_iter().flatten().collect();
        assert_eq!(all.len(), 2);
        assert_eq!((all[0].index, all[0].message.as_str()), (1, "one"));
        assert_eq!(all[1].message, "two");
        assert_eq!(all[0].timestamp, Some(1_665_736_726));
        assert_eq!(all[0].subject, None);
    }

    #[test]
    fn a_record_missing_unused_fields_is_still_read() {
        let event = json!({"Records": [{"Sns": {"MessageId": "m-2", "Message": "hello"}}]});
        let all = records(&event).unwrap();
        let all: Vec<&Envelope> = all.iter().flatten().collect();
        assert_eq!(all[0].message, "hello");
        assert_eq!(all[0].message_id, "m-2");
    }

    #[test]
    fn not_sns_is_a_clear_error() {
        assert!(records(&json!({"ping": 1})).is_err());
        assert!(records(&json!({"Records": []})).is_err());
        assert!(records(&json!({"Records": {"Sns": {}}})).is_err());
    }

    #[test]
    fn a_record_without_a_message_fails_alone() {
        let mut broken = full_record("ignored");
        broken["Sns"]
            .as_object_mut()
            .unwrap()
            .remove("Message")
            .unwrap();
        broken["Sns"]["MessageId"] = json!("m-bad");
        let event =
            json!({"Records": [full_record("one"), broken, {"Sns": 7}, full_record("three")]});
        let all = records(&event).unwrap();
        assert_eq!(all.len(), 4);
        assert_eq!(all[0].as_ref().unwrap().message, "one");
        let missing = all[1].as_ref().unwrap_err();
        assert_eq!((missing.index, missing.message_id.as_str()), (2, "m-bad"));
        assert!(missing.reason.contains("Sns.Message"), "{missing}");
        let not_sns = all[2].as_ref().unwrap_err();
        assert_eq!((not_sns.index, not_sns.message_id.as_str()), (3, ""));
        assert_eq!(all[3].as_ref().unwrap().message, "three");
    }
}
