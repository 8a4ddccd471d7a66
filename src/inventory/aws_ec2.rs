//! The EC2 dynamic inventory: a file named `*aws_ec2.yml` / `*aws_ec2.yaml` with `plugin:
//! amazon.aws.aws_ec2`, read as Ansible's plugin reads it. Its instances (DescribeInstances in
//! each of `regions`, with `filters`) become hosts named by the first of `hostnames` that gives
//! a value, with the instance's variables (`instance_id`, `private_ip_address`, `tags`,
//! `placement`, ...), in group `aws_ec2`, plus `groups` (conditions), `keyed_groups` and
//! `compose` (Jinja expressions over those variables); `strict` makes a bad expression an error.
//! The SDK's credential chain applies; `endpoint_url` (or `AWS_ENDPOINT_URL`) reaches an
//! emulator.

use super::Inventory;
use crate::error::{Error, Result};
use crate::value::{Value, Vars, from_json};
use crate::yaml::Node;
use std::path::Path;

/// Whether a YAML inventory file is an aws_ec2 plugin configuration.
pub fn is_config(path: &Path, node: &Node) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    (name.ends_with("aws_ec2.yml") || name.ends_with("aws_ec2.yaml"))
        && node
            .get("plugin")
            .and_then(Node::as_str)
            .is_some_and(|p| p == "amazon.aws.aws_ec2" || p == "aws_ec2")
}

/// Reads the plugin configuration and adds its instances to `inv`.
pub fn parse(inv: &mut Inventory, node: &Node, path: &Path) -> Result<()> {
    let cfg = node.to_value();
    let strict = cfg.get_attr("strict").is_ok_and(|v| v.is_true());
    let regions: Vec<String> = list(&cfg, "regions");
    let endpoint = cfg
        .get_attr("endpoint_url")
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_none())
        .map(|v| v.to_string());
    let filters = cfg.get_attr("filters").ok().filter(|v| !v.is_undefined());
    let filters = crate::modules::aws::ec2_instance_info::filters_of(filters.as_ref())?;
    let instances = fetch(&regions, endpoint, filters, path)?;
    let hostnames = hostname_prefs(&cfg);
    let templar = crate::template::Templar::new();
    for (region, inst) in instances {
        let mut vars: Vars = match from_json(&inst) {
            v if v.kind() == minijinja::value::ValueKind::Map => crate::value::value_to_vars(&v),
            _ => Vars::new(),
        };
        // `placement.region`, as the plugin adds it
        if let Some(p) = inst.get("placement") {
            let mut p = p.clone();
            p["region"] = serde_json::Value::from(region.as_str());
            vars.insert("placement".into(), from_json(&p));
        }
        let Some(name) = hostname_of(&inst, &hostnames) else {
            continue;
        };
        inv.add_runtime_host(&name, &["aws_ec2".to_string()], &vars)?;
        let ctx = crate::template::Context::new(&templar, vec![std::sync::Arc::new(vars.clone())]);
        let render = |expr: &str| -> Result<Value> {
            templar.render_str(&format!("{{{{ {expr} }}}}"), &ctx)
        };
        let fail = |what: &str, e: Error| -> Result<()> {
            if strict {
                Err(Error::inventory(format!(
                    "{}: {what} for host {name}: {}",
                    path.display(),
                    e.msg
                ))
                .hint("fix the expression, or set `strict: false` to skip what cannot be rendered"))
            } else {
                Ok(())
            }
        };
        // compose: variables from expressions
        let mut composed = Vars::new();
        for (var, expr) in pairs(&cfg, "compose") {
            match render(&expr) {
                Ok(v) => {
                    composed.insert(var, v);
                }
                Err(e) => fail(&format!("compose `{var}`"), e)?,
            }
        }
        if !composed.is_empty() {
            inv.add_runtime_host(&name, &[], &composed)?;
        }
        // groups: conditions
        for (group, cond) in pairs(&cfg, "groups") {
            match render(&cond) {
                Ok(v) if v.is_true() => {
                    inv.add_to_group(&name, &sanitize(&group), &[])?;
                }
                Ok(_) => {}
                Err(e) => fail(&format!("group `{group}`"), e)?,
            }
        }
        // keyed_groups: one group per value of an expression
        for kg in cfg
            .get_attr("keyed_groups")
            .ok()
            .and_then(|v| v.try_iter().ok().map(|i| i.collect::<Vec<_>>()))
            .unwrap_or_default()
        {
            let field = |k: &str| {
                kg.get_attr(k)
                    .ok()
                    .filter(|v| !v.is_undefined() && !v.is_none())
                    .map(|v| v.to_string())
            };
            let Some(key) = field("key") else { continue };
            let prefix = field("prefix").unwrap_or_default();
            let sep = field("separator").unwrap_or_else(|| "_".into());
            let parent = field("parent_group").map(|p| sanitize(&p));
            let v = match render(&key) {
                Ok(v) if !v.is_undefined() && !v.is_none() => v,
                Ok(_) => match field("default_value") {
                    Some(d) => Value::from(d),
                    None => continue,
                },
                Err(e) => {
                    fail(&format!("keyed group `{key}`"), e)?;
                    continue;
                }
            };
            let names: Vec<String> = match v.kind() {
                minijinja::value::ValueKind::Map => v
                    .try_iter()
                    .map(|it| {
                        it.map(|k| {
                            let val = v.get_item(&k).unwrap_or_default();
                            format!("{k}{sep}{}", crate::modules::args::value_str(&val))
                        })
                        .collect()
                    })
                    .unwrap_or_default(),
                minijinja::value::ValueKind::Seq => v
                    .try_iter()
                    .map(|it| it.map(|x| crate::modules::args::value_str(&x)).collect())
                    .unwrap_or_default(),
                _ => vec![crate::modules::args::value_str(&v)],
            };
            for n in names {
                let g = if prefix.is_empty() {
                    // Ansible: no prefix gives `_value` unless `leading_separator: false`
                    if kg
                        .get_attr("leading_separator")
                        .is_ok_and(|l| !l.is_undefined() && !l.is_true())
                    {
                        n
                    } else {
                        format!("{sep}{n}")
                    }
                } else {
                    format!("{prefix}{sep}{n}")
                };
                let parents: Vec<String> = parent.iter().cloned().collect();
                inv.add_to_group(&name, &sanitize(&g), &parents)?;
            }
        }
    }
    Ok(())
}

