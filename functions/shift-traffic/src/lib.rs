//! shift-traffic as a library: the binary in `main.rs` only wires these modules, and fuzz
//! targets and benchmarks call the pure ones (`spec`, `plan`) directly.

pub mod actions;
pub mod alarms;
pub mod approval;
pub mod asg;
pub mod config;
pub mod decide;
pub mod elb;
pub mod error;
/// Properties shared by the fuzz targets in `fuzz/` and their regression tests.
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
pub mod gates;
pub mod handler;
/// `handler::handle` driven in-process through the `ports` seams.
#[cfg(test)]
mod in_process;
pub mod lease;
pub mod notify;
pub mod observe;
pub mod output;
pub mod pause;
pub mod plan;
pub mod ports;
pub mod requests;
pub mod rollback;
pub mod scale_down;
pub mod shift;
pub mod spec;
pub mod strategy;
pub mod waits;
pub mod watch;
