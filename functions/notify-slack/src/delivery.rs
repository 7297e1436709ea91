//! Posting to the webhook. The retry decisions are pure ([`classify`], [`next_step`]); [`Slack`]
//! follows them until the invocation deadline, one attempt at a time through a
//! [`WebhookPoster`]: [`Http`] in Lambda, an in-memory Slack in the unit tests.

use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, RETRY_AFTER};
use rollout_kit::Tls;
use serde_json::Value;
use tokio::time::Instant;

use crate::ports::{Reply, WebhookPoster};
use crate::webhook::WebhookUrl;

/// Below this, an attempt cannot finish: stop and let the invocation fail in time.
pub const MIN_ATTEMPT: Duration = Duration::from_millis(200);
/// Slack answers with a word (`ok`, `channel_not_found`). Only this much of an answer is read,
/// so a huge or endless body costs neither memory nor time.
pub const MAX_ANSWER_BYTES: usize = 4 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Attempts for server errors and network failures. 429s wait `Retry-After` instead and
    /// are bounded by the deadline alone.
    pub max_attempts: u32,
    pub first_backoff: Duration,
    pub max_backoff: Duration,
    /// When a 429 carries no usable `Retry-After`.
    pub default_retry_after: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            first_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(4),
            default_retry_after: Duration::from_secs(1),
        }
    }
}

/// How Slack answered one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Delivered,
    RateLimited {
        retry_after: Option<Duration>,
    },
    /// 5xx, 408, timeouts, connection failures: worth another try.
    Transient(String),
    /// Any other status (400 `invalid_payload`, 403, 404 `channel_not_found`, 410 …).
    Permanent {
        status: u16,
        error: String,
    },
}

pub fn classify(status: u16, body: &str, retry_after: Option<Duration>) -> Answer {
    match status {
        200 => Answer::Delivered,
        429 => Answer::RateLimited { retry_after },
        408 | 500..=599 => Answer::Transient(format!("HTTP {status} {}", slack_error(body))),
        _ => Answer::Permanent {
            status,
            error: slack_error(body),
        },
    }
}

/// Slack's error string (`channel_not_found`), kept short and on one line.
pub fn slack_error(body: &str) -> String {
    let line: String = body
        .trim()
        .lines()
        .next()
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    if line.is_empty() {
        "(empty answer)".into()
    } else {
        line
    }
}

/// `Retry-After` in seconds; the HTTP-date form is rare enough to fall back to the default.
pub fn parse_retry_after(header: Option<&str>) -> Option<Duration> {
    header
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    Retry(Duration),
    GiveUp,
}

/// After `attempts` attempts ended in `answer`, with `remaining` before the deadline.
pub fn next_step(policy: &Policy, attempts: u32, answer: &Answer, remaining: Duration) -> Next {
    let wait = match answer {
        Answer::Delivered | Answer::Permanent { .. } => return Next::GiveUp,
        Answer::RateLimited { retry_after } => retry_after
            .unwrap_or(policy.default_retry_after)
            .max(Duration::from_millis(100)),
        Answer::Transient(_) => {
            if attempts >= policy.max_attempts {
                return Next::GiveUp;
            }
            let factor = 2u32.saturating_pow(attempts.saturating_sub(1));
            policy
                .first_backoff
                .saturating_mul(factor)
                .min(policy.max_backoff)
        }
    };
    if wait.saturating_add(MIN_ATTEMPT) <= remaining {
        Next::Retry(wait)
    } else {
        Next::GiveUp
    }
}

/// Why a message could not be delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Slack refused it for good; retrying the same message will not help.
    pub permanent: bool,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub attempts: u32,
    pub result: Result<(), Failure>,
}

pub struct Slack<W = Http> {
    poster: W,
    timeout: Duration,
    policy: Policy,
}

impl Slack {
    pub fn new(timeout: Duration, policy: Policy, tls: &Tls) -> Result<Self, reqwest::Error> {
        Ok(Slack::with_poster(
            Http::new(timeout, tls)?,
            timeout,
            policy,
        ))
    }
}

impl<W: WebhookPoster> Slack<W> {
    pub fn with_poster(poster: W, timeout: Duration, policy: Policy) -> Self {
        Self {
            poster,
            timeout,
            policy,
        }
    }

