//! Python's `%` string formatting in templates: `"%s-%d" % (name, n)`, `"%(k)s" % d`; and
//! Jinja's unary `+` (`[-2.5, +2.5]`), which minijinja does not parse: it is dropped.
//!
//! Jinja runs on Python, where `%` on a string formats it; minijinja's `%` is only the
//! remainder of numbers. A string literal followed by `%` is rewritten before compiling:
//! `"fmt" % operand` becomes `("fmt" | __prov_percent(operand, is_tuple))`, where the operand
//! is what `%` takes in Jinja's grammar (a primary with its attributes, subscripts, calls and
//! filters). A parenthesized operand with a top-level comma is a tuple: its items are the
//! arguments; anything else is one argument (a mapping serves `%(key)s`), as in Python.

use crate::value::Value;
use minijinja::value::ValueKind;
use minijinja::{Error, ErrorKind};

/// The filter the rewritten templates call.
pub(crate) const FILTER: &str = "__prov_percent";

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// The end of the string literal opening at `b[i]`.
fn string_end(b: &[u8], i: usize) -> usize {
    let q = b[i];
    let mut j = i + 1;
    while j < b.len() && b[j] != q {
        if b[j] == b'\\' {
            j += 1;
        }
        j += 1;
    }
    (j + 1).min(b.len())
}

/// The end (after the closing bracket) of the bracketed group opening at `b[i]` (`(`, `[`,
/// `{`), and whether it has a comma at its top level; `None` when it is not closed.
fn group_end(b: &[u8], i: usize) -> Option<(usize, bool)> {
    let mut depth = 0usize;
    let mut comma = false;
    let mut j = i;
    while j < b.len() {
        match b[j] {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some((j + 1, comma));
                }
            }
            b',' if depth == 1 => comma = true,
            b'\'' | b'"' => {
                j = string_end(b, j);
                continue;
            }
            _ => {}
        }
        j += 1;
    }
    None
}

/// The end of the operand of `%` starting at `b[i]` and whether it is a tuple.
fn operand_end(b: &[u8], i: usize) -> Option<(usize, bool)> {
    let mut tuple = false;
    let mut j = match *b.get(i)? {
        b'(' => {
            let (e, comma) = group_end(b, i)?;
            tuple = comma;
            e
        }
        b'[' | b'{' => group_end(b, i)?.0,
        b'\'' | b'"' => string_end(b, i),
        c if c.is_ascii_digit() => {
            let mut e = i;
            while e < b.len() && (b[e].is_ascii_alphanumeric() || b[e] == b'.' || b[e] == b'_') {
                e += 1;
            }
            e
        }
        c if is_ident(c) => {
            let mut e = i;
            while e < b.len() && is_ident(b[e]) {
                e += 1;
            }
            e
        }
        _ => return None,
    };
    // attributes, subscripts, calls
    loop {
        if j + 1 < b.len() && b[j] == b'.' && is_ident(b[j + 1]) {
            j += 1;
            while j < b.len() && is_ident(b[j]) {
                j += 1;
            }
        } else if j < b.len() && (b[j] == b'[' || b[j] == b'(') {
            j = group_end(b, j)?.0;
            // a call or subscript makes the value what it returns: no longer a tuple literal
            tuple = false;
        } else {
            break;
        }
    }
    // filters bind tighter than `%`
    loop {
        let k = skip_ws(b, j);
        if k < b.len() && b[k] == b'|' && b.get(k + 1) != Some(&b'|') {
            let mut e = skip_ws(b, k + 1);
            let start = e;
            while e < b.len() && (is_ident(b[e]) || b[e] == b'.') {
                e += 1;
            }
            if e == start {
                break;
            }
            if e < b.len() && b[e] == b'(' {
                e = group_end(b, e)?.0;
            }
            j = e;
            tuple = false;
        } else {
            break;
        }
    }
    Some((j, tuple))
}

