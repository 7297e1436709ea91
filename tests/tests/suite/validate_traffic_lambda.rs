//! validate-traffic as the PreTraffic/PostTraffic hook of a CodeDeploy Lambda deployment (SAM's
//! `DeploymentPreference`), through the real binary: moto holds the CodeDeploy deployment (its
//! AppSpec as revision content) and the function's versions and alias; the AWS front runs each
//! version's `Invoke` in a local `sample-function` process. The hook must test the *target*
//! version before traffic moves and the alias after, and judge what the version answers.

use rollout_bench::hooks::{hook, log_fields, reports_for};
use rollout_bench::lambda_fake::Invoked;
use rollout_bench::lambda_world::{create_role, release};
use rollout_bench::{Bench, LambdaFn, event};
use serde_json::{Value, json};

const HOOK: &str = "validate-traffic";
async fn hook_function(bench: &Bench) -> LambdaFn {
    LambdaFn::start(
        HOOK,
        bench,
        &[
            ("PROBE_REQUESTS", "6"),
            ("PROBE_CONCURRENCY", "2"),
            ("PROBE_TIMEOUT_MS", "1000"),
            (
                "INVOKE_PAYLOADS",
                r#"[{"path": "/orders"}, {"path": "/health"}]"#,
            ),
            ("BODY_JSON", "/statusCode=200"),
        ],
    )
    .await
}

/// A sample of `events/validate-traffic/` pointed at the bench's deployment.
fn sample(name: &str, deployment: &str) -> Value {
    let mut payload = event(&format!("validate-traffic/{name}"));
    payload["DeploymentId"] = json!(deployment);
    payload
}

fn invocations_of(bench: &Bench, function: &str) -> Vec<Invoked> {
    bench
        .front
        .lambda()
        .invoked()
        .into_iter()
        .filter(|i| i.function == function)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_lambda_deployment_tests_the_target_version_then_the_alias() {
    let bench = Bench::start().await;
    let config = bench.sdk_config().await;
    create_role(&bench).await;
    let deployment = release(&bench, &config, "orders", "healthy").await;
    let function = hook_function(&bench).await;

    // PreTraffic (BeforeAllowTraffic): the alias still serves 1; version 2 is invoked by number.
    let pre_event = sample("lambda-before-allow-traffic.json", &deployment);
    let pre = function.invoke(pre_event.clone()).await;
    assert!(pre.is_ok(), "{:?}\n{}", pre.outcome, function.logs());
    let invoked = invocations_of(&bench, "orders");
    assert_eq!(invoked.len(), 6, "{invoked:?}");
    assert!(
        invoked
            .iter()
            .all(|i| i.qualifier == "2" && i.executed.as_deref() == Some("2")),
        "{invoked:?}"
    );
    let verdict = log_fields(&function, "verdict");
    assert_eq!(verdict["target"], "orders:2", "{verdict}");

    // AllowTraffic: CodeDeploy points the alias at 2. PostTraffic invokes the alias.
    aws_sdk_lambda::Client::new(&config)
        .update_alias()
        .function_name("orders")
        .name("live")
        .function_version("2")
        .send()
        .await
        .expect("update alias");
    let post_event = sample("lambda-after-allow-traffic.json", &deployment);
    let post = function.invoke(post_event.clone()).await;
    assert!(post.is_ok(), "{:?}", post.outcome);
    let after: Vec<Invoked> = invocations_of(&bench, "orders").split_off(6);
    assert_eq!(after.len(), 6, "{after:?}");
    assert!(
        after
            .iter()
            .all(|i| i.qualifier == "live" && i.executed.as_deref() == Some("2")),
        "{after:?}"
    );

    let reports = reports_for(&bench, &deployment);
    let statuses: Vec<(&str, &str)> = reports
        .iter()
        .map(|r| (r.execution_id.as_str(), r.status.as_str()))
        .collect();
    let execution = |e: &Value| {
        e["LifecycleEventHookExecutionId"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(
        statuses,
        [
            (execution(&pre_event).as_str(), "Succeeded"),
            (execution(&post_event).as_str(), "Succeeded")
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_version_that_errs_is_slow_or_answers_wrongly_fails_pre_traffic() {
    let bench = Bench::start().await;
    let config = bench.sdk_config().await;
    create_role(&bench).await;
    let function = hook_function(&bench).await;
    for (name, behaviour, outcome, evidence) in [
        (
            "orders-error",
            "error",
            "function_error=6",
            "cannot reach its database",
        ),
        ("orders-slow", "slow", "timeout=6", "timeout"),
        (
            "orders-wrong",
            "wrong-body",
            "body_mismatch=6",
            "database unavailable",
        ),
    ] {
        let deployment = release(&bench, &config, name, behaviour).await;
        let invocation = function.invoke(hook(&deployment, name)).await;
        assert!(invocation.is_ok(), "{name}: {:?}", invocation.outcome);
        let reports = reports_for(&bench, &deployment);
        assert_eq!(reports.len(), 1, "{name}");
        assert_eq!(reports[0].status, "Failed", "{name}");
        let verdict = log_fields(&function, "verdict");
        assert_eq!(verdict["outcomes"], outcome, "{name}: {verdict}");
        assert!(
            verdict["failures"].to_string().contains(evidence),
            "{name}: {verdict}"
        );
        // Only the target version was tested; production's version 1 never saw a test payload.
        assert!(
            invocations_of(&bench, name)
                .iter()
                .all(|i| i.qualifier == "2"),
            "{name}"
        );
    }
}
