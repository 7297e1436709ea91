//! Reading fields tolerantly: every field optional, keys matched without regard to case,
//! numbers accepted where text is expected and the other way round, JSON accepted inside
//! strings. Nothing here fails: a field that cannot be read is `None`.

use serde_json::{Map, Value};

/// Case-insensitive key lookup, the way these payloads need it (`RollbackMessage`,
/// `rollbackMessage`).
pub(crate) fn get<'a>(object: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    object.get(key).or_else(|| {
        object
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

pub(crate) fn has(object: &Map<String, Value>, key: &str) -> bool {
    get(object, key).is_some_and(|v| !v.is_null())
}

/// A non-empty string, or a number as text.
pub(crate) fn text(object: &Map<String, Value>, key: &str) -> Option<String> {
    match get(object, key)? {
        Value::String(s) if !s.trim().is_empty() && s != "null" => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A nested object.
pub(crate) fn object<'a>(
    object: &'a Map<String, Value>,
    key: &str,
) -> Option<&'a Map<String, Value>> {
    get(object, key)?.as_object()
}

/// The text at a path of keys through nested objects.
pub(crate) fn text_at(object: &Map<String, Value>, path: &[&str]) -> Option<String> {
    let (last, parents) = path.split_last()?;
    let mut here = object;
    for key in parents {
        here = self::object(here, key)?;
    }
    text(here, last)
}

/// An object, or a string holding JSON of one (how real triggers send nested fields).
pub(crate) fn embedded(object: &Map<String, Value>, key: &str) -> Option<Value> {
    match get(object, key)? {
        Value::String(s) => serde_json::from_str::<Value>(s)
            .ok()
            .filter(|v| !v.is_null()),
        Value::Null => None,
        other => Some(other.clone()),
    }
}

/// A whole number, from a number (`4`, `4.0`) or a string of one.
pub(crate) fn count(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < 1e15)
                .map(|f| f as u64)
        }),
        Value::String(s) => s
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(|f| count(&Value::from(f))),
        _ => None,
    }
}

/// A signed whole number, from a number or a string of one.
pub(crate) fn integer(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 1e15)
                .map(|f| f as i64)
        }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The non-empty strings of a list (or of a single string).
pub(crate) fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|item| match item {
                Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
                _ => None,
            })
            .collect(),
        Some(Value::String(s)) if !s.trim().is_empty() => vec![s.trim().to_string()],
        _ => Vec::new(),
    }
}

/// The region field of an ARN (`arn:aws:cloudwatch:us-east-1:…`), if it has one.
pub fn arn_region(arn: &str) -> Option<String> {
    arn_part(arn, 3)
}

/// The resource part of an ARN (`service/cluster/name` of an ECS service ARN), or the text.
pub(crate) fn arn_resource(arn: &str) -> &str {
    if !arn.starts_with("arn:") {
        return arn;
    }
    arn.splitn(6, ':').nth(5).unwrap_or(arn)
}

fn arn_part(arn: &str, index: usize) -> Option<String> {
    let mut parts = arn.split(':');
    if parts.next()? != "arn" {
        return None;
    }
    let part = parts.nth(index - 1)?;
    (!part.is_empty()).then(|| part.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn arn_parts() {
        assert_eq!(
            arn_region("arn:aws-cn:cloudwatch:cn-north-1:1:alarm:x").as_deref(),
            Some("cn-north-1")
        );
        assert_eq!(arn_region("arn:aws:iam::1:role/x"), None);
        assert_eq!(arn_region("nonsense"), None);
        assert_eq!(
            arn_resource("arn:aws:ecs:us-west-2:1:service/default/web"),
            "service/default/web"
        );
        assert_eq!(arn_resource("plain"), "plain");
    }

    #[test]
    fn numbers_in_any_shape() {
        assert_eq!(count(&json!(4.0)), Some(4));
        assert_eq!(count(&json!("7")), Some(7));
        assert_eq!(count(&json!(-1)), None);
        assert_eq!(count(&json!(1.5)), None);
        assert_eq!(integer(&json!(-1)), Some(-1));
        assert_eq!(integer(&json!(137.0)), Some(137));
        assert_eq!(integer(&json!(null)), None);
        assert_eq!(strings(Some(&json!(["a", " ", 3, "b"]))), vec!["a", "b"]);
        let o = json!({"A": {"b": {"C": 5}}});
        assert_eq!(
            text_at(o.as_object().unwrap(), &["a", "B", "c"]).as_deref(),
            Some("5")
        );
    }
}
