//! The AWS endpoint the functions talk to: a pass-through to moto that adds what moto lacks
//! and injects faults.
//!
//! Faults, the CodeDeploy fake and the ECS fake ([`crate::ecs_fake`]: `DescribeServiceRevisions`,
//! `DescribeServiceDeployments`) answer in the wire protocol of the service that was called,
//! so the Rust SDK parses them exactly as it would parse AWS: awsJson1.1 errors (`__type`,
//! `x-amzn-ErrorType`) for CodeDeploy and KMS, awsQuery XML `<ErrorResponse>` for ELBv2, SNS and
//! CloudWatch.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes, to_bytes};
use axum::http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use serde_json::{Value, json};

use crate::ecs_fake::EcsFake;
use crate::lambda_fake::{self, LambdaFake};

const CODEDEPLOY_TARGET_PREFIX: &str = "CodeDeploy_20141006.";

/// One call that reached the front.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsCall {
    /// The SigV4 signing name: `codedeploy`, `elasticloadbalancing`, `kms`, `sns`, `monitoring`…
    pub service: String,
    pub operation: String,
}

/// A `PutLifecycleEventHookExecutionStatus` the fake accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookReport {
    pub deployment_id: String,
    pub execution_id: String,
    pub status: String,
}

/// A message published to an SNS topic through the front.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnsPublish {
    pub topic_arn: String,
    pub subject: Option<String>,
    pub message: String,
}

/// How to answer one operation instead of (or before) moto.
#[derive(Debug, Clone)]
pub struct Fault {
    service: String,
    operation: String,
    /// `None`: every matching call. `Some(n)`: the next n calls.
    remaining: Option<u32>,
    reply: FaultReply,
}

#[derive(Debug, Clone)]
enum FaultReply {
    Error {
        status: u16,
        code: String,
        message: String,
    },
    /// Never answer (until the caller gives up).
    Hang,
    /// Answer normally after a pause.
    Delay(Duration),
    /// Pass the call on at once, then hold the answer back for a pause: the call has taken
    /// effect while the caller still waits (room for another writer right after it).
    DelayReply(Duration),
}

impl Fault {
    fn new(service: &str, operation: &str, reply: FaultReply) -> Self {
        Self {
            service: service.to_string(),
            operation: operation.to_string(),
            remaining: None,
            reply,
        }
    }

    /// An error with the given HTTP status and error code (`__type` / `<Code>`).
    pub fn error(service: &str, operation: &str, status: u16, code: &str, message: &str) -> Self {
        Self::new(
            service,
            operation,
            FaultReply::Error {
                status,
                code: code.to_string(),
                message: message.to_string(),
            },
        )
    }

    /// The throttling answer of the service: `ThrottlingException` for JSON services,
    /// `Throttling` for query services (ELBv2, SNS, CloudWatch), both HTTP 400.
    pub fn throttle(service: &str, operation: &str) -> Self {
        let code = if is_query_service(service) {
            "Throttling"
        } else {
            "ThrottlingException"
        };
        Self::error(service, operation, 400, code, "Rate exceeded")
    }

    /// An internal error (HTTP 500), which the SDK treats as transient.
    pub fn server_error(service: &str, operation: &str) -> Self {
        Self::error(
            service,
            operation,
            500,
            "InternalFailure",
            "The request processing has failed because of an unknown error.",
        )
    }

    pub fn hang(service: &str, operation: &str) -> Self {
        Self::new(service, operation, FaultReply::Hang)
    }

    pub fn delay(service: &str, operation: &str, pause: Duration) -> Self {
        Self::new(service, operation, FaultReply::Delay(pause))
    }

    /// The call reaches moto at once; its answer comes after `pause`.
    pub fn delay_reply(service: &str, operation: &str, pause: Duration) -> Self {
        Self::new(service, operation, FaultReply::DelayReply(pause))
    }

    /// Applies to the next `n` matching calls only.
    pub fn times(mut self, n: u32) -> Self {
        self.remaining = Some(n);
        self
    }
}

fn is_query_service(service: &str) -> bool {
    matches!(
        service,
        "elasticloadbalancing" | "sns" | "monitoring" | "ec2" | "sts" | "sqs" | "autoscaling"
    )
}

#[derive(Default)]
struct State {
    calls: Vec<AwsCall>,
    faults: Vec<Fault>,
    reports: Vec<HookReport>,
    published: Vec<SnsPublish>,
    /// Hook executions that already took a status.
    completed: HashMap<(String, String), String>,
    /// Time spent answering calls (request read → reply ready), faults and moto included.
    served: Duration,
}

