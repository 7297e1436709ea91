//! The fault matrix: each row injects one fault on the bench and checks the promise made for it
//! against what reached the bench (hook statuses CodeDeploy accepted, posts Slack answered `ok`,
//! the listener's weights in moto), never against what the function says about itself.
//! One table per function; every row runs, and all broken promises are reported together.
//! docs/fault-matrix.md lists the same rows, one section per table.
//!
//! Build the binaries first: `cargo build --workspace --bins`.

use std::time::Duration;

use crate::shift_traffic_support::{Alb, STICKY_SECONDS, forward, groups_of};
use aws_sdk_cloudwatch::types::StateValue;
use rollout_bench::fixtures;
use rollout_bench::hooks::{
    closed_port, count_logs, find_log, hook, plain_deployment, reports_for,
};
use rollout_bench::{
    Behavior, Bench, Fault, HttpTarget, Invocation, InvokeOutcome, LambdaFn, SlackFake, SlackReply,
    event,
};
use serde_json::Value;

const PUT: &str = "PutLifecycleEventHookExecutionStatus";

/// Collects broken promises so one run shows every failing row.
#[derive(Default)]
struct Broken(Vec<String>);

impl Broken {
    fn check(&mut self, row: &str, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            self.0.push(format!("[{row}] {}", what()));
        }
    }

    fn assert_none(self, table: &str) {
        assert!(
            self.0.is_empty(),
            "{table}: {} broken promise(s):\n{}",
            self.0.len(),
            self.0.join("\n")
        );
    }
}

fn ended_in_time(invocation: &Invocation, deadline: Duration) -> bool {
    !matches!(
        invocation.outcome,
        InvokeOutcome::Timeout | InvokeOutcome::Crashed(_)
    ) && invocation.elapsed < deadline
}

// ---------------------------------------------------------------------------------------------
// validate-traffic: always exactly one report, before the deadline, with the right status.
// ---------------------------------------------------------------------------------------------

/// What green does during the row.
enum Green {
    Answers(Behavior),
    /// Nothing listens: connections are refused.
    Refuses,
}

/// What happened to the hook before the invocation.
#[derive(PartialEq)]
enum Before {
    Nothing,
    /// An earlier invocation (Lambda's retry of the same event) already reported `Failed`.
    AlreadyReported,
}

struct HookRow {
    fault: &'static str,
    promise: &'static str,
    green: Green,
    aws: Vec<Fault>,
    env: Vec<(&'static str, &'static str)>,
    /// The invocation's timeout (the deadline header).
    deadline: Duration,
    before: Before,
    /// The hook statuses CodeDeploy holds afterwards: exactly this one, or none.
    report: Option<&'static str>,
    /// `Some(n)`: exactly n `PutLifecycleEventHookExecutionStatus` calls reached CodeDeploy.
    puts: Option<usize>,
    /// The invocation ends in an error, so Lambda retries it.
    errors: bool,
    /// Part of the logged reason for a `Failed` verdict.
    reason: Option<&'static str>,
}

impl HookRow {
    fn new(fault: &'static str, promise: &'static str, green: Green) -> Self {
        HookRow {
            fault,
            promise,
            green,
            aws: Vec::new(),
            env: Vec::new(),
            deadline: Duration::from_secs(20),
            before: Before::Nothing,
            report: Some("Failed"),
            puts: Some(1),
            errors: false,
            reason: None,
        }
    }
}

fn healthy() -> Green {
    Green::Answers(Behavior::ok("ok"))
}

