//! `ec2_security_group`: an EC2 security group with exactly the wanted ingress rules.

use super::client::{AwsOpts, aws_error, ec2_client};
use crate::error::{Error, Result, did_you_mean};
use crate::modules::args::value_str;
use crate::modules::{
    Action, Apply, Args, Diff, Module, ModuleDoc, OptKind, OptSpec, Plan, TaskCtx,
};
use crate::value::{Value, Vars, from_json, value_to_vars};
use async_trait::async_trait;
use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{
    Filter, IpPermission, IpRange, Ipv6Range, PrefixListId, ResourceType, SecurityGroup, Tag,
    TagSpecification, UserIdGroupPair,
};
use minijinja::value::ValueKind;
use serde_json::json;
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, Mutex};

/// The `ec2_security_group` module (also `amazon.aws.ec2_security_group`).
pub struct Ec2SecurityGroup;

/// The same module under its old name `ec2_group` (`amazon.aws.ec2_group`).
pub struct Ec2Group;

static DOC_EC2_GROUP: ModuleDoc = ModuleDoc {
    name: "ec2_group",
    short: "Old name of ec2_security_group",
    ..DOC
};

#[async_trait]
impl Module for Ec2Group {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC_EC2_GROUP
    }

    async fn plan(&self, ctx: &TaskCtx<'_>, args: &Args) -> Result<Plan> {
        Ec2SecurityGroup.plan(ctx, args).await
    }
}

/// The `group_id` returned in check mode for a group that does not exist yet.
pub const CHECK_MODE_GROUP_ID: &str = "(new group: id assigned when applied)";

static DOC: ModuleDoc = ModuleDoc {
    name: "ec2_security_group",
    short: "Manage an EC2 security group and its ingress rules",
    description: "Runs on the controller (use `delegate_to: localhost` or a play on localhost) and \
talks to the EC2 API. Ensures the group exists (found by `name` in `vpc_id`, or by `group_id`) with \
EXACTLY the wanted ingress rules: each rule expands into (protocol, port range, source) tuples \
(`ports` lists and `a-b` ranges expand; `all`/`-1` means every protocol and port), the current \
rules are read, and the plan is: create the group, authorize each missing rule, revoke each rule \
not wanted (only with purge_rules, the default), set/remove tags. The diff is the sorted rule \
list before/after, one rule per line (`tcp 22 from 203.0.113.0/24`, `udp 7946 from self`), so \
--check --diff shows exactly what would change; a second run plans nothing. A source \
`group_name` equal to the group's own name (or its `group_id`) is a self reference, written \
`self`. Check mode makes no API call that changes anything; when the group would be created, \
`group_id` is returned as \"(new group: id assigned when applied)\". Egress rules are managed the \
same way when `rules_egress` is given (lines `egress tcp 443 to 0.0.0.0/0`), else left alone. \
As in Ansible, a missing `rules` means no ingress rules at all (with purge_rules). A rule's `rule_desc` is part of the diff (`tcp 22 from 203.0.113.0/24 \"admin\"`) and is \
updated in place when it differs; a rule without rule_desc accepts any description. \
state=absent deletes the group (AWS refuses while instances or other groups use it). \
Returns group_id, group_name, vpc_id, description, tags, ip_permissions (the resulting ingress \
rules, one per tuple, in the EC2 API shape), ip_permissions_egress, rules (the ingress rules as \
text lines) and, with rules_egress, rules_egress.\n\n\
Real EC2: give `region` (or AWS_REGION) and credentials through the standard chain \
(AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, `profile`/AWS_PROFILE with static keys, SSO or \
credential_process, or the instance role), or aws_access_key/aws_secret_key. The IAM policy needs \
ec2:DescribeSecurityGroups, DescribeVpcs, CreateSecurityGroup, DeleteSecurityGroup, \
AuthorizeSecurityGroupIngress, RevokeSecurityGroupIngress, CreateTags and DeleteTags. An \
emulator (moto, LocalStack): `endpoint_url: http://localhost:5000` or AWS_ENDPOINT_URL, with any \
test credentials and a region.",
    options: &aws_options![
        OptSpec::new(
            "name",
            OptKind::Str,
            "Name of the group (unique within its VPC).",
        ),
        OptSpec::new(
            "group_id",
            OptKind::Str,
            "Id of an existing group (`sg-...`): manage or delete it by id.",
        ),
        OptSpec::new(
            "description",
            OptKind::Str,
            "Description of the group, required to create it (AWS cannot change it later).",
        ),
        OptSpec::new(
            "vpc_id",
            OptKind::Str,
            "The VPC of the group. Default: the region's default VPC.",
        ),
        OptSpec::new(
            "rules",
            OptKind::List,
            "Ingress rules: a list of {proto: tcp (default)|udp|icmp|icmpv6|all|-1|<number>, \
ports: [22, '8000-8010'] or from_port/to_port (or icmp_type/icmp_code), and sources: cidr_ip (str or list), cidr_ipv6, group_id, \
group_name (a group of the same VPC; the group's own name means itself; a missing one is \
created with the rule's group_desc), ip_prefix (a prefix list id); rule_desc}. icmp ports are the ICMP type and code (default -1, all).",
        ),
        OptSpec::new(
            "purge_rules",
            OptKind::Bool,
            "Revoke ingress rules that are not in `rules`.",
        )
        .default("yes"),
        OptSpec::new(
            "rules_egress",
            OptKind::List,
            "Egress (outbound) rules, written like `rules` (the sources are destinations). \
Absent: egress rules are left alone (a new group keeps EC2's allow-all egress rule); `[]` with \
purge_rules_egress removes them all.",
        )
        .aliases(&["egress_rules"]),
        OptSpec::new(
            "purge_rules_egress",
            OptKind::Bool,
            "With `rules_egress`, revoke egress rules that are not in it (including the default \
allow-all one).",
        )
        .default("yes")
        .aliases(&["purge_egress_rules"]),
        OptSpec::new(
            "tags",
            OptKind::Dict,
            "Tags of the group (`Name: web`). Absent: tags are left alone.",
        )
        .aliases(&["resource_tags"]),
        OptSpec::new(
            "purge_tags",
            OptKind::Bool,
            "With `tags`, remove other tags (except `aws:` ones).",
        )
        .default("yes"),
        OptSpec::new("state", OptKind::Str, "Whether the group should exist.")
            .default("present")
            .choices(&["present", "absent"]),
    ],
    free_form: None,
    mutually_exclusive: &[&["aws_access_key", "profile"]],
    required_one_of: &[&["name", "group_id"]],
    examples: "- name: Swarm security group\n  amazon.aws.ec2_security_group:\n    name: swarm\n    \
description: Docker swarm nodes\n    vpc_id: \"{{ vpc_id }}\"\n    region: eu-west-1\n    rules:\n      \
- proto: tcp\n        ports: [22]\n        cidr_ip: 203.0.113.0/24\n        rule_desc: admin ssh\n      \
- proto: tcp\n        ports: [2376, 2377, 7946]\n        group_name: swarm\n      \
- proto: udp\n        ports: [7946, 4789]\n        group_name: swarm\n      \
- proto: tcp\n        ports: [5432, 8008]\n        cidr_ip: 10.0.0.0/16\n  delegate_to: localhost\n  \
register: sg\n\n- ec2_security_group:\n    name: old\n    vpc_id: vpc-0123\n    state: absent\n    \
endpoint_url: http://localhost:5000   # moto / LocalStack",
};

