//! validate-traffic as the Lambda hook of ECS built-in deployments, on the bench: the real binary
//! under the Runtime API, ELBv2 in moto, `DescribeServiceRevisions` from the front's ECS fake.
//! The test plays ECS: it invokes the hook stage by stage of a CANARY deployment as ECS would,
//! reads the returned `hookStatus`, calls back after `callBackDelay` with the `hookDetails` it
//! got, and rolls back (re-invoking TEST_TRAFFIC_SHIFT and PRODUCTION_TRAFFIC_SHIFT with the
//! weights on blue) when a stage fails.
//!
//! Two small local "listeners" stand in for the ALB's: each checks its rule's condition (the
//! test rule's `X-Canary: true`, the production rule's host) and forwards what matches to the
//! revisions behind it at the current weights, answering 404 like the listener's default action
//! otherwise. A probe that did not meet the rule the hook discovered would reach nothing.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use aws_sdk_elasticloadbalancingv2::types as elb;
use rollout_bench::ecs_fake::RevisionSpec;
use rollout_bench::hooks::log_fields;
use rollout_bench::{
    Behavior, Bench, Fault, ForwardProxy, HttpTarget, LambdaFn, event, workspace_root,
};
use serde_json::{Map, Value, json};

const FUNCTION: &str = "validate-traffic";
/// The revisions and deployment the samples in `events/validate-traffic/ecs-builtin/` name.
const GREEN: &str = "arn:aws:ecs:us-east-1:123456789012:service-revision/prod/shop/4467011";
const BLUE: &str = "arn:aws:ecs:us-east-1:123456789012:service-revision/prod/shop/4467009";
const DEPLOYMENT: &str =
    "arn:aws:ecs:us-east-1:123456789012:service-deployment/prod/shop/9KyHcQ2wXxAmc4TVlIdMd";
const SERVICE: &str = "arn:aws:ecs:us-east-1:123456789012:service/prod/shop";
const SAMPLES: &str = "validate-traffic/ecs-builtin";
const HOST: &str = "shop.example.com";

/// An ALB listener as far as the probe can tell: requests that meet the rule's condition go to
/// the backends at their weights (deterministically spread), the others get the default 404.
struct Listener {
    addr: SocketAddr,
    /// `(backend, weight)`.
    backends: Arc<Mutex<Vec<(SocketAddr, f64)>>>,
    /// Requests each backend got since the weights last changed.
    served: Arc<Mutex<Vec<usize>>>,
}

impl Listener {
    async fn start(matches: fn(&axum::http::HeaderMap) -> bool) -> Listener {
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
        let socket = rollout_bench::bind_local().await;
        let addr = socket.local_addr().expect("addr");
        rollout_bench::serve(socket, router);
        Listener {
            addr,
            backends,
            served,
        }
    }

