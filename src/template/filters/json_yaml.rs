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

/// A scalar written in PyYAML's `default_style` (`"`, `'`, `|` or `>`): every scalar takes the
/// style, and scalars that are not strings carry a tag (`! "1"`). Block styles become
/// double quotes for a key and for the empty string. `content_indent` is where the lines of a
/// block scalar start, `rel_indent` how far right of their parent (its indentation indicator).
fn styled_scalar(
    v: &Value,
    style: char,
    key: bool,
    content_indent: usize,
    rel_indent: usize,
) -> R<String> {
    let (tag, text) = match v.kind() {
        ValueKind::Undefined => return Err(Error::from(ErrorKind::UndefinedError)),
        // Ansible's dumper tags them `!` (PyYAML's own would write `!!int`)
        ValueKind::None | ValueKind::Bool | ValueKind::Number => ("! ", yaml_scalar(v, false)?),
        _ => ("", py_str(v)),
    };
    let quoted = |text: &str| {
        let mut out = tag.to_string();
        json_str(text, false, &mut out);
        out
    };
    Ok(match style {
        '\'' if !text.contains('\n') => format!("{tag}'{}'", text.replace('\'', "''")),
        '|' | '>' if !key && !text.is_empty() => {
            let body = text.strip_suffix('\n').unwrap_or(&text);
            let chomp = if !text.ends_with('\n') {
                "-"
            } else if body.ends_with('\n') {
                "+"
            } else {
                ""
            };
            let indicator = if text.starts_with([' ', '\n']) {
                rel_indent.to_string()
            } else {
                String::new()
            };
            let pad = " ".repeat(content_indent);
            let mut out = format!("{tag}{style}{indicator}{chomp}");
            let lines: Vec<&str> = body.split('\n').collect();
            for (i, line) in lines.iter().enumerate() {
                // folded: a line break between two lines of text is written as a blank line
                if style == '>'
                    && i > 0
                    && !line.is_empty()
                    && !lines[i - 1].is_empty()
                    && !line.starts_with(' ')
                {
                    out.push('\n');
                }
                out.push('\n');
                if !line.is_empty() {
                    out.push_str(&pad);
                    out.push_str(line);
                }
            }
            out
        }
        _ => quoted(&text),
    })
}

/// PyYAML's `canonical=True` dump of `v` at nesting `level`: every node tagged, scalars double
/// quoted, collections in flow style with explicit keys.
fn yaml_canonical(v: &Value, level: usize, out: &mut String) -> R<()> {
    let pad = |n: usize| "  ".repeat(n);
    match v.kind() {
        ValueKind::Map => {
            let mut es = map_entries("to_yaml", v)?;
            if es.is_empty() {
                out.push_str("!!map {}");
                return Ok(());
            }
            es.sort_by(|a, b| py_cmp(&a.0, &b.0));
            out.push_str("!!map {\n");
            for (k, x) in es {
                out.push_str(&pad(level + 1));
                out.push_str("? ");
                yaml_canonical(&k, level + 1, out)?;
                out.push('\n');
                out.push_str(&pad(level + 1));
                out.push_str(": ");
                yaml_canonical(&x, level + 1, out)?;
                out.push_str(",\n");
            }
            out.push_str(&pad(level));
            out.push('}');
        }
        ValueKind::Seq => {
            let xs = items("to_yaml", v)?;
            if xs.is_empty() {
                out.push_str("!!seq []");
                return Ok(());
            }
            out.push_str("!!seq [\n");
            for x in xs {
                out.push_str(&pad(level + 1));
                yaml_canonical(&x, level + 1, out)?;
                out.push_str(",\n");
            }
            out.push_str(&pad(level));
            out.push(']');
        }
        ValueKind::Undefined => return Err(Error::from(ErrorKind::UndefinedError)),
        _ => {
            let (tag, text) = match v.kind() {
                ValueKind::None => ("!!null", "null".to_string()),
                ValueKind::Bool => ("!!bool", yaml_scalar(v, false)?),
                ValueKind::Number if v.is_integer() => ("!!int", yaml_scalar(v, false)?),
                ValueKind::Number => ("!!float", yaml_scalar(v, false)?),
                _ => ("!!str", py_str(v)),
            };
            out.push_str(tag);
            out.push(' ');
            json_str(&text, false, out);
        }
    }
    Ok(())
}

