//! Keeps the values of `PROBE_HEADERS` out of everything we write down. A green error page may
//! echo the request headers back (debug pages, some proxies); its excerpt then reaches logs,
//! the rollout event and Slack. Pure: no I/O here.

use std::fmt;

use reqwest::header::HeaderMap;

/// What stands in for a redacted value.
pub const MASK: &str = "[redacted]";

/// The configured header values, each replaced by [`MASK`] wherever it appears.
#[derive(Clone, Default)]
pub struct Redactor {
    /// Longest first, so a value that contains another is masked whole.
    values: Vec<String>,
}

impl Redactor {
    /// Every header value, not only the well-known credential headers: a custom header such as
    /// `X-Probe-Token` is just as secret, and we cannot tell which ones are.
    pub fn from_headers(headers: &HeaderMap) -> Redactor {
        let mut values: Vec<String> = headers
            .values()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_string())
            .filter(|v| !v.is_empty())
            .collect();
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        values.dedup();
        Redactor { values }
    }

    /// The longest value, in characters: how far past a cut a value may reach.
    pub fn longest(&self) -> usize {
        self.values
            .first()
            .map(|v| v.chars().count())
            .unwrap_or_default()
    }

    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for value in &self.values {
            if out.contains(value.as_str()) {
                out = out.replace(value.as_str(), MASK);
            }
        }
        out
    }
}

/// Never prints the values themselves.
impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redactor({} values)", self.values.len())
    }
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    fn redactor(pairs: &[(&'static str, &str)]) -> Redactor {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(*name, HeaderValue::from_str(value).unwrap());
        }
        Redactor::from_headers(&headers)
    }

    #[test]
    fn every_configured_value_is_masked() {
        let r = redactor(&[
            ("authorization", "Bearer s3cret-token"),
            ("x-probe-token", "tok-42"),
        ]);
        let page = "echo: Authorization: Bearer s3cret-token; X-Probe-Token: tok-42";
        let out = r.redact(page);
        assert!(!out.contains("s3cret") && !out.contains("tok-42"), "{out}");
        assert_eq!(out.matches(MASK).count(), 2);
    }

    #[test]
    fn a_value_inside_another_is_masked_whole() {
        let r = redactor(&[("x-a", "abc"), ("x-b", "abcdef")]);
        assert_eq!(r.redact("abcdef abc"), format!("{MASK} {MASK}"));
        assert_eq!(r.longest(), 6);
    }

    #[test]
    fn no_headers_change_nothing_and_debug_hides_values() {
        assert_eq!(Redactor::default().redact("body"), "body");
        let r = redactor(&[("authorization", "Bearer s3cret-token")]);
        assert!(!format!("{r:?}").contains("s3cret"));
    }
}
