//! Lambda's SQS event source mapping, the way notify-slack is wired in the template: the
//! notifications topic delivers to a queue (moto delivers SNS to SQS in server mode, raw message
//! delivery off, so each body is the SNS envelope), and `concurrency` pollers (the mapping's
//! maximum concurrency) gather up to `batch_size` records for at most `window`, invoke the real
//! function binary with them as an SQS event, and delete every record the response does not
//! name in `batchItemFailures`. A record left undeleted reappears after the visibility timeout;
//! moto's redrive policy moves a record received more than `max_receive_count` times to the
//! dead-letter queue, as SQS does. A failed invocation (error, timeout, crash) returns the whole
//! batch, as Lambda does.
//!
//! Times are real but short: the visibility timeout is whole seconds (SQS's unit), chosen by the
//! test instead of the template's six minutes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::bench::{REGION, sdk_config_for};
use crate::runtime::{InvokeOutcome, LambdaFn};

/// How the mapping and the queue are set up.
#[derive(Debug, Clone)]
pub struct SqsPolicy {
    /// Pollers at once: the mapping's `ScalingConfig.MaximumConcurrency`.
    pub concurrency: usize,
    /// Records per invocation at most (`BatchSize`).
    pub batch_size: usize,
    /// How long a poller gathers records after the first (`MaximumBatchingWindowInSeconds`).
    pub window: Duration,
    /// The queue's visibility timeout, whole seconds.
    pub visibility_timeout_s: u32,
    /// The redrive policy's `maxReceiveCount`.
    pub max_receive_count: u32,
    /// The function timeout each invocation gets.
    pub timeout: Duration,
    /// The run stops waiting for fates after this long.
    pub give_up_after: Duration,
}

/// What became of one published notification.
#[derive(Debug, Clone)]
pub struct MessageFate {
    /// Position in the published sequence.
    pub index: usize,
    /// The SNS message id (the envelope's `MessageId`).
    pub message_id: String,
    pub delivered: bool,
    /// Times SQS handed it to a poller.
    pub receives: u32,
    /// Published → deleted after delivery (or found dead-lettered).
    pub latency: Option<Duration>,
    pub dead_lettered: bool,
}

/// The run's record.
#[derive(Debug, Clone, Default)]
pub struct SqsRun {
    pub fates: Vec<MessageFate>,
    pub invocations: usize,
    /// Records in the largest batch an invocation got.
    pub largest_batch: usize,
    /// Invocations that failed as a whole (error, timeout, crash).
    pub failed_invocations: usize,
}

impl SqsRun {
    pub fn delivered(&self) -> usize {
        self.fates.iter().filter(|f| f.delivered).count()
    }
    pub fn dead_lettered(&self) -> usize {
        self.fates.iter().filter(|f| f.dead_lettered).count()
    }
    /// Neither delivered nor dead-lettered when the run gave up.
    pub fn lost(&self) -> usize {
        self.fates
            .iter()
            .filter(|f| !f.delivered && !f.dead_lettered)
            .count()
    }
    /// Messages received more than once.
    pub fn retried(&self) -> usize {
        self.fates.iter().filter(|f| f.receives > 1).count()
    }
    pub fn largest_latency(&self) -> Duration {
        self.fates
            .iter()
            .filter_map(|f| f.latency)
            .max()
            .unwrap_or_default()
    }
}

/// SQS through its JSON protocol, straight to moto: the bench needs five operations, which do
/// not justify the SQS SDK in its build.
#[derive(Clone)]
struct Sqs {
    http: reqwest::Client,
    endpoint: String,
}

