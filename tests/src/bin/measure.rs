//! `make bench`: measures the three functions and the `runtime-floor` echo binary through the
//! Lambda Runtime API, with their AWS calls on the local bench, and writes `bench/results.json`,
//! `bench/results.md` and the whole of `docs/benchmarks.md` (so the page cannot go stale).
//!
//! Run it from the release build (`make bench` does): the binaries it starts are the ones next to
//! it (`target/<triple>/release/`), or those in `ROLLOUT_BIN_DIR`. `--quick` takes a few samples
//! of everything, for checking the harness itself; its figures are not results.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use serde::Serialize;
use serde_json::{Value, json};

use rollout_bench::target::{Behavior, HttpTarget};
use rollout_bench::world::{ReleaseWorld, TEST_PORT};
use rollout_bench::{Bench, ForwardProxy, Invocation, InvokeOutcome, LambdaFn, workspace_root};

const FLOOR: &str = "runtime-floor";
const FUNCTIONS: [&str; 3] = ["validate-traffic", "shift-traffic", "notify-slack"];
const ARCHES: [(&str, &str); 2] = [
    ("x86_64", "x86_64-unknown-linux-gnu"),
    ("arm64", "aarch64-unknown-linux-gnu"),
];
const CONCURRENCY: [u32; 3] = [1, 8, 64];
const ALARM: &str = "checkout-green-5xx";
const MIB: f64 = 1024.0 * 1024.0;

// Targets from issue 7.
const COLD_START_FACTOR: f64 = 1.5;
const RSS_LIMIT_MIB: f64 = 20.0;
const ZIP_LIMIT_MIB: f64 = 4.0;
const PROBE_RATE_TARGET: f64 = 5_000.0;

#[derive(Debug, thiserror::Error)]
enum BenchError {
    /// A measured invocation did not do its job, so its timing would mean nothing.
    #[error("{function}: {what}")]
    Invalid { function: String, what: String },
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("results: {0}")]
    Json(#[from] serde_json::Error),
}

fn invalid(function: &str, what: impl Into<String>) -> BenchError {
    BenchError::Invalid {
        function: function.to_string(),
        what: what.into(),
    }
}

#[derive(Debug, Clone, Copy)]
struct Plan {
    cold_runs: usize,
    warm_runs: usize,
    probe_requests: u32,
    throughput_runs: usize,
    walks: usize,
}

impl Plan {
    const FULL: Plan = Plan {
        cold_runs: 20,
        warm_runs: 200,
        probe_requests: 10_000,
        throughput_runs: 3,
        walks: 5,
    };
    const QUICK: Plan = Plan {
        cold_runs: 3,
        warm_runs: 10,
        probe_requests: 500,
        throughput_runs: 1,
        walks: 1,
    };
}

#[derive(Debug, Serialize)]
struct Results {
    machine: Machine,
    quick: bool,
    /// How the figures were taken, in words.
    method: BTreeMap<&'static str, String>,
    functions: Vec<FunctionResult>,
    probe_throughput: Vec<Throughput>,
    verdict_micro: Vec<MicroBench>,
    shift_steps: Vec<StepResult>,
    targets: Vec<TargetCheck>,
}

#[derive(Debug, Serialize)]
struct Machine {
    nproc: usize,
    cpu: String,
    kernel: String,
    memory_mib: u64,
    date: String,
    /// 1-minute load average before and after: the machine may be shared.
    load_before: String,
    load_after: String,
}

#[derive(Debug, Serialize)]
struct FunctionResult {
    name: String,
    event: String,
    cold_start_ms: Summary,
    /// Spawn → first `invocation/next` request of the cold processes (Lambda's Init Duration).
    init_ms: Summary,
    /// The same with `SSL_CERT_FILE` naming the system bundle, so the trust store is one file
    /// (as on Lambda's images) instead of Debian's directory of one file per root.
    init_bundle_ms: Summary,
    /// AWS calls the first invocation made (the cold start includes them).
    cold_aws_calls: usize,
    warm_ms: Summary,
    warm_aws_calls_per_invocation: f64,
    peak_rss_kib: u64,
    sizes: BTreeMap<String, Size>,
}

#[derive(Debug, Serialize, Clone, Copy)]
struct Summary {
    runs: usize,
    median: f64,
    p99: f64,
    min: f64,
    max: f64,
}

#[derive(Debug, Serialize)]
struct Size {
    bootstrap_bytes: Option<u64>,
    zip_bytes: Option<u64>,
}

#[derive(Debug, Serialize)]
struct Throughput {
    concurrency: u32,
    requests: u32,
    /// Median over the runs of `requests / spent_ms` from the function's verdict log line.
    requests_per_s: f64,
    runs: Vec<f64>,
    /// Requests the local server answered per run (must equal `requests`).
    server_requests: Vec<u64>,
    peak_rss_kib: u64,
}

#[derive(Debug, Serialize)]
struct MicroBench {
    name: String,
    source: String,
    median_us: f64,
    mean_us: f64,
}

#[derive(Debug, Serialize)]
struct StepResult {
    step: usize,
    status: String,
    green_percent: f64,
    aws_calls: usize,
    calls: BTreeMap<String, usize>,
    latency_ms: Summary,
}

#[derive(Debug, Serialize)]
struct TargetCheck {
    target: String,
    subject: String,
    measured: String,
    pass: bool,
    reason: Option<String>,
}

/// What the measurements need from the release world.
struct Ctx {
    bench: Bench,
    world: ReleaseWorld,
    deployment_id: String,
    ciphertext: String,
    proxy_url: String,
    shift_spec: Value,
    slack_event: Value,
    invocation: AtomicU64,
    // Held for the whole run: dropping them stops them.
    _green: HttpTarget,
    _proxy: ForwardProxy,
}