    /// Posts one payload, retrying as the policy says until `deadline`.
    pub async fn post(&self, url: &WebhookUrl, payload: &Value, deadline: Instant) -> Delivery {
        let body = payload.to_string().into_bytes();
        let mut attempts = 0;
        let mut last = String::from("no time left before the invocation deadline");
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining < MIN_ATTEMPT {
                return Delivery {
                    attempts,
                    result: Err(Failure {
                        permanent: false,
                        reason: format!("{last}; out of time"),
                    }),
                };
            }
            attempts += 1;
            let answer = self
                .attempt(url, body.clone(), remaining.min(self.timeout))
                .await;
            let remaining = deadline.saturating_duration_since(Instant::now());
            let next = next_step(&self.policy, attempts, &answer, remaining);
            last = match answer {
                Answer::Delivered => {
                    return Delivery {
                        attempts,
                        result: Ok(()),
                    };
                }
                Answer::Permanent { status, error } => {
                    return Delivery {
                        attempts,
                        result: Err(Failure {
                            permanent: true,
                            reason: format!("HTTP {status} {error}"),
                        }),
                    };
                }
                Answer::RateLimited { retry_after } => match retry_after {
                    Some(wait) => {
                        format!("HTTP 429 rate limited (Retry-After {}s)", wait.as_secs())
                    }
                    None => "HTTP 429 rate limited".to_string(),
                },
                Answer::Transient(why) => why,
            };
            match next {
                Next::Retry(wait) => {
                    tracing::warn!(
                        attempt = attempts,
                        error = %last,
                        retry_in_ms = wait.as_millis() as u64,
                        "Slack post not accepted; retrying"
                    );
                    tokio::time::sleep(wait).await;
                }
                Next::GiveUp => {
                    return Delivery {
                        attempts,
                        result: Err(Failure {
                            permanent: false,
                            reason: last,
                        }),
                    };
                }
            }
        }
    }

    async fn attempt(&self, url: &WebhookUrl, body: Vec<u8>, timeout: Duration) -> Answer {
        let reply = match self.poster.post(url, body, timeout).await {
            Ok(reply) => reply,
            Err(why) => return Answer::Transient(why),
        };
        let retry_after = parse_retry_after(reply.retry_after.as_deref());
        let text = url.scrub(&String::from_utf8_lossy(&reply.body));
        let answer = classify(reply.status, &text, retry_after);
        if answer == Answer::Delivered && text.trim() != "ok" {
            tracing::warn!(answer = %slack_error(&text), "Slack answered 200 without `ok`; counted as delivered");
        }
        answer
    }
}

/// The webhook over HTTPS (reqwest).
pub struct Http {
    http: reqwest::Client,
}

impl Http {
    pub fn new(connect_timeout: Duration, tls: &Tls) -> Result<Self, reqwest::Error> {
        let http = tls
            .reqwest()
            // A redirect could lead past the host allow-list.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(connect_timeout)
            .user_agent(concat!(
                "rollout-lambdas-notify-slack/",
                env!("CARGO_PKG_VERSION")
            ))
            .build()?;
        Ok(Self { http })
    }
}

impl WebhookPoster for Http {
    async fn post(
        &self,
        url: &WebhookUrl,
        body: Vec<u8>,
        timeout: Duration,
    ) -> Result<Reply, String> {
        let sent = self
            .http
            .post(url.url().clone())
            .timeout(timeout)
            .header(CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await;
        let mut response = sent.map_err(|err| describe(url, err))?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        // The status decides; the body only names Slack's error. A body that cannot be read to
        // its end (timed out, dropped) still leaves the status: a 200 means Slack accepted the
        // post, and posting again would duplicate the message.
        let (body, cut) = read_capped(&mut response, MAX_ANSWER_BYTES).await;
        if let Some(err) = cut {
            tracing::warn!(status, error = %describe(url, err), "Slack's answer could not be read to its end");
        }
        Ok(Reply {
            status,
            retry_after,
            body,
        })
    }
}

/// Reads at most `cap` bytes of the body, then stops (dropping the response closes the
/// connection). An error after some bytes keeps them.
async fn read_capped(
    response: &mut reqwest::Response,
    cap: usize,
) -> (Vec<u8>, Option<reqwest::Error>) {
    let mut body = Vec::new();
    while body.len() < cap {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = cap - body.len();
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            Ok(None) => break,
            Err(err) => return (body, Some(err)),
        }
    }
    (body, None)
}

