//! The shift-traffic world: an ALB in moto with blue, green and a third target group, a listener
//! and a rule forwarding to blue, an alarm, a topic and the lease table. The shift-traffic tests
//! and `make bench` (the state machine's time to rollback and transitions) share it; the state
//! machine's interpreter is [`crate::asl`].

pub use crate::asl::{Ending, Execution, state_machine};
use crate::fixtures::{put_5xx_alarm, set_alarm_state};
use crate::{Bench, InvokeOutcome, LambdaFn};
use aws_sdk_cloudwatch::types::{ComparisonOperator, StateValue};
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, ForwardActionConfig, LoadBalancerTypeEnum, PathPatternConditionConfig,
    ProtocolEnum, RuleCondition, TargetDescription, TargetGroupStickinessConfig, TargetGroupTuple,
    TargetTypeEnum,
};
use serde_json::{Value, json};

pub const ALARM: &str = "green-5xx";
pub use crate::world::{LEASE_TABLE, create_lease_table};
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
        let crate::bench::DefaultVpc { vpc_id, subnet_ids } =
            crate::bench::default_subnets(&config).await;
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
        put_5xx_alarm(
            &cloudwatch,
            ALARM,
            1.0,
            ComparisonOperator::GreaterThanOrEqualToThreshold,
        )
        .await;
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
        set_alarm_state(&self.cloudwatch, ALARM, state, "set by the test").await;
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

    /// A spec whose waits are watched on the bench: at 1/10, a one-minute canary waits 6 s and
    /// the shortest watch interval (10 s) is 1 s.
    pub fn watched_spec(&self, action: &str, strategy: Value) -> Value {
        let mut spec = self.spec(action, strategy);
        spec["time_scale"] = json!(0.1);
        spec["watch_seconds"] = json!(10);
        spec
    }

    /// A person's `promote` or `abort` from the CLI: the spec alone, with a reason.
    pub fn request(&self, action: &str, reason: &str) -> Value {
        let mut request = self.spec(action, json!("Canary10Percent1Minutes"));
        request["reason"] = json!(reason);
        request
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

/// Auto Scaling groups in moto, each attached to one of the world's target groups (moto
/// registers their instances there), as the classic fleet without CodeDeploy runs.
pub struct Fleets {
    pub client: aws_sdk_autoscaling::Client,
}

/// What a test reads of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetSize {
    pub desired: i32,
    pub min: i32,
    pub instances: usize,
}

impl Fleets {
    pub async fn new(bench: &Bench) -> Fleets {
        let client = aws_sdk_autoscaling::Client::new(&bench.sdk_config().await);
        client
            .create_launch_configuration()
            .launch_configuration_name("shop-web")
            .image_id("ami-12c6146b")
            .instance_type("t3.micro")
            .send()
            .await
            .expect("create launch configuration");
        Fleets { client }
    }

    /// A group of `size` instances attached to `target_group`.
    pub async fn create(&self, name: &str, target_group: &str, size: i32) {
        self.client
            .create_auto_scaling_group()
            .auto_scaling_group_name(name)
            .launch_configuration_name("shop-web")
            .min_size(size.min(1))
            .max_size(size.max(1) * 2)
            .desired_capacity(size)
            .target_group_arns(target_group)
            .availability_zones(format!("{}a", crate::bench::REGION))
            .send()
            .await
            .expect("create auto scaling group");
    }

    pub async fn size(&self, name: &str) -> FleetSize {
        let out = self
            .client
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(name)
            .send()
            .await
            .expect("describe auto scaling groups");
        let group = out.auto_scaling_groups().first().expect("the group");
        FleetSize {
            desired: group.desired_capacity().unwrap_or_default(),
            min: group.min_size().unwrap_or_default(),
            instances: group.instances().len(),
        }
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
