//! Loading task lists: task and block keywords, the action and its arguments, static imports
//! (`import_tasks`, `import_role`) expanded in place, and include `apply:`.

use super::Loader;
use super::actions::{self, ActionArgs};
use super::free_form::{is_all_template, split_action_string, split_free_form, takes_free_form};
use super::include::enter_include;
use super::keywords::{
    BLOCK_KEYWORDS, TASK_KEYWORDS, bool_of, bool_or_template, cond_list, flag_of, key_str,
    loop_control_of, module_defaults_for, module_defaults_of, read_become, read_no_log, str_list,
    vars_of,
};
use super::model::{Deferred, Inherit, LoopKind, Task, TaskKind};
use super::roles::{RoleFiles, resolve_tasks_file};
use crate::error::{Error, Location, Result, did_you_mean};
use crate::modules::{canonical_name, validate_args};
use crate::value::{Value, Vars};
use crate::yaml::{self, Node, NodeValue};
use std::path::{Path, PathBuf};
use std::sync::Arc;

impl Loader<'_> {
    /// Loads a task list (a file's root or a section); `handlers` allows `listen`.
    pub fn load_tasks(
        &self,
        node: &Node,
        base: &Path,
        parent: &Inherit,
        handlers: bool,
    ) -> Result<Vec<Task>> {
        if node.is_null() {
            return Ok(vec![]);
        }
        let items = node.as_seq().ok_or_else(|| {
            node.error(format!(
                "a task list must be a list, not {}",
                node.type_name()
            ))
        })?;
        let mut out = Vec::new();
        for item in items {
            match self.load_task(item, base, parent, handlers)? {
                Loaded::One(t) => out.push(*t),
                Loaded::Many(mut ts) => out.append(&mut ts),
            }
        }
        Ok(out)
    }

    fn load_task(
        &self,
        node: &Node,
        base: &Path,
        parent: &Inherit,
        handler: bool,
    ) -> Result<Loaded> {
        let map = node.as_map().ok_or_else(|| {
            node.error(format!(
                "a task must be a mapping, not {}",
                node.type_name()
            ))
        })?;
        let is_block = node.get("block").is_some();
        if is_block && handler {
            return Err(node.error("Using a block as a handler is not supported."));
        }
        let mut t = Task::empty(
            node.loc.clone(),
            TaskKind::Meta("noop".into()),
            base.to_path_buf(),
        );
        let mut action: Option<(String, &Node, &Node)> = None; // (name, key node, value node)
        let mut extra_args: Option<&Node> = None;
        for (k, v) in map {
            let key = key_str(k)?;
            if is_block && !BLOCK_KEYWORDS.contains(&key.as_str()) {
                let mut e = k.error(format!("'{key}' is not a valid keyword on a block"));
                if let Some(s) = did_you_mean(&key, BLOCK_KEYWORDS.iter().copied()) {
                    e = e.hint(format!("did you mean '{s}'?"));
                } else {
                    e = e.hint("a block holds tasks under `block:`; modules cannot be used on the block itself");
                }
                return Err(e);
            }
            if common_keyword(&mut t, &key, v)? {
                continue;
            }
            match key.as_str() {
                "block" | "rescue" | "always" => {}
                "loop" => t.loop_ = Some((LoopKind::Loop, v.to_value())),
                "loop_control" => t.loop_control = loop_control_of(v)?,
                "register" => {
                    // Checked when loaded, as Ansible does (a bad name fails the playbook
                    // before anything runs, even on a task that would be skipped).
                    let name = super::variable_name(&v.to_value()).map_err(|e| {
                        v.error(format!("Invalid 'register' specified: {}", e.msg))
                            .hint("variable names are strings that start with a letter or underscore and hold only letters, digits and underscores")
                    })?;
                    t.register = Some(name)
                }
                "notify" => t.notify = str_list(v)?,
                "listen" => {
                    if !handler {
                        return Err(k.error("`listen` is only valid on handlers"));
                    }
                    t.listen = str_list(v)?
                }
                "changed_when" => t.changed_when = Some(cond_list(v)?),
                "failed_when" => t.failed_when = Some(cond_list(v)?),
                "delegate_facts" => {
                    t.delegate_facts =
                        flag_of("delegate_facts", v, &mut t.late_flags).unwrap_or(false)
                }
                "until" => {
                    let c = cond_list(v)?;
                    t.until = Some(if c.len() == 1 {
                        c[0].clone()
                    } else {
                        format!("({})", c.join(") and ("))
                    });
                }
                "retries" => t.retries = Some(v.to_value()),
                "delay" => t.delay = Some(v.to_value()),
                "args" => extra_args = Some(v),
                "action" | "local_action" => {
                    if let Some((prev, _, _)) = &action {
                        return Err(
                            k.error(format!("conflicting action statements: {prev}, {key}"))
                        );
                    }
                    if key == "local_action" {
                        t.delegate_to = Some("localhost".into());
                    }
                    action = Some((key.clone(), k, v));
                }
                "async" => t.async_ = Some(v.to_value()),
                "poll" => t.poll = Some(v.to_value()),
                k2 if k2.starts_with("with_") => {
                    let name = &k2[5..];
                    let name = if name == "cartesian" { "nested" } else { name };
                    if !crate::template::lookups::LOOKUPS.contains(&name)
                        && !crate::plugins::jinja::python_lookup(name)
                    {
                        let mut e =
                            k.error(format!("with_{name}: there is no lookup named '{name}'"));
                        e = match did_you_mean(
                            name,
                            crate::template::lookups::LOOKUPS.iter().copied(),
                        ) {
                            Some(s) => e.hint(format!("did you mean 'with_{s}'?")),
                            None => e.hint("use `loop:` with a filter, or `query()`"),
                        };
                        return Err(e);
                    }
                    t.loop_ = Some((LoopKind::With(name.to_string()), v.to_value()));
                }
                _ => {
                    let canon = canonical_name(&key);
                    let builtin_elsewhere = !self.strict
                        && crate::modules::is_ansible_builtin(canon)
                        && self.registry.get(canon).is_none();
                    let native = actions::engine_action(canon).is_some()
                        || self.registry.get(canon).is_some();
                    // Not native: Ansible's implementation runs (found under the name as
                    // written, `ns.coll.x` included).
                    let fallback = !native
                        && (builtin_elsewhere
                            || crate::modules::fallback::find(&key).is_some()
                            || crate::modules::fallback::action_alias(&key).is_some()
                            || crate::modules::fallback::action_plugin(&key).is_some());
                    if native || fallback {
                        if let Some((prev, _, _)) = &action {
                            return Err(
                                k.error(format!("conflicting action statements: {prev}, {key}"))
                            );
                        }
                        let name = if native { canon } else { key.as_str() };
                        t.builtin_fqcn = key.starts_with("ansible.builtin.");
                        action = Some((name.to_string(), k, v));
                    } else {
                        let cands: Vec<&str> = TASK_KEYWORDS
                            .iter()
                            .copied()
                            .chain(self.registry.names())
                            .chain(actions::ACTIONS.iter().map(|a| a.name))
                            .collect();
                        let e = k.error(format!(
                            "couldn't resolve module/action '{key}': it is not a module or task keyword prov knows"
                        ));
                        let s = did_you_mean(canon, cands);
                        return Err(e.hint(crate::modules::fallback::hint(&key, s)));
                    }
                }
            }
        }
        read_become(node, &mut t.become_, &mut t.late_flags)?;
        self.render_tags(&mut t.tags, parent);
        if is_block {
            let me = Inherit::from_task(&t);
            let mut child = parent.clone();
            merge_inherit(&mut child, &me);
            own_no_log(&mut child, &t);
            let sub = |key: &str| -> Result<Vec<Task>> {
                match node.get(key) {
                    Some(n) => self.load_tasks(n, base, &child, handler),
                    None => Ok(vec![]),
                }
            };
            let block = sub("block")?;
            let rescue = sub("rescue")?;
            let always = sub("always")?;
            let mut bt = Task::empty(
                node.loc.clone(),
                TaskKind::Block {
                    block,
                    rescue,
                    always,
                },
                base.to_path_buf(),
            );
            bt.name = t.name;
            bt.role = parent.role.clone();
            // Keywords already flowed into the children; the block itself keeps only its name.
            return Ok(Loaded::One(Box::new(bt)));
        }
        let Some((mut aname, akey, aval)) = action else {
            return Err(node
                .error("this task has no action (no module name)")
                .hint("a task needs one module, e.g. `command: echo hi`"));
        };
        let args_node_value: Value;
        let mut free: Option<String> = None;
        if aname == "action" || aname == "local_action" {
            // `action: copy src=a dest=b` or `action: {module: copy, src: a}`
            match &aval.value {
                NodeValue::Map(_) => {
                    let m = aval
                        .get("module")
                        .and_then(Node::scalar_text)
                        .ok_or_else(|| aval.error("`action:` as a mapping needs `module:`"))?;
                    // `module:` may carry k=v words too; Ansible's order: the mapping's own
                    // keys, then those words, then its `args:` mapping.
                    let (m, rest) = split_action_string(&m).map_err(|e| e.at(&aval.loc))?;
                    aname = canonical_name(m.trim()).to_string();
                    let mut entries: Vars = Vars::new();
                    for (k, v) in aval.as_map().unwrap() {
                        if !matches!(k.as_str(), Some("module" | "args")) {
                            entries.insert(key_str(k)?, v.to_value());
                        }
                    }
                    if !rest.is_empty() {
                        let doc = self.registry.get(&aname).map(|m| m.doc());
                        let (raw, kv) =
                            split_free_form(&rest, doc, &aname).map_err(|e| e.at(&aval.loc))?;
                        entries.extend(kv.into_iter().map(|(k, v)| (k, Value::from(v))));
                        free = raw;
                    }
                    if let Some(inner) = aval.get("args").and_then(Node::as_map) {
                        for (k, v) in inner {
                            entries.insert(key_str(k)?, v.to_value());
                        }
                    }
                    args_node_value = crate::value::vars_value(&entries);
                }
                _ => {
                    let text = aval.scalar_text().unwrap_or_default();
                    let (m, rest) = split_action_string(&text).map_err(|e| e.at(&aval.loc))?;
                    aname = canonical_name(&m).to_string();
                    if !rest.is_empty() {
                        free = Some(rest);
                    }
                    args_node_value = Value::from(());
                }
            }
            if !crate::template::is_template(&aname) {
                self.known_action(&aname, aval)?;
            }
        } else {
            match &aval.value {
                NodeValue::Map(_) => args_node_value = aval.to_value(),
                NodeValue::Null => args_node_value = Value::from(()),
                NodeValue::Seq(_)
                    if actions::engine_action(&aname).is_some_and(|a| a.flags.string_or_map) =>
                {
                    return Err(aval.error(format!("{aname} takes a string or a mapping")));
                }
                NodeValue::Seq(_) => {
                    return Err(aval.error(format!(
                        "the arguments of '{aname}' must be a mapping or a k=v string, not a list"
                    )));
                }
                _ => {
                    free = aval.scalar_text();
                    args_node_value = Value::from(());
                }
            }
        }
        // The arguments given as mappings: `args:` (a mapping, or one template that renders
        // to a mapping when the task runs), then the action's own (which win, as in Ansible).
        let mut mapped = Vars::new();
        let mut templates = Vec::new();
        if let Some(ea) = extra_args {
            if let Some(m) = ea.as_map() {
                for (k, v) in m {
                    mapped.insert(key_str(k)?, v.to_value());
                }
            } else if let Some(t) = ea.as_str().filter(|t| is_all_template(t)) {
                templates.push(t.to_string());
            } else if !ea.is_null() {
                return Err(ea
                    .error("`args:` must be a mapping")
                    .hint("or one template that gives a mapping: args: \"{{ my_args }}\""));
            }
        }
        if let Ok(iter) = args_node_value.try_iter() {
            for k in iter {
                let v = args_node_value.get_item(&k).unwrap_or_default();
                mapped.insert(k.to_string(), v);
            }
        }
        // A templated action name, or an ansible.builtin module prov lacks: the task is built
        // (or fails) when it runs.
        if crate::template::is_template(&aname)
            || (actions::engine_action(&aname).is_none() && self.registry.get(&aname).is_none())
        {
            if self.strict && templates.is_empty() && !crate::template::is_template(&aname) {
                check_fallback_args(&aname, free.as_deref(), &mapped, aval, extra_args)?;
            }
            t.kind = deferred(aname, free, mapped, templates, base);
            t.inherit(parent);
            return Ok(Loaded::One(Box::new(t)));
        }
        // Build the argument map: module_defaults (lowest), the mappings (`args:`, then the
        // action's), then the free form's words (k=v split), as in Ansible.
        let doc = self.registry.get(&aname).map(|m| m.doc());
        let layers: Vec<Value> = parent
            .module_defaults
            .iter()
            .chain(t.module_defaults.iter())
            .cloned()
            .collect();
        let mut args = module_defaults_for(&layers, &aname);
        let mut words = Vars::new();
        if let Some(text) = &free {
            let (raw, kv) = split_free_form(text, doc, &aname).map_err(|e| e.at(&aval.loc))?;
            if let Some(raw) = raw {
                if takes_free_form(doc, &aname) {
                    let key = doc.and_then(|d| d.free_form).unwrap_or("_raw_params");
                    words.insert(key.to_string(), Value::from(raw));
                } else if is_all_template(&raw) {
                    // Ansible renders it into the arguments when the task runs.
                    templates.push(raw);
                } else if self.strict {
                    return Err(aval
                        .error(format!("'{raw}' is not a k=v argument of '{aname}'"))
                        .hint("write arguments as `key=value` or as a YAML mapping"));
                } else {
                    // Not an error of the playbook in Ansible: the task fails when it runs.
                    t.kind = deferred(aname, free, mapped, templates, base);
                    t.inherit(parent);
                    return Ok(Loaded::One(Box::new(t)));
                }
            }
            for (k, v) in kv {
                words.insert(k, Value::from(v));
            }
        }
        let action = actions::engine_action(&aname);
        if handler && matches!(aname.as_str(), "include_role" | "import_role") {
            return Err(akey.error(format!("Using '{aname}' as a handler is not supported.")));
        }
        // A role's `*_from` must be a string: checked when the playbook loads, as in Ansible.
        if matches!(aname.as_str(), "include_role" | "import_role") {
            for k in ["tasks_from", "vars_from", "defaults_from", "handlers_from"] {
                if let Some(v) = words.get(k).or_else(|| mapped.get(k))
                    && v.as_str().is_none()
                {
                    return Err(aval.error(format!(
                        "Expected a string for {k} but got <class '{}'> instead",
                        crate::util::python::type_name(v)
                    )));
                }
            }
        }
        if !templates.is_empty() {
            if action.is_some_and(|a| a.flags.static_import) {
                return Err(aval
                    .error(format!("the arguments of {aname} cannot be one template"))
                    .hint("imports are expanded when the playbook loads; use include_tasks or include_role"));
            }
            t.kind = deferred(aname, free, mapped, templates, base);
            t.inherit(parent);
            return Ok(Loaded::One(Box::new(t)));
        }
        args.extend(mapped.iter().map(|(k, v)| (k.clone(), v.clone())));
        args.extend(words);
        // Only Ansible itself passes `_ansible_*` arguments (to modules other than the free-form
        // ones): a task that sets one does not load, as in ansible-core.
        if !matches!(
            aname.as_str(),
            "command" | "shell" | "raw" | "script" | "win_command" | "win_shell"
        ) && let Some(k) = args.keys().find(|k| k.starts_with("_ansible_"))
        {
            return Err(aval.error(format!(
                "Invalid parameter specified beginning with keyword '_ansible_' for action \
                 '{aname}': '{k}'. The prefix '_ansible_' is reserved for internal use only."
            )));
        }
        // An engine action builds its task from the table; anything else is a module.
        t.kind = match action {
            Some(a) => {
                let load = ActionArgs {
                    name: &aname,
                    args: &args,
                    at: &aval.loc,
                    base,
                };
                // Includes are checked when they load, as imports are (Ansible's
                // TaskInclude and IncludeRole): their errors name the action as written.
                let include = matches!(a.name, "include_tasks" | "include_role");
                match a.load_task(&load) {
                    Some(Ok(kind)) => kind,
                    Some(Err(mut e)) if include => {
                        if let Some(written) = akey.scalar_text() {
                            e.msg = e
                                .msg
                                .replace(&format!("for {aname}"), &format!("for {written}"));
                        }
                        // At the task, as Ansible points its error.
                        e.loc = Some(node.loc.clone());
                        return Err(e);
                    }
                    // Outside strict loading, a run-time action with bad arguments fails when
                    // it runs (with this same error), as in Ansible.
                    Some(Err(_)) if !self.strict && !a.flags.static_import => {
                        t.kind = deferred(aname, free, mapped, vec![], base);
                        t.inherit(parent);
                        return Ok(Loaded::One(Box::new(t)));
                    }
                    Some(Err(e)) => return Err(e),
                    None => {
                        return Err(aval
                            .error(format!("{aname} is a playbook entry, not a task"))
                            .hint(format!("put `- {aname}: other.yml` in the playbook's list of plays, beside them; for a task file use import_tasks or include_tasks")));
                    }
                }
            }
            None => TaskKind::Module {
                name: aname.to_string(),
                args: crate::value::vars_value(&args),
            },
        };
        // `meta: end_role` ends a role's run: an error elsewhere, as in Ansible.
        if let TaskKind::Meta(m) = &t.kind
            && m == "end_role"
        {
            if handler {
                return Err(aval.error("Cannot execute 'end_role' from a handler"));
            }
            if parent.role.is_none() {
                return Err(aval.error("Cannot execute 'end_role' from outside of a role"));
            }
        }
        // `apply:` (include_tasks, include_role): keywords for every included task.
        if let TaskKind::IncludeTasks { apply, .. } | TaskKind::IncludeRole { apply, .. } =
            &mut t.kind
            && let Some(an) = extra_args
                .and_then(|e| e.get("apply"))
                .or_else(|| aval.get("apply"))
        {
            if !action.is_some_and(|a| a.flags.takes_apply) {
                return Err(an
                    .error(format!("Invalid options for {aname}: apply"))
                    .hint("imports pass their own keywords to the imported tasks; `apply` is for include_tasks and include_role"));
            }
            *apply = Some(Box::new(apply_of(an)?));
        }
        // Module options are checked here only when loading strictly (`prov check`); a run
        // checks them when the task runs, as Ansible does.
        if self.strict
            && let Some(d) = doc
            && let TaskKind::Module { args, .. } = &t.kind
        {
            let raw = crate::value::value_to_vars(args);
            validate_args(d, &raw).map_err(|e| {
                let loc = arg_loc(aval, extra_args, &e).unwrap_or_else(|| akey.loc.clone());
                e.at(&loc)
            })?;
        }
        // Static imports expand now and inherit this task's keywords.
        let me = Inherit::from_task(&t);
        let mut child = parent.clone();
        merge_inherit(&mut child, &me);
        own_no_log(&mut child, &t);
        let static_import = action.is_some_and(|a| a.flags.static_import);
        match (static_import, &t.kind) {
            (true, TaskKind::IncludeTasks { file, .. }) => {
                let file = self.render_at_load(file.as_str().unwrap_or_default(), &child, aval)?;
                let play_dir = self
                    .play_dir
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .clone();
                let path = resolve_tasks_file(
                    base,
                    &file,
                    parent.role.as_deref(),
                    handler,
                    &play_dir,
                    (&aval.loc.file, &parent.include_chain),
                    false,
                );
                if !path.exists() {
                    return Err(crate::error::Error::new(
                        crate::error::ErrorKind::Io,
                        crate::error::file_not_found_msg(&path),
                    )
                    .at(&aval.loc));
                }
                child.include_chain =
                    enter_include(&parent.include_chain, &node.loc, &path, false)?;
                let node = yaml::load_file(&path)?;
                let nb = path
                    .parent()
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| base.to_path_buf());
                let nb = if parent.role.is_some() {
                    base.to_path_buf()
                } else {
                    nb
                };
                return Ok(Loaded::Many(self.load_tasks(&node, &nb, &child, handler)?));
            }
            (
                true,
                TaskKind::IncludeRole {
                    name,
                    tasks_from,
                    vars_from,
                    defaults_from,
                    handlers_from,
                    allow_duplicates,
                    public,
                    rolespec_validate,
                    ..
                },
            ) => {
                let name = self.render_at_load(&name.to_string(), &child, aval)?;
                let from = |f: &Option<String>| {
                    f.as_deref()
                        .map(|t| self.render_at_load(t, &child, aval))
                        .transpose()
                };
                let (tasks_from, vars_from, defaults_from, handlers_from) = (
                    from(tasks_from)?,
                    from(vars_from)?,
                    from(defaults_from)?,
                    from(handlers_from)?,
                );
                let mut hs = Vec::new();
                let ident = super::roles::include_ident(&child);
                let tasks =
                    self.load_role(
                        &name,
                        aval,
                        base,
                        &child,
                        Vars::new(),
                        RoleFiles {
                            tasks: tasks_from.as_deref(),
                            vars: vars_from.as_deref(),
                            defaults: defaults_from.as_deref(),
                            handlers: handlers_from.as_deref(),
                            ident: &ident,
                            allow_duplicates: Some(match allow_duplicates {
                                Some(v) => crate::value::truthy(&Value::from(
                                    self.render_at_load(&v.to_string(), &child, aval)?,
                                )),
                                None => true,
                            }),
                            public: match public {
                                Some(v) => Some(crate::value::truthy(&Value::from(
                                    self.render_at_load(&v.to_string(), &child, aval)?,
                                ))),
                                None => None,
                            },
                            validate: match rolespec_validate {
                                Some(v) => Some(crate::value::truthy(&Value::from(
                                    self.render_at_load(&v.to_string(), &child, aval)?,
                                ))),
                                None => None,
                            },
                        },
                        &mut hs,
                        0,
                        false,
                    );
                let tasks = tasks?;
                // The imported role's handlers are the play's.
                self.handlers_imported
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .append(&mut hs);
                return Ok(Loaded::Many(tasks));
            }
            _ => {}
        }
        // A dynamic include's own `vars` are include params for itself and what it brings in.
        let own_vars = matches!(
            t.kind,
            TaskKind::IncludeTasks { .. } | TaskKind::IncludeRole { .. }
        )
        .then(|| t.vars.clone());
        if own_vars.is_some() {
            t.inherited_tags = Some(parent.tags.clone());
        }
        t.inherit(parent);
        if let Some(own) = own_vars.filter(|v| !v.is_empty()) {
            let mut v = (*parent.include_params).clone();
            v.extend(own.iter().map(|(k, x)| (k.clone(), x.clone())));
            t.include_params = Arc::new(v);
        }
        Ok(Loaded::One(Box::new(t)))
    }
}