impl Ctx {
    fn env(&self, function: &str) -> Vec<(String, String)> {
        let own: Vec<(&str, &str)> = match function {
            "validate-traffic" => vec![
                ("HTTP_PROXY", self.proxy_url.as_str()),
                ("NO_PROXY", "127.0.0.1,localhost"),
                ("PROBE_PATHS", "/,/health"),
                ("PROBE_REQUESTS", "10"),
                ("PROBE_CONCURRENCY", "4"),
                ("EXPECTED_STATUS", "200-299"),
                ("BODY_CONTAINS", "v2"),
                ("MAX_P95_MS", "500"),
                ("READINESS_TIMEOUT_MS", "0"),
                ("NOTIFICATION_TOPIC_ARN", self.world.topic_arn.as_str()),
            ],
            "shift-traffic" => vec![
                ("NOTIFICATION_TOPIC_ARN", self.world.topic_arn.as_str()),
                ("LEASE_TABLE_NAME", rollout_bench::world::LEASE_TABLE),
            ],
            "notify-slack" => vec![
                ("SLACK_WEBHOOK_URL_ENCRYPTED", self.ciphertext.as_str()),
                ("SLACK_WEBHOOK_ALLOWED_HOSTS", "127.0.0.1"),
                ("SLACK_MENTION", "<!here>"),
            ],
            _ => vec![],
        };
        let mut env = self.bench.aws_env();
        env.extend(own.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        env
    }

    fn describe(function: &str) -> &'static str {
        match function {
            "validate-traffic" => {
                "AfterAllowTestTraffic hook: discovery, 10-request probe, report, SNS event"
            }
            "shift-traffic" => "`status` of a canary spec (reads the listener)",
            "notify-slack" => "CodeDeploy FAILED trigger via SNS → Slack (KMS once per process)",
            _ => "`{\"hello\":\"world\"}` echoed",
        }
    }

    /// A fresh event each time: hook executions take one status, SNS message ids are remembered.
    fn event(&self, function: &str) -> Value {
        let n = self.invocation.fetch_add(1, Ordering::Relaxed);
        match function {
            "validate-traffic" => json!({
                "DeploymentId": self.deployment_id,
                "LifecycleEventHookExecutionId": format!("YmVuY2gtaG9vay{n:010}"),
            }),
            "shift-traffic" => {
                let mut spec = self.shift_spec.clone();
                spec["action"] = json!("status");
                spec
            }
            "notify-slack" => {
                let mut event = self.slack_event.clone();
                event["Records"][0]["Sns"]["MessageId"] =
                    json!(format!("6b0e71bd-7e97-4d97-80ce-{n:012x}"));
                event
            }
            _ => json!({"hello": "world", "n": n}),
        }
    }

    /// Checks the invocation did its job, from what reached the bench.
    fn verify(
        &self,
        function: &str,
        invocation: &Invocation,
        posts_before: usize,
    ) -> Result<(), BenchError> {
        let response = match &invocation.outcome {
            InvokeOutcome::Response(value) => value,
            other => return Err(invalid(function, format!("invocation failed: {other:?}"))),
        };
        match function {
            "validate-traffic" => {
                let reported = self
                    .bench
                    .front
                    .hook_reports()
                    .last()
                    .map(|r| r.status.clone());
                if reported.as_deref() != Some("Succeeded") {
                    return Err(invalid(
                        function,
                        format!("hook reported {reported:?}, response {response}"),
                    ));
                }
            }
            "notify-slack" => {
                let posts = self.bench.slack.posts();
                if posts.len() <= posts_before
                    || !posts.iter().skip(posts_before).all(|p| p.delivered())
                {
                    return Err(invalid(function, "no message delivered to Slack"));
                }
            }
            "shift-traffic" => {
                if response.get("status").is_none() {
                    return Err(invalid(function, format!("no status in {response}")));
                }
            }
            _ => {
                if response.get("hello").is_none() {
                    return Err(invalid(function, format!("echo returned {response}")));
                }
            }
        }
        Ok(())
    }

    async fn start(&self, function: &str) -> LambdaFn {
        self.start_with(function, self.env(function)).await
    }

    async fn start_with(&self, function: &str, env: Vec<(String, String)>) -> LambdaFn {
        LambdaFn::start_with_env(function, LambdaFn::binary_path(function), env).await
    }

    async fn invoke_checked(
        &self,
        function: &str,
        lambda: &LambdaFn,
    ) -> Result<Invocation, BenchError> {
        let posts_before = self.bench.slack.posts().len();
        let invocation = lambda
            .invoke_with_timeout(self.event(function), Duration::from_secs(60))
            .await;
        self.verify(function, &invocation, posts_before)?;
        Ok(invocation)
    }
}

#[tokio::main]
async fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    match run(quick).await {
        Ok(markdown) => println!("{markdown}"),
        Err(err) => {
            eprintln!("measure: {err}");
            std::process::exit(1);
        }
    }
}

async fn run(quick: bool) -> Result<String, BenchError> {
    let plan = if quick { Plan::QUICK } else { Plan::FULL };
    let load_before = load_average();
    eprintln!("measure: starting the bench (moto, AWS front, Slack fake)");
    let ctx = setup().await;

    let mut functions = Vec::new();
    for name in std::iter::once(FLOOR).chain(FUNCTIONS) {
        eprintln!(
            "measure: {name}: {} cold starts, {} warm invocations",
            plan.cold_runs, plan.warm_runs
        );
        functions.push(measure_function(&ctx, name, plan).await?);
    }
    eprintln!("measure: validate-traffic probe throughput");
    let probe_throughput = probe_throughput(&ctx, plan).await?;
    eprintln!("measure: shift-traffic canary walks");
    let shift_steps = canary_walks(&ctx, plan).await?;
    let verdict_micro = verdict_timing();

    let machine = machine(load_before);
    let targets = check_targets(&functions, &probe_throughput);
    let results = Results {
        machine,
        quick,
        method: method(plan),
        functions,
        probe_throughput,
        verdict_micro,
        shift_steps,
        targets,
    };
    let markdown = markdown(&results);
    let dir = workspace_root().join("bench");
    let (json_name, md_name) = if quick {
        ("results-quick.json", "results-quick.md")
    } else {
        ("results.json", "results.md")
    };
    write(&dir, json_name, &serde_json::to_string_pretty(&results)?)?;
    write(&dir, md_name, &markdown)?;
    eprintln!(
        "measure: wrote {} and {}",
        dir.join(json_name).display(),
        dir.join(md_name).display()
    );
    // The documentation's page is results too; a quick run is scratch output and leaves it be.
    if !quick {
        let docs = workspace_root().join("docs");
        write(
            &docs,
            "benchmarks.md",
            &benchmarks_page(&results, &markdown),
        )?;
        eprintln!("measure: wrote {}", docs.join("benchmarks.md").display());
    }
    Ok(markdown)
}

