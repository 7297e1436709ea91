//! validate-traffic as the Lambda hook of ECS built-in deployments, on the bench: the real binary
//! under the Runtime API, ELBv2 in moto, `DescribeServiceRevisions` from the front's ECS fake.
//! The test plays ECS: it invokes the hook stage by stage of a CANARY deployment as ECS would,
//! reads the returned `hookStatus`, calls back after `callBackDelay` with the `hookDetails` it
//! got, and rolls back (re-invoking TEST_TRAFFIC_SHIFT and PRODUCTION_TRAFFIC_SHIFT with the
//! weights on blue) when a stage fails.
//!
//! Two small local "listeners" stand in for the ALB's: each checks its rule's condition (the
//! test rule's `X-Canary: true`, the production rule's host) and forwards what matches to the
//! revisions behind it at the current weights, answering 404 like the listener's default action
//! otherwise. A probe that did not meet the rule the hook discovered would reach nothing.

use std::time::{Duration, Instant};

use rollout_bench::ecs_world::{
    DEPLOYMENT, FUNCTION, GREEN, HOST, SAMPLES, World, canary, configured, reason, run_stage,
    statuses,
};
use rollout_bench::hooks::log_fields;
use rollout_bench::{Behavior, Bench, Fault, LambdaFn, event, workspace_root};
use serde_json::json;

#[tokio::test]
async fn a_canary_with_a_healthy_green_passes_every_stage() {
    let bench = Bench::start().await;
    let world = World::create(&bench).await;
    let function = world.hook(&bench).await;
    // A busy account: the first lookups are throttled, in ECS's own error shape.
    bench
        .front
        .inject(Fault::throttle("ecs", "DescribeServiceRevisions").times(2));

    let answers = canary(&world, &function, &configured()).await;
    assert_eq!(
        statuses(&answers),
        [
            ("PRE_SCALE_UP", "SUCCEEDED"),
            ("POST_SCALE_UP", "SUCCEEDED"),
            ("TEST_TRAFFIC_SHIFT", "SUCCEEDED"),
            ("POST_TEST_TRAFFIC_SHIFT", "SUCCEEDED"),
            ("PRE_PRODUCTION_TRAFFIC_SHIFT", "SUCCEEDED"),
            ("PRODUCTION_TRAFFIC_SHIFT", "SUCCEEDED"),
            ("PRE_PRODUCTION_TRAFFIC_SHIFT", "SUCCEEDED"),
            ("PRODUCTION_TRAFFIC_SHIFT", "SUCCEEDED"),
            ("POST_PRODUCTION_TRAFFIC_SHIFT", "SUCCEEDED"),
        ],
        "{}",
        function.logs()
    );
    // Green was probed through the test rule, with the header the rule matches on.
    let through_test = world.green.requests();
    assert_eq!(through_test.len(), 10, "POST_TEST_TRAFFIC_SHIFT only");
    assert!(
        through_test
            .iter()
            .all(|r| r.header("x-canary") == Some("true") && r.path == "/health")
    );
    // Production was probed at both PRE_PRODUCTION steps and at POST_PRODUCTION, with the host
    // the production rule matches on: 10 on blue, 9 + 1 at 10 %, 10 on green.
    let production: Vec<_> = world
        .blue
        .requests()
        .into_iter()
        .chain(world.green_in_production.requests())
        .collect();
    assert_eq!(production.len(), 30);
    assert!(production.iter().all(|r| r.header("host") == Some(HOST)));
    assert_eq!(world.green_in_production.request_count(), 11);
    // ECS reads the return value: CodeDeploy is never called, the rules were looked up.
    assert_eq!(bench.front.count("PutLifecycleEventHookExecutionStatus"), 0);
    assert_eq!(bench.front.count("DescribeRules"), 4);
    assert_eq!(bench.front.count("DescribeServiceRevisions"), 4 + 2);
    let verdict = log_fields(&function, "verdict");
    assert_eq!(verdict["stage"], "POST_PRODUCTION_TRAFFIC_SHIFT");
    assert_eq!(verdict["requests"], 10);
    let target = log_fields(&function, "probe target");
    assert_eq!(target["rule"], world.production_rule.as_str());
    assert_eq!(target["headers"], "host");
    let first_target = function
        .log_records()
        .into_iter()
        .map(|r| r.get("fields").cloned().unwrap_or(r))
        .find(|f| f["message"] == "probe target")
        .unwrap_or_default();
    assert_eq!(first_target["rule"], world.test_rule.as_str());
    assert_eq!(first_target["headers"], "x-canary");
}

