//! An ECS built-in deployment on the bench, for the hook of its lifecycle stages: the ALB (in
//! moto) with a production rule on the host and a test rule on `X-Canary: true`, the service
//! revisions and the deployment in the front's ECS fake, and local services behind two small
//! "listeners" that check their rule's condition and forward what matches at the current weights
//! (404 otherwise, like the listener's default action), so a probe that did not meet the rule the
//! hook discovered reaches nothing. [`canary`] plays ECS: it invokes the hook stage by stage of
//! a CANARY deployment, calls back after `callBackDelay` with the returned `hookDetails` while
//! the answer is `IN_PROGRESS`, and rolls back when a stage fails. The validate-traffic tests,
//! the demo (`SCENARIO=ecs`) and `make bench` use it.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use aws_sdk_elasticloadbalancingv2::types as elb;
use serde_json::{Map, Value, json};

use crate::ecs_fake::RevisionSpec;
use crate::{Behavior, Bench, ForwardProxy, HttpTarget, LambdaFn};

pub const FUNCTION: &str = "validate-traffic";
/// The revisions and deployment the samples in `events/validate-traffic/ecs-builtin/` name.
pub const GREEN: &str = "arn:aws:ecs:us-east-1:123456789012:service-revision/prod/shop/4467011";
pub const BLUE: &str = "arn:aws:ecs:us-east-1:123456789012:service-revision/prod/shop/4467009";
pub const DEPLOYMENT: &str =
    "arn:aws:ecs:us-east-1:123456789012:service-deployment/prod/shop/9KyHcQ2wXxAmc4TVlIdMd";
pub const SERVICE: &str = "arn:aws:ecs:us-east-1:123456789012:service/prod/shop";
pub const SAMPLES: &str = "validate-traffic/ecs-builtin";
pub const HOST: &str = "shop.example.com";

/// An ALB listener as far as the probe can tell: requests that meet the rule's condition go to
/// the backends at their weights (deterministically spread), the others get the default 404.
pub struct Listener {
    pub addr: SocketAddr,
    /// `(backend, weight)`.
    pub backends: Arc<Mutex<Vec<(SocketAddr, f64)>>>,
    /// Requests each backend got since the weights last changed.
    pub served: Arc<Mutex<Vec<usize>>>,
}

impl Listener {
    pub async fn start(matches: fn(&axum::http::HeaderMap) -> bool) -> Listener {
        let backends: Arc<Mutex<Vec<(SocketAddr, f64)>>> = Arc::default();
        let served = Arc::new(Mutex::new(Vec::<usize>::new()));
        let (routing, counts) = (backends.clone(), served.clone());
        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client");
        let router = axum::Router::new().fallback(move |request: axum::extract::Request| {
            let (routing, counts, client) = (routing.clone(), counts.clone(), client.clone());
            async move {
                use axum::http::StatusCode;
                use axum::response::IntoResponse;
                if !matches(request.headers()) {
                    return (StatusCode::NOT_FOUND, "default action: no rule matched")
                        .into_response();
                }
                let backends = routing.lock().unwrap_or_else(|p| p.into_inner()).clone();
                let Some(backend) = pick(
                    &backends,
                    &mut counts.lock().unwrap_or_else(|p| p.into_inner()),
                ) else {
                    return (StatusCode::SERVICE_UNAVAILABLE, "no healthy target").into_response();
                };
                let path = request
                    .uri()
                    .path_and_query()
                    .map(|p| p.as_str().to_string())
                    .unwrap_or_else(|| "/".into());
                let mut forwarded =
                    client.request(request.method().clone(), format!("http://{backend}{path}"));
                for (name, value) in request.headers() {
                    if !matches!(name.as_str(), "connection" | "content-length") {
                        forwarded = forwarded.header(name, value);
                    }
                }
                match forwarded.send().await {
                    Ok(reply) => {
                        let status = StatusCode::from_u16(reply.status().as_u16())
                            .unwrap_or(StatusCode::BAD_GATEWAY);
                        (status, reply.text().await.unwrap_or_default()).into_response()
                    }
                    Err(_) => (StatusCode::BAD_GATEWAY, "target unreachable").into_response(),
                }
            }
        });
        let socket = crate::bind_local().await;
        let addr = socket.local_addr().expect("addr");
        crate::serve(socket, router);
        Listener {
            addr,
            backends,
            served,
        }
    }

