//! One bench per test: moto, the AWS front and the Slack fake, stopped when dropped.

use std::path::{Path, PathBuf};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use rollout_kit::Tls;
use rollout_kit::sdk_http::ReqwestHttpClient;
use serde_json::Value;

use crate::front::AwsFront;
use crate::moto::Moto;
use crate::slack::SlackFake;

pub const REGION: &str = "us-east-1";
pub const ACCOUNT_ID: &str = "123456789012";

pub struct Bench {
    pub front: AwsFront,
    pub slack: SlackFake,
    moto: Moto,
}

impl Bench {
    pub async fn start() -> Bench {
        let moto = Moto::start().await;
        let front = AwsFront::start(moto.url()).await;
        let slack = SlackFake::start().await;
        Bench { front, slack, moto }
    }

    /// moto itself, bypassing the front (for seeding without counting calls).
    pub fn moto_url(&self) -> String {
        self.moto.url()
    }

    /// What a function needs to reach the bench through the standard `aws-config` chain.
    pub fn aws_env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", self.front.url()),
            ("AWS_REGION", REGION.to_string()),
            ("AWS_DEFAULT_REGION", REGION.to_string()),
            ("AWS_ACCESS_KEY_ID", "testing".to_string()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_string()),
            ("AWS_SESSION_TOKEN", "testing".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// An SDK config for the test itself, pointed at moto through the front.
    pub async fn sdk_config(&self) -> SdkConfig {
        sdk_config_for(&self.front.url()).await
    }
}

pub async fn sdk_config_for(endpoint: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_kms::config::Credentials::new(
            "testing", "testing", None, None, "bench",
        ))
        // The functions' own HTTP client: the SDK crates are built without one of their own.
        .http_client(ReqwestHttpClient::new(Tls::public_roots()))
        .load()
        .await
}

/// The default VPC and two of its subnets, which moto creates in every region; an ALB needs
/// subnets in two zones. A plain EC2 Query call keeps the EC2 SDK (the largest crate there is)
/// out of the bench's build.
pub async fn default_subnets(config: &SdkConfig) -> DefaultVpc {
    let endpoint = config
        .endpoint_url()
        .expect("bench SDK config has an endpoint");
    let region = config.region().map_or(REGION, |r| r.as_ref());
    // moto reads the region from the credential scope; it does not check the signature.
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential=testing/20260101/{region}/ec2/aws4_request, \
         SignedHeaders=host, Signature=0"
    );
    // moto builds the default VPC on the first EC2 call of a region; under load that first
    // call has failed, so it is asked again before the bench gives up.
    let mut attempt = 0;
    let body = loop {
        attempt += 1;
        let reply = reqwest::Client::new()
            .post(endpoint)
            .header("Authorization", &authorization)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(
                "Action=DescribeSubnets&Version=2016-11-15\
                 &Filter.1.Name=default-for-az&Filter.1.Value.1=true",
            )
            .send()
            .await
            .and_then(reqwest::Response::error_for_status);
        match reply {
            Ok(reply) => break reply.text().await.expect("DescribeSubnets body"),
            Err(err) if attempt < 3 => {
                eprintln!("bench: DescribeSubnets failed ({err}); asking again");
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            }
            Err(err) => panic!("DescribeSubnets: {err}"),
        }
    };
    let first = |pattern: &str| -> Vec<String> {
        regex::Regex::new(pattern)
            .expect("pattern")
            .captures_iter(&body)
            .map(|c| c[1].to_string())
            .collect()
    };
    let subnet_ids: Vec<String> = first(r"<subnetId>(subnet-[0-9a-f]+)</subnetId>")
        .into_iter()
        .take(2)
        .collect();
    let vpc_id = first(r"<vpcId>(vpc-[0-9a-f]+)</vpcId>")
        .into_iter()
        .next()
        .expect("default VPC");
    assert_eq!(subnet_ids.len(), 2, "default subnets in two zones: {body}");
    DefaultVpc { vpc_id, subnet_ids }
}

#[derive(Debug, Clone)]
pub struct DefaultVpc {
    pub vpc_id: String,
    pub subnet_ids: Vec<String>,
}

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// A sample event from `events/`, e.g. `event("notify-slack/codedeploy-failed.json")`.
pub fn event(relative: &str) -> Value {
    let path = workspace_root().join("events").join(relative);
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

/// Every sample in `events/<function>/`, sorted by name: `(file name, event)`.
pub fn events_in(function: &str) -> Vec<(String, Value)> {
    let dir = workspace_root().join("events").join(function);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|n| {
            let value = event(&format!("{function}/{n}"));
            (n, value)
        })
        .collect()
}