/// `docs/benchmarks.md`, whole: how the figures are taken, this run's tables, and what they
/// miss. Every figure in the prose comes from this run, and a note on a missed target is only
/// written when the target was missed, so the page says what the tables show.
fn benchmarks_page(r: &Results, tables: &str) -> String {
    let floor = r.functions.iter().find(|f| f.name == FLOOR);
    let functions: Vec<&FunctionResult> = r.functions.iter().filter(|f| f.name != FLOOR).collect();
    let per = |value: f64, base: Option<f64>| value / base.unwrap_or(0.0).max(f64::MIN_POSITIVE);
    let range = |values: &[f64]| {
        let low = values.iter().copied().fold(f64::INFINITY, f64::min);
        let high = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        match (format!("{low:.1}"), format!("{high:.1}")) {
            _ if values.is_empty() => "–".to_string(),
            (low, high) if low == high => low,
            (low, high) => format!("{low}–{high}"),
        }
    };
    let missed = |prefix: &str| {
        r.targets
            .iter()
            .any(|t| !t.pass && t.target.starts_with(prefix))
    };
    let cold_runs = r.functions.first().map_or(0, |f| f.cold_start_ms.runs);
    let warm_runs = r.functions.first().map_or(0, |f| f.warm_ms.runs);
    let probe_requests = r
        .probe_throughput
        .iter()
        .map(|t| t.requests)
        .max()
        .unwrap_or(0);

    let mut md = String::new();
    md.push_str("# Benchmarks\n\n");
    md.push_str(
        "<!-- Written by `make bench` (tests/src/bin/measure.rs, `benchmarks_page`) from its own \
         measurements: change the text there, not here. -->\n\n",
    );
    md.push_str(
        "`make bench` builds the release binaries the way `sam build` does (`cargo lambda build \
         --release`, x86_64 and arm64, zip output), then runs `tests/src/bin/measure.rs` from the \
         x86_64 build: each function's release binary runs under the bench's Lambda Runtime API \
         with its AWS calls on moto, next to `runtime-floor` (a minimal `lambda_runtime` echo) \
         measured the same way. It writes `bench/results.json` (machine-readable), \
         `bench/results.md` (the tables) and this page, and prints the tables. From a clean \
         checkout it takes about 40 minutes on 2 cores (two release builds; the measurements \
         themselves take about a minute). `BENCH_ARM64=0 make bench` skips the arm64 build. \
         `measure --quick` only checks the harness: it writes `bench/results-quick.*` (scratch, \
         ignored by git) and leaves this page alone.\n\n",
    );
    md.push_str("## How each figure is taken\n\n");
    let _ = writeln!(
        md,
        "- **Cold start**: spawn of a fresh process → the first invocation's response (median of \
         {cold_runs} processes).\n\
         - **Init**: spawn → the process's first `GET /runtime/invocation/next`, what Lambda \
         reports as Init Duration; measured once as the machine is and once with `SSL_CERT_FILE` \
         naming the system CA bundle.\n\
         - **Warm latency**: {warm_runs} invocations of one process, timed at the Runtime API.\n\
         - **Peak RSS**: `VmHWM` from `/proc/<pid>/status`.\n\
         - **Sizes**: the stripped binary and the `bootstrap.zip` cargo lambda makes.\n\
         - **Probe throughput**: validate-traffic's own figure (requests over `spent_ms` of its \
         `verdict` log line), {probe_requests} requests against a local keep-alive server, checked \
         against the requests the server answered.\n\
         - **shift-traffic's AWS calls** are counted at the bench's AWS front.\n\
         - **The verdict figures** are timed inside the measuring binary, which the same release \
         build makes with the functions' settings; `cargo bench -p validate-traffic --bench \
         verdict` runs the same probe under criterion.\n"
    );
    md.push_str("## Results\n\n");
    md.push_str(tables.trim_end());
    md.push_str("\n\n## What the numbers miss, and why\n\n");

    let floor_cold = floor.map(|f| f.cold_start_ms.median);
    let floor_init = floor.map(|f| f.init_ms.median);
    if missed("cold start") {
        let factors: Vec<f64> = functions
            .iter()
            .map(|f| per(f.cold_start_ms.median, floor_cold))
            .collect();
        let validate_calls = functions
            .iter()
            .find(|f| f.name == "validate-traffic")
            .map_or(0, |f| f.cold_aws_calls);
        let _ = writeln!(
            md,
            "- **Cold start is {}× the floor, not within {COLD_START_FACTOR}×.** The floor answers \
             an echo; each function's first invocation also does its work (validate-traffic: \
             {validate_calls} AWS calls to moto, a Python emulator, plus a 10-request probe; \
             notify-slack: a KMS decrypt and a Slack post; shift-traffic: a `DescribeListeners`). \
             Against moto no function that calls AWS on its first invocation can meet the target, \
             so the bench also measures init on its own.",
            range(&factors)
        );
    }
    if missed("init") {
        let factors: Vec<f64> = functions
            .iter()
            .map(|f| per(f.init_ms.median, floor_init))
            .collect();
        let bundle: Vec<f64> = functions.iter().map(|f| f.init_bundle_ms.median).collect();
        let store = match std::fs::read_dir("/etc/ssl/certs") {
            Ok(entries) => format!(
                "On the measuring machine the store is a bundle plus a directory of one file per \
                 root ({} entries in `/etc/ssl/certs`), and both are read",
                entries.count()
            ),
            Err(_) => "On the measuring machine the store is read from the system's \
                       certificate files"
                .to_string(),
        };
        let _ = writeln!(
            md,
            "- **Init is {}× the floor's, and most of it is the system trust store.** The AWS \
             SDK's HTTPS client loads the system's root certificates when it is built, and \
             validate-traffic and notify-slack build a second HTTPS client (reqwest, for the probe \
             and for Slack) that loads them again. {store}; with `SSL_CERT_FILE` naming the bundle \
             alone, init drops to {} ms (the `SSL_CERT_FILE` row). Amazon Linux keeps its roots in \
             bundle files rather than one file per root, so that row is the closer picture of \
             Lambda's `provided.al2023`; we have not measured on Lambda itself. What remains is \
             parsing the roots (once per client), reading configuration and building the SDK \
             config and clients. Handing one loaded root store to both the SDK and reqwest would \
             save the second load; from a bundle file that is worth about a millisecond, so we \
             have not traded the SDK's own trust-store handling for it.",
            range(&factors),
            range(&bundle)
        );
    }
    if !r.probe_throughput.is_empty() {
        let rss: Vec<f64> = r
            .probe_throughput
            .iter()
            .map(|t| t.peak_rss_kib as f64 / 1024.0)
            .collect();
        let _ = writeln!(
            md,
            "- **validate-traffic's largest probe** (`PROBE_REQUESTS={probe_requests}`, the \
             throughput rows) peaks at {} MiB: a request is created only when one of the \
             `PROBE_CONCURRENCY` slots frees up, so memory follows the concurrency and the stored \
             samples, not the request count.",
            range(&rss)
        );
    }
    md.push_str(
        "- The machine is shared with other builds; the load average is printed with the tables, \
         and figures move by a few percent between runs.\n",
    );
    md
}

