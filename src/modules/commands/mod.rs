//! Command and utility modules: command, shell, raw, script, ping, debug, assert, fail,
//! wait_for, wait_for_connection, pause, async_status.
//!
//! The command-running modules share the helpers here: splitting a command line into words
//! (without a shell), quoting words back for `sh`, and the one round trip that checks
//! `creates`/`removes` in `plan()`.

mod assert;
mod async_status;
mod command;
mod debug;
mod fail;
mod pause;
mod ping;
mod raw;
mod script;
mod shell;
mod wait_for;
mod wait_for_connection;

pub use assert::Assert;
pub use async_status::AsyncStatus;
pub use command::Command;
pub use debug::Debug;
pub use fail::Fail;
pub use pause::Pause;
pub use ping::Ping;
pub use raw::Raw;
pub use script::Script;
pub use shell::Shell;
pub use wait_for::WaitFor;
pub use wait_for_connection::{Timing as WaitForConnectionTiming, WaitForConnection};

pub(crate) use super::toolkit::expand_word;
#[cfg(test)]
use super::toolkit::split_words;
use super::{Plan, Registry, TaskCtx, opt};
use crate::connection::quote;
use crate::error::{Error, Result};
use crate::value::Value;
use std::sync::Arc;

crate::options! {
    /// `chdir`, `creates` and `removes`: where a command runs and the guards that make it
    /// idempotent (command, shell, script).
    pub struct Guards as group "run guards" {
        chdir: Option<String> = opt::path("Change into this directory on the host first."),
        creates: Option<String> = opt::path("Do not run if this path (or glob) exists on the host."),
        removes: Option<String> = opt::path("Run only if this path (or glob) exists on the host."),
    }
}

crate::options! {
    /// The standard input and output handling of command and shell.
    pub struct Input as group "input and output" {
        stdin: Option<String> = opt::str("Text to feed to the command's standard input."),
        stdin_add_newline: bool = opt::bool("Append a newline to stdin.").default("yes"),
        strip_empty_ends: bool = opt::bool(
            "Strip the trailing newlines of stdout/stderr (false: keep them as printed)."
        )
            .default("yes"),
    }
}

impl Guards {
    /// The directory to run in, if one is given (an empty string counts as none).
    pub fn dir(&self) -> Option<String> {
        self.chdir.clone().filter(|d| !d.is_empty())
    }
    /// `script` run in `chdir`, entered the way Ansible's `os.chdir` does: the physical path
    /// (`cd -P`), so `$PWD` has no symlinks in it.
    pub fn in_dir(&self, script: String) -> String {
        match self.dir() {
            Some(d) => format!("cd -P -- {} || exit 1\n{script}", quote(&d)),
            None => script,
        }
    }
}

/// Registers the command and utility modules.
pub fn register(r: &mut Registry) {
    r.register(Arc::new(Command));
    r.register(Arc::new(Shell));
    r.register(Arc::new(Raw));
    r.register(Arc::new(Script));
    r.register(Arc::new(Ping));
    r.register(Arc::new(Debug));
    r.register(Arc::new(Assert));
    r.register(Arc::new(Fail));
    r.register(Arc::new(WaitFor));
    r.register(Arc::new(Pause));
    r.register(Arc::new(WaitForConnection));
    r.register(Arc::new(AsyncStatus));
}

/// Quotes a path for `sh` but leaves glob characters (`*`, `?`, `[...]`) active, and turns a
/// leading `~/` into `$HOME`, so `creates: /var/log/*.gz` matches like Ansible's glob.
pub(crate) fn glob_word(p: &str) -> String {
    let mut out = String::new();
    let mut lit = String::new();
    let mut rest = p;
    if rest == "~" || rest.starts_with("~/") {
        out.push_str("\"${HOME}\"");
        rest = &rest[1..];
    }
    let b: Vec<char> = rest.chars().collect();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let glob = match c {
            '*' | '?' => Some(c.to_string()),
            '[' => {
                // A bracket expression of plain characters stays active.
                let close = b[i + 1..].iter().position(|x| *x == ']').map(|k| i + 1 + k);
                match close {
                    Some(j)
                        if j > i + 1
                            && b[i + 1..j].iter().all(|x| {
                                x.is_ascii_alphanumeric()
                                    || matches!(x, '-' | '!' | '^' | '_' | '.')
                            }) =>
                    {
                        let s: String = b[i..=j].iter().collect();
                        i = j;
                        Some(s)
                    }
                    _ => None,
                }
            }
            _ => None,
        };
        match glob {
            Some(g) => {
                if !lit.is_empty() {
                    out.push_str(&quote(&lit));
                    lit.clear();
                }
                out.push_str(&g);
            }
            None => lit.push(c),
        }
        i += 1;
    }
    if !lit.is_empty() {
        out.push_str(&quote(&lit));
    }
    if out.is_empty() {
        out.push_str("''");
    }
    out
}

