//! A task's work on its host: the action dispatched, and for modules the connection context
//! (delegate_to, become, environment, a host that cannot be reached yet).

use super::async_job::{JobEnd, JobFuture, no_async, outcome_json, refuses_async};
use super::outcome::{Include, Outcome};
use super::{PlayRun, is_unreachable};
use crate::connection::{Become, BecomeMethod, Connection, Secret};
use crate::error::{Error, Result};
use crate::events::Status;
use crate::modules::{Render, TaskCtx, validate_args};
use crate::playbook::{Task, TaskKind};
use crate::template::{Context, OMIT, Templar};
use crate::value::{Value, Vars, truthy, value_to_vars, vars_value};
use minijinja::value::ValueKind;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

pub(super) struct TaskRender<'a> {
    templar: &'a Templar,
    ctx: &'a Context,
}

impl TaskRender<'_> {
    /// The task's variables plus the template module's `template_*` variables for `origin`.
    fn template_context(&self, origin: &Path) -> Context {
        let mut extra = Vars::new();
        extra.insert(
            "template_path".into(),
            Value::from(origin.display().to_string()),
        );
        extra.insert(
            "template_fullpath".into(),
            Value::from(
                origin
                    .canonicalize()
                    .unwrap_or(origin.to_path_buf())
                    .display()
                    .to_string(),
            ),
        );
        extra.insert("template_host".into(), Value::from(hostname()));
        // The rest of Ansible's template variables: the file's owner and modification time,
        // the time of the run (Python's `str(datetime)`, UTC), `ansible_managed`.
        if let Ok(meta) = std::fs::metadata(origin) {
            use std::os::unix::fs::MetadataExt;
            extra.insert(
                "template_mtime".into(),
                Value::from(python_datetime(meta.mtime(), meta.mtime_nsec() / 1000)),
            );
            extra.insert("template_uid".into(), user_name(meta.uid()));
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        extra.insert(
            "template_run_date".into(),
            Value::from(python_datetime(
                now.as_secs() as i64,
                i64::from(now.subsec_micros()),
            )),
        );
        if self.ctx.get("ansible_managed").ok().flatten().is_none() {
            extra.insert("ansible_managed".into(), Value::from("Ansible managed"));
        }
        self.ctx.push(Arc::new(extra))
    }
}

fn at_origin(origin: &Path) -> impl FnOnce(Error) -> Error + '_ {
    move |mut e| {
        e.msg = format!("{}: {}", origin.display(), e.msg);
        e
    }
}

impl Render for TaskRender<'_> {
    fn render_text(&self, text: &str, origin: &Path) -> Result<String> {
        let ctx = self.template_context(origin);
        // The text of a template file is rendered under the file's name, so that its
        // `include`/`import` find the templates next to it.
        if std::fs::read_to_string(origin).is_ok_and(|t| t == text) {
            return self.templar.render_file(origin, &ctx);
        }
        self.templar
            .render_template_text(text, &ctx)
            .map_err(at_origin(origin))
    }
    fn render_text_with(
        &self,
        text: &str,
        origin: &Path,
        opts: &crate::modules::TemplateOptions,
    ) -> Result<String> {
        let mut ctx = self.template_context(origin);
        if let Some(dest) = &opts.dest {
            let mut extra = Vars::new();
            extra.insert("template_destpath".into(), Value::from(dest.as_str()));
            ctx = ctx.push(Arc::new(extra));
        }
        if opts.default_syntax() {
            if std::fs::read_to_string(origin).is_ok_and(|t| t == text) {
                return self.templar.render_file(origin, &ctx);
            }
            return self
                .templar
                .render_template_text(text, &ctx)
                .map_err(at_origin(origin));
        }
        let d = &opts.delimiters;
        let delimiters = [&d[0], &d[1], &d[2], &d[3], &d[4], &d[5]].map(String::as_str);
        self.templar
            .render_text_with_syntax(
                text,
                origin,
                &ctx,
                delimiters,
                opts.trim_blocks,
                opts.lstrip_blocks,
            )
            .map_err(at_origin(origin))
    }
    fn eval(&self, expr: &str) -> Result<Value> {
        self.templar.eval(expr, self.ctx)
    }
    fn vault_decrypt(&self, text: &str, name: &str) -> Result<String> {
        if !self.templar.has_vault_password() {
            // Ansible's message for a vault-encrypted file (tests match its end)
            return Err(Error::failed(format!(
                "A vault password or secret must be specified to decrypt {name}"
            ))
            .hint("pass --vault-password-file FILE (or --ask-vault-pass)"));
        }
        let v = crate::value::VaultText::new(text.to_string());
        let plain = self.templar.decrypt_vault(&v, name)?;
        Ok(plain.as_str().unwrap_or_default().to_string())
    }
}

/// Modules that only evaluate templates and conditions on the controller (Ansible runs them
/// as action plugins that never connect to the host).
fn runs_on_controller(module: &str) -> bool {
    matches!(module, "assert" | "debug" | "fail")
}

/// A time as Python prints a `datetime`: `YYYY-MM-DD HH:MM:SS.ffffff` (microseconds only
/// when not zero).
fn python_datetime(secs: i64, micros: i64) -> String {
    let (d, t) = crate::util::time::utc_date_time(secs);
    if micros == 0 {
        format!("{d} {t}")
    } else {
        format!("{d} {t}.{micros:06}")
    }
}