#[tokio::test]
async fn a_canary_with_a_failing_green_fails_before_production_moves_and_rolls_back() {
    let bench = Bench::start().await;
    let world = World::create(&bench).await;
    world.green.set(Behavior::status(500, "checkout v2 broken"));
    let function = world.hook(&bench).await;

    let answers = canary(&world, &function, &configured()).await;
    assert_eq!(
        statuses(&answers),
        [
            ("PRE_SCALE_UP", "SUCCEEDED"),
            ("POST_SCALE_UP", "SUCCEEDED"),
            ("TEST_TRAFFIC_SHIFT", "SUCCEEDED"),
            ("POST_TEST_TRAFFIC_SHIFT", "FAILED"),
            ("TEST_TRAFFIC_SHIFT", "SUCCEEDED"),
            ("PRODUCTION_TRAFFIC_SHIFT", "SUCCEEDED"),
        ]
    );
    let failed = &answers[3];
    assert!(reason(failed).contains("success ratio"), "{}", failed.last);
    assert_eq!(failed.last["hookDetails"]["validateTraffic"]["failed"], 10);
    // The rollback's invocations are answered at once, without a lookup or a probe.
    for rollback in &answers[4..] {
        assert!(
            reason(rollback).starts_with("rollback"),
            "{}",
            rollback.last
        );
        assert!(
            rollback.elapsed < Duration::from_secs(2),
            "{:?}",
            rollback.elapsed
        );
    }
    assert_eq!(bench.front.count("DescribeServiceRevisions"), 1);
    assert_eq!(
        world.blue.request_count() + world.green_in_production.request_count(),
        0
    );
}

#[tokio::test]
async fn a_canary_whose_green_fails_only_under_production_traffic_stops_at_the_next_step() {
    let bench = Bench::start().await;
    let world = World::create(&bench).await;
    world
        .green_in_production
        .set(Behavior::status(503, "upstream connect error"));
    let function = world.hook(&bench).await;

    let answers = canary(&world, &function, &configured()).await;
    assert_eq!(
        statuses(&answers),
        [
            ("PRE_SCALE_UP", "SUCCEEDED"),
            ("POST_SCALE_UP", "SUCCEEDED"),
            ("TEST_TRAFFIC_SHIFT", "SUCCEEDED"),
            ("POST_TEST_TRAFFIC_SHIFT", "SUCCEEDED"),
            ("PRE_PRODUCTION_TRAFFIC_SHIFT", "SUCCEEDED"),
            ("PRODUCTION_TRAFFIC_SHIFT", "SUCCEEDED"),
            ("PRE_PRODUCTION_TRAFFIC_SHIFT", "FAILED"),
            ("TEST_TRAFFIC_SHIFT", "SUCCEEDED"),
            ("PRODUCTION_TRAFFIC_SHIFT", "SUCCEEDED"),
        ]
    );
    // One request in ten reached green at 10 %, and that one failed.
    let failed = &answers[6];
    assert_eq!(failed.last["hookDetails"]["validateTraffic"]["failed"], 1);
    assert!(reason(failed).contains("success ratio"), "{}", failed.last);
    assert_eq!(world.green_in_production.request_count(), 1);
}

