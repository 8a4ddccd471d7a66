//! Task, block and play keywords, and the helpers that read keyword values (booleans, lists,
//! `vars:`, `become*`, `loop_control`, `module_defaults`).

use super::model::{BecomeOpts, LateFlag, LoopControl, Serial};
use crate::error::{Error, Result};
use crate::modules::canonical_name;
use crate::value::{Value, Vars};
use crate::yaml::{Node, NodeValue};

/// Keywords valid on a task.
pub const TASK_KEYWORDS: &[&str] = &[
    "name",
    "action",
    "local_action",
    "args",
    "async",
    "poll",
    "become",
    "become_exe",
    "become_flags",
    "become_method",
    "become_user",
    "changed_when",
    "check_mode",
    "collections",
    "connection",
    "debugger",
    "delay",
    "delegate_facts",
    "delegate_to",
    "diff",
    "environment",
    "failed_when",
    "ignore_errors",
    "ignore_unreachable",
    "loop",
    "loop_control",
    "module_defaults",
    "no_log",
    "notify",
    "port",
    "register",
    "remote_user",
    "retries",
    "run_once",
    "tags",
    "throttle",
    "timeout",
    "until",
    "vars",
    "when",
    "listen",
    "any_errors_fatal",
];

/// Keywords valid on a block (besides `block`, `rescue`, `always`).
pub(super) const BLOCK_KEYWORDS: &[&str] = &[
    "name",
    "become",
    "become_exe",
    "become_flags",
    "become_method",
    "become_user",
    "check_mode",
    "collections",
    "connection",
    "debugger",
    "delegate_facts",
    "delegate_to",
    "diff",
    "environment",
    "ignore_errors",
    "ignore_unreachable",
    "module_defaults",
    "no_log",
    "port",
    "remote_user",
    "run_once",
    "tags",
    "throttle",
    "timeout",
    "vars",
    "when",
    "any_errors_fatal",
    "block",
    "rescue",
    "always",
    "notify",
];

/// Keywords valid on a play.
pub(super) const PLAY_KEYWORDS: &[&str] = &[
    "name",
    "hosts",
    "vars",
    "vars_files",
    "vars_prompt",
    "gather_facts",
    "gather_subset",
    "gather_timeout",
    "fact_path",
    "become",
    "become_user",
    "become_method",
    "become_flags",
    "become_exe",
    "serial",
    "strategy",
    "pre_tasks",
    "tasks",
    "post_tasks",
    "handlers",
    "roles",
    "tags",
    "any_errors_fatal",
    "max_fail_percentage",
    "environment",
    "module_defaults",
    "connection",
    "remote_user",
    "port",
    "order",
    "force_handlers",
    "ignore_errors",
    "ignore_unreachable",
    "check_mode",
    "diff",
    "no_log",
    "run_once",
    "collections",
    "throttle",
    "timeout",
    "debugger",
];

/// Reads a `module_defaults` value: a mapping of module names (or `group/<name>`) to mappings
/// of options. A list of such mappings (Ansible allows it) is merged in order.
pub(super) fn module_defaults_of(n: &Node) -> Result<Value> {
    let maps: Vec<&Node> = match n.as_seq() {
        Some(items) => items.iter().collect(),
        None => vec![n],
    };
    let mut out: indexmap::IndexMap<String, Value> = indexmap::IndexMap::new();
    for m in maps {
        let entries = m.as_map().ok_or_else(|| {
            m.error("module_defaults must be a mapping of module names to their default options")
                .hint("e.g. module_defaults: { group/aws: { region: eu-west-1 }, apt: { update_cache: true } }")
        })?;
        for (k, v) in entries {
            let name = key_str(k)?;
            if v.as_map().is_none() {
                return Err(v
                    .error(format!(
                        "module_defaults for '{name}' must be a mapping of options"
                    ))
                    .hint(format!("e.g. {name}: {{ option: value }}")));
            }
            out.insert(name, v.to_value());
        }
    }
    Ok(Value::from_iter(out))
}

/// The modules of the action groups prov knows (`group/aws`, `group/docker`).
fn action_group(name: &str) -> &'static [&'static str] {
    match name.trim_start_matches("group/") {
        "aws" | "amazon.aws.aws" => &["ec2_security_group", "ec2_group", "ec2_instance_info"],
        "docker" | "community.docker.docker" => &[
            "docker_swarm",
            "docker_swarm_info",
            "docker_node",
            "docker_network",
            "docker_image",
            "docker_stack",
        ],
        _ => &[],
    }
}

/// The default options one `module_defaults` layer gives module `module` (canonical name):
/// its groups' first, then its own entry (by short or fully qualified name).
pub(super) fn defaults_for(layer: &Value, module: &str) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let Ok(keys) = layer.try_iter() else {
        return out;
    };
    let keys: Vec<Value> = keys.collect();
    let mut add = |v: Value| {
        if let Ok(opts) = v.try_iter() {
            for o in opts {
                let val = v.get_item(&o).unwrap_or_default();
                out.push((o.to_string(), val));
            }
        }
    };
    for k in keys.iter().filter_map(|k| k.as_str()) {
        if k.starts_with("group/") && action_group(k).contains(&module) {
            add(layer.get_attr(k).unwrap_or_default());
        }
    }
    for k in keys.iter().filter_map(|k| k.as_str()) {
        if !k.starts_with("group/") && canonical_name(k) == module {
            add(layer.get_attr(k).unwrap_or_default());
        }
    }
    out
}

