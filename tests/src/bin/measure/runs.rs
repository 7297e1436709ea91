//! The measurements through the Runtime API: each subject's cold starts, init and warm
//! invocations; validate-traffic's probe throughput; shift-traffic's canary walks.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use rollout_bench::sqs_source::{SqsPolicy, SqsSource};
use rollout_bench::{InvokeOutcome, LambdaFn};

use crate::ctx::Ctx;
use crate::host::{minor_faults, sizes, system_ca_bundle, vm_hwm_kib};
use crate::results::{BurstResult, FunctionResult, StepResult, Throughput};
use crate::stats::{median, ms, summary};
use crate::subjects::{NOTIFY_SLACK, SHIFT_TRAFFIC, Subject, VALIDATE_TRAFFIC};
use crate::{BenchError, Plan, invalid};

/// The probe concurrencies of the throughput rows.
const CONCURRENCY: [u32; 3] = [1, 8, 64];

pub async fn measure_function(
    ctx: &Ctx,
    subject: &Subject,
    plan: Plan,
) -> Result<FunctionResult, BenchError> {
    // Cold: a fresh process per sample, timed from spawn to the first response.
    let mut cold = Vec::with_capacity(plan.cold_runs);
    let mut init = Vec::with_capacity(plan.cold_runs);
    let mut peak_rss_kib = 0;
    let mut cold_aws = Vec::with_capacity(plan.cold_runs);
    let mut cold_less_aws = Vec::with_capacity(plan.cold_runs);
    let mut cold_faults = Vec::with_capacity(plan.cold_runs);
    let mut cold_aws_calls = 0;
    for _ in 0..plan.cold_runs {
        let calls_before = ctx.bench.front.calls().len();
        let served_before = ctx.bench.front.served();
        let lambda = ctx.start(subject).await;
        ctx.invoke_checked(subject, &lambda).await?;
        let cold_ms = ms(lambda.started_at().elapsed());
        let aws_ms = ms(ctx.bench.front.served().saturating_sub(served_before));
        cold.push(cold_ms);
        cold_aws.push(aws_ms);
        cold_less_aws.push(cold_ms - aws_ms);
        init.extend(lambda.init_duration().map(ms));
        cold_faults.extend(lambda.pid().and_then(minor_faults).map(|n| n as f64));
        cold_aws_calls = ctx.bench.front.calls().len() - calls_before;
        peak_rss_kib = peak_rss_kib.max(lambda.pid().and_then(vm_hwm_kib).unwrap_or(0));
    }

    // Init again with `SSL_CERT_FILE` naming the whole system bundle: what trusting a private
    // CA costs at its worst (every root of the bundle parsed on top of the compiled-in ones).
    let mut init_bundle = Vec::with_capacity(plan.cold_runs);
    if let Some(bundle) = system_ca_bundle() {
        for _ in 0..plan.cold_runs {
            let mut env = ctx.env(subject);
            env.push(("SSL_CERT_FILE".into(), bundle.into()));
            let lambda = ctx.start_with(subject, env).await;
            ctx.invoke_checked(subject, &lambda).await?;
            init_bundle.extend(lambda.init_duration().map(ms));
        }
    }

    // Warm: one process, the first invocation discarded.
    let lambda = ctx.start(subject).await;
    ctx.invoke_checked(subject, &lambda).await?;
    let calls_before = ctx.bench.front.calls().len();
    let mut warm = Vec::with_capacity(plan.warm_runs);
    for _ in 0..plan.warm_runs {
        let invocation = ctx.invoke_checked(subject, &lambda).await?;
        warm.push(ms(invocation.elapsed));
    }
    let warm_calls = ctx.bench.front.calls().len() - calls_before;
    peak_rss_kib = peak_rss_kib.max(lambda.pid().and_then(vm_hwm_kib).unwrap_or(0));

    Ok(FunctionResult {
        name: subject.name.to_string(),
        binary: subject.binary.to_string(),
        startup_target: subject.startup_target,
        event: subject.measured.to_string(),
        cold_start_ms: summary(&cold),
        cold_aws_ms: summary(&cold_aws),
        cold_less_aws_ms: summary(&cold_less_aws),
        cold_minor_faults: summary(&cold_faults),
        init_ms: summary(&init),
        init_bundle_ms: summary(&init_bundle),
        cold_aws_calls,
        warm_ms: summary(&warm),
        warm_aws_calls_per_invocation: warm_calls as f64 / plan.warm_runs.max(1) as f64,
        peak_rss_kib,
        sizes: sizes(subject.binary),
    })
}

