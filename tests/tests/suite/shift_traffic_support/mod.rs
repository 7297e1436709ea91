//! What the shift-traffic tests share lives in the bench library (`make bench` measures the
//! state machine in the same world).

pub use rollout_bench::shift_world::*;
