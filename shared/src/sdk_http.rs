//! The AWS SDK's HTTP client, on reqwest with the process's one TLS configuration
//! ([`crate::tls::Tls`]). The SDK's own HTTPS client would load the system trust store a second
//! time; with this one, every HTTPS connection of a function verifies against the same roots.
//!
//! What the SDK expects of a client, and how it is met:
//! - connect and read timeouts from the SDK's settings: one reqwest client per distinct pair,
//!   built on first use and kept (clients share the TLS configuration and keep their pools);
//! - errors classified the way the SDK's retry policy reads them: timeouts and transport
//!   failures (refused, reset, closed mid-answer) are transient, anything else is not;
//! - no proxy taken from the environment (the SDK's own client takes none either);
//! - no redirects followed; the request body is streamed as the SDK hands it over, the answer
//!   is read whole (every answer these functions receive is small).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;

use crate::tls::Tls;

/// `(connect timeout, read timeout)`: what makes two connectors differ.
type Key = (Option<Duration>, Option<Duration>);

/// The [`HttpClient`] every SDK client of a function uses (set in
/// [`crate::startup::load_aws_config`]).
#[derive(Clone)]
pub struct ReqwestHttpClient {
    tls: Tls,
    connectors: Arc<Mutex<Vec<(Key, SharedHttpConnector)>>>,
}

impl std::fmt::Debug for ReqwestHttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReqwestHttpClient")
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

impl ReqwestHttpClient {
    pub fn new(tls: Tls) -> Self {
        Self {
            tls,
            connectors: Arc::default(),
        }
    }

    fn build(&self, (connect, read): Key) -> SharedHttpConnector {
        // No proxy from the environment: HTTP(S)_PROXY is validate-traffic's way to reach a test
        // listener, and AWS calls go direct, as with the SDK's own client.
        let mut builder = self
            .tls
            .reqwest()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy();
        if let Some(timeout) = connect {
            builder = builder.connect_timeout(timeout);
        }
        if let Some(timeout) = read {
            builder = builder.read_timeout(timeout);
        }
        SharedHttpConnector::new(match builder.build() {
            Ok(client) => Connector::Ready(client),
            // Only a TLS backend reqwest does not link can fail here; every call then says so.
            Err(err) => Connector::Unbuildable(err.to_string()),
        })
    }
}

impl HttpClient for ReqwestHttpClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        let key = (settings.connect_timeout(), settings.read_timeout());
        let mut connectors = self
            .connectors
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some((_, connector)) = connectors.iter().find(|(k, _)| *k == key) {
            return connector.clone();
        }
        let connector = self.build(key);
        connectors.push((key, connector.clone()));
        connector
    }
}

#[derive(Debug)]
enum Connector {
    Ready(reqwest::Client),
    Unbuildable(String),
}

impl HttpConnector for Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let client = match self {
            Connector::Ready(client) => client.clone(),
            Connector::Unbuildable(why) => {
                let why = format!("the HTTP client cannot be built: {why}");
                return HttpConnectorFuture::ready(Err(ConnectorError::user(why.into())));
            }
        };
        HttpConnectorFuture::new(async move { send(&client, request).await })
    }
}

async fn send(
    client: &reqwest::Client,
    request: HttpRequest,
) -> Result<HttpResponse, ConnectorError> {
    let request = into_reqwest(request)?;
    let response = client.execute(request).await.map_err(classify)?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.bytes().await.map_err(classify)?;
    let mut answer = http::Response::new(SdkBody::from(body));
    *answer.status_mut() = status;
    *answer.headers_mut() = headers;
    HttpResponse::try_from(answer).map_err(|e| ConnectorError::other(e.into(), None))
}

fn into_reqwest(request: HttpRequest) -> Result<reqwest::Request, ConnectorError> {
    let request = request
        .try_into_http1x()
        .map_err(|e| ConnectorError::user(e.into()))?;
    let (parts, body) = request.into_parts();
    // The body is sent by polling it, not by copying its bytes: the SDK's stalled-stream
    // protection watches those polls, and a body never polled looks stalled to it.
    reqwest::Request::try_from(http::Request::from_parts(parts, reqwest::Body::wrap(body)))
        .map_err(|e| ConnectorError::user(e.into()))
}

