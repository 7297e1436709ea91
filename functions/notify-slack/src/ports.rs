//! The seams between the function and the outside world: KMS (the webhook's ciphertext) and
//! the webhook itself. `secret` and `delivery` keep their retries, bounds and decisions and call
//! these one attempt at a time; `Aws` plugs in the SDK client and the HTTP client, and the unit
//! tests (`in_process`) an in-memory KMS and Slack, so hung, throttled and refused calls run
//! through the same code as in Lambda.

use std::future::Future;
use std::time::Duration;

use aws_sdk_kms::error::SdkError;
use aws_sdk_kms::operation::decrypt::{DecryptError, DecryptOutput};
use aws_sdk_kms::primitives::Blob;
use rollout_kit::LazyClient;

use crate::webhook::WebhookUrl;

/// KMS `Decrypt`, one call (`secret` retries).
pub trait Decrypter: Send + Sync {
    /// `context`: the encryption context's one pair, if the request carries one.
    fn decrypt(
        &self,
        ciphertext: Blob,
        context: Option<(&str, &str)>,
    ) -> impl Future<Output = Result<DecryptOutput, SdkError<DecryptError>>> + Send;
}

/// What the webhook answered to one POST: the status, the `Retry-After` header and at most
/// [`crate::delivery::MAX_ANSWER_BYTES`] of the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub retry_after: Option<String>,
    pub body: Vec<u8>,
}

/// One POST of a JSON payload to the webhook (`delivery` retries). `Err`: no answer (timed
/// out, connection failed), in words that never show the URL.
pub trait WebhookPoster: Send + Sync {
    fn post(
        &self,
        url: &WebhookUrl,
        body: Vec<u8>,
        timeout: Duration,
    ) -> impl Future<Output = Result<Reply, String>> + Send;
}

/// A set of adapters.
pub trait Ports: 'static {
    type Kms: Decrypter;
    type Webhook: WebhookPoster;
}

/// The real ones; the KMS client is built by the first decrypt.
pub struct Aws;

impl Ports for Aws {
    type Kms = LazyClient<aws_sdk_kms::Client>;
    type Webhook = crate::delivery::Http;
}

impl Decrypter for LazyClient<aws_sdk_kms::Client> {
    async fn decrypt(
        &self,
        ciphertext: Blob,
        context: Option<(&str, &str)>,
    ) -> Result<DecryptOutput, SdkError<DecryptError>> {
        let mut request = self.get().decrypt().ciphertext_blob(ciphertext);
        if let Some((key, value)) = context {
            request = request.encryption_context(key, value);
        }
        request.send().await
    }
}
