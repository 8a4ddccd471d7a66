//! `ec2_instance_info`: finds EC2 instances (read only).

use super::client::{AwsOptions, AwsOpts, EXCLUSIVE, aws_error, ec2_client};
use crate::error::{Error, Result};
use crate::modules::args::value_str;
use crate::modules::{Args, Module, ModuleDoc, Options, Plan, TaskCtx, opt};
use crate::value::{Value, from_json, value_to_vars};
use async_trait::async_trait;
use aws_sdk_ec2::types::{Filter, Instance};
use minijinja::value::ValueKind;
use serde_json::{Map, json};

/// The `ec2_instance_info` module (also `amazon.aws.ec2_instance_info`).
pub struct Ec2InstanceInfo;

crate::options! {
    /// The `ec2_instance_info` module's options.
    pub(crate) struct Opts {
        filters: Option<Value> = opt::dict("EC2 filters, e.g. {\"tag:Role\": manager, instance-state-name: running}."),
        instance_ids: Vec<String> = opt::list("Only these instances (`i-...`)."),
    }
    groups { aws: AwsOptions }
}

static DOC: ModuleDoc = ModuleDoc::new("ec2_instance_info", "Find EC2 instances")
    .description(
        "Runs on the controller (use `delegate_to: localhost` or a play on localhost) and \
lists EC2 instances with DescribeInstances, by `instance_ids` and/or `filters` (the EC2 filter \
names: `tag:Role`, `instance-state-name`, `vpc-id`, ...; underscores in names other than `tag:` \
ones are turned into dashes as in Ansible, and a value may be a list). Never changes anything, \
so it reports ok and runs in check mode too. Returns `instances`: a list of {instance_id, \
instance_type, image_id, key_name, launch_time, private_ip_address, public_ip_address, \
private_dns_name, public_dns_name, vpc_id, subnet_id, placement: {availability_zone}, state: \
{name, code}, tags (a mapping), security_groups: [{group_id, group_name}]}.\n\n\
Real EC2: `region` (or AWS_REGION) and the standard credential chain (environment, `profile` / \
AWS_PROFILE, SSO, instance role) or aws_access_key/aws_secret_key; needs ec2:DescribeInstances. \
An emulator (moto, LocalStack): `endpoint_url` or AWS_ENDPOINT_URL.",
    )
    .spec::<Opts>()
    .mutually_exclusive(EXCLUSIVE)
    .examples(
        "- amazon.aws.ec2_instance_info:\n    region: eu-west-1\n    filters:\n      \
\"tag:Role\": manager\n      instance-state-name: running\n  delegate_to: localhost\n  \
register: managers\n- debug:\n    msg: \"{{ managers.instances | map(attribute='private_ip_address') \
| list }}\"",
    );

/// The EC2 filters of the `filters` option.
pub(crate) fn filters_of(v: Option<&Value>) -> Result<Vec<Filter>> {
    let Some(v) = v else { return Ok(vec![]) };
    let mut out = Vec::new();
    for (k, val) in value_to_vars(v) {
        let name = if k.starts_with("tag:") {
            k.clone()
        } else {
            k.replace('_', "-")
        };
        let values: Vec<String> = if val.kind() == ValueKind::Seq {
            val.try_iter()
                .map(|it| it.map(|x| value_str(&x)).collect())
                .unwrap_or_default()
        } else {
            vec![value_str(&val)]
        };
        if values.is_empty() {
            return Err(Error::options(format!(
                "ec2_instance_info: filter '{k}' has no value"
            )));
        }
        out.push(
            Filter::builder()
                .name(name)
                .set_values(Some(values))
                .build(),
        );
    }
    Ok(out)
}

/// One instance as returned by the module.
pub(crate) fn instance_json(i: &Instance) -> serde_json::Value {
    let tags: Map<String, serde_json::Value> = i
        .tags()
        .iter()
        .filter_map(|t| Some((t.key()?.to_string(), json!(t.value().unwrap_or("")))))
        .collect();
    let sgs: Vec<serde_json::Value> = i
        .security_groups()
        .iter()
        .map(|g| json!({ "group_id": g.group_id(), "group_name": g.group_name() }))
        .collect();
    json!({
        "instance_id": i.instance_id(),
        "instance_type": i.instance_type().map(|t| t.as_str()),
        "image_id": i.image_id(),
        "key_name": i.key_name(),
        "launch_time": i.launch_time().map(|t| t.to_string()),
        "private_ip_address": i.private_ip_address(),
        "public_ip_address": i.public_ip_address(),
        "private_dns_name": i.private_dns_name(),
        "public_dns_name": i.public_dns_name(),
        "vpc_id": i.vpc_id(),
        "subnet_id": i.subnet_id(),
        "placement": { "availability_zone": i.placement().and_then(|p| p.availability_zone()) },
        "state": {
            "name": i.state().and_then(|s| s.name()).map(|n| n.as_str()),
            "code": i.state().and_then(|s| s.code()),
        },
        "tags": tags,
        "security_groups": sgs,
    })
}

#[async_trait]
impl Module for Ec2InstanceInfo {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn plan(&self, _ctx: &TaskCtx<'_>, args: &Args) -> Result<Plan> {
        let o = Opts::from_args(args)?;
        let opts = AwsOpts::from(&o.aws);
        let filters = filters_of(o.filters.as_ref())?;
        let ids = o.instance_ids;
        let client = ec2_client(&opts).await?;
        let mut req = client
            .describe_instances()
            .set_filters((!filters.is_empty()).then_some(filters));
        for id in &ids {
            req = req.instance_ids(id);
        }
        let mut pages = req.into_paginator().send();
        let mut list = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| aws_error("describe_instances", &opts, e))?;
            for r in page.reservations() {
                list.extend(r.instances().iter().map(instance_json));
            }
        }
        Ok(Plan::ok().with("instances", from_json(&serde_json::Value::Array(list))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_dash_names_keep_tags_and_lists() {
        let f = filters_of(Some(&from_json(&json!({
            "tag:Role_x": "manager",
            "instance_state_name": ["running", "pending"]
        }))))
        .unwrap();
        assert_eq!(f[0].name(), Some("tag:Role_x"));
        assert_eq!(f[0].values(), ["manager"]);
        assert_eq!(f[1].name(), Some("instance-state-name"));
        assert_eq!(f[1].values(), ["running", "pending"]);
        assert!(filters_of(Some(&from_json(&json!({"a": []})))).is_err());
    }
}
