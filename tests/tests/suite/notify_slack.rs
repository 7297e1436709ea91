//! notify-slack on the bench: the real binary, moto KMS with real ciphertexts, the Slack fake.
//! Build first: `cargo build -p notify-slack`.
//! Snapshots: `UPDATE_SNAPSHOTS=1 cargo test -p rollout-bench --test suite notify_slack::` rewrites
//! `tests/snapshots/notify-slack/*.json`.

use std::path::PathBuf;
use std::time::Duration;

use rollout_bench::fixtures;
use rollout_bench::{Bench, Fault, InvokeOutcome, LambdaFn, SlackReply, event, events_in};
use serde_json::{Value, json};

const FUNCTION: &str = "notify-slack";
const FAILED_SAMPLE: &str = "notify-slack/codedeploy-deployment-failed.json";

struct Kms {
    client: aws_sdk_kms::Client,
    key_id: String,
}

impl Kms {
    async fn new(bench: &Bench) -> Kms {
        let client = aws_sdk_kms::Client::new(&bench.sdk_config().await);
        let key_id = fixtures::new_key(&client, "notify-slack webhook")
            .await
            .key_id;
        Kms { client, key_id }
    }

    /// Base64 ciphertext, as `aws kms encrypt` prints it.
    async fn encrypt(&self, plaintext: &str, function_name: Option<&str>) -> String {
        fixtures::encrypt(&self.client, &self.key_id, plaintext, function_name).await
    }
}

/// A bench, a KMS key, and the fake's webhook URL encrypted the way the Lambda console does.
async fn setup() -> (Bench, Kms, String) {
    let bench = Bench::start().await;
    let kms = Kms::new(&bench).await;
    let ciphertext = kms
        .encrypt(&bench.slack.webhook_url(), Some(FUNCTION))
        .await;
    (bench, kms, ciphertext)
}

async fn start(bench: &Bench, ciphertext: &str, extra: &[(&str, &str)]) -> LambdaFn {
    let mut env = vec![
        ("SLACK_WEBHOOK_URL_ENCRYPTED", ciphertext),
        // The fake listens on loopback over plain http.
        ("SLACK_WEBHOOK_ALLOWED_HOSTS", "127.0.0.1"),
        ("SLACK_MENTION", "<!here>"),
    ];
    for (key, value) in extra {
        env.retain(|(k, _)| k != key);
        env.push((key, value));
    }
    LambdaFn::start(FUNCTION, bench, &env).await
}

fn snapshot_path(sample: &str) -> PathBuf {
    rollout_bench::workspace_root()
        .join("tests/snapshots/notify-slack")
        .join(sample)
}

fn records_in(event: &Value) -> usize {
    event["Records"].as_array().map_or(0, Vec::len)
}

fn is_sqs_batch(event: &Value) -> bool {
    event["Records"][0]["eventSource"] == "aws:sqs"
}

#[tokio::test]
async fn every_sample_renders_as_pinned() {
    let (bench, _kms, ciphertext) = setup().await;
    // Every sample posts, the ones quiet by default too, so each rendering is pinned.
    let function = start(&bench, &ciphertext, &[("NOTIFY_QUIET", "none")]).await;
    let update = std::env::var_os("UPDATE_SNAPSHOTS").is_some();
    let samples = events_in(FUNCTION);
    assert!(samples.len() >= 15, "samples missing: {}", samples.len());
    let mut mismatched = Vec::new();
    for (name, sample) in &samples {
        let before = bench.slack.posts().len();
        let invocation = function.invoke(sample.clone()).await;
        assert!(invocation.is_ok(), "{name}: {:?}", invocation.outcome);
        let posts: Vec<_> = bench.slack.posts().into_iter().skip(before).collect();
        if is_sqs_batch(sample) {
            // A batch from the queue: instance events of one deployment fold into a digest.
            assert_eq!(
                invocation.response()["batchItemFailures"],
                json!([]),
                "{name}"
            );
            assert!(
                !posts.is_empty() && posts.len() < records_in(sample),
                "{name}: {} posts for {} records",
                posts.len(),
                records_in(sample)
            );
        } else {
            assert_eq!(
                posts.len(),
                records_in(sample),
                "{name}: one post per record"
            );
        }
        // The fake checks payloads as Slack does: a 400 here is a rendering bug.
        for post in &posts {
            assert_eq!(post.status, 200, "{name}: Slack answered {}", post.body);
        }
        let rendered: Vec<Value> = posts.iter().map(|p| p.json()).collect();
        let text = format!(
            "{}\n",
            serde_json::to_string_pretty(&rendered).expect("json")
        );
        let path = snapshot_path(name);
        if update {
            std::fs::create_dir_all(path.parent().expect("dir")).expect("mkdir");
            std::fs::write(&path, &text).expect("write snapshot");
            continue;
        }
        match std::fs::read_to_string(&path) {
            Ok(pinned) if pinned == text => {}
            Ok(_) => mismatched.push(format!("{name} differs")),
            Err(_) => mismatched.push(format!("{name} has no snapshot")),
        }
    }
    // A snapshot without its sample is stale.
    let dir = snapshot_path("");
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for entry in entries.flatten() {
            let file = entry.file_name().to_string_lossy().into_owned();
            if !samples.iter().any(|(name, _)| *name == file) {
                mismatched.push(format!("{file} has no sample"));
            }
        }
    }
    assert!(
        mismatched.is_empty(),
        "snapshots out of date (rerun with UPDATE_SNAPSHOTS=1 and review the diff): {mismatched:?}"
    );
}

