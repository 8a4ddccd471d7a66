//! `raw`: runs a command line as is, with no checks at all.

use super::shell::shell_script;
use crate::error::{Error, Result};
use crate::modules::{Action, Args, Module, ModuleDoc, Options, Plan, TaskCtx, opt};
use async_trait::async_trait;

/// The `raw` module.
pub struct Raw;

crate::options! {
    /// The `raw` module's options.
    pub(crate) struct Opts {
        cmd: String = opt::str("The command line (the free-form text).").required(),
        executable: Option<String> = opt::path("The shell to run it with (default /bin/sh)."),
    }
}

static DOC: ModuleDoc = ModuleDoc::new("raw", "Run a command line as is")
    .description(
        "Sends the text to the host's shell exactly as written (with become and \
`environment:` applied). No creates/removes, no chdir: it is for bootstrapping hosts and for \
devices with a bare shell. Always reports changed; in check mode it reports that it would run.",
    )
    .spec::<Opts>()
    .free_form("cmd")
    .examples("- raw: apt-get install -y python3-minimal\n- raw: show version");

#[async_trait]
impl Module for Raw {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn plan(&self, ctx: &TaskCtx<'_>, args: &Args) -> Result<Plan> {
        let o = Opts::from_args(args)?;
        let text = o.cmd;
        if text.trim().is_empty() {
            return Err(Error::parse("raw: no command given"));
        }
        let exe = o.executable.filter(|e| !e.is_empty());
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