fn hook_rows() -> Vec<HookRow> {
    let second = Duration::from_secs(1);
    vec![
        HookRow {
            env: vec![("PROBE_TIMEOUT_MS", "500")],
            reason: Some("success ratio"),
            ..HookRow::new(
                "green hangs",
                "each probe times out; Failed reported once",
                Green::Answers(Behavior::Hang),
            )
        },
        HookRow {
            env: vec![("MAX_P95_MS", "100")],
            reason: Some("p95 latency"),
            ..HookRow::new(
                "green slow (300 ms, p95 limit 100 ms)",
                "Failed reported once, naming the latency",
                Green::Answers(Behavior::slow(200, "ok", Duration::from_millis(300))),
            )
        },
        HookRow {
            reason: Some("success ratio"),
            ..HookRow::new(
                "green answers 503",
                "Failed reported once",
                Green::Answers(Behavior::status(503, "upstream connect error")),
            )
        },
        HookRow {
            reason: Some("success ratio"),
            ..HookRow::new(
                "green refuses connections",
                "Failed reported once",
                Green::Refuses,
            )
        },
        HookRow {
            reason: Some("success ratio"),
            ..HookRow::new(
                "green resets connections",
                "Failed reported once",
                Green::Answers(Behavior::Reset),
            )
        },
        HookRow {
            reason: Some("success ratio"),
            ..HookRow::new(
                "green answers garbage (not HTTP)",
                "Failed reported once",
                Green::Answers(Behavior::Garbage),
            )
        },
        HookRow {
            aws: vec![Fault::throttle("codedeploy", PUT).times(3)],
            report: Some("Succeeded"),
            puts: Some(4),
            ..HookRow::new(
                "report throttled 3 times",
                "retried with backoff; Succeeded recorded once",
                healthy(),
            )
        },
        HookRow {
            aws: vec![Fault::server_error("codedeploy", PUT).times(2)],
            report: Some("Succeeded"),
            puts: Some(3),
            ..HookRow::new(
                "report answered 500 twice",
                "retried; Succeeded recorded once",
                healthy(),
            )
        },
        HookRow {
            aws: vec![Fault::server_error("codedeploy", PUT)],
            deadline: Duration::from_secs(4),
            report: None,
            puts: None,
            errors: true,
            ..HookRow::new(
                "report answered 500 until the deadline",
                "gives up before the deadline with an error, so Lambda retries the hook",
                healthy(),
            )
        },
        HookRow {
            aws: vec![Fault::hang("codedeploy", PUT).times(1)],
            deadline: Duration::from_secs(9),
            report: Some("Succeeded"),
            puts: Some(2),
            ..HookRow::new(
                "report hangs once",
                "the attempt is abandoned and retried; Succeeded recorded once, in time",
                healthy(),
            )
        },
        HookRow {
            before: Before::AlreadyReported,
            puts: Some(2),
            ..HookRow::new(
                "AlreadyCompleted (Lambda retried a reported hook)",
                "success without a second report; the first status stands",
                healthy(),
            )
        },
        HookRow {
            env: vec![("PROBE_TIMEOUT_MS", "60000")],
            deadline: second,
            reason: Some("deadline guard"),
            ..HookRow::new(
                "1 s deadline, green hangs",
                "Failed reported once before the deadline",
                Green::Answers(Behavior::Hang),
            )
        },
        HookRow {
            env: vec![("DEADLINE_MARGIN_MS", "300"), ("PROBE_REQUESTS", "3")],
            deadline: second,
            report: Some("Succeeded"),
            ..HookRow::new(
                "1 s deadline, healthy green",
                "Succeeded reported once before the deadline",
                healthy(),
            )
        },
        HookRow {
            env: vec![("DEADLINE_MARGIN_MS", "500"), ("PROBE_REQUESTS", "3")],
            aws: vec![Fault::throttle("codedeploy", PUT).times(1)],
            deadline: second,
            report: Some("Succeeded"),
            puts: Some(2),
            ..HookRow::new(
                "1 s deadline, report throttled once",
                "retried; Succeeded recorded once before the deadline",
                healthy(),
            )
        },
        HookRow {
            env: vec![("PROBE_REQUESTS", "3")],
            deadline: Duration::from_secs(2),
            report: Some("Succeeded"),
            ..HookRow::new(
                "2 s deadline, default margin (5 s), healthy green",
                "the margin shrinks to fit; green is probed and Succeeded reported once before the deadline",
                healthy(),
            )
        },
        HookRow {
            env: vec![("DEADLINE_MARGIN_MS", "100")],
            errors: true,
            reason: Some("DEADLINE_MARGIN_MS"),
            ..HookRow::new(
                "DEADLINE_MARGIN_MS below the report's own slack (100 ms)",
                "InvalidConfig; Failed reported once, naming the variable",
                healthy(),
            )
        },
        HookRow {
            aws: vec![Fault::throttle("codedeploy", "GetDeployment").times(5)],
            report: Some("Succeeded"),
            ..HookRow::new(
                "GetDeployment throttled 5 times (more than the SDK's 3 attempts)",
                "retried within the work budget; Succeeded reported once",
                healthy(),
            )
        },
        HookRow {
            aws: vec![Fault::throttle("codedeploy", "GetDeployment")],
            deadline: Duration::from_secs(8),
            reason: Some("GetDeployment still failing"),
            ..HookRow::new(
                "GetDeployment throttled for good (8 s deadline)",
                "retried until the work budget runs out; Failed reported once before the deadline, naming the throttling",
                healthy(),
            )
        },
        HookRow {
            aws: vec![Fault::throttle("codedeploy", "GetDeploymentGroup")],
            deadline: Duration::from_secs(8),
            reason: Some("GetDeploymentGroup still failing"),
            ..HookRow::new(
                "GetDeploymentGroup throttled for good (8 s deadline, readiness lookup)",
                "Failed reported once before the deadline, naming the throttling",
                healthy(),
            )
        },
    ]
}