/// The default options `module_defaults` layers (outermost first) give module `module`
/// (canonical name), later layers winning.
pub(crate) fn module_defaults_for(layers: &[Value], module: &str) -> Vars {
    let mut args = Vars::new();
    for layer in layers {
        for (k, v) in defaults_for(layer, module) {
            args.insert(k, v);
        }
    }
    args
}

pub(super) fn opt<'n>(node: &'n Node, key: &str) -> Option<&'n Node> {
    node.get(key)
}

pub(super) fn key_str(k: &Node) -> Result<String> {
    k.scalar_text()
        .ok_or_else(|| k.error("a key must be a string"))
}

/// A boolean keyword (YAML booleans and Ansible's yes/no strings).
pub fn bool_of(n: &Node) -> Result<bool> {
    match &n.value {
        NodeValue::Bool(b) => Ok(*b),
        NodeValue::Int(i) => Ok(*i != 0),
        // Ansible's boolean words; an empty value (a keyword templated to nothing) is false.
        NodeValue::Str(s) => match crate::value::boolean_word(s) {
            Some(b) => Ok(b),
            None if s.is_empty() => Ok(false),
            None => Err(n
                .error(format!("expected a boolean, got '{s}'"))
                .hint("use true or false")),
        },
        _ => Err(n.error(format!("expected a boolean, got {}", n.type_name()))),
    }
}

/// A boolean keyword of a task, block, role or play: its value, or `None` when it has none
/// (null) or only running the task can judge it (a template, or a value that is not a
/// boolean, as Ansible fails the task then), which is kept in `late` (replacing an earlier
/// one for the same keyword).
pub(super) fn flag_of(keyword: &'static str, n: &Node, late: &mut Vec<LateFlag>) -> Option<bool> {
    late.retain(|f| f.keyword != keyword);
    let fixed = match &n.value {
        NodeValue::Null => return None,
        NodeValue::Str(s) if crate::template::is_template(s) => None,
        _ => bool_of(n).ok(),
    };
    if fixed.is_none() {
        late.push(LateFlag {
            keyword,
            value: n.to_value(),
        });
    }
    fixed
}

/// A boolean keyword that may be a template (rendered when the task runs): the template as
/// written, or the boolean.
pub(super) fn bool_or_template(n: &Node) -> Result<Value> {
    match n.as_str() {
        Some(s) if crate::template::is_template(s) => Ok(Value::from(s)),
        _ => Ok(Value::from(bool_of(n)?)),
    }
}

/// `no_log`: a boolean, or a template (kept in `templates`, evaluated when the task runs).
pub(super) fn read_no_log(n: &Node, fixed: &mut bool, templates: &mut Vec<String>) -> Result<()> {
    match n.as_str() {
        Some(s) if crate::template::is_template(s) => templates.push(s.to_string()),
        _ => *fixed = bool_of(n)?,
    }
    Ok(())
}

pub(super) fn num_of(n: &Node) -> Result<f64> {
    match &n.value {
        NodeValue::Int(i) => Ok(*i as f64),
        NodeValue::Float(f) => Ok(*f),
        NodeValue::Str(s) => s
            .trim_end_matches('%')
            .parse()
            .map_err(|_| n.error(format!("expected a number, got '{s}'"))),
        _ => Err(n.error(format!("expected a number, got {}", n.type_name()))),
    }
}

pub(super) fn serial_of(n: &Node) -> Result<Serial> {
    match &n.value {
        NodeValue::Int(i) if *i > 0 => Ok(Serial::Count(*i as usize)),
        NodeValue::Str(s) if crate::template::is_template(s) => Ok(Serial::Template(s.clone())),
        NodeValue::Str(s) if s.ends_with('%') => s[..s.len() - 1]
            .trim()
            .parse()
            .map(Serial::Percent)
            .map_err(|_| n.error(format!("bad serial percentage '{s}'"))),
        NodeValue::Str(s) => s
            .parse()
            .map(Serial::Count)
            .map_err(|_| n.error(format!("bad serial value '{s}'"))),
        _ => Err(n.error("serial must be a positive number, a percentage or a list of them")),
    }
}

/// A string or list of strings.
pub fn str_list(n: &Node) -> Result<Vec<String>> {
    match &n.value {
        NodeValue::Seq(items) => items
            .iter()
            .map(|i| i.scalar_text().ok_or_else(|| i.error("expected a string")))
            .collect(),
        NodeValue::Null => Ok(vec![]),
        _ => {
            let s = n
                .scalar_text()
                .ok_or_else(|| n.error("expected a string or a list"))?;
            Ok(s.split(',')
                .map(|x| x.trim().to_string())
                .filter(|x| !x.is_empty())
                .collect())
        }
    }
}

