//! What `prov check` knows of a fallback module's options: its `DOCUMENTATION` (the YAML in the
//! Python file, with the `extends_documentation_fragment` fragments it names), turned into a
//! [`ModuleDoc`] so the same validation as for native modules applies (unknown options,
//! required ones, choices), with Ansible's messages.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use minijinja::value::{Value, ValueKind};

use super::lookup::{Found, collection_roots, core};
use crate::modules::{ModuleDoc, OptKind, OptSpec};

/// The `DOCUMENTATION` YAML of a Python plugin or module's source (the first
/// `DOCUMENTATION = r"""..."""` or `'''...'''` string), parsed; `None` when it has none or it
/// does not parse.
pub fn documentation(source: &str, file: &Path) -> Option<Value> {
    documentation_named(source, "DOCUMENTATION", file)
}

/// The YAML string assigned to `name` in Python source, parsed.
fn documentation_named(source: &str, name: &str, file: &Path) -> Option<Value> {
    let re = regex::Regex::new(&format!(
        r#"(?s)(?:^|\n)\s*{name}\s*=\s*[rRuU]?(?:"""(.*?)"""|'''(.*?)''')"#
    ))
    .ok()?;
    let text = re.captures(source)?;
    let text = text.get(1).or_else(|| text.get(2))?.as_str();
    Some(crate::yaml::load_str(text, file).ok()?.to_value())
}

/// The option spec of a fallback module from its documentation, built once per module file
/// (and kept for the process); `None` when the module documents no options, or names a
/// documentation fragment prov cannot find (its options would be incomplete).
pub fn module_doc(found: &Found) -> Option<&'static ModuleDoc> {
    static CACHE: OnceLock<Mutex<BTreeMap<PathBuf, Option<&'static ModuleDoc>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
    *cache
        .entry(found.path.clone())
        .or_insert_with(|| build(found).map(|d| &*Box::leak(Box::new(d))))
}

fn build(found: &Found) -> Option<ModuleDoc> {
    let source = std::fs::read_to_string(&found.path).ok()?;
    let doc = documentation(&source, &found.path)?;
    let mut options: BTreeMap<String, Value> = BTreeMap::new();
    let own = doc
        .get_attr("options")
        .ok()
        .filter(|o| o.kind() == ValueKind::Map);
    let fragments = match doc.get_attr("extends_documentation_fragment") {
        Ok(v) if v.kind() == ValueKind::Seq => v
            .try_iter()
            .ok()?
            .map(|f| f.to_string())
            .collect::<Vec<_>>(),
        Ok(v) if v.kind() == ValueKind::String => vec![v.to_string()],
        _ => vec![],
    };
    for f in &fragments {
        let frag = fragment(f, &found.name)?;
        if let Ok(o) = frag.get_attr("options")
            && o.kind() == ValueKind::Map
        {
            for k in o.try_iter().ok()? {
                options.insert(k.to_string(), o.get_item(&k).unwrap_or_default());
            }
        }
    }
    if let Some(o) = &own {
        for k in o.try_iter().ok()? {
            options.insert(k.to_string(), o.get_item(&k).unwrap_or_default());
        }
    }
    if options.is_empty() && own.is_none() {
        return None;
    }
    let specs: Vec<OptSpec> = options.iter().map(|(k, o)| spec(k, o)).collect();
    let name: &'static str = leak(found.name.clone());
    let short = doc
        .get_attr("short_description")
        .ok()
        .map(|v| text(&v))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "an Ansible module".into());
    let description = doc
        .get_attr("description")
        .map(|v| text(&v))
        .unwrap_or_default();
    Some(
        ModuleDoc::new(name, leak(short))
            .description(leak(description))
            .options(Box::leak(specs.into_boxed_slice())),
    )
}

/// A documentation text: a string, or a list of paragraphs.
fn text(v: &Value) -> String {
    strings(v.clone()).join("\n")
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

fn strings(v: Value) -> Vec<String> {
    match v.kind() {
        ValueKind::Seq => v
            .try_iter()
            .map(|i| i.map(|x| x.to_string()).collect())
            .unwrap_or_default(),
        ValueKind::String | ValueKind::Number | ValueKind::Bool => vec![v.to_string()],
        _ => vec![],
    }
}

fn leak_list(v: Vec<String>) -> &'static [&'static str] {
    Box::leak(
        v.into_iter()
            .map(leak)
            .collect::<Vec<_>>()
            .into_boxed_slice(),
    )
}

