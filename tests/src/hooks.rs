//! Helpers for lifecycle-hook tests (validate-traffic, the fault matrix): hook events, a
//! Lambda-platform deployment to report on, what the CodeDeploy fake accepted, log lookups.

use aws_config::SdkConfig;
use aws_sdk_codedeploy::types::ComputePlatform;
use serde_json::{Value, json};

use crate::{Bench, HookReport, LambdaFn};

/// The payload CodeDeploy sends a lifecycle hook.
pub fn hook(deployment_id: &str, execution_id: &str) -> Value {
    json!({ "DeploymentId": deployment_id, "LifecycleEventHookExecutionId": execution_id })
}

/// A Lambda-platform deployment (application and group named after `name`) without an AppSpec:
/// validate-traffic needs `TARGET_URL` to probe it.
pub async fn plain_deployment(config: &SdkConfig, name: &str) -> String {
    deployment_on(config, name, ComputePlatform::Lambda).await
}

/// A deployment on `platform` with no load balancer and no revision.
pub async fn deployment_on(config: &SdkConfig, name: &str, platform: ComputePlatform) -> String {
    let codedeploy = aws_sdk_codedeploy::Client::new(config);
    codedeploy
        .create_application()
        .application_name(name)
        .compute_platform(platform)
        .send()
        .await
        .expect("create application");
    codedeploy
        .create_deployment_group()
        .application_name(name)
        .deployment_group_name(format!("{name}-group"))
        .service_role_arn("arn:aws:iam::123456789012:role/codedeploy")
        .send()
        .await
        .expect("create deployment group");
    codedeploy
        .create_deployment()
        .application_name(name)
        .deployment_group_name(format!("{name}-group"))
        .send()
        .await
        .expect("create deployment")
        .deployment_id
        .expect("deployment id")
}

/// The hook statuses the CodeDeploy fake accepted for one deployment, in order.
pub fn reports_for(bench: &Bench, deployment_id: &str) -> Vec<HookReport> {
    bench
        .front
        .hook_reports()
        .into_iter()
        .filter(|r| r.deployment_id == deployment_id)
        .collect()
}

/// A 127.0.0.1 port nothing listens on.
pub async fn closed_port() -> u16 {
    let listener = crate::bind_local().await;
    listener.local_addr().expect("addr").port()
}

/// The fields of the function's last JSON log line with this message, if any.
pub fn find_log(function: &LambdaFn, message: &str) -> Option<Value> {
    function
        .log_records()
        .into_iter()
        .rev()
        .map(|r| r.get("fields").cloned().unwrap_or(r))
        .find(|f| f.get("message").and_then(Value::as_str) == Some(message))
}

/// Like [`find_log`], but panics with the logs when the line is missing.
pub fn log_fields(function: &LambdaFn, message: &str) -> Value {
    find_log(function, message)
        .unwrap_or_else(|| panic!("no {message:?} log line in:\n{}", function.logs()))
}

/// How many of the function's JSON log lines carry this message.
pub fn count_logs(function: &LambdaFn, message: &str) -> usize {
    function
        .log_records()
        .iter()
        .map(|r| r.get("fields").unwrap_or(r))
        .filter(|f| f.get("message").and_then(Value::as_str) == Some(message))
        .count()
}