#[tokio::test]
async fn a_soak_calls_back_with_its_totals_until_it_decides() {
    let bench = Bench::start().await;
    let world = World::create(&bench).await;
    world
        .production_listener
        .forward(&[(&world.green_in_production, 100.0)]);
    let function = world.hook(&bench).await;
    let mut soaking = configured();
    soaking.insert("soakSeconds".into(), json!(2));
    soaking.insert("soakIntervalSeconds".into(), json!(1));
    soaking.insert("probeRequests".into(), json!(4));

    let done = run_stage(
        &function,
        "POST_PRODUCTION_TRAFFIC_SHIFT",
        None,
        None,
        &soaking,
    )
    .await;
    assert_eq!(done.status, "SUCCEEDED", "{}", done.last);
    assert!(done.rounds >= 2, "{} IN_PROGRESS rounds", done.rounds);
    let own = &done.last["hookDetails"]["validateTraffic"];
    let slices = own["soak"]["slices"].as_u64().unwrap_or_default();
    assert_eq!(slices as usize, done.rounds + 1);
    assert_eq!(
        own["requests"].as_u64(),
        Some(4 * slices),
        "judged on the totals"
    );
    assert_eq!(world.green_in_production.request_count() as u64, 4 * slices);
    assert_eq!(
        done.last["hookDetails"]["soakSeconds"], 2,
        "configured keys echoed"
    );

    // Green starts failing mid-soak: the next slice ends it.
    world
        .green_in_production
        .set(Behavior::status(500, "out of memory"));
    let failed = run_stage(
        &function,
        "POST_PRODUCTION_TRAFFIC_SHIFT",
        None,
        Some(50.0),
        &soaking,
    )
    .await;
    assert_eq!(failed.status, "FAILED", "{}", failed.last);
    assert_eq!(failed.rounds, 0);
    assert!(
        reason(&failed).starts_with("soak slice 1 failed"),
        "{}",
        failed.last
    );
}

#[tokio::test]
async fn rollback_samples_are_answered_succeeded_at_once() {
    let bench = Bench::start().await;
    let function = LambdaFn::start(FUNCTION, &bench, &[("PROBE_REQUESTS", "3")]).await;
    for name in [
        "test-traffic-shift-rollback.json",
        "production-traffic-shift-rollback.json",
    ] {
        let started = Instant::now();
        let invocation = function.invoke(event(&format!("{SAMPLES}/{name}"))).await;
        let answer = invocation.response();
        assert_eq!(answer["hookStatus"], "SUCCEEDED", "{name}: {answer}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{name}: {:?}",
            started.elapsed()
        );
    }
    // Nothing looked up, nothing probed: a rollback never waits on the hook.
    assert_eq!(bench.front.calls(), vec![]);
}

#[tokio::test]
async fn malformed_events_are_answered_failed_not_with_an_error() {
    let bench = Bench::start().await;
    let function = LambdaFn::start(FUNCTION, &bench, &[]).await;
    for (payload, expected) in [
        (
            json!({"executionId": "e-1", "lifecycleStage": "BAKE_TIME"}),
            "not a stage",
        ),
        (
            json!({"lifecycleStage": "POST_TEST_TRAFFIC_SHIFT"}),
            "executionId is missing",
        ),
        (
            json!({"executionId": "e-2", "lifecycleStage": "POST_TEST_TRAFFIC_SHIFT",
                   "executionDetails": {"productionTrafficWeights": {"a": "half"}}}),
            "productionTrafficWeights",
        ),
        (
            json!({"executionId": "e-3", "lifecycleStage": "POST_TEST_TRAFFIC_SHIFT",
                   "hookDetails": ["not", "an", "object"]}),
            "hookDetails must be an object",
        ),
        (
            json!({"executionId": "e-4", "lifecycleStage": "POST_TEST_TRAFFIC_SHIFT"}),
            "targetServiceRevisionArn is missing",
        ),
    ] {
        let invocation = function.invoke(payload.clone()).await;
        let answer = invocation.response();
        assert_eq!(answer["hookStatus"], "FAILED", "{payload}: {answer}");
        let why = answer["hookDetails"]["validateTraffic"]["reason"]
            .as_str()
            .unwrap_or_default();
        assert!(why.contains(expected), "{payload}: {why}");
    }
    // A CodeDeploy-shaped payload still gets CodeDeploy's answer (an error: nothing to report).
    let invocation = function.invoke(json!({"DeploymentId": ""})).await;
    assert_eq!(invocation.error().0, "InvalidEvent");
}

