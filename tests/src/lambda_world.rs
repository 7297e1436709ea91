//! A CodeDeploy Lambda deployment on the bench, as SAM's `DeploymentPreference` makes one: a
//! function with versions 1 and 2 and the alias `live` on 1 (in moto), each version running in a
//! local `sample-function` process behind the AWS front's Lambda fake, and a deployment whose
//! AppSpec moves `live` from 1 to 2. The validate-traffic tests and `make invoke` use it.

use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_codedeploy::types::{
    AppSpecContent, ComputePlatform, RevisionLocation, RevisionLocationType,
};
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{FunctionCode, Runtime};
use serde_json::json;

use crate::{Bench, LambdaFn};

pub const ROLE: &str = "arn:aws:iam::123456789012:role/orders-lambda";
/// The smallest zip archive (no entries) with a one-byte comment naming the release, so each
/// release's code differs (Lambda publishes no new version for unchanged code). moto stores the
/// code; the bench runs the process.
fn code(release: u8) -> Blob {
    Blob::new(vec![
        0x50, 0x4b, 0x05, 0x06, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, release,
    ])
}
pub const FUNCTION_TIMEOUT: Duration = Duration::from_secs(3);

/// The role Lambda requires at CreateFunction, made in moto's IAM (no IAM SDK in the bench).
pub async fn create_role(bench: &Bench) {
    let form = [
        ("Action", "CreateRole"),
        ("Version", "2010-05-08"),
        ("RoleName", "orders-lambda"),
        (
            "AssumeRolePolicyDocument",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
        ),
    ];
    let body: String = form
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let reply = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
        .post(bench.front.url())
        .header("content-type", "application/x-www-form-urlencoded")
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0",
        )
        .body(body)
        .send()
        .await
        .expect("create role");
    assert!(reply.status().is_success(), "{}", reply.status());
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A function with versions 1 and 2 and alias `live` on 1, in moto; a CodeDeploy Lambda
/// deployment moving `live` from 1 to 2 with the AppSpec SAM writes; version 1 healthy and
/// version 2 doing `behaviour`, each in its own process. Returns the deployment id.
pub async fn release(bench: &Bench, config: &SdkConfig, name: &str, behaviour: &str) -> String {
    let lambda = aws_sdk_lambda::Client::new(config);
    lambda
        .create_function()
        .function_name(name)
        .runtime(Runtime::Providedal2023)
        .handler("bootstrap")
        .role(ROLE)
        .code(FunctionCode::builder().zip_file(code(b'1')).build())
        .send()
        .await
        .expect("create function");
    for version in ["1", "2"] {
        if version == "2" {
            lambda
                .update_function_code()
                .function_name(name)
                .zip_file(code(b'2'))
                .send()
                .await
                .expect("update function code");
        }
        let published = lambda
            .publish_version()
            .function_name(name)
            .description(format!("release {version}"))
            .send()
            .await
            .expect("publish version");
        assert_eq!(published.version(), Some(version));
    }
    lambda
        .create_alias()
        .function_name(name)
        .name("live")
        .function_version("1")
        .send()
        .await
        .expect("create alias");
    for (version, behaviour) in [("1", "healthy"), ("2", behaviour)] {
        let process = LambdaFn::start(
            "sample-function",
            bench,
            &[
                ("SAMPLE_VERSION", version),
                ("SAMPLE_BEHAVIOUR", behaviour),
                ("SAMPLE_DELAY_MS", "1500"),
            ],
        )
        .await;
        bench
            .front
            .lambda()
            .register(name, version, process, FUNCTION_TIMEOUT);
    }

    let codedeploy = aws_sdk_codedeploy::Client::new(config);
    codedeploy
        .create_application()
        .application_name(name)
        .compute_platform(ComputePlatform::Lambda)
        .send()
        .await
        .expect("create application");
    let group = format!("{name}-DeploymentGroup");
    codedeploy
        .create_deployment_group()
        .application_name(name)
        .deployment_group_name(&group)
        .service_role_arn("arn:aws:iam::123456789012:role/codedeploy")
        .send()
        .await
        .expect("create deployment group");
    let app_spec = json!({
        "version": 0.0,
        "Resources": [{"OrdersFunction": {"Type": "AWS::Lambda::Function", "Properties": {
            "Name": name, "Alias": "live", "CurrentVersion": "1", "TargetVersion": "2"}}}],
        "Hooks": [{"BeforeAllowTraffic": "CodeDeployHook_rollout-validate-traffic"},
                  {"AfterAllowTraffic": "CodeDeployHook_rollout-validate-traffic"}],
    });
    codedeploy
        .create_deployment()
        .application_name(name)
        .deployment_group_name(&group)
        .revision(
            RevisionLocation::builder()
                .revision_type(RevisionLocationType::AppSpecContent)
                .app_spec_content(
                    AppSpecContent::builder()
                        .content(app_spec.to_string())
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .expect("create deployment")
        .deployment_id
        .expect("deployment id")
}
