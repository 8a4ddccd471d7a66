//! `async` and `poll`: a module task run as a background job on its host, as Ansible runs it.
//!
//! The job has a status file, `<async_dir>/<jid>` on the host (`~/.ansible_async` of the user
//! the task runs as, or `ansible_async_dir` / `ANSIBLE_ASYNC_DIR`): `{"started": true,
//! "finished": false, ...}` while it runs, then the module's result (Ansible's format, which
//! `async_status` reads). The module's commands run detached on the host
//! (`connection::detached`), killed when the job's `async` seconds are up (the result is then
//! Ansible's `Timeout exceeded`). With `poll: N > 0` the task waits for the job, reporting
//! `ASYNC POLL` every N seconds, and its result is the module's with the job's keys; with
//! `poll: 0` it reports the job started (`changed`) and the job goes on by itself.

use super::PlayRun;
use super::outcome::Outcome;
use crate::connection::detached::{Job, job_scope};
use crate::connection::{Become, Cmd, Connection, Stdin, quote};
use crate::error::{Error, Result};
use crate::events::{Event, Status};
use crate::playbook::Task;
use crate::template::Context;
use crate::value::{Value, to_json};
use serde_json::{Map, Value as Json};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// A module's work, owning what it needs, so that it can run as a background job.
pub(super) type JobFuture<T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'static>>;

/// A task's `async` and `poll`, rendered.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct AsyncSpec {
    /// Seconds the job may run.
    pub(super) secs: f64,
    /// Seconds between checks; 0: fire and forget.
    pub(super) poll: f64,
}

/// Ansible's default `poll` (DEFAULT_POLL_INTERVAL).
const DEFAULT_POLL: f64 = 15.0;

/// Ansible's default `async_dir`.
const DEFAULT_ASYNC_DIR: &str = "~/.ansible_async";

/// The actions that refuse `async` in Ansible: those with an action plugin that does not
/// declare async support (its message: [`no_async`]). Modules without an action plugin, and
/// `command`, `shell`, `service`, `package` support it.
const REFUSE_ASYNC: &[&str] = &[
    "add_host",
    "assemble",
    "assert",
    "async_status",
    "copy",
    "debug",
    "fail",
    "fetch",
    "gather_facts",
    "group_by",
    "include_vars",
    "pause",
    "raw",
    "reboot",
    "script",
    "set_fact",
    "set_stats",
    "template",
    "unarchive",
    "validate_argument_spec",
    "wait_for_connection",
];

/// Whether action `name` refuses `async` (as Ansible's action plugins do).
pub(super) fn refuses_async(name: &str) -> bool {
    REFUSE_ASYNC.contains(&crate::modules::canonical_name(name))
}

/// Ansible's failure for an action that does not support `async`.
pub(super) fn no_async(name: &str) -> Error {
    Error::failed(format!("This action ({name}) does not support async."))
}

/// How a job run with `poll > 0` ended.
pub(super) enum JobEnd<T> {
    /// `poll: 0`: the job was started; this is the task's result.
    Started(Outcome),
    /// The module's work finished with this value; add the job's keys with
    /// [`AsyncInfo::decorate`] once it is an outcome.
    Finished(T, AsyncInfo),
    /// The job failed (its time was up, or it could not run): the task's result.
    Failed(Outcome),
}

/// A job's id and status file, for its result.
#[derive(Debug, Clone)]
pub(super) struct AsyncInfo {
    jid: String,
    results_file: String,
}

