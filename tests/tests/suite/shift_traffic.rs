//! shift-traffic on a real ALB in moto: every assertion reads the listener, rule, calls or
//! alarms back from the bench, not what the function says about itself.

use crate::shift_traffic_support::{Alb, STICKY_SECONDS, forward, groups_of, ok, stickiness_of};
use aws_sdk_cloudwatch::types::StateValue;
use rollout_bench::{Bench, Fault, events_in};
use serde_json::json;

/// shift-traffic's `elb::CALL_BUDGET`: how long one call keeps retrying.
fn shift_traffic_call_budget() -> std::time::Duration {
    std::time::Duration::from_secs(10)
}

#[tokio::test]
async fn canary_walks_ten_percent_then_all_of_it() {
    let bench = Bench::start().await;
    let alb = Alb::create(&bench).await;
    let function = alb.function(&bench).await;

    let first = ok(
        &function,
        alb.spec("start", json!("Canary10Percent5Minutes")),
    )
    .await;
    assert_eq!(alb.listener_weights().await, (900, 100));
    assert_eq!(first["status"], "Shifted");
    assert_eq!(first["step"], 1);
    assert_eq!(first["done"], false);
    // 300 s scaled by 0.001.
    assert_eq!(first["wait_seconds"], 0);

    let second = ok(&function, first).await;
    assert_eq!(alb.listener_weights().await, (0, 999));
    assert_eq!(second["status"], "Completed");
    assert_eq!(second["done"], true);
    assert_eq!(bench.front.count("ModifyListener"), 2);
    // The rule is a separate forward action and was not touched.
    assert_eq!(alb.rule_weights().await, (999, 0));
    // One rollout event per step reached SNS.
    assert_eq!(bench.front.count("Publish"), 2);
}

#[tokio::test]
async fn linear_moves_ten_percent_per_step() {
    let bench = Bench::start().await;
    let alb = Alb::create(&bench).await;
    let function = alb.function(&bench).await;
    let mut state = alb.spec("start", json!("Linear10PercentEvery1Minute"));
    let mut seen = Vec::new();
    for _ in 0..12 {
        state = ok(&function, state).await;
        seen.push(alb.listener_weights().await.1);
        if state["done"] == true {
            break;
        }
    }
    assert_eq!(seen, vec![100, 200, 300, 400, 500, 600, 700, 800, 900, 999]);
    assert_eq!(state["status"], "Completed");
    assert_eq!(bench.front.count("ModifyListener"), 10);
}

#[tokio::test]
async fn custom_steps_on_a_listener_rule() {
    let bench = Bench::start().await;
    let alb = Alb::create(&bench).await;
    let function = alb.function(&bench).await;
    let listener_before = alb.listener_actions().await;
    let mut state = json!({
        "action": "start",
        "rule_arn": alb.rule_arn,
        "blue_target_group_arn": alb.blue,
        "green_target_group_arn": alb.green,
        "strategy": {"steps": [
            {"percent": 0.5, "wait_seconds": 60},
            {"percent": 50, "wait_seconds": 60},
            {"percent": 100}
        ]},
        "bake_seconds": 1,
        "time_scale": 0.001,
    });
    let mut seen = Vec::new();
    for _ in 0..5 {
        state = ok(&function, state).await;
        seen.push(alb.rule_weights().await);
        if state["done"] == true {
            break;
        }
    }
    // Three shifts, then the check after the bake, which writes nothing.
    assert_eq!(seen, vec![(995, 5), (500, 500), (0, 999), (0, 999)]);
    assert_eq!(state["status"], "Completed");
    assert_eq!(bench.front.count("ModifyRule"), 3);
    assert_eq!(bench.front.count("ModifyListener"), 0);
    assert_eq!(alb.listener_actions().await, listener_before);
}

