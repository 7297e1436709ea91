//! Anything not recognised: shown as it came, the subject or first line as the title. A JSON
//! object reads as a list of its plain fields, with its nested values folded below.

use serde_json::{Map, Value};

use crate::blocks::{Card, code_block, escape, truncate};
use crate::message::{Generic, GenericBody};
use crate::sns::Envelope;
use crate::time::slack_date;
use crate::tone::Tone;

use super::{BODY_BUDGET, View, code};

/// At most this many of an object's plain fields become Block Kit fields (two sections); the
/// rest are folded below with the nested values.
const MAX_PLAIN_FIELDS: usize = 20;

/// Characters of a key shown as a label.
const MAX_LABEL: usize = 100;

fn topic_name(arn: &str) -> &str {
    arn.rsplit(':').next().unwrap_or(arn)
}

pub(super) fn generic(g: &Generic, envelope: &Envelope) -> View {
    let icon = ":information_source:";
    let first_line = match &g.body {
        GenericBody::Text(text) => text.lines().next().unwrap_or("").to_string(),
        GenericBody::Json(_) => String::new(),
    };
    // A JSON message may say what it is in `detail-type`.
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
        GenericBody::Json(Value::Object(object)) if !object.is_empty() => {
            fold_object(&mut card, object, "More")
        }
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

/// An object's plain (scalar) fields as Block Kit fields, by key; nested values (and
/// plain ones past [`MAX_PLAIN_FIELDS`]) folded below in a code block under `heading`.
pub(super) fn fold_object(card: &mut Card, object: &Map<String, Value>, heading: &str) {
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut rest = Map::new();
    for (key, value) in object {
        match plain(value) {
            Some(text) if fields.len() < MAX_PLAIN_FIELDS => fields.push((label(key), text)),
            _ => {
                rest.insert(key.clone(), value.clone());
            }
        }
    }
    let fields: Vec<(&str, String)> = fields
        .iter()
        .map(|(label, value)| (label.as_str(), value.clone()))
        .collect();
    card.fields(&fields);
    if !rest.is_empty() {
        let rest = Value::Object(rest);
        let pretty = serde_json::to_string_pretty(&rest).unwrap_or_else(|_| rest.to_string());
        card.section(&format!(
            "*{}*\n{}",
            escape(heading),
            code_block(&pretty, BODY_BUDGET)
        ));
    }
}

/// A plain value as mrkdwn; `None` for an object or a list.
fn plain(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if s.trim().is_empty() => Some("_(empty)_".into()),
        Value::String(s) => Some(escape(s)),
        Value::Number(n) => Some(code(&n.to_string())),
        Value::Bool(b) => Some(code(&b.to_string())),
        Value::Null => Some(code("null")),
        Value::Array(items) if items.is_empty() => Some("_(none)_".into()),
        Value::Array(_) | Value::Object(_) => None,
    }
}

/// A key as a field label: escaped, without the characters that would end its bold.
fn label(key: &str) -> String {
    let label = escape(key.trim()).replace(['*', '`', '\n'], "");
    if label.is_empty() {
        "(no name)".into()
    } else {
        truncate(&label, MAX_LABEL)
    }
}