#[tokio::test]
async fn decrypts_ciphertexts_made_with_and_without_the_context_once_per_container() {
    let (bench, kms, with_context) = setup().await;
    let without_context = kms.encrypt(&bench.slack.webhook_url(), None).await;

    let console_style = start(&bench, &with_context, &[]).await;
    assert!(console_style.invoke(event(FAILED_SAMPLE)).await.is_ok());
    let after_first = bench.front.count("Decrypt");
    assert_eq!(
        after_first, 1,
        "the console's context works on the first try"
    );
    assert!(
        console_style
            .invoke(event("notify-slack/codedeploy-deployment-succeeded.json"))
            .await
            .is_ok()
    );
    assert_eq!(
        bench.front.count("Decrypt"),
        1,
        "decrypted once per container"
    );

    let cli_style = start(&bench, &without_context, &[]).await;
    let invocation = cli_style.invoke(event(FAILED_SAMPLE)).await;
    assert!(invocation.is_ok(), "{:?}", invocation.outcome);
    assert_eq!(
        bench.front.count("Decrypt"),
        3,
        "with the context (refused), then without"
    );
    assert_eq!(bench.slack.delivered().len(), 3);
}

#[tokio::test]
async fn a_kms_throttle_is_retried_on_the_next_invocation_not_cached() {
    let (bench, _kms, ciphertext) = setup().await;
    let function = start(&bench, &ciphertext, &[]).await;
    // Throttled for as long as the invocation's time for KMS lasts.
    bench.front.inject(Fault::throttle("kms", "Decrypt"));
    let timeout = Duration::from_secs(4);
    let throttled = function
        .invoke_with_timeout(event(FAILED_SAMPLE), timeout)
        .await;
    let (error_type, message) = throttled.error();
    assert_eq!(error_type, "WebhookDecryptFailed");
    assert!(message.contains("ThrottlingException"), "{message}");
    assert!(throttled.elapsed < timeout, "{:?}", throttled.elapsed);
    assert!(
        bench.front.count("Decrypt") > 1,
        "retried within the invocation"
    );
    assert!(bench.slack.posts().is_empty());

    bench.front.clear_faults();
    let retried = function.invoke(event(FAILED_SAMPLE)).await;
    assert!(retried.is_ok(), "{:?}", retried.outcome);
    assert_eq!(bench.slack.delivered().len(), 1);
}

#[tokio::test]
async fn a_hung_kms_fails_well_before_the_deadline_and_the_retry_delivers() {
    let (bench, _kms, ciphertext) = setup().await;
    let function = start(&bench, &ciphertext, &[]).await;
    bench.front.inject(Fault::hang("kms", "Decrypt"));
    let timeout = Duration::from_secs(4);
    let hung = function
        .invoke_with_timeout(event(FAILED_SAMPLE), timeout)
        .await;
    assert!(
        matches!(hung.outcome, InvokeOutcome::Error { .. }),
        "must fail with an error Lambda retries, not time out: {:?}",
        hung.outcome
    );
    let (error_type, message) = hung.error();
    assert_eq!(error_type, "WebhookDecryptFailed");
    assert!(message.contains("did not answer in time"), "{message}");
    assert!(!message.contains(&ciphertext), "ciphertext in the error");
    // KMS gets at most half of the time left; Slack keeps the rest.
    assert!(
        hung.elapsed < timeout / 2 + Duration::from_millis(500),
        "{:?}",
        hung.elapsed
    );
    assert!(bench.slack.posts().is_empty());

    // Lambda's retry, once KMS answers again.
    bench.front.clear_faults();
    let retried = function
        .invoke_with_timeout(event(FAILED_SAMPLE), timeout)
        .await;
    assert!(retried.is_ok(), "{:?}", retried.outcome);
    assert_eq!(bench.slack.delivered().len(), 1);
}

