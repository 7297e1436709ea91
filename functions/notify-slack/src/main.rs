//! notify-slack: SNS (CodeDeploy triggers, EventBridge, CloudWatch alarms, rollout events) →
//! Slack, through a KMS-encrypted incoming webhook.

use lambda_runtime::service_fn;
use rollout_kit::Env;
use rollout_kit::startup::read_config;

use notify_slack::config::Config;
use notify_slack::handler::{Deps, handle};

// The work is I/O (KMS, Slack) and rendering small messages, so one thread runs it: a
// current-thread runtime starts without spawning workers (about 0.2 ms of init) and its
// wake-ups stay on that thread.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    rollout_kit::startup::init_logging();
    let (config, tls) = read_config(&Env::from_process(), Config::from_env)?;
    let aws = rollout_kit::startup::load_aws_config(&tls).await;
    let deps = Deps::new(config, &aws, &tls)?;
    lambda_runtime::run(service_fn(|event| handle(&deps, event))).await
}
