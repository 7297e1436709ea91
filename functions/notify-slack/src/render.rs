//! A notification → the Slack payload. Pure: the same message always renders the same JSON,
//! which the snapshot tests pin.

use rollout_kit::{Outcome, RolloutDetail, RolloutEvent, ShiftDetail, ValidationDetail};
use serde_json::Value;

use crate::blocks::{Card, code_block, escape};
use crate::message::{Alarm, Deployment, Generic, GenericBody, Instance, Notification, Via};
use crate::sns::Envelope;
use crate::status::{Tone, canonical, tone, words};
use crate::time::{format_duration, slack_date};

#[derive(Debug, Clone, Default)]
pub struct RenderOptions {
    /// Prepended to failures and rollbacks, e.g. `<!here>`.
    pub mention: Option<String>,
}

/// Room for an error message or a body inside a 3,000-character section.
const BODY_BUDGET: usize = 2800;

pub fn render(note: &Notification, envelope: &Envelope, options: &RenderOptions) -> Value {
    let view = match note {
        Notification::Deployment(d) => deployment(d),
        Notification::Instance(i) => instance(i),
        Notification::TriggerSetup { trigger, text } => trigger_setup(trigger.as_deref(), text),
        Notification::Alarm(a) => alarm(a),
        Notification::Rollout(r) => rollout(r),
        Notification::Generic(g) => generic(g, envelope),
    };
    let mut line = String::new();
    if view.mention
        && let Some(mention) = &options.mention
    {
        line.push_str(mention);
        line.push(' ');
    }
    line.push_str(&view.line);
    view.card.into_payload(&line, color(view.tone))
}

/// What each kind renders to before the shared wrapping.
struct View {
    tone: Tone,
    mention: bool,
    /// The visible first line (mrkdwn, escaped).
    line: String,
    card: Card,
}

fn color(tone: Tone) -> &'static str {
    match tone {
        Tone::Good => "#2eb67d",
        Tone::Bad => "#e01e5a",
        Tone::Warning => "#ecb22e",
        Tone::Progress => "#36c5f0",
        Tone::Neutral => "#9e9e9e",
    }
}

fn emoji(status: &str) -> &'static str {
    match status {
        "SUCCEEDED" | "OK" => ":white_check_mark:",
        "READY" => ":large_green_circle:",
        "FAILED" => ":x:",
        "ALARM" => ":rotating_light:",
        "STOPPED" => ":octagonal_sign:",
        "ROLLED_BACK" => ":rewind:",
        "CREATED" | "QUEUED" => ":rocket:",
        "IN_PROGRESS" | "BAKING" | "PENDING" => ":hourglass_flowing_sand:",
        "SKIPPED" => ":fast_forward:",
        _ => ":grey_question:",
    }
}

fn is_plain_id(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
}

/// The console origin for a region's partition, or `None` where we do not know it (ISO
/// partitions) or the region text is not a region code.
pub fn console_base(region: &str) -> Option<String> {
    let valid = !region.is_empty()
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid {
        return None;
    }
    if region.starts_with("cn-") {
        Some("https://console.amazonaws.cn".into())
    } else if region.starts_with("us-gov-") {
        Some("https://console.amazonaws-us-gov.com".into())
    } else if region.contains("-iso") {
        None
    } else {
        Some(format!("https://{region}.console.aws.amazon.com"))
    }
}

pub fn deployment_url(region: Option<&str>, deployment_id: &str) -> Option<String> {
    let region = region?;
    if !is_plain_id(deployment_id) {
        return None;
    }
    Some(format!(
        "{}/codesuite/codedeploy/deployments/{deployment_id}?region={region}",
        console_base(region)?
    ))
}

fn alarm_url(region: Option<&str>, name: &str) -> Option<String> {
    let region = region?;
    Some(format!(
        "{}/cloudwatch/home?region={region}#alarmsV2:alarm/{}",
        console_base(region)?,
        percent_encode(name)
    ))
}

fn percent_encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn link(url: Option<String>, label: &str) -> String {
    match url {
        Some(url) => format!("<{url}|{}>", escape(label)),
        None => escape(label),
    }
}

fn code(text: &str) -> String {
    format!("`{}`", escape(&text.replace('`', "'")))
}

