//! Cold-start wiring shared by every function.
//!
//! Init is what Lambda bills as Init Duration and what every cold invocation waits for, so it
//! does only what every invocation needs: logging, the settings, one TLS configuration and the
//! shared AWS config. SDK clients are [`LazyClient`]s, built by the first invocation that calls
//! their service; a path that calls none (validate-traffic's ECS rollback answer) builds none.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_credential_types::provider::ProvideCredentials;

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
///
/// Credentials: the default chain tries the environment first and stops there when
/// `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` are set, as Lambda always sets them. Building
/// the rest of the chain (profile files, web identity, the container endpoint, two IMDS
/// clients) took a quarter of a millisecond of every init for providers Lambda never reaches,
/// so when the environment provider answers it is used alone; otherwise (a laptop with a
/// profile, a container) the whole default chain is built as before.
pub async fn load_aws_config(tls: &Tls) -> SdkConfig {
    let loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(ReqwestHttpClient::new(tls.clone()));
    let env = EnvironmentVariableCredentialsProvider::new();
    let loader = match env.provide_credentials().await {
        Ok(_) => loader.credentials_provider(env),
        Err(_) => loader,
    };
    loader.load().await
}

/// An SDK client built the first time it is used, then kept for the life of the process (and
/// shared by clones). Building a client costs about 0.1 ms, most of it the first client of each
/// service crate; at init, validate-traffic built six, and an invocation uses one to five.
pub struct LazyClient<C> {
    inner: Arc<Inner<C>>,
}

struct Inner<C> {
    client: OnceLock<C>,
    build: Box<dyn Fn() -> C + Send + Sync>,
}

impl<C> LazyClient<C> {
    /// `build` runs once, on the first [`LazyClient::get`].
    pub fn new(build: impl Fn() -> C + Send + Sync + 'static) -> Self {
        LazyClient {
            inner: Arc::new(Inner {
                client: OnceLock::new(),
                build: Box::new(build),
            }),
        }
    }

    /// A client made by `build` (`aws_sdk_<service>::Client::new`, or a closure setting its
    /// bounds) from this config.
    pub fn from_sdk(
        sdk: &SdkConfig,
        build: impl Fn(&SdkConfig) -> C + Send + Sync + 'static,
    ) -> Self {
        let sdk = sdk.clone();
        Self::new(move || build(&sdk))
    }

    /// The client, built now if this is its first use.
    pub fn get(&self) -> &C {
        self.inner.client.get_or_init(&self.inner.build)
    }

    /// Whether the client has been built.
    pub fn is_built(&self) -> bool {
        self.inner.client.get().is_some()
    }
}

impl<C> Clone for LazyClient<C> {
    fn clone(&self) -> Self {
        LazyClient {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<C> std::ops::Deref for LazyClient<C> {
    type Target = C;

    fn deref(&self) -> &C {
        self.get()
    }
}

impl<C> std::fmt::Debug for LazyClient<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazyClient")
            .field("built", &self.is_built())
            .finish_non_exhaustive()
    }
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn a_lazy_client_is_built_on_first_use_once_for_all_clones() {
        static BUILT: AtomicUsize = AtomicUsize::new(0);
        let client = LazyClient::new(|| {
            BUILT.fetch_add(1, Ordering::SeqCst);
            String::from("client")
        });
        let clone = client.clone();
        assert!(!client.is_built());
        assert_eq!(BUILT.load(Ordering::SeqCst), 0);
        assert_eq!(clone.len(), 6);
        assert_eq!(client.get(), "client");
        assert!(client.is_built());
        assert_eq!(BUILT.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn the_config_has_a_credentials_provider_with_or_without_keys_in_the_environment() {
        // Which of the two it is depends on the test process's environment.
        let sdk = load_aws_config(&Tls::public_roots()).await;
        assert!(sdk.credentials_provider().is_some());
    }
}
