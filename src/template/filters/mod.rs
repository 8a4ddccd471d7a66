//! Ansible's filters, with Ansible's (Python's) semantics and argument forms, one file per topic:
//! [`python`] (Python's `str`/`repr`, ordering and the conversion filters), [`json_yaml`],
//! [`strings`], [`regexp`], [`lists`], [`dicts`], [`paths`], [`hashing`] and [`dates`]. This file
//! holds what they share: Python-style argument binding ([`Args`]) and value coercions.
//!
//! minijinja's builtins (`map`, `select`, `selectattr`, `default`, `length`, `unique`, `replace`,
//! `lower`, `trim`, `dictsort`, ...) are kept; those whose Jinja2/Ansible behaviour
//! differs (`bool`, `int`, `float`, `string`, `join`, `sort`, `min`, `max`, `sum`) are replaced.
//! Every error message starts with the filter's name.

mod dates;
mod dicts;
pub(crate) mod hashing;
mod json_yaml;
mod lists;
mod paths;
mod python;
mod regexp;
mod strings;

pub use python::{py_repr, py_str, to_bool, type_name};
pub use regexp::py_regex;

use crate::value::Value;
use minijinja::value::ValueKind;
use minijinja::{Environment, Error, ErrorKind};

/// Registers every filter (and the `now()` function).
pub(crate) fn register(env: &mut Environment<'static>) {
    let mut reg = Reg(env);
    let env = &mut reg;
    dates::register(env);
    hashing::register(env);
    lists::register(env);
    strings::register(env);
    paths::register(env);
    json_yaml::register(env);
    python::register(env);
    regexp::register(env);
    dicts::register(env);
    // minijinja's own filters that prov keeps, guarded the same way.
    use minijinja::filters as jinja;
    env.add_filter("lower", jinja::lower);
    env.add_filter("upper", jinja::upper);
    env.add_filter("title", jinja::title);
    env.add_filter("capitalize", jinja::capitalize);
    env.add_filter("replace", jinja::replace);
    env.add_filter("length", jinja::length);
    env.add_filter("count", jinja::length);
    env.add_filter("dictsort", jinja::dictsort);
    env.add_filter("items", jinja::items);
    env.add_filter("reverse", jinja::reverse);
    env.add_filter("trim", jinja::trim);
    env.add_filter("split", jinja::split);
    env.add_filter("round", jinja::round);
    env.add_filter("first", jinja::first);
    env.add_filter("last", jinja::last);
    env.add_filter("indent", jinja::indent);
    env.add_filter("format", jinja::format);
}

/// Filter registration that makes a filter fail, as Ansible's do, when its input or an
/// argument is vault ciphertext that could not be decrypted (no vault password): only the
/// filters that handle ciphertext themselves (`unvault`, `default`, ...) are registered
/// unguarded, through [`Reg::raw`].
pub(super) struct Reg<'a>(&'a mut Environment<'static>);

impl Reg<'_> {
    /// Registers `f` as filter `name`, guarded against undecryptable vault text.
    pub(super) fn add_filter<F, Rv, A>(&mut self, name: &'static str, f: F)
    where
        F: minijinja::functions::Function<Rv, A>,
        Rv: minijinja::value::FunctionResult,
        A: for<'a> minijinja::value::FunctionArgs<'a>,
    {
        let inner = Value::from_function(f);
        self.0.add_filter(
            name,
            move |state: &minijinja::State, args: minijinja::value::Rest<Value>| {
                if args
                    .iter()
                    .any(|a| a.downcast_object_ref::<crate::value::VaultText>().is_some())
                {
                    return Err(Error::new(ErrorKind::InvalidOperation, UNDECRYPTABLE));
                }
                inner.call(state, &args)
            },
        );
    }

    /// The environment itself: filters that accept vault text, and functions.
    pub(super) fn raw(&mut self) -> &mut Environment<'static> {
        self.0
    }
}

/// Ansible's message for a filter given vault text it could not decrypt.
pub(crate) const UNDECRYPTABLE: &str =
    "Attempt to use undecryptable variable: Attempting to decrypt but no vault secrets found.";

pub(super) type R<T = Value> = Result<T, Error>;

/// An error from filter `name`.
pub(crate) fn ferr(name: &str, msg: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::InvalidOperation, format!("{name}: {msg}"))
}

/// Arguments bound to parameter names the way Python binds them (positional, then keywords).
pub(crate) struct Args {
    name: &'static str,
    params: &'static [&'static str],
    vals: Vec<Option<Value>>,
}