/// Where traffic of a rule comes from.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Source {
    /// An IPv4 CIDR.
    Cidr(String),
    /// An IPv6 CIDR.
    Cidr6(String),
    /// The group itself.
    SelfGroup,
    /// Another security group, by id.
    Group(String),
    /// A managed prefix list, by id.
    PrefixList(String),
}

/// One ingress rule: a protocol, a port range and one source.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Rule {
    /// An outbound rule (then the source is the destination).
    pub egress: bool,
    /// `tcp`, `udp`, `icmp`, `icmpv6`, `-1` (all) or a protocol number.
    pub proto: String,
    /// First port (ICMP type); None when the protocol has no ports.
    pub from: Option<i32>,
    /// Last port (ICMP code).
    pub to: Option<i32>,
    /// The source.
    pub source: Source,
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let proto = if self.proto == "-1" {
            "all"
        } else {
            &self.proto
        };
        if self.egress {
            f.write_str("egress ")?;
        }
        f.write_str(proto)?;
        match (self.proto.as_str(), self.from, self.to) {
            (_, None, _) => {}
            ("icmp" | "icmpv6", Some(-1), _) => f.write_str(" all")?,
            ("icmp" | "icmpv6", Some(t), c) => {
                write!(f, " type {t}")?;
                if let Some(c) = c.filter(|c| *c != -1) {
                    write!(f, " code {c}")?;
                }
            }
            (_, Some(a), Some(b)) if a != b => write!(f, " {a}-{b}")?,
            (_, Some(a), _) => write!(f, " {a}")?,
        }
        let src = match &self.source {
            Source::Cidr(c) | Source::Cidr6(c) | Source::Group(c) | Source::PrefixList(c) => c,
            Source::SelfGroup => "self",
        };
        let dir = if self.egress { "to" } else { "from" };
        write!(f, " {dir} {src}")
    }
}

/// Normalizes a protocol name or number the way EC2 reports it.
pub(crate) fn norm_proto(p: &str) -> Result<String> {
    let p = p.trim().to_ascii_lowercase();
    Ok(match p.as_str() {
        "all" | "-1" | "any" => "-1".into(),
        "tcp" | "6" => "tcp".into(),
        "udp" | "17" => "udp".into(),
        "icmp" | "1" => "icmp".into(),
        "icmpv6" | "58" => "icmpv6".into(),
        n if n.parse::<u8>().is_ok() => n.to_string(),
        other => {
            let mut e = Error::options(format!("ec2_security_group: unknown protocol '{other}'"));
            let known = ["tcp", "udp", "icmp", "icmpv6", "all"];
            e = match did_you_mean(other, known.iter().copied()) {
                Some(s) => e.hint(format!("did you mean '{s}'?")),
                None => e.hint("use tcp, udp, icmp, icmpv6, all (-1) or a protocol number"),
            };
            return Err(e);
        }
    })
}

