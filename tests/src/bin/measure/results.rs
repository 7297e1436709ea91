//! What a run produced (serialized as `bench/results.json`: the field order is the file's),
//! how each figure was taken (`method`), and the targets of issue 7 it is held to.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::Plan;
use crate::host::{Machine, Size};
use crate::stats::Summary;
use crate::subjects::{FLOOR, VALIDATE_TRAFFIC};

pub const MIB: f64 = 1024.0 * 1024.0;

// Targets: memory, size and probe rate from issue 7; init and start-up from issue 13, which
// replaced issue 7's "cold start ≤ 1.5× floor" (a cold start against moto is mostly moto's).
/// Init (Lambda's Init Duration) within this many times the floor's.
pub const INIT_FACTOR: f64 = 2.0;
/// Cold start less the AWS calls' own time within this many times the floor's cold start.
pub const STARTUP_FACTOR: f64 = 3.0;
pub const RSS_LIMIT_MIB: f64 = 20.0;
pub const ZIP_LIMIT_MIB: f64 = 4.0;
pub const PROBE_RATE_TARGET: f64 = 5_000.0;

#[derive(Debug, Serialize)]
pub struct Results {
    pub machine: Machine,
    pub quick: bool,
    /// How the figures were taken, in words.
    pub method: BTreeMap<&'static str, String>,
    pub functions: Vec<FunctionResult>,
    pub probe_throughput: Vec<Throughput>,
    pub verdict_micro: Vec<MicroBench>,
    pub shift_steps: Vec<StepResult>,
    pub state_machine: crate::machine_figures::MachineResult,
    pub burst: BurstResult,
    pub targets: Vec<TargetCheck>,
}

/// notify-slack under a burst, through the topic's queue as the template's SQS trigger polls it.
#[derive(Debug, Serialize)]
pub struct BurstResult {
    pub events: usize,
    pub window_s: f64,
    /// Pollers at once: the trigger's maximum concurrency (= reserved concurrency).
    pub concurrency: usize,
    /// The trigger's batching window.
    pub batch_window_s: f64,
    /// Slack's pace: messages a second sustained, and the burst it allows.
    pub slack_per_second: f64,
    pub slack_burst: u32,
    pub delivered: usize,
    /// Notifications received more than once (a batch item failure, or a whole batch returned).
    pub retried: usize,
    pub dead_lettered: usize,
    /// Neither delivered nor dead-lettered when the run gave up.
    pub lost: usize,
    pub invocations: usize,
    /// Messages in the channel.
    pub slack_posts: usize,
    /// Instance events the channel's messages account for (each must be counted once).
    pub accounted: usize,
    /// Posts Slack refused with 429.
    pub refused: usize,
    pub largest_delay_s: f64,
    pub duration_s: f64,
}

#[derive(Debug, Serialize)]
pub struct FunctionResult {
    pub name: String,
    /// The binary measured (two subjects may share one).
    pub binary: String,
    /// Held to the start-up target (`STARTUP_FACTOR`).
    pub startup_target: bool,
    pub event: String,
    pub cold_start_ms: Summary,
    /// The AWS calls' own time within each cold invocation: what the bench's AWS front (and moto
    /// behind it) spent answering them, summed.
    pub cold_aws_ms: Summary,
    /// Cold start less that time, per process: start-up plus the function's own work.
    pub cold_less_aws_ms: Summary,
    /// Minor page faults of each cold process by the end of its first invocation.
    pub cold_minor_faults: Summary,
    /// Spawn → first `invocation/next` request of the cold processes (Lambda's Init Duration).
    pub init_ms: Summary,
    /// The same with `SSL_CERT_FILE` naming the whole system bundle: the cost of extra roots
    /// at its worst (a private CA's bundle holds one or a few).
    pub init_bundle_ms: Summary,
    /// AWS calls the first invocation made (the cold start includes them).
    pub cold_aws_calls: usize,
    pub warm_ms: Summary,
    pub warm_aws_calls_per_invocation: f64,
    pub peak_rss_kib: u64,
    pub sizes: BTreeMap<String, Size>,
}

