//! What the shift-traffic tests share: an ALB in moto with blue, green and a third target group,
//! a listener and a rule forwarding to blue, an alarm and a topic; and a small interpreter of
//! the state machine's ASL that runs `statemachine/rollout.asl.json` against the real binary.

#![allow(dead_code)]

use std::time::Duration;

use aws_sdk_cloudwatch::types::{ComparisonOperator, StateValue, Statistic};
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, ForwardActionConfig, LoadBalancerTypeEnum, PathPatternConditionConfig,
    ProtocolEnum, RuleCondition, TargetDescription, TargetGroupStickinessConfig, TargetGroupTuple,
    TargetTypeEnum,
};
use rollout_bench::{Bench, InvokeOutcome, LambdaFn, workspace_root};
use serde_json::{Value, json};

pub const ALARM: &str = "green-5xx";
pub use rollout_bench::world::{LEASE_TABLE, create_lease_table};
pub const STICKY_SECONDS: i32 = 600;

pub struct Alb {
    pub elb: aws_sdk_elasticloadbalancingv2::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub listener_arn: String,
    pub rule_arn: String,
    pub blue: String,
    pub green: String,
    /// A third target group, attached to nothing until a test attaches it.
    pub extra: String,
    pub topic_arn: String,
    pub dynamodb: aws_sdk_dynamodb::Client,
}

pub fn tuple(arn: &str, weight: i32) -> TargetGroupTuple {
    TargetGroupTuple::builder()
        .target_group_arn(arn)
        .weight(weight)
        .build()
}

/// A forward action with these weights and, when given, group stickiness.
pub fn forward(groups: &[(&str, i32)], sticky_seconds: Option<i32>) -> Action {
    let mut config = ForwardActionConfig::builder();
    for (arn, weight) in groups {
        config = config.target_groups(tuple(arn, *weight));
    }
    if let Some(seconds) = sticky_seconds {
        config = config.target_group_stickiness_config(
            TargetGroupStickinessConfig::builder()
                .enabled(true)
                .duration_seconds(seconds)
                .build(),
        );
    }
    Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .forward_config(config.build())
        .build()
}

impl Alb {
    pub async fn create(bench: &Bench) -> Alb {
        let config = bench.sdk_config().await;
        let elb = aws_sdk_elasticloadbalancingv2::Client::new(&config);
        let rollout_bench::bench::DefaultVpc { vpc_id, subnet_ids } =
            rollout_bench::bench::default_subnets(&config).await;
        let lb = elb
            .create_load_balancer()
            .name("shop")
            .set_subnets(Some(subnet_ids))
            .r#type(LoadBalancerTypeEnum::Application)
            .send()
            .await
            .expect("create load balancer");
        let lb_arn = lb.load_balancers()[0]
            .load_balancer_arn()
            .expect("lb arn")
            .to_string();

        let mut groups = Vec::new();
        for (name, targets) in [
            ("shop-blue", vec!["10.0.1.10", "10.0.1.11"]),
            ("shop-green", vec!["10.0.2.10", "10.0.2.11"]),
            ("shop-extra", vec!["10.0.3.10"]),
        ] {
            let arn = elb
                .create_target_group()
                .name(name)
                .protocol(ProtocolEnum::Http)
                .port(8000)
                .vpc_id(&vpc_id)
                .target_type(TargetTypeEnum::Ip)
                .send()
                .await
                .expect("create target group")
                .target_groups()[0]
                .target_group_arn()
                .expect("tg arn")
                .to_string();
            let mut register = elb.register_targets().target_group_arn(&arn);
            for ip in targets {
                register = register.targets(TargetDescription::builder().id(ip).port(8000).build());
            }
            register.send().await.expect("register targets");
            groups.push(arn);
        }
        let (blue, green, extra) = (groups[0].clone(), groups[1].clone(), groups[2].clone());

        let listener_arn = elb
            .create_listener()
            .load_balancer_arn(&lb_arn)
            .protocol(ProtocolEnum::Http)
            .port(80)
            .default_actions(forward(&[(&blue, 999), (&green, 0)], Some(STICKY_SECONDS)))
            .send()
            .await
            .expect("create listener")
            .listeners()[0]
            .listener_arn()
            .expect("listener arn")
            .to_string();
        let rule_arn = elb
            .create_rule()
            .listener_arn(&listener_arn)
            .priority(10)
            .conditions(
                RuleCondition::builder()
                    .field("path-pattern")
                    .path_pattern_config(
                        PathPatternConditionConfig::builder()
                            .values("/api/*")
                            .build(),
                    )
                    .build(),
            )
            .actions(forward(&[(&blue, 999), (&green, 0)], None))
            .send()
            .await
            .expect("create rule")
            .rules()[0]
            .rule_arn()
            .expect("rule arn")
            .to_string();

        let cloudwatch = aws_sdk_cloudwatch::Client::new(&config);
        cloudwatch
            .put_metric_alarm()
            .alarm_name(ALARM)
            .namespace("AWS/ApplicationELB")
            .metric_name("HTTPCode_Target_5XX_Count")
            .statistic(Statistic::Sum)
            .period(60)
            .evaluation_periods(1)
            .threshold(1.0)
            .comparison_operator(ComparisonOperator::GreaterThanOrEqualToThreshold)
            .send()
            .await
            .expect("put alarm");
        let topic_arn = aws_sdk_sns::Client::new(&config)
            .create_topic()
            .name("rollouts")
            .send()
            .await
            .expect("create topic")
            .topic_arn
            .expect("topic arn");
        let dynamodb = aws_sdk_dynamodb::Client::new(&config);
        create_lease_table(&dynamodb).await;
        let alb = Alb {
            elb,
            cloudwatch,
            listener_arn,
            rule_arn,
            blue,
            green,
            extra,
            topic_arn,
            dynamodb,
        };
        alb.set_alarm(StateValue::Ok).await;
        alb
    }

