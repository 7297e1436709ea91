//! The samples in `events/notify-slack/` rendered as the function posts them (with
//! `SLACK_MENTION=<!here>`): the notification line pinned, and the facts a reader needs found
//! outside any code block. The bench pins the whole JSON (`tests/snapshots/notify-slack/`).

use std::path::Path;

use serde_json::Value;

use super::{RenderOptions, render};
use crate::message::{classify, kind_of, status_of};
use crate::sns::records;
use crate::status::StatusFilter;

struct Rendered {
    payload: Value,
    kind: &'static str,
    status: Option<String>,
}

fn sample(name: &str) -> Vec<Rendered> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../events/notify-slack")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
    let event: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    records(&event)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .into_iter()
        .map(|record| {
            let envelope = record.unwrap_or_else(|e| panic!("{name}: {e}"));
            let note = classify(
                &envelope.message,
                envelope.subject.as_deref(),
                &envelope.topic_arn,
            );
            let options = RenderOptions {
                mention: Some("<!here>".into()),
            };
            Rendered {
                payload: render(&note, &envelope, &options),
                kind: kind_of(&note),
                status: status_of(&note),
            }
        })
        .collect()
}

/// Every mrkdwn and plain text of the payload, with code blocks (` ``` `) cut out: what a reader
/// sees without unfolding anything.
fn outside_code_blocks(payload: &Value) -> String {
    let mut texts = Vec::new();
    collect(payload, &mut texts);
    texts
        .iter()
        .map(|text| text.split("```").step_by(2).collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}

fn collect(value: &Value, texts: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                match value {
                    Value::String(text) if key == "text" => texts.push(text.clone()),
                    other => collect(other, texts),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect(item, texts)),
        _ => {}
    }
}

struct Expect {
    sample: &'static str,
    /// The notification line and fallback, exactly.
    line: &'static str,
    /// Facts a reader must see outside code blocks.
    facts: &'static [&'static str],
    color: &'static str,
    /// Posted with the default `NOTIFY_STATUSES` and `NOTIFY_QUIET`.
    posted: bool,
}

const RED: &str = "#e01e5a";
const GREEN: &str = "#2eb67d";
const YELLOW: &str = "#ecb22e";
const BLUE: &str = "#36c5f0";
const GREY: &str = "#9e9e9e";

