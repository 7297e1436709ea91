//! Typed configuration read from an explicit list of environment variables at cold start.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

/// A configuration value that cannot be used. Names the variable and why, never the value
/// (some variables hold secrets).
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("configuration {var}: {reason}")]
pub struct ConfigError {
    pub var: String,
    pub reason: String,
}

impl ConfigError {
    pub fn new(var: &str, reason: impl Into<String>) -> Self {
        Self {
            var: var.to_string(),
            reason: reason.into(),
        }
    }
}

/// A snapshot of the environment. Functions read `std::env` once through [`Env::from_process`];
/// tests build one from pairs. Empty values count as unset, as CloudFormation parameters
/// left blank arrive as empty strings.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: HashMap<String, String>,
}

impl Env {
    pub fn from_process() -> Self {
        Self {
            vars: std::env::vars().collect(),
        }
    }

    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    pub fn get(&self, var: &str) -> Option<&str> {
        self.vars
            .get(var)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    pub fn require(&self, var: &str) -> Result<&str, ConfigError> {
        self.get(var)
            .ok_or_else(|| ConfigError::new(var, "is required but not set"))
    }

    /// Parses a value with `FromStr`, or returns `default` when unset.
    pub fn parse_or<T: FromStr>(&self, var: &str, default: T) -> Result<T, ConfigError> {
        match self.get(var) {
            None => Ok(default),
            // The value stays out of the error: some variables hold secrets.
            Some(raw) => raw.parse().map_err(|_| {
                ConfigError::new(var, format!("is not a valid {}", short_type_name::<T>()))
            }),
        }
    }

    pub fn bool_or(&self, var: &str, default: bool) -> Result<bool, ConfigError> {
        match self.get(var).map(str::to_ascii_lowercase).as_deref() {
            None => Ok(default),
            Some("true" | "1" | "yes" | "on") => Ok(true),
            Some("false" | "0" | "no" | "off") => Ok(false),
            Some(_) => Err(ConfigError::new(var, "expected true or false")),
        }
    }

    /// Milliseconds as a whole number.
    pub fn millis_or(&self, var: &str, default: Duration) -> Result<Duration, ConfigError> {
        let ms = self.parse_or::<u64>(var, default.as_millis() as u64)?;
        Ok(Duration::from_millis(ms))
    }

    /// Comma-separated list; empty items are dropped.
    pub fn list(&self, var: &str) -> Vec<String> {
        self.get(var)
            .map(|raw| {
                raw.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn short_type_name<T>() -> &'static str {
    let full = std::any::type_name::<T>();
    full.rsplit("::").next().unwrap_or(full)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_counts_as_unset() {
        let env = Env::from_pairs([("A", "  "), ("B", "7")]);
        assert_eq!(env.get("A"), None);
        assert_eq!(env.parse_or("A", 3u32), Ok(3));
        assert_eq!(env.parse_or("B", 3u32), Ok(7));
    }

    #[test]
    fn parse_errors_name_the_variable() {
        let env = Env::from_pairs([("COUNT", "ten"), ("FLAG", "maybe")]);
        let err = env.parse_or("COUNT", 1u32).unwrap_err();
        assert_eq!(err.var, "COUNT");
        assert!(err.to_string().contains("u32"), "{err}");
        assert!(
            !err.to_string().contains("ten"),
            "no value in errors: {err}"
        );
        assert!(env.bool_or("FLAG", true).is_err());
        assert_eq!(env.require("MISSING").unwrap_err().var, "MISSING");
    }

    #[test]
    fn lists_split_on_commas() {
        let env = Env::from_pairs([("L", "a, b,,c ")]);
        assert_eq!(env.list("L"), vec!["a", "b", "c"]);
        assert!(env.list("NONE").is_empty());
    }
}
