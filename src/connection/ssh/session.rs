//! Sessions on a live connection: reconnecting when it dropped, the connect-time check that
//! the server runs commands, one channel per command ([`Connection::exec_raw`]) and probes on
//! the shared probe shell ([`Connection::exec_probe`]).

use super::SshConnection;
use super::exec::{self, RunError, Shell, run, sudo_plan};
use super::transport::{Live, ShellSlot, open};
use crate::connection::{Cmd, Connection, ExecOutput, Secret, Stdin, inner_script, quote, wrap};
use crate::error::{Error, Result};
use async_trait::async_trait;
use russh::Disconnect;
use std::sync::Arc;
use std::time::Duration;

/// A command line as the log shows it: hidden under `no_log`.
fn shown(line: &str) -> &str {
    if crate::connection::no_log_active() {
        "(command hidden: no_log)"
    } else {
        line
    }
}

impl SshConnection {
    /// The endpoint this connection reaches, as `user@host:port`.
    pub fn target(&self) -> String {
        self.plan.target.label()
    }

    /// The current live session, connecting when there is none or it dropped.
    pub(super) async fn session(&self) -> Result<Arc<Live>> {
        let mut g = self.live.lock().await;
        if let Some(l) = g.as_ref()
            && !l.handle.is_closed()
        {
            return Ok(l.clone());
        }
        if g.is_some() {
            (self.log)(format!(
                "connection to {} dropped; reconnecting",
                self.plan.target.label()
            ));
        }
        *g = None;
        let l = Arc::new(
            open(&self.plan, &self.log)
                .await
                .map_err(|e| e.on_host(&self.inventory_host))?,
        );
        *g = Some(l.clone());
        Ok(l)
    }

    /// Opens the probe shell on `permit`'s session slot; `None` (logged) when the server runs
    /// no `/bin/sh` there.
    pub(super) async fn open_shell(
        &self,
        live: &Live,
        permit: tokio::sync::OwnedSemaphorePermit,
    ) -> Option<Box<Shell>> {
        let label = self.plan.target.label();
        let token = format!("prov-{}", crate::connection::random_token());
        match Shell::open(&live.handle, permit, token, self.plan.timeout).await {
            Ok(sh) => {
                (self.log)(format!("opened a probe shell on {label}"));
                Some(Box::new(sh))
            }
            Err(m) => {
                (self.log)(format!(
                    "no probe shell on {label} ({m}); probes use new sessions"
                ));
                None
            }
        }
    }

    /// Makes sure the server runs commands after the login: it opens the probe shell (needed
    /// soon anyway), or else runs `echo`. A server that accepts the login but runs no command
    /// (a `ForceCommand`, a broken `ChrootDirectory`, a `nologin` shell) makes the host
    /// unreachable with what it said, instead of failing every task with no cause.
    pub(super) async fn check_session(&self, live: &Live) -> Result<()> {
        let label = self.plan.target.label();
        if self.max_sessions >= 2
            && let Ok(permit) = self.sem.clone().try_acquire_owned()
        {
            let opened = self.open_shell(live, permit).await;
            let ok = opened.is_some();
            *live.shell.lock().unwrap_or_else(|p| p.into_inner()) = match opened {
                Some(sh) => ShellSlot::Idle(sh),
                None => ShellSlot::Broken,
            };
            if ok {
                return Ok(());
            }
        }
        let token = format!("prov-hello-{}", crate::connection::random_token());
        let hint = "check the account's login shell, and ForceCommand, ChrootDirectory and Match blocks in the server's sshd_config";
        match run(
            &live.handle,
            &format!("echo {token}"),
            None,
            None,
            &Stdin::Empty,
            &|| false,
            "",
        )
        .await
        {
            Ok(out) if String::from_utf8_lossy(&out.stdout).contains(&token) => Ok(()),
            Ok(out) => {
                let said = out.stderr_str();
                let said = said.trim();
                Err(Error::unreachable(format!(
                    "{label} accepted the login but does not run commands (exit status {}{})",
                    out.rc,
                    if said.is_empty() {
                        String::new()
                    } else {
                        format!(": {said}")
                    }
                ))
                .hint(hint))
            }
            Err(RunError::Open(m)) | Err(RunError::Lost(m)) => Err(Error::unreachable(format!(
                "{label} accepted the login but does not run commands: {m}"
            ))
            .hint(hint)),
            Err(RunError::Fatal(e)) => Err(e),
        }
    }