#[derive(Debug, Serialize)]
pub struct Throughput {
    pub concurrency: u32,
    pub requests: u32,
    /// Median over the runs of `requests / spent_ms` from the function's verdict log line.
    pub requests_per_s: f64,
    pub runs: Vec<f64>,
    /// Requests the local server answered per run (must equal `requests`).
    pub server_requests: Vec<u64>,
    pub peak_rss_kib: u64,
}

#[derive(Debug, Serialize)]
pub struct MicroBench {
    pub name: String,
    pub source: String,
    pub median_us: f64,
    pub mean_us: f64,
}

#[derive(Debug, Serialize)]
pub struct StepResult {
    pub step: usize,
    pub status: String,
    pub green_percent: f64,
    pub aws_calls: usize,
    pub calls: BTreeMap<String, usize>,
    pub latency_ms: Summary,
}

#[derive(Debug, Serialize)]
pub struct TargetCheck {
    pub target: String,
    pub subject: String,
    pub measured: String,
    pub pass: bool,
    pub reason: Option<String>,
}

pub fn method(plan: Plan) -> BTreeMap<&'static str, String> {
    BTreeMap::from([
        ("cold_start", format!("spawn of a fresh process under the bench's Runtime API → first invocation's response; median of {} processes", plan.cold_runs)),
        ("init", "spawn of the same fresh processes → their first GET /runtime/invocation/next (what Lambda reports as Init Duration)".into()),
        ("cold_minor_faults", "minflt of /proc/<pid>/stat of each cold process after its first invocation".into()),
        ("cold_less_aws", "per cold process: cold start less the time the bench's AWS front (and moto behind it) spent answering that invocation's calls".into()),
        ("init_bundle", "init again with SSL_CERT_FILE naming the system CA bundle: every root in it parsed and trusted on top of the compiled-in roots".into()),
        ("warm", format!("{} invocations of one process after a discarded first one, timed at the Runtime API (event queued → response)", plan.warm_runs)),
        ("peak_rss", "VmHWM of /proc/<pid>/status after the warm invocations (and the highest of the cold processes)".into()),
        ("sizes", "target/<triple>/release/<bin> (profile strip = true) and target/lambda/<arch>/<bin>/bootstrap.zip from cargo lambda build --release --output-format zip".into()),
        ("probe_throughput", format!("validate-traffic with TARGET_URL on a local keep-alive axum server, {} requests per run, median of {} runs after a discarded one; requests / spent_ms of the verdict log line (includes the GetDeployment lookup)", plan.probe_requests, plan.throughput_runs)),
        ("verdict_micro", "validate_traffic::verdict timed in this binary (same release build as the functions), on the probe of benches/verdict.rs".into()),
        ("burst", format!("{} instance-level CodeDeploy triggers of one deployment within {:?}, published to a moto topic that feeds a queue, polled as the template's SQS trigger polls it (tests/src/sqs_source.rs: maximum concurrency 2, batches of up to 100 gathered for 5 s, partial batch responses, visibility timeout 360 s, dead-letter queue after 5 receives) and posted to the Slack fake limited to 1 message/s (429 with Retry-After beyond it)", plan.burst_events, plan.burst_window)),
        ("state_machine", "statemachine/rollout.asl.json run by the bench's interpreter (tests/src/asl.rs) against the shift-traffic binary: Canary10Percent2Minutes at time_scale 1/10 watched every second (10 s scaled), the alarm set to ALARM after the first watch, timed to the rollback step's verified write; then a whole Canary10Percent15Minutes rollout at 1/30 with the default watch (30 s), its transitions counted (each state visit, as Step Functions bills them) and restated at AWS timing (29 watches in 15 minutes)".into()),
        ("shift_steps", format!("{} canary walks (Canary10Percent5Minutes, alarm gate, time_scale 1/300); AWS calls counted at the bench's AWS front", plan.walks)),
    ])
}

