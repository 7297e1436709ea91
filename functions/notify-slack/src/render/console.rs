//! Links into the AWS console. Message text must not steer a URL: a link needs a region code,
//! and an id of plain characters or a percent-encoded name; otherwise the text stays unlinked.

fn is_plain_id(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
}

/// The console origin for a region's partition, or `None` where we do not know it (ISO
/// partitions) or the region text is not a region code.
pub fn console_base(region: &str) -> Option<String> {
    let valid = !region.is_empty()
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid {
        return None;
    }
    if region.starts_with("cn-") {
        Some("https://console.amazonaws.cn".into())
    } else if region.starts_with("us-gov-") {
        Some("https://console.amazonaws-us-gov.com".into())
    } else if region.contains("-iso") {
        None
    } else {
        Some(format!("https://{region}.console.aws.amazon.com"))
    }
}

/// `d-` and nine letters or digits: a CodeDeploy deployment's id. A validation of an ECS
/// deployment or of a rollout without CodeDeploy names something else, with no console page.
pub fn is_codedeploy_id(id: &str) -> bool {
    id.strip_prefix("d-")
        .is_some_and(|rest| rest.len() == 9 && rest.chars().all(|c| c.is_ascii_alphanumeric()))
}

pub fn deployment_url(region: Option<&str>, deployment_id: &str) -> Option<String> {
    let region = region?;
    if !is_plain_id(deployment_id) {
        return None;
    }
    Some(format!(
        "{}/codesuite/codedeploy/deployments/{deployment_id}?region={region}",
        console_base(region)?
    ))
}

pub(super) fn alarm_url(region: Option<&str>, name: &str) -> Option<String> {
    let region = region?;
    Some(format!(
        "{}/cloudwatch/home?region={region}#alarmsV2:alarm/{}",
        console_base(region)?,
        percent_encode(name)
    ))
}

/// A pipeline's execution (its timeline), or the pipeline when the execution id is odd.
pub(super) fn pipeline_url(
    region: Option<&str>,
    pipeline: &str,
    execution_id: Option<&str>,
) -> Option<String> {
    let region = region?;
    let base = console_base(region)?;
    let pipeline = percent_encode(pipeline);
    Some(match execution_id.filter(|id| is_plain_id(id)) {
        Some(id) => format!(
            "{base}/codesuite/codepipeline/pipelines/{pipeline}/executions/{id}/timeline?region={region}"
        ),
        None => format!("{base}/codesuite/codepipeline/pipelines/{pipeline}/view?region={region}"),
    })
}

/// A CodeBuild build (`project:uuid`); `logs` opens its log tab.
pub(super) fn build_url(
    region: Option<&str>,
    account: Option<&str>,
    build_id: &str,
    logs: bool,
) -> Option<String> {
    let region = region?;
    let (project, _) = build_id.split_once(':')?;
    let account = account
        .filter(|a| !a.is_empty() && a.bytes().all(|b| b.is_ascii_digit()))
        .map(|a| format!("{a}/"))
        .unwrap_or_default();
    Some(format!(
        "{}/codesuite/codebuild/{account}projects/{}/build/{}/{}?region={region}",
        console_base(region)?,
        percent_encode(project),
        percent_encode(build_id),
        if logs { "log" } else { "" },
    ))
}

/// An ECS service's deployments.
pub(super) fn ecs_service_url(
    region: Option<&str>,
    cluster: &str,
    service: &str,
) -> Option<String> {
    let region = region?;
    Some(format!(
        "{}/ecs/v2/clusters/{}/services/{}/deployments?region={region}",
        console_base(region)?,
        percent_encode(cluster),
        percent_encode(service)
    ))
}

/// An ECS task.
pub(super) fn ecs_task_url(region: Option<&str>, cluster: &str, task: &str) -> Option<String> {
    let region = region?;
    if !is_plain_id(task) {
        return None;
    }
    Some(format!(
        "{}/ecs/v2/clusters/{}/tasks/{task}/configuration?region={region}",
        console_base(region)?,
        percent_encode(cluster)
    ))
}

/// An Auto Scaling group's activity.
pub(super) fn autoscaling_group_url(region: Option<&str>, group: &str) -> Option<String> {
    let region = region?;
    Some(format!(
        "{}/ec2/home?region={region}#AutoScalingGroupDetails:id={};view=activity",
        console_base(region)?,
        percent_encode(group)
    ))
}

