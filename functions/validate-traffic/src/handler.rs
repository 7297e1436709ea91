//! One hook invocation: assess green under a deadline guard, report exactly once, publish.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::SdkConfig;
use aws_lambda_events::event::codedeploy::CodeDeployLifecycleEvent;
use aws_sdk_codedeploy::config::retry::RetryConfig;
use lambda_runtime::LambdaEvent;
use rollout_kit::startup::with_timeouts;
use rollout_kit::{ConfigError, Deadline, Env, Margin, PUBLISH_TIMEOUT, Tls};
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::assessment::Assessment;
use crate::config::{self, Config};
use crate::discovery::{self, DeploymentFacts, Target};
use crate::error::Error;
use crate::notify::rollout_event;
use crate::ports::{Aws, Deployments, EventSink, LoadBalancers, Ports};
use crate::probe;
use crate::report::{self, Reported};
use crate::verdict::{self, without_query};

/// AWS lookups (discovery, readiness) end this much before the deadline guard, so a lookup that
/// keeps failing is reported with its own cause rather than as "deadline guard".
const LOOKUP_HEADROOM: Duration = Duration::from_millis(150);
/// SDK bounds for the lookups: one attempt, and one call with the SDK's own retries.
const LOOKUP_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
const LOOKUP_OPERATION_TIMEOUT: Duration = Duration::from_secs(10);

/// What a valid configuration gives: the settings and the HTTP client built from them.
pub struct Setup {
    pub config: Config,
    pub http: reqwest::Client,
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
        Ok(Arc::new(Setup { config, http }))
    });
    let deadline_margin = match &setup {
        Ok(s) => s.config.deadline_margin,
        Err(_) => config::deadline_margin(env),
    };
    (setup, config::margin(deadline_margin))
}

impl Deps {
    pub fn new(env: &Env, sdk: &SdkConfig, tls: Result<&Tls, &ConfigError>) -> Deps {
        let (setup, margin) = configure(env, tls);
        // No client without bounds: a call that hangs must not wait for the Lambda timeout.
        let lookups = with_timeouts(sdk, LOOKUP_ATTEMPT_TIMEOUT, LOOKUP_OPERATION_TIMEOUT);
        let reporting = with_timeouts(sdk, report::ATTEMPT_TIMEOUT, report::ATTEMPT_TIMEOUT);
        let publishing = with_timeouts(sdk, PUBLISH_TIMEOUT, PUBLISH_TIMEOUT);
        let reporter = aws_sdk_codedeploy::Client::from_conf(
            aws_sdk_codedeploy::config::Builder::from(&reporting)
                .retry_config(RetryConfig::disabled())
                .build(),
        );
        Deps {
            setup,
            margin,
            codedeploy: aws_sdk_codedeploy::Client::new(&lookups),
            reporter,
            elb: aws_sdk_elasticloadbalancingv2::Client::new(&lookups),
            sns: aws_sdk_sns::Client::new(&publishing),
        }
    }
}

/// The hook ids, both required and non-empty.
pub fn parse_event(payload: Value) -> Result<CodeDeployLifecycleEvent, Error> {
    // serde would also read a struct from a JSON array; only the object form is a hook event.
    if !payload.is_object() {
        return Err(Error::InvalidEvent(
            "expected a JSON object with DeploymentId and LifecycleEventHookExecutionId".into(),
        ));
    }
    let event: CodeDeployLifecycleEvent = serde_json::from_value(payload).map_err(|e| {
        Error::InvalidEvent(format!(
            "expected {{\"DeploymentId\", \"LifecycleEventHookExecutionId\"}}: {e}"
        ))
    })?;
    if event.deployment_id.trim().is_empty() {
        return Err(Error::InvalidEvent("DeploymentId is empty".into()));
    }
    if event.lifecycle_event_hook_execution_id.trim().is_empty() {
        return Err(Error::InvalidEvent(
            "LifecycleEventHookExecutionId is empty".into(),
        ));
    }
    Ok(event)
}