#[derive(Clone)]
pub struct AwsFront {
    state: Arc<Mutex<State>>,
    /// moto's threaded server checks a DynamoDB condition and then writes without a lock, so
    /// two concurrent conditional writes can both pass; DynamoDB makes each one atomic. The
    /// front passes DynamoDB calls to moto one at a time, as DynamoDB would apply them.
    dynamodb: Arc<tokio::sync::Mutex<()>>,
    /// The ECS deployment operations moto lacks, from revisions the tests register.
    ecs: Arc<EcsFake>,
    /// Lambda's `Invoke`, by local processes the tests register per function version.
    lambda: Arc<LambdaFake>,
    moto_url: String,
    client: reqwest::Client,
    pub port: u16,
}

impl AwsFront {
    pub async fn start(moto_url: String) -> AwsFront {
        let listener = crate::bind_local().await;
        let port = listener.local_addr().expect("local addr").port();
        let front = AwsFront {
            state: Arc::default(),
            dynamodb: Arc::default(),
            ecs: Arc::default(),
            lambda: Arc::default(),
            moto_url,
            client: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("http client"),
            port,
        };
        let handler_front = front.clone();
        let router = axum::Router::new().fallback(move |req: Request<Body>| {
            let front = handler_front.clone();
            async move {
                let started = std::time::Instant::now();
                let reply = front.handle(req).await;
                front.lock().served += started.elapsed();
                reply
            }
        });
        crate::serve(listener, router);
        front
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The ECS fake: register the service revisions and deployments ECS would have.
    pub fn ecs(&self) -> &EcsFake {
        &self.ecs
    }

    /// The Lambda fake: register the processes that run each function version.
    pub fn lambda(&self) -> &LambdaFake {
        &self.lambda
    }

    pub fn inject(&self, fault: Fault) {
        self.lock().faults.push(fault);
    }

    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    pub fn calls(&self) -> Vec<AwsCall> {
        self.lock().calls.clone()
    }

    /// How many calls of one operation reached the front (faulted ones included).
    pub fn count(&self, operation: &str) -> usize {
        self.lock()
            .calls
            .iter()
            .filter(|c| c.operation == operation)
            .count()
    }

    /// The calls' own time so far: what the front (and moto behind it) spent answering them.
    /// The difference across an invocation is the part of its latency that is AWS's.
    pub fn served(&self) -> Duration {
        self.lock().served
    }

    pub fn reset_calls(&self) {
        self.lock().calls.clear();
    }

    /// Every lifecycle-hook status the fake accepted, in order.
    pub fn hook_reports(&self) -> Vec<HookReport> {
        self.lock().reports.clone()
    }

    /// Messages published to SNS that moto accepted, in order.
    pub fn sns_messages(&self) -> Vec<SnsPublish> {
        self.lock().published.clone()
    }

    /// The rollout events among the published messages, in order (any topic).
    pub fn rollout_events(&self) -> Vec<rollout_kit::RolloutEvent> {
        self.lock()
            .published
            .iter()
            .filter_map(|m| rollout_kit::RolloutEvent::parse(&m.message))
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn handle(&self, req: Request<Body>) -> Response<Body> {
        let (parts, body) = req.into_parts();
        let body = match to_bytes(body, 64 * 1024 * 1024).await {
            Ok(b) => b,
            Err(_) => return plain(StatusCode::BAD_REQUEST, "unreadable body"),
        };
        let service = signing_service(&parts.headers).unwrap_or_default();
        let target = parts
            .headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        // Lambda speaks restJson1: the operation is in the path.
        let invoke_of = (service == "lambda" && parts.method == axum::http::Method::POST)
            .then(|| lambda_fake::invoke_path(parts.uri.path()))
            .flatten();
        let operation = match (&target, &invoke_of) {
            (Some(t), _) => t.rsplit('.').next().unwrap_or_default().to_string(),
            (None, Some(_)) => "Invoke".to_string(),
            (None, None) => query_action(&body).unwrap_or_default(),
        };
        let fault = {
            let mut state = self.lock();
            state.calls.push(AwsCall {
                service: service.clone(),
                operation: operation.clone(),
            });
            take_fault(&mut state.faults, &service, &operation)
        };
        match fault {
            Some(FaultReply::Error {
                status,
                code,
                message,
            }) => return error_reply(&service, status, &code, &message),
            Some(FaultReply::Hang) => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                return plain(StatusCode::GATEWAY_TIMEOUT, "hung");
            }
            Some(FaultReply::Delay(pause)) => tokio::time::sleep(pause).await,
            Some(FaultReply::DelayReply(pause)) => {
                let reply = self
                    .forward(parts.method, &parts.uri, &parts.headers, body)
                    .await;
                tokio::time::sleep(pause).await;
                return reply;
            }
            None => {}
        }
        if target.as_deref() == Some("CodeDeploy_20141006.PutLifecycleEventHookExecutionStatus") {
            return self.put_hook_status(&parts.headers, &body).await;
        }
        if let Some(target) = target.as_deref().filter(|t| EcsFake::answers(t)) {
            return self.ecs.handle(target, &body);
        }
        if let Some(function) = invoke_of {
            let auth = parts.headers.get("authorization").cloned();
            let resolve =
                |function: String, alias: String| self.alias_version(function, alias, auth);
            return self
                .lambda
                .invoke(&function, parts.uri.query(), &parts.headers, body, resolve)
                .await;
        }
        let publish = (service == "sns" && operation == "Publish")
            .then(|| sns_publish(&body))
            .flatten();
        let _atomic = match service.as_str() {
            "dynamodb" => Some(self.dynamodb.lock().await),
            _ => None,
        };
        let reply = self
            .forward(parts.method, &parts.uri, &parts.headers, body)
            .await;
        if let Some(publish) = publish.filter(|_| reply.status().is_success()) {
            self.lock().published.push(publish);
        }
        reply
    }

    async fn forward(
        &self,
        method: axum::http::Method,
        uri: &axum::http::Uri,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Response<Body> {
        let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
        let mut request = self
            .client
            .request(method, format!("{}{}", self.moto_url, path));
        for (name, value) in headers {
            if !matches!(
                name.as_str(),
                "host" | "content-length" | "transfer-encoding" | "connection"
            ) {
                request = request.header(name, value);
            }
        }
        let upstream = match request.body(body).send().await {
            Ok(r) => r,
            Err(err) => return plain(StatusCode::BAD_GATEWAY, &format!("moto: {err}")),
        };
        let status = upstream.status();
        let mut reply = Response::builder().status(status.as_u16());
        for (name, value) in upstream.headers() {
            if !matches!(
                name.as_str(),
                "content-length" | "transfer-encoding" | "connection"
            ) {
                reply = reply.header(name, value);
            }
        }
        let bytes = upstream.bytes().await.unwrap_or_default();
        reply
            .body(Body::from(bytes))
            .unwrap_or_else(|_| plain(StatusCode::BAD_GATEWAY, "bad upstream reply"))
    }

    /// `PutLifecycleEventHookExecutionStatus`, validated as CodeDeploy does: the status must be
    /// `Succeeded` or `Failed`, the deployment must exist (asked of moto), and a hook execution
    /// takes one status only.
    async fn put_hook_status(&self, headers: &HeaderMap, body: &Bytes) -> Response<Body> {
        let Ok(input) = serde_json::from_slice::<Value>(body) else {
            return json_error(400, "SerializationException", "Malformed request body");
        };
        let field = |name: &str| {
            input
                .get(name)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let deployment_id = field("deploymentId");
        let execution_id = field("lifecycleEventHookExecutionId");
        let status = field("status");
        if deployment_id.is_empty() {
            return json_error(
                400,
                "DeploymentIdRequiredException",
                "Deployment ID is required.",
            );
        }
        if execution_id.is_empty() {
            return json_error(
                400,
                "InvalidLifecycleEventHookExecutionIdException",
                "Lifecycle event hook execution ID is invalid.",
            );
        }
        if status != "Succeeded" && status != "Failed" {
            return json_error(
                400,
                "InvalidLifecycleEventHookExecutionStatusException",
                &format!("Status {status} is not valid. Valid values: Succeeded, Failed."),
            );
        }
        if !self.deployment_exists(headers, &deployment_id).await {
            return json_error(
                400,
                "DeploymentDoesNotExistException",
                &format!("The deployment {deployment_id} could not be found."),
            );
        }
        let mut state = self.lock();
        let key = (deployment_id.clone(), execution_id.clone());
        if state.completed.contains_key(&key) {
            return json_error(
                400,
                "LifecycleEventAlreadyCompletedException",
                &format!("Lifecycle event already completed for execution {execution_id}."),
            );
        }
        state.completed.insert(key, status.clone());
        state.reports.push(HookReport {
            deployment_id,
            execution_id: execution_id.clone(),
            status,
        });
        json_reply(
            200,
            &json!({ "lifecycleEventHookExecutionId": execution_id }),
        )
    }

    /// The version a Lambda alias serves, asked of moto (`GetAlias`) with the caller's signature.
    async fn alias_version(
        &self,
        function: String,
        alias: String,
        auth: Option<HeaderValue>,
    ) -> Option<String> {
        let mut request = self.client.get(format!(
            "{}/2015-03-31/functions/{function}/aliases/{alias}",
            self.moto_url
        ));
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        let reply = request.send().await.ok()?;
        if !reply.status().is_success() {
            return None;
        }
        let alias: Value = reply.json().await.ok()?;
        lambda_fake::version_of_alias(&alias)
    }

    async fn deployment_exists(&self, headers: &HeaderMap, deployment_id: &str) -> bool {
        let mut request = self
            .client
            .post(format!("{}/", self.moto_url))
            .header(
                "x-amz-target",
                format!("{CODEDEPLOY_TARGET_PREFIX}GetDeployment"),
            )
            .header("content-type", "application/x-amz-json-1.1");
        if let Some(auth) = headers.get("authorization") {
            request = request.header("authorization", auth);
        }
        match request
            .body(json!({ "deploymentId": deployment_id }).to_string())
            .send()
            .await
        {
            Ok(reply) => reply.status().is_success(),
            Err(_) => false,
        }
    }
}

fn take_fault(faults: &mut Vec<Fault>, service: &str, operation: &str) -> Option<FaultReply> {
    let index = faults
        .iter()
        .position(|f| f.operation == operation && (f.service.is_empty() || f.service == service))?;
    let fault = &mut faults[index];
    let reply = fault.reply.clone();
    if let Some(n) = fault.remaining.as_mut() {
        *n -= 1;
        if *n == 0 {
            faults.remove(index);
        }
    }
    Some(reply)
}

/// The SigV4 signing name from `Authorization: AWS4-HMAC-SHA256 Credential=AKID/date/region/service/aws4_request`.
fn signing_service(headers: &HeaderMap) -> Option<String> {
    let auth = headers.get("authorization")?.to_str().ok()?;
    let credential = auth.split("Credential=").nth(1)?;
    let scope = credential.split(',').next()?;
    scope.split('/').nth(3).map(str::to_string)
}

fn sns_publish(body: &Bytes) -> Option<SnsPublish> {
    let form: HashMap<String, String> = form_urlencoded(body);
    Some(SnsPublish {
        topic_arn: form.get("TopicArn")?.clone(),
        subject: form.get("Subject").cloned(),
        message: form.get("Message")?.clone(),
    })
}

/// Decodes an `application/x-www-form-urlencoded` body (the awsQuery protocol).
fn form_urlencoded(body: &Bytes) -> HashMap<String, String> {
    let decode = |raw: &str| -> String {
        let bytes = raw.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < bytes.len() && raw.is_char_boundary(i + 3) => {
                    match u8::from_str_radix(&raw[i + 1..i + 3], 16) {
                        Ok(b) => {
                            out.push(b);
                            i += 2;
                        }
                        Err(_) => out.push(b'%'),
                    }
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    };
    std::str::from_utf8(body)
        .unwrap_or("")
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

fn query_action(body: &Bytes) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    text.split('&')
        .find_map(|pair| pair.strip_prefix("Action="))
        .map(str::to_string)
}

fn error_reply(service: &str, status: u16, code: &str, message: &str) -> Response<Body> {
    if is_query_service(service) {
        query_error(status, code, message)
    } else {
        json_error(status, code, message)
    }
}

pub(crate) fn json_error(status: u16, code: &str, message: &str) -> Response<Body> {
    let mut reply = json_reply(status, &json!({ "__type": code, "message": message }));
    if let Ok(value) = HeaderValue::from_str(code) {
        reply.headers_mut().insert("x-amzn-errortype", value);
    }
    reply
}

pub(crate) fn json_reply(status: u16, body: &Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amzn-requestid", request_id())
        .body(Body::from(body.to_string()))
        .unwrap_or_default()
}

fn query_error(status: u16, code: &str, message: &str) -> Response<Body> {
    let kind = if status >= 500 { "Receiver" } else { "Sender" };
    let body = format!(
        "<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><Error><Type>{kind}</Type>\
         <Code>{code}</Code><Message>{message}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
        request_id()
    );
    Response::builder()
        .status(status)
        .header("content-type", "text/xml")
        .body(Body::from(body))
        .unwrap_or_default()
}

fn plain(status: StatusCode, text: &str) -> Response<Body> {
    Response::builder()
        .status(status)
        .body(Body::from(text.to_string()))
        .unwrap_or_default()
}

fn request_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!(
        "00000000-0000-4000-8000-{:012x}",
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}
