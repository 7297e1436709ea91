//! The direct contract: no deployment engine. A caller that runs its own rollout (the state
//! machine, before the first shift and after each step) invokes the function with a probe request
//! and reads the verdict from the return value; CodeDeploy and ECS are never called. Split as the
//! engines are:
//!
//! - how the request is read: [`request`] (`{"probe": {"target_url" | "listener_arn" |
//!   "rule_arn", "settings"}, "rollout_id"}`); the settings are ECS `hookDetails` settings,
//!   checked as the variables are ([`crate::ecs::settings`]);
//! - how green is found: a URL as given, a listener through [`crate::discovery::listener_target`]
//!   (and its readiness gate), a listener rule through [`crate::ecs::discovery::via_rule`] and
//!   [`crate::ecs::route`] (requests that meet its conditions);
//! - how the verdict is delivered: [`answer`] (the return value) and one rollout event.
//!
//! A malformed request is an error ([`Error::InvalidProbeRequest`]): the caller's wiring is wrong,
//! and the state machine catches it. Everything after that (a bad setting, an unknown listener,
//! an unmatchable rule, a failing lookup, a panic, the deadline guard) is a `Failed` verdict
//! with the reason, answered before the deadline.

pub mod answer;
pub mod request;

use std::sync::{Arc, Mutex};

use lambda_runtime::Context;
use reqwest::Url;
use rollout_kit::{ConfigError, Deadline, Env};
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::assessment::{Assessment, VerdictOf};
use crate::config::Config;
use crate::discovery::{self, DeploymentFacts};
use crate::ecs::{self, settings::HookSettings};
use crate::error::Error;
use crate::handler::{Budget, Deps, Guarded, Setup, guarded};
use crate::notify::rollout_event;
use crate::ports::{EventSink, LoadBalancers, Ports};
use crate::probe;
use crate::verdict::{self, without_query};
use request::{DirectTarget, ProbeRequest};

/// How logs and the rollout event name a request without a `rollout_id`.
pub const UNNAMED: &str = "direct";
/// How a listener rule's errors name the route.
const ROUTE: &str = "requested";

/// One probe request: the verdict as the return value, or `Err` for a malformed request.
pub async fn handle<P: Ports>(
    deps: &Deps<P>,
    payload: Value,
    context: Context,
) -> Result<Value, Error> {
    let request = request::parse(&payload).map_err(Error::InvalidProbeRequest)?;
    let budget = Budget::new(Deadline::from_epoch_ms(context.deadline), deps.margin);
    let label = request
        .rollout_id
        .clone()
        .unwrap_or_else(|| UNNAMED.to_string());
    tracing::info!(
        rollout_id = label,
        target_key = request.target.key(),
        target_arn = request.target.arn(),
        settings = %request.settings.keys().cloned().collect::<Vec<_>>().join(","),
        request_id = %context.request_id,
        time_left_ms = budget.time_left.as_millis() as u64,
        margin_ms = budget.margin.as_millis() as u64,
        "probe request"
    );

    let assessment = match &deps.setup {
        Err(err) => {
            tracing::error!(rollout_id = label, error = %err, "invalid configuration");
            Assessment::invalid_config(err)
        }
        Ok(setup) => match settings(&setup.env, &request) {
            Err(err) => {
                tracing::error!(rollout_id = label, error = %err, "invalid probe settings");
                Assessment::failed(
                    format!("invalid configuration: {err}"),
                    DeploymentFacts::default(),
                )
            }
            Ok(settings) => assess_guarded(deps, setup.clone(), settings, request, budget).await,
        },
    };

    assessment.log(
        VerdictOf::Direct { rollout_id: &label },
        budget.started.elapsed(),
    );
    let topic = deps
        .setup
        .as_ref()
        .ok()
        .and_then(|s| s.config.topic_arn.as_deref());
    if let Some(topic) = topic {
        let left = budget
            .report_until
            .saturating_duration_since(Instant::now());
        deps.sns
            .publish_within(topic, &rollout_event(&label, &assessment), left)
            .await;
    }
    Ok(answer::answer(&assessment))
}

