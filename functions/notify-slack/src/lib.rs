//! notify-slack as a library: the binary in `main.rs` only wires these modules, and fuzz targets
//! and benchmarks call the pure ones (`sns`, `message`, `render`, `blocks`) directly.
//!
//! A message's way to Slack: `sns` unwraps the records (`sqs` when they come through the
//! topic's queue), `message` says what each one is, `status` names its status, `digest` folds
//! the instance events of one deployment into one message, `tone` decides how it looks and
//! whether it mentions, `render` builds the payload from `blocks`, `delivery` posts it through
//! `webhook`.

pub mod blocks;
pub mod config;
pub mod delivery;
pub mod digest;
pub mod error;
/// Properties shared by the fuzz targets in `fuzz/` and their regression tests.
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
pub mod handler;
/// `handler::handle` driven in-process against an in-memory KMS and Slack.
#[cfg(test)]
mod in_process;
pub mod message;
/// The seams to KMS and the webhook: the real clients in Lambda, in-memory ones in the tests.
pub mod ports;
pub mod render;
pub mod secret;
pub mod sns;
pub mod sqs;
pub mod status;
pub mod time;
pub mod tone;
pub mod webhook;
