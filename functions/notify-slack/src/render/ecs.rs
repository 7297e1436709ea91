//! Amazon ECS: a service deployment, a service action, a task that stopped.

use crate::blocks::{Card, escape};
use crate::message::{EcsEvent, EcsKind, Task};
use crate::status::words;
use crate::tone::{Tone, emoji, tone};

use super::console::{ecs_service_url, ecs_task_url};
use super::{View, code, event_context, link, open_in};

/// `SERVICE_TASK_START_IMPAIRED` → `task start impaired`.
fn event_words(name: &str) -> String {
    words(name.strip_prefix("SERVICE_").unwrap_or(name))
}

pub(super) fn ecs(e: &EcsEvent) -> View {
    match e.kind {
        EcsKind::Deployment => deployment(e),
        EcsKind::ServiceAction => service_action(e),
        EcsKind::Task => task(e),
    }
}

/// `*shop* in cluster *prod*`, or what of it is known.
fn service_words(e: &EcsEvent) -> String {
    let mut text = match &e.service {
        Some(service) => format!("*{}*", escape(service)),
        None => "a service".to_string(),
    };
    if let Some(cluster) = &e.cluster {
        text.push_str(&format!(" in cluster *{}*", escape(cluster)));
    }
    text
}

fn service_url(e: &EcsEvent) -> Option<String> {
    let region = e.meta.region.as_deref();
    ecs_service_url(region, e.cluster.as_deref()?, e.service.as_deref()?)
}

fn service_fields(e: &EcsEvent) -> Vec<(&'static str, String)> {
    let mut fields = Vec::new();
    if let Some(service) = &e.service {
        fields.push(("Service", link(service_url(e), service)));
    }
    if let Some(cluster) = &e.cluster {
        fields.push(("Cluster", escape(cluster)));
    }
    fields
}

fn deployment(e: &EcsEvent) -> View {
    let (icon, view_tone) = if e.rollback {
        (":rewind:", Tone::Warning)
    } else {
        (emoji(&e.status), tone(&e.status))
    };
    let outcome = if e.rollback {
        "rolling back".to_string()
    } else {
        words(&e.status)
    };
    let service = e.service.as_deref().unwrap_or("service");
    let mut card = Card::default();
    card.header(&format!("{icon} ECS deployment {outcome}: {service}"));
    let mut line = format!("{icon} ECS deployment");
    if let Some(id) = &e.deployment_id {
        line.push_str(&format!(" {}", code(id)));
    }
    line.push_str(&format!(" of {} {}", service_words(e), escape(&outcome)));

    let mut fields = service_fields(e);
    if let Some(id) = &e.deployment_id {
        fields.push(("Deployment", code(id)));
    }
    fields.push(("State", format!("{icon} {}", code(&e.name))));
    card.fields(&fields);
    if let Some(reason) = &e.reason {
        card.section(&format!("*Reason*\n{}", escape(reason)));
    }
    let mut context = event_context(&e.meta);
    context.extend(open_in(service_url(e), "Open in the ECS console"));
    card.context(&context);
    View {
        tone: view_tone,
        line,
        card,
    }
}

fn service_action(e: &EcsEvent) -> View {
    let steady = e.name.ends_with("STEADY_STATE");
    let (icon, view_tone) = if steady {
        (":white_check_mark:", Tone::Good)
    } else {
        (emoji(&e.status), tone(&e.status))
    };
    let what = event_words(&e.name);
    let service = e.service.as_deref().unwrap_or("service");
    let mut card = Card::default();
    card.header(&format!("{icon} ECS service {service}: {what}"));
    let line = format!("{icon} ECS service {}: {}", service_words(e), escape(&what));
    let mut fields = service_fields(e);
    fields.push(("Event", format!("{icon} {}", code(&e.name))));
    if let Some(kind) = &e.event_type {
        fields.push(("Type", code(kind)));
    }
    if !e.capacity_providers.is_empty() {
        let names: Vec<String> = e.capacity_providers.iter().map(|c| code(c)).collect();
        fields.push(("Capacity providers", names.join(", ")));
    }
    card.fields(&fields);
    if let Some(reason) = &e.reason {
        card.section(&format!("*Reason*\n{}", escape(reason)));
    }
    let mut context = event_context(&e.meta);
    context.extend(open_in(service_url(e), "Open in the ECS console"));
    card.context(&context);
    View {
        tone: view_tone,
        line,
        card,
    }
}

fn task(e: &EcsEvent) -> View {
    let empty = Task::default();
    let t = e.task.as_ref().unwrap_or(&empty);
    let icon = emoji(&e.status);
    let region = e.meta.region.as_deref();
    let owner = e
        .service
        .clone()
        .or_else(|| t.group.clone())
        .or_else(|| t.definition.clone())
        .unwrap_or_else(|| "task".into());
    let outcome = match e.status.as_str() {
        "FAILED" => "stopped with an error".to_string(),
        "STOPPED" => "stopped".to_string(),
        _ => words(&e.name),
    };
    let url = e
        .cluster
        .as_deref()
        .and_then(|cluster| ecs_task_url(region, cluster, &t.id));
    let mut card = Card::default();
    card.header(&format!("{icon} ECS task {outcome}: {owner}"));
    let mut line = format!(
        "{icon} ECS task {} of *{}* {}",
        code(&t.id),
        escape(&owner),
        escape(&outcome)
    );
    if let Some(reason) = &t.stopped_reason {
        line.push_str(&format!(": {}", escape(reason)));
    }

    let mut fields: Vec<(&str, String)> = vec![("Task", link(url.clone(), &t.id))];
    if let Some(cluster) = &e.cluster {
        fields.push(("Cluster", escape(cluster)));
    }
    if let Some(service) = &e.service {
        fields.push(("Service", escape(service)));
    } else if let Some(group) = &t.group {
        fields.push(("Group", escape(group)));
    }
    if let Some(definition) = &t.definition {
        fields.push(("Task definition", code(definition)));
    }
    fields.push(("Last status", format!("{icon} {}", code(&e.name))));
    if let Some(stop_code) = &t.stop_code {
        fields.push(("Stop code", code(stop_code)));
    }
    card.fields(&fields);
    if let Some(reason) = &t.stopped_reason {
        card.section(&format!("*Stopped reason*\n{}", escape(reason)));
    }
    if !t.containers.is_empty() {
        let lines: Vec<String> = t
            .containers
            .iter()
            .map(|c| {
                let mut text = format!("• {}", code(&c.name));
                match c.exit_code {
                    Some(0) => text.push_str(" exited 0"),
                    Some(exit) => text.push_str(&format!(" exited *{exit}*")),
                    None => text.push_str(" did not exit with a code"),
                }
                if let Some(reason) = &c.reason {
                    text.push_str(&format!(": {}", escape(reason)));
                }
                text
            })
            .collect();
        card.section(&format!("*Containers*\n{}", lines.join("\n")));
    }
    let mut context = event_context(&e.meta);
    context.extend(open_in(url, "Open in the ECS console"));
    card.context(&context);
    View {
        tone: tone(&e.status),
        line,
        card,
    }
}
