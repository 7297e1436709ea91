//! The property the `sns_render` fuzz target checks (`fuzz/`), shared with the regression test
//! below so every input the fuzzer ever tripped on is checked again by `cargo test`.
//!
//! Property: any bytes, read as a Lambda SNS or SQS event (bodies that are SNS envelopes or
//! not) or as one SNS message, classify, fold (digests of instance events) and render
//! without panicking into a payload Slack accepts (Block Kit limits), in which no text from the
//! message can forge a mention or a link.

use serde_json::Value;

use crate::blocks::{FIELD_TEXT, HEADER_TEXT, MAX_BLOCKS, MAX_FIELDS, SECTION_TEXT};
use crate::digest::fold;
use crate::message::{Notification, classify, kind_of, status_of};
use crate::render::{RenderOptions, render, render_digest};
use crate::sns::{Envelope, records};

/// Slack cuts the top-level `text` past this many characters.
pub const TOP_LEVEL_TEXT: usize = 40_000;
/// Slack's limit for any text object, context elements included.
pub const TEXT_OBJECT: usize = 3000;
/// Elements in a context block.
pub const CONTEXT_ELEMENTS: usize = 10;
/// The mention the check renders with, as a configured `SLACK_MENTION`.
pub const MENTION: &str = "<!here>";

const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:deployments";

pub use rollout_kit::corpus::Violation;
use rollout_kit::corpus::violation;

/// The inputs `data` stands for: a whole event when it is one, else one message (with a subject
/// before a NUL byte, if any).
pub fn envelopes(data: &[u8]) -> Vec<Envelope> {
    if let Ok(event) = serde_json::from_slice::<Value>(data)
        && event.get("Records").is_some()
    {
        // An event notify-slack refuses is an error for Lambda, not a rendering.
        return records(&event)
            .map(|all| all.into_iter().flatten().collect())
            .unwrap_or_default();
    }
    let text = String::from_utf8_lossy(data);
    let (subject, message) = match text.split_once('\0') {
        Some((subject, message)) => (Some(subject.to_string()), message.to_string()),
        None => (None, text.into_owned()),
    };
    vec![Envelope {
        index: 1,
        message_id: "m-fuzz".into(),
        topic_arn: TOPIC.into(),
        subject: subject.filter(|s| !s.trim().is_empty()),
        timestamp: Some(1_665_736_726),
        message,
        item_id: None,
    }]
}

/// Classifies and renders every message in `data`, with and without a mention, and checks each
/// payload.
pub fn check_sns_render(data: &[u8]) -> Result<(), Violation> {
    let all = envelopes(data);
    let notes: Vec<Notification> = all
        .iter()
        .map(|e| classify(&e.message, e.subject.as_deref(), &e.topic_arn))
        .collect();
    // The batch folded as the handler folds it: every digest must hold too.
    let refs: Vec<&Notification> = notes.iter().collect();
    for members in fold(&refs) {
        if members.len() < 2 {
            continue;
        }
        let folded: Vec<&Notification> = members.iter().map(|&m| refs[m]).collect();
        for mention in [None, Some(MENTION.to_string())] {
            let options = RenderOptions {
                mention: mention.clone(),
            };
            let payload = render_digest(&folded, &options);
            check_payload(&payload, mention.as_deref())
                .map_err(|v| Violation(format!("{v} (digest, payload {payload})")))?;
        }
    }
    for envelope in all {
        let note = classify(
            &envelope.message,
            envelope.subject.as_deref(),
            &envelope.topic_arn,
        );
        let _ = (kind_of(&note), status_of(&note));
        for mention in [None, Some(MENTION.to_string())] {
            let options = RenderOptions {
                mention: mention.clone(),
            };
            let payload = render(&note, &envelope, &options);
            check_payload(&payload, mention.as_deref()).map_err(|v| {
                Violation(format!("{v} (kind {}, payload {payload})", kind_of(&note)))
            })?;
        }
    }
    Ok(())
}

/// Slack's Block Kit limits, plus: mrkdwn text only links to the AWS console and only mentions
/// through the configured `mention`, at the start of the line.
pub fn check_payload(payload: &Value, mention: Option<&str>) -> Result<(), Violation> {
    let Some(text) = payload.get("text").and_then(Value::as_str) else {
        return violation("no top-level text (the notification line)");
    };
    if text.trim().is_empty() {
        return violation("empty top-level text");
    }
    if chars(text) > TOP_LEVEL_TEXT {
        return violation(format!("top-level text has {} characters", chars(text)));
    }
    let line = mention.and_then(|m| text.strip_prefix(m)).unwrap_or(text);
    check_mrkdwn(line, "text")?;

    let mut lists: Vec<&Vec<Value>> = Vec::new();
    if let Some(blocks) = payload.get("blocks") {
        lists.push(
            blocks
                .as_array()
                .ok_or(Violation("blocks is not a list".into()))?,
        );
    }
    for attachment in payload
        .get("attachments")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(blocks) = attachment.get("blocks") {
            lists.push(
                blocks
                    .as_array()
                    .ok_or(Violation("attachment blocks is not a list".into()))?,
            );
        }
    }
    for blocks in lists {
        if blocks.len() > MAX_BLOCKS {
            return violation(format!("{} blocks", blocks.len()));
        }
        for block in blocks {
            check_block(block)?;
        }
    }
    Ok(())
}