#[tokio::test]
async fn validate_traffic_faults() {
    let bench = Bench::start().await;
    let config = bench.sdk_config().await;
    let codedeploy = aws_sdk_codedeploy::Client::new(&config);
    let green = HttpTarget::start().await;
    let refused = format!("http://127.0.0.1:{}", closed_port().await);
    let mut broken = Broken::default();
    for (index, row) in hook_rows().into_iter().enumerate() {
        let label = format!("{} → {}", row.fault, row.promise);
        let name = label.as_str();
        let deployment = plain_deployment(&config, &format!("matrix{index}")).await;
        let execution = format!("exec-{index}");
        let url = match &row.green {
            Green::Answers(behavior) => {
                green.set(behavior.clone());
                green.url()
            }
            Green::Refuses => refused.clone(),
        };
        if row.before == Before::AlreadyReported {
            codedeploy
                .put_lifecycle_event_hook_execution_status()
                .deployment_id(&deployment)
                .lifecycle_event_hook_execution_id(&execution)
                .status(aws_sdk_codedeploy::types::LifecycleEventStatus::Failed)
                .send()
                .await
                .expect("first report");
        }
        let mut env = vec![("TARGET_URL", url.as_str()), ("PROBE_REQUESTS", "4")];
        for (key, value) in &row.env {
            env.retain(|(k, _)| k != key);
            env.push((key, value));
        }
        let function = LambdaFn::start("validate-traffic", &bench, &env).await;
        bench.front.reset_calls();
        for fault in &row.aws {
            bench.front.inject(fault.clone());
        }
        let invocation = function
            .invoke_with_timeout(hook(&deployment, &execution), row.deadline)
            .await;
        bench.front.clear_faults();

        let logs = || function.logs();
        broken.check(name, ended_in_time(&invocation, row.deadline), || {
            format!(
                "did not end by itself within {:?}: {:?} after {:?}\n{}",
                row.deadline,
                invocation.outcome,
                invocation.elapsed,
                logs()
            )
        });
        broken.check(name, invocation.is_ok() != row.errors, || {
            format!(
                "expected an error: {}; got {:?}",
                row.errors, invocation.outcome
            )
        });
        let statuses: Vec<String> = reports_for(&bench, &deployment)
            .into_iter()
            .map(|r| r.status)
            .collect();
        let expected: Vec<String> = row.report.iter().map(|s| s.to_string()).collect();
        broken.check(name, statuses == expected, || {
            format!(
                "CodeDeploy holds {statuses:?}, promised {expected:?}\n{}",
                logs()
            )
        });
        if let Some(puts) = row.puts {
            let seen = bench.front.count(PUT) + usize::from(row.before == Before::AlreadyReported);
            broken.check(name, seen == puts, || {
                format!("{seen} report calls reached CodeDeploy, expected {puts}")
            });
        }
        if let Some(expected) = row.reason {
            let why = find_log(&function, "verdict")
                .and_then(|v| v["reason"].as_str().map(str::to_string))
                .unwrap_or_default();
            broken.check(name, why.contains(expected), || {
                format!("verdict reason {why:?} lacks {expected:?}")
            });
        }
    }
    broken.assert_none("validate-traffic");
}

// ---------------------------------------------------------------------------------------------
// notify-slack: an error whenever a notification did not reach Slack (so Lambda retries it,
// then dead-letters it), and nothing counted delivered that Slack did not answer `ok`.
// ---------------------------------------------------------------------------------------------

/// What KMS does during the row.
#[derive(Clone, Copy, PartialEq)]
enum Kms {
    Works,
    /// Every `Decrypt` is throttled (all of the SDK's attempts).
    Throttled,
    /// The ciphertext was made for another function's encryption context.
    WrongContext,
    /// The key is disabled.
    Disabled,
    /// Every `Decrypt` hangs.
    Hangs,
}

struct SlackRow {
    fault: &'static str,
    promise: &'static str,
    /// Slack's answers to the next posts, then `default`.
    script: Vec<SlackReply>,
    default: SlackReply,
    kms: Kms,
    sample: &'static str,
    /// Breaks the sample before it is sent (e.g. takes a record's message away).
    edit: Option<fn(&mut Value)>,
    env: Vec<(&'static str, &'static str)>,
    deadline: Duration,
    /// `None`: delivered, the invocation succeeds. `Some(type)`: it fails with this error type.
    error: Option<&'static str>,
    /// `Some(n)`: exactly n posts reached Slack in the invocation.
    posts: Option<usize>,
    /// Once the fault is gone, Lambda's retry of the same event delivers what is missing.
    retry_delivers: bool,
}