/// What the `creates`/`removes` check decided.
pub(crate) enum Guard {
    /// Run the command.
    Run,
    /// Do not run it; the plan to return (ok, with Ansible's skip message).
    Skip(Box<Plan>),
}

/// What the host says about a command's `chdir`, `creates` and `removes`.
pub(crate) enum GuardState {
    /// Nothing stops the command.
    Run,
    /// `chdir` does not exist (or is not a folder).
    NoChdir,
    /// `creates` matches something.
    Created(String),
    /// `removes` matches nothing.
    Removed(String),
}

/// Checks `chdir`, `creates` and `removes` with one round trip (globs allowed, relative paths
/// are relative to `chdir`); no round trip when none is given.
pub(crate) async fn probe_guards(ctx: &TaskCtx<'_>, guards: &Guards) -> Result<GuardState> {
    let creates = guards.creates.clone().filter(|s| !s.is_empty());
    let removes = guards.removes.clone().filter(|s| !s.is_empty());
    let dir = guards.dir();
    if creates.is_none() && removes.is_none() && dir.is_none() {
        return Ok(GuardState::Run);
    }
    let mut script = String::new();
    if let Some(dir) = &dir {
        script.push_str(&format!(
            "cd {} 2>/dev/null || {{ echo nochdir; exit 0; }}; ",
            quote(dir)
        ));
    }
    let probe = |label: &str, p: &str| {
        format!(
            "r=0; for f in {}; do if [ -e \"$f\" ] || [ -L \"$f\" ]; then r=1; break; fi; done; echo {label}=$r; ",
            glob_word(p)
        )
    };
    if let Some(c) = &creates {
        script.push_str(&probe("creates", c));
    }
    if let Some(r) = &removes {
        script.push_str(&probe("removes", r));
    }
    let out = if dir.is_some() {
        script.push_str("exit 0");
        ctx.run(script).await?
    } else {
        // Nothing to change folder to: it can run in the kept shell itself (`Cmd::inline`).
        script.push_str("unset r f");
        ctx.run_inline(script).await?
    };
    let text = out.stdout_str();
    if out.rc != 0 {
        return Err(Error::failed(format!(
            "could not check chdir/creates/removes: {}",
            out.stderr_str().trim()
        )));
    }
    Ok(if text.contains("nochdir") {
        GuardState::NoChdir
    } else if let Some(c) = creates.filter(|_| text.contains("creates=1")) {
        GuardState::Created(c)
    } else if let Some(r) = removes.filter(|_| text.contains("removes=0")) {
        GuardState::Removed(r)
    } else {
        GuardState::Run
    })
}

/// Ansible's command/shell results before a command runs: `changed: false`, empty output,
/// `rc` and `msg` as given.
fn command_result(cmd_value: Value, rc: Value, msg: &str, stdout: &str) -> Plan {
    let mut p = Plan::ok()
        .with("cmd", cmd_value)
        .with("rc", rc)
        .with("stdout", stdout)
        .with(
            "stdout_lines",
            stdout.lines().map(Value::from).collect::<Vec<_>>(),
        )
        .with("stderr", "")
        .with("stderr_lines", Vec::<Value>::new())
        .with("msg", msg);
    p.result.insert("changed".into(), Value::from(false));
    p
}

