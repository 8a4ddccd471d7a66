//! Running one command on a session channel: stdin streaming, stdout/stderr collection, exit
//! status or signal, and the sudo password handshake (see the module documentation of
//! [`super`]).

use super::host_key::Client;
use crate::connection::{ExecOutput, Secret, Stdin};
use crate::error::Error;
use russh::ChannelMsg;
use russh::client::{self, Handle};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncReadExt;

/// Why one command run failed.
pub(super) enum RunError {
    /// The channel could not be opened: the connection is unusable; nothing ran.
    Open(String),
    /// The connection was lost while the command ran.
    Lost(String),
    /// Any other failure (already an [`Error`]).
    Fatal(Error),
}

/// How to feed sudo's password: only after its prompt shows on stderr, and stdin only after
/// the marker printed by the command (sudo authenticated, with or without a password).
#[derive(Debug, Clone)]
pub(crate) struct SudoPlan {
    pub(crate) line: String,
    pub(crate) prompt: String,
    pub(crate) marker: String,
    /// How long sudo may stay silent before the command starts.
    pub(crate) timeout: Duration,
}

/// Recognizes the `sudo -S -p PROMPT ... /bin/sh -c SCRIPT` line built by
/// [`crate::connection::wrap`] and makes the script print a marker on stderr first.
pub(crate) fn sudo_plan(line: &str) -> Option<SudoPlan> {
    // `cd DIR && sudo ...` (sudo_chdir): the prefix is kept as it is.
    let (prefix, line) = match line.split_once(" && ") {
        Some((cd, rest)) if cd.starts_with("cd ") => (format!("{cd} && "), rest),
        _ => (String::new(), line),
    };
    let mut words = shlex::split(line)?;
    // sudo, or the program given as `become_exe`: recognized by our prompt.
    if !words.iter().any(|w| w == "-S") {
        return None;
    }
    let pi = words.iter().position(|w| w == "-p")?;
    let prompt = words.get(pi + 1)?.clone();
    if !prompt.starts_with(crate::connection::SUDO_PROMPT_PREFIX) {
        return None;
    }
    let n = words.len();
    if n < 4 || words[n - 3] != "/bin/sh" || words[n - 2] != "-c" {
        return None;
    }
    let marker = format!("{}-become-ok", prompt.trim_end_matches(']'));
    let script = std::mem::take(&mut words[n - 1]);
    words[n - 1] = format!(
        "printf '%s\\n' {} >&2; {script}",
        crate::connection::quote(&marker)
    );
    let line = prefix
        + &words
            .iter()
            .map(|w| crate::connection::quote(w))
            .collect::<Vec<_>>()
            .join(" ");
    Some(SudoPlan {
        line,
        prompt,
        marker,
        timeout: Duration::from_secs(60),
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SudoState {
    /// Waiting to learn whether sudo asks for a password.
    Waiting,
    /// sudo prompted: send the password.
    Prompted,
    /// The command runs: send stdin.
    Running,
    /// Give up writing.
    Stop,
}

pub(crate) fn count(hay: &[u8], needle: &[u8]) -> usize {
    if needle.is_empty() || hay.len() < needle.len() {
        return 0;
    }
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}

pub(crate) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Runs one command on a new channel of `h`.
pub(super) async fn run(
    h: &Handle<Client>,
    line: &str,
    preamble: Option<&Secret>,
    sudo: Option<&SudoPlan>,
    stdin: &Stdin,
    free_slot: &(dyn Fn() -> bool + Send + Sync),
    job: &str,
) -> Result<ExecOutput, RunError> {
    if h.is_closed() {
        return Err(RunError::Open("the connection is closed".into()));
    }
    // Open a stdin file first: a missing file fails before anything runs remotely.
    let mut stdin_file = match stdin {
        Stdin::File(p) => Some(
            tokio::fs::File::open(p)
                .await
                .map_err(|e| RunError::Fatal(Error::io(p, e)))?,
        ),
        _ => None,
    };
    // A refused channel on a live connection means the server's session limit is reached
    // (`MaxSessions`, or commands that outlived a cancelled run): give back the session our
    // probe shell holds, if any, then wait for a slot rather than reconnect.
    let mut waited = Duration::ZERO;
    let channel = loop {
        match h.channel_open_session().await {
            Ok(c) => break c,
            Err(russh::Error::ChannelOpenFailure(reason)) if !h.is_closed() => {
                if free_slot() {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
                if waited >= Duration::from_secs(30) {
                    return Err(RunError::Fatal(
                        Error::unreachable(format!(
                            "the server keeps refusing new session channels ({reason:?})"
                        ))
                        .hint("lower the number of parallel commands per host, or raise MaxSessions in sshd_config"),
                    ));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                waited += Duration::from_millis(100);
            }
            Err(e) => return Err(RunError::Open(e.to_string())),
        }
    };
    let (mut rx, tx) = channel.split();
    let tx = Arc::new(tx);
    // Closes the channel if this future is dropped before the command finished.
    let mut guard = CloseGuard {
        tx: Some(tx.clone()),
    };
    if let Err(e) = tx.exec(true, line.as_bytes().to_vec()).await {
        guard.disarm();
        return Err(RunError::Lost(format!("cannot send the command: {e}")));
    }
    let (state_tx, mut state_rx) = tokio::sync::watch::channel(if sudo.is_some() {
        SudoState::Waiting
    } else {
        SudoState::Running
    });

    let writer = async {
        if sudo.is_some() {
            loop {
                let s = *state_rx.borrow_and_update();
                match s {
                    SudoState::Waiting => {}
                    SudoState::Prompted => {
                        if let Some(p) = preamble {
                            let mut b = p.expose().as_bytes().to_vec();
                            b.push(b'\n');
                            tx.data_bytes(b).await?;
                        }
                        // Wait for the marker (or a failure) before sending stdin.
                        loop {
                            if state_rx.changed().await.is_err() {
                                return Ok(());
                            }
                            match *state_rx.borrow_and_update() {
                                SudoState::Running => break,
                                SudoState::Stop => return Ok(()),
                                _ => {}
                            }
                        }
                        break;
                    }
                    SudoState::Running => break,
                    SudoState::Stop => return Ok(()),
                }
                if state_rx.changed().await.is_err() {
                    return Ok(());
                }
            }
        } else if let Some(p) = preamble {
            let mut b = p.expose().as_bytes().to_vec();
            b.push(b'\n');
            tx.data_bytes(b).await?;
        }
        match stdin {
            Stdin::Empty => {}
            Stdin::Bytes(b) => {
                if !b.is_empty() {
                    tx.data_bytes(b.clone()).await?;
                }
            }
            Stdin::File(_) => {
                if let Some(f) = stdin_file.as_mut() {
                    // At most UPLOADS files stream at once, in chunks of 64 KiB: what a stream
                    // holds is its chunk plus the host's window in flight, so a 10 MB copy to
                    // a thousand hosts does not hold gigabytes (3.4 GB at 1,000 hosts with 1 MiB
                    // chunks and no limit), and the CPUs encrypt no faster with more at once.
                    let _slot = UPLOADS.acquire().await;
                    loop {
                        let mut buf = vec![0u8; 64 << 10];
                        let n = f.read(&mut buf).await.map_err(WriteError::Local)?;
                        if n == 0 {
                            break;
                        }
                        buf.truncate(n);
                        tx.data_bytes(buf).await?;
                    }
                }
            }
        }
        tx.eof().await?;
        Ok::<(), WriteError>(())
    };
    tokio::pin!(writer);
    let mut writer_done = false;
    let mut writer_err: Option<String> = None;

    let mut out = ExecOutput::default();
    let mut rc: Option<i32> = None;
    let mut signal: Option<String> = None;
    let mut pre: Vec<u8> = Vec::new();
    let mut sudo_pending = sudo.is_some();
    let mut prompts_answered = 0usize;
    let mut closed = false;
    let mut wrong_password = false;
    let mut sudo_stuck = false;
    let sudo_wait = sudo.map(|p| p.timeout).unwrap_or(Duration::from_secs(60));
    let sudo_deadline = tokio::time::sleep(sudo_wait);
    tokio::pin!(sudo_deadline);
    // Ctrl-C: SIGTERM to the command's process group (sshd's `signal` request), EOF, then the
    // channel is closed if the command has not ended within the grace period.
    let mut interrupted = false;
    let cap = crate::connection::output_cap();
    let mut dropped = (0u64, 0u64);
    let stop = crate::interrupt::wait();
    tokio::pin!(stop);
    let grace = tokio::time::sleep(Duration::from_secs(86400));
    tokio::pin!(grace);
    loop {
        tokio::select! {
            _ = &mut stop, if !interrupted => {
                interrupted = true;
                writer_done = true; // stop feeding stdin
                let _ = tx.signal(russh::Sig::TERM).await;
                let _ = tx.eof().await;
                // sshd ignores signal requests on root logins (no privilege separation there):
                // also TERM the job's processes from a session of its own.
                kill_job(h, job, None).await;
                grace.as_mut().reset(tokio::time::Instant::now() + Duration::from_secs(3));
            }
            _ = &mut grace, if interrupted => {
                let _ = tx.close().await;
                guard.disarm();
                break;
            }
            _ = &mut sudo_deadline, if sudo_pending => {
                sudo_stuck = true;
                break;
            }
            r = &mut writer, if !writer_done => {
                writer_done = true;
                match r {
                    Ok(()) => {}
                    Err(WriteError::Remote(e)) => writer_err = Some(e.to_string()),
                    Err(WriteError::Local(e)) => {
                        // The local stdin file failed midway: stop the command.
                        let _ = tx.close().await;
                        guard.disarm();
                        let path = match stdin {
                            Stdin::File(p) => p.clone(),
                            _ => PathBuf::from("stdin"),
                        };
                        return Err(RunError::Fatal(Error::io(path, e)));
                    }
                }
            }
            msg = rx.wait() => {
                let Some(msg) = msg else { break };
                match msg {
                    ChannelMsg::Data { data } => {
                        crate::connection::append_capped(&mut out.stdout, &data, cap, &mut dropped.0)
                    }
                    ChannelMsg::ExtendedData { data, ext } => {
                        if ext != 1 {
                            continue;
                        }
                        if !sudo_pending {
                            crate::connection::append_capped(&mut out.stderr, &data, cap, &mut dropped.1);
                            continue;
                        }
                        let Some(sp) = sudo else { continue };
                        pre.extend_from_slice(&data);
                        let mk = format!("{}\n", sp.marker);
                        if let Some(pos) = find(&pre, mk.as_bytes()) {
                            sudo_pending = false;
                            out.stderr.extend_from_slice(&pre[pos + mk.len()..]);
                            pre.clear();
                            let _ = state_tx.send(SudoState::Running);
                        } else {
                            // sudo's own prompt also counts (sudoers `passprompt_override`).
                            let n = count(&pre, sp.prompt.as_bytes())
                                + count(&pre, b"[sudo] password for ");
                            if n > 1 || (n == 1 && prompts_answered == 1 && find(&pre, b"try again").is_some()) {
                                wrong_password = true;
                                let _ = state_tx.send(SudoState::Stop);
                                break;
                            }
                            if n == 1 && prompts_answered == 0 {
                                prompts_answered = 1;
                                if preamble.is_none() {
                                    wrong_password = true;
                                    break;
                                }
                                let _ = state_tx.send(SudoState::Prompted);
                                sudo_deadline
                                    .as_mut()
                                    .reset(tokio::time::Instant::now() + sudo_wait);
                            }
                        }
                    }
                    ChannelMsg::ExitStatus { exit_status } => {
                        rc = Some(i32::try_from(exit_status).unwrap_or(-1));
                    }
                    ChannelMsg::ExitSignal { signal_name, core_dumped, error_message, .. } => {
                        let name = match signal_name {
                            russh::Sig::Custom(n) => n,
                            other => format!("{other:?}"),
                        };
                        signal = Some(format!(
                            "killed by signal {name}{}{}",
                            if core_dumped { " (core dumped)" } else { "" },
                            if error_message.is_empty() { String::new() } else { format!(": {error_message}") }
                        ));
                        rc = Some(-1);
                    }
                    ChannelMsg::Failure
                        if rc.is_none()
                            && out.stdout.is_empty()
                            && out.stderr.is_empty()
                            && pre.is_empty() =>
                    {
                        let _ = tx.close().await;
                        guard.disarm();
                        return Err(RunError::Fatal(Error::unreachable(
                            "the server refused to run the command (exec request failed)",
                        )));
                    }
                    ChannelMsg::Close => {
                        closed = true;
                        guard.disarm();
                        break;
                    }
                    _ => {}
                }
            }
        }
    }
    if interrupted {
        let _ = state_tx.send(SudoState::Stop);
        if !closed {
            let _ = tx.close().await;
            guard.disarm();
        }
        return Err(RunError::Fatal(crate::interrupt::error()));
    }
    if wrong_password || sudo_stuck {
        let _ = state_tx.send(SudoState::Stop);
        // EOF makes sudo give up at once; then the server closes the channel.
        let _ = tx.eof().await;
        if !drain(&mut rx, Duration::from_secs(3)).await {
            let _ = tx.close().await;
        }
        guard.disarm();
        if sudo_stuck {
            let mut said = String::from_utf8_lossy(&pre).into_owned();
            if let Some(sp) = sudo {
                said = said.replace(sp.prompt.as_str(), "");
            }
            let said = said.trim();
            return Err(RunError::Fatal(Error::failed(format!(
                "sudo neither asked for the password nor started the command within {}s{}",
                sudo_wait.as_secs(),
                if said.is_empty() {
                    String::new()
                } else {
                    format!("; it said: {said}")
                }
            ))));
        }
        return Err(RunError::Fatal(Error::failed(
            "Incorrect sudo password: sudo asked for the password again (check ansible_become_password / --ask-become-pass)",
        )));
    }
    if !closed {
        if rc.is_none() || h.is_closed() {
            let _ = state_tx.send(SudoState::Stop);
            let why = writer_err
                .unwrap_or_else(|| "the server went away before the command finished".into());
            guard.disarm();
            return Err(RunError::Lost(why));
        }
        let _ = tx.close().await;
        guard.disarm();
    }
    if sudo_pending {
        // sudo failed before running the command: keep its message, minus the prompt.
        let mut s = String::from_utf8_lossy(&pre).into_owned();
        if let Some(sp) = sudo {
            s = s.replace(sp.prompt.as_str(), "");
        }
        let mut st = s.into_bytes();
        st.extend_from_slice(&out.stderr);
        out.stderr = st;
    }
    crate::connection::note_dropped(&mut out.stderr, dropped, cap);
    if let Some(sig) = signal {
        if !out.stderr.is_empty() && !out.stderr.ends_with(b"\n") {
            out.stderr.push(b'\n');
        }
        out.stderr.extend_from_slice(sig.as_bytes());
        out.stderr.push(b'\n');
    }
    out.rc = match rc {
        Some(r) => r,
        None => {
            out.stderr
                .extend_from_slice(b"the server sent no exit status\n");
            -1
        }
    };
    Ok(out)
}

/// The environment variable that marks the processes of one command (see [`kill_job`]).
pub(crate) const JOB_VAR: &str = "PROV_JOB";

/// Files streamed to hosts at the same time, in the whole run (see `run`'s stdin writer).
static UPLOADS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(64);

/// Sends SIGTERM, from a new session, to every process of the host that carries
/// `PROV_JOB=<job>` in its environment (the command line starts with that assignment, so the
/// command and its children have it; sudo, which resets the environment of its child, has it
/// and relays the signal), then SIGKILL to any still there a second later. Waits at most 8 s.
///
/// With `parent` (the kept shell's process id), its children are signalled too: a command run
/// there with `eval` runs in a subshell, a fork whose environment file does not show the
/// variable it exported after it started.
pub(crate) async fn kill_job(h: &Handle<Client>, job: &str, parent: Option<u32>) {
    if job.is_empty() || h.is_closed() {
        return;
    }
    let v = crate::connection::quote(&format!("{JOB_VAR}={job}"));
    let children = match parent {
        Some(k) => format!(
            " p=\"$p $(cat /proc/{k}/task/{k}/children 2>/dev/null || pgrep -P {k} 2>/dev/null)\";"
        ),
        None => String::new(),
    };
    let pids = format!(
        "p=; for f in $(grep -lsF {v} /proc/[0-9]*/environ); do q=${{f#/proc/}}; p=\"$p ${{q%/environ}}\"; done;{children} p=$(echo $p)"
    );
    let script = format!(
        "{pids}; [ -z \"$p\" ] || kill -TERM $p 2>/dev/null; [ -z \"$p\" ] || sleep 1; {pids}; [ -z \"$p\" ] || kill -KILL $p 2>/dev/null; true"
    );
    let go = async {
        let Ok(ch) = h.channel_open_session().await else {
            return;
        };
        if ch.exec(true, script.into_bytes()).await.is_err() {
            return;
        }
        let mut ch = ch;
        while let Some(m) = ch.wait().await {
            if matches!(m, ChannelMsg::Close | ChannelMsg::ExitStatus { .. }) {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(8), go).await;
}

/// Why feeding a command's stdin stopped.
enum WriteError {
    /// The channel or connection failed (the reader sees the consequences).
    Remote(russh::Error),
    /// The local stdin file could not be read.
    Local(std::io::Error),
}

impl From<russh::Error> for WriteError {
    fn from(e: russh::Error) -> Self {
        WriteError::Remote(e)
    }
}

/// Sends EOF and close for a channel whose command future was dropped midway.
struct CloseGuard {
    tx: Option<Arc<russh::ChannelWriteHalf<client::Msg>>>,
}

impl CloseGuard {
    fn disarm(&mut self) {
        self.tx = None;
    }
}

impl Drop for CloseGuard {
    fn drop(&mut self) {
        if let Some(tx) = self.tx.take()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            rt.spawn(async move {
                let _ = tx.eof().await;
                let _ = tx.close().await;
            });
        }
    }
}

/// Reads until the server closes the channel (russh answers the close, so the session slot is
/// free again); false when that did not happen within `limit`.
async fn drain(rx: &mut russh::ChannelReadHalf, limit: Duration) -> bool {
    tokio::time::timeout(limit, async {
        while let Some(m) = rx.wait().await {
            if matches!(m, ChannelMsg::Close) {
                break;
            }
        }
    })
    .await
    .is_ok()
}

/// A `/bin/sh` kept running on one session channel of a connection, that runs prov's own
/// read-only probes ([`crate::connection::Cmd::probe`]) one after another: each costs one
/// round trip and one `sh` process on the host, with no new session and no login shell.
///
/// Each probe is written to the shell's stdin as one line, run with stdin from `/dev/null`,
/// and followed by a marker (a random token) on stdout with its exit status and on stderr, so
/// the controller knows where its output ends. Dropping a `Shell` closes its channel.
pub(super) struct Shell {
    rx: russh::ChannelReadHalf,
    tx: Arc<russh::ChannelWriteHalf<client::Msg>>,
    token: String,
    /// The shell's process id on the host (its children are a command's subshells).
    pid: Option<u32>,
    /// The session slot the shell occupies for its lifetime.
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl Drop for Shell {
    fn drop(&mut self) {
        let tx = self.tx.clone();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let _ = tx.eof().await;
                let _ = tx.close().await;
            });
        }
    }
}

impl Shell {
    /// Opens a channel running `/bin/sh` and waits (at most `limit`) until it answers, so a
    /// server that runs something else (a forced command, a restricted shell) is detected.
    pub(super) async fn open(
        h: &Handle<Client>,
        permit: tokio::sync::OwnedSemaphorePermit,
        token: String,
        limit: Duration,
    ) -> Result<Shell, String> {
        let channel = h.channel_open_session().await.map_err(|e| e.to_string())?;
        let (rx, tx) = channel.split();
        let mut sh = Shell {
            rx,
            tx: Arc::new(tx),
            token,
            pid: None,
            _permit: permit,
        };
        sh.tx
            .exec(true, b"exec /bin/sh".to_vec())
            .await
            .map_err(|e| e.to_string())?;
        // The `stat` helper's starting function is defined now, run on the first inspection.
        let hello = if crate::connection::statd::enabled() {
            format!("{}echo $$", crate::connection::statd::define())
        } else {
            "echo $$".to_string()
        };
        match tokio::time::timeout(limit, sh.run(&hello, None)).await {
            Ok(Ok(out)) if out.rc == 0 => {
                sh.pid = out.stdout_str().trim().parse().ok();
                Ok(sh)
            }
            Ok(Ok(out)) => Err(format!("the shell answered with status {}", out.rc)),
            Ok(Err(e)) => Err(e.msg),
            Err(_) => Err("the shell did not answer".into()),
        }
    }

    /// Runs one command line; an error means the shell is unusable (drop it).
    ///
    /// Output beyond the user-command cap in force ([`crate::connection::output_cap`]) is
    /// dropped as a session's is (the end markers are still found). With `job` (a user
    /// command carrying `PROV_JOB=<job>`), Ctrl-C stops it as on a session: its processes get
    /// SIGTERM from a new session ([`kill_job`]), and a shell still busy 3 s later is given up.
    pub(super) async fn run(
        &mut self,
        line: &str,
        job: Option<(&Handle<Client>, &str)>,
    ) -> Result<ExecOutput, ShellError> {
        let t = &self.token;
        let script =
            format!("{line} </dev/null; printf '\\n{t}:%d\\n' \"$?\"; printf '\\n{t}\\n' >&2\n");
        self.tx
            .data_bytes(script.into_bytes())
            .await
            .map_err(|e| ShellError {
                sent: false,
                msg: format!("cannot send the command: {e}"),
            })?;
        let broken = |msg: String| ShellError { sent: true, msg };
        let out_mark = format!("\n{t}:");
        let err_mark = format!("\n{t}\n");
        let cap = crate::connection::output_cap();
        // Past the cap, the middle is dropped and the last bytes kept: the markers are there.
        const TAIL: usize = 4096;
        let trim = |buf: &mut Vec<u8>, dropped: &mut u64| {
            if let Some(c) = cap
                && buf.len() > c + 2 * TAIL
            {
                let cut = buf.len() - TAIL;
                *dropped += (cut - c) as u64;
                buf.drain(c..cut);
            }
        };
        let mut dropped = (0u64, 0u64);
        let mut out = ExecOutput::default();
        let mut rc: Option<i32> = None;
        let mut err_done = false;
        let stop = crate::interrupt::wait();
        tokio::pin!(stop);
        let grace = tokio::time::sleep(Duration::from_secs(86400));
        tokio::pin!(grace);
        let mut interrupted = false;
        while rc.is_none() || !err_done {
            let msg = tokio::select! {
                _ = &mut stop, if job.is_some() && !interrupted => {
                    interrupted = true;
                    if let Some((h, j)) = job {
                        kill_job(h, j, self.pid).await;
                    }
                    grace.as_mut().reset(tokio::time::Instant::now() + Duration::from_secs(3));
                    continue;
                }
                _ = &mut grace, if interrupted => {
                    return Err(broken("interrupted".into()));
                }
                m = self.rx.wait() => m,
            };
            match msg {
                Some(ChannelMsg::Data { data }) => {
                    out.stdout.extend_from_slice(&data);
                    if rc.is_none() && out.stdout.ends_with(b"\n") {
                        rc = take_status(&mut out.stdout, out_mark.as_bytes());
                    }
                    if rc.is_none() {
                        trim(&mut out.stdout, &mut dropped.0);
                    }
                }
                Some(ChannelMsg::ExtendedData { data, ext: 1 }) => {
                    out.stderr.extend_from_slice(&data);
                    if !err_done && out.stderr.ends_with(err_mark.as_bytes()) {
                        let n = out.stderr.len() - err_mark.len();
                        out.stderr.truncate(n);
                        err_done = true;
                    } else if !err_done {
                        trim(&mut out.stderr, &mut dropped.1);
                    }
                }
                Some(ChannelMsg::Eof | ChannelMsg::Close) | None => {
                    return Err(broken("the shell ended".into()));
                }
                Some(ChannelMsg::ExitStatus { exit_status }) => {
                    return Err(broken(format!(
                        "the shell exited with status {exit_status}"
                    )));
                }
                Some(_) => {}
            }
        }
        out.rc = rc.unwrap_or(-1);
        if let Some(c) = cap {
            for (buf, n) in [
                (&mut out.stdout, &mut dropped.0),
                (&mut out.stderr, &mut dropped.1),
            ] {
                if buf.len() > c {
                    *n += (buf.len() - c) as u64;
                    buf.truncate(c);
                }
            }
        }
        crate::connection::note_dropped(&mut out.stderr, dropped, cap);
        Ok(out)
    }
}

/// Why the kept shell could not run a command; it is unusable afterwards.
pub(super) struct ShellError {
    /// Whether the command reached the shell (it may have run, in part or whole).
    pub sent: bool,
    /// What happened.
    pub msg: String,
}

/// When `buf` ends with `<mark><digits>\n`, removes that and returns the number.
fn take_status(buf: &mut Vec<u8>, mark: &[u8]) -> Option<i32> {
    let body = &buf[..buf.len() - 1];
    // The mark ends the output: only the last bytes are searched (a status has at most 11
    // characters), so a large output is not scanned again for each piece that arrives.
    let from = body.len().saturating_sub(mark.len() + 11);
    let pos = from + body[from..].windows(mark.len()).rposition(|w| w == mark)?;
    let digits = std::str::from_utf8(&body[pos + mark.len()..]).ok()?;
    let rc = digits.parse::<i32>().ok()?;
    buf.truncate(pos);
    Some(rc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::{Become, BecomeMethod, Cmd, wrap};

    #[test]
    fn shell_status_marker() {
        let mut b = b"out\nno newline\nTOK:3\n".to_vec();
        assert_eq!(take_status(&mut b, b"\nTOK:"), Some(3));
        assert_eq!(b, b"out\nno newline");
        let mut b = b"\nTOK:0\n".to_vec();
        assert_eq!(take_status(&mut b, b"\nTOK:"), Some(0));
        assert!(b.is_empty());
        let mut b = b"partial\nTOK:1".to_vec();
        b.push(b'x');
        b.push(b'\n');
        assert_eq!(take_status(&mut b, b"\nTOK:"), None);
    }

    #[test]
    fn sudo_line_gets_a_marker() {
        let c = Cmd {
            script: "cat > /x".into(),
            become_: Some(Become {
                method: BecomeMethod::Sudo,
                user: "root".into(),
                password: Some(Secret::new("pw")),
                flags: None,
                exe: None,
                chdir: None,
            }),
            ..Default::default()
        };
        let w = wrap(&c);
        let p = sudo_plan(&w.line).unwrap();
        assert_eq!(Some(p.prompt.clone()), w.prompt);
        let words = shlex::split(&p.line).unwrap();
        assert!(words.last().unwrap().starts_with("printf '%s\\n' "));
        assert!(words.last().unwrap().ends_with("cat > /x"));
        assert!(!p.line.contains("pw"));
        assert!(sudo_plan("/bin/sh -c true").is_none());
    }
}
