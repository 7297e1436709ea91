//! The template's least privilege, read from `template.yaml`: moto does not enforce IAM, so no
//! bench run can catch a grant that is too wide. No YAML parser is in the workspace; the checks
//! walk the template by indentation, which its style (two spaces, block lists) keeps reliable.
//! `make lint` (sam validate --lint, cfn-lint) checks that the same text is a valid template.

fn template() -> String {
    let path = rollout_bench::workspace_root().join("template.yaml");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// The lines under `path` (keys, each nested in the one before), the last key's line first.
fn block(text: &str, path: &[&str]) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let (mut from, mut to, mut parent_indent) = (0, lines.len(), None::<usize>);
    for key in path {
        let wanted = format!("{key}:");
        let start = (from..to)
            .find(|&i| {
                let line = lines[i];
                let trimmed = line.trim_start().trim_start_matches("- ");
                (trimmed == wanted || trimmed.starts_with(&format!("{wanted} ")))
                    && parent_indent.is_none_or(|p| indent(line) > p)
            })
            .unwrap_or_else(|| panic!("no {path:?} in template.yaml (missing {key})"));
        let own = indent(lines[start]);
        let end = (start + 1..to)
            .find(|&i| !lines[i].trim().is_empty() && indent(lines[i]) <= own)
            .unwrap_or(to);
        (from, to, parent_indent) = (start, end, Some(own));
    }
    lines[from..to].join("\n")
}

/// The items of the first block list in `block` (lines starting `- ` at the list's indent).
fn items(block: &str) -> Vec<String> {
    let lines: Vec<&str> = block.lines().skip(1).collect();
    let Some(list_indent) = lines
        .iter()
        .filter(|l| l.trim_start().starts_with("- "))
        .map(|l| indent(l))
        .min()
    else {
        return Vec::new();
    };
    let mut out: Vec<Vec<&str>> = Vec::new();
    for line in lines {
        if indent(line) == list_indent && line.trim_start().starts_with("- ") {
            out.push(vec![line]);
        } else if let Some(item) = out.last_mut() {
            item.push(line);
        }
    }
    out.into_iter().map(|item| item.join("\n")).collect()
}

/// Every IAM statement in `text` that names `action`.
fn statements_with<'a>(text: &'a str, action: &str) -> Vec<String> {
    let lines: Vec<&'a str> = text.lines().collect();
    let mut found = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if line.trim_start().trim_start_matches("- ") != "Statement:" {
            continue;
        }
        let own = indent(line);
        let end = (i + 1..lines.len())
            .find(|&j| !lines[j].trim().is_empty() && indent(lines[j]) <= own)
            .unwrap_or(lines.len());
        let statement_block = lines[i..end].join("\n");
        found.extend(
            items(&statement_block)
                .into_iter()
                .filter(|s| s.contains(action)),
        );
    }
    found
}

#[test]
fn validate_traffic_reports_only_to_the_listed_deployment_groups() {
    let text = template();
    let parameter = block(&text, &["Parameters", "ValidateDeploymentGroups"]);
    // Required: a hook that may report nowhere would leave deployments waiting an hour.
    assert!(!parameter.contains("Default:"), "{parameter}");
    // The pattern allows at most as many pairs as the policy has slots.
    assert!(parameter.contains("{0,9}"), "{parameter}");

    let granted = statements_with(&text, "codedeploy:PutLifecycleEventHookExecutionStatus");
    assert_eq!(granted.len(), 1, "granted once: {granted:#?}");
    let statement = &granted[0];
    assert!(
        !statement.contains("deploymentgroup:*") && !statement.contains("Resource: \"*\""),
        "not every deployment group: {statement}"
    );
    let slots: Vec<&str> = statement
        .lines()
        .filter(|l| l.contains("!Select ["))
        .collect();
    assert_eq!(slots.len(), 10, "{statement}");
    for (n, slot) in slots.iter().enumerate() {
        assert!(
            slot.contains(&format!("!Select [{n}, "))
                && slot.contains(&format!(
                    "${{ValidateDeploymentGroups}}{}",
                    ",${First}".repeat(9)
                )),
            "{slot}"
        );
    }
    assert_eq!(
        statement
            .matches(
                "arn:${AWS::Partition}:codedeploy:${AWS::Region}:${AWS::AccountId}:deploymentgroup:${Group}"
            )
            .count(),
        10,
        "{statement}"
    );

    // Without groups there is no grant at all.
    let role_policies = block(&text, &["ValidateTrafficRole", "Properties", "Policies"]);
    let report = items(&role_policies)
        .into_iter()
        .find(|p| p.contains("PutLifecycleEventHookExecutionStatus"))
        .expect("the report policy");
    let mut head = report.lines().map(str::trim);
    assert_eq!(head.next(), Some("- !If"), "{report}");
    assert_eq!(head.next(), Some("- ValidateGroupsGiven"), "{report}");
    let condition = block(&text, &["Conditions", "ValidateGroupsGiven"]);
    assert!(
        condition.contains("!Ref ValidateDeploymentGroups"),
        "{condition}"
    );
}

