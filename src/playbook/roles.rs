//! Roles: finding them, their dependencies, defaults, vars, tasks and handlers.

use super::Loader;
use super::include::enter_include;
use super::keywords::{
    bool_of, cond_list, flag_of, key_str, module_defaults_of, read_no_log, str_list, vars_of,
};
use super::model::{Inherit, RoleCtx, Task, TaskKind};
use crate::error::{Error, ErrorKind, Location, Result};
use crate::value::Vars;
use crate::yaml::{self, Node, NodeValue};
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
        depth: usize,
    ) -> Result<Vec<Task>> {
        if depth > 20 {
            return Err(r.error("role dependencies nest too deeply (a dependency loop?)"));
        }
        let (name, entry) = match &r.value {
            // `name,version`: the requirements form of very old Ansible, never a role name.
            NodeValue::Str(s) if s.contains(',') => {
                return Err(r.error(format!("Invalid old style role requirement: {s}")));
            }
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
        // The entry's own `when` and `tags`, part of the role's identity (see `RoleCtx::key`).
        let (mut own_when, mut own_tags) = (Vec::new(), Vec::new());
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
                    "when" => own_when.extend(cond_list(v)?),
                    "tags" => own_tags.extend(str_list(v)?),
                    "become" => inh.become_.enabled = flag_of("become", v, &mut inh.late_flags),
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
        // Templated tags are rendered with the play's variables, as a task's are.
        self.render_tags(&mut own_tags, parent);
        inh.when.extend(own_when.iter().cloned());
        inh.tags.extend(own_tags.iter().cloned());
        let ident = format!("roles when={own_when:?} tags={own_tags:?}");
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
                ident: &ident,
                allow_duplicates: None,
                public: None,
                validate: None,
            },
            handlers,
            depth,
            false,
        )
    }

    /// The defaults and vars a role's dependencies (from its `meta`) give it, each
    /// dependency's own after those of its dependencies, in order. A dependency that cannot be
    /// found or read gives nothing here (loading it reports the error).
    fn dependency_exports(&self, path: &Path, meta: Option<&Node>, depth: usize) -> (Vars, Vars) {
        let (mut defaults, mut vars) = (Vars::new(), Vars::new());
        let deps = meta
            .and_then(|m| m.get("dependencies"))
            .and_then(Node::as_seq);
        if depth > 20 {
            return (defaults, vars);
        }
        for d in deps.unwrap_or_default() {
            let name = match &d.value {
                NodeValue::Str(s) => Some(s.clone()),
                _ => d
                    .get("role")
                    .or_else(|| d.get("name"))
                    .and_then(Node::scalar_text),
            };
            let Some(dp) = name.and_then(|n| self.find_role(&n, path)) else {
                continue;
            };
            let dmeta = role_file("", &dp, "meta", None)
                .ok()
                .flatten()
                .and_then(|m| yaml::load_file(&m).ok());
            let (dd, dv) = self.dependency_exports(&dp, dmeta.as_ref(), depth + 1);
            defaults.extend(dd);
            vars.extend(dv);
            if let Ok(own) = load_role_ctx("", &dp, Vars::new(), None, None, Vec::new()) {
                defaults.extend(own.defaults.iter().map(|(k, x)| (k.clone(), x.clone())));
                vars.extend(own.vars.iter().map(|(k, x)| (k.clone(), x.clone())));
            }
        }
        (defaults, vars)
    }

    /// The task that checks a role's variables against the argument spec of entry point
    /// `entry` (`meta/argument_specs.yml`, else `argument_specs` of `meta/main.yml`), as
    /// Ansible prepends it to the role's tasks: named after the spec, tagged `always`, run by
    /// ansible-core's `validate_argument_spec` action with the role's parameters. None without
    /// a spec for `entry`, or without ansible-core to run it (with a warning).
    fn validation_task(
        &self,
        name: &str,
        path: &Path,
        meta: Option<&Node>,
        entry: &str,
        params: &Vars,
    ) -> Result<Option<Node>> {
        let file = [".yml", ".yaml", ".json"]
            .iter()
            .map(|e| path.join("meta").join(format!("argument_specs{e}")))
            .find(|p| p.is_file());
        let loaded;
        let (specs, at) = match &file {
            Some(f) => {
                loaded = yaml::load_file(f)?;
                (loaded.get("argument_specs"), f.clone())
            }
            None => (
                meta.and_then(|m| m.get("argument_specs")),
                path.join("meta").join("main.yml"),
            ),
        };
        let Some(spec) = specs.and_then(|s| s.get(entry)).filter(|s| !s.is_null()) else {
            return Ok(None);
        };
        if crate::modules::fallback::action_plugin("ansible.builtin.validate_argument_spec")
            .is_none()
        {
            static WARNED: std::sync::Once = std::sync::Once::new();
            WARNED.call_once(|| {
                eprintln!(
                    "[WARNING]: role argument specs are not checked (role '{name}'): they are checked by ansible-core's validate_argument_spec, and no ansible-core is importable by python3"
                )
            });
            return Ok(None);
        }
        let mut task_name = format!("Validating arguments against arg spec '{entry}'");
        if let Some(d) = spec.get("short_description").and_then(Node::scalar_text) {
            task_name = format!("{task_name} - {d}");
        }
        let options = spec
            .get("options")
            .map(|o| crate::value::to_json(&o.to_value()))
            .filter(|o| !o.is_null())
            .unwrap_or_else(|| serde_json::json!({}));
        // A collection's role is named without its collection there (`ns.col.role`: `role`).
        let in_collection = path
            .components()
            .any(|c| c.as_os_str() == "ansible_collections");
        let short = match name.rsplit_once('.') {
            Some((_, r)) if in_collection => r,
            _ => name,
        };
        let provided: serde_json::Map<String, serde_json::Value> = params
            .iter()
            .map(|(k, v)| (k.clone(), crate::value::to_json(v)))
            .collect();
        let task = serde_json::json!([{
            "name": task_name,
            "action": "ansible.builtin.validate_argument_spec",
            "args": {
                "argument_spec": options,
                "provided_arguments": provided,
                "validate_args_context": {
                    "type": "role",
                    "name": short,
                    "argument_spec_name": entry,
                    "path": path.display().to_string(),
                },
            },
            "tags": ["always"],
        }]);
        yaml::load_str(&task.to_string(), &at).map(Some)
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
        depth: usize,
        dynamic: bool,
    ) -> Result<Vec<Task>> {
        let tasks_from = files.tasks;
        let path = self.find_role(name, dir).ok_or_else(|| {
            // Not a playbook error (a run-time include of it fails its task, as in Ansible).
            Error::new(ErrorKind::Io, format!("role '{name}' not found"))
                .at(&at.loc)
                .hint(format!("searched: {}", self.role_searched(dir)))
        })?;
        crate::modules::fallback::add_adjacent(&path);
        let meta = match role_file(name, &path, "meta", None)? {
            Some(m) => Some(yaml::load_file(&m)?),
            None => None,
        };
        let key = role_key(&path, &params, &files);
        let own_params = params.clone();
        let mut role = load_role_ctx(
            name,
            &path,
            params,
            files.vars,
            files.defaults,
            parent_roles(parent),
        )?;
        role.dependency = depth > 0;
        role.key = key;
        // Its dependencies' defaults and vars are below its own, as in Ansible (which is how
        // a dependency's vars win over those of the role that brought this one in).
        let (dep_defaults, dep_vars) = self.dependency_exports(&path, meta.as_ref(), depth);
        if !dep_vars.is_empty() {
            let mut v = dep_vars;
            v.extend(role.vars.iter().map(|(k, x)| (k.clone(), x.clone())));
            role.vars = Arc::new(v);
        }
        role.allow_duplicates = match (
            files.allow_duplicates,
            meta.as_ref().and_then(|m| m.get("allow_duplicates")),
        ) {
            (Some(b), _) => b,
            (None, Some(v)) => bool_of(v)?,
            (None, None) => false,
        };
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
        if !dep_defaults.is_empty() {
            let mut d = dep_defaults;
            d.extend(role.defaults.iter().map(|(k, x)| (k.clone(), x.clone())));
            role.defaults = Arc::new(d);
        }
        if let (Some(r), false) = (&parent.role, role.dependency) {
            // Included or imported by a task of role `r`.
            role.included_by = std::iter::once((r.name.clone(), r.path.clone()))
                .chain(r.included_by.iter().cloned())
                .collect();
        }
        let ctx = Arc::new(role);
        let tasks_name = tasks_from.unwrap_or("main");
        let tf = role_file(name, &path, "tasks", tasks_from).map_err(|e| e.at(&at.loc))?;
        if tf.is_none() && tasks_from.is_some() {
            return Err(Error::new(
                ErrorKind::Io,
                format!("role '{name}' has no tasks file '{tasks_name}'"),
            )
            .at(&at.loc));
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
        if let Some(m) = &meta {
            if let Some(c) = m.get("collections") {
                crate::modules::fallback::add_collections(str_list(c)?);
            }
            if let Some(deps) = m.get("dependencies").and_then(Node::as_seq) {
                for d in deps {
                    let mut t = self.load_role_entry(d, &path, &inh, handlers, depth + 1)?;
                    out.append(&mut t);
                }
            }
        }
        // After its dependencies, as Ansible merges a role's variables over its
        // dependencies' (the play sees a parent's default over its dependency's).
        self.roles_loaded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(super::load_play::LoadedRole {
                ctx: ctx.clone(),
                dynamic,
                public: files
                    .public
                    .unwrap_or(!self.private_role_vars.unwrap_or(false)),
            });
        inh.role = Some(ctx.clone());
        // Its argument spec for this entry point is checked first (Ansible's validation task).
        if files.validate.unwrap_or(true)
            && let Some(v) =
                self.validation_task(name, &path, meta.as_ref(), tasks_name, &own_params)?
        {
            out.append(&mut self.load_tasks(&v, &path, &inh, false)?);
        }
        if let Some(tf) = tf {
            let node = yaml::load_file(&tf)?;
            let mut t = self.load_tasks(&node, &path, &inh, false)?;
            out.append(&mut t);
        }
        out.push(role_complete_task(&ctx, &at.loc, &path, &inh));
        let handlers_name = files.handlers.unwrap_or("main");
        let hfile =
            role_file(name, &path, "handlers", files.handlers).map_err(|e| e.at(&at.loc))?;
        if hfile.is_none() && files.handlers.is_some() {
            return Err(at.error(format!(
                "role '{name}' has no handlers file '{handlers_name}'"
            )));
        }
        if let Some(hf) = hfile {
            let node = yaml::load_file(&hf)?;
            // A role's handlers inherit the keywords its tasks inherit (the play's, the role
            // entry's, an import_role's or include_role's: `delegate_to`, `become`, `when`...).
            let hi = Inherit {
                role: Some(ctx.clone()),
                include_chain: enter_include(&parent.include_chain, &at.loc, &hf, dynamic)?,
                notify: Vec::new(),
                ..parent.clone()
            };
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
        allow_duplicates: bool,
        validate: bool,
    ) -> Result<(Vec<Task>, Vec<Task>)> {
        let at = Node {
            value: NodeValue::Str(name.to_string()),
            loc: loc.clone(),
        };
        let mut handlers = Vec::new();
        let ident = include_ident(parent);

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
                ident: &ident,
                allow_duplicates: Some(allow_duplicates),
                public: None,
                validate: Some(validate),
            },
            &mut handlers,
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
    /// How the role was brought in, with the keywords that tell two of its runs apart
    /// (`roles:` with the entry's `when` and `tags`, `import_role`, `include_role` with its
    /// variables): part of [`RoleCtx::key`].
    pub ident: &'a str,
    /// `allow_duplicates` of `include_role`/`import_role`, over the role's `meta/main.yml`.
    pub allow_duplicates: Option<bool>,
    /// `public` of `import_role` (its variables are the play's), over `private_role_vars`.
    pub public: Option<bool>,
    /// `rolespec_validate` of `include_role`/`import_role`: check the role's argument spec
    /// (the default).
    pub validate: Option<bool>,
}

/// A role's identity in a play, as Ansible compares roles to run each once: its folder, the
/// files it loads instead of `main`, its parameters and how it was brought in.
fn role_key(path: &Path, params: &Vars, files: &RoleFiles<'_>) -> String {
    let canon = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    format!(
        "{}|tasks={:?} vars={:?} defaults={:?} handlers={:?}|params={}|{}",
        canon.display(),
        files.tasks,
        files.vars,
        files.defaults,
        files.handlers,
        sorted_debug(params),
        files.ident
    )
}

/// How `include_role` and `import_role` bring a role in (for [`RoleFiles::ident`]): an
/// included or imported role is told apart by its task's variables (Ansible's role identity).
pub(super) fn include_ident(parent: &Inherit) -> String {
    format!("include vars={}", sorted_debug(&parent.vars))
}

/// Variables as text, in name order (two mappings with the same items give the same text).
fn sorted_debug(vars: &Vars) -> String {
    let sorted: std::collections::BTreeMap<&String, String> =
        vars.iter().map(|(k, v)| (k, format!("{v:?}"))).collect();
    format!("{sorted:?}")
}

/// The hidden task that ends a role's tasks (Ansible's implicit `role_complete`): a host
/// reaching it after one of the role's tasks ran on it (ok, changed or failed) has completed
/// the role, whose later runs in the play (the same role with the same parameters) it skips
/// unless the role allows duplicates. Tagged `always`, with no condition of its own.
fn role_complete_task(ctx: &Arc<RoleCtx>, loc: &Location, base: &Path, inh: &Inherit) -> Task {
    let mut t = Task::empty(
        loc.clone(),
        TaskKind::Meta(ROLE_COMPLETE.to_string()),
        base.to_path_buf(),
    );
    t.role = Some(ctx.clone());
    t.tags = vec!["always".to_string()];
    t.include_chain = inh.include_chain.clone();
    t
}

/// The `meta` action of [`role_complete_task`] (not one a playbook can name).
pub const ROLE_COMPLETE: &str = "role_complete";

/// Where an `include_tasks`/`import_tasks` file is, as Ansible looks for it. `including` is
/// the file the importing or including task is written in and `chain` the imports and
/// includes that led to it: their folders (innermost first) are where a relative name is
/// looked up next to the files that named it. Inside a role, a static import looks there
/// first, then in the role's `tasks/` folder (`handlers/`, then `tasks/`, for a handler's
/// include) and the role's own folder; an include looks in the role's folders first, then
/// next to the including files. Outside roles: relative to the including file's folder
/// (`base`), the folders of the files that included it, else in the playbook's folder
/// (`play_dir`), the end of Ansible's search path.
pub fn resolve_tasks_file(
    base: &Path,
    file: &str,
    role: Option<&RoleCtx>,
    handler: bool,
    play_dir: &Path,
    including: (&Path, &super::include::IncludeChain),
    dynamic: bool,
) -> PathBuf {
    let p = Path::new(file);
    if p.is_absolute() {
        return p.to_path_buf();
    }
    let (from, chain) = including;
    let mut dirs: Vec<PathBuf> = Vec::new();
    for f in std::iter::once(from).chain(chain.iter().rev().map(|l| l.file.as_path())) {
        if let Some(d) = f.parent().filter(|d| d.is_absolute())
            && !dirs.iter().any(|x| x == d)
        {
            dirs.push(d.to_path_buf());
        }
    }
    let next_to_includers = || dirs.iter().map(|d| d.join(file)).find(|c| c.exists());
    if let Some(r) = role {
        if !dynamic && let Some(c) = next_to_includers() {
            return c;
        }
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
    if here.exists() {
        return here;
    }
    if let Some(c) = next_to_includers() {
        return c;
    }
    if !play_dir.as_os_str().is_empty() {
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
    // Every file found (a folder's files in order) is merged, later ones winning.
    let load = |sub: &str, f: Option<&str>| -> Result<Vars> {
        let mut v = Vars::new();
        for p in role_files(name, path, sub, f, true)? {
            let n = yaml::load_file(&p)?;
            if !n.is_null() {
                v.extend(vars_of(&n)?);
            }
        }
        Ok(v)
    };
    Ok(RoleCtx {
        name: name.to_string(),
        path: path.to_path_buf(),
        defaults: Arc::new(load("defaults", defaults_from)?),
        vars: Arc::new(load("vars", vars_from)?),
        params: Arc::new(params),
        parents,
        dependency: false,
        included_by: Vec::new(),
        key: String::new(),
        allow_duplicates: false,
    })
}

/// The file of a role's folder `sub` (`tasks`, `handlers`, `meta`) to load: `from` (a
/// `tasks_from`-like name, as given first, then with `.yml`, `.yaml`, `.json`), else `main`
/// (with those extensions first). See [`role_files`].
fn role_file(role: &str, path: &Path, sub: &str, from: Option<&str>) -> Result<Option<PathBuf>> {
    Ok(role_files(role, path, sub, from, false)?.into_iter().next())
}

/// The files of a role's folder `sub` to load, as Ansible finds them: the first of `name`
/// with the extensions tried in order that exists; a folder (with `allow_dir`, for `vars` and
/// `defaults`) gives its files (`.yml`, `.yaml`, `.json` or none; not hidden), in name order,
/// its subfolders' in turn. A file outside of the role's folder (`tasks_from: ../x.yml`, an
/// absolute path) is an error, as in Ansible.
pub(crate) fn role_files(
    role: &str,
    path: &Path,
    sub: &str,
    from: Option<&str>,
    allow_dir: bool,
) -> Result<Vec<PathBuf>> {
    let dir = path.join(sub);
    if !dir.is_dir() {
        return Ok(vec![]);
    }
    let exts: &[&str] = match from {
        None => &[".yml", ".yaml", ".json", ""],
        Some(_) => &["", ".yml", ".yaml", ".json"],
    };
    let base = dir.join(from.unwrap_or("main"));
    let mut found = Vec::new();
    for ext in exts {
        let mut p = base.clone().into_os_string();
        p.push(ext);
        let p = PathBuf::from(p);
        if p.is_dir() {
            if allow_dir {
                dir_vars_files(&p, &mut found);
                break;
            }
            continue;
        }
        if p.exists() {
            found.push(p);
            break;
        }
    }
    let inside = normalize(&dir);
    for f in &found {
        if !normalize(f).starts_with(&inside) {
            return Err(Error::parse(format!(
                "Failed loading '{}' for role ({role}) as it is not inside the expected role path: '{}'",
                f.display(),
                dir.display()
            )));
        }
    }
    Ok(found)
}

/// The files of a vars folder, as Ansible lists them (see [`role_files`]).
fn dir_vars_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut names: Vec<_> = rd.flatten().map(|e| e.file_name()).collect();
    names.sort();
    for n in names {
        let s = n.to_string_lossy();
        if s.starts_with('.') || s.ends_with('~') {
            continue;
        }
        let p = dir.join(&n);
        let ext = p.extension().map(|e| e.to_string_lossy().into_owned());
        if p.is_dir() && ext.is_none() {
            dir_vars_files(&p, out);
        } else if p.is_file()
            && ext
                .as_deref()
                .is_none_or(|e| ["yml", "yaml", "json"].contains(&e))
        {
            out.push(p);
        }
    }
}

/// A path with `.` and `..` resolved lexically (as Python's `os.path.abspath`).
fn normalize(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}
