//! `make invoke FN=<function> EVENT=<sample>`: one function, one event, on the local bench.
//!
//! `sam local invoke` needs Docker, and `cargo lambda invoke` reaches a function that stops at
//! start-up without its configuration and an AWS to talk to. This starts a bench (moto, the AWS
//! front, the Slack fake), builds the release world the demo uses, prepares what the chosen
//! function needs, starts its binary under the bench's Lambda Runtime API with the demo's
//! configuration, invokes it once and prints three sections:
//!
//! 1. the response or the error, as a Lambda caller sees it;
//! 2. the function's log lines;
//! 3. the side effects, read back from the bench: the Slack messages as a person reads them
//!    (notify-slack), the hook status CodeDeploy received and the probes green answered
//!    (validate-traffic), the weights before and after and the rollout events published
//!    (shift-traffic).
//!
//! Samples name resources of an imaginary account; the parts that must exist (the deployment id,
//! the listener, rule and target group ARNs, the alarms) are pointed at the bench's world, and
//! every such change is printed.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use aws_config::SdkConfig;
use aws_sdk_elasticloadbalancingv2::types as elb;
use serde_json::{Value, json};

use crate::front::{HookReport, SnsPublish};
use crate::target::{Behavior, HttpTarget, TargetRequest};
use crate::world::{ReleaseWorld, TEST_PORT, env_refs, function_env};
use crate::{Bench, ForwardProxy, Invocation, InvokeOutcome, LambdaFn, workspace_root};

/// The three functions of the workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    ValidateTraffic,
    ShiftTraffic,
    NotifySlack,
}

impl Function {
    pub const ALL: [Function; 3] = [
        Function::ValidateTraffic,
        Function::ShiftTraffic,
        Function::NotifySlack,
    ];

    /// The crate, binary and `events/` folder name.
    pub fn name(self) -> &'static str {
        match self {
            Function::ValidateTraffic => "validate-traffic",
            Function::ShiftTraffic => "shift-traffic",
            Function::NotifySlack => "notify-slack",
        }
    }
}

impl std::str::FromStr for Function {
    type Err = InvokeError;
    fn from_str(s: &str) -> Result<Self, InvokeError> {
        Function::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| InvokeError::UnknownFunction(s.to_string()))
    }
}

/// What stops an invocation before the bench starts (the binary exits 2 on these).
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    #[error("unknown function {0:?}: choose validate-traffic, shift-traffic or notify-slack")]
    UnknownFunction(String),
    #[error("no event given{}", samples_hint(*.0))]
    NoEvent(Function),
    #[error("cannot read the event {path}: {reason}{}", samples_hint(*function))]
    Unreadable {
        function: Function,
        path: String,
        reason: String,
    },
    #[error("the event {path} is not JSON: {reason}")]
    NotJson { path: String, reason: String },
}

fn samples_hint(function: Function) -> String {
    let samples = samples(function);
    if samples.is_empty() {
        return String::new();
    }
    let mut hint = format!("\nsamples for {}:", function.name());
    for sample in samples {
        let _ = write!(hint, "\n  {sample}");
    }
    hint
}

/// The sample events of a function, as paths relative to the workspace root.
pub fn samples(function: Function) -> Vec<String> {
    let dir = workspace_root().join("events").join(function.name());
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".json"))
                .map(|n| format!("events/{}/{n}", function.name()))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Reads an event file: the path as given (relative to the current directory), else relative
/// to the workspace root or to its `events/` folder, so `notify-slack/generic-text.json` works.
pub fn load_event(function: Function, path: &str) -> Result<Value, InvokeError> {
    let given = PathBuf::from(path);
    let root = workspace_root();
    let found = [
        given.clone(),
        root.join(&given),
        root.join("events").join(&given),
    ]
    .into_iter()
    .find(|p| p.is_file());
    let Some(found) = found else {
        let reason = if given.is_dir() {
            "it is a directory".to_string()
        } else {
            "no such file".to_string()
        };
        return Err(InvokeError::Unreadable {
            function,
            path: path.to_string(),
            reason,
        });
    };
    let text = std::fs::read_to_string(&found).map_err(|e| InvokeError::Unreadable {
        function,
        path: path.to_string(),
        reason: e.to_string(),
    })?;
    serde_json::from_str(&text).map_err(|e| InvokeError::NotJson {
        path: path.to_string(),
        reason: e.to_string(),
    })
}

