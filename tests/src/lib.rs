//! The local AWS bench: everything the integration tests and the demo need to run the real
//! function binaries the way Lambda does, with no AWS account and no Docker.
//!
//! - [`moto::Moto`]: moto in server mode on a free 127.0.0.1 port (the AWS emulator).
//! - [`front::AwsFront`]: the endpoint the functions see. It forwards every call to moto, answers
//!   the CodeDeploy operations moto lacks (`PutLifecycleEventHookExecutionStatus`) and, through
//!   [`ecs_fake::EcsFake`], the ECS deployment ones (`DescribeServiceRevisions`,
//!   `DescribeServiceDeployments`), counts calls and injects faults per operation, each in the
//!   real wire protocol of its service.
//! - [`slack::SlackFake`]: a Slack incoming webhook with Slack's answers and error bodies.
//! - [`runtime::LambdaFn`]: a Lambda Runtime API server that runs a compiled `bootstrap` binary
//!   exactly as Lambda does (environment, deadline header, error reporting).
//! - [`target::HttpTarget`]: a local HTTP service playing blue or green, misbehaving on demand.
//! - [`sqs_source::SqsSource`]: a topic delivering to a queue with a redrive policy, polled as
//!   Lambda's SQS event source mapping polls it (batches, window, partial batch responses).
//! - [`asl::Execution`]: runs the rollout state machine's definition state by state.
//! - [`proxy::ForwardProxy`]: maps the emulated load balancers' DNS names to local services for
//!   functions that honour `HTTP_PROXY`.
//! - [`fixtures`]: the 5xx alarm and the webhook's KMS key and ciphertext, for tests, demo and
//!   `make bench` alike.
//!
//! Each bench owns its processes; they stop when it is dropped, so tests run in parallel.

pub mod asl;
pub mod async_invoke;
pub mod bench;
pub mod demo;
pub mod demo_asg;
pub mod demo_ecs;
pub mod ecs_fake;
pub mod ecs_world;
pub mod fixtures;
pub mod front;
pub mod hooks;
pub mod invoke;
pub mod lambda_fake;
pub mod lambda_world;
pub mod moto;
pub mod proxy;
pub mod runtime;
pub mod shift_world;
pub mod slack;
pub mod slack_text;
pub mod sqs_source;
pub mod target;
pub mod world;

pub use bench::{Bench, event, events_in, workspace_root};
pub use front::{AwsCall, AwsFront, Fault, HookReport, SnsPublish};
pub use proxy::ForwardProxy;
pub use runtime::{Invocation, InvokeOutcome, LambdaFn};
pub use slack::{SlackFake, SlackPost, SlackReply};
pub use target::{Behavior, HttpTarget, TargetRequest};

/// Binds a listener on a free 127.0.0.1 port.
pub async fn bind_local() -> tokio::net::TcpListener {
    tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0")
}

/// Serves an axum router on a listener in the background; the task ends with the runtime.
pub fn serve(
    listener: tokio::net::TcpListener,
    router: axum::Router,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    })
}
