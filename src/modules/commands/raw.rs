//! `raw`: runs a command line as is, with no checks at all.

use super::shell::shell_script;
use crate::error::{Error, Result};
use crate::modules::{Action, Args, Module, ModuleDoc, OptKind, OptSpec, Plan, TaskCtx};
use async_trait::async_trait;

/// The `raw` module.
pub struct Raw;

static DOC: ModuleDoc = ModuleDoc {
    name: "raw",
    short: "Run a command line as is",
    description: "Sends the text to the host's shell exactly as written (with become and \
`environment:` applied). No creates/removes, no chdir: it is for bootstrapping hosts and for \
devices with a bare shell. Always reports changed; in check mode it reports that it would run.",
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
            "The shell to run it with (default /bin/sh).",
        ),
    ],
    free_form: Some("cmd"),
    mutually_exclusive: &[],
    required_one_of: &[],
    examples: "- raw: apt-get install -y python3-minimal\n- raw: show version",
    ..ModuleDoc::new("", "")
};

#[async_trait]
impl Module for Raw {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn plan(&self, ctx: &TaskCtx<'_>, args: &Args) -> Result<Plan> {
        let text = args.str("cmd").unwrap_or_default();
        if text.trim().is_empty() {
            return Err(Error::parse("raw: no command given"));
        }
        let exe = args.str("executable").filter(|e| !e.is_empty());
        let cmd = ctx.cmd(shell_script(&text, exe.as_deref()));
        Ok(Plan::ok().change(
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
