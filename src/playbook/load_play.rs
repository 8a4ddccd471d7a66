//! Loading a playbook file and its plays (`import_playbook` expanded).

use super::actions;
use super::keywords::{
    PLAY_KEYWORDS, bool_of, bool_or_template, cond_list, flag_of, key_str, module_defaults_of,
    num_of, opt, read_become, read_no_log, serial_of, str_list, vars_of,
};
use super::model::{BecomeOpts, Inherit, Play, Playbook, Task, VarsPrompt};
use crate::error::{Error, Result, did_you_mean};
use crate::modules::Registry;
use crate::value::{Value, Vars};
use crate::yaml::{self, Node, NodeValue};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What an `import_playbook` entry gives the plays it brings in.
#[derive(Debug, Clone, Default)]
struct Import {
    vars: Vars,
    when: Vec<String>,
    tags: Vec<String>,
}

/// A role the loader loaded.
#[derive(Debug, Clone)]
pub(crate) struct LoadedRole {
    /// Its defaults, vars and where it came from.
    pub ctx: Arc<super::model::RoleCtx>,
    /// Loaded for `include_role` when a task runs (its variables are the play's only with
    /// `public: true`), rather than when the playbook loads.
    pub dynamic: bool,
    /// Its defaults and vars are the play's (every task sees them): a role of `roles:` or an
    /// `import_role`, unless `private_role_vars` is set or the import says `public: no`.
    pub public: bool,
}

/// What [`Loader::take_loaded_roles`] returns.
#[derive(Debug, Clone, Default)]
pub(crate) struct LoadedRoles {
    /// The roles named by the play or a task, each once.
    pub names: Vec<String>,
    /// The roles loaded as dependencies, each once.
    pub dependent_names: Vec<String>,
    /// Every role loaded, in order.
    pub roles: Vec<LoadedRole>,
}

/// Settings the loader needs: the module registry (for validation) and where roles live.
pub struct Loader<'a> {
    /// Modules, for resolving module names and validating arguments.
    pub(crate) registry: &'a Registry,
    /// Extra role folders (`roles_path`).
    pub(crate) roles_path: Vec<PathBuf>,
    /// Check every module's and action's arguments while loading (`prov check`), instead of
    /// when each task runs (Ansible's rule, the default).
    pub(crate) strict: bool,
    /// The roles loaded so far, for a play's role names and public role variables.
    pub(crate) roles_loaded: std::sync::Mutex<Vec<LoadedRole>>,
    /// Extra vars (`-e`): imports' templated names see them.
    pub(crate) extra_vars: Arc<Vars>,
    /// The variables of the play being loaded (its `vars:`, and an `import_playbook`'s).
    pub(crate) play_vars: std::sync::Mutex<Arc<Vars>>,
    /// A play without `gather_facts` gathers them (Ansible's `gathering = implicit`).
    pub(crate) gather_by_default: bool,
    /// The handlers of the roles `import_role` brought into the play being loaded.
    pub(crate) handlers_imported: std::sync::Mutex<Vec<Task>>,
    /// The folder of the play being loaded (the end of the search path for task files).
    pub(crate) play_dir: std::sync::Mutex<PathBuf>,
    /// `private_role_vars` (ansible.cfg, `ANSIBLE_PRIVATE_ROLE_VARS`) when set: true makes the
    /// variables of `roles:` and `import_role` private, false those of `include_role` public.
    pub(crate) private_role_vars: Option<bool>,
}

impl<'a> Loader<'a> {
    /// A loader that resolves module names with `registry` and finds roles next to the playbook
    /// (and in any folders given with [`Loader::roles_path`]).
    pub fn new(registry: &'a Registry) -> Self {
        Loader {
            registry,
            roles_path: Vec::new(),
            strict: false,
            roles_loaded: std::sync::Mutex::new(Vec::new()),
            extra_vars: Arc::new(Vars::new()),
            play_vars: std::sync::Mutex::new(Arc::new(Vars::new())),
            gather_by_default: true,
            handlers_imported: std::sync::Mutex::new(Vec::new()),
            play_dir: std::sync::Mutex::new(PathBuf::new()),
            private_role_vars: None,
        }
    }

