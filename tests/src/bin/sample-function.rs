//! A function version the bench can deploy: the target of validate-traffic's test invocations in
//! CodeDeploy Lambda deployments. What it does is set by its environment, as a test needs it:
//! `SAMPLE_VERSION` (echoed as `"version": "v<n>"`), `SAMPLE_BEHAVIOUR` = `healthy` (default) | `error` (returns an
//! error: `X-Amz-Function-Error: Unhandled`) | `slow` (answers after `SAMPLE_DELAY_MS`) |
//! `wrong-body` (answers `statusCode` 500).

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

async fn handle(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let version = format!(
        "v{}",
        std::env::var("SAMPLE_VERSION").unwrap_or_else(|_| "$LATEST".into())
    );
    let behaviour = std::env::var("SAMPLE_BEHAVIOUR").unwrap_or_else(|_| "healthy".into());
    match behaviour.as_str() {
        "error" => return Err(format!("orders {version} cannot reach its database").into()),
        "slow" => {
            let ms = std::env::var("SAMPLE_DELAY_MS")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(2000);
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        }
        "wrong-body" => {
            return Ok(
                json!({"statusCode": 500, "version": version, "error": "database unavailable"}),
            );
        }
        _ => {}
    }
    Ok(json!({"statusCode": 200, "version": version, "received": event.payload}))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(handle)).await
}
