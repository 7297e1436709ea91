use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    tracing::info!(request_id = %event.context.request_id, "received");
    Ok(event.payload)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    rollout_kit::startup::init_logging();
    lambda_runtime::run(service_fn(handler)).await
}
