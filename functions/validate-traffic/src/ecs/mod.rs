//! The ECS built-in deployments contract (deployment controller `ECS`, strategies BLUE_GREEN,
//! LINEAR and CANARY). ECS invokes the hook synchronously at the lifecycle stages it is attached
//! to and reads the return value; it never hears from CodeDeploy. Split as the CodeDeploy path is:
//!
//! - how the event is read: [`event`], and [`settings`] for the hook's own `hookDetails`;
//! - what the stage asks for: [`stage`] (one pure function, one test per stage);
//! - how green is found: [`discovery`] (service revision → listener rule → listener → load
//!   balancer) and [`route`] (requests that meet the rule's conditions);
//! - how the verdict is delivered: [`response`] (the return value) and [`soak`] (`IN_PROGRESS`
//!   with running totals).
//!
//! The probe ([`crate::probe`]) and the judge ([`crate::verdict`]) are the CodeDeploy path's.
//! Every path answers with a well-formed `hookStatus`: a malformed event, a bad setting, a failed
//! lookup, a panic and the deadline guard are `FAILED` with the reason, never an error.

pub mod discovery;
pub mod event;
pub mod response;
pub mod route;
pub mod settings;
pub mod soak;
pub mod stage;

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lambda_runtime::Context;
use reqwest::Url;
use rollout_kit::Deadline;
use serde_json::Value;
use tokio::time::Instant;

use crate::assessment::{Assessment, VerdictOf};
use crate::config::Config;
use crate::discovery::DeploymentFacts;
use crate::error::Error;
use crate::handler::{Budget, Deps, Guarded, Setup, guarded};
use crate::notify::rollout_event;
use crate::ports::{EventSink, LoadBalancers, Ports, ServiceRevisions};
use crate::probe;
use crate::verdict::{self, Sample};
use event::{EcsHookEvent, Stage};
use response::{EcsAnswer, EcsStatus};
use settings::HookSettings;
use soak::Step;
use stage::{Action, Policy, Route};

/// One ECS hook invocation: always a well-formed answer.
pub async fn handle<P: Ports>(deps: &Deps<P>, payload: Value, context: Context) -> Value {
    let budget = Budget::new(Deadline::from_epoch_ms(context.deadline), deps.margin);
    let request_id = context.request_id.as_str();
    let event = match event::parse(&payload) {
        Ok(event) => event,
        Err(reason) => {
            let err = Error::InvalidEcsEvent(reason);
            tracing::error!(request_id, error = %err, "ECS hook event not readable; answering FAILED");
            let details = payload
                .get("hookDetails")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            return EcsAnswer::without_probe(EcsStatus::Failed, None, &err.to_string())
                .to_json(&details);
        }
    };
    let stage = event.stage.as_str();
    tracing::info!(
        stage,
        service = event.service_name().as_deref(),
        deployment = event.resource_arn.as_deref(),
        request_id,
        time_left_ms = budget.time_left.as_millis() as u64,
        margin_ms = budget.margin.as_millis() as u64,
        "ECS lifecycle hook"
    );
    let answer = answer(deps, &event, budget).await;
    tracing::info!(
        stage,
        hook_status = answer.status.as_str(),
        callback_delay_s = answer.callback_delay.map(|d| d.as_secs()),
        reason = answer.reason(),
        "ECS hook answered"
    );
    answer.to_json(&event.hook_details)
}

async fn answer<P: Ports>(deps: &Deps<P>, event: &EcsHookEvent, budget: Budget) -> EcsAnswer {
    let stage = event.stage;
    let decide = |policy| {
        stage::decide(
            stage,
            event.target_revision_arn.as_deref(),
            &event.test_weights,
            &event.production_weights,
            policy,
        )
    };
    // A rollback first: no setting, lookup or probe may stand in its way.
    if decide(Policy::default()) == Action::Rollback {
        return rollback(stage);
    }
    let setup = match &deps.setup {
        Ok(setup) => setup.clone(),
        Err(err) => {
            tracing::error!(stage = stage.as_str(), error = %err, "invalid configuration");
            let reason = Assessment::invalid_config(err).reason.unwrap_or_default();
            return EcsAnswer::without_probe(EcsStatus::Failed, Some(stage), &reason);
        }
    };
    let settings = match settings::settings(&setup.env, &event.hook_details) {
        Ok(settings) => settings,
        Err(err) => {
            tracing::error!(stage = stage.as_str(), error = %err, "invalid hookDetails");
            let reason = format!("invalid configuration: {err}");
            return EcsAnswer::without_probe(EcsStatus::Failed, Some(stage), &reason);
        }
    };
    if !settings.applied.is_empty() {
        tracing::info!(keys = %settings.applied.join(","), "hookDetails settings applied");
    }
    if !settings.ignored.is_empty() {
        tracing::warn!(keys = %settings.ignored.join(","), "hookDetails keys ignored: not settings");
    }
    match decide(settings.policy) {
        Action::Rollback => rollback(stage),
        Action::Pass(why) => EcsAnswer::without_probe(EcsStatus::Succeeded, Some(stage), why),
        Action::Probe(route) => probe_stage(deps, setup, settings, event, route, budget).await,
    }
}

fn rollback(stage: Stage) -> EcsAnswer {
    EcsAnswer::without_probe(
        EcsStatus::Succeeded,
        Some(stage),
        "rollback: ECS is moving traffic back to the source revision; not probed",
    )
}

/// What the guarded work gives back.
struct Probed {
    assessment: Assessment,
    /// The counted requests, when the probe ran (a soak adds them to its totals).
    samples: Option<Vec<Sample>>,
    /// Where they went.
    url: Option<Url>,
}