    pub(super) async fn forget(&self, live: &Arc<Live>) {
        let mut g = self.live.lock().await;
        if g.as_ref().is_some_and(|l| Arc::ptr_eq(l, live)) {
            *g = None;
        }
    }
}

#[async_trait]
impl Connection for SshConnection {
    fn host(&self) -> &str {
        &self.inventory_host
    }

    async fn exec_raw(
        &self,
        line: &str,
        preamble: Option<&Secret>,
        stdin: &Stdin,
    ) -> Result<ExecOutput> {
        let _permit = self.sem.acquire().await.map_err(|_| {
            Error::unreachable("the connection is closed").on_host(&self.inventory_host)
        })?;
        let sudo = preamble.and_then(|_| sudo_plan(line)).map(|mut p| {
            p.timeout = self.become_timeout;
            p
        });
        // Every command carries a job mark in its environment, so that Ctrl-C can find and stop
        // its processes (exec::kill_job).
        let job = crate::connection::random_token();
        let run_line = format!(
            "{}={job} {}",
            exec::JOB_VAR,
            sudo.as_ref().map(|s| s.line.as_str()).unwrap_or(line)
        );
        let run_line = run_line.as_str();
        (self.log)(format!(
            "exec on {}: {}",
            self.plan.target.label(),
            shown(line)
        ));
        let mut retried = false;
        loop {
            let live = self.session().await?;
            let free_slot = || live.give_up_shell(&self.log, &self.plan.target.label());
            match run(
                &live.handle,
                run_line,
                preamble,
                sudo.as_ref(),
                stdin,
                &free_slot,
                &job,
            )
            .await
            {
                Ok(out) => return Ok(out),
                Err(RunError::Open(m)) => {
                    self.forget(&live).await;
                    if retried {
                        return Err(Error::unreachable(format!(
                            "cannot run a command on {}: {m}",
                            self.plan.target.label()
                        ))
                        .on_host(&self.inventory_host));
                    }
                    retried = true;
                    (self.log)(format!("cannot open a channel ({m}); reconnecting once"));
                }
                Err(RunError::Lost(m)) => {
                    // Give the transport a moment to record why the connection ended.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    let why = live.gone().unwrap_or(m);
                    self.forget(&live).await;
                    return Err(Error::unreachable(format!(
                        "connection to {} lost while running a command: {why}",
                        self.plan.target.label()
                    ))
                    .on_host(&self.inventory_host));
                }
                Err(RunError::Fatal(e)) => return Err(e.on_host(&self.inventory_host)),
            }
        }
    }

