//! Reaching green through a listener rule. Pure.
//!
//! ECS built-in deployments route test (and production) traffic with a listener rule, often one
//! that matches on a header (`X-Canary: true`), a host or a path. A probe that did not satisfy
//! the rule would fall through to another rule (usually blue) and pass for the wrong reason, so
//! the probe's requests are changed to meet every condition: headers added, `Host` set, paths
//! that match. A condition no request can be made to meet is an error, never a silent skip.

use aws_sdk_elasticloadbalancingv2::types::{Rule, RuleCondition};
use regex::Regex;
use reqwest::Method;
use reqwest::header::{HOST, HeaderName, HeaderValue};

use crate::config::ProbeSpec;

/// A rule condition, as the probe must meet it. Values are ALB patterns (`*`, `?`); `regexes`
/// are the regular-expression form of the same condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    Header {
        name: String,
        values: Vec<String>,
        regexes: Vec<String>,
    },
    Host {
        values: Vec<String>,
        regexes: Vec<String>,
    },
    Path {
        values: Vec<String>,
        regexes: Vec<String>,
    },
    /// `(key, value)`; a pair without a key matches any key with that value.
    Query(Vec<(Option<String>, String)>),
    Method(Vec<String>),
    SourceIp(Vec<String>),
    Other(String),
}

/// The rule's conditions, from the typed configs or the older `Field`/`Values` form.
pub fn conditions(rule: &Rule) -> Vec<Condition> {
    rule.conditions().iter().map(condition).collect()
}

fn condition(c: &RuleCondition) -> Condition {
    let owned = |v: &[String]| v.to_vec();
    match c.field().unwrap_or_default() {
        "http-header" => {
            let config = c.http_header_config();
            Condition::Header {
                name: config
                    .and_then(|h| h.http_header_name())
                    .unwrap_or_default()
                    .to_string(),
                values: config.map(|h| owned(h.values())).unwrap_or_default(),
                regexes: config.map(|h| owned(h.regex_values())).unwrap_or_default(),
            }
        }
        "host-header" => Condition::Host {
            values: c
                .host_header_config()
                .map(|h| owned(h.values()))
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| owned(c.values())),
            regexes: c
                .host_header_config()
                .map(|h| owned(h.regex_values()))
                .unwrap_or_default(),
        },
        "path-pattern" => Condition::Path {
            values: c
                .path_pattern_config()
                .map(|p| owned(p.values()))
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| owned(c.values())),
            regexes: c
                .path_pattern_config()
                .map(|p| owned(p.regex_values()))
                .unwrap_or_default(),
        },
        "query-string" => Condition::Query(
            c.query_string_config()
                .map(|q| q.values())
                .unwrap_or_default()
                .iter()
                .map(|pair| {
                    (
                        pair.key().map(String::from),
                        pair.value().unwrap_or_default().to_string(),
                    )
                })
                .collect(),
        ),
        "http-request-method" => Condition::Method(
            c.http_request_method_config()
                .map(|m| owned(m.values()))
                .unwrap_or_default(),
        ),
        "source-ip" => Condition::SourceIp(
            c.source_ip_config()
                .map(|s| owned(s.values()))
                .unwrap_or_default(),
        ),
        other => Condition::Other(other.to_string()),
    }
}

/// The listener a rule belongs to: a Rule carries no listener ARN, but its own ARN contains it
/// (`…:listener-rule/app/<lb>/<lb-id>/<listener-id>/<rule-id>`). `None` for anything else (an
/// NLB route names its listener directly).
pub fn listener_of_rule(rule_arn: &str) -> Option<String> {
    let (head, path) = rule_arn.split_once(":listener-rule/")?;
    let (listener_path, rule_id) = path.rsplit_once('/')?;
    if rule_id.is_empty() || listener_path.split('/').count() != 4 {
        return None;
    }
    Some(format!("{head}:listener/{listener_path}"))
}