fn write(dir: &Path, name: &str, text: &str) -> Result<(), BenchError> {
    let io = |source| BenchError::Io {
        path: dir.join(name).display().to_string(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    std::fs::write(dir.join(name), text).map_err(io)
}

/// The release world of the demo: ALB with prod and test listeners, blue and green target
/// groups, CodeDeploy deployment group and deployment, topic, KMS key, the 5xx alarm.
async fn setup() -> Ctx {
    let bench = Bench::start().await;
    let config = bench.sdk_config().await;
    let world = ReleaseWorld::create(&config).await;
    let deployment_id = world.create_deployment(&config).await;
    create_alarm(&config).await;
    let ciphertext = world
        .encrypt_webhook(&config, &bench.slack.webhook_url(), Some("notify-slack"))
        .await;

    // Green answers through the forward proxy, as the emulated test listener would.
    let green = HttpTarget::start_with(Behavior::ok("checkout v2 ok")).await;
    let proxy = ForwardProxy::start().await;
    proxy.route(
        &format!("{}:{TEST_PORT}", world.load_balancer_dns),
        green.addr(),
    );
    let proxy_url = proxy.url();

    let shift_spec = json!({
        "listener_arn": world.prod_listener_arn,
        "blue_target_group_arn": world.blue_target_group_arn,
        "green_target_group_arn": world.green_target_group_arn,
        "strategy": "Canary10Percent5Minutes",
        "alarms": [ALARM],
        "health_gate": false,
        "bake_seconds": 300,
        // Five minutes become one second: the same calls, without the waits.
        "time_scale": 1.0 / 300.0,
    });
    let slack_event = rollout_bench::event("notify-slack/codedeploy-deployment-failed.json");
    Ctx {
        bench,
        world,
        deployment_id,
        ciphertext,
        proxy_url,
        shift_spec,
        slack_event,
        invocation: AtomicU64::new(1),
        _green: green,
        _proxy: proxy,
    }
}

async fn create_alarm(config: &SdkConfig) {
    use aws_sdk_cloudwatch::types::{ComparisonOperator, Statistic};
    let _ = aws_sdk_cloudwatch::Client::new(config)
        .put_metric_alarm()
        .alarm_name(ALARM)
        .namespace("AWS/ApplicationELB")
        .metric_name("HTTPCode_Target_5XX_Count")
        .statistic(Statistic::Sum)
        .period(60)
        .evaluation_periods(1)
        .threshold(5.0)
        .comparison_operator(ComparisonOperator::GreaterThanThreshold)
        .send()
        .await;
}

async fn measure_function(ctx: &Ctx, name: &str, plan: Plan) -> Result<FunctionResult, BenchError> {
    // Cold: a fresh process per sample, timed from spawn to the first response.
    let mut cold = Vec::with_capacity(plan.cold_runs);
    let mut init = Vec::with_capacity(plan.cold_runs);
    let mut peak_rss_kib = 0;
    let mut cold_aws_calls = 0;
    for _ in 0..plan.cold_runs {
        let calls_before = ctx.bench.front.calls().len();
        let lambda = ctx.start(name).await;
        ctx.invoke_checked(name, &lambda).await?;
        cold.push(ms(lambda.started_at().elapsed()));
        init.extend(lambda.init_duration().map(ms));
        cold_aws_calls = ctx.bench.front.calls().len() - calls_before;
        peak_rss_kib = peak_rss_kib.max(lambda.pid().and_then(vm_hwm_kib).unwrap_or(0));
    }

    // Init again with the trust store read from one bundle file: the difference is the
    // directory scan, which the local machine has and Lambda's images do not.
    let mut init_bundle = Vec::with_capacity(plan.cold_runs);
    if let Some(bundle) = system_ca_bundle() {
        for _ in 0..plan.cold_runs {
            let mut env = ctx.env(name);
            env.push(("SSL_CERT_FILE".into(), bundle.into()));
            let lambda = ctx.start_with(name, env).await;
            ctx.invoke_checked(name, &lambda).await?;
            init_bundle.extend(lambda.init_duration().map(ms));
        }
    }

    // Warm: one process, the first invocation discarded.
    let lambda = ctx.start(name).await;
    ctx.invoke_checked(name, &lambda).await?;
    let calls_before = ctx.bench.front.calls().len();
    let mut warm = Vec::with_capacity(plan.warm_runs);
    for _ in 0..plan.warm_runs {
        let invocation = ctx.invoke_checked(name, &lambda).await?;
        warm.push(ms(invocation.elapsed));
    }
    let warm_calls = ctx.bench.front.calls().len() - calls_before;
    peak_rss_kib = peak_rss_kib.max(lambda.pid().and_then(vm_hwm_kib).unwrap_or(0));

    Ok(FunctionResult {
        name: name.to_string(),
        event: Ctx::describe(name).to_string(),
        cold_start_ms: summary(&cold),
        init_ms: summary(&init),
        init_bundle_ms: summary(&init_bundle),
        cold_aws_calls,
        warm_ms: summary(&warm),
        warm_aws_calls_per_invocation: warm_calls as f64 / plan.warm_runs.max(1) as f64,
        peak_rss_kib,
        sizes: sizes(name),
    })
}

/// validate-traffic against a fast local keep-alive server, `TARGET_URL` set (no discovery, no
/// proxy). The figure is the function's own: requests over `spent_ms` from its verdict line,
/// checked against the requests the server answered.
async fn probe_throughput(ctx: &Ctx, plan: Plan) -> Result<Vec<Throughput>, BenchError> {
    let answered = Arc::new(AtomicU64::new(0));
    let counter = answered.clone();
    let router = axum::Router::new().fallback(move || {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, Ordering::Relaxed);
            "checkout v2 ok"
        }
    });
    let listener = rollout_bench::bind_local().await;
    let url = format!(
        "http://{}",
        listener.local_addr().map_err(|source| BenchError::Io {
            path: "local server".into(),
            source
        })?
    );
    rollout_bench::serve(listener, router);

    let name = "validate-traffic";
    let mut out = Vec::new();
    for concurrency in CONCURRENCY {
        let mut env = ctx.bench.aws_env();
        for (k, v) in [
            ("TARGET_URL", url.clone()),
            ("PROBE_REQUESTS", plan.probe_requests.to_string()),
            ("PROBE_CONCURRENCY", concurrency.to_string()),
            ("EXPECTED_STATUS", "200".into()),
            ("BODY_CONTAINS", "v2".into()),
            ("READINESS_TIMEOUT_MS", "0".into()),
        ] {
            env.push((k.to_string(), v));
        }
        let lambda = ctx.start_with(name, env).await;
        // The first run opens the connections; it is not counted.
        ctx.invoke_checked(name, &lambda).await?;
        let mut runs = Vec::new();
        let mut server_requests = Vec::new();
        for _ in 0..plan.throughput_runs {
            let before = answered.load(Ordering::Relaxed);
            ctx.invoke_checked(name, &lambda).await?;
            let served = answered.load(Ordering::Relaxed) - before;
            let verdict = last_record(&lambda, "verdict")
                .ok_or_else(|| invalid(name, "no verdict log line"))?;
            let requests = verdict.get("requests").and_then(Value::as_u64).unwrap_or(0);
            let spent_ms = verdict.get("spent_ms").and_then(Value::as_u64).unwrap_or(0);
            if requests != u64::from(plan.probe_requests) || served != requests {
                return Err(invalid(
                    name,
                    format!("probe counted {requests} requests, the server answered {served}"),
                ));
            }
            runs.push(requests as f64 * 1000.0 / spent_ms.max(1) as f64);
            server_requests.push(served);
        }
        out.push(Throughput {
            concurrency,
            requests: plan.probe_requests,
            requests_per_s: median(&runs),
            runs,
            server_requests,
            peak_rss_kib: lambda.pid().and_then(vm_hwm_kib).unwrap_or(0),
        });
    }
    Ok(out)
}

