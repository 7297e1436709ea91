//! The hook driven in-process: `handler::handle` against an in-memory account (CodeDeploy, the
//! test listener and its load balancer, green's target health, the topic) through the `ports`
//! seams. The account answers with the SDK's own output and error types, so throttling,
//! refusals and hung calls go through the real retries and bounds.
//!
//! Green itself is real: a local socket answering HTTP/1.1, which the listener's load balancer
//! names as its DNS name, so discovery → readiness → probe → verdict → report → event is the
//! path Lambda runs. Those tests run on the real clock (a paused clock would jump ahead while
//! the socket is waited on); the deadline tests never reach the probe and run on a paused clock.
//! The bench tests (`tests/tests/suite/validate_traffic.rs`) prove the same paths end to end.
//! The ECS built-in deployments' path runs against the same account in [`ecs`], direct probe
//! requests in [`direct`].

mod direct;
mod ecs;
mod lambda;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_codedeploy::config::http::HttpResponse;
use aws_sdk_codedeploy::error::SdkError;
use aws_sdk_codedeploy::operation::get_deployment::{GetDeploymentError, GetDeploymentOutput};
use aws_sdk_codedeploy::operation::get_deployment_group::{
    GetDeploymentGroupError, GetDeploymentGroupOutput,
};
use aws_sdk_codedeploy::operation::put_lifecycle_event_hook_execution_status::{
    PutLifecycleEventHookExecutionStatusError, PutLifecycleEventHookExecutionStatusOutput,
};
use aws_sdk_codedeploy::types::{
    AppSpecContent, ComputePlatform, DeploymentGroupInfo, DeploymentInfo, DeploymentStatus,
    LifecycleEventStatus, LoadBalancerInfo, RevisionLocation, RevisionLocationType,
    TargetGroupPairInfo, TrafficRoute,
};
use aws_sdk_ecs::operation::describe_service_revisions::{
    DescribeServiceRevisionsError, DescribeServiceRevisionsOutput,
};
use aws_sdk_ecs::types::{
    AdvancedConfiguration, Failure, LoadBalancer as EcsLoadBalancer, ServiceRevision,
};
use aws_sdk_elasticloadbalancingv2::operation::describe_listeners::{
    DescribeListenersError, DescribeListenersOutput,
};
use aws_sdk_elasticloadbalancingv2::operation::describe_load_balancers::{
    DescribeLoadBalancersError, DescribeLoadBalancersOutput,
};
use aws_sdk_elasticloadbalancingv2::operation::describe_rules::{
    DescribeRulesError, DescribeRulesOutput,
};
use aws_sdk_elasticloadbalancingv2::operation::describe_target_health::{
    DescribeTargetHealthError, DescribeTargetHealthOutput,
};
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, Listener, LoadBalancer, LoadBalancerSchemeEnum, ProtocolEnum, Rule,
    RuleCondition, TargetDescription, TargetHealth, TargetHealthDescription, TargetHealthStateEnum,
};
use aws_sdk_lambda::operation::get_alias::{GetAliasError, GetAliasOutput};
use aws_sdk_lambda::operation::invoke::{InvokeError, InvokeOutput};
use aws_sdk_lambda::primitives::Blob;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::error::ErrorMetadata;
use lambda_runtime::{Context, LambdaEvent};
use rollout_kit::{Env, Outcome, RolloutEvent, Tls};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::time::Instant;

use crate::error::Error;
use crate::handler::{Deps, configure, handle};
use crate::ports::{
    Answer, Deployments, EventSink, Functions, HookReporter, LoadBalancers, Ports, ServiceRevisions,
};

const APPLICATION: &str = "shop";
const GROUP: &str = "shop-dg";
const LISTENER: &str = "arn:aws:elasticloadbalancing:us-east-1:1:listener/app/shop/1/test";
const LOAD_BALANCER: &str = "arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/shop/1";
const GREEN: &str = "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/green/2";
const TOPIC: &str = "arn:aws:sns:us-east-1:1:rollouts";
/// The ECS routes: rules on the test listener, which the rule ARNs contain.
const TEST_RULE: &str = "arn:aws:elasticloadbalancing:us-east-1:1:listener-rule/app/shop/1/test/r1";
const PRODUCTION_RULE: &str =
    "arn:aws:elasticloadbalancing:us-east-1:1:listener-rule/app/shop/1/test/r2";