#[tokio::test]
async fn an_alarm_mid_rollout_rolls_back_to_blue_keeping_green_attached() {
    let bench = Bench::start().await;
    let alb = Alb::create(&bench).await;
    let function = alb.function(&bench).await;
    let first = ok(
        &function,
        alb.spec("start", json!("Linear10PercentEvery1Minute")),
    )
    .await;
    let second = ok(&function, first).await;
    assert_eq!(alb.listener_weights().await, (800, 200));

    alb.set_alarm(StateValue::Alarm).await;
    let third = ok(&function, second).await;
    assert_eq!(third["status"], "RolledBack");
    assert_eq!(third["done"], true);
    assert!(
        third["reason"].as_str().unwrap().contains("green-5xx"),
        "{third}"
    );
    let actions = alb.listener_actions().await;
    assert_eq!(alb.weights_in(&actions), (999, 0));
    assert_eq!(groups_of(&actions).len(), 2, "green stays attached");
    assert_eq!(bench.front.count("ModifyListener"), 3);
}

#[tokio::test]
async fn drift_between_steps_stops_without_writing() {
    let bench = Bench::start().await;
    let alb = Alb::create(&bench).await;
    let function = alb.function(&bench).await;
    let first = ok(
        &function,
        alb.spec("start", json!("Canary10Percent5Minutes")),
    )
    .await;

    // Someone else moves the weights by hand.
    alb.set_listener(vec![forward(
        &[(&alb.blue, 500), (&alb.green, 500)],
        Some(STICKY_SECONDS),
    )])
    .await;
    bench.front.reset_calls();
    let invocation = function.invoke(first).await;
    let (kind, message) = invocation.error();
    assert_eq!(kind, "DriftDetected");
    assert!(message.contains("found blue 500 / green 500"), "{message}");
    assert_eq!(bench.front.count("ModifyListener"), 0);
    assert_eq!(alb.listener_weights().await, (500, 500));
}

#[tokio::test]
async fn stickiness_and_a_third_target_group_are_preserved() {
    let bench = Bench::start().await;
    let alb = Alb::create(&bench).await;
    let function = alb.function(&bench).await;
    alb.set_listener(vec![forward(
        &[(&alb.blue, 999), (&alb.extra, 7), (&alb.green, 0)],
        Some(STICKY_SECONDS),
    )])
    .await;

    let first = ok(
        &function,
        alb.spec("start", json!("Canary10Percent5Minutes")),
    )
    .await;
    let actions = alb.listener_actions().await;
    let groups = groups_of(&actions);
    assert_eq!(groups.len(), 3, "{groups:?}");
    assert!(groups.contains(&(alb.extra.clone(), 7)), "{groups:?}");
    assert_eq!(alb.weights_in(&actions), (900, 100));
    assert_eq!(stickiness_of(&actions), Some((true, Some(STICKY_SECONDS))));

    ok(&function, first).await;
    let actions = alb.listener_actions().await;
    assert!(groups_of(&actions).contains(&(alb.extra.clone(), 7)));
    assert_eq!(stickiness_of(&actions), Some((true, Some(STICKY_SECONDS))));
}

#[tokio::test]
async fn plan_writes_nothing_and_shows_each_forward_action() {
    let bench = Bench::start().await;
    let alb = Alb::create(&bench).await;
    let function = alb.function(&bench).await;
    let listener_before = alb.listener_actions().await;
    let rule_before = alb.rule_actions().await;
    bench.front.reset_calls();

    let plan = ok(
        &function,
        alb.spec("plan", json!("Canary10Percent5Minutes")),
    )
    .await;
    assert_eq!(alb.listener_actions().await, listener_before);
    assert_eq!(alb.rule_actions().await, rule_before);
    for write in ["ModifyListener", "ModifyRule", "Publish"] {
        assert_eq!(bench.front.count(write), 0, "{write}");
    }
    assert_eq!(plan["status"], "Planned");
    assert_eq!(
        plan["action"], "start",
        "a plan's output starts the rollout"
    );
    let steps = plan["plan"].as_array().unwrap();
    assert_eq!(steps.len(), 2);
    assert_eq!(
        steps[0]["forward_action"],
        json!({"Type": "forward", "ForwardConfig": {
            "TargetGroups": [
                {"TargetGroupArn": alb.blue, "Weight": 900},
                {"TargetGroupArn": alb.green, "Weight": 100}
            ],
            "TargetGroupStickinessConfig": {"Enabled": true, "DurationSeconds": STICKY_SECONDS}
        }})
    );
    assert_eq!(steps[1]["green_weight"], 999);
}

