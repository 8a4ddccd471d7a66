//! `include_vars`, as Ansible runs it: one file (found in the task's search path under
//! `vars/`) or a folder walked in name order (`depth`, `files_matching`, `ignore_files`,
//! `extensions`, `ignore_unknown_extensions`), the variables under `name` or at the top,
//! `hash_behaviour: merge` into the values the task sees. The result lists the files read
//! (`ansible_included_var_files`) and the variables (`ansible_facts`); a failure is reported
//! in `message`, as Ansible does.

use super::PlayRun;
use super::outcome::Outcome;
use crate::error::{Error, Result};
use crate::events::Status;
use crate::playbook::Task;
use crate::template::Context;
use crate::util::pyregex::{Anchor, Flags, PyRegex};
use crate::util::search_path::SearchPath;
use crate::value::{Value, Vars, value_to_vars, vars_value};
use minijinja::value::ValueKind;
use std::path::{Path, PathBuf};

const DIR_OPTIONS: &[&str] = &[
    "dir",
    "depth",
    "files_matching",
    "ignore_files",
    "extensions",
    "ignore_unknown_extensions",
];
const FILE_OPTIONS: &[&str] = &["file", "_raw_params"];
const COMMON_OPTIONS: &[&str] = &["name", "hash_behaviour"];

/// What a folder walk keeps.
struct DirRules {
    depth: usize,
    matching: Option<PyRegex>,
    ignore: Vec<PyRegex>,
    extensions: Vec<String>,
    ignore_unknown: bool,
}

/// A failure of the action (reported in the result's `message`), or the variables, the files
/// and whether one of them was vault-encrypted (the result is then hidden, as Ansible does).
type Loaded = std::result::Result<(Vars, Vec<String>, bool), String>;

