//! shift-traffic: moves an ALB forward action's weights from a blue to a green target group one
//! gated, verified step per invocation. Step Functions drives the steps and the waits between
//! them (see `statemachine/rollout.asl.json`).

// The step's future nests the generic orchestration deeply; the default limit is too tight to
// compute its layout.
#![recursion_limit = "256"]

use std::time::Duration;

use lambda_runtime::service_fn;
use rollout_kit::startup::{read_config, with_timeouts};
use rollout_kit::{Env, LazyClient};
use shift_traffic::config::Config;
use shift_traffic::{alarms, asg, elb, handler, lease};

// A step's work is AWS calls one after another, never CPU-bound, so one thread runs it:
// a current-thread runtime starts without spawning workers (about 0.2 ms of init) and its
// wake-ups stay on that thread.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    rollout_kit::startup::init_logging();
    let (config, tls) = read_config(&Env::from_process(), Config::from_env)?;
    let sdk = rollout_kit::startup::load_aws_config(&tls).await;
    // A hung call must fail (and be retried) well inside the function's timeout; each step
    // also bounds its calls by the invocation's deadline.
    // Shorter than a step's per-call budget (`elb::CALL_BUDGET`), so a hung attempt is
    // abandoned and retried by the SDK before the step gives up on the call.
    let aws = with_timeouts(&sdk, Duration::from_secs(3), Duration::from_secs(9));
    // Each client is built by the first step that calls its service (a `status` reads the
    // listener only).
    let deps: handler::Deps = handler::Deps {
        elb: elb::Elb::new(LazyClient::from_sdk(
            &aws,
            aws_sdk_elasticloadbalancingv2::Client::new,
        )),
        alarms: alarms::Alarms::new(LazyClient::from_sdk(&aws, aws_sdk_cloudwatch::Client::new)),
        leases: lease::Leases::new(
            LazyClient::from_sdk(&aws, aws_sdk_dynamodb::Client::new),
            config.lease_table_name,
            config.lease_grace,
        ),
        notifier: config.notification_topic_arn.map(|topic| {
            rollout_kit::Publisher::new(LazyClient::from_sdk(&aws, aws_sdk_sns::Client::new), topic)
        }),
        clock: shift_traffic::ports::SystemClock,
        groups: asg::Asg::new(LazyClient::from_sdk(&aws, aws_sdk_autoscaling::Client::new)),
    };
    lambda_runtime::run(service_fn(|event| handler::handle(&deps, event))).await
}
