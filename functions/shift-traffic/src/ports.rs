//! The seams between the orchestration and the outside world. `handler` talks to these traits;
//! `Aws` plugs in the real adapters (ELBv2, CloudWatch, DynamoDB, SNS), and the unit tests plug
//! in an in-memory account, so every path of a step (drift, gates, a lost lease, throttling, a
//! deadline) runs in-process without an emulator.

use std::future::Future;
use std::time::Duration;

use aws_sdk_elasticloadbalancingv2::types::Action;
use rollout_kit::RolloutEvent;
use tokio::time::Instant;

use crate::error::Error;
use crate::gates::{AlarmState, HealthCounts};
use crate::lease::{Lease, Request, RequestKind};
use crate::scale_down::GroupView;
use crate::spec::Target;

/// The listener's (or rule's) action list, and green's health.
pub trait Listeners: Send + Sync {
    fn read_actions(
        &self,
        target: &Target,
        until: Instant,
    ) -> impl Future<Output = Result<Vec<Action>, Error>> + Send;
    fn write_actions(
        &self,
        target: &Target,
        actions: &[Action],
        until: Instant,
    ) -> impl Future<Output = Result<(), Error>> + Send;
    fn target_health(
        &self,
        target: &Target,
        target_group_arn: &str,
        until: Instant,
    ) -> impl Future<Output = Result<HealthCounts, Error>> + Send;
    /// The ids of the targets registered in a target group (instances, IPs, functions).
    fn target_ids(
        &self,
        target_group_arn: &str,
        until: Instant,
    ) -> impl Future<Output = Result<Vec<String>, Error>> + Send;
    /// `deregistration_delay.timeout_seconds` of a target group.
    fn deregistration_delay(
        &self,
        target_group_arn: &str,
        until: Instant,
    ) -> impl Future<Output = Result<u64, Error>> + Send;
}

/// Auto Scaling groups, for the clean-up after a completed rollout.
pub trait ScalingGroups: Send + Sync {
    /// `None`: no group has that name.
    fn describe(
        &self,
        name: &str,
        until: Instant,
    ) -> impl Future<Output = Result<Option<GroupView>, Error>> + Send;
    fn set_capacity(
        &self,
        name: &str,
        desired: i32,
        min: i32,
        until: Instant,
    ) -> impl Future<Output = Result<(), Error>> + Send;
}

/// The watched alarms. Inner `Err`: the service refused (the caller decides whether that
/// stops the rollout); outer `Err`: no answer in time.
pub trait AlarmSource: Send + Sync {
    fn states(
        &self,
        names: &[String],
        until: Instant,
    ) -> impl Future<Output = Result<Result<Vec<AlarmState>, String>, Error>> + Send;
}

/// The lock table.
pub trait LeaseStore: Send + Sync {
    fn hold_for(&self, wait_seconds: u64) -> Duration;
    fn acquire(
        &self,
        target: &str,
        holder: &str,
        hold_for: Duration,
        until: Instant,
    ) -> impl Future<Output = Result<Lease, Error>> + Send;
    fn take_over(
        &self,
        target: &str,
        holder: &str,
        hold_for: Duration,
        until: Instant,
    ) -> impl Future<Output = Result<Lease, Error>> + Send;
    /// Extends the lease while it is ours, handing back a pending promote or abort.
    fn renew(
        &self,
        target: &str,
        lease: &Lease,
        hold_for: Duration,
        until: Instant,
    ) -> impl Future<Output = Result<Option<Request>, Error>> + Send;
    fn release(
        &self,
        target: &str,
        lease: &Lease,
        until: Instant,
    ) -> impl Future<Output = Result<(), Error>> + Send;
    /// Records a person's promote or abort for the rollout holding a live lease.
    fn request(
        &self,
        target: &str,
        rollout: Option<&str>,
        kind: RequestKind,
        reason: &str,
        until: Instant,
    ) -> impl Future<Output = Result<Lease, Error>> + Send;
}

/// Wall-clock time, for when a wait ends (Step Functions waits in real seconds).
pub trait Clock: Send + Sync {
    fn now_ms(&self) -> u64;
}

/// Where rollout events go. Best effort: the result is only logged.
pub trait EventSink: Send + Sync {
    fn publish_within(
        &self,
        event: &RolloutEvent,
        limit: Duration,
    ) -> impl Future<Output = ()> + Send;
}