/// One documented option as prov's spec: its type, `required`, `choices` (only when every
/// choice is a string, as they are compared as text) and `aliases`. Defaults are left to the
/// module.
fn spec(name: &str, o: &Value) -> OptSpec {
    let attr = |k: &str| {
        o.get_attr(k)
            .ok()
            .filter(|v| !v.is_undefined() && !v.is_none())
    };
    let kind = match attr("type").map(|t| t.to_string()).as_deref() {
        Some("bool") => OptKind::Bool,
        Some("int") => OptKind::Int,
        Some("float") => OptKind::Float,
        Some("list") => OptKind::List,
        Some("dict") => OptKind::Dict,
        Some("path") => OptKind::Path,
        Some("str") | None => OptKind::Str,
        // raw, jsonarg, json, bytes, bits, sid: whatever Ansible converts
        Some(_) => OptKind::Any,
    };
    let doc = attr("description")
        .map(|d| strings(d).join(" "))
        .unwrap_or_default();
    let mut s = OptSpec::new(leak(name.to_string()), kind, leak(doc));
    if attr("required").is_some_and(|r| r.is_true()) {
        s = s.required();
    }
    if let Some(c) = attr("choices")
        && c.kind() == ValueKind::Seq
        && c.try_iter()
            .is_ok_and(|mut i| i.all(|x| x.kind() == ValueKind::String))
    {
        s = s.choices(leak_list(strings(c)));
    }
    if let Some(a) = attr("aliases") {
        s = s.aliases(leak_list(strings(a)));
    }
    s
}

/// A documentation fragment by the name a module gives it: `files`, `ansible.builtin.files`,
/// `ns.coll.name`, each optionally `.VARIABLE` (another YAML string of the fragment's class
/// than `DOCUMENTATION`). A short name in a collection's module is that collection's first.
fn fragment(name: &str, module: &str) -> Option<Value> {
    let parts: Vec<&str> = name.split('.').collect();
    // (collection or None for ansible-core, fragment file, variable)
    let mut tries: Vec<(Option<String>, String, String)> = Vec::new();
    let var_of = |v: Option<&&str>| {
        v.map(|v| v.to_uppercase())
            .unwrap_or("DOCUMENTATION".into())
    };
    match parts.as_slice() {
        ["ansible", "builtin", f, rest @ ..] => {
            tries.push((None, f.to_string(), var_of(rest.first())))
        }
        [ns, coll, f, rest @ ..] => tries.push((
            Some(format!("{ns}/{coll}")),
            f.to_string(),
            var_of(rest.first()),
        )),
        [f, rest @ ..] => {
            let mparts: Vec<&str> = module.split('.').collect();
            if mparts.len() > 2 && mparts[..2] != ["ansible", "builtin"] {
                tries.push((
                    Some(format!("{}/{}", mparts[0], mparts[1])),
                    f.to_string(),
                    var_of(rest.first()),
                ));
            }
            tries.push((None, f.to_string(), var_of(rest.first())));
        }
        [] => return None,
    }
    for (coll, file, var) in tries {
        let candidates: Vec<PathBuf> = match &coll {
            None => core()
                .map(|c| {
                    vec![
                        c.dir
                            .join("plugins/doc_fragments")
                            .join(format!("{file}.py")),
                    ]
                })
                .unwrap_or_default(),
            Some(c) => collection_roots()
                .into_iter()
                .map(|r| {
                    r.join("ansible_collections")
                        .join(c)
                        .join("plugins/doc_fragments")
                        .join(format!("{file}.py"))
                })
                .collect(),
        };
        for path in candidates {
            if let Ok(src) = std::fs::read_to_string(&path) {
                return documentation_named(&src, &var, &path);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_options_become_a_spec() {
        let dir = std::env::temp_dir().join(format!("prov-docs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("thing.py");
        std::fs::write(
            &path,
            "#!/usr/bin/python\nDOCUMENTATION = r'''\nmodule: thing\noptions:\n  path:\n    type: path\n    required: true\n    aliases: [dest]\n  state:\n    choices: [present, absent]\n  count:\n    type: int\n'''\nEXAMPLES = '''\n- thing: path=/x\n'''\n",
        )
        .unwrap();
        let found = Found {
            name: "thing".into(),
            path: path.clone(),
            fqn: "ansible.legacy.thing".into(),
        };
        let doc = module_doc(&found).expect("a spec");
        let path_opt = doc.option("path").unwrap();
        assert!(path_opt.required && path_opt.aliases == ["dest"]);
        assert_eq!(doc.option("state").unwrap().choices, ["present", "absent"]);
        assert_eq!(doc.option("count").unwrap().kind, OptKind::Int);
        // A fragment prov cannot find leaves the options unknown (no false errors).
        let other = dir.join("other.py");
        std::fs::write(
            &other,
            "DOCUMENTATION = '''\nextends_documentation_fragment: [no.such.fragment]\noptions:\n  a: {}\n'''\n",
        )
        .unwrap();
        let found = Found {
            name: "other".into(),
            path: other,
            fqn: "ansible.legacy.other".into(),
        };
        assert!(module_doc(&found).is_none());
        std::fs::remove_dir_all(&dir).ok();
    }
}
