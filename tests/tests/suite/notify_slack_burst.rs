//! A burst of notifications against a webhook that limits its rate as Slack does, delivered
//! the way the template wires notify-slack (topic → queue → event source mapping: batches,
//! digests, partial batch responses, redrive) and the way a direct SNS subscription does
//! (Lambda's asynchronous invoker: queue, reserved concurrency, two retries, on-failure
//! destination).

use std::collections::HashSet;
use std::time::Duration;

use rollout_bench::async_invoke::{AsyncPolicy, deliver};
use rollout_bench::fixtures;
use rollout_bench::sqs_source::{SqsPolicy, SqsSource};
use rollout_bench::{Bench, LambdaFn, SlackReply, event};

const FUNCTION: &str = "notify-slack";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_is_delivered_whole_at_slacks_pace_with_nothing_dead_lettered() {
    const EVENTS: usize = 40;
    const RESERVED: usize = 2;
    let bench = Bench::start().await;
    let config = bench.sdk_config().await;
    let kms = aws_sdk_kms::Client::new(&config);
    let key = fixtures::new_key(&kms, "burst").await;
    let ciphertext = fixtures::encrypt(
        &kms,
        &key.key_id,
        &bench.slack.webhook_url(),
        Some(FUNCTION),
    )
    .await;
    // Slack's pace scaled up five times (one message a second, short bursts) to keep the test
    // short; Retry-After stays in whole seconds, as Slack sends it.
    bench.slack.rate_limit(5.0, 5);

    let mut environments = Vec::new();
    for _ in 0..RESERVED {
        environments.push(
            LambdaFn::start(
                FUNCTION,
                &bench,
                &[
                    ("SLACK_WEBHOOK_URL_ENCRYPTED", &ciphertext),
                    ("SLACK_WEBHOOK_ALLOWED_HOSTS", "127.0.0.1"),
                ],
            )
            .await,
        );
    }
    // Forty instance triggers of one deployment within two seconds.
    let events = (0..EVENTS)
        .map(|n| {
            (
                Duration::from_millis(50 * n as u64),
                fixtures::instance_trigger(n),
            )
        })
        .collect();
    let run = deliver(
        environments,
        events,
        AsyncPolicy {
            concurrency: RESERVED,
            max_retries: 2,
            max_event_age: Duration::from_secs(6 * 3600),
            time_scale: 60.0,
            timeout: Duration::from_secs(60),
        },
    )
    .await;

    let dead: Vec<_> = run
        .fates
        .iter()
        .filter(|f| f.dead_letter.is_some())
        .collect();
    assert!(dead.is_empty(), "dead-lettered: {dead:?}");
    assert_eq!(run.delivered(), EVENTS);
    assert!(run.peak_concurrency <= RESERVED, "{}", run.peak_concurrency);
    // Every message reached the channel exactly once.
    let accepted: Vec<String> = bench
        .slack
        .posts()
        .iter()
        .filter(|p| p.delivered())
        .map(|p| p.body.clone())
        .collect();
    assert_eq!(accepted.len(), EVENTS);
    let distinct: HashSet<&String> = accepted.iter().collect();
    assert_eq!(distinct.len(), EVENTS, "a message was posted twice");
    // Not flooded: a rate-limited post waits for Retry-After instead of trying again at once.
    let refused = bench.slack.posts().len() - EVENTS;
    assert!(
        refused <= EVENTS,
        "{refused} posts refused for {EVENTS} messages"
    );
    eprintln!(
        "burst: {EVENTS} events, delivered {}, retried invocations {}, dead-lettered {}, \
         refused posts {refused}, largest delay {:?}",
        run.delivered(),
        run.retries(),
        run.dead_lettered(),
        run.largest_latency()
    );
}

/// Starts `n` execution environments of notify-slack with the bench's webhook.
async fn environments(bench: &Bench, n: usize, name: &str) -> Vec<LambdaFn> {
    let config = bench.sdk_config().await;
    let kms = aws_sdk_kms::Client::new(&config);
    let key = fixtures::new_key(&kms, name).await;
    let ciphertext = fixtures::encrypt(
        &kms,
        &key.key_id,
        &bench.slack.webhook_url(),
        Some(FUNCTION),
    )
    .await;
    let mut environments = Vec::new();
    for _ in 0..n {
        environments.push(
            LambdaFn::start(
                FUNCTION,
                bench,
                &[
                    ("SLACK_WEBHOOK_URL_ENCRYPTED", &ciphertext),
                    ("SLACK_WEBHOOK_ALLOWED_HOSTS", "127.0.0.1"),
                ],
            )
            .await,
        );
    }
    environments
}