#[test]
fn notify_slack_decrypts_without_a_context_only_when_asked() {
    let text = template();
    let parameter = block(&text, &["Parameters", "SlackDecryptWithoutContext"]);
    assert!(parameter.contains("Default: \"false\""), "{parameter}");
    let condition = block(&text, &["Conditions", "SlackDecryptWithoutContextAllowed"]);
    assert!(
        condition.contains("!Equals [!Ref SlackDecryptWithoutContext, \"true\"]"),
        "{condition}"
    );

    let policies = block(&text, &["NotifySlackFunction", "Properties", "Policies"]);
    let policies = items(&policies);
    let context_free: Vec<&String> = policies
        .iter()
        .filter(|p| p.contains("kms:EncryptionContextKeys: \"true\""))
        .collect();
    assert_eq!(context_free.len(), 1, "{policies:#?}");
    let mut head = context_free[0].lines().map(str::trim);
    assert_eq!(head.next(), Some("- !If"), "{}", context_free[0]);
    assert_eq!(
        head.next(),
        Some("- SlackDecryptWithoutContextAllowed"),
        "{}",
        context_free[0]
    );

    // Every unconditional kms:Decrypt needs the function's own encryption context.
    for policy in policies
        .iter()
        .filter(|p| !p.trim_start().starts_with("- !If"))
    {
        for statement in statements_with(policy, "kms:Decrypt") {
            assert!(
                statement.contains(
                    "kms:EncryptionContext:LambdaFunctionName: !Sub ${AWS::StackName}-notify-slack"
                ),
                "{statement}"
            );
        }
    }
}

#[test]
fn notify_slack_posters_are_bounded_by_reserved_concurrency_unless_zero() {
    let text = template();
    let parameter = block(&text, &["Parameters", "NotifyReservedConcurrency"]);
    assert!(parameter.contains("Default: 2"), "{parameter}");
    assert!(parameter.contains("MinValue: 0"), "{parameter}");
    let condition = block(&text, &["Conditions", "NotifyConcurrencyReserved"]);
    assert!(
        condition.contains("!Not [!Equals [!Ref NotifyReservedConcurrency, \"0\"]]"),
        "{condition}"
    );
    let reserved = block(
        &text,
        &[
            "NotifySlackFunction",
            "Properties",
            "ReservedConcurrentExecutions",
        ],
    );
    let lines: Vec<&str> = reserved.lines().map(str::trim).collect();
    assert!(
        lines.ends_with(&[
            "- NotifyConcurrencyReserved",
            "- !Ref NotifyReservedConcurrency",
            "- !Ref AWS::NoValue",
        ]),
        "{reserved}"
    );
}

