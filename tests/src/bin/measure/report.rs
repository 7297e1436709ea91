//! The tables (`bench/results.md`, printed) and the page `docs/benchmarks.md`, from a run's
//! [`Results`].

use std::fmt::Write as _;

use crate::host::ARCHES;
use crate::results::{FunctionResult, INIT_FACTOR, MIB, Results, STARTUP_FACTOR};
use crate::subjects::FLOOR;

fn mib(bytes: Option<u64>) -> String {
    bytes.map_or("–".into(), |b| format!("{:.2}", b as f64 / MIB))
}

pub fn markdown(r: &Results) -> String {
    let mut md = String::new();
    let m = &r.machine;
    let _ = writeln!(
        md,
        "Measured {} at commit `{}` on {} × {} ({} MiB RAM), Linux {}; 1-minute load {} before, {} after (the machine is shared).{}\n",
        m.date,
        m.commit,
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
        "AWS calls' own time in the cold invocation, median (ms)",
        &|f| format!("{:.1}", f.cold_aws_ms.median),
    );
    row(
        &mut md,
        "cold start − AWS calls' time, median (ms)",
        &|f| format!("{:.1}", f.cold_less_aws_ms.median),
    );
    row(
        &mut md,
        "init: spawn → first poll of the Runtime API, median (ms)",
        &|f| format!("{:.1}", f.init_ms.median),
    );
    row(
        &mut md,
        "page faults by the end of the first invocation, median",
        &|f| format!("{:.0}", f.cold_minor_faults.median),
    );
    row(
        &mut md,
        "init with `SSL_CERT_FILE` naming the system bundle, median (ms)",
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
            .filter(|f| f.name != FLOOR.name)
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
    let m = &r.state_machine;
    let _ = writeln!(
        md,
        "\n**shift-traffic's state machine** (`statemachine/rollout.asl.json` in the bench's \
         interpreter, the real binary, moto):\n"
    );
    let _ = writeln!(md, "| figure | value |");
    let _ = writeln!(md, "|---|---:|");
    let _ = writeln!(
        md,
        "| time to rollback: alarm → all traffic on blue, watch interval {} ms | {} ms (the watch {} ms, the rollback step {} ms; unwatched, the wait had {} ms left) |",
        m.watch_interval_ms,
        m.alarm_to_blue_ms,
        m.watch_ms,
        m.rollback_step_ms,
        m.unwatched_wait_left_ms
    );
    let _ = writeln!(
        md,
        "| state transitions of one {} rollout, default watch (30 s) | {} at AWS timing ({} per rollout hour); {} on the bench at 1/30 ({} watches) |",
        m.strategy,
        m.aws_transitions,
        m.aws_transitions_per_hour,
        m.bench_transitions,
        m.bench_watches
    );
    let b = &r.burst;
    let _ = writeln!(
        md,
        "\n**notify-slack under a burst** ({} instance-level CodeDeploy triggers of one deployment \
         within {:.0} s, through the topic's queue as the template's SQS trigger takes them: \
         maximum concurrency {}, a {:.0} s batching window; to a webhook that takes {} message/s \
         with bursts of {}, as Slack does):\n",
        b.events, b.window_s, b.concurrency, b.batch_window_s, b.slack_per_second, b.slack_burst
    );
    let _ = writeln!(
        md,
        "| delivered | retried | dead-lettered | invocations | Slack messages | 429s from Slack | largest delay (s) | all delivered after (s) |"
    );
    let _ = writeln!(md, "|---:|---:|---:|---:|---:|---:|---:|---:|");
    let _ = writeln!(
        md,
        "| {} | {} | {} | {} | {} | {} | {:.1} | {:.1} |",
        b.delivered,
        b.retried,
        b.dead_lettered,
        b.invocations,
        b.slack_posts,
        b.refused,
        b.largest_delay_s,
        b.duration_s
    );
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

/// `docs/benchmarks.md`, whole: how the figures are taken, this run's tables, and what they
/// miss. Every figure in the prose comes from this run, and a note on a missed target is only
/// written when the target was missed, so the page says what the tables show.
pub fn benchmarks_page(r: &Results, tables: &str) -> String {
    let floor = r.functions.iter().find(|f| f.name == FLOOR.name);
    let functions: Vec<&FunctionResult> = r
        .functions
        .iter()
        .filter(|f| f.name != FLOOR.name)
        .collect();
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
        "<!-- Written by `make bench` (tests/src/bin/measure/report.rs, `benchmarks_page`) from its \
         own measurements: change the text there, not here. -->\n\n",
    );
    md.push_str(
        "`make bench` builds the release binaries the way `sam build` does (`cargo lambda build \
         --release`, x86_64 and arm64, zip output), then runs `measure` \
         (`tests/src/bin/measure/`) from the x86_64 build: each function's release binary runs \
         under the bench's Lambda Runtime API with its AWS calls on moto, next to `runtime-floor` \
         (a minimal `lambda_runtime` echo) measured the same way. It writes `bench/results.json` \
         (machine-readable), `bench/results.md` (the tables) and this page, and prints the \
         tables. From a clean checkout it takes about 40 minutes on 2 cores (two release builds; \
         the measurements themselves take about a minute). `BENCH_ARM64=0 make bench` skips the \
         arm64 build. `measure --quick` only checks the harness: it writes \
         `bench/results-quick.*` (scratch, ignored by git) and leaves this page alone.\n\n",
    );
    md.push_str("## How each figure is taken\n\n");
    let _ = writeln!(
        md,
        "- **Cold start**: spawn of a fresh process → the first invocation's response (median of \
         {cold_runs} processes).\n\
         - **AWS calls' own time**: what the bench's AWS front (and moto behind it) spent \
         answering the cold invocation's calls, summed; **cold start − AWS calls' time** is taken \
         per process, so it is start-up plus the function's own work.\n\
         - **Init**: spawn → the process's first `GET /runtime/invocation/next`, what Lambda \
         reports as Init Duration; measured once as configured and once with `SSL_CERT_FILE` \
         naming the system CA bundle (every root in it trusted on top of the compiled-in ones: \
         the cost of a private CA at its worst).\n\
         - **Warm latency**: {warm_runs} invocations of one process, timed at the Runtime API.\n\
         - **Peak RSS**: `VmHWM` from `/proc/<pid>/status`.\n\
         - **Sizes**: the stripped binary and the `bootstrap.zip` cargo lambda makes.\n\
         - **Probe throughput**: validate-traffic's own figure (requests over `spent_ms` of its \
         `verdict` log line), {probe_requests} requests against a local keep-alive server, checked \
         against the requests the server answered.\n\
         - **shift-traffic's AWS calls** are counted at the bench's AWS front.\n\
         - **The burst** publishes to a moto topic with a queue subscribed (raw delivery off), \
         and runs notify-slack's release binary under the bench's SQS trigger \
         (`tests/src/sqs_source.rs`: pollers up to the maximum concurrency, batches gathered for \
         the batching window, records not named in `batchItemFailures` deleted, the rest back \
         after the visibility timeout, moto's redrive to the dead-letter queue) against the Slack \
         fake with a rate limit; \"retried\" counts notifications received more than once, \
         delays are from publishing to the deletion after delivery.\n\
         - **The verdict figures** are timed inside the measuring binary, which the same release \
         build makes with the functions' settings; `cargo bench -p validate-traffic --bench \
         verdict` runs the same probe under criterion.\n"
    );
    md.push_str("## Results\n\n");
    md.push_str(tables.trim_end());
    md.push_str("\n\n## What the numbers miss, and why\n\n");

    let floor_cold = floor.map(|f| f.cold_start_ms.median);
    let floor_init = floor.map(|f| f.init_ms.median);
    let init_factors: Vec<f64> = functions
        .iter()
        .map(|f| per(f.init_ms.median, floor_init))
        .collect();
    let bundle: Vec<f64> = functions.iter().map(|f| f.init_bundle_ms.median).collect();
    let _ = writeln!(
        md,
        "- **Init is {}× the floor's ({INIT_FACTOR}× is the target).** Init does only what every \
         invocation needs (\"Start-up\" in docs/development.md): logging, the settings, one TLS \
         client configuration (`shared/src/tls.rs`) from roots compiled into the binary, which \
         both the AWS SDK (through `shared/src/sdk_http.rs`, the SDK's HTTP client on reqwest) \
         and the function's own HTTP client (validate-traffic's probe, notify-slack's webhook) \
         verify with, and the AWS config with credentials from the environment; each SDK client \
         is built by the first invocation that calls its service. The binaries are linked \
         position-dependent (no relocations for the loader), and shift-traffic and notify-slack \
         run on a current-thread runtime. Naming a bundle in `SSL_CERT_FILE` adds its \
         certificates; the whole system bundle (the `SSL_CERT_FILE` row) brings init to {} ms, \
         and a private CA's bundle of a few certificates costs a fraction of that.",
        range(&init_factors),
        range(&bundle)
    );
    if missed("init") {
        let faults: Vec<f64> = functions
            .iter()
            .map(|f| f.cold_minor_faults.median)
            .collect();
        let _ = writeln!(
            md,
            "  - Where the rest goes: most of it is loading and first touching a binary of 6–9 MB \
             (the floor's is under 1 MB), which shows as {} page faults by the end of the first \
             invocation against the floor's {:.0}; validate-traffic also starts a multi-thread \
             runtime (about 0.25 ms), which its deadline guard needs.",
            {
                let low = faults.iter().copied().fold(f64::INFINITY, f64::min);
                let high = faults.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                format!("{low:.0}–{high:.0}")
            },
            floor.map_or(0.0, |f| f.cold_minor_faults.median)
        );
    }
    let startup: Vec<&FunctionResult> = functions
        .iter()
        .filter(|f| f.startup_target)
        .copied()
        .collect();
    if !startup.is_empty() {
        let factors: Vec<f64> = startup
            .iter()
            .map(|f| per(f.cold_less_aws_ms.median, floor_cold))
            .collect();
        let _ = writeln!(
            md,
            "- **Cold start less the AWS calls' own time is {}× the floor's cold start** \
             ({STARTUP_FACTOR}× is the target) for {}. The raw cold start is mostly moto's: it is \
             a Python emulator, and its answers take longer than the functions' own start-up. \
             validate-traffic's full hook is not held to this target: its first invocation also \
             sends a 10-request probe through the bench's proxy.",
            range(&factors),
            startup
                .iter()
                .map(|f| f.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        if missed("cold start") {
            md.push_str(
                "  - A missed start-up target above: the difference is the first connection to \
                 each endpoint and the functions' first-invocation work (KMS once per process, \
                 the first log lines); see the rows.\n",
            );
        }
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
    let b = &r.burst;
    let _ = writeln!(
        md,
        "- **A burst waits in the queue and reaches Slack folded.** {} notifications within \
         {:.0} s became {} Slack messages: the trigger gathers records for {:.0} s, and the \
         instance events of one deployment in a batch are posted as one digest (counts per \
         status, failed instances first). The last notification was in the channel {:.0} s after \
         it was published; {} were received more than once and {} dead-lettered; Slack answered \
         {} posts with 429 and each poster waited `Retry-After`. A record Slack does not take within an invocation \
         is named in `batchItemFailures` and comes back after the visibility timeout (six \
         minutes in the template), so a long Slack outage delays notifications by minutes \
         rather than losing them; five failed receives move a record to the dead-letter queue.",
        b.events,
        b.window_s,
        b.slack_posts,
        b.batch_window_s,
        b.largest_delay_s,
        b.retried,
        b.dead_lettered,
        b.refused
    );
    md.push_str(
        "- The machine is shared with other builds; the load average is printed with the tables, \
         and figures move by a few percent between runs.\n",
    );
    md
}