impl Args {
    pub(crate) fn bind(
        name: &'static str,
        params: &'static [&'static str],
        args: &[Value],
    ) -> R<Args> {
        let (pos, kw) = split_kwargs(args);
        if pos.len() > params.len() {
            return Err(ferr(
                name,
                format!(
                    "takes at most {} arguments, {} given",
                    params.len(),
                    pos.len()
                ),
            ));
        }
        let mut vals: Vec<Option<Value>> = vec![None; params.len()];
        for (i, v) in pos.iter().enumerate() {
            vals[i] = Some(v.clone());
        }
        for (k, v) in kw {
            match params.iter().position(|p| *p == k) {
                Some(i) => vals[i] = Some(v),
                None => {
                    return Err(ferr(name, format!("unexpected keyword argument '{k}'")));
                }
            }
        }
        Ok(Args { name, params, vals })
    }
    fn idx(&self, p: &str) -> usize {
        self.params
            .iter()
            .position(|x| *x == p)
            .unwrap_or(usize::MAX)
    }
    pub(crate) fn get(&self, p: &str) -> Option<&Value> {
        self.vals
            .get(self.idx(p))
            .and_then(|v| v.as_ref())
            .filter(|v| !v.is_undefined())
    }
    pub(crate) fn req(&self, p: &str) -> R<&Value> {
        self.get(p)
            .ok_or_else(|| ferr(self.name, format!("missing required argument '{p}'")))
    }
    pub(crate) fn str_or(&self, p: &str, d: &str) -> String {
        match self.get(p) {
            Some(v) if !v.is_none() => py_str(v),
            _ => d.to_string(),
        }
    }
    pub(crate) fn bool_or(&self, p: &str, d: bool) -> bool {
        self.get(p).map(|v| v.is_true()).unwrap_or(d)
    }
    pub(crate) fn int_or(&self, p: &str, d: i64) -> R<i64> {
        match self.get(p) {
            None => Ok(d),
            Some(v) if v.is_none() => Ok(d),
            Some(v) => {
                to_i64(v).ok_or_else(|| ferr(self.name, format!("'{p}' must be an integer")))
            }
        }
    }
}

/// Splits trailing keyword arguments from positional ones.
pub(crate) fn split_kwargs(args: &[Value]) -> (Vec<Value>, Vec<(String, Value)>) {
    match args.last() {
        Some(last) if last.is_kwargs() => {
            let kw = last
                .try_iter()
                .map(|it| {
                    it.map(|k| {
                        let v = last.get_item(&k).unwrap_or_default();
                        (k.to_string(), v)
                    })
                    .collect()
                })
                .unwrap_or_default();
            (args[..args.len() - 1].to_vec(), kw)
        }
        _ => (args.to_vec(), Vec::new()),
    }
}

pub(super) fn to_i64(v: &Value) -> Option<i64> {
    if let Some(i) = v.as_i64() {
        return Some(i);
    }
    match v.kind() {
        ValueKind::Bool => Some(v.is_true() as i64),
        ValueKind::Number => f64::try_from(v.clone()).ok().map(|f| f as i64),
        ValueKind::String => v.as_str()?.trim().parse().ok(),
        _ => None,
    }
}

pub(super) fn to_f64(v: &Value) -> Option<f64> {
    match v.kind() {
        ValueKind::Number => f64::try_from(v.clone()).ok(),
        ValueKind::Bool => Some(v.is_true() as i64 as f64),
        ValueKind::String => v.as_str()?.trim().parse().ok(),
        _ => None,
    }
}

pub(super) fn items(name: &str, v: &Value) -> R<Vec<Value>> {
    if v.is_undefined() {
        return Err(Error::from(ErrorKind::UndefinedError));
    }
    if v.is_none() {
        return Err(ferr(name, "expected a list, got None"));
    }
    if v.kind() == ValueKind::String {
        return Ok(v
            .as_str()
            .unwrap_or_default()
            .chars()
            .map(Value::from)
            .collect());
    }
    v.try_iter()
        .map(|it| it.collect())
        .map_err(|_| ferr(name, format!("expected a list, got {}", type_name(v))))
}

pub(super) fn map_entries(name: &str, v: &Value) -> R<Vec<(Value, Value)>> {
    if v.is_undefined() {
        return Err(Error::from(ErrorKind::UndefinedError));
    }
    if v.kind() != ValueKind::Map {
        return Err(ferr(
            name,
            format!("expected a dictionary, got {}", type_name(v)),
        ));
    }
    let keys: Vec<Value> = v.try_iter().map_err(|e| ferr(name, e))?.collect();
    Ok(keys
        .into_iter()
        .map(|k| {
            let val = v.get_item(&k).unwrap_or_default();
            (k, val)
        })
        .collect())
}

pub(super) fn num(v: &Value) -> Option<f64> {
    f64::try_from(v.clone())
        .ok()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}
