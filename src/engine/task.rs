//! Running one task on the hosts of a batch: when → loop → render args → plan → apply (unless
//! check mode) → changed_when/failed_when → register → notify → event.

use super::{PlayRun, is_unreachable};
use crate::connection::{Become, BecomeMethod, Connection, Secret};
use crate::error::{Error, Result};
use crate::events::{Event, HostResult, Status};
use crate::modules::{Diff, Plan, Render, TaskCtx, validate_args};
use crate::playbook::{Inherit, LoopKind, Task, TaskKind};
use crate::template::{Context, OMIT, Templar};
use crate::value::{Value, Vars, map_value, truthy, value_to_vars, vars_value};
use minijinja::value::ValueKind;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What one host did with one task (or one loop item).
#[derive(Debug, Clone)]
struct Outcome {
    status: Status,
    result: Vars,
    msg: Option<String>,
    changes: Vec<String>,
    diffs: Vec<Diff>,
    ignored: bool,
    /// For include_tasks / include_role: what to include.
    include: Option<Include>,
    /// What to include after the task, in order, with the loop variables of the item that
    /// included it (empty without a loop).
    includes: Vec<(Include, Vars)>,
    /// `meta: end_host` etc. decided per host.
    delegated_to: Option<String>,
    /// How long the task (or the loop item) took on the host.
    duration: Duration,
}

#[derive(Debug, Clone, PartialEq)]
enum Include {
    Tasks(PathBuf),
    Role {
        name: String,
        tasks_from: Option<String>,
        vars_from: Option<String>,
        defaults_from: Option<String>,
    },
}

impl Outcome {
    fn new(status: Status) -> Self {
        Outcome {
            status,
            result: Vars::new(),
            msg: None,
            changes: vec![],
            diffs: vec![],
            ignored: false,
            include: None,
            includes: Vec::new(),
            delegated_to: None,
            duration: Duration::ZERO,
        }
    }
    fn from_error(e: &Error) -> Self {
        let mut o = if is_unreachable(e) {
            Outcome::new(Status::Unreachable)
        } else {
            Outcome::new(Status::Failed)
        };
        let mut msg = e.to_string();
        if let Some(h) = &e.host
            && o.status == Status::Unreachable
        {
            msg = format!("{msg} (host {h})");
        }
        o.msg = Some(msg);
        o
    }
    fn skipped(reason: &str, cond: Option<&str>) -> Self {
        let mut o = Outcome::new(Status::Skipped);
        o.result.insert("skip_reason".into(), Value::from(reason));
        if let Some(c) = cond {
            o.result.insert("false_condition".into(), Value::from(c));
        }
        o
    }
    /// The registered value: Ansible's keys.
    fn to_value(&self) -> Value {
        let mut v = self.result.clone();
        v.insert(
            "changed".into(),
            Value::from(self.status == Status::Changed),
        );
        match self.status {
            Status::Failed => {
                v.insert("failed".into(), Value::from(true));
            }
            Status::Skipped => {
                v.insert("skipped".into(), Value::from(true));
            }
            Status::Unreachable => {
                v.insert("unreachable".into(), Value::from(true));
            }
            _ => {
                v.insert("failed".into(), Value::from(false));
            }
        }
        if let Some(m) = &self.msg
            && !v.contains_key("msg")
        {
            v.insert("msg".into(), Value::from(m.as_str()));
        }
        if !self.diffs.is_empty() {
            let d: Vec<Value> = self
                .diffs
                .iter()
                .map(|d| {
                    map_value([
                        ("before", Value::from(d.before.as_str())),
                        ("after", Value::from(d.after.as_str())),
                        ("before_header", Value::from(d.before_header.as_str())),
                        ("after_header", Value::from(d.after_header.as_str())),
                    ])
                })
                .collect();
            v.insert("diff".into(), Value::from(d));
        }
        vars_value(&v)
    }
}

struct TaskRender<'a> {
    templar: &'a Templar,
    ctx: &'a Context,
}

