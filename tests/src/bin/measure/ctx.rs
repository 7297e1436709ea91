//! The release world every measurement runs in, and starting and invoking a [`Subject`] in it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{Map, Value, json};

use rollout_bench::ecs_world::{self, World as EcsWorld};
use rollout_bench::target::{Behavior, HttpTarget};
use rollout_bench::world::{ALARM, ReleaseWorld, TEST_PORT, create_alarm};
use rollout_bench::{Bench, ForwardProxy, Invocation, InvokeOutcome, LambdaFn};

use crate::subjects::Subject;
use crate::{BenchError, invalid};

/// What the measurements need from the release world.
pub struct Ctx {
    pub bench: Bench,
    pub world: ReleaseWorld,
    pub deployment_id: String,
    pub ciphertext: String,
    pub proxy_url: String,
    pub shift_spec: Value,
    pub slack_event: Value,
    /// An ECS built-in deployment (its ALB rules, revisions and local services) and the
    /// `hookDetails` of a soak one slice in, for the `IN_PROGRESS` round trip.
    pub ecs: EcsWorld,
    pub soak_details: Map<String, Value>,
    invocation: AtomicU64,
    // Held for the whole run: dropping them stops them.
    _green: HttpTarget,
    _proxy: ForwardProxy,
}

/// The release world of the demo: ALB with prod and test listeners, blue and green target
/// groups, CodeDeploy deployment group and deployment, topic, KMS key, the 5xx alarm.
pub async fn setup() -> Ctx {
    let bench = Bench::start().await;
    let config = bench.sdk_config().await;
    let world = ReleaseWorld::create(&config).await;
    let deployment_id = world.create_deployment(&config).await;
    create_alarm(&config).await;
    let ciphertext = world
        .encrypt_webhook(&config, &bench.slack.webhook_url(), Some("notify-slack"))
        .await;

    // Green answers through the forward proxy, as the emulated test listener would.
    let green = HttpTarget::start_with(Behavior::ok("checkout v2 ok")).await;
    let proxy = ForwardProxy::start().await;
    proxy.route(
        &format!("{}:{TEST_PORT}", world.load_balancer_dns),
        green.addr(),
    );
    let proxy_url = proxy.url();

    let shift_spec = json!({
        "listener_arn": world.prod_listener_arn,
        "blue_target_group_arn": world.blue_target_group_arn,
        "green_target_group_arn": world.green_target_group_arn,
        "strategy": "Canary10Percent5Minutes",
        "alarms": [ALARM],
        "health_gate": false,
        "bake_seconds": 300,
        // Five minutes become one second: the same calls, without the waits.
        "time_scale": 1.0 / 300.0,
    });
    let slack_event = rollout_bench::event("notify-slack/codedeploy-deployment-failed.json");
    let (ecs, soak_details) = soak_one_slice_in(&bench).await;
    Ctx {
        bench,
        world,
        deployment_id,
        ciphertext,
        proxy_url,
        shift_spec,
        slack_event,
        ecs,
        soak_details,
        invocation: AtomicU64::new(1),
        _green: green,
        _proxy: proxy,
    }
}

/// The stage the soak round trip is measured at, and its settings: an hour's soak, so every
/// measured callback is answered `IN_PROGRESS` with the totals.
pub const SOAK_STAGE: &str = "POST_PRODUCTION_TRAFFIC_SHIFT";

/// Green under all of production, and the `hookDetails` ECS would call back with after the
/// soak's first slice.
async fn soak_one_slice_in(bench: &Bench) -> (EcsWorld, Map<String, Value>) {
    let world = EcsWorld::create(bench).await;
    world
        .production_listener
        .forward(&[(&world.green_in_production, 100.0)]);
    let mut details = ecs_world::configured();
    details.insert("soakSeconds".into(), json!(3600));
    details.insert("soakIntervalSeconds".into(), json!(10));
    details.insert("probeRequests".into(), json!(4));
    let hook = world.hook(bench).await;
    let first = hook
        .invoke(ecs_world::payload(SOAK_STAGE, None, None, &details))
        .await;
    if let InvokeOutcome::Response(answer) = &first.outcome
        && let Some(returned) = answer["hookDetails"].as_object()
    {
        details.extend(returned.clone());
    }
    (world, details)
}

impl Ctx {
    /// The bench's AWS variables and the subject's own.
    pub fn env(&self, subject: &Subject) -> Vec<(String, String)> {
        let mut env = self.bench.aws_env();
        env.extend(
            (subject.env)(self)
                .into_iter()
                .map(|(k, v)| (k.to_string(), v)),
        );
        env
    }

    /// A fresh event each time: hook executions take one status, SNS message ids are remembered.
    fn event(&self, subject: &Subject) -> Value {
        let n = self.invocation.fetch_add(1, Ordering::Relaxed);
        (subject.event)(self, n)
    }

    /// Checks the invocation did its job, from what reached the bench.
    fn verify(
        &self,
        subject: &Subject,
        invocation: &Invocation,
        posts_before: usize,
    ) -> Result<(), BenchError> {
        let error;
        let response = match (&invocation.outcome, subject.expected_error) {
            (InvokeOutcome::Response(value), None) => value,
            (
                InvokeOutcome::Error {
                    error_type,
                    error_message,
                },
                Some(expected),
            ) if error_type == expected => {
                error = json!({"errorType": error_type, "errorMessage": error_message});
                &error
            }
            (other, _) => {
                return Err(invalid(
                    subject.name,
                    format!("invocation failed: {other:?}"),
                ));
            }
        };
        (subject.check)(self, response, posts_before).map_err(|what| invalid(subject.name, what))
    }

    pub async fn start(&self, subject: &Subject) -> LambdaFn {
        self.start_with(subject, self.env(subject)).await
    }

    pub async fn start_with(&self, subject: &Subject, env: Vec<(String, String)>) -> LambdaFn {
        LambdaFn::start_with_env(subject.binary, LambdaFn::binary_path(subject.binary), env).await
    }

    /// Invokes `lambda` with the subject's next event and checks it did its job.
    pub async fn invoke_checked(
        &self,
        subject: &Subject,
        lambda: &LambdaFn,
    ) -> Result<Invocation, BenchError> {
        let posts_before = self.bench.slack.posts().len();
        let invocation = lambda
            .invoke_with_timeout(self.event(subject), Duration::from_secs(60))
            .await;
        self.verify(subject, &invocation, posts_before)?;
        Ok(invocation)
    }
}
