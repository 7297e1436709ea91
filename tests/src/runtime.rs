//! A Lambda Runtime API server that runs a function's compiled binary as Lambda does.
//!
//! Why our own server rather than cargo-lambda's emulator: the tests must control the
//! invocation deadline (`Lambda-Runtime-Deadline-Ms`) to prove validate-traffic reports before
//! it, run the exact binary the release builds (no `cargo lambda watch` recompiling it), capture
//! the function's log lines for assertions, and start fresh processes for cold-start benchmarks.
//! The protocol is small: `GET /2018-06-01/runtime/invocation/next` long-polls for an event,
//! `POST …/invocation/{id}/response` or `…/error` answers it, `POST …/runtime/init/error`
//! reports a failed start.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::Response;
use axum::routing::{get, post};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot};

const API: &str = "/2018-06-01/runtime";

/// How an invocation ended.
#[derive(Debug, Clone, PartialEq)]
pub enum InvokeOutcome {
    /// The function returned this JSON.
    Response(Value),
    /// The function returned an error (`errorType`, `errorMessage`), as a Lambda caller sees it.
    Error {
        error_type: String,
        error_message: String,
    },
    /// No answer before the deadline: Lambda would have stopped the function.
    Timeout,
    /// The process exited or reported an init error before answering.
    Crashed(String),
}

#[derive(Debug, Clone)]
pub struct Invocation {
    pub request_id: String,
    pub outcome: InvokeOutcome,
    pub elapsed: Duration,
}

impl Invocation {
    pub fn response(&self) -> &Value {
        match &self.outcome {
            InvokeOutcome::Response(v) => v,
            other => panic!("expected a response, got {other:?}"),
        }
    }

    /// `(errorType, errorMessage)`; panics on success.
    pub fn error(&self) -> (&str, &str) {
        match &self.outcome {
            InvokeOutcome::Error {
                error_type,
                error_message,
            } => (error_type, error_message),
            other => panic!("expected an error, got {other:?}"),
        }
    }

    pub fn is_ok(&self) -> bool {
        matches!(self.outcome, InvokeOutcome::Response(_))
    }
}

struct Pending {
    request_id: String,
    event: Bytes,
    deadline_ms: u64,
    function_arn: String,
}

#[derive(Default)]
struct Waiting {
    answers: HashMap<String, oneshot::Sender<InvokeOutcome>>,
    init_error: Option<String>,
}

#[derive(Clone)]
struct ApiState {
    queue: Arc<tokio::sync::Mutex<mpsc::Receiver<Pending>>>,
    waiting: Arc<Mutex<Waiting>>,
    /// When the current process first asked for an event: the end of its init phase.
    first_poll: Arc<Mutex<Option<Instant>>>,
}

/// A function binary running under the Runtime API. Dropping it stops the process.
pub struct LambdaFn {
    name: String,
    binary: PathBuf,
    env: Vec<(String, String)>,
    api_port: u16,
    sender: mpsc::Sender<Pending>,
    state: ApiState,
    child: Mutex<Option<Child>>,
    logs: Arc<Mutex<String>>,
    started_at: Mutex<Instant>,
}

impl LambdaFn {
    /// The binary built by `cargo build` next to the test executable (`target/<profile>/<name>`),
    /// or `<dir>/<name>` when `ROLLOUT_BIN_DIR` names another build (e.g. a release build).
    pub fn binary_path(name: &str) -> PathBuf {
        if let Some(dir) = std::env::var_os("ROLLOUT_BIN_DIR") {
            return PathBuf::from(dir).join(name);
        }
        let exe = std::env::current_exe().expect("current exe");
        // Tests run from target/<profile>/deps/, the demo and benchmarks from target/<profile>/.
        let mut profile_dir = exe.parent().expect("target dir");
        if profile_dir.ends_with("deps") {
            profile_dir = profile_dir.parent().expect("target dir");
        }
        profile_dir.join(name)
    }

    /// Starts the binary of the function crate `name` with the bench's AWS environment plus
    /// `env` (the function's own configuration).
    pub async fn start(name: &str, bench: &crate::Bench, env: &[(&str, &str)]) -> LambdaFn {
        let mut all = bench.aws_env();
        all.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Self::start_with_env(name, Self::binary_path(name), all).await
    }