#[test]
fn notify_slack_takes_the_topic_in_batches_from_a_queue_only_the_topic_feeds() {
    let text = template();
    let event = block(&text, &["NotifySlackFunction", "Events", "Notifications"]);
    for expected in [
        "Type: SQS",
        "Queue: !GetAtt NotifySlackQueue.Arn",
        "MaximumBatchingWindowInSeconds: !Ref NotifyBatchWindowSeconds",
        "- ReportBatchItemFailures",
    ] {
        assert!(event.contains(expected), "{expected} not in {event}");
    }
    // The trigger's concurrency follows the reservation (never above it, which would throttle).
    let maximum = block(&event, &["ScalingConfig", "MaximumConcurrency"]);
    let lines: Vec<&str> = maximum.lines().map(str::trim).collect();
    assert!(
        lines.ends_with(&[
            "- NotifyConcurrencyReserved",
            "- !Ref NotifyReservedConcurrency",
            "- 2",
        ]),
        "{maximum}"
    );
    let rule = block(&text, &["Rules", "NotifyConcurrencyIsZeroOrAtLeastTwo"]);
    assert!(
        rule.contains("!Not [!Equals [!Ref NotifyReservedConcurrency, \"1\"]]"),
        "{rule}"
    );

    let timeout: u32 = block(&text, &["NotifySlackFunction", "Properties", "Timeout"])
        .trim()
        .trim_start_matches("Timeout:")
        .trim()
        .parse()
        .expect("a numeric timeout");
    let queue = block(&text, &["NotifySlackQueue", "Properties"]);
    let visibility: u32 = block(&queue, &["VisibilityTimeout"])
        .trim()
        .trim_start_matches("VisibilityTimeout:")
        .trim()
        .parse()
        .expect("a numeric visibility timeout");
    assert!(visibility >= 6 * timeout, "{visibility} < 6 × {timeout}");
    assert!(queue.contains("SqsManagedSseEnabled: true"), "{queue}");
    let redrive = block(&queue, &["RedrivePolicy"]);
    assert!(
        redrive.contains("deadLetterTargetArn: !GetAtt NotifySlackDeadLetterQueue.Arn")
            && redrive.contains("maxReceiveCount: 5"),
        "{redrive}"
    );

    let statements = items(&block(
        &text,
        &[
            "NotifySlackQueuePolicy",
            "Properties",
            "PolicyDocument",
            "Statement",
        ],
    ));
    assert_eq!(statements.len(), 1, "{statements:#?}");
    for expected in [
        "Service: sns.amazonaws.com",
        "Action: sqs:SendMessage",
        "aws:SourceArn: !Ref NotificationsTopic",
    ] {
        assert!(statements[0].contains(expected), "{}", statements[0]);
    }
    let subscription = block(&text, &["NotifySlackSubscription", "Properties"]);
    for expected in [
        "TopicArn: !Ref NotificationsTopic",
        "Protocol: sqs",
        "Endpoint: !GetAtt NotifySlackQueue.Arn",
        "RawMessageDelivery: false",
    ] {
        assert!(subscription.contains(expected), "{subscription}");
    }
}

#[test]
fn eventbridge_rules_of_this_account_may_publish_to_the_topic() {
    let text = template();
    let statements = block(
        &text,
        &[
            "NotificationsTopicPolicy",
            "Properties",
            "PolicyDocument",
            "Statement",
        ],
    );
    let statements = items(&statements);
    let events: Vec<&String> = statements
        .iter()
        .filter(|s| s.contains("Service: events.amazonaws.com"))
        .collect();
    assert_eq!(events.len(), 1, "{statements:#?}");
    assert!(events[0].contains("Action: sns:Publish"), "{}", events[0]);
    assert!(
        events[0].contains("aws:SourceAccount: !Ref AWS::AccountId"),
        "{}",
        events[0]
    );
    // The policy replaces SNS's default: the account's own principals keep publishing.
    let own: Vec<&String> = statements
        .iter()
        .filter(|s| s.contains("AWS:SourceOwner: !Ref AWS::AccountId"))
        .collect();
    assert_eq!(own.len(), 1, "{statements:#?}");
    assert!(own[0].contains("- sns:Publish"), "{}", own[0]);
}

#[test]
fn validate_traffic_gets_vpc_permissions_only_with_subnets() {
    let text = template();
    let function = block(
        &text,
        &["Resources", "ValidateTrafficFunction", "Properties"],
    );
    // A role SAM generates gets AWSLambdaVPCAccessExecutionRole whenever VpcConfig is present,
    // even as an !If that resolves to nothing; an explicit role avoids that.
    assert!(
        function.contains("Role: !GetAtt ValidateTrafficRole.Arn"),
        "{function}"
    );
    assert!(!function.contains("Policies:"), "{function}");

    let managed = block(
        &text,
        &["ValidateTrafficRole", "Properties", "ManagedPolicyArns"],
    );
    let managed = items(&managed);
    let vpc: Vec<&String> = managed
        .iter()
        .filter(|m| m.contains("AWSLambdaVPCAccessExecutionRole"))
        .collect();
    assert_eq!(vpc.len(), 1, "{managed:#?}");
    let mut head = vpc[0].lines().map(str::trim);
    assert_eq!(head.next(), Some("- !If"), "{}", vpc[0]);
    assert_eq!(head.next(), Some("- ValidateInVpc"), "{}", vpc[0]);
    assert_eq!(
        text.matches("policy/service-role/AWSLambdaVPCAccessExecutionRole")
            .count(),
        1,
        "VPC access granted elsewhere"
    );
    let role = block(&text, &["Resources", "ValidateTrafficRole"]);
    let granted_ec2: Vec<&str> = role
        .lines()
        .filter(|l| !l.trim_start().starts_with('#') && l.contains("ec2:"))
        .collect();
    assert!(granted_ec2.is_empty(), "{granted_ec2:?}");
    let condition = block(&text, &["Conditions", "ValidateInVpc"]);
    assert!(condition.contains("!Ref ValidateSubnetIds"), "{condition}");
}