/// Whether a `+` at `b[i]` (inside a block starting at `start`) is a unary plus: nothing but
/// an opening bracket, a separator, an operator or a keyword before it.
fn unary_plus(b: &[u8], start: usize, i: usize) -> bool {
    let mut j = i;
    while j > start && b[j - 1].is_ascii_whitespace() {
        j -= 1;
    }
    if j == start {
        return true;
    }
    let p = b[j - 1];
    if matches!(
        p,
        b'(' | b'['
            | b'{'
            | b','
            | b':'
            | b'+'
            | b'-'
            | b'*'
            | b'/'
            | b'%'
            | b'='
            | b'<'
            | b'>'
            | b'!'
            | b'~'
            | b'|'
    ) {
        // `{{`, `{%`: the block's own opening (start is after it) was handled above
        return true;
    }
    if is_ident(p) {
        let mut k = j;
        while k > start && is_ident(b[k - 1]) {
            k -= 1;
        }
        let word = &b[k..j];
        return [&b"and"[..], b"or", b"not", b"in", b"if", b"else"].contains(&word);
    }
    false
}

/// Rewrites `"literal" % operand` and unary `+` in template source; `None` if there is
/// nothing to rewrite.
pub(crate) fn rewrite(src: &str) -> Option<String> {
    if !src.contains('%') && !src.contains('+') {
        return None;
    }
    let mut block_start = 0;
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len() + 32);
    let mut last = 0;
    let mut i = 0;
    let mut in_block: Option<u8> = None; // b'}' for {{ }}, b'%' for {% %}
    let mut changed = false;
    while i < b.len() {
        match in_block {
            None => {
                if b[i] == b'{' && i + 1 < b.len() && (b[i + 1] == b'{' || b[i + 1] == b'%') {
                    let block = b[i + 1] == b'%';
                    in_block = Some(if block { b'%' } else { b'}' });
                    i += 2;
                    // `{%-`/`{{-`/`{%+` whitespace control is not an operator
                    if i < b.len() && (b[i] == b'-' || (block && b[i] == b'+')) {
                        i += 1;
                    }
                    block_start = i;
                } else if b[i] == b'{' && i + 1 < b.len() && b[i + 1] == b'#' {
                    i = src[i..].find("#}").map(|p| i + p + 2).unwrap_or(b.len());
                } else {
                    i += 1;
                }
            }
            Some(close) => {
                let c = b[i];
                if c == close && i + 1 < b.len() && b[i + 1] == b'}' {
                    in_block = None;
                    i += 2;
                } else if (c == b'-' || c == b'+')
                    && b.get(i + 1) == Some(&close)
                    && b.get(i + 2) == Some(&b'}')
                {
                    // `-}}`/`+%}` whitespace control
                    in_block = None;
                    i += 3;
                } else if c == b'+' && unary_plus(b, block_start, i) {
                    out.push_str(&src[last..i]);
                    i += 1;
                    last = i;
                    changed = true;
                } else if c == b'\'' || c == b'"' {
                    let start = i;
                    let end = string_end(b, i);
                    i = end;
                    // a literal that is an attribute's or call's operand is not a left side
                    let prev = src[..start].trim_end().bytes().last();
                    if matches!(prev, Some(b'.') | Some(b']') | Some(b')')) {
                        continue;
                    }
                    let p = skip_ws(b, end);
                    if p < b.len() && b[p] == b'%' && b.get(p + 1) != Some(&b'}') {
                        let o = skip_ws(b, p + 1);
                        if let Some((oe, tuple)) = operand_end(b, o) {
                            out.push_str(&src[last..start]);
                            out.push_str(&format!(
                                "({} | {FILTER}({}, {}))",
                                &src[start..end],
                                &src[o..oe],
                                if tuple { "true" } else { "false" }
                            ));
                            last = oe;
                            i = oe;
                            changed = true;
                        }
                    }
                } else {
                    i += 1;
                }
            }
        }
    }
    if !changed {
        return None;
    }
    out.push_str(&src[last..]);
    Some(out)
}

