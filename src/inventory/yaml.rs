//! The YAML inventory format, read like Ansible's `yaml` inventory plugin:
//!
//! ```yaml
//! all:
//!   hosts:
//!     web1:              # null: no host vars
//!     db[1:2]:2222:      # ranges and a port work in host keys
//!       ansible_user: admin
//!   vars: {ntp: pool.ntp.org}
//!   children:
//!     web:
//!       hosts: {web1: }
//!       children: {canary: }
//! ```
//!
//! Every top-level key is a group; a group is a mapping of `hosts`, `children` and `vars` (each a
//! mapping; a single string is also accepted, as Ansible does) or null.

use super::Inventory;
use super::range;
use crate::error::{Error, Location, Result, did_you_mean};
use crate::yaml::{Node, NodeValue};
use std::path::Path;

const SECTIONS: [&str; 3] = ["hosts", "children", "vars"];

/// Adds the inventory in the YAML document `doc` (read from `path`) to `inv`.
pub(crate) fn parse(inv: &mut Inventory, doc: &Node, path: &Path) -> Result<()> {
    let Some(map) = doc.as_map() else {
        if doc.is_null() {
            return Ok(());
        }
        return Err(Error::inventory(format!(
            "a YAML inventory must be a mapping of groups, found {}",
            doc.type_name()
        ))
        .at(&doc.loc)
        .hint("start with `all:` and put `hosts:`, `children:` and `vars:` under it"));
    };
    if let Some(p) = doc.get("plugin") {
        return Err(Error::inventory("this is an inventory plugin configuration, not a YAML inventory")
            .at(&p.loc)
            .hint("prov reads static INI and YAML inventories; export the plugin's result with `ansible-inventory --list -y`"));
    }
    for (k, v) in map {
        parse_group(inv, k, v, path, 0)?;
    }
    Ok(())
}

fn key_name(k: &Node) -> Result<String> {
    match &k.value {
        NodeValue::Seq(_) | NodeValue::Map(_) | NodeValue::Null => Err(Error::inventory(format!(
            "a name must be a string, found {}",
            k.type_name()
        ))
        .at(&k.loc)
        .hint("group and host names are plain strings")),
        _ => Ok(k.scalar_text().unwrap_or_default()),
    }
}

/// A section value: a mapping, null (empty), or a single string (one key with no value).
fn section_entries(sec: &str, group: &str, v: &Node) -> Result<Vec<(Node, Node)>> {
    match &v.value {
        NodeValue::Map(m) => Ok(m.clone()),
        NodeValue::Null => Ok(vec![]),
        NodeValue::Str(_) | NodeValue::Unsafe(_) => Ok(vec![(
            v.clone(),
            Node {
                value: NodeValue::Null,
                loc: v.loc.clone(),
            },
        )]),
        _ => {
            let example = match sec {
                "hosts" => "hosts:\n  web1:\n  web2:",
                "children" => "children:\n  web:\n  db:",
                _ => "vars:\n  name: value",
            };
            Err(Error::inventory(format!(
                "invalid `{sec}` entry for group `{group}`: it must be a mapping, found {}",
                v.type_name()
            ))
            .at(&v.loc)
            .hint(format!(
                "write it as a mapping (names followed by `:`), e.g.\n{example}"
            )))
        }
    }
}

fn parse_group(
    inv: &mut Inventory,
    key: &Node,
    data: &Node,
    path: &Path,
    depth: usize,
) -> Result<String> {
    let name = key_name(key)?;
    if depth > 200 {
        return Err(Error::inventory("groups are nested too deeply").at(&key.loc));
    }
    let entries = match &data.value {
        NodeValue::Map(m) => m.clone(),
        NodeValue::Null => vec![],
        _ => {
            return Err(Error::inventory(format!(
                "group `{name}` must be a mapping (with `hosts`, `children`, `vars`) or empty, found {}",
                data.type_name()
            ))
            .at(&data.loc)
            .hint("a YAML inventory looks like `all: {hosts: {web1: }, children: {web: {hosts: {web1: }}}}`"));
        }
    };
    inv.add_group(&name);
    for (k, v) in &entries {
        let sec = key_name(k)?;
        if !SECTIONS.contains(&sec.as_str()) {
            let mut w = format!(
                "{}:{}:{}: skipping unexpected key `{sec}` in group `{name}`, only \"vars\", \"children\" and \"hosts\" are valid",
                path.display(),
                k.loc.line,
                k.loc.col
            );
            if let Some(s) = did_you_mean(&sec, SECTIONS) {
                w.push_str(&format!(" (did you mean `{s}`?)"));
            }
            inv.warnings.push(w);
            continue;
        }
        let items = section_entries(&sec, &name, v)?;
        match sec.as_str() {
            "vars" => {
                for (vk, vv) in &items {
                    let var = key_name(vk)?;
                    inv.set_group_var(&name, &var, vv.to_value());
                }
            }
            "children" => {
                for (ck, cv) in &items {
                    let child = parse_group(inv, ck, cv, path, depth + 1)?;
                    inv.add_child(&name, &child).map_err(|msg| {
                        Error::inventory(msg)
                            .at(&ck.loc)
                            .hint("a group cannot be (directly or indirectly) a child of itself")
                    })?;
                }
            }
            _ => {
                for (hk, hv) in &items {
                    add_hosts(inv, &name, hk, hv, path)?;
                }
            }
        }
    }
    Ok(name)
}

fn add_hosts(inv: &mut Inventory, group: &str, hk: &Node, hv: &Node, path: &Path) -> Result<()> {
    let text = key_name(hk)?;
    // A number is not a host name (ansible-core's message).
    if matches!(hk.value, NodeValue::Int(_) | NodeValue::Float(_)) {
        return Err(Error::inventory(format!(
            "Host pattern {text} must be a string. Enclose integers/floats in quotation marks."
        ))
        .at(&hk.loc)
        .hint(format!("write `'{text}':`")));
    }
    let at = |off: usize| {
        let chars = text
            .char_indices()
            .take_while(|(i, c)| i + c.len_utf8() <= off)
            .count();
        Location::new(hk.loc.file.clone(), hk.loc.line, hk.loc.col + chars)
    };
    let (pattern, port) = range::split_port(&text)
        .map_err(|e| Error::inventory(e.msg).at(&at(e.offset)).hint(e.hint))?;
    let hosts = range::expand(&pattern)
        .map_err(|e| Error::inventory(e.msg).at(&at(e.offset)).hint(e.hint))?;
    if pattern.contains('[') {
        range::check_total(&pattern, inv.members.len(), hosts.len())
            .map_err(|e| Error::inventory(e.msg).at(&at(e.offset)).hint(e.hint))?;
    }
    let vars: Vec<(String, crate::value::Value)> = match &hv.value {
        NodeValue::Null => vec![],
        NodeValue::Map(m) => {
            let mut out = Vec::new();
            for (k, v) in m {
                out.push((key_name(k)?, v.to_value()));
            }
            out
        }
        _ => {
            return Err(Error::inventory(format!(
                "host `{text}` must have a mapping of variables or nothing, found {}",
                hv.type_name()
            ))
            .at(&hv.loc)
            .hint("write `web1:` alone, or `web1: {ansible_host: 10.0.0.1}`"));
        }
    };
    for h in hosts {
        inv.add_host(&h, group, path);
        if let Some(p) = port {
            inv.set_host_var(&h, "ansible_port", i64::from(p).into());
        }
        for (k, v) in &vars {
            inv.set_host_var(&h, k, v.clone());
        }
    }
    Ok(())
}
