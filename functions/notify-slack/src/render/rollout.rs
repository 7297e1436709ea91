//! The rollout events this project publishes: validate-traffic's verdict and each shift-traffic
//! step.

use rollout_kit::{
    ApprovalDetail, Outcome, RolloutDetail, RolloutEvent, ScaleDownDetail, ShiftDetail,
    ValidationDetail,
};

use crate::blocks::{Card, code_block, escape};
use crate::status::{canonical, words};
use crate::time::{format_duration, slack_date};
use crate::tone::{emoji, tone};

use super::console::{deployment_url, is_codedeploy_id};
use super::{View, code, deployment_link, region_and_account};

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

pub(super) fn rollout(event: &RolloutEvent) -> View {
    let status = canonical(&format!("{:?}", event.outcome));
    let icon = emoji(&status);
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
        RolloutDetail::Approval(a) => format!(
            "Approval needed: {} on green, {} next",
            percent(a.green_percent),
            percent(a.next_green_percent)
        ),
        RolloutDetail::ScaleDown(d) => match (d.scaled, event.outcome) {
            (true, _) => format!(
                "Blue scaled in: {} to {}",
                d.auto_scaling_group, d.desired_after
            ),
            (false, Outcome::Succeeded) => {
                format!("Blue already scaled in: {}", d.auto_scaling_group)
            }
            (false, _) => format!("Blue not scaled in: {}", d.auto_scaling_group),
        },
    };
    // A pause waits for a person: its own sign, whatever the outcome's.
    let icon = match &event.detail {
        RolloutDetail::Approval(_) => ":raised_hand:",
        _ => icon,
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
        RolloutDetail::Approval(a) => approval_blocks(&mut card, a),
        RolloutDetail::ScaleDown(d) => scale_down_blocks(&mut card, d),
    }
    let mut context = vec![format!("from {}", code(&event.source))];
    context.extend(region_and_account(region, None));
    if let Ok(time) = i64::try_from(event.time)
        && time > 0
    {
        context.push(slack_date(time));
    }
    if let RolloutDetail::Validation(v) = &event.detail
        && is_codedeploy_id(&v.deployment_id)
        && let Some(url) = deployment_url(region, &v.deployment_id)
    {
        context.push(format!("<{url}|Open in the CodeDeploy console>"));
    }
    card.context(&context);
    View {
        tone: tone(&status),
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
    pair_fields(&mut fields, &s.blue_target_group, &s.green_target_group);
    card.fields(&fields);
}

/// Blue's and green's target groups, when the event names them.
fn pair_fields(fields: &mut Vec<(&str, String)>, blue: &str, green: &str) {
    if !blue.is_empty() {
        fields.push(("Blue", code(&short_resource(blue))));
    }
    if !green.is_empty() {
        fields.push(("Green target group", code(&short_resource(green))));
    }
}

/// The pause, then the two commands, each in a code block a person copies as it is.
fn approval_blocks(card: &mut Card, a: &ApprovalDetail) {
    let mut fields: Vec<(&str, String)> = vec![
        (
            "Step",
            format!("{} of {}", a.step.min(a.total_steps), a.total_steps),
        ),
        (
            "Green",
            format!(
                "{} {} → {}",
                progress_bar(a.green_percent),
                percent(a.green_percent),
                percent(a.next_green_percent)
            ),
        ),
        ("Strategy", escape(&a.strategy)),
        (
            "Waits",
            format!(
                "{}, then {}",
                format_duration(i64::try_from(a.timeout_seconds).unwrap_or(i64::MAX)),
                code(&a.on_timeout)
            ),
        ),
        ("Traffic", code(&short_resource(&a.target_arn))),
    ];
    if !a.green_target_group.is_empty() {
        fields.push((
            "Green target group",
            code(&short_resource(&a.green_target_group)),
        ));
    }
    card.fields(&fields);
    // Each command alone in its block: a task token is long, and a section holds 3,000 characters.
    card.section(&format!(
        "*Approve*\n{}",
        code_block(&a.approve_command, 2_800)
    ));
    card.section(&format!(
        "*Reject (rolls back)*\n{}",
        code_block(&a.reject_command, 2_800)
    ));
}

fn scale_down_blocks(card: &mut Card, d: &ScaleDownDetail) {
    let size = match d.desired_before {
        Some(before) => format!("{before} → {}", d.desired_after),
        None => format!("→ {}", d.desired_after),
    };
    let mut fields: Vec<(&str, String)> = vec![
        ("Auto Scaling group", code(&d.auto_scaling_group)),
        ("Desired capacity", size),
        ("Traffic", code(&short_resource(&d.target_arn))),
    ];
    pair_fields(&mut fields, &d.blue_target_group, &d.green_target_group);
    card.fields(&fields);
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
