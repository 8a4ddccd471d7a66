//! `shell`: runs a command line through a shell.

use super::{Guard, Guards, Input, check_guards, stdin_of};
use crate::connection::quote;
use crate::error::{Error, Result};
use crate::modules::{Action, Args, Module, ModuleDoc, Options, Plan, TaskCtx, opt};
use crate::value::Value;
use async_trait::async_trait;

/// The `shell` module.
pub struct Shell;

crate::options! {
    /// The `shell` module's options.
    pub(crate) struct Opts {
        cmd: String = opt::str("The command line (the free-form text).").required(),
        executable: Option<String> = opt::path("The shell to run it with (e.g. /bin/bash)."),
        expand_argument_vars: Option<bool> = opt::bool(
            "command's option, which shell does not take: giving it fails the task (as in Ansible)."
        ),
    }
    groups { guards: Guards, input: Input }
}

static DOC: ModuleDoc = ModuleDoc::new("shell", "Run a command line through a shell on the host")
    .description(
        "Runs the text through `/bin/sh` (or `executable`), so pipes, redirections, \
variables and globs work. `creates`/`removes` (globs allowed) make it idempotent: they are checked \
before it runs, in check mode too: as in Ansible, check mode reports a guarded command that \
would run as changed and skips an unguarded one. A missing `chdir` fails the task. Always \
reports changed when it runs; use `changed_when` to refine.",
    )
    .spec::<Opts>()
    .free_form("cmd")
    .examples(
        "- shell: ls /var/log/*.log | wc -l > /tmp/count creates=/tmp/count\n\
- shell: set -o pipefail && curl -fsS https://example.com | tee /tmp/page\n  args:\n    executable: /bin/bash",
    );

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
        let o = Opts::from_args(args)?;
        if o.expand_argument_vars.is_some() {
            // Ansible's shell action refuses command's option with this message.
            return Ok(Plan::fail(
                "Unsupported parameters for (shell) module: expand_argument_vars",
            ));
        }
        let text = o.cmd;
        if text.trim().is_empty() {
            return Err(Error::parse("shell: no command given")
                .hint("write the command line after the module name, or give `cmd:`"));
        }
        if let Guard::Skip(p) = check_guards(ctx, &o.guards, Value::from(text.as_str())).await? {
            return Ok(*p);
        }
        let exe = o.executable.filter(|e| !e.is_empty());
        let mut cmd = ctx.cmd(o.guards.in_dir(shell_script(&text, exe.as_deref())));
        cmd.stdin = stdin_of(&o.input);
        cmd.kept = crate::connection::kept_shell_allows(&text);
        let mut plan = Plan::ok().with("cmd", text.as_str());
        plan.keep_output_ends = !o.input.strip_empty_ends;
        Ok(plan.change(
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