const GREEN_REVISION: &str = "arn:aws:ecs:us-east-1:1:service-revision/prod/shop/2";

/// How a lookup answers.
#[derive(Clone, Copy, Default, PartialEq)]
enum Lookup {
    #[default]
    Answers,
    /// `ThrottlingException`, every time.
    Throttled,
    /// No answer at all.
    Hangs,
    /// The lookup panics (a bug in a probe task).
    Panics,
}

/// What the fake account holds, and what a test makes it do.
#[derive(Default)]
struct State {
    /// Green's port on 127.0.0.1.
    port: u16,
    get_deployment: Lookup,
    describe_listeners: Lookup,
    describe_rules: Lookup,
    /// Error codes the next report attempts get, in turn, before one is accepted.
    report_errors: VecDeque<&'static str>,
    report_attempts: usize,
    /// The hook's status once CodeDeploy accepted one, and when.
    reported: Vec<(LifecycleEventStatus, Instant)>,
    events: Vec<RolloutEvent>,
    /// ECS: how DescribeServiceRevisions answers, whether it knows green, which rules green's
    /// load balancer names (test, production), the conditions of every rule.
    describe_revisions: Lookup,
    revision_unknown: bool,
    revision_rules: (Option<&'static str>, Option<&'static str>),
    rule_conditions: Vec<RuleCondition>,
    /// Every ECS and rule lookup, in order (`DescribeServiceRevisions <arn>`, `DescribeRules <arn>`).
    ecs_lookups: Vec<String>,
    /// A CodeDeploy Lambda deployment instead of an ECS one: its AppSpec, the function's state
    /// and every qualifier it was invoked with.
    lambda: Option<LambdaWorld>,
}

#[derive(Clone)]
struct LambdaWorld {
    app_spec: String,
    /// The version the alias serves.
    alias_version: &'static str,
    get_alias: Lookup,
    answer: FunctionAnswer,
    invoked: Vec<String>,
}

/// How the in-memory function answers an invocation.
#[derive(Clone, Copy, PartialEq)]
enum FunctionAnswer {
    /// `{"statusCode": 200, "version": <qualifier>}`.
    Healthy,
    /// `X-Amz-Function-Error: Unhandled`.
    Crashes,
    /// `TooManyRequestsException`, every time.
    Throttled,
    /// Never answers.
    Hangs,
}

#[derive(Clone, Default)]
struct Account {
    state: Arc<Mutex<State>>,
}

