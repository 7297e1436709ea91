//! The orchestration driven in-process: `handler::handle` against an in-memory account (an ALB
//! listener, alarms, the lease table, the topic) through the `ports` seams, with tokio's clock
//! paused so waits and deadlines cost nothing. The bench tests (`tests/tests/suite/`) prove the
//! same paths end to end against moto.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, ForwardActionConfig, TargetGroupTuple,
};
use lambda_runtime::{Context, LambdaEvent};
use rollout_kit::{RolloutEvent, ShiftStatus};
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::error::Error;
use crate::gates::{AlarmState, HealthCounts};
use crate::handler::{Deps, handle};
use crate::lease::{Lease, Request, RequestKind};
use crate::ports::{AlarmSource, Clock, EventSink, LeaseStore, Listeners, Ports, ScalingGroups};
use crate::scale_down::GroupView;
use crate::spec::Target;

const LISTENER: &str = "arn:aws:elasticloadbalancing:us-east-1:1:listener/app/web/1/2";
const BLUE: &str = "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/blue/1";
const GREEN: &str = "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/green/2";

/// What the fake account holds, and what a test makes it do.
#[derive(Default)]
struct State {
    actions: Vec<Action>,
    alarm: String,
    healthy: u32,
    /// `(holder, version, live)`.
    lease: Option<(String, u64, bool)>,
    /// A person's promote or abort, recorded on the lease.
    request: Option<Request>,
    /// DescribeAlarms refuses with this.
    alarm_error: Option<String>,
    /// The wall clock (epoch ms); tests move it as the state machine's waits would.
    now_ms: u64,
    events: Vec<RolloutEvent>,
    /// Another writer's list, written while the next alarm read is in flight.
    during_gates: Option<Vec<Action>>,
    /// Every listener read takes this long.
    slow_reads: Option<Duration>,
    /// Blue's Auto Scaling group (`web-blue`), and the targets of blue and green.
    group: Option<GroupView>,
    blue_targets: Vec<String>,
    green_targets: Vec<String>,
    /// Blue's deregistration delay; `None`: the attribute read is refused.
    deregistration_delay: Option<u64>,
    /// Another writer's list, written while the group is read.
    during_group_read: Option<Vec<Action>>,
    /// `(desired, min)` of every UpdateAutoScalingGroup.
    capacity_writes: Vec<(i32, i32)>,
}

#[derive(Clone, Default)]
struct Account {
    state: Arc<Mutex<State>>,
    writes: Arc<AtomicUsize>,
}

impl Account {
    fn new() -> Account {
        let account = Account::default();
        {
            let mut state = account.lock();
            state.actions = vec![forward(999, 0)];
            state.alarm = "OK".into();
            state.healthy = 2;
            state.now_ms = 1_800_000_000_000;
            state.deregistration_delay = Some(300);
        }
        account
    }

    /// The state machine's Wait state: time passes.
    fn wait(&self, seconds: u64) {
        self.lock().now_ms += seconds * 1000;
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn weights(&self) -> (i32, i32) {
        let state = self.lock();
        let groups = state.actions[0]
            .forward_config()
            .map(|c| c.target_groups().to_vec())
            .unwrap_or_default();
        let weight = |arn: &str| {
            groups
                .iter()
                .find(|t| t.target_group_arn() == Some(arn))
                .and_then(|t| t.weight())
                .unwrap_or(-1)
        };
        (weight(BLUE), weight(GREEN))
    }

    fn statuses(&self) -> Vec<ShiftStatus> {
        self.lock()
            .events
            .iter()
            .filter_map(|e| match &e.detail {
                rollout_kit::RolloutDetail::Shift(d) => Some(d.status),
                _ => None,
            })
            .collect()
    }

    fn deps(&self) -> Deps<InMemory> {
        Deps {
            elb: self.clone(),
            alarms: self.clone(),
            leases: self.clone(),
            notifier: Some(self.clone()),
            clock: self.clone(),
            groups: self.clone(),
        }
    }
}

fn forward(blue: i32, green: i32) -> Action {
    let tuple = |arn: &str, weight: i32| {
        TargetGroupTuple::builder()
            .target_group_arn(arn)
            .weight(weight)
            .build()
    };
    Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .forward_config(
            ForwardActionConfig::builder()
                .target_groups(tuple(BLUE, blue))
                .target_groups(tuple(GREEN, green))
                .build(),
        )
        .build()
}

struct InMemory;

impl Ports for InMemory {
    type Listeners = Account;
    type Alarms = Account;
    type Leases = Account;
    type Events = Account;
    type Clock = Account;
    type Groups = Account;
}

impl Clock for Account {
    fn now_ms(&self) -> u64 {
        self.lock().now_ms
    }
}

impl Listeners for Account {
    async fn read_actions(&self, _: &Target, _: Instant) -> Result<Vec<Action>, Error> {
        let slow = self.lock().slow_reads;
        if let Some(pause) = slow {
            tokio::time::sleep(pause).await;
        }
        Ok(self.lock().actions.clone())
    }

