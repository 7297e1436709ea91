//! A Slack incoming webhook: checks payloads as Slack does and answers with Slack's status codes
//! and plain-text error strings.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Response};
use hyper::body::Frame;
use serde_json::Value;

pub const WEBHOOK_PATH: &str = "/services/T0ROLLOUT/B0ROLLOUT/cHJldGVuZHNlY3JldA";

/// How the webhook answers the next post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlackReply {
    /// 200 `ok`, after checking the payload as Slack does.
    Ok,
    /// 400 `invalid_payload`.
    InvalidPayload,
    /// 400 `no_text`.
    NoText,
    /// 400 `invalid_blocks`.
    InvalidBlocks,
    /// 403 `action_prohibited`.
    ActionProhibited,
    /// 404 `channel_not_found`.
    ChannelNotFound,
    /// 404 `no_service` (the webhook was revoked).
    NoService,
    /// 410 `channel_is_archived`.
    ChannelIsArchived,
    /// 429 with `Retry-After: seconds` when given.
    RateLimited { retry_after: Option<u64> },
    /// 500 `rollup_error`.
    RollupError,
    /// Accept the connection, never answer.
    Hang,
    /// Close the connection without an answer.
    Reset,
    /// `status` with a body of `bytes` bytes: Slack's word for the status on the first line,
    /// then filler, generated as it is sent (the fake never holds it whole).
    Huge { status: u16, bytes: usize },
    /// `status` with Slack's word, then filler that never ends: 64 KiB every 10 ms.
    Endless { status: u16 },
}

impl SlackReply {
    fn status_and_body(&self) -> (u16, &'static str) {
        match self {
            SlackReply::Ok => (200, "ok"),
            SlackReply::InvalidPayload => (400, "invalid_payload"),
            SlackReply::NoText => (400, "no_text"),
            SlackReply::InvalidBlocks => (400, "invalid_blocks"),
            SlackReply::ActionProhibited => (403, "action_prohibited"),
            SlackReply::ChannelNotFound => (404, "channel_not_found"),
            SlackReply::NoService => (404, "no_service"),
            SlackReply::ChannelIsArchived => (410, "channel_is_archived"),
            SlackReply::RateLimited { .. } => (429, "rate_limited"),
            SlackReply::RollupError => (500, "rollup_error"),
            SlackReply::Hang | SlackReply::Reset => (0, ""),
            SlackReply::Huge { status, .. } | SlackReply::Endless { status } => {
                (*status, word_for(*status))
            }
        }
    }

    /// Answers 200 once the payload passes Slack's checks.
    fn accepts(&self) -> bool {
        matches!(
            self,
            SlackReply::Ok
                | SlackReply::Huge { status: 200, .. }
                | SlackReply::Endless { status: 200 }
        )
    }
}

/// What Slack would say first for this status.
fn word_for(status: u16) -> &'static str {
    match status {
        200 => "ok",
        400 => "invalid_payload",
        403 => "action_prohibited",
        404 => "channel_not_found",
        410 => "channel_is_archived",
        429 => "rate_limited",
        _ => "rollup_error",
    }
}

/// One post that reached the webhook, with what it was answered.
#[derive(Debug, Clone)]
pub struct SlackPost {
    pub path: String,
    pub body: String,
    pub status: u16,
    pub at: Instant,
}

impl SlackPost {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
    pub fn delivered(&self) -> bool {
        self.status == 200
    }
}

#[derive(Default)]
struct State {
    script: VecDeque<SlackReply>,
    default: Option<SlackReply>,
    posts: Vec<SlackPost>,
    limit: Option<RateLimit>,
}

/// Slack's limit on one webhook: about one message a second sustained, short bursts allowed.
/// A token bucket: `burst` tokens, refilled at `per_second`; a post without a token is answered
/// 429 with `Retry-After` in whole seconds, as Slack does.
#[derive(Debug, Clone)]
struct RateLimit {
    per_second: f64,
    burst: f64,
    tokens: f64,
    refilled_at: Instant,
}