enum Loaded {
    One(Box<Task>),
    Many(Vec<Task>),
}

impl Loader<'_> {
    /// An error unless `name` (canonical) is an engine action or a module of the registry.
    fn known_action(&self, name: &str, at: &Node) -> Result<()> {
        if actions::engine_action(name).is_some()
            || self.registry.get(name).is_some()
            || (!self.strict && crate::modules::is_ansible_builtin(name))
            || crate::modules::fallback::find(name).is_some()
            || crate::modules::fallback::action_alias(name).is_some()
            || crate::modules::fallback::action_plugin(name).is_some()
        {
            return Ok(());
        }
        let names = self
            .registry
            .names()
            .chain(actions::ACTIONS.iter().map(|a| a.name));
        let e = at.error(format!(
            "couldn't resolve module/action '{name}': prov has no module of that name"
        ));
        let s = did_you_mean(name, names);
        Err(e.hint(crate::modules::fallback::hint(name, s)))
    }
}

/// A task built when it runs (see [`TaskKind::Deferred`]).
/// `prov check` of a fallback module's arguments against its documented options (when prov
/// can read them: [`crate::modules::fallback::docs::module_doc`]), with the same messages as
/// for native modules; module_defaults are not part of the check.
fn check_fallback_args(
    name: &str,
    free: Option<&str>,
    mapped: &Vars,
    aval: &Node,
    extra_args: Option<&Node>,
) -> Result<()> {
    let Some(found) = crate::modules::fallback::find(name) else {
        return Ok(());
    };
    let Some(doc) = crate::modules::fallback::docs::module_doc(&found) else {
        return Ok(());
    };
    let mut raw = Vars::new();
    if let Some(text) = free {
        let (rest, kv) = split_free_form(text, Some(doc), name).map_err(|e| e.at(&aval.loc))?;
        if rest.is_some() {
            // a free-form module (Ansible's `_raw_params`): nothing to check by name
            return Ok(());
        }
        for (k, v) in kv {
            raw.insert(k, Value::from(v));
        }
    }
    for (k, v) in mapped {
        raw.insert(k.clone(), v.clone());
    }
    validate_args(doc, &raw).map_err(|e| {
        let loc = arg_loc(aval, extra_args, &e).unwrap_or_else(|| aval.loc.clone());
        e.at(&loc)
    })?;
    Ok(())
}

