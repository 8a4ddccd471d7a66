//! A connection for module tests without a host: it answers commands from recorded host state
//! and records everything a module does.
//!
//! A module only sees a host through [`Connection`]: read-only inspection scripts
//! ([`TaskCtx::run`](crate::modules::TaskCtx::run)), file reads ([`Connection::get`]) and, when
//! its plan is applied, commands and uploads. [`FakeConnection`] stands in for the host:
//!
//! - **probe outputs in**: each command's script is matched against [`Answer`]s (a substring,
//!   several substrings, a regular expression or the exact script); the first answer that
//!   matches gives the exit status, stdout and stderr. Files read with `get` come from
//!   [`FakeConnection::with_file`].
//! - **actions out**: every `exec`, `put` and `get` is [recorded](FakeConnection::recorded) in
//!   order, with the whole [`Cmd`] (script, stdin, become, environment) or the uploaded
//!   content and [`PutOpts`].
//!
//! Fixtures must not go stale silently: a command no answer matches (or a file that was not
//! given) never gets an empty output. By default it panics, naming the command, which fails the
//! test; with [`OnUnmatched::Error`] it returns an error instead and is listed by
//! [`FakeConnection::unmatched`]. [`FakeConnection::unused`] lists the answers no command
//! used (a probe the module no longer runs).
//!
//! ```
//! use prov::connection::fake::{Answer, FakeConnection};
//! use prov::connection::{Cmd, Connection};
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let host = FakeConnection::new("web1")
//!     .with(Answer::contains("getent group").stdout("docker:x:999:\n"));
//! let out = host.exec(&Cmd::new("getent group docker || true")).await.unwrap();
//! assert_eq!(out.stdout_str(), "docker:x:999:\n");
//! assert_eq!(host.recorded().len(), 1);
//! # });
//! ```

use super::{Become, Cmd, Connection, ExecOutput, PutOpts, Secret, Stdin};
use crate::error::{Error, Result};
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

/// How an [`Answer`] recognises a command (by its script, before become and environment are
/// wrapped around it).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Matcher {
    /// The script contains this text.
    Contains(String),
    /// The script contains every one of these texts.
    AllOf(Vec<String>),
    /// The script matches this regular expression (anywhere; anchor it with `^`/`$`).
    Regex(regex::Regex),
    /// The script is exactly this text.
    Exact(String),
}

impl Matcher {
    /// True when `script` is recognised.
    pub fn matches(&self, script: &str) -> bool {
        match self {
            Matcher::Contains(s) => script.contains(s.as_str()),
            Matcher::AllOf(v) => v.iter().all(|s| script.contains(s.as_str())),
            Matcher::Regex(r) => r.is_match(script),
            Matcher::Exact(s) => script == s,
        }
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Matcher::Contains(s) => write!(f, "contains {s:?}"),
            Matcher::AllOf(v) => write!(f, "contains all of {v:?}"),
            Matcher::Regex(r) => write!(f, "matches /{}/", r.as_str()),
            Matcher::Exact(s) => write!(f, "is exactly {s:?}"),
        }
    }
}

/// A recorded answer: which commands it answers and what they print.
#[derive(Debug, Clone)]
pub struct Answer {
    matcher: Matcher,
    output: ExecOutput,
    once: bool,
}

impl Answer {
    /// Answers the commands `matcher` recognises with exit status 0 and no output (set them
    /// with [`Answer::rc`], [`Answer::stdout`], [`Answer::stderr`]).
    pub fn new(matcher: Matcher) -> Self {
        Answer {
            matcher,
            output: ExecOutput::default(),
            once: false,
        }
    }
    /// Answers commands whose script contains `text`.
    pub fn contains(text: impl Into<String>) -> Self {
        Self::new(Matcher::Contains(text.into()))
    }
    /// Answers commands whose script contains every one of `texts`.
    pub fn all_of<S: Into<String>>(texts: impl IntoIterator<Item = S>) -> Self {
        Self::new(Matcher::AllOf(texts.into_iter().map(Into::into).collect()))
    }
    /// Answers commands whose script matches the regular expression `pattern`.
    pub fn regex(pattern: &str) -> Result<Self> {
        let r = regex::Regex::new(pattern)
            .map_err(|e| Error::other(format!("bad answer pattern /{pattern}/: {e}")))?;
        Ok(Self::new(Matcher::Regex(r)))
    }
    /// Answers the command whose script is exactly `script`.
    pub fn exact(script: impl Into<String>) -> Self {
        Self::new(Matcher::Exact(script.into()))
    }
    /// The exit status.
    pub fn rc(mut self, rc: i32) -> Self {
        self.output.rc = rc;
        self
    }
    /// What the command prints on stdout.
    pub fn stdout(mut self, out: impl Into<Vec<u8>>) -> Self {
        self.output.stdout = out.into();
        self
    }
    /// What the command prints on stderr.
    pub fn stderr(mut self, err: impl Into<Vec<u8>>) -> Self {
        self.output.stderr = err.into();
        self
    }
    /// Answers only the first matching command; later ones go to the next answer that matches
    /// (e.g. a state that changes once a plan is applied).
    pub fn once(mut self) -> Self {
        self.once = true;
        self
    }
    /// How it recognises commands.
    pub fn matcher(&self) -> &Matcher {
        &self.matcher
    }
}

