//! Lambda's `Invoke`, answered by the AWS front with real local processes. moto keeps the
//! functions, versions and aliases (`CreateFunction`, `PublishVersion`, `CreateAlias`,
//! `UpdateAlias`, `GetAlias` work without Docker) but cannot run their code without Docker. A
//! test registers a process per function version (any binary under the bench's Runtime API,
//! e.g. `sample-function`); the fake resolves an alias through moto's `GetAlias` (weighted
//! routing included), runs the event in that version's process with the function's timeout, and
//! answers as Lambda does on the wire (restJson1):
//! - 200 with the function's bytes and `X-Amz-Executed-Version`;
//! - 200 with `X-Amz-Function-Error: Unhandled` and `{"errorType", "errorMessage"}` when the
//!   function returned an error, timed out (`Task timed out after N seconds`) or its process
//!   exited (`Runtime.ExitError`);
//! - 404 `ResourceNotFoundException` for a version or alias nobody registered, with
//!   `x-amzn-ErrorType`, as the SDK parses Lambda's errors;
//! - 204 for `DryRun`, 202 for `Event` (run in the background).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Response};
use serde_json::{Value, json};

use crate::front::json_reply;
use crate::runtime::{InvokeOutcome, LambdaFn};

const ACCOUNT: &str = "123456789012";

/// One registered version: its process and the function's timeout.
struct Version {
    process: Arc<LambdaFn>,
    timeout: Duration,
}

/// One `Invoke` the fake answered.
#[derive(Debug, Clone, PartialEq)]
pub struct Invoked {
    pub function: String,
    /// As the caller asked: a version, an alias or `$LATEST`.
    pub qualifier: String,
    /// The version that ran, if any.
    pub executed: Option<String>,
}

#[derive(Default)]
pub struct LambdaFake {
    versions: Mutex<HashMap<(String, String), Version>>,
    invoked: Mutex<Vec<Invoked>>,
}

/// `/2015-03-31/functions/{FunctionName}/invocations`: the function part, percent-decoded.
pub fn invoke_path(path: &str) -> Option<String> {
    let name = path
        .strip_prefix("/2015-03-31/functions/")?
        .strip_suffix("/invocations")?;
    Some(percent_decode(name))
}

impl LambdaFake {
    /// `process` answers invocations of `function` at `version`, each bounded by `timeout`.
    pub fn register(&self, function: &str, version: &str, process: LambdaFn, timeout: Duration) {
        self.lock_versions().insert(
            (function.to_string(), version.to_string()),
            Version {
                process: Arc::new(process),
                timeout,
            },
        );
    }

