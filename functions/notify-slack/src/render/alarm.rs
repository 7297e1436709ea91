//! A CloudWatch alarm changing state.

use crate::blocks::{Card, escape};
use crate::message::Alarm;
use crate::time::slack_date;
use crate::tone::{Tone, tone};

use super::console::alarm_url;
use super::{View, code};

pub(super) fn alarm(a: &Alarm) -> View {
    let icon = match a.state.as_str() {
        "ALARM" => ":rotating_light:",
        "OK" => ":white_check_mark:",
        _ => ":grey_question:",
    };
    let mut card = Card::default();
    card.header(&format!("{icon} {}: {}", a.state, a.name));
    let mut line = format!("{icon} Alarm *{}* is {}", escape(&a.name), code(&a.state));
    if let Some(old) = &a.old_state {
        line.push_str(&format!(" (was {})", code(old)));
    }
    if a.suppressed_by.is_some() {
        line.push_str("; its actions are suppressed");
    }
    if let Some(description) = &a.description {
        card.section(&escape(description));
    }
    if let Some(reason) = &a.reason {
        card.section(&format!("*Reason*\n{}", escape(reason)));
    }
    if let Some(by) = &a.suppressed_by {
        let mut text = format!("*Actions suppressed* by {}", code(by));
        if let Some(suppressor) = &a.suppressor {
            text.push_str(&format!(" (suppressor alarm *{}*)", escape(suppressor)));
        }
        if let Some(reason) = &a.suppressed_reason {
            text.push_str(&format!("\n{}", escape(reason)));
        }
        card.section(&text);
    }
    if let Some(rule) = &a.rule {
        card.section(&format!("*Rule* {}", code(rule)));
    }
    let mut fields: Vec<(&str, String)> = Vec::new();
    let transition = match &a.old_state {
        Some(old) => format!("{} → {}", code(old), code(&a.state)),
        None => code(&a.state),
    };
    fields.push(("State", transition));
    if let Some(metric) = &a.metric {
        fields.push(("Metric", escape(metric)));
    }
    if !a.dimensions.is_empty() {
        let dimensions: Vec<String> = a
            .dimensions
            .iter()
            .map(|(name, value)| format!("{} {}", escape(name), code(value)))
            .collect();
        fields.push(("Dimensions", dimensions.join("\n")));
    }
    if !a.triggered_by.is_empty() {
        let names: Vec<String> = a.triggered_by.iter().map(|n| code(n)).collect();
        fields.push(("Triggered by", names.join(", ")));
    }
    if a.rule.is_some()
        && a.suppressed_by.is_none()
        && let Some(suppressor) = &a.suppressor
    {
        fields.push(("Suppressor alarm", escape(suppressor)));
    }
    match (&a.region_name, &a.region) {
        (Some(name), Some(region)) => {
            fields.push(("Region", format!("{} ({})", escape(name), code(region))))
        }
        (Some(name), None) => fields.push(("Region", escape(name))),
        (None, Some(region)) => fields.push(("Region", code(region))),
        (None, None) => {}
    }
    if let Some(account) = &a.account {
        fields.push(("Account", code(account)));
    }
    card.fields(&fields);
    let mut context = Vec::new();
    if let Some(at) = a.changed {
        context.push(slack_date(at));
    }
    if let Some(url) = alarm_url(a.region.as_deref(), &a.name) {
        context.push(format!("<{url}|Open in CloudWatch>"));
    }
    card.context(&context);
    // Suppressed actions mean someone expects this (a maintenance window, a known outage).
    let tone = match tone(&a.state) {
        Tone::Bad if a.suppressed_by.is_some() => Tone::Warning,
        other => other,
    };
    View { tone, line, card }
}
