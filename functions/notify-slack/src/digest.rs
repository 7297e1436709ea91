//! Which notifications of a batch share one Slack message. A deployment to a large fleet sends
//! one instance event per instance; read one by one they bury the deployment's news and run
//! into Slack's rate limit, so the instance events of one deployment in a batch become one
//! digest ([`crate::render::render_digest`]). Everything else keeps a message of its own.
//! Pure: the handler posts what this decides.

use std::collections::HashMap;

use crate::message::Notification;

/// Instance events of one deployment fold into a digest from this many on; a lone one renders
/// as it always did.
pub const FOLD_FROM: usize = 2;

/// The batch's Slack messages in order, each the positions (in `notes`) of the notifications it
/// carries: one position is a message of its own, more are a digest. A digest takes the place of
/// its deployment's first instance event; every position appears exactly once.
pub fn fold(notes: &[&Notification]) -> Vec<Vec<usize>> {
    let mut by_deployment: HashMap<(Option<&str>, &str), Vec<usize>> = HashMap::new();
    for (position, note) in notes.iter().enumerate() {
        if let Some(key) = deployment_of(note) {
            by_deployment.entry(key).or_default().push(position);
        }
    }
    let mut messages = Vec::new();
    for (position, note) in notes.iter().enumerate() {
        match deployment_of(note).and_then(|key| by_deployment.get(&key)) {
            Some(group) if group.len() >= FOLD_FROM => {
                if group.first() == Some(&position) {
                    messages.push(group.clone());
                }
            }
            _ => messages.push(vec![position]),
        }
    }
    messages
}

/// (region, deployment id) of an instance event that names its deployment.
fn deployment_of(note: &Notification) -> Option<(Option<&str>, &str)> {
    match note {
        Notification::Instance(i) => {
            let id = i.deployment_id.as_deref()?;
            Some((i.region.as_deref(), id))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Deployment, Generic, GenericBody, Instance};

    fn instance(deployment: Option<&str>, n: usize) -> Notification {
        Notification::Instance(Instance {
            deployment_id: deployment.map(str::to_string),
            instance_id: Some(format!("i-{n}")),
            status: "SUCCEEDED".into(),
            region: Some("us-east-1".into()),
            ..Instance::default()
        })
    }

    fn deployment(id: &str) -> Notification {
        Notification::Deployment(Deployment {
            deployment_id: Some(id.into()),
            status: "SUCCEEDED".into(),
            ..Deployment::default()
        })
    }

    fn generic() -> Notification {
        Notification::Generic(Generic {
            subject: None,
            body: GenericBody::Text("hello".into()),
        })
    }

    fn folded(notes: &[Notification]) -> Vec<Vec<usize>> {
        fold(&notes.iter().collect::<Vec<_>>())
    }

    #[test]
    fn instance_events_of_one_deployment_fold_where_the_first_arrived() {
        let notes = [
            generic(),
            instance(Some("d-A"), 1),
            deployment("d-A"),
            instance(Some("d-A"), 2),
            instance(Some("d-B"), 3),
            instance(Some("d-A"), 4),
        ];
        assert_eq!(
            folded(&notes),
            vec![vec![0], vec![1, 3, 5], vec![2], vec![4]],
            "the deployment's own event and a lone instance of another stay single"
        );
    }

    #[test]
    fn a_lone_instance_or_one_without_a_deployment_is_not_folded() {
        let notes = [
            instance(Some("d-A"), 1),
            instance(None, 2),
            instance(None, 3),
        ];
        assert_eq!(folded(&notes), vec![vec![0], vec![1], vec![2]]);
        assert!(folded(&[]).is_empty());
    }

    #[test]
    fn the_same_id_in_two_regions_is_two_deployments() {
        let mut other = instance(Some("d-A"), 2);
        if let Notification::Instance(i) = &mut other {
            i.region = Some("eu-west-1".into());
        }
        let notes = [instance(Some("d-A"), 1), other, instance(Some("d-A"), 3)];
        assert_eq!(folded(&notes), vec![vec![0, 2], vec![1]]);
    }

    #[test]
    fn every_position_is_in_exactly_one_message() {
        let notes: Vec<Notification> = (0..50)
            .map(|n| match n % 4 {
                0 => instance(Some("d-A"), n),
                1 => instance(Some("d-B"), n),
                2 => deployment("d-A"),
                _ => generic(),
            })
            .collect();
        let mut seen: Vec<usize> = folded(&notes).into_iter().flatten().collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..50).collect::<Vec<_>>());
    }
}