impl AsyncInfo {
    /// Adds the keys Ansible's `async_status` gives a finished job's result: `ansible_job_id`,
    /// `results_file`, `started`, `finished`, and empty `stdout`/`stderr` (with their lines)
    /// when the module returned none.
    pub(super) fn decorate(&self, o: &mut Outcome) {
        let r = &mut o.result;
        r.insert("ansible_job_id".into(), Value::from(self.jid.as_str()));
        r.insert(
            "results_file".into(),
            Value::from(self.results_file.as_str()),
        );
        r.insert("started".into(), Value::from(true));
        r.insert("finished".into(), Value::from(true));
        for k in ["stdout", "stderr"] {
            if !r.contains_key(k) {
                r.insert(k.into(), Value::from(""));
            }
            let lines = format!("{k}_lines");
            if !r.contains_key(&lines) {
                r.insert(lines, Value::from(Vec::<Value>::new()));
            }
        }
    }
}

/// A new job id as Ansible makes them: `j<random digits>.<process id>`.
fn new_jid() -> String {
    let n = crate::util::random_bytes(8)
        .map(|b| b.iter().fold(0u64, |a, x| a << 8 | u64::from(*x)))
        .unwrap_or_else(|_| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0)
        });
    format!("j{}.{}", n % 1_000_000_000_000, std::process::id())
}

/// The script creating the job's folder (`~` is the home of the user the task runs as) and
/// its status file (`started`); prints the folder.
fn init_script(dir: &str, jid: &str) -> String {
    let started = serde_json::json!({"started": true, "finished": false, "ansible_job_id": jid});
    format!(
        "d={dir}\n\
         case $d in \"~\") d=$HOME;; \"~/\"*) d=$HOME/${{d#??}};; esac\n\
         mkdir -p \"$d\" || exit 1\n\
         printf '%s' {started} > \"$d/{jid}.tmp\" && mv -f \"$d/{jid}.tmp\" \"$d/{jid}\" || exit 1\n\
         printf 'prov-async-dir:%s\\n' \"$d\"\n",
        dir = quote(dir),
        started = quote(&started.to_string()),
        jid = jid,
    )
}

/// Writes the job's status file atomically.
async fn write_status(
    conn: &dyn Connection,
    become_: Option<Become>,
    path: &str,
    data: &Map<String, Json>,
) -> Result<()> {
    let cmd = Cmd {
        script: format!(
            "p={}; cat > \"$p.tmp\" && mv -f \"$p.tmp\" \"$p\"",
            quote(path)
        ),
        stdin: Stdin::Bytes(serde_json::to_vec(data).unwrap_or_default()),
        become_,
        ..Default::default()
    };
    let out = job_scope(None, conn.exec(&cmd)).await?;
    if out.rc != 0 {
        return Err(Error::failed(format!(
            "could not write the job's status file {path}: {}",
            out.stderr_str().trim()
        )));
    }
    Ok(())
}

/// The status file of a job killed because its time was up (Ansible's).
fn timeout_result(child_pid: Option<u64>) -> Map<String, Json> {
    let mut m = Map::new();
    m.insert("msg".into(), Json::from("Timeout exceeded"));
    m.insert("failed".into(), Json::from(true));
    if let Some(p) = child_pid {
        m.insert("child_pid".into(), Json::from(p));
    }
    m
}

/// An outcome's registered value as a JSON object (a job's status file).
pub(super) fn outcome_json(o: &Outcome) -> Map<String, Json> {
    match to_json(&o.to_value()) {
        Json::Object(m) => m,
        _ => Map::new(),
    }
}

/// How the job's work ended.
enum Ended<T> {
    Done(T),
    Timeout(Option<u64>),
    Error(Error),
}

