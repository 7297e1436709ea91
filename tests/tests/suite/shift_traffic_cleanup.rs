//! The clean-up after a completed rollout (`scale_down_blue`): blue's Auto Scaling group is
//! scaled in by `statemachine/rollout.asl.json` in the bench's interpreter, the real
//! shift-traffic binary and moto's Auto Scaling, and a group that is not blue's never is.

use crate::shift_traffic_support::{Alb, Ending, Execution, state_machine};
use rollout_bench::Bench;
use rollout_bench::shift_world::{FleetSize, Fleets, now_ms};
use rollout_kit::{Outcome, RolloutDetail, ScaleDownDetail};
use serde_json::{Value, json};

/// Blue's fleet (3 instances) behind blue, green's (2) behind green.
async fn fleets(bench: &Bench, alb: &Alb) -> Fleets {
    let fleets = Fleets::new(bench).await;
    fleets.create("shop-web-blue", &alb.blue, 3).await;
    fleets.create("shop-web-green", &alb.green, 2).await;
    fleets
}

/// A 10 % canary whose completion scales `group` in, waits at 1/1000.
fn spec(alb: &Alb, group: &str) -> Value {
    let mut spec = alb.spec(
        "start",
        json!({"steps": [{"percent": 10, "wait_seconds": 10}, {"percent": 100}]}),
    );
    spec["bake_seconds"] = json!(10);
    spec["scale_down_blue"] = json!({"auto_scaling_group": group, "wait_seconds": 600});
    spec
}

fn scale_down_events(bench: &Bench) -> Vec<(Outcome, Option<String>, ScaleDownDetail)> {
    bench
        .front
        .rollout_events()
        .into_iter()
        .filter_map(|e| match e.detail {
            RolloutDetail::ScaleDown(d) => Some((e.outcome, e.reason, d)),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blues_fleet_is_scaled_in_after_the_rollout_completes_and_the_delay_passes() {
    let bench = Bench::start().await;
    let alb = Alb::create(&bench).await;
    let fleets = fleets(&bench, &alb).await;
    let function = alb.function(&bench).await;
    let execution = Execution::new(state_machine(), spec(&alb, "shop-web-blue"))
        .run(&function, 100)
        .await;
    assert!(
        matches!(execution.ending, Some(Ending::Succeeded(_))),
        "{:?} {:?}\n{}",
        execution.ending,
        execution.names(),
        function.logs()
    );
    let names = execution.names();
    let completed = names
        .iter()
        .position(|n| *n == "WaitBeforeScaleDown")
        .expect("the clean-up's wait");
    assert_eq!(
        names[completed..],
        ["WaitBeforeScaleDown", "ScaleDownBlue", "BlueScaledDown"],
        "{names:?}"
    );
    // The completing step's wait: 600 s asked + moto's default 300 s delay, at 1/1000.
    let wait = &execution.visits[completed - 2].output;
    assert_eq!(wait["status"], "Completed", "{wait}");
    assert_eq!(wait["wait_seconds"], 1, "{wait}");
    assert_eq!(alb.listener_weights().await, (0, 999));
    assert_eq!(
        fleets.size("shop-web-blue").await,
        FleetSize {
            desired: 0,
            min: 0,
            instances: 0
        }
    );
    assert_eq!(
        fleets.size("shop-web-green").await.desired,
        2,
        "green untouched"
    );
    let events = scale_down_events(&bench);
    assert_eq!(events.len(), 1, "{events:?}");
    let (outcome, _, detail) = &events[0];
    assert_eq!(*outcome, Outcome::Succeeded);
    assert!(detail.scaled);
    assert_eq!((detail.desired_before, detail.desired_after), (Some(3), 0));
    // The clean-up released the listener: the next rollout may start.
    let (_, _, expires) = alb.lease(&alb.listener_arn).await.expect("the lease item");
    assert!(expires <= now_ms(), "released");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_that_serves_green_or_a_listener_back_on_blue_is_never_scaled_in() {
    let bench = Bench::start().await;
    let alb = Alb::create(&bench).await;
    let fleets = fleets(&bench, &alb).await;
    let function = alb.function(&bench).await;
    // The spec names green's group by mistake: refused, the rollout itself complete.
    let execution = Execution::new(state_machine(), spec(&alb, "shop-web-green"))
        .run(&function, 100)
        .await;
    assert!(
        matches!(&execution.ending, Some(Ending::Failed { error, cause })
            if error == "ScaleDownFailed" && cause.contains("attached to green")),
        "{:?}",
        execution.ending
    );
    assert_eq!(
        alb.listener_weights().await,
        (0, 999),
        "the traffic stays on green"
    );
    assert_eq!(fleets.size("shop-web-green").await.desired, 2);
    assert_eq!(fleets.size("shop-web-blue").await.desired, 3);
    // Traffic went back to blue after the rollout: the clean-up of blue's own group refuses.
    let completed = execution
        .visits
        .iter()
        .find(|v| v.output["status"] == "Completed")
        .expect("a completed step")
        .output
        .clone();
    let mut again = completed;
    again["scale_down_blue"]["auto_scaling_group"] = json!("shop-web-blue");
    alb.set_listener(vec![rollout_bench::shift_world::forward(
        &[(&alb.blue, 999), (&alb.green, 0)],
        None,
    )])
    .await;
    let refused = function.invoke(again).await;
    let logs = function.logs();
    assert!(
        format!("{:?}", refused.outcome).contains("ScaleDownRefused"),
        "{:?}\n{logs}",
        refused.outcome
    );
    assert_eq!(fleets.size("shop-web-blue").await.desired, 3);
    let events = scale_down_events(&bench);
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(
        events
            .iter()
            .all(|(o, _, d)| *o == Outcome::Failed && !d.scaled)
    );
    assert!(
        events[1]
            .1
            .as_deref()
            .unwrap_or_default()
            .contains("blue still has weight 999"),
        "{:?}",
        events[1]
    );
}
