//! SNS messages out of an SQS batch: the topic delivers to a queue (raw message delivery off),
//! so each record's `body` is the SNS envelope as SNS writes it (`SigningCertURL`,
//! `UnsubscribeURL`, unlike the `SigningCertUrl` of Lambda's SNS record). The typed
//! `SnsMessage` is tried first, then the envelope is read tolerantly. A body that is no SNS
//! envelope (someone sent straight to the queue) is posted as it is, never dropped.
//!
//! Every envelope carries the record's SQS `messageId`: the partial batch response names the
//! records that did not reach Slack by it.

use aws_lambda_events::event::sns::SnsMessage;
use serde_json::{Map, Value};

use crate::sns::{BadRecord, Envelope};

/// Lambda's SQS event: its records say `"eventSource": "aws:sqs"` and carry a `body`.
pub fn is_sqs(records: &[Value]) -> bool {
    records.iter().any(|record| {
        record.get("eventSource").and_then(Value::as_str) == Some("aws:sqs")
            || (record.get("body").is_some() && record.get("Sns").is_none())
    })
}

/// Every record in order, each read on its own.
pub fn records(records: &[Value]) -> Vec<Result<Envelope, BadRecord>> {
    records
        .iter()
        .enumerate()
        .map(|(i, record)| envelope(i + 1, record))
        .collect()
}

fn envelope(index: usize, record: &Value) -> Result<Envelope, BadRecord> {
    let field = |key: &str| record.get(key).and_then(Value::as_str).map(str::to_string);
    let item_id = field("messageId").filter(|id| !id.trim().is_empty());
    let bad = |message_id: String, reason: &str| BadRecord {
        index,
        message_id,
        item_id: item_id.clone(),
        reason: reason.to_string(),
    };
    let Some(body) = record.get("body").and_then(Value::as_str) else {
        return Err(bad(String::new(), "the SQS record has no body"));
    };
    let parsed = serde_json::from_str::<Value>(body).ok();
    if let Some(sns) = parsed.as_ref().and_then(Value::as_object)
        && is_envelope(sns)
    {
        return from_envelope(index, sns, item_id.clone()).ok_or_else(|| {
            bad(
                text(sns, "MessageId").unwrap_or_default(),
                "the SNS envelope has no Message",
            )
        });
    }
    // Not from SNS: the body is the message, and the SQS message id stands for its id (SQS
    // keeps it across redeliveries, so de-duplication still works).
    Ok(Envelope {
        index,
        message_id: item_id.clone().unwrap_or_default(),
        topic_arn: field("eventSourceARN").unwrap_or_default(),
        subject: None,
        timestamp: record
            .pointer("/attributes/SentTimestamp")
            .and_then(crate::time::parse_time),
        message: body.to_string(),
        item_id,
    })
}

/// What SNS writes to a queue: a notification naming its topic.
fn is_envelope(object: &Map<String, Value>) -> bool {
    text(object, "Type").as_deref() == Some("Notification") && text(object, "TopicArn").is_some()
}

fn from_envelope(
    index: usize,
    object: &Map<String, Value>,
    item_id: Option<String>,
) -> Option<Envelope> {
    if let Ok(typed) = serde_json::from_value::<SnsMessage>(Value::Object(object.clone())) {
        return Some(Envelope {
            index,
            message_id: typed.message_id,
            topic_arn: typed.topic_arn,
            subject: typed.subject.filter(|s| !s.trim().is_empty()),
            timestamp: Some(typed.timestamp.timestamp()),
            message: typed.message,
            item_id,
        });
    }
    let message = match object.get("Message")? {
        Value::String(s) => s.clone(),
        Value::Null => return None,
        // Not what SNS sends, but a message is a message: keep it as JSON text.
        other => other.to_string(),
    };
    Some(Envelope {
        index,
        message_id: text(object, "MessageId").unwrap_or_default(),
        topic_arn: text(object, "TopicArn").unwrap_or_default(),
        subject: text(object, "Subject").filter(|s| !s.trim().is_empty()),
        timestamp: object.get("Timestamp").and_then(crate::time::parse_time),
        message,
        item_id,
    })
}