fn last_record(lambda: &LambdaFn, message: &str) -> Option<Value> {
    lambda
        .log_records()
        .into_iter()
        .rev()
        .map(|r| r.get("fields").cloned().unwrap_or(r))
        .find(|f| f.get("message").and_then(Value::as_str) == Some(message))
}

/// One step's figures over the walks; the calls by operation are those of the first walk.
struct StepSamples {
    status: String,
    green_percent: f64,
    calls: BTreeMap<String, usize>,
    latencies: Vec<f64>,
    counts: Vec<usize>,
}

/// Whole canary walks (start, steps, bake check), each followed by a rollback that is not
/// counted. Calls are counted at the AWS front.
async fn canary_walks(ctx: &Ctx, plan: Plan) -> Result<Vec<StepResult>, BenchError> {
    let name = "shift-traffic";
    let lambda = ctx.start(name).await;
    ctx.invoke_checked(name, &lambda).await?;
    let mut steps: Vec<StepSamples> = Vec::new();
    for _ in 0..plan.walks {
        let mut input = ctx.shift_spec.clone();
        input["action"] = json!("start");
        for index in 0.. {
            if index >= 20 {
                return Err(invalid(name, "the canary did not finish in 20 steps"));
            }
            let before = ctx.bench.front.calls().len();
            let invocation = lambda.invoke(input.clone()).await;
            let InvokeOutcome::Response(out) = invocation.outcome.clone() else {
                return Err(invalid(
                    name,
                    format!("step {index}: {:?}", invocation.outcome),
                ));
            };
            let calls = ctx.bench.front.calls()[before..].to_vec();
            let status = out
                .get("status")
                .and_then(Value::as_str)
                .unwrap_or("?")
                .to_string();
            if status == "RolledBack" {
                return Err(invalid(name, format!("step {index} rolled back: {out}")));
            }
            if steps.len() <= index {
                let mut by_operation = BTreeMap::new();
                for call in &calls {
                    *by_operation.entry(call.operation.clone()).or_insert(0) += 1;
                }
                let green = out
                    .get("green_percent")
                    .and_then(Value::as_f64)
                    .unwrap_or(0.0);
                steps.push(StepSamples {
                    status,
                    green_percent: green,
                    calls: by_operation,
                    latencies: Vec::new(),
                    counts: Vec::new(),
                });
            }
            steps[index].latencies.push(ms(invocation.elapsed));
            steps[index].counts.push(calls.len());
            if out.get("done").and_then(Value::as_bool).unwrap_or(true) {
                break;
            }
            let wait = out.get("wait_seconds").and_then(Value::as_u64).unwrap_or(0);
            tokio::time::sleep(Duration::from_secs(wait)).await;
            input = out;
        }
        let mut reset = ctx.shift_spec.clone();
        reset["action"] = json!("rollback");
        reset["reason"] = json!("benchmark reset");
        if !lambda.invoke(reset).await.is_ok() {
            return Err(invalid(name, "rollback between walks failed"));
        }
    }
    Ok(steps
        .into_iter()
        .enumerate()
        .map(|(step, samples)| StepResult {
            step,
            status: samples.status,
            green_percent: samples.green_percent,
            aws_calls: samples.counts.iter().copied().max().unwrap_or(0),
            calls: samples.calls,
            latency_ms: summary(&samples.latencies),
        })
        .collect())
}

