//! `ping`: checks that the host can be reached and runs commands.

use crate::error::Result;
use crate::modules::{Args, Module, ModuleDoc, Options, Plan, TaskCtx, opt};
use async_trait::async_trait;

/// The `ping` module.
pub struct Ping;

crate::options! {
    /// The `ping` module's options.
    pub(crate) struct Opts {
        data: String = opt::str("What to return as `ping`; `crash` fails.").default("pong"),
    }
}

static DOC: ModuleDoc = ModuleDoc::new(
    "ping",
    "Check that the host is reachable and can run commands",
)
.description(
    "Runs a trivial command on the host (with become, when set) and returns \
`ping: pong`. No Python is needed. `data: crash` makes it fail (`Task failed: Module failed: boom`, as Ansible's \
exception), for testing error handling. \
Changes nothing; behaves the same in check mode.",
)
.spec::<Opts>()
.examples("- ping:\n- ping:\n    data: crash");

#[async_trait]
impl Module for Ping {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn plan(&self, ctx: &TaskCtx<'_>, args: &Args) -> Result<Plan> {
        let data = Opts::from_args(args)?.data;
        if data == "crash" {
            // Ansible's ping raises an exception; 2.19 reports it this way.
            return Ok(Plan::fail("Task failed: Module failed: boom")
                .with("exception", "(traceback unavailable)"));
        }
        let out = ctx.run("echo pong").await?;
        if out.rc != 0 || out.stdout_str().trim() != "pong" {
            return Ok(Plan::fail(format!(
                "ping: the host could not run a command (rc {}): {}",
                out.rc,
                out.stderr_str().trim()
            )));
        }
        Ok(Plan::ok().with("ping", data))
    }
}
