//! CodeDeploy's own notifications, from a trigger or EventBridge: a deployment (or rollback), an
//! instance, a digest of many instances of one deployment, and the message a new trigger sends
//! once.

use crate::blocks::{Card, code_block, escape};
use crate::message::{Deployment, Instance, Via};
use crate::status::words;
use crate::time::{format_duration, slack_date};
use crate::tone::{Tone, emoji, tone};

use super::console::deployment_url;
use super::{BODY_BUDGET, View, code, deployment_link, region_and_account};

pub(super) fn deployment(d: &Deployment) -> View {
    let is_rollback = d.rollback_of.is_some();
    let mut tone = tone(&d.status);
    let mut icon = emoji(&d.status);
    if is_rollback && tone != Tone::Bad {
        tone = Tone::Warning;
        icon = ":rewind:";
    }
    let what = if is_rollback {
        "Rollback"
    } else {
        "Deployment"
    };
    let region = d.region.as_deref();
    let id = d.deployment_id.as_deref().unwrap_or("unknown deployment");
    let duration = match (d.created, d.completed) {
        (Some(start), Some(end)) if end >= start => Some(format_duration(end - start)),
        _ => None,
    };

    let subject = match &d.application {
        Some(app) => format!("{what} {}: {app}", words(&d.status)),
        None => format!("{what} {id} {}", words(&d.status)),
    };
    let mut card = Card::default();
    card.header(&format!("{icon} {subject}"));

    let mut line = format!("{icon} ");
    if let Some(app) = &d.application {
        line.push_str(&format!("*{}*", escape(app)));
        if let Some(group) = &d.deployment_group {
            line.push_str(&format!(" / {}", escape(group)));
        }
        line.push_str(": ");
    }
    line.push_str(&format!("deployment {}", code(id)));
    if let Some(original) = &d.rollback_of {
        line.push_str(&format!(" (rollback of {})", code(original)));
    }
    line.push_str(&format!(" {}", escape(&words(&d.status))));
    if let Some(duration) = &duration {
        line.push_str(&format!(" after {duration}"));
    }

    let mut fields: Vec<(&str, String)> = Vec::new();
    if let Some(app) = &d.application {
        fields.push(("Application", escape(app)));
    }
    if let Some(group) = &d.deployment_group {
        fields.push(("Deployment group", escape(group)));
    }
    fields.push(("Deployment", deployment_link(region, id)));
    fields.push((
        "Status",
        format!("{} {}", emoji(&d.status), code(&d.status)),
    ));
    if let Some(duration) = duration {
        fields.push(("Duration", duration));
    } else if let Some(start) = d.created {
        fields.push(("Started", slack_date(start)));
    }
    if let Some(original) = &d.rollback_of {
        fields.push(("Rollback of", deployment_link(region, original)));
    }
    if let Some(by) = &d.rolled_back_by {
        fields.push(("Rolled back by", deployment_link(region, by)));
    }
    if !d.overview.is_empty() {
        let counts: Vec<String> = d
            .overview
            .iter()
            .map(|(name, n)| format!("{} {n}", escape(name)))
            .collect();
        fields.push(("Targets", counts.join(" · ")));
    }
    card.fields(&fields);

    if d.error_code.is_some() || d.error_message.is_some() {
        let mut text = String::from("*Error*");
        if let Some(error_code) = &d.error_code {
            text.push_str(&format!(" {}", code(error_code)));
        }
        if let Some(message) = &d.error_message {
            text.push('\n');
            text.push_str(&code_block(message, BODY_BUDGET));
        }
        card.section(&text);
    }
    if let Some(message) = &d.rollback_message {
        card.section(&format!("*Rollback*\n{}", escape(message)));
    }

    let mut context = region_and_account(region, d.account.as_deref());
    if let (Some(start), Some(end)) = (d.created, d.completed) {
        context.push(format!("{} → {}", slack_date(start), slack_date(end)));
    }
    if let Some(at) = d.event_time {
        context.push(slack_date(at));
    }
    context.extend(origin(d.via, d.trigger.as_deref()));
    if let Some(url) = d
        .deployment_id
        .as_deref()
        .and_then(|id| deployment_url(region, id))
    {
        context.push(format!("<{url}|Open in the CodeDeploy console>"));
    }
    card.context(&context);
    View { tone, line, card }
}

/// `i-496589f7` from `arn:aws:ec2:…:instance/i-496589f7`.
fn short_instance(id: &str) -> &str {
    id.rsplit('/').next().unwrap_or(id)
}