const FAILED_SAMPLE: &str = "notify-slack/codedeploy-deployment-failed.json";
const THREE_RECORDS: &str = "notify-slack/multiple-records.json";

impl SlackRow {
    fn delivered(fault: &'static str, promise: &'static str, script: Vec<SlackReply>) -> Self {
        SlackRow {
            fault,
            promise,
            script,
            default: SlackReply::Ok,
            kms: Kms::Works,
            sample: FAILED_SAMPLE,
            edit: None,
            env: Vec::new(),
            deadline: Duration::from_secs(20),
            error: None,
            posts: None,
            retry_delivers: false,
        }
    }

    /// Slack keeps failing this way; the invocation fails and a later retry delivers.
    fn undelivered(fault: &'static str, promise: &'static str, default: SlackReply) -> Self {
        SlackRow {
            default,
            error: Some("SlackDeliveryFailed"),
            retry_delivers: true,
            ..Self::delivered(fault, promise, Vec::new())
        }
    }

    fn kms(fault: &'static str, promise: &'static str, kms: Kms) -> Self {
        SlackRow {
            kms,
            error: Some("WebhookDecryptFailed"),
            posts: Some(0),
            ..Self::delivered(fault, promise, Vec::new())
        }
    }
}

fn slack_rows() -> Vec<SlackRow> {
    use SlackReply::*;
    let permanent = |fault, reply| SlackRow {
        posts: Some(1),
        ..SlackRow::undelivered(fault, "not retried within the invocation; an error", reply)
    };
    vec![
        SlackRow {
            posts: Some(2),
            ..SlackRow::delivered(
                "429 with Retry-After: 1",
                "waits, posts again, delivered once",
                vec![RateLimited {
                    retry_after: Some(1),
                }],
            )
        },
        SlackRow {
            posts: Some(2),
            ..SlackRow::delivered(
                "429 without Retry-After",
                "waits the default second, delivered once",
                vec![RateLimited { retry_after: None }],
            )
        },
        SlackRow {
            deadline: Duration::from_secs(5),
            posts: Some(1),
            ..SlackRow::undelivered(
                "429 with Retry-After past the deadline",
                "gives up at once with an error, before the deadline",
                RateLimited {
                    retry_after: Some(30),
                },
            )
        },
        SlackRow {
            deadline: Duration::from_secs(5),
            ..SlackRow::undelivered(
                "429 on every attempt",
                "keeps to Retry-After until the deadline, then an error",
                RateLimited {
                    retry_after: Some(1),
                },
            )
        },
        SlackRow {
            posts: Some(2),
            ..SlackRow::delivered(
                "500 rollup_error once",
                "retried with backoff, delivered once",
                vec![RollupError],
            )
        },
        SlackRow {
            posts: Some(4),
            ..SlackRow::undelivered(
                "500 rollup_error on every attempt",
                "SLACK_MAX_ATTEMPTS (4) posts, then an error",
                RollupError,
            )
        },
        permanent("400 invalid_payload", InvalidPayload),
        permanent("403 action_prohibited", ActionProhibited),
        permanent("404 channel_not_found", ChannelNotFound),
        permanent("404 no_service (webhook revoked)", NoService),
        permanent("410 channel_is_archived", ChannelIsArchived),
        SlackRow {
            env: vec![("SLACK_TIMEOUT_MS", "1000")],
            deadline: Duration::from_secs(6),
            ..SlackRow::undelivered(
                "Slack hangs",
                "each post times out; an error before the deadline",
                Hang,
            )
        },
        SlackRow {
            posts: Some(2),
            ..SlackRow::delivered(
                "connection reset once",
                "retried, delivered once",
                vec![Reset],
            )
        },
        SlackRow {
            posts: Some(4),
            ..SlackRow::undelivered(
                "connection reset on every attempt",
                "retried, then an error",
                Reset,
            )
        },
        SlackRow {
            sample: THREE_RECORDS,
            script: vec![Ok, ChannelIsArchived, Ok],
            posts: Some(3),
            ..SlackRow::undelivered(
                "410 for one record of three",
                "the others are delivered; an error names it; the retry posts only it",
                Ok,
            )
        },
        SlackRow {
            posts: Some(1),
            ..SlackRow::delivered(
                "200 ok followed by 64 MiB",
                "read up to 4 KiB only; delivered once, not posted again",
                vec![Huge {
                    status: 200,
                    bytes: 64 << 20,
                }],
            )
        },
        SlackRow {
            posts: Some(1),
            ..SlackRow::undelivered(
                "400 invalid_payload with a body that never ends",
                "read up to 4 KiB; permanent, one post, an error at once",
                Endless { status: 400 },
            )
        },
        SlackRow {
            sample: THREE_RECORDS,
            edit: Some(drop_second_message),
            posts: Some(2),
            error: Some("SlackDeliveryFailed"),
            ..SlackRow::delivered(
                "the second of three records has no Sns.Message",
                "the other two are delivered; an error names it",
                Vec::new(),
            )
        },
        SlackRow {
            retry_delivers: true,
            deadline: Duration::from_secs(6),
            ..SlackRow::kms(
                "KMS throttles every Decrypt",
                "retried within half the time left, then an error, nothing posted; not cached, so the retry delivers",
                Kms::Throttled,
            )
        },
        SlackRow {
            retry_delivers: true,
            deadline: Duration::from_secs(4),
            ..SlackRow::kms(
                "KMS Decrypt hangs",
                "an error within half the time left, not a timeout, nothing posted; the retry delivers",
                Kms::Hangs,
            )
        },
        SlackRow::kms(
            "ciphertext made for another function's context",
            "an error naming both forms tried, nothing posted",
            Kms::WrongContext,
        ),
        SlackRow::kms(
            "KMS key disabled",
            "an error, nothing posted",
            Kms::Disabled,
        ),
    ]
}

