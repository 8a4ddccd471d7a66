//! One error type for the whole crate, with context, and one renderer.
//!
//! Every user mistake is reported as an [`Error`] carrying a [`ErrorKind`], a message, and as much
//! context as is known: the file:line:col of the offending YAML node, a hint, the host and the task.
//! [`Error::render`] prints it like a compiler diagnostic, with the source line and a caret.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A position in a source file (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Location {
    /// The file the position is in.
    pub file: Arc<PathBuf>,
    /// 1-based line number.
    pub line: usize,
    /// 1-based column number.
    pub col: usize,
}

impl Location {
    /// Builds a location.
    pub fn new(file: Arc<PathBuf>, line: usize, col: usize) -> Self {
        Location { file, line, col }
    }

    /// A location that only names a file (line and column 0 are not printed).
    pub fn file_only(file: impl AsRef<Path>) -> Self {
        Location {
            file: Arc::new(file.as_ref().to_path_buf()),
            line: 0,
            col: 0,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.file.display())
        } else {
            write!(f, "{}:{}:{}", self.file.display(), self.line, self.col)
        }
    }
}

/// What kind of failure an [`Error`] is; decides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// YAML could not be read (syntax, duplicate key, bad tag).
    Yaml,
    /// The YAML is valid but not a valid playbook/role/task (unknown module, option, keyword, type).
    Parse,
    /// Inventory file or host pattern error.
    Inventory,
    /// A template failed to render (undefined variable, bad filter, syntax).
    Template,
    /// A local file could not be read or written.
    Io,
    /// A host could not be reached (connection, auth, host key).
    Unreachable,
    /// A task failed on a host.
    TaskFailed,
    /// Bad command-line options.
    Options,
    /// Anything else.
    Other,
}

/// The crate's error: a kind, a message, and optional context. It is one pointer wide (the
/// fields live in a box), so `Result<T>` stays small on the hot path; the fields are reached
/// through `Deref` (`e.msg`, `e.loc`, ...).
#[derive(Debug, Clone)]
pub struct Error(Box<ErrorData>);

/// The fields of an [`Error`].
#[derive(Debug, Clone)]
pub struct ErrorData {
    /// What failed.
    pub kind: ErrorKind,
    /// The message, one sentence, no trailing period needed.
    pub msg: String,
    /// Where in the user's files the problem is.
    pub loc: Option<Location>,
    /// What to do about it.
    pub hint: Option<String>,
    /// The host the error happened on.
    pub host: Option<String>,
    /// The task the error happened in.
    pub task: Option<String>,
}

impl std::ops::Deref for Error {
    type Target = ErrorData;
    fn deref(&self) -> &ErrorData {
        &self.0
    }
}

impl std::ops::DerefMut for Error {
    fn deref_mut(&mut self) -> &mut ErrorData {
        &mut self.0
    }
}