impl Account {
    fn new(port: u16) -> Account {
        let account = Account::default();
        {
            let mut state = account.lock();
            state.port = port;
            state.revision_rules = (Some(TEST_RULE), Some(PRODUCTION_RULE));
        }
        account
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn reported(&self) -> Vec<LifecycleEventStatus> {
        self.lock().reported.iter().map(|r| r.0.clone()).collect()
    }

    fn outcomes(&self) -> Vec<Outcome> {
        self.lock().events.iter().map(|e| e.outcome).collect()
    }

    fn deps(&self, env: &[(&str, &str)]) -> Deps<InMemory> {
        let mut vars = vec![
            ("PROBE_REQUESTS", "6"),
            ("PROBE_CONCURRENCY", "2"),
            ("PROBE_TIMEOUT_MS", "2000"),
            ("READINESS_TIMEOUT_MS", "5000"),
            ("NOTIFICATION_TOPIC_ARN", TOPIC),
        ];
        vars.extend_from_slice(env);
        let (setup, margin) = configure(&Env::from_pairs(vars), Ok(&Tls::public_roots()));
        Deps {
            setup,
            margin,
            codedeploy: self.clone(),
            reporter: self.clone(),
            elb: self.clone(),
            ecs: self.clone(),
            lambda: self.clone(),
            sns: self.clone(),
        }
    }

    /// Answers as `how` says; `Hangs` never returns.
    async fn lookup<T, E>(
        &self,
        how: Lookup,
        generic: fn(ErrorMetadata) -> E,
        answer: T,
    ) -> Answer<T, E> {
        match how {
            Lookup::Answers => Ok(answer),
            Lookup::Throttled => Err(refusal(generic, "ThrottlingException", 400)),
            Lookup::Hangs => std::future::pending().await,
            Lookup::Panics => panic!("lookup bug (in-memory account)"),
        }
    }
}

/// A service error as the SDK hands it over.
fn refusal<E>(
    generic: fn(ErrorMetadata) -> E,
    code: &str,
    status: u16,
) -> SdkError<E, HttpResponse> {
    let meta = ErrorMetadata::builder()
        .code(code)
        .message(format!("{code} (in-memory account)"))
        .build();
    let status = status.try_into().expect("a valid HTTP status");
    SdkError::service_error(generic(meta), HttpResponse::new(status, SdkBody::empty()))
}

struct InMemory;

impl Ports for InMemory {
    type Deployments = Account;
    type Reporter = Account;
    type LoadBalancers = Account;
    type Services = Account;
    type Functions = Account;
    type Events = Account;
}

impl Deployments for Account {
    async fn get_deployment(&self, _: &str) -> Answer<GetDeploymentOutput, GetDeploymentError> {
        let (how, app_spec) = {
            let state = self.lock();
            (
                state.get_deployment,
                state.lambda.as_ref().map(|l| l.app_spec.clone()),
            )
        };
        let mut info = DeploymentInfo::builder()
            .application_name(APPLICATION)
            .deployment_group_name(GROUP)
            .status(DeploymentStatus::InProgress)
            .compute_platform(ComputePlatform::Ecs);
        if let Some(content) = app_spec {
            info = info.compute_platform(ComputePlatform::Lambda).revision(
                RevisionLocation::builder()
                    .revision_type(RevisionLocationType::AppSpecContent)
                    .app_spec_content(AppSpecContent::builder().content(content).build())
                    .build(),
            );
        }
        let info = info.build();
        let answer = GetDeploymentOutput::builder().deployment_info(info).build();
        self.lookup(how, GetDeploymentError::generic, answer).await
    }

    async fn get_deployment_group(
        &self,
        _: &str,
        _: &str,
    ) -> Answer<GetDeploymentGroupOutput, GetDeploymentGroupError> {
        let route = TrafficRoute::builder().listener_arns(LISTENER).build();
        let pair = TargetGroupPairInfo::builder()
            .test_traffic_route(route)
            .build();
        let info = DeploymentGroupInfo::builder()
            .load_balancer_info(
                LoadBalancerInfo::builder()
                    .target_group_pair_info_list(pair)
                    .build(),
            )
            .build();
        Ok(GetDeploymentGroupOutput::builder()
            .deployment_group_info(info)
            .build())
    }
}

impl HookReporter for Account {
    async fn put_hook_status(
        &self,
        _: &str,
        _: &str,
        status: LifecycleEventStatus,
    ) -> Answer<PutLifecycleEventHookExecutionStatusOutput, PutLifecycleEventHookExecutionStatusError>
    {
        let mut state = self.lock();
        state.report_attempts += 1;
        let generic = PutLifecycleEventHookExecutionStatusError::generic;
        if let Some(code) = state.report_errors.pop_front() {
            return Err(refusal(generic, code, 400));
        }
        // CodeDeploy takes one status per hook execution.
        if !state.reported.is_empty() {
            return Err(refusal(
                generic,
                "LifecycleEventAlreadyCompletedException",
                400,
            ));
        }
        state.reported.push((status, Instant::now()));
        Ok(PutLifecycleEventHookExecutionStatusOutput::builder().build())
    }
}

impl LoadBalancers for Account {
    async fn describe_listener(
        &self,
        _: &str,
    ) -> Answer<DescribeListenersOutput, DescribeListenersError> {
        let (how, port) = {
            let state = self.lock();
            (state.describe_listeners, state.port)
        };
        let forward = Action::builder()
            .r#type(ActionTypeEnum::Forward)
            .target_group_arn(GREEN)
            .build();
        let listener = Listener::builder()
            .listener_arn(LISTENER)
            .load_balancer_arn(LOAD_BALANCER)
            .port(i32::from(port))
            .protocol(ProtocolEnum::Http)
            .default_actions(forward)
            .build();
        let answer = DescribeListenersOutput::builder()
            .listeners(listener)
            .build();
        self.lookup(how, DescribeListenersError::generic, answer)
            .await
    }

