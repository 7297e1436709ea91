//! Direct probe requests, in-process: `handler::handle` with `{"probe": …}` payloads against the
//! in-memory account and a local green. The verdict is the return value; CodeDeploy is never
//! told, one rollout event is published; only a malformed request is an error.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_elasticloadbalancingv2::types::{HttpHeaderConditionConfig, RuleCondition};
use lambda_runtime::{Context, LambdaEvent};
use rollout_kit::{ErrorKind, Outcome, RolloutDetail};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::ecs::{Green, canary_rule, serve};
use super::{Account, LISTENER, Lookup, TEST_RULE};
use crate::error::Error;
use crate::handler::handle;

async fn ask(account: &Account, payload: Value, time: Duration) -> Result<Value, Error> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let mut context = Context::default();
    context.request_id = "req-direct".into();
    context.deadline = (now + time).as_millis() as u64;
    handle(&account.deps(&[]), LambdaEvent::new(payload, context)).await
}

async fn verdict(account: &Account, payload: Value) -> Value {
    ask(account, payload, Duration::from_secs(30))
        .await
        .expect("a well-formed probe request is answered with a verdict")
}

/// The rollout id and the evidence the channel got.
fn published(account: &Account) -> Vec<(Outcome, String, u32)> {
    account
        .lock()
        .events
        .iter()
        .map(|e| match &e.detail {
            RolloutDetail::Validation(d) => (e.outcome, d.deployment_id.clone(), d.requests),
            other => panic!("not a validation event: {other:?}"),
        })
        .collect()
}

#[tokio::test]
async fn a_healthy_url_target_passes_and_is_announced_under_the_rollout_id() {
    let green = serve(Green::Healthy).await;
    let account = Account::new(green.port);
    let url = format!("http://127.0.0.1:{}/?token=s3cret", green.port);
    let out = verdict(
        &account,
        json!({"probe": {"target_url": url, "settings": {"probePaths": ["/health"]}},
               "rollout_id": "shop-42"}),
    )
    .await;
    assert_eq!(out["verdict"], "Passed", "{out}");
    assert!(out["reason"].is_null());
    assert_eq!(
        (out["requests"].as_u64(), out["passed"].as_u64()),
        (Some(6), Some(6))
    );
    assert_eq!(out["outcomes"], "passed=6");
    assert!(out["p95Ms"].is_u64(), "{out}");
    assert_eq!(out["failures"], json!([]));
    assert_eq!(
        out["target"],
        format!("http://127.0.0.1:{}/?…", green.port),
        "the query stays out"
    );
    assert!(
        green
            .heads()
            .iter()
            .all(|h| h.starts_with("get /health?token=s3cret"))
    );
    assert!(
        account.lock().ecs_lookups.is_empty(),
        "a URL needs no lookup"
    );
    assert!(account.reported().is_empty(), "never CodeDeploy's report");
    assert_eq!(
        published(&account),
        [(Outcome::Succeeded, "shop-42".into(), 6)]
    );
}

#[tokio::test]
async fn a_listener_target_is_discovered_and_probed() {
    let green = serve(Green::Healthy).await;
    let account = Account::new(green.port);
    let out = verdict(&account, json!({"probe": {"listener_arn": LISTENER}})).await;
    assert_eq!(out["verdict"], "Passed", "{out}");
    // The listener's load balancer names 127.0.0.1, its port is green's.
    assert_eq!(out["target"], format!("http://127.0.0.1:{}/", green.port));
    assert_eq!(green.heads().len(), 6);
    assert!(account.reported().is_empty());
    assert_eq!(
        published(&account),
        [(Outcome::Succeeded, "direct".into(), 6)]
    );
}

#[tokio::test]
async fn a_listener_target_overrides_a_configured_target_url() {
    let green = serve(Green::Healthy).await;
    let account = Account::new(green.port);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let mut context = Context::default();
    context.deadline = (now + Duration::from_secs(30)).as_millis() as u64;
    let deps = account.deps(&[("TARGET_URL", "http://127.0.0.1:1/")]);
    let payload = json!({"probe": {"listener_arn": LISTENER}});
    let out = handle(&deps, LambdaEvent::new(payload, context))
        .await
        .expect("answered");
    assert_eq!(out["verdict"], "Passed", "{out}");
    assert_eq!(green.heads().len(), 6);
}