/// Shorthand for results in this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A new error of `kind` with `msg`.
    pub fn new(kind: ErrorKind, msg: impl Into<String>) -> Self {
        Error(Box::new(ErrorData {
            kind,
            msg: msg.into(),
            loc: None,
            hint: None,
            host: None,
            task: None,
        }))
    }
    /// A [`ErrorKind::Parse`] error.
    pub fn parse(msg: impl Into<String>) -> Self {
        Self::new(ErrorKind::Parse, msg)
    }
    /// A [`ErrorKind::Template`] error.
    pub fn template(msg: impl Into<String>) -> Self {
        Self::new(ErrorKind::Template, msg)
    }
    /// A [`ErrorKind::Inventory`] error.
    pub fn inventory(msg: impl Into<String>) -> Self {
        Self::new(ErrorKind::Inventory, msg)
    }
    /// A [`ErrorKind::Other`] error.
    pub fn other(msg: impl Into<String>) -> Self {
        Self::new(ErrorKind::Other, msg)
    }
    /// A [`ErrorKind::Options`] error.
    pub fn options(msg: impl Into<String>) -> Self {
        Self::new(ErrorKind::Options, msg)
    }
    /// A [`ErrorKind::Unreachable`] error.
    pub fn unreachable(msg: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unreachable, msg)
    }
    /// A [`ErrorKind::TaskFailed`] error.
    pub fn failed(msg: impl Into<String>) -> Self {
        Self::new(ErrorKind::TaskFailed, msg)
    }
    /// An I/O error on `path`.
    pub fn io(path: impl AsRef<Path>, err: std::io::Error) -> Self {
        let mut e = Self::new(
            ErrorKind::Io,
            format!("{}: {}", path.as_ref().display(), err),
        );
        if err.kind() == std::io::ErrorKind::NotFound {
            e.hint = Some(
                "check the path; relative paths are resolved from the playbook's folder".into(),
            );
        }
        e
    }

    /// Attaches a location unless one is already set.
    pub fn at(mut self, loc: &Location) -> Self {
        if self.loc.is_none() {
            self.loc = Some(loc.clone());
        }
        self
    }
    /// Attaches an optional location unless one is already set.
    pub fn at_opt(self, loc: Option<&Location>) -> Self {
        match loc {
            Some(l) => self.at(l),
            None => self,
        }
    }
    /// Attaches a hint (replacing any).
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
    /// Attaches the host unless already set.
    pub fn on_host(mut self, host: &str) -> Self {
        if self.host.is_none() {
            self.host = Some(host.to_string());
        }
        self
    }
    /// Attaches the task name unless already set.
    pub fn in_task(mut self, task: &str) -> Self {
        if self.task.is_none() {
            self.task = Some(task.to_string());
        }
        self
    }

    /// The process exit code this error maps to (ansible-playbook's codes).
    pub fn code(&self) -> i32 {
        match self.kind {
            ErrorKind::TaskFailed => 2,
            // as ansible-playbook: YAML that cannot be parsed is 4 (its parser error)
            ErrorKind::Unreachable | ErrorKind::Yaml => 4,
            ErrorKind::Options => 5,
            _ => 1,
        }
    }

    /// Renders the error as a multi-line diagnostic with the source line and a caret. The first
    /// line is Ansible's (`[ERROR]: <message>`), which scripts and tests match on.
    pub fn render(&self) -> String {
        let mut out = format!("[ERROR]: {}", self.msg);
        if let Some(task) = &self.task {
            out.push_str(&format!("\n  in task: {task}"));
        }
        if let Some(host) = &self.host {
            out.push_str(&format!("\n  on host: {host}"));
        }
        if let Some(loc) = &self.loc {
            out.push_str(&format!("\n  --> {loc}"));
            if loc.line > 0
                && let Some(text) = source_line(&loc.file, loc.line)
            {
                let num = loc.line.to_string();
                let pad = " ".repeat(num.len());
                let caret_pad: String = text
                    .chars()
                    .take(loc.col.saturating_sub(1))
                    .map(|c| if c == '\t' { '\t' } else { ' ' })
                    .collect();
                out.push_str(&format!("\n{pad} |\n{num} | {text}\n{pad} | {caret_pad}^"));
            }
        }
        if let Some(hint) = &self.hint {
            out.push_str(&format!("\n  = hint: {hint}"));
        }
        out
    }
}

fn source_line(file: &Path, line: usize) -> Option<String> {
    let text = std::fs::read_to_string(file).ok()?;
    text.lines().nth(line - 1).map(|l| l.to_string())
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(loc) = &self.loc {
            write!(f, "{loc}: ")?;
        }
        write!(f, "{}", self.msg)?;
        if let Some(h) = &self.hint {
            write!(f, " (hint: {h})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

/// The message of a task file (`import_tasks`, `include_tasks`) that does not exist, in
/// Ansible's words (which tests match on).
pub fn file_not_found_msg(path: &Path) -> String {
    let p = path.display();
    format!(
        "Could not find or access '{p}' on the Ansible Controller: Unable to retrieve file contents.\n\
         Could not find or access '{p}' on the Ansible Controller.\n\
         If you are using a module and expect the file to exist on the remote, see the remote_src option"
    )
}

/// Returns the candidate closest to `word` by edit distance, if it is close enough to be a typo.
pub(crate) fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let d = levenshtein(word, c);
        let limit = (word.len().max(c.len()) / 3).max(1);
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_words_only() {
        assert_eq!(
            did_you_mean("coppy", ["copy", "command", "file"]),
            Some("copy")
        );
        assert_eq!(did_you_mean("zzzzzz", ["copy", "command"]), None);
    }

    #[test]
    fn renders_caret_under_column() {
        let dir = std::env::temp_dir().join(format!("prov-err-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("p.yml");
        std::fs::write(&f, "- hosts: all\n  tasks:\n    - coppy: {}\n").unwrap();
        let e = Error::parse("unknown module 'coppy'")
            .at(&Location::new(Arc::new(f.clone()), 3, 7))
            .hint("did you mean 'copy'?");
        let r = e.render();
        assert!(r.starts_with("[ERROR]: unknown module 'coppy'"), "{r}");
        assert!(r.contains("3 |     - coppy: {}\n  |       ^"), "{r}");
        assert!(r.contains("= hint: did you mean 'copy'?"), "{r}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