    async fn write_actions(&self, _: &Target, actions: &[Action], _: Instant) -> Result<(), Error> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        self.lock().actions = actions.to_vec();
        Ok(())
    }

    async fn target_health(&self, _: &Target, _: &str, _: Instant) -> Result<HealthCounts, Error> {
        Ok(HealthCounts {
            healthy: self.lock().healthy,
            counted: 2,
        })
    }

    async fn target_ids(&self, arn: &str, _: Instant) -> Result<Vec<String>, Error> {
        let state = self.lock();
        Ok(match arn {
            BLUE => state.blue_targets.clone(),
            _ => state.green_targets.clone(),
        })
    }

    async fn deregistration_delay(&self, _: &str, _: Instant) -> Result<u64, Error> {
        self.lock().deregistration_delay.ok_or(Error::Aws {
            operation: "DescribeTargetGroupAttributes",
            summary: "AccessDenied".into(),
        })
    }
}

impl ScalingGroups for Account {
    async fn describe(&self, name: &str, _: Instant) -> Result<Option<GroupView>, Error> {
        let mut state = self.lock();
        if let Some(other) = state.during_group_read.take() {
            state.actions = other;
        }
        Ok(state.group.clone().filter(|_| name == "web-blue"))
    }

    async fn set_capacity(&self, _: &str, desired: i32, min: i32, _: Instant) -> Result<(), Error> {
        let mut state = self.lock();
        state.capacity_writes.push((desired, min));
        if let Some(group) = &mut state.group {
            group.desired = desired;
            group.min = min;
        }
        Ok(())
    }
}

impl AlarmSource for Account {
    async fn states(
        &self,
        names: &[String],
        _: Instant,
    ) -> Result<Result<Vec<AlarmState>, String>, Error> {
        let mut state = self.lock();
        if let Some(other) = state.during_gates.take() {
            state.actions = other;
        }
        if let Some(refused) = &state.alarm_error {
            return Ok(Err(refused.clone()));
        }
        Ok(Ok(names
            .iter()
            .map(|name| AlarmState {
                name: name.clone(),
                state: state.alarm.clone(),
            })
            .collect()))
    }
}

impl LeaseStore for Account {
    fn hold_for(&self, wait_seconds: u64) -> Duration {
        Duration::from_secs(wait_seconds + 900)
    }

    async fn acquire(
        &self,
        target: &str,
        holder: &str,
        _: Duration,
        _: Instant,
    ) -> Result<Lease, Error> {
        let mut state = self.lock();
        let version = match &state.lease {
            Some((other, version, true)) if other != holder => {
                return Err(Error::LeaseHeld {
                    target: target.into(),
                    holder: other.clone(),
                    version: *version,
                    expires_in_seconds: 900,
                });
            }
            Some((_, version, _)) => version + 1,
            None => 1,
        };
        state.lease = Some((holder.into(), version, true));
        state.request = None;
        Ok(Lease {
            holder: holder.into(),
            version,
        })
    }

    async fn take_over(
        &self,
        _: &str,
        holder: &str,
        _: Duration,
        _: Instant,
    ) -> Result<Lease, Error> {
        let mut state = self.lock();
        let version = state.lease.as_ref().map_or(1, |(_, v, _)| v + 1);
        state.lease = Some((holder.into(), version, true));
        state.request = None;
        Ok(Lease {
            holder: holder.into(),
            version,
        })
    }

    async fn renew(
        &self,
        target: &str,
        lease: &Lease,
        _: Duration,
        _: Instant,
    ) -> Result<Option<Request>, Error> {
        let mut state = self.lock();
        let request = state.request.clone();
        match &mut state.lease {
            Some((holder, version, live))
                if *holder == lease.holder && *version == lease.version =>
            {
                *live = true;
                Ok(request)
            }
            other => Err(Error::LeaseLost {
                target: target.into(),
                version: lease.version,
                now_held_by: format!("{other:?}"),
            }),
        }
    }

