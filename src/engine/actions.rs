//! The actions the engine runs itself: `add_host`, `group_by`, `meta`, `include_vars`, and the
//! loading of what `include_tasks` / `include_role` bring in.

use super::PlayRun;
use super::outcome::{Include, Outcome};
use crate::error::{Error, Result};
use crate::events::Status;
use crate::playbook::actions::{ActionArgs, engine_action};
use crate::playbook::{Deferred, Inherit, Task, TaskKind};
use crate::template::Context;
use crate::value::{Value, Vars, value_to_vars, vars_value};
use std::path::Path;
use std::sync::Arc;

impl PlayRun<'_> {
    /// Builds a [`TaskKind::Deferred`] task as it runs, as Ansible does: the action's name
    /// rendered, its arguments layered (module defaults, the templates that render to
    /// mappings, the free form split with the action's own rules, the mapping), then checked
    /// by the action's loader or (for a module) when the module runs.
    pub(super) fn resolve_deferred(
        &self,
        task: &Task,
        d: &Deferred,
        ctx: &Context,
    ) -> Result<TaskKind> {
        let templar = &self.runner.templar;
        let name = if crate::template::is_template(&d.name) {
            templar.render_str(&d.name, ctx)?.to_string()
        } else {
            d.name.clone()
        };
        let written = name.trim().to_string();
        let mut name = crate::modules::canonical_name(&written).to_string();
        if engine_action(&name).is_none() && self.runner.registry.get(&name).is_none() {
            // An action plugin that is another name of a builtin action runs that action.
            if let Some(target) = crate::modules::fallback::action_alias(&written) {
                name = crate::modules::canonical_name(&target).to_string();
            }
        }
        let action = engine_action(&name);
        let doc = self.runner.registry.get(&name).map(|m| m.doc());
        if action.is_none() && doc.is_none() {
            // Not native: Ansible's implementation, found under the name as written.
            if crate::modules::fallback::find(&written).is_none()
                && crate::modules::fallback::action_plugin(&written).is_none()
            {
                return Err(crate::modules::fallback::not_found(&written));
            }
            name = written;
        }
        let mut args = crate::playbook::module_defaults_for(&task.module_defaults, &name);
        let layer = |t: &str, args: &mut Vars| -> Result<()> {
            let v = templar.render_str(t, ctx)?;
            // `args: '{{ omit }}'`: no arguments from this layer.
            if v.as_str() == Some(crate::template::OMIT) {
                return Ok(());
            }
            if v.kind() != minijinja::value::ValueKind::Map {
                // ansible-core's message, which playbooks match on.
                let fq = resolved_fqcn(&name);
                return Err(Error::failed(format!(
                    "Finalization of task args for '{fq}' failed: Task args must resolve to a \
                     'dict' not '{}'.",
                    crate::util::python::type_name(&v)
                )));
            }
            // Text the template made is data already (never templated again); a variable's
            // own values keep what they are, as in ansible-core 2.19.
            for (k, x) in value_to_vars(&v) {
                args.insert(k, x);
            }
            Ok(())
        };
        for t in &d.template {
            layer(t, &mut args)?;
        }
        // Ansible's order: the templates above, then the mappings (`args:`, the action's),
        // then the free form's words.
        let mut words = Vars::new();
        if let Some(text) = &d.free {
            let (raw, kv) = crate::playbook::split_free_form(text, doc, &name)?;
            if let Some(raw) = raw {
                if crate::playbook::takes_free_form(doc, &name) {
                    let key = doc.and_then(|d| d.free_form).unwrap_or("_raw_params");
                    words.insert(key.to_string(), Value::from(raw));
                } else if crate::playbook::is_all_template(&raw) {
                    layer(&raw, &mut args)?;
                } else {
                    // ansible-core's message, which playbooks match on.
                    return Err(Error::failed(format!(
                        "Action '{}' does not support raw params.",
                        resolved_fqcn(&name)
                    ))
                    .hint(format!(
                        "'{raw}' is not a k=v option; write the options as `key=value` words or as a YAML mapping"
                    )));
                }
            }
            for (k, v) in kv {
                words.insert(k, Value::from(v));
            }
        }
        for (k, v) in &d.args {
            args.insert(k.clone(), v.clone());
        }
        args.extend(words);
        match action {
            Some(a) => a.load_at_run_time(&ActionArgs {
                name: &name,
                args: &args,
                at: &task.loc,
                base: &d.base,
            }),
            None => Ok(TaskKind::Module {
                name,
                args: vars_value(&args),
            }),
        }
    }

    /// `add_host`: `name` (`host`, `hostname`; `host:port` sets `ansible_ssh_port`), `groups`
    /// (`group`, `groupname`; a list or a comma-separated string), every other key a host
    /// variable. Changed when the host, a group membership or a variable is new.
    pub(super) fn add_host(&self, args: &Value) -> Result<Outcome> {
        let get = |keys: &[&str]| {
            keys.iter().find_map(|k| {
                args.get_attr(k)
                    .ok()
                    .filter(|v| !v.is_undefined() && !v.is_none())
            })
        };
        let name = get(&["name", "host", "hostname"])
            .map(|v| v.to_string())
            .unwrap_or_default();
        let name = name.trim().to_string();
        if name.is_empty() {
            return Err(Error::failed("add_host: `name` is empty"));
        }
        let mut groups: Vec<String> = Vec::new();
        if let Some(g) = get(&["groups", "group", "groupname"]) {
            match g.as_str() {
                Some(s) => groups.extend(s.split(',').map(|x| x.trim().to_string())),
                None => groups.extend(g.try_iter().into_iter().flatten().map(|x| x.to_string())),
            }
        }
        groups.retain(|g| !g.is_empty());
        let mut vars = Vars::new();
        for k in args.try_iter().into_iter().flatten() {
            let k = k.to_string();
            if ["name", "host", "hostname", "groups", "group", "groupname"].contains(&k.as_str()) {
                continue;
            }
            vars.insert(k.clone(), args.get_attr(&k).unwrap_or_default());
        }
        // `host:port` (not an IPv6 address) carries the SSH port (as `ansible_ssh_port`, the
        // name Ansible sets).
        let name = match name.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') && p.parse::<u16>().is_ok() => {
                vars.insert(
                    "ansible_ssh_port".to_string(),
                    Value::from(p.parse::<u16>().unwrap_or(22)),
                );
                h.to_string()
            }
            _ => name,
        };
        let change = {
            let (name, groups, vars) = (name.clone(), groups.clone(), vars.clone());
            Arc::new(move |inv: &mut crate::inventory::Inventory| {
                inv.add_runtime_host(&name, &groups, &vars)
            })
        };
        let changed = self.shared.change_inventory_kept(change)?;
        let mut o = Outcome::new(if changed { Status::Changed } else { Status::Ok });
        o.result.insert(
            "add_host".into(),
            crate::value::map_value([
                ("host_name", Value::from(name.as_str())),
                (
                    "groups",
                    Value::from_iter(groups.iter().map(|g| Value::from(g.as_str()))),
                ),
                ("host_vars", vars_value(&vars)),
            ]),
        );
        Ok(o)
    }

    /// `group_by`: `host` joins the group `key` (spaces become dashes, as in Ansible), created
    /// under `parents` (default `all`). Changed when the host joins a group it was not in (or
    /// a parent group is new), as Ansible's inventory reports it.
    pub(super) fn group_by(&self, host: &str, args: &Value) -> Result<Outcome> {
        let key = args
            .get_attr("key")
            .ok()
            .filter(|v| !v.is_undefined() && !v.is_none())
            .map(|v| v.to_string())
            .unwrap_or_default()
            .trim()
            .replace(' ', "-");
        if key.is_empty() {
            return Err(Error::failed("group_by: `key` is empty"));
        }
        let parents: Vec<String> = match args.get_attr("parents").ok() {
            Some(p) if p.as_str().is_some() => vec![p.to_string()],
            Some(p) if !p.is_undefined() && !p.is_none() => p
                .try_iter()
                .into_iter()
                .flatten()
                .map(|x| x.to_string())
                .collect(),
            _ => vec!["all".to_string()],
        };
        let change = {
            let (host, key, parents) = (host.to_string(), key.clone(), parents.clone());
            Arc::new(move |inv: &mut crate::inventory::Inventory| {
                // Replayed after a refresh: a host the sources no longer have stays gone.
                if !inv.hosts.contains_key(&host) && !inv.is_implicit_localhost(&host) {
                    return Ok(false);
                }
                inv.add_to_group(&host, &key, &parents)
            })
        };
        let changed = self.shared.change_inventory_kept(change)?;
        let mut o = Outcome::new(if changed { Status::Changed } else { Status::Ok });
        o.result
            .insert("add_group".into(), Value::from(key.as_str()));
        o.result.insert(
            "parent_groups".into(),
            Value::from_iter(parents.iter().map(|g| Value::from(g.as_str()))),
        );
        Ok(o)
    }
    pub(super) fn load_include(
        &self,
        task: &Task,
        inc: &Include,
        loop_vars: &Vars,
        handler: bool,
    ) -> Result<Vec<Task>> {
        let loader = crate::playbook::Loader::new(&self.runner.registry)
            .roles_path(self.runner.opts.roles_path.clone())
            .private_role_vars(self.runner.opts.private_role_vars);
        *loader.play_dir.lock().unwrap_or_else(|e| e.into_inner()) = self.play.dir.clone();
        let vars = if loop_vars.is_empty() {
            task.vars.clone()
        } else {
            let mut v = (*task.vars).clone();
            v.extend(loop_vars.iter().map(|(k, x)| (k.clone(), x.clone())));
            Arc::new(v)
        };
        let mut inh = Inherit {
            tags: task
                .inherited_tags
                .clone()
                .unwrap_or_else(|| task.tags.clone()),
            vars,
            include_params: task.include_params.clone(),
            environment: task.environment.clone(),
            module_defaults: task.module_defaults.clone(),
            become_: task.become_.clone(),
            ignore_errors: task.ignore_errors.clone(),
            no_log: task.no_log,
            no_log_if: task.no_log_if.clone(),
            check_mode: task.check_mode,
            diff: task.diff,
            late_flags: task.late_flags.clone(),
            delegate_to: task.delegate_to.clone(),
            role: task.role.clone(),
            include_chain: task.include_chain.clone(),
            ..Default::default()
        };
        crate::playbook::add_apply(&mut inh, &task.kind);
        let tasks = self.load_include_with(&loader, task, inc, inh, handler)?;
        // Roles the included tasks import bring their handlers.
        self.extra_handlers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .append(
                &mut loader
                    .handlers_imported
                    .lock()
                    .unwrap_or_else(|e| e.into_inner()),
            );
        Ok(tasks)
    }

    fn load_include_with(
        &self,
        loader: &crate::playbook::Loader,
        task: &Task,
        inc: &Include,
        mut inh: Inherit,
        handler: bool,
    ) -> Result<Vec<Task>> {
        match inc {
            Include::Tasks(path) => {
                inh.include_chain =
                    crate::playbook::enter_include(&task.include_chain, &task.loc, path, true)?;
                let node = crate::yaml::load_file(path).map_err(|e| e.at(&task.loc))?;
                let base = if task.role.is_some() {
                    task.base.clone()
                } else {
                    path.parent().map(Path::to_path_buf).unwrap_or_default()
                };
                loader.load_tasks(&node, &base, &inh, handler)
            }
            Include::Role {
                name,
                tasks_from,
                vars_from,
                defaults_from,
                handlers_from,
                public,
                allow_duplicates,
                validate,
            } => {
                // The including task's role brings the included one in (search paths).
                loader
                    .load_role_dynamic(
                        name,
                        &task.loc,
                        &self.play.dir,
                        &inh,
                        tasks_from.as_deref(),
                        vars_from.as_deref(),
                        defaults_from.as_deref(),
                        handlers_from.as_deref(),
                        *allow_duplicates,
                        *validate,
                    )
                    .map(|(tasks, handlers)| {
                        self.shared
                            .note_included_roles(loader.take_loaded_roles(), *public);
                        // The role's handlers are the play's from now on.
                        self.extra_handlers
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .extend(handlers);
                        tasks
                    })
            }
        }
    }
    /// `meta`, as Ansible runs it: on each host (the actions that act on the whole batch, on
    /// the first host only), with the task's `when` evaluated there; each host's outcome is
    /// shown at -vv as `META: <what happened>`, and a false condition as a skipped result
    /// (not counted in the recap).
    pub(super) async fn run_meta(
        &self,
        task: &Task,
        m: &str,
        hosts: &[String],
        handler: bool,
    ) -> Result<()> {
        if m == "flush_handlers" && handler {
            return Err(Error::failed("flush_handlers cannot be used as a handler").at(&task.loc));
        }
        // prov's own placeholder tasks are noops: nothing to show.
        if m == "noop" && task.name.is_none() && task.when.is_empty() && !handler {
            return Ok(());
        }
        // The hidden end of a role's tasks: the hosts reaching it complete the role.
        if m == crate::playbook::ROLE_COMPLETE {
            if let Some(role) = &task.role {
                for h in hosts {
                    self.roles_run.reach_end(role, h);
                }
            }
            return Ok(());
        }

        let per_host = matches!(
            m,
            "noop" | "reset_connection" | "end_host" | "flush_handlers" | "end_role"
        );
        let on: Vec<String> = if per_host {
            hosts.to_vec()
        } else {
            hosts.iter().take(1).cloned().collect()
        };
        let display = task.display_name();
        self.runner.emit(crate::events::Event::TaskStart {
            name: display.clone(),
            location: Some(task.loc.to_string()),
            action: "meta".into(),
            handler,
            hosts: on.clone(),
            implementation: None,
        });
        let mut flush_for = Vec::new();
        for h in &on {
            let ctx = self.ctx_for(h, task);
            let mut holds = true;
            let mut failed = false;
            for c in &task.when {
                match self.runner.templar.eval_cond(c, &ctx) {
                    Ok(b) => holds &= b,
                    Err(e) => {
                        let o = Outcome::from_error(&e.at(&task.loc));
                        self.record(h, task, &display, &o);
                        failed = true;
                    }
                }
            }
            if failed {
                continue;
            }
            // (what happened, or why it was skipped)
            let (msg, skip): (String, Option<String>) = match m {
                "flush_handlers" if holds => {
                    flush_for.push(h.clone());
                    (format!("triggered running handlers for {h}"), None)
                }
                "flush_handlers" => (m.into(), Some(format!("not running handlers for {h}"))),
                "end_play" | "end_batch" if holds => {
                    for b in &self.batch {
                        self.state(b, |s| {
                            if !s.unreachable {
                                s.ended = true
                            }
                        });
                    }
                    if m == "end_play" {
                        *self.end_play.lock().unwrap_or_else(|e| e.into_inner()) = true;
                        ("ending play".into(), None)
                    } else {
                        ("ending batch".into(), None)
                    }
                }
                "end_play" => (m.into(), Some("continuing play".into())),
                "end_batch" => (m.into(), Some("continuing current batch".into())),
                "end_host" if holds => {
                    self.state(h, |s| s.ended = true);
                    (format!("ending play for {h}"), None)
                }
                "end_host" => (
                    format!(
                        "end_host conditional evaluated to false, continuing execution for {h}"
                    ),
                    Some(format!("continuing execution for {h}")),
                ),
                "end_role" => {
                    let Some(role) = &task.role else {
                        // Refused when the task loads (outside of a role).
                        continue;
                    };
                    if holds {
                        let id = Arc::as_ptr(role) as usize;
                        self.state(h, |s| s.ended_roles.push(id));
                        (format!("ending role {} for {h}", role.name), None)
                    } else {
                        (
                            m.into(),
                            Some(format!("continuing role {} for {h}", role.name)),
                        )
                    }
                }
                "clear_facts" if holds => {
                    for b in &self.batch {
                        self.shared.clear_facts(b);
                    }
                    ("facts cleared".into(), None)
                }
                "clear_facts" => (
                    m.into(),
                    Some(format!("not clearing facts and fact cache for {h}")),
                ),
                "clear_host_errors" if holds => {
                    for b in &self.batch {
                        // Unreachable hosts rejoin too, as in Ansible.
                        self.state(b, |s| {
                            s.failed = false;
                            s.unreachable = false;
                            s.fatal = false;
                            s.errors_cleared += 1;
                        });
                    }
                    ("cleared host errors".into(), None)
                }
                "clear_host_errors" => (
                    m.into(),
                    Some(format!("not clearing host error state for {h}")),
                ),
                "reset_connection" => {
                    self.shared.drop_connection(h).await;
                    ("reset connection".into(), None)
                }
                "refresh_inventory" => {
                    self.shared
                        .refresh_inventory(&self.runner.opts.inventory_sources, &self.play.dir)
                        .map_err(|e| e.at(&task.loc))?;
                    ("inventory successfully refreshed".into(), None)
                }
                other => (other.to_string(), None),
            };
            let (header, result) = match skip {
                Some(why) => {
                    let why = format!("{m} conditional evaluated to False, {why}");
                    let mut r = Vars::new();
                    r.insert("msg".into(), Value::from(msg.as_str()));
                    r.insert("skip_reason".into(), Value::from(why.as_str()));
                    (why, Some(r))
                }
                None => (msg, None),
            };
            self.runner.emit(crate::events::Event::Verbose {
                level: 2,
                msg: format!("META: {header}"),
            });
            if let Some(r) = result {
                let mut o = Outcome::new(Status::Skipped);
                o.result = r;
                self.emit_result(h, task, &display, &o, None);
            }
        }
        if !flush_for.is_empty() {
            self.flush_handlers().await?;
        }
        Ok(())
    }
}

/// The name ansible-core resolves an action to, as its messages give it: a name with a
/// namespace as written, a user's own module or action plugin by its short name, anything else
/// as `ansible.builtin.<name>`.
fn resolved_fqcn(name: &str) -> String {
    let own = crate::modules::fallback::user_module(name).is_some()
        || crate::modules::fallback::action_plugin(name).is_some_and(|p| {
            !crate::modules::fallback::lookup::core().is_some_and(|c| p.starts_with(&c.dir))
        });
    if name.contains('.') || own {
        name.to_string()
    } else {
        format!("ansible.builtin.{name}")
    }
}
