//! The smallest useful `lambda_runtime` binary: it echoes its event. The benchmarks measure it
//! the same way as the functions to give the cold-start and memory floor, and the bench's own
//! tests run it to check the Runtime API server. `{"sleep_ms": n}` makes it take n ms.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

async fn echo(event: LambdaEvent<Value>) -> Result<Value, Error> {
    if let Some(ms) = event.payload.get("sleep_ms").and_then(Value::as_u64) {
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    }
    Ok(event.payload)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(echo)).await
}
