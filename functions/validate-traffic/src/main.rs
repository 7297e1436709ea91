//! validate-traffic: the CodeDeploy lifecycle hook that sends test traffic to the green version,
//! judges it against thresholds and always reports the verdict before its deadline.

// The invocation's future nests the generic lookups (`ports`) deeply; the default limit is too
// tight to compute its layout.
#![recursion_limit = "256"]

use lambda_runtime::{LambdaEvent, service_fn};
use rollout_kit::{Env, Tls};
use serde_json::Value;
use validate_traffic::{config, handler};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    rollout_kit::startup::init_logging();
    // Only the variables this function documents are read.
    let values: Vec<(&str, String)> = config::VARS
        .iter()
        .filter_map(|var| std::env::var(var).ok().map(|value| (*var, value)))
        .collect();
    let env = Env::from_pairs(values.iter().map(|(var, value)| (*var, value.as_str())));
    let tls = Tls::from_env(&env);
    // An unusable SSL_CERT_FILE is reported per invocation like any bad setting; reporting it
    // to CodeDeploy needs only the public roots.
    let sdk = match &tls {
        Ok(tls) => rollout_kit::startup::load_aws_config(tls).await,
        Err(_) => rollout_kit::startup::load_aws_config(&Tls::public_roots()).await,
    };
    let deps = handler::Deps::new(&env, &sdk, tls.as_ref());
    if let Err(err) = &deps.setup {
        // Not fatal: each invocation reports Failed with this reason instead of hanging the hook.
        tracing::error!(error = %err, "invalid configuration");
    }
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        handler::handle(&deps, event)
    }))
    .await
}