    /// Whether a play that does not say `gather_facts` gathers them: Ansible's `gathering`
    /// setting, `implicit` (yes, the default) or `explicit` (no).
    pub fn gather_by_default(mut self, on: bool) -> Self {
        self.gather_by_default = on;
        self
    }

    /// Extra vars (`-e`) the names of imports (`import_playbook`, `import_tasks`,
    /// `import_role`) may use in templates, as in Ansible; the play's own variables are
    /// available too.
    pub fn extra_vars(mut self, vars: Vars) -> Self {
        self.extra_vars = Arc::new(vars);
        self
    }

    /// Renders an import's templated name (`import_tasks: "{{ file }}"`) when the playbook
    /// loads, with what Ansible offers then: the role's defaults, the play's vars, the role's
    /// vars, the enclosing blocks' and task's vars, the role's parameters, extra vars (no host
    /// variables or facts).
    /// Tags given as templates, rendered with the play's and extra vars (Ansible renders them
    /// before selecting tasks); a list gives several tags; one that cannot be rendered stays.
    pub(crate) fn render_tags(&self, tags: &mut Vec<String>, parent: &Inherit) {
        if !tags.iter().any(|t| crate::template::is_template(t)) {
            return;
        }
        let (templar, ctx) = self.load_context(parent);
        let mut out = Vec::new();
        for t in tags.drain(..) {
            if !crate::template::is_template(&t) {
                out.push(t);
                continue;
            }
            match templar.render_str(&t, &ctx) {
                Ok(v) if v.kind() == minijinja::value::ValueKind::Seq => {
                    out.extend(v.try_iter().into_iter().flatten().map(|x| x.to_string()))
                }
                Ok(v) => out.extend(
                    v.to_string()
                        .split(',')
                        .map(|x| x.trim().to_string())
                        .filter(|x| !x.is_empty()),
                ),
                Err(_) => out.push(t),
            }
        }
        *tags = out;
    }

    fn load_context(
        &self,
        parent: &Inherit,
    ) -> (crate::template::Templar, crate::template::Context) {
        let play = self
            .play_vars
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut layers = Vec::new();
        if let Some(r) = &parent.role {
            // The role's magic variables are known when its imports load.
            let mut magic = Vars::new();
            magic.insert(
                "role_path".into(),
                Value::from(r.path.display().to_string()),
            );
            magic.insert("role_name".into(), Value::from(r.name.as_str()));
            magic.insert("ansible_role_name".into(), Value::from(r.name.as_str()));
            layers.push(Arc::new(magic));
            layers.push(r.defaults.clone());
        }
        layers.push(play);
        if let Some(r) = &parent.role {
            layers.push(r.vars.clone());
        }
        layers.push(parent.vars.clone());
        if let Some(r) = &parent.role {
            layers.push(r.params.clone());
        }
        layers.push(self.extra_vars.clone());
        let templar = crate::template::Templar::new();
        let ctx = crate::template::Context::new(&templar, layers);
        (templar, ctx)
    }

    pub(crate) fn render_at_load(&self, text: &str, parent: &Inherit, at: &Node) -> Result<String> {
        if !crate::template::is_template(text) {
            return Ok(text.to_string());
        }
        let (templar, ctx) = self.load_context(parent);
        templar
            .render_str(text, &ctx)
            .map(|v| v.to_string())
            .map_err(|e| {
                at.error(format!("cannot render '{text}' when the playbook loads: {}", e.msg))
                    .hint("imports are expanded when the playbook loads, with the play's and extra vars only; use include_tasks or include_role for host variables and facts")
            })
    }

