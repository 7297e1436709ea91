//! The hook of CodeDeploy Lambda deployments (SAM's `DeploymentPreference` `PreTraffic` and
//! `PostTraffic`): the same hook event and report as every CodeDeploy deployment
//! ([`crate::codedeploy`]), but green is a function version, not a listener. The AppSpec names
//! the function, alias and versions ([`appspec`]); the version under test is invoked with the
//! configured payloads and each answer becomes a [`Sample`] the one judge ([`crate::verdict`])
//! weighs as it weighs HTTP answers ([`invoke`]).
//!
//! Which qualifier: at `BeforeAllowTraffic` the alias still serves the current version, so the
//! target version is invoked by number; once the alias serves the target version alone (at
//! `AfterAllowTraffic`) the alias itself is invoked, so the path production takes is tested.
//! The hook event does not say which lifecycle event runs; the alias's state does.

pub mod appspec;
pub mod invoke;

use std::time::Duration;

use aws_sdk_lambda::operation::get_alias::GetAliasOutput;
use tokio::time::Instant;

use crate::config::Config;
use crate::discovery::retried;
use crate::error::Error;
use crate::ports::Functions;
use crate::verdict::{self, Verdict};
use appspec::LambdaRelease;

/// The compute platform CodeDeploy names for Lambda deployments.
pub const PLATFORM: &str = "Lambda";
/// Reading the alias only picks the qualifier: a throttled GetAlias must not eat the probe's time.
const ALIAS_BUDGET: Duration = Duration::from_secs(2);

/// Where the test invocations go and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aim {
    pub qualifier: String,
    pub why: &'static str,
}

/// What the probe found: where it went and the verdict.
#[derive(Debug, Clone)]
pub struct Tested {
    /// `function:qualifier`, as logs, CodeDeploy's report and Slack name it.
    pub target: String,
    pub verdict: Verdict,
}

/// The qualifier to invoke, from the alias's state (`None` when it could not be read). Pure.
pub fn aim(release: &LambdaRelease, alias: Option<&GetAliasOutput>) -> Aim {
    let to_target = |why| Aim {
        qualifier: release.target_version.clone(),
        why,
    };
    let Some(alias) = alias else {
        return to_target("alias state unknown: the target version is tested by number");
    };
    let weighted = alias
        .routing_config()
        .and_then(|r| r.additional_version_weights())
        .is_some_and(|weights| !weights.is_empty());
    if alias.function_version() == Some(release.target_version.as_str()) && !weighted {
        Aim {
            qualifier: release.alias.clone(),
            why: "the alias serves the target version: traffic is allowed, the alias is tested",
        }
    } else {
        to_target("the alias does not serve the target version yet: it is tested by number")
    }
}

/// Reads the alias (best effort), invokes the version under test, judges the answers.
pub async fn test(
    functions: &impl Functions,
    release: &LambdaRelease,
    config: &Config,
    lookups_until: Instant,
) -> Tested {
    let alias_until = lookups_until.min(Instant::now() + ALIAS_BUDGET);
    let alias = match retried("GetAlias", alias_until, || {
        functions.get_alias(&release.function, &release.alias)
    })
    .await
    {
        Ok(alias) => Some(alias),
        Err(failed) => {
            let err = failed.into_error("GetAlias");
            tracing::warn!(function = %release.function, alias = %release.alias, error = %err, "alias not read; testing the target version");
            None
        }
    };
    let aim = aim(release, alias.as_ref());
    let target = format!("{}:{}", release.function, aim.qualifier);
    tracing::info!(
        function = %release.function,
        qualifier = %aim.qualifier,
        target_version = %release.target_version,
        current_version = release.current_version.as_deref(),
        why = aim.why,
        "invoking the version under test"
    );
    let samples = invoke::run(
        functions,
        &release.function,
        &aim.qualifier,
        &config.probe,
        &config.expect,
    )
    .await;
    Tested {
        target,
        verdict: verdict::judge(&samples, &config.thresholds),
    }
}

/// The release a Lambda deployment moves, from the revision CodeDeploy holds.
pub fn release(
    revision_type: Option<&str>,
    app_spec: Option<&str>,
) -> Result<LambdaRelease, Error> {
    match app_spec {
        Some(content) => appspec::read(content),
        None => Err(Error::InvalidAppSpec(format!(
            "the revision ({}) carries no AppSpec content the hook can read; \
             set TARGET_URL to probe the function over HTTP",
            revision_type.unwrap_or("of unknown type")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_lambda::types::AliasRoutingConfiguration;

    use super::*;

    fn release() -> LambdaRelease {
        LambdaRelease {
            function: "orders".into(),
            alias: "live".into(),
            current_version: Some("3".into()),
            target_version: "4".into(),
        }
    }

    fn alias(version: &str, weights: &[(&str, f64)]) -> GetAliasOutput {
        let mut builder = GetAliasOutput::builder()
            .name("live")
            .function_version(version);
        if !weights.is_empty() {
            let mut routing = AliasRoutingConfiguration::builder();
            for (v, w) in weights {
                routing = routing.additional_version_weights(*v, *w);
            }
            builder = builder.routing_config(routing.build());
        }
        builder.build()
    }

    #[test]
    fn before_traffic_the_target_version_is_invoked_by_number() {
        let aimed = aim(&release(), Some(&alias("3", &[])));
        assert_eq!(aimed.qualifier, "4");
    }

    #[test]
    fn mid_shift_the_target_version_is_still_invoked_by_number() {
        let aimed = aim(&release(), Some(&alias("4", &[("3", 0.9)])));
        assert_eq!(aimed.qualifier, "4");
        let aimed = aim(&release(), Some(&alias("3", &[("4", 0.1)])));
        assert_eq!(aimed.qualifier, "4");
    }

    #[test]
    fn after_traffic_the_alias_is_invoked() {
        let aimed = aim(&release(), Some(&alias("4", &[])));
        assert_eq!(aimed.qualifier, "live");
    }

    #[test]
    fn an_unknown_alias_state_tests_the_target_version() {
        assert_eq!(aim(&release(), None).qualifier, "4");
    }

    #[test]
    fn a_revision_without_content_says_what_to_do() {
        let err = super::release(Some("S3"), None).unwrap_err();
        assert!(err.to_string().contains("(S3)"), "{err}");
        assert!(err.to_string().contains("TARGET_URL"), "{err}");
    }
}
