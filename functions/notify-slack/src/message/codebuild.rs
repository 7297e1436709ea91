//! CodeBuild's `Build State Change` (the build as a whole) and `Build Phase Change` (one phase
//! completed) events.

use serde_json::{Map, Value};

use crate::status::canonical;
use crate::time::parse_time_str;

use super::eventbridge::EventMeta;
use super::read::{arn_resource, count, get, integer, object, text};

#[derive(Debug, Clone, PartialEq)]
pub struct BuildEvent {
    pub meta: EventMeta,
    /// A `Build Phase Change`: `phase` completed with `state`.
    pub phase_change: bool,
    pub project: String,
    /// `project:uuid`, from the build ARN.
    pub build_id: Option<String>,
    pub build_number: Option<u64>,
    /// As CodeBuild says it: `FAILED`, `TIMED_OUT`.
    pub state: String,
    pub status: String,
    /// The current phase of a build, the completed phase of a phase change.
    pub phase: Option<String>,
    /// Of the build (once complete), or of the completed phase.
    pub duration: Option<i64>,
    pub initiator: Option<String>,
    pub source_version: Option<String>,
    /// CodeBuild's link to the build's logs, as it came (checked before it is linked).
    pub logs_link: Option<String>,
    /// The first phase that did not succeed and what CodeBuild said about it.
    pub failed_phase: Option<FailedPhase>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct FailedPhase {
    pub phase: String,
    pub status: String,
    pub context: Vec<String>,
}

/// `None` without a project name.
pub(super) fn parse(meta: &EventMeta, detail: &Map<String, Value>) -> Option<BuildEvent> {
    let project = text(detail, "project-name")?;
    let phase_change = meta.detail_type.contains("Phase");
    let info = object(detail, "additional-information");
    let info_text = |key: &str| info.and_then(|i| text(i, key));
    let state_key = if phase_change {
        "completed-phase-status"
    } else {
        "build-status"
    };
    let state = text(detail, state_key)
        .map(|s| s.to_ascii_uppercase())
        .unwrap_or_else(|| "UNKNOWN".into());
    let phases: Vec<&Map<String, Value>> = info
        .and_then(|i| get(i, "phases"))
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(Value::as_object).collect())
        .unwrap_or_default();
    let duration = if phase_change {
        get(detail, "completed-phase-duration-seconds").and_then(integer)
    } else {
        build_duration(meta, info, &phases)
    };
    let failed_phase = if phase_change {
        (!is_success(&state)).then(|| FailedPhase {
            phase: text(detail, "completed-phase").unwrap_or_default(),
            status: state.clone(),
            context: context(get(detail, "completed-phase-context")),
        })
    } else {
        phases.iter().find_map(|p| {
            let status = text(p, "phase-status")?.to_ascii_uppercase();
            (!is_success(&status)).then(|| FailedPhase {
                phase: text(p, "phase-type").unwrap_or_default(),
                status,
                context: context(get(p, "phase-context")),
            })
        })
    };
    let phase = if phase_change {
        text(detail, "completed-phase")
    } else {
        text(detail, "current-phase")
    };
    Some(BuildEvent {
        meta: meta.clone(),
        phase_change,
        build_id: text(detail, "build-id").map(|arn| build_id(&arn)),
        build_number: info.and_then(|i| get(i, "build-number")).and_then(count),
        status: canonical(&state),
        state,
        phase,
        duration,
        initiator: info_text("initiator"),
        source_version: info_text("source-version"),
        logs_link: info
            .and_then(|i| object(i, "logs"))
            .and_then(|l| text(l, "deep-link")),
        failed_phase,
        project,
    })
}

fn is_success(status: &str) -> bool {
    matches!(status, "SUCCEEDED" | "IN_PROGRESS")
}

/// `project:uuid` from `arn:aws:codebuild:…:build/project:uuid`.
fn build_id(arn: &str) -> String {
    let resource = arn_resource(arn);
    resource
        .strip_prefix("build/")
        .unwrap_or(resource)
        .to_string()
}

