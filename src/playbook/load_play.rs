//! Loading a playbook file and its plays (`import_playbook` expanded).

use super::actions;
use super::keywords::{
    PLAY_KEYWORDS, bool_of, key_str, module_defaults_of, num_of, opt, read_become, read_no_log,
    serial_of, str_list, vars_of,
};
use super::model::{BecomeOpts, Inherit, Play, Playbook, Task, VarsPrompt};
use crate::error::{Error, Result, did_you_mean};
use crate::modules::Registry;
use crate::value::Vars;
use crate::yaml::{self, Node, NodeValue};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Settings the loader needs: the module registry (for validation) and where roles live.
pub struct Loader<'a> {
    /// Modules, for resolving module names and validating arguments.
    pub(crate) registry: &'a Registry,
    /// Extra role folders (`roles_path`).
    pub(crate) roles_path: Vec<PathBuf>,
    /// Check every module's and action's arguments while loading (`prov check`), instead of
    /// when each task runs (Ansible's rule, the default).
    pub(crate) strict: bool,
    /// The roles loaded so far (name, as a dependency), for a play's role names.
    pub(crate) roles_loaded: std::sync::Mutex<Vec<(String, bool)>>,
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
        }
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

    /// Extra role folders to find roles in (Ansible's `roles_path`).
    pub fn roles_path(mut self, paths: impl IntoIterator<Item = PathBuf>) -> Self {
        self.roles_path = paths.into_iter().collect();
        self
    }
    /// The roles loaded since the last call, each once in order: those the play (or a task)
    /// names, and those loaded as dependencies.
    pub(crate) fn take_loaded_roles(&self) -> (Vec<String>, Vec<String>) {
        let log = std::mem::take(&mut *self.roles_loaded.lock().unwrap_or_else(|e| e.into_inner()));
        let (mut own, mut deps) = (Vec::new(), Vec::new());
        for (name, dependency) in log {
            let list = if dependency { &mut deps } else { &mut own };
            if !list.contains(&name) {
                list.push(name);
            }
        }
        (own, deps)
    }

    /// Loads a playbook file.
    pub fn load_playbook(&self, path: &Path) -> Result<Playbook> {
        let mut plays = Vec::new();
        let mut seen = Vec::new();
        self.load_plays(path, &mut plays, &mut seen)?;
        Ok(Playbook {
            path: path.to_path_buf(),
            plays,
        })
    }

    fn load_plays(&self, path: &Path, out: &mut Vec<Play>, stack: &mut Vec<PathBuf>) -> Result<()> {
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
        let Some(items) = root.as_seq() else {
            return Err(root
                .error("a playbook must be a list of plays")
                .hint("start the file with `- hosts: ...`"));
        };
        for item in items {
            // The table's one playbook entry (`import_playbook`), by its name or FQCN.
            let entry = actions::IMPORT_PLAYBOOK.name;
            if let Some(imp) = item
                .get(entry)
                .or_else(|| item.get(&format!("ansible.builtin.{entry}")))
            {
                let file = imp
                    .as_str()
                    .ok_or_else(|| imp.error("import_playbook needs a file name"))?;
                let p = dir.join(file);
                if !p.exists() {
                    return Err(imp.error(format!("imported playbook {} not found", p.display())));
                }
                self.load_plays(&p, out, stack)?;
                continue;
            }
            out.push(self.load_play(item, &dir, path)?);
        }
        stack.pop();
        Ok(())
    }

    fn load_play(&self, node: &Node, dir: &Path, file: &Path) -> Result<Play> {
        let map = node.as_map().ok_or_else(|| {
            node.error(format!(
                "a play must be a mapping, not {}",
                node.type_name()
            ))
        })?;
        for (k, _) in map {
            let key = key_str(k)?;
            if !PLAY_KEYWORDS.contains(&key.as_str()) {
                let mut e = k.error(format!("'{key}' is not a valid play keyword"));
                if let Some(s) = did_you_mean(&key, PLAY_KEYWORDS.iter().copied()) {
                    e = e.hint(format!("did you mean '{s}'?"));
                } else if self.registry.get(&key).is_some() {
                    e = e.hint("modules go in a task list: put it under `tasks:`");
                }
                return Err(e);
            }
        }
        let hosts = match node.get("hosts") {
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
        read_become(node, &mut become_)?;
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
                .map(bool_of)
                .transpose()?
                .unwrap_or(false),
            run_once: opt(node, "run_once")
                .map(bool_of)
                .transpose()?
                .unwrap_or(false),
            check_mode: opt(node, "check_mode").map(bool_of).transpose()?,
            diff: opt(node, "diff").map(bool_of).transpose()?,
            remote_user: opt(node, "remote_user").and_then(Node::scalar_text),
            connection: opt(node, "connection").and_then(Node::scalar_text),
            any_errors_fatal: None,
            ..Default::default()
        };
        if let Some(n) = opt(node, "no_log") {
            read_no_log(n, &mut pi.no_log, &mut pi.no_log_if)?;
        }
        // Play keywords are inherited by every task; play vars are their own layer, not task vars.
        pi.vars = Arc::new(Vars::new());
        self.take_loaded_roles();
        let mut handlers = Vec::new();
        let mut role_tasks = Vec::new();
        let mut seen_roles = HashSet::new();
        if let Some(roles) = opt(node, "roles") {
            let list = roles
                .as_seq()
                .ok_or_else(|| roles.error("roles must be a list"))?;
            for r in list {
                let mut tasks =
                    self.load_role_entry(r, dir, &pi, &mut handlers, &mut seen_roles, 0)?;
                role_tasks.append(&mut tasks);
            }
        }
        let section = |key: &str| -> Result<Vec<Task>> {
            match opt(node, key) {
                Some(n) => self.load_tasks(n, dir, &pi, false),
                None => Ok(vec![]),
            }
        };
        let pre_tasks = section("pre_tasks")?;
        let tasks = section("tasks")?;
        let post_tasks = section("post_tasks")?;
        let mut play_handlers = match opt(node, "handlers") {
            Some(n) => self.load_tasks(n, dir, &pi, true)?,
            None => vec![],
        };
        handlers.append(&mut play_handlers);
        let vars = match opt(node, "vars") {
            Some(v) => vars_of(v)?,
            None => Vars::new(),
        };
        let vars_files = match opt(node, "vars_files") {
            Some(v) => v
                .as_seq()
                .map(|s| s.iter().map(Node::to_value).collect())
                .unwrap_or_else(|| vec![v.to_value()]),
            None => vec![],
        };
        let mut vars_prompt = Vec::new();
        if let Some(vp) = opt(node, "vars_prompt") {
            for p in vp
                .as_seq()
                .ok_or_else(|| vp.error("vars_prompt must be a list"))?
            {
                let name = p
                    .get("name")
                    .and_then(Node::scalar_text)
                    .ok_or_else(|| p.error("a vars_prompt entry needs `name`"))?;
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
        let (role_names, dependent_role_names) = self.take_loaded_roles();
        Ok(Play {
            role_names,
            dependent_role_names,
            name: opt(node, "name").and_then(Node::scalar_text),
            hosts,
            loc: node.loc.clone(),
            vars: Arc::new(vars),
            vars_files,
            vars_prompt,
            gather_facts: opt(node, "gather_facts")
                .map(bool_of)
                .transpose()?
                .unwrap_or(true),
            become_,
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
            force_handlers: opt(node, "force_handlers")
                .map(bool_of)
                .transpose()?
                .unwrap_or(false),
            dir: dir.to_path_buf(),
            file: file.to_path_buf(),
        })
    }
}
