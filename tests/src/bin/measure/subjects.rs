//! The measured binaries, one entry each: what each is started with, what it is invoked with,
//! and how a measurement knows the invocation did its job. Everything else in `measure` treats
//! them alike; adding a function to the bench is adding an entry here.

use serde_json::{Value, json};

use crate::ctx::Ctx;

/// One binary `make bench` measures.
#[derive(Clone, Copy)]
pub struct Subject {
    /// The name in the results and the tables.
    pub name: &'static str,
    /// The binary it runs (the function crate's); two subjects may run one binary.
    pub binary: &'static str,
    /// Held to the start-up target: cold start less the AWS calls' own time within
    /// `STARTUP_FACTOR` × the floor's cold start. Not for a path whose first invocation does
    /// other work of its own (validate-traffic's probe).
    pub startup_target: bool,
    /// What the measured invocation does, in words (`event` in the results and the tables).
    pub measured: &'static str,
    /// The function's own environment, on top of the bench's AWS variables.
    pub env: fn(&Ctx) -> Vec<(&'static str, String)>,
    /// The event of the `n`th invocation: a fresh one each time, since hook executions take one
    /// status and SNS message ids are remembered.
    pub event: fn(&Ctx, u64) -> Value,
    /// The `errorType` the invocation answers with, for a path that ends in an error by design.
    pub expected_error: Option<&'static str>,
    /// Checks, from what reached the bench, that an invocation did its job; `response` is what
    /// the function returned (`{"errorType", "errorMessage"}` for an expected error),
    /// `posts_before` the Slack posts before the invocation.
    pub check: fn(&Ctx, &Value, usize) -> Result<(), String>,
}

/// A minimal `lambda_runtime` echo: the start-up and invocation cost of the runtime alone.
pub const FLOOR: Subject = Subject {
    name: "runtime-floor",
    binary: "runtime-floor",
    startup_target: false,
    expected_error: None,
    measured: "`{\"hello\":\"world\"}` echoed",
    env: |_| vec![],
    event: |_, n| json!({"hello": "world", "n": n}),
    check: |_, response, _| match response.get("hello") {
        Some(_) => Ok(()),
        None => Err(format!("echo returned {response}")),
    },
};

pub const VALIDATE_TRAFFIC: Subject = Subject {
    name: "validate-traffic",
    binary: "validate-traffic",
    startup_target: false,
    expected_error: None,
    measured: "AfterAllowTestTraffic hook: discovery, 10-request probe, report, SNS event",
    env: |ctx| {
        vec![
            ("HTTP_PROXY", ctx.proxy_url.clone()),
            ("NO_PROXY", "127.0.0.1,localhost".into()),
            ("PROBE_PATHS", "/,/health".into()),
            ("PROBE_REQUESTS", "10".into()),
            ("PROBE_CONCURRENCY", "4".into()),
            ("EXPECTED_STATUS", "200-299".into()),
            ("BODY_CONTAINS", "v2".into()),
            ("MAX_P95_MS", "500".into()),
            ("READINESS_TIMEOUT_MS", "0".into()),
            ("NOTIFICATION_TOPIC_ARN", ctx.world.topic_arn.clone()),
        ]
    },
    event: |ctx, n| {
        json!({
            "DeploymentId": ctx.deployment_id,
            "LifecycleEventHookExecutionId": format!("YmVuY2gtaG9vay{n:010}"),
        })
    },
    check: |ctx, response, _| hook_reported(ctx, response, "Succeeded"),
};

/// validate-traffic's report-only path: a setting it cannot use, so the hook reports `Failed`
/// (naming the setting) without discovery or probe. What is left is start-up and one report.
pub const VALIDATE_TRAFFIC_REPORT: Subject = Subject {
    name: "validate-traffic, report only",
    binary: "validate-traffic",
    startup_target: true,
    // The hook is reported `Failed`; the invocation then fails too, so the bad setting shows
    // in the function's error metrics.
    expected_error: Some("InvalidConfig"),
    measured: "hook with an unusable setting (`PROBE_REQUESTS=0`): `Failed` reported at once",
    env: |_| vec![("PROBE_REQUESTS", "0".into())],
    event: |ctx, n| {
        json!({
            "DeploymentId": ctx.deployment_id,
            "LifecycleEventHookExecutionId": format!("YmVuY2gtcmVwb3J0{n:010}"),
        })
    },
    check: |ctx, response, _| hook_reported(ctx, response, "Failed"),
};

/// validate-traffic as the hook of an ECS built-in deployment, at a rollback's
/// `PRODUCTION_TRAFFIC_SHIFT`: answered `SUCCEEDED` at once, so a rollback never waits on it.
pub const VALIDATE_TRAFFIC_ECS_ROLLBACK: Subject = Subject {
    name: "validate-traffic, ECS rollback",
    binary: "validate-traffic",
    startup_target: true,
    expected_error: None,
    measured: "ECS `PRODUCTION_TRAFFIC_SHIFT` of a rollback: `SUCCEEDED` returned at once, no AWS call",
    env: |_| vec![],
    event: |_, n| {
        let mut event = rollout_bench::event(
            "validate-traffic/ecs-builtin/production-traffic-shift-rollback.json",
        );
        event["executionId"] = json!(format!("bench-rollback-{n:010}"));
        event
    },
    check: |_, response, _| match response.get("hookStatus").and_then(Value::as_str) {
        Some("SUCCEEDED") => Ok(()),
        _ => Err(format!("answered {response}")),
    },
};

/// validate-traffic as the hook of an ECS built-in deployment, called back during a soak: one
/// slice probed through the production rule, the running totals returned in `hookDetails`.
pub const VALIDATE_TRAFFIC_ECS_SOAK: Subject = Subject {
    name: "validate-traffic, ECS soak round trip",
    binary: "validate-traffic",
    startup_target: false,
    expected_error: None,
    measured: "ECS `POST_PRODUCTION_TRAFFIC_SHIFT` callback of a running soak: a 4-request slice through the production rule, the totals back in `hookDetails`, `IN_PROGRESS`",
    env: |ctx| {
        vec![
            ("HTTP_PROXY", ctx.ecs.proxy.url()),
            ("NO_PROXY", "127.0.0.1,localhost".into()),
            ("PROBE_TIMEOUT_MS", "3000".into()),
        ]
    },
    event: |ctx, _| {
        rollout_bench::ecs_world::payload(crate::ctx::SOAK_STAGE, None, None, &ctx.soak_details)
    },
    check: |_, response, _| {
        let slices = response["hookDetails"]["validateTraffic"]["soak"]["slices"].as_u64();
        match (response["hookStatus"].as_str(), slices) {
            (Some("IN_PROGRESS"), Some(n)) if n >= 2 => Ok(()),
            _ => Err(format!("not a soak's round trip: {response}")),
        }
    },
};

pub const SHIFT_TRAFFIC: Subject = Subject {
    name: "shift-traffic",
    binary: "shift-traffic",
    startup_target: true,
    expected_error: None,
    measured: "`status` of a canary spec (reads the listener)",
    env: |ctx| {
        vec![
            ("NOTIFICATION_TOPIC_ARN", ctx.world.topic_arn.clone()),
            ("LEASE_TABLE_NAME", rollout_bench::world::LEASE_TABLE.into()),
        ]
    },
    event: |ctx, _| {
        let mut spec = ctx.shift_spec.clone();
        spec["action"] = json!("status");
        spec
    },
    check: |_, response, _| match response.get("status") {
        Some(_) => Ok(()),
        None => Err(format!("no status in {response}")),
    },
};

pub const NOTIFY_SLACK: Subject = Subject {
    name: "notify-slack",
    binary: "notify-slack",
    startup_target: true,
    expected_error: None,
    measured: "CodeDeploy FAILED trigger via SNS → Slack (KMS once per process)",
    env: |ctx| {
        vec![
            ("SLACK_WEBHOOK_URL_ENCRYPTED", ctx.ciphertext.clone()),
            ("SLACK_WEBHOOK_ALLOWED_HOSTS", "127.0.0.1".into()),
            ("SLACK_MENTION", "<!here>".into()),
        ]
    },
    event: |ctx, n| {
        let mut event = ctx.slack_event.clone();
        event["Records"][0]["Sns"]["MessageId"] =
            json!(format!("6b0e71bd-7e97-4d97-80ce-{n:012x}"));
        event
    },
    check: |ctx, _, posts_before| {
        let posts = ctx.bench.slack.posts();
        if posts.len() > posts_before && posts.iter().skip(posts_before).all(|p| p.delivered()) {
            Ok(())
        } else {
            Err("no message delivered to Slack".into())
        }
    },
};

/// Every subject, in the order of the results: the floor first, then the functions.
pub const SUBJECTS: [Subject; 7] = [
    FLOOR,
    VALIDATE_TRAFFIC,
    VALIDATE_TRAFFIC_REPORT,
    VALIDATE_TRAFFIC_ECS_ROLLBACK,
    VALIDATE_TRAFFIC_ECS_SOAK,
    SHIFT_TRAFFIC,
    NOTIFY_SLACK,
];

/// The last hook status CodeDeploy received was `expected`.
fn hook_reported(ctx: &Ctx, response: &Value, expected: &str) -> Result<(), String> {
    let reports = ctx.bench.front.hook_reports();
    let reported = reports.last().map(|r| r.status.as_str());
    if reported == Some(expected) {
        Ok(())
    } else {
        Err(format!("hook reported {reported:?}, response {response}"))
    }
}
