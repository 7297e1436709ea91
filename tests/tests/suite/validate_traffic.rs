//! validate-traffic on the bench: the real binary under the Runtime API, moto behind the AWS
//! front, and local HTTP services playing green. Every test asserts on what reached the bench:
//! the hook statuses the CodeDeploy fake accepted, the requests green received, the SNS messages.

use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_codedeploy::types::ComputePlatform;
use aws_sdk_elasticloadbalancingv2::types::{Action, ActionTypeEnum, TargetDescription};
use rollout_bench::hooks::{
    closed_port, deployment_on, find_log, hook, log_fields, plain_deployment, reports_for,
};
use rollout_bench::world::{ReleaseWorld, TEST_PORT};
use rollout_bench::{
    Behavior, Bench, Fault, ForwardProxy, HookReport, HttpTarget, InvokeOutcome, LambdaFn,
    events_in,
};
use rollout_kit::{RolloutDetail, RolloutEvent};
use serde_json::json;

const FUNCTION: &str = "validate-traffic";
const PUT: &str = "PutLifecycleEventHookExecutionStatus";

fn reason(function: &LambdaFn) -> String {
    log_fields(function, "verdict")["reason"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

type Case = (
    &'static str,
    Behavior,
    Vec<(&'static str, &'static str)>,
    &'static str,
);

#[tokio::test]
async fn healthy_green_is_reported_succeeded_once() {
    let bench = Bench::start().await;
    let config = bench.sdk_config().await;
    let deployment = plain_deployment(&config, "healthy").await;
    let green = HttpTarget::start_with(Behavior::ok(r#"{"status":"ok","version":"2"}"#)).await;
    let url = green.url();
    let function = LambdaFn::start(
        FUNCTION,
        &bench,
        &[
            ("TARGET_URL", &url),
            ("PROBE_PATHS", "/health,/version"),
            ("PROBE_HEADERS", "Host: shop.example.com; X-Probe: 1"),
            ("PROBE_REQUESTS", "10"),
            ("WARMUP_REQUESTS", "2"),
            ("BODY_CONTAINS", "\"status\":\"ok\""),
            ("BODY_REGEX", "\"version\":\"[0-9]+\""),
            ("MAX_P95_MS", "2000"),
        ],
    )
    .await;

    let invocation = function.invoke(hook(&deployment, "exec-healthy")).await;
    assert!(
        invocation.is_ok(),
        "{:?}\n{}",
        invocation.outcome,
        function.logs()
    );
    assert_eq!(
        bench.front.hook_reports(),
        vec![HookReport {
            deployment_id: deployment.clone(),
            execution_id: "exec-healthy".into(),
            status: "Succeeded".into(),
        }]
    );
    let requests = green.requests();
    assert_eq!(requests.len(), 12, "2 warm-up + 10 counted");
    assert!(requests.iter().all(|r| r.method == "GET"));
    assert!(
        requests
            .iter()
            .all(|r| r.header("host") == Some("shop.example.com")
                && r.header("x-probe") == Some("1"))
    );
    assert!(requests.iter().any(|r| r.path == "/health"));
    assert!(requests.iter().any(|r| r.path == "/version"));

    let verdict = log_fields(&function, "verdict");
    assert_eq!(verdict["verdict"], "Succeeded");
    assert_eq!(verdict["requests"], 10);
    assert_eq!(verdict["passed"], 10);
    assert!(verdict["p95_ms"].is_u64(), "{verdict}");
    // The whole event never reaches the logs at INFO; the execution id is opaque but private.
    assert!(!function.logs().contains("exec-healthy"));
}

#[tokio::test]
async fn unhealthy_green_is_reported_failed_with_its_reason() {
    let bench = Bench::start().await;
    let config = bench.sdk_config().await;
    let green = HttpTarget::start().await;
    let url = green.url();
    // (name, green's behaviour, extra configuration, expected reason)
    let cases: Vec<Case> = vec![
        (
            "server-error",
            Behavior::status(503, "upstream connect error"),
            vec![],
            "success ratio",
        ),
        (
            "slow",
            Behavior::slow(200, "ok", Duration::from_millis(300)),
            vec![("MAX_P95_MS", "100")],
            "p95 latency",
        ),
        (
            "wrong-body",
            Behavior::ok(r#"{"version":"1"}"#),
            vec![("BODY_CONTAINS", r#""version":"2""#)],
            "success ratio",
        ),
        ("reset", Behavior::Reset, vec![], "success ratio"),
        ("garbage", Behavior::Garbage, vec![], "success ratio"),
    ];
    for (name, behavior, extra, expected_reason) in cases {
        let deployment = plain_deployment(&config, name).await;
        green.set(behavior);
        let mut env = vec![
            ("TARGET_URL", url.as_str()),
            ("PROBE_REQUESTS", "6"),
            ("PROBE_TIMEOUT_MS", "3000"),
        ];
        env.extend(extra);
        let function = LambdaFn::start(FUNCTION, &bench, &env).await;
        let invocation = function.invoke(hook(&deployment, name)).await;
        assert!(invocation.is_ok(), "{name}: {:?}", invocation.outcome);
        let reports = reports_for(&bench, &deployment);
        assert_eq!(reports.len(), 1, "{name}");
        assert_eq!(reports[0].status, "Failed", "{name}");
        let why = reason(&function);
        assert!(why.contains(expected_reason), "{name}: {why}");
        let verdict = log_fields(&function, "verdict");
        assert_eq!(verdict["requests"], 6, "{name}: {verdict}");
        if name == "server-error" {
            // The evidence names the status and quotes the body.
            let failures = verdict["failures"].to_string();
            assert!(
                failures.contains("503") && failures.contains("upstream connect error"),
                "{failures}"
            );
        }
    }
    assert_eq!(bench.front.hook_reports().len(), 5);
}

#[tokio::test]
async fn connection_refused_is_reported_failed() {
    let bench = Bench::start().await;
    let config = bench.sdk_config().await;
    let deployment = plain_deployment(&config, "refused").await;
    let url = format!("http://127.0.0.1:{}", closed_port().await);
    let function = LambdaFn::start(
        FUNCTION,
        &bench,
        &[("TARGET_URL", &url), ("PROBE_REQUESTS", "4")],
    )
    .await;
    let invocation = function.invoke(hook(&deployment, "exec-refused")).await;
    assert!(invocation.is_ok(), "{:?}", invocation.outcome);
    let reports = reports_for(&bench, &deployment);
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].status, "Failed");
    let verdict = log_fields(&function, "verdict");
    assert_eq!(verdict["outcomes"], "connect_failed=4", "{verdict}");
}

/// A test listener with a private certificate: refused while `TLS_VERIFY` is on (the default),
/// probed normally once it is turned off.
#[tokio::test]
async fn self_signed_test_listener_needs_tls_verify_off() {
    let bench = Bench::start().await;
    let config = bench.sdk_config().await;
    let green = HttpTarget::start_tls(Behavior::ok("checkout v2 ok")).await;
    let url = green.url();
    assert!(url.starts_with("https://"), "{url}");

    let deployment = plain_deployment(&config, "tls-verified").await;
    let verifying = LambdaFn::start(
        FUNCTION,
        &bench,
        &[("TARGET_URL", &url), ("PROBE_REQUESTS", "3")],
    )
    .await;
    let invocation = verifying.invoke(hook(&deployment, "exec-tls-on")).await;
    assert!(invocation.is_ok(), "{:?}", invocation.outcome);
    let reports = reports_for(&bench, &deployment);
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].status, "Failed");
    let verdict = log_fields(&verifying, "verdict");
    assert_eq!(verdict["outcomes"], "connect_failed=3", "{verdict}");
    assert!(
        verdict
            .to_string()
            .to_ascii_lowercase()
            .contains("certificate"),
        "the failure names the certificate: {verdict}"
    );
    assert_eq!(
        green.request_count(),
        0,
        "no request crosses a rejected handshake"
    );

    let deployment = plain_deployment(&config, "tls-unverified").await;
    let trusting = LambdaFn::start(
        FUNCTION,
        &bench,
        &[
            ("TARGET_URL", &url),
            ("PROBE_REQUESTS", "3"),
            ("TLS_VERIFY", "false"),
            ("BODY_CONTAINS", "v2 ok"),
        ],
    )
    .await;
    let invocation = trusting.invoke(hook(&deployment, "exec-tls-off")).await;
    assert!(invocation.is_ok(), "{:?}", invocation.outcome);
    let reports = reports_for(&bench, &deployment);
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].status, "Succeeded", "{}", trusting.logs());
    assert_eq!(green.request_count(), 3);
}

#[tokio::test]
async fn green_that_never_answers_is_failed_before_the_deadline() {
    let bench = Bench::start().await;
    let config = bench.sdk_config().await;
    let deployment = plain_deployment(&config, "hang").await;
    let green = HttpTarget::start_with(Behavior::Hang).await;
    let url = green.url();
    let function = LambdaFn::start(
        FUNCTION,
        &bench,
        &[
            ("TARGET_URL", &url),
            ("PROBE_TIMEOUT_MS", "60000"),
            ("DEADLINE_MARGIN_MS", "1500"),
        ],
    )
    .await;
    let timeout = Duration::from_secs(4);
    let invocation = function
        .invoke_with_timeout(hook(&deployment, "exec-hang"), timeout)
        .await;
    // The function answered by itself, before Lambda would have stopped it.
    assert!(
        invocation.is_ok(),
        "{:?}\n{}",
        invocation.outcome,
        function.logs()
    );
    assert!(invocation.elapsed < timeout, "{:?}", invocation.elapsed);
    let reports = reports_for(&bench, &deployment);
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].status, "Failed");
    assert!(green.request_count() > 0, "the probe was under way");
    assert!(
        reason(&function).contains("deadline guard"),
        "{}",
        reason(&function)
    );
}

