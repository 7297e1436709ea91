//! The bench's integration tests, one module per area, in one test binary: every binary links
//! the AWS SDKs, so one link instead of nine keeps build time and disk use down.
//! Run one area with a filter, e.g. `cargo test -p rollout-bench --test suite notify_slack::`.
//! The runtime-level tests run the function binaries: `cargo build --workspace --bins` first.

mod bench;
mod demo;
mod fault_matrix;
mod guide;
mod invoke;
mod notify_slack;
mod notify_slack_burst;
mod shift_traffic;
mod shift_traffic_cleanup;
mod shift_traffic_driver;
mod shift_traffic_gates;
mod shift_traffic_safety;
mod shift_traffic_support;
mod template;
mod validate_traffic;
mod validate_traffic_direct;
mod validate_traffic_ecs;
mod validate_traffic_lambda;
mod world;