/// validate-traffic against a fast local keep-alive server, `TARGET_URL` set (no discovery, no
/// proxy). The figure is the function's own: requests over `spent_ms` from its verdict line,
/// checked against the requests the server answered.
pub async fn probe_throughput(ctx: &Ctx, plan: Plan) -> Result<Vec<Throughput>, BenchError> {
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

    let subject = &VALIDATE_TRAFFIC;
    let name = subject.name;
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
        let lambda = ctx.start_with(subject, env).await;
        // The first run opens the connections; it is not counted.
        ctx.invoke_checked(subject, &lambda).await?;
        let mut runs = Vec::new();
        let mut server_requests = Vec::new();
        for _ in 0..plan.throughput_runs {
            let before = answered.load(Ordering::Relaxed);
            ctx.invoke_checked(subject, &lambda).await?;
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
pub async fn canary_walks(ctx: &Ctx, plan: Plan) -> Result<Vec<StepResult>, BenchError> {
    let subject = &SHIFT_TRAFFIC;
    let name = subject.name;
    let lambda = ctx.start(subject).await;
    ctx.invoke_checked(subject, &lambda).await?;
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

/// notify-slack under a burst at Slack's pace: `plan.burst_events` instance triggers of one
/// deployment within `plan.burst_window`, published to a topic that feeds a queue, polled as the
/// template's SQS trigger polls it (`tests/src/sqs_source.rs`).
pub async fn burst(ctx: &Ctx, plan: Plan) -> Result<BurstResult, BenchError> {
    const CONCURRENCY: usize = 2;
    const PER_SECOND: f64 = 1.0;
    const SLACK_BURST: u32 = 1;
    // The template's defaults: BatchSize 100, NotifyBatchWindowSeconds 5, a visibility timeout
    // of six function timeouts, five receives before the dead-letter queue.
    let policy = SqsPolicy {
        concurrency: CONCURRENCY,
        batch_size: 100,
        window: Duration::from_secs(5),
        visibility_timeout_s: 360,
        max_receive_count: 5,
        timeout: Duration::from_secs(60),
        give_up_after: Duration::from_secs(1800),
    };
    let subject = &NOTIFY_SLACK;
    let posts_before = ctx.bench.slack.posts().len();
    ctx.bench.slack.rate_limit(PER_SECOND, SLACK_BURST);
    let source = SqsSource::create(&ctx.bench.moto_url(), "notify-burst", policy.clone()).await;
    let mut environments = Vec::with_capacity(CONCURRENCY);
    for _ in 0..CONCURRENCY {
        environments.push(ctx.start(subject).await);
    }
    let spacing = plan.burst_window.div_f64(plan.burst_events.max(1) as f64);
    let first = 1_000_000;
    let messages = (0..plan.burst_events)
        .map(|n| {
            (
                spacing.mul_f64(n as f64),
                rollout_bench::fixtures::instance_message(first + n),
            )
        })
        .collect();
    let started = std::time::Instant::now();
    let run = source.run(environments, messages).await;
    let duration_s = started.elapsed().as_secs_f64();
    let posts: Vec<_> = ctx
        .bench
        .slack
        .posts()
        .into_iter()
        .skip(posts_before)
        .collect();
    let accepted: Vec<&String> = posts
        .iter()
        .filter(|p| p.delivered())
        .map(|p| &p.body)
        .collect();
    // Each instance event in exactly one message: a digest counts its instances, a single
    // message names its one.
    let digest = regex::Regex::new(r"(\d+) instances of deployment")
        .map_err(|e| invalid(subject.name, format!("pattern: {e}")))?;
    let mut accounted = 0;
    for body in &accepted {
        let line = serde_json::from_str::<Value>(body)
            .ok()
            .and_then(|v| v["text"].as_str().map(str::to_string))
            .unwrap_or_default();
        match digest
            .captures(&line)
            .and_then(|c| c[1].parse::<usize>().ok())
        {
            Some(n) => accounted += n,
            None => {
                accounted += (0..plan.burst_events)
                    .filter(|&n| body.contains(&rollout_bench::fixtures::instance_id(first + n)))
                    .count()
            }
        }
    }
    Ok(BurstResult {
        events: plan.burst_events,
        window_s: plan.burst_window.as_secs_f64(),
        concurrency: CONCURRENCY,
        batch_window_s: policy.window.as_secs_f64(),
        slack_per_second: PER_SECOND,
        slack_burst: SLACK_BURST,
        delivered: run.delivered(),
        retried: run.retried(),
        dead_lettered: run.dead_lettered(),
        lost: run.lost(),
        invocations: run.invocations,
        slack_posts: accepted.len(),
        accounted,
        refused: posts.len() - accepted.len(),
        largest_delay_s: run.largest_latency().as_secs_f64(),
        duration_s,
    })
}