#[tokio::test]
async fn malformed_specs_get_a_clear_error_and_no_aws_call() {
    let bench = Bench::start().await;
    let alb = Alb::create(&bench).await;
    let function = alb.function(&bench).await;
    bench.front.reset_calls();
    let mut misspelt = alb.spec("start", json!("Canary10Percent5Minutes"));
    misspelt["health_gat"] = json!(false);
    let cases = [
        (misspelt, "unknown field `health_gat`"),
        (
            alb.spec("start", json!("Canary10Percent")),
            "unknown strategy preset",
        ),
        (
            alb.spec("start", json!({"steps": [{"percent": 150}]})),
            "at most 100",
        ),
        (json!({"action": "start"}), "missing field"),
        (json!([1, 2]), "invalid type"),
    ];
    for (input, expected) in cases {
        let invocation = function.invoke(input.clone()).await;
        let (kind, message) = invocation.error();
        assert_eq!(kind, "InvalidSpec", "{input}");
        assert!(message.contains(expected), "{input}: {message}");
    }
    assert!(bench.front.calls().is_empty(), "{:?}", bench.front.calls());
    assert_eq!(alb.listener_weights().await, (999, 0));
}

#[tokio::test]
async fn refuses_listeners_it_must_not_rewrite() {
    let bench = Bench::start().await;
    let alb = Alb::create(&bench).await;
    let function = alb.function(&bench).await;

    // Green not attached.
    alb.set_listener(vec![forward(&[(&alb.blue, 1), (&alb.extra, 0)], None)])
        .await;
    bench.front.reset_calls();
    let invocation = function.invoke(alb.spec("start", json!("AllAtOnce"))).await;
    assert_eq!(invocation.error().0, "TargetGroupNotInAction");

    // A fixed response is not a forward action.
    let fixed = aws_sdk_elasticloadbalancingv2::types::Action::builder()
        .r#type(aws_sdk_elasticloadbalancingv2::types::ActionTypeEnum::FixedResponse)
        .fixed_response_config(
            aws_sdk_elasticloadbalancingv2::types::FixedResponseActionConfig::builder()
                .status_code("503")
                .build(),
        )
        .build();
    alb.set_listener(vec![fixed]).await;
    bench.front.reset_calls();
    let invocation = function.invoke(alb.spec("start", json!("AllAtOnce"))).await;
    assert_eq!(invocation.error().0, "NotForwardAction");
    assert_eq!(bench.front.count("ModifyListener"), 0);

    // A listener that does not exist.
    let mut gone = alb.spec("status", json!("AllAtOnce"));
    gone["listener_arn"] = json!(alb.listener_arn.replace("/app/shop/", "/app/gone/"));
    let invocation = function.invoke(gone).await;
    assert_eq!(invocation.error().0, "ListenerNotFound");
}

