//! validate-traffic as a library: the binary in `main.rs` only wires these modules, and fuzz
//! targets and benchmarks call the pure ones (`config`, `verdict`) directly; `verdict_probe` is
//! the benchmarks' probe.
//!
//! One invocation, in reading order: `handler` orchestrates; `discovery` finds green and waits
//! for it, `probe` sends the requests, `verdict` judges them, `assessment` words what the hook
//! reports, `report` tells CodeDeploy, `notify` builds the rollout event for the channel.

pub mod assessment;
pub mod config;
pub mod discovery;
pub mod error;
/// Properties shared by the fuzz targets in `fuzz/` and their regression tests.
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
pub mod handler;
/// `handler::handle` driven in-process against an in-memory account and a local green.
#[cfg(test)]
mod in_process;
pub mod notify;
/// The seams to AWS: the SDK clients in Lambda, an in-memory account in the unit tests.
pub mod ports;
pub mod probe;
pub mod redact;
pub mod report;
pub mod verdict;
/// The probe the verdict benchmarks time (`benches/verdict.rs`, `make bench`).
pub mod verdict_probe;
