//! shift-traffic under races, partial failures and short deadlines: another writer between our
//! read and our write, two rollouts on one listener, a rollback taking over, a hung publish, slow
//! AWS answers. Every assertion reads the listener and the lease back from moto.

use std::time::Duration;

use crate::shift_traffic_support::{Alb, STICKY_SECONDS, forward, now_ms, ok};
use aws_sdk_dynamodb::types::AttributeValue;
use rollout_bench::{Bench, Fault, InvokeOutcome};
use serde_json::json;

/// The test's own write as another writer (an on-call engineer, Terraform).
async fn write_listener(alb: &Alb, blue: i32, green: i32) {
    alb.set_listener(vec![forward(
        &[(&alb.blue, blue), (&alb.green, green)],
        Some(STICKY_SECONDS),
    )])
    .await;
}

#[tokio::test]
async fn a_manual_change_during_the_gates_is_not_overwritten() {
    let bench = Bench::start().await;
    let alb = Alb::create(&bench).await;
    let function = alb.function(&bench).await;
    let first = ok(
        &function,
        alb.spec("start", json!("Linear10PercentEvery1Minute")),
    )
    .await;
    assert_eq!(alb.listener_weights().await, (900, 100));
    bench.front.reset_calls();
    // The gate read is slow; meanwhile the on-call engineer puts everything back on blue.
    bench
        .front
        .inject(Fault::delay("monitoring", "DescribeAlarms", Duration::from_millis(1500)).times(1));
    let (step, ()) = tokio::join!(function.invoke(first), async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        write_listener(&alb, 999, 0).await;
    });
    assert_eq!(step.error().0, "DriftDetected", "{}", function.logs());
    assert!(
        step.error().1.contains("before the gates"),
        "{:?}",
        step.error()
    );
    assert_eq!(
        alb.listener_weights().await,
        (999, 0),
        "the manual write stands"
    );
    assert_eq!(
        bench.front.count("ModifyListener"),
        1,
        "only the manual write"
    );
    // The rollout is over: its lease is released.
    let (_, _, expires) = alb.lease(&alb.listener_arn).await.expect("lease item");
    assert!(expires <= now_ms());
}

#[tokio::test]
async fn two_concurrent_starts_one_wins_and_the_other_names_it() {
    let bench = Bench::start().await;
    let alb = Alb::create(&bench).await;
    let (a, b) = tokio::join!(alb.function(&bench), alb.function(&bench));
    bench.front.reset_calls();
    let mut spec_a = alb.spec("start", json!("Canary10Percent5Minutes"));
    spec_a["rollout_id"] = json!("rollout-a");
    let mut spec_b = spec_a.clone();
    spec_b["rollout_id"] = json!("rollout-b");
    let (ra, rb) = tokio::join!(a.invoke(spec_a), b.invoke(spec_b));
    let (winner, loser, loser_name) = match (&ra.outcome, &rb.outcome) {
        (InvokeOutcome::Response(w), InvokeOutcome::Error { .. }) => (w.clone(), &rb, "rollout-a"),
        (InvokeOutcome::Error { .. }, InvokeOutcome::Response(w)) => (w.clone(), &ra, "rollout-b"),
        other => panic!("exactly one start must win: {other:?}"),
    };
    let (error_type, message) = loser.error();
    assert_eq!(error_type, "LeaseHeld");
    assert!(message.contains(loser_name), "names the holder: {message}");
    assert_eq!(winner["status"], "Shifted");
    assert_eq!(winner["rollout_id"], loser_name);
    assert_eq!(alb.listener_weights().await, (900, 100));
    assert_eq!(bench.front.count("ModifyListener"), 1);
    let (holder, version, _) = alb.lease(&alb.listener_arn).await.unwrap();
    assert_eq!(holder, loser_name);
    assert_eq!(winner["lease_version"], version);
}