    async fn describe_load_balancer(
        &self,
        _: &str,
    ) -> Answer<DescribeLoadBalancersOutput, DescribeLoadBalancersError> {
        let lb = LoadBalancer::builder()
            .load_balancer_arn(LOAD_BALANCER)
            .dns_name("127.0.0.1")
            .scheme(LoadBalancerSchemeEnum::Internal)
            .build();
        Ok(DescribeLoadBalancersOutput::builder()
            .load_balancers(lb)
            .build())
    }

    async fn describe_target_health(
        &self,
        _: &str,
    ) -> Answer<DescribeTargetHealthOutput, DescribeTargetHealthError> {
        let target = TargetHealthDescription::builder()
            .target(TargetDescription::builder().id("10.0.1.5").port(80).build())
            .target_health(
                TargetHealth::builder()
                    .state(TargetHealthStateEnum::Healthy)
                    .build(),
            )
            .build();
        Ok(DescribeTargetHealthOutput::builder()
            .target_health_descriptions(target)
            .build())
    }

    async fn describe_rule(
        &self,
        rule_arn: &str,
    ) -> Answer<DescribeRulesOutput, DescribeRulesError> {
        let (how, conditions) = {
            let mut state = self.lock();
            state.ecs_lookups.push(format!("DescribeRules {rule_arn}"));
            (state.describe_rules, state.rule_conditions.clone())
        };
        let forward = Action::builder()
            .r#type(ActionTypeEnum::Forward)
            .target_group_arn(GREEN)
            .build();
        let rule = Rule::builder()
            .rule_arn(rule_arn)
            .priority("10")
            .set_conditions(Some(conditions))
            .actions(forward)
            .is_default(false)
            .build();
        let answer = DescribeRulesOutput::builder().rules(rule).build();
        self.lookup(how, DescribeRulesError::generic, answer).await
    }
}

impl ServiceRevisions for Account {
    async fn describe_service_revision(
        &self,
        arn: &str,
    ) -> Answer<DescribeServiceRevisionsOutput, DescribeServiceRevisionsError> {
        let (how, unknown, (test, production)) = {
            let mut state = self.lock();
            state
                .ecs_lookups
                .push(format!("DescribeServiceRevisions {arn}"));
            (
                state.describe_revisions,
                state.revision_unknown,
                state.revision_rules,
            )
        };
        let answer = if unknown {
            DescribeServiceRevisionsOutput::builder()
                .failures(Failure::builder().arn(arn).reason("MISSING").build())
                .build()
        } else {
            let mut advanced = AdvancedConfiguration::builder().alternate_target_group_arn(GREEN);
            if let Some(rule) = test {
                advanced = advanced.test_listener_rule(rule);
            }
            if let Some(rule) = production {
                advanced = advanced.production_listener_rule(rule);
            }
            let lb = EcsLoadBalancer::builder()
                .target_group_arn(GREEN)
                .container_name("web")
                .container_port(8000)
                .advanced_configuration(advanced.build())
                .build();
            DescribeServiceRevisionsOutput::builder()
                .service_revisions(
                    ServiceRevision::builder()
                        .service_revision_arn(arn)
                        .load_balancers(lb)
                        .build(),
                )
                .build()
        };
        self.lookup(how, DescribeServiceRevisionsError::generic, answer)
            .await
    }
}

impl Functions for Account {
    async fn get_alias(&self, _: &str, alias: &str) -> Answer<GetAliasOutput, GetAliasError> {
        let (how, version) = {
            let state = self.lock();
            let world = state.lambda.as_ref().expect("a Lambda deployment");
            (world.get_alias, world.alias_version)
        };
        let answer = GetAliasOutput::builder()
            .name(alias)
            .function_version(version)
            .build();
        self.lookup(how, GetAliasError::generic, answer).await
    }

