//! How prov reaches a host: the [`Connection`] trait and the pure functions that wrap a command
//! with privilege escalation, environment and working directory.
//!
//! A transport only has to run a shell command line with stdin ([`Connection::exec_raw`]);
//! `exec`, `put` and `get` have default implementations on top of it, so every transport gets
//! become, atomic uploads and downloads the same way. Transports may override `put`/`get` with
//! something faster.

pub mod local;
pub mod ssh;

use crate::error::{Error, Result};
use async_trait::async_trait;
use std::fmt;
use std::path::PathBuf;

/// A secret (password) that never prints: `Debug` and `Display` show `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    /// The secret itself; use only to send it where it belongs.
    pub fn expose(&self) -> &str {
        &self.0
    }
}
impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}
impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Privilege escalation method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BecomeMethod {
    /// `sudo` (the default).
    Sudo,
    /// `su`.
    Su,
}

/// Privilege escalation settings for a command.
#[derive(Debug, Clone, PartialEq)]
pub struct Become {
    /// sudo or su.
    pub method: BecomeMethod,
    /// The user to become (default root).
    pub user: String,
    /// The become password, sent through stdin only.
    pub password: Option<Secret>,
    /// Extra flags for the become command.
    pub flags: Option<String>,
}

/// What a command reads on stdin.
#[derive(Debug, Clone, Default)]
pub enum Stdin {
    /// Nothing (stdin is closed at once).
    #[default]
    Empty,
    /// These bytes.
    Bytes(Vec<u8>),
    /// The contents of a local file, streamed.
    File(PathBuf),
}

/// A command to run on a host: a POSIX sh script plus how to run it.
#[derive(Debug, Clone, Default)]
pub struct Cmd {
    /// The script, run by `sh -c`.
    pub script: String,
    /// Its stdin.
    pub stdin: Stdin,
    /// Privilege escalation, if any.
    pub become_: Option<Become>,
    /// Environment variables to set.
    pub env: Vec<(String, String)>,
    /// Directory to run in.
    pub chdir: Option<String>,
}

impl Cmd {
    /// A command running `script` with no stdin.
    pub fn new(script: impl Into<String>) -> Self {
        Cmd {
            script: script.into(),
            ..Default::default()
        }
    }
}

/// The outcome of running a command.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExecOutput {
    /// Exit status (-1 when killed by a signal).
    pub rc: i32,
    /// Standard output.
    pub stdout: Vec<u8>,
    /// Standard error.
    pub stderr: Vec<u8>,
}

impl ExecOutput {
    /// stdout as (lossy) UTF-8.
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    /// stderr as (lossy) UTF-8.
    pub fn stderr_str(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// A command line ready for a transport: the result of [`wrap`].
#[derive(Debug, Clone)]
pub struct Wrapped {
    /// The shell command line.
    pub line: String,
    /// Bytes to send before the command's own stdin (the become password line).
    pub preamble: Option<Secret>,
    /// The prompt string sudo prints, to strip from stderr.
    pub prompt: Option<String>,
}

/// Quotes `s` for POSIX sh (single quotes).
pub fn quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"@%+=:,./-_".contains(&c))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Wraps a command with chdir, env and become: a pure function shared by every transport.
pub fn wrap(cmd: &Cmd) -> Wrapped {
    let mut inner = String::new();
    if let Some(dir) = &cmd.chdir {
        inner.push_str(&format!("cd {} && ", quote(dir)));
    }
    if !cmd.env.is_empty() {
        for (k, v) in &cmd.env {
            inner.push_str(&format!("{k}={} ", quote(v)));
        }
        inner.push_str("export");
        for (k, _) in &cmd.env {
            inner.push_str(&format!(" {k}"));
        }
        inner.push_str(" && ");
    }
    inner.push_str(&cmd.script);
    let sh = format!("/bin/sh -c {}", quote(&inner));
    match &cmd.become_ {
        None => Wrapped {
            line: sh,
            preamble: None,
            prompt: None,
        },
        Some(b) => {
            let flags = b.flags.clone().unwrap_or_default();
            match b.method {
                BecomeMethod::Sudo => {
                    let prompt = format!("[prov-sudo-{}]", random_token());
                    let line = if b.password.is_some() {
                        format!(
                            "sudo -H -S -p {} {flags} -u {} {sh}",
                            quote(&prompt),
                            quote(&b.user)
                        )
                    } else {
                        format!("sudo -H -n {flags} -u {} {sh}", quote(&b.user))
                    };
                    Wrapped {
                        line,
                        preamble: b.password.clone(),
                        prompt: b.password.as_ref().map(|_| prompt),
                    }
                }
                BecomeMethod::Su => Wrapped {
                    line: format!("su {flags} {} -c {}", quote(&b.user), quote(&sh)),
                    preamble: b.password.clone(),
                    prompt: None,
                },
            }
        }
    }
}

fn random_token() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let n = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{:x}{:x}", n, std::process::id())
}

