//! Templating with minijinja: Ansible's filters, tests and lookups, strict undefined variables,
//! and Ansible's lazy, recursive variable templating through [`Context`].
//!
//! STUB: the API below is the contract; the implementation is being written.

use crate::error::{Error, Result};
use crate::value::{Value, Vars};
use std::sync::Arc;

/// The template engine (cheap to clone; shares one minijinja environment).
#[derive(Clone)]
pub struct Templar {
    _inner: Arc<()>,
}

impl Default for Templar {
    fn default() -> Self {
        Self::new()
    }
}

impl Templar {
    /// A templar with every Ansible filter, test and lookup registered.
    pub fn new() -> Self {
        Templar {
            _inner: Arc::new(()),
        }
    }
    /// Renders a string. A string that is exactly one `{{ expr }}` returns the expression's
    /// native value (list, dict, number); other strings render to a string; strings without
    /// `{{`/`{%`/`{#` and `!unsafe` (safe) strings are returned as they are.
    pub fn render_str(&self, s: &str, ctx: &Context) -> Result<Value> {
        let _ = ctx;
        Ok(Value::from(s))
    }
    /// Renders every string inside a value (maps, lists), keys included.
    pub fn render_value(&self, v: &Value, ctx: &Context) -> Result<Value> {
        let _ = ctx;
        Ok(v.clone())
    }
    /// Renders template text to a string (the `template` module, lookups).
    pub fn render_text(&self, text: &str, ctx: &Context) -> Result<String> {
        let _ = ctx;
        Ok(text.to_string())
    }
    /// Evaluates a bare Jinja expression (`x.rc == 0`).
    pub fn eval(&self, expr: &str, ctx: &Context) -> Result<Value> {
        let _ = (expr, ctx);
        Err(Error::template("templating not implemented yet"))
    }
    /// Evaluates a `when:`/`changed_when:`/`failed_when:` condition.
    pub fn eval_cond(&self, expr: &str, ctx: &Context) -> Result<bool> {
        self.eval(expr, ctx).map(|v| v.is_true())
    }
}

/// The variables a template sees: layers of [`Vars`], later layers win. Values are templated
/// lazily when looked up (Ansible's recursive templating), with loop detection.
#[derive(Clone)]
pub struct Context {
    templar: Templar,
    layers: Vec<Arc<Vars>>,
}

impl Context {
    /// A context over `layers` (lowest precedence first).
    pub fn new(templar: &Templar, layers: Vec<Arc<Vars>>) -> Self {
        Context {
            templar: templar.clone(),
            layers,
        }
    }
    /// A new context with one more (highest precedence) layer.
    pub fn push(&self, layer: Arc<Vars>) -> Context {
        let mut c = self.clone();
        c.layers.push(layer);
        c
    }
    /// The raw (untemplated) value of a variable.
    pub fn get_raw(&self, name: &str) -> Option<Value> {
        self.layers.iter().rev().find_map(|l| l.get(name).cloned())
    }
    /// The templated value of a variable.
    pub fn get(&self, name: &str) -> Result<Option<Value>> {
        match self.get_raw(name) {
            Some(v) => self.templar.render_value(&v, self).map(Some),
            None => Ok(None),
        }
    }
    /// The context as a minijinja value (a lazy object), e.g. for `hostvars[host]`.
    pub fn to_value(&self) -> Value {
        Value::from(())
    }
}