#[tokio::test]
async fn a_ciphertext_for_another_function_is_a_clear_error() {
    let (bench, kms, _) = setup().await;
    let wrong = kms
        .encrypt(&bench.slack.webhook_url(), Some("someone-elses-function"))
        .await;
    let function = start(&bench, &wrong, &[]).await;
    let invocation = function.invoke(event(FAILED_SAMPLE)).await;
    let (error_type, message) = invocation.error();
    assert_eq!(error_type, "WebhookDecryptFailed");
    assert!(message.contains("InvalidCiphertextException"), "{message}");
    assert!(message.contains("without a context"), "{message}");
    assert!(!message.contains(&wrong), "ciphertext in the error");
    assert!(bench.slack.posts().is_empty());
}

#[tokio::test]
async fn a_host_outside_the_allow_list_is_refused_before_any_post() {
    let (bench, _kms, ciphertext) = setup().await;
    // Default allow-list: hooks.slack.com only.
    let function = start(&bench, &ciphertext, &[("SLACK_WEBHOOK_ALLOWED_HOSTS", "")]).await;
    let invocation = function.invoke(event(FAILED_SAMPLE)).await;
    let (error_type, message) = invocation.error();
    assert_eq!(error_type, "WebhookUrlRejected");
    assert!(message.contains("hooks.slack.com"), "{message}");
    assert!(!message.contains("127.0.0.1"), "{message}");
    assert!(bench.slack.posts().is_empty());
}

#[tokio::test]
async fn each_slack_error_code_is_permanent_and_reported() {
    let (bench, _kms, ciphertext) = setup().await;
    let function = start(&bench, &ciphertext, &[]).await;
    for (reply, code) in [
        (SlackReply::InvalidPayload, "400 invalid_payload"),
        (SlackReply::NoText, "400 no_text"),
        (SlackReply::InvalidBlocks, "400 invalid_blocks"),
        (SlackReply::ActionProhibited, "403 action_prohibited"),
        (SlackReply::ChannelNotFound, "404 channel_not_found"),
        (SlackReply::NoService, "404 no_service"),
        (SlackReply::ChannelIsArchived, "410 channel_is_archived"),
    ] {
        let before = bench.slack.posts().len();
        bench.slack.script([reply]);
        let invocation = function.invoke(event(FAILED_SAMPLE)).await;
        let (error_type, message) = invocation.error();
        assert_eq!(error_type, "SlackDeliveryFailed");
        assert!(message.contains(code), "{message}");
        assert!(message.contains("(permanent)"), "{message}");
        assert_eq!(
            bench.slack.posts().len() - before,
            1,
            "{code}: not retried within the invocation"
        );
        assert!(function.logs().contains(code), "{code} not logged");
    }
    assert!(bench.slack.delivered().is_empty());
}

#[tokio::test]
async fn rate_limits_wait_for_retry_after() {
    let (bench, _kms, ciphertext) = setup().await;
    let function = start(&bench, &ciphertext, &[]).await;
    bench.slack.script([SlackReply::RateLimited {
        retry_after: Some(1),
    }]);
    let invocation = function.invoke(event(FAILED_SAMPLE)).await;
    assert!(invocation.is_ok(), "{:?}", invocation.outcome);
    let posts = bench.slack.posts();
    assert_eq!(posts.len(), 2);
    assert!(
        posts[1].at.duration_since(posts[0].at) >= Duration::from_millis(950),
        "retried before Retry-After"
    );
    assert_eq!(bench.slack.delivered().len(), 1);
}

