//! A local HTTP service playing blue or green. A test sets its behaviour at runtime: a status and
//! body (optionally late), never answering, resetting the connection, or answering garbage.
//! It speaks just enough HTTP/1.1 by hand to misbehave on purpose; every answer closes the
//! connection. [`HttpTarget::start_tls`] serves the same over TLS with a self-signed certificate,
//! as a test listener with a private certificate would.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

const HEAD_LIMIT: usize = 64 * 1024;

/// How the target answers every request from now on.
#[derive(Debug, Clone, PartialEq)]
pub enum Behavior {
    Respond {
        status: u16,
        body: String,
        delay: Duration,
    },
    /// Read the request and never answer.
    Hang,
    /// Read the request and reset the connection (TCP RST).
    Reset,
    /// Answer bytes that are not HTTP.
    Garbage,
}

impl Behavior {
    pub fn ok(body: &str) -> Self {
        Self::status(200, body)
    }

    pub fn status(status: u16, body: &str) -> Self {
        Behavior::Respond {
            status,
            body: body.to_string(),
            delay: Duration::ZERO,
        }
    }

    /// Answers after `delay`.
    pub fn slow(status: u16, body: &str, delay: Duration) -> Self {
        Behavior::Respond {
            status,
            body: body.to_string(),
            delay,
        }
    }
}

/// One request the target read.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetRequest {
    pub method: String,
    /// The request target as sent (`/health?x=1`).
    pub path: String,
    /// Header names lower-cased, in order.
    pub headers: Vec<(String, String)>,
}

impl TargetRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct TargetState {
    behavior: Option<Behavior>,
    requests: Vec<TargetRequest>,
}

/// Stops serving when dropped.
pub struct HttpTarget {
    state: Arc<Mutex<TargetState>>,
    addr: SocketAddr,
    tls: bool,
    task: tokio::task::JoinHandle<()>,
}

impl HttpTarget {
    /// Starts answering `200 ok`.
    pub async fn start() -> HttpTarget {
        Self::start_with(Behavior::ok("ok")).await
    }

    pub async fn start_with(behavior: Behavior) -> HttpTarget {
        Self::start_serving(behavior, None).await
    }

    /// Serves HTTPS for `127.0.0.1` and `localhost` with a certificate signed by nobody a client
    /// trusts; `url()` is `https://127.0.0.1:<port>`.
    pub async fn start_tls(behavior: Behavior) -> HttpTarget {
        Self::start_serving(behavior, Some(self_signed_acceptor())).await
    }

    async fn start_serving(behavior: Behavior, tls: Option<TlsAcceptor>) -> HttpTarget {
        let listener = crate::bind_local().await;
        let addr = listener.local_addr().expect("local addr");
        let state = Arc::new(Mutex::new(TargetState {
            behavior: Some(behavior),
            requests: Vec::new(),
        }));
        let accept_state = state.clone();
        let is_tls = tls.is_some();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = accept_state.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    match tls {
                        // A client that rejects the certificate ends the handshake; nothing to serve.
                        Some(acceptor) => {
                            if let Ok(stream) = acceptor.accept(stream).await {
                                serve(stream, state).await;
                            }
                        }
                        None => serve(stream, state).await,
                    }
                });
            }
        });
        HttpTarget {
            state,
            addr,
            tls: is_tls,
            task,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    pub fn set(&self, behavior: Behavior) {
        self.lock().behavior = Some(behavior);
    }

    /// Every request read so far, in arrival order.
    pub fn requests(&self) -> Vec<TargetRequest> {
        self.lock().requests.clone()
    }

    pub fn request_count(&self) -> usize {
        self.lock().requests.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, TargetState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for HttpTarget {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A connection the target can also drop with a TCP reset.
trait Connection: AsyncRead + AsyncWrite + Unpin {
    fn reset(self);
}

impl Connection for TcpStream {
    fn reset(self) {
        let _ = self.set_zero_linger();
    }
}

impl Connection for tokio_rustls::server::TlsStream<TcpStream> {
    fn reset(self) {
        let _ = self.get_ref().0.set_zero_linger();
    }
}

fn self_signed_acceptor() -> TlsAcceptor {
    let generated =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .expect("self-signed certificate");
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        generated.signing_key.serialize_der(),
    ));
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(generated.cert.der().to_vec())],
            key,
        )
        .expect("server certificate");
    TlsAcceptor::from(Arc::new(config))
}

async fn serve(mut stream: impl Connection, state: Arc<Mutex<TargetState>>) {
    let Some((head, _rest)) = read_head(&mut stream).await else {
        return;
    };
    let Some(request) = parse_head(&head) else {
        return;
    };
    let behavior = {
        let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
        state.requests.push(request);
        state.behavior.clone().unwrap_or(Behavior::ok("ok"))
    };
    match behavior {
        Behavior::Respond {
            status,
            body,
            delay,
        } => {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let reply = format!(
                "HTTP/1.1 {status} {}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                reason(status),
                body.len()
            );
            let _ = stream.write_all(reply.as_bytes()).await;
            let _ = stream.shutdown().await;
        }
        Behavior::Hang => {
            // Hold the connection open; the client gives up first.
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        Behavior::Reset => stream.reset(),
        Behavior::Garbage => {
            let _ = stream.write_all(b"\x16\x03 this is not HTTP\r\n\r\n").await;
            let _ = stream.shutdown().await;
        }
    }
}

/// Reads up to the end of the request head; returns the head and any bytes read past it.
pub(crate) async fn read_head(stream: &mut (impl AsyncRead + Unpin)) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            return Some((String::from_utf8_lossy(&buf).into_owned(), rest));
        }
        if buf.len() > HEAD_LIMIT {
            return None;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

pub(crate) fn parse_head(head: &str) -> Option<TargetRequest> {
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split_whitespace();
    let method = first.next()?.to_string();
    let path = first.next()?.to_string();
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Some(TargetRequest {
        method,
        path,
        headers,
    })
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        404 => "Not Found",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}