fn err(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

/// One conversion of a format: `%(key)-08.3f`.
struct Spec {
    key: Option<String>,
    left: bool,
    plus: bool,
    space: bool,
    zero: bool,
    alt: bool,
    width: usize,
    precision: Option<usize>,
    conv: char,
}

fn as_int(v: &Value, conv: char) -> Result<i64, Error> {
    match v.kind() {
        ValueKind::Bool => Ok(v.is_true() as i64),
        ValueKind::Number => {
            if let Ok(i) = i64::try_from(v.clone()) {
                Ok(i)
            } else {
                Ok(f64::try_from(v.clone()).unwrap_or(0.0).trunc() as i64)
            }
        }
        _ if matches!(conv, 'x' | 'X' | 'o') => Err(err(format!(
            "%{conv} format: an integer is required, not {}",
            crate::util::python::type_name(v)
        ))),
        _ => Err(err(format!(
            "%{conv} format: a real number is required, not {}",
            crate::util::python::type_name(v)
        ))),
    }
}

fn as_float(v: &Value) -> Result<f64, Error> {
    match v.kind() {
        ValueKind::Bool => Ok(v.is_true() as i64 as f64),
        ValueKind::Number => Ok(f64::try_from(v.clone()).unwrap_or(0.0)),
        _ => Err(err(format!(
            "must be real number, not {}",
            crate::util::python::type_name(v)
        ))),
    }
}

/// `{:e}` as Python writes it: at least two exponent digits, with a sign.
fn exp_format(x: f64, prec: usize, upper: bool) -> String {
    let s = format!("{x:.prec$e}");
    let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
    let e: i32 = e.parse().unwrap_or(0);
    let sign = if e < 0 { '-' } else { '+' };
    let out = format!("{m}e{sign}{:02}", e.abs());
    if upper { out.to_uppercase() } else { out }
}

fn strip_zeros(s: &str) -> String {
    if let Some((m, e)) = s.split_once(['e', 'E']) {
        let sep = if s.contains('E') { 'E' } else { 'e' };
        let m = if m.contains('.') {
            m.trim_end_matches('0').trim_end_matches('.')
        } else {
            m
        };
        format!("{m}{sep}{e}")
    } else if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s.to_string()
    }
}

fn format_float(x: f64, conv: char, prec: usize, alt: bool) -> String {
    if x.is_nan() {
        return if conv.is_uppercase() { "NAN" } else { "nan" }.into();
    }
    if x.is_infinite() {
        let s = if x > 0.0 { "inf" } else { "-inf" };
        return if conv.is_uppercase() {
            s.to_uppercase()
        } else {
            s.into()
        };
    }
    match conv {
        'f' | 'F' => format!("{x:.prec$}"),
        'e' | 'E' => exp_format(x, prec, conv == 'E'),
        _ => {
            // %g: the shorter of %e and %f at `prec` significant digits
            let p = prec.max(1);
            let exp = if x == 0.0 {
                0
            } else {
                let e = exp_format(x, p - 1, false);
                e.split_once('e')
                    .and_then(|(_, e)| e.parse::<i32>().ok())
                    .unwrap_or(0)
            };
            let s = if exp < -4 || exp >= p as i32 {
                exp_format(x, p - 1, conv == 'G')
            } else {
                let decimals = (p as i32 - 1 - exp).max(0) as usize;
                format!("{x:.decimals$}")
            };
            if alt { s } else { strip_zeros(&s) }
        }
    }
}

fn convert(spec: &Spec, v: &Value) -> Result<String, Error> {
    use crate::template::filters::{py_repr, py_str};
    let mut sign = String::new();
    let body = match spec.conv {
        's' | 'r' | 'a' => {
            let s = if spec.conv == 's' {
                py_str(v)
            } else {
                py_repr(v)
            };
            match spec.precision {
                Some(p) => s.chars().take(p).collect(),
                None => s,
            }
        }
        'd' | 'i' | 'u' | 'x' | 'X' | 'o' => {
            let n = as_int(v, spec.conv)?;
            if n < 0 {
                sign.push('-');
            } else if spec.plus {
                sign.push('+');
            } else if spec.space {
                sign.push(' ');
            }
            let a = n.unsigned_abs();
            let mut digits = match spec.conv {
                'x' => format!("{a:x}"),
                'X' => format!("{a:X}"),
                'o' => format!("{a:o}"),
                _ => a.to_string(),
            };
            if let Some(p) = spec.precision
                && digits.len() < p
            {
                digits = format!("{}{digits}", "0".repeat(p - digits.len()));
            }
            if spec.alt {
                match spec.conv {
                    'x' => sign.push_str("0x"),
                    'X' => sign.push_str("0X"),
                    'o' => sign.push_str("0o"),
                    _ => {}
                }
            }
            digits
        }
        'f' | 'F' | 'e' | 'E' | 'g' | 'G' => {
            let x = as_float(v)?;
            if x.is_sign_negative() {
                sign.push('-');
            } else if spec.plus {
                sign.push('+');
            } else if spec.space {
                sign.push(' ');
            }
            format_float(x.abs(), spec.conv, spec.precision.unwrap_or(6), spec.alt)
        }
        'c' => match v.kind() {
            ValueKind::String if v.as_str().is_some_and(|s| s.chars().count() == 1) => {
                v.as_str().unwrap_or_default().to_string()
            }
            ValueKind::Number => {
                let n = as_int(v, 'c')?;
                char::from_u32(n as u32)
                    .ok_or_else(|| err("%c arg not in range(0x110000)"))?
                    .to_string()
            }
            _ => return Err(err("%c requires an int or a unicode character")),
        },
        c => {
            return Err(err(format!(
                "unsupported format character '{c}' (0x{:x})",
                c as u32
            )));
        }
    };
    let len = sign.chars().count() + body.chars().count();
    if len >= spec.width {
        return Ok(format!("{sign}{body}"));
    }
    let pad = spec.width - len;
    let numeric = !matches!(spec.conv, 's' | 'r' | 'a' | 'c');
    Ok(if spec.left {
        format!("{sign}{body}{}", " ".repeat(pad))
    } else if spec.zero && numeric {
        format!("{sign}{}{body}", "0".repeat(pad))
    } else {
        format!("{}{sign}{body}", " ".repeat(pad))
    })
}

