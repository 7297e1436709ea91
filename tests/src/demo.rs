//! `make demo`: a whole blue/green canary release on the local bench, with the real release
//! binaries of the three functions, printed as a timeline a person can follow.
//!
//! The demo plays the parts AWS would play: CodeDeploy (it creates the deployment, invokes the
//! hook, sends deployment triggers to the topic), Step Functions (it runs
//! `statemachine/rollout.asl.json` itself with the bench's interpreter, `asl::Execution`), CloudWatch (it sets the alarm state
//! as a real alarm on green's 5xx count would) and SNS (it hands every message published to the
//! topic to notify-slack as an SNS event).

use std::fmt::Write as _;
use std::time::Instant;

use aws_config::SdkConfig;
use serde_json::{Value, json};

use crate::asl::{Ending, Execution, state_machine};
use crate::fixtures;
use crate::target::{Behavior, HttpTarget};
use crate::world::{
    ALARM, APPLICATION, DEPLOYMENT_GROUP, ReleaseWorld, TEST_PORT, create_alarm, env_refs,
};
use crate::{Bench, ForwardProxy, InvokeOutcome, LambdaFn};

/// What goes wrong in the release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// Green is healthy: validation passes and the canary walks to 100 %.
    Healthy,
    /// Green answers errors: validation fails, the release is stopped and rolled back.
    Failing,
    /// Green passes validation, then fails under real traffic: the 5xx alarm fires during the
    /// canary and shift-traffic rolls back to blue.
    Alarm,
    /// Like `Alarm`, but the alarm fires mid-bake, between two watches of a long wait: the next
    /// watch sees it and the canary is rolled back within one watch interval, not at the end of
    /// the wait.
    Watch,
    /// An ECS built-in CANARY deployment (no CodeDeploy) with validate-traffic attached at every
    /// lifecycle stage ([`crate::demo_ecs`]).
    Ecs,
    /// A canary of an Auto Scaling fleet without CodeDeploy ([`crate::demo_asg`]): green
    /// validated before the first shift and after each, a pause a person approves from Slack,
    /// then blue's group scaled in.
    Asg,
}

impl std::str::FromStr for Scenario {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "healthy" | "" => Ok(Scenario::Healthy),
            "failing" => Ok(Scenario::Failing),
            "alarm" => Ok(Scenario::Alarm),
            "watch" => Ok(Scenario::Watch),
            "ecs" => Ok(Scenario::Ecs),
            "asg" => Ok(Scenario::Asg),
            other => Err(format!(
                "unknown scenario {other:?} (healthy, failing, alarm, watch, ecs, asg)"
            )),
        }
    }
}

/// What happened, for the summary and for the test that runs the demo.
#[derive(Debug, Default, Clone)]
pub struct Summary {
    pub hook_status: Option<String>,
    pub final_green_percent: f64,
    pub shift_statuses: Vec<String>,
    pub slack_messages: Vec<String>,
    pub problems: Vec<String>,
    pub rolled_back: bool,
    /// `Watch`: how the rollback after the mid-bake alarm was timed.
    pub watched_rollback: Option<WatchedRollback>,
    /// `Asg`: who approved the pause, and blue's group's desired capacity at the end.
    pub approved_by: Option<String>,
    pub blue_fleet_after: Option<i32>,
    /// How many topic messages were already handed to notify-slack.
    sns_seen: usize,
}