/// Changes the probe so that its requests meet every condition (`url_host`: the host the
/// requests go to without a `Host` header). Returns notes worth a log line (paths dropped, a
/// source-IP condition the probe cannot choose); an error names the condition that cannot be met.
pub fn satisfy(
    spec: &mut ProbeSpec,
    url_host: &str,
    conditions: &[Condition],
) -> Result<Vec<String>, String> {
    let mut notes = Vec::new();
    for condition in conditions {
        match condition {
            Condition::Header {
                name,
                values,
                regexes,
            } => {
                let header = HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| format!("http-header condition on an invalid name {name:?}"))?;
                let current = spec.headers.get(&header).and_then(|v| v.to_str().ok());
                if !current.is_some_and(|v| matches_any(values, regexes, v, true)) {
                    let value = example(values, regexes, "x").ok_or_else(|| {
                        format!("header {name} must match {}", describe(values, regexes))
                    })?;
                    let value = HeaderValue::from_str(&value)
                        .map_err(|_| format!("header {name}: no valid value matches"))?;
                    spec.headers.insert(header, value);
                }
            }
            Condition::Host { values, regexes } => {
                let current = spec
                    .headers
                    .get(HOST)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or(url_host);
                if !matches_any(values, regexes, current, true) {
                    let host = example(values, regexes, "probe")
                        .ok_or_else(|| format!("host must match {}", describe(values, regexes)))?;
                    let host = HeaderValue::from_str(&host)
                        .map_err(|_| "host-header: no valid host matches".to_string())?;
                    spec.headers.insert(HOST, host);
                }
            }
            Condition::Path { values, regexes } => {
                let matching: Vec<String> = spec
                    .paths
                    .iter()
                    .filter(|p| matches_any(values, regexes, path_only(p), false))
                    .cloned()
                    .collect();
                if matching.len() < spec.paths.len() {
                    let dropped = spec.paths.len() - matching.len();
                    notes.push(format!(
                        "{dropped} probe path(s) do not match the rule's path pattern {}",
                        describe(values, regexes)
                    ));
                }
                spec.paths = if matching.is_empty() {
                    let path = example(values, regexes, "")
                        .filter(|p| p.starts_with('/'))
                        .ok_or_else(|| {
                            format!("the path must match {}", describe(values, regexes))
                        })?;
                    vec![path]
                } else {
                    matching
                };
            }
            Condition::Query(pairs) => {
                for (key, value) in pairs {
                    let key = key.clone().unwrap_or_else(|| "probe".into());
                    let pair = format!(
                        "{}={}",
                        wildcard_example(&key, "x"),
                        wildcard_example(value, "x")
                    );
                    for path in spec.paths.iter_mut().filter(|p| !has_query(p, &key, value)) {
                        path.push(if path.contains('?') { '&' } else { '?' });
                        path.push_str(&pair);
                    }
                }
            }
            Condition::Method(methods) => {
                if !methods.iter().any(|m| m == spec.method.as_str()) {
                    let method = methods
                        .first()
                        .and_then(|m| Method::from_bytes(m.as_bytes()).ok())
                        .ok_or("http-request-method condition lists no method")?;
                    notes.push(format!("the rule needs method {method}; probing with it"));
                    spec.method = method;
                }
            }
            Condition::SourceIp(ranges) => notes.push(format!(
                "the rule also matches on the source address ({}); the probe cannot choose its own",
                ranges.join(", ")
            )),
            Condition::Other(field) => {
                notes.push(format!("unknown rule condition {field:?} not checked"))
            }
        }
    }
    Ok(notes)
}

fn path_only(path: &str) -> &str {
    path.split_once('?').map_or(path, |(p, _)| p)
}

fn has_query(path: &str, key: &str, value: &str) -> bool {
    let Some((_, query)) = path.split_once('?') else {
        return false;
    };
    query.split('&').any(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        wildcard(key, k, true) && wildcard(value, v, true)
    })
}

fn matches_any(patterns: &[String], regexes: &[String], text: &str, ignore_case: bool) -> bool {
    patterns.iter().any(|p| wildcard(p, text, ignore_case))
        || regexes
            .iter()
            .any(|r| Regex::new(r).is_ok_and(|re| re.is_match(text)))
}

/// A text that meets the condition: the first pattern with its wildcards filled in, or a
/// regular expression that is a plain literal. `None` when only a real expression is given.
fn example(patterns: &[String], regexes: &[String], star: &str) -> Option<String> {
    if let Some(pattern) = patterns.first() {
        return Some(wildcard_example(pattern, star));
    }
    regexes.iter().find_map(|r| {
        let literal = r.strip_prefix('^').unwrap_or(r);
        let literal = literal.strip_suffix('$').unwrap_or(literal);
        (regex::escape(literal) == literal).then(|| literal.to_string())
    })
}

fn wildcard_example(pattern: &str, star: &str) -> String {
    pattern.replace('*', star).replace('?', "x")
}

fn describe(patterns: &[String], regexes: &[String]) -> String {
    let mut all: Vec<String> = patterns.iter().map(|p| format!("{p:?}")).collect();
    all.extend(regexes.iter().map(|r| format!("/{r}/")));
    all.join(" or ")
}