fn check_block(block: &Value) -> Result<(), Violation> {
    let kind = block.get("type").and_then(Value::as_str).unwrap_or("");
    match kind {
        "header" => {
            let text = block.pointer("/text/text").and_then(Value::as_str);
            let plain = block.pointer("/text/type").and_then(Value::as_str) == Some("plain_text");
            match text {
                Some(t) if plain && !t.trim().is_empty() && chars(t) <= HEADER_TEXT => Ok(()),
                _ => violation(format!("bad header {block}")),
            }
        }
        "section" => {
            let text = block.pointer("/text/text").and_then(Value::as_str);
            let fields = block.get("fields").and_then(Value::as_array);
            if text.is_none() && fields.is_none() {
                return violation("section with neither text nor fields");
            }
            if let Some(t) = text {
                if t.trim().is_empty() || chars(t) > SECTION_TEXT {
                    return violation(format!("section text of {} characters", chars(t)));
                }
                check_mrkdwn(t, "section")?;
            }
            if let Some(fields) = fields {
                if fields.is_empty() || fields.len() > MAX_FIELDS {
                    return violation(format!("{} fields in a section", fields.len()));
                }
                for field in fields {
                    let t = field.get("text").and_then(Value::as_str).unwrap_or("");
                    if t.trim().is_empty() || chars(t) > FIELD_TEXT {
                        return violation(format!("field of {} characters", chars(t)));
                    }
                    check_mrkdwn(t, "field")?;
                }
            }
            Ok(())
        }
        "context" => {
            let elements = block
                .get("elements")
                .and_then(Value::as_array)
                .map_or(&[][..], Vec::as_slice);
            if elements.is_empty() || elements.len() > CONTEXT_ELEMENTS {
                return violation(format!("{} context elements", elements.len()));
            }
            for element in elements {
                let t = element.get("text").and_then(Value::as_str).unwrap_or("");
                if t.trim().is_empty() || chars(t) > TEXT_OBJECT {
                    return violation(format!("context element of {} characters", chars(t)));
                }
                check_mrkdwn(t, "context")?;
            }
            Ok(())
        }
        "divider" => Ok(()),
        other => violation(format!("unknown block type {other:?}")),
    }
}

/// Every `<…>` control sequence in mrkdwn is one notify-slack writes itself: a date token or a
/// link to an AWS console. Anything else came from the message unescaped.
fn check_mrkdwn(text: &str, place: &str) -> Result<(), Violation> {
    for (at, _) in text.match_indices('<') {
        let rest = &text[at + 1..];
        let end = rest.find('>').unwrap_or(rest.len());
        let token = &rest[..end];
        let ours = token.starts_with("!date^") || is_console_link(token);
        if !ours {
            return violation(format!("{place} holds a control sequence <{token}>"));
        }
    }
    Ok(())
}

fn is_console_link(token: &str) -> bool {
    let url = token.split('|').next().unwrap_or("");
    let Some(rest) = url.strip_prefix("https://") else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    host.ends_with(".console.aws.amazon.com")
        || host == "console.aws.amazon.com"
        || host == "console.amazonaws.cn"
        || host == "console.amazonaws-us-gov.com"
}

fn chars(text: &str) -> usize {
    text.chars().count()
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;
    use rollout_kit::corpus::files_in;

    fn repo() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    #[test]
    fn fuzz_regressions_seeds_and_samples_hold() {
        let root = repo();
        let files = files_in(&[
            root.join("fuzz/regressions/sns_render"),
            root.join("fuzz/seeds/sns_render"),
            root.join("events/notify-slack"),
        ]);
        assert!(files.len() >= 20, "seeds missing: {}", files.len());
        let broken = rollout_kit::corpus::broken(&files, check_sns_render);
        assert!(broken.is_empty(), "{broken:#?}");
    }

    #[test]
    fn the_check_catches_what_slack_refuses() {
        let ok = serde_json::json!({"text": "hi", "attachments": [{"blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "Deployment"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "<!date^1^x|y> <https://us-east-1.console.aws.amazon.com/x|open>"}}
        ]}]});
        assert_eq!(check_payload(&ok, None), Ok(()));
        let too_long_header = serde_json::json!({"text": "hi", "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "x".repeat(151)}}
        ]});
        assert!(check_payload(&too_long_header, None).is_err());
        let forged = serde_json::json!({"text": "<!channel> hi"});
        assert!(check_payload(&forged, None).is_err());
        let phishing = serde_json::json!({"text": "<https://evil.example|console>"});
        assert!(check_payload(&phishing, Some(MENTION)).is_err());
        let mentioned = serde_json::json!({"text": "<!here> :x: failed"});
        assert_eq!(check_payload(&mentioned, Some(MENTION)), Ok(()));
        assert!(check_payload(&mentioned, None).is_err(), "not configured");
        let many = vec![serde_json::json!({"type": "divider"}); 51];
        assert!(check_payload(&serde_json::json!({"text": "hi", "blocks": many}), None).is_err());
    }

    #[test]
    fn raw_bytes_are_one_message_with_an_optional_subject() {
        let one = envelopes(b"FAILED: AWS CodeDeploy\0plain text");
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].subject.as_deref(), Some("FAILED: AWS CodeDeploy"));
        assert_eq!(one[0].message, "plain text");
        assert!(envelopes(br#"{"Records": []}"#).is_empty());
    }
}