#[tokio::test]
async fn a_rule_target_gets_requests_that_meet_its_header_condition() {
    let green = serve(Green::BehindCanaryHeader).await;
    let account = Account::new(green.port);
    account.lock().rule_conditions = vec![canary_rule()];
    let out = verdict(
        &account,
        json!({"probe": {"rule_arn": TEST_RULE,
                         "settings": {"probeHeaders": {"Authorization": "Bearer s3cret"}}}}),
    )
    .await;
    assert_eq!(out["verdict"], "Passed", "{out}");
    assert_eq!(
        account.lock().ecs_lookups,
        [format!("DescribeRules {TEST_RULE}")]
    );
    let heads = green.heads();
    assert_eq!(heads.len(), 6);
    assert!(
        heads
            .iter()
            .all(|h| h.contains("x-canary: true") && h.contains("authorization: bearer s3cret")),
        "{heads:?}"
    );
    assert!(!out.to_string().contains("s3cret"));
}

#[tokio::test]
async fn a_rule_no_probe_can_meet_is_failed_before_any_request() {
    let green = serve(Green::Healthy).await;
    let account = Account::new(green.port);
    account.lock().rule_conditions = vec![
        RuleCondition::builder()
            .field("http-header")
            .http_header_config(
                HttpHeaderConditionConfig::builder()
                    .http_header_name("X-Canary")
                    .regex_values("^(yes|true)$")
                    .build(),
            )
            .build(),
    ];
    let out = verdict(&account, json!({"probe": {"rule_arn": TEST_RULE}})).await;
    assert_eq!(out["verdict"], "Failed", "{out}");
    let reason = out["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("cannot be matched") && reason.contains("X-Canary"),
        "{reason}"
    );
    assert_eq!(out["requests"], 0);
    assert!(green.heads().is_empty());
    assert_eq!(published(&account), [(Outcome::Failed, "direct".into(), 0)]);
}

