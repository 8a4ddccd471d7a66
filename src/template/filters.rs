//! Ansible's filters, with Ansible's (Python's) semantics and argument forms.
//!
//! minijinja's builtins (`map`, `select`, `selectattr`, `default`, `length`, `unique`, `replace`,
//! `lower`, `trim`, `dictsort`, `urlencode`, ...) are kept; those whose Jinja2/Ansible behaviour
//! differs (`bool`, `int`, `float`, `string`, `join`, `sort`, `min`, `max`, `sum`) are replaced.
//! Every error message starts with the filter's name.

use crate::value::Value;
use base64::Engine as _;
use indexmap::IndexMap;
use minijinja::value::{Rest, ValueKind};
use minijinja::{Environment, Error, ErrorKind, State};
use std::cmp::Ordering;
use std::fmt::Write as _;

type R<T = Value> = Result<T, Error>;

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

fn to_i64(v: &Value) -> Option<i64> {
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

fn to_f64(v: &Value) -> Option<f64> {
    match v.kind() {
        ValueKind::Number => f64::try_from(v.clone()).ok(),
        ValueKind::Bool => Some(v.is_true() as i64 as f64),
        ValueKind::String => v.as_str()?.trim().parse().ok(),
        _ => None,
    }
}

fn items(name: &str, v: &Value) -> R<Vec<Value>> {
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

fn map_entries(name: &str, v: &Value) -> R<Vec<(Value, Value)>> {
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

/// Python's type name for a value (`type_debug`).
pub fn type_name(v: &Value) -> &'static str {
    match v.kind() {
        ValueKind::Undefined => "AnsibleUndefined",
        ValueKind::None => "NoneType",
        ValueKind::Bool => "bool",
        ValueKind::Number => {
            if v.is_integer() {
                "int"
            } else {
                "float"
            }
        }
        ValueKind::String => "str",
        ValueKind::Bytes => "bytes",
        ValueKind::Seq => "list",
        ValueKind::Map => "dict",
        _ => "object",
    }
}

fn fmt_float(f: f64) -> String {
    if f.is_nan() {
        "nan".into()
    } else if f.is_infinite() {
        if f > 0.0 { "inf".into() } else { "-inf".into() }
    } else if f != 0.0 && (f.abs() >= 1e16 || f.abs() < 1e-4) {
        // Python's repr switches to exponent notation: 1e+16, 1.5e-05.
        let e = format!("{f:e}");
        let (m, exp) = e.split_once('e').unwrap_or((&e, "0"));
        let (sign, digits) = match exp.strip_prefix('-') {
            Some(d) => ('-', d),
            None => ('+', exp),
        };
        format!("{m}e{sign}{digits:0>2}")
    } else if f.fract() == 0.0 {
        format!("{f:.1}")
    } else {
        format!("{f}")
    }
}

/// Python's `str()` of a value: strings as they are, `True`/`False`/`None`, containers as
/// Python's `repr`.
pub fn py_str(v: &Value) -> String {
    match v.kind() {
        ValueKind::String => v.as_str().unwrap_or_default().to_string(),
        ValueKind::Undefined => String::new(),
        _ => py_repr(v),
    }
}

/// Python's `repr()` of a value.
pub fn py_repr(v: &Value) -> String {
    let mut out = String::new();
    repr_into(v, &mut out);
    out
}

fn repr_str(s: &str, out: &mut String) {
    let q = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(q);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == q => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push(q);
}

fn repr_into(v: &Value, out: &mut String) {
    match v.kind() {
        ValueKind::Undefined => {}
        ValueKind::None => out.push_str("None"),
        ValueKind::Bool => out.push_str(if v.is_true() { "True" } else { "False" }),
        ValueKind::Number => {
            if v.is_integer() {
                out.push_str(&v.to_string());
            } else {
                out.push_str(&fmt_float(f64::try_from(v.clone()).unwrap_or(f64::NAN)));
            }
        }
        ValueKind::String => repr_str(v.as_str().unwrap_or_default(), out),
        ValueKind::Seq => {
            out.push('[');
            if let Ok(it) = v.try_iter() {
                for (i, x) in it.enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    repr_into(&x, out);
                }
            }
            out.push(']');
        }
        ValueKind::Map => {
            out.push('{');
            if let Ok(it) = v.try_iter() {
                for (i, k) in it.enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    repr_into(&k, out);
                    out.push_str(": ");
                    repr_into(&v.get_item(&k).unwrap_or_default(), out);
                }
            }
            out.push('}');
        }
        _ => out.push_str(&v.to_string()),
    }
}

// ---------------------------------------------------------------- JSON (Python's json.dumps)

/// Options of Python's `json.dumps`.
pub struct JsonOpts {
    /// Pretty-print with this indent.
    pub indent: Option<usize>,
    /// Sort mapping keys.
    pub sort_keys: bool,
    /// Escape non-ASCII as `\uXXXX`.
    pub ensure_ascii: bool,
    /// Separator between items.
    pub item_sep: String,
    /// Separator between a key and its value.
    pub key_sep: String,
}

/// Serializes like Python's `json.dumps` (Ansible's `to_json`/`to_nice_json`).
pub fn py_json(v: &Value, o: &JsonOpts) -> R<String> {
    let mut out = String::new();
    json_into(v, o, 0, &mut out)?;
    Ok(out)
}

