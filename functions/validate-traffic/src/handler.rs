//! One hook invocation: the adapters, the time budget, the deadline guard, and the dispatch to
//! the engine that sent the event.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_codedeploy::config::retry::RetryConfig;
use lambda_runtime::LambdaEvent;
use rollout_kit::startup::with_timeouts;
use rollout_kit::{ConfigError, Deadline, Env, LazyClient, Margin, PUBLISH_TIMEOUT, Tls};
use serde_json::Value;
use tokio::time::Instant;

use crate::config::{self, Config};
use crate::error::Error;
use crate::hook::{self, Hook};
use crate::ports::{Aws, Ports};
use crate::report;
use crate::{codedeploy, direct, ecs, probe};

/// AWS lookups (discovery, readiness) end this much before the deadline guard, so a lookup that
/// keeps failing is reported with its own cause rather than as "deadline guard".
const LOOKUP_HEADROOM: Duration = Duration::from_millis(150);
/// SDK bounds for the lookups: one attempt, and one call with the SDK's own retries.
const LOOKUP_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
const LOOKUP_OPERATION_TIMEOUT: Duration = Duration::from_secs(10);
/// Lambda's longest run: the probe bounds each test invocation itself (`PROBE_TIMEOUT_MS`).
const INVOKE_TIMEOUT: Duration = Duration::from_secs(900);

/// What a valid configuration gives: the settings and the HTTP client built from them.
pub struct Setup {
    pub config: Config,
    pub http: reqwest::Client,
    /// The variables the settings came from: an ECS hook's `hookDetails` override some of them
    /// per invocation, and the result is checked as the variables are.
    pub env: Env,
}

/// The adapters an invocation works through: the SDK clients (`Deps<Aws>`, the default) or, in
/// the unit tests, an in-memory account.
pub struct Deps<P: Ports = Aws> {
    /// A bad configuration is kept, not fatal: every invocation must still report `Failed`.
    pub setup: Result<Arc<Setup>, ConfigError>,
    /// The configured margin, adapted per invocation to the time it has.
    pub margin: Margin,
    pub codedeploy: P::Deployments,
    /// SDK retries off: [`report::report`] retries within the deadline itself.
    pub reporter: P::Reporter,
    pub elb: P::LoadBalancers,
    pub ecs: P::Services,
    /// Lambda deployments: each invocation is bounded by `PROBE_TIMEOUT_MS` in [`crate::lambda`].
    pub lambda: P::Functions,
    pub sns: P::Events,
}

/// The settings (or why they are invalid) and the deadline margin they give. `tls` is the
/// process's TLS configuration, or why `SSL_CERT_FILE` could not be used.
pub fn configure(
    env: &Env,
    tls: Result<&Tls, &ConfigError>,
) -> (Result<Arc<Setup>, ConfigError>, Margin) {
    let setup = Config::from_env(env).and_then(|config| {
        let tls = tls.map_err(ConfigError::clone)?;
        let http = probe::build_client(&config, tls)
            .map_err(|_| ConfigError::new("TLS_VERIFY", "the HTTP client cannot be built"))?;
        Ok(Arc::new(Setup {
            config,
            http,
            env: env.clone(),
        }))
    });
    let deadline_margin = match &setup {
        Ok(s) => s.config.deadline_margin,
        Err(_) => config::deadline_margin(env),
    };
    (setup, config::margin(deadline_margin))
}

impl Deps {
    /// No client is built here: each is built, with its bounds, by the first invocation that
    /// calls its service (`rollout_kit::LazyClient`), so a report-only invocation builds the
    /// reporter alone and an ECS rollback answer none.
    pub fn new(env: &Env, sdk: &SdkConfig, tls: Result<&Tls, &ConfigError>) -> Deps {
        let (setup, margin) = configure(env, tls);
        // No client without bounds: a call that hangs must not wait for the Lambda timeout.
        fn lookups(sdk: &SdkConfig) -> SdkConfig {
            with_timeouts(sdk, LOOKUP_ATTEMPT_TIMEOUT, LOOKUP_OPERATION_TIMEOUT)
        }
        Deps {
            setup,
            margin,
            codedeploy: LazyClient::from_sdk(sdk, |sdk| {
                aws_sdk_codedeploy::Client::new(&lookups(sdk))
            }),
            reporter: LazyClient::from_sdk(sdk, |sdk| {
                let reporting =
                    with_timeouts(sdk, report::ATTEMPT_TIMEOUT, report::ATTEMPT_TIMEOUT);
                aws_sdk_codedeploy::Client::from_conf(
                    aws_sdk_codedeploy::config::Builder::from(&reporting)
                        .retry_config(RetryConfig::disabled())
                        .build(),
                )
            }),
            elb: LazyClient::from_sdk(sdk, |sdk| {
                aws_sdk_elasticloadbalancingv2::Client::new(&lookups(sdk))
            }),
            ecs: LazyClient::from_sdk(sdk, |sdk| aws_sdk_ecs::Client::new(&lookups(sdk))),
            lambda: LazyClient::from_sdk(sdk, |sdk| {
                aws_sdk_lambda::Client::new(&with_timeouts(sdk, INVOKE_TIMEOUT, INVOKE_TIMEOUT))
            }),
            sns: LazyClient::from_sdk(sdk, |sdk| {
                aws_sdk_sns::Client::new(&with_timeouts(sdk, PUBLISH_TIMEOUT, PUBLISH_TIMEOUT))
            }),
        }
    }
}