/// Ansible's group name rule: characters other than letters, digits and `_` become `_`.
fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn list(cfg: &Value, key: &str) -> Vec<String> {
    match cfg.get_attr(key) {
        Ok(v) if v.kind() == minijinja::value::ValueKind::Seq => v
            .try_iter()
            .map(|i| i.map(|x| x.to_string()).collect())
            .unwrap_or_default(),
        Ok(v) if v.kind() == minijinja::value::ValueKind::String => vec![v.to_string()],
        _ => vec![],
    }
}

fn pairs(cfg: &Value, key: &str) -> Vec<(String, String)> {
    let Ok(m) = cfg.get_attr(key) else {
        return vec![];
    };
    if m.kind() != minijinja::value::ValueKind::Map {
        return vec![];
    }
    m.try_iter()
        .map(|it| {
            it.map(|k| {
                (
                    k.to_string(),
                    m.get_item(&k).unwrap_or_default().to_string(),
                )
            })
            .collect()
        })
        .unwrap_or_default()
}

/// The `hostnames` preferences: names (`tag:Name`, `private-ip-address`, `dns-name`, ...) or
/// `{name, prefix, separator}` mappings. Ansible's default: public then private DNS name.
fn hostname_prefs(cfg: &Value) -> Vec<(String, Option<String>, String)> {
    let mut out = Vec::new();
    if let Ok(v) = cfg.get_attr("hostnames")
        && let Ok(it) = v.try_iter()
    {
        for h in it {
            if h.kind() == minijinja::value::ValueKind::Map {
                let f = |k: &str| {
                    h.get_attr(k)
                        .ok()
                        .filter(|v| !v.is_undefined() && !v.is_none())
                        .map(|v| v.to_string())
                };
                if let Some(n) = f("name") {
                    out.push((n, f("prefix"), f("separator").unwrap_or_else(|| "_".into())));
                }
            } else {
                out.push((h.to_string(), None, "_".into()));
            }
        }
    }
    if out.is_empty() {
        out.push(("dns-name".into(), None, "_".into()));
        out.push(("private-dns-name".into(), None, "_".into()));
    }
    out
}

