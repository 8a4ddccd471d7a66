//! Templating with minijinja: Ansible's filters, tests and lookups, strict undefined variables,
//! and Ansible's lazy, recursive variable templating through [`Context`].
//!
//! How it fits together:
//! - [`Templar`] owns one minijinja environment (strict undefined, no auto-escape, Ansible's
//!   `trim_blocks`, Python-compatible methods such as `.items()` and `.split()`), with Ansible's
//!   filters (`filters`), tests (`tests`) and lookups (`lookups`) registered.
//! - [`Context`] is the variable scope: layers of [`Vars`](crate::value::Vars). It is a minijinja object, so a template
//!   looks variables up through it, and a variable holding template text is rendered (in the same
//!   context) only when it is used, with its result cached and template loops reported.
//! - Errors name the undefined variable (`'foo' is undefined`), carry the template line for syntax
//!   errors, and show the failing part of the template.
//!
//! Strings marked "safe" ([`Value::from_safe_string`], which is how `!unsafe` YAML is loaded) are
//! never templated; use [`mark_unsafe`] for data that came from hosts (registered results, facts).
//!
//! Semantics follow ansible-core 2.19: a template that is one `{{ expr }}` gives the native value,
//! any other template gives text (no `literal_eval` of text that looks like a list), `None` prints
//! as nothing, booleans as `True`/`False` and containers like Python's `repr`; Python regular
//! expressions run with Python's `re` semantics (`util::pyregex`), and string literals are read
//! the way ansible-core reads them (`literals`). Known differences: an undefined value is chainable only in `x.y is defined`/`is undefined` and
//! `x.y | default(...)` (other uses of `x.y` with `x` undefined are errors, as they are in
//! Ansible); `to_yaml` does not wrap long lines at 80 columns like PyYAML.

// The crate-wide `Error` is large; boxing it is a crate-wide decision, not this module's.

mod chains;
mod closures;
mod context;
pub(crate) mod filters;
#[cfg(test)]
mod literal_cases;
mod literals;
pub(crate) mod lookups;
mod overrides;
mod percent;
pub(crate) mod tests;
pub mod vault;

pub use context::Context;
pub use filters::py_str;
pub use vault::decrypt as vault_decrypt;

use crate::connection::Secret;
use crate::error::{Error, Result};
use crate::value::{Value, VaultText};
use literals::Literals;
use minijinja::value::ValueKind;
use minijinja::{Environment, ErrorKind as MjKind, UndefinedBehavior};
use overrides::Syntax;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// The value of the `omit` variable. A module argument whose rendered value is exactly this
/// string is removed from the arguments (Ansible's `default(omit)` idiom).
pub const OMIT: &str = "__omit_place_holder__prov__";

/// Prefix of loader names that carry template source inline (cached compiled templates).
const INLINE: &str = "\u{0}inline\u{0}";
/// The variable an expression is assigned to when evaluated through a cached template.
const EXPR_VAR: &str = "__prov_expr_result";
const EXPR_PREFIX: &str = "{% set __prov_expr_result = (";
const EXPR_SUFFIX: &str = ") %}";
/// The formatter's error for vault ciphertext printed without a vault password.
const VAULT_SHOWN: &str = "a vault-encrypted value cannot be shown without its vault password";
/// How deep lazy variable templating may nest before it is reported as a loop.
const MAX_DEPTH: usize = 48;

/// Template file text as the loader hands it to minijinja: Python's string-literal escapes
/// decoded, macros that include a template given the template's names (see [`closures`]), `%`
/// formatting and comparison chains rewritten.
fn prepare_file_source(s: &str) -> std::result::Result<String, minijinja::Error> {
    let s = literals::prepare(s, Literals::Decoded)
        .map_err(|m| minijinja::Error::new(MjKind::SyntaxError, m))?
        .into_owned();
    let s = closures::rewrite(&s).unwrap_or(s);
    let s = percent::rewrite(&s).unwrap_or(s);
    Ok(chains::rewrite(&s).unwrap_or(s))
}

/// The template engine (cheap to clone; shares one minijinja environment).
#[derive(Clone)]
pub struct Templar {
    inner: Arc<Inner>,
    vault: Option<Arc<VaultKey>>,
}

struct Inner {
    /// The environment; replaced by a copy with more filters or tests when a template uses one
    /// of Ansible's Python plugins (see `plugins::jinja`).
    env: Mutex<Arc<Environment<'static>>>,
    globals: HashSet<String>,
}

/// The vault secrets (vault ids and their passwords) and the plaintexts already decrypted.
struct VaultKey {
    secrets: Vec<vault::VaultSecret>,
    plain: Mutex<HashMap<String, Arc<str>>>,
}

impl Default for Templar {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Templar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templar")
            .field("vault_password", &self.vault.as_ref().map(|_| "***"))
            .finish()
    }
}

/// An error while rendering, and whether it is an undefined variable (which lazy lookups turn
/// into an undefined value, so `default()` and `is defined` see it as undefined, like Ansible).
#[derive(Debug, Clone)]
pub(crate) struct RenderError {
    pub(crate) err: Error,
    pub(crate) undefined: bool,
}

impl RenderError {
    fn fatal(err: Error) -> Self {
        RenderError {
            err,
            undefined: false,
        }
    }
}

/// Per-render bookkeeping: errors raised inside lazy variable lookups (which minijinja's object
/// protocol cannot return) are kept here and reported by the render that triggered them.
#[derive(Default)]
struct Frame {
    fatal: Option<Error>,
    undefined: Vec<(String, Error)>,
    /// The variable most recently looked up and not defined.
    missing: Option<String>,
    /// The hint of the last `undef()` called: the message when its value is used.
    undef_hint: Option<String>,
    /// Why a filter left an undefined item inside a container (`map(attribute=...)`): the
    /// message when that container leaves the template.
    nested_undef: Option<String>,
}

#[derive(Default)]
struct Tls {
    frames: Vec<Frame>,
    active: Vec<(usize, String)>,
    /// While a template lookup renders: the values (not strings) its expressions printed,
    /// with their text (see [`native_output`]).
    printed: Vec<Vec<(Value, String)>>,
}

thread_local! {
    static TLS: RefCell<Tls> = RefCell::new(Tls::default());
}

/// Runs `f` inside a fresh frame and returns its result with the frame.
fn with_frame<T>(f: impl FnOnce() -> T) -> (T, Frame) {
    struct Guard;
    impl Drop for Guard {
        fn drop(&mut self) {
            TLS.with(|t| {
                t.borrow_mut().frames.pop();
            });
        }
    }
    TLS.with(|t| t.borrow_mut().frames.push(Frame::default()));
    let guard = Guard;
    let r = f();
    let frame = TLS.with(|t| t.borrow_mut().frames.last_mut().map(std::mem::take));
    drop(guard);
    (r, frame.unwrap_or_default())
}

/// Runs `f` (a rendering) and returns, with its result, the value that alone makes up the
/// rendered `text` (after one trailing newline) when there is one: ansible-core's templates
/// return such a value itself (a dict printed by `{{ d }}`, by a macro's `{{ {...} }}`), not
/// its text. Only values that are not strings count (a string is the text already).
pub(crate) fn native_output(f: impl FnOnce() -> Result<String>) -> Result<(String, Option<Value>)> {
    struct Guard;
    impl Drop for Guard {
        fn drop(&mut self) {
            TLS.with(|t| {
                t.borrow_mut().printed.pop();
            });
        }
    }
    TLS.with(|t| t.borrow_mut().printed.push(Vec::new()));
    let guard = Guard;
    let r = f();
    let printed = TLS.with(|t| t.borrow_mut().printed.last_mut().map(std::mem::take));
    drop(guard);
    let text = r?;
    let body = text.strip_suffix('\n').unwrap_or(&text);
    let native = printed
        .unwrap_or_default()
        .into_iter()
        .find(|(_, t)| !t.is_empty() && t == body)
        .map(|(v, _)| v);
    Ok((text, native))
}

