//! A burst of notifications, delivered as Lambda's asynchronous invoker delivers SNS events to
//! notify-slack (queue, reserved concurrency, two retries, on-failure destination), against a
//! webhook that limits its rate as Slack does.

use std::collections::HashSet;
use std::time::Duration;

use rollout_bench::async_invoke::{AsyncPolicy, deliver};
use rollout_bench::fixtures;
use rollout_bench::{Bench, LambdaFn};

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
