//! `fail`: fails the task with a message.

use crate::error::Result;
use crate::modules::args::value_str;
use crate::modules::{Args, Module, ModuleDoc, Options, Plan, TaskCtx, opt};
use crate::value::Value;
use async_trait::async_trait;

/// The `fail` module.
pub struct Fail;

crate::options! {
    /// The `fail` module's options.
    pub(crate) struct Opts {
        msg: Value = opt::any("The failure message.").default("Failed as requested from task"),
    }
}

static DOC: ModuleDoc = ModuleDoc::new("fail", "Fail with a custom message")
    .description(
        "Fails the task (usually with `when:`). Changes nothing; behaves the same in check mode.",
    )
    .spec::<Opts>()
    .action_args()
    .examples(
        "- fail:\n    msg: unsupported OS {{ ansible_distribution }}\n  when: ansible_os_family != 'Debian'",
    );

#[async_trait]
impl Module for Fail {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn plan(&self, _ctx: &TaskCtx<'_>, args: &Args) -> Result<Plan> {
        let v = Opts::from_args(args)?.msg;
        let msg = if v.as_str().is_some() {
            value_str(&v)
        } else {
            crate::value::to_json(&v).to_string()
        };
        Ok(Plan::fail(msg.clone()).with("msg", msg))
    }
}