/// What a module did through the connection, in order.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Recorded {
    /// A command ([`Connection::exec`]); a `Stdin::File` is recorded as the file's bytes.
    Exec(Cmd),
    /// An upload ([`Connection::put`]).
    Put {
        /// The destination path.
        dest: String,
        /// The content sent.
        content: Vec<u8>,
        /// Mode, owner, group, become, validate.
        opts: PutOpts,
    },
    /// A file read ([`Connection::get`]).
    Get {
        /// The path read.
        path: String,
        /// The become used for the read.
        become_: Option<Become>,
    },
    /// A raw command line ([`Connection::exec_raw`] called directly).
    Raw(String),
}

impl Recorded {
    /// True for a read-only inspection ([`Cmd::probe`]) or a file read: what planning does.
    pub fn is_inspection(&self) -> bool {
        match self {
            Recorded::Exec(c) => c.probe,
            Recorded::Get { .. } => true,
            Recorded::Put { .. } | Recorded::Raw(_) => false,
        }
    }
}

/// What the connection does with a command no answer matches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum OnUnmatched {
    /// Panic with a message naming the command (fails the test).
    #[default]
    Panic,
    /// Return an error naming the command, and list it in [`FakeConnection::unmatched`].
    Error,
}

struct Slot {
    answer: Answer,
    used: usize,
}

#[derive(Default)]
struct State {
    answers: Mutex<Vec<Slot>>,
    files: Mutex<BTreeMap<String, Vec<u8>>>,
    log: Mutex<Vec<Recorded>>,
    unmatched: Mutex<Vec<String>>,
}

/// A [`Connection`] answering from recorded host state and recording every call (see the
/// [module documentation](self)). Clones share the host state and the record, so a test can
/// keep one and hand another to the code under test.
#[derive(Clone)]
pub struct FakeConnection {
    host: String,
    on_unmatched: OnUnmatched,
    state: Arc<State>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl FakeConnection {
    /// A host named `host` with no recorded state yet.
    pub fn new(host: impl Into<String>) -> Self {
        FakeConnection {
            host: host.into(),
            on_unmatched: OnUnmatched::default(),
            state: Arc::default(),
        }
    }
    /// Adds an answer (answers are tried in the order they were added).
    pub fn with(self, answer: Answer) -> Self {
        self.add(answer);
        self
    }
    /// Adds a file that [`Connection::get`] returns (and that a later `put` replaces).
    pub fn with_file(self, path: impl Into<String>, content: impl Into<Vec<u8>>) -> Self {
        lock(&self.state.files).insert(path.into(), content.into());
        self
    }
    /// Sets what happens to a command no answer matches.
    pub fn on_unmatched(mut self, what: OnUnmatched) -> Self {
        self.on_unmatched = what;
        self
    }
    /// Adds an answer after the connection is in use (e.g. for the commands of applying a
    /// plan); it is tried after the earlier ones.
    pub fn add(&self, answer: Answer) {
        lock(&self.state.answers).push(Slot { answer, used: 0 });
    }
    /// Everything done through the connection so far, in order.
    pub fn recorded(&self) -> Vec<Recorded> {
        lock(&self.state.log).clone()
    }
    /// What was done that is not an inspection (commands that are not probes, uploads).
    pub fn actions(&self) -> Vec<Recorded> {
        lock(&self.state.log)
            .iter()
            .filter(|r| !r.is_inspection())
            .cloned()
            .collect()
    }
    /// Forgets what was recorded (answers and files stay).
    pub fn clear_recorded(&self) {
        lock(&self.state.log).clear();
    }
    /// The commands (and file reads) that found no answer, with [`OnUnmatched::Error`].
    pub fn unmatched(&self) -> Vec<String> {
        lock(&self.state.unmatched).clone()
    }
    /// The answers no command used, described by their matcher.
    pub fn unused(&self) -> Vec<String> {
        lock(&self.state.answers)
            .iter()
            .filter(|s| s.used == 0)
            .map(|s| s.answer.matcher.to_string())
            .collect()
    }
    /// The current content of a file (given with [`with_file`](Self::with_file) or written
    /// with `put`).
    pub fn file(&self, path: &str) -> Option<Vec<u8>> {
        lock(&self.state.files).get(path).cloned()
    }

    fn answer(&self, script: &str) -> Option<ExecOutput> {
        let mut answers = lock(&self.state.answers);
        let slot = answers
            .iter_mut()
            .find(|s| !(s.answer.once && s.used > 0) && s.answer.matcher.matches(script))?;
        slot.used += 1;
        Some(slot.answer.output.clone())
    }

    fn miss(&self, what: String) -> Error {
        let known: Vec<String> = lock(&self.state.answers)
            .iter()
            .map(|s| format!("  - {}", s.answer.matcher))
            .collect();
        let msg = format!(
            "fake connection {}: no recorded answer for {what}\nrecorded answers:\n{}",
            self.host,
            if known.is_empty() {
                "  (none)".to_string()
            } else {
                known.join("\n")
            }
        );
        if self.on_unmatched == OnUnmatched::Panic {
            panic!("{msg}");
        }
        lock(&self.state.unmatched).push(what);
        Error::other(msg)
    }
}

async fn bytes_of(src: &Stdin) -> Result<Vec<u8>> {
    Ok(match src {
        Stdin::Empty => Vec::new(),
        Stdin::Bytes(b) => b.clone(),
        Stdin::File(p) => tokio::fs::read(p).await.map_err(|e| Error::io(p, e))?,
    })
}

#[async_trait]
impl Connection for FakeConnection {
    fn host(&self) -> &str {
        &self.host
    }