const EXPECTED: &[Expect] = &[
    Expect {
        sample: "codepipeline-execution-failed.json",
        line: "<!here> :x: Pipeline *shop-release* failed (execution `3f7d1c2e-8b4a-4f6e-9d2c-5a1b7e9c0d41`)",
        facts: &[
            "Pipeline failed: shop-release",
            "`FAILED`",
            "StartPipelineExecution by release-bot/ci-4812",
            "https://eu-west-1.console.aws.amazon.com/codesuite/codepipeline/pipelines/shop-release/executions/3f7d1c2e-8b4a-4f6e-9d2c-5a1b7e9c0d41/timeline?region=eu-west-1",
        ],
        color: RED,
        posted: true,
    },
    Expect {
        sample: "codepipeline-action-failed.json",
        line: "<!here> :x: Pipeline *shop-release*, stage *Deploy*, action *Blue-Green* failed (execution `3f7d1c2e-8b4a-4f6e-9d2c-5a1b7e9c0d41`)",
        facts: &[
            "Deploy / CodeDeployToECS",
            "*Error* `JobFailed`",
            "the replacement task set did not become healthy",
            "<https://eu-west-1.console.aws.amazon.com/codesuite/codedeploy/deployments/d-9XJ3M4P2C?region=eu-west-1|d-9XJ3M4P2C>",
        ],
        color: RED,
        posted: true,
    },
    Expect {
        sample: "codepipeline-action-started.json",
        line: ":hourglass_flowing_sand: Pipeline *api-release*, stage *Build*, action *Unit-Tests* started (execution `7b2e4d61-0c3a-4f58-b9e1-2a6d8c4f0e93`)",
        facts: &["Action Unit-Tests started: api-release", "`STARTED`"],
        color: BLUE,
        posted: false,
    },
    Expect {
        sample: "generic-json.json",
        line: ":white_check_mark: Pipeline *shop-release* succeeded (execution `01234567-0123-0123-0123-012345678901`)",
        facts: &["Pipeline succeeded: shop-release"],
        color: GREEN,
        posted: true,
    },
    Expect {
        sample: "codebuild-build-failed.json",
        line: "<!here> :x: Build *shop-tests* #42 failed after 3m 54s",
        facts: &[
            "*Failed in* `BUILD`\n",
            "Started by*\ncodepipeline/shop-release",
            "`9f8e7d6c5b4a39281706f5e4d3c2b1a098765432`",
            "<https://console.aws.amazon.com/cloudwatch/home?region=us-west-2#logEvent:group=/aws/codebuild/shop-tests;stream=0c4f2e1d-7a9b-4c3d-8e5f-6a7b8c9d0e1f|Build logs>",
            "/codesuite/codebuild/123456789012/projects/shop-tests/build/shop-tests%3A0c4f2e1d-7a9b-4c3d-8e5f-6a7b8c9d0e1f/?region=us-west-2|#42>",
        ],
        color: RED,
        posted: true,
    },
    Expect {
        sample: "codebuild-phase-change.json",
        line: ":white_check_mark: Build *shop-tests* #42: phase `INSTALL` succeeded after 45s",
        facts: &["Phase INSTALL succeeded: shop-tests #42", "Build logs>"],
        color: GREEN,
        posted: true,
    },
    Expect {
        sample: "ecs-deployment-failed.json",
        line: "<!here> :x: ECS deployment `ecs-svc/6283410961470930491` of *shop* in cluster *prod* failed",
        facts: &[
            "ECS deployment circuit breaker: tasks failed to start.",
            "`SERVICE_DEPLOYMENT_FAILED`",
            "https://us-east-1.console.aws.amazon.com/ecs/v2/clusters/prod/services/shop/deployments?region=us-east-1",
        ],
        color: RED,
        posted: true,
    },
    Expect {
        sample: "ecs-service-action.json",
        line: ":warning: ECS service *shop* in cluster *prod*: task start impaired",
        facts: &["`SERVICE_TASK_START_IMPAIRED`", "`WARN`"],
        color: YELLOW,
        posted: true,
    },
    Expect {
        sample: "ecs-task-stopped-error.json",
        line: "<!here> :x: ECS task `c13b4cb40f1f4fe4a2971f76ae5a47ad` of *shop* stopped with an error: Essential container in task exited",
        facts: &[
            "`app` exited *137*: OutOfMemoryError: Container killed due to memory usage",
            "`shop:31`",
            "`EssentialContainerExited`",
            "https://console.amazonaws-us-gov.com/ecs/v2/clusters/prod/tasks/c13b4cb40f1f4fe4a2971f76ae5a47ad/configuration?region=us-gov-west-1",
        ],
        color: RED,
        posted: true,
    },
    Expect {
        sample: "autoscaling-launch-unsuccessful.json",
        line: "<!here> :x: Auto Scaling group *shop-green* could not launch an instance",
        facts: &[
            "We currently do not have sufficient m5.large capacity",
            "`87654321-4321-4321-4321-210987654309`",
            "increasing the capacity from 2 to 4",
            "#AutoScalingGroupDetails:id=shop-green;view=activity",
        ],
        color: RED,
        posted: true,
    },
    Expect {
        sample: "autoscaling-terminate-successful.json",
        line: ":white_check_mark: Auto Scaling group *shop-blue* terminated `i-0a1b2c3d4e5f67890`",
        facts: &["shrinking the capacity from 1 to 0", "*Took*\n5m 05s"],
        color: GREEN,
        posted: true,
    },
    Expect {
        sample: "eventbridge-alarm-state-change.json",
        line: "<!here> :rotating_light: Alarm *shop-prod-target-5xx* is `ALARM` (was `OK`)",
        facts: &[
            "AWS/ApplicationELB HTTPCode_Target_5XX_Count",
            "LoadBalancer `app/shop-alb/50dc6c495c0c9188`",
            "Threshold Crossed: 2 out of the last 2 datapoints",
            "https://ap-northeast-1.console.aws.amazon.com/cloudwatch/home?region=ap-northeast-1#alarmsV2:alarm/shop-prod-target-5xx",
        ],
        color: RED,
        posted: true,
    },
    Expect {
        sample: "eventbridge-composite-alarm.json",
        line: ":rotating_light: Alarm *shop-prod-health* is `ALARM` (was `OK`); its actions are suppressed",
        facts: &[
            "*Rule* `ALARM(shop-prod-target-5xx) OR ALARM(shop-prod-p99-latency)`",
            "*Actions suppressed* by `Alarm` (suppressor alarm *shop-maintenance-window*)",
            "*Triggered by*\n`shop-prod-p99-latency`",
        ],
        color: YELLOW,
        posted: true,
    },
    Expect {
        sample: "eventbridge-unknown.json",
        line: ":information_source: *ECR Image Action* from `aws.ecr` in `eu-central-1`",
        facts: &[
            "ecr repository `shop`",
            "*image-tag*\n1.4.2",
            "*Account*\n`123456789012`",
        ],
        color: GREY,
        posted: true,
    },
    Expect {
        sample: "sns-json-object.json",
        line: ":information_source: Billing export finished",
        facts: &[
            "*job*\nbilling-export",
            "*rows*\n`18234`",
            "*status*\ncompleted",
            "*operator*\n&lt;!channel&gt; ops-bot",
        ],
        color: GREY,
        posted: true,
    },
];

