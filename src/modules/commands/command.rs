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
    }
    groups { guards: Guards, input: Input }
}

static DOC: ModuleDoc = ModuleDoc::new("command", "Run a command on the host, without a shell")
    .description(
        "Runs a program with arguments. The command line is split into words like a shell \
would (quotes and backslashes), but nothing else of the shell applies: no pipes, redirections, \
`$(...)`, globs or `;` (use `shell` for those). `$NAME`/`${NAME}` and a leading `~` are expanded \
unless expand_argument_vars is false. `creates`/`removes` (globs allowed) make it idempotent: they \
are checked before it runs, in check mode too, so check mode reports exactly whether it would run. \
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
        let mut cmd = ctx.cmd(format!("exec {}", line.join(" ")));
        cmd.stdin = stdin_of(&o.input);
        cmd.chdir = o.guards.dir();
        Ok(Plan::ok().with("cmd", cmd_value).change(
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