    pub fn forward(&self, backends: &[(&HttpTarget, f64)]) {
        *self.backends.lock().unwrap_or_else(|p| p.into_inner()) =
            backends.iter().map(|(t, w)| (t.addr(), *w)).collect();
        self.served
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

/// The next backend: each gets its weight's share of the requests so far, in a fixed order.
pub fn pick(backends: &[(SocketAddr, f64)], served: &mut Vec<usize>) -> Option<SocketAddr> {
    served.resize(backends.len(), 0);
    let total: usize = served.iter().sum::<usize>() + 1;
    let weight_sum: f64 = backends.iter().map(|(_, w)| w).sum();
    if weight_sum <= 0.0 {
        return None;
    }
    // The backend furthest behind its share.
    let (index, _) = backends
        .iter()
        .enumerate()
        .map(|(i, (_, w))| (i, w / weight_sum * total as f64 - served[i] as f64))
        .fold(
            (0, f64::MIN),
            |best, next| if next.1 > best.1 { next } else { best },
        );
    served[index] += 1;
    Some(backends[index].0)
}

/// The ALB, the rules ECS's `advancedConfiguration` names, the revisions in the ECS fake, and
/// the local services behind it all.
pub struct World {
    pub production_rule: String,
    pub test_rule: String,
    /// Green through the test rule, green under production traffic, blue.
    pub green: HttpTarget,
    pub green_in_production: HttpTarget,
    pub blue: HttpTarget,
    pub test_listener: Listener,
    pub production_listener: Listener,
    pub proxy: ForwardProxy,
}

impl World {
    pub async fn create(bench: &Bench) -> World {
        let config = bench.sdk_config().await;
        let (dns, production_rule, test_rule, blue_tg, green_tg) = alb(&config).await;
        for (arn, serves, other) in [(GREEN, &green_tg, &blue_tg), (BLUE, &blue_tg, &green_tg)] {
            bench.front.ecs().register_revision(
                RevisionSpec {
                    arn,
                    service_arn: SERVICE,
                    cluster_arn: "arn:aws:ecs:us-east-1:123456789012:cluster/prod",
                    task_definition: "arn:aws:ecs:us-east-1:123456789012:task-definition/shop:42",
                    target_group_arn: serves,
                    alternate_target_group_arn: other,
                    production_listener_rule: &production_rule,
                    test_listener_rule: Some(&test_rule),
                }
                .to_json(),
            );
        }
        bench.front.ecs().register_deployment(json!({
            "serviceDeploymentArn": DEPLOYMENT, "serviceArn": SERVICE,
            "clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/prod",
            "status": "IN_PROGRESS", "lifecycleStage": "SCALE_UP",
            "targetServiceRevision": {"arn": GREEN, "requestedTaskCount": 2, "runningTaskCount": 2},
            "sourceServiceRevisions": [{"arn": BLUE, "requestedTaskCount": 2, "runningTaskCount": 2}],
            "deploymentConfiguration": {"strategy": "CANARY",
                "canaryConfiguration": {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 10}},
        }));
        let green = HttpTarget::start_with(Behavior::ok("shop v2 ok")).await;
        let green_in_production = HttpTarget::start_with(Behavior::ok("shop v2 ok")).await;
        let blue = HttpTarget::start_with(Behavior::ok("shop v1 ok")).await;
        let test_listener = Listener::start(|h| {
            h.get("x-canary")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.eq_ignore_ascii_case("true"))
        })
        .await;
        let production_listener = Listener::start(|h| {
            h.get("host")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.eq_ignore_ascii_case(HOST))
        })
        .await;
        test_listener.forward(&[(&green, 100.0)]);
        production_listener.forward(&[(&blue, 100.0)]);
        let proxy = ForwardProxy::start().await;
        proxy.route(&format!("{dns}:80"), production_listener.addr);
        proxy.route(&format!("{dns}:8080"), test_listener.addr);
        World {
            production_rule,
            test_rule,
            green,
            green_in_production,
            blue,
            test_listener,
            production_listener,
            proxy,
        }
    }

    pub async fn hook(&self, bench: &Bench) -> LambdaFn {
        let proxy = self.proxy.url();
        LambdaFn::start(
            FUNCTION,
            bench,
            &[
                ("HTTP_PROXY", &proxy),
                ("NO_PROXY", "127.0.0.1,localhost"),
                ("PROBE_REQUESTS", "10"),
                ("PROBE_CONCURRENCY", "2"),
                ("PROBE_TIMEOUT_MS", "3000"),
            ],
        )
        .await
    }
}

