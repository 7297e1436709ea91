//! validate-traffic as a library: the binary in `main.rs` only wires these modules, and fuzz
//! targets and benchmarks call the pure ones (`config`, `verdict`) directly.
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
pub mod notify;
pub mod probe;
pub mod redact;
pub mod report;
pub mod verdict;