/// The value an instance gives a hostname preference, if any.
fn preference(inst: &serde_json::Value, pref: &str) -> Option<String> {
    let s = |v: Option<&serde_json::Value>| {
        v.and_then(|x| x.as_str())
            .filter(|x| !x.is_empty())
            .map(String::from)
    };
    if let Some(tag) = pref.strip_prefix("tag:") {
        let tags = inst.get("tags")?;
        return match tag.split_once('=') {
            // `tag:Name=web`: the tag's value when it is that value
            Some((k, want)) => (tags.get(k)?.as_str()? == want).then(|| want.to_string()),
            None => s(tags.get(tag)),
        };
    }
    let key = match pref {
        "ip-address" | "public-ip-address" => "public_ip_address",
        "dns-name" | "public-dns-name" => "public_dns_name",
        "private-ip-address" => "private_ip_address",
        "private-dns-name" => "private_dns_name",
        "instance-id" => "instance_id",
        other => return s(inst.get(other.replace('-', "_"))),
    };
    s(inst.get(key))
}

fn hostname_of(
    inst: &serde_json::Value,
    prefs: &[(String, Option<String>, String)],
) -> Option<String> {
    for (name, prefix, sep) in prefs {
        if let Some(v) = preference(inst, name) {
            return Some(match prefix {
                Some(p) => match preference(inst, p) {
                    Some(pv) => format!("{pv}{sep}{v}"),
                    None => v,
                },
                None => v,
            });
        }
    }
    None
}

/// The instances of every region (with the region), read on a thread of its own (the
/// inventory loads outside the run's async runtime).
fn fetch(
    regions: &[String],
    endpoint: Option<String>,
    filters: Vec<aws_sdk_ec2::types::Filter>,
    path: &Path,
) -> Result<Vec<(String, serde_json::Value)>> {
    let regions: Vec<Option<String>> = if regions.is_empty() {
        vec![None]
    } else {
        regions.iter().cloned().map(Some).collect()
    };
    let path = path.to_path_buf();
    std::thread::scope(|s| {
        s.spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| Error::other(format!("cannot start the AWS client: {e}")))?;
            rt.block_on(async move {
                let mut out = Vec::new();
                for region in regions {
                    let opts = crate::modules::aws::client::AwsOpts {
                        region: region.clone(),
                        endpoint_url: endpoint.clone(),
                        ..Default::default()
                    };
                    let client = crate::modules::aws::client::ec2_client(&opts)
                        .await
                        .map_err(|e| {
                            Error::inventory(format!("{}: {}", path.display(), e.msg))
                                .hint(e.hint.clone().unwrap_or_default())
                        })?;
                    let mut pages = client
                        .describe_instances()
                        .set_filters(Some(filters.clone()))
                        .into_paginator()
                        .send();
                    let region_name = region.clone().unwrap_or_else(|| {
                        std::env::var("AWS_REGION")
                            .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
                            .unwrap_or_default()
                    });
                    while let Some(page) = pages.next().await {
                        let page = page.map_err(|e| {
                            crate::modules::aws::client::aws_error("DescribeInstances", &opts, e)
                        })?;
                        for r in page.reservations() {
                            for i in r.instances() {
                                out.push((
                                    region_name.clone(),
                                    crate::modules::aws::ec2_instance_info::instance_json(i),
                                ));
                            }
                        }
                    }
                }
                Ok(out)
            })
        })
        .join()
        .map_err(|_| Error::other("the AWS inventory thread panicked"))?
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hostnames_follow_the_preferences() {
        let i = json!({"instance_id": "i-1", "private_ip_address": "10.0.0.5",
            "public_dns_name": "", "tags": {"Name": "db1", "Role": "db"}});
        let p = |v: &[&str]| -> Vec<(String, Option<String>, String)> {
            v.iter()
                .map(|s| (s.to_string(), None, "_".into()))
                .collect()
        };
        assert_eq!(
            hostname_of(&i, &p(&["dns-name", "tag:Name"])).as_deref(),
            Some("db1")
        );
        assert_eq!(
            hostname_of(&i, &p(&["private-ip-address"])).as_deref(),
            Some("10.0.0.5")
        );
        assert_eq!(
            hostname_of(&i, &p(&["tag:Role=web", "instance-id"])).as_deref(),
            Some("i-1")
        );
        assert_eq!(hostname_of(&i, &p(&["dns-name"])), None);
        let prefixed = vec![(
            "tag:Name".to_string(),
            Some("instance-id".to_string()),
            "-".to_string(),
        )];
        assert_eq!(hostname_of(&i, &prefixed).as_deref(), Some("i-1-db1"));
        assert_eq!(sanitize("tag_Role-db.x"), "tag_Role_db_x");
    }
}