/// The command and shell modules' `chdir`/`creates`/`removes` and check mode, as Ansible's
/// command module decides them: a missing `chdir` fails (in check mode too); a `creates` that
/// exists or a `removes` that does not skips the command (`Did not run command since ...`); in
/// check mode a command guarded by `creates`/`removes` reports changed (`Command would have
/// run if not in check mode`) and an unguarded one is skipped with that message, since
/// whether it would change anything cannot be known. `cmd_value` is the `cmd` result value.
pub(crate) async fn check_guards(
    ctx: &TaskCtx<'_>,
    guards: &Guards,
    cmd_value: Value,
) -> Result<Guard> {
    let would = if ctx.check_mode { "Would" } else { "Did" };
    match probe_guards(ctx, guards).await? {
        GuardState::NoChdir => {
            let mut p = command_result(
                cmd_value,
                Value::from(()),
                "Unable to change directory before execution.",
                "",
            );
            p.failed = Some("Unable to change directory before execution.".into());
            Ok(Guard::Skip(Box::new(p)))
        }
        GuardState::Created(c) => Ok(Guard::Skip(Box::new(command_result(
            cmd_value,
            Value::from(0),
            &format!("{would} not run command since '{c}' exists"),
            &format!("skipped, since {c} exists"),
        )))),
        GuardState::Removed(r) => Ok(Guard::Skip(Box::new(command_result(
            cmd_value,
            Value::from(0),
            &format!("{would} not run command since '{r}' does not exist"),
            &format!("skipped, since {r} does not exist"),
        )))),
        GuardState::Run if ctx.check_mode => {
            let msg = "Command would have run if not in check mode";
            let guarded = guards.creates.as_deref().is_some_and(|s| !s.is_empty())
                || guards.removes.as_deref().is_some_and(|s| !s.is_empty());
            if guarded {
                // Changed, without running anything.
                let mut p = command_result(cmd_value, Value::from(0), msg, "");
                p.result.shift_remove("changed");
                p.msg = Some(msg.into());
                p.force_changed = true;
                Ok(Guard::Skip(Box::new(p)))
            } else {
                let mut p = command_result(cmd_value, Value::from(0), msg, "");
                p.skipped = Some(msg.into());
                Ok(Guard::Skip(Box::new(p)))
            }
        }
        GuardState::Run => Ok(Guard::Run),
    }
}

/// The task's stdin bytes (`stdin` + a newline unless `stdin_add_newline: false`).
pub(crate) fn stdin_of(input: &Input) -> crate::connection::Stdin {
    match &input.stdin {
        Some(s) => {
            let mut b = s.clone().into_bytes();
            if input.stdin_add_newline {
                b.push(b'\n');
            }
            crate::connection::Stdin::Bytes(b)
        }
        None => crate::connection::Stdin::Empty,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> String {
        let o = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(script)
            .env("PROV_T", "a b")
            .env_remove("PROV_UNSET")
            .env("HOME", "/home/x")
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    #[test]
    fn expand_word_expands_only_variables() {
        let words = [
            "$PROV_T",
            "${PROV_T}-x",
            "$PROV_UNSET",
            "$(id)",
            "`id`",
            "~/f",
            "a'b\"c",
            "$1",
            "50$",
            "${x y}",
            "",
        ];
        let script = format!(
            "printf '[%s]' {}",
            words
                .iter()
                .map(|w| expand_word(w))
                .collect::<Vec<_>>()
                .join(" ")
        );
        assert_eq!(
            sh(&script),
            "[a b][a b-x][$PROV_UNSET][$(id)][`id`][/home/x/f][a'b\"c][$1][50$][${x y}][]"
        );
    }

    #[test]
    fn glob_word_keeps_globs_and_quotes_the_rest() {
        assert_eq!(glob_word("/tmp/my dir/*.txt"), "'/tmp/my dir/'*.txt");
        assert_eq!(glob_word("/a/[ab]c"), "/a/[ab]c");
        assert_eq!(glob_word("/a/$(x)"), "'/a/$(x)'");
        assert_eq!(glob_word("~/x"), "\"${HOME}\"/x");
    }

    #[test]
    fn unbalanced_quotes_are_an_error() {
        assert!(split_words("command", "echo 'hi").is_err());
        assert_eq!(
            split_words("command", "echo 'a b' c").unwrap(),
            vec!["echo", "a b", "c"]
        );
    }
}