#[tokio::test]
async fn a_failing_green_is_failed_with_the_evidence() {
    let green = serve(Green::Failing).await;
    let account = Account::new(green.port);
    let out = verdict(
        &account,
        json!({"probe": {"target_url": format!("http://127.0.0.1:{}", green.port)},
               "rollout_id": "shop-43"}),
    )
    .await;
    assert_eq!(out["verdict"], "Failed", "{out}");
    assert!(
        out["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("success ratio"),
        "{out}"
    );
    assert_eq!(
        (out["requests"].as_u64(), out["failed"].as_u64()),
        (Some(6), Some(6))
    );
    let failures = out["failures"].as_array().cloned().unwrap_or_default();
    assert!(!failures.is_empty() && failures.len() <= 5, "{out}");
    assert!(
        failures[0].as_str().unwrap_or_default().contains("503"),
        "{out}"
    );
    assert_eq!(
        published(&account),
        [(Outcome::Failed, "shop-43".into(), 6)]
    );
    let event = account.lock().events[0].clone();
    assert!(event.reason.unwrap_or_default().contains("success ratio"));
}

#[tokio::test(start_paused = true)]
async fn a_hung_lookup_under_a_short_deadline_is_failed_in_time() {
    let account = Account::new(1);
    account.lock().describe_listeners = Lookup::Hangs;
    let started = Instant::now();
    let time = Duration::from_secs(3);
    let out = ask(&account, json!({"probe": {"listener_arn": LISTENER}}), time)
        .await
        .expect("answered");
    assert_eq!(out["verdict"], "Failed", "{out}");
    let reason = out["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("DescribeListeners") && reason.contains("no answer"),
        "{reason}"
    );
    assert!(started.elapsed() < time, "{:?}", started.elapsed());
    assert_eq!(published(&account), [(Outcome::Failed, "direct".into(), 0)]);
}

/// The rule path's lookups (DescribeRules, then the rule's listener) are bounded as the
/// listener path's are: a hang in either is a Failed verdict naming it, before the deadline.
#[tokio::test(start_paused = true)]
async fn a_hung_rule_lookup_is_failed_in_time_naming_it() {
    for operation in ["DescribeRules", "DescribeListeners"] {
        let account = Account::new(1);
        account.lock().rule_conditions = vec![canary_rule()];
        match operation {
            "DescribeRules" => account.lock().describe_rules = Lookup::Hangs,
            _ => account.lock().describe_listeners = Lookup::Hangs,
        }
        let started = Instant::now();
        let time = Duration::from_secs(3);
        let out = ask(&account, json!({"probe": {"rule_arn": TEST_RULE}}), time)
            .await
            .expect("answered");
        assert_eq!(out["verdict"], "Failed", "{operation}: {out}");
        let reason = out["reason"].as_str().unwrap_or_default();
        assert!(
            reason.contains(operation) && reason.contains("no answer"),
            "{operation}: {reason}"
        );
        assert!(started.elapsed() < time, "{:?}", started.elapsed());
        assert_eq!(out["requests"], 0);
        assert_eq!(published(&account), [(Outcome::Failed, "direct".into(), 0)]);
    }
}

#[tokio::test(start_paused = true)]
async fn a_hung_green_is_failed_before_the_deadline() {
    let account = Account::new(1);
    let green = serve(Green::Hangs).await;
    let started = Instant::now();
    let time = Duration::from_secs(4);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let mut context = Context::default();
    context.deadline = (now + time).as_millis() as u64;
    // Each request would wait 60 s: only the guard can end the probe in time.
    let deps = account.deps(&[("PROBE_TIMEOUT_MS", "60000")]);
    let payload = json!({"probe": {"target_url": format!("http://127.0.0.1:{}", green.port)}});
    let out = handle(&deps, LambdaEvent::new(payload, context))
        .await
        .expect("answered");
    assert_eq!(out["verdict"], "Failed", "{out}");
    let reason = out["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("deadline guard") && reason.contains("probing"),
        "{reason}"
    );
    assert!(started.elapsed() < time, "{:?}", started.elapsed());
}

#[tokio::test]
async fn a_bad_setting_is_failed_naming_the_key_never_the_value() {
    let green = serve(Green::Healthy).await;
    let account = Account::new(green.port);
    for (payload, key) in [
        (
            json!({"probe": {"listener_arn": LISTENER, "settings": {"maxP95Ms": "s3cret"}}}),
            "probe.settings.maxP95Ms",
        ),
        (
            json!({"probe": {"listener_arn": LISTENER,
                             "settings": {"probeHeaders": {"X-Token": "s3cret;x"}}}}),
            "probe.settings.probeHeaders",
        ),
        (
            json!({"probe": {"target_url": "ftp://s3cret@green"}}),
            "probe.target_url",
        ),
    ] {
        let out = verdict(&account, payload.clone()).await;
        assert_eq!(out["verdict"], "Failed", "{payload}: {out}");
        let reason = out["reason"].as_str().unwrap_or_default();
        assert!(reason.contains(key), "{payload}: {reason}");
        assert!(!out.to_string().contains("s3cret"), "{out}");
    }
    assert!(green.heads().is_empty());
}

#[tokio::test]
async fn malformed_requests_are_invalid_event_errors_without_a_probe_or_an_event() {
    let green = serve(Green::Healthy).await;
    let account = Account::new(green.port);
    let url = format!("http://127.0.0.1:{}", green.port);
    for payload in [
        json!({"probe": null}),
        json!({"probe": {}}),
        json!({"probe": {"target_url": url, "listener_arn": LISTENER}}),
        json!({"probe": {"target_url": ["s3cret"]}}),
        json!({"probe": {"listener_arn": TEST_RULE}}),
        json!({"probe": {"target_url": url, "settings": {"maxP95": 100}}}),
        json!({"probe": {"target_url": url}, "rollout_id": {"id": 1}}),
    ] {
        match ask(&account, payload.clone(), Duration::from_secs(30)).await {
            Err(err @ Error::InvalidProbeRequest(_)) => {
                assert_eq!(err.kind(), "InvalidEvent");
                assert!(
                    err.to_string().starts_with("not a valid probe request: "),
                    "{err}"
                );
                assert!(!err.to_string().contains("s3cret"), "{err}");
            }
            other => panic!("{payload}: expected InvalidProbeRequest, got {other:?}"),
        }
    }
    assert!(green.heads().is_empty());
    assert!(account.lock().events.is_empty());
}