/// The name of the local user `uid` (from /etc/passwd), else the number.
fn user_name(uid: u32) -> Value {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() > 2 && f[2].parse::<u32>().ok() == Some(uid))
        .map(|f| Value::from(f[0]))
        .unwrap_or_else(|| Value::from(uid))
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

impl PlayRun<'_> {
    pub(super) async fn execute_inner(
        &self,
        task: &Task,
        host: &str,
        ctx: &Context,
    ) -> Result<Outcome> {
        let templar = &self.runner.templar;
        let (check, diff) = self.modes(task);
        // The engine's own actions refuse `async` as Ansible's action plugins do (modules are
        // checked by name below; `meta` ignores it).
        if !matches!(
            task.kind,
            TaskKind::Module { .. } | TaskKind::Deferred(_) | TaskKind::Meta(_)
        ) && self.async_spec(task, ctx)?.is_some()
        {
            return Err(no_async(task.kind.action_name()));
        }
        match &task.kind {
            TaskKind::SetFact { vars, cacheable } => {
                let mut out = Vars::new();
                for (k, v) in vars {
                    let key = crate::playbook::variable_name(&templar.render_str(k, ctx)?)?;
                    let v = templar.render_value(v, ctx)?;
                    // `x: "{{ omit }}"` sets nothing, as any omitted argument.
                    if v.as_str() == Some(OMIT) {
                        continue;
                    }
                    out.insert(key, v);
                }
                // delegate_facts: the facts belong to the delegated host.
                let owner = match self.delegate(task, ctx)? {
                    Some((d, _)) if task.delegate_facts => d,
                    _ => host.to_string(),
                };
                self.shared.set_vars(&owner, out.clone());
                // `cacheable`: also facts of the host (Ansible sets both), which the fact
                // cache keeps for later runs.
                if truthy(&templar.render_value(cacheable, ctx)?) {
                    self.shared.add_module_facts(&owner, out.clone());
                }
                let mut o = Outcome::new(Status::Ok);
                o.result.insert("ansible_facts".into(), vars_value(&out));
                o.trusted_facts = true;
                Ok(o)
            }
            TaskKind::IncludeVars { args, .. } => {
                let args = templar.render_value(args, ctx)?;
                self.include_vars(host, task, &args, ctx)
            }
            TaskKind::IncludeTasks { file, base, .. } => {
                let f = templar.render_value(file, ctx)?.to_string();
                // A handler's include looks in the role's handlers/ folder first.
                let handler = task
                    .role
                    .as_ref()
                    .is_some_and(|r| task.loc.file.starts_with(r.path.join("handlers")));
                let path = crate::playbook::resolve_tasks_file(
                    base,
                    &f,
                    task.role.as_deref(),
                    handler,
                    &self.play.dir,
                    (&task.loc.file, &task.include_chain),
                    true,
                );
                if !path.exists() {
                    return Err(
                        Error::failed(crate::error::file_not_found_msg(&path)).at(&task.loc)
                    );
                }
                let mut o = Outcome::new(Status::Ok);
                o.msg = Some(format!("included: {}", path.display()));
                // The human sink shows it as Ansible does: `included: <file> for <host>`.
                o.result.insert(
                    "_ansible_included_file".into(),
                    Value::from(path.display().to_string()),
                );
                o.include = Some(Include::Tasks(path));
                Ok(o)
            }
            TaskKind::IncludeRole {
                name,
                tasks_from,
                vars_from,
                defaults_from,
                handlers_from,
                public,
                allow_duplicates,
                rolespec_validate,
                ..
            } => {
                // `omit` leaves an option out (the role's `main`).
                let r = |s: &Option<String>| -> Result<Option<String>> {
                    Ok(s.as_ref()
                        .map(|x| templar.render_str(x, ctx).map(|v| v.to_string()))
                        .transpose()?
                        .filter(|v| v != OMIT))
                };
                let mut o = Outcome::new(Status::Ok);
                let name = templar.render_value(name, ctx)?.to_string();
                o.msg = Some(format!("included role: {name}"));
                o.include = Some(Include::Role {
                    name,
                    tasks_from: r(tasks_from)?,
                    vars_from: r(vars_from)?,
                    defaults_from: r(defaults_from)?,
                    handlers_from: r(handlers_from)?,
                    // Private unless `private_role_vars` is set false.
                    public: match public {
                        Some(p) => truthy(&templar.render_value(p, ctx)?),
                        None => self.runner.opts.private_role_vars == Some(false),
                    },
                    allow_duplicates: match allow_duplicates {
                        Some(p) => truthy(&templar.render_value(p, ctx)?),
                        None => true,
                    },
                    validate: match rolespec_validate {
                        Some(p) => truthy(&templar.render_value(p, ctx)?),
                        None => true,
                    },
                });
                Ok(o)
            }
            TaskKind::Meta(_) | TaskKind::Block { .. } => Ok(Outcome::new(Status::Ok)),
            TaskKind::Deferred(d) => {
                let mut resolved = task.clone();
                resolved.kind = self.resolve_deferred(task, d, ctx)?;
                Box::pin(self.execute_inner(&resolved, host, ctx)).await
            }
            TaskKind::AddHost { args } => {
                let args = templar.render_value(args, ctx)?;
                self.add_host(&args)
            }
            TaskKind::GroupBy { args } => {
                let args = templar.render_value(args, ctx)?;
                self.group_by(host, &args)
            }
            TaskKind::GatherFacts { args } => {
                // `setup`'s module_defaults, under the action's (or the play's) own arguments.
                let mut gargs =
                    crate::playbook::module_defaults_for(&task.module_defaults, "setup");
                if let Ok(keys) = args.try_iter() {
                    for k in keys {
                        if let Ok(v) = args.get_item(&k) {
                            gargs.insert(k.to_string(), v);
                        }
                    }
                }
                for v in gargs.values_mut() {
                    *v = templar.render_value(v, ctx)?;
                }
                let subset = crate::facts::subset::Selection::new(crate::facts::subset::spec_of(
                    gargs.get("gather_subset"),
                ))
                .map_err(Error::failed)?;
                // `setup` with delegate_to gathers the delegated host's facts; they are stored
                // on it with delegate_facts, else on this host (Ansible's rule).
                let delegated = self.delegate(task, ctx)?;
                let (target, cctx) = match &delegated {
                    Some((d, c)) => (d.as_str(), c),
                    None => (host, ctx),
                };
                let conn = self
                    .shared
                    .connection(&*self.runner.connector, target, cctx)
                    .await?;
                // The Python the facts describe: ansible_python_interpreter when set (not a
                // discovery mode), else the one Ansible would discover.
                let python = match cctx.get("ansible_python_interpreter")? {
                    Some(v) if !v.is_none() && !v.is_undefined() => {
                        Some(templar.render_value(&v, cctx)?.to_string())
                    }
                    _ => None,
                }
                .filter(|p| !p.starts_with("auto") && !p.trim().is_empty());
                // The play's environment applies (a variable made from facts not gathered
                // yet is left out), so `ansible_env` shows it.
                let mut env = self.environment(task, ctx)?;
                env.extend(python.map(|p| ("PROV_PYTHON".to_string(), p)));
                if let Some(p) = gargs.get("fact_path").filter(|v| !v.is_none()) {
                    env.push(("PROV_FACT_PATH".to_string(), p.to_string()));
                }
                let timeout = gargs
                    .get("gather_timeout")
                    .and_then(|v| v.to_string().trim().parse::<u64>().ok())
                    .filter(|t| *t > 0)
                    .map(std::time::Duration::from_secs);
                let cmd = crate::connection::Cmd {
                    env,
                    ..Default::default()
                };
                let (facts, warnings) = crate::facts::gather(&*conn, cmd, &subset, timeout).await?;
                for w in warnings {
                    self.runner.emit(crate::events::Event::Warning(w));
                }
                let owner = if task.delegate_facts { target } else { host };
                self.shared.set_facts_map(owner, facts);
                // As setup returns them: top-level variables and `ansible_facts` entries.
                self.shared.add_module_facts(owner, subset.setup_facts());
                let mut o = Outcome::new(Status::Ok);
                if delegated.is_some() {
                    o.delegated_to = Some(target.to_string());
                }
                Ok(o)
            }
            TaskKind::Module { name, args } => {
                let async_spec = self.async_spec(task, ctx)?;
                if async_spec.is_some() && refuses_async(name) {
                    return Err(no_async(name));
                }
                // Not native, or shadowed by a module of the user's library (as in
                // Ansible): that implementation runs on the host.
                if super::fallback::helper_shadowed(name) {
                    return self.run_action_plugin(task, host, ctx, name, args).await;
                }
                let native = if super::fallback::shadowed(task, name) {
                    None
                } else {
                    self.runner.registry.get(name).cloned()
                };
                let Some(module) = native else {
                    return self.run_fallback(task, host, ctx, name, args).await;
                };
                let facts = self.shared.host(host).facts_map;
                let args = &backend_defaults(task, name, args, module.doc(), &facts);
                let embedded = match name.as_str() {
                    "assert" => embedded_conditions(args, templar, ctx)?,
                    _ => None,
                };
                let deprecations = match name.as_str() {
                    "assert" => templated_conditions(embedded.as_ref(), args, templar, ctx),
                    _ => None,
                };
                let raw = match embedded {
                    // the conditions are rendered once, by embedded_conditions
                    Some(that) => {
                        let mut rest = value_to_vars(args);
                        rest.shift_remove("that");
                        let mut raw = self.rendered_args(name, &vars_value(&rest), ctx)?;
                        raw.insert("that".into(), that);
                        raw
                    }
                    None => self.rendered_args(name, args, ctx)?,
                };
                let args = validate_args(module.doc(), &raw)?;
                // delegate_to: connect to the delegated host with its own connection vars.
                let delegated = self.delegate(task, ctx)?;
                let is_delegated = delegated.is_some();
                let (target, conn_ctx) = match delegated {
                    Some((d, c)) => (d, Some(c)),
                    None => (host.to_string(), None),
                };
                let cctx = conn_ctx.as_ref().unwrap_or(ctx);
                let conn: Arc<dyn Connection> = if runs_on_controller(name) {
                    // Ansible's action plugins that never touch the host: no connection (a
                    // host that cannot be reached still runs them).
                    Arc::new(crate::connection::local::LocalConnection::new(
                        target.as_str(),
                    ))
                } else {
                    match self
                        .shared
                        .connection(&*self.runner.connector, &target, cctx)
                        .await
                    {
                        Err(e) if is_unreachable(&e) && waits_for_unreachable(&task.kind) => {
                            self.wait_for_connection(&target, cctx, &args, e).await?
                        }
                        r => r?,
                    }
                };
                let become_ = self.become_for(task, ctx, cctx)?;
                let mut env = self.environment(task, ctx)?;
                if name == "async_status" {
                    // Where the jobs' status files are (Ansible's action passes it on too).
                    env.retain(|(k, _)| k != "ANSIBLE_ASYNC_DIR");
                    env.push(("ANSIBLE_ASYNC_DIR".into(), self.async_dir(ctx)?));
                }
                let invocation_shown =
                    (self.runner.opts.verbosity >= 3).then(|| invocation(module.doc(), &args));
                // The module's work, owning what it uses: run here, or as a background job.
                let job: JobFuture<(Outcome, Vars)> = {
                    let (module, conn, templar, ctx) =
                        (module.clone(), conn.clone(), templar.clone(), ctx.clone());
                    let (host, facts, become_) = (host.to_string(), facts.clone(), become_.clone());
                    let search_paths = task.search_path(&self.play.dir);
                    let verbosity = self.runner.opts.verbosity;
                    let task_name = task.display_name();
                    Box::pin(async move {
                        let render = TaskRender {
                            templar: &templar,
                            ctx: &ctx,
                        };
                        let tctx = TaskCtx {
                            host: &host,
                            conn: &*conn,
                            become_,
                            env,
                            check_mode: check,
                            diff_mode: diff,
                            search_paths,
                            facts: &facts,
                            render: &render,
                            verbosity,
                            task_name,
                        };
                        let plan = module.plan(&tctx, &args).await?;
                        let facts = plan.facts.clone();
                        let mut o = applied(crate::modules::apply_plan(plan, &*conn, check).await?);
                        // As in Ansible, a result has `diff` only in diff mode.
                        if !diff {
                            o.diffs.clear();
                        }
                        Ok((o, facts))
                    })
                };
                let (mut o, facts) = match async_spec {
                    None => job.await?,
                    Some(spec) => {
                        let json: fn(&(Outcome, Vars)) -> _ = |(o, _)| outcome_json(o);
                        match self
                            .run_job(task, host, ctx, spec, conn.clone(), become_, job, json)
                            .await?
                        {
                            JobEnd::Started(mut o) | JobEnd::Failed(mut o) => {
                                if is_delegated {
                                    o.delegated_to = Some(target);
                                }
                                return Ok(o);
                            }
                            JobEnd::Finished((mut o, facts), info) => {
                                self.async_verdict(host, &info, o.status != Status::Failed);
                                info.decorate(&mut o);
                                (o, facts)
                            }
                        }
                    }
                };
                self.show_warnings(&o);
                if let Some(d) = deprecations {
                    o.result.insert("deprecations".into(), d);
                }
                // Shown from -vvv on, as Ansible's modules return it.
                if let Some(inv) = invocation_shown
                    && !o.result.contains_key("invocation")
                {
                    o.result.insert("invocation".into(), inv);
                }
                // Facts a module returns (getent, hostname, setup) are set on the host (on the
                // delegated host with delegate_facts), as in Ansible.
                if !facts.is_empty() && o.status != Status::Failed {
                    let owner = if task.delegate_facts {
                        target.as_str()
                    } else {
                        host
                    };
                    self.shared.add_module_facts(owner, facts);
                }
                if is_delegated {
                    o.delegated_to = Some(target);
                }
                Ok(o)
            }
        }
    }
}

