//! Block Kit, with Slack's limits enforced here and nowhere else: a payload built through
//! [`Card`] cannot be refused for size (`invalid_blocks`). Truncation is always marked.

use serde_json::{Value, json};

pub const MAX_BLOCKS: usize = 50;
pub const HEADER_TEXT: usize = 150;
pub const SECTION_TEXT: usize = 3000;
pub const MAX_FIELDS: usize = 10;
pub const FIELD_TEXT: usize = 2000;
pub const CONTEXT_ELEMENTS: usize = 10;
pub const CONTEXT_TEXT: usize = 2000;
/// The top-level `text` is the notification line and fallback; Slack cuts at 40,000, a
/// notification is unreadable long before.
pub const FALLBACK_TEXT: usize = 3000;

pub const TRUNCATED: &str = "… (truncated)";

/// Escapes text for mrkdwn, so a message cannot forge a link or a `<!channel>` mention.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            _ => out.push(c),
        }
    }
    out
}

/// At most `max` characters, marked when cut. Never cuts inside an `&entity;` or a
/// `<link|token>`, which would corrupt what follows.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let keep = max.saturating_sub(TRUNCATED.chars().count());
    let mut cut: String = text.chars().take(keep).collect();
    if let Some(amp) = cut.rfind('&')
        && !cut[amp..].contains(';')
        && cut.len() - amp <= 8
    {
        cut.truncate(amp);
    }
    if let Some(open) = cut.rfind('<')
        && !cut[open..].contains('>')
    {
        cut.truncate(open);
    }
    cut.push_str(TRUNCATED);
    cut
}

/// Escaped text in a code block, cut to fit `max` characters with the fences.
pub fn code_block(text: &str, max: usize) -> String {
    format!("```{}```", truncate(&escape(text), max.saturating_sub(6)))
}

/// The blocks of one message, each checked against its limit as it is added.
#[derive(Debug, Default)]
pub struct Card {
    blocks: Vec<Value>,
}

impl Card {
    pub fn header(&mut self, text: &str) {
        self.blocks.push(json!({
            "type": "header",
            "text": {"type": "plain_text", "text": truncate(text, HEADER_TEXT), "emoji": true}
        }));
    }

    /// A section of mrkdwn (already escaped by the caller).
    pub fn section(&mut self, mrkdwn: &str) {
        if mrkdwn.trim().is_empty() {
            return;
        }
        self.blocks.push(json!({
            "type": "section",
            "text": {"type": "mrkdwn", "text": truncate(mrkdwn, SECTION_TEXT)}
        }));
    }

    /// `*label*` over a mrkdwn value, two columns, ten per section.
    pub fn fields(&mut self, fields: &[(&str, String)]) {
        for chunk in fields.chunks(MAX_FIELDS) {
            let items: Vec<Value> = chunk
                .iter()
                .map(|(label, value)| {
                    json!({"type": "mrkdwn", "text": truncate(&format!("*{label}*\n{value}"), FIELD_TEXT)})
                })
                .collect();
            if !items.is_empty() {
                self.blocks
                    .push(json!({"type": "section", "fields": items}));
            }
        }
    }

    pub fn context(&mut self, items: &[String]) {
        let elements: Vec<Value> = items
            .iter()
            .filter(|t| !t.trim().is_empty())
            .take(CONTEXT_ELEMENTS)
            .map(|t| json!({"type": "mrkdwn", "text": truncate(t, CONTEXT_TEXT)}))
            .collect();
        if !elements.is_empty() {
            self.blocks
                .push(json!({"type": "context", "elements": elements}));
        }
    }

    /// The Slack payload: `text` is the visible line and notification fallback (mentions go
    /// there so they notify), the blocks sit in an attachment because only attachments carry a
    /// colour bar.
    pub fn into_payload(mut self, text: &str, color: &str) -> Value {
        if self.blocks.len() > MAX_BLOCKS {
            let hidden = self.blocks.len() - (MAX_BLOCKS - 1);
            self.blocks.truncate(MAX_BLOCKS - 1);
            self.blocks.push(json!({
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": format!("… {hidden} more blocks not shown (truncated)")}]
            }));
        }
        json!({
            "text": truncate(text, FALLBACK_TEXT),
            "attachments": [{"color": color, "blocks": self.blocks}]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_defuses_mentions_and_links() {
        assert_eq!(
            escape("<!channel> & <http://x|y>"),
            "&lt;!channel&gt; &amp; &lt;http://x|y&gt;"
        );
    }

    #[test]
    fn truncation_is_marked_and_fits() {
        let long = "x".repeat(5000);
        let cut = truncate(&long, SECTION_TEXT);
        assert_eq!(cut.chars().count(), SECTION_TEXT);
        assert!(cut.ends_with(TRUNCATED));
        assert_eq!(truncate("short", 10), "short");
        // Multi-byte characters count as one.
        assert_eq!(truncate(&"é".repeat(20), 20), "é".repeat(20));
    }

    #[test]
    fn truncation_does_not_split_entities_or_links() {
        let text = format!("{}&amp;rest of a much longer tail", "a".repeat(20));
        let cut = truncate(&text, 20 + 3 + TRUNCATED.chars().count());
        assert_eq!(cut, format!("{}{TRUNCATED}", "a".repeat(20)));
        let text = format!("{}<https://example.com|link> tail", "a".repeat(10));
        let cut = truncate(&text, 25 + TRUNCATED.chars().count());
        assert_eq!(cut, format!("{}{TRUNCATED}", "a".repeat(10)));
    }

    #[test]
    fn limits_hold_for_any_input() {
        let mut card = Card::default();
        card.header(&"h".repeat(400));
        for _ in 0..60 {
            card.section(&"s".repeat(4000));
        }
        let fields: Vec<(&str, String)> = (0..23).map(|_| ("k", "v".repeat(3000))).collect();
        card.fields(&fields);
        card.context(&vec!["c".repeat(5000); 12]);
        let payload = card.into_payload(&"t".repeat(50_000), "#000000");
        let blocks = payload["attachments"][0]["blocks"].as_array().unwrap();
        assert_eq!(blocks.len(), MAX_BLOCKS);
        assert!(
            blocks[49]["elements"][0]["text"]
                .as_str()
                .unwrap()
                .contains("truncated")
        );
        assert_eq!(
            blocks[0]["text"]["text"].as_str().unwrap().chars().count(),
            HEADER_TEXT
        );
        for block in blocks {
            if let Some(text) = block.pointer("/text/text").and_then(Value::as_str) {
                assert!(text.chars().count() <= SECTION_TEXT);
            }
        }
        assert!(payload["text"].as_str().unwrap().chars().count() <= FALLBACK_TEXT);
    }

    #[test]
    fn fields_split_into_sections_of_ten() {
        let mut card = Card::default();
        let fields: Vec<(&str, String)> = (0..23).map(|_| ("k", "v".into())).collect();
        card.fields(&fields);
        card.context(&vec!["c".into(); 12]);
        let payload = card.into_payload("t", "#000000");
        let blocks = payload["attachments"][0]["blocks"].as_array().unwrap();
        assert_eq!(blocks.len(), 4);
        assert_eq!(blocks[0]["fields"].as_array().unwrap().len(), 10);
        assert_eq!(blocks[2]["fields"].as_array().unwrap().len(), 3);
        assert_eq!(blocks[3]["elements"].as_array().unwrap().len(), 10);
    }
}