/// How the SDK's retry policy should read a failed exchange.
fn classify(err: reqwest::Error) -> ConnectorError {
    match kind_of(&err) {
        Kind::Timeout => ConnectorError::timeout(err.into()),
        Kind::Transport => ConnectorError::io(err.into()),
        Kind::Other => ConnectorError::other(err.into(), None),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Timeout,
    Transport,
    Other,
}

fn kind_of(err: &reqwest::Error) -> Kind {
    if err.is_timeout() {
        Kind::Timeout
    } else if err.is_connect() || err.is_request() || err.is_body() || err.is_decode() {
        // Refused, reset, closed before the answer was complete (reqwest names an answer body
        // cut short a decode error; nothing here decodes content): worth another attempt.
        Kind::Transport
    } else {
        Kind::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use aws_smithy_runtime_api::client::http::HttpConnectorSettings;
    use aws_smithy_runtime_api::client::runtime_components::RuntimeComponentsBuilder;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    fn components() -> RuntimeComponents {
        RuntimeComponentsBuilder::for_tests().build().unwrap()
    }

    fn connector(settings: &HttpConnectorSettings) -> SharedHttpConnector {
        ReqwestHttpClient::new(Tls::public_roots()).http_connector(settings, &components())
    }

    /// A one-connection server that reads a request and writes `answer` (then closes).
    async fn serve_once(answer: &'static [u8]) -> (String, tokio::task::JoinHandle<Vec<u8>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut seen = vec![0u8; 4096];
            let n = socket.read(&mut seen).await.unwrap();
            seen.truncate(n);
            socket.write_all(answer).await.unwrap();
            seen
        });
        (url, server)
    }

    fn post(url: &str, body: &str) -> HttpRequest {
        let request = http::Request::builder()
            .method("POST")
            .uri(url)
            .header("x-amz-target", "Test.Op")
            .body(SdkBody::from(body.to_string()))
            .unwrap();
        HttpRequest::try_from(request).unwrap()
    }

    #[tokio::test]
    async fn an_exchange_keeps_method_headers_body_and_answer() {
        let (url, server) = serve_once(
            b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\nx-amzn-errortype: Throttling\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}",
        )
        .await;
        let answer = connector(&HttpConnectorSettings::default())
            .call(post(&url, "{\"a\":1}"))
            .await
            .unwrap();
        assert_eq!(answer.status().as_u16(), 400);
        assert_eq!(answer.headers().get("x-amzn-errortype"), Some("Throttling"));
        assert_eq!(answer.body().bytes(), Some(&b"{}"[..]));
        let seen = String::from_utf8(server.await.unwrap()).unwrap();
        assert!(seen.starts_with("POST / HTTP/1.1"), "{seen}");
        assert!(seen.contains("x-amz-target: Test.Op"), "{seen}");
        assert!(seen.ends_with("{\"a\":1}"), "{seen}");
    }

    #[tokio::test]
    async fn a_redirect_is_returned_not_followed() {
        let (url, _server) = serve_once(
            b"HTTP/1.1 307 Temporary Redirect\r\nlocation: http://127.0.0.1:9/\r\ncontent-length: 0\r\n\r\n",
        )
        .await;
        let answer = connector(&HttpConnectorSettings::default())
            .call(post(&url, ""))
            .await
            .unwrap();
        assert_eq!(answer.status().as_u16(), 307);
    }

    #[tokio::test]
    async fn refused_and_cut_off_exchanges_are_transient_and_a_silent_server_times_out() {
        // Nothing listens on a port just freed.
        let port = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let err = connector(&HttpConnectorSettings::default())
            .call(post(&format!("http://127.0.0.1:{port}/"), ""))
            .await
            .unwrap_err();
        assert!(err.is_io(), "{err:?}");

        let (url, _server) =
            serve_once(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npartial").await;
        let err = connector(&HttpConnectorSettings::default())
            .call(post(&url, ""))
            .await
            .unwrap_err();
        assert!(err.is_io(), "{err:?}");

        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let _silent = tokio::spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(30)).await;
            drop(socket);
        });
        let settings = HttpConnectorSettings::builder()
            .read_timeout(Duration::from_millis(200))
            .build();
        let err = connector(&settings).call(post(&url, "")).await.unwrap_err();
        assert!(err.is_timeout(), "{err:?}");
    }

    #[test]
    fn one_connector_per_distinct_timeouts() {
        let client = ReqwestHttpClient::new(Tls::public_roots());
        let short = HttpConnectorSettings::builder()
            .connect_timeout(Duration::from_secs(1))
            .build();
        let long = HttpConnectorSettings::builder()
            .connect_timeout(Duration::from_secs(3))
            .build();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            client.http_connector(&short, &components());
            client.http_connector(&short, &components());
            client.http_connector(&long, &components());
        });
        assert_eq!(client.connectors.lock().unwrap().len(), 2);
    }
}
