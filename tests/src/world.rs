//! A blue/green release world in moto, as a real account would have it: an ALB with a
//! production and a test listener, blue and green target groups with targets, a CodeDeploy ECS
//! application and blue/green deployment group wired to them, the notifications topic, and a KMS
//! key with the Slack webhook URL encrypted under it. Used by the demo and by tests that need the
//! whole picture.

use aws_config::SdkConfig;
use aws_sdk_codedeploy::types as cd;
use aws_sdk_elasticloadbalancingv2::types as elb;

use crate::fixtures;

pub const APPLICATION: &str = "checkout";
pub const DEPLOYMENT_GROUP: &str = "checkout-blue-green";
pub const PROD_PORT: i32 = 80;
pub const TEST_PORT: i32 = 8080;
/// shift-traffic's lease table (`RolloutLeaseTable` in the template).
pub const LEASE_TABLE: &str = "rollout-leases";
/// The alarm that gates the release (demo, `make bench`): green's 5xx count, see [`create_alarm`].
pub const ALARM: &str = "checkout-green-5xx";

/// [`ALARM`]: more than 5 target 5xx responses in a minute.
pub async fn create_alarm(config: &SdkConfig) {
    fixtures::put_5xx_alarm(
        &aws_sdk_cloudwatch::Client::new(config),
        ALARM,
        5.0,
        aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanThreshold,
    )
    .await;
}

/// How the demo and `make invoke` configure each function on the bench: validate-traffic
/// probes green through the forward proxy at `proxy_url`, notify-slack posts to the webhook
/// encrypted in `ciphertext`. `None` for a name that is not one of ours.
pub fn function_env(
    function: &str,
    world: &ReleaseWorld,
    proxy_url: &str,
    ciphertext: &str,
) -> Option<Vec<(&'static str, String)>> {
    let pairs: Vec<(&'static str, &str)> = match function {
        "validate-traffic" => vec![
            ("HTTP_PROXY", proxy_url),
            ("NO_PROXY", "127.0.0.1,localhost"),
            ("PROBE_PATHS", "/,/health"),
            ("PROBE_REQUESTS", "40"),
            ("PROBE_CONCURRENCY", "4"),
            ("EXPECTED_STATUS", "200-299"),
            ("BODY_CONTAINS", "v2"),
            ("MAX_P95_MS", "500"),
            ("READINESS_TIMEOUT_MS", "0"),
            ("NOTIFICATION_TOPIC_ARN", world.topic_arn.as_str()),
        ],
        "shift-traffic" => vec![
            ("NOTIFICATION_TOPIC_ARN", world.topic_arn.as_str()),
            ("LEASE_TABLE_NAME", LEASE_TABLE),
        ],
        "notify-slack" => vec![
            ("SLACK_WEBHOOK_URL_ENCRYPTED", ciphertext),
            ("SLACK_WEBHOOK_ALLOWED_HOSTS", "127.0.0.1"),
            ("SLACK_MENTION", "<!here>"),
        ],
        _ => return None,
    };
    Some(pairs.into_iter().map(|(k, v)| (k, v.to_string())).collect())
}

/// `(name, value)` pairs borrowed, as `LambdaFn::start` takes them.
pub fn env_refs<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// The lease table as `template.yaml` declares it: on-demand, keyed by the target ARN.
pub async fn create_lease_table(dynamodb: &aws_sdk_dynamodb::Client) {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    dynamodb
        .create_table()
        .table_name(LEASE_TABLE)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("target_arn")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("attribute"),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("target_arn")
                .key_type(KeyType::Hash)
                .build()
                .expect("key"),
        )
        .send()
        .await
        .expect("create lease table");
}

#[derive(Debug, Clone)]
pub struct ReleaseWorld {
    pub load_balancer_arn: String,
    pub load_balancer_dns: String,
    pub prod_listener_arn: String,
    pub test_listener_arn: String,
    pub blue_target_group_arn: String,
    pub green_target_group_arn: String,
    pub topic_arn: String,
    pub kms_key_arn: String,
}

