//! The function driven in-process: `handler::handle` against an in-memory KMS and Slack through
//! the `ports` seams, with tokio's clock paused so Retry-After waits and deadlines cost nothing.
//! KMS answers with the SDK's own types; Slack with a status, a `Retry-After` and a body, so the
//! retries, the classification and the error wording are the real ones. The bench tests
//! (`tests/tests/suite/notify_slack.rs`) prove the same paths end to end.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_kms::error::SdkError;
use aws_sdk_kms::operation::decrypt::{DecryptError, DecryptOutput};
use aws_sdk_kms::primitives::Blob;
use lambda_runtime::{Context, LambdaEvent};
use rollout_kit::Env;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::config::{self, Config};
use crate::delivery::Slack;
use crate::error::Error;
use crate::handler::{Deps, handle};
use crate::ports::{Decrypter, Ports, Reply, WebhookPoster};
use crate::secret::CONTEXT_KEY;
use crate::webhook::WebhookUrl;

const WEBHOOK: &str = "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXX";
const FUNCTION: &str = "notify-slack";

/// What the fakes hold, and what a test makes them do.
#[derive(Default)]
struct State {
    kms_hangs: bool,
    decrypts: usize,
    /// Slack's answers to the next posts, in turn; after them, `200 ok`.
    answers: VecDeque<Reply>,
    /// A payload that contains this text is refused: `404 channel_not_found`.
    refuse: Option<&'static str>,
    /// Every attempt's payload, and when it was made.
    attempts: Vec<(Value, Instant)>,
    /// The payloads Slack accepted.
    delivered: Vec<Value>,
}

#[derive(Clone, Default)]
struct World {
    state: Arc<Mutex<State>>,
}

impl World {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn deps(&self) -> Deps<InMemory> {
        let env = Env::from_pairs([
            (config::WEBHOOK_CIPHERTEXT, "AQIDBA=="),
            (config::FUNCTION_NAME, FUNCTION),
            (config::MENTION, "<!here>"),
        ]);
        let config = Config::from_env(&env).expect("a valid configuration");
        let slack = Slack::with_poster(self.clone(), config.timeout, config.policy);
        Deps::with_adapters(config, self.clone(), slack)
    }

    fn delivered(&self) -> usize {
        self.lock().delivered.len()
    }

    fn attempts(&self) -> usize {
        self.lock().attempts.len()
    }
}

struct InMemory;

impl Ports for InMemory {
    type Kms = World;
    type Webhook = World;
}

impl Decrypter for World {
    async fn decrypt(
        &self,
        ciphertext: Blob,
        context: Option<(&str, &str)>,
    ) -> Result<DecryptOutput, SdkError<DecryptError>> {
        let hangs = {
            let mut state = self.lock();
            state.decrypts += 1;
            state.kms_hangs
        };
        if hangs {
            std::future::pending::<()>().await;
        }
        assert_eq!(ciphertext.as_ref(), [1, 2, 3, 4]);
        assert_eq!(context, Some((CONTEXT_KEY, FUNCTION)));
        Ok(DecryptOutput::builder()
            .plaintext(Blob::new(WEBHOOK.as_bytes()))
            .build())
    }
}

impl WebhookPoster for World {
    async fn post(&self, url: &WebhookUrl, body: Vec<u8>, _: Duration) -> Result<Reply, String> {
        assert_eq!(url.url().as_str(), WEBHOOK);
        let payload: Value = serde_json::from_slice(&body).expect("a JSON payload");
        let mut state = self.lock();
        state.attempts.push((payload.clone(), Instant::now()));
        let refused = state
            .refuse
            .is_some_and(|text| payload.to_string().contains(text));
        let reply = if refused {
            reply(404, None, "channel_not_found")
        } else {
            state
                .answers
                .pop_front()
                .unwrap_or_else(|| reply(200, None, "ok"))
        };
        if reply.status == 200 {
            state.delivered.push(payload);
        }
        Ok(reply)
    }
}

fn reply(status: u16, retry_after: Option<&str>, body: &str) -> Reply {
    Reply {
        status,
        retry_after: retry_after.map(String::from),
        body: body.as_bytes().to_vec(),
    }
}

