//! Cold-start wiring shared by every function.

use aws_config::{BehaviorVersion, SdkConfig};

/// Logs go to stdout; Lambda's logging config (`AWS_LAMBDA_LOG_FORMAT=JSON`,
/// `AWS_LAMBDA_LOG_LEVEL`) selects JSON lines and the level, `RUST_LOG` works locally.
pub fn init_logging() {
    lambda_runtime::tracing::init_default_subscriber();
}

/// The standard chain: region, credentials and `AWS_ENDPOINT_URL[_<SERVICE>]` from the
/// environment. Loaded once per container and shared by every client.
pub async fn load_aws_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}