impl ReleaseWorld {
    pub async fn create(config: &SdkConfig) -> ReleaseWorld {
        let elbv2 = aws_sdk_elasticloadbalancingv2::Client::new(config);
        let crate::bench::DefaultVpc { vpc_id, subnet_ids } =
            crate::bench::default_subnets(config).await;
        let lb = elbv2
            .create_load_balancer()
            .name("checkout-alb")
            .set_subnets(Some(subnet_ids))
            .r#type(elb::LoadBalancerTypeEnum::Application)
            .scheme(elb::LoadBalancerSchemeEnum::InternetFacing)
            .send()
            .await
            .expect("create load balancer");
        let lb = lb.load_balancers().first().expect("load balancer").clone();
        let load_balancer_arn = lb.load_balancer_arn().expect("lb arn").to_string();

        let mut target_groups = Vec::new();
        for (name, ip) in [
            ("checkout-blue", "10.0.1.10"),
            ("checkout-green", "10.0.2.10"),
        ] {
            let created = elbv2
                .create_target_group()
                .name(name)
                .protocol(elb::ProtocolEnum::Http)
                .port(8000)
                .vpc_id(&vpc_id)
                .target_type(elb::TargetTypeEnum::Ip)
                .health_check_path("/health")
                .send()
                .await
                .expect("create target group");
            let arn = created.target_groups()[0]
                .target_group_arn()
                .expect("tg arn")
                .to_string();
            elbv2
                .register_targets()
                .target_group_arn(&arn)
                .targets(elb::TargetDescription::builder().id(ip).port(8000).build())
                .send()
                .await
                .expect("register targets");
            target_groups.push(arn);
        }
        let (blue, green) = (target_groups[0].clone(), target_groups[1].clone());

        // Production serves blue with green attached at weight 0 (so green is health-checked
        // and ready to shift); the test listener serves green.
        let mut listeners = Vec::new();
        for (port, action) in [
            (PROD_PORT, forward(&[(&blue, 1), (&green, 0)])),
            (TEST_PORT, forward(&[(&green, 1)])),
        ] {
            let created = elbv2
                .create_listener()
                .load_balancer_arn(&load_balancer_arn)
                .protocol(elb::ProtocolEnum::Http)
                .port(port)
                .default_actions(action)
                .send()
                .await
                .expect("create listener");
            listeners.push(
                created.listeners()[0]
                    .listener_arn()
                    .expect("listener arn")
                    .to_string(),
            );
        }

        let codedeploy = aws_sdk_codedeploy::Client::new(config);
        codedeploy
            .create_application()
            .application_name(APPLICATION)
            .compute_platform(cd::ComputePlatform::Ecs)
            .send()
            .await
            .expect("create application");
        let route = |arn: &str| cd::TrafficRoute::builder().listener_arns(arn).build();
        codedeploy
            .create_deployment_group()
            .application_name(APPLICATION)
            .deployment_group_name(DEPLOYMENT_GROUP)
            .service_role_arn("arn:aws:iam::123456789012:role/ecsCodeDeployRole")
            .deployment_config_name("CodeDeployDefault.ECSCanary10Percent5Minutes")
            .deployment_style(
                cd::DeploymentStyle::builder()
                    .deployment_type(cd::DeploymentType::BlueGreen)
                    .deployment_option(cd::DeploymentOption::WithTrafficControl)
                    .build(),
            )
            .load_balancer_info(
                cd::LoadBalancerInfo::builder()
                    .target_group_pair_info_list(
                        cd::TargetGroupPairInfo::builder()
                            .target_groups(
                                cd::TargetGroupInfo::builder().name("checkout-blue").build(),
                            )
                            .target_groups(
                                cd::TargetGroupInfo::builder()
                                    .name("checkout-green")
                                    .build(),
                            )
                            .prod_traffic_route(route(&listeners[0]))
                            .test_traffic_route(route(&listeners[1]))
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .expect("create deployment group");

        let sns = aws_sdk_sns::Client::new(config);
        let topic_arn = sns
            .create_topic()
            .name("deployment-notifications")
            .send()
            .await
            .expect("create topic")
            .topic_arn
            .expect("topic arn");
        create_lease_table(&aws_sdk_dynamodb::Client::new(config)).await;
        let kms_key_arn = fixtures::new_key(
            &aws_sdk_kms::Client::new(config),
            "Slack webhook for rollout-lambdas",
        )
        .await
        .arn
        .expect("key arn");

        ReleaseWorld {
            load_balancer_arn,
            load_balancer_dns: lb.dns_name().unwrap_or_default().to_string(),
            prod_listener_arn: listeners[0].clone(),
            test_listener_arn: listeners[1].clone(),
            blue_target_group_arn: blue,
            green_target_group_arn: green,
            topic_arn,
            kms_key_arn,
        }
    }

    /// A new deployment in the deployment group, as CodeDeploy creates for each release.
    pub async fn create_deployment(&self, config: &SdkConfig) -> String {
        aws_sdk_codedeploy::Client::new(config)
            .create_deployment()
            .application_name(APPLICATION)
            .deployment_group_name(DEPLOYMENT_GROUP)
            .description("release v2")
            .send()
            .await
            .expect("create deployment")
            .deployment_id
            .expect("deployment id")
    }

    /// Encrypts the webhook URL as an operator would: with the Lambda console helper's
    /// encryption context when `function_name` is given, with none (CLI, Terraform) otherwise.
    pub async fn encrypt_webhook(
        &self,
        config: &SdkConfig,
        url: &str,
        function_name: Option<&str>,
    ) -> String {
        fixtures::encrypt(
            &aws_sdk_kms::Client::new(config),
            &self.kms_key_arn,
            url,
            function_name,
        )
        .await
    }
}

fn forward(weights: &[(&str, i32)]) -> elb::Action {
    let groups = weights
        .iter()
        .map(|(arn, weight)| {
            elb::TargetGroupTuple::builder()
                .target_group_arn(*arn)
                .weight(*weight)
                .build()
        })
        .collect();
    elb::Action::builder()
        .r#type(elb::ActionTypeEnum::Forward)
        .forward_config(
            elb::ForwardActionConfig::builder()
                .set_target_groups(Some(groups))
                .build(),
        )
        .build()
}
