//! Lambda's asynchronous invocation, the way SNS invokes a subscribed function: events wait in
//! the function's queue, at most `concurrency` execution environments take them (reserved
//! concurrency; an event over the limit waits, it is not a failed attempt), a failed invocation
//! is retried twice after a delay, and an event that fails every attempt, or grows older than
//! the maximum age, goes to the on-failure destination.
//!
//! Delays are Lambda's (about a minute before the first retry, two before the second) divided by
//! `time_scale`, so a test sees the same order of events in seconds.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::Notify;
use tokio::task::JoinSet;

use crate::runtime::{InvokeOutcome, LambdaFn};

/// How the invoker treats a function (the function's `EventInvokeConfig` and concurrency).
#[derive(Debug, Clone)]
pub struct AsyncPolicy {
    /// Execution environments at most: the reserved concurrency.
    pub concurrency: usize,
    /// Retries of a failed invocation (Lambda: 0–2, the template sets 2).
    pub max_retries: u32,
    /// Events older than this are not invoked again (`MaximumEventAgeInSeconds`).
    pub max_event_age: Duration,
    /// Lambda's retry delays are divided by this.
    pub time_scale: f64,
    /// The function timeout each invocation gets.
    pub timeout: Duration,
}

impl AsyncPolicy {
    /// Lambda's delay before retry `n` (1-based): about one minute, then two.
    fn retry_delay(&self, retry: u32) -> Duration {
        Duration::from_secs(60 * u64::from(retry)).div_f64(self.time_scale.max(1.0))
    }
}

/// What became of one event.
#[derive(Debug, Clone)]
pub struct EventFate {
    pub index: usize,
    pub attempts: u32,
    /// Queued → the invocation that ended it (delivered or dead-lettered).
    pub latency: Duration,
    /// `None` when delivered; the last error when dead-lettered.
    pub dead_letter: Option<String>,
}

/// The run's record: every event's fate and the invocations made.
#[derive(Debug, Clone, Default)]
pub struct AsyncRun {
    pub fates: Vec<EventFate>,
    pub invocations: usize,
    /// Most environments busy at once.
    pub peak_concurrency: usize,
}

impl AsyncRun {
    pub fn delivered(&self) -> usize {
        self.fates
            .iter()
            .filter(|f| f.dead_letter.is_none())
            .count()
    }
    pub fn dead_lettered(&self) -> usize {
        self.fates.len() - self.delivered()
    }
    /// Invocations beyond the first of each event.
    pub fn retries(&self) -> usize {
        self.invocations.saturating_sub(self.fates.len())
    }
    pub fn largest_latency(&self) -> Duration {
        self.fates
            .iter()
            .map(|f| f.latency)
            .max()
            .unwrap_or_default()
    }
}

struct Queued {
    index: usize,
    event: Value,
    attempts: u32,
    queued_at: Instant,
    not_before: Instant,
}

#[derive(Default)]
struct Shared {
    queue: VecDeque<Queued>,
    fates: Vec<EventFate>,
    invocations: usize,
    busy: usize,
    peak: usize,
}

/// Delivers `events` (each queued at its offset from the start, as a burst arrives) to
/// `environments` (one process each, `policy.concurrency` of them) and waits for every event's
/// fate.
pub async fn deliver(
    environments: Vec<LambdaFn>,
    events: Vec<(Duration, Value)>,
    policy: AsyncPolicy,
) -> AsyncRun {
    let total = events.len();
    let shared = Arc::new(Mutex::new(Shared::default()));
    let wake = Arc::new(Notify::new());
    let started = Instant::now();

    // The publisher: events enter the queue at their offsets.
    let publisher = {
        let shared = shared.clone();
        let wake = wake.clone();
        tokio::spawn(async move {
            for (index, (offset, event)) in events.into_iter().enumerate() {
                tokio::time::sleep_until((started + offset).into()).await;
                let now = Instant::now();
                lock(&shared).queue.push_back(Queued {
                    index,
                    event,
                    attempts: 0,
                    queued_at: now,
                    not_before: now,
                });
                wake.notify_waiters();
            }
        })
    };

    let mut workers = JoinSet::new();
    for lambda in environments.into_iter().take(policy.concurrency.max(1)) {
        let shared = shared.clone();
        let wake = wake.clone();
        let policy = policy.clone();
        workers.spawn(async move {
            let lambda = lambda;
            loop {
                let next = {
                    let mut state = lock(&shared);
                    if state.fates.len() == total {
                        return;
                    }
                    let now = Instant::now();
                    // Lambda discards events older than the maximum age, invoked or not.
                    while let Some(i) = state
                        .queue
                        .iter()
                        .position(|q| now.duration_since(q.queued_at) > policy.max_event_age)
                    {
                        if let Some(old) = state.queue.remove(i) {
                            state.fates.push(EventFate {
                                index: old.index,
                                attempts: old.attempts,
                                latency: now.duration_since(old.queued_at),
                                dead_letter: Some("EventAgeExceeded".into()),
                            });
                        }
                    }
                    if state.fates.len() == total {
                        return;
                    }
                    let ready = state.queue.iter().position(|q| q.not_before <= now);
                    match ready {
                        Some(i) => {
                            state.busy += 1;
                            state.peak = state.peak.max(state.busy);
                            state.invocations += 1;
                            state.queue.remove(i).map(Ok)
                        }
                        None => state.queue.iter().map(|q| q.not_before).min().map(Err),
                    }
                };
                let mut item = match next {
                    Some(Ok(item)) => item,
                    // Nothing due: wait for the earliest retry, or for a new event.
                    Some(Err(due)) => {
                        let _ = tokio::time::timeout_at(due.into(), wake.notified()).await;
                        continue;
                    }
                    None => {
                        let _ =
                            tokio::time::timeout(Duration::from_millis(50), wake.notified()).await;
                        continue;
                    }
                };
                item.attempts += 1;
                let invocation = lambda
                    .invoke_with_timeout(item.event.clone(), policy.timeout)
                    .await;
                let failure = match invocation.outcome {
                    InvokeOutcome::Response(_) => None,
                    InvokeOutcome::Error { error_type, .. } => Some(error_type),
                    InvokeOutcome::Timeout => Some("Timeout".to_string()),
                    InvokeOutcome::Crashed(why) => Some(format!("Crashed: {why}")),
                };
                let mut state = lock(&shared);
                state.busy -= 1;
                let now = Instant::now();
                let age = now.duration_since(item.queued_at);
                match failure {
                    None => state.fates.push(EventFate {
                        index: item.index,
                        attempts: item.attempts,
                        latency: age,
                        dead_letter: None,
                    }),
                    Some(error) => {
                        let retries_used = item.attempts - 1;
                        let delay = policy.retry_delay(item.attempts);
                        if retries_used < policy.max_retries && age + delay <= policy.max_event_age
                        {
                            item.not_before = now + delay;
                            state.queue.push_back(item);
                        } else {
                            state.fates.push(EventFate {
                                index: item.index,
                                attempts: item.attempts,
                                latency: age,
                                dead_letter: Some(error),
                            });
                        }
                    }
                }
                drop(state);
                wake.notify_waiters();
            }
        });
    }
    let _ = publisher.await;
    while workers.join_next().await.is_some() {}
    let state = lock(&shared);
    let mut fates = state.fates.clone();
    fates.sort_by_key(|f| f.index);
    AsyncRun {
        fates,
        invocations: state.invocations,
        peak_concurrency: state.peak,
    }
}

fn lock(shared: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(|p| p.into_inner())
}
