//! Running one task on the hosts of a batch: when → loop → render args → plan → apply (unless
//! check mode) → changed_when/failed_when → register → notify → event.

use super::PlayRun;
use super::outcome::{Include, NO_TRACEBACK, Outcome, registered};
use crate::error::{Error, ErrorKind, Result};
use crate::events::{Event, HostResult, Status};
use crate::playbook::{Task, TaskKind};
use crate::template::{Context, Templar};
use crate::value::{Value, Vars, map_value, truthy, value_to_vars};
use std::sync::Arc;
use std::time::{Duration, Instant};

impl PlayRun<'_> {
    pub(super) fn tags_selected(&self, task: &Task) -> bool {
        tags_selected(&task.tags, &self.runner.opts)
    }

    pub(super) fn ctx_for(&self, host: &str, task: &Task) -> Context {
        // `ansible_check_mode` and `ansible_diff_mode` are the command line's, whatever the
        // task's `check_mode` and `diff` (as in Ansible).
        let ctx = self.shared.task_context(
            host,
            task,
            &self.play_vars,
            self.runner.opts.check,
            self.runner.opts.diff,
            self.runner.opts.verbosity,
        );
        // `ansible_play_hosts` and `ansible_play_batch` leave out the hosts that failed (and
        // were not rescued) or are unreachable.
        let down: Vec<String> = {
            let g = self.states.lock().unwrap_or_else(|e| e.into_inner());
            self.batch
                .iter()
                .filter(|h| g.get(*h).is_some_and(|s| s.failed || s.unreachable))
                .cloned()
                .collect()
        };
        if down.is_empty() {
            return ctx;
        }
        let up = |v: Value| -> Value {
            Value::from_iter(
                v.try_iter()
                    .into_iter()
                    .flatten()
                    .filter(|h| !down.iter().any(|d| h.as_str() == Some(d.as_str()))),
            )
        };
        let all = ctx
            .get("ansible_play_hosts_all")
            .ok()
            .flatten()
            .unwrap_or_default();
        let hosts = up(all);
        let batch = up(Value::from_iter(
            self.batch.iter().map(|h| Value::from(h.as_str())),
        ));
        let mut layer = Vars::new();
        layer.insert("ansible_play_hosts".into(), hosts.clone());
        layer.insert("play_hosts".into(), hosts);
        layer.insert("ansible_play_batch".into(), batch);
        ctx.push(Arc::new(layer))
    }

    pub(super) fn modes(&self, task: &Task) -> (bool, bool) {
        (
            task.check_mode.unwrap_or(self.runner.opts.check),
            task.diff.unwrap_or(self.runner.opts.diff),
        )
    }

    /// `task` with its late boolean keywords ([`Task::late_flags`]) decided in `ctx`: one
    /// rendering to `omit` keeps the inherited value; one that is not a boolean is an error
    /// naming the keyword, as Ansible's.
    pub(super) fn settle_flags(&self, task: &Task, ctx: &Context) -> Result<Task> {
        let mut t = task.clone();
        t.late_flags.clear();
        for f in &task.late_flags {
            let bad = |msg: String| {
                Error::failed(format!("Error processing keyword '{}': {msg}", f.keyword))
            };
            let v = self
                .runner
                .templar
                .render_value(&f.value, ctx)
                .map_err(|e| bad(e.msg.clone()))?;
            if v.as_str() == Some(crate::template::OMIT) {
                continue;
            }
            let b = strict_bool(&v).ok_or_else(|| {
                bad(format!(
                    "The value {} could not be converted to 'bool'.",
                    crate::template::filters::py_repr(&v)
                ))
            })?;
            match f.keyword {
                "check_mode" => t.check_mode = Some(b),
                "diff" => t.diff = Some(b),
                "become" => t.become_.enabled = Some(b),
                "any_errors_fatal" => t.any_errors_fatal = Some(b),
                "ignore_unreachable" => t.ignore_unreachable = Some(Value::from(b)),
                "delegate_facts" => t.delegate_facts = b,
                _ => {}
            }
        }
        Ok(t)
    }

    /// Runs one task on `hosts` (concurrently, at most `forks` at once).
    pub(super) async fn run_task(
        &self,
        task: &Task,
        hosts: &[String],
        handler: bool,
    ) -> Result<()> {
        if !handler
            && !matches!(task.kind, TaskKind::GatherFacts { .. })
            && !self.tags_selected(task)
        {
            return Ok(());
        }
        {
            let mut started = self.started.lock().unwrap_or_else(|e| e.into_inner());
            if !*started {
                let want = self
                    .runner
                    .opts
                    .start_at_task
                    .as_deref()
                    .unwrap_or_default();
                let name = task.name.as_deref().unwrap_or_default();
                let full = task.display_name();
                if name == want || full == want {
                    *started = true;
                } else if !matches!(task.kind, TaskKind::GatherFacts { .. }) {
                    return Ok(());
                }
            }
        }
        if let TaskKind::Meta(m) = &task.kind {
            return self.run_meta(task, m, hosts, handler).await;
        }
        let first = &hosts[0];
        let display = {
            let raw = task.display_name();
            if raw.contains("{{") {
                let ctx = self.ctx_for(first, task);
                self.runner
                    .templar
                    .render_str(&raw, &ctx)
                    .map(|v| v.to_string())
                    .unwrap_or(raw)
            } else {
                raw
            }
        };
        // Actions that bypass the host loop (`pause` waits once per play, `add_host` adds once
        // per task or loop item) run on the first host only, as in Ansible.
        let once = task.run_once
            || bypasses_host_loop(task)
            || task.run_once_if.as_ref().is_some_and(|c| {
                let ctx = self.ctx_for(first, task);
                self.runner.templar.eval_cond(c, &ctx).unwrap_or(false)
            });
        let run_on: Vec<String> = if once {
            vec![first.clone()]
        } else {
            hosts.to_vec()
        };
        self.runner.emit(Event::TaskStart {
            name: display.clone(),
            location: Some(task.loc.to_string()),
            action: task.kind.action_name().to_string(),
            // What a handler includes runs as handlers too.
            handler: handler || self.in_handlers(),
            hosts: run_on.clone(),
            implementation: super::fallback::is_fallback(task, &self.runner.registry)
                .then(|| "ansible".to_string()),
        });
        // `throttle` lowers the number of hosts running this task at once below `forks`.
        // A value that is not an integer (Python's `int()`) ends the run, as in Ansible.
        let throttle = match &task.throttle {
            Some(v) => {
                let ctx = self.ctx_for(first, task);
                let n = self
                    .runner
                    .templar
                    .render_value(v, &ctx)
                    .map_err(|e| e.msg.clone())
                    .and_then(|r| crate::util::python::py_int(&r))
                    .map_err(|why| {
                        Error::parse(format!(
                            "Failed to convert the throttle value to an integer: {why}"
                        ))
                        .at(&task.loc)
                    })?;
                (n >= 1).then_some(n as usize)
            }
            None => None,
        };
        let permits = throttle.map_or(self.runner.opts.forks, |t| t.min(self.runner.opts.forks));
        // Under the free strategy each host runs the task on its own: the throttle is shared.
        let sem = match throttle {
            Some(_) if self.free => self
                .throttles
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry(task.loc.to_string())
                .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(permits.max(1))))
                .clone(),
            _ => Arc::new(tokio::sync::Semaphore::new(permits.max(1))),
        };
        let futs = run_on.iter().map(|h| {
            let sem = &sem;
            let display = &display;
            async move {
                let _permit = sem.acquire().await;
                // After Ctrl-C, hosts still waiting for a fork do not start.
                if crate::interrupt::is_set() {
                    return None;
                }
                let out = self.run_on_host(task, h, display).await;
                Some((h.clone(), out))
            }
        });
        let outcomes: Vec<(String, Outcome)> = futures::future::join_all(futs)
            .await
            .into_iter()
            .flatten()
            .collect();
        if let Some(e) = self
            .missing_handler
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            return Err(e);
        }
        if once {
            // Everything run_once registers or sets applies to every host of the batch (not
            // only those running the task: a run_once task included by one host sets it on
            // all, as in Ansible), except the unreachable ones.
            let data = self.shared.host(first);
            let mut copy = Vars::new();
            if let Some(r) = &task.register
                && let Some(v) = data.set_facts.get(r)
            {
                copy.insert(r.clone(), v.clone());
            }
            if let TaskKind::SetFact { vars, .. } = &task.kind {
                for (k, _) in vars {
                    if let Some(v) = data.set_facts.get(k) {
                        copy.insert(k.clone(), v.clone());
                    }
                }
            }
            for h in &self.batch {
                if h != first && !self.state(h, |s| s.unreachable) {
                    self.shared.set_vars(h, copy.clone());
                }
            }
        }
        // Dynamic includes: group hosts by what they include (the same file with the same loop
        // variables), then run each group, in the order of the loop items (Ansible's rule).
        let mut groups: Vec<(Include, Vars, Vec<String>)> = Vec::new();
        for (h, o) in &outcomes {
            for (inc, vars) in &o.includes {
                match groups.iter_mut().find(|(i, v, _)| i == inc && v == vars) {
                    Some((_, _, hs)) => hs.push(h.clone()),
                    None => groups.push((inc.clone(), vars.clone(), vec![h.clone()])),
                }
            }
        }
        for (inc, vars, hs) in groups {
            let tasks = match self.load_include(task, &inc, &vars, handler) {
                Ok(t) => t,
                // An included file that is not a valid task list (YAML, an unknown action or
                // keyword) stops the run, as Ansible's parser errors do; a missing file or
                // role fails the include on its hosts.
                Err(e) if matches!(e.kind, ErrorKind::Parse | ErrorKind::Yaml) => return Err(e),
                Err(e) => {
                    for h in &hs {
                        self.record(h, task, &display, &Outcome::from_error(&e));
                    }
                    continue;
                }
            };
            self.run_list(&tasks, hs).await?;
        }
        Ok(())
    }
    /// Updates stats, registers, notifies and emits the event for a host's outcome.
    /// Records an outcome (stats, register, notify) and emits its event.
    pub(super) fn record(&self, host: &str, task: &Task, display: &str, o: &Outcome) {
        self.record_quiet(host, task, o);
        self.emit_result(host, task, display, o, None);
    }

    pub(super) fn emit_result(
        &self,
        host: &str,
        task: &Task,
        display: &str,
        o: &Outcome,
        item: Option<String>,
    ) {
        let (_, diff_mode) = self.modes(task);
        // A result an action hid itself (`_ansible_no_log`: include_vars of a vault-encrypted
        // file) is shown as a no_log task's.
        let no_log = task.no_log
            || o.no_log
            || o.result
                .get("_ansible_no_log")
                .is_some_and(crate::value::truthy);
        let result = if no_log {
            map_value([(
                "censored",
                Value::from(
                    "the output has been hidden due to the fact that 'no_log: true' was specified for this result",
                ),
            )])
        } else {
            o.to_value()
        };
        self.runner.emit(Event::HostResult(Box::new(HostResult {
            host: host.to_string(),
            delegated_to: o.delegated_to.clone(),
            task: display.to_string(),
            status: o.status,
            item,
            ignored: o.ignored,
            msg: if no_log { None } else { o.msg.clone() },
            changes: o.changes.clone(),
            diffs: if diff_mode && !no_log {
                o.diffs.clone()
            } else {
                vec![]
            },
            result,
            duration: o.duration,
            no_log,
        })));
    }

    pub(super) async fn run_on_host(&self, task: &Task, host: &str, display: &str) -> Outcome {
        // A templated `no_log` is decided on each host when the task runs (hidden when it
        // cannot be rendered).
        if !task.no_log_if.is_empty() {
            let ctx = self.ctx_for(host, task);
            let mut t = task.clone();
            t.no_log = task.no_log
                || task.no_log_if.iter().any(|c| {
                    self.runner
                        .templar
                        .render_str(c, &ctx)
                        .map(|v| truthy(&v))
                        .unwrap_or(true)
                });
            t.no_log_if.clear();
            return Box::pin(self.run_on_host(&t, host, display)).await;
        }
        // ansible.cfg's `no_log` for a task that sets none.
        if self.runner.opts.no_log && !task.no_log && !task.no_log_given {
            let mut t = task.clone();
            t.no_log = true;
            t.no_log_given = true;
            return Box::pin(self.run_on_host(&t, host, display)).await;
        }
        let started = Instant::now();
        let ctx = self.ctx_for(host, task);
        let mut o = match &task.loop_ {
            None => {
                let o = self.run_item(task, host, &ctx).await;
                let mut o = self.finish(task, host, &ctx, o);
                o.duration = started.elapsed();
                self.record(host, task, display, &o);
                if let Some(inc) = o.include.take() {
                    o.includes.push((inc, Vars::new()));
                }
                o
            }
            Some((kind, raw)) => self.run_loop(task, host, &ctx, kind, raw, display).await,
        };
        o.result.shift_remove("__prov_internal");
        o
    }
    /// Records an outcome without emitting an event (loops already showed each item).
    pub(super) fn record_quiet(&self, host: &str, task: &Task, o: &Outcome) {
        self.state(host, |s| {
            match o.status {
                Status::Ok => s.stats.ok += 1,
                Status::Changed => {
                    s.stats.ok += 1;
                    s.stats.changed += 1;
                }
                Status::Skipped => s.stats.skipped += 1,
                // An ignored failure counts as ok too (Ansible's recap).
                Status::Failed if o.ignored => {
                    s.stats.ok += 1;
                    s.stats.ignored += 1;
                }
                Status::Failed => {
                    s.stats.failed += 1;
                    s.failed = true;
                    s.fatal |= task.any_errors_fatal.unwrap_or(self.play.any_errors_fatal);
                    s.last_failure = Some((failed_task(task), o.to_value()));
                }
                // An ignored unreachable host counts as ok and ignored (Ansible 2.19's recap).
                Status::Unreachable if o.ignored => {
                    s.stats.ok += 1;
                    s.stats.ignored += 1;
                }
                Status::Unreachable => {
                    s.stats.unreachable += 1;
                    s.unreachable = true;
                }
            }
        });
        // A task of a role that ran (not skipped nor unreachable) makes the host complete the
        // role when it reaches its end.
        if let Some(role) = &task.role
            && matches!(o.status, Status::Ok | Status::Changed | Status::Failed)
        {
            self.roles_run.ran(role, host);
        }
        if o.status == Status::Changed && !task.notify.is_empty() {
            let names = self.notify_names(host, task);
            self.notify(host, task, &names);
        }
        if let Some(r) = &task.register {
            let mut v = Vars::new();
            v.insert(r.clone(), registered(o));
            self.shared.set_vars(host, v);
        }
        if matches!(o.status, Status::Ok | Status::Changed) {
            self.record_custom_stats(host, o);
        }
    }

    /// `set_stats` results (`ansible_stats`, in the result or in each loop item's): their data
    /// kept for the host (`per_host`) or the run, set or `aggregate`d, as Ansible's strategy
    /// records them.
    fn record_custom_stats(&self, host: &str, o: &Outcome) {
        let items: Vec<Value> = match o.result.get("results") {
            Some(r) if r.kind() == minijinja::value::ValueKind::Seq => {
                r.try_iter().into_iter().flatten().collect()
            }
            _ => match o.result.get("ansible_stats") {
                Some(s) => vec![map_value([("ansible_stats", s.clone())])],
                None => return,
            },
        };
        for item in items {
            let Ok(stats) = item.get_attr("ansible_stats") else {
                continue;
            };
            let Ok(data) = stats.get_attr("data") else {
                continue;
            };
            if data.kind() != minijinja::value::ValueKind::Map || !data.is_true() {
                continue;
            }
            let flag = |name: &str| stats.get_attr(name).ok().filter(|v| !v.is_undefined());
            let per_host = flag("per_host").is_none_or(|v| v.is_true());
            let aggregate = flag("aggregate").is_some_and(|v| v.is_true());
            let key = if per_host { host } else { "_run" };
            for (k, v) in value_to_vars(&data) {
                self.shared.add_custom_stat(key, &k, v, aggregate);
            }
        }
    }

    /// The handlers a task notifies: its `notify` entries rendered on the host (a template
    /// may give a list of names).
    fn notify_names(&self, host: &str, task: &Task) -> Vec<String> {
        if !task.notify.iter().any(|n| crate::template::is_template(n)) {
            return task.notify.clone();
        }
        let ctx = self.ctx_for(host, task);
        let mut out = Vec::new();
        for n in &task.notify {
            match self.runner.templar.render_str(n, &ctx) {
                Ok(v) if v.kind() == minijinja::value::ValueKind::Seq => {
                    out.extend(v.try_iter().into_iter().flatten().map(|x| x.to_string()))
                }
                Ok(v) => out.push(v.to_string()),
                Err(_) => out.push(n.clone()),
            }
        }
        out
    }

    pub(super) fn ignore_errors(&self, task: &Task, ctx: &Context) -> bool {
        match &task.ignore_errors {
            None => false,
            Some(v) => match v.as_str() {
                Some(s) if s.contains("{{") => {
                    self.runner.templar.eval_cond(s, ctx).unwrap_or(false)
                }
                _ => truthy(v),
            },
        }
    }

    /// `ignore_unreachable`, rendered on the host (with the loop item) when it is a template.
    pub(super) fn ignore_unreachable(&self, task: &Task, ctx: &Context) -> bool {
        match &task.ignore_unreachable {
            None => false,
            Some(v) => match v.as_str() {
                Some(s) if crate::template::is_template(s) => self
                    .runner
                    .templar
                    .render_str(s, ctx)
                    .map(|v| truthy(&v))
                    .unwrap_or(false),
                _ => truthy(v),
            },
        }
    }

    /// `ignore_errors` on a finished result (its conditions were applied by [`Self::run_item`]).
    pub(super) fn finish(
        &self,
        task: &Task,
        _host: &str,
        ctx: &Context,
        mut o: Outcome,
    ) -> Outcome {
        if o.status == Status::Failed && self.ignore_errors(task, ctx) {
            o.ignored = true;
        }
        // `ignore_unreachable`: shown as `...ignoring` too.
        if o.status == Status::Unreachable && self.ignore_unreachable(task, ctx) {
            o.ignored = true;
        }
        o
    }

    /// The context a result's conditions (`changed_when`, `failed_when`, `until`) see: the
    /// result's keys, and the result under the `register` name.
    fn result_context(&self, task: &Task, ctx: &Context, o: &Outcome) -> Context {
        let mut layer = Vars::new();
        let v = o.to_value();
        for (k, val) in value_to_vars(&v) {
            layer.insert(k, val);
        }
        if let Some(r) = &task.register {
            layer.insert(r.clone(), v);
        }
        ctx.push(Arc::new(layer))
    }

    /// `changed_when`, then `failed_when`, on a result, as Ansible does: a condition that
    /// cannot be evaluated fails the task but keeps the result, with the error as
    /// `<name>_when_result`; `failed_when` that clears a failure keeps its exception as
    /// `failed_when_suppressed_exception`.
    fn apply_conditions(&self, task: &Task, ctx: &Context, mut o: Outcome) -> Outcome {
        if matches!(o.status, Status::Skipped | Status::Unreachable) || o.include.is_some() {
            return o;
        }
        if task.changed_when.is_none() && task.failed_when.is_none() {
            return o;
        }
        let ectx = self.result_context(task, ctx, &o);
        let templar = &self.runner.templar;
        let failed_cond = |o: &mut Outcome, which: &str, e: Error| {
            o.status = Status::Failed;
            let text = e.msg.clone();
            if o.msg.as_deref().is_none_or(str::is_empty) {
                o.msg = Some(text.clone());
            }
            o.result
                .insert(format!("{which}_when_result"), Value::from(text));
            o.result
                .insert("exception".into(), Value::from(e.at(&task.loc).to_string()));
        };
        if let Some(conds) = &task.changed_when {
            match all_true(templar, conds, &ectx) {
                Ok(true) if o.status == Status::Ok => o.status = Status::Changed,
                Ok(false) if o.status == Status::Changed => o.status = Status::Ok,
                Ok(_) => {}
                Err(e) => {
                    failed_cond(&mut o, "changed", e);
                    return o;
                }
            }
        }
        if let Some(conds) = &task.failed_when {
            match all_true(templar, conds, &ectx) {
                Ok(true) => {
                    if o.status != Status::Failed {
                        o.msg = o.msg.or(Some("failed_when condition was true".into()));
                    }
                    o.status = Status::Failed;
                    o.result
                        .insert("failed_when_result".into(), Value::from(true));
                }
                Ok(false) => {
                    if o.status == Status::Failed {
                        o.status = if o.changes.is_empty() {
                            Status::Ok
                        } else {
                            Status::Changed
                        };
                        let exception = o
                            .result
                            .shift_remove("exception")
                            .unwrap_or_else(|| Value::from(NO_TRACEBACK));
                        o.result
                            .insert("failed_when_suppressed_exception".into(), exception);
                    }
                    o.result
                        .insert("failed_when_result".into(), Value::from(false));
                }
                Err(e) => failed_cond(&mut o, "failed", e),
            }
        }
        o
    }

    /// Runs one item (or the task without a loop): `when`, then the action, retried as
    /// Ansible does: with `until` (default 3 retries) or `retries` (until it succeeds), each
    /// attempt's result judged by `changed_when`/`failed_when` first (which see `attempts`).
    pub(super) async fn run_item(&self, task: &Task, host: &str, ctx: &Context) -> Outcome {
        // The delegated host is decided before the conditions (Ansible 2.19): a
        // `delegate_to` that cannot be rendered or renders empty fails even a skipped task.
        let delegated_ctx;
        let rendered;
        let mut task = task;
        let ctx = match &task.delegate_to {
            None => ctx,
            Some(_) => match self.delegate(task, ctx) {
                Err(e) => return Outcome::from_error(&e.at(&task.loc)),
                Ok(None) => ctx,
                Ok(Some((d, _))) => {
                    // Rendered once for this host (or loop item): a `delegate_to` template
                    // that picks a host at random names the same host for the whole task.
                    if task.delegate_to.as_deref() != Some(d.as_str()) {
                        let mut t = task.clone();
                        t.delegate_to = Some(d.clone());
                        rendered = t;
                        task = &rendered;
                    }
                    // `ansible_delegated_vars[<delegated host>]`: its inventory variables, seen
                    // from this host (its `inventory_hostname` stays this host's, as Ansible's).
                    let mut dv = (*self.shared.inv_vars(&d)).clone();
                    dv.insert("inventory_hostname".into(), Value::from(host));
                    dv.insert("ansible_delegated_host".into(), Value::from(d.as_str()));
                    // The address the delegated connection goes to, as Ansible adds it to the
                    // delegated variables, and to the task's own unless its host sets one.
                    let addr = dv
                        .get("ansible_host")
                        .or_else(|| dv.get("ansible_ssh_host"))
                        .cloned()
                        .unwrap_or_else(|| Value::from(d.as_str()));
                    dv.insert("ansible_host".into(), addr.clone());
                    let mut layer = Vars::new();
                    let own = self.shared.inv_vars(host);
                    if !own.contains_key("ansible_host") && !own.contains_key("ansible_ssh_host") {
                        layer.insert("ansible_host".into(), addr);
                    }
                    layer.insert(
                        "ansible_delegated_vars".into(),
                        map_value([(d.as_str(), crate::value::vars_value(&dv))]),
                    );
                    delegated_ctx = ctx.push(Arc::new(layer));
                    &delegated_ctx
                }
            },
        };
        for c in &task.when {
            match self.runner.templar.eval_cond(c, ctx) {
                Ok(true) => {}
                Ok(false) => return Outcome::skipped("Conditional result was False", Some(c)),
                Err(e) => {
                    let mut o = Outcome::from_error(&e.at(&task.loc));
                    o.msg = Some(format!(
                        "the conditional check '{c}' failed: {}",
                        o.msg.unwrap_or_default()
                    ));
                    return o;
                }
            }
        }
        // Boolean keywords given as templates are decided now, after the conditions (Ansible's
        // post-validation), for this host or loop item.
        let settled;
        if !task.late_flags.is_empty() {
            match self.settle_flags(task, ctx) {
                Ok(t) => {
                    settled = t;
                    task = &settled;
                }
                Err(e) => return Outcome::from_error(&e.at(&task.loc)),
            }
        }
        let num = |v: &Value| self.number(v, ctx).ok().flatten();
        let retries = match (&task.retries, &task.until) {
            (Some(r), _) => num(r).unwrap_or(3.0).max(0.0) as u64,
            (None, Some(_)) => 3,
            (None, None) => 0,
        };
        let attempts_max = retries + 1;
        if attempts_max == 1 {
            let o = self.execute(task, host, ctx).await;
            return self.apply_conditions(task, ctx, o);
        }
        let delay = task.delay.as_ref().and_then(num).unwrap_or(5.0).max(0.0);
        let until = task.until.clone();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut o = self.execute(task, host, ctx).await;
            // Nothing ran (check mode skips commands): there is no result to wait on.
            if matches!(o.status, Status::Unreachable | Status::Skipped) {
                return o;
            }
            o.result.insert("attempts".into(), Value::from(attempt));
            let mut o = self.apply_conditions(task, ctx, o);
            let done = match &until {
                Some(u) => self
                    .runner
                    .templar
                    .eval_cond(u, &self.result_context(task, ctx, &o)),
                None => Ok(o.status != Status::Failed),
            };
            match done {
                Ok(true) => return o,
                Ok(false) if attempt >= attempts_max => {
                    // Ansible reports the retries, not the attempts, once they run out.
                    o.result.insert("attempts".into(), Value::from(retries));
                    // A `failed_when` that held false decides: the task did not fail.
                    if o.result.get("failed_when_result") == Some(&Value::from(false)) {
                        return o;
                    }
                    if o.status != Status::Failed {
                        o.msg = Some(format!(
                            "Retries exhausted ({attempt} attempts): until '{}' never held",
                            until.as_deref().unwrap_or_default()
                        ));
                    }
                    o.status = Status::Failed;
                    return o;
                }
                Ok(false) => {
                    self.runner.emit(Event::Verbose {
                        level: 0,
                        msg: format!(
                            "FAILED - RETRYING: [{host}]: {} ({} retries left).",
                            task.display_name(),
                            attempts_max - attempt
                        ),
                    });
                    tokio::time::sleep(Duration::from_secs_f64(delay)).await;
                }
                Err(e) => return Outcome::from_error(&e.at(&task.loc)),
            }
        }
    }

    pub(super) async fn execute(&self, task: &Task, host: &str, ctx: &Context) -> Outcome {
        // `timeout`: the task fails on this host when it takes longer (Ansible 2.10+).
        // Whole seconds, 0 (none) to 100,000,000 (Ansible's bounds, from alarm(2)).
        const MAX_TIMEOUT: i64 = 100_000_000;
        let limit = match &task.timeout {
            Some(v) => {
                let rendered = match self.runner.templar.render_value(v, ctx) {
                    Ok(r) => r,
                    Err(e) => return Outcome::from_error(&e.at(&task.loc)),
                };
                match crate::util::python::py_int(&rendered) {
                    Ok(n) if !(0..=MAX_TIMEOUT).contains(&n) => {
                        let e = Error::failed(format!(
                            "Task failed: Timeout {n} is invalid, it must be between 0 and \
                             {MAX_TIMEOUT}."
                        ));
                        return Outcome::from_error(&e.at(&task.loc));
                    }
                    Ok(n) => (n > 0).then_some(n as u64),
                    Err(why) => {
                        let e = Error::failed(format!(
                            "the task's timeout ({rendered}) is not an integer: {why}"
                        ));
                        return Outcome::from_error(&e.at(&task.loc));
                    }
                }
            }
            None => None,
        };
        // no_log hides every command this task runs (logs, argv: see connection::no_log_scope).
        let inner = crate::connection::no_log_scope(task.no_log, async {
            // Ctrl-C: running commands are signalled by their transports; whatever has not
            // ended after a grace period (a pause, a retry delay) is dropped.
            tokio::select! {
                r = self.execute_inner(task, host, ctx) => r,
                _ = crate::interrupt::wait_then(Duration::from_secs(12)) => Err(crate::interrupt::error()),
            }
        });
        let res = match limit {
            Some(secs) => match tokio::time::timeout(Duration::from_secs(secs), inner).await {
                Ok(r) => r,
                // Ansible's message and `timedout` result key.
                Err(_) => {
                    let period = Value::from(secs as i64);
                    let mut o = Outcome::from_error(
                        &Error::failed(format!("Task failed: Timed out after {period} second(s)."))
                            .hint("raise `timeout:` on the task, or make it faster")
                            .at(&task.loc),
                    );
                    o.result
                        .insert("timedout".into(), map_value([("period", period)]));
                    return o;
                }
            },
            None => inner.await,
        };
        match res {
            Ok(o) => o,
            Err(e) => {
                let e = if e.loc.is_none() && e.kind != crate::error::ErrorKind::Unreachable {
                    e.at(&task.loc)
                } else {
                    e
                };
                Outcome::from_error(&e)
            }
        }
    }
    /// A numeric keyword (`retries`, `delay`, `throttle`, `timeout`): a number, or a template or
    /// string that renders to one; `None` when it is not a number.
    pub(super) fn number(&self, v: &Value, ctx: &Context) -> Result<Option<f64>> {
        let r = self.runner.templar.render_value(v, ctx)?;
        Ok(f64::try_from(r.clone())
            .ok()
            .or_else(|| r.as_str().and_then(|s| s.trim().parse().ok())))
    }
}

