//! `command`: runs a program with arguments, without a shell.

use super::{Guard, check_guards, expand_word, split_words, stdin_of};
use crate::connection::quote;
use crate::error::{Error, Result};
use crate::modules::{Action, Args, Module, ModuleDoc, OptKind, OptSpec, Plan, TaskCtx};
use crate::value::Value;
use async_trait::async_trait;

/// The `command` module.
pub struct Command;

static DOC: ModuleDoc = ModuleDoc {
    name: "command",
    short: "Run a command on the host, without a shell",
    description: "Runs a program with arguments. The command line is split into words like a shell \
would (quotes and backslashes), but nothing else of the shell applies: no pipes, redirections, \
`$(...)`, globs or `;` (use `shell` for those). `$NAME`/`${NAME}` and a leading `~` are expanded \
unless expand_argument_vars is false. `creates`/`removes` (globs allowed) make it idempotent: they \
are checked before it runs, in check mode too, so check mode reports exactly whether it would run. \
Always reports changed when it runs; use `changed_when` to refine.",
    options: &[
        OptSpec::new(
            "cmd",
            OptKind::Str,
            "The command line (the free-form text).",
        ),
        OptSpec::new(
            "argv",
            OptKind::List,
            "The command as a list of words (no splitting at all).",
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
        OptSpec::new(
            "expand_argument_vars",
            OptKind::Bool,
            "Expand $VARIABLES and ~ in the words.",
        )
        .default("yes"),
    ],
    free_form: Some("cmd"),
    mutually_exclusive: &[&["cmd", "argv"]],
    required_one_of: &[&["cmd", "argv"]],
    examples: "- command: /usr/bin/make install chdir=/src/app creates=/usr/local/bin/app\n\
- command:\n    argv: [/usr/bin/printf, '%s\\n', 'a b', '$(not run)']\n\
- command: cat\n  args:\n    stdin: hello",
};

/// The words of a `command`/`argv` task.
pub(crate) fn words(module: &str, args: &Args) -> Result<Vec<String>> {
    let words = if args.has("argv") {
        args.list_str("argv")
    } else {
        split_words(module, &args.str("cmd").unwrap_or_default())?
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
        let words = words("command", args)?;
        let cmd_value = Value::from(
            words
                .iter()
                .map(|w| Value::from(w.as_str()))
                .collect::<Vec<_>>(),
        );
        if let Guard::Skip(p) = check_guards(ctx, args, cmd_value.clone()).await? {
            return Ok(*p);
        }
        let expand = args.opt_bool("expand_argument_vars").unwrap_or(true);
        let line: Vec<String> = words
            .iter()
            .map(|w| if expand { expand_word(w) } else { quote(w) })
            .collect();
        let shown: Vec<String> = words.iter().map(|w| quote(w)).collect();
        let mut cmd = ctx.cmd(format!("exec {}", line.join(" ")));
        cmd.stdin = stdin_of(args);
        cmd.chdir = args.str("chdir").filter(|d| !d.is_empty());
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