fn record(message_id: &str, message: &str) -> Value {
    json!({
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": "arn:aws:sns:us-east-1:123456789012:deployments:sub",
        "Sns": {
            "Type": "Notification",
            "MessageId": message_id,
            "TopicArn": "arn:aws:sns:us-east-1:123456789012:deployments",
            "Subject": "Deployment news",
            "Message": message,
            "Timestamp": "2026-10-14T08:38:46.123Z",
            "SignatureVersion": "1",
            "Signature": "sig",
            "SigningCertUrl": "https://sns.example/cert.pem",
            "UnsubscribeUrl": "https://sns.example/unsub",
            "MessageAttributes": {}
        }
    })
}

/// An SNS event with one record per `(message id, text)`.
fn invocation(messages: &[(&str, &str)], time: Duration) -> LambdaEvent<Value> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let mut context = Context::default();
    context.request_id = "req-1".into();
    context.deadline = (now + time).as_millis() as u64;
    let records: Vec<Value> = messages.iter().map(|(id, m)| record(id, m)).collect();
    LambdaEvent::new(json!({ "Records": records }), context)
}

const THREE: [(&str, &str); 3] = [
    ("m-1", "first release of checkout went out"),
    ("m-2", "second release of checkout went out"),
    ("m-3", "third release of checkout went out"),
];

#[tokio::test(start_paused = true)]
async fn each_record_is_posted_once() {
    let world = World::default();
    let deps = world.deps();
    let out = handle(&deps, invocation(&THREE, Duration::from_secs(30)))
        .await
        .unwrap();
    assert_eq!(out["records"], 3, "{out}");
    assert_eq!(out["delivered"], 3, "{out}");
    assert_eq!(world.attempts(), 3);
    assert_eq!(world.lock().decrypts, 1, "the webhook is decrypted once");
    for (payload, (_, text)) in world.lock().delivered.iter().zip(THREE) {
        assert!(payload.to_string().contains(text), "{payload}");
    }
    // Lambda retries the same event on this container: nothing is posted twice.
    let again = handle(&deps, invocation(&THREE, Duration::from_secs(30)))
        .await
        .unwrap();
    assert_eq!(again["duplicates"], 3, "{again}");
    assert_eq!(world.attempts(), 3);
    assert_eq!(world.lock().decrypts, 1, "kept for the container");
}

#[tokio::test(start_paused = true)]
async fn one_refused_record_fails_the_invocation_by_name_after_the_others_are_posted() {
    let world = World::default();
    world.lock().refuse = Some("third release");
    let err = handle(&world.deps(), invocation(&THREE, Duration::from_secs(30)))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Undelivered { .. }), "{err}");
    let text = err.to_string();
    assert!(text.starts_with("1 of 3 notifications"), "{text}");
    assert!(
        text.contains("record 3") && text.contains("m-3") && text.contains("channel_not_found"),
        "{text}"
    );
    assert!(!text.contains("m-1") && !text.contains("m-2"), "{text}");
    assert_eq!(world.delivered(), 2);
    assert_eq!(world.attempts(), 3, "a refusal is not retried");
}