impl Summary {
    /// The release went the way the scenario says it must.
    pub fn as_expected(&self, scenario: Scenario) -> bool {
        if !self.problems.is_empty() {
            return false;
        }
        match scenario {
            Scenario::Healthy => {
                self.hook_status.as_deref() == Some("Succeeded")
                    && self.final_green_percent == 100.0
                    && !self.rolled_back
            }
            Scenario::Failing => {
                self.hook_status.as_deref() == Some("Failed")
                    && self.final_green_percent == 0.0
                    && self.rolled_back
            }
            Scenario::Alarm => {
                self.hook_status.as_deref() == Some("Succeeded")
                    && self.final_green_percent == 0.0
                    && self.rolled_back
            }
            // Rolled back by a watch, within one watch interval (plus the watch and the
            // rollback step themselves) of the alarm.
            Scenario::Watch => {
                self.hook_status.as_deref() == Some("Succeeded")
                    && self.final_green_percent == 0.0
                    && self.rolled_back
                    && self.watched_rollback.is_some_and(|w| w.within_interval())
            }
            // Every stage's hook answered SUCCEEDED and production ended on green.
            Scenario::Ecs => {
                self.hook_status.as_deref() == Some("SUCCEEDED")
                    && self.final_green_percent == 100.0
                    && !self.rolled_back
                    && self.shift_statuses.iter().all(|s| s.ends_with("SUCCEEDED"))
            }
            // Validated, approved, all on green, and blue's fleet scaled in to nothing.
            Scenario::Asg => {
                self.hook_status.as_deref() == Some("Succeeded")
                    && self.final_green_percent == 100.0
                    && !self.rolled_back
                    && self.approved_by.is_some()
                    && self.blue_fleet_after == Some(0)
            }
        }
    }
}

/// The `Watch` scenario's watch interval after `time_scale`.
const WATCH_INTERVAL_MS: u64 = 1000;

/// The `Watch` scenario's figures: alarm → all blue, against the watch interval.
#[derive(Debug, Clone, Copy)]
pub struct WatchedRollback {
    pub alarm_to_blue_ms: u64,
    pub interval_ms: u64,
    /// The watch that saw the alarm and the rollback step, each on its own.
    pub watch_ms: u64,
    pub rollback_ms: u64,
}

impl WatchedRollback {
    pub fn within_interval(&self) -> bool {
        // 250 ms for the interpreter's own bookkeeping between states.
        self.alarm_to_blue_ms <= self.interval_ms + self.watch_ms + self.rollback_ms + 250
    }
}

/// Prints as it goes, so the demo never sits silent.
pub(crate) struct Timeline {
    pub(crate) started: Instant,
    pub(crate) quiet: bool,
    pub(crate) text: String,
}

impl Timeline {
    pub(crate) fn line(&mut self, stage: &str, message: impl AsRef<str>) {
        let mut out = String::new();
        let _ = write!(
            out,
            "[{:>5.1}s] {:<9} {}",
            self.started.elapsed().as_secs_f64(),
            stage,
            message.as_ref()
        );
        self.emit(out);
    }

    pub(crate) fn block(&mut self, text: &str) {
        for line in text.lines() {
            self.emit(format!("           {line}"));
        }
    }

    fn emit(&mut self, line: String) {
        if !self.quiet {
            println!("{line}");
        }
        self.text.push_str(&line);
        self.text.push('\n');
    }
}

pub(crate) struct Functions {
    pub(crate) validate: LambdaFn,
    pub(crate) shift: LambdaFn,
    pub(crate) notify: LambdaFn,
}

