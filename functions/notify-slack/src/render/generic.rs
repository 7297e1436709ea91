//! Anything not recognised: shown as it came, the subject or first line as the title.

use serde_json::Value;

use crate::blocks::{Card, code_block, escape};
use crate::message::{Generic, GenericBody};
use crate::sns::Envelope;
use crate::time::slack_date;
use crate::tone::Tone;

use super::{BODY_BUDGET, View, code};

fn topic_name(arn: &str) -> &str {
    arn.rsplit(':').next().unwrap_or(arn)
}

pub(super) fn generic(g: &Generic, envelope: &Envelope) -> View {
    let icon = ":information_source:";
    let first_line = match &g.body {
        GenericBody::Text(text) => text.lines().next().unwrap_or("").to_string(),
        GenericBody::Json(_) => String::new(),
    };
    // EventBridge events from other services say what they are in `detail-type`.
    let detail_type = match &g.body {
        GenericBody::Json(value) => value
            .get("detail-type")
            .and_then(Value::as_str)
            .map(str::to_string),
        GenericBody::Text(_) => None,
    };
    let title = g
        .subject
        .clone()
        .filter(|s| !s.trim().is_empty())
        .or(detail_type)
        .or_else(|| (!first_line.trim().is_empty()).then(|| first_line.clone()))
        .unwrap_or_else(|| "Notification".into());
    let mut card = Card::default();
    card.header(&format!("{icon} {title}"));
    let line = format!("{icon} {}", escape(&title));
    match &g.body {
        GenericBody::Text(text) if text.trim().is_empty() => card.section("_(empty message)_"),
        GenericBody::Text(text) => card.section(&escape(text)),
        GenericBody::Json(value) => {
            let pretty = serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string());
            card.section(&code_block(&pretty, BODY_BUDGET));
        }
    }
    let mut context = Vec::new();
    if !envelope.topic_arn.is_empty() {
        context.push(format!("topic {}", code(topic_name(&envelope.topic_arn))));
    }
    if let Some(at) = envelope.timestamp {
        context.push(slack_date(at));
    }
    card.context(&context);
    View {
        tone: Tone::Neutral,
        line,
        card,
    }
}