impl PlayRun<'_> {
    /// The task's `async` and `poll` (`None`: not a job: no `async`, or 0).
    pub(super) fn async_spec(&self, task: &Task, ctx: &Context) -> Result<Option<AsyncSpec>> {
        let Some(v) = &task.async_ else {
            return Ok(None);
        };
        let secs = self
            .number(v, ctx)?
            .ok_or_else(|| Error::parse("async must be a number of seconds").at(&task.loc))?;
        if secs <= 0.0 {
            return Ok(None);
        }
        let poll = match &task.poll {
            Some(p) => self
                .number(p, ctx)?
                .ok_or_else(|| Error::parse("poll must be a number of seconds").at(&task.loc))?,
            None => DEFAULT_POLL,
        };
        Ok(Some(AsyncSpec {
            secs,
            poll: poll.max(0.0),
        }))
    }

    /// The folder of job status files: `ansible_async_dir`, else `ANSIBLE_ASYNC_DIR`, else
    /// `~/.ansible_async` (`~` expands on the host).
    pub(super) fn async_dir(&self, ctx: &Context) -> Result<String> {
        if let Some(v) = ctx.get("ansible_async_dir")?
            && !v.is_none()
            && !v.is_undefined()
        {
            return Ok(self.runner.templar.render_value(&v, ctx)?.to_string());
        }
        Ok(std::env::var("ANSIBLE_ASYNC_DIR")
            .ok()
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| DEFAULT_ASYNC_DIR.to_string()))
    }

    /// Runs a module's work `job` as a background job on the host `conn` reaches (with the
    /// task's `become`): see the module documentation. `json` gives the status file of a
    /// finished job.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn run_job<T: Send + 'static>(
        &self,
        task: &Task,
        host: &str,
        ctx: &Context,
        spec: AsyncSpec,
        conn: Arc<dyn Connection>,
        become_: Option<Become>,
        job: JobFuture<T>,
        json: fn(&T) -> Map<String, Json>,
    ) -> Result<JobEnd<T>> {
        let dir = self.async_dir(ctx)?;
        let jid = new_jid();
        let init = Cmd {
            script: init_script(&dir, &jid),
            become_: become_.clone(),
            ..Default::default()
        };
        let out = job_scope(None, conn.exec(&init)).await?;
        let stdout = out.stdout_str();
        let Some(dir) = stdout
            .lines()
            .find_map(|l| l.strip_prefix("prov-async-dir:"))
        else {
            return Err(Error::failed(format!(
                "could not create directory: {dir} - {}",
                out.stderr_str().trim()
            )));
        };
        let info = AsyncInfo {
            results_file: format!("{}/{jid}", dir.trim_end_matches('/')),
            jid,
        };
        let state = Job::new(spec.secs);
        let body = {
            let (state, conn, become_) = (state.clone(), conn.clone(), become_.clone());
            let path = info.results_file.clone();
            let no_log = task.no_log;
            // The host kills the job's commands when its time is up; this bounds the work the
            // controller does for it (probes, uploads) a little later.
            let limit = Duration::from_secs_f64(spec.secs + 5.0);
            async move {
                let r = crate::connection::no_log_scope(
                    no_log,
                    job_scope(Some(state.clone()), tokio::time::timeout(limit, job)),
                )
                .await;
                let (file, end) = match r {
                    Ok(Ok(v)) => (json(&v), Ended::Done(v)),
                    Err(_) => (
                        timeout_result(state.child_pid()),
                        Ended::Timeout(state.child_pid()),
                    ),
                    Ok(Err(_)) if state.timed_out() => (
                        timeout_result(state.child_pid()),
                        Ended::Timeout(state.child_pid()),
                    ),
                    Ok(Err(e)) => {
                        let mut m = Map::new();
                        m.insert("failed".into(), Json::from(true));
                        m.insert("msg".into(), Json::from(e.msg.as_str()));
                        (m, Ended::Error(e))
                    }
                };
                let _ = write_status(&*conn, become_, &path, &file).await;
                state.mark_launched();
                end
            }
        };
        if spec.poll <= 0.0 {
            tokio::spawn(body);
            // As Ansible's wrapper, return once the job's command started on the host.
            state.wait_launched(Duration::from_millis(2500)).await;
            let mut o = Outcome::new(Status::Changed);
            o.result
                .insert("ansible_job_id".into(), Value::from(info.jid.as_str()));
            o.result.insert(
                "results_file".into(),
                Value::from(info.results_file.as_str()),
            );
            o.result.insert("started".into(), Value::from(true));
            o.result.insert("finished".into(), Value::from(false));
            return Ok(JobEnd::Started(o));
        }
        let mut body = std::pin::pin!(body);
        let every = Duration::from_secs_f64(spec.poll);
        let end = loop {
            tokio::select! {
                e = &mut body => break e,
                _ = tokio::time::sleep(every) => self.runner.emit(Event::Verbose {
                    level: 0,
                    msg: format!(
                        "ASYNC POLL on {host}: jid={} started=True finished=False",
                        info.jid
                    ),
                }),
            }
        };
        // A finished job's status file is removed (Ansible's cleanup after polling).
        let rm = Cmd {
            script: format!("rm -f {}", quote(&info.results_file)),
            become_,
            ..Default::default()
        };
        let _ = job_scope(None, conn.exec(&rm)).await;
        let failed = |mut o: Outcome| {
            info.decorate(&mut o);
            o.result.shift_remove("exception");
            JobEnd::Failed(o)
        };
        Ok(match end {
            Ended::Done(v) => JobEnd::Finished(v, info),
            Ended::Timeout(pid) => {
                self.async_verdict(host, &info, false);
                let mut o = Outcome::new(Status::Failed);
                o.msg = Some("Timeout exceeded".into());
                if let Some(p) = pid {
                    o.result.insert("child_pid".into(), Value::from(p));
                }
                failed(o)
            }
            Ended::Error(e) => {
                self.async_verdict(host, &info, false);
                failed(Outcome::from_error(&e))
            }
        })
    }

    /// `ASYNC OK` / `ASYNC FAILED` as Ansible shows a polled job's end.
    pub(super) fn async_verdict(&self, host: &str, info: &AsyncInfo, ok: bool) {
        self.runner.emit(Event::Verbose {
            level: 0,
            msg: format!(
                "ASYNC {} on {host}: jid={}",
                if ok { "OK" } else { "FAILED" },
                info.jid
            ),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_ids_look_like_ansible_s() {
        let j = new_jid();
        let (a, b) = j.strip_prefix('j').unwrap().split_once('.').unwrap();
        assert!(
            !a.is_empty() && a.chars().all(|c| c.is_ascii_digit()),
            "{j}"
        );
        assert_eq!(b, std::process::id().to_string());
        assert_ne!(new_jid(), new_jid());
    }

    #[test]
    fn only_ansible_s_async_actions_take_async() {
        for a in [
            "script",
            "ansible.builtin.copy",
            "debug",
            "async_status",
            "raw",
        ] {
            assert!(refuses_async(a), "{a}");
        }
        for a in [
            "command",
            "shell",
            "ansible.builtin.command",
            "apt",
            "setup",
            "file",
        ] {
            assert!(!refuses_async(a), "{a}");
        }
        assert_eq!(
            no_async("script").msg,
            "This action (script) does not support async."
        );
    }

    /// The status file's folder is created with `~` as the home of the user running it.
    #[tokio::test]
    async fn the_status_file_starts_as_ansible_s() {
        let home = std::env::temp_dir().join(format!("prov-async-home-{}", std::process::id()));
        std::fs::create_dir_all(&home).unwrap();
        let conn = crate::connection::local::LocalConnection::new("localhost");
        let cmd = Cmd {
            script: init_script("~/.ansible_async", "j1.2"),
            env: vec![("HOME".into(), home.display().to_string())],
            ..Default::default()
        };
        let out = conn.exec(&cmd).await.unwrap();
        let dir = home.join(".ansible_async");
        assert_eq!(
            out.stdout_str(),
            format!("prov-async-dir:{}\n", dir.display())
        );
        let j: Json =
            serde_json::from_str(&std::fs::read_to_string(dir.join("j1.2")).unwrap()).unwrap();
        assert_eq!(
            j,
            serde_json::json!({"started": true, "finished": false, "ansible_job_id": "j1.2"})
        );
        let _ = std::fs::remove_dir_all(&home);
    }
}