/// Options for [`Connection::put`], applied to the temp file before it is renamed into place.
#[derive(Debug, Clone, Default)]
pub struct PutOpts {
    /// chmod mode (octal like `0644` or symbolic like `u=rw,g=r`).
    pub mode: Option<String>,
    /// chown owner.
    pub owner: Option<String>,
    /// chgrp group.
    pub group: Option<String>,
    /// Privilege escalation for the write.
    pub become_: Option<Become>,
    /// A command checking the temp file before it replaces `dest` (`%s` is its path, e.g.
    /// `visudo -cf %s`); when it fails, `dest` is left untouched.
    pub validate: Option<String>,
}

/// A way to run commands on one host.
#[async_trait]
pub trait Connection: Send + Sync {
    /// The host name this connection reaches (for messages).
    fn host(&self) -> &str;

    /// Runs a shell command line with stdin: the one thing a transport must provide.
    async fn exec_raw(
        &self,
        line: &str,
        preamble: Option<&Secret>,
        stdin: &Stdin,
    ) -> Result<ExecOutput>;

    /// Runs a [`Cmd`] (wrapped with chdir, env and become).
    async fn exec(&self, cmd: &Cmd) -> Result<ExecOutput> {
        let w = wrap(cmd);
        let mut out = self
            .exec_raw(&w.line, w.preamble.as_ref(), &cmd.stdin)
            .await?;
        if let Some(p) = &w.prompt {
            let s = out.stderr_str();
            if s.contains(p.as_str()) {
                out.stderr = s.replace(p.as_str(), "").into_bytes();
            }
            if out.rc != 0 && (s.contains("incorrect password") || s.contains("Sorry, try again")) {
                return Err(Error::failed(format!(
                    "become (sudo) failed on {}: incorrect become password",
                    self.host()
                )));
            }
        }
        Ok(out)
    }

    /// Writes `src` to `dest` atomically: a private temp file in dest's folder, mode and owner
    /// applied, then renamed over `dest`.
    async fn put(&self, src: &Stdin, dest: &str, opts: &PutOpts) -> Result<()> {
        let mut script = format!(
            "d={d}; t=$(umask 077 && mktemp \"$(dirname \"$d\")/.prov-tmp.XXXXXXXX\") || exit 1; \
             trap 'rm -f \"$t\"' EXIT; cat > \"$t\" || exit 1; ",
            d = quote(dest)
        );
        match &opts.mode {
            Some(m) => script.push_str(&format!("chmod {} \"$t\" || exit 1; ", quote(m))),
            None => script.push_str(
                "if [ -e \"$d\" ]; then chmod \"$(stat -c %a \"$d\")\" \"$t\"; else chmod 0644 \"$t\"; fi || exit 1; ",
            ),
        }
        if let Some(o) = &opts.owner {
            script.push_str(&format!("chown {} \"$t\" || exit 1; ", quote(o)));
        }
        if let Some(g) = &opts.group {
            script.push_str(&format!("chgrp {} \"$t\" || exit 1; ", quote(g)));
        }
        if let Some(v) = &opts.validate {
            script.push_str(&format!(
                "{{ {}; }} >&2 || exit 86; ",
                v.replace("%s", "\"$t\"")
            ));
        }
        script.push_str("mv -f \"$t\" \"$d\" && trap - EXIT");
        let cmd = Cmd {
            script,
            stdin: src.clone(),
            become_: opts.become_.clone(),
            ..Default::default()
        };
        let out = self.exec(&cmd).await?;
        if out.rc == 86 && opts.validate.is_some() {
            return Err(Error::failed(format!(
                "validation of {dest} failed, the file was not changed: {}",
                out.stderr_str().trim()
            )));
        }
        if out.rc != 0 {
            return Err(Error::failed(format!(
                "could not write {dest}: {}",
                out.stderr_str().trim()
            )));
        }
        Ok(())
    }

    /// Reads a whole remote file.
    async fn get(&self, path: &str, become_: Option<&Become>) -> Result<Vec<u8>> {
        let cmd = Cmd {
            script: format!("cat -- {}", quote(path)),
            become_: become_.cloned(),
            ..Default::default()
        };
        let out = self.exec(&cmd).await?;
        if out.rc != 0 {
            return Err(Error::failed(format!(
                "could not read {path}: {}",
                out.stderr_str().trim()
            )));
        }
        Ok(out.stdout)
    }

    /// Closes the connection.
    async fn close(&self) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(quote("abc"), "abc");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("$(rm -rf /)"), "'$(rm -rf /)'");
    }

    #[test]
    fn wrap_plain_env_chdir() {
        let c = Cmd {
            script: "echo $A".into(),
            env: vec![("A".into(), "x y".into())],
            chdir: Some("/tmp".into()),
            ..Default::default()
        };
        let w = wrap(&c);
        assert_eq!(
            w.line,
            r"/bin/sh -c 'cd /tmp && A='\''x y'\'' export A && echo $A'"
        );
        assert!(w.preamble.is_none());
    }

    #[test]
    fn become_password_never_in_line() {
        let c = Cmd {
            script: "id -u".into(),
            become_: Some(Become {
                method: BecomeMethod::Sudo,
                user: "root".into(),
                password: Some(Secret::new("hunter2")),
                flags: None,
            }),
            ..Default::default()
        };
        let w = wrap(&c);
        assert!(!w.line.contains("hunter2"));
        assert!(w.line.starts_with("sudo -H -S -p "));
        assert_eq!(format!("{:?}", w.preamble), "Some(***)");
        assert!(w.prompt.is_some());
    }
}