/// The outcome of an applied plan.
impl PlayRun<'_> {
    /// A task's arguments rendered in its variables, without the options given `omit`.
    /// An option that cannot be rendered fails the task with Ansible's message naming the
    /// action and the option.
    pub(super) fn rendered_args(&self, action: &str, args: &Value, ctx: &Context) -> Result<Vars> {
        let templar = &self.runner.templar;
        let mut raw = if args.kind() == ValueKind::Map {
            let mut out = Vars::new();
            // Option names are never templated (ansible-core 2.19): `{{ "k` from k=v text
            // split inside a template is a name, as under Ansible.
            for (key, v) in value_to_vars(args) {
                let v = templar.render_value(&v, ctx).map_err(|mut e| {
                    let fq = match action.contains('.') {
                        true => action.to_string(),
                        false => format!("ansible.builtin.{action}"),
                    };
                    e.msg = format!(
                        "Finalization of task args for '{fq}' failed: Error while resolving value for '{key}': {}",
                        e.msg
                    );
                    e
                })?;
                out.insert(key, v);
            }
            out
        } else {
            value_to_vars(&templar.render_value(args, ctx)?)
        };
        raw.retain(|_, v| v.as_str() != Some(OMIT));
        Ok(raw)
    }

    /// A module's `warnings`, shown as Ansible's callback shows them.
    fn show_warnings(&self, o: &Outcome) {
        if let Some(ws) = o.result.get("warnings")
            && let Ok(it) = ws.try_iter()
        {
            for w in it {
                if let Some(w) = w.as_str() {
                    self.runner
                        .emit(crate::events::Event::Warning(w.to_string()));
                }
            }
        }
    }
}