    async fn invoke(&self, _: &str, qualifier: &str, _: &str) -> Answer<InvokeOutput, InvokeError> {
        let answer = {
            let mut state = self.lock();
            let world = state.lambda.as_mut().expect("a Lambda deployment");
            world.invoked.push(qualifier.to_string());
            world.answer
        };
        let output = InvokeOutput::builder().status_code(200);
        match answer {
            FunctionAnswer::Healthy => Ok(output
                .payload(Blob::new(
                    json!({"statusCode": 200, "version": qualifier}).to_string(),
                ))
                .build()),
            FunctionAnswer::Crashes => Ok(output
                .function_error("Unhandled")
                .payload(Blob::new(
                    r#"{"errorType":"Runtime.ExitError","errorMessage":"orders crashed"}"#,
                ))
                .build()),
            FunctionAnswer::Throttled => Err(refusal(
                InvokeError::generic,
                "TooManyRequestsException",
                429,
            )),
            FunctionAnswer::Hangs => std::future::pending().await,
        }
    }
}

impl EventSink for Account {
    async fn publish_within(&self, topic_arn: &str, event: &RolloutEvent, _: Duration) {
        assert_eq!(topic_arn, TOPIC);
        self.lock().events.push(event.clone());
    }
}

/// Green: answers every request with `status` on a fresh port of 127.0.0.1.
async fn green(status: u16) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a local port");
    let port = listener.local_addr().expect("bound").port();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let body = if status < 300 {
                    "green ok"
                } else {
                    "upstream error"
                };
                let answer = format!(
                    "HTTP/1.1 {status} Status\r\ncontent-type: text/plain\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(answer.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    port
}

fn invocation(time: Duration) -> LambdaEvent<Value> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let mut context = Context::default();
    context.request_id = "req-1".into();
    context.deadline = (now + time).as_millis() as u64;
    let payload = json!({
        "DeploymentId": "d-ABC123",
        "LifecycleEventHookExecutionId": "hook-1",
    });
    LambdaEvent::new(payload, context)
}

async fn run(account: &Account, time: Duration) -> Result<Value, Error> {
    handle(&account.deps(&[]), invocation(time)).await
}

#[tokio::test]
async fn a_healthy_green_is_reported_succeeded_once_then_announced() {
    let account = Account::new(green(200).await);
    let out = run(&account, Duration::from_secs(30)).await.unwrap();
    assert_eq!(out["status"], "Succeeded", "{out}");
    assert_eq!(out["report"], "accepted");
    assert_eq!(account.reported(), [LifecycleEventStatus::Succeeded]);
    assert_eq!(account.lock().report_attempts, 1);
    assert_eq!(account.outcomes(), [Outcome::Succeeded]);
    let event = account.lock().events[0].clone();
    let rollout_kit::RolloutDetail::Validation(detail) = event.detail else {
        panic!("not a validation event")
    };
    assert_eq!(detail.requests, 6);
    assert_eq!(detail.passed, 6);
    assert_eq!(detail.deployment_group.as_deref(), Some(GROUP));
    let port = account.lock().port;
    assert_eq!(
        detail.target.as_deref(),
        Some(format!("http://127.0.0.1:{port}/").as_str()),
        "the probe went where discovery pointed"
    );
}

#[tokio::test]
async fn a_failing_green_is_reported_failed() {
    let account = Account::new(green(503).await);
    let out = run(&account, Duration::from_secs(30)).await.unwrap();
    assert_eq!(out["status"], "Failed", "{out}");
    assert_eq!(account.reported(), [LifecycleEventStatus::Failed]);
    assert_eq!(account.outcomes(), [Outcome::Failed]);
}

