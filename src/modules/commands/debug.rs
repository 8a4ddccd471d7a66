//! `debug`: prints a message or a variable.

use crate::error::{ErrorKind, Result};
use crate::modules::{Args, Module, ModuleDoc, Options, Plan, TaskCtx, opt};
use crate::value::{Value, to_json};
use async_trait::async_trait;

/// The `debug` module.
pub struct Debug;

crate::options! {
    /// The `debug` module's options.
    pub(crate) struct Opts {
        msg: Value = opt::any("The message (any value).").default("Hello world!"),
        var: Option<Value> = opt::any("A variable name or expression to print (no {{ }})."),
        verbosity: i64 = opt::int("Print only at this -v level or above.").default("0"),
    }
}

static DOC: ModuleDoc = ModuleDoc::new("debug", "Print a message or the value of a variable")
    .description(
        "Prints `msg` (already templated) or the value of the expression `var` (returned \
under a key named after it). Below the given -v `verbosity` it is skipped. Changes nothing; \
behaves the same in check mode.",
    )
    .spec::<Opts>()
    .mutually_exclusive(&[&["msg", "var"]])
    .examples(
        "- debug:\n    msg: \"host {{ inventory_hostname }} runs {{ ansible_distribution }}\"\n\
- debug:\n    var: result.stdout_lines\n    verbosity: 1",
    );

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
        let o = Opts::from_args(args)?;
        if i64::from(ctx.verbosity) < o.verbosity {
            let mut p = Plan::ok().with("skipped_reason", "verbosity threshold not met");
            p.skipped = Some("verbosity threshold not met".into());
            return Ok(p);
        }
        if let Some(var) = o.var {
            // An expression marked !unsafe (or from a host) is never evaluated.
            if var.is_safe() {
                return Err(crate::template::untrusted_error());
            }
            // `var` takes text only (Ansible's string check without conversion, unlike other
            // string options, which convert lists and mappings to their Python text).
            if matches!(
                var.kind(),
                minijinja::value::ValueKind::Seq | minijinja::value::ValueKind::Map
            ) {
                return Err(crate::error::Error::failed(format!(
                    "'{}' is not a string and conversion is not allowed",
                    crate::template::py_str(&var)
                )));
            }
            let var = crate::modules::args::value_str(&var);
            let expr = strip_braces(&var);
            // An undefined value is shown as ansible-core 2.19 shows it: a marker in place
            // of the value, and the error as a warning.
            let undefined = match ctx.render.eval(expr) {
                Ok(v) if v.is_undefined() => Err(format!("'{expr}' is undefined")),
                Ok(v) => Ok(v),
                Err(e)
                    if e.kind == ErrorKind::Template
                        && (e.msg.contains("undefined")
                            || e.msg.contains("has no attribute")
                            || ctx
                                .render
                                .eval(&format!("({expr}) is undefined"))
                                .is_ok_and(|v| v.is_true())) =>
                {
                    Err(e.msg.clone())
                }
                Err(e) => return Err(e),
            };
            let plan = match undefined {
                // `omit` cannot be shown: ansible-core's placeholder and warning.
                Ok(value) if value.as_str() == Some(crate::template::OMIT) => {
                    Plan::ok().with(&var, Value::from("<<Omit>>")).with(
                        "warnings",
                        Value::from(vec![Value::from(
                            "The result of the `var` expression could not be omitted; a \
                             placeholder was used instead.",
                        )]),
                    )
                }
                Ok(value) => Plan::ok().with(&var, value),
                Err(msg) => Plan::ok()
                    .with(&var, Value::from(format!("<< error 1 - {msg} >>")))
                    .with(
                        "warnings",
                        Value::from(vec![Value::from(format!(
                            "Encountered 1 template error.\nerror 1 - {msg}"
                        ))]),
                    ),
            };
            // Shown like Ansible: `ok: [h] => {"var": value}` (the sink shows results marked
            // `_ansible_verbose_always` in full); registered results drop `_ansible_*` keys.
            return Ok(plan.with("_ansible_verbose_always", true));
        }
        let msg = o.msg;
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