/// Python's `fmt % args`: `args` are the items of a tuple (`tuple`), else one value.
pub(crate) fn format(fmt: &str, args: &Value, tuple: bool) -> Result<String, Error> {
    let positional: Vec<Value> = if tuple {
        args.try_iter().map(|it| it.collect()).unwrap_or_default()
    } else {
        vec![args.clone()]
    };
    let mapping = (!tuple && args.kind() == ValueKind::Map).then_some(args);
    let mut next = 0usize;
    let mut out = String::with_capacity(fmt.len() + 16);
    let mut chars = fmt.chars().peekable();
    let mut used_mapping = false;
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = Spec {
            key: None,
            left: false,
            plus: false,
            space: false,
            zero: false,
            alt: false,
            width: 0,
            precision: None,
            conv: 's',
        };
        if chars.peek() == Some(&'(') {
            chars.next();
            let mut depth = 1;
            let mut key = String::new();
            loop {
                match chars.next() {
                    Some('(') => {
                        depth += 1;
                        key.push('(');
                    }
                    Some(')') => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                        key.push(')');
                    }
                    Some(k) => key.push(k),
                    None => return Err(err("incomplete format key")),
                }
            }
            spec.key = Some(key);
        }
        while let Some(&f) = chars.peek() {
            match f {
                '-' => spec.left = true,
                '+' => spec.plus = true,
                ' ' => spec.space = true,
                '0' => spec.zero = true,
                '#' => spec.alt = true,
                _ => break,
            }
            chars.next();
        }
        while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
            spec.width = spec.width * 10 + d as usize;
            chars.next();
        }
        if chars.peek() == Some(&'.') {
            chars.next();
            let mut p = 0usize;
            while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
                p = p * 10 + d as usize;
                chars.next();
            }
            spec.precision = Some(p);
        }
        // length modifiers are accepted and ignored, as in Python
        while matches!(chars.peek(), Some('h' | 'l' | 'L')) {
            chars.next();
        }
        let Some(conv) = chars.next() else {
            return Err(err("incomplete format"));
        };
        if conv == '%' && spec.key.is_none() {
            out.push('%');
            continue;
        }
        spec.conv = conv;
        let value = match &spec.key {
            Some(k) => {
                let Some(m) = mapping else {
                    return Err(err("format requires a mapping"));
                };
                used_mapping = true;
                let v = m.get_item(&Value::from(k.as_str())).unwrap_or_default();
                if v.is_undefined() {
                    return Err(err(format!("KeyError: '{k}'")));
                }
                v
            }
            None => {
                let Some(v) = positional.get(next) else {
                    return Err(err("not enough arguments for format string"));
                };
                next += 1;
                v.clone()
            }
        };
        if spec.conv == '%' {
            out.push('%');
            continue;
        }
        out.push_str(&convert(&spec, &value)?);
    }
    // Python: unused arguments are an error, except with a mapping (or a mapping argument)
    if next < positional.len() && !used_mapping && mapping.is_none() {
        return Err(err("not all arguments converted during string formatting"));
    }
    Ok(out)
}

