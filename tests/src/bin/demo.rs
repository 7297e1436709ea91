//! `make demo [SCENARIO=healthy|failing|alarm|watch|ecs]`: a blue/green canary release on the local bench.

use rollout_bench::demo::{self, Scenario};

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let mut scenario = Scenario::Healthy;
    while let Some(arg) = args.next() {
        if arg == "--scenario" {
            match args.next().unwrap_or_default().parse() {
                Ok(s) => scenario = s,
                Err(message) => {
                    eprintln!("{message}");
                    std::process::exit(2);
                }
            }
        }
    }
    let (summary, _) = demo::run(scenario, false).await;
    if !summary.as_expected(scenario) {
        std::process::exit(1);
    }
}