fn json_str(s: &str, ascii: bool, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if ascii && (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for u in c.encode_utf16(&mut buf) {
                    let _ = write!(out, "\\u{u:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn json_into(v: &Value, o: &JsonOpts, level: usize, out: &mut String) -> R<()> {
    let nl = |out: &mut String, level: usize| {
        if let Some(ind) = o.indent {
            out.push('\n');
            out.push_str(&" ".repeat(ind * level));
        }
    };
    match v.kind() {
        ValueKind::Undefined => return Err(Error::from(ErrorKind::UndefinedError)),
        ValueKind::Invalid => return Err(ferr("to_json", v.to_string())),
        ValueKind::None => out.push_str("null"),
        ValueKind::Bool => out.push_str(if v.is_true() { "true" } else { "false" }),
        ValueKind::Number => {
            if v.is_integer() {
                out.push_str(&v.to_string());
            } else {
                let f = f64::try_from(v.clone()).unwrap_or(f64::NAN);
                out.push_str(&match fmt_float(f).as_str() {
                    "nan" => "NaN".to_string(),
                    "inf" => "Infinity".to_string(),
                    "-inf" => "-Infinity".to_string(),
                    s => s.to_string(),
                });
            }
        }
        ValueKind::String => json_str(v.as_str().unwrap_or_default(), o.ensure_ascii, out),
        ValueKind::Bytes => json_str(
            &String::from_utf8_lossy(v.as_bytes().unwrap_or_default()),
            o.ensure_ascii,
            out,
        ),
        ValueKind::Seq | ValueKind::Iterable => {
            let xs = items("to_json", v)?;
            if xs.is_empty() {
                out.push_str("[]");
                return Ok(());
            }
            out.push('[');
            for (i, x) in xs.iter().enumerate() {
                if i > 0 {
                    out.push_str(&o.item_sep);
                }
                nl(out, level + 1);
                json_into(x, o, level + 1, out)?;
            }
            nl(out, level);
            out.push(']');
        }
        ValueKind::Map => {
            let mut es = map_entries("to_json", v)?;
            if es.is_empty() {
                out.push_str("{}");
                return Ok(());
            }
            if o.sort_keys {
                es.sort_by(|a, b| py_cmp(&a.0, &b.0));
            }
            out.push('{');
            for (i, (k, x)) in es.iter().enumerate() {
                if i > 0 {
                    out.push_str(&o.item_sep);
                }
                nl(out, level + 1);
                let key = match k.kind() {
                    ValueKind::String => k.as_str().unwrap_or_default().to_string(),
                    ValueKind::None => "null".into(),
                    ValueKind::Bool => if k.is_true() { "true" } else { "false" }.into(),
                    _ => k.to_string(),
                };
                json_str(&key, o.ensure_ascii, out);
                out.push_str(&o.key_sep);
                json_into(x, o, level + 1, out)?;
            }
            nl(out, level);
            out.push('}');
        }
        _ => json_str(&v.to_string(), o.ensure_ascii, out),
    }
    Ok(())
}

fn json_opts(a: &Args, indent: Option<usize>, sort: bool, nice: bool) -> R<JsonOpts> {
    let indent = match a.get("indent") {
        Some(v) if v.is_none() => None,
        Some(v) => {
            Some(to_i64(v).ok_or_else(|| ferr(a.name, "indent must be an integer"))? as usize)
        }
        None => indent,
    };
    let (mut item_sep, mut key_sep) = if nice || indent.is_some() {
        (",".to_string(), ": ".to_string())
    } else {
        (", ".to_string(), ": ".to_string())
    };
    if let Some(seps) = a.get("separators") {
        let s = items(a.name, seps)?;
        if s.len() == 2 {
            item_sep = py_str(&s[0]);
            key_sep = py_str(&s[1]);
        }
    }
    Ok(JsonOpts {
        indent,
        sort_keys: a.bool_or("sort_keys", sort),
        ensure_ascii: a.bool_or("ensure_ascii", true),
        item_sep,
        key_sep,
    })
}

fn to_json(v: Value, args: Rest<Value>) -> R {
    let a = Args::bind(
        "to_json",
        &["indent", "sort_keys", "ensure_ascii", "separators"],
        &args,
    )?;
    py_json(&v, &json_opts(&a, None, false, false)?).map(Value::from)
}

fn to_nice_json(v: Value, args: Rest<Value>) -> R {
    let a = Args::bind(
        "to_nice_json",
        &["indent", "sort_keys", "ensure_ascii", "separators"],
        &args,
    )?;
    py_json(&v, &json_opts(&a, Some(4), true, true)?).map(Value::from)
}

fn from_json(v: Value) -> R {
    let s = v
        .as_str()
        .ok_or_else(|| ferr("from_json", "expected a string"))?;
    let j: serde_json::Value =
        serde_json::from_str(s).map_err(|e| ferr("from_json", format!("invalid JSON: {e}")))?;
    Ok(Value::from_serialize(&j))
}

// ---------------------------------------------------------------- YAML (PyYAML's dump)

/// True if `s` can be written as a plain YAML scalar and read back as the same string.
fn yaml_plain_ok(s: &str, flow: bool) -> bool {
    if s.is_empty() || s.trim() != s || s.contains('\n') {
        return false;
    }
    if !matches!(
        crate::yaml::resolve_plain(s),
        crate::yaml::NodeValue::Str(_)
    ) {
        return false;
    }
    if matches!(s, "=" | "<<") {
        return false;
    }
    let first = s.chars().next().unwrap_or(' ');
    if "#,[]{}&*!|>'\"%@`".contains(first) {
        return false;
    }
    if matches!(first, '-' | '?' | ':') && s.chars().nth(1).is_none_or(|c| c == ' ') {
        return false;
    }
    if s.contains(": ") || s.contains(" #") || s.ends_with(':') {
        return false;
    }
    if flow && s.contains([',', '[', ']', '{', '}']) {
        return false;
    }
    s.chars().all(|c| !c.is_control())
}

fn yaml_scalar(v: &Value, flow: bool) -> R<String> {
    Ok(match v.kind() {
        ValueKind::Undefined => return Err(Error::from(ErrorKind::UndefinedError)),
        ValueKind::None => "null".into(),
        ValueKind::Bool => if v.is_true() { "true" } else { "false" }.into(),
        ValueKind::Number => {
            if v.is_integer() {
                v.to_string()
            } else {
                let f = f64::try_from(v.clone()).unwrap_or(f64::NAN);
                match fmt_float(f).as_str() {
                    "nan" => ".nan".into(),
                    "inf" => ".inf".into(),
                    "-inf" => "-.inf".into(),
                    s => s.to_string(),
                }
            }
        }
        _ => {
            let s = py_str(v);
            if yaml_plain_ok(&s, flow) {
                s
            } else if s.chars().any(|c| c.is_control() && c != '\t') {
                let mut out = String::new();
                json_str(&s, false, &mut out);
                out
            } else {
                format!("'{}'", s.replace('\'', "''"))
            }
        }
    })
}

fn is_collection(v: &Value) -> bool {
    matches!(v.kind(), ValueKind::Seq | ValueKind::Map)
}

fn yaml_flow(v: &Value) -> R<String> {
    match v.kind() {
        ValueKind::Seq => {
            let xs = items("to_yaml", v)?;
            let parts: R<Vec<String>> = xs.iter().map(yaml_flow).collect();
            Ok(format!("[{}]", parts?.join(", ")))
        }
        ValueKind::Map => {
            let mut es = map_entries("to_yaml", v)?;
            es.sort_by(|a, b| py_cmp(&a.0, &b.0));
            let mut parts = Vec::new();
            for (k, x) in es {
                parts.push(format!("{}: {}", yaml_scalar(&k, true)?, yaml_flow(&x)?));
            }
            Ok(format!("{{{}}}", parts.join(", ")))
        }
        _ => yaml_scalar(v, true),
    }
}

/// PyYAML-style dump. `flow_leaves`: collections without nested collections are written in flow
/// style (`default_flow_style=None`); otherwise block style everywhere.
pub fn py_yaml(v: &Value, indent: usize, flow_leaves: bool) -> R<String> {
    let mut out = String::new();
    if !is_collection(v) {
        out.push_str(&yaml_scalar(v, false)?);
        out.push('\n');
        return Ok(out);
    }
    let use_flow = |x: &Value| -> R<bool> {
        if x.len() == Some(0) {
            return Ok(true);
        }
        if !flow_leaves {
            return Ok(false);
        }
        let inner: Vec<Value> = if x.kind() == ValueKind::Map {
            map_entries("to_yaml", x)?
                .into_iter()
                .map(|(_, v)| v)
                .collect()
        } else {
            items("to_yaml", x)?
        };
        Ok(!inner.iter().any(is_collection))
    };
    if use_flow(v)? {
        out.push_str(&yaml_flow(v)?);
        out.push('\n');
        return Ok(out);
    }
    yaml_block(v, 0, indent, &use_flow, &mut out)?;
    Ok(out)
}

/// Writes a block collection whose first line continues the current line at column `col`
/// (all later lines are indented to `col`).
fn yaml_block(
    v: &Value,
    col: usize,
    indent: usize,
    use_flow: &dyn Fn(&Value) -> R<bool>,
    out: &mut String,
) -> R<()> {
    let pad = " ".repeat(col);
    let mut first = true;
    let mut line_start = |out: &mut String| {
        if !first {
            out.push_str(&pad);
        }
        first = false;
    };
    if v.kind() == ValueKind::Map {
        let mut es = map_entries("to_yaml", v)?;
        es.sort_by(|a, b| py_cmp(&a.0, &b.0));
        for (k, x) in es {
            line_start(out);
            out.push_str(&yaml_scalar(&k, false)?);
            out.push(':');
            if is_collection(&x) && !use_flow(&x)? {
                out.push('\n');
                if x.kind() == ValueKind::Seq {
                    out.push_str(&pad);
                    yaml_block(&x, col, indent, use_flow, out)?;
                } else {
                    let c = col + indent;
                    out.push_str(&" ".repeat(c));
                    yaml_block(&x, c, indent, use_flow, out)?;
                }
            } else {
                out.push(' ');
                out.push_str(&if is_collection(&x) {
                    yaml_flow(&x)?
                } else {
                    yaml_scalar(&x, false)?
                });
                out.push('\n');
            }
        }
    } else {
        for x in items("to_yaml", v)? {
            line_start(out);
            out.push('-');
            let c = col + indent;
            if is_collection(&x) && !use_flow(&x)? {
                out.push_str(&" ".repeat(indent - 1));
                yaml_block(&x, c, indent, use_flow, out)?;
            } else {
                out.push(' ');
                out.push_str(&if is_collection(&x) {
                    yaml_flow(&x)?
                } else {
                    yaml_scalar(&x, false)?
                });
                out.push('\n');
            }
        }
    }
    Ok(())
}

fn to_yaml(v: Value, args: Rest<Value>) -> R {
    let a = Args::bind(
        "to_yaml",
        &[
            "indent",
            "default_flow_style",
            "width",
            "sort_keys",
            "allow_unicode",
        ],
        &args,
    )?;
    let indent = a.int_or("indent", 2)?.clamp(2, 9) as usize;
    match a.get("default_flow_style") {
        Some(f) if f.is_true() => Ok(Value::from(format!("{}\n", yaml_flow(&v)?))),
        Some(f) if !f.is_none() => py_yaml(&v, indent, false).map(Value::from),
        _ => py_yaml(&v, indent, true).map(Value::from),
    }
}

fn to_nice_yaml(v: Value, args: Rest<Value>) -> R {
    let a = Args::bind(
        "to_nice_yaml",
        &[
            "indent",
            "default_flow_style",
            "width",
            "sort_keys",
            "allow_unicode",
        ],
        &args,
    )?;
    let indent = a.int_or("indent", 4)?.clamp(2, 9) as usize;
    py_yaml(&v, indent, false).map(Value::from)
}

fn from_yaml(v: Value) -> R {
    let s = v
        .as_str()
        .ok_or_else(|| ferr("from_yaml", "expected a string"))?;
    crate::yaml::load_str(s, std::path::Path::new("<from_yaml>"))
        .map(|n| n.to_value())
        .map_err(|e| ferr("from_yaml", e.msg.clone()))
}

// ---------------------------------------------------------------- comparisons

/// Python-like ordering: numbers numerically, strings lexically, lists element-wise; values of
/// different types order by type name.
pub fn py_cmp(a: &Value, b: &Value) -> Ordering {
    match (a.kind(), b.kind()) {
        (ValueKind::Number | ValueKind::Bool, ValueKind::Number | ValueKind::Bool) => {
            let (x, y) = (to_f64(a).unwrap_or(0.0), to_f64(b).unwrap_or(0.0));
            x.partial_cmp(&y).unwrap_or(Ordering::Equal)
        }
        (ValueKind::String, ValueKind::String) => a.as_str().cmp(&b.as_str()),
        (ValueKind::Seq, ValueKind::Seq) => {
            let (x, y) = (
                items("sort", a).unwrap_or_default(),
                items("sort", b).unwrap_or_default(),
            );
            for (p, q) in x.iter().zip(y.iter()) {
                let o = py_cmp(p, q);
                if o != Ordering::Equal {
                    return o;
                }
            }
            x.len().cmp(&y.len())
        }
        (ka, kb) if ka == kb => a.cmp(b),
        _ => type_name(a).cmp(type_name(b)),
    }
}

fn attr_path(v: &Value, attr: &str) -> Value {
    let mut cur = v.clone();
    for seg in attr.split('.') {
        cur = match seg.parse::<usize>() {
            Ok(i) if cur.kind() == ValueKind::Seq => cur.get_item_by_index(i).unwrap_or_default(),
            _ => cur.get_attr(seg).unwrap_or_default(),
        };
    }
    cur
}

fn sort_key(v: &Value, attr: Option<&str>, case_sensitive: bool) -> Value {
    let v = match attr {
        Some(a) => attr_path(v, a),
        None => v.clone(),
    };
    match v.as_str() {
        Some(s) if !case_sensitive => Value::from(s.to_lowercase()),
        _ => v,
    }
}

fn sort(v: Value, args: Rest<Value>) -> R {
    let a = Args::bind("sort", &["reverse", "case_sensitive", "attribute"], &args)?;
    let mut xs = items("sort", &v)?;
    let attr = a.get("attribute").map(py_str);
    let cs = a.bool_or("case_sensitive", false);
    let mut keyed: Vec<(Value, Value)> = xs
        .drain(..)
        .map(|x| (sort_key(&x, attr.as_deref(), cs), x))
        .collect();
    keyed.sort_by(|p, q| py_cmp(&p.0, &q.0));
    if a.bool_or("reverse", false) {
        keyed.reverse();
    }
    Ok(Value::from(
        keyed.into_iter().map(|(_, x)| x).collect::<Vec<_>>(),
    ))
}

fn min_max(name: &'static str, v: Value, args: Rest<Value>, want: Ordering) -> R {
    let a = Args::bind(name, &["case_sensitive", "attribute"], &args)?;
    let xs = items(name, &v)?;
    let attr = a.get("attribute").map(py_str);
    let cs = a.bool_or("case_sensitive", false);
    let mut best: Option<(Value, Value)> = None;
    for x in xs {
        let k = sort_key(&x, attr.as_deref(), cs);
        if best.as_ref().is_none_or(|(bk, _)| py_cmp(&k, bk) == want) {
            best = Some((k, x));
        }
    }
    Ok(best.map(|(_, x)| x).unwrap_or(Value::UNDEFINED))
}

fn min(v: Value, args: Rest<Value>) -> R {
    min_max("min", v, args, Ordering::Less)
}

fn max(v: Value, args: Rest<Value>) -> R {
    min_max("max", v, args, Ordering::Greater)
}

fn add(name: &str, a: &Value, b: &Value) -> R {
    match (a.kind(), b.kind()) {
        (ValueKind::Seq, ValueKind::Seq) => {
            let mut x = items(name, a)?;
            x.extend(items(name, b)?);
            Ok(Value::from(x))
        }
        (ValueKind::String, ValueKind::String) => {
            Ok(Value::from(format!("{}{}", py_str(a), py_str(b))))
        }
        _ => {
            if a.is_integer()
                && b.is_integer()
                && let (Some(x), Some(y)) = (a.as_i64(), b.as_i64())
                && let Some(s) = x.checked_add(y)
            {
                return Ok(Value::from(s));
            }
            match (to_f64(a), to_f64(b)) {
                (Some(x), Some(y))
                    if a.kind() != ValueKind::String && b.kind() != ValueKind::String =>
                {
                    Ok(Value::from(x + y))
                }
                _ => Err(ferr(
                    name,
                    format!(
                        "unsupported operand types for +: '{}' and '{}'",
                        type_name(a),
                        type_name(b)
                    ),
                )),
            }
        }
    }
}

fn sum(v: Value, args: Rest<Value>) -> R {
    let a = Args::bind("sum", &["attribute", "start"], &args)?;
    let attr = a.get("attribute").map(py_str);
    let mut acc = a.get("start").cloned().unwrap_or(Value::from(0));
    for x in items("sum", &v)? {
        let x = match &attr {
            Some(at) => attr_path(&x, at),
            None => x,
        };
        acc = add("sum", &acc, &x)?;
    }
    Ok(acc)
}

// ---------------------------------------------------------------- conversions

/// Ansible's `bool` filter.
pub fn to_bool(v: &Value) -> bool {
    match v.kind() {
        ValueKind::Bool => v.is_true(),
        ValueKind::None | ValueKind::Undefined => false,
        ValueKind::String => matches!(
            v.as_str()
                .unwrap_or_default()
                .trim()
                .to_lowercase()
                .as_str(),
            "yes" | "on" | "1" | "true"
        ),
        ValueKind::Number => to_f64(v) == Some(1.0),
        _ => false,
    }
}

fn bool_filter(v: Value) -> R {
    if v.is_undefined() {
        return Err(Error::from(ErrorKind::UndefinedError));
    }
    Ok(Value::from(to_bool(&v)))
}

fn int_filter(v: Value, args: Rest<Value>) -> R {
    let a = Args::bind("int", &["default", "base"], &args)?;
    let default = a.get("default").cloned().unwrap_or(Value::from(0));
    let base = a.int_or("base", 10)? as u32;
    if v.is_undefined() {
        return Err(Error::from(ErrorKind::UndefinedError));
    }
    Ok(match v.kind() {
        ValueKind::Bool => Value::from(v.is_true() as i64),
        ValueKind::Number => {
            if v.is_integer() {
                v
            } else {
                Value::from(f64::try_from(v.clone()).unwrap_or(0.0).trunc() as i64)
            }
        }
        ValueKind::String => {
            let s = v.as_str().unwrap_or_default().trim().replace('_', "");
            let (neg, body) = match s.strip_prefix('-') {
                Some(b) => (true, b.to_string()),
                None => (false, s.strip_prefix('+').unwrap_or(&s).to_string()),
            };
            let body_l = body.to_ascii_lowercase();
            let stripped = match base {
                16 => body_l.strip_prefix("0x"),
                8 => body_l.strip_prefix("0o"),
                2 => body_l.strip_prefix("0b"),
                _ => None,
            }
            .unwrap_or(&body_l)
            .to_string();
            match i64::from_str_radix(&stripped, base.clamp(2, 36)) {
                Ok(i) => Value::from(if neg { -i } else { i }),
                Err(_) if base == 10 => match s.parse::<f64>() {
                    Ok(f) if f.is_finite() => Value::from(f.trunc() as i64),
                    _ => default,
                },
                Err(_) => default,
            }
        }
        _ => default,
    })
}

fn float_filter(v: Value, args: Rest<Value>) -> R {
    let a = Args::bind("float", &["default"], &args)?;
    let default = a.get("default").cloned().unwrap_or(Value::from(0.0));
    if v.is_undefined() {
        return Err(Error::from(ErrorKind::UndefinedError));
    }
    Ok(match v.kind() {
        ValueKind::Bool | ValueKind::Number => Value::from(to_f64(&v).unwrap_or(0.0)),
        ValueKind::String => match v.as_str().unwrap_or_default().trim().parse::<f64>() {
            Ok(f) => Value::from(f),
            Err(_) => default,
        },
        _ => default,
    })
}

fn string_filter(v: Value) -> R {
    if v.is_undefined() {
        return Err(Error::from(ErrorKind::UndefinedError));
    }
    if v.kind() == ValueKind::String {
        return Ok(v);
    }
    Ok(Value::from(py_str(&v)))
}

fn join(v: Value, args: Rest<Value>) -> R {
    let a = Args::bind("join", &["d", "attribute"], &args)?;
    let sep = a.str_or("d", "");
    let attr = a.get("attribute").map(py_str);
    if v.kind() == ValueKind::String {
        return Ok(v);
    }
    let parts: Vec<String> = items("join", &v)?
        .iter()
        .map(|x| match &attr {
            Some(at) => py_str(&attr_path(x, at)),
            None => py_str(x),
        })
        .collect();
    Ok(Value::from(parts.join(&sep)))
}

fn default(v: Value, args: Rest<Value>) -> R {
    let a = Args::bind("default", &["default_value", "boolean"], &args)?;
    let dv = a.vals[0].clone().unwrap_or(Value::from(""));
    if v.is_undefined() || (a.bool_or("boolean", false) && !v.is_true()) {
        Ok(dv)
    } else {
        Ok(v)
    }
}

fn type_debug(v: Value) -> R {
    Ok(Value::from(type_name(&v)))
}

fn ternary(v: Value, args: Rest<Value>) -> R {
    let a = Args::bind("ternary", &["true_val", "false_val", "none_val"], &args)?;
    if v.is_undefined() {
        return Err(Error::from(ErrorKind::UndefinedError));
    }
    if v.is_none()
        && let Some(n) = a.vals.get(2).and_then(|x| x.clone())
    {
        return Ok(n);
    }
    let pick = if v.is_true() { 0 } else { 1 };
    Ok(a.vals
        .get(pick)
        .and_then(|x| x.clone())
        .unwrap_or(Value::from(v.is_true())))
}

fn mandatory(v: Value, args: Rest<Value>) -> R {
    let a = Args::bind("mandatory", &["msg"], &args)?;
    if v.is_undefined() {
        let msg = a.str_or("msg", "Mandatory variable not defined.");
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("mandatory: {msg}"),
        ));
    }
    Ok(v)
}

// ---------------------------------------------------------------- strings, paths, hashes

fn b64encode(v: Value, args: Rest<Value>) -> R {
    let _ = Args::bind("b64encode", &["encoding"], &args)?;
    Ok(Value::from(
        base64::engine::general_purpose::STANDARD.encode(py_str(&v)),
    ))
}

fn b64decode(v: Value, args: Rest<Value>) -> R {
    let _ = Args::bind("b64decode", &["encoding"], &args)?;
    let s = py_str(&v);
    let clean: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(clean.as_bytes())
        .or_else(|_| {
            base64::engine::general_purpose::STANDARD_NO_PAD.decode(clean.trim_end_matches('='))
        })
        .map_err(|e| ferr("b64decode", format!("invalid base64: {e}")))?;
    Ok(Value::from(String::from_utf8_lossy(&bytes).into_owned()))
}

/// Python's `os.path.basename`.
pub fn basename(p: &str) -> &str {
    p.rsplit('/').next().unwrap_or(p)
}

/// Python's `os.path.dirname`.
pub fn dirname(p: &str) -> String {
    match p.rfind('/') {
        None => String::new(),
        Some(i) => {
            let head = &p[..=i];
            let trimmed = head.trim_end_matches('/');
            if trimmed.is_empty() {
                head.to_string()
            } else {
                trimmed.to_string()
            }
        }
    }
}

fn expanduser(p: &str) -> String {
    let home = std::env::var("HOME").unwrap_or_default();
    if p == "~" {
        home
    } else if let Some(rest) = p.strip_prefix("~/") {
        format!("{}/{rest}", home.trim_end_matches('/'))
    } else {
        p.to_string()
    }
}

/// Python's `os.path.normpath` of an absolute or relative path.
pub(crate) fn normpath(p: &str) -> String {
    let abs = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !abs {
                    parts.push("..");
                }
            }
            s => parts.push(s),
        }
    }
    let joined = parts.join("/");
    if abs {
        format!("/{joined}")
    } else if joined.is_empty() {
        ".".into()
    } else {
        joined
    }
}