fn record_printed(value: &Value, text: &str) {
    TLS.with(|t| {
        if let Some(p) = t.borrow_mut().printed.last_mut() {
            p.push((value.clone(), text.to_string()));
        }
    });
}

pub(crate) fn record_fatal(err: Error) {
    TLS.with(|t| {
        if let Some(f) = t.borrow_mut().frames.last_mut()
            && f.fatal.is_none()
        {
            f.fatal = Some(err);
        }
    });
}

/// The name of the variable most recently found undefined while rendering (for messages
/// that name it, like `mandatory`'s).
pub(crate) fn last_undefined_name() -> Option<String> {
    TLS.with(|t| {
        let t = t.borrow();
        let f = t.frames.last()?;
        f.missing
            .clone()
            .or_else(|| f.undefined.last().map(|(n, _)| n.clone()))
    })
}

/// Notes the hint of an `undef(hint)` value (Ansible's default: "Mandatory variable has not
/// been overridden"), which becomes the error if that value is used.
pub(crate) fn record_undef_hint(hint: String) {
    TLS.with(|t| {
        if let Some(f) = t.borrow_mut().frames.last_mut() {
            f.undef_hint = Some(hint);
        }
    });
}

/// Notes why a filter put an undefined item inside the container it made (the first reason
/// noted in a render wins).
pub(crate) fn record_nested_undefined(reason: String) {
    TLS.with(|t| {
        if let Some(f) = t.borrow_mut().frames.last_mut()
            && f.nested_undef.is_none()
        {
            f.nested_undef = Some(reason);
        }
    });
}

/// Whether a list or dict a template made holds an undefined value (at any depth). Only the
/// containers Jinja itself makes are walked: lazy objects (`hostvars`, `vars`) are left alone.
pub(crate) fn holds_undefined(v: &Value) -> bool {
    if let Some(items) = v.downcast_object_ref::<Vec<Value>>() {
        return items.iter().any(|x| x.is_undefined() || holds_undefined(x));
    }
    if let Some(map) = v.downcast_object_ref::<indexmap::IndexMap<Value, Value>>() {
        return map.values().any(|x| x.is_undefined() || holds_undefined(x));
    }
    false
}

thread_local! {
    /// Set while templates embedded in lookup arguments render: a list or dict holding an
    /// undefined value is passed on (as Ansible passes markers), not an error.
    static EMBEDDED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Renders a template embedded in a lookup's argument (see `lookups::call`).
pub(crate) fn render_embedded(v: &Value, ctx: &Context) -> std::result::Result<Value, RenderError> {
    let before = EMBEDDED.with(|e| e.replace(true));
    let r = ctx.templar().render_value_inner(v, ctx, "");
    EMBEDDED.with(|e| e.set(before));
    r
}

/// Notes a variable that is not defined at all.
pub(crate) fn record_missing(name: &str) {
    TLS.with(|t| {
        if let Some(f) = t.borrow_mut().frames.last_mut() {
            f.missing = Some(name.to_string());
        }
    });
}

pub(crate) fn record_undefined(name: &str, err: Error) {
    TLS.with(|t| {
        if let Some(f) = t.borrow_mut().frames.last_mut() {
            f.undefined.push((name.to_string(), err));
        }
    });
}

/// Marks `(ctx, name)` as being rendered; fails on a loop.
pub(crate) fn enter_var(ctx_id: usize, name: &str) -> std::result::Result<(), RenderError> {
    TLS.with(|t| {
        let mut t = t.borrow_mut();
        if t.active.iter().any(|(c, n)| *c == ctx_id && n == name) {
            return Err(RenderError::fatal(
                Error::template(format!("recursive loop detected in template for variable '{name}'"))
                    .hint("a variable's value refers back to itself, directly or through other variables"),
            ));
        }
        if t.active.len() >= MAX_DEPTH {
            return Err(RenderError::fatal(
                Error::template(format!(
                    "templating nested too deeply (a recursive loop?) in template for variable '{name}'"
                ))
                .hint("a variable's value refers back to itself, directly or through other variables"),
            ));
        }
        t.active.push((ctx_id, name.to_string()));
        Ok(())
    })
}

pub(crate) fn leave_var() {
    TLS.with(|t| {
        t.borrow_mut().active.pop();
    });
}

/// Ansible's error for a condition that is empty (`when: ""`, `that: null`).
pub fn empty_condition_error() -> Error {
    Error::template("Empty conditional expressions are not allowed.")
        .hint("write an expression, or leave the keyword out")
}

/// The error for an expression or template that came from an untrusted source: `!unsafe`
/// text, or data from hosts (ansible-core 2.19's message, which playbooks match on).
pub fn untrusted_error() -> Error {
    Error::template("Encountered untrusted template or expression.").hint(
        "only playbooks, roles and their variables may hold expressions; \
         a value marked !unsafe or returned by a host is never evaluated",
    )
}

/// The prefix of the local names of collections' filters and tests (see `chains`).
pub(crate) fn chains_fq() -> &'static str {
    chains::FQ
}

/// True if `expr` only names a variable, or an attribute or item of one (`x`, `x.y`,
/// `x['k'][0]`): its value is the variable's own, not text the template made.
fn is_variable_chain(expr: &str) -> bool {
    let b = expr.trim().as_bytes();
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    if b.is_empty() || !(b[0].is_ascii_alphabetic() || b[0] == b'_') {
        return false;
    }
    let mut i = 0;
    while i < b.len() && ident(b[i]) {
        i += 1;
    }
    while i < b.len() {
        match b[i] {
            b'.' if b.get(i + 1).is_some_and(|&c| ident(c)) => {
                i += 1;
                while i < b.len() && ident(b[i]) {
                    i += 1;
                }
            }
            b'[' => match expr.trim()[i..].find(']') {
                Some(p) if !expr.trim()[i + 1..i + p].contains(['(', '[', '|']) => i += p + 1,
                _ => return false,
            },
            _ => return false,
        }
    }
    true
}

/// True if `s` has template markers.
pub fn is_template(s: &str) -> bool {
    s.contains("{{") || s.contains("{%") || s.contains("{#")
}

/// Checks a condition's text before it is rendered, as Ansible 2.19 reads conditions: one
/// that is templates alone but more than one (`{{ a }} == {{ b }}`) would be evaluated from
/// text a template made, which is untrusted; in an expression, `{{ }}` may only appear
/// inside quoted strings (`"x" in {{ y }}` is a syntax error, not a template).
pub fn check_condition_text(cond: &str) -> Result<()> {
    let t = cond.trim();
    if !is_template(t) || single_expression(t).is_some() {
        return Ok(());
    }
    let b = t.as_bytes();
    if t.starts_with("{{") && t.ends_with("}}") {
        // One expression when its first `}}` outside quoted strings ends the text.
        let end = unquoted(b)
            .filter(|&i| i >= 2 && i + 1 < b.len())
            .find(|&i| b[i] == b'}' && b[i + 1] == b'}')
            .unwrap_or(b.len());
        if end + 2 < b.len() {
            return Err(untrusted_error());
        }
        return Ok(());
    }
    if t.starts_with("{%") || t.starts_with("{#") {
        return Ok(());
    }
    if unquoted(b).any(|i| b[i] == b'{' && matches!(b.get(i + 1), Some(b'{' | b'%'))) {
        return Err(Error::template(
            "Syntax error in expression. Template delimiters are not supported in expressions",
        )
        .hint("write the expression without {{ }}: variables are used by name"));
    }
    Ok(())
}