/// Whether a task with `tags` runs with the run's `--tags` and `--skip-tags` (Ansible's
/// rules: `always` unless skipped, `never` only when asked for, `tagged`, `untagged`, `all`).
pub(crate) fn tags_selected(tags: &[String], opts: &super::RunOptions) -> bool {
    // Ansible's Taggable.evaluate_tags: a task without tags is `untagged`.
    let untagged = tags.is_empty();
    let has = |t: &str| tags.iter().any(|x| x == t) || (untagged && t == "untagged");
    let all = ["all".to_string()];
    let only: &[String] = if opts.tags.is_empty() {
        &all
    } else {
        &opts.tags
    };
    let wants = |t: &str| only.iter().any(|x| x == t);
    let run = has("always")
        || (wants("all") && !has("never"))
        || only.iter().any(|t| has(t))
        || (wants("tagged") && !untagged && !has("never"));
    if !run {
        return false;
    }
    let skip = &opts.skip_tags;
    let skips = |t: &str| skip.iter().any(|x| x == t);
    if skips("all") {
        return has("always") && !skips("always");
    }
    !(skip.iter().any(|t| has(t)) || (skips("tagged") && !untagged))
}

/// `ansible_failed_task`: the failed task's keywords as Ansible gives them (its name as written,
/// empty when it has none; its action).
fn failed_task(task: &Task) -> Value {
    let action = match &task.kind {
        TaskKind::Deferred(d) => d.name.clone(),
        k => k.action_name().to_string(),
    };
    let list = |xs: &[String]| Value::from_iter(xs.iter().map(|x| Value::from(x.as_str())));
    map_value([
        ("name", Value::from(task.name.clone().unwrap_or_default())),
        ("action", Value::from(action)),
        ("tags", list(&task.tags)),
        ("when", list(&task.when)),
        ("notify", list(&task.notify)),
        (
            "register",
            task.register
                .as_deref()
                .map(Value::from)
                .unwrap_or_default(),
        ),
        (
            "delegate_to",
            task.delegate_to
                .as_deref()
                .map(Value::from)
                .unwrap_or_default(),
        ),
    ])
}