    /// Strict loading (`prov check`): an unknown or missing option, a bad argument of an engine
    /// action, or a stray free-form word is an error of the playbook, reported before anything
    /// runs. Without it (`prov run`, as in Ansible) such a task fails when it runs, and only
    /// then: a skipped task never fails, and the tasks before it run. Unknown module names are
    /// an error either way.
    pub fn strict(mut self, on: bool) -> Self {
        self.strict = on;
        self
    }

    /// Ansible's `private_role_vars` setting, when set (see [`Loader`]'s field).
    pub fn private_role_vars(mut self, private: Option<bool>) -> Self {
        self.private_role_vars = private;
        self
    }

    /// Extra role folders to find roles in (Ansible's `roles_path`).
    pub fn roles_path(mut self, paths: impl IntoIterator<Item = PathBuf>) -> Self {
        self.roles_path = paths.into_iter().collect();
        self
    }
    /// The roles loaded since the last call: the names of those the play (or a task) names
    /// and of those loaded as dependencies, each once in order, and every role loaded (for
    /// their variables).
    pub(crate) fn take_loaded_roles(&self) -> LoadedRoles {
        let log = std::mem::take(&mut *self.roles_loaded.lock().unwrap_or_else(|e| e.into_inner()));
        let mut out = LoadedRoles::default();
        for r in log {
            let list = if r.ctx.dependency {
                &mut out.dependent_names
            } else {
                &mut out.names
            };
            if !list.contains(&r.ctx.name) {
                list.push(r.ctx.name.clone());
            }
            out.roles.push(r);
        }
        out
    }

    /// Loads a playbook file.
    pub fn load_playbook(&self, path: &Path) -> Result<Playbook> {
        let mut plays = Vec::new();
        let mut seen = Vec::new();
        self.load_plays(path, &mut plays, &mut seen, &Import::default())?;
        Ok(Playbook {
            path: path.to_path_buf(),
            plays,
        })
    }

    fn load_plays(
        &self,
        path: &Path,
        out: &mut Vec<Play>,
        stack: &mut Vec<PathBuf>,
        import: &Import,
    ) -> Result<()> {
        let canon = path.canonicalize().map_err(|e| Error::io(path, e))?;
        if stack.contains(&canon) {
            return Err(Error::parse(format!(
                "import_playbook loop: {} imports itself",
                path.display()
            )));
        }
        stack.push(canon.clone());
        let root = yaml::load_file(path)?;
        // Absolute, so `playbook_dir` and relative lookups never depend on how it was named
        // (`site.yml` has an empty parent).
        let dir = canon.parent().map(Path::to_path_buf).unwrap_or_default();
        self.load_items(&root, &dir, path, out, stack, import)?;
        stack.pop();
        Ok(())
    }

    /// Loads a playbook given as text (`prov adhoc` builds one): `path` names it in messages,
    /// `dir` is its playbook directory (where relative paths and lookups start).
    pub fn load_playbook_text(&self, text: &str, path: &Path, dir: &Path) -> Result<Playbook> {
        let root = yaml::load_str(text, path)?;
        let mut plays = Vec::new();
        let mut stack = Vec::new();
        self.load_items(&root, dir, path, &mut plays, &mut stack, &Import::default())?;
        Ok(Playbook {
            path: path.to_path_buf(),
            plays,
        })
    }

