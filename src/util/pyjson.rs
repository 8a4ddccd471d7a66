//! Python's `json.dumps`: what Ansible's `to_json`/`to_nice_json` filters print, and how its
//! callbacks print results (`sort_keys=True`, `ensure_ascii=False`: `", "` and `": "` on one
//! line, or `","` and a newline with an indent). One implementation for the filters and the
//! human output.

use super::python::{float_repr, py_cmp, type_name};
use crate::value::Value;
use minijinja::value::ValueKind;
use minijinja::{Error, ErrorKind};
use std::fmt::Write as _;

fn err(msg: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::InvalidOperation, format!("to_json: {msg}"))
}

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
pub fn dumps(v: &Value, o: &JsonOpts) -> Result<String, Error> {
    let mut out = String::new();
    json_into(v, o, 0, &mut out)?;
    Ok(out)
}

/// Appends `s` as a JSON string literal the way Python writes it (`ascii`: `ensure_ascii`).
pub fn json_str(s: &str, ascii: bool, out: &mut String) {
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

fn json_into(v: &Value, o: &JsonOpts, level: usize, out: &mut String) -> Result<(), Error> {
    let nl = |out: &mut String, level: usize| {
        if let Some(ind) = o.indent {
            out.push('\n');
            out.push_str(&" ".repeat(ind * level));
        }
    };
    match v.kind() {
        ValueKind::Undefined => return Err(Error::from(ErrorKind::UndefinedError)),
        ValueKind::Invalid => return Err(err(v.to_string())),
        ValueKind::None => out.push_str("null"),
        ValueKind::Bool => out.push_str(if v.is_true() { "true" } else { "false" }),
        ValueKind::Number => {
            if v.is_integer() {
                out.push_str(&v.to_string());
            } else {
                let f = f64::try_from(v.clone()).unwrap_or(f64::NAN);
                out.push_str(&match float_repr(f).as_str() {
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
            let xs: Vec<Value> = v
                .try_iter()
                .map_err(|_| err(format!("expected a list, got {}", type_name(v))))?
                .collect();
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
            let mut es: Vec<(Value, Value)> = v
                .try_iter()
                .map_err(err)?
                .map(|k| {
                    let x = v.get_item(&k).unwrap_or_default();
                    (k, x)
                })
                .collect();
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

/// JSON text the way Ansible's callbacks print a result: `json.dumps(v, sort_keys=True,
/// ensure_ascii=False, indent=indent)`.
pub fn dumps_sorted(v: &serde_json::Value, indent: Option<usize>) -> String {
    let o = JsonOpts {
        indent,
        sort_keys: true,
        ensure_ascii: false,
        item_sep: if indent.is_some() { "," } else { ", " }.into(),
        key_sep: ": ".into(),
    };
    // JSON has no undefined or invalid values, so this cannot fail.
    dumps(&Value::from_serialize(v), &o).unwrap_or_else(|_| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn compact_sorted_like_python() {
        let v =
            json!({"msg": "a\"b\n", "changed": false, "rc": 1, "l": [1, "x"], "e": {}, "n": null});
        assert_eq!(
            dumps_sorted(&v, None),
            r#"{"changed": false, "e": {}, "l": [1, "x"], "msg": "a\"b\n", "n": null, "rc": 1}"#
        );
        assert_eq!(
            dumps_sorted(
                &json!({"f": 1.5e-5, "g": 1e16, "h": 2.0, "c": "\u{1f}\u{7f}é"}),
                None
            ),
            "{\"c\": \"\\u001f\u{7f}é\", \"f\": 1.5e-05, \"g\": 1e+16, \"h\": 2.0}"
        );
    }

    #[test]
    fn indented_like_python() {
        let v = json!({"b": [1, {"y": 2, "x": []}], "a": "é"});
        assert_eq!(
            dumps_sorted(&v, Some(4)),
            "{\n    \"a\": \"é\",\n    \"b\": [\n        1,\n        {\n            \"x\": [],\n            \"y\": 2\n        }\n    ]\n}"
        );
    }

    #[test]
    fn ascii_escapes_and_key_order_of_other_types() {
        let o = JsonOpts {
            indent: None,
            sort_keys: true,
            ensure_ascii: true,
            item_sep: ", ".into(),
            key_sep: ": ".into(),
        };
        let m = Value::from_iter([
            (Value::from(10), Value::from("é😀")),
            (Value::from(9), Value::from(())),
        ]);
        assert_eq!(
            dumps(&m, &o).unwrap(),
            r#"{"9": null, "10": "\u00e9\ud83d\ude00"}"#
        );
        assert!(dumps(&Value::UNDEFINED, &o).is_err());
    }
}
