//! notify-slack as a library: the binary in `main.rs` only wires these modules, and fuzz targets
//! and benchmarks call the pure ones (`sns`, `message`, `render`, `blocks`) directly.

pub mod blocks;
pub mod config;
pub mod delivery;
pub mod error;
/// Properties shared by the fuzz targets in `fuzz/` and their regression tests.
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
pub mod handler;
pub mod message;
pub mod render;
pub mod secret;
pub mod sns;
pub mod status;
pub mod time;
pub mod webhook;
