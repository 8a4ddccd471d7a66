//! `shell`: runs a command line through a shell.

use super::{Guard, check_guards, stdin_of};
use crate::connection::quote;
use crate::error::{Error, Result};
use crate::modules::{Action, Args, Module, ModuleDoc, OptKind, OptSpec, Plan, TaskCtx};
use crate::value::Value;
use async_trait::async_trait;

/// The `shell` module.
pub struct Shell;

static DOC: ModuleDoc = ModuleDoc {
    name: "shell",
    short: "Run a command line through a shell on the host",
    description: "Runs the text through `/bin/sh` (or `executable`), so pipes, redirections, \
variables and globs work. `creates`/`removes` (globs allowed) make it idempotent: they are checked \
before it runs, in check mode too, so check mode reports exactly whether it would run. Always \
reports changed when it runs; use `changed_when` to refine.",
    options: &[
        OptSpec::new(
            "cmd",
            OptKind::Str,
            "The command line (the free-form text).",
        )
        .required(),
        OptSpec::new(
            "executable",
            OptKind::Path,
            "The shell to run it with (e.g. /bin/bash).",
        ),
        OptSpec::new("chdir", OptKind::Path, "Change into this directory first."),
        OptSpec::new(
            "creates",
            OptKind::Path,
            "Do not run if this path (or glob) exists.",
        ),
        OptSpec::new(
            "removes",
            OptKind::Path,
            "Run only if this path (or glob) exists.",
        ),
        OptSpec::new(
            "stdin",
            OptKind::Str,
            "Text to feed to the command's standard input.",
        ),
        OptSpec::new(
            "stdin_add_newline",
            OptKind::Bool,
            "Append a newline to stdin.",
        )
        .default("yes"),
        OptSpec::new(
            "strip_empty_ends",
            OptKind::Bool,
            "Strip trailing empty lines from stdout/stderr.",
        )
        .default("yes"),
    ],
    free_form: Some("cmd"),
    mutually_exclusive: &[],
    required_one_of: &[],
    examples: "- shell: ls /var/log/*.log | wc -l > /tmp/count creates=/tmp/count\n\
- shell: set -o pipefail && curl -fsS https://example.com | tee /tmp/page\n  args:\n    executable: /bin/bash",
};

/// The script that runs `text` with `executable` (or the connection's `/bin/sh`).
pub(crate) fn shell_script(text: &str, executable: Option<&str>) -> String {
    match executable {
        Some(exe) => format!("exec {} -c {}", quote(exe), quote(text)),
        None => text.to_string(),
    }
}

#[async_trait]
impl Module for Shell {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn plan(&self, ctx: &TaskCtx<'_>, args: &Args) -> Result<Plan> {
        let text = args.str("cmd").unwrap_or_default();
        if text.trim().is_empty() {
            return Err(Error::parse("shell: no command given")
                .hint("write the command line after the module name, or give `cmd:`"));
        }
        if let Guard::Skip(p) = check_guards(ctx, args, Value::from(text.as_str())).await? {
            return Ok(*p);
        }
        let exe = args.str("executable").filter(|e| !e.is_empty());
        let mut cmd = ctx.cmd(shell_script(&text, exe.as_deref()));
        cmd.stdin = stdin_of(args);
        cmd.chdir = args.str("chdir").filter(|d| !d.is_empty());
        Ok(Plan::ok().with("cmd", text.as_str()).change(
            format!("run: {text}"),
            None,
            Action::Exec {
                cmd,
                capture: true,
                fail_on_rc: true,
            },
        ))
    }
}