/// The time one invocation has, carved up: the work ends `margin` before the deadline, AWS
/// lookups a little earlier (so a lookup that keeps failing is reported with its own cause rather
/// than as "deadline guard"), and the answer (report, publish) keeps [`report::FINAL_SLACK`].
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub started: Instant,
    pub time_left: Duration,
    pub margin: Duration,
    pub work_until: Instant,
    pub lookups_until: Instant,
    pub report_until: Instant,
}

impl Budget {
    pub fn new(deadline: Deadline, margin: Margin) -> Budget {
        let started = Instant::now();
        let time_left = deadline.remaining();
        // Sized from the time this invocation has: a fixed margin larger than a short timeout
        // would fail every hook without a single request.
        let margin = margin.for_remaining(time_left);
        let work_until = deadline.less(margin);
        let lookups_until = work_until
            .checked_sub(LOOKUP_HEADROOM)
            .unwrap_or(work_until)
            .max(started);
        Budget {
            started,
            time_left,
            margin,
            work_until,
            lookups_until,
            report_until: deadline.less(report::FINAL_SLACK),
        }
    }
}

/// One invocation: which engine sent it decides how the event is read, how green is found and
/// how the verdict is delivered ([`crate::codedeploy`], [`crate::ecs`], and [`crate::direct`]
/// for a probe request without an engine); the probe and the verdict are the same for all.
pub async fn handle<P: Ports>(deps: &Deps<P>, event: LambdaEvent<Value>) -> Result<Value, Error> {
    let (payload, context) = event.into_parts();
    match hook::read(payload)? {
        Hook::CodeDeploy(hook) => codedeploy::handle(deps, hook, context).await,
        // ECS reads the answer itself: every path, a malformed event included, returns one.
        Hook::Ecs(payload) => Ok(ecs::handle(deps, payload, context).await),
        // A probe request reads the verdict from the return value; only its shape is an error.
        Hook::Probe(payload) => direct::handle(deps, payload, context).await,
    }
}

#[derive(Debug)]
pub enum Guarded<T> {
    Done(T),
    Panicked,
    DeadlineReached,
}

/// Runs `work` in its own task so a panic is caught, and gives up on it at `until`.
pub async fn guarded<T: Send + 'static>(
    work: impl Future<Output = T> + Send + 'static,
    until: Instant,
) -> Guarded<T> {
    let mut task = tokio::spawn(work);
    tokio::select! {
        joined = &mut task => match joined {
            Ok(value) => Guarded::Done(value),
            Err(_) => Guarded::Panicked,
        },
        _ = tokio::time::sleep_until(until) => {
            task.abort();
            Guarded::DeadlineReached
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn guard_turns_a_panic_into_a_verdict() {
        let until = Instant::now() + Duration::from_secs(5);
        let outcome = guarded(
            async move {
                if until > Instant::now() {
                    panic!("probe bug");
                }
                1
            },
            until,
        )
        .await;
        assert!(matches!(outcome, Guarded::Panicked), "{outcome:?}");
    }

    #[tokio::test]
    async fn guard_stops_slow_work_at_the_deadline() {
        let started = Instant::now();
        let outcome = guarded(
            tokio::time::sleep(Duration::from_secs(30)),
            started + Duration::from_millis(50),
        )
        .await;
        assert!(matches!(outcome, Guarded::DeadlineReached));
        assert!(started.elapsed() < Duration::from_secs(5));
        let done = guarded(async { 7 }, Instant::now() + Duration::from_secs(1)).await;
        assert!(matches!(done, Guarded::Done(7)));
    }
}
