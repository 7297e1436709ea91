//! The CodeDeploy contract: the hook reads `{"DeploymentId", "LifecycleEventHookExecutionId"}`,
//! finds green through the deployment group's test listener ([`crate::discovery`]) or, in a
//! Lambda deployment, as the function version the AppSpec names ([`crate::lambda`]), and
//! delivers the verdict with `PutLifecycleEventHookExecutionStatus` ([`crate::report`]); the
//! function's return value is only for the log, CodeDeploy ignores it.

use std::sync::{Arc, Mutex};

use aws_lambda_events::event::codedeploy::CodeDeployLifecycleEvent;
use lambda_runtime::Context;
use rollout_kit::{ConfigError, Deadline};
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::assessment::{Assessment, VerdictOf};
use crate::config::Config;
use crate::discovery::{self, DeploymentFacts, Target};
use crate::error::Error;
use crate::handler::{Budget, Deps, Guarded, Setup, guarded};
use crate::lambda;
use crate::notify::rollout_event;
use crate::ports::{Deployments, EventSink, Functions, LoadBalancers, Ports};
use crate::probe;
use crate::report::{self, Reported};
use crate::verdict::{self, without_query};

/// One CodeDeploy hook invocation: assess green under the deadline guard, report exactly once,
/// publish. `Err` only when nothing can be reported (or, after the report, a bad configuration).
pub async fn handle<P: Ports>(
    deps: &Deps<P>,
    hook: CodeDeployLifecycleEvent,
    context: Context,
) -> Result<Value, Error> {
    let deployment_id = hook.deployment_id.as_str();
    let budget = Budget::new(Deadline::from_epoch_ms(context.deadline), deps.margin);
    let Budget {
        started,
        time_left,
        margin,
        work_until,
        lookups_until,
        report_until,
    } = budget;
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
                deps.lambda.clone(),
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

    assessment.log(VerdictOf::CodeDeploy { deployment_id }, started.elapsed());
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
    functions: impl Functions,
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

    // A Lambda deployment's green is a function version: invoked, not probed over HTTP, unless
    // TARGET_URL names an HTTP front (API Gateway, a Function URL) to probe instead.
    if facts.compute_platform.as_deref() == Some(lambda::PLATFORM) && config.target_url.is_none() {
        set_phase("reading the AppSpec");
        let release =
            match lambda::release(facts.revision_type.as_deref(), facts.app_spec.as_deref()) {
                Ok(release) => release,
                Err(err) => return Ok(Assessment::failed(err.to_string(), facts)),
            };
        set_phase("invoking the version under test");
        let tested = lambda::test(&functions, &release, config, lookups_until).await;
        return Ok(Assessment::judged(tested.verdict, &tested.target, facts));
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

    let gate = discovery::readiness_gate(
        &elb,
        target.green_target_group.as_deref(),
        config.readiness_timeout,
        lookups_until,
        || set_phase("waiting for green targets to be healthy"),
    );
    if let Err(err) = gate.await {
        return Ok(Assessment::failed(err.to_string(), facts).with_target(target.url.as_str()));
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
