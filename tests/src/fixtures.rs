//! Fixtures the tests, the demo and `make bench` share, each written once: the CloudWatch alarm
//! that gates a rollout, and the KMS key and ciphertext of the Slack webhook.
//!
//! They panic when moto refuses, like the rest of the bench's setup: a fixture that silently
//! failed would make whatever follows measure or test something else.
//!
//! The verdict benchmarks' probe is `validate_traffic::verdict_probe`, next to the code it
//! times, so validate-traffic's own criterion benchmark can use it too.

use aws_sdk_cloudwatch::types::{ComparisonOperator, StateValue, Statistic};
use aws_sdk_kms::types::KeyMetadata;
use base64::Engine;

/// Creates (or replaces) alarm `name` on the load balancers' target 5xx count: the sum over one
/// minute compared with `threshold` by `comparison`, one period to trip.
pub async fn put_5xx_alarm(
    cloudwatch: &aws_sdk_cloudwatch::Client,
    name: &str,
    threshold: f64,
    comparison: ComparisonOperator,
) {
    cloudwatch
        .put_metric_alarm()
        .alarm_name(name)
        .namespace("AWS/ApplicationELB")
        .metric_name("HTTPCode_Target_5XX_Count")
        .statistic(Statistic::Sum)
        .period(60)
        .evaluation_periods(1)
        .threshold(threshold)
        .comparison_operator(comparison)
        .send()
        .await
        .expect("put alarm");
}

/// Sets alarm `name` to `state`, as CloudWatch would when its metric crosses the threshold.
pub async fn set_alarm_state(
    cloudwatch: &aws_sdk_cloudwatch::Client,
    name: &str,
    state: StateValue,
    reason: &str,
) {
    cloudwatch
        .set_alarm_state()
        .alarm_name(name)
        .state_value(state)
        .state_reason(reason)
        .send()
        .await
        .expect("set alarm state");
}

/// A new symmetric key, as `aws kms create-key` makes it; its id and ARN are in the metadata.
pub async fn new_key(kms: &aws_sdk_kms::Client, description: &str) -> KeyMetadata {
    kms.create_key()
        .description(description)
        .send()
        .await
        .expect("create key")
        .key_metadata
        .expect("key metadata")
}

/// Base64 ciphertext of `plaintext` under `key` (id or ARN), as `aws kms encrypt` prints it:
/// with the Lambda console helper's encryption context when `function_name` is given, with none
/// (CLI, Terraform) otherwise.
pub async fn encrypt(
    kms: &aws_sdk_kms::Client,
    key: &str,
    plaintext: &str,
    function_name: Option<&str>,
) -> String {
    let mut request = kms
        .encrypt()
        .key_id(key)
        .plaintext(aws_sdk_kms::primitives::Blob::new(plaintext.as_bytes()));
    if let Some(name) = function_name {
        request = request.encryption_context("LambdaFunctionName", name);
    }
    let blob = request
        .send()
        .await
        .expect("encrypt")
        .ciphertext_blob
        .expect("ciphertext");
    base64::engine::general_purpose::STANDARD.encode(blob.as_ref())
}

/// The `n`th instance-level CodeDeploy trigger of one deployment, as its own SNS event: what a
/// deployment to a large fleet sends per instance (a burst for notify-slack).
pub fn instance_trigger(n: usize) -> serde_json::Value {
    let mut event = crate::event("notify-slack/codedeploy-instance-failed.json");
    let sns = &mut event["Records"][0]["Sns"];
    sns["MessageId"] = serde_json::json!(format!("0b4a3c6e-1f52-5d0e-9a1d-{n:012x}"));
    sns["Message"] = serde_json::json!(instance_message(n));
    event
}

/// The message of [`instance_trigger`] `n`, as CodeDeploy publishes it to the topic; its
/// instance is [`instance_id`] `n`.
pub fn instance_message(n: usize) -> String {
    let event = crate::event("notify-slack/codedeploy-instance-failed.json");
    event["Records"][0]["Sns"]["Message"]
        .as_str()
        .unwrap_or_default()
        .replace("i-0a1b2c3d4e5f67890", &instance_id(n))
}

/// The instance of [`instance_trigger`] `n`.
pub fn instance_id(n: usize) -> String {
    format!("i-0a1b2c3d4e{n:07x}")
}
