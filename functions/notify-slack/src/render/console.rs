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
}
