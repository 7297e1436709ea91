//! The webhook URL, decrypted with KMS once per container, on first use.

use std::sync::Mutex;

use aws_sdk_kms::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kms::operation::decrypt::{DecryptError, DecryptOutput};
use aws_sdk_kms::primitives::Blob;
use rollout_kit::retry::{Backoff, RetryError, retry_until, sdk_is_transient};
use rollout_kit::sdk_error_summary;
use tokio::sync::OnceCell;
use tokio::time::Instant;

use crate::error::Error;
use crate::ports::Decrypter;
use crate::webhook::{self, WebhookUrl};

/// The encryption-context key the Lambda console's encryption helpers use.
pub const CONTEXT_KEY: &str = "LambdaFunctionName";

/// KMS error codes after which decrypting without the context is worth a try: a ciphertext
/// made without a context fails with the context as `InvalidCiphertextException`, and a key or
/// IAM policy that allows only one form answers `AccessDeniedException`.
const TRY_OTHER_FORM: &[&str] = &[
    "InvalidCiphertextException",
    "AccessDeniedException",
    "IncorrectKeyException",
];

pub struct WebhookSecret<K = rollout_kit::LazyClient<aws_sdk_kms::Client>> {
    kms: K,
    ciphertext: Blob,
    function_name: String,
    allowed_hosts: Vec<String>,
    // `get_or_try_init` keeps only a success: after a throttle or a KMS outage the next
    // invocation tries again instead of failing for the life of the container.
    url: OnceCell<WebhookUrl>,
}

impl<K: Decrypter> WebhookSecret<K> {
    pub fn new(
        kms: K,
        ciphertext: Vec<u8>,
        function_name: String,
        allowed_hosts: Vec<String>,
    ) -> Self {
        Self {
            kms,
            ciphertext: Blob::new(ciphertext),
            function_name,
            allowed_hosts,
            url: OnceCell::new(),
        }
    }

    /// The URL, decrypting it first if this container has not yet. KMS gets until `until`:
    /// a hung or throttled KMS ends in [`Error::WebhookDecrypt`] then, which Lambda retries,
    /// instead of running into the invocation's timeout.
    pub async fn url(&self, until: Instant) -> Result<&WebhookUrl, Error> {
        // Boxed: the SDK's and the retry loop's futures nest too deep for the compiler's
        // layout queries otherwise.
        self.url
            .get_or_try_init(|| Box::pin(self.decrypt(until)))
            .await
    }

    async fn decrypt(&self, until: Instant) -> Result<WebhookUrl, Error> {
        let plaintext = match self.decrypt_once(Some(&self.function_name), until).await {
            Ok(out) => {
                tracing::info!(encryption_context = true, "decrypted the webhook URL");
                out.plaintext
            }
            Err(first)
                if first
                    .code()
                    .is_some_and(|code| TRY_OTHER_FORM.contains(&code)) =>
            {
                let first_summary = describe(&first);
                match self.decrypt_once(None, until).await {
                    Ok(out) => {
                        tracing::info!(encryption_context = false, "decrypted the webhook URL");
                        out.plaintext
                    }
                    Err(second) => {
                        return Err(Error::WebhookDecrypt(format!(
                            "with encryption context {CONTEXT_KEY}={}: {first_summary}; without a context: {}",
                            self.function_name,
                            describe(&second)
                        )));
                    }
                }
            }
            Err(first) => {
                return Err(Error::WebhookDecrypt(format!(
                    "with encryption context {CONTEXT_KEY}: {}",
                    describe(&first)
                )));
            }
        };
        let plaintext = plaintext
            .ok_or_else(|| Error::WebhookDecrypt("KMS answered without a plaintext".to_string()))?;
        Ok(webhook::parse(plaintext.as_ref(), &self.allowed_hosts)?)
    }

    /// One form of the request, repeated while KMS answers transiently and time is left.
    async fn decrypt_once(
        &self,
        function_name: Option<&str>,
        until: Instant,
    ) -> Result<DecryptOutput, Failed> {
        // The last answer KMS gave, for when the attempt after it is cut off by `until`.
        let last_answer = Mutex::new(None::<String>);
        let result = retry_until("Decrypt", until, Backoff::AWS, sdk_is_transient, || {
            let request = self.kms.decrypt(
                self.ciphertext.clone(),
                function_name.map(|name| (CONTEXT_KEY, name)),
            );
            let last_answer = &last_answer;
            async move {
                let sent = request.await;
                if let Err(err) = &sent {
                    *last_answer.lock().unwrap_or_else(|p| p.into_inner()) =
                        Some(sdk_error_summary(err));
                }
                sent
            }
        })
        .await;
        result.map_err(|failure| Failed {
            earlier: last_answer.into_inner().unwrap_or_else(|p| p.into_inner()),
            failure,
        })
    }
}

/// How one form of the request failed.
struct Failed {
    failure: RetryError<SdkError<DecryptError>>,
    /// KMS's last answer, if any arrived.
    earlier: Option<String>,
}

impl Failed {
    fn code(&self) -> Option<&str> {
        match &self.failure {
            RetryError::Permanent(err) => err.code(),
            RetryError::OutOfTime { .. } => None,
        }
    }
}

/// Why one form failed, in words that are safe to log: KMS's code and message, never the
/// ciphertext.
fn describe(failed: &Failed) -> String {
    match &failed.failure {
        RetryError::Permanent(err) => sdk_error_summary(err),
        RetryError::OutOfTime { attempts, .. } => out_of_time(*attempts, failed.earlier.as_deref()),
    }
}

fn out_of_time(attempts: u32, last_answer: Option<&str>) -> String {
    match last_answer {
        Some(last) => format!(
            "{last} (still failing after {attempts} attempt(s) when the time for KMS ran out)"
        ),
        None => format!("KMS did not answer in time ({attempts} attempt(s))"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_out_of_time_says_what_kms_last_answered() {
        assert_eq!(
            out_of_time(1, None),
            "KMS did not answer in time (1 attempt(s))"
        );
        let throttled = out_of_time(7, Some("ThrottlingException: Rate exceeded"));
        assert!(
            throttled.starts_with("ThrottlingException: Rate exceeded (still failing after 7"),
            "{throttled}"
        );
    }
}
