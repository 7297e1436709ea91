//! A CodePipeline execution, stage or action changing state.

use crate::blocks::{Card, escape};
use crate::message::{PipelineEvent, PipelineLevel};
use crate::tone::{emoji, tone};

use super::console::{console_link, pipeline_url};
use super::{View, code, event_context, link, open_in};

/// `started`, `succeeded`, `superseded`: CodePipeline's own word, for sentences.
fn state_words(state: &str) -> String {
    state.replace('_', " ").to_lowercase()
}

pub(super) fn pipeline(p: &PipelineEvent) -> View {
    let icon = emoji(&p.status);
    let region = p.meta.region.as_deref();
    let word = state_words(&p.state);
    let execution_url = pipeline_url(region, &p.pipeline, p.execution_id.as_deref());

    let what = match p.level {
        PipelineLevel::Pipeline => "Pipeline".to_string(),
        PipelineLevel::Stage => format!("Stage {}", p.stage.as_deref().unwrap_or("?")),
        PipelineLevel::Action => format!("Action {}", p.action.as_deref().unwrap_or("?")),
    };
    let mut card = Card::default();
    card.header(&format!("{icon} {what} {word}: {}", p.pipeline));

    let mut line = format!("{icon} Pipeline *{}*", escape(&p.pipeline));
    if let Some(stage) = &p.stage {
        line.push_str(&format!(", stage *{}*", escape(stage)));
    }
    if let (PipelineLevel::Action, Some(action)) = (p.level, &p.action) {
        line.push_str(&format!(", action *{}*", escape(action)));
    }
    line.push_str(&format!(" {}", escape(&word)));
    if let Some(id) = &p.execution_id {
        line.push_str(&format!(" (execution {})", code(id)));
    }

    let mut fields: Vec<(&str, String)> = vec![(
        "Pipeline",
        link(pipeline_url(region, &p.pipeline, None), &p.pipeline),
    )];
    if let Some(id) = &p.execution_id {
        fields.push((
            "Execution",
            match &execution_url {
                Some(url) => format!("<{url}|{}>", escape(id)),
                None => code(id),
            },
        ));
    }
    if let Some(stage) = &p.stage {
        fields.push(("Stage", escape(stage)));
    }
    if let Some(action) = &p.action {
        fields.push(("Action", escape(action)));
    }
    if let Some(kind) = &p.action_type {
        fields.push(("Action type", escape(kind)));
    }
    fields.push(("State", format!("{icon} {}", code(&p.state))));
    if let Some(attempt) = p.attempt.filter(|a| *a > 1) {
        fields.push(("Attempt", attempt.to_string()));
    }
    if let Some(trigger) = &p.trigger {
        fields.push(("Started by", escape(trigger)));
    }
    if let Some(region) = &p.action_region {
        fields.push(("Action region", code(region)));
    }
    card.fields(&fields);

    if p.summary.is_some() || p.error_code.is_some() || p.external_id.is_some() {
        let heading = if p.error_code.is_some() {
            "*Error*"
        } else {
            "*Result*"
        };
        let mut text = heading.to_string();
        if let Some(error_code) = &p.error_code {
            text.push_str(&format!(" {}", code(error_code)));
        }
        if let Some(summary) = &p.summary {
            text.push('\n');
            text.push_str(&escape(summary));
        }
        if let Some(id) = &p.external_id {
            let run = match p.external_url.as_deref().and_then(console_link) {
                Some(url) => format!("<{url}|{}>", escape(id)),
                None => code(id),
            };
            text.push_str(&format!("\nRun: {run}"));
        } else if let Some(url) = &p.external_url {
            text.push_str(&format!("\nRun: {}", code(url)));
        }
        card.section(&text);
    }

    let mut context = event_context(&p.meta);
    context.extend(open_in(execution_url, "Open in CodePipeline"));
    card.context(&context);
    View {
        tone: tone(&p.status),
        line,
        card,
    }
}