fn records_in(event: &Value) -> usize {
    event["Records"].as_array().map_or(0, Vec::len)
}

fn drop_second_message(event: &mut Value) {
    if let Some(sns) = event["Records"][1]["Sns"].as_object_mut() {
        sns.remove("Message");
    }
}

/// A key of its own for a row or for the matrix.
async fn new_key(kms: &aws_sdk_kms::Client) -> String {
    fixtures::new_key(kms, "notify-slack webhook").await.key_id
}

#[tokio::test]
async fn notify_slack_faults() {
    const FUNCTION: &str = "notify-slack";
    let bench = Bench::start().await;
    let kms = aws_sdk_kms::Client::new(&bench.sdk_config().await);
    let key = new_key(&kms).await;
    let mut broken = Broken::default();
    for row in slack_rows() {
        let label = format!("{} → {}", row.fault, row.promise);
        let name = label.as_str();
        // A webhook of its own per row: no script or post leaks between rows.
        let slack = SlackFake::start().await;
        let context = match row.kms {
            Kms::WrongContext => "someone-elses-function",
            _ => FUNCTION,
        };
        let row_key = if row.kms == Kms::Disabled {
            let disabled = new_key(&kms).await;
            kms.disable_key()
                .key_id(&disabled)
                .send()
                .await
                .expect("disable key");
            disabled
        } else {
            key.clone()
        };
        let ciphertext =
            fixtures::encrypt(&kms, &row_key, &slack.webhook_url(), Some(context)).await;
        let mut env = vec![
            ("SLACK_WEBHOOK_URL_ENCRYPTED", ciphertext.as_str()),
            ("SLACK_WEBHOOK_ALLOWED_HOSTS", "127.0.0.1"),
        ];
        env.extend(row.env.iter().copied());
        let function = LambdaFn::start(FUNCTION, &bench, &env).await;
        slack.script(row.script.clone());
        slack.set_default(row.default.clone());
        match row.kms {
            Kms::Throttled => bench.front.inject(Fault::throttle("kms", "Decrypt")),
            // moto keeps decrypting with a disabled key; KMS answers this.
            Kms::Disabled => bench.front.inject(Fault::error(
                "kms",
                "Decrypt",
                400,
                "DisabledException",
                &format!("arn:aws:kms:us-east-1:123456789012:key/{row_key} is disabled."),
            )),
            Kms::Hangs => bench.front.inject(Fault::hang("kms", "Decrypt")),
            Kms::Works | Kms::WrongContext => {}
        }
        let mut sample = event(row.sample);
        if let Some(edit) = row.edit {
            edit(&mut sample);
        }
        let records = records_in(&sample);
        let invocation = function
            .invoke_with_timeout(sample.clone(), row.deadline)
            .await;
        bench.front.clear_faults();

        let posts = slack.posts();
        let delivered = posts.iter().filter(|p| p.delivered()).count();
        let logs = || function.logs();
        broken.check(name, ended_in_time(&invocation, row.deadline), || {
            format!(
                "did not end by itself within {:?}: {:?} after {:?}",
                row.deadline, invocation.outcome, invocation.elapsed
            )
        });
        match (&invocation.outcome, row.error) {
            (InvokeOutcome::Response(answer), None) => {
                broken.check(name, delivered == records, || {
                    format!("succeeded with {delivered} of {records} delivered")
                });
                let claimed = answer["delivered"].as_u64().unwrap_or(u64::MAX);
                broken.check(name, claimed == delivered as u64, || {
                    format!("claims {claimed} delivered; Slack accepted {delivered}")
                });
            }
            (
                InvokeOutcome::Error {
                    error_type,
                    error_message,
                },
                Some(expected),
            ) => {
                broken.check(name, error_type == expected, || {
                    format!("error {error_type}: {error_message}, expected {expected}")
                });
                broken.check(name, delivered < records, || {
                    "failed although every record was delivered".to_string()
                });
            }
            (outcome, expected) => broken.check(name, false, || {
                format!("expected error {expected:?}, got {outcome:?}\n{}", logs())
            }),
        }
        if matches!(row.kms, Kms::Hangs | Kms::Throttled) {
            // KMS gets at most half of the time left, so Slack keeps the rest.
            let bound = row.deadline / 2 + Duration::from_millis(500);
            broken.check(name, invocation.elapsed < bound, || {
                format!("KMS took {:?}, more than {bound:?}", invocation.elapsed)
            });
        }
        // What the function logged as delivered is what Slack accepted.
        let logged = count_logs(&function, "delivered to Slack");
        broken.check(name, logged == delivered, || {
            format!("logged {logged} deliveries; Slack accepted {delivered}")
        });
        if let Some(expected) = row.posts {
            broken.check(name, posts.len() == expected, || {
                format!("{} posts reached Slack, expected {expected}", posts.len())
            });
        }

        if row.retry_delivers {
            // The fault is gone; Lambda retries the same event.
            slack.set_default(SlackReply::Ok);
            let retry = function.invoke(sample).await;
            let delivered_now = slack.delivered().len();
            broken.check(name, retry.is_ok() && delivered_now == records, || {
                format!(
                    "retry: {:?}, {delivered_now} of {records} delivered in all",
                    retry.outcome
                )
            });
        }
    }
    broken.assert_none("notify-slack");
}