impl Probed {
    fn failed(assessment: Assessment) -> Probed {
        Probed {
            assessment,
            samples: None,
            url: None,
        }
    }
}

async fn probe_stage<P: Ports>(
    deps: &Deps<P>,
    setup: Arc<Setup>,
    settings: HookSettings,
    event: &EcsHookEvent,
    route: Route,
    budget: Budget,
) -> EcsAnswer {
    let stage = event.stage;
    let phase = Arc::new(Mutex::new("starting"));
    let work = assess(
        setup.clone(),
        settings.config.clone(),
        deps.ecs.clone(),
        deps.elb.clone(),
        event.target_revision_arn.clone(),
        route,
        phase.clone(),
        budget.lookups_until,
    );
    let probed = match guarded(work, budget.work_until).await {
        Guarded::Done(probed) => probed,
        Guarded::Panicked => Probed::failed(Assessment::panicked()),
        Guarded::DeadlineReached => {
            let phase = *phase.lock().unwrap_or_else(|p| p.into_inner());
            Probed::failed(Assessment::deadline_reached(budget.margin, phase))
        }
    };

    let (assessment, answer) = match (settings.soak, &probed.samples) {
        (Some(soak), Some(samples)) => {
            let key = soak::key(event, route);
            let now = epoch_ms();
            let earlier = soak::load(&event.hook_details, &key, now, soak);
            let url = probed.url.as_ref().map(Url::as_str).unwrap_or_default();
            match soak::step(
                earlier,
                key,
                now,
                soak,
                samples,
                &settings.config.thresholds,
            ) {
                Step::Continue(totals) => {
                    log_soak(stage, &totals, now, soak.duration);
                    return EcsAnswer::in_progress(stage, &totals, soak.interval);
                }
                Step::FailedEarly { mut slice, totals } => {
                    log_soak(stage, &totals, now, soak.duration);
                    let reasons = slice.reasons.join("; ");
                    slice.reasons = vec![format!("soak slice {} failed: {reasons}", totals.slices)];
                    let a = Assessment::judged(slice, url, DeploymentFacts::default());
                    let answer = EcsAnswer::judged(stage, &a, Some(&totals));
                    (a, answer)
                }
                Step::Done { verdict, totals } => {
                    log_soak(stage, &totals, now, soak.duration);
                    let a = Assessment::judged(verdict, url, DeploymentFacts::default());
                    let answer = EcsAnswer::judged(stage, &a, Some(&totals));
                    (a, answer)
                }
            }
        }
        _ => {
            let answer = EcsAnswer::judged(stage, &probed.assessment, None);
            (probed.assessment, answer)
        }
    };

    let label = deployment_label(event);
    assessment.log(
        VerdictOf::Ecs {
            label: &label,
            stage: stage.as_str(),
        },
        budget.started.elapsed(),
    );
    if let Some(topic) = setup.config.topic_arn.as_deref() {
        let left = budget
            .report_until
            .saturating_duration_since(Instant::now());
        deps.sns
            .publish_within(topic, &rollout_event(&label, &assessment), left)
            .await;
    }
    answer
}

/// Discovery (unless a URL is configured), the rule's conditions, the probe and the verdict, in
/// the guarded task.
#[allow(clippy::too_many_arguments)]
async fn assess(
    setup: Arc<Setup>,
    config: Config,
    ecs: impl ServiceRevisions,
    elb: impl LoadBalancers,
    target_revision: Option<String>,
    route: Route,
    phase: Arc<Mutex<&'static str>>,
    lookups_until: Instant,
) -> Probed {
    let set_phase = |name: &'static str| *phase.lock().unwrap_or_else(|p| p.into_inner()) = name;
    let failed = |err: Error| {
        Probed::failed(Assessment::failed(
            err.to_string(),
            DeploymentFacts::default(),
        ))
    };
    let mut spec = config.probe.clone();
    let url = match &config.target_url {
        Some(url) => url.clone(),
        None => {
            let Some(revision) = target_revision else {
                return failed(Error::InvalidEcsEvent(
                    "executionDetails.targetServiceRevisionArn is missing; it names green".into(),
                ));
            };
            set_phase(match route {
                Route::Test => "discovering the test listener rule",
                Route::Production => "discovering the production listener rule",
            });
            let target =
                match discovery::discover(&ecs, &elb, &revision, route, lookups_until).await {
                    Ok(target) => target,
                    Err(err) => return failed(err),
                };
            if let Err(err) =
                discovery::aim(&mut spec, &target, Some(discovery::route_label(route)))
            {
                return failed(err);
            }
            target.url
        }
    };
    set_phase("probing");
    let samples = probe::run(&setup.http, &url, &spec, &config.expect).await;
    let verdict = verdict::judge(&samples, &config.thresholds);
    Probed {
        assessment: Assessment::judged(verdict, url.as_str(), DeploymentFacts::default()),
        samples: Some(samples),
        url: Some(url),
    }
}

/// How logs and the channel name the deployment: the service and the stage.
fn deployment_label(event: &EcsHookEvent) -> String {
    let service = event
        .service_name()
        .unwrap_or_else(|| "ECS service".to_string());
    format!("{service} at {}", event.stage.as_str())
}

fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

fn log_soak(stage: Stage, totals: &soak::SoakState, now_ms: u64, soak: Duration) {
    let elapsed = Duration::from_millis(now_ms.saturating_sub(totals.started_ms));
    tracing::info!(
        stage = stage.as_str(),
        slice = totals.slices,
        requests = totals.requests,
        passed = totals.passed,
        failed = totals.failed,
        outcomes = %totals.outcomes_text(),
        elapsed_s = elapsed.as_secs(),
        soak_s = soak.as_secs(),
        "soak slice"
    );
}
