//! JSON and YAML: `to_json`/`to_nice_json`/`from_json` (Python's `json.dumps`) and
//! `to_yaml`/`to_nice_yaml`/`from_yaml` (PyYAML's `dump`).

use super::python::{fmt_float, py_cmp, py_str};
use super::{Args, R, ferr, items, map_entries, to_i64};
use crate::util::pyjson::json_str;
pub use crate::util::pyjson::{JsonOpts, dumps as py_json};
use crate::value::Value;
use minijinja::value::{Rest, ValueKind};
use minijinja::{Error, ErrorKind};

/// Registers this file's filters.
pub(super) fn register(env: &mut super::Reg) {
    env.add_filter("to_json", to_json);
    env.add_filter("to_nice_json", to_nice_json);
    env.add_filter("from_json", from_json);
    env.add_filter("to_yaml", to_yaml);
    env.add_filter("to_nice_yaml", to_nice_yaml);
    env.add_filter("from_yaml", from_yaml);
    env.add_filter("from_yaml_all", from_yaml_all);
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

/// The keyword arguments `to_yaml` and `to_nice_yaml` accept (PyYAML's `dump` options).
const YAML_DUMP_OPTIONS: &[&str] = &[
    "indent",
    "default_flow_style",
    "width",
    "sort_keys",
    "allow_unicode",
];

fn to_yaml(v: Value, args: Rest<Value>) -> R {
    let a = Args::bind("to_yaml", YAML_DUMP_OPTIONS, &args)?;
    let indent = a.int_or("indent", 2)?.clamp(2, 9) as usize;
    match a.get("default_flow_style") {
        Some(f) if f.is_true() => Ok(Value::from(format!("{}\n", yaml_flow(&v)?))),
        Some(f) if !f.is_none() => py_yaml(&v, indent, false).map(Value::from),
        _ => py_yaml(&v, indent, true).map(Value::from),
    }
}

fn to_nice_yaml(v: Value, args: Rest<Value>) -> R {
    let a = Args::bind("to_nice_yaml", YAML_DUMP_OPTIONS, &args)?;
    let indent = a.int_or("indent", 4)?.clamp(2, 9) as usize;
    py_yaml(&v, indent, false).map(Value::from)
}

/// Ansible's `from_yaml`: none stays none; other non-strings pass through (deprecated there).
fn from_yaml(v: Value) -> R {
    let Some(s) = v.as_str() else {
        return Ok(v);
    };
    crate::yaml::load_str(s, std::path::Path::new("<from_yaml>"))
        .map(|n| n.to_value())
        .map_err(|e| ferr("from_yaml", e.msg.clone()))
}

/// Ansible's `from_yaml_all`: the list of the text's documents; none gives `[]`, other
/// non-strings pass through.
fn from_yaml_all(v: Value) -> R {
    if v.is_none() {
        return Ok(Value::from(Vec::<Value>::new()));
    }
    let Some(s) = v.as_str() else {
        return Ok(v);
    };
    crate::yaml::load_all_str(s, std::path::Path::new("<from_yaml_all>"))
        .map(|docs| Value::from_iter(docs.iter().map(|n| n.to_value())))
        .map_err(|e| ferr("from_yaml_all", e.msg.clone()))
}