    /// The plays of a playbook's parsed text (`import_playbook` entries followed).
    fn load_items(
        &self,
        root: &Node,
        dir: &Path,
        path: &Path,
        out: &mut Vec<Play>,
        stack: &mut Vec<PathBuf>,
        import: &Import,
    ) -> Result<()> {
        // Its `library/` and `module_utils/` hold modules for the fallback (as in Ansible).
        crate::modules::fallback::add_adjacent(dir);
        crate::modules::fallback::add_playbook_dir(dir);
        let Some(items) = root.as_seq() else {
            return Err(root
                .error("a playbook must be a list of plays")
                .hint("start the file with `- hosts: ...`"));
        };
        if items.is_empty() {
            return Err(root
                .error(format!(
                    "A playbook must contain at least one play: {}",
                    path.display()
                ))
                .hint("start the file with `- hosts: ...`"));
        }
        for item in items {
            // The table's one playbook entry (`import_playbook`), by its name or FQCN.
            let entry = actions::IMPORT_PLAYBOOK.name;
            let imp = item.as_map().unwrap_or_default().iter().find_map(|(k, v)| {
                k.as_str()
                    .filter(|k| crate::modules::canonical_name(k) == entry)
                    .map(|_| v)
            });
            if let Some(imp) = imp {
                let file = imp
                    .as_str()
                    .ok_or_else(|| imp.error("import_playbook needs a file name"))?;
                // The entry's `vars` (over the imported plays' own), `when` and `tags` apply
                // to the plays it brings in; its file name may use them and extra vars.
                let mut inner = import.clone();
                for (k, v) in item.as_map().unwrap_or_default() {
                    match key_str(k)?.as_str() {
                        "vars" => inner.vars.extend(vars_of(v)?),
                        "when" => inner.when.extend(cond_list(v)?),
                        "tags" => inner.tags.extend(str_list(v)?),
                        _ => {}
                    }
                }
                *self.play_vars.lock().unwrap_or_else(|e| e.into_inner()) =
                    Arc::new(inner.vars.clone());
                let file = self.render_at_load(file, &Inherit::default(), imp)?;
                let p = dir.join(&file);
                if !p.exists() {
                    return Err(imp.error(format!("imported playbook {} not found", p.display())));
                }
                self.load_plays(&p, out, stack, &inner)?;
                continue;
            }
            out.push(self.load_play(item, dir, path, import)?);
        }
        Ok(())
    }

