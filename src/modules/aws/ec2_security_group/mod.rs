//! `ec2_security_group`: an EC2 security group with exactly the wanted ingress rules.
//!
//! The files: `rules` parses the `rules`/`rules_egress` options into normalized `Rule`s;
//! `plan` reads the group as it is and diffs it against the wanted rules and tags; `api` holds
//! the EC2 calls (the Describe* reads and the [`Apply`](crate::modules::Apply) actions) and the
//! conversions between rules and the EC2 API shape.

mod api;
mod plan;
mod rules;

use crate::error::Result;
use crate::modules::aws::client::{AwsOptions, EXCLUSIVE};
use crate::modules::{Args, Module, ModuleDoc, Options, Plan, TaskCtx, opt};
use crate::value::Value;
use async_trait::async_trait;

/// The `ec2_security_group` module (also `amazon.aws.ec2_security_group`).
pub struct Ec2SecurityGroup;

/// The same module under its old name `ec2_group` (`amazon.aws.ec2_group`).
pub struct Ec2Group;

static DOC_EC2_GROUP: ModuleDoc = SPEC.renamed("ec2_group", "Old name of ec2_security_group");

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

crate::options! {
    /// The `ec2_security_group` module's options.
    pub(crate) struct Opts {
        name: Option<String> = opt::str("Name of the group (unique within its VPC)."),
        group_id: Option<String> = opt::str("Id of an existing group (`sg-...`): manage or delete it by id."),
        description: Option<String> = opt::str("Description of the group, required to create it (AWS cannot change it later)."),
        vpc_id: Option<String> = opt::str("The VPC of the group. Default: the region's default VPC."),
        rules: Option<Value> = opt::list("Ingress rules: a list of {proto: tcp (default)|udp|icmp|icmpv6|all|-1|<number>, ports: [22, '8000-8010'] or from_port/to_port (or icmp_type/icmp_code), and sources: cidr_ip (str or list), cidr_ipv6, group_id, group_name (a group of the same VPC; the group's own name means itself; a missing one is created with the rule's group_desc), ip_prefix (a prefix list id); rule_desc}. icmp ports are the ICMP type and code (default -1, all)."),
        purge_rules: bool = opt::bool("Revoke ingress rules that are not in `rules`.").default("yes"),
        rules_egress: Option<Value> = opt::list("Egress (outbound) rules, written like `rules` (the sources are destinations). Absent: egress rules are left alone (a new group keeps EC2's allow-all egress rule); `[]` with purge_rules_egress removes them all.").aliases(&["egress_rules"]),
        purge_rules_egress: bool = opt::bool("With `rules_egress`, revoke egress rules that are not in it (including the default allow-all one).").default("yes").aliases(&["purge_egress_rules"]),
        tags: Option<Value> = opt::dict("Tags of the group (`Name: web`). Absent: tags are left alone.").aliases(&["resource_tags"]),
        purge_tags: bool = opt::bool("With `tags`, remove other tags (except `aws:` ones).").default("yes"),
        state: String = opt::str("Whether the group should exist.").default("present").choices(&["present", "absent"]),
    }
    groups { aws: AwsOptions }
}

static DOC: ModuleDoc = SPEC;

const SPEC: ModuleDoc = ModuleDoc::new(
    "ec2_security_group",
    "Manage an EC2 security group and its ingress rules",
)
.description(
    "Runs on the controller (use `delegate_to: localhost` or a play on localhost) and \
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
)
.spec::<Opts>()
.mutually_exclusive(EXCLUSIVE)
.required_one_of(&[&["name", "group_id"]])
.examples(
    "- name: Swarm security group\n  amazon.aws.ec2_security_group:\n    name: swarm\n    \
description: Docker swarm nodes\n    vpc_id: \"{{ vpc_id }}\"\n    region: eu-west-1\n    rules:\n      \
- proto: tcp\n        ports: [22]\n        cidr_ip: 203.0.113.0/24\n        rule_desc: admin ssh\n      \
- proto: tcp\n        ports: [2376, 2377, 7946]\n        group_name: swarm\n      \
- proto: udp\n        ports: [7946, 4789]\n        group_name: swarm\n      \
- proto: tcp\n        ports: [5432, 8008]\n        cidr_ip: 10.0.0.0/16\n  delegate_to: localhost\n  \
register: sg\n\n- ec2_security_group:\n    name: old\n    vpc_id: vpc-0123\n    state: absent\n    \
endpoint_url: http://localhost:5000   # moto / LocalStack",
);

#[async_trait]
impl Module for Ec2SecurityGroup {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn plan(&self, _ctx: &TaskCtx<'_>, args: &Args) -> Result<Plan> {
        plan::plan(Opts::from_args(args)?).await
    }
}