/// Runs a release. `quiet` keeps stdout clean (for tests); the timeline is returned either way.
pub async fn run(scenario: Scenario, quiet: bool) -> (Summary, String) {
    match scenario {
        Scenario::Ecs => return crate::demo_ecs::run(quiet).await,
        Scenario::Asg => return crate::demo_asg::run(quiet).await,
        _ => {}
    }
    let mut timeline = Timeline {
        started: Instant::now(),
        quiet,
        text: String::new(),
    };
    let mut summary = Summary::default();
    timeline.line(
        "demo",
        format!("blue/green canary release, scenario: {scenario:?}"),
    );

    let bench = Bench::start().await;
    timeline.line(
        "bench",
        format!(
            "moto {} · AWS front {} · Slack fake {}",
            bench.moto_url(),
            bench.front.url(),
            bench
                .slack
                .webhook_url()
                .split("/services")
                .next()
                .unwrap_or("")
        ),
    );
    let config = bench.sdk_config().await;
    let world = ReleaseWorld::create(&config).await;
    timeline.line(
        "world",
        format!(
            "ALB {} · prod :80 → blue · test :{TEST_PORT} · CodeDeploy {APPLICATION}/{DEPLOYMENT_GROUP} · SNS topic · KMS key",
            world.load_balancer_dns
        ),
    );

    let blue = HttpTarget::start_with(Behavior::ok("checkout v1 ok")).await;
    let green_first = match scenario {
        Scenario::Failing => Behavior::status(500, "checkout v2: database migration failed"),
        _ => Behavior::ok("checkout v2 ok"),
    };
    let green = HttpTarget::start_with(green_first).await;
    let proxy = ForwardProxy::start().await;
    // The emulated ALB's test listener resolves nowhere; the proxy sends its traffic to green.
    proxy.route(
        &format!("{}:{TEST_PORT}", world.load_balancer_dns),
        green.addr(),
    );
    proxy.route(&format!("{}:80", world.load_balancer_dns), blue.addr());
    timeline.line(
        "services",
        format!("blue v1 on {} · green v2 on {}", blue.addr(), green.addr()),
    );

    let alarm = ALARM;
    create_alarm(&config).await;
    let ciphertext = world
        .encrypt_webhook(&config, &bench.slack.webhook_url(), Some("notify-slack"))
        .await;
    let functions = start_functions(&bench, &world, &proxy, &ciphertext).await;
    timeline.line(
        "functions",
        "validate-traffic, shift-traffic, notify-slack started under the Lambda Runtime API",
    );

    let deployment_id = world.create_deployment(&config).await;
    timeline.line("codedeploy", format!("deployment {deployment_id} created"));
    let created = codedeploy_trigger(&deployment_id, "CREATED", None);
    deliver(
        &functions,
        &bench,
        &world,
        &mut timeline,
        &mut summary,
        created,
    )
    .await;

    // AfterAllowTestTraffic: the test listener points at green.
    let hook_event = json!({
        "DeploymentId": deployment_id,
        "LifecycleEventHookExecutionId": "eyJlbmNyeXB0ZWREYXRhIjoiZGVtbyJ9",
    });
    let invocation = functions.validate.invoke(hook_event).await;
    if let InvokeOutcome::Error {
        error_type,
        error_message,
    } = &invocation.outcome
    {
        summary
            .problems
            .push(format!("validate-traffic: {error_type}: {error_message}"));
    }
    let report = bench.front.hook_reports().into_iter().last();
    summary.hook_status = report.as_ref().map(|r| r.status.clone());
    timeline.line(
        "validate",
        format!(
            "AfterAllowTestTraffic → {} ({} ms){}",
            summary.hook_status.as_deref().unwrap_or("no report"),
            invocation.elapsed.as_millis(),
            verdict_figures(&bench)
        ),
    );
    deliver_published(&functions, &bench, &world, &mut timeline, &mut summary).await;

    let mut base_spec = json!({
        "listener_arn": world.prod_listener_arn,
        "blue_target_group_arn": world.blue_target_group_arn,
        "green_target_group_arn": world.green_target_group_arn,
        "strategy": "Canary10Percent5Minutes",
        "alarms": [alarm],
        "health_gate": false,
        "bake_seconds": 300,
        // Five minutes become one second: the same plan, rehearsed fast.
        "time_scale": 1.0 / 300.0,
    });
    if scenario == Scenario::Watch {
        // Fifteen minutes of 10 % become 9 s, watched every 100 s (1 s: the state machine's
        // Wait takes whole seconds).
        base_spec["strategy"] = json!("Canary10Percent15Minutes");
        base_spec["time_scale"] = json!(0.01);
        base_spec["watch_seconds"] = json!(100);
    }

    if summary.hook_status.as_deref() == Some("Succeeded") {
        walk_rollout(
            &functions,
            &bench,
            &world,
            &config,
            &mut timeline,
            &mut summary,
            &base_spec,
            scenario,
            &green,
            alarm,
        )
        .await;
    } else {
        // The state machine's Catch: make sure production is on blue, green kept at weight 0.
        let mut spec = base_spec.clone();
        spec["action"] = json!("rollback");
        let out = invoke_shift(&functions, &mut timeline, &mut summary, spec).await;
        if let Some(out) = out {
            draw_weights(&mut timeline, &out);
        }
        deliver_published(&functions, &bench, &world, &mut timeline, &mut summary).await;
        let failed = codedeploy_trigger(
            &deployment_id,
            "FAILED",
            Some((
                "LIFECYCLE_EVENT_FAILED",
                "The AfterAllowTestTraffic hook validate-traffic reported Failed",
            )),
        );
        deliver(
            &functions,
            &bench,
            &world,
            &mut timeline,
            &mut summary,
            failed,
        )
        .await;
    }
    if summary.hook_status.as_deref() == Some("Succeeded") && !summary.rolled_back {
        let succeeded = codedeploy_trigger(&deployment_id, "SUCCEEDED", None);
        deliver(
            &functions,
            &bench,
            &world,
            &mut timeline,
            &mut summary,
            succeeded,
        )
        .await;
    } else if matches!(scenario, Scenario::Alarm | Scenario::Watch) {
        let failed = codedeploy_trigger(
            &deployment_id,
            "STOPPED",
            Some((
                "ALARM_ACTIVE",
                "Alarm checkout-green-5xx fired during the canary; traffic is back on blue",
            )),
        );
        deliver(
            &functions,
            &bench,
            &world,
            &mut timeline,
            &mut summary,
            failed,
        )
        .await;
    }

    summary.final_green_percent = green_percent_now(&config, &world).await;
    let expected = summary.as_expected(scenario);
    timeline.line(
        "summary",
        format!(
            "hook {} · green {:.0} % · steps {} · Slack messages {} · {}",
            summary.hook_status.as_deref().unwrap_or("not reported"),
            summary.final_green_percent,
            summary.shift_statuses.join(" → "),
            summary.slack_messages.len(),
            if expected {
                "as expected"
            } else {
                "NOT as expected"
            }
        ),
    );
    for problem in &summary.problems {
        timeline.line("problem", problem);
    }
    (summary, timeline.text)
}