fn deferred(
    name: String,
    free: Option<String>,
    args: Vars,
    template: Vec<String>,
    base: &Path,
) -> TaskKind {
    TaskKind::Deferred(Box::new(Deferred {
        name,
        free,
        args,
        template,
        base: base.to_path_buf(),
    }))
}

/// Block keywords an include's `apply:` does not take (the included tasks carry no `notify`
/// or `delegate_facts` down from a block).
const NOT_IN_APPLY: &[&str] = &["block", "rescue", "always", "delegate_facts"];

/// The keywords of a task, a block and an include's `apply:` that mean the same on all three
/// (they end up in what the task's children inherit); true when `key` was one of them.
fn common_keyword(t: &mut Task, key: &str, v: &Node) -> Result<bool> {
    match key {
        "name" => t.name = v.scalar_text(),
        "when" => t.when = cond_list(v)?,
        "tags" => t.tags = str_list(v)?,
        "vars" => t.vars = Arc::new(vars_of(v)?),
        "environment" => t.environment = vec![v.to_value()],
        "module_defaults" => t.module_defaults = vec![module_defaults_of(v)?],
        "ignore_errors" => t.ignore_errors = Some(v.to_value()),
        "ignore_unreachable" => t.ignore_unreachable = Some(bool_or_template(v)?),
        "delegate_to" => t.delegate_to = v.scalar_text(),
        "run_once" => match v.as_str().filter(|s| crate::template::is_template(s)) {
            Some(s) => t.run_once_if = Some(s.to_string()),
            None => t.run_once = bool_of(v)?,
        },
        "no_log" => {
            read_no_log(v, &mut t.no_log, &mut t.no_log_if)?;
            t.no_log_given = true;
        }
        "check_mode" => t.check_mode = flag_of("check_mode", v, &mut t.late_flags),
        "diff" => t.diff = flag_of("diff", v, &mut t.late_flags),
        "remote_user" => t.remote_user = v.scalar_text(),
        "connection" => t.connection = v.scalar_text(),
        "any_errors_fatal" => {
            t.any_errors_fatal = flag_of("any_errors_fatal", v, &mut t.late_flags)
        }
        "throttle" => t.throttle = Some(v.to_value()),
        "timeout" => t.timeout = Some(v.to_value()),
        // become* are read as a group (read_become); the rest are accepted and unused.
        "become" | "become_user" | "become_method" | "become_flags" | "become_exe"
        | "collections" | "debugger" | "port" => {}
        _ => return Ok(false),
    }
    Ok(true)
}