/// CodeDeploy's AllowTestTraffic: the test listener now forwards to green.
async fn allow_test_traffic(config: &SdkConfig, world: &ReleaseWorld) {
    aws_sdk_elasticloadbalancingv2::Client::new(config)
        .modify_listener()
        .listener_arn(&world.test_listener_arn)
        .default_actions(
            Action::builder()
                .r#type(ActionTypeEnum::Forward)
                .target_group_arn(&world.green_target_group_arn)
                .build(),
        )
        .send()
        .await
        .expect("modify test listener");
}

#[tokio::test]
async fn test_listener_is_discovered_and_green_probed_through_it() {
    let bench = Bench::start().await;
    let config = bench.sdk_config().await;
    let world = ReleaseWorld::create(&config).await;
    allow_test_traffic(&config, &world).await;
    let deployment = world.create_deployment(&config).await;

    let green = HttpTarget::start_with(Behavior::ok("green v2")).await;
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
            // No NO_PROXY: AWS calls never take the probe's proxy, so it sees only the probe.
            ("HTTP_PROXY", &proxy_url),
            ("PROBE_REQUESTS", "8"),
            ("BODY_CONTAINS", "v2"),
            ("READINESS_TIMEOUT_MS", "5000"),
            ("NOTIFICATION_TOPIC_ARN", &world.topic_arn),
        ],
    )
    .await;
    let invocation = function.invoke(hook(&deployment, "exec-discovered")).await;
    assert!(
        invocation.is_ok(),
        "{:?}\n{}",
        invocation.outcome,
        function.logs()
    );

    let reports = reports_for(&bench, &deployment);
    assert_eq!(reports.len(), 1, "{}", function.logs());
    assert_eq!(reports[0].status, "Succeeded", "{}", reason(&function));
    assert_eq!(green.request_count(), 8);
    assert_eq!(blue.request_count(), 0);
    assert!(
        proxy.seen().iter().all(|a| *a == test_authority),
        "{:?}",
        proxy.seen()
    );
    for op in [
        "GetDeployment",
        "GetDeploymentGroup",
        "DescribeListeners",
        "DescribeLoadBalancers",
        "DescribeTargetHealth",
    ] {
        assert!(bench.front.count(op) >= 1, "{op} not called");
    }
    let probe = log_fields(&function, "probe target");
    assert_eq!(
        probe["green_target_group"].as_str(),
        Some(world.green_target_group_arn.as_str())
    );

    let published: Vec<RolloutEvent> = bench
        .front
        .sns_messages()
        .iter()
        .filter(|m| m.topic_arn == world.topic_arn)
        .filter_map(|m| RolloutEvent::parse(&m.message))
        .collect();
    assert_eq!(published.len(), 1);
    let RolloutDetail::Validation(detail) = &published[0].detail else {
        panic!("not a validation event: {:?}", published[0]);
    };
    assert_eq!(detail.deployment_id, deployment);
    assert_eq!(detail.hook_status, rollout_kit::HookStatus::Succeeded);
    assert_eq!((detail.requests, detail.passed), (8, 8));
    assert!(
        detail
            .target
            .as_deref()
            .is_some_and(|t| t.contains(&world.load_balancer_dns)),
        "{detail:?}"
    );
}