impl RateLimit {
    /// Takes a token, or says how many seconds until one is there.
    fn take(&mut self, now: Instant) -> Result<(), u64> {
        let earned = now.duration_since(self.refilled_at).as_secs_f64() * self.per_second;
        self.tokens = (self.tokens + earned).min(self.burst);
        self.refilled_at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err((((1.0 - self.tokens) / self.per_second).ceil() as u64).max(1))
        }
    }
}

#[derive(Clone)]
pub struct SlackFake {
    state: Arc<Mutex<State>>,
    pub port: u16,
}

impl SlackFake {
    pub async fn start() -> SlackFake {
        let listener = crate::bind_local().await;
        let port = listener.local_addr().expect("local addr").port();
        let fake = SlackFake {
            state: Arc::default(),
            port,
        };
        let handler_fake = fake.clone();
        let router = axum::Router::new().fallback(
            move |uri: axum::http::Uri, headers: HeaderMap, body: Bytes| {
                let fake = handler_fake.clone();
                async move { fake.handle(uri.path().to_string(), headers, body).await }
            },
        );
        crate::serve(listener, router);
        fake
    }

    /// The webhook URL, as it would be stored (KMS-encrypted) in the function's configuration.
    pub fn webhook_url(&self) -> String {
        format!("http://127.0.0.1:{}{WEBHOOK_PATH}", self.port)
    }

    /// Answers the next posts with these replies, in order; then the default.
    pub fn script(&self, replies: impl IntoIterator<Item = SlackReply>) {
        self.lock().script.extend(replies);
    }

    /// Limits posts as Slack does: `per_second` sustained, bursts of up to `burst`; beyond it,
    /// 429 `rate_limited` with `Retry-After`. Scripted replies come after the limit.
    pub fn rate_limit(&self, per_second: f64, burst: u32) {
        self.lock().limit = Some(RateLimit {
            per_second,
            burst: f64::from(burst.max(1)),
            tokens: f64::from(burst.max(1)),
            refilled_at: Instant::now(),
        });
    }

    /// Answers every post that no script covers with this reply.
    pub fn set_default(&self, reply: SlackReply) {
        self.lock().default = Some(reply);
    }

    pub fn posts(&self) -> Vec<SlackPost> {
        self.lock().posts.clone()
    }

    /// Payloads answered `ok`.
    pub fn delivered(&self) -> Vec<Value> {
        self.lock()
            .posts
            .iter()
            .filter(|p| p.delivered())
            .map(SlackPost::json)
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn handle(&self, path: String, headers: HeaderMap, body: Bytes) -> Response<Body> {
        let reply = {
            let mut state = self.lock();
            let limited = state
                .limit
                .as_mut()
                .and_then(|limit| limit.take(Instant::now()).err());
            match limited {
                Some(seconds) => SlackReply::RateLimited {
                    retry_after: Some(seconds),
                },
                None => state
                    .script
                    .pop_front()
                    .or_else(|| state.default.clone())
                    .unwrap_or(SlackReply::Ok),
            }
        };
        let text = String::from_utf8_lossy(&body).to_string();
        let (mut status, mut answer) = reply.status_and_body();
        if reply.accepts()
            && let Err(code) = check_payload(&headers, &text)
        {
            (status, answer) = (400, code);
        }
        self.lock().posts.push(SlackPost {
            path: path.clone(),
            body: text,
            status,
            at: Instant::now(),
        });
        let as_scripted = status == reply.status_and_body().0 && path == WEBHOOK_PATH;
        match reply {
            SlackReply::Hang => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                answer_with(504, "", None)
            }
            // Dropping the connection mid-request: a panic in the handler makes hyper close it
            // without writing a response.
            SlackReply::Reset => std::panic::resume_unwind(Box::new("reset")),
            SlackReply::RateLimited { retry_after } => answer_with(status, answer, retry_after),
            // Unless the payload check or the path turned the answer into an error.
            SlackReply::Huge { bytes, .. } if as_scripted => {
                flood(status, answer, Some(bytes), Duration::ZERO)
            }
            SlackReply::Endless { .. } if as_scripted => {
                flood(status, answer, None, Duration::from_millis(10))
            }
            _ if path != WEBHOOK_PATH && status == 200 => answer_with(404, "no_service", None),
            _ => answer_with(status, answer, None),
        }
    }
}

