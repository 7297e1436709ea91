//! `make demo SCENARIO=asg`: a canary of an Auto Scaling fleet behind an ALB, without
//! CodeDeploy (the classic CI + ASG setup). Green's group is attached to green's target group;
//! `statemachine/rollout.asl.json` runs in the bench's interpreter and validates green through
//! its test listener before the first shift and after each step, holds at a pause until a
//! person approves from Slack (the demo plays the person: it reads the approval message and
//! answers the task token), goes to 100 %, and scales blue's group in after the clean-up wait.

use std::sync::Arc;
use std::time::Instant;

use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::asl::{Ending, Execution, Lambdas, SHIFT_TRAFFIC_ARN, TaskTokens, VALIDATE_TRAFFIC_ARN};
use crate::demo::{
    Functions, Summary, Timeline, deliver_published, draw_weights, green_percent_now, note_shift,
    start_functions,
};
use crate::shift_world::Fleets;
use crate::target::{Behavior, HttpTarget};
use crate::world::{ALARM, ReleaseWorld, TEST_PORT, create_alarm};
use crate::{Bench, ForwardProxy};

const BLUE_FLEET: &str = "checkout-web-v1";
const GREEN_FLEET: &str = "checkout-web-v2";
/// Who approves the pause in the demo.
const APPROVER: &str = "alice (from Slack)";

/// What the timeline and the summary are, shared by the execution and the person who approves.
struct Shared {
    timeline: Timeline,
    summary: Summary,
}

/// Runs the scenario. `quiet` keeps stdout clean (for tests); the timeline is returned either way.
pub async fn run(quiet: bool) -> (Summary, String) {
    let shared = Arc::new(Mutex::new(Shared {
        timeline: Timeline {
            started: Instant::now(),
            quiet,
            text: String::new(),
        },
        summary: Summary::default(),
    }));
    let bench = Bench::start().await;
    let config = bench.sdk_config().await;
    let world = ReleaseWorld::create(&config).await;
    let fleets = Fleets::new(&bench).await;
    fleets
        .create(BLUE_FLEET, &world.blue_target_group_arn, 4)
        .await;
    fleets
        .create(GREEN_FLEET, &world.green_target_group_arn, 4)
        .await;
    let blue = HttpTarget::start_with(Behavior::ok("checkout v1 ok")).await;
    let green = HttpTarget::start_with(Behavior::ok("checkout v2 ok")).await;
    let proxy = ForwardProxy::start().await;
    // The emulated ALB resolves nowhere; the proxy sends each listener's traffic on.
    proxy.route(
        &format!("{}:{TEST_PORT}", world.load_balancer_dns),
        green.addr(),
    );
    proxy.route(&format!("{}:80", world.load_balancer_dns), blue.addr());
    create_alarm(&config).await;
    let ciphertext = world
        .encrypt_webhook(&config, &bench.slack.webhook_url(), Some("notify-slack"))
        .await;
    let functions = start_functions(&bench, &world, &proxy, &ciphertext).await;
    {
        let mut s = shared.lock().await;
        let t = &mut s.timeline;
        t.line(
            "demo",
            "canary of an Auto Scaling fleet without CodeDeploy: validated, approved, blue scaled in",
        );
        t.line(
            "world",
            format!(
                "ALB {} · prod :80 → blue · test :{TEST_PORT} → green · groups {BLUE_FLEET} (4, blue's target group) and {GREEN_FLEET} (4, green's)",
                world.load_balancer_dns
            ),
        );
        t.line(
            "services",
            format!("blue v1 on {} · green v2 on {}", blue.addr(), green.addr()),
        );
    }

    // Ten percent for ten minutes, a pause for a person (an hour, then roll back), all of it,
    // a ten-minute bake; then blue's group to zero ten minutes after the rollout. At 1/300 the
    // same plan takes seconds.
    let spec = json!({
        "action": "start",
        "listener_arn": world.prod_listener_arn,
        "blue_target_group_arn": world.blue_target_group_arn,
        "green_target_group_arn": world.green_target_group_arn,
        "strategy": {"steps": [
            {"percent": 10, "wait_seconds": 600},
            {"pause": {"timeout_seconds": 3600, "on_timeout": "rollback"}},
            {"percent": 100},
        ]},
        "alarms": [ALARM],
        "health_gate": false,
        "bake_seconds": 600,
        "time_scale": 1.0 / 300.0,
        "validate": {"listener_arn": world.test_listener_arn, "settings": {"probeRequests": 20}},
        "validate_after_each_step": true,
        "scale_down_blue": {"auto_scaling_group": BLUE_FLEET, "wait_seconds": 600},
    });
    shared.lock().await.timeline.line(
        "spec",
        "10 % for 10 min · pause for approval (1 h, then rollback) · 100 % · bake 10 min · blue's group to 0 after 10 min + its deregistration delay · time_scale 1/300",
    );
    let execution = Execution::new(crate::asl::state_machine(), spec);
    let tokens = execution.tokens();
    let lambdas = Lambdas(vec![
        (SHIFT_TRAFFIC_ARN, &functions.shift),
        (VALIDATE_TRAFFIC_ARN, &functions.validate),
    ]);
    let (execution, ()) = tokio::join!(
        walk(execution, &lambdas, &functions, &bench, &world, &shared),
        approve(&tokens, &functions, &bench, &world, &shared),
    );

    let mut guard = shared.lock().await;
    let Shared { timeline, summary } = &mut *guard;
    deliver_published(&functions, &bench, &world, timeline, summary).await;
    match &execution.ending {
        Some(Ending::Succeeded(_)) => {}
        other => summary
            .problems
            .push(format!("the execution ended {other:?}")),
    }
    summary.final_green_percent = green_percent_now(&config, &world).await;
    let (blue_after, green_after) = (
        fleets.size(BLUE_FLEET).await,
        fleets.size(GREEN_FLEET).await,
    );
    summary.blue_fleet_after = Some(blue_after.desired);
    timeline.line(
        "fleets",
        format!(
            "{BLUE_FLEET}: desired {} ({} instances) · {GREEN_FLEET}: desired {} ({} instances)",
            blue_after.desired, blue_after.instances, green_after.desired, green_after.instances
        ),
    );
    let expected = summary.as_expected(crate::demo::Scenario::Asg);
    timeline.line(
        "summary",
        format!(
            "validation {} · approved by {} · green {:.0} % · {} states · Slack messages {} · {}",
            summary.hook_status.as_deref().unwrap_or("not run"),
            summary.approved_by.as_deref().unwrap_or("nobody"),
            summary.final_green_percent,
            execution.transitions(),
            summary.slack_messages.len(),
            if expected {
                "as expected"
            } else {
                "NOT as expected"
            }
        ),
    );
    for problem in summary.problems.clone() {
        timeline.line("problem", problem);
    }
    (summary.clone(), timeline.text.clone())
}

