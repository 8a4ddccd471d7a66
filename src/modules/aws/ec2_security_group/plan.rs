//! The plan: the group as it is (read from EC2) against the wanted rules and tags, as one
//! change per API call, with the sorted rule list before/after as the diff.

use super::api::{
    ChangeRule, ChangeTags, CreateGroup, DeleteGroup, GroupCell, Pending, RuleOp, current_rules,
    group_by_id, groups_named, pending_key, permissions_value, resolve_vpc, tags_of,
};
use super::rules::{Rule, Source, SourceSpec, parse_rules};
use super::{CHECK_MODE_GROUP_ID, Opts};
use crate::error::{Error, Result};
use crate::modules::args::value_str;
use crate::modules::aws::client::{AwsOpts, ec2_client};
use crate::modules::{Action, Diff, Plan};
use crate::value::{Value, value_to_vars};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

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

fn tags_value(tags: &BTreeMap<String, String>) -> Value {
    Value::from_iter(
        tags.iter()
            .map(|(k, v)| (Value::from(k.as_str()), Value::from(v.as_str()))),
    )
}

/// Plans the task: finds the group (by `group_id`, or by `name` in `vpc_id`), resolves the
/// wanted rules' source groups, and diffs rules and tags against what EC2 has.
pub(super) async fn plan(o: Opts) -> Result<Plan> {
    let opts = AwsOpts::from(&o.aws);
    let name = o.name.filter(|s| !s.is_empty());
    let gid = o.group_id.filter(|s| !s.is_empty());
    let vpc_opt = o.vpc_id.filter(|s| !s.is_empty());
    let present = o.state != "absent";
    let (purge, purge_egress) = (o.purge_rules, o.purge_rules_egress);
    // Egress rules are managed only when rules_egress is given.
    let with_egress = present && o.rules_egress.is_some();
    // Validate everything that needs no API call first.
    let mut specs = Vec::new();
    if present {
        specs = parse_rules(o.rules.as_ref(), false)?;
        specs.extend(parse_rules(o.rules_egress.as_ref(), true)?);
    }
    let want_tags: Option<BTreeMap<String, String>> = o.tags.as_ref().map(|t| {
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
        None => o.description.filter(|d| !d.is_empty()).ok_or_else(|| {
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
                        let s =
                            match (found.first().and_then(|g| g.group_id()), &spec.group_desc) {
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
    let purge_tags = o.purge_tags;
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

#[cfg(test)]
mod tests {
    use super::*;

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