pub(super) fn cond_list(n: &Node) -> Result<Vec<String>> {
    match &n.value {
        NodeValue::Seq(items) => items
            .iter()
            .map(|i| {
                i.scalar_text()
                    .ok_or_else(|| i.error("a condition must be a string"))
            })
            .collect(),
        NodeValue::Null => Ok(vec![]),
        _ => Ok(vec![
            n.scalar_text()
                .ok_or_else(|| n.error("a condition must be a string"))?,
        ]),
    }
}

/// A `vars:` mapping (or list of mappings) as [`Vars`].
pub fn vars_of(n: &Node) -> Result<Vars> {
    let mut out = Vars::new();
    match &n.value {
        NodeValue::Map(m) => {
            for (k, v) in m {
                out.insert(key_str(k)?, v.to_value());
            }
        }
        NodeValue::Seq(items) => {
            for i in items {
                out.extend(vars_of(i)?);
            }
        }
        NodeValue::Null => {}
        _ => return Err(n.error(format!("vars must be a mapping, not {}", n.type_name()))),
    }
    Ok(out)
}

pub(super) fn read_become(node: &Node, b: &mut BecomeOpts, late: &mut Vec<LateFlag>) -> Result<()> {
    if let Some(v) = node.get("become") {
        b.enabled = flag_of("become", v, late);
    }
    if let Some(v) = node.get("become_user") {
        b.user = v.scalar_text();
    }
    if let Some(v) = node.get("become_method") {
        let m = v.scalar_text().unwrap_or_default();
        if !matches!(m.as_str(), "sudo" | "su") {
            return Err(v
                .error(format!("become_method '{m}' is not supported"))
                .hint("prov supports sudo and su"));
        }
        b.method = Some(m);
    }
    if let Some(v) = node.get("become_flags") {
        b.flags = v.scalar_text();
    }
    if let Some(v) = node.get("become_exe") {
        b.exe = v.scalar_text();
    }
    Ok(())
}

pub(super) fn loop_control_of(n: &Node) -> Result<LoopControl> {
    let mut lc = LoopControl::default();
    let Some(m) = n.as_map() else {
        return Err(n.error("loop_control must be a mapping"));
    };
    for (k, v) in m {
        match key_str(k)?.as_str() {
            "loop_var" => lc.loop_var = v.scalar_text(),
            "index_var" => lc.index_var = v.scalar_text(),
            "label" => lc.label = Some(v.to_value()),
            "pause" => lc.pause = Some(num_of(v)?),
            "extended" => lc.extended = bool_of(v)?,
            "extended_allitems" => lc.extended_allitems = Some(bool_of(v)?),
            "break_when" => lc.break_when = cond_list(v)?,
            other => {
                return Err(k
                    .error(format!("'{other}' is not a loop_control option"))
                    .hint(
                        "valid: loop_var, index_var, label, pause, extended, \
                         extended_allitems, break_when",
                    ));
            }
        }
    }
    Ok(lc)
}

/// A variable name a task sets (a `set_fact` key, rendered; a `register` name): an ASCII identifier that is not
/// one of Jinja's reserved names, else Ansible's error naming it (and its type unless text).
pub(crate) fn variable_name(v: &Value) -> Result<String> {
    const RESERVED: &[&str] = &["true", "false", "none", "True", "False", "None", "not"];
    if let Some(s) = v.as_str() {
        let mut chars = s.chars();
        let ident = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if ident && !RESERVED.contains(&s) {
            return Ok(s.to_string());
        }
        return Err(Error::failed(format!("Invalid variable name '{s}'."))
            .hint("variable names start with a letter or underscore and hold only letters, digits and underscores"));
    }
    let shown = crate::template::filters::py_str(v);
    Err(Error::failed(format!(
        "Invalid variable name '{shown}' of type '{}'.",
        crate::util::python::type_name(v)
    ))
    .hint("variable names are strings"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn module_defaults_groups_then_module_entries() {
        let node = crate::yaml::load_str(
            "group/aws: { region: eu-west-1, profile: a }\n\
             amazon.aws.ec2_instance_info: { profile: b }\n\
             group/community.docker.docker: { timeout: 30 }\n",
            Path::new("t.yml"),
        )
        .unwrap();
        let layer = module_defaults_of(&node).unwrap();
        let get = |m: &str| -> Vec<(String, String)> {
            defaults_for(&layer, m)
                .into_iter()
                .map(|(k, v)| (k, v.to_string()))
                .collect()
        };
        // The module's own entry comes after (so wins over) its group's.
        assert_eq!(
            get("ec2_instance_info"),
            [
                ("region".to_string(), "eu-west-1".to_string()),
                ("profile".into(), "a".into()),
                ("profile".into(), "b".into())
            ]
        );
        assert_eq!(get("ec2_security_group").len(), 2);
        assert_eq!(
            get("docker_stack"),
            [("timeout".to_string(), "30".to_string())]
        );
        assert!(get("copy").is_empty());
    }
}
