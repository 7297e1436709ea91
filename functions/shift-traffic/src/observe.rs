//! The read-only actions: `plan` (the steps and the forward action each writes) and `status`
//! (where the listener stands and which step resumes the rollout).

use crate::actions;
use crate::decide::resume_step;
use crate::error::Error;
use crate::handler::Step;
use crate::output::{Output, PlanView, Status};
use crate::plan::{percent, scaled};
use crate::ports::{Listeners, Ports};
use crate::spec::Action;
use crate::waits::watch_interval;

pub(crate) async fn dry_run<P: Ports>(ctx: &Step<'_, P>) -> Result<Output, Error> {
    let (spec, plan) = (ctx.spec, ctx.plan);
    let actions = ctx.deps.elb.read_actions(&spec.target, ctx.until).await?;
    let located = actions::locate(&actions, spec.target.arn(), &spec.blue, &spec.green)?;
    let interval = watch_interval(spec, plan);
    let views = plan
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let list =
                actions::with_weights(&actions, &located, &spec.blue, &spec.green, s.weights);
            PlanView {
                step: i as u32,
                green_percent: percent(s.green_permille),
                blue_weight: s.weights.blue,
                green_weight: s.weights.green,
                wait_seconds: scaled(s.wait_seconds, spec.time_scale),
                watch_seconds: match scaled(s.wait_seconds, spec.time_scale) > interval {
                    true => interval,
                    false => 0,
                },
                forward_action: actions::forward_json(&list[located.index]),
            }
        })
        .collect();
    let mut out = Output::new(spec, plan, Status::Planned, located.weights);
    out.rollout_id = ctx.named.clone();
    out.action = Action::Start;
    out.plan = Some(views);
    if !located.weights.is_all_blue() {
        out.reason = Some(
            "blue does not have all the traffic now; start would stop with DriftDetected".into(),
        );
    }
    Ok(out)
}

pub(crate) async fn status<P: Ports>(ctx: &Step<'_, P>) -> Result<Output, Error> {
    let (spec, plan) = (ctx.spec, ctx.plan);
    let actions = ctx.deps.elb.read_actions(&spec.target, ctx.until).await?;
    let located = actions::locate(&actions, spec.target.arn(), &spec.blue, &spec.green)?;
    let mut out = Output::new(spec, plan, Status::Observed, located.weights);
    out.rollout_id = ctx.named.clone();
    match resume_step(plan, located.weights) {
        Some(step) => {
            out.action = Action::Step;
            out.step = step;
        }
        None => {
            out.reason = Some("the weights match no step of this plan".into());
        }
    }
    Ok(out)
}