impl Sqs {
    async fn call(&self, operation: &str, body: Value) -> Value {
        // moto reads the region from the credential scope; it does not check the signature.
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential=testing/20260101/{REGION}/sqs/aws4_request, \
             SignedHeaders=host, Signature=0"
        );
        let reply = self
            .http
            .post(&self.endpoint)
            .header("Authorization", authorization)
            .header("Content-Type", "application/x-amz-json-1.0")
            .header("X-Amz-Target", format!("AmazonSQS.{operation}"))
            .body(body.to_string())
            .send()
            .await
            .unwrap_or_else(|e| panic!("SQS {operation}: {e}"));
        let status = reply.status();
        let text = reply.text().await.unwrap_or_default();
        assert!(status.is_success(), "SQS {operation}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    async fn create_queue(&self, name: &str, attributes: Value) -> (String, String) {
        let url = self
            .call(
                "CreateQueue",
                json!({"QueueName": name, "Attributes": attributes}),
            )
            .await["QueueUrl"]
            .as_str()
            .expect("QueueUrl")
            .to_string();
        let arn = self
            .call(
                "GetQueueAttributes",
                json!({"QueueUrl": url, "AttributeNames": ["QueueArn"]}),
            )
            .await["Attributes"]["QueueArn"]
            .as_str()
            .expect("QueueArn")
            .to_string();
        (url, arn)
    }

    async fn receive(&self, queue_url: &str, max: usize) -> Vec<Value> {
        let reply = self
            .call(
                "ReceiveMessage",
                json!({"QueueUrl": queue_url, "MaxNumberOfMessages": max.clamp(1, 10),
                       "WaitTimeSeconds": 0, "AttributeNames": ["All"]}),
            )
            .await;
        reply["Messages"].as_array().cloned().unwrap_or_default()
    }

    async fn delete(&self, queue_url: &str, receipt_handles: &[String]) {
        for chunk in receipt_handles.chunks(10) {
            let entries: Vec<Value> = chunk
                .iter()
                .enumerate()
                .map(|(i, handle)| json!({"Id": i.to_string(), "ReceiptHandle": handle}))
                .collect();
            self.call(
                "DeleteMessageBatch",
                json!({"QueueUrl": queue_url, "Entries": entries}),
            )
            .await;
        }
    }
}

/// The topic, the queue subscribed to it and the queue's dead-letter queue, in one bench's moto.
pub struct SqsSource {
    sqs: Sqs,
    sns: aws_sdk_sns::Client,
    pub topic_arn: String,
    pub queue_url: String,
    pub queue_arn: String,
    pub dead_letter_url: String,
    policy: SqsPolicy,
}

#[derive(Default)]
struct Shared {
    /// SNS message id → index, publish time.
    published: HashMap<String, (usize, Instant)>,
    fates: HashMap<String, MessageFate>,
    invocations: usize,
    largest_batch: usize,
    failed_invocations: usize,
    publishing_done: bool,
}

impl SqsSource {
    /// Creates the queues and the subscription as the template does (names get `prefix`).
    pub async fn create(moto_url: &str, prefix: &str, policy: SqsPolicy) -> SqsSource {
        let sqs = Sqs {
            http: reqwest::Client::new(),
            endpoint: moto_url.to_string(),
        };
        let (dead_letter_url, dead_letter_arn) =
            sqs.create_queue(&format!("{prefix}-dlq"), json!({})).await;
        let redrive = json!({"deadLetterTargetArn": dead_letter_arn,
                             "maxReceiveCount": policy.max_receive_count})
        .to_string();
        let (queue_url, queue_arn) = sqs
            .create_queue(
                &format!("{prefix}-queue"),
                json!({"VisibilityTimeout": policy.visibility_timeout_s.to_string(),
                       "RedrivePolicy": redrive}),
            )
            .await;
        let sns = aws_sdk_sns::Client::new(&sdk_config_for(moto_url).await);
        let topic_arn = sns
            .create_topic()
            .name(format!("{prefix}-topic"))
            .send()
            .await
            .expect("create topic")
            .topic_arn
            .expect("topic arn");
        sns.subscribe()
            .topic_arn(&topic_arn)
            .protocol("sqs")
            .endpoint(&queue_arn)
            .send()
            .await
            .expect("subscribe the queue");
        SqsSource {
            sqs,
            sns,
            topic_arn,
            queue_url,
            queue_arn,
            dead_letter_url,
            policy,
        }
    }