/// Whether the task's action runs once for the batch instead of once per host (its flag in
/// the actions table).
fn bypasses_host_loop(task: &Task) -> bool {
    task.kind.action().is_some_and(|a| a.flags.once_per_batch)
}

fn all_true(t: &Templar, conds: &[String], ctx: &Context) -> Result<bool> {
    for c in conds {
        if !t.eval_cond(c, ctx)? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Ansible's strict boolean of a keyword's value: a boolean, 0 or 1, or one of its boolean
/// words; `None` for anything else.
fn strict_bool(v: &Value) -> Option<bool> {
    if let Some(s) = v.as_str() {
        return crate::value::boolean_word(s);
    }
    match v.kind() {
        minijinja::value::ValueKind::Bool => Some(v.is_true()),
        minijinja::value::ValueKind::Number => match f64::try_from(v.clone()).ok()? {
            1.0 => Some(true),
            0.0 => Some(false),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use crate::engine::Runner;
    use crate::events::{Event, Sink, Status};
    use crate::inventory::Inventory;
    use crate::modules::Registry;
    use crate::playbook::Loader;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Counts loop item results (keeping 100,000 events would only measure the sink).
    #[derive(Default)]
    struct CountItems {
        ok: AtomicUsize,
        other: AtomicUsize,
    }
    impl Sink for CountItems {
        fn event(&self, ev: &Event) {
            if let Event::HostResult(r) = ev
                && r.item.is_some()
            {
                let n = if r.status == Status::Ok {
                    &self.ok
                } else {
                    &self.other
                };
                n.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Runs a playbook of `tasks` on localhost; the recap's exit code.
    async fn run_local(name: &str, tasks: &str) -> i32 {
        let dir = std::env::temp_dir().join(format!("prov-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pb = dir.join("site.yml");
        std::fs::write(
            &pb,
            format!("- hosts: localhost\n  gather_facts: false\n  tasks:\n{tasks}"),
        )
        .unwrap();
        let registry = Registry::builtin();
        let playbook = Loader::new(&registry).load_playbook(&pb).unwrap();
        let runner = Runner::new(Inventory::load(&[]).unwrap(), Registry::builtin());
        let recap = runner.run(&playbook).await.unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        recap.exit_code()
    }

    /// Retries as Ansible counts them: `until` retries 3 times by default, `retries` alone
    /// retries until the task succeeds, `changed_when`/`failed_when` judge each attempt (and
    /// see `attempts`), and a run out of retries reports the retries as `attempts`.
    #[tokio::test]
    async fn retries_and_conditions_follow_ansible_s_attempt_loop() {
        let code = run_local(
            "retries",
            r#"
    - command: "true"
      register: a
      failed_when: true
      until: a is successful
      delay: 0
      ignore_errors: true
    - fail: { msg: never }
      retries: 2
      delay: 0
      register: b
      ignore_errors: true
    - command: "true"
      register: c
      until: false
      retries: 1
      delay: 0
      ignore_errors: true
    - command: "true"
      register: d
      until: false
      retries: 2
      delay: 0
      failed_when: d.attempts > 5
    - assert:
        that:
          - a.attempts == 3 and a is failed
          - b.attempts == 2 and b.msg == 'never'
          - c.attempts == 1 and c is failed
          - d.attempts == 2 and d is not failed
"#,
        )
        .await;
        assert_eq!(code, 0);
    }

    /// A condition that cannot be evaluated fails the task but keeps its result (with the
    /// error as `<name>_when_result`); `failed_when` clearing a failure keeps its exception
    /// as `failed_when_suppressed_exception`; a failed result registers `exception`, and an
    /// error's `msg` is the message alone.
    #[tokio::test]
    async fn conditions_keep_the_result_and_failures_register_an_exception() {
        let code = run_local(
            "conditions",
            r#"
    - command: echo foo
      changed_when: no_such_thing.attr
      register: cw
      ignore_errors: true
    - command: "false"
      failed_when: false
      register: fw
    - command: "false"
      register: f
      ignore_errors: true
    - file: { state: file }
      register: m
      ignore_errors: true
    - assert:
        that:
          - cw is failed and cw.stdout == 'foo'
          - cw.changed_when_result is contains('no_such_thing')
          - fw is not failed and fw.failed_when_suppressed_exception is defined
          - fw.exception is undefined
          - f.exception is defined
          - m.msg == 'missing required arguments: path'
          - m.exception is contains('site.yml:')
"#,
        )
        .await;
        assert_eq!(code, 0);
    }

    /// `timeout`: a task that takes longer fails as Ansible's (`timedout.period`, its
    /// message); a timeout out of Ansible's bounds fails the task without running it.
    #[tokio::test]
    async fn timeout_results_and_bounds_as_ansible() {
        let code = run_local(
            "timeout",
            r#"
    - command: sleep 5
      timeout: 1
      register: slow
      ignore_errors: true
    - command: "true"
      timeout: -1
      register: neg
      ignore_errors: true
    - command: "true"
      timeout: 0
      register: untimed
    - assert:
        that:
          - slow is failed and slow is timedout
          - slow.timedout.period == 1
          - slow.msg == 'Task failed: Timed out after 1 second(s).'
          - neg is failed and neg is not timedout
          - neg.msg is contains 'Timeout -1 is invalid, it must be between 0 and 100000000'
          - untimed is not timedout and untimed is succeeded
"#,
        )
        .await;
        assert_eq!(code, 0);
    }

    /// Free-form text given to an action that takes none fails with Ansible's message (also
    /// when it holds a template).
    #[tokio::test]
    async fn free_form_text_for_an_action_without_raw_params_fails_as_ansible() {
        let code = run_local(
            "raw-params",
            r#"
    - debug:
        garbage {{"with a template"}}
      ignore_errors: true
      register: r
    - assert:
        that:
          - r is failed
          - r.msg == "Action 'ansible.builtin.debug' does not support raw params."
"#,
        )
        .await;
        assert_eq!(code, 0);
    }

    /// `loop_control`: `ansible_loop` only with `extended` (`allitems` unless
    /// `extended_allitems: false`, no `previtem` on the first item), `index_var` and
    /// `ansible_loop` kept in each item's result, and `break_when` stopping the loop after the
    /// first item it holds for (seeing the registered result).
    #[tokio::test]
    async fn loop_control_extended_and_break_when() {
        let code = run_local(
            "loop-control",
            r#"
    - debug: msg=x
      loop: [a, b]
      register: plain
    - debug: msg=x
      loop: [a, b]
      loop_control: { extended: true, extended_allitems: false, index_var: i }
      failed_when: ansible_loop.allitems is defined or (i == 0 and ansible_loop.previtem is defined)
      register: ext
    - debug: msg="{{ item * 2 }}"
      loop: [1, 2, 3, 4]
      loop_control:
        break_when:
          - r.msg is defined
          - item >= 2
      register: r
    - assert:
        that:
          - plain.results[0].ansible_loop is undefined
          - ext.results[1].ansible_loop.index == 2 and ext.results[1].i == 1
          - ext.results[1].ansible_index_var == 'i'
          - r.results | length == 2
"#,
        )
        .await;
        assert_eq!(code, 0);
    }

    /// A loop of 100,000 cheap items completes: every item runs once and the registered
    /// `results` hold them all (each item used to copy the whole list into
    /// `ansible_loop.allitems`, which made this take minutes).
    #[tokio::test]
    pub(super) async fn a_loop_of_100000_items_runs_every_item_once() {
        let dir = std::env::temp_dir().join(format!("prov-loop-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pb = dir.join("loop.yml");
        std::fs::write(
            &pb,
            r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - debug: msg="{{ item }}"
      loop: "{{ range(100000) | list }}"
      register: r
    - name: every item, in order, and allitems shared by all of them
      debug: msg="{{ ansible_loop.allitems | length }} {{ ansible_loop.index }}"
      loop: "{{ r.results[-3:] | map(attribute='item') | list }}"
      loop_control: { extended: true }
      failed_when: ansible_loop.allitems != [99997, 99998, 99999]
    - assert:
        that:
          - r.results | length == 100000
          - r.results[0].item == 0
          - r.results[-1].item == 99999
          - r.results[-1].msg == 99999
"#,
        )
        .unwrap();
        let registry = Registry::builtin();
        let playbook = Loader::new(&registry).load_playbook(&pb).unwrap();
        let count = Arc::new(CountItems::default());
        let runner =
            Runner::new(Inventory::load(&[]).unwrap(), Registry::builtin()).sink(count.clone());
        let recap = runner.run(&playbook).await.unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(recap.exit_code(), 0);
        assert_eq!(count.ok.load(Ordering::Relaxed), 100_003);
        assert_eq!(count.other.load(Ordering::Relaxed), 0);
    }
}
