//! One TLS client configuration per process, shared by the AWS SDK's HTTP client
//! ([`crate::sdk_http`]) and every reqwest client a function builds.
//!
//! The roots are compiled in (Mozilla's, from `webpki-roots`), so a cold start reads no
//! certificate files: on Debian the system store is a directory of hundreds of files, and each
//! HTTP stack used to load it again. `SSL_CERT_FILE`, when set, names a PEM bundle whose
//! certificates are trusted *in addition*: a private CA (an internal ALB's certificate, a TLS
//! proxy) works without losing the public roots AWS and Slack need. `SSL_CERT_DIR` is not read.

use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls::{ClientConfig, RootCertStore};

use crate::config::{ConfigError, Env};

/// The variable naming extra trusted certificates (PEM), as OpenSSL and rustls-native-certs
/// read it.
pub const CERT_FILE_VAR: &str = "SSL_CERT_FILE";

/// A bundle larger than this is not a CA bundle (Debian's whole store is ~220 KB).
const MAX_BUNDLE_BYTES: u64 = 4 * 1024 * 1024;

/// The process's TLS client configuration: cheap to clone, built once at cold start.
#[derive(Clone)]
pub struct Tls {
    config: Arc<ClientConfig>,
    extra_roots: usize,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("extra_roots", &self.extra_roots)
            .finish_non_exhaustive()
    }
}

impl Tls {
    /// The compiled-in roots plus the certificates in `SSL_CERT_FILE`, if set. A file that
    /// cannot be read or holds no certificate is a configuration error: silently trusting less
    /// than the operator asked for would only surface later as handshake failures.
    pub fn from_env(env: &Env) -> Result<Tls, ConfigError> {
        let extra = match env.get(CERT_FILE_VAR) {
            None => Vec::new(),
            Some(path) => read_bundle(path)?,
        };
        Ok(Self::with_extra_roots(extra))
    }

    /// The compiled-in roots only. What a function falls back to when its configuration is
    /// invalid but it must still reach AWS to report that.
    pub fn public_roots() -> Tls {
        Self::with_extra_roots(Vec::new())
    }

    fn with_extra_roots(extra: Vec<CertificateDer<'static>>) -> Tls {
        let mut roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let (extra_roots, _) = roots.add_parsable_certificates(extra);
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = match ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
        {
            Ok(builder) => builder,
            // The provider is rustls's own default; it supports the default versions.
            Err(_) => ClientConfig::builder(),
        }
        .with_root_certificates(roots)
        .with_no_client_auth();
        Tls {
            config: Arc::new(config),
            extra_roots,
        }
    }

    /// How many certificates `SSL_CERT_FILE` added.
    pub fn extra_roots(&self) -> usize {
        self.extra_roots
    }

    /// The configuration itself, for a TLS connector.
    pub fn client_config(&self) -> &Arc<ClientConfig> {
        &self.config
    }

    /// A reqwest builder that verifies with this configuration. reqwest sets its own ALPN on
    /// its copy; the roots and verifier are shared, not loaded again.
    pub fn reqwest(&self) -> reqwest::ClientBuilder {
        reqwest::Client::builder().tls_backend_preconfigured(ClientConfig::clone(&self.config))
    }
}

fn read_bundle(path: &str) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
    let unusable = |why: String| ConfigError::new(CERT_FILE_VAR, format!("{path}: {why}"));
    let len = std::fs::metadata(path)
        .map_err(|e| unusable(e.kind().to_string()))?
        .len();
    if len > MAX_BUNDLE_BYTES {
        return Err(unusable(format!(
            "{len} bytes is not a certificate bundle (at most {MAX_BUNDLE_BYTES})"
        )));
    }
    let pem = std::fs::read(path).map_err(|e| unusable(e.kind().to_string()))?;
    parse_bundle(&pem).map_err(unusable)
}

/// The certificates of a PEM bundle; other PEM sections (keys, CRLs) are skipped.
fn parse_bundle(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("not a PEM bundle ({e})"))?;
    if certs.is_empty() {
        return Err("holds no PEM certificate".into());
    }
    let mut probe = RootCertStore::empty();
    let (_, unparsable) = probe.add_parsable_certificates(certs.iter().cloned());
    if unparsable > 0 {
        return Err(format!("{unparsable} certificate(s) cannot be parsed"));
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn self_signed_pem() -> String {
        let cert = rcgen::generate_simple_self_signed(vec!["ca.internal".to_string()])
            .expect("a certificate");
        cert.cert.pem()
    }

    #[test]
    fn the_compiled_in_roots_are_there_and_nothing_is_read_without_the_variable() {
        let tls = Tls::from_env(&Env::from_pairs([])).unwrap();
        assert_eq!(tls.extra_roots(), 0);
        assert!(webpki_roots::TLS_SERVER_ROOTS.len() > 100);
    }

    #[test]
    fn a_bundle_adds_its_certificates() {
        let dir = std::env::temp_dir().join(format!("rollout-kit-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("private-ca.pem");
        std::fs::write(&path, format!("{}{}", self_signed_pem(), self_signed_pem())).unwrap();
        let env = Env::from_pairs([(CERT_FILE_VAR, path.to_str().unwrap())]);
        assert_eq!(Tls::from_env(&env).unwrap().extra_roots(), 2);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_unusable_bundle_is_a_configuration_error_naming_the_file() {
        let err =
            Tls::from_env(&Env::from_pairs([(CERT_FILE_VAR, "/nonexistent/ca.pem")])).unwrap_err();
        assert_eq!(err.var, CERT_FILE_VAR);
        assert!(err.reason.contains("/nonexistent/ca.pem"), "{err}");
        assert!(parse_bundle(b"no certificates here").is_err());
        let bad = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(parse_bundle(bad.as_bytes()).is_err());
    }

    #[test]
    fn reqwest_accepts_the_shared_configuration() {
        // reqwest recognises a preconfigured backend by type; a rustls version it does not
        // link would make `build` fail, which this catches.
        Tls::public_roots().reqwest().build().unwrap();
    }
}