    async fn exec_probe(&self, cmd: &Cmd) -> Result<ExecOutput> {
        let line = wrap(cmd).line;
        let line = line.as_str();
        if self.max_sessions < 2 {
            return self.exec_raw(line, None, &Stdin::Empty).await;
        }
        let live = self.session().await?;
        let taken = {
            let mut slot = live.shell.lock().unwrap_or_else(|p| p.into_inner());
            match std::mem::replace(&mut *slot, ShellSlot::Busy) {
                ShellSlot::Idle(sh) => Some(Some(sh)),
                ShellSlot::Unopened => Some(None),
                other => {
                    *slot = other;
                    None
                }
            }
        };
        let Some(taken) = taken else {
            return self.exec_raw(line, None, &Stdin::Empty).await;
        };
        // Leaves the slot broken unless told otherwise (also when this future is dropped
        // midway: the shell's state is then unknown, and dropping it closes its channel).
        struct Restore<'a>(&'a Live, Option<ShellSlot>);
        impl Drop for Restore<'_> {
            fn drop(&mut self) {
                let mut slot = self.0.shell.lock().unwrap_or_else(|p| p.into_inner());
                *slot = self.1.take().unwrap_or(ShellSlot::Broken);
            }
        }
        let mut restore = Restore(&live, None);
        let mut shell = match taken {
            Some(sh) => sh,
            None => {
                let Ok(permit) = self.sem.clone().try_acquire_owned() else {
                    // Every session slot is in use: do not hold one for a shell now.
                    restore.1 = Some(ShellSlot::Unopened);
                    drop(restore);
                    return self.exec_raw(line, None, &Stdin::Empty).await;
                };
                match self.open_shell(&live, permit).await {
                    Some(sh) => sh,
                    None => {
                        drop(restore);
                        return self.exec_raw(line, None, &Stdin::Empty).await;
                    }
                }
            }
        };
        (self.log)(format!(
            "{} on {} (shell): {}",
            if cmd.probe { "probe" } else { "exec" },
            self.plan.target.label(),
            shown(line)
        ));
        // Without become, a probe runs in a subshell of the shell (no new `sh` process). A
        // user command runs as on a session (`sh -c`, or through become), in a subshell with
        // its job mark, so that Ctrl-C can find its processes.
        let job = crate::connection::random_token();
        // The subshell first closes the `stat` helper's descriptors (see `statd`).
        let close = crate::connection::statd::CLOSE_FOR_USER;
        let command = match &cmd.become_ {
            // The shell is the `sh` that `sh -c` would start: the script runs in the subshell.
            None if !cmd.probe && crate::connection::subshell_is_sh_c(&cmd.script) => format!(
                "( {close}{v}={job}; export {v}; eval {} )",
                quote(&inner_script(cmd)),
                v = exec::JOB_VAR
            ),
            // (`exec` unless the line starts with sudo's `cd`, a builtin)
            _ if !cmd.probe => format!(
                "( {close}{v}={job}; export {v}; {}{line} )",
                if line.starts_with("cd ") { "" } else { "exec " },
                v = exec::JOB_VAR
            ),
            None if cmd.inline && cmd.chdir.is_none() && cmd.env.is_empty() => {
                format!("{{ eval {}; }}", quote(&cmd.script))
            }
            None => format!("( eval {} )", quote(&inner_script(cmd))),
            Some(_) => line.to_string(),
        };
        let user = (!cmd.probe).then_some((&live.handle, job.as_str()));
        match shell.run(&command, user).await {
            Ok(out) => {
                restore.1 = Some(ShellSlot::Idle(shell));
                drop(restore);
                Ok(out)
            }
            Err(e) if cmd.probe || !e.sent => {
                // A probe is read-only, and a command that was not sent has not run: run it
                // again on a session of its own (which reconnects if the connection is gone).
                (self.log)(format!(
                    "the kept shell on {} failed ({}); using a new session",
                    self.plan.target.label(),
                    e.msg
                ));
                drop(shell);
                drop(restore);
                self.exec_raw(line, None, &Stdin::Empty).await
            }
            Err(e) => {
                // A user command may have run, in part: never run it twice.
                drop(shell);
                drop(restore);
                tokio::time::sleep(Duration::from_millis(50)).await;
                match live.gone() {
                    Some(why) => {
                        self.forget(&live).await;
                        Err(Error::unreachable(format!(
                            "connection to {} lost while running a command: {why}",
                            self.plan.target.label()
                        ))
                        .on_host(&self.inventory_host))
                    }
                    // The connection is fine: the shell itself ended (killed by the command).
                    None => Err(Error::failed(format!(
                        "the shell running the command on {} ended before the command did ({})",
                        self.plan.target.label(),
                        e.msg
                    ))
                    .on_host(&self.inventory_host)),
                }
            }
        }
    }

    async fn close(&self) -> Result<()> {
        if let Some(l) = self.live.lock().await.take() {
            let _ = l
                .handle
                .disconnect(Disconnect::ByApplication, "", "en")
                .await;
        }
        Ok(())
    }
}