#[allow(clippy::too_many_arguments)]
async fn walk_rollout(
    functions: &Functions,
    bench: &Bench,
    world: &ReleaseWorld,
    config: &SdkConfig,
    timeline: &mut Timeline,
    summary: &mut Summary,
    base_spec: &Value,
    scenario: Scenario,
    green: &HttpTarget,
    alarm: &str,
) {
    // The state machine itself, run state by state: the demo watches each step land.
    let mut execution = Execution::new(state_machine(), base_spec.clone());
    let mut alarm_raised = false;
    let mut watches = 0;
    // When the alarm fired, and how many states had run by then.
    let mut fired: Option<(std::time::Instant, usize)> = None;
    for _ in 0..200 {
        let Some(visit) = execution.advance(&functions.shift).await else {
            break;
        };
        let (state, out) = (visit.state.clone(), visit.output.clone());
        match state.as_str() {
            "Watch" => {
                watches += 1;
                let what = match out.get("action").and_then(Value::as_str) {
                    Some("rollback") => format!(
                        "watch {watches}: {} → rollback now",
                        out.get("reason")
                            .and_then(Value::as_str)
                            .unwrap_or("a gate failed")
                    ),
                    _ => format!("watch {watches}: gates clear, the wait goes on"),
                };
                timeline.line("watch", what);
                if scenario == Scenario::Watch && watches == 3 && !alarm_raised {
                    raise_alarm(
                        functions, bench, world, config, timeline, summary, green, alarm,
                    )
                    .await;
                    alarm_raised = true;
                    fired = Some((std::time::Instant::now(), execution.visits.len()));
                }
            }
            "Shift" | "Rollback" => {
                note_shift(summary, &out);
                draw_weights(timeline, &out);
                if let (Some((at, from)), "Rollback") = (fired, state.as_str()) {
                    let visits = &execution.visits;
                    let ms = |d: std::time::Duration| d.as_millis() as u64;
                    let last = visits.len() - 1;
                    let watched = WatchedRollback {
                        alarm_to_blue_ms: ms(visits[last].at - at),
                        interval_ms: WATCH_INTERVAL_MS,
                        watch_ms: visits
                            .iter()
                            .enumerate()
                            .skip(from)
                            .rfind(|(_, v)| v.state == "Watch")
                            .map(|(i, v)| ms(v.at - visits[i - 1].at))
                            .unwrap_or_default(),
                        rollback_ms: ms(visits[last].at - visits[last - 1].at),
                    };
                    timeline.line(
                        "watch",
                        format!(
                            "all traffic on blue {} ms after the alarm (watch interval {} ms; the \
                             watch took {} ms, the rollback step {} ms), not at the end of the 9 s wait",
                            watched.alarm_to_blue_ms,
                            watched.interval_ms,
                            watched.watch_ms,
                            watched.rollback_ms
                        ),
                    );
                    summary.watched_rollback = Some(watched);
                }
                deliver_published(functions, bench, world, timeline, summary).await;
                let waits = out.get("done").and_then(Value::as_bool) == Some(false);
                if waits {
                    let wait = out.get("wait_seconds").and_then(Value::as_u64).unwrap_or(0);
                    timeline.line("wait", format!("{wait} s (the state machine's Wait state)"));
                }
                if waits && scenario == Scenario::Alarm && !alarm_raised {
                    raise_alarm(
                        functions, bench, world, config, timeline, summary, green, alarm,
                    )
                    .await;
                    alarm_raised = true;
                }
            }
            _ => {}
        }
    }
    match &execution.ending {
        Some(Ending::Succeeded(_)) => {}
        Some(Ending::Failed { error, .. }) if error == "RolledBack" => summary.rolled_back = true,
        Some(Ending::Failed { error, cause }) => {
            timeline.line("shift", format!("execution failed: {error}: {cause}"));
            summary
                .problems
                .push(format!("state machine: {error}: {cause}"));
        }
        None => summary
            .problems
            .push("the rollout did not finish in 200 states".into()),
    }
}

