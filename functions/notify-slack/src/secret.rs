//! The webhook URL, decrypted with KMS once per container, on first use.

use aws_sdk_kms::error::ProvideErrorMetadata;
use aws_sdk_kms::primitives::Blob;
use rollout_kit::sdk_error_summary;
use tokio::sync::OnceCell;

use crate::error::Error;
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

pub struct WebhookSecret {
    kms: aws_sdk_kms::Client,
    ciphertext: Blob,
    function_name: String,
    allowed_hosts: Vec<String>,
    // `get_or_try_init` keeps only a success: after a throttle or a KMS outage the next
    // invocation tries again instead of failing for the life of the container.
    url: OnceCell<WebhookUrl>,
}

impl WebhookSecret {
    pub fn new(
        kms: aws_sdk_kms::Client,
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

    pub async fn url(&self) -> Result<&WebhookUrl, Error> {
        self.url.get_or_try_init(|| self.decrypt()).await
    }

    async fn decrypt(&self) -> Result<WebhookUrl, Error> {
        let with_context = self
            .kms
            .decrypt()
            .ciphertext_blob(self.ciphertext.clone())
            .encryption_context(CONTEXT_KEY, &self.function_name)
            .send()
            .await;
        let plaintext = match with_context {
            Ok(out) => {
                tracing::info!(encryption_context = true, "decrypted the webhook URL");
                out.plaintext
            }
            Err(first) => {
                let first_summary = sdk_error_summary(&first);
                if !first
                    .code()
                    .is_some_and(|code| TRY_OTHER_FORM.contains(&code))
                {
                    return Err(Error::WebhookDecrypt(format!(
                        "with encryption context {CONTEXT_KEY}: {first_summary}"
                    )));
                }
                match self
                    .kms
                    .decrypt()
                    .ciphertext_blob(self.ciphertext.clone())
                    .send()
                    .await
                {
                    Ok(out) => {
                        tracing::info!(encryption_context = false, "decrypted the webhook URL");
                        out.plaintext
                    }
                    Err(second) => {
                        return Err(Error::WebhookDecrypt(format!(
                            "with encryption context {CONTEXT_KEY}={}: {first_summary}; without a context: {}",
                            self.function_name,
                            sdk_error_summary(&second)
                        )));
                    }
                }
            }
        };
        let plaintext = plaintext
            .ok_or_else(|| Error::WebhookDecrypt("KMS answered without a plaintext".to_string()))?;
        Ok(webhook::parse(plaintext.as_ref(), &self.allowed_hosts)?)
    }
}