#[tokio::test]
async fn a_retry_after_past_the_deadline_fails_in_time() {
    let (bench, _kms, ciphertext) = setup().await;
    let function = start(&bench, &ciphertext, &[]).await;
    bench.slack.script([SlackReply::RateLimited {
        retry_after: Some(30),
    }]);
    let timeout = Duration::from_secs(5);
    let invocation = function
        .invoke_with_timeout(event(FAILED_SAMPLE), timeout)
        .await;
    let (error_type, message) = invocation.error();
    assert_eq!(error_type, "SlackDeliveryFailed");
    assert!(message.contains("429"), "{message}");
    assert!(invocation.elapsed < timeout);
    assert_eq!(bench.slack.posts().len(), 1);
}

#[tokio::test]
async fn server_errors_and_dropped_connections_are_retried() {
    let (bench, _kms, ciphertext) = setup().await;
    let function = start(&bench, &ciphertext, &[]).await;
    bench
        .slack
        .script([SlackReply::RollupError, SlackReply::Reset]);
    let invocation = function.invoke(event(FAILED_SAMPLE)).await;
    assert!(invocation.is_ok(), "{:?}", invocation.outcome);
    assert_eq!(bench.slack.posts().len(), 3);
    assert_eq!(bench.slack.delivered().len(), 1);
}

#[tokio::test]
async fn a_slack_that_never_answers_fails_before_the_deadline() {
    let (bench, _kms, ciphertext) = setup().await;
    let function = start(&bench, &ciphertext, &[("SLACK_TIMEOUT_MS", "1000")]).await;
    bench.slack.set_default(SlackReply::Hang);
    let timeout = Duration::from_secs(6);
    let invocation = function
        .invoke_with_timeout(event(FAILED_SAMPLE), timeout)
        .await;
    assert!(
        matches!(invocation.outcome, InvokeOutcome::Error { .. }),
        "must report, not time out: {:?}",
        invocation.outcome
    );
    let (error_type, message) = invocation.error();
    assert_eq!(error_type, "SlackDeliveryFailed");
    assert!(message.contains("timed out"), "{message}");
    assert!(invocation.elapsed < timeout);
    assert!(bench.slack.posts().len() >= 2, "timeouts are retried");
}

#[tokio::test]
async fn one_failing_record_does_not_stop_the_others_and_a_retry_posts_only_it() {
    let (bench, _kms, ciphertext) = setup().await;
    let function = start(&bench, &ciphertext, &[]).await;
    let sample = event("notify-slack/multiple-records.json");
    bench.slack.script([
        SlackReply::Ok,
        SlackReply::ChannelIsArchived,
        SlackReply::Ok,
    ]);
    let first = function.invoke(sample.clone()).await;
    let (error_type, message) = first.error();
    assert_eq!(error_type, "SlackDeliveryFailed");
    assert!(message.starts_with("1 of 3"), "{message}");
    assert!(message.contains("record 2"), "{message}");
    assert_eq!(bench.slack.posts().len(), 3, "record 3 still posted");
    assert_eq!(bench.slack.delivered().len(), 2);

    // Lambda's retry of the same event: only the undelivered record is posted again.
    let retry = function.invoke(sample).await;
    assert!(retry.is_ok(), "{:?}", retry.outcome);
    let posts = bench.slack.posts();
    assert_eq!(posts.len(), 4);
    assert_eq!(posts[3].body, posts[1].body, "the failed record, again");
    assert_eq!(bench.slack.delivered().len(), 3);
}