#[tokio::test]
async fn green_without_healthy_targets_fails_the_readiness_gate() {
    unready_green_is_never_probed(false).await;
}

/// `TARGET_URL` skips discovery, not the gate: the deployment group still names green.
#[tokio::test]
async fn readiness_gate_holds_with_a_configured_url() {
    unready_green_is_never_probed(true).await;
}

async fn unready_green_is_never_probed(configured_url: bool) {
    let bench = Bench::start().await;
    let config = bench.sdk_config().await;
    let world = ReleaseWorld::create(&config).await;
    allow_test_traffic(&config, &world).await;
    // moto reports every registered target healthy, so an empty group is the unready green.
    aws_sdk_elasticloadbalancingv2::Client::new(&config)
        .deregister_targets()
        .target_group_arn(&world.green_target_group_arn)
        .targets(
            TargetDescription::builder()
                .id("10.0.2.10")
                .port(8000)
                .build(),
        )
        .send()
        .await
        .expect("deregister");
    let deployment = world.create_deployment(&config).await;
    let green = HttpTarget::start().await;
    let proxy = ForwardProxy::start().await;
    proxy.route(
        &format!("{}:{TEST_PORT}", world.load_balancer_dns),
        green.addr(),
    );
    let proxy_url = proxy.url();
    let target_url = green.url();
    let mut env = vec![
        ("HTTP_PROXY", proxy_url.as_str()),
        ("NO_PROXY", "127.0.0.1,localhost"),
        ("READINESS_TIMEOUT_MS", "3000"),
    ];
    if configured_url {
        env.push(("TARGET_URL", target_url.as_str()));
    }
    let function = LambdaFn::start(FUNCTION, &bench, &env).await;
    let invocation = function.invoke(hook(&deployment, "exec-unready")).await;
    assert!(invocation.is_ok(), "{:?}", invocation.outcome);
    let reports = reports_for(&bench, &deployment);
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].status, "Failed");
    assert_eq!(green.request_count(), 0, "no probe before green is ready");
    assert!(bench.front.count("DescribeTargetHealth") >= 1);
    let why = reason(&function);
    assert!(why.contains("no targets registered"), "{why}");
}

