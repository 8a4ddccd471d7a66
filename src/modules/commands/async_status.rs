//! `async_status`: the status of a background job started with `async`, read from its status
//! file on the host, or the removal of that file.

use crate::connection::quote;
use crate::error::{Error, Result};
use crate::modules::{Args, Module, ModuleDoc, Options, Plan, RESULT_LINE, TaskCtx, opt};
use crate::value::{Value, Vars, from_json, truthy};
use async_trait::async_trait;
use serde_json::Value as Json;

/// The `async_status` module.
pub struct AsyncStatus;

crate::options! {
    /// The `async_status` module's options.
    pub(crate) struct Opts {
        jid: String = opt::str("The job's id: the `ansible_job_id` of the task run with `async`.").required(),
        mode: String = opt::str("`status`: the job's status and result; `cleanup`: remove its status file.")
            .default("status")
            .choices(&["status", "cleanup"]),
    }
}

static DOC: ModuleDoc = ModuleDoc::new("async_status", "Check on a job started with async")
    .description(
        "Reads the status file of a job started by a task with `async` (and `poll: 0`), on the \
host the task ran on, as the user it ran as: `<async_dir>/<jid>`, where async_dir is \
`ansible_async_dir`, else the controller's `ANSIBLE_ASYNC_DIR`, else `~/.ansible_async`. While \
the job runs the result has `started: true`, `finished: false`; once it ended, the job's own \
result (its `changed`, `failed`, `rc`, `stdout`, ...) with `finished: true`, so that \
`until: job is finished` with `retries` waits for it. A job that does not exist fails with \
`could not find job`. `mode: cleanup` removes the status file (`erased`). Changes nothing on \
the host otherwise; runs in check mode too.",
    )
    .spec::<Opts>()
    .examples(
        r#"- command: /usr/local/bin/long-job
  async: 600
  poll: 0
  register: job
- async_status:
    jid: "{{ job.ansible_job_id }}"
  register: result
  until: result is finished
  retries: 60
  delay: 10
- async_status:
    jid: "{{ job.ansible_job_id }}"
    mode: cleanup
"#,
    );

/// The folder of status files the engine gives the task (`ANSIBLE_ASYNC_DIR` in its
/// environment), else Ansible's default.
fn async_dir(ctx: &TaskCtx<'_>) -> String {
    ctx.env
        .iter()
        .rev()
        .find(|(k, _)| k == "ANSIBLE_ASYNC_DIR")
        .map(|(_, v)| v.clone())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "~/.ansible_async".into())
}

/// The probe: the status file's path (`~` expanded on the host), then `none`, or `file` and
/// its content.
fn probe_script(dir: &str, jid: &str, read: bool) -> String {
    format!(
        "d={}\n\
         case $d in \"~\") d=$HOME;; \"~/\"*) d=$HOME/${{d#??}};; esac\n\
         p=\"${{d%/}}/\"{}\n\
         printf '%s\\n' \"$p\"\n\
         if [ ! -e \"$p\" ]; then echo none; exit 0; fi\n\
         echo file\n\
         {}",
        quote(dir),
        quote(jid),
        if read { "cat \"$p\"\n" } else { "" }
    )
}

/// The result keys Ansible's async_status action starts from.
fn base(jid: &str, started: bool) -> Vars {
    let mut r = Vars::new();
    r.insert("ansible_job_id".into(), Value::from(jid));
    r.insert("started".into(), Value::from(started));
    r.insert("finished".into(), Value::from(false));
    r.insert("stdout".into(), Value::from(""));
    r.insert("stderr".into(), Value::from(""));
    r.insert("stdout_lines".into(), Value::from(Vec::<Value>::new()));
    r.insert("stderr_lines".into(), Value::from(Vec::<Value>::new()));
    r
}

/// The plan for a job's status file content `data` (`jid` at `path`), as Ansible's
/// async_status reads it: empty means still starting; not JSON fails; a module's result (no
/// `started`) is a finished job, its `changed`/`failed`/`skipped`/`msg` deciding the task.
pub(crate) fn status_plan(jid: &str, path: &str, data: &str) -> Plan {
    let mut p = Plan::ok();
    p.result = base(jid, true);
    p.result.insert("results_file".into(), Value::from(path));
    if data.trim().is_empty() {
        return p;
    }
    let job = match serde_json::from_str::<Json>(data) {
        Ok(Json::Object(m)) => m,
        _ => {
            p.result.insert("finished".into(), Value::from(true));
            p.failed = Some(format!("Could not parse job output: {data}"));
            return p;
        }
    };
    let finished = if !job.contains_key("started") {
        true
    } else {
        job.get("finished").is_some_and(|f| truthy(&from_json(f)))
    };
    let flag = |k: &str| job.get(k).is_some_and(|v| truthy(&from_json(v)));
    let (changed, failed, skipped) = (flag("changed"), flag("failed"), flag("skipped"));
    for (k, v) in &job {
        match k.as_str() {
            "changed" | "failed" | "skipped" => {}
            "ansible_facts" => {
                if let Json::Object(f) = v {
                    for (fk, fv) in f {
                        p.facts.insert(fk.clone(), from_json(fv));
                    }
                }
            }
            _ => {
                p.result.insert(k.clone(), from_json(v));
            }
        }
    }
    for k in ["started", "finished"] {
        let b = truthy(p.result.get(k).unwrap_or(&Value::from(false)));
        p.result.insert(k.into(), Value::from(b));
    }
    if finished {
        p.result.insert("finished".into(), Value::from(true));
        if !job.contains_key("started") {
            p.result.insert("started".into(), Value::from(true));
            p.result.insert("ansible_job_id".into(), Value::from(jid));
        }
    }
    let msg = job.get("msg").and_then(Json::as_str).unwrap_or_default();
    if failed {
        p.failed = Some(msg.to_string());
    } else if skipped {
        p.skipped = Some(msg.to_string());
    } else if changed {
        p.force_changed = true;
    }
    p
}

