//! The local driver: `statemachine/rollout.asl.json` itself, run state by state against the real
//! shift-traffic binary as Step Functions would, with the waits scaled down by `time_scale`.

use std::time::{Duration, Instant};

use crate::shift_traffic_support::{
    ALARM, Alb, Ending, Execution, STICKY_SECONDS, forward, now_ms, ok, state_machine,
};
use aws_sdk_cloudwatch::types::StateValue;
use rollout_bench::{Bench, Fault, LambdaFn};
use rollout_kit::{Outcome, RolloutEvent};
use serde_json::json;

#[tokio::test]
async fn a_whole_canary_rollout_with_bake_runs_to_success() {
    let bench = Bench::start().await;
    let alb = Alb::create(&bench).await;
    let function = alb.function(&bench).await;
    // 5 minutes and a 100 s bake at 1/100: waits of 3 s and 1 s, each no longer than one watch
    // interval (300 s at 1/100), so waited whole (the watched waits have their own tests).
    let mut input = alb.spec("plan", json!("Canary10Percent5Minutes"));
    input["time_scale"] = json!(0.01);
    input["bake_seconds"] = json!(100);
    input["watch_seconds"] = json!(300);

    let mut execution = Execution::new(state_machine(), input);
    let mut timeline = Vec::new();
    let started = std::time::Instant::now();
    while let Some(visit) = execution.advance(&function).await {
        if visit.state == "Shift" {
            timeline.push(alb.listener_weights().await);
        }
    }
    assert_eq!(
        execution.ending,
        Some(Ending::Succeeded(
            execution.visits.last().unwrap().output.clone()
        ))
    );
    // start (the input said plan: the machine starts anyway), the full shift, the bake check.
    assert_eq!(timeline, vec![(900, 100), (0, 999), (0, 999)]);
    assert_eq!(
        execution.names(),
        vec![
            "Identify",
            "Begin",
            "StartAtZero",
            "Shift",
            "Done?",
            "Wait",
            "Shift",
            "Done?",
            "Wait",
            "Shift",
            "Done?",
            "Completed"
        ]
    );
    assert!(started.elapsed() >= std::time::Duration::from_secs(4));
    assert_eq!(bench.front.count("ModifyListener"), 2);
}

#[tokio::test]
async fn a_linear_rollout_rolls_back_when_the_alarm_fires() {
    let bench = Bench::start().await;
    let alb = Alb::create(&bench).await;
    let function = alb.function(&bench).await;
    let input = alb.spec("start", json!("Linear10PercentEvery1Minute"));
    let mut execution = Execution::new(state_machine(), input);
    let mut shifts = 0;
    while let Some(visit) = execution.advance(&function).await {
        if visit.state == "Shift" {
            shifts += 1;
            if shifts == 3 {
                alb.set_alarm(StateValue::Alarm).await;
            }
        }
    }
    assert!(matches!(
        &execution.ending,
        Some(Ending::Failed { error, .. }) if error == "RolledBack"
    ));
    assert_eq!(shifts, 4);
    assert_eq!(alb.listener_weights().await, (999, 0));
}

#[tokio::test]
async fn drift_stops_the_machine_without_a_rollback_write() {
    let bench = Bench::start().await;
    let alb = Alb::create(&bench).await;
    let function = alb.function(&bench).await;
    let input = alb.spec("start", json!("Linear10PercentEvery1Minute"));
    let mut execution = Execution::new(state_machine(), input);
    while let Some(visit) = execution.advance(&function).await {
        if visit.state == "Wait" {
            // Someone else takes over the listener during the first wait.
            alb.set_listener(vec![forward(
                &[(&alb.blue, 300), (&alb.green, 700)],
                Some(STICKY_SECONDS),
            )])
            .await;
            bench.front.reset_calls();
        }
    }
    assert_stopped_in_place(&execution, &bench, &alb, "DriftDetected", (300, 700)).await;
}

/// The machine ended in `Stopped` for `error_type`, wrote nothing after the fault (calls are
/// counted from the fault on) and left the weights at `weights`.
async fn assert_stopped_in_place(
    execution: &Execution,
    bench: &Bench,
    alb: &Alb,
    error_type: &str,
    weights: (i32, i32),
) {
    match &execution.ending {
        Some(Ending::Failed { error, cause }) => {
            assert_eq!(error, "RolloutStopped");
            assert!(cause.contains(error_type), "{cause}");
        }
        other => panic!("{other:?}"),
    }
    assert!(!execution.names().contains(&"Rollback"));
    assert_eq!(bench.front.count("ModifyListener"), 0);
    assert_eq!(alb.listener_weights().await, weights);
}