#[tokio::test]
async fn no_test_listener_and_no_url_is_reported_failed() {
    let bench = Bench::start().await;
    let config = bench.sdk_config().await;
    // An EC2 deployment group without a load balancer: nothing to discover.
    let deployment = deployment_on(&config, "nolistener", ComputePlatform::Server).await;
    let function = LambdaFn::start(FUNCTION, &bench, &[]).await;
    let invocation = function.invoke(hook(&deployment, "exec-nolistener")).await;
    assert!(invocation.is_ok(), "{:?}", invocation.outcome);
    let reports = reports_for(&bench, &deployment);
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].status, "Failed");
    let why = reason(&function);
    assert!(
        why.contains("no test listener") && why.contains("TARGET_URL"),
        "{why}"
    );
}

#[tokio::test]
async fn throttled_report_is_retried_and_recorded_once() {
    let bench = Bench::start().await;
    let config = bench.sdk_config().await;
    let deployment = plain_deployment(&config, "throttled").await;
    let green = HttpTarget::start().await;
    let url = green.url();
    bench
        .front
        .inject(Fault::throttle("codedeploy", PUT).times(1));
    bench
        .front
        .inject(Fault::server_error("codedeploy", PUT).times(1));
    let function = LambdaFn::start(
        FUNCTION,
        &bench,
        &[("TARGET_URL", &url), ("PROBE_REQUESTS", "3")],
    )
    .await;
    let invocation = function.invoke(hook(&deployment, "exec-throttled")).await;
    assert!(
        invocation.is_ok(),
        "{:?}\n{}",
        invocation.outcome,
        function.logs()
    );
    assert_eq!(bench.front.count(PUT), 3, "throttled, 500, accepted");
    let reports = reports_for(&bench, &deployment);
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].status, "Succeeded");
}

#[tokio::test]
async fn already_completed_hook_is_success_without_a_second_report() {
    let bench = Bench::start().await;
    let config = bench.sdk_config().await;
    let deployment = plain_deployment(&config, "retried").await;
    let green = HttpTarget::start().await;
    let url = green.url();
    let function = LambdaFn::start(
        FUNCTION,
        &bench,
        &[("TARGET_URL", &url), ("PROBE_REQUESTS", "2")],
    )
    .await;
    let event = hook(&deployment, "exec-retried");
    assert!(function.invoke(event.clone()).await.is_ok());
    // Lambda's async retry of the same event.
    let retry = function.invoke(event).await;
    assert!(retry.is_ok(), "{:?}", retry.outcome);
    assert_eq!(bench.front.count(PUT), 2);
    assert_eq!(reports_for(&bench, &deployment).len(), 1);
}

#[tokio::test]
async fn unknown_deployment_is_a_clear_error_without_a_report() {
    let bench = Bench::start().await;
    let green = HttpTarget::start().await;
    let url = green.url();
    let function = LambdaFn::start(FUNCTION, &bench, &[("TARGET_URL", &url)]).await;
    let invocation = function.invoke(hook("d-NOTREAL01", "exec-unknown")).await;
    let (error_type, message) = invocation.error();
    assert_eq!(error_type, "DeploymentNotFound");
    assert!(message.contains("d-NOTREAL01"), "{message}");
    assert_eq!(bench.front.count(PUT), 0);
    assert_eq!(green.request_count(), 0);
}

#[tokio::test]
async fn malformed_events_are_clear_errors_and_never_reported() {
    let bench = Bench::start().await;
    let function = LambdaFn::start(FUNCTION, &bench, &[("TARGET_URL", "http://127.0.0.1:9")]).await;
    for bad in [
        json!({}),
        json!({"DeploymentId": "", "LifecycleEventHookExecutionId": ""}),
        json!({"DeploymentId": "d-ABC", "LifecycleEventHookExecutionId": "  "}),
        json!({"deploymentId": "d-ABC", "lifecycleEventHookExecutionId": "e"}),
        json!(["d-ABC", "e"]),
    ] {
        let invocation = function.invoke(bad.clone()).await;
        let (error_type, message) = invocation.error();
        assert_eq!(error_type, "InvalidEvent", "{bad}: {message}");
        assert!(
            message.contains("DeploymentId") || message.contains("LifecycleEventHookExecutionId"),
            "{bad}: {message}"
        );
    }
    let not_json = function
        .invoke_raw("{not json".into(), Duration::from_secs(5))
        .await;
    assert!(
        matches!(not_json.outcome, InvokeOutcome::Error { .. }),
        "{:?}",
        not_json.outcome
    );
    assert_eq!(bench.front.count(PUT), 0);
    assert!(bench.front.hook_reports().is_empty());
}

