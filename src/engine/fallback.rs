//! A module task prov has no native implementation of: Ansible's implementation runs on the
//! host (see `modules::fallback`), with the task's connection, become, environment, check and
//! diff modes, and its JSON result becomes the task's outcome.

use super::PlayRun;
use super::async_job::{JobEnd, JobFuture};
use super::outcome::Outcome;
use crate::error::Result;
use crate::events::{Diff, Event, Status};
use crate::modules::fallback;
use crate::playbook::{Task, TaskKind};
use crate::template::Context;
use crate::value::{Value, Vars, from_json, to_json, truthy};
use serde_json::{Map, Value as Json};

/// Whether a task runs a module through the fallback (its module is neither native nor an
/// engine action, and its name is not a template).
pub(super) fn is_fallback(task: &Task, registry: &crate::modules::Registry) -> bool {
    let name = match &task.kind {
        TaskKind::Module { name, .. } => name.as_str(),
        TaskKind::Deferred(d) if !crate::template::is_template(&d.name) => d.name.as_str(),
        _ => return false,
    };
    let canon = crate::modules::canonical_name(name);
    (registry.get(canon).is_none() || shadowed(task, name))
        && crate::playbook::actions::engine_action(canon).is_none()
        && fallback::action_alias(name).is_none()
}

/// Whether a module of the user's `library/` replaces the native module `name` for this task
/// (as in Ansible, unless the task wrote `ansible.builtin.<name>`).
pub(super) fn shadowed(task: &Task, name: &str) -> bool {
    !task.builtin_fqcn && fallback::user_module(name).is_some()
}

impl PlayRun<'_> {
    /// Runs module `name` (not native) with `args` through Ansible's implementation.
    pub(super) async fn run_fallback(
        &self,
        task: &Task,
        host: &str,
        ctx: &Context,
        name: &str,
        args: &Value,
    ) -> Result<Outcome> {
        if fallback::action_plugin(name).is_some() {
            // An action plugin of that name runs instead of the module (as in Ansible).
            return self.run_action_plugin(task, host, ctx, name, args).await;
        }
        let found = fallback::find(name).ok_or_else(|| fallback::not_found(name))?;
        let raw = self.rendered_args(args, ctx)?;
        let args: Map<String, Json> = raw.iter().map(|(k, v)| (k.clone(), to_json(v))).collect();
        let (target, conn_ctx) = match self.delegate(task, ctx)? {
            Some((d, c)) => (d, Some(c)),
            None => (host.to_string(), None),
        };
        let cctx = conn_ctx.as_ref().unwrap_or(ctx);
        let conn = self
            .shared
            .connection(&*self.runner.connector, &target, cctx)
            .await?;
        let var = |n: &str| -> Result<Option<String>> {
            match cctx.get(n)? {
                Some(v) if !v.is_none() && !v.is_undefined() => Ok(Some(
                    self.runner.templar.render_value(&v, cctx)?.to_string(),
                )),
                _ => Ok(None),
            }
        };
        // `auto` (and its variants) means discovery, as in Ansible.
        let python = var("ansible_python_interpreter")?.filter(|p| !p.starts_with("auto"));
        let remote_tmp = var("ansible_remote_tmp")?.unwrap_or_else(|| "~/.ansible/tmp".into());
        let (check, diff) = self.modes(task);
        let become_ = self.become_for(task, ctx, cctx)?;
        let env = self.environment(task, ctx)?;
        let no_log = task.no_log;
        let verbosity = self.runner.opts.verbosity;
        // The module's run, owning what it uses: here, or as a background job (`async`).
        let job: JobFuture<Map<String, Json>> = {
            let (found, conn, become_) = (found.clone(), conn.clone(), become_.clone());
            Box::pin(async move {
                let req = fallback::Request {
                    found: &found,
                    args,
                    check,
                    diff,
                    no_log,
                    verbosity,
                    python,
                    become_,
                    env,
                    remote_tmp,
                };
                fallback::run(&*conn, &req).await
            })
        };
        let mut info = None;
        let raw = match self.async_spec(task, ctx)? {
            None => job.await?,
            Some(spec) => {
                let json: fn(&Map<String, Json>) -> Map<String, Json> =
                    |m| fallback::untag_result(m.clone());
                match self
                    .run_job(task, host, ctx, spec, conn.clone(), become_, job, json)
                    .await?
                {
                    JobEnd::Started(mut o) | JobEnd::Failed(mut o) => {
                        if task.delegate_to.is_some() {
                            o.delegated_to = Some(target);
                        }
                        return Ok(o);
                    }
                    JobEnd::Finished(m, i) => {
                        info = Some(i);
                        m
                    }
                }
            }
        };
        let result = fallback::untag_result(raw);
        let mut o = self.fallback_outcome(task, host, &target, result, found.short());
        if let Some(info) = info {
            self.async_verdict(host, &info, o.status != Status::Failed);
            info.decorate(&mut o);
        }
        if task.delegate_to.is_some() {
            o.delegated_to = Some(target);
        }
        Ok(o)
    }

    /// The outcome of a result from Ansible's implementation of a module or action: its
    /// warnings and deprecations shown, its facts stored (on `target` with `delegate_facts`).
    pub(super) fn fallback_outcome(
        &self,
        task: &Task,
        host: &str,
        target: &str,
        result: Map<String, Json>,
        short: &str,
    ) -> Outcome {
        for w in result
            .get("warnings")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(w) = w.as_str() {
                self.runner.emit(Event::Warning(w.to_string()));
            }
        }
        for d in result
            .get("deprecations")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
        {
            self.runner.emit(Event::Warning(deprecation_text(d, short)));
        }
        let (mut o, facts) = outcome(result);
        // A module that raised (no traceback comes back): its error, where the task is, as
        // prov words the errors it raises itself (the human output shows it).
        if o.result.get("exception").and_then(|e| e.as_str()) == Some(NO_TRACEBACK_TEXT)
            && let Some(m) = &o.msg
        {
            let e = crate::error::Error::failed(m.clone()).at(&task.loc);
            o.result
                .insert("exception".into(), Value::from(e.to_string()));
        }
        if let Some(facts) = facts
            && o.status != Status::Failed
        {
            let owner = if task.delegate_facts { target } else { host };
            self.shared.add_module_facts(owner, facts);
        }
        o
    }
}

