//! The ECS deployment operations moto lacks, answered by the AWS front: `DescribeServiceRevisions`
//! and `DescribeServiceDeployments` (moto has no service revision or deployment model and raises
//! NotImplementedError for both).
//!
//! A test registers the revisions and deployments ECS would have made, as ECS's own JSON
//! (camelCase, `advancedConfiguration` and all), and the fake answers as ECS does on the wire:
//! awsJson1.1 under the target prefix `AmazonEC2ContainerServiceV20141113.`, unknown ARNs in
//! `failures` with reason `MISSING`, malformed input as `InvalidParameterException`, an
//! unreadable body as `SerializationException`, each error with `__type` and
//! `x-amzn-ErrorType`, so the Rust SDK parses them as it parses ECS. Throttling and
//! `ServerException` come from the front's fault injection (`Fault::error("ecs", …)`).

use std::collections::HashMap;
use std::sync::Mutex;

use axum::body::Body;
use axum::http::Response;
use serde_json::{Value, json};

use crate::front::{json_error, json_reply};

pub const TARGET_PREFIX: &str = "AmazonEC2ContainerServiceV20141113.";
/// ECS takes at most this many ARNs per describe call.
const MAX_ARNS: usize = 20;

/// The two operations, by what they describe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Revisions,
    Deployments,
}

impl Kind {
    fn of(operation: &str) -> Option<Kind> {
        match operation {
            "DescribeServiceRevisions" => Some(Kind::Revisions),
            "DescribeServiceDeployments" => Some(Kind::Deployments),
            _ => None,
        }
    }

    /// The request's list member, the ARN's resource type, the answer's list member, the
    /// key of the ARN in each registered item.
    fn names(self) -> (&'static str, &'static str, &'static str, &'static str) {
        match self {
            Kind::Revisions => (
                "serviceRevisionArns",
                "service-revision",
                "serviceRevisions",
                "serviceRevisionArn",
            ),
            Kind::Deployments => (
                "serviceDeploymentArns",
                "service-deployment",
                "serviceDeployments",
                "serviceDeploymentArn",
            ),
        }
    }
}

#[derive(Default)]
pub struct EcsFake {
    revisions: Mutex<HashMap<String, Value>>,
    deployments: Mutex<HashMap<String, Value>>,
}

impl EcsFake {
    /// Whether the fake (rather than moto) answers this operation.
    pub fn answers(target: &str) -> bool {
        target
            .strip_prefix(TARGET_PREFIX)
            .and_then(Kind::of)
            .is_some()
    }

    /// A service revision as `DescribeServiceRevisions` returns it; must name its
    /// `serviceRevisionArn`.
    pub fn register_revision(&self, revision: Value) {
        let arn = item_arn(&revision, "serviceRevisionArn");
        lock(&self.revisions).insert(arn, revision);
    }

    /// A service deployment as `DescribeServiceDeployments` returns it; must name its
    /// `serviceDeploymentArn`.
    pub fn register_deployment(&self, deployment: Value) {
        let arn = item_arn(&deployment, "serviceDeploymentArn");
        lock(&self.deployments).insert(arn, deployment);
    }

    /// The answer to `target` (`AmazonEC2ContainerServiceV20141113.<Operation>`).
    pub fn handle(&self, target: &str, body: &[u8]) -> Response<Body> {
        let Some(kind) = target.strip_prefix(TARGET_PREFIX).and_then(Kind::of) else {
            return json_error(400, "UnknownOperationException", "Unknown operation");
        };
        let Ok(input) = serde_json::from_slice::<Value>(body) else {
            return json_error(400, "SerializationException", "Malformed request body");
        };
        let (member, resource, output, _) = kind.names();
        let arns = match input.get(member) {
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| item.as_str().map(str::to_string))
                .collect::<Option<Vec<String>>>(),
            _ => None,
        };
        let Some(arns) = arns else {
            return json_error(
                400,
                "InvalidParameterException",
                &format!("{member} is required and must be a list of ARNs."),
            );
        };
        if arns.is_empty() || arns.len() > MAX_ARNS {
            return json_error(
                400,
                "InvalidParameterException",
                &format!("{member} must contain between 1 and {MAX_ARNS} ARNs."),
            );
        }
        if let Some(bad) = arns.iter().find(|arn| !well_formed(arn, resource)) {
            return json_error(
                400,
                "InvalidParameterException",
                &format!("Invalid {resource} ARN: {bad}"),
            );
        }
        let store = match kind {
            Kind::Revisions => lock(&self.revisions),
            Kind::Deployments => lock(&self.deployments),
        };
        let mut found = Vec::new();
        let mut failures = Vec::new();
        for arn in &arns {
            match store.get(arn) {
                Some(item) => found.push(item.clone()),
                None => failures.push(json!({ "arn": arn, "reason": "MISSING" })),
            }
        }
        json_reply(200, &json!({ output: found, "failures": failures }))
    }
}

