//! Dynamic inventory scripts, run like Ansible's `script` inventory plugin: an executable file
//! starting with `#!` is run with `--list`; its standard output is JSON mapping group names to
//! either a list of hosts or `{"hosts": [...], "vars": {...}, "children": [...]}`, plus an
//! optional `_meta: {hostvars: {host: {...}}}`. Without `_meta`, the script is run once more per
//! host with `--host NAME` to get that host's variables.

use super::Inventory;
use crate::error::{Error, Result};
use crate::value::from_json;
use serde_json::Value as J;
use std::path::Path;
use std::process::{Command, Stdio};

fn run(path: &Path, args: &[&str]) -> Result<J> {
    let shown = format!("{} {}", path.display(), args.join(" "));
    let spawn = || Command::new(path).args(args).stdin(Stdio::null()).output();
    let mut result = spawn();
    // ETXTBSY: a just-written script can be briefly held open by a concurrent fork elsewhere
    // in this process; retry a few times.
    for _ in 0..5 {
        match &result {
            Err(e) if e.raw_os_error() == Some(26) => {
                std::thread::sleep(std::time::Duration::from_millis(20));
                result = spawn();
            }
            _ => break,
        }
    }
    let out = result.map_err(|e| {
        Error::inventory(format!("cannot run inventory script `{shown}`: {e}"))
            .hint("check that the script is executable and its interpreter (the #! line) exists")
    })?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let err: String = err.trim().chars().take(500).collect();
        return Err(Error::inventory(format!(
            "inventory script `{shown}` failed ({}){}",
            out.status,
            if err.is_empty() {
                String::new()
            } else {
                format!(": {err}")
            }
        ))
        .hint("run the script by hand with the same arguments to see what is wrong"));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| {
        Error::inventory(format!(
            "inventory script `{shown}` did not print valid JSON: {e}"
        ))
        .hint("a dynamic inventory script prints a JSON object of groups on standard output")
    })
}

fn shape_err(path: &Path, what: String) -> Error {
    Error::inventory(format!("inventory script {}: {what}", path.display())).hint(
        "each group is a list of hosts or {\"hosts\": [...], \"vars\": {...}, \"children\": [...]}",
    )
}

fn names(path: &Path, group: &str, key: &str, v: &J) -> Result<Vec<String>> {
    match v {
        J::Null => Ok(vec![]),
        J::Array(items) => items
            .iter()
            .map(|i| match i {
                J::String(s) => Ok(s.clone()),
                J::Number(n) => Ok(n.to_string()),
                other => Err(shape_err(
                    path,
                    format!("group `{group}`: `{key}` must list names, found {other}"),
                )),
            })
            .collect(),
        other => Err(shape_err(
            path,
            format!("group `{group}`: `{key}` must be a list, found {other}"),
        )),
    }
}

/// Runs the script at `path` and adds what it prints to `inv`.
pub(crate) fn parse(inv: &mut Inventory, path: &Path) -> Result<()> {
    let data = run(path, &["--list"])?;
    let J::Object(groups) = &data else {
        return Err(shape_err(
            path,
            "the output must be a JSON object of groups".into(),
        ));
    };
    let mut added: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (gname, gdata) in groups {
        if gname == "_meta" {
            continue;
        }
        inv.add_group(gname);
        let (hosts, vars, children) = match gdata {
            J::Array(_) => (names(path, gname, "hosts", gdata)?, None, vec![]),
            J::Object(m) => {
                for k in m.keys() {
                    if !matches!(k.as_str(), "hosts" | "vars" | "children") {
                        inv.warnings.push(format!(
                            "inventory script {}: skipping unexpected key `{k}` in group `{gname}`",
                            path.display()
                        ));
                    }
                }
                let hosts = names(path, gname, "hosts", m.get("hosts").unwrap_or(&J::Null))?;
                let children = names(
                    path,
                    gname,
                    "children",
                    m.get("children").unwrap_or(&J::Null),
                )?;
                let vars = match m.get("vars") {
                    None | Some(J::Null) => None,
                    Some(J::Object(v)) => Some(v),
                    Some(other) => {
                        return Err(shape_err(
                            path,
                            format!("group `{gname}`: `vars` must be an object, found {other}"),
                        ));
                    }
                };
                (hosts, vars, children)
            }
            other => {
                return Err(shape_err(
                    path,
                    format!("group `{gname}` must be a list or an object, found {other}"),
                ));
            }
        };
        for h in hosts {
            inv.add_host(&h, gname, path);
            if seen.insert(h.clone()) {
                added.push(h);
            }
        }
        if let Some(vars) = vars {
            for (k, v) in vars {
                inv.set_group_var(gname, k, from_json(v));
            }
        }
        for c in children {
            inv.add_child(gname, &c).map_err(|m| shape_err(path, m))?;
        }
    }
    let meta = groups.get("_meta").and_then(|m| m.get("hostvars"));
    for h in &added {
        let hv = match meta {
            Some(J::Object(all)) => all.get(h).cloned().unwrap_or(J::Null),
            Some(_) => {
                return Err(shape_err(path, "`_meta.hostvars` must be an object".into()));
            }
            None => run(path, &["--host", h])?,
        };
        match hv {
            J::Null => {}
            J::Object(vars) => {
                for (k, v) in &vars {
                    inv.set_host_var(h, k, from_json(v));
                }
            }
            other => {
                return Err(shape_err(
                    path,
                    format!("the variables of host `{h}` must be an object, found {other}"),
                ));
            }
        }
    }
    Ok(())
}
