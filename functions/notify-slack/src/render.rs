//! A notification → the Slack payload. Pure: the same message always renders the same JSON,
//! which the snapshot tests pin.
//!
//! Each family builds its own card (`codedeploy`, `alarm`, `rollout`, `codepipeline`,
//! `codebuild`, `ecs`, `autoscaling`, `event` for any other EventBridge event, `generic`); this
//! module adds what every card shares: the mention and colour from [`crate::tone`], and the
//! mrkdwn helpers. `console` makes the links into the AWS console.

mod alarm;
mod autoscaling;
mod codebuild;
mod codedeploy;
mod codepipeline;
pub mod console;
mod ecs;
mod event;
mod generic;
mod rollout;
#[cfg(test)]
mod samples;

use serde_json::Value;

use crate::blocks::{Card, escape};
use crate::message::{EventMeta, Notification};
use crate::sns::Envelope;
use crate::time::slack_date;
use crate::tone::{Tone, color, mentions};

#[derive(Debug, Clone, Default)]
pub struct RenderOptions {
    /// Prepended to the notifications [`mentions`] picks, e.g. `<!here>`.
    pub mention: Option<String>,
}

/// Room for an error message or a body inside a 3,000-character section.
const BODY_BUDGET: usize = 2800;

pub fn render(note: &Notification, envelope: &Envelope, options: &RenderOptions) -> Value {
    let view = match note {
        Notification::Deployment(d) => codedeploy::deployment(d),
        Notification::Instance(i) => codedeploy::instance(i),
        Notification::TriggerSetup { trigger, text } => {
            codedeploy::trigger_setup(trigger.as_deref(), text)
        }
        Notification::Alarm(a) => alarm::alarm(a),
        Notification::Rollout(r) => rollout::rollout(r),
        Notification::Pipeline(p) => codepipeline::pipeline(p),
        Notification::Build(b) => codebuild::build(b),
        Notification::Ecs(e) => ecs::ecs(e),
        Notification::Scaling(s) => autoscaling::scaling(s),
        Notification::Event(e) => event::event(e),
        Notification::Generic(g) => generic::generic(g, envelope),
    };
    wrap(view, mentions(note), options)
}

/// Instance events of one deployment as one message ([`crate::digest::fold`] picks them): it
/// mentions when any of them would on its own. Other notifications among `notes` are ignored.
pub fn render_digest(notes: &[&Notification], options: &RenderOptions) -> Value {
    let instances: Vec<&crate::message::Instance> = notes
        .iter()
        .filter_map(|note| match note {
            Notification::Instance(i) => Some(i),
            _ => None,
        })
        .collect();
    let view = codedeploy::digest(&instances);
    wrap(view, notes.iter().any(|note| mentions(note)), options)
}

fn wrap(view: View, mention: bool, options: &RenderOptions) -> Value {
    let mut line = String::new();
    if mention && let Some(mention) = &options.mention {
        line.push_str(mention);
        line.push(' ');
    }
    line.push_str(&view.line);
    view.card.into_payload(&line, color(view.tone))
}

/// What each family renders to before the shared wrapping.
struct View {
    tone: Tone,
    /// The visible first line (mrkdwn, escaped).
    line: String,
    card: Card,
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
    link(console::deployment_url(region, id), id)
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

/// The context line of an EventBridge event: region, account, when, and where it came from.
fn event_context(meta: &EventMeta) -> Vec<String> {
    let mut items = region_and_account(meta.region.as_deref(), meta.account.as_deref());
    if let Some(at) = meta.time {
        items.push(slack_date(at));
    }
    items.push("via EventBridge".into());
    items
}

/// `label` linked to `url` when there is one, as a context item.
fn open_in(url: Option<String>, label: &str) -> Option<String> {
    url.map(|url| format!("<{url}|{}>", escape(label)))
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
            item_id: None,
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
    fn huge_error_message_is_truncated_and_marked() {
        let message = json!({"deploymentId": "d-1", "status": "FAILED",
            "errorInformation": {"ErrorCode": "X", "ErrorMessage": "e".repeat(10_000)}})
        .to_string();
        let payload = render_message(&message, None);
        assert!(all_text(&payload).contains(crate::blocks::TRUNCATED));
    }

    #[test]
    fn generic_text_and_empty() {
        let payload = render_message("just <text>", None);
        assert!(all_text(&payload).contains("just &lt;text&gt;"));
        let payload = render_message("   ", None);
        assert!(all_text(&payload).contains("empty message"));
    }
}
