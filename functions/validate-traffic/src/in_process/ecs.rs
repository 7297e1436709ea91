//! The ECS built-in deployments' hook, in-process: `handler::handle` with ECS payloads against
//! the in-memory account (service revisions, listener rules, the test listener and its load
//! balancer) and a local green. Every answer must be a well-formed `hookStatus`; a rollback's
//! invocation and the stages without a probe must not touch AWS at all.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_elasticloadbalancingv2::types::{HttpHeaderConditionConfig, RuleCondition};
use lambda_runtime::{Context, LambdaEvent};
use rollout_kit::{Env, Outcome, Tls};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::time::Instant;

use super::{Account, GREEN_REVISION, Lookup, PRODUCTION_RULE, TEST_RULE};
use crate::handler::{configure, handle};

const BLUE_REVISION: &str = "arn:aws:ecs:us-east-1:1:service-revision/prod/shop/1";
const DEPLOYMENT: &str = "arn:aws:ecs:us-east-1:1:service-deployment/prod/shop/d-9";

/// How the local green answers.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Green {
    Healthy,
    Failing,
    /// 200 only with `X-Canary: true`, as green behind a header rule; without it the request
    /// would reach the listener's default (blue), which answers 404 here.
    BehindCanaryHeader,
    /// Reads the request and never answers.
    Hangs,
}

pub(super) struct Served {
    pub(super) port: u16,
    heads: Arc<Mutex<Vec<String>>>,
}

