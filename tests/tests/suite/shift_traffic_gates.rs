//! Human gates: a rollout that pauses for a person, run by `statemachine/rollout.asl.json` in the
//! bench's interpreter against the real shift-traffic binary and moto. The test plays the person:
//! it reads the approval event the rollout published (with the task token in its commands) and
//! answers the token as `send-task-success` / `send-task-failure` would, or lets it time out.

use std::time::Duration;

use crate::shift_traffic_support::{Alb, Ending, Execution, state_machine};
use rollout_bench::Bench;
use rollout_bench::asl::TaskTokens;
use rollout_kit::RolloutDetail;
use serde_json::{Value, json};

/// 10 % for 10 s, then a pause (`timeout_seconds` before the 1/1000 scale), then 100 %.
fn paused(alb: &Alb, timeout_seconds: u64, on_timeout: &str) -> Value {
    let mut spec = alb.spec(
        "start",
        json!({"steps": [
            {"percent": 10, "wait_seconds": 10},
            {"pause": {"timeout_seconds": timeout_seconds, "on_timeout": on_timeout}},
            {"percent": 100},
        ]}),
    );
    spec["time_scale"] = json!(0.001);
    spec
}

/// The approval events published so far.
fn approvals(bench: &Bench) -> Vec<rollout_kit::ApprovalDetail> {
    bench
        .front
        .rollout_events()
        .into_iter()
        .filter_map(|e| match e.detail {
            RolloutDetail::Approval(a) => Some(a),
            _ => None,
        })
        .collect()
}

