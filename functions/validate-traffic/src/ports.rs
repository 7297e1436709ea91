//! The seams between the hook and AWS. `codedeploy`, `discovery`, `report`, `ecs` and `lambda` call these
//! traits one SDK call at a time and keep their own retries, bounds and decisions; `Aws` plugs in the
//! SDK clients, and the unit tests (`in_process`) an in-memory account that answers with the
//! SDK's own output and error types, so throttling, refusals and hung calls run through the
//! same code as in Lambda. The HTTP probe is not behind a seam: the tests serve green on a
//! local socket, so the requests, timeouts and body checks are the real ones.

use std::future::Future;
use std::time::Duration;

use aws_sdk_codedeploy::config::http::HttpResponse;
use aws_sdk_codedeploy::error::SdkError;
use aws_sdk_codedeploy::operation::get_deployment::{GetDeploymentError, GetDeploymentOutput};
use aws_sdk_codedeploy::operation::get_deployment_group::{
    GetDeploymentGroupError, GetDeploymentGroupOutput,
};
use aws_sdk_codedeploy::operation::put_lifecycle_event_hook_execution_status::{
    PutLifecycleEventHookExecutionStatusError, PutLifecycleEventHookExecutionStatusOutput,
};
use aws_sdk_codedeploy::types::LifecycleEventStatus;
use aws_sdk_ecs::operation::describe_service_revisions::{
    DescribeServiceRevisionsError, DescribeServiceRevisionsOutput,
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
use aws_sdk_lambda::operation::get_alias::{GetAliasError, GetAliasOutput};
use aws_sdk_lambda::operation::invoke::{InvokeError, InvokeOutput};
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use rollout_kit::{LazyClient, RolloutEvent};

/// One SDK call's answer.
pub type Answer<T, E> = Result<T, SdkError<E, HttpResponse>>;

/// CodeDeploy lookups. `Clone + 'static`: the lookups run in their own task.
pub trait Deployments: Clone + Send + Sync + 'static {
    fn get_deployment(
        &self,
        deployment_id: &str,
    ) -> impl Future<Output = Answer<GetDeploymentOutput, GetDeploymentError>> + Send;
    fn get_deployment_group(
        &self,
        application: &str,
        group: &str,
    ) -> impl Future<Output = Answer<GetDeploymentGroupOutput, GetDeploymentGroupError>> + Send;
}

/// `PutLifecycleEventHookExecutionStatus`, one attempt (`report` retries).
pub trait HookReporter: Send + Sync {
    fn put_hook_status(
        &self,
        deployment_id: &str,
        execution_id: &str,
        status: LifecycleEventStatus,
    ) -> impl Future<
        Output = Answer<
            PutLifecycleEventHookExecutionStatusOutput,
            PutLifecycleEventHookExecutionStatusError,
        >,
    > + Send;
}

/// ELBv2 lookups. `Clone + 'static`: the lookups run in their own task.
pub trait LoadBalancers: Clone + Send + Sync + 'static {
    fn describe_listener(
        &self,
        listener_arn: &str,
    ) -> impl Future<Output = Answer<DescribeListenersOutput, DescribeListenersError>> + Send;
    fn describe_load_balancer(
        &self,
        load_balancer_arn: &str,
    ) -> impl Future<Output = Answer<DescribeLoadBalancersOutput, DescribeLoadBalancersError>> + Send;
    fn describe_target_health(
        &self,
        target_group_arn: &str,
    ) -> impl Future<Output = Answer<DescribeTargetHealthOutput, DescribeTargetHealthError>> + Send;
    /// One listener rule: the ECS built-in deployments name their test and production routes
    /// by rule ARN.
    fn describe_rule(
        &self,
        rule_arn: &str,
    ) -> impl Future<Output = Answer<DescribeRulesOutput, DescribeRulesError>> + Send;
}

/// ECS lookups for the hook of ECS built-in deployments. `Clone + 'static`: the lookups run in
/// their own task.
pub trait ServiceRevisions: Clone + Send + Sync + 'static {
    fn describe_service_revision(
        &self,
        service_revision_arn: &str,
    ) -> impl Future<Output = Answer<DescribeServiceRevisionsOutput, DescribeServiceRevisionsError>> + Send;
}

/// Lambda, for the hook of CodeDeploy Lambda deployments: the alias's state and synchronous
/// invocations of the version under test. `Clone + 'static`: the probe runs in its own task.
pub trait Functions: Clone + Send + Sync + 'static {
    fn get_alias(
        &self,
        function: &str,
        alias: &str,
    ) -> impl Future<Output = Answer<GetAliasOutput, GetAliasError>> + Send;
    /// `RequestResponse` invocation of `function` at `qualifier` (a version or an alias).
    fn invoke(
        &self,
        function: &str,
        qualifier: &str,
        payload: &str,
    ) -> impl Future<Output = Answer<InvokeOutput, InvokeError>> + Send;
}