fn realpath(p: &str) -> String {
    match std::fs::canonicalize(p) {
        Ok(c) => c.to_string_lossy().into_owned(),
        Err(_) => {
            let abs = if p.starts_with('/') {
                p.to_string()
            } else {
                let cwd = std::env::current_dir().unwrap_or_default();
                format!("{}/{p}", cwd.display())
            };
            normpath(&abs)
        }
    }
}

fn splitext(p: &str) -> (String, String) {
    let base = basename(p);
    let stem = base.trim_start_matches('.');
    match stem.rfind('.') {
        Some(i) => {
            let cut = p.len() - (stem.len() - i);
            (p[..cut].to_string(), p[cut..].to_string())
        }
        None => (p.to_string(), String::new()),
    }
}

fn path_filter(
    name: &'static str,
    f: fn(&str) -> Value,
) -> impl Fn(Value) -> R + Send + Sync + 'static {
    move |v: Value| {
        if v.is_undefined() {
            return Err(Error::from(ErrorKind::UndefinedError));
        }
        if v.kind() != ValueKind::String {
            return Err(ferr(
                name,
                format!("expected a path string, got {}", type_name(&v)),
            ));
        }
        Ok(f(v.as_str().unwrap_or_default()))
    }
}

fn path_join(v: Value) -> R {
    let parts: Vec<String> = match v.kind() {
        ValueKind::String => return Ok(v),
        _ => items("path_join", &v)?.iter().map(py_str).collect(),
    };
    let mut out = String::new();
    for p in parts {
        if p.starts_with('/') {
            out = p;
        } else if out.is_empty() || out.ends_with('/') {
            out.push_str(&p);
        } else {
            out.push('/');
            out.push_str(&p);
        }
    }
    Ok(Value::from(out))
}

