//! Roles: finding them, their dependencies, defaults, vars, tasks and handlers.

use super::Loader;
use super::include::enter_include;
use super::keywords::{
    bool_of, cond_list, key_str, module_defaults_of, read_no_log, str_list, vars_of,
};
use super::model::{Inherit, RoleCtx, Task};
use crate::error::{Location, Result};
use crate::value::Vars;
use crate::yaml::{self, Node, NodeValue};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

impl Loader<'_> {
    /// Finds a role folder by name.
    pub fn find_role(&self, name: &str, dir: &Path) -> Option<PathBuf> {
        let direct = Path::new(name);
        if direct.is_absolute() && direct.is_dir() {
            return Some(direct.to_path_buf());
        }
        let mut cands = vec![dir.join("roles").join(name), dir.join(name)];
        // A role's dependencies are also found next to it (its siblings in `roles/`).
        if (dir.join("tasks").is_dir() || dir.join("meta").is_dir())
            && let Some(parent) = dir.parent()
        {
            cands.push(parent.join(name));
        }
        for rp in &self.roles_path {
            cands.push(rp.join(name));
        }
        cands.extend(collection_role_dirs(name, dir));
        cands.into_iter().find(|c| c.is_dir())
    }

    pub(super) fn role_searched(&self, dir: &Path) -> String {
        let mut v = vec![
            dir.join("roles").display().to_string(),
            dir.display().to_string(),
        ];
        v.extend(self.roles_path.iter().map(|p| p.display().to_string()));
        v.join(", ")
    }

    pub(super) fn load_role_entry(
        &self,
        r: &Node,
        dir: &Path,
        parent: &Inherit,
        handlers: &mut Vec<Task>,
        seen: &mut HashSet<String>,
        depth: usize,
    ) -> Result<Vec<Task>> {
        if depth > 20 {
            return Err(r.error("role dependencies nest too deeply (a dependency loop?)"));
        }
        let (name, entry) = match &r.value {
            NodeValue::Str(s) => (s.clone(), None),
            NodeValue::Map(_) => {
                let n = r
                    .get("role")
                    .or_else(|| r.get("name"))
                    .and_then(Node::scalar_text)
                    .ok_or_else(|| r.error("a role entry needs `role:`"))?;
                (n, Some(r))
            }
            _ => return Err(r.error("a role entry must be a name or a mapping")),
        };
        let mut params = Vars::new();
        let mut inh = parent.clone();
        if let Some(e) = entry {
            for (k, v) in e.as_map().unwrap_or_default() {
                let key = key_str(k)?;
                match key.as_str() {
                    "role" | "name" => {}
                    "vars" => {
                        for (vk, vv) in vars_of(v)? {
                            params.insert(vk, vv);
                        }
                    }
                    "when" => inh.when.extend(cond_list(v)?),
                    "tags" => inh.tags.extend(str_list(v)?),
                    "become" => inh.become_.enabled = Some(bool_of(v)?),
                    "become_user" => inh.become_.user = v.scalar_text(),
                    "become_method" => inh.become_.method = v.scalar_text(),
                    "delegate_to" => inh.delegate_to = v.scalar_text(),
                    "environment" => inh.environment.push(v.to_value()),
                    "module_defaults" => inh.module_defaults.push(module_defaults_of(v)?),
                    "ignore_errors" => inh.ignore_errors = Some(v.to_value()),
                    "no_log" => read_no_log(v, &mut inh.no_log, &mut inh.no_log_if)?,
                    "tasks_from" | "vars_from" | "defaults_from" | "handlers_from" | "public"
                    | "allow_duplicates" => {}
                    _ => {
                        params.insert(key, v.to_value());
                    }
                }
            }
        }
        let key = format!("{name}{:?}", params);
        if !seen.insert(key) {
            return Ok(vec![]);
        }
        let from = |k: &str| entry.and_then(|e| e.get(k)).and_then(Node::scalar_text);
        let (tasks_from, vars_from, defaults_from, handlers_from) = (
            from("tasks_from"),
            from("vars_from"),
            from("defaults_from"),
            from("handlers_from"),
        );
        self.load_role(
            &name,
            r,
            dir,
            &inh,
            params,
            RoleFiles {
                tasks: tasks_from.as_deref(),
                vars: vars_from.as_deref(),
                defaults: defaults_from.as_deref(),
                handlers: handlers_from.as_deref(),
            },
            handlers,
            seen,
            depth,
            false,
        )
    }

    /// Loads a role's tasks (and its dependencies' first), adding its handlers to `handlers`.
    /// `dynamic`: for `include_role` at run time (a link of the include chain that may recur).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn load_role(
        &self,
        name: &str,
        at: &Node,
        dir: &Path,
        parent: &Inherit,
        params: Vars,
        files: RoleFiles<'_>,
        handlers: &mut Vec<Task>,
        seen: &mut HashSet<String>,
        depth: usize,
        dynamic: bool,
    ) -> Result<Vec<Task>> {
        let tasks_from = files.tasks;
        let path = self.find_role(name, dir).ok_or_else(|| {
            at.error(format!("role '{name}' not found"))
                .hint(format!("searched: {}", self.role_searched(dir)))
        })?;
        crate::modules::fallback::add_adjacent(&path);
        let mut role = load_role_ctx(
            name,
            &path,
            params,
            files.vars,
            files.defaults,
            parent_roles(parent),
        )?;
        role.dependency = depth > 0;
        if let Some(p) = &parent.role {
            // A role brought in by another (a dependency, or a role's include_role or
            // import_role) sees that role's defaults, vars and parameters below its own, as
            // in Ansible (its dependency chain).
            let under = |theirs: &Arc<Vars>, mine: &Arc<Vars>| -> Arc<Vars> {
                if theirs.is_empty() {
                    return mine.clone();
                }
                let mut v = (**theirs).clone();
                v.extend(mine.iter().map(|(k, x)| (k.clone(), x.clone())));
                Arc::new(v)
            };
            role.defaults = under(&p.defaults, &role.defaults);
            role.vars = under(&p.vars, &role.vars);
            role.params = under(&p.params, &role.params);
        }
        if let (Some(r), false) = (&parent.role, role.dependency) {
            // Included or imported by a task of role `r`.
            role.included_by = std::iter::once((r.name.clone(), r.path.clone()))
                .chain(r.included_by.iter().cloned())
                .collect();
        }
        let ctx = Arc::new(role);
        self.roles_loaded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(super::load_play::LoadedRole {
                ctx: ctx.clone(),
                dynamic,
            });
        let tasks_name = tasks_from.unwrap_or("main");
        let tf = find_main(&path.join("tasks"), tasks_name);
        if tf.is_none() && tasks_from.is_some() {
            return Err(at.error(format!("role '{name}' has no tasks file '{tasks_name}'")));
        }
        // The role is a link of the include chain for its dependencies and its tasks.
        let mut inh = parent.clone();
        inh.include_chain = enter_include(
            &parent.include_chain,
            &at.loc,
            tf.as_deref().unwrap_or(&path),
            dynamic,
        )?;
        let mut out = Vec::new();
        // Dependencies are brought in by this role (their search path continues with it).
        inh.role = Some(ctx.clone());
        if let Some(meta) = find_main(&path.join("meta"), "main") {
            let m = yaml::load_file(&meta)?;
            if let Some(c) = m.get("collections") {
                crate::modules::fallback::add_collections(str_list(c)?);
            }
            if let Some(deps) = m.get("dependencies").and_then(Node::as_seq) {
                for d in deps {
                    let mut t = self.load_role_entry(d, &path, &inh, handlers, seen, depth + 1)?;
                    out.append(&mut t);
                }
            }
        }
        inh.role = Some(ctx.clone());
        if let Some(tf) = tf {
            let node = yaml::load_file(&tf)?;
            let mut t = self.load_tasks(&node, &path, &inh, false)?;
            out.append(&mut t);
        }
        let handlers_name = files.handlers.unwrap_or("main");
        let hfile = find_main(&path.join("handlers"), handlers_name);
        if hfile.is_none() && files.handlers.is_some() {
            return Err(at.error(format!(
                "role '{name}' has no handlers file '{handlers_name}'"
            )));
        }
        if let Some(hf) = hfile {
            let node = yaml::load_file(&hf)?;
            let mut hi = Inherit {
                role: Some(ctx.clone()),
                include_chain: enter_include(&parent.include_chain, &at.loc, &hf, dynamic)?,
                ..Default::default()
            };
            hi.become_ = parent.become_.clone();
            let mut h = self.load_tasks(&node, &path, &hi, true)?;
            handlers.append(&mut h);
        }
        Ok(out)
    }

    /// Loads a role for `include_role` at run time: its tasks (with dependencies) and handlers.
    #[allow(clippy::too_many_arguments)]
    pub fn load_role_dynamic(
        &self,
        name: &str,
        loc: &Location,
        dir: &Path,
        parent: &Inherit,
        tasks_from: Option<&str>,
        vars_from: Option<&str>,
        defaults_from: Option<&str>,
        handlers_from: Option<&str>,
        seen: &mut HashSet<String>,
    ) -> Result<(Vec<Task>, Vec<Task>)> {
        let at = Node {
            value: NodeValue::Str(name.to_string()),
            loc: loc.clone(),
        };
        let mut handlers = Vec::new();

        let tasks = self.load_role(
            name,
            &at,
            dir,
            parent,
            Vars::new(),
            RoleFiles {
                tasks: tasks_from,
                vars: vars_from,
                defaults: defaults_from,
                handlers: handlers_from,
            },
            &mut handlers,
            seen,
            0,
            true,
        )?;
        Ok((tasks, handlers))
    }
}