/// An include's `apply:` mapping: task keywords given to every included task, as if the
/// included tasks were in a block with them (Ansible's meaning).
fn apply_of(node: &Node) -> Result<Inherit> {
    let map = node.as_map().ok_or_else(|| {
        node.error(format!(
            "`apply` must be a mapping of task keywords, not {}",
            node.type_name()
        ))
    })?;
    let mut t = Task::empty(
        node.loc.clone(),
        TaskKind::Meta("noop".into()),
        PathBuf::new(),
    );
    let allowed = || {
        BLOCK_KEYWORDS
            .iter()
            .copied()
            .filter(|k| !NOT_IN_APPLY.contains(k))
    };
    for (k, v) in map {
        let key = key_str(k)?;
        // `apply` makes a block, and a block takes `notify` too (its tasks notify).
        if key == "notify" {
            t.notify = str_list(v)?;
            continue;
        }
        if !common_keyword(&mut t, &key, v)? {
            let mut e = k.error(format!("'{key}' is not a valid keyword in `apply`"));
            e = match did_you_mean(&key, allowed()) {
                Some(s) => e.hint(format!("did you mean '{s}'?")),
                None => e.hint(format!(
                    "`apply` takes task keywords: {}",
                    allowed().collect::<Vec<_>>().join(", ")
                )),
            };
            return Err(e);
        }
    }
    read_become(node, &mut t.become_, &mut t.late_flags)?;
    Ok(Inherit::from_task(&t))
}