/// A reqwest error as text without the URL (reqwest puts it in `Display`).
fn describe(url: &WebhookUrl, err: reqwest::Error) -> String {
    let err = err.without_url();
    let mut text = if err.is_timeout() {
        "timed out".to_string()
    } else if err.is_connect() {
        "connection failed".to_string()
    } else {
        "request failed".to_string()
    };
    let mut source = std::error::Error::source(&err);
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    url.scrub(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn slack_answers() {
        assert_eq!(classify(200, "ok", None), Answer::Delivered);
        for (status, body) in [
            (400, "invalid_payload"),
            (403, "action_prohibited"),
            (404, "channel_not_found"),
            (404, "no_service"),
            (410, "channel_is_archived"),
        ] {
            assert_eq!(
                classify(status, body, None),
                Answer::Permanent {
                    status,
                    error: body.into()
                }
            );
        }
        assert!(matches!(
            classify(500, "rollup_error", None),
            Answer::Transient(t) if t == "HTTP 500 rollup_error"
        ));
        assert_eq!(
            classify(429, "", Some(SECOND)),
            Answer::RateLimited {
                retry_after: Some(SECOND)
            }
        );
        assert_eq!(slack_error("  \n"), "(empty answer)");
        assert_eq!(slack_error("a\u{7}b\nsecond line"), "ab");
    }

    #[test]
    fn retry_after_header() {
        assert_eq!(parse_retry_after(Some(" 3 ")), Some(3 * SECOND));
        assert_eq!(
            parse_retry_after(Some("Wed, 21 Oct 2015 07:28:00 GMT")),
            None
        );
        assert_eq!(parse_retry_after(None), None);
    }

    #[test]
    fn rate_limits_wait_as_told_if_the_deadline_allows() {
        let policy = Policy::default();
        let limited = Answer::RateLimited {
            retry_after: Some(2 * SECOND),
        };
        assert_eq!(
            next_step(&policy, 9, &limited, 10 * SECOND),
            Next::Retry(2 * SECOND)
        );
        assert_eq!(next_step(&policy, 1, &limited, 2 * SECOND), Next::GiveUp);
        let absurd = Answer::RateLimited {
            retry_after: parse_retry_after(Some("18446744073709551615")),
        };
        assert_eq!(next_step(&policy, 1, &absurd, 10 * SECOND), Next::GiveUp);
        let bare = Answer::RateLimited { retry_after: None };
        assert_eq!(
            next_step(&policy, 1, &bare, 10 * SECOND),
            Next::Retry(SECOND)
        );
    }

    #[test]
    fn transient_errors_back_off_then_stop() {
        let policy = Policy::default();
        let failed = Answer::Transient("HTTP 500".into());
        let waits: Vec<Next> = (1..=4)
            .map(|n| next_step(&policy, n, &failed, 60 * SECOND))
            .collect();
        assert_eq!(
            waits,
            vec![
                Next::Retry(Duration::from_millis(500)),
                Next::Retry(SECOND),
                Next::Retry(2 * SECOND),
                Next::GiveUp
            ]
        );
        assert_eq!(
            next_step(&policy, 1, &failed, Duration::from_millis(600)),
            Next::GiveUp
        );
        let capped = Policy {
            max_attempts: 20,
            ..policy
        };
        assert_eq!(
            next_step(&capped, 10, &failed, 60 * SECOND),
            Next::Retry(4 * SECOND)
        );
    }

    #[test]
    fn permanent_and_success_stop() {
        let policy = Policy::default();
        let gone = Answer::Permanent {
            status: 410,
            error: "channel_is_archived".into(),
        };
        assert_eq!(next_step(&policy, 1, &gone, 60 * SECOND), Next::GiveUp);
        assert_eq!(
            next_step(&policy, 1, &Answer::Delivered, 60 * SECOND),
            Next::GiveUp
        );
    }
}