/// What Slack rejects with 400: a body that is not JSON, a message with neither `text` nor
/// `blocks`, and blocks over Block Kit's limits.
fn check_payload(headers: &HeaderMap, body: &str) -> Result<(), &'static str> {
    let is_json = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !is_json {
        return Err("invalid_payload");
    }
    let payload: Value = serde_json::from_str(body).map_err(|_| "invalid_payload")?;
    let text = payload.get("text").and_then(Value::as_str).unwrap_or("");
    let blocks = payload.get("blocks").and_then(Value::as_array);
    let attachments = payload.get("attachments").and_then(Value::as_array);
    if text.trim().is_empty()
        && blocks.is_none_or(Vec::is_empty)
        && attachments.is_none_or(Vec::is_empty)
    {
        return Err("no_text");
    }
    let mut all_blocks: Vec<&Value> = blocks.map(|b| b.iter().collect()).unwrap_or_default();
    for attachment in attachments.into_iter().flatten() {
        if let Some(inner) = attachment.get("blocks").and_then(Value::as_array) {
            all_blocks.extend(inner.iter());
        }
    }
    if all_blocks.len() > 50 {
        return Err("invalid_blocks");
    }
    for block in all_blocks {
        let kind = block.get("type").and_then(Value::as_str).unwrap_or("");
        let block_text = block
            .pointer("/text/text")
            .and_then(Value::as_str)
            .unwrap_or("");
        let limit = match kind {
            "header" => 150,
            "section" => 3000,
            "context" | "divider" | "actions" | "image" | "rich_text" => usize::MAX,
            _ => return Err("invalid_blocks"),
        };
        if block_text.chars().count() > limit {
            return Err("invalid_blocks");
        }
        if let Some(fields) = block.get("fields").and_then(Value::as_array)
            && (fields.len() > 10
                || fields.iter().any(|f| {
                    f.get("text")
                        .and_then(Value::as_str)
                        .is_some_and(|t| t.chars().count() > 2000)
                }))
        {
            return Err("invalid_blocks");
        }
    }
    Ok(())
}

fn answer_with(status: u16, body: &'static str, retry_after: Option<u64>) -> Response<Body> {
    let mut reply = Response::builder()
        .status(status)
        .header("content-type", "text/html");
    if let Some(seconds) = retry_after {
        reply = reply.header("retry-after", seconds.to_string());
    }
    reply.body(Body::from(body)).unwrap_or_default()
}

fn flood(status: u16, word: &'static str, total: Option<usize>, pace: Duration) -> Response<Body> {
    let body = Flood {
        word,
        sent: 0,
        total,
        pace,
        sleep: None,
    };
    Response::builder()
        .status(status)
        .header("content-type", "text/html")
        .body(Body::new(body))
        .unwrap_or_default()
}

static FILLER: [u8; 64 * 1024] = [b'x'; 64 * 1024];

/// A body made as it is sent: `word` and a newline, then filler up to `total` bytes (or
/// forever), one chunk per `pace`.
struct Flood {
    word: &'static str,
    sent: usize,
    total: Option<usize>,
    pace: Duration,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl hyper::body::Body for Flood {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = &mut *self;
        let left = this
            .total
            .map_or(usize::MAX, |t| t.saturating_sub(this.sent));
        if left == 0 {
            return Poll::Ready(None);
        }
        if !this.pace.is_zero() {
            let pace = this.pace;
            let sleep = this
                .sleep
                .get_or_insert_with(|| Box::pin(tokio::time::sleep(pace)));
            ready!(sleep.as_mut().poll(cx));
            this.sleep = None;
        }
        let chunk = if this.sent == 0 {
            Bytes::from(format!("{}\n", this.word))
        } else {
            Bytes::from_static(&FILLER[..FILLER.len().min(left)])
        };
        let chunk = chunk.slice(..chunk.len().min(left));
        this.sent += chunk.len();
        Poll::Ready(Some(Ok(Frame::data(chunk))))
    }
}