#[tokio::test(start_paused = true)]
async fn a_hung_kms_fails_before_the_deadline_and_nothing_is_posted() {
    let world = World::default();
    world.lock().kms_hangs = true;
    let started = Instant::now();
    let time = Duration::from_secs(6);
    let err = handle(&world.deps(), invocation(&THREE, time))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::WebhookDecrypt(_)), "{err}");
    assert!(err.to_string().contains("did not answer in time"), "{err}");
    assert!(started.elapsed() < time, "{:?}", started.elapsed());
    assert_eq!(world.attempts(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_rate_limit_is_waited_out_and_the_message_delivered_once() {
    let world = World::default();
    world
        .lock()
        .answers
        .push_back(reply(429, Some("2"), "rate_limited"));
    let out = handle(
        &world.deps(),
        invocation(&THREE[..1], Duration::from_secs(30)),
    )
    .await
    .unwrap();
    assert_eq!(out["delivered"], 1, "{out}");
    assert_eq!(world.delivered(), 1);
    let attempts: Vec<Instant> = world.lock().attempts.iter().map(|a| a.1).collect();
    assert_eq!(attempts.len(), 2);
    assert!(
        attempts[1] - attempts[0] >= Duration::from_secs(2),
        "Retry-After is honoured"
    );
}

/// The body SNS writes to a subscribed queue (raw message delivery off).
fn sns_body(message_id: &str, message: &str) -> String {
    json!({
        "Type": "Notification",
        "MessageId": message_id,
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:deployments",
        "Subject": "Deployment news",
        "Message": message,
        "Timestamp": "2026-10-14T08:38:46.123Z",
        "SignatureVersion": "1",
        "Signature": "sig",
        "SigningCertURL": "https://sns.example/cert.pem",
        "UnsubscribeURL": "https://sns.example/unsub"
    })
    .to_string()
}

/// An SQS event, one record per `(SQS message id, body)`.
fn batch(bodies: &[(String, String)], time: Duration) -> LambdaEvent<Value> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let mut context = Context::default();
    context.request_id = "req-sqs".into();
    context.deadline = (now + time).as_millis() as u64;
    let records: Vec<Value> = bodies
        .iter()
        .map(|(id, body)| {
            json!({
                "messageId": id,
                "receiptHandle": format!("rh-{id}"),
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1792053526123"},
                "messageAttributes": {},
                "md5OfBody": "0",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:notify-slack",
                "awsRegion": "us-east-1"
            })
        })
        .collect();
    LambdaEvent::new(json!({ "Records": records }), context)
}

/// SQS records for `(SNS message id, message)`; SQS ids are `q-` and the SNS id.
fn queued(messages: &[(&str, String)]) -> Vec<(String, String)> {
    messages
        .iter()
        .map(|(id, m)| (format!("q-{id}"), sns_body(id, m)))
        .collect()
}

fn failed_items(out: &Value) -> Vec<String> {
    out["batchItemFailures"]
        .as_array()
        .unwrap_or_else(|| panic!("not a partial batch response: {out}"))
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap_or("").to_string())
        .collect()
}

/// Instance `n` of deployment d-DIGEST, failed at ValidateService or succeeded.
fn instance_event(n: usize, failed: bool) -> String {
    let status = if failed { "Failed" } else { "Succeeded" };
    json!({
        "region": "us-east-1", "accountId": "123456789012", "applicationName": "shop",
        "deploymentGroupName": "shop-prod", "deploymentId": "d-DIGEST",
        "instanceId": format!("arn:aws:ec2:us-east-1:123456789012:instance/i-{n:04}"),
        "instanceStatus": status, "lastUpdatedAt": "Sat Nov 21 12:14:09 UTC 2026",
        "lifecycleEvents": [{"LifecycleEvent": "ValidateService", "LifecycleEventStatus": status}]
    })
    .to_string()
}

fn deployment_event() -> String {
    json!({"region": "us-east-1", "applicationName": "shop", "deploymentGroupName": "shop-prod",
           "deploymentId": "d-DIGEST", "status": "FAILED"})
    .to_string()
}

/// Six instances of one deployment (two failed, `m-1` and `m-4`) and the deployment's own event.
fn burst() -> Vec<(String, String)> {
    let mut messages: Vec<(String, String)> = (1..=6)
        .map(|n| (format!("m-{n}"), instance_event(n, n % 3 == 1)))
        .collect();
    messages.insert(3, ("m-d".into(), deployment_event()));
    let refs: Vec<(&str, String)> = messages
        .iter()
        .map(|(id, m)| (id.as_str(), m.clone()))
        .collect();
    queued(&refs)
}

