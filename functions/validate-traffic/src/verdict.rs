//! The verdict: a pure function of the probe samples and the thresholds. No I/O here.

use std::collections::BTreeMap;
use std::time::Duration;

use regex::Regex;

use crate::redact::Redactor;

/// How many failures the verdict keeps as evidence.
pub const FAILURES_KEPT: usize = 5;
/// How much of a response body a failure keeps.
const EXCERPT_CHARS: usize = 80;

/// Accepted HTTP statuses as inclusive ranges, e.g. `200-299,304`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusSet(Vec<(u16, u16)>);

impl StatusSet {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let mut ranges = Vec::new();
        for item in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (lo, hi) = match item.split_once('-') {
                Some((lo, hi)) => (parse_status(lo)?, parse_status(hi)?),
                None => {
                    let code = parse_status(item)?;
                    (code, code)
                }
            };
            if lo > hi {
                return Err(format!("range {item:?} is empty"));
            }
            ranges.push((lo, hi));
        }
        if ranges.is_empty() {
            return Err("lists no status".into());
        }
        Ok(Self(ranges))
    }

    pub fn contains(&self, status: u16) -> bool {
        self.0.iter().any(|(lo, hi)| (*lo..=*hi).contains(&status))
    }
}

fn parse_status(text: &str) -> Result<u16, String> {
    match text.trim().parse::<u16>() {
        Ok(code) if (100..=599).contains(&code) => Ok(code),
        _ => Err(format!("{:?} is not an HTTP status (100-599)", text.trim())),
    }
}

/// What a single response must look like to pass.
#[derive(Debug, Clone)]
pub struct Expectations {
    pub status: StatusSet,
    pub body_contains: Option<String>,
    pub body_regex: Option<Regex>,
    /// A field the body, read as JSON, must hold with this value (`BODY_JSON`).
    pub body_json: Option<JsonField>,
}

/// `BODY_JSON=/pointer=value`: the JSON value at an RFC 6901 pointer must equal `value`, read as
/// JSON when it parses (`200`, `true`, `"ok"`) and as a string otherwise (`ok`).
#[derive(Debug, Clone, PartialEq)]
pub struct JsonField {
    pub pointer: String,
    pub value: serde_json::Value,
}

impl JsonField {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if !raw.starts_with('/') {
            return Err("must be /pointer=value, e.g. /status=ok or /statusCode=200".into());
        }
        // The pointer ends at the first '=': a value may hold one (base64), a key seldom does.
        let Some((pointer, value)) = raw.split_once('=') else {
            return Err("has no =value after the pointer".into());
        };
        let value = serde_json::from_str(value.trim())
            .unwrap_or_else(|_| serde_json::Value::String(value.trim().to_string()));
        Ok(JsonField {
            pointer: pointer.trim().to_string(),
            value,
        })
    }

    pub fn matches(&self, body: &str) -> bool {
        serde_json::from_str::<serde_json::Value>(body)
            .ok()
            .and_then(|doc| doc.pointer(&self.pointer).cloned())
            .is_some_and(|found| found == self.value)
    }
}

/// What a whole probe must achieve.
#[derive(Debug, Clone, PartialEq)]
pub struct Thresholds {
    pub min_success_ratio: f64,
    pub max_p95: Option<Duration>,
    pub max_p99: Option<Duration>,
}

/// One counted request.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub path: String,
    pub latency: Duration,
    pub result: SampleResult,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SampleResult {
    Passed {
        status: u16,
    },
    UnexpectedStatus {
        status: u16,
        excerpt: String,
    },
    BodyMismatch {
        status: u16,
        excerpt: String,
    },
    Timeout,
    ConnectFailed {
        detail: String,
    },
    /// A Lambda invocation whose function failed (`X-Amz-Function-Error`: `Unhandled` for a
    /// crash or timeout, `Handled` for an error the function returned).
    FunctionError {
        kind: String,
        excerpt: String,
    },
    /// Any other transport failure (reset, garbage, TLS); `kind` is stable, `detail` short.
    TransportError {
        kind: &'static str,
        detail: String,
    },
}

