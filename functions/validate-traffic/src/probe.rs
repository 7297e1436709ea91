//! The HTTP side: sends the test traffic and turns each answer into a [`Sample`].
//! Judging happens in [`crate::verdict`].

use std::time::Duration;

use reqwest::{Client, Url};
use rollout_kit::Tls;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::config::{Config, ProbeSpec};
use crate::redact::Redactor;
use crate::verdict::{Expectations, Sample, SampleResult, classify_redacted};

/// Bodies are read up to this size for the body checks.
const BODY_LIMIT: usize = 256 * 1024;

/// One client per container, verifying with the process's TLS configuration (`TLS_VERIFY=false`
/// verifies nothing, so it needs no roots). It keeps reqwest's proxy support (`HTTP_PROXY`,
/// `HTTPS_PROXY`, `NO_PROXY`), so a forward proxy can reach a test listener. Redirects are not
/// followed: the probe judges the status the listener returns.
pub fn build_client(config: &Config, tls: &Tls) -> Result<Client, reqwest::Error> {
    let builder = if config.tls_verify {
        tls.reqwest()
    } else {
        Client::builder().tls_danger_accept_invalid_certs(true)
    };
    builder
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(config.probe.timeout)
        .user_agent(concat!(
            "rollout-lambdas-validate-traffic/",
            env!("CARGO_PKG_VERSION")
        ))
        .build()
}

/// Warm-up requests first (not counted), then the counted ones.
pub async fn run(
    client: &Client,
    base: &Url,
    spec: &ProbeSpec,
    expect: &Expectations,
) -> Vec<Sample> {
    if spec.warmup > 0 {
        let warmup = send_all(client, base, spec, expect, spec.warmup).await;
        let passed = warmup
            .iter()
            .filter(|s| matches!(s.result, SampleResult::Passed { .. }))
            .count();
        tracing::debug!(requests = warmup.len(), passed, "warm-up done");
    }
    send_all(client, base, spec, expect, spec.requests).await
}

async fn send_all(
    client: &Client,
    base: &Url,
    spec: &ProbeSpec,
    expect: &Expectations,
    count: u32,
) -> Vec<Sample> {
    bounded(count, spec.concurrency, |index| {
        probe_one(client, base, spec, expect, index)
    })
    .await
}

/// Runs `count` samples, `concurrency` at a time: each is created only when a slot frees up, so
/// memory follows the concurrency, not the count. Shared by the HTTP probe and the Lambda
/// invocations ([`crate::lambda::invoke`]).
pub(crate) async fn bounded<F>(
    count: u32,
    concurrency: u32,
    mut sample: impl FnMut(usize) -> F,
) -> Vec<Sample>
where
    F: Future<Output = Sample> + Send + 'static,
{
    let count = count as usize;
    let in_flight_limit = (concurrency as usize).max(1);
    let mut tasks = JoinSet::new();
    let mut samples = Vec::with_capacity(count);
    let mut started = 0;
    loop {
        while started < count && tasks.len() < in_flight_limit {
            tasks.spawn(sample(started));
            started += 1;
        }
        match tasks.join_next().await {
            Some(Ok(sample)) => samples.push(sample),
            // A sample task cannot panic on its own input; count it as a failure if it does.
            Some(Err(_)) => samples.push(Sample {
                path: String::new(),
                latency: Duration::ZERO,
                result: SampleResult::TransportError {
                    kind: "internal",
                    detail: "sample task failed".into(),
                },
            }),
            None => break,
        }
    }
    samples
}

/// The `index`-th request (paths are used in turn), as an owned future for the task set.
fn probe_one(
    client: &Client,
    base: &Url,
    spec: &ProbeSpec,
    expect: &Expectations,
    index: usize,
) -> impl Future<Output = Sample> + Send + 'static {
    let path = spec.paths[index % spec.paths.len()].clone();
    let request = client
        .request(spec.method.clone(), join(base, &path))
        .headers(spec.headers.clone())
        .timeout(spec.timeout);
    let expect = expect.clone();
    let redactor = spec.redactor.clone();
    async move {
        let started = Instant::now();
        let result = match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                match read_body(response).await {
                    Ok(body) => classify_redacted(status, &body, &expect, &redactor),
                    Err(err) => transport_failure(&err, &redactor),
                }
            }
            Err(err) => transport_failure(&err, &redactor),
        };
        Sample {
            path,
            latency: started.elapsed(),
            result,
        }
    }
}

/// The probe URL: `path` (which may carry its own query) appended to the base URL's path, the
/// base's query kept in front of the path's. Pasting `path` onto the whole URL string would put
/// it inside the query (`/app?token=x` + `/health` probes `/app`), so the parts are joined one
/// by one. A base fragment is refused at cold start; none is ever sent.
pub fn join(base: &Url, path: &str) -> Url {
    let (path_part, path_query) = match path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path, None),
    };
    let mut url = base.clone();
    url.set_path(&format!(
        "{}{}",
        base.path().trim_end_matches('/'),
        path_part
    ));
    let query = [base.query(), path_query]
        .into_iter()
        .flatten()
        .filter(|q| !q.is_empty())
        .collect::<Vec<_>>()
        .join("&");
    url.set_query((!query.is_empty()).then_some(query.as_str()));
    url.set_fragment(None);
    url
}

async fn read_body(mut response: reqwest::Response) -> Result<String, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = BODY_LIMIT.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= BODY_LIMIT {
            break;
        }
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}

fn transport_failure(err: &reqwest::Error, redactor: &Redactor) -> SampleResult {
    if err.is_timeout() {
        return SampleResult::Timeout;
    }
    let detail = redactor.redact(&innermost(err));
    if err.is_connect() {
        return SampleResult::ConnectFailed { detail };
    }
    let kind = if err.is_body() || err.is_decode() {
        "body_error"
    } else if err.is_request() {
        "request_error"
    } else {
        "transport_error"
    };
    SampleResult::TransportError { kind, detail }
}

/// The root cause, short: reqwest's own text names the URL, the root cause says what happened.
fn innermost(err: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string().chars().take(120).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn joined(base: &str, path: &str) -> String {
        join(&Url::parse(base).unwrap(), path).to_string()
    }

    #[test]
    fn join_keeps_base_prefix() {
        assert_eq!(
            joined("http://lb.example.com:8080", "/health"),
            "http://lb.example.com:8080/health"
        );
        assert_eq!(
            joined("https://host/app/", "/v?x=1"),
            "https://host/app/v?x=1"
        );
        assert_eq!(joined("https://host/app", "/"), "https://host/app/");
        assert_eq!(joined("https://host", "/"), "https://host/");
    }

    #[test]
    fn join_goes_into_the_path_and_keeps_the_query() {
        assert_eq!(
            joined("https://green:8443/app?token=x", "/health"),
            "https://green:8443/app/health?token=x"
        );
        assert_eq!(
            joined("https://green:8443/app/?token=x", "/health?deep=1"),
            "https://green:8443/app/health?token=x&deep=1"
        );
        assert_eq!(joined("https://green/?", "/health"), "https://green/health");
    }
}
