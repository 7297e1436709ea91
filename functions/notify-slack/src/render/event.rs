//! Any other EventBridge event: what it is, from where, about which resources, in words; the
//! detail's plain fields as fields and the rest of it folded below.

use serde_json::Value;

use crate::blocks::{Card, code_block, escape};
use crate::message::Event;
use crate::time::slack_date;
use crate::tone::Tone;

use super::generic::fold_object;
use super::{BODY_BUDGET, View, code};

/// Resources named in words, at most this many (the rest are counted).
const MAX_RESOURCES: usize = 10;

pub(super) fn event(e: &Event) -> View {
    let icon = ":information_source:";
    let meta = &e.meta;
    let mut card = Card::default();
    card.header(&format!("{icon} {}", meta.detail_type));
    let mut line = format!("{icon} *{}*", escape(&meta.detail_type));
    if let Some(source) = &meta.source {
        line.push_str(&format!(" from {}", code(source)));
    }
    if let Some(region) = &meta.region {
        line.push_str(&format!(" in {}", code(region)));
    }

    let mut fields: Vec<(&str, String)> = Vec::new();
    if let Some(source) = &meta.source {
        fields.push(("Source", code(source)));
    }
    if let Some(account) = &meta.account {
        fields.push(("Account", code(account)));
    }
    if let Some(region) = &meta.region {
        fields.push(("Region", code(region)));
    }
    if let Some(at) = meta.time {
        fields.push(("Time", slack_date(at)));
    }
    if !meta.resources.is_empty() {
        let mut names: Vec<String> = meta
            .resources
            .iter()
            .take(MAX_RESOURCES)
            .map(|arn| resource_words(arn))
            .collect();
        if meta.resources.len() > MAX_RESOURCES {
            names.push(format!("and {} more", meta.resources.len() - MAX_RESOURCES));
        }
        fields.push(("Resources", names.join("\n")));
    }
    card.fields(&fields);

    match &e.detail {
        Some(Value::Object(detail)) if !detail.is_empty() => {
            fold_object(&mut card, detail, "Detail")
        }
        Some(Value::Object(_)) | None => {}
        Some(other) => {
            let pretty = serde_json::to_string_pretty(other).unwrap_or_else(|_| other.to_string());
            card.section(&format!("*Detail*\n{}", code_block(&pretty, BODY_BUDGET)));
        }
    }
    card.context(&["via EventBridge".to_string()]);
    View {
        tone: Tone::Neutral,
        line,
        card,
    }
}

/// `ec2 instance i-0abc` from `arn:aws:ec2:us-east-1:123456789012:instance/i-0abc`; what is not
/// an ARN, as it is.
fn resource_words(arn: &str) -> String {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [_, _, service, _, _, resource] = parts.as_slice() else {
        return code(arn);
    };
    if !arn.starts_with("arn:") || resource.is_empty() {
        return code(arn);
    }
    let split = resource.find(['/', ':']);
    match split {
        Some(at) if at > 0 && at + 1 < resource.len() => format!(
            "{} {} {}",
            escape(service),
            escape(&resource[..at].replace('-', " ")),
            code(&resource[at + 1..])
        ),
        _ => format!("{} {}", escape(service), code(resource)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_in_words() {
        assert_eq!(
            resource_words("arn:aws:ec2:us-east-1:1:instance/i-0abc"),
            "ec2 instance `i-0abc`"
        );
        assert_eq!(
            resource_words("arn:aws:cloudwatch:us-east-1:1:alarm:shop-5xx"),
            "cloudwatch alarm `shop-5xx`"
        );
        assert_eq!(resource_words("arn:aws:s3:::my-bucket"), "s3 `my-bucket`");
        assert_eq!(
            resource_words("arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/shop/50dc"),
            "elasticloadbalancing loadbalancer `app/shop/50dc`"
        );
        assert_eq!(resource_words("i-0abc"), "`i-0abc`");
        assert_eq!(resource_words("arn:aws:x"), "`arn:aws:x`");
        assert_eq!(
            resource_words("arn:aws:<!x>:r:1:a/<b>"),
            "&lt;!x&gt; a `&lt;b&gt;`"
        );
    }
}