impl SampleResult {
    /// A stable label for counting outcomes.
    pub fn label(&self) -> &'static str {
        match self {
            SampleResult::Passed { .. } => "passed",
            SampleResult::UnexpectedStatus { .. } => "unexpected_status",
            SampleResult::BodyMismatch { .. } => "body_mismatch",
            SampleResult::Timeout => "timeout",
            SampleResult::ConnectFailed { .. } => "connect_failed",
            SampleResult::FunctionError { .. } => "function_error",
            SampleResult::TransportError { .. } => "transport_error",
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            SampleResult::Passed { status }
            | SampleResult::UnexpectedStatus { status, .. }
            | SampleResult::BodyMismatch { status, .. } => Some(*status),
            _ => None,
        }
    }

    fn describe(&self) -> String {
        match self {
            SampleResult::Passed { status } => format!("status {status}"),
            SampleResult::UnexpectedStatus { status, excerpt } => {
                format!("unexpected status {status} body {excerpt:?}")
            }
            SampleResult::BodyMismatch { status, excerpt } => {
                format!("body mismatch (status {status}) body {excerpt:?}")
            }
            SampleResult::Timeout => "timeout".into(),
            SampleResult::ConnectFailed { detail } => format!("connect failed: {detail}"),
            SampleResult::FunctionError { kind, excerpt } => {
                format!("function error ({kind}) {excerpt:?}")
            }
            SampleResult::TransportError { kind, detail } => format!("{kind}: {detail}"),
        }
    }
}

/// Judges one response.
pub fn classify(status: u16, body: &str, expect: &Expectations) -> SampleResult {
    classify_redacted(status, body, expect, &Redactor::default())
}

/// [`classify`], masking the configured header values in the excerpt it keeps.
pub fn classify_redacted(
    status: u16,
    body: &str,
    expect: &Expectations,
    redactor: &Redactor,
) -> SampleResult {
    if !expect.status.contains(status) {
        return SampleResult::UnexpectedStatus {
            status,
            excerpt: excerpt_redacted(body, redactor),
        };
    }
    let contains_ok = expect
        .body_contains
        .as_deref()
        .is_none_or(|needle| body.contains(needle));
    let regex_ok = expect
        .body_regex
        .as_ref()
        .is_none_or(|re| re.is_match(body));
    let json_ok = expect.body_json.as_ref().is_none_or(|f| f.matches(body));
    if contains_ok && regex_ok && json_ok {
        SampleResult::Passed { status }
    } else {
        SampleResult::BodyMismatch {
            status,
            excerpt: excerpt_redacted(body, redactor),
        }
    }
}

/// The start of a body, single-line, for evidence.
pub fn excerpt(body: &str) -> String {
    excerpt_redacted(body, &Redactor::default())
}

/// [`excerpt`] with the configured header values masked. The mask goes on before the cut: a
/// value cut in half at the excerpt's end would not match and its first half would leak.
pub fn excerpt_redacted(body: &str, redactor: &Redactor) -> String {
    let window_chars = EXCERPT_CHARS + redactor.longest();
    let window: String = body.chars().take(window_chars).collect();
    let masked = redactor.redact(&window);
    let mut text: String = masked
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(EXCERPT_CHARS)
        .collect();
    if masked.chars().count() > EXCERPT_CHARS || body.chars().nth(window_chars).is_some() {
        text.push('…');
    }
    text
}

/// The evidence behind a verdict.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Stats {
    pub requests: u32,
    pub passed: u32,
    pub failed: u32,
    /// Requests by outcome label.
    pub outcomes: BTreeMap<&'static str, u32>,
    pub p50_ms: Option<u64>,
    pub p95_ms: Option<u64>,
    pub p99_ms: Option<u64>,
    pub max_ms: Option<u64>,
    /// The first few failures, each `path: what happened`.
    pub failures: Vec<String>,
}

impl Stats {
    pub fn outcomes_text(&self) -> String {
        self.outcomes
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",")
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub passed: bool,
    /// Why it failed; empty when it passed.
    pub reasons: Vec<String>,
    pub stats: Stats,
}

/// Latency percentiles cover requests that got a response: a timeout has no latency of its own
/// and already fails the success ratio.
pub fn judge(samples: &[Sample], thresholds: &Thresholds) -> Verdict {
    judge_stats(summarize(samples), thresholds)
}

/// The thresholds applied to a summary: the one judge for a single probe ([`judge`]) and for the
/// running totals of an ECS soak, whose percentiles come from a bounded histogram.
pub fn judge_stats(stats: Stats, thresholds: &Thresholds) -> Verdict {
    let mut reasons = Vec::new();
    if stats.requests == 0 {
        reasons.push("no requests were counted".to_string());
    } else {
        let ratio = f64::from(stats.passed) / f64::from(stats.requests);
        // A small tolerance so 19/20 against 0.95 passes despite float rounding.
        if ratio + 1e-9 < thresholds.min_success_ratio {
            reasons.push(format!(
                "success ratio {ratio:.3} is below {:.3} ({} of {} requests failed)",
                thresholds.min_success_ratio, stats.failed, stats.requests
            ));
        }
    }
    for (name, limit, seen) in [
        ("p95", thresholds.max_p95, stats.p95_ms),
        ("p99", thresholds.max_p99, stats.p99_ms),
    ] {
        if let (Some(limit), Some(seen)) = (limit, seen)
            && u128::from(seen) > limit.as_millis()
        {
            reasons.push(format!(
                "{name} latency {seen} ms is over {} ms",
                limit.as_millis()
            ));
        }
    }
    Verdict {
        passed: reasons.is_empty(),
        reasons,
        stats,
    }
}