#[tokio::test]
async fn a_throttled_report_is_retried_and_lands_once() {
    let account = Account::new(green(200).await);
    account.lock().report_errors = ["ThrottlingException"].into();
    let out = run(&account, Duration::from_secs(30)).await.unwrap();
    assert_eq!(out["report"], "accepted", "{out}");
    assert_eq!(account.lock().report_attempts, 2);
    assert_eq!(account.reported(), [LifecycleEventStatus::Succeeded]);
    assert_eq!(account.outcomes(), [Outcome::Succeeded]);
}

#[tokio::test]
async fn a_retried_invocation_finds_the_hook_completed_and_stays_quiet() {
    let account = Account::new(green(200).await);
    run(&account, Duration::from_secs(30)).await.unwrap();
    // Lambda retries the invocation: CodeDeploy already has this hook's status.
    let again = run(&account, Duration::from_secs(30)).await.unwrap();
    assert_eq!(again["report"], "already_completed", "{again}");
    assert_eq!(account.lock().report_attempts, 2);
    assert_eq!(
        account.reported(),
        [LifecycleEventStatus::Succeeded],
        "no second report"
    );
    assert_eq!(account.outcomes(), [Outcome::Succeeded], "no second event");
}

#[tokio::test(start_paused = true)]
async fn discovery_throttled_until_the_budget_fails_naming_the_cause_in_time() {
    let account = Account::new(1);
    account.lock().describe_listeners = Lookup::Throttled;
    let started = Instant::now();
    let time = Duration::from_secs(20);
    let out = run(&account, time).await.unwrap();
    assert_eq!(out["status"], "Failed", "{out}");
    let reason = out["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("DescribeListeners") && reason.contains("ThrottlingException"),
        "{reason}"
    );
    let reported = account.lock().reported.clone();
    assert_eq!(reported.len(), 1);
    assert_eq!(reported[0].0, LifecycleEventStatus::Failed);
    assert!(
        reported[0].1 < started + time,
        "reported after the deadline"
    );
    // Throttled until the budget, not given up early.
    assert!(started.elapsed() > time / 2, "{:?}", started.elapsed());
}

#[tokio::test(start_paused = true)]
async fn a_hung_lookup_under_a_short_deadline_is_reported_failed_in_time() {
    let account = Account::new(1);
    account.lock().get_deployment = Lookup::Hangs;
    let started = Instant::now();
    let time = Duration::from_secs(3);
    let out = run(&account, time).await.unwrap();
    assert_eq!(out["status"], "Failed", "{out}");
    assert_eq!(out["report"], "accepted");
    let reason = out["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("GetDeployment") && reason.contains("no answer"),
        "{reason}"
    );
    let reported = account.lock().reported.clone();
    assert_eq!(reported.len(), 1);
    assert_eq!(reported[0].0, LifecycleEventStatus::Failed);
    assert!(
        reported[0].1 < started + time,
        "reported {:?} after the start",
        reported[0].1 - started
    );
    assert!(started.elapsed() < time, "{:?}", started.elapsed());
}

#[tokio::test]
async fn an_unusable_trust_bundle_is_reported_failed_naming_it() {
    let account = Account::new(green(200).await);
    let env = Env::from_pairs([(rollout_kit::tls::CERT_FILE_VAR, "/nonexistent/ca.pem")]);
    let tls = Tls::from_env(&env);
    let mut deps = account.deps(&[]);
    (deps.setup, deps.margin) = configure(&env, tls.as_ref());
    let out = handle(&deps, invocation(Duration::from_secs(30))).await;
    // Reported first, then the invocation fails so the bad setting shows in the error metrics.
    assert_eq!(account.reported(), [LifecycleEventStatus::Failed]);
    match out {
        Err(Error::InvalidConfig(err)) => assert_eq!(err.var, "SSL_CERT_FILE"),
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
}
