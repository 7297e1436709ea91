//! `make invoke`: one sample per function through the library entry point, and the side effects
//! it reports read back from the bench.

use rollout_bench::invoke::{self, Function, InvokeError, SideEffects};

async fn run(function: Function, sample: &str) -> invoke::Report {
    let event = invoke::load_event(function, sample).expect("sample loads");
    invoke::run(function, event, invoke::World::for_sample(sample), true).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_slack_sample_posts_one_readable_message() {
    let report = run(
        Function::NotifySlack,
        "events/notify-slack/codedeploy-deployment-failed.json",
    )
    .await;
    assert!(report.invocation.is_ok(), "{}", report.text);
    let SideEffects::NotifySlack { posts } = &report.side_effects else {
        panic!("{:?}", report.side_effects)
    };
    assert_eq!(posts.len(), 1, "{}", report.text);
    let (delivered, text) = &posts[0];
    assert!(delivered, "{}", report.text);
    assert!(text.contains("d-9XJ3M4P2C"), "{text}");
    assert!(report.text.contains("── 2. logs"), "{}", report.text);
    assert!(!report.logs.trim().is_empty(), "{}", report.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_traffic_sample_reports_one_hook_status_after_probing_green() {
    let report = run(
        Function::ValidateTraffic,
        "events/validate-traffic/ecs-after-allow-test-traffic.json",
    )
    .await;
    assert!(report.invocation.is_ok(), "{}", report.text);
    let SideEffects::ValidateTraffic {
        hook_reports,
        probes,
        ..
    } = &report.side_effects
    else {
        panic!("{:?}", report.side_effects)
    };
    assert_eq!(hook_reports.len(), 1, "{}", report.text);
    assert_eq!(hook_reports[0].status, "Succeeded", "{}", report.text);
    // The sample's deployment id was replaced by one the world's CodeDeploy knows.
    assert_ne!(hook_reports[0].deployment_id, "d-7QXK2M4LB");
    assert_eq!(report.event["DeploymentId"], hook_reports[0].deployment_id);
    assert!(
        report
            .substitutions
            .iter()
            .any(|s| s.starts_with("DeploymentId")),
        "{:?}",
        report.substitutions
    );
    assert!(!probes.is_empty(), "{}", report.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lambda_deployment_sample_invokes_the_target_version_and_reports() {
    let report = run(
        Function::ValidateTraffic,
        "events/validate-traffic/lambda-before-allow-traffic.json",
    )
    .await;
    assert!(report.invocation.is_ok(), "{}", report.text);
    let SideEffects::ValidateTraffic { hook_reports, .. } = &report.side_effects else {
        panic!("{:?}", report.side_effects)
    };
    assert_eq!(hook_reports.len(), 1, "{}", report.text);
    assert_eq!(hook_reports[0].status, "Succeeded", "{}", report.text);
    assert!(report.logs.contains("orders:2"), "{}", report.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ecs_hook_sample_is_answered_with_a_hook_status_not_a_codedeploy_report() {
    for (sample, expected) in [
        ("pre-scale-up.json", "SUCCEEDED"),
        ("production-traffic-shift-rollback.json", "SUCCEEDED"),
        // No service revision on the bench: the probing stage says what is missing.
        ("post-test-traffic-shift.json", "FAILED"),
    ] {
        let report = run(
            Function::ValidateTraffic,
            &format!("events/validate-traffic/ecs-builtin/{sample}"),
        )
        .await;
        let response = report.invocation.response();
        assert_eq!(
            response["hookStatus"], expected,
            "{sample}: {}",
            report.text
        );
        let SideEffects::ValidateTraffic { hook_reports, .. } = &report.side_effects else {
            panic!("{:?}", report.side_effects)
        };
        assert!(hook_reports.is_empty(), "{sample}: CodeDeploy was called");
        assert!(
            report.substitutions.is_empty(),
            "{:?}",
            report.substitutions
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shift_traffic_start_sample_moves_the_first_canary_step() {
    let report = run(
        Function::ShiftTraffic,
        "events/shift-traffic/start-canary-preset.json",
    )
    .await;
    assert!(report.invocation.is_ok(), "{}", report.text);
    assert_eq!(report.invocation.response()["status"], "Shifted");
    let SideEffects::ShiftTraffic {
        target,
        before,
        after,
        published,
    } = &report.side_effects
    else {
        panic!("{:?}", report.side_effects)
    };
    assert_eq!(target, "listener");
    let (before, after) = (before.expect("before"), after.expect("after"));
    assert_eq!(before.green_percent(), 0.0, "{}", report.text);
    // Canary10Percent5Minutes: the first step sends 10 % to green.
    assert!(
        (after.green_percent() - 10.0).abs() < 0.5,
        "{}",
        report.text
    );
    assert_eq!(published.len(), 1, "{}", report.text);
    assert!(
        report
            .substitutions
            .iter()
            .any(|s| s.starts_with("listener_arn")),
        "{:?}",
        report.substitutions
    );
}

#[test]
fn unknown_function_and_bad_event_files_are_refused_before_the_bench_starts() {
    assert!(matches!(
        "validate-trafic".parse::<Function>(),
        Err(InvokeError::UnknownFunction(_))
    ));
    let missing = invoke::load_event(Function::NotifySlack, "events/notify-slack/nope.json");
    let message = missing.expect_err("missing file").to_string();
    assert!(message.contains("no such file"), "{message}");
    assert!(
        message.contains("events/notify-slack/generic-text.json"),
        "the samples are listed: {message}"
    );
    let dir = std::env::temp_dir().join(format!("invoke-not-json-{}", std::process::id()));
    std::fs::write(&dir, "{ not json").unwrap();
    let not_json = invoke::load_event(Function::NotifySlack, dir.to_str().unwrap());
    std::fs::remove_file(&dir).ok();
    assert!(matches!(not_json, Err(InvokeError::NotJson { .. })));
    // A path relative to events/ is found too.
    assert!(invoke::load_event(Function::ShiftTraffic, "shift-traffic/status.json").is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_probe_request_sample_is_answered_with_a_verdict_not_a_codedeploy_report() {
    let report = run(
        Function::ValidateTraffic,
        "events/validate-traffic/probe-request.json",
    )
    .await;
    let response = report.invocation.response();
    assert_eq!(response["verdict"], "Passed", "{}", report.text);
    assert_eq!(response["requests"], 20, "{}", report.text);
    let SideEffects::ValidateTraffic {
        hook_reports,
        probes,
        ..
    } = &report.side_effects
    else {
        panic!("{:?}", report.side_effects)
    };
    assert!(
        hook_reports.is_empty(),
        "CodeDeploy was called: {}",
        report.text
    );
    assert_eq!(probes.len(), 20, "{}", report.text);
    assert!(
        report
            .substitutions
            .iter()
            .any(|s| s.starts_with("probe.listener_arn")),
        "{:?}",
        report.substitutions
    );
}