/// (blue, green) weights of a listener's or rule's forward action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Weights {
    pub blue: i32,
    pub green: i32,
}

impl Weights {
    pub fn green_percent(self) -> f64 {
        let total = self.blue + self.green;
        if total <= 0 {
            0.0
        } else {
            f64::from(self.green) * 100.0 / f64::from(total)
        }
    }
}

/// What the function did outside its response, read back from the bench.
#[derive(Debug, Clone)]
pub enum SideEffects {
    NotifySlack {
        /// Each post that reached the webhook: (delivered, the message as a person reads it).
        posts: Vec<(bool, String)>,
    },
    ValidateTraffic {
        hook_reports: Vec<HookReport>,
        probes: Vec<TargetRequest>,
        published: Vec<SnsPublish>,
    },
    ShiftTraffic {
        /// `listener` or `rule`.
        target: String,
        before: Option<Weights>,
        after: Option<Weights>,
        published: Vec<SnsPublish>,
    },
}

/// One invocation and everything it left behind.
#[derive(Debug, Clone)]
pub struct Report {
    pub function: Function,
    /// The sample's values that were replaced by the bench's, one line each.
    pub substitutions: Vec<String>,
    /// The event as the function received it.
    pub event: Value,
    pub invocation: Invocation,
    pub logs: String,
    pub side_effects: SideEffects,
    /// Everything printed.
    pub text: String,
}

/// Prints as it goes (unless quiet) and keeps the text.
struct Out {
    started: Instant,
    quiet: bool,
    text: String,
}

impl Out {
    fn line(&mut self, line: impl AsRef<str>) {
        if !self.quiet {
            println!("{}", line.as_ref());
        }
        self.text.push_str(line.as_ref());
        self.text.push('\n');
    }

    fn progress(&mut self, message: impl AsRef<str>) {
        let line = format!(
            "[{:>4.1}s] {}",
            self.started.elapsed().as_secs_f64(),
            message.as_ref()
        );
        self.line(line);
    }

    fn heading(&mut self, title: &str) {
        self.line("");
        self.line(format!(
            "── {title} {}",
            "─".repeat(60usize.saturating_sub(title.len()))
        ));
    }

    fn indented(&mut self, text: &str) {
        for line in text.lines() {
            self.line(format!("  {line}"));
        }
    }
}

/// Invokes `function` once with `event` on a fresh bench. `quiet` keeps stdout clean (tests);
/// the printed text is in the report either way.
/// The bench world a sample is played in. validate-traffic's CodeDeploy hook events look alike
/// (they carry only ids), so a `lambda-…` file name marks the hook of a CodeDeploy Lambda
/// deployment; every other sample plays in the release world (ALB, ECS blue/green group).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum World {
    Release,
    LambdaDeployment,
}

impl World {
    pub fn for_sample(path: &str) -> World {
        let file = path.rsplit('/').next().unwrap_or(path);
        if file.starts_with("lambda-") {
            World::LambdaDeployment
        } else {
            World::Release
        }
    }
}

