//! The bench itself: each fake error reaches the Rust SDK the way the real service's would.

use std::time::Duration;

use aws_sdk_codedeploy::error::ProvideErrorMetadata;
use aws_sdk_codedeploy::operation::put_lifecycle_event_hook_execution_status::PutLifecycleEventHookExecutionStatusError as PutError;
use aws_sdk_codedeploy::types::LifecycleEventStatus;
use rollout_bench::{Bench, Fault, InvokeOutcome, LambdaFn, SlackReply};
use serde_json::json;

async fn deployment(bench: &Bench) -> (aws_sdk_codedeploy::Client, String) {
    let codedeploy = aws_sdk_codedeploy::Client::new(&bench.sdk_config().await);
    codedeploy
        .create_application()
        .application_name("app")
        .compute_platform(aws_sdk_codedeploy::types::ComputePlatform::Server)
        .send()
        .await
        .unwrap();
    codedeploy
        .create_deployment_group()
        .application_name("app")
        .deployment_group_name("group")
        .service_role_arn("arn:aws:iam::123456789012:role/codedeploy")
        .send()
        .await
        .unwrap();
    let id = codedeploy
        .create_deployment()
        .application_name("app")
        .deployment_group_name("group")
        .send()
        .await
        .unwrap()
        .deployment_id
        .unwrap();
    (codedeploy, id)
}

#[tokio::test]
async fn hook_status_is_accepted_once_then_already_completed() {
    let bench = Bench::start().await;
    let (codedeploy, id) = deployment(&bench).await;
    let put = || {
        codedeploy
            .put_lifecycle_event_hook_execution_status()
            .deployment_id(&id)
            .lifecycle_event_hook_execution_id("hook-1")
            .status(LifecycleEventStatus::Succeeded)
            .send()
    };
    let first = put().await.unwrap();
    assert_eq!(first.lifecycle_event_hook_execution_id(), Some("hook-1"));
    let second = put().await.unwrap_err().into_service_error();
    assert!(
        matches!(second, PutError::LifecycleEventAlreadyCompletedException(_)),
        "{second:?}"
    );
    assert_eq!(bench.front.hook_reports().len(), 1);
}

#[tokio::test]
async fn unknown_deployment_and_bad_ids_get_typed_errors() {
    let bench = Bench::start().await;
    let codedeploy = aws_sdk_codedeploy::Client::new(&bench.sdk_config().await);
    let err = codedeploy
        .put_lifecycle_event_hook_execution_status()
        .deployment_id("d-NOTTHERE1")
        .lifecycle_event_hook_execution_id("hook-1")
        .status(LifecycleEventStatus::Failed)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        matches!(err, PutError::DeploymentDoesNotExistException(_)),
        "{err:?}"
    );

    let (codedeploy, id) = deployment(&bench).await;
    let err = codedeploy
        .put_lifecycle_event_hook_execution_status()
        .deployment_id(&id)
        .lifecycle_event_hook_execution_id("")
        .status(LifecycleEventStatus::Failed)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        matches!(
            err,
            PutError::InvalidLifecycleEventHookExecutionIdException(_)
        ),
        "{err:?}"
    );
    assert!(bench.front.hook_reports().is_empty());
}

#[tokio::test]
async fn throttling_and_5xx_are_retried_by_the_standard_policy() {
    let bench = Bench::start().await;
    let (codedeploy, id) = deployment(&bench).await;
    bench
        .front
        .inject(Fault::throttle("codedeploy", "PutLifecycleEventHookExecutionStatus").times(1));
    bench
        .front
        .inject(Fault::server_error("codedeploy", "PutLifecycleEventHookExecutionStatus").times(1));
    codedeploy
        .put_lifecycle_event_hook_execution_status()
        .deployment_id(&id)
        .lifecycle_event_hook_execution_id("hook-1")
        .status(LifecycleEventStatus::Succeeded)
        .send()
        .await
        .expect("third attempt succeeds");
    assert_eq!(bench.front.count("PutLifecycleEventHookExecutionStatus"), 3);
    assert_eq!(bench.front.hook_reports().len(), 1);

    // Past the standard policy's three attempts the throttling error surfaces with its code.
    bench
        .front
        .inject(Fault::throttle("codedeploy", "GetDeployment"));
    let err = codedeploy
        .get_deployment()
        .deployment_id(&id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ThrottlingException"));
    assert_eq!(bench.front.count("GetDeployment"), 3);
}

#[tokio::test]
async fn query_protocol_faults_parse_as_elbv2_errors() {
    let bench = Bench::start().await;
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&bench.sdk_config().await);
    bench.front.inject(
        Fault::error(
            "elasticloadbalancing",
            "DescribeListeners",
            400,
            "ListenerNotFound",
            "One or more listeners not found",
        )
        .times(1),
    );
    let err = elb
        .describe_listeners()
        .listener_arns("arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/x/1/2")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_listener_not_found_exception(), "{err:?}");
    bench
        .front
        .inject(Fault::throttle("elasticloadbalancing", "DescribeLoadBalancers").times(2));
    elb.describe_load_balancers()
        .send()
        .await
        .expect("retried past throttling");
    assert_eq!(bench.front.count("DescribeLoadBalancers"), 3);
}