/// Ansible's deprecation of conditions written as templates.
const TEMPLATED_CONDITION: &str =
    "Conditionals should not be surrounded by templating delimiters such as {{ }} or {% %}.";

/// The `deprecations` of an `assert` result when one of its conditions (as written, or as the
/// list `that` names holds them) is a whole template (`that: "{{ x == 1 }}"`), which works
/// with a deprecation in Ansible; `None` when there is none to give, or deprecation warnings
/// are turned off.
fn templated_conditions(
    embedded: Option<&Value>,
    args: &Value,
    templar: &crate::template::Templar,
    ctx: &Context,
) -> Option<Value> {
    let that = embedded
        .cloned()
        .or_else(|| args.get_attr("that").ok())
        .filter(|v| !v.is_undefined())?;
    // A variable holding a list of conditions is not itself a condition.
    let that = match that.as_str() {
        Some(s) if crate::template::is_variable_template(s.trim()) => {
            match templar.render_str(s, ctx) {
                Ok(v) if v.kind() == minijinja::value::ValueKind::Seq => v,
                _ => that,
            }
        }
        _ => that,
    };
    let items: Vec<Value> = match that.kind() {
        minijinja::value::ValueKind::Seq => that.try_iter().ok()?.collect(),
        _ => vec![that],
    };
    let templated = items.iter().any(|x| {
        x.as_str()
            .is_some_and(|s| crate::template::is_single_expression(s.trim()))
    });
    let on = templar
        .eval("lookup('config', 'DEPRECATION_WARNINGS')", ctx)
        .map_or(true, |v| v.is_true());
    (templated && on).then(|| {
        Value::from(vec![crate::value::map_value([
            ("msg", Value::from_safe_string(TEMPLATED_CONDITION.into())),
            ("version", Value::from("2.23")),
            ("collection_name", Value::from("ansible.builtin")),
        ])])
    })
}