/// Green starts failing under real users; CloudWatch alarms on its 5xx count, and the alarm's
/// message reaches Slack.
#[allow(clippy::too_many_arguments)]
async fn raise_alarm(
    functions: &Functions,
    bench: &Bench,
    world: &ReleaseWorld,
    config: &SdkConfig,
    timeline: &mut Timeline,
    summary: &mut Summary,
    green: &HttpTarget,
    alarm: &str,
) {
    green.set(Behavior::status(503, "checkout v2 overloaded"));
    set_alarm(config, alarm).await;
    timeline.line(
        "cloudwatch",
        format!("alarm {alarm} → ALARM (green answers 503)"),
    );
    let message = alarm_message(alarm);
    deliver(functions, bench, world, timeline, summary, message).await;
}

/// Counts one shift-traffic answer in the summary.
pub(crate) fn note_shift(summary: &mut Summary, out: &Value) {
    let status = out
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_string();
    if status == "RolledBack" {
        summary.rolled_back = true;
    }
    summary.shift_statuses.push(status);
}

async fn invoke_shift(
    functions: &Functions,
    timeline: &mut Timeline,
    summary: &mut Summary,
    input: Value,
) -> Option<Value> {
    let invocation = functions.shift.invoke(input).await;
    match invocation.outcome {
        InvokeOutcome::Response(out) => {
            note_shift(summary, &out);
            Some(out)
        }
        other => {
            timeline.line("shift", format!("failed: {other:?}"));
            summary.problems.push(format!("shift-traffic: {other:?}"));
            None
        }
    }
}

pub(crate) fn draw_weights(timeline: &mut Timeline, out: &Value) {
    let green = out
        .get("green_percent")
        .and_then(Value::as_f64)
        .unwrap_or(0.0);
    let status = out.get("status").and_then(Value::as_str).unwrap_or("?");
    let step = out.get("step").and_then(Value::as_u64).unwrap_or(0);
    let total = out.get("total_steps").and_then(Value::as_u64).unwrap_or(0);
    let reason = out
        .get("reason")
        .and_then(Value::as_str)
        .map(|r| format!(" — {r}"))
        .unwrap_or_default();
    timeline.line(
        "shift",
        format!(
            "{status:<10} step {step}/{total}  blue {} {:>3.0}%  green {} {:>3.0}%{reason}",
            bar(100.0 - green),
            100.0 - green,
            bar(green),
            green
        ),
    );
}

fn bar(percent: f64) -> String {
    let filled = ((percent / 5.0).round() as usize).min(20);
    format!("{}{}", "█".repeat(filled), "░".repeat(20 - filled))
}

