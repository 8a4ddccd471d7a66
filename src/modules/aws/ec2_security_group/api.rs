//! The EC2 API side: rules read from and written in the API shape, the Describe* lookups used
//! while planning, and the [`Apply`] actions (create/delete the group, authorize/revoke/describe
//! a rule, set tags) that the engine runs unless in check mode.

use super::rules::{Rule, Source, norm_cidr4, norm_cidr6, norm_proto};
use crate::error::{Error, Result};
use crate::modules::Apply;
use crate::modules::aws::client::{AwsOpts, aws_error};
use crate::value::{Value, Vars, from_json};
use async_trait::async_trait;
use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{
    Filter, IpPermission, IpRange, Ipv6Range, PrefixListId, ResourceType, SecurityGroup, Tag,
    TagSpecification, UserIdGroupPair,
};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// The rules of an existing group (egress ones too with `egress`), with their descriptions.
pub(crate) fn current_rules(sg: &SecurityGroup, egress: bool) -> BTreeMap<Rule, Option<String>> {
    let own = sg.group_id().unwrap_or_default();
    let mut out = BTreeMap::new();
    let egress_perms = if egress {
        sg.ip_permissions_egress()
    } else {
        &[]
    };
    let perms = sg
        .ip_permissions()
        .iter()
        .map(|p| (false, p))
        .chain(egress_perms.iter().map(|p| (true, p)));
    for (is_egress, p) in perms {
        let proto = p
            .ip_protocol()
            .map(|x| norm_proto(x).unwrap_or_else(|_| x.to_string()))
            .unwrap_or_else(|| "-1".into());
        let (from, to) = match proto.as_str() {
            "tcp" | "udp" => (p.from_port(), p.to_port()),
            "icmp" | "icmpv6" => (p.from_port().or(Some(-1)), p.to_port().or(Some(-1))),
            _ => (None, None),
        };
        let mut add = |source: Source, desc: Option<&str>| {
            out.insert(
                Rule {
                    egress: is_egress,
                    proto: proto.clone(),
                    from,
                    to,
                    source,
                },
                desc.map(str::to_string),
            );
        };
        for r in p.ip_ranges() {
            if let Some(c) = r.cidr_ip() {
                add(
                    Source::Cidr(norm_cidr4(c).unwrap_or_else(|_| c.to_string())),
                    r.description(),
                );
            }
        }
        for r in p.ipv6_ranges() {
            if let Some(c) = r.cidr_ipv6() {
                add(
                    Source::Cidr6(norm_cidr6(c).unwrap_or_else(|_| c.to_string())),
                    r.description(),
                );
            }
        }
        for g in p.user_id_group_pairs() {
            if let Some(id) = g.group_id() {
                let s = if id == own {
                    Source::SelfGroup
                } else {
                    Source::Group(id.to_string())
                };
                add(s, g.description());
            }
        }
        for pl in p.prefix_list_ids() {
            if let Some(id) = pl.prefix_list_id() {
                add(Source::PrefixList(id.to_string()), pl.description());
            }
        }
    }
    out
}

/// The EC2 API form of one rule (`own` is the group's id, for self references).
pub(crate) fn to_permission(r: &Rule, own: &str, desc: Option<&str>) -> IpPermission {
    let mut b = IpPermission::builder().ip_protocol(&r.proto);
    if let Some(f) = r.from {
        b = b.from_port(f);
    }
    if let Some(t) = r.to {
        b = b.to_port(t);
    }
    let desc = desc.map(str::to_string);
    match &r.source {
        Source::Cidr(c) => b.ip_ranges(IpRange::builder().cidr_ip(c).set_description(desc).build()),
        Source::Cidr6(c) => b.ipv6_ranges(
            Ipv6Range::builder()
                .cidr_ipv6(c)
                .set_description(desc)
                .build(),
        ),
        Source::SelfGroup => b.user_id_group_pairs(
            UserIdGroupPair::builder()
                .group_id(own)
                .set_description(desc)
                .build(),
        ),
        Source::Group(g) => b.user_id_group_pairs(
            UserIdGroupPair::builder()
                .group_id(g)
                .set_description(desc)
                .build(),
        ),
        Source::PrefixList(p) => b.prefix_list_ids(
            PrefixListId::builder()
                .prefix_list_id(p)
                .set_description(desc)
                .build(),
        ),
    }
    .build()
}

