//! The forward action: finding ours in an action list, changing only the blue and green
//! weights, and checking a read-back. Pure; works on the SDK's plain data types.
//!
//! ModifyListener and ModifyRule replace the whole action list, so the list is rewritten from
//! what was read: other actions, `Order`, the group stickiness and other target groups stay.

use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, ForwardActionConfig, TargetGroupTuple,
};
use serde_json::{Map, Value, json};

use crate::error::Error;
use crate::plan::{MAX_WEIGHT, Weights};

/// ALB's limit of target groups per forward action.
pub const MAX_TARGET_GROUPS: usize = 5;

/// Our forward action within an action list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub index: usize,
    pub weights: Weights,
}

/// The target groups of a forward action with their weights. A weight left out counts as 1,
/// as ALB treats it.
pub fn target_groups(action: &Action) -> Vec<(String, i32)> {
    match action.forward_config() {
        Some(config) if !config.target_groups().is_empty() => config
            .target_groups()
            .iter()
            .map(|t| {
                (
                    t.target_group_arn().unwrap_or_default().to_string(),
                    t.weight().unwrap_or(1),
                )
            })
            .collect(),
        _ => action
            .target_group_arn()
            .map(|arn| vec![(arn.to_string(), 1)])
            .unwrap_or_default(),
    }
}

/// Finds the forward action holding both target groups and checks it is one we may shift.
pub fn locate(actions: &[Action], target: &str, blue: &str, green: &str) -> Result<Located, Error> {
    let Some(index) = actions
        .iter()
        .position(|a| a.r#type() == Some(&ActionTypeEnum::Forward))
    else {
        let types: Vec<&str> = actions
            .iter()
            .map(|a| a.r#type().map(ActionTypeEnum::as_str).unwrap_or("unknown"))
            .collect();
        return Err(Error::NotForwardAction {
            target: target.to_string(),
            types: if types.is_empty() {
                "none".into()
            } else {
                types.join(", ")
            },
        });
    };
    let groups = target_groups(&actions[index]);
    if groups.len() > MAX_TARGET_GROUPS {
        return Err(Error::TooManyTargetGroups {
            target: target.to_string(),
            count: groups.len(),
        });
    }
    if let Some((arn, weight)) = groups.iter().find(|(_, w)| !(0..=MAX_WEIGHT).contains(w)) {
        return Err(Error::WeightOutOfRange {
            target: target.to_string(),
            arn: arn.clone(),
            weight: *weight,
        });
    }
    let weight_of = |role: &'static str, arn: &str| {
        groups
            .iter()
            .find(|(a, _)| a == arn)
            .map(|(_, w)| *w)
            .ok_or_else(|| Error::TargetGroupNotInAction {
                target: target.to_string(),
                role,
                arn: arn.to_string(),
            })
    };
    let weights = Weights {
        blue: weight_of("blue", blue)?,
        green: weight_of("green", green)?,
    };
    Ok(Located { index, weights })
}

/// The action list with only blue's and green's weights changed.
pub fn with_weights(
    actions: &[Action],
    located: &Located,
    blue: &str,
    green: &str,
    weights: Weights,
) -> Vec<Action> {
    let mut out = actions.to_vec();
    for (i, action) in out.iter_mut().enumerate() {
        if i == located.index {
            let tuples = target_groups(action)
                .into_iter()
                .map(|(arn, weight)| {
                    let weight = if arn == blue {
                        weights.blue
                    } else if arn == green {
                        weights.green
                    } else {
                        weight
                    };
                    TargetGroupTuple::builder()
                        .target_group_arn(arn)
                        .weight(weight)
                        .build()
                })
                .collect();
            let stickiness = action
                .forward_config()
                .and_then(|c| c.target_group_stickiness_config())
                .cloned();
            action.forward_config = Some(
                ForwardActionConfig::builder()
                    .set_target_groups(Some(tuples))
                    .set_target_group_stickiness_config(stickiness)
                    .build(),
            );
            // With more than one target group ALB takes them from ForwardConfig only.
            action.target_group_arn = None;
        } else if let Some(oidc) = action.authenticate_oidc_config.as_mut() {
            // Describe never returns the client secret; without this flag ALB would demand it.
            if oidc.client_secret.is_none() {
                oidc.use_existing_client_secret = Some(true);
            }
        }
    }
    out
}

/// Checks that what was read back is what was written: same actions in the same places, and
/// the forward action's target groups with the written weights and stickiness.
pub fn verify(written: &[Action], read: &[Action], index: usize) -> Result<(), String> {
    if written.len() != read.len() {
        return Err(format!(
            "{} actions written, {} read back",
            written.len(),
            read.len()
        ));
    }
    for (i, (w, r)) in written.iter().zip(read).enumerate() {
        if w.r#type() != r.r#type() || w.order() != r.order() {
            return Err(format!("action {i} changed type or order"));
        }
    }
    let mut expected = target_groups(&written[index]);
    let mut found = target_groups(&read[index]);
    expected.sort();
    found.sort();
    if expected != found {
        return Err(format!(
            "target groups written {expected:?}, read back {found:?}"
        ));
    }
    let stickiness = |a: &Action| {
        a.forward_config()
            .and_then(|c| c.target_group_stickiness_config())
            .map(|s| (s.enabled().unwrap_or(false), s.duration_seconds()))
    };
    match (stickiness(&written[index]), stickiness(&read[index])) {
        (Some((true, duration)), Some(read)) if read != (true, duration) => Err(format!(
            "group stickiness written enabled for {duration:?} s, read back {read:?}"
        )),
        (Some((true, _)), None) => Err("group stickiness written, not read back".into()),
        _ => Ok(()),
    }
}