    async fn release(&self, _: &str, lease: &Lease, _: Instant) -> Result<(), Error> {
        if let Some((holder, version, live)) = &mut self.lock().lease
            && *holder == lease.holder
            && *version == lease.version
        {
            *live = false;
        }
        Ok(())
    }

    async fn request(
        &self,
        target: &str,
        rollout: Option<&str>,
        kind: RequestKind,
        reason: &str,
        _: Instant,
    ) -> Result<Lease, Error> {
        let mut state = self.lock();
        let refused = |detail: &str| Error::RequestRefused {
            target: target.into(),
            request: kind.as_str(),
            detail: detail.into(),
        };
        let Some((holder, version, true)) = state.lease.clone() else {
            return Err(refused("none is running"));
        };
        if rollout.is_some_and(|named| named != holder) {
            return Err(refused(&format!("held by {holder}")));
        }
        let pending = state.request.as_ref().map(|r| r.kind);
        if kind == RequestKind::Promote && pending == Some(RequestKind::Abort) {
            return Err(refused("an abort is already pending"));
        }
        state.request = Some(Request {
            kind,
            reason: reason.into(),
        });
        Ok(Lease { holder, version })
    }
}

impl EventSink for Account {
    async fn publish_within(&self, event: &RolloutEvent, _: Duration) {
        self.lock().events.push(event.clone());
    }
}

fn invocation(payload: Value, time: Duration) -> LambdaEvent<Value> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let mut context = Context::default();
    context.request_id = "req-1".into();
    context.deadline = (now + time).as_millis() as u64;
    LambdaEvent::new(payload, context)
}

fn spec(action: &str) -> Value {
    json!({
        "action": action,
        "listener_arn": LISTENER,
        "blue_target_group_arn": BLUE,
        "green_target_group_arn": GREEN,
        "strategy": "Linear10PercentEvery1Minute",
        "alarms": ["green-5xx"],
        "rollout_id": "release-7",
    })
}

async fn run(account: &Account, input: Value) -> Result<Value, Error> {
    let out = handle(&account.deps(), invocation(input, Duration::from_secs(60))).await?;
    Ok(serde_json::to_value(out).expect("output serialises"))
}

/// The state machine's waits: follows the watches of the wait `state` starts (advancing the
/// clock by each Wait state), and returns the input of what comes after them, its last piece
/// waited too.
async fn through_the_wait(account: &Account, mut state: Value) -> Value {
    while state["action"] == "watch" {
        account.wait(state["wait_seconds"].as_u64().unwrap_or_default());
        state = run(account, state).await.expect("a watch");
        assert_eq!(state["status"], "Watched", "{state}");
    }
    account.wait(state["wait_seconds"].as_u64().unwrap_or_default());
    state
}

/// A whole rollout as the state machine runs it: the final state and the number of watches.
async fn walk(account: &Account, mut state: Value) -> (Value, usize) {
    let mut watches = 0;
    for _ in 0..200 {
        state = run(account, state).await.expect("a step or a watch");
        if state["done"] == true || state["action"] == "rollback" {
            return (state, watches);
        }
        if state["action"] == "watch" {
            watches += 1;
        }
        account.wait(state["wait_seconds"].as_u64().unwrap_or_default());
    }
    panic!("no end in 200 invocations: {state}");
}

#[tokio::test(start_paused = true)]
async fn a_linear_rollout_walks_to_green_and_frees_the_listener() {
    let account = Account::new();
    let started = account.now_ms();
    let (state, watches) = walk(&account, spec("start")).await;
    assert_eq!(state["status"], "Completed");
    assert_eq!(account.weights(), (0, 999));
    assert_eq!(account.writes.load(Ordering::SeqCst), 10);
    // Nine one-minute waits, each watched once after 30 s; the watches write nothing.
    assert_eq!(watches, 9);
    assert_eq!(
        account.now_ms() - started,
        9 * 60_000,
        "the waits keep their length"
    );
    assert_eq!(account.lock().lease, Some(("release-7".into(), 1, false)));
    assert_eq!(account.statuses().last(), Some(&ShiftStatus::Completed));
}

