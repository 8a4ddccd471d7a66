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

/// Native actions whose Ansible action plugin runs other modules on the host (fetch reads the
/// file with `stat` and `slurp`).
const ACTION_HELPERS: &[(&str, &[&str])] = &[("fetch", &["stat", "slurp"])];

/// Whether the user's `library/` replaces a module that Ansible's action plugin of native
/// action `name` runs: then that action plugin runs (calling the user's module), as in
/// Ansible, when ansible-core is there.
pub(super) fn helper_shadowed(name: &str) -> bool {
    ACTION_HELPERS
        .iter()
        .filter(|(a, _)| *a == name)
        .flat_map(|(_, helpers)| helpers.iter())
        .any(|h| fallback::user_module(h).is_some())
        && fallback::action_plugin(&format!("ansible.builtin.{name}")).is_some()
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
        let raw = self.rendered_args(name, args, ctx)?;
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
        let mut o = self.fallback_outcome(task, host, &target, result);
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
        mut result: Map<String, Json>,
    ) -> Outcome {
        add_collection_names(&mut result);
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
            self.runner.emit(Event::Deprecation(deprecation_text(d)));
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

/// Each deprecation of a module's result names its collection (`collection_name`, from the
/// `deprecator` a 2.19 module reports: `ns.col` of its resolved name), as ansible-core's
/// controller exposes deprecations to playbooks.
fn add_collection_names(result: &mut Map<String, Json>) {
    let Some(Json::Array(deps)) = result.get_mut("deprecations") else {
        return;
    };
    for d in deps.iter_mut().filter_map(Json::as_object_mut) {
        if d.contains_key("collection_name") {
            continue;
        }
        let name = d
            .get("deprecator")
            .and_then(|x| x.get("resolved_name"))
            .and_then(Json::as_str)
            .map(|n| n.split('.').take(2).collect::<Vec<_>>().join("."));
        d.insert(
            "collection_name".into(),
            name.map_or(Json::Null, Json::from),
        );
    }
}

/// A deprecation as ansible-core 2.19 words it: the message, then what will be removed from
/// where and when ("This feature will be removed from ansible-core version 2.23.").
fn deprecation_text(d: &Json) -> String {
    let s = |k: &str| d.get(k).and_then(Json::as_str).unwrap_or_default();
    let dep = d.get("deprecator");
    let dep_str = |k: &str| dep.and_then(|v| v.get(k)).and_then(Json::as_str);
    let resolved =
        dep_str("resolved_name").or_else(|| Some(s("collection_name")).filter(|c| !c.is_empty()));
    // A typed deprecator names a plugin (`ns.coll.name`); an untyped one is a collection.
    let (collection, plugin) = match (resolved, dep_str("type")) {
        (Some(name), Some(kind)) if name != "ansible.builtin" => {
            let parts: Vec<&str> = name.split('.').collect();
            let kind = if kind == "module" {
                kind.to_string()
            } else {
                format!("{kind} plugin")
            };
            let coll = (parts.len() > 2).then(|| parts[..2].join("."));
            (coll, Some(format!("{kind} '{}'", parts[parts.len() - 1])))
        }
        (Some(name), Some(kind)) => {
            let kind = if kind == "module" {
                kind.to_string()
            } else {
                format!("{kind} plugin")
            };
            (Some(name.to_string()), Some(format!("the {kind} API")))
        }
        (name, _) => (name.map(String::from), None),
    };
    let from = match (&plugin, collection.as_deref()) {
        (Some(p), Some("ansible.builtin")) => format!(" from {p} in ansible-core"),
        (Some(p), Some(c)) => format!(" from {p} in collection '{c}'"),
        (Some(p), None) => format!(" from {p}"),
        (None, Some("ansible.builtin")) => " from ansible-core".to_string(),
        (None, Some(c)) => format!(" from collection '{c}'"),
        (None, None) => String::new(),
    };
    let when = match (collection.is_some(), s("date"), s("version")) {
        (false, _, _) => " in the future".to_string(),
        (true, date, _) if !date.is_empty() => format!(" in a release after {date}"),
        (true, _, v) if !v.is_empty() => format!(" version {v}"),
        _ => " in a future release".to_string(),
    };
    let mut msg = s("msg").trim().to_string();
    if !msg.is_empty() && !msg.ends_with(['.', '!', '?']) {
        msg.push('.');
    }
    let tail = format!("This feature will be removed{from}{when}.");
    if msg.is_empty() {
        tail
    } else {
        format!("{msg} {tail}")
    }
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
    // The registered result keeps the module's own `diff` as it returned it.
    for d in match r.get("diff").cloned() {
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
    for k in ["warnings", "deprecations"] {
        if r.get(k)
            .and_then(Json::as_array)
            .is_some_and(|a| a.is_empty())
        {
            r.remove(k);
        }
    }
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
    // Python's truth, as ansible-core reads it (`"yeppers"` hides the result too).
    o.no_log = r
        .get("_ansible_no_log")
        .is_some_and(|v| crate::template::truthy_py(&from_json(v)));
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
        assert!(!o.no_log);
        // An action plugin's result may ask to be hidden (any truthy value).
        assert!(of(json!({"msg": "secret", "_ansible_no_log": "yeppers"})).no_log);
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
        assert_eq!(
            o.result["diff"].get_attr("before").unwrap().as_str(),
            Some("a\n")
        );
        let o = of(json!({"diff": {"before": "a", "after": "b", "after_header": "/p"}}));
        assert_eq!(
            o.result["diff"].get_attr("after_header").unwrap().as_str(),
            Some("/p")
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
        let o = of(json!({"warnings": [], "deprecations": [{"msg": "d"}]}));
        assert!(!o.result.contains_key("warnings") && o.result.contains_key("deprecations"));
    }

    #[test]
    fn deprecations_are_worded_as_ansible_core_words_them() {
        let core = json!({"msg": "Passing `warnings` is deprecated.", "version": "2.23",
            "deprecator": {"resolved_name": "ansible.builtin", "type": null}});
        assert_eq!(
            deprecation_text(&core),
            "Passing `warnings` is deprecated. This feature will be removed from ansible-core version 2.23."
        );
        let coll = json!({"msg": "old thing", "version": "9.9", "collection_name": "my.coll",
            "deprecator": {"resolved_name": "my.coll", "type": null}});
        assert_eq!(
            deprecation_text(&coll),
            "old thing. This feature will be removed from collection 'my.coll' version 9.9."
        );
        let module = json!({"msg": "x", "date": "2030-01-01",
            "deprecator": {"resolved_name": "my.coll.thing", "type": "module"}});
        assert_eq!(
            deprecation_text(&module),
            "x. This feature will be removed from module 'thing' in collection 'my.coll' in a release after 2030-01-01."
        );
        assert_eq!(
            deprecation_text(&json!({"msg": "y"})),
            "y. This feature will be removed in the future."
        );
    }

    #[test]
    fn deprecations_name_their_collection_as_ansible_shows_them() {
        let Json::Object(mut r) = json!({"deprecations": [
            {"msg": "a", "version": "2.0.0", "deprecator": {"resolved_name": "foo.bar.argspec", "type": null}},
            {"msg": "b", "date": "2023-01-01", "deprecator": {"resolved_name": null}},
            {"msg": "c", "collection_name": "kept.as.is"}
        ]}) else {
            panic!()
        };
        add_collection_names(&mut r);
        let d = &r["deprecations"];
        assert_eq!(d[0]["collection_name"], json!("foo.bar"));
        assert_eq!(d[1]["collection_name"], Json::Null);
        assert_eq!(d[2]["collection_name"], json!("kept.as.is"));
    }
}