    /// Starts a binary with exactly the Lambda variables and `env`; nothing else of the test's
    /// environment leaks in.
    pub async fn start_with_env(
        name: &str,
        binary: PathBuf,
        env: Vec<(String, String)>,
    ) -> LambdaFn {
        assert!(
            binary.exists(),
            "{} not found: build the functions first (`cargo build --workspace`)",
            binary.display()
        );
        let (sender, receiver) = mpsc::channel(16);
        let state = ApiState {
            queue: Arc::new(tokio::sync::Mutex::new(receiver)),
            waiting: Arc::default(),
            first_poll: Arc::default(),
        };
        let listener = crate::bind_local().await;
        let api_port = listener.local_addr().expect("addr").port();
        let router = axum::Router::new()
            .route(&format!("{API}/invocation/next"), get(next))
            .route(&format!("{API}/invocation/{{id}}/response"), post(respond))
            .route(&format!("{API}/invocation/{{id}}/error"), post(fail))
            .route(&format!("{API}/init/error"), post(init_error))
            .with_state(state.clone());
        crate::serve(listener, router);
        let function = LambdaFn {
            name: name.to_string(),
            binary,
            env,
            api_port,
            sender,
            state,
            child: Mutex::new(None),
            logs: Arc::default(),
            started_at: Mutex::new(Instant::now()),
        };
        function.spawn();
        function
    }