impl PlayRun<'_> {
    /// Runs `include_vars` with its rendered arguments; the variables are the host's from now.
    pub(super) fn include_vars(
        &self,
        host: &str,
        task: &Task,
        args: &Value,
        ctx: &Context,
    ) -> Result<Outcome> {
        let a = value_to_vars(args);
        let given = |k: &str| a.get(k).filter(|v| !v.is_none() && !v.is_undefined());
        let (mut dirs, mut files) = (0, 0);
        for k in a.keys() {
            if DIR_OPTIONS.contains(&k.as_str()) {
                dirs += 1;
            } else if FILE_OPTIONS.contains(&k.as_str()) {
                files += 1;
            } else if !COMMON_OPTIONS.contains(&k.as_str()) {
                return Err(
                    Error::failed(format!("{k} is not a valid option in include_vars")).hint(
                        format!(
                            "its options are {}",
                            [DIR_OPTIONS, FILE_OPTIONS, COMMON_OPTIONS]
                                .concat()
                                .join(", ")
                        ),
                    ),
                );
            }
        }
        if dirs > 0 && files > 0 {
            return Err(Error::failed(
                "You are mixing file only and dir only arguments, these are incompatible",
            ));
        }
        let loaded = match given("dir") {
            Some(d) => {
                let rules = dir_rules(&a)?;
                self.include_dir(task, &value_str(d), &rules)
            }
            None => {
                let file = given("file")
                    .or_else(|| given("_raw_params"))
                    .map(|v| value_str(v).trim_end_matches('\n').to_string());
                self.include_file(task, file.as_deref())
            }
        };
        let (mut vars, included, vaulted) = match loaded {
            Ok(x) => x,
            Err(message) => {
                let mut o = Outcome::new(Status::Failed);
                o.msg = Some(message.clone());
                o.result.insert("message".into(), Value::from(message));
                o.result.insert(
                    "ansible_included_var_files".into(),
                    Value::from(Vec::<Value>::new()),
                );
                return Ok(o);
            }
        };
        if let Some(n) = given("name") {
            let mut scoped = Vars::new();
            scoped.insert(value_str(n), vars_value(&vars));
            vars = scoped;
        }
        if given("hash_behaviour").is_some_and(|h| value_str(h) == "merge") {
            for (k, v) in vars.iter_mut() {
                if let Some(old) = ctx.get(k)? {
                    *v = crate::value::merge_maps(&old, v);
                }
            }
        }
        self.shared.add_include_vars(host, vars.clone());
        let mut o = Outcome::new(Status::Ok);
        o.result.insert(
            "ansible_included_var_files".into(),
            Value::from_iter(included.into_iter().map(Value::from)),
        );
        o.result.insert("ansible_facts".into(), vars_value(&vars));
        o.result
            .insert("_ansible_no_log".into(), Value::from(vaulted));
        o.trusted_facts = true;
        Ok(o)
    }

    /// One file, found in the task's search path under `vars/`.
    fn include_file(&self, task: &Task, file: Option<&str>) -> Loaded {
        let Some(file) = file.filter(|f| !f.is_empty()) else {
            return Err("Could not find file".into());
        };
        let paths = task.search_path(&self.play.dir);
        let sp = SearchPath {
            paths: &paths,
            basedir: None,
            in_role: task.role.is_some(),
        };
        let path = sp.find(Some("vars"), file).map_err(|tried| {
            let tried: Vec<String> = tried.iter().map(|p| p.display().to_string()).collect();
            format!(
                "Could not find or access '{file}'\nSearched in:\n\t{}",
                tried.join("\n\t")
            )
        })?;
        let (vars, vaulted) = load(&path, None, &self.runner.templar)?;
        Ok((vars, vec![path.display().to_string()], vaulted))
    }

    /// Every file of a folder (a role's `vars/` folder, or the task file's folder, holds a
    /// relative one), walked in name order.
    fn include_dir(&self, task: &Task, dir: &str, rules: &DirRules) -> Loaded {
        let root = match &task.role {
            Some(r) => {
                let under_vars = Path::new(dir)
                    .components()
                    .next()
                    .is_some_and(|c| c.as_os_str() == "vars");
                if under_vars && r.path.join(dir).exists() {
                    r.path.join(dir)
                } else if under_vars {
                    PathBuf::from(dir)
                } else {
                    r.path.join("vars").join(dir)
                }
            }
            None => task.file_dir(&self.play.dir).join(dir),
        };
        if !root.exists() {
            return Err(format!("{} directory does not exist", root.display()));
        }
        if !root.is_dir() {
            return Err(format!("{} is not a directory", root.display()));
        }
        let mut folders = Vec::new();
        walk(&root, 1, rules.depth, &mut folders);
        folders.sort_by_key(|f| f.0.to_string_lossy().into_owned());
        let mut vars = Vars::new();
        let mut included = Vec::new();
        let mut vaulted = false;
        for (folder, mut names) in folders {
            names.sort();
            for name in names {
                if rules
                    .matching
                    .as_ref()
                    .is_some_and(|m| !m.is_match(&name).unwrap_or(false))
                    || rules
                        .ignore
                        .iter()
                        .any(|r| r.is_match(&name).unwrap_or(false))
                {
                    continue;
                }
                let valid = rules.extensions.contains(&extension(&name));
                if rules.ignore_unknown && !valid {
                    continue;
                }
                let path = folder.join(&name);
                let (v, enc) = load(&path, Some(&rules.extensions), &self.runner.templar)?;
                vars.extend(v);
                vaulted |= enc;
                included.push(path.display().to_string());
            }
        }
        Ok((vars, included, vaulted))
    }
}

/// The folder-walk options.
fn dir_rules(a: &Vars) -> Result<DirRules> {
    let get = |k: &str| a.get(k).filter(|v| !v.is_none() && !v.is_undefined());
    let regex = |p: &str| {
        PyRegex::anchored(p, Flags::default(), Anchor::Search)
            .map_err(|e| Error::failed(format!("Invalid regular expression: {p} ({e})")))
    };
    let depth = match get("depth") {
        Some(d) => value_str(d)
            .trim()
            .parse::<usize>()
            .map_err(|_| Error::failed(format!("depth must be a number, not {}", value_str(d))))?,
        None => 0,
    };
    let matching = get("files_matching")
        .map(|m| regex(&value_str(m)))
        .transpose()?;
    let ignore = match get("ignore_files") {
        Some(v) if v.kind() == ValueKind::Map => {
            return Err(Error::failed(format!("{v} must be a list")));
        }
        Some(v) => list_of(v, true),
        None => vec![],
    }
    .iter()
    .map(|p| regex(&format!("(?:{p})$")))
    .collect::<Result<Vec<_>>>()?;
    let extensions = match get("extensions") {
        // Ansible turns a string into its characters.
        Some(v) if v.kind() == ValueKind::String => {
            value_str(v).chars().map(String::from).collect()
        }
        Some(v) if v.kind() == ValueKind::Seq => list_of(v, false),
        Some(_) => {
            return Err(Error::failed(
                "Invalid type for \"extensions\" option, it must be a list",
            ));
        }
        None => ["yaml", "yml", "json"].map(String::from).to_vec(),
    };
    Ok(DirRules {
        depth,
        matching,
        ignore,
        extensions,
        ignore_unknown: get("ignore_unknown_extensions").is_some_and(crate::value::truthy),
    })
}