/// Waits for the execution's token and the approval event that carries it.
async fn approval_asked(
    bench: &Bench,
    tokens: &TaskTokens,
) -> (String, rollout_kit::ApprovalDetail) {
    for _ in 0..400 {
        if let (Some(token), Some(event)) = (tokens.pending().pop(), approvals(bench).pop()) {
            return (token, event);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no approval was asked for");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_waits_for_approval_then_goes_on() {
    let bench = Bench::start().await;
    let alb = Alb::create(&bench).await;
    let function = alb.function(&bench).await;
    let execution = Execution::new(state_machine(), paused(&alb, 60_000, "rollback"));
    let tokens = execution.tokens();
    let person = async {
        let (token, asked) = approval_asked(&bench, &tokens).await;
        // The rollout holds at 10 % while it waits; the event says so and how to answer.
        assert_eq!(alb.listener_weights().await, (900, 100));
        assert_eq!(
            (asked.green_percent, asked.next_green_percent),
            (10.0, 100.0)
        );
        assert_eq!((asked.step, asked.total_steps), (2, 2));
        assert_eq!(asked.on_timeout, "rollback");
        assert_eq!(asked.timeout_seconds, 60);
        assert!(
            asked
                .approve_command
                .contains(&format!("send-task-success --task-token '{token}'")),
            "{}",
            asked.approve_command
        );
        assert!(asked.reject_command.contains("send-task-failure"));
        tokens.succeed(&token, json!({"approved_by": "alice"}));
    };
    let (execution, ()) = tokio::join!(execution.run(&function, 100), person);
    assert!(
        matches!(execution.ending, Some(Ending::Succeeded(_))),
        "{:?} {:?}",
        execution.ending,
        execution.names()
    );
    assert_eq!(alb.listener_weights().await, (0, 999));
    let names = execution.names();
    let asked = names
        .iter()
        .position(|n| *n == "AwaitApproval")
        .expect("a pause");
    assert_eq!(names[asked - 2], "Shift", "{names:?}");
    assert_eq!(names[asked + 1], "Shift", "{names:?}");
    assert_eq!(approvals(&bench).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_pause_rolls_back_with_the_reason() {
    let bench = Bench::start().await;
    let alb = Alb::create(&bench).await;
    let function = alb.function(&bench).await;
    let execution = Execution::new(state_machine(), paused(&alb, 60_000, "promote"));
    let tokens = execution.tokens();
    let person = async {
        let (token, _) = approval_asked(&bench, &tokens).await;
        tokens.fail(&token, "Rejected", "checkout latency doubled");
    };
    let (execution, ()) = tokio::join!(execution.run(&function, 100), person);
    assert!(
        matches!(&execution.ending, Some(Ending::Failed { error, .. }) if error == "RolledBack"),
        "{:?}",
        execution.ending
    );
    assert_eq!(alb.listener_weights().await, (999, 0));
    let rolled_back = execution
        .visits
        .iter()
        .find(|v| v.state == "Rollback")
        .expect("a rollback");
    let reason = rolled_back.output["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("Rejected: checkout latency doubled"),
        "{reason}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_nobody_answers_does_what_its_on_timeout_says() {
    let bench = Bench::start().await;
    let alb = Alb::create(&bench).await;
    let function = alb.function(&bench).await;
    let all_blue = alb.listener_actions().await;
    // 1000 s at 1/1000: a one-second pause.
    for (on_timeout, ending, weights) in [
        ("rollback", "RolledBack", (999, 0)),
        ("promote", "", (0, 999)),
        ("stop", "ApprovalTimedOut", (900, 100)),
    ] {
        // Each case from all blue, the listener free (a stopped rollout's lease outlives it).
        alb.set_listener(all_blue.clone()).await;
        alb.clear_lease(&alb.listener_arn).await;
        let execution = Execution::new(state_machine(), paused(&alb, 1000, on_timeout))
            .run(&function, 100)
            .await;
        match (&execution.ending, ending) {
            (Some(Ending::Succeeded(_)), "") => {}
            (Some(Ending::Failed { error, .. }), expected) if error == expected => {}
            other => panic!("{on_timeout}: {other:?} {:?}", execution.names()),
        }
        assert_eq!(alb.listener_weights().await, weights, "{on_timeout}");
        assert!(
            execution.names().contains(&"ApprovalTimedOut?"),
            "{on_timeout}: {:?}",
            execution.names()
        );
        if on_timeout == "rollback" {
            let rollback = execution.visits.iter().find(|v| v.state == "Rollback");
            let reason = rollback
                .map(|v| v.output["reason"].to_string())
                .unwrap_or_default();
            assert!(
                reason.contains("nobody approved step 2 within 1 s"),
                "{reason}"
            );
        }
    }
}

/// shift-traffic and validate-traffic, each answering for its ARN in the state machine.
struct Validated {
    shift: rollout_bench::LambdaFn,
    validate: rollout_bench::LambdaFn,
}

impl Validated {
    fn lambdas(&self) -> rollout_bench::asl::Lambdas<'_> {
        use rollout_bench::asl::{Lambdas, SHIFT_TRAFFIC_ARN, VALIDATE_TRAFFIC_ARN};
        Lambdas(vec![
            (SHIFT_TRAFFIC_ARN, &self.shift),
            (VALIDATE_TRAFFIC_ARN, &self.validate),
        ])
    }
}

async fn validated(bench: &Bench, alb: &Alb) -> Validated {
    Validated {
        shift: alb.function(bench).await,
        validate: rollout_bench::LambdaFn::start(
            "validate-traffic",
            bench,
            &[("NOTIFICATION_TOPIC_ARN", alb.topic_arn.as_str())],
        )
        .await,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_validation_ends_the_rollout_before_anything_is_written() {
    use rollout_bench::{Behavior, HttpTarget};

    let bench = Bench::start().await;
    let alb = Alb::create(&bench).await;
    let pair = validated(&bench, &alb).await;
    let functions = pair.lambdas();
    let green = HttpTarget::start_with(Behavior::status(503, "checkout v2: no database")).await;
    let before = alb.listener_actions().await;

    let mut input = alb.spec("start", json!("Canary10Percent5Minutes"));
    input["validate"] = json!({"target_url": green.url(), "settings": {"probeRequests": 4}});
    let execution = Execution::new(state_machine(), input)
        .run(&functions, 50)
        .await;
    match &execution.ending {
        Some(Ending::Failed { error, cause }) => {
            assert_eq!(error, "ValidationFailed");
            assert!(cause.contains("success ratio"), "{cause}");
        }
        other => panic!("{other:?} {:?}", execution.names()),
    }
    assert_eq!(
        execution.names(),
        [
            "Identify",
            "Begin",
            "Validate",
            "Validated?",
            "ValidationFailed"
        ]
    );
    // Nothing was ever written, no lease was taken, and the verdict's evidence went out.
    assert_eq!(bench.front.count("ModifyListener"), 0);
    assert_eq!(alb.listener_actions().await, before);
    assert!(alb.lease(&alb.listener_arn).await.is_none());
    assert_eq!(green.request_count(), 4);
    let evidence: Vec<String> = bench
        .front
        .rollout_events()
        .into_iter()
        .filter_map(|e| match e.detail {
            RolloutDetail::Validation(v) => Some(v.failures.join(" | ")),
            _ => None,
        })
        .collect();
    assert_eq!(evidence.len(), 1, "{evidence:?}");
    assert!(evidence[0].contains("503"), "{evidence:?}");
    // The verdict names the rollout by its execution's name, as Slack shows it.
    let named = bench.front.rollout_events().into_iter().any(|e| {
        matches!(e.detail, RolloutDetail::Validation(v) if !v.deployment_id.starts_with("arn:")
            && v.deployment_id.starts_with("run-"))
    });
    assert!(named, "{:?}", bench.front.sns_messages());

    // The same rollout with a healthy green validates, then shifts as always.
    green.set(Behavior::ok("checkout v2 ok"));
    let mut input = alb.spec("start", json!("AllAtOnce"));
    input["validate"] = json!({"target_url": green.url(), "settings": {"probeRequests": 4}});
    let execution = Execution::new(state_machine(), input)
        .run(&functions, 50)
        .await;
    assert!(
        matches!(execution.ending, Some(Ending::Succeeded(_))),
        "{:?} {:?}",
        execution.ending,
        execution.names()
    );
    assert_eq!(alb.listener_weights().await, (0, 999));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_validation_after_a_step_that_fails_rolls_back_with_its_reason() {
    use rollout_bench::{Behavior, HttpTarget};

    let bench = Bench::start().await;
    let alb = Alb::create(&bench).await;
    let pair = validated(&bench, &alb).await;
    let functions = pair.lambdas();
    let green = HttpTarget::start_with(Behavior::ok("checkout v2 ok")).await;
    let mut input = alb.spec(
        "start",
        json!({"steps": [{"percent": 10, "wait_seconds": 10}, {"percent": 50, "wait_seconds": 10}, {"percent": 100}]}),
    );
    input["validate"] = json!({"target_url": green.url(), "settings": {"probeRequests": 4}});
    input["validate_after_each_step"] = json!(true);
    let mut execution = Execution::new(state_machine(), input);
    let mut step_validations = 0;
    while let Some(visit) = execution.advance(&functions).await {
        if visit.state == "ValidateStep" {
            step_validations += 1;
            assert_eq!(visit.output["validation"]["Payload"]["verdict"], "Passed");
            // Green starts failing once it takes 10 %: the next step's validation sees it.
            green.set(Behavior::status(500, "checkout v2: pool exhausted"));
            break;
        }
    }
    assert_eq!(step_validations, 1);
    assert_eq!(alb.listener_weights().await, (900, 100));
    while execution.advance(&functions).await.is_some() {}
    assert!(
        matches!(&execution.ending, Some(Ending::Failed { error, .. }) if error == "RolledBack"),
        "{:?} {:?}",
        execution.ending,
        execution.names()
    );
    assert_eq!(alb.listener_weights().await, (999, 0));
    let names = execution.names();
    assert!(
        names.ends_with(&[
            "ValidateStep",
            "StepValidated?",
            "StepValidationFailed",
            "PrepareRollback",
            "Rollback",
            "RolledBack"
        ]),
        "{names:?}"
    );
    let rollback = execution
        .visits
        .iter()
        .find(|v| v.state == "Rollback")
        .expect("a rollback");
    let reason = rollback.output["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("success ratio"), "{reason}");
}
