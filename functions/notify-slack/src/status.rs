//! One status vocabulary for every input: CodeDeploy triggers say `IN_PROGRESS` or `InProgress`,
//! EventBridge says `FAILURE`, alarms say `ALARM`, rollout events say `rolled_back`. The filter
//! and the rendering (see `tone` for how a status looks) both work on the canonical form.

use std::collections::BTreeSet;

/// Every canonical status the filter accepts; a name outside it is a typo that would silently
/// mute notifications, so the configuration rejects it.
pub const KNOWN: &[&str] = &[
    "CREATED",
    "QUEUED",
    "IN_PROGRESS",
    "BAKING",
    "READY",
    "SUCCEEDED",
    "FAILED",
    "STOPPED",
    "SKIPPED",
    "PENDING",
    "UNKNOWN",
    "ROLLED_BACK",
    "ALARM",
    "OK",
    "INSUFFICIENT_DATA",
];

/// `InProgress`, `in progress`, `IN_PROGRESS` → `IN_PROGRESS`; EventBridge and other synonyms map
/// to the trigger names. Anything unrecognised keeps its upper-snake form.
pub fn canonical(raw: &str) -> String {
    let mut snake = String::with_capacity(raw.len() + 4);
    let mut previous_lower = false;
    for c in raw.trim().chars() {
        if c.is_ascii_uppercase() && previous_lower {
            snake.push('_');
        }
        if c == ' ' || c == '-' {
            snake.push('_');
        } else {
            snake.push(c.to_ascii_uppercase());
        }
        previous_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
    }
    match snake.as_str() {
        "" => "UNKNOWN".into(),
        "SUCCESS" | "SUCCEED" => "SUCCEEDED".into(),
        "FAILURE" | "FAIL" => "FAILED".into(),
        "STOP" => "STOPPED".into(),
        "START" | "STARTED" | "RUNNING" => "IN_PROGRESS".into(),
        "ROLLBACK" | "ROLLEDBACK" => "ROLLED_BACK".into(),
        _ => snake,
    }
}

/// `IN_PROGRESS` → `in progress`, for sentences.
pub fn words(canonical: &str) -> String {
    canonical.replace('_', " ").to_lowercase()
}

/// Which statuses to post. Empty means all; messages without a status always pass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusFilter {
    allowed: BTreeSet<String>,
}

impl StatusFilter {
    /// From configured names; returns the first unknown name as the error.
    pub fn parse(names: &[String]) -> Result<Self, String> {
        let mut allowed = BTreeSet::new();
        for name in names {
            let status = canonical(name);
            if !KNOWN.contains(&status.as_str()) {
                return Err(name.clone());
            }
            allowed.insert(status);
        }
        Ok(Self { allowed })
    }

    pub fn allows(&self, status: Option<&str>) -> bool {
        match status {
            Some(status) if !self.allowed.is_empty() => self.allowed.contains(status),
            _ => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_reaches_one_name() {
        for raw in ["IN_PROGRESS", "InProgress", "in progress", "In-Progress"] {
            assert_eq!(canonical(raw), "IN_PROGRESS", "{raw}");
        }
        assert_eq!(canonical("Succeeded"), "SUCCEEDED");
        assert_eq!(canonical("SUCCESS"), "SUCCEEDED");
        assert_eq!(canonical("FAILURE"), "FAILED");
        assert_eq!(canonical("unknown"), "UNKNOWN");
        assert_eq!(canonical("rolled_back"), "ROLLED_BACK");
        // Rollout outcomes arrive through their Debug names.
        for outcome in [
            rollout_kit::Outcome::RolledBack,
            rollout_kit::Outcome::InProgress,
        ] {
            assert!(KNOWN.contains(&canonical(&format!("{outcome:?}")).as_str()));
        }
        assert_eq!(canonical("INSUFFICIENT_DATA"), "INSUFFICIENT_DATA");
        assert_eq!(canonical(" "), "UNKNOWN");
    }

    #[test]
    fn filter_accepts_synonyms_and_rejects_typos() {
        let filter = StatusFilter::parse(&["Failed".into(), "stop".into()]).unwrap();
        assert!(filter.allows(Some("FAILED")));
        assert!(filter.allows(Some("STOPPED")));
        assert!(!filter.allows(Some("SUCCEEDED")));
        assert!(filter.allows(None), "messages without a status always pass");
        assert_eq!(
            StatusFilter::parse(&["FAILD".into()]),
            Err("FAILD".to_string())
        );
        assert!(StatusFilter::default().allows(Some("SUCCEEDED")));
    }

    #[test]
    fn words_read_as_a_sentence() {
        assert_eq!(words("IN_PROGRESS"), "in progress");
    }
}
