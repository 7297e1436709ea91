//! The clean-up after a completed rollout: blue's Auto Scaling group goes to a smaller size
//! (zero by default) once the spec's wait and blue's deregistration delay have passed.
//!
//! It runs only after `Completed`, when the state machine no longer rolls back, and only while
//! the listener still sends blue nothing. It never touches a group that serves green, nor one
//! that is not blue's, and never scales a group up. Another rollout holding the listener, a
//! forward action that changed, or a group that is not what the spec says ends it with
//! `ScaleDownRefused` and the group's size as it was.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::actions;
use crate::error::Error;
use crate::handler::{Reread, Step};
use crate::output::{Output, Status};
use crate::plan::{Weights, scaled};
use crate::ports::{Listeners, Ports, ScalingGroups};
use crate::spec::{Action, Spec, check_wait, invalid};

/// What a group may be set to: Auto Scaling's own upper bound on a group's size is far below.
const MAX_CAPACITY: u32 = 100_000;
/// The ALB's largest deregistration delay; what is waited when blue's cannot be read.
pub const MAX_DEREGISTRATION_DELAY_SECONDS: u64 = 3600;

/// `scale_down_blue` in the spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScaleDown {
    /// Blue's Auto Scaling group, by name.
    pub auto_scaling_group: String,
    /// The size it goes to.
    #[serde(default)]
    pub desired_capacity: u32,
    /// How long after the rollout completes, before blue's deregistration delay.
    #[serde(default)]
    pub wait_seconds: u64,
}

impl ScaleDown {
    pub fn parse(value: &Value) -> Result<ScaleDown, Error> {
        let mut request: ScaleDown = serde_json::from_value(value.clone())
            .map_err(|e| invalid(format!("scale_down_blue: {e}")))?;
        request.auto_scaling_group = request.auto_scaling_group.trim().to_string();
        let name = &request.auto_scaling_group;
        if name.is_empty() || name.chars().count() > 255 || name.chars().any(char::is_control) {
            return Err(invalid(
                "scale_down_blue.auto_scaling_group must be an Auto Scaling group's name (1 to 255 characters)",
            ));
        }
        if request.desired_capacity > MAX_CAPACITY {
            return Err(invalid(format!(
                "scale_down_blue.desired_capacity is {}; at most {MAX_CAPACITY}",
                request.desired_capacity
            )));
        }
        check_wait("scale_down_blue.wait_seconds", request.wait_seconds)?;
        Ok(request)
    }

    /// The wait before the clean-up, scaled: the spec's, then the time blue's target group
    /// gives requests in flight when a target leaves it.
    pub fn wait_seconds(&self, deregistration_delay: u64, time_scale: f64) -> u64 {
        scaled(
            self.wait_seconds.saturating_add(deregistration_delay),
            time_scale,
        )
    }
}

/// An Auto Scaling group as the clean-up sees it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GroupView {
    pub desired: i32,
    pub min: i32,
    /// The target groups it is attached to.
    pub target_groups: Vec<String>,
    /// Its instances' ids.
    pub instances: Vec<String>,
}

/// What to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resize {
    /// The group is at (or below) the size asked for: nothing to write.
    AlreadyThere,
    /// Set the desired capacity, and the minimum when it is above it.
    To { desired: i32, min: i32 },
}

/// Who the group serves, and where the traffic is.
pub struct Facts<'a> {
    pub weights: Weights,
    pub blue: &'a str,
    pub green: &'a str,
    pub group: &'a GroupView,
    /// Instance ids registered in each target group.
    pub blue_targets: &'a [String],
    pub green_targets: &'a [String],
}