/// A set of adapters.
pub trait Ports: 'static {
    type Listeners: Listeners;
    type Alarms: AlarmSource;
    type Leases: LeaseStore;
    type Events: EventSink;
    type Clock: Clock;
    type Groups: ScalingGroups;
}

/// The real ones.
pub struct Aws;

impl Ports for Aws {
    type Listeners = crate::elb::Elb;
    type Alarms = crate::alarms::Alarms;
    type Leases = crate::lease::Leases;
    type Events = rollout_kit::Publisher;
    type Clock = SystemClock;
    type Groups = crate::asg::Asg;
}

/// The machine's clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        crate::lease::now_ms()
    }
}

impl Listeners for crate::elb::Elb {
    async fn read_actions(&self, target: &Target, until: Instant) -> Result<Vec<Action>, Error> {
        crate::elb::Elb::read_actions(self, target, until).await
    }

    async fn write_actions(
        &self,
        target: &Target,
        actions: &[Action],
        until: Instant,
    ) -> Result<(), Error> {
        crate::elb::Elb::write_actions(self, target, actions, until).await
    }

    async fn target_health(
        &self,
        target: &Target,
        target_group_arn: &str,
        until: Instant,
    ) -> Result<HealthCounts, Error> {
        crate::elb::Elb::target_health(self, target, target_group_arn, until).await
    }

    async fn target_ids(
        &self,
        target_group_arn: &str,
        until: Instant,
    ) -> Result<Vec<String>, Error> {
        crate::elb::Elb::target_ids(self, target_group_arn, until).await
    }

    async fn deregistration_delay(
        &self,
        target_group_arn: &str,
        until: Instant,
    ) -> Result<u64, Error> {
        crate::elb::Elb::deregistration_delay(self, target_group_arn, until).await
    }
}

impl ScalingGroups for crate::asg::Asg {
    async fn describe(&self, name: &str, until: Instant) -> Result<Option<GroupView>, Error> {
        crate::asg::Asg::describe(self, name, until).await
    }

    async fn set_capacity(
        &self,
        name: &str,
        desired: i32,
        min: i32,
        until: Instant,
    ) -> Result<(), Error> {
        crate::asg::Asg::set_capacity(self, name, desired, min, until).await
    }
}

impl AlarmSource for crate::alarms::Alarms {
    async fn states(
        &self,
        names: &[String],
        until: Instant,
    ) -> Result<Result<Vec<AlarmState>, String>, Error> {
        crate::alarms::Alarms::states(self, names, until).await
    }
}

impl LeaseStore for crate::lease::Leases {
    fn hold_for(&self, wait_seconds: u64) -> Duration {
        crate::lease::Leases::hold_for(self, wait_seconds)
    }

    async fn acquire(
        &self,
        target: &str,
        holder: &str,
        hold_for: Duration,
        until: Instant,
    ) -> Result<Lease, Error> {
        crate::lease::Leases::acquire(self, target, holder, hold_for, until).await
    }

    async fn take_over(
        &self,
        target: &str,
        holder: &str,
        hold_for: Duration,
        until: Instant,
    ) -> Result<Lease, Error> {
        crate::lease::Leases::take_over(self, target, holder, hold_for, until).await
    }

    async fn renew(
        &self,
        target: &str,
        lease: &Lease,
        hold_for: Duration,
        until: Instant,
    ) -> Result<Option<Request>, Error> {
        crate::lease::Leases::renew(self, target, lease, hold_for, until).await
    }

    async fn release(&self, target: &str, lease: &Lease, until: Instant) -> Result<(), Error> {
        crate::lease::Leases::release(self, target, lease, until).await
    }

    async fn request(
        &self,
        target: &str,
        rollout: Option<&str>,
        kind: RequestKind,
        reason: &str,
        until: Instant,
    ) -> Result<Lease, Error> {
        crate::lease::Leases::request(self, target, rollout, kind, reason, until).await
    }
}

impl EventSink for rollout_kit::Publisher {
    async fn publish_within(&self, event: &RolloutEvent, limit: Duration) {
        // Logged inside; the step's result stands either way.
        let _ = rollout_kit::Publisher::publish_within(self, event, limit).await;
    }
}