#[tokio::test]
async fn every_ecs_sample_event_runs_through_the_binary() {
    let bench = Bench::start().await;
    let world = World::create(&bench).await;
    world
        .production_listener
        .forward(&[(&world.green_in_production, 100.0)]);
    let function = world.hook(&bench).await;
    let dir = workspace_root().join("events").join(SAMPLES);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    // Every stage a Lambda hook can attach to has a sample, and so has a rollback.
    for stage in [
        "reconcile-service",
        "pre-scale-up",
        "post-scale-up",
        "test-traffic-shift",
        "post-test-traffic-shift",
        "pre-production-traffic-shift",
        "production-traffic-shift",
        "post-production-traffic-shift",
        "production-traffic-shift-rollback",
        "test-traffic-shift-rollback",
    ] {
        assert!(
            names.contains(&format!("{stage}.json")),
            "no sample for {stage}: {names:?}"
        );
    }
    for name in names {
        let sample = event(&format!("{SAMPLES}/{name}"));
        let stage = sample["lifecycleStage"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let named = ["-rollback", "-step-2", "-canary"]
            .iter()
            .fold(name.trim_end_matches(".json"), |n, suffix| {
                n.trim_end_matches(suffix)
            })
            .replace('-', "_")
            .to_uppercase();
        assert_eq!(named, stage, "{name} is named after its stage");
        let invocation = function.invoke(sample.clone()).await;
        let answer = invocation.response();
        assert_eq!(
            answer["hookStatus"],
            "SUCCEEDED",
            "{name}: {answer}\n{}",
            function.logs()
        );
        assert_eq!(
            answer["hookDetails"]["probeRequests"],
            sample["hookDetails"]["probeRequests"]
        );
    }
    // The probing stages went through green's rules: POST_TEST through the test rule, both
    // PRE_PRODUCTION samples and POST_PRODUCTION through production.
    assert_eq!(world.green.request_count(), 10);
    assert_eq!(world.green_in_production.request_count(), 30);
}

#[tokio::test]
async fn the_ecs_fake_answers_as_ecs_does() {
    use aws_sdk_ecs::error::ProvideErrorMetadata;
    let bench = Bench::start().await;
    let _world = World::create(&bench).await;
    let ecs = aws_sdk_ecs::Client::new(&bench.sdk_config().await);

    let found = ecs
        .describe_service_revisions()
        .service_revision_arns(GREEN)
        .service_revision_arns("arn:aws:ecs:us-east-1:123456789012:service-revision/prod/shop/1")
        .send()
        .await
        .expect("describe revisions");
    let revision = &found.service_revisions()[0];
    assert_eq!(revision.service_revision_arn(), Some(GREEN));
    let advanced = revision.load_balancers()[0]
        .advanced_configuration()
        .expect("advancedConfiguration");
    assert!(
        advanced
            .test_listener_rule()
            .is_some_and(|r| r.contains(":listener-rule/"))
    );
    assert_eq!(found.failures()[0].reason(), Some("MISSING"));

    let deployments = ecs
        .describe_service_deployments()
        .service_deployment_arns(DEPLOYMENT)
        .send()
        .await
        .expect("describe deployments");
    let deployment = &deployments.service_deployments()[0];
    assert_eq!(
        deployment.target_service_revision().and_then(|r| r.arn()),
        Some(GREEN)
    );

    for (arns, what) in [
        (
            vec!["not-an-arn".to_string()],
            "Invalid service-revision ARN",
        ),
        (vec![GREEN.to_string(); 21], "between 1 and 20"),
        (vec![DEPLOYMENT.to_string()], "Invalid service-revision ARN"),
    ] {
        let err = ecs
            .describe_service_revisions()
            .set_service_revision_arns(Some(arns))
            .send()
            .await
            .expect_err("refused");
        assert_eq!(err.code(), Some("InvalidParameterException"));
        assert!(err.message().unwrap_or_default().contains(what), "{err:?}");
        assert!(err.into_service_error().is_invalid_parameter_exception());
    }
    // Injected faults come in ECS's shape too.
    bench.front.inject(
        Fault::error(
            "ecs",
            "DescribeServiceDeployments",
            400,
            "ClientException",
            "denied",
        )
        .times(1),
    );
    let err = ecs
        .describe_service_deployments()
        .service_deployment_arns(DEPLOYMENT)
        .send()
        .await
        .expect_err("faulted");
    assert!(err.into_service_error().is_client_exception());
    bench.front.inject(Fault::error(
        "ecs",
        "DescribeServiceRevisions",
        500,
        "ServerException",
        "boom",
    ));
    let err = ecs
        .describe_service_revisions()
        .service_revision_arns(GREEN)
        .send()
        .await
        .expect_err("faulted");
    assert!(err.into_service_error().is_server_exception());
    // The SDK retried the 500s it got.
    assert!(bench.front.count("DescribeServiceRevisions") >= 4 + 2);
}
