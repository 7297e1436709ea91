//! `make invoke FN=<function> EVENT=<file>`: invokes one function once with one event on the
//! local bench and prints its response, its logs and its side effects.
//!
//! Exit status: 0 when the function answered, 1 when it returned an error, timed out or
//! crashed, 2 when the arguments or the event file are wrong.

use rollout_bench::InvokeOutcome;
use rollout_bench::invoke::{self, Function, InvokeError, World};

const USAGE: &str = "usage: invoke --function <validate-traffic|shift-traffic|notify-slack> --event <file.json>\n\
                     (make invoke FN=<function> EVENT=events/<function>/<sample>.json)";

#[tokio::main]
async fn main() {
    let (function, event, world) = match parse(std::env::args().skip(1)) {
        Ok(parsed) => parsed,
        Err(message) => {
            eprintln!("invoke: {message}");
            std::process::exit(2);
        }
    };
    let report = invoke::run(function, event, world, false).await;
    if !matches!(report.invocation.outcome, InvokeOutcome::Response(_)) {
        std::process::exit(1);
    }
}

fn parse(
    mut args: impl Iterator<Item = String>,
) -> Result<(Function, serde_json::Value, World), String> {
    let (mut function, mut event) = (None, None);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--function" => function = Some(args.next().unwrap_or_default()),
            "--event" => event = Some(args.next().unwrap_or_default()),
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unexpected argument {other:?}\n{USAGE}")),
        }
    }
    let function: Function = match function.as_deref() {
        None | Some("") => return Err(format!("no function given\n{USAGE}")),
        Some(name) => name.parse().map_err(|e: InvokeError| e.to_string())?,
    };
    let world = World::for_sample(event.as_deref().unwrap_or_default());
    let event = match event.as_deref() {
        None | Some("") => return Err(InvokeError::NoEvent(function).to_string()),
        Some(path) => {
            let event = invoke::load_event(function, path).map_err(|e| e.to_string())?;
            let other = Function::ALL
                .into_iter()
                .find(|f| *f != function && path.contains(&format!("{}/", f.name())));
            if let Some(other) = other {
                eprintln!(
                    "invoke: note: {path} is a {} sample; {} is invoked with it anyway",
                    other.name(),
                    function.name()
                );
            }
            event
        }
    };
    Ok((function, event, world))
}