/// `arn:<partition>:ecs:<region>:<12 digits>:<resource>/<cluster>/<service>/<id>`.
fn well_formed(arn: &str, resource: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, region, account, rest] = parts[..] else {
        return false;
    };
    let path: Vec<&str> = rest.split('/').collect();
    prefix == "arn"
        && partition.starts_with("aws")
        && service == "ecs"
        && !region.is_empty()
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && path.len() == 4
        && path[0] == resource
        && path[1..].iter().all(|p| !p.is_empty())
}

fn item_arn(item: &Value, key: &str) -> String {
    item.get(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("a registered item needs {key}: {item}"))
        .to_string()
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// A service revision of an ECS built-in (blue/green, linear or canary) deployment behind an
/// ALB, as ECS describes it: its load balancer names the target group it serves, the other one
/// (`alternateTargetGroupArn`) and the production and test listener rules.
pub struct RevisionSpec<'a> {
    pub arn: &'a str,
    pub service_arn: &'a str,
    pub cluster_arn: &'a str,
    pub task_definition: &'a str,
    pub target_group_arn: &'a str,
    pub alternate_target_group_arn: &'a str,
    pub production_listener_rule: &'a str,
    pub test_listener_rule: Option<&'a str>,
}

impl RevisionSpec<'_> {
    pub fn to_json(&self) -> Value {
        let mut advanced = json!({
            "alternateTargetGroupArn": self.alternate_target_group_arn,
            "productionListenerRule": self.production_listener_rule,
            "roleArn": "arn:aws:iam::123456789012:role/ecsInfrastructureRoleForLoadBalancers",
        });
        if let Some(rule) = self.test_listener_rule {
            advanced["testListenerRule"] = json!(rule);
        }
        json!({
            "serviceRevisionArn": self.arn,
            "serviceArn": self.service_arn,
            "clusterArn": self.cluster_arn,
            "taskDefinition": self.task_definition,
            "launchType": "FARGATE",
            "platformVersion": "1.4.0",
            "platformFamily": "Linux",
            "loadBalancers": [{
                "targetGroupArn": self.target_group_arn,
                "containerName": "web",
                "containerPort": 8000,
                "advancedConfiguration": advanced,
            }],
            "networkConfiguration": {"awsvpcConfiguration": {
                "subnets": ["subnet-0a1b2c3d"], "securityGroups": ["sg-0a1b2c3d"],
                "assignPublicIp": "DISABLED"}},
            "containerImages": [{"containerName": "web", "imageDigest": "sha256:0f1e2d",
                                 "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/shop:v2"}],
            "guardDutyEnabled": false,
            "createdAt": 1_767_225_600.0,
            "resolvedConfiguration": {"loadBalancers": [{
                "targetGroupArn": self.target_group_arn,
                "productionListenerRule": self.production_listener_rule,
            }]},
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_are_checked_as_ecs_checks_them() {
        let good = "arn:aws:ecs:us-east-1:123456789012:service-revision/prod/shop/4467011";
        assert!(well_formed(good, "service-revision"));
        assert!(!well_formed(good, "service-deployment"));
        for bad in [
            "arn:aws:ecs:us-east-1:123456789012:service-revision/prod/shop",
            "arn:aws:ecs:us-east-1:1234:service-revision/prod/shop/1",
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:service-revision/a/b/c",
            "service-revision/prod/shop/1",
            "arn:aws:ecs:us-east-1:123456789012:service-revision/prod//1",
        ] {
            assert!(!well_formed(bad, "service-revision"), "{bad}");
        }
        assert!(EcsFake::answers(
            "AmazonEC2ContainerServiceV20141113.DescribeServiceRevisions"
        ));
        assert!(!EcsFake::answers(
            "AmazonEC2ContainerServiceV20141113.DescribeServices"
        ));
    }
}