    async fn exec_raw(
        &self,
        line: &str,
        _preamble: Option<&Secret>,
        _stdin: &Stdin,
    ) -> Result<ExecOutput> {
        lock(&self.state.log).push(Recorded::Raw(line.to_string()));
        match self.answer(line) {
            Some(out) => Ok(out),
            None => Err(self.miss(format!("the command line:\n{line}"))),
        }
    }

    async fn exec_probe(&self, cmd: &Cmd) -> Result<ExecOutput> {
        self.exec(cmd).await
    }

    async fn exec(&self, cmd: &Cmd) -> Result<ExecOutput> {
        let mut rec = cmd.clone();
        if let Stdin::File(_) = cmd.stdin {
            rec.stdin = Stdin::Bytes(bytes_of(&cmd.stdin).await?);
        }
        lock(&self.state.log).push(Recorded::Exec(rec));
        match self.answer(&cmd.script) {
            Some(out) => Ok(out),
            None => Err(self.miss(format!("the command:\n{}", cmd.script))),
        }
    }

    async fn put(&self, src: &Stdin, dest: &str, opts: &PutOpts) -> Result<()> {
        let content = bytes_of(src).await?;
        lock(&self.state.files).insert(dest.to_string(), content.clone());
        lock(&self.state.log).push(Recorded::Put {
            dest: dest.to_string(),
            content,
            opts: opts.clone(),
        });
        Ok(())
    }

    async fn get(&self, path: &str, become_: Option<&Become>) -> Result<Vec<u8>> {
        lock(&self.state.log).push(Recorded::Get {
            path: path.to_string(),
            become_: become_.cloned(),
        });
        match self.file(path) {
            Some(c) => Ok(c),
            None => Err(self.miss(format!("the file {path} (read with get)"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn answers_in_order_once_and_records() {
        let c = FakeConnection::new("h")
            .with(Answer::contains("id -u").stdout("0\n").once())
            .with(Answer::all_of(["id", "-u"]).stdout("1000\n"))
            .with(Answer::regex("^false$").unwrap().rc(1).stderr("no\n"))
            .with(Answer::exact("never run"))
            .with_file("/etc/motd", "hi\n");
        assert_eq!(c.exec(&Cmd::new("id -u")).await.unwrap().stdout, b"0\n");
        assert_eq!(c.exec(&Cmd::new("id -u")).await.unwrap().stdout, b"1000\n");
        let out = c.exec(&Cmd::new("false")).await.unwrap();
        assert_eq!((out.rc, out.stderr_str()), (1, "no\n".to_string()));
        assert_eq!(c.get("/etc/motd", None).await.unwrap(), b"hi\n");
        c.put(
            &Stdin::Bytes(b"new\n".to_vec()),
            "/etc/motd",
            &PutOpts::default(),
        )
        .await
        .unwrap();
        assert_eq!(c.file("/etc/motd").unwrap(), b"new\n");
        assert_eq!(c.recorded().len(), 5);
        assert_eq!(c.actions().len(), 4, "the get is an inspection");
        assert_eq!(c.unused(), vec!["is exactly \"never run\"".to_string()]);
    }

    #[tokio::test]
    async fn unmatched_commands_are_errors_naming_them() {
        let c = FakeConnection::new("h").on_unmatched(OnUnmatched::Error);
        let e = c.exec(&Cmd::new("uname -r")).await.unwrap_err();
        assert!(e.msg.contains("no recorded answer"), "{}", e.msg);
        assert!(e.msg.contains("uname -r"), "{}", e.msg);
        assert!(c.get("/nope", None).await.is_err());
        assert_eq!(c.unmatched().len(), 2);
    }

    #[tokio::test]
    #[should_panic(expected = "no recorded answer for the command:\nuname -r")]
    async fn unmatched_commands_panic_by_default() {
        let _ = FakeConnection::new("h").exec(&Cmd::new("uname -r")).await;
    }
}