#[tokio::test]
async fn an_unreadable_alarm_stops_the_rollout_where_it_is() {
    let bench = Bench::start().await;
    let alb = Alb::create(&bench).await;
    let function = alb.function(&bench).await;
    let input = alb.spec("start", json!("Linear10PercentEvery1Minute"));
    let mut execution = Execution::new(state_machine(), input);
    while let Some(visit) = execution.advance(&function).await {
        if visit.state == "Shift" && visit.output["step"] == 2 {
            // The watched alarm disappears: the next step cannot read it.
            alb.cloudwatch
                .delete_alarms()
                .alarm_names(ALARM)
                .send()
                .await
                .unwrap();
            bench.front.reset_calls();
        }
    }
    // Held at step 2.
    assert_stopped_in_place(&execution, &bench, &alb, "AlarmUnreadable", (800, 200)).await;
    // The stop is announced, since no rollback event will follow.
    let stopped: Vec<RolloutEvent> = bench
        .front
        .sns_messages()
        .iter()
        .filter_map(|m| RolloutEvent::parse(&m.message))
        .filter(|e| e.outcome == Outcome::Failed)
        .collect();
    assert_eq!(stopped.len(), 1, "{stopped:?}");
    assert!(
        stopped[0]
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("no such alarm")),
        "{:?}",
        stopped[0]
    );
}

#[tokio::test]
async fn an_error_mid_rollout_goes_through_catch_to_rollback() {
    let bench = Bench::start().await;
    let alb = Alb::create(&bench).await;
    let function = alb.function(&bench).await;
    let input = alb.spec("start", json!("Linear10PercentEvery1Minute"));
    let mut execution = Execution::new(state_machine(), input);
    while let Some(visit) = execution.advance(&function).await {
        if visit.state == "Shift" && visit.output["step"] == 2 {
            // The next write is refused with an error nobody retries.
            bench.front.inject(
                Fault::error(
                    "elasticloadbalancing",
                    "ModifyListener",
                    400,
                    "ValidationError",
                    "The listener is being modified by another request",
                )
                .times(1),
            );
        }
    }
    let names = execution.names();
    assert!(
        names.contains(&"PrepareRollback") && names.contains(&"Rollback"),
        "{names:?}"
    );
    assert!(matches!(
        &execution.ending,
        Some(Ending::Failed { error, .. }) if error == "RolledBack"
    ));
    let rollback = execution
        .visits
        .iter()
        .find(|v| v.state == "Rollback")
        .unwrap();
    assert!(
        rollback.output["reason"]
            .as_str()
            .unwrap()
            .starts_with("AwsError"),
        "{}",
        rollback.output
    );
    assert_eq!(alb.listener_weights().await, (999, 0));
}

#[tokio::test]
async fn a_stopped_rollout_resumes_from_its_status() {
    let bench = Bench::start().await;
    let alb = Alb::create(&bench).await;
    let function = alb.function(&bench).await;
    // Two steps ran, then the execution was stopped.
    let mut state = alb.spec("start", json!("Linear10PercentEvery1Minute"));
    for _ in 0..2 {
        state = function.invoke(state).await.response().clone();
    }
    state["action"] = json!("status");
    let status = function.invoke(state).await.response().clone();
    assert_eq!(status["action"], "step");
    assert_eq!(status["step"], 2);

    let execution = Execution::new(state_machine(), status)
        .run(&function, 100)
        .await;
    assert!(
        matches!(execution.ending, Some(Ending::Succeeded(_))),
        "{:?}",
        execution.ending
    );
    assert!(!execution.names().contains(&"StartAtZero"));
    assert_eq!(alb.listener_weights().await, (0, 999));
    assert_eq!(bench.front.count("ModifyListener"), 10);
}

#[tokio::test]
async fn a_second_execution_on_a_leased_listener_stops_without_touching_the_first() {
    let bench = Bench::start().await;
    let alb = Alb::create(&bench).await;
    let function = alb.function(&bench).await;
    let input = alb.spec("start", json!("Linear10PercentEvery1Minute"));
    let mut first = Execution::new(state_machine(), input.clone());
    while let Some(visit) = first.advance(&function).await {
        if visit.state == "Wait" {
            break;
        }
    }
    assert_eq!(alb.listener_weights().await, (900, 100));

    // A second release pipeline starts the same rollout on the same listener.
    bench.front.reset_calls();
    let second = Execution::new(state_machine(), input)
        .run(&function, 20)
        .await;
    assert_stopped_in_place(&second, &bench, &alb, "LeaseHeld", (900, 100)).await;
    match &second.ending {
        Some(Ending::Failed { cause, .. }) => assert!(cause.contains(&first.id), "{cause}"),
        other => panic!("{other:?}"),
    }

    // The first one goes on undisturbed, and frees the listener at the end.
    let first = first.run(&function, 100).await;
    assert!(
        matches!(first.ending, Some(Ending::Succeeded(_))),
        "{:?}",
        first.ending
    );
    assert_eq!(alb.listener_weights().await, (0, 999));
    let (_, _, expires) = alb.lease(&alb.listener_arn).await.unwrap();
    assert!(expires <= now_ms());
}

