//! shift-traffic's state machine, measured: `statemachine/rollout.asl.json` run by the bench's
//! interpreter against the real shift-traffic binary in the shift-traffic world (ALB, alarm,
//! lease table in moto). Two figures: how long from an alarm firing mid-wait to all traffic on
//! blue, and how many state transitions (what Step Functions bills) a rollout with the default
//! watch takes.

use std::time::{Duration, Instant};

use aws_sdk_cloudwatch::types::StateValue;
use rollout_bench::asl::{Ending, Execution, state_machine};
use rollout_bench::shift_world::Alb;
use rollout_bench::{Bench, LambdaFn};
use serde::Serialize;
use serde_json::json;

use crate::{BenchError, invalid};

const FUNCTION: &str = "shift-traffic";
/// The watched rollout's strategy and its wait at AWS timing.
const STRATEGY: &str = "Canary10Percent15Minutes";
const STRATEGY_WAIT_S: u64 = 15 * 60;
const DEFAULT_WATCH_S: u64 = 30;

#[derive(Debug, Serialize)]
pub struct MachineResult {
    /// The watch interval of the alarm run, after `time_scale`.
    pub watch_interval_ms: u64,
    /// Alarm set to ALARM → the rollback step's write read back.
    pub alarm_to_blue_ms: u64,
    /// The watch that saw the alarm, and the rollback step, each on its own.
    pub watch_ms: u64,
    pub rollback_step_ms: u64,
    /// What the wait would have held without the watch: the rest of the step's wait.
    pub unwatched_wait_left_ms: u64,
    pub strategy: &'static str,
    /// The transitions of one whole rollout on the bench (waits at `time_scale`) and its watches.
    pub bench_transitions: usize,
    pub bench_watches: usize,
    /// The same rollout at AWS timing (a watch takes a fraction of its interval): the structure
    /// the bench run shows, with the watch count the real wait gives.
    pub aws_transitions: usize,
    pub aws_transitions_per_hour: usize,
}

/// Advances until the first `Watch` has run; its index in the visits.
async fn until_watch(execution: &mut Execution, function: &LambdaFn) -> Result<usize, BenchError> {
    while let Some(visit) = execution.advance(function).await {
        if visit.state == "Watch" {
            return Ok(execution.visits.len() - 1);
        }
    }
    Err(invalid(
        FUNCTION,
        format!("no watch: {:?}", execution.names()),
    ))
}

pub async fn measure() -> Result<MachineResult, BenchError> {
    let bench = Bench::start().await;
    let alb = Alb::create(&bench).await;
    let function = alb.function(&bench).await;

    // The alarm: two minutes of 10 % at 1/10 (a 12 s wait) watched every second (10 s at 1/10).
    let input = alb.watched_spec("start", json!("Canary10Percent2Minutes"));
    let interval = Duration::from_secs(1);
    let wait = Duration::from_secs(12);
    let mut execution = Execution::new(state_machine(), input);
    until_watch(&mut execution, &function).await?;
    alb.set_alarm(StateValue::Alarm).await;
    let fired = Instant::now();
    let wait_started = execution
        .visits
        .iter()
        .find(|v| v.state == "Shift")
        .map(|v| v.at)
        .unwrap_or(fired);
    while execution.advance(&function).await.is_some() {}
    let Some(rollback) = execution.visits.iter().position(|v| v.state == "Rollback") else {
        return Err(invalid(
            FUNCTION,
            format!("no rollback after the alarm: {:?}", execution.names()),
        ));
    };
    if !matches!(&execution.ending, Some(Ending::Failed { error, .. }) if error == "RolledBack")
        || alb.listener_weights().await != (999, 0)
    {
        return Err(invalid(
            FUNCTION,
            "the alarm did not end in a rollback to blue",
        ));
    }
    let visits = &execution.visits;
    let all_blue = visits[rollback].at;
    let watch = rollback - 2;
    let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    let alarm_to_blue = all_blue - fired;
    let unwatched_left = (wait_started + wait).saturating_duration_since(fired);

    // The transitions: the default watch (30 s) over a 15-minute wait, at 1/30, in a fresh world.
    let bench = Bench::start().await;
    let alb = Alb::create(&bench).await;
    let function = alb.function(&bench).await;
    let mut input = alb.spec("start", json!(STRATEGY));
    input["time_scale"] = json!(1.0 / 30.0);
    let execution = Execution::new(state_machine(), input)
        .run(&function, 500)
        .await;
    if !matches!(execution.ending, Some(Ending::Succeeded(_))) {
        return Err(invalid(
            FUNCTION,
            format!(
                "the watched rollout did not complete: {:?}",
                execution.ending
            ),
        ));
    }
    let names = execution.names();
    let bench_watches = names.iter().filter(|n| **n == "Watch").count();
    let bench_transitions = execution.transitions();
    // Identify, Begin, StartAtZero, Shift, Done?; per watch WaitThenWatch, Watch, Watched?; the
    // last piece's Wait, Shift, Done?, Completed: the fixed part is what the bench run shows.
    let fixed = bench_transitions.saturating_sub(3 * bench_watches);
    let aws_watches = (STRATEGY_WAIT_S.div_ceil(DEFAULT_WATCH_S) - 1) as usize;
    let aws_transitions = fixed + 3 * aws_watches;
    Ok(MachineResult {
        watch_interval_ms: ms(interval),
        alarm_to_blue_ms: ms(alarm_to_blue),
        watch_ms: ms(visits[watch].at - visits[watch - 1].at),
        rollback_step_ms: ms(all_blue - visits[rollback - 1].at),
        unwatched_wait_left_ms: ms(unwatched_left),
        strategy: STRATEGY,
        bench_transitions,
        bench_watches,
        aws_transitions,
        aws_transitions_per_hour: aws_transitions * 3600 / STRATEGY_WAIT_S as usize,
    })
}
