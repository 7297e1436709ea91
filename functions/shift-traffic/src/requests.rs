//! `promote` and `abort`: a person asks the rollout running on a listener (or rule) to skip its
//! remaining waits, or to roll back. The request is recorded on the rollout's lease item, only
//! while a rollout holds a live lease there (the one named by `rollout_id`, when given); the
//! running execution reads it back when it renews the lease at its next watch or step and acts
//! on it itself, so every write stays with the lease holder and the execution ends as
//! `Completed` or `RolledBack`, not as a lost lease.

use crate::actions;
use crate::error::Error;
use crate::handler::Step;
use crate::lease::RequestKind;
use crate::output::{Output, Status};
use crate::ports::{LeaseStore, Listeners, Ports};
use crate::waits::watch_interval;

/// Longer reasons are cut: the reason travels in the lease item and in every event after it.
const MAX_REASON: usize = 500;

pub(crate) async fn record<P: Ports>(
    ctx: &Step<'_, P>,
    kind: RequestKind,
    reason: Option<&str>,
) -> Result<Output, Error> {
    let (spec, plan) = (ctx.spec, ctx.plan);
    // Where things stand, for the answer; a listener that is not there is said so first.
    let actions = ctx.deps.elb.read_actions(&spec.target, ctx.until).await?;
    let located = actions::locate(&actions, spec.target.arn(), &spec.blue, &spec.green)?;
    let reason = reason
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(|r| r.chars().take(MAX_REASON).collect::<String>())
        .unwrap_or_else(|| format!("asked by {}", ctx.rollout.id));
    let lease = ctx
        .deps
        .leases
        .request(ctx.target(), ctx.named.as_deref(), kind, &reason, ctx.until)
        .await?;
    tracing::warn!(
        request = kind.as_str(),
        rollout_id = lease.holder,
        lease_version = lease.version,
        reason,
        "request recorded for the running rollout"
    );
    let mut out = Output::new(spec, plan, Status::Requested, located.weights);
    out.rollout_id = Some(lease.holder.clone());
    let what = match kind {
        RequestKind::Promote => "goes to 100 % through the gates",
        RequestKind::Abort => "rolls back to blue",
    };
    out.reason = Some(format!(
        "{} recorded for rollout {}: it {what} at its next watch (within about {} s) or step",
        kind.as_str(),
        lease.holder,
        watch_interval(spec, plan)
    ));
    Ok(out)
}