pub async fn handle<P: Ports>(deps: &Deps<P>, event: LambdaEvent<Value>) -> Result<Value, Error> {
    let (payload, context) = event.into_parts();
    let hook = parse_event(payload)?;
    let deployment_id = hook.deployment_id.as_str();
    let deadline = Deadline::from_epoch_ms(context.deadline);
    let started = Instant::now();
    let time_left = deadline.remaining();
    // Sized from the time this invocation has: a fixed margin larger than a short timeout would
    // fail every hook without a single request.
    let margin = deps.margin.for_remaining(time_left);
    let work_until = deadline.less(margin);
    let lookups_until = work_until
        .checked_sub(LOOKUP_HEADROOM)
        .unwrap_or(work_until)
        .max(started);
    let report_until = deadline.less(report::FINAL_SLACK);
    tracing::info!(
        deployment_id,
        request_id = %context.request_id,
        time_left_ms = time_left.as_millis() as u64,
        margin_ms = margin.as_millis() as u64,
        "validating deployment"
    );

    let mut config_error = None;
    let assessment = match &deps.setup {
        Err(err) => {
            tracing::error!(deployment_id, error = %err, "invalid configuration");
            // ConfigError is not Clone; rebuild it for the invocation's error.
            config_error = Some(ConfigError::new(&err.var, err.reason.clone()));
            Assessment::invalid_config(err)
        }
        Ok(setup) => {
            let phase = Arc::new(Mutex::new("starting"));
            let work = assess(
                setup.clone(),
                deps.codedeploy.clone(),
                deps.elb.clone(),
                deployment_id.to_string(),
                phase.clone(),
                lookups_until,
            );
            match guarded(work, work_until).await {
                Guarded::Done(Ok(assessment)) => assessment,
                Guarded::Done(Err(err)) => {
                    tracing::error!(deployment_id, error = %err, "not reporting");
                    return Err(err);
                }
                Guarded::Panicked => Assessment::panicked(),
                Guarded::DeadlineReached => {
                    let phase = *phase.lock().unwrap_or_else(|p| p.into_inner());
                    Assessment::deadline_reached(margin, phase)
                }
            }
        }
    };

    log_verdict(deployment_id, &assessment, started.elapsed());
    let reported = report::report(
        &deps.reporter,
        deployment_id,
        &hook.lifecycle_event_hook_execution_id,
        assessment.status,
        report_until,
    )
    .await;
    match &reported {
        Ok(how) => {
            tracing::info!(
                deployment_id,
                status = assessment.status.as_str(),
                report = how.as_str(),
                "hook status reported"
            )
        }
        Err(err) => {
            tracing::error!(deployment_id, status = assessment.status.as_str(), error = %err, "hook status not reported")
        }
    }

    // Only the invocation whose report CodeDeploy accepted tells the channel: a Lambda retry
    // (already completed) or an undelivered report must not add a second, perhaps
    // contradicting, message.
    let accepted = matches!(reported, Ok(Reported::Accepted));
    let topic = deps
        .setup
        .as_ref()
        .ok()
        .and_then(|s| s.config.topic_arn.as_deref());
    if let Some(topic) = topic.filter(|_| accepted) {
        let event = rollout_event(deployment_id, &assessment);
        let left = report_until.saturating_duration_since(Instant::now());
        deps.sns.publish_within(topic, &event, left).await;
    }

    let reported = reported?;
    if let Some(err) = config_error {
        return Err(Error::InvalidConfig(err));
    }
    Ok(json!({
        "deploymentId": deployment_id,
        "status": assessment.status.as_str(),
        "report": reported.as_str(),
        "reason": assessment.reason,
    }))
}

/// Everything that may take time, run in its own task. `Err` only when no report can be made.
async fn assess(
    setup: Arc<Setup>,
    codedeploy: impl Deployments,
    elb: impl LoadBalancers,
    deployment_id: String,
    phase: Arc<Mutex<&'static str>>,
    lookups_until: Instant,
) -> Result<Assessment, Error> {
    let set_phase = |name: &'static str| *phase.lock().unwrap_or_else(|p| p.into_inner()) = name;
    let config = &setup.config;

    set_phase("looking up the deployment");
    let facts = match discovery::deployment(&codedeploy, &deployment_id, lookups_until).await {
        Ok(facts) => facts,
        Err(err @ Error::DeploymentNotFound(_)) => return Err(err),
        // With a configured URL the lookup only adds context, unless it used up the time.
        Err(err) if config.target_url.is_some() && !matches!(err, Error::AwsUnavailable { .. }) => {
            tracing::warn!(deployment_id, error = %err, "deployment lookup failed; probing TARGET_URL anyway");
            DeploymentFacts::default()
        }
        Err(err) => {
            return Ok(Assessment::failed(
                err.to_string(),
                DeploymentFacts::default(),
            ));
        }
    };
    if let Some(finished) = Assessment::already_finished(&facts) {
        return Ok(finished);
    }

    let target = match &config.target_url {
        Some(url) => {
            set_phase("looking up green for the readiness gate");
            match green_for_readiness(&codedeploy, &elb, &facts, config, lookups_until).await {
                Ok(green_target_group) => Target {
                    url: url.clone(),
                    listener_arn: None,
                    green_target_group,
                    internal: false,
                },
                Err(err) => return Ok(Assessment::failed(err.to_string(), facts)),
            }
        }
        None => {
            set_phase("discovering the test listener");
            match discovery::discover(&codedeploy, &elb, &facts, lookups_until).await {
                Ok(target) => {
                    if target.green_target_group.is_none() && !config.readiness_timeout.is_zero() {
                        tracing::warn!(
                            deployment_id,
                            why = "the test listener forwards to no single target group",
                            "readiness gate skipped"
                        );
                    }
                    target
                }
                Err(err) => return Ok(Assessment::failed(err.to_string(), facts)),
            }
        }
    };
    tracing::info!(
        deployment_id,
        target = %without_query(target.url.as_str()),
        listener = target.listener_arn.as_deref(),
        green_target_group = target.green_target_group.as_deref(),
        internal = target.internal,
        "probe target"
    );

    if let Some(group) = &target.green_target_group
        && !config.readiness_timeout.is_zero()
    {
        set_phase("waiting for green targets to be healthy");
        // The configured bound, but never past the work budget: past it the guard would speak
        // instead of the gate, and the health seen would be lost.
        let until = (Instant::now() + config.readiness_timeout).min(lookups_until);
        if let Err(err) = discovery::wait_until_healthy(&elb, group, until).await {
            return Ok(Assessment::failed(err.to_string(), facts).with_target(target.url.as_str()));
        }
    }

    set_phase("probing");
    let samples = probe::run(&setup.http, &target.url, &config.probe, &config.expect).await;
    let verdict = verdict::judge(&samples, &config.thresholds);
    Ok(Assessment::judged(verdict, target.url.as_str(), facts))
}

