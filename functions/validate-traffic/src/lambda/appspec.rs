//! A Lambda deployment's AppSpec: which function, alias and versions the deployment moves. Pure.
//!
//! CodeDeploy keeps the AppSpec as the deployment's revision content, JSON or YAML:
//! `Resources: [{<name>: {Type: AWS::Lambda::Function, Properties: {Name, Alias, CurrentVersion,
//! TargetVersion}}}]`. Keys are read without regard to case and versions may be numbers (YAML
//! writes `TargetVersion: 2`), as CodeDeploy itself accepts them.

use serde_json::{Map, Value};

use crate::error::Error;

const LAMBDA_TYPE: &str = "AWS::Lambda::Function";

/// What the deployment shifts: `alias` from `current_version` to `target_version` of `function`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LambdaRelease {
    /// A function name or ARN, as the AppSpec gives it; Lambda's Invoke takes either.
    pub function: String,
    pub alias: String,
    pub current_version: Option<String>,
    pub target_version: String,
}

/// Reads the revision content. JSON first (what CloudFormation and SAM write), YAML otherwise.
pub fn read(content: &str) -> Result<LambdaRelease, Error> {
    let document: Value = if content.trim_start().starts_with('{') {
        serde_json::from_str(content).map_err(|e| invalid(format!("is not valid JSON: {e}")))?
    } else {
        serde_norway::from_str(content).map_err(|e| invalid(format!("is not valid YAML: {e}")))?
    };
    let resources = field(document.as_object(), "Resources")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid("has no Resources list".into()))?;
    // Each item is `{<logical name>: {Type, Properties}}`; a Lambda AppSpec has exactly one.
    let lambda: Vec<&Map<String, Value>> = resources
        .iter()
        .filter_map(Value::as_object)
        .flat_map(|item| item.values())
        .filter_map(Value::as_object)
        .filter(|resource| {
            field(Some(resource), "Type")
                .and_then(Value::as_str)
                .is_some_and(|t| t.eq_ignore_ascii_case(LAMBDA_TYPE))
        })
        .collect();
    let resource = match lambda.as_slice() {
        [one] => *one,
        [] => return Err(invalid(format!("names no {LAMBDA_TYPE} resource"))),
        more => {
            return Err(invalid(format!(
                "names {} {LAMBDA_TYPE} resources; a Lambda deployment moves one",
                more.len()
            )));
        }
    };
    let properties = field(Some(resource), "Properties").and_then(Value::as_object);
    let text = |key: &str| field(properties, key).and_then(scalar);
    let required =
        |key: &'static str| text(key).ok_or_else(|| invalid(format!("has no Properties.{key}")));
    Ok(LambdaRelease {
        function: required("Name")?,
        alias: required("Alias")?,
        current_version: text("CurrentVersion"),
        target_version: required("TargetVersion")?,
    })
}

fn invalid(reason: String) -> Error {
    Error::InvalidAppSpec(reason)
}

/// A key of an object, its case ignored.
fn field<'a>(object: Option<&'a Map<String, Value>>, key: &str) -> Option<&'a Value> {
    let object = object?;
    object.get(key).or_else(|| {
        object
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// A non-empty string or a number, as text.
fn scalar(value: &Value) -> Option<String> {
    let text = match value {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    (!text.is_empty()).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAM_JSON: &str = r#"{"version":0.0,"Resources":[{"OrdersFunction":{"Type":"AWS::Lambda::Function","Properties":{"Name":"shop-OrdersFunction-1A2B","Alias":"live","CurrentVersion":"3","TargetVersion":"4"}}}],"Hooks":[{"BeforeAllowTraffic":"CodeDeployHook_rollout-validate-traffic"},{"AfterAllowTraffic":"CodeDeployHook_rollout-validate-traffic"}]}"#;

    #[test]
    fn reads_the_json_appspec_sam_writes() {
        let release = read(SAM_JSON).unwrap();
        assert_eq!(
            release,
            LambdaRelease {
                function: "shop-OrdersFunction-1A2B".into(),
                alias: "live".into(),
                current_version: Some("3".into()),
                target_version: "4".into(),
            }
        );
    }

    #[test]
    fn reads_a_yaml_appspec_with_numeric_versions() {
        let yaml = "version: 0.0\nResources:\n  - orders:\n      Type: AWS::Lambda::Function\n      Properties:\n        Name: orders\n        Alias: live\n        CurrentVersion: 1\n        TargetVersion: 2\nHooks:\n  - BeforeAllowTraffic: CodeDeployHook_check\n";
        let release = read(yaml).unwrap();
        assert_eq!(release.function, "orders");
        assert_eq!(release.current_version.as_deref(), Some("1"));
        assert_eq!(release.target_version, "2");
    }

    #[test]
    fn keys_are_read_without_regard_to_case() {
        let json = r#"{"resources":[{"f":{"type":"aws::lambda::function","properties":{"name":"f","alias":"a","targetversion":7}}}]}"#;
        let release = read(json).unwrap();
        assert_eq!(release.target_version, "7");
        assert_eq!(release.current_version, None);
    }

    #[test]
    fn what_cannot_be_read_says_why() {
        for (content, why) in [
            ("{\"Resources\": [", "not valid JSON"),
            ("Resources: [unclosed", "not valid YAML"),
            ("{}", "no Resources list"),
            (
                r#"{"Resources":[{"svc":{"Type":"AWS::ECS::Service"}}]}"#,
                "names no",
            ),
            (
                r#"{"Resources":[{"f":{"Type":"AWS::Lambda::Function","Properties":{"Name":"f","Alias":"live"}}}]}"#,
                "Properties.TargetVersion",
            ),
            (
                r#"{"Resources":[{"a":{"Type":"AWS::Lambda::Function"}},{"b":{"Type":"AWS::Lambda::Function"}}]}"#,
                "names 2",
            ),
        ] {
            let err = read(content).unwrap_err();
            assert!(matches!(err, Error::InvalidAppSpec(_)), "{err}");
            assert!(err.to_string().contains(why), "{content}: {err}");
        }
    }
}