#[test]
fn samples_read_as_prose_with_the_facts_outside_code_blocks() {
    let filter = StatusFilter::default();
    for expect in EXPECTED {
        let name = expect.sample;
        let rendered = sample(name);
        assert_eq!(rendered.len(), 1, "{name}");
        let Rendered {
            payload,
            kind,
            status,
        } = &rendered[0];
        assert_eq!(payload["text"], expect.line, "{name}");
        assert_eq!(payload["attachments"][0]["color"], expect.color, "{name}");
        let visible = outside_code_blocks(payload);
        for fact in expect.facts {
            assert!(visible.contains(fact), "{name}: {fact:?} not in\n{visible}");
        }
        assert_eq!(
            filter.admits(kind, status.as_deref()),
            expect.posted,
            "{name}: {kind} {status:?}"
        );
        crate::fuzzing::check_payload(payload, Some("<!here>"))
            .unwrap_or_else(|v| panic!("{name}: {v}"));
    }
}

#[test]
fn the_same_alarm_reads_the_same_through_sns_and_eventbridge() {
    let blocks = |name: &str| {
        let mut payload = sample(name).remove(0).payload;
        // SNS names the region ("Asia Pacific (Tokyo)"); EventBridge only has its code.
        let fields = &mut payload["attachments"][0]["blocks"][2]["fields"];
        if let Some(list) = fields.as_array_mut() {
            list.retain(|f| !f["text"].as_str().unwrap_or("").starts_with("*Region*"));
        }
        payload
    };
    assert_eq!(
        blocks("cloudwatch-alarm.json"),
        blocks("eventbridge-alarm-state-change.json")
    );
}

#[test]
fn every_sample_has_a_readable_line() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events/notify-slack");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("events/notify-slack")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    assert!(names.len() >= 30, "{names:?}");
    for name in &names {
        for r in sample(name) {
            let line = r.payload["text"].as_str().unwrap_or("");
            let words = line.split_whitespace().count();
            assert!(words >= 3, "{name}: {line:?}");
            assert!(!line.contains("```"), "{name}: no code block in the line");
        }
    }
}

#[test]
fn the_sqs_burst_sample_folds_into_one_digest_and_the_deployments_message() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../events/notify-slack/sqs-instance-burst.json");
    let event: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let notes: Vec<_> = records(&event)
        .unwrap()
        .into_iter()
        .map(|r| {
            let e = r.unwrap();
            classify(&e.message, e.subject.as_deref(), &e.topic_arn)
        })
        .collect();
    let refs: Vec<_> = notes.iter().collect();
    let messages = crate::digest::fold(&refs);
    assert_eq!(messages, vec![vec![0, 1, 2, 4, 5, 6], vec![3]]);
    let folded: Vec<_> = messages[0].iter().map(|&m| refs[m]).collect();
    let options = RenderOptions {
        mention: Some("<!here>".into()),
    };
    let payload = super::render_digest(&folded, &options);
    assert_eq!(
        payload["text"],
        "<!here> :x: *api* / api-prod: 6 instances of deployment `d-5TY6U7I8O`: 2 failed, 4 succeeded"
    );
    assert_eq!(payload["attachments"][0]["color"], RED);
    let seen = outside_code_blocks(&payload);
    for fact in [
        "`i-0a1b2c3d4e5f60001` at `ValidateService` (failed)",
        "`i-0a1b2c3d4e5f60004` at `ValidateService` (failed)",
        "`i-0a1b2c3d4e5f60002`, `i-0a1b2c3d4e5f60003`, `i-0a1b2c3d4e5f60005`, `i-0a1b2c3d4e5f60006`",
        "6 instance events in one message",
        "codesuite/codedeploy/deployments/d-5TY6U7I8O?region=us-east-2",
    ] {
        assert!(seen.contains(fact), "{fact} not in {seen}");
    }
    crate::fuzzing::check_payload(&payload, Some("<!here>")).unwrap();
}

#[test]
fn a_digest_of_only_successes_does_not_mention_and_long_lists_are_bounded() {
    use crate::message::{Instance, Notification};
    let notes: Vec<Notification> = (0..300)
        .map(|n| {
            Notification::Instance(Instance {
                deployment_id: Some("d-BIG".into()),
                application: Some("<!channel>".into()),
                instance_id: Some(format!("i-{n:05}")),
                status: if n < 40 { "FAILED" } else { "SUCCEEDED" }.into(),
                ..Instance::default()
            })
        })
        .collect();
    let options = RenderOptions {
        mention: Some("<!here>".into()),
    };
    let all: Vec<_> = notes.iter().collect();
    let payload = super::render_digest(&all, &options);
    let text = payload.to_string();
    assert!(
        text.contains("and 30 more") && text.contains("and 240 more"),
        "{text}"
    );
    crate::fuzzing::check_payload(&payload, Some("<!here>")).unwrap();
    let quiet = super::render_digest(&all[40..], &options);
    assert!(
        quiet["text"]
            .as_str()
            .unwrap()
            .starts_with(":white_check_mark: *&lt;!channel&gt;*"),
        "{quiet}"
    );
    assert_eq!(quiet["attachments"][0]["color"], GREEN);
}
