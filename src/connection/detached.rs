//! Commands of an `async` task: each command a module runs while the task is a background job
//! runs detached on the host (in its own session, its output in files), so that it outlives
//! the connection and prov itself, and is killed when the job's time is up. The job is a scope
//! ([`job_scope`]): inside it, [`super::Connection::exec`] launches every command that is not a
//! probe with [`exec_detached`], then checks on it until it ends, and returns its output as if
//! it had run in the foreground.

use super::{Cmd, Connection, ExecOutput, Stdin, inner_script, quote};
use crate::error::{Error, Result};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// A background job's state, shared by the commands it runs.
#[derive(Debug)]
pub(crate) struct Job {
    /// When the job's time is up (its commands are killed then).
    deadline: Instant,
    /// The process id of the last command launched (Ansible's `child_pid`).
    child_pid: Mutex<Option<u64>>,
    /// The last command was killed because the time was up.
    timed_out: AtomicBool,
    /// Set once a command was launched on the host (or the job ended without one).
    launched: tokio::sync::watch::Sender<bool>,
}

impl Job {
    /// A job that may run for `secs` seconds from now.
    pub(crate) fn new(secs: f64) -> Arc<Job> {
        Arc::new(Job {
            deadline: Instant::now() + Duration::from_secs_f64(secs.max(0.0)),
            child_pid: Mutex::new(None),
            timed_out: AtomicBool::new(false),
            launched: tokio::sync::watch::channel(false).0,
        })
    }
    /// The process id of the job's last command on the host.
    pub(crate) fn child_pid(&self) -> Option<u64> {
        *self.child_pid.lock().unwrap_or_else(|e| e.into_inner())
    }
    /// Whether a command of the job was killed because its time was up.
    pub(crate) fn timed_out(&self) -> bool {
        self.timed_out.load(Ordering::SeqCst)
    }
    /// Marks the job launched (its first command runs on the host, or it ended).
    pub(crate) fn mark_launched(&self) {
        self.launched.send_replace(true);
    }
    /// Waits until the job launched a command on the host or ended, at most `limit`.
    pub(crate) async fn wait_launched(&self, limit: Duration) {
        let mut rx = self.launched.subscribe();
        let _ = tokio::time::timeout(limit, rx.wait_for(|v| *v)).await;
    }
    /// Whole seconds left (at least 1).
    fn seconds_left(&self) -> u64 {
        let left = self.deadline.saturating_duration_since(Instant::now());
        left.as_secs_f64().ceil().max(1.0) as u64
    }
}

tokio::task_local! {
    static JOB: Option<Arc<Job>>;
}

/// Runs `fut` as (part of) the background job `job` (`None`: not a job).
pub(crate) async fn job_scope<F: std::future::Future>(job: Option<Arc<Job>>, fut: F) -> F::Output {
    JOB.scope(job, fut).await
}

/// The job the current task runs as, if any.
pub(crate) fn current_job() -> Option<Arc<Job>> {
    JOB.try_with(Clone::clone).ok().flatten()
}

/// The supervisor on the host: `$1` is the job's folder, `$2` its seconds. It runs the command
/// in a session of its own, kills that session when the time is up (and says so), and writes
/// the exit status last, atomically.
const SUPERVISOR: &str = r#"s=$1
if command -v setsid >/dev/null 2>&1; then
  setsid sh "$s/cmd" <"$s/in" >"$s/out" 2>"$s/err" &
else
  sh "$s/cmd" <"$s/in" >"$s/out" 2>"$s/err" &
fi
c=$!
echo "$c" > "$s/pid"
(
  trap 'kill "$p" 2>/dev/null; exit 0' TERM
  sleep "$2" & p=$!
  wait "$p"
  if kill -0 "$c" 2>/dev/null; then
    : > "$s/timedout"
    kill -KILL -"$c" 2>/dev/null || kill -KILL "$c" 2>/dev/null
  fi
) </dev/null >/dev/null 2>&1 &
w=$!
wait "$c"; rc=$?
kill "$w" 2>/dev/null
echo "$rc" > "$s/rc.t" && mv -f "$s/rc.t" "$s/rc"
"#;

