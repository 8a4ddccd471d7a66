//! Values in INI inventories, read the way Ansible reads them: with Python's `ast.literal_eval`,
//! falling back to the raw text. `22` is an int, `1.5` a float, `True`/`False` booleans, `None`
//! null, `'a b'` and `"a b"` strings, `[1, 2]` lists and `{'k': 1}` dicts; anything else (`yes`,
//! `10.0.0.1`, `0644`, `/usr/bin/python3`) stays the string it was written as.

use crate::value::Value;

/// Parses an INI inventory value like Ansible's `_parse_value`.
pub fn parse_value(text: &str) -> Value {
    let trimmed = text.trim_start_matches([' ', '\t']);
    let mut p = Parser {
        s: trimmed.as_bytes(),
        i: 0,
        depth: 0,
    };
    match p.expr() {
        Some(v) => {
            p.skip_ws_and_comment();
            if p.i == p.s.len() {
                v
            } else {
                Value::from(text)
            }
        }
        None => Value::from(text),
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(c) = self.peek() {
            if c == b' ' || c == b'\t' || (self.depth > 0 && (c == b'\n' || c == b'\r')) {
                self.i += 1;
            } else {
                break;
            }
        }
    }

    fn skip_ws_and_comment(&mut self) {
        self.skip_ws();
        if self.peek() == Some(b'#') {
            while let Some(c) = self.peek() {
                if c == b'\n' {
                    break;
                }
                self.i += 1;
            }
        }
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn expr(&mut self) -> Option<Value> {
        if self.depth > 64 {
            return None;
        }
        self.skip_ws();
        let c = self.peek()?;
        match c {
            b'\'' | b'"' => {
                let mut s = self.string()?;
                // Adjacent literals concatenate: 'a' 'b' == 'ab'.
                loop {
                    let save = self.i;
                    self.skip_ws();
                    if matches!(self.peek(), Some(b'\'' | b'"')) {
                        s.push_str(&self.string()?);
                    } else {
                        self.i = save;
                        break;
                    }
                }
                Some(Value::from(s))
            }
            b'[' => self.seq(b']'),
            b'(' => self.seq(b')'),
            b'{' => self.dict(),
            b'-' | b'+' => {
                self.i += 1;
                self.skip_ws();
                let v = self.number()?;
                if c == b'-' {
                    if let Some(i) = v.as_i64() {
                        return Some(Value::from(-i));
                    }
                    if let Ok(f) = f64::try_from(v.clone()) {
                        return Some(Value::from(-f));
                    }
                    return None;
                }
                Some(v)
            }
            // Ansible keeps the Ellipsis literal as the text `...`.
            b'.' if self.s[self.i..].starts_with(b"...") => {
                self.i += 3;
                Some(Value::from("..."))
            }
            b'0'..=b'9' | b'.' => self.complex_or_number(),
            _ => self.name(),
        }
    }

    /// A number, or a complex literal (`1j`, `1+2j`) which Ansible keeps as Python's `str()` of
    /// it (`1j`, `(1+2j)`).
    fn complex_or_number(&mut self) -> Option<Value> {
        let start = self.i;
        let v = self.number()?;
        if !is_imaginary(&self.s[start..self.i]) {
            let save = self.i;
            self.skip_ws();
            if let Some(sign @ (b'+' | b'-')) = self.peek() {
                self.i += 1;
                self.skip_ws();
                let im_start = self.i;
                if self.number().is_some() && is_imaginary(&self.s[im_start..self.i]) {
                    let real = py_float_text(f64::try_from(v).ok()?);
                    let imag = imag_text(&self.s[im_start..self.i])?;
                    let sign = sign as char;
                    return Some(Value::from(format!("({real}{sign}{imag})")));
                }
            }
            self.i = save;
        }
        Some(v)
    }

    fn name(&mut self) -> Option<Value> {
        let start = self.i;
        while let Some(c) = self.peek() {
            if c.is_ascii_alphanumeric() || c == b'_' {
                self.i += 1;
            } else {
                break;
            }
        }
        let word = &self.s[start..self.i];
        // String prefixes: bytes (`b'x'`, which Ansible turns into text), raw, unicode.
        if matches!(self.peek(), Some(b'\'' | b'"')) && word.len() <= 2 {
            let lower = word.to_ascii_lowercase();
            let raw = lower.contains(&b'r');
            if matches!(lower.as_slice(), b"b" | b"r" | b"u" | b"br" | b"rb") {
                return if raw {
                    self.raw_string()
                } else {
                    self.string()
                }
                .map(Value::from);
            }
        }
        match word {
            b"True" => Some(Value::from(true)),
            b"False" => Some(Value::from(false)),
            b"None" => Some(Value::from(())),
            // `set()`: the empty set, a list for Ansible.
            b"set" if self.s[self.i..].starts_with(b"()") => {
                self.i += 2;
                Some(Value::from(Vec::<Value>::new()))
            }
            _ => None,
        }
    }

    /// A raw string literal: backslashes stay as written (a quote after one does not end it).
    fn raw_string(&mut self) -> Option<String> {
        let q = self.peek()?;
        let triple = self.s[self.i..].starts_with(&[q, q, q]);
        self.i += if triple { 3 } else { 1 };
        let start = self.i;
        loop {
            let c = self.peek()?;
            if c == b'\\' {
                self.i += 2;
                continue;
            }
            if !triple && (c == b'\n' || c == b'\r') {
                return None;
            }
            if c == q && (!triple || self.s[self.i..].starts_with(&[q, q, q])) {
                let text = std::str::from_utf8(&self.s[start..self.i])
                    .ok()?
                    .to_string();
                self.i += if triple { 3 } else { 1 };
                return Some(text);
            }
            self.i += 1;
        }
    }

    fn number(&mut self) -> Option<Value> {
        let start = self.i;
        while let Some(c) = self.peek() {
            let word = c.is_ascii_alphanumeric() || c == b'_' || c == b'.';
            // A sign right after the `e` of a decimal exponent (`1e-3`) belongs to the number.
            let exp_sign = (c == b'+' || c == b'-')
                && self.i > start
                && matches!(self.s[self.i - 1], b'e' | b'E')
                && !self.s[start..self.i].starts_with(b"0x")
                && !self.s[start..self.i].starts_with(b"0X");
            if !(word || exp_sign) {
                break;
            }
            self.i += 1;
        }
        let text = std::str::from_utf8(&self.s[start..self.i]).ok()?;
        py_number(text)
    }

    fn string(&mut self) -> Option<String> {
        let q = self.peek()?;
        let triple = self.s[self.i..].starts_with(&[q, q, q]);
        self.i += if triple { 3 } else { 1 };
        let mut out: Vec<u8> = Vec::new();
        loop {
            let c = self.peek()?;
            if c == q {
                if !triple {
                    self.i += 1;
                    break;
                }
                if self.s[self.i..].starts_with(&[q, q, q]) {
                    self.i += 3;
                    break;
                }
                out.push(c);
                self.i += 1;
                continue;
            }
            if !triple && (c == b'\n' || c == b'\r') {
                return None;
            }
            if c == b'\\' {
                self.i += 1;
                let e = self.peek()?;
                self.i += 1;
                match e {
                    b'n' => out.push(b'\n'),
                    b't' => out.push(b'\t'),
                    b'r' => out.push(b'\r'),
                    b'0' => out.push(0),
                    b'a' => out.push(7),
                    b'b' => out.push(8),
                    b'f' => out.push(12),
                    b'v' => out.push(11),
                    b'\\' | b'\'' | b'"' => out.push(e),
                    b'\n' => {}
                    b'x' | b'u' | b'U' => {
                        let n = match e {
                            b'x' => 2,
                            b'u' => 4,
                            _ => 8,
                        };
                        let hex = std::str::from_utf8(self.s.get(self.i..self.i + n)?).ok()?;
                        let code = u32::from_str_radix(hex, 16).ok()?;
                        self.i += n;
                        let ch = char::from_u32(code)?;
                        let mut buf = [0u8; 4];
                        out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                    }
                    other => {
                        out.push(b'\\');
                        out.push(other);
                    }
                }
                continue;
            }
            out.push(c);
            self.i += 1;
        }
        String::from_utf8(out).ok()
    }

    fn seq(&mut self, close: u8) -> Option<Value> {
        self.i += 1;
        self.depth += 1;
        let mut items = Vec::new();
        let mut saw_comma = false;
        loop {
            self.skip_ws();
            if self.peek()? == close {
                self.i += 1;
                break;
            }
            items.push(self.expr()?);
            self.skip_ws();
            match self.peek()? {
                b',' => {
                    saw_comma = true;
                    self.i += 1;
                }
                c if c == close => {
                    self.i += 1;
                    break;
                }
                _ => return None,
            }
        }
        self.depth -= 1;
        // `(x)` is just x in Python; `(x,)` is a tuple.
        if close == b')' && items.len() == 1 && !saw_comma {
            return items.pop();
        }
        Some(Value::from(items))
    }

    fn dict(&mut self) -> Option<Value> {
        self.i += 1;
        self.depth += 1;
        let mut entries: Vec<(Value, Value)> = Vec::new();
        let mut set_items: Vec<Value> = Vec::new();
        loop {
            self.skip_ws();
            if self.peek()? == b'}' {
                self.i += 1;
                break;
            }
            let k = self.expr()?;
            self.skip_ws();
            if self.peek()? == b':' {
                if !set_items.is_empty() {
                    return None;
                }
                self.i += 1;
                let v = self.expr()?;
                entries.retain(|(ek, _)| ek != &k);
                entries.push((k, v));
            } else {
                if !entries.is_empty() {
                    return None;
                }
                set_items.push(k);
            }
            self.skip_ws();
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    break;
                }
                _ => return None,
            }
        }
        self.depth -= 1;
        if !set_items.is_empty() {
            return Some(Value::from(set_items));
        }
        Some(Value::from_iter(entries))
    }
}