pub fn check_targets(
    functions: &[FunctionResult],
    throughput: &[Throughput],
    burst: &BurstResult,
) -> Vec<TargetCheck> {
    let mut checks = Vec::new();
    let floor = functions.iter().find(|f| f.name == FLOOR.name);
    let floor_cold = floor.map_or(0.0, |f| f.cold_start_ms.median);
    let floor_init = floor.map_or(0.0, |f| f.init_ms.median);
    let mut binaries_checked = Vec::new();
    for f in functions.iter().filter(|f| f.name != FLOOR.name) {
        if f.startup_target {
            let limit = STARTUP_FACTOR * floor_cold;
            let measured = f.cold_less_aws_ms.median;
            let pass = measured <= limit;
            checks.push(TargetCheck {
                target: format!(
                    "cold start − AWS calls' time ≤ {STARTUP_FACTOR}× floor's cold start"
                ),
                subject: f.name.clone(),
                measured: format!(
                    "{:.1} ms − {:.1} ms = {measured:.1} ms; limit {limit:.1} ms ({STARTUP_FACTOR}× {floor_cold:.1} ms)",
                    f.cold_start_ms.median, f.cold_aws_ms.median
                ),
                pass,
                reason: (!pass).then(|| "see the notes".to_string()),
            });
        }
        // Init, memory and size belong to the binary: checked once per binary.
        if binaries_checked.contains(&f.binary) {
            continue;
        }
        binaries_checked.push(f.binary.clone());
        let init_factor = f.init_ms.median / floor_init.max(f64::MIN_POSITIVE);
        let init_pass = init_factor <= INIT_FACTOR;
        checks.push(TargetCheck {
            target: format!("init ≤ {INIT_FACTOR}× floor's init"),
            subject: f.binary.clone(),
            measured: format!(
                "{:.1} ms = {init_factor:.1}× floor ({floor_init:.1} ms)",
                f.init_ms.median
            ),
            pass: init_pass,
            reason: (!init_pass).then(|| "see the notes".to_string()),
        });
        let rss = f.peak_rss_kib as f64 / 1024.0;
        checks.push(TargetCheck {
            target: format!("peak RSS < {RSS_LIMIT_MIB} MiB"),
            subject: f.binary.clone(),
            measured: format!("{rss:.1} MiB"),
            pass: rss < RSS_LIMIT_MIB && f.peak_rss_kib > 0,
            reason: (rss >= RSS_LIMIT_MIB).then(|| "see the notes".to_string()),
        });
        for (arch, size) in &f.sizes {
            let (pass, measured, reason) = match size.zip_bytes {
                Some(bytes) => {
                    let mib = bytes as f64 / MIB;
                    (
                        mib < ZIP_LIMIT_MIB,
                        format!("{mib:.2} MiB"),
                        (mib >= ZIP_LIMIT_MIB).then(|| "see the notes".to_string()),
                    )
                }
                None => (
                    false,
                    "not built".into(),
                    Some(format!(
                        "no {arch} zip: cargo lambda build for {arch} did not run"
                    )),
                ),
            };
            checks.push(TargetCheck {
                target: format!("zip < {ZIP_LIMIT_MIB} MiB ({arch})"),
                subject: f.binary.clone(),
                measured,
                pass,
                reason,
            });
        }
    }
    let whole = burst.delivered == burst.events
        && burst.dead_lettered == 0
        && burst.lost == 0
        && burst.accounted == burst.events;
    checks.push(TargetCheck {
        target: format!(
            "a burst of {} notifications in {:.0} s: nothing lost or dead-lettered, each in one Slack message",
            burst.events, burst.window_s
        ),
        subject: "notify-slack".into(),
        measured: format!(
            "{} delivered in {} Slack messages accounting for {}, {} dead-lettered",
            burst.delivered, burst.slack_posts, burst.accounted, burst.dead_lettered
        ),
        pass: whole,
        reason: (!whole).then(|| "see the burst table".to_string()),
    });
    if let Some(t) = throughput.iter().find(|t| t.concurrency == 64) {
        let pass = t.requests_per_s >= PROBE_RATE_TARGET;
        checks.push(TargetCheck {
            target: format!("≥ {PROBE_RATE_TARGET:.0} probe requests/s at concurrency 64"),
            subject: VALIDATE_TRAFFIC.name.into(),
            measured: format!("{:.0} requests/s", t.requests_per_s),
            pass,
            reason: (!pass).then(|| "see the notes".to_string()),
        });
    }
    checks
}