/// The script launching `cmd` (its chdir and environment, not its become: the launcher runs
/// with it) detached for `secs` seconds; prints the job's folder.
pub(crate) fn launch_script(cmd: &Cmd, secs: u64) -> String {
    let inner = inner_script(&Cmd {
        become_: None,
        ..cmd.clone()
    });
    // A job whose controller went away (prov ended before it did) leaves its folder: the
    // folders of this user older than a day go at the next launch.
    format!(
        "find \"${{TMPDIR:-/tmp}}\" -maxdepth 1 -name 'prov-async.*' -user \"$(id -u)\" -mmin +1440 \
         -exec rm -rf {{}} + </dev/null >/dev/null 2>&1 &\n\
         s=$(mktemp -d \"${{TMPDIR:-/tmp}}/prov-async.XXXXXXXX\") || exit 1\n\
         cat > \"$s/in\" || exit 1\n\
         printf '%s' {inner} > \"$s/cmd\" && printf '%s' {sup} > \"$s/sup\" || exit 1\n\
         if command -v setsid >/dev/null 2>&1; then\n\
         \x20 setsid sh \"$s/sup\" \"$s\" {secs} </dev/null >/dev/null 2>&1 &\n\
         else\n\
         \x20 nohup sh \"$s/sup\" \"$s\" {secs} </dev/null >/dev/null 2>&1 &\n\
         fi\n\
         printf 'prov-async:%s\\n' \"$s\"\n",
        inner = quote(&inner),
        sup = quote(SUPERVISOR),
    )
}

/// The script checking on a launched command in folder `dir`: a first line
/// `prov-async:done RC TIMEDOUT PID` followed by its stdout (its stderr on stderr; the folder
/// is removed), or `prov-async:running PID`, or `prov-async:gone`.
pub(crate) fn check_script(dir: &str) -> String {
    format!(
        "s={}\n\
         if [ -e \"$s/rc\" ]; then\n\
         \x20 t=0; [ -e \"$s/timedout\" ] && t=1\n\
         \x20 printf 'prov-async:done %s %s %s\\n' \"$(cat \"$s/rc\")\" \"$t\" \"$(cat \"$s/pid\" 2>/dev/null)\"\n\
         \x20 cat \"$s/out\"; cat \"$s/err\" >&2; rm -rf \"$s\"\n\
         elif [ -d \"$s\" ]; then\n\
         \x20 printf 'prov-async:running %s\\n' \"$(cat \"$s/pid\" 2>/dev/null)\"\n\
         else\n\
         \x20 echo prov-async:gone\n\
         fi\n",
        quote(dir)
    )
}

/// What a check found.
#[derive(Debug, PartialEq)]
pub(crate) enum Check {
    /// Still running (its process id, once known).
    Running(Option<u64>),
    /// Ended: its output, whether it was killed for time, its process id.
    Done(ExecOutput, bool, Option<u64>),
    /// Its folder is gone.
    Gone,
}

/// Reads a [`check_script`]'s output.
pub(crate) fn parse_check(out: ExecOutput) -> Result<Check> {
    let text = &out.stdout;
    let nl = text.iter().position(|b| *b == b'\n').unwrap_or(text.len());
    let head = String::from_utf8_lossy(&text[..nl]).into_owned();
    let mut w = head.split_whitespace();
    match w.next() {
        Some("prov-async:running") => Ok(Check::Running(w.next().and_then(|p| p.parse().ok()))),
        Some("prov-async:gone") => Ok(Check::Gone),
        Some("prov-async:done") => {
            let rc = w.next().and_then(|r| r.parse().ok()).unwrap_or(-1);
            let timed_out = w.next() == Some("1");
            let pid = w.next().and_then(|p| p.parse().ok());
            let stdout = text.get(nl + 1..).unwrap_or_default().to_vec();
            Ok(Check::Done(
                ExecOutput {
                    rc,
                    stdout,
                    stderr: out.stderr,
                },
                timed_out,
                pid,
            ))
        }
        _ => Err(Error::failed(format!(
            "checking on a background command failed (rc {}): {}",
            out.rc,
            out.stderr_str().trim()
        ))),
    }
}