#[tokio::test]
async fn the_lease_is_released_at_the_end_and_an_expired_one_is_taken() {
    let bench = Bench::start().await;
    let alb = Alb::create(&bench).await;
    let function = alb.function(&bench).await;
    let mut spec = alb.spec("start", json!("AllAtOnce"));
    spec["rollout_id"] = json!("first");
    let done = ok(&function, spec).await;
    assert_eq!(done["status"], "Completed");
    assert!(done.get("lease_version").is_none(), "released: {done}");
    let (holder, version, expires) = alb.lease(&alb.listener_arn).await.unwrap();
    assert_eq!((holder.as_str(), version), ("first", 1));
    assert!(expires <= now_ms());

    // A crashed execution's live lease on the rule blocks a start, naming it...
    let plant = |expires_at_ms: u64| {
        alb.dynamodb
            .put_item()
            .table_name(crate::shift_traffic_support::LEASE_TABLE)
            .item("target_arn", AttributeValue::S(alb.rule_arn.clone()))
            .item("holder", AttributeValue::S("crashed-run".into()))
            .item("version", AttributeValue::N("7".into()))
            .item(
                "expires_at_ms",
                AttributeValue::N(expires_at_ms.to_string()),
            )
            .send()
    };
    plant(now_ms() + 600_000).await.unwrap();
    let mut on_rule = alb.spec("start", json!("AllAtOnce"));
    on_rule.as_object_mut().unwrap().remove("listener_arn");
    on_rule["rule_arn"] = json!(alb.rule_arn);
    let refused = function.invoke(on_rule.clone()).await;
    let (error_type, message) = refused.error();
    assert_eq!(error_type, "LeaseHeld");
    assert!(message.contains("crashed-run"), "{message}");
    assert_eq!(alb.rule_weights().await, (999, 0));
    // ... until it expires: then the next start takes it, with a higher fencing token.
    plant(now_ms() - 1).await.unwrap();
    let started = ok(&function, on_rule).await;
    assert_eq!(started["status"], "Completed");
    assert_eq!(alb.rule_weights().await, (0, 999));
    assert_eq!(alb.lease(&alb.rule_arn).await.unwrap().1, 8);
}

#[tokio::test]
async fn a_manual_rollback_takes_the_lease_over_and_the_old_rollout_stops() {
    let bench = Bench::start().await;
    let alb = Alb::create(&bench).await;
    let function = alb.function(&bench).await;
    let mut spec = alb.spec("start", json!("Linear10PercentEvery1Minute"));
    spec["rollout_id"] = json!("release-42");
    let first = ok(&function, spec).await;
    assert_eq!(first["lease_version"], 1);

    // A person aborts with the spec alone (no rollout id, no lease).
    let mut abort = alb.spec("rollback", json!("Linear10PercentEvery1Minute"));
    abort["reason"] = json!("paged: checkout errors");
    let rolled = ok(&function, abort).await;
    assert_eq!(rolled["status"], "RolledBack");
    assert_eq!(alb.listener_weights().await, (999, 0));
    let (holder, version, _) = alb.lease(&alb.listener_arn).await.unwrap();
    assert_ne!(holder, "release-42");
    assert_eq!(version, 2, "the takeover raised the fencing token");

    // The old rollout's next step finds the lease gone and writes nothing.
    bench.front.reset_calls();
    let next = function.invoke(first).await;
    let (error_type, message) = next.error();
    assert_eq!(error_type, "LeaseLost", "{message}");
    assert_eq!(bench.front.count("ModifyListener"), 0);
    assert_eq!(
        bench.front.count("DescribeAlarms"),
        0,
        "stopped before the gates"
    );
    assert_eq!(alb.listener_weights().await, (999, 0));
}

