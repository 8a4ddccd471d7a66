//! `group_vars/` and `host_vars/` directories, read like Ansible's `host_group_vars` vars plugin.
//!
//! For a group or host `NAME`, the first of `NAME` (a file, or a folder), `NAME.yml`,
//! `NAME.yaml`, `NAME.json` that exists is used. A folder is read recursively: every file in it
//! with no extension or one of `.yml`, `.yaml`, `.json`, skipping hidden files and `*~` backups,
//! in sorted order, later files overriding earlier ones. Only names that exist in the inventory
//! (and the implicit localhost names) are looked up; other files are ignored, as in Ansible.

use crate::error::{Error, Result};
use crate::template::vault::VaultSecret;
use crate::value::Vars;
use crate::yaml::{self, NodeValue};
use indexmap::IndexMap;
use std::path::{Path, PathBuf};

const EXTS: [&str; 3] = [".yml", ".yaml", ".json"];

/// The variables found in one directory's `group_vars/` and `host_vars/`.
#[derive(Debug, Clone, Default)]
pub(crate) struct VarsDir {
    /// The directory holding `group_vars/` and `host_vars/`.
    pub dir: PathBuf,
    /// Group name -> variables.
    pub groups: IndexMap<String, Vars>,
    /// Host name -> variables.
    pub hosts: IndexMap<String, Vars>,
}

/// Loads the variables of `groups` and `hosts` from `dir/group_vars` and `dir/host_vars`.
pub(crate) fn load<'a>(
    dir: &Path,
    groups: impl IntoIterator<Item = &'a str>,
    hosts: impl IntoIterator<Item = &'a str>,
    vault: &[VaultSecret],
) -> Result<VarsDir> {
    let mut out = VarsDir {
        dir: dir.to_path_buf(),
        ..Default::default()
    };
    let gdir = dir.join("group_vars");
    if gdir.is_dir() {
        for g in groups {
            if let Some(v) = load_entity(&gdir, g, vault)? {
                out.groups.insert(g.to_string(), v);
            }
        }
    }
    let hdir = dir.join("host_vars");
    if hdir.is_dir() {
        for h in hosts {
            if let Some(v) = load_entity(&hdir, h, vault)? {
                out.hosts.insert(h.to_string(), v);
            }
        }
    }
    Ok(out)
}

fn safe_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\', '\0'])
}

/// The variables for one entity, or None when no file exists for it.
fn load_entity(base: &Path, name: &str, vault: &[VaultSecret]) -> Result<Option<Vars>> {
    if !safe_name(name) {
        return Ok(None);
    }
    let mut found = Vec::new();
    for ext in std::iter::once("").chain(EXTS) {
        let p = base.join(format!("{name}{ext}"));
        if p.is_dir() {
            dir_files(&p, &mut found)?;
            break;
        }
        if p.is_file() {
            found.push(p);
            break;
        }
    }
    if found.is_empty() {
        return Ok(None);
    }
    let mut vars = Vars::new();
    for f in found {
        for (k, v) in load_vars_file(&f, vault)? {
            crate::value::combine_var(&mut vars, k, v);
        }
    }
    Ok(Some(vars))
}

fn dir_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for n in names {
        if n.starts_with('.') || n.ends_with('~') {
            continue;
        }
        let p = dir.join(&n);
        let ext = Path::new(&n)
            .extension()
            .map(|e| format!(".{}", e.to_string_lossy()));
        if p.is_dir() && ext.is_none() {
            dir_files(&p, out)?;
        } else if p.is_file() && ext.as_deref().is_none_or(|e| EXTS.contains(&e)) {
            out.push(p);
        }
    }
    Ok(())
}

/// Reads one vars file: a YAML (or JSON) mapping; an empty file gives no variables. A
/// vault-encrypted file is decrypted with `vault` first (its text never touches the disk).
pub(crate) fn load_vars_file(path: &Path, vault: &[VaultSecret]) -> Result<Vars> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let text = crate::template::vault::file_text(text, path, vault)?;
    let node = yaml::load_str(&text, path)?;
    match &node.value {
        NodeValue::Null => Ok(Vars::new()),
        NodeValue::Map(entries) => {
            let mut vars = Vars::new();
            for (k, v) in entries {
                let Some(name) = k.scalar_text() else {
                    return Err(Error::inventory("a variable name must be a string")
                        .at(&k.loc)
                        .hint("vars files map names to values: `name: value`"));
                };
                vars.insert(name, v.to_value());
            }
            Ok(vars)
        }
        _ => Err(Error::inventory(format!(
            "a vars file must be a mapping of variable names to values, found {}",
            node.type_name()
        ))
        .at(&node.loc)
        .hint("write `name: value` lines at the top level")),
    }
}