    /// Every invocation answered so far, in order.
    pub fn invoked(&self) -> Vec<Invoked> {
        self.invoked
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn lock_versions(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), Version>> {
        self.versions.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Answers one `Invoke`. `resolve_alias` asks moto which version an alias serves.
    pub async fn invoke<F, Fut>(
        &self,
        function_part: &str,
        query: Option<&str>,
        headers: &HeaderMap,
        payload: Bytes,
        resolve_alias: F,
    ) -> Response<Body>
    where
        F: FnOnce(String, String) -> Fut,
        Fut: Future<Output = Option<String>>,
    {
        let (function, inline_qualifier) = split_function(function_part);
        let qualifier = query
            .and_then(|q| {
                q.split('&')
                    .find_map(|kv| kv.strip_prefix("Qualifier="))
                    .map(percent_decode)
            })
            .or(inline_qualifier)
            .unwrap_or_else(|| "$LATEST".to_string());
        let invocation_type = headers
            .get("x-amz-invocation-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("RequestResponse")
            .to_string();
        let is_version = qualifier == "$LATEST" || qualifier.chars().all(|c| c.is_ascii_digit());
        let version = if is_version {
            Some(qualifier.clone())
        } else {
            resolve_alias(function.clone(), qualifier.clone()).await
        };
        let known = version.as_ref().and_then(|v| {
            self.lock_versions()
                .get(&(function.clone(), v.clone()))
                .map(|found| (found.process.clone(), found.timeout))
        });
        self.invoked
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Invoked {
                function: function.clone(),
                qualifier: qualifier.clone(),
                executed: known.as_ref().and(version.clone()),
            });
        let (Some((process, timeout)), Some(version)) = (known, version) else {
            return not_found(&function, &qualifier);
        };
        match invocation_type.as_str() {
            "DryRun" => return empty(204, &version),
            "Event" => {
                tokio::spawn(async move {
                    let _ = process.invoke_raw(payload, timeout).await;
                });
                return empty(202, &version);
            }
            _ => {}
        }
        let invocation = process.invoke_raw(payload, timeout).await;
        let (body, function_error) = match invocation.outcome {
            InvokeOutcome::Response(value) => (value.to_string(), None),
            InvokeOutcome::Error {
                error_type,
                error_message,
            } => (
                json!({"errorType": error_type, "errorMessage": error_message}).to_string(),
                Some("Unhandled"),
            ),
            InvokeOutcome::Timeout => (
                json!({
                    "errorType": "Sandbox.Timedout",
                    "errorMessage": format!(
                        "Task timed out after {:.2} seconds",
                        timeout.as_secs_f64()
                    ),
                })
                .to_string(),
                Some("Unhandled"),
            ),
            InvokeOutcome::Crashed(why) => (
                json!({"errorType": "Runtime.ExitError", "errorMessage": why}).to_string(),
                Some("Unhandled"),
            ),
        };
        let mut reply = Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .header("x-amz-executed-version", version.as_str())
            .header("x-amzn-requestid", invocation.request_id.as_str());
        if let Some(kind) = function_error {
            reply = reply.header("x-amz-function-error", kind);
        }
        reply
            .body(Body::from(body))
            .unwrap_or_else(|_| Response::new(Body::empty()))
    }
}

/// The version an alias serves, from moto's `GetAlias` answer: `FunctionVersion`, or one of the
/// `RoutingConfig.AdditionalVersionWeights` versions with its weight's chance.
pub fn version_of_alias(alias: &Value) -> Option<String> {
    let primary = alias.get("FunctionVersion")?.as_str()?.to_string();
    let weights = alias
        .pointer("/RoutingConfig/AdditionalVersionWeights")
        .and_then(Value::as_object);
    let roll: f64 = {
        // A cheap, good-enough draw: the clock's nanoseconds.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        f64::from(nanos % 1_000_000) / 1_000_000.0
    };
    let mut edge = 0.0;
    for (version, weight) in weights.into_iter().flatten() {
        edge += weight.as_f64().unwrap_or_default();
        if roll < edge {
            return Some(version.clone());
        }
    }
    Some(primary)
}

/// `name`, `name:qualifier`, `arn:aws:lambda:region:account:function:name[:qualifier]` or the
/// partial `account:function:name[:qualifier]`.
fn split_function(part: &str) -> (String, Option<String>) {
    let pieces: Vec<&str> = part.split(':').collect();
    let after_function = pieces
        .iter()
        .position(|p| *p == "function")
        .map(|i| &pieces[i + 1..])
        .unwrap_or(&pieces[..]);
    match after_function {
        [name] => (name.to_string(), None),
        [name, qualifier, ..] => (name.to_string(), Some(qualifier.to_string())),
        [] => (part.to_string(), None),
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = text.get(i + 1..i + 3)
            && let Ok(byte) = u8::from_str_radix(hex, 16)
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn not_found(function: &str, qualifier: &str) -> Response<Body> {
    let arn = format!("arn:aws:lambda:us-east-1:{ACCOUNT}:function:{function}:{qualifier}");
    let mut reply = json_reply(
        404,
        &json!({"Type": "User", "message": format!("Function not found: {arn}")}),
    );
    reply.headers_mut().insert(
        "x-amzn-errortype",
        axum::http::HeaderValue::from_static("ResourceNotFoundException"),
    );
    reply
}

fn empty(status: u16, version: &str) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("x-amz-executed-version", version)
        .body(Body::empty())
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_names_are_read_in_every_form_lambda_takes() {
        assert_eq!(split_function("orders"), ("orders".into(), None));
        assert_eq!(
            split_function("orders:2"),
            ("orders".into(), Some("2".into()))
        );
        assert_eq!(
            split_function("arn:aws:lambda:us-east-1:123456789012:function:orders:live"),
            ("orders".into(), Some("live".into()))
        );
        assert_eq!(
            split_function("123456789012:function:orders"),
            ("orders".into(), None)
        );
        assert_eq!(
            invoke_path(
                "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A1%3Afunction%3Aorders/invocations"
            ),
            Some("arn:aws:lambda:us-east-1:1:function:orders".into())
        );
    }

    #[test]
    fn an_alias_without_weights_serves_its_version() {
        let alias = json!({"Name": "live", "FunctionVersion": "2"});
        assert_eq!(version_of_alias(&alias), Some("2".into()));
        let all_weight = json!({"FunctionVersion": "1",
            "RoutingConfig": {"AdditionalVersionWeights": {"2": 1.0}}});
        assert_eq!(version_of_alias(&all_weight), Some("2".into()));
    }
}