#[tokio::test(start_paused = true)]
async fn a_batch_names_only_the_records_that_did_not_reach_slack() {
    let world = World::default();
    world.lock().refuse = Some("third release");
    let messages: Vec<(&str, String)> = THREE.iter().map(|(id, m)| (*id, m.to_string())).collect();
    let out = handle(
        &world.deps(),
        batch(&queued(&messages), Duration::from_secs(30)),
    )
    .await
    .expect("a partial batch failure does not fail the invocation");
    assert_eq!(failed_items(&out), ["q-m-3"], "{out}");
    assert_eq!(world.delivered(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_rate_limit_past_the_deadline_leaves_the_rest_to_the_queue() {
    let world = World::default();
    world
        .lock()
        .answers
        .push_back(reply(429, Some("30"), "rate_limited"));
    let messages: Vec<(&str, String)> = THREE.iter().map(|(id, m)| (*id, m.to_string())).collect();
    let out = handle(
        &world.deps(),
        batch(&queued(&messages), Duration::from_secs(10)),
    )
    .await
    .unwrap();
    assert_eq!(failed_items(&out), ["q-m-1", "q-m-2", "q-m-3"], "{out}");
    assert_eq!(world.attempts(), 1, "no post past the deadline");
}

#[tokio::test(start_paused = true)]
async fn a_hung_kms_fails_every_record_of_a_batch_but_not_the_invocation() {
    let world = World::default();
    world.lock().kms_hangs = true;
    let out = handle(&world.deps(), batch(&burst(), Duration::from_secs(6)))
        .await
        .unwrap();
    assert_eq!(failed_items(&out).len(), 7, "{out}");
    assert_eq!(world.attempts(), 0);
}

#[tokio::test(start_paused = true)]
async fn instance_events_of_one_deployment_are_posted_as_one_digest() {
    let world = World::default();
    let deps = world.deps();
    let out = handle(&deps, batch(&burst(), Duration::from_secs(30)))
        .await
        .unwrap();
    assert!(failed_items(&out).is_empty(), "{out}");
    let delivered = world.lock().delivered.clone();
    assert_eq!(
        delivered.len(),
        2,
        "one digest and the deployment's own message"
    );
    let digest = delivered[0]["text"].as_str().unwrap();
    assert!(
        digest.starts_with("<!here> :x: *shop* / shop-prod: 6 instances of deployment `d-DIGEST`"),
        "{digest}"
    );
    assert!(digest.contains("2 failed, 4 succeeded"), "{digest}");
    let blocks = delivered[0].to_string();
    let failed_at = blocks.find("i-0001").unwrap();
    assert!(
        failed_at < blocks.find("i-0002").unwrap(),
        "failed instances first"
    );
    assert!(blocks.contains("`i-0004` at `ValidateService`"), "{blocks}");
    let deployment = delivered[1]["text"].as_str().unwrap();
    assert!(
        deployment.contains("deployment `d-DIGEST` failed"),
        "{deployment}"
    );
    // The queue delivers the batch again: nothing is posted twice.
    handle(&deps, batch(&burst(), Duration::from_secs(30)))
        .await
        .unwrap();
    assert_eq!(world.delivered(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_refused_digest_fails_every_record_folded_into_it() {
    let world = World::default();
    world.lock().refuse = Some("6 instances of deployment");
    let out = handle(&world.deps(), batch(&burst(), Duration::from_secs(30)))
        .await
        .unwrap();
    let mut failed = failed_items(&out);
    failed.sort();
    let expected: Vec<String> = (1..=6).map(|n| format!("q-m-{n}")).collect();
    assert_eq!(failed, expected, "{out}");
    assert_eq!(
        world.delivered(),
        1,
        "the deployment's own message went out"
    );
}

#[tokio::test(start_paused = true)]
async fn a_lone_instance_event_renders_as_over_sns() {
    let world = World::default();
    let message = instance_event(7, true);
    let out = handle(
        &world.deps(),
        batch(
            &queued(&[("m-7", message.clone())]),
            Duration::from_secs(30),
        ),
    )
    .await
    .unwrap();
    assert!(failed_items(&out).is_empty());
    let over_sns = World::default();
    handle(
        &over_sns.deps(),
        invocation(&[("m-7", &message)], Duration::from_secs(30)),
    )
    .await
    .unwrap();
    assert_eq!(world.lock().delivered, over_sns.lock().delivered);
}

#[tokio::test(start_paused = true)]
async fn unreadable_twice_sent_and_foreign_records_of_a_batch() {
    let world = World::default();
    let records = vec![
        ("q-1".to_string(), sns_body("m-1", "first release went out")),
        // SQS delivered the same SNS message twice.
        ("q-2".to_string(), sns_body("m-1", "first release went out")),
        // An SNS envelope without its message can never be posted.
        (
            "q-3".to_string(),
            json!({"Type": "Notification", "TopicArn": "arn:aws:sns:us-east-1:1:t", "MessageId": "m-3"})
                .to_string(),
        ),
        // Sent straight to the queue: posted as it is.
        ("q-4".to_string(), "hand-written note".to_string()),
    ];
    let out = handle(&world.deps(), batch(&records, Duration::from_secs(30)))
        .await
        .unwrap();
    assert_eq!(
        failed_items(&out),
        ["q-3"],
        "redrive dead-letters it: {out}"
    );
    let delivered = world.lock().delivered.clone();
    assert_eq!(delivered.len(), 2, "{delivered:?}");
    assert!(delivered[1].to_string().contains("hand-written note"));
}
