//! `make demo SCENARIO=ecs`: an ECS built-in CANARY deployment (10 %, then 100 %) with
//! validate-traffic attached at every lifecycle stage, played as ECS plays it
//! ([`crate::ecs_world::canary_observed`]) and printed stage by stage: what the hook answered,
//! through which route it probed green, its `IN_PROGRESS` rounds (each probing stage soaks for
//! two seconds, one slice a second) and where production traffic stands.

use std::time::Instant;

use serde_json::{Value, json};

use crate::Bench;
use crate::demo::{Summary, Timeline};
use crate::ecs_world::{Answered, World, canary_observed, configured};

/// Runs the scenario. `quiet` keeps stdout clean (for tests); the timeline is returned either way.
pub async fn run(quiet: bool) -> (Summary, String) {
    let mut timeline = Timeline {
        started: Instant::now(),
        quiet,
        text: String::new(),
    };
    let mut summary = Summary::default();
    timeline.line(
        "demo",
        "ECS built-in CANARY deployment (10 %, then 100 %), validate-traffic at every stage",
    );
    let bench = Bench::start().await;
    let world = World::create(&bench).await;
    timeline.line(
        "world",
        "ALB (moto): production rule Host: shop.example.com → blue · test rule X-Canary: true → \
         green · service revisions 4467009 (blue) and 4467011 (green) in the ECS fake",
    );
    let function = world.hook(&bench).await;
    let mut settings = configured();
    settings.insert("soakSeconds".into(), json!(2));
    settings.insert("soakIntervalSeconds".into(), json!(1));
    settings.insert("probeRequests".into(), json!(4));
    timeline.line(
        "hook",
        format!(
            "validate-traffic attached to every stage, hookDetails {}",
            Value::Object(settings.clone())
        ),
    );

    let answers = canary_observed(&world, &function, &settings, &mut |answered: &Answered| {
        let (stage, line) = describe(answered);
        timeline.line("ecs", format!("{stage:<30} {line}"));
    })
    .await;

    summary.shift_statuses = answers
        .iter()
        .map(|a| format!("{} {}", a.stage, a.status))
        .collect();
    summary.rolled_back = answers.iter().any(|a| a.status == "FAILED");
    summary.hook_status = answers.last().map(|a| a.status.clone());
    let (green, blue) = (
        world.green_in_production.request_count(),
        world.blue.request_count(),
    );
    summary.final_green_percent = if summary.rolled_back { 0.0 } else { 100.0 };
    timeline.line(
        "traffic",
        format!(
            "probes through the test rule reached green {} times; under production traffic green \
             answered {green} and blue {blue}",
            world.green.request_count()
        ),
    );
    let rounds: usize = answers.iter().map(|a| a.rounds).sum();
    let expected = summary.as_expected(crate::demo::Scenario::Ecs);
    timeline.line(
        "summary",
        format!(
            "{} stages answered, {rounds} IN_PROGRESS round trips, production on {}: {}",
            answers.len(),
            if summary.rolled_back { "blue" } else { "green" },
            if expected {
                "as the scenario expects"
            } else {
                "NOT as the scenario expects"
            }
        ),
    );
    (summary, timeline.text)
}

/// One stage's line: the answer, its rounds and time, and what the probe saw.
fn describe(answered: &Answered) -> (&'static str, String) {
    let own = &answered.last["hookDetails"]["validateTraffic"];
    let mut line = format!("{} in {} ms", answered.status, answered.elapsed.as_millis());
    if answered.rounds > 0 {
        line.push_str(&format!(" after {} IN_PROGRESS", answered.rounds));
    }
    if let Some(requests) = own["requests"].as_u64() {
        line.push_str(&format!(
            " · {requests} requests, {} passed",
            own["passed"].as_u64().unwrap_or_default()
        ));
        if let Some(p95) = own["p95Ms"].as_u64() {
            line.push_str(&format!(", p95 {p95} ms"));
        }
    }
    if let Some(target) = own["target"].as_str() {
        line.push_str(&format!(" · {target}"));
    }
    if let Some(reason) = own["reason"].as_str() {
        line.push_str(&format!(" · {reason}"));
    }
    (answered.stage, line)
}
