//! `make bench`: measures the three functions and the `runtime-floor` echo binary through the
//! Lambda Runtime API, with their AWS calls on the local bench, and writes `bench/results.json`,
//! `bench/results.md` and the whole of `docs/benchmarks.md` (so the page cannot go stale).
//!
//! Run it from the release build (`make bench` does): the binaries it starts are the ones next to
//! it (`target/<triple>/release/`), or those in `ROLLOUT_BIN_DIR`. `--quick` takes a few samples
//! of everything, for checking the harness itself; its figures are not results.
//!
//! In reading order:
//! - `subjects`: the measured binaries, one entry each (name, environment, event, check).
//! - `ctx`: the release world on the bench that every measurement runs in.
//! - `runs`: cold starts, warm invocations, probe throughput and canary walks.
//! - `machine_figures`: the state machine's time to rollback and transitions per rollout.
//! - `micro`: the verdict timed in process.
//! - `stats`, `host`: summaries of samples; facts about the machine and the build.
//! - `results`: what a run produced (the JSON), how it was taken, and the targets it is held to.
//! - `report`: the tables (`bench/results.md`) and the page `docs/benchmarks.md`.

mod ctx;
mod host;
mod machine_figures;
mod micro;
mod report;
mod results;
mod runs;
mod stats;
mod subjects;

use std::path::Path;

use rollout_bench::workspace_root;

use crate::results::Results;
use crate::subjects::SUBJECTS;

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

/// How many samples of each kind a run takes.
#[derive(Debug, Clone, Copy)]
struct Plan {
    cold_runs: usize,
    warm_runs: usize,
    probe_requests: u32,
    throughput_runs: usize,
    walks: usize,
    /// notify-slack's burst: this many notifications within `burst_window`.
    burst_events: usize,
    burst_window: std::time::Duration,
}

impl Plan {
    const FULL: Plan = Plan {
        cold_runs: 20,
        warm_runs: 200,
        probe_requests: 10_000,
        throughput_runs: 3,
        walks: 5,
        burst_events: 200,
        burst_window: std::time::Duration::from_secs(10),
    };
    const QUICK: Plan = Plan {
        cold_runs: 3,
        warm_runs: 10,
        probe_requests: 500,
        throughput_runs: 1,
        walks: 1,
        burst_events: 10,
        burst_window: std::time::Duration::from_secs(1),
    };
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
    let load_before = host::load_average();
    eprintln!("measure: starting the bench (moto, AWS front, Slack fake)");
    let ctx = ctx::setup().await;

    let mut functions = Vec::new();
    for subject in &SUBJECTS {
        eprintln!(
            "measure: {}: {} cold starts, {} warm invocations",
            subject.name, plan.cold_runs, plan.warm_runs
        );
        functions.push(runs::measure_function(&ctx, subject, plan).await?);
    }
    eprintln!("measure: validate-traffic probe throughput");
    let probe_throughput = runs::probe_throughput(&ctx, plan).await?;
    eprintln!("measure: shift-traffic canary walks");
    let shift_steps = runs::canary_walks(&ctx, plan).await?;
    eprintln!("measure: the state machine: an alarm mid-wait, a watched rollout's transitions");
    let state_machine = machine_figures::measure().await?;
    // Last: it puts Slack's rate limit on the bench's webhook.
    eprintln!(
        "measure: notify-slack burst ({} notifications in {:?}, Slack's pace)",
        plan.burst_events, plan.burst_window
    );
    let burst = runs::burst(&ctx, plan).await?;
    let verdict_micro = micro::verdict_timing();

    let machine = host::machine(load_before);
    let targets = results::check_targets(&functions, &probe_throughput, &burst);
    let results = Results {
        machine,
        quick,
        method: results::method(plan),
        functions,
        probe_throughput,
        verdict_micro,
        shift_steps,
        state_machine,
        burst,
        targets,
    };
    let markdown = report::markdown(&results);
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
            &report::benchmarks_page(&results, &markdown),
        )?;
        eprintln!("measure: wrote {}", docs.join("benchmarks.md").display());
    }
    Ok(markdown)
}

fn write(dir: &Path, name: &str, text: &str) -> Result<(), BenchError> {
    let io = |source| BenchError::Io {
        path: dir.join(name).display().to_string(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    std::fs::write(dir.join(name), text).map_err(io)
}