/// Python's `a % b` of numbers (the sign of `b`).
fn remainder(a: &Value, b: &Value) -> Result<Value, Error> {
    if let (Ok(x), Ok(y)) = (i64::try_from(a.clone()), i64::try_from(b.clone()))
        && a.is_integer()
        && b.is_integer()
    {
        if y == 0 {
            return Err(err("integer modulo by zero"));
        }
        return Ok(Value::from(((x % y) + y) % y));
    }
    let (x, y) = (as_float(a)?, as_float(b)?);
    if y == 0.0 {
        return Err(err("float modulo"));
    }
    Ok(Value::from(x - y * (x / y).floor()))
}

/// The filter behind the rewrite: `fmt | __prov_percent(args, is_tuple)`.
pub(crate) fn filter(fmt: Value, args: Value, tuple: bool) -> Result<Value, Error> {
    match fmt.as_str() {
        Some(f) => Ok(Value::from(format(f, &args, tuple)?)),
        // not a string after all: Python's remainder of numbers
        None => remainder(&fmt, &args),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(fmt: &str, args: Value, tuple: bool) -> String {
        format(fmt, &args, tuple).unwrap()
    }

    #[test]
    fn rewrites_string_literals_followed_by_percent() {
        assert_eq!(
            rewrite("{{ 'a %s b' % (x) }}").unwrap(),
            "{{ ('a %s b' | __prov_percent((x), false)) }}"
        );
        assert_eq!(
            rewrite("{{ x == (\"%s/f %d\" % (d, 2)) }}").unwrap(),
            "{{ x == ((\"%s/f %d\" | __prov_percent((d, 2), true))) }}"
        );
        assert_eq!(
            rewrite("{% set m = '%s' % a.b['c'] | upper %}").unwrap(),
            "{% set m = ('%s' | __prov_percent(a.b['c'] | upper, false)) %}"
        );
        // not a left operand, or not a format
        assert_eq!(rewrite("{{ loop.index % 2 }}"), None);
        assert_eq!(rewrite("{% set a = 'x' %}"), None);
        assert_eq!(rewrite("'%s' % x"), None);
        assert_eq!(rewrite("{{ d['k'] % 2 }}"), None);
    }

    #[test]
    fn drops_unary_plus() {
        assert_eq!(
            rewrite("{{ [-2.5, +2.5, 1 + 2.5] }}").unwrap(),
            "{{ [-2.5, 2.5, 1 + 2.5] }}"
        );
        assert_eq!(
            rewrite("{% set x = +1 if a else + 2 %}").unwrap(),
            "{% set x = 1 if a else  2 %}"
        );
        assert_eq!(
            rewrite("{{ a + b }} + {{+c}}").unwrap(),
            "{{ a + b }} + {{c}}"
        );
        assert_eq!(rewrite("{{ a + 'x+' }}{%+ if a -%}"), None);
    }

    #[test]
    fn formats_as_python() {
        let t = |items: Vec<Value>| Value::from(items);
        assert_eq!(
            f(
                "%s/x %d",
                t(vec![Value::from("/tmp"), Value::from(3)]),
                true
            ),
            "/tmp/x 3"
        );
        assert_eq!(f("%s", Value::from(vec![1, 2]), false), "[1, 2]");
        assert_eq!(
            f(
                "%05.1f|%-4d|%x|%#o|%%",
                t(vec![
                    Value::from(3.04),
                    Value::from(7),
                    Value::from(255),
                    Value::from(8)
                ]),
                true
            ),
            "003.0|7   |ff|0o10|%"
        );
        assert_eq!(
            f("%r %s", t(vec![Value::from("a"), Value::from(true)]), true),
            "'a' True"
        );
        assert_eq!(
            f(
                "%e %g %g",
                t(vec![
                    Value::from(12345.678),
                    Value::from(0.0001),
                    Value::from(1e20)
                ]),
                true
            ),
            "1.234568e+04 0.0001 1e+20"
        );
        let m = Value::from_serialize(serde_json::json!({"a": 1, "b": "x"}));
        assert_eq!(f("%(b)s-%(a)03d", m, false), "x-001");
        assert!(format("%s %s", &Value::from("a"), false).is_err());
        assert!(format("%s", &Value::from(vec![1, 2]), true).is_err());
        assert!(format("%d", &Value::from("a"), false).is_err());
    }
}
