//! Errors become `lambda_runtime::Diagnostic` with a stable `errorType` per variant, so a
//! Lambda destination, a DLQ consumer or a Step Functions `Catch` can branch on it.

use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use lambda_runtime::Diagnostic;

/// A stable, machine-readable name for an error variant, e.g. `SlackDeliveryFailed`.
pub trait ErrorKind {
    fn kind(&self) -> &'static str;
}

/// The `Diagnostic` for an error. The message is the error's `Display`, which by convention in
/// this workspace never contains a secret.
pub fn diagnostic<E: ErrorKind + std::fmt::Display>(err: &E) -> Diagnostic {
    Diagnostic {
        error_type: err.kind().to_string(),
        error_message: err.to_string(),
    }
}

/// `Code: message` of an SDK error, or its display chain when the service sent no code
/// (timeouts, connection failures).
pub fn sdk_error_summary<E>(err: &E) -> String
where
    E: ProvideErrorMetadata + std::error::Error,
{
    match (err.code(), err.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_string(),
        _ => {
            let mut text = err.to_string();
            let mut source = err.source();
            while let Some(inner) = source {
                text.push_str(": ");
                text.push_str(&inner.to_string());
                source = inner.source();
            }
            text
        }
    }
}
