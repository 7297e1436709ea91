//! The README's guide, run where it can be: the webhook-encryption commands are taken from the
//! README itself, run with the AWS CLI against moto, and notify-slack must decrypt and use what
//! they produce.

use rollout_bench::world::ReleaseWorld;
use rollout_bench::{Bench, LambdaFn, event, workspace_root};

/// The shell commands in the first fenced block after `heading`, continuation lines joined.
fn readme_commands(heading: &str) -> Vec<String> {
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).unwrap();
    let section = &readme[readme.find(heading).expect("heading in README")..];
    let block = section
        .split("```sh\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a sh block");
    block
        .replace("\\\n", " ")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect()
}

#[tokio::test]
async fn webhook_encrypted_with_the_readme_commands_is_decrypted_by_notify_slack() {
    let commands = readme_commands("### Encrypt the webhook URL");
    assert_eq!(commands.len(), 2, "{commands:?}");
    let aws = workspace_root().join(".venv/bin");
    for (index, command) in commands.iter().enumerate() {
        let bench = Bench::start().await;
        let config = bench.sdk_config().await;
        let world = ReleaseWorld::create(&config).await;
        // Async: the bench's servers run on this test's runtime.
        let output = tokio::process::Command::new("bash")
            .arg("-c")
            .arg(command)
            .env(
                "PATH",
                format!(
                    "{}:{}",
                    aws.display(),
                    std::env::var("PATH").unwrap_or_default()
                ),
            )
            .env("AWS_ENDPOINT_URL", bench.front.url())
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("KEY_ARN", &world.kms_key_arn)
            .env("WEBHOOK_URL", bench.slack.webhook_url())
            .output()
            .await
            .expect("run bash");
        assert!(
            output.status.success(),
            "command {index} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let ciphertext = String::from_utf8(output.stdout).unwrap().trim().to_string();
        assert!(!ciphertext.is_empty());

        // The README's context names the function as the stack deploys it.
        let notify = LambdaFn::start(
            "notify-slack",
            &bench,
            &[
                ("AWS_LAMBDA_FUNCTION_NAME", "rollout-lambdas-notify-slack"),
                ("SLACK_WEBHOOK_URL_ENCRYPTED", ciphertext.as_str()),
                ("SLACK_WEBHOOK_ALLOWED_HOSTS", "127.0.0.1"),
            ],
        )
        .await;
        let invocation = notify
            .invoke(event("notify-slack/codedeploy-deployment-failed.json"))
            .await;
        assert!(
            invocation.is_ok(),
            "command {index}: {:?}",
            invocation.outcome
        );
        assert_eq!(bench.slack.delivered().len(), 1, "command {index}");
    }
}