    pub async fn set_alarm(&self, state: StateValue) {
        self.cloudwatch
            .set_alarm_state()
            .alarm_name(ALARM)
            .state_value(state)
            .state_reason("set by the test")
            .send()
            .await
            .expect("set alarm state");
    }

    /// The shift-traffic binary with notifications to the topic and the lease table.
    pub async fn function(&self, bench: &Bench) -> LambdaFn {
        self.function_with(bench, &[]).await
    }

    /// The same with more environment variables.
    pub async fn function_with(&self, bench: &Bench, env: &[(&str, &str)]) -> LambdaFn {
        let mut all = vec![
            ("NOTIFICATION_TOPIC_ARN", self.topic_arn.as_str()),
            ("LEASE_TABLE_NAME", LEASE_TABLE),
        ];
        all.extend_from_slice(env);
        LambdaFn::start("shift-traffic", bench, &all).await
    }

    /// Deletes the lease item of a listener or rule, as if no rollout had ever run there.
    pub async fn clear_lease(&self, target_arn: &str) {
        self.dynamodb
            .delete_item()
            .table_name(LEASE_TABLE)
            .key(
                "target_arn",
                aws_sdk_dynamodb::types::AttributeValue::S(target_arn.to_string()),
            )
            .send()
            .await
            .expect("delete lease");
    }