/// `assert`'s `that` written in the task with templates inside a condition (`"'{{ dir }}/x'
/// in paths"`): the condition is the playbook's own text, so what its templates make stays an
/// expression to evaluate, as in Ansible (which evaluates `that` itself). `None` when `that`
/// is not such a list (a template of the whole arguments, or of one value, keeps the trust of
/// what it renders to).
fn embedded_conditions(
    args: &Value,
    templar: &crate::template::Templar,
    ctx: &Context,
) -> Result<Option<Value>> {
    let Some(that) = args.get_attr("that").ok().filter(|v| !v.is_undefined()) else {
        return Ok(None);
    };
    // `that: null` is given (so not "missing"): one empty condition, which assert refuses
    // with Ansible's message.
    if that.is_none() {
        return Ok(Some(Value::from(vec![Value::from("")])));
    }
    // `that: "{{ conditions }}"` naming a list: the list as written, its conditions not
    // rendered before they are evaluated (as Ansible resolves only the container).
    if let Some(name) = that
        .as_str()
        .filter(|_| !that.is_safe())
        .and_then(crate::template::single_variable)
        && let Some(raw) = ctx.get_raw(name)
        && raw.kind() == minijinja::value::ValueKind::Seq
    {
        return Ok(Some(raw));
    }
    let items: Vec<Value> = match that.kind() {
        minijinja::value::ValueKind::Seq => {
            that.try_iter().map(|i| i.collect()).unwrap_or_default()
        }
        _ => vec![that.clone()],
    };
    let embedded = |v: &Value| {
        v.as_str().is_some_and(|s| {
            !v.is_safe()
                && crate::template::is_template(s)
                && !crate::template::is_single_expression(s)
        })
    };
    if !items.iter().any(embedded) {
        return Ok(None);
    }
    let mut out = Vec::new();
    for v in items {
        // templates only in the condition's string constants: each is rendered where it
        // stands when the condition is evaluated (a lookup gets the value it makes)
        if let Some(expr) = v
            .as_str()
            .filter(|_| embedded(&v))
            .and_then(crate::template::const_template_expr)
        {
            out.push(Value::from(expr));
        } else if embedded(&v) {
            crate::template::check_condition_text(v.as_str().unwrap_or_default())?;
            let text = templar.render_str(v.as_str().unwrap_or_default(), ctx)?;
            out.push(Value::from(text.to_string()));
        } else {
            out.push(templar.render_value(&v, ctx)?);
        }
    }
    Ok(Some(Value::from(out)))
}

fn applied(a: crate::modules::Applied) -> Outcome {
    let mut o = Outcome::new(a.status);
    o.result = a.result;
    o.msg = a.msg;
    o.changes = a.changes;
    o.diffs = a.diffs;
    o
}

/// A module result's `invocation`, as Ansible's modules return it: `module_args`, every option
/// of the module with the value it ran with (its default, else null); secrets hidden.
fn invocation(doc: &crate::modules::ModuleDoc, args: &crate::modules::Args) -> Value {
    let mut m = Vars::new();
    for spec in doc.all_options() {
        let v = match args.get(spec.name) {
            Some(_) if spec.secret => Value::from("VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"),
            Some(v) => v.clone(),
            None => Value::from(()),
        };
        m.insert(spec.name.to_string(), v);
    }
    crate::value::map_value([("module_args", vars_value(&m))])
}

/// `service` and `package` hand their arguments to the host's service or package manager
/// module, and Ansible's action applies that module's `module_defaults` too (under the task's
/// own arguments): `module_defaults: {systemd: {name: x}}` reaches a `service` task on a
/// systemd host. The backend is `use`, else the `service_mgr`/`pkg_mgr` fact. Only options the
/// module takes are added.
fn backend_defaults(
    task: &Task,
    name: &str,
    args: &Value,
    doc: &crate::modules::ModuleDoc,
    facts: &Vars,
) -> Value {
    if task.module_defaults.is_empty() || !matches!(name, "service" | "package") {
        return args.clone();
    }
    let given = value_to_vars(args);
    let fact = if name == "service" {
        "service_mgr"
    } else {
        "pkg_mgr"
    };
    let backend = given
        .get("use")
        .and_then(|v| v.as_str().map(str::to_string))
        .filter(|u| u != "auto")
        .or_else(|| facts.get(fact).and_then(|v| v.as_str().map(str::to_string)));
    let Some(backend) = backend else {
        return args.clone();
    };
    let names: Vec<&str> = match backend.as_str() {
        "systemd" => vec!["systemd", "systemd_service"],
        "sysvinit" | "sysv" => vec!["sysvinit"],
        b => vec![b],
    };
    let mut out = Vars::new();
    for b in names {
        for (k, v) in crate::playbook::module_defaults_for(&task.module_defaults, b) {
            if doc.option(&k).is_some() {
                out.insert(k, v);
            }
        }
    }
    if out.is_empty() {
        return args.clone();
    }
    for (k, v) in given {
        out.insert(k, v);
    }
    vars_value(&out)
}