    /// Publishes `messages` (each at its offset from the start, with an optional subject) to
    /// the topic while the pollers run `environments` (one process each, at most
    /// `policy.concurrency`), and waits for every message's fate.
    pub async fn run(
        &self,
        environments: Vec<LambdaFn>,
        messages: Vec<(Duration, String)>,
    ) -> SqsRun {
        let total = messages.len();
        let shared = Arc::new(Mutex::new(Shared::default()));
        let started = Instant::now();
        let publisher = {
            let shared = shared.clone();
            let sns = self.sns.clone();
            let topic = self.topic_arn.clone();
            async move {
                for (index, (offset, message)) in messages.into_iter().enumerate() {
                    tokio::time::sleep_until((started + offset).into()).await;
                    let id = sns
                        .publish()
                        .topic_arn(&topic)
                        .message(message)
                        .send()
                        .await
                        .expect("publish")
                        .message_id
                        .expect("message id");
                    lock(&shared).published.insert(id, (index, Instant::now()));
                }
                lock(&shared).publishing_done = true;
            }
        };
        let mut pollers = JoinSet::new();
        for lambda in environments
            .into_iter()
            .take(self.policy.concurrency.max(1))
        {
            let poller = Poller {
                sqs: self.sqs.clone(),
                queue_url: self.queue_url.clone(),
                queue_arn: self.queue_arn.clone(),
                dead_letter_url: self.dead_letter_url.clone(),
                policy: self.policy.clone(),
                shared: shared.clone(),
                total,
                started,
            };
            pollers.spawn(async move { poller.poll(lambda).await });
        }
        publisher.await;
        while pollers.join_next().await.is_some() {}

        let state = lock(&shared);
        let mut fates: Vec<MessageFate> = state
            .published
            .iter()
            .map(|(id, (index, _))| {
                state.fates.get(id).cloned().unwrap_or(MessageFate {
                    index: *index,
                    message_id: id.clone(),
                    delivered: false,
                    receives: 0,
                    latency: None,
                    dead_lettered: false,
                })
            })
            .collect();
        fates.sort_by_key(|f| f.index);
        SqsRun {
            fates,
            invocations: state.invocations,
            largest_batch: state.largest_batch,
            failed_invocations: state.failed_invocations,
        }
    }
}

struct Poller {
    sqs: Sqs,
    queue_url: String,
    queue_arn: String,
    dead_letter_url: String,
    policy: SqsPolicy,
    shared: Arc<Mutex<Shared>>,
    total: usize,
    started: Instant,
}

impl Poller {
    fn settled(&self) -> bool {
        let state = lock(&self.shared);
        state.publishing_done
            && state
                .fates
                .values()
                .filter(|f| f.delivered || f.dead_lettered)
                .count()
                >= self.total
    }

