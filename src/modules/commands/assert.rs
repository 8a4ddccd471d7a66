//! `assert`: fails unless every condition holds.

use super::debug::{display, strip_braces};
use crate::error::Result;
use crate::modules::{Args, Module, ModuleDoc, OptKind, OptSpec, Plan, TaskCtx};
use crate::value::Value;
use async_trait::async_trait;

/// The `assert` module.
pub struct Assert;

static DOC: ModuleDoc = ModuleDoc {
    name: "assert",
    short: "Fail unless the given conditions are true",
    description: "Evaluates each expression of `that` (like `when:`) in order and fails at the \
first false one with `fail_msg`; the result names the `assertion` and what it `evaluated_to`. \
Changes nothing; behaves the same in check mode.",
    options: &[
        OptSpec::new(
            "that",
            OptKind::List,
            "Conditions (expressions without {{ }}).",
        )
        .required(),
        OptSpec::new("fail_msg", OptKind::Any, "Message when an assertion fails.")
            .aliases(&["msg"]),
        OptSpec::new("success_msg", OptKind::Any, "Message when all pass.")
            .default("All assertions passed"),
        OptSpec::new("quiet", OptKind::Bool, "Do not print the success message.").default("no"),
    ],
    free_form: None,
    mutually_exclusive: &[],
    required_one_of: &[],
    examples: "- assert:\n    that:\n      - ansible_memtotal_mb >= 1024\n      - \"'web' in group_names\"\n    fail_msg: not enough memory",
    ..ModuleDoc::new("", "")
};

#[async_trait]
impl Module for Assert {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn plan(&self, ctx: &TaskCtx<'_>, args: &Args) -> Result<Plan> {
        // A single string is one condition (it may contain commas).
        let conds: Vec<String> = match args.get("that") {
            Some(v) if v.kind() == minijinja::value::ValueKind::Seq => args.list_str("that"),
            Some(v) => vec![crate::modules::args::value_str(v)],
            None => vec![],
        };
        for cond in &conds {
            let ok = ctx.render.eval(strip_braces(cond))?.is_true();
            if !ok {
                let msg = args
                    .get("fail_msg")
                    .map(display)
                    .unwrap_or_else(|| "Assertion failed".into());
                return Ok(Plan::fail(msg.clone())
                    .with("assertion", cond.as_str())
                    .with("evaluated_to", false)
                    .with("msg", msg));
            }
        }
        let msg = args
            .get("success_msg")
            .cloned()
            .unwrap_or_else(|| Value::from("All assertions passed"));
        let mut p = Plan::ok().with("msg", msg.clone());
        if !args.bool("quiet") {
            p.msg = Some(display(&msg));
            p = p.with("_ansible_verbose_always", true);
        }
        Ok(p)
    }
}
