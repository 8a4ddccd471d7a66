//! The payload a Python module runs from on the host: a zip of the module and every
//! `module_utils` file it imports (followed through their own imports), from ansible-core's
//! package on the controller, the `module_utils/` folders next to playbooks and roles, and the
//! installed collections. Built once per module per run.

use super::lookup::{self, Core, Found};
use crate::error::{Error, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

/// A built payload.
#[derive(Debug)]
pub struct Payload {
    /// The zip file's bytes.
    pub zip: Vec<u8>,
    /// Files it holds (their paths in the zip), for tests and `-vvv`.
    pub files: Vec<String>,
    /// The zip's SHA-256 (hex): its name where a host keeps it for the rest of the run.
    pub sha256: String,
}

/// The payload of `found`, built on first use and kept for the rest of the run.
pub fn payload(found: &Found) -> Result<Arc<Payload>> {
    static CACHE: OnceLock<Mutex<BTreeMap<PathBuf, Arc<Payload>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(p) = cache
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&found.path)
    {
        return Ok(p.clone());
    }
    let p = Arc::new(build(found)?);
    cache
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(found.path.clone(), p.clone());
    Ok(p)
}

/// An import found in Python source: a dotted name, and whether it may be an attribute of
/// its parent instead of a module (`from a.b import c`: `a.b.c` may be a function).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Import {
    pub name: Vec<String>,
    pub maybe_attr: bool,
}