/// Normalizes an IPv4 CIDR to its network address (`10.0.0.5/16` → `10.0.0.0/16`; a bare
/// address gets `/32`).
pub(crate) fn norm_cidr4(c: &str) -> Result<String> {
    let c = c.trim();
    let (addr, len) = c.split_once('/').unwrap_or((c, "32"));
    let bad = || {
        Error::options(format!("ec2_security_group: invalid IPv4 CIDR '{c}'"))
            .hint("write it like 10.0.0.0/16 or 203.0.113.7/32")
    };
    let ip: Ipv4Addr = addr.parse().map_err(|_| bad())?;
    let len: u32 = len.parse().map_err(|_| bad())?;
    if len > 32 {
        return Err(bad());
    }
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    Ok(format!("{}/{len}", Ipv4Addr::from(u32::from(ip) & mask)))
}

/// Normalizes an IPv6 CIDR to its network address in canonical form.
pub(crate) fn norm_cidr6(c: &str) -> Result<String> {
    let c = c.trim();
    let (addr, len) = c.split_once('/').unwrap_or((c, "128"));
    let bad = || {
        Error::options(format!("ec2_security_group: invalid IPv6 CIDR '{c}'"))
            .hint("write it like 2001:db8::/32 or ::/0")
    };
    let ip: Ipv6Addr = addr.parse().map_err(|_| bad())?;
    let len: u32 = len.parse().map_err(|_| bad())?;
    if len > 128 {
        return Err(bad());
    }
    let mask = if len == 0 {
        0
    } else {
        u128::MAX << (128 - len)
    };
    Ok(format!("{}/{len}", Ipv6Addr::from(u128::from(ip) & mask)))
}

/// A port or port range as given: `22`, `"22"`, `"8000-8010"`.
fn parse_port_range(v: &Value, idx: &str) -> Result<(i32, i32)> {
    let text = value_str(v);
    let bad = || {
        Error::options(format!(
            "ec2_security_group: rule {idx}: invalid port '{text}'"
        ))
        .hint("ports are numbers 0-65535 or ranges like '8000-8010'")
    };
    let t = text.trim();
    let (a, b) = match t.split_once('-') {
        Some((a, b)) if !a.is_empty() => (a.trim(), b.trim()),
        _ => (t, t),
    };
    let a: i32 = a.parse().map_err(|_| bad())?;
    let b: i32 = b.parse().map_err(|_| bad())?;
    if a > b || !(-1..=65535).contains(&a) || !(-1..=65535).contains(&b) {
        return Err(bad());
    }
    Ok((a, b))
}

/// A scalar or list option of a rule, as strings.
fn strs(v: Option<&Value>) -> Vec<String> {
    match v {
        None => vec![],
        Some(v) if v.is_none() || v.is_undefined() => vec![],
        Some(v) if v.kind() == ValueKind::Seq => v
            .try_iter()
            .map(|it| it.map(|x| value_str(&x)).collect())
            .unwrap_or_default(),
        Some(v) => vec![value_str(v)],
    }
}

/// A source group named in a rule, to be resolved against EC2.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SourceSpec {
    /// A resolved source.
    Done(Source),
    /// A group name to look up in the VPC.
    GroupName(String),
    /// A group id (may turn out to be the group itself).
    GroupId(String),
}

/// A rule as written: one (proto, from, to) tuple per port range, and its sources.
#[derive(Clone, Debug)]
pub(crate) struct RuleSpec {
    pub egress: bool,
    pub proto: String,
    pub ranges: Vec<(Option<i32>, Option<i32>)>,
    pub sources: Vec<SourceSpec>,
    pub desc: Option<String>,
    /// Description for a `group_name` source group that does not exist yet (it is created).
    pub group_desc: Option<String>,
}

const RULE_KEYS: &[&str] = &[
    "proto",
    "ip_protocol",
    "ports",
    "from_port",
    "to_port",
    "icmp_type",
    "icmp_code",
    "cidr_ip",
    "cidr_ipv6",
    "group_id",
    "group_name",
    "group_desc",
    "ip_prefix",
    "rule_desc",
];