fn quote(v: Value) -> R {
    if v.is_none() {
        return Ok(Value::from("''"));
    }
    Ok(Value::from(shlex_quote(&py_str(&v))))
}

/// Python's `shlex.quote` (what Ansible's `quote` filter uses).
pub fn shlex_quote(s: &str) -> String {
    if s.is_empty() {
        return "''".into();
    }
    if s.chars()
        .all(|c| c.is_alphanumeric() || "_@%+=:,./-".contains(c))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', "'\"'\"'"))
}

/// Hex digest of `data` with `algo` (md5, sha1, sha224, sha256, sha384, sha512).
pub fn hexdigest(algo: &str, data: &[u8]) -> Option<String> {
    use sha2::Digest;
    Some(match algo {
        "md5" => hex::encode(md5::Md5::digest(data)),
        "sha1" => hex::encode(sha1::Sha1::digest(data)),
        "sha224" => hex::encode(sha2::Sha224::digest(data)),
        "sha256" => hex::encode(sha2::Sha256::digest(data)),
        "sha384" => hex::encode(sha2::Sha384::digest(data)),
        "sha512" => hex::encode(sha2::Sha512::digest(data)),
        _ => return None,
    })
}

fn hash(v: Value, args: Rest<Value>) -> R {
    let a = Args::bind("hash", &["hashtype"], &args)?;
    let algo = a.str_or("hashtype", "sha1");
    hexdigest(&algo, py_str(&v).as_bytes())
        .map(Value::from)
        .ok_or_else(|| ferr("hash", format!("unsupported hash type '{algo}' (use md5, sha1, sha224, sha256, sha384 or sha512)")))
}

