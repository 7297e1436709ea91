//! Auto Scaling adapter: read a group (its size, target groups and instances) and set its size,
//! for the clean-up after a completed rollout (`scale_down`).

use aws_sdk_autoscaling::Client;
use rollout_kit::LazyClient;
use tokio::time::Instant;

use crate::elb::{call, retry_error};
use crate::error::Error;
use crate::scale_down::GroupView;

pub struct Asg {
    /// Built by the first clean-up: no other step calls Auto Scaling.
    client: LazyClient<Client>,
}

impl Asg {
    pub fn new(client: LazyClient<Client>) -> Self {
        Self { client }
    }

    pub async fn describe(&self, name: &str, until: Instant) -> Result<Option<GroupView>, Error> {
        let out = call("DescribeAutoScalingGroups", until, || {
            self.client
                .describe_auto_scaling_groups()
                .auto_scaling_group_names(name)
                .send()
        })
        .await
        .map_err(|e| aws_error("DescribeAutoScalingGroups", e))?;
        let Some(group) = out
            .auto_scaling_groups()
            .iter()
            .find(|g| g.auto_scaling_group_name() == Some(name))
        else {
            return Ok(None);
        };
        // Groups attached through the newer traffic-source API list them there too.
        let mut target_groups: Vec<String> = group.target_group_arns().to_vec();
        for source in group.traffic_sources() {
            if source.r#type() == Some("elbv2")
                && let Some(arn) = source.identifier()
                && !target_groups.iter().any(|t| t == arn)
            {
                target_groups.push(arn.to_string());
            }
        }
        Ok(Some(GroupView {
            desired: group.desired_capacity().unwrap_or_default(),
            min: group.min_size().unwrap_or_default(),
            target_groups,
            instances: group
                .instances()
                .iter()
                .filter_map(|i| i.instance_id().map(str::to_string))
                .collect(),
        }))
    }

    pub async fn set_capacity(
        &self,
        name: &str,
        desired: i32,
        min: i32,
        until: Instant,
    ) -> Result<(), Error> {
        call("UpdateAutoScalingGroup", until, || {
            self.client
                .update_auto_scaling_group()
                .auto_scaling_group_name(name)
                .desired_capacity(desired)
                .min_size(min)
                .send()
        })
        .await
        .map_err(|e| aws_error("UpdateAutoScalingGroup", e))?;
        Ok(())
    }
}

fn aws_error<E>(
    operation: &'static str,
    err: rollout_kit::retry::RetryError<
        aws_sdk_autoscaling::error::SdkError<E, aws_sdk_autoscaling::config::http::HttpResponse>,
    >,
) -> Error
where
    E: aws_sdk_autoscaling::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    retry_error(operation, err, |_, summary| Error::Aws {
        operation,
        summary,
    })
}