#[tokio::test]
async fn bad_configuration_still_reports_failed() {
    let bench = Bench::start().await;
    let config = bench.sdk_config().await;
    let deployment = plain_deployment(&config, "badconfig").await;
    let green = HttpTarget::start().await;
    let url = green.url();
    let function = LambdaFn::start(
        FUNCTION,
        &bench,
        &[
            ("TARGET_URL", &url),
            ("PROBE_REQUESTS", "lots"),
            ("PROBE_HEADERS", "Authorization: Bearer s3cret-token"),
        ],
    )
    .await;
    let invocation = function.invoke(hook(&deployment, "exec-badconfig")).await;
    let (error_type, message) = invocation.error();
    assert_eq!(error_type, "InvalidConfig");
    assert!(message.contains("PROBE_REQUESTS"), "{message}");
    let reports = reports_for(&bench, &deployment);
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].status, "Failed");
    assert_eq!(green.request_count(), 0);
    assert!(!function.logs().contains("s3cret-token"));
}

#[tokio::test]
async fn every_sample_event_runs_through_the_binary() {
    let bench = Bench::start().await;
    let config = bench.sdk_config().await;
    let green = HttpTarget::start().await;
    let url = green.url();
    let function = LambdaFn::start(
        FUNCTION,
        &bench,
        &[("TARGET_URL", &url), ("PROBE_REQUESTS", "2")],
    )
    .await;
    let samples = events_in(FUNCTION);
    assert!(samples.len() >= 3);
    // Probe requests are no CodeDeploy hook: validate_traffic_direct.rs runs them.
    let hooks = samples
        .into_iter()
        .filter(|(_, s)| s.get("probe").is_none());
    for (index, (name, mut sample)) in hooks.enumerate() {
        let execution_id = sample["LifecycleEventHookExecutionId"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: no execution id"))
            .to_string();
        // moto makes its own deployment ids; the sample's hook execution id is kept as is.
        let deployment = plain_deployment(&config, &format!("sample{index}")).await;
        sample["DeploymentId"] = json!(deployment);
        let invocation = function.invoke(sample).await;
        assert!(invocation.is_ok(), "{name}: {:?}", invocation.outcome);
        assert_eq!(
            reports_for(&bench, &deployment),
            vec![HookReport {
                deployment_id: deployment.clone(),
                execution_id,
                status: "Succeeded".into(),
            }],
            "{name}"
        );
    }
}

#[tokio::test]
async fn a_failed_publish_never_changes_the_hook_status() {
    let bench = Bench::start().await;
    let config = bench.sdk_config().await;
    let deployment = plain_deployment(&config, "nopublish").await;
    let topic = aws_sdk_sns::Client::new(&config)
        .create_topic()
        .name("deployments")
        .send()
        .await
        .expect("create topic")
        .topic_arn
        .expect("topic arn");
    bench.front.inject(Fault::error(
        "sns",
        "Publish",
        403,
        "AuthorizationError",
        "not allowed",
    ));
    let green = HttpTarget::start().await;
    let url = green.url();
    let function = LambdaFn::start(
        FUNCTION,
        &bench,
        &[
            ("TARGET_URL", &url),
            ("PROBE_REQUESTS", "2"),
            ("NOTIFICATION_TOPIC_ARN", &topic),
        ],
    )
    .await;
    let invocation = function.invoke(hook(&deployment, "exec-nopublish")).await;
    assert!(invocation.is_ok(), "{:?}", invocation.outcome);
    assert!(bench.front.count("Publish") >= 1);
    let reports = reports_for(&bench, &deployment);
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].status, "Succeeded");
}

/// Green behind a path prefix: `/app` answers 200, everything else (so `/app/health`) 500.
/// Pasting the probe path onto the whole URL string put it inside the query (`/app?token=x/health`
/// probes `/app`) and reported a false `Succeeded`.
async fn prefixed_green() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use axum::http::{StatusCode, Uri};
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = seen.clone();
    let router = axum::Router::new().fallback(move |uri: Uri| {
        let record = record.clone();
        async move {
            record
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(uri.to_string());
            if uri.path() == "/app" {
                (StatusCode::OK, "app home")
            } else {
                (StatusCode::INTERNAL_SERVER_ERROR, "health check failed")
            }
        }
    });
    let listener = rollout_bench::bind_local().await;
    let addr = listener.local_addr().expect("addr");
    rollout_bench::serve(listener, router);
    (format!("http://{addr}"), seen)
}