/// Start to the event for a finished build; the phases' own durations otherwise.
fn build_duration(
    meta: &EventMeta,
    info: Option<&Map<String, Value>>,
    phases: &[&Map<String, Value>],
) -> Option<i64> {
    let complete = info
        .and_then(|i| get(i, "build-complete"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if !complete {
        return None;
    }
    let start = info
        .and_then(|i| text(i, "build-start-time"))
        .and_then(|t| codebuild_time(&t));
    if let (Some(start), Some(end)) = (start, meta.time)
        && end >= start
    {
        return Some(end - start);
    }
    let total: i64 = phases
        .iter()
        .filter_map(|p| get(p, "duration-in-seconds").and_then(integer))
        .filter(|d| *d >= 0)
        .fold(0i64, |sum, d| sum.saturating_add(d));
    (total > 0).then_some(total)
}

/// CodeBuild writes times as `Sep 1, 2017 4:12:29 PM` (UTC); ISO and epochs are read too.
pub(crate) fn codebuild_time(text: &str) -> Option<i64> {
    let parts: Vec<&str> = text.split_whitespace().collect();
    if let [month, day, year, clock, half] = parts.as_slice() {
        let day = day.trim_end_matches(',');
        let mut pieces = clock.splitn(2, ':');
        let hour: u32 = pieces.next()?.parse().ok()?;
        let rest = pieces.next()?;
        let hour = match (half.to_ascii_uppercase().as_str(), hour) {
            ("AM", 12) => 0,
            ("AM", h @ 0..=11) => h,
            ("PM", 12) => 12,
            ("PM", h @ 1..=11) => h + 12,
            _ => return None,
        };
        // The shape `time` already reads: `EEE MMM dd HH:mm:ss zzz yyyy`.
        return parse_time_str(&format!("Mon {month} {day} {hour:02}:{rest} UTC {year}"));
    }
    parse_time_str(text)
}

/// What CodeBuild says about a phase: a list of messages, or that list as text (`"[]"`);
/// empty ones (`": "`) dropped.
fn context(value: Option<&Value>) -> Vec<String> {
    let items: Vec<String> = match value {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_string))
            .collect(),
        Some(Value::String(s)) => {
            let inner = s.trim().trim_start_matches('[').trim_end_matches(']');
            vec![inner.to_string()]
        }
        _ => Vec::new(),
    };
    items
        .into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.trim_matches([':', ' ']).is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse_json(detail_type: &str, time: &str, detail: Value) -> BuildEvent {
        let meta = EventMeta {
            detail_type: detail_type.into(),
            source: Some("aws.codebuild".into()),
            region: Some("us-west-2".into()),
            time: parse_time_str(time),
            ..EventMeta::default()
        };
        parse(&meta, detail.as_object().unwrap()).unwrap()
    }

    #[test]
    fn a_failed_build_names_its_failed_phase() {
        let b = parse_json(
            "CodeBuild Build State Change",
            "2017-09-01T16:14:28Z",
            json!({"build-status": "FAILED", "project-name": "shop",
                   "build-id": "arn:aws:codebuild:us-west-2:1:build/shop:8745a7a9",
                   "current-phase": "COMPLETED",
                   "additional-information": {
                       "build-complete": true, "build-number": 42.0, "initiator": "codepipeline/shop",
                       "build-start-time": "Sep 1, 2017 4:12:29 PM",
                       "source-version": "arn:aws:s3:::bucket/src.zip",
                       "logs": {"deep-link": "https://console.aws.amazon.com/cloudwatch/home?region=us-west-2#logEvent:group=/aws/codebuild/shop;stream=8745a7a9"},
                       "phases": [
                           {"phase-type": "INSTALL", "phase-status": "SUCCEEDED", "phase-context": [": "]},
                           {"phase-type": "BUILD", "phase-status": "FAILED",
                            "phase-context": ["COMMAND_EXECUTION_ERROR: Error while executing command: npm test. Reason: exit status 1"]},
                           {"phase-type": "COMPLETED"}]}}),
        );
        assert_eq!(
            (b.status.as_str(), b.build_id.as_deref()),
            ("FAILED", Some("shop:8745a7a9"))
        );
        assert_eq!(b.build_number, Some(42));
        assert_eq!(b.duration, Some(119));
        let failed = b.failed_phase.unwrap();
        assert_eq!(
            (failed.phase.as_str(), failed.status.as_str()),
            ("BUILD", "FAILED")
        );
        assert!(failed.context[0].starts_with("COMMAND_EXECUTION_ERROR"));
        assert!(b.logs_link.unwrap().contains("logEvent"));
    }

    #[test]
    fn a_phase_change_and_a_running_build() {
        let p = parse_json(
            "CodeBuild Build Phase Change",
            "2017-09-01T16:14:21Z",
            json!({"completed-phase": "BUILD", "project-name": "shop",
                   "completed-phase-status": "TIMED_OUT", "completed-phase-duration-seconds": 3600,
                   "completed-phase-context": "[Build timed out]"}),
        );
        assert!(p.phase_change);
        assert_eq!((p.status.as_str(), p.duration), ("TIMED_OUT", Some(3600)));
        assert_eq!(p.failed_phase.unwrap().context, vec!["Build timed out"]);
        let running = parse_json(
            "CodeBuild Build State Change",
            "2017-09-01T16:14:21Z",
            json!({"build-status": "IN_PROGRESS", "project-name": "shop",
                   "additional-information": {"build-complete": false, "phases": "odd"}}),
        );
        assert_eq!((running.duration, running.failed_phase), (None, None));
    }

    #[test]
    fn codebuild_times() {
        assert_eq!(
            codebuild_time("Sep 1, 2017 4:12:29 PM"),
            Some(1_504_282_349)
        );
        assert_eq!(
            codebuild_time("Sep 1, 2017 12:00:00 AM"),
            Some(1_504_224_000)
        );
        assert_eq!(codebuild_time("Sep 1, 2017 13:00:00 PM"), None);
        assert_eq!(codebuild_time("2017-09-01T16:12:29Z"), Some(1_504_282_349));
        assert_eq!(codebuild_time("soon"), None);
        assert_eq!(context(Some(&json!("[]"))), Vec::<String>::new());
    }
}