/// A forward action in the API's JSON shape, as `aws elbv2 modify-listener` takes it.
pub fn forward_json(action: &Action) -> Value {
    let mut out = Map::new();
    out.insert("Type".into(), json!("forward"));
    if let Some(order) = action.order() {
        out.insert("Order".into(), json!(order));
    }
    let groups: Vec<Value> = target_groups(action)
        .into_iter()
        .map(|(arn, weight)| json!({"TargetGroupArn": arn, "Weight": weight}))
        .collect();
    let mut config = Map::new();
    config.insert("TargetGroups".into(), Value::Array(groups));
    if let Some(s) = action
        .forward_config()
        .and_then(|c| c.target_group_stickiness_config())
    {
        let mut sticky = Map::new();
        sticky.insert("Enabled".into(), json!(s.enabled().unwrap_or(false)));
        if let Some(duration) = s.duration_seconds() {
            sticky.insert("DurationSeconds".into(), json!(duration));
        }
        config.insert("TargetGroupStickinessConfig".into(), Value::Object(sticky));
    }
    out.insert("ForwardConfig".into(), Value::Object(config));
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_elasticloadbalancingv2::types::{
        AuthenticateOidcActionConfig, FixedResponseActionConfig, TargetGroupStickinessConfig,
    };

    const BLUE: &str = "arn:tg/blue";
    const GREEN: &str = "arn:tg/green";
    const OTHER: &str = "arn:tg/other";

    fn tuple(arn: &str, weight: i32) -> TargetGroupTuple {
        TargetGroupTuple::builder()
            .target_group_arn(arn)
            .weight(weight)
            .build()
    }

    fn forward(groups: &[(&str, i32)], sticky: Option<i32>) -> Action {
        let mut config = ForwardActionConfig::builder();
        for (arn, weight) in groups {
            config = config.target_groups(tuple(arn, *weight));
        }
        if let Some(duration) = sticky {
            config = config.target_group_stickiness_config(
                TargetGroupStickinessConfig::builder()
                    .enabled(true)
                    .duration_seconds(duration)
                    .build(),
            );
        }
        Action::builder()
            .r#type(ActionTypeEnum::Forward)
            .order(2)
            .forward_config(config.build())
            .build()
    }

    fn oidc() -> Action {
        Action::builder()
            .r#type(ActionTypeEnum::AuthenticateOidc)
            .order(1)
            .authenticate_oidc_config(
                AuthenticateOidcActionConfig::builder()
                    .issuer("https://idp")
                    .client_id("client")
                    .build(),
            )
            .build()
    }

    #[test]
    fn only_blue_and_green_weights_change() {
        let actions = vec![
            oidc(),
            forward(&[(BLUE, 999), (OTHER, 7), (GREEN, 0)], Some(3600)),
        ];
        let located = locate(&actions, "l", BLUE, GREEN).unwrap();
        assert_eq!(located.index, 1);
        assert_eq!(located.weights, Weights::ALL_BLUE);
        let target = Weights {
            blue: 900,
            green: 100,
        };
        let written = with_weights(&actions, &located, BLUE, GREEN, target);
        assert_eq!(
            target_groups(&written[1]),
            vec![
                (BLUE.to_string(), 900),
                (OTHER.to_string(), 7),
                (GREEN.to_string(), 100)
            ]
        );
        assert_eq!(written[1].order(), Some(2));
        assert_eq!(
            written[1]
                .forward_config()
                .unwrap()
                .target_group_stickiness_config()
                .unwrap()
                .duration_seconds(),
            Some(3600)
        );
        // The authenticate action is kept, told to keep the secret ALB already has.
        assert_eq!(
            written[0]
                .authenticate_oidc_config()
                .unwrap()
                .use_existing_client_secret(),
            Some(true)
        );
        assert_eq!(written[0].order(), Some(1));
        assert_eq!(verify(&written, &written, 1), Ok(()));
    }

    #[test]
    fn refuses_what_it_must_not_touch() {
        let fixed = Action::builder()
            .r#type(ActionTypeEnum::FixedResponse)
            .fixed_response_config(
                FixedResponseActionConfig::builder()
                    .status_code("503")
                    .build(),
            )
            .build();
        assert!(matches!(
            locate(&[fixed], "l", BLUE, GREEN),
            Err(Error::NotForwardAction { types, .. }) if types == "fixed-response"
        ));
        let only_blue = Action::builder()
            .r#type(ActionTypeEnum::Forward)
            .target_group_arn(BLUE)
            .build();
        assert!(matches!(
            locate(&[only_blue], "l", BLUE, GREEN),
            Err(Error::TargetGroupNotInAction { role: "green", .. })
        ));
        let unknown = forward(&[(BLUE, 1), ("arn:tg/else", 0)], None);
        assert!(matches!(
            locate(&[unknown], "l", BLUE, GREEN),
            Err(Error::TargetGroupNotInAction { role: "green", .. })
        ));
        let six = forward(
            &[
                (BLUE, 1),
                (GREEN, 0),
                ("a", 0),
                ("b", 0),
                ("c", 0),
                ("d", 0),
            ],
            None,
        );
        assert!(matches!(
            locate(&[six], "l", BLUE, GREEN),
            Err(Error::TooManyTargetGroups { count: 6, .. })
        ));
        let heavy = forward(&[(BLUE, 1000), (GREEN, 0)], None);
        assert!(matches!(
            locate(&[heavy], "l", BLUE, GREEN),
            Err(Error::WeightOutOfRange { weight: 1000, .. })
        ));
    }

    #[test]
    fn verify_catches_a_different_read_back() {
        let actions = vec![forward(&[(BLUE, 900), (GREEN, 100)], Some(60))];
        let other = vec![forward(&[(BLUE, 500), (GREEN, 500)], Some(60))];
        assert!(
            verify(&actions, &other, 0)
                .unwrap_err()
                .contains("read back")
        );
        let unsticky = vec![forward(&[(BLUE, 900), (GREEN, 100)], None)];
        assert!(verify(&actions, &unsticky, 0).is_err());
        assert!(verify(&actions, &[], 0).is_err());
    }

    #[test]
    fn forward_json_matches_the_api_shape() {
        let action = forward(&[(BLUE, 900), (GREEN, 100)], Some(60));
        assert_eq!(
            forward_json(&action),
            json!({
                "Type": "forward",
                "Order": 2,
                "ForwardConfig": {
                    "TargetGroups": [
                        {"TargetGroupArn": BLUE, "Weight": 900},
                        {"TargetGroupArn": GREEN, "Weight": 100}
                    ],
                    "TargetGroupStickinessConfig": {"Enabled": true, "DurationSeconds": 60}
                }
            })
        );
    }
}