/// With `TARGET_URL` the probe does not need discovery, but a blue/green deployment group still
/// names green, and its health gates the probe. Lambda and EC2 groups have none: no gate. A gate
/// that cannot be set up says so at warn level; only running out of time is a `Failed`.
async fn green_for_readiness(
    codedeploy: &impl Deployments,
    elb: &impl LoadBalancers,
    facts: &DeploymentFacts,
    config: &Config,
    until: Instant,
) -> Result<Option<String>, Error> {
    if config.readiness_timeout.is_zero() {
        return Ok(None);
    }
    if facts.group.is_none() {
        tracing::warn!(
            why = "the deployment lookup named no deployment group",
            "readiness gate skipped"
        );
        return Ok(None);
    }
    match discovery::green_target_group(codedeploy, elb, facts, until).await {
        Ok(Some(green)) => Ok(Some(green)),
        Ok(None) => {
            tracing::warn!(
                why = "the test listener forwards to no single target group",
                "readiness gate skipped"
            );
            Ok(None)
        }
        // Lambda and EC2 deployment groups: there is no gate to skip.
        Err(Error::NoTestListener { .. }) => {
            tracing::info!("no readiness gate: the deployment group has no test listener");
            Ok(None)
        }
        Err(err @ Error::AwsUnavailable { .. }) => Err(err),
        Err(err) => {
            tracing::warn!(error = %err, "readiness gate skipped");
            Ok(None)
        }
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

/// The one line that carries the verdict and its evidence.
fn log_verdict(deployment_id: &str, a: &Assessment, spent: Duration) {
    let stats = a.stats.clone().unwrap_or_default();
    tracing::info!(
        deployment_id,
        application = a.facts.application.as_deref(),
        deployment_group = a.facts.group.as_deref(),
        verdict = a.status.as_str(),
        reason = a.reason.as_deref(),
        target = a.target.as_deref(),
        requests = stats.requests,
        passed = stats.passed,
        failed = stats.failed,
        outcomes = %stats.outcomes_text(),
        p50_ms = stats.p50_ms,
        p95_ms = stats.p95_ms,
        p99_ms = stats.p99_ms,
        max_ms = stats.max_ms,
        failures = ?stats.failures,
        spent_ms = spent.as_millis() as u64,
        "verdict"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_need_both_ids() {
        let ok = parse_event(json!({"DeploymentId": "d-1", "LifecycleEventHookExecutionId": "e"}));
        assert_eq!(ok.unwrap().deployment_id, "d-1");
        for bad in [
            json!({}),
            json!({"DeploymentId": "d-1"}),
            json!({"DeploymentId": "", "LifecycleEventHookExecutionId": "e"}),
            json!({"DeploymentId": "d-1", "LifecycleEventHookExecutionId": " "}),
            json!({"DeploymentId": 5, "LifecycleEventHookExecutionId": "e"}),
            json!("text"),
            json!(["d-1", "e"]),
        ] {
            assert!(
                matches!(parse_event(bad.clone()), Err(Error::InvalidEvent(_))),
                "{bad}"
            );
        }
    }

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
