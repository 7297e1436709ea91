//! Test invocations of a function version: the Lambda counterpart of [`crate::probe`]. Each
//! answer becomes a [`Sample`]: a function error, a refused or timed-out call, or a payload the
//! body checks judge exactly as they judge an HTTP body.

use aws_sdk_codedeploy::config::http::HttpResponse;
use aws_sdk_codedeploy::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_lambda::operation::invoke::{InvokeError, InvokeOutput};
use tokio::time::Instant;

use crate::config::ProbeSpec;
use crate::ports::Functions;
use crate::probe::bounded;
use crate::redact::Redactor;
use crate::verdict::{Expectations, Sample, SampleResult, classify_redacted, excerpt_redacted};

/// Answers are read up to this size for the body checks (a synchronous answer is at most 6 MB).
const BODY_LIMIT: usize = 256 * 1024;

/// Warm-up invocations first (not counted), then the counted ones, `concurrency` at a time.
pub async fn run(
    functions: &impl Functions,
    function: &str,
    qualifier: &str,
    spec: &ProbeSpec,
    expect: &Expectations,
) -> Vec<Sample> {
    if spec.warmup > 0 {
        let warmup = invoke_all(functions, function, qualifier, spec, expect, spec.warmup).await;
        tracing::debug!(invocations = warmup.len(), "warm-up done");
    }
    invoke_all(functions, function, qualifier, spec, expect, spec.requests).await
}

async fn invoke_all(
    functions: &impl Functions,
    function: &str,
    qualifier: &str,
    spec: &ProbeSpec,
    expect: &Expectations,
    count: u32,
) -> Vec<Sample> {
    bounded(count, spec.concurrency, |index| {
        let index = index % spec.payloads.len().max(1);
        let payload = spec.payloads.get(index).cloned().unwrap_or_default();
        let (functions, function, qualifier) = (
            functions.clone(),
            function.to_string(),
            qualifier.to_string(),
        );
        let (expect, redactor, timeout) = (expect.clone(), spec.redactor.clone(), spec.timeout);
        async move {
            let began = Instant::now();
            let answer =
                tokio::time::timeout(timeout, functions.invoke(&function, &qualifier, &payload))
                    .await;
            let latency = began.elapsed();
            let result = match answer {
                Ok(answer) => classify(answer, &expect, &redactor),
                Err(_) => SampleResult::Timeout,
            };
            Sample {
                path: format!("payload {index}"),
                latency,
                result,
            }
        }
    })
    .await
}

/// One invocation's answer, judged. Pure.
pub fn classify(
    answer: Result<InvokeOutput, SdkError<InvokeError, HttpResponse>>,
    expect: &Expectations,
    redactor: &Redactor,
) -> SampleResult {
    match answer {
        Ok(output) => {
            let bytes = output.payload().map(|p| p.as_ref()).unwrap_or_default();
            let body = String::from_utf8_lossy(&bytes[..bytes.len().min(BODY_LIMIT)]);
            match output.function_error() {
                Some(kind) => SampleResult::FunctionError {
                    kind: kind.to_string(),
                    excerpt: excerpt_redacted(&body, redactor),
                },
                None => {
                    let status = u16::try_from(output.status_code()).unwrap_or(0);
                    classify_redacted(status, &body, expect, redactor)
                }
            }
        }
        Err(SdkError::TimeoutError(_)) => SampleResult::Timeout,
        Err(SdkError::DispatchFailure(err)) => SampleResult::ConnectFailed {
            detail: if err.is_timeout() {
                "timed out connecting to Lambda".into()
            } else {
                "Lambda could not be reached".into()
            },
        },
        // A refusal (not found, access denied, throttled past the SDK's retries, the function
        // itself unusable): the code and message say which, and fail the sample.
        Err(SdkError::ServiceError(err)) => SampleResult::TransportError {
            kind: "lambda_refused",
            detail: format!(
                "{}: {}",
                err.err().code().unwrap_or("Unknown"),
                err.err().message().unwrap_or_default()
            ),
        },
        Err(other) => SampleResult::TransportError {
            kind: "lambda_error",
            detail: rollout_kit::sdk_error_summary(&other),
        },
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_lambda::primitives::Blob;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;
    use crate::verdict::{JsonField, StatusSet};

    fn expect() -> Expectations {
        Expectations {
            status: StatusSet::parse("200").unwrap(),
            body_contains: None,
            body_regex: None,
            body_json: Some(JsonField::parse("/statusCode=200").unwrap()),
        }
    }

    fn answered(body: &str, function_error: Option<&str>) -> SampleResult {
        let mut output = InvokeOutput::builder()
            .status_code(200)
            .payload(Blob::new(body.as_bytes()));
        if let Some(kind) = function_error {
            output = output.function_error(kind);
        }
        classify(Ok(output.build()), &expect(), &Redactor::default())
    }

    #[test]
    fn a_healthy_answer_passes_the_body_checks() {
        assert_eq!(
            answered(r#"{"statusCode":200,"body":"ok"}"#, None),
            SampleResult::Passed { status: 200 }
        );
        assert!(matches!(
            answered(r#"{"statusCode":500}"#, None),
            SampleResult::BodyMismatch { status: 200, .. }
        ));
    }

    #[test]
    fn a_function_error_fails_with_its_message() {
        let result = answered(
            r#"{"errorType":"Runtime.ExitError","errorMessage":"boom"}"#,
            Some("Unhandled"),
        );
        match result {
            SampleResult::FunctionError { kind, excerpt } => {
                assert_eq!(kind, "Unhandled");
                assert!(excerpt.contains("boom"), "{excerpt}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_refusal_names_its_code() {
        let meta = ErrorMetadata::builder()
            .code("ResourceNotFoundException")
            .message("Function not found: orders:9")
            .build();
        let err = SdkError::service_error(
            InvokeError::generic(meta),
            HttpResponse::new(404.try_into().unwrap(), SdkBody::empty()),
        );
        match classify(Err(err), &expect(), &Redactor::default()) {
            SampleResult::TransportError { kind, detail } => {
                assert_eq!(kind, "lambda_refused");
                assert!(detail.starts_with("ResourceNotFoundException"), "{detail}");
            }
            other => panic!("{other:?}"),
        }
    }
}
