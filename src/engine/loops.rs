//! Loops: `loop:` and `with_<lookup>:` items, each run with its loop variables.

use super::PlayRun;
use super::outcome::Outcome;
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