/// ALB, target groups, listeners (:80 production, :8080 test, both answering 404 by default)
/// and the two rules: production on the host, test on `X-Canary: true`.
pub async fn alb(config: &SdkConfig) -> (String, String, String, String, String) {
    let elbv2 = aws_sdk_elasticloadbalancingv2::Client::new(config);
    let vpc = crate::bench::default_subnets(config).await;
    let lb = elbv2
        .create_load_balancer()
        .name("shop-alb")
        .set_subnets(Some(vpc.subnet_ids.clone()))
        .r#type(elb::LoadBalancerTypeEnum::Application)
        .send()
        .await
        .expect("create load balancer");
    let lb = lb.load_balancers()[0].clone();
    let mut groups = Vec::new();
    for name in ["shop-blue", "shop-green"] {
        let created = elbv2
            .create_target_group()
            .name(name)
            .protocol(elb::ProtocolEnum::Http)
            .port(8000)
            .vpc_id(&vpc.vpc_id)
            .target_type(elb::TargetTypeEnum::Ip)
            .send()
            .await
            .expect("create target group");
        groups.push(
            created.target_groups()[0]
                .target_group_arn()
                .unwrap_or_default()
                .to_string(),
        );
    }
    let forward = |weights: &[(&str, i32)]| {
        elb::Action::builder()
            .r#type(elb::ActionTypeEnum::Forward)
            .forward_config(
                elb::ForwardActionConfig::builder()
                    .set_target_groups(Some(
                        weights
                            .iter()
                            .map(|(arn, w)| {
                                elb::TargetGroupTuple::builder()
                                    .target_group_arn(*arn)
                                    .weight(*w)
                                    .build()
                            })
                            .collect(),
                    ))
                    .build(),
            )
            .build()
    };
    let not_found = elb::Action::builder()
        .r#type(elb::ActionTypeEnum::FixedResponse)
        .fixed_response_config(
            elb::FixedResponseActionConfig::builder()
                .status_code("404")
                .content_type("text/plain")
                .message_body("no rule matched")
                .build(),
        )
        .build();
    let mut rules = Vec::new();
    for (port, condition, weights) in [
        (
            80,
            elb::RuleCondition::builder()
                .field("host-header")
                .host_header_config(
                    elb::HostHeaderConditionConfig::builder()
                        .values(HOST)
                        .build(),
                )
                .build(),
            vec![(groups[0].as_str(), 100), (groups[1].as_str(), 0)],
        ),
        (
            8080,
            elb::RuleCondition::builder()
                .field("http-header")
                .http_header_config(
                    elb::HttpHeaderConditionConfig::builder()
                        .http_header_name("X-Canary")
                        .values("true")
                        .build(),
                )
                .build(),
            vec![(groups[1].as_str(), 100)],
        ),
    ] {
        let listener = elbv2
            .create_listener()
            .load_balancer_arn(lb.load_balancer_arn().unwrap_or_default())
            .protocol(elb::ProtocolEnum::Http)
            .port(port)
            .default_actions(not_found.clone())
            .send()
            .await
            .expect("create listener");
        let rule = elbv2
            .create_rule()
            .listener_arn(listener.listeners()[0].listener_arn().unwrap_or_default())
            .priority(10)
            .conditions(condition)
            .actions(forward(&weights))
            .send()
            .await
            .expect("create rule");
        rules.push(rule.rules()[0].rule_arn().unwrap_or_default().to_string());
    }
    (
        lb.dns_name().unwrap_or_default().to_string(),
        rules[0].clone(),
        rules[1].clone(),
        groups[0].clone(),
        groups[1].clone(),
    )
}

/// An ECS hook payload for the samples' deployment; `None` weights are `{}`.
pub fn payload(
    stage: &str,
    green_test: Option<f64>,
    green_production: Option<f64>,
    details: &Map<String, Value>,
) -> Value {
    let weights = |green: Option<f64>| match green {
        Some(g) => json!({GREEN: g, BLUE: 100.0 - g}),
        None => json!({}),
    };
    json!({
        "executionId": format!("exec-{stage}"),
        "lifecycleStage": stage,
        "resourceArn": DEPLOYMENT,
        "executionDetails": {
            "serviceArn": SERVICE,
            "targetServiceRevisionArn": GREEN,
            "testTrafficWeights": weights(green_test),
            "productionTrafficWeights": weights(green_production),
        },
        "hookDetails": details,
    })
}

/// What one stage's hook returned in the end, with the `IN_PROGRESS` rounds before it.
pub struct Answered {
    pub stage: &'static str,
    pub status: String,
    pub rounds: usize,
    pub last: Value,
    pub elapsed: Duration,
}

