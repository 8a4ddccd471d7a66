//! The local connection (`ansible_connection: local`, the implicit `localhost`): runs commands
//! on the controller with `tokio::process`.

use super::{Connection, ExecOutput, Secret, Stdin};
use crate::error::{Error, Result};
use async_trait::async_trait;
use std::process::Stdio;
use tokio::io::AsyncWriteExt;

async fn feed(mut input: tokio::process::ChildStdin, stdin: Stdin) {
    match stdin {
        Stdin::Empty => {}
        Stdin::Bytes(b) => {
            let _ = input.write_all(&b).await;
        }
        Stdin::File(path) => {
            if let Ok(mut f) = tokio::fs::File::open(&path).await {
                let _ = tokio::io::copy(&mut f, &mut input).await;
            }
        }
    }
    let _ = input.shutdown().await;
}

/// Runs commands on the controller.
#[derive(Debug, Clone)]
pub struct LocalConnection {
    host: String,
}

impl LocalConnection {
    /// A local connection for inventory host `host`.
    pub fn new(host: impl Into<String>) -> Self {
        LocalConnection { host: host.into() }
    }

    /// sudo with a password: the password is written only after sudo's prompt shows on stderr,
    /// and the command's stdin only after the command itself started (a marker on stderr), so
    /// with NOPASSWD or cached credentials the password never reaches the command. A second
    /// prompt means a wrong password: fail at once instead of hanging.
    async fn exec_sudo(
        &self,
        plan: &crate::connection::ssh::exec::SudoPlan,
        pw: &Secret,
        stdin: &Stdin,
    ) -> Result<ExecOutput> {
        use crate::connection::ssh::exec::{count, find};
        use tokio::io::AsyncReadExt;
        let mut child = tokio::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(&plan.line)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| Error::other(format!("cannot run /bin/sh on the controller: {e}")))?;
        let mut input = Some(child.stdin.take().expect("stdin is piped"));
        let mut out = child.stdout.take().expect("stdout is piped");
        let mut err = child.stderr.take().expect("stderr is piped");
        let stdout_task = tokio::spawn(async move {
            let mut v = Vec::new();
            let _ = out.read_to_end(&mut v).await;
            v
        });
        let marker = format!("{}\n", plan.marker);
        let mut pre: Vec<u8> = Vec::new();
        let mut answered = false;
        let mut started = false;
        let mut buf = [0u8; 4096];
        let deadline = tokio::time::Instant::now() + plan.timeout;
        let mut writer = None;
        loop {
            let n = if started {
                err.read(&mut buf).await.unwrap_or(0)
            } else {
                match tokio::time::timeout_at(deadline, err.read(&mut buf)).await {
                    Ok(r) => r.unwrap_or(0),
                    Err(_) => {
                        let _ = child.kill().await;
                        return Err(Error::failed(format!(
                            "sudo on {} did not start the command within {} s",
                            self.host,
                            plan.timeout.as_secs()
                        )));
                    }
                }
            };
            if n == 0 {
                break;
            }
            pre.extend_from_slice(&buf[..n]);
            if started {
                continue;
            }
            if let Some(i) = find(&pre, marker.as_bytes()) {
                pre.drain(i..i + marker.len());
                started = true;
                if let Some(inp) = input.take() {
                    writer = Some(tokio::spawn(feed(inp, stdin.clone())));
                }
                continue;
            }
            let prompts = count(&pre, plan.prompt.as_bytes());
            if prompts > 1 {
                let _ = child.kill().await;
                return Err(Error::failed(format!(
                    "Incorrect sudo password (become on {})",
                    self.host
                )));
            }
            if prompts == 1 && !answered {
                answered = true;
                if let Some(inp) = input.as_mut() {
                    let _ = inp.write_all(format!("{}\n", pw.expose()).as_bytes()).await;
                }
            }
        }
        drop(input);
        let status = child
            .wait()
            .await
            .map_err(|e| Error::other(format!("local command failed: {e}")))?;
        if let Some(w) = writer {
            let _ = w.await;
        }
        let stdout = stdout_task.await.unwrap_or_default();
        let stderr = String::from_utf8_lossy(&pre).replace(plan.prompt.as_str(), "");
        Ok(ExecOutput {
            rc: status.code().unwrap_or(-1),
            stdout,
            stderr: stderr.into_bytes(),
        })
    }
}

#[async_trait]
impl Connection for LocalConnection {
    fn host(&self) -> &str {
        &self.host
    }