/// The notifications topic. Best effort: the result is only logged.
pub trait EventSink: Send + Sync {
    fn publish_within(
        &self,
        topic_arn: &str,
        event: &RolloutEvent,
        limit: Duration,
    ) -> impl Future<Output = ()> + Send;
}

/// A set of adapters.
pub trait Ports: 'static {
    type Deployments: Deployments;
    type Reporter: HookReporter;
    type LoadBalancers: LoadBalancers;
    type Services: ServiceRevisions;
    type Functions: Functions;
    type Events: EventSink;
}

/// The real ones: SDK clients, each built by the first invocation that calls its service.
pub struct Aws;

impl Ports for Aws {
    type Deployments = LazyClient<aws_sdk_codedeploy::Client>;
    type Reporter = LazyClient<aws_sdk_codedeploy::Client>;
    type LoadBalancers = LazyClient<aws_sdk_elasticloadbalancingv2::Client>;
    type Services = LazyClient<aws_sdk_ecs::Client>;
    type Functions = LazyClient<aws_sdk_lambda::Client>;
    type Events = LazyClient<aws_sdk_sns::Client>;
}

impl Deployments for LazyClient<aws_sdk_codedeploy::Client> {
    async fn get_deployment(
        &self,
        deployment_id: &str,
    ) -> Answer<GetDeploymentOutput, GetDeploymentError> {
        self.get()
            .get_deployment()
            .deployment_id(deployment_id)
            .send()
            .await
    }

    async fn get_deployment_group(
        &self,
        application: &str,
        group: &str,
    ) -> Answer<GetDeploymentGroupOutput, GetDeploymentGroupError> {
        self.get()
            .get_deployment_group()
            .application_name(application)
            .deployment_group_name(group)
            .send()
            .await
    }
}

impl HookReporter for LazyClient<aws_sdk_codedeploy::Client> {
    async fn put_hook_status(
        &self,
        deployment_id: &str,
        execution_id: &str,
        status: LifecycleEventStatus,
    ) -> Answer<PutLifecycleEventHookExecutionStatusOutput, PutLifecycleEventHookExecutionStatusError>
    {
        self.get()
            .put_lifecycle_event_hook_execution_status()
            .deployment_id(deployment_id)
            .lifecycle_event_hook_execution_id(execution_id)
            .status(status)
            .send()
            .await
    }
}

impl LoadBalancers for LazyClient<aws_sdk_elasticloadbalancingv2::Client> {
    async fn describe_listener(
        &self,
        listener_arn: &str,
    ) -> Answer<DescribeListenersOutput, DescribeListenersError> {
        self.get()
            .describe_listeners()
            .listener_arns(listener_arn)
            .send()
            .await
    }

    async fn describe_load_balancer(
        &self,
        load_balancer_arn: &str,
    ) -> Answer<DescribeLoadBalancersOutput, DescribeLoadBalancersError> {
        self.get()
            .describe_load_balancers()
            .load_balancer_arns(load_balancer_arn)
            .send()
            .await
    }

    async fn describe_target_health(
        &self,
        target_group_arn: &str,
    ) -> Answer<DescribeTargetHealthOutput, DescribeTargetHealthError> {
        self.get()
            .describe_target_health()
            .target_group_arn(target_group_arn)
            .send()
            .await
    }

    async fn describe_rule(
        &self,
        rule_arn: &str,
    ) -> Answer<DescribeRulesOutput, DescribeRulesError> {
        self.get().describe_rules().rule_arns(rule_arn).send().await
    }
}

impl ServiceRevisions for LazyClient<aws_sdk_ecs::Client> {
    async fn describe_service_revision(
        &self,
        service_revision_arn: &str,
    ) -> Answer<DescribeServiceRevisionsOutput, DescribeServiceRevisionsError> {
        self.get()
            .describe_service_revisions()
            .service_revision_arns(service_revision_arn)
            .send()
            .await
    }
}

impl Functions for LazyClient<aws_sdk_lambda::Client> {
    async fn get_alias(
        &self,
        function: &str,
        alias: &str,
    ) -> Answer<GetAliasOutput, GetAliasError> {
        self.get()
            .get_alias()
            .function_name(function)
            .name(alias)
            .send()
            .await
    }

    async fn invoke(
        &self,
        function: &str,
        qualifier: &str,
        payload: &str,
    ) -> Answer<InvokeOutput, InvokeError> {
        self.get()
            .invoke()
            .invocation_type(InvocationType::RequestResponse)
            .function_name(function)
            .qualifier(qualifier)
            .payload(Blob::new(payload.as_bytes()))
            .send()
            .await
    }
}

impl EventSink for LazyClient<aws_sdk_sns::Client> {
    async fn publish_within(&self, topic_arn: &str, event: &RolloutEvent, limit: Duration) {
        // Logged inside; the verdict stands either way.
        let _ = rollout_kit::Publisher::new(self.clone(), topic_arn.to_string())
            .publish_within(event, limit)
            .await;
    }
}
