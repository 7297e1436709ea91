//! validate-traffic as a library: the binary in `main.rs` only wires these modules, and fuzz
//! targets and benchmarks call the pure ones (`config`, `verdict`) directly; `verdict_probe` is
//! the benchmarks' probe.
//!
//! One invocation, in reading order: `handler` sets the time budget and `hook` tells which engine
//! sent the event. Per engine, how the event is read, how green is found and how the verdict is
//! delivered differ: `codedeploy` (`discovery` finds green through the deployment group's test
//! listener and waits for it, `report` tells CodeDeploy) and `ecs` (ECS built-in deployments:
//! the stage decides, a service revision's listener rule leads to green, the verdict is the
//! return value); the third contract has no engine: `direct` answers a probe request (a URL, a
//! listener or a listener rule, from a state machine running its own rollout) with the verdict as
//! the return value. The rest is one: `probe` sends the requests, `verdict` judges them,
//! `assessment` words the result, `notify` builds the rollout event for the channel.

pub mod assessment;
pub mod codedeploy;
pub mod config;
pub mod direct;
pub mod discovery;
pub mod ecs;
pub mod error;
/// Properties shared by the fuzz targets in `fuzz/` and their regression tests.
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
pub mod handler;
pub mod hook;
/// `handler::handle` driven in-process against an in-memory account and a local green.
#[cfg(test)]
mod in_process;
pub mod lambda;
pub mod notify;
/// The seams to AWS: the SDK clients in Lambda, an in-memory account in the unit tests.
pub mod ports;
pub mod probe;
pub mod redact;
pub mod report;
pub mod verdict;
/// The probe the verdict benchmarks time (`benches/verdict.rs`, `make bench`).
pub mod verdict_probe;