impl PlayRun<'_> {
    /// `wait_for_connection` on a host that cannot be reached yet: keeps connecting every
    /// `sleep` seconds until `timeout`, then fails (a failure, not UNREACHABLE, as in Ansible).
    pub(super) async fn wait_for_connection(
        &self,
        target: &str,
        cctx: &Context,
        args: &crate::modules::Args,
        first: Error,
    ) -> Result<Arc<dyn Connection>> {
        let t = crate::modules::commands::WaitForConnectionTiming::from_args(args)?;
        let start = Instant::now();
        let mut last = first;
        while start.elapsed() + t.sleep < t.timeout + t.delay {
            tokio::time::sleep(t.sleep).await;
            match self
                .shared
                .connection(&*self.runner.connector, target, cctx)
                .await
            {
                Ok(c) => return Ok(c),
                Err(e) if is_unreachable(&e) => last = e,
                Err(e) => return Err(e),
            }
        }
        Err(Error::failed(format!(
            "timed out waiting for connection: {}",
            last.msg
        )))
    }
    /// The task's `delegate_to` host (rendered) and the context its connection variables come
    /// from, if it has one.
    pub(super) fn delegate(&self, task: &Task, ctx: &Context) -> Result<Option<(String, Context)>> {
        match &task.delegate_to {
            Some(d) => {
                let d = self.runner.templar.render_str(d, ctx)?.to_string();
                // `delegate_to: "{{ omit }}"` means no delegation (Ansible).
                if d == OMIT {
                    return Ok(None);
                }
                if d.trim().is_empty() {
                    return Err(Error::failed(format!(
                        "Empty hostname produced from delegate_to: \"{}\"",
                        task.delegate_to.as_deref().unwrap_or_default()
                    )));
                }
                // The delegated host's variables under the task's own (`vars:` of the task and
                // its blocks: a task's `ansible_password` applies to the delegated connection,
                // templated there), with `inventory_hostname` still the host the task runs for,
                // as Ansible's delegated variables are.
                let mut layer = (*task.vars).clone();
                for k in ["inventory_hostname", "hostvars", "groups"] {
                    if let Ok(Some(v)) = ctx.get(k) {
                        layer.insert(k.into(), v);
                    }
                }
                // The connection keywords (`remote_user: "{{ x }}"`) are the task's: rendered in
                // its context (its role's defaults included), not the delegated host's.
                let mut keywords = super::vars::connection_keywords(task);
                for v in keywords.values_mut() {
                    if let Some(text) = v.as_str().filter(|t| crate::template::is_template(t)) {
                        *v = self.runner.templar.render_str(text, ctx)?;
                    }
                }
                let c = self
                    .shared
                    .hostvars_context_over(&d, keywords)
                    .push(Arc::new(layer));
                Ok(Some((d, c)))
            }
            None => Ok(None),
        }
    }

    pub(super) fn become_for(
        &self,
        task: &Task,
        ctx: &Context,
        conn_ctx: &Context,
    ) -> Result<Option<Become>> {
        let opts = &self.runner.opts;
        let var = |n: &str| -> Result<Option<Value>> {
            Ok(ctx.get(n)?.filter(|v| !v.is_undefined() && !v.is_none()))
        };
        // As in Ansible, a connection variable (`ansible_become*`, from any source: inventory,
        // play or task vars) wins over the keyword, which wins over the command line and
        // ansible.cfg.
        let enabled = match (var("ansible_become")?, task.become_.enabled) {
            (Some(v), _) => truthy(&v),
            (None, Some(b)) => b,
            (None, None) => opts.become_.unwrap_or(false),
        };
        if !enabled {
            return Ok(None);
        }
        let user = match (var("ansible_become_user")?, &task.become_.user) {
            (Some(v), _) => v.to_string(),
            (None, Some(u)) => self.runner.templar.render_str(u, ctx)?.to_string(),
            (None, None) => opts.become_user.clone().unwrap_or_else(|| "root".into()),
        };
        // No user: sudo and su become root.
        let user = if user.trim().is_empty() || user == "None" {
            "root".to_string()
        } else {
            user
        };
        // The connection variable wins over the keyword, as in Ansible.
        let method = match (var("ansible_become_method")?, &task.become_.method) {
            (Some(v), _) => v.to_string(),
            (None, Some(m)) => m.clone(),
            (None, None) => opts.become_method.clone().unwrap_or_else(|| "sudo".into()),
        };
        let method = match method.as_str() {
            "sudo" => BecomeMethod::Sudo,
            "su" => BecomeMethod::Su,
            other => {
                return Err(
                    Error::parse(format!("become_method '{other}' is not supported"))
                        .hint("prov supports sudo and su"),
                );
            }
        };
        // A password variable that is None (`default(None)`) gives no password.
        let password = match var("ansible_become_password")?.or(var("ansible_become_pass")?) {
            Some(v) if !v.is_none() && !v.is_undefined() => Some(Secret::new(v.to_string())),
            _ => opts.become_password.clone(),
        };
        let local = conn_ctx
            .get("ansible_connection")?
            .is_some_and(|v| v.as_str() == Some("local"));
        if local && user == "root" && running_as_root() {
            return Ok(None);
        }
        let flags = match &task.become_.flags {
            Some(f) => Some(f.clone()),
            None => var("ansible_become_flags")?.map(|v| v.to_string()),
        };
        let exe = match &task.become_.exe {
            Some(e) => Some(self.runner.templar.render_str(e, ctx)?.to_string()),
            None => var("ansible_become_exe")?
                .filter(|v| !v.is_none() && !v.is_undefined())
                .map(|v| v.to_string()),
        }
        .filter(|e| !e.trim().is_empty());
        // sudo's `sudo_chdir` (`ansible_sudo_chdir`).
        let chdir = match method {
            BecomeMethod::Sudo => var("ansible_sudo_chdir")?
                .filter(|v| !v.is_none() && !v.is_undefined())
                .map(|v| v.to_string())
                .filter(|d| !d.is_empty()),
            _ => None,
        };
        Ok(Some(Become {
            method,
            user,
            password,
            flags,
            exe,
            chdir,
        }))
    }

    /// The task's `environment`, its parents' first: each entry a mapping (each value rendered,
    /// one rendered to `omit` left out), a template of one (left out when it renders to
    /// `omit`), or a list of such entries; an entry that is not a mapping is skipped with a
    /// warning, as Ansible does.
    pub(super) fn environment(&self, task: &Task, ctx: &Context) -> Result<Vec<(String, String)>> {
        let mut env: Vec<(String, String)> = Vec::new();
        let mut entries: Vec<Value> = Vec::new();
        for e in &task.environment {
            match e.kind() {
                ValueKind::Seq => entries.extend(e.try_iter().into_iter().flatten()),
                _ => entries.push(e.clone()),
            }
        }
        let templar = &self.runner.templar;
        for e in entries {
            let pairs: Vec<(String, Value)> = if e.kind() == ValueKind::Map {
                let mut pairs = Vec::new();
                for (k, v) in value_to_vars(&e) {
                    let v = match templar.render_value(&v, ctx) {
                        Ok(v) => v,
                        // facts not gathered yet (`PATH: "{{ ansible_env.PATH }}:/x"` in the
                        // play): the variable is left out, as Ansible does
                        Err(err) if err.to_string().contains("ansible_env") => continue,
                        Err(err) => return Err(err),
                    };
                    if v.as_str() != Some(OMIT) {
                        pairs.push((k, v));
                    }
                }
                pairs
            } else {
                let v = templar.render_value(&e, ctx)?;
                if v.as_str() == Some(OMIT) {
                    continue;
                }
                if v.kind() != ValueKind::Map {
                    self.runner.emit(crate::events::Event::Warning(format!(
                        "could not parse environment value, skipping: {}",
                        crate::modules::args::value_str(&v)
                    )));
                    continue;
                }
                value_to_vars(&v).into_iter().collect()
            };
            for (k, val) in pairs {
                if !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') || k.is_empty() {
                    return Err(Error::parse(format!(
                        "'{k}' is not a valid environment variable name"
                    ))
                    .at(&task.loc));
                }
                env.retain(|(n, _)| n != &k);
                env.push((k, crate::modules::args::value_str(&val)));
            }
        }
        Ok(env)
    }
}

