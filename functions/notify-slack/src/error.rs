//! The crate's one error type. Every message is safe to log and to return: none carries the
//! webhook URL or its ciphertext.

use lambda_runtime::Diagnostic;
use rollout_kit::{ConfigError, ErrorKind};

use crate::webhook::WebhookRejected;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("the HTTP client could not be built: {0}")]
    HttpClient(String),
    #[error("the event is neither an SNS nor an SQS event: {0}")]
    NotSns(#[from] crate::sns::NotSns),
    #[error("KMS could not decrypt SLACK_WEBHOOK_URL_ENCRYPTED: {0}")]
    WebhookDecrypt(String),
    #[error("SLACK_WEBHOOK_URL_ENCRYPTED decrypts to an unusable webhook: {0}")]
    WebhookRejected(#[from] WebhookRejected),
    #[error("{undelivered} of {total} notifications were not delivered to Slack: {details}")]
    Undelivered {
        undelivered: usize,
        total: usize,
        details: String,
    },
}

impl ErrorKind for Error {
    fn kind(&self) -> &'static str {
        match self {
            Error::Config(_) => "InvalidConfig",
            Error::HttpClient(_) => "HttpClientInit",
            Error::NotSns(_) => "InvalidEvent",
            Error::WebhookDecrypt(_) => "WebhookDecryptFailed",
            Error::WebhookRejected(_) => "WebhookUrlRejected",
            Error::Undelivered { .. } => "SlackDeliveryFailed",
        }
    }
}

impl From<Error> for Diagnostic {
    fn from(err: Error) -> Self {
        rollout_kit::diagnostic(&err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_error_types() {
        let err = Error::Undelivered {
            undelivered: 1,
            total: 3,
            details: "record 2: 404 channel_not_found".into(),
        };
        let diagnostic = Diagnostic::from(err);
        assert_eq!(diagnostic.error_type, "SlackDeliveryFailed");
        assert!(diagnostic.error_message.starts_with("1 of 3"));
        let rejected = Error::from(WebhookRejected::Scheme);
        assert_eq!(rejected.kind(), "WebhookUrlRejected");
    }
}