/// A link a message carries (CodeBuild's log deep link, a CodePipeline action's result), kept
/// only if it leads into an AWS console and cannot break out of a Slack link: `https`, a
/// console host, and none of the characters that end or label a link.
pub(super) fn console_link(url: &str) -> Option<String> {
    let rest = url.strip_prefix("https://")?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let console = host == "console.aws.amazon.com"
        || host
            .strip_suffix(".console.aws.amazon.com")
            .is_some_and(|region| console_base(region).is_some())
        || host == "console.amazonaws.cn"
        || host == "console.amazonaws-us-gov.com";
    let safe = url.len() <= 2000
        && url
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._~:/?#[]@!$'()*+,;=%".contains(c));
    (console && safe).then(|| url.to_string())
}

fn percent_encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_link_for_unknown_partitions_or_odd_ids() {
        assert_eq!(console_base("us-iso-east-1"), None);
        assert_eq!(console_base("Asia Pacific (Tokyo)"), None);
        assert_eq!(deployment_url(Some("us-east-1"), "d-1|x"), None);
        assert!(is_codedeploy_id("d-4K7T2ZQ1B"));
        for other in [
            "run-1",
            "d-4K7T2ZQ1",
            "d-4K7T2ZQ1B2",
            "checkout at PRE_SCALE_UP",
            "",
        ] {
            assert!(!is_codedeploy_id(other), "{other}");
        }
    }

    #[test]
    fn alarm_names_are_percent_encoded() {
        assert_eq!(
            alarm_url(Some("us-east-1"), "api 5xx/p99").as_deref(),
            Some(
                "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#alarmsV2:alarm/api%205xx%2Fp99"
            )
        );
        assert_eq!(alarm_url(None, "a"), None);
    }

    #[test]
    fn family_links_by_partition() {
        assert_eq!(
            pipeline_url(Some("cn-north-1"), "shop release", Some("0123-abcd")).as_deref(),
            Some(
                "https://console.amazonaws.cn/codesuite/codepipeline/pipelines/shop%20release/executions/0123-abcd/timeline?region=cn-north-1"
            )
        );
        assert!(
            pipeline_url(Some("us-east-1"), "p", Some("x|y"))
                .unwrap()
                .ends_with("/pipelines/p/view?region=us-east-1")
        );
        assert_eq!(
            build_url(
                Some("us-west-2"),
                Some("123456789012"),
                "shop:8745a7a9",
                true
            )
            .as_deref(),
            Some(
                "https://us-west-2.console.aws.amazon.com/codesuite/codebuild/123456789012/projects/shop/build/shop%3A8745a7a9/log?region=us-west-2"
            )
        );
        assert!(build_url(Some("us-west-2"), None, "no-colon", false).is_none());
        assert_eq!(
            ecs_service_url(Some("us-gov-west-1"), "prod", "shop").as_deref(),
            Some(
                "https://console.amazonaws-us-gov.com/ecs/v2/clusters/prod/services/shop/deployments?region=us-gov-west-1"
            )
        );
        assert!(ecs_task_url(Some("us-iso-east-1"), "prod", "t1").is_none());
        assert!(
            autoscaling_group_url(Some("eu-west-1"), "shop blue")
                .unwrap()
                .contains("#AutoScalingGroupDetails:id=shop%20blue;view=activity")
        );
    }

    #[test]
    fn only_console_links_from_messages_are_kept() {
        let deep = "https://console.aws.amazon.com/cloudwatch/home?region=us-west-2#logEvent:group=/aws/codebuild/shop;stream=8745a7a9";
        assert_eq!(console_link(deep).as_deref(), Some(deep));
        assert!(console_link("https://us-east-1.console.aws.amazon.com/codesuite/x").is_some());
        for bad in [
            "http://console.aws.amazon.com/x",
            "https://evil.example/console.aws.amazon.com",
            "https://console.aws.amazon.com.evil.example/x",
            "https://console.aws.amazon.com/x|click here",
            "https://console.aws.amazon.com/x>",
            "https://console.aws.amazon.com/x&y=<!channel>",
            "https://a b.console.aws.amazon.com/",
            "https://Evil.console.aws.amazon.com/",
        ] {
            assert_eq!(console_link(bad), None, "{bad}");
        }
    }
}