pub(crate) async fn start_functions(
    bench: &Bench,
    world: &ReleaseWorld,
    proxy: &ForwardProxy,
    ciphertext: &str,
) -> Functions {
    let proxy_url = proxy.url();
    let env = |name: &str| {
        crate::world::function_env(name, world, &proxy_url, ciphertext).unwrap_or_default()
    };
    let (validate_env, shift_env, notify_env) = (
        env("validate-traffic"),
        env("shift-traffic"),
        env("notify-slack"),
    );
    let validate = LambdaFn::start("validate-traffic", bench, &env_refs(&validate_env)).await;
    let shift = LambdaFn::start("shift-traffic", bench, &env_refs(&shift_env)).await;
    let notify = LambdaFn::start("notify-slack", bench, &env_refs(&notify_env)).await;
    Functions {
        validate,
        shift,
        notify,
    }
}

/// Hands every message published to the topic since the last call to notify-slack.
pub(crate) async fn deliver_published(
    functions: &Functions,
    bench: &Bench,
    world: &ReleaseWorld,
    timeline: &mut Timeline,
    summary: &mut Summary,
) {
    let published = bench.front.sns_messages();
    for message in published.iter().skip(summary.sns_seen) {
        let event = sns_event(
            &world.topic_arn,
            message.subject.as_deref(),
            &message.message,
        );
        deliver_event(functions, bench, timeline, summary, event).await;
    }
    summary.sns_seen = published.len();
}

async fn deliver(
    functions: &Functions,
    bench: &Bench,
    world: &ReleaseWorld,
    timeline: &mut Timeline,
    summary: &mut Summary,
    (subject, message): (String, String),
) {
    let event = sns_event(&world.topic_arn, Some(&subject), &message);
    deliver_event(functions, bench, timeline, summary, event).await;
}

async fn deliver_event(
    functions: &Functions,
    bench: &Bench,
    timeline: &mut Timeline,
    summary: &mut Summary,
    event: Value,
) {
    let before = bench.slack.posts().len();
    let invocation = functions.notify.invoke(event).await;
    if !invocation.is_ok() {
        summary
            .problems
            .push(format!("notify-slack: {:?}", invocation.outcome));
    }
    for post in bench.slack.posts().into_iter().skip(before) {
        let text = crate::slack_text::render(&post.json());
        timeline.line(
            "slack",
            if post.delivered() {
                "message posted"
            } else {
                "post rejected"
            },
        );
        timeline.block(&text);
        summary.slack_messages.push(text);
    }
}

fn verdict_figures(bench: &Bench) -> String {
    let Some(event) = bench
        .front
        .sns_messages()
        .iter()
        .rev()
        .find_map(|m| rollout_kit::RolloutEvent::parse(&m.message))
    else {
        return String::new();
    };
    match event.detail {
        rollout_kit::RolloutDetail::Validation(v) => {
            let ms = |x: Option<u64>| x.map(|v| v.to_string()).unwrap_or_else(|| "–".into());
            let mut text = format!(
                " · {}/{} passed · p50 {} ms p95 {} ms p99 {} ms max {} ms",
                v.passed,
                v.requests,
                ms(v.p50_ms),
                ms(v.p95_ms),
                ms(v.p99_ms),
                ms(v.max_ms)
            );
            if let Some(reason) = event.reason {
                text.push_str(&format!(" · {reason}"));
            }
            text
        }
        _ => String::new(),
    }
}

pub(crate) async fn green_percent_now(config: &SdkConfig, world: &ReleaseWorld) -> f64 {
    let listeners = aws_sdk_elasticloadbalancingv2::Client::new(config)
        .describe_listeners()
        .listener_arns(&world.prod_listener_arn)
        .send()
        .await;
    let Ok(listeners) = listeners else {
        return -1.0;
    };
    let groups = listeners
        .listeners()
        .first()
        .and_then(|l| l.default_actions().first())
        .and_then(|a| a.forward_config())
        .map(|f| f.target_groups().to_vec())
        .unwrap_or_default();
    let weight = |arn: &str| {
        groups
            .iter()
            .find(|g| g.target_group_arn() == Some(arn))
            .and_then(|g| g.weight())
            .unwrap_or(0) as f64
    };
    let (blue, green) = (
        weight(&world.blue_target_group_arn),
        weight(&world.green_target_group_arn),
    );
    if blue + green == 0.0 {
        0.0
    } else {
        (green * 100.0 / (blue + green)).round()
    }
}