impl Render for TaskRender<'_> {
    fn render_text(&self, text: &str, origin: &Path) -> Result<String> {
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
        let ctx = self.ctx.push(Arc::new(extra));
        self.templar.render_text(text, &ctx).map_err(|mut e| {
            e.msg = format!("{}: {}", origin.display(), e.msg);
            e
        })
    }
    fn eval(&self, expr: &str) -> Result<Value> {
        self.templar.eval(expr, self.ctx)
    }
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
    fn tags_selected(&self, task: &Task) -> bool {
        let opts = &self.runner.opts;
        let tags = &task.tags;
        let has = |t: &str| tags.iter().any(|x| x == t);
        if !opts.skip_tags.is_empty() {
            if opts.skip_tags.iter().any(|s| has(s)) {
                return false;
            }
            if opts.skip_tags.iter().any(|s| s == "tagged") && !tags.is_empty() {
                return false;
            }
            if opts.skip_tags.iter().any(|s| s == "untagged") && tags.is_empty() {
                return false;
            }
        }
        if opts.tags.is_empty() || opts.tags.iter().any(|t| t == "all") {
            return !has("never") || opts.tags.iter().any(|t| has(t) && t != "all");
        }
        if has("always") && !opts.skip_tags.iter().any(|s| s == "always") {
            return true;
        }
        opts.tags.iter().any(|t| {
            has(t) || (t == "tagged" && !tags.is_empty()) || (t == "untagged" && tags.is_empty())
        })
    }

    fn ctx_for(&self, host: &str, task: &Task) -> Context {
        let (check, diff) = self.modes(task);
        self.shared.task_context(
            host,
            task,
            &self.play_vars,
            check,
            diff,
            self.runner.opts.verbosity,
        )
    }

    fn modes(&self, task: &Task) -> (bool, bool) {
        (
            task.check_mode.unwrap_or(self.runner.opts.check),
            task.diff.unwrap_or(self.runner.opts.diff),
        )
    }

    /// Runs one task on `hosts` (concurrently, at most `forks` at once).
    pub(super) async fn run_task(
        &self,
        task: &Task,
        hosts: &[String],
        handler: bool,
    ) -> Result<()> {
        if !handler && !matches!(task.kind, TaskKind::GatherFacts) && !self.tags_selected(task) {
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
                } else if !matches!(task.kind, TaskKind::GatherFacts) {
                    return Ok(());
                }
            }
        }
        if let TaskKind::Meta(m) = &task.kind {
            return self.run_meta(task, m, hosts).await;
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
        // `pause` waits once per play, and `add_host` adds once per task (or loop item), not once
        // per host (as in Ansible).
        let once = task.run_once
            || matches!(&task.kind, TaskKind::AddHost { .. })
            || matches!(&task.kind, TaskKind::Module { name, .. } if name == "pause");
        let run_on: Vec<String> = if once {
            vec![first.clone()]
        } else {
            hosts.to_vec()
        };
        self.runner.emit(Event::TaskStart {
            name: display.clone(),
            location: Some(task.loc.to_string()),
            handler,
            hosts: run_on.clone(),
        });
        // `throttle` lowers the number of hosts running this task at once below `forks`.
        let throttle = match &task.throttle {
            Some(v) => {
                let ctx = self.ctx_for(first, task);
                let n = self.number(v, &ctx).ok().flatten();
                n.filter(|n| *n >= 1.0).map(|n| n as usize)
            }
            None => None,
        };
        let permits = throttle.map_or(self.runner.opts.forks, |t| t.min(self.runner.opts.forks));
        let sem = tokio::sync::Semaphore::new(permits.max(1));
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
        if once {
            // Everything run_once registers or sets applies to every host of the batch.
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
            for h in hosts.iter().skip(1) {
                self.shared.set_vars(h, copy.clone());
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
            let tasks = match self.load_include(task, &inc, &vars) {
                Ok(t) => t,
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

    /// `add_host`: `name` (`host`, `hostname`; `host:port` sets `ansible_port`), `groups`
    /// (`group`, `groupname`; a list or a comma-separated string), every other key a host
    /// variable. Changed when the host, a group membership or a variable is new.
    fn add_host(&self, args: &Value) -> Result<Outcome> {
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
        // `host:port` (not an IPv6 address) carries the SSH port.
        let name = match name.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') && p.parse::<u16>().is_ok() => {
                vars.entry("ansible_port".to_string())
                    .or_insert_with(|| Value::from(p.parse::<u16>().unwrap_or(22)));
                h.to_string()
            }
            _ => name,
        };
        let changed = self
            .shared
            .change_inventory(|inv| inv.add_runtime_host(&name, &groups, &vars))?;
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
    /// under `parents` (default `all`). Never `changed`, like Ansible.
    fn group_by(&self, host: &str, args: &Value) -> Result<Outcome> {
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
        self.shared
            .change_inventory(|inv| inv.add_to_group(host, &key, &parents))?;
        let mut o = Outcome::new(Status::Ok);
        o.result
            .insert("add_group".into(), Value::from(key.as_str()));
        o.result.insert(
            "parent_groups".into(),
            Value::from_iter(parents.iter().map(|g| Value::from(g.as_str()))),
        );
        Ok(o)
    }

    fn load_include(&self, task: &Task, inc: &Include, loop_vars: &Vars) -> Result<Vec<Task>> {
        let loader = crate::playbook::Loader {
            registry: &self.runner.registry,
            roles_path: self.runner.opts.roles_path.clone(),
        };
        let vars = if loop_vars.is_empty() {
            task.vars.clone()
        } else {
            let mut v = (*task.vars).clone();
            v.extend(loop_vars.iter().map(|(k, x)| (k.clone(), x.clone())));
            Arc::new(v)
        };
        let mut inh = Inherit {
            tags: task.tags.clone(),
            vars,
            environment: task.environment.clone(),
            module_defaults: task.module_defaults.clone(),
            become_: task.become_.clone(),
            ignore_errors: task.ignore_errors.clone(),
            no_log: task.no_log,
            check_mode: task.check_mode,
            diff: task.diff,
            delegate_to: task.delegate_to.clone(),
            role: task.role.clone(),
            include_chain: task.include_chain.clone(),
            ..Default::default()
        };
        crate::playbook::add_apply(&mut inh, &task.kind);
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
                loader.load_tasks(&node, &base, &inh, false)
            }
            Include::Role {
                name,
                tasks_from,
                vars_from,
                defaults_from,
            } => {
                inh.role = None;
                loader
                    .load_role_dynamic(
                        name,
                        &task.loc,
                        &self.play.dir,
                        &inh,
                        tasks_from.as_deref(),
                        vars_from.as_deref(),
                        defaults_from.as_deref(),
                    )
                    .map(|(tasks, _handlers)| tasks)
            }
        }
    }

    async fn run_meta(&self, task: &Task, m: &str, hosts: &[String]) -> Result<()> {
        // A meta task's `when` is evaluated per host (end_host, clear_facts).
        let mut applies = Vec::new();
        for h in hosts {
            let ctx = self.ctx_for(h, task);
            let mut ok = true;
            for c in &task.when {
                match self.runner.templar.eval_cond(c, &ctx) {
                    Ok(b) => ok &= b,
                    Err(e) => {
                        let o = Outcome::from_error(&e.at(&task.loc));
                        self.record(h, task, &task.display_name(), &o);
                        ok = false;
                    }
                }
            }
            if ok {
                applies.push(h.clone());
            }
        }
        match m {
            "flush_handlers" => self.flush_handlers().await?,
            "end_play" | "end_batch" if !applies.is_empty() => {
                for h in &self.batch {
                    self.state(h, |s| s.ended = true);
                }
            }
            "end_host" => {
                for h in &applies {
                    self.state(h, |s| s.ended = true);
                }
            }
            "clear_facts" => {
                for h in &applies {
                    self.shared.clear_facts(h);
                }
            }
            "clear_host_errors" => {
                for h in &self.batch {
                    self.state(h, |s| s.failed = false);
                }
            }
            "reset_connection" => {
                for h in &applies {
                    self.shared.drop_connection(h).await;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Updates stats, registers, notifies and emits the event for a host's outcome.
    /// Records an outcome (stats, register, notify) and emits its event.
    fn record(&self, host: &str, task: &Task, display: &str, o: &Outcome) {
        self.record_quiet(host, task, o);
        self.emit_result(host, task, display, o, None);
    }

    fn emit_result(
        &self,
        host: &str,
        task: &Task,
        display: &str,
        o: &Outcome,
        item: Option<String>,
    ) {
        let (_, diff_mode) = self.modes(task);
        let result = if task.no_log {
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
            msg: if task.no_log { None } else { o.msg.clone() },
            changes: o.changes.clone(),
            diffs: if diff_mode && !task.no_log {
                o.diffs.clone()
            } else {
                vec![]
            },
            result,
            duration: o.duration,
            no_log: task.no_log,
        })));
    }

    async fn run_on_host(&self, task: &Task, host: &str, display: &str) -> Outcome {
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

    async fn run_loop(
        &self,
        task: &Task,
        host: &str,
        ctx: &Context,
        kind: &LoopKind,
        raw: &Value,
        display: &str,
    ) -> Outcome {
        let loop_started = Instant::now();
        // The loop's `when` is evaluated per item, so evaluate nothing before expanding.
        let items = match self.loop_items(kind, raw, ctx) {
            Ok(i) => i,
            Err(e) => {
                let o = Outcome::from_error(&e.at(&task.loc));
                self.record(host, task, display, &o);
                return o;
            }
        };
        let lc = &task.loop_control;
        let loop_var = lc.loop_var.clone().unwrap_or_else(|| "item".into());
        let mut results = Vec::new();
        let mut any_changed = false;
        let mut any_failed = false;
        let mut all_skipped = !items.is_empty();
        let mut agg_diffs = Vec::new();
        let mut agg_changes = Vec::new();
        let mut includes = Vec::new();
        let n = items.len();
        // One shared list for every item's `ansible_loop.allitems` (a copy per item made loops
        // quadratic: 16,000 items took seconds).
        let allitems = Value::from(items.clone());
        for (i, item) in items.iter().enumerate() {
            if i > 0
                && let Some(p) = lc.pause
            {
                tokio::time::sleep(Duration::from_secs_f64(p)).await;
            }
            let mut lv = Vars::new();
            lv.insert(loop_var.clone(), item.clone());
            lv.insert("ansible_loop_var".into(), Value::from(loop_var.as_str()));
            if let Some(iv) = &lc.index_var {
                lv.insert(iv.clone(), Value::from(i));
                lv.insert("ansible_index_var".into(), Value::from(iv.as_str()));
            }
            lv.insert(
                "ansible_loop".into(),
                map_value([
                    ("index", Value::from(i + 1)),
                    ("index0", Value::from(i)),
                    ("first", Value::from(i == 0)),
                    ("last", Value::from(i + 1 == n)),
                    ("length", Value::from(n)),
                    ("revindex", Value::from(n - i)),
                    ("revindex0", Value::from(n - i - 1)),
                    ("allitems", allitems.clone()),
                    (
                        "previtem",
                        if i > 0 {
                            items[i - 1].clone()
                        } else {
                            Value::UNDEFINED
                        },
                    ),
                    (
                        "nextitem",
                        items.get(i + 1).cloned().unwrap_or(Value::UNDEFINED),
                    ),
                ]),
            );
            let ictx = ctx.push(Arc::new(lv.clone()));
            let label = match &lc.label {
                Some(l) => self
                    .runner
                    .templar
                    .render_value(l, &ictx)
                    .map(|v| label_of(&v))
                    .unwrap_or_else(|_| label_of(item)),
                None => label_of(item),
            };
            let item_started = Instant::now();
            let o = self.run_item(task, host, &ictx).await;
            let mut o = self.finish(task, host, &ictx, o);
            o.duration = item_started.elapsed();
            // include_tasks/include_role in a loop: the item's include runs with its loop vars.
            if let Some(inc) = o.include.take() {
                includes.push((inc, lv));
            }
            o.result.insert(loop_var.clone(), item.clone());
            o.result
                .insert("ansible_loop_var".into(), Value::from(loop_var.as_str()));
            any_changed |= o.status == Status::Changed;
            any_failed |= o.status == Status::Failed && !o.ignored;
            all_skipped &= o.status == Status::Skipped;
            agg_diffs.extend(o.diffs.iter().cloned());
            agg_changes.extend(o.changes.iter().cloned());
            self.emit_result(host, task, display, &o, Some(label));
            if o.status == Status::Unreachable {
                self.record(host, task, display, &o);
                return o;
            }
            results.push(o.to_value());
        }
        let status = if any_failed {
            Status::Failed
        } else if all_skipped {
            Status::Skipped
        } else if any_changed {
            Status::Changed
        } else {
            Status::Ok
        };
        let mut agg = Outcome::new(status);
        agg.duration = loop_started.elapsed();
        agg.result.insert("results".into(), Value::from(results));
        agg.result.insert(
            "msg".into(),
            Value::from(if any_failed {
                "One or more items failed"
            } else {
                "All items completed"
            }),
        );
        agg.diffs = agg_diffs;
        agg.changes = agg_changes;
        agg.includes = includes;
        agg.ignored = any_failed && self.ignore_errors(task, ctx);
        if status == Status::Skipped {
            agg.result
                .insert("skipped_reason".into(), Value::from("No items in the list"));
        }
        // Per-item lines were printed; record stats/register/notify without another line unless
        // the aggregate failed (Ansible prints one summary failure then).
        self.record_quiet(host, task, &agg);
        if status == Status::Failed {
            let mut shown = agg.clone();
            shown.result.shift_remove("results");
            shown.msg = Some("One or more items failed".into());
            self.emit_result(host, task, display, &shown, None);
        }
        agg
    }

    /// Records an outcome without emitting an event (loops already showed each item).
    fn record_quiet(&self, host: &str, task: &Task, o: &Outcome) {
        self.state(host, |s| {
            match o.status {
                Status::Ok => s.stats.ok += 1,
                Status::Changed => {
                    s.stats.ok += 1;
                    s.stats.changed += 1;
                }
                Status::Skipped => s.stats.skipped += 1,
                Status::Failed if o.ignored => s.stats.ignored += 1,
                Status::Failed => {
                    s.stats.failed += 1;
                    s.failed = true;
                    s.last_failure = Some((task.display_name(), o.to_value()));
                }
                Status::Unreachable if task.ignore_unreachable => s.stats.skipped += 1,
                Status::Unreachable => {
                    s.stats.unreachable += 1;
                    s.unreachable = true;
                }
            }
            if o.status == Status::Changed {
                for n in &task.notify {
                    s.notified.insert(n.clone());
                }
            }
        });
        if let Some(r) = &task.register {
            let mut v = Vars::new();
            v.insert(r.clone(), registered(o));
            self.shared.set_vars(host, v);
        }
    }

    fn ignore_errors(&self, task: &Task, ctx: &Context) -> bool {
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

    /// changed_when / failed_when / ignore_errors, evaluated with the result registered.
    fn finish(&self, task: &Task, _host: &str, ctx: &Context, mut o: Outcome) -> Outcome {
        if matches!(o.status, Status::Skipped | Status::Unreachable) || o.include.is_some() {
            return o;
        }
        if task.changed_when.is_some() || task.failed_when.is_some() {
            let mut layer = Vars::new();
            let v = o.to_value();
            for (k, val) in value_to_vars(&v) {
                layer.insert(k, val);
            }
            if let Some(r) = &task.register {
                layer.insert(r.clone(), v);
            }
            let ectx = ctx.push(Arc::new(layer));
            if let Some(conds) = &task.changed_when {
                match all_true(&self.runner.templar, conds, &ectx) {
                    Ok(true) if o.status == Status::Ok => o.status = Status::Changed,
                    Ok(false) if o.status == Status::Changed => o.status = Status::Ok,
                    Ok(_) => {}
                    Err(e) => return Outcome::from_error(&e.at(&task.loc)),
                }
            }
            if let Some(conds) = &task.failed_when {
                match any_true(&self.runner.templar, conds, &ectx) {
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
                        }
                        o.result
                            .insert("failed_when_result".into(), Value::from(false));
                    }
                    Err(e) => return Outcome::from_error(&e.at(&task.loc)),
                }
            }
        }
        if o.status == Status::Failed && self.ignore_errors(task, ctx) {
            o.ignored = true;
        }
        o
    }

    /// Runs one item (or the task without a loop): when, then until/retries around execute.
    async fn run_item(&self, task: &Task, host: &str, ctx: &Context) -> Outcome {
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
        let Some(until) = &task.until else {
            return self.execute(task, host, ctx).await;
        };
        let num = |v: &Option<Value>, d: f64| -> f64 {
            v.as_ref()
                .and_then(|v| self.number(v, ctx).ok().flatten())
                .unwrap_or(d)
        };
        let retries = num(&task.retries, 3.0).max(0.0) as u64;
        let delay = num(&task.delay, 5.0).max(0.0);
        let attempts_max = retries + 1;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut o = self.execute(task, host, ctx).await;
            o.result.insert("attempts".into(), Value::from(attempt));
            // Nothing ran (check mode skips commands): there is no result to wait on.
            if matches!(o.status, Status::Unreachable | Status::Skipped) {
                return o;
            }
            let mut layer = Vars::new();
            let v = o.to_value();
            for (k, val) in value_to_vars(&v) {
                layer.insert(k, val);
            }
            if let Some(r) = &task.register {
                layer.insert(r.clone(), v);
            }
            let ectx = ctx.push(Arc::new(layer));
            match self.runner.templar.eval_cond(until, &ectx) {
                Ok(true) => return o,
                Ok(false) if attempt >= attempts_max => {
                    o.status = Status::Failed;
                    o.msg = Some(format!(
                        "Retries exhausted ({attempt} attempts): until '{until}' never held"
                    ));
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

    async fn execute(&self, task: &Task, host: &str, ctx: &Context) -> Outcome {
        // `timeout`: the task fails on this host when it takes longer (Ansible 2.10+).
        let limit = match &task.timeout {
            Some(v) => match self.number(v, ctx) {
                Ok(Some(n)) if n > 0.0 => Some(n),
                Ok(_) => None,
                Err(e) => return Outcome::from_error(&e.at(&task.loc)),
            },
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
            Some(secs) => match tokio::time::timeout(Duration::from_secs_f64(secs), inner).await {
                Ok(r) => r,
                Err(_) => Err(Error::failed(format!(
                    "The task did not finish within its timeout of {secs} s and was stopped"
                ))
                .hint("raise `timeout:` on the task, or make it faster")),
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

    async fn execute_inner(&self, task: &Task, host: &str, ctx: &Context) -> Result<Outcome> {
        let templar = &self.runner.templar;
        let (check, diff) = self.modes(task);
        match &task.kind {
            TaskKind::SetFact { vars, .. } => {
                let mut out = Vars::new();
                for (k, v) in vars {
                    let key = templar.render_str(k, ctx)?.to_string();
                    out.insert(key, templar.render_value(v, ctx)?);
                }
                // delegate_facts: the facts belong to the delegated host.
                let owner = match self.delegate(task, ctx)? {
                    Some((d, _)) if task.delegate_facts => d,
                    _ => host.to_string(),
                };
                self.shared.set_vars(&owner, out.clone());
                let mut o = Outcome::new(Status::Ok);
                o.result.insert("ansible_facts".into(), vars_value(&out));
                Ok(o)
            }
            TaskKind::IncludeVars { args, base } => {
                let args = templar.render_value(args, ctx)?;
                let vars = self.include_vars(&args, base, task)?;
                self.shared.add_include_vars(host, vars.clone());
                let mut o = Outcome::new(Status::Ok);
                o.result.insert("ansible_facts".into(), vars_value(&vars));
                Ok(o)
            }
            TaskKind::IncludeTasks { file, base, .. } => {
                let f = templar.render_value(file, ctx)?.to_string();
                let path = crate::playbook::resolve_tasks_file(base, &f, task.role.as_deref());
                if !path.exists() {
                    return Err(Error::failed(format!(
                        "include_tasks: {} not found",
                        path.display()
                    ))
                    .at(&task.loc));
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
                ..
            } => {
                let r = |s: &Option<String>| -> Result<Option<String>> {
                    s.as_ref()
                        .map(|x| templar.render_str(x, ctx).map(|v| v.to_string()))
                        .transpose()
                };
                let mut o = Outcome::new(Status::Ok);
                let name = templar.render_value(name, ctx)?.to_string();
                o.msg = Some(format!("included role: {name}"));
                o.include = Some(Include::Role {
                    name,
                    tasks_from: r(tasks_from)?,
                    vars_from: r(vars_from)?,
                    defaults_from: r(defaults_from)?,
                });
                Ok(o)
            }
            TaskKind::Meta(_) | TaskKind::Block { .. } => Ok(Outcome::new(Status::Ok)),
            TaskKind::AddHost { args } => {
                let args = templar.render_value(args, ctx)?;
                self.add_host(&args)
            }
            TaskKind::GroupBy { args } => {
                let args = templar.render_value(args, ctx)?;
                self.group_by(host, &args)
            }
            TaskKind::GatherFacts => {
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
                let out = conn
                    .exec(&crate::connection::Cmd {
                        probe: true,
                        ..crate::connection::Cmd::new(crate::facts::script())
                    })
                    .await?;
                if out.rc != 0 {
                    return Err(Error::failed(format!(
                        "gathering facts failed (rc {}): {}",
                        out.rc,
                        out.stderr_str().trim()
                    )));
                }
                let facts = crate::facts::parse(&out.stdout_str())?;
                let owner = if task.delegate_facts { target } else { host };
                self.shared.set_facts_map(owner, facts);
                let mut o = Outcome::new(Status::Ok);
                if delegated.is_some() {
                    o.delegated_to = Some(target.to_string());
                }
                Ok(o)
            }
            TaskKind::Module { name, args } => {
                let module = self
                    .runner
                    .registry
                    .get(name)
                    .ok_or_else(|| Error::parse(format!("unknown module '{name}'")))?
                    .clone();
                let rendered = templar.render_value(args, ctx)?;
                let mut raw = value_to_vars(&rendered);
                raw.retain(|_, v| v.as_str() != Some(OMIT));
                let args = validate_args(module.doc(), &raw)?;
                // delegate_to: connect to the delegated host with its own connection vars.
                let (target, conn_ctx) = match self.delegate(task, ctx)? {
                    Some((d, c)) => (d, Some(c)),
                    None => (host.to_string(), None),
                };
                let cctx = conn_ctx.as_ref().unwrap_or(ctx);
                let conn = match self
                    .shared
                    .connection(&*self.runner.connector, &target, cctx)
                    .await
                {
                    Err(e) if is_unreachable(&e) && module.doc().name == "wait_for_connection" => {
                        self.wait_for_connection(&target, cctx, &args, e).await?
                    }
                    r => r?,
                };
                let become_ = self.become_for(task, ctx, cctx)?;
                let env = self.environment(task, ctx)?;
                let facts = self.shared.host(host).facts_map;
                let render = TaskRender { templar, ctx };
                let mut search_paths = Vec::new();
                if let Some(r) = &task.role {
                    search_paths.push(r.path.clone());
                }
                if !search_paths.contains(&task.base) {
                    search_paths.push(task.base.clone());
                }
                if !search_paths.contains(&self.play.dir) {
                    search_paths.push(self.play.dir.clone());
                }
                let tctx = TaskCtx {
                    host,
                    conn: &*conn,
                    become_,
                    env,
                    check_mode: check,
                    diff_mode: diff,
                    search_paths,
                    facts: &facts,
                    render: &render,
                    verbosity: self.runner.opts.verbosity,
                };
                let plan = module.plan(&tctx, &args).await?;
                let facts = plan.facts.clone();
                let mut o = self.apply(plan, &*conn, check).await?;
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
                if task.delegate_to.is_some() {
                    o.delegated_to = Some(target);
                }
                Ok(o)
            }
        }
    }

    /// `wait_for_connection` on a host that cannot be reached yet: keeps connecting every
    /// `sleep` seconds until `timeout`, then fails (a failure, not UNREACHABLE, as in Ansible).
    async fn wait_for_connection(
        &self,
        target: &str,
        cctx: &Context,
        args: &crate::modules::Args,
        first: Error,
    ) -> Result<Arc<dyn Connection>> {
        let t = crate::modules::commands::WaitForConnectionTiming::from_args(args);
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

    /// A numeric keyword (`retries`, `delay`, `throttle`, `timeout`): a number, or a template or
    /// string that renders to one; `None` when it is not a number.
    fn number(&self, v: &Value, ctx: &Context) -> Result<Option<f64>> {
        let r = self.runner.templar.render_value(v, ctx)?;
        Ok(f64::try_from(r.clone())
            .ok()
            .or_else(|| r.as_str().and_then(|s| s.trim().parse().ok())))
    }

    /// The task's `delegate_to` host (rendered) and the context its connection variables come
    /// from, if it has one.
    fn delegate(&self, task: &Task, ctx: &Context) -> Result<Option<(String, Context)>> {
        match &task.delegate_to {
            Some(d) => {
                let d = self.runner.templar.render_str(d, ctx)?.to_string();
                let c = self.shared.hostvars_context(&d);
                Ok(Some((d, c)))
            }
            None => Ok(None),
        }
    }

    /// Applies a plan's changes (unless in check mode) and builds the outcome.
    async fn apply(&self, plan: Plan, conn: &dyn Connection, check: bool) -> Result<Outcome> {
        let a = crate::modules::apply_plan(plan, conn, check).await?;
        let mut o = Outcome::new(a.status);
        o.result = a.result;
        o.msg = a.msg;
        o.changes = a.changes;
        o.diffs = a.diffs;
        Ok(o)
    }

    fn become_for(&self, task: &Task, ctx: &Context, conn_ctx: &Context) -> Result<Option<Become>> {
        let opts = &self.runner.opts;
        let var = |n: &str| -> Result<Option<Value>> { ctx.get(n) };
        let enabled = match task.become_.enabled {
            Some(b) => b,
            None => match var("ansible_become")? {
                Some(v) => truthy(&v),
                None => opts.become_.unwrap_or(false),
            },
        };
        if !enabled {
            return Ok(None);
        }
        let user = match &task.become_.user {
            Some(u) => self.runner.templar.render_str(u, ctx)?.to_string(),
            None => match var("ansible_become_user")? {
                Some(v) => v.to_string(),
                None => opts.become_user.clone().unwrap_or_else(|| "root".into()),
            },
        };
        let method = match &task.become_.method {
            Some(m) => m.clone(),
            None => match var("ansible_become_method")? {
                Some(v) => v.to_string(),
                None => opts.become_method.clone().unwrap_or_else(|| "sudo".into()),
            },
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
        let password = match var("ansible_become_password")?.or(var("ansible_become_pass")?) {
            Some(v) => Some(Secret::new(v.to_string())),
            None => opts.become_password.clone(),
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
        Ok(Some(Become {
            method,
            user,
            password,
            flags,
        }))
    }

    fn environment(&self, task: &Task, ctx: &Context) -> Result<Vec<(String, String)>> {
        let mut env: Vec<(String, String)> = Vec::new();
        for e in &task.environment {
            let v = self.runner.templar.render_value(e, ctx)?;
            if v.kind() != ValueKind::Map {
                return Err(
                    Error::parse("environment must be a mapping of names to values").at(&task.loc),
                );
            }
            for (k, val) in value_to_vars(&v) {
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

    fn include_vars(&self, args: &Value, base: &Path, task: &Task) -> Result<Vars> {
        let a = value_to_vars(args);
        let file = a
            .get("file")
            .or_else(|| a.get("_raw_params"))
            .map(|v| v.to_string());
        let dir = a.get("dir").map(|v| v.to_string());
        let name = a.get("name").map(|v| v.to_string());
        let mut files = Vec::new();
        let resolve = |p: &str, sub: &str| -> PathBuf {
            let pp = Path::new(p);
            if pp.is_absolute() {
                return pp.to_path_buf();
            }
            if let Some(r) = &task.role {
                let c = r.path.join(sub).join(p);
                if c.exists() {
                    return c;
                }
            }
            let c = base.join("vars").join(p);
            if c.exists() {
                return c;
            }
            base.join(p)
        };
        if let Some(f) = file {
            files.push(resolve(&f, "vars"));
        } else if let Some(d) = dir {
            let dp = resolve(&d, "vars");
            let mut entries: Vec<PathBuf> = std::fs::read_dir(&dp)
                .map_err(|e| Error::io(&dp, e))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    matches!(
                        p.extension().and_then(|e| e.to_str()),
                        Some("yml" | "yaml" | "json")
                    )
                })
                .collect();
            entries.sort();
            files.extend(entries);
        } else {
            return Err(Error::parse("include_vars needs a file or `dir:`"));
        }
        let mut out = Vars::new();
        for f in files {
            if !f.exists() {
                return Err(Error::failed(format!(
                    "include_vars: {} not found",
                    f.display()
                )));
            }
            let node = crate::yaml::load_file(&f)?;
            out.extend(crate::playbook::vars_of(&node)?);
        }
        if let Some(n) = name {
            let mut wrapped = Vars::new();
            wrapped.insert(n, vars_value(&out));
            return Ok(wrapped);
        }
        Ok(out)
    }

    fn loop_items(&self, kind: &LoopKind, raw: &Value, ctx: &Context) -> Result<Vec<Value>> {
        let templar = &self.runner.templar;
        let v = templar.render_value(raw, ctx)?;
        let as_list = |v: &Value| -> Option<Vec<Value>> {
            match v.kind() {
                ValueKind::Seq | ValueKind::Iterable => v.try_iter().ok().map(|i| i.collect()),
                _ => None,
            }
        };
        match kind {
            LoopKind::Loop => as_list(&v).ok_or_else(|| {
                Error::failed(format!(
                    "Invalid data passed to 'loop', it requires a list, got this instead: {v}"
                ))
                .hint("use `| dict2items` for a mapping, or `query()` instead of `lookup()`")
            }),
            LoopKind::With(name) => {
                // Like Ansible: a list gives its items as the lookup's terms, anything else is
                // one term.
                let terms = as_list(&v)
                    .unwrap_or_else(|| if v.is_none() { vec![] } else { vec![v.clone()] });
                templar.lookup(name, &terms, ctx)
            }
        }
    }
}

/// A loop item's label as Ansible prints it (Python's `str()`: `{'key': 'a'}`).
fn label_of(v: &Value) -> String {
    crate::template::filters::py_str(v)
}

/// The value `register` stores: the result without internal `_ansible_*` keys, marked unsafe so
/// that output from a host (`stdout`, file contents) is never templated.
fn registered(o: &Outcome) -> Value {
    let mut v = value_to_vars(&o.to_value());
    v.retain(|k, _| !k.starts_with("_ansible_"));
    crate::template::mark_unsafe(&vars_value(&v))
}

fn all_true(t: &Templar, conds: &[String], ctx: &Context) -> Result<bool> {
    for c in conds {
        if !t.eval_cond(c, ctx)? {
            return Ok(false);
        }
    }
    Ok(true)
}

fn any_true(t: &Templar, conds: &[String], ctx: &Context) -> Result<bool> {
    // failed_when with a list: all conditions must hold (Ansible ANDs lists).
    all_true(t, conds, ctx)
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

    /// A loop of 100,000 cheap items completes: every item runs once and the registered
    /// `results` hold them all (each item used to copy the whole list into
    /// `ansible_loop.allitems`, which made this take minutes).
    #[tokio::test]
    async fn a_loop_of_100000_items_runs_every_item_once() {
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
        let playbook = Loader {
            registry: &registry,
            roles_path: vec![],
        }
        .load_playbook(&pb)
        .unwrap();
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