    fn load_play(&self, node: &Node, dir: &Path, file: &Path, import: &Import) -> Result<Play> {
        let map = node.as_map().ok_or_else(|| {
            node.error(format!(
                "a play must be a mapping, not {}",
                node.type_name()
            ))
        })?;
        for (k, _) in map {
            let key = key_str(k)?;
            // `user`: the old name of `remote_user` (still accepted by Ansible).
            if key == "user" {
                if node.get("remote_user").is_some() {
                    return Err(node.error(
                        "both 'user' and 'remote_user' are set for this play. The use of 'user' is deprecated, and should be removed",
                    ));
                }
                continue;
            }
            if !PLAY_KEYWORDS.contains(&key.as_str()) {
                let mut e = k.error(format!("'{key}' is not a valid attribute for a Play"));
                if let Some(s) = did_you_mean(&key, PLAY_KEYWORDS.iter().copied()) {
                    e = e.hint(format!("did you mean '{s}'?"));
                } else if self.registry.get(&key).is_some() {
                    e = e.hint("modules go in a task list: put it under `tasks:`");
                }
                return Err(e);
            }
        }
        if let Some(c) = node.get("collections") {
            crate::modules::fallback::add_collections(str_list(c)?);
        }
        let hosts = match node.get("hosts") {
            Some(h)
                if h.is_null()
                    || h.as_seq().is_some_and(|s| s.is_empty())
                    || h.as_str() == Some("") =>
            {
                return Err(h.error("Hosts list cannot be empty. Please check your playbook"));
            }
            Some(h) => match &h.value {
                NodeValue::Seq(items) => items
                    .iter()
                    .map(|i| i.scalar_text().unwrap_or_default())
                    .collect::<Vec<_>>()
                    .join(","),
                _ => h
                    .scalar_text()
                    .ok_or_else(|| h.error("hosts must be a pattern string or a list"))?,
            },
            None => {
                return Err(node
                    .error("the play has no `hosts:`")
                    .hint("add `hosts: all` (or a group name)"));
            }
        };
        let mut become_ = BecomeOpts::default();
        let mut late_flags = Vec::new();
        read_become(node, &mut become_, &mut late_flags)?;
        let check_mode =
            opt(node, "check_mode").and_then(|n| flag_of("check_mode", n, &mut late_flags));
        let diff = opt(node, "diff").and_then(|n| flag_of("diff", n, &mut late_flags));
        let mut pi = Inherit {
            tags: opt(node, "tags")
                .map(str_list)
                .transpose()?
                .unwrap_or_default(),
            environment: opt(node, "environment")
                .map(|n| vec![n.to_value()])
                .unwrap_or_default(),
            module_defaults: opt(node, "module_defaults")
                .map(module_defaults_of)
                .transpose()?
                .into_iter()
                .collect(),
            throttle: opt(node, "throttle").map(Node::to_value),
            timeout: opt(node, "timeout").map(Node::to_value),
            become_: become_.clone(),
            ignore_errors: opt(node, "ignore_errors").map(Node::to_value),
            ignore_unreachable: opt(node, "ignore_unreachable")
                .map(bool_or_template)
                .transpose()?,
            run_once: opt(node, "run_once")
                .map(bool_of)
                .transpose()?
                .unwrap_or(false),
            check_mode,
            diff,
            late_flags,
            remote_user: opt(node, "remote_user")
                .or_else(|| opt(node, "user"))
                .and_then(Node::scalar_text),
            connection: opt(node, "connection").and_then(Node::scalar_text),
            any_errors_fatal: None,
            ..Default::default()
        };
        if let Some(n) = opt(node, "no_log") {
            read_no_log(n, &mut pi.no_log, &mut pi.no_log_if)?;
        }
        pi.when.extend(import.when.iter().cloned());
        for t in &import.tags {
            if !pi.tags.contains(t) {
                pi.tags.push(t.clone());
            }
        }
        // The play's variables (an import_playbook's win), for imports' templated names.
        let mut vars = match opt(node, "vars") {
            Some(v) => vars_of(v)?,
            None => Vars::new(),
        };
        vars.extend(import.vars.iter().map(|(k, v)| (k.clone(), v.clone())));
        *self.play_vars.lock().unwrap_or_else(|e| e.into_inner()) = Arc::new(vars.clone());
        *self.play_dir.lock().unwrap_or_else(|e| e.into_inner()) = dir.to_path_buf();
        // Templated play tags are rendered with the play's variables (and extra vars).
        let mut tags = std::mem::take(&mut pi.tags);
        self.render_tags(&mut tags, &pi);
        pi.tags = tags;
        // Play keywords are inherited by every task; play vars are their own layer, not task vars.
        pi.vars = Arc::new(Vars::new());
        self.take_loaded_roles();
        self.handlers_imported
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        let mut handlers = Vec::new();
        let mut role_tasks = Vec::new();
        if let Some(roles) = opt(node, "roles").filter(|r| !r.is_null()) {
            let list = roles.as_seq().ok_or_else(|| {
                roles.error(format!(
                    "A malformed role declaration was encountered: roles must be a list, not {}",
                    roles.type_name()
                ))
            })?;
            for r in list {
                let mut tasks = self.load_role_entry(r, dir, &pi, &mut handlers, 0)?;
                role_tasks.append(&mut tasks);
            }
        }
        let section = |key: &str| -> Result<Vec<Task>> {
            match opt(node, key) {
                Some(n) if !n.is_null() && n.as_seq().is_none() => Err(n.error(format!(
                    "A malformed block was encountered while loading {key}: {} should be a list or None, not {}",
                    n.scalar_text().unwrap_or_default(),
                    n.type_name()
                ))),
                Some(n) => self.load_tasks(n, dir, &pi, false),
                None => Ok(vec![]),
            }
        };
        let pre_tasks = section("pre_tasks")?;
        let tasks = section("tasks")?;
        let post_tasks = section("post_tasks")?;
        handlers.append(
            &mut self
                .handlers_imported
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        );
        let mut play_handlers = match opt(node, "handlers") {
            Some(n) => self.load_tasks(n, dir, &pi, true)?,
            None => vec![],
        };
        handlers.append(&mut play_handlers);
        let vars_files = match opt(node, "vars_files").filter(|v| !v.is_null()) {
            Some(v) => v
                .as_seq()
                .map(|s| s.iter().map(Node::to_value).collect())
                .unwrap_or_else(|| vec![v.to_value()]),
            None => vec![],
        };
        let mut vars_prompt = Vec::new();
        if let Some(vp) = opt(node, "vars_prompt").filter(|v| !v.is_null()) {
            for p in vp
                .as_seq()
                .ok_or_else(|| vp.error("vars_prompt must be a list"))?
            {
                let name = p.get("name").and_then(Node::scalar_text).ok_or_else(|| {
                    p.error("Invalid vars_prompt data structure, missing 'name' key")
                })?;
                vars_prompt.push(VarsPrompt {
                    prompt: p
                        .get("prompt")
                        .and_then(Node::scalar_text)
                        .unwrap_or_else(|| name.clone()),
                    default: p.get("default").and_then(Node::scalar_text),
                    private: p.get("private").map(bool_of).transpose()?.unwrap_or(true),
                    confirm: p.get("confirm").map(bool_of).transpose()?.unwrap_or(false),
                    encrypt: p.get("encrypt").and_then(Node::scalar_text),
                    salt: p.get("salt").and_then(Node::scalar_text),
                    salt_size: match p.get("salt_size") {
                        Some(n) => Some(
                            n.scalar_text()
                                .and_then(|t| t.trim().parse().ok())
                                .ok_or_else(|| n.error("salt_size must be a number"))?,
                        ),
                        None => None,
                    },
                    unsafe_: p.get("unsafe").map(bool_of).transpose()?.unwrap_or(false),
                    name,
                    loc: p.loc.clone(),
                });
            }
        }
        let serial = match opt(node, "serial") {
            None => vec![],
            Some(s) => match &s.value {
                NodeValue::Seq(items) => items.iter().map(serial_of).collect::<Result<_>>()?,
                _ => vec![serial_of(s)?],
            },
        };
        let strategy = match opt(node, "strategy") {
            Some(n) => {
                let s = n.scalar_text().unwrap_or_default();
                // A template is rendered when the play starts.
                if !crate::template::is_template(&s) {
                    super::model::free_strategy(&s).map_err(|e| e.at(&n.loc))?;
                }
                s
            }
            None => "linear".to_string(),
        };
        let loaded = self.take_loaded_roles();
        Ok(Play {
            role_names: loaded.names,
            dependent_role_names: loaded.dependent_names,
            public_roles: loaded
                .roles
                .into_iter()
                .filter(|r| !r.dynamic && r.public)
                .map(|r| r.ctx)
                .collect(),
            name: opt(node, "name").and_then(Node::scalar_text),
            hosts,
            loc: node.loc.clone(),
            vars: Arc::new(vars),
            vars_files,
            vars_prompt,
            gather_facts: opt(node, "gather_facts")
                .map(bool_of)
                .transpose()?
                .unwrap_or(self.gather_by_default),
            gather_args: ["gather_subset", "gather_timeout", "fact_path"]
                .into_iter()
                .filter_map(|k| opt(node, k).map(|n| (k.to_string(), n.to_value())))
                .collect(),
            become_,
            environment: pi.environment.clone(),
            order: opt(node, "order").and_then(Node::scalar_text),
            serial,
            strategy,
            pre_tasks,
            role_tasks,
            tasks,
            post_tasks,
            handlers,
            any_errors_fatal: opt(node, "any_errors_fatal")
                .map(bool_of)
                .transpose()?
                .unwrap_or(false),
            max_fail_percentage: opt(node, "max_fail_percentage").map(num_of).transpose()?,
            force_handlers: opt(node, "force_handlers").map(bool_of).transpose()?,
            dir: dir.to_path_buf(),
            file: file.to_path_buf(),
            keywords: pi,
        })
    }
}
