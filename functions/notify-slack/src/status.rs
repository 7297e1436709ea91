//! One status vocabulary for every input: CodeDeploy triggers say `IN_PROGRESS` or `InProgress`,
//! EventBridge says `FAILURE`, alarms say `ALARM`, rollout events say `rolled_back`, CodePipeline
//! says `STARTED`, Auto Scaling `Cancelled`. The filter and the rendering (see `tone` for how a
//! status looks) both work on the canonical form.
//!
//! The filter has two parts: `NOTIFY_STATUSES`, the statuses to post (all when empty), and
//! `NOTIFY_QUIET`, kinds of message (optionally with a status) dropped even so — by default the
//! noise of a pipeline's every action starting and succeeding, and of ECS tasks that start or
//! stop normally.

use std::collections::BTreeSet;

use crate::message::KINDS;

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
    "CANCELED",
    "SUPERSEDED",
    "RESUMED",
    "STOPPING",
    "TIMED_OUT",
    "FAULT",
    "CLIENT_ERROR",
    "WARNING",
    "INFO",
];

/// What `NOTIFY_QUIET` drops when it is not set: every CodePipeline action starting and
/// succeeding (a pipeline run sends two per action), and ECS tasks that start, run or stop
/// without an error (a deployment sends several per task).
pub const DEFAULT_QUIET: &[&str] = &[
    "codepipeline_action:IN_PROGRESS",
    "codepipeline_action:SUCCEEDED",
    "ecs_task:IN_PROGRESS",
    "ecs_task:STOPPED",
];

/// `NOTIFY_QUIET=none` drops nothing.
pub const QUIET_NONE: &str = "none";

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
        "CANCELLED" | "CANCEL" => "CANCELED".into(),
        "WARN" => "WARNING".into(),
        "TIMEOUT" | "TIMEDOUT" => "TIMED_OUT".into(),
        _ => snake,
    }
}

/// `IN_PROGRESS` → `in progress`, for sentences.
pub fn words(canonical: &str) -> String {
    canonical.replace('_', " ").to_lowercase()
}

/// Which messages to post: statuses allowed (empty means all; messages without a status
/// always pass), then kinds kept quiet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusFilter {
    allowed: BTreeSet<String>,
    quiet: BTreeSet<Quiet>,
}

/// One `NOTIFY_QUIET` entry: a kind of message, with one status or any.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Quiet {
    kind: String,
    status: Option<String>,
}

impl Quiet {
    /// `codepipeline_action:STARTED`, `ecs-task`, `codebuild_phase:*`; `None` for an unknown
    /// kind or status.
    fn parse(entry: &str) -> Option<Quiet> {
        let (kind, status) = match entry.split_once(':') {
            Some((kind, status)) => (kind, Some(status.trim())),
            None => (entry, None),
        };
        let kind = kind.trim().to_ascii_lowercase().replace('-', "_");
        if !KINDS.contains(&kind.as_str()) {
            return None;
        }
        let status = match status {
            None | Some("*") => None,
            Some(raw) => {
                let status = canonical(raw);
                if !KNOWN.contains(&status.as_str()) {
                    return None;
                }
                Some(status)
            }
        };
        Some(Quiet { kind, status })
    }

    fn matches(&self, kind: &str, status: Option<&str>) -> bool {
        self.kind == kind && (self.status.is_none() || self.status.as_deref() == status)
    }
}

impl Default for StatusFilter {
    /// Every status, and the [`DEFAULT_QUIET`] kinds kept quiet.
    fn default() -> Self {
        Self {
            allowed: BTreeSet::new(),
            quiet: DEFAULT_QUIET
                .iter()
                .filter_map(|e| Quiet::parse(e))
                .collect(),
        }
    }
}

