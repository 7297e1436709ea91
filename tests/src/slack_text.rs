//! Renders a Slack message payload as a person would read it in the channel: the message text,
//! then the header in bold, sections and fields as lines, context in small print, the attachment
//! colour as a bar.

use serde_json::Value;

pub fn render(payload: &Value) -> String {
    let mut shown = Vec::new();
    let top_blocks: Vec<&Value> = payload
        .get("blocks")
        .and_then(Value::as_array)
        .map(|b| b.iter().collect())
        .unwrap_or_default();
    // Slack shows `text` as the message body unless top-level blocks replace it (then it is only
    // the notification fallback); attachments follow it.
    if top_blocks.is_empty() {
        if let Some(text) = payload.get("text").and_then(Value::as_str) {
            shown.extend(text.lines().map(plain));
        }
    } else {
        shown.extend(
            block_lines(&top_blocks)
                .iter()
                .map(|l| format!("│ {}", plain(l))),
        );
    }
    for attachment in payload
        .get("attachments")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let colour = attachment
            .get("color")
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase);
        let bar = match colour.as_deref() {
            Some("danger") | Some("#d40e0d") | Some("#e01e5a") => "🟥",
            Some("good") | Some("#2eb886") | Some("#2eb67d") => "🟩",
            Some("warning") | Some("#daa038") | Some("#ecb22e") => "🟨",
            _ => "│",
        };
        let blocks: Vec<&Value> = attachment
            .get("blocks")
            .and_then(Value::as_array)
            .map(|b| b.iter().collect())
            .unwrap_or_default();
        shown.extend(
            block_lines(&blocks)
                .iter()
                .map(|l| format!("{bar} {}", plain(l))),
        );
    }
    if shown.is_empty() {
        shown.push("(empty message)".into());
    }
    shown.join("\n")
}

/// Each block as the lines it shows: header in bold, section text and fields, context.
fn block_lines(blocks: &[&Value]) -> Vec<String> {
    let mut lines = Vec::new();
    for block in blocks {
        let text = block.pointer("/text/text").and_then(Value::as_str);
        match block.get("type").and_then(Value::as_str) {
            Some("header") => lines.push(format!("**{}**", text.unwrap_or(""))),
            Some("section") => {
                if let Some(text) = text {
                    lines.extend(text.lines().map(str::to_string));
                }
                let fields: Vec<&str> = block
                    .get("fields")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|f| f.get("text").and_then(Value::as_str))
                    .collect();
                for pair in fields.chunks(2) {
                    lines.push(
                        pair.iter()
                            .map(|f| f.replace('\n', " "))
                            .collect::<Vec<_>>()
                            .join("   ·   "),
                    );
                }
            }
            Some("context") => {
                let parts: Vec<&str> = block
                    .get("elements")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|e| e.get("text").and_then(Value::as_str))
                    .collect();
                lines.push(format!("  {}", parts.join("  ")));
            }
            Some("divider") => lines.push("───".into()),
            _ => {}
        }
    }
    lines
}

/// Slack's mrkdwn as it shows in the channel: links and dates by their labels, mentions with
/// `@`, the emoji codes the functions use as emoji.
fn plain(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('>') else {
            out.push_str(&rest[start..]);
            rest = "";
            break;
        };
        let inner = &rest[start + 1..start + end];
        let shown = match inner.split_once('|') {
            Some((_, label)) => label.to_string(),
            None => match inner.strip_prefix('!') {
                Some(special) => format!("@{special}"),
                None => inner.to_string(),
            },
        };
        out.push_str(&shown);
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    // Slack's three escapes, shown as the characters they stand for.
    let mut out = out
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    for (code, emoji) in [
        (":rocket:", "🚀"),
        (":x:", "❌"),
        (":white_check_mark:", "✅"),
        (":hourglass_flowing_sand:", "⏳"),
        (":warning:", "⚠️"),
        (":rotating_light:", "🚨"),
        (":leftwards_arrow_with_hook:", "↩️"),
        (":rewind:", "⏪"),
        (":octagonal_sign:", "🛑"),
        (":information_source:", "ℹ️"),
        (":large_green_circle:", "🟢"),
        (":red_circle:", "🔴"),
        (":grey_question:", "❔"),
        (":arrows_counterclockwise:", "🔄"),
        (":bell:", "🔔"),
    ] {
        out = out.replace(code, emoji);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_header_fields_and_colour() {
        let text = render(&json!({
            "text": "fallback",
            "attachments": [{"color": "danger", "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": "Deployment failed"}},
                {"type": "section", "fields": [
                    {"type": "mrkdwn", "text": "*Application*\ncheckout"},
                    {"type": "mrkdwn", "text": "*Status*\nFAILED"}
                ]},
                {"type": "context", "elements": [{"type": "mrkdwn", "text": "us-east-1"}]}
            ]}]
        }));
        assert_eq!(
            text,
            "fallback\n🟥 **Deployment failed**\n🟥 *Application* checkout   ·   *Status* FAILED\n🟥   us-east-1"
        );
        assert_eq!(render(&json!({"text": "only text"})), "only text");
        assert_eq!(
            render(&json!({"text": "not shown", "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": "a &lt;b&gt; &amp; c"}}
            ]})),
            "│ a <b> & c"
        );
        assert_eq!(
            plain("<!here> :x: <https://console|d-1> at <!date^1^{date}|05:00 UTC>"),
            "@here ❌ d-1 at 05:00 UTC"
        );
    }
}