/// The function's variables with the request's settings, checked as at cold start; errors name
/// the request's keys (`probe.settings.maxP95Ms`, `probe.target_url`), never a value. A listener
/// or rule target turns a configured `TARGET_URL` off: the request says where green is.
fn settings(env: &Env, request: &ProbeRequest) -> Result<HookSettings, ConfigError> {
    let mut details = request.settings.clone();
    let url = match &request.target {
        DirectTarget::Url(url) => url.clone(),
        DirectTarget::Listener(_) | DirectTarget::Rule(_) => String::new(),
    };
    details.insert("targetUrl".into(), json!(url));
    ecs::settings::settings(env, &details).map_err(|err| {
        let var = match err.var.strip_prefix("hookDetails.") {
            Some("targetUrl") => format!("probe.{}", request::TARGET_URL),
            Some(key) => format!("probe.settings.{key}"),
            None => err.var.clone(),
        };
        ConfigError::new(&var, err.reason)
    })
}

/// The lookups and the probe in their own task, stopped by the deadline guard.
async fn assess_guarded<P: Ports>(
    deps: &Deps<P>,
    setup: Arc<Setup>,
    settings: HookSettings,
    request: ProbeRequest,
    budget: Budget,
) -> Assessment {
    let phase = Arc::new(Mutex::new("starting"));
    let work = assess(
        setup,
        settings.config,
        deps.elb.clone(),
        request.target,
        phase.clone(),
        budget.lookups_until,
    );
    match guarded(work, budget.work_until).await {
        Guarded::Done(assessment) => assessment,
        Guarded::Panicked => Assessment::panicked(),
        Guarded::DeadlineReached => {
            let phase = *phase.lock().unwrap_or_else(|p| p.into_inner());
            Assessment::deadline_reached(budget.margin, phase)
        }
    }
}

async fn assess(
    setup: Arc<Setup>,
    config: Config,
    elb: impl LoadBalancers,
    target: DirectTarget,
    phase: Arc<Mutex<&'static str>>,
    lookups_until: Instant,
) -> Assessment {
    let set_phase = |name: &'static str| *phase.lock().unwrap_or_else(|p| p.into_inner()) = name;
    let failed = |err: Error| Assessment::failed(err.to_string(), DeploymentFacts::default());
    let mut spec = config.probe.clone();
    let url: Url = match target {
        DirectTarget::Url(_) => match &config.target_url {
            Some(url) => url.clone(),
            // The settings put the request's URL there; only an empty one is missing.
            None => {
                return failed(Error::InvalidProbeRequest(
                    "probe.target_url is empty".into(),
                ));
            }
        },
        DirectTarget::Listener(arn) => {
            set_phase("looking up the listener");
            let target = match discovery::listener_target(&elb, &arn, lookups_until).await {
                Ok(target) => target,
                Err(err) => return failed(err),
            };
            tracing::info!(
                target = %without_query(target.url.as_str()),
                listener = %arn,
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
                return failed(err).with_target(target.url.as_str());
            }
            target.url
        }
        DirectTarget::Rule(arn) => {
            set_phase("looking up the listener rule");
            let target = match ecs::discovery::via_rule(&elb, arn, ROUTE, lookups_until).await {
                Ok(target) => target,
                Err(err) => return failed(err),
            };
            if let Err(err) = ecs::discovery::aim(&mut spec, &target, None) {
                return failed(err).with_target(target.url.as_str());
            }
            target.url
        }
    };
    set_phase("probing");
    let samples = probe::run(&setup.http, &url, &spec, &config.expect).await;
    let verdict = verdict::judge(&samples, &config.thresholds);
    Assessment::judged(verdict, url.as_str(), DeploymentFacts::default())
}
