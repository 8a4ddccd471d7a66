//! Loops: `loop:` and `with_<lookup>:` items, each run with its loop variables.

use super::PlayRun;
use super::outcome::{Outcome, registered};
use crate::error::{Error, Result};
use crate::events::Status;
use crate::playbook::{LoopKind, Task, TaskKind};
use crate::template::Context;
use crate::value::{Value, Vars, map_value};
use minijinja::value::ValueKind;
use std::sync::Arc;
use std::time::{Duration, Instant};

impl PlayRun<'_> {
    pub(super) async fn run_loop(
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
        let items = match self.loop_items(task, kind, raw, ctx) {
            Ok(i) => i,
            Err(e) => {
                // Items that cannot be rendered only matter when the task would run: a `when`
                // that is false without them skips it (Ansible's rule).
                let skip = task
                    .when
                    .iter()
                    .find(|c| matches!(self.runner.templar.eval_cond(c, ctx), Ok(false)));
                let mut o = match skip {
                    Some(c) => Outcome::skipped("Conditional result was False", Some(c)),
                    None => Outcome::from_error(&e.at(&task.loc)),
                };
                o.ignored = o.status == Status::Failed && self.ignore_errors(task, ctx);
                self.record(host, task, display, &o);
                return o;
            }
        };
        let lc = &task.loop_control;
        // `loop_var` and `index_var` may be templates of the task's variables.
        let name_of = |v: &Option<String>| -> Option<String> {
            let v = v.as_ref()?;
            if !crate::template::is_template(v) {
                return Some(v.clone());
            }
            Some(
                self.runner
                    .templar
                    .render_str(v, ctx)
                    .map(|r| r.to_string())
                    .unwrap_or_else(|_| v.clone()),
            )
        };
        let loop_var = name_of(&lc.loop_var).unwrap_or_else(|| "item".into());
        let index_var = name_of(&lc.index_var);
        let mut results = Vec::new();
        let mut any_changed = false;
        let mut any_failed = false;
        // A failed item whose failure was ignored still fails the aggregate result (Ansible's
        // `results` with `failed: true`), which is then ignored too.
        let mut failures_ignored = true;
        // Unreachable items do not stop the loop (Ansible tries each); the task is unreachable
        // then, ignored when every unreachable item was (`ignore_unreachable` per item).
        let mut any_unreachable = false;
        let mut unreachable_ignored = true;
        // A loop over no items is skipped ("No items in the list"), as in Ansible.
        let mut all_skipped = true;
        let mut agg_diffs = Vec::new();
        let mut agg_changes = Vec::new();
        let mut includes = Vec::new();
        let n = items.len();
        // One shared list for every item's `ansible_loop.allitems` (a copy per item made loops
        // quadratic: 16,000 items took seconds).
        let allitems = Value::from(items.clone());
        // Each item sees what the items before it set (set_fact, include_vars) and registered
        // (as Ansible's loop updates the task's variables between iterations).
        let sets_vars = matches!(
            task.kind,
            TaskKind::SetFact { .. } | TaskKind::IncludeVars { .. }
        );
        let mut ctx = ctx.clone();
        let mut registered_before: Option<Value> = None;
        for (i, item) in items.iter().enumerate() {
            if i > 0
                && let Some(p) = lc.pause
            {
                tokio::time::sleep(Duration::from_secs_f64(p)).await;
            }
            if i > 0 && sets_vars {
                ctx = self.ctx_for(host, task);
            }
            let mut lv = Vars::new();
            lv.insert(loop_var.clone(), item.clone());
            lv.insert("ansible_loop_var".into(), Value::from(loop_var.as_str()));
            if let Some(iv) = &index_var {
                lv.insert(iv.clone(), Value::from(i));
                lv.insert("ansible_index_var".into(), Value::from(iv.as_str()));
            }
            // `ansible_loop` with `extended` only; `allitems` unless `extended_allitems` is false,
            // `previtem`/`nextitem` only where there is one (as Ansible).
            let ansible_loop = lc.extended.then(|| {
                let mut entries = vec![
                    ("index", Value::from(i + 1)),
                    ("index0", Value::from(i)),
                    ("first", Value::from(i == 0)),
                    ("last", Value::from(i + 1 == n)),
                    ("length", Value::from(n)),
                    ("revindex", Value::from(n - i)),
                    ("revindex0", Value::from(n - i - 1)),
                ];
                if lc.extended_allitems != Some(false) {
                    entries.push(("allitems", allitems.clone()));
                }
                if let Some(next) = items.get(i + 1) {
                    entries.push(("nextitem", next.clone()));
                }
                if i > 0 {
                    entries.push(("previtem", items[i - 1].clone()));
                }
                map_value(entries)
            });
            if let Some(al) = &ansible_loop {
                lv.insert("ansible_loop".into(), al.clone());
            }
            let mut seen = lv.clone();
            if let (Some(r), Some(v)) = (&task.register, &registered_before) {
                seen.insert(r.clone(), v.clone());
            }
            let ictx = ctx.push(Arc::new(seen));
            let item_started = Instant::now();
            let o = self.run_item(task, host, &ictx).await;
            let mut o = self.finish(task, host, &ictx, o);
            o.duration = item_started.elapsed();
            // The label is rendered after the item ran, with its result registered; a label
            // that cannot be rendered fails the item.
            let mut label = label_of(item);
            if let Some(l) = &lc.label {
                let mut with_result = Vars::new();
                if let Some(r) = &task.register {
                    with_result.insert(r.clone(), registered(&o));
                }
                match self
                    .runner
                    .templar
                    .render_value(l, &ictx.push(Arc::new(with_result)))
                {
                    Ok(v) => label = label_of(&v),
                    Err(e) => {
                        o.status = Status::Failed;
                        o.msg = Some(format!("Failed to template loop_control.label: {}", e.msg));
                        o.ignored = self.ignore_errors(task, &ictx);
                    }
                }
            }
            // include_tasks/include_role in a loop: the item's include runs with its loop vars.
            if let Some(inc) = o.include.take() {
                includes.push((inc, lv));
            }
            o.result.insert(loop_var.clone(), item.clone());
            o.result
                .insert("ansible_loop_var".into(), Value::from(loop_var.as_str()));
            if let Some(iv) = &index_var {
                o.result.insert(iv.clone(), Value::from(i));
                o.result
                    .insert("ansible_index_var".into(), Value::from(iv.as_str()));
            }
            if let Some(al) = ansible_loop {
                o.result.insert("ansible_loop".into(), al);
            }
            any_changed |= o.status == Status::Changed;
            any_failed |= o.status == Status::Failed;
            failures_ignored &= o.status != Status::Failed || o.ignored;
            any_unreachable |= o.status == Status::Unreachable;
            unreachable_ignored &= o.status != Status::Unreachable || o.ignored;
            all_skipped &= o.status == Status::Skipped;
            agg_diffs.extend(o.diffs.iter().cloned());
            agg_changes.extend(o.changes.iter().cloned());
            self.emit_result(host, task, display, &o, Some(label));
            if task.register.is_some() {
                registered_before = Some(registered(&o));
            }
            results.push(o.to_value());
            // `break_when`: evaluated with the item's variables and its registered result; the
            // loop stops after the first item for which every condition holds.
            if !lc.break_when.is_empty() {
                let mut with_result = Vars::new();
                if let (Some(r), Some(v)) = (&task.register, &registered_before) {
                    with_result.insert(r.clone(), v.clone());
                }
                let bctx = ictx.push(Arc::new(with_result));
                let mut stop = true;
                for c in &lc.break_when {
                    match self.runner.templar.eval_cond(c, &bctx) {
                        Ok(true) => {}
                        Ok(false) => {
                            stop = false;
                            break;
                        }
                        Err(e) => {
                            let mut f = Outcome::from_error(&e.at(&task.loc));
                            f.ignored = self.ignore_errors(task, &ctx);
                            self.record(host, task, display, &f);
                            return f;
                        }
                    }
                }
                if stop {
                    break;
                }
            }
        }
        let status = if any_failed {
            Status::Failed
        } else if any_unreachable {
            Status::Unreachable
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
        let msg = if any_failed {
            Some("One or more items failed")
        } else if n == 0 {
            None
        } else if all_skipped {
            Some("All items skipped")
        } else {
            Some("All items completed")
        };
        if let Some(msg) = msg {
            agg.result.insert("msg".into(), Value::from(msg));
        }
        agg.diffs = agg_diffs;
        agg.changes = agg_changes;
        agg.includes = includes;
        agg.ignored = any_failed && (failures_ignored || self.ignore_errors(task, &ctx))
            || (status == Status::Unreachable && unreachable_ignored);
        if status == Status::Skipped {
            agg.result
                .insert("skipped_reason".into(), Value::from("No items in the list"));
        }
        // Per-item lines were printed; record stats/register/notify without another line unless
        // the aggregate failed (Ansible prints one summary failure then).
        if n == 0 {
            self.record(host, task, display, &agg);
        } else {
            self.record_quiet(host, task, &agg);
        }
        if status == Status::Failed && !failures_ignored {
            let mut shown = agg.clone();
            shown.result.shift_remove("results");
            shown.msg = Some("One or more items failed".into());
            self.emit_result(host, task, display, &shown, None);
        }
        agg
    }
    pub(super) fn loop_items(
        &self,
        task: &Task,
        kind: &LoopKind,
        raw: &Value,
        ctx: &Context,
    ) -> Result<Vec<Value>> {
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
                templar.lookup_for_task(name, &terms, &task_action(task), ctx)
            }
        }
    }
}

/// A loop item's label as Ansible prints it (Python's `str()`: `{'key': 'a'}`).
pub(super) fn label_of(v: &Value) -> String {
    crate::template::filters::py_str(v)
}

/// The name of the action a task runs (as written when it is a template), for the lookups of
/// its `with_*` loop.
fn task_action(task: &Task) -> String {
    match &task.kind {
        TaskKind::Module { name, .. } => name.clone(),
        TaskKind::Deferred(d) => d.name.clone(),
        k => k.action().map(|a| a.name.to_string()).unwrap_or_default(),
    }
}