#[async_trait]
impl Module for AsyncStatus {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn plan(&self, ctx: &TaskCtx<'_>, args: &Args) -> Result<Plan> {
        let o = Opts::from_args(args)?;
        let cleanup = o.mode == "cleanup";
        let out = ctx
            .run(probe_script(&async_dir(ctx), &o.jid, !cleanup))
            .await?;
        let text = out.stdout_str();
        let mut lines = text.splitn(3, '\n');
        let (Some(path), Some(state)) = (lines.next(), lines.next()) else {
            return Err(Error::failed(format!(
                "could not read the job's status (rc {}): {}",
                out.rc,
                out.stderr_str().trim()
            )));
        };
        if state == "none" {
            let mut p = Plan::fail("could not find job");
            p.result = base(&o.jid, true);
            p.result.insert("finished".into(), Value::from(true));
            let key = if cleanup { "erased" } else { "results_file" };
            p.result.insert(key.into(), Value::from(path));
            return Ok(p);
        }
        if !cleanup {
            return Ok(status_plan(&o.jid, path, lines.next().unwrap_or_default()));
        }
        let mut p = Plan::ok().change(
            format!("remove {path}"),
            None,
            crate::modules::Action::Exec {
                cmd: ctx.cmd(format!(
                    "rm -f -- {} && echo '{RESULT_LINE}{{\"changed\": false}}'",
                    quote(path)
                )),
                capture: false,
                fail_on_rc: true,
            },
        );
        p.output_results = true;
        p.result = base(&o.jid, false);
        p.result.insert("erased".into(), Value::from(path));
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_file_reads_as_ansible_s_async_status() {
        // starting, running, unparsable
        let p = status_plan("j1.2", "/h/j1.2", "");
        assert_eq!(p.result["finished"], Value::from(false));
        assert!(p.failed.is_none());
        let p = status_plan(
            "j1.2",
            "/h/j1.2",
            r#"{"started": true, "finished": false, "ansible_job_id": "j1.2"}"#,
        );
        assert_eq!(
            (p.result["started"].clone(), p.result["finished"].clone()),
            (Value::from(true), Value::from(false))
        );
        assert!(!p.force_changed && p.failed.is_none());
        let p = status_plan("j1.2", "/h/j1.2", "{oops");
        assert_eq!(
            p.failed.as_deref(),
            Some("Could not parse job output: {oops")
        );
        // a finished job: the module's result decides
        let p = status_plan(
            "j1.2",
            "/h/j1.2",
            r#"{"changed": true, "rc": 0, "stdout": "hi", "ansible_facts": {"x": 1}}"#,
        );
        assert!(p.force_changed);
        assert_eq!(p.result["finished"], Value::from(true));
        assert_eq!(p.result["stdout"], Value::from("hi"));
        assert_eq!(p.result["stderr"], Value::from(""));
        assert_eq!(p.result["results_file"], Value::from("/h/j1.2"));
        assert!(!p.result.contains_key("changed") && !p.result.contains_key("ansible_facts"));
        assert_eq!(p.facts["x"], Value::from(1));
        let p = status_plan(
            "j1.2",
            "/h/j1.2",
            r#"{"failed": true, "msg": "Timeout exceeded", "child_pid": 7}"#,
        );
        assert_eq!(p.failed.as_deref(), Some("Timeout exceeded"));
        assert_eq!(p.result["child_pid"], Value::from(7));
        let p = status_plan(
            "j1.2",
            "/h/j1.2",
            r#"{"skipped": true, "msg": "Command would have run if not in check mode"}"#,
        );
        assert!(p.skipped.is_some());
    }

    #[tokio::test]
    async fn status_and_cleanup_on_the_host() {
        use crate::connection::local::LocalConnection;
        let dir = std::env::temp_dir().join(format!("prov-async-status-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("j9.9"), r#"{"changed": false, "rc": 0}"#).unwrap();
        let conn = LocalConnection::new("localhost");
        let vars = Vars::new();
        struct NoRender;
        impl crate::modules::Render for NoRender {
            fn render_text(&self, t: &str, _: &std::path::Path) -> Result<String> {
                Ok(t.into())
            }
            fn eval(&self, _: &str) -> Result<Value> {
                Ok(Value::from(()))
            }
        }
        let ctx = TaskCtx::new("localhost", &conn, &vars, &NoRender).with_env(vec![(
            "ANSIBLE_ASYNC_DIR".into(),
            dir.display().to_string(),
        )]);
        let args = |m: &str, j: &str| {
            let mut a = Vars::new();
            a.insert("jid".into(), Value::from(j));
            a.insert("mode".into(), Value::from(m));
            crate::modules::validate_args(&DOC, &a).unwrap()
        };
        let p = AsyncStatus
            .plan(&ctx, &args("status", "j9.9"))
            .await
            .unwrap();
        assert_eq!(p.result["finished"], Value::from(true));
        assert!(p.failed.is_none() && !p.force_changed);
        let p = AsyncStatus
            .plan(&ctx, &args("status", "nope"))
            .await
            .unwrap();
        assert_eq!(p.failed.as_deref(), Some("could not find job"));
        let p = AsyncStatus
            .plan(&ctx, &args("cleanup", "j9.9"))
            .await
            .unwrap();
        let a = crate::modules::apply_plan(p, &conn, false).await.unwrap();
        assert_eq!(a.status, crate::events::Status::Ok);
        assert!(!dir.join("j9.9").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