/// Parses the `rules` (or, with `egress`, the `rules_egress`) option.
pub(crate) fn parse_rules(v: Option<&Value>, egress: bool) -> Result<Vec<RuleSpec>> {
    let (opt, what) = if egress {
        ("rules_egress", "egress rule")
    } else {
        ("rules", "rule")
    };
    let Some(v) = v else { return Ok(vec![]) };
    if v.kind() != ValueKind::Seq {
        return Err(Error::options(format!(
            "ec2_security_group: {opt} must be a list of mappings"
        )));
    }
    let mut out = Vec::new();
    for (i, item) in v.try_iter().into_iter().flatten().enumerate() {
        let idx = format!("{what} {}", i + 1);
        if item.kind() != ValueKind::Map {
            return Err(Error::options(format!(
                "ec2_security_group: {idx} must be a mapping, got '{item}'"
            )));
        }
        let m: Vars = value_to_vars(&item);
        for k in m.keys() {
            if !RULE_KEYS.contains(&k.as_str()) {
                let mut e = Error::options(format!("ec2_security_group: {idx} has no key '{k}'"));
                e = match did_you_mean(k, RULE_KEYS.iter().copied()) {
                    Some(s) => e.hint(format!("did you mean '{s}'?")),
                    None => e.hint(format!("a rule's keys are: {}", RULE_KEYS.join(", "))),
                };
                return Err(e);
            }
        }
        let get = |k: &str| m.get(k).filter(|v| !v.is_none() && !v.is_undefined());
        // As in Ansible, the protocol defaults to tcp.
        let proto = match get("proto").or_else(|| get("ip_protocol")) {
            Some(p) => norm_proto(&value_str(p))?,
            None => "tcp".to_string(),
        };
        let has_ports = get("ports").is_some();
        let has_from_to = get("from_port").is_some() || get("to_port").is_some();
        let has_icmp = get("icmp_type").is_some() || get("icmp_code").is_some();
        if [has_ports, has_from_to, has_icmp]
            .iter()
            .filter(|b| **b)
            .count()
            > 1
        {
            return Err(Error::options(format!(
                "ec2_security_group: {idx}: give only one of ports, from_port/to_port and \
icmp_type/icmp_code"
            )));
        }
        let mut ranges: Vec<(Option<i32>, Option<i32>)> = Vec::new();
        if has_icmp {
            if proto != "icmp" && proto != "icmpv6" {
                return Err(Error::options(format!(
                    "ec2_security_group: {idx}: icmp_type/icmp_code need proto icmp or icmpv6"
                )));
            }
            let Some(t) = get("icmp_type") else {
                return Err(Error::options(format!(
                    "ec2_security_group: {idx}: icmp_code needs icmp_type"
                )));
            };
            let (t, _) = parse_port_range(t, &idx)?;
            let c = match get("icmp_code") {
                Some(c) => parse_port_range(c, &idx)?.0,
                None => -1,
            };
            ranges.push((Some(t), Some(c)));
        } else if let Some(p) = get("ports") {
            let items: Vec<Value> = if p.kind() == ValueKind::Seq {
                p.try_iter().map(|it| it.collect()).unwrap_or_default()
            } else {
                vec![p.clone()]
            };
            for it in items {
                let (a, b) = parse_port_range(&it, &idx)?;
                ranges.push((Some(a), Some(b)));
            }
        } else if let Some(from) = get("from_port").or(get("to_port")) {
            let to = get("to_port").unwrap_or(from);
            let (a, _) = parse_port_range(from, &idx)?;
            let (b, _) = parse_port_range(to, &idx)?;
            if proto != "icmp" && proto != "icmpv6" && a > b {
                return Err(Error::options(format!(
                    "ec2_security_group: {idx}: from_port {a} is greater than to_port {b}"
                )));
            }
            ranges.push((Some(a), Some(b)));
        }
        match proto.as_str() {
            "tcp" | "udp" => {
                if ranges.is_empty() {
                    return Err(Error::options(format!(
                        "ec2_security_group: {idx}: {proto} needs ports"
                    ))
                    .hint("add `ports: [22]`, or from_port/to_port; for every port use 0-65535"));
                }
            }
            "icmp" | "icmpv6" => {
                if ranges.is_empty() {
                    ranges.push((Some(-1), Some(-1)));
                }
            }
            // all protocols, or a protocol without ports: EC2 ignores ports.
            _ => ranges = vec![(None, None)],
        }
        let mut sources = Vec::new();
        for c in strs(get("cidr_ip")) {
            sources.push(SourceSpec::Done(Source::Cidr(norm_cidr4(&c)?)));
        }
        for c in strs(get("cidr_ipv6")) {
            sources.push(SourceSpec::Done(Source::Cidr6(norm_cidr6(&c)?)));
        }
        for g in strs(get("group_id")) {
            sources.push(SourceSpec::GroupId(g.trim().to_string()));
        }
        for g in strs(get("group_name")) {
            sources.push(SourceSpec::GroupName(g.trim().to_string()));
        }
        for p in strs(get("ip_prefix")) {
            sources.push(SourceSpec::Done(Source::PrefixList(p.trim().to_string())));
        }
        if sources.is_empty() {
            return Err(
                Error::options(format!("ec2_security_group: {idx} has no source"))
                    .hint("add cidr_ip, cidr_ipv6, group_id, group_name or ip_prefix"),
            );
        }
        out.push(RuleSpec {
            egress,
            proto,
            ranges,
            sources,
            desc: get("rule_desc").map(value_str).filter(|s| !s.is_empty()),
            group_desc: get("group_desc").map(value_str).filter(|s| !s.is_empty()),
        });
    }
    Ok(out)
}

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

/// The diff text: one rule per line, sorted, with its description (if any) in quotes.
fn rules_text(rules: &BTreeMap<Rule, Option<String>>) -> String {
    rules
        .iter()
        .map(|(r, d)| match d {
            Some(d) => format!("{r} {d:?}\n"),
            None => format!("{r}\n"),
        })
        .collect()
}

fn rules_lines(rules: &BTreeMap<Rule, Option<String>>, egress: bool) -> Value {
    Value::from(
        rules
            .keys()
            .filter(|r| r.egress == egress)
            .map(|r| r.to_string())
            .collect::<Vec<_>>(),
    )
}