/// The decision, pure: `Err` is the reason the group is left alone.
pub fn judge(request: &ScaleDown, facts: &Facts<'_>) -> Result<Resize, String> {
    let Facts { weights, group, .. } = facts;
    if weights.blue != 0 {
        return Err(format!(
            "blue still has weight {} (green {}) in the forward action: the rollout is not complete, or traffic went back to blue",
            weights.blue, weights.green
        ));
    }
    if weights.green <= 0 {
        return Err("green has no weight in the forward action either".into());
    }
    if group.target_groups.iter().any(|tg| tg == facts.green) {
        return Err("the group is attached to green's target group".into());
    }
    let serving: Vec<&str> = group
        .instances
        .iter()
        .filter(|id| facts.green_targets.contains(id))
        .map(String::as_str)
        .collect();
    if !serving.is_empty() {
        return Err(format!(
            "its instances {} are targets of green",
            serving.join(", ")
        ));
    }
    let blues = group.target_groups.iter().any(|tg| tg == facts.blue)
        || group
            .instances
            .iter()
            .any(|id| facts.blue_targets.contains(id));
    if !blues {
        return Err(
            "the group is not attached to blue's target group and none of its instances is a target of blue"
                .into(),
        );
    }
    let desired = i32::try_from(request.desired_capacity).unwrap_or(i32::MAX);
    if group.desired <= desired {
        return Ok(Resize::AlreadyThere);
    }
    Ok(Resize::To {
        desired,
        min: group.min.min(desired),
    })
}

/// What the completing step hands the state machine when the spec asks for a clean-up: the
/// next action and the wait before it (blue's deregistration delay read now).
pub(crate) async fn schedule<P: Ports>(ctx: &Step<'_, P>, out: &mut Output) {
    let Some(request) = &ctx.spec.scale_down else {
        return;
    };
    if !(out.done && out.status == Status::Completed) {
        return;
    }
    let delay = match ctx
        .deps
        .elb
        .deregistration_delay(&ctx.spec.blue, ctx.until)
        .await
    {
        Ok(seconds) => seconds,
        Err(err) => {
            // Later, never earlier: the longest delay the ALB allows.
            tracing::warn!(error = %err, "blue's deregistration delay unreadable; waiting the longest");
            MAX_DEREGISTRATION_DELAY_SECONDS
        }
    };
    out.action = Action::ScaleDown;
    out.wait_seconds = request.wait_seconds(delay, ctx.spec.time_scale);
    out.watching = false;
    out.wait_until_ms = None;
    tracing::info!(
        auto_scaling_group = request.auto_scaling_group,
        deregistration_delay = delay,
        wait_seconds = out.wait_seconds,
        "blue's group is scaled in after the wait"
    );
}

/// `scale_down`: under the listener's lease, checks that the listener still sends blue nothing
/// and that the group is blue's, then sets its size. The lease is released on every path.
pub(crate) async fn scale_down<P: Ports>(ctx: &mut Step<'_, P>) -> Result<Output, Error> {
    let Some(request) = ctx.spec.scale_down.clone() else {
        return Err(invalid(
            "scale_down needs scale_down_blue (the Auto Scaling group to scale in)",
        ));
    };
    let mut seen = Seen::default();
    let result = scale_down_held(ctx, &request, &mut seen).await;
    ctx.release().await;
    if !matches!(result, Err(Error::Throttled { .. })) {
        let (outcome, reason) = match &result {
            // The summary says what was done; a reason is for a refusal.
            Ok(_) => (rollout_kit::Outcome::Succeeded, None),
            Err(err) => (rollout_kit::Outcome::Failed, Some(err.to_string())),
        };
        let written = matches!(&result, Ok(out) if !out.already_applied);
        let event = crate::notify::scale_down_event(
            ctx.spec,
            &request,
            seen.desired_before,
            written,
            outcome,
            reason,
        );
        ctx.publish_event(event).await;
    }
    result
}

/// What was read, for the event.
#[derive(Default)]
struct Seen {
    desired_before: Option<i32>,
}