fn to_uuid(v: Value, args: Rest<Value>) -> R {
    use sha1::Digest;
    let a = Args::bind("to_uuid", &["namespace"], &args)?;
    let ns = a.str_or("namespace", "361E6D51-FAEC-444A-9079-341386DA8E2E");
    let ns_bytes = hex::decode(ns.replace('-', ""))
        .ok()
        .filter(|b| b.len() == 16)
        .ok_or_else(|| ferr("to_uuid", format!("invalid namespace UUID '{ns}'")))?;
    let mut h = sha1::Sha1::new();
    h.update(&ns_bytes);
    h.update(py_str(&v).as_bytes());
    let d = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let x = hex::encode(b);
    Ok(Value::from(format!(
        "{}-{}-{}-{}-{}",
        &x[..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..]
    )))
}

fn comment(v: Value, args: Rest<Value>) -> R {
    let a = Args::bind(
        "comment",
        &[
            "style",
            "decoration",
            "prefix",
            "prefix_count",
            "postfix",
            "postfix_count",
            "beginning",
            "end",
            "newline",
        ],
        &args,
    )?;
    let style = a.str_or("style", "plain");
    let (mut beginning, mut deco, mut end) = match style.as_str() {
        "plain" => ("", "# ", ""),
        "erlang" => ("", "% ", ""),
        "c" => ("", "// ", ""),
        "cblock" => ("/*", " * ", " */"),
        "xml" => ("<!--", " - ", "-->"),
        other => return Err(ferr("comment", format!("unknown style '{other}'"))),
    };
    let bs;
    let ds;
    let es;
    if let Some(b) = a.get("beginning") {
        bs = py_str(b);
        beginning = &bs;
    }
    if let Some(d) = a.get("decoration") {
        ds = py_str(d);
        deco = &ds;
    }
    if let Some(e) = a.get("end") {
        es = py_str(e);
        end = &es;
    }
    let newline = a.str_or("newline", "\n");
    let prefix = a.str_or("prefix", deco.trim_end());
    let prefix_count = a.int_or("prefix_count", 1)?.max(0) as usize;
    let postfix = a.str_or("postfix", deco.trim_end());
    let postfix_count = a.int_or("postfix_count", 1)?.max(0) as usize;
    let mut out = String::new();
    if !beginning.is_empty() {
        out.push_str(beginning);
        out.push_str(&newline);
    }
    for _ in 0..prefix_count {
        out.push_str(&prefix);
        out.push_str(&newline);
    }
    let text = py_str(&v);
    let lines: Vec<String> = text
        .lines()
        .map(|l| {
            if l.is_empty() {
                deco.trim_end().to_string()
            } else {
                format!("{deco}{l}")
            }
        })
        .collect();
    out.push_str(&lines.join(&newline));
    for _ in 0..postfix_count {
        out.push_str(&newline);
        out.push_str(&postfix);
    }
    if !end.is_empty() {
        out.push_str(&newline);
        out.push_str(end);
    }
    Ok(Value::from(out))
}

// ---------------------------------------------------------------- regular expressions

/// Compiles a Python regular expression (flags as Python's `re.I`/`re.M`).
pub fn py_regex(name: &str, pat: &str, ignorecase: bool, multiline: bool) -> R<regex::Regex> {
    regex::RegexBuilder::new(pat)
        .case_insensitive(ignorecase)
        .multi_line(multiline)
        .build()
        .map_err(|e| {
            let m = e.to_string();
            let hint = if m.contains("look-around") || m.contains("backreferences") {
                " (look-around and backreferences are not supported)"
            } else {
                ""
            };
            ferr(
                name,
                format!(
                    "invalid regular expression '{pat}'{hint}: {}",
                    m.lines().last().unwrap_or(&m)
                ),
            )
        })
}

/// Converts a Python `re.sub` replacement (`\1`, `\g<name>`, `\n`) to the regex crate's syntax.
fn py_replacement(rep: &str) -> String {
    let mut out = String::new();
    let cs: Vec<char> = rep.chars().collect();
    let mut i = 0;
    while i < cs.len() {
        let c = cs[i];
        if c == '$' {
            out.push_str("$$");
        } else if c == '\\' && i + 1 < cs.len() {
            let n = cs[i + 1];
            if n.is_ascii_digit() {
                let mut j = i + 1;
                while j < cs.len() && j < i + 3 && cs[j].is_ascii_digit() {
                    j += 1;
                }
                let num: String = cs[i + 1..j].iter().collect();
                out.push_str(&format!("${{{num}}}"));
                i = j;
                continue;
            }
            if n == 'g'
                && cs.get(i + 2) == Some(&'<')
                && let Some(end) = cs[i + 3..].iter().position(|&c| c == '>')
            {
                let g: String = cs[i + 3..i + 3 + end].iter().collect();
                out.push_str(&format!("${{{g}}}"));
                i = i + 4 + end;
                continue;
            }
            match n {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                '\\' => out.push('\\'),
                other => {
                    out.push('\\');
                    out.push(other);
                }
            }
            i += 2;
            continue;
        } else {
            out.push(c);
        }
        i += 1;
    }
    out
}