/// validate-traffic's verdict over 10,000 samples (the most a probe may send), timed here
/// because this binary is built with the function's release settings in the same build; the
/// criterion benchmark (`cargo bench -p validate-traffic --bench verdict`) judges the same probe.
fn verdict_timing() -> Vec<MicroBench> {
    use validate_traffic::verdict::{
        Expectations, SampleResult, StatusSet, Thresholds, classify, judge,
    };
    let samples = verdict_probe::samples();
    let thresholds = Thresholds {
        min_success_ratio: 0.98,
        max_p95: Some(Duration::from_millis(500)),
        max_p99: Some(Duration::from_millis(1_000)),
    };
    let responses = verdict_probe::responses();
    let expect = Expectations {
        status: StatusSet::parse("200-299").unwrap_or_else(|_| unreachable!("a valid set")),
        body_contains: Some("checkout".into()),
        body_regex: regex::Regex::new(r#""version":"v2\.\d+""#).ok(),
    };
    vec![
        time_it("judge_10000_samples", || {
            judge(black_box(&samples), black_box(&thresholds))
        }),
        time_it("classify_10000_responses", || {
            responses
                .iter()
                .map(|(status, body)| classify(*status, black_box(body), &expect))
                .filter(|r| matches!(r, SampleResult::Passed { .. }))
                .count()
        }),
    ]
}

/// Median and mean per call over 50 batches of 10 calls, after 20 calls of warm-up.
fn time_it<T>(name: &str, mut f: impl FnMut() -> T) -> MicroBench {
    for _ in 0..20 {
        black_box(f());
    }
    let per_call: Vec<f64> = (0..50)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..10 {
                black_box(f());
            }
            started.elapsed().as_secs_f64() * 1e6 / 10.0
        })
        .collect();
    MicroBench {
        name: name.to_string(),
        source: "measure binary (release build), 50 batches of 10 calls".into(),
        median_us: median(&per_call),
        mean_us: per_call.iter().sum::<f64>() / per_call.len() as f64,
    }
}

/// The probe of `functions/validate-traffic/benches/verdict.rs`, built the same way.
mod verdict_probe {
    use std::time::Duration;

    use validate_traffic::verdict::{Sample, SampleResult};

    const SAMPLES: usize = 10_000;

    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            self.0 >> 33
        }
    }

    /// About 1 % errors and 0.2 % timeouts, latencies over 1–80 ms.
    pub fn samples() -> Vec<Sample> {
        let paths = ["/", "/health", "/api/orders?limit=5"];
        let mut rng = Lcg(0x5eed);
        (0..SAMPLES)
            .map(|i| {
                let result = match rng.next() % 1000 {
                    0..=1 => SampleResult::Timeout,
                    2..=11 => SampleResult::UnexpectedStatus {
                        status: 503,
                        excerpt: "upstream connect error or disconnect/reset before headers".into(),
                    },
                    _ => SampleResult::Passed { status: 200 },
                };
                Sample {
                    path: paths[i % paths.len()].to_string(),
                    latency: Duration::from_micros(1_000 + rng.next() % 79_000),
                    result,
                }
            })
            .collect()
    }

    pub fn responses() -> Vec<(u16, String)> {
        let mut rng = Lcg(0xb0d1e5);
        (0..SAMPLES)
            .map(|i| {
                let status = if rng.next().is_multiple_of(100) {
                    500
                } else {
                    200
                };
                let body = format!(
                    "{{\"service\":\"checkout\",\"version\":\"v2.{}\",\"orders\":[0,1,2,3,4]}}",
                    i % 7
                );
                (status, body)
            })
            .collect()
    }
}