    /// The lease item of a listener or rule: (holder, version, expires_at_ms).
    pub async fn lease(&self, target_arn: &str) -> Option<(String, u64, u64)> {
        let out = self
            .dynamodb
            .get_item()
            .table_name(LEASE_TABLE)
            .key(
                "target_arn",
                aws_sdk_dynamodb::types::AttributeValue::S(target_arn.to_string()),
            )
            .consistent_read(true)
            .send()
            .await
            .expect("get lease");
        let item = out.item()?;
        let number = |name: &str| -> u64 {
            item.get(name)
                .and_then(|v| v.as_n().ok())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0)
        };
        Some((
            item.get("holder")?.as_s().ok()?.clone(),
            number("version"),
            number("expires_at_ms"),
        ))
    }

    /// A spec for the listener with waits scaled to nothing.
    pub fn spec(&self, action: &str, strategy: Value) -> Value {
        json!({
            "action": action,
            "listener_arn": self.listener_arn,
            "blue_target_group_arn": self.blue,
            "green_target_group_arn": self.green,
            "strategy": strategy,
            "alarms": [ALARM],
            "time_scale": 0.001,
        })
    }

    pub async fn listener_actions(&self) -> Vec<Action> {
        self.elb
            .describe_listeners()
            .listener_arns(&self.listener_arn)
            .send()
            .await
            .expect("describe listener")
            .listeners()[0]
            .default_actions()
            .to_vec()
    }

    pub async fn rule_actions(&self) -> Vec<Action> {
        self.elb
            .describe_rules()
            .rule_arns(&self.rule_arn)
            .send()
            .await
            .expect("describe rule")
            .rules()[0]
            .actions()
            .to_vec()
    }

    pub async fn set_listener(&self, actions: Vec<Action>) {
        self.elb
            .modify_listener()
            .listener_arn(&self.listener_arn)
            .set_default_actions(Some(actions))
            .send()
            .await
            .expect("modify listener");
    }

    /// (blue, green) weights of the listener's forward action, read from moto.
    pub async fn listener_weights(&self) -> (i32, i32) {
        self.weights_in(&self.listener_actions().await)
    }

    pub async fn rule_weights(&self) -> (i32, i32) {
        self.weights_in(&self.rule_actions().await)
    }

    pub fn weights_in(&self, actions: &[Action]) -> (i32, i32) {
        let groups = groups_of(actions);
        let weight = |arn: &str| {
            groups
                .iter()
                .find(|(a, _)| a == arn)
                .map(|(_, w)| *w)
                .unwrap_or_else(|| panic!("{arn} not in {groups:?}"))
        };
        (weight(&self.blue), weight(&self.green))
    }
}

/// The forward action's target groups and weights.
pub fn groups_of(actions: &[Action]) -> Vec<(String, i32)> {
    let forward = actions
        .iter()
        .find(|a| a.r#type() == Some(&ActionTypeEnum::Forward))
        .expect("a forward action");
    forward
        .forward_config()
        .expect("forward config")
        .target_groups()
        .iter()
        .map(|t| {
            (
                t.target_group_arn().unwrap_or_default().to_string(),
                t.weight().unwrap_or(1),
            )
        })
        .collect()
}

pub fn stickiness_of(actions: &[Action]) -> Option<(bool, Option<i32>)> {
    actions
        .iter()
        .find(|a| a.r#type() == Some(&ActionTypeEnum::Forward))
        .and_then(|a| a.forward_config())
        .and_then(|c| c.target_group_stickiness_config())
        .map(|s| (s.enabled().unwrap_or(false), s.duration_seconds()))
}

/// Invokes with `input`, expects a response, and returns it.
pub async fn ok(function: &LambdaFn, input: Value) -> Value {
    let invocation = function.invoke(input).await;
    match &invocation.outcome {
        InvokeOutcome::Response(v) => v.clone(),
        other => panic!("{other:?}\n{}", function.logs()),
    }
}

/// Now in epoch milliseconds, as the lease's `expires_at_ms`.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as u64
}

/// The rollout state machine's definition, with the function ARN substituted as SAM does.
pub fn state_machine() -> Value {
    let path = workspace_root().join("statemachine/rollout.asl.json");
    let text = std::fs::read_to_string(&path).expect("read the state machine");
    let text = text.replace(
        "${ShiftTrafficFunctionArn}",
        "arn:aws:lambda:us-east-1:123456789012:function:shift-traffic",
    );
    serde_json::from_str(&text).expect("parse the state machine")
}

/// How an execution ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Ending {
    Succeeded(Value),
    Failed { error: String, cause: String },
}

/// One state an execution went through.
#[derive(Debug, Clone)]
pub struct Visit {
    pub state: String,
    /// The state's output (the error object for a caught task).
    pub output: Value,
}