/// The positions of `b` outside string literals (`'...'`, `"..."`, with backslash escapes),
/// as Jinja lexes them: delimiters inside a literal are the literal's.
fn unquoted(b: &[u8]) -> impl Iterator<Item = usize> + '_ {
    let mut quote: Option<u8> = None;
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < b.len() {
            let at = i;
            i += 1;
            match (quote, b[at]) {
                (Some(_), b'\\') => i += 1,
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, c @ (b'\'' | b'"')) => quote = Some(c),
                (None, _) => return Some(at),
            }
        }
        None
    })
}

/// True if rendering `v` could change it: it holds a (non-safe) string with template markers,
/// or vault ciphertext.
pub fn needs_templating(v: &Value) -> bool {
    match v.kind() {
        ValueKind::String => !v.is_safe() && v.as_str().is_some_and(is_template),
        ValueKind::Seq => v
            .try_iter()
            .map(|mut it| it.any(|x| needs_templating(&x)))
            .unwrap_or(false),
        ValueKind::Map => {
            if v.downcast_object_ref::<context::CtxInner>().is_some() {
                return false;
            }
            v.try_iter()
                .map(|mut it| it.any(|k| v.get_item(&k).is_ok_and(|x| needs_templating(&x))))
                .unwrap_or(false)
        }
        _ => v.downcast_object_ref::<VaultText>().is_some(),
    }
}

/// True if `v` is or holds vault ciphertext.
fn has_vault_text(v: &Value) -> bool {
    match v.kind() {
        ValueKind::Seq | ValueKind::Map
            if v.downcast_object_ref::<context::CtxInner>().is_none() =>
        {
            v.try_iter().is_ok_and(|mut it| {
                it.any(|k| {
                    has_vault_text(&k)
                        || (v.kind() == ValueKind::Map
                            && v.get_item(&k).is_ok_and(|x| has_vault_text(&x)))
                })
            })
        }
        _ => v.downcast_object_ref::<VaultText>().is_some(),
    }
}

/// Python's methods on values (`s.upper()`, `d.items()`, ...): minijinja-contrib's, with
/// `list.index(x)` too.
fn python_method(
    state: &minijinja::State,
    value: &Value,
    method: &str,
    args: &[Value],
) -> Result<Value, minijinja::Error> {
    if value.kind() == ValueKind::Seq && method == "index" {
        let (what,): (&Value,) = minijinja::value::from_args(args)?;
        let pos = value
            .try_iter()
            .ok()
            .and_then(|mut it| it.position(|x| &x == what));
        return match pos {
            Some(i) => Ok(Value::from(i)),
            None => Err(minijinja::Error::new(
                MjKind::InvalidOperation,
                format!("{what} is not in list"),
            )),
        };
    }
    minijinja_contrib::pycompat::unknown_method_callback(state, value, method, args)
}

/// Marks every string inside `v` as unsafe (never templated), like Ansible does for data that
/// came from hosts: registered results, facts, lookup output.
pub fn mark_unsafe(v: &Value) -> Value {
    match v.kind() {
        ValueKind::String if !v.is_safe() => {
            Value::from_safe_string(v.as_str().unwrap_or_default().to_string())
        }
        ValueKind::Seq => match v.try_iter() {
            Ok(it) => it.map(|x| mark_unsafe(&x)).collect(),
            Err(_) => v.clone(),
        },
        ValueKind::Map if v.downcast_object_ref::<context::CtxInner>().is_none() => {
            match v.try_iter() {
                Ok(it) => Value::from_iter(it.map(|k| {
                    let val = v.get_item(&k).unwrap_or_default();
                    (k, mark_unsafe(&val))
                })),
                Err(_) => v.clone(),
            }
        }
        _ => v.clone(),
    }
}