/// The system's CA bundle file (Debian's, then Amazon Linux's path).
fn system_ca_bundle() -> Option<&'static str> {
    [
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
    ]
    .into_iter()
    .find(|path| Path::new(path).is_file())
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// `cargo lambda build --release` output: the stripped binary and the zip of `bootstrap`.
fn sizes(name: &str) -> BTreeMap<String, Size> {
    let target = target_dir();
    let len = |path: PathBuf| std::fs::metadata(path).ok().map(|m| m.len());
    ARCHES
        .iter()
        .map(|(arch, triple)| {
            (arch.to_string(), {
                let zip_bytes = len(target
                    .join("lambda")
                    .join(arch)
                    .join(name)
                    .join("bootstrap.zip"));
                // No zip means no build for this arch: an older binary would mislead.
                let bootstrap_bytes =
                    zip_bytes.and_then(|_| len(target.join(triple).join("release").join(name)));
                Size {
                    bootstrap_bytes,
                    zip_bytes,
                }
            })
        })
        .collect()
}

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn summary(values: &[f64]) -> Summary {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = |pct: f64| {
        let i = ((pct / 100.0) * sorted.len() as f64).ceil() as usize;
        sorted
            .get(i.clamp(1, sorted.len().max(1)) - 1)
            .copied()
            .unwrap_or(0.0)
    };
    Summary {
        runs: sorted.len(),
        median: median(&sorted),
        p99: rank(99.0),
        min: sorted.first().copied().unwrap_or(0.0),
        max: sorted.last().copied().unwrap_or(0.0),
    }
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

fn machine(load_before: String) -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|rest| rest.trim_start_matches([' ', '\t', ':']).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let memory_mib = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map(|kib| kib / 1024)
        .unwrap_or(0);
    let date = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    Machine {
        nproc: std::thread::available_parallelism().map_or(1, |n| n.get()),
        cpu,
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim()
            .to_string(),
        memory_mib,
        date,
        load_before,
        load_after: load_average(),
    }
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .next()
        .unwrap_or("?")
        .to_string()
}

fn method(plan: Plan) -> BTreeMap<&'static str, String> {
    BTreeMap::from([
        ("cold_start", format!("spawn of a fresh process under the bench's Runtime API → first invocation's response; median of {} processes", plan.cold_runs)),
        ("init", "spawn of the same fresh processes → their first GET /runtime/invocation/next (what Lambda reports as Init Duration)".into()),
        ("init_bundle", "init again with SSL_CERT_FILE set to the system CA bundle, so the TLS stacks read one file instead of the certificate directory".into()),
        ("warm", format!("{} invocations of one process after a discarded first one, timed at the Runtime API (event queued → response)", plan.warm_runs)),
        ("peak_rss", "VmHWM of /proc/<pid>/status after the warm invocations (and the highest of the cold processes)".into()),
        ("sizes", "target/<triple>/release/<bin> (profile strip = true) and target/lambda/<arch>/<bin>/bootstrap.zip from cargo lambda build --release --output-format zip".into()),
        ("probe_throughput", format!("validate-traffic with TARGET_URL on a local keep-alive axum server, {} requests per run, median of {} runs after a discarded one; requests / spent_ms of the verdict log line (includes the GetDeployment lookup)", plan.probe_requests, plan.throughput_runs)),
        ("verdict_micro", "validate_traffic::verdict timed in this binary (same release build as the functions), on the probe of benches/verdict.rs".into()),
        ("shift_steps", format!("{} canary walks (Canary10Percent5Minutes, alarm gate, time_scale 1/300); AWS calls counted at the bench's AWS front", plan.walks)),
    ])
}

fn check_targets(functions: &[FunctionResult], throughput: &[Throughput]) -> Vec<TargetCheck> {
    let mut checks = Vec::new();
    let floor = functions.iter().find(|f| f.name == FLOOR);
    let floor_cold = floor.map_or(0.0, |f| f.cold_start_ms.median);
    let floor_warm = floor.map_or(0.0, |f| f.warm_ms.median);
    let floor_init = floor.map_or(0.0, |f| f.init_ms.median);
    for f in functions.iter().filter(|f| f.name != FLOOR) {
        let factor = f.cold_start_ms.median / floor_cold.max(f64::MIN_POSITIVE);
        let pass = factor <= COLD_START_FACTOR;
        // What start-up itself costs: the cold first invocation minus the same work warm.
        let startup = f.cold_start_ms.median - f.warm_ms.median;
        let floor_startup = floor_cold - floor_warm;
        checks.push(TargetCheck {
            target: format!("cold start ≤ {COLD_START_FACTOR}× floor"),
            subject: f.name.clone(),
            measured: format!(
                "{:.1} ms = {factor:.1}× floor ({floor_cold:.1} ms)",
                f.cold_start_ms.median
            ),
            pass,
            reason: (!pass).then(|| {
                format!(
                    "the first invocation does the function's work: {} AWS calls to moto (a Python emulator) and its HTTP, {:.1} ms warm; start-up alone (cold − warm) is {startup:.1} ms against the floor's {floor_startup:.1} ms",
                    f.cold_aws_calls, f.warm_ms.median
                )
            }),
        });
        let init_factor = f.init_ms.median / floor_init.max(f64::MIN_POSITIVE);
        let init_pass = init_factor <= COLD_START_FACTOR;
        checks.push(TargetCheck {
            target: format!("init ≤ {COLD_START_FACTOR}× floor's init"),
            subject: f.name.clone(),
            measured: format!(
                "{:.1} ms = {init_factor:.1}× floor ({floor_init:.1} ms)",
                f.init_ms.median
            ),
            pass: init_pass,
            reason: (!init_pass).then(|| {
                format!(
                    "most of init is loading the system trust store (the AWS SDK loads it, and a function with its own HTTP client loads it again); from one bundle file init is {:.1} ms, the rest is configuration and building the SDK config and clients",
                    f.init_bundle_ms.median
                )
            }),
        });
        let rss = f.peak_rss_kib as f64 / 1024.0;
        checks.push(TargetCheck {
            target: format!("peak RSS < {RSS_LIMIT_MIB} MiB"),
            subject: f.name.clone(),
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
                subject: f.name.clone(),
                measured,
                pass,
                reason,
            });
        }
    }
    if let Some(t) = throughput.iter().find(|t| t.concurrency == 64) {
        let pass = t.requests_per_s >= PROBE_RATE_TARGET;
        checks.push(TargetCheck {
            target: format!("≥ {PROBE_RATE_TARGET:.0} probe requests/s at concurrency 64"),
            subject: "validate-traffic".into(),
            measured: format!("{:.0} requests/s", t.requests_per_s),
            pass,
            reason: (!pass).then(|| "see the notes".to_string()),
        });
    }
    checks
}