/// The template's mapping, with seconds where it has minutes. As there, the visibility timeout
/// outlasts the batching window and the function timeout together, so a batch still being
/// posted is never handed to the other poller.
fn mapping(max_receive_count: u32) -> SqsPolicy {
    SqsPolicy {
        concurrency: 2,
        batch_size: 100,
        window: Duration::from_secs(1),
        visibility_timeout_s: 4,
        max_receive_count,
        timeout: Duration::from_secs(3),
        give_up_after: Duration::from_secs(60),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_through_the_queue_is_folded_into_digests_and_nothing_is_lost() {
    const INSTANCES: usize = 40;
    let bench = Bench::start().await;
    let source = SqsSource::create(&bench.moto_url(), "burst", mapping(5)).await;
    let environments = environments(&bench, 2, "queue burst").await;
    // Slack's own pace, and one rate-limit episode longer than an invocation can wait: the
    // first batch goes back to the queue and comes again after the visibility timeout.
    bench.slack.rate_limit(1.0, 2);
    bench.slack.script([SlackReply::RateLimited {
        retry_after: Some(120),
    }]);
    let deployment = event("notify-slack/codedeploy-deployment-failed.json");
    let alarm = event("notify-slack/cloudwatch-alarm.json");
    let others = [
        deployment["Records"][0]["Sns"]["Message"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        alarm["Records"][0]["Sns"]["Message"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        "a note from the on-call engineer".to_string(),
    ];
    // Forty instance triggers of one deployment within two seconds, three other notifications
    // among them.
    let mut messages: Vec<(Duration, String)> = (0..INSTANCES)
        .map(|n| {
            (
                Duration::from_millis(50 * n as u64),
                fixtures::instance_message(n),
            )
        })
        .collect();
    for (k, other) in others.iter().enumerate() {
        messages.push((Duration::from_millis(300 + 600 * k as u64), other.clone()));
    }
    messages.sort_by_key(|(at, _)| *at);
    let total = messages.len();
    let run = source.run(environments, messages).await;

    assert_eq!(run.lost(), 0, "{:?}", run.fates);
    assert_eq!(run.dead_lettered(), 0, "{:?}", run.fates);
    assert_eq!(run.delivered(), total);
    assert!(
        run.retried() > 0,
        "the rate-limited batch came back: {:?}",
        run.fates
    );
    let posts = bench.slack.posts();
    let accepted: Vec<&str> = posts
        .iter()
        .filter(|p| p.delivered())
        .map(|p| p.body.as_str())
        .collect();
    // Every instance event in exactly one accepted message: a digest counts its instances (and
    // names the first few), a single message names its one instance.
    let digest_count = regex::Regex::new(r"(\d+) instances of deployment").expect("pattern");
    let mut counted = 0;
    for body in &accepted {
        let text = serde_json::from_str::<serde_json::Value>(body).expect("json")["text"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if let Some(n) = digest_count.captures(&text) {
            counted += n[1].parse::<usize>().expect("a count");
        } else {
            counted += (0..INSTANCES)
                .filter(|&n| body.contains(&fixtures::instance_id(n)))
                .count();
        }
    }
    assert_eq!(counted, INSTANCES, "{accepted:#?}");
    for n in 0..INSTANCES {
        let id = fixtures::instance_id(n);
        let naming = accepted.iter().filter(|body| body.contains(&id)).count();
        assert!(naming <= 1, "{id} named in {naming} messages");
    }
    for text in ["a note from the on-call engineer", "d-"] {
        assert!(
            accepted.iter().any(|b| b.contains(text)),
            "{text} not posted"
        );
    }
    assert!(
        accepted.len() <= 3 + 2 * run.invocations,
        "{} messages for {total} notifications",
        accepted.len()
    );
    assert!(accepted.len() < total / 3, "{} posts", accepted.len());
    let refused = posts.iter().filter(|p| p.status == 429).count();
    assert!(refused >= 1);
    eprintln!(
        "queue burst: {total} notifications, delivered {}, retried {}, dead-lettered {}, \
         Slack posts {} ({} accepted, {refused} answered 429), invocations {}, largest batch {}, \
         largest delay {:?}",
        run.delivered(),
        run.retried(),
        run.dead_lettered(),
        posts.len(),
        accepted.len(),
        run.invocations,
        run.largest_batch,
        run.largest_latency()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_slack_never_takes_are_dead_lettered_by_the_queue_after_max_receives() {
    let bench = Bench::start().await;
    let source = SqsSource::create(&bench.moto_url(), "refused", mapping(2)).await;
    let environments = environments(&bench, 2, "queue refused").await;
    bench.slack.set_default(SlackReply::ChannelNotFound);
    let messages = (0..3)
        .map(|n| {
            (
                Duration::from_millis(10 * n),
                format!("release {n} went out"),
            )
        })
        .collect();
    let run = source.run(environments, messages).await;
    assert_eq!(run.dead_lettered(), 3, "{:?}", run.fates);
    assert_eq!(run.delivered(), 0);
    assert!(run.fates.iter().all(|f| f.receives == 2), "{:?}", run.fates);
    assert_eq!(
        run.failed_invocations, 0,
        "refusals are batch item failures"
    );
}