pub fn summarize(samples: &[Sample]) -> Stats {
    let mut stats = Stats {
        requests: u32::try_from(samples.len()).unwrap_or(u32::MAX),
        ..Stats::default()
    };
    let mut latencies: Vec<u64> = Vec::new();
    for sample in samples {
        *stats.outcomes.entry(sample.result.label()).or_default() += 1;
        if matches!(sample.result, SampleResult::Passed { .. }) {
            stats.passed += 1;
        } else {
            stats.failed += 1;
            if stats.failures.len() < FAILURES_KEPT {
                stats.failures.push(format!(
                    "{}: {}",
                    without_query(&sample.path),
                    sample.result.describe()
                ));
            }
        }
        if sample.result.status().is_some() {
            latencies.push(u64::try_from(sample.latency.as_millis()).unwrap_or(u64::MAX));
        }
    }
    latencies.sort_unstable();
    stats.p50_ms = percentile(&latencies, 50.0);
    stats.p95_ms = percentile(&latencies, 95.0);
    stats.p99_ms = percentile(&latencies, 99.0);
    stats.max_ms = latencies.last().copied();
    stats
}

/// Nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[u64], pct: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((pct / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

/// A URL or path as logs and messages show it: a query string may carry a token, so its
/// content is left out.
pub fn without_query(url: &str) -> String {
    match url.split_once('?') {
        Some((before, _)) => format!("{before}?…"),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_are_left_out() {
        assert_eq!(without_query("/health?token=s3cret"), "/health?…");
        assert_eq!(
            without_query("https://green.example.com:8443/?key=1"),
            "https://green.example.com:8443/?…"
        );
        assert_eq!(without_query("/health"), "/health");
    }

    fn expect(status: &str) -> Expectations {
        Expectations {
            status: StatusSet::parse(status).unwrap(),
            body_contains: None,
            body_regex: None,
            body_json: None,
        }
    }

    #[test]
    fn a_json_field_is_compared_as_json_or_as_text() {
        let field = JsonField::parse("/statusCode=200").unwrap();
        assert!(field.matches(r#"{"statusCode": 200, "body": "x"}"#));
        assert!(!field.matches(r#"{"statusCode": "200"}"#));
        assert!(!field.matches("not json"));
        let text = JsonField::parse("/health/status=ok").unwrap();
        assert!(text.matches(r#"{"health": {"status": "ok"}}"#));
        assert!(!text.matches(r#"{"health": {"status": "degraded"}}"#));
        let token = JsonField::parse("/token=YWJj==").unwrap();
        assert_eq!(token.value, serde_json::json!("YWJj=="));
        for bad in ["status=ok", "/status", ""] {
            assert!(JsonField::parse(bad).is_err(), "{bad}");
        }
        let mut expect = expect("200");
        expect.body_json = Some(field);
        assert!(matches!(
            classify(200, r#"{"statusCode": 500}"#, &expect),
            SampleResult::BodyMismatch { .. }
        ));
        assert_eq!(
            classify(200, r#"{"statusCode": 200}"#, &expect),
            SampleResult::Passed { status: 200 }
        );
    }

    fn thresholds() -> Thresholds {
        Thresholds {
            min_success_ratio: 1.0,
            max_p95: None,
            max_p99: None,
        }
    }

    fn ok(ms: u64) -> Sample {
        Sample {
            path: "/".into(),
            latency: Duration::from_millis(ms),
            result: SampleResult::Passed { status: 200 },
        }
    }

    fn failed(result: SampleResult) -> Sample {
        Sample {
            path: "/health".into(),
            latency: Duration::from_millis(5),
            result,
        }
    }

    #[test]
    fn status_sets_take_lists_and_ranges() {
        let set = StatusSet::parse("200-299, 304").unwrap();
        assert!(set.contains(200) && set.contains(299) && set.contains(304));
        assert!(!set.contains(300) && !set.contains(500));
        assert!(StatusSet::parse("").is_err());
        assert!(StatusSet::parse("299-200").is_err());
        assert!(StatusSet::parse("abc").is_err());
        assert!(StatusSet::parse("700").is_err());
    }

    #[test]
    fn classify_checks_status_then_body() {
        let mut e = expect("200");
        e.body_contains = Some("ok".into());
        e.body_regex = Some(Regex::new(r#""version":\s*"2""#).unwrap());
        assert_eq!(
            classify(200, r#"{"status":"ok","version": "2"}"#, &e),
            SampleResult::Passed { status: 200 }
        );
        assert!(matches!(
            classify(200, r#"{"status":"ok","version":"1"}"#, &e),
            SampleResult::BodyMismatch { status: 200, .. }
        ));
        assert!(matches!(
            classify(503, "down", &e),
            SampleResult::UnexpectedStatus { status: 503, .. }
        ));
    }

    #[test]
    fn excerpts_are_short_and_single_line() {
        let long = format!("line1\nline2{}", "x".repeat(500));
        let text = excerpt(&long);
        assert!(!text.contains('\n'));
        assert_eq!(text.chars().count(), EXCERPT_CHARS + 1);
    }

    #[test]
    fn excerpts_mask_header_values_even_across_the_cut() {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("x-api-key", "s3cret-value".parse().unwrap());
        let redactor = Redactor::from_headers(&headers);
        // The value starts just before the cut, so a cut-then-mask excerpt would keep "s3c".
        let body = format!("{}s3cret-value and more", "e".repeat(EXCERPT_CHARS - 3));
        let text = excerpt_redacted(&body, &redactor);
        assert!(!text.contains("s3c"), "{text}");
        assert!(text.ends_with('…'));
        let result = classify_redacted(
            500,
            "echo: x-api-key: s3cret-value",
            &expect("200"),
            &redactor,
        );
        let SampleResult::UnexpectedStatus { excerpt, .. } = result else {
            panic!("{result:?}")
        };
        assert_eq!(excerpt, "echo: x-api-key: [redacted]");
    }

    #[test]
    fn all_passing_within_latency_passes() {
        let samples: Vec<_> = (1..=20).map(ok).collect();
        let mut t = thresholds();
        t.max_p95 = Some(Duration::from_millis(19));
        let verdict = judge(&samples, &t);
        assert!(verdict.passed, "{:?}", verdict.reasons);
        assert_eq!(verdict.stats.p50_ms, Some(10));
        assert_eq!(verdict.stats.p95_ms, Some(19));
        assert_eq!(verdict.stats.p99_ms, Some(20));
        assert_eq!(verdict.stats.max_ms, Some(20));
    }

    #[test]
    fn p95_over_threshold_fails() {
        let samples: Vec<_> = (1..=20).map(ok).collect();
        let mut t = thresholds();
        t.max_p95 = Some(Duration::from_millis(18));
        let verdict = judge(&samples, &t);
        assert!(!verdict.passed);
        assert!(verdict.reasons[0].contains("p95"), "{:?}", verdict.reasons);
    }

    #[test]
    fn p99_is_checked_separately() {
        let mut samples: Vec<_> = (0..99).map(|_| ok(10)).collect();
        samples.push(ok(900));
        let mut t = thresholds();
        t.max_p95 = Some(Duration::from_millis(50));
        t.max_p99 = Some(Duration::from_millis(500));
        // Nearest rank: p99 of 100 samples is the 99th value, still 10 ms.
        assert!(judge(&samples, &t).passed);
        samples.push(ok(900));
        let verdict = judge(&samples, &t);
        assert!(!verdict.passed);
        assert!(verdict.reasons.iter().any(|r| r.starts_with("p99")));
    }

    #[test]
    fn success_ratio_counts_every_failure_kind() {
        let mut samples: Vec<_> = (0..16).map(|_| ok(5)).collect();
        samples.push(failed(SampleResult::Timeout));
        samples.push(failed(SampleResult::ConnectFailed {
            detail: "refused".into(),
        }));
        samples.push(failed(SampleResult::UnexpectedStatus {
            status: 502,
            excerpt: "bad gateway".into(),
        }));
        samples.push(failed(SampleResult::TransportError {
            kind: "reset",
            detail: "connection reset".into(),
        }));
        let mut t = thresholds();
        t.min_success_ratio = 0.8;
        let verdict = judge(&samples, &t);
        assert!(verdict.passed, "{:?}", verdict.reasons);
        assert_eq!(verdict.stats.failed, 4);
        assert_eq!(verdict.stats.outcomes["timeout"], 1);
        assert_eq!(verdict.stats.failures.len(), 4);
        assert!(verdict.stats.failures[2].contains("502"));
        t.min_success_ratio = 0.85;
        assert!(!judge(&samples, &t).passed);
    }

    #[test]
    fn timeouts_have_no_latency() {
        let samples = vec![failed(SampleResult::Timeout), ok(7)];
        let stats = summarize(&samples);
        assert_eq!(stats.max_ms, Some(7));
        let only_timeouts = summarize(&[failed(SampleResult::Timeout)]);
        assert_eq!(only_timeouts.p95_ms, None);
    }

    #[test]
    fn no_samples_fails() {
        let verdict = judge(&[], &thresholds());
        assert!(!verdict.passed);
    }

    #[test]
    fn failures_kept_are_bounded() {
        let samples: Vec<_> = (0..20).map(|_| failed(SampleResult::Timeout)).collect();
        assert_eq!(summarize(&samples).failures.len(), FAILURES_KEPT);
    }
}