/// Invokes one stage as ECS does: again after `callBackDelay` while the answer is
/// `IN_PROGRESS`, with the returned `hookDetails` merged over the configured ones.
pub async fn run_stage(
    function: &LambdaFn,
    stage: &'static str,
    green_test: Option<f64>,
    green_production: Option<f64>,
    configured: &Map<String, Value>,
) -> Answered {
    let started = Instant::now();
    let mut details = configured.clone();
    let mut rounds = 0;
    loop {
        let invocation = function
            .invoke(payload(stage, green_test, green_production, &details))
            .await;
        assert!(
            invocation.is_ok(),
            "{stage}: {:?}\n{}",
            invocation.outcome,
            function.logs()
        );
        let answer = invocation.response().clone();
        let status = answer["hookStatus"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(
            ["SUCCEEDED", "FAILED", "IN_PROGRESS"].contains(&status.as_str()),
            "{stage}: {answer}"
        );
        if status != "IN_PROGRESS" {
            return Answered {
                stage,
                status,
                rounds,
                last: answer,
                elapsed: started.elapsed(),
            };
        }
        rounds += 1;
        assert!(rounds < 20, "{stage}: never ends: {answer}");
        let delay = answer["callBackDelay"]
            .as_u64()
            .expect("callBackDelay with IN_PROGRESS");
        tokio::time::sleep(Duration::from_secs(delay)).await;
        if let Some(returned) = answer["hookDetails"].as_object() {
            details.extend(returned.clone());
        }
    }
}

/// A whole CANARY deployment (10 %, then 100 %), hook at every stage it can attach to. The
/// production listener moves to green's weight after each production shift. Stops at the first
/// FAILED and plays the rollback's invocations.
pub async fn canary(
    world: &World,
    function: &LambdaFn,
    configured: &Map<String, Value>,
) -> Vec<Answered> {
    canary_observed(world, function, configured, &mut |_| {}).await
}

/// [`canary`], telling `observe` about each stage's answer as it comes (the demo prints them).
pub async fn canary_observed(
    world: &World,
    function: &LambdaFn,
    configured: &Map<String, Value>,
    observe: &mut (dyn FnMut(&Answered) + Send),
) -> Vec<Answered> {
    let steps: [(&'static str, Option<f64>, Option<f64>); 9] = [
        ("PRE_SCALE_UP", None, None),
        ("POST_SCALE_UP", None, None),
        ("TEST_TRAFFIC_SHIFT", Some(100.0), None),
        ("POST_TEST_TRAFFIC_SHIFT", None, None),
        ("PRE_PRODUCTION_TRAFFIC_SHIFT", None, Some(0.0)),
        ("PRODUCTION_TRAFFIC_SHIFT", None, Some(10.0)),
        ("PRE_PRODUCTION_TRAFFIC_SHIFT", None, Some(10.0)),
        ("PRODUCTION_TRAFFIC_SHIFT", None, Some(100.0)),
        ("POST_PRODUCTION_TRAFFIC_SHIFT", None, None),
    ];
    let mut answers = Vec::new();
    for (stage, test, production) in steps {
        let answered = run_stage(function, stage, test, production, configured).await;
        observe(&answered);
        let failed = answered.status == "FAILED";
        answers.push(answered);
        if failed {
            // ECS rolls back: traffic back on blue, the two shifting stages invoked again.
            world.production_listener.forward(&[(&world.blue, 100.0)]);
            world.test_listener.forward(&[(&world.blue, 100.0)]);
            for (stage, test, production) in [
                ("TEST_TRAFFIC_SHIFT", Some(0.0), None),
                ("PRODUCTION_TRAFFIC_SHIFT", None, Some(0.0)),
            ] {
                let answered = run_stage(function, stage, test, production, configured).await;
                observe(&answered);
                answers.push(answered);
            }
            break;
        }
        if stage == "PRODUCTION_TRAFFIC_SHIFT"
            && let Some(green) = production
        {
            world.production_listener.forward(&[
                (&world.green_in_production, green),
                (&world.blue, 100.0 - green),
            ]);
        }
    }
    answers
}

pub fn statuses(answers: &[Answered]) -> Vec<(&'static str, &str)> {
    answers
        .iter()
        .map(|a| (a.stage, a.status.as_str()))
        .collect()
}

pub fn reason(answered: &Answered) -> String {
    answered.last["hookDetails"]["validateTraffic"]["reason"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

pub fn configured() -> Map<String, Value> {
    json!({"probePaths": ["/health"], "maxP95Ms": 2000})
        .as_object()
        .cloned()
        .unwrap_or_default()
}