/// Where a collection's role (`namespace.collection.role`) may be, as Ansible looks for it:
/// in `collections/` beside the playbook, then in the collections paths
/// (`ANSIBLE_COLLECTIONS_PATH`, else `~/.ansible/collections` and
/// `/usr/share/ansible/collections`).
fn collection_role_dirs(name: &str, dir: &Path) -> Vec<PathBuf> {
    let parts: Vec<&str> = name.split('.').collect();
    let [ns, col, role] = parts[..] else {
        return vec![];
    };
    if [ns, col, role]
        .iter()
        .any(|p| p.is_empty() || p.contains('/'))
    {
        return vec![];
    }
    let mut roots = vec![dir.join("collections")];
    let env = std::env::var("ANSIBLE_COLLECTIONS_PATH")
        .or_else(|_| std::env::var("ANSIBLE_COLLECTIONS_PATHS"))
        .ok();
    match env {
        Some(v) => roots.extend(v.split(':').filter(|p| !p.is_empty()).map(PathBuf::from)),
        None => {
            if let Some(home) = std::env::var_os("HOME") {
                roots.push(Path::new(&home).join(".ansible/collections"));
            }
            roots.push(PathBuf::from("/usr/share/ansible/collections"));
        }
    }
    roots
        .into_iter()
        .map(|r| {
            // A path may name the `ansible_collections` folder itself or its parent.
            let base = if r.ends_with("ansible_collections") {
                r
            } else {
                r.join("ansible_collections")
            };
            base.join(ns).join(col).join("roles").join(role)
        })
        .collect()
}