/// Whether the task keeps connecting to a host that cannot be reached yet (its action's flag in
/// the actions table: `wait_for_connection`) instead of failing it as unreachable at once.
fn waits_for_unreachable(kind: &TaskKind) -> bool {
    kind.action().is_some_and(|a| a.flags.waits_for_unreachable)
}

#[cfg(test)]
mod tests {
    use crate::connection::Connection;
    use crate::connection::local::LocalConnection;
    use crate::engine::{Connector, Runner};
    use crate::error::{Error, Result};
    use crate::events::{Event, Sink, Status};
    use crate::inventory::Inventory;
    use crate::modules::Registry;
    use crate::playbook::Loader;
    use crate::playbook::actions::{PAUSE, WAIT_FOR_CONNECTION};
    use crate::value::Vars;
    use async_trait::async_trait;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    /// Local connections, after the first `fail_first` connects fail as unreachable.
    struct Flaky {
        fail_first: usize,
        tries: AtomicUsize,
    }

    impl Flaky {
        fn new(fail_first: usize) -> Arc<Self> {
            Arc::new(Flaky {
                fail_first,
                tries: AtomicUsize::new(0),
            })
        }
    }

    #[async_trait]
    impl Connector for Flaky {
        async fn connect(&self, host: &str, _vars: &Vars) -> Result<Arc<dyn Connection>> {
            if self.tries.fetch_add(1, Ordering::SeqCst) < self.fail_first {
                return Err(Error::unreachable("no route to host").on_host(host));
            }
            Ok(Arc::new(LocalConnection::new(host)))
        }
    }

    /// (host, task, status, msg) of every result.
    #[derive(Default)]
    struct Results(Mutex<Vec<(String, String, Status, String)>>);