#[tokio::test]
async fn probe_paths_join_the_target_path_and_keep_its_query() {
    let bench = Bench::start().await;
    let config = bench.sdk_config().await;
    let (base, seen) = prefixed_green().await;
    let deployment = plain_deployment(&config, "prefixed").await;
    let url = format!("{base}/app?token=q-s3cret");
    let function = LambdaFn::start(
        FUNCTION,
        &bench,
        &[
            ("TARGET_URL", &url),
            ("PROBE_PATHS", "/health"),
            ("PROBE_REQUESTS", "3"),
        ],
    )
    .await;
    let invocation = function.invoke(hook(&deployment, "exec-prefixed")).await;
    assert!(invocation.is_ok(), "{:?}", invocation.outcome);
    let reports = reports_for(&bench, &deployment);
    assert_eq!(reports.len(), 1);
    assert_eq!(
        reports[0].status,
        "Failed",
        "/app/health answers 500: {}",
        function.logs()
    );
    let seen = seen.lock().unwrap_or_else(|p| p.into_inner()).clone();
    assert_eq!(seen, vec!["/app/health?token=q-s3cret"; 3]);
    // The query may carry a token: it stays out of the logs.
    assert!(!function.logs().contains("q-s3cret"), "{}", function.logs());
}

#[tokio::test]
async fn target_url_with_a_fragment_is_refused_at_cold_start() {
    let bench = Bench::start().await;
    let config = bench.sdk_config().await;
    let (base, seen) = prefixed_green().await;
    let deployment = plain_deployment(&config, "fragment").await;
    let url = format!("{base}/app#health");
    let function = LambdaFn::start(FUNCTION, &bench, &[("TARGET_URL", &url)]).await;
    let invocation = function.invoke(hook(&deployment, "exec-fragment")).await;
    let (error_type, message) = invocation.error();
    assert_eq!(error_type, "InvalidConfig");
    assert!(
        message.contains("TARGET_URL") && message.contains("fragment"),
        "{message}"
    );
    let reports = reports_for(&bench, &deployment);
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].status, "Failed");
    assert!(seen.lock().unwrap_or_else(|p| p.into_inner()).is_empty());
}

/// A fixed 5 s margin is longer than a 2 s invocation; the margin shrinks to fit and green is
/// probed.
#[tokio::test]
async fn short_timeout_with_the_default_margin_still_probes() {
    let bench = Bench::start().await;
    let config = bench.sdk_config().await;
    let deployment = plain_deployment(&config, "short").await;
    let green = HttpTarget::start().await;
    let url = green.url();
    let function = LambdaFn::start(
        FUNCTION,
        &bench,
        &[("TARGET_URL", &url), ("PROBE_REQUESTS", "3")],
    )
    .await;
    let timeout = Duration::from_secs(2);
    let invocation = function
        .invoke_with_timeout(hook(&deployment, "exec-short"), timeout)
        .await;
    assert!(
        invocation.is_ok(),
        "{:?}\n{}",
        invocation.outcome,
        function.logs()
    );
    assert!(invocation.elapsed < timeout, "{:?}", invocation.elapsed);
    let reports = reports_for(&bench, &deployment);
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].status, "Succeeded", "{}", reason(&function));
    assert_eq!(green.request_count(), 3);
}

/// A discovered release (test listener → green) with one lookup throttled: `times` calls, or
/// for good when `None`. Returns the deployment's hook statuses, the logged reason and the
/// invocation.
async fn discovery_with_throttled(
    service: &str,
    operation: &str,
    times: Option<u32>,
    timeout: Duration,
) -> (Vec<String>, String, rollout_bench::Invocation, usize) {
    let fault = Fault::throttle(service, operation);
    let fault = match times {
        Some(n) => fault.times(n),
        None => fault,
    };
    discovery_with_fault(fault, operation, timeout).await
}

/// [`discovery_with_throttled`] with any fault on `operation`.
async fn discovery_with_fault(
    fault: Fault,
    operation: &str,
    timeout: Duration,
) -> (Vec<String>, String, rollout_bench::Invocation, usize) {
    let bench = Bench::start().await;
    let config = bench.sdk_config().await;
    let world = ReleaseWorld::create(&config).await;
    allow_test_traffic(&config, &world).await;
    let deployment = world.create_deployment(&config).await;
    let green = HttpTarget::start_with(Behavior::ok("green v2")).await;
    let proxy = ForwardProxy::start().await;
    proxy.route(
        &format!("{}:{TEST_PORT}", world.load_balancer_dns),
        green.addr(),
    );
    let proxy_url = proxy.url();
    let function = LambdaFn::start(
        FUNCTION,
        &bench,
        &[
            ("HTTP_PROXY", &proxy_url),
            ("NO_PROXY", "127.0.0.1,localhost"),
            ("PROBE_REQUESTS", "3"),
        ],
    )
    .await;
    bench.front.inject(fault);
    let invocation = function
        .invoke_with_timeout(hook(&deployment, "exec-throttled-lookup"), timeout)
        .await;
    let statuses = reports_for(&bench, &deployment)
        .into_iter()
        .map(|r| r.status)
        .collect();
    let why = find_log(&function, "verdict")
        .and_then(|v| v["reason"].as_str().map(str::to_string))
        .unwrap_or_default();
    let calls = bench.front.count(operation);
    if invocation.elapsed >= timeout || !invocation.is_ok() {
        eprintln!("{}", function.logs());
    }
    (statuses, why, invocation, calls)
}