fn mib(bytes: Option<u64>) -> String {
    bytes.map_or("–".into(), |b| format!("{:.2}", b as f64 / MIB))
}

fn markdown(r: &Results) -> String {
    let mut md = String::new();
    let m = &r.machine;
    let _ = writeln!(
        md,
        "Measured {} on {} × {} ({} MiB RAM), Linux {}; 1-minute load {} before, {} after (the machine is shared).{}\n",
        m.date,
        m.nproc,
        m.cpu,
        m.memory_mib,
        m.kernel,
        m.load_before,
        m.load_after,
        if r.quick {
            " **Quick run: not results.**"
        } else {
            ""
        }
    );
    let names: Vec<&str> = r.functions.iter().map(|f| f.name.as_str()).collect();
    let _ = writeln!(md, "| | {} |", names.join(" | "));
    let _ = writeln!(md, "|---|{}", "---:|".repeat(names.len()));
    let row = |md: &mut String, label: &str, cell: &dyn Fn(&FunctionResult) -> String| {
        let cells: Vec<String> = r.functions.iter().map(cell).collect();
        let _ = writeln!(md, "| {label} | {} |", cells.join(" | "));
    };
    let cold_runs = r.functions.first().map_or(0, |f| f.cold_start_ms.runs);
    let warm_runs = r.functions.first().map_or(0, |f| f.warm_ms.runs);
    row(
        &mut md,
        &format!("cold start, median of {cold_runs} (ms)"),
        &|f| format!("{:.1}", f.cold_start_ms.median),
    );
    row(
        &mut md,
        "init: spawn → first poll of the Runtime API, median (ms)",
        &|f| format!("{:.1}", f.init_ms.median),
    );
    row(
        &mut md,
        "init, trust store from one bundle file (`SSL_CERT_FILE`), median (ms)",
        &|f| format!("{:.1}", f.init_bundle_ms.median),
    );
    row(&mut md, "AWS calls in the first invocation", &|f| {
        f.cold_aws_calls.to_string()
    });
    row(
        &mut md,
        &format!("warm invocation, median of {warm_runs} (ms)"),
        &|f| format!("{:.2}", f.warm_ms.median),
    );
    row(&mut md, "warm invocation, p99 (ms)", &|f| {
        format!("{:.2}", f.warm_ms.p99)
    });
    row(&mut md, "peak RSS (MiB)", &|f| {
        format!("{:.1}", f.peak_rss_kib as f64 / 1024.0)
    });
    for (arch, _) in ARCHES {
        row(
            &mut md,
            &format!("bootstrap, stripped, {arch} (MiB)"),
            &|f| mib(f.sizes.get(arch).and_then(|s| s.bootstrap_bytes)),
        );
        row(&mut md, &format!("zip, {arch} (MiB)"), &|f| {
            mib(f.sizes.get(arch).and_then(|s| s.zip_bytes))
        });
    }
    let _ = writeln!(
        md,
        "\nEvents: {}.\n",
        r.functions
            .iter()
            .filter(|f| f.name != FLOOR)
            .map(|f| format!("{}: {}", f.name, f.event))
            .collect::<Vec<_>>()
            .join("; ")
    );

    let _ = writeln!(
        md,
        "**validate-traffic probe throughput** (local keep-alive HTTP server, `TARGET_URL`):\n"
    );
    let _ = writeln!(
        md,
        "| concurrency | requests per run | requests/s (median) | peak RSS (MiB) |"
    );
    let _ = writeln!(md, "|---:|---:|---:|---:|");
    for t in &r.probe_throughput {
        let _ = writeln!(
            md,
            "| {} | {} | {:.0} | {:.1} |",
            t.concurrency,
            t.requests,
            t.requests_per_s,
            t.peak_rss_kib as f64 / 1024.0
        );
    }
    {
        let _ = writeln!(
            md,
            "\n**validate-traffic verdict, 10,000 samples** (timed in the {} build of the measuring binary):\n",
            if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            }
        );
        let _ = writeln!(md, "| benchmark | median (µs) | mean (µs) |");
        let _ = writeln!(md, "|---|---:|---:|");
        for b in &r.verdict_micro {
            let _ = writeln!(md, "| {} | {:.1} | {:.1} |", b.name, b.median_us, b.mean_us);
        }
    }
    let walks = r.shift_steps.first().map_or(0, |s| s.latency_ms.runs);
    let _ = writeln!(
        md,
        "\n**shift-traffic per step** (Canary10Percent5Minutes with an alarm gate, {walks} walks):\n"
    );
    let _ = writeln!(
        md,
        "| step | status | green % | AWS calls | calls | latency median (ms) | max (ms) |"
    );
    let _ = writeln!(md, "|---:|---|---:|---:|---|---:|---:|");
    for s in &r.shift_steps {
        let calls: Vec<String> = s.calls.iter().map(|(op, n)| format!("{op} ×{n}")).collect();
        let _ = writeln!(
            md,
            "| {} | {} | {:.0} | {} | {} | {:.1} | {:.1} |",
            s.step,
            s.status,
            s.green_percent,
            s.aws_calls,
            calls.join(", "),
            s.latency_ms.median,
            s.latency_ms.max
        );
    }
    let _ = writeln!(md, "\n**Targets:**\n");
    let _ = writeln!(md, "| target | function | measured | result |");
    let _ = writeln!(md, "|---|---|---|---|");
    for t in &r.targets {
        let result = match (&t.pass, &t.reason) {
            (true, _) => "pass".to_string(),
            (false, Some(reason)) => format!("**miss**: {reason}"),
            (false, None) => "**miss**".to_string(),
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} | {result} |",
            t.target, t.subject, t.measured
        );
    }
    md
}