/// The folders under `dir` (itself at depth 1) down to `max` (0: no limit), following
/// symbolic links, each with the names of its files.
fn walk(dir: &Path, depth: usize, max: usize, out: &mut Vec<(PathBuf, Vec<String>)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut names = Vec::new();
    let mut subdirs = Vec::new();
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            subdirs.push(p);
        } else {
            names.push(e.file_name().to_string_lossy().into_owned());
        }
    }
    if max == 0 || depth <= max {
        out.push((dir.to_path_buf(), names));
    }
    if max == 0 || depth < max {
        for s in subdirs {
            walk(&s, depth + 1, max, out);
        }
    }
}

/// A file's extension as Ansible compares it (`""` for none).
fn extension(name: &str) -> String {
    Path::new(name)
        .extension()
        .map(|e| e.to_string_lossy().into_owned())
        .filter(|_| !name.starts_with('.') || name[1..].contains('.'))
        .unwrap_or_default()
}

/// Loads one variables file (a mapping; an empty file is none), decrypted with the run's
/// vault password when the whole file is vault-encrypted (then also `true`); with
/// `extensions`, a file whose extension is not among them is refused.
fn load(
    path: &Path,
    extensions: Option<&[String]>,
    templar: &crate::template::Templar,
) -> std::result::Result<(Vars, bool), String> {
    if let Some(exts) = extensions
        && !exts.contains(&extension(&path.to_string_lossy()))
    {
        return Err(format!(
            "{} does not have a valid extension: {}",
            path.display(),
            exts.join(", ")
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e).to_string())?;
    let vaulted = text.trim_start().starts_with("$ANSIBLE_VAULT;");
    let text = if vaulted {
        templar
            .decrypt_vault_text(text.trim(), &path.display().to_string())
            .map_err(|e| e.msg.clone())?
    } else {
        text
    };
    let node = crate::yaml::load_str(&text, path).map_err(|e| e.to_string())?;
    if node.is_null() {
        return Ok((Vars::new(), vaulted));
    }
    if node.as_map().is_none() {
        return Err(format!(
            "{} must be stored as a dictionary/hash",
            path.display()
        ));
    }
    crate::playbook::vars_of(&node)
        .map(|v| (v, vaulted))
        .map_err(|e| e.to_string())
}

fn value_str(v: &Value) -> String {
    crate::modules::args::value_str(v)
}

/// A list option's strings (`split`: a string is split on whitespace).
fn list_of(v: &Value, split: bool) -> Vec<String> {
    match v.as_str() {
        Some(s) if split => s.split_whitespace().map(str::to_string).collect(),
        Some(s) => vec![s.to_string()],
        None => v
            .try_iter()
            .into_iter()
            .flatten()
            .map(|x| value_str(&x))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_and_merges_as_ansible_compares_them() {
        assert_eq!(extension("a.yml"), "yml");
        assert_eq!(extension("/x/y/file_without_extension"), "");
        assert_eq!(extension(".hidden"), "");
        let old = crate::value::map_value([(
            "a",
            crate::value::map_value([("x", Value::from(1)), ("y", Value::from(2))]),
        )]);
        let new =
            crate::value::map_value([("a", crate::value::map_value([("y", Value::from(3))]))]);
        let m = crate::value::merge_maps(&old, &new);
        let a = m.get_attr("a").unwrap();
        assert_eq!(a.get_attr("x").unwrap(), Value::from(1));
        assert_eq!(a.get_attr("y").unwrap(), Value::from(3));
    }
}
