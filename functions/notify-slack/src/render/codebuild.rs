//! A CodeBuild build changing state, or one of its phases completing.

use crate::blocks::{Card, code_block, escape};
use crate::message::BuildEvent;
use crate::status::words;
use crate::time::format_duration;
use crate::tone::{emoji, tone};

use super::console::{build_url, console_link};
use super::{BODY_BUDGET, View, code, event_context, open_in};

pub(super) fn build(b: &BuildEvent) -> View {
    let icon = emoji(&b.status);
    let region = b.meta.region.as_deref();
    let account = b.meta.account.as_deref();
    let number = b.build_number.map(|n| format!(" #{n}")).unwrap_or_default();
    let word = words(&b.status);
    let duration = b.duration.map(format_duration);
    let console = b
        .build_id
        .as_deref()
        .and_then(|id| build_url(region, account, id, false));
    let logs = b.logs_link.as_deref().and_then(console_link).or_else(|| {
        b.build_id
            .as_deref()
            .and_then(|id| build_url(region, account, id, true))
    });

    let mut card = Card::default();
    let mut line = format!("{icon} Build *{}*{number}", escape(&b.project));
    if b.phase_change {
        let phase = b.phase.as_deref().unwrap_or("?");
        card.header(&format!(
            "{icon} Phase {phase} {word}: {}{number}",
            b.project
        ));
        line.push_str(&format!(": phase {} {}", code(phase), escape(&word)));
    } else {
        card.header(&format!("{icon} Build {word}: {}{number}", b.project));
        line.push_str(&format!(" {}", escape(&word)));
    }
    if let Some(duration) = &duration {
        line.push_str(&format!(" after {duration}"));
    }

    let mut fields: Vec<(&str, String)> = vec![("Project", escape(&b.project))];
    if let Some(id) = &b.build_id {
        let label = match b.build_number {
            Some(n) => format!("#{n}"),
            None => id.clone(),
        };
        fields.push((
            "Build",
            match &console {
                Some(url) => format!("<{url}|{}>", escape(&label)),
                None => code(&label),
            },
        ));
    }
    fields.push(("Status", format!("{icon} {}", code(&b.state))));
    if let Some(phase) = &b.phase {
        let label = if b.phase_change {
            "Phase"
        } else {
            "Current phase"
        };
        fields.push((label, code(phase)));
    }
    if let Some(duration) = duration {
        fields.push(("Duration", duration));
    }
    if let Some(initiator) = &b.initiator {
        fields.push(("Started by", escape(initiator)));
    }
    if let Some(version) = &b.source_version {
        fields.push(("Source version", code(version)));
    }
    if let Some(url) = &logs {
        fields.push(("Logs", format!("<{url}|Build logs>")));
    }
    card.fields(&fields);

    if let Some(failed) = &b.failed_phase {
        let phase = if failed.phase.is_empty() {
            "?"
        } else {
            &failed.phase
        };
        let mut text = format!("*Failed in* {}", code(phase));
        if failed.status != "FAILED" {
            text.push_str(&format!(" ({})", escape(&words(&failed.status))));
        }
        if !failed.context.is_empty() {
            text.push('\n');
            text.push_str(&code_block(&failed.context.join("\n"), BODY_BUDGET));
        }
        card.section(&text);
    }

    let mut context = event_context(&b.meta);
    context.extend(open_in(console, "Open in CodeBuild"));
    card.context(&context);
    View {
        tone: tone(&b.status),
        line,
        card,
    }
}
