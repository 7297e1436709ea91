//! The release world that the demo builds in moto holds what discovery and shifting rely on.

use rollout_bench::Bench;
use rollout_bench::world::{APPLICATION, DEPLOYMENT_GROUP, ReleaseWorld};

#[tokio::test]
async fn release_world_wires_listeners_target_groups_and_deployment_group() {
    let bench = Bench::start().await;
    let config = bench.sdk_config().await;
    let world = ReleaseWorld::create(&config).await;
    assert!(!world.load_balancer_dns.is_empty());

    let group = aws_sdk_codedeploy::Client::new(&config)
        .get_deployment_group()
        .application_name(APPLICATION)
        .deployment_group_name(DEPLOYMENT_GROUP)
        .send()
        .await
        .unwrap();
    let pair = &group
        .deployment_group_info()
        .unwrap()
        .load_balancer_info()
        .unwrap()
        .target_group_pair_info_list()[0];
    assert_eq!(
        pair.test_traffic_route().unwrap().listener_arns(),
        std::slice::from_ref(&world.test_listener_arn)
    );

    let listeners = aws_sdk_elasticloadbalancingv2::Client::new(&config)
        .describe_listeners()
        .listener_arns(&world.test_listener_arn)
        .send()
        .await
        .unwrap();
    assert_eq!(listeners.listeners()[0].port(), Some(8080));

    let deployment = world.create_deployment(&config).await;
    assert!(!deployment.is_empty());
    let ciphertext = world
        .encrypt_webhook(&config, "hooks.slack.com/services/T/B/x", Some("notify"))
        .await;
    assert!(!ciphertext.contains("hooks.slack.com"));
}