fn deployment_link(region: Option<&str>, id: &str) -> String {
    link(deployment_url(region, id), id)
}

fn region_and_account(region: Option<&str>, account: Option<&str>) -> Vec<String> {
    let mut items = Vec::new();
    if let Some(region) = region {
        items.push(format!("Region {}", code(region)));
    }
    if let Some(account) = account {
        items.push(format!("Account {}", code(account)));
    }
    items
}

fn deployment(d: &Deployment) -> View {
    let is_rollback = d.rollback_of.is_some();
    let mut tone = tone(&d.status);
    let mut icon = emoji(&d.status);
    if is_rollback && tone != Tone::Bad {
        tone = Tone::Warning;
        icon = ":rewind:";
    }
    let mention = matches!(d.status.as_str(), "FAILED" | "STOPPED") || is_rollback;
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
    match (d.via, &d.trigger) {
        (Some(Via::EventBridge), _) => context.push("via EventBridge".into()),
        (_, Some(trigger)) => context.push(format!("trigger {}", code(trigger))),
        _ => {}
    }
    if let Some(url) = d
        .deployment_id
        .as_deref()
        .and_then(|id| deployment_url(region, id))
    {
        context.push(format!("<{url}|Open in the CodeDeploy console>"));
    }
    card.context(&context);
    View {
        tone,
        mention,
        line,
        card,
    }
}

/// `i-496589f7` from `arn:aws:ec2:…:instance/i-496589f7`.
fn short_instance(id: &str) -> &str {
    id.rsplit('/').next().unwrap_or(id)
}

fn instance(i: &Instance) -> View {
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
    match (i.via, &i.trigger) {
        (Some(Via::EventBridge), _) => context.push("via EventBridge".into()),
        (_, Some(trigger)) => context.push(format!("trigger {}", code(trigger))),
        _ => {}
    }
    card.context(&context);
    View {
        tone: tone(&i.status),
        mention: i.status == "FAILED",
        line,
        card,
    }
}

fn trigger_setup(trigger: Option<&str>, text: &str) -> View {
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
        mention: false,
        line,
        card,
    }
}