    async fn poll(&self, lambda: LambdaFn) {
        while !self.settled() && self.started.elapsed() < self.policy.give_up_after {
            self.collect_dead_letters().await;
            let batch = self.gather().await;
            if batch.is_empty() {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            self.invoke(&lambda, batch).await;
        }
    }

    /// Up to `batch_size` records, gathering for at most `window` after the first.
    async fn gather(&self) -> Vec<Value> {
        let mut batch: Vec<Value> = Vec::new();
        let mut first_at: Option<Instant> = None;
        loop {
            let room = self.policy.batch_size - batch.len();
            let got = self.sqs.receive(&self.queue_url, room.min(10)).await;
            if !got.is_empty() && first_at.is_none() {
                first_at = Some(Instant::now());
            }
            let empty = got.is_empty();
            batch.extend(got);
            match first_at {
                None => return batch,
                Some(at)
                    if batch.len() >= self.policy.batch_size
                        || at.elapsed() >= self.policy.window =>
                {
                    return batch;
                }
                Some(_) if empty => tokio::time::sleep(Duration::from_millis(100)).await,
                Some(_) => {}
            }
        }
    }

    async fn invoke(&self, lambda: &LambdaFn, batch: Vec<Value>) {
        let records: Vec<Value> = batch
            .iter()
            .map(|m| {
                json!({
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": m["Attributes"],
                    "messageAttributes": {},
                    "md5OfBody": m["MD5OfBody"],
                    "eventSource": "aws:sqs",
                    "eventSourceARN": self.queue_arn,
                    "awsRegion": REGION,
                })
            })
            .collect();
        {
            let mut state = lock(&self.shared);
            state.invocations += 1;
            state.largest_batch = state.largest_batch.max(records.len());
            for m in &batch {
                let id = sns_id(m);
                let receives = m["Attributes"]["ApproximateReceiveCount"]
                    .as_str()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(1);
                let index = state.published.get(&id).map_or(usize::MAX, |p| p.0);
                let fate = state.fates.entry(id.clone()).or_insert(MessageFate {
                    index,
                    message_id: id,
                    delivered: false,
                    receives: 0,
                    latency: None,
                    dead_lettered: false,
                });
                fate.receives = fate.receives.max(receives);
            }
        }
        let invocation = lambda
            .invoke_with_timeout(json!({ "Records": records }), self.policy.timeout)
            .await;
        // Lambda: an error, or a response it cannot read, returns the whole batch.
        let failed: Option<Vec<String>> = match &invocation.outcome {
            InvokeOutcome::Response(response) => {
                response["batchItemFailures"].as_array().map(|items| {
                    items
                        .iter()
                        .filter_map(|i| i["itemIdentifier"].as_str().map(str::to_string))
                        .collect()
                })
            }
            _ => None,
        };
        let Some(failed) = failed else {
            lock(&self.shared).failed_invocations += 1;
            return;
        };
        let done: Vec<&Value> = batch
            .iter()
            .filter(|m| {
                !failed
                    .iter()
                    .any(|f| Some(f.as_str()) == m["MessageId"].as_str())
            })
            .collect();
        let handles: Vec<String> = done
            .iter()
            .filter_map(|m| m["ReceiptHandle"].as_str().map(str::to_string))
            .collect();
        self.sqs.delete(&self.queue_url, &handles).await;
        let mut state = lock(&self.shared);
        for m in done {
            let id = sns_id(m);
            let published = state.published.get(&id).map(|p| p.1);
            if let Some(fate) = state.fates.get_mut(&id) {
                fate.delivered = true;
                fate.latency = published.map(|at| at.elapsed());
            }
        }
    }

    /// Records moto moved to the dead-letter queue, taken off it and counted.
    async fn collect_dead_letters(&self) {
        let dead = self.sqs.receive(&self.dead_letter_url, 10).await;
        if dead.is_empty() {
            return;
        }
        let handles: Vec<String> = dead
            .iter()
            .filter_map(|m| m["ReceiptHandle"].as_str().map(str::to_string))
            .collect();
        self.sqs.delete(&self.dead_letter_url, &handles).await;
        let mut state = lock(&self.shared);
        for m in &dead {
            let id = sns_id(m);
            let published = state.published.get(&id).copied();
            let fate = state.fates.entry(id.clone()).or_insert(MessageFate {
                index: published.map_or(usize::MAX, |p| p.0),
                message_id: id,
                delivered: false,
                receives: 0,
                latency: None,
                dead_lettered: false,
            });
            fate.dead_lettered = true;
            fate.latency = published.map(|p| p.1.elapsed());
        }
    }
}

/// The SNS message id in a record's body (the SQS id when the body is no SNS envelope).
fn sns_id(message: &Value) -> String {
    message["Body"]
        .as_str()
        .and_then(|body| serde_json::from_str::<Value>(body).ok())
        .and_then(|envelope| envelope["MessageId"].as_str().map(str::to_string))
        .or_else(|| message["MessageId"].as_str().map(str::to_string))
        .unwrap_or_default()
}

fn lock(shared: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(|p| p.into_inner())
}
