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