/// If `s` is exactly one `{{ expr }}`, optionally followed by one newline, the expression.
/// This is ansible-core 2.19's rule (checked against it): `"{{ l }}"` and `"{{ l }}\n"` give the
/// native list (so `content: "{{ n }}\n"` writes `2` without a newline, as Ansible does; a
/// string result keeps the newline), while
/// `"  {{ l }} "` or `"{{ n }}\n\n"` are strings.
/// Whether `s` is one `{{ expression }}` and nothing else.
/// The variable name a template is made of alone (`{{ name }}`), if it is one.
pub fn single_variable(s: &str) -> Option<&str> {
    single_expression(s).map(str::trim).filter(|n| {
        let mut c = n.chars();
        c.next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && c.all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// True if `s` is one `{{ ... }}` expression naming a variable, or an attribute or item of
/// one, and nothing else.
pub fn is_variable_template(s: &str) -> bool {
    single_expression(s).is_some_and(is_variable_chain)
}

/// True if `s` is one `{{ ... }}` expression and nothing else.
pub fn is_single_expression(s: &str) -> bool {
    single_expression(s).is_some()
}

/// The function a constant template of a condition goes through (see [`const_templates`]).
const CONST_TEMPLATE: &str = "__prov_const_template";

/// `expr` with each string constant that holds a template wrapped in [`CONST_TEMPLATE`]`()`,
/// when every template delimiter of `expr` is inside a string constant (else `None`: the
/// condition is rendered as a template first).
fn const_templates(expr: &str) -> Option<String> {
    let b = expr.as_bytes();
    let mut out = String::with_capacity(expr.len() + 32);
    let mut i = 0;
    let mut found = false;
    let mut last = 0;
    while i < b.len() {
        match b[i] {
            q @ (b'\'' | b'"') => {
                let start = i;
                i += 1;
                while i < b.len() && b[i] != q {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                let end = (i + 1).min(b.len());
                let lit = &expr[start..end];
                let body = &lit[1..lit.len().saturating_sub(1)];
                if is_template(body) {
                    // a constant that only opens a template (`'{{ lookup('`) is not one: the
                    // quotes belong to the template, which is rendered first
                    if body.matches("{{").count() != body.matches("}}").count()
                        || body.matches("{%").count() != body.matches("%}").count()
                    {
                        return None;
                    }
                    found = true;
                    out.push_str(&expr[last..start]);
                    out.push_str(&format!("{CONST_TEMPLATE}({lit})"));
                    last = end;
                }
            }
            b'{' if matches!(b.get(i + 1), Some(b'{' | b'%' | b'#')) => return None,
            b'}' if b.get(i + 1) == Some(&b'}') => return None,
            _ => {}
        }
        i += 1;
    }
    if !found {
        return None;
    }
    out.push_str(&expr[last..]);
    Some(out)
}

/// The condition `expr` as an expression whose string constants holding templates render
/// where they stand, when every template of `expr` is inside one (see [`const_templates`]).
pub(crate) fn const_template_expr(expr: &str) -> Option<String> {
    const_templates(expr.trim())
}

fn single_expression(s: &str) -> Option<&str> {
    let t = s.strip_suffix('\n').unwrap_or(s);
    let inner = t.strip_prefix("{{")?.strip_suffix("}}")?;
    // delimiters inside a string literal (`'{{ x }}'`) are the string's, as Jinja lexes them
    let b = inner.as_bytes();
    let delimiter = |i: usize| match b[i] {
        b'{' => matches!(b.get(i + 1), Some(b'{' | b'%' | b'#')),
        b'}' => b.get(i + 1) == Some(&b'}'),
        _ => false,
    };
    if unquoted(b).any(delimiter) {
        return None;
    }
    let inner = inner.strip_prefix('-').unwrap_or(inner);
    let inner = inner.strip_suffix('-').unwrap_or(inner);
    if inner.trim().is_empty() {
        return None;
    }
    Some(inner)
}

impl Templar {
    /// A templar with every Ansible filter, test and lookup registered.
    pub fn new() -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        // Like Jinja2 in Ansible: a template's last newline is dropped (so an included
        // template does not add one), and `render_named` gives the top-level text its trailing
        // newlines back.
        env.set_keep_trailing_newline(false);
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(false);
        // Debug info would re-evaluate (lazily templated) variables on errors and could put
        // secrets into messages.
        env.set_debug(false);
        env.set_recursion_limit(200);
        env.set_unknown_method_callback(python_method);
        env.set_formatter(|out, state, value| {
            if value.is_undefined() || holds_undefined(value) {
                return Err(minijinja::Error::from(MjKind::UndefinedError));
            }
            if value.downcast_object_ref::<VaultText>().is_some() {
                return Err(minijinja::Error::new(MjKind::InvalidOperation, VAULT_SHOWN));
            }
            match value.kind() {
                ValueKind::None => Ok(()),
                ValueKind::String | ValueKind::Invalid => {
                    minijinja::escape_formatter(out, state, value)
                }
                _ => {
                    let text = filters::py_str(value);
                    record_printed(value, &text);
                    out.write_str(&text)
                        .map_err(|e| minijinja::Error::new(MjKind::WriteFailure, e.to_string()))
                }
            }
        });
        env.set_loader(|name| {
            // Inline sources had their literals prepared before they were named.
            if let Some(src) = name.strip_prefix(INLINE) {
                // `%` formatting first: what is left of `%` is arithmetic (chains' divisors).
                let src = percent::rewrite(src).unwrap_or_else(|| src.to_string());
                return Ok(Some(chains::rewrite(&src).unwrap_or(src)));
            }
            match std::fs::read_to_string(name) {
                Ok(s) => prepare_file_source(&s).map(Some),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(minijinja::Error::new(
                    MjKind::InvalidOperation,
                    format!("cannot read template {name}: {e}"),
                )),
            }
        });
        env.set_path_join_callback(|name, parent| {
            if parent.starts_with(INLINE) || name.starts_with('/') {
                return name.into();
            }
            match std::path::Path::new(parent).parent() {
                Some(dir) if !dir.as_os_str().is_empty() => {
                    dir.join(name).to_string_lossy().into_owned().into()
                }
                _ => name.into(),
            }
        });
        env.add_global("omit", Value::from(OMIT));
        // Jinja's global helpers minijinja leaves to its contrib crate.
        env.add_function("joiner", minijinja_contrib::globals::joiner);
        env.add_function("cycler", minijinja_contrib::globals::cycler);
        env.add_function(CONST_TEMPLATE, |state: &minijinja::State, text: Value| {
            let Some(ctx) = state.lookup("vars").and_then(|v| Context::from_value(&v)) else {
                return Ok(text);
            };
            match render_embedded(&text, &ctx) {
                Ok(v) => Ok(v),
                Err(e) if e.undefined => Ok(Value::UNDEFINED),
                Err(e) => Err(minijinja::Error::new(
                    MjKind::InvalidOperation,
                    e.err.msg.clone(),
                )),
            }
        });
        env.add_function(chains::DIVISOR, chains::divisor);
        filters::register(&mut env);
        tests::register(&mut env);
        lookups::register(&mut env);
        env.add_filter(percent::FILTER, percent::filter);
        let globals = env.globals().map(|(k, _)| k.to_string()).collect();
        Templar {
            inner: Arc::new(Inner {
                env: Mutex::new(Arc::new(env)),
                globals,
            }),
            vault: None,
        }
    }

    /// The current environment.
    fn env(&self) -> Arc<Environment<'static>> {
        self.inner
            .env
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Runs a render with the current environment; when it fails on a filter or test prov has
    /// no native one of, and Ansible's Python plugins can be asked for it (ansible-core on the
    /// controller), the name is added as a filter or test that calls the plugin, and the render
    /// runs again (the plugin's own error, or Ansible's "No filter named", is then the error).
    fn with_plugins<T>(
        &self,
        mut render: impl FnMut(
            &Environment<'static>,
        ) -> (std::result::Result<T, minijinja::Error>, Frame),
    ) -> (std::result::Result<T, minijinja::Error>, Frame) {
        let mut added = HashSet::new();
        loop {
            let env = self.env();
            let (r, frame) = render(&env);
            let Err(e) = &r else {
                return (r, frame);
            };
            let Some((kind, name)) = crate::plugins::jinja::unknown(e) else {
                return (r, frame);
            };
            if frame.fatal.is_some()
                || !added.insert((kind, name.clone()))
                || !crate::plugins::bridge::available()
            {
                return (r, frame);
            }
            let mut guard = self.inner.env.lock().unwrap_or_else(|e| e.into_inner());
            let mut next = (**guard).clone();
            crate::plugins::jinja::add(&mut next, kind, &name);
            *guard = Arc::new(next);
        }
    }

    /// The same engine with a vault password for `!vault` values (`None` removes it).
    pub fn with_vault_password(&self, password: Option<Secret>) -> Templar {
        self.with_vault_secrets(
            password
                .map(|password| {
                    vec![vault::VaultSecret {
                        id: "default".into(),
                        password,
                    }]
                })
                .unwrap_or_default(),
        )
    }

    /// The same engine with vault secrets (several vault ids, as `--vault-id` gives them;
    /// none removes them). Ciphertext naming a vault id is tried with that id's secret first.
    pub fn with_vault_secrets(&self, secrets: Vec<vault::VaultSecret>) -> Templar {
        Templar {
            inner: self.inner.clone(),
            vault: (!secrets.is_empty()).then(|| {
                Arc::new(VaultKey {
                    secrets,
                    plain: Mutex::new(HashMap::new()),
                })
            }),
        }
    }

    /// Whether a vault password was given (see [`Templar::with_vault_password`]).
    pub(crate) fn has_vault_password(&self) -> bool {
        self.vault.is_some()
    }

    /// Decrypts vault text used as variable `name`.
    pub(crate) fn decrypt_vault(&self, v: &VaultText, name: &str) -> Result<Value> {
        let Some(key) = &self.vault else {
            return Err(Error::template(format!(
                "vault-encrypted variable '{name}' used but no vault password was given"
            ))
            .hint("pass --vault-password-file FILE (or --ask-vault-pass)"));
        };
        if let Some(p) = key
            .plain
            .lock()
            .ok()
            .and_then(|m| m.get(&v.ciphertext).cloned())
        {
            return Ok(Value::from(p));
        }
        let plain = vault::decrypt_with(&v.ciphertext, &key.secrets)
            .map(|p| p.0)
            .map_err(|e| {
                Error::template(format!("cannot decrypt variable '{name}': {}", e.msg)).hint(
                    e.hint
                        .clone()
                        .unwrap_or_else(|| "check the vault password".into()),
                )
            })?;
        let plain: Arc<str> = Arc::from(plain.as_str());
        if let Ok(mut m) = key.plain.lock() {
            m.insert(v.ciphertext.clone(), plain.clone());
        }
        Ok(Value::from(plain))
    }

    /// True if `s` is the plaintext of a vault-encrypted value this run decrypted: the value
    /// of a `!vault` variable once used, which Ansible's `vault_encrypted` test still sees as
    /// encrypted (its value stays encrypted until used as text).
    pub(crate) fn is_vault_plaintext(&self, s: &str) -> bool {
        self.vault
            .as_ref()
            .is_some_and(|k| k.plain.lock().is_ok_and(|m| m.values().any(|p| &**p == s)))
    }

    /// Decrypts vault-encrypted file text (the `unvault` lookup), with the run's vault password.
    pub(crate) fn decrypt_vault_text(&self, text: &str, source: &str) -> Result<String> {
        let Some(key) = &self.vault else {
            return Err(Error::template(format!(
                "Attempting to decrypt but no vault secrets found (in {source})"
            ))
            .hint("pass --vault-password-file FILE (or --ask-vault-pass)"));
        };
        vault::decrypt_with(text, &key.secrets)
            .map(|p| p.0)
            .map_err(|e| {
                Error::template(format!("cannot decrypt {source}: {}", e.msg)).hint(
                    e.hint
                        .clone()
                        .unwrap_or_else(|| "check the vault password".into()),
                )
            })
    }

    /// Renders a string. A string that is exactly one `{{ expr }}` returns the expression's
    /// native value (list, dict, number); other strings render to a string; strings without
    /// `{{`/`{%`/`{#` and `!unsafe` (safe) strings are returned as they are.
    pub fn render_str(&self, s: &str, ctx: &Context) -> Result<Value> {
        self.render_str_inner(s, ctx).map_err(|e| e.err)
    }

    pub(crate) fn render_str_inner(
        &self,
        s: &str,
        ctx: &Context,
    ) -> std::result::Result<Value, RenderError> {
        if !is_template(s) {
            return Ok(Value::from(s));
        }
        if let Some(expr) = single_expression(s) {
            let mut v = self.eval_inner(expr, ctx, Literals::Raw)?;
            // Text a template made is data, as in ansible-core 2.19: never evaluated or
            // templated again. A variable's own value passes through as it is.
            if v.kind() == ValueKind::String && !v.is_safe() && !is_variable_chain(expr) {
                v = Value::from_safe_string(v.as_str().unwrap_or_default().to_string());
            }
            // The newline after the expression stays with a text result (ansible-core 2.19:
            // `"{{ d | to_json }}\n"` ends with a newline, `"{{ 2 }}\n"` is the number 2).
            if s.ends_with("}}\n")
                && !s.ends_with("-}}\n")
                && let Some(text) = v.as_str()
            {
                let text = format!("{text}\n");
                return Ok(if v.is_safe() {
                    Value::from_safe_string(text)
                } else {
                    Value::from(text)
                });
            }
            return Ok(v);
        }
        // Like ansible-core 2.19, text with several parts stays text (older versions ran
        // `literal_eval` on text that looked like a list or dict), and it is data.
        self.render_text_inner(s, ctx).map(Value::from_safe_string)
    }

    /// Renders every string inside a value (maps, lists), keys included.
    pub fn render_value(&self, v: &Value, ctx: &Context) -> Result<Value> {
        self.render_value_inner(v, ctx, "").map_err(|e| e.err)
    }

    pub(crate) fn render_value_inner(
        &self,
        v: &Value,
        ctx: &Context,
        name: &str,
    ) -> std::result::Result<Value, RenderError> {
        if !needs_templating(v) {
            return Ok(v.clone());
        }
        match v.kind() {
            ValueKind::String => self.render_str_inner(v.as_str().unwrap_or_default(), ctx),
            ValueKind::Seq => {
                let mut out = Vec::with_capacity(v.len().unwrap_or(0));
                for x in v.try_iter().map_err(|e| RenderError::fatal(mj_plain(e)))? {
                    out.push(self.render_value_inner(&x, ctx, name)?);
                }
                Ok(Value::from(out))
            }
            ValueKind::Map => {
                // Keys are data, never templated (ansible-core 2.19; set_fact renders its own
                // variable names).
                let mut out = Vec::with_capacity(v.len().unwrap_or(0));
                for k in v.try_iter().map_err(|e| RenderError::fatal(mj_plain(e)))? {
                    let val = v.get_item(&k).unwrap_or_default();
                    out.push((k, self.render_value_inner(&val, ctx, name)?));
                }
                Ok(Value::from_iter(out))
            }
            _ => match v.downcast_object_ref::<VaultText>() {
                Some(vt) => self
                    .decrypt_vault(vt, if name.is_empty() { "(value)" } else { name })
                    .map_err(RenderError::fatal),
                None => Ok(v.clone()),
            },
        }
    }

    /// A variable's value, rendered as Ansible resolves variables lazily: a template inside a
    /// list or dict that is undefined leaves an undefined value in its place (an error only
    /// if that value is used or leaves the template), not an undefined variable.
    pub(crate) fn render_var_value(
        &self,
        v: &Value,
        ctx: &Context,
        name: &str,
    ) -> std::result::Result<Value, RenderError> {
        if !needs_templating(v) || !matches!(v.kind(), ValueKind::Seq | ValueKind::Map) {
            return self.render_value_inner(v, ctx, name);
        }
        let item = |x: &Value| match self.render_var_value(x, ctx, name) {
            Err(RenderError {
                err,
                undefined: true,
            }) => {
                record_nested_undefined(err.msg.clone());
                Ok(Value::UNDEFINED)
            }
            r => r,
        };
        if v.kind() == ValueKind::Seq {
            let mut out = Vec::with_capacity(v.len().unwrap_or(0));
            for x in v.try_iter().map_err(|e| RenderError::fatal(mj_plain(e)))? {
                out.push(item(&x)?);
            }
            return Ok(Value::from(out));
        }
        let mut out = Vec::with_capacity(v.len().unwrap_or(0));
        for k in v.try_iter().map_err(|e| RenderError::fatal(mj_plain(e)))? {
            let val = v.get_item(&k).unwrap_or_default();
            out.push((self.render_value_inner(&k, ctx, name)?, item(&val)?));
        }
        Ok(Value::from_iter(out))
    }

    /// Renders template text from a task argument or a variable to a string: string literals
    /// inside `{{ }}` keep their backslashes, as in ansible-core (see `literals`).
    pub fn render_text(&self, text: &str, ctx: &Context) -> Result<String> {
        self.render_text_inner(text, ctx).map_err(|e| e.err)
    }

    /// Renders the text of a template file (the `template` module): every string literal is
    /// decoded with Python's escapes, as Jinja2 does.
    pub fn render_template_text(&self, text: &str, ctx: &Context) -> Result<String> {
        if text.starts_with(overrides::HEADER) {
            return self.render_with_header(text, std::path::Path::new("template"), ctx);
        }
        self.render_text_mode(text, ctx, Literals::Decoded)
            .map_err(|e| e.err)
    }

    pub(crate) fn render_text_inner(
        &self,
        text: &str,
        ctx: &Context,
    ) -> std::result::Result<String, RenderError> {
        self.render_text_mode(text, ctx, Literals::Raw)
    }

    fn render_text_mode(
        &self,
        text: &str,
        ctx: &Context,
        mode: Literals,
    ) -> std::result::Result<String, RenderError> {
        if !is_template(text) {
            return Ok(text.to_string());
        }
        let text = literals::prepare(text, mode).map_err(literal_error)?;
        let name = format!("{INLINE}{text}");
        self.render_named(&name, &text, 0, ctx)
    }

    /// Renders `text` like [`Templar::render_text`], with the template module's syntax options
    /// (Ansible's `block_*`/`variable_*`/`comment_*_string` delimiters, `trim_blocks`,
    /// `lstrip_blocks`), on a copy of the environment made for this one text. `path` names
    /// the template, so that its includes are found next to it.
    pub fn render_text_with_syntax(
        &self,
        text: &str,
        path: &std::path::Path,
        ctx: &Context,
        delimiters: [&str; 6],
        trim_blocks: bool,
        lstrip_blocks: bool,
    ) -> Result<String> {
        let mut syntax = Syntax {
            delimiters: delimiters.map(str::to_string),
            trim_blocks,
            lstrip_blocks,
            line_statement_prefix: None,
            line_comment_prefix: None,
        };
        let body = match overrides::split(text)? {
            Some((body, pairs)) => {
                syntax.apply(&pairs)?;
                body
            }
            None => text,
        };
        let [bs, be, vs, ve, cs, ce] = syntax.delimiters.clone();
        let mut builder = minijinja::syntax::SyntaxConfig::builder();
        builder
            .block_delimiters(bs, be)
            .variable_delimiters(vs, ve)
            .comment_delimiters(cs, ce);
        if let Some(p) = &syntax.line_statement_prefix {
            builder.line_statement_prefix(p.clone());
        }
        if let Some(p) = &syntax.line_comment_prefix {
            builder.line_comment_prefix(p.clone());
        }
        let config = builder
            .build()
            .map_err(|e| Error::template(format!("invalid template syntax options: {e}")))?;
        let mut env = (*self.env()).clone();
        env.clear_templates();
        env.set_syntax(config);
        env.set_trim_blocks(syntax.trim_blocks);
        env.set_lstrip_blocks(syntax.lstrip_blocks);
        let name = path.to_string_lossy().into_owned();
        env.add_template_owned(name.clone(), body.to_string())
            .map_err(|e| Error::template(e.to_string()))?;
        let custom = Templar {
            inner: Arc::new(Inner {
                env: Mutex::new(Arc::new(env)),
                globals: self.inner.globals.clone(),
            }),
            vault: self.vault.clone(),
        };
        custom.render_named(&name, body, 0, ctx).map_err(|e| e.err)
    }

    /// Renders template text that starts with a `#jinja2:` header through
    /// [`Templar::render_text_with_syntax`] (default syntax, then the header's settings).
    fn render_with_header(
        &self,
        text: &str,
        path: &std::path::Path,
        ctx: &Context,
    ) -> Result<String> {
        self.render_text_with_syntax(
            text,
            path,
            ctx,
            ["{%", "%}", "{{", "}}", "{#", "#}"],
            true,
            false,
        )
    }

    /// Renders a template file (the `template` module): `{% include %}` and `{% import %}`
    /// inside it are resolved relative to the file's folder.
    pub fn render_file(&self, path: &std::path::Path, ctx: &Context) -> Result<String> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        // A vault-encrypted template is decrypted first (as Ansible's loader does); its text
        // then never touches the disk or the shared template cache.
        if text.trim_start().starts_with("$ANSIBLE_VAULT;") {
            let at = crate::error::Location::file_only(path);
            let plain = self
                .decrypt_vault_text(&text, &path.display().to_string())
                .map_err(|e| e.at(&at))?;
            let prepared =
                prepare_file_source(&plain).map_err(|e| Error::template(e.to_string()).at(&at))?;
            return self
                .render_with_header(&prepared, path, ctx)
                .map_err(|e| e.at(&at));
        }
        if text.starts_with(overrides::HEADER) {
            return self
                .render_with_header(&text, path, ctx)
                .map_err(|e| e.at(&crate::error::Location::file_only(path)));
        }
        let name = path.to_string_lossy();
        self.render_named(&name, &text, 0, ctx)
            .map_err(|e| e.err.at(&crate::error::Location::file_only(path)))
    }

    fn render_named(
        &self,
        name: &str,
        text: &str,
        offset: usize,
        ctx: &Context,
    ) -> std::result::Result<String, RenderError> {
        let (r, frame) = self.with_plugins(|env| {
            with_frame(|| {
                let tmpl = env.get_template(name)?;
                tmpl.render(ctx.to_value())
            })
        });
        if let Some(fatal) = frame.fatal {
            return Err(RenderError::fatal(fatal));
        }
        let mut out = r.map_err(|e| self.convert_error(e, name, text, offset, ctx, &frame))?;
        let count = |s: &str| s.len() - s.trim_end_matches('\n').len();
        let (want, have) = (count(text), count(&out));
        if want > have {
            out.push_str(&"\n".repeat(want - have));
        }
        Ok(out)
    }

    /// Evaluates a bare Jinja expression (`x.rc == 0`); its string literals are decoded with
    /// Python's escapes, as in ansible-core's conditionals.
    pub fn eval(&self, expr: &str, ctx: &Context) -> Result<Value> {
        self.eval_inner(expr, ctx, Literals::Decoded)
            .map_err(|e| e.err)
    }

    fn eval_inner(
        &self,
        expr: &str,
        ctx: &Context,
        mode: Literals,
    ) -> std::result::Result<Value, RenderError> {
        if expr.trim().is_empty() {
            return Err(RenderError::fatal(Error::template("empty expression")));
        }
        let prepared = literals::prepare_expr(expr, mode).map_err(literal_error)?;
        let src = format!("{EXPR_PREFIX}{prepared}{EXPR_SUFFIX}");
        let name = format!("{INLINE}{src}");
        let (r, frame) = self.with_plugins(|env| {
            with_frame(|| {
                let tmpl = env.get_template(&name)?;
                let captured = tmpl.render_captured(ctx.to_value())?;
                Ok::<_, minijinja::Error>(captured.state().lookup(EXPR_VAR).unwrap_or_default())
            })
        });
        if let Some(fatal) = frame.fatal {
            return Err(RenderError::fatal(fatal));
        }
        let v =
            r.map_err(|e| self.convert_error(e, &name, &src, EXPR_PREFIX.len(), ctx, &frame))?;
        if v.is_undefined() {
            let simple = |e: &str| {
                e.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || b"_.[]'\"-".contains(&c))
            };
            let msg = match &frame.undef_hint {
                Some(h) => h.clone(),
                None => self
                    .undefined_message(&name, &src, EXPR_PREFIX.len(), None, ctx, &frame)
                    .or_else(|| {
                        // a path with subscripts (`foo[0]`): walk it for the reason
                        let e = expr.trim();
                        simple(e)
                            .then(|| split_path(e))
                            .and_then(|(root, segs)| explain_path(root, &segs, ctx))
                    })
                    .unwrap_or_else(|| format!("'{}' is undefined", expr.trim())),
            };
            return Err(RenderError {
                err: undefined_error(msg, ctx),
                undefined: true,
            });
        }
        // A list or dict holding an undefined value cannot leave the template (Ansible fails
        // when it finalizes such a value).
        if !EMBEDDED.with(|e| e.get()) && holds_undefined(&v) {
            let msg = frame
                .nested_undef
                .clone()
                .or_else(|| {
                    self.undefined_message(&name, &src, EXPR_PREFIX.len(), None, ctx, &frame)
                })
                .unwrap_or_else(|| format!("'{}' holds an undefined value", expr.trim()));
            return Err(RenderError {
                err: undefined_error(msg, ctx),
                undefined: true,
            });
        }
        if let ValueKind::Invalid = v.kind() {
            return Err(RenderError::fatal(Error::template(format!(
                "invalid value from `{}`",
                expr.trim()
            ))));
        }
        // Encrypted values left encrypted (no vault password) cannot leave a template.
        if self.vault.is_none() && needs_templating(&v) && has_vault_text(&v) {
            return self.render_value_inner(&v, ctx, expr.trim());
        }
        Ok(v)
    }

    /// Evaluates a `when:`/`changed_when:`/`failed_when:` condition.
    ///
    /// A bare expression is evaluated and its truthiness taken like Python's. Text with template
    /// markers (`"{{ x }}"`, `"'{{ item }}' == 'a'"`) is rendered first, like Ansible: a rendered
    /// string is then read as a boolean word (`false`, `no`, `0`, empty are false) or, failing
    /// that, evaluated as an expression.
    pub fn eval_cond(&self, expr: &str, ctx: &Context) -> Result<bool> {
        let expr = expr.trim();
        if expr.is_empty() {
            return Err(empty_condition_error());
        }
        if !is_template(expr) {
            return Ok(truthy_py(&self.eval(expr, ctx)?));
        }
        // Templates only inside the expression's string constants (`lookup('x', '{{ y }}')`,
        // `'{{ item }}' == 'a'`): each constant is rendered where it stands (Ansible's
        // constant templates), so a lookup gets the value, undefined ones included.
        if let Some(rewritten) = const_templates(expr) {
            return Ok(truthy_py(&self.eval(&rewritten, ctx)?));
        }
        check_condition_text(expr)?;
        let v = self.render_str(expr, ctx)?;
        let Some(s) = v.as_str() else {
            return Ok(truthy_py(&v));
        };
        let t = s.trim();
        // Not Ansible's boolean words on purpose: this is a conditional, whose rendered text is
        // read again as an expression, so `t` or `f` would be variable names; "none" is false.
        match t.to_ascii_lowercase().as_str() {
            "" | "false" | "no" | "off" | "0" | "none" | "n" => return Ok(false),
            "true" | "yes" | "on" | "1" | "y" => return Ok(true),
            _ => {}
        }
        // Text from a host (or one a single expression made) is data: a non-empty string.
        // The templates inside a condition's own text (`'{{ item }}' == 'a'`) are part of
        // the condition, which is then evaluated.
        if v.is_safe() && single_expression(expr).is_some() {
            return Ok(true);
        }
        Ok(truthy_py(&self.eval(t, ctx)?))
    }

    /// Runs a lookup plugin by name, for `with_<name>` loops: the list of results.
    ///
    /// `terms` are the items of the (rendered) loop value, like Ansible: a list gives its items,
    /// any other value is one term (`with_items: "{{ xs }}"` passes the items of `xs`,
    /// `with_dict: "{{ d }}"` passes `[d]`).
    pub fn lookup(&self, name: &str, terms: &[Value], ctx: &Context) -> Result<Vec<Value>> {
        lookups::run(name, terms, &HashMap::new(), ctx)
    }

    /// [`Templar::lookup`] for a task running `action`: `with_first_found` looks under the
    /// folder the action implies (`templates`, `vars`, else `files`), as in Ansible.
    pub(crate) fn lookup_for_task(
        &self,
        name: &str,
        terms: &[Value],
        action: &str,
        ctx: &Context,
    ) -> Result<Vec<Value>> {
        lookups::run_for_loop(name, terms, action, ctx)
    }

    fn convert_error(
        &self,
        e: minijinja::Error,
        name: &str,
        src: &str,
        offset: usize,
        ctx: &Context,
        frame: &Frame,
    ) -> RenderError {
        // An error inside an included or imported template is that template's error (Ansible
        // reports the cause, `'x' is undefined`, not the include).
        if e.kind() == MjKind::BadInclude {
            let mut cause: &dyn std::error::Error = &e;
            let mut inner: Option<&minijinja::Error> = None;
            while let Some(next) = cause.source() {
                if let Some(m) = next.downcast_ref::<minijinja::Error>()
                    && m.kind() != MjKind::BadInclude
                {
                    inner = Some(m);
                }
                cause = next;
            }
            if let Some(m) = inner
                && let Some(iname) = m.name()
                && let Some(isrc) = self
                    .env()
                    .get_template(iname)
                    .ok()
                    .map(|t| t.source().to_string())
            {
                let copy = match m.detail() {
                    Some(d) => minijinja::Error::new(m.kind(), d.to_string()),
                    None => minijinja::Error::from(m.kind()),
                };
                let iname = iname.to_string();
                return self.convert_error(copy, &iname, &isrc, 0, ctx, frame);
            }
        }
        // The compiled source can differ from `src` (see `chains`); spans refer to it.
        let compiled = self
            .env()
            .get_template(name)
            .ok()
            .map(|t| t.source().to_string());
        let src = compiled.as_deref().unwrap_or(src);
        let snippet = e
            .range()
            .filter(|r| r.start >= offset && r.end <= src.len() && r.start < r.end)
            .and_then(|r| src.get(r))
            .map(|s| s.trim().to_string());
        let line = e.line();
        let shown_src = &src[offset.min(src.len())..];
        let multi_line = shown_src.trim_end().contains('\n');
        let at_line = |msg: String| match line {
            Some(l) if multi_line => format!("{msg} (template line {l})"),
            _ => msg,
        };
        match e.kind() {
            MjKind::UndefinedError => {
                let msg = self
                    .undefined_message(name, src, offset, snippet.as_deref(), ctx, frame)
                    .or_else(|| frame.nested_undef.clone())
                    .unwrap_or_else(|| match &snippet {
                        Some(s) => format!("undefined variable in `{s}`"),
                        None => "undefined variable".to_string(),
                    });
                RenderError {
                    err: undefined_error(at_line(msg), ctx),
                    undefined: true,
                }
            }
            MjKind::SyntaxError => {
                let detail = e.detail().unwrap_or("syntax error");
                let mut msg = format!("template syntax error: {detail}");
                if let Some(l) = line {
                    let text = src.lines().nth(l.saturating_sub(1)).unwrap_or("");
                    let text = if l == 1 {
                        text.get(offset..).unwrap_or(text)
                    } else {
                        text
                    };
                    let text = text.strip_suffix(EXPR_SUFFIX).unwrap_or(text);
                    msg.push_str(&format!(" at line {l}: `{}`", text.trim()));
                }
                RenderError::fatal(
                    Error::template(msg)
                        .hint("check the Jinja2 syntax: matching {{ }}/{% %}, quotes and brackets"),
                )
            }
            MjKind::InvalidOperation if e.detail() == Some(VAULT_SHOWN) => {
                // Name the encrypted variable, as using it outside a template would.
                let named = self.env().get_template(name).ok().and_then(|t| {
                    t.undeclared_variables(false).into_iter().find_map(|n| {
                        let raw = ctx.get_raw(&n)?;
                        let vt = raw.downcast_object_ref::<VaultText>()?;
                        self.decrypt_vault(vt, &n).err()
                    })
                });
                RenderError::fatal(named.unwrap_or_else(|| Error::template(VAULT_SHOWN)))
            }
            // Python's ZeroDivisionError, worded as Ansible reports an exception raised while
            // rendering.
            MjKind::InvalidOperation if e.detail().is_some_and(|d| d.ends_with(" by zero")) => {
                RenderError::fatal(Error::template(at_line(format!(
                    "Error rendering template: {}",
                    e.detail().unwrap_or_default()
                ))))
            }
            MjKind::UnknownFilter | MjKind::UnknownTest
                if crate::plugins::jinja::not_found_message(&e).is_some() =>
            {
                // Ansible's words (playbooks match on them).
                let msg = crate::plugins::jinja::not_found_message(&e).unwrap_or_default();
                RenderError::fatal(Error::template(at_line(msg)).hint(
                    "see the list of supported filters and tests in the prov docs; Ansible's Python filter and test plugins are used when ansible-core is installed",
                ))
            }
            kind => {
                let mut msg = match e.detail() {
                    Some(d) => format!("{}: {d}", mj_kind_text(kind)),
                    None => mj_kind_text(kind).to_string(),
                };
                if let Some(s) = &snippet {
                    msg.push_str(&format!(" in `{}`", chains::unwrap_divisors(s)));
                }
                let mut err = Error::template(at_line(msg));
                if kind == MjKind::UnknownFilter || kind == MjKind::UnknownTest {
                    err = err.hint("see the list of supported filters and tests in the prov docs");
                }
                RenderError::fatal(err)
            }
        }
    }

    /// Finds which variable a failed template referenced but could not resolve.
    fn undefined_message(
        &self,
        name: &str,
        src: &str,
        offset: usize,
        snippet: Option<&str>,
        ctx: &Context,
        frame: &Frame,
    ) -> Option<String> {
        let env = self.env();
        let tmpl = env.get_template(name).ok()?;
        let mut paths: Vec<String> = tmpl.undeclared_variables(true).into_iter().collect();
        let body = &src[offset.min(src.len())..];
        let pos = |p: &str| {
            let root = p.split('.').next().unwrap_or(p);
            let in_snippet = snippet.is_some_and(|s| s.contains(root));
            (
                !in_snippet,
                find_word(body, root).unwrap_or(usize::MAX),
                p.len(),
            )
        };
        paths.sort_by_key(|p| pos(p));
        for path in &paths {
            let (root, segs) = split_path(path);
            if let Some((_, inner)) = frame.undefined.iter().find(|(n, _)| *n == root) {
                return Some(inner.msg.clone());
            }
            if root == EXPR_VAR
                || root == chains::UNDEF
                || root == "vars"
                || self.inner.globals.contains(root)
            {
                continue;
            }
            if ctx.get_raw(root).is_none() {
                return Some(format!("'{root}' is undefined"));
            }
            if let Some(m) = explain_path(root, &segs, ctx) {
                return Some(m);
            }
        }
        frame.undefined.first().map(|(_, e)| e.msg.clone())
    }
}

/// Why the variable path `root` + `segs` is undefined, walking it in `ctx`: the first step
/// that is missing, named as Jinja names it (`list object has no element 0`).
fn explain_path(root: &str, segs: &[Seg], ctx: &Context) -> Option<String> {
    let Ok(Some(mut cur)) = ctx.resolve(root) else {
        return None;
    };
    let mut walked = root.to_string();
    for seg in segs {
        let (next, shown) = match seg {
            Seg::Attr(a) => (cur.get_attr(a).unwrap_or_default(), format!(".{a}")),
            Seg::Item(k) => (
                cur.get_item(k).unwrap_or_default(),
                format!("[{}]", filters::py_repr(k)),
            ),
        };
        if next.is_undefined() {
            if let Seg::Item(k) = seg
                && k.is_number()
                && cur.kind() == ValueKind::Seq
            {
                // Jinja's words (tests look for them), and how many there are
                return Some(format!(
                    "'{walked}{shown}' is undefined (list object has no element {k}: \
                     '{walked}' has {} items)",
                    cur.len().unwrap_or(0)
                ));
            }
            let what = match seg {
                Seg::Attr(a) => format!("no attribute '{a}'"),
                Seg::Item(k) => format!("no key {}", filters::py_repr(k)),
            };
            let owner = if matches!(cur.kind(), ValueKind::Map | ValueKind::Seq) {
                format!("'{walked}'")
            } else {
                format!("'{}' object", filters::type_name(&cur))
            };
            return Some(format!(
                "'{walked}{shown}' is undefined ({owner} has {what})"
            ));
        }
        walked.push_str(&shown);
        cur = next;
    }
    None
}

/// A string literal Python cannot decode (`'\x4'`), reported like Jinja's syntax error.
fn literal_error(msg: String) -> RenderError {
    RenderError::fatal(
        Error::template(format!("template syntax error: {msg}"))
            .hint("a backslash in a Jinja string starts an escape; write \\ for a backslash"),
    )
}

/// An undefined-variable error, with a "did you mean" hint for a misspelt variable name.
fn undefined_error(msg: String, ctx: &Context) -> Error {
    let name = msg
        .strip_prefix('\'')
        .and_then(|m| m.split_once("' is undefined"))
        .map(|(n, _)| n)
        .filter(|n| n.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_'));
    let hint = name.and_then(|n| {
        let names = ctx.names();
        crate::error::did_you_mean(n, names.iter().map(String::as_str))
            .map(|s| format!("did you mean '{s}'?"))
    });
    let err = Error::template(msg);
    match hint {
        Some(h) => err.hint(h),
        None => err,
    }
}

/// One step of a variable path from `undeclared_variables`.
enum Seg {
    Attr(String),
    Item(Value),
}

/// Splits `a.b[0]['c']` into the root name and its steps.
fn split_path(path: &str) -> (&str, Vec<Seg>) {
    let end = path.find(['.', '[']).unwrap_or(path.len());
    let root = &path[..end];
    let mut segs = Vec::new();
    let mut rest = &path[end..];
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let e = r.find(['.', '[']).unwrap_or(r.len());
            segs.push(Seg::Attr(r[..e].to_string()));
            rest = &r[e..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let Some(e) = r.find(']') else { break };
            let lit = r[..e].trim();
            let key = if let Ok(i) = lit.parse::<i64>() {
                Value::from(i)
            } else {
                Value::from(lit.trim_matches(['\'', '"']))
            };
            segs.push(Seg::Item(key));
            rest = &r[e + 1..];
        } else {
            break;
        }
    }
    (root, segs)
}

fn find_word(hay: &str, word: &str) -> Option<usize> {
    let b = hay.as_bytes();
    let is_ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut start = 0;
    while let Some(i) = hay[start..].find(word) {
        let at = start + i;
        let end = at + word.len();
        let before_ok = at == 0 || !is_ident(b[at - 1]);
        let after_ok = end >= b.len() || !is_ident(b[end]);
        if before_ok && after_ok {
            return Some(at);
        }
        start = at + 1;
    }
    None
}

fn mj_kind_text(kind: MjKind) -> &'static str {
    match kind {
        MjKind::NonPrimitive => "not a primitive value",
        MjKind::NonKey => "not a valid key",
        MjKind::InvalidOperation => "invalid operation",
        MjKind::SyntaxError => "syntax error",
        MjKind::TemplateNotFound => "template not found",
        MjKind::TooManyArguments => "too many arguments",
        MjKind::MissingArgument => "missing argument",
        MjKind::UnknownFilter => "unknown filter",
        MjKind::UnknownTest => "unknown test",
        MjKind::UnknownFunction => "unknown function",
        MjKind::UnknownMethod => "unknown method",
        MjKind::BadEscape => "bad string escape",
        MjKind::UndefinedError => "undefined value",
        MjKind::BadSerialization => "could not serialize value",
        MjKind::BadInclude => "could not render an included template",
        MjKind::EvalBlock => "could not render block",
        MjKind::CannotUnpack => "cannot unpack value",
        MjKind::WriteFailure => "failed to write output",
        _ => "template error",
    }
}

/// Converts a minijinja error outside a template (no context to name variables).
fn mj_plain(e: minijinja::Error) -> Error {
    match e.detail() {
        Some(d) => Error::template(format!("{}: {d}", mj_kind_text(e.kind()))),
        None => Error::template(mj_kind_text(e.kind())),
    }
}

/// Python's truthiness.
pub fn truthy_py(v: &Value) -> bool {
    v.is_true()
}
