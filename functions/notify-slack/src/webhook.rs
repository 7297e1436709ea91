//! The webhook URL: a secret (whoever has it can post to the channel). It lives in a type that
//! cannot be printed, and is accepted only for an allowed host.

use std::fmt;
use std::net::IpAddr;

use reqwest::Url;

/// A validated webhook URL. `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookUrl(Url);

impl WebhookUrl {
    pub fn url(&self) -> &Url {
        &self.0
    }

    /// `text` with the URL and its path (the secret part) replaced, for text that came back from
    /// the network and might quote the request.
    pub fn scrub(&self, text: &str) -> String {
        let path = self.0.path();
        let mut out = text.replace(self.0.as_str(), "[webhook]");
        if path.len() > 1 {
            out = out.replace(path, "[webhook path]");
        }
        out
    }
}

impl fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookUrl(<redacted>)")
    }
}

impl fmt::Display for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted webhook URL>")
    }
}

/// Why a decrypted value is not a usable webhook. Never carries the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookRejected {
    #[error("the decrypted value is not UTF-8 text")]
    NotText,
    #[error("the decrypted value is empty")]
    Empty,
    #[error("the decrypted value is not a URL")]
    NotAUrl,
    #[error("the URL scheme must be https (http only for a loopback host)")]
    Scheme,
    #[error("the URL host is not in SLACK_WEBHOOK_ALLOWED_HOSTS (allowed: {allowed})")]
    HostNotAllowed { allowed: String },
}

/// From decrypted bytes: trimmed (CLI-encrypted values often end in a newline), `https://` added
/// when no scheme is given (the blueprint's convention), then the scheme and host checked.
pub fn parse(plaintext: &[u8], allowed_hosts: &[String]) -> Result<WebhookUrl, WebhookRejected> {
    let text = std::str::from_utf8(plaintext).map_err(|_| WebhookRejected::NotText)?;
    let text = text.trim();
    if text.is_empty() {
        return Err(WebhookRejected::Empty);
    }
    let with_scheme = if text.contains("://") {
        text.to_string()
    } else {
        format!("https://{text}")
    };
    let url = Url::parse(&with_scheme).map_err(|_| WebhookRejected::NotAUrl)?;
    let host = url.host_str().ok_or(WebhookRejected::NotAUrl)?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let scheme_ok = match url.scheme() {
        "https" => true,
        // Plain http only stays on the machine: the local Slack fake, a sidecar proxy.
        "http" => is_loopback(host),
        _ => false,
    };
    if !scheme_ok {
        return Err(WebhookRejected::Scheme);
    }
    let allowed = allowed_hosts.iter().any(|entry| {
        entry
            .trim_start_matches('[')
            .trim_end_matches(']')
            .eq_ignore_ascii_case(host)
    });
    if !allowed {
        return Err(WebhookRejected::HostNotAllowed {
            allowed: allowed_hosts.join(", "),
        });
    }
    Ok(WebhookUrl(url))
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXX";

    fn slack() -> Vec<String> {
        vec!["hooks.slack.com".to_string()]
    }

    #[test]
    fn scheme_is_added_and_value_trimmed() {
        let url = parse(format!("{SECRET}\n").as_bytes(), &slack()).unwrap();
        assert_eq!(url.url().as_str(), format!("https://{SECRET}"));
    }

    #[test]
    fn never_printed() {
        let url = parse(SECRET.as_bytes(), &slack()).unwrap();
        for shown in [
            format!("{url}"),
            format!("{url:?}"),
            format!("{:?}", Some(&url)),
        ] {
            assert!(
                !shown.contains("XXXX") && !shown.contains("hooks"),
                "{shown}"
            );
        }
        assert_eq!(
            url.scrub(&format!(
                "error for https://{SECRET} and /services/T000/B000/XXXXXXXXXXXXXXXX"
            )),
            "error for [webhook] and [webhook path]"
        );
    }

    #[test]
    fn hosts_outside_the_allow_list_are_refused_without_naming_them() {
        for bad in [
            "https://evil.example/services/x",
            "https://hooks.slack.com.evil.example/x",
            "https://hooks.slack.com@evil.example/x",
        ] {
            let err = parse(bad.as_bytes(), &slack()).unwrap_err();
            assert!(
                matches!(err, WebhookRejected::HostNotAllowed { .. }),
                "{bad}: {err:?}"
            );
            assert!(!err.to_string().contains("evil"), "{err}");
        }
        assert!(parse(b"https://HOOKS.slack.com/x", &slack()).is_ok());
    }

    #[test]
    fn plain_http_only_on_loopback() {
        let local = vec![
            "127.0.0.1".to_string(),
            "::1".to_string(),
            "localhost".into(),
        ];
        assert!(parse(b"http://127.0.0.1:9000/services/x", &local).is_ok());
        assert!(parse(b"http://[::1]:9000/services/x", &local).is_ok());
        assert!(parse(b"http://localhost/x", &local).is_ok());
        assert_eq!(
            parse(b"http://hooks.slack.com/services/x", &slack()),
            Err(WebhookRejected::Scheme)
        );
        assert_eq!(
            parse(b"ftp://hooks.slack.com/x", &slack()),
            Err(WebhookRejected::Scheme)
        );
    }

    #[test]
    fn garbage_is_refused() {
        assert_eq!(parse(b"\xff\xfe", &slack()), Err(WebhookRejected::NotText));
        assert_eq!(parse(b"  \n", &slack()), Err(WebhookRejected::Empty));
        assert_eq!(parse(b"http://", &slack()), Err(WebhookRejected::NotAUrl));
    }
}