#[tokio::test]
async fn slack_fake_answers_like_slack() {
    let bench = Bench::start().await;
    let http = reqwest::Client::new();
    let post = |body: serde_json::Value| http.post(bench.slack.webhook_url()).json(&body).send();
    let ok = post(json!({"text": "hello"})).await.unwrap();
    assert_eq!(
        (ok.status().as_u16(), ok.text().await.unwrap()),
        (200, "ok".to_string())
    );
    let empty = post(json!({"text": " "})).await.unwrap();
    assert_eq!(
        (empty.status().as_u16(), empty.text().await.unwrap()),
        (400, "no_text".to_string())
    );
    bench.slack.script([
        SlackReply::RateLimited {
            retry_after: Some(2),
        },
        SlackReply::ChannelIsArchived,
    ]);
    let limited = post(json!({"text": "x"})).await.unwrap();
    assert_eq!(limited.status().as_u16(), 429);
    assert_eq!(limited.headers()["retry-after"], "2");
    let gone = post(json!({"text": "x"})).await.unwrap();
    assert_eq!(
        (gone.status().as_u16(), gone.text().await.unwrap()),
        (410, "channel_is_archived".to_string())
    );
    assert_eq!(bench.slack.delivered().len(), 1);
    assert_eq!(bench.slack.posts().len(), 4);
}

#[tokio::test]
async fn runtime_api_runs_a_binary_and_enforces_the_deadline() {
    let bench = Bench::start().await;
    let binary = std::path::PathBuf::from(env!("CARGO_BIN_EXE_runtime-floor"));
    let function = LambdaFn::start_with_env("runtime-floor", binary, bench.aws_env()).await;
    let invocation = function.invoke(json!({"ping": 1})).await;
    assert_eq!(invocation.response(), &json!({"ping": 1}));
    // A payload the runtime cannot decode is an error reported through the Runtime API.
    let bad = function
        .invoke_raw("not json".into(), Duration::from_secs(5))
        .await;
    assert!(
        matches!(bad.outcome, InvokeOutcome::Error { .. }),
        "{:?}",
        bad.outcome
    );
    // Past its deadline the function is stopped; the next invocation starts a fresh process.
    let slow = function
        .invoke_with_timeout(json!({"sleep_ms": 5000}), Duration::from_millis(300))
        .await;
    assert_eq!(slow.outcome, InvokeOutcome::Timeout);
    let again = function.invoke(json!({"ping": 2})).await;
    assert_eq!(again.response(), &json!({"ping": 2}));
}

#[tokio::test]
async fn sns_publishes_are_recorded_verbatim() {
    let bench = Bench::start().await;
    let sns = aws_sdk_sns::Client::new(&bench.sdk_config().await);
    let topic = sns
        .create_topic()
        .name("notifications")
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    let message = r#"{"status":"FAILED","note":"a+b=c & 100% ✓"}"#;
    sns.publish()
        .topic_arn(&topic)
        .subject("FAILED: AWS CodeDeploy d-1 in us-east-1")
        .message(message)
        .send()
        .await
        .unwrap();
    let published = bench.front.sns_messages();
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].message, message);
    assert_eq!(published[0].topic_arn, topic);
    assert_eq!(
        published[0].subject.as_deref(),
        Some("FAILED: AWS CodeDeploy d-1 in us-east-1")
    );
}