#[tokio::test(start_paused = true)]
async fn a_change_between_steps_is_drift_and_nothing_is_written() {
    let account = Account::new();
    let first = run(&account, spec("start")).await.unwrap();
    let first = through_the_wait(&account, first).await;
    account.lock().actions = vec![forward(300, 700)];
    let err = run(&account, first).await.unwrap_err();
    assert!(matches!(err, Error::DriftDetected { .. }), "{err}");
    assert_eq!(account.weights(), (300, 700));
    assert_eq!(account.writes.load(Ordering::SeqCst), 1);
    assert_eq!(account.statuses().last(), Some(&ShiftStatus::Drift));
    assert_eq!(
        account.lock().lease.as_ref().map(|l| l.2),
        Some(false),
        "released"
    );
}

#[tokio::test(start_paused = true)]
async fn a_change_during_the_gates_is_drift_and_survives() {
    let account = Account::new();
    let first = run(&account, spec("start")).await.unwrap();
    let first = through_the_wait(&account, first).await;
    account.lock().during_gates = Some(vec![forward(999, 0)]);
    let err = run(&account, first).await.unwrap_err();
    assert!(matches!(err, Error::DriftDetected { .. }), "{err}");
    assert_eq!(
        account.weights(),
        (999, 0),
        "the on-call engineer's write stands"
    );
    assert_eq!(account.writes.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn a_firing_alarm_rolls_back_and_frees_the_listener() {
    let account = Account::new();
    let first = run(&account, spec("start")).await.unwrap();
    let first = through_the_wait(&account, first).await;
    account.lock().alarm = "ALARM".into();
    let out = run(&account, first).await.unwrap();
    assert_eq!(out["status"], "RolledBack");
    assert!(out["reason"].as_str().unwrap().contains("green-5xx"));
    assert_eq!(account.weights(), (999, 0));
    assert_eq!(account.statuses().last(), Some(&ShiftStatus::RolledBack));
    assert_eq!(account.lock().lease.as_ref().map(|l| l.2), Some(false));
}

#[tokio::test(start_paused = true)]
async fn unhealthy_green_is_not_given_more_traffic() {
    let account = Account::new();
    let first = run(&account, spec("start")).await.unwrap();
    let first = through_the_wait(&account, first).await;
    account.lock().healthy = 0;
    let out = run(&account, first).await.unwrap();
    assert_eq!(out["status"], "RolledBack");
    assert_eq!(account.weights(), (999, 0));
}

#[tokio::test(start_paused = true)]
async fn a_taken_over_lease_stops_the_step_before_it_reads() {
    let account = Account::new();
    let first = run(&account, spec("start")).await.unwrap();
    let mut abort = spec("rollback");
    abort.as_object_mut().unwrap().remove("rollout_id");
    let rolled = run(&account, abort).await.unwrap();
    assert_eq!(rolled["status"], "RolledBack");
    let err = run(&account, first).await.unwrap_err();
    assert!(matches!(err, Error::LeaseLost { version: 1, .. }), "{err}");
    assert_eq!(account.weights(), (999, 0));
    assert_eq!(
        account.writes.load(Ordering::SeqCst),
        2,
        "start and the rollback only"
    );
}

#[tokio::test(start_paused = true)]
async fn a_second_rollout_is_refused_while_the_first_holds_the_listener() {
    let account = Account::new();
    run(&account, spec("start")).await.unwrap();
    let mut other = spec("start");
    other["rollout_id"] = json!("release-8");
    let err = run(&account, other).await.unwrap_err();
    assert!(
        matches!(&err, Error::LeaseHeld { holder, .. } if holder == "release-7"),
        "{err}"
    );
    assert_eq!(account.writes.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn slow_answers_end_in_throttled_before_the_deadline() {
    let account = Account::new();
    account.lock().slow_reads = Some(Duration::from_secs(30));
    let started = Instant::now();
    let time = Duration::from_secs(5);
    let err = handle(&account.deps(), invocation(spec("start"), time))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Throttled { .. }), "{err}");
    assert!(started.elapsed() < time, "{:?}", started.elapsed());
    assert_eq!(account.writes.load(Ordering::SeqCst), 0);
    assert_eq!(account.weights(), (999, 0));
}

#[tokio::test(start_paused = true)]
async fn a_rollback_refuses_weights_the_plan_never_wrote() {
    let account = Account::new();
    account.lock().actions = vec![forward(333, 666)];
    let err = run(&account, spec("rollback")).await.unwrap_err();
    assert!(matches!(err, Error::RollbackRefused { .. }), "{err}");
    assert_eq!(account.weights(), (333, 666));
    let mut forced = spec("rollback");
    forced["force"] = json!(true);
    run(&account, forced).await.unwrap();
    assert_eq!(account.weights(), (999, 0));
}

/// A 15-minute canary with a 10-minute bake, watched every 30 s (the default).
fn canary(action: &str) -> Value {
    let mut spec = spec(action);
    spec["strategy"] = json!("Canary10Percent15Minutes");
    spec["bake_seconds"] = json!(600);
    spec
}

/// Runs `count` watches of the wait `state` starts, each after its Wait; returns the last
/// watch's output.
async fn watches(account: &Account, mut state: Value, count: usize) -> Value {
    for _ in 0..count {
        assert_eq!(state["action"], "watch", "{state}");
        account.wait(state["wait_seconds"].as_u64().unwrap_or_default());
        state = run(account, state).await.expect("a watch");
    }
    state
}

#[tokio::test(start_paused = true)]
async fn an_alarm_mid_wait_is_seen_by_the_next_watch_which_sends_the_rollout_to_its_rollback() {
    let account = Account::new();
    let first = run(&account, canary("start")).await.unwrap();
    assert_eq!(first["action"], "watch");
    assert_eq!(
        (first["wait_seconds"].as_u64(), first["watching"].as_bool()),
        (Some(30), Some(true))
    );
    let started = account.now_ms();
    let clear = watches(&account, first, 2).await;
    assert_eq!(clear["status"], "Watched");
    assert_eq!(clear["action"], "watch", "840 s left: watch again");
    assert_eq!(clear["step"], 1);

    // One minute into the bake of 10 %, green starts failing.
    account.lock().alarm = "ALARM".into();
    let seen = watches(&account, clear, 1).await;
    assert_eq!(
        account.now_ms() - started,
        90_000,
        "within one interval of the alarm"
    );
    assert_eq!(seen["action"], "rollback");
    assert_eq!(seen["watching"], false);
    assert!(
        seen["reason"].as_str().unwrap().contains("green-5xx"),
        "{seen}"
    );
    assert_eq!(
        account.writes.load(Ordering::SeqCst),
        1,
        "a watch writes no weights"
    );
    assert_eq!(account.weights(), (900, 100));

    // The state machine's Rollback state, with the watch's output.
    let rolled = run(&account, seen).await.unwrap();
    assert_eq!(rolled["status"], "RolledBack");
    assert!(rolled["reason"].as_str().unwrap().contains("green-5xx"));
    assert_eq!(account.weights(), (999, 0));
    assert_eq!(account.lock().lease.as_ref().map(|l| l.2), Some(false));
    assert_eq!(account.statuses().last(), Some(&ShiftStatus::RolledBack));
}

#[tokio::test(start_paused = true)]
async fn unhealthy_green_mid_wait_rolls_back_at_the_next_watch() {
    let account = Account::new();
    let first = run(&account, canary("start")).await.unwrap();
    account.lock().healthy = 0;
    let seen = watches(&account, first, 1).await;
    assert_eq!(seen["action"], "rollback");
    assert!(
        seen["reason"]
            .as_str()
            .unwrap()
            .contains("no healthy targets"),
        "{seen}"
    );
}

#[tokio::test(start_paused = true)]
async fn the_waits_are_watched_to_their_end_and_the_bake_too() {
    let account = Account::new();
    let started = account.now_ms();
    let (done, watches) = walk(&account, canary("start")).await;
    assert_eq!(done["status"], "Completed");
    // 15 minutes (29 watches, the last 30 s lead to the step) and 10 minutes (19).
    assert_eq!(watches, 29 + 19);
    assert_eq!(account.now_ms() - started, (900 + 600) * 1000);
    assert_eq!(account.writes.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn a_watch_that_cannot_read_the_alarms_stops_where_it_is_unless_told_to_ignore() {
    let account = Account::new();
    let first = run(&account, canary("start")).await.unwrap();
    account.lock().alarm_error = Some("AccessDenied: not authorized".into());
    account.wait(30);
    let err = run(&account, first.clone()).await.unwrap_err();
    assert!(matches!(err, Error::AlarmUnreadable(_)), "{err}");
    assert_eq!(account.weights(), (900, 100), "held where it is");
    assert_eq!(account.statuses().last(), Some(&ShiftStatus::Stopped));
    assert_eq!(
        account.lock().lease.as_ref().map(|l| l.2),
        Some(false),
        "released"
    );

    let account = Account::new();
    let mut spec = canary("start");
    spec["ignore_alarm_read_errors"] = json!(true);
    let first = run(&account, spec).await.unwrap();
    account.lock().alarm_error = Some("AccessDenied: not authorized".into());
    let watched = watches(&account, first, 1).await;
    assert_eq!(watched["action"], "watch");
}

#[tokio::test(start_paused = true)]
async fn a_watch_finds_its_lease_taken_over_and_stops_without_writing() {
    let account = Account::new();
    let first = run(&account, canary("start")).await.unwrap();
    let mut rollback = canary("rollback");
    rollback.as_object_mut().unwrap().remove("rollout_id");
    run(&account, rollback).await.unwrap();
    account.wait(30);
    let err = run(&account, first).await.unwrap_err();
    assert!(matches!(err, Error::LeaseLost { version: 1, .. }), "{err}");
    assert_eq!(account.writes.load(Ordering::SeqCst), 2);
}

/// A person's `promote` or `abort`, with the spec alone (as from the CLI).
async fn ask(account: &Account, action: &str, reason: &str) -> Result<Value, Error> {
    let mut request = canary(action);
    request.as_object_mut().unwrap().remove("rollout_id");
    request["reason"] = json!(reason);
    run(account, request).await
}

#[tokio::test(start_paused = true)]
async fn promote_mid_wait_goes_to_all_green_through_the_gates_and_skips_the_waits_left() {
    let account = Account::new();
    let first = run(&account, canary("start")).await.unwrap();
    let clear = watches(&account, first, 1).await;
    let recorded = ask(&account, "promote", "looks good").await.unwrap();
    assert_eq!(recorded["status"], "Requested");
    assert_eq!(recorded["rollout_id"], "release-7");
    assert!(
        recorded.get("lease_version").is_none(),
        "not the asker's lease"
    );
    assert_eq!(
        account.writes.load(Ordering::SeqCst),
        1,
        "recording writes no weights"
    );

    let seen = watches(&account, clear, 1).await;
    assert_eq!(
        (seen["action"].as_str(), seen["promote"].as_bool()),
        (Some("step"), Some(true))
    );
    assert_eq!(seen["wait_seconds"], 0);
    let promoted = run(&account, seen).await.unwrap();
    assert_eq!(promoted["status"], "Completed");
    assert_eq!(promoted["done"], true);
    assert!(promoted["reason"].as_str().unwrap().starts_with("promoted"));
    assert_eq!(account.weights(), (0, 999));
    assert_eq!(account.writes.load(Ordering::SeqCst), 2);
    assert_eq!(account.lock().lease.as_ref().map(|l| l.2), Some(false));
}

#[tokio::test(start_paused = true)]
async fn a_promote_still_passes_the_gates_for_all_the_traffic() {
    let account = Account::new();
    let first = run(&account, canary("start")).await.unwrap();
    ask(&account, "promote", "").await.unwrap();
    // Half of green is healthy: enough for 10 %, not for 100 %.
    account.lock().healthy = 1;
    let seen = watches(&account, first, 1).await;
    let out = run(&account, seen).await.unwrap();
    assert_eq!(out["status"], "RolledBack");
    assert!(
        out["reason"].as_str().unwrap().contains("1 of green's 2"),
        "{out}"
    );
    assert_eq!(account.weights(), (999, 0));
}

#[tokio::test(start_paused = true)]
async fn promote_during_the_bake_completes_at_once() {
    let account = Account::new();
    let first = run(&account, canary("start")).await.unwrap();
    let second = run(&account, through_the_wait(&account, first).await)
        .await
        .unwrap();
    assert_eq!(
        (second["step"].as_u64(), second["action"].as_str()),
        (Some(2), Some("watch"))
    );
    ask(&account, "promote", "").await.unwrap();
    let seen = watches(&account, second, 1).await;
    let done = run(&account, seen).await.unwrap();
    assert_eq!(done["status"], "Completed");
    assert_eq!(account.writes.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn abort_mid_wait_rolls_back_at_the_next_watch_and_wins_over_a_promote() {
    let account = Account::new();
    let first = run(&account, canary("start")).await.unwrap();
    ask(&account, "abort", "paged: checkout errors")
        .await
        .unwrap();
    let err = ask(&account, "promote", "").await.unwrap_err();
    assert!(matches!(err, Error::RequestRefused { .. }), "{err}");
    let seen = watches(&account, first, 1).await;
    assert_eq!(seen["action"], "rollback");
    let rolled = run(&account, seen).await.unwrap();
    assert_eq!(rolled["status"], "RolledBack");
    assert_eq!(rolled["reason"], "abort requested: paged: checkout errors");
    assert_eq!(account.weights(), (999, 0));
    assert_eq!(
        account.lock().lease.as_ref().map(|l| (l.1, l.2)),
        Some((1, false)),
        "never taken over"
    );
}

#[tokio::test(start_paused = true)]
async fn a_step_that_finds_an_abort_rolls_back_instead_of_writing() {
    let account = Account::new();
    let first = run(&account, canary("start")).await.unwrap();
    let step = through_the_wait(&account, first).await;
    ask(&account, "abort", "").await.unwrap();
    let out = run(&account, step).await.unwrap();
    assert_eq!(out["status"], "RolledBack");
    assert!(
        out["reason"]
            .as_str()
            .unwrap()
            .starts_with("abort requested: asked by"),
        "{out}"
    );
    assert_eq!(account.weights(), (999, 0));
    assert_eq!(
        account.writes.load(Ordering::SeqCst),
        2,
        "the start and the rollback"
    );
}

#[tokio::test(start_paused = true)]
async fn requests_go_only_to_a_running_rollout_and_a_new_one_starts_clean() {
    let account = Account::new();
    // Nothing runs: nothing to promote or abort.
    let err = ask(&account, "abort", "").await.unwrap_err();
    assert!(matches!(err, Error::RequestRefused { .. }), "{err}");
    assert_eq!(rollout_kit::ErrorKind::kind(&err), "RequestRefused");
    run(&account, canary("start")).await.unwrap();
    // Naming another rollout than the holder.
    let mut named = canary("abort");
    named["rollout_id"] = json!("release-8");
    let err = run(&account, named).await.unwrap_err();
    assert!(
        matches!(&err, Error::RequestRefused { detail, .. } if detail.contains("release-7")),
        "{err}"
    );
    // A request recorded, then the rollout stops (released): the next rollout does not inherit it.
    ask(&account, "abort", "").await.unwrap();
    if let Some(lease) = &mut account.lock().lease {
        lease.2 = false;
    }
    account.lock().actions = vec![forward(999, 0)];
    let mut next = canary("start");
    next["rollout_id"] = json!("release-8");
    let out = run(&account, next).await.unwrap();
    assert_eq!(out["status"], "Shifted");
    assert!(account.lock().request.is_none());
}

#[tokio::test(start_paused = true)]
async fn a_persons_request_never_frees_the_running_rollout_s_listener() {
    let account = Account::new();
    let first = run(&account, canary("start")).await.unwrap();
    // Someone copies the execution's output (its lease_version too) and asks for a promote or
    // a status while the listener cannot be read as a forward action: the error is theirs, the
    // lease stays the rollout's.
    let forward_action = std::mem::take(&mut account.lock().actions);
    for action in ["promote", "abort", "status", "plan"] {
        let mut copied = first.clone();
        copied["action"] = json!(action);
        let err = run(&account, copied).await.unwrap_err();
        assert!(
            matches!(err, Error::NotForwardAction { .. }),
            "{action}: {err}"
        );
        assert_eq!(
            account.lock().lease,
            Some(("release-7".into(), 1, true)),
            "{action}"
        );
    }
    account.lock().actions = forward_action;
    let watched = watches(&account, first, 1).await;
    assert_eq!(watched["status"], "Watched");
}

/// A rollout whose spec scales blue's group in, with blue's group as ASGs attach it.
fn with_clean_up(account: &Account) -> Value {
    {
        let mut state = account.lock();
        state.group = Some(GroupView {
            desired: 3,
            min: 2,
            target_groups: vec![BLUE.into()],
            instances: vec!["i-b1".into(), "i-b2".into(), "i-b3".into()],
        });
        state.blue_targets = vec!["i-b1".into(), "i-b2".into(), "i-b3".into()];
        state.green_targets = vec!["i-g1".into()];
    }
    let mut input = spec("start");
    input["strategy"] = json!("AllAtOnce");
    input["bake_seconds"] = json!(60);
    input["scale_down_blue"] = json!({"auto_scaling_group": "web-blue", "wait_seconds": 600});
    input
}

fn scale_down_events(account: &Account) -> Vec<rollout_kit::ScaleDownDetail> {
    account
        .lock()
        .events
        .iter()
        .filter_map(|e| match &e.detail {
            rollout_kit::RolloutDetail::ScaleDown(d) => Some(d.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_completed_rollout_scales_blue_in_after_the_wait_and_the_deregistration_delay() {
    let account = Account::new();
    let (done, _) = walk(&account, with_clean_up(&account)).await;
    assert_eq!(done["status"], "Completed");
    assert_eq!(done["action"], "scale_down");
    assert_eq!(done["wait_seconds"], 900, "600 s asked + 300 s delay");
    assert_eq!(
        account.lock().capacity_writes,
        vec![],
        "nothing before the wait"
    );
    account.wait(900);
    let out = run(&account, done).await.expect("scaled in");
    assert_eq!(out["status"], "ScaledDown");
    assert_eq!(out["done"], true);
    assert_eq!(account.lock().capacity_writes, vec![(0, 0)]);
    assert_eq!(
        account.lock().lease.as_ref().map(|l| l.2),
        Some(false),
        "released"
    );
    let events = scale_down_events(&account);
    assert_eq!(events.len(), 1);
    assert!(events[0].scaled);
    assert_eq!(events[0].desired_before, Some(3));
    // A retried clean-up finds the group at its size and writes nothing.
    let again = run(&account, out).await.expect("idempotent");
    assert_eq!(again["already_applied"], true);
    assert_eq!(account.lock().capacity_writes.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn an_unreadable_deregistration_delay_waits_the_longest_one() {
    let account = Account::new();
    let input = with_clean_up(&account);
    account.lock().deregistration_delay = None;
    let (done, _) = walk(&account, input).await;
    assert_eq!(done["wait_seconds"], 600 + 3600);
}

#[tokio::test(start_paused = true)]
async fn traffic_back_on_blue_or_another_rollout_leaves_the_group_as_it_is() {
    let account = Account::new();
    let (done, _) = walk(&account, with_clean_up(&account)).await;
    // Someone put traffic back on blue during the wait.
    account.lock().actions = vec![forward(999, 0)];
    let err = run(&account, done.clone()).await.unwrap_err();
    assert!(matches!(err, Error::ScaleDownRefused { .. }), "{err}");
    assert!(
        err.to_string().contains("blue still has weight 999"),
        "{err}"
    );
    // A second rollout holds the listener.
    account.lock().actions = vec![forward(0, 999)];
    account.lock().lease = Some(("release-8".into(), 9, true));
    let err = run(&account, done.clone()).await.unwrap_err();
    assert!(err.to_string().contains("release-8"), "{err}");
    assert_eq!(
        account.lock().lease,
        Some(("release-8".into(), 9, true)),
        "not ours to free"
    );
    // The forward action changes while the group is read.
    account.lock().lease = None;
    account.lock().during_group_read = Some(vec![forward(100, 899)]);
    let err = run(&account, done).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("changed while the group was checked"),
        "{err}"
    );
    assert_eq!(account.lock().capacity_writes, vec![]);
    let events = scale_down_events(&account);
    assert_eq!(events.len(), 3, "each refusal is said");
    assert!(events.iter().all(|e| !e.scaled));
}

#[tokio::test(start_paused = true)]
async fn a_group_that_serves_green_is_never_scaled_in() {
    let account = Account::new();
    let (done, _) = walk(&account, with_clean_up(&account)).await;
    account.lock().green_targets.push("i-b2".into());
    let err = run(&account, done).await.unwrap_err();
    assert!(
        err.to_string().contains("i-b2 are targets of green"),
        "{err}"
    );
    assert_eq!(account.lock().capacity_writes, vec![]);
}

#[tokio::test(start_paused = true)]
async fn a_rolled_back_rollout_never_reaches_the_clean_up() {
    let account = Account::new();
    let input = with_clean_up(&account);
    account.lock().alarm = "ALARM".into();
    let first = run(&account, input).await;
    // AllAtOnce's only step asks the gates first: a firing alarm rolls back.
    let out = first.expect("a rollback is an answer");
    assert_eq!(out["status"], "RolledBack");
    assert_ne!(out["action"], "scale_down");
    assert_eq!(account.lock().capacity_writes, vec![]);
}