async fn set_alarm(config: &SdkConfig, name: &str) {
    fixtures::set_alarm_state(
        &aws_sdk_cloudwatch::Client::new(config),
        name,
        aws_sdk_cloudwatch::types::StateValue::Alarm,
        "Threshold Crossed: 1 datapoint [37.0] was greater than the threshold (5.0).",
    )
    .await;
}

/// A deployment trigger as CodeDeploy sends it to SNS: UPPERCASE status, Java-style dates,
/// JSON-encoded strings for the nested objects.
fn codedeploy_trigger(
    deployment_id: &str,
    status: &str,
    error: Option<(&str, &str)>,
) -> (String, String) {
    let running = matches!(status, "CREATED" | "IN_PROGRESS");
    let overview = match status {
        "SUCCEEDED" => r#"{"Succeeded":1,"Failed":0,"Skipped":0,"InProgress":0,"Pending":0}"#,
        "FAILED" | "STOPPED" => {
            r#"{"Succeeded":0,"Failed":1,"Skipped":0,"InProgress":0,"Pending":0}"#
        }
        _ => r#"{"Succeeded":0,"Failed":0,"Skipped":0,"InProgress":0,"Pending":1}"#,
    };
    let mut message = json!({
        "region": "us-east-1",
        "accountId": "123456789012",
        "eventTriggerName": "checkout-deployments",
        "applicationName": APPLICATION,
        "deploymentId": deployment_id,
        "deploymentGroupName": DEPLOYMENT_GROUP,
        "createTime": "Sun Nov 22 05:00:00 UTC 2026",
        "completeTime": if running { Value::Null } else { json!("Sun Nov 22 05:03:12 UTC 2026") },
        "status": status,
        "deploymentOverview": overview,
    });
    if let Some((code, text)) = error {
        message["errorInformation"] =
            json!(json!({"ErrorCode": code, "ErrorMessage": text}).to_string());
    }
    let subject = format!("{status}: AWS CodeDeploy {deployment_id} in us-east-1 to {APPLICATION}");
    (subject, message.to_string())
}

fn alarm_message(alarm: &str) -> (String, String) {
    let message = json!({
        "AlarmName": alarm,
        "AlarmDescription": null,
        "AWSAccountId": "123456789012",
        "AlarmConfigurationUpdatedTimestamp": "2026-11-22T05:00:00.000+0000",
        "NewStateValue": "ALARM",
        "NewStateReason": "Threshold Crossed: 1 datapoint [37.0] was greater than the threshold (5.0).",
        "StateChangeTime": "2026-11-22T05:02:00.000+0000",
        "Region": "US East (N. Virginia)",
        "AlarmArn": format!("arn:aws:cloudwatch:us-east-1:123456789012:alarm:{alarm}"),
        "OldStateValue": "OK",
        "Trigger": {
            "MetricName": "HTTPCode_Target_5XX_Count",
            "Namespace": "AWS/ApplicationELB",
            "StatisticType": "Statistic",
            "Statistic": "SUM",
            "Period": 60,
            "EvaluationPeriods": 1,
            "ComparisonOperator": "GreaterThanThreshold",
            "Threshold": 5.0
        }
    });
    (
        format!("ALARM: \"{alarm}\" in US East (N. Virginia)"),
        message.to_string(),
    )
}

/// The event Lambda receives from an SNS subscription.
pub fn sns_event(topic_arn: &str, subject: Option<&str>, message: &str) -> Value {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    json!({
        "Records": [{
            "EventSource": "aws:sns",
            "EventVersion": "1.0",
            "EventSubscriptionArn": format!("{topic_arn}:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55"),
            "Sns": {
                "Type": "Notification",
                "MessageId": format!("95df01b4-ee98-5cb9-9903-{n:012x}"),
                "TopicArn": topic_arn,
                "Subject": subject,
                "Message": message,
                "Timestamp": "2026-11-22T05:00:00.000Z",
                "SignatureVersion": "1",
                "Signature": "EXAMPLE",
                "SigningCertUrl": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem",
                "UnsubscribeUrl": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
                "MessageAttributes": {}
            }
        }]
    })
}