#[test]
fn the_block_reader_follows_indentation() {
    let text = "A:\n  B:\n    - x: 1\n      y: 2\n    - z: 3\n  C: 4\nD: 5\n";
    assert_eq!(block(text, &["A", "C"]), "  C: 4");
    let b = block(text, &["A", "B"]);
    assert_eq!(
        items(&b),
        vec![
            "    - x: 1\n      y: 2".to_string(),
            "    - z: 3".to_string()
        ]
    );
    let statements = "Statement:\n  - Action: a:B\n    Resource: r\n  - Action: c:D\n";
    assert_eq!(statements_with(statements, "c:D"), vec!["  - Action: c:D"]);
}

#[test]
fn ecs_invokes_validate_traffic_only_through_its_hook_role() {
    let text = template();
    let role = block(&text, &["Resources", "ValidateTrafficEcsHookRole"]);
    assert!(role.contains("Type: AWS::IAM::Role"), "{role}");
    // Only ECS may assume it...
    let trust = block(&role, &["AssumeRolePolicyDocument", "Statement"]);
    let trust = items(&trust);
    assert_eq!(trust.len(), 1, "{trust:#?}");
    assert!(
        trust[0].contains("Service: ecs.amazonaws.com") && trust[0].contains("sts:AssumeRole"),
        "{}",
        trust[0]
    );
    // ...and it may do one thing: invoke validate-traffic (its versions and aliases included).
    let statements = statements_with(&role, "Effect:");
    assert_eq!(statements.len(), 2, "trust + one grant: {statements:#?}");
    let grant = statements_with(&role, "lambda:InvokeFunction");
    assert_eq!(grant.len(), 1, "{grant:#?}");
    let resources: Vec<&str> = grant[0]
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("- !"))
        .collect();
    assert_eq!(
        resources,
        [
            "- !GetAtt ValidateTrafficFunction.Arn",
            "- !Sub ${ValidateTrafficFunction.Arn}:*"
        ],
        "{}",
        grant[0]
    );
    assert!(!role.contains("Resource: \"*\""), "{role}");
    assert!(!role.contains("ManagedPolicyArns"), "{role}");
    // The only other grant to invoke a function is validate-traffic's own, on the listed
    // functions (validate_traffic_invokes_only_the_listed_functions).
    assert_eq!(text.matches("lambda:InvokeFunction").count(), 2);

    let output = block(&text, &["Outputs", "ValidateTrafficEcsHookRoleArn"]);
    assert!(
        output.contains("Value: !GetAtt ValidateTrafficEcsHookRole.Arn"),
        "{output}"
    );
    let output = block(&text, &["Outputs", "ValidateTrafficFunctionArn"]);
    assert!(
        output.contains("Value: !GetAtt ValidateTrafficFunction.Arn"),
        "{output}"
    );
}

#[test]
fn validate_traffic_invokes_only_the_listed_functions() {
    let text = template();
    let parameter = block(&text, &["Parameters", "ValidateLambdaFunctions"]);
    assert!(parameter.contains("Default: \"\""), "{parameter}");
    assert!(parameter.contains("{0,9}"), "{parameter}");
    let role = block(&text, &["Resources", "ValidateTrafficRole"]);
    let granted = statements_with(&role, "lambda:InvokeFunction");
    assert_eq!(granted.len(), 1, "{granted:#?}");
    let statement = &granted[0];
    assert!(statement.contains("lambda:GetAlias"), "{statement}");
    assert!(!statement.contains("Resource: \"*\""), "{statement}");
    // Ten slots, each the function and its versions and aliases, nothing else.
    let function = "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${Name}";
    let arns: Vec<&str> = statement
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("- arn:"))
        .collect();
    assert_eq!(arns.len(), 20, "{statement}");
    for pair in arns.chunks(2) {
        assert_eq!(pair[0], format!("- {function}"));
        assert_eq!(pair[1], format!("- {function}:*"));
    }
    let slots: Vec<&str> = statement
        .lines()
        .filter(|l| l.contains("!Select ["))
        .collect();
    for (n, slot) in slots.iter().enumerate() {
        assert!(
            slot.contains(&format!("!Select [{}, ", n / 2))
                && slot.contains(&format!(
                    "${{ValidateLambdaFunctions}}{}",
                    ",${First}".repeat(9)
                )),
            "{slot}"
        );
    }
    // Without names there is no grant at all.
    let policies = block(&text, &["ValidateTrafficRole", "Properties", "Policies"]);
    let policy = items(&policies)
        .into_iter()
        .find(|p| p.contains("lambda:InvokeFunction"))
        .expect("the invoke policy");
    let mut head = policy.lines().map(str::trim);
    assert_eq!(head.next(), Some("- !If"), "{policy}");
    assert_eq!(head.next(), Some("- ValidateLambdaGiven"), "{policy}");
}

