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
use crate::lease::Lease;
use crate::ports::{AlarmSource, EventSink, LeaseStore, Listeners, Ports};
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
    events: Vec<RolloutEvent>,
    /// Another writer's list, written while the next alarm read is in flight.
    during_gates: Option<Vec<Action>>,
    /// Every listener read takes this long.
    slow_reads: Option<Duration>,
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
        }
        account
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
    ) -> Result<(), Error> {
        let mut state = self.lock();
        match &mut state.lease {
            Some((holder, version, live))
                if *holder == lease.holder && *version == lease.version =>
            {
                *live = true;
                Ok(())
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

#[tokio::test(start_paused = true)]
async fn a_linear_rollout_walks_to_green_and_frees_the_listener() {
    let account = Account::new();
    let mut state = spec("start");
    for _ in 0..12 {
        state = run(&account, state).await.expect("a step");
        if state["done"] == true {
            break;
        }
    }
    assert_eq!(state["status"], "Completed");
    assert_eq!(account.weights(), (0, 999));
    assert_eq!(account.writes.load(Ordering::SeqCst), 10);
    assert_eq!(account.lock().lease, Some(("release-7".into(), 1, false)));
    assert_eq!(account.statuses().last(), Some(&ShiftStatus::Completed));
}

#[tokio::test(start_paused = true)]
async fn a_change_between_steps_is_drift_and_nothing_is_written() {
    let account = Account::new();
    let first = run(&account, spec("start")).await.unwrap();
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
