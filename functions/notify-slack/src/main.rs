//! notify-slack: SNS (CodeDeploy triggers, EventBridge, CloudWatch alarms, rollout events) →
//! Slack, through a KMS-encrypted incoming webhook.

use lambda_runtime::service_fn;
use rollout_kit::{Env, Tls};

use notify_slack::config::Config;
use notify_slack::handler::{Deps, handle};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    rollout_kit::startup::init_logging();
    let env = Env::from_process();
    let (config, tls) = Config::from_env(&env)
        .and_then(|config| Ok((config, Tls::from_env(&env)?)))
        .inspect_err(|e| {
            tracing::error!(error = %e, "invalid configuration");
        })?;
    let aws = rollout_kit::startup::load_aws_config(&tls).await;
    let deps = Deps::new(config, &aws, &tls)?;
    lambda_runtime::run(service_fn(|event| handle(&deps, event))).await
}
