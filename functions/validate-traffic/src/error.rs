//! The crate's one error type. Displays never carry a secret: header values and response bodies
//! stay out, SDK errors are reduced to `Code: message`.

use lambda_runtime::Diagnostic;
use rollout_kit::{ConfigError, ErrorKind};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The payload is not a CodeDeploy hook event; nothing can be reported.
    #[error("not a CodeDeploy lifecycle hook event: {0}")]
    InvalidEvent(String),
    /// An ECS lifecycle hook payload that cannot be read. Answered `FAILED` with this reason
    /// (ECS rolls back on a missing answer anyway); shares the `InvalidEvent` kind.
    #[error("not a valid ECS lifecycle hook event: {0}")]
    InvalidEcsEvent(String),
    /// A direct probe request (`{"probe": {…}}`) whose shape is wrong: no target or two, a value
    /// of the wrong type, an unknown key. An error, not a verdict: the caller's wiring is wrong,
    /// not green. Shares the `InvalidEvent` kind; never carries a value, only key names.
    #[error("not a valid probe request: {0}")]
    InvalidProbeRequest(String),
    /// CodeDeploy does not know the deployment; a report would be refused too.
    #[error("deployment {0} does not exist")]
    DeploymentNotFound(String),
    /// Reported `Failed`; the invocation still ends in an error so the misconfiguration shows.
    #[error("invalid configuration (reported Failed): {0}")]
    InvalidConfig(#[from] ConfigError),
    #[error("{step} failed: {summary}")]
    Aws { step: &'static str, summary: String },
    /// Every attempt met a transient error (throttling, 5xx, no answer) until the work budget
    /// ran out; `last` is the last error seen, so the report names the cause.
    #[error("{step} still failing when the time ran out ({attempts} attempts): {last}")]
    AwsUnavailable {
        step: &'static str,
        attempts: u32,
        last: String,
    },
    #[error(
        "deployment group {group} has no test listener \
         (loadBalancerInfo.targetGroupPairInfoList[].testTrafficRoute) and TARGET_URL is not set"
    )]
    NoTestListener { group: String },
    #[error("the test listener cannot be used: {0}")]
    BadListener(String),
    /// ECS built-in deployments: the service revision names no listener rule for the route the
    /// stage probes.
    #[error(
        "service revision {revision} has no {field} in loadBalancers[].advancedConfiguration \
         and TARGET_URL is not set"
    )]
    NoListenerRule {
        revision: String,
        field: &'static str,
    },
    /// ECS built-in deployments: the listener behind the route's rule cannot be probed (shares
    /// the `BadListener` kind).
    #[error("the {route} listener cannot be used: {detail}")]
    BadRouteListener { route: &'static str, detail: String },
    /// DescribeServiceRevisions does not know the deployment's target revision.
    #[error("service revision {arn} not found: {reason}")]
    ServiceRevisionNotFound { arn: String, reason: String },
    /// The listener rule matches on something a probe request cannot be made to satisfy.
    #[error("the listener rule cannot be matched by the probe: {0}")]
    UnmatchableRule(String),
    /// A CodeDeploy Lambda deployment whose AppSpec does not say what to test.
    #[error("the deployment's AppSpec cannot be used: {0}")]
    InvalidAppSpec(String),
    #[error("green targets not healthy after {waited_ms} ms: {health}")]
    NotReady { waited_ms: u64, health: String },
    #[error("CodeDeploy rejected the hook status: {0}")]
    ReportRejected(String),
    #[error("the hook status could not be delivered before the deadline: {0}")]
    ReportNotDelivered(String),
}

impl ErrorKind for Error {
    fn kind(&self) -> &'static str {
        match self {
            Error::InvalidEvent(_) | Error::InvalidEcsEvent(_) | Error::InvalidProbeRequest(_) => {
                "InvalidEvent"
            }
            Error::DeploymentNotFound(_) => "DeploymentNotFound",
            Error::InvalidConfig(_) => "InvalidConfig",
            Error::Aws { .. } => "AwsError",
            Error::AwsUnavailable { .. } => "AwsUnavailable",
            Error::NoTestListener { .. } => "NoTestListener",
            Error::BadListener(_) | Error::BadRouteListener { .. } => "BadListener",
            Error::NoListenerRule { .. } => "NoListenerRule",
            Error::ServiceRevisionNotFound { .. } => "ServiceRevisionNotFound",
            Error::UnmatchableRule(_) => "UnmatchableRule",
            Error::InvalidAppSpec(_) => "InvalidAppSpec",
            Error::NotReady { .. } => "GreenNotReady",
            Error::ReportRejected(_) => "ReportRejected",
            Error::ReportNotDelivered(_) => "ReportNotDelivered",
        }
    }
}

impl From<Error> for Diagnostic {
    fn from(err: Error) -> Diagnostic {
        rollout_kit::diagnostic(&err)
    }
}