/// ALB patterns: `*` any run of characters, `?` exactly one.
pub fn wildcard(pattern: &str, text: &str, ignore_case: bool) -> bool {
    let fold = |s: &str| -> Vec<char> {
        if ignore_case {
            s.to_lowercase().chars().collect()
        } else {
            s.chars().collect()
        }
    };
    let (p, t) = (fold(pattern), fold(text));
    // Iterative matcher with one backtrack point for the last `*`.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use reqwest::header::HeaderMap;

    use super::*;
    use crate::redact::Redactor;

    fn spec(paths: &[&str]) -> ProbeSpec {
        ProbeSpec {
            paths: paths.iter().map(|p| p.to_string()).collect(),
            method: Method::GET,
            headers: HeaderMap::new(),
            redactor: Redactor::default(),
            requests: 4,
            warmup: 0,
            concurrency: 2,
            timeout: Duration::from_secs(1),
            payloads: vec!["{}".into()],
        }
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn wildcards_match_as_the_alb_does() {
        assert!(wildcard("/api/*", "/api/orders/1", false));
        assert!(wildcard("/api/*", "/api/", false));
        assert!(!wildcard("/api/*", "/API/x", false));
        assert!(wildcard("*.example.com", "Shop.Example.com", true));
        assert!(wildcard("v?", "v2", true));
        assert!(!wildcard("v?", "v22", true));
        assert!(wildcard("a*b*c", "axxbyyc", false));
        assert!(!wildcard("a*b*c", "axxbyy", false));
        assert!(wildcard("*", "", false));
    }

    #[test]
    fn the_listener_is_in_the_rule_arn() {
        assert_eq!(
            listener_of_rule(
                "arn:aws:elasticloadbalancing:us-east-1:1:listener-rule/app/shop/50dc/f2a1/9e3b"
            )
            .as_deref(),
            Some("arn:aws:elasticloadbalancing:us-east-1:1:listener/app/shop/50dc/f2a1")
        );
        assert_eq!(
            listener_of_rule("arn:aws:elasticloadbalancing:us-east-1:1:listener/net/n/1/2"),
            None
        );
        assert_eq!(listener_of_rule("arn:x:listener-rule/app/shop/1"), None);
    }

    #[test]
    fn a_header_condition_adds_the_header_unless_it_is_already_met() {
        let mut probe = spec(&["/"]);
        let canary = Condition::Header {
            name: "X-Canary".into(),
            values: strings(&["true"]),
            regexes: vec![],
        };
        satisfy(&mut probe, "lb", std::slice::from_ref(&canary)).unwrap();
        assert_eq!(probe.headers["x-canary"], "true");
        let mut probe = spec(&["/"]);
        probe
            .headers
            .insert("x-canary", HeaderValue::from_static("TRUE"));
        satisfy(&mut probe, "lb", &[canary]).unwrap();
        assert_eq!(probe.headers["x-canary"], "TRUE", "already met: kept");
    }

    #[test]
    fn a_host_condition_sets_host_and_a_path_condition_keeps_matching_paths() {
        let mut probe = spec(&["/health", "/api/version", "/api/orders?limit=1"]);
        let notes = satisfy(
            &mut probe,
            "lb.elb.amazonaws.com",
            &[
                Condition::Host {
                    values: strings(&["*.example.com"]),
                    regexes: vec![],
                },
                Condition::Path {
                    values: strings(&["/api/*"]),
                    regexes: vec![],
                },
            ],
        )
        .unwrap();
        assert_eq!(probe.headers[HOST], "probe.example.com");
        assert_eq!(probe.paths, vec!["/api/version", "/api/orders?limit=1"]);
        assert_eq!(notes.len(), 1, "{notes:?}");
        // No configured path matches: one that does is made up.
        let mut probe = spec(&["/"]);
        satisfy(
            &mut probe,
            "lb",
            &[Condition::Path {
                values: strings(&["/canary/*"]),
                regexes: vec![],
            }],
        )
        .unwrap();
        assert_eq!(probe.paths, vec!["/canary/"]);
    }

    #[test]
    fn a_host_the_url_already_has_needs_no_header() {
        let mut probe = spec(&["/"]);
        satisfy(
            &mut probe,
            "shop-test.elb.amazonaws.com",
            &[Condition::Host {
                values: strings(&["*.elb.amazonaws.com"]),
                regexes: vec![],
            }],
        )
        .unwrap();
        assert!(probe.headers.get(HOST).is_none());
    }

    #[test]
    fn query_method_and_source_conditions() {
        let mut probe = spec(&["/", "/x?a=1"]);
        let notes = satisfy(
            &mut probe,
            "lb",
            &[
                Condition::Query(vec![(Some("canary".into()), "on".into())]),
                Condition::Method(strings(&["HEAD"])),
                Condition::SourceIp(strings(&["10.0.0.0/8"])),
            ],
        )
        .unwrap();
        assert_eq!(probe.paths, vec!["/?canary=on", "/x?a=1&canary=on"]);
        assert_eq!(probe.method, Method::HEAD);
        assert_eq!(notes.len(), 2, "{notes:?}");
    }

    #[test]
    fn regular_expressions_are_met_by_configured_values_or_literals_only() {
        let rule = Condition::Header {
            name: "X-Release".into(),
            values: vec![],
            regexes: strings(&["^v[0-9]+$"]),
        };
        let mut probe = spec(&["/"]);
        let err = satisfy(&mut probe, "lb", std::slice::from_ref(&rule)).unwrap_err();
        assert!(
            err.contains("X-Release") && err.contains("/^v[0-9]+$/"),
            "{err}"
        );
        probe
            .headers
            .insert("x-release", HeaderValue::from_static("v2"));
        satisfy(&mut probe, "lb", &[rule]).unwrap();
        let literal = Condition::Header {
            name: "X-Env".into(),
            values: vec![],
            regexes: strings(&["^green$"]),
        };
        satisfy(&mut probe, "lb", &[literal]).unwrap();
        assert_eq!(probe.headers["x-env"], "green");
    }
}
