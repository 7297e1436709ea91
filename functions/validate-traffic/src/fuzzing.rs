//! The property the `config` fuzz target checks (`fuzz/`), shared with the regression test below
//! so every input the fuzzer ever tripped on is checked again by `cargo test`.
//!
//! Property: any environment loads without panicking into either a `ConfigError` naming one of
//! the variables the function reads (and quoting no credential), or a configuration that keeps
//! the documented bounds.

use std::time::Duration;

use reqwest::Url;
use rollout_kit::Env;

use crate::config::{self, Config, VARS};

pub use rollout_kit::corpus::Violation;
use rollout_kit::corpus::violation;

/// Below this, a "secret" would match ordinary words of an error message by chance.
const SECRET_MIN: usize = 8;

/// The environment `data` stands for, one variable a line: `NAME=value` for a variable the
/// function reads, otherwise the line's first byte picks the variable and the rest is its value
/// (so mutations keep hitting real variables).
pub fn env_pairs(data: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(data);
    text.split('\n')
        .filter(|line| !line.is_empty())
        .map(|line| match line.split_once('=') {
            Some((name, value)) if VARS.contains(&name) => (name.to_string(), value.to_string()),
            _ => {
                let first = line.as_bytes()[0];
                let name = VARS[usize::from(first) % VARS.len()];
                let value = line.get(1..).unwrap_or_default();
                (name.to_string(), value.to_string())
            }
        })
        .collect()
}

pub fn check_config(data: &[u8]) -> Result<(), Violation> {
    let pairs = env_pairs(data);
    let env = Env::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let _ = config::deadline_margin(&env);
    match Config::from_env(&env) {
        Err(err) => {
            if !VARS.contains(&err.var.as_str()) {
                return violation(format!("error names {:?}, not a variable read", err.var));
            }
            let text = err.to_string();
            // A credential also pasted into another variable is that variable's value there.
            let elsewhere =
                |var: &str, secret: &str| pairs.iter().any(|(k, v)| k != var && v.contains(secret));
            if let Some((_, secret)) = secrets(&env)
                .into_iter()
                .find(|(var, s)| text.contains(s.as_str()) && !elsewhere(var, s))
            {
                return violation(format!("error quotes the credential {secret:?}: {text}"));
            }
            Ok(())
        }
        Ok(config) => check_bounds(&config),
    }
}

/// Values that must never reach an error, with the variable holding them: credential headers,
/// and a password in a URL.
fn secrets(env: &Env) -> Vec<(&'static str, String)> {
    let mut found = Vec::new();
    for item in env.get("PROBE_HEADERS").unwrap_or("").split(';') {
        if let Some((name, value)) = item.split_once(':') {
            let name = name.trim().to_ascii_lowercase();
            if matches!(name.as_str(), "authorization" | "cookie" | "x-api-key") {
                found.push(("PROBE_HEADERS", value.trim().to_string()));
            }
        }
    }
    if let Some(password) = env
        .get("TARGET_URL")
        .and_then(|raw| Url::parse(raw).ok())
        .and_then(|url| url.password().map(str::to_string))
    {
        found.push(("TARGET_URL", password));
    }
    found.retain(|(_, s)| s.chars().count() >= SECRET_MIN);
    found
}

fn check_bounds(config: &Config) -> Result<(), Violation> {
    let probe = &config.probe;
    if !(1..=10_000).contains(&probe.requests) || probe.warmup > 10_000 {
        return violation(format!(
            "{} requests, {} warm-up",
            probe.requests, probe.warmup
        ));
    }
    if !(1..=64).contains(&probe.concurrency) {
        return violation(format!("concurrency {}", probe.concurrency));
    }
    if probe.timeout == Duration::ZERO {
        return violation("zero probe timeout");
    }
    if probe.paths.is_empty() || probe.paths.iter().any(|p| !p.starts_with('/')) {
        return violation(format!("paths {:?}", probe.paths));
    }
    let ratio = config.thresholds.min_success_ratio;
    if !(ratio > 0.0 && ratio <= 1.0) {
        return violation(format!("success ratio {ratio}"));
    }
    if config.deadline_margin < config::MIN_DEADLINE_MARGIN {
        return violation(format!("deadline margin {:?}", config.deadline_margin));
    }
    if probe.paths.iter().any(|p| p.contains('#')) {
        return violation("a probe path with a fragment");
    }
    if let Some(url) = &config.target_url
        && (!matches!(url.scheme(), "http" | "https")
            || url.host_str().is_none()
            || !url.username().is_empty()
            || url.password().is_some()
            || url.fragment().is_some())
    {
        return violation(format!("target URL scheme {}", url.scheme()));
    }
    for (name, value) in &probe.headers {
        let credential = matches!(name.as_str(), "authorization" | "cookie" | "x-api-key");
        if credential && !value.is_sensitive() {
            return violation(format!("header {name} not marked sensitive"));
        }
    }
    // The accepted statuses are a usable set.
    if !(100..=599).any(|s| config.expect.status.contains(s)) {
        return violation("no status is accepted");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use rollout_kit::corpus::files_in;

    #[test]
    fn fuzz_regressions_and_seeds_hold() {
        let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
        let mut files = files_in(&[fuzz.join("regressions/config")]);
        let seeds = files_in(&[fuzz.join("seeds/config")]);
        assert!(seeds.len() >= 5, "seeds missing: {}", seeds.len());
        files.extend(seeds);
        let broken = rollout_kit::corpus::broken(&files, check_config);
        assert!(broken.is_empty(), "{broken:#?}");
    }

    #[test]
    fn lines_name_variables_or_pick_them_by_first_byte() {
        let pairs = env_pairs(b"PROBE_REQUESTS=5\n\x00/health\n\nNOT_A_VAR=1");
        assert_eq!(pairs[0], ("PROBE_REQUESTS".into(), "5".into()));
        assert_eq!(pairs[1], (VARS[0].into(), "/health".into()));
        assert_eq!(pairs[2].0, VARS[usize::from(b'N') % VARS.len()]);
        assert_eq!(pairs[2].1, "OT_A_VAR=1");
    }

    #[test]
    fn a_quoted_credential_is_caught() {
        let env = Env::from_pairs([("PROBE_HEADERS", "Authorization: Bearer abcdefgh123")]);
        assert_eq!(
            secrets(&env),
            vec![("PROBE_HEADERS", "Bearer abcdefgh123".to_string())]
        );
        assert_eq!(
            check_config(b"PROBE_HEADERS=Authorization: Bearer abcdefgh123"),
            Ok(())
        );
    }
}
