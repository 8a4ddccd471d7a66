//! Answers typed at the terminal: `vars_prompt`, `--ask-become-pass`, the `pause` module and
//! SSH key passphrases. The one way prov reads without echo is `rpassword`, here.

use std::io::{BufRead, IsTerminal, Write};

/// Shows `prompt` and reads one line (without its line end).
///
/// When stdin is a terminal and `hidden` is set, what is typed is not echoed: `rpassword` turns
/// the terminal's echo off while it reads (prompt and input on `/dev/tty`). Otherwise the prompt
/// goes to stderr and a line is read from stdin as it is (echoed by a terminal; a piped answer
/// works too). `Ok(None)` at the end of the input (nothing left to read, or Ctrl-D).
pub fn read_line(prompt: &str, hidden: bool) -> std::io::Result<Option<String>> {
    let stdin = std::io::stdin();
    if hidden && stdin.is_terminal() {
        return read_hidden(prompt);
    }
    {
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(prompt.as_bytes());
        let _ = err.flush();
    }
    let mut line = String::new();
    if stdin.lock().read_line(&mut line)? == 0 {
        return Ok(None);
    }
    Ok(Some(line.trim_end_matches(['\n', '\r']).to_string()))
}

/// Shows `prompt` on the controlling terminal (`/dev/tty`) and reads one line there with echo
/// off, whatever stdin is (`rpassword`). `Ok(None)` at the end of the input (Ctrl-D); an error
/// when there is no terminal.
pub fn read_hidden(prompt: &str) -> std::io::Result<Option<String>> {
    match rpassword::prompt_password(prompt) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
        Err(e) => Err(e),
    }
}

/// How [`prompt_until`] ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Prompted {
    /// A completing key was pressed; what was typed before it.
    Completed(Vec<u8>),
    /// The time ran out; what was typed meanwhile.
    TimedOut(Vec<u8>),
    /// An interrupting key (Ctrl+C by default) was pressed.
    Interrupted,
    /// stdin is not a terminal, or prov runs in the terminal's background: nobody can answer.
    NonInteractive,
}

/// Keys that end a [`prompt_until`]: `None` is Enter (CR or LF) to complete and the terminal's
/// interrupt character (Ctrl+C) to interrupt; a list matches case-insensitively.
#[derive(Debug, Clone, Copy, Default)]
pub struct PromptKeys<'a> {
    /// Keys that complete the prompt (`Some(&[])`: none, only the time ends it).
    pub complete: Option<&'a [u8]>,
    /// Keys that interrupt it.
    pub interrupt: Option<&'a [u8]>,
}

/// Puts the terminal back as it was when dropped.
struct Restore(libc::termios);

impl Drop for Restore {
    fn drop(&mut self) {
        // SAFETY: fd 0 is a terminal (checked by the caller); the settings were read from it.
        unsafe { libc::tcsetattr(0, libc::TCSADRAIN, &self.0) };
    }
}

/// Returns to the line's start and clears it (as Ansible's prompt does on every edit).
fn clear_line(out: &mut impl Write) {
    let _ = out.write_all(b"\r\x1b[K");
}

/// Shows `msg` on stderr and reads keys from the terminal one at a time, in raw mode (so
/// Ctrl+C is a key, not a signal), until a completing or interrupting key or until `seconds`
/// pass. Typed keys are echoed only with `echo`; the erase key removes the last one. This is
/// the interaction of Ansible's `pause` (prompts, `ctrl+C then C/A`), which scripts drive.
pub fn prompt_until(
    msg: &str,
    echo: bool,
    seconds: Option<u64>,
    keys: PromptKeys<'_>,
) -> std::io::Result<Prompted> {
    use std::time::{Duration, Instant};
    // SAFETY: isatty/getpgrp/tcgetpgrp only read process and terminal state.
    let interactive = unsafe { libc::isatty(0) == 1 && libc::getpgrp() == libc::tcgetpgrp(0) };
    if !interactive {
        return Ok(Prompted::NonInteractive);
    }
    // On stderr, so a run's stdout (`--output json`) stays clean; a terminal shows both.
    let mut out = std::io::stderr().lock();
    writeln!(out, "{msg}")?;
    out.flush()?;
    // SAFETY: a zeroed termios is a valid out-parameter for tcgetattr on a terminal fd.
    let saved = unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(0, &mut t) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        t
    };
    let _restore = Restore(saved);
    let mut raw = saved;
    // SAFETY: raw is a valid termios copied from the terminal.
    unsafe {
        libc::cfmakeraw(&mut raw);
        if echo {
            raw.c_lflag |= libc::ECHO;
        }
        libc::tcsetattr(0, libc::TCSANOW, &raw);
        libc::tcflush(0, libc::TCIFLUSH);
    }
    let intr = saved.c_cc[libc::VINTR];
    let erase = [saved.c_cc[libc::VERASE], 0x7f, 0x08];
    let deadline = seconds.map(|s| Instant::now() + Duration::from_secs(s));
    let mut typed = Vec::new();
    loop {
        let wait = match deadline {
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Ok(Prompted::TimedOut(typed));
                }
                left.as_millis().min(i32::MAX as u128) as i32
            }
            None => -1,
        };
        let mut pfd = libc::pollfd {
            fd: 0,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, wait) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            continue;
        }
        let mut b = [0u8; 1];
        // SAFETY: reads one byte into a one-byte buffer.
        let r = unsafe { libc::read(0, b.as_mut_ptr().cast(), 1) };
        if r <= 0 {
            // the terminal went away: what was typed completes the prompt
            return Ok(Prompted::Completed(typed));
        }
        let k = b[0];
        let is = |set: Option<&[u8]>, default: &dyn Fn(u8) -> bool| match set {
            None => default(k),
            Some(s) => s.contains(&k.to_ascii_lowercase()),
        };
        if is(keys.interrupt, &|k| k == intr) {
            clear_line(&mut out);
            let _ = out.flush();
            return Ok(Prompted::Interrupted);
        }
        if is(keys.complete, &|k| k == b'\r' || k == b'\n') {
            clear_line(&mut out);
            let _ = out.flush();
            return Ok(Prompted::Completed(typed));
        }
        if erase.contains(&k) {
            clear_line(&mut out);
            typed.pop();
            if echo {
                let _ = out.write_all(&typed);
            }
            let _ = out.flush();
        } else {
            typed.push(k);
        }
    }
}