// ---------------------------------------------------------------------------------------------
// shift-traffic: never an ALB state outside the plan. A watcher polls the listener in moto
// throughout each row; every state it sees must be all-blue, a planned step, or a state the
// row itself wrote as the "other writer".
// ---------------------------------------------------------------------------------------------

/// The fault a row injects around step 1 → 2 of a linear rollout (10 % → 20 %).
#[derive(Clone, Copy, PartialEq)]
enum Shift {
    /// `DescribeListeners` throttled this many times (more than the SDK's 3 attempts).
    ThrottledReads(u32),
    /// `ModifyListener` throttled once.
    ThrottledWriteOnce,
    /// `ModifyListener` throttled for good.
    ThrottledWrites,
    /// `ModifyListener` fails with a 500 once.
    WriteServerErrorOnce,
    /// Green is deleted while the step runs: the write names a group that no longer exists.
    GreenDeletedDuringStep,
    /// Green was detached from the listener and rule and deleted between two steps.
    GreenDeletedBetweenSteps,
    /// Another writer set 50/50 between two steps.
    Drift,
    /// The alarm fires (the step rolls back), then clears, and the step is sent again.
    AlarmFlaps,
    /// Two invocations of the same step at the same time.
    ConcurrentSameStep,
}

struct ShiftRow {
    fault: &'static str,
    promise: &'static str,
    shift: Shift,
    /// `None`: the faulted invocation succeeds. `Some(type)`: it fails with this error type.
    error: Option<&'static str>,
    /// The listener's (blue, green) weights afterwards.
    after: (i32, i32),
}

const STEP_1: (i32, i32) = (900, 100);
const STEP_2: (i32, i32) = (800, 200);
const ALL_BLUE: (i32, i32) = (999, 0);
const OTHER_WRITER: (i32, i32) = (500, 500);