pub(super) fn instance(i: &Instance) -> View {
    let icon = emoji(&i.status);
    let region = i.region.as_deref();
    let instance = i
        .instance_id
        .as_deref()
        .map(short_instance)
        .unwrap_or("unknown instance");
    let mut card = Card::default();
    card.header(&format!("{icon} Instance {}: {instance}", words(&i.status)));
    let mut line = format!("{icon} Instance {}", code(instance));
    if let Some(id) = &i.deployment_id {
        line.push_str(&format!(" in deployment {}", code(id)));
    }
    line.push_str(&format!(" {}", escape(&words(&i.status))));

    let mut fields: Vec<(&str, String)> = vec![("Instance", code(instance))];
    if let Some(id) = &i.deployment_id {
        fields.push(("Deployment", deployment_link(region, id)));
    }
    fields.push((
        "Status",
        format!("{} {}", emoji(&i.status), code(&i.status)),
    ));
    if let Some(app) = &i.application {
        fields.push(("Application", escape(app)));
    }
    if let Some(group) = &i.deployment_group {
        fields.push(("Deployment group", escape(group)));
    }
    card.fields(&fields);

    if !i.lifecycle.is_empty() {
        let lines: Vec<String> = i
            .lifecycle
            .iter()
            .map(|step| {
                let took = match (step.started, step.ended) {
                    (Some(start), Some(end)) if end >= start => {
                        format!(" ({})", format_duration(end - start))
                    }
                    _ => String::new(),
                };
                format!(
                    "{} {} {}{took}",
                    emoji(&step.status),
                    code(&step.name),
                    escape(&words(&step.status))
                )
            })
            .collect();
        card.section(&format!("*Lifecycle events*\n{}", lines.join("\n")));
    }

    let mut context = region_and_account(region, i.account.as_deref());
    if let Some(at) = i.updated {
        context.push(slack_date(at));
    }
    context.extend(origin(i.via, i.trigger.as_deref()));
    card.context(&context);
    View {
        tone: tone(&i.status),
        line,
        card,
    }
}

pub(super) fn trigger_setup(trigger: Option<&str>, text: &str) -> View {
    let mut card = Card::default();
    card.header(":bell: CodeDeploy notifications set up");
    let line = match trigger {
        Some(name) => format!(
            ":bell: CodeDeploy trigger {} now posts deployment notifications here",
            code(name)
        ),
        None => ":bell: A CodeDeploy trigger now posts deployment notifications here".into(),
    };
    card.section(&line);
    if !text.is_empty() {
        card.context(&[escape(text)]);
    }
    View {
        tone: Tone::Good,
        line,
        card,
    }
}

/// Where the message came from, for the context line: EventBridge, or the named trigger.
fn origin(via: Option<Via>, trigger: Option<&str>) -> Option<String> {
    match (via, trigger) {
        (Some(Via::EventBridge), _) => Some("via EventBridge".into()),
        (_, Some(trigger)) => Some(format!("trigger {}", code(trigger))),
        _ => None,
    }
}

/// Failed instances named in a digest, each with the step that failed; the rest are counted.
const FAILED_NAMED: usize = 10;
/// Instances of any other status named in a digest; the rest are counted.
const OTHERS_NAMED: usize = 20;