    impl Sink for Results {
        fn event(&self, ev: &Event) {
            if let Event::HostResult(r) = ev {
                self.0.lock().unwrap().push((
                    r.host.clone(),
                    r.task.clone(),
                    r.status,
                    r.msg.clone().unwrap_or_default(),
                ));
            }
        }
    }

    async fn run(
        name: &str,
        hosts: &str,
        tasks: &str,
        c: Arc<Flaky>,
    ) -> Vec<(String, String, Status, String)> {
        let dir = std::env::temp_dir().join(format!("prov-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pb = dir.join("site.yml");
        std::fs::write(
            &pb,
            format!("- hosts: all\n  gather_facts: false\n  tasks:\n{tasks}"),
        )
        .unwrap();
        let registry = Registry::builtin();
        let playbook = Loader::new(&registry).load_playbook(&pb).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        let results = Arc::new(Results::default());
        let runner = Runner::new(Inventory::load(&[hosts.into()]).unwrap(), registry)
            .sink(results.clone())
            .connector(c);
        runner.run(&playbook).await.unwrap();
        results.0.lock().unwrap().clone()
    }

    /// `pause` bypasses the host loop because its table entry says so: one result for a batch
    /// of three hosts, and what it registers is shared by all of them.
    #[tokio::test]
    async fn pause_runs_once_for_the_batch_by_its_flag() {
        assert!(PAUSE.flags.once_per_batch);
        let r = run(
            "pause-once",
            "a,b,c,",
            "    - pause: seconds=0\n      register: p\n    - debug: msg=\"{{ p.stdout }}\"\n",
            Flaky::new(0),
        )
        .await;
        let pauses: Vec<_> = r.iter().filter(|x| x.1 == "pause").collect();
        assert_eq!(pauses.len(), 1, "{r:?}");
        assert_eq!(pauses[0].0, "a");
        let debugs: Vec<_> = r.iter().filter(|x| x.1 == "debug").collect();
        assert_eq!(debugs.len(), 3, "{r:?}");
        assert!(debugs.iter().all(|x| x.2 == Status::Ok), "{r:?}");
    }

    /// `wait_for_connection` keeps connecting to a host that cannot be reached yet (its table
    /// flag); another module fails it as UNREACHABLE at once; on timeout it is a failure.
    #[tokio::test]
    async fn wait_for_connection_retries_an_unreachable_host_by_its_flag() {
        assert!(WAIT_FOR_CONNECTION.flags.waits_for_unreachable);
        assert!(!PAUSE.flags.waits_for_unreachable);
        let r = run(
            "wfc-retry",
            "a,",
            "    - wait_for_connection: { sleep: 1, timeout: 20 }\n",
            Flaky::new(2),
        )
        .await;
        assert_eq!(r.len(), 1, "{r:?}");
        assert_eq!(r[0].2, Status::Ok, "{r:?}");

        let r = run("wfc-ping", "a,", "    - ping:\n", Flaky::new(2)).await;
        assert_eq!(r[0].2, Status::Unreachable, "{r:?}");

        let r = run(
            "wfc-timeout",
            "a,",
            "    - wait_for_connection: { sleep: 1, timeout: 1 }\n",
            Flaky::new(usize::MAX),
        )
        .await;
        assert_eq!(r[0].2, Status::Failed, "{r:?}");
        assert!(r[0].3.contains("timed out waiting for connection"), "{r:?}");
    }

    /// A `service` task gets the `module_defaults` of the host's service manager module
    /// (`systemd` on a systemd host), under its own arguments, only options it takes; a
    /// `package` task those of its `use` module.
    #[test]
    fn service_and_package_take_their_backend_defaults() {
        use crate::value::{Value, from_json, value_to_vars};
        let dir =
            std::env::temp_dir().join(format!("prov-backend-defaults-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pb = dir.join("site.yml");
        std::fs::write(
            &pb,
            "- hosts: all\n  gather_facts: false\n  module_defaults:\n    systemd: { name: web, enabled: true, nope: 1 }\n    sysvinit: { name: other }\n    apt: { name: curl }\n  tasks:\n    - service: { enabled: false }\n    - package: { use: apt }\n",
        )
        .unwrap();
        let registry = Registry::builtin();
        let playbook = Loader::new(&registry).load_playbook(&pb).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        let tasks = &playbook.plays[0].tasks;
        let facts = value_to_vars(&from_json(&serde_json::json!({"service_mgr": "systemd"})));
        let doc = |n: &str| registry.get(n).unwrap().doc();
        let args = |t: &crate::playbook::Task| match &t.kind {
            crate::playbook::TaskKind::Module { name, args } => (name.clone(), args.clone()),
            k => panic!("{k:?}"),
        };
        let (n, a) = args(&tasks[0]);
        let got = value_to_vars(&super::backend_defaults(&tasks[0], &n, &a, doc(&n), &facts));
        assert_eq!(got.get("name"), Some(&Value::from("web")));
        assert_eq!(got.get("enabled"), Some(&Value::from(false)));
        assert!(!got.contains_key("nope"), "{got:?}");
        // no service_mgr fact: nothing added
        let got = value_to_vars(&super::backend_defaults(
            &tasks[0],
            &n,
            &a,
            doc(&n),
            &Vars::new(),
        ));
        assert!(!got.contains_key("name"), "{got:?}");
        let (n, a) = args(&tasks[1]);
        let got = value_to_vars(&super::backend_defaults(&tasks[1], &n, &a, doc(&n), &facts));
        assert_eq!(got.get("name"), Some(&Value::from("curl")));
    }
}
