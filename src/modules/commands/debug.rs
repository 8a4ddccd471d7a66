//! `debug`: prints a message or a variable.

use crate::error::{ErrorKind, Result};
use crate::modules::{Args, Module, ModuleDoc, OptKind, OptSpec, Plan, TaskCtx};
use crate::value::{Value, to_json};
use async_trait::async_trait;

/// The `debug` module.
pub struct Debug;

static DOC: ModuleDoc = ModuleDoc {
    name: "debug",
    short: "Print a message or the value of a variable",
    description: "Prints `msg` (already templated) or the value of the expression `var` (returned \
under a key named after it). Below the given -v `verbosity` it is skipped. Changes nothing; \
behaves the same in check mode.",
    options: &[
        OptSpec::new("msg", OptKind::Any, "The message (any value).").default("Hello world!"),
        OptSpec::new(
            "var",
            OptKind::Str,
            "A variable name or expression to print (no {{ }}).",
        ),
        OptSpec::new(
            "verbosity",
            OptKind::Int,
            "Print only at this -v level or above.",
        )
        .default("0"),
    ],
    free_form: None,
    mutually_exclusive: &[&["msg", "var"]],
    required_one_of: &[],
    examples: "- debug:\n    msg: \"host {{ inventory_hostname }} runs {{ ansible_distribution }}\"\n\
- debug:\n    var: result.stdout_lines\n    verbosity: 1",
    ..ModuleDoc::new("", "")
};

/// Text for the output: strings as they are, anything else as JSON.
pub(crate) fn display(v: &Value) -> String {
    match v.as_str() {
        Some(s) => s.to_string(),
        None => serde_json::to_string_pretty(&to_json(v)).unwrap_or_else(|_| v.to_string()),
    }
}

#[async_trait]
impl Module for Debug {
    fn doc(&self) -> &'static ModuleDoc {
        &DOC
    }

    async fn plan(&self, ctx: &TaskCtx<'_>, args: &Args) -> Result<Plan> {
        let verbosity = args.int("verbosity").unwrap_or(0);
        if i64::from(ctx.verbosity) < verbosity {
            let mut p = Plan::ok().with("skipped_reason", "verbosity threshold not met");
            p.skipped = Some("verbosity threshold not met".into());
            return Ok(p);
        }
        if let Some(var) = args.str("var") {
            let expr = strip_braces(&var);
            let value = match ctx.render.eval(expr) {
                Ok(v) if v.is_undefined() => Value::from("VARIABLE IS NOT DEFINED!"),
                Ok(v) => v,
                Err(e)
                    if e.kind == ErrorKind::Template
                        && e.msg.to_ascii_lowercase().contains("undefined") =>
                {
                    Value::from("VARIABLE IS NOT DEFINED!")
                }
                Err(e) => return Err(e),
            };
            // Shown like Ansible: `ok: [h] => {"var": value}` (the sink shows results marked
            // `_ansible_verbose_always` in full); registered results drop `_ansible_*` keys.
            return Ok(Plan::ok()
                .with(&var, value)
                .with("_ansible_verbose_always", true));
        }
        let msg = args
            .get("msg")
            .cloned()
            .unwrap_or_else(|| Value::from("Hello world!"));
        let mut p = Plan::ok()
            .with("msg", msg.clone())
            .with("_ansible_verbose_always", true);
        p.msg = Some(display(&msg));
        Ok(p)
    }
}

/// `{{ x }}` → `x` (Ansible accepts both forms in `var:` and `that:`).
pub(crate) fn strip_braces(s: &str) -> &str {
    let t = s.trim();
    match t.strip_prefix("{{").and_then(|x| x.strip_suffix("}}")) {
        Some(inner) if !inner.contains("{{") => inner.trim(),
        _ => t,
    }
}