/// The returned `ip_permissions`: one entry per rule, in the EC2 API shape.
pub(crate) fn permissions_value(
    rules: &BTreeMap<Rule, Option<String>>,
    own: &str,
    egress: bool,
) -> Value {
    let list: Vec<serde_json::Value> = rules
        .iter()
        .filter(|(r, _)| r.egress == egress)
        .map(|(r, desc)| {
            let mut m = serde_json::Map::new();
            m.insert("ip_protocol".into(), json!(r.proto));
            if let Some(f) = r.from {
                m.insert("from_port".into(), json!(f));
            }
            if let Some(t) = r.to {
                m.insert("to_port".into(), json!(t));
            }
            let with_desc = |mut o: serde_json::Value| {
                if let Some(d) = desc {
                    o["description"] = json!(d);
                }
                json!([o])
            };
            let (k, v) = match &r.source {
                Source::Cidr(c) => ("ip_ranges", with_desc(json!({ "cidr_ip": c }))),
                Source::Cidr6(c) => ("ipv6_ranges", with_desc(json!({ "cidr_ipv6": c }))),
                Source::SelfGroup => ("user_id_group_pairs", with_desc(json!({ "group_id": own }))),
                Source::Group(g) => ("user_id_group_pairs", with_desc(json!({ "group_id": g }))),
                Source::PrefixList(p) => {
                    ("prefix_list_ids", with_desc(json!({ "prefix_list_id": p })))
                }
            };
            m.insert(k.into(), v);
            serde_json::Value::Object(m)
        })
        .collect();
    from_json(&serde_json::Value::Array(list))
}

/// The group id, known at planning time or set when the group is created.
pub(super) type GroupCell = Arc<Mutex<Option<String>>>;

/// Source groups created by this task: placeholder source id → the cell of the real id.
pub(super) type Pending = BTreeMap<String, GroupCell>;

/// The placeholder source of a group that this task creates.
pub(super) fn pending_key(name: &str) -> String {
    format!("(new) {name}")
}

/// The rule with a created source group's real id in place of its placeholder.
fn resolve_rule(r: &Rule, pending: &Pending) -> Result<Rule> {
    if let Source::Group(g) = &r.source
        && let Some(cell) = pending.get(g)
    {
        return Ok(Rule {
            source: Source::Group(cell_id(cell)?),
            ..r.clone()
        });
    }
    Ok(r.clone())
}

fn cell_id(cell: &GroupCell) -> Result<String> {
    cell.lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .ok_or_else(|| Error::failed("ec2_security_group: the group was not created"))
}

#[derive(Debug)]
pub(super) struct CreateGroup {
    pub(super) client: Client,
    pub(super) opts: AwsOpts,
    pub(super) name: String,
    pub(super) description: String,
    pub(super) vpc_id: String,
    pub(super) tags: Vec<(String, String)>,
    pub(super) cell: GroupCell,
    pub(super) after: BTreeMap<Rule, Option<String>>,
    pub(super) egress: bool,
    /// Return group_id and the rules (the task's group; not a created source group).
    pub(super) report: bool,
    pub(super) pending: Pending,
}