/// What ansible-core registers as the `exception` of a module that raised, without a traceback.
const NO_TRACEBACK_TEXT: &str = "(traceback unavailable)";

/// A deprecation as Ansible words it.
fn deprecation_text(d: &Json, module: &str) -> String {
    let s = |k: &str| d.get(k).and_then(Json::as_str).unwrap_or_default();
    let mut t = format!("Deprecation: {}", s("msg"));
    let when = match (s("version"), s("date")) {
        (v, _) if !v.is_empty() => format!(" version {v}"),
        (_, date) if !date.is_empty() => format!(" after {date}"),
        _ => String::new(),
    };
    if !when.is_empty() {
        t.push_str(&format!(
            " This feature will be removed from module '{module}' in collection '{}'{when}.",
            s("collection_name")
        ));
    }
    t
}

/// A diff side as text: a string as is, anything else as JSON (as Ansible shows it).
fn side(v: Option<&Json>) -> String {
    match v {
        None | Some(Json::Null) => String::new(),
        Some(Json::String(s)) => s.clone(),
        Some(other) => serde_json::to_string_pretty(other).unwrap_or_default() + "\n",
    }
}

/// The outcome of a module's result as Ansible reads it (`failed`, else a non-zero `rc`;
/// `skipped`; `changed`; `msg`; `diff`), every field kept for `register`, and its
/// `ansible_facts`.
fn outcome(mut r: Map<String, Json>) -> (Outcome, Option<Vars>) {
    let flag = |r: &Map<String, Json>, k: &str| r.get(k).is_some_and(|v| truthy(&from_json(v)));
    let failed = match r.get("failed") {
        Some(v) => truthy(&from_json(v)),
        None => r
            .get("rc")
            .is_some_and(|rc| rc.as_i64() != Some(0) && rc.as_str() != Some("0")),
    };
    let status = if failed {
        Status::Failed
    } else if flag(&r, "skipped") {
        Status::Skipped
    } else if flag(&r, "changed") {
        Status::Changed
    } else {
        Status::Ok
    };
    let mut o = Outcome::new(status);
    o.msg = r.get("msg").and_then(Json::as_str).map(String::from);
    // A module that raised: its error's message (as ansible-core words it).
    if o.msg.is_none()
        && failed
        && let Some(e) = r.get("exception")
    {
        let what = e
            .get("event")
            .and_then(|v| v.get("msg"))
            .and_then(Json::as_str)
            .unwrap_or("the module raised an error");
        o.msg = Some(format!("Task failed: Module failed: {what}"));
    }
    if let Some(e) = r.get_mut("exception") {
        *e = fallback::untag(e.take());
    }
    for d in match r.remove("diff") {
        Some(Json::Array(a)) => a,
        Some(d @ Json::Object(_)) => vec![d],
        _ => vec![],
    } {
        if d.get("before").is_none() && d.get("after").is_none() {
            continue;
        }
        let header = |k: &str, default: &str| {
            d.get(k)
                .and_then(Json::as_str)
                .unwrap_or(default)
                .to_string()
        };
        o.diffs.push(Diff {
            before: side(d.get("before")),
            after: side(d.get("after")),
            before_header: header("before_header", "before"),
            after_header: header("after_header", "after"),
        });
    }
    // Ansible's own clean-ups of a module's result.
    if let Some(res) = r.get("results")
        && !res.is_array()
    {
        let res = res.clone();
        r.remove("results");
        r.insert("ansible_module_results".into(), res);
    }
    for k in ["stdout", "stderr"] {
        let lines = format!("{k}_lines");
        if r.contains_key(k) && !r.contains_key(&lines) {
            let text = r.get(k).and_then(Json::as_str).unwrap_or_default();
            let l: Vec<Json> = text.lines().map(Json::from).collect();
            r.insert(lines, Json::Array(l));
        }
    }
    let facts = match r.get("ansible_facts") {
        Some(Json::Object(f)) => Some(f.iter().map(|(k, v)| (k.clone(), from_json(v))).collect()),
        _ => None,
    };
    for k in ["changed", "failed", "skipped"] {
        r.remove(k);
    }
    r.retain(|k, _| !k.starts_with("_ansible_"));
    o.result = r.iter().map(|(k, v)| (k.clone(), from_json(v))).collect();
    (o, facts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn of(j: Json) -> Outcome {
        let Json::Object(m) = j else { panic!() };
        outcome(m).0
    }

    #[test]
    fn a_module_result_becomes_the_outcome_ansible_reads() {
        let o = of(json!({"changed": true, "msg": "done", "x": 1, "_ansible_no_log": false}));
        assert_eq!(o.status, Status::Changed);
        assert_eq!(o.msg.as_deref(), Some("done"));
        assert!(o.result.contains_key("x") && !o.result.contains_key("_ansible_no_log"));
        assert_eq!(of(json!({"rc": 2})).status, Status::Failed);
        assert_eq!(of(json!({"rc": 2, "failed": false})).status, Status::Ok);
        assert_eq!(
            of(json!({"skipped": true, "msg": "remote module (x) does not support check mode"}))
                .status,
            Status::Skipped
        );
        let o = of(json!({"changed": true, "diff": {"before": "a\n", "after": "b\n"}}));
        assert_eq!(o.diffs.len(), 1);
        assert_eq!(
            (o.diffs[0].before.as_str(), o.diffs[0].after.as_str()),
            ("a\n", "b\n")
        );
        let o = of(json!({"stdout": "a\nb"}));
        assert_eq!(o.result["stdout_lines"].len(), Some(2));
        let o = of(
            json!({"failed": true, "exception": {"__ansible_type": "ErrorSummary",
            "event": {"__ansible_type": "Event", "msg": "division by zero"}}}),
        );
        assert_eq!(
            o.msg.as_deref(),
            Some("Task failed: Module failed: division by zero")
        );
        assert_eq!(
            o.result["exception"].as_str(),
            Some("(traceback unavailable)")
        );
        let o = of(json!({"results": "x"}));
        assert!(o.result.contains_key("ansible_module_results"));
    }
}
