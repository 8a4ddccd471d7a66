//! Python-style helpers and conversions: `str()`/`repr()` of values, Python's ordering, and the
//! filters `bool`, `int`, `float`, `string`, `join`, `default`/`d`, `type_debug`, `ternary`,
//! `mandatory`.

use super::lists::attr_path;
use super::{Args, R, items, to_f64};
pub(super) use crate::util::python::float_repr as fmt_float;
pub use crate::util::python::{py_cmp, type_name};
use crate::value::{Value, bool_filter_word};
use minijinja::value::{Rest, ValueKind};
use minijinja::{Error, ErrorKind};

/// Registers this file's filters.
pub(super) fn register(env: &mut super::Reg) {
    env.add_filter("bool", bool_filter);
    env.add_filter("int", int_filter);
    env.add_filter("float", float_filter);
    env.add_filter("string", string_filter);
    env.add_filter("join", join);
    env.raw().add_filter("type_debug", type_debug);
    // ansible-core's test helper `ansible._protomatter.finalize`: the value as a task would
    // see it; prov's values are already final.
    env.raw().add_filter("_protomatter_finalize", |v: Value| v);
    env.raw().add_filter("default", default);
    env.raw().add_filter("d", default);
    env.add_filter("ternary", ternary);
    env.raw().add_filter("mandatory", mandatory);
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
        ValueKind::String => {
            crate::util::python::str_repr_into(v.as_str().unwrap_or_default(), out)
        }
        ValueKind::Seq
            if v.downcast_object_ref::<super::lists::GroupTuple>()
                .is_some() =>
        {
            out.push('(');
            if let Ok(it) = v.try_iter() {
                for (i, x) in it.enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    repr_into(&x, out);
                }
            }
            out.push(')');
        }
        ValueKind::Seq | ValueKind::Iterable => {
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

/// Ansible's `bool` filter.
pub fn to_bool(v: &Value) -> bool {
    match v.kind() {
        ValueKind::Bool => v.is_true(),
        ValueKind::None | ValueKind::Undefined => false,
        // the filter's narrower word list, see `bool_filter_word`
        ValueKind::String => bool_filter_word(v.as_str().unwrap_or_default()) == Some(true),
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
        // Ansible's message names the variable.
        let msg = match (
            a.get("msg").filter(|m| !m.is_none()),
            crate::template::last_undefined_name(),
        ) {
            (Some(m), _) => py_str(m),
            (None, Some(n)) => format!("Mandatory variable '{n}' not defined."),
            (None, None) => "Mandatory variable not defined.".to_string(),
        };
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("mandatory: {msg}"),
        ));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
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
}