    fn spawn(&self) {
        let mut command = Command::new(&self.binary);
        command
            .env_clear()
            .env(
                "AWS_LAMBDA_RUNTIME_API",
                format!("127.0.0.1:{}", self.api_port),
            )
            .env("AWS_LAMBDA_FUNCTION_NAME", &self.name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
            .env(
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{}", self.name),
            )
            .env("LAMBDA_TASK_ROOT", "/var/task")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (key, value) in &self.env {
            command.env(key, value);
        }
        *self
            .state
            .first_poll
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = None;
        *self.started_at.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
        let mut child = command.spawn().expect("start function binary");
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
        ]
        .into_iter()
        .flatten()
        {
            let logs = self.logs.clone();
            let echo = std::env::var_os("ROLLOUT_BENCH_ECHO").is_some();
            let name = self.name.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stream).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    if echo {
                        eprintln!("[{name}] {line}");
                    }
                    let mut logs = logs.lock().unwrap_or_else(|p| p.into_inner());
                    logs.push_str(&line);
                    logs.push('\n');
                }
            });
        }
        *self.child.lock().unwrap_or_else(|p| p.into_inner()) = Some(child);
    }

    /// Invokes with a 60-second timeout.
    pub async fn invoke(&self, event: Value) -> Invocation {
        self.invoke_with_timeout(event, Duration::from_secs(60))
            .await
    }

    /// Invokes with the given function timeout: the deadline header says now + `timeout`, and
    /// the harness gives up (as Lambda would stop the function) shortly after it.
    pub async fn invoke_with_timeout(&self, event: Value, timeout: Duration) -> Invocation {
        self.invoke_raw(event.to_string().into(), timeout).await
    }

    /// Invokes with a payload that need not be JSON.
    pub async fn invoke_raw(&self, event: Bytes, timeout: Duration) -> Invocation {
        self.ensure_running();
        static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let request_id = format!(
            "{:08x}-0000-4000-8000-{:012x}",
            std::process::id(),
            NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let (tx, rx) = oneshot::channel();
        self.state
            .waiting
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .answers
            .insert(request_id.clone(), tx);
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or_default();
        let started = Instant::now();
        let pending = Pending {
            request_id: request_id.clone(),
            event,
            deadline_ms: now_ms + timeout.as_millis() as u64,
            function_arn: format!(
                "arn:aws:lambda:us-east-1:123456789012:function:{}",
                self.name
            ),
        };
        if self.sender.send(pending).await.is_err() {
            return Invocation {
                request_id,
                outcome: InvokeOutcome::Crashed("runtime API closed".into()),
                elapsed: started.elapsed(),
            };
        }
        let outcome = tokio::select! {
            answer = rx => answer.unwrap_or(InvokeOutcome::Crashed("no answer".into())),
            _ = tokio::time::sleep(timeout + Duration::from_millis(250)) => {
                // Lambda stops a function that runs past its timeout; the next invocation
                // starts a fresh process.
                self.stop();
                InvokeOutcome::Timeout
            }
            crashed = self.wait_for_exit() => InvokeOutcome::Crashed(crashed),
        };
        Invocation {
            request_id,
            outcome,
            elapsed: started.elapsed(),
        }
    }

    async fn wait_for_exit(&self) -> String {
        loop {
            tokio::time::sleep(Duration::from_millis(20)).await;
            if let Some(reason) = self
                .state
                .waiting
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .init_error
                .clone()
            {
                return format!("init error: {reason}");
            }
            let mut guard = self.child.lock().unwrap_or_else(|p| p.into_inner());
            match guard.as_mut().map(|c| c.try_wait()) {
                Some(Ok(Some(status))) => {
                    *guard = None;
                    return format!("process exited: {status}");
                }
                None => return "process not running".into(),
                _ => {}
            }
        }
    }

    fn ensure_running(&self) {
        let running = self
            .child
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)));
        if !running {
            self.state
                .waiting
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .init_error = None;
            self.spawn();
        }
    }

    /// Stops the process (Lambda freezing and discarding the environment).
    pub fn stop(&self) {
        if let Some(mut child) = self.child.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = child.start_kill();
        }
    }

    /// Everything the function wrote to stdout and stderr so far.
    pub fn logs(&self) -> String {
        self.logs.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The function's JSON log lines, parsed.
    pub fn log_records(&self) -> Vec<Value> {
        self.logs()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// When the current process was started.
    pub fn started_at(&self) -> Instant {
        *self.started_at.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What Lambda reports as Init Duration: from the spawn of the current process to its first
    /// `invocation/next` request. `None` while it has not polled yet.
    pub fn init_duration(&self) -> Option<Duration> {
        let first_poll = *self
            .state
            .first_poll
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        first_poll.map(|at| at.saturating_duration_since(self.started_at()))
    }

    /// The process id, for RSS readings.
    pub fn pid(&self) -> Option<u32> {
        self.child
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .and_then(Child::id)
    }
}

impl Drop for LambdaFn {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn next(State(state): State<ApiState>) -> Response<Body> {
    state
        .first_poll
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get_or_insert_with(Instant::now);
    let pending = state.queue.lock().await.recv().await;
    match pending {
        Some(p) => Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .header("lambda-runtime-aws-request-id", &p.request_id)
            .header("lambda-runtime-deadline-ms", p.deadline_ms.to_string())
            .header("lambda-runtime-invoked-function-arn", &p.function_arn)
            .header(
                "lambda-runtime-trace-id",
                "Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=0",
            )
            .body(Body::from(p.event))
            .unwrap_or_default(),
        None => Response::builder()
            .status(500)
            .body(Body::empty())
            .unwrap_or_default(),
    }
}

fn settle(state: &ApiState, id: &str, outcome: InvokeOutcome) -> Response<Body> {
    if let Some(tx) = state
        .waiting
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .answers
        .remove(id)
    {
        let _ = tx.send(outcome);
    }
    Response::builder()
        .status(202)
        .body(Body::from(r#"{"status":"OK"}"#))
        .unwrap_or_default()
}

async fn respond(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response<Body> {
    let value = serde_json::from_slice(&body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    settle(&state, &id, InvokeOutcome::Response(value))
}

async fn fail(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response<Body> {
    let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let field = |name: &str| {
        value
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    settle(
        &state,
        &id,
        InvokeOutcome::Error {
            error_type: field("errorType"),
            error_message: field("errorMessage"),
        },
    )
}

async fn init_error(State(state): State<ApiState>, body: Bytes) -> Response<Body> {
    state
        .waiting
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .init_error = Some(String::from_utf8_lossy(&body).into_owned());
    Response::builder()
        .status(202)
        .body(Body::empty())
        .unwrap_or_default()
}