#[async_trait]
impl Apply for CreateGroup {
    async fn apply(&self) -> Result<Vars> {
        let mut req = self
            .client
            .create_security_group()
            .group_name(&self.name)
            .description(&self.description)
            .vpc_id(&self.vpc_id);
        if !self.tags.is_empty() {
            let mut spec = TagSpecification::builder().resource_type(ResourceType::SecurityGroup);
            for (k, v) in &self.tags {
                spec = spec.tags(Tag::builder().key(k).value(v).build());
            }
            req = req.tag_specifications(spec.build());
        }
        let out = req
            .send()
            .await
            .map_err(|e| aws_error("create_security_group", &self.opts, e))?;
        let id = out.group_id().unwrap_or_default().to_string();
        *self.cell.lock().unwrap_or_else(|e| e.into_inner()) = Some(id.clone());
        let mut v = Vars::new();
        if !self.report {
            return Ok(v);
        }
        let mut after = BTreeMap::new();
        for (r, d) in &self.after {
            after.insert(resolve_rule(r, &self.pending)?, d.clone());
        }
        v.insert("group_id".into(), Value::from(id.as_str()));
        v.insert(
            "ip_permissions".into(),
            permissions_value(&after, &id, false),
        );
        if self.egress {
            v.insert(
                "ip_permissions_egress".into(),
                permissions_value(&after, &id, true),
            );
        }
        Ok(v)
    }
}

#[derive(Debug)]
pub(super) struct ChangeRule {
    pub(super) client: Client,
    pub(super) opts: AwsOpts,
    pub(super) cell: GroupCell,
    pub(super) rule: Rule,
    pub(super) desc: Option<String>,
    pub(super) op: RuleOp,
    pub(super) pending: Pending,
}

/// What to do with one rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RuleOp {
    Authorize,
    Revoke,
    Describe,
}

#[async_trait]
impl Apply for ChangeRule {
    async fn apply(&self) -> Result<Vars> {
        let id = cell_id(&self.cell)?;
        let rule = resolve_rule(&self.rule, &self.pending)?;
        let desc = match self.op {
            RuleOp::Revoke => None,
            _ => self.desc.as_deref(),
        };
        let perm = to_permission(&rule, &id, desc);
        let c = &self.client;
        let err = |op: &str| {
            let dir = if self.rule.egress {
                "egress"
            } else {
                "ingress"
            };
            format!("{op}{dir}")
        };
        let res = match (self.op, self.rule.egress) {
            (RuleOp::Authorize, false) => c
                .authorize_security_group_ingress()
                .group_id(&id)
                .ip_permissions(perm)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| aws_error(&err("authorize_security_group_"), &self.opts, e)),
            (RuleOp::Authorize, true) => c
                .authorize_security_group_egress()
                .group_id(&id)
                .ip_permissions(perm)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| aws_error(&err("authorize_security_group_"), &self.opts, e)),
            (RuleOp::Revoke, false) => c
                .revoke_security_group_ingress()
                .group_id(&id)
                .ip_permissions(perm)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| aws_error(&err("revoke_security_group_"), &self.opts, e)),
            (RuleOp::Revoke, true) => c
                .revoke_security_group_egress()
                .group_id(&id)
                .ip_permissions(perm)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| aws_error(&err("revoke_security_group_"), &self.opts, e)),
            (RuleOp::Describe, false) => c
                .update_security_group_rule_descriptions_ingress()
                .group_id(&id)
                .ip_permissions(perm)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| {
                    aws_error(
                        &err("update_security_group_rule_descriptions_"),
                        &self.opts,
                        e,
                    )
                }),
            (RuleOp::Describe, true) => c
                .update_security_group_rule_descriptions_egress()
                .group_id(&id)
                .ip_permissions(perm)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| {
                    aws_error(
                        &err("update_security_group_rule_descriptions_"),
                        &self.opts,
                        e,
                    )
                }),
        };
        res?;
        Ok(Vars::new())
    }
}

#[derive(Debug)]
pub(super) struct ChangeTags {
    pub(super) client: Client,
    pub(super) opts: AwsOpts,
    pub(super) cell: GroupCell,
    pub(super) set: Vec<(String, String)>,
    pub(super) remove: Vec<String>,
}