    fn forward(&self, backends: &[(&HttpTarget, f64)]) {
        *self.backends.lock().unwrap_or_else(|p| p.into_inner()) =
            backends.iter().map(|(t, w)| (t.addr(), *w)).collect();
        self.served
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

/// The next backend: each gets its weight's share of the requests so far, in a fixed order.
fn pick(backends: &[(SocketAddr, f64)], served: &mut Vec<usize>) -> Option<SocketAddr> {
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
struct World {
    production_rule: String,
    test_rule: String,
    /// Green through the test rule, green under production traffic, blue.
    green: HttpTarget,
    green_in_production: HttpTarget,
    blue: HttpTarget,
    test_listener: Listener,
    production_listener: Listener,
    proxy: ForwardProxy,
}

impl World {
    async fn create(bench: &Bench) -> World {
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

    async fn hook(&self, bench: &Bench) -> LambdaFn {
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
async fn alb(config: &SdkConfig) -> (String, String, String, String, String) {
    let elbv2 = aws_sdk_elasticloadbalancingv2::Client::new(config);
    let vpc = rollout_bench::bench::default_subnets(config).await;
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
fn payload(
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
struct Answered {
    stage: &'static str,
    status: String,
    rounds: usize,
    last: Value,
    elapsed: Duration,
}

/// Invokes one stage as ECS does: again after `callBackDelay` while the answer is
/// `IN_PROGRESS`, with the returned `hookDetails` merged over the configured ones.
async fn run_stage(
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
async fn canary(
    world: &World,
    function: &LambdaFn,
    configured: &Map<String, Value>,
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
                answers.push(run_stage(function, stage, test, production, configured).await);
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

fn statuses(answers: &[Answered]) -> Vec<(&'static str, &str)> {
    answers
        .iter()
        .map(|a| (a.stage, a.status.as_str()))
        .collect()
}

fn reason(answered: &Answered) -> String {
    answered.last["hookDetails"]["validateTraffic"]["reason"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn configured() -> Map<String, Value> {
    json!({"probePaths": ["/health"], "maxP95Ms": 2000})
        .as_object()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn a_canary_with_a_healthy_green_passes_every_stage() {
    let bench = Bench::start().await;
    let world = World::create(&bench).await;
    let function = world.hook(&bench).await;
    // A busy account: the first lookups are throttled, in ECS's own error shape.
    bench
        .front
        .inject(Fault::throttle("ecs", "DescribeServiceRevisions").times(2));

    let answers = canary(&world, &function, &configured()).await;
    assert_eq!(
        statuses(&answers),
        [
            ("PRE_SCALE_UP", "SUCCEEDED"),
            ("POST_SCALE_UP", "SUCCEEDED"),
            ("TEST_TRAFFIC_SHIFT", "SUCCEEDED"),
            ("POST_TEST_TRAFFIC_SHIFT", "SUCCEEDED"),
            ("PRE_PRODUCTION_TRAFFIC_SHIFT", "SUCCEEDED"),
            ("PRODUCTION_TRAFFIC_SHIFT", "SUCCEEDED"),
            ("PRE_PRODUCTION_TRAFFIC_SHIFT", "SUCCEEDED"),
            ("PRODUCTION_TRAFFIC_SHIFT", "SUCCEEDED"),
            ("POST_PRODUCTION_TRAFFIC_SHIFT", "SUCCEEDED"),
        ],
        "{}",
        function.logs()
    );
    // Green was probed through the test rule, with the header the rule matches on.
    let through_test = world.green.requests();
    assert_eq!(through_test.len(), 10, "POST_TEST_TRAFFIC_SHIFT only");
    assert!(
        through_test
            .iter()
            .all(|r| r.header("x-canary") == Some("true") && r.path == "/health")
    );
    // Production was probed at both PRE_PRODUCTION steps and at POST_PRODUCTION, with the host
    // the production rule matches on: 10 on blue, 9 + 1 at 10 %, 10 on green.
    let production: Vec<_> = world
        .blue
        .requests()
        .into_iter()
        .chain(world.green_in_production.requests())
        .collect();
    assert_eq!(production.len(), 30);
    assert!(production.iter().all(|r| r.header("host") == Some(HOST)));
    assert_eq!(world.green_in_production.request_count(), 11);
    // ECS reads the return value: CodeDeploy is never called, the rules were looked up.
    assert_eq!(bench.front.count("PutLifecycleEventHookExecutionStatus"), 0);
    assert_eq!(bench.front.count("DescribeRules"), 4);
    assert_eq!(bench.front.count("DescribeServiceRevisions"), 4 + 2);
    let verdict = log_fields(&function, "verdict");
    assert_eq!(verdict["stage"], "POST_PRODUCTION_TRAFFIC_SHIFT");
    assert_eq!(verdict["requests"], 10);
    let target = log_fields(&function, "probe target");
    assert_eq!(target["rule"], world.production_rule.as_str());
    assert_eq!(target["headers"], "host");
    let first_target = function
        .log_records()
        .into_iter()
        .map(|r| r.get("fields").cloned().unwrap_or(r))
        .find(|f| f["message"] == "probe target")
        .unwrap_or_default();
    assert_eq!(first_target["rule"], world.test_rule.as_str());
    assert_eq!(first_target["headers"], "x-canary");
}

#[tokio::test]
async fn a_canary_with_a_failing_green_fails_before_production_moves_and_rolls_back() {
    let bench = Bench::start().await;
    let world = World::create(&bench).await;
    world.green.set(Behavior::status(500, "checkout v2 broken"));
    let function = world.hook(&bench).await;

    let answers = canary(&world, &function, &configured()).await;
    assert_eq!(
        statuses(&answers),
        [
            ("PRE_SCALE_UP", "SUCCEEDED"),
            ("POST_SCALE_UP", "SUCCEEDED"),
            ("TEST_TRAFFIC_SHIFT", "SUCCEEDED"),
            ("POST_TEST_TRAFFIC_SHIFT", "FAILED"),
            ("TEST_TRAFFIC_SHIFT", "SUCCEEDED"),
            ("PRODUCTION_TRAFFIC_SHIFT", "SUCCEEDED"),
        ]
    );
    let failed = &answers[3];
    assert!(reason(failed).contains("success ratio"), "{}", failed.last);
    assert_eq!(failed.last["hookDetails"]["validateTraffic"]["failed"], 10);
    // The rollback's invocations are answered at once, without a lookup or a probe.
    for rollback in &answers[4..] {
        assert!(
            reason(rollback).starts_with("rollback"),
            "{}",
            rollback.last
        );
        assert!(
            rollback.elapsed < Duration::from_secs(2),
            "{:?}",
            rollback.elapsed
        );
    }
    assert_eq!(bench.front.count("DescribeServiceRevisions"), 1);
    assert_eq!(
        world.blue.request_count() + world.green_in_production.request_count(),
        0
    );
}

#[tokio::test]
async fn a_canary_whose_green_fails_only_under_production_traffic_stops_at_the_next_step() {
    let bench = Bench::start().await;
    let world = World::create(&bench).await;
    world
        .green_in_production
        .set(Behavior::status(503, "upstream connect error"));
    let function = world.hook(&bench).await;

    let answers = canary(&world, &function, &configured()).await;
    assert_eq!(
        statuses(&answers),
        [
            ("PRE_SCALE_UP", "SUCCEEDED"),
            ("POST_SCALE_UP", "SUCCEEDED"),
            ("TEST_TRAFFIC_SHIFT", "SUCCEEDED"),
            ("POST_TEST_TRAFFIC_SHIFT", "SUCCEEDED"),
            ("PRE_PRODUCTION_TRAFFIC_SHIFT", "SUCCEEDED"),
            ("PRODUCTION_TRAFFIC_SHIFT", "SUCCEEDED"),
            ("PRE_PRODUCTION_TRAFFIC_SHIFT", "FAILED"),
            ("TEST_TRAFFIC_SHIFT", "SUCCEEDED"),
            ("PRODUCTION_TRAFFIC_SHIFT", "SUCCEEDED"),
        ]
    );
    // One request in ten reached green at 10 %, and that one failed.
    let failed = &answers[6];
    assert_eq!(failed.last["hookDetails"]["validateTraffic"]["failed"], 1);
    assert!(reason(failed).contains("success ratio"), "{}", failed.last);
    assert_eq!(world.green_in_production.request_count(), 1);
}

#[tokio::test]
async fn a_soak_calls_back_with_its_totals_until_it_decides() {
    let bench = Bench::start().await;
    let world = World::create(&bench).await;
    world
        .production_listener
        .forward(&[(&world.green_in_production, 100.0)]);
    let function = world.hook(&bench).await;
    let mut soaking = configured();
    soaking.insert("soakSeconds".into(), json!(2));
    soaking.insert("soakIntervalSeconds".into(), json!(1));
    soaking.insert("probeRequests".into(), json!(4));

    let done = run_stage(
        &function,
        "POST_PRODUCTION_TRAFFIC_SHIFT",
        None,
        None,
        &soaking,
    )
    .await;
    assert_eq!(done.status, "SUCCEEDED", "{}", done.last);
    assert!(done.rounds >= 2, "{} IN_PROGRESS rounds", done.rounds);
    let own = &done.last["hookDetails"]["validateTraffic"];
    let slices = own["soak"]["slices"].as_u64().unwrap_or_default();
    assert_eq!(slices as usize, done.rounds + 1);
    assert_eq!(
        own["requests"].as_u64(),
        Some(4 * slices),
        "judged on the totals"
    );
    assert_eq!(world.green_in_production.request_count() as u64, 4 * slices);
    assert_eq!(
        done.last["hookDetails"]["soakSeconds"], 2,
        "configured keys echoed"
    );

    // Green starts failing mid-soak: the next slice ends it.
    world
        .green_in_production
        .set(Behavior::status(500, "out of memory"));
    let failed = run_stage(
        &function,
        "POST_PRODUCTION_TRAFFIC_SHIFT",
        None,
        Some(50.0),
        &soaking,
    )
    .await;
    assert_eq!(failed.status, "FAILED", "{}", failed.last);
    assert_eq!(failed.rounds, 0);
    assert!(
        reason(&failed).starts_with("soak slice 1 failed"),
        "{}",
        failed.last
    );
}

#[tokio::test]
async fn rollback_samples_are_answered_succeeded_at_once() {
    let bench = Bench::start().await;
    let function = LambdaFn::start(FUNCTION, &bench, &[("PROBE_REQUESTS", "3")]).await;
    for name in [
        "test-traffic-shift-rollback.json",
        "production-traffic-shift-rollback.json",
    ] {
        let started = Instant::now();
        let invocation = function.invoke(event(&format!("{SAMPLES}/{name}"))).await;
        let answer = invocation.response();
        assert_eq!(answer["hookStatus"], "SUCCEEDED", "{name}: {answer}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{name}: {:?}",
            started.elapsed()
        );
    }
    // Nothing looked up, nothing probed: a rollback never waits on the hook.
    assert_eq!(bench.front.calls(), vec![]);
}

#[tokio::test]
async fn malformed_events_are_answered_failed_not_with_an_error() {
    let bench = Bench::start().await;
    let function = LambdaFn::start(FUNCTION, &bench, &[]).await;
    for (payload, expected) in [
        (
            json!({"executionId": "e-1", "lifecycleStage": "BAKE_TIME"}),
            "not a stage",
        ),
        (
            json!({"lifecycleStage": "POST_TEST_TRAFFIC_SHIFT"}),
            "executionId is missing",
        ),
        (
            json!({"executionId": "e-2", "lifecycleStage": "POST_TEST_TRAFFIC_SHIFT",
                   "executionDetails": {"productionTrafficWeights": {"a": "half"}}}),
            "productionTrafficWeights",
        ),
        (
            json!({"executionId": "e-3", "lifecycleStage": "POST_TEST_TRAFFIC_SHIFT",
                   "hookDetails": ["not", "an", "object"]}),
            "hookDetails must be an object",
        ),
        (
            json!({"executionId": "e-4", "lifecycleStage": "POST_TEST_TRAFFIC_SHIFT"}),
            "targetServiceRevisionArn is missing",
        ),
    ] {
        let invocation = function.invoke(payload.clone()).await;
        let answer = invocation.response();
        assert_eq!(answer["hookStatus"], "FAILED", "{payload}: {answer}");
        let why = answer["hookDetails"]["validateTraffic"]["reason"]
            .as_str()
            .unwrap_or_default();
        assert!(why.contains(expected), "{payload}: {why}");
    }
    // A CodeDeploy-shaped payload still gets CodeDeploy's answer (an error: nothing to report).
    let invocation = function.invoke(json!({"DeploymentId": ""})).await;
    assert_eq!(invocation.error().0, "InvalidEvent");
}

#[tokio::test]
async fn every_ecs_sample_event_runs_through_the_binary() {
    let bench = Bench::start().await;
    let world = World::create(&bench).await;
    world
        .production_listener
        .forward(&[(&world.green_in_production, 100.0)]);
    let function = world.hook(&bench).await;
    let dir = workspace_root().join("events").join(SAMPLES);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    // Every stage a Lambda hook can attach to has a sample, and so has a rollback.
    for stage in [
        "reconcile-service",
        "pre-scale-up",
        "post-scale-up",
        "test-traffic-shift",
        "post-test-traffic-shift",
        "pre-production-traffic-shift",
        "production-traffic-shift",
        "post-production-traffic-shift",
        "production-traffic-shift-rollback",
        "test-traffic-shift-rollback",
    ] {
        assert!(
            names.contains(&format!("{stage}.json")),
            "no sample for {stage}: {names:?}"
        );
    }
    for name in names {
        let sample = event(&format!("{SAMPLES}/{name}"));
        let stage = sample["lifecycleStage"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let named = ["-rollback", "-step-2", "-canary"]
            .iter()
            .fold(name.trim_end_matches(".json"), |n, suffix| {
                n.trim_end_matches(suffix)
            })
            .replace('-', "_")
            .to_uppercase();
        assert_eq!(named, stage, "{name} is named after its stage");
        let invocation = function.invoke(sample.clone()).await;
        let answer = invocation.response();
        assert_eq!(
            answer["hookStatus"],
            "SUCCEEDED",
            "{name}: {answer}\n{}",
            function.logs()
        );
        assert_eq!(
            answer["hookDetails"]["probeRequests"],
            sample["hookDetails"]["probeRequests"]
        );
    }
    // The probing stages went through green's rules: POST_TEST through the test rule, both
    // PRE_PRODUCTION samples and POST_PRODUCTION through production.
    assert_eq!(world.green.request_count(), 10);
    assert_eq!(world.green_in_production.request_count(), 30);
}

#[tokio::test]
async fn the_ecs_fake_answers_as_ecs_does() {
    use aws_sdk_ecs::error::ProvideErrorMetadata;
    let bench = Bench::start().await;
    let _world = World::create(&bench).await;
    let ecs = aws_sdk_ecs::Client::new(&bench.sdk_config().await);

    let found = ecs
        .describe_service_revisions()
        .service_revision_arns(GREEN)
        .service_revision_arns("arn:aws:ecs:us-east-1:123456789012:service-revision/prod/shop/1")
        .send()
        .await
        .expect("describe revisions");
    let revision = &found.service_revisions()[0];
    assert_eq!(revision.service_revision_arn(), Some(GREEN));
    let advanced = revision.load_balancers()[0]
        .advanced_configuration()
        .expect("advancedConfiguration");
    assert!(
        advanced
            .test_listener_rule()
            .is_some_and(|r| r.contains(":listener-rule/"))
    );
    assert_eq!(found.failures()[0].reason(), Some("MISSING"));

    let deployments = ecs
        .describe_service_deployments()
        .service_deployment_arns(DEPLOYMENT)
        .send()
        .await
        .expect("describe deployments");
    let deployment = &deployments.service_deployments()[0];
    assert_eq!(
        deployment.target_service_revision().and_then(|r| r.arn()),
        Some(GREEN)
    );

    for (arns, what) in [
        (
            vec!["not-an-arn".to_string()],
            "Invalid service-revision ARN",
        ),
        (vec![GREEN.to_string(); 21], "between 1 and 20"),
        (vec![DEPLOYMENT.to_string()], "Invalid service-revision ARN"),
    ] {
        let err = ecs
            .describe_service_revisions()
            .set_service_revision_arns(Some(arns))
            .send()
            .await
            .expect_err("refused");
        assert_eq!(err.code(), Some("InvalidParameterException"));
        assert!(err.message().unwrap_or_default().contains(what), "{err:?}");
        assert!(err.into_service_error().is_invalid_parameter_exception());
    }
    // Injected faults come in ECS's shape too.
    bench.front.inject(
        Fault::error(
            "ecs",
            "DescribeServiceDeployments",
            400,
            "ClientException",
            "denied",
        )
        .times(1),
    );
    let err = ecs
        .describe_service_deployments()
        .service_deployment_arns(DEPLOYMENT)
        .send()
        .await
        .expect_err("faulted");
    assert!(err.into_service_error().is_client_exception());
    bench.front.inject(Fault::error(
        "ecs",
        "DescribeServiceRevisions",
        500,
        "ServerException",
        "boom",
    ));
    let err = ecs
        .describe_service_revisions()
        .service_revision_arns(GREEN)
        .send()
        .await
        .expect_err("faulted");
    assert!(err.into_service_error().is_server_exception());
    // The SDK retried the 500s it got.
    assert!(bench.front.count("DescribeServiceRevisions") >= 4 + 2);
}