    async fn exec_raw(
        &self,
        line: &str,
        preamble: Option<&Secret>,
        stdin: &Stdin,
    ) -> Result<ExecOutput> {
        if let (Some(pw), Some(plan)) = (preamble, crate::connection::ssh::exec::sudo_plan(line)) {
            return self.exec_sudo(&plan, pw, stdin).await;
        }
        let mut child = tokio::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(line)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| Error::other(format!("cannot run /bin/sh on the controller: {e}")))?;
        let mut input = child.stdin.take().expect("stdin is piped");
        let pre = preamble.map(|p| format!("{}\n", p.expose()));
        let stdin = stdin.clone();
        let writer = tokio::spawn(async move {
            if let Some(p) = pre {
                let _ = input.write_all(p.as_bytes()).await;
            }
            match stdin {
                Stdin::Empty => {}
                Stdin::Bytes(b) => {
                    let _ = input.write_all(&b).await;
                }
                Stdin::File(path) => {
                    if let Ok(mut f) = tokio::fs::File::open(&path).await {
                        let _ = tokio::io::copy(&mut f, &mut input).await;
                    }
                }
            }
            let _ = input.shutdown().await;
        });
        let cap = crate::connection::output_cap();
        // Each stream is read into a shared buffer, so that what was read is there even when
        // the reading stops before the end (see below).
        type Buf = std::sync::Arc<std::sync::Mutex<(Vec<u8>, u64)>>;
        let read = |r: Option<Box<dyn tokio::io::AsyncRead + Send + Unpin>>, buf: Buf| {
            tokio::spawn(async move {
                use tokio::io::AsyncReadExt;
                if let Some(mut r) = r {
                    let mut chunk = vec![0u8; 64 << 10];
                    while let Ok(n) = r.read(&mut chunk).await {
                        if n == 0 {
                            break;
                        }
                        let mut g = buf.lock().unwrap_or_else(|e| e.into_inner());
                        let (v, dropped) = &mut *g;
                        crate::connection::append_capped(v, &chunk[..n], cap, dropped);
                    }
                }
            })
        };
        let (out_buf, err_buf): (Buf, Buf) = Default::default();
        let out_task = read(
            child.stdout.take().map(|o| Box::new(o) as _),
            out_buf.clone(),
        );
        let err_task = read(
            child.stderr.take().map(|o| Box::new(o) as _),
            err_buf.clone(),
        );
        let status = tokio::select! {
            s = child.wait() => s,
            _ = crate::interrupt::wait() => {
                // Ctrl-C: SIGTERM to the command's process group, SIGKILL after a grace period.
                if let Some(pid) = child.id() {
                    // SAFETY: kill has no memory-safety preconditions.
                    unsafe { libc::kill(-(pid as i32), libc::SIGTERM) };
                }
                if tokio::time::timeout(std::time::Duration::from_secs(3), child.wait()).await.is_err() {
                    if let Some(pid) = child.id() {
                        // SAFETY: as above.
                        unsafe { libc::kill(-(pid as i32), libc::SIGKILL) };
                    }
                    let _ = child.wait().await;
                }
                writer.abort();
                return Err(crate::interrupt::error());
            }
        }
        .map_err(|e| Error::other(format!("local command failed: {e}")))?;
        let _ = writer.await;
        // The command ended; a process it left in the background may hold its output open.
        // As Ansible's run_command, stop reading once nothing came for a second.
        let size = || {
            let n = |b: &Buf| b.lock().unwrap_or_else(|e| e.into_inner()).0.len();
            n(&out_buf) + n(&err_buf)
        };
        let (mut last, mut quiet) = (size(), std::time::Duration::ZERO);
        while !(out_task.is_finished() && err_task.is_finished()) {
            let step = std::time::Duration::from_millis(20);
            tokio::time::sleep(step).await;
            let now = size();
            quiet = if now == last {
                quiet + step
            } else {
                Default::default()
            };
            last = now;
            if quiet >= std::time::Duration::from_secs(1) {
                out_task.abort();
                err_task.abort();
                break;
            }
        }
        let take = |b: &Buf| std::mem::take(&mut *b.lock().unwrap_or_else(|e| e.into_inner()));
        let (stdout, d_out) = take(&out_buf);
        let (mut stderr, d_err) = take(&err_buf);
        crate::connection::note_dropped(&mut stderr, (d_out, d_err), cap);
        Ok(ExecOutput {
            rc: status.code().unwrap_or(-1),
            stdout,
            stderr,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::{Cmd, PutOpts};

    #[tokio::test]
    async fn no_log_moves_the_script_to_stdin_and_keeps_the_commands_stdin() {
        let c = LocalConnection::new("localhost");
        let cmd = Cmd {
            script: "printf '%s|' \"$SECRET_X\" \"$(pwd)\"; cat; ps -o args= -p $$".into(),
            stdin: Stdin::Bytes(b"line1\nline2\n".to_vec()),
            env: vec![("SECRET_X".into(), "hunter2-xyz".into())],
            chdir: Some("/tmp".into()),
            ..Default::default()
        };
        let out = crate::connection::no_log_scope(true, c.exec(&cmd))
            .await
            .unwrap();
        let text = out.stdout_str();
        assert!(
            text.starts_with("hunter2-xyz|/tmp|line1\nline2\n"),
            "{text:?}"
        );
        // The shell's own command line holds the reader, not the script or its environment.
        let argv = text.lines().last().unwrap_or_default();
        assert!(!argv.contains("hunter2"), "{argv}");
        assert!(argv.contains("read -r"), "{argv}");
    }

    /// A command that leaves a process in the background holding its output returns about a
    /// second after it ended (as Ansible's run_command), with what it printed.
    #[tokio::test]
    async fn a_background_process_holding_the_output_does_not_hang_the_command() {
        let c = LocalConnection::new("localhost");
        let t = std::time::Instant::now();
        let out = c
            .exec(&Cmd::new("echo before; sleep 20 & echo after"))
            .await
            .unwrap();
        assert!(
            t.elapsed() < std::time::Duration::from_secs(5),
            "{:?}",
            t.elapsed()
        );
        assert_eq!(out.stdout_str(), "before\nafter\n");
        assert_eq!(out.rc, 0);
    }

    #[tokio::test]
    async fn exec_put_get_roundtrip() {
        let c = LocalConnection::new("localhost");
        let out = c
            .exec(&Cmd {
                script: "cat; echo err >&2; exit 3".into(),
                stdin: Stdin::Bytes(b"in".to_vec()),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(out.rc, 3);
        assert_eq!(out.stdout, b"in");
        assert_eq!(out.stderr, b"err\n");
        let dir = std::env::temp_dir().join(format!("prov-local-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let dest = dir.join("f.txt");
        let d = dest.to_str().unwrap();
        c.put(
            &Stdin::Bytes(b"hello".to_vec()),
            d,
            &PutOpts {
                mode: Some("0600".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(c.get(d, None).await.unwrap(), b"hello");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&dest).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let leftovers: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "temp file left behind");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