/// Runs `cmd` detached on the host as part of `job`, then checks on it (every 50 ms at first,
/// then less often, at most every second) until it ends. A command killed because the job's
/// time was up is an error (the job reports Ansible's `Timeout exceeded`).
pub(crate) async fn exec_detached<C: Connection + ?Sized>(
    conn: &C,
    cmd: &Cmd,
    job: &Job,
) -> Result<ExecOutput> {
    if Instant::now() >= job.deadline {
        job.timed_out.store(true, Ordering::SeqCst);
        return Err(Error::failed("Timeout exceeded"));
    }
    let launcher = Cmd {
        script: launch_script(cmd, job.seconds_left()),
        stdin: match &cmd.stdin {
            Stdin::File(_) => Stdin::Empty,
            s => s.clone(),
        },
        become_: cmd.become_.clone(),
        ..Default::default()
    };
    let out = job_scope(None, conn.exec(&launcher)).await?;
    let text = out.stdout_str();
    let Some(dir) = text
        .lines()
        .find_map(|l| l.strip_prefix("prov-async:"))
        .map(str::to_string)
    else {
        return Err(Error::failed(format!(
            "could not start a background command (rc {}): {}",
            out.rc,
            out.stderr_str().trim()
        )));
    };
    job.mark_launched();
    let check = Cmd {
        script: check_script(&dir),
        become_: cmd.become_.clone(),
        ..Default::default()
    };
    let mut wait = Duration::from_millis(50);
    loop {
        tokio::time::sleep(wait).await;
        wait = (wait * 3 / 2).min(Duration::from_secs(1));
        let out = job_scope(None, conn.exec(&check)).await?;
        match parse_check(out)? {
            Check::Running(pid) => {
                if pid.is_some() {
                    *job.child_pid.lock().unwrap_or_else(|e| e.into_inner()) = pid;
                }
            }
            Check::Gone => {
                return Err(Error::failed(format!(
                    "the background command's folder {dir} is gone from the host"
                )));
            }
            Check::Done(out, timed_out, pid) => {
                if pid.is_some() {
                    *job.child_pid.lock().unwrap_or_else(|e| e.into_inner()) = pid;
                }
                if timed_out {
                    job.timed_out.store(true, Ordering::SeqCst);
                    return Err(Error::failed("Timeout exceeded"));
                }
                return Ok(out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::local::LocalConnection;

    #[test]
    fn a_check_s_output_is_read() {
        let out = |s: &str| ExecOutput {
            rc: 0,
            stdout: s.as_bytes().to_vec(),
            stderr: b"e".to_vec(),
        };
        assert_eq!(
            parse_check(out("prov-async:running 42\n")).unwrap(),
            Check::Running(Some(42))
        );
        assert_eq!(parse_check(out("prov-async:gone\n")).unwrap(), Check::Gone);
        let Check::Done(o, t, pid) = parse_check(out("prov-async:done 3 1 7\na\nb\n")).unwrap()
        else {
            panic!()
        };
        assert_eq!(
            (o.rc, o.stdout.as_slice(), t, pid),
            (3, &b"a\nb\n"[..], true, Some(7))
        );
        assert!(parse_check(out("nonsense")).is_err());
    }

    /// A command of a job runs detached with its stdin, environment and folder, and its output
    /// comes back; one that outlives the job's time is killed with its children.
    #[tokio::test]
    async fn a_job_s_command_runs_detached_and_is_killed_when_time_is_up() {
        let conn = LocalConnection::new("localhost");
        let job = Job::new(30.0);
        let cmd = Cmd {
            script: "cat; echo \"$X\" >&2; pwd; exit 3".into(),
            stdin: Stdin::Bytes(b"in\n".to_vec()),
            env: vec![("X".into(), "x y".into())],
            chdir: Some("/".into()),
            ..Default::default()
        };
        let out = job_scope(Some(job.clone()), conn.exec(&cmd)).await.unwrap();
        assert_eq!(out.rc, 3);
        assert_eq!(out.stdout_str(), "in\n/\n");
        assert_eq!(out.stderr_str(), "x y\n");
        assert!(job.child_pid().is_some() && !job.timed_out());

        // probes are not detached (their output comes back at once, even after the deadline)
        let probe = Cmd {
            probe: true,
            ..Cmd::new("echo probe")
        };
        let job = Job::new(1.0);
        let started = Instant::now();
        let marker = std::env::temp_dir().join(format!(
            "prov-detached-{}",
            crate::connection::random_token()
        ));
        let cmd = Cmd::new(format!(
            "sh -c 'sleep 30; touch {}' & sleep 30",
            marker.display()
        ));
        let err = job_scope(Some(job.clone()), conn.exec(&cmd))
            .await
            .unwrap_err();
        assert_eq!(err.msg, "Timeout exceeded");
        assert!(job.timed_out());
        assert!(started.elapsed() < Duration::from_secs(10));
        let p = job_scope(Some(job.clone()), conn.exec(&probe))
            .await
            .unwrap();
        assert_eq!(p.stdout_str(), "probe\n");
        // the command's children were killed too: nothing is left in its session
        let sid = job.child_pid().unwrap();
        let left: Vec<_> = std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
            .filter(|st| {
                let after = st.rsplit_once(')').map(|x| x.1).unwrap_or_default();
                after.split_whitespace().nth(4) == Some(sid.to_string().as_str())
            })
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }
}