/// The Python source's logical lines (parenthesised and backslash continuations joined,
/// comments dropped), outside triple-quoted strings.
pub(crate) fn logical_lines(src: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0i32;
    let mut in_triple: Option<&str> = None;
    for line in src.lines() {
        let mut l = line;
        if let Some(q) = in_triple {
            match l.find(q) {
                Some(i) => {
                    in_triple = None;
                    l = &l[i + 3..];
                }
                None => continue,
            }
        }
        // Drop a comment and any triple-quoted string that starts on this line.
        let mut text = String::new();
        let mut rest = l;
        loop {
            let tq = ["\"\"\"", "'''"]
                .iter()
                .filter_map(|q| rest.find(q).map(|i| (i, *q)))
                .min();
            let hash = rest.find('#');
            match (tq, hash) {
                (Some((i, _)), Some(h)) if h < i => {
                    text.push_str(&rest[..h]);
                    break;
                }
                (Some((i, q)), _) => {
                    text.push_str(&rest[..i]);
                    let after = &rest[i + 3..];
                    match after.find(q) {
                        Some(j) => rest = &after[j + 3..],
                        None => {
                            in_triple = Some(q);
                            break;
                        }
                    }
                }
                (None, Some(h)) => {
                    text.push_str(&rest[..h]);
                    break;
                }
                (None, None) => {
                    text.push_str(rest);
                    break;
                }
            }
        }
        let t = text.trim_end();
        let (t, cont) = match t.strip_suffix('\\') {
            Some(x) => (x, true),
            None => (t, false),
        };
        depth += t.matches('(').count() as i32 - t.matches(')').count() as i32;
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(t.trim());
        if depth <= 0 && !cont {
            depth = 0;
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The imports of Python `src`, whose package is `package` (for relative imports).
pub(crate) fn imports(src: &str, package: &[String]) -> Vec<Import> {
    let mut out = Vec::new();
    for line in logical_lines(src) {
        for stmt in line.split(';') {
            let stmt = stmt.trim();
            if let Some(rest) = stmt.strip_prefix("import ") {
                for item in rest.split(',') {
                    let name = item.split_whitespace().next().unwrap_or("");
                    if !name.is_empty() {
                        out.push(Import {
                            name: name.split('.').map(String::from).collect(),
                            maybe_attr: false,
                        });
                    }
                }
            } else if let Some(rest) = stmt.strip_prefix("from ") {
                let Some((module, names)) = rest.split_once(" import ") else {
                    continue;
                };
                let module = module.trim();
                let dots = module.chars().take_while(|c| *c == '.').count();
                let mut base: Vec<String> = if dots > 0 {
                    if dots > package.len() {
                        continue;
                    }
                    package[..package.len() + 1 - dots].to_vec()
                } else {
                    vec![]
                };
                base.extend(
                    module[dots..]
                        .split('.')
                        .filter(|s| !s.is_empty())
                        .map(String::from),
                );
                if base.is_empty() {
                    continue;
                }
                out.push(Import {
                    name: base.clone(),
                    maybe_attr: false,
                });
                let names = names.trim().trim_start_matches('(').trim_end_matches(')');
                for item in names.split(',') {
                    let n = item.split_whitespace().next().unwrap_or("");
                    if n.is_empty() || n == "*" {
                        continue;
                    }
                    let mut full = base.clone();
                    full.push(n.to_string());
                    out.push(Import {
                        name: full,
                        maybe_attr: true,
                    });
                }
            }
        }
    }
    out
}

/// Where the files of `ansible.module_utils.*` and collections' `module_utils` are read from.
struct Sources {
    /// Extra `module_utils` folders (next to playbooks and roles), before ansible-core's.
    mu_dirs: Vec<PathBuf>,
    core: Option<Core>,
    roots: Vec<PathBuf>,
}

impl Sources {
    /// The file of Python module `name` (and whether it is a package's `__init__.py`).
    fn file(&self, name: &[String]) -> Option<(PathBuf, bool)> {
        let at = |dir: PathBuf, rest: &[String]| -> Option<(PathBuf, bool)> {
            let mut p = dir;
            for s in rest {
                p = p.join(s);
            }
            let init = p.join("__init__.py");
            if !rest.is_empty() {
                let py = p.with_extension("py");
                if py.is_file() {
                    return Some((py, false));
                }
            }
            init.is_file().then_some((init, true))
        };
        let parts: Vec<&str> = name.iter().map(String::as_str).collect();
        match parts.as_slice() {
            ["ansible", "module_utils", ..] => {
                let rest: Vec<String> = name[2..].to_vec();
                if !rest.is_empty() {
                    for d in &self.mu_dirs {
                        if let Some(f) = at(d.clone(), &rest) {
                            return Some(f);
                        }
                    }
                }
                at(self.core.as_ref()?.module_utils(), &rest)
            }
            [
                "ansible_collections",
                ns,
                coll,
                "plugins",
                "module_utils",
                ..,
            ] => {
                let rest_owned: Vec<String> = name[5..].to_vec();
                for r in &self.roots {
                    let d = r
                        .join("ansible_collections")
                        .join(ns)
                        .join(coll)
                        .join("plugins/module_utils");
                    if d.is_dir() {
                        return at(d, &rest_owned);
                    }
                }
                None
            }
            _ => None,
        }
    }
}

/// Whether a dotted name is one the payload carries (module_utils code).
fn wanted(name: &[String]) -> bool {
    let p: Vec<&str> = name.iter().map(String::as_str).collect();
    matches!(p.as_slice(), ["ansible", "module_utils", ..])
        || matches!(
            p.as_slice(),
            ["ansible_collections", _, _, "plugins", "module_utils", ..]
        )
}

/// The zip path of Python module `name`.
fn zip_path(name: &[String], is_pkg: bool) -> String {
    if is_pkg {
        format!("{}/__init__.py", name.join("/"))
    } else {
        format!("{}.py", name.join("/"))
    }
}

fn build(found: &Found) -> Result<Payload> {
    let module = std::fs::read(&found.path).map_err(|e| Error::io(&found.path, e))?;
    let src = Sources {
        mu_dirs: lookup::module_utils_dirs(),
        core: lookup::core(),
        roots: lookup::collection_roots(),
    };
    build_with(found, &module, &src)
}

fn build_with(found: &Found, module: &[u8], src: &Sources) -> Result<Payload> {
    let Some(core) = &src.core else {
        return Err(Error::failed(format!(
            "module {} needs ansible-core's module_utils, and no `python3` on the controller's PATH imports ansible",
            found.name
        ))
        .hint("install ansible-core where `python3` finds it (pip install ansible-core)"));
    };
    let fqn: Vec<String> = found.fqn.split('.').map(String::from).collect();
    let package = fqn[..fqn.len() - 1].to_vec();
    let text = String::from_utf8_lossy(module)
        .replace(
            "#<<INCLUDE_ANSIBLE_MODULE_COMMON>>",
            "from ansible.module_utils.basic import *",
        )
        .into_bytes();
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    // The `ansible` package itself is only a namespace on the host (its controller code stays
    // behind).
    files.insert("ansible/__init__.py".into(), Vec::new());
    let mut todo: Vec<Import> = imports(&String::from_utf8_lossy(&text), &package);
    // What ansible-core's own runner imports by name (not through an import statement).
    for always in [
        "ansible.module_utils.basic",
        "ansible.module_utils._internal._ansiballz._loader",
        "ansible.module_utils._internal._json._profiles._module_legacy_c2m",
        "ansible.module_utils._internal._json._profiles._module_legacy_m2c",
    ] {
        todo.push(Import {
            name: always.split('.').map(String::from).collect(),
            maybe_attr: true,
        });
    }
    let mut done: BTreeSet<Vec<String>> = BTreeSet::new();
    while let Some(imp) = todo.pop() {
        if !wanted(&imp.name) || !done.insert(imp.name.clone()) {
            continue;
        }
        let Some((path, is_pkg)) = src.file(&imp.name) else {
            // An attribute of its parent module, an optional import that is absent, or code
            // the module never reaches: the module reports a real failure when it runs.
            continue;
        };
        let code = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        let pkg = if is_pkg {
            imp.name.clone()
        } else {
            imp.name[..imp.name.len() - 1].to_vec()
        };
        todo.extend(imports(&String::from_utf8_lossy(&code), &pkg));
        files.insert(zip_path(&imp.name, is_pkg), code);
        // Every package above it.
        for n in 2..imp.name.len() {
            let parent = imp.name[..n].to_vec();
            if !done.contains(&parent) {
                todo.push(Import {
                    name: parent,
                    maybe_attr: false,
                });
            }
        }
    }
    // Packages with no `__init__.py` of their own (namespace packages of collections, the
    // module's own package) get an empty one.
    let mut dirs: BTreeSet<String> = BTreeSet::new();
    let module_path = format!("{}.py", fqn.join("/"));
    for p in files.keys().chain(std::iter::once(&module_path)) {
        let mut parts: Vec<&str> = p.split('/').collect();
        parts.pop();
        for n in 1..=parts.len() {
            dirs.insert(format!("{}/__init__.py", parts[..n].join("/")));
        }
    }
    for d in dirs {
        files.entry(d).or_default();
    }
    if core.dir.join("module_utils/__init__.py").is_file() {
        // Keep ansible-core's own (tiny) package file for `ansible.module_utils`.
        if let Ok(b) = std::fs::read(core.dir.join("module_utils/__init__.py")) {
            files.insert("ansible/module_utils/__init__.py".into(), b);
        }
    }
    files.insert(module_path, text);
    let names: Vec<String> = files.keys().cloned().collect();
    let zip = super::zip::write(files.iter().map(|(k, v)| (k.as_str(), v.as_slice())));
    let sha256 = {
        use sha2::Digest as _;
        hex::encode(sha2::Sha256::digest(&zip))
    };
    Ok(Payload {
        zip,
        files: names,
        sha256,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[Import]) -> Vec<String> {
        v.iter().map(|i| i.name.join(".")).collect()
    }

    #[test]
    fn imports_are_read_from_every_form_of_statement() {
        let src = r#"
import os, sys
import ansible.module_utils.six as six
from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import (
    to_bytes,   # a comment
    to_native as n,
)
from ansible.module_utils.urls import \
    fetch_url
DOC = """
from ansible.module_utils.in_a_docstring import x
"""
def f():
    try:
        from ..module_utils.mine import helper
    except ImportError:
        pass
from . import sibling
"#;
        let pkg: Vec<String> = "ansible_collections.ns.coll.plugins.modules"
            .split('.')
            .map(String::from)
            .collect();
        let got = names(&imports(src, &pkg));
        for want in [
            "os",
            "sys",
            "ansible.module_utils.six",
            "ansible.module_utils.basic.AnsibleModule",
            "ansible.module_utils.common.text.converters",
            "ansible.module_utils.common.text.converters.to_bytes",
            "ansible.module_utils.common.text.converters.to_native",
            "ansible.module_utils.urls.fetch_url",
            "ansible_collections.ns.coll.plugins.module_utils.mine.helper",
            "ansible_collections.ns.coll.plugins.modules.sibling",
        ] {
            assert!(got.contains(&want.to_string()), "{want}: {got:?}");
        }
        assert!(!got.iter().any(|g| g.contains("in_a_docstring")), "{got:?}");
    }

    /// With ansible-core installed (the reference virtualenv), a module's payload holds what it
    /// imports, through the imports of what it imports, and the packages above them.
    #[test]
    fn a_payload_follows_imports_through_module_utils() {
        let Some(core) = lookup::core() else {
            eprintln!("skipped: no ansible-core importable by python3");
            return;
        };
        let found = Found {
            name: "ping".into(),
            path: core.dir.join("modules/ping.py"),
            fqn: "ansible.modules.ping".into(),
        };
        let module = std::fs::read(&found.path).unwrap();
        let src = Sources {
            mu_dirs: vec![],
            core: Some(core),
            roots: vec![],
        };
        let p = build_with(&found, &module, &src).unwrap();
        for f in [
            "ansible/__init__.py",
            "ansible/modules/__init__.py",
            "ansible/modules/ping.py",
            "ansible/module_utils/__init__.py",
            "ansible/module_utils/basic.py",
            "ansible/module_utils/common/__init__.py",
            "ansible/module_utils/common/parameters.py",
            "ansible/module_utils/_internal/_ansiballz/_loader.py",
        ] {
            assert!(p.files.contains(&f.to_string()), "{f}: {:?}", p.files);
        }
        // Not everything: modules ping does not import stay out.
        assert!(
            !p.files.iter().any(|f| f.contains("facts/")),
            "{:?}",
            p.files
        );
        assert_eq!(&p.zip[..4], b"PK\x03\x04");
    }
}