/// Throttled 5 times: more than the SDK's 3 attempts, so only our own retries get through.
async fn throttled_past_the_sdk_still_succeeds(service: &str, operation: &str) {
    let timeout = Duration::from_secs(25);
    let (statuses, why, invocation, calls) =
        discovery_with_throttled(service, operation, Some(5), timeout).await;
    assert!(invocation.is_ok(), "{operation}: {:?}", invocation.outcome);
    assert_eq!(statuses, vec!["Succeeded"], "{operation}: {why}");
    assert!(calls >= 6, "{operation}: {calls} calls");
}

/// Throttled for good: `Failed` naming the call and the throttling, reported before the deadline.
async fn throttled_for_good_fails_naming_the_cause(service: &str, operation: &str) {
    let timeout = Duration::from_secs(8);
    let (statuses, why, invocation, _) =
        discovery_with_throttled(service, operation, None, timeout).await;
    assert!(invocation.is_ok(), "{operation}: {:?}", invocation.outcome);
    assert!(
        invocation.elapsed < timeout,
        "{operation}: {:?}",
        invocation.elapsed
    );
    assert_eq!(statuses, vec!["Failed"], "{operation}");
    assert!(
        why.contains(operation) && why.contains("Throttling"),
        "{operation}: {why}"
    );
}

#[tokio::test]
async fn get_deployment_throttled_past_the_sdk_retries_still_succeeds() {
    throttled_past_the_sdk_still_succeeds("codedeploy", "GetDeployment").await;
}

#[tokio::test]
async fn get_deployment_group_throttled_past_the_sdk_retries_still_succeeds() {
    throttled_past_the_sdk_still_succeeds("codedeploy", "GetDeploymentGroup").await;
}

#[tokio::test]
async fn describe_listeners_throttled_past_the_sdk_retries_still_succeeds() {
    throttled_past_the_sdk_still_succeeds("elasticloadbalancing", "DescribeListeners").await;
}

#[tokio::test]
async fn describe_target_health_throttled_past_the_sdk_retries_still_succeeds() {
    throttled_past_the_sdk_still_succeeds("elasticloadbalancing", "DescribeTargetHealth").await;
}

#[tokio::test]
async fn get_deployment_throttled_for_good_fails_naming_the_cause() {
    throttled_for_good_fails_naming_the_cause("codedeploy", "GetDeployment").await;
}

#[tokio::test]
async fn get_deployment_group_throttled_for_good_fails_naming_the_cause() {
    throttled_for_good_fails_naming_the_cause("codedeploy", "GetDeploymentGroup").await;
}

#[tokio::test]
async fn describe_listeners_throttled_for_good_fails_naming_the_cause() {
    throttled_for_good_fails_naming_the_cause("elasticloadbalancing", "DescribeListeners").await;
}

/// The readiness bound (60 s by default) is longer than the invocation: the gate must stop at
/// the work budget and name the throttling, not leave it to the deadline guard.
#[tokio::test]
async fn describe_target_health_throttled_for_good_fails_naming_the_cause() {
    throttled_for_good_fails_naming_the_cause("elasticloadbalancing", "DescribeTargetHealth").await;
}

/// A lookup that never answers is abandoned at the client's attempt timeout and tried again,
/// instead of holding the invocation until the deadline guard.
#[tokio::test]
async fn a_hung_lookup_is_abandoned_and_retried() {
    let timeout = Duration::from_secs(20);
    let (statuses, why, invocation, calls) = discovery_with_fault(
        Fault::hang("codedeploy", "GetDeployment").times(1),
        "GetDeployment",
        timeout,
    )
    .await;
    assert!(invocation.is_ok(), "{:?}", invocation.outcome);
    assert_eq!(statuses, vec!["Succeeded"], "{why}");
    assert!(calls >= 2, "{calls} calls");
}

/// With `TARGET_URL`, a gate that cannot find green is skipped, and says so at warn level.
#[tokio::test]
async fn a_skipped_readiness_gate_is_a_warning() {
    let bench = Bench::start().await;
    let config = bench.sdk_config().await;
    let world = ReleaseWorld::create(&config).await;
    let deployment = world.create_deployment(&config).await;
    let green = HttpTarget::start().await;
    let url = green.url();
    bench.front.inject(Fault::error(
        "codedeploy",
        "GetDeploymentGroup",
        400,
        "AccessDeniedException",
        "not allowed",
    ));
    let function = LambdaFn::start(
        FUNCTION,
        &bench,
        &[("TARGET_URL", &url), ("PROBE_REQUESTS", "2")],
    )
    .await;
    let invocation = function.invoke(hook(&deployment, "exec-nogate")).await;
    assert!(invocation.is_ok(), "{:?}", invocation.outcome);
    let reports = reports_for(&bench, &deployment);
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].status, "Succeeded");
    let warned = function.log_records().into_iter().any(|r| {
        r["level"].as_str() == Some("WARN")
            && r["fields"]["message"].as_str() == Some("readiness gate skipped")
            && r["fields"]["error"]
                .as_str()
                .is_some_and(|e| e.contains("AccessDenied"))
    });
    assert!(warned, "{}", function.logs());
}