async fn scale_down_held<P: Ports>(
    ctx: &mut Step<'_, P>,
    request: &ScaleDown,
    seen: &mut Seen,
) -> Result<Output, Error> {
    let spec: &Spec = ctx.spec;
    let refused = |reason: String| Error::ScaleDownRefused {
        group: request.auto_scaling_group.clone(),
        reason,
    };
    // Nobody shifts this listener while the group shrinks; another rollout's lease refuses.
    ctx.hold().await.map_err(|err| match err {
        Error::LeaseHeld { holder, .. } => {
            refused(format!("another rollout ({holder}) holds the listener"))
        }
        other => other,
    })?;
    let before = ctx.deps.elb.read_actions(&spec.target, ctx.until).await?;
    let located = actions::locate(&before, spec.target.arn(), &spec.blue, &spec.green)?;
    let group = ctx
        .deps
        .groups
        .describe(&request.auto_scaling_group, ctx.until)
        .await?
        .ok_or_else(|| refused("no Auto Scaling group has that name".into()))?;
    seen.desired_before = Some(group.desired);
    let blue_targets = ctx.deps.elb.target_ids(&spec.blue, ctx.until).await?;
    let green_targets = ctx.deps.elb.target_ids(&spec.green, ctx.until).await?;
    let facts = Facts {
        weights: located.weights,
        blue: &spec.blue,
        green: &spec.green,
        group: &group,
        blue_targets: &blue_targets,
        green_targets: &green_targets,
    };
    let resize = judge(request, &facts).map_err(refused)?;
    let plan = ctx.plan;
    let mut out = Output::new(spec, plan, Status::ScaledDown, located.weights);
    out.action = Action::ScaleDown;
    out.done = true;
    out.step = plan.len() as u32;
    let (desired, min) = match resize {
        Resize::AlreadyThere => {
            out.already_applied = true;
            out.reason = Some(format!(
                "{} already has desired capacity {} (asked: {})",
                request.auto_scaling_group, group.desired, request.desired_capacity
            ));
            return Ok(out.held_by(&ctx.rollout));
        }
        Resize::To { desired, min } => (desired, min),
    };
    // The last look before the write: still our lease, and the forward action as read.
    ctx.still_held(0).await?;
    match ctx.reread(&before, &located, None).await? {
        Reread::Unchanged(..) => {}
        Reread::AlreadyWritten | Reread::Drift(_) => {
            return Err(refused(
                "the forward action changed while the group was checked".into(),
            ));
        }
    }
    ctx.deps
        .groups
        .set_capacity(&request.auto_scaling_group, desired, min, ctx.until)
        .await?;
    tracing::info!(
        auto_scaling_group = request.auto_scaling_group,
        from = group.desired,
        to = desired,
        min,
        "blue's group scaled in"
    );
    out.reason = Some(format!(
        "{} set from {} to {desired} instances; each drains for blue's deregistration delay before it stops",
        request.auto_scaling_group, group.desired
    ));
    Ok(out.held_by(&ctx.rollout))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const BLUE: &str = "tg/blue";
    const GREEN: &str = "tg/green";

    fn request(desired: u32) -> ScaleDown {
        ScaleDown {
            auto_scaling_group: "web-blue".into(),
            desired_capacity: desired,
            wait_seconds: 0,
        }
    }

    fn group(target_groups: &[&str], instances: &[&str], desired: i32) -> GroupView {
        GroupView {
            desired,
            min: desired,
            target_groups: target_groups.iter().map(|s| s.to_string()).collect(),
            instances: instances.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn judge_with(
        weights: (i32, i32),
        group: &GroupView,
        blue_targets: &[&str],
        green_targets: &[&str],
        desired: u32,
    ) -> Result<Resize, String> {
        let own = |ids: &[&str]| ids.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let (blue_targets, green_targets) = (own(blue_targets), own(green_targets));
        judge(
            &request(desired),
            &Facts {
                weights: Weights {
                    blue: weights.0,
                    green: weights.1,
                },
                blue: BLUE,
                green: GREEN,
                group,
                blue_targets: &blue_targets,
                green_targets: &green_targets,
            },
        )
    }

    #[test]
    fn blues_group_with_all_traffic_on_green_goes_to_the_size_asked_with_its_minimum() {
        let g = group(&[BLUE], &["i-1", "i-2"], 2);
        assert_eq!(
            judge_with((0, 999), &g, &["i-1", "i-2"], &[], 0),
            Ok(Resize::To { desired: 0, min: 0 })
        );
        // A minimum already below the size asked for stays.
        let mut g = group(&[BLUE], &[], 4);
        g.min = 1;
        assert_eq!(
            judge_with((0, 1), &g, &[], &[], 2),
            Ok(Resize::To { desired: 2, min: 1 })
        );
    }

    #[test]
    fn a_group_at_or_below_the_size_is_left_alone_never_scaled_up() {
        let g = group(&[BLUE], &[], 0);
        assert_eq!(
            judge_with((0, 999), &g, &[], &[], 0),
            Ok(Resize::AlreadyThere)
        );
        let g = group(&[BLUE], &["i-1"], 1);
        assert_eq!(
            judge_with((0, 999), &g, &[], &[], 3),
            Ok(Resize::AlreadyThere)
        );
    }

    #[test]
    fn blue_with_weight_is_refused_whatever_the_group() {
        let g = group(&[BLUE], &["i-1"], 2);
        let why = judge_with((100, 900), &g, &["i-1"], &[], 0).unwrap_err();
        assert!(why.contains("blue still has weight 100"), "{why}");
        let why = judge_with((0, 0), &g, &["i-1"], &[], 0).unwrap_err();
        assert!(why.contains("green has no weight"), "{why}");
    }

    #[test]
    fn a_group_that_serves_green_or_is_not_blues_is_refused() {
        let attached = group(&[BLUE, GREEN], &[], 2);
        let why = judge_with((0, 999), &attached, &[], &[], 0).unwrap_err();
        assert!(why.contains("attached to green"), "{why}");
        let registered = group(&[], &["i-1", "i-2"], 2);
        let why = judge_with((0, 999), &registered, &["i-1"], &["i-2"], 0).unwrap_err();
        assert!(why.contains("i-2 are targets of green"), "{why}");
        let stranger = group(&["tg/other"], &["i-9"], 2);
        let why = judge_with((0, 999), &stranger, &["i-1"], &[], 0).unwrap_err();
        assert!(why.contains("not attached to blue"), "{why}");
        // Blue's by registration alone (no attachment) is blue's.
        assert_eq!(
            judge_with((0, 999), &registered, &["i-1", "i-2"], &[], 0),
            Ok(Resize::To { desired: 0, min: 0 })
        );
    }

    #[test]
    fn the_request_is_parsed_strictly_and_its_wait_adds_the_delay_then_scales() {
        let r = ScaleDown::parse(&json!({"auto_scaling_group": " web-blue "})).unwrap();
        assert_eq!(r, request(0));
        assert_eq!(r.wait_seconds(300, 1.0), 300);
        let r = ScaleDown::parse(
            &json!({"auto_scaling_group": "web-blue", "desired_capacity": 1, "wait_seconds": 600}),
        )
        .unwrap();
        assert_eq!(r.wait_seconds(300, 0.1), 90);
        for bad in [
            json!({"auto_scaling_group": ""}),
            json!({"auto_scaling_group": "a\nb"}),
            json!({"group": "web-blue"}),
            json!({"auto_scaling_group": "web-blue", "desired_capacity": -1}),
            json!({"auto_scaling_group": "web-blue", "desired_capacity": 100001}),
            json!({"auto_scaling_group": "web-blue", "wait_seconds": 40000000}),
            json!("web-blue"),
        ] {
            let err = ScaleDown::parse(&bad).unwrap_err();
            assert!(matches!(err, Error::InvalidSpec(_)), "{bad}: {err}");
        }
    }
}
