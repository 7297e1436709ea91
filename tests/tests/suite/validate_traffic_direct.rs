//! validate-traffic answering direct probe requests on the bench: the real binary under the
//! Runtime API, ELBv2 in moto, local HTTP services playing green. The test plays the state
//! machine: it invokes the function with `{"probe": …}` and reads the verdict from the return
//! value. CodeDeploy is never called.

use rollout_bench::world::{ReleaseWorld, TEST_PORT};
use rollout_bench::{Behavior, Bench, ForwardProxy, HttpTarget, LambdaFn, event};
use rollout_kit::{RolloutDetail, RolloutEvent};
use serde_json::json;

const FUNCTION: &str = "validate-traffic";
const PUT: &str = "PutLifecycleEventHookExecutionStatus";

#[tokio::test]
async fn a_url_target_is_answered_passed_then_failed_with_the_evidence() {
    let bench = Bench::start().await;
    let green = HttpTarget::start_with(Behavior::ok(r#"{"status":"ok"}"#)).await;
    let function = LambdaFn::start(FUNCTION, &bench, &[("PROBE_REQUESTS", "5")]).await;
    let request = json!({
        "probe": {
            "target_url": green.url(),
            "settings": {"probePaths": ["/health"], "bodyContains": "ok"},
        },
        "rollout_id": "checkout-7",
    });

    let invocation = function.invoke(request.clone()).await;
    let answer = invocation.response().clone();
    assert_eq!(answer["verdict"], "Passed", "{answer}\n{}", function.logs());
    assert!(answer["reason"].is_null());
    assert_eq!(
        (answer["requests"].as_u64(), answer["passed"].as_u64()),
        (Some(5), Some(5))
    );
    assert_eq!(answer["outcomes"], "passed=5");
    assert!(answer["p95Ms"].is_u64(), "{answer}");
    assert_eq!(green.request_count(), 5);
    assert!(green.requests().iter().all(|r| r.path == "/health"));

    green.set(Behavior::status(503, "upstream error"));
    let invocation = function.invoke(request).await;
    let answer = invocation.response().clone();
    assert_eq!(answer["verdict"], "Failed", "{answer}");
    let reason = answer["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("success ratio"), "{reason}");
    assert_eq!(answer["failed"], 5);
    let failures = answer["failures"].as_array().cloned().unwrap_or_default();
    assert!((1..=5).contains(&failures.len()), "{answer}");
    assert!(
        failures[0].as_str().unwrap_or_default().contains("503"),
        "{answer}"
    );

    // A malformed request is an error the state machine catches, not a verdict.
    let invocation = function.invoke(json!({"probe": {"target_url": 5}})).await;
    let (error_type, message) = invocation.error();
    assert_eq!(error_type, "InvalidEvent");
    assert!(
        message.contains("probe.target_url must be a string"),
        "{message}"
    );

    assert_eq!(bench.front.count(PUT), 0);
    assert_eq!(bench.front.count("GetDeployment"), 0);
}

#[tokio::test]
async fn a_listener_target_is_discovered_and_the_sample_request_runs() {
    let bench = Bench::start().await;
    let config = bench.sdk_config().await;
    let world = ReleaseWorld::create(&config).await;

    let green = HttpTarget::start_with(Behavior::ok(r#"{"status":"ok","version":"2"}"#)).await;
    let blue = HttpTarget::start_with(Behavior::ok("blue v1")).await;
    let proxy = ForwardProxy::start().await;
    let test_authority = format!("{}:{TEST_PORT}", world.load_balancer_dns);
    proxy.route(&test_authority, green.addr());
    proxy.route(&world.load_balancer_dns, blue.addr());
    let proxy_url = proxy.url();
    let function = LambdaFn::start(
        FUNCTION,
        &bench,
        &[
            // AWS calls never take the probe's proxy, so it sees only the probe.
            ("HTTP_PROXY", &proxy_url),
            ("PROBE_REQUESTS", "8"),
            ("READINESS_TIMEOUT_MS", "5000"),
            ("NOTIFICATION_TOPIC_ARN", &world.topic_arn),
        ],
    )
    .await;

    // The sample, pointed at the bench's test listener.
    let mut sample = event("validate-traffic/probe-request.json");
    sample["probe"]["listener_arn"] = json!(world.test_listener_arn);
    let invocation = function.invoke(sample).await;
    let answer = invocation.response().clone();
    assert_eq!(answer["verdict"], "Passed", "{answer}\n{}", function.logs());
    assert_eq!(answer["requests"], 20, "the sample's probeRequests");
    assert_eq!(green.request_count(), 20);
    assert_eq!(blue.request_count(), 0);
    assert!(
        answer["target"]
            .as_str()
            .is_some_and(|t| t.contains(&test_authority)),
        "{answer}"
    );
    assert!(
        proxy.seen().iter().all(|a| *a == test_authority),
        "{:?}",
        proxy.seen()
    );
    for op in [
        "DescribeListeners",
        "DescribeLoadBalancers",
        "DescribeTargetHealth",
    ] {
        assert!(bench.front.count(op) >= 1, "{op} not called");
    }

    // An unknown listener: a verdict naming the lookup, not an error.
    let unknown = world.test_listener_arn.replace("/app/", "/app/x");
    let invocation = function
        .invoke(json!({"probe": {"listener_arn": unknown}, "rollout_id": "checkout-8"}))
        .await;
    let answer = invocation.response().clone();
    assert_eq!(answer["verdict"], "Failed", "{answer}");
    assert!(
        answer["reason"]
            .as_str()
            .is_some_and(|r| r.contains("DescribeListeners")),
        "{answer}"
    );
    assert_eq!(answer["requests"], 0);

    assert_eq!(bench.front.count(PUT), 0, "no CodeDeploy report");
    assert_eq!(bench.front.count("GetDeployment"), 0);
    // One rollout event per request, named by its rollout id.
    let published: Vec<RolloutEvent> = bench
        .front
        .sns_messages()
        .iter()
        .filter(|m| m.topic_arn == world.topic_arn)
        .filter_map(|m| RolloutEvent::parse(&m.message))
        .collect();
    let named: Vec<(String, rollout_kit::HookStatus, u32)> = published
        .iter()
        .map(|e| match &e.detail {
            RolloutDetail::Validation(d) => (d.deployment_id.clone(), d.hook_status, d.requests),
            other => panic!("not a validation event: {other:?}"),
        })
        .collect();
    assert_eq!(
        named,
        [
            (
                "checkout-2026-12-03-1".to_string(),
                rollout_kit::HookStatus::Succeeded,
                20
            ),
            ("checkout-8".to_string(), rollout_kit::HookStatus::Failed, 0),
        ]
    );
}
