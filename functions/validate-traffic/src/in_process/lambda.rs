//! The hook of CodeDeploy Lambda deployments, in-process: `handler::handle` with CodeDeploy's hook
//! event against an in-memory account whose deployment is a Lambda one. The version under test
//! is invoked (never an HTTP probe), its answers are judged, and every path reports once, in
//! time.

use std::time::Duration;

use aws_sdk_codedeploy::types::LifecycleEventStatus;
use rollout_kit::{Outcome, RolloutDetail};
use tokio::time::Instant;

use super::{Account, FunctionAnswer, LambdaWorld, Lookup, invocation, run};
use crate::handler::handle;

const APP_SPEC: &str = r#"{"version":0.0,"Resources":[{"OrdersFunction":{"Type":"AWS::Lambda::Function","Properties":{"Name":"orders","Alias":"live","CurrentVersion":"3","TargetVersion":"4"}}}]}"#;

/// A Lambda deployment of `orders` from version 3 to 4, the alias serving `alias_version`.
fn deployment(alias_version: &'static str, answer: FunctionAnswer) -> Account {
    // No HTTP green: a probe over HTTP would fail to connect.
    let account = Account::new(1);
    account.lock().lambda = Some(LambdaWorld {
        app_spec: APP_SPEC.into(),
        alias_version,
        get_alias: Lookup::Answers,
        answer,
        invoked: Vec::new(),
    });
    account
}

fn invoked(account: &Account) -> Vec<String> {
    account
        .lock()
        .lambda
        .as_ref()
        .expect("lambda")
        .invoked
        .clone()
}

#[tokio::test]
async fn before_traffic_the_target_version_is_invoked_and_passes() {
    let account = deployment("3", FunctionAnswer::Healthy);
    let out = run(&account, Duration::from_secs(30)).await.unwrap();
    assert_eq!(out["status"], "Succeeded", "{out}");
    assert_eq!(account.reported(), [LifecycleEventStatus::Succeeded]);
    // PROBE_REQUESTS=6 (the account's defaults), every one to version 4, none to the alias.
    assert_eq!(invoked(&account), vec!["4"; 6]);
    let event = account.lock().events[0].clone();
    let RolloutDetail::Validation(detail) = event.detail else {
        panic!("a validation event");
    };
    assert_eq!(detail.target.as_deref(), Some("orders:4"));
}

#[tokio::test]
async fn after_traffic_the_alias_is_invoked() {
    let account = deployment("4", FunctionAnswer::Healthy);
    let out = run(&account, Duration::from_secs(30)).await.unwrap();
    assert_eq!(out["status"], "Succeeded", "{out}");
    assert_eq!(invoked(&account), vec!["live"; 6]);
}

#[tokio::test]
async fn an_unreadable_alias_still_tests_the_target_version() {
    let account = deployment("3", FunctionAnswer::Healthy);
    account.lock().lambda.as_mut().expect("lambda").get_alias = Lookup::Throttled;
    let started = Instant::now();
    let out = handle(&account.deps(&[]), invocation(Duration::from_secs(30)))
        .await
        .unwrap();
    assert_eq!(out["status"], "Succeeded", "{out}");
    // The alias is given a short budget, not the whole invocation.
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(invoked(&account), vec!["4"; 6]);
}

#[tokio::test]
async fn a_crashing_version_is_reported_failed_with_its_error() {
    let account = deployment("3", FunctionAnswer::Crashes);
    let out = run(&account, Duration::from_secs(30)).await.unwrap();
    assert_eq!(out["status"], "Failed", "{out}");
    assert_eq!(account.reported(), [LifecycleEventStatus::Failed]);
    assert_eq!(account.outcomes(), [Outcome::Failed]);
    let reason = out["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("success ratio 0.000"), "{reason}");
    let event = account.lock().events[0].clone();
    let RolloutDetail::Validation(detail) = event.detail else {
        panic!("a validation event");
    };
    let evidence = detail.failures.join(" | ");
    assert!(
        evidence.contains("function error (Unhandled)"),
        "{evidence}"
    );
    assert!(evidence.contains("orders crashed"), "{evidence}");
}

#[tokio::test]
async fn a_throttled_function_fails_naming_the_refusal() {
    let account = deployment("3", FunctionAnswer::Throttled);
    let out = run(&account, Duration::from_secs(30)).await.unwrap();
    assert_eq!(out["status"], "Failed", "{out}");
    let event = account.lock().events[0].clone();
    let RolloutDetail::Validation(detail) = event.detail else {
        panic!("a validation event");
    };
    assert!(
        detail
            .failures
            .iter()
            .any(|f| f.contains("TooManyRequestsException")),
        "{:?}",
        detail.failures
    );
}

#[tokio::test]
async fn a_hung_version_under_a_short_deadline_is_reported_failed_in_time() {
    let account = deployment("3", FunctionAnswer::Hangs);
    // Each invocation may take 60 s; the hook has 2.
    let deps = account.deps(&[("PROBE_TIMEOUT_MS", "60000")]);
    let started = Instant::now();
    let out = handle(&deps, invocation(Duration::from_secs(2)))
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(out["status"], "Failed", "{out}");
    assert_eq!(account.reported(), [LifecycleEventStatus::Failed]);
    let reason = out["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("invoking the version under test"),
        "{reason}"
    );
}

#[tokio::test]
async fn an_appspec_without_a_function_is_reported_failed_saying_why() {
    let account = deployment("3", FunctionAnswer::Healthy);
    account.lock().lambda.as_mut().expect("lambda").app_spec =
        r#"{"Resources":[{"svc":{"Type":"AWS::ECS::Service"}}]}"#.into();
    let out = run(&account, Duration::from_secs(30)).await.unwrap();
    assert_eq!(out["status"], "Failed", "{out}");
    let reason = out["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("AppSpec"), "{reason}");
    assert!(invoked(&account).is_empty());
}