fn shift_rows() -> Vec<ShiftRow> {
    let row = |fault, promise, shift, error, after| ShiftRow {
        fault,
        promise,
        shift,
        error,
        after,
    };
    vec![
        row(
            "DescribeListeners throttled 4 times",
            "retried within a bound; the step lands",
            Shift::ThrottledReads(4),
            None,
            STEP_2,
        ),
        row(
            "ModifyListener throttled once",
            "retried; the step lands",
            Shift::ThrottledWriteOnce,
            None,
            STEP_2,
        ),
        row(
            "ModifyListener throttled for good",
            "a Throttled error after bounded attempts; weights stay at the previous step",
            Shift::ThrottledWrites,
            Some("Throttled"),
            STEP_1,
        ),
        row(
            "ModifyListener answers 500 once",
            "retried; the step lands",
            Shift::WriteServerErrorOnce,
            None,
            STEP_2,
        ),
        row(
            "green deleted during the step",
            "a TargetGroupNotFound error; weights stay at the previous step",
            Shift::GreenDeletedDuringStep,
            Some("TargetGroupNotFound"),
            STEP_1,
        ),
        row(
            "another writer sets 50/50 between steps (drift)",
            "a DriftDetected error; nothing written over the other writer",
            Shift::Drift,
            Some("DriftDetected"),
            OTHER_WRITER,
        ),
        row(
            "alarm fires, then clears, and the step is sent again",
            "rolled back to all blue; the resent step is drift, not a re-advance",
            Shift::AlarmFlaps,
            Some("DriftDetected"),
            ALL_BLUE,
        ),
        row(
            "the same step invoked twice at once",
            "both succeed; the listener ends at the step, never past it",
            Shift::ConcurrentSameStep,
            None,
            STEP_2,
        ),
        // Last: it deletes green for good.
        row(
            "green detached and deleted between steps",
            "a TargetGroupNotInAction error; nothing written",
            Shift::GreenDeletedBetweenSteps,
            Some("TargetGroupNotInAction"),
            (999, -1),
        ),
    ]
}

/// (blue, green) of the listener's forward action; a group not in it reads as -1.
fn weights_of(alb: &Alb, actions: &[aws_sdk_elasticloadbalancingv2::types::Action]) -> (i32, i32) {
    let groups = groups_of(actions);
    let weight = |arn: &str| {
        groups
            .iter()
            .find(|(a, _)| a == arn)
            .map_or(-1, |(_, w)| *w)
    };
    (weight(&alb.blue), weight(&alb.green))
}