/// A Step Functions execution of the subset of ASL the rollout machine uses (Pass with `Result`
/// or `Parameters` (input and `$$.Execution.Id` paths), Task with
/// `lambda:invoke`, Retry, Catch, Choice with `And`/`IsPresent`/`StringEquals`/`BooleanEquals`,
/// Wait, Succeed, Fail; JSONPath `$` and `$.a.b`), run
/// one state at a time so a test can look at the listener between states. Waits are real
/// (the spec's `time_scale` shortens them); retry intervals are skipped.
pub struct Execution {
    /// `$$.Execution.Id`.
    pub id: String,
    definition: Value,
    current: Option<String>,
    data: Value,
    pub visits: Vec<Visit>,
    pub ending: Option<Ending>,
    attempts: u32,
}

impl Execution {
    pub fn new(definition: Value, input: Value) -> Self {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(1);
        let start = definition["StartAt"].as_str().expect("StartAt").to_string();
        Execution {
            id: format!(
                "arn:aws:states:us-east-1:123456789012:execution:rollout:run-{}",
                NEXT.fetch_add(1, Ordering::Relaxed)
            ),
            definition,
            current: Some(start),
            data: input,
            visits: Vec::new(),
            ending: None,
            attempts: 0,
        }
    }

    /// Runs to the end.
    pub async fn run(mut self, function: &LambdaFn, max_states: usize) -> Execution {
        for _ in 0..max_states {
            if self.advance(function).await.is_none() {
                return self;
            }
        }
        panic!(
            "execution did not end within {max_states} states: {:?}",
            self.names()
        );
    }

    /// A `Parameters` template: `"key.$"` takes a path of the input (`$…`) or of the context
    /// object (`$$.Execution.Id`), every other key its value as written.
    fn fill(&self, template: &Value) -> Value {
        let Some(fields) = template.as_object() else {
            return template.clone();
        };
        let context = json!({"Execution": {"Id": self.id}});
        let mut out = serde_json::Map::new();
        for (key, value) in fields {
            match key.strip_suffix(".$") {
                Some(name) => {
                    let path = value.as_str().expect("a path");
                    let resolved = match path.strip_prefix("$$") {
                        Some(rest) => get(&context, rest),
                        None => get(&self.data, path),
                    };
                    out.insert(name.to_string(), resolved);
                }
                None => {
                    out.insert(key.clone(), value.clone());
                }
            }
        }
        Value::Object(out)
    }

    pub fn names(&self) -> Vec<&str> {
        self.visits.iter().map(|v| v.state.as_str()).collect()
    }