/// Instance events of one deployment as one message: counts per status, the instances in the
/// worst status first (failed ones with the step that failed), each list bounded. An instance
/// reported more than once counts at its latest status.
pub(super) fn digest(events: &[&Instance]) -> View {
    let latest = latest_per_instance(events);
    let mut by_status: Vec<(&str, Vec<&Instance>)> = Vec::new();
    for i in &latest {
        match by_status.iter_mut().find(|(s, _)| *s == i.status) {
            Some((_, list)) => list.push(i),
            None => by_status.push((i.status.as_str(), vec![i])),
        }
    }
    by_status.sort_by_key(|(status, _)| (severity(tone(status)), *status));
    let worst = by_status.first().map_or("UNKNOWN", |(status, _)| *status);
    let icon = emoji(worst);
    let first = events.first().copied();
    let field = |get: fn(&Instance) -> Option<&String>| events.iter().find_map(|i| get(i));
    let deployment = field(|i| i.deployment_id.as_ref()).map_or("unknown deployment", |s| s);
    let application = field(|i| i.application.as_ref());
    let group = field(|i| i.deployment_group.as_ref());
    let region = field(|i| i.region.as_ref()).map(String::as_str);
    let account = field(|i| i.account.as_ref()).map(String::as_str);

    let counts: Vec<String> = by_status
        .iter()
        .map(|(status, list)| format!("{} {}", list.len(), words(status)))
        .collect();
    let n = latest.len();
    let mut card = Card::default();
    let subject = application.map_or_else(|| deployment.to_string(), |app| app.clone());
    card.header(&format!(
        "{icon} {subject}: {n} instances, {}",
        counts.join(", ")
    ));

    let mut line = format!("{icon} ");
    if let Some(app) = application {
        line.push_str(&format!("*{}*", escape(app)));
        if let Some(group) = group {
            line.push_str(&format!(" / {}", escape(group)));
        }
        line.push_str(": ");
    }
    line.push_str(&format!(
        "{n} instances of deployment {}: {}",
        code(deployment),
        escape(&counts.join(", "))
    ));

    let mut fields: Vec<(&str, String)> = Vec::new();
    if let Some(app) = application {
        fields.push(("Application", escape(app)));
    }
    if let Some(group) = group {
        fields.push(("Deployment group", escape(group)));
    }
    fields.push(("Deployment", deployment_link(region, deployment)));
    let tally: Vec<String> = by_status
        .iter()
        .map(|(status, list)| format!("{} {} {}", emoji(status), code(status), list.len()))
        .collect();
    fields.push(("Instances", tally.join(" · ")));
    card.fields(&fields);

    for (status, list) in &by_status {
        let title = format!(
            "*{} {} ({})*",
            emoji(status),
            escape(&words(status)),
            list.len()
        );
        let body = if tone(status) == Tone::Bad {
            let lines: Vec<String> = list
                .iter()
                .take(FAILED_NAMED)
                .map(|i| {
                    let mut text = code(instance_name(i));
                    if let Some(step) = i.lifecycle.iter().find(|s| tone(&s.status) == Tone::Bad) {
                        text.push_str(&format!(
                            " at {} ({})",
                            code(&step.name),
                            escape(&words(&step.status))
                        ));
                    }
                    text
                })
                .chain(more(list.len(), FAILED_NAMED))
                .collect();
            lines.join("\n")
        } else {
            let names: Vec<String> = list
                .iter()
                .take(OTHERS_NAMED)
                .map(|i| code(instance_name(i)))
                .chain(more(list.len(), OTHERS_NAMED))
                .collect();
            names.join(", ")
        };
        card.section(&format!("{title}\n{body}"));
    }

    let mut context = region_and_account(region, account);
    let times: Vec<i64> = events.iter().filter_map(|i| i.updated).collect();
    if let (Some(from), Some(to)) = (times.iter().min(), times.iter().max()) {
        if from == to {
            context.push(slack_date(*from));
        } else {
            context.push(format!("{} → {}", slack_date(*from), slack_date(*to)));
        }
    }
    context.push(format!("{} instance events in one message", events.len()));
    context.extend(first.and_then(|i| origin(i.via, i.trigger.as_deref())));
    if let Some(url) = deployment_url(region, deployment) {
        context.push(format!("<{url}|Open in the CodeDeploy console>"));
    }
    card.context(&context);
    View {
        tone: tone(worst),
        line,
        card,
    }
}

/// Each instance once, at its latest event (by time, then arrival), in order of first report.
/// Events that name no instance are each their own.
fn latest_per_instance<'a>(events: &[&'a Instance]) -> Vec<&'a Instance> {
    let mut latest: Vec<&Instance> = Vec::new();
    let mut seen: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for event in events {
        let Some(id) = event.instance_id.as_deref() else {
            latest.push(event);
            continue;
        };
        match seen.get(id) {
            Some(&at) if event.updated >= latest[at].updated => latest[at] = event,
            Some(_) => {}
            None => {
                seen.insert(id, latest.len());
                latest.push(event);
            }
        }
    }
    latest
}

fn instance_name(i: &Instance) -> &str {
    i.instance_id
        .as_deref()
        .map(short_instance)
        .unwrap_or("unknown instance")
}

/// `and N more` when a list of `total` was cut at `shown`.
fn more(total: usize, shown: usize) -> Option<String> {
    (total > shown).then(|| format!("and {} more", total - shown))
}

/// Worst first: what needs a look leads the digest.
fn severity(tone: Tone) -> u8 {
    match tone {
        Tone::Bad => 0,
        Tone::Warning => 1,
        Tone::Progress => 2,
        Tone::Neutral => 3,
        Tone::Good => 4,
    }
}