/// The files of a role's folders to load instead of `main` (`tasks_from`, `vars_from`,
/// `defaults_from`).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RoleFiles<'a> {
    /// From `tasks/`.
    pub tasks: Option<&'a str>,
    /// From `vars/`.
    pub vars: Option<&'a str>,
    /// From `defaults/`.
    pub defaults: Option<&'a str>,
    /// From `handlers/`.
    pub handlers: Option<&'a str>,
}

/// Where an `include_tasks`/`import_tasks` file is, as Ansible looks for it: inside a role, in
/// its `tasks/` folder (`handlers/`, then `tasks/`, for a handler's include), then the role's
/// own folder; else
/// relative to the including file's folder (`base`); else in the playbook's folder
/// (`play_dir`), the end of Ansible's search path.
pub fn resolve_tasks_file(
    base: &Path,
    file: &str,
    role: Option<&RoleCtx>,
    handler: bool,
    play_dir: &Path,
) -> PathBuf {
    let p = Path::new(file);
    if p.is_absolute() {
        return p.to_path_buf();
    }
    if let Some(r) = role {
        // A handler's include also finds the role's task files (ansible-core's own
        // setup_remote_tmp_dir handler includes tasks/default-cleanup.yml).
        let subs: &[&str] = if handler {
            &["handlers", "tasks"]
        } else {
            &["tasks"]
        };
        let cands = subs.iter().map(|s| r.path.join(s).join(file));
        for c in cands.chain([r.path.join(file)]) {
            if c.exists() {
                return c;
            }
        }
    }
    let here = base.join(file);
    if !here.exists() && !play_dir.as_os_str().is_empty() {
        let there = play_dir.join(file);
        if there.exists() {
            return there;
        }
    }
    here
}

/// The folders of the roles that bring in a role loaded with `parent`'s keywords: the role
/// `parent` belongs to, after the roles that brought it in.
fn parent_roles(parent: &Inherit) -> Vec<PathBuf> {
    match &parent.role {
        Some(r) => {
            let mut v = r.parents.clone();
            v.push(r.path.clone());
            v
        }
        None => Vec::new(),
    }
}

/// Loads a role's defaults and vars.
pub fn load_role_ctx(
    name: &str,
    path: &Path,
    params: Vars,
    vars_from: Option<&str>,
    defaults_from: Option<&str>,
    parents: Vec<PathBuf>,
) -> Result<RoleCtx> {
    let load = |sub: &str, f: &str| -> Result<Vars> {
        match find_main(&path.join(sub), f) {
            Some(p) => {
                let n = yaml::load_file(&p)?;
                if n.is_null() {
                    Ok(Vars::new())
                } else {
                    vars_of(&n)
                }
            }
            None => Ok(Vars::new()),
        }
    };
    Ok(RoleCtx {
        name: name.to_string(),
        path: path.to_path_buf(),
        defaults: Arc::new(load("defaults", defaults_from.unwrap_or("main"))?),
        vars: Arc::new(load("vars", vars_from.unwrap_or("main"))?),
        params: Arc::new(params),
        parents,
        dependency: false,
        included_by: Vec::new(),
    })
}

/// Finds `dir/name.yml`, `.yaml`, or `name` (a file).
pub fn find_main(dir: &Path, name: &str) -> Option<PathBuf> {
    [
        dir.join(format!("{name}.yml")),
        dir.join(format!("{name}.yaml")),
        dir.join(name),
    ]
    .into_iter()
    .find(|c| c.is_file())
}