/// The peak resident memory of the function's process so far, in KiB.
fn peak_rss_kib(function: &LambdaFn) -> u64 {
    let pid = function.pid().expect("function running");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

#[tokio::test]
async fn a_huge_or_endless_ok_answer_is_not_read_whole() {
    let (bench, _kms, ciphertext) = setup().await;
    let function = start(&bench, &ciphertext, &[("SLACK_TIMEOUT_MS", "3000")]).await;
    // Decrypted and one post made first, so the peak below is the answer's alone.
    assert!(
        function
            .invoke(event("notify-slack/codedeploy-deployment-succeeded.json"))
            .await
            .is_ok()
    );
    let before = peak_rss_kib(&function);

    bench.slack.script([SlackReply::Huge {
        status: 200,
        bytes: 64 << 20,
    }]);
    let huge = function.invoke(event(FAILED_SAMPLE)).await;
    assert!(huge.is_ok(), "{:?}", huge.outcome);
    let grown = peak_rss_kib(&function).saturating_sub(before);
    assert!(
        grown < 16 * 1024,
        "a 64 MiB answer grew memory by {grown} KiB"
    );

    // 200 is Slack's acceptance (facts: success is 200 `ok`; any non-200 fails), so a 200 with
    // another body is delivered, not posted again, and logged.
    bench.slack.script([SlackReply::Endless { status: 200 }]);
    let endless = function
        .invoke(event("notify-slack/codedeploy-deployment-stopped.json"))
        .await;
    assert!(endless.is_ok(), "{:?}", endless.outcome);
    assert!(
        endless.elapsed < Duration::from_millis(1500),
        "waited for the endless body: {:?}",
        endless.elapsed
    );
    assert_eq!(bench.slack.posts().len(), 3, "nothing posted twice");
    assert_eq!(bench.slack.delivered().len(), 3);
    assert!(
        function.logs().contains("Slack answered 200 without `ok`"),
        "{}",
        function.logs()
    );
}

#[tokio::test]
async fn an_endless_error_answer_is_cut_short_and_still_classified() {
    let (bench, _kms, ciphertext) = setup().await;
    let function = start(&bench, &ciphertext, &[("SLACK_TIMEOUT_MS", "3000")]).await;
    bench.slack.script([SlackReply::Endless { status: 400 }]);
    let invocation = function
        .invoke_with_timeout(event(FAILED_SAMPLE), Duration::from_secs(20))
        .await;
    let (error_type, message) = invocation.error();
    assert_eq!(error_type, "SlackDeliveryFailed");
    assert!(message.contains("400 invalid_payload"), "{message}");
    assert!(message.contains("(permanent)"), "{message}");
    assert!(
        !message.contains("xxxx"),
        "the filler is not quoted: {message}"
    );
    assert_eq!(bench.slack.posts().len(), 1, "permanent: not retried");
    assert!(
        invocation.elapsed < Duration::from_millis(1500),
        "waited for the endless body: {:?}",
        invocation.elapsed
    );
}

#[tokio::test]
async fn a_record_without_a_message_fails_alone_and_the_others_are_posted() {
    let (bench, _kms, ciphertext) = setup().await;
    let function = start(&bench, &ciphertext, &[]).await;
    let mut sample = event("notify-slack/multiple-records.json");
    let sns = &mut sample["Records"][1]["Sns"];
    let bad_id = sns["MessageId"].as_str().expect("message id").to_string();
    sns.as_object_mut()
        .expect("Sns object")
        .remove("Message")
        .expect("a message to remove");

    let first = function.invoke(sample.clone()).await;
    let (error_type, message) = first.error();
    assert_eq!(error_type, "SlackDeliveryFailed");
    assert!(message.starts_with("1 of 3"), "{message}");
    assert!(message.contains("record 2"), "{message}");
    assert!(message.contains(&bad_id), "{message}");
    assert!(message.contains("no Sns.Message"), "{message}");
    assert_eq!(bench.slack.posts().len(), 2, "records 1 and 3 posted");
    assert_eq!(bench.slack.delivered().len(), 2);
    let why = rollout_bench::hooks::log_fields(&function, "record not posted: it cannot be read");
    assert_eq!(why["record"], 2, "{why}");
    assert!(
        why["error"].as_str().unwrap_or("").contains("Sns.Message"),
        "{why}"
    );

    // Lambda's retry: the delivered records are not posted again; the broken one fails again
    // (and after the retries the event goes to the dead-letter queue).
    let retry = function.invoke(sample).await;
    assert_eq!(retry.error().0, "SlackDeliveryFailed");
    assert_eq!(bench.slack.posts().len(), 2);
}

#[tokio::test]
async fn the_status_filter_skips_without_decrypting() {
    let (bench, _kms, ciphertext) = setup().await;
    let function = start(
        &bench,
        &ciphertext,
        &[("NOTIFY_STATUSES", "FAILED,STOPPED")],
    )
    .await;
    let skipped = function
        .invoke(event("notify-slack/codedeploy-deployment-succeeded.json"))
        .await;
    assert_eq!(skipped.response()["filtered"], 1);
    assert!(bench.slack.posts().is_empty());
    assert_eq!(bench.front.count("Decrypt"), 0, "no secret needed");
    assert!(function.invoke(event(FAILED_SAMPLE)).await.is_ok());
    assert_eq!(bench.slack.delivered().len(), 1);
}

#[tokio::test]
async fn noisy_pipeline_events_are_quiet_by_default_and_failures_are_not() {
    let (bench, _kms, ciphertext) = setup().await;
    let function = start(&bench, &ciphertext, &[]).await;
    let quiet = function
        .invoke(event("notify-slack/codepipeline-action-started.json"))
        .await;
    assert_eq!(quiet.response()["filtered"], 1, "{:?}", quiet.outcome);
    assert!(bench.slack.posts().is_empty());
    let failed = function
        .invoke(event("notify-slack/codepipeline-execution-failed.json"))
        .await;
    assert!(failed.is_ok(), "{:?}", failed.outcome);
    assert_eq!(bench.slack.delivered().len(), 1);
}

#[tokio::test]
async fn a_payload_that_is_not_sns_is_a_clear_error() {
    let (bench, _kms, ciphertext) = setup().await;
    let function = start(&bench, &ciphertext, &[]).await;
    let invocation = function.invoke(json!({"detail-type": "not sns"})).await;
    let (error_type, message) = invocation.error();
    assert_eq!(error_type, "InvalidEvent");
    assert!(message.contains("Records"), "{message}");
    assert!(bench.slack.posts().is_empty());
}

#[tokio::test]
async fn bad_configuration_stops_the_cold_start_naming_the_variable() {
    let bench = Bench::start().await;
    let function = LambdaFn::start(
        FUNCTION,
        &bench,
        &[("SLACK_WEBHOOK_URL_ENCRYPTED", "this is not base64!")],
    )
    .await;
    let invocation = function.invoke(event(FAILED_SAMPLE)).await;
    assert!(
        matches!(invocation.outcome, InvokeOutcome::Crashed(_)),
        "{:?}",
        invocation.outcome
    );
    let logs = function.logs();
    assert!(logs.contains("SLACK_WEBHOOK_URL_ENCRYPTED"), "{logs}");
    assert!(!logs.contains("this is not base64!"), "{logs}");
}

#[tokio::test]
async fn logs_and_errors_never_show_the_webhook_or_its_ciphertext() {
    let (bench, kms, ciphertext) = setup().await;
    let function = start(&bench, &ciphertext, &[("SLACK_TIMEOUT_MS", "500")]).await;
    let mut errors = Vec::new();
    bench.slack.script([
        SlackReply::Reset,
        SlackReply::RollupError,
        SlackReply::ChannelNotFound,
    ]);
    let outcome = function.invoke(event(FAILED_SAMPLE)).await.outcome;
    errors.push(format!("{outcome:?}"));
    bench.slack.set_default(SlackReply::Hang);
    let outcome = function
        .invoke_with_timeout(event(FAILED_SAMPLE), Duration::from_secs(3))
        .await
        .outcome;
    errors.push(format!("{outcome:?}"));

    // Nothing listens on this port: connection errors must not quote the URL either.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let unreachable_url = format!(
        "http://127.0.0.1:{closed}{}",
        rollout_bench::slack::WEBHOOK_PATH
    );
    let unreachable_cipher = kms.encrypt(&unreachable_url, Some(FUNCTION)).await;
    let unreachable = start(&bench, &unreachable_cipher, &[]).await;
    let outcome = unreachable
        .invoke_with_timeout(event(FAILED_SAMPLE), Duration::from_secs(4))
        .await
        .outcome;
    assert!(
        matches!(&outcome, InvokeOutcome::Error { error_message, .. } if error_message.contains("connection failed")),
        "{outcome:?}"
    );
    errors.push(format!("{outcome:?}"));

    let logs = format!("{}\n{}", function.logs(), unreachable.logs());
    assert!(
        logs.contains("not delivered to Slack"),
        "the test saw the failures"
    );
    let path = rollout_bench::slack::WEBHOOK_PATH;
    let secret_token = path.rsplit('/').next().expect("token");
    for text in errors.iter().chain([&logs]) {
        for secret in [
            bench.slack.webhook_url().as_str(),
            unreachable_url.as_str(),
            path,
            secret_token,
            ciphertext.as_str(),
            unreachable_cipher.as_str(),
        ] {
            assert!(!text.contains(secret), "leaked {secret:?} in: {text}");
        }
    }
}