#[tokio::test]
async fn green_without_healthy_targets_is_not_given_traffic() {
    let bench = Bench::start().await;
    let alb = Alb::create(&bench).await;
    let function = alb.function(&bench).await;
    alb.elb
        .deregister_targets()
        .target_group_arn(&alb.green)
        .targets(
            aws_sdk_elasticloadbalancingv2::types::TargetDescription::builder()
                .id("10.0.2.10")
                .port(8000)
                .build(),
        )
        .targets(
            aws_sdk_elasticloadbalancingv2::types::TargetDescription::builder()
                .id("10.0.2.11")
                .port(8000)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let out = ok(
        &function,
        alb.spec("start", json!("Canary10Percent5Minutes")),
    )
    .await;
    assert_eq!(out["status"], "RolledBack");
    assert!(
        out["reason"]
            .as_str()
            .unwrap()
            .contains("no healthy targets"),
        "{out}"
    );
    assert_eq!(bench.front.count("ModifyListener"), 0);
    assert_eq!(alb.listener_weights().await, (999, 0));
}

#[tokio::test]
async fn unreadable_alarms_stop_unless_told_to_ignore_them() {
    let bench = Bench::start().await;
    let alb = Alb::create(&bench).await;
    let function = alb.function(&bench).await;
    let mut spec = alb.spec("start", json!("Canary10Percent5Minutes"));
    spec["alarms"] = json!(["green-5xx", "no-such-alarm"]);
    let invocation = function.invoke(spec.clone()).await;
    let (kind, message) = invocation.error();
    assert_eq!(kind, "AlarmUnreadable");
    assert!(message.contains("no-such-alarm"), "{message}");
    assert_eq!(bench.front.count("ModifyListener"), 0);

    spec["ignore_alarm_read_errors"] = json!(true);
    ok(&function, spec).await;
    assert_eq!(alb.listener_weights().await, (900, 100));
}

#[tokio::test]
async fn a_retried_step_writes_once() {
    let bench = Bench::start().await;
    let alb = Alb::create(&bench).await;
    let function = alb.function(&bench).await;
    // The state machine retries with the same input, so the same rollout id.
    let mut spec = alb.spec("start", json!("Canary10Percent5Minutes"));
    spec["rollout_id"] = json!("retried");
    let first = ok(&function, spec.clone()).await;
    let again = ok(&function, spec).await;
    assert_eq!(again["already_applied"], true);
    assert_eq!(again["step"], first["step"]);
    assert_eq!(bench.front.count("ModifyListener"), 1);
    assert_eq!(alb.listener_weights().await, (900, 100));
}

#[tokio::test]
async fn throttling_is_retried_within_a_bound() {
    let bench = Bench::start().await;
    let alb = Alb::create(&bench).await;
    let function = alb.function(&bench).await;
    bench.front.reset_calls();
    // More throttles than the SDK's three attempts ride out.
    bench
        .front
        .inject(Fault::throttle("elasticloadbalancing", "DescribeListeners").times(4));
    let state = ok(
        &function,
        alb.spec("start", json!("Canary10Percent5Minutes")),
    )
    .await;
    assert_eq!(alb.listener_weights().await, (900, 100));
    assert!(bench.front.count("DescribeListeners") >= 5);

    // Throttled for good: attempts for a bounded time, then a typed, retryable error.
    bench
        .front
        .inject(Fault::throttle("elasticloadbalancing", "ModifyListener"));
    bench.front.reset_calls();
    let invocation = function.invoke(state).await;
    assert_eq!(invocation.error().0, "Throttled");
    assert!(bench.front.count("ModifyListener") >= 3);
    assert!(
        invocation.elapsed < shift_traffic_call_budget() + std::time::Duration::from_secs(5),
        "{:?}",
        invocation.elapsed
    );
    assert_eq!(alb.listener_weights().await, (900, 100));
}

#[tokio::test]
async fn a_hung_elbv2_call_times_out_and_is_retried() {
    let bench = Bench::start().await;
    let alb = Alb::create(&bench).await;
    let function = alb.function(&bench).await;
    bench.front.reset_calls();
    bench
        .front
        .inject(Fault::hang("elasticloadbalancing", "DescribeListeners").times(1));
    let invocation = function
        .invoke_with_timeout(
            alb.spec("start", json!("Canary10Percent5Minutes")),
            std::time::Duration::from_secs(60),
        )
        .await;
    assert!(invocation.is_ok(), "{:?}", invocation.outcome);
    assert_eq!(alb.listener_weights().await, (900, 100));
    assert!(bench.front.count("DescribeListeners") >= 2);
}

#[tokio::test]
async fn rollback_and_status_actions() {
    let bench = Bench::start().await;
    let alb = Alb::create(&bench).await;
    let function = alb.function(&bench).await;
    let first = ok(
        &function,
        alb.spec("start", json!("Linear10PercentEvery3Minutes")),
    )
    .await;
    let mut status = first.clone();
    status["action"] = json!("status");
    let observed = ok(&function, status).await;
    assert_eq!(observed["status"], "Observed");
    assert_eq!(observed["step"], 1, "resumes at step 1");
    assert_eq!(observed["green_percent"], 10.0);

    let mut abort = first;
    abort["action"] = json!("rollback");
    abort["reason"] = json!("aborted by the on-call");
    let rolled = ok(&function, abort).await;
    assert_eq!(rolled["status"], "RolledBack");
    assert_eq!(rolled["reason"], "aborted by the on-call");
    assert_eq!(alb.listener_weights().await, (999, 0));
}

#[tokio::test]
async fn promote_and_abort_go_only_to_the_rollout_holding_the_lease() {
    let bench = Bench::start().await;
    let alb = Alb::create(&bench).await;
    let function = alb.function(&bench).await;
    // Nothing runs on the listener: nothing to promote or abort, and nothing is written.
    let refused = function.invoke(alb.request("abort", "paged")).await;
    let (kind, message) = refused.error();
    assert_eq!(kind, "RequestRefused");
    assert!(message.contains("none is running"), "{message}");
    assert!(alb.lease(&alb.listener_arn).await.is_none());

    let mut spec = alb.spec("start", json!("Canary10Percent5Minutes"));
    spec["rollout_id"] = json!("release-1");
    let first = ok(&function, spec.clone()).await;
    // Naming another rollout than the one holding the lease.
    let mut named = alb.request("promote", "");
    named["rollout_id"] = json!("release-2");
    let refused = function.invoke(named).await;
    assert_eq!(refused.error().0, "RequestRefused");
    assert!(
        refused.error().1.contains("held by rollout release-1"),
        "{:?}",
        refused.error()
    );
    // An abort goes to the holder, and a later promote does not override it.
    let recorded = ok(&function, alb.request("abort", "paged")).await;
    assert_eq!(recorded["status"], "Requested");
    assert_eq!(recorded["rollout_id"], "release-1");
    let refused = function.invoke(alb.request("promote", "")).await;
    assert!(
        refused.error().1.contains("abort is already pending"),
        "{:?}",
        refused.error()
    );
    assert_eq!(
        bench.front.count("ModifyListener"),
        1,
        "requests write no weights"
    );

    // The rollout's next step sees the abort when it renews its lease, and rolls back.
    let rolled = ok(&function, first).await;
    assert_eq!(rolled["status"], "RolledBack");
    assert_eq!(rolled["reason"], "abort requested: paged");
    assert_eq!(alb.listener_weights().await, (999, 0));

    // The next rollout takes the lease without the old request.
    spec["rollout_id"] = json!("release-2");
    let next = ok(&function, spec).await;
    assert_eq!(next["status"], "Shifted");
    let item = alb
        .dynamodb
        .get_item()
        .table_name(crate::shift_traffic_support::LEASE_TABLE)
        .key(
            "target_arn",
            aws_sdk_dynamodb::types::AttributeValue::S(alb.listener_arn.clone()),
        )
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert!(!item.contains_key("request"), "{item:?}");
    let done = ok(&function, next).await;
    assert_eq!(done["status"], "Completed");
}

/// Every sample in events/shift-traffic/ is a valid spec for a real listener: pointed at this
/// bench's ALB, each one plans without error.
#[tokio::test]
async fn every_sample_event_is_a_valid_spec() {
    let bench = Bench::start().await;
    let alb = Alb::create(&bench).await;
    let function = alb.function(&bench).await;
    let samples = events_in("shift-traffic");
    assert!(samples.len() >= 8, "{}", samples.len());
    for (name, mut sample) in samples {
        sample["action"] = json!("plan");
        if sample.get("rule_arn").is_some() {
            sample["rule_arn"] = json!(alb.rule_arn);
        } else {
            sample["listener_arn"] = json!(alb.listener_arn);
        }
        sample["blue_target_group_arn"] = json!(alb.blue);
        sample["green_target_group_arn"] = json!(alb.green);
        let invocation = function.invoke(sample).await;
        assert!(invocation.is_ok(), "{name}: {:?}", invocation.outcome);
    }
    assert_eq!(bench.front.count("ModifyListener"), 0);
}
