//! `assert`: fails unless every condition holds.

use super::debug::{display, strip_braces};
use crate::error::Result;
use crate::modules::args::value_str;
use crate::modules::{Args, Module, ModuleDoc, Options, Plan, TaskCtx, opt};
use crate::value::Value;
use async_trait::async_trait;

/// The `assert` module.
pub struct Assert;

crate::options! {
    /// The `assert` module's options.
    pub(crate) struct Opts {
        that: Value = opt::list("Conditions (expressions without {{ }}).").required(),
        fail_msg: Option<Value> = opt::any("Message when an assertion fails.").aliases(&["msg"]),
        success_msg: Value = opt::any("Message when all pass.").default("All assertions passed"),
        quiet: bool = opt::bool("Do not print the success message.").default("no"),
    }
}

static DOC: ModuleDoc = ModuleDoc::new("assert", "Fail unless the given conditions are true")
    .description(
        "Evaluates each expression of `that` (like `when:`) in order and fails at the \
first false one with `fail_msg`; the result names the `assertion` and what it `evaluated_to`. \
Changes nothing; behaves the same in check mode.",
    )
    .spec::<Opts>()
    .examples(
        "- assert:\n    that:\n      - ansible_memtotal_mb >= 1024\n      - \"'web' in group_names\"\n    fail_msg: not enough memory",
    );

#[async_trait]
impl Module for Assert {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn plan(&self, ctx: &TaskCtx<'_>, args: &Args) -> Result<Plan> {
        let o = Opts::from_args(args)?;
        // A single string is one condition (it may contain commas).
        let items: Vec<Value> = match o.that.kind() {
            minijinja::value::ValueKind::Seq => {
                o.that.try_iter().map(|it| it.collect()).unwrap_or_default()
            }
            _ => vec![o.that.clone()],
        };
        // Text a template made (or a host returned) is never evaluated (ansible-core 2.19).
        if items.iter().any(|x| x.is_safe()) {
            return Err(crate::template::untrusted_error());
        }
        if items
            .iter()
            .any(|x| x.is_none() || x.as_str().is_some_and(|s| s.trim().is_empty()))
        {
            return Err(crate::template::empty_condition_error());
        }
        let conds: Vec<String> = items.iter().map(value_str).collect();
        for cond in &conds {
            let ok = ctx.render.eval(strip_braces(cond))?.is_true();
            if !ok {
                let msg = o
                    .fail_msg
                    .as_ref()
                    .map(display)
                    .unwrap_or_else(|| "Assertion failed".into());
                return Ok(Plan::fail(msg.clone())
                    .with("assertion", cond.as_str())
                    .with("evaluated_to", false)
                    .with("msg", msg));
            }
        }
        let mut p = Plan::ok().with("msg", o.success_msg.clone());
        if !o.quiet {
            p.msg = Some(display(&o.success_msg));
            p = p.with("_ansible_verbose_always", true);
        }
        Ok(p)
    }
}