fn text(object: &Map<String, Value>, key: &str) -> Option<String> {
    object.get(key).and_then(Value::as_str).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sns::{Shape, read};
    use serde_json::json;

    const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:deployments";

    /// The body SNS writes to a subscribed queue.
    fn sns_body(message_id: &str, message: &str) -> String {
        json!({
            "Type": "Notification",
            "MessageId": message_id,
            "TopicArn": TOPIC,
            "Subject": "news",
            "Message": message,
            "Timestamp": "2022-10-14T08:38:46.123Z",
            "SignatureVersion": "1",
            "Signature": "sig",
            "SigningCertURL": "https://sns.example/cert.pem",
            "UnsubscribeURL": "https://sns.example/unsub"
        })
        .to_string()
    }

    fn sqs_record(item: &str, body: &str) -> Value {
        json!({
            "messageId": item,
            "receiptHandle": "handle",
            "body": body,
            "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1665736726123"},
            "messageAttributes": {},
            "md5OfBody": "x",
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:notify",
            "awsRegion": "us-east-1"
        })
    }

    #[test]
    fn an_sns_envelope_in_a_body_reads_as_the_sns_record_would() {
        let event = json!({"Records": [sqs_record("q-1", &sns_body("m-1", "hello"))]});
        let (shape, all) = read(&event).unwrap();
        assert_eq!(shape, Shape::Sqs);
        let envelope = all[0].as_ref().unwrap();
        assert_eq!(envelope.message, "hello");
        assert_eq!(envelope.message_id, "m-1", "de-duplicated on the SNS id");
        assert_eq!(envelope.item_id.as_deref(), Some("q-1"));
        assert_eq!(envelope.topic_arn, TOPIC);
        assert_eq!(envelope.subject.as_deref(), Some("news"));
        assert_eq!(envelope.timestamp, Some(1_665_736_726));
    }

    #[test]
    fn an_envelope_missing_unused_fields_is_still_read() {
        let body = json!({"Type": "Notification", "TopicArn": TOPIC, "MessageId": "m-2",
                          "Message": {"a": 1}, "Timestamp": "not a date"})
        .to_string();
        let all = records(&[sqs_record("q-2", &body)]);
        let envelope = all[0].as_ref().unwrap();
        assert_eq!(envelope.message, r#"{"a":1}"#);
        assert_eq!(envelope.timestamp, None);
    }

    #[test]
    fn a_body_not_from_sns_is_the_message() {
        let all = records(&[sqs_record("q-3", "sent straight to the queue")]);
        let envelope = all[0].as_ref().unwrap();
        assert_eq!(envelope.message, "sent straight to the queue");
        assert_eq!(envelope.message_id, "q-3");
        assert_eq!(envelope.timestamp, Some(1_665_736_726));
        let json_body = records(&[sqs_record("q-4", r#"{"Type":"Other","x":1}"#)]);
        assert_eq!(
            json_body[0].as_ref().unwrap().message,
            r#"{"Type":"Other","x":1}"#
        );
    }

    #[test]
    fn unreadable_records_fail_alone_with_their_item_id() {
        let no_message = json!({"Type": "Notification", "TopicArn": TOPIC, "MessageId": "m-5"});
        let mut no_body = sqs_record("q-6", "");
        no_body.as_object_mut().unwrap().remove("body");
        let all = records(&[
            sqs_record("q-5", &no_message.to_string()),
            no_body,
            sqs_record("q-7", &sns_body("m-7", "fine")),
        ]);
        let bad = all[0].as_ref().unwrap_err();
        assert_eq!(
            (bad.index, bad.message_id.as_str(), bad.item_id.as_deref()),
            (1, "m-5", Some("q-5"))
        );
        assert!(bad.reason.contains("no Message"), "{bad}");
        assert_eq!(all[1].as_ref().unwrap_err().item_id.as_deref(), Some("q-6"));
        assert_eq!(all[2].as_ref().unwrap().message, "fine");
    }

    #[test]
    fn sns_events_are_not_taken_for_sqs() {
        let sns = json!({"Records": [{"EventSource": "aws:sns", "Sns": {"Message": "m"}}]});
        assert_eq!(read(&sns).unwrap().0, Shape::Sns);
    }
}