/// A scalar in `style` (PyYAML's `default_style`), or as PyYAML picks it when there is none.
fn block_scalar(
    v: &Value,
    style: Option<char>,
    key: bool,
    content_indent: usize,
    rel_indent: usize,
) -> R<String> {
    match style {
        Some(st) => styled_scalar(v, st, key, content_indent, rel_indent),
        None => yaml_scalar(v, false),
    }
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
/// With PyYAML's `default_style`, every scalar is in that style (and collections are then in
/// block style unless empty).
fn py_yaml_styled(v: &Value, indent: usize, flow_leaves: bool, style: Option<char>) -> R<String> {
    let flow_leaves = flow_leaves && style.is_none();
    let mut out = String::new();
    if !is_collection(v) {
        out.push_str(&block_scalar(v, style, false, indent, indent)?);
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
    yaml_block(v, 0, indent, &use_flow, style, &mut out)?;
    Ok(out)
}

/// Writes a block collection whose first line continues the current line at column `col`
/// (all later lines are indented to `col`).
fn yaml_block(
    v: &Value,
    col: usize,
    indent: usize,
    use_flow: &dyn Fn(&Value) -> R<bool>,
    style: Option<char>,
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
            out.push_str(&block_scalar(&k, style, true, 0, indent)?);
            out.push(':');
            if is_collection(&x) && !use_flow(&x)? {
                out.push('\n');
                if x.kind() == ValueKind::Seq {
                    out.push_str(&pad);
                    yaml_block(&x, col, indent, use_flow, style, out)?;
                } else {
                    let c = col + indent;
                    out.push_str(&" ".repeat(c));
                    yaml_block(&x, c, indent, use_flow, style, out)?;
                }
            } else {
                out.push(' ');
                out.push_str(&if is_collection(&x) {
                    yaml_flow(&x)?
                } else {
                    block_scalar(&x, style, false, col + indent, indent)?
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
                yaml_block(&x, c, indent, use_flow, style, out)?;
            } else {
                out.push(' ');
                out.push_str(&if is_collection(&x) {
                    yaml_flow(&x)?
                } else {
                    block_scalar(&x, style, false, c, indent)?
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
    "default_style",
    "canonical",
];

/// PyYAML's `canonical` and `default_style` options: `Err(dump)` when `canonical` decides the
/// whole output, else the style for every scalar (`None`: PyYAML's choice per scalar).
fn yaml_style(v: &Value, a: &Args) -> R<std::result::Result<Option<char>, String>> {
    if a.get("canonical").is_some_and(|c| c.is_true()) {
        let mut out = String::from("---\n");
        yaml_canonical(v, 0, &mut out)?;
        out.push('\n');
        return Ok(Err(out));
    }
    let style = a
        .get("default_style")
        .and_then(|s| s.as_str().map(str::to_string))
        .and_then(|s| match s.as_str() {
            "\"" | "'" | "|" | ">" => s.chars().next(),
            _ => None,
        });
    Ok(Ok(style))
}

fn to_yaml(v: Value, args: Rest<Value>) -> R {
    let a = Args::bind("to_yaml", YAML_DUMP_OPTIONS, &args)?;
    let indent = a.int_or("indent", 2)?.clamp(2, 9) as usize;
    let style = match yaml_style(&v, &a)? {
        Err(canonical) => return Ok(Value::from(canonical)),
        Ok(s) => s,
    };
    match a.get("default_flow_style") {
        Some(f) if f.is_true() && style.is_none() => {
            Ok(Value::from(format!("{}\n", yaml_flow(&v)?)))
        }
        Some(f) if !f.is_none() => py_yaml_styled(&v, indent, false, style).map(Value::from),
        _ => py_yaml_styled(&v, indent, true, style).map(Value::from),
    }
}

fn to_nice_yaml(v: Value, args: Rest<Value>) -> R {
    let a = Args::bind("to_nice_yaml", YAML_DUMP_OPTIONS, &args)?;
    let indent = a.int_or("indent", 4)?.clamp(2, 9) as usize;
    match yaml_style(&v, &a)? {
        Err(canonical) => Ok(Value::from(canonical)),
        Ok(style) => py_yaml_styled(&v, indent, false, style).map(Value::from),
    }
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