fn published_for(bench: &Bench, deployment: &str) -> Vec<RolloutEvent> {
    bench
        .front
        .sns_messages()
        .iter()
        .filter_map(|m| RolloutEvent::parse(&m.message))
        .filter(|e| match &e.detail {
            RolloutDetail::Validation(d) => d.deployment_id == deployment,
            _ => false,
        })
        .collect()
}

async fn topic(config: &SdkConfig) -> String {
    aws_sdk_sns::Client::new(config)
        .create_topic()
        .name("deployments")
        .send()
        .await
        .expect("create topic")
        .topic_arn
        .expect("topic arn")
}

/// Only the invocation whose report CodeDeploy accepted publishes: Lambda's retry of a reported
/// hook adds no second message, and a rejected report adds none at all.
#[tokio::test]
async fn the_rollout_event_follows_an_accepted_report_only() {
    let bench = Bench::start().await;
    let config = bench.sdk_config().await;
    let topic = topic(&config).await;
    let green = HttpTarget::start().await;
    let url = green.url();
    let function = LambdaFn::start(
        FUNCTION,
        &bench,
        &[
            ("TARGET_URL", &url),
            ("PROBE_REQUESTS", "2"),
            ("NOTIFICATION_TOPIC_ARN", &topic),
        ],
    )
    .await;

    let deployment = plain_deployment(&config, "published").await;
    let event = hook(&deployment, "exec-published");
    assert!(function.invoke(event.clone()).await.is_ok());
    assert_eq!(published_for(&bench, &deployment).len(), 1);
    // Lambda's retry: green fails this time, and CodeDeploy already holds Succeeded.
    green.set(Behavior::status(503, "down"));
    let retry = function.invoke(event).await;
    assert!(retry.is_ok(), "{:?}", retry.outcome);
    assert_eq!(retry.response()["report"], "already_completed");
    let published = published_for(&bench, &deployment);
    assert_eq!(published.len(), 1, "no second, contradicting message");
    assert_eq!(published[0].outcome, rollout_kit::Outcome::Succeeded);

    let rejected = plain_deployment(&config, "rejected").await;
    bench.front.inject(Fault::error(
        "codedeploy",
        PUT,
        400,
        "InvalidLifecycleEventHookExecutionIdException",
        "unknown execution",
    ));
    let invocation = function.invoke(hook(&rejected, "exec-rejected")).await;
    assert_eq!(invocation.error().0, "ReportRejected");
    assert!(published_for(&bench, &rejected).is_empty());
}

/// An error page that echoes the request headers: no configured header value reaches the logs,
/// the hook's reason or the rollout event (and so Slack).
#[tokio::test]
async fn header_values_echoed_by_green_are_redacted_everywhere() {
    let bench = Bench::start().await;
    let config = bench.sdk_config().await;
    let topic = topic(&config).await;
    let deployment = plain_deployment(&config, "echo").await;
    let green = HttpTarget::start_with(Behavior::status(
        400,
        "bad request; you sent X-Probe-Token: tok-s3cret-42, Authorization: Bearer abc-s3cret",
    ))
    .await;
    let url = green.url();
    let function = LambdaFn::start(
        FUNCTION,
        &bench,
        &[
            ("TARGET_URL", &url),
            ("PROBE_REQUESTS", "2"),
            (
                "PROBE_HEADERS",
                "X-Probe-Token: tok-s3cret-42; Authorization: Bearer abc-s3cret",
            ),
            ("NOTIFICATION_TOPIC_ARN", &topic),
        ],
    )
    .await;
    let invocation = function.invoke(hook(&deployment, "exec-echo")).await;
    assert!(invocation.is_ok(), "{:?}", invocation.outcome);
    assert_eq!(reports_for(&bench, &deployment)[0].status, "Failed");
    assert_eq!(
        green.requests()[0].header("x-probe-token"),
        Some("tok-s3cret-42"),
        "the header was sent"
    );

    let logs = function.logs();
    let failures = log_fields(&function, "verdict")["failures"].to_string();
    assert!(failures.contains("[redacted]"), "{failures}");
    let messages = bench.front.sns_messages();
    assert_eq!(messages.len(), 1);
    let response = invocation.response().to_string();
    for (place, text) in [
        ("logs", logs.as_str()),
        ("SNS message", messages[0].message.as_str()),
        ("SNS subject", messages[0].subject.as_deref().unwrap_or("")),
        ("hook reason", response.as_str()),
    ] {
        assert!(!text.contains("s3cret"), "{place}: {text}");
    }
}
