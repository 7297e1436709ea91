//! What the rollout-lambdas functions share: cold-start setup (logging, AWS config), typed
//! environment configuration, the mapping of errors to Lambda diagnostics, and the rollout-event
//! schema that validate-traffic and shift-traffic publish and notify-slack renders; and one
//! vocabulary for deadlines, retries of transient AWS errors and bounded publishes.

pub mod config;
pub mod corpus;
pub mod deadline;
pub mod diagnostic;
pub mod event;
pub mod publish;
pub mod retry;
pub mod sdk_http;
pub mod startup;
pub mod tls;

pub use config::{ConfigError, Env};
pub use deadline::{Deadline, Margin};
pub use diagnostic::{ErrorKind, diagnostic, sdk_error_summary};
pub use event::{
    ApprovalDetail, HookStatus, Outcome, RolloutDetail, RolloutEvent, ScaleDownDetail, ShiftDetail,
    ShiftStatus, ValidationDetail, step_label,
};
pub use publish::{PUBLISH_TIMEOUT, PublishFailed, Publisher};
pub use startup::LazyClient;
pub use tls::Tls;