/// The execution, state by state: what each state did, and every event delivered to Slack.
async fn walk(
    mut execution: Execution,
    lambdas: &Lambdas<'_>,
    functions: &Functions,
    bench: &Bench,
    world: &ReleaseWorld,
    shared: &Mutex<Shared>,
) -> Execution {
    for _ in 0..300 {
        // Not locked while a state runs: the person answers the pause meanwhile.
        let Some(visit) = execution.advance(lambdas).await.cloned() else {
            break;
        };
        let mut guard = shared.lock().await;
        let Shared { timeline, summary } = &mut *guard;
        let out = &visit.output;
        match visit.state.as_str() {
            "Validate" | "ValidateStep" => {
                let verdict = &out["validation"]["Payload"];
                let status = verdict["verdict"].as_str().unwrap_or("?");
                if visit.state == "Validate" || status != "Passed" {
                    summary.hook_status = Some(match status {
                        "Passed" => "Succeeded".into(),
                        other => other.to_string(),
                    });
                }
                timeline.line(
                    "validate",
                    format!(
                        "{} → {status}: {} of {} passed, p95 {} ms · {}",
                        visit.state,
                        verdict["passed"],
                        verdict["requests"],
                        verdict["p95Ms"],
                        verdict["target"].as_str().unwrap_or("")
                    ),
                );
            }
            "Shift" | "Rollback" | "ScaleDownBlue" if out.get("status").is_some() => {
                note_shift(summary, out);
                draw_weights(timeline, out);
                if out["action"] == "scale_down" && out["status"] == "Completed" {
                    timeline.line(
                        "clean-up",
                        format!(
                            "blue's group is scaled in after {} s (10 min + the deregistration delay, at 1/300)",
                            out["wait_seconds"]
                        ),
                    );
                }
            }
            "Watch" => {}
            "AwaitApproval" => {
                let by = out["approved"]["approved_by"].as_str().unwrap_or("?");
                timeline.line("pause", format!("approved by {by}: the step goes on"));
            }
            "Wait" | "WaitThenWatch" | "WaitBeforeScaleDown" => {
                timeline.line("wait", format!("{} {} s", visit.state, out["wait_seconds"]));
            }
            other => timeline.line("state", other),
        }
        deliver_published(functions, bench, world, timeline, summary).await;
    }
    execution
}

/// The person: waits for the approval message in Slack, reads the command in it and answers the
/// task token as `aws stepfunctions send-task-success` would.
async fn approve(
    tokens: &TaskTokens,
    functions: &Functions,
    bench: &Bench,
    world: &ReleaseWorld,
    shared: &Mutex<Shared>,
) {
    for _ in 0..1200 {
        // The token exists as soon as the pause starts; the message once shift-traffic sent it.
        if let Some(token) = tokens.pending().pop()
            && approval_published(bench)
        {
            let mut guard = shared.lock().await;
            let Shared { timeline, summary } = &mut *guard;
            // The approval event the pause published, on its way to Slack.
            deliver_published(functions, bench, world, timeline, summary).await;
            let asked = summary
                .slack_messages
                .iter()
                .rev()
                .find(|m| m.contains("send-task-success"))
                .is_some();
            if !asked {
                summary
                    .problems
                    .push("no Slack message carried the approve command".into());
            }
            timeline.line(
                "person",
                format!("{APPROVER} runs the approve command from the Slack message"),
            );
            summary.approved_by = Some(APPROVER.into());
            drop(guard);
            tokens.succeed(&token, json!({"approved_by": APPROVER}));
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    shared
        .lock()
        .await
        .summary
        .problems
        .push("the rollout never asked for approval".into());
}

fn approval_published(bench: &Bench) -> bool {
    bench
        .front
        .rollout_events()
        .iter()
        .any(|e| matches!(e.detail, rollout_kit::RolloutDetail::Approval(_)))
}

/// For the demo's test: what the scenario printed must show every part.
pub fn shows_every_part(text: &str) -> Result<(), Value> {
    let wanted = [
        "Validate → Passed",
        "ValidateStep → Passed",
        "approved by",
        "ScaledDown",
        "Blue scaled in",
    ];
    let missing: Vec<&str> = wanted
        .iter()
        .copied()
        .filter(|w| !text.contains(w))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(json!(missing))
    }
}
