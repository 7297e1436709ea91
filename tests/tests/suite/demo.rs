//! `make demo` in every scenario, through the real binaries: what the ALB, CodeDeploy and Slack
//! end up with is what the scenario promises.

use rollout_bench::demo::{self, Scenario};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthy_release_validates_and_walks_the_canary_to_green() {
    let (summary, timeline) = demo::run(Scenario::Healthy, true).await;
    assert!(summary.as_expected(Scenario::Healthy), "{timeline}");
    assert_eq!(summary.hook_status.as_deref(), Some("Succeeded"));
    assert_eq!(summary.final_green_percent, 100.0);
    assert_eq!(
        summary.shift_statuses,
        ["Shifted", "Shifted", "Completed"],
        "{timeline}"
    );
    assert!(
        timeline.contains("green ██░░"),
        "the 10 % step is drawn:\n{timeline}"
    );
    let slack = summary.slack_messages.join("\n");
    assert!(slack.contains("Deployment succeeded"), "{slack}");
    assert!(slack.contains("Validation passed"), "{slack}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_green_fails_validation_and_stays_on_blue() {
    let (summary, timeline) = demo::run(Scenario::Failing, true).await;
    assert!(summary.as_expected(Scenario::Failing), "{timeline}");
    assert_eq!(summary.hook_status.as_deref(), Some("Failed"));
    assert_eq!(summary.final_green_percent, 0.0);
    let slack = summary.slack_messages.join("\n");
    assert!(slack.contains("Validation failed"), "{slack}");
    assert!(slack.contains("below"), "the reason is shown:\n{slack}");
    assert!(slack.contains("Deployment failed"), "{slack}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alarm_during_the_canary_rolls_back_to_blue() {
    let (summary, timeline) = demo::run(Scenario::Alarm, true).await;
    assert!(summary.as_expected(Scenario::Alarm), "{timeline}");
    assert_eq!(
        summary.shift_statuses,
        ["Shifted", "RolledBack"],
        "{timeline}"
    );
    let slack = summary.slack_messages.join("\n");
    assert!(slack.contains("ALARM: checkout-green-5xx"), "{slack}");
    assert!(slack.contains("rolled back"), "{slack}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alarm_mid_bake_is_rolled_back_by_the_next_watch() {
    let (summary, timeline) = demo::run(Scenario::Watch, true).await;
    assert!(summary.as_expected(Scenario::Watch), "{timeline}");
    let watched = summary.watched_rollback.expect("timed");
    assert!(watched.within_interval(), "{watched:?}\n{timeline}");
    assert!(timeline.contains("gates clear"), "{timeline}");
    assert!(timeline.contains("→ rollback now"), "{timeline}");
    assert_eq!(
        summary.shift_statuses,
        ["Shifted", "RolledBack"],
        "{timeline}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ecs_canary_answers_every_stage_with_soak_round_trips() {
    let (summary, timeline) = demo::run(Scenario::Ecs, true).await;
    assert!(summary.as_expected(Scenario::Ecs), "{timeline}");
    // Every stage ECS calls a hook at, in order, the production ones once per canary step.
    let stages: Vec<&str> = summary
        .shift_statuses
        .iter()
        .map(|s| s.split(' ').next().unwrap_or_default())
        .collect();
    assert_eq!(
        stages,
        [
            "PRE_SCALE_UP",
            "POST_SCALE_UP",
            "TEST_TRAFFIC_SHIFT",
            "POST_TEST_TRAFFIC_SHIFT",
            "PRE_PRODUCTION_TRAFFIC_SHIFT",
            "PRODUCTION_TRAFFIC_SHIFT",
            "PRE_PRODUCTION_TRAFFIC_SHIFT",
            "PRODUCTION_TRAFFIC_SHIFT",
            "POST_PRODUCTION_TRAFFIC_SHIFT",
        ],
        "{timeline}"
    );
    assert!(timeline.contains("IN_PROGRESS"), "{timeline}");
    assert!(timeline.contains("production on green"), "{timeline}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asg_canary_is_validated_approved_from_slack_and_scales_blue_in() {
    let (summary, timeline) = demo::run(Scenario::Asg, true).await;
    assert!(summary.as_expected(Scenario::Asg), "{timeline}");
    rollout_bench::demo_asg::shows_every_part(&timeline)
        .unwrap_or_else(|missing| panic!("missing {missing}:\n{timeline}"));
    // The steps in order: 10 %, held for the person, 100 %, the bake's check, the clean-up.
    assert_eq!(
        summary.shift_statuses,
        [
            "Shifted",
            "AwaitingApproval",
            "Shifted",
            "Completed",
            "ScaledDown"
        ],
        "{timeline}"
    );
    // The person answered only after Slack showed the approve command.
    let slack = timeline
        .find("send-task-success")
        .expect("the command in Slack");
    let person = timeline
        .find("runs the approve command")
        .expect("the person");
    assert!(slack < person, "{timeline}");
}