impl StatusFilter {
    /// From configured status names (the default quiet kinds stay); returns the first unknown
    /// name as the error.
    pub fn parse(names: &[String]) -> Result<Self, String> {
        let mut allowed = BTreeSet::new();
        for name in names {
            let status = canonical(name);
            if !KNOWN.contains(&status.as_str()) {
                return Err(name.clone());
            }
            allowed.insert(status);
        }
        Ok(Self {
            allowed,
            ..Self::default()
        })
    }

    /// Replaces the quiet kinds with these `kind[:STATUS]` entries: none given keeps the
    /// default, `none` alone drops nothing. Returns the first entry it does not understand.
    pub fn with_quiet(mut self, entries: &[String]) -> Result<Self, String> {
        if entries.is_empty() {
            return Ok(self);
        }
        if let [only] = entries
            && only.trim().eq_ignore_ascii_case(QUIET_NONE)
        {
            self.quiet.clear();
            return Ok(self);
        }
        self.quiet = entries
            .iter()
            .map(|entry| Quiet::parse(entry).ok_or_else(|| entry.clone()))
            .collect::<Result<_, _>>()?;
        Ok(self)
    }

    /// Whether `NOTIFY_STATUSES` lets this status through.
    pub fn allows(&self, status: Option<&str>) -> bool {
        match status {
            Some(status) if !self.allowed.is_empty() => self.allowed.contains(status),
            _ => true,
        }
    }

    /// Whether a message of this kind and status is posted: its status is allowed and no quiet
    /// entry names it.
    pub fn admits(&self, kind: &str, status: Option<&str>) -> bool {
        self.allows(status) && !self.quiet.iter().any(|q| q.matches(kind, status))
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
        assert_eq!(canonical("Cancelled"), "CANCELED");
        assert_eq!(canonical("WARN"), "WARNING");
        assert_eq!(canonical("STARTED"), "IN_PROGRESS");
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
    fn quiet_kinds_by_default_and_as_configured() {
        let default = StatusFilter::default();
        assert_eq!(
            default.quiet.len(),
            DEFAULT_QUIET.len(),
            "every default entry parses"
        );
        assert!(!default.admits("codepipeline_action", Some("IN_PROGRESS")));
        assert!(!default.admits("codepipeline_action", Some("SUCCEEDED")));
        assert!(default.admits("codepipeline_action", Some("FAILED")));
        assert!(default.admits("codepipeline_pipeline", Some("IN_PROGRESS")));
        assert!(!default.admits("ecs_task", Some("STOPPED")));
        assert!(default.admits("ecs_task", Some("FAILED")));
        assert!(default.admits("generic", None));

        let none = StatusFilter::default()
            .with_quiet(&["None".into()])
            .unwrap();
        assert!(none.admits("codepipeline_action", Some("IN_PROGRESS")));
        let own = StatusFilter::parse(&["FAILED".into(), "SUCCEEDED".into()])
            .unwrap()
            .with_quiet(&[
                "codebuild-phase".into(),
                "codepipeline_stage:Started".into(),
            ])
            .unwrap();
        assert!(
            !own.admits("codebuild_phase", Some("FAILED")),
            "a kind alone: every status"
        );
        assert!(!own.admits("codebuild_phase", None));
        assert!(
            own.admits("codepipeline_action", Some("SUCCEEDED")),
            "the default is replaced"
        );
        assert!(!own.admits("codepipeline_stage", Some("IN_PROGRESS")));
        assert!(
            !own.admits("codedeploy_deployment", Some("STOPPED")),
            "NOTIFY_STATUSES still applies"
        );
        assert!(own.admits("eventbridge_event", None));
        for bad in ["codepipeline_actoin", "ecs_task:RUNING", "", ":FAILED"] {
            assert_eq!(
                StatusFilter::default().with_quiet(&[bad.to_string()]),
                Err(bad.to_string())
            );
        }
        assert!(
            StatusFilter::default()
                .with_quiet(&["ecs_task:*".into()])
                .is_ok()
        );
    }

    #[test]
    fn words_read_as_a_sentence() {
        assert_eq!(words("IN_PROGRESS"), "in progress");
    }
}
