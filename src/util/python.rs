//! Python's view of values: type names, the `repr` of floats, and the ordering `sorted()` uses.
//! The template filters and Python's `json.dumps` ([`super::pyjson`]) share them.

use crate::value::Value;
use minijinja::value::ValueKind;
use std::cmp::Ordering;

/// The controller's `python3` on `PATH` (`/usr/bin/python3` when there is none): Ansible's
/// `ansible_playbook_python`, and the implicit localhost's `ansible_python_interpreter`.
pub fn controller_python() -> String {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join("python3"))
        .find(|p| p.is_file())
        .map_or_else(
            || "/usr/bin/python3".to_string(),
            |p| p.display().to_string(),
        )
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

/// Python's `int(v)`: integers and booleans as they are, floats cut toward zero, text that
/// reads as an integer (spaces around it allowed); otherwise Python's error text.
pub fn py_int(v: &Value) -> Result<i64, String> {
    if let Ok(i) = i64::try_from(v.clone()) {
        return Ok(i);
    }
    if let Ok(f) = f64::try_from(v.clone())
        && f.is_finite()
    {
        return Ok(f.trunc() as i64);
    }
    match v.as_str() {
        Some(s) => s
            .trim()
            .parse::<i64>()
            .map_err(|_| format!("invalid literal for int() with base 10: {}", str_repr(s))),
        None => Err(format!(
            "int() argument must be a string, a bytes-like object or a real number, not '{}'",
            type_name(v)
        )),
    }
}

/// Python's `repr()` of a float: the shortest text that reads back as the same number, in
/// exponent form below 1e-4 and from 1e16 on (`1e+16`, `1.5e-05`), `2.0` for whole numbers.
pub fn float_repr(f: f64) -> String {
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

/// Python-like ordering: numbers numerically, strings lexically, lists element-wise; values of
/// different types order by type name.
pub fn py_cmp(a: &Value, b: &Value) -> Ordering {
    match (a.kind(), b.kind()) {
        (ValueKind::Number | ValueKind::Bool, ValueKind::Number | ValueKind::Bool) => {
            let (x, y) = (num(a), num(b));
            x.partial_cmp(&y).unwrap_or(Ordering::Equal)
        }
        (ValueKind::String, ValueKind::String) => a.as_str().cmp(&b.as_str()),
        (ValueKind::Seq, ValueKind::Seq) => {
            let (x, y) = (seq(a), seq(b));
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

fn num(v: &Value) -> f64 {
    match v.kind() {
        ValueKind::Bool => v.is_true() as i64 as f64,
        _ => f64::try_from(v.clone()).unwrap_or(0.0),
    }
}

fn seq(v: &Value) -> Vec<Value> {
    v.try_iter().map(|it| it.collect()).unwrap_or_default()
}

/// Appends a string as Python's `repr()` shows it: single quotes unless the text holds one and
/// no `"`, escapes for backslash, newline, tab and other control characters.
pub fn str_repr_into(s: &str, out: &mut String) {
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
                let _ = std::fmt::Write::write_fmt(out, format_args!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push(q);
}

/// A string as Python's `repr()` shows it (see [`str_repr_into`]).
pub fn str_repr(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    str_repr_into(s, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn py_int_converts_as_python_s_int() {
        assert_eq!(py_int(&Value::from(3)), Ok(3));
        assert_eq!(py_int(&Value::from(-2.7)), Ok(-2));
        assert_eq!(py_int(&Value::from(" 12 ")), Ok(12));
        assert_eq!(
            py_int(&Value::from("1.5")),
            Err("invalid literal for int() with base 10: '1.5'".into())
        );
        assert!(
            py_int(&Value::from(vec![1]))
                .unwrap_err()
                .ends_with("not 'list'")
        );
    }

    #[test]
    fn floats_and_ordering_like_python() {
        assert_eq!(float_repr(1e20), "1e+20");
        assert_eq!(float_repr(1.5e-5), "1.5e-05");
        assert_eq!(float_repr(2.0), "2.0");
        assert_eq!(float_repr(0.1), "0.1");
        let v = |j: serde_json::Value| Value::from_serialize(&j);
        assert_eq!(
            py_cmp(&v(serde_json::json!(2)), &v(serde_json::json!(10.5))),
            Ordering::Less
        );
        assert_eq!(
            py_cmp(&v(serde_json::json!(true)), &v(serde_json::json!(0))),
            Ordering::Greater
        );
        assert_eq!(
            py_cmp(
                &v(serde_json::json!([1, 2])),
                &v(serde_json::json!([1, 2, 0]))
            ),
            Ordering::Less
        );
        assert_eq!(
            py_cmp(&v(serde_json::json!("b")), &v(serde_json::json!("a"))),
            Ordering::Greater
        );
        assert_eq!(type_name(&v(serde_json::json!(1.0))), "float");
    }
}
