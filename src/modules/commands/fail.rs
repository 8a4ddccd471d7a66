//! `fail`: fails the task with a message.

use crate::error::Result;
use crate::modules::args::value_str;
use crate::modules::{Args, Module, ModuleDoc, OptKind, OptSpec, Plan, TaskCtx};
use async_trait::async_trait;

/// The `fail` module.
pub struct Fail;

static DOC: ModuleDoc = ModuleDoc {
    name: "fail",
    short: "Fail with a custom message",
    description: "Fails the task (usually with `when:`). Changes nothing; behaves the same in check mode.",
    options: &[OptSpec::new("msg", OptKind::Any, "The failure message.")
        .default("Failed as requested from task")],
    free_form: None,
    mutually_exclusive: &[],
    required_one_of: &[],
    examples: "- fail:\n    msg: unsupported OS {{ ansible_distribution }}\n  when: ansible_os_family != 'Debian'",
    ..ModuleDoc::new("", "")
};

#[async_trait]
impl Module for Fail {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn plan(&self, _ctx: &TaskCtx<'_>, args: &Args) -> Result<Plan> {
        let msg = args
            .get("msg")
            .map(|v| {
                if v.as_str().is_some() {
                    value_str(v)
                } else {
                    crate::value::to_json(v).to_string()
                }
            })
            .unwrap_or_else(|| "Failed as requested from task".into());
        Ok(Plan::fail(msg.clone()).with("msg", msg))
    }
}
