//! One bench per test: moto, the AWS front and the Slack fake, stopped when dropped.

use std::path::{Path, PathBuf};

use aws_config::{BehaviorVersion, Region, SdkConfig};
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
        .load()
        .await
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