#[async_trait]
impl Apply for ChangeTags {
    async fn apply(&self) -> Result<Vars> {
        let id = cell_id(&self.cell)?;
        if !self.set.is_empty() {
            let mut req = self.client.create_tags().resources(&id);
            for (k, v) in &self.set {
                req = req.tags(Tag::builder().key(k).value(v).build());
            }
            req.send()
                .await
                .map_err(|e| aws_error("create_tags", &self.opts, e))?;
        }
        if !self.remove.is_empty() {
            let mut req = self.client.delete_tags().resources(&id);
            for k in &self.remove {
                req = req.tags(Tag::builder().key(k).build());
            }
            req.send()
                .await
                .map_err(|e| aws_error("delete_tags", &self.opts, e))?;
        }
        Ok(Vars::new())
    }
}

#[derive(Debug)]
pub(super) struct DeleteGroup {
    pub(super) client: Client,
    pub(super) opts: AwsOpts,
    pub(super) group_id: String,
}

#[async_trait]
impl Apply for DeleteGroup {
    async fn apply(&self) -> Result<Vars> {
        self.client
            .delete_security_group()
            .group_id(&self.group_id)
            .send()
            .await
            .map_err(|e| aws_error("delete_security_group", &self.opts, e))?;
        Ok(Vars::new())
    }
}

fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

/// Finds groups by name (in a VPC, when given).
pub(super) async fn groups_named(
    client: &Client,
    opts: &AwsOpts,
    name: &str,
    vpc: Option<&str>,
) -> Result<Vec<SecurityGroup>> {
    let mut req = client
        .describe_security_groups()
        .filters(filter("group-name", name));
    if let Some(v) = vpc {
        req = req.filters(filter("vpc-id", v));
    }
    let mut pages = req.into_paginator().send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws_error("describe_security_groups", opts, e))?;
        out.extend(
            page.security_groups()
                .iter()
                .filter(|g| g.group_name() == Some(name))
                .cloned(),
        );
    }
    Ok(out)
}

/// Finds a group by id; None when it does not exist.
pub(super) async fn group_by_id(
    client: &Client,
    opts: &AwsOpts,
    id: &str,
) -> Result<Option<SecurityGroup>> {
    match client.describe_security_groups().group_ids(id).send().await {
        Ok(out) => Ok(out.security_groups().first().cloned()),
        Err(e) => {
            use aws_sdk_ec2::error::ProvideErrorMetadata;
            if matches!(e.code(), Some("InvalidGroup.NotFound")) {
                Ok(None)
            } else {
                Err(aws_error("describe_security_groups", opts, e))
            }
        }
    }
}

/// The VPC to create a group in: checks that `vpc_id` exists, or finds the default VPC.
pub(super) async fn resolve_vpc(
    client: &Client,
    opts: &AwsOpts,
    vpc: Option<&str>,
) -> Result<String> {
    let req = match vpc {
        Some(v) => client.describe_vpcs().vpc_ids(v),
        None => client.describe_vpcs().filters(filter("is-default", "true")),
    };
    let out = req
        .send()
        .await
        .map_err(|e| aws_error("describe_vpcs", opts, e))?;
    match out.vpcs().first().and_then(|v| v.vpc_id()) {
        Some(id) => Ok(id.to_string()),
        None => Err(match vpc {
            Some(v) => Error::failed(format!("ec2_security_group: VPC {v} not found"))
                .hint("check vpc_id and region"),
            None => Error::failed("ec2_security_group: the region has no default VPC")
                .hint("give vpc_id"),
        }),
    }
}

pub(super) fn tags_of(sg: Option<&SecurityGroup>) -> BTreeMap<String, String> {
    sg.map(|g| {
        g.tags()
            .iter()
            .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or("").to_string())))
            .collect()
    })
    .unwrap_or_default()
}