fn regex_replace(v: Value, args: Rest<Value>) -> R {
    let a = Args::bind(
        "regex_replace",
        &[
            "pattern",
            "replacement",
            "ignorecase",
            "multiline",
            "count",
            "mandatory_count",
        ],
        &args,
    )?;
    let s = py_str(&v);
    let re = py_regex(
        "regex_replace",
        &a.str_or("pattern", ""),
        a.bool_or("ignorecase", false),
        a.bool_or("multiline", false),
    )?;
    let rep = py_replacement(&a.str_or("replacement", ""));
    let count = a.int_or("count", 0)?.max(0) as usize;
    let mandatory = a.int_or("mandatory_count", 0)?.max(0) as usize;
    if mandatory > 0 {
        let found = re.find_iter(&s).count();
        if found != mandatory {
            return Err(ferr(
                "regex_replace",
                format!("'{}' matched {found} times, not {mandatory}", re.as_str()),
            ));
        }
    }
    Ok(Value::from(
        re.replacen(&s, count, rep.as_str()).into_owned(),
    ))
}

fn group_value(c: &regex::Captures<'_>, i: usize) -> Value {
    c.get(i)
        .map(|m| Value::from(m.as_str()))
        .unwrap_or(Value::from(()))
}

fn regex_search(v: Value, args: Rest<Value>) -> R {
    let (pos, kw) = split_kwargs(&args);
    let Some(pat) = pos.first() else {
        return Err(ferr("regex_search", "missing the regular expression"));
    };
    let mut ic = false;
    let mut ml = false;
    for (k, x) in kw {
        match k.as_str() {
            "ignorecase" => ic = x.is_true(),
            "multiline" => ml = x.is_true(),
            other => {
                return Err(ferr(
                    "regex_search",
                    format!("unexpected keyword argument '{other}'"),
                ));
            }
        }
    }
    let re = py_regex("regex_search", &py_str(pat), ic, ml)?;
    enum G {
        N(usize),
        Name(String),
    }
    let mut groups = Vec::new();
    for g in &pos[1..] {
        let g = py_str(g);
        if let Some(n) = g.strip_prefix("\\g<").and_then(|x| x.strip_suffix('>')) {
            groups.push(match n.parse() {
                Ok(i) => G::N(i),
                Err(_) => G::Name(n.to_string()),
            });
        } else if let Some(Ok(i)) = g.strip_prefix('\\').map(str::parse::<usize>) {
            groups.push(G::N(i));
        } else {
            return Err(ferr(
                "regex_search",
                format!("unknown argument '{g}' (use '\\1' or '\\g<name>')"),
            ));
        }
    }
    let s = py_str(&v);
    let Some(c) = re.captures(&s) else {
        return Ok(Value::from(()));
    };
    if groups.is_empty() {
        return Ok(group_value(&c, 0));
    }
    let mut out = Vec::new();
    for g in groups {
        out.push(match g {
            G::N(i) => {
                if i >= c.len() {
                    return Err(ferr("regex_search", format!("no such group {i}")));
                }
                group_value(&c, i)
            }
            G::Name(n) => match c.name(&n) {
                Some(m) => Value::from(m.as_str()),
                None if re.capture_names().flatten().any(|x| x == n) => Value::from(()),
                None => return Err(ferr("regex_search", format!("no such group '{n}'"))),
            },
        });
    }
    Ok(Value::from(out))
}

fn regex_findall(v: Value, args: Rest<Value>) -> R {
    let a = Args::bind(
        "regex_findall",
        &["regex", "multiline", "ignorecase"],
        &args,
    )?;
    let re = py_regex(
        "regex_findall",
        &a.str_or("regex", ""),
        a.bool_or("ignorecase", false),
        a.bool_or("multiline", false),
    )?;
    let s = py_str(&v);
    let ngroups = re.captures_len() - 1;
    let out: Vec<Value> = re
        .captures_iter(&s)
        .map(|c| match ngroups {
            0 => group_value(&c, 0),
            1 => Value::from(c.get(1).map(|m| m.as_str()).unwrap_or("")),
            n => Value::from(
                (1..=n)
                    .map(|i| Value::from(c.get(i).map(|m| m.as_str()).unwrap_or("")))
                    .collect::<Vec<_>>(),
            ),
        })
        .collect();
    Ok(Value::from(out))
}

/// Jinja's `truncate(s, length=255, killwords=False, end='...', leeway=5)`, positional or
/// keyword arguments: strings at most `length + leeway` long are kept; otherwise cut to
/// `length - len(end)` (at a word boundary unless `killwords`) and `end` appended.
fn truncate(v: Value, args: Rest<Value>) -> R {
    let a = Args::bind("truncate", &["length", "killwords", "end", "leeway"], &args)?;
    let s = py_str(&v);
    let length = a.int_or("length", 255)?.max(0) as usize;
    let killwords = a.bool_or("killwords", false);
    let end = a.str_or("end", "...");
    let leeway = a.int_or("leeway", 5)?.max(0) as usize;
    let end_len = end.chars().count();
    if length < end_len {
        return Err(minijinja::Error::new(
            minijinja::ErrorKind::InvalidOperation,
            format!("truncate: length must be at least {end_len} (the length of end)"),
        ));
    }
    if s.chars().count() <= length + leeway {
        return Ok(Value::from(s));
    }
    let cut: String = s.chars().take(length - end_len).collect();
    let kept = if killwords {
        cut
    } else {
        match cut.rfind(' ') {
            Some(i) => cut[..i].to_string(),
            None => cut,
        }
    };
    Ok(Value::from(format!("{kept}{end}")))
}

fn regex_escape(v: Value, args: Rest<Value>) -> R {
    let a = Args::bind("regex_escape", &["re_type"], &args)?;
    let kind = a.str_or("re_type", "python");
    let s = py_str(&v);
    let mut out = String::new();
    match kind.as_str() {
        "python" => {
            for c in s.chars() {
                if "()[]{}?*+-|^$\\.&~# \t\n\r\u{b}\u{c}".contains(c) {
                    out.push('\\');
                }
                out.push(c);
            }
        }
        "posix_basic" => {
            for c in s.chars() {
                if ".[]\\*^$".contains(c) {
                    out.push('\\');
                }
                out.push(c);
            }
        }
        other => {
            return Err(ferr(
                "regex_escape",
                format!("unsupported re_type '{other}'"),
            ));
        }
    }
    Ok(Value::from(out))
}

// ---------------------------------------------------------------- lists and dicts

fn value_eq(a: &Value, b: &Value) -> bool {
    a == b
}

fn uniq(xs: Vec<Value>) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::with_capacity(xs.len());
    for x in xs {
        if !out.iter().any(|y| value_eq(y, &x)) {
            out.push(x);
        }
    }
    out
}

fn union(a: Value, b: Value) -> R {
    let mut xs = items("union", &a)?;
    xs.extend(items("union", &b)?);
    Ok(Value::from(uniq(xs)))
}

fn intersect(a: Value, b: Value) -> R {
    let ys = items("intersect", &b)?;
    let xs: Vec<Value> = items("intersect", &a)?
        .into_iter()
        .filter(|x| ys.contains(x))
        .collect();
    Ok(Value::from(uniq(xs)))
}

fn difference(a: Value, b: Value) -> R {
    let ys = items("difference", &b)?;
    let xs: Vec<Value> = items("difference", &a)?
        .into_iter()
        .filter(|x| !ys.contains(x))
        .collect();
    Ok(Value::from(uniq(xs)))
}

fn symmetric_difference(a: Value, b: Value) -> R {
    let xs = items("symmetric_difference", &a)?;
    let ys = items("symmetric_difference", &b)?;
    let both: Vec<Value> = xs.iter().filter(|x| ys.contains(x)).cloned().collect();
    let mut all = xs;
    all.extend(ys);
    Ok(Value::from(uniq(
        all.into_iter().filter(|x| !both.contains(x)).collect(),
    )))
}