pub async fn run(function: Function, event: Value, played_in: World, quiet: bool) -> Report {
    let mut out = Out {
        started: Instant::now(),
        quiet,
        text: String::new(),
    };
    out.progress(format!(
        "{} on the local bench (moto, AWS front, Slack fake)",
        function.name()
    ));
    let bench = Bench::start().await;
    let config = bench.sdk_config().await;
    let world = ReleaseWorld::create(&config).await;
    out.progress(format!(
        "release world: ALB {} · prod :80 → blue, green at 0 · test :{TEST_PORT} → green · \
         CodeDeploy {}/{} · topic · KMS key",
        world.load_balancer_dns,
        crate::world::APPLICATION,
        crate::world::DEPLOYMENT_GROUP
    ));
    let mut substitutions = Vec::new();
    let mut event = event;

    let report = match function {
        Function::NotifySlack => {
            let ciphertext = world
                .encrypt_webhook(&config, &bench.slack.webhook_url(), Some(function.name()))
                .await;
            out.progress("webhook URL of the Slack fake encrypted under the world's KMS key");
            let env = function_env(function.name(), &world, "", &ciphertext).unwrap_or_default();
            let lambda = start(&mut out, function, &bench, &env_refs(&env)).await;
            let invocation = invoke(&mut out, &lambda, &substitutions, &event).await;
            let posts = bench
                .slack
                .posts()
                .iter()
                .map(|p| (p.delivered(), crate::slack_text::render(&p.json())))
                .collect();
            Report::new(
                function,
                substitutions,
                event,
                invocation,
                lambda.logs(),
                SideEffects::NotifySlack { posts },
            )
        }
        Function::ValidateTraffic if event.get("lifecycleStage").is_some() => {
            // An ECS built-in deployment's hook event: the bench's world has no ECS service
            // revision, so the stages that probe answer FAILED naming what is missing; the
            // others (and rollbacks) answer as ECS would see them. The whole ECS flow runs in
            // tests/tests/suite/validate_traffic_ecs.rs.
            out.progress(
                "ECS hook event: no ECS service revision on the bench, so probing stages answer \
                 FAILED (ServiceRevisionNotFound); the others answer at once",
            );
            let env = function_env(function.name(), &world, "", "").unwrap_or_default();
            let lambda = start(&mut out, function, &bench, &env_refs(&env)).await;
            let invocation = invoke(&mut out, &lambda, &substitutions, &event).await;
            let side_effects = validate_traffic_effects(&bench, Vec::new());
            Report::new(
                function,
                substitutions,
                event,
                invocation,
                lambda.logs(),
                side_effects,
            )
        }
        Function::ValidateTraffic if event.get("probe").is_some() => {
            // A direct probe request: its listener becomes the world's test listener, green
            // answers behind it, and the verdict is the return value (no CodeDeploy report).
            if event["probe"].get("listener_arn").is_some() {
                let old = short(&event["probe"]["listener_arn"]);
                event["probe"]["listener_arn"] = json!(world.test_listener_arn);
                substitutions.push(format!(
                    "probe.listener_arn: {old} → {} (the world's test listener, in front of green)",
                    short(&event["probe"]["listener_arn"])
                ));
            }
            let green =
                HttpTarget::start_with(Behavior::ok(r#"{"status":"ok","version":"2"}"#)).await;
            let proxy = ForwardProxy::start().await;
            proxy.route(
                &format!("{}:{TEST_PORT}", world.load_balancer_dns),
                green.addr(),
            );
            out.progress(format!(
                "probe request: green (answers 200 {{\"status\":\"ok\"}}) on {} behind the test \
                 listener through the forward proxy",
                green.addr()
            ));
            let env = function_env(function.name(), &world, &proxy.url(), "").unwrap_or_default();
            let lambda = start(&mut out, function, &bench, &env_refs(&env)).await;
            let invocation = invoke(&mut out, &lambda, &substitutions, &event).await;
            let side_effects = validate_traffic_effects(&bench, green.requests());
            Report::new(
                function,
                substitutions,
                event,
                invocation,
                lambda.logs(),
                side_effects,
            )
        }
        Function::ValidateTraffic if played_in == World::LambdaDeployment => {
            crate::lambda_world::create_role(&bench).await;
            let deployment_id =
                crate::lambda_world::release(&bench, &config, "orders", "healthy").await;
            replace(
                &mut event,
                "DeploymentId",
                json!(deployment_id),
                &mut substitutions,
                "a CodeDeploy Lambda deployment moving alias live of orders from version 1 to 2",
            );
            out.progress(format!(
                "Lambda deployment {deployment_id}: function orders, versions 1 and 2 answering \
                 {{\"statusCode\": 200, \"version\": \"v<n>\"}} in local processes, alias live on 1 (before traffic)"
            ));
            let env = function_env(function.name(), &world, "", "").unwrap_or_default();
            let lambda = start(&mut out, function, &bench, &env_refs(&env)).await;
            let invocation = invoke(&mut out, &lambda, &substitutions, &event).await;
            let side_effects = validate_traffic_effects(&bench, Vec::new());
            Report::new(
                function,
                substitutions,
                event,
                invocation,
                lambda.logs(),
                side_effects,
            )
        }
        Function::ValidateTraffic => {
            let deployment_id = world.create_deployment(&config).await;
            replace(
                &mut event,
                "DeploymentId",
                json!(deployment_id),
                &mut substitutions,
                "a deployment in the world's ECS blue/green group; green is found through its test listener",
            );
            let green = HttpTarget::start_with(Behavior::ok("checkout v2 ok")).await;
            let proxy = ForwardProxy::start().await;
            proxy.route(
                &format!("{}:{TEST_PORT}", world.load_balancer_dns),
                green.addr(),
            );
            out.progress(format!(
                "deployment {deployment_id} created; green (answers 200 \"checkout v2 ok\") on {} \
                 behind the test listener through the forward proxy",
                green.addr()
            ));
            let env = function_env(function.name(), &world, &proxy.url(), "").unwrap_or_default();
            let lambda = start(&mut out, function, &bench, &env_refs(&env)).await;
            let invocation = invoke(&mut out, &lambda, &substitutions, &event).await;
            let side_effects = validate_traffic_effects(&bench, green.requests());
            Report::new(
                function,
                substitutions,
                event,
                invocation,
                lambda.logs(),
                side_effects,
            )
        }
        Function::ShiftTraffic => {
            let target = prepare_shift(&config, &world, &mut event, &mut substitutions).await;
            let (kind, arn) = match &target {
                ShiftTarget::Listener(arn) => ("listener", arn.clone()),
                ShiftTarget::Rule(arn) => ("rule", arn.clone()),
                ShiftTarget::None => ("listener", world.prod_listener_arn.clone()),
            };
            let before = weights(&config, &world, &target).await;
            out.progress(format!(
                "{kind} {} before: {}",
                short_arn(&arn),
                weights_text(before)
            ));
            let env = function_env(function.name(), &world, "", "").unwrap_or_default();
            let lambda = start(&mut out, function, &bench, &env_refs(&env)).await;
            let invocation = invoke(&mut out, &lambda, &substitutions, &event).await;
            let after = weights(&config, &world, &target).await;
            Report::new(
                function,
                substitutions,
                event,
                invocation,
                lambda.logs(),
                SideEffects::ShiftTraffic {
                    target: kind.to_string(),
                    before,
                    after,
                    published: bench.front.sns_messages(),
                },
            )
        }
    };
    print_report(&mut out, &report);
    Report {
        text: out.text,
        ..report
    }
}

/// What validate-traffic left on the bench: the hook statuses CodeDeploy received, the probe's
/// requests and the rollout events published.
fn validate_traffic_effects(bench: &Bench, probes: Vec<TargetRequest>) -> SideEffects {
    SideEffects::ValidateTraffic {
        hook_reports: bench.front.hook_reports(),
        probes,
        published: bench.front.sns_messages(),
    }
}

impl Report {
    fn new(
        function: Function,
        substitutions: Vec<String>,
        event: Value,
        invocation: Invocation,
        logs: String,
        side_effects: SideEffects,
    ) -> Report {
        Report {
            function,
            substitutions,
            event,
            invocation,
            logs,
            side_effects,
            text: String::new(),
        }
    }
}

/// Starts the function's binary with the bench's AWS environment and `env`, which is printed.
async fn start(out: &mut Out, function: Function, bench: &Bench, env: &[(&str, &str)]) -> LambdaFn {
    let shown: Vec<String> = env
        .iter()
        .map(|(k, v)| format!("{k}={}", abbreviate(v, 80)))
        .collect();
    out.progress(format!(
        "starting {} with AWS_ENDPOINT_URL=<the AWS front> and {}",
        function.name(),
        shown.join(" ")
    ));
    LambdaFn::start(function.name(), bench, env).await
}

async fn invoke(
    out: &mut Out,
    lambda: &LambdaFn,
    substitutions: &[String],
    event: &Value,
) -> Invocation {
    if !substitutions.is_empty() {
        out.heading("sample adapted to the bench");
        for line in substitutions {
            out.line(format!("  {line}"));
        }
        out.line("");
    }
    out.progress("invoking it once through the Lambda Runtime API (60 s timeout)");
    let invocation = lambda.invoke(event.clone()).await;
    out.progress(format!("answered in {} ms", invocation.elapsed.as_millis()));
    invocation
}

fn print_report(out: &mut Out, report: &Report) {
    out.heading("1. response");
    match &report.invocation.outcome {
        InvokeOutcome::Response(value) => {
            if let Some(status) = value.get("status").and_then(Value::as_str) {
                out.line(format!("  status {status}{}", response_summary(value)));
            }
            out.indented(&serde_json::to_string_pretty(value).unwrap_or_default());
        }
        InvokeOutcome::Error {
            error_type,
            error_message,
        } => {
            out.line(format!("  ERROR {error_type}: {error_message}"));
        }
        InvokeOutcome::Timeout => out.line("  TIMEOUT: no answer before the 60 s deadline"),
        InvokeOutcome::Crashed(reason) => out.line(format!("  CRASHED: {reason}")),
    }

    out.heading("2. logs");
    if report.logs.trim().is_empty() {
        out.line("  (none)");
    }
    for line in report.logs.lines() {
        out.line(format!("  {}", log_line(line)));
    }

    out.heading("3. side effects");
    match &report.side_effects {
        SideEffects::NotifySlack { posts } => {
            if posts.is_empty() {
                out.line("  no Slack post");
            }
            for (i, (delivered, text)) in posts.iter().enumerate() {
                out.line(format!(
                    "  Slack post {} of {} ({})",
                    i + 1,
                    posts.len(),
                    if *delivered {
                        "delivered"
                    } else {
                        "rejected by Slack"
                    }
                ));
                out.indented(&indent(text, "  "));
            }
        }
        SideEffects::ValidateTraffic {
            hook_reports,
            probes,
            published,
        } => {
            if hook_reports.is_empty() {
                out.line("  CodeDeploy received no hook status");
            }
            for r in hook_reports {
                out.line(format!(
                    "  CodeDeploy hook status: {} (deployment {}, execution {})",
                    r.status,
                    r.deployment_id,
                    abbreviate(&r.execution_id, 24)
                ));
            }
            out.line(format!(
                "  green received {} probe request(s){}",
                probes.len(),
                probe_summary(probes)
            ));
            print_published(out, published);
        }
        SideEffects::ShiftTraffic {
            target,
            before,
            after,
            published,
        } => {
            out.line(format!("  {target} before: {}", weights_text(*before)));
            out.line(format!("  {target} after:  {}", weights_text(*after)));
            if before == after {
                out.line("  (weights unchanged)");
            }
            print_published(out, published);
        }
    }
}

/// The fields of a shift-traffic answer a person looks for first.
fn response_summary(value: &Value) -> String {
    let mut text = String::new();
    if let (Some(step), Some(total)) = (
        value.get("step").and_then(Value::as_u64),
        value.get("total_steps").and_then(Value::as_u64),
    ) {
        let _ = write!(text, " · step {step} of {total}");
    }
    if let Some(green) = value.get("green_percent").and_then(Value::as_f64) {
        let _ = write!(text, " · green {green} %");
    }
    if let Some(done) = value.get("done").and_then(Value::as_bool) {
        let _ = write!(text, " · done {done}");
    }
    if let Some(reason) = value.get("reason").and_then(Value::as_str)
        && !reason.is_empty()
    {
        let _ = write!(text, " · reason: {reason}");
    }
    text
}

fn print_published(out: &mut Out, published: &[SnsPublish]) {
    out.line(format!(
        "  rollout events published to the topic: {}",
        published.len()
    ));
    for message in published {
        out.line(format!(
            "  • {}",
            message.subject.as_deref().unwrap_or("(no subject)")
        ));
        let body = serde_json::from_str::<Value>(&message.message)
            .ok()
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or_else(|| message.message.clone());
        out.indented(&indent(&body, "  "));
    }
}

fn indent(text: &str, by: &str) -> String {
    text.lines()
        .map(|l| format!("{by}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A JSON log record as one readable line: level, message, then the other fields.
fn log_line(line: &str) -> String {
    let Ok(Value::Object(record)) = serde_json::from_str::<Value>(line) else {
        return line.to_string();
    };
    let level = record.get("level").and_then(Value::as_str).unwrap_or("");
    let fields = record.get("fields").and_then(Value::as_object);
    let message = fields
        .and_then(|f| f.get("message"))
        .or_else(|| record.get("message"))
        .map(plain)
        .unwrap_or_default();
    let mut text = format!("{level:<5} {message}");
    let extra = fields
        .into_iter()
        .flatten()
        .filter(|(k, _)| k.as_str() != "message");
    for (key, value) in extra {
        let _ = write!(text, " {key}={}", plain(value));
    }
    if fields.is_none() {
        for (key, value) in &record {
            if !matches!(
                key.as_str(),
                "level" | "message" | "timestamp" | "target" | "span" | "spans"
            ) {
                let _ = write!(text, " {key}={}", plain(value));
            }
        }
    }
    text
}

fn plain(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn abbreviate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(max).collect::<String>())
    }
}

fn probe_summary(probes: &[TargetRequest]) -> String {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for probe in probes {
        let key = format!("{} {}", probe.method, probe.path);
        match counts.iter_mut().find(|(k, _)| *k == key) {
            Some((_, n)) => *n += 1,
            None => counts.push((key, 1)),
        }
    }
    if counts.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = counts.iter().map(|(k, n)| format!("{k} ×{n}")).collect();
    let agent = probes
        .first()
        .and_then(|p| p.header("user-agent"))
        .map(|a| format!(" (user-agent {a})"))
        .unwrap_or_default();
    format!(": {}{agent}", parts.join(", "))
}

fn replace(
    event: &mut Value,
    field: &str,
    value: Value,
    substitutions: &mut Vec<String>,
    what: &str,
) {
    let old = event.get(field).cloned().unwrap_or(Value::Null);
    if old == value {
        return;
    }
    substitutions.push(format!(
        "{field}: {} → {} ({what})",
        short(&old),
        short(&value)
    ));
    if let Some(object) = event.as_object_mut() {
        object.insert(field.to_string(), value);
    }
}

fn short(value: &Value) -> String {
    match value {
        Value::String(s) => short_arn(s),
        Value::Null => "(none)".to_string(),
        other => other.to_string(),
    }
}

/// An ARN without its `arn:aws:<service>:<region>:<account>:` prefix.
fn short_arn(arn: &str) -> String {
    if arn.starts_with("arn:") {
        arn.splitn(6, ':').nth(5).unwrap_or(arn).to_string()
    } else {
        arn.to_string()
    }
}

enum ShiftTarget {
    Listener(String),
    Rule(String),
    /// The sample names neither; the function will say so.
    None,
}

/// Points the sample at the world's listener (or a rule on it), target groups and alarms, and
/// puts the weights where a sample that carries a previous step's output left them.
async fn prepare_shift(
    config: &SdkConfig,
    world: &ReleaseWorld,
    event: &mut Value,
    substitutions: &mut Vec<String>,
) -> ShiftTarget {
    let elbv2 = aws_sdk_elasticloadbalancingv2::Client::new(config);
    let mut target = ShiftTarget::None;
    if event.get("rule_arn").is_some() {
        let rule_arn = elbv2
            .create_rule()
            .listener_arn(&world.prod_listener_arn)
            .priority(10)
            .conditions(
                elb::RuleCondition::builder()
                    .field("path-pattern")
                    .path_pattern_config(
                        elb::PathPatternConditionConfig::builder()
                            .values("/api/*")
                            .build(),
                    )
                    .build(),
            )
            .actions(forward(
                &world.blue_target_group_arn,
                1,
                &world.green_target_group_arn,
                0,
            ))
            .send()
            .await
            .expect("create rule")
            .rules()
            .first()
            .and_then(|r| r.rule_arn())
            .expect("rule arn")
            .to_string();
        replace(
            event,
            "rule_arn",
            json!(rule_arn),
            substitutions,
            "a /api/* rule on the world's production listener, blue 1 · green 0",
        );
        target = ShiftTarget::Rule(rule_arn);
    }
    if event.get("listener_arn").is_some() {
        replace(
            event,
            "listener_arn",
            json!(world.prod_listener_arn),
            substitutions,
            "the world's production listener",
        );
        if matches!(target, ShiftTarget::None) {
            target = ShiftTarget::Listener(world.prod_listener_arn.clone());
        }
    }
    for (field, arn, what) in [
        (
            "blue_target_group_arn",
            &world.blue_target_group_arn,
            "the world's blue target group",
        ),
        (
            "green_target_group_arn",
            &world.green_target_group_arn,
            "the world's green target group",
        ),
    ] {
        if event.get(field).is_some() {
            replace(event, field, json!(arn), substitutions, what);
        }
    }

    // The alarms the sample watches exist, in OK, as a quiet release would have them.
    let alarms: Vec<String> = event
        .get("alarms")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    if !alarms.is_empty() {
        let cloudwatch = aws_sdk_cloudwatch::Client::new(config);
        for alarm in &alarms {
            create_ok_alarm(&cloudwatch, alarm).await;
        }
        substitutions.push(format!(
            "alarms: {} created in the world, state OK",
            alarms.join(", ")
        ));
    }

    // A sample carrying a previous step's output expects the weights that step wrote.
    let carried = |name: &str| {
        event
            .get(name)
            .and_then(Value::as_i64)
            .and_then(|w| i32::try_from(w).ok())
    };
    if let (Some(blue), Some(green)) = (carried("blue_weight"), carried("green_weight")) {
        let action = forward(
            &world.blue_target_group_arn,
            blue,
            &world.green_target_group_arn,
            green,
        );
        let written = match &target {
            ShiftTarget::Listener(arn) => elbv2
                .modify_listener()
                .listener_arn(arn)
                .default_actions(action)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
            ShiftTarget::Rule(arn) => elbv2
                .modify_rule()
                .rule_arn(arn)
                .actions(action)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
            ShiftTarget::None => Ok(()),
        };
        if written.is_ok() && !matches!(target, ShiftTarget::None) {
            substitutions.push(format!(
                "weights set to blue {blue} · green {green}, as the previous step the sample \
                 carries left them"
            ));
        }
    }
    target
}

async fn create_ok_alarm(cloudwatch: &aws_sdk_cloudwatch::Client, name: &str) {
    use aws_sdk_cloudwatch::types::{ComparisonOperator, StateValue};
    crate::fixtures::put_5xx_alarm(
        cloudwatch,
        name,
        5.0,
        ComparisonOperator::GreaterThanThreshold,
    )
    .await;
    crate::fixtures::set_alarm_state(cloudwatch, name, StateValue::Ok, "created by make invoke")
        .await;
}

fn forward(blue: &str, blue_weight: i32, green: &str, green_weight: i32) -> elb::Action {
    let tuple = |arn: &str, weight: i32| {
        elb::TargetGroupTuple::builder()
            .target_group_arn(arn)
            .weight(weight)
            .build()
    };
    elb::Action::builder()
        .r#type(elb::ActionTypeEnum::Forward)
        .forward_config(
            elb::ForwardActionConfig::builder()
                .target_groups(tuple(blue, blue_weight))
                .target_groups(tuple(green, green_weight))
                .build(),
        )
        .build()
}

/// The blue and green weights of the target's forward action, read from moto.
async fn weights(
    config: &SdkConfig,
    world: &ReleaseWorld,
    target: &ShiftTarget,
) -> Option<Weights> {
    let elbv2 = aws_sdk_elasticloadbalancingv2::Client::new(config);
    let actions: Vec<elb::Action> = match target {
        ShiftTarget::Listener(_) | ShiftTarget::None => {
            let arn = match target {
                ShiftTarget::Listener(arn) => arn.as_str(),
                _ => world.prod_listener_arn.as_str(),
            };
            elbv2
                .describe_listeners()
                .listener_arns(arn)
                .send()
                .await
                .ok()?
                .listeners()
                .first()?
                .default_actions()
                .to_vec()
        }
        ShiftTarget::Rule(arn) => elbv2
            .describe_rules()
            .rule_arns(arn)
            .send()
            .await
            .ok()?
            .rules()
            .first()?
            .actions()
            .to_vec(),
    };
    let groups = actions
        .iter()
        .find_map(|a| a.forward_config())
        .map(|f| f.target_groups().to_vec())
        .unwrap_or_default();
    let weight = |arn: &str| {
        groups
            .iter()
            .find(|g| g.target_group_arn() == Some(arn))
            .and_then(|g| g.weight())
            .unwrap_or(0)
    };
    Some(Weights {
        blue: weight(&world.blue_target_group_arn),
        green: weight(&world.green_target_group_arn),
    })
}

fn weights_text(weights: Option<Weights>) -> String {
    match weights {
        Some(w) => format!(
            "blue {} · green {}  (green {:.1} %)",
            w.blue,
            w.green,
            w.green_percent()
        ),
        None => "unreadable".to_string(),
    }
}