/// The egress rule EC2 gives every new VPC group: all traffic to anywhere (IPv4).
fn default_egress() -> BTreeMap<Rule, Option<String>> {
    BTreeMap::from([(
        Rule {
            egress: true,
            proto: "-1".into(),
            from: None,
            to: None,
            source: Source::Cidr("0.0.0.0/0".into()),
        },
        None,
    )])
}

/// The group id, known at planning time or set when the group is created.
type GroupCell = Arc<Mutex<Option<String>>>;

/// Source groups created by this task: placeholder source id → the cell of the real id.
type Pending = BTreeMap<String, GroupCell>;

/// The placeholder source of a group that this task creates.
fn pending_key(name: &str) -> String {
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
struct CreateGroup {
    client: Client,
    opts: AwsOpts,
    name: String,
    description: String,
    vpc_id: String,
    tags: Vec<(String, String)>,
    cell: GroupCell,
    after: BTreeMap<Rule, Option<String>>,
    egress: bool,
    /// Return group_id and the rules (the task's group; not a created source group).
    report: bool,
    pending: Pending,
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
struct ChangeRule {
    client: Client,
    opts: AwsOpts,
    cell: GroupCell,
    rule: Rule,
    desc: Option<String>,
    op: RuleOp,
    pending: Pending,
}

/// What to do with one rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RuleOp {
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
struct ChangeTags {
    client: Client,
    opts: AwsOpts,
    cell: GroupCell,
    set: Vec<(String, String)>,
    remove: Vec<String>,
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
struct DeleteGroup {
    client: Client,
    opts: AwsOpts,
    group_id: String,
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
async fn groups_named(
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
async fn group_by_id(client: &Client, opts: &AwsOpts, id: &str) -> Result<Option<SecurityGroup>> {
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
async fn resolve_vpc(client: &Client, opts: &AwsOpts, vpc: Option<&str>) -> Result<String> {
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

fn tags_of(sg: Option<&SecurityGroup>) -> BTreeMap<String, String> {
    sg.map(|g| {
        g.tags()
            .iter()
            .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or("").to_string())))
            .collect()
    })
    .unwrap_or_default()
}

fn tags_value(tags: &BTreeMap<String, String>) -> Value {
    Value::from_iter(
        tags.iter()
            .map(|(k, v)| (Value::from(k.as_str()), Value::from(v.as_str()))),
    )
}

#[async_trait]
impl Module for Ec2SecurityGroup {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn plan(&self, _ctx: &TaskCtx<'_>, args: &Args) -> Result<Plan> {
        let opts = AwsOpts::from_args(args);
        let name = args.str("name").filter(|s| !s.is_empty());
        let gid = args.str("group_id").filter(|s| !s.is_empty());
        let vpc_opt = args.str("vpc_id").filter(|s| !s.is_empty());
        let present = args.str("state").as_deref() != Some("absent");
        let purge = args.opt_bool("purge_rules").unwrap_or(true);
        let purge_egress = args.opt_bool("purge_rules_egress").unwrap_or(true);
        // Egress rules are managed only when rules_egress is given.
        let with_egress = present && args.has("rules_egress");
        // Validate everything that needs no API call first.
        let mut specs = Vec::new();
        if present {
            specs = parse_rules(args.get("rules"), false)?;
            specs.extend(parse_rules(args.get("rules_egress"), true)?);
        }
        let want_tags: Option<BTreeMap<String, String>> = args.get("tags").map(|t| {
            value_to_vars(t)
                .iter()
                .map(|(k, v)| (k.clone(), value_str(v)))
                .collect()
        });
        let client = ec2_client(&opts).await?;

        // The group as it is.
        let existing = match (&gid, &name) {
            (Some(id), _) => group_by_id(&client, &opts, id).await?,
            (None, Some(n)) => {
                let mut found = groups_named(&client, &opts, n, vpc_opt.as_deref()).await?;
                if found.len() > 1 {
                    let vpcs: Vec<&str> = found.iter().filter_map(|g| g.vpc_id()).collect();
                    return Err(Error::failed(format!(
                        "ec2_security_group: several groups are named '{n}' (in VPCs {})",
                        vpcs.join(", ")
                    ))
                    .hint("give vpc_id (or group_id) to choose one"));
                }
                found.pop()
            }
            (None, None) => {
                return Err(Error::options(
                    "ec2_security_group: give name (or group_id)",
                ));
            }
        };
        let group_name = existing
            .as_ref()
            .and_then(|g| g.group_name().map(str::to_string))
            .or(name.clone())
            .unwrap_or_default();
        let label = format!("security group {group_name}");
        let current = match &existing {
            Some(g) => current_rules(g, with_egress),
            // A new VPC group starts with EC2's allow-all egress rule.
            None if with_egress => default_egress(),
            None => BTreeMap::new(),
        };
        // Egress rules for the result when they are not managed.
        let unmanaged_egress = match &existing {
            Some(g) if !with_egress => current_rules(g, true),
            Some(_) => BTreeMap::new(),
            None => default_egress(),
        };
        let own_id = existing
            .as_ref()
            .and_then(|g| g.group_id().map(str::to_string));

        if !present {
            let Some(g) = existing else {
                return Ok(Plan::ok()
                    .with("group_name", group_name.as_str())
                    .with("state", "absent"));
            };
            let id = own_id.unwrap_or_default();
            return Ok(Plan::ok()
                .with("group_id", id.as_str())
                .with("group_name", group_name.as_str())
                .with("vpc_id", g.vpc_id().unwrap_or_default())
                .with("state", "absent")
                .change(
                    format!("delete {label} ({id})"),
                    Some(Diff::new(&label, rules_text(&current), "")),
                    Action::Call(Arc::new(DeleteGroup {
                        client,
                        opts,
                        group_id: id.clone(),
                    })),
                ));
        }

        if existing.is_none() && gid.is_some() {
            return Err(Error::failed(format!(
                "ec2_security_group: no security group with id {}",
                gid.unwrap_or_default()
            ))
            .hint("a group cannot be created with a given id: give name (and vpc_id) instead"));
        }
        let vpc_id = match existing.as_ref().and_then(|g| g.vpc_id()) {
            Some(v) => v.to_string(),
            None => resolve_vpc(&client, &opts, vpc_opt.as_deref()).await?,
        };
        let description = match &existing {
            Some(g) => g.description().unwrap_or_default().to_string(),
            None => args
                .str("description")
                .filter(|d| !d.is_empty())
                .ok_or_else(|| {
                    Error::options(format!(
                        "ec2_security_group: description is required to create group \
'{group_name}'"
                    ))
                    .hint("add `description: ...` (EC2 requires one)")
                })?,
        };

        // Resolve the wanted rules.
        let mut wanted: BTreeMap<Rule, Option<String>> = BTreeMap::new();
        let mut name_cache: BTreeMap<String, Source> = BTreeMap::new();
        let mut pending: Pending = BTreeMap::new();
        let mut to_create: Vec<(String, String, GroupCell)> = Vec::new();
        for spec in &specs {
            for src in &spec.sources {
                let source = match src {
                    SourceSpec::Done(s) => s.clone(),
                    SourceSpec::GroupId(id) => {
                        if Some(id) == own_id.as_ref() {
                            Source::SelfGroup
                        } else {
                            Source::Group(id.clone())
                        }
                    }
                    SourceSpec::GroupName(n) if *n == group_name => Source::SelfGroup,
                    SourceSpec::GroupName(n) => {
                        if let Some(s) = name_cache.get(n) {
                            s.clone()
                        } else {
                            let found = groups_named(&client, &opts, n, Some(&vpc_id)).await?;
                            let s = match (
                                found.first().and_then(|g| g.group_id()),
                                &spec.group_desc,
                            ) {
                                (Some(id), _) => Source::Group(id.to_string()),
                                // As in Ansible: created, with group_desc as its description.
                                (None, Some(desc)) => {
                                    let key = pending_key(n);
                                    let cell: GroupCell = Arc::new(Mutex::new(None));
                                    pending.insert(key.clone(), cell.clone());
                                    to_create.push((n.clone(), desc.clone(), cell));
                                    Source::Group(key)
                                }
                                (None, None) => {
                                    return Err(Error::failed(format!(
                                        "ec2_security_group: source group '{n}' not found in {vpc_id}"
                                    ))
                                    .hint("add group_desc to the rule to create it, create it first \
(another ec2_security_group task), or use group_id"));
                                }
                            };
                            name_cache.insert(n.clone(), s.clone());
                            s
                        }
                    }
                };
                for (from, to) in &spec.ranges {
                    let rule = Rule {
                        egress: spec.egress,
                        proto: spec.proto.clone(),
                        from: *from,
                        to: *to,
                        source: source.clone(),
                    };
                    wanted.entry(rule).or_insert_with(|| spec.desc.clone());
                }
            }
        }

        let add: Vec<(&Rule, &Option<String>)> = wanted
            .iter()
            .filter(|(r, _)| !current.contains_key(r))
            .collect();
        let remove: Vec<&Rule> = current
            .keys()
            .filter(|r| !wanted.contains_key(*r) && if r.egress { purge_egress } else { purge })
            .collect();
        // Rules kept whose wanted description differs (no rule_desc: any description is fine).
        let redescribe: Vec<(&Rule, &String)> = wanted
            .iter()
            .filter_map(|(r, d)| {
                let d = d.as_ref()?;
                let cur = current.get(r)?;
                (cur.as_ref() != Some(d)).then_some((r, d))
            })
            .collect();
        let mut after = current.clone();
        for r in &remove {
            after.remove(*r);
        }
        for (r, d) in &add {
            after.insert((*r).clone(), (*d).clone());
        }
        for (r, d) in &redescribe {
            after.insert((*r).clone(), Some((*d).clone()));
        }

        // Tags.
        let cur_tags = tags_of(existing.as_ref());
        let purge_tags = args.opt_bool("purge_tags").unwrap_or(true);
        let (set_tags, remove_tags, final_tags) = match &want_tags {
            None => (vec![], vec![], cur_tags.clone()),
            Some(w) => {
                let set: Vec<(String, String)> = w
                    .iter()
                    .filter(|(k, v)| cur_tags.get(*k) != Some(*v))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                let remove: Vec<String> = if purge_tags {
                    cur_tags
                        .keys()
                        .filter(|k| !w.contains_key(*k) && !k.starts_with("aws:"))
                        .cloned()
                        .collect()
                } else {
                    vec![]
                };
                let mut fin = cur_tags.clone();
                for k in &remove {
                    fin.remove(k);
                }
                fin.extend(set.iter().cloned());
                (set, remove, fin)
            }
        };

        let shown_id = own_id.clone().unwrap_or_else(|| CHECK_MODE_GROUP_ID.into());
        let cell: GroupCell = Arc::new(Mutex::new(own_id.clone()));
        let mut plan = Plan::ok()
            .with("group_id", shown_id.as_str())
            .with("group_name", group_name.as_str())
            .with("vpc_id", vpc_id.as_str())
            .with("description", description.as_str())
            .with("tags", tags_value(&final_tags))
            .with(
                "ip_permissions",
                permissions_value(&after, &shown_id, false),
            )
            .with(
                "ip_permissions_egress",
                permissions_value(
                    if with_egress {
                        &after
                    } else {
                        &unmanaged_egress
                    },
                    &shown_id,
                    true,
                ),
            )
            .with("rules", rules_lines(&after, false));
        if with_egress {
            plan = plan.with("rules_egress", rules_lines(&after, true));
        }
        let mut diff = Some(Diff::new(&label, rules_text(&current), rules_text(&after)));
        for (n, desc, c) in to_create {
            plan = plan.change(
                format!("create security group {n} in {vpc_id} (a rule's source)"),
                None,
                Action::Call(Arc::new(CreateGroup {
                    client: client.clone(),
                    opts: opts.clone(),
                    name: n,
                    description: desc,
                    vpc_id: vpc_id.clone(),
                    tags: vec![],
                    cell: c,
                    after: BTreeMap::new(),
                    egress: false,
                    report: false,
                    pending: Pending::new(),
                })),
            );
        }
        if existing.is_none() {
            plan = plan.change(
                format!("create {label} in {vpc_id}"),
                diff.take(),
                Action::Call(Arc::new(CreateGroup {
                    client: client.clone(),
                    opts: opts.clone(),
                    name: group_name.clone(),
                    description: description.clone(),
                    vpc_id: vpc_id.clone(),
                    tags: set_tags.clone(),
                    cell: cell.clone(),
                    after: after.clone(),
                    egress: with_egress,
                    report: true,
                    pending: pending.clone(),
                })),
            );
        }
        for (rule, desc) in add {
            plan = plan.change(
                format!("authorize {rule}"),
                diff.take(),
                Action::Call(Arc::new(ChangeRule {
                    client: client.clone(),
                    opts: opts.clone(),
                    cell: cell.clone(),
                    rule: rule.clone(),
                    desc: desc.clone(),
                    op: RuleOp::Authorize,
                    pending: pending.clone(),
                })),
            );
        }
        for rule in remove {
            plan = plan.change(
                format!("revoke {rule}"),
                diff.take(),
                Action::Call(Arc::new(ChangeRule {
                    client: client.clone(),
                    opts: opts.clone(),
                    cell: cell.clone(),
                    rule: rule.clone(),
                    desc: None,
                    op: RuleOp::Revoke,
                    pending: pending.clone(),
                })),
            );
        }
        for (rule, desc) in redescribe {
            plan = plan.change(
                format!("describe {rule}: {desc:?}"),
                diff.take(),
                Action::Call(Arc::new(ChangeRule {
                    client: client.clone(),
                    opts: opts.clone(),
                    cell: cell.clone(),
                    rule: rule.clone(),
                    desc: Some(desc.clone()),
                    op: RuleOp::Describe,
                    pending: pending.clone(),
                })),
            );
        }
        // On creation the tags go with the CreateSecurityGroup call.
        if existing.is_some() && (!set_tags.is_empty() || !remove_tags.is_empty()) {
            let fmt = |t: &BTreeMap<String, String>| -> String {
                t.iter().map(|(k, v)| format!("{k}={v}\n")).collect()
            };
            let mut what: Vec<String> = set_tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
            what.extend(remove_tags.iter().map(|k| format!("-{k}")));
            plan = plan.change(
                format!("tag {label}: {}", what.join(", ")),
                Some(Diff::new(
                    &format!("{label} tags"),
                    fmt(&cur_tags),
                    fmt(&final_tags),
                )),
                Action::Call(Arc::new(ChangeTags {
                    client: client.clone(),
                    opts: opts.clone(),
                    cell: cell.clone(),
                    set: set_tags,
                    remove: remove_tags,
                })),
            );
        }
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(yaml: serde_json::Value) -> Result<Vec<RuleSpec>> {
        parse_rules(Some(&from_json(&yaml)), false)
    }

    #[test]
    fn expands_ports_and_normalizes() {
        let r = rules(json!([
            {"proto": "TCP", "ports": [22, "8000-8010", "443"], "cidr_ip": ["10.1.2.3/16", "203.0.113.7"]},
            {"proto": "all", "ports": [1], "group_name": "x"},
            {"proto": "icmp", "cidr_ipv6": "2001:db8::1/32"},
            {"proto": 17, "from_port": 53, "cidr_ip": "0.0.0.0/0"}
        ]))
        .unwrap();
        assert_eq!(r[0].proto, "tcp");
        assert_eq!(
            r[0].ranges,
            vec![
                (Some(22), Some(22)),
                (Some(8000), Some(8010)),
                (Some(443), Some(443))
            ]
        );
        assert_eq!(
            r[0].sources,
            vec![
                SourceSpec::Done(Source::Cidr("10.1.0.0/16".into())),
                SourceSpec::Done(Source::Cidr("203.0.113.7/32".into()))
            ]
        );
        assert_eq!(r[1].proto, "-1");
        assert_eq!(r[1].ranges, vec![(None, None)]);
        assert_eq!(r[2].ranges, vec![(Some(-1), Some(-1))]);
        assert_eq!(
            r[2].sources,
            vec![SourceSpec::Done(Source::Cidr6("2001:db8::/32".into()))]
        );
        assert_eq!(r[3].proto, "udp");
        assert_eq!(r[3].ranges, vec![(Some(53), Some(53))]);
    }

    #[test]
    fn proto_defaults_to_tcp_and_icmp_type_code() {
        let r = rules(json!([
            {"ports": 22, "cidr_ip": "1.2.3.4"},
            {"proto": "icmp", "icmp_type": 3, "icmp_code": 1, "cidr_ip": "1.2.3.4"},
            {"proto": "icmpv6", "icmp_type": 128, "cidr_ipv6": "::/0"}
        ]))
        .unwrap();
        assert_eq!(r[0].proto, "tcp");
        assert_eq!(r[1].ranges, vec![(Some(3), Some(1))]);
        assert_eq!(r[2].ranges, vec![(Some(128), Some(-1))]);
        let e = rules(json!([{"proto": "tcp", "icmp_type": 3, "cidr_ip": "1.2.3.4"}])).unwrap_err();
        assert!(e.msg.contains("need proto icmp"), "{}", e.msg);
        let e =
            rules(json!([{"proto": "icmp", "icmp_type": 3, "ports": [1], "cidr_ip": "1.2.3.4"}]))
                .unwrap_err();
        assert!(e.msg.contains("only one of"), "{}", e.msg);
    }

    #[test]
    fn bad_rules_give_clear_errors() {
        let e = parse_rules(
            Some(&from_json(&json!([{"proto": "tcp", "ports": [1]}]))),
            true,
        )
        .unwrap_err();
        assert_eq!(e.msg, "ec2_security_group: egress rule 1 has no source");
        let e = rules(json!([{"proto": "tcpp", "ports": [1], "cidr_ip": "1.2.3.4"}])).unwrap_err();
        assert!(e.hint.clone().unwrap().contains("'tcp'"), "{e:?}");
        let e = rules(json!([{"proto": "tcp", "cidr_ip": "1.2.3.4"}])).unwrap_err();
        assert!(e.msg.contains("rule 1: tcp needs ports"), "{}", e.msg);
        let e = rules(json!([{"proto": "tcp", "ports": [22]}])).unwrap_err();
        assert!(e.msg.contains("has no source"), "{}", e.msg);
        let e =
            rules(json!([{"proto": "tcp", "ports": ["9-1"], "cidr_ip": "1.2.3.4"}])).unwrap_err();
        assert!(e.msg.contains("invalid port '9-1'"), "{}", e.msg);
        let e = rules(json!([{"proto": "tcp", "ports": [1], "cidr": "1.2.3.4"}])).unwrap_err();
        assert!(e.hint.clone().unwrap().contains("cidr_ip"), "{e:?}");
        let e =
            rules(json!([{"proto": "tcp", "ports": [1], "cidr_ip": "10.0.0.0/33"}])).unwrap_err();
        assert!(e.msg.contains("invalid IPv4 CIDR"), "{}", e.msg);
    }

    #[test]
    fn rule_lines_sort_and_read() {
        let r = |proto: &str, from, to, s: Source| Rule {
            egress: false,
            proto: proto.into(),
            from,
            to,
            source: s,
        };
        let mut m = BTreeMap::new();
        m.insert(r("udp", Some(4789), Some(4789), Source::SelfGroup), None);
        m.insert(
            r(
                "tcp",
                Some(8000),
                Some(8010),
                Source::Cidr("10.0.0.0/16".into()),
            ),
            None,
        );
        m.insert(
            r("tcp", Some(22), Some(22), Source::Cidr("1.2.3.4/32".into())),
            None,
        );
        m.insert(r("-1", None, None, Source::Group("sg-1".into())), None);
        m.extend(default_egress());
        m.insert(
            r("tcp", Some(22), Some(22), Source::Cidr("1.2.3.4/32".into())),
            Some("admin \"ssh\"".into()),
        );
        m.insert(
            r("icmp", Some(8), Some(-1), Source::Cidr("0.0.0.0/0".into())),
            None,
        );
        assert_eq!(
            rules_text(&m),
            "all from sg-1\nicmp type 8 from 0.0.0.0/0\ntcp 22 from 1.2.3.4/32 \"admin \\\"ssh\\\"\"\n\
tcp 8000-8010 from 10.0.0.0/16\nudp 4789 from self\negress all to 0.0.0.0/0\n"
        );
    }
}