#[tokio::test]
async fn a_manual_rollback_mid_rollout_ends_the_execution_without_a_write() {
    let bench = Bench::start().await;
    let alb = Alb::create(&bench).await;
    let function = alb.function(&bench).await;
    let input = alb.spec("start", json!("Linear10PercentEvery1Minute"));
    let mut execution = Execution::new(state_machine(), input);
    let mut aborted = false;
    while let Some(visit) = execution.advance(&function).await {
        if visit.state == "Wait" && !aborted {
            // The on-call engineer aborts with the spec alone (README: abort by hand).
            let mut abort = alb.spec("rollback", json!("Linear10PercentEvery1Minute"));
            abort["reason"] = json!("paged");
            let rolled = function.invoke(abort).await;
            assert_eq!(rolled.response()["status"], "RolledBack");
            bench.front.reset_calls();
            aborted = true;
        }
    }
    assert_stopped_in_place(&execution, &bench, &alb, "LeaseLost", (999, 0)).await;
}

#[tokio::test]
async fn a_write_another_writer_overtook_stops_the_machine_where_things_are() {
    let bench = Bench::start().await;
    let alb = Alb::create(&bench).await;
    let function = alb.function(&bench).await;
    let input = alb.spec("start", json!("Linear10PercentEvery1Minute"));
    let mut execution = Execution::new(state_machine(), input);
    let mut other_writer = None;
    while let Some(visit) = execution.advance(&function).await {
        if visit.state == "Wait" && other_writer.is_none() {
            // The next write lands, and before its answer another writer sets 50/50.
            bench.front.inject(
                Fault::delay_reply(
                    "elasticloadbalancing",
                    "ModifyListener",
                    std::time::Duration::from_millis(1500),
                )
                .times(1),
            );
            let elb = alb.elb.clone();
            let listener = alb.listener_arn.clone();
            let action = forward(&[(&alb.blue, 500), (&alb.green, 500)], Some(STICKY_SECONDS));
            let front = bench.front.clone();
            let writes_before = front.count("ModifyListener");
            other_writer = Some(tokio::spawn(async move {
                // Right after our write reached the ALB, while its answer is held back.
                while front.count("ModifyListener") == writes_before {
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                elb.modify_listener()
                    .listener_arn(listener)
                    .default_actions(action)
                    .send()
                    .await
                    .expect("the other writer");
            }));
        }
    }
    other_writer.unwrap().await.unwrap();
    match &execution.ending {
        Some(Ending::Failed { error, cause }) => {
            assert_eq!(error, "RolloutStopped");
            assert!(cause.contains("WriteNotVerified"), "{cause}");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        !execution.names().contains(&"Rollback"),
        "{:?}",
        execution.names()
    );
    assert_eq!(alb.listener_weights().await, (500, 500));
}

/// The states after visit `from` (the watch a test acted after) to the end.
fn names_after(execution: &Execution, from: usize) -> Vec<&str> {
    execution.names()[from + 1..].to_vec()
}

/// Runs `execution` until the `count`th `Watch` state has finished; returns its visit index.
async fn until_watch(execution: &mut Execution, function: &LambdaFn, count: usize) -> usize {
    let mut seen = 0;
    while let Some(visit) = execution.advance(function).await {
        if visit.state == "Watch" {
            seen += 1;
            if seen == count {
                return execution.visits.len() - 1;
            }
        }
    }
    panic!("only {seen} watches: {:?}", execution.names());
}

#[tokio::test]
async fn an_alarm_mid_wait_rolls_back_within_one_watch_interval() {
    let bench = Bench::start().await;
    let alb = Alb::create(&bench).await;
    let function = alb.function(&bench).await;
    // Two minutes of 10 % at 1/10: a 12 s wait, watched every 1 s.
    let input = alb.watched_spec("start", json!("Canary10Percent2Minutes"));
    let interval = Duration::from_secs(1);
    let mut execution = Execution::new(state_machine(), input);
    let first_watch = until_watch(&mut execution, &function, 1).await;
    assert_eq!(execution.visits[first_watch].output["action"], "watch");
    assert_eq!(alb.listener_weights().await, (900, 100));

    // About a second into the 12 s wait, green starts failing.
    alb.set_alarm(StateValue::Alarm).await;
    let fired = Instant::now();
    let from = execution.visits.len() - 1;
    while execution.advance(&function).await.is_some() {}
    let rollback = execution
        .visits
        .iter()
        .position(|v| v.state == "Rollback")
        .expect("a rollback");
    let all_blue = execution.visits[rollback].at;
    assert_eq!(alb.listener_weights().await, (999, 0));
    assert!(matches!(
        &execution.ending,
        Some(Ending::Failed { error, .. }) if error == "RolledBack"
    ));
    // The next watch saw it, not the next step.
    assert_eq!(
        names_after(&execution, from),
        vec![
            "Watched?",
            "WaitThenWatch",
            "Watch",
            "Watched?",
            "Rollback",
            "RolledBack"
        ]
    );
    let watch = rollback - 2;
    let reason = execution.visits[watch].output["reason"].as_str().unwrap();
    assert!(reason.contains(ALARM), "{reason}");
    let watch_took = execution.visits[watch].at - execution.visits[watch - 1].at;
    let rollback_took = all_blue - execution.visits[rollback - 1].at;
    let to_blue = all_blue - fired;
    println!(
        "time to rollback: alarm → all blue in {} ms (watch interval {} ms, the watch {} ms, \
         the rollback step {} ms); without the watch, the rest of the 12 s wait",
        to_blue.as_millis(),
        interval.as_millis(),
        watch_took.as_millis(),
        rollback_took.as_millis()
    );
    // At most one watch interval, plus the watch that saw it and the rollback step.
    let slack = Duration::from_millis(250);
    assert!(
        to_blue <= interval + watch_took + rollback_took + slack,
        "{to_blue:?}"
    );
    assert!(to_blue < Duration::from_secs(10), "{to_blue:?}");
    // The rollout is over: its lease, never taken over, is released.
    let (_, version, expires) = alb.lease(&alb.listener_arn).await.unwrap();
    assert_eq!(version, 1);
    assert!(expires <= now_ms());
}

#[tokio::test]
async fn state_transitions_per_rollout_hour_with_the_default_watch() {
    let bench = Bench::start().await;
    let alb = Alb::create(&bench).await;
    let function = alb.function(&bench).await;
    // Canary10Percent15Minutes at 1/30: the 15-minute wait is 30 s and the default watch
    // (30 s) is 1 s, the same 30 watch intervals in the wait.
    let mut input = alb.spec("start", json!("Canary10Percent15Minutes"));
    input["time_scale"] = json!(1.0 / 30.0);
    let mut execution = Execution::new(state_machine(), input);
    let mut lease_ends = Vec::new();
    while let Some(visit) = execution.advance(&function).await {
        if visit.state == "Watch" {
            let (_, _, expires) = alb.lease(&alb.listener_arn).await.unwrap();
            lease_ends.push(expires);
            assert!(expires > now_ms(), "the lease holds through the wait");
        }
    }
    assert!(matches!(execution.ending, Some(Ending::Succeeded(_))));
    let names = execution.names();
    let watches = names.iter().filter(|n| **n == "Watch").count();
    // Every watch renews the lease until after the next one.
    assert!(lease_ends.windows(2).all(|w| w[0] < w[1]), "{lease_ends:?}");
    // Identify, Begin, StartAtZero, Shift, Done?; per watch WaitThenWatch, Watch, Watched?; the
    // last piece's Wait, Shift, Done?, Completed.
    assert_eq!(execution.transitions(), 5 + 3 * watches + 4, "{names:?}");
    // 29 on AWS, where a watch takes a fraction of its 30 s; fewer here, where each of the
    // 1 s intervals also waits for a debug-build invocation.
    assert!((15..=29).contains(&watches), "{watches} watches");
    let on_aws = 5 + 3 * 29 + 4;
    println!(
        "state transitions: Canary10Percent15Minutes with the default watch (30 s): {} on the \
         bench ({watches} watches at 1/30); {on_aws} per rollout at AWS timing, {} per rollout \
         hour",
        execution.transitions(),
        on_aws * 4
    );
    assert_eq!(
        bench.front.count("ModifyListener"),
        2,
        "watches write no weights"
    );
}

#[tokio::test]
async fn promote_mid_wait_goes_to_green_through_the_gates_and_skips_the_waits_left() {
    let bench = Bench::start().await;
    let alb = Alb::create(&bench).await;
    let function = alb.function(&bench).await;
    // 6 s of 10 %, then a 6 s bake, watched every second.
    let mut input = alb.watched_spec("start", json!("Canary10Percent1Minutes"));
    input["bake_seconds"] = json!(60);
    let mut execution = Execution::new(state_machine(), input);
    until_watch(&mut execution, &function, 1).await;

    let asked = Instant::now();
    let recorded = ok(&function, alb.request("promote", "metrics look good")).await;
    assert_eq!(recorded["status"], "Requested");
    assert_eq!(recorded["rollout_id"], execution.id);
    assert_eq!(recorded["green_percent"], 10.0);
    let from = execution.visits.len() - 1;
    while execution.advance(&function).await.is_some() {}
    assert!(
        matches!(execution.ending, Some(Ending::Succeeded(_))),
        "{:?}",
        execution.ending
    );
    assert_eq!(
        names_after(&execution, from),
        vec![
            "Watched?",
            "WaitThenWatch",
            "Watch",
            "Watched?",
            "Wait",
            "Shift",
            "Done?",
            "Completed"
        ]
    );
    let done = &execution.visits.last().unwrap().output;
    assert_eq!(done["status"], "Completed");
    assert!(
        done["reason"].as_str().unwrap().starts_with("promoted"),
        "{done}"
    );
    assert_eq!(alb.listener_weights().await, (0, 999));
    assert_eq!(bench.front.count("ModifyListener"), 2);
    // The 4 s left of the wait and the 6 s bake were skipped.
    assert!(
        asked.elapsed() < Duration::from_secs(6),
        "{:?}",
        asked.elapsed()
    );
    let (_, _, expires) = alb.lease(&alb.listener_arn).await.unwrap();
    assert!(expires <= now_ms(), "released");
}

#[tokio::test]
async fn abort_mid_wait_rolls_back_at_the_next_watch_and_the_execution_ends_rolled_back() {
    let bench = Bench::start().await;
    let alb = Alb::create(&bench).await;
    let function = alb.function(&bench).await;
    let input = alb.watched_spec("start", json!("Canary10Percent1Minutes"));
    let mut execution = Execution::new(state_machine(), input);
    until_watch(&mut execution, &function, 1).await;

    let recorded = ok(&function, alb.request("abort", "paged: checkout errors")).await;
    assert_eq!(recorded["status"], "Requested");
    // A promote does not override a pending abort.
    let refused = function.invoke(alb.request("promote", "")).await;
    assert_eq!(refused.error().0, "RequestRefused", "{:?}", refused.outcome);
    let from = execution.visits.len() - 1;
    while execution.advance(&function).await.is_some() {}
    assert!(matches!(
        &execution.ending,
        Some(Ending::Failed { error, .. }) if error == "RolledBack"
    ));
    assert_eq!(
        names_after(&execution, from),
        vec![
            "Watched?",
            "WaitThenWatch",
            "Watch",
            "Watched?",
            "Rollback",
            "RolledBack"
        ]
    );
    let rolled = &execution.visits[execution.visits.len() - 2].output;
    assert_eq!(rolled["reason"], "abort requested: paged: checkout errors");
    assert_eq!(alb.listener_weights().await, (999, 0));
    // The execution rolled back under its own lease: nobody took it over.
    let (holder, version, expires) = alb.lease(&alb.listener_arn).await.unwrap();
    assert_eq!((holder.as_str(), version), (execution.id.as_str(), 1));
    assert!(expires <= now_ms());
}

#[tokio::test]
async fn a_watch_that_cannot_read_the_alarms_stops_the_rollout_where_it_is() {
    let bench = Bench::start().await;
    let alb = Alb::create(&bench).await;
    let function = alb.function(&bench).await;
    let input = alb.watched_spec("start", json!("Canary10Percent1Minutes"));
    let mut execution = Execution::new(state_machine(), input);
    until_watch(&mut execution, &function, 1).await;
    alb.cloudwatch
        .delete_alarms()
        .alarm_names(ALARM)
        .send()
        .await
        .unwrap();
    bench.front.reset_calls();
    while execution.advance(&function).await.is_some() {}
    assert_stopped_in_place(&execution, &bench, &alb, "AlarmUnreadable", (900, 100)).await;
    assert_eq!(execution.names().last(), Some(&"Stopped"));
    assert_eq!(
        execution.names().iter().filter(|n| **n == "Shift").count(),
        1
    );
}
