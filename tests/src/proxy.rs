//! A forward HTTP proxy that maps the emulated load balancers' DNS names to local services.
//!
//! moto hands out DNS names like `app-1.us-east-1.elb.amazonaws.com` that resolve nowhere. A
//! function that honours `HTTP_PROXY` (reqwest does; the AWS SDK's client does not) sends its
//! test traffic here, and the proxy forwards `<dns>:<port>` to the `127.0.0.1` port a test chose.
//! The function runs unchanged. Plain HTTP only: `CONNECT` (HTTPS) is refused.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::target::{parse_head, read_head};

#[derive(Default)]
struct ProxyState {
    routes: HashMap<String, SocketAddr>,
    /// `host:port` of every request, routed or not.
    seen: Vec<String>,
}

/// Stops serving when dropped.
pub struct ForwardProxy {
    state: Arc<Mutex<ProxyState>>,
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl ForwardProxy {
    pub async fn start() -> ForwardProxy {
        let listener = crate::bind_local().await;
        let addr = listener.local_addr().expect("local addr");
        let state: Arc<Mutex<ProxyState>> = Arc::default();
        let accept_state = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = accept_state.clone();
                tokio::spawn(async move { relay(stream, state).await });
            }
        });
        ForwardProxy { state, addr, task }
    }

    /// The value for `HTTP_PROXY`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Sends requests for `authority` (`host:port`, or `host` for port 80) to `to`.
    pub fn route(&self, authority: &str, to: SocketAddr) {
        self.lock()
            .routes
            .insert(with_port(&authority.to_ascii_lowercase()), to);
    }

    /// The `host:port` of every request the proxy received.
    pub fn seen(&self) -> Vec<String> {
        self.lock().seen.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ProxyState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for ForwardProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn with_port(authority: &str) -> String {
    if authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        authority.to_string()
    } else {
        format!("{authority}:80")
    }
}

async fn relay(mut client: TcpStream, state: Arc<Mutex<ProxyState>>) {
    let Some((head, rest)) = read_head(&mut client).await else {
        return;
    };
    let Some(request) = parse_head(&head) else {
        return;
    };
    if request.method.eq_ignore_ascii_case("CONNECT") {
        let _ = client
            .write_all(
                b"HTTP/1.1 501 Not Implemented\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            )
            .await;
        return;
    }
    // Absolute form: `GET http://host:port/path HTTP/1.1`.
    let Some(after_scheme) = request.path.strip_prefix("http://") else {
        let _ = client
            .write_all(
                b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            )
            .await;
        return;
    };
    let (authority, path) = match after_scheme.find('/') {
        Some(i) => (&after_scheme[..i], &after_scheme[i..]),
        None => (after_scheme, "/"),
    };
    let authority = with_port(&authority.to_ascii_lowercase());
    let route = {
        let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
        state.seen.push(authority.clone());
        state.routes.get(&authority).copied()
    };
    let upstream = match route {
        Some(addr) => TcpStream::connect(addr).await.ok(),
        None => None,
    };
    let Some(mut upstream) = upstream else {
        let body = format!("no route to {authority}");
        let reply = format!(
            "HTTP/1.1 502 Bad Gateway\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = client.write_all(reply.as_bytes()).await;
        return;
    };
    // Rewrite to origin form and drop the hop-by-hop proxy headers.
    let mut lines = head.split("\r\n");
    let first = lines.next().unwrap_or_default();
    let version = first.rsplit(' ').next().unwrap_or("HTTP/1.1");
    let mut forwarded = format!("{} {path} {version}\r\n", request.method);
    for line in lines.filter(|l| !l.is_empty()) {
        let name = line
            .split(':')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if !name.starts_with("proxy-") {
            forwarded.push_str(line);
            forwarded.push_str("\r\n");
        }
    }
    forwarded.push_str("\r\n");
    if upstream.write_all(forwarded.as_bytes()).await.is_err()
        || upstream.write_all(&rest).await.is_err()
    {
        return;
    }
    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
}