fn is_imaginary(text: &[u8]) -> bool {
    matches!(text.last(), Some(b'j' | b'J'))
}

/// Python's `repr` of a float inside a complex's `str()`: no `.0` for whole numbers.
fn py_float_text(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e16 {
        format!("{}", f as i64)
    } else {
        crate::util::python::float_repr(f)
            .trim_end_matches(".0")
            .to_string()
    }
}

/// The imaginary part of a complex literal (`2.0j`) as Python's `str()` writes it (`2j`).
fn imag_text(text: &[u8]) -> Option<String> {
    let v = py_number(std::str::from_utf8(&text[..text.len() - 1]).ok()?)?;
    Some(format!("{}j", py_float_text(f64::try_from(v).ok()?)))
}

/// Python 3 numeric literal syntax (ints with `_`, `0x`/`0o`/`0b`, floats, exponents).
fn py_number(text: &str) -> Option<Value> {
    let underscores_ok = |s: &str| !s.starts_with('_') && !s.ends_with('_') && !s.contains("__");
    let lower = text.to_ascii_lowercase();
    for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
        if let Some(rest) = lower.strip_prefix(prefix) {
            let rest = rest.strip_prefix('_').unwrap_or(rest);
            if rest.is_empty() || !underscores_ok(rest) {
                return None;
            }
            let clean: String = rest.chars().filter(|c| *c != '_').collect();
            return i64::from_str_radix(&clean, radix).ok().map(Value::from);
        }
    }
    if !underscores_ok(&lower) {
        return None;
    }
    // An imaginary literal (`1j`): Ansible keeps Python's `str()` of it.
    if let Some(im) = lower.strip_suffix('j') {
        let v = py_number(im)?;
        return Some(Value::from(format!(
            "{}j",
            py_float_text(f64::try_from(v).ok()?)
        )));
    }
    let clean: String = lower.chars().filter(|c| *c != '_').collect();
    if clean.is_empty() {
        return None;
    }
    if clean.bytes().all(|b| b.is_ascii_digit()) {
        // Python 3 rejects leading zeros in non-zero decimals ("0644" is a syntax error).
        if clean.len() > 1 && clean.starts_with('0') && clean.bytes().any(|b| b != b'0') {
            return None;
        }
        return clean.parse::<i64>().ok().map(Value::from);
    }
    // Float: digits with a dot and/or an exponent.
    let (mant, exp) = match clean.find('e') {
        Some(i) => (&clean[..i], Some(&clean[i + 1..])),
        None => (clean.as_str(), None),
    };
    let mant_ok = {
        let (a, b) = mant.split_once('.').unwrap_or((mant, ""));
        (a.bytes().all(|c| c.is_ascii_digit()) && b.bytes().all(|c| c.is_ascii_digit()))
            && !(a.is_empty() && b.is_empty())
            && (mant.contains('.') || exp.is_some())
            && mant.matches('.').count() <= 1
    };
    let exp_ok = match exp {
        None => true,
        Some(e) => {
            let d = e.strip_prefix(['+', '-']).unwrap_or(e);
            !d.is_empty() && d.bytes().all(|c| c.is_ascii_digit())
        }
    };
    if mant_ok && exp_ok {
        return clean.parse::<f64>().ok().map(Value::from);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn j(v: Value) -> String {
        serde_json::to_string(&v).unwrap()
    }

    #[test]
    fn literal_eval_like_ansible() {
        assert_eq!(j(parse_value("22")), "22");
        assert_eq!(j(parse_value("-3")), "-3");
        assert_eq!(j(parse_value("1_000")), "1000");
        assert_eq!(j(parse_value("0x1F")), "31");
        assert_eq!(j(parse_value("1.5")), "1.5");
        assert_eq!(j(parse_value("1e3")), "1000.0");
        assert_eq!(j(parse_value("True")), "true");
        assert_eq!(j(parse_value("False")), "false");
        assert_eq!(j(parse_value("None")), "null");
        assert_eq!(j(parse_value("'a b'")), "\"a b\"");
        assert_eq!(j(parse_value("\"x\\ty\"")), "\"x\\ty\"");
        assert_eq!(j(parse_value("[1, 'two', [3]]")), "[1,\"two\",[3]]");
        assert_eq!(j(parse_value("(1, 2)")), "[1,2]");
        assert_eq!(
            j(parse_value("{'a': 1, 'b': [True]}")),
            "{\"a\":1,\"b\":[true]}"
        );
        assert_eq!(j(parse_value("1 # comment")), "1");
    }

    #[test]
    fn python_only_literals_become_text_or_lists() {
        // As Ansible's INI plugin coerces them: bytes to text, Ellipsis and complex numbers to
        // their `str()`, sets and tuples to lists.
        assert_eq!(j(parse_value("b'single'")), "\"single\"");
        assert_eq!(j(parse_value("B\"double\"")), "\"double\"");
        assert_eq!(j(parse_value("r'a\\d'")), "\"a\\\\d\"");
        assert_eq!(j(parse_value("u'x'")), "\"x\"");
        assert_eq!(j(parse_value("...")), "\"...\"");
        assert_eq!(j(parse_value("1j")), "\"1j\"");
        assert_eq!(j(parse_value("2.0J")), "\"2j\"");
        assert_eq!(j(parse_value("1+2j")), "\"(1+2j)\"");
        assert_eq!(j(parse_value("set()")), "[]");
        assert_eq!(j(parse_value("{1, 2}")), "[1,2]");
        assert_eq!(
            j(parse_value("[..., 1j, set(), {1, 2}, b'x']")),
            "[\"...\",\"1j\",[],[1,2],\"x\"]"
        );
        for s in ["host-01.internal", "x'a'", "set", "set(1)", "...."] {
            assert_eq!(parse_value(s), Value::from(s), "{s}");
        }
    }

    #[test]
    fn non_literals_stay_strings() {
        for s in [
            "yes",
            "true",
            "10.0.0.1",
            "0644",
            "/usr/bin/python3",
            "a b",
            "",
            "1.2.3",
            "[1,",
            "'open",
            "{'a' 1}",
            "-x",
            "web01",
            "1_",
            "0x",
            "e5",
            "1e",
            "..",
        ] {
            assert_eq!(parse_value(s), Value::from(s), "{s}");
        }
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        let s = "[".repeat(10_000);
        assert_eq!(parse_value(&s), Value::from(s.as_str()));
    }
}