#[test]
fn validate_traffic_reads_service_revisions_and_rules_only() {
    let text = template();
    let role = block(&text, &["Resources", "ValidateTrafficRole"]);
    let revisions = statements_with(&role, "ecs:DescribeServiceRevisions");
    assert_eq!(revisions.len(), 1, "{revisions:#?}");
    assert!(
        revisions[0].contains(
            "Resource: !Sub arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:service-revision/*"
        ),
        "{}",
        revisions[0]
    );
    // Reading, never changing: no other ECS action anywhere in the template.
    let ecs_actions: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && (l.contains(" ecs:") || l.starts_with("- ecs:")))
        .collect();
    assert_eq!(
        ecs_actions,
        ["Action: ecs:DescribeServiceRevisions"],
        "{ecs_actions:?}"
    );
    let rules = statements_with(&role, "elasticloadbalancing:DescribeRules");
    assert_eq!(rules.len(), 1, "{rules:#?}");
    assert!(
        statements_with(&role, "elasticloadbalancing:Modify").is_empty(),
        "validate-traffic never changes a listener or rule"
    );
}

#[test]
fn shift_traffic_scales_in_only_the_listed_groups() {
    let text = template();
    let parameter = block(&text, &["Parameters", "ShiftAutoScalingGroupNames"]);
    assert!(parameter.contains("Default: \"\""), "{parameter}");
    assert!(parameter.contains("{0,9}"), "{parameter}");
    let function = block(&text, &["Resources", "ShiftTrafficFunction"]);
    let granted = statements_with(&function, "autoscaling:UpdateAutoScalingGroup");
    assert_eq!(granted.len(), 1, "{granted:#?}");
    let statement = &granted[0];
    assert!(!statement.contains("Resource: \"*\""), "{statement}");
    let group = "arn:${AWS::Partition}:autoscaling:${AWS::Region}:${AWS::AccountId}:autoScalingGroup:*:autoScalingGroupName/${Name}";
    let arns: Vec<&str> = statement
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("- arn:"))
        .collect();
    assert_eq!(arns, vec![format!("- {group}"); 10], "{statement}");
    let slots: Vec<&str> = statement
        .lines()
        .filter(|l| l.contains("!Select ["))
        .collect();
    assert_eq!(slots.len(), 10);
    for (n, slot) in slots.iter().enumerate() {
        assert!(
            slot.contains(&format!("!Select [{n}, "))
                && slot.contains(&format!(
                    "${{ShiftAutoScalingGroupNames}}{}",
                    ",${First}".repeat(9)
                )),
            "{slot}"
        );
    }
    // Without names there is no grant at all, not even the read.
    let policies = block(&text, &["ShiftTrafficFunction", "Properties", "Policies"]);
    let policy = items(&policies)
        .into_iter()
        .find(|p| p.contains("autoscaling:UpdateAutoScalingGroup"))
        .expect("the scale-in policy");
    assert!(
        policy.contains("autoscaling:DescribeAutoScalingGroups"),
        "{policy}"
    );
    let mut head = policy.lines().map(str::trim);
    assert_eq!(head.next(), Some("- !If"), "{policy}");
    assert_eq!(head.next(), Some("- ShiftGroupsGiven"), "{policy}");
    // The wait before a clean-up reads blue's deregistration delay.
    assert_eq!(
        statements_with(
            &function,
            "elasticloadbalancing:DescribeTargetGroupAttributes"
        )
        .len(),
        1
    );
}
