//! notify-slack: SNS event or message bytes → classification (CodeDeploy, alarms by SNS or
//! EventBridge, rollout events, CodePipeline, CodeBuild, ECS, Auto Scaling, any other EventBridge
//! event, any JSON or text) → Slack payload.
//! The property lives in `notify_slack::fuzzing` so regression tests check it too.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(violation) = notify_slack::fuzzing::check_sns_render(data) {
        panic!("{violation}");
    }
});
