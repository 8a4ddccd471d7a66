//! `command`: runs a program with arguments, without a shell.

use super::{Guard, Guards, Input, check_guards, expand_word, stdin_of};
use crate::connection::quote;
use crate::error::{Error, Result};
use crate::modules::toolkit::split_words;
use crate::modules::{Action, Args, Module, ModuleDoc, Options, Plan, TaskCtx, opt};
use crate::value::Value;
use async_trait::async_trait;

/// The `command` module.
pub struct Command;

crate::options! {
    /// The `command` module's options.
    pub(crate) struct Opts {
        cmd: Option<String> = opt::str("The command line (the free-form text)."),
        argv: Option<Vec<String>> = opt::list("The command as a list of words (no splitting at all)."),
        expand_argument_vars: bool = opt::bool("Expand $VARIABLES and ~ in the words.").default("yes"),
        executable: Option<String> = opt::str(
            "Accepted and ignored with a warning, as in Ansible (use `shell` to choose a shell)."
        ),
    }
    groups { guards: Guards, input: Input }
}

static DOC: ModuleDoc = ModuleDoc::new("command", "Run a command on the host, without a shell")
    .description(
        "Runs a program with arguments. The command line is split into words like a shell \
would (quotes and backslashes), but nothing else of the shell applies: no pipes, redirections, \
`$(...)`, globs or `;` (use `shell` for those). `$NAME`/`${NAME}` and a leading `~` are expanded \
unless expand_argument_vars is false. `executable` is ignored with a warning, as in Ansible. \
`strip_empty_ends: false` keeps the trailing newlines of stdout/stderr. `creates`/`removes` (globs allowed) make it idempotent: they \
are checked before it runs, in check mode too: as in Ansible, check mode reports a guarded command \
that would run as changed (`Command would have run if not in check mode`) and skips an unguarded \
one. A missing `chdir` fails the task (`Unable to change directory before execution.`); it is \
entered like `os.chdir` (the physical path). \
Always reports changed when it runs; use `changed_when` to refine.",
    )
    .spec::<Opts>()
    .free_form("cmd")
    .mutually_exclusive(&[&["cmd", "argv"]])
    .required_one_of(&[&["cmd", "argv"]])
    .examples(
        "- command: /usr/bin/make install chdir=/src/app creates=/usr/local/bin/app\n\
- command:\n    argv: [/usr/bin/printf, '%s\\n', 'a b', '$(not run)']\n\
- command: cat\n  args:\n    stdin: hello",
    );

/// What the command's script writes on stderr (then the program's name, then `\x01`) when the
/// program is not found; [`crate::modules::apply_plan`] turns it into Ansible's result.
pub(crate) const ENOENT_MARK: &str = "\\001prov-enoent:";

/// The words of a `command`/`argv` task.
pub(crate) fn words(
    module: &str,
    cmd: Option<&str>,
    argv: Option<&[String]>,
) -> Result<Vec<String>> {
    let words = match argv {
        Some(argv) => argv.to_vec(),
        None => split_words(module, cmd.unwrap_or_default())?,
    };
    if words.is_empty() || words[0].is_empty() {
        return Err(Error::parse(format!("{module}: no command given"))
            .hint("write the command after the module name, or give `cmd:` or `argv:`"));
    }
    Ok(words)
}

#[async_trait]
impl Module for Command {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn plan(&self, ctx: &TaskCtx<'_>, args: &Args) -> Result<Plan> {
        let o = Opts::from_args(args)?;
        let words = words("command", o.cmd.as_deref(), o.argv.as_deref())?;
        let cmd_value = Value::from(
            words
                .iter()
                .map(|w| Value::from(w.as_str()))
                .collect::<Vec<_>>(),
        );
        if let Guard::Skip(p) = check_guards(ctx, &o.guards, cmd_value.clone()).await? {
            return Ok(*p);
        }
        let expand = o.expand_argument_vars;
        let line: Vec<String> = words
            .iter()
            .map(|w| if expand { expand_word(w) } else { quote(w) })
            .collect();
        let shown: Vec<String> = words.iter().map(|w| quote(w)).collect();
        // A program that cannot be found fails as Ansible's (which runs it without a shell):
        // rc 2, no output, `[Errno 2] ...` (see `apply`), not the shell's 127 and message.
        let script = format!(
            "command -v {w0} >/dev/null 2>&1 || [ -e {w0} ] || {{ printf '{ENOENT_MARK}%s\\001' {w0} >&2; exit 2; }}\nexec {}",
            line.join(" "),
            w0 = line[0],
        );
        let mut cmd = ctx.cmd(o.guards.in_dir(script));
        cmd.stdin = stdin_of(&o.input);
        cmd.kept = crate::connection::kept_shell_allows(&line.join(" "));
        let mut plan = Plan::ok().with("cmd", cmd_value);
        if let Some(exe) = &o.executable {
            plan = plan.with(
                "warnings",
                vec![Value::from(format!(
                    "As of Ansible 2.4, the parameter 'executable' is no longer supported with \
                     the 'command' module. Not using '{exe}'."
                ))],
            );
        }
        plan.keep_output_ends = !o.input.strip_empty_ends;
        Ok(plan.change(
            format!("run: {}", shown.join(" ")),
            None,
            Action::Exec {
                cmd,
                capture: true,
                fail_on_rc: true,
            },
        ))
    }
}