fn alarm(a: &Alarm) -> View {
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
    if let Some(description) = &a.description {
        card.section(&escape(description));
    }
    if let Some(reason) = &a.reason {
        card.section(&format!("*Reason*\n{}", escape(reason)));
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
    View {
        tone: tone(&a.state),
        mention: a.state == "ALARM",
        line,
        card,
    }
}

/// `shop-blue` from a target-group ARN, `shop-alb listener` from a listener ARN.
fn short_resource(arn: &str) -> String {
    let resource = arn.splitn(6, ':').nth(5).unwrap_or(arn);
    let parts: Vec<&str> = resource.split('/').collect();
    match parts.as_slice() {
        ["targetgroup", name, ..] => (*name).to_string(),
        ["listener", _, lb, ..] => format!("{lb} listener"),
        ["listener-rule", _, lb, ..] => format!("{lb} listener rule"),
        _ => resource.to_string(),
    }
}

fn progress_bar(percent: f64) -> String {
    let filled = (percent.clamp(0.0, 100.0) / 10.0).round() as usize;
    format!("{}{}", "▓".repeat(filled), "░".repeat(10 - filled))
}

fn percent(value: f64) -> String {
    if value.fract() == 0.0 {
        format!("{value:.0}%")
    } else {
        format!("{value:.1}%")
    }
}

fn rollout(event: &RolloutEvent) -> View {
    let status = canonical(&format!("{:?}", event.outcome));
    let icon = emoji(&status);
    let mention = matches!(event.outcome, Outcome::Failed | Outcome::RolledBack);
    let region = event.region.as_deref();
    let mut card = Card::default();
    let title = match &event.detail {
        RolloutDetail::Validation(v) => {
            let verdict = match event.outcome {
                Outcome::Succeeded => "passed".to_string(),
                other => words(&canonical(&format!("{other:?}"))),
            };
            format!("Validation {verdict}: {}", v.deployment_id)
        }
        RolloutDetail::Shift(s) => format!(
            "{} on green ({}, {})",
            percent(s.green_percent),
            s.step_label(),
            words(&canonical(s.status.as_str()))
        ),
    };
    card.header(&format!("{icon} {title}"));
    let line = format!("{icon} {}", escape(&event.summary));
    card.section(&format!("*{}*", escape(&event.summary)));
    if let Some(reason) = &event.reason {
        card.section(&format!("*Why*\n{}", escape(reason)));
    }
    match &event.detail {
        RolloutDetail::Validation(v) => validation_blocks(&mut card, v, region),
        RolloutDetail::Shift(s) => shift_blocks(&mut card, s),
    }
    let mut context = vec![format!("from {}", code(&event.source))];
    context.extend(region_and_account(region, None));
    if let Ok(time) = i64::try_from(event.time)
        && time > 0
    {
        context.push(slack_date(time));
    }
    if let RolloutDetail::Validation(v) = &event.detail
        && let Some(url) = deployment_url(region, &v.deployment_id)
    {
        context.push(format!("<{url}|Open in the CodeDeploy console>"));
    }
    card.context(&context);
    View {
        tone: tone(&status),
        mention,
        line,
        card,
    }
}

fn validation_blocks(card: &mut Card, v: &ValidationDetail, region: Option<&str>) {
    let mut fields: Vec<(&str, String)> = Vec::new();
    if let Some(app) = &v.application {
        fields.push(("Application", escape(app)));
    }
    if let Some(group) = &v.deployment_group {
        fields.push(("Deployment group", escape(group)));
    }
    fields.push(("Deployment", deployment_link(region, &v.deployment_id)));
    fields.push(("Hook status", code(v.hook_status.as_str())));
    if let Some(target) = &v.target {
        fields.push(("Target", code(target)));
    }
    fields.push((
        "Requests",
        format!("{} ({} passed, {} failed)", v.requests, v.passed, v.failed),
    ));
    let latency: Vec<String> = [
        ("p50", v.p50_ms),
        ("p95", v.p95_ms),
        ("p99", v.p99_ms),
        ("max", v.max_ms),
    ]
    .iter()
    .filter_map(|(name, ms)| ms.map(|ms| format!("{name} {ms} ms")))
    .collect();
    if !latency.is_empty() {
        fields.push(("Latency", latency.join(" · ")));
    }
    card.fields(&fields);
    if !v.failures.is_empty() {
        let list: Vec<String> = v
            .failures
            .iter()
            .map(|f| format!("• {}", escape(f)))
            .collect();
        card.section(&format!("*Failures*\n{}", list.join("\n")));
    }
}

fn shift_blocks(card: &mut Card, s: &ShiftDetail) {
    let mut fields: Vec<(&str, String)> = vec![
        (
            "Step",
            format!("{} of {}", s.step.min(s.total_steps), s.total_steps),
        ),
        (
            "Green",
            format!(
                "{} {}",
                progress_bar(s.green_percent),
                percent(s.green_percent)
            ),
        ),
        ("Strategy", escape(&s.strategy)),
        ("Status", code(s.status.as_str())),
    ];
    if let Some(wait) = s.next_wait_seconds {
        fields.push(("Next step", format!("in {}", format_duration(wait as i64))));
    }
    fields.push(("Traffic", code(&short_resource(&s.target_arn))));
    if !s.blue_target_group.is_empty() {
        fields.push(("Blue", code(&short_resource(&s.blue_target_group))));
    }
    if !s.green_target_group.is_empty() {
        fields.push((
            "Green target group",
            code(&short_resource(&s.green_target_group)),
        ));
    }
    card.fields(&fields);
}

fn topic_name(arn: &str) -> &str {
    arn.rsplit(':').next().unwrap_or(arn)
}

fn generic(g: &Generic, envelope: &Envelope) -> View {
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
        mention: false,
        line,
        card,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::classify;
    use serde_json::json;

    fn envelope(message: &str) -> Envelope {
        Envelope {
            index: 1,
            message_id: "m".into(),
            topic_arn: "arn:aws:sns:us-east-1:123456789012:deployments".into(),
            subject: None,
            timestamp: Some(1_665_736_726),
            message: message.into(),
        }
    }

    fn render_message(message: &str, mention: Option<&str>) -> Value {
        let env = envelope(message);
        let note = classify(message, None, &env.topic_arn);
        render(
            &note,
            &env,
            &RenderOptions {
                mention: mention.map(str::to_string),
            },
        )
    }

    fn all_text(payload: &Value) -> String {
        payload.to_string()
    }

    #[test]
    fn failed_deployment_mentions_and_links_by_partition() {
        for (region, origin) in [
            ("eu-west-1", "https://eu-west-1.console.aws.amazon.com/"),
            ("cn-north-1", "https://console.amazonaws.cn/"),
            ("us-gov-west-1", "https://console.amazonaws-us-gov.com/"),
        ] {
            let message = json!({"region": region, "deploymentId": "d-ABC", "status": "FAILED",
                                 "applicationName": "shop"})
            .to_string();
            let payload = render_message(&message, Some("<!here>"));
            let text = payload["text"].as_str().unwrap();
            assert!(text.starts_with("<!here> :x:"), "{text}");
            assert_eq!(payload["attachments"][0]["color"], "#e01e5a");
            let expected =
                format!("{origin}codesuite/codedeploy/deployments/d-ABC?region={region}");
            assert!(
                all_text(&payload).contains(&expected),
                "{region}: {payload}"
            );
        }
    }

    #[test]
    fn success_has_no_mention() {
        let message = json!({"region": "us-east-1", "deploymentId": "d-1", "status": "SUCCEEDED"})
            .to_string();
        let payload = render_message(&message, Some("<!here>"));
        assert!(!payload["text"].as_str().unwrap().contains("<!here>"));
        assert_eq!(payload["attachments"][0]["color"], "#2eb67d");
    }

    #[test]
    fn rollback_names_the_original() {
        let message = json!({"region": "us-east-1", "deploymentId": "d-NEW", "status": "SUCCEEDED",
            "rollbackInformation": "{\"RollbackTriggeringDeploymentId\":\"d-OLD\"}"})
        .to_string();
        let payload = render_message(&message, Some("<!here>"));
        let text = payload["text"].as_str().unwrap();
        assert!(text.contains("rollback of `d-OLD`"), "{text}");
        assert!(text.starts_with("<!here> :rewind:"), "{text}");
    }

    #[test]
    fn hostile_text_cannot_mention_or_link() {
        let message = json!({"deploymentId": "d-1", "status": "FAILED",
            "applicationName": "<!channel>",
            "errorInformation": {"ErrorCode": "X", "ErrorMessage": "<https://evil|click>"}})
        .to_string();
        let mut payload = render_message(&message, None);
        // Plain-text headers show text literally; only mrkdwn parses mentions and links.
        payload["attachments"][0]["blocks"]
            .as_array_mut()
            .unwrap()
            .retain(|b| b["type"] != "header");
        let text = all_text(&payload);
        assert!(!text.contains("<!channel>"), "{text}");
        assert!(!text.contains("<https://evil"), "{text}");
    }

    #[test]
    fn no_link_for_unknown_partitions_or_odd_ids() {
        assert_eq!(console_base("us-iso-east-1"), None);
        assert_eq!(console_base("Asia Pacific (Tokyo)"), None);
        assert_eq!(deployment_url(Some("us-east-1"), "d-1|x"), None);
    }

    #[test]
    fn huge_error_message_is_truncated_and_marked() {
        let message = json!({"deploymentId": "d-1", "status": "FAILED",
            "errorInformation": {"ErrorCode": "X", "ErrorMessage": "e".repeat(10_000)}})
        .to_string();
        let payload = render_message(&message, None);
        assert!(all_text(&payload).contains(crate::blocks::TRUNCATED));
    }

    #[test]
    fn shift_resources_are_short() {
        assert_eq!(
            short_resource(
                "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/shop-blue/0123456789abcdef"
            ),
            "shop-blue"
        );
        assert_eq!(
            short_resource(
                "arn:aws:elasticloadbalancing:us-east-1:1:listener/app/shop-alb/50dc6c495c0c9188/f2f7dc8efc522ab2"
            ),
            "shop-alb listener"
        );
        assert_eq!(progress_bar(20.0), "▓▓░░░░░░░░");
        assert_eq!(percent(12.5), "12.5%");
    }

    #[test]
    fn generic_text_and_empty() {
        let payload = render_message("just <text>", None);
        assert!(all_text(&payload).contains("just &lt;text&gt;"));
        let payload = render_message("   ", None);
        assert!(all_text(&payload).contains("empty message"));
    }
}