fn flatten_into(xs: Vec<Value>, levels: Option<i64>, skip_nulls: bool, out: &mut Vec<Value>) {
    for x in xs {
        if skip_nulls && (x.is_none() || matches!(x.as_str(), Some("None" | "null"))) {
            continue;
        }
        if x.kind() == ValueKind::Seq && levels.is_none_or(|l| l > 0) {
            let inner: Vec<Value> = x.try_iter().map(|i| i.collect()).unwrap_or_default();
            flatten_into(inner, levels.map(|l| l - 1), skip_nulls, out);
        } else {
            out.push(x);
        }
    }
}

fn flatten(v: Value, args: Rest<Value>) -> R {
    let a = Args::bind("flatten", &["levels", "skip_nulls"], &args)?;
    let levels = match a.get("levels") {
        Some(l) if !l.is_none() => {
            Some(to_i64(l).ok_or_else(|| ferr("flatten", "levels must be an integer"))?)
        }
        _ => None,
    };
    let mut out = Vec::new();
    flatten_into(
        items("flatten", &v)?,
        levels,
        a.bool_or("skip_nulls", true),
        &mut out,
    );
    Ok(Value::from(out))
}

fn merge_hash(name: &str, x: &Value, y: &Value, recursive: bool, list_merge: &str) -> R {
    if x.kind() != ValueKind::Map || y.kind() != ValueKind::Map {
        return Ok(y.clone());
    }
    let mut out: IndexMap<Value, Value> = map_entries(name, x)?.into_iter().collect();
    for (k, yv) in map_entries(name, y)? {
        let merged = match out.get(&k) {
            Some(xv) if recursive && xv.kind() == ValueKind::Map && yv.kind() == ValueKind::Map => {
                merge_hash(name, xv, &yv, recursive, list_merge)?
            }
            Some(xv) if xv.kind() == ValueKind::Seq && yv.kind() == ValueKind::Seq => {
                let (xs, ys) = (items(name, xv)?, items(name, &yv)?);
                match list_merge {
                    "replace" => yv.clone(),
                    "keep" => xv.clone(),
                    "append" => Value::from(xs.into_iter().chain(ys).collect::<Vec<_>>()),
                    "prepend" => Value::from(ys.into_iter().chain(xs).collect::<Vec<_>>()),
                    "append_rp" => {
                        let mut r: Vec<Value> =
                            xs.into_iter().filter(|e| !ys.contains(e)).collect();
                        r.extend(ys);
                        Value::from(r)
                    }
                    "prepend_rp" => {
                        let mut r = ys.clone();
                        r.extend(xs.into_iter().filter(|e| !ys.contains(e)));
                        Value::from(r)
                    }
                    other => {
                        return Err(ferr(
                            name,
                            format!(
                                "unknown list_merge '{other}' (use replace, keep, append, prepend, append_rp or prepend_rp)"
                            ),
                        ));
                    }
                }
            }
            _ => yv,
        };
        out.insert(k, merged);
    }
    Ok(Value::from_iter(out))
}

fn combine(v: Value, args: Rest<Value>) -> R {
    let (pos, kw) = split_kwargs(&args);
    let mut recursive = false;
    let mut list_merge = "replace".to_string();
    for (k, x) in kw {
        match k.as_str() {
            "recursive" => recursive = x.is_true(),
            "list_merge" => list_merge = py_str(&x),
            other => {
                return Err(ferr(
                    "combine",
                    format!("unexpected keyword argument '{other}'"),
                ));
            }
        }
    }
    let mut dicts = if v.kind() == ValueKind::Seq {
        items("combine", &v)?
    } else {
        vec![v]
    };
    for p in pos {
        if p.kind() == ValueKind::Seq {
            dicts.extend(items("combine", &p)?);
        } else {
            dicts.push(p);
        }
    }
    let mut acc = Value::from_iter(Vec::<(Value, Value)>::new());
    for d in dicts {
        if d.is_undefined() {
            return Err(Error::from(ErrorKind::UndefinedError));
        }
        if d.kind() != ValueKind::Map {
            return Err(ferr(
                "combine",
                format!("expected dictionaries, got {}", type_name(&d)),
            ));
        }
        acc = merge_hash("combine", &acc, &d, recursive, &list_merge)?;
    }
    Ok(acc)
}

fn dict2items(v: Value, args: Rest<Value>) -> R {
    let a = Args::bind("dict2items", &["key_name", "value_name"], &args)?;
    let (kn, vn) = (a.str_or("key_name", "key"), a.str_or("value_name", "value"));
    let out: Vec<Value> = map_entries("dict2items", &v)?
        .into_iter()
        .map(|(k, x)| {
            Value::from_iter([(Value::from(kn.as_str()), k), (Value::from(vn.as_str()), x)])
        })
        .collect();
    Ok(Value::from(out))
}

fn items2dict(v: Value, args: Rest<Value>) -> R {
    let a = Args::bind("items2dict", &["key_name", "value_name"], &args)?;
    let (kn, vn) = (a.str_or("key_name", "key"), a.str_or("value_name", "value"));
    let mut out = Vec::new();
    for it in items("items2dict", &v)? {
        let k = it.get_attr(&kn).unwrap_or_default();
        let x = it.get_attr(&vn).unwrap_or_default();
        if k.is_undefined() || x.is_undefined() {
            return Err(ferr(
                "items2dict",
                format!(
                    "each item needs '{kn}' and '{vn}' keys, got {}",
                    py_repr(&it)
                ),
            ));
        }
        out.push((k, x));
    }
    Ok(Value::from_iter(out))
}

fn subelements(v: Value, args: Rest<Value>) -> R {
    let a = Args::bind("subelements", &["subelements", "skip_missing"], &args)?;
    let path = a.str_or("subelements", "");
    let skip = a.bool_or("skip_missing", false);
    let elems = if v.kind() == ValueKind::Map {
        map_entries("subelements", &v)?
            .into_iter()
            .map(|(_, x)| x)
            .collect()
    } else {
        items("subelements", &v)?
    };
    let mut out = Vec::new();
    for e in elems {
        let mut cur = e.clone();
        let mut missing = false;
        for seg in path.split('.') {
            let next = cur.get_attr(seg).unwrap_or_default();
            if next.is_undefined() {
                missing = true;
                break;
            }
            cur = next;
        }
        if missing {
            if skip {
                continue;
            }
            return Err(ferr(
                "subelements",
                format!(
                    "could not find '{path}' key in iterated item {}",
                    py_repr(&e)
                ),
            ));
        }
        if cur.kind() != ValueKind::Seq {
            return Err(ferr(
                "subelements",
                format!(
                    "the key '{path}' should point to a list, got {}",
                    py_repr(&cur)
                ),
            ));
        }
        for s in items("subelements", &cur)? {
            out.push(Value::from(vec![e.clone(), s]));
        }
    }
    Ok(Value::from(out))
}

fn zip_longest(v: Value, args: Rest<Value>) -> R {
    let (pos, kw) = split_kwargs(&args);
    let fill = kw
        .into_iter()
        .find(|(k, _)| k == "fillvalue")
        .map(|(_, v)| v)
        .unwrap_or(Value::from(()));
    let mut lists = vec![items("zip_longest", &v)?];
    for p in pos {
        lists.push(items("zip_longest", &p)?);
    }
    let n = lists.iter().map(Vec::len).max().unwrap_or(0);
    Ok(Value::from(
        (0..n)
            .map(|i| {
                Value::from(
                    lists
                        .iter()
                        .map(|l| l.get(i).cloned().unwrap_or(fill.clone()))
                        .collect::<Vec<_>>(),
                )
            })
            .collect::<Vec<_>>(),
    ))
}