/// Adds an include's `apply:` keywords to what its tasks inherit (at run time, when the
/// include is loaded): they wrap the included tasks as a block's keywords would.
pub fn add_apply(inh: &mut Inherit, include: &TaskKind) {
    if let TaskKind::IncludeTasks { apply: Some(a), .. }
    | TaskKind::IncludeRole { apply: Some(a), .. } = include
    {
        merge_inherit(inh, a);
    }
}

/// A block's or import's own `no_log` (true or false) is what its tasks inherit, not an
/// enclosing one's.
fn own_no_log(child: &mut Inherit, t: &Task) {
    if t.no_log_given {
        child.no_log = t.no_log;
        child.no_log_if = t.no_log_if.clone();
    }
}

fn merge_inherit(child: &mut Inherit, me: &Inherit) {
    child.when.extend(me.when.iter().cloned());
    for t in &me.tags {
        if !child.tags.contains(t) {
            child.tags.push(t.clone());
        }
    }
    if !me.vars.is_empty() {
        let mut v = (*child.vars).clone();
        for (k, val) in me.vars.iter() {
            v.insert(k.clone(), val.clone());
        }
        child.vars = Arc::new(v);
    }
    if !me.include_params.is_empty() {
        child.include_params = me.include_params.clone();
    }
    if !me.notify.is_empty() {
        child.notify = me.notify.clone();
    }
    child.environment.extend(me.environment.iter().cloned());
    child
        .module_defaults
        .extend(me.module_defaults.iter().cloned());
    if me.throttle.is_some() {
        child.throttle = me.throttle.clone();
    }
    if me.timeout.is_some() {
        child.timeout = me.timeout.clone();
    }
    let mut b = me.become_.clone();
    b.inherit(&child.become_);
    child.become_ = b;
    if me.ignore_errors.is_some() {
        child.ignore_errors = me.ignore_errors.clone();
    }
    if me.ignore_unreachable.is_some() {
        child.ignore_unreachable = me.ignore_unreachable.clone();
    }
    if me.delegate_to.is_some() {
        child.delegate_to = me.delegate_to.clone();
    }
    child.delegate_facts |= me.delegate_facts;
    child.run_once |= me.run_once;
    if me.run_once_if.is_some() {
        child.run_once_if = me.run_once_if.clone();
    }
    child.no_log |= me.no_log;
    child.no_log_if.extend(me.no_log_if.iter().cloned());
    // `apply`'s boolean keywords, fixed or late, replace those the include passes down.
    for f in &me.late_flags {
        child.late_flags.retain(|c| c.keyword != f.keyword);
        child.late_flags.push(f.clone());
    }
    let fixed = [
        ("check_mode", me.check_mode.is_some()),
        ("diff", me.diff.is_some()),
        ("become", me.become_.enabled.is_some()),
        ("any_errors_fatal", me.any_errors_fatal.is_some()),
    ];
    child
        .late_flags
        .retain(|c| !fixed.iter().any(|(k, set)| *set && c.keyword == *k));
    if me.check_mode.is_some() {
        child.check_mode = me.check_mode;
    }
    if me.diff.is_some() {
        child.diff = me.diff;
    }
    if me.remote_user.is_some() {
        child.remote_user = me.remote_user.clone();
    }
    if me.connection.is_some() {
        child.connection = me.connection.clone();
    }
    if me.any_errors_fatal.is_some() {
        child.any_errors_fatal = me.any_errors_fatal;
    }
}

fn arg_loc(aval: &Node, extra: Option<&Node>, e: &Error) -> Option<Location> {
    // Point at the offending option key when the message names it (quoted, or in the list of
    // unsupported parameters).
    let unsupported: Vec<&str> = e
        .msg
        .split_once(" module: ")
        .and_then(|(_, rest)| rest.split_once(". Supported parameters"))
        .map(|(list, _)| list.split(", ").collect())
        .unwrap_or_default();
    for n in [Some(aval), extra].into_iter().flatten() {
        if let Some(m) = n.as_map() {
            for (k, _) in m {
                if let Some(s) = k.as_str()
                    && (e.msg.contains(&format!("'{s}'")) || unsupported.contains(&s))
                {
                    return Some(k.loc.clone());
                }
            }
        }
    }
    None
}
