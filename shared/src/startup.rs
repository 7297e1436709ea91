//! Cold-start wiring shared by every function.

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};

use crate::config::{ConfigError, Env};
use crate::sdk_http::ReqwestHttpClient;
use crate::tls::Tls;

/// Logs go to stdout; Lambda's logging config (`AWS_LAMBDA_LOG_FORMAT=JSON`,
/// `AWS_LAMBDA_LOG_LEVEL`) selects JSON lines and the level, `RUST_LOG` works locally.
pub fn init_logging() {
    lambda_runtime::tracing::init_default_subscriber();
}

/// The standard chain: region, credentials and `AWS_ENDPOINT_URL[_<SERVICE>]` from the
/// environment. Loaded once per container and shared by every client; every client sends
/// through [`ReqwestHttpClient`] with the process's one TLS configuration.
pub async fn load_aws_config(tls: &Tls) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(ReqwestHttpClient::new(tls.clone()))
        .load()
        .await
}

/// A function's settings (read by `read`) and the process's TLS configuration, at cold start.
/// A bad value is logged naming its variable; the caller stops the cold start with it.
pub fn read_config<C>(
    env: &Env,
    read: impl FnOnce(&Env) -> Result<C, ConfigError>,
) -> Result<(C, Tls), ConfigError> {
    read(env)
        .and_then(|config| Ok((config, Tls::from_env(env)?)))
        .inspect_err(|err| tracing::error!(error = %err, "invalid configuration"))
}

/// The SDK sets no operation timeout by default, so a call that hangs waits for the Lambda
/// timeout. Every client gets these bounds: one attempt, and the whole call with its retries.
pub fn sdk_timeouts(attempt: Duration, operation: Duration) -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(attempt.min(Duration::from_secs(3)))
        .operation_attempt_timeout(attempt)
        .operation_timeout(operation)
        .build()
}

/// The shared config with [`sdk_timeouts`] applied, for building a client with `Client::new`.
pub fn with_timeouts(sdk: &SdkConfig, attempt: Duration, operation: Duration) -> SdkConfig {
    sdk.to_builder()
        .timeout_config(sdk_timeouts(attempt, operation))
        .build()
}