    /// Runs one state; `None` once the execution has ended.
    pub async fn advance(&mut self, function: &LambdaFn) -> Option<&Visit> {
        let name = self.current.clone()?;
        let state = self.definition["States"][&name].clone();
        assert!(state.is_object(), "no state {name}");
        let next = state["Next"].as_str().map(str::to_string);
        match state["Type"].as_str().expect("Type") {
            "Pass" => {
                let result = match (state.get("Result"), state.get("Parameters")) {
                    (Some(result), _) => result.clone(),
                    (None, Some(template)) => self.fill(template),
                    (None, None) => self.data.clone(),
                };
                self.data = put(
                    &self.data,
                    state["ResultPath"].as_str().unwrap_or("$"),
                    result,
                );
                self.current = next;
            }
            "Task" => {
                let payload = parameters(&state["Parameters"], &self.data);
                let outcome = function
                    .invoke_with_timeout(payload, Duration::from_secs(60))
                    .await
                    .outcome;
                match outcome {
                    InvokeOutcome::Response(value) => {
                        let result = json!({"StatusCode": 200, "Payload": value});
                        self.data = get(&result, state["OutputPath"].as_str().unwrap_or("$"));
                        self.current = next;
                        self.attempts = 0;
                    }
                    InvokeOutcome::Error {
                        error_type,
                        error_message,
                    } => {
                        let cause = json!({"errorType": error_type, "errorMessage": error_message})
                            .to_string();
                        if let Some(retry) = matching(&state["Retry"], &error_type) {
                            let max = retry["MaxAttempts"].as_u64().unwrap_or(3) as u32;
                            if self.attempts < max {
                                self.attempts += 1;
                                self.visits.push(Visit {
                                    state: format!("{name} (retry)"),
                                    output: json!({"Error": error_type}),
                                });
                                return self.visits.last();
                            }
                        }
                        self.attempts = 0;
                        let error = json!({"Error": error_type, "Cause": cause});
                        match matching(&state["Catch"], &error_type) {
                            Some(catcher) => {
                                self.data = put(
                                    &self.data,
                                    catcher["ResultPath"].as_str().unwrap_or("$"),
                                    error,
                                );
                                self.current = catcher["Next"].as_str().map(str::to_string);
                            }
                            None => {
                                self.ending = Some(Ending::Failed {
                                    error: error_type,
                                    cause,
                                });
                                self.current = None;
                            }
                        }
                    }
                    other => panic!("task {name}: {other:?}"),
                }
            }
            "Choice" => {
                let chosen = state["Choices"]
                    .as_array()
                    .expect("Choices")
                    .iter()
                    .find(|rule| choice_matches(rule, &self.data))
                    .and_then(|rule| rule["Next"].as_str())
                    .or_else(|| state["Default"].as_str())
                    .expect("a choice or a default")
                    .to_string();
                self.current = Some(chosen);
            }
            "Wait" => {
                let seconds = match state.get("SecondsPath").and_then(Value::as_str) {
                    Some(path) => get(&self.data, path).as_u64().expect("SecondsPath integer"),
                    None => state["Seconds"].as_u64().expect("Seconds"),
                };
                assert!(seconds <= 30, "a scaled wait of {seconds} s");
                tokio::time::sleep(Duration::from_secs(seconds)).await;
                self.current = next;
            }
            "Succeed" => {
                self.ending = Some(Ending::Succeeded(self.data.clone()));
                self.current = None;
            }
            "Fail" => {
                let cause = match state.get("CausePath").and_then(Value::as_str) {
                    Some(path) => get(&self.data, path)
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    None => state["Cause"].as_str().unwrap_or_default().to_string(),
                };
                self.ending = Some(Ending::Failed {
                    error: state["Error"].as_str().unwrap_or_default().to_string(),
                    cause,
                });
                self.current = None;
            }
            other => panic!("state type {other} is not in the subset"),
        }
        self.visits.push(Visit {
            state: name,
            output: self.data.clone(),
        });
        self.visits.last()
    }
}

fn matching<'a>(rules: &'a Value, error: &str) -> Option<&'a Value> {
    rules.as_array()?.iter().find(|rule| {
        rule["ErrorEquals"]
            .as_array()
            .is_some_and(|names| names.iter().any(|n| n == error || n == "States.ALL"))
    })
}

fn choice_matches(rule: &Value, data: &Value) -> bool {
    if let Some(all) = rule.get("And").and_then(Value::as_array) {
        return all.iter().all(|r| choice_matches(r, data));
    }
    let value = get(data, rule["Variable"].as_str().expect("Variable"));
    if let Some(expected) = rule.get("IsPresent") {
        return Some(!value.is_null()) == expected.as_bool();
    }
    if let Some(expected) = rule.get("StringEquals") {
        return &value == expected;
    }
    if let Some(expected) = rule.get("BooleanEquals") {
        return &value == expected;
    }
    panic!("choice rule not in the subset: {rule}");
}

fn parameters(template: &Value, data: &Value) -> Value {
    // Only the payload reaches the function; `lambda:invoke` sends `Payload`.
    let payload = template
        .get("Payload.$")
        .and_then(Value::as_str)
        .map(|path| get(data, path));
    payload.unwrap_or_else(|| data.clone())
}

fn get(data: &Value, path: &str) -> Value {
    let mut value = data;
    for key in path
        .trim_start_matches('$')
        .split('.')
        .filter(|k| !k.is_empty())
    {
        value = &value[key];
    }
    value.clone()
}

fn put(data: &Value, path: &str, result: Value) -> Value {
    let keys: Vec<&str> = path
        .trim_start_matches('$')
        .split('.')
        .filter(|k| !k.is_empty())
        .collect();
    if keys.is_empty() {
        return result;
    }
    let mut out = data.clone();
    let mut slot = &mut out;
    for key in &keys[..keys.len() - 1] {
        slot = &mut slot[*key];
    }
    slot[keys[keys.len() - 1]] = result;
    out
}