/// Polls the listener straight from moto (not through the front, so calls are not counted)
/// and records every distinct state, until stopped.
struct Watcher {
    seen: std::sync::Arc<std::sync::Mutex<Vec<(i32, i32)>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Watcher {
    async fn start(bench: &Bench, alb: &Alb) -> Watcher {
        let config = rollout_bench::bench::sdk_config_for(&bench.moto_url()).await;
        let elb = aws_sdk_elasticloadbalancingv2::Client::new(&config);
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (listener, blue, green) = (
            alb.listener_arn.clone(),
            alb.blue.clone(),
            alb.green.clone(),
        );
        let record = seen.clone();
        let task = tokio::spawn(async move {
            loop {
                if let Ok(out) = elb
                    .describe_listeners()
                    .listener_arns(&listener)
                    .send()
                    .await
                    && let Some(l) = out.listeners().first()
                {
                    let groups = groups_of(l.default_actions());
                    let weight = |arn: &str| {
                        groups
                            .iter()
                            .find(|(a, _)| a == arn)
                            .map_or(-1, |(_, w)| *w)
                    };
                    let state = (weight(&blue), weight(&green));
                    let mut seen = record.lock().unwrap_or_else(|p| p.into_inner());
                    if seen.last() != Some(&state) {
                        seen.push(state);
                    }
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        Watcher { seen, task }
    }

    fn stop(self) -> Vec<(i32, i32)> {
        self.task.abort();
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[tokio::test]
async fn shift_traffic_faults() {
    let bench = Bench::start().await;
    let alb = Alb::create(&bench).await;
    let function = alb.function(&bench).await;
    let twin = alb.function(&bench).await;
    let strategy = serde_json::json!("Linear10PercentEvery1Minute");
    // Every state the plan can put on the listener: all blue and each step of the linear plan.
    let mut planned = vec![ALL_BLUE];
    planned.extend((1..10).map(|k| (1000 - 100 * k, 100 * k)));
    planned.push((0, 999));
    let mut broken = Broken::default();
    for row in shift_rows() {
        let label = format!("{} → {}", row.fault, row.promise);
        let name = label.as_str();
        bench.front.clear_faults();
        alb.set_alarm(StateValue::Ok).await;
        alb.set_listener(vec![forward(
            &[(&alb.blue, 999), (&alb.green, 0)],
            Some(STICKY_SECONDS),
        )])
        .await;
        // A fresh listener: no lease left over from the previous row's rollout.
        alb.clear_lease(&alb.listener_arn).await;
        let watcher = Watcher::start(&bench, &alb).await;
        let start = function.invoke(alb.spec("start", strategy.clone())).await;
        let InvokeOutcome::Response(step) = start.outcome else {
            broken.check(name, false, || format!("start failed: {:?}", start.outcome));
            watcher.stop();
            continue;
        };
        let mut allowed = planned.clone();
        bench.front.reset_calls();
        let elb = "elasticloadbalancing";
        match row.shift {
            Shift::ThrottledReads(n) => bench
                .front
                .inject(Fault::throttle(elb, "DescribeListeners").times(n)),
            Shift::ThrottledWriteOnce => bench
                .front
                .inject(Fault::throttle(elb, "ModifyListener").times(1)),
            Shift::ThrottledWrites => bench.front.inject(Fault::throttle(elb, "ModifyListener")),
            Shift::WriteServerErrorOnce => bench
                .front
                .inject(Fault::server_error(elb, "ModifyListener").times(1)),
            Shift::GreenDeletedDuringStep => bench.front.inject(Fault::error(
                elb,
                "ModifyListener",
                400,
                "TargetGroupNotFound",
                "One or more target groups not found",
            )),
            Shift::GreenDeletedBetweenSteps => {
                let blue_only = forward(&[(&alb.blue, 999)], Some(STICKY_SECONDS));
                alb.set_listener(vec![blue_only]).await;
                alb.elb
                    .modify_rule()
                    .rule_arn(&alb.rule_arn)
                    .actions(forward(&[(&alb.blue, 999)], None))
                    .send()
                    .await
                    .expect("detach green from the rule");
                alb.elb
                    .delete_target_group()
                    .target_group_arn(&alb.green)
                    .send()
                    .await
                    .expect("delete green");
                allowed.push((999, -1));
            }
            Shift::Drift => {
                alb.set_listener(vec![forward(
                    &[(&alb.blue, OTHER_WRITER.0), (&alb.green, OTHER_WRITER.1)],
                    Some(STICKY_SECONDS),
                )])
                .await;
                allowed.push(OTHER_WRITER);
            }
            Shift::AlarmFlaps => alb.set_alarm(StateValue::Alarm).await,
            Shift::ConcurrentSameStep => {}
        }
        bench.front.reset_calls();
        let outcome = match row.shift {
            Shift::ConcurrentSameStep => {
                let (a, b) = tokio::join!(function.invoke(step.clone()), twin.invoke(step.clone()));
                broken.check(name, a.is_ok() && b.is_ok(), || {
                    format!("{:?} / {:?}", a.outcome, b.outcome)
                });
                a.outcome
            }
            Shift::AlarmFlaps => {
                let rolled_back = function.invoke(step.clone()).await;
                let status = match &rolled_back.outcome {
                    InvokeOutcome::Response(out) => {
                        out["status"].as_str().unwrap_or("").to_string()
                    }
                    other => format!("{other:?}"),
                };
                broken.check(name, status == "RolledBack", || {
                    format!("the firing alarm gave {status}, not RolledBack")
                });
                alb.set_alarm(StateValue::Ok).await;
                function.invoke(step.clone()).await.outcome
            }
            _ => function.invoke(step.clone()).await.outcome,
        };
        bench.front.clear_faults();
        // Let the watcher see the last state.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let seen = watcher.stop();

        match (&outcome, row.error) {
            (InvokeOutcome::Response(_), None) => {}
            (InvokeOutcome::Error { error_type, .. }, Some(expected)) if error_type == expected => {
            }
            (other, expected) => broken.check(name, false, || {
                format!("expected error {expected:?}, got {other:?}")
            }),
        }
        let after = weights_of(&alb, &alb.listener_actions().await);
        broken.check(name, after == row.after, || {
            format!("listener at {after:?}, promised {:?}", row.after)
        });
        let outside: Vec<&(i32, i32)> = seen.iter().filter(|s| !allowed.contains(s)).collect();
        broken.check(name, outside.is_empty(), || {
            format!("states outside the plan: {outside:?} (all seen: {seen:?})")
        });
        if matches!(
            row.shift,
            Shift::Drift | Shift::GreenDeletedBetweenSteps | Shift::AlarmFlaps
        ) {
            // Nothing written by the refused step (the flapping row's one write is the rollback).
            let writes = bench.front.count("ModifyListener");
            let allowed_writes = usize::from(row.shift == Shift::AlarmFlaps);
            broken.check(name, writes == allowed_writes, || {
                format!("{writes} ModifyListener calls, expected {allowed_writes}")
            });
        }
    }
    broken.assert_none("shift-traffic");
}