fn product(v: Value, args: Rest<Value>) -> R {
    let mut lists = vec![items("product", &v)?];
    for p in args.iter() {
        lists.push(items("product", p)?);
    }
    let mut acc: Vec<Vec<Value>> = vec![vec![]];
    for l in lists {
        let mut next = Vec::new();
        for prefix in &acc {
            for x in &l {
                let mut p = prefix.clone();
                p.push(x.clone());
                next.push(p);
            }
        }
        acc = next;
    }
    Ok(Value::from(
        acc.into_iter().map(Value::from).collect::<Vec<_>>(),
    ))
}

fn extract(state: &State, item: Value, args: Rest<Value>) -> R {
    let a = Args::bind("extract", &["container", "morekeys"], &args)?;
    let container = a.req("container")?;
    let mut v = container.get_item(&item).unwrap_or_default();
    if let Some(more) = a.get("morekeys") {
        let keys = if more.kind() == ValueKind::Seq {
            items("extract", more)?
        } else {
            vec![more.clone()]
        };
        for k in keys {
            if v.is_undefined() {
                break;
            }
            v = v.get_item(&k).unwrap_or_default();
        }
    }
    let _ = state;
    Ok(v)
}

fn list_filter(v: Value) -> R {
    match v.kind() {
        ValueKind::Map => Ok(Value::from(
            map_entries("list", &v)?
                .into_iter()
                .map(|(k, _)| k)
                .collect::<Vec<_>>(),
        )),
        _ => Ok(Value::from(items("list", &v)?)),
    }
}

fn dict_filter(v: Value) -> R {
    let mut out = Vec::new();
    for it in items("dict", &v)? {
        let pair = items("dict", &it)?;
        if pair.len() != 2 {
            return Err(ferr("dict", "each item must be a pair"));
        }
        out.push((pair[0].clone(), pair[1].clone()));
    }
    Ok(Value::from_iter(out))
}

fn math(
    name: &'static str,
    f: fn(f64, Option<f64>) -> f64,
) -> impl Fn(Value, Rest<Value>) -> R + Send + Sync + 'static {
    move |v: Value, args: Rest<Value>| {
        let x = to_f64(&v)
            .ok_or_else(|| ferr(name, format!("expected a number, got {}", type_name(&v))))?;
        let y = args.first().and_then(to_f64);
        Ok(Value::from(f(x, y)))
    }
}

fn abs_filter(v: Value) -> R {
    if v.is_integer()
        && let Some(i) = v.as_i64()
    {
        return Ok(Value::from(i.abs()));
    }
    Ok(Value::from(
        to_f64(&v)
            .ok_or_else(|| ferr("abs", "expected a number"))?
            .abs(),
    ))
}

/// Registers every filter.
pub(crate) fn register(env: &mut Environment<'static>) {
    super::filters_extra::register(env);
    env.add_filter("to_json", to_json);
    env.add_filter("to_nice_json", to_nice_json);
    env.add_filter("from_json", from_json);
    env.add_filter("to_yaml", to_yaml);
    env.add_filter("to_nice_yaml", to_nice_yaml);
    env.add_filter("from_yaml", from_yaml);
    env.add_filter("sort", sort);
    env.add_filter("min", min);
    env.add_filter("max", max);
    env.add_filter("sum", sum);
    env.add_filter("bool", bool_filter);
    env.add_filter("int", int_filter);
    env.add_filter("float", float_filter);
    env.add_filter("string", string_filter);
    env.add_filter("join", join);
    env.add_filter("type_debug", type_debug);
    env.add_filter("default", default);
    env.add_filter("d", default);
    env.add_filter("ternary", ternary);
    env.add_filter("mandatory", mandatory);
    env.add_filter("b64encode", b64encode);
    env.add_filter("b64decode", b64decode);
    env.add_filter(
        "basename",
        path_filter("basename", |p| Value::from(basename(p))),
    );
    env.add_filter(
        "dirname",
        path_filter("dirname", |p| Value::from(dirname(p))),
    );
    env.add_filter(
        "expanduser",
        path_filter("expanduser", |p| Value::from(expanduser(p))),
    );
    env.add_filter(
        "realpath",
        path_filter("realpath", |p| Value::from(realpath(p))),
    );
    env.add_filter(
        "splitext",
        path_filter("splitext", |p| {
            let (a, b) = splitext(p);
            Value::from(vec![Value::from(a), Value::from(b)])
        }),
    );
    env.add_filter("path_join", path_join);
    env.add_filter("quote", quote);
    env.add_filter("hash", hash);
    env.add_filter("sha1", |v: Value| {
        Value::from(hexdigest("sha1", py_str(&v).as_bytes()))
    });
    env.add_filter("md5", |v: Value| {
        Value::from(hexdigest("md5", py_str(&v).as_bytes()))
    });
    env.add_filter("checksum", |v: Value| {
        Value::from(hexdigest("sha1", py_str(&v).as_bytes()))
    });
    env.add_filter("to_uuid", to_uuid);
    env.add_filter("comment", comment);
    env.add_filter("regex_replace", regex_replace);
    env.add_filter("regex_search", regex_search);
    env.add_filter("regex_findall", regex_findall);
    env.add_filter("regex_escape", regex_escape);
    env.add_filter("truncate", truncate);
    env.add_filter("union", union);
    env.add_filter("intersect", intersect);
    env.add_filter("difference", difference);
    env.add_filter("symmetric_difference", symmetric_difference);
    env.add_filter("flatten", flatten);
    env.add_filter("combine", combine);
    env.add_filter("dict2items", dict2items);
    env.add_filter("items2dict", items2dict);
    env.add_filter("subelements", subelements);
    env.add_filter("zip_longest", zip_longest);
    env.add_filter("product", product);
    env.add_filter("extract", extract);
    env.add_filter("list", list_filter);
    env.add_filter("dict", dict_filter);
    env.add_filter("abs", abs_filter);
    env.add_filter(
        "log",
        math("log", |x, b| match b {
            Some(b) => x.ln() / b.ln(),
            None => x.ln(),
        }),
    );
    env.add_filter("pow", math("pow", |x, y| x.powf(y.unwrap_or(1.0))));
    env.add_filter(
        "root",
        math("root", |x, y| match y {
            Some(n) if n != 2.0 => x.powf(1.0 / n),
            _ => x.sqrt(),
        }),
    );
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn python_reprs() {
        let v = Value::from_serialize(serde_json::json!({"a": [1, true, null, "x'y"], "b": 1.0}));
        assert_eq!(py_repr(&v), r#"{'a': [1, True, None, "x'y"], 'b': 1.0}"#);
        assert_eq!(py_str(&Value::from("s")), "s");
        assert_eq!(fmt_float(1e20), "1e+20");
        assert_eq!(fmt_float(1.5e-5), "1.5e-05");
        assert_eq!(fmt_float(2.0), "2.0");
        assert_eq!(fmt_float(0.1), "0.1");
    }

    #[test]
    fn python_replacements() {
        assert_eq!(py_replacement(r"\1-\g<name>$"), "${1}-${name}$$");
    }

    #[test]
    fn os_path_semantics() {
        assert_eq!(basename("/a/b/"), "");
        assert_eq!(dirname("/a/b"), "/a");
        assert_eq!(dirname("/a"), "/");
        assert_eq!(dirname("a"), "");
        assert_eq!(splitext("/x/a.tar.gz"), ("/x/a.tar".into(), ".gz".into()));
        assert_eq!(splitext("/x/.bashrc"), ("/x/.bashrc".into(), "".into()));
        assert_eq!(normpath("/a/./b/../c"), "/a/c");
        assert_eq!(normpath("/a/./b/../c/"), "/a/c");
        assert_eq!(normpath("a/../../b"), "../b");
        assert_eq!(normpath(""), ".");
    }
}
