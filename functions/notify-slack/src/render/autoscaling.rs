//! EC2 Auto Scaling: a launch or termination, a lifecycle action, an instance refresh.

use crate::blocks::{Card, escape};
use crate::message::{ScalingEvent, ScalingKind};
use crate::time::format_duration;
use crate::tone::{emoji, tone};

use super::console::autoscaling_group_url;
use super::{View, code, event_context, link, open_in};

pub(super) fn scaling(s: &ScalingEvent) -> View {
    let icon = emoji(&s.status);
    let failed = s.status == "FAILED";
    let instance = s.instance_id.as_deref();
    let url = autoscaling_group_url(s.meta.region.as_deref(), &s.group);
    let group = format!("Auto Scaling group *{}*", escape(&s.group));
    let instance_code = instance.map(code);
    let (title, line) = match s.kind {
        ScalingKind::Launch if failed => (
            "Instance launch failed",
            format!("{group} could not launch an instance"),
        ),
        ScalingKind::Launch => (
            "Instance launched",
            format!(
                "{group} launched {}",
                instance_code.as_deref().unwrap_or("an instance")
            ),
        ),
        ScalingKind::Terminate if failed => (
            "Instance termination failed",
            format!(
                "{group} could not terminate {}",
                instance_code.as_deref().unwrap_or("an instance")
            ),
        ),
        ScalingKind::Terminate => (
            "Instance terminated",
            format!(
                "{group} terminated {}",
                instance_code.as_deref().unwrap_or("an instance")
            ),
        ),
        ScalingKind::LaunchLifecycleAction | ScalingKind::TerminateLifecycleAction => {
            let doing = if s.kind == ScalingKind::LaunchLifecycleAction {
                "launching"
            } else {
                "terminating"
            };
            let hook = s
                .lifecycle_hook
                .as_deref()
                .map(|h| format!(" for lifecycle hook {}", code(h)))
                .unwrap_or_default();
            (
                "Instance waiting on a lifecycle hook",
                format!(
                    "{group} holds {} while {doing}{hook}",
                    instance_code.as_deref().unwrap_or("an instance")
                ),
            )
        }
        ScalingKind::InstanceRefresh => {
            let what = match s.status.as_str() {
                "IN_PROGRESS" => "started".to_string(),
                "PENDING" => match &s.checkpoint_percentage {
                    Some(p) => format!("reached its checkpoint at {}%", escape(p)),
                    None => "reached a checkpoint".to_string(),
                },
                other => crate::status::words(other),
            };
            (
                "Instance refresh",
                format!("Instance refresh of {group} {what}"),
            )
        }
    };
    let mut card = Card::default();
    card.header(&format!("{icon} {title}: {}", s.group));
    let line = format!("{icon} {line}");

    let mut fields: Vec<(&str, String)> = vec![("Group", link(url.clone(), &s.group))];
    if let Some(id) = instance {
        fields.push(("Instance", code(id)));
    }
    fields.push(("Outcome", format!("{icon} {}", code(&s.status))));
    if let Some(status_code) = &s.status_code {
        fields.push(("Status code", code(status_code)));
    }
    if let Some(id) = &s.activity_id {
        fields.push(("Activity", code(id)));
    }
    if let Some(id) = &s.refresh_id {
        fields.push(("Instance refresh", code(id)));
    }
    if let Some(transition) = &s.lifecycle_transition {
        fields.push(("Transition", code(transition)));
    }
    if let Some(zone) = &s.availability_zone {
        fields.push(("Availability zone", code(zone)));
    }
    if let (Some(start), Some(end)) = (s.started, s.ended)
        && end >= start
    {
        fields.push(("Took", format_duration(end - start)));
    }
    card.fields(&fields);
    if let Some(message) = &s.status_message {
        card.section(&format!("*Status message*\n{}", escape(message)));
    }
    if let Some(cause) = &s.cause {
        card.section(&format!("*Cause*\n{}", escape(cause)));
    }
    if let Some(description) = &s.description {
        card.section(&format!("*Activity*\n{}", escape(description)));
    }
    let mut context = event_context(&s.meta);
    context.extend(open_in(url, "Open the group's activity"));
    card.context(&context);
    View {
        tone: tone(&s.status),
        line,
        card,
    }
}