impl Served {
    pub(super) fn heads(&self) -> Vec<String> {
        self.heads.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

pub(super) async fn serve(green: Green) -> Served {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a local port");
    let port = listener.local_addr().expect("bound").port();
    let heads: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = heads.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&request).to_ascii_lowercase();
                seen.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(head.clone());
                let (status, body) = match green {
                    Green::Healthy => (200, "green ok"),
                    Green::Failing => (503, "upstream error"),
                    Green::BehindCanaryHeader if head.contains("x-canary: true") => {
                        (200, "green ok")
                    }
                    Green::BehindCanaryHeader => (404, "blue: no such page"),
                    Green::Hangs => {
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                        return;
                    }
                };
                let answer = format!(
                    "HTTP/1.1 {status} Status\r\ncontent-type: text/plain\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(answer.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    Served { port, heads }
}

pub(super) fn canary_rule() -> RuleCondition {
    RuleCondition::builder()
        .field("http-header")
        .http_header_config(
            HttpHeaderConditionConfig::builder()
                .http_header_name("X-Canary")
                .values("true")
                .build(),
        )
        .build()
}

/// An ECS payload in the documented shape; `green_test`/`green_production`: green's weights,
/// `None` for an empty map.
fn payload(stage: &str, green_test: Option<f64>, green_production: Option<f64>) -> Value {
    let weights = |green: Option<f64>| match green {
        Some(g) => json!({GREEN_REVISION: g, BLUE_REVISION: 100.0 - g}),
        None => json!({}),
    };
    json!({
        "executionId": "5b1c0f5e-8a4e-4d6b-9f3e-000000000001",
        "lifecycleStage": stage,
        "resourceArn": DEPLOYMENT,
        "executionDetails": {
            "serviceArn": "arn:aws:ecs:us-east-1:1:service/prod/shop",
            "targetServiceRevisionArn": GREEN_REVISION,
            "testTrafficWeights": weights(green_test),
            "productionTrafficWeights": weights(green_production),
        },
    })
}

fn with_details(mut payload: Value, details: Value) -> Value {
    payload["hookDetails"] = details;
    payload
}

async fn invoke_with(
    account: &Account,
    env: &[(&str, &str)],
    payload: Value,
    time: Duration,
) -> Value {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let mut context = Context::default();
    context.request_id = "req-ecs".into();
    context.deadline = (now + time).as_millis() as u64;
    handle(&account.deps(env), LambdaEvent::new(payload, context))
        .await
        .expect("an ECS invocation always answers")
}

async fn invoke(account: &Account, payload: Value) -> Value {
    invoke_with(account, &[], payload, Duration::from_secs(30)).await
}

fn own(answer: &Value) -> &Value {
    &answer["hookDetails"]["validateTraffic"]
}

fn reason(answer: &Value) -> String {
    own(answer)["reason"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn post_test_traffic_shift_probes_green_through_the_test_rule_and_its_header() {
    let green = serve(Green::BehindCanaryHeader).await;
    let account = Account::new(green.port);
    account.lock().rule_conditions = vec![canary_rule()];
    let answer = invoke(
        &account,
        with_details(
            payload("POST_TEST_TRAFFIC_SHIFT", None, None),
            json!({"owner": "shop"}),
        ),
    )
    .await;
    assert_eq!(answer["hookStatus"], "SUCCEEDED", "{answer}");
    assert!(answer.get("callBackDelay").is_none());
    assert_eq!(own(&answer)["requests"], 6);
    assert_eq!(own(&answer)["passed"], 6);
    assert_eq!(
        answer["hookDetails"]["owner"], "shop",
        "configured details echoed"
    );
    assert_eq!(
        account.lock().ecs_lookups,
        [
            format!("DescribeServiceRevisions {GREEN_REVISION}"),
            format!("DescribeRules {TEST_RULE}")
        ]
    );
    let heads = green.heads();
    assert_eq!(heads.len(), 6);
    assert!(
        heads.iter().all(|h| h.contains("x-canary: true")),
        "{heads:?}"
    );
    // The channel hears the verdict, named after the service and the stage.
    assert_eq!(account.outcomes(), [Outcome::Succeeded]);
    let summary = account.lock().events[0].summary.clone();
    assert!(
        summary.contains("prod/shop at POST_TEST_TRAFFIC_SHIFT"),
        "{summary}"
    );
    assert!(account.reported().is_empty(), "never CodeDeploy's report");
}

#[tokio::test]
async fn a_failing_green_is_answered_failed_with_the_evidence() {
    let green = serve(Green::Failing).await;
    let account = Account::new(green.port);
    let answer = invoke(&account, payload("POST_TEST_TRAFFIC_SHIFT", None, None)).await;
    assert_eq!(answer["hookStatus"], "FAILED", "{answer}");
    assert!(reason(&answer).contains("success ratio"), "{answer}");
    assert_eq!(own(&answer)["failed"], 6);
    assert_eq!(account.outcomes(), [Outcome::Failed]);
}

#[tokio::test]
async fn production_stages_probe_through_the_production_rule() {
    let green = serve(Green::Healthy).await;
    let account = Account::new(green.port);
    for (stage, weight) in [
        ("PRE_PRODUCTION_TRAFFIC_SHIFT", Some(0.0)),
        ("PRE_PRODUCTION_TRAFFIC_SHIFT", Some(10.0)),
        ("POST_PRODUCTION_TRAFFIC_SHIFT", None),
    ] {
        account.lock().ecs_lookups.clear();
        let answer = invoke(&account, payload(stage, None, weight)).await;
        assert_eq!(answer["hookStatus"], "SUCCEEDED", "{stage}: {answer}");
        assert_eq!(
            account.lock().ecs_lookups[1],
            format!("DescribeRules {PRODUCTION_RULE}"),
            "{stage}"
        );
    }
}

#[tokio::test]
async fn a_rollback_and_the_stages_without_a_probe_succeed_without_a_lookup() {
    let green = serve(Green::Failing).await;
    let account = Account::new(green.port);
    let cases = [
        payload("PRODUCTION_TRAFFIC_SHIFT", None, Some(0.0)),
        payload("TEST_TRAFFIC_SHIFT", Some(0.0), None),
        payload("PRE_SCALE_UP", None, None),
        payload("POST_SCALE_UP", None, None),
        payload("RECONCILE_SERVICE", None, None),
        payload("TEST_TRAFFIC_SHIFT", Some(100.0), None),
        payload("PRODUCTION_TRAFFIC_SHIFT", None, Some(5.0)),
    ];
    for case in cases {
        let answer = invoke(&account, case.clone()).await;
        assert_eq!(answer["hookStatus"], "SUCCEEDED", "{case}: {answer}");
    }
    assert!(account.lock().ecs_lookups.is_empty());
    assert!(green.heads().is_empty());
    assert!(
        account.outcomes().is_empty(),
        "nothing judged, nothing announced"
    );
    // Even a broken configuration never blocks a rollback.
    let answer = invoke_with(
        &account,
        &[("PROBE_REQUESTS", "lots")],
        payload("PRODUCTION_TRAFFIC_SHIFT", None, Some(0.0)),
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(answer["hookStatus"], "SUCCEEDED", "{answer}");
    assert!(reason(&answer).starts_with("rollback"), "{answer}");
}

#[tokio::test]
async fn test_traffic_shift_probes_when_the_hook_asks() {
    let green = serve(Green::Failing).await;
    let account = Account::new(green.port);
    let answer = invoke(
        &account,
        with_details(
            payload("TEST_TRAFFIC_SHIFT", Some(100.0), None),
            json!({"probeTestTrafficShift": true}),
        ),
    )
    .await;
    assert_eq!(answer["hookStatus"], "FAILED", "{answer}");
    assert_eq!(green.heads().len(), 6);
}

#[tokio::test]
async fn malformed_events_bad_settings_and_missing_routes_are_answered_failed() {
    let green = serve(Green::Healthy).await;
    let account = Account::new(green.port);
    // (payload, variables, what the reason names)
    type Case = (Value, &'static [(&'static str, &'static str)], &'static str);
    let cases: Vec<Case> = vec![
        (
            json!({"executionId": "e", "lifecycleStage": "BAKE_TIME"}),
            &[],
            "not a stage",
        ),
        (
            json!({"lifecycleStage": "POST_SCALE_UP", "hookDetails": {}}),
            &[],
            "executionId",
        ),
        (
            json!({"executionId": "e", "lifecycleStage": "POST_TEST_TRAFFIC_SHIFT"}),
            &[],
            "targetServiceRevisionArn is missing",
        ),
        (
            payload("POST_TEST_TRAFFIC_SHIFT", None, None),
            &[("MAX_P95_MS", "fast")],
            "MAX_P95_MS",
        ),
        (
            with_details(
                payload("POST_TEST_TRAFFIC_SHIFT", None, None),
                json!({"probeRequests": "many", "probeHeaders": {"Authorization": "Bearer s3cret"}}),
            ),
            &[],
            "hookDetails.probeRequests",
        ),
    ];
    for (case, env, expected) in cases {
        let answer = invoke_with(&account, env, case.clone(), Duration::from_secs(30)).await;
        assert_eq!(answer["hookStatus"], "FAILED", "{case}: {answer}");
        assert!(reason(&answer).contains(expected), "{case}: {answer}");
        assert!(!answer.to_string().contains("s3cret") || case.to_string().contains("s3cret"));
    }
    assert!(green.heads().is_empty());

    account.lock().revision_rules = (None, Some(PRODUCTION_RULE));
    let answer = invoke(&account, payload("POST_TEST_TRAFFIC_SHIFT", None, None)).await;
    assert_eq!(answer["hookStatus"], "FAILED");
    assert!(reason(&answer).contains("no testListenerRule"), "{answer}");

    account.lock().revision_unknown = true;
    let answer = invoke(
        &account,
        payload("POST_PRODUCTION_TRAFFIC_SHIFT", None, None),
    )
    .await;
    assert_eq!(answer["hookStatus"], "FAILED");
    assert!(reason(&answer).contains("MISSING"), "{answer}");
}

#[tokio::test]
async fn an_unusable_trust_bundle_is_answered_failed_naming_it() {
    let account = Account::new(1);
    let env = Env::from_pairs([(rollout_kit::tls::CERT_FILE_VAR, "/nonexistent/ca.pem")]);
    let tls = Tls::from_env(&env);
    let mut deps = account.deps(&[]);
    (deps.setup, deps.margin) = configure(&env, tls.as_ref());
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let mut context = Context::default();
    context.deadline = (now + Duration::from_secs(30)).as_millis() as u64;
    let payload = payload("POST_TEST_TRAFFIC_SHIFT", None, None);
    let answer = handle(&deps, LambdaEvent::new(payload, context))
        .await
        .expect("answered");
    assert_eq!(answer["hookStatus"], "FAILED");
    assert!(reason(&answer).contains("SSL_CERT_FILE"), "{answer}");
}

#[tokio::test]
async fn a_panic_in_the_probe_task_is_answered_failed() {
    let account = Account::new(1);
    account.lock().describe_revisions = Lookup::Panics;
    let answer = invoke(&account, payload("POST_TEST_TRAFFIC_SHIFT", None, None)).await;
    assert_eq!(answer["hookStatus"], "FAILED", "{answer}");
    assert_eq!(reason(&answer), "the probe panicked");
}

#[tokio::test(start_paused = true)]
async fn a_hung_lookup_is_answered_failed_before_the_deadline() {
    let account = Account::new(1);
    account.lock().describe_revisions = Lookup::Hangs;
    let started = Instant::now();
    let time = Duration::from_secs(3);
    let answer = invoke_with(
        &account,
        &[],
        payload("POST_TEST_TRAFFIC_SHIFT", None, None),
        time,
    )
    .await;
    assert_eq!(answer["hookStatus"], "FAILED", "{answer}");
    let why = reason(&answer);
    assert!(
        why.contains("DescribeServiceRevisions") && why.contains("no answer"),
        "{why}"
    );
    assert!(started.elapsed() < time, "{:?}", started.elapsed());
}

#[tokio::test]
async fn the_deadline_guard_answers_failed_while_green_hangs() {
    let green = serve(Green::Hangs).await;
    let account = Account::new(green.port);
    let started = std::time::Instant::now();
    let time = Duration::from_secs(2);
    let answer = invoke_with(
        &account,
        &[("PROBE_TIMEOUT_MS", "10000")],
        payload("POST_TEST_TRAFFIC_SHIFT", None, None),
        time,
    )
    .await;
    assert_eq!(answer["hookStatus"], "FAILED", "{answer}");
    assert!(reason(&answer).starts_with("deadline guard"), "{answer}");
    assert!(started.elapsed() < time, "{:?}", started.elapsed());
}

#[tokio::test]
async fn a_soak_returns_in_progress_with_totals_then_decides_on_them() {
    let green = serve(Green::Healthy).await;
    let account = Account::new(green.port);
    let soak = json!({"soakSeconds": 1, "soakIntervalSeconds": 1, "owner": "shop"});
    let first = invoke(
        &account,
        with_details(
            payload("POST_PRODUCTION_TRAFFIC_SHIFT", None, None),
            soak.clone(),
        ),
    )
    .await;
    assert_eq!(first["hookStatus"], "IN_PROGRESS", "{first}");
    assert_eq!(first["callBackDelay"], 1);
    assert_eq!(own(&first)["soak"]["requests"], 6);
    assert!(account.outcomes().is_empty(), "no verdict yet");

    // ECS calls back after the delay with the hookDetails it got.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let again = with_details(
        payload("POST_PRODUCTION_TRAFFIC_SHIFT", None, None),
        first["hookDetails"].clone(),
    );
    let second = invoke(&account, again).await;
    assert_eq!(second["hookStatus"], "SUCCEEDED", "{second}");
    assert_eq!(own(&second)["soak"]["slices"], 2);
    assert_eq!(own(&second)["requests"], 12, "judged on the totals");
    assert_eq!(second["hookDetails"]["owner"], "shop");
    assert_eq!(account.outcomes(), [Outcome::Succeeded]);
}

#[tokio::test]
async fn a_failing_slice_ends_the_soak_early() {
    let green = serve(Green::Failing).await;
    let account = Account::new(green.port);
    let answer = invoke(
        &account,
        with_details(
            payload("POST_PRODUCTION_TRAFFIC_SHIFT", None, None),
            json!({"soakSeconds": 600}),
        ),
    )
    .await;
    assert_eq!(answer["hookStatus"], "FAILED", "{answer}");
    assert!(
        reason(&answer).starts_with("soak slice 1 failed"),
        "{answer}"
    );
    assert_eq!(account.outcomes(), [Outcome::Failed]);
}