#[tokio::test]
async fn a_write_that_does_not_read_back_stops_where_things_are() {
    let bench = Bench::start().await;
    let alb = Alb::create(&bench).await;
    let function = alb.function(&bench).await;
    let first = ok(
        &function,
        alb.spec("start", json!("Linear10PercentEvery1Minute")),
    )
    .await;
    // Our write lands; before its answer arrives another writer sets 50/50.
    bench.front.inject(
        Fault::delay_reply(
            "elasticloadbalancing",
            "ModifyListener",
            Duration::from_millis(1500),
        )
        .times(1),
    );
    let writes_before = bench.front.count("ModifyListener");
    let (step, ()) = tokio::join!(function.invoke(first), async {
        while bench.front.count("ModifyListener") == writes_before {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        write_listener(&alb, 500, 500).await;
    });
    assert_eq!(step.error().0, "WriteNotVerified", "{}", function.logs());
    assert_eq!(alb.listener_weights().await, (500, 500));
}

#[tokio::test]
async fn rollback_refuses_weights_its_plan_never_wrote_unless_forced() {
    let bench = Bench::start().await;
    let alb = Alb::create(&bench).await;
    let function = alb.function(&bench).await;
    write_listener(&alb, 500, 500).await;
    bench.front.reset_calls();
    let mut rollback = alb.spec("rollback", json!("Canary10Percent5Minutes"));
    let refused = function.invoke(rollback.clone()).await;
    let (error_type, message) = refused.error();
    assert_eq!(error_type, "RollbackRefused");
    assert!(message.contains("force"), "{message}");
    assert_eq!(bench.front.count("ModifyListener"), 0);
    assert_eq!(alb.listener_weights().await, (500, 500));

    rollback["force"] = json!(true);
    let forced = ok(&function, rollback).await;
    assert_eq!(forced["status"], "RolledBack");
    assert_eq!(alb.listener_weights().await, (999, 0));
}

#[tokio::test]
async fn rollback_with_any_step_value_answers() {
    let bench = Bench::start().await;
    let alb = Alb::create(&bench).await;
    let function = alb.function(&bench).await;
    ok(
        &function,
        alb.spec("start", json!("Canary10Percent5Minutes")),
    )
    .await;
    let mut rollback = alb.spec("rollback", json!("Canary10Percent5Minutes"));
    rollback["step"] = json!(u32::MAX);
    let rolled = ok(&function, rollback).await;
    assert_eq!(rolled["status"], "RolledBack");
    assert_eq!(alb.listener_weights().await, (999, 0));
}

#[tokio::test]
async fn a_hung_publish_does_not_change_the_outcome() {
    let bench = Bench::start().await;
    let alb = Alb::create(&bench).await;
    let function = alb.function(&bench).await;
    bench.front.inject(Fault::hang("sns", "Publish"));
    let invocation = function
        .invoke_with_timeout(
            alb.spec("start", json!("Canary10Percent5Minutes")),
            Duration::from_secs(20),
        )
        .await;
    assert!(
        invocation.is_ok(),
        "{:?}\n{}",
        invocation.outcome,
        function.logs()
    );
    assert_eq!(invocation.response()["status"], "Shifted");
    assert!(
        invocation.elapsed < Duration::from_secs(10),
        "{:?}",
        invocation.elapsed
    );
    assert_eq!(alb.listener_weights().await, (900, 100));
    assert!(function.logs().contains("not published"));
}

#[tokio::test]
async fn slow_elbv2_answers_end_in_throttled_before_a_short_deadline() {
    let bench = Bench::start().await;
    let alb = Alb::create(&bench).await;
    let function = alb.function(&bench).await;
    bench.front.inject(Fault::delay(
        "elasticloadbalancing",
        "DescribeListeners",
        Duration::from_secs(8),
    ));
    let timeout = Duration::from_secs(4);
    // One rollout, retried as the state machine would: it keeps its own lease.
    let mut spec = alb.spec("start", json!("Canary10Percent5Minutes"));
    spec["rollout_id"] = json!("slow-day");
    let invocation = function.invoke_with_timeout(spec.clone(), timeout).await;
    let (error_type, message) = match &invocation.outcome {
        InvokeOutcome::Error {
            error_type,
            error_message,
        } => (error_type.clone(), error_message.clone()),
        other => panic!("killed or answered instead of Throttled: {other:?}"),
    };
    assert_eq!(error_type, "Throttled", "{message}");
    assert!(invocation.elapsed < timeout, "{:?}", invocation.elapsed);
    assert_eq!(alb.listener_weights().await, (999, 0));

    // Throttled for good on the write: the same, in time.
    bench.front.clear_faults();
    bench
        .front
        .inject(Fault::throttle("elasticloadbalancing", "ModifyListener"));
    let invocation = function.invoke_with_timeout(spec, timeout).await;
    assert!(
        matches!(&invocation.outcome, InvokeOutcome::Error { error_type, .. } if error_type == "Throttled"),
        "{:?}",
        invocation.outcome
    );
    assert!(invocation.elapsed < timeout, "{:?}", invocation.elapsed);
    assert_eq!(alb.listener_weights().await, (999, 0));
}
